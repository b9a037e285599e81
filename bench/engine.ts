/**
 * `npm run bench:engine`: what users wait for, through the real Pulumi CLI, engine and Kubernetes
 * provider against a real control plane (scripts/cluster-up.sh): `pulumi preview` and
 * `pulumi up` of a stack of many Kubernetes fleets, herd's program against a plain Pulumi program
 * that registers the same objects with the same inputs (no components, no validation). The mock
 * benchmark (bench/run.ts) sees only the program; this also counts the engine's and the
 * provider's own work, which is most of a user's wait.
 *
 * usage: node --import tsx bench/engine.ts [--fleets 125] [--runs 3] [--up-runs 1] [--out bench/engine-results.json]
 *
 * Needs HERD_ENGINE_DIR (scripts/engine.sh) and a running cluster: HERD_CLUSTER_RUN, the run
 * folder of scripts/cluster-up.sh (`npm run bench:engine` sets both up with scripts/with-cluster.sh). Prints one line per
 * measure with the herd/plain ratio; medians of `runs` previews and of `up-runs` creations (each
 * followed by a destroy, so every `up` creates everything).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { runProgram } from "../components/testing";
import { API_RELEASE } from "./fleet";

const root = path.resolve(__dirname, "..");
const STACK = "bench";
const NAMESPACE = "bench";
const { values: flags } = parseArgs({
    options: {
        fleets: { type: "string", default: "125" },
        runs: { type: "string", default: "3" },
        "up-runs": { type: "string", default: "1" },
        out: { type: "string", default: path.join("bench", "engine-results.json") },
    },
});
const fleetCount = Number(flags.fleets);
const runs = Number(flags.runs);
const upRuns = Number(flags["up-runs"]);

/** `herd:fleets` of the stack: `count` small fleets with a rollout under way (stable and canary). */
function benchFleets(count: number) {
    const fleets: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) {
        const release = { ...API_RELEASE, env: { ...API_RELEASE.env, SHARD: String(i) } };
        fleets[`api-${i}`] = {
            backend: "kubernetes",
            namespace: NAMESPACE,
            size: 2,
            release: { ...release, image: release.image.replace(/.{8}$/, createHash("sha256").update(String(i)).digest("hex").slice(0, 8)) },
            rollout: { previous: release, members: 1 },
            update: { batch: 1 },
            health: { path: "/ready", port: 8080 },
        };
    }
    return fleets;
}

/**
 * What herd registers for those fleets (custom resources, no providers), recorded under mocks.
 * A ConfigMap's generated name is recorded as `<resource name>@name`, so that the plain program
 * can put the real name where a Deployment refers to it.
 */
async function template(projectDir: string, config: Record<string, unknown>) {
    const run = await runProgram({
        program: path.join(projectDir, "index.ts"),
        projectDir,
        stack: STACK,
        config,
        state: (args) => (args.type === "kubernetes:core/v1:ConfigMap" ? { metadata: { ...(args.inputs.metadata as object), name: `${args.name}@name` } } : undefined),
    });
    return run.resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:")).map(({ type, name, inputs }) => ({ type, name, inputs }));
}

