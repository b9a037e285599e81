import * as fs from "node:fs";
import { spawnSync } from "node:child_process";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import {
    ActionOutcome,
    Credentials,
    DEFAULT_SETTINGS,
    Executor,
    HealAction,
    readRobotLog,
    Robot,
    RobotLog,
    RobotSettings,
    RobotStack,
    RollbackAction,
} from "../components/robot";
import { notification, webhookAlert } from "./helpers/robot";

const TOKEN = "0123456789abcdef0123456789abcdef";
const credentials: Credentials = { kind: "bearer", token: TOKEN };
const stacks = (stack: string): RobotStack | undefined =>
    stack === "prod"
        ? {
              fleets: {
                  web: { name: "web", backend: "openstack", size: 12, minHealthy: 10, heal: true, rollback: "off" },
                  api: { name: "api", backend: "kubernetes", config: { namespace: "api" }, size: 6, minHealthy: 4, heal: true, rollback: "commit", rolloutMembers: 1 },
              },
          }
        : undefined;

/** Records what it is asked to do; an action lasts until {@link release} is called. */
class RecordingExecutor implements Executor {
    readonly heals: HealAction[] = [];
    readonly rollbacks: RollbackAction[] = [];
    private pending: (() => void)[] = [];
    hold = false;

    private wait(): Promise<void> {
        return this.hold ? new Promise((resolve) => this.pending.push(resolve)) : Promise.resolve();
    }
    release(): void {
        this.pending.splice(0).forEach((resolve) => resolve());
    }
    async heal(action: HealAction): Promise<ActionOutcome> {
        this.heals.push(action);
        await this.wait();
        return { reason: `replaced ${action.fleet.name}-${action.slot}` };
    }
    async rollback(action: RollbackAction): Promise<ActionOutcome> {
        this.rollbacks.push(action);
        await this.wait();
        return { reason: "rolled back", commit: "0123456789ab" };
    }
}

interface Answer {
    status: number;
    body: string;
}

/** One HTTP request to the robot; `chunks` sends the body in pieces, without a declared length. */
function send(port: number, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] }): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const request = http.request(
            { host: "127.0.0.1", port, method: options.method ?? "POST", path: options.path ?? "/alerts", headers: { "content-type": "application/json", ...options.headers } },
            (response) => {
                let body = "";
                response.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
                response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
            },
        );
        request.on("error", reject);
        if (options.chunks) {
            options.chunks.forEach((chunk) => request.write(chunk));
            request.end();
        } else {
            request.end(options.body);
        }
    });
}

const auth = { authorization: `Bearer ${TOKEN}` };
const json = (value: unknown) => JSON.stringify(value);

