import * as nodeFs from "node:fs";
import * as os from "node:os";
import { describeFsError } from "./atomicWrite";
import { CliError } from "./io";

/** The file system calls the lock makes; tests pass their own (see {@link WriteFs}). */
export type LockFs = Pick<typeof nodeFs, "openSync" | "writeSync" | "closeSync" | "readFileSync" | "unlinkSync">;

/** Who holds a lock: written into the lock file, shown to whoever finds it taken. */
interface Owner {
    readonly pid: number;
    readonly host: string;
    readonly since: string;
}

function readOwner(fs: LockFs, lock: string): Owner | undefined {
    try {
        const owner = JSON.parse(fs.readFileSync(lock, "utf8")) as Partial<Owner>;
        return typeof owner.pid === "number" && typeof owner.host === "string" && typeof owner.since === "string"
            ? { pid: owner.pid, host: owner.host, since: owner.since }
            : undefined;
    } catch {
        return undefined;
    }
}

/** Whether a process of this host is gone, so that its lock is stale. */
function isGone(owner: Owner): boolean {
    if (owner.host !== os.hostname()) {
        return false;
    }
    try {
        process.kill(owner.pid, 0);
        return false;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "ESRCH";
    }
}

/**
 * Runs `work` while holding `<file>.lock`, created with O_EXCL so that one command at a time
 * changes a stack file: two `herd promote` on the same stack would otherwise both read the same
 * file and the second write would drop the first one's step. The lock names its holder (pid,
 * host, start); one left behind by a killed command on this host is taken over. The writer also
 * compares the file with what was read before it renames (see {@link writeFileAtomic}), which
 * covers the short race of two commands taking over the same stale lock.
 *
 * @param name how messages name the file, e.g. `Pulumi.prod.yaml (stack "prod")`
 * @throws CliError when another command holds the lock, or the lock file cannot be created
 */
export async function withFileLock<T>(file: string, name: string, work: () => Promise<T>, fs: LockFs = nodeFs): Promise<T> {
    const lock = `${file}.lock`;
    const me: Owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
    for (let attempt = 0; ; attempt++) {
        let fd: number;
        try {
            fd = fs.openSync(lock, "wx", 0o644);
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
                throw new CliError(`cannot write ${name}: cannot create its lock file ${lock}: ${describeFsError(err)}; the file is unchanged`);
            }
            const owner = readOwner(fs, lock);
            if (attempt === 0 && owner !== undefined && isGone(owner)) {
                fs.unlinkSync(lock);
                continue;
            }
            const holder = owner ? `pid ${owner.pid} on ${owner.host}, since ${owner.since}` : "its holder is unknown";
            throw new CliError(
                `${name} is locked by another herd command (${holder}): run this one when it has finished; if no herd command is running, delete ${lock}`,
            );
        }
        try {
            fs.writeSync(fd, `${JSON.stringify(me)}\n`);
        } catch (err) {
            fs.closeSync(fd);
            fs.unlinkSync(lock);
            throw new CliError(`cannot write ${name}: cannot create its lock file ${lock}: ${describeFsError(err)}; the file is unchanged`);
        }
        fs.closeSync(fd);
        break;
    }
    try {
        return await work();
    } finally {
        const owner = readOwner(fs, lock);
        if (owner?.pid === me.pid && owner.host === me.host && owner.since === me.since) {
            fs.unlinkSync(lock);
        }
    }
}
