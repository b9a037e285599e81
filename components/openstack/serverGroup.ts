import * as pulumi from "@pulumi/pulumi";
import type * as openstack from "@pulumi/openstack";
import { fleetNameProblems, refuseArguments, servingProblems } from "../core/arguments";
import type { HttpHealthCheck, TcpHealthCheck } from "../core/health";
import type { ProbeSpec } from "../monitoring/probe";
import { defaultBatch, Rollout } from "../rollout";
import { spreadProblem } from "./hosts";
import { encodedUserDataSize, USER_DATA_MAX_ENCODED_BYTES } from "./userData";
import { FAILED_CREATE, instanceInputs, isUuid, MemberPlan, planMembers, RELEASE_PROPERTIES, ServerRelease } from "./members";

/** An ingress rule of the fleet's security group. */
export interface IngressRule {
    /** Port the rule opens. */
    readonly port: number;
    /** @default "tcp" */
    readonly protocol?: "tcp" | "udp";
    /** Source range, e.g. `10.0.0.0/8`. */
    readonly cidr: string;
}

export type { CommandHealthCheck, HealthCheck, HttpHealthCheck, TcpHealthCheck } from "../core/health";

/** An Octavia load balancer in front of the fleet. */
export interface LoadBalancerArgs {
    /** Listener port. */
    readonly port: number;
    /** @default "HTTP" */
    readonly protocol?: "HTTP" | "HTTPS" | "TCP";
    /** Network of the VIP, name or ID (a UUID), plain or wired from another resource (`network.id`). @default the release's first network */
    readonly network?: pulumi.Input<string>;
}

/** A data volume per slot: state that outlives the members, so not cattle. */
export interface DataVolumeArgs {
    /** Size in GB. */
    readonly size: number;
    /** Cinder volume type. @default the cloud's default type */
    readonly type?: string;
}

/** Arguments of a {@link ServerGroup}. */
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

