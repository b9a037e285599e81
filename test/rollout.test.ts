import { expect } from "chai";
import fc from "fast-check";
import { generationOf } from "../components/release";
import { assignSlots, DEFAULT_WAVES, membersOnRelease, nextWave, SlotRelease, slotsBetween, waveOf, waveSchedule } from "../components/rollout";

const RELEASE = { image: "debian-12-web-2026.11.20", flavor: "b3-8" };
const PREVIOUS = { image: "debian-12-web-2026.11.01", flavor: "b3-8" };

/** A fleet with a rollout under way: a size and a number of members on the new release. */
const fleet = fc.nat({ max: 120 }).chain((size) => fc.record({ size: fc.constant(size), members: fc.nat({ max: size }) }));

/** Two member counts of the same fleet, `low` ≤ `high`: promoting goes up from one to the other, rolling back down. */
const twoSteps = fc
    .nat({ max: 120 })
    .chain((size) => fc.tuple(fc.constant(size), fc.nat({ max: size }), fc.nat({ max: size })))
    .map(([size, a, b]) => ({ size, low: Math.min(a, b), high: Math.max(a, b) }));

/** A wave schedule as a stack file may give it: strictly ascending whole numbers ≥ 1. */
const waves = fc.uniqueArray(fc.integer({ min: 1, max: 150 }), { maxLength: 5 }).map((w) => [...w].sort((a, b) => a - b));

function changedSlots<R>(before: SlotRelease<R>[], after: SlotRelease<R>[]): number[] {
    return before.filter((slot, i) => slot.release !== after[i].release || slot.current !== after[i].current).map((s) => s.slot);
}

/** The same JSON value with the keys of every object in another order. */
function reordered(value: unknown): fc.Arbitrary<unknown> {
    if (Array.isArray(value)) {
        return fc.tuple(...value.map(reordered));
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value).map(([key, inner]) => reordered(inner).map((v) => [key, v] as const));
        return fc
            .tuple(...entries)
            .chain((pairs) => fc.shuffledSubarray(pairs, { minLength: pairs.length, maxLength: pairs.length }))
            .map((pairs) => Object.fromEntries(pairs));
    }
    return fc.constant(value);
}

const releasePair = fc
    .dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1, maxKeys: 8 })
    .chain((release) => fc.tuple(fc.constant(release), reordered(release)));

