import * as fs from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { ConfigError, FLEETS_KEY, parseFleets } from "../config";
import { evaluateStack } from "./evaluate";
import { exportRevision, fileAtRevision, projectFilesDiffer } from "./git";
import { CliError, CliIo, ExitCode } from "./io";
import { StackProject, stackConfigOf } from "./project";
import { buildPlan, formatPlan, Plan } from "./report";

/**
 * Plans a stack: evaluates the program on the stack file's text and on the file at another git
 * revision, and compares what they register.
 *
 * @param text the stack file's text to plan (the work tree's, or the one a command is about to write)
 * @param against a git revision; when the stack file does not exist there, every member is created
 * @throws ConfigError when `text` is an invalid config; CliError for any other problem
 */
export async function planStack(project: StackProject, text: string, against: string): Promise<Plan> {
    const config = stackConfigOf(text, project.stackFileName);
    const fleets = parseFleets(config[FLEETS_KEY], project.stack);
    const where = `${project.stackFileName} at ${against}`;
    const previousText = fileAtRevision(project.dir, against, project.stackFileName);
    const previousConfig = previousText === null ? undefined : stackConfigOf(previousText, where);
    // Validated here, not left to the program (which may be the user's own and validate
    // nothing): a truncated or hand-mangled revision that still parses is refused, not compared.
    if (previousConfig !== undefined) {
        try {
            parseFleets(previousConfig[FLEETS_KEY], project.stack);
        } catch (err) {
            throw invalidRevision(err, where);
        }
    }
    const current = await evaluateStack(project, config, project.stackFileName);
    let previous = current;
    // The program is deterministic (same config and files, byte-identical resources), so an
    // unchanged project needs no second evaluation. Otherwise the revision is evaluated on its
    // own files (user data, probes), exported from git, with the work tree's program.
    const filesDiffer = previousConfig !== undefined && projectFilesDiffer(project.dir, against, project.stackFileName);
    if (previousConfig !== undefined && (filesDiffer || !isDeepStrictEqual(previousConfig, config))) {
        const dir = filesDiffer ? exportRevision(project.dir, against) : project.dir;
        try {
            previous = await evaluateStack({ ...project, dir }, previousConfig, where);
        } catch (err) {
            throw invalidRevision(err, where);
        } finally {
            if (dir !== project.dir) {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        }
    }
    return buildPlan({
        stack: project.stack,
        against: { revision: against, found: previousText !== null },
        fleets,
        current: current.resources,
        previous: previousConfig === undefined ? [] : previous.resources,
    });
}

/** An error about another revision's config: a ConfigError says which revision it is about. */
function invalidRevision(err: unknown, where: string): unknown {
    return err instanceof ConfigError ? new CliError(`cannot compare with ${where}, whose config is invalid:\n${err.message}`) : err;
}

/** Prints a plan, for people or (`json`) for machines, and returns `plan`'s exit code. */
export function printPlan(plan: Plan, project: StackProject, json: boolean, io: CliIo): number {
    io.stdout(json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan, project.stackFileName));
    return plan.changes.length === 0 ? ExitCode.Ok : ExitCode.Changes;
}
