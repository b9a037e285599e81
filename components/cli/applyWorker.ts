/**
 * One `pulumi up` of `herd apply` through the Automation API, in a process of its own: the
 * program is loaded fresh for every run (Node.js caches modules, so a second run in one process
 * would register nothing and delete the stack's resources).
 *
 *     node applyWorker.js '{"projectDir":"/srv/herd","stack":"prod","targets":["urn:…"]}'
 *
 * With `targets`, only those resources are updated (a batch's members, their pool members and
 * volume attachments): the engine deletes what it replaced at the end of the `up`, so the batch's
 * old members are gone before the next batch starts. The program runs with `HERD_APPLY=batches`,
 * so that its own preflight holds the change against the peak of a batch, not of a whole `up`.
 * The engine's output goes to standard error; the last line of standard output is a JSON summary.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { parse } from "yaml";
import { APPLY_VARIABLE } from "../fleet/batches";
import { runWorker } from "../core/worker";

/** What the worker is asked to do. */
export interface ApplyJob {
    readonly projectDir: string;
    readonly stack: string;
    /** URNs to update; every resource when absent. */
    readonly targets?: readonly string[];
}

/** What the worker reports: the engine's count of resources per operation. */
export interface ApplyJobResult {
    readonly changes: Record<string, number>;
}

async function main(job: ApplyJob): Promise<ApplyJobResult> {
    const project = parse(fs.readFileSync(path.join(job.projectDir, "Pulumi.yaml"), "utf8")) as { name: string; main?: string };
    const program = path.resolve(job.projectDir, project.main ?? ".");
    process.env[APPLY_VARIABLE] = "batches";
    const stack = await LocalWorkspace.selectStack(
        {
            stackName: job.stack,
            projectName: project.name,
            // As the Node.js language host loads a program: a default export or a function is called.
            program: async () => {
                let exported = require(program) as Record<string, unknown> | (() => unknown);
                if (typeof exported === "object" && exported !== null && "default" in exported) {
                    exported = exported.default as typeof exported;
                }
                return (typeof exported === "function" ? await exported() : exported) as Record<string, unknown> | void;
            },
        },
        { workDir: job.projectDir },
    );
    const result = await stack.up({ ...(job.targets ? { target: [...job.targets] } : {}), onOutput: (out) => process.stderr.write(out) });
    return { changes: result.summary.resourceChanges ?? {} };
}

if (require.main === module) {
    runWorker(main);
}
