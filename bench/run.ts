/**
 * `npm run bench`: the program's own cost at fleet scale, against a plain Pulumi program that
 * registers the same resources. Every case runs in a process of its own, under the test kit's
 * mocks (no engine, no cloud), `runs` times; the median is reported. Also what importing the
 * package costs on top of the Pulumi SDK, and which provider SDKs that loads (none).
 *
 * usage: node --import tsx bench/run.ts [--runs N] [--out bench/results.json] [--sizes 10,100,1000,5000]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { resolveFleets } from "../components/fleet";
import { planMembers } from "../components/openstack";
import { RecordedResource, runProgram } from "../components/testing";
import { openstackBaseline, OpenStackTemplate } from "./baseline-openstack";
import { builtEntry } from "./entry";
import { IMAGE_ID, kubernetesFleets, NETWORK_ID, openstackFleets } from "./fleet";

const root = path.resolve(__dirname, "..");
const STACK = "bench";
const { values: flags } = parseArgs({
    options: {
        runs: { type: "string", default: "3" },
        out: { type: "string", default: path.join("bench", "results.json") },
        sizes: { type: "string", default: "10,100,1000,5000" },
        "kubernetes-size": { type: "string", default: "1000" },
    },
});
const runs = Number(flags.runs);
const sizes = flags.sizes.split(",").map(Number);
const kubernetesSize = Number(flags["kubernetes-size"]);

interface Sample {
    kind: "herd" | "baseline";
    backend: string;
    size: number;
    resources: number;
    /** Loading the program's modules (herd's package or the baseline's, and the provider SDK both need). */
    loadMs: number;
    /** The evaluation, once loaded. */
    wallMs: number;
    peakRssMb: number;
}

interface Row {
    backend: string;
    size: number;
    resources: { herd: number; baseline: number };
    wallMs: { herd: number; baseline: number };
    loadMs: { herd: number; baseline: number };
    perMemberUs: { herd: number; baseline: number };
    peakRssMb: { herd: number; baseline: number };
    /** `wall`: the evaluation; `withLoad`: loading the modules and the evaluation. */
    ratio: { wall: number; withLoad: number; rss: number };
}

function openstackTemplate(size: number): OpenStackTemplate {
    const [fleet] = resolveFleets(openstackFleets(size), { stack: STACK, projectDir: root });
    if (fleet.backend !== "openstack") {
        throw new Error("the bench fleet must be an OpenStack fleet");
    }
    const [member] = planMembers("web", { ...fleet.args, size: 1, securityGroupName: fleet.args.groupName ?? "" });
    return {
        size,
        batch: fleet.args.update?.batch ?? 1,
        generation: member.generation,
        userData: member.userData,
        groupName: fleet.args.groupName ?? "",
        stack: STACK,
        image: IMAGE_ID,
        network: NETWORK_ID,
    };
}

/** The plain equivalents of herd's Kubernetes objects: what herd registers, minus components and providers. */
async function kubernetesTemplate(size: number) {
    const run = await runProgram({ program: path.join(root, "index.ts"), projectDir: root, stack: STACK, config: { "herd:fleets": kubernetesFleets(size) } });
    return run.resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:")).map(({ type, name, inputs }) => ({ type, name, inputs }));
}

function runCase(kind: string, backend: string, size: number, template?: string): Sample {
    // Pulumi's SDK keeps a stack trace per promise: 5,000 members need more than Node's default heap.
    const args = ["--max-old-space-size=16384", "--import", "tsx", path.join(root, "bench", "case.ts"), kind, backend, String(size), ...(template ? [template] : [])];
    const result = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (result.status !== 0) {
        throw new Error(`${kind} ${backend} ${size} failed (exit ${result.status}):\n${result.stderr}`);
    }
    return JSON.parse(result.stdout.trim().split("\n").pop() ?? "");
}

function median(samples: Sample[]): Sample {
    const sorted = [...samples].sort((a, b) => a.wallMs - b.wallMs);
    const mid = sorted[Math.floor(sorted.length / 2)];
    return { ...mid, peakRssMb: [...samples].sort((a, b) => a.peakRssMb - b.peakRssMb)[Math.floor(samples.length / 2)].peakRssMb };
}

/** The custom resources of a run, without what a plain program has no use for: components and their outputs. */
function comparable(resources: readonly RecordedResource[]): string[] {
    return resources
        .filter((r) => r.custom)
        .map((r) => JSON.stringify({ type: r.type, name: r.name, inputs: r.inputs, replaceOnChanges: r.options.replaceOnChanges, trigger: r.options.replacementTrigger }))
        .sort();
}

