import type * as pulumi from "@pulumi/pulumi";
import type * as openstack from "@pulumi/openstack";
import type { ChildSpec } from "./children";
import { FAILED_CREATE, instanceInputs, MemberPlan, RELEASE_PROPERTIES } from "./members";
import type { ServerGroupArgs } from "./serverGroup";

/** The Nova server group (`${name}-group`) spreading the members over hypervisors. */
export function serverGroupSpec(
    name: string,
    groupName: string,
    spread: ServerGroupArgs["spread"],
): ChildSpec<openstack.compute.ServerGroupArgs> {
    return {
        resourceName: `${name}-group`,
        args: { name: groupName, policies: [spread ?? "soft-anti-affinity"] },
        opts: {},
    };
}

/**
 * A member's server, in the Nova server group: replaced, never patched, when anything of its
 * release changes (the generation is its replacement trigger) or when its create failed.
 *
 * @param metadata the fleet's extra Nova metadata (herd's own keys win)
 * @param serverGroupId the ID of the fleet's Nova server group (see {@link serverGroupSpec})
 * @param deleteBeforeReplace whether the slot's old server goes before the new one is created
 */
export function instanceSpec(
    fleet: string,
    member: MemberPlan,
    metadata: ServerGroupArgs["metadata"],
    serverGroupId: pulumi.Input<string>,
    deleteBeforeReplace: boolean,
): ChildSpec<openstack.compute.InstanceArgs> {
    return {
        resourceName: member.resourceName,
        args: { ...instanceInputs(member, fleet, metadata), schedulerHints: [{ group: serverGroupId }] },
        opts: {
            replaceOnChanges: [...RELEASE_PROPERTIES, FAILED_CREATE],
            replacementTrigger: member.generation,
            deleteBeforeReplace,
        },
    };
}
