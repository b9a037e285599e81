import * as pulumi from "@pulumi/pulumi";
import type * as openstack from "@pulumi/openstack";
import type { HttpHealthCheck, TcpHealthCheck } from "../core/health";
import type { ChildSpec } from "./children";
import { FAILED_CREATE, isUuid, MemberPlan } from "./members";
import type { ServerGroupArgs } from "./serverGroup";

/** What a fleet's Octavia load balancer, listener, pool, health monitor and pool members are built from. */
export interface LoadBalancerPlan {
    /** The fleet's name: Pulumi names are `${fleet}-lb`, `${fleet}-listener`… */
    readonly fleet: string;
    /** Cloud-side name of the load balancer, listener, pool and monitor. */
    readonly groupName: string;
    /** Protocol of the listener and pool. */
    readonly protocol: "HTTP" | "HTTPS" | "TCP";
    /** Listener port. */
    readonly port: number;
    /** Network of the VIP, name or ID, plain or wired from another resource. */
    readonly vipNetwork: pulumi.Input<string>;
    /** The check the monitor runs on every member, whose port the pool sends traffic to. */
    readonly health: HttpHealthCheck | TcpHealthCheck;
}

/**
 * The plan of a fleet's load balancer, or `undefined` when it has none: one needs both
 * `loadBalancer` and `health` (the arguments' checks refuse the first without the second).
 * Protocol `HTTP` and the release's first network unless given.
 */
export function planLoadBalancer(
    fleet: string,
    groupName: string,
    args: Pick<ServerGroupArgs, "loadBalancer" | "health" | "release">,
): LoadBalancerPlan | undefined {
    const lb = args.loadBalancer;
    if (!lb || !args.health) {
        return undefined;
    }
    return {
        fleet,
        groupName,
        protocol: lb.protocol ?? "HTTP",
        port: lb.port,
        vipNetwork: lb.network ?? args.release.networks[0],
        health: args.health,
    };
}

/**
 * The ID of a network given by name or ID: a UUID is an ID already; a name is looked up, and a
 * value wired from another resource is looked up, if it is a name, once it is known.
 *
 * @param byName looks a network up by name (the component's `getNetworkOutput`)
 */
export function networkId(network: pulumi.Input<string>, byName: (name: string) => pulumi.Output<string>): pulumi.Output<string> {
    const idOf = (known: string): pulumi.Output<string> => (isUuid(known) ? pulumi.output(known) : byName(known));
    return typeof network === "string" ? idOf(network) : pulumi.output(network).apply(idOf);
}

/** The load balancer (`${fleet}-lb`), its VIP on the given network. */
export function loadBalancerSpec(plan: LoadBalancerPlan, vipNetworkId: pulumi.Input<string>): ChildSpec<openstack.loadbalancer.LoadBalancerArgs> {
    return { resourceName: `${plan.fleet}-lb`, args: { name: plan.groupName, vipNetworkId }, opts: {} };
}

/** The listener (`${fleet}-listener`) on the load balancer's port. */
export function listenerSpec(plan: LoadBalancerPlan, loadbalancerId: pulumi.Input<string>): ChildSpec<openstack.loadbalancer.ListenerArgs> {
    return {
        resourceName: `${plan.fleet}-listener`,
        args: { name: plan.groupName, loadbalancerId, protocol: plan.protocol, protocolPort: plan.port },
        opts: {},
    };
}

/** The pool (`${fleet}-pool`) behind the listener, round robin over the members. */
export function poolSpec(plan: LoadBalancerPlan, listenerId: pulumi.Input<string>): ChildSpec<openstack.loadbalancer.PoolArgs> {
    return {
        resourceName: `${plan.fleet}-pool`,
        args: { name: plan.groupName, listenerId, protocol: plan.protocol, lbMethod: "ROUND_ROBIN" },
        opts: {},
    };
}

/**
 * The pool's health monitor (`${fleet}-monitor`), every 5 s: an HTTP check GETs its path and
 * wants 200; a TCP listener, or a check without a path, only connects.
 */
export function monitorSpec(plan: LoadBalancerPlan, poolId: pulumi.Input<string>): ChildSpec<openstack.loadbalancer.MonitorArgs> {
    const connectOnly = plan.protocol === "TCP" || plan.health.path === undefined;
    return {
        resourceName: `${plan.fleet}-monitor`,
        args: {
            name: plan.groupName,
            poolId,
            type: connectOnly ? "TCP" : "HTTP",
            ...(connectOnly ? {} : { urlPath: plan.health.path, httpMethod: "GET", expectedCodes: "200" }),
            delay: 5,
            timeout: 3,
            maxRetries: 3,
        },
        opts: {},
    };
}

/**
 * A member's place in the pool (`${fleet}-${slot}-lb`), named as its server: traffic and checks go
 * to the health port of the server's address. A new address (a new occupant of the slot) or a
 * failed create replaces it.
 *
 * @param address the server's IPv4 address
 * @param deleteBeforeReplace as the member's server
 */
export function poolMemberSpec(
    plan: LoadBalancerPlan,
    member: MemberPlan,
    poolId: pulumi.Input<string>,
    address: pulumi.Input<string>,
    deleteBeforeReplace: boolean,
): ChildSpec<openstack.loadbalancer.MemberArgs> {
    return {
        resourceName: `${member.resourceName}-lb`,
        args: {
            name: member.serverName,
            poolId,
            address,
            protocolPort: plan.health.port,
            monitorPort: plan.health.port,
        },
        opts: { replaceOnChanges: ["address", FAILED_CREATE], deleteBeforeReplace },
    };
}
