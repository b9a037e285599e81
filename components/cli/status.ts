import { Command } from "commander";
import { FLEETS_KEY } from "../config";
import { parseFleets } from "../fleet/config";
import { checkGate } from "../monitoring/gate";
import { fleetShapes } from "./codeFleets";
import { stackFleets } from "./edit";
import { evaluateStack } from "./evaluate";
import { wentLiveAt } from "./git";
import { CliIo, ExitCode } from "./io";
import { planOfFleet } from "./plan";
import { locateProject, readStackText, stackConfigOf, StackProject } from "./project";
import { buildPlan, FleetPlan, formatFleet, Plan } from "./report";
import { waveState } from "./rolloutStep";

interface StatusFlags {
    readonly stack: string[];
    readonly fleet?: string;
    readonly json?: boolean;
    readonly dir?: string;
    readonly program?: string;
}

/** Where a fleet's rollout stands: its wave, since when, and whether the next one may go. */
export interface FleetStatus {
    readonly fleet: string;
    /** The wave the fleet is at, counted from 1 (0 when rolled back, `null` with no slots), of how many. */
    readonly wave: number | null;
    readonly waves: number;
    /** When the current wave reached the branch (see {@link wentLiveAt}); `null` when never committed. */
    readonly liveSince: { readonly commit: string; readonly at: string } | null;
    /** The gate, when the fleet has one: its verdict on the next wave. */
    readonly gate: { readonly passed: boolean; readonly reason: string; readonly query: string; readonly bake: string | null } | null;
    /** What to run next, in words. */
    readonly next: string;
}

/** The status of a stack: its plan against itself (what each slot runs) and each fleet's rollout state. */
export interface StackStatus {
    readonly plan: Plan;
    readonly fleets: readonly FleetStatus[];
}

function formatDuration(ms: number): string {
    const minutes = Math.floor(ms / 60_000);
    return minutes < 60 ? `${minutes}m` : `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

async function fleetStatus(project: StackProject, text: string, fleet: FleetPlan, now: Date): Promise<FleetStatus> {
    // Wave 0: rolled back, no slot on the release.
    const wave = fleet.size === 0 ? null : fleet.members === 0 ? 0 : fleet.waves.findIndex((stop) => stop >= fleet.members) + 1;
    const state = waveState(text, project.stackFileName, fleet.name);
    const live = state === undefined ? undefined : wentLiveAt(project.dir, project.stackFileName, state, (old) => waveState(old, project.stackFileName, fleet.name));
    const yamlFleets = stackConfigOf(text, project.stackFileName)[FLEETS_KEY];
    const spec = yamlFleets === undefined ? undefined : parseFleets(yamlFleets, project.stack)[fleet.name]?.gate;
    const command = (verb: string) => `\`herd ${verb} ${fleet.name} --stack ${project.stack}\``;
    let next: string;
    if (fleet.nextWave === null) {
        next = `every slot runs the release; ${command("release")} starts the next`;
    } else {
        const moving = fleet.slots.filter((s) => s.runs === "previous" && s.slot < (fleet.nextWave ?? 0)).map((s) => s.slot);
        const what = moving.length === 1 ? `slot ${moving[0]}` : `slots ${moving[0]}–${moving[moving.length - 1]}`;
        next = `${command("promote")} moves ${what} (to ${fleet.nextWave}/${fleet.size}); ${command("rollback")} goes back`;
    }
    let gate: FleetStatus["gate"] = null;
    if (spec && fleet.nextWave !== null) {
        const generation = fleet.generations.release;
        const bake = spec.bake ?? null;
        if (generation === null) {
            gate = { passed: false, reason: "no slot runs the release yet: the gate has no canary to look at", query: spec.query, bake };
        } else {
            const result = await checkGate(spec, { stack: project.stack, fleet: fleet.name, generation, wentLiveAt: live?.at, now });
            gate = { passed: result.passed, reason: result.reason, query: result.query, bake };
        }
    }
    return {
        fleet: fleet.name,
        wave,
        waves: fleet.waves.length,
        liveSince: live ? { commit: live.commit, at: live.at.toISOString() } : null,
        gate,
        next,
    };
}

