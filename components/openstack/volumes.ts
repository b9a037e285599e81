import type * as pulumi from "@pulumi/pulumi";
import type * as openstack from "@pulumi/openstack";
import type { ChildSpec } from "./children";
import { FAILED_CREATE, MemberPlan } from "./members";
import type { DataVolumeArgs } from "./serverGroup";

/**
 * A slot's data volume, `${fleet}-${slot}-data` on both sides: named by slot, not generation, so
 * the same volume serves every release of the slot. It is `protect`ed and `retainOnDelete`: data
 * is not cattle.
 */
export function volumeSpec(fleet: string, member: MemberPlan, volume: DataVolumeArgs): ChildSpec<openstack.blockstorage.VolumeArgs> {
    return {
        resourceName: `${member.resourceName}-data`,
        args: {
            name: `${member.resourceName}-data`,
            size: volume.size,
            ...(volume.type === undefined ? {} : { volumeType: volume.type }),
            metadata: { "herd-fleet": fleet, "herd-slot": String(member.slot) },
        },
        opts: { protect: true, retainOnDelete: true },
    };
}

/**
 * The attachment of a slot's volume to whoever occupies the slot. A volume attaches to one server
 * at a time, so the old attachment goes before the new one is made; one whose create failed is
 * made again on the next `pulumi up`.
 */
export function attachmentSpec(
    member: MemberPlan,
    instanceId: pulumi.Input<string>,
    volumeId: pulumi.Input<string>,
): ChildSpec<openstack.compute.VolumeAttachArgs> {
    return {
        resourceName: `${member.resourceName}-data`,
        args: { instanceId, volumeId },
        opts: { deleteBeforeReplace: true, replaceOnChanges: [FAILED_CREATE] },
    };
}
