/**
 * The preflight of a change of OpenStack fleets: what it needs at its peak ({@link peakOf}) for
 * the way it is applied, against the project's quota and compute hosts — Nova's own figures when
 * the cloud is reachable (the `OS_*` variables the provider reads), else the limits the stack
 * declares (`herd:openstack.quota`, `herd:openstack.computeHosts`).
 */
import { APPLY_VARIABLE } from "../fleet/batches";
import { defaultBatch } from "../rollout";
import { openstackEnvironment } from "./cloudsYaml";
import { groupNameOf, planMembers } from "./members";
import { ApplyMode, FlavorSize, FleetChange, formatPeak, Limits, Peak, PeakProblem, peakOf, peakProblems, SlotServer } from "./peak";
import type { ServerGroupArgs } from "./serverGroup";

/** The limits a stack declares of its project (`herd:openstack`). */
export interface DeclaredLimits {
    /** `herd:openstack.quota`. */
    readonly quota?: { readonly instances?: number; readonly cores?: number; readonly ramMB?: number };
    /** `herd:openstack.flavors`: sizes of flavors by name, for vCPUs and RAM. */
    readonly flavors?: Readonly<Record<string, FlavorSize>>;
    /** `herd:openstack.computeHosts`. */
    readonly computeHosts?: number;
}

/** One slot per member, as the fleet's arguments plan it. */
export function serversOf(fleet: string, args: ServerGroupArgs): SlotServer[] {
    return planMembers(fleet, {
        size: args.size,
        release: args.release,
        rollout: args.rollout,
        batch: args.update?.batch,
        securityGroupName: groupNameOf(fleet, args),
        probes: args.probes,
    }).map((m) => ({ slot: m.slot, generation: m.generation, flavor: m.release.flavor }));
}

/** A fleet's change from the servers it has to what `args` want. */
export function fleetChange(fleet: string, args: ServerGroupArgs, before: readonly SlotServer[]): FleetChange {
    return {
        fleet,
        before,
        after: serversOf(fleet, args),
        batch: args.update?.batch ?? defaultBatch(args.size),
        // A member with a data volume is replaced delete-before-create (see ServerGroup).
        createBeforeDelete: args.update?.order !== "delete-before-create" && args.volume === undefined,
        antiAffinity: args.spread === "anti-affinity",
    };
}

/** What the cloud says of the project, read through {@link NovaClient}. */
export interface CloudLimits {
    readonly maxTotalInstances: number;
    readonly totalInstancesUsed: number;
    readonly maxTotalCores: number;
    readonly totalCoresUsed: number;
    readonly maxTotalRAMSize: number;
    readonly totalRAMUsed: number;
}

/** The result of a preflight: the peak, the limits it was held against, and what does not fit. */
export interface Preflight {
    readonly peak: Peak;
    readonly limits: Limits;
    readonly problems: readonly PeakProblem[];
}

/**
 * Holds a change against limits: Nova's (`cloud`) where given, else the declared ones; the
 * compute hosts are always the declared `computeHosts` (a project cannot list hypervisors).
 */
export function preflight(
    fleets: readonly FleetChange[],
    mode: ApplyMode,
    declared: DeclaredLimits,
    cloud?: { readonly limits: CloudLimits; readonly flavors: ReadonlyMap<string, FlavorSize> },
): Preflight {
    const flavor = (name: string) => cloud?.flavors.get(name) ?? declared.flavors?.[name];
    const peak = peakOf(fleets, mode, flavor);
    const hosts = declared.computeHosts === undefined ? {} : { hosts: declared.computeHosts };
    let limits: Limits;
    if (cloud) {
        const l = cloud.limits;
        limits = {
            source: "Nova's GET /limits",
            instances: { max: l.maxTotalInstances, used: l.totalInstancesUsed },
            cores: { max: l.maxTotalCores, used: l.totalCoresUsed },
            ramMB: { max: l.maxTotalRAMSize, used: l.totalRAMUsed },
            ...hosts,
        };
    } else {
        const q = declared.quota ?? {};
        limits = {
            source: declared.quota === undefined ? "no cloud reached (OS_*) and no herd:openstack.quota" : "herd:openstack.quota",
            ...(q.instances === undefined ? {} : { instances: { max: q.instances } }),
            ...(q.cores === undefined ? {} : { cores: { max: q.cores } }),
            ...(q.ramMB === undefined ? {} : { ramMB: { max: q.ramMB } }),
            ...hosts,
        };
    }
    return { peak, limits, problems: peakProblems(peak, limits) };
}

/** The preflight in words: one line of the peak, then one line per problem. */
export function formatPreflight(stack: string, result: Preflight): string {
    const head = `preflight of stack ${stack}: ${result.peak.mode === "up" ? "a plain pulumi up" : "herd apply"} needs at its peak ${formatPeak(result.peak)} (limits: ${result.limits.source})`;
    return [head, ...result.problems.map((p) => `  refused: ${p.message}`)].join("\n");
}

