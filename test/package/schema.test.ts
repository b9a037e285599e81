import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { expect } from "chai";
import { getPulumiComponents } from "@pulumi/pulumi/provider/experimental";
import type { PackageSpec, Property } from "@pulumi/pulumi/provider/experimental/schema";
import {
    ServerGroup as HerdServerGroup,
    type ContainerRelease,
    type DockerWorkloadArgs,
    type HealthCheck,
    type KubernetesVolume,
    type KubernetesWorkloadArgs,
    type ServerGroupArgs,
    type ServerRelease,
} from "../../components";
import * as YAML from "yaml";
import { FLEET_BACKENDS } from "../../components";
import { ProgramError, runProgram } from "../../components/testing";
import { type docker, type kubernetes, type openstack, plugin, type shared } from "../helpers/componentPackage";

/** The plugin as `npm run build` writes it and the npm package ships it. */
const PROVIDER_DIR = path.join(__dirname, "..", "..", "dist", "provider");

/** Keys of every member of a union. */
type KeysOf<T> = T extends unknown ? keyof T : never;
/** `true` only when the package's args have every key of the SDK's (but `except`), else `false`. */
type Covers<Sdk, Package, Except extends PropertyKey = never> = [Exclude<KeysOf<Sdk>, KeysOf<Package> | Except>] extends [never] ? true : false;
/**
 * Checked when the tests compile (`tsc --noEmit`): an argument added to one of the SDK's
 * components and not to the package's fails the build, as per-slot volumes once silently did.
 * The container components' `secrets` map is the package's Output env and file values instead.
 */
const argsCovered: [true, true, true, true, true, true, true] = [
    true as Covers<ServerGroupArgs, openstack.ServerGroupComponentArgs>,
    true as Covers<ServerRelease, openstack.ServerRelease>,
    true as Covers<KubernetesWorkloadArgs, kubernetes.KubernetesWorkloadComponentArgs, "secrets">,
    true as Covers<DockerWorkloadArgs, docker.DockerWorkloadComponentArgs, "secrets">,
    true as Covers<ContainerRelease, shared.ContainerRelease>,
    true as Covers<HealthCheck, shared.HealthCheck>,
    true as Covers<KubernetesVolume, kubernetes.KubernetesVolume>,
];
void argsCovered;

/**
 * The package schema, derived from dist/provider/index.ts (the shared vocabulary and each registered
 * backend's componentPackage.ts, which it exports) by the Node.js SDK's component provider
 * (the analyzer the plugin host runs for `pulumi package get-schema` / `package add`), in a
 * worker thread of this process. The analyzer type-checks the SDK and every provider package it
 * imports (seconds of CPU), so it starts as soon as this file is loaded and runs beside the
 * other test files.
 */
const schemaReady: Promise<PackageSpec> = new Promise((resolve, reject) => {
    if (!fs.existsSync(path.join(PROVIDER_DIR, "index.js"))) {
        throw new Error("dist/provider is missing: run npm run build first");
    }
    const worker = new Worker(
        `
        const { parentPort, workerData } = require("node:worker_threads");
        // TypeScript in this thread too, with the CommonJS resolution (directory imports) of the main one.
        require(workerData.tsx).register();
        const { ComponentProvider, getPulumiComponents } = require(workerData.experimental);
        const components = getPulumiComponents(require(workerData.dir));
        new ComponentProvider({ name: "herd", dirname: workerData.dir, components })
            .getSchema()
            .then((schema) => parentPort.postMessage(schema), (err) => parentPort.postMessage({ error: err.stack || String(err) }));
        `,
        {
            eval: true,
            workerData: {
                dir: PROVIDER_DIR,
                experimental: require.resolve("@pulumi/pulumi/provider/experimental"),
                tsx: require.resolve("tsx/cjs/api"),
            },
        },
    );
    worker.once("message", (message: string | { error: string }) => {
        void worker.terminate();
        return typeof message === "string" ? resolve(JSON.parse(message) as PackageSpec) : reject(new Error(message.error));
    });
    worker.once("error", reject);
});
// A failure is reported by the tests that need the schema, not as an unhandled rejection.
schemaReady.catch(() => undefined);

