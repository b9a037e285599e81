import { Command } from "commander";
import { FLEETS_KEY, ROLLOUTS_KEY } from "../config";
import { parseFleets } from "../fleet/config";
import { checkGate } from "../monitoring/gate";
import { canonicalJson } from "../release";
import { writeFileAtomic } from "./atomicWrite";
import { fleetShapes } from "./codeFleets";
import { CodeFleetShape, RolloutEdit } from "./edit";
import { evaluateStack } from "./evaluate";
import { hasUncommittedChanges, wentLiveAt } from "./git";
import { CliError, CliIo, ExitCode } from "./io";
import { withFileLock } from "./lock";
import { locateProject, ProjectOptions, readStackText, StackProject, stackConfigOf } from "./project";
import { planOfFleet } from "./plan";
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
    const where = `${step.section}.${step.fleet}.rollout`;
    const one = step.slots.length === 1;
    if (step.to < step.from) {
        return `Rolled back fleet ${step.fleet} in ${project.stackFileName}: ${where}.members ${step.from} → 0, ${slotList(step.slots)} ${one ? "goes" : "go"} back to the previous release.`;
    }
    const moving = `${slotList(step.slots)} ${one ? "moves" : "move"} to the release`;
    if (step.complete) {
        return `Finished the rollout of fleet ${step.fleet} in ${project.stackFileName}: ${moving}, all ${step.to} slots run it; ${where} removed.`;
    }
    return `Promoted fleet ${step.fleet} in ${project.stackFileName}: ${where}.members ${step.from} → ${step.to}, ${moving}.`;
}

/**
 * What makes up a fleet's current wave in a stack file's text: its size, release, previous
 * release and members on the release. A change to any of them starts a new wave, and its bake
 * time anew; `undefined` when the text has no such fleet or cannot be read.
 */
export function waveState(text: string, where: string, fleet: string): string | undefined {
    try {
        const config = stackConfigOf(text, where);
        const section = (key: string) => (config[key] as Record<string, Record<string, unknown> | undefined> | undefined)?.[fleet];
        const raw = section(FLEETS_KEY) ?? section(ROLLOUTS_KEY);
        const rollout = raw?.rollout as Record<string, unknown> | undefined;
        return raw && canonicalJson({ size: raw.size, release: raw.release, previous: rollout?.previous, members: rollout?.members });
    } catch {
        return undefined;
    }
}

/**
 * Checks the fleet's promotion gate, if it has one: its query must hold on the canary (the
 * release's generation) and the current wave must have baked long enough since it went live,
 * which is when the commit that set it reached the branch (see {@link wentLiveAt}). Returns
 * the line to print when it passes.
 *
 * @param current the stack file's text before this step: its wave is the one that must have baked
 * @param text the stack file's text after this step, whose gate applies
 * @throws CliError when the gate is closed, with the reason
 */
async function passGate(project: StackProject, current: string, text: string, fleet: string, plan: Plan): Promise<string | undefined> {
    const fleets = stackConfigOf(text, project.stackFileName)[FLEETS_KEY];
    const gate = fleets === undefined ? undefined : parseFleets(fleets, project.stack)[fleet]?.gate;
    if (!gate) {
        return undefined;
    }
    const generation = plan.fleets.find((f) => f.name === fleet)?.generations.release;
    if (!generation) {
        throw new CliError(`the gate of fleet ${fleet} needs a canary, and no slot runs the release yet`);
    }
    const state = waveState(current, project.stackFileName, fleet);
    const live = state === undefined ? undefined : wentLiveAt(project.dir, project.stackFileName, state, (old) => waveState(old, project.stackFileName, fleet));
    const result = await checkGate(gate, { stack: project.stack, fleet, generation, wentLiveAt: live?.at });
    if (!result.passed) {
        throw new CliError(`not promoting fleet ${fleet}: its gate is closed: ${result.reason}\n  query: ${result.query}`);
    }
    return `Gate of fleet ${fleet} passed: ${result.reason} (${result.query}).`;
}

