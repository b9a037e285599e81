import { holdsSecret, isSecretMarker, isSecureValue, secretMarker } from "../release/secrets";
import type { ConfigProblem } from "./errors";
import { readStackConfig, StackConfig } from "./stackFile";

/**
 * Environment variable through which a program run outside `pulumi up` (the test kit, `herd
 * plan`) is given the stack's config as stored, `secure:` values and all, when it is not the
 * stack file in the project directory.
 */
export const STORED_CONFIG_VARIABLE = "HERD_STACK_CONFIG";

/** What the value reads as once every secret in it is replaced by its marker. */
export interface MarkedConfig {
    /** The value, each secret replaced by its marker (see `secretMarker`). */
    readonly value: unknown;
    /** Plaintext by marker, for the secrets whose plaintext the program was given. */
    readonly secrets: ReadonlyMap<string, string>;
    /** Problems: a key encrypted as a whole, or secret by Pulumi's word but nowhere in the stack file. */
    readonly problems: readonly ConfigProblem[];
    /** `true` when the key cannot be read at all (it is encrypted as a whole): nothing else in it is checked. */
    readonly refused: boolean;
}

/** Stands for a value herd must not print. */
const HIDDEN = "[secret]";

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
    value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Replaces every secret in a config value by its marker. Pulumi gives a program the plaintext
 * of its config and says only which top-level keys hold a secret somewhere; where, it does not
 * say. The stack file does: there, each secret value is `{ secure: <ciphertext> }`. So a value
 * is secret when
 * - the program reads `{ secure: … }` itself (the test kit, which cannot decrypt), or a marker
 *   (`herd plan`, which put it there): an opaque secret, whose plaintext stays unknown;
 * - or the stored value at the same path is `{ secure: … }`: its plaintext is what the program
 *   reads, and its marker comes from the stored ciphertext.
 *
 * @param key the config key, e.g. `herd:fleets`, for messages
 * @param value what the program reads (`pulumi.Config.getObject`)
 * @param stored the same key in the stack file, `undefined` when unknown
 * @param secretKey whether Pulumi says the key holds a secret
 */
export function markSecrets(key: string, value: unknown, stored: unknown, secretKey: boolean): MarkedConfig {
    const secrets = new Map<string, string>();
    const problems: ConfigProblem[] = [];
    if (isSecureValue(value) || (isSecureValue(stored) && value !== undefined)) {
        problems.push({
            path: [key],
            value: HIDDEN,
            allowed: `plain text, with single values encrypted (pulumi config set --secret --path '${key}.<…>'): the whole key is encrypted, and herd names resources and plans after what it holds`,
        });
        return { value: undefined, secrets, problems, refused: true };
    }
    let found = 0;
    const walk = (inner: unknown, storedInner: unknown, path: (string | number)[]): unknown => {
        if (isSecureValue(inner)) {
            found++;
            return secretMarker(inner);
        }
        if (isSecretMarker(inner)) {
            found++;
            return inner;
        }
        if (isSecureValue(storedInner) && (typeof inner === "string" || typeof inner === "number" || typeof inner === "boolean")) {
            found++;
            const marker = secretMarker(storedInner);
            const plaintext = String(inner);
            if (secrets.has(marker) && secrets.get(marker) !== plaintext) {
                problems.push({ path: [key, ...path], value: marker, allowed: "a secret whose marker no other secret of the stack has: encrypt it again" });
            }
            secrets.set(marker, plaintext);
            return marker;
        }
        if (Array.isArray(inner)) {
            return inner.map((item, i) => walk(item, Array.isArray(storedInner) ? storedInner[i] : undefined, [...path, i]));
        }
        if (isPlainObject(inner)) {
            return Object.fromEntries(
                Object.entries(inner).map(([name, item]) => [name, walk(item, isPlainObject(storedInner) ? storedInner[name] : undefined, [...path, name])]),
            );
        }
        return inner;
    };
    const marked = walk(value, stored, []);
    if (secretKey && found === 0) {
        problems.push({
            path: [key],
            value: HIDDEN,
            allowed:
                "values whose secrets the stack file marks: Pulumi says this key holds a secret, but the stack file (where herd finds which values are secret) has no secure: value under it, " +
                "as when the key comes from a Pulumi ESC environment; " +
                `set each secret with pulumi config set --secret --path '${key}.<…>', or give a secret from ESC to a fleet built in code (README, "Secrets from Pulumi ESC")`,
        });
    }
    return { value: marked, secrets, problems, refused: false };
}

/**
 * Problems for every secret outside the places a secret may be: herd shows every other value in
 * names, labels, plans and messages, or reads it as a path.
 *
 * @param allowed whether a path (below `prefix`) may hold a secret
 */
export function misplacedSecrets(
    value: unknown,
    prefix: readonly (string | number)[],
    allowed: (path: readonly (string | number)[]) => boolean,
    where: string,
): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const walk = (inner: unknown, path: (string | number)[]) => {
        if (typeof inner === "string") {
            if (holdsSecret(inner) && !allowed(path)) {
                problems.push({ path: [...prefix, ...path], value: inner, allowed: `a value in plain text: ${where}` });
            }
        } else if (Array.isArray(inner)) {
            inner.forEach((item, i) => walk(item, [...path, i]));
        } else if (isPlainObject(inner)) {
            for (const [name, item] of Object.entries(inner)) {
                walk(item, [...path, name]);
            }
        }
    };
    walk(value, []);
    return problems;
}

/**
 * The stack's config as stored, `secure:` values and all: given by {@link STORED_CONFIG_VARIABLE},
 * else the stack file in the project directory; `undefined` when neither can be read (a stack
 * whose config comes from elsewhere).
 */
export function storedStackConfig(projectDir: string, stack: string): StackConfig | undefined {
    const given = process.env[STORED_CONFIG_VARIABLE];
    if (given !== undefined) {
        try {
            const parsed: unknown = JSON.parse(given);
            return isPlainObject(parsed) ? parsed : undefined;
        } catch {
            return undefined;
        }
    }
    try {
        return readStackConfig(projectDir, stack);
    } catch {
        return undefined;
    }
}

/**
 * Whether Pulumi says a config key (`herd:fleets`) holds a secret. Read from the runtime, where
 * `pulumi up` lists the keys with an encrypted value anywhere in them.
 */
export function isPulumiSecretKey(key: string): boolean {
    const runtime = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (key: string) => boolean };
    return runtime.isConfigSecret?.(key) ?? false;
}