/** The plain program: each recorded object registered as a typed resource, with an explicit provider as herd has. */
const PLAIN_PROGRAM = `import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

interface Recorded { type: string; name: string; inputs: any }
const objects: Recorded[] = JSON.parse(fs.readFileSync(__dirname + "/template.json", "utf8"));
const provider = new k8s.Provider("kubernetes", { kubeconfig: process.env.HERD_BENCH_KUBECONFIG });
const opts = { provider };
const names = new Map<string, pulumi.Output<string>>();
const namespaces: pulumi.Resource[] = [];
// A Deployment refers to its ConfigMaps by their generated names.
const wire = (value: any): any =>
    typeof value === "string" && value.endsWith("@name") ? names.get(value.slice(0, -5)) :
    Array.isArray(value) ? value.map(wire) :
    value && typeof value === "object" ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wire(v)])) : value;
// Namespaces first (everything else waits for them), then ConfigMaps (Deployments use their names).
const rank = (o: Recorded) => (o.type === "kubernetes:core/v1:Namespace" ? 0 : o.type === "kubernetes:core/v1:ConfigMap" ? 1 : 2);
for (const o of [...objects].sort((a, b) => rank(a) - rank(b))) {
    const inNamespace = { ...opts, dependsOn: namespaces };
    switch (o.type) {
        case "kubernetes:core/v1:Namespace": namespaces.push(new k8s.core.v1.Namespace(o.name, o.inputs, opts)); break;
        case "kubernetes:core/v1:ConfigMap": names.set(o.name, new k8s.core.v1.ConfigMap(o.name, o.inputs, inNamespace).metadata.name); break;
        case "kubernetes:apps/v1:Deployment": new k8s.apps.v1.Deployment(o.name, wire(o.inputs), inNamespace); break;
        case "kubernetes:core/v1:Service": new k8s.core.v1.Service(o.name, o.inputs, inNamespace); break;
        case "kubernetes:policy/v1:PodDisruptionBudget": new k8s.policy.v1.PodDisruptionBudget(o.name, o.inputs, inNamespace); break;
        default:
            if (!o.type.startsWith("kubernetes:monitoring.coreos.com/v1:")) throw new Error("no plain equivalent for " + o.type);
            new k8s.apiextensions.CustomResource(o.name, o.inputs, inNamespace);
    }
}
`;

interface Measure {
    what: string;
    herdMs: number;
    plainMs: number;
    ratio: number;
}

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
    const engine = process.env.HERD_ENGINE_DIR;
    const cluster = process.env.HERD_CLUSTER_RUN;
    if (!engine || !cluster) {
        throw new Error("set HERD_ENGINE_DIR (scripts/engine.sh) and HERD_CLUSTER_RUN (a cluster started by scripts/cluster-up.sh), or run npm run bench:engine");
    }
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "herd-bench-engine-"));
    // herd: the project's own program, in a copy, with the bench stack and the cluster's
    // kubeconfig inside the project (herd refuses paths outside it).
    const herdDir = path.join(work, "herd");
    fs.cpSync(root, herdDir, { recursive: true, filter: (source) => !["node_modules", ".git", "dist", ".herd"].includes(path.basename(source)) || path.dirname(source) !== root });
    fs.symlinkSync(path.join(root, "node_modules"), path.join(herdDir, "node_modules"));
    fs.mkdirSync(path.join(herdDir, ".herd"));
    const kubeconfig = path.join(herdDir, ".herd", "kubeconfig");
    fs.copyFileSync(path.join(cluster, "kubeconfig"), kubeconfig);
    const config = { "herd:kubernetes": { kubeconfig: ".herd/kubeconfig" }, "herd:fleets": benchFleets(fleetCount) };
    fs.writeFileSync(path.join(herdDir, `Pulumi.${STACK}.yaml`), stringify({ config }));

    // plain: a project of its own, registering what herd registers.
    const objects = await template(herdDir, config);
    const plainDir = path.join(work, "plain");
    fs.mkdirSync(plainDir);
    fs.writeFileSync(path.join(plainDir, "Pulumi.yaml"), "name: plain\nmain: index.ts\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    fs.writeFileSync(path.join(plainDir, "index.ts"), PLAIN_PROGRAM);
    fs.writeFileSync(path.join(plainDir, "template.json"), JSON.stringify(objects));
    fs.symlinkSync(path.join(root, "node_modules"), path.join(plainDir, "node_modules"));
    fs.writeFileSync(path.join(plainDir, `Pulumi.${STACK}.yaml`), "config: {}\n");

    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${path.join(engine, "bin")}${path.delimiter}${process.env.PATH}`,
        PULUMI_HOME: path.join(engine, "home"),
        PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "herd bench",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        HERD_BENCH_KUBECONFIG: kubeconfig,
        HOME: work,
    };
    delete env.KUBECONFIG;
    fs.mkdirSync(path.join(work, "state"));
    const pulumi = (dir: string, ...args: string[]): number => {
        const start = performance.now();
        const result = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "scripts", "pulumi.ts"), ...args], {
            cwd: dir,
            env,
            encoding: "utf8",
            maxBuffer: 256 * 1024 * 1024,
        });
        if (result.status !== 0) {
            throw new Error(`pulumi ${args.join(" ")} in ${dir} exited ${result.status}:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
        }
        return performance.now() - start;
    };
    for (const dir of [herdDir, plainDir]) {
        const init = spawnSync("pulumi", ["stack", "init", STACK, "--secrets-provider", "passphrase"], { cwd: dir, env, encoding: "utf8" });
        if (init.status !== 0) {
            throw new Error(`pulumi stack init in ${dir}: ${init.stderr}`);
        }
    }

    try {
        await measureAll(herdDir, plainDir, objects.length, pulumi);
    } finally {
        // Whatever happened, leave nothing in the cluster (a stack never created destroys nothing).
        for (const dir of [herdDir, plainDir]) {
            spawnSync(process.execPath, ["--import", "tsx", path.join(root, "scripts", "pulumi.ts"), "destroy", "--stack", STACK, "--yes", "--skip-preview"], { cwd: dir, env, encoding: "utf8" });
        }
    }
    fs.rmSync(work, { recursive: true, force: true });
}

