import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CliError } from "./io";

function git(dir: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
    const result = spawnSync("git", args, { cwd: dir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (result.error) {
        throw new CliError(
            (result.error as NodeJS.ErrnoException).code === "ENOENT" ? "git is not installed (herd reads stack files from git)" : result.error.message,
        );
    }
    return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr.trim() };
}

/**
 * The text of a file at a git revision, or `null` when the revision has no such file.
 *
 * @param dir a directory inside the work tree; `file` is relative to it
 * @throws CliError when `dir` is not in a git repository or the revision does not exist
 */
export function fileAtRevision(dir: string, revision: string, file: string): string | null {
    const commit = git(dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${revision}^{commit}`]);
    if (commit.status !== 0) {
        const inRepository = git(dir, ["rev-parse", "--git-dir"]);
        if (inRepository.status !== 0) {
            throw new CliError(`${dir} is not in a git repository: ${inRepository.stderr}`);
        }
        throw new CliError(`no git revision "${revision}" in ${dir}`);
    }
    const object = `${commit.stdout.trim()}:./${file}`;
    if (git(dir, ["cat-file", "-e", object]).status !== 0) {
        return null;
    }
    const shown = git(dir, ["show", object]);
    if (shown.status !== 0) {
        throw new CliError(`cannot read ${file} at ${revision}: ${shown.stderr}`);
    }
    return shown.stdout;
}

/**
 * Whether a file differs from what is committed (modified, staged or untracked).
 *
 * @throws CliError when `dir` is not in a git repository
 */
export function hasUncommittedChanges(dir: string, file: string): boolean {
    const status = git(dir, ["status", "--porcelain", "--", file]);
    if (status.status !== 0) {
        throw new CliError(`cannot tell whether ${file} has uncommitted changes: ${status.stderr}`);
    }
    return status.stdout.trim() !== "";
}

/**
 * When a file was last committed, or `undefined` when it never was: the time a change to a stack
 * file was merged, which herd takes as the time its rollout wave went live.
 */
export function lastCommitTime(dir: string, file: string): Date | undefined {
    const log = git(dir, ["log", "-1", "--format=%cI", "--", file]);
    const when = log.stdout.trim();
    return log.status === 0 && when !== "" ? new Date(when) : undefined;
}

/**
 * Whether the project directory's files (other than `except`) differ between a revision and the
 * work tree: user data, probe scripts and the program are part of what a stack deploys.
 */
export function projectFilesDiffer(dir: string, revision: string, except: string): boolean {
    const diff = git(dir, ["diff", "--quiet", revision, "--", ".", `:(exclude)${except}`]);
    if (diff.status > 1) {
        throw new CliError(`cannot compare ${dir} with ${revision}: ${diff.stderr}`);
    }
    const untracked = git(dir, ["ls-files", "--others", "--exclude-standard", "--", "."]);
    return diff.status === 1 || untracked.stdout.trim() !== "";
}

/**
 * Writes the project directory as it was at a revision into a new temporary directory and
 * returns it; the caller removes it.
 */
export function exportRevision(dir: string, revision: string): string {
    const target = fs.mkdtempSync(path.join(os.tmpdir(), "herd-revision-"));
    const archive = spawnSync("git", ["archive", "--format=tar", `${revision}:./`], { cwd: dir, maxBuffer: 512 * 1024 * 1024 });
    if (archive.status !== 0) {
        fs.rmSync(target, { recursive: true, force: true });
        throw new CliError(`cannot read the project at ${revision}: ${archive.stderr.toString().trim()}`);
    }
    const tar = spawnSync("tar", ["-x", "-C", target], { input: archive.stdout });
    if (tar.status !== 0) {
        fs.rmSync(target, { recursive: true, force: true });
        throw new CliError(`cannot unpack the project at ${revision}: ${tar.stderr.toString().trim()}`);
    }
    return target;
}
