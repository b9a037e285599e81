import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CliError } from "./io";

/** Runs git in `dir`; a missing git is one message. */
export function git(dir: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
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

/** When a commit reached the branch, as {@link wentLiveAt} finds it. */
export interface CommitTime {
    readonly commit: string;
    readonly at: Date;
}

/**
 * When the state of a stack file that `stateOf` extracts (a fleet's release and rollout wave)
 * reached the current branch: the commit on HEAD's first-parent line (the merge, for a change
 * merged from a branch) after which the file has held that state ever since, timed by its
 * committer date, but never earlier than any commit before it. Commit dates are written by
 * whoever commits; a commit dated before its own parents is backdated, so it cannot make a wave
 * look older than the history it was added to. Commits that leave the state as it was (a
 * comment, another fleet) do not count.
 *
 * @param state the state now, in the work tree
 * @param stateOf the state in the file's text at a commit; `undefined` when it has none there
 * @returns `undefined` when the latest commit of the file does not hold `state` (it was never committed)
 */
export function wentLiveAt(dir: string, file: string, state: string, stateOf: (text: string) => string | undefined): CommitTime | undefined {
    const log = git(dir, ["log", "--first-parent", "--format=%H", "--", file]);
    if (log.status !== 0) {
        return undefined;
    }
    let since: string | undefined;
    for (const commit of log.stdout.split("\n").filter((line) => line !== "")) {
        const text = fileAtRevision(dir, commit, file);
        if (text === null || stateOf(text) !== state) {
            break;
        }
        since = commit;
    }
    if (since === undefined) {
        return undefined;
    }
    const times = git(dir, ["log", "--format=%ct", since]);
    const latest = times.stdout
        .split("\n")
        .filter((line) => line !== "")
        .reduce((max, line) => Math.max(max, Number(line)), 0);
    return { commit: since, at: new Date(latest * 1000) };
}

/** Pathspecs of the project folder without a stack file, its lock and herd's temporary files beside it. */
function projectPathspecs(except: string): string[] {
    return [".", `:(exclude)${except}`, `:(exclude,glob)${except}.*`];
}

/**
 * Whether the project directory's files (other than the stack file `except` and herd's lock and
 * temporary files beside it) differ between a revision and the work tree: user data, probe
 * scripts and the program are part of what a stack deploys.
 */
export function projectFilesDiffer(dir: string, revision: string, except: string): boolean {
    const diff = git(dir, ["diff", "--quiet", revision, "--", ...projectPathspecs(except)]);
    if (diff.status > 1) {
        throw new CliError(`cannot compare ${dir} with ${revision}: ${diff.stderr}`);
    }
    const untracked = git(dir, ["ls-files", "--others", "--exclude-standard", "--", ...projectPathspecs(except)]);
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

/** Whether a revision names a commit of the repository `dir` is in. */
export function revisionExists(dir: string, revision: string): boolean {
    return git(dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${revision}^{commit}`]).status === 0;
}
