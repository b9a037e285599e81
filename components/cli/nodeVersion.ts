/**
 * The oldest Node.js the CLI runs on: commander 15 (the argument parser) is an ES module loaded
 * with `require`, which Node.js does without a flag from 22.12, and says so in its `engines`;
 * @pulumi/pulumi wants 22 or later. `engines.node` in package.json states the same.
 */
export const MINIMUM_NODE = "22.12.0";

/** Whether `version` (`22.12.0`, `v20.20.2`) is at least `minimum`, comparing major, minor and patch. */
export function isAtLeast(version: string, minimum: string): boolean {
    const parts = (v: string) => v.replace(/^v/, "").split(".").map((part) => Number.parseInt(part, 10) || 0);
    const have = parts(version);
    const need = parts(minimum);
    for (let i = 0; i < 3; i++) {
        if ((have[i] ?? 0) !== (need[i] ?? 0)) {
            return (have[i] ?? 0) > (need[i] ?? 0);
        }
    }
    return true;
}

/**
 * The one line to print on a Node.js older than {@link MINIMUM_NODE}, or `undefined` on a
 * recent enough one.
 */
export function nodeTooOld(version: string = process.versions.node): string | undefined {
    return isAtLeast(version, MINIMUM_NODE)
        ? undefined
        : `herd: needs Node.js ${MINIMUM_NODE} or later, and this is Node.js ${version.replace(/^v/, "")}: install a newer Node.js (https://nodejs.org)`;
}
