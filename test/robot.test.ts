import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import {
    alertKey,
    authenticates,
    canonicalTime,
    Credentials,
    decide,
    DEFAULT_SETTINGS,
    emptyMemory,
    FleetAlert,
    fleetAlert,
    memoryFromLog,
    observe,
    readCredentials,
    readRobotLog,
    readWebhook,
    remember,
    RobotFleet,
    RobotLog,
    RobotMemory,
    RobotStack,
    robotStack,
} from "../components/robot";
import { canaryGateAlert } from "../components/monitoring";
import { memberUrn } from "../components/robot/upWorker";
import { runProgram } from "../components/testing";
import { notification, webhookAlert } from "./helpers/robot";
import { PROGRAM, PROJECT_DIR } from "./helpers/project";

const NOW = Date.parse("2026-11-27T15:00:00Z");

const web: RobotFleet = { name: "web", backend: "openstack", size: 12, minHealthy: 10, heal: true, rollback: "off" };
const api: RobotFleet = { name: "api", backend: "kubernetes", config: { namespace: "api" }, size: 6, minHealthy: 4, heal: true, rollback: "commit", rolloutMembers: 1 };
const quiet: RobotFleet = { ...web, name: "quiet", heal: false };
const stacks = (stack: string): RobotStack | undefined => (stack === "prod" ? { fleets: { web, api, quiet } } : undefined);

let fingerprints = 0;
/** A firing alert of herd's rules, with a fresh fingerprint unless given. */
function alert(fields: Partial<FleetAlert> = {}): FleetAlert {
    return {
        alertname: "HerdMemberDown",
        status: "firing",
        fingerprint: (fingerprints++).toString(16).padStart(16, "0"),
        startsAt: "2026-11-27T14:50:00.000000000Z",
        stack: "prod",
        fleet: "web",
        slot: "3",
        ...fields,
    };
}

/** Observes every alert, then decides the last one, as the robot does with a notification. */
function decideAll(memory: RobotMemory, ...alerts: FleetAlert[]) {
    alerts.forEach((a) => observe(memory, a));
    return decide(alerts[alerts.length - 1], stacks, memory, DEFAULT_SETTINGS, NOW);
}

