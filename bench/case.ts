/**
 * One benchmark case, in a process of its own: evaluates herd's program (or the plain baseline)
 * under the test kit's mocks and prints one JSON line with wall time and peak RSS.
 *
 * usage: node --import tsx bench/case.ts <herd|baseline> <openstack|kubernetes> <size> [template.json]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { runProgram } from "../components/testing";
import type * as KubernetesBaseline from "./baseline-kubernetes";
import type * as OpenStackBaseline from "./baseline-openstack";
import { kubernetesFleets, openstackFleets } from "./fleet";

const [, , kind, backend, sizeText, templateFile] = process.argv;
const size = Number(sizeText);
const root = path.resolve(__dirname, "..");

async function main(): Promise<void> {
    // Pulumi records a stack trace for every resource; the CLI evaluates with source maps off too.
    process.setSourceMapsEnabled(false);
    const template = templateFile ? JSON.parse(fs.readFileSync(templateFile, "utf8")) : undefined;
    const start = performance.now();
    let resources: number;
    if (kind === "herd") {
        const fleets = backend === "openstack" ? openstackFleets(size) : kubernetesFleets(size);
        process.env.HERD_PROJECT_DIR = root;
        const run = await runProgram({ program: path.join(root, "index.ts"), projectDir: root, stack: "bench", config: { "herd:fleets": fleets } });
        resources = run.resources.length;
    } else {
        // Each baseline loads only its own provider SDK, as a plain program would.
        const program =
            backend === "openstack"
                ? (require("./baseline-openstack") as typeof OpenStackBaseline).openstackBaseline.bind(undefined, template)
                : (require("./baseline-kubernetes") as typeof KubernetesBaseline).kubernetesBaseline.bind(undefined, template);
        const run = await runProgram({
            program,
            projectDir: root,
            stack: "bench",
            config: {},
        });
        resources = run.resources.length;
    }
    const wallMs = performance.now() - start;
    process.stdout.write(
        `${JSON.stringify({ kind, backend, size, resources, wallMs, peakRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
    );
}

main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
});
