import type { WebhookAlert } from "./webhook";
import type { RobotFleet, RobotStack, RollbackMode } from "./fleets";
import { fleetBackend } from "../fleet/backends";

/**
 * What the robot decides for each alert, as pure functions of the alert, the stack files and
 * what it has seen and done so far: tested without a server, an engine or a clock.
 */

/** The alerts the robot acts on, by the name herd's rules give them. */
export const MEMBER_DOWN = "HerdMemberDown";
export const BELOW_MIN_HEALTHY = "HerdFleetBelowMinHealthy";
/** Alerts whose name starts with this are about the canary of a rollout (see `canaryAlerts`). */
export const CANARY_PREFIX = "HerdCanary";

/** An alert, reduced to what the robot reads from it: the labels herd's rules put on it. */
export interface FleetAlert {
    readonly alertname: string;
    readonly status: "firing" | "resolved";
    readonly fingerprint: string;
    readonly startsAt: string;
    /** `herd_stack`, `herd_fleet`, `herd_slot`, `herd_generation`, `herd_role` when present. */
    readonly stack?: string;
    readonly fleet?: string;
    readonly slot?: string;
    readonly generation?: string;
    readonly role?: string;
}

/** Reads the herd labels of an alert. */
export function fleetAlert(alert: WebhookAlert): FleetAlert {
    const label = (name: string) => (alert.labels[name] === undefined || alert.labels[name] === "" ? {} : { [name]: alert.labels[name] });
    const { herd_stack: stack, herd_fleet: fleet, herd_slot: slot, herd_generation: generation, herd_role: role } = {
        ...label("herd_stack"),
        ...label("herd_fleet"),
        ...label("herd_slot"),
        ...label("herd_generation"),
        ...label("herd_role"),
    } as Record<string, string | undefined>;
    return {
        alertname: alert.labels.alertname,
        status: alert.status,
        fingerprint: alert.fingerprint,
        // One instant has many spellings (zone, trailing zeros): a replay must not dodge the check by respelling it.
        startsAt: canonicalTime(alert.startsAt),
        ...(stack ? { stack } : {}),
        ...(fleet ? { fleet } : {}),
        ...(slot ? { slot } : {}),
        ...(generation ? { generation } : {}),
        ...(role ? { role } : {}),
    };
}

/** An RFC 3339 time in UTC with nanoseconds, so that equal instants compare equal as text. */
export function canonicalTime(time: string): string {
    const match = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(time);
    const fraction = (match?.[2] ?? "").padEnd(9, "0").slice(0, 9);
    const seconds = new Date(`${match?.[1] ?? time}${match?.[3] ?? ""}`);
    return Number.isNaN(seconds.getTime()) ? time : `${seconds.toISOString().slice(0, 19)}.${fraction}Z`;
}

/** The key an alert is handled once under: the same alert, from the same start, is the same event. */
export function alertKey(alert: Pick<FleetAlert, "fingerprint" | "startsAt">): string {
    return `${alert.fingerprint}@${alert.startsAt}`;
}

/** The robot's limits. */
export interface RobotSettings {
    /** At most this many actions per fleet within {@link windowMs}. @default 2 */
    readonly budget: number;
    /** The budget's window, in milliseconds. @default one hour */
    readonly windowMs: number;
    /** Decide and log, but do nothing. @default false */
    readonly dryRun: boolean;
}

export const DEFAULT_SETTINGS: RobotSettings = { budget: 2, windowMs: 3_600_000, dryRun: false };

/** What the robot has seen and done: the state its decisions depend on. */
export interface RobotMemory {
    /** Keys ({@link alertKey}) of the alerts acted on (or, in a dry run, that would have been). */
    readonly handled: Set<string>;
    /** `stack/fleet` → when each action on the fleet started (ms since the epoch). */
    readonly actions: Map<string, number[]>;
    /** Stacks with an action under way. */
    readonly busy: Set<string>;
    /** `stack/fleet` → the slots with a firing member-down alert. */
    readonly down: Map<string, Set<string>>;
    /** `stack/fleet` of the fleets whose below-minHealthy alert fires. */
    readonly belowMin: Set<string>;
}

