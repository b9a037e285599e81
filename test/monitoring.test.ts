import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import * as YAML from "yaml";
import { kubernetesRuleGroup } from "../components/kubernetes";
import { resolveFleets } from "../components/fleet";
import { defaultAlerts, defaultMinHealthy, gateClosedExpr, RuleGroup, ruleFile } from "../components/monitoring";
import { PROJECT_DIR, runStack, stackConfig } from "./helpers/project";

function promtool(args: string[], cwd: string): { code: number; output: string } {
    try {
        return { code: 0, output: execFileSync("promtool", args, { cwd, encoding: "utf8", stdio: "pipe" }) };
    } catch (err) {
        const e = err as { status: number; stdout: string; stderr: string };
        return { code: e.status, output: `${e.stdout}${e.stderr}` };
    }
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "herd-rules-"));

/** `up` series of a fleet: `down` slots report 0 from minute `downFrom`, the rest 1, for 15 minutes. */
function upSeries(stack: string, fleet: string, size: number, down: number[], downFrom = 0) {
    return Array.from({ length: size }, (_, slot) => {
        const failing = down.includes(slot);
        const values = failing ? `${downFrom > 0 ? `1x${downFrom - 1} ` : ""}0x${15 - downFrom}` : "1x15";
        return {
            series: `up{herd_stack="${stack}",herd_fleet="${fleet}",herd_slot="${slot}",herd_generation="1a2b3c4d",instance="${fleet}-${slot}:9100"}`,
            values,
        };
    });
}

describe("default alert rules", () => {
    it("defaults minHealthy to the size minus the largest batch", () => {
        expect(defaultMinHealthy(12, 3)).to.equal(9);
        expect(defaultMinHealthy(1, 1)).to.equal(0);
        expect(defaultMinHealthy(2, 5)).to.equal(0);
    });

    it("writes rule files for the real stacks that pass `promtool check rules`", async () => {
        const dir = tmp();
        for (const stack of ["dev", "prod"]) {
            const run = await runStack(stack);
            const file = path.join(dir, `${stack}.rules.yml`);
            fs.writeFileSync(file, run.outputs.alertRules as string);
            const result = promtool(["check", "rules", file], dir);
            expect(result.output).to.match(/SUCCESS: \d+ rules found/);
            expect(result.code).to.equal(0);
        }
        fs.writeFileSync(path.join(dir, "broken.yml"), "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: up{\n");
        expect(promtool(["check", "rules", path.join(dir, "broken.yml")], dir).code).to.not.equal(0);
    });

    it("fire on the right series and stay quiet otherwise (`promtool test rules`)", () => {
        const dir = tmp();
        const input = { stack: "prod", fleet: "web", size: 12, minHealthy: 10 };
        fs.writeFileSync(path.join(dir, "rules.yml"), ruleFile([defaultAlerts(input)]));
        const labels = { herd_stack: "prod", herd_fleet: "web" };
        const memberDown = (slot: number) => ({
            exp_labels: {
                ...labels,
                severity: "warning",
                herd_slot: String(slot),
                herd_generation: "1a2b3c4d",
                instance: `web-${slot}:9100`,
            },
            exp_annotations: {
                summary: `Member ${slot} of fleet web (prod) is down`,
                description: `web-${slot}:9100, generation 1a2b3c4d, has been down for 5m.`,
            },
        });
        /** The fleet alert as it must fire with `up` members up. */
        const belowMinHealthy = (up: number) => ({
            exp_labels: { ...labels, severity: "critical" },
            exp_annotations: { summary: "Fleet web (prod) has fewer than 10 of 12 members up", description: `${up} members are up.` },
        });
        const tests = {
            rule_files: ["rules.yml"],
            evaluation_interval: "1m",
            tests: [
                {
                    // all up: nothing fires
                    interval: "1m",
                    input_series: upSeries("prod", "web", 12, []),
                    alert_rule_test: [
                        { eval_time: "10m", alertname: "HerdFleetBelowMinHealthy", exp_alerts: [] },
                        { eval_time: "10m", alertname: "HerdMemberDown", exp_alerts: [] },
                    ],
                },
                {
                    // two down: still 10 up, so only the member alerts fire, after 5 minutes
                    interval: "1m",
                    input_series: upSeries("prod", "web", 12, [4, 7]),
                    alert_rule_test: [
                        { eval_time: "4m", alertname: "HerdMemberDown", exp_alerts: [] },
                        { eval_time: "10m", alertname: "HerdMemberDown", exp_alerts: [memberDown(4), memberDown(7)] },
                        { eval_time: "10m", alertname: "HerdFleetBelowMinHealthy", exp_alerts: [] },
                    ],
                },
                {
                    // three down: 9 < 10 up
                    interval: "1m",
                    input_series: upSeries("prod", "web", 12, [0, 1, 2]),
                    alert_rule_test: [
                        {
                            eval_time: "5m",
                            alertname: "HerdFleetBelowMinHealthy",
                            exp_alerts: [belowMinHealthy(9)],
                        },
                    ],
                },
                {
                    // another fleet down does not page this one
                    interval: "1m",
                    input_series: [...upSeries("prod", "web", 12, []), ...upSeries("prod", "api", 3, [0, 1, 2])],
                    alert_rule_test: [
                        { eval_time: "10m", alertname: "HerdFleetBelowMinHealthy", exp_alerts: [] },
                        { eval_time: "10m", alertname: "HerdMemberDown", exp_alerts: [] },
                    ],
                },
                {
                    // every target gone (no series at all): the fleet alert still fires
                    interval: "1m",
                    input_series: [{ series: 'up{herd_stack="prod",herd_fleet="other"}', values: "1x15" }],
                    alert_rule_test: [
                        {
                            eval_time: "5m",
                            alertname: "HerdFleetBelowMinHealthy",
                            exp_alerts: [belowMinHealthy(0)],
                        },
                    ],
                },
            ],
        };
        fs.writeFileSync(path.join(dir, "tests.yml"), YAML.stringify(tests));
        const result = promtool(["test", "rules", "tests.yml"], dir);
        expect(result.output).to.contain("SUCCESS");
        expect(result.code, result.output).to.equal(0);

        // the same tests against a rule that never fires must fail: the check can fail
        fs.writeFileSync(
            path.join(dir, "rules.yml"),
            ruleFile([{ ...defaultAlerts(input), rules: defaultAlerts(input).rules.map((r) => ({ ...r, expr: "vector(0) > 1" })) }]),
        );
        expect(promtool(["test", "rules", "tests.yml"], dir).code).to.not.equal(0);
    });
});

