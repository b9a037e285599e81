import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { isPulumiSecretKey, storedStackConfig } from "../config";
import type { FleetBackend, OnBackend, StackBuild, StackContext } from "./backend";
import { type BackendName, FLEET_BACKENDS, type FleetArgs, fleetBackend } from "./backends";
import { alertRuleFile, buildFleet, type Fleet } from "./fleet";
import { type ResolvedFleet, resolveStack, type StackInput } from "./resolve";

/**
 * Where {@link stackProgram} finds the stack's files.
 *
 * @group Fleets
 */
export interface StackProgramOptions {
    /**
     * The project folder: where `Pulumi.<stack>.yaml` and the files the stack config names
     * (`userData`, probe scripts, the kubeconfig) are. @default the project root the program
     * runs in (`pulumi.runtime.getRootDirectory()`: the folder of `Pulumi.yaml` under `pulumi up`,
     * `runProgram`'s `projectDir` under the test kit, which is how `herd plan` runs the program
     * on another revision's files), else the working directory
     */
    readonly projectDir?: string;
}

/**
 * What a stack shows of one fleet: its backend, the generation each slot (or role) runs, and how to reach it.
 *
 * @group Fleets
 */
export type FleetOutputs = { [B in BackendName]: ReturnType<(typeof FLEET_BACKENDS)[B]["outputs"]> }[BackendName];

/**
 * The stack outputs of {@link stackProgram}.
 *
 * @group Fleets
 */
export interface StackProgramOutputs {
    /** Per fleet: its backend, the generation each slot (or role) runs, and how to reach it. */
    readonly fleets: Record<string, FleetOutputs>;
    /**
     * The stack's Prometheus rule file for the fleets outside Kubernetes (OpenStack, Docker), whose
     * Prometheus is configured by hand; Kubernetes fleets carry theirs as PrometheusRule objects.
     */
    readonly alertRules: string;
}

/** The project root the program runs in, as the engine (or the test kit) gives it; else the working directory. */
function projectRoot(): string {
    const root = pulumi.runtime.getRootDirectory();
    return path.isAbsolute(root) ? root : process.cwd();
}

/** Under `pulumi up`, a herd error prints as one message (a `RunError`), not a stack trace. */
function oneMessage<T>(fleet: string, make: () => T): T {
    try {
        return make();
    } catch (err) {
        throw pulumi.RunError.isInstance(err) ? err : new pulumi.RunError(`herd: fleet ${fleet}: ${err instanceof Error ? err.message : String(err)}`);
    }
}

/**
 * The whole program of a stack driven by its config: every fleet of `herd:fleets` built with
 * {@link buildFleet} (workload, default alerts, monitoring objects, probes), on the backends
 * `herd:kubernetes`, `herd:openstack` and `docker:host` describe, with `herd:monitoring`'s
 * Pushgateway. herd's own `index.ts` is this call; a project that keeps its fleets in its stack
 * config, as herd's stacks do, can make it its program too.
 *
 * Everything is validated (and every referenced file read) before the first resource exists, so
 * a wrong config registers nothing and fails with one message naming the stack, key path, value
 * and what is allowed. Secret values (`pulumi config set --secret`, found from the stack file's
 * `secure:` entries) keep their secret marking to the members. OpenStack fleets wait for the
 * preflight (quota and compute hosts, where the environment reaches the cloud); a provider SDK
 * loads only when a fleet of its backend exists.
 *
 * @example
 * ```ts
 * // index.ts of a project whose fleets live in Pulumi.<stack>.yaml
 * import { stackProgram } from "pulumi-herd";
 * const stack = stackProgram();
 * export const fleets = stack.fleets;
 * export const alertRules = stack.alertRules;
 * ```
 *
 * @group Fleets
 */
export function stackProgram(options: StackProgramOptions = {}): StackProgramOutputs {
    const stack = pulumi.getStack();
    const projectDir = options.projectDir ?? projectRoot();
    const config = new pulumi.Config("herd");
    // herd:fleets, herd:monitoring and each backend's herd:<backend> (a key no backend reads is ignored).
    const keys = ["fleets", "monitoring", ...Object.keys(FLEET_BACKENDS)];
    const { fleets: resolved, ...settings } = resolveStack(
        Object.fromEntries(keys.map((key) => [key, config.getObject(key)])) as StackInput,
        { stack, projectDir, stored: storedStackConfig(projectDir, stack), secretKeys: keys.map((key) => `herd:${key}`).filter(isPulumiSecretKey) },
    );
    // Each backend sets up what its fleets share (a provider, namespaces, a preflight), in the
    // registry's order, before any fleet is built; then each fleet is built with what its backend adds.
    const builders = new Map<string, (fleet: ResolvedFleet) => StackBuild>();
    for (const name of Object.keys(FLEET_BACKENDS) as BackendName[]) {
        const fleets = resolved.filter((fleet) => fleet.backend === name);
        const backend = fleetBackend(name) as unknown as FleetBackend<FleetArgs, Fleet, FleetOutputs, unknown, ResolvedFleet["args"], OnBackend<BackendName>, unknown>;
        const context: StackContext<unknown> = { stack, ...(settings.monitoring ? { monitoring: settings.monitoring } : {}), ...(settings[name] ? { settings: settings[name] } : {}) };
        if (fleets.length > 0) {
            builders.set(name, backend.stackProgram ? backend.stackProgram(fleets, context) : () => ({}));
        }
    }

    const build = (fleet: ResolvedFleet): Fleet => {
        // The alerts as the stack config resolves them; the fleet gives its stack, name and size itself.
        const { stack: _stack, fleet: _fleet, size: _size, probes, ...alerts } = fleet.alerts;
        const added = (builders.get(fleet.backend) as (fleet: ResolvedFleet) => StackBuild)(fleet);
        const args = { backend: fleet.backend, ...fleet.args, ...added.args, stack, alerts, probes: probes ?? [] } as FleetArgs;
        return buildFleet(fleet.name, args, added.opts ?? {});
    };

    const built = resolved.map((fleet) => oneMessage(fleet.name, () => build(fleet)));
    return { fleets: Object.fromEntries(built.map((fleet) => [fleet.name, (fleetBackend(fleet.backend)?.outputs(fleet) as FleetOutputs)])), alertRules: alertRuleFile(built) };
}
