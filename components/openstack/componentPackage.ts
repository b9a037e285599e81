/**
 * The OpenStack class of herd's component package (`herd:index:ServerGroup`), its arguments in the
 * package's vocabulary and their mapping onto the SDK's (see `fleet/componentPackage.ts`).
 */
import * as pulumi from "@pulumi/pulumi";
import { fleetNameProblems, refuseArguments, servingProblems } from "../core/arguments";
import { fleetProblems } from "../fleet/backends";
import {
    alertRulesOf,
    defined,
    type FleetAlerts,
    type HealthCheck,
    healthOf,
    outputProblems,
    type OutputPlaces,
    type Probe,
    probeSpecs,
    type Spread,
    type UpdatePolicy,
    watchedArgs,
} from "../fleet/componentPackage";
import { buildFleet } from "../fleet/fleet";
import type { OpenStackFleetArgs } from "./fleet";
import { type ServerGroupArgs, serverGroupProblems } from "./serverGroup";

/** Protocol of an ingress rule. */
export enum IngressProtocol {
    /** TCP. */
    Tcp = "tcp",
    /** UDP. */
    Udp = "udp",
}

/** Protocol of the load balancer's listener and pool. */
export enum LoadBalancerProtocol {
    /** HTTP, health-checked with a GET of the health path. */
    Http = "HTTP",
    /** HTTPS passed through to the members. */
    Https = "HTTPS",
    /** Plain TCP, health-checked with a TCP connect. */
    Tcp = "TCP",
}

/** What an OpenStack member runs. Any change to it replaces the member. */
export interface ServerRelease {
    /** Image ID (preferred: IDs do not move) or image name. */
    image: string;
    /** Flavor name, or flavor ID when it is a UUID. A flavor change replaces the member, never resizes it. */
    flavor: string;
    /** Networks the member is plugged into, in order: names or IDs, plain or wired from another resource (its ID). At least one. */
    networks: string[];
    /** Nova key pair name, plain or wired from another resource. Defaults to none. */
    keyPair?: string;
    /** Security group names added to the fleet's own group, plain or wired from another resource. Defaults to none. */
    securityGroups?: string[];
    /**
     * A `#cloud-config` document (the text). herd adds node_exporter and the release identity. May be a
     * secret or a rendered template: checked once it resolves, kept secret, and a new value replaces
     * the members. Defaults to an empty cloud-config.
     */
    userData?: string;
}

/** A rollout of an OpenStack fleet under way. */
export interface ServerRollout {
    /** The release the slots from `members` on still run. Required while `members` is below the size. */
    previous?: ServerRelease;
    /** How many slots (`0 … members-1`) already run `release`. */
    members: number;
}

/** An Octavia load balancer in front of an OpenStack fleet. */
export interface LoadBalancer {
    /** Listener port. */
    port: number;
    /** Defaults to `HTTP`. */
    protocol?: LoadBalancerProtocol;
    /** Network of the VIP, name or ID. Defaults to the release's first network. */
    network?: string;
}

/** A data volume per slot of an OpenStack fleet, kept across replacements of the slot's member. */
export interface DataVolume {
    /** Size in GB. */
    size: number;
    /** Cinder volume type. Defaults to the cloud's default type. */
    type?: string;
}

/** An ingress rule of an OpenStack fleet's security group. */
export interface IngressRule {
    /** Port the rule opens. */
    port: number;
    /** Defaults to `tcp`. */
    protocol?: IngressProtocol;
    /** Source range, e.g. `10.0.0.0/8`. */
    cidr: string;
}

/** One OpenStack member, as the outputs show it. */
export interface Server {
    /** The slot, `0 … size-1`. */
    slot: number;
    /** Server name, `<fleet>-<slot>-<generation>`. */
    name: string;
    /** Generation of the release it runs. */
    generation: string;
    /** IPv4 address. */
    ip: string;
}

