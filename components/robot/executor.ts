import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileAtomic } from "../cli/atomicWrite";
import { rollbackStackFile } from "../cli/edit";
import { git, hasUncommittedChanges } from "../cli/git";
import { withFileLock } from "../cli/lock";
import type { FleetHeal } from "../fleet/backend";
import { fleetBackend } from "../fleet/backends";
import type { RobotFleet } from "./fleets";
import type { UpJob, UpResult } from "./upWorker";

/** A member to replace. */
export interface HealAction {
    readonly stack: string;
    readonly fleet: RobotFleet;
    /** The slot number, or on Kubernetes the pod. */
    readonly slot: string;
    /** The stack's `herd:<backend>` of the fleet's backend, validated, when set (how its heal reaches the cluster). */
    readonly settings?: unknown;
}

/** A fleet to roll back, and why (for the commit message). */
export interface RollbackAction {
    readonly stack: string;
    readonly fleet: RobotFleet;
    readonly mode: "commit" | "branch";
    readonly reason: string;
}

/** What an action did, in words, with the commit or branch a rollback wrote. */
export interface ActionOutcome {
    readonly reason: string;
    readonly commit?: string;
    readonly branch?: string;
}

/** Does what the robot decided. The engine's implementation is {@link EngineExecutor}; tests pass their own. */
export interface Executor {
    heal(action: HealAction): Promise<ActionOutcome>;
    rollback(action: RollbackAction): Promise<ActionOutcome>;
}

/** Where {@link EngineExecutor} works. */
export interface EngineExecutorOptions {
    /** The Pulumi project: `Pulumi.yaml`, the stack files, in a git work tree. */
    readonly projectDir: string;
    /** Environment of the engine and of kubectl. @default the process's */
    readonly env?: NodeJS.ProcessEnv;
    /** A rollback in `branch` mode pushes its branch to this remote. @default not pushed */
    readonly pushRemote?: string;
    /** Longest an action may take before it counts as failed, in ms. @default 30 minutes */
    readonly timeoutMs?: number;
    /** Runs a `pulumi up`. @default the Automation API in a process of its own (upWorker) */
    readonly up?: (job: UpJob) => Promise<UpResult>;
}

/** The Pulumi URN name of a slot's member, as every backend with a resource per slot names it. */
export function memberName(fleet: string, slot: string): string {
    return `${fleet}-${slot}`;
}

/**
 * Acts through the real tools: the Pulumi Automation API for a slot's member (a targeted replace,
 * so the state stays the engine's), the fleet's backend's heal for a member outside Pulumi's
 * state (a Kubernetes fleet's pods, evicted: see `FleetBackend.heal`), and git plus a whole
 * `pulumi up` for a rollback, so that the stack file in git still says what runs.
 */
export class EngineExecutor implements Executor {
    constructor(private readonly options: EngineExecutorOptions) {}

    async heal(action: HealAction): Promise<ActionOutcome> {
        const heal = fleetBackend(action.fleet.backend)?.heal as FleetHeal | undefined;
        if (heal) {
            const request = {
                fleet: action.fleet.name,
                member: action.slot,
                minHealthy: action.fleet.minHealthy,
                config: action.fleet.config ?? {},
                ...(action.settings === undefined ? {} : { settings: action.settings }),
                projectDir: this.options.projectDir,
                env: this.options.env ?? process.env,
            };
            return { reason: await heal.replace(request) };
        }
        const member = memberName(action.fleet.name, action.slot);
        const result = await this.up({ projectDir: this.options.projectDir, stack: action.stack, member });
        return { reason: `replaced ${result.urn ?? member} through pulumi up (${changeText(result.changes)})` };
    }