describe("robot: deciding what an alert asks for", () => {
    it("heals the member a HerdMemberDown alert names, and says why", () => {
        const decision = decideAll(emptyMemory(), alert());
        expect(decision).to.deep.include({ action: "heal", stack: "prod", slot: "3" });
        expect(decision.reason).to.equal("HerdMemberDown fired for member 3 of fleet web; 11 of 12 stay up (minHealthy 10)");
    });

    const ignored: [string, Partial<FleetAlert>, string][] = [
        ["a resolved alert", { status: "resolved" }, "resolved: nothing to do"],
        ["an alert without herd's labels", { stack: undefined, fleet: undefined }, "not a herd alert: it has no herd_stack and herd_fleet labels"],
        ["an unknown stack", { stack: "staging" }, 'unknown stack "staging": the robot does not serve it'],
        ["an unknown fleet", { fleet: "db" }, 'unknown fleet "db" in stack prod'],
        ["an alert the robot does not act on", { alertname: "HerdProbeNginxWorkerCrashes" }, "HerdProbeNginxWorkerCrashes: the robot acts on HerdMemberDown and HerdCanary* alerts only"],
        ["a member-down alert without a slot", { slot: undefined }, "HerdMemberDown without a herd_slot label: which member is down is unknown"],
        ["a slot beyond the fleet", { slot: "12" }, '"12" is not a slot of fleet web (0–11)'],
        ["a slot that is no number", { slot: "3; rm -rf /" }, '"3; rm -rf /" is not a slot of fleet web (0–11)'],
        ["a leading zero (another spelling of a slot)", { slot: "03" }, '"03" is not a slot of fleet web (0–11)'],
        ["a pod of another fleet", { fleet: "api", slot: "web-stable-1234-abcd" }, '"web-stable-1234-abcd" is not the name of a pod of fleet api (api-…)'],
        ["a pod name with a path in it", { fleet: "api", slot: "api-../../x" }, '"api-../../x" is not the name of a pod of fleet api (api-…)'],
        ["a fleet that does not heal", { fleet: "quiet" }, "healing fleet quiet is off (herd:fleets.quiet.robot.heal: false)"],
        ["a canary alert of a fleet that did not opt in", { alertname: "HerdCanaryErrorRate", slot: undefined }, "canary alert on fleet web: auto-rollback is off (herd:fleets.web.robot.rollback: commit | branch turns it on)"],
    ];
    for (const [what, fields, reason] of ignored) {
        it(`ignores ${what}, with a reason`, () => {
            expect(decideAll(emptyMemory(), alert(fields))).to.deep.equal({ action: "ignore", reason });
        });
    }

    it("heals a Kubernetes fleet's pod, named by herd_slot", () => {
        expect(decideAll(emptyMemory(), alert({ fleet: "api", slot: "api-stable-5f6d7c8b9-x2x4q" }))).to.deep.include({ action: "heal", slot: "api-stable-5f6d7c8b9-x2x4q" });
    });

    it("acts once on an alert: the same fingerprint and start again is a duplicate, whatever the time's spelling", () => {
        const memory = emptyMemory();
        const first = alert({ startsAt: canonicalTime("2026-11-27T14:50:00Z") });
        const decision = decideAll(memory, first);
        expect(decision.action).to.equal("heal");
        remember(memory, first, decision, NOW);
        memory.busy.clear();
        const again = { ...first, startsAt: canonicalTime("2026-11-27T15:50:00.000+01:00") };
        expect(decideAll(memory, again)).to.deep.equal({
            action: "ignore",
            reason: `duplicate: this alert (fingerprint ${first.fingerprint}, started 2026-11-27T14:50:00.000000000Z) was handled already`,
        });
        // The same series firing again later is a new event.
        expect(decideAll(memory, { ...first, startsAt: canonicalTime("2026-11-27T16:00:00Z") }).action).to.equal("heal");
    });

    it("spends at most the budget per fleet per window, then waits for the window to pass", () => {
        const memory = emptyMemory();
        memory.actions.set("prod/web", [NOW - 50 * 60_000, NOW - 10 * 60_000]);
        expect(decideAll(memory, alert())).to.deep.equal({ action: "ignore", reason: "budget spent: 2 actions on fleet web in the last 1h (at most 2)" });
        // Another fleet has a budget of its own.
        expect(decideAll(memory, alert({ fleet: "api", slot: "api-stable-1-a" })).action).to.equal("heal");
        // An hour after the first action, one is spendable again.
        expect(decide(alert(), stacks, memory, DEFAULT_SETTINGS, NOW + 10 * 60_000 + 1).action).to.equal("heal");
        expect(decide(alert(), stacks, memory, { ...DEFAULT_SETTINGS, budget: 3 }, NOW).action).to.equal("heal");
        expect(decide(alert(), stacks, memory, { ...DEFAULT_SETTINGS, budget: 0 }, NOW).reason).to.equal(
            "budget spent: 2 actions on fleet web in the last 1h (at most 0)",
        );
    });

    it("never takes the fleet below minHealthy: every member alerting as down counts, and the one replaced", () => {
        const memory = emptyMemory();
        // 12 members, minHealthy 10: two down leave 10, a third would leave 9.
        expect(decideAll(memory, alert({ slot: "1" }), alert({ slot: "2" })).action).to.equal("heal");
        expect(decideAll(memory, alert({ slot: "3" }))).to.deep.equal({
            action: "ignore",
            reason: "replacing 3 would leave 9 of 12 members of fleet web up while 3 are down, below minHealthy 10",
        });
        // When one of them resolves, there is room again.
        observe(memory, alert({ slot: "1", status: "resolved" }));
        expect(decide(alert({ slot: "3" }), stacks, memory, DEFAULT_SETTINGS, NOW).action).to.equal("heal");
    });

    it("holds off a fleet whose HerdFleetBelowMinHealthy fires, until it resolves", () => {
        const memory = emptyMemory();
        const below = alert({ alertname: "HerdFleetBelowMinHealthy", slot: undefined });
        expect(decideAll(memory, below, alert()).reason).to.equal(
            "fleet web is below its floor (HerdFleetBelowMinHealthy fires): more than a member is wrong, a person should look",
        );
        expect(decideAll(memory, { ...below, status: "resolved" }, alert()).action).to.equal("heal");
    });

    it("never runs two actions on one stack at once", () => {
        const memory = emptyMemory();
        memory.busy.add("prod");
        expect(decideAll(memory, alert())).to.deep.equal({ action: "ignore", reason: "another action on stack prod is under way" });
        expect(decideAll(memory, alert({ fleet: "api", alertname: "HerdCanaryRestarts", slot: undefined }))).to.deep.equal({
            action: "ignore",
            reason: "another action on stack prod is under way",
        });
    });

    it("rolls back a fleet that opted in when its canary alerts during a rollout", () => {
        const decision = decideAll(emptyMemory(), alert({ fleet: "api", alertname: "HerdCanaryErrorRate", slot: undefined }));
        expect(decision).to.deep.include({ action: "rollback", mode: "commit", stack: "prod" });
        expect(decision.reason).to.equal("HerdCanaryErrorRate fired on the canary of fleet api (1 of 6 slots on the release)");
        // An alert labelled as the canary's counts too.
        expect(decideAll(emptyMemory(), alert({ fleet: "api", alertname: "HerdProbeSlowQueries", role: "canary", slot: undefined })).action).to.equal("rollback");
    });

    it("rolls back on HerdCanaryGateClosed, as its rule labels it, only when the fleet opted in", () => {
        const rule = canaryGateAlert("prod", "api", { query: 'max(errors{herd_generation="$generation"}) < 1', generation: "c0ffee42" });
        // Through Alertmanager's webhook JSON, as the robot reads it; the rule puts no slot on it.
        const read = readWebhook(notification([webhookAlert({ alertname: rule.alert, herd_slot: "", ...rule.labels })]));
        expect(read).to.not.be.a("string");
        const firing = fleetAlert((read as Exclude<typeof read, string>).alerts[0]);
        expect(firing).to.deep.include({ alertname: "HerdCanaryGateClosed", stack: "prod", fleet: "api", generation: "c0ffee42", role: "canary" });
        const decision = decideAll(emptyMemory(), firing);
        expect(decision).to.deep.include({ action: "rollback", mode: "commit", stack: "prod" });
        expect(decision.reason).to.equal("HerdCanaryGateClosed fired on the canary of fleet api (1 of 6 slots on the release)");
        const off = (stack: string): RobotStack | undefined => (stack === "prod" ? { fleets: { api: { ...api, rollback: "off" } } } : undefined);
        expect(decide(firing, off, emptyMemory(), DEFAULT_SETTINGS, NOW)).to.deep.equal({
            action: "ignore",
            reason: "canary alert on fleet api: auto-rollback is off (herd:fleets.api.robot.rollback: commit | branch turns it on)",
        });
        expect(decideAll(emptyMemory(), { ...firing, status: "resolved" })).to.deep.equal({ action: "ignore", reason: "resolved: nothing to do" });
    });

    it("does not roll back on a canary alert of another generation than the rollout's canary: a stale alert", () => {
        const rolling = (stack: string): RobotStack | undefined => (stack === "prod" ? { fleets: { api: { ...api, rolloutGeneration: "c0ffee42" } } } : undefined);
        const canary = (generation?: string) => alert({ fleet: "api", alertname: "HerdCanaryGateClosed", role: "canary", slot: undefined, ...(generation ? { generation } : {}) });
        expect(decide(canary("deadbeef"), rolling, emptyMemory(), DEFAULT_SETTINGS, NOW)).to.deep.equal({
            action: "ignore",
            reason: "canary alert on fleet api for generation deadbeef, but the rollout's canary runs c0ffee42: a stale alert of another release",
        });
        expect(decide(canary("c0ffee42"), rolling, emptyMemory(), DEFAULT_SETTINGS, NOW).action).to.equal("rollback");
        // An alert that names no generation (HerdCanaryRestarts aggregates the canary's pods) is the rollout's.
        expect(decide(canary(), rolling, emptyMemory(), DEFAULT_SETTINGS, NOW).action).to.equal("rollback");
    });

    it("does not roll back a fleet with no rollout under way", () => {
        const done = (stack: string): RobotStack | undefined => (stack === "prod" ? { fleets: { api: { ...api, rolloutMembers: 0 } } } : undefined);
        const canary = alert({ fleet: "api", alertname: "HerdCanaryErrorRate", slot: undefined });
        expect(decide(canary, done, emptyMemory(), DEFAULT_SETTINGS, NOW).reason).to.equal(
            "canary alert on fleet api, but no slot of it runs a release being rolled out",
        );
    });
});

