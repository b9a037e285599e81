import * as pulumi from "@pulumi/pulumi";

/**
 * One wrong value in a stack config.
 *
 * @group Errors
 */
export interface ConfigProblem {
    /** Full key path, starting with the config key, e.g. `["herd:fleets", "web", "size"]`. */
    readonly path: readonly (string | number)[];
    /** The value received; `undefined` when the key is missing. */
    readonly value: unknown;
    /** What is allowed there, in words. */
    readonly allowed: string;
    /** Set when the key itself is not part of the schema (a typo). */
    readonly unknownKey?: boolean;
}

/** `herd:fleets.web.rollout.members`, `herd:fleets.web.release.networks[0]`. */
export function formatKeyPath(path: readonly (string | number)[]): string {
    return path
        .map((part, i) => {
            if (typeof part === "number") {
                return `[${part}]`;
            }
            // A key with spaces, quotes or control characters is quoted, so the path stays one line.
            if (!/^[^\s"'\\\u0000-\u001f\u007f]+$/.test(part)) {
                return `[${JSON.stringify(part.length > 60 ? `${part.slice(0, 57)}...` : part)}]`;
            }
            return i === 0 ? part : `.${part}`;
        })
        .join("");
}

/** Longest value a message quotes whole. */
const QUOTED_LENGTH = 80;

/**
 * A value as a message shows it: short values as JSON; a text of several lines or a long one
 * (a file's content, a script) by its size only, and a large list or map by its shape, so a
 * message never carries a file's content. Secrets reach here as their markers (`[secret …]`).
 */
export function formatValue(value: unknown): string {
    if (value === undefined) {
        return "(missing)";
    }
    if (typeof value === "string" && (value.includes("\n") || value.length > QUOTED_LENGTH)) {
        const lines = value.split("\n").length;
        return `(a text of ${value.length} characters${lines > 1 ? ` on ${lines} lines` : ""})`;
    }
    const json = JSON.stringify(value) ?? String(value);
    if (json.length <= QUOTED_LENGTH && !json.includes("\\n")) {
        return json;
    }
    if (Array.isArray(value)) {
        return `(a list of ${value.length} item${value.length === 1 ? "" : "s"})`;
    }
    if (value !== null && typeof value === "object") {
        const keys = Object.keys(value);
        const shown = keys.slice(0, 5).map((key) => JSON.stringify(key.length > 40 ? `${key.slice(0, 37)}...` : key));
        return `(a map of ${keys.length} key${keys.length === 1 ? "" : "s"}: ${shown.join(", ")}${keys.length > 5 ? ", …" : ""})`;
    }
    return `(${json.length} characters)`;
}

/** One line per problem: where, what was received, what is allowed. */
export function formatProblem(problem: ConfigProblem): string {
    const where = formatKeyPath(problem.path);
    if (problem.unknownKey) {
        return `${where} = ${formatValue(problem.value)}: unknown key; ${problem.allowed}`;
    }
    if (problem.value === undefined) {
        return `${where} is missing: required, ${problem.allowed}`;
    }
    return `${where} = ${formatValue(problem.value)}: expected ${problem.allowed}`;
}

/**
 * A stack config that herd refuses. It is a `RunError`, so `pulumi up` prints the message alone
 * (no stack trace) and exits non-zero. Thrown before any resource is registered.
 *
 * @group Errors
 */
export class ConfigError extends pulumi.RunError {
    constructor(
        /** The Pulumi stack whose config is wrong. */
        readonly stackName: string,
        /** Every problem found, in key order. */
        readonly problems: readonly ConfigProblem[],
    ) {
        super(
            [
                `Invalid herd config in stack "${stackName}" (Pulumi.${stackName}.yaml), ${problems.length} problem${problems.length === 1 ? "" : "s"}:`,
                ...problems.map((p) => `  - ${formatProblem(p)}`),
            ].join("\n"),
        );
        this.name = "ConfigError";
    }
}
