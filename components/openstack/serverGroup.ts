import * as pulumi from "@pulumi/pulumi";
import type * as openstack from "@pulumi/openstack";
import { fleetNameProblems, refuseArguments, servingProblems } from "../core/arguments";
import { buildInBatches } from "../core/batches";
import type { HttpHealthCheck, TcpHealthCheck } from "../core/health";
import type { ProbeSpec } from "../monitoring/probe";
import { defaultBatch, Rollout } from "../rollout";
import { spreadProblem } from "./hosts";
import { encodedUserDataSize, USER_DATA_MAX_ENCODED_BYTES } from "./userData";
import type { ChildSpec } from "./children";
import { instanceSpec, serverGroupSpec } from "./instances";
import { listenerSpec, loadBalancerSpec, monitorSpec, networkId, planLoadBalancer, poolMemberSpec, poolSpec } from "./loadBalancer";
import { groupNameOf, MemberPlan, planMembers, ServerRelease } from "./members";
import { ingressRuleSpecs, securityGroupSpec } from "./securityGroup";
import { attachmentSpec, volumeSpec } from "./volumes";

/**
 * An ingress rule of the fleet's security group.
 *
 * @group Components
 */
export interface IngressRule {
    /** Port the rule opens. */
    readonly port: number;
    /** @default "tcp" */
    readonly protocol?: "tcp" | "udp";
    /** Source range, e.g. `10.0.0.0/8`. */
    readonly cidr: string;
}

export type { CommandHealthCheck, HealthCheck, HttpHealthCheck, TcpHealthCheck } from "../core/health";

/**
 * An Octavia load balancer in front of the fleet.
 *
 * @group Components
 */
export interface LoadBalancerArgs {
    /** Listener port. */
    readonly port: number;
    /** @default "HTTP" */
    readonly protocol?: "HTTP" | "HTTPS" | "TCP";
    /** Network of the VIP, name or ID (a UUID), plain or wired from another resource (`network.id`). @default the release's first network */
    readonly network?: pulumi.Input<string>;
}

/**
 * A data volume per slot: state that outlives the members, so not cattle.
 *
 * @group Components
 */
export interface DataVolumeArgs {
    /** Size in GB. */
    readonly size: number;
    /** Cinder volume type. @default the cloud's default type */
    readonly type?: string;
}

/**
 * Arguments of a {@link ServerGroup}.
 *
 * @group Components
 */
export interface ServerGroupArgs {
    /** Number of slots (members). */
    readonly size: number;
    /** The release new members run. */
    readonly release: ServerRelease;
    /** A rollout under way: slots `0 … members-1` run `release`, the others `previous`. @default every slot runs `release` */
    readonly rollout?: Rollout<ServerRelease>;
    /** How replacements proceed within one `pulumi up`. @default batches of a quarter of the size, at least 1, create-before-delete */
    readonly update?: {
        /** Members per batch; batch k+1 waits for batch k. @default a quarter of the size, at least 1 */
        readonly batch?: number;
        /** `delete-before-create` for quota-tight projects (capacity drops by a batch). @default "create-before-delete" */
        readonly order?: "create-before-delete" | "delete-before-create";
    };
    /** Nova server group policy spreading members over hypervisors. @default "soft-anti-affinity" */
    readonly spread?: "anti-affinity" | "soft-anti-affinity";
    /**
     * Health check of a serving fleet: `{ path, port }` (HTTP) or `{ port }` (TCP). The load
     * balancer's monitor runs it from outside, so a `{ command }` check is refused. @default none
     */
    readonly health?: HttpHealthCheck | TcpHealthCheck;
    /** Load balancer sending traffic only to healthy members; requires `health`. @default none */
    readonly loadBalancer?: LoadBalancerArgs;
    /** Ingress rules of the fleet's security group. @default the health port from 0.0.0.0/0 when `health` is set */
    readonly ingress?: readonly IngressRule[];
    /** Cloud-side name of the fleet's security group and Nova server group. @default `herd-${name}` */
    readonly groupName?: string;
    /**
     * Extra Nova metadata on every member (e.g. `herd-stack`), for service discovery. herd's own
     * keys (`herd-fleet`, `herd-slot`, `herd-generation`) always win. @default {}
     */
    readonly metadata?: Readonly<Record<string, string>>;
    /**
     * Probes every member runs from a systemd timer, publishing their counts through node_exporter.
     * They are part of the user data, so adding or changing one replaces the members (in batches).
     * @default []
     */
    readonly probes?: readonly ProbeSpec[];
    /**
     * A Cinder volume per slot (`${name}-${slot}-data`) that survives the member's replacement and
     * is attached to whoever occupies the slot. Volumes are `protect`ed and `retainOnDelete`: data
     * is not cattle. A volume attaches to one server at a time, so members with one are replaced
     * delete-before-create. @default none
     */
    readonly volume?: DataVolumeArgs;
    /**
     * Compute hosts the members can be placed on. With `spread: anti-affinity`, a fleet that needs
     * more hosts than this at its peak (one per member, plus one per member of a batch with
     * create-before-delete) is refused before any server is created. @default not checked
     */
    readonly computeHosts?: number;
}

