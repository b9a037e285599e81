import type { ConfigBackend, ResolveOptions, SettingsBackend } from "../config/backend";
import { ConfigError, type ConfigProblem } from "../config/errors";
import { readProjectFile } from "../config/files";
import { type MonitoringSettings, monitoringSettingsSchema } from "../config/schema";
import { markSecrets } from "../config/secrets";
import type { StackConfig } from "../config/stackFile";
import { checkSettings, FLEETS_KEY } from "../config/validate";
import { type CanaryGate, defaultMinHealthy, type FleetAlertInput } from "../monitoring/rules";
import { PROBE_SCRIPT_MAX_BYTES, type ProbeSpec } from "../monitoring/probe";
import { defaultBatch } from "../rollout";
import { type BackendName, FLEET_BACKENDS } from "./backends";
import { checkFleets, type FleetConfig } from "./config";

/**
 * A stack's herd config turned into what its program builds: every key validated (the schema,
 * the checks across keys, the files named), then each fleet's arguments made by its backend's
 * `config.ts` through the fleet registry.
 */

export type { ResolveOptions } from "../config/backend";

/**
 * A backend's stack-wide key, `herd:<backend>`, validated.
 *
 * @group Stack config
 */
export type SettingsOf<B extends BackendName> = NonNullable<(typeof FLEET_BACKENDS)[B]["config"]["settings"]> extends SettingsBackend<infer S> ? S : never;

/**
 * The stack-wide herd keys, validated: `herd:monitoring`, and each backend's `herd:<backend>`
 * (`herd:kubernetes`, `herd:openstack`), when the stack sets them.
 *
 * @group Stack config
 */
export type StackSettings = {
    /** `herd:monitoring`, when set. */
    readonly monitoring?: MonitoringSettings;
} & { readonly [B in BackendName]?: SettingsOf<B> };

/**
 * The arguments a backend's component takes, as the stack config resolves them.
 *
 * @group Stack config
 */
export type WorkloadArgsOf<B extends BackendName> = NonNullable<ReturnType<(typeof FLEET_BACKENDS)[B]["config"]["resolve"]>["args"]>;

/**
 * A validated fleet, with the arguments of the component that builds it and of its default alerts.
 *
 * @group Stack config
 */
export type ResolvedFleet = {
    [B in BackendName]: {
        /** The fleet's name: the key under `herd:fleets`. */
        readonly name: string;
        /** What its default alerts are built from. */
        readonly alerts: FleetAlertInput;
        /** Where its members run. */
        readonly backend: B;
        /** Arguments of its backend's component (a Kubernetes fleet's namespace is plain text in a stack file). */
        readonly args: WorkloadArgsOf<B>;
    };
}[BackendName];

/** The registry's config part for a backend the schema accepted. */
function configBackend(backend: BackendName) {
    return FLEET_BACKENDS[backend].config as unknown as ConfigBackend<FleetConfig, WorkloadArgsOf<BackendName>, unknown>;
}

function probes(name: string, fleet: FleetConfig, options: ResolveOptions, problems: ConfigProblem[]): ProbeSpec[] {
    return Object.entries(fleet.probes ?? {}).flatMap(([probe, config]): ProbeSpec[] => {
        const where = [FLEETS_KEY, name, "probes", probe, "script"];
        const file = readProjectFile(options, config.script, PROBE_SCRIPT_MAX_BYTES);
        if ("problem" in file) {
            problems.push({ path: where, value: config.script, allowed: `a script relative to the project directory (${file.problem})` });
            return [];
        }
        if (!file.text.startsWith("#!")) {
            problems.push({ path: where, value: config.script, allowed: "a script that starts with a shebang line such as #!/bin/sh" });
            return [];
        }
        return [{ name: probe, script: file.text, every: config.every, ...(config.metric ? { metric: config.metric } : {}), ...(config.alert ? { alert: config.alert } : {}) }];
    });
}

function alertInput(name: string, fleet: FleetConfig, stack: string, fleetProbes: readonly ProbeSpec[]): FleetAlertInput {
    return {
        stack,
        probes: fleetProbes,
        fleet: name,
        size: fleet.size,
        minHealthy: fleet.alerts?.minHealthy ?? defaultMinHealthy(fleet.size, fleet.update?.batch ?? defaultBatch(fleet.size)),
    };
}

/**
 * The fleet's gate for its `HerdCanaryGateClosed` alert while a rollout is under way (some slots
 * on the release, the others on the previous one), with the generation of the release as its
 * component computes it: the canary's.
 */