describe("Kubernetes monitoring", () => {
    it("ships the prod Kubernetes fleet's alerts as a PrometheusRule that passes `promtool check rules`, and a PodMonitor", async () => {
        const run = await runStack("prod");
        const rule = run.named("api-monitoring-rules", "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
        const groups = (rule.inputs.spec as { groups: RuleGroup[] }).groups;
        expect(groups.flatMap((g) => g.rules.map((r) => r.alert))).to.deep.equal([
            "HerdFleetBelowMinHealthy",
            "HerdMemberDown",
            "HerdCanaryRestarts",
            "HerdCanaryErrorRate",
        ]);
        expect((rule.inputs.metadata as { namespace: string }).namespace).to.equal("api");
        const dir = tmp();
        fs.writeFileSync(path.join(dir, "api.rules.yml"), ruleFile(groups));
        const result = promtool(["check", "rules", "api.rules.yml"], dir);
        expect(result.code, result.output).to.equal(0);
        const monitor = run.named("api-monitoring-pods", "kubernetes:monitoring.coreos.com/v1:PodMonitor");
        expect((monitor.inputs.spec as { selector: unknown }).selector).to.deep.equal({ matchLabels: { "app.kubernetes.io/name": "api", "herd.dev/fleet": "api" } });
        expect(run.outputs.alertRules).to.not.contain("herd_fleet=\"api\"");
    });

    it("alert on a canary that restarts or fails more than the stable pods, and stay quiet otherwise (`promtool test rules`)", () => {
        const dir = tmp();
        const group = kubernetesRuleGroup({ stack: "prod", fleet: "api", namespace: "api", rules: { name: "herd-prod-api", rules: [] } });
        fs.writeFileSync(path.join(dir, "rules.yml"), ruleFile([group]));
        const pods = (canaryRestartsPerMinute: number) => [
            ...["api-canary-a"].map((pod) => ({ pod, role: "canary", restarts: `0+${canaryRestartsPerMinute}x40` })),
            ...["api-stable-a", "api-stable-b"].map((pod) => ({ pod, role: "stable", restarts: "0x40" })),
        ].flatMap(({ pod, role, restarts }) => [
            { series: `kube_pod_container_status_restarts_total{namespace="api",pod="${pod}",container="app"}`, values: restarts },
            { series: `kube_pod_labels{namespace="api",pod="${pod}",label_herd_dev_fleet="api",label_herd_dev_role="${role}"}`, values: "1x40" },
        ]);
        const requests = (canary5xxPerMinute: number) =>
            [
                ["canary", "200", "0+100x40"],
                ["canary", "500", `0+${canary5xxPerMinute}x40`],
                ["stable", "200", "0+500x40"],
                ["stable", "500", "0+1x40"],
            ].map(([role, code, values]) => ({
                series: `http_requests_total{herd_stack="prod",herd_fleet="api",herd_role="${role}",code="${code}"}`,
                values,
            }));
        const fired = (alertname: string) => ({
            eval_time: "30m",
            alertname,
            exp_alerts: [
                {
                    exp_labels: { herd_stack: "prod", herd_fleet: "api", severity: "warning" },
                    exp_annotations: {
                        summary:
                            alertname === "HerdCanaryRestarts"
                                ? "The canary of fleet api (prod) restarts more often than its stable pods; hold the rollout"
                                : "The canary of fleet api (prod) answers more 5xx than its stable pods; hold the rollout",
                    },
                },
            ],
        });
        const quiet = (alertname: string) => ({ eval_time: "30m", alertname, exp_alerts: [] });
        const tests = {
            rule_files: ["rules.yml"],
            evaluation_interval: "1m",
            tests: [
                { interval: "1m", input_series: [...pods(1), ...requests(0)], alert_rule_test: [fired("HerdCanaryRestarts"), quiet("HerdCanaryErrorRate")] },
                { interval: "1m", input_series: [...pods(0), ...requests(20)], alert_rule_test: [quiet("HerdCanaryRestarts"), fired("HerdCanaryErrorRate")] },
                { interval: "1m", input_series: [...pods(0), ...requests(0)], alert_rule_test: [quiet("HerdCanaryRestarts"), quiet("HerdCanaryErrorRate")] },
            ],
        };
        fs.writeFileSync(path.join(dir, "tests.yml"), YAML.stringify(tests));
        const result = promtool(["test", "rules", "tests.yml"], dir);
        expect(result.code, result.output).to.equal(0);
    });
});

describe("HerdCanaryGateClosed: the gate query, watched while a rollout is under way", () => {
    const query = 'max(rate(http_errors_total{herd_stack="$stack",herd_fleet="$fleet",herd_generation="$generation"}[5m])) < 0.01';
    const selector = 'http_errors_total{herd_stack="prod",herd_fleet="api",herd_generation="c0ffee42"}[5m]';
    const gateInput = { stack: "prod", fleet: "api", size: 6, minHealthy: 4, canaryGate: { query, generation: "c0ffee42" } };
    /** A container fleet of the given rollout, with a gate. */
    const fleet = (rollout: object | undefined, gate = true) => ({
        backend: "docker",
        size: 6,
        release: { image: "registry.example.org/api@sha256:" + "5".repeat(64) },
        ...(rollout ? { rollout } : {}),
        ...(gate ? { gate: { prometheus: "http://prometheus:9090", query } } : {}),
    });
    const previous = { image: "registry.example.org/api@sha256:" + "0".repeat(64) };
    /** The alert promtool expects of a fleet's closed gate. */
    const gateClosed = (fleet: string) => ({
        exp_labels: { herd_stack: "prod", herd_fleet: fleet, herd_generation: "c0ffee42", herd_role: "canary", severity: "warning" },
        exp_annotations: {
            summary: `The gate of fleet ${fleet} (prod) is closed on its canary, generation c0ffee42; roll back or hold the rollout`,
            description: "The gate query returns nothing, NaN, ±Inf or a scalar 0, so herd promote would refuse the next wave.",
        },
    });
    /** One value for each of 31 minutes. */
    const repeat = (value: string) => Array.from({ length: 31 }, () => value).join(" ");

    it("turns the gate query, the canary's generation in it, into an alert labelled as the canary's", () => {
        const rule = defaultAlerts(gateInput).rules.find((r) => r.alert === "HerdCanaryGateClosed");
        expect(rule).to.deep.equal({
            alert: "HerdCanaryGateClosed",
            expr: `absent(count((max(rate(${selector})) < 0.01) > -Inf < +Inf) == count(max(rate(${selector})) < 0.01))`,
            for: "10m",
            labels: { herd_stack: "prod", herd_fleet: "api", herd_generation: "c0ffee42", herd_role: "canary", severity: "warning" },
            annotations: {
                summary: "The gate of fleet api (prod) is closed on its canary, generation c0ffee42; roll back or hold the rollout",
                description: "The gate query returns nothing, NaN, ±Inf or a scalar 0, so herd promote would refuse the next wave.",
            },
        });
        expect(defaultAlerts({ ...gateInput, canaryGate: { query, generation: "c0ffee42", for: "3m" } }).rules.at(-1)?.for).to.equal("3m");
    });

    it("keeps the gate's rule for each kind of result: a scalar, a range, a string; comments are dropped", () => {
        expect(gateClosedExpr("scalar(max(x)) * 2")).to.equal("absent(vector(scalar(max(x)) * 2) != 0 > -Inf < +Inf)");
        expect(gateClosedExpr("x[5m]")).to.equal("absent(count((sum_over_time(x[5m])) > -Inf < +Inf) == count(sum_over_time(x[5m])))");
        expect(gateClosedExpr('"yes"')).to.equal("vector(1)");
        expect(gateClosedExpr("max(x) # the canary's\n < 1")).to.equal("absent(count((max(x) \n < 1) > -Inf < +Inf) == count(max(x) \n < 1))");
    });

    it("is there only for a fleet with a gate whose rollout is under way, with the generation its members run", () => {
        const canary = (raw: object) => resolveFleets({ api: raw }, { stack: "prod", projectDir: PROJECT_DIR })[0].alerts.canaryGate;
        const mid = canary(fleet({ previous, members: 1 }));
        expect(mid?.query).to.equal(query);
        expect(mid?.generation).to.match(/^[0-9a-f]{8}$/);
        expect(canary(fleet({ previous, members: 0 }))).to.equal(undefined);
        expect(canary(fleet({ previous, members: 6 }))).to.equal(undefined);
        expect(canary(fleet(undefined))).to.equal(undefined);
        expect(canary(fleet({ previous, members: 1 }, false))).to.equal(undefined);
        expect(defaultAlerts({ ...gateInput, canaryGate: undefined }).rules.map((r) => r.alert)).to.not.include("HerdCanaryGateClosed");
    });

    it("fires for an empty result, NaN, +Inf and -Inf, and not while the canary is healthy (`promtool test rules`)", function () {
        this.timeout(30_000);
        const dir = tmp();
        fs.writeFileSync(path.join(dir, "rules.yml"), ruleFile([defaultAlerts(gateInput)]));
        expect(promtool(["check", "rules", "rules.yml"], dir).code).to.equal(0);
        // Errors per second of the canary: rate() of a counter that grows by `perMinute` each minute.
        const errors = (generation: string, values: string) => ({
            series: `http_errors_total{herd_stack="prod",herd_fleet="api",herd_generation="${generation}",instance="api-0"}`,
            values,
        });
        const fires = { eval_time: "25m", alertname: "HerdCanaryGateClosed", exp_alerts: [gateClosed("api")] };
        const quiet = { eval_time: "25m", alertname: "HerdCanaryGateClosed", exp_alerts: [] };
        const test = (series: object[], check: object) => ({ interval: "1m", input_series: series, alert_rule_test: [check] });
        const tests = {
            rule_files: ["rules.yml"],
            evaluation_interval: "1m",
            tests: [
                // healthy: no errors at all, the rate is 0 < 0.01
                test([errors("c0ffee42", "0x30")], quiet),
                // empty: the canary serves errors (rate 1/s), so `< 0.01` returns nothing
                test([errors("c0ffee42", "0+60x30")], fires),
                // empty: the canary has no series at all; the previous release's do not count
                test([errors("0ld0ld00", "0x30")], fires),
                // NaN and ±Inf: the counter itself reads NaN or ±Inf, and so does its rate
                test([errors("c0ffee42", repeat("NaN"))], fires),
                test([errors("c0ffee42", repeat("+Inf"))], fires),
                test([errors("c0ffee42", repeat("-Inf"))], fires),
                // a closed gate shorter than `for` (10m) does not fire: errors from minute 20 only
                test([errors("c0ffee42", "0x20 0+60x10")], quiet),
            ],
        };
        fs.writeFileSync(path.join(dir, "tests.yml"), YAML.stringify(tests));
        const result = promtool(["test", "rules", "tests.yml"], dir);
        expect(result.code, result.output).to.equal(0);
    });

    it("the rule's NaN and ±Inf checks hold for a query that passes those values through, and for a scalar", function () {
        this.timeout(30_000);
        const dir = tmp();
        const group = (name: string, gate: string) => defaultAlerts({ stack: "prod", fleet: name, size: 6, minHealthy: 4, canaryGate: { query: gate, generation: "c0ffee42", for: "0s" } });
        fs.writeFileSync(path.join(dir, "rules.yml"), ruleFile([group("vec", 'ratio{herd_generation="$generation"}'), group("sca", 'scalar(ratio{herd_generation="$generation",slot="0"})')]));
        const ratio = (slot: number, values: string) => ({ series: `ratio{herd_generation="c0ffee42",slot="${slot}"}`, values });
        const at = (minute: number, ...fleets: string[]) => ({ eval_time: `${minute}m`, alertname: "HerdCanaryGateClosed", exp_alerts: fleets.map(gateClosed) });
        // minute:     0    1    2    3     4    5
        // slot 0:     0.5  NaN  Inf  -Inf  0    0.5
        // slot 1:     0.5  0.5  0.5  0.5   0.5  Inf
        const series = [ratio(0, "0.5 NaN Inf -Inf 0 0.5"), ratio(1, "0.5 0.5 0.5 0.5 0.5 Inf")];
        // The vector fires on any NaN or ±Inf; the scalar (slot 0 alone) also on 0, and not on slot 1's +Inf.
        const checks = [at(0), at(1, "sca", "vec"), at(2, "sca", "vec"), at(3, "sca", "vec"), at(4, "sca"), at(5, "vec")];
        const tests = { rule_files: ["rules.yml"], evaluation_interval: "1m", tests: [{ interval: "1m", input_series: series, alert_rule_test: checks }] };
        fs.writeFileSync(path.join(dir, "tests.yml"), YAML.stringify(tests));
        const result = promtool(["test", "rules", "tests.yml"], dir);
        expect(result.code, result.output).to.equal(0);
    });

    it("lands in the exported rule file of an OpenStack fleet and in a Kubernetes fleet's PrometheusRule, mid-rollout", async function () {
        this.timeout(120_000);
        const config = stackConfig("prod");
        const fleets = config["herd:fleets"] as Record<string, Record<string, unknown>>;
        const gate = { prometheus: "http://prometheus:9090", query };
        fleets.web.gate = gate;
        fleets.api.gate = gate;
        fleets.worker.gate = gate; // no rollout: no rule
        const run = await runStack("prod", config);
        const generations = run.outputs.fleets as Record<string, { generations: unknown }>;
        const file = YAML.parse(run.outputs.alertRules as string) as { groups: RuleGroup[] };
        const gateRules = (groups: RuleGroup[]) => groups.flatMap((g) => g.rules.filter((r) => r.alert === "HerdCanaryGateClosed"));
        const [web] = gateRules(file.groups);
        expect(gateRules(file.groups)).to.have.length(1);
        // Slot 0 of web runs the release: the canary's generation is the one its member carries.
        const webCanary = (generations.web.generations as string[])[0];
        expect(web.labels).to.deep.equal({ herd_stack: "prod", herd_fleet: "web", herd_generation: webCanary, herd_role: "canary", severity: "warning" });
        expect(web.expr).to.contain(`herd_stack="prod",herd_fleet="web",herd_generation="${webCanary}"`);
        const rule = run.named("api-monitoring-rules", "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
        const [api] = gateRules((rule.inputs.spec as { groups: RuleGroup[] }).groups);
        const apiCanary = (generations.api.generations as { canary: string }).canary;
        expect(api.labels).to.deep.equal({ herd_stack: "prod", herd_fleet: "api", herd_generation: apiCanary, herd_role: "canary", severity: "warning" });
        const dir = tmp();
        fs.writeFileSync(path.join(dir, "rules.yml"), run.outputs.alertRules as string);
        fs.writeFileSync(path.join(dir, "api.rules.yml"), ruleFile((rule.inputs.spec as { groups: RuleGroup[] }).groups));
        for (const rules of ["rules.yml", "api.rules.yml"]) {
            const result = promtool(["check", "rules", rules], dir);
            expect(result.code, result.output).to.equal(0);
        }
    });
});
