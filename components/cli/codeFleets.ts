import type { RecordedResource } from "../testing";
import { membersOf } from "./diff";
import type { CodeFleetShape } from "./edit";

/**
 * The fleets an evaluation of the program registered members for, with their backend (the
 * provider of their members) and size: the slots of their members, or the replicas of a fleet
 * whose members are groups of pods. This is how the command line knows the fleets a program
 * builds in code, which no stack file describes.
 */
export function fleetShapes(resources: readonly RecordedResource[]): Record<string, CodeFleetShape> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const shapes: Record<string, { backend: string; slots: Set<number>; replicas: number }> = {};
    for (const member of membersOf(resources)) {
        if (member.fleet === null) {
            continue;
        }
        const shape = (shapes[member.fleet] ??= { backend: member.type.split(":")[0], slots: new Set(), replicas: 0 });
        if (member.slot !== null) {
            shape.slots.add(member.slot);
        } else {
            const spec = (byUrn.get(member.urn)?.inputs.spec ?? {}) as { replicas?: unknown };
            shape.replicas += typeof spec.replicas === "number" ? spec.replicas : 1;
        }
    }
    return Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, { backend: shape.backend, size: shape.slots.size + shape.replicas }]));
}
