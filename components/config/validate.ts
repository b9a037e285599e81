import { z } from "zod";
import { ConfigError, ConfigProblem } from "./errors";
import {
    FLEET_NAME,
    FleetConfig,
    fleetSchema,
    KubernetesSettings,
    kubernetesSettingsSchema,
    MonitoringSettings,
    monitoringSettingsSchema,
} from "./schema";

/** The config key all fleets live under. */
export const FLEETS_KEY = "herd:fleets";

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

function problemsOf(error: z.ZodError, prefix: (string | number)[], input: unknown): ConfigProblem[] {
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
        return [{ path: [...prefix, ...path], value: valueAt(input, path), allowed: issue.message }];
    });
}

/** Rules that span several keys, which a schema of single fields cannot say. */
function crossChecks(fleet: FleetConfig, prefix: (string | number)[]): ConfigProblem[] {
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
    if (fleet.backend === "openstack") {
        for (const [key, release] of [["release", fleet.release], ["rollout.previous", fleet.rollout?.previous]] as const) {
            if (release && release.network === undefined && release.networks === undefined) {
                problems.push({
                    path: [...prefix, ...key.split("."), "network"],
                    value: undefined,
                    allowed: "a network name or ID (or `networks`, a list) for the members' ports",
                });
            }
            if (release && release.network !== undefined && release.networks !== undefined) {
                problems.push({
                    path: [...prefix, ...key.split("."), "networks"],
                    value: release.networks,
                    allowed: "either `network` or `networks`, not both",
                });
            }
        }
        if (fleet.loadBalancer && !fleet.health) {
            problems.push({
                path: [...prefix, "health"],
                value: undefined,
                allowed: "{ path, port } when loadBalancer is set: traffic goes only to members that pass it",
            });
        }
    }
    if (fleet.alerts?.minHealthy !== undefined && fleet.alerts.minHealthy > fleet.size) {
        problems.push({
            path: [...prefix, "alerts", "minHealthy"],
            value: fleet.alerts.minHealthy,
            allowed: `a whole number from 0 to size (${fleet.size})`,
        });
    }
    return problems;
}

/**
 * Validates the raw value of `herd:fleets` (as `pulumi.Config.getObject` returns it) and returns
 * the typed fleets, in the file's key order. Throws one {@link ConfigError} listing every problem.
 *
 * @param raw the value of `herd:fleets`; `undefined` when the key is absent
 * @param stack the stack name, for the message
 */
export function parseFleets(raw: unknown, stack: string): Record<string, FleetConfig> {
    const root = [FLEETS_KEY];
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        throw new ConfigError(stack, [{ path: root, value: raw, allowed: "a map of fleet name → fleet ({ backend, size, release, … })" }]);
    }
    const problems: ConfigProblem[] = [];
    const fleets: Record<string, FleetConfig> = {};
    for (const [name, value] of Object.entries(raw)) {
        const prefix = [...root, name];
        if (!FLEET_NAME.test(name)) {
            problems.push({
                path: prefix,
                value: name,
                allowed: "a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters",
            });
            continue;
        }
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
            problems.push({ path: prefix, value, allowed: "a fleet: { backend, size, release, … }" });
            continue;
        }
        const result = fleetSchema.safeParse(value);
        if (!result.success) {
            problems.push(...problemsOf(result.error, prefix, value));
            continue;
        }
        problems.push(...crossChecks(result.data, prefix));
        fleets[name] = result.data;
    }
    if (problems.length > 0) {
        throw new ConfigError(stack, problems);
    }
    return fleets;
}

function parseSettings<T>(schema: z.ZodType<T>, key: string, raw: unknown, stack: string): T | undefined {
    if (raw === undefined) {
        return undefined;
    }
    const result = schema.safeParse(raw);
    if (!result.success) {
        throw new ConfigError(stack, problemsOf(result.error, [key], raw));
    }
    return result.data;
}

/**
 * Validates `herd:kubernetes` (cluster access for Kubernetes fleets). Returns `undefined` when the
 * key is absent, so the ambient kubeconfig is used.
 */
export function parseKubernetesSettings(raw: unknown, stack: string): KubernetesSettings | undefined {
    return parseSettings(kubernetesSettingsSchema, "herd:kubernetes", raw, stack);
}

/** Validates `herd:monitoring` (the Pushgateway of container probes). `undefined` when absent. */
export function parseMonitoringSettings(raw: unknown, stack: string): MonitoringSettings | undefined {
    return parseSettings(monitoringSettingsSchema, "herd:monitoring", raw, stack);
}
