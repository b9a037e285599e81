/**
 * The `local` stack (Pulumi.local.yaml) through the real Pulumi CLI, engine and Kubernetes
 * provider against a real control plane (scripts/cluster-up.sh: kube-apiserver, etcd, the
 * controllers and scheduler, KWOK's fake nodes), asserting on the API server's own state: the
 * fleet's whole life, from the first `pulumi up` through a rollout 1 → 10 → all, a rollback, a
 * `git revert`, evictions and `pulumi destroy`.
 *
 * Not part of `npm test`: scripts/cluster-test.sh builds (or finds cached) the engine and the
 * control plane, starts the cluster, runs this file and stops the cluster by its PIDs. Run alone,
 * it starts and stops a cluster of its own. The project is copied into a temporary git
 * repository (HERD_ENGINE_KEEP=1 keeps it); every server listens on 127.0.0.1, and the addresses
 * the cluster hands out (pod and service IPs) are only read, never contacted.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import { expect } from "chai";
import { parse, parseDocument } from "yaml";
import { changes, EngineProject, engineDir, ok, playgroundCluster, script, summary } from "../helpers/engine";

const STACK = "local";
/** The fleet rolled out: 12 pods, batch 3, hard spread, in namespace web. */
const FLEET = "web";
const NAMESPACE = "web";
const SIZE = 12;
const BATCH = 3;
/** The fleet without a port, with a probe, in namespace jobs. */
const WORKER = { fleet: "worker", namespace: "jobs", size: 3 };

interface Metadata {
    name: string;
    namespace?: string;
    uid: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    generation?: number;
}
interface Pod {
    metadata: Metadata;
    spec: { nodeName?: string; containers: { image: string }[] };
    status: { phase: string; conditions?: { type: string; status: string }[] };
}
interface Deployment {
    metadata: Metadata;
    spec: { replicas: number };
    status: { readyReplicas?: number; updatedReplicas?: number; availableReplicas?: number; observedGeneration?: number };
}
interface List<T> {
    items: T[];
}

/** A client of the API server with the kubeconfig's own credentials (Node's https, no other tool). */
class ApiServer {
    private readonly agent: https.Agent;
    private readonly server: URL;

    constructor(kubeconfigFile: string) {
        const config = parse(fs.readFileSync(kubeconfigFile, "utf8"));
        const context = config.contexts.find((c: { name: string }) => c.name === config["current-context"]).context;
        const cluster = config.clusters.find((c: { name: string }) => c.name === context.cluster).cluster;
        const user = config.users.find((u: { name: string }) => u.name === context.user).user;
        const data = (value: string) => Buffer.from(value, "base64");
        this.server = new URL(cluster.server);
        if (this.server.hostname !== "127.0.0.1" && this.server.hostname !== "localhost") {
            throw new Error(`the cluster test only talks to a cluster on loopback, not ${cluster.server}`);
        }
        this.agent = new https.Agent({
            ca: data(cluster["certificate-authority-data"]),
            cert: data(user["client-certificate-data"]),
            key: data(user["client-key-data"]),
            keepAlive: false,
        });
    }

    /** One request; resolves with the status and the parsed body. */
    request(method: string, urlPath: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: any }> {
        return new Promise((resolve, reject) => {
            const request = https.request(
                new URL(urlPath, this.server),
                { method, agent: this.agent, headers: body === undefined ? {} : { "content-type": contentType }, timeout: 30_000 },
                (response) => {
                    let text = "";
                    response.setEncoding("utf8");
                    response.on("data", (chunk) => (text += chunk));
                    response.on("end", () => {
                        let parsed: unknown = text;
                        try {
                            parsed = JSON.parse(text);
                        } catch {
                            // Not JSON: kept as text.
                        }
                        resolve({ status: response.statusCode ?? 0, body: parsed });
                    });
                },
            );
            request.on("timeout", () => request.destroy(new Error(`${method} ${urlPath} timed out`)));
            request.on("error", reject);
            request.end(body === undefined ? undefined : JSON.stringify(body));
        });
    }

