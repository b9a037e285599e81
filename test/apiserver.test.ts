/**
 * What a real Kubernetes API server and scheduler refuse or get wrong, caught without a cluster:
 * each case here was first seen against the control plane of scripts/cluster-up.sh (the cluster
 * test, test/cluster/cluster.e2e.ts, shows the fixed behaviour on the real server).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { expect } from "chai";
import { parseFleets } from "../components/fleet";
import {
    buildPodMonitorSpec,
    buildPodSpec,
    buildServiceSpec,
    buildDisruptionBudgetSpec,
    deploymentSelector,
    fleetSelector,
    kubernetesArgsFromConfig,
    kubernetesMembersUp,
    namespacesToCreate,
    resolveWorkload,
    scrapePort,
    spreadConstraint,
} from "../components/kubernetes";
import { defaultAlerts, ruleFile } from "../components/monitoring";
import { buildProbeCronJobSpec, probeObjectName, probePodLabels } from "../components/kubernetes/probe";
import { RecordedResource } from "../components/testing";
import { runStack } from "./helpers/project";

const IMAGE = "registry.example.org/api@sha256:" + "a".repeat(64);
/** A DNS-1123 label, as the API server checks the names of CronJobs, Deployments and Services. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `true` when a `matchLabels` selector selects a pod with these labels. */
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(selector).every(([key, value]) => labels[key] === value);

const monitoring = { pushgateway: "http://pushgateway.monitoring:9091" };
const worker = {
    backend: "kubernetes",
    namespace: "jobs",
    size: 3,
    release: { image: IMAGE, command: ["worker"] },
    probes: { stuck_jobs: { script: "probes/nginx_worker_crashes.sh", every: "5m" } },
};
const api = {
    backend: "kubernetes",
    namespace: "api",
    size: 4,
    release: { image: IMAGE, port: 8080 },
    health: { path: "/ready", port: 8080 },
};

describe("what the API server refuses: namespaces", () => {
    it("creates each namespace the fleets name, once, and never the built-in ones", () => {
        expect(namespacesToCreate(["api", "jobs", "api", "default", "kube-system", "batch"])).to.deep.equal(["api", "batch", "jobs"]);
        expect(namespacesToCreate(["default"])).to.deep.equal([]);
    });

    it("registers the namespace before anything of the fleet, and every object of the fleet waits for it", async () => {
        const run = await runStack("test", { "herd:fleets": { api, worker }, "herd:monitoring": monitoring });
        const namespaces = run.resources.filter((r) => r.type === "kubernetes:core/v1:Namespace");
        expect(namespaces.map((r) => [r.name, (r.inputs.metadata as { name: string }).name])).to.deep.equal([
            ["namespace-api", "api"],
            ["namespace-jobs", "jobs"],
        ]);
        const namespaceOf = new Map(namespaces.map((r) => [(r.inputs.metadata as { name: string }).name, r.urn]));
        const objects = run.resources.filter((r) => r.type.startsWith("kubernetes:") && r.type !== "kubernetes:core/v1:Namespace" && !r.type.startsWith("pulumi:"));
        expect(objects.length).to.be.greaterThan(8);
        for (const object of objects) {
            const namespace = (object.inputs.metadata as { namespace?: string }).namespace as string;
            expect(object.options.dependsOn, `${object.type} ${object.name} does not wait for namespace ${namespace}`).to.include(namespaceOf.get(namespace));
        }
    });

    it("creates none when the stack says they exist (herd:kubernetes.createNamespaces: false)", async () => {
        const run = await runStack("test", {
            "herd:fleets": { api },
            "herd:kubernetes": { createNamespaces: false, context: "prod" },
        });
        expect(run.resources.filter((r) => r.type === "kubernetes:core/v1:Namespace")).to.deep.equal([]);
        expect(run.named("api-stable", "kubernetes:apps/v1:Deployment").options.dependsOn).to.deep.equal([]);
    });
});

