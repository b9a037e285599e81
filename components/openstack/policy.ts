import { labelsFrom, type MemberLabels } from "../fleet/backend";
import { fleetLabel, type FleetPolicy, type PolicyFleet, type PolicyViolation, resourcesOfType, slotMembersOnNewRelease } from "../fleet/policy";

/** What the policy pack asks of an OpenStack fleet, read from what its `ServerGroup` registered. */

const T = {
    instance: "openstack:compute/instance:Instance",
    novaGroup: "openstack:compute/serverGroup:ServerGroup",
    secGroupRule: "openstack:networking/secGroupRule:SecGroupRule",
    pool: "openstack:loadbalancer/pool:Pool",
    monitor: "openstack:loadbalancer/monitor:Monitor",
} as const;

const SPREAD_POLICIES = ["anti-affinity", "soft-anti-affinity"];

/** Where a server carries herd's labels: its Nova metadata. */
const METADATA = { fleet: "herd-fleet", slot: "herd-slot", generation: "herd-generation" } as const;

/** herd's labels on a server, from its Nova metadata (`herd-fleet`, `herd-slot`, `herd-generation`). */
export function serverLabels(inputs: Readonly<Record<string, unknown>>): MemberLabels {
    return labelsFrom(inputs.metadata, METADATA);
}

/** The ports a security group rule opens: a range, or every port (its protocol any, or no range). */
export function portsOpened(rule: Record<string, unknown>): [number, number] | "all" {
    const min = rule.portRangeMin as number | undefined;
    const max = rule.portRangeMax as number | undefined;
    if (rule.protocol === undefined || rule.protocol === "" || rule.protocol === "any" || (min === undefined && max === undefined) || min === 0) {
        return rule.protocol === "icmp" ? [0, -1] : "all";
    }
    return [min ?? (max as number), max ?? (min as number)];
}

/** The OpenStack backend's answers to the policy pack's fleet rules. */
export const openstackFleetPolicy: FleetPolicy = {
    componentType: "herd:openstack:ServerGroup",
    members: (fleet) => resourcesOfType(fleet.children, T.instance).length,
    spreadViolations(fleet: PolicyFleet, computeHosts: number | undefined): PolicyViolation[] {
        const violations: PolicyViolation[] = [];
        const instances = resourcesOfType(fleet.children, T.instance);
        const [group] = resourcesOfType(fleet.children, T.novaGroup);
        const policies = (group?.props.policies as string[] | undefined) ?? [];
        if (!group || !policies.some((policy) => SPREAD_POLICIES.includes(policy))) {
            violations.push({
                message: `${fleetLabel(fleet)} is not spread: its Nova server group policy is ${group ? JSON.stringify(policies.join(", ")) : "missing"}; use anti-affinity or soft-anti-affinity`,
            });
        }
        if (computeHosts !== undefined && policies.includes("anti-affinity") && instances.length > computeHosts) {
            violations.push({
                message: `${fleetLabel(fleet)} has ${instances.length} members in a hard anti-affinity server group, and the cloud has ${computeHosts} compute host${computeHosts === 1 ? "" : "s"} (computeHosts): Nova cannot place ${instances.length - computeHosts} of them; use soft-anti-affinity or at most ${computeHosts} members`,
            });
        }
        for (const instance of instances) {
            const hints = instance.props.schedulerHints as unknown[] | undefined;
            if (!Array.isArray(hints) || hints.length === 0) {
                violations.push({ message: `${fleetLabel(fleet)}: instance "${instance.name}" does not join the fleet's server group (no scheduler hint)`, urn: instance.urn });
            }
        }
        return violations;
    },
    healthViolations(fleet: PolicyFleet, monitoringPorts: readonly number[]): PolicyViolation[] {
        const violations: PolicyViolation[] = [];
        const pools = resourcesOfType(fleet.children, T.pool);
        const monitors = resourcesOfType(fleet.children, T.monitor);
        const servingPorts = resourcesOfType(fleet.children, T.secGroupRule)
            .filter((rule) => rule.props.direction === "ingress")
            .map((rule) => portsOpened(rule.props))
            .filter((ports) => ports === "all" || !monitoringPorts.some((port) => port >= ports[0] && port <= ports[1]))
            .map((ports) => (ports === "all" ? "every port" : `port ${ports[0]}`));
        if (pools.length === 0 && servingPorts.length > 0) {
            violations.push({
                message: `${fleetLabel(fleet)} serves on ${servingPorts[0]} but nothing health-checks its members: give it a health check and a load balancer, whose health monitor takes failing members out`,
            });
        }
        if (pools.length > monitors.length) {
            violations.push({ message: `${fleetLabel(fleet)} has a load balancer pool without a health monitor: give the fleet a health check` });
        }
        return violations;
    },
    membersOnNewRelease: (fleet, members) => slotMembersOnNewRelease(resourcesOfType(fleet.children, T.instance), (server) => serverLabels(server.props), members),
};