/** Runs the measures and writes the report. */
async function measureAll(herdDir: string, plainDir: string, objectCount: number, pulumi: (dir: string, ...args: string[]) => number): Promise<void> {
    const measures: Measure[] = [];
    const measure = (what: string, herd: number[], plain: number[]) => {
        const m = { what, herdMs: Math.round(median(herd)), plainMs: Math.round(median(plain)), ratio: Number((median(herd) / median(plain)).toFixed(3)) };
        measures.push(m);
        console.log(`${what.padEnd(34)} herd ${(m.herdMs / 1000).toFixed(1)} s, plain ${(m.plainMs / 1000).toFixed(1)} s, ratio ${m.ratio.toFixed(3)}`);
    };
    console.log(`${fleetCount} Kubernetes fleets: ${objectCount} objects (plus a provider); medians of ${runs} previews and ${upRuns} creations`);

    // Alternate the two, so that a slow moment of the machine hits both alike.
    const previews: [number[], number[]] = [[], []];
    for (let i = 0; i < runs; i++) {
        previews[0].push(pulumi(herdDir, "preview", "--stack", STACK));
        previews[1].push(pulumi(plainDir, "preview", "--stack", STACK));
    }
    measure("pulumi preview (empty stack)", ...previews);

    const ups: [number[], number[]] = [[], []];
    const updates: [number[], number[]] = [[], []];
    for (let i = 0; i < upRuns; i++) {
        for (const [k, dir] of [herdDir, plainDir].entries()) {
            ups[k].push(pulumi(dir, "up", "--stack", STACK, "--yes", "--skip-preview"));
            updates[k].push(pulumi(dir, "preview", "--stack", STACK));
            pulumi(dir, "destroy", "--stack", STACK, "--yes", "--skip-preview");
        }
    }
    // `--up-runs 0` measures previews only (CI keeps the benchmark working that way).
    if (upRuns > 0) {
        measure("pulumi up (creates everything)", ...ups);
        measure("pulumi preview (no change)", ...updates);
    }

    const report = {
        machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
        fleets: fleetCount,
        objects: objectCount,
        runs,
        upRuns,
        measures,
    };
    fs.writeFileSync(path.resolve(root, flags.out), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${flags.out}`);
}

main().catch((err) => {
    console.error((err as Error).message);
    process.exit(1);
});