describe("what the API server refuses: probe object names", () => {
    for (const [fleet, probe] of [
        ["worker", "stuck_jobs"],
        ["a", "x_"],
        ["payments-settlement-reconciler", "ledger_entries_without_counterpart"],
        ["payments-settlement-reconciler", "ledger_entries_without_counterpart_2"],
    ]) {
        it(`names the CronJob of probe ${probe} of fleet ${fleet} with a DNS label short enough for its Jobs`, () => {
            const name = probeObjectName(fleet, probe);
            expect(name).to.match(DNS_LABEL);
            // Pulumi appends "-" and 8 characters; Kubernetes allows a CronJob 52.
            expect(name.length + 9).to.be.at.most(52);
            expect(name.startsWith(fleet.slice(0, 20))).to.equal(true);
        });
    }

    it("keeps long names apart once cut, and short valid names as they were", () => {
        const a = probeObjectName("payments-settlement-reconciler", "ledger_entries_without_counterpart");
        const b = probeObjectName("payments-settlement-reconciler", "ledger_entries_without_counterpart_2");
        expect(a).to.not.equal(b);
        expect(probeObjectName("web", "crashes")).to.equal("web-probe-crashes");
        expect(probeObjectName("worker", "stuck_jobs")).to.equal("worker-probe-stuck-jobs");
    });

    it("registers the CronJob and its ConfigMap under those names, with an alias from the old ones", async () => {
        const run = await runStack("test", { "herd:fleets": { worker }, "herd:monitoring": monitoring });
        const cronJob = run.named("worker-probe-stuck-jobs", "kubernetes:batch/v1:CronJob");
        const configMap = run.named("worker-probe-stuck-jobs-scripts", "kubernetes:core/v1:ConfigMap");
        expect(JSON.stringify(cronJob.options.aliases)).to.contain("worker-probe-stuck_jobs");
        expect(JSON.stringify(configMap.options.aliases)).to.contain("worker-probe-stuck_jobs-scripts");
        for (const resource of run.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:"))) {
            expect(resource.name, `${resource.type} ${resource.name}`).to.match(DNS_LABEL);
        }
    });
});

describe("what the scheduler and the eviction API get wrong: labels and spread", () => {
    const w = resolveWorkload("worker", { size: 3, release: { image: IMAGE }, spread: "anti-affinity" });

    it("keeps probe pods out of the fleet's Service, PodDisruptionBudget and spread", () => {
        const spec = buildProbeCronJobSpec(
            { stack: "prod", fleet: "worker", probe: { name: "stuck_jobs", script: "#!/bin/sh\n", every: "5m" } as never, target: { backend: "kubernetes", pushgateway: monitoring.pushgateway } },
            monitoring.pushgateway,
            "busybox",
            "scripts",
        );
        const podLabels = spec.jobTemplate.spec.template.metadata.labels;
        expect(podLabels).to.deep.equal(probePodLabels("worker", "stuck_jobs"));
        // A finished Job pod the budget selected would hold its allowed disruptions at zero: a drain would hang.
        expect(selects(buildDisruptionBudgetSpec(w).selector.matchLabels, podLabels)).to.equal(false);
        expect(selects(fleetSelector("worker"), podLabels)).to.equal(false);
        expect(selects(buildServiceSpec(w, 80).selector, podLabels)).to.equal(false);
        expect(selects(spreadConstraint(w).labelSelector.matchLabels, podLabels)).to.equal(false);
        expect(selects(deploymentSelector("worker", "stable"), podLabels)).to.equal(false);
    });

    it("spreads each pod template on its own and leaves cordoned nodes out of the count", () => {
        const constraint = spreadConstraint(w);
        expect(constraint.matchLabelKeys).to.deep.equal(["pod-template-hash"]);
        expect(constraint.nodeTaintsPolicy).to.equal("Honor");
        expect(constraint.whenUnsatisfiable).to.equal("DoNotSchedule");
    });
});