/** The baseline is only a baseline if it registers what herd registers. Checked on a small fleet. */
async function checkEquivalence(): Promise<void> {
    const template = openstackTemplate(10);
    const herd = await runProgram({ program: path.join(root, "index.ts"), projectDir: root, stack: STACK, config: { "herd:fleets": openstackFleets(10) } });
    const plain = await runProgram({ program: () => openstackBaseline(template), projectDir: root, stack: STACK, config: {} });
    const a = comparable(herd.resources);
    const b = comparable(plain.resources);
    if (JSON.stringify(a) !== JSON.stringify(b)) {
        throw new Error("the baseline does not register the same resources as herd: fix bench/baseline-openstack.ts");
    }
    console.log(`baseline check: the plain program registers the same ${a.length} resources as herd, with identical inputs`);
}

/** What importing the package costs a program, on top of the Pulumi SDK every program loads. */
interface ImportCost {
    /** What was imported: the built package (`dist`, what `npm install pulumi-herd` gives), else the source through tsx. */
    readonly from: "dist" | "source";
    /** `require("@pulumi/pulumi")`, median ms. */
    readonly pulumiMs: number;
    /** `require` of the package root after the SDK, median ms. */
    readonly herdMs: number;
    /** Provider SDKs (`@pulumi/openstack`…) the import loaded: none, since each loads with its first fleet. */
    readonly providerSdks: string[];
}

function measureImport(): ImportCost {
    const built = builtEntry(root);
    const entry = built ?? path.join(root, "components", "index.ts");
    const script = `
        const { performance } = require("node:perf_hooks");
        let t = performance.now(); require("@pulumi/pulumi"); const pulumiMs = performance.now() - t;
        t = performance.now(); require(${JSON.stringify(entry)}); const herdMs = performance.now() - t;
        const providerSdks = [...new Set(Object.keys(require.cache).flatMap((f) => /node_modules[/](@pulumi[/](?:openstack|kubernetes|docker))[/]/.exec(f)?.[1] ?? []))];
        console.log(JSON.stringify({ pulumiMs, herdMs, providerSdks }));`;
    const samples = Array.from({ length: Math.max(runs, 3) }, () => {
        const result = spawnSync(process.execPath, [...(built ? [] : ["--import", "tsx"]), "-e", script], { cwd: root, encoding: "utf8" });
        if (result.status !== 0) {
            throw new Error(`importing ${entry} failed:\n${result.stderr}`);
        }
        return JSON.parse(result.stdout.trim()) as { pulumiMs: number; herdMs: number; providerSdks: string[] };
    });
    const mid = <T>(values: T[], key: (v: T) => number) => [...values].sort((a, b) => key(a) - key(b))[Math.floor(values.length / 2)];
    return {
        from: built ? "dist" : "source",
        pulumiMs: round(mid(samples, (x) => x.pulumiMs).pulumiMs),
        herdMs: round(mid(samples, (x) => x.herdMs).herdMs),
        providerSdks: [...new Set(samples.flatMap((x) => x.providerSdks))].sort(),
    };
}

