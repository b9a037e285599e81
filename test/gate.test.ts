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

        /** A copy of the project in a git repository, with a gate on prod's web fleet committed `ageMinutes` ago. */
        function repositoryWithGate(gate: Record<string, string>, ageMinutes: number): string {
            const dir = newRepository();
            const file = path.join(dir, "Pulumi.prod.yaml");
            const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
            doc.setIn(["config", "herd:fleets", "web", "gate"], gate);
            fs.writeFileSync(file, doc.toString());
            const when = new Date(Date.now() - ageMinutes * 60_000).toISOString();
            const env = { ...GIT_ENV, GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when };
            for (const args of [["add", "Pulumi.prod.yaml"], ["commit", "--quiet", "-m", "gate web on its canary"]]) {
                expect(spawnSync("git", args, { cwd: dir, env }).status).to.equal(0);
            }
            return dir;
        }

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
