import { requireWholeNumber } from "./wholeNumber";

/**
 * The default wave schedule: one member, then ten, then the whole fleet.
 *
 * @group Releases and rollouts
 */
export const DEFAULT_WAVES: readonly number[] = Object.freeze([1, 10]);

/**
 * The member counts a rollout stops at, ending with the whole fleet: the `waves` below `size`,
 * then `size`. For 12 slots and the default waves that is `[1, 10, 12]`; for 5 slots `[1, 5]`;
 * for an empty fleet `[]`.
 *
 * @throws RangeError when `size` is not a whole number ≥ 0 or `waves` is not strictly ascending
 * whole numbers ≥ 1
 *
 * @group Releases and rollouts
 */
export function waveSchedule(size: number, waves: readonly number[] = DEFAULT_WAVES): number[] {
    requireWholeNumber("size", size);
    waves.forEach((wave, i) => {
        requireWholeNumber(`rollout.waves[${i}]`, wave, 1);
        if (i > 0 && wave <= waves[i - 1]) {
            throw new RangeError(`rollout.waves must be strictly ascending, got [${waves.join(", ")}]`);
        }
    });
    return size === 0 ? [] : [...waves.filter((wave) => wave < size), size];
}

/**
 * The next number of members on the new release: the first stop of the {@link waveSchedule}
 * above `members` (1 → 10 → size with the default waves). `undefined` once every slot runs the
 * release: there is no next wave.
 *
 * @throws RangeError when `members` is not a whole number from 0 to `size`, or the waves are invalid
 *
 * @group Releases and rollouts
 */
export function nextWave(size: number, members: number, waves: readonly number[] = DEFAULT_WAVES): number | undefined {
    const schedule = waveSchedule(size, waves);
    requireWholeNumber("rollout.members", members);
    if (members > size) {
        throw new RangeError(`rollout.members must be at most size (${size}), got ${members}`);
    }
    return schedule.find((stop) => stop > members);
}

/**
 * The wave (counted from 1) in which a slot moves to the new release: slot 0 in wave 1, slots
 * 1–9 in wave 2 and the rest in wave 3 with the default waves.
 *
 * @throws RangeError when `slot` is not one of `0 … size-1`, or the waves are invalid
 */
export function waveOf(slot: number, size: number, waves: readonly number[] = DEFAULT_WAVES): number {
    const schedule = waveSchedule(size, waves);
    requireWholeNumber("slot", slot);
    if (slot >= size) {
        throw new RangeError(`slot must be below size (${size}), got ${slot}`);
    }
    return schedule.findIndex((stop) => slot < stop) + 1;
}

/**
 * The slots whose release changes when the number of members on the new release goes from
 * `from` to `to`: slots `from … to-1` move to the release when promoting, slots `to … from-1`
 * go back to the previous release when rolling back. Every other slot is left alone.
 */
export function slotsBetween(from: number, to: number): number[] {
    requireWholeNumber("from", from);
    requireWholeNumber("to", to);
    const low = Math.min(from, to);
    return Array.from({ length: Math.abs(to - from) }, (_, i) => low + i);
}
