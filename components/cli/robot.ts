import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { durationMs } from "../monitoring/gate";
import { CredentialsError, readCredentials } from "../robot/auth";
import { EngineExecutor, Executor } from "../robot/executor";
import { robotStack, RobotStack } from "../robot/fleets";
import { memoryFromLog, readRobotLog, RobotLog } from "../robot/log";
import { DEFAULT_SETTINGS, emptyMemory } from "../robot/planner";
import { ALERTS_PATH, DEFAULT_MAX_BODY, isLoopback, Robot } from "../robot/server";
import { CliError, CliIo, ExitCode } from "./io";
import { withFileLock } from "./lock";
import { locateProject, readStackText, StackProject } from "./project";

/** Flags of `herd robot`. */
export interface RobotFlags {
    readonly stack: string[];
    readonly dir?: string;
    readonly program?: string;
    readonly listen: string;
    readonly tokenFile?: string;
    readonly basicAuthFile?: string;
    readonly tlsCert?: string;
    readonly tlsKey?: string;
    readonly log?: string;
    readonly budget: string;
    readonly window: string;
    readonly maxBody: string;
    readonly dryRun?: boolean;
    readonly push?: string;
}

/** Where the robot listens by default: loopback, beside Alertmanager. */
export const DEFAULT_LISTEN = "127.0.0.1:9095";

/** The robot's log when `--log` is not given, relative to the project directory. */
export const DEFAULT_LOG = path.join(".herd", "robot.jsonl");

/** `127.0.0.1:9095`, `[::1]:9095` → host and port. */
export function parseListen(value: string): { host: string; port: number } {
    const match = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
    const port = match ? Number(match[3]) : NaN;
    if (!match || port > 65535) {
        throw new CliError(`--listen ${JSON.stringify(value)}: expected host:port, e.g. ${DEFAULT_LISTEN} or [::1]:9095 (port 0 picks a free one)`);
    }
    return { host: match[1] ?? match[2], port };
}

function wholeNumber(flag: string, value: string, min: number): number {
    if (!/^\d{1,9}$/.test(value) || Number(value) < min) {
        throw new CliError(`${flag} ${JSON.stringify(value)}: expected a whole number ≥ ${min}`);
    }
    return Number(value);
}

/** Everything `herd robot` needs, checked before it listens: one message for the first problem. */
export interface RobotSetup {
    readonly host: string;
    readonly port: number;
    readonly projects: ReadonlyMap<string, StackProject>;
    readonly logFile: string;
}

/** Checks the flags and the stack files; reads nothing secret into messages. */
export function robotSetup(flags: RobotFlags, cwd: string): RobotSetup {
    const { host, port } = parseListen(flags.listen);
    if (!isLoopback(host) && !(flags.tlsCert && flags.tlsKey)) {
        throw new CliError(`--listen ${flags.listen} is beyond loopback: give --tls-cert and --tls-key, so that credentials and alerts do not cross the network in clear`);
    }
    if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
        throw new CliError("--tls-cert and --tls-key go together");
    }
    if (Boolean(flags.tokenFile) === Boolean(flags.basicAuthFile)) {
        throw new CliError("give exactly one of --token-file (a bearer token) and --basic-auth-file (username:password): the robot lets in only requests that carry it");
    }
    const projects = new Map<string, StackProject>();
    for (const stack of flags.stack) {
        const project = locateProject({ stack, dir: flags.dir, program: flags.program }, cwd);
        robotStack(readStackText(project), project.stackFileName, stack, project.dir);
        projects.set(stack, project);
    }
    const dir = path.resolve(cwd, flags.dir ?? ".");
    return { host, port, projects, logFile: path.resolve(dir, flags.log ?? DEFAULT_LOG) };
}

/**
 * Runs the robot until SIGTERM or SIGINT, then stops taking requests, waits for the action under
 * way and returns. The log is locked (`<log>.lock`) while it runs: two robots on one log would
 * both act on every alert.
 *
 * @param executor @default the real one ({@link EngineExecutor})
 * @param stopped resolves when the robot should stop @default a signal
 */