/** A property as a short string: `number`, `string[]`, `map<string>`, `ServerRelease`; `?` when optional. */
function shape(property: Property & { optional?: boolean }): string {
    const type = (p: Property): string =>
        "$ref" in p
            ? p.$ref.replace("#/types/herd:index:", "")
            : p.type === "array"
              ? `${type(p.items as Property)}[]`
              : p.type === "object" && p.additionalProperties
                ? `map<${type(p.additionalProperties as Property)}>`
                : p.type;
    return `${type(property)}${property.optional ? "?" : ""}`;
}

function shapes(properties: Record<string, Property> | undefined): Record<string, string> {
    return Object.fromEntries(Object.entries(properties ?? {}).map(([name, property]) => [name, shape(property)]));
}

describe("herd as a Pulumi component package (dist/provider)", () => {
    /** The plugin's entry as the component provider host loads it. */
    const built = (): Record<string, unknown> => require(PROVIDER_DIR) as Record<string, unknown>;

    let schema: PackageSpec;
    before(async function () {
        this.timeout(120_000);
        schema = await schemaReady;
    });

    it("hosts ServerGroup, KubernetesWorkload and DockerWorkload as herd:index:<class>", () => {
        const hosted = getPulumiComponents(built()).map((component) => component.name);
        expect(hosted.sort()).to.deep.equal(["DockerWorkload", "KubernetesWorkload", "ServerGroup"]);
        expect(schema.name).to.equal("herd");
        expect(Object.keys(schema.resources).sort()).to.deep.equal(["herd:index:DockerWorkload", "herd:index:KubernetesWorkload", "herd:index:ServerGroup"]);
        for (const resource of Object.values(schema.resources)) {
            expect(resource.isComponent).to.equal(true);
            // Plain inputs: herd hashes releases into generations, so it needs values, not Outputs.
            expect(Object.values(resource.inputProperties ?? {}).every((p) => p.plain === true)).to.equal(true);
        }
    });

    it("hosts the classes of every backend in the fleet registry, from that backend's componentPackage.ts, and nothing else", () => {
        const hosted = getPulumiComponents(built()).map((component) => component.name);
        const registered = Object.keys(FLEET_BACKENDS).flatMap((backend) => {
            const own = getPulumiComponents(require(path.join(PROVIDER_DIR, "..", backend, "componentPackage")));
            expect(own, `dist/${backend}/componentPackage.js`).to.have.length.greaterThan(0);
            return own.map((component) => component.name);
        });
        // The build writes the entry's exports from the registry: a backend it left out, or one it kept after leaving the registry, shows here.
        expect(hosted).to.deep.equal(registered);
        expect(fs.readFileSync(path.join(PROVIDER_DIR, "index.ts"), "utf8")).to.contain(
            Object.keys(FLEET_BACKENDS)
                .map((backend) => `export * from "../${backend}/componentPackage";`)
                .join("\n"),
        );
    });

    it("is versioned like the npm package", () => {
        const root = require("../../package.json") as { version: string };
        expect(schema.version).to.equal(root.version);
    });

    it("ServerGroup: inputs, outputs and the types they use", () => {
        const resource = schema.resources["herd:index:ServerGroup"];
        expect(shapes(resource.inputProperties)).to.deep.equal({
            size: "number",
            release: "ServerRelease",
            rollout: "ServerRollout?",
            update: "UpdatePolicy?",
            spread: "Spread?",
            health: "HealthCheck?",
            loadBalancer: "LoadBalancer?",
            ingress: "IngressRule[]?",
            groupName: "string?",
            metadata: "map<string>?",
            probes: "Probe[]?",
            alerts: "FleetAlerts?",
            volume: "DataVolume?",
            computeHosts: "number?",
        });
        expect(shapes(schema.types["herd:index:DataVolume"].properties)).to.deep.equal({ size: "number", type: "string?" });
        expect(resource.requiredInputs).to.deep.equal(["release", "size"]);
        expect(shapes(resource.properties)).to.deep.equal({ servers: "Server[]", generations: "string[]", loadBalancerAddress: "string?", alertRules: "string" });
        expect(shapes(schema.types["herd:index:FleetAlerts"].properties)).to.deep.equal({ minHealthy: "number?", memberDownFor: "string?" });
        expect(shapes(schema.types["herd:index:ServerRelease"].properties)).to.deep.equal({
            image: "string",
            flavor: "string",
            networks: "string[]",
            keyPair: "string?",
            securityGroups: "string[]?",
            userData: "string?",
        });
        expect(schema.types["herd:index:ServerRollout"].required).to.deep.equal(["members"]);
        expect(schema.types["herd:index:Spread"]).to.deep.include({
            type: "string",
            enum: [
                {
                    name: "AntiAffinity",
                    value: "anti-affinity",
                    description:
                        "Never two members on one host while another host has fewer; members stay pending (Kubernetes) or fail to schedule (Nova) otherwise.",
                },
                { name: "SoftAntiAffinity", value: "soft-anti-affinity", description: "Spread when possible, schedule anyway." },
            ],
        });
        expect(schema.types["herd:index:LoadBalancerProtocol"].enum?.map((e) => e.value)).to.deep.equal(["HTTP", "HTTPS", "TCP"]);
        expect(resource.inputProperties?.spread.description).to.equal("Nova server group policy. Defaults to `soft-anti-affinity`.");
    });

    it("KubernetesWorkload: inputs, outputs and the types they use", () => {
        const resource = schema.resources["herd:index:KubernetesWorkload"];
        expect(shapes(resource.inputProperties)).to.deep.equal({
            size: "number",
            release: "ContainerRelease",
            rollout: "ContainerRollout?",
            namespace: "string?",
            update: "UpdatePolicy?",
            spread: "Spread?",
            nodeSelector: "map<string>?",
            tolerations: "Toleration[]?",
            health: "HealthCheck?",
            resources: "ContainerResources?",
            serviceAccountName: "string?",
            automountServiceAccountToken: "boolean?",
            imagePullSecrets: "string[]?",
            volumes: "map<KubernetesVolume>?",
            podAnnotations: "map<string>?",
            security: "WorkloadSecurity?",
            metrics: "MetricsEndpoint?",
            servicePort: "number?",
            fixedNames: "boolean?",
            alerts: "FleetAlerts?",
            probes: "Probe[]?",
            pushgateway: "string?",
            probeImage: "string?",
            monitoringLabels: "map<string>?",
        });
        expect(shapes(resource.properties)).to.deep.equal({ generations: "RoleGenerations", replicas: "RoleReplicas", serviceName: "string?", alertRules: "string" });
        expect(shapes(schema.types["herd:index:ContainerRelease"].properties)).to.deep.equal({
            image: "string",
            command: "string[]?",
            args: "string[]?",
            env: "map<string>?",
            files: "map<string>?",
            port: "number?",
        });
        // Env values and file contents take Outputs (secrets from any language); every other input is a plain value.
        const release = schema.types["herd:index:ContainerRelease"].properties ?? {};
        expect(Object.entries(release).filter(([, p]) => p.plain !== true)).to.deep.equal([]);
        for (const map of ["env", "files"]) {
            expect(release[map].additionalProperties?.plain, map).to.equal(undefined);
        }
        expect(release.command.items?.plain).to.equal(true);
        // `metrics: MetricsEndpoint | false` becomes an object with `scrape: false`.
        expect(shapes(schema.types["herd:index:MetricsEndpoint"].properties)).to.deep.equal({ scrape: "boolean?", port: "number?", path: "string?" });
        expect(shape(schema.types["herd:index:WorkloadSecurity"].properties?.seccompProfile as Property)).to.equal("SeccompProfile?");
        expect(shapes(schema.types["herd:index:HealthCheck"].properties)).to.deep.equal({ path: "string?", port: "number?", command: "string[]?" });
        expect(shapes(schema.types["herd:index:KubernetesVolume"].properties)).to.deep.equal({
            mountPath: "string",
            readOnly: "boolean?",
            emptyDir: "EmptyDirVolume?",
            secret: "string?",
            configMap: "string?",
            persistentVolumeClaim: "string?",
        });
        expect(shapes(schema.types["herd:index:Toleration"].properties)).to.deep.equal({
            key: "string?",
            operator: "string?",
            value: "string?",
            effect: "string?",
            tolerationSeconds: "number?",
        });
    });

    it("DockerWorkload: inputs, outputs and the types they use", () => {
        const resource = schema.resources["herd:index:DockerWorkload"];
        expect(shapes(resource.inputProperties)).to.deep.equal({
            size: "number",
            release: "ContainerRelease",
            rollout: "ContainerRollout?",
            update: "UpdatePolicy?",
            health: "HealthCheck?",
            healthCommand: "string[]?",
            hostPort: "number?",
            hostIp: "string?",
            memory: "number?",
            cpus: "string?",
            metrics: "MetricsEndpoint?",
            host: "string?",
            keepImages: "boolean?",
            alerts: "FleetAlerts?",
            probes: "Probe[]?",
            pushgateway: "string?",
            probeImage: "string?",
        });
        expect(shapes(resource.properties)).to.deep.equal({ containerNames: "string[]", generations: "string[]", alertRules: "string" });
    });
});

