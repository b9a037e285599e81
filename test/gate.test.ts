import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as YAML from "yaml";
import { checkGate, durationMs, gateQuery } from "../components/monitoring";
import { GIT_ENV, herd, newRepository } from "./helpers/repository";

const context = { stack: "prod", fleet: "web", generation: "1a2b3c4d" };

/** Commits everything in `dir`, dated `ageMinutes` ago (negative: in the future), author and committer alike. */
function commitAt(dir: string, message: string, ageMinutes: number): Date {
    const when = new Date(Math.floor((Date.now() - ageMinutes * 60_000) / 1000) * 1000);
    const env = { ...GIT_ENV, GIT_AUTHOR_DATE: when.toISOString(), GIT_COMMITTER_DATE: when.toISOString() };
    for (const args of [["add", "--all"], ["commit", "--quiet", "-m", message]]) {
        const result = spawnSync("git", args, { cwd: dir, env, encoding: "utf8" });
        expect(result.status, result.stderr).to.equal(0);
    }
    return when;
}

/** Sets keys of prod's web fleet in the stack file of `dir`. */
function setWeb(dir: string, values: Record<string, unknown>): void {
    const file = path.join(dir, "Pulumi.prod.yaml");
    const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
    for (const [key, value] of Object.entries(values)) {
        doc.setIn(["config", "herd:fleets", "web", ...key.split(".")], value);
    }
    fs.writeFileSync(file, doc.toString());
}

/**
 * A copy of the project in a new git repository whose one commit, dated `ageMinutes` ago,
 * holds prod's web fleet with `gate` (and `web`'s other keys as given).
 */
const repositories: string[] = [];

function repositoryWithGate(gate: Record<string, string>, ageMinutes: number, web: Record<string, unknown> = {}): string {
    const dir = newRepository();
    repositories.push(dir);
    fs.rmSync(path.join(dir, ".git"), { recursive: true, force: true });
    expect(spawnSync("git", ["init", "--quiet", "--initial-branch=main"], { cwd: dir, env: GIT_ENV }).status).to.equal(0);
    setWeb(dir, { gate, ...web });
    commitAt(dir, "prod fleets, web gated on its canary", ageMinutes);
    return dir;
}

async function listen(server: http.Server): Promise<number> {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
    const server = http.createServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    return port;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (await check().catch(() => false)) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`timed out waiting for ${what}`);
}

