import { spawn } from "node:child_process";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { Command, Option } from "commander";
import { type ApplyBatch, applyBatches, type BatchSession, nameOfUrn, type StateResource } from "../fleet/batches";
import type { ApplyJob, ApplyJobResult } from "./applyWorker";
import { CliError, CliIo } from "./io";
import { batchedBackends } from "./preflight";
import { locateProject, readStackText, stackConfigOf } from "./project";

export type { StateResource } from "../fleet/batches";

/** Where and how {@link applyStack} works. */
export interface ApplyOptions {
    readonly projectDir: string;
    readonly stack: string;
    /** Only this fleet's batches; the final whole `up` is left out. @default every fleet whose backend herd batches (OpenStack, Docker) */
    readonly fleet?: string;
    /** Longest wait for a batch's new members to be ACTIVE and in their pool, in ms. @default 5 minutes */
    readonly waitMs?: number;
    /** Environment of the engine and of the cloud (`OS_*`). @default the process's */
    readonly env?: NodeJS.ProcessEnv;
    /** Prints a line of progress. */
    readonly say: (line: string) => void;
    /** Runs one `pulumi up`. @default the Automation API in a process of its own (applyWorker) */
    readonly up?: (job: ApplyJob) => Promise<ApplyJobResult>;
    /** The stack's state. @default `pulumi stack export` through the Automation API */
    readonly state?: () => Promise<readonly StateResource[]>;
}

/**
 * Applies the stack's change one batch at a time: the preflight (refusing a change whose peak
 * does not fit), a targeted `up` per batch of replaced members — so each batch's old members are
 * deleted before the next batch starts, and the peak is one batch extra — each followed by a
 * bounded wait until the new members are ACTIVE and in their load balancer pool, then a whole
 * `up` for the rest. Stops at the first batch that fails: the batches before it are applied,
 * the members after it still run the release they ran, and the fleet still serves.
 *
 * @throws CliError on a refusal or a failed batch, with the numbers and what is left
 */
export async function applyStack(options: ApplyOptions): Promise<void> {
    const env = options.env ?? process.env;
    const project = locateProject({ stack: options.stack, dir: options.projectDir }, options.projectDir);
    const backends = batchedBackends(stackConfigOf(readStackText(project), project.stackFileName), project);
    const names = backends.flatMap((b) => b.fleets.map((f) => f.name));
    if (options.fleet !== undefined && !names.includes(options.fleet)) {
        const kinds = backends.map((b) => b.batches.title).join(" and ");
        throw new CliError(`unknown fleet "${options.fleet}" in stack "${options.stack}": herd apply batches ${kinds} fleets; ${names.length > 0 ? `they are ${names.join(", ")}` : "it has none"}`);
    }
    const resources = await (options.state ?? (() => exportState(project.dir, options.stack, env)))();
    // Each backend reads its change and checks it (OpenStack: the peak against the quota) before any batch.
    const sessions = new Map<string, BatchSession>();
    for (const { batches, fleets, settings } of backends) {
        const applied = fleets.filter((f) => options.fleet === undefined || f.name === options.fleet);
        if (applied.length === 0) {
            continue;
        }
        const session = await batches.open({ stack: options.stack, fleets: applied, state: resources, env, ...(settings === undefined ? {} : { settings }) });
        if (session.report !== undefined) {
            options.say(session.report);
        }
        if (session.problems.length > 0) {
            throw new CliError(`refused: stack ${options.stack} cannot take this change, even one batch at a time:\n${session.problems.map((p) => `  - ${p}`).join("\n")}`);
        }
        applied.forEach((f) => sessions.set(f.name, session));
    }
    const up = options.up ?? ((job: ApplyJob) => upInWorker(job, env));
    const batches = applyBatches([...new Set(sessions.values())].flatMap((session) => session.changes));
    for (const batch of batches) {
        const what = `fleet ${batch.fleet}, batch ${batch.index} of ${batch.of} (slot${batch.slots.length === 1 ? "" : "s"} ${batch.slots.join(", ")})`;
        const session = sessions.get(batch.fleet) as BatchSession;
        const targets = session.targets(batch.fleet, batch.slots);
        options.say(`${what}: pulumi up --target ${targets.map(nameOfUrn).join(" ")}`);
        try {
            const result = await up({ projectDir: project.dir, stack: options.stack, targets });
            options.say(`${what}: ${changeText(result.changes)}`);
            const settled = await session.settle?.(batch.fleet, batch.slots, options.waitMs ?? 5 * 60_000);
            if (settled !== undefined) {
                options.say(`${what}: ${settled}`);
            }
        } catch (err) {
            throw failedBatch(options.stack, what, err as Error, batches.slice(batches.indexOf(batch) + 1));
        }
    }
    if (options.fleet !== undefined) {
        options.say(`fleet ${options.fleet} applied batch by batch; new or removed slots and other fleets are left to herd apply --stack ${options.stack}`);
        return;
    }
    options.say("the rest of the change: pulumi up");
    const result = await up({ projectDir: project.dir, stack: options.stack }).catch((err: Error) => {
        throw new CliError(`the final pulumi up failed after every batch was applied: ${err.message}`);
    });
    options.say(`done: ${changeText(result.changes)}`);
}

