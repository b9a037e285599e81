import * as pulumi from "@pulumi/pulumi";
import { formatProblem, formatValue } from "../config/errors";
import { parseIpv4Cidr } from "../config/grammar";
import { FLEET_NAME } from "../config/schema";
import { isPort } from "../release/container";
import { healthProblems } from "./health";

/**
 * Checks of a component's arguments given in code, with the grammar and words of the stack
 * config's checks (values shown as its messages show them, see `formatValue`): a program that
 * builds a fleet itself gets the same refusal for the same value as a stack file would, before
 * anything is registered.
 */

/**
 * The problem of a fleet's name given in code, if any: it goes into cloud-side names, labels, a
 * metrics file and messages, so it takes the stack config's fleet-name grammar.
 */
export function fleetNameProblems(name: string): string[] {
    return FLEET_NAME.test(name)
        ? []
        : [`name = ${formatValue(name)}: expected a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters`];
}

/** What a port is, in words. */
const PORT_ALLOWED = "a port, 1–65535";

/**
 * One line per problem of a health check (HTTP `{ path, port }`, TCP `{ port }` or
 * `{ command }`), each naming `key`, in the words of the stack config's check.
 *
 * @param health the check, `undefined` when there is none
 * @param key how messages name it, e.g. `health`
 * @param commands whether the backend can run a command in its members; `false` on OpenStack
 */
export function healthCheckProblems(health: unknown, key = "health", commands = true): string[] {
    if (health === undefined) {
        return [];
    }
    return healthProblems(health, commands).map((problem) => formatProblem({ ...problem, path: [key, ...problem.path] }));
}

/**
 * One line per problem of an OpenStack fleet's serving settings given in code: its health check
 * (HTTP or TCP: Octavia cannot run a command in a server), the port of its load balancer, and
 * its ingress rules (port, protocol, an IPv4 range parsed as the stack config's is; no rule
 * twice). The load balancer's health monitor sends `health.path` as it is.
 */
export function servingProblems(args: {
    readonly health?: unknown;
    readonly loadBalancer?: { readonly port: number };
    readonly ingress?: readonly { readonly port: number; readonly protocol?: string; readonly cidr: string }[];
}): string[] {
    const problems = healthCheckProblems(args.health, "health", false);
    if (args.loadBalancer && !isPort(args.loadBalancer.port)) {
        problems.push(`loadBalancer.port = ${formatValue(args.loadBalancer.port)}: expected ${PORT_ALLOWED}`);
    }
    const seen = new Map<string, number>();
    (args.ingress ?? []).forEach((rule, i) => {
        // Two equal rules would be two resources of one name.
        const same = JSON.stringify([rule.protocol ?? "tcp", rule.port, rule.cidr]);
        const first = seen.get(same);
        if (first !== undefined) {
            problems.push(`ingress[${i}] = ${formatValue(rule)}: expected a rule that ingress[${first}] does not give already`);
        }
        seen.set(same, first ?? i);
        if (!isPort(rule.port)) {
            problems.push(`ingress[${i}].port = ${formatValue(rule.port)}: expected ${PORT_ALLOWED}`);
        }
        if (rule.protocol !== undefined && rule.protocol !== "tcp" && rule.protocol !== "udp") {
            problems.push(`ingress[${i}].protocol = ${formatValue(rule.protocol)}: expected tcp | udp`);
        }
        const cidr = parseIpv4Cidr(rule.cidr);
        if (typeof cidr === "string") {
            problems.push(`ingress[${i}].cidr = ${formatValue(rule.cidr)}: expected an IPv4 CIDR such as 10.0.0.0/8; this one: ${cidr}`);
        }
    });
    return problems;
}

/**
 * Throws one error listing every problem of a component's arguments, naming the component and
 * the fleet: `ServerGroup "web": invalid arguments:` then a line per problem. It is a
 * `RunError`, so `pulumi up` prints the message alone, without a stack trace.
 */
export function refuseArguments(component: string, name: string, problems: readonly string[]): void {
    if (problems.length > 0) {
        throw new pulumi.RunError(`${component} ${JSON.stringify(name)}: invalid arguments:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
}
