/** Alertmanager webhook notifications, as tests of the robot send them; the robot and Alertmanager, as end-to-end tests start them. */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as YAML from "yaml";
import { readRobotLog, RobotLogEntry } from "../../components/robot";
import { REPO } from "./engine";

/** A notification as Alertmanager 0.25 sends it. */
export function notification(alerts: Record<string, unknown>[]): Record<string, unknown> {
    return {
        receiver: "herd-robot",
        status: "firing",
        alerts,
        groupLabels: { herd_fleet: "web", herd_stack: "prod" },
        commonLabels: { herd_fleet: "web", herd_stack: "prod" },
        commonAnnotations: {},
        externalURL: "http://127.0.0.1:9093",
        version: "4",
        groupKey: '{}:{herd_fleet="web", herd_stack="prod"}',
        truncatedAlerts: 0,
    };
}

/** One alert of a notification, as Alertmanager writes it. */
export function webhookAlert(labels: Record<string, string>, fields: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        status: "firing",
        labels: { alertname: "HerdMemberDown", herd_stack: "prod", herd_fleet: "web", herd_slot: "3", severity: "warning", ...labels },
        annotations: { summary: "Member 3 of fleet web (prod) is down" },
        startsAt: "2026-11-27T14:50:00.123456789Z",
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "http://127.0.0.1:9090/graph",
        fingerprint: "a1b2c3d4e5f60718",
        ...fields,
    };
}

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

/** Waits until `check` holds, polling; throws with `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (await Promise.resolve().then(check).catch(() => false)) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Processes an end-to-end test starts, each writing to `<name>.log` in a folder of the test, stopped by PID in reverse order. */
export class TestProcesses {
    private readonly started: ChildProcess[] = [];

    /**
     * @param logDir where each process's output goes
     * @param cwd the working directory of every process
     * @param env the environment of every process, unless `start` is given another
     */
    constructor(
        private readonly logDir: string,
        private readonly cwd: string,
        private readonly env: NodeJS.ProcessEnv,
    ) {}

    /** Starts a process whose output goes to `<logDir>/<name>.log`. */
    start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = this.env): ChildProcess {
        const out = fs.openSync(path.join(this.logDir, `${name}.log`), "a");
        const child = spawn(command, args, { cwd: this.cwd, env, stdio: ["ignore", out, out] });
        fs.closeSync(out);
        this.started.push(child);
        return child;
    }

    /** Sends SIGTERM to each process still running, last started first, and waits for it to exit. */
    async stop(): Promise<void> {
        for (const child of this.started.splice(0).reverse()) {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill("SIGTERM");
                await new Promise((resolve) => child.once("exit", resolve));
            }
        }
    }
}

/** How long Alertmanager waits on the robot's route; the sample's are minutes, too long for a test. */
export interface RouteWaits {
    readonly group_wait: string;
    readonly group_interval: string;
    readonly repeat_interval: string;
}

/** A robot beside Alertmanager, both on 127.0.0.1, as {@link startRobotBehindAlertmanager} started them. */
export interface RobotBehindAlertmanager {
    /** Alertmanager's address, `http://127.0.0.1:<port>`. */
    readonly alertmanager: string;
    /** The robot's log file. */
    readonly logFile: string;
    /** The robot's log as it is now. */
    entries(): RobotLogEntry[];
    /** Resolves once the robot has logged `started` and Alertmanager is ready (each waited for up to 2 minutes). */
    ready(): Promise<void>;
}

/**
 * Starts the real `herd robot` of a project and the real Alertmanager, configured with the
 * sample route (examples/robot/alertmanager.yml) pointed at that robot and a token file of mode
 * 0600, each on a free port of 127.0.0.1. Both start in the background: `ready()` waits for
 * them, so that a test can start what else it needs (Prometheus) meanwhile.
 *
 * @param processes starts both (and stops them)
 * @param work a folder of the test: the token, Alertmanager's config and its storage
 * @param projectDir the project the robot serves; its log is `.herd/robot.jsonl` there
 */
export async function startRobotBehindAlertmanager(
    processes: TestProcesses,
    options: { readonly work: string; readonly projectDir: string; readonly stack: string; readonly token: string; readonly waits: RouteWaits },
): Promise<RobotBehindAlertmanager> {
    const [alertmanagerPort, robotPort] = [await freePort(), await freePort()];
    const tokenFile = path.join(options.work, "robot-token");
    fs.writeFileSync(tokenFile, `${options.token}\n`, { mode: 0o600 });
    const config = YAML.parse(fs.readFileSync(path.join(REPO, "examples", "robot", "alertmanager.yml"), "utf8"));
    Object.assign(config.route.routes[0], options.waits);
    const webhook = config.receivers[1].webhook_configs[0];
    webhook.url = `http://127.0.0.1:${robotPort}/alerts`;
    webhook.http_config.authorization.credentials_file = tokenFile;
    const configFile = path.join(options.work, "alertmanager.yml");
    fs.writeFileSync(configFile, YAML.stringify(config));

    processes.start("robot", process.execPath, [
        "--import",
        "tsx",
        path.join(REPO, "components", "cli", "main.ts"),
        "robot",
        "--stack",
        options.stack,
        "--token-file",
        tokenFile,
        "--listen",
        `127.0.0.1:${robotPort}`,
    ]);
    processes.start("alertmanager", "prometheus-alertmanager", [
        `--config.file=${configFile}`,
        `--storage.path=${path.join(options.work, "alertmanager")}`,
        `--web.listen-address=127.0.0.1:${alertmanagerPort}`,
        "--cluster.listen-address=",
    ]);
    const logFile = path.join(options.projectDir, ".herd", "robot.jsonl");
    const entries = () => readRobotLog(logFile).entries;
    const alertmanager = `http://127.0.0.1:${alertmanagerPort}`;
    const ready = async () => {
        await until("the robot to listen", () => entries().some((e) => e.event === "started"), 120_000);
        await until("Alertmanager to be ready", async () => (await fetch(`${alertmanager}/-/ready`)).ok, 120_000);
    };
    return { alertmanager, logFile, entries, ready };
}
