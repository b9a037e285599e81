import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The files a stack config names (user data, probe scripts, a kubeconfig), read only from inside
 * the project: every path is resolved, symlinks followed, and must stay inside the project
 * directory and be of the kind expected and of a bounded size.
 */

/**
 * Where project files are read from.
 *
 * @group Stack config
 */
export interface ProjectFiles {
    /** The project directory; paths in the stack config are relative to it, and must stay inside it. */
    readonly projectDir: string;
    /**
     * Reads a file; tests pass their own. A reader of its own is trusted with where a path
     * leads (symlinks, devices); its text is still bounded in size.
     * @default the file, once its real path (symlinks followed) is inside the project directory and it is a regular file of a bounded size
     */
    readonly readFile?: (file: string) => string;
}

/** Why a project file cannot be used, in the words of a problem's `allowed`. */
export type FileOutcome = { readonly text: string } | { readonly problem: string };

const describeKind = (stat: fs.Stats) =>
    stat.isDirectory() ? "a directory" : stat.isFIFO() ? "a FIFO" : stat.isSocket() ? "a socket" : stat.isCharacterDevice() || stat.isBlockDevice() ? "a device" : "not a regular file";

/** Whether `inner` is `root` or inside it. */
function isInside(root: string, inner: string): boolean {
    const relative = path.relative(root, inner);
    return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/**
 * Where a project path really leads: its real path (every symlink followed), once that is inside
 * the project's real path; a problem otherwise. `kind` says what the path must be.
 */
export function projectPath(projectDir: string, relative: string, kind: "file" | "directory"): { readonly real: string; readonly stat?: fs.Stats } | { readonly problem: string } {
    let root: string;
    try {
        root = fs.realpathSync(projectDir);
    } catch {
        return { problem: `the project directory ${projectDir} does not exist` };
    }
    const full = path.resolve(root, relative);
    if (!isInside(root, full)) {
        return { problem: "it leads outside the project directory" };
    }
    let real: string;
    try {
        real = fs.realpathSync(full);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") {
            return { problem: `${full} does not exist` };
        }
        return { problem: code === "ELOOP" ? "its symlinks loop" : `it cannot be read (${code ?? "error"})` };
    }
    if (!isInside(root, real)) {
        return { problem: "a symlink leads it outside the project directory" };
    }
    const stat = fs.statSync(real);
    if (kind === "file" ? !stat.isFile() : !stat.isDirectory()) {
        return { problem: `it is ${describeKind(stat)}, not a ${kind === "file" ? "regular file" : "directory"}` };
    }
    return { real, stat };
}

/**
 * Reads a file the stack config names, relative to the project directory: it must lead (after
 * symlinks) to a regular file inside the project, of at most `maxBytes`. A device, FIFO or
 * directory is refused before it is opened, so it can neither hang nor flood the program.
 */
export function readProjectFile(options: ProjectFiles, relative: string, maxBytes: number): FileOutcome {
    if (options.readFile) {
        let text: string;
        try {
            text = options.readFile(path.resolve(options.projectDir, relative));
        } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === "ENOENT" || code === "EISDIR") {
                return { problem: `${path.resolve(options.projectDir, relative)} does not exist` };
            }
            throw err;
        }
        const size = Buffer.byteLength(text, "utf8");
        return size > maxBytes ? { problem: `at most ${maxBytes} bytes; this one has ${size}` } : { text };
    }
    const found = projectPath(options.projectDir, relative, "file");
    if ("problem" in found) {
        return found;
    }
    if ((found.stat?.size ?? 0) > maxBytes) {
        return { problem: `at most ${maxBytes} bytes; this one has ${found.stat?.size}` };
    }
    return { text: fs.readFileSync(found.real, "utf8") };
}