/** A server as Nova lists it (microversion 2.47 and later give the flavor's name). */
export interface NovaServer {
    readonly id: string;
    readonly name: string;
    readonly status: string;
    readonly metadata: Readonly<Record<string, string>>;
    readonly flavor: { readonly original_name?: string; readonly vcpus?: number; readonly ram?: number };
    readonly addresses?: Readonly<Record<string, readonly { readonly addr: string }[]>>;
}

/**
 * Whether the environment reaches an OpenStack cloud as the provider does: `OS_AUTH_URL`,
 * `OS_USERNAME`… (an `openrc`), or `OS_CLOUD` and its `clouds.yaml` (see `openstackEnvironment`).
 *
 * @throws Error when `OS_CLOUD` names a cloud no `clouds.yaml` holds
 */
export function cloudEnvironment(env: NodeJS.ProcessEnv): boolean {
    const full = openstackEnvironment(env);
    return Boolean(full.OS_AUTH_URL && (full.OS_PASSWORD || full.OS_TOKEN) && (full.OS_USERNAME || full.OS_USER_ID || full.OS_TOKEN));
}

/** The cloud the environment names, in words: `OS_CLOUD=prod` or `OS_AUTH_URL (https://…)`. */
export function cloudName(env: NodeJS.ProcessEnv): string {
    return env.OS_CLOUD && !env.OS_AUTH_URL ? `OS_CLOUD=${env.OS_CLOUD}` : `OS_AUTH_URL (${env.OS_AUTH_URL})`;
}

/**
 * A project's session with Nova (and Octavia), from the `OS_*` variables: a Keystone token, then
 * plain JSON requests. Only what the preflight and `herd apply` read.
 */
export class NovaClient {
    private constructor(
        private readonly token: string,
        private readonly endpoints: ReadonlyMap<string, string>,
    ) {}

    /** Logs in with the `OS_*` variables or the `clouds.yaml` entry of `OS_CLOUD` (password authentication, v3). */
    static async login(given: NodeJS.ProcessEnv): Promise<NovaClient> {
        const env = openstackEnvironment(given);
        const authUrl = (env.OS_AUTH_URL ?? "").replace(/\/?$/, "/");
        const domain = (name?: string, id?: string) => (id ? { id } : { name: name ?? "Default" });
        const response = await fetch(new URL("auth/tokens", authUrl), {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
                auth: {
                    identity: {
                        methods: ["password"],
                        password: {
                            user: env.OS_USER_ID
                                ? { id: env.OS_USER_ID, password: env.OS_PASSWORD }
                                : { name: env.OS_USERNAME, domain: domain(env.OS_USER_DOMAIN_NAME, env.OS_USER_DOMAIN_ID), password: env.OS_PASSWORD },
                        },
                    },
                    scope: {
                        project: env.OS_PROJECT_ID
                            ? { id: env.OS_PROJECT_ID }
                            : { name: env.OS_PROJECT_NAME ?? env.OS_TENANT_NAME, domain: domain(env.OS_PROJECT_DOMAIN_NAME, env.OS_PROJECT_DOMAIN_ID) },
                    },
                },
            }),
            signal: AbortSignal.timeout(30_000),
        });
        if (response.status !== 201) {
            throw new Error(`Keystone at ${env.OS_AUTH_URL} refused the login of ${env.OS_USERNAME ?? env.OS_USER_ID}: ${response.status}`);
        }
        const token = response.headers.get("x-subject-token") as string;
        const catalog = ((await response.json()) as { token: { catalog: { type: string; endpoints: { interface: string; region: string; url: string }[] }[] } }).token.catalog;
        const endpoints = new Map<string, string>();
        for (const entry of catalog) {
            const endpoint = entry.endpoints.find((e) => e.interface === (env.OS_INTERFACE ?? "public") && (!env.OS_REGION_NAME || e.region === env.OS_REGION_NAME));
            if (endpoint) {
                endpoints.set(entry.type, endpoint.url.replace(/\/?$/, "/"));
            }
        }
        return new NovaClient(token, endpoints);
    }

    private async get<T>(service: string, urlPath: string, microversion?: string): Promise<T> {
        const base = this.endpoints.get(service);
        if (!base) {
            throw new Error(`the cloud's catalog has no ${service} endpoint`);
        }
        const headers: Record<string, string> = { "x-auth-token": this.token, accept: "application/json" };
        if (microversion) {
            headers["openstack-api-version"] = `${service} ${microversion}`;
        }
        const response = await fetch(new URL(urlPath, base), { headers, signal: AbortSignal.timeout(60_000) });
        if (response.status !== 200) {
            throw new Error(`GET ${service} ${urlPath}: ${response.status} ${(await response.text()).slice(0, 200)}`);
        }
        return (await response.json()) as T;
    }

    /** The project's absolute limits and usage (`GET /limits`). */
    async limits(): Promise<CloudLimits> {
        const { limits } = await this.get<{ limits: { absolute: CloudLimits } }>("compute", "limits");
        return limits.absolute;
    }

    /** Every flavor's size, by name and by ID. */
    async flavors(): Promise<Map<string, FlavorSize>> {
        const { flavors } = await this.get<{ flavors: { id: string; name: string; vcpus: number; ram: number }[] }>("compute", "flavors/detail?is_public=None");
        const sizes = new Map<string, FlavorSize>();
        for (const f of flavors) {
            sizes.set(f.name, { vcpus: f.vcpus, ramMB: f.ram });
            sizes.set(f.id, { vcpus: f.vcpus, ramMB: f.ram });
        }
        return sizes;
    }

    /** The project's servers that carry `herd-stack: stack`, with their status. */
    async stackServers(stack: string): Promise<NovaServer[]> {
        const { servers } = await this.get<{ servers: NovaServer[] }>("compute", "servers/detail", "2.47");
        return servers.filter((s) => s.metadata["herd-stack"] === stack);
    }

    /** The members of a load balancer pool named `pool`, with their status. */
    async poolMembers(pool: string): Promise<{ address: string; provisioning_status: string; operating_status: string }[]> {
        const { pools } = await this.get<{ pools: { id: string }[] }>("load-balancer", `v2/lbaas/pools?name=${encodeURIComponent(pool)}`);
        if (pools.length !== 1) {
            return [];
        }
        const { members } = await this.get<{ members: { address: string; provisioning_status: string; operating_status: string }[] }>("load-balancer", `v2/lbaas/pools/${pools[0].id}/members`);
        return members;
    }
}

