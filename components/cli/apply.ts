import { spawn } from "node:child_process";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { Command, Option } from "commander";
import { resolveDockerWorkload } from "../docker/spec";
import type { DockerWorkloadArgs } from "../docker/workload";
import type { ServerGroupArgs } from "../openstack";
import type { FleetChange, SlotServer } from "../openstack/peak";
import { formatPreflight, NovaClient, preflight } from "../openstack/preflight";
import type { ApplyJob, ApplyJobResult } from "./applyWorker";
import { CliError, CliIo } from "./io";
import { cloudView, fleetChanges, openstackStack } from "./preflight";
import { locateProject, readStackText, stackConfigOf } from "./project";

/** A resource of the stack's state, as `pulumi stack export` gives it. */
export interface StateResource {
    readonly urn: string;
    readonly type: string;
    readonly custom?: boolean;
    readonly inputs?: Record<string, unknown>;
}

const INSTANCE = "openstack:compute/instance:Instance";
/** A member's companions, replaced with it: its pool member (`${member}-lb`) and volume attachment (`${member}-data`). */
const COMPANIONS: Readonly<Record<string, string>> = { "-lb": "openstack:loadbalancer/member:Member", "-data": "openstack:compute/volumeAttach:VolumeAttach" };

const CONTAINER = "docker:index/container:Container";
const IMAGE = "docker:index/remoteImage:RemoteImage";

const nameOf = (urn: string) => urn.split("::").pop() as string;

/**
 * The changes of Docker fleets, slot by slot: a slot is replaced when its container's name
 * changes (it holds the generation and a hash of every setting, see resolveDockerWorkload).
 * No flavors: a Docker host has no quota to hold the peak against.
 */
export function dockerChanges(fleets: readonly { readonly name: string; readonly args: DockerWorkloadArgs }[], resources: readonly StateResource[], only?: string): FleetChange[] {
    const deployed = new Map(resources.filter((r) => r.type === CONTAINER).map((r) => [nameOf(r.urn), String(r.inputs?.name ?? "")]));
    return fleets
        .filter((f) => only === undefined || f.name === only)
        .map((f) => {
            const workload = resolveDockerWorkload(f.name, f.args);
            return {
                fleet: f.name,
                before: workload.members.filter((m) => deployed.has(m.resourceName)).map((m) => ({ slot: m.slot, generation: deployed.get(m.resourceName) as string, flavor: "" })),
                after: workload.members.map((m) => ({ slot: m.slot, generation: m.containerName, flavor: "" })),
                batch: workload.batch,
                createBeforeDelete: workload.order === "create-before-delete",
                antiAffinity: false,
            };
        });
}

/** The fleets' servers as the stack's state holds them: slot, generation and flavor of every member, by fleet. */
export function deployedServers(resources: readonly StateResource[]): Map<string, SlotServer[]> {
    const byFleet = new Map<string, SlotServer[]>();
    for (const resource of resources) {
        if (resource.type !== INSTANCE) {
            continue;
        }
        const inputs = resource.inputs ?? {};
        const metadata = (inputs.metadata ?? {}) as Record<string, string>;
        const fleet = metadata["herd-fleet"];
        const slot = Number(metadata["herd-slot"]);
        if (fleet === undefined || !Number.isInteger(slot)) {
            continue;
        }
        const flavor = String(inputs.flavorName ?? inputs.flavorId ?? "");
        byFleet.set(fleet, [...(byFleet.get(fleet) ?? []), { slot, generation: metadata["herd-generation"] ?? "", flavor }]);
    }
    return byFleet;
}

/** One targeted `up` of `herd apply`: replaced slots of one fleet, at most a batch of them. */
export interface ApplyBatch {
    readonly fleet: string;
    /** Counted from 1, within the fleet. */
    readonly index: number;
    /** The fleet's number of batches. */
    readonly of: number;
    readonly slots: readonly number[];
}

