import * as pulumi from "@pulumi/pulumi";

/** One wrong value in a stack config. */
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
        .map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`))
        .join("");
}

function formatValue(value: unknown): string {
    if (value === undefined) {
        return "(missing)";
    }
    const json = JSON.stringify(value) ?? String(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
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
