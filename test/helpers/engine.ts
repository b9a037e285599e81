/**
 * A copy of the project driven through the real Pulumi CLI and engine (scripts/engine.sh), with
 * its state in a local file backend beside it and its own git repository, as the engine and
 * cluster tests use it. The program is served by scripts/pulumi.ts.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";

/** The repository root. */
export const REPO = path.resolve(__dirname, "..", "..");

/** What a command printed, and how it ended. */
export interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
}

/** One step of the engine's plan, as `pulumi preview --json` prints it. */
export interface Step {
    op: string;
    urn: string;
    diffReasons?: string[];
    replaceReasons?: string[];
    detailedDiff?: Record<string, { kind: string; inputDiff?: boolean }> | null;
    newState?: { type: string; inputs?: Record<string, unknown> };
    oldState?: { type: string; inputs?: Record<string, unknown> };
}

/** The engine's plan, as `pulumi preview --json` prints it. */
export interface Plan {
    steps?: Step[];
    changeSummary?: Record<string, number>;
    diagnostics?: { message: string; severity: string }[];
}

/** Runs a bash script of the repository, standard error passed through; returns its last line of output. */
export function script(name: string, ...args: string[]): string {
    const result = spawnSync("bash", [path.join(REPO, "scripts", name), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (result.status !== 0) {
        throw new Error(`scripts/${name} ${args.join(" ")} exited ${result.status}`);
    }
    return result.stdout.trim().split("\n").pop() as string;
}

/** The engine's folder (scripts/engine.sh), built here if the caller did not say. */
export function engineDir(): string {
    return process.env.HERD_ENGINE_DIR || script("engine.sh");
}

/** Throws with the command's output unless it succeeded. */
export function ok(run: Run, what: string): Run {
    if (run.status !== 0) {
        throw new Error(`${what} exited ${run.status}\n--- stdout\n${run.stdout.slice(-20000)}\n--- stderr\n${run.stderr.slice(-20000)}`);
    }
    return run;
}

const key = (urn: string) => urn.split("::").slice(2).join("::");

/** URN → the engine's operations on it (a replacement is several steps: create-replacement, replace, delete-replaced). */
export function opsByUrn(plan: Plan): Map<string, string[]> {
    const ops = new Map<string, string[]>();
    for (const step of plan.steps ?? []) {
        ops.set(step.urn, [...(ops.get(step.urn) ?? []), step.op]);
    }
    return ops;
}

/** The plan, one line per resource; for a change, what differs (the engine's detailed diff) and what forces a replacement. */
export function summary(plan: Plan): string {
    const details = new Map<string, string>();
    for (const step of plan.steps ?? []) {
        if (step.op !== "same") {
            const diff = Object.entries(step.detailedDiff ?? {}).map(([property, d]) => `${property} (${d.kind})`);
            const replace = step.replaceReasons?.length ? `; replaced for ${step.replaceReasons.join(", ")}` : "";
            details.set(step.urn, `: ${diff.join(", ") || (step.diffReasons ?? []).join(", ")}${replace}`);
        }
    }
    return [...opsByUrn(plan)].map(([urn, ops]) => `  ${ops.join("+")} ${key(urn)}${details.get(urn) ?? ""}`).join("\n");
}

/** The steps of a plan that change something. */
export function changes(plan: Plan): Step[] {
    return (plan.steps ?? []).filter((step) => step.op !== "same");
}

/** A copy of the project in a temporary folder, with its own git repository, state and stack. */
export class EngineProject {
    /** The temporary folder: `project/`, `state/`, and whatever a test adds. */
    readonly work: string;
    /** The copy of the project. */
    readonly project: string;
    /** The environment every command runs with. */
    readonly env: NodeJS.ProcessEnv;

    /**
     * Copies the project (what a checkout has, with the installed node_modules linked in) and
     * sets up an environment with the engine first on the PATH, no ambient cloud or cluster
     * credentials, and git identity for commits.
     *
     * @param engine the engine's folder (scripts/engine.sh)
     * @param env more environment, e.g. `KUBECONFIG`
     */
    constructor(engine: string, env: NodeJS.ProcessEnv = {}) {
        this.work = fs.mkdtempSync(path.join(os.tmpdir(), "herd-engine-"));
        this.project = path.join(this.work, "project");
        fs.mkdirSync(path.join(this.work, "state"));
        const topLevel = new Set(["dist", ".herd"]);
        fs.cpSync(REPO, this.project, {
            recursive: true,
            filter: (source) => {
                const name = path.basename(source);
                return name !== "node_modules" && name !== ".git" && !(topLevel.has(name) && path.dirname(source) === REPO);
            },
        });
        fs.symlinkSync(path.join(REPO, "node_modules"), path.join(this.project, "node_modules"));
        this.env = { ...process.env };
        delete this.env.KUBECONFIG;
        delete this.env.PULUMI_ACCESS_TOKEN;
        for (const name of Object.keys(this.env)) {
            if (name.startsWith("OS_")) {
                delete this.env[name];
            }
        }
        Object.assign(this.env, {
            PATH: `${path.join(engine, "bin")}${path.delimiter}${process.env.PATH}`,
            PULUMI_HOME: path.join(engine, "home"),
            PULUMI_BACKEND_URL: `file://${path.join(this.work, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "herd engine test",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_SKIP_CONFIRMATIONS: "true",
            // No kubeconfig or cloud credentials to find by accident: ~ is the empty work folder.
            HOME: this.work,
            GIT_AUTHOR_NAME: "herd",
            GIT_AUTHOR_EMAIL: "herd@example.org",
            GIT_COMMITTER_NAME: "herd",
            GIT_COMMITTER_EMAIL: "herd@example.org",
            GIT_CONFIG_NOSYSTEM: "1",
            ...env,
        });
    }

    /** git in the copy; throws on failure. */
    git(...args: string[]): string {
        const result = spawnSync("git", args, { cwd: this.project, encoding: "utf8", env: this.env });
        if (result.status !== 0) {
            throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
        }
        return result.stdout;
    }

    /** The real CLI on the copy, with the program served by scripts/pulumi.ts. */
    pulumi(...args: string[]): Run {
        const result = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "scripts", "pulumi.ts"), ...args], {
            cwd: this.project,
            env: this.env,
            encoding: "utf8",
            maxBuffer: 256 * 1024 * 1024,
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    /** The real CLI alone, for commands that do not run the program. */
    cli(...args: string[]): Run {
        const result = spawnSync("pulumi", args, { cwd: this.project, env: this.env, encoding: "utf8" });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    /** The `herd` command line, as a user runs it in the project. */
    herd(...args: string[]): Run {
        const result = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "components", "cli", "main.ts"), ...args], {
            cwd: this.project,
            env: this.env,
            encoding: "utf8",
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    /** `pulumi preview --json` of a stack, every resource listed. */
    preview(stack: string, ...args: string[]): Plan {
        const run = ok(this.pulumi("preview", "--stack", stack, "--json", "--show-sames", ...args), `pulumi preview ${args.join(" ")}`);
        return JSON.parse(run.stdout) as Plan;
    }

    /** `pulumi up` of a stack, without a preview. */
    up(stack: string, ...args: string[]): Run {
        return ok(this.pulumi("up", "--stack", stack, "--yes", "--skip-preview", ...args), `pulumi up --stack ${stack}`);
    }

    /** The path of a stack's file in the copy. */
    stackFile(stack: string): string {
        return path.join(this.project, `Pulumi.${stack}.yaml`);
    }

    /** The stack file's config, parsed. */
    config(stack: string): Record<string, unknown> {
        return parse(fs.readFileSync(this.stackFile(stack), "utf8")).config;
    }

    /**
     * Creates the stack with a passphrase secrets provider and commits the copy. `stack init`
     * adds the passphrase's salt to the stack file and reformats it: the file is kept as written,
     * plus the salt, so that later commits change only what they say.
     */
    initStack(stack: string): void {
        const file = this.stackFile(stack);
        const written = fs.readFileSync(file, "utf8");
        ok(this.cli("stack", "init", stack, "--secrets-provider", "passphrase"), "pulumi stack init");
        const salt = parse(fs.readFileSync(file, "utf8")).encryptionsalt as string | undefined;
        // A stack file that carries its salt already (the playground's) is left as it is.
        const carried = parse(written)?.encryptionsalt !== undefined;
        fs.writeFileSync(file, salt && !carried ? `${written}encryptionsalt: ${salt}\n` : written);
        this.git("init", "--quiet", "--initial-branch=main");
        this.git("add", "--all");
        this.git("commit", "--quiet", "-m", `the project, with the ${stack} stack`);
    }

    /** Removes the copy, unless HERD_ENGINE_KEEP is set (then says where it is). */
    remove(): void {
        if (process.env.HERD_ENGINE_KEEP) {
            console.log(`kept ${this.work}`);
            return;
        }
        fs.rmSync(this.work, { recursive: true, force: true });
    }
}

/** The cluster a test of the `local` stack runs against: its folder, its kubeconfig, and whether the test started it. */
export interface TestCluster {
    readonly dir: string;
    readonly kubeconfig: string;
    /** `true` when started here: the caller stops it (`cluster-up.sh stop dir`). */
    readonly owned: boolean;
}

/**
 * Gives the copy's `local` stack a cluster where its `herd:kubernetes.kubeconfig` points
 * (`.herd/playground/kubeconfig`): the one scripts/with-cluster.sh started (`HERD_CLUSTER_RUN`),
 * whose kubeconfig is copied there, or else one of its own, started in that folder.
 */
export function playgroundCluster(copy: EngineProject): TestCluster {
    const dir = path.join(copy.project, ".herd", "playground");
    const shared = process.env.HERD_CLUSTER_RUN;
    if (shared) {
        fs.mkdirSync(dir, { recursive: true });
        fs.copyFileSync(path.join(shared, "kubeconfig"), path.join(dir, "kubeconfig"));
    } else {
        script("cluster-up.sh", "start", dir);
    }
    return { dir, kubeconfig: path.join(dir, "kubeconfig"), owned: !shared };
}
