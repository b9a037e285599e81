/**
 * How `herd apply` replaces an OpenStack fleet's servers one batch at a time, and the preflight
 * `herd plan` and `herd apply` hold the change to: what it needs at its peak against the
 * project's quota and compute hosts (Nova's figures when `OS_*` reach the cloud, else
 * `herd:openstack.quota` and `computeHosts`).
 */
import { BatchError, type BatchRequest, type BatchSession, type FleetBatches, nameOfUrn, type PlanCheck, type PlanCheckRequest, type StateResource } from "../fleet/batches";
import { openstackEnvironment } from "./cloudsYaml";
import type { ApplyMode, FlavorSize, FleetChange, SlotServer } from "./peak";
import { cloudEnvironment, type CloudLimits, cloudName, type DeclaredLimits, fleetChange, formatPreflight, NovaClient, type Preflight, preflight, serversOf, slotsByFleet } from "./preflight";
import type { OpenStackSettings } from "./schema";
import type { ServerGroupArgs } from "./serverGroup";

const INSTANCE = "openstack:compute/instance:Instance";
/** A member's companions, replaced with it: its pool member (`${member}-lb`) and volume attachment (`${member}-data`). */
const COMPANIONS: Readonly<Record<string, string>> = { "-lb": "openstack:loadbalancer/member:Member", "-data": "openstack:compute/volumeAttach:VolumeAttach" };

/** The fleets' servers as the stack's state holds them: slot, generation and flavor of every member, by fleet. */
export function deployedServers(resources: readonly StateResource[]): Map<string, SlotServer[]> {
    return slotsByFleet(
        resources
            .filter((r) => r.type === INSTANCE)
            .map((r) => ({ metadata: (r.inputs?.metadata ?? {}) as Record<string, string>, flavor: String(r.inputs?.flavorName ?? r.inputs?.flavorId ?? "") })),
    );
}

/** The URNs of `slots`' members of `fleet` and their companions, as the state has them (not their volumes: those are kept). */
export function serverTargets(resources: readonly StateResource[], fleet: string, slots: readonly number[]): string[] {
    const wanted = new Map<string, string>();
    for (const slot of slots) {
        const member = `${fleet}-${slot}`;
        wanted.set(member, INSTANCE);
        for (const [suffix, type] of Object.entries(COMPANIONS)) {
            wanted.set(`${member}${suffix}`, type);
        }
    }
    return resources.filter((r) => r.custom !== false && wanted.get(nameOfUrn(r.urn)) === r.type).map((r) => r.urn);
}

/** Nova's figures for the project, when the environment reaches a cloud (`OS_*`). */
interface CloudView {
    readonly client: NovaClient;
    readonly limits: CloudLimits;
    readonly flavors: ReadonlyMap<string, FlavorSize>;
}

/** Logs in with the `OS_*` variables and reads the project's limits and flavors; `undefined` without them. */
async function cloudView(env: NodeJS.ProcessEnv): Promise<CloudView | undefined> {
    const credentials = reachableCloud(env);
    if (!credentials) {
        return undefined;
    }
    try {
        const client = await NovaClient.login(credentials);
        const [limits, flavors] = await Promise.all([client.limits(), client.flavors()]);
        return { client, limits, flavors };
    } catch (err) {
        throw new BatchError(`the OpenStack cloud of ${cloudName(env)} cannot be read for the preflight: ${(err as Error).message}`);
    }
}

/**
 * The environment's credentials when they reach a cloud (`OS_*`, or `OS_CLOUD` and its
 * clouds.yaml, read once here), else `undefined`; a `BatchError` when `OS_CLOUD` names none.
 */
