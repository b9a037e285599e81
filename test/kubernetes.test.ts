import { createHash } from "node:crypto";
import { expect } from "chai";
import * as fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { parseFleets } from "../components/fleet";
import { HTTP_PATH_ALLOWED, IMAGE_REFERENCE_ALLOWED } from "../components/config/grammar";
import {
    buildConfigMapData,
    buildDeploymentSpec,
    buildDisruptionBudgetSpec,
    buildPodSpec,
    buildServiceSpec,
    deploymentOrder,
    deploymentSelector,
    fileKey,
    KubernetesWorkload,
    KubernetesWorkloadArgs,
    kubernetesArgsFromConfig,
    planRoles,
    ResolvedWorkload,
    resolveWorkload,
    RolePlan,
} from "../components/kubernetes";
import { ContainerRelease, containerGeneration, generationOf } from "../components/release";
import { RecordedResource, runProgram } from "../components/testing";

const V1: ContainerRelease = { image: "registry.example.org/api@sha256:" + "a".repeat(64), port: 8080, env: { LOG_LEVEL: "info" } };
const V2: ContainerRelease = { image: "registry.example.org/api@sha256:" + "b".repeat(64), port: 8080, env: { LOG_LEVEL: "debug" } };

/** The objects' JSON-schema validators from `kubernetes-models` (an ES module, hence the dynamic import). */
interface Models {
    Deployment: new (data: unknown) => { validate(): void };
    Service: new (data: unknown) => { validate(): void };
    ConfigMap: new (data: unknown) => { validate(): void };
    PodDisruptionBudget: new (data: unknown) => { validate(): void };
}
let models: Models;

before(async () => {
    const [{ Deployment }, { Service }, { ConfigMap }, { PodDisruptionBudget }] = await Promise.all([
        import("kubernetes-models/apps/v1/Deployment"),
        import("kubernetes-models/v1/Service"),
        import("kubernetes-models/v1/ConfigMap"),
        import("kubernetes-models/policy/v1/PodDisruptionBudget"),
    ]);
    models = { Deployment, Service, ConfigMap, PodDisruptionBudget } as unknown as Models;
});

const KINDS = {
    "kubernetes:apps/v1:Deployment": { apiVersion: "apps/v1", kind: "Deployment", model: () => models.Deployment },
    "kubernetes:core/v1:Service": { apiVersion: "v1", kind: "Service", model: () => models.Service },
    "kubernetes:core/v1:ConfigMap": { apiVersion: "v1", kind: "ConfigMap", model: () => models.ConfigMap },
    "kubernetes:policy/v1:PodDisruptionBudget": { apiVersion: "policy/v1", kind: "PodDisruptionBudget", model: () => models.PodDisruptionBudget },
} as const;

/**
 * Validates an object against the Kubernetes JSON schema of its kind. A generated name is only
 * known to the cluster, so a placeholder stands in for a missing `metadata.name`.
 */
function validate(type: keyof typeof KINDS, object: { metadata?: Record<string, unknown>; [key: string]: unknown }): void {
    const { apiVersion, kind, model } = KINDS[type];
    const Model = model();
    new Model({
        ...object,
        apiVersion,
        kind,
        metadata: { name: "placeholder", ...object.metadata },
    }).validate();
}

function workload(args: Partial<KubernetesWorkloadArgs> = {}): ResolvedWorkload {
    return resolveWorkload("api", { size: 6, release: V1, ...args });
}

function roleOf(w: ResolvedWorkload, role: "stable" | "canary"): RolePlan {
    const plan = w.roles.find((r) => r.role === role);
    if (!plan) {
        throw new Error(`no ${role} role`);
    }
    return plan;
}