/**
 * The shapes of the fleets the program builds in code, which the command line learns by running
 * it; `{}` without running it when `fleet` is one of `herd:fleets`.
 */
export async function codeFleetsFor(project: StackProject, text: string, fleet: string): Promise<Record<string, CodeFleetShape>> {
    const config = stackConfigOf(text, project.stackFileName);
    const yamlFleets = config[FLEETS_KEY] as Record<string, unknown> | undefined;
    if (yamlFleets !== null && typeof yamlFleets === "object" && fleet in yamlFleets) {
        return {};
    }
    return fleetShapes((await evaluateStack(project, config, project.stackFileName)).resources);
}

/** How a command that rewrites the stack file computes and reports its step. */
export interface StepOptions {
    /** Computes the new text; throws when there is nothing to do. */
    readonly edit: (text: string, fileName: string, stack: string, fleet: string, codeFleets: Readonly<Record<string, CodeFleetShape>>) => RolloutEdit;
    /** Whether the fleet's gate must hold first (promoting). @default the step moves slots to the release */
    readonly gate?: boolean;
    /** The line saying what was done. @default promote's and rollback's */
    readonly describe?: (step: RolloutEdit, project: StackProject) => string;
    /** Lines printed before it (notes). */
    readonly notes?: readonly string[];
}

/**
 * Rewrites the stack file one rollout step further (or back), then prints the plan of that step:
 * the new file against `HEAD`. The file is written only once the new config has been evaluated,
 * all at once (see {@link writeFileAtomic}), and under a lock, so that two commands on one stack
 * cannot both write and lose one's step.
 */
export async function applyRolloutStep(fleet: string, flags: RolloutStepFlags, io: CliIo, options: StepOptions): Promise<number> {
    const project = locateProject(flags, io.cwd);
    const name = `${project.stackFileName} (stack "${project.stack}")`;
    return withFileLock(
        project.stackFile,
        name,
        async () => {
            const current = readStackText(project);
            const step = options.edit(current, project.stackFileName, project.stack, fleet, await codeFleetsFor(project, current, fleet));
            if (!flags.force && hasUncommittedChanges(project.dir, project.stackFileName)) {
                throw new CliError(
                    `${project.stackFileName} has uncommitted changes: commit or stash them first, so that this step is a commit of its own that git revert can undo (or pass --force)`,
                );
            }
            // The step changes this fleet only: its plan is the step's.
            const plan = planOfFleet(await planStack(project, step.text, "HEAD"), fleet);
            const gate = (options.gate ?? step.to > step.from) ? await passGate(project, current, step.text, fleet, plan) : undefined;
            writeFileAtomic(project.stackFile, step.text, { name, expected: current, fs: io.fs });
            if (flags.json) {
                const { text, ...summary } = step;
                void text;
                io.stdout(`${JSON.stringify({ ...summary, plan }, null, 2)}\n`);
            } else {
                const notes = (options.notes ?? []).map((note) => `${note}\n`).join("");
                io.stdout(`${notes}${gate ? `${gate}\n` : ""}${(options.describe ?? describe)(step, project)}\n\n${formatPlan(plan, project.stackFileName)}`);
                io.stdout(`\nNext: commit ${project.stackFileName}, merge, then \`pulumi up --stack ${project.stack}\`.\n`);
            }
            return ExitCode.Ok;
        },
        io.fs,
    );
}

/** What distinguishes `herd promote` from `herd rollback`. */
export interface RolloutStepCommand {
    readonly name: string;
    readonly summary: string;
    readonly description: string;
    /** Help for the `<fleet>` argument. */
    readonly fleet: string;
    /** Computes the new stack file text; throws when there is nothing to do. */
    readonly edit: StepOptions["edit"];
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
            exit(await applyRolloutStep(fleet, flags, io, { edit: command.edit }));
        });
}