/** The batches of a change: each fleet's replaced slots (in slot order), `batch` at a time, one fleet after the other. */
export function applyBatches(changes: readonly FleetChange[]): ApplyBatch[] {
    return changes.flatMap((change) => {
        const before = new Map(change.before.map((s) => [s.slot, s.generation]));
        const replaced = change.after.filter((s) => before.has(s.slot) && before.get(s.slot) !== s.generation).map((s) => s.slot).sort((a, b) => a - b);
        const size = Math.max(1, change.batch);
        const count = Math.ceil(replaced.length / size);
        return Array.from({ length: count }, (_, i) => ({ fleet: change.fleet, index: i + 1, of: count, slots: replaced.slice(i * size, (i + 1) * size) }));
    });
}

/**
 * The URNs a batch's targeted `up` updates: each slot's member and its companions, as the state
 * has them; for a Docker member, also the image its new release pulls (a resource the state may
 * not hold yet, named beside the container, which the `up` creates).
 *
 * @param images a Docker member's image resource name, by member resource name (`web-3`)
 */
export function batchTargets(resources: readonly StateResource[], batch: ApplyBatch, images: ReadonlyMap<string, string> = new Map()): string[] {
    const wanted = new Map<string, string>();
    for (const slot of batch.slots) {
        const member = `${batch.fleet}-${slot}`;
        wanted.set(member, INSTANCE);
        for (const [suffix, type] of Object.entries(COMPANIONS)) {
            wanted.set(`${member}${suffix}`, type);
        }
    }
    const targets: string[] = [];
    for (const resource of resources) {
        const name = nameOf(resource.urn);
        if (resource.custom !== false && (wanted.get(name) === resource.type || (resource.type === CONTAINER && wanted.has(name)))) {
            targets.push(resource.urn);
            const image = resource.type === CONTAINER ? images.get(name) : undefined;
            if (image !== undefined) {
                const urn = resource.urn.replace(/docker:index\/container:Container::[^:]+$/, `${IMAGE}::${image}`);
                if (!targets.includes(urn)) {
                    targets.unshift(urn);
                }
            }
        }
    }
    return targets;
}