describe("what the API server admits but never works: scraping a port that is not there", () => {
    it("scrapes the serving port by name, a metrics port by number (declared on the container), and nothing without a port", () => {
        const serving = resolveWorkload("api", { size: 2, release: { image: IMAGE, port: 8080 } });
        expect(scrapePort(serving)).to.equal("http");
        const separate = resolveWorkload("api", { size: 2, release: { image: IMAGE, port: 8080 }, metrics: { port: 9102 } });
        expect(scrapePort(separate)).to.equal(9102);
        const plan = separate.roles[0];
        expect(buildPodSpec(separate, plan, {}).containers[0].ports).to.deep.equal([
            { name: "http", containerPort: 8080, protocol: "TCP" },
            { name: "metrics", containerPort: 9102, protocol: "TCP" },
        ]);
        expect(buildPodMonitorSpec({ stack: "s", fleet: "api", rules: { name: "g", rules: [] }, metricsPort: 9102 }).podMetricsEndpoints[0]).to.include({ portNumber: 9102 });
        expect(scrapePort(resolveWorkload("worker", { size: 2, release: { image: IMAGE } }))).to.equal(undefined);
        expect(scrapePort(resolveWorkload("api", { size: 2, release: { image: IMAGE, port: 8080 }, metrics: false }))).to.equal(undefined);
    });

    it("gives a fleet without a port no PodMonitor, and counts its members from kube-state-metrics", async () => {
        const run = await runStack("test", { "herd:fleets": { worker }, "herd:monitoring": monitoring });
        expect(run.resources.filter((r) => r.type === "kubernetes:monitoring.coreos.com/v1:PodMonitor")).to.deep.equal([]);
        const rules = JSON.stringify(run.named("worker-monitoring-rules", "kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs);
        expect(rules).to.contain("kube_pod_status_ready").and.not.contain("up{");
        const withPort = await runStack("test", { "herd:fleets": { api } });
        const podMonitor = withPort.named("api-monitoring-pods", "kubernetes:monitoring.coreos.com/v1:PodMonitor") as RecordedResource;
        expect((podMonitor.inputs.spec as { podMetricsEndpoints: object[] }).podMetricsEndpoints[0]).to.include({ port: "http" });
    });

    it("the kube-state-metrics member count passes promtool and fires for a pod that is not ready", function () {
        this.timeout(20_000);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-ksm-"));
        const membersUp = kubernetesMembersUp({ fleet: "worker", namespace: "jobs" });
        fs.writeFileSync(path.join(dir, "rules.yml"), ruleFile([defaultAlerts({ stack: "prod", fleet: "worker", size: 2, minHealthy: 2, membersUp })]));
        const pod = (name: string) => `namespace="jobs",pod="${name}"`;
        const labels = (name: string) => `kube_pod_labels{${pod(name)},label_herd_dev_fleet="worker",label_herd_dev_generation="1a2b3c4d"}`;
        fs.writeFileSync(
            path.join(dir, "test.yml"),
            [
                "rule_files: [rules.yml]",
                "evaluation_interval: 1m",
                "tests:",
                "  - interval: 1m",
                "    input_series:",
                `      - { series: '${labels("worker-a")}', values: '1x10' }`,
                `      - { series: '${labels("worker-b")}', values: '1x10' }`,
                `      - { series: 'kube_pod_status_ready{${pod("worker-a")},condition="true"}', values: '1x10' }`,
                `      - { series: 'kube_pod_status_ready{${pod("worker-b")},condition="true"}', values: '0x10' }`,
                "    alert_rule_test:",
                "      - eval_time: 6m",
                "        alertname: HerdMemberDown",
                "        exp_alerts:",
                "          - exp_labels: { severity: warning, herd_stack: prod, herd_fleet: worker, herd_slot: worker-b, herd_generation: 1a2b3c4d, namespace: jobs, pod: worker-b, label_herd_dev_generation: 1a2b3c4d }",
                "            exp_annotations:",
                "              summary: Member worker-b of fleet worker (prod) is down",
                "              description: ', generation 1a2b3c4d, has been down for 5m.'",
                "      - eval_time: 6m",
                "        alertname: HerdFleetBelowMinHealthy",
                "        exp_alerts:",
                "          - exp_labels: { severity: critical, herd_stack: prod, herd_fleet: worker }",
                "            exp_annotations:",
                "              summary: Fleet worker (prod) has fewer than 2 of 2 members up",
                "              description: 1 members are up.",
                "",
            ].join("\n"),
        );
        const check = spawnSync("promtool", ["check", "rules", "rules.yml"], { cwd: dir, encoding: "utf8" });
        expect(check.status, `${check.stdout}${check.stderr}`).to.equal(0);
        const test = spawnSync("promtool", ["test", "rules", "test.yml"], { cwd: dir, encoding: "utf8" });
        expect(test.status, `${test.stdout}${test.stderr}`).to.equal(0);
    });
});

describe("what a cluster with dedicated nodes needs: node selectors and tolerations", () => {
    const placed = {
        ...worker,
        nodeSelector: { "example.org/pool": "jobs" },
        tolerations: [{ key: "example.org/dedicated", operator: "Equal", value: "jobs", effect: "NoSchedule" }],
    };

    it("takes them from the stack config onto the pods and the probe's pods", async () => {
        const run = await runStack("test", { "herd:fleets": { worker: placed }, "herd:monitoring": monitoring });
        const deployment = run.named("worker-stable", "kubernetes:apps/v1:Deployment");
        const pod = (deployment.inputs.spec as { template: { spec: Record<string, unknown> } }).template.spec;
        expect(pod.nodeSelector).to.deep.equal({ "example.org/pool": "jobs" });
        expect(pod.tolerations).to.deep.equal([{ key: "example.org/dedicated", operator: "Equal", value: "jobs", effect: "NoSchedule" }]);
        const cronJob = run.named("worker-probe-stuck-jobs", "kubernetes:batch/v1:CronJob");
        const probePod = (cronJob.inputs.spec as { jobTemplate: { spec: { template: { spec: Record<string, unknown> } } } }).jobTemplate.spec.template.spec;
        expect(probePod.nodeSelector).to.deep.equal(pod.nodeSelector);
        expect(probePod.tolerations).to.deep.equal(pod.tolerations);
    });

    it("refuses bad ones in the stack config with the key path", () => {
        expect(() => parseFleets({ worker: { ...worker, nodeSelector: { "bad key!": "x" } } }, "prod")).to.throw("herd:fleets.worker.nodeSelector");
        expect(() => parseFleets({ worker: { ...worker, tolerations: [{ key: "k", operator: "Maybe" }] } }, "prod")).to.throw(
            /herd:fleets\.worker\.tolerations\[0\]\.operator = "Maybe": expected Equal \| Exists/,
        );
        expect(() => parseFleets({ worker: { ...worker, nodeSelector: { pool: true } } }, "prod")).to.throw("herd:fleets.worker.nodeSelector.pool");
    });

    it("refuses bad ones from code, every problem at once", () => {
        expect(() =>
            resolveWorkload("worker", {
                size: 1,
                release: { image: IMAGE },
                nodeSelector: { "x/": "a" },
                tolerations: [{ operator: "Equal", value: "v" }, { key: "k", operator: "Exists", value: "v" }, { key: "k", tolerationSeconds: 30 }],
            }),
        ).to.throw(
            [
                'KubernetesWorkload "worker": invalid arguments:',
                '  - nodeSelector has key "x/": expected a label key such as example.org/pool (name at most 63 characters)',
                "  - tolerations[0]: a toleration without a key needs operator: Exists (it then tolerates every taint)",
                '  - tolerations[1].value = "v": operator Exists takes no value',
                "  - tolerations[2].tolerationSeconds: only a NoExecute toleration has a time limit; set effect: NoExecute or drop it",
            ].join("\n"),
        );
    });

    it("maps them from config to args unchanged", () => {
        const fleet = parseFleets({ worker: placed }, "prod").worker;
        if (fleet.backend !== "kubernetes") {
            throw new Error("expected a kubernetes fleet");
        }
        const args = kubernetesArgsFromConfig("worker", fleet);
        expect(args.nodeSelector).to.deep.equal(placed.nodeSelector);
        expect(args.tolerations).to.deep.equal(placed.tolerations);
    });
});

describe("the local stack (the playground and the cluster test)", () => {
    it("builds its fleets under mocks with the cluster's kubeconfig and no other", async () => {
        const run = await runStack("local");
        const provider = run.resources.find((r) => r.type === "pulumi:providers:kubernetes") as RecordedResource;
        expect(provider.inputs.kubeconfig).to.equal(".herd/playground/kubeconfig");
        const namespaces = run.resources.filter((r) => r.type === "kubernetes:core/v1:Namespace");
        expect(namespaces.map((r) => r.name)).to.deep.equal(["namespace-jobs", "namespace-web"]);
        // Created through the stack's provider, as every object in them.
        for (const namespace of namespaces) {
            expect(namespace.options.provider).to.contain(provider.urn);
        }
        expect(run.named("web-stable", "kubernetes:apps/v1:Deployment").inputs.spec).to.deep.include({ replicas: 12 });
        expect(run.named("worker-probe-stuck-jobs", "kubernetes:batch/v1:CronJob").options.parent).to.contain("worker-probe-stuck_jobs");
    });
});
