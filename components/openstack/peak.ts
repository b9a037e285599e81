/**
 * What a change of OpenStack fleets needs at its peak — servers, vCPUs, RAM, and compute hosts
 * for hard anti-affinity — depending on how it is applied. The Pulumi engine deletes the
 * resources it replaced at the end of the whole `pulumi up`, so under a plain `pulumi up` every
 * member replaced create-before-delete is still alive when the last replacement is created: the
 * fleet holds its old members and all their replacements at once. `herd apply` runs a targeted
 * `up` per batch instead, which deletes a batch's old members before the next batch starts: the
 * peak is one batch extra. Pure: tested without a cloud, used by `herd plan`, `herd apply` and
 * the program.
 */
import type { FleetSlots, SlotGeneration } from "../fleet/batches";

/** How a change is applied: one plain `pulumi up`, or `herd apply`'s targeted `up` per batch then a final `up`. */
export type ApplyMode = "up" | "batches";

/** What one server of a flavor takes from the project's quota. */
export interface FlavorSize {
    /** Virtual CPUs. */
    readonly vcpus: number;
    /** RAM in MB. */
    readonly ramMB: number;
}

/** One server of a slot: the generation it runs and its flavor (name or ID, as the release gives it). */
export interface SlotServer extends SlotGeneration {
    /** The flavor, name or ID. */
    readonly flavor: string;
}

/** One fleet's change: the servers it has now (the deployed state, or the config the change starts from) and the slots the config wants. */
export interface FleetChange extends FleetSlots {
    readonly before: readonly SlotServer[];
    readonly after: readonly SlotServer[];
    /** Whether a replacement is created before the member it replaces is deleted. */
    readonly createBeforeDelete: boolean;
    /** Whether the fleet's server group is `anti-affinity` (one member per host). */
    readonly antiAffinity: boolean;
}

/** Servers, and vCPUs and RAM where every flavor's size is known. */
export interface Usage {
    readonly servers: number;
    /** `undefined` when a flavor's size is unknown. */
    readonly vcpus?: number;
    /** `undefined` when a flavor's size is unknown. */
    readonly ramMB?: number;
}

/** What a change needs at its peak. */
export interface Peak extends Usage {
    /** How the change is applied. */
    readonly mode: ApplyMode;
    /** What the fleets hold now. */
    readonly now: Usage;
    /** The largest number of servers one fleet's server group holds at once, by fleet. */
    readonly fleetServers: Readonly<Record<string, number>>;
    /** Compute hosts the hard anti-affinity fleets need: the most servers one such group holds at once; 0 without one. */
    readonly hosts: number;
    /** The hard anti-affinity fleet that needs {@link hosts}, when there is one. */
    readonly hostsFleet?: string;
}

type Vector = [servers: number, vcpus: number, ramMB: number];
const ZERO: Vector = [0, 0, 0];
const add = (a: Vector, b: Vector): Vector => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const max = (a: Vector, b: Vector): Vector => [Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.max(a[2], b[2])];
const sum = (vectors: readonly Vector[]): Vector => vectors.reduce(add, ZERO);

/** A fleet's slots sorted out: kept, replaced, created (the size grows), removed (it shrinks). */
interface Slots {
    readonly kept: readonly Vector[];
    readonly removed: readonly Vector[];
    readonly created: readonly Vector[];
    /** Old and new server of each replaced slot, in slot order. */
    readonly replaced: readonly { readonly before: Vector; readonly after: Vector }[];
}

/**
 * The phases a fleet goes through, each as what it holds at its fullest, from which the peaks
 * are taken: `alone` is the fleet's own peak under `mode`; `done` what it holds once its
 * replacements are applied but before the final `up`; `before` what it holds now.
 */