export function emptyMemory(): RobotMemory {
    return { handled: new Set(), actions: new Map(), busy: new Set(), down: new Map(), belowMin: new Set() };
}

const fleetKey = (stack: string, fleet: string) => `${stack}/${fleet}`;

/**
 * Takes note of what an alert says of its fleet: which members are down, whether the fleet is
 * below its floor. Every alert of a notification is noted before any is decided, so that the
 * floor is checked against all the members Alertmanager says are down.
 */
export function observe(memory: RobotMemory, alert: FleetAlert): void {
    if (!alert.stack || !alert.fleet) {
        return;
    }
    const key = fleetKey(alert.stack, alert.fleet);
    const firing = alert.status === "firing";
    if (alert.alertname === MEMBER_DOWN && alert.slot) {
        const slots = memory.down.get(key) ?? new Set<string>();
        if (firing) {
            slots.add(alert.slot);
        } else {
            slots.delete(alert.slot);
        }
        memory.down.set(key, slots);
    } else if (alert.alertname === BELOW_MIN_HEALTHY) {
        if (firing) {
            memory.belowMin.add(key);
        } else {
            memory.belowMin.delete(key);
        }
    }
}

/** What to do about one alert, with the reason in words either way. */
export type Decision =
    | { readonly action: "ignore"; readonly reason: string }
    | { readonly action: "heal"; readonly stack: string; readonly fleet: RobotFleet; readonly slot: string; readonly reason: string }
    | { readonly action: "rollback"; readonly stack: string; readonly fleet: RobotFleet; readonly mode: Exclude<RollbackMode, "off">; readonly reason: string };

/** Whether `slot` names a member of the fleet: a slot number, or what its backend's heal says a member is (a pod). */
function slotProblem(fleet: RobotFleet, slot: string): string | undefined {
    const heal = fleetBackend(fleet.backend)?.heal;
    if (heal) {
        return heal.memberProblem(fleet, slot);
    }
    return /^(0|[1-9]\d{0,5})$/.test(slot) && Number(slot) < fleet.size ? undefined : `"${slot}" is not a slot of fleet ${fleet.name} (0–${fleet.size - 1})`;
}

