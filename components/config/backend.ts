import type { ProbeSpec } from "../monitoring/probe";
import type { SecretValues } from "../release/secrets";
import type { ConfigProblem } from "./errors";
import type { ProjectFiles } from "./files";
import type { KubernetesSettings, MonitoringSettings, OpenStackSettings } from "./schema";

/**
 * What a backend does with its fleets' stack config: each backend's `config.ts` implements a
 * {@link ConfigBackend}, and the fleet registry lists it with the backend. The config layer
 * itself names no backend.
 */

/**
 * Where a stack's fleets come from.
 *
 * @group Stack config
 */
export interface ResolveOptions extends ProjectFiles {
    /** The stack, for messages and cloud-side group names. */
    readonly stack: string;
    /** The Pushgateway container probes push to (`herd:monitoring.pushgateway`). @default none */
    readonly pushgateway?: string;
    /** Plaintext of the secrets the fleets hold, by marker (see `markSecrets`). @default none */
    readonly secrets?: SecretValues;
}

/**
 * The stack-wide herd keys, validated, as a backend's fleets may need them.
 *
 * @group Stack config
 */
export interface StackSettings {
    /** `herd:monitoring`, when set. */
    readonly monitoring?: MonitoringSettings;
    /** `herd:kubernetes`, when set. */
    readonly kubernetes?: KubernetesSettings;
    /** `herd:openstack`, when set. */
    readonly openstack?: OpenStackSettings;
}

/**
 * A fleet's stack config turned into its component's arguments, or the problems that stop it.
 *
 * @group Backends
 */
export interface ResolvedConfig<WorkloadArgs> {
    /** The component's arguments; absent when a problem stops the fleet. */
    readonly args?: WorkloadArgs;
    /** Every problem found, with full key paths (`herd:fleets.web.release.userData`). */
    readonly problems: readonly ConfigProblem[];
}

/**
 * One backend's part of resolving a stack config.
 *
 * @typeParam Config a fleet of the backend as the stack config's schema validated it
 * @typeParam WorkloadArgs the arguments of the backend's component
 *
 * @group Backends
 */
export interface ConfigBackend<Config, WorkloadArgs> {
    /**
     * The fleet's component arguments from its validated config, reading the files it names
     * (inside the project only), with every problem the schema could not see.
     *
     * @param probes the fleet's probes, their scripts read
     */
    resolve(name: string, fleet: Config, probes: readonly ProbeSpec[], options: ResolveOptions): ResolvedConfig<WorkloadArgs>;
    /**
     * The arguments once the stack-wide settings are known (e.g. `herd:openstack.computeHosts`),
     * with their problems. @default the arguments as they are
     */
    withStack?(name: string, args: WorkloadArgs, settings: StackSettings): ResolvedConfig<WorkloadArgs>;
    /** The generation of the fleet's `release`, as its component computes it: what a rollout's canary runs. */
    releaseGeneration(name: string, args: WorkloadArgs): string;
}

/**
 * The problem of a fleet whose probes push their counts (as containers and CronJobs do) while the
 * stack has no Pushgateway, if it has one.
 */
export function missingPushgateway(name: string, backend: string, probes: readonly string[], options: ResolveOptions): ConfigProblem[] {
    if (probes.length === 0 || options.pushgateway !== undefined) {
        return [];
    }
    return [
        {
            path: ["herd:monitoring", "pushgateway"],
            value: undefined,
            allowed: `the URL of a Prometheus Pushgateway: probes of ${backend} fleet ${name} (${probes.join(", ")}) push their counts there`,
        },
    ];
}

/** The secrets of a container fleet's args, when it holds any. */
export function secretsOf(options: ResolveOptions): { readonly secrets?: SecretValues } {
    return options.secrets && options.secrets.size > 0 ? { secrets: options.secrets } : {};
}
