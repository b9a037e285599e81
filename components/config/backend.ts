import type { ProbeSpec } from "../monitoring/probe";
import type { SecretValues } from "../release/secrets";
import type { ConfigProblem } from "./errors";
import type { ProjectFiles } from "./files";
import type { z } from "zod/mini";

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
 * A backend's stack-wide key, `herd:<backend>` (how the program reaches the cluster, what the
 * stack declares of the cloud): its schema and the problems the schema cannot see.
 *
 * @group Backends
 */
export interface SettingsBackend<Settings> {
    /** The key's schema: every object strict, each field saying what it allows. */
    readonly schema: z.ZodMiniType<Settings>;
    /** Problems of the validated key that need the project's files (a path that leaves it). @default none */
    problems?(settings: Settings, projectDir: string): ConfigProblem[];
}

/**
 * One backend's part of validating and resolving a stack config.
 *
 * @typeParam Config a fleet of the backend as the stack config's schema validated it
 * @typeParam WorkloadArgs the arguments of the backend's component
 * @typeParam Settings the backend's stack-wide key, `herd:<backend>`, validated
 *
 * @group Backends
 */
export interface ConfigBackend<Config, WorkloadArgs, Settings = never> {
    /**
     * The schema of one of its fleets under `herd:fleets` (`backend` its name): made with
     * `fleetSchemaOf`, so the keys every fleet has are the same on every backend.
     */
    readonly schema: z.ZodMiniType<Config>;
    /**
     * Rules across the fleet's keys that its schema cannot say (one network or a list, a check
     * for the load balancer), with full key paths under `prefix`. @default none
     */
    problems?(fleet: Config, prefix: (string | number)[]): ConfigProblem[];
    /**
     * Rules across the stack's fleets of the backend (host ports two fleets would both publish),
     * with full key paths, for fleets that passed their own checks, in the file's order. @default none
     */
    stackProblems?(fleets: readonly (readonly [name: string, fleet: Config])[]): ConfigProblem[];
    /** Where in a fleet a secret may be (a key path relative to the fleet). @default nowhere */
    secretPlace?(path: readonly (string | number)[]): boolean;
    /** Its stack-wide key, `herd:<backend>`, when it has one. @default none */
    readonly settings?: SettingsBackend<Settings>;
    /**
     * The fleet's component arguments from its validated config, reading the files it names
     * (inside the project only), with every problem the schema could not see.
     *
     * @param probes the fleet's probes, their scripts read
     */
    resolve(name: string, fleet: Config, probes: readonly ProbeSpec[], options: ResolveOptions): ResolvedConfig<WorkloadArgs>;
    /**
     * The arguments once the backend's stack-wide key is known (e.g. `herd:openstack.computeHosts`),
     * with their problems. @default the arguments as they are
     *
     * @param settings `herd:<backend>`, validated; `undefined` when the stack does not set it
     */
    withStack?(name: string, args: WorkloadArgs, settings: Settings | undefined): ResolvedConfig<WorkloadArgs>;
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
