import { assignSlots, DEFAULT_WAVES, membersOnRelease, nextWave, waveOf, waveSchedule } from "../rollout";
import type { RecordedResource } from "../testing";
import { Action, Change, diffMembers, membersOf } from "./diff";
import { protectionRefusal, Refusal } from "./protect";

/** What a plan needs of a fleet's config: where it runs, its size and its rollout. */
export interface PlannedFleet {
    readonly backend: string;
    readonly size: number;
    readonly rollout?: { readonly members: number; readonly waves?: readonly number[] };
}

/** One slot of a fleet in the evaluated state. */
export interface SlotPlan {
    readonly slot: number;
    /** The generation its member runs; `null` when the program registered no member for it. */
    readonly generation: string | null;
    /** Whether it runs the fleet's `release` or still `rollout.previous`. */
    readonly runs: "release" | "previous";
    /** The rollout wave (counted from 1) in which the slot moves to a new release. */
    readonly wave: number;
}

/** A fleet in the evaluated state, and what would change in it. */
export interface FleetPlan {
    readonly name: string;
    readonly backend: string;
    readonly size: number;
    /** How many slots run `release` (`rollout.members`, or `size` with no rollout). */
    readonly members: number;
    /** The member counts a rollout stops at, ending with the size (e.g. `[1, 10, 12]`). */
    readonly waves: readonly number[];
    /** The member count `herd promote` goes to next; `null` when every slot runs `release`. */
    readonly nextWave: number | null;
    /** Generations of `release` and `rollout.previous`, as the slots that run them show; `null` when no slot does. */
    readonly generations: { readonly release: string | null; readonly previous: string | null };
    readonly slots: readonly SlotPlan[];
    /** Members of this fleet that would be created, replaced, updated or deleted. */
    readonly changes: readonly Change[];
}

/** What `herd plan` reports. */
export interface Plan {
    readonly stack: string;
    /** The git revision the stack file is compared with, as given, and whether the file exists there. */
    readonly against: { readonly revision: string; readonly found: boolean };
    /** The stack's fleets, in the stack file's order. */
    readonly fleets: readonly FleetPlan[];
    /** Every change, fleets that no longer exist included, by fleet, batch and slot. */
    readonly changes: readonly Change[];
    readonly summary: Readonly<Record<Action, number>>;
    /** Whether the stack is protected (`herd:protected: true`) before or after the change. */
    readonly protected: boolean;
    /** What a protected stack refuses in this change (see {@link protectionRefusal}); empty elsewhere. */
    readonly refusals: readonly Refusal[];
}

/** What a plan is built from: the evaluated state's fleets and two evaluations of the program. */
export interface PlanInput {
    readonly stack: string;
    readonly against: { readonly revision: string; readonly found: boolean };
    /** The validated fleets of the evaluated state. */
    readonly fleets: Readonly<Record<string, PlannedFleet>>;
    /** What the program registered for the evaluated state. */
    readonly current: readonly RecordedResource[];
    /** What it registered for the compared revision; empty when the stack file does not exist there. */
    readonly previous: readonly RecordedResource[];
    /** The fleets of the compared revision. @default none */
    readonly previousFleets?: Readonly<Record<string, PlannedFleet>>;
    /** Whether the stack is protected, before or after. @default false */
    readonly protected?: boolean;
}

/** Each fleet's slots as one evaluation shows them: the generation each runs, and its wave. */
function fleetViews(fleets: Readonly<Record<string, PlannedFleet>>, resources: readonly RecordedResource[]): Omit<FleetPlan, "changes">[] {
    const members = membersOf(resources);
    const bySlot = new Map(members.filter((m) => m.slot !== null).map((m) => [`${m.fleet}\0${m.slot}`, m.generation]));
    const byRole = new Map(members.filter((m) => m.role !== null).map((m) => [`${m.fleet}\0${m.role}`, m.generation]));
    // Members that are groups of pods (Kubernetes) have no slot: the canary runs the release
    // while there is one, and the stable group runs every other slot.
    const generationOf = (fleet: string, slot: number, runs: "release" | "previous"): string | null =>
        bySlot.get(`${fleet}\0${slot}`) ??
        (runs === "release" ? byRole.get(`${fleet}\0canary`) : undefined) ??
        byRole.get(`${fleet}\0stable`) ??
        null;
    return Object.entries(fleets).map(([name, fleet]) => {
        const waves = fleet.rollout?.waves ?? DEFAULT_WAVES;
        const onRelease = membersOnRelease(fleet.size, fleet.rollout);
        const slots = assignSlots<"release" | "previous">(fleet.size, "release", fleet.rollout && { members: onRelease, previous: "previous" }).map(
            ({ slot, release }) => ({
                slot,
                generation: generationOf(name, slot, release),
                runs: release,
                wave: waveOf(slot, fleet.size, waves),
            }),
        );
        return {
            name,
            backend: fleet.backend,
            size: fleet.size,
            members: onRelease,
            waves: waveSchedule(fleet.size, waves),
            nextWave: nextWave(fleet.size, onRelease, waves) ?? null,
            generations: {
                release: slots.find((s) => s.runs === "release")?.generation ?? null,
                previous: slots.find((s) => s.runs === "previous")?.generation ?? null,
            },
            slots,
        };
    });
}