describe("kubernetes: planRoles", () => {
    const table: { title: string; size: number; rollout?: KubernetesWorkloadArgs["rollout"]; expected: [string, ContainerRelease, number][] }[] = [
        { title: "no rollout: stable runs the release everywhere", size: 6, expected: [["stable", V2, 6]] },
        { title: "members 0: stable still runs previous", size: 6, rollout: { previous: V1, members: 0 }, expected: [["stable", V1, 6]] },
        {
            title: "1 member: a canary of one",
            size: 6,
            rollout: { previous: V1, members: 1 },
            expected: [["stable", V1, 5], ["canary", V2, 1]],
        },
        {
            title: "5 of 6",
            size: 6,
            rollout: { previous: V1, members: 5 },
            expected: [["stable", V1, 1], ["canary", V2, 5]],
        },
        { title: "members = size: previous dropped", size: 6, rollout: { previous: V1, members: 6 }, expected: [["stable", V2, 6]] },
        { title: "members = size without previous", size: 6, rollout: { members: 6 }, expected: [["stable", V2, 6]] },
        { title: "an empty fleet", size: 0, expected: [["stable", V2, 0]] },
    ];
    for (const { title, size, rollout, expected } of table) {
        it(title, () => {
            const roles = planRoles(size, V2, rollout);
            expect(roles.map((r) => [r.role, r.release.image, r.replicas])).to.deep.equal(expected.map(([role, release, n]) => [role, release.image, n]));
            for (const [i, [, release]] of expected.entries()) {
                expect(roles[i].generation).to.equal(containerGeneration(release));
            }
        });
    }

    it("replicas always add up to size, with a canary exactly while 0 < members < size", () => {
        fc.assert(
            fc.property(
                fc.integer({ min: 0, max: 200 }).chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size }))),
                ([size, members]) => {
                    const roles = planRoles(size, V2, { previous: V1, members });
                    expect(roles.reduce((sum, r) => sum + r.replicas, 0)).to.equal(size);
                    expect(roles.some((r) => r.role === "canary")).to.equal(members > 0 && members < size);
                    const canary = roles.find((r) => r.role === "canary");
                    if (canary) {
                        expect(canary.replicas).to.equal(members);
                        expect(canary.release.image).to.equal(V2.image);
                    }
                },
            ),
        );
    });
});

describe("kubernetes: generation", () => {
    it("is the release's canonical hash, whatever the key order", () => {
        const a: ContainerRelease = { image: "x@sha256:1", port: 80, env: { B: "2", A: "1" }, files: { "/etc/b": "b", "/etc/a": "a" } };
        const b: ContainerRelease = { files: { "/etc/a": "a", "/etc/b": "b" }, env: { A: "1", B: "2" }, port: 80, image: "x@sha256:1" };
        expect(containerGeneration(a)).to.equal(containerGeneration(b));
        expect(containerGeneration(a)).to.equal(
            generationOf({ image: "x@sha256:1", port: 80, env: { A: "1", B: "2" }, files: { "/etc/a": "a", "/etc/b": "b" } }),
        );
        expect(containerGeneration(a)).to.match(/^[0-9a-f]{8}$/);
    });

    it("treats empty env, files, command and args as absent", () => {
        expect(containerGeneration({ image: "x", env: {}, files: {}, command: [], args: [] })).to.equal(containerGeneration({ image: "x" }));
    });

    it("changes with each part of the release", () => {
        const base: ContainerRelease = { image: "x", port: 80 };
        const variants: ContainerRelease[] = [
            { ...base, image: "y" },
            { ...base, port: 81 },
            { ...base, command: ["/bin/app"] },
            { ...base, args: ["--verbose"] },
            { ...base, env: { A: "1" } },
            { ...base, files: { "/etc/app.conf": "x" } },
        ];
        const generations = new Set([base, ...variants].map(containerGeneration));
        expect(generations.size).to.equal(variants.length + 1);
    });
});