export async function runRobot(flags: RobotFlags, io: CliIo, executor?: Executor, stopped?: Promise<unknown>): Promise<number> {
    const setup = robotSetup(flags, io.cwd);
    const settings = {
        budget: wholeNumber("--budget", flags.budget, 0),
        windowMs: (() => {
            try {
                return durationMs(flags.window);
            } catch {
                throw new CliError(`--window ${JSON.stringify(flags.window)}: expected a duration such as 30m or 1h`);
            }
        })(),
        dryRun: Boolean(flags.dryRun),
    };
    const maxBodyBytes = wholeNumber("--max-body", flags.maxBody, 1024);
    let credentials;
    try {
        credentials = flags.tokenFile ? readCredentials(path.resolve(io.cwd, flags.tokenFile), "bearer") : readCredentials(path.resolve(io.cwd, flags.basicAuthFile as string), "basic");
    } catch (err) {
        throw err instanceof CredentialsError ? new CliError(err.message) : err;
    }
    const read = (file: string, flag: string) => {
        try {
            return fs.readFileSync(path.resolve(io.cwd, file), "utf8");
        } catch (err) {
            throw new CliError(`${flag} ${file}: ${(err as Error).message.split("\n")[0]}`);
        }
    };
    const tls = flags.tlsCert && flags.tlsKey ? { cert: read(flags.tlsCert, "--tls-cert"), key: read(flags.tlsKey, "--tls-key") } : undefined;
    fs.mkdirSync(path.dirname(setup.logFile), { recursive: true, mode: 0o700 });
    return withFileLock(setup.logFile, `the robot log ${setup.logFile}`, async () => {
        const remembered = memoryFromLog(readRobotLog(setup.logFile).entries);
        const memory = { ...emptyMemory(), handled: new Set(remembered.handled), actions: remembered.actions };
        const log = new RobotLog(setup.logFile);
        const stacks = (stack: string): RobotStack | undefined => {
            const project = setup.projects.get(stack);
            return project && robotStack(readStackText(project), project.stackFileName, stack, project.dir);
        };
        const projectDir = [...setup.projects.values()][0].dir;
        const robot = new Robot({
            host: setup.host,
            port: setup.port,
            ...(tls ? { tls } : {}),
            credentials,
            maxBodyBytes,
            stacks,
            settings,
            log,
            memory,
            executor: executor ?? new EngineExecutor({ projectDir, ...(flags.push ? { pushRemote: flags.push } : {}) }),
        });
        const address = await robot.listen();
        const where = `${tls ? "https" : "http"}://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}${ALERTS_PATH}`;
        log.append({ event: "started", reason: `listening on ${where} for stacks ${flags.stack.join(", ")}${settings.dryRun ? ", dry run" : ""}` });
        io.stdout(
            `herd robot (pid ${process.pid}) listening on ${where} for stack${flags.stack.length > 1 ? "s" : ""} ${flags.stack.join(", ")}` +
                `${settings.dryRun ? " — dry run: it only says what it would do" : ""}; budget ${settings.budget} per fleet per ${flags.window}; log ${setup.logFile}\n` +
                `Stop it with: kill ${process.pid}\n`,
        );
        await (stopped ??
            new Promise<void>((resolve) => {
                process.once("SIGTERM", () => resolve());
                process.once("SIGINT", () => resolve());
            }));
        await robot.close();
        log.append({ event: "stopped", reason: "signal" });
        log.close();
        io.stdout("herd robot stopped\n");
        return ExitCode.Ok;
    });
}

/** `herd robot`: acts on Alertmanager's alerts (see the README, "The robot"). */
export function addRobotCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    cli.command("robot")
        .summary("receive Alertmanager's webhooks: replace members that are down, roll back canaries that alert")
        .description(
            "listen for Alertmanager's webhook notifications (POST " + ALERTS_PATH + ") and act on herd's alerts: a HerdMemberDown alert replaces that member " +
                "(a targeted pulumi up, or on Kubernetes an eviction of the pod), within a budget per fleet, never below alerts.minHealthy, one action per stack at a time; " +
                "a HerdCanary* alert during a rollout rolls the fleet back when its robot.rollback says so (a commit and pulumi up, or a branch). " +
                "Only requests with the bearer token or basic auth of the given file get in. Every request and decision goes to an append-only JSON-lines log. " +
                "Runs until SIGTERM or SIGINT",
        )
        .requiredOption("-s, --stack <name...>", "the stacks to act on (Pulumi.<name>.yaml); alerts of other stacks are ignored")
        .option("--listen <host:port>", "the address to listen on; beyond loopback, --tls-cert and --tls-key are required", DEFAULT_LISTEN)
        .option("--token-file <file>", "a file holding the bearer token Alertmanager sends (authorization.credentials_file), mode 0600")
        .option("--basic-auth-file <file>", "a file holding username:password Alertmanager sends (basic_auth), mode 0600")
        .option("--tls-cert <file>", "PEM certificate to serve HTTPS with")
        .option("--tls-key <file>", "PEM key of --tls-cert")
        .option("--log <file>", `the append-only log (default: <projectDir>/${DEFAULT_LOG})`)
        .option("--budget <n>", "at most this many actions per fleet per window", String(DEFAULT_SETTINGS.budget))
        .option("--window <duration>", "the budget's window, e.g. 30m or 1h", "1h")
        .option("--max-body <bytes>", "largest request body accepted", String(DEFAULT_MAX_BODY))
        .option("--dry-run", "decide and log, do nothing")
        .option("--push <remote>", "push the branch of a rollback in branch mode to this git remote")
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .option("-p, --program <path>", "the program's entry module (default: <projectDir>/index.ts)")
        .action(async (flags: RobotFlags) => {
            exit(await runRobot(flags, io));
        });
}