/** Arguments of a {@link ServerGroup}. */
export interface ServerGroupComponentArgs {
    /** Number of slots (members). */
    size: number;
    /** The release new members run. */
    release: ServerRelease;
    /** A rollout under way: slots `0 … members-1` run `release`, the others `previous`. Defaults to none. */
    rollout?: ServerRollout;
    /** How replacements proceed within one `pulumi up`. */
    update?: UpdatePolicy;
    /** Nova server group policy. Defaults to `soft-anti-affinity`. */
    spread?: Spread;
    /** Health check of a serving fleet: `path` and `port` (HTTP) or `port` alone (TCP); a command is refused. Defaults to none. */
    health?: HealthCheck;
    /** Load balancer sending traffic only to healthy members; needs `health`. Defaults to none. */
    loadBalancer?: LoadBalancer;
    /** Ingress rules of the fleet's security group. Defaults to the health port from 0.0.0.0/0 when `health` is set. */
    ingress?: IngressRule[];
    /** Cloud-side name of the security group and server group. Defaults to `herd-<name>`. */
    groupName?: string;
    /** Extra Nova metadata on every member. Defaults to none. */
    metadata?: Record<string, string>;
    /** Probes every member runs, each with an alert of its own. Defaults to none. */
    probes?: Probe[];
    /** The fleet's default alerts. Defaults to `minHealthy` the size minus one update batch, `memberDownFor` 5m. */
    alerts?: FleetAlerts;
    /**
     * A Cinder volume per slot, attached to the slot's member and kept (protected, retained on
     * delete) when the member is replaced; members are then replaced delete-before-create.
     * Defaults to none.
     */
    volume?: DataVolume;
    /** Compute hosts the project can use: hard anti-affinity needing more is refused before anything is created. Defaults to unchecked. */
    computeHosts?: number;
}

/**
 * A server release's wired values: networks, key pair, security groups and user data, which the
 * SDK takes as Inputs (the generation holds a placeholder naming the place, and a new value
 * replaces the members).
 */
export const SERVER_OUTPUTS: OutputPlaces = {
    paths: /^(release|rollout\.previous)\.(networks\[\d+\]|keyPair|securityGroups\[\d+\]|userData)$/,
    allowed: "only a release's networks, keyPair, securityGroups and userData may be Outputs",
};

/** The TypeScript SDK's {@link ServerGroupArgs} for a {@link ServerGroupComponentArgs}. */
export function serverGroupArgs(args: ServerGroupComponentArgs): ServerGroupArgs {
    return defined({
        size: args.size,
        release: defined({ ...args.release }),
        rollout: args.rollout && defined({ members: args.rollout.members, previous: args.rollout.previous && defined({ ...args.rollout.previous }) }),
        update: args.update && defined({ ...args.update }),
        spread: args.spread,
        // servingProblems refuses a command: Octavia checks servers from outside.
        health: healthOf(args.health) as ServerGroupArgs["health"],
        loadBalancer: args.loadBalancer && defined({ ...args.loadBalancer }),
        ingress: args.ingress?.map((rule) => defined({ ...rule })),
        groupName: args.groupName,
        metadata: args.metadata,
        probes: probeSpecs(args.probes),
        volume: args.volume && defined({ ...args.volume }),
        computeHosts: args.computeHosts,
    });
}

/**
 * A fleet of interchangeable OpenStack VMs: one instance per slot, spread by a Nova server group,
 * replaced (never patched) whenever its release changes, in batches, optionally behind an Octavia
 * load balancer with an HTTP or TCP health monitor; monitored from birth: its probes run on every member,
 * and its default and probe alerts are in {@link ServerGroup.alertRules}.
 */
export class ServerGroup extends pulumi.ComponentResource {
    /** Name, generation and IPv4 address of every member, by slot. */
    readonly servers: pulumi.Output<Server[]>;
    /** Generation per slot. */
    readonly generations: pulumi.Output<string[]>;
    /** The load balancer's VIP, when there is one. */
    readonly loadBalancerAddress: pulumi.Output<string | undefined>;
    /** The fleet's alerts, as a Prometheus rule file for the Prometheus that scrapes its members. */
    readonly alertRules: pulumi.Output<string>;

    constructor(name: string, args: ServerGroupComponentArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before this component registers: a refused fleet leaves nothing behind.
        const problems = [...fleetNameProblems(name), ...outputProblems(args, SERVER_OUTPUTS)];
        const fleetArgs: OpenStackFleetArgs = { backend: "openstack", ...serverGroupArgs(args), ...watchedArgs(args) };
        refuseArguments(
            "herd:index:ServerGroup",
            name,
            problems.length > 0 ? problems : [...servingProblems(args), ...fleetProblems(name, fleetArgs), ...serverGroupProblems(name, serverGroupArgs(args))],
        );
        super("herd:index:ServerGroup", name, {}, opts);
        const fleet = buildFleet(name, fleetArgs, { parent: this });
        this.servers = fleet.workload.servers.apply((servers) => servers.map((server) => ({ ...server })));
        this.generations = pulumi.output([...fleet.workload.generations]);
        this.loadBalancerAddress = fleet.workload.loadBalancerAddress;
        this.alertRules = alertRulesOf(fleet);
        this.registerOutputs({ servers: this.servers, generations: this.generations, loadBalancerAddress: this.loadBalancerAddress, alertRules: this.alertRules });
    }
}