function reachableCloud(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | undefined {
    try {
        const credentials = openstackEnvironment(env);
        return cloudEnvironment(credentials) ? credentials : undefined;
    } catch (err) {
        throw new BatchError(`the OpenStack cloud of ${cloudName(env)} cannot be read for the preflight: ${(err as Error).message}`);
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the servers `names` are ACTIVE and, with a load balancer, their addresses are
 * ACTIVE members of the fleet's pool, none of them in ERROR; fails at once on a server in ERROR,
 * and after `waitMs`.
 */
async function waitForMembers(client: NovaClient, stack: string, args: ServerGroupArgs, names: readonly string[], waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    let status = "";
    for (;;) {
        const servers = (await client.stackServers(stack)).filter((s) => names.includes(s.name));
        const failed = servers.find((s) => s.status === "ERROR");
        if (failed) {
            throw new Error(`server ${failed.name} is in ERROR`);
        }
        const active = servers.filter((s) => s.status === "ACTIVE");
        status = `${active.length} of ${names.length} ACTIVE`;
        if (active.length === names.length) {
            if (!args.loadBalancer) {
                return;
            }
            const addresses = active.flatMap((s) => Object.values(s.addresses ?? {}).flatMap((list) => list.map((a) => a.addr)));
            const members = (await client.poolMembers(args.groupName ?? "")).filter((m) => addresses.includes(m.address));
            const broken = members.find((m) => m.provisioning_status === "ERROR" || m.operating_status === "ERROR");
            if (broken) {
                throw new Error(`pool member ${broken.address} is in ERROR`);
            }
            const ready = members.filter((m) => m.provisioning_status === "ACTIVE");
            status += `, ${ready.length} of ${names.length} ACTIVE in pool ${args.groupName}`;
            if (ready.length >= names.length) {
                return;
            }
        }
        if (Date.now() > deadline) {
            throw new Error(`after ${Math.round(waitMs / 1000)} s, ${status} (${names.join(", ")})`);
        }
        await sleep(2000);
    }
}

/**
 * A `herd apply` of OpenStack fleets: each fleet's change from the servers the state holds, the
 * preflight of doing it one batch at a time (refused when even that does not fit), and after a
 * batch's `up`, a wait until its new servers are ACTIVE and in their pool (when the cloud is reached).
 */
async function openBatches(request: BatchRequest<ServerGroupArgs, OpenStackSettings>): Promise<BatchSession> {
    const before = deployedServers(request.state);
    const changes: FleetChange[] = request.fleets.map((f) => fleetChange(f.name, f.args, before.get(f.name) ?? []));
    const cloud = await cloudView(request.env);
    const checked = preflight(changes, "batches", declaredOf(request.settings), cloud);
    const args = new Map(request.fleets.map((f) => [f.name, f.args]));
    const generations = new Map(changes.map((c) => [c.fleet, new Map(c.after.map((s) => [s.slot, s.generation]))]));
    return {
        changes,
        report: formatPreflight(request.stack, checked),
        problems: checked.problems.map((p) => p.message),
        targets: (fleet, slots) => serverTargets(request.state, fleet, slots),
        settle: async (fleet, slots, waitMs) => {
            const fleetArgs = args.get(fleet);
            if (!cloud || !fleetArgs) {
                return undefined;
            }
            const servers = slots.map((slot) => `${fleet}-${slot}-${generations.get(fleet)?.get(slot)}`);
            await waitForMembers(cloud.client, request.stack, fleetArgs, servers, waitMs);
            return `${servers.join(", ")} ACTIVE${fleetArgs.loadBalancer ? " and in the pool" : ""}`;
        },
    };
}

/** The limits `herd:openstack` declares. */
function declaredOf(settings: OpenStackSettings | undefined): DeclaredLimits {
    return settings ?? {};
}

/** Whether a fleet's change leaves every slot as it is. */
function unchanged(change: FleetChange): boolean {
    const before = new Map(change.before.map((s) => [s.slot, s.generation]));
    return change.before.length === change.after.length && change.after.every((s) => before.get(s.slot) === s.generation);
}

/**
 * The preflight `herd plan` prints: the change from the fleets of the revision planned against
 * to the planned ones, held against Nova's limits where the environment reaches the cloud, else
 * the declared quota, for a plain `pulumi up` and for `herd apply`. `undefined` when no fleet
 * changes, or there is no limit to hold it against (hard anti-affinity on the declared hosts is
 * checked with the config already).
 */
async function planBatches(request: PlanCheckRequest<ServerGroupArgs, OpenStackSettings>): Promise<PlanCheck | undefined> {
    const declared = declaredOf(request.settings);
    if (request.fleets.length === 0 || (declared.quota === undefined && !reachableCloud(request.env))) {
        return undefined;
    }
    const before = new Map<string, SlotServer[]>((request.previous ?? []).map((f) => [f.name, serversOf(f.name, f.args)]));
    const changes = request.fleets.map((f) => fleetChange(f.name, f.args, before.get(f.name) ?? []));
    if (changes.every(unchanged)) {
        return undefined;
    }
    const cloud = await cloudView(request.env);
    const modes: ApplyMode[] = ["up", "batches"];
    const [up, batches] = modes.map((mode): Preflight => preflight(changes, mode, declared, cloud));
    const lines = [formatPreflight(request.stack, up), formatPreflight(request.stack, batches)];
    if (up.problems.length > 0 && batches.problems.length === 0) {
        lines.push(`  a plain pulumi up of this change would be refused: apply it with herd apply --stack ${request.stack}`);
    }
    return { report: `${lines.join("\n")}\n`, problems: batches.problems.map((p) => p.message) };
}

/** `herd apply` and `herd plan` for OpenStack fleets (the backend's `batches`). */
export const openstackBatches: FleetBatches<ServerGroupArgs, OpenStackSettings> = { title: "OpenStack", open: openBatches, plan: planBatches };
