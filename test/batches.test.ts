import { expect } from "chai";
import fc from "fast-check";
import { buildInBatches } from "../components/core";
import { batchesOf } from "../components/rollout";

/** Members as a plan gives them: slot order, batch by batch. */
function planned(size: number, batch: number): { slot: number; batch: number }[] {
    return batchesOf(size, batch).flatMap((slots, index) => slots.map((slot) => ({ slot, batch: index })));
}

/** What each member waited for, by slot, when every member gives back the names in `parts`. */
function waits(members: { slot: number; batch: number }[], parts: readonly string[], first?: readonly string[]): string[][] {
    return buildInBatches(
        members,
        (member, dependsOn) => ({ slot: member.slot, dependsOn }),
        (built) => parts.map((part) => `${part}${built.slot}`),
        first,
    ).map((built) => built.dependsOn);
}

describe("buildInBatches", () => {
    const table: { title: string; members: { slot: number; batch: number }[]; parts: string[]; first?: string[]; expected: string[][] }[] = [
        {
            title: "batch k+1 waits for every member of batch k, the first batch for nothing",
            members: planned(5, 2),
            parts: ["server-"],
            expected: [[], [], ["server-0", "server-1"], ["server-0", "server-1"], ["server-2", "server-3"]],
        },
        {
            title: "the first batch waits for what it is given, later batches no longer do",
            members: planned(3, 1),
            parts: ["server-"],
            first: ["rule-80"],
            expected: [["rule-80"], ["server-0"], ["server-1"]],
        },
        {
            title: "the next batch waits for everything a member gave back, in slot order",
            members: planned(4, 2),
            parts: ["server-", "attachment-", "pool-member-"],
            expected: [
                [],
                [],
                ["server-0", "attachment-0", "pool-member-0", "server-1", "attachment-1", "pool-member-1"],
                ["server-0", "attachment-0", "pool-member-0", "server-1", "attachment-1", "pool-member-1"],
            ],
        },
        {
            title: "one batch of the whole fleet: every member waits for the first things only",
            members: planned(3, 3),
            parts: ["server-"],
            first: ["rule-22"],
            expected: [["rule-22"], ["rule-22"], ["rule-22"]],
        },
        { title: "an empty fleet builds nothing", members: [], parts: ["server-"], first: ["rule-80"], expected: [] },
    ];
    for (const { title, members, parts, first, expected } of table) {
        it(title, () => {
            expect(waits(members, parts, first)).to.deep.equal(expected);
        });
    }

    it("returns what was built, in the order of the members", () => {
        const built = buildInBatches(planned(4, 3), (member) => `container-${member.slot}`, (name) => [name]);
        expect(built).to.deep.equal(["container-0", "container-1", "container-2", "container-3"]);
    });

    it("gives each member a list of its own: a member that changes it changes no other's", () => {
        const lists = buildInBatches(
            planned(4, 2),
            (member, dependsOn) => {
                dependsOn.push(`own-${member.slot}`);
                return { slot: member.slot, dependsOn };
            },
            (built) => [`server-${built.slot}`],
            ["rule-80"],
        ).map((built) => built.dependsOn);
        expect(lists).to.deep.equal([
            ["rule-80", "own-0"],
            ["rule-80", "own-1"],
            ["server-0", "server-1", "own-2"],
            ["server-0", "server-1", "own-3"],
        ]);
    });

    it("for any fleet and batch size, each member waits for exactly the batch before its own", () => {
        fc.assert(
            fc.property(fc.nat({ max: 40 }), fc.integer({ min: 1, max: 12 }), (size, batch) => {
                const members = planned(size, batch);
                waits(members, ["server-"]).forEach((dependsOn, slot) => {
                    const before = members.filter((m) => m.batch === members[slot].batch - 1).map((m) => `server-${m.slot}`);
                    expect(dependsOn).to.deep.equal(before);
                });
            }),
        );
    });
});
