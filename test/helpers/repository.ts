import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../../components/cli";

const REPO = path.resolve(__dirname, "..", "..");
const PROGRAM = path.join(REPO, "index.ts");

export interface Result {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export const GIT_ENV = {
    ...process.env,
    GIT_AUTHOR_NAME: "herd test",
    GIT_AUTHOR_EMAIL: "herd@example.org",
    GIT_COMMITTER_NAME: "herd test",
    GIT_COMMITTER_EMAIL: "herd@example.org",
    GIT_CONFIG_NOSYSTEM: "1",
    HOME: os.tmpdir(),
};

export function git(dir: string, ...args: string[]): string {
    const result = spawnSync("git", args, { cwd: dir, encoding: "utf8", env: GIT_ENV });
    if (result.status !== 0) {
        throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
    }
    return result.stdout;
}

/** The folders of files the stacks name (user data, probe scripts). */
const ASSET_DIRS = ["cloud-init", "probes"];

/** Project files the program reads: stack files and asset folders (cloud-init, probes…), not code. */
function copyProject(to: string): void {
    for (const entry of fs.readdirSync(REPO, { withFileTypes: true })) {
        if (entry.isDirectory() ? ASSET_DIRS.includes(entry.name) : /^Pulumi(\..+)?\.yaml$/.test(entry.name)) {
            fs.cpSync(path.join(REPO, entry.name), path.join(to, entry.name), { recursive: true });
        }
    }
}

/**
 * Makes fresh repositories ({@link newRepository}) and removes them all after the mocha block it
 * is called in (or after the run, at the top level of a file).
 */
export function temporaryRepositories(): () => string {
    const made: string[] = [];
    after(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
    return () => {
        const dir = newRepository();
        made.push(dir);
        return dir;
    };
}

/** A fresh repository: a first commit without stack files, then one with the project's. */
export function newRepository(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herd-cli-"));
    git(dir, "init", "--quiet", "--initial-branch=main");
    fs.writeFileSync(path.join(dir, "README.md"), "fleets\n");
    git(dir, "add", "README.md");
    git(dir, "commit", "--quiet", "-m", "empty project");
    copyProject(dir);
    git(dir, "add", "--all");
    git(dir, "commit", "--quiet", "-m", "prod and dev fleets");
    return dir;
}

export async function herd(dir: string, ...argv: string[]): Promise<Result> {
    return herdWith(fs, dir, ...argv);
}

/** `herd …` in this process, with a file system of the test's (to inject write failures). */
export async function herdWith(files: typeof fs, dir: string, ...argv: string[]): Promise<Result> {
    let stdout = "";
    let stderr = "";
    const code = await run([...argv, "--dir", dir, "--program", PROGRAM], {
        stdout: (text) => (stdout += text),
        stderr: (text) => (stderr += text),
        cwd: dir,
        fs: files,
    });
    return { code, stdout, stderr };
}

