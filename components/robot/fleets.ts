import { ConfigError, FLEETS_KEY } from "../config";
import { type BackendName, checkBackendSettings, parseFleets, releaseGeneration, resolveFleets } from "../fleet";
import { defaultMinHealthy } from "../monitoring/rules";
import { defaultBatch } from "../rollout";
import { stackConfigOf } from "../cli/project";

/** How the robot may treat a fleet (`herd:fleets.<fleet>.robot`). */
export type RollbackMode = "off" | "commit" | "branch";

/** What the robot knows of a fleet: read from its stack file each time an alert names it. */
export interface RobotFleet {
    readonly name: string;
    readonly backend: BackendName;
    /** Number of slots. */
    readonly size: number;
    /** The floor the robot never takes the fleet below (`alerts.minHealthy`, or its default). */
    readonly minHealthy: number;
    /** The fleet's stack config (`herd:fleets.<fleet>`), validated: what its backend's heal reads (a Kubernetes fleet's namespace). */
    readonly config?: unknown;
    /** Whether a member that is down may be replaced. @default true */
    readonly heal: boolean;
    /** What a canary alert during a rollout does. @default "off" */
    readonly rollback: RollbackMode;
    /** Slots on the release while a rollout is under way (`rollout.members`); `undefined` without one. */
    readonly rolloutMembers?: number;
    /**
     * The generation the rollout's canary runs (its `release`), to tell a canary alert of this
     * rollout from a stale one; `undefined` without a rollout, or when the release's files cannot
     * be read.
     */
    readonly rolloutGeneration?: string;
}

/** What the robot knows of a stack. */
export interface RobotStack {
    readonly fleets: Readonly<Record<string, RobotFleet>>;
    /** Each backend's `herd:<backend>` the stack sets, validated (how its heal reaches the cluster). */
    readonly settings?: Readonly<Partial<Record<BackendName, unknown>>>;
}

/**
 * The fleets of a stack file (`herd:fleets`), validated as the program validates them, with what
 * the robot needs of each. Fleets built in code (`herd:rollouts`) are not listed: their size and
 * floor are in the program, not in the file.
 *
 * @throws ConfigError when the stack's config is invalid; CliError when it is no stack file
 */
export function robotStack(text: string, fileName: string, stack: string, projectDir: string): RobotStack {
    const config = stackConfigOf(text, fileName);
    const fleets = config[FLEETS_KEY] === undefined ? {} : parseFleets(config[FLEETS_KEY], stack);
    // Checked as the program checks them, but for the files they name: the robot's host may not hold them.
    const checked = checkBackendSettings((key) => config[key]);
    if (checked.problems.length > 0) {
        throw new ConfigError(stack, checked.problems);
    }
    const settings: Partial<Record<BackendName, unknown>> = Object.fromEntries(checked.settings);
    // Reading the fleets' files for their generations is only needed while a rollout is under way.
    const rolling = Object.values(fleets).some((fleet) => fleet.rollout?.previous !== undefined);
    const generations = rolling ? rolloutGenerations(config[FLEETS_KEY], stack, projectDir) : new Map<string, string>();
    const result: Record<string, RobotFleet> = {};
    for (const [name, fleet] of Object.entries(fleets)) {
        const members = fleet.rollout?.previous !== undefined ? fleet.rollout.members : undefined;
        const generation = members !== undefined ? generations.get(name) : undefined;
        result[name] = {
            name,
            backend: fleet.backend,
            size: fleet.size,
            minHealthy: fleet.alerts?.minHealthy ?? defaultMinHealthy(fleet.size, fleet.update?.batch ?? defaultBatch(fleet.size)),
            config: fleet,
            heal: fleet.robot?.heal ?? true,
            rollback: fleet.robot?.rollback ?? "off",
            ...(members !== undefined ? { rolloutMembers: members } : {}),
            ...(generation !== undefined ? { rolloutGeneration: generation } : {}),
        };
    }
    return { fleets: result, settings };
}

/**
 * The generation of each fleet's `release`, by fleet, as the program computes it (user data and
 * probe files read from the project). Empty when the fleets cannot be resolved (a file missing
 * in this checkout): the robot then cannot tell a stale canary alert, and acts as without one.
 */
function rolloutGenerations(raw: unknown, stack: string, projectDir: string): Map<string, string> {
    try {
        return new Map(resolveFleets(raw, { stack, projectDir }).map((fleet) => [fleet.name, releaseGeneration(fleet)]));
    } catch {
        return new Map();
    }
}
