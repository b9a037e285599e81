import { FLEETS_KEY, StackConfig } from "../config";
import { resolveStack } from "../fleet";
import type { DockerWorkloadArgs } from "../docker/workload";
import type { ServerGroupArgs } from "../openstack";
import type { ApplyMode, FlavorSize, FleetChange, SlotServer } from "../openstack/peak";
import { openstackEnvironment } from "../openstack/cloudsYaml";
import { cloudEnvironment, CloudLimits, cloudName, DeclaredLimits, fleetChange, formatPreflight, NovaClient, Preflight, preflight, serversOf } from "../openstack/preflight";
import { fileAtRevision } from "./git";
import { CliError } from "./io";
import { StackProject, stackConfigOf } from "./project";

/** The fleets of a stack config whose batches herd owns — OpenStack and Docker — and the limits it declares. */
export interface OpenStackStack {
    readonly fleets: readonly { readonly name: string; readonly args: ServerGroupArgs }[];
    readonly dockerFleets: readonly { readonly name: string; readonly args: DockerWorkloadArgs }[];
    readonly declared: DeclaredLimits;
}

/**
 * The OpenStack and Docker fleets of a stack config (validated: an invalid config throws its
 * ConfigError); none in a stack whose fleets are all built in code (no `herd:fleets`).
 */
export function openstackStack(config: StackConfig, project: Pick<StackProject, "stack" | "dir">): OpenStackStack {
    if (config[FLEETS_KEY] === undefined) {
        return { fleets: [], dockerFleets: [], declared: {} };
    }
    const { fleets, openstack } = resolveStack({ fleets: config["herd:fleets"], openstack: config["herd:openstack"] }, { stack: project.stack, projectDir: project.dir });
    return {
        fleets: fleets.flatMap((fleet) => (fleet.backend === "openstack" ? [{ name: fleet.name, args: fleet.args }] : [])),
        dockerFleets: fleets.flatMap((fleet) => (fleet.backend === "docker" ? [{ name: fleet.name, args: fleet.args }] : [])),
        declared: openstack ?? {},
    };
}

/** Nova's figures for the project, when the environment reaches a cloud (`OS_*`). */
export interface CloudView {
    readonly client: NovaClient;
    readonly limits: CloudLimits;
    readonly flavors: ReadonlyMap<string, FlavorSize>;
}

/** Logs in with the `OS_*` variables and reads the project's limits and flavors; `undefined` without them. */
export async function cloudView(env: NodeJS.ProcessEnv): Promise<CloudView | undefined> {
    const credentials = reachableCloud(env);
    if (!credentials) {
        return undefined;
    }
    try {
        const client = await NovaClient.login(credentials);
        const [limits, flavors] = await Promise.all([client.limits(), client.flavors()]);
        return { client, limits, flavors };
    } catch (err) {
        throw new CliError(`the OpenStack cloud of ${cloudName(env)} cannot be read for the preflight: ${(err as Error).message}`);
    }
}

/**
 * The environment's credentials when they reach a cloud (`OS_*`, or `OS_CLOUD` and its
 * clouds.yaml, read once here), else `undefined`; a `CliError` when `OS_CLOUD` names none.
 */
function reachableCloud(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | undefined {
    try {
        const credentials = openstackEnvironment(env);
        return cloudEnvironment(credentials) ? credentials : undefined;
    } catch (err) {
        throw new CliError(`the OpenStack cloud of ${cloudName(env)} cannot be read for the preflight: ${(err as Error).message}`);
    }
}

/** The changes of the stack's OpenStack fleets from what they hold (`before`, by fleet) to their config. */
export function fleetChanges(stack: OpenStackStack, before: ReadonlyMap<string, readonly SlotServer[]>, fleet?: string): FleetChange[] {
    return stack.fleets.filter((f) => fleet === undefined || f.name === fleet).map((f) => fleetChange(f.name, f.args, before.get(f.name) ?? []));
}

/** The preflight of both ways of applying a change: a plain `pulumi up`, and `herd apply`. */
export interface PlanPreflight {
    readonly up: Preflight;
    readonly batches: Preflight;
}

/**
 * The preflight `herd plan` prints: the change from the stack file at `against` to `text` (of
 * `fleet` alone, when given), held against Nova's limits where the environment reaches the
 * cloud, else the declared quota. `undefined` when no OpenStack fleet changes, or there is no
 * limit to hold it against.
 */
export async function planPreflight(project: StackProject, text: string, against: string | null, env: NodeJS.ProcessEnv, fleet?: string): Promise<PlanPreflight | undefined> {
    const current = openstackStack(stackConfigOf(text, project.stackFileName), project);
    // Nothing to hold the peak against: hard anti-affinity on the declared hosts is checked with the config already.
    if (current.fleets.length === 0 || (current.declared.quota === undefined && !reachableCloud(env))) {
        return undefined;
    }
    const previousText = against === null ? null : fileAtRevision(project.dir, against, project.stackFileName);
    const before = new Map<string, SlotServer[]>();
    if (previousText !== null) {
        const previous = openstackStack(stackConfigOf(previousText, `${project.stackFileName} at ${against}`), project);
        previous.fleets.forEach((f) => before.set(f.name, serversOf(f.name, f.args)));
    }
    const changes = fleetChanges(current, before, fleet);
    if (changes.every(unchanged)) {
        return undefined;
    }
    const cloud = await cloudView(env);
    const modes: ApplyMode[] = ["up", "batches"];
    const [up, batches] = modes.map((mode) => preflight(changes, mode, current.declared, cloud));
    return { up, batches };
}

/** Whether a fleet's change leaves every slot as it is. */
function unchanged(change: FleetChange): boolean {
    const before = new Map(change.before.map((s) => [s.slot, s.generation]));
    return change.before.length === change.after.length && change.after.every((s) => before.get(s.slot) === s.generation);
}

/** The preflight in words, for `herd plan`'s text: both ways, and which one the stack can take. */
export function formatPlanPreflight(stack: string, result: PlanPreflight): string {
    const lines = [formatPreflight(stack, result.up), formatPreflight(stack, result.batches)];
    if (result.up.problems.length > 0 && result.batches.problems.length === 0) {
        lines.push(`  a plain pulumi up of this change would be refused: apply it with herd apply --stack ${stack}`);
    }
    return `${lines.join("\n")}\n`;
}