describe("robot: reading a fleet's settings from its stack file", () => {
    it("reads size, floor, backend and the robot keys; the floor defaults like the alert's", () => {
        const text = fs.readFileSync(path.join(__dirname, "..", "Pulumi.prod.yaml"), "utf8");
        const stack = robotStack(text, "Pulumi.prod.yaml", "prod", "/srv/herd");
        const { config: webConfig, ...web } = stack.fleets.web;
        expect(web).to.deep.equal({ name: "web", backend: "openstack", size: 12, minHealthy: 10, heal: true, rollback: "off", rolloutMembers: 1 });
        // The fleet's config, validated, for its backend's heal.
        expect(webConfig).to.deep.include({ backend: "openstack", size: 12, spread: "anti-affinity" });
        // worker: size 4, batch 2 → minHealthy 2.
        expect(stack.fleets.worker).to.deep.include({ size: 4, minHealthy: 2 });
        expect(stack.fleets.api).to.deep.include({ backend: "kubernetes", rolloutMembers: 1 });
        expect(stack.fleets.api.config).to.deep.include({ namespace: "api" });
        const optedIn = text.replace("      alerts: { minHealthy: 10 }\n", "      alerts: { minHealthy: 10 }\n      robot: { heal: false, rollback: branch }\n");
        expect(robotStack(optedIn, "Pulumi.prod.yaml", "prod", "/srv/herd").fleets.web).to.deep.include({ heal: false, rollback: "branch" });
    });

    it("knows the generation each rollout's canary runs, as the program registers it", async function () {
        this.timeout(60_000);
        const text = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.prod.yaml"), "utf8");
        const stack = robotStack(text, "Pulumi.prod.yaml", "prod", PROJECT_DIR);
        const run = await runProgram({ program: PROGRAM, projectDir: PROJECT_DIR, stack: "prod" });
        // web (OpenStack): slot 0 runs the release; api (Kubernetes): the canary Deployment's pods.
        const web0 = run.named("web-0", "openstack:compute/instance:Instance").inputs.metadata as Record<string, string>;
        expect(stack.fleets.web.rolloutGeneration).to.be.a("string").and.equal(web0["herd-generation"]);
        const canary = run.named("api-canary", "kubernetes:apps/v1:Deployment").inputs.spec as { template: { metadata: { labels: Record<string, string> } } };
        expect(stack.fleets.api.rolloutGeneration).to.be.a("string").and.equal(canary.template.metadata.labels["herd.dev/generation"]);
        expect(stack.fleets.worker.rolloutGeneration).to.equal(undefined);
    });

    it("refuses a robot key it does not know, naming the key path and what is allowed", () => {
        const text = fs.readFileSync(path.join(__dirname, "..", "Pulumi.prod.yaml"), "utf8").replace("      alerts: { minHealthy: 10 }\n", "      alerts: { minHealthy: 10 }\n      robot: { rollback: yes }\n");
        expect(() => robotStack(text, "Pulumi.prod.yaml", "prod", "/srv/herd")).to.throw(/herd:fleets\.web\.robot\.rollback[\s\S]*off \| commit \| branch/);
    });

    it("checks each backend's herd:<backend> as the program does, every problem at once, but not the files they name", () => {
        const text = fs.readFileSync(path.join(__dirname, "..", "Pulumi.prod.yaml"), "utf8").replace(/^config:\n/m, "config:\n  herd:kubernetes: { kubeconfig: /etc/kube.conf, createNamespaces: maybe }\n  herd:openstack: { computeHosts: 0 }\n");
        let message = "";
        try {
            robotStack(text, "Pulumi.prod.yaml", "prod", "/srv/herd");
        } catch (err) {
            message = (err as Error).message;
        }
        expect(message).to.match(/stack "prod"/);
        expect(message).to.match(/herd:openstack\.computeHosts = 0: expected a whole number ≥ 1/);
        expect(message).to.match(/herd:kubernetes\.kubeconfig = "\/etc\/kube\.conf": expected a kubeconfig file: a path relative to the project directory/);
        expect(message).to.match(/herd:kubernetes\.createNamespaces = "maybe": expected true/);
        // A kubeconfig the robot's host does not hold is the program's concern, not the robot's.
        const valid = text.replace("{ kubeconfig: /etc/kube.conf, createNamespaces: maybe }", "{ kubeconfig: missing/kube.conf, context: prod }").replace("{ computeHosts: 0 }", "{ computeHosts: 3 }");
        expect(robotStack(valid, "Pulumi.prod.yaml", "prod", "/srv/herd").settings).to.deep.equal({
            openstack: { computeHosts: 3 },
            kubernetes: { kubeconfig: "missing/kube.conf", context: "prod" },
        });
    });
});

