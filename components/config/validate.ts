import { z } from "zod";
import { HEALTH_COMMAND_OUTSIDE } from "../core/health";
import { ConfigError, ConfigProblem } from "./errors";
import { parseIpv4Cidr } from "./grammar";
import { misplacedSecrets } from "./secrets";
import {
    FLEET_NAME,
    FleetConfig,
    fleetSchema,
    KubernetesSettings,
    kubernetesSettingsSchema,
    MonitoringSettings,
    monitoringSettingsSchema,
    CodeFleetState,
    protectedSchema,
    rolloutsSchema,
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
        if (issue.code === "invalid_key") {
            // The value under a wrong key is content (a file's, an env value): name the key instead.
            const key = path[path.length - 1];
            return [{ path: [...prefix, ...path], value: key, allowed: issue.issues[0]?.message ?? issue.message }];
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
                allowed: "{ path, port } (HTTP) or { port } (TCP) when loadBalancer is set: traffic goes only to members that pass it",
            });
        }
        if (fleet.health?.command !== undefined) {
            problems.push({ path: [...prefix, "health", "command"], value: fleet.health.command, allowed: HEALTH_COMMAND_OUTSIDE });
        }
    }
    if (fleet.backend === "openstack") {
        problems.push(...duplicateIngress(fleet.ingress ?? [], [...prefix, "ingress"]));
    }
    problems.push(...misplacedSecrets(fleet, prefix, (path) => fleet.backend !== "openstack" && isSecretPlace(path), SECRET_PLACES));
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

/** `release.env.X`, `release.files./p` and the same under `rollout.previous`. */
function isSecretPlace(path: readonly (string | number)[]): boolean {
    const release = path[0] === "release" ? path.slice(1) : path[0] === "rollout" && path[1] === "previous" ? path.slice(2) : undefined;
    return release !== undefined && release.length === 2 && (release[0] === "env" || release[0] === "files");
}

/** Ingress rules that open what an earlier rule opens already (they would be one security group rule, twice). */
function duplicateIngress(rules: readonly { port: number; protocol?: string; cidr: string }[], prefix: (string | number)[]): ConfigProblem[] {
    const seen = new Map<string, number>();
    const problems: ConfigProblem[] = [];
    rules.forEach((rule, i) => {
        const parsed = parseIpv4Cidr(rule.cidr);
        const range = typeof parsed === "string" ? rule.cidr : `${parsed.address}/${parsed.prefix}`;
        const key = `${rule.protocol ?? "tcp"} ${rule.port} ${range}`;
        const first = seen.get(key);
        if (first === undefined) {
            seen.set(key, i);
        } else {
            problems.push({
                path: [...prefix, i],
                value: rule,
                allowed: `a rule that ingress[${first}] does not give already (${rule.protocol ?? "tcp"} port ${rule.port} from ${range})`,
            });
        }
    });
    return problems;
}

/**
 * Host ports that two Docker fleets would both publish: slot `i` of a fleet publishes
 * `hostPort + i`, and every Docker fleet of a stack runs on the same engine.
 */
function hostPortOverlaps(fleets: Record<string, FleetConfig>, root: string[]): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const taken: { name: string; first: number; last: number }[] = [];
    for (const [name, fleet] of Object.entries(fleets)) {
        if (fleet.backend !== "docker" || fleet.hostPort === undefined || fleet.size === 0) {
            continue;
        }
        const first = fleet.hostPort;
        const last = fleet.hostPort + fleet.size - 1;
        const other = taken.find((range) => first <= range.last && range.first <= last);
        if (other) {
            problems.push({
                path: [...root, name, "hostPort"],
                value: fleet.hostPort,
                allowed: `host ports no other fleet publishes: its ${fleet.size} slots would publish ${first}–${last}, and fleet ${other.name} publishes ${other.first}–${other.last}`,
            });
        }
        taken.push({ name, first, last });
    }
    return problems;
}

/** The fleets of `herd:fleets` that are valid, and the problems of the others. */
export interface CheckedFleets {
    /** The valid fleets, typed, in the file's key order. */
    readonly fleets: Record<string, FleetConfig>;
    /** Every problem found, in key order. */
    readonly problems: readonly ConfigProblem[];
}

/**
 * Checks the raw value of `herd:fleets` without throwing: every fleet against the schema, the
 * rules that span several of its keys, and those that span fleets (Docker host ports). A fleet
 * with a problem is left out of `fleets`.
 */
export function checkFleets(raw: unknown): CheckedFleets {
    const root = [FLEETS_KEY];
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        return { fleets: {}, problems: [{ path: root, value: raw, allowed: "a map of fleet name → fleet ({ backend, size, release, … })" }] };
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
        const fleetProblems = crossChecks(result.data, prefix);
        problems.push(...fleetProblems);
        if (fleetProblems.length === 0) {
            fleets[name] = result.data;
        }
    }
    problems.push(...hostPortOverlaps(fleets, root));
    return { fleets, problems };
}

/**
 * Validates the raw value of `herd:fleets` (as `pulumi.Config.getObject` returns it) and returns
 * the typed fleets, in the file's key order. Throws one {@link ConfigError} listing every problem.
 *
 * @param raw the value of `herd:fleets`; `undefined` when the key is absent
 * @param stack the stack name, for the message
 *
 * @group Stack config
 */
export function parseFleets(raw: unknown, stack: string): Record<string, FleetConfig> {
    const { fleets, problems } = checkFleets(raw);
    if (problems.length > 0) {
        throw new ConfigError(stack, problems);
    }
    return fleets;
}

/** What {@link checkSettings} found. */
export interface SettingsCheck<T> {
    /** The validated settings; absent when not given or invalid. */
    value?: T;
    /** Every problem found; empty when the settings are valid or absent. */
    problems: ConfigProblem[];
}

/** Checks a settings key (`herd:kubernetes`, `herd:monitoring`) without throwing. */
export function checkSettings<T>(schema: z.ZodType<T>, key: string, raw: unknown): SettingsCheck<T> {
    if (raw === undefined) {
        return { problems: [] };
    }
    const result = schema.safeParse(raw);
    if (!result.success) {
        return { problems: problemsOf(result.error, [key], raw) };
    }
    const secrets = misplacedSecrets(result.data, [key], () => false, `${key} holds no secret: herd shows its values in plans and messages, or reads them as paths`);
    return secrets.length > 0 ? { problems: secrets } : { value: result.data, problems: [] };
}

function parseSettings<T>(schema: z.ZodType<T>, key: string, raw: unknown, stack: string): T | undefined {
    const { value, problems } = checkSettings(schema, key, raw);
    if (problems.length > 0) {
        throw new ConfigError(stack, problems);
    }
    return value;
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