function fleetPhases(change: FleetChange, mode: ApplyMode, size: (flavor: string) => Vector): { before: Vector; done: Vector; alone: Vector; final: Vector } {
    const before = new Map(change.before.map((s) => [s.slot, s]));
    const after = new Map(change.after.map((s) => [s.slot, s]));
    const slots: Slots = {
        kept: change.after.filter((s) => before.get(s.slot)?.generation === s.generation).map((s) => size(s.flavor)),
        removed: change.before.filter((s) => !after.has(s.slot)).map((s) => size(s.flavor)),
        created: change.after.filter((s) => !before.has(s.slot)).map((s) => size(s.flavor)),
        replaced: change.after
            .filter((s) => before.has(s.slot) && before.get(s.slot)?.generation !== s.generation)
            .sort((a, b) => a.slot - b.slot)
            .map((s) => ({ before: size((before.get(s.slot) as SlotServer).flavor), after: size(s.flavor) })),
    };
    const now = sum(change.before.map((s) => size(s.flavor)));
    const batch = Math.max(1, change.batch);
    // A replaced slot holds both servers with create-before-delete, else one at a time (the larger, to be safe).
    const during = (r: Slots["replaced"][number]) => (change.createBeforeDelete ? add(r.before, r.after) : max(r.before, r.after));
    const base = add(sum(slots.kept), sum(slots.removed));
    if (mode === "up") {
        // One `up`: removed members and replaced ones (create-before-delete) go at its very end.
        const alone = add(add(base, sum(slots.created)), sum(slots.replaced.map(during)));
        return { before: now, done: now, alone, final: alone };
    }
    // Targeted `up`s, one per batch of replaced slots: batch j holds the new servers of the
    // batches before it, both servers of its own, the old servers of the batches after it.
    let alone = now;
    for (let start = 0; start < slots.replaced.length; start += batch) {
        const applied = slots.replaced.slice(0, start).map((r) => r.after);
        const current = slots.replaced.slice(start, start + batch).map(during);
        const waiting = slots.replaced.slice(start + batch).map((r) => r.before);
        alone = max(alone, add(base, sum([...applied, ...current, ...waiting])));
    }
    const done = add(base, sum(slots.replaced.map((r) => r.after)));
    // The final `up` creates the new slots; removed members go at its end.
    const final = add(done, sum(slots.created));
    return { before: now, done, alone: max(alone, final), final };
}

/**
 * What the change of `fleets` needs at its peak when applied by `mode`.
 *
 * Under `up`, everything happens in one `pulumi up`: the fleets' peaks add up. Under `batches`,
 * `herd apply` moves one fleet at a time, batch by batch (the fleets before it already moved,
 * those after it not yet), then runs a final `up` for what is left (new slots, removed slots).
 *
 * @param flavors the size of a flavor by name or ID; vCPUs and RAM are left out when one is unknown
 */
export function peakOf(fleets: readonly FleetChange[], mode: ApplyMode, flavors: (flavor: string) => FlavorSize | undefined): Peak {
    let known = true;
    const size = (flavor: string): Vector => {
        const found = flavors(flavor);
        if (!found) {
            known = false;
            return [1, 0, 0];
        }
        return [1, found.vcpus, found.ramMB];
    };
    const phases = fleets.map((change) => fleetPhases(change, mode, size));
    let total: Vector;
    if (mode === "up") {
        total = sum(phases.map((p) => p.alone));
    } else {
        total = sum(phases.map((p) => p.final));
        phases.forEach((phase, i) => {
            const others = phases.map((p, j) => (j < i ? p.done : j > i ? p.before : ZERO));
            total = max(total, add(phase.alone, sum(others)));
        });
    }
    const now = sum(phases.map((p) => p.before));
    const fleetServers: Record<string, number> = {};
    let hosts = 0;
    let hostsFleet: string | undefined;
    fleets.forEach((change, i) => {
        fleetServers[change.fleet] = phases[i].alone[0];
        if (change.antiAffinity && phases[i].alone[0] > hosts) {
            hosts = phases[i].alone[0];
            hostsFleet = change.fleet;
        }
    });
    const usage = (v: Vector): Usage => (known ? { servers: v[0], vcpus: v[1], ramMB: v[2] } : { servers: v[0] });
    return { mode, ...usage(total), now: usage(now), fleetServers, hosts, ...(hostsFleet === undefined ? {} : { hostsFleet }) };
}