describe("kubernetes: labels and selectors", () => {
    it("labels pods with fleet, role and generation", () => {
        const w = workload({ release: V2, rollout: { previous: V1, members: 2 } });
        for (const role of ["stable", "canary"] as const) {
            const plan = roleOf(w, role);
            const spec = buildDeploymentSpec(w, plan, { env: "cm-env" });
            expect(spec.template.metadata.labels).to.deep.equal({
                "app.kubernetes.io/name": "api",
                "herd.dev/fleet": "api",
                "herd.dev/role": role,
                "herd.dev/generation": containerGeneration(role === "stable" ? V1 : V2),
            });
            expect(spec.selector.matchLabels).to.deep.equal({ "herd.dev/fleet": "api", "herd.dev/role": role });
        }
    });

    it("keeps each Deployment's selector when the release changes, while the pod template changes", () => {
        const before = workload({ release: V1 });
        const after = workload({ release: V2 });
        const a = buildDeploymentSpec(before, roleOf(before, "stable"), { env: "cm-1" });
        const b = buildDeploymentSpec(after, roleOf(after, "stable"), { env: "cm-2" });
        expect(a.selector).to.deep.equal(b.selector);
        expect(a.template.metadata.labels["herd.dev/generation"]).to.not.equal(b.template.metadata.labels["herd.dev/generation"]);
        expect(a.template.spec.containers[0].image).to.equal(V1.image);
        expect(b.template.spec.containers[0].image).to.equal(V2.image);
    });

    it("selects every pod of the fleet for the Service and the budget, and the pods match both", () => {
        const w = workload({ release: V2, rollout: { previous: V1, members: 2 } });
        const service = buildServiceSpec(w, 80);
        const budget = buildDisruptionBudgetSpec(w);
        expect(service.selector).to.deep.equal({ "app.kubernetes.io/name": "api", "herd.dev/fleet": "api" });
        expect(budget.selector.matchLabels).to.deep.equal(service.selector);
        for (const plan of w.roles) {
            const labels = buildDeploymentSpec(w, plan, { env: "cm" }).template.metadata.labels;
            for (const [key, value] of Object.entries(service.selector)) {
                expect(labels).to.have.property(key, value);
            }
            for (const [key, value] of Object.entries(deploymentSelector("api", plan.role))) {
                expect(labels).to.have.property(key, value);
            }
        }
        expect(service.ports).to.deep.equal([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
    });
});

describe("kubernetes: pod spec", () => {
    it("is secure by default", () => {
        const w = workload();
        const pod = buildPodSpec(w, roleOf(w, "stable"), { env: "cm-env" });
        const container = pod.containers[0];
        expect(pod.securityContext).to.deep.equal({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        expect(container.securityContext).to.deep.equal({
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
        });
        expect(container.resources).to.deep.equal({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } });
        expect(pod.automountServiceAccountToken).to.equal(false);
        expect(pod.volumes[0]).to.deep.equal({ name: "tmp", emptyDir: {} });
        expect(container.volumeMounts[0]).to.deep.equal({ name: "tmp", mountPath: "/tmp" });
        expect(container.ports).to.deep.equal([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
        expect(container.envFrom).to.deep.equal([{ configMapRef: { name: "cm-env" } }]);
    });

    it("takes documented overrides", () => {
        const w = workload({
            resources: { requests: { cpu: "250m" }, limits: { memory: "1Gi" } },
            security: {
                runAsUser: 10001,
                runAsGroup: 10001,
                fsGroup: 2000,
                readOnlyRootFilesystem: false,
                addCapabilities: ["NET_BIND_SERVICE", "CHOWN"],
                seccompProfile: "Unconfined",
            },
        });
        const pod = buildPodSpec(w, roleOf(w, "stable"), { env: "cm-env" });
        expect(pod.securityContext).to.deep.equal({
            runAsNonRoot: true,
            seccompProfile: { type: "Unconfined" },
            runAsUser: 10001,
            runAsGroup: 10001,
            fsGroup: 2000,
        });
        expect(pod.containers[0].securityContext.readOnlyRootFilesystem).to.equal(false);
        expect(pod.containers[0].securityContext.capabilities).to.deep.equal({ drop: ["ALL"], add: ["CHOWN", "NET_BIND_SERVICE"] });
        expect(pod.containers[0].resources).to.deep.equal({ requests: { cpu: "250m", memory: "128Mi" }, limits: { cpu: "500m", memory: "1Gi" } });
    });

    it("probes readiness, liveness and startup over HTTP from health", () => {
        const w = workload({ health: { path: "/ready", port: 8081 } });
        const container = buildPodSpec(w, roleOf(w, "stable"), { env: "cm" }).containers[0];
        const httpGet = { path: "/ready", port: 8081, scheme: "HTTP" };
        expect(container.readinessProbe).to.deep.equal({ httpGet, timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 3 });
        expect(container.livenessProbe).to.deep.equal({ httpGet, timeoutSeconds: 2, periodSeconds: 10, failureThreshold: 3 });
        expect(container.startupProbe).to.deep.equal({ httpGet, timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 30 });
        const unprobed = workload();
        const bare = buildPodSpec(unprobed, roleOf(unprobed, "stable"), { env: "cm" }).containers[0];
        expect(bare).to.not.have.property("readinessProbe");
        expect(bare).to.not.have.property("livenessProbe");
    });

    for (const [spread, whenUnsatisfiable] of [
        [undefined, "ScheduleAnyway"],
        ["soft-anti-affinity", "ScheduleAnyway"],
        ["anti-affinity", "DoNotSchedule"],
    ] as const) {
        it(`spreads pods over nodes, ${whenUnsatisfiable} for spread ${spread ?? "(default)"}`, () => {
            const w = workload(spread ? { spread } : {});
            expect(buildPodSpec(w, roleOf(w, "stable"), { env: "cm" }).topologySpreadConstraints).to.deep.equal([
                {
                    maxSkew: 1,
                    topologyKey: "kubernetes.io/hostname",
                    whenUnsatisfiable,
                    labelSelector: { matchLabels: { "herd.dev/fleet": "api" } },
                    // Only the pods of one template count: the old ReplicaSet's pods, which a
                    // rollout is removing, would otherwise pile the new ones on few nodes.
                    matchLabelKeys: ["pod-template-hash"],
                    // A cordoned (tainted) node being drained does not count, or a hard spread
                    // strands the evicted pod Pending.
                    nodeTaintsPolicy: "Honor",
                },
            ]);
        });
    }

    it("mounts each file read-only at its path from the files ConfigMap", () => {
        const release: ContainerRelease = { image: "x", files: { "/etc/app/config.yaml": "a: 1\n", "/etc/other/config.yaml": "b: 2\n" } };
        const w = workload({ release });
        const pod = buildPodSpec(w, roleOf(w, "stable"), { files: "cm-files" });
        const data = buildConfigMapData(release);
        const keyA = fileKey("/etc/app/config.yaml");
        const keyB = fileKey("/etc/other/config.yaml");
        expect(keyA).to.not.equal(keyB);
        expect(data).to.deep.equal({ files: { [keyA]: "a: 1\n", [keyB]: "b: 2\n" } });
        expect(pod.containers[0].volumeMounts.slice(1)).to.have.deep.members([
            { name: "files", mountPath: "/etc/app/config.yaml", subPath: keyA, readOnly: true },
            { name: "files", mountPath: "/etc/other/config.yaml", subPath: keyB, readOnly: true },
        ]);
        expect(pod.volumes[1]).to.deep.equal({
            name: "files",
            configMap: {
                name: "cm-files",
                items: [keyA, keyB].sort().map((key) => ({ key, path: key })),
                defaultMode: 0o444,
            },
        });
        expect(pod.containers[0]).to.not.have.property("envFrom");
    });

    it("makes ConfigMap keys safe and stable", () => {
        expect(fileKey("/etc/app/my config@1.yaml")).to.equal(
            `${createHash("sha256").update("/etc/app/my config@1.yaml").digest("hex").slice(0, 8)}-my_config_1.yaml`,
        );
        fc.assert(
            fc.property(fc.string({ minLength: 1 }).map((s) => `/${s.replace(/\//g, "")}x`), (path) => {
                expect(fileKey(path)).to.match(/^[-._a-zA-Z0-9]+$/);
                expect(fileKey(path)).to.equal(fileKey(path));
            }),
        );
        expect(buildConfigMapData({ image: "x", env: { B: "2", A: "1" } })).to.deep.equal({ env: { A: "1", B: "2" } });
        expect(Object.keys(buildConfigMapData({ image: "x", env: { B: "2", A: "1" } }).env ?? {})).to.deep.equal(["A", "B"]);
        expect(buildConfigMapData({ image: "x" })).to.deep.equal({});
    });

    it("annotates pods for Prometheus on the release port, unless metrics are off", () => {
        const w = workload();
        expect(buildDeploymentSpec(w, roleOf(w, "stable"), { env: "cm" }).template.metadata.annotations).to.deep.equal({
            "prometheus.io/path": "/metrics",
            "prometheus.io/port": "8080",
            "prometheus.io/scrape": "true",
        });
        const custom = workload({ metrics: { port: 9090, path: "/stats" } });
        expect(buildDeploymentSpec(custom, roleOf(custom, "stable"), { env: "cm" }).template.metadata.annotations).to.deep.equal({
            "prometheus.io/path": "/stats",
            "prometheus.io/port": "9090",
            "prometheus.io/scrape": "true",
        });
        const off = workload({ metrics: false });
        expect(buildDeploymentSpec(off, roleOf(off, "stable"), { env: "cm" }).template.metadata).to.not.have.property("annotations");
    });
});

describe("kubernetes: updates and disruption", () => {
    it("surges a batch and keeps every pod by default (create before delete)", () => {
        const w = workload({ size: 12, update: { batch: 3 } });
        expect(buildDeploymentSpec(w, roleOf(w, "stable"), { env: "cm" }).strategy).to.deep.equal({
            type: "RollingUpdate",
            rollingUpdate: { maxSurge: 3, maxUnavailable: 0 },
        });
        expect(buildDisruptionBudgetSpec(w).maxUnavailable).to.equal(3);
    });

    it("stops a batch first for delete-before-create", () => {
        const w = workload({ size: 12, update: { batch: 2, order: "delete-before-create" } });
        expect(buildDeploymentSpec(w, roleOf(w, "stable"), { env: "cm" }).strategy.rollingUpdate).to.deep.equal({ maxSurge: 0, maxUnavailable: 2 });
    });

    it("grows the canary before shrinking stable (create before delete), and the reverse for delete-before-create", () => {
        const rollout = { previous: V1, members: 2 };
        expect(deploymentOrder(workload({ release: V2, rollout })).map((r) => r.role)).to.deep.equal(["canary", "stable"]);
        expect(
            deploymentOrder(workload({ release: V2, rollout, update: { order: "delete-before-create" } })).map((r) => r.role),
        ).to.deep.equal(["stable", "canary"]);
        expect(deploymentOrder(workload()).map((r) => r.role)).to.deep.equal(["stable"]);
    });

    for (const [size, batch] of [[1, 1], [4, 1], [5, 2], [6, 2], [12, 3], [13, 4]] as const) {
        it(`defaults the batch to a quarter, rounded up: size ${size} → ${batch}`, () => {
            const w = workload({ size });
            expect(w.batch).to.equal(batch);
            expect(buildDisruptionBudgetSpec(w).maxUnavailable).to.equal(batch);
        });
    }
});

describe("kubernetes: argument validation", () => {
    it("lists every problem with its key, value and what is allowed", () => {
        expect(() =>
            resolveWorkload("API", {
                size: -1,
                release: { image: "", port: 70000, env: { "1BAD": "x" }, files: { "relative.conf": "x" } },
                namespace: "Not_OK",
                update: { batch: 0 },
                health: { path: "ready", port: 0 },
            }),
        ).to.throw(
            [
                'KubernetesWorkload "API": invalid arguments:',
                "  - name = \"API\": expected a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters",
                "  - size = -1: expected a whole number ≥ 0",
                "  - update.batch = 0: expected a whole number ≥ 1",
                `  - release.image = "": expected ${IMAGE_REFERENCE_ALLOWED}`,
                "  - release.port = 70000: expected a port, 1–65535",
                '  - release.env has "1BAD": expected an environment variable name (letters, digits, _; not starting with a digit)',
                '  - release.files has "relative.conf": expected an absolute file path',
                "  - namespace = \"Not_OK\": expected a Kubernetes namespace name (lowercase letters, digits, '-')",
                `  - health.path = "ready": expected ${HTTP_PATH_ALLOWED}`,
                "  - health.port = 0: expected a port, 1–65535",
            ].join("\n"),
        );
    });

    it("refuses more members than the size, and a missing previous", () => {
        expect(() => resolveWorkload("api", { size: 3, release: V2, rollout: { previous: V1, members: 4 } })).to.throw(
            "rollout.members = 4: expected a whole number from 0 to size (3)",
        );
        expect(() => resolveWorkload("api", { size: 3, release: V2, rollout: { members: 1 } })).to.throw(
            "rollout.previous is missing: required while rollout.members (1) < size (3)",
        );
    });
});

describe("kubernetes: objects pass the Kubernetes JSON schemas", () => {
    const cases: [string, Partial<KubernetesWorkloadArgs>][] = [
        ["a plain release", {}],
        ["a rollout with files, env and probes", {
            release: { ...V2, command: ["/app"], args: ["--serve"], files: { "/etc/api/config.yaml": "x: 1\n" } },
            rollout: { previous: V1, members: 2 },
            health: { path: "/ready", port: 8080 },
            spread: "anti-affinity",
            update: { batch: 2, order: "delete-before-create" },
            security: { runAsUser: 1000, addCapabilities: ["NET_BIND_SERVICE"] },
        }],
        ["a worker without a port", { release: { image: "worker@sha256:" + "c".repeat(64) }, metrics: false }],
    ];
    for (const [title, args] of cases) {
        it(title, () => {
            const w = workload(args);
            for (const plan of w.roles) {
                const data = buildConfigMapData(plan.release);
                for (const content of [data.env, data.files]) {
                    if (content) {
                        validate("kubernetes:core/v1:ConfigMap", { metadata: { namespace: "default" }, immutable: true, data: content });
                    }
                }
                const spec = buildDeploymentSpec(w, plan, {
                    ...(data.env ? { env: "api-env-1234" } : {}),
                    ...(data.files ? { files: "api-files-1234" } : {}),
                });
                validate("kubernetes:apps/v1:Deployment", { metadata: { namespace: "default" }, spec });
            }
            if (w.servicePort !== undefined) {
                validate("kubernetes:core/v1:Service", { spec: buildServiceSpec(w, w.servicePort) });
            }
            validate("kubernetes:policy/v1:PodDisruptionBudget", { spec: buildDisruptionBudgetSpec(w) });
        });
    }

    it("the validator rejects a wrong object (so these tests can fail)", () => {
        const w = workload();
        const spec = buildDeploymentSpec(w, roleOf(w, "stable"), { env: "cm" });
        const broken = { ...spec, replicas: "six" };
        expect(() => validate("kubernetes:apps/v1:Deployment", { spec: broken })).to.throw(/replicas/);
    });
});

/** Stands in for the cluster's generated names (`<resource name>-<8 hex>`), deterministically. */
function generatedNames(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> | undefined {
    if (!args.type.startsWith("kubernetes:")) {
        return undefined;
    }
    const metadata = (args.inputs.metadata ?? {}) as Record<string, unknown>;
    const name = metadata.name ?? `${args.name}-${createHash("sha256").update(args.name).digest("hex").slice(0, 8)}`;
    return { metadata: { ...metadata, name } };
}

async function run(
    args: KubernetesWorkloadArgs,
    opts: (provider: k8s.Provider) => pulumi.ComponentResourceOptions = () => ({}),
    preview = false,
) {
    let component: KubernetesWorkload | undefined;
    const result = await runProgram({
        program: () => {
            const provider = new k8s.Provider("cluster", { kubeconfig: "~/.kube/config" });
            component = new KubernetesWorkload("api", args, opts(provider));
            return {
                serviceName: component.serviceName,
                generations: component.generations,
                replicas: component.replicas,
            };
        },
        stack: "test",
        config: {},
        state: generatedNames,
        preview,
    });
    return { result, component: component as KubernetesWorkload };
}

const ROLLOUT: KubernetesWorkloadArgs = {
    size: 6,
    namespace: "api",
    release: { ...V2, files: { "/etc/api/config.yaml": "level: debug\n" } },
    rollout: { previous: V1, members: 1 },
    health: { path: "/ready", port: 8080 },
    update: { batch: 2 },
};

describe("KubernetesWorkload under mocks", () => {
    it("registers a stable and a canary Deployment, their ConfigMaps, one Service and a budget, all children of the component", async () => {
        const { result } = await run(ROLLOUT);
        const component = result.named("api", "herd:kubernetes:Workload");
        const children = result.childrenOf(component);
        expect(children.map((r) => `${r.type} ${r.name}`).sort()).to.deep.equal([
            "kubernetes:apps/v1:Deployment api-canary",
            "kubernetes:apps/v1:Deployment api-stable",
            "kubernetes:core/v1:ConfigMap api-canary-env",
            "kubernetes:core/v1:ConfigMap api-canary-files",
            "kubernetes:core/v1:ConfigMap api-stable-env",
            "kubernetes:core/v1:Service api",
            "kubernetes:policy/v1:PodDisruptionBudget api-pdb",
        ]);
        expect(result.resources.filter((r) => r.type.startsWith("kubernetes:"))).to.have.length(children.length);
    });

    it("splits the replicas and points each Deployment at its own ConfigMaps by their generated names", async () => {
        const { result } = await run(ROLLOUT);
        const stable = result.named("api-stable", "kubernetes:apps/v1:Deployment");
        const canary = result.named("api-canary", "kubernetes:apps/v1:Deployment");
        const spec = (r: RecordedResource) => r.inputs.spec as ReturnType<typeof buildDeploymentSpec<string>>;
        expect(spec(stable).replicas).to.equal(5);
        expect(spec(canary).replicas).to.equal(1);
        expect(spec(stable).template.spec.containers[0].image).to.equal(V1.image);
        expect(spec(canary).template.spec.containers[0].image).to.equal(V2.image);

        const generated = (name: string) => (generatedNames({ type: "kubernetes:x", name, inputs: {} } as never)?.metadata as { name: string }).name;
        expect(spec(stable).template.spec.containers[0].envFrom).to.deep.equal([{ configMapRef: { name: generated("api-stable-env") } }]);
        expect(spec(canary).template.spec.containers[0].envFrom).to.deep.equal([{ configMapRef: { name: generated("api-canary-env") } }]);
        expect(spec(canary).template.spec.volumes[1].configMap?.name).to.equal(generated("api-canary-files"));
        expect(stable.options.dependsOn).to.include(result.named("api-stable-env").urn);
        expect(canary.options.dependsOn).to.include.members([result.named("api-canary-env").urn, result.named("api-canary-files").urn]);

        for (const configMap of result.ofType("kubernetes:core/v1:ConfigMap")) {
            expect(configMap.options.replaceOnChanges, configMap.name).to.deep.equal(["data"]);
            expect(configMap.options.deleteBeforeReplace, configMap.name).to.equal(false);
        }
        const data = (name: string) => result.named(name, "kubernetes:core/v1:ConfigMap").inputs;
        expect(data("api-stable-env")).to.deep.include({ immutable: true, data: { LOG_LEVEL: "info" } });
        expect(data("api-canary-env")).to.deep.include({ immutable: true, data: { LOG_LEVEL: "debug" } });
        expect(data("api-canary-files").data).to.deep.equal({ [fileKey("/etc/api/config.yaml")]: "level: debug\n" });
    });

    it("updates the canary first and stable after it, or the reverse for delete-before-create", async () => {
        const forward = (await run(ROLLOUT)).result;
        expect(forward.named("api-stable", "kubernetes:apps/v1:Deployment").options.dependsOn).to.include(forward.named("api-canary").urn);
        expect(forward.named("api-canary", "kubernetes:apps/v1:Deployment").options.dependsOn).to.not.include(forward.named("api-stable").urn);
        const quota = (await run({ ...ROLLOUT, update: { order: "delete-before-create" } })).result;
        expect(quota.named("api-canary", "kubernetes:apps/v1:Deployment").options.dependsOn).to.include(quota.named("api-stable").urn);
        expect(quota.named("api-stable", "kubernetes:apps/v1:Deployment").options.dependsOn).to.not.include(quota.named("api-canary").urn);
    });

    it("leaves every name to Pulumi and puts every object in the namespace", async () => {
        const { result } = await run(ROLLOUT);
        for (const resource of result.resources.filter((r) => r.type.startsWith("kubernetes:"))) {
            const metadata = resource.inputs.metadata as Record<string, unknown>;
            expect(metadata, resource.name).to.not.have.property("name");
            expect(metadata.namespace, resource.name).to.equal("api");
            expect(metadata.labels, resource.name).to.deep.include({ "herd.dev/fleet": "api" });
        }
    });

    it("names Deployments, Service and budget (never ConfigMaps) with fixedNames", async () => {
        const { result } = await run({ ...ROLLOUT, fixedNames: true });
        const names = Object.fromEntries(
            result.resources
                .filter((r) => r.type.startsWith("kubernetes:"))
                .map((r) => [r.name, (r.inputs.metadata as Record<string, unknown>).name]),
        );
        expect(names).to.deep.equal({
            api: "api",
            "api-canary": "api-canary",
            "api-stable": "api-stable",
            "api-pdb": "api-pdb",
            "api-stable-env": undefined,
            "api-canary-env": undefined,
            "api-canary-files": undefined,
        });
    });

    it("passes the provider given in opts to every child", async () => {
        const { result } = await run(ROLLOUT, (provider) => ({ provider }));
        const provider = result.named("cluster", "pulumi:providers:kubernetes");
        for (const resource of result.resources.filter((r) => r.type.startsWith("kubernetes:"))) {
            expect(resource.options.provider?.startsWith(`${provider.urn}::`), resource.name).to.equal(true);
        }
    });

    it("runs only the stable Deployment once the rollout is complete", async () => {
        const { result } = await run({ ...ROLLOUT, rollout: { previous: V1, members: 6 } });
        expect(result.ofType("kubernetes:apps/v1:Deployment").map((r) => r.name)).to.deep.equal(["api-stable"]);
        const stable = result.named("api-stable").inputs.spec as ReturnType<typeof buildDeploymentSpec<string>>;
        expect(stable.replicas).to.equal(6);
        expect(stable.template.spec.containers[0].image).to.equal(V2.image);
        expect(result.outputs).to.deep.equal({
            serviceName: (generatedNames({ type: "kubernetes:x", name: "api", inputs: {} } as never)?.metadata as { name: string }).name,
            generations: { stable: containerGeneration(ROLLOUT.release) },
            replicas: { stable: 6, canary: 0 },
        });
    });

    it("exports the Service name, and generations and replicas per role", async () => {
        const { result, component } = await run(ROLLOUT);
        expect(result.outputs).to.deep.equal({
            serviceName: (generatedNames({ type: "kubernetes:x", name: "api", inputs: {} } as never)?.metadata as { name: string }).name,
            generations: { stable: containerGeneration(V1), canary: containerGeneration(ROLLOUT.release) },
            replicas: { stable: 5, canary: 1 },
        });
        expect(component.workload.namespace).to.equal("api");
    });

    it("registers only objects that pass the Kubernetes JSON schemas", async () => {
        const { result } = await run(ROLLOUT);
        const objects = result.resources.filter((r) => r.type.startsWith("kubernetes:"));
        expect(objects).to.have.length(7);
        for (const resource of objects) {
            validate(resource.type as keyof typeof KINDS, resource.inputs as Record<string, unknown>);
        }
    });

    it("previews the same objects as it creates", async () => {
        const preview = (await run(ROLLOUT, () => ({}), true)).result;
        const update = (await run(ROLLOUT)).result;
        expect(preview.resources.map((r) => r.urn)).to.deep.equal(update.resources.map((r) => r.urn));
    });

    it("registers byte-identical inputs on every run", async () => {
        const first = await run(ROLLOUT);
        const second = await run(ROLLOUT);
        const snapshot = (resources: readonly RecordedResource[]) =>
            JSON.stringify(resources.map((r) => ({ urn: r.urn, inputs: r.inputs, options: r.options })));
        expect(snapshot(second.result.resources)).to.equal(snapshot(first.result.resources));
    });

    it("fails before registering any child when the arguments are wrong", async () => {
        const failure = await run({ ...ROLLOUT, size: 0 }).then(
            () => undefined,
            (err: Error & { resources: RecordedResource[] }) => err,
        );
        expect(failure?.message).to.contain("rollout.members = 1: expected a whole number from 0 to size (0)");
        expect(failure?.resources.filter((r) => r.type.startsWith("kubernetes:"))).to.deep.equal([]);
    });
});

describe("kubernetesArgsFromConfig", () => {
    it("maps a validated fleet of the stack config to the workload's args", () => {
        const fleets = parseFleets(
            {
                api: {
                    backend: "kubernetes",
                    namespace: "api",
                    size: 6,
                    release: { image: V2.image, port: 8080, env: { LOG_LEVEL: "debug" }, files: { "/etc/api.conf": "x" }, command: ["/api"], args: ["serve"] },
                    rollout: { previous: { image: V1.image, port: 8080 }, members: 1, waves: [1, 3] },
                    update: { batch: 2, order: "delete-before-create" },
                    spread: "anti-affinity",
                    health: { path: "/ready", port: 8080 },
                    alerts: { minHealthy: 5 },
                },
            },
            "test",
        );
        const fleet = fleets.api;
        if (fleet.backend !== "kubernetes") {
            throw new Error("expected a kubernetes fleet");
        }
        const args = kubernetesArgsFromConfig("api", fleet);
        expect(args).to.deep.equal({
            size: 6,
            release: { image: V2.image, command: ["/api"], args: ["serve"], env: { LOG_LEVEL: "debug" }, files: { "/etc/api.conf": "x" }, port: 8080 },
            rollout: { members: 1, previous: { image: V1.image, port: 8080 } },
            namespace: "api",
            update: { batch: 2, order: "delete-before-create" },
            spread: "anti-affinity",
            health: { path: "/ready", port: 8080 },
        });
        expect(resolveWorkload("api", args).roles.map((r) => [r.role, r.replicas])).to.deep.equal([
            ["stable", 5],
            ["canary", 1],
        ]);
    });

    it("keeps defaults for what the config leaves out", () => {
        expect(kubernetesArgsFromConfig("api", { backend: "kubernetes", size: 2, release: { image: "x" } })).to.deep.equal({
            size: 2,
            release: { image: "x" },
        });
    });
});