async function main(): Promise<void> {
    await checkEquivalence();
    const imported = measureImport();
    console.log(`herd's program runs from ${imported.from === "dist" ? "the built package (dist), as a user's program loads it" : "the sources through tsx (dist is missing or older than them: npm run build)"}`);
    console.log(
        `import of the package (${imported.from}): ${fmt(imported.herdMs)} ms on top of @pulumi/pulumi's ${fmt(imported.pulumiMs)} ms ` +
            `(ratio ${(imported.herdMs / imported.pulumiMs).toFixed(3)}); provider SDKs loaded: ${imported.providerSdks.length > 0 ? imported.providerSdks.join(", ") : "none"}`,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-bench-"));
    const cases: { backend: string; size: number; template: string }[] = [];
    for (const size of sizes) {
        const file = path.join(dir, `openstack-${size}.json`);
        fs.writeFileSync(file, JSON.stringify(openstackTemplate(size)));
        cases.push({ backend: "openstack", size, template: file });
    }
    if (kubernetesSize > 0) {
        const file = path.join(dir, `kubernetes-${kubernetesSize}.json`);
        fs.writeFileSync(file, JSON.stringify(await kubernetesTemplate(kubernetesSize)));
        cases.push({ backend: "kubernetes", size: kubernetesSize, template: file });
    }
    const rows: Row[] = [];
    for (const c of cases) {
        const herd: Sample[] = [];
        const baseline: Sample[] = [];
        // Alternate the two so that a slow moment of the machine hits both alike.
        for (let i = 0; i < runs; i++) {
            herd.push(runCase("herd", c.backend, c.size));
            baseline.push(runCase("baseline", c.backend, c.size, c.template));
        }
        const h = median(herd);
        const b = median(baseline);
        const row: Row = {
            backend: c.backend,
            size: c.size,
            resources: { herd: h.resources, baseline: b.resources },
            wallMs: { herd: round(h.wallMs), baseline: round(b.wallMs) },
            loadMs: { herd: round(medianOf(herd.map((x) => x.loadMs))), baseline: round(medianOf(baseline.map((x) => x.loadMs))) },
            perMemberUs: { herd: round((h.wallMs * 1000) / c.size), baseline: round((b.wallMs * 1000) / c.size) },
            peakRssMb: { herd: round(h.peakRssMb), baseline: round(b.peakRssMb) },
            ratio: {
                wall: round(h.wallMs / b.wallMs, 3),
                withLoad: round(medianOf(herd.map((x) => x.loadMs + x.wallMs)) / medianOf(baseline.map((x) => x.loadMs + x.wallMs)), 3),
                rss: round(h.peakRssMb / b.peakRssMb, 3),
            },
        };
        rows.push(row);
        console.log(
            `${c.backend.padEnd(10)} ${String(c.size).padStart(5)} members: herd ${fmt(h.wallMs)} ms, baseline ${fmt(b.wallMs)} ms, ` +
                `ratio ${row.ratio.wall.toFixed(3)}; loading the modules first: herd ${fmt(row.loadMs.herd)} ms, baseline ${fmt(row.loadMs.baseline)} ms, ` +
                `ratio with them ${row.ratio.withLoad.toFixed(3)}; per member ${fmt(row.perMemberUs.herd)} µs (baseline ${fmt(row.perMemberUs.baseline)}); ` +
                `peak RSS ${fmt(h.peakRssMb)} MB (baseline ${fmt(b.peakRssMb)}, ratio ${row.ratio.rss.toFixed(3)})`,
        );
    }
    const expected = sizes.length + (kubernetesSize > 0 ? 1 : 0);
    if (rows.length !== expected) {
        throw new Error(`missing results: ${rows.length} of ${expected} cases`);
    }
    const at = (size: number) => rows.find((r) => r.backend === "openstack" && r.size === size);
    const targets: { target: string; value: number; met: boolean }[] = [];
    if (at(1000)) {
        targets.push({ target: "herd/baseline wall time at 1,000 members ≤ 1.10", value: at(1000)!.ratio.wall, met: at(1000)!.ratio.wall <= 1.1 });
    }
    if (at(10)) {
        // The whole program: zod and yaml load during the evaluation (with the first stack config
        // checked), so the evaluation alone would leave part of herd's loading out.
        targets.push({ target: "herd/baseline at 10 members, loading and evaluation ≤ 1.30", value: at(10)!.ratio.withLoad, met: at(10)!.ratio.withLoad <= 1.3 });
    }
    if (at(100) && at(5000)) {
        const linear = at(5000)!.perMemberUs.herd / at(100)!.perMemberUs.herd;
        targets.push({ target: "time per member at 5,000 ≤ 1.3 × at 100", value: round(linear, 3), met: linear <= 1.3 });
    }
    if (at(5000)) {
        targets.push({ target: "peak RSS at 5,000 members ≤ 1.10 × baseline", value: at(5000)!.ratio.rss, met: at(5000)!.ratio.rss <= 1.1 });
    }
    for (const t of targets) {
        console.log(`${t.met ? "met    " : "MISSED "} ${t.target}: ${t.value}`);
    }
    const report = {
        machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGb: round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
        runs,
        import: imported,
        rows,
        targets,
    };
    fs.writeFileSync(path.resolve(root, flags.out), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${flags.out}`);
}

function medianOf(values: readonly number[]): number {
    return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

function round(value: number, digits = 1): number {
    return Number(value.toFixed(digits));
}

function fmt(value: number): string {
    return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

main().catch((err) => {
    console.error((err as Error).message);
    process.exit(1);
});