describe("robot: credentials", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-robot-auth-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, text: string, mode = 0o600) => {
        const at = path.join(dir, name);
        fs.writeFileSync(at, text, { mode });
        fs.chmodSync(at, mode);
        return at;
    };
    const token: Credentials = { kind: "bearer", token: "0123456789abcdef0123456789abcdef" };
    const basic: Credentials = { kind: "basic", username: "alertmanager", password: "s3cret-s3cret-s3cret" };
    const basicHeader = (text: string) => `Basic ${Buffer.from(text).toString("base64")}`;

    it("lets in the bearer token, and nothing else", () => {
        expect(authenticates(`Bearer ${token.token}`, token)).to.equal(true);
        expect(authenticates(`bearer ${token.token}`, token)).to.equal(true);
        for (const header of [undefined, "", "Bearer", `Bearer ${token.token}x`, `Bearer ${token.token.slice(1)}`, `Basic ${token.token}`, `Bearer ${token.token} extra`, "Bearer " + "a".repeat(9000)]) {
            expect(authenticates(header, token), String(header).slice(0, 40)).to.equal(false);
        }
    });

    it("lets in basic auth with the user and password, and nothing else", () => {
        expect(authenticates(basicHeader("alertmanager:s3cret-s3cret-s3cret"), basic)).to.equal(true);
        for (const header of [basicHeader("alertmanager:wrong"), basicHeader("other:s3cret-s3cret-s3cret"), "Basic !!!", `Bearer s3cret-s3cret-s3cret`, basicHeader("alertmanager:s3cret-s3cret-s3cret:")]) {
            expect(authenticates(header, basic), header).to.equal(false);
        }
    });

    it("reads a token or username:password from a private file", () => {
        expect(readCredentials(file("token", `${token.token}\n`), "bearer")).to.deep.equal(token);
        expect(readCredentials(file("basic", "alertmanager:s3cret-s3cret-s3cret\n"), "basic")).to.deep.equal(basic);
    });

    it("refuses files others may read, short secrets, several lines and missing files, with one message", () => {
        const cases: [string, () => unknown, string][] = [
            ["readable by others", () => readCredentials(file("open", token.token, 0o644), "bearer"), "may be read by others (mode 0644): chmod 600 it"],
            ["short token", () => readCredentials(file("short", "abc"), "bearer"), "is shorter than 16 characters: make one with `openssl rand -hex 32`"],
            ["two lines", () => readCredentials(file("lines", `${token.token}\nmore`), "bearer"), "holds more than one line or control characters"],
            ["no colon", () => readCredentials(file("nocolon", "s3cret-s3cret-s3cret"), "basic"), "must hold username:password"],
            ["short password", () => readCredentials(file("shortpw", "am:short"), "basic"), "the password in"],
            ["missing", () => readCredentials(path.join(dir, "missing"), "bearer"), "cannot read the credentials file"],
        ];
        for (const [what, read, message] of cases) {
            expect(read, what).to.throw(message);
        }
    });
});

