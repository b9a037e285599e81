import type { z } from "zod/mini";
import { ConfigError, ConfigProblem } from "./errors";
import { misplacedSecrets } from "./secrets";
import { CodeFleetState, protectedSchema, rolloutsSchema } from "./schema";

/** The config key all fleets live under. */
export const FLEETS_KEY = "herd:fleets";

/**
 * How a stack config is parsed: without zod's compiled fast path. A program checks each schema
 * once, and compiling a parser for one use costs more than it saves (about 5 ms of the first
 * check of an OpenStack fleet, measured with the built package).
 */
export const CONFIG_PARSE: z.core.ParseContext<z.core.$ZodIssue> = { jitless: true };

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let value: unknown = root;
    for (const key of path) {
        if (value === null || typeof value !== "object") {
            return undefined;
        }
        value = (value as Record<PropertyKey, unknown>)[key];
    }
    return value;
}

/** Edit distance, to suggest `size` for `szie`. */
function distance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}

function suggestion(key: string, allowedText: string): string {
    const candidates = allowedText.replace(/^allowed keys: /, "").split(", ");
    const best = candidates
        .map((candidate) => ({ candidate, d: distance(key.toLowerCase(), candidate.toLowerCase()) }))
        .sort((x, y) => x.d - y.d)[0];
    return best && best.d <= 2 ? `did you mean "${best.candidate}"? ` : "";
}

/** Each issue of a schema's `error` as a problem, its key path under `prefix`, the value taken from `input`. */
export function problemsOf(error: z.core.$ZodError, prefix: (string | number)[], input: unknown): ConfigProblem[] {
    return error.issues.flatMap((issue): ConfigProblem[] => {
        const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
        if (issue.code === "unrecognized_keys") {
            return issue.keys.map((key) => ({
                path: [...prefix, ...path, key],
                value: valueAt(input, [...path, key]),
                allowed: `${suggestion(key, issue.message)}${issue.message}`,
                unknownKey: true,
            }));
        }
        if (issue.code === "invalid_key") {
            // The value under a wrong key is content (a file's, an env value): name the key instead.
            const key = path[path.length - 1];
            return [{ path: [...prefix, ...path], value: key, allowed: issue.issues[0]?.message ?? issue.message }];
        }
        return [{ path: [...prefix, ...path], value: valueAt(input, path), allowed: issue.message }];
    });
}

/** What every fleet of `herd:fleets` has that the rules across its keys read, whatever its backend. */
export interface FleetShapeConfig {
    readonly size: number;
    readonly rollout?: { readonly members: number; readonly previous?: unknown };
    readonly alerts?: { readonly minHealthy?: number };
}

/**
 * Rules that span several keys of a fleet, which a schema of single fields cannot say: those of
 * every fleet (a rollout within its size, the previous release of a rollout under way, secrets
 * only where `secretPlace` allows, a floor within the size) around `own`, its backend's
 * (`ConfigBackend.problems`), in key order.
 *
 * @param secretPlace where in the fleet a secret may be (a key path relative to the fleet) @default nowhere
 */
export function fleetConfigProblems(
    fleet: FleetShapeConfig,
    prefix: (string | number)[],
    own: readonly ConfigProblem[],
    secretPlace: (path: readonly (string | number)[]) => boolean = () => false,
): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const rollout = fleet.rollout;
    if (rollout) {
        if (rollout.members > fleet.size) {
            problems.push({
                path: [...prefix, "rollout", "members"],
                value: rollout.members,
                allowed: `a whole number from 0 to size (${fleet.size})`,
            });
        } else if (rollout.members < fleet.size && rollout.previous === undefined) {
            problems.push({
                path: [...prefix, "rollout", "previous"],
                value: undefined,
                allowed: `the release that slots ${rollout.members}–${fleet.size - 1} still run while rollout.members (${rollout.members}) < size (${fleet.size})`,
            });
        }
    }
    problems.push(...own);
    problems.push(...misplacedSecrets(fleet, prefix, secretPlace, SECRET_PLACES));
    if (fleet.alerts?.minHealthy !== undefined && fleet.alerts.minHealthy > fleet.size) {
        problems.push({
            path: [...prefix, "alerts", "minHealthy"],
            value: fleet.alerts.minHealthy,
            allowed: `a whole number from 0 to size (${fleet.size})`,
        });
    }
    return problems;
}

/** Where in a fleet a secret may be, in words. */
const SECRET_PLACES =
    "only a container release's env values and file contents can be secret (they reach the members as secrets); herd shows every other value in names, plans and messages";

/**
 * Where a container fleet may hold a secret: `release.env.X`, `release.files./p` and the same
 * under `rollout.previous` (they reach the members as secrets).
 */
export function isContainerSecretPlace(path: readonly (string | number)[]): boolean {
    const release = path[0] === "release" ? path.slice(1) : path[0] === "rollout" && path[1] === "previous" ? path.slice(2) : undefined;
    return release !== undefined && release.length === 2 && (release[0] === "env" || release[0] === "files");
}

/** What {@link checkSettings} found. */
export interface SettingsCheck<T> {
    /** The validated settings; absent when not given or invalid. */
    value?: T;
    /** Every problem found; empty when the settings are valid or absent. */
    problems: ConfigProblem[];
}

/** Checks a settings key (`herd:kubernetes`, `herd:monitoring`) without throwing. */
export function checkSettings<T>(schema: z.ZodMiniType<T>, key: string, raw: unknown): SettingsCheck<T> {
    if (raw === undefined) {
        return { problems: [] };
    }
    const result = schema.safeParse(raw, CONFIG_PARSE);
    if (!result.success) {
        return { problems: problemsOf(result.error, [key], raw) };
    }
    const secrets = misplacedSecrets(result.data, [key], () => false, `${key} holds no secret: herd shows its values in plans and messages, or reads them as paths`);
    return secrets.length > 0 ? { problems: secrets } : { value: result.data, problems: [] };
}

/** Validates a settings key (see {@link checkSettings}); throws one {@link ConfigError} listing every problem. */
export function parseSettings<T>(schema: z.ZodMiniType<T>, key: string, raw: unknown, stack: string): T | undefined {
    const { value, problems } = checkSettings(schema, key, raw);
    if (problems.length > 0) {
        throw new ConfigError(stack, problems);
    }
    return value;
}

/** The config key that marks a stack protected (see {@link protectedSchema}). */
export const PROTECTED_KEY = "herd:protected";

/** The config key of the release and rollout of fleets built in code (see {@link rolloutsSchema}). */
export const ROLLOUTS_KEY = "herd:rollouts";

/** Validates `herd:protected`; `false` when the key is absent. */
export function parseProtected(raw: unknown, stack: string): boolean {
    return parseSettings(protectedSchema, PROTECTED_KEY, raw, stack) ?? false;
}

/**
 * Validates `herd:rollouts`, the state of fleets built in code; `{}` when the key is absent.
 *
 * @group Stack config
 */
export function parseRollouts(raw: unknown, stack: string): Record<string, CodeFleetState> {
    return parseSettings(rolloutsSchema, ROLLOUTS_KEY, raw, stack) ?? {};
}