    /** GET that must succeed. */
    async get<T>(urlPath: string): Promise<T> {
        const response = await this.request("GET", urlPath);
        if (response.status !== 200) {
            throw new Error(`GET ${urlPath}: ${response.status} ${JSON.stringify(response.body)}`);
        }
        return response.body as T;
    }

    /** Whether GET finds the object (404 is false; anything else but 200 throws). */
    async exists(urlPath: string): Promise<boolean> {
        const response = await this.request("GET", urlPath);
        if (response.status === 404) {
            return false;
        }
        if (response.status !== 200) {
            throw new Error(`GET ${urlPath}: ${response.status} ${JSON.stringify(response.body)}`);
        }
        return true;
    }

    /** Marks a node unschedulable (or schedulable again), as `kubectl cordon` does. */
    async cordon(node: string, unschedulable = true): Promise<void> {
        const response = await this.request("PATCH", `/api/v1/nodes/${node}`, { spec: { unschedulable } }, "application/merge-patch+json");
        if (response.status !== 200) {
            throw new Error(`cordon ${node}: ${response.status} ${JSON.stringify(response.body)}`);
        }
    }

    /** Asks the eviction API to evict a pod; resolves with its status (201 evicted, 429 refused by a budget). */
    async evict(namespace: string, pod: string): Promise<{ status: number; body: any }> {
        return this.request("POST", `/api/v1/namespaces/${namespace}/pods/${pod}/eviction`, {
            apiVersion: "policy/v1",
            kind: "Eviction",
            metadata: { name: pod, namespace },
        });
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` resolves true, at most `seconds`; then throws with what `describe` says. */
async function until(what: string, check: () => Promise<boolean>, describe: () => Promise<string>, seconds = 90): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        if (await check()) {
            return;
        }
        await sleep(500);
    }
    throw new Error(`timed out after ${seconds} s waiting for ${what}:\n${await describe()}`);
}

const isReady = (pod: Pod) => pod.status.phase === "Running" && (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

describe(`the ${STACK} stack through the real engine against a real Kubernetes control plane`, function () {
    this.timeout(40 * 60 * 1000);

    let copy: EngineProject;
    let api: ApiServer;
    /** The cluster's run folder; `owned` when this file started it (and so stops it). */
    let clusterDir: string;
    let owned = false;
    let originalImage: string;
    let newImage: string;
    /** UIDs of the fleet's pods after the first `pulumi up`. */
    let firstUids: Set<string>;

    const fleetPods = async (fleet = FLEET, namespace = NAMESPACE): Promise<Pod[]> =>
        (await api.get<List<Pod>>(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(`herd.dev/fleet=${fleet}`)}`)).items;
    const livePods = async (fleet = FLEET, namespace = NAMESPACE) => (await fleetPods(fleet, namespace)).filter((p) => !p.metadata.deletionTimestamp);
    const imageOf = (pod: Pod) => pod.spec.containers[0].image;
    const podTable = async (fleet = FLEET, namespace = NAMESPACE) =>
        (await fleetPods(fleet, namespace))
            .map((p) => `${p.metadata.name} ${p.metadata.labels?.["herd.dev/role"]} ${imageOf(p).slice(-12)} ${p.spec.nodeName ?? "-"} ${p.status.phase}${p.metadata.deletionTimestamp ? " (terminating)" : ""}`)
            .join("\n");

    /** Waits until the fleet has exactly `size` pods, all Ready, none terminating (old ReplicaSets' pods take a moment to go). */
    async function settled(fleet = FLEET, namespace = NAMESPACE, size = SIZE): Promise<Pod[]> {
        await until(
            `${size} Ready pods of fleet ${fleet}, none terminating`,
            async () => {
                const pods = await fleetPods(fleet, namespace);
                return pods.length === size && pods.every((p) => !p.metadata.deletionTimestamp && isReady(p));
            },
            () => podTable(fleet, namespace),
        );
        return fleetPods(fleet, namespace);
    }

    /** The stack's `fleets` output: the generations the program says each role runs. */
    function generations(fleet: string): Record<string, string> {
        const output = ok(copy.cli("stack", "output", "fleets", "--stack", STACK, "--json"), "pulumi stack output");
        return JSON.parse(output.stdout)[fleet].generations;
    }

    /**
     * Every Deployment of a fleet, by role, once its rollout is complete (the controller has seen
     * the last spec and every replica is updated, ready and available). The provider waits for
     * rollouts, but once, back on an earlier pod template (whose old ReplicaSet the controller
     * reuses), `pulumi up` returned with 3 of 12 replicas updated; so this waits too, bounded.
     */
    async function deployments(fleet = FLEET, namespace = NAMESPACE): Promise<Record<string, number>> {
        const list = async () =>
            (await api.get<List<Deployment>>(`/apis/apps/v1/namespaces/${namespace}/deployments?labelSelector=${encodeURIComponent(`herd.dev/fleet=${fleet}`)}`)).items;
        const complete = (d: Deployment) =>
            d.status.observedGeneration === d.metadata.generation &&
            [d.status.updatedReplicas, d.status.readyReplicas, d.status.availableReplicas].every((n) => (n ?? 0) === d.spec.replicas) &&
            (d.status as { replicas?: number }).replicas === d.spec.replicas;
        await until(
            `the rollouts of fleet ${fleet} to complete`,
            async () => (await list()).every(complete),
            async () => (await list()).map((d) => `Deployment ${d.metadata.name}: spec ${d.spec.replicas}, status ${JSON.stringify(d.status)}`).join("\n"),
            120,
        );
        return Object.fromEntries((await list()).map((d) => [d.metadata.labels?.["herd.dev/role"] as string, d.spec.replicas]));
    }

    /** Waits until the fleet's budget counts every pod healthy and allows `allowed` disruptions (its controller catches up within seconds). */
    async function budgetAllows(allowed: number): Promise<void> {
        const status = async () =>
            (await api.get<List<{ status: Record<string, unknown> }>>(`/apis/policy/v1/namespaces/${NAMESPACE}/poddisruptionbudgets`)).items.map((b) => b.status);
        await until(
            `one budget with ${allowed} disruptions allowed over ${SIZE} healthy pods`,
            async () => {
                const budgets = await status();
                return budgets.length === 1 && budgets[0].disruptionsAllowed === allowed && budgets[0].expectedPods === SIZE && budgets[0].currentHealthy === SIZE;
            },
            async () => JSON.stringify(await status()),
        );
    }

    /** Commits the copy's stack file with a message. */
    function commit(message: string): void {
        copy.git("commit", "--quiet", "--all", "-m", message);
    }

    /** `herd <command> <fleet> --stack local`, which must succeed. */
    function herd(command: string, fleet = FLEET): void {
        ok(copy.herd(command, fleet, "--stack", STACK), `herd ${command} ${fleet}`);
    }

    before(async function () {
        // The passphrase whose salt Pulumi.local.yaml carries (see scripts/playground.sh).
        copy = new EngineProject(engineDir(), { PULUMI_CONFIG_PASSPHRASE: "herd playground" });
        // The stack's kubeconfig (herd:kubernetes.kubeconfig) is where the cluster writes its own.
        const cluster = playgroundCluster(copy);
        ({ dir: clusterDir, owned } = cluster);
        api = new ApiServer(cluster.kubeconfig);
        const nodes = await api.get<List<{ metadata: Metadata }>>("/api/v1/nodes");
        expect(nodes.items.length, "the cluster needs 3 nodes for a spread of 12 pods at 4 a node").to.equal(3);
        copy.initStack(STACK);
    });

    after(function () {
        if (owned) {
            script("cluster-up.sh", "stop", clusterDir);
        }
        copy?.remove();
    });

    it("pulumi up: namespaces, Deployments rolled out, pods Ready on fake nodes and spread, budget, Service endpoints, monitoring and probe admitted", async function () {
        copy.up(STACK);
        for (const namespace of [NAMESPACE, WORKER.namespace]) {
            const ns = await api.get<{ metadata: Metadata }>(`/api/v1/namespaces/${namespace}`);
            expect(ns.metadata.labels).to.include({ "app.kubernetes.io/managed-by": "herd" });
        }
        expect(await deployments()).to.deep.equal({ stable: SIZE });
        expect(await deployments(WORKER.fleet, WORKER.namespace)).to.deep.equal({ stable: WORKER.size });
        const pods = await settled();
        const expected = generations(FLEET);
        originalImage = imageOf(pods[0]);
        for (const pod of pods) {
            expect(pod.spec.nodeName, pod.metadata.name).to.match(/^kwok-node-\d$/);
            expect(pod.metadata.labels).to.include({ "herd.dev/generation": expected.stable, "herd.dev/role": "stable" });
            expect(imageOf(pod)).to.equal(originalImage);
        }
        // Hard anti-affinity over 3 nodes: 4 a node.
        const perNode = new Map<string, number>();
        for (const pod of pods) {
            perNode.set(pod.spec.nodeName as string, (perNode.get(pod.spec.nodeName as string) ?? 0) + 1);
        }
        expect([...perNode.values()].sort()).to.deep.equal([4, 4, 4]);
        firstUids = new Set(pods.map((p) => p.metadata.uid));
        await settled(WORKER.fleet, WORKER.namespace, WORKER.size);

        // The budget allows a batch of disruptions, and selects exactly the fleet's pods.
        await budgetAllows(BATCH);

        // The Service selects the fleet's pods: one ready endpoint each.
        const slices = await api.get<List<{ endpoints: { conditions: { ready: boolean } }[] }>>(`/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices`);
        const endpoints = slices.items.flatMap((s) => s.endpoints ?? []);
        expect(endpoints.filter((e) => e.conditions.ready)).to.have.length(SIZE);

        // Monitoring objects, admitted through the Prometheus Operator's CRDs; none promising a scrape of a fleet without a port.
        const monitoring = async (kind: string, namespace: string) => (await api.get<List<{ metadata: Metadata }>>(`/apis/monitoring.coreos.com/v1/namespaces/${namespace}/${kind}`)).items;
        expect(await monitoring("podmonitors", NAMESPACE)).to.have.length(1);
        expect(await monitoring("prometheusrules", NAMESPACE)).to.have.length(1);
        expect(await monitoring("podmonitors", WORKER.namespace)).to.have.length(0);
        expect(await monitoring("prometheusrules", WORKER.namespace)).to.have.length(1);

        // The probe's CronJob, named as a DNS label.
        const cronJobs = await api.get<List<{ metadata: Metadata; spec: { schedule: string } }>>(`/apis/batch/v1/namespaces/${WORKER.namespace}/cronjobs`);
        expect(cronJobs.items.map((c) => [c.metadata.name.replace(/-[0-9a-z]{8}$/, ""), c.spec.schedule])).to.deep.equal([["worker-probe-stuck-jobs", "*/5 * * * *"]]);
    });

    it("a second pulumi preview plans no change against the real server", function () {
        const plan = copy.preview(STACK);
        expect(changes(plan), `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
    });

    it("a new release at rollout 1: exactly one pod runs it, the other 11 keep their UIDs", async function () {
        const file = copy.stackFile(STACK);
        const doc = parseDocument(fs.readFileSync(file, "utf8"));
        const at = ["config", "herd:fleets", FLEET];
        const release = (doc.getIn([...at, "release"]) as { toJSON(): Record<string, unknown> }).toJSON();
        newImage = originalImage.replace(/@sha256:([0-9a-f]{64})$/, (_, digest: string) => `@sha256:${[...digest].reverse().join("")}`);
        expect(newImage).to.not.equal(originalImage);
        doc.setIn([...at, "release", "image"], newImage);
        doc.setIn([...at, "rollout"], doc.createNode({ previous: release, members: 1 }));
        fs.writeFileSync(file, doc.toString());
        commit(`fleet ${FLEET}: new release, first wave`);

        copy.up(STACK);
        expect(await deployments()).to.deep.equal({ stable: SIZE - 1, canary: 1 });
        const pods = await settled();
        const canary = pods.filter((p) => imageOf(p) === newImage);
        expect(canary, await podTable()).to.have.length(1);
        expect(canary[0].metadata.labels).to.include({ "herd.dev/role": "canary", "herd.dev/generation": generations(FLEET).canary });
        const others = pods.filter((p) => imageOf(p) !== newImage);
        expect(others).to.have.length(SIZE - 1);
        for (const pod of others) {
            expect(imageOf(pod)).to.equal(originalImage);
            expect(firstUids.has(pod.metadata.uid), `${pod.metadata.name} was replaced, not kept`).to.equal(true);
        }
    });

    it("herd promote to 10 and pulumi up: ten pods on the release, the two others untouched", async function () {
        herd("promote");
        expect(copy.config(STACK)["herd:fleets"]).to.have.nested.property(`${FLEET}.rollout.members`, 10);
        commit(`fleet ${FLEET}: wave 10`);
        copy.up(STACK);
        expect(await deployments()).to.deep.equal({ stable: SIZE - 10, canary: 10 });
        const pods = await settled();
        expect(pods.filter((p) => imageOf(p) === newImage)).to.have.length(10);
        for (const pod of pods.filter((p) => imageOf(p) !== newImage)) {
            expect(firstUids.has(pod.metadata.uid)).to.equal(true);
        }
    });

    it("herd rollback and pulumi up: every pod back on the previous release; git revert of the rollback brings the wave back", async function () {
        herd("rollback");
        commit(`fleet ${FLEET}: roll back`);
        copy.up(STACK);
        expect(await deployments()).to.deep.equal({ stable: SIZE });
        const pods = await settled();
        expect(pods.map(imageOf)).to.deep.equal(pods.map(() => originalImage));
        expect(pods.every((p) => p.metadata.labels?.["herd.dev/role"] === "stable")).to.equal(true);

        copy.git("revert", "--no-edit", "HEAD");
        copy.up(STACK);
        expect(await deployments()).to.deep.equal({ stable: SIZE - 10, canary: 10 });
        expect((await settled()).filter((p) => imageOf(p) === newImage)).to.have.length(10);
    });

    it("herd promote to all and pulumi up: every pod on the release, none of the first pods left", async function () {
        herd("promote");
        const fleet = (copy.config(STACK)["herd:fleets"] as Record<string, { rollout?: { previous?: unknown } }>)[FLEET];
        expect(fleet.rollout?.previous, "the last wave drops rollout.previous").to.equal(undefined);
        commit(`fleet ${FLEET}: all`);
        copy.up(STACK);
        expect(await deployments()).to.deep.equal({ stable: SIZE });
        const pods = await settled();
        expect(pods.map(imageOf)).to.deep.equal(pods.map(() => newImage));
        expect(pods.filter((p) => firstUids.has(p.metadata.uid)), "pods patched in place instead of replaced").to.deep.equal([]);
        expect(pods.every((p) => p.metadata.labels?.["herd.dev/generation"] === generations(FLEET).stable)).to.equal(true);
    });

    it("git revert of the whole rollout and pulumi up: every pod back on the first release, in new pods", async function () {
        const first = copy.git("rev-list", "--max-parents=0", "HEAD").trim();
        copy.git("revert", "--no-edit", `${first}..HEAD`);
        expect(copy.git("diff", first, "HEAD", "--", `Pulumi.${STACK}.yaml`)).to.equal("");
        const replaced = new Set((await livePods()).map((p) => p.metadata.uid));
        copy.up(STACK);
        expect(await deployments()).to.deep.equal({ stable: SIZE });
        const pods = await settled();
        expect(pods.map(imageOf)).to.deep.equal(pods.map(() => originalImage));
        expect(pods.filter((p) => replaced.has(p.metadata.uid))).to.deep.equal([]);
        const plan = copy.preview(STACK);
        expect(changes(plan), `expected no changes:\n${summary(plan)}`).to.deep.equal([]);
    });

    it("evictions respect the budget: a batch at a time, then 429 until the evicted pods are back", async function () {
        await budgetAllows(BATCH);
        const nodes = ["kwok-node-0", "kwok-node-1", "kwok-node-2"];
        // Nowhere to reschedule: the evicted pods stay Pending, so the budget stays spent.
        for (const node of nodes) {
            await api.cordon(node);
        }
        try {
            const victims = (await livePods()).slice(0, BATCH + 1);
            for (const pod of victims.slice(0, BATCH)) {
                const response = await api.evict(NAMESPACE, pod.metadata.name);
                expect(response.status, JSON.stringify(response.body)).to.equal(201);
            }
            const refused = await api.evict(NAMESPACE, victims[BATCH].metadata.name);
            expect(refused.status, JSON.stringify(refused.body)).to.equal(429);
            expect(refused.body.message).to.contain("disruption budget");
            expect(await api.exists(`/api/v1/namespaces/${NAMESPACE}/pods/${victims[BATCH].metadata.name}`)).to.equal(true);
        } finally {
            for (const node of nodes) {
                await api.cordon(node, false);
            }
        }
        await settled();
    });

    it("a drained node's pod is rescheduled on the others despite the hard spread", async function () {
        await budgetAllows(BATCH);
        const before = (await livePods()).filter((p) => p.spec.nodeName === "kwok-node-0").length;
        await api.cordon("kwok-node-0");
        try {
            const victim = (await livePods()).find((p) => p.spec.nodeName === "kwok-node-0") as Pod;
            expect(victim, await podTable()).to.not.equal(undefined);
            const response = await api.evict(NAMESPACE, victim.metadata.name);
            expect(response.status, JSON.stringify(response.body)).to.equal(201);
            const pods = await settled();
            expect(pods.map((p) => p.metadata.uid)).to.not.include(victim.metadata.uid);
            expect(pods.filter((p) => p.spec.nodeName === "kwok-node-0").length).to.equal(before - 1);
        } finally {
            await api.cordon("kwok-node-0", false);
        }
    });

    it("pulumi destroy leaves nothing of herd's", async function () {
        ok(copy.pulumi("destroy", "--stack", STACK, "--yes", "--skip-preview"), "pulumi destroy");
        await until(
            "the fleets' namespaces to be gone",
            async () => !(await api.exists(`/api/v1/namespaces/${NAMESPACE}`)) && !(await api.exists(`/api/v1/namespaces/${WORKER.namespace}`)),
            async () => JSON.stringify((await api.get<List<{ metadata: Metadata; status: unknown }>>("/api/v1/namespaces")).items.map((n) => [n.metadata.name, n.status])),
        );
        const selector = `?labelSelector=${encodeURIComponent("herd.dev/fleet")}`;
        for (const kind of [
            "/api/v1/pods",
            "/api/v1/configmaps",
            "/api/v1/services",
            "/apis/apps/v1/deployments",
            "/apis/policy/v1/poddisruptionbudgets",
            "/apis/batch/v1/cronjobs",
            "/apis/monitoring.coreos.com/v1/podmonitors",
            "/apis/monitoring.coreos.com/v1/prometheusrules",
        ]) {
            expect((await api.get<List<unknown>>(`${kind}${selector}`)).items, kind).to.deep.equal([]);
        }
    });
});
