import { AlertRule } from "./rules";
import { durationOf, PROBE_NAME } from "../config/schema";
import { formatValue } from "../config/errors";
import { isBaseUrl, promqlProblem } from "../config/grammar";
import { parseDuration } from "../core/duration";

/**
 * A probe: a small script that counts one failure mode ("this bug happened N times"), run on a
 * schedule on every member, published as a metric, with an alert of its own.
 *
 * @group Monitoring
 */
export interface ProbeSpec {
    /** Probe name: lowercase letters, digits and `_`; part of unit, file and metric names. */
    readonly name: string;
    /** The script's text. It starts with a shebang (`#!/bin/sh`, `#!/usr/bin/env python3`) and prints one number. */
    readonly script: string;
    /** How often it runs, e.g. `30s`, `5m`, `1h`. */
    readonly every: string;
    /** Metric name. @default `herd_probe_${name}` */
    readonly metric?: string;
    /** The alert on the metric. @default fires when the metric is above 0 for 5 minutes, severity warning */
    readonly alert?: {
        /** PromQL. @default `max by (herd_stack, herd_fleet) (<metric>{herd_stack, herd_fleet}) > 0` */
        readonly expr?: string;
        /** @default "5m" */
        readonly for?: string;
        /** @default "warning" */
        readonly severity?: string;
        /** @default "Probe <name> counts failures on fleet <fleet>" */
        readonly summary?: string;
    };
}

/** The largest probe script herd installs: a probe is a small script, and every member's user data carries it. */
export const PROBE_SCRIPT_MAX_BYTES = 64 * 1024;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Checks a probe given in code (the stack config is checked by its schema already): its name,
 * metric and schedule go into file names, systemd units and shell arguments, so each must match
 * its strict grammar. One line per problem.
 *
 * @param key where the probe is in the caller's args (`probes[0]`): each line then names the
 * key path and the value, as a stack config's problems do (`probes[0].every = "5x": expected …`).
 * Without it, lines name the probe (`probe "name": every = "5x": expected …`).
 */
export function probeSpecProblems(probe: ProbeSpec, key?: string): string[] {
    const problems: string[] = [];
    const at = (field: string, value: unknown, shown: boolean) =>
        key === undefined ? `probe ${JSON.stringify(probe.name)}: ${field}${shown ? ` = ${JSON.stringify(value)}` : ""}` : `${key}.${field} = ${formatValue(value)}`;
    if (typeof probe.name !== "string" || !PROBE_NAME.test(probe.name)) {
        problems.push(`${at("name", probe.name, false)}: expected lowercase letters, digits and '_', starting with a letter, at most 40 characters`);
    }
    if (probe.metric !== undefined && !(typeof probe.metric === "string" && METRIC_NAME.test(probe.metric) && probe.metric.length <= 200)) {
        problems.push(`${at("metric", probe.metric, true)}: expected a Prometheus metric name`);
    }
    const seconds = typeof probe.every === "string" ? durationOf(probe.every) : NaN;
    if (!(seconds >= 1 && seconds <= 24 * 3600)) {
        problems.push(`${at("every", probe.every, true)}: expected a duration from 1s to 24h, such as 30s, 5m or 1h`);
    }
    if (typeof probe.script !== "string" || !probe.script.startsWith("#!")) {
        problems.push(`${at("script", probe.script, false)}: expected a script that starts with a shebang line such as #!/bin/sh`);
    } else if (Buffer.byteLength(probe.script, "utf8") > PROBE_SCRIPT_MAX_BYTES) {
        problems.push(`${at("script", probe.script, false)}: expected at most ${PROBE_SCRIPT_MAX_BYTES} bytes, got ${Buffer.byteLength(probe.script, "utf8")}`);
    }
    const expr = probe.alert?.expr;
    const exprProblem = expr === undefined ? undefined : promqlProblem(expr);
    if (exprProblem !== undefined) {
        problems.push(`${at("alert.expr", expr, false)}: expected a PromQL expression; this one has ${exprProblem}`);
    }
    return problems;
}

/** Checks a Pushgateway URL given in code: it goes into the URL probes push to, so it must be a plain base URL. */
export function pushgatewayProblems(url: unknown): string[] {
    return isBaseUrl(url)
        ? []
        : [`pushgateway = ${JSON.stringify(url)}: expected an http:// or https:// URL of a host (name or IP), an optional port and path, without user, query, fragment or trailing '/'`];
}

