/**
 * Whether a fleet with hard anti-affinity fits on the compute hosts it may use. Nova places at
 * most one member of an `anti-affinity` server group per host, and it counts every server still
 * in the group: a replacement created before its predecessor is deleted needs a host of its own.
 * A fleet that cannot fit is refused before any server exists, instead of leaving servers in
 * ERROR with "No valid host was found".
 */

/** What the check reads of a fleet. */
export interface SpreadInput {
    /** Number of members. */
    readonly size: number;
    /** The server group policy. @default "soft-anti-affinity" */
    readonly spread?: "anti-affinity" | "soft-anti-affinity";
    /** Members replaced together (the update batch). */
    readonly batch: number;
    /** Whether replacements are created before their predecessors are deleted. */
    readonly createBeforeDelete: boolean;
}

/** Why a fleet does not fit, and what would make it fit. */
export interface SpreadProblem {
    /** The key that is at fault: `size` (more members than hosts) or `update.order` (the surge). */
    readonly key: "size" | "update.order";
    /** Hosts the fleet needs at its peak. */
    readonly needed: number;
    /** One sentence: the arithmetic and the ways out. */
    readonly message: string;
}

/**
 * Hosts a fleet with hard anti-affinity needs at its peak: one per member, plus one per member of
 * a replacement batch when replacements are created before the members they replace are deleted.
 * `0` for soft anti-affinity, which Nova satisfies on any number of hosts.
 */
export function hostsNeeded(input: SpreadInput): number {
    if (input.spread !== "anti-affinity" || input.size === 0) {
        return 0;
    }
    return input.size + (input.createBeforeDelete ? Math.min(input.batch, input.size) : 0);
}

/** The problem of a fleet with hard anti-affinity on `hosts` compute hosts, or `undefined` when it fits. */
export function spreadProblem(input: SpreadInput, hosts: number): SpreadProblem | undefined {
    const needed = hostsNeeded(input);
    if (needed <= hosts) {
        return undefined;
    }
    if (input.size > hosts) {
        return {
            key: "size",
            needed,
            message:
                `spread anti-affinity places at most one member per compute host: ${input.size} members need ${input.size} hosts, ` +
                `the cloud has ${hosts}; use spread: soft-anti-affinity, a size of at most ${hosts}, or declare the hosts the cloud really has`,
        };
    }
    return {
        key: "update.order",
        needed,
        message:
            `spread anti-affinity with create-before-delete needs a host for every replacement while the member it replaces still holds one: ` +
            `${input.size} members + a batch of ${Math.min(input.batch, input.size)} = ${needed} hosts, the cloud has ${hosts}; ` +
            `use update.order: delete-before-create${hosts - input.size >= 1 ? `, update.batch: ${hosts - input.size}` : ""} or spread: soft-anti-affinity`,
    };
}