describe("robot: Alertmanager's webhook JSON", () => {
    it("reads a notification and the herd labels of its alerts", () => {
        const read = readWebhook(notification([webhookAlert({ herd_generation: "1a2b3c4d" })]));
        expect(read).to.not.be.a("string");
        const webhook = read as Exclude<typeof read, string>;
        expect(fleetAlert(webhook.alerts[0])).to.deep.equal({
            alertname: "HerdMemberDown",
            status: "firing",
            fingerprint: "a1b2c3d4e5f60718",
            startsAt: "2026-11-27T14:50:00.123456789Z",
            stack: "prod",
            fleet: "web",
            slot: "3",
            generation: "1a2b3c4d",
        });
    });

    const malformed: [string, unknown, string][] = [
        ["not an object", [], "body: an Alertmanager webhook notification: a JSON object"],
        ["another version", { ...notification([webhookAlert({})]), version: "3" }, 'version: version "4" (Alertmanager\'s webhook format)'],
        ["no alerts", notification([]), "alerts: at least one alert"],
        ["an alert without a name", notification([webhookAlert({ alertname: "" })]), "alerts[0].labels: labels with an alertname"],
        ["a forged fingerprint", notification([webhookAlert({}, { fingerprint: "../../etc" })]), "alerts[0].fingerprint: 16 hexadecimal digits (Alertmanager's fingerprint)"],
        ["a time that is not one", notification([webhookAlert({}, { startsAt: "yesterday" })]), "alerts[0].startsAt: an RFC 3339 time such as 2026-11-27T15:04:05.123Z"],
        ["a status that is not one", notification([webhookAlert({}, { status: "burning" })]), "alerts[0].status: firing | resolved"],
        ["a label value that is not text", notification([webhookAlert({ herd_slot: 3 as unknown as string })]), "alerts[0].labels.herd_slot: a label value: a string"],
        ["thousands of alerts", notification(Array.from({ length: 1001 }, () => webhookAlert({}))), "alerts: at most 1000 alerts"],
    ];
    for (const [what, body, message] of malformed) {
        it(`refuses ${what}: ${message}`, () => {
            expect(readWebhook(body)).to.equal(message);
        });
    }

    it("spells every instant one way, so a respelled replay is still a duplicate", () => {
        expect(canonicalTime("2026-11-27T15:50:00+01:00")).to.equal("2026-11-27T14:50:00.000000000Z");
        expect(canonicalTime("2026-11-27T14:50:00.1234567891Z")).to.equal("2026-11-27T14:50:00.123456789Z");
        expect(alertKey({ fingerprint: "f", startsAt: canonicalTime("2026-11-27T14:50:00.5Z") })).to.equal("f@2026-11-27T14:50:00.500000000Z");
    });
});