function canaryGate(fleet: ResolvedFleet, config: FleetConfig): CanaryGate | undefined {
    const members = config.rollout?.members ?? config.size;
    if (!config.gate || members === 0 || members >= config.size) {
        return undefined;
    }
    return { query: config.gate.query, generation: releaseGeneration(fleet) };
}

/**
 * The generation of a fleet's `release`, as its component computes it: what a rollout's canary runs.
 *
 * @group Stack config
 */
export function releaseGeneration(fleet: ResolvedFleet): string {
    return configBackend(fleet.backend).releaseGeneration(fleet.name, fleet.args);
}

/** Every fleet that is valid and whose files are, resolved; and every problem of the others. */
function collectFleets(raw: unknown, options: ResolveOptions): { resolved: ResolvedFleet[]; problems: ConfigProblem[] } {
    const checked = checkFleets(raw);
    const problems: ConfigProblem[] = [...checked.problems];
    const resolved: ResolvedFleet[] = [];
    for (const [name, fleet] of Object.entries(checked.fleets)) {
        const fleetProbes = probes(name, fleet, options, problems);
        const alerts = alertInput(name, fleet, options.stack, fleetProbes);
        const own = configBackend(fleet.backend).resolve(name, fleet, fleetProbes, options);
        problems.push(...own.problems);
        if (own.args !== undefined) {
            resolved.push({ name, alerts, backend: fleet.backend, args: own.args } as ResolvedFleet);
        }
    }
    // Only a fleet whose release renders has a generation; the others' problems end the run.
    const gated = problems.length > 0 ? resolved : resolved.map((fleet) => {
        const gate = canaryGate(fleet, checked.fleets[fleet.name]);
        return gate ? { ...fleet, alerts: { ...fleet.alerts, canaryGate: gate } } : fleet;
    });
    return { resolved: gated, problems };
}

/**
 * Validates `herd:fleets` and turns each fleet into the arguments of its backend's component,
 * reading the files it names. Throws one {@link ConfigError} listing every problem (schema,
 * cross-key and file checks together), before anything is registered.
 *
 * @group Stack config
 */
export function resolveFleets(raw: unknown, options: ResolveOptions): ResolvedFleet[] {
    const { resolved, problems } = collectFleets(raw, options);
    if (problems.length > 0) {
        throw new ConfigError(options.stack, problems);
    }
    return resolved;
}

/**
 * The herd keys of a stack's config, as the program reads them (`pulumi.Config.getObject`).
 *
 * @group Stack config
 */
export type StackInput = {
    /** `herd:fleets`. */
    readonly fleets: unknown;
    /** `herd:monitoring`. @default none */
    readonly monitoring?: unknown;
} & {
    /** `herd:<backend>` (`herd:kubernetes`, `herd:openstack`), for each backend that has such a key. @default none */
    readonly [B in BackendName]?: unknown;
};

/**
 * The herd keys of a stack file's config (`herd:fleets`, `herd:monitoring` and each backend's
 * `herd:<backend>`), as {@link resolveStack} takes them: what a tool reading a stack file hands it.
 */
export function stackInputOf(config: StackConfig): StackInput {
    const input: Record<string, unknown> = { fleets: config[FLEETS_KEY], monitoring: config["herd:monitoring"] };
    for (const name of Object.keys(FLEET_BACKENDS)) {
        input[name] = config[`herd:${name}`];
    }
    return input as StackInput;
}

/**
 * Where a stack's config comes from, and what Pulumi says of its secrets.
 *
 * @group Stack config
 */
export interface StackOptions extends Omit<ResolveOptions, "pushgateway" | "secrets"> {
    /** The stack's config as stored (`secure:` values and all; see `storedStackConfig`). @default unknown */
    readonly stored?: StackConfig;
    /** The config keys Pulumi says hold a secret (see `isPulumiSecretKey`). @default none */
    readonly secretKeys?: readonly string[];
}

/**
 * A stack's herd config, validated and resolved: its fleets and the stack-wide settings.
 *
 * @group Stack config
 */
export interface ResolvedStack extends StackSettings {
    /** Every fleet, with its component's arguments. */
    readonly fleets: ResolvedFleet[];
}

/**
 * Each backend's own key, `herd:<backend>`, checked against its schema, in the registry's order:
 * the values the stack sets, and every problem found. With `projectDir`, also the checks that
 * read the files a key names (a kubeconfig); without it (a robot's host may not hold them) those
 * are left out.
 *
 * @param read a key's value (`herd:kubernetes`), by the key and its backend's name
 */
