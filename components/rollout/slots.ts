import { requireWholeNumber } from "./wholeNumber";

/**
 * A fleet's rollout: slots `0 … members-1` run the new release, the others the previous one.
 *
 * @group Releases and rollouts
 */
export interface Rollout<R> {
    /** The release the remaining slots still run. Not needed once `members` reaches the size. @default none */
    readonly previous?: R;
    /** How many slots already run the new release, from 0 to the fleet's size. */
    readonly members: number;
}

/**
 * The release one slot runs.
 *
 * @group Releases and rollouts
 */
export interface SlotRelease<R> {
    /** The slot number, `0 … size-1`. */
    readonly slot: number;
    /** The release it runs. */
    readonly release: R;
    /** `true` when the slot runs the fleet's new release, `false` when it still runs `previous`. */
    readonly current: boolean;
}

/**
 * How many slots run the fleet's new release: `rollout.members`, or every slot when no rollout
 * is under way.
 *
 * @throws RangeError when `size` or `members` is not a whole number ≥ 0, or `members` > `size`
 */
export function membersOnRelease(size: number, rollout?: { readonly members: number }): number {
    requireWholeNumber("size", size);
    if (!rollout) {
        return size;
    }
    requireWholeNumber("rollout.members", rollout.members);
    if (rollout.members > size) {
        throw new RangeError(`rollout.members must be at most size (${size}), got ${rollout.members}`);
    }
    return rollout.members;
}

/**
 * Assigns each slot of a fleet its release. Slot `i` runs `release` when `i < rollout.members`,
 * else `rollout.previous`. The assignment depends only on the slot number and `members`, never on
 * the releases themselves, so promoting from 1 to 10 members changes slots 1–9 and nothing else,
 * and rolling back changes only the slots that leave `release`.
 *
 * @throws RangeError when `size` or `members` is not a whole number ≥ 0, when `members` > `size`,
 * or when a slot would need `previous` and there is none.
 *
 * @group Releases and rollouts
 */
export function assignSlots<R>(size: number, release: R, rollout?: Rollout<R>): SlotRelease<R>[] {
    const members = membersOnRelease(size, rollout);
    const previous = rollout?.previous;
    if (members < size && previous === undefined) {
        throw new RangeError(`rollout.previous is required while rollout.members (${members}) < size (${size})`);
    }
    const slots: SlotRelease<R>[] = new Array(size);
    for (let slot = 0; slot < size; slot++) {
        const current = slot < members;
        slots[slot] = { slot, release: current ? release : (previous as R), current };
    }
    return slots;
}

/**
 * Splits slots `0 … size-1` into update batches of `batch` slots each, in slot order. Members of
 * batch k+1 wait for batch k (`dependsOn`), so a failing batch stops the ones after it.
 */
export function batchesOf(size: number, batch: number): number[][] {
    requireWholeNumber("update.batch", batch, 1);
    const batches: number[][] = [];
    for (let start = 0; start < size; start += batch) {
        batches.push(Array.from({ length: Math.min(batch, size - start) }, (_, i) => start + i));
    }
    return batches;
}

/** The default batch size: a quarter of the fleet, rounded up, at least 1 (like Kubernetes' 25% surge). */
export function defaultBatch(size: number): number {
    return Math.max(1, Math.ceil(size / 4));
}
