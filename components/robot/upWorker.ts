/**
 * One `pulumi up` of a stack through the Automation API, in a process of its own: the program is
 * loaded fresh for every run (a long-running robot cannot load it twice in one process: Node.js
 * caches modules, and a second run would register nothing and delete the stack's resources).
 *
 *     node upWorker.js '{"projectDir":"/srv/herd","stack":"prod","member":"web-3"}'
 *
 * With `member`, the up replaces that resource alone (`--replace` and `--target` its URN, and
 * updates what consumes its outputs, such as a load balancer pool member); without, it is a
 * whole `pulumi up`. The engine's output goes to standard error; the last line of standard output
 * is a JSON summary. The engine takes the stack's lock: a concurrent `pulumi up` fails, not both.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { parse } from "yaml";
import { registerTypeScript } from "../cli/evaluate";
import { runWorker } from "../core/worker";

/** What the worker is asked to do. */
export interface UpJob {
    readonly projectDir: string;
    readonly stack: string;
    /** The Pulumi resource name of the member to replace, `${fleet}-${slot}`. */
    readonly member?: string;
}

/** What the worker reports. */
export interface UpResult {
    /** The URN replaced, with `member`. */
    readonly urn?: string;
    /** The engine's count of resources per operation. */
    readonly changes: Record<string, number>;
}

/** Loads the program inside the stack, as the Node.js language host does (a default export or a function is called). */
async function runProgram(main: string): Promise<Record<string, unknown> | void> {
    let exported = require(main) as Record<string, unknown> | ((...args: unknown[]) => unknown);
    if (typeof exported === "object" && exported !== null && "default" in exported) {
        exported = exported.default as typeof exported;
    }
    return (typeof exported === "function" ? await exported() : exported) as Record<string, unknown> | void;
}

/** The URN of the custom resource named `member` in an exported deployment; throws unless exactly one. */
export function memberUrn(resources: readonly { urn: string; custom?: boolean }[], member: string): string {
    const found = resources.filter((resource) => resource.custom && resource.urn.split("::").pop() === member);
    if (found.length !== 1) {
        throw new Error(found.length === 0 ? `the stack has no resource named ${member}` : `the stack has ${found.length} resources named ${member}: ${found.map((r) => r.urn).join(", ")}`);
    }
    return found[0].urn;
}

async function main(job: UpJob): Promise<UpResult> {
    const project = parse(fs.readFileSync(path.join(job.projectDir, "Pulumi.yaml"), "utf8")) as { name: string; main?: string };
    const program = path.resolve(job.projectDir, project.main ?? ".");
    // The installed CLI runs this file without a loader: a program in TypeScript needs one, as `pulumi up` has.
    const entry = fs.statSync(program).isDirectory() ? path.join(program, "index.ts") : program;
    if (fs.existsSync(entry)) {
        registerTypeScript(entry);
    }
    const stack = await LocalWorkspace.selectStack(
        { stackName: job.stack, projectName: project.name, program: () => runProgram(program) },
        { workDir: job.projectDir },
    );
    const onOutput = (out: string) => process.stderr.write(out);
    if (job.member === undefined) {
        const result = await stack.up({ onOutput });
        return { changes: result.summary.resourceChanges ?? {} };
    }
    const urn = memberUrn((await stack.exportStack()).deployment?.resources ?? [], job.member);
    const result = await stack.up({ replace: [urn], target: [urn], targetDependents: true, onOutput });
    return { urn, changes: result.summary.resourceChanges ?? {} };
}

if (require.main === module) {
    runWorker(main);
}
