import * as fs from "node:fs";
import * as path from "node:path";

/** The newest modification time of the files under `dir` whose names end with `suffix`, in ms. */
function newest(dir: string, suffix: string): number {
    let latest = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
        if (entry.isFile() && entry.name.endsWith(suffix)) {
            latest = Math.max(latest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
        }
    }
    return latest;
}

/**
 * The built package's entry (`dist/index.js`, what `npm install pulumi-herd` gives a program),
 * when it is there and no newer than the sources it was built from; else `undefined`, and the
 * benchmark measures the sources through tsx instead, and says so.
 */
export function builtEntry(root: string): string | undefined {
    const entry = path.join(root, "dist", "index.js");
    if (!fs.existsSync(entry)) {
        return undefined;
    }
    return newest(path.join(root, "dist"), ".js") >= newest(path.join(root, "components"), ".ts") ? entry : undefined;
}
