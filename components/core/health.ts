import { ConfigProblem } from "../config/errors";
import { HTTP_PATH_ALLOWED, isHttpPath, isProcessText, PROCESS_TEXT_ALLOWED } from "../config/grammar";

/**
 * A fleet's health check, told apart by its keys: `{ path, port }` is HTTP, `{ port }` is TCP,
 * `{ command }` runs a command in the member. Each backend runs it the way its platform can (see
 * the README, "Health checks"); a check a backend cannot run is refused before anything exists.
 */

/**
 * An HTTP check: a GET of `path` on `port` must answer 200 (OpenStack) or 200–399 (Kubernetes, Docker).
 *
 * @group Health checks
 */
export interface HttpHealthCheck {
    /** HTTP path, e.g. `/healthz`. */
    readonly path: string;
    /** Port the member serves (and is checked) on. */
    readonly port: number;
    /** Only for {@link CommandHealthCheck}. */
    readonly command?: never;
}

/**
 * A TCP check: the member must accept connections on `port` (e.g. Redis on 6379).
 *
 * @group Health checks
 */
export interface TcpHealthCheck {
    /** Port the member serves (and is checked) on. */
    readonly port: number;
    /** Only for {@link HttpHealthCheck}. */
    readonly path?: never;
    /** Only for {@link CommandHealthCheck}. */
    readonly command?: never;
}

/**
 * A command run inside the member, healthy when it exits 0, e.g. `["redis-cli", "ping"]`. It is
 * executed as it is, without a shell (give `["sh", "-c", "…"]` for one). Kubernetes and Docker
 * run it; OpenStack cannot (Octavia checks members from outside).
 *
 * @group Health checks
 */
export interface CommandHealthCheck {
    /** The program and its arguments. */
    readonly command: readonly string[];
    /** Only for {@link HttpHealthCheck}. */
    readonly path?: never;
    /** Only for {@link HttpHealthCheck} and {@link TcpHealthCheck}. */
    readonly port?: never;
}

/**
 * A check every member must pass to receive traffic: HTTP, TCP or a command.
 *
 * @group Health checks
 */
export type HealthCheck = HttpHealthCheck | TcpHealthCheck | CommandHealthCheck;

/** What kind of check a {@link HealthCheck} is. */
export type HealthCheckKind = "http" | "tcp" | "command";

/** The kind of a health check that {@link healthProblems} accepted. */
export function healthCheckKind(health: HealthCheck): HealthCheckKind {
    return health.command !== undefined ? "command" : health.path !== undefined ? "http" : "tcp";
}

/** What a health check's port is, in words. */
export const HEALTH_PORT_ALLOWED = "a port, 1–65535: { port } checks TCP, { path, port } HTTP; or { command } runs a command in the member instead";

/** What a health check's command is, in words. */
export const HEALTH_COMMAND_ALLOWED = `a command run in the member, e.g. [redis-cli, ping]: a non-empty list of arguments, each ${PROCESS_TEXT_ALLOWED}`;

/** Why a backend whose platform checks members from outside refuses a command. */
export const HEALTH_COMMAND_OUTSIDE =
    "{ path, port } (HTTP) or { port } (TCP): an OpenStack fleet's members are checked from outside, by Octavia's health monitor, which cannot run a command in a server";

const isPort = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= 65535;

/**
 * Every problem of a health check, with key paths relative to the check (`["port"]`), for the
 * stack config and for callers from code alike.
 *
 * @param health the check as given (from code or a stack file)
 * @param commands whether the backend can run a command in its members; `false` on OpenStack
 */
export function healthProblems(health: unknown, commands = true): ConfigProblem[] {
    if (health === null || typeof health !== "object" || Array.isArray(health)) {
        return [{ path: [], value: health, allowed: "{ path, port } (HTTP), { port } (TCP) or { command } (run in the member)" }];
    }
    const check = health as Record<string, unknown>;
    const problems: ConfigProblem[] = [];
    if (check.command !== undefined) {
        const command = check.command;
        if (!Array.isArray(command) || command.length === 0 || !command.every((argument) => typeof argument === "string" && argument !== "")) {
            problems.push({ path: ["command"], value: command, allowed: HEALTH_COMMAND_ALLOWED });
        } else {
            command.forEach((argument, i) => {
                if (!isProcessText(argument)) {
                    problems.push({ path: ["command", i], value: argument, allowed: PROCESS_TEXT_ALLOWED });
                }
            });
        }
        for (const key of ["path", "port"] as const) {
            if (check[key] !== undefined) {
                problems.push({
                    path: [key],
                    value: check[key],
                    allowed: "nothing beside command: a command check runs in the member, without a port or path ({ port } alone checks TCP)",
                });
            }
        }
        if (!commands && problems.length === 0) {
            problems.push({ path: ["command"], value: command, allowed: HEALTH_COMMAND_OUTSIDE });
        }
        return problems;
    }
    if (check.path !== undefined && !isHttpPath(check.path)) {
        problems.push({ path: ["path"], value: check.path, allowed: HTTP_PATH_ALLOWED });
    }
    if (!isPort(check.port)) {
        problems.push({ path: ["port"], value: check.port, allowed: check.port === undefined ? HEALTH_PORT_ALLOWED : "a port, 1–65535" });
    }
    return problems;
}

/** A health check in canonical form (keys in a fixed order, the command copied), so equal checks give equal inputs. */
export function canonicalHealthCheck(health: HealthCheck): HealthCheck {
    switch (healthCheckKind(health)) {
        case "command":
            return { command: [...(health.command as readonly string[])] };
        case "http":
            return { path: health.path as string, port: health.port as number };
        default:
            return { port: health.port as number };
    }
}