export function checkBackendSettings(
    read: (key: string, backend: BackendName) => unknown,
    projectDir?: string,
): { readonly settings: Map<BackendName, unknown>; readonly problems: ConfigProblem[] } {
    const settings = new Map<BackendName, unknown>();
    const problems: ConfigProblem[] = [];
    for (const name of Object.keys(FLEET_BACKENDS) as BackendName[]) {
        const backend = configBackend(name).settings;
        if (backend !== undefined) {
            const key = `herd:${name}`;
            const checked = checkSettings(backend.schema, key, read(key, name));
            problems.push(...checked.problems);
            if (checked.value !== undefined) {
                problems.push(...(projectDir === undefined ? [] : (backend.problems?.(checked.value, projectDir) ?? [])));
                settings.set(name, checked.value);
            }
        }
    }
    return { settings, problems };
}

/**
 * Validates and resolves a stack's herd config, all of it at once: the secrets in it (each
 * replaced by its marker; see `markSecrets`), `herd:monitoring`, `herd:kubernetes` and
 * `herd:fleets` with the files they name, and each backend's `herd:<backend>`. Throws one {@link ConfigError} listing every problem
 * of every key, before anything is registered.
 *
 * @example A program that builds the Docker fleets of its stack itself, where stackProgram builds them all
 * ```ts
 * import * as pulumi from "@pulumi/pulumi";
 * import { buildFleet, isPulumiSecretKey, releaseGeneration, resolveStack, storedStackConfig } from "pulumi-herd";
 *
 * const stack = pulumi.getStack();
 * const herd = new pulumi.Config("herd");
 * const { fleets } = resolveStack(
 *     { fleets: herd.getObject("fleets"), monitoring: herd.getObject("monitoring") },
 *     { stack, projectDir: __dirname, stored: storedStackConfig(__dirname, stack), secretKeys: ["herd:fleets"].filter(isPulumiSecretKey) },
 * );
 * for (const fleet of fleets) {
 *     if (fleet.backend === "docker") {
 *         buildFleet(fleet.name, { backend: "docker", ...fleet.args, stack });
 *     }
 * }
 * export const generations = Object.fromEntries(fleets.map((fleet) => [fleet.name, releaseGeneration(fleet)]));
 * ```
 *
 * @group Stack config
 */
export function resolveStack(input: StackInput, options: StackOptions): ResolvedStack {
    const problems: ConfigProblem[] = [];
    const secrets = new Map<string, string>();
    const refused = new Set<string>();
    const marked = (key: string, value: unknown) => {
        const result = markSecrets(key, value, options.stored?.[key], options.secretKeys?.includes(key) ?? false, options.stack);
        problems.push(...result.problems);
        for (const [marker, plaintext] of result.secrets) {
            secrets.set(marker, plaintext);
        }
        if (result.refused) {
            refused.add(key);
        }
        return result.value;
    };
    const fleetsValue = marked(FLEETS_KEY, input.fleets);
    const monitoring = checkSettings(monitoringSettingsSchema, "herd:monitoring", marked("herd:monitoring", input.monitoring));
    problems.push(...monitoring.problems);
    const backendSettings = checkBackendSettings((key, name) => marked(key, input[name]), options.projectDir);
    problems.push(...backendSettings.problems);
    const own = backendSettings.settings;
    const fleets = refused.has(FLEETS_KEY) ? { resolved: [], problems: [] } : collectFleets(fleetsValue, {
        ...options,
        secrets,
        ...(monitoring.value?.pushgateway === undefined ? {} : { pushgateway: monitoring.value.pushgateway }),
    });
    // A pushgateway that is wrong is reported once, not again as missing for every probe.
    const pushgatewayWrong = monitoring.problems.some((p) => p.path[1] === "pushgateway") || (monitoring.value === undefined && monitoring.problems.length > 0);
    problems.push(...fleets.problems.filter((p) => !(pushgatewayWrong && p.path[0] === "herd:monitoring")));
    // Each backend may take what the stack declares (the compute hosts of herd:openstack, say).
    const resolvedFleets = fleets.resolved.map((fleet): ResolvedFleet => {
        const config = configBackend(fleet.backend);
        if (!config.withStack) {
            return fleet;
        }
        const withStack = config.withStack(fleet.name, fleet.args, own.get(fleet.backend));
        problems.push(...withStack.problems);
        return { ...fleet, args: withStack.args ?? fleet.args } as ResolvedFleet;
    });
    const settings = { ...(monitoring.value ? { monitoring: monitoring.value } : {}), ...Object.fromEntries(own) } as StackSettings;
    if (problems.length > 0) {
        throw new ConfigError(options.stack, problems);
    }
    return { fleets: resolvedFleets, ...settings };
}
