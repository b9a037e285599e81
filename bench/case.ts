/**
 * One benchmark case, in a process of its own: evaluates herd's program (`stackProgram`, from the
 * built package when it is current) or the plain baseline
 * under the test kit's mocks and prints one JSON line with the time to load its modules, the wall
 * time of the evaluation, and peak RSS.
 *
 * usage: node --import tsx bench/case.ts <herd|baseline> <openstack|kubernetes> <size> [template.json]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type * as Herd from "../components";
import type * as Testing from "../components/testing";
import type * as KubernetesBaseline from "./baseline-kubernetes";
import type * as OpenStackBaseline from "./baseline-openstack";
import { builtEntry } from "./entry";
import { kubernetesFleets, openstackFleets } from "./fleet";

const [, , kind, backend, sizeText, templateFile] = process.argv;
const size = Number(sizeText);
const root = path.resolve(__dirname, "..");

async function main(): Promise<void> {
    // Pulumi records a stack trace for every resource; the CLI evaluates with source maps off too.
    process.setSourceMapsEnabled(false);
    const template = templateFile ? JSON.parse(fs.readFileSync(templateFile, "utf8")) : undefined;
    // First what the program loads (herd's package, or the baseline's module, and the backend's
    // provider SDK, which both load), timed apart from the evaluation that follows.
    // The Pulumi SDK, which every program loads, before the timing (the bench's import line gives its cost).
    require("@pulumi/pulumi");
    // Which build of herd to load is the bench's choice, made before the timing: a user's program
    // has no such check to make.
    const entry = kind === "herd" ? builtEntry(root) : undefined;
    const loadStart = performance.now();
    const sdk = backend === "openstack" ? "@pulumi/openstack" : "@pulumi/kubernetes";
    require(sdk);
    let program: () => unknown;
    let config: Record<string, unknown> = {};
    if (kind === "herd") {
        // herd's program (index.ts is this one call), from the built package as a user's program
        // loads it, when it is built and current; else from the sources (bench/run.ts says which).
        const { stackProgram } = (entry ? require(entry) : require("../components")) as typeof Herd;
        program = () => stackProgram({ projectDir: root });
        config = { "herd:fleets": backend === "openstack" ? openstackFleets(size) : kubernetesFleets(size) };
    } else {
        // Each baseline loads only its own provider SDK, as a plain program would.
        program =
            backend === "openstack"
                ? (require("./baseline-openstack") as typeof OpenStackBaseline).openstackBaseline.bind(undefined, template)
                : (require("./baseline-kubernetes") as typeof KubernetesBaseline).kubernetesBaseline.bind(undefined, template);
    }
    const loadMs = performance.now() - loadStart;
    // The test kit loads after the timing and loads neither zod nor yaml itself (the project is
    // named, so it reads no Pulumi.yaml): what herd's program loads counts in herd's figures, as it
    // does for a program that runs alone.
    const { runProgram } = require("../components/testing") as typeof Testing;
    const start = performance.now();
    const run = await runProgram({ program, projectDir: root, project: "herd", stack: "bench", config });
    const resources = run.resources.length;
    const wallMs = performance.now() - start;
    process.stdout.write(
        `${JSON.stringify({ kind, backend, size, resources, loadMs, wallMs, peakRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
    );
}

main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
});