/** Where and how {@link applyStack} works. */
export interface ApplyOptions {
    readonly projectDir: string;
    readonly stack: string;
    /** Only this fleet's batches; the final whole `up` is left out. @default every OpenStack fleet */
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
    const stack = openstackStack(stackConfigOf(readStackText(project), project.stackFileName), project);
    const names = [...stack.fleets, ...stack.dockerFleets].map((f) => f.name);
    if (options.fleet !== undefined && !names.includes(options.fleet)) {
        throw new CliError(`unknown fleet "${options.fleet}" in stack "${options.stack}": herd apply batches OpenStack and Docker fleets; ${names.length > 0 ? `they are ${names.join(", ")}` : "it has none"}`);
    }
    const resources = await (options.state ?? (() => exportState(project.dir, options.stack, env)))();
    const changes = fleetChanges(stack, deployedServers(resources), options.fleet);
    const containers = dockerChanges(stack.dockerFleets, resources, options.fleet);
    const images = new Map(stack.dockerFleets.flatMap((f) => resolveDockerWorkload(f.name, f.args).members.map((m) => [m.resourceName, m.imageResourceName] as const)));
    const cloud = await cloudView(env);
    const checked = preflight(changes, "batches", stack.declared, cloud);
    options.say(formatPreflight(options.stack, checked));
    if (checked.problems.length > 0) {
        throw new CliError(`refused: stack ${options.stack} cannot take this change, even one batch at a time:\n${checked.problems.map((p) => `  - ${p.message}`).join("\n")}`);
    }
    const up = options.up ?? ((job: ApplyJob) => upInWorker(job, env));
    const args = new Map(stack.fleets.map((f) => [f.name, f.args]));
    const generations = new Map(changes.map((c) => [c.fleet, new Map(c.after.map((s) => [s.slot, s.generation]))]));
    const batches = applyBatches([...changes, ...containers]);
    for (const batch of batches) {
        const what = `fleet ${batch.fleet}, batch ${batch.index} of ${batch.of} (slot${batch.slots.length === 1 ? "" : "s"} ${batch.slots.join(", ")})`;
        const targets = batchTargets(resources, batch, images);
        options.say(`${what}: pulumi up --target ${targets.map(nameOf).join(" ")}`);
        try {
            const result = await up({ projectDir: project.dir, stack: options.stack, targets });
            options.say(`${what}: ${changeText(result.changes)}`);
            // A Docker member's create waits until it is healthy (the provider's `wait`).
            if (cloud && args.has(batch.fleet)) {
                const servers = batch.slots.map((slot) => `${batch.fleet}-${slot}-${generations.get(batch.fleet)?.get(slot)}`);
                await waitForMembers(cloud.client, options.stack, args.get(batch.fleet) as ServerGroupArgs, servers, options.waitMs ?? 5 * 60_000);
                options.say(`${what}: ${servers.join(", ")} ACTIVE${args.get(batch.fleet)?.loadBalancer ? " and in the pool" : ""}`);
            }
        } catch (err) {
            const left = batches.slice(batches.indexOf(batch) + 1).flatMap((b) => b.slots.map((slot) => `${b.fleet}-${slot}`));
            throw new CliError(
                `${what} failed, stopped there: ${(err as Error).message}\n` +
                    `The batches before it are applied; ${left.length > 0 ? `${left.join(", ")} still run their release, and ` : ""}` +
                    `the members of this batch that were not replaced still serve. Fix the cause, then run herd apply --stack ${options.stack} again.`,
            );
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

/**
 * Waits until the servers `names` are ACTIVE and, with a load balancer, their addresses are
 * ACTIVE members of the fleet's pool, none of them in ERROR; fails at once on a server in ERROR,
 * and after `waitMs`.
 */
async function waitForMembers(client: NovaClient, stack: string, args: ServerGroupArgs, names: readonly string[], waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    let status = "";
    for (;;) {
        const servers = (await client.stackServers(stack)).filter((s) => names.includes(s.name));
        const failed = servers.find((s) => s.status === "ERROR");
        if (failed) {
            throw new Error(`server ${failed.name} is in ERROR`);
        }
        const active = servers.filter((s) => s.status === "ACTIVE");
        status = `${active.length} of ${names.length} ACTIVE`;
        if (active.length === names.length) {
            if (!args.loadBalancer) {
                return;
            }
            const addresses = active.flatMap((s) => Object.values(s.addresses ?? {}).flatMap((list) => list.map((a) => a.addr)));
            const members = (await client.poolMembers(args.groupName ?? "")).filter((m) => addresses.includes(m.address));
            const broken = members.find((m) => m.provisioning_status === "ERROR" || m.operating_status === "ERROR");
            if (broken) {
                throw new Error(`pool member ${broken.address} is in ERROR`);
            }
            const ready = members.filter((m) => m.provisioning_status === "ACTIVE");
            status += `, ${ready.length} of ${names.length} ACTIVE in pool ${args.groupName}`;
            if (ready.length >= names.length) {
                return;
            }
        }
        if (Date.now() > deadline) {
            throw new Error(`after ${Math.round(waitMs / 1000)} s, ${status} (${names.join(", ")})`);
        }
        await sleep(2000);
    }
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
            "check what the change needs at its peak against the project's quota and compute hosts (Nova's limits when OS_* reach the cloud, " +
                "else herd:openstack.quota and computeHosts), then run a targeted pulumi up per batch of replaced OpenStack members " +
                "(each batch's old members are deleted before the next batch starts), waiting until the new members are ACTIVE and in their pool, " +
                "then a pulumi up for the rest. Stops at the first batch that fails, with the fleet still serving",
        )
        .requiredOption("-s, --stack <name>", "the stack (reads Pulumi.<name>.yaml)")
        .option("--fleet <name>", "apply this OpenStack fleet's batches only (no final pulumi up)")
        .addOption(new Option("--wait <seconds>", "longest wait for a batch's new members to be ACTIVE and in their pool").default("300"))
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
