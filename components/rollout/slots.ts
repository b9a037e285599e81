/** A fleet's rollout: slots `0 … members-1` run the new release, the others the previous one. */
export interface Rollout<R> {
    /** The release the remaining slots still run. Not needed once `members` reaches the size. */
    readonly previous?: R;
    /** How many slots already run the new release. */
    readonly members: number;
}

/** The release one slot runs. */
export interface SlotRelease<R> {
    readonly slot: number;
    readonly release: R;
    /** `true` when the slot runs the fleet's new release, `false` when it still runs `previous`. */
    readonly current: boolean;
}

/**
 * Assigns each slot of a fleet its release. Slot `i` runs `release` when `i < rollout.members`,
 * else `rollout.previous`; the assignment depends only on the slot number, so promoting from
 * 1 to 10 members changes slots 1–9 and nothing else.
 *
 * @throws RangeError when `size` or `members` is not a whole number ≥ 0, or when a slot
 * would need `previous` and there is none.
 */
export function assignSlots<R>(size: number, release: R, rollout?: Rollout<R>): SlotRelease<R>[] {
    if (!Number.isSafeInteger(size) || size < 0) {
        throw new RangeError(`size must be a whole number ≥ 0, got ${size}`);
    }
    const members = rollout ? rollout.members : size;
    if (!Number.isSafeInteger(members) || members < 0) {
        throw new RangeError(`rollout.members must be a whole number ≥ 0, got ${members}`);
    }
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
    if (!Number.isSafeInteger(batch) || batch < 1) {
        throw new RangeError(`update.batch must be a whole number ≥ 1, got ${batch}`);
    }
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
