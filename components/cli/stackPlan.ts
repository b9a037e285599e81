import * as fs from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { ConfigError, FLEETS_KEY } from "../config";
import { parseFleets } from "../fleet/config";
import { fleetShapes } from "./codeFleets";
import { stackFleets } from "./edit";
import { evaluateStack } from "./evaluate";
import { exportRevision, fileAtRevision, projectFilesDiffer } from "./git";
import { CliError, CliIo, ExitCode } from "./io";
import { StackProject, stackConfigOf } from "./project";
import { buildPlan, formatPlan, formatPlanMarkdown, Plan } from "./report";

/**
 * Plans a stack: evaluates the program on the stack file's text and on the file at another git
 * revision, and compares what they register.
 *
 * @param text the stack file's text to plan (the work tree's, or the one a command is about to write)
 * @param against a git revision; when the stack file does not exist there, or `against` is
 * `null` (there is no revision to compare with), every member is created
 * @throws ConfigError when `text` is an invalid config; CliError for any other problem
 */
export async function planStack(project: StackProject, text: string, against: string | null): Promise<Plan> {
    const config = stackConfigOf(text, project.stackFileName);
    stackFleets(config, project.stack);
    const where = `${project.stackFileName} at ${against}`;
    const previousText = against === null ? null : fileAtRevision(project.dir, against, project.stackFileName);
    const previousConfig = previousText === null ? undefined : stackConfigOf(previousText, where);
    // Validated here, not left to the program (which may be the user's own and validate
    // nothing): a truncated or hand-mangled revision that still parses is refused, not compared.
    if (previousConfig !== undefined) {
        try {
            // A project whose fleets are all built in code has no herd:fleets; one that has them cannot lose them.
            if (config[FLEETS_KEY] !== undefined) {
                parseFleets(previousConfig[FLEETS_KEY], project.stack);
            }
            stackFleets(previousConfig, project.stack);
        } catch (err) {
            throw invalidRevision(err, where);
        }
    }
    const current = await evaluateStack(project, config, project.stackFileName);
    const fleets = stackFleets(config, project.stack, fleetShapes(current.resources));
    let previous = current;
    // The program is deterministic (same config and files, byte-identical resources), so an
    // unchanged project needs no second evaluation. Otherwise the revision is evaluated on its
    // own files (user data, probes), exported from git, with the work tree's program.
    const filesDiffer = previousConfig !== undefined && against !== null && projectFilesDiffer(project.dir, against, project.stackFileName);
    if (previousConfig !== undefined && against !== null && (filesDiffer || !isDeepStrictEqual(previousConfig, config))) {
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
    const previousFleets = previousConfig === undefined ? undefined : stackFleets(previousConfig, project.stack, fleetShapes(previous.resources));
    return buildPlan({
        stack: project.stack,
        against: { revision: against ?? "nothing", found: previousText !== null },
        fleets: fleets.entries,
        current: current.resources,
        previous: previousConfig === undefined ? [] : previous.resources,
        previousFleets: previousFleets?.entries,
        protected: fleets.protected || previousFleets?.protected === true,
    });
}

/** An error about another revision's config: a ConfigError says which revision it is about. */
function invalidRevision(err: unknown, where: string): unknown {
    return err instanceof ConfigError ? new CliError(`cannot compare with ${where}, whose config is invalid:\n${err.message}`) : err;
}

/** How a plan is printed: for people, for machines, or for a pull request comment. */
export type PlanFormat = "text" | "json" | "markdown";

/** The exit code of a plan: refused by a protected stack, changes, or none. */
export function planExitCode(plan: Plan): number {
    return plan.refusals.length > 0 ? ExitCode.Refused : plan.changes.length === 0 ? ExitCode.Ok : ExitCode.Changes;
}

/** Prints a plan in a format and returns `plan`'s exit code. */
export function printPlan(plan: Plan, project: StackProject, format: PlanFormat, write: CliIo["stdout"]): number {
    write(
        format === "json"
            ? `${JSON.stringify(plan, null, 2)}\n`
            : format === "markdown"
              ? formatPlanMarkdown(plan, project.stackFileName)
              : formatPlan(plan, project.stackFileName),
    );
    return planExitCode(plan);
}
