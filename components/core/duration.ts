/**
 * Durations as herd's config and commands write them: a whole number and one unit, `30s`, `5m`,
 * `2h`, `3d`. One parser for every place that reads one (probe schedules, gate windows, the
 * timeline's `--since`), each saying which units it takes; each place says in its own words what
 * it allows.
 */

/** A unit of a duration. */
export type DurationUnit = "s" | "m" | "h" | "d";

/** A duration, parsed. */
export interface Duration {
    /** The number, as written. */
    readonly amount: number;
    /** Its unit. */
    readonly unit: DurationUnit;
    /** The whole duration in seconds. */
    readonly seconds: number;
}

const UNIT_SECONDS: Readonly<Record<DurationUnit, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * `text` as a duration in one of `units`, with at most `maxDigits` digits; `undefined` when it is
 * not one (a value of another type, another unit, a fraction, a sign, a space, two units).
 */
export function parseDuration(text: unknown, units: readonly DurationUnit[] = ["s", "m", "h"], maxDigits = 15): Duration | undefined {
    if (typeof text !== "string") {
        return undefined;
    }
    const match = new RegExp(`^(\\d{1,${maxDigits}})([smhd])$`).exec(text);
    const unit = match?.[2] as DurationUnit | undefined;
    if (!match || unit === undefined || !units.includes(unit)) {
        return undefined;
    }
    const amount = Number(match[1]);
    return { amount, unit, seconds: amount * UNIT_SECONDS[unit] };
}
