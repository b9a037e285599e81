import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { authenticates, Credentials } from "./auth";
import type { Executor } from "./executor";
import type { RobotStack } from "./fleets";
import { RobotLog } from "./log";
import { decide, Decision, emptyMemory, fleetAlert, observe, remember, RobotMemory, RobotSettings } from "./planner";
import { readWebhook } from "./webhook";

/** The path Alertmanager posts to: `url: http://127.0.0.1:9095/alerts`. */
export const ALERTS_PATH = "/alerts";

/** Largest request body accepted, in bytes. @default 1 MiB: a notification of a few hundred alerts */
export const DEFAULT_MAX_BODY = 1024 * 1024;

/** How the robot is set up. */
export interface RobotOptions {
    /** Address to listen on. @default "127.0.0.1" */
    readonly host?: string;
    /** Port to listen on; 0 picks a free one. */
    readonly port: number;
    /** Certificate and key (PEM) to serve HTTPS; required when `host` is not a loopback address. */
    readonly tls?: { readonly cert: string; readonly key: string };
    /** What a request must present. */
    readonly credentials: Credentials;
    /** @default {@link DEFAULT_MAX_BODY} */
    readonly maxBodyBytes?: number;
    /** The stacks served: their fleets, read from the stack file at each call; `undefined` for a stack not served. */
    readonly stacks: (stack: string) => RobotStack | undefined;
    readonly settings: RobotSettings;
    readonly log: RobotLog;
    readonly executor: Executor;
    /** What the robot remembers from its log (see `memoryFromLog`). @default nothing */
    readonly memory?: RobotMemory;
    /** @default Date.now */
    readonly now?: () => number;
}

/** Whether an address is on the loopback interface, where plain HTTP stays on the machine. */
export function isLoopback(host: string): boolean {
    return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "::1" || host === "localhost";
}

/** Answer to one alert, in the response body (what Alertmanager logs on failure, and tests read). */
interface AlertAnswer {
    readonly fingerprint: string;
    readonly alertname: string;
    readonly decision: Decision["action"];
    readonly reason: string;
}

class Refusal extends Error {
    constructor(
        readonly status: number,
        message: string,
    ) {
        super(message);
    }
}

/**
 * The robot: an HTTP(S) server that takes Alertmanager's webhook notifications and acts on the
 * alerts herd's rules raise. A request is let in only with the credentials, a JSON body under
 * the size limit, and a valid notification; anything else is answered 401, 413, 415 or 400, is
 * logged, and changes nothing. Each alert is then decided (see `decide`) and logged; an action
 * runs in the background, one per stack at a time, and its outcome is logged too.
 */
export class Robot {
    private readonly server: http.Server;
    private readonly memory: RobotMemory;
    private readonly running = new Set<Promise<void>>();
    private readonly now: () => number;

