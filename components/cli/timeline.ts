import * as path from "node:path";
import { Command, Option } from "commander";
import { FLEETS_KEY, ROLLOUTS_KEY } from "../config";
import { canonicalJson } from "../release";
import { readRobotLog, RobotLogEntry } from "../robot/log";
import { fileAtRevision, git } from "./git";
import { CliError, CliIo, ExitCode } from "./io";
import { locateProject, stackConfigOf } from "./project";
import { DEFAULT_LOG } from "./robot";
import { parseDuration } from "../core/duration";

/** Flags of `herd timeline`. */
export interface TimelineFlags {
    readonly stack: string;
    readonly since: string;
    readonly until?: string;
    readonly log?: string;
    readonly format?: "text" | "markdown";
    readonly dir?: string;
    readonly program?: string;
}

/** One line of the timeline. */
export interface TimelineEvent {
    readonly time: Date;
    /** `commit` (the stack file), `alert` (as the robot received it), `robot` (what it did or refused). */
    readonly source: "commit" | "alert" | "robot";
    /** `release`, `promote`, `rollback`, `change` for commits; the alert's name; `heal`, `rollback`, `refused`… for the robot. */
    readonly kind: string;
    readonly text: string;
    /** For alerts: the alert's name, fleet and summary, for the post-mortem's list. */
    readonly alert?: { readonly name: string; readonly fleet?: string; readonly summary?: string };
}

/** `2h`, `3d` (before `now`) or a date such as `2026-11-27` or `2026-11-27T14:00Z`. */
export function parseWhen(flag: string, value: string, now: Date): Date {
    const back = parseDuration(value, ["m", "h", "d"], 6);
    if (back) {
        return new Date(now.getTime() - back.seconds * 1000);
    }
    const time = /^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(time)) {
        throw new CliError(`${flag} ${JSON.stringify(value)}: expected a duration back from now such as 90m, 6h or 3d, or a date such as 2026-11-27 or 2026-11-27T14:00Z`);
    }
    return new Date(time);
}

type Fleets = Record<string, Record<string, unknown>>;

/** The fleets of a stack file's text (both sections), unvalidated: an old commit need not pass today's schema. */
function fleetsOf(text: string | null, where: string): Fleets {
    if (text === null) {
        return {};
    }
    try {
        const config = stackConfigOf(text, where);
        const section = (key: string) => (config[key] !== null && typeof config[key] === "object" ? (config[key] as Fleets) : {});
        return { ...section(ROLLOUTS_KEY), ...section(FLEETS_KEY) };
    } catch {
        return {};
    }
}

function membersOf(fleet: Record<string, unknown>): number | undefined {
    const rollout = fleet.rollout as { members?: unknown } | undefined;
    return typeof rollout?.members === "number" ? rollout.members : typeof fleet.size === "number" ? fleet.size : undefined;
}

/**
 * What one commit did to each fleet of the stack file: a release started, a promotion, a
 * rollback, or another change; in words.
 */
export function describeCommit(before: Fleets, after: Fleets): { kind: string; text: string }[] {
    const changes: { kind: string; text: string }[] = [];
    for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
        const [old, now] = [before[name], after[name]];
        if (!old || !now) {
            changes.push({ kind: "change", text: `fleet ${name} ${old ? "removed" : "added"}` });
            continue;
        }
        if (canonicalJson(old) === canonicalJson(now)) {
            continue;
        }
        const size = typeof now.size === "number" ? now.size : "?";
        const [from, to] = [membersOf(old), membersOf(now)];
        const rollout = now.rollout as { previous?: unknown } | undefined;
        if (canonicalJson(old.release) !== canonicalJson(now.release)) {
            changes.push(
                rollout?.previous !== undefined && canonicalJson(rollout.previous) === canonicalJson(old.release)
                    ? { kind: "release", text: `${name}: a new release on ${to} of ${size} slots` }
                    : { kind: "release", text: `${name}: the release changed on every slot` },
            );
        } else if (from !== undefined && to !== undefined && to > from) {
            changes.push({ kind: "promote", text: `${name}: ${from} → ${to} of ${size} slots on the release${now.rollout === undefined ? " (rollout finished)" : ""}` });
        } else if (from !== undefined && to !== undefined && to < from) {
            changes.push({ kind: "rollback", text: `${name}: ${from} → ${to} of ${size} slots on the release` });
        } else {
            changes.push({ kind: "change", text: `${name}: configuration changed` });
        }
    }
    return changes;
}