/** Builds the plan from two evaluations of the program. Pure: same input, same plan. */
export function buildPlan(input: PlanInput): Plan {
    const changes = diffMembers(input.previous, input.current);
    const fleets = fleetViews(input.fleets, input.current).map((fleet): FleetPlan => ({ ...fleet, changes: changes.filter((c) => c.fleet === fleet.name) }));
    const summary = { create: 0, replace: 0, update: 0, delete: 0 };
    changes.forEach((c) => summary[c.action]++);
    const isProtected = input.protected === true;
    const before = new Map(fleetViews(input.previousFleets ?? {}, input.previous).map((fleet) => [fleet.name, fleet]));
    const refusals = isProtected
        ? fleets.flatMap((fleet) => protectionRefusal(fleet.name, input.stack, before.get(fleet.name), fleet) ?? [])
        : [];
    return { stack: input.stack, against: input.against, fleets, changes, summary, protected: isProtected, refusals };
}

/** `0`, `1–9`: one slot, or consecutive slots as a range. */
function slotRange(first: number, last: number): string {
    return first === last ? `${first}` : `${first}–${last}`;
}

/** Groups consecutive items that share a key and whose slots follow each other. */
function runs<T>(items: readonly T[], key: (item: T) => string, slot: (item: T) => number | null): T[][] {
    const groups: T[][] = [];
    for (const item of items) {
        const group = groups[groups.length - 1];
        const last = group?.[group.length - 1];
        const lastSlot = last === undefined ? null : slot(last);
        const itemSlot = slot(item);
        if (last !== undefined && key(last) === key(item) && lastSlot !== null && itemSlot === lastSlot + 1) {
            group.push(item);
        } else {
            groups.push([item]);
        }
    }
    return groups;
}

function table(rows: readonly (readonly string[])[], indent: string): string[] {
    const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => [...row[column]].length)));
    return rows.map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i] - [...cell].length))).join("  "));
}