    async rollback(action: RollbackAction): Promise<ActionOutcome> {
        const dir = this.options.projectDir;
        const fileName = `Pulumi.${action.stack}.yaml`;
        const file = path.join(dir, fileName);
        const name = `${fileName} (stack "${action.stack}")`;
        const message = `Roll back fleet ${action.fleet.name} on stack ${action.stack}: ${action.reason}\n\nWritten by herd robot: every slot back on rollout.previous (rollout.members: 0).`;
        const written = await withFileLock(file, name, async () => {
            if (hasUncommittedChanges(dir, fileName)) {
                throw new Error(`${fileName} has uncommitted changes: the robot commits only its own change; roll back by hand`);
            }
            const text = fs.readFileSync(file, "utf8");
            const edit = rollbackStackFile(text, fileName, action.stack, action.fleet.name);
            checkIdentity(dir);
            if (action.mode === "branch") {
                return { branch: this.commitOnBranch(action, fileName, edit.text, message) };
            }
            writeFileAtomic(file, edit.text, { name, expected: text });
            const committed = git(dir, ["commit", "--quiet", "-m", message, "--", fileName]);
            if (committed.status !== 0) {
                // Nothing half done: the stack file goes back to what is committed.
                writeFileAtomic(file, text, { name, expected: edit.text });
                throw new Error(`git commit failed, ${fileName} is left as it was: ${committed.stderr}`);
            }
            return { commit: must(git(dir, ["rev-parse", "HEAD"]), "git rev-parse").trim() };
        });
        if (written.branch) {
            const pushed = this.options.pushRemote ? `, pushed to ${this.options.pushRemote}` : "";
            return { ...written, reason: `wrote the rollback of fleet ${action.fleet.name} on branch ${written.branch}${pushed}: merge it, then pulumi up` };
        }
        const result = await this.up({ projectDir: dir, stack: action.stack });
        return { ...written, reason: `committed ${written.commit?.slice(0, 12)} and ran pulumi up (${changeText(result.changes)})` };
    }

    /** Commits the new stack file on a new branch from HEAD, in a worktree of its own: the checkout is left as it is. */
    private commitOnBranch(action: RollbackAction, fileName: string, text: string, message: string): string {
        const dir = this.options.projectDir;
        const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
        const branch = `herd-robot/rollback-${action.stack}-${action.fleet.name}-${stamp}`;
        const prefix = must(git(dir, ["rev-parse", "--show-prefix"]), "git rev-parse").trim();
        const tree = fs.mkdtempSync(path.join(os.tmpdir(), "herd-robot-"));
        try {
            must(git(dir, ["worktree", "add", "--quiet", "-b", branch, tree, "HEAD"]), "git worktree add");
            fs.writeFileSync(path.join(tree, prefix, fileName), text);
            must(git(tree, ["commit", "--quiet", "-m", message, "--", path.join(prefix, fileName)]), "git commit");
            if (this.options.pushRemote) {
                must(git(dir, ["push", "--quiet", this.options.pushRemote, branch]), "git push");
            }
        } finally {
            git(dir, ["worktree", "remove", "--force", tree]);
            fs.rmSync(tree, { recursive: true, force: true });
        }
        return branch;
    }

    private up(job: UpJob): Promise<UpResult> {
        return this.options.up ? this.options.up(job) : this.upInWorker(job);
    }

    /** Runs {@link UpJob} in a process of its own (see upWorker). */
    private upInWorker(job: UpJob): Promise<UpResult> {
        const extension = path.extname(__filename);
        const worker = path.join(__dirname, `upWorker${extension}`);
        return new Promise((resolve, reject) => {
            const child = spawn(process.execPath, [...process.execArgv, worker, JSON.stringify(job)], {
                cwd: job.projectDir,
                env: this.options.env ?? process.env,
                stdio: ["ignore", "pipe", "pipe"],
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
            child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-20_000)));
            const timer = setTimeout(() => child.kill("SIGTERM"), this.options.timeoutMs ?? 30 * 60_000);
            child.on("error", reject);
            child.on("exit", (code, signal) => {
                clearTimeout(timer);
                if (code === 0) {
                    resolve(JSON.parse(stdout.trim().split("\n").pop() as string) as UpResult);
                    return;
                }
                const last = stderr.trim().split("\n").slice(-5).join(" | ");
                reject(new Error(`pulumi up of stack ${job.stack} failed (${signal ?? `exit ${code}`}): ${last}`));
            });
        });
    }
}

/**
 * Refuses a rollback before anything is written when git cannot say who commits it: a robot's
 * host needs an identity (user.name and user.email in git's config, or GIT_AUTHOR_* and
 * GIT_COMMITTER_*), which git would otherwise ask for only once the stack file is rewritten.
 */
function checkIdentity(dir: string): void {
    for (const who of ["GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"]) {
        const result = git(dir, ["var", who]);
        if (result.status !== 0) {
            throw new Error(
                `git has no identity to commit the rollback as (${result.stderr.split("\n").find((line) => line.trim() !== "")?.trim() ?? `git var ${who} failed`}): ` +
                    "set user.name and user.email in the robot's git config (or GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL in its environment); nothing was written",
            );
        }
    }
}

function must(result: { status: number; stdout: string; stderr: string }, what: string): string {
    if (result.status !== 0) {
        throw new Error(`${what} failed: ${result.stderr}`);
    }
    return result.stdout;
}

function changeText(changes: Record<string, number>): string {
    const parts = Object.entries(changes)
        .filter(([op]) => op !== "same")
        .map(([op, count]) => `${count} ${op}`);
    return parts.length > 0 ? parts.join(", ") : "no change";
}
