import type { KubernetesFleetConfig } from "../config/schema";
import { canonicalHealthCheck } from "../core/health";
import { containerReleaseFromConfig } from "../release/container";
import type { KubernetesWorkloadArgs } from "./workload";

/**
 * The arguments of a {@link KubernetesWorkload} for a fleet of the stack config
 * (`herd:fleets.<name>`, `backend: kubernetes`), already validated by the config schema.
 * Settings the config does not have (resources, security, metrics, fixed names) keep their
 * defaults. `rollout.waves` is the promotion schedule, which the CLI reads; the workload only
 * needs `members`.
 *
 * @param name the fleet's name, which becomes the component's name; it is not part of the args
 * but says which fleet a failure is about
 */
export function kubernetesArgsFromConfig(name: string, fleet: KubernetesFleetConfig): KubernetesWorkloadArgs {
    if (fleet.backend !== "kubernetes") {
        throw new Error(`fleet "${name}": expected a kubernetes fleet, got backend ${JSON.stringify(fleet.backend)}`);
    }
    const previous = fleet.rollout?.previous && containerReleaseFromConfig(fleet.rollout.previous);
    return {
        size: fleet.size,
        release: containerReleaseFromConfig(fleet.release),
        ...(fleet.rollout ? { rollout: { members: fleet.rollout.members, ...(previous ? { previous } : {}) } } : {}),
        ...(fleet.namespace === undefined ? {} : { namespace: fleet.namespace }),
        ...(fleet.update ? { update: { ...fleet.update } } : {}),
        ...(fleet.spread === undefined ? {} : { spread: fleet.spread }),
        ...(fleet.nodeSelector === undefined ? {} : { nodeSelector: { ...fleet.nodeSelector } }),
        ...(fleet.tolerations === undefined ? {} : { tolerations: fleet.tolerations.map((t) => ({ ...t })) }),
        ...(fleet.health ? { health: canonicalHealthCheck(fleet.health) } : {}),
    };
}
