/**
 * What the policy pack (`policy/`) asks a backend about one of its fleets, read from the
 * resources the fleet's component registered: how many members it has, whether they are spread
 * over hosts, whether the serving ones are health-checked, how many run a new release. Each
 * backend's `policy.ts` answers; the pack's stack policies go through the fleet registry.
 */

/**
 * A resource as a policy pack sees it (structurally, `@pulumi/policy`'s `PolicyResource`).
 *
 * @group Backends
 */
export interface PolicyResourceView {
    /** Its type token. */
    readonly type: string;
    /** Its name. */
    readonly name: string;
    /** Its URN. */
    readonly urn: string;
    /** Its inputs as the engine has them. */
    readonly props: Record<string, unknown>;
    /** Its parent, if any. */
    readonly parent?: {
        /** The parent's URN. */
        readonly urn: string;
    };
}

/**
 * A fleet as a policy pack sees it: its component and the resources directly under it.
 *
 * @group Backends
 */
export interface PolicyFleet {
    /** The fleet's component (`herd:openstack:ServerGroup`…). */
    readonly component: PolicyResourceView;
    /** The resources whose parent is the component. */
    readonly children: readonly PolicyResourceView[];
}

/**
 * A broken rule: its message, and the resource to report it on (the fleet's component when absent).
 *
 * @group Backends
 */
export interface PolicyViolation {
    /** What is wrong and what to do, naming the fleet. */
    readonly message: string;
    /** The URN to report it on. @default the fleet's component */
    readonly urn?: string;
}

/**
 * One backend's answers to the policy pack's fleet rules.
 *
 * @group Backends
 */
export interface FleetPolicy {
    /** The type of the backend's fleet component, whose direct children make up a fleet. */
    readonly componentType: string;
    /** How many members the fleet has, counted on its resources. */
    members(fleet: PolicyFleet): number;
    /**
     * Why the fleet's members are not spread over hosts (herd-fleet-redundancy), in order.
     *
     * @param computeHosts the compute hosts the cloud has, when the pack's config says
     */
    spreadViolations(fleet: PolicyFleet, computeHosts: number | undefined): PolicyViolation[];
    /**
     * Why the fleet serves without a health check taking failing members out (herd-health-checked).
     *
     * @param monitoringPorts ports that do not make a fleet a serving one (node_exporter's)
     */
    healthViolations(fleet: PolicyFleet, monitoringPorts: readonly number[]): PolicyViolation[];
    /**
     * How many members run the new release, counted on what the program registered: the release
     * holds the lowest slots (first-wave-small).
     *
     * @param members `rollout.members` as the stack config gives it (0 when absent)
     */
    membersOnNewRelease(fleet: PolicyFleet, members: number): number;
}

/** How a policy message names a fleet: `fleet "web" (herd:openstack:ServerGroup)`. */
export function fleetLabel(fleet: PolicyFleet): string {
    return `fleet "${fleet.component.name}" (${fleet.component.type})`;
}

/** The resources of one type among `resources`. */
export function resourcesOfType(resources: readonly PolicyResourceView[], type: string): PolicyResourceView[] {
    return resources.filter((r) => r.type === type);
}

/**
 * Members on the new release of a fleet with a member per slot, each labelled with its slot and
 * generation (`labelsOf`): when two generations run, those on slot 0's; when one does, all of
 * them unless `members` is 0 (a policy sees the new state only, not the old one).
 */
export function slotMembersOnNewRelease(
    members: readonly PolicyResourceView[],
    labelsOf: (member: PolicyResourceView) => { readonly slot?: string; readonly generation?: string },
    onRelease: number,
): number {
    const slots = members
        .map((member) => {
            const labels = labelsOf(member);
            return { slot: Number(labels.slot), generation: labels.generation };
        })
        .sort((a, b) => a.slot - b.slot);
    if (slots.length === 0) {
        return 0;
    }
    const onSlotZero = slots.filter((s) => s.generation === slots[0].generation).length;
    return onSlotZero === slots.length && onRelease === 0 ? 0 : onSlotZero;
}