describe("promotion gate", () => {
    after(() => repositories.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

    it("substitutes the canary's generation, fleet and stack into the query", () => {
        expect(gateQuery('rate(errors{herd_generation="$generation",herd_fleet="$fleet",herd_stack="$stack"}[5m]) < 1', context)).to.equal(
            'rate(errors{herd_generation="1a2b3c4d",herd_fleet="web",herd_stack="prod"}[5m]) < 1',
        );
        expect(durationMs("15m")).to.equal(900_000);
        expect(() => durationMs("soon")).to.throw('expected a duration such as 30s, 15m or 2h, got "soon"');
    });

    it("stays closed until the bake time has passed, without asking Prometheus", async () => {
        const spec = { prometheus: "http://127.0.0.1:9", query: "vector(1)", bake: "15m" };
        const now = new Date("2026-11-26T12:00:00Z");
        const early = await checkGate(spec, { ...context, now, wentLiveAt: new Date("2026-11-26T11:50:00Z") });
        expect(early).to.include({ passed: false });
        expect(early.reason).to.equal("the current wave went live at 2026-11-26T11:50:00.000Z and must bake for 15m; about 5 min left");
        const unknown = await checkGate(spec, { ...context, now });
        expect(unknown.reason).to.contain("cannot be checked");
    });

    it("is closed when Prometheus cannot be reached", async () => {
        const port = await freePort();
        const result = await checkGate({ prometheus: `http://127.0.0.1:${port}`, query: "vector(1)", timeoutMs: 2_000 }, context);
        expect(result.passed).to.equal(false);
        expect(result.reason).to.equal(`Prometheus at http://127.0.0.1:${port} cannot be reached (ECONNREFUSED)`);
    });

    describe("fails closed on any answer but finite numbers that hold", () => {
        let server: http.Server;
        let prometheus: string;
        let answer: { status: number; body: string };
        before(async () => {
            server = http.createServer((_, response) => {
                response.writeHead(answer.status, { "content-type": "application/json" });
                response.end(answer.body);
            });
            prometheus = `http://127.0.0.1:${await listen(server)}`;
        });
        after(() => server.close());

        const vector = (...values: string[]) => ({ resultType: "vector", result: values.map((v, i) => ({ metric: { slot: String(i) }, value: [1764158400, v] })) });
        const success = (data: unknown) => JSON.stringify({ status: "success", data });
        const cases: [what: string, status: number, body: string, passed: boolean, reason: string][] = [
            ["a vector of finite samples (0 included: the condition filtered)", 200, success(vector("0", "0.25")), true, "the gate query holds on the canary"],
            ["a non-zero scalar", 200, success({ resultType: "scalar", result: [1764158400, "1"] }), true, "the gate query holds on the canary"],
            ["an empty vector", 200, success(vector()), false, "the gate query does not hold on the canary (empty result)"],
            ["a NaN sample", 200, success(vector("0", "NaN")), false, "the gate query returned NaN, not a finite number"],
            ["a +Inf sample", 200, success(vector("+Inf")), false, "the gate query returned +Inf, not a finite number"],
            ["a -Inf scalar", 200, success({ resultType: "scalar", result: [1764158400, "-Inf"] }), false, "the gate query returned -Inf, not a finite number"],
            ["a zero scalar", 200, success({ resultType: "scalar", result: [1764158400, "0"] }), false, "the gate query does not hold on the canary (scalar 0)"],
            ["a string", 200, success({ resultType: "string", result: [1764158400, "ok"] }), false, "the gate query returned a string, not a number"],
            [
                "a matrix with a NaN among its values",
                200,
                success({ resultType: "matrix", result: [{ metric: {}, values: [[1764158400, "0"], [1764158401, "NaN"]] }] }),
                false,
                "the gate query returned NaN, not a finite number",
            ],
            ["a matrix series without values", 200, success({ resultType: "matrix", result: [{ metric: {}, values: [] }] }), false, "the gate query returned nothing, not a finite number"],
            ["a sample without a value", 200, success({ resultType: "vector", result: [{ metric: {} }] }), false, "the gate query returned nothing, not a finite number"],
            ["a sample value that is not a number", 200, success(vector("healthy")), false, "the gate query returned healthy, not a finite number"],
            ["no result type", 200, success({ result: [] }), false, "the gate query returned no result type, not a number"],
            ["an error", 400, JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error: unexpected end of input" }), false, "refused the query: parse error: unexpected end of input"],
            ["a body that is not JSON", 200, "<html>proxy login</html>", false, "answered HTTP 200 with something that is not its JSON"],
            ["JSON without a status", 200, "[]", false, "refused the query: HTTP 200"],
        ];
        for (const [what, status, body, passed, reason] of cases) {
            it(`${passed ? "opens" : "stays closed"} on ${what}`, async () => {
                answer = { status, body };
                const result = await checkGate({ prometheus, query: "vector(1)" }, context);
                expect(result.passed).to.equal(passed);
                expect(result.reason).to.equal(reason.startsWith("refused") || reason.startsWith("answered") ? `Prometheus at ${prometheus} ${reason}` : reason);
            });
        }

        it("stays closed when the wave went live in the future", async () => {
            answer = { status: 200, body: success(vector("0")) };
            const now = new Date("2026-11-27T12:00:00Z");
            const result = await checkGate({ prometheus, query: "vector(1)", bake: "15m" }, { ...context, now, wentLiveAt: new Date("2026-11-27T14:00:00Z") });
            expect(result).to.deep.include({
                passed: false,
                reason: "the current wave went live at 2026-11-27T14:00:00.000Z, which is in the future (now 2026-11-27T12:00:00.000Z): a commit date or a clock is wrong, so the bake time 15m cannot be checked",
            });
        });
    });

    describe("herd promote measures the bake time from when the wave reached the branch", function () {
        this.timeout(120_000);
        let unreachable: string;
        before(async () => {
            unreachable = `http://127.0.0.1:${await freePort()}`;
        });

        async function refusal(dir: string): Promise<string> {
            const before = fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");
            const result = await herd(dir, "promote", "--stack", "prod", "web");
            expect(result).to.deep.include({ code: 1, stdout: "" });
            expect(fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8")).to.equal(before);
            return result.stderr;
        }

        it("lets a wave that has baked through to the query (here: an unreachable Prometheus)", async () => {
            const dir = repositoryWithGate({ prometheus: unreachable, query: "vector(1)", bake: "30m" }, 60);
            expect(await refusal(dir)).to.equal(`herd: not promoting fleet web: its gate is closed: Prometheus at ${unreachable} cannot be reached (ECONNREFUSED)\n  query: vector(1)\n`);
        });

        it("ignores a backdated commit that leaves the wave as it was", async () => {
            const dir = repositoryWithGate({ prometheus: unreachable, query: "vector(1)", bake: "30m" }, 5);
            const live = new Date(Number(spawnSync("git", ["log", "-1", "--format=%ct"], { cwd: dir, encoding: "utf8" }).stdout) * 1000);
            fs.appendFileSync(path.join(dir, "Pulumi.prod.yaml"), "# reviewed\n");
            commitAt(dir, "a comment, dated two hours back", 120);
            expect(await refusal(dir)).to.equal(
                `herd: not promoting fleet web: its gate is closed: the current wave went live at ${live.toISOString()} and must bake for 30m; about 25 min left\n  query: vector(1)\n`,
            );
        });

        it("times a backdated commit that sets the wave no earlier than the history it was added to", async () => {
            const dir = repositoryWithGate({ prometheus: unreachable, query: "vector(1)", bake: "30m" }, 5, { "rollout.members": 0 });
            const live = new Date(Number(spawnSync("git", ["log", "-1", "--format=%ct"], { cwd: dir, encoding: "utf8" }).stdout) * 1000);
            setWeb(dir, { "rollout.members": 1 });
            commitAt(dir, "web: canary, dated three hours back", 180);
            expect(await refusal(dir)).to.equal(
                `herd: not promoting fleet web: its gate is closed: the current wave went live at ${live.toISOString()} and must bake for 30m; about 25 min left\n  query: vector(1)\n`,
            );
        });

        it("refuses a wave whose commit is dated in the future", async () => {
            const dir = repositoryWithGate({ prometheus: unreachable, query: "vector(1)", bake: "30m" }, 60, { "rollout.members": 0 });
            setWeb(dir, { "rollout.members": 1 });
            const future = commitAt(dir, "web: canary, dated two hours ahead", -120);
            expect(await refusal(dir)).to.match(
                new RegExp(`^herd: not promoting fleet web: its gate is closed: the current wave went live at ${future.toISOString().replace(/\./g, "\\.")}, which is in the future \\(now [^)]+\\): a commit date or a clock is wrong, so the bake time 30m cannot be checked\n`),
            );
        });

        it("refuses a wave that is not committed yet", async () => {
            const dir = repositoryWithGate({ prometheus: unreachable, query: "vector(1)", bake: "30m" }, 60, { "rollout.members": 0 });
            setWeb(dir, { "rollout.members": 1 });
            const result = await herd(dir, "promote", "--stack", "prod", "web", "--force");
            expect(result.code).to.equal(1);
            expect(result.stderr).to.equal(
                "herd: not promoting fleet web: its gate is closed: bake time 30m cannot be checked: the time the current wave went live is unknown\n  query: vector(1)\n",
            );
        });
    });

    describe("against a real Prometheus server", function () {
        this.timeout(60_000);
        let prometheus: ChildProcess | undefined;
        let metrics: ChildProcess | undefined;
        let prometheusUrl: string;

        before(async () => {
            // The metrics endpoint runs in a process of its own (Python's static file server),
            // so busy tests in this process never make a scrape time out.
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-prometheus-"));
            const site = path.join(dir, "site");
            fs.mkdirSync(site);
            fs.writeFileSync(
                path.join(site, "metrics"),
                'app_errors_total{herd_generation="1a2b3c4d"} 0\napp_errors_total{herd_generation="deadbeef"} 42\n',
            );
            const metricsPort = await freePort();
            metrics = spawn("python3", ["-m", "http.server", "--bind", "127.0.0.1", "--directory", site, String(metricsPort)], { stdio: "ignore" });
            await until("the metrics endpoint", async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).ok);
            const port = await freePort();
            fs.writeFileSync(
                path.join(dir, "prometheus.yml"),
                [
                    "global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }",
                    "scrape_configs:",
                    "  - job_name: canary",
                    `    static_configs: [{ targets: ["127.0.0.1:${metricsPort}"], labels: { herd_stack: prod, herd_fleet: web } }]`,
                    "",
                ].join("\n"),
            );
            prometheusUrl = `http://127.0.0.1:${port}`;
            prometheus = spawn(
                "prometheus",
                [`--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
                { stdio: "ignore" },
            );
            await until("Prometheus to be ready", async () => (await fetch(`${prometheusUrl}/-/ready`)).ok);
            await until("the first scrape", async () => {
                const body = (await (await fetch(`${prometheusUrl}/api/v1/query?query=app_errors_total`)).json()) as { data: { result: unknown[] } };
                return body.data.result.length === 2;
            });
        });

        after(() => {
            prometheus?.kill("SIGTERM");
            metrics?.kill("SIGTERM");
        });

        const query = 'app_errors_total{herd_stack="$stack",herd_fleet="$fleet",herd_generation="$generation"} < 1';

        it("opens for a healthy canary", async () => {
            const result = await checkGate({ prometheus: prometheusUrl, query }, context);
            expect(result).to.deep.equal({
                passed: true,
                query: 'app_errors_total{herd_stack="prod",herd_fleet="web",herd_generation="1a2b3c4d"} < 1',
                reason: "the gate query holds on the canary",
            });
        });

        it("stays closed for a failing canary", async () => {
            const result = await checkGate({ prometheus: prometheusUrl, query }, { ...context, generation: "deadbeef" });
            expect(result.passed).to.equal(false);
            expect(result.reason).to.equal("the gate query does not hold on the canary (empty result)");
        });

        const healthy = 'max(app_errors_total{herd_stack="$stack",herd_fleet="$fleet",herd_generation="1a2b3c4d"}) < 1';
        const failing = 'max(app_errors_total{herd_stack="$stack",herd_fleet="$fleet",herd_generation="deadbeef"}) < 1';

        it("lets `herd promote` through when the canary is healthy and has baked", async () => {
            const dir = repositoryWithGate({ prometheus: prometheusUrl, query: healthy, bake: "30m" }, 60);
            const result = await herd(dir, "promote", "--stack", "prod", "web");
            expect(result.stderr).to.equal("");
            expect(result.code).to.equal(0);
            expect(result.stdout).to.contain("Gate of fleet web passed: the gate query holds on the canary");
            expect(fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8")).to.contain("members: 10");
        });

        for (const [what, gate, age, message] of [
            ["a failing canary", { query: failing, bake: "30m" }, 60, "its gate is closed: the gate query does not hold on the canary (empty result)"],
            ["a wave that has not baked", { query: healthy, bake: "2h" }, 60, "must bake for 2h; about 60 min left"],
            ["an unreachable Prometheus", { query: healthy, prometheus: "unreachable" }, 60, "cannot be reached (ECONNREFUSED)"],
        ] as const) {
            it(`refuses \`herd promote\` for ${what}, the stack file untouched`, async () => {
                const unreachable = `http://127.0.0.1:${await freePort()}`;
                const dir = repositoryWithGate({ prometheus: prometheusUrl, ...gate, ...(gate.prometheus ? { prometheus: unreachable } : {}) }, age);
                const before = fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");
                const result = await herd(dir, "promote", "--stack", "prod", "web");
                expect(result.code).to.equal(1);
                expect(result.stderr).to.contain("herd: not promoting fleet web: ");
                expect(result.stderr).to.contain(message);
                expect(fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8")).to.equal(before);
            });
        }

        it("stays closed, with Prometheus's error, for a query it refuses", async () => {
            const result = await checkGate({ prometheus: prometheusUrl, query: "sum(" }, context);
            expect(result.passed).to.equal(false);
            expect(result.reason).to.match(/^Prometheus at http:\/\/127\.0\.0\.1:\d+ refused the query: /);
        });
    });
});
