import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { runRobot, RobotFlags } from "../components/cli/robot";
import { describeCommit, parseWhen, robotEvents } from "../components/cli/timeline";
import { ActionOutcome, EngineExecutor, Executor, HealAction, readRobotLog, RobotLogEntry, RollbackAction, robotStack } from "../components/robot";
import type { UpJob } from "../components/robot/upWorker";
import { notification, webhookAlert } from "./helpers/robot";
import { git, herd, temporaryRepositories } from "./helpers/repository";

const TOKEN = "0123456789abcdef0123456789abcdef";
const newRepository = temporaryRepositories();

/** A repository with a private token file beside the project. */
function repositoryWithToken(): { dir: string; token: string } {
    const dir = newRepository();
    const token = path.join(dir, ".herd-token");
    fs.writeFileSync(token, `${TOKEN}\n`, { mode: 0o600 });
    fs.chmodSync(token, 0o600);
    return { dir, token };
}

/** Sets a line after `alerts: { minHealthy: 10 }` of prod's web fleet, and commits it. */
function optIn(dir: string, line: string): void {
    const file = path.join(dir, "Pulumi.prod.yaml");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("      alerts: { minHealthy: 10 }\n", `      alerts: { minHealthy: 10 }\n      ${line}\n`));
    git(dir, "commit", "--quiet", "-am", "web: the robot may roll it back");
}

describe("herd robot: its command line", () => {
    const refused: [string, (token: string) => string[], RegExp][] = [
        ["no credentials file", () => [], /give exactly one of --token-file \(a bearer token\) and --basic-auth-file/],
        ["both credentials files", (token) => ["--token-file", token, "--basic-auth-file", token], /give exactly one of --token-file/],
        ["an address beyond loopback without TLS", (token) => ["--token-file", token, "--listen", "0.0.0.0:9095"], /--listen 0\.0\.0\.0:9095 is beyond loopback: give --tls-cert and --tls-key/],
        ["an address that is none", (token) => ["--token-file", token, "--listen", "9095"], /--listen "9095": expected host:port, e\.g\. 127\.0\.0\.1:9095/],
        ["a port out of range", (token) => ["--token-file", token, "--listen", "127.0.0.1:70000"], /expected host:port/],
        ["a window that is no duration", (token) => ["--token-file", token, "--window", "soon"], /--window "soon": expected a duration such as 30m or 1h/],
        ["a budget that is no number", (token) => ["--token-file", token, "--budget", "-1"], /--budget "-1": expected a whole number ≥ 0/],
        ["an unknown stack", (token) => ["--token-file", token, "--stack", "qa"], /unknown stack "qa"/],
        ["a token file others may read", (token) => (fs.chmodSync(token, 0o644), ["--token-file", token]), /may be read by others \(mode 0644\): chmod 600 it/],
    ];
    for (const [what, args, message] of refused) {
        it(`refuses ${what}, with one message, before listening`, async () => {
            const { dir, token } = repositoryWithToken();
            const result = await herd(dir, "robot", "--stack", "prod", ...args(token));
            expect(result.code).to.equal(1);
            expect(result.stderr).to.match(message);
            expect(result.stderr.trim().split("\n")).to.have.length(1);
            expect(result.stderr).to.not.include(TOKEN);
            expect(fs.existsSync(path.join(dir, ".herd", "robot.jsonl"))).to.equal(false);
        });
    }

    it("refuses a stack file with a robot key it does not know", async () => {
        const { dir, token } = repositoryWithToken();
        optIn(dir, "robot: { rollback: always }");
        const result = await herd(dir, "robot", "--stack", "prod", "--token-file", token);
        expect(result.code).to.equal(1);
        expect(result.stderr).to.include("herd:fleets.web.robot.rollback");
        expect(result.stderr).to.include("off | commit | branch");
    });

    it("listens, acts on an authenticated alert, logs, and remembers it after a restart", async () => {
        const { dir, token } = repositoryWithToken();
        const heals: HealAction[] = [];
        const executor: Executor = {
            heal: async (action): Promise<ActionOutcome> => (heals.push(action), { reason: "replaced" }),
            rollback: async () => ({ reason: "unused" }),
        };
        const flags: RobotFlags = { stack: ["prod"], dir, program: path.join(__dirname, "..", "index.ts"), tokenFile: token, listen: "127.0.0.1:0", budget: "2", window: "1h", maxBody: "65536" };
        const session = async (body: string) => {
            let stop = () => {};
            let out = "";
            const io = { stdout: (t: string) => (out += t), stderr: () => {}, cwd: dir, fs };
            let ended = false;
            const done = runRobot(flags, io, executor, new Promise<void>((resolve) => (stop = resolve))).finally(() => (ended = true));
            while (!/listening on (\S+)/.test(out) && !ended) {
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
            const url = /listening on (\S+)/.exec(out)?.[1] as string;
            const answer = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body });
            const decided = (await answer.json()) as { alerts: { decision: string }[] };
            stop();
            expect(await done).to.equal(0);
            return { out, decided: decided.alerts.map((a) => a.decision) };
        };
        const body = JSON.stringify(notification([webhookAlert({})]));
        const first = await session(body);
        expect(first.out).to.match(/^herd robot \(pid \d+\) listening on http:\/\/127\.0\.0\.1:\d+\/alerts for stack prod; budget 2 per fleet per 1h; log .*robot\.jsonl\nStop it with: kill \d+\n/);
        expect(first.decided).to.deep.equal(["heal"]);
        expect(heals.map((h) => [h.stack, h.fleet.name, h.slot])).to.deep.equal([["prod", "web", "3"]]);
        // A new robot on the same log does not act on the same alert again.
        expect((await session(body)).decided).to.deep.equal(["ignore"]);
        expect(heals).to.have.length(1);
        const events = readRobotLog(path.join(dir, ".herd", "robot.jsonl")).entries.map((e) => `${e.event}${e.decision ? ` ${e.decision}` : ""}`);
        expect(events).to.deep.equal(["started", "alert heal", "action heal", "stopped", "started", "alert ignore", "stopped"]);
        // Alerts may name what a stranger should not read.
        expect(fs.statSync(path.join(dir, ".herd", "robot.jsonl")).mode & 0o777).to.equal(0o600);
    });
});

