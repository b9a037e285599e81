/** @throws RangeError naming `what` when `value` is not a whole number ≥ `min`. */
export function requireWholeNumber(what: string, value: number, min = 0): void {
    if (!Number.isSafeInteger(value) || value < min) {
        throw new RangeError(`${what} must be a whole number ≥ ${min}, got ${value}`);
    }
}