/** One member as the stack outputs show it. */
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
        const groupName = args.groupName ?? `herd-${name}`;
        // Everything is checked, and every member planned, before the component itself is
        // registered: a refused fleet leaves nothing behind, and says all that is wrong at once.
        const { members, problems } = planServerGroup(name, args, groupName, deleteBeforeReplace);
        refuseArguments("ServerGroup", name, [...fleetNameProblems(name), ...servingProblems(args), ...problems]);
        super("herd:openstack:ServerGroup", name, {}, opts);
        // The OpenStack SDK loads when a fleet uses it, not when herd is imported (a second or more).
        const openstack = require("@pulumi/openstack") as typeof import("@pulumi/openstack");
        this.members = members;
        this.generations = this.members.map((m) => m.generation);

        this.serverGroup = new openstack.compute.ServerGroup(
            `${name}-group`,
            { name: groupName, policies: [args.spread ?? "soft-anti-affinity"] },
            { parent: this },
        );
        this.securityGroup = new openstack.networking.SecGroup(
            `${name}-secgroup`,
            { name: groupName, description: `herd fleet ${name}` },
            { parent: this },
        );
        const ingress = args.ingress ?? (args.health ? [{ port: args.health.port, cidr: "0.0.0.0/0" }] : []);
        const rules = ingress.map((rule) => {
            const protocol = rule.protocol ?? "tcp";
            return new openstack.networking.SecGroupRule(
                `${name}-ingress-${protocol}-${rule.port}-${rule.cidr.replace(/[./]/g, "-")}`,
                {
                    securityGroupId: this.securityGroup.id,
                    direction: "ingress",
                    ethertype: "IPv4",
                    protocol,
                    portRangeMin: rule.port,
                    portRangeMax: rule.port,
                    remoteIpPrefix: rule.cidr,
                },
                { parent: this },
            );
        });

        let pool: openstack.loadbalancer.Pool | undefined;
        if (args.loadBalancer && args.health) {
            const lb = args.loadBalancer;
            const protocol = lb.protocol ?? "HTTP";
            const vipNetwork = lb.network ?? args.release.networks[0];
            const networkId = (network: string): pulumi.Output<string> =>
                isUuid(network) ? pulumi.output(network) : openstack.networking.getNetworkOutput({ name: network }, { parent: this }).id;
            // A network wired from another resource is looked up, if it is a name, once it is known.
            const vipNetworkId = typeof vipNetwork === "string" ? networkId(vipNetwork) : pulumi.output(vipNetwork).apply(networkId);
            this.loadBalancer = new openstack.loadbalancer.LoadBalancer(
                `${name}-lb`,
                { name: groupName, vipNetworkId },
                { parent: this },
            );
            const listener = new openstack.loadbalancer.Listener(
                `${name}-listener`,
                { name: groupName, loadbalancerId: this.loadBalancer.id, protocol, protocolPort: lb.port },
                { parent: this },
            );
            pool = new openstack.loadbalancer.Pool(
                `${name}-pool`,
                { name: groupName, listenerId: listener.id, protocol, lbMethod: "ROUND_ROBIN" },
                { parent: this },
            );
            new openstack.loadbalancer.Monitor(
                `${name}-monitor`,
                {
                    name: groupName,
                    poolId: pool.id,
                    // HTTP GETs the path; a TCP listener, or a check without a path, only connects.
                    type: protocol === "TCP" || args.health.path === undefined ? "TCP" : "HTTP",
                    ...(protocol === "TCP" || args.health.path === undefined ? {} : { urlPath: args.health.path, httpMethod: "GET", expectedCodes: "200" }),
                    delay: 5,
                    timeout: 3,
                    maxRetries: 3,
                },
                { parent: this },
            );
        }

        const instances: openstack.compute.Instance[] = [];
        const poolMembers: openstack.loadbalancer.Member[] = [];
        const volumes: openstack.blockstorage.Volume[] = [];
        let previousBatch: pulumi.Resource[] = rules;
        let currentBatch: pulumi.Resource[] = [];
        let batchIndex = 0;
        for (const member of this.members) {
            if (member.batch !== batchIndex) {
                previousBatch = currentBatch;
                currentBatch = [];
                batchIndex = member.batch;
            }
            const instance = new openstack.compute.Instance(
                member.resourceName,
                { ...instanceInputs(member, name, args.metadata), schedulerHints: [{ group: this.serverGroup.id }] },
                {
                    parent: this,
                    dependsOn: previousBatch,
                    replaceOnChanges: [...RELEASE_PROPERTIES, FAILED_CREATE],
                    replacementTrigger: member.generation,
                    deleteBeforeReplace,
                },
            );
            instances.push(instance);
            currentBatch.push(instance);
            if (args.volume) {
                // Named by slot, not generation: the same volume serves every release of the slot.
                const volume = new openstack.blockstorage.Volume(
                    `${member.resourceName}-data`,
                    {
                        name: `${member.resourceName}-data`,
                        size: args.volume.size,
                        ...(args.volume.type === undefined ? {} : { volumeType: args.volume.type }),
                        metadata: { "herd-fleet": name, "herd-slot": String(member.slot) },
                    },
                    { parent: this, protect: true, retainOnDelete: true },
                );
                volumes.push(volume);
                const attachment = new openstack.compute.VolumeAttach(
                    `${member.resourceName}-data`,
                    { instanceId: instance.id, volumeId: volume.id },
                    { parent: this, deleteBeforeReplace: true, replaceOnChanges: [FAILED_CREATE] },
                );
                currentBatch.push(attachment);
            }
            if (pool && args.health) {
                const poolMember = new openstack.loadbalancer.Member(
                    `${member.resourceName}-lb`,
                    {
                        name: member.serverName,
                        poolId: pool.id,
                        address: instance.accessIpV4,
                        protocolPort: args.health.port,
                        monitorPort: args.health.port,
                    },
                    { parent: this, replaceOnChanges: ["address", FAILED_CREATE], deleteBeforeReplace },
                );
                poolMembers.push(poolMember);
                currentBatch.push(poolMember);
            }
        }
        this.instances = instances;
        this.poolMembers = poolMembers;
        this.volumes = volumes;

        this.servers = pulumi
            .all(instances.map((instance) => instance.accessIpV4))
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
 * Plans the members of a {@link ServerGroup} and finds what a cloud would refuse later: a load
 * balancer without a health check, hard anti-affinity on too few declared hosts, a release that
 * cannot be rendered, user data larger than Nova takes.
 */
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
    return planServerGroup(name, args, args.groupName ?? `herd-${name}`, replacedDeleteFirst(args)).problems;
}

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
