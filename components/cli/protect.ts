import { PROTECTED_KEY } from "../config/validate";

/** What the protection rule needs of a fleet, before and after a change: the release each slot runs. */
export interface FleetSlots {
    readonly size: number;
    /** How many slots run `release`. */
    readonly members: number;
    /** The member counts its rollout stops at, ending with the size (e.g. `[1, 10, 12]`). */
    readonly waves: readonly number[];
    /** Slot by slot, in order: what each runs (a generation, or any string that is equal for equal releases). */
    readonly slots: readonly { readonly generation: string | null }[];
    /** What `release` and `previous` are, as the slots show them; `null` when no slot runs it. */
    readonly generations: { readonly release: string | null; readonly previous: string | null };
}

/** A change a protected stack refuses. */
export interface Refusal {
    readonly fleet: string;
    /** The slots that would change release at once. */
    readonly slots: readonly number[];
    /** One line: what moves, what is allowed, which command does it safely. */
    readonly message: string;
}

function slotRange(slots: readonly number[]): string {
    return slots.length === 1 ? `slot ${slots[0]}` : `slots ${slots[0]}–${slots[slots.length - 1]}`;
}

/**
 * The rule of a protected stack (`herd:protected: true`) for one fleet: a change may move at most
 * the first wave of slots to a release they did not run; moving on through the same rollout goes
 * one wave at a time (`herd promote`), and going back (`herd rollback`) is always allowed. A new
 * fleet, a fleet that grows or shrinks, and a change that moves no slot are not its business.
 *
 * Pure, and blind to where the slots come from: `herd plan` gives the generations the program
 * registers (so an edited cloud-init file counts), the policy pack the releases of the config.
 *
 * @returns the refusal, or `undefined` when the change is allowed
 */
export function protectionRefusal(fleet: string, stack: string, before: FleetSlots | undefined, after: FleetSlots): Refusal | undefined {
    if (!before) {
        return undefined;
    }
    const slots: number[] = [];
    for (let slot = 0; slot < Math.min(before.size, after.size); slot++) {
        if (before.slots[slot]?.generation !== after.slots[slot]?.generation) {
            slots.push(slot);
        }
    }
    if (slots.length === 0) {
        return undefined;
    }
    const first = after.waves[0] ?? 0;
    // Back to the previous release: the slots that leave the release return to what the others run.
    const rollingBack =
        after.members < before.members &&
        before.generations.previous !== null &&
        slots.every((slot) => before.slots[slot].generation === before.generations.release && after.slots[slot].generation === before.generations.previous);
    if (rollingBack) {
        return undefined;
    }
    const release = after.generations.release;
    if (release !== null && release === before.generations.release) {
        const next = before.waves.find((wave) => wave > before.members) ?? before.size;
        const promoting = slots.every((slot) => after.slots[slot].generation === release);
        if (promoting && after.members <= next) {
            return undefined;
        }
        if (promoting && slots.length > first) {
            return {
                fleet,
                slots,
                message:
                    `fleet ${fleet}: ${slots.length} slots (${slotRange(slots)}) move to its release at once, ${before.members} → ${after.members}, past the next wave (${next}): ` +
                    `a protected stack (${PROTECTED_KEY}: true) goes one wave at a time: \`herd promote ${fleet} --stack ${stack}\``,
            };
        }
    }
    if (slots.length <= first) {
        return undefined;
    }
    return {
        fleet,
        slots,
        message:
            `fleet ${fleet}: a new release reaches ${slots.length} of ${after.size} slots at once (${slotRange(slots)}), more than the first wave (${first}): ` +
            `in a protected stack (${PROTECTED_KEY}: true) start it with \`herd release ${fleet} --stack ${stack}\`, which moves ${first === 1 ? "slot 0" : `slots 0–${first - 1}`} first, then \`herd promote\` wave by wave`,
    };
}
