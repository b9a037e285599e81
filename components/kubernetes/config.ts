import type { ConfigProblem } from "../config/errors";
import type { KubernetesFleetConfig } from "../config/schema";
import { FLEETS_KEY } from "../config/validate";
import { canonicalHealthCheck } from "../core/health";
import { containerReleaseFromConfig } from "../release/container";
import { KubernetesVolume, podSettingsProblems } from "./pod";
import type { PlainNamespaceWorkloadArgs } from "./workload";

/**
 * The problems of a Kubernetes fleet's pod settings that the config schema cannot see (names,
 * quantities and mount paths in Kubernetes's grammar, one source per volume, a mount path no
 * release file or other volume takes, requests within limits), with their full key paths: the
 * checks `KubernetesWorkload` makes of the same settings given in code.
 */
export function kubernetesConfigProblems(name: string, fleet: KubernetesFleetConfig): ConfigProblem[] {
    const filePaths = [fleet.release, fleet.rollout?.previous].flatMap((release) => Object.keys(release?.files ?? {}));
    return podSettingsProblems(kubernetesArgsFromConfig(name, fleet), { filePaths, metrics: true }).map((problem) => ({
        ...problem,
        path: [FLEETS_KEY, name, ...problem.path],
    }));
}

/**
 * The arguments of a {@link KubernetesWorkload} for a fleet of the stack config
 * (`herd:fleets.<name>`, `backend: kubernetes`), already validated by the config schema.
 * Settings the config does not have (security, metrics, fixed names) keep their defaults. `rollout.waves` is the promotion schedule, which the CLI reads; the workload only
 * needs `members`.
 *
 * @param name the fleet's name, which becomes the component's name; it is not part of the args
 * but says which fleet a failure is about
 */
export function kubernetesArgsFromConfig(name: string, fleet: KubernetesFleetConfig): PlainNamespaceWorkloadArgs {
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
        ...(fleet.serviceAccountName === undefined ? {} : { serviceAccountName: fleet.serviceAccountName }),
        ...(fleet.automountServiceAccountToken === undefined ? {} : { automountServiceAccountToken: fleet.automountServiceAccountToken }),
        ...(fleet.imagePullSecrets === undefined ? {} : { imagePullSecrets: [...fleet.imagePullSecrets] }),
        ...(fleet.volumes === undefined ? {} : { volumes: Object.fromEntries(Object.entries(fleet.volumes).map(([volume, v]) => [volume, { ...v } as KubernetesVolume])) }),
        ...(fleet.podAnnotations === undefined ? {} : { podAnnotations: { ...fleet.podAnnotations } }),
        ...(fleet.resources === undefined ? {} : { resources: { ...fleet.resources } }),
    };
}
