import { randomBytes } from "node:crypto";
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { CliError } from "./io";

/**
 * The file system calls a stack file write makes. Commands take node's `fs`; tests pass one
 * whose calls fail (a full disk, a file size limit, a read-only file system) to show that the
 * original file survives each of them.
 */
export type WriteFs = Pick<
    typeof nodeFs,
    | "realpathSync"
    | "statSync"
    | "accessSync"
    | "openSync"
    | "fchmodSync"
    | "fchownSync"
    | "writeSync"
    | "fsyncSync"
    | "closeSync"
    | "readFileSync"
    | "renameSync"
    | "unlinkSync"
>;

/** Why a write failed, in words, for the errors a user can meet and fix. */
const REASONS: Readonly<Record<string, string>> = {
    ENOSPC: "no space left on the device (ENOSPC)",
    EDQUOT: "the disk quota is exhausted (EDQUOT)",
    EFBIG: "the file size limit (ulimit -f) is too small for it (EFBIG)",
    EROFS: "the file system is read-only (EROFS)",
    EACCES: "permission denied (EACCES)",
    EPERM: "operation not permitted (EPERM): is the file or its folder immutable (chattr +i)?",
    EIO: "an I/O error (EIO)",
};

/** One line saying why a file system call failed: never a stack trace. */
export function describeFsError(err: unknown): string {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code !== undefined && REASONS[code]) {
        return REASONS[code];
    }
    const message = err instanceof Error ? err.message : String(err);
    return message.split("\n")[0];
}

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
    /** How messages name the file, e.g. `Pulumi.prod.yaml (stack "prod")`. */
    readonly name: string;
    /**
     * The text the file held when the caller read it. When it holds something else just before
     * the rename (another command or an editor wrote it meanwhile), nothing is written.
     */
    readonly expected?: string;
    /** @default node's `fs` */
    readonly fs?: WriteFs;
}

/**
 * Replaces a file's content all at once: the text goes to a temporary file in the same folder
 * (so the rename stays on one file system), which is flushed to disk (fsync) and then renamed
 * over the file. Readers see the old text or the new one, never a part; a full disk, a file
 * size limit, a read-only file or folder, or a kill before the rename leave the file
 * byte-identical. The file keeps its mode and owner; a symbolic link is followed, so the file
 * it points to is replaced and the link stays.
 *
 * Written here rather than taken from `write-file-atomic`: its synchronous write is one
 * `write(2)` call, and a short write (which is what a file size limit or a nearly full disk
 * gives) would be renamed over the file, truncated; it also offers no seam to inject those
 * failures and does not flush the folder after the rename.
 *
 * @throws CliError with one line naming the file and the cause; the file is then unchanged
 */
export function writeFileAtomic(file: string, text: string, options: AtomicWriteOptions): void {
    const fs = options.fs ?? nodeFs;
    const refuse = (reason: string) => new CliError(`cannot write ${options.name}: ${reason}; the file is unchanged`);
    let target: string;
    let stat: nodeFs.Stats;
    try {
        target = fs.realpathSync(file);
        stat = fs.statSync(target);
        fs.accessSync(target, nodeFs.constants.W_OK);
    } catch (err) {
        throw refuse(describeFsError(err));
    }
    const mode = stat.mode & 0o7777;
    // root may write anything; a file without any write bit was still made read-only on purpose.
    if ((mode & 0o222) === 0) {
        throw refuse(`it is read-only (mode ${mode.toString(8).padStart(4, "0")}); make it writable first`);
    }
    const data = Buffer.from(text, "utf8");
    const temporary = `${target}.herd-${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
    let fd: number | undefined;
    try {
        fd = fs.openSync(temporary, "wx", mode);
        fs.fchmodSync(fd, mode);
        if (process.getuid?.() === 0 && (stat.uid !== 0 || stat.gid !== 0)) {
            fs.fchownSync(fd, stat.uid, stat.gid);
        }
        // write(2) may write less than asked (a file size limit, a nearly full disk): go on
        // until everything is written or a call fails.
        for (let offset = 0; offset < data.length; ) {
            offset += fs.writeSync(fd, data, offset, data.length - offset);
        }
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fd = undefined;
        if (options.expected !== undefined && fs.readFileSync(target, "utf8") !== options.expected) {
            throw new CliError(
                `not writing ${options.name}: it changed since herd read it (another command or an editor wrote it); look at it and run the command again`,
            );
        }
        fs.renameSync(temporary, target);
    } catch (err) {
        if (fd !== undefined) {
            try {
                fs.closeSync(fd);
            } catch {
                // The write failed already; that is the error to report.
            }
        }
        try {
            fs.unlinkSync(temporary);
        } catch {
            // Never created, or already gone.
        }
        throw err instanceof CliError ? err : refuse(describeFsError(err));
    }
    flushFolder(path.dirname(target));
}

/**
 * Flushes a folder's entries, so the rename survives a power loss. The file already holds the
 * new text when this runs, so a failure here (some file systems refuse to fsync a folder) is
 * not reported as a failed write.
 */
function flushFolder(folder: string): void {
    let fd: number | undefined;
    try {
        fd = nodeFs.openSync(folder, "r");
        nodeFs.fsyncSync(fd);
    } catch {
        // See above: the write itself succeeded.
    } finally {
        if (fd !== undefined) {
            nodeFs.closeSync(fd);
        }
    }
}