/**
 * Servers by fleet, as slots, read from the herd metadata each carries (`herd-fleet`,
 * `herd-slot`, `herd-generation`); a server without a fleet or a whole slot number is not a member.
 */
export function slotsByFleet(servers: Iterable<{ readonly metadata: Readonly<Record<string, string>>; readonly flavor: string }>): Map<string, SlotServer[]> {
    const byFleet = new Map<string, SlotServer[]>();
    for (const { metadata, flavor } of servers) {
        const fleet = metadata["herd-fleet"];
        const slot = Number(metadata["herd-slot"]);
        if (!fleet || !Number.isInteger(slot)) {
            continue;
        }
        byFleet.set(fleet, [...(byFleet.get(fleet) ?? []), { slot, generation: metadata["herd-generation"] ?? "", flavor }]);
    }
    return byFleet;
}

/** The stack's servers by fleet, as slots: what the fleets hold now, seen from the cloud. */
export function slotsFromServers(servers: readonly NovaServer[]): Map<string, SlotServer[]> {
    return slotsByFleet(servers.filter((s) => s.status !== "DELETED").map((s) => ({ metadata: s.metadata, flavor: s.flavor.original_name ?? "" })));
}


/**
 * The program's preflight, run by `pulumi up` and `pulumi preview` before any OpenStack resource
 * is registered: where the environment reaches the cloud (`OS_*`), the change from the servers
 * the stack has (their `herd-stack`, `herd-fleet`, `herd-slot` and `herd-generation` metadata) to
 * the config is held against Nova's limits and the declared compute hosts — for a plain `up`, or
 * for one batch under `herd apply` (which sets `HERD_APPLY=batches`). Without `OS_*` nothing is
 * checked here: `herd plan` and `herd apply` check the declared quota.
 *
 * @throws Error with the numbers when the change does not fit
 */
export async function programPreflight(
    stack: string,
    fleets: readonly { readonly name: string; readonly args: ServerGroupArgs }[],
    declared: DeclaredLimits,
    env: NodeJS.ProcessEnv,
): Promise<void> {
    if (fleets.length === 0) {
        return;
    }
    // clouds.yaml is read once: the filled-in variables are all the login needs.
    const credentials = openstackEnvironment(env);
    if (!cloudEnvironment(credentials)) {
        return;
    }
    const client = await NovaClient.login(credentials);
    const [servers, limits, flavors] = await Promise.all([client.stackServers(stack), client.limits(), client.flavors()]);
    const before = slotsFromServers(servers);
    const changes = fleets.map((f) => fleetChange(f.name, f.args, before.get(f.name) ?? []));
    const mode: ApplyMode = env[APPLY_VARIABLE] === "batches" ? "batches" : "up";
    const result = preflight(changes, mode, declared, { limits, flavors });
    if (result.problems.length === 0) {
        return;
    }
    const batches = mode === "up" ? preflight(changes, "batches", declared, { limits, flavors }) : undefined;
    const hint = batches && batches.problems.length === 0 ? `; herd apply --stack ${stack} applies it one batch at a time and needs ${formatPeak(batches.peak)}` : "";
    throw new Error(`herd preflight refused stack ${stack}, before any server is created: ${result.problems.map((p) => p.message).join("; ")}${hint}`);
}
