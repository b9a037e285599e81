import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import * as YAML from "yaml";
import { kubernetesRuleGroup } from "../components/kubernetes";
import { defaultAlerts, defaultMinHealthy, RuleGroup, ruleFile } from "../components/monitoring";
import { runStack } from "./helpers/project";

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