describe("robot: the webhook receiver", () => {
    let dir: string;
    let logFile: string;
    let log: RobotLog;
    let executor: RecordingExecutor;
    let robot: Robot;
    let port: number;

    async function start(settings: Partial<RobotSettings> = {}, extra: { maxBodyBytes?: number; credentials?: Credentials } = {}): Promise<void> {
        robot = new Robot({ port: 0, credentials: extra.credentials ?? credentials, stacks, settings: { ...DEFAULT_SETTINGS, ...settings }, log, executor, ...(extra.maxBodyBytes ? { maxBodyBytes: extra.maxBodyBytes } : {}) });
        port = (await robot.listen()).port;
    }

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-robot-"));
        logFile = path.join(dir, "robot.jsonl");
        log = new RobotLog(logFile);
        executor = new RecordingExecutor();
    });
    afterEach(async () => {
        executor.release();
        await robot?.close();
        log.close();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    const entries = () => readRobotLog(logFile).entries;
    const nothingDone = () => {
        expect(executor.heals, "heals").to.deep.equal([]);
        expect(executor.rollbacks, "rollbacks").to.deep.equal([]);
        expect(entries().filter((e) => e.event === "alert" || e.event === "action"), "alerts decided").to.deep.equal([]);
    };

    it("replaces the member a notification says is down, and logs the alert, the decision and the outcome", async () => {
        await start();
        const answer = await send(port, { headers: auth, body: json(notification([webhookAlert({})])) });
        expect(answer.status).to.equal(200);
        expect(JSON.parse(answer.body).alerts).to.deep.equal([
            { fingerprint: "a1b2c3d4e5f60718", alertname: "HerdMemberDown", decision: "heal", reason: "HerdMemberDown fired for member 3 of fleet web; 11 of 12 stay up (minHealthy 10)" },
        ]);
        await robot.idle();
        expect(executor.heals.map((h) => [h.stack, h.fleet.name, h.slot])).to.deep.equal([["prod", "web", "3"]]);
        const logged = entries();
        expect(logged.map((e) => [e.event, e.decision, e.outcome])).to.deep.equal([
            ["alert", "heal", undefined],
            ["action", "heal", "done"],
        ]);
        expect(logged[0]).to.deep.include({ stack: "prod", fleet: "web", slot: "3", fingerprint: "a1b2c3d4e5f60718", summary: "Member 3 of fleet web (prod) is down" });
        expect(logged[1].reason).to.equal("replaced web-3");
    });

    const hostile: [string, Parameters<typeof send>[1], number, RegExp][] = [
        ["no credentials", { body: json(notification([webhookAlert({})])) }, 401, /no credentials/],
        ["a wrong token", { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}0` }, body: json(notification([webhookAlert({})])) }, 401, /wrong credentials/],
        ["the token as basic auth", { headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` }, body: json(notification([webhookAlert({})])) }, 401, /wrong credentials/],
        ["the token in the query", { path: `/alerts?token=${TOKEN}`, body: json(notification([webhookAlert({})])) }, 401, /no credentials/],
        ["another path", { path: "/admin", headers: auth, body: "{}" }, 404, /no such path: \/admin/],
        ["a GET", { method: "GET", headers: auth }, 405, /POST only/],
        ["a body that is not JSON", { headers: auth, body: "{not json" }, 400, /not JSON/],
        ["a form", { headers: { ...auth, "content-type": "application/x-www-form-urlencoded" }, body: "a=b" }, 415, /application\/json only/],
        ["JSON that is no notification", { headers: auth, body: json({ alerts: "all" }) }, 400, /not an Alertmanager notification: version/],
        ["a forged alert", { headers: auth, body: json(notification([webhookAlert({}, { fingerprint: "'; DROP TABLE" })])) }, 400, /alerts\[0\]\.fingerprint: 16 hexadecimal digits/],
        ["an oversized body, declared", { headers: auth, body: json(notification([webhookAlert({ filler: "x".repeat(5000) })])) }, 413, /body of \d+ bytes: at most 4096/],
        ["an oversized body, chunked", { headers: auth, chunks: [Buffer.from(json(notification([webhookAlert({})]))), Buffer.alloc(5000, 32)] }, 413, /body over 4096 bytes/],
    ];
    for (const [what, request, status, reason] of hostile) {
        it(`answers ${what} with ${status}, logs it, and does nothing`, async () => {
            await start({}, { maxBodyBytes: 4096 });
            const answer = await send(port, request);
            expect(answer.status).to.equal(status);
            expect(JSON.parse(answer.body).error).to.match(reason);
            await robot.idle();
            nothingDone();
            const refused = entries().filter((e) => e.event === "refused");
            expect(refused).to.have.length(1);
            expect(refused[0]).to.deep.include({ status });
            expect(refused[0].reason).to.match(reason);
            expect(refused[0].remote).to.match(/^127\.0\.0\.1:\d+$/);
            // The secret is never written to the log.
            expect(fs.readFileSync(logFile, "utf8")).to.not.include(TOKEN.slice(0, 16));
        });
    }

    it("takes basic auth when set up with it, and refuses the bearer scheme then", async () => {
        await start({}, { credentials: { kind: "basic", username: "alertmanager", password: TOKEN } });
        const body = json(notification([webhookAlert({})]));
        expect((await send(port, { headers: auth, body })).status).to.equal(401);
        nothingDone();
        const basic = { authorization: `Basic ${Buffer.from(`alertmanager:${TOKEN}`).toString("base64")}` };
        expect((await send(port, { headers: basic, body })).status).to.equal(200);
        await robot.idle();
        expect(executor.heals).to.have.length(1);
    });

    it("acts once on a replayed notification: the second is logged as a duplicate", async () => {
        await start();
        const body = json(notification([webhookAlert({})]));
        await send(port, { headers: auth, body });
        await robot.idle();
        const again = await send(port, { headers: auth, body });
        expect(again.status).to.equal(200);
        expect(JSON.parse(again.body).alerts[0]).to.deep.include({ decision: "ignore" });
        expect(JSON.parse(again.body).alerts[0].reason).to.match(/^duplicate: /);
        await robot.idle();
        expect(executor.heals).to.have.length(1);
    });

    it("runs one action per stack at a time: a second member waits for the next notification", async () => {
        await start();
        executor.hold = true;
        const body = json(notification([webhookAlert({ herd_slot: "3" }), webhookAlert({ herd_slot: "4" }, { fingerprint: "b1b2c3d4e5f60718" })]));
        const answer = JSON.parse((await send(port, { headers: auth, body })).body);
        expect(answer.alerts.map((a: { decision: string }) => a.decision)).to.deep.equal(["heal", "ignore"]);
        expect(answer.alerts[1].reason).to.equal("another action on stack prod is under way");
        executor.release();
        await robot.idle();
        // Alertmanager sends the group again: the member still down is replaced now.
        const later = JSON.parse((await send(port, { headers: auth, body })).body);
        expect(later.alerts.map((a: { decision: string }) => a.decision)).to.deep.equal(["ignore", "heal"]);
        executor.release();
        await robot.idle();
        expect(executor.heals.map((h) => h.slot)).to.deep.equal(["3", "4"]);
    });

    it("in a dry run, says what it would do and does nothing", async () => {
        await start({ dryRun: true });
        const answer = await send(port, { headers: auth, body: json(notification([webhookAlert({})])) });
        expect(answer.status).to.equal(200);
        await robot.idle();
        expect(executor.heals).to.deep.equal([]);
        const [entry] = entries();
        expect(entry).to.deep.include({ event: "alert", decision: "heal", dryRun: true });
        expect(entry.reason).to.equal("dry run, would heal: HerdMemberDown fired for member 3 of fleet web; 11 of 12 stay up (minHealthy 10)");
    });

    it("rolls back an opted-in fleet whose canary alerts, and logs the commit", async () => {
        await start();
        const canary = webhookAlert({ alertname: "HerdCanaryErrorRate", herd_fleet: "api", herd_slot: "" });
        await send(port, { headers: auth, body: json(notification([canary])) });
        await robot.idle();
        expect(executor.rollbacks.map((r) => [r.stack, r.fleet.name, r.mode])).to.deep.equal([["prod", "api", "commit"]]);
        expect(entries()[1]).to.deep.include({ event: "action", decision: "rollback", outcome: "done", commit: "0123456789ab" });
    });

    it("logs a failed action, and frees the stack for the next", async () => {
        await start();
        executor.heal = async () => {
            throw new Error("pulumi up of stack prod failed (exit 255): error: the stack is currently locked by 1 lock(s)");
        };
        await send(port, { headers: auth, body: json(notification([webhookAlert({})])) });
        await robot.idle();
        expect(entries()[1]).to.deep.include({ event: "action", outcome: "failed", reason: "pulumi up of stack prod failed (exit 255): error: the stack is currently locked by 1 lock(s)" });
    });

    it("serves HTTPS with a certificate, for an address beyond loopback; plain HTTP gets nothing", async () => {
        const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")], { encoding: "utf8" });
        expect(made.status, made.stderr).to.equal(0);
        const tls = { cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8"), key: fs.readFileSync(path.join(dir, "key.pem"), "utf8") };
        robot = new Robot({ host: "127.0.0.1", port: 0, tls, credentials, stacks, settings: DEFAULT_SETTINGS, log, executor });
        port = (await robot.listen()).port;
        const body = JSON.stringify(notification([webhookAlert({})]));
        const status = await new Promise<number>((resolve, reject) => {
            const request = https.request({ host: "127.0.0.1", port, method: "POST", path: "/alerts", ca: tls.cert, headers: { ...auth, "content-type": "application/json" } }, (response) => {
                response.resume();
                resolve(response.statusCode ?? 0);
            });
            request.on("error", reject);
            request.end(body);
        });
        expect(status).to.equal(200);
        await robot.idle();
        expect(executor.heals).to.have.length(1);
        // The same request in clear text is not HTTP the server answers.
        const clear = await send(port, { headers: auth, body }).then((a) => a.status, () => 0);
        expect(clear).to.not.equal(200);
        expect(executor.heals).to.have.length(1);
    });

    it("refuses to listen beyond loopback without TLS", () => {
        expect(() => new Robot({ host: "0.0.0.0", port: 0, credentials, stacks, settings: DEFAULT_SETTINGS, log, executor })).to.throw(
            "the robot listens on 0.0.0.0, beyond loopback: give it a TLS certificate and key",
        );
    });
});