/** The commits of the stack file between two times, each described. */
function commitEvents(dir: string, file: string, since: Date, until: Date): TimelineEvent[] {
    const log = git(dir, ["log", "--format=%H%x1f%P%x1f%cI%x1f%an%x1f%s", `--since=${since.toISOString()}`, `--until=${until.toISOString()}`, "--", file]);
    if (log.status !== 0) {
        throw new CliError(`cannot read the history of ${file}: ${log.stderr}`);
    }
    const events: TimelineEvent[] = [];
    for (const line of log.stdout.split("\n").filter((l) => l !== "")) {
        const [commit, parents, time, author, subject] = line.split("\x1f");
        const parent = parents.split(" ")[0];
        const before = fleetsOf(parent ? fileAtRevision(dir, parent, file) : null, `${file} at ${parent}`);
        const after = fleetsOf(fileAtRevision(dir, commit, file), `${file} at ${commit}`);
        const changes = describeCommit(before, after);
        const kind = changes.find((c) => c.kind !== "change")?.kind ?? "change";
        const what = changes.length > 0 ? changes.map((c) => `${c.kind === "change" ? "" : `${c.kind} `}${c.text}`).join("; ") : "no fleet changed";
        events.push({ time: new Date(time), source: "commit", kind, text: `${commit.slice(0, 10)} ${what} — "${subject}" (${author})` });
    }
    return events;
}

/** The robot's log entries that belong on a stack's timeline. */
export function robotEvents(entries: readonly RobotLogEntry[], stack: string, since: Date, until: Date): TimelineEvent[] {
    const events: TimelineEvent[] = [];
    for (const entry of entries) {
        const time = new Date(entry.time);
        if (Number.isNaN(time.getTime()) || time < since || time > until) {
            continue;
        }
        const member = `${entry.fleet ?? "?"}${entry.slot ? ` member ${entry.slot}` : ""}`;
        if (entry.event === "refused") {
            events.push({ time, source: "robot", kind: "refused", text: `refused a request from ${entry.remote ?? "?"}: ${entry.status} ${entry.reason ?? ""}`.trim() });
        } else if (entry.event === "started" || entry.event === "stopped") {
            events.push({ time, source: "robot", kind: entry.event, text: `${entry.event}${entry.reason ? `: ${entry.reason}` : ""}` });
        } else if (entry.stack !== stack) {
            continue;
        } else if (entry.event === "alert" && !(entry.decision === "ignore" && entry.reason?.startsWith("duplicate:"))) {
            const decided = entry.decision === "ignore" ? `ignored: ${entry.reason}` : `${entry.dryRun ? "would " : "→ "}${entry.decision}`;
            events.push({
                time,
                source: "alert",
                kind: entry.alertname ?? "alert",
                text: `${entry.alertname} ${entry.alertStatus} on ${member}${entry.summary ? ` (${entry.summary})` : ""}; ${decided}`,
                alert: { name: entry.alertname ?? "?", ...(entry.fleet ? { fleet: entry.fleet } : {}), ...(entry.summary ? { summary: entry.summary } : {}) },
            });
        } else if (entry.event === "action") {
            const wrote = entry.commit ? `, commit ${entry.commit.slice(0, 10)}` : entry.branch ? `, branch ${entry.branch}` : "";
            events.push({ time, source: "robot", kind: entry.decision ?? "action", text: `${entry.decision} ${member} ${entry.outcome}: ${entry.reason ?? ""}${wrote}` });
        }
    }
    return events;
}

const stamp = (time: Date) => `${time.toISOString().slice(0, 19).replace("T", " ")}Z`;