/**
 * One member as the stack outputs show it.
 *
 * @group Components
 */
export interface ServerOutput {
    /** The slot number, `0 … size-1`. */
    readonly slot: number;
    /** Server name: `${fleet}-${slot}-${generation}`. */
    readonly name: string;
    /** Generation of the release the server runs. */
    readonly generation: string;
    /** The server's IPv4 address (`accessIpV4`). */
    readonly ip: string;
}

/**
 * A fleet of interchangeable OpenStack VMs: one instance per slot (`${name}-${slot}`), spread by a
 * Nova server group, replaced (never patched) whenever its release changes, in batches that wait
 * for each other, optionally behind an Octavia load balancer with an HTTP or TCP health monitor.
 *
 * @example Six web servers in waves of two behind an Octavia load balancer
 * ```ts
 * import { ServerGroup } from "pulumi-herd";
 *
 * const web = new ServerGroup("web", {
 *     size: 6,
 *     release: { image: "debian-12-web", flavor: "b3-8", networks: ["ext-net"], userData: "#cloud-config\npackages: [nginx]\n" },
 *     update: { batch: 2 },
 *     spread: "anti-affinity",
 *     health: { path: "/healthz", port: 80 },
 *     loadBalancer: { port: 80 },
 * });
 * export const servers = web.servers;
 * ```
 *
 * @group Components
 */
export class ServerGroup extends pulumi.ComponentResource {
    /** The plan every member was built from: slot, generation, names, batch. */
    readonly members: readonly MemberPlan[];
    /** Generation per slot. */
    readonly generations: readonly string[];
    /** The Nova server group spreading the members (`spread`). */
    readonly serverGroup: openstack.compute.ServerGroup;
    /** The fleet's own security group, holding the `ingress` rules; every member joins it. */
    readonly securityGroup: openstack.networking.SecGroup;
    /** Instance per slot. */
    readonly instances: readonly openstack.compute.Instance[];
    /** The Octavia load balancer, with `loadBalancer`. */
    readonly loadBalancer?: openstack.loadbalancer.LoadBalancer;
    /** Pool member per slot, with `loadBalancer`; empty otherwise. */
    readonly poolMembers: readonly openstack.loadbalancer.Member[];
    /** The slots' data volumes, when `volume` is set. */
    readonly volumes: readonly openstack.blockstorage.Volume[];
    /** Name, generation and IPv4 address of every member, by slot. */
    readonly servers: pulumi.Output<ServerOutput[]>;
    /** The load balancer's VIP, when there is one. */
    readonly loadBalancerAddress: pulumi.Output<string | undefined>;

    constructor(name: string, args: ServerGroupArgs, opts?: pulumi.ComponentResourceOptions) {
        // A volume can be attached to one server only: the new occupant of a slot can have it
        // only once the old one is gone.
        const deleteBeforeReplace = replacedDeleteFirst(args);
        const groupName = groupNameOf(name, args);
        // Everything is checked, and every member planned, before the component itself is
        // registered: a refused fleet leaves nothing behind, and says all that is wrong at once.
        const { members, problems } = planServerGroup(name, args, groupName, deleteBeforeReplace);
        refuseArguments("ServerGroup", name, [...fleetNameProblems(name), ...servingProblems(args), ...problems]);
        super("herd:openstack:ServerGroup", name, {}, opts);
        // The OpenStack SDK loads when a fleet uses it, not when herd is imported (a second or more).
        const openstack = require("@pulumi/openstack") as typeof import("@pulumi/openstack");
        this.members = members;
        this.generations = this.members.map((m) => m.generation);

        this.serverGroup = registerChild(this, openstack.compute.ServerGroup, serverGroupSpec(name, groupName, args.spread));
        this.securityGroup = registerChild(this, openstack.networking.SecGroup, securityGroupSpec(name, groupName));
        const rules = ingressRuleSpecs(name, args, this.securityGroup.id).map((rule) => registerChild(this, openstack.networking.SecGroupRule, rule));

        const lbPlan = planLoadBalancer(name, groupName, args);
        let pool: openstack.loadbalancer.Pool | undefined;
        if (lbPlan) {
            const byName = (network: string) => openstack.networking.getNetworkOutput({ name: network }, { parent: this }).id;
            const vipNetworkId = networkId(lbPlan.vipNetwork, byName);
            this.loadBalancer = registerChild(this, openstack.loadbalancer.LoadBalancer, loadBalancerSpec(lbPlan, vipNetworkId));
            const listener = registerChild(this, openstack.loadbalancer.Listener, listenerSpec(lbPlan, this.loadBalancer.id));
            pool = registerChild(this, openstack.loadbalancer.Pool, poolSpec(lbPlan, listener.id));
            registerChild(this, openstack.loadbalancer.Monitor, monitorSpec(lbPlan, pool.id));
        }

        const slots = buildInBatches(
            this.members,
            (member, dependsOn: pulumi.Resource[]) => {
                const server = instanceSpec(name, member, args.metadata, this.serverGroup.id, deleteBeforeReplace);
                const instance = registerChild(this, openstack.compute.Instance, server, dependsOn);
                const volume = args.volume && registerChild(this, openstack.blockstorage.Volume, volumeSpec(name, member, args.volume));
                const attachment = volume && registerChild(this, openstack.compute.VolumeAttach, attachmentSpec(member, instance.id, volume.id));
                const inPool = lbPlan && pool && poolMemberSpec(lbPlan, member, pool.id, instance.accessIpV4, deleteBeforeReplace);
                const poolMember = inPool && registerChild(this, openstack.loadbalancer.Member, inPool);
                return { instance, volume, attachment, poolMember };
            },
            // The next batch waits until this one's servers are up, attached and in the pool.
            ({ instance, attachment, poolMember }) => [instance, ...(attachment ? [attachment] : []), ...(poolMember ? [poolMember] : [])],
            rules,
        );
        this.instances = slots.map((slot) => slot.instance);
        this.poolMembers = slots.flatMap((slot) => (slot.poolMember ? [slot.poolMember] : []));
        this.volumes = slots.flatMap((slot) => (slot.volume ? [slot.volume] : []));

        this.servers = pulumi
            .all(this.instances.map((instance) => instance.accessIpV4))
            .apply((ips) =>
                this.members.map((m, i) => ({ slot: m.slot, name: m.serverName, generation: m.generation, ip: ips[i] })),
            );
        this.loadBalancerAddress = this.loadBalancer ? this.loadBalancer.vipAddress : pulumi.output(undefined);
        this.registerOutputs({
            servers: this.servers,
            generations: this.generations,
            loadBalancerAddress: this.loadBalancerAddress,
        });
    }
}

