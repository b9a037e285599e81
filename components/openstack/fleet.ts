import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import type { BuiltFleet, FleetBackend, OnBackend } from "../fleet/backend";
import { fleetAlertInput, type FleetMonitoringArgs } from "../fleet/plan";
import { fleetProbes } from "../monitoring/probeComponent";
import { defaultAlerts } from "../monitoring/rules";
import type * as ServerGroupModule from "./serverGroup";
import type * as BatchesModule from "./batches";
import { lazy } from "../config/lazy";
import { openstackConfigBackend } from "./config";
import { openstackFleetPolicy, serverLabels } from "./policy";
import { OPENSTACK_MAX_SIZE, type OpenStackFleetConfig, type OpenStackSettings } from "./schema";
import { openstackStackProgram } from "./stack";

/** The OpenStack backend of a fleet: a `ServerGroup`, its alerts for the stack's rule file, and probes its members run. */

/**
 * Arguments of an OpenStack fleet: those of its `ServerGroup`, and how it is watched.
 *
 * @group Fleets
 */
export interface OpenStackFleetArgs extends ServerGroupModule.ServerGroupArgs, FleetMonitoringArgs {
    /** The fleet runs on OpenStack VMs. */
    readonly backend: "openstack";
}

/**
 * An OpenStack fleet as `buildFleet` built it.
 *
 * @group Fleets
 */
export interface OpenStackFleet extends BuiltFleet {
    /** The fleet runs on OpenStack VMs. */
    readonly backend: "openstack";
    /** Its VMs, security group, server group and load balancer. */
    readonly workload: ServerGroupModule.ServerGroup;
}

/** The arguments of an OpenStack fleet's `ServerGroup`: its own, without how the fleet is watched (its probes stay: the members run them). */
export function serverGroupArgsOf(args: OpenStackFleetArgs): ServerGroupModule.ServerGroupArgs {
    const { backend: _backend, stack: _stack, alerts: _alerts, ...workload } = args;
    return workload;
}

/** Nova metadata keys herd sets on every member (see `instanceInputs`). */

/**
 * What a stack shows of an OpenStack fleet.
 *
 * @group Fleets
 */
export interface OpenStackFleetOutputs {
    /** The fleet runs on OpenStack VMs. */
    readonly backend: "openstack";
    /** The generation each slot runs, by slot. */
    readonly generations: ServerGroupModule.ServerGroup["generations"];
    /** Each member: slot, server name, generation and address. */
    readonly servers: ServerGroupModule.ServerGroup["servers"];
    /** The load balancer's VIP, when the fleet has one. */
    readonly loadBalancerAddress: ServerGroupModule.ServerGroup["loadBalancerAddress"];
}

/** A private address under `prefix` (two octets) derived from a name, the same on every run. */
function addressOf(name: string, prefix: string): string {
    const n = parseInt(createHash("sha256").update(name).digest("hex").slice(0, 4), 16);
    return `${prefix}.${(n >> 8) % 256}.${(n % 254) + 1}`;
}

/** The OpenStack backend, as the fleet registry lists it. */
export const openstackFleetBackend: FleetBackend<
    OpenStackFleetArgs,
    OpenStackFleet,
    OpenStackFleetOutputs,
    OpenStackFleetConfig,
    ServerGroupModule.ServerGroupArgs,
    OnBackend<"openstack">,
    OpenStackSettings
> = {
    name: "openstack",
    maxSize: OPENSTACK_MAX_SIZE,
    releaseKind: "server",
    // Probes run on the members from their user data, on the members' own schedule: nothing to add.
    problems: () => [],
    build(name: string, args: OpenStackFleetArgs, stack: string, opts: pulumi.ComponentResourceOptions): OpenStackFleet {
        // The component's module loads the provider SDK: only a stack with an OpenStack fleet loads it.
        const { ServerGroup } = require("./serverGroup") as typeof ServerGroupModule;
        const workload = new ServerGroup(name, serverGroupArgsOf(args), opts);
        return {
            name,
            backend: "openstack",
            workload,
            ruleGroup: defaultAlerts(fleetAlertInput(name, args, stack)),
            probes: fleetProbes(name, stack, args.probes, { backend: "openstack" }, opts),
        };
    },
    ruleFile: true,
    outputs: (fleet) => ({
        backend: "openstack",
        generations: fleet.workload.generations,
        servers: fleet.workload.servers,
        loadBalancerAddress: fleet.workload.loadBalancerAddress,
    }),
    memberTypes: ["openstack:compute/instance:Instance"],
    memberLabels: (_type, inputs) => serverLabels(inputs),
    policy: openstackFleetPolicy,
    // Read by herd apply and herd plan only: a program does not load it.
    batches: lazy(() => (require("./batches") as typeof BatchesModule).openstackBatches),
    mockState: (type, name) =>
        type === "openstack:compute/instance:Instance"
            ? { accessIpV4: addressOf(name, "10.20") }
            : type === "openstack:loadbalancer/loadBalancer:LoadBalancer"
              ? { vipAddress: addressOf(name, "10.30") }
              : undefined,
    config: openstackConfigBackend,
    stackProgram: openstackStackProgram,
};
