import { labelsFrom, type MemberLabels } from "../fleet/backend";
import { fleetLabel, type FleetPolicy, type PolicyViolation, resourcesOfType, slotMembersOnNewRelease } from "../fleet/policy";
import { HERD_LABELS } from "../release/container";

/** What the policy pack asks of a Docker fleet, read from what its `DockerWorkload` registered. */

const CONTAINER = "docker:index/container:Container";

/** herd's labels on a container: Docker takes labels as a list of `{ label, value }`. */
export function containerLabels(inputs: Readonly<Record<string, unknown>>): MemberLabels {
    const list = Array.isArray(inputs.labels) ? (inputs.labels as { label?: unknown; value?: unknown }[]) : [];
    const map = Object.fromEntries(list.filter((item) => typeof item?.label === "string").map((item) => [item.label as string, item.value]));
    return labelsFrom(map, { fleet: HERD_LABELS.fleet, slot: HERD_LABELS.slot, generation: HERD_LABELS.generation });
}

/** The Docker backend's answers to the policy pack's fleet rules. */
export const dockerFleetPolicy: FleetPolicy = {
    componentType: "herd:docker:Workload",
    members: (fleet) => resourcesOfType(fleet.children, CONTAINER).length,
    // One engine runs every member: nothing can spread them.
    spreadViolations: (fleet) => [
        { message: `${fleetLabel(fleet)} runs every member on one Docker engine, which no anti-affinity can spread: run prod fleets on openstack or kubernetes` },
    ],
    healthViolations(fleet): PolicyViolation[] {
        const violations: PolicyViolation[] = [];
        for (const container of resourcesOfType(fleet.children, CONTAINER)) {
            const ports = (container.props.ports as { external?: number; internal?: number }[] | undefined) ?? [];
            if (ports.length > 0 && container.props.healthcheck === undefined) {
                violations.push({
                    message: `${fleetLabel(fleet)} publishes port ${ports[0].external ?? ports[0].internal} but container "${container.name}" has no healthcheck: give the fleet a health check`,
                    urn: container.urn,
                });
            }
        }
        return violations;
    },
    membersOnNewRelease: (fleet, members) => slotMembersOnNewRelease(resourcesOfType(fleet.children, CONTAINER), (container) => containerLabels(container.props), members),
};