/**
 * Registers a child as its builder planned it, under the component, waiting for `dependsOn`
 * when given.
 */
function registerChild<Args, Child>(
    parent: pulumi.ComponentResource,
    Resource: new (name: string, args: Args, opts?: pulumi.CustomResourceOptions) => Child,
    spec: ChildSpec<Args>,
    dependsOn?: pulumi.Resource[],
): Child {
    return new Resource(spec.resourceName, spec.args, { ...spec.opts, parent, ...(dependsOn === undefined ? {} : { dependsOn }) });
}

/** Whether members are replaced delete-before-create: asked for, or forced by a per-slot volume (attached to one server at a time). */
function replacedDeleteFirst(args: ServerGroupArgs): boolean {
    return args.update?.order === "delete-before-create" || args.volume !== undefined;
}

/**
 * Every problem a {@link ServerGroup} would refuse these arguments for (beyond the name and
 * health checks of components/core/arguments.ts), for a component that wraps one and must refuse
 * before it registers itself.
 */
export function serverGroupProblems(name: string, args: ServerGroupArgs): string[] {
    return planServerGroup(name, args, groupNameOf(name, args), replacedDeleteFirst(args)).problems;
}

/**
 * Plans the members of a {@link ServerGroup} and finds what a cloud would refuse later: a load
 * balancer without a health check, hard anti-affinity on too few declared hosts, a release that
 * cannot be rendered, user data larger than Nova takes.
 */
function planServerGroup(
    name: string,
    args: ServerGroupArgs,
    groupName: string,
    deleteBeforeReplace: boolean,
): { members: MemberPlan[]; problems: string[] } {
    const problems: string[] = [];
    if (args.loadBalancer && !args.health) {
        problems.push("loadBalancer needs a health check (args.health)");
    }
    if (args.computeHosts !== undefined && Number.isSafeInteger(args.size) && args.size >= 0) {
        const batch = args.update?.batch ?? defaultBatch(args.size);
        const problem = spreadProblem({ size: args.size, spread: args.spread, batch, createBeforeDelete: !deleteBeforeReplace }, args.computeHosts);
        if (problem) {
            problems.push(`${problem.key} = ${problem.key === "size" ? args.size : "create-before-delete"}: ${problem.message}`);
        }
    }
    let members: MemberPlan[] = [];
    try {
        members = planMembers(name, {
            size: args.size,
            release: args.release,
            rollout: args.rollout,
            batch: args.update?.batch,
            securityGroupName: groupName,
            probes: args.probes,
        });
    } catch (err) {
        problems.push((err as Error).message.replace(`fleet "${name}": `, ""));
    }
    const checked = new Set<string>();
    for (const member of members) {
        if (!checked.has(member.generation)) {
            checked.add(member.generation);
            const encoded = encodedUserDataSize(member.userData);
            if (encoded > USER_DATA_MAX_ENCODED_BYTES) {
                problems.push(
                    `${member.current ? "release" : "rollout.previous"}.userData: ${encoded} bytes once base64-encoded with herd's additions; ` +
                        `Nova takes at most ${USER_DATA_MAX_ENCODED_BYTES}`,
                );
            }
        }
    }
    return { members, problems };
}