function durationText(ms: number): string {
    return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

/**
 * Decides what to do about one alert. The safety rules, in the order they are checked:
 * resolved alerts, duplicates (same fingerprint and start: a resent or replayed notification),
 * alerts without herd's labels, unknown stacks and fleets are ignored; a member-down alert heals
 * only a fleet that allows it, only a member of that fleet, only within the fleet's budget, never
 * while its below-minHealthy alert fires or when the members down (the one replaced included)
 * would leave fewer than `minHealthy`, and never while another action on its stack is under way;
 * a canary alert rolls back only a fleet that opted in, during a rollout.
 *
 * @param stacks the stacks the robot serves, read from their files now
 */
export function decide(
    alert: FleetAlert,
    stacks: (stack: string) => RobotStack | undefined,
    memory: RobotMemory,
    settings: RobotSettings,
    now: number,
): Decision {
    const ignore = (reason: string): Decision => ({ action: "ignore", reason });
    // Checked last, once everything else allows the action: never two on one stack at once.
    const act = (action: Exclude<Decision, { action: "ignore" }>): Decision =>
        memory.busy.has(action.stack) ? ignore(`another action on stack ${action.stack} is under way`) : action;
    if (alert.status === "resolved") {
        return ignore("resolved: nothing to do");
    }
    if (memory.handled.has(alertKey(alert))) {
        return ignore(`duplicate: this alert (fingerprint ${alert.fingerprint}, started ${alert.startsAt}) was handled already`);
    }
    if (!alert.stack || !alert.fleet) {
        return ignore("not a herd alert: it has no herd_stack and herd_fleet labels");
    }
    const stack = stacks(alert.stack);
    if (!stack) {
        return ignore(`unknown stack "${alert.stack}": the robot does not serve it`);
    }
    const fleet = stack.fleets[alert.fleet];
    if (!fleet) {
        return ignore(`unknown fleet "${alert.fleet}" in stack ${alert.stack}`);
    }
    const key = fleetKey(alert.stack, fleet.name);
    const where = `herd:fleets.${fleet.name}.robot`;
    if (alert.alertname.startsWith(CANARY_PREFIX) || alert.role === "canary") {
        if (fleet.rollback === "off") {
            return ignore(`canary alert on fleet ${fleet.name}: auto-rollback is off (${where}.rollback: commit | branch turns it on)`);
        }
        if (fleet.rolloutMembers === undefined || fleet.rolloutMembers === 0) {
            return ignore(`canary alert on fleet ${fleet.name}, but no slot of it runs a release being rolled out`);
        }
        if (alert.generation !== undefined && fleet.rolloutGeneration !== undefined && alert.generation !== fleet.rolloutGeneration) {
            return ignore(
                `canary alert on fleet ${fleet.name} for generation ${alert.generation}, but the rollout's canary runs ${fleet.rolloutGeneration}: a stale alert of another release`,
            );
        }
        return act({
            action: "rollback",
            stack: alert.stack,
            fleet,
            mode: fleet.rollback,
            reason: `${alert.alertname} fired on the canary of fleet ${fleet.name} (${fleet.rolloutMembers} of ${fleet.size} slots on the release)`,
        });
    }
    if (alert.alertname !== MEMBER_DOWN) {
        return ignore(`${alert.alertname}: the robot acts on ${MEMBER_DOWN} and ${CANARY_PREFIX}* alerts only`);
    }
    if (!fleet.heal) {
        return ignore(`healing fleet ${fleet.name} is off (${where}.heal: false)`);
    }
    if (!alert.slot) {
        return ignore(`${MEMBER_DOWN} without a herd_slot label: which member is down is unknown`);
    }
    const problem = slotProblem(fleet, alert.slot);
    if (problem) {
        return ignore(problem);
    }
    const recent = (memory.actions.get(key) ?? []).filter((time) => now - time < settings.windowMs);
    if (recent.length >= settings.budget) {
        return ignore(
            `budget spent: ${recent.length} action${recent.length === 1 ? "" : "s"} on fleet ${fleet.name} in the last ${durationText(settings.windowMs)} (at most ${settings.budget})`,
        );
    }
    if (memory.belowMin.has(key)) {
        return ignore(`fleet ${fleet.name} is below its floor (${BELOW_MIN_HEALTHY} fires): more than a member is wrong, a person should look`);
    }
    const down = new Set(memory.down.get(key) ?? []);
    down.add(alert.slot);
    const left = fleet.size - down.size;
    if (left < fleet.minHealthy) {
        return ignore(
            `replacing ${alert.slot} would leave ${Math.max(left, 0)} of ${fleet.size} members of fleet ${fleet.name} up while ${down.size} ${down.size === 1 ? "is" : "are"} down, below minHealthy ${fleet.minHealthy}`,
        );
    }
    return act({
        action: "heal",
        stack: alert.stack,
        fleet,
        slot: alert.slot,
        reason: `${MEMBER_DOWN} fired for member ${alert.slot} of fleet ${fleet.name}; ${left} of ${fleet.size} stay up (minHealthy ${fleet.minHealthy})`,
    });
}

/** Records that an action was decided: the alert is handled, the budget spent, the stack busy. */
export function remember(memory: RobotMemory, alert: FleetAlert, decision: Decision, now: number): void {
    if (decision.action === "ignore") {
        return;
    }
    memory.handled.add(alertKey(alert));
    const key = fleetKey(decision.stack, decision.fleet.name);
    memory.actions.set(key, [...(memory.actions.get(key) ?? []), now]);
}