describe("robot: its append-only log", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-robot-log-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("appends one JSON line per entry, private to its owner, and keeps what was there", () => {
        const file = path.join(dir, "robot.jsonl");
        fs.writeFileSync(file, `${JSON.stringify({ time: "2026-11-27T14:00:00.000Z", event: "started" })}\n`, { mode: 0o600 });
        const log = new RobotLog(file);
        log.append({ event: "refused", status: 401, remote: "127.0.0.1:5000", reason: "no credentials" });
        log.append({ event: "alert", alertname: "HerdMemberDown", summary: "two\nlines", decision: "ignore", reason: "resolved" });
        log.close();
        const lines = fs.readFileSync(file, "utf8").split("\n");
        expect(lines).to.have.length(4);
        expect(lines[3]).to.equal("");
        expect(JSON.parse(lines[1])).to.deep.include({ event: "refused", status: 401 });
        expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
        expect(() => log.append({ event: "stopped" })).to.throw("is closed");
    });

    it("skips a line cut short by a crash, and counts it", () => {
        const file = path.join(dir, "torn.jsonl");
        fs.writeFileSync(file, `${JSON.stringify({ time: "2026-11-27T14:00:00.000Z", event: "started" })}\n{"time":"2026-11-27T14:0`);
        expect(readRobotLog(file)).to.deep.equal({ entries: [{ time: "2026-11-27T14:00:00.000Z", event: "started" }], skipped: 1 });
        expect(readRobotLog(path.join(dir, "none.jsonl"))).to.deep.equal({ entries: [], skipped: 0 });
    });

    it("gives back, after a restart, the alerts acted on and the budget spent", () => {
        const memory = memoryFromLog([
            { time: "2026-11-27T14:00:00.000Z", event: "alert", decision: "heal", fingerprint: "a", startsAt: "s", stack: "prod", fleet: "web" },
            { time: "2026-11-27T14:10:00.000Z", event: "alert", decision: "ignore", fingerprint: "b", startsAt: "s", stack: "prod", fleet: "web" },
            { time: "2026-11-27T14:20:00.000Z", event: "alert", decision: "rollback", fingerprint: "c", startsAt: "s", stack: "prod", fleet: "api" },
        ]);
        expect(memory.handled).to.deep.equal(["a@s", "c@s"]);
        expect([...memory.actions]).to.deep.equal([
            ["prod/web", [Date.parse("2026-11-27T14:00:00.000Z")]],
            ["prod/api", [Date.parse("2026-11-27T14:20:00.000Z")]],
        ]);
    });
});

describe("robot: the member a targeted up replaces", () => {
    const resources = [
        { urn: "urn:pulumi:prod::herd::pulumi:pulumi:Stack::herd-prod" },
        { urn: "urn:pulumi:prod::herd::herd:openstack:ServerGroup::web", custom: false },
        { urn: "urn:pulumi:prod::herd::herd:openstack:ServerGroup$openstack:compute/instance:Instance::web-3", custom: true },
        { urn: "urn:pulumi:prod::herd::herd:openstack:ServerGroup$openstack:compute/instance:Instance::web-13", custom: true },
    ];
    it("is the custom resource named fleet-slot, exactly one", () => {
        expect(memberUrn(resources, "web-3")).to.equal(resources[2].urn);
        expect(() => memberUrn(resources, "web-4")).to.throw("the stack has no resource named web-4");
        expect(() => memberUrn([...resources, resources[2]], "web-3")).to.throw("the stack has 2 resources named web-3");
    });
});