describe("rollout model", () => {
    describe("assignSlots (properties over random fleets)", () => {
        it("runs the release on exactly `members` slots, 0 … members-1, and previous on the rest", () => {
            fc.assert(
                fc.property(fleet, ({ size, members }) => {
                    const slots = assignSlots(size, RELEASE, { members, previous: PREVIOUS });
                    expect(slots).to.have.length(size);
                    expect(slots.filter((s) => s.current)).to.have.length(members);
                    slots.forEach((s, i) => {
                        expect(s.slot).to.equal(i);
                        expect(s.current).to.equal(i < members);
                        expect(s.release).to.equal(s.current ? RELEASE : PREVIOUS);
                    });
                }),
            );
        });

        it("promoting never changes a slot that already ran the release, and changes exactly slots from … to-1", () => {
            fc.assert(
                fc.property(twoSteps, ({ size, low: from, high: to }) => {
                    const before = assignSlots(size, RELEASE, { members: from, previous: PREVIOUS });
                    const after = assignSlots(size, RELEASE, { members: to, previous: PREVIOUS });
                    before.filter((s) => s.current).forEach((s) => expect(after[s.slot]).to.deep.equal(s));
                    expect(changedSlots(before, after)).to.deep.equal(slotsBetween(from, to));
                }),
            );
        });

        it("rolling back only touches slots that leave the release", () => {
            fc.assert(
                fc.property(twoSteps, ({ size, high: from, low: to }) => {
                    const before = assignSlots(size, RELEASE, { members: from, previous: PREVIOUS });
                    const after = assignSlots(size, RELEASE, { members: to, previous: PREVIOUS });
                    const changed = changedSlots(before, after);
                    changed.forEach((slot) => {
                        expect(before[slot]).to.include({ current: true, release: RELEASE });
                        expect(after[slot]).to.include({ current: false, release: PREVIOUS });
                    });
                    expect(changed).to.deep.equal(slotsBetween(from, to));
                }),
            );
        });

        it("runs the release on every slot when there is no rollout, or when members reached the size", () => {
            fc.assert(
                fc.property(fc.nat({ max: 120 }), (size) => {
                    for (const slots of [assignSlots(size, RELEASE), assignSlots(size, RELEASE, { members: size })]) {
                        expect(slots).to.have.length(size);
                        expect(slots.every((s) => s.current && s.release === RELEASE)).to.equal(true);
                    }
                }),
            );
        });

        it("gives the same generations whatever the key order of the releases", () => {
            fc.assert(
                fc.property(fleet, releasePair, releasePair, ({ size, members }, [release, shuffledRelease], [previous, shuffledPrevious]) => {
                    const generations = (r: unknown, p: unknown) =>
                        assignSlots(size, r, { members, previous: p }).map((s) => generationOf(s.release));
                    expect(generations(shuffledRelease, shuffledPrevious)).to.deep.equal(generations(release, previous));
                }),
            );
        });

        it("refuses members outside 0 … size and a missing previous", () => {
            expect(() => assignSlots(3, RELEASE, { members: 4, previous: PREVIOUS })).to.throw(
                RangeError,
                "rollout.members must be at most size (3), got 4",
            );
            expect(() => assignSlots(3, RELEASE, { members: -1, previous: PREVIOUS })).to.throw(RangeError, "got -1");
            expect(() => assignSlots(3, RELEASE, { members: 1.5, previous: PREVIOUS })).to.throw(RangeError, "got 1.5");
            expect(() => assignSlots(3, RELEASE, { members: 1 })).to.throw(RangeError, "rollout.previous is required");
            expect(() => assignSlots(-1, RELEASE)).to.throw(RangeError, "size must be a whole number ≥ 0, got -1");
        });
    });

    describe("waves", () => {
        it("goes 1 → 10 → all by default, and has no next wave once every slot runs the release", () => {
            const table: [size: number, members: number, next: number | undefined][] = [
                [12, 0, 1],
                [12, 1, 10],
                [12, 5, 10],
                [12, 10, 12],
                [12, 12, undefined],
                [1000, 10, 1000],
                [5, 1, 5],
                [1, 0, 1],
                [1, 1, undefined],
                [0, 0, undefined],
            ];
            for (const [size, members, next] of table) {
                expect(nextWave(size, members), `size ${size}, members ${members}`).to.equal(next);
            }
            expect(DEFAULT_WAVES).to.deep.equal([1, 10]);
        });

        it("clamps the waves to the size", () => {
            expect(waveSchedule(12)).to.deep.equal([1, 10, 12]);
            expect(waveSchedule(10)).to.deep.equal([1, 10]);
            expect(waveSchedule(5)).to.deep.equal([1, 5]);
            expect(waveSchedule(0)).to.deep.equal([]);
            expect(waveSchedule(100, [5, 25, 50])).to.deep.equal([5, 25, 50, 100]);
            expect(waveSchedule(100, [])).to.deep.equal([100]);
        });

        it("numbers each slot's wave from 1", () => {
            expect(Array.from({ length: 12 }, (_, slot) => waveOf(slot, 12))).to.deep.equal([1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3]);
            expect(() => waveOf(12, 12)).to.throw(RangeError, "slot must be below size (12), got 12");
        });

        it("refuses waves that are not strictly ascending whole numbers ≥ 1, and members above the size", () => {
            expect(() => waveSchedule(12, [10, 1])).to.throw(RangeError, "rollout.waves must be strictly ascending, got [10, 1]");
            expect(() => waveSchedule(12, [0, 10])).to.throw(RangeError, "rollout.waves[0] must be a whole number ≥ 1, got 0");
            expect(() => nextWave(12, 13)).to.throw(RangeError, "rollout.members must be at most size (12), got 13");
        });

        it("promotes through the schedule, wave by wave, to the whole fleet (properties)", () => {
            fc.assert(
                fc.property(fc.nat({ max: 200 }), waves, (size, schedule) => {
                    const stops: number[] = [];
                    for (let members: number | undefined = 0; (members = nextWave(size, members, schedule)) !== undefined; ) {
                        stops.push(members);
                    }
                    expect(stops).to.deep.equal(waveSchedule(size, schedule));
                    expect(stops.length).to.be.at.most(schedule.length + 1);
                    if (size > 0) {
                        expect(stops[stops.length - 1]).to.equal(size);
                    }
                    stops.slice(0, -1).forEach((stop) => expect(schedule).to.include(stop));
                    stops.forEach((stop, i) => {
                        const from = i === 0 ? 0 : stops[i - 1];
                        // Wave i+1 is exactly the slots this promotion moves to the release.
                        for (const slot of slotsBetween(from, stop)) {
                            expect(waveOf(slot, size, schedule)).to.equal(i + 1);
                        }
                    });
                    expect(nextWave(size, size, schedule)).to.equal(undefined);
                }),
            );
        });

        it("counts every slot as on the release when there is no rollout", () => {
            expect(membersOnRelease(7)).to.equal(7);
            expect(membersOnRelease(7, { members: 3 })).to.equal(3);
        });
    });
});
