/**
 * How `herd apply` replaces a Docker fleet's containers one batch at a time. A slot is replaced
 * when its container's name changes (it holds the generation and a hash of every setting, see
 * `resolveDockerWorkload`). No preflight: a Docker host has no quota to hold the peak against,
 * and a container's create waits until it is healthy (the provider's `wait`).
 */
import { type BatchRequest, type BatchSession, type FleetBatches, type FleetSlots, nameOfUrn, type StateResource } from "../fleet/batches";
import { type ResolvedDockerWorkload, resolveDockerWorkload } from "./spec";
import type { DockerWorkloadArgs } from "./workload";

const CONTAINER = "docker:index/container:Container";
const IMAGE = "docker:index/remoteImage:RemoteImage";

/** Each fleet's change slot by slot, from the containers the state holds to its resolved workload. */
export function dockerChanges(workloads: readonly ResolvedDockerWorkload[], resources: readonly StateResource[]): FleetSlots[] {
    const deployed = new Map(resources.filter((r) => r.type === CONTAINER).map((r) => [nameOfUrn(r.urn), String(r.inputs?.name ?? "")]));
    return workloads.map((workload) => ({
        fleet: workload.name,
        before: workload.members.filter((m) => deployed.has(m.resourceName)).map((m) => ({ slot: m.slot, generation: deployed.get(m.resourceName) as string })),
        after: workload.members.map((m) => ({ slot: m.slot, generation: m.containerName })),
        batch: workload.batch,
    }));
}

/**
 * The URNs of `slots`' containers of `fleet`, each after the image its new release pulls (a
 * resource the state may not hold yet, named beside the container, which the `up` creates).
 *
 * @param images a member's image resource name, by member resource name (`web-3`)
 */
export function containerTargets(resources: readonly StateResource[], fleet: string, slots: readonly number[], images: ReadonlyMap<string, string>): string[] {
    const members = new Set(slots.map((slot) => `${fleet}-${slot}`));
    const targets: string[] = [];
    for (const resource of resources) {
        const name = nameOfUrn(resource.urn);
        if (resource.custom === false || resource.type !== CONTAINER || !members.has(name)) {
            continue;
        }
        targets.push(resource.urn);
        const image = images.get(name);
        if (image !== undefined) {
            const urn = resource.urn.replace(/docker:index\/container:Container::[^:]+$/, `${IMAGE}::${image}`);
            if (!targets.includes(urn)) {
                targets.unshift(urn);
            }
        }
    }
    return targets;
}

async function openBatches(request: BatchRequest<DockerWorkloadArgs>): Promise<BatchSession> {
    const workloads = request.fleets.map((f) => resolveDockerWorkload(f.name, f.args));
    const images = new Map(workloads.flatMap((workload) => workload.members.map((m) => [m.resourceName, m.imageResourceName] as const)));
    return {
        changes: dockerChanges(workloads, request.state),
        problems: [],
        targets: (fleet, slots) => containerTargets(request.state, fleet, slots, images),
    };
}

/** `herd apply` for Docker fleets (the backend's `batches`). */
export const dockerBatches: FleetBatches<DockerWorkloadArgs> = { title: "Docker", open: openBatches };