/** The timeline as text: one line per event, in order. */
export function formatTimeline(events: readonly TimelineEvent[], heading: string): string {
    const lines = events.map((e) => `${stamp(e.time)}  ${e.source.padEnd(6)}  ${e.kind.padEnd(8)}  ${e.text}`);
    return `${heading}\n\n${lines.length > 0 ? lines.join("\n") : "Nothing happened in that time."}\n`;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ");

/** The timeline as Markdown for a post-mortem: the table, the alerts, the robot's actions, and the probe to write. */
export function markdownTimeline(events: readonly TimelineEvent[], stack: string, heading: string): string {
    const rows = events.map((e) => `| ${stamp(e.time)} | ${e.source} | ${cell(e.kind)} | ${cell(e.text)} |`);
    const alerts = new Map<string, { first: Date; count: number; summary?: string }>();
    for (const e of events.filter((e) => e.alert)) {
        const key = `\`${e.alert?.name}\` on fleet \`${e.alert?.fleet ?? "?"}\``;
        const seen = alerts.get(key);
        alerts.set(key, seen ? { ...seen, count: seen.count + 1 } : { first: e.time, count: 1, ...(e.alert?.summary ? { summary: e.alert.summary } : {}) });
    }
    const actions = events.filter((e) => e.source === "robot" && e.kind !== "started" && e.kind !== "stopped");
    return [
        `# Timeline of stack \`${stack}\``,
        "",
        `_${heading}_`,
        "",
        "| time (UTC) | source | what | details |",
        "| --- | --- | --- | --- |",
        ...(rows.length > 0 ? rows : ["| | | | nothing happened in that time |"]),
        "",
        "## Alerts",
        "",
        ...(alerts.size > 0 ? [...alerts].map(([key, a]) => `- ${key}: first at ${stamp(a.first)}, ${a.count} time${a.count === 1 ? "" : "s"}${a.summary ? ` — ${cell(a.summary)}` : ""}`) : ["- none reached the robot"]),
        "",
        "## What the robot did",
        "",
        ...(actions.length > 0 ? actions.map((e) => `- ${stamp(e.time)} ${cell(e.text)}`) : ["- nothing"]),
        "",
        "## The probe that will catch it next time",
        "",
        "Which failure did a person notice before an alert did? Count it with a probe, so that next time it alerts first",
        `(README, "Monitoring: bug → probe → alert"), in \`Pulumi.${stack}.yaml\`:`,
        "",
        "```yaml",
        "      probes:",
        "        <what_it_counts>:                  # e.g. nginx_worker_crashes",
        "          script: probes/<what_it_counts>.sh   # prints one number",
        "          every: 1m",
        '          alert: { for: 2m, severity: critical, summary: "…" }',
        "```",
        "",
        "- [ ] the probe script, checked by shellcheck",
        "- [ ] its alert, tested with `promtool test rules`",
        "- [ ] the fleet's `robot` settings: should the robot have acted, or held off?",
        "",
    ].join("\n");
}

/** `herd timeline`: what happened to a stack, in order, for a post-mortem. */
export function addTimelineCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    cli.command("timeline")
        .summary("list, in order, the stack file's commits and the robot's alerts and actions, for a post-mortem")
        .description(
            "print what happened to a stack between two times: the commits of Pulumi.<stack>.yaml (releases, promotions, rollbacks, other changes) " +
                "and, from the robot's append-only log, the alerts it received, what it decided and what it did; as text, or as Markdown to paste into a post-mortem",
        )
        .requiredOption("-s, --stack <name>", "the stack (Pulumi.<name>.yaml)")
        .requiredOption("--since <when>", "from: a duration back from now (90m, 6h, 3d) or a date (2026-11-27, 2026-11-27T14:00Z)")
        .option("--until <when>", "to, the same way (default: now)")
        .option("--log <file>", `the robot's log (default: <projectDir>/${DEFAULT_LOG})`)
        .addOption(new Option("--format <format>", "text, or markdown for a post-mortem").choices(["text", "markdown"]).default("text"))
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .option("-p, --program <path>", "the program's entry module (default: <projectDir>/index.ts)")
        .action((flags: TimelineFlags) => {
            const now = new Date();
            const since = parseWhen("--since", flags.since, now);
            const until = flags.until === undefined ? now : parseWhen("--until", flags.until, now);
            if (until < since) {
                throw new CliError(`--until ${flags.until} is before --since ${flags.since}`);
            }
            const project = locateProject(flags, io.cwd);
            const logFile = path.resolve(project.dir, flags.log ?? DEFAULT_LOG);
            const log = readRobotLog(logFile);
            const events = [...commitEvents(project.dir, project.stackFileName, since, until), ...robotEvents(log.entries, project.stack, since, until)].sort(
                (a, b) => a.time.getTime() - b.time.getTime(),
            );
            const skipped = log.skipped > 0 ? `; ${log.skipped} unreadable line${log.skipped === 1 ? "" : "s"} of the log skipped` : "";
            const heading = `From ${stamp(since)} to ${stamp(until)}: the commits of ${project.stackFileName} and the robot's log ${path.relative(project.dir, logFile) || logFile}${skipped}.`;
            io.stdout(flags.format === "markdown" ? markdownTimeline(events, project.stack, heading) : `Timeline of stack ${project.stack}. ${formatTimeline(events, heading)}`);
            exit(ExitCode.Ok);
        });
}