function formatStatus(status: StackStatus, project: StackProject, now: Date): string {
    const { plan } = status;
    const lines = [`Stack ${plan.stack}${plan.protected ? " (protected)" : ""}: ${project.stackFileName}`];
    for (const fleet of plan.fleets) {
        const state = status.fleets.find((s) => s.fleet === fleet.name)!;
        lines.push("", ...formatFleet(fleet, false));
        const wave = state.wave === null ? "no slots" : `wave ${state.wave} of ${state.waves} (${fleet.members}/${fleet.size} slots on the release)`;
        const since = state.liveSince
            ? `, live since ${state.liveSince.at.replace("T", " ").replace(/\.\d+Z$/, " UTC")} (commit ${state.liveSince.commit.slice(0, 7)}, ${formatDuration(now.getTime() - Date.parse(state.liveSince.at))} ago)`
            : ", not committed yet";
        lines.push(`  ${wave}${since}`);
        if (state.gate) {
            const bake = state.gate.bake === null ? "" : `; bake ${state.gate.bake}${state.liveSince ? `, baked ${formatDuration(Math.max(0, now.getTime() - Date.parse(state.liveSince.at)))}` : ""}`;
            lines.push(`  gate: ${state.gate.passed ? "open" : "closed"}: ${state.gate.reason}${bake}`, `    query: ${state.gate.query}`);
        } else {
            lines.push(fleet.nextWave === null ? "  gate: none needed (no rollout under way)" : "  gate: none (the next wave goes when promoted)");
        }
        lines.push(`  next: ${state.next}`);
    }
    return lines.join("\n") + "\n";
}

/** The status of one stack: what each slot runs (one evaluation, nothing compared) and each fleet's rollout state. */
export async function stackStatus(project: StackProject, fleet: string | undefined, now: Date = new Date()): Promise<StackStatus> {
    const text = readStackText(project);
    const config = stackConfigOf(text, project.stackFileName);
    const run = await evaluateStack(project, config, project.stackFileName);
    const fleets = stackFleets(config, project.stack, fleetShapes(run.resources));
    const whole = buildPlan({
        stack: project.stack,
        against: { revision: "(itself)", found: true },
        fleets: fleets.entries,
        current: run.resources,
        previous: run.resources,
        protected: fleets.protected,
    });
    const plan = fleet === undefined ? whole : planOfFleet(whole, fleet);
    const states: FleetStatus[] = [];
    for (const fleetPlan of plan.fleets) {
        states.push(await fleetStatus(project, text, fleetPlan, now));
    }
    return { plan, fleets: states };
}

/** `herd status`: per fleet, what each slot range runs, the wave, the gate and the bake time. */
export function addStatusCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    cli.command("status")
        .summary("show each fleet's release per slot range, its wave, gate and bake time")
        .description(
            "evaluate the program for a stack under mocks and show, per fleet, the release each slot range runs, the rollout wave and since when it is live " +
                "(the commit that set it), the gate's verdict on the next wave (it queries Prometheus) with the bake time, and the command to run next",
        )
        .requiredOption("-s, --stack <name...>", "the stack (reads Pulumi.<name>.yaml); several are shown one after the other")
        .option("--fleet <name>", "show this fleet only")
        .option("--json", "print the status as JSON")
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .option("-p, --program <path>", "the program's entry module (default: <projectDir>/index.ts)")
        .action(async (flags: StatusFlags) => {
            const now = new Date();
            const statuses: StackStatus[] = [];
            for (const [i, stack] of flags.stack.entries()) {
                const project = locateProject({ ...flags, stack }, io.cwd);
                const status = await stackStatus(project, flags.fleet, now);
                statuses.push(status);
                if (!flags.json) {
                    io.stdout(`${i > 0 ? "\n" : ""}${formatStatus(status, project, now)}`);
                }
            }
            if (flags.json) {
                const json = statuses.map(({ plan, fleets }) => ({ stack: plan.stack, protected: plan.protected, fleets: plan.fleets.map(({ changes, ...fleet }) => (void changes, { ...fleet, ...fleets.find((s) => s.fleet === fleet.name) })) }));
                io.stdout(`${JSON.stringify(json.length === 1 ? json[0] : json, null, 2)}\n`);
            }
            exit(ExitCode.Ok);
        });
}