function requireValidProbes(probes: readonly ProbeSpec[]): void {
    const problems = probes.flatMap((probe) => probeSpecProblems(probe));
    if (problems.length > 0) {
        throw new Error(`invalid probes:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
}

/** Where probe scripts live on a VM. */
export const PROBE_DIR = "/usr/local/lib/herd/probes";
/** The wrapper that runs a probe and writes its metric for node_exporter's textfile collector. */
export const RUN_PROBE_PATH = "/usr/local/lib/herd/run-probe";

/**
 * A probe wrapper: runs the probe named by its first argument, reads one number from it, and
 * writes the metric (and `herd_probe_success`) in the Prometheus text format to `$body`, then
 * `publish` sends it on. A probe that fails or prints something that is not a number publishes
 * `herd_probe_success 0` (and its metric as 0), so a broken probe is visible rather than silent.
 */
function probeWrapper(purpose: string, usage: string, lastArgs: string, probeDir: string, body: string, publish: string): string {
    return `#!/bin/sh
# ${purpose}
# usage: ${usage}
set -eu
name="$1"
metric="$2"
${lastArgs}
probes="\${HERD_PROBE_DIR:-${probeDir}}"
ok=1
if ! value=$("$probes/$name"); then
    ok=0
fi
case "$value" in
    '' | *[!0-9.]*) ok=0; value=0 ;;
esac
body="${body}"
{
    printf '# TYPE %s gauge\\n' "$metric"
    printf '%s %s\\n' "$metric" "$value"
    printf 'herd_probe_success{probe="%s"} %s\\n' "$name" "$ok"
} > "$body"
${publish}
`;
}

/**
 * The wrapper every probe on a VM runs through: the file is replaced atomically (written beside
 * it, then renamed) so node_exporter never reads half of it.
 */
export const RUN_PROBE_SCRIPT = probeWrapper(
    "Runs one herd probe and publishes its count for node_exporter's textfile collector.",
    "run-probe <name> <metric> <textfile-dir>",
    'dir="$3"',
    PROBE_DIR,
    "$dir/.herd_probe_$name.prom.$$",
    'mv "$body" "$dir/herd_probe_$name.prom"',
);

/** The metric a probe publishes. */
export function probeMetric(probe: ProbeSpec): string {
    return probe.metric ?? `herd_probe_${probe.name}`;
}

/** `5m` → `5min`, the systemd spelling of a duration. */
export function systemdDuration(every: string): string {
    const parsed = parseDuration(every);
    if (!parsed) {
        throw new Error(`probe schedule must be a duration such as 30s, 5m or 1h, got ${JSON.stringify(every)}`);
    }
    return `${parsed.amount}${{ s: "s", m: "min", h: "h", d: "d" }[parsed.unit]}`;
}

/** cloud-init `write_files` entries and `runcmd` commands that install the probes as systemd timers. */
export function probeCloudConfig(
    probes: readonly ProbeSpec[],
    textfileDir: string,
): {
    /** cloud-init `write_files` entries: the wrapper, each script, its systemd service and timer. */
    writeFiles: object[];
    /** cloud-init `runcmd` entries that enable the timers. */
    runcmd: string[][];
} {
    if (probes.length === 0) {
        return { writeFiles: [], runcmd: [] };
    }
    requireValidProbes(probes);
    const writeFiles: object[] = [{ path: RUN_PROBE_PATH, permissions: "0755", content: RUN_PROBE_SCRIPT }];
    const runcmd: string[][] = [["systemctl", "daemon-reload"]];
    for (const probe of probes) {
        const unit = `herd-probe-${probe.name}`;
        writeFiles.push(
            { path: `${PROBE_DIR}/${probe.name}`, permissions: "0755", content: probe.script },
            {
                path: `/etc/systemd/system/${unit}.service`,
                permissions: "0644",
                content: [
                    "[Unit]",
                    `Description=herd probe ${probe.name}`,
                    "",
                    "[Service]",
                    "Type=oneshot",
                    `ExecStart=${RUN_PROBE_PATH} ${probe.name} ${probeMetric(probe)} ${textfileDir}`,
                    "",
                ].join("\n"),
            },
            {
                path: `/etc/systemd/system/${unit}.timer`,
                permissions: "0644",
                content: [
                    "[Unit]",
                    `Description=Run herd probe ${probe.name} every ${probe.every}`,
                    "",
                    "[Timer]",
                    "OnBootSec=1min",
                    `OnUnitActiveSec=${systemdDuration(probe.every)}`,
                    "",
                    "[Install]",
                    "WantedBy=timers.target",
                    "",
                ].join("\n"),
            },
        );
        runcmd.push(["systemctl", "enable", "--now", `${unit}.timer`]);
    }
    return { writeFiles, runcmd };
}

function alertName(probe: string): string {
    return `HerdProbe${probe
        .split("_")
        .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
        .join("")}`;
}

/** The alerting rule of a probe, labelled with stack, fleet and probe. */
export function probeAlert(probe: ProbeSpec, stack: string, fleet: string): AlertRule {
    const metric = probeMetric(probe);
    return {
        alert: alertName(probe.name),
        expr:
            probe.alert?.expr ??
            `max by (herd_stack, herd_fleet) (${metric}{herd_stack="${stack}",herd_fleet="${fleet}"}) > 0`,
        for: probe.alert?.for ?? "5m",
        labels: { herd_stack: stack, herd_fleet: fleet, herd_probe: probe.name, severity: probe.alert?.severity ?? "warning" },
        annotations: { summary: probe.alert?.summary ?? `Probe ${probe.name} counts failures on fleet ${fleet} (${stack})` },
    };
}

/** Where a probe container finds its scripts (Kubernetes CronJob, Docker probe container). */
export const CONTAINER_PROBE_DIR = "/herd/probes";
/** The wrapper's file name beside the probe scripts in a container. */
export const PUSH_PROBE_NAME = "push-probe";

/**
 * The wrapper a probe runs through in a container: it pushes the count to a Prometheus
 * Pushgateway, grouped by stack, fleet and probe. It needs only a POSIX shell and `wget`.
 */
export const PUSH_PROBE_SCRIPT = probeWrapper(
    "Runs one herd probe and pushes its count to a Prometheus Pushgateway.",
    "push-probe <name> <metric> <pushgateway-url> <stack> <fleet>",
    'url="$3"\nstack="$4"\nfleet="$5"',
    CONTAINER_PROBE_DIR,
    "\${TMPDIR:-/tmp}/herd_probe_$name.$$",
    'wget -q -O /dev/null --post-file="$body" "$url/metrics/job/herd_probe/herd_stack/$stack/herd_fleet/$fleet/probe/$name"\nrm -f "$body"',
);

/**
 * A CronJob schedule for a probe's interval: `5m` → `*\/5 * * * *`, `2h` → `0 *\/2 * * *`.
 * Kubernetes runs CronJobs at most once a minute, and only intervals that divide the hour (or
 * the day) repeat evenly.
 */
export function cronSchedule(every: string): string {
    const schedule = cronOf(every);
    if (schedule === undefined) {
        throw new Error(`${CRON_ALLOWED}, got ${JSON.stringify(every)}`);
    }
    return schedule;
}

/**
 * Why `every` cannot be a CronJob's schedule (see {@link cronSchedule}), in the words of a
 * problem's `allowed`; `undefined` when it can.
 */
export function cronScheduleProblem(every: string): string | undefined {
    return cronOf(every) === undefined ? CRON_ALLOWED : undefined;
}

/** What a CronJob schedule of a probe allows, in words. */
const CRON_ALLOWED = "a scheduled probe runs every N minutes (N dividing 60) or N hours (N dividing 24)";

function cronOf(every: string): string | undefined {
    const parsed = parseDuration(every);
    const n = parsed?.amount ?? NaN;
    if (parsed?.unit === "m" && n >= 1 && 60 % n === 0) {
        return n === 1 ? "* * * * *" : `*/${n} * * * *`;
    }
    if (parsed?.unit === "h" && n >= 1 && 24 % n === 0) {
        return n === 1 ? "0 * * * *" : `0 */${n} * * *`;
    }
    return undefined;
}

/** A duration in whole seconds, for the Docker probe container's loop. */
export function durationSeconds(every: string): number {
    const parsed = parseDuration(every);
    if (!parsed || parsed.amount < 1) {
        throw new Error(`probe schedule must be a duration such as 30s, 5m or 1h, got ${JSON.stringify(every)}`);
    }
    return parsed.seconds;
}