    constructor(private readonly options: RobotOptions) {
        const host = options.host ?? "127.0.0.1";
        if (!isLoopback(host) && !options.tls) {
            throw new Error(`the robot listens on ${host}, beyond loopback: give it a TLS certificate and key`);
        }
        this.memory = options.memory ?? emptyMemory();
        this.now = options.now ?? Date.now;
        const handler = (request: http.IncomingMessage, response: http.ServerResponse) => this.handle(request, response);
        this.server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler) : http.createServer(handler);
        // A slow sender cannot hold a connection: the whole request within 10 s.
        this.server.requestTimeout = 10_000;
        this.server.headersTimeout = 5_000;
    }

    /** Starts listening; resolves with the address and port. */
    listen(): Promise<AddressInfo> {
        return new Promise((resolve, reject) => {
            this.server.once("error", reject);
            this.server.listen(this.options.port, this.options.host ?? "127.0.0.1", () => {
                this.server.off("error", reject);
                resolve(this.server.address() as AddressInfo);
            });
        });
    }

    /** Resolves when every action under way has ended. */
    async idle(): Promise<void> {
        while (this.running.size > 0) {
            await Promise.all([...this.running]);
        }
    }

    /** Stops taking requests, then waits for the actions under way (an interrupted `pulumi up` would leave pending operations). */
    async close(): Promise<void> {
        await new Promise<void>((resolve) => {
            this.server.close(() => resolve());
            this.server.closeAllConnections();
        });
        await this.idle();
    }

    private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
        const remote = `${request.socket.remoteAddress ?? "?"}:${request.socket.remotePort ?? "?"}`;
        const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
            response.writeHead(status, { "content-type": "application/json", ...headers });
            response.end(`${JSON.stringify(body)}\n`);
        };
        const refuse = (status: number, reason: string, headers: Record<string, string> = {}) => {
            this.options.log.append({ event: "refused", status, remote, reason });
            answer(status, { error: reason }, headers);
            // Whatever the client still sends is not read.
            request.resume();
        };
        const url = new URL(request.url ?? "/", "http://robot");
        if (url.pathname !== ALERTS_PATH) {
            refuse(404, `no such path: ${url.pathname.slice(0, 200)} (Alertmanager posts to ${ALERTS_PATH})`);
            return;
        }
        if (!authenticates(request.headers.authorization, this.options.credentials)) {
            refuse(401, request.headers.authorization === undefined ? "no credentials" : "wrong credentials", {
                "www-authenticate": this.options.credentials.kind === "bearer" ? "Bearer" : 'Basic realm="herd robot"',
            });
            return;
        }
        if (request.method !== "POST") {
            refuse(405, `method ${request.method} not allowed: POST only`, { allow: "POST" });
            return;
        }
        const type = (request.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
        if (type !== "application/json") {
            refuse(415, `content type "${type.slice(0, 100)}": application/json only`);
            return;
        }
        const limit = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY;
        const declared = Number(request.headers["content-length"] ?? "0");
        if (declared > limit) {
            refuse(413, `body of ${declared} bytes: at most ${limit}`, { connection: "close" });
            return;
        }
        this.readBody(request, limit).then(
            (body) => {
                try {
                    answer(200, { alerts: this.receive(body) });
                } catch (err) {
                    if (err instanceof Refusal) {
                        refuse(err.status, err.message);
                    } else {
                        refuse(500, `unexpected: ${(err as Error).message.split("\n")[0]}`);
                    }
                }
            },
            (err: unknown) => {
                if (err instanceof Refusal) {
                    refuse(err.status, err.message, err.status === 413 ? { connection: "close" } : {});
                } else {
                    request.destroy();
                }
            },
        );
    }

    /** Reads the body, refusing it as soon as it passes the limit (a chunked body has no declared length). */
    private readBody(request: http.IncomingMessage, limit: number): Promise<Buffer> {
        return new Promise((resolve, reject) => {
            const chunks: Buffer[] = [];
            let size = 0;
            let over = false;
            request.on("data", (chunk: Buffer) => {
                size += chunk.length;
                if (size > limit && !over) {
                    over = true;
                    chunks.length = 0;
                    reject(new Refusal(413, `body over ${limit} bytes`));
                } else if (!over) {
                    chunks.push(chunk);
                }
            });
            request.on("end", () => !over && resolve(Buffer.concat(chunks)));
            request.on("error", reject);
        });
    }

    /** Decides every alert of a notification; starts the actions; returns what was decided. */
    private receive(body: Buffer): AlertAnswer[] {
        let parsed: unknown;
        try {
            parsed = JSON.parse(body.toString("utf8"));
        } catch (err) {
            throw new Refusal(400, `not JSON: ${(err as Error).message.split("\n")[0]}`);
        }
        const webhook = readWebhook(parsed);
        if (typeof webhook === "string") {
            throw new Refusal(400, `not an Alertmanager notification: ${webhook}`);
        }
        const alerts = webhook.alerts.map(fleetAlert);
        for (const alert of alerts) {
            observe(this.memory, alert);
        }
        const answers: AlertAnswer[] = [];
        for (const [index, alert] of alerts.entries()) {
            const now = this.now();
            let decision: Decision;
            try {
                decision = decide(alert, this.options.stacks, this.memory, this.options.settings, now);
            } catch (err) {
                // A stack file that no longer validates: nothing is done until it does.
                decision = { action: "ignore", reason: `cannot read stack ${alert.stack}: ${(err as Error).message.split("\n")[0]}` };
            }
            const { alertname, status, fingerprint, startsAt, stack, fleet, slot } = alert;
            const summary = webhook.alerts[index].annotations.summary;
            this.options.log.append({
                event: "alert",
                alertname,
                alertStatus: status,
                fingerprint,
                startsAt,
                ...(summary ? { summary } : {}),
                ...(stack ? { stack } : {}),
                ...(fleet ? { fleet } : {}),
                ...(slot ? { slot } : {}),
                decision: decision.action,
                ...(this.options.settings.dryRun && decision.action !== "ignore" ? { dryRun: true } : {}),
                reason: decision.action === "ignore" || !this.options.settings.dryRun ? decision.reason : `dry run, would ${decision.action}: ${decision.reason}`,
            });
            answers.push({ fingerprint, alertname, decision: decision.action, reason: decision.reason });
            remember(this.memory, alert, decision, now);
            if (decision.action !== "ignore" && !this.options.settings.dryRun) {
                this.start(decision);
            }
        }
        return answers;
    }

    /** Runs an action in the background, its stack marked busy until it ends; logs its outcome. */
    private start(decision: Exclude<Decision, { action: "ignore" }>): void {
        this.memory.busy.add(decision.stack);
        const where = { stack: decision.stack, fleet: decision.fleet.name, ...(decision.action === "heal" ? { slot: decision.slot } : {}) };
        const run = async () => {
            try {
                const outcome =
                    decision.action === "heal"
                        ? await this.options.executor.heal({ stack: decision.stack, fleet: decision.fleet, slot: decision.slot, settings: this.options.stacks(decision.stack)?.settings?.[decision.fleet.backend] })
                        : await this.options.executor.rollback({ stack: decision.stack, fleet: decision.fleet, mode: decision.mode, reason: decision.reason });
                this.options.log.append({ event: "action", decision: decision.action, ...where, outcome: "done", ...outcome });
            } catch (err) {
                this.options.log.append({ event: "action", decision: decision.action, ...where, outcome: "failed", reason: (err as Error).message.split("\n")[0] });
            } finally {
                this.memory.busy.delete(decision.stack);
            }
        };
        const promise = run().finally(() => this.running.delete(promise));
        this.running.add(promise);
    }
}