function plural(count: number, word: string): string {
    return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function fleetHeadline(fleet: FleetPlan): string {
    const { release, previous } = fleet.generations;
    const state =
        fleet.size === 0
            ? "no slots"
            : fleet.members === fleet.size
              ? `all ${plural(fleet.size, "slot")} on release ${release ?? "?"}`
              : `${fleet.members}/${fleet.size} slots on release ${release ?? "(none yet)"}, ${fleet.size - fleet.members} on previous ${previous ?? "?"}`;
    const waves = fleet.waves.length > 0 ? `; waves ${fleet.waves.join(" → ")}` : "";
    const next = fleet.nextWave === null ? "" : `, next ${fleet.nextWave}`;
    return `${fleet.name} (${fleet.backend}): ${state}${waves}${next}`;
}

function changeLines(changes: readonly Change[], indent: string): string[] {
    return table(changeRows(changes), indent);
}

/** Changes grouped into rows: batch, action, the slots (or members) and the generations. */
function changeRows(changes: readonly Change[]): string[][] {
    const groups = runs(
        changes,
        (c) => `${c.batch}\0${c.action}\0${c.fleet}\0${c.generation.before}\0${c.generation.after}`,
        (c) => c.slot,
    );
    return groups.map((group) => {
        const first = group[0];
        const last = group[group.length - 1];
        const what =
            first.slot !== null && last.slot !== null
                ? `${group.length === 1 ? "slot" : "slots"} ${slotRange(first.slot, last.slot)}`
                : group.map((c) => c.name).join(", ");
        const generations =
            first.action === "create"
                ? `→ ${first.generation.after ?? "?"}`
                : first.action === "delete"
                  ? `${first.generation.before ?? "?"} →`
                  : `${first.generation.before ?? "?"} → ${first.generation.after ?? "?"}`;
        return [`batch ${first.batch}`, first.action, what, generations];
    });
}

function summaryText(summary: Plan["summary"]): string {
    const updates = summary.update > 0 ? `, ${summary.update} to update in place` : "";
    return `${summary.create} to create, ${summary.replace} to replace${updates}, ${summary.delete} to delete`;
}

/** A fleet as people read it: its headline, its slots by range, and (with `changes`) what would change, batch by batch. */
export function formatFleet(fleet: FleetPlan, changes: boolean): string[] {
    const lines = [fleetHeadline(fleet)];
    if (fleet.slots.length > 0) {
        const groups = runs(fleet.slots, (s) => `${s.generation}\0${s.runs}\0${s.wave}`, (s) => s.slot);
        lines.push(
            ...table(
                [
                    ["slots", "generation", "runs", "wave"],
                    ...groups.map((g) => [slotRange(g[0].slot, g[g.length - 1].slot), g[0].generation ?? "-", g[0].runs, `${g[0].wave}`]),
                ],
                "  ",
            ),
        );
    }
    if (changes) {
        lines.push(fleet.changes.length === 0 ? "  no change" : `  changes: ${plural(fleet.changes.length, "member")}`);
        if (fleet.changes.length > 0) {
            lines.push(...changeLines(fleet.changes, "    "));
        }
    }
    return lines;
}

/** The plan as people read it: per fleet, its slots by range and what would change, batch by batch. */
export function formatPlan(plan: Plan, stackFileName: string): string {
    const against = plan.against.found
        ? `${stackFileName} against ${plan.against.revision}`
        : `${stackFileName} against ${plan.against.revision}, where it does not exist: every member is created`;
    const lines = [`Stack ${plan.stack}${plan.protected ? " (protected)" : ""}: ${against}`];
    for (const fleet of plan.fleets) {
        lines.push("", ...formatFleet(fleet, true));
    }
    const known = new Set(plan.fleets.map((f) => f.name));
    const removed = plan.changes.filter((c) => c.fleet === null || !known.has(c.fleet));
    for (const fleet of [...new Set(removed.map((c) => c.fleet))]) {
        const changes = removed.filter((c) => c.fleet === fleet);
        lines.push("", `${fleet ?? "(no fleet)"}: no longer in the stack`, `  changes: ${plural(changes.length, "member")}`, ...changeLines(changes, "    "));
    }
    lines.push(
        "",
        plan.changes.length === 0
            ? `No changes against ${plan.against.revision}.`
            : `Plan against ${plan.against.revision}: ${summaryText(plan.summary)}.`,
    );
    if (plan.refusals.length > 0) {
        lines.push("", `Refused: stack ${plan.stack} is protected, and this change moves more than a wave at once:`, ...plan.refusals.map((r) => `  - ${r.message}`));
    }
    return lines.join("\n") + "\n";
}

/** Text in a Markdown table cell: pipes escaped, code in backticks. */
function cell(text: string): string {
    return text.replace(/\|/g, "\\|");
}

function code(text: string | null): string {
    return text === null ? "–" : `\`${text}\``;
}

function markdownTable(rows: readonly (readonly string[])[]): string[] {
    return [
        `| ${rows[0].map(cell).join(" | ")} |`,
        `| ${rows[0].map(() => "---").join(" | ")} |`,
        ...rows.slice(1).map((row) => `| ${row.map(cell).join(" | ")} |`),
    ];
}

/**
 * The plan as Markdown, for a pull request comment: a heading per stack, a table of each fleet's
 * slots and one of its changes, batch by batch, and a caution block with what a protected stack
 * refuses. GitHub and GitLab render it alike.
 */
export function formatPlanMarkdown(plan: Plan, stackFileName: string): string {
    const against = plan.against.found ? `against \`${plan.against.revision}\`` : `against \`${plan.against.revision}\`, where it does not exist: every member is created`;
    const lines = [`### herd plan: stack \`${plan.stack}\`${plan.protected ? " (protected)" : ""}`, "", `\`${stackFileName}\` ${against}.`];
    if (plan.refusals.length > 0) {
        lines.push(
            "",
            "> [!CAUTION]",
            `> **Refused**: stack \`${plan.stack}\` is protected, and this change moves more than a wave at once.`,
            ...plan.refusals.map((r) => `> - ${r.message}`),
        );
    }
    for (const fleet of plan.fleets) {
        lines.push("", `#### ${fleetHeadline(fleet)}`);
        if (fleet.slots.length > 0) {
            const groups = runs(fleet.slots, (s) => `${s.generation}\0${s.runs}\0${s.wave}`, (s) => s.slot);
            lines.push("", ...markdownTable([["slots", "generation", "runs", "wave"], ...groups.map((g) => [slotRange(g[0].slot, g[g.length - 1].slot), code(g[0].generation), g[0].runs, `${g[0].wave}`])]));
        }
        lines.push("", fleet.changes.length === 0 ? "No change." : `**Changes: ${plural(fleet.changes.length, "member")}**`);
        if (fleet.changes.length > 0) {
            lines.push("", ...markdownTable([["batch", "action", "members", "generation"], ...changeRows(fleet.changes).map(([batch, action, what, generations]) => [batch.replace("batch ", ""), action, what, generations])]));
        }
    }
    const known = new Set(plan.fleets.map((f) => f.name));
    const removed = plan.changes.filter((c) => c.fleet === null || !known.has(c.fleet));
    for (const fleet of [...new Set(removed.map((c) => c.fleet))]) {
        const changes = removed.filter((c) => c.fleet === fleet);
        lines.push("", `#### ${fleet ?? "(no fleet)"}: no longer in the stack`, "", ...markdownTable([["batch", "action", "members", "generation"], ...changeRows(changes).map(([batch, action, what, generations]) => [batch.replace("batch ", ""), action, what, generations])]));
    }
    lines.push(
        "",
        plan.changes.length === 0
            ? `**No changes against \`${plan.against.revision}\`.**`
            : `**Plan against \`${plan.against.revision}\`: ${summaryText(plan.summary)}.**`,
    );
    return lines.join("\n") + "\n";
}