describe("herd robot: rolling back through git", () => {
    // The robot commits as whoever runs it: give this process an identity, as a robot's host has
    // one, so that a machine without a global git identity runs these tests too.
    const IDENTITY = { GIT_AUTHOR_NAME: "herd test", GIT_AUTHOR_EMAIL: "herd@example.org", GIT_COMMITTER_NAME: "herd test", GIT_COMMITTER_EMAIL: "herd@example.org" };
    const saved: Record<string, string | undefined> = {};
    before(() => {
        for (const [key, value] of Object.entries(IDENTITY)) {
            saved[key] = process.env[key];
            process.env[key] = value;
        }
    });
    after(() => {
        for (const key of Object.keys(IDENTITY)) {
            if (saved[key] === undefined) {
                delete process.env[key];
            } else {
                process.env[key] = saved[key];
            }
        }
    });

    const rollback = (fleetName: string, mode: "commit" | "branch", dir: string): RollbackAction => {
        const stack = robotStack(fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8"), "Pulumi.prod.yaml", "prod", dir);
        return { stack: "prod", fleet: stack.fleets[fleetName], mode, reason: "HerdCanaryErrorRate fired on the canary of fleet web (1 of 12 slots on the release)" };
    };

    it("commits rollout.members: 0 with the alert in the message, then runs a whole pulumi up", async () => {
        const dir = newRepository();
        optIn(dir, "robot: { rollback: commit }");
        const ups: UpJob[] = [];
        const executor = new EngineExecutor({ projectDir: dir, up: async (job) => (ups.push(job), { changes: { replace: 1, same: 40 } }) });
        const outcome = await executor.rollback(rollback("web", "commit", dir));
        const head = git(dir, "rev-parse", "HEAD").trim();
        expect(outcome).to.deep.equal({ commit: head, reason: `committed ${head.slice(0, 12)} and ran pulumi up (1 replace)` });
        expect(git(dir, "log", "-1", "--format=%s")).to.equal("Roll back fleet web on stack prod: HerdCanaryErrorRate fired on the canary of fleet web (1 of 12 slots on the release)\n");
        expect(git(dir, "show", "--format=", "--stat", "HEAD")).to.match(/Pulumi\.prod\.yaml \| 2 \+-/);
        expect(robotStack(fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8"), "Pulumi.prod.yaml", "prod", dir).fleets.web.rolloutMembers).to.equal(0);
        expect(ups).to.deep.equal([{ projectDir: dir, stack: "prod" }]);
        expect(git(dir, "status", "--porcelain")).to.equal("");
    });

    it("in branch mode, commits on a new branch and leaves the checkout and the stack alone", async () => {
        const dir = newRepository();
        optIn(dir, "robot: { rollback: branch }");
        const before = git(dir, "rev-parse", "HEAD");
        const ups: UpJob[] = [];
        const executor = new EngineExecutor({ projectDir: dir, up: async (job) => (ups.push(job), { changes: {} }) });
        const outcome = await executor.rollback(rollback("web", "branch", dir));
        expect(outcome.branch).to.match(/^herd-robot\/rollback-prod-web-\d{8}T\d{6}$/);
        expect(outcome.reason).to.equal(`wrote the rollback of fleet web on branch ${outcome.branch}: merge it, then pulumi up`);
        expect(git(dir, "rev-parse", "HEAD")).to.equal(before);
        expect(git(dir, "status", "--porcelain")).to.equal("");
        expect(git(dir, "diff", "--stat", "HEAD", outcome.branch as string)).to.match(/Pulumi\.prod\.yaml \| 2 \+-/);
        expect(git(dir, "worktree", "list").trim().split("\n")).to.have.length(1);
        expect(ups).to.deep.equal([]);
    });

    /** Runs `body` with git knowing no one: no identity in the environment, an empty home, and git told not to guess. */
    async function withoutIdentity<T>(body: () => Promise<T>): Promise<T> {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "herd-no-identity-"));
        const changed: Record<string, string | undefined> = {
            ...Object.fromEntries(Object.keys(IDENTITY).map((key) => [key, undefined])),
            HOME: home,
            GIT_CONFIG_NOSYSTEM: "1",
            GIT_CONFIG_COUNT: "1",
            GIT_CONFIG_KEY_0: "user.useConfigOnly",
            GIT_CONFIG_VALUE_0: "true",
        };
        const before = Object.fromEntries(Object.keys(changed).map((key) => [key, process.env[key]]));
        const set = (values: Record<string, string | undefined>) => {
            for (const [key, value] of Object.entries(values)) {
                if (value === undefined) {
                    delete process.env[key];
                } else {
                    process.env[key] = value;
                }
            }
        };
        set(changed);
        try {
            return await body();
        } finally {
            set(before);
            fs.rmSync(home, { recursive: true, force: true });
        }
    }

    for (const mode of ["commit", "branch"] as const) {
        it(`refuses a rollback (${mode} mode) on a host where git has no identity, before it writes anything`, async () => {
            const dir = newRepository();
            optIn(dir, `robot: { rollback: ${mode} }`);
            const file = path.join(dir, "Pulumi.prod.yaml");
            const text = fs.readFileSync(file, "utf8");
            const head = git(dir, "rev-parse", "HEAD");
            const ups: UpJob[] = [];
            const executor = new EngineExecutor({ projectDir: dir, up: async (job) => (ups.push(job), { changes: {} }) });
            const error = await withoutIdentity(() => executor.rollback(rollback("web", mode, dir)).then(() => undefined, (err: Error) => err));
            expect(error?.message).to.equal(
                "git has no identity to commit the rollback as (Author identity unknown): set user.name and user.email in the robot's git config " +
                    "(or GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL in its environment); nothing was written",
            );
            expect(fs.readFileSync(file, "utf8")).to.equal(text);
            expect(git(dir, "rev-parse", "HEAD")).to.equal(head);
            expect(git(dir, "status", "--porcelain")).to.equal("");
            expect(git(dir, "branch", "--list", "herd-robot/*")).to.equal("");
            expect(ups).to.deep.equal([]);
        });
    }

    it("puts the stack file back when git refuses the commit (a hook), and runs no pulumi up", async () => {
        const dir = newRepository();
        optIn(dir, "robot: { rollback: commit }");
        const file = path.join(dir, "Pulumi.prod.yaml");
        const text = fs.readFileSync(file, "utf8");
        fs.writeFileSync(path.join(dir, ".git", "hooks", "pre-commit"), "#!/bin/sh\necho 'stack files are reviewed' >&2\nexit 1\n", { mode: 0o755 });
        const ups: UpJob[] = [];
        const executor = new EngineExecutor({ projectDir: dir, up: async (job) => (ups.push(job), { changes: {} }) });
        const error = await executor.rollback(rollback("web", "commit", dir)).then(() => undefined, (err: Error) => err);
        expect(error?.message).to.equal("git commit failed, Pulumi.prod.yaml is left as it was: stack files are reviewed");
        expect(fs.readFileSync(file, "utf8")).to.equal(text);
        expect(git(dir, "status", "--porcelain")).to.equal("");
        expect(ups).to.deep.equal([]);
    });

    it("refuses to commit over someone's uncommitted change to the stack file", async () => {
        const dir = newRepository();
        fs.appendFileSync(path.join(dir, "Pulumi.prod.yaml"), "# editing\n");
        const executor = new EngineExecutor({ projectDir: dir, up: async () => ({ changes: {} }) });
        let error: Error | undefined;
        await executor.rollback(rollback("web", "commit", dir)).catch((err: Error) => (error = err));
        expect(error?.message).to.equal("Pulumi.prod.yaml has uncommitted changes: the robot commits only its own change; roll back by hand");
        expect(git(dir, "log", "-1", "--format=%s")).to.equal("prod and dev fleets\n");
    });
});

describe("herd timeline", () => {
    const NOW = new Date("2026-11-27T15:00:00Z");

    it("reads a duration back from now or a date, and refuses anything else with one message", () => {
        expect(parseWhen("--since", "90m", NOW).toISOString()).to.equal("2026-11-27T13:30:00.000Z");
        expect(parseWhen("--since", "3d", NOW).toISOString()).to.equal("2026-11-24T15:00:00.000Z");
        expect(parseWhen("--since", "2026-11-27T14:00Z", NOW).toISOString()).to.equal("2026-11-27T14:00:00.000Z");
        expect(() => parseWhen("--since", "last tuesday", NOW)).to.throw('--since "last tuesday": expected a duration back from now such as 90m, 6h or 3d, or a date such as 2026-11-27 or 2026-11-27T14:00Z');
    });

    it("says what a commit did to each fleet: release, promote, rollback, change", () => {
        const previous = { image: "a" };
        const released = { size: 12, release: { image: "b" }, rollout: { previous, members: 1 } };
        expect(describeCommit({ web: { size: 12, release: previous } }, { web: released })).to.deep.equal([{ kind: "release", text: "web: a new release on 1 of 12 slots" }]);
        expect(describeCommit({ web: released }, { web: { ...released, rollout: { previous, members: 10 } } })).to.deep.equal([{ kind: "promote", text: "web: 1 → 10 of 12 slots on the release" }]);
        expect(describeCommit({ web: released }, { web: { size: 12, release: { image: "b" } } })).to.deep.equal([{ kind: "promote", text: "web: 1 → 12 of 12 slots on the release (rollout finished)" }]);
        expect(describeCommit({ web: released }, { web: { ...released, rollout: { previous, members: 0 } } })).to.deep.equal([{ kind: "rollback", text: "web: 1 → 0 of 12 slots on the release" }]);
        expect(describeCommit({ web: released }, { web: { ...released, update: { batch: 2 } } })).to.deep.equal([{ kind: "change", text: "web: configuration changed" }]);
        expect(describeCommit({}, { web: released })).to.deep.equal([{ kind: "change", text: "fleet web added" }]);
    });

    it("puts the stack's commits and the robot's alerts and actions in order, as text and as Markdown", async () => {
        const dir = newRepository();
        expect((await herd(dir, "promote", "web", "--stack", "prod")).code).to.equal(0);
        git(dir, "commit", "--quiet", "-am", "Promote web to 10");
        const start = Date.now();
        const at = (seconds: number) => new Date(start + seconds * 1000).toISOString();
        const entries: RobotLogEntry[] = [
            { time: at(1), event: "started", reason: "listening on http://127.0.0.1:9095/alerts for stacks prod" },
            { time: at(2), event: "refused", status: 401, remote: "127.0.0.1:41000", reason: "wrong credentials" },
            { time: at(3), event: "alert", alertname: "HerdMemberDown", alertStatus: "firing", stack: "prod", fleet: "web", slot: "3", summary: "Member 3 of fleet web (prod) is down", decision: "heal", reason: "…" },
            { time: at(4), event: "alert", alertname: "HerdMemberDown", alertStatus: "firing", stack: "prod", fleet: "web", slot: "3", decision: "ignore", reason: "duplicate: handled" },
            { time: at(5), event: "alert", alertname: "HerdMemberDown", alertStatus: "firing", stack: "staging", fleet: "web", slot: "1", decision: "heal", reason: "…" },
            { time: at(6), event: "action", stack: "prod", fleet: "web", slot: "3", decision: "heal", outcome: "done", reason: "replaced urn:pulumi:prod::herd::…::web-3" },
        ];
        fs.mkdirSync(path.join(dir, ".herd"));
        fs.writeFileSync(path.join(dir, ".herd", "robot.jsonl"), `${entries.map((e) => JSON.stringify(e)).join("\n")}\n{"torn`);
        const text = await herd(dir, "timeline", "--stack", "prod", "--since", "1h", "--until", at(60));
        expect(text.code, text.stderr).to.equal(0);
        const lines = text.stdout.split("\n").filter((l) => /^\d{4}-/.test(l));
        expect(lines.map((l) => l.replace(/^\S+ \S+\s+/, "").replace(/[0-9a-f]{10} /, "<sha> "))).to.deep.equal([
            'commit  change    <sha> fleet api added; fleet web added; fleet worker added — "prod and dev fleets" (herd test)',
            'commit  promote   <sha> promote web: 1 → 10 of 12 slots on the release — "Promote web to 10" (herd test)',
            "robot   started   started: listening on http://127.0.0.1:9095/alerts for stacks prod",
            "robot   refused   refused a request from 127.0.0.1:41000: 401 wrong credentials",
            "alert   HerdMemberDown  HerdMemberDown firing on web member 3 (Member 3 of fleet web (prod) is down); → heal",
            "robot   heal      heal web member 3 done: replaced urn:pulumi:prod::herd::…::web-3",
        ]);
        expect(text.stdout).to.include("1 unreadable line of the log skipped");
        const markdown = await herd(dir, "timeline", "--stack", "prod", "--since", "1h", "--until", at(60), "--format", "markdown");
        expect(markdown.stdout).to.match(/^# Timeline of stack `prod`\n/);
        expect(markdown.stdout).to.include("| time (UTC) | source | what | details |");
        expect(markdown.stdout).to.include("- `HerdMemberDown` on fleet `web`: first at");
        expect(markdown.stdout).to.include("## The probe that will catch it next time");
        expect(markdown.stdout).to.include("- [ ] its alert, tested with `promtool test rules`");
        expect(robotEvents(entries, "staging", new Date(start), new Date(start + 60_000)).filter((e) => e.source === "alert")).to.have.length(1);
    });

    it("refuses an end before the start", async () => {
        const dir = newRepository();
        const result = await herd(dir, "timeline", "--stack", "prod", "--since", "1h", "--until", "2h");
        expect(result.code).to.equal(1);
        expect(result.stderr).to.equal("herd: --until 2h is before --since 1h\n");
    });
});
