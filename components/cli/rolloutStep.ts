import * as fs from "node:fs";
import { Command } from "commander";
import { FLEETS_KEY, parseFleets } from "../config";
import { checkGate } from "../monitoring/gate";
import { RolloutEdit } from "./edit";
import { hasUncommittedChanges, lastCommitTime } from "./git";
import { CliError, CliIo, ExitCode } from "./io";
import { locateProject, ProjectOptions, readStackText, StackProject, stackConfigOf } from "./project";
import { planStack } from "./stackPlan";
import { formatPlan, Plan } from "./report";

/** Flags of `herd promote` and `herd rollback`. */
export interface RolloutStepFlags extends ProjectOptions {
    readonly force?: boolean;
    readonly json?: boolean;
}

function slotList(slots: readonly number[]): string {
    if (slots.length === 0) {
        return "no slot";
    }
    const first = slots[0];
    const last = slots[slots.length - 1];
    return slots.length === 1 ? `slot ${first}` : `slots ${first}–${last}`;
}

function describe(step: RolloutEdit, project: StackProject): string {
    const where = `herd:fleets.${step.fleet}.rollout`;
    const one = step.slots.length === 1;
    if (step.to < step.from) {
        return `Rolled back fleet ${step.fleet} in ${project.stackFileName}: ${where}.members ${step.from} → 0, ${slotList(step.slots)} ${one ? "goes" : "go"} back to the previous release.`;
    }
    const moving = `${slotList(step.slots)} ${one ? "moves" : "move"} to the release`;
    if (step.complete) {
        return `Finished the rollout of fleet ${step.fleet} in ${project.stackFileName}: ${moving}, all ${step.to} slots run it; ${where}.previous dropped.`;
    }
    return `Promoted fleet ${step.fleet} in ${project.stackFileName}: ${where}.members ${step.from} → ${step.to}, ${moving}.`;
}

/**
 * Checks the fleet's promotion gate, if it has one: its query must hold on the canary (the
 * release's generation) and the current wave must have baked long enough since the stack file's
 * last commit. Returns the line to print when it passes.
 *
 * @throws CliError when the gate is closed, with the reason
 */
async function passGate(project: StackProject, text: string, fleet: string, plan: Plan): Promise<string | undefined> {
    const gate = parseFleets(stackConfigOf(text, project.stackFileName)[FLEETS_KEY], project.stack)[fleet]?.gate;
    if (!gate) {
        return undefined;
    }
    const generation = plan.fleets.find((f) => f.name === fleet)?.generations.release;
    if (!generation) {
        throw new CliError(`the gate of fleet ${fleet} needs a canary, and no slot runs the release yet`);
    }
    const result = await checkGate(gate, {
        stack: project.stack,
        fleet,
        generation,
        wentLiveAt: lastCommitTime(project.dir, project.stackFileName),
    });
    if (!result.passed) {
        throw new CliError(`not promoting fleet ${fleet}: its gate is closed: ${result.reason}\n  query: ${result.query}`);
    }
    return `Gate of fleet ${fleet} passed: ${result.reason} (${result.query}).`;
}

/**
 * Rewrites the stack file one rollout step further (or back), then prints the plan of that step:
 * the new file against `HEAD`. The file is written only once the new config has been evaluated.
 *
 * @param edit computes the new text; throws when there is nothing to do
 */
export async function applyRolloutStep(
    fleet: string,
    flags: RolloutStepFlags,
    io: CliIo,
    edit: (text: string, fileName: string, stack: string, fleet: string) => RolloutEdit,
): Promise<number> {
    const project = locateProject(flags, io.cwd);
    const step = edit(readStackText(project), project.stackFileName, project.stack, fleet);
    if (!flags.force && hasUncommittedChanges(project.dir, project.stackFileName)) {
        throw new CliError(
            `${project.stackFileName} has uncommitted changes: commit or stash them first, so that this step is a commit of its own that git revert can undo (or pass --force)`,
        );
    }
    const plan = await planStack(project, step.text, "HEAD");
    const gate = step.to > step.from ? await passGate(project, step.text, fleet, plan) : undefined;
    fs.writeFileSync(project.stackFile, step.text);
    if (flags.json) {
        const { text, ...summary } = step;
        void text;
        io.stdout(`${JSON.stringify({ ...summary, plan }, null, 2)}\n`);
    } else {
        io.stdout(`${gate ? `${gate}\n` : ""}${describe(step, project)}\n\n${formatPlan(plan, project.stackFileName)}`);
        io.stdout(`\nNext: commit ${project.stackFileName}, merge, then \`pulumi up --stack ${project.stack}\`.\n`);
    }
    return ExitCode.Ok;
}

/** What distinguishes `herd promote` from `herd rollback`. */
export interface RolloutStepCommand {
    readonly name: string;
    readonly summary: string;
    readonly description: string;
    /** Help for the `<fleet>` argument. */
    readonly fleet: string;
    /** Computes the new stack file text; throws when there is nothing to do. */
    readonly edit: (text: string, fileName: string, stack: string, fleet: string) => RolloutEdit;
}

/** Adds a command that rewrites the stack file one rollout step, with the options both steps take. */
export function addRolloutStepCommand(cli: Command, io: CliIo, exit: (code: number) => void, command: RolloutStepCommand): void {
    cli.command(command.name)
        .summary(command.summary)
        .description(command.description)
        .argument("<fleet>", command.fleet)
        .requiredOption("-s, --stack <name>", "the stack: rewrites Pulumi.<name>.yaml")
        .option("-f, --force", "rewrite the stack file even if it has uncommitted changes")
        .option("--json", "print the step and its plan as JSON")
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .option("-p, --program <path>", "the program's entry module (default: <projectDir>/index.ts)")
        .action(async (fleet: string, flags: RolloutStepFlags) => {
            exit(await applyRolloutStep(fleet, flags, io, command.edit));
        });
}
