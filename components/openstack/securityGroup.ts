import type * as pulumi from "@pulumi/pulumi";
import type * as openstack from "@pulumi/openstack";
import type { ChildSpec } from "./children";
import type { IngressRule, ServerGroupArgs } from "./serverGroup";

/** The fleet's ingress rules: the ones given, else the health port open to all when there is a health check, else none. */
export function ingressRules(args: Pick<ServerGroupArgs, "ingress" | "health">): readonly IngressRule[] {
    return args.ingress ?? (args.health ? [{ port: args.health.port, cidr: "0.0.0.0/0" }] : []);
}

/** The fleet's own security group (`${name}-secgroup`), which every member joins and the ingress rules fill. */
export function securityGroupSpec(name: string, groupName: string): ChildSpec<openstack.networking.SecGroupArgs> {
    return {
        resourceName: `${name}-secgroup`,
        args: { name: groupName, description: `herd fleet ${name}` },
        opts: {},
    };
}

/**
 * One rule per ingress rule of the fleet (see {@link ingressRules}), each named by what it opens
 * (`${name}-ingress-tcp-80-0-0-0-0-0`), so a rule keeps its name whatever the others are.
 *
 * @param securityGroupId the ID of the fleet's security group (see {@link securityGroupSpec})
 */
export function ingressRuleSpecs(
    name: string,
    args: Pick<ServerGroupArgs, "ingress" | "health">,
    securityGroupId: pulumi.Input<string>,
): ChildSpec<openstack.networking.SecGroupRuleArgs>[] {
    return ingressRules(args).map((rule) => {
        const protocol = rule.protocol ?? "tcp";
        return {
            resourceName: `${name}-ingress-${protocol}-${rule.port}-${rule.cidr.replace(/[./]/g, "-")}`,
            args: {
                securityGroupId,
                direction: "ingress",
                ethertype: "IPv4",
                protocol,
                portRangeMin: rule.port,
                portRangeMax: rule.port,
                remoteIpPrefix: rule.cidr,
            },
            opts: {},
        };
    });
}
