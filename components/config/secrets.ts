import { holdsSecret, holdsSecureValue, isSecretMarker, isSecureValue, plaintextMarker, secretMarker } from "../release/secrets";
import type { ConfigProblem } from "./errors";
import { readStackConfig, StackConfig } from "./stackFile";

/**
 * Environment variable through which a program run outside `pulumi up` (the test kit, `herd
 * plan`) is given the stack's config as stored, `secure:` values and all, when it is not the
 * stack file in the project directory.
 *
 * @group Stack config
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
 * When the key is secret as a whole — encrypted whole in the stack file, or secret by Pulumi's
 * word with no `secure:` value under it (a key an ESC environment fills) — and the program reads
 * its plaintext, every value that can be secret is: `herd:fleets`' env values and file contents
 * (see {@link WHOLE_KEY_SECRETS}), each behind a marker of its plaintext (see `plaintextMarker`);
 * the key's other values are what herd names and plans after. Any other key secret as a whole
 * is refused: it holds no secret.
 *
 * @param key the config key, e.g. `herd:fleets`, for messages
 * @param value what the program reads (`pulumi.Config.getObject`)
 * @param stored the same key in the stack file, `undefined` when unknown
 * @param secretKey whether Pulumi says the key holds a secret
 * @param stack the stack, which salts the markers of a key secret as a whole
 */
export function markSecrets(key: string, value: unknown, stored: unknown, secretKey: boolean, stack = ""): MarkedConfig {
    const secrets = new Map<string, string>();
    const problems: ConfigProblem[] = [];
    if (isSecureValue(value)) {
        problems.push({
            path: [key],
            value: HIDDEN,
            allowed: `plain text, with single values encrypted (pulumi config set --secret --path '${key}.<…>'): the whole key is encrypted, and only pulumi preview and pulumi up can read it`,
        });
        return { value: undefined, secrets, problems, refused: true };
    }
    if (value !== undefined && (isSecureValue(stored) || (secretKey && !holdsSecureValue(stored) && !holdsMarker(value)))) {
        if (key !== WHOLE_KEY_SECRETS.key) {
            problems.push({
                path: [key],
                value: HIDDEN,
                allowed: `plain text: ${key} holds no secret (herd shows its values in plans and messages, or reads them as paths), and Pulumi says this key is secret as a whole`,
            });
            return { value: undefined, secrets, problems, refused: true };
        }
        return markWholeKey(key, value, stack);
    }
    const walk = (inner: unknown, storedInner: unknown, path: (string | number)[]): unknown => {
        if (isSecureValue(inner)) {
            return secretMarker(inner);
        }
        if (isSecretMarker(inner)) {
            return inner;
        }
        if (isSecureValue(storedInner) && (typeof inner === "string" || typeof inner === "number" || typeof inner === "boolean")) {
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
    return { value: marked, secrets, problems, refused: false };
}

/**
 * Where a key secret as a whole holds its secrets: `herd:fleets.<fleet>.release.env.<NAME>` and
 * `.files.<path>`, and the same under `rollout.previous` (the only places a secret reaches a
 * member as a secret, on the backends whose release has them). Marked in every fleet, whatever
 * its backend: on one whose release has no such key, the schema refuses the key, and its message
 * shows the marker, not the plaintext.
 */
export const WHOLE_KEY_SECRETS = {
    key: "herd:fleets",
    places: [
        ["release", "env"],
        ["release", "files"],
        ["rollout", "previous", "env"],
        ["rollout", "previous", "files"],
    ],
} as const;

/** `herd:fleets` secret as a whole, read in plain text: each env value and file content behind its marker. */
function markWholeKey(key: string, value: unknown, stack: string): MarkedConfig {
    const secrets = new Map<string, string>();
    const problems: ConfigProblem[] = [];
    if (!isPlainObject(value)) {
        return { value, secrets, problems, refused: false };
    }
    const fleets = Object.fromEntries(
        Object.entries(value).map(([name, fleet]) => {
            if (!isPlainObject(fleet)) {
                return [name, fleet];
            }
            let next: Record<string, unknown> = fleet;
            for (const place of WHOLE_KEY_SECRETS.places) {
                const parentPath = place.slice(0, -1);
                const leaf = place[place.length - 1];
                const parent = parentPath.reduce<unknown>((inner, step) => (isPlainObject(inner) ? inner[step] : undefined), next);
                const entries = isPlainObject(parent) ? parent[leaf] : undefined;
                if (!isPlainObject(entries)) {
                    continue;
                }
                const marked = Object.fromEntries(
                    Object.entries(entries).map(([entry, plaintext]) => {
                        if (typeof plaintext !== "string" || holdsSecret(plaintext)) {
                            return [entry, plaintext];
                        }
                        const marker = plaintextMarker(stack, plaintext);
                        if (secrets.has(marker) && secrets.get(marker) !== plaintext) {
                            problems.push({ path: [key, name, ...place, entry], value: marker, allowed: "a secret whose marker no other secret of the stack has: change either value" });
                        }
                        secrets.set(marker, plaintext);
                        return [entry, marker];
                    }),
                );
                next = setIn(next, place, marked);
            }
            return [name, next];
        }),
    );
    return { value: fleets, secrets, problems, refused: false };
}

/** A copy of `value` with `path` set to `leaf` (every step along it an object already). */
function setIn(value: Record<string, unknown>, path: readonly string[], leaf: unknown): Record<string, unknown> {
    const [step, ...rest] = path;
    return { ...value, [step]: rest.length === 0 ? leaf : setIn(value[step] as Record<string, unknown>, rest, leaf) };
}

/** Whether a value read holds a marker or a `{ secure: … }` anywhere (the test kit, `herd plan`: the secrets are where they say). */
function holdsMarker(value: unknown): boolean {
    return isSecureValue(value) || isSecretMarker(value) || (value !== null && typeof value === "object" && Object.values(value).some(holdsMarker));
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
 *
 * @group Stack config
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
 *
 * @group Stack config
 */
export function isPulumiSecretKey(key: string): boolean {
    const runtime = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (key: string) => boolean };
    return runtime.isConfigSecret?.(key) ?? false;
}