/** What `herd apply` says when a batch fails: where it stopped, and what still runs its release. */
function failedBatch(stack: string, what: string, err: Error, after: readonly ApplyBatch[]): CliError {
    const left = after.flatMap((b) => b.slots.map((slot) => `${b.fleet}-${slot}`));
    return new CliError(
        `${what} failed, stopped there: ${err.message}\n` +
            `The batches before it are applied; ${left.length > 0 ? `${left.join(", ")} still run their release, and ` : ""}` +
            `the members of this batch that were not replaced still serve. Fix the cause, then run herd apply --stack ${stack} again.`,
    );
}

/** The engine's counts, in words: `2 created, 2 replaced, 10 unchanged`. */
function changeText(changes: Record<string, number>): string {
    const words: Record<string, string> = { create: "created", replace: "replaced", update: "updated", delete: "deleted", same: "unchanged" };
    const parts = Object.entries(changes)
        .filter(([, n]) => n > 0)
        .map(([op, n]) => `${n} ${words[op] ?? op}`);
    return parts.length > 0 ? parts.join(", ") : "no change";
}

/** The stack's resources, from `pulumi stack export`; none when the stack has never been deployed. */
async function exportState(projectDir: string, stack: string, env: NodeJS.ProcessEnv): Promise<StateResource[]> {
    const workspace = await LocalWorkspace.create({ workDir: projectDir, envVars: stringsOf(env) });
    const deployment = await workspace.exportStack(stack);
    return (deployment.deployment?.resources ?? []) as StateResource[];
}

function stringsOf(env: NodeJS.ProcessEnv): Record<string, string> {
    return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Runs an {@link ApplyJob} in a process of its own (see applyWorker). */
function upInWorker(job: ApplyJob, env: NodeJS.ProcessEnv): Promise<ApplyJobResult> {
    const worker = path.join(__dirname, `applyWorker${path.extname(__filename)}`);
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [...process.execArgv, worker, JSON.stringify(job)], { cwd: job.projectDir, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
        child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-20_000)));
        child.on("error", reject);
        child.on("exit", (code, signal) => {
            if (code === 0) {
                resolve(JSON.parse(stdout.trim().split("\n").pop() as string) as ApplyJobResult);
                return;
            }
            const errors = stderr.split("\n").filter((line) => /error|refused|exceeded|No valid host/i.test(line)).slice(-4);
            reject(new Error(`pulumi up ${signal ?? `exited ${code}`}: ${(errors.length > 0 ? errors : stderr.trim().split("\n").slice(-3)).map((l) => l.trim()).join(" | ")}`));
        });
    });
}

interface ApplyFlags {
    readonly stack: string;
    readonly fleet?: string;
    readonly dir?: string;
    readonly wait: string;
}

/** `herd apply`: a release change one batch at a time, so the peak is one batch extra. */
export function addApplyCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    cli.command("apply")
        .summary("apply a stack's change one batch at a time, so it never holds more than one batch extra")
        .description(
            "run a targeted pulumi up per batch of replaced members of the fleets herd batches — OpenStack servers and Docker containers — " +
                "(each batch's old members are deleted before the next batch starts), then a pulumi up for the rest. " +
                "OpenStack fleets are checked first: what the change needs at its peak against the project's quota and compute hosts " +
                "(Nova's limits when OS_* reach the cloud, else herd:openstack.quota and computeHosts), and each batch waits until its new " +
                "servers are ACTIVE and in their pool. Stops at the first batch that fails, with the fleet still serving",
        )
        .requiredOption("-s, --stack <name>", "the stack (reads Pulumi.<name>.yaml)")
        .option("--fleet <name>", "apply this fleet's batches only (no final pulumi up)")
        .addOption(new Option("--wait <seconds>", "longest wait for a batch's new OpenStack servers to be ACTIVE and in their pool").default("300"))
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .action(async (flags: ApplyFlags) => {
            const wait = Number(flags.wait);
            if (!Number.isInteger(wait) || wait < 1) {
                throw new CliError(`--wait = ${JSON.stringify(flags.wait)}: expected a whole number of seconds ≥ 1`);
            }
            await applyStack({
                projectDir: path.resolve(io.cwd, flags.dir ?? "."),
                stack: flags.stack,
                ...(flags.fleet === undefined ? {} : { fleet: flags.fleet }),
                waitMs: wait * 1000,
                say: (line) => io.stdout(`${line}\n`),
            });
            exit(0);
        });
}