describe("the component package's args, mapped onto the TypeScript SDK's", () => {
    it("passes a ServerGroup's args through, without the keys the engine leaves unset", () => {
        expect(
            plugin.serverGroupArgs({
                size: 3,
                release: { image: "img", flavor: "b3-8", networks: ["net"], keyPair: undefined },
                spread: plugin.Spread.AntiAffinity,
                update: { batch: 1, order: undefined },
                probes: [{ name: "crashes", script: "#!/bin/sh\necho 0\n", every: "1m", alert: { severity: "critical" } }],
            }),
        ).to.deep.equal({
            size: 3,
            release: { image: "img", flavor: "b3-8", networks: ["net"] },
            spread: "anti-affinity",
            update: { batch: 1 },
            probes: [{ name: "crashes", script: "#!/bin/sh\necho 0\n", every: "1m", alert: { severity: "critical" } }],
        });
    });

    it("turns `metrics: { scrape: false }` into the SDK's `metrics: false`, and keeps an endpoint otherwise", () => {
        const release = { image: "registry.example.org/app@sha256:00", port: 8080 };
        expect(plugin.kubernetesWorkloadArgs({ size: 2, release, metrics: { scrape: false } }).metrics).to.equal(false);
        expect(plugin.dockerWorkloadArgs({ size: 2, release, metrics: { port: 9090 } }).metrics).to.deep.equal({ port: 9090 });
        expect(plugin.dockerWorkloadArgs({ size: 2, release })).to.not.have.property("metrics");
    });

    it("builds the same fleet as the TypeScript SDK, one level down", async () => {
        const release = { image: "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", flavor: "b3-8", networks: ["ext-net"] };
        const viaPackage = await runProgram({
            program: () => {
                const fleet = new plugin.ServerGroup("web", { size: 2, release, spread: plugin.Spread.AntiAffinity, health: { path: "/healthz", port: 80 } });
                return { generations: fleet.generations };
            },
            config: {},
        });
        const direct = await runProgram({
            program: () => {
                const fleet = new HerdServerGroup("web", { size: 2, release, spread: "anti-affinity", health: { path: "/healthz", port: 80 } });
                return { generations: fleet.generations };
            },
            config: {},
        });
        expect(viaPackage.outputs.generations).to.deep.equal(direct.outputs.generations);
        const outer = viaPackage.named("web", "herd:index:ServerGroup");
        const inner = viaPackage.named("web", "herd:openstack:ServerGroup");
        expect(inner.options.parent).to.equal(outer.urn);
        const members = (run: typeof direct) => run.ofType("openstack:compute/instance:Instance").map((r) => ({ name: r.name, inputs: r.inputs, replace: r.options.replaceOnChanges }));
        expect(members(viaPackage)).to.deep.equal(members(direct));
    });

    it("gives each slot of a ServerGroup its data volume, kept and attached as the TypeScript SDK does, and checks the declared hosts", async () => {
        const release = { image: "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", flavor: "b3-8", networks: ["ext-net"] };
        const args = { size: 2, release, spread: plugin.Spread.AntiAffinity, volume: { size: 20, type: "ssd" }, computeHosts: 2 } as const;
        const viaPackage = await runProgram({ program: () => void new plugin.ServerGroup("db", args), config: {} });
        const direct = await runProgram({ program: () => void new HerdServerGroup("db", args), config: {} });
        const volumes = (run: typeof direct) => run.ofType("openstack:blockstorage/volume:Volume").map((v) => [v.name, v.inputs.size, v.inputs.volumeType, v.options.protect]);
        expect(volumes(viaPackage)).to.deep.equal([
            ["db-0-data", 20, "ssd", true],
            ["db-1-data", 20, "ssd", true],
        ]);
        expect(volumes(viaPackage)).to.deep.equal(volumes(direct));
        expect(viaPackage.ofType("openstack:compute/volumeAttach:VolumeAttach").map((a) => a.name)).to.deep.equal(direct.ofType("openstack:compute/volumeAttach:VolumeAttach").map((a) => a.name));
        // Hard anti-affinity over more members than the declared hosts: refused before anything is registered.
        const refused = await runProgram({ program: () => void new plugin.ServerGroup("db", { ...args, size: 3 }), config: {} }).then(
            () => undefined,
            (err: ProgramError) => err,
        );
        expect(refused?.message).to.contain("size = 3: spread anti-affinity places at most one member per compute host: 3 members need 3 hosts, the cloud has 2");
        expect(refused?.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
    });

    it("builds a fleet monitored from birth: a Kubernetes fleet's PrometheusRule and probe CronJob are its children, its alerts an output", async () => {
        const probe = { name: "stuck_jobs", script: "#!/bin/sh\necho 0\n", every: "5m" };
        const run = await runProgram({
            program: () => {
                const fleet = new plugin.KubernetesWorkload("api", {
                    size: 3,
                    namespace: "api",
                    release: { image: "registry.example.org/api@sha256:5b0e8c1f3a2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7", port: 8080 },
                    alerts: { minHealthy: 1 },
                    probes: [probe],
                    pushgateway: "http://pushgateway.monitoring:9091",
                });
                return { alertRules: fleet.alertRules };
            },
            config: {},
        });
        const outer = run.named("api", "herd:index:KubernetesWorkload");
        expect(run.named("api", "herd:kubernetes:Workload").options.parent).to.equal(outer.urn);
        expect(run.named("api-monitoring", "herd:kubernetes:Monitoring").options.parent).to.equal(outer.urn);
        expect(run.named("api-probe-stuck_jobs", "herd:monitoring:Probe").options.parent).to.equal(outer.urn);
        const rule = run.named("api-monitoring-rules", "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
        const { groups } = rule.inputs.spec as { groups: { rules: { alert: string; expr: string }[] }[] };
        expect(groups[0].rules.map((r) => r.alert)).to.include.members(["HerdFleetBelowMinHealthy", "HerdMemberDown", "HerdProbeStuckJobs"]);
        expect(groups[0].rules[0].expr).to.match(/ < 1$/);
        expect(YAML.parse(run.outputs.alertRules as string)).to.deep.equal({ groups });
        expect(run.named("api-probe-stuck-jobs", "kubernetes:batch/v1:CronJob").inputs.metadata).to.deep.include({ namespace: "api" });
    });

    it("takes a TCP or command health check and a Kubernetes fleet's pod settings, as the TypeScript SDK does", async () => {
        const release = { image: "registry.example.org/cache@sha256:" + "c".repeat(64), port: 6379 };
        const run = await runProgram({
            program: () => {
                new plugin.KubernetesWorkload("cache", {
                    size: 2,
                    release,
                    health: { command: ["redis-cli", "ping"] },
                    serviceAccountName: "cache",
                    imagePullSecrets: ["registry"],
                    volumes: { data: { persistentVolumeClaim: "cache-data", mountPath: "/data" }, scratch: { emptyDir: { medium: "Memory" }, mountPath: "/scratch" } },
                    podAnnotations: { "example.org/team": "storage" },
                });
                new plugin.ServerGroup("queue", {
                    size: 1,
                    release: { image: "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", flavor: "b3-8", networks: ["ext-net"] },
                    health: { port: 5672 },
                    loadBalancer: { port: 5672, protocol: plugin.LoadBalancerProtocol.Tcp },
                });
            },
            config: {},
        });
        const pod = (run.named("cache-stable", "kubernetes:apps/v1:Deployment").inputs.spec as { template: { spec: Record<string, unknown> } }).template.spec;
        expect(pod).to.deep.include({ serviceAccountName: "cache", imagePullSecrets: [{ name: "registry" }] });
        expect((pod.containers as { readinessProbe: unknown }[])[0].readinessProbe).to.deep.include({ exec: { command: ["redis-cli", "ping"] } });
        expect((pod.volumes as { name: string }[]).map((v) => v.name)).to.deep.equal(["tmp", "data", "scratch"]);
        expect(run.named("queue-monitor", "openstack:loadbalancer/monitor:Monitor").inputs).to.include({ type: "TCP" });
    });

    it("refuses a command check on OpenStack and a bad volume, with the SDK's words, before registering anything", async () => {
        const refused = async (build: () => void) =>
            (await runProgram({ program: build, config: {} }).then(
                () => undefined,
                (err: unknown) => err as ProgramError,
            )) as ProgramError;
        const server = await refused(
            () =>
                new plugin.ServerGroup("queue", {
                    size: 1,
                    release: { image: "6d1f0b7e-2c4a-4e8b-9f3d-5a7c1e9b2d40", flavor: "b3-8", networks: ["ext-net"] },
                    health: { command: ["rabbitmq-diagnostics", "ping"] },
                }),
        );
        expect(server.message).to.contain(
            'herd:index:ServerGroup "queue": invalid arguments:\n  - health.command = ["rabbitmq-diagnostics","ping"]: expected { path, port } (HTTP) or { port } (TCP)',
        );
        expect(server.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
        const workload = await refused(
            () => new plugin.KubernetesWorkload("cache", { size: 1, release: { image: "registry.example.org/cache@sha256:" + "c".repeat(64) }, volumes: { data: { emptyDir: { medium: "Disk" }, mountPath: "/data/" } } }),
        );
        expect(workload.message).to.contain(
            "  - volumes.data.mountPath = \"/data/\": expected a normalized absolute file path: no '//', '/./', '..' or trailing '/'\n  - volumes.data.emptyDir.medium = \"Disk\": expected Memory (a tmpfs), or no medium for the node's disk",
        );
        expect(workload.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
    });

    it("refuses a fleet's probes without a Pushgateway before registering anything, naming the key", async () => {
        const failure = await runProgram({
            program: () => {
                new plugin.DockerWorkload("cache", {
                    size: 2,
                    release: { image: "registry.example.org/cache@sha256:5b0e8c1f3a2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7" },
                    probes: [{ name: "stuck_jobs", script: "#!/bin/sh\necho 0\n", every: "5m" }],
                });
            },
            config: {},
        }).then(
            () => undefined,
            (err: unknown) => err as ProgramError,
        );
        expect(failure?.message).to.equal(
            'herd:index:DockerWorkload "cache": invalid arguments:\n  - pushgateway is missing: required, the URL of a Prometheus Pushgateway: the probes of a docker fleet push their counts there',
        );
        expect(failure?.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
    });
});
