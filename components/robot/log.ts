import * as nodeFs from "node:fs";
import { alertKey } from "./planner";

/**
 * The robot's log: one JSON object per line, appended, never rewritten. It is what
 * `herd timeline` reads for the post-mortem, and what the robot reads back when it starts, so that
 * a restart neither repeats an action nor forgets the budget spent.
 */

/** One line of the log. */
export interface RobotLogEntry {
    /** When, ISO 8601 in UTC. */
    readonly time: string;
    /**
     * `started` / `stopped` (the robot), `refused` (a request that was not let in or not valid:
     * nothing was done), `alert` (an alert and what was decided about it), `action` (an action's
     * outcome).
     */
    readonly event: "started" | "stopped" | "refused" | "alert" | "action";
    /** For `refused`: the HTTP status answered, and the peer's address. */
    readonly status?: number;
    readonly remote?: string;
    /** For `alert`: the alert. */
    readonly alertname?: string;
    readonly alertStatus?: "firing" | "resolved";
    readonly fingerprint?: string;
    readonly startsAt?: string;
    readonly summary?: string;
    /** The stack, fleet and slot the alert or action is about. */
    readonly stack?: string;
    readonly fleet?: string;
    readonly slot?: string;
    /** For `alert`: `ignore`, `heal` or `rollback`; for `action`: `heal` or `rollback`. */
    readonly decision?: "ignore" | "heal" | "rollback";
    /** `true` when nothing was done because the robot runs with `--dry-run`. */
    readonly dryRun?: boolean;
    /** For `action`: `done` or `failed`. */
    readonly outcome?: "done" | "failed";
    /** For `action`: the commit or branch a rollback wrote. */
    readonly commit?: string;
    readonly branch?: string;
    /** Why, or what happened, in words. */
    readonly reason?: string;
}

/** The file calls the log makes; tests pass their own. */
export type LogFs = Pick<typeof nodeFs, "openSync" | "writeSync" | "fsyncSync" | "closeSync">;

/**
 * Appends entries to a log file, opened once with `O_APPEND` (so each line lands at the end, even
 * if another process appends too), each line written in full and flushed to disk before
 * {@link append} returns: a crash loses at most the line being written, which readers skip.
 */
export class RobotLog {
    private fd: number | undefined;

    /** @param file created if missing, mode 0600: alerts may name what a stranger should not read */
    constructor(
        readonly file: string,
        private readonly fs: LogFs = nodeFs,
    ) {
        this.fd = this.fs.openSync(file, "a", 0o600);
    }

    append(entry: Omit<RobotLogEntry, "time"> & { time?: string }): RobotLogEntry {
        if (this.fd === undefined) {
            throw new Error(`the robot log ${this.file} is closed`);
        }
        const line: RobotLogEntry = { time: new Date().toISOString(), ...entry };
        const data = Buffer.from(`${JSON.stringify(line)}\n`, "utf8");
        for (let offset = 0; offset < data.length; ) {
            offset += this.fs.writeSync(this.fd, data, offset, data.length - offset);
        }
        this.fs.fsyncSync(this.fd);
        return line;
    }

    close(): void {
        if (this.fd !== undefined) {
            this.fs.closeSync(this.fd);
            this.fd = undefined;
        }
    }
}

/** What {@link readRobotLog} found. */
export interface RobotLogContents {
    readonly entries: RobotLogEntry[];
    /** Lines that are not a JSON object (a line cut short by a crash): skipped. */
    readonly skipped: number;
}

/** Reads a robot log; a missing file is an empty log. */
export function readRobotLog(file: string): RobotLogContents {
    let text: string;
    try {
        text = nodeFs.readFileSync(file, "utf8");
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
            return { entries: [], skipped: 0 };
        }
        throw err;
    }
    const entries: RobotLogEntry[] = [];
    let skipped = 0;
    for (const line of text.split("\n")) {
        if (line.trim() === "") {
            continue;
        }
        try {
            const entry = JSON.parse(line) as RobotLogEntry;
            if (entry !== null && typeof entry === "object" && typeof entry.time === "string" && typeof entry.event === "string") {
                entries.push(entry);
                continue;
            }
        } catch {
            // Counted below.
        }
        skipped++;
    }
    return { entries, skipped };
}

/**
 * What the robot remembers from its log when it starts: the alerts it acted on (not to act on
 * them again) and when it acted on each fleet (the budget already spent).
 */
export function memoryFromLog(entries: readonly RobotLogEntry[]): { handled: string[]; actions: Map<string, number[]> } {
    const handled: string[] = [];
    const actions = new Map<string, number[]>();
    for (const entry of entries) {
        if (entry.event !== "alert" || (entry.decision !== "heal" && entry.decision !== "rollback")) {
            continue;
        }
        if (entry.fingerprint && entry.startsAt) {
            handled.push(alertKey({ fingerprint: entry.fingerprint, startsAt: entry.startsAt }));
        }
        if (entry.stack && entry.fleet) {
            const key = `${entry.stack}/${entry.fleet}`;
            actions.set(key, [...(actions.get(key) ?? []), Date.parse(entry.time)]);
        }
    }
    return { handled, actions };
}
