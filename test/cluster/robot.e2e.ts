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
import { ChildProcess, execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { expect } from "chai";
import * as YAML from "yaml";
import { kubernetesMembersUp } from "../../components/kubernetes/monitoring";
import { EngineExecutor, readRobotLog } from "../../components/robot";
import { changes, EngineProject, engineDir, ok, playgroundCluster, REPO, script, summary } from "../helpers/engine";
import { freePort, startRobotBehindAlertmanager, TestProcesses, until } from "../helpers/robot";

const STACK = "local";
const WORKER = { fleet: "worker", namespace: "jobs", size: 3 };
const TOKEN = "robot-e2e-0123456789abcdef0123456789";

interface Pod {
    metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
    spec: { containers: { name: string; image: string }[] };
    status: { phase?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { name: string; restartCount: number }[] };
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
    let processes: TestProcesses;
    let exporter: http.Server | undefined;
    let refresher: NodeJS.Timeout | undefined;
    /** The exporter's kubectl under way, waited for before the work folder is removed. */
    let refreshing: Promise<void> = Promise.resolve();
    let stopped = false;
    /** Set by the first test, used by the second: the running Prometheus and the robot's log. */
    let prometheus: ChildProcess;
    let prometheusPort: number;
    let rulesFile: string;
    let entries: () => ReturnType<typeof readRobotLog>["entries"];

    /** Writes the fleet's rules as the cluster holds them now, each alert's `for` as given (the rest as generated). */
    function writeRules(fors: Record<string, string>): void {
        const rule = JSON.parse(kubectl("get", "prometheusrules", "--namespace", WORKER.namespace, "--output", "json")) as { items: { spec: { groups: { rules: { alert: string; for?: string }[] }[] } }[] };
        expect(rule.items).to.have.length(1);
        const groups = rule.items[0].spec.groups;
        for (const [alert, duration] of Object.entries(fors)) {
            const found = groups[0].rules.find((r) => r.alert === alert);
            expect(found, alert).to.not.equal(undefined);
            (found as { for: string }).for = duration;
        }
        fs.writeFileSync(rulesFile, YAML.stringify({ groups }));
    }

    /** The `for` of an alert in the rules Prometheus has loaded, in seconds. */
    async function loadedFor(alert: string): Promise<number | undefined> {
        const body = (await (await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; duration: number }[] }[] } };
        return body.data.groups.flatMap((g) => g.rules).find((r) => r.name === alert)?.duration;
    }

    const kubectl = (...args: string[]) => ok({ ...spawnSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", env: copy.env }) }, `kubectl ${args.join(" ")}`).stdout;
    /** The members of a fleet: its pods with a role (the probe's CronJob pods, in the same namespace, have neither). */
    const pods = (namespace = WORKER.namespace, fleet = WORKER.fleet): Pod[] =>
        (JSON.parse(kubectl("get", "pods", "--namespace", namespace, "--selector", `herd.dev/fleet=${fleet},herd.dev/role`, "--output", "json")) as { items: Pod[] }).items;
    const table = (list: Pod[]) => list.map((p) => `${p.metadata.name} ${p.metadata.uid} ready=${isReady(p)}${p.metadata.deletionTimestamp ? " terminating" : ""}`).join("\n");

    before(function () {
        copy = new EngineProject(engineDir(), { PULUMI_CONFIG_PASSPHRASE: "herd playground" });
        ({ dir: clusterDir, owned, kubeconfig } = playgroundCluster(copy));
        // The control plane's own kubectl first, for the robot as for this test.
        copy.env.PATH = `${path.join(script("cluster.sh"), "bin")}${path.delimiter}${copy.env.PATH}`;
        copy.initStack(STACK);
        processes = new TestProcesses(copy.work, copy.project, copy.env);
    });

    after(async function () {
        await processes?.stop();
        stopped = true;
        clearTimeout(refresher);
        await refreshing;
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

        // kube-state-metrics' series, from the API server's pods, refreshed in the background so
        // that a scrape is answered at once (a slow answer would be a failed scrape: no sample).
        let metrics = "";
        const render = (list: Pod[]) => {
            const lines = ["# TYPE kube_pod_status_ready gauge", "# TYPE kube_pod_labels gauge", "# TYPE kube_pod_container_status_restarts_total counter"];
            for (const pod of list) {
                const id = `namespace="${escape(pod.metadata.namespace)}",pod="${escape(pod.metadata.name)}"`;
                lines.push(`kube_pod_status_ready{${id},condition="true"} ${isReady(pod) ? 1 : 0}`);
                const labels = pod.metadata.labels ?? {};
                const label = (name: string) => `label_herd_dev_${name}="${escape(labels[`herd.dev/${name}`] ?? "")}"`;
                lines.push(`kube_pod_labels{${id},${label("fleet")},${label("generation")},${label("role")}} 1`);
                for (const container of pod.status.containerStatuses ?? []) {
                    lines.push(`kube_pod_container_status_restarts_total{${id},container="${escape(container.name)}"} ${container.restartCount}`);
                }
            }
            return `${lines.join("\n")}\n`;
        };
        // One kubectl at a time, the next 500 ms after the last: on a busy machine they would pile up.
        const refresh = () => {
            refreshing = new Promise((resolve) =>
                execFile("kubectl", ["--kubeconfig", kubeconfig, "get", "pods", "--all-namespaces", "--output", "json"], { env: copy.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
                    if (!err) {
                        metrics = render((JSON.parse(stdout) as { items: Pod[] }).items.filter((p) => ["web", WORKER.namespace].includes(p.metadata.namespace)));
                    }
                    if (!stopped) {
                        refresher = setTimeout(refresh, 500);
                    }
                    resolve();
                }),
            );
        };
        refresh();
        exporter = http.createServer((_, response) => {
            response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
            response.end(metrics);
        });
        const exporterPort = await freePort();
        await new Promise<void>((resolve) => exporter?.listen(exporterPort, "127.0.0.1", resolve));

        // The fleet's rules, as the cluster holds them; HerdMemberDown after 1s instead of 5m.
        rulesFile = path.join(copy.work, "rules.yml");
        writeRules({ HerdMemberDown: "1s" });

        const robot = await startRobotBehindAlertmanager(processes, {
            work: copy.work,
            projectDir: copy.project,
            stack: STACK,
            token: TOKEN,
            waits: { group_wait: "1s", group_interval: "1s", repeat_interval: "1m" },
        });
        entries = robot.entries;
        prometheusPort = await freePort();
        fs.writeFileSync(
            path.join(copy.work, "prometheus.yml"),
            YAML.stringify({
                global: { scrape_interval: "1s", evaluation_interval: "1s" },
                rule_files: [rulesFile],
                alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(robot.alertmanager).host] }] }] },
                scrape_configs: [{ job_name: "kube-state-metrics", honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${exporterPort}`] }] }],
            }),
        );
        const checked = spawnSync("promtool", ["check", "config", path.join(copy.work, "prometheus.yml")], { encoding: "utf8" });
        expect(checked.status, checked.stdout + checked.stderr).to.equal(0);

        prometheus = processes.start("prometheus", "prometheus", [
            `--config.file=${path.join(copy.work, "prometheus.yml")}`,
            `--storage.tsdb.path=${path.join(copy.work, "prometheus")}`,
            `--web.listen-address=127.0.0.1:${prometheusPort}`,
            "--rules.alert.resend-delay=1s",
        ]);
        await robot.ready();
        // A run of the fleet's probe, as its CronJob starts one every 5 minutes: its pod shares the
        // namespace and must not count as a member (nor be healed).
        const cronJob = kubectl("get", "cronjobs", "--namespace", WORKER.namespace, "--output", "name").trim();
        expect(cronJob, "the worker fleet's probe CronJob").to.match(/^cronjob\.batch\/worker-probe-stuck-jobs/);
        kubectl("create", "job", "probe-run-e2e", `--from=${cronJob}`, "--namespace", WORKER.namespace);
        await until("the probe run's pod", () => kubectl("get", "pods", "--namespace", WORKER.namespace, "--selector", "job-name=probe-run-e2e", "--output", "name").trim() !== "", 60_000);

        // Counted as the fleet's rule counts its members: the probe's finished Job pods share the
        // namespace, and KWOK leaves them Ready, so a count of every ready pod there would include them.
        let counted = "no answer yet";
        await until("Prometheus to count 3 ready workers", async () => {
            const query = encodeURIComponent(`sum(${kubernetesMembersUp({ fleet: WORKER.fleet, namespace: WORKER.namespace })})`);
            const body = (await (await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/query?query=${query}`)).json()) as { data: { result: { value: [number, string] }[] } };
            counted = JSON.stringify(body.data.result);
            return body.data.result[0]?.value[1] === String(WORKER.size);
        }, 120_000).catch((err: Error) => {
            throw new Error(`${err.message}; Prometheus last answered ${counted}; pods:\n${table(pods())}`);
        });

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
    it("rolls back an opted-in fleet whose canary alerts during a rollout: a commit, then pulumi up through the Automation API", async function () {
        expect(entries, "the first test starts the robot").to.be.a("function");
        const t0 = Date.now();
        const previousImage = pods()[0].spec.containers[0].image;
        const newImage = previousImage.replace(/@sha256:([0-9a-f]{64})$/, (_, digest: string) => `@sha256:${[...digest].reverse().join("")}`);
        // The fleet opts in, then a release starts: one canary pod.
        const file = copy.stackFile(STACK);
        const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
        doc.setIn(["config", "herd:fleets", WORKER.fleet, "robot"], doc.createNode({ rollback: "commit" }));
        fs.writeFileSync(file, doc.toString());
        copy.git("commit", "--quiet", "--all", "-m", "worker: the robot may roll it back");
        ok(copy.herd("release", WORKER.fleet, "--stack", STACK, "--image", newImage), "herd release");
        copy.git("commit", "--quiet", "--all", "-m", "worker: new release, first wave");
        const released = copy.git("rev-parse", "HEAD").trim();
        copy.up(STACK);
        const canary = () => pods().filter((p) => p.metadata.labels?.["herd.dev/role"] === "canary" && !p.metadata.deletionTimestamp);
        await until("one ready canary pod on the new release", () => canary().length === 1 && canary().every(isReady) && pods().filter(isReady).length === WORKER.size, 120_000);
        expect(canary()[0].spec.containers[0].image).to.equal(newImage);

        // HerdCanaryRestarts after 1s instead of 10m (HerdMemberDown back to its 5m); Prometheus reloads on SIGHUP.
        writeRules({ HerdCanaryRestarts: "1s" });
        prometheus.kill("SIGHUP");
        await until("Prometheus to load the rules", async () => (await loadedFor("HerdCanaryRestarts")) === 1 && (await loadedFor("HerdMemberDown")) === 300, 120_000);
        // The canary's container restarts (as a crashing release's would), through the API, once Prometheus has it at 0.
        const victim = canary()[0];
        const restarts = async () => {
            const q = encodeURIComponent(`kube_pod_container_status_restarts_total{pod="${victim.metadata.name}"}`);
            const body = (await (await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/query?query=${q}`)).json()) as { data: { result: { value: [number, string] }[] } };
            return body.data.result[0]?.value[1];
        };
        await until("Prometheus to see the canary with no restart", async () => (await restarts()) === "0", 120_000);
        kubectl("patch", "pod", victim.metadata.name, "--namespace", WORKER.namespace, "--subresource=status", "--type=strategic", "--patch",
            JSON.stringify({ status: { containerStatuses: [{ name: victim.spec.containers[0].name, restartCount: 5 }] } }));
        const patched = Date.now();
        await until("the robot's rollback to end", () => entries().some((e) => e.event === "action" && e.decision === "rollback"), 180_000).catch(async (err: Error) => {
            const query = async (q: string) => JSON.stringify(((await (await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: unknown }).data);
            throw new Error(
                `${err.message}\nALERTS: ${await query("ALERTS")}\nrestarts: ${await query('kube_pod_container_status_restarts_total{namespace="jobs"}')}\n` +
                    `labels: ${await query('kube_pod_labels{namespace="jobs"}')}\nlog: ${JSON.stringify(entries().slice(-3))}`,
            );
        });
        const action = entries().find((e) => e.event === "action" && e.decision === "rollback");
        expect(action, JSON.stringify(entries().slice(-5), null, 1)).to.deep.include({ outcome: "done", stack: STACK, fleet: WORKER.fleet });
        const acted = Date.now();

        // git tells the truth: the robot's commit, on top of the release, sets rollout.members to 0.
        const head = copy.git("rev-parse", "HEAD").trim();
        expect(action?.commit).to.equal(head);
        expect(copy.git("rev-parse", "HEAD~1").trim()).to.equal(released);
        expect(copy.git("log", "-1", "--format=%s")).to.match(/^Roll back fleet worker on stack local: HerdCanaryRestarts fired on the canary of fleet worker \(1 of 3 slots on the release\)/);
        expect(copy.git("status", "--porcelain", "--", `Pulumi.${STACK}.yaml`)).to.equal("");
        expect(YAML.parse(fs.readFileSync(file, "utf8")).config["herd:fleets"][WORKER.fleet].rollout.members).to.equal(0);
        // The engine did it: every worker pod back on the previous release, and nothing left to change.
        await until("3 ready worker pods, all on the previous release", () => {
            const now = pods();
            return now.length === WORKER.size && now.every(isReady) && now.every((p) => p.spec.containers[0].image === previousImage);
        }, 120_000).catch((err: Error) => {
            throw new Error(`${err.message}\n${table(pods())}`);
        });
        const plan = copy.preview(STACK);
        expect(changes(plan), `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
        const timeline = ok(copy.herd("timeline", "--stack", STACK, "--since", "1h"), "herd timeline").stdout;
        expect(timeline).to.match(/commit\s+release\s+[0-9a-f]{10} release worker: a new release on 1 of 3 slots/);
        expect(timeline).to.match(/alert\s+HerdCanaryRestarts\s+HerdCanaryRestarts firing on worker \(The canary of fleet worker \(local\) restarts more often than its stable pods; hold the rollout\); → rollback/);
        expect(timeline).to.match(/commit\s+rollback\s+[0-9a-f]{10} rollback worker: 1 → 0 of 3 slots on the release — "Roll back fleet worker/);
        expect(timeline).to.match(/robot\s+rollback\s+rollback worker done: committed [0-9a-f]{12} and ran pulumi up/);
        console.log(`      restarts patched → rolled back and up done ${Math.round((acted - patched) / 1000)} s; whole test ${Math.round((Date.now() - t0) / 1000)} s`);
    });
    it("replaces a slot's member by its URN through the Automation API, and nothing else", async function () {
        const t0 = Date.now();
        // A project whose members are resources named `web-<slot>`, as on OpenStack and Docker.
        const project = path.join(copy.work, "members");
        fs.cpSync(path.join(REPO, "test", "fixtures", "robot-members"), project, { recursive: true });
        fs.symlinkSync(path.join(REPO, "node_modules"), path.join(project, "node_modules"));
        const env = { ...copy.env, KUBECONFIG: kubeconfig };
        const run = (...args: string[]) => {
            const result = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "scripts", "pulumi.ts"), ...args], { cwd: project, env, encoding: "utf8" });
            return ok({ status: result.status, stdout: result.stdout, stderr: result.stderr }, `pulumi ${args.join(" ")}`);
        };
        ok({ ...spawnSync("pulumi", ["stack", "init", "members", "--secrets-provider", "passphrase"], { cwd: project, env, encoding: "utf8" }) }, "pulumi stack init");
        run("up", "--stack", "members", "--yes", "--skip-preview");
        const configMaps = () =>
            Object.fromEntries(
                (JSON.parse(kubectl("get", "configmaps", "--namespace", "default", "--selector", "herd.dev/fleet=web", "--output", "json")) as { items: { metadata: { name: string; uid: string }; data: { slot: string } }[] }).items.map(
                    (c) => [c.data.slot, c.metadata.uid],
                ),
            );
        const before = configMaps();
        expect(Object.keys(before).sort()).to.deep.equal(["0", "1", "2"]);

        const executor = new EngineExecutor({ projectDir: project, env });
        const fleet = { name: "web", backend: "docker" as const, size: 3, minHealthy: 2, heal: true, rollback: "off" as const };
        const outcome = await executor.heal({ stack: "members", fleet, slot: "1" });
        expect(outcome.reason).to.match(/^replaced urn:pulumi:members::robot-members::kubernetes:core\/v1:ConfigMap::web-1 through pulumi up \(1 replace\)$/);
        const after = configMaps();
        expect(after["0"]).to.equal(before["0"]);
        expect(after["2"]).to.equal(before["2"]);
        expect(after["1"]).to.be.a("string").and.not.equal(before["1"]);
        // A slot the stack does not have is one message, and changes nothing.
        let error: Error | undefined;
        await executor.heal({ stack: "members", fleet, slot: "7" }).catch((err: Error) => (error = err));
        expect(error?.message).to.match(/pulumi up of stack members failed \(exit 1\): the stack has no resource named web-7$/);
        expect(configMaps()).to.deep.equal(after);
        run("destroy", "--stack", "members", "--yes", "--skip-preview");
        console.log(`      targeted replace through the Automation API ${Math.round((Date.now() - t0) / 1000)} s, with the first up and the destroy`);
    });
});
