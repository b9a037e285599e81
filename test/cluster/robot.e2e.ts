/**
 * The robot on a real control plane: the `local` stack (Pulumi.local.yaml) is brought up through
 * the real engine (scripts/engine.sh) on a real kube-apiserver with KWOK's nodes
 * (scripts/cluster-up.sh); one pod of the `worker` fleet is made unready through the API; real
 * Prometheus evaluates the fleet's own alert rule, taken from the PrometheusRule object in the
 * cluster, and sends HerdMemberDown to the real Alertmanager, which routes it through the sample
 * route (examples/robot/alertmanager.yml) to the real `herd robot` command, which evicts that pod.
 * The test asserts on the API server: that pod was replaced (a new pod UID), every other pod and
 * every Deployment is as it was, and a `pulumi preview` plans no change.
 *
 * Two stand-ins, both on 127.0.0.1: KWOK runs no container, so nothing serves metrics, and the
 * worker fleet is counted from kube-state-metrics' series (`kubernetesMembersUp`); this test
 * serves those two series (`kube_pod_status_ready`, `kube_pod_labels`) from the API server's pod
 * list, as kube-state-metrics would. And the rule's `for: 5m` is cut to 1s, so that the test does
 * not wait five minutes. Everything else is the real thing. Every process it starts listens on
 * 127.0.0.1 and is stopped by its PID.
 *
 * Not part of `npm test`: scripts/robot-test.sh runs it next to a cluster (scripts/with-cluster.sh).
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { expect } from "chai";
import * as YAML from "yaml";
import { readRobotLog } from "../../components/robot";
import { changes, EngineProject, engineDir, ok, REPO, script, summary } from "../helpers/engine";
import { freePort, until } from "../helpers/robot";

const STACK = "local";
const WORKER = { fleet: "worker", namespace: "jobs", size: 3 };
const TOKEN = "robot-e2e-0123456789abcdef0123456789";

interface Pod {
    metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
    status: { phase?: string; conditions?: { type: string; status: string }[] };
}
interface Deployment {
    metadata: { name: string; generation: number; uid: string };
    spec: unknown;
}

const isReady = (pod: Pod) => !pod.metadata.deletionTimestamp && (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
const escape = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"');

describe("herd robot on a real control plane: a pod made unready is replaced through Prometheus, Alertmanager and the robot", function () {
    this.timeout(15 * 60 * 1000);

    let copy: EngineProject;
    let clusterDir: string;
    let owned = false;
    let kubeconfig: string;
    const started: ChildProcess[] = [];
    let exporter: http.Server | undefined;

    const kubectl = (...args: string[]) => ok({ ...spawnSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", env: copy.env }) }, `kubectl ${args.join(" ")}`).stdout;
    const pods = (namespace = WORKER.namespace, fleet = WORKER.fleet): Pod[] =>
        (JSON.parse(kubectl("get", "pods", "--namespace", namespace, "--selector", `herd.dev/fleet=${fleet}`, "--output", "json")) as { items: Pod[] }).items;
    const table = (list: Pod[]) => list.map((p) => `${p.metadata.name} ${p.metadata.uid} ready=${isReady(p)}${p.metadata.deletionTimestamp ? " terminating" : ""}`).join("\n");

    /** Starts a process whose output goes to a file in the work folder; it is stopped by PID after the tests. */
    function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = copy.env): ChildProcess {
        const out = fs.openSync(path.join(copy.work, `${name}.log`), "a");
        const child = spawn(command, args, { cwd: copy.project, env, stdio: ["ignore", out, out] });
        fs.closeSync(out);
        started.push(child);
        return child;
    }

    before(function () {
        copy = new EngineProject(engineDir(), { PULUMI_CONFIG_PASSPHRASE: "herd playground" });
        clusterDir = path.join(copy.project, ".herd", "playground");
        const shared = process.env.HERD_CLUSTER_RUN;
        if (shared) {
            fs.mkdirSync(clusterDir, { recursive: true });
            fs.copyFileSync(path.join(shared, "kubeconfig"), path.join(clusterDir, "kubeconfig"));
        } else {
            owned = true;
            script("cluster-up.sh", "start", clusterDir);
        }
        kubeconfig = path.join(clusterDir, "kubeconfig");
        // The control plane's own kubectl first, for the robot as for this test.
        copy.env.PATH = `${path.join(script("cluster.sh"), "bin")}${path.delimiter}${copy.env.PATH}`;
        copy.initStack(STACK);
    });

    after(async function () {
        for (const child of started.reverse()) {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill("SIGTERM");
                await new Promise((resolve) => child.once("exit", resolve));
            }
        }
        await new Promise((resolve) => (exporter ? exporter.close(resolve) : resolve(undefined)));
        if (owned) {
            script("cluster-up.sh", "stop", clusterDir);
        }
        copy?.remove();
    });

    it("replaces exactly the unready member, and nothing else changes", async function () {
        const t0 = Date.now();
        copy.up(STACK);
        await until("the worker fleet's 3 pods to be ready", () => pods().filter(isReady).length === WORKER.size, 120_000);
        const upDone = Date.now();
        const before = pods();
        const webBefore = pods("web", "web").map((p) => p.metadata.uid).sort();
        const deploymentsBefore = (namespace: string) =>
            (JSON.parse(kubectl("get", "deployments", "--namespace", namespace, "--output", "json")) as { items: Deployment[] }).items.map((d) => [d.metadata.name, d.metadata.uid, d.metadata.generation]);
        const deployments = { jobs: deploymentsBefore("jobs"), web: deploymentsBefore("web") };

        // kube-state-metrics' two series, from the API server's pods.
        exporter = http.createServer((_, response) => {
            const lines = ["# TYPE kube_pod_status_ready gauge", "# TYPE kube_pod_labels gauge"];
            for (const pod of pods()) {
                const id = `namespace="${escape(pod.metadata.namespace)}",pod="${escape(pod.metadata.name)}"`;
                lines.push(`kube_pod_status_ready{${id},condition="true"} ${isReady(pod) ? 1 : 0}`);
                const labels = pod.metadata.labels ?? {};
                lines.push(`kube_pod_labels{${id},label_herd_dev_fleet="${escape(labels["herd.dev/fleet"] ?? "")}",label_herd_dev_generation="${escape(labels["herd.dev/generation"] ?? "")}"} 1`);
            }
            response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
            response.end(`${lines.join("\n")}\n`);
        });
        const exporterPort = await freePort();
        await new Promise<void>((resolve) => exporter?.listen(exporterPort, "127.0.0.1", resolve));

        // The fleet's rules, as the cluster holds them; HerdMemberDown after 1s instead of 5m.
        const rule = JSON.parse(kubectl("get", "prometheusrules", "--namespace", WORKER.namespace, "--output", "json")) as { items: { spec: { groups: { rules: { alert: string; for?: string }[] }[] } }[] };
        expect(rule.items).to.have.length(1);
        const groups = rule.items[0].spec.groups;
        const memberDown = groups[0].rules.find((r) => r.alert === "HerdMemberDown");
        expect(memberDown?.for).to.equal("5m");
        (memberDown as { for: string }).for = "1s";
        fs.writeFileSync(path.join(copy.work, "rules.yml"), YAML.stringify({ groups }));

        const [prometheusPort, alertmanagerPort, robotPort] = [await freePort(), await freePort(), await freePort()];
        fs.writeFileSync(
            path.join(copy.work, "prometheus.yml"),
            YAML.stringify({
                global: { scrape_interval: "1s", evaluation_interval: "1s" },
                rule_files: [path.join(copy.work, "rules.yml")],
                alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${alertmanagerPort}`] }] }] },
                scrape_configs: [{ job_name: "kube-state-metrics", honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${exporterPort}`] }] }],
            }),
        );
        const checked = spawnSync("promtool", ["check", "config", path.join(copy.work, "prometheus.yml")], { encoding: "utf8" });
        expect(checked.status, checked.stdout + checked.stderr).to.equal(0);

        // The sample route, pointed at this robot.
        const tokenFile = path.join(copy.work, "robot-token");
        fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
        const amConfig = YAML.parse(fs.readFileSync(path.join(REPO, "examples", "robot", "alertmanager.yml"), "utf8"));
        Object.assign(amConfig.route.routes[0], { group_wait: "1s", group_interval: "1s", repeat_interval: "1m" });
        amConfig.receivers[1].webhook_configs[0].url = `http://127.0.0.1:${robotPort}/alerts`;
        amConfig.receivers[1].webhook_configs[0].http_config.authorization.credentials_file = tokenFile;
        fs.writeFileSync(path.join(copy.work, "alertmanager.yml"), YAML.stringify(amConfig));

        start("robot", process.execPath, ["--import", "tsx", path.join(REPO, "components", "cli", "main.ts"), "robot", "--stack", STACK, "--token-file", tokenFile, "--listen", `127.0.0.1:${robotPort}`]);
        start("alertmanager", "prometheus-alertmanager", [
            `--config.file=${path.join(copy.work, "alertmanager.yml")}`,
            `--storage.path=${path.join(copy.work, "alertmanager")}`,
            `--web.listen-address=127.0.0.1:${alertmanagerPort}`,
            "--cluster.listen-address=",
        ]);
        start("prometheus", "prometheus", [
            `--config.file=${path.join(copy.work, "prometheus.yml")}`,
            `--storage.tsdb.path=${path.join(copy.work, "prometheus")}`,
            `--web.listen-address=127.0.0.1:${prometheusPort}`,
            "--rules.alert.resend-delay=1s",
        ]);
        const logFile = path.join(copy.project, ".herd", "robot.jsonl");
        const entries = () => readRobotLog(logFile).entries;
        await until("the robot to listen", () => entries().some((e) => e.event === "started"), 30_000);
        await until("Alertmanager to be ready", async () => (await fetch(`http://127.0.0.1:${alertmanagerPort}/-/ready`)).ok, 30_000);
        await until("Prometheus to count 3 ready workers", async () => {
            const query = encodeURIComponent(`sum(${"kube_pod_status_ready"}{namespace="jobs",condition="true"})`);
            const body = (await (await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/query?query=${query}`)).json()) as { data: { result: { value: [number, string] }[] } };
            return body.data.result[0]?.value[1] === "3";
        }, 60_000);

        // Slot of the fleet, made unready through the API, as a failing readiness probe would.
        const victim = before[1];
        const servicesReady = Date.now();
        kubectl("patch", "pod", victim.metadata.name, "--namespace", WORKER.namespace, "--subresource=status", "--type=strategic", "--patch", JSON.stringify({ status: { conditions: [{ type: "Ready", status: "False" }] } }));
        expect(isReady(pods().find((p) => p.metadata.uid === victim.metadata.uid) as Pod)).to.equal(false);

        await until(
            `the robot to replace pod ${victim.metadata.name}`,
            () => entries().some((e) => e.event === "action" && e.outcome !== undefined),
            120_000,
        );
        const action = entries().find((e) => e.event === "action");
        expect(action, JSON.stringify(entries(), null, 1)).to.deep.include({ decision: "heal", outcome: "done", stack: STACK, fleet: WORKER.fleet, slot: victim.metadata.name });
        const acted = Date.now();
        await until("3 ready worker pods, the victim gone", () => {
            const now = pods();
            return now.length === WORKER.size && now.every(isReady) && !now.some((p) => p.metadata.uid === victim.metadata.uid);
        }, 120_000).catch((err: Error) => {
            throw new Error(`${err.message}\n${table(pods())}`);
        });

        const after = pods();
        const kept = before.filter((p) => p.metadata.uid !== victim.metadata.uid).map((p) => p.metadata.uid).sort();
        const replacement = after.filter((p) => !kept.includes(p.metadata.uid));
        expect(after.map((p) => p.metadata.uid).filter((uid) => kept.includes(uid)).sort(), table(after)).to.deep.equal(kept);
        expect(replacement, table(after)).to.have.length(1);
        expect(replacement[0].metadata.labels?.["herd.dev/generation"]).to.equal(victim.metadata.labels?.["herd.dev/generation"]);
        // Nothing else: the web fleet's pods, every Deployment (same object, same spec generation).
        expect(pods("web", "web").map((p) => p.metadata.uid).sort()).to.deep.equal(webBefore);
        expect({ jobs: deploymentsBefore("jobs"), web: deploymentsBefore("web") }).to.deep.equal(deployments);
        // The decision, as the robot logged it, came through Alertmanager from the rule.
        const alert = entries().find((e) => e.event === "alert" && e.decision === "heal");
        expect(alert).to.deep.include({ alertname: "HerdMemberDown", alertStatus: "firing", stack: STACK, fleet: WORKER.fleet, slot: victim.metadata.name });
        expect(entries().filter((e) => e.event === "refused")).to.deep.equal([]);
        // The engine's state is untouched: a preview plans no change.
        const plan = copy.preview(STACK);
        expect(changes(plan), `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
        // The timeline tells it.
        const timeline = ok(copy.herd("timeline", "--stack", STACK, "--since", "1h"), "herd timeline").stdout;
        expect(timeline).to.match(new RegExp(`HerdMemberDown firing on worker member ${victim.metadata.name}.*→ heal`));
        expect(timeline).to.match(new RegExp(`heal worker member ${victim.metadata.name} done: evicted pod ${victim.metadata.name}`));
        console.log(
            `      pulumi up ${Math.round((upDone - t0) / 1000)} s; pod made unready → robot evicted it ${Math.round((acted - servicesReady) / 1000)} s; ` +
                `whole test ${Math.round((Date.now() - t0) / 1000)} s`,
        );
    });
});