/** One limit: the most the project may hold, and what it holds now (all its servers, not only the fleets'). */
export interface Limit {
    readonly max: number;
    /** @default what the fleets hold now: the project holds nothing else */
    readonly used?: number;
}

/** The limits a change is checked against: a quota per resource and the compute hosts. Unlimited where absent. */
export interface Limits {
    readonly instances?: Limit;
    readonly cores?: Limit;
    readonly ramMB?: Limit;
    readonly hosts?: number;
    /** Where the limits come from, for the message: e.g. `Nova's GET /limits`, `herd:openstack.quota`. */
    readonly source: string;
}

/** A limit the change does not fit in. */
export interface PeakProblem {
    /** `instances`, `cores`, `ramMB` or `hosts`. */
    readonly limit: "instances" | "cores" | "ramMB" | "hosts";
    /** Needed at the peak, and the most there is room for. */
    readonly needed: number;
    readonly room: number;
    /** One sentence with the numbers. */
    readonly message: string;
}

const WORDS = { instances: "servers", cores: "vCPUs", ramMB: "MB of RAM" } as const;
const MODE = { up: "a plain pulumi up", batches: "herd apply (one batch at a time)" } as const;

/**
 * The limits the peak does not fit in, with the numbers; empty when it fits. Quota is room for
 * the peak beyond what the project holds now: `max − used + now ≥ peak`, where `now` is what the
 * fleets hold already (and counted in `used`).
 */
export function peakProblems(peak: Peak, limits: Limits): PeakProblem[] {
    const problems: PeakProblem[] = [];
    const needs: Record<"instances" | "cores" | "ramMB", [number | undefined, number | undefined]> = {
        instances: [peak.servers, peak.now.servers],
        cores: [peak.vcpus, peak.now.vcpus],
        ramMB: [peak.ramMB, peak.now.ramMB],
    };
    for (const key of ["instances", "cores", "ramMB"] as const) {
        const limit = limits[key];
        const [needed, now] = needs[key];
        if (!limit || needed === undefined || now === undefined || limit.max < 0) {
            continue;
        }
        const used = limit.used ?? now;
        const room = limit.max - used + now;
        if (needed > room) {
            const others = used - now;
            problems.push({
                limit: key,
                needed,
                room,
                message:
                    `${MODE[peak.mode]} needs ${needed} ${WORDS[key]} at its peak (the fleets hold ${now} now), ` +
                    `the ${key} quota is ${limit.max}${others > 0 ? ` with ${others} held by other servers of the project` : ""} (${limits.source}): room for ${room}`,
            });
        }
    }
    if (limits.hosts !== undefined && peak.hosts > limits.hosts) {
        problems.push({
            limit: "hosts",
            needed: peak.hosts,
            room: limits.hosts,
            message:
                `${MODE[peak.mode]} puts ${peak.hosts} servers of fleet ${peak.hostsFleet} in its anti-affinity server group at once, ` +
                `one per compute host: the cloud has ${limits.hosts} (${limits.source})`,
        });
    }
    return problems;
}

/** The peak in one line: `6 servers, 6 vCPUs, 12288 MB of RAM, 4 hosts for anti-affinity`. */
export function formatPeak(peak: Peak): string {
    const parts = [`${peak.servers} servers`];
    if (peak.vcpus !== undefined && peak.ramMB !== undefined) {
        parts.push(`${peak.vcpus} vCPUs`, `${peak.ramMB} MB of RAM`);
    }
    if (peak.hostsFleet !== undefined) {
        parts.push(`${peak.hosts} compute hosts for fleet ${peak.hostsFleet}'s anti-affinity`);
    }
    return parts.join(", ");
}
