/**
 * herd's guardrails, as CrossGuard policies.
 *
 * herd's components register no inputs of their own (they pass `{}` to `super`, so that no
 * Output is left pending), so the policies read what the components create:
 * - per-resource rules look at the concrete resources (OpenStack security group rules and
 *   instances, Kubernetes workloads, Docker containers and images), whoever created them, so a
 *   resource written by hand next to herd's fleets is held to the same rules;
 * - per-fleet rules (size, spread, health) are stack policies that group those resources under
 *   the herd component that is their parent (`herd:openstack:ServerGroup`,
 *   `herd:kubernetes:Workload`, `herd:docker:Workload`), and ask the fleet's backend, through the
 *   fleet registry, how to read them (`FleetBackend.policy`, each backend's `policy.ts`);
 * - the rollout waves are in no resource at all, only in the stack config (`herd:fleets`), which
 *   the first-wave rule reads.
 *
 * Every policy applies to the stacks named in its `stacks` setting (`prod` by default) and is
 * "not applicable" elsewhere. When the stack's name is unknown, the rules apply.
 */
import type {
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
// ipaddr.js (also what Express uses for trusted proxies) parses every notation of an address
// and prefix a cloud API may accept (`0/0`, `0.0.0.0/00`, `::ffff:0:0/96`); a pattern would not.
import * as ipaddr from "ipaddr.js";
import { canonicalJson } from "../components/release/generation";
import { DEFAULT_WAVES, waveSchedule } from "../components/rollout/waves";
import { FleetSlots, protectionRefusal } from "../components/cli/protect";
import { type BackendName, FLEET_BACKENDS } from "../components/fleet/backends";
import { fleetLabel as label, type FleetPolicy } from "../components/fleet/policy";
// The per-resource rules read OpenStack security group rules and pod workloads, whoever created them.
import { POD_WORKLOADS, podSpecOf } from "../components/kubernetes/policy";
import { portsOpened } from "../components/openstack/policy";

/** The stack config a change is compared with, for the protected-rollout rule. */
export interface PolicyBase {
    /** `herd:fleets` there, as written. */
    readonly fleets: unknown;
    /** `herd:protected` there. */
    readonly protected?: unknown;
    /** Reads a project file (user data) as it was there; `undefined` when it cannot. */
    readonly readFile?: (file: string) => string | undefined;
}

/** What the policies know about the stack under check. */
export interface PolicyEnvironment {
    /** The stack's name; `""` when the CLI does not say. */
    stack(): string;
    /** `herd:fleets` from the stack config, as written; `undefined` when the stack has none. */
    fleets(): unknown;
    /** `herd:protected` from the stack config. @default not protected */
    protected?(): unknown;
    /** The stack config the change is compared with; `undefined` when unknown. @default unknown */
    base?(): PolicyBase | undefined;
    /** Reads a project file (user data) as the change has it; `undefined` when it cannot. @default none */
    readFile?(file: string): string | undefined;
}

/** Settings every policy takes (`pulumi preview --policy-pack-config`). */
export interface GuardrailConfig {
    /** Stacks the policy applies to. @default ["prod"] */
    stacks?: string[];
    /** Fewest members a fleet may have (herd-fleet-redundancy). @default 2 */
    minMembers?: number;
    /** Ports that must never be open to the world (no-admin-port-open-to-world). @default {@link ADMIN_PORTS} */
    adminPorts?: number[];
    /** Ports that do not make a fleet a serving one, such as node_exporter's (herd-health-checked). @default [9100] */
    monitoringPorts?: number[];
    /** Largest first wave, in percent of the fleet; one member is always allowed (first-wave-small). @default 10 */
    maxFirstWavePercent?: number;
    /**
     * Compute hosts the cloud has for a fleet's members (herd-fleet-redundancy): Nova cannot
     * place more members of a hard `anti-affinity` group than that. @default no limit checked
     */
    computeHosts?: number;
}

/** Ports of remote administration, which no prod security group opens to 0.0.0.0/0 or ::/0. */
export const ADMIN_PORTS: Readonly<Record<number, string>> = {
    22: "SSH",
    23: "Telnet",
    2375: "Docker API",
    2376: "Docker API over TLS",
    2379: "etcd",
    2380: "etcd peers",
    3389: "RDP",
    5985: "WinRM",
    5986: "WinRM over TLS",
    6443: "Kubernetes API",
    10250: "kubelet",
    10255: "kubelet, read-only",
};

/** Each backend's answers to the fleet rules, in the registry's order. */
const FLEET_POLICIES: readonly FleetPolicy[] = Object.values(FLEET_BACKENDS).map((backend) => backend.policy);

/** The herd component types whose children make up a fleet, by backend. */
export const FLEET_TYPES = Object.fromEntries(Object.entries(FLEET_BACKENDS).map(([name, backend]) => [name, backend.policy.componentType])) as Record<BackendName, string>;

const T = {
    instance: "openstack:compute/instance:Instance",
    secGroupRule: "openstack:networking/secGroupRule:SecGroupRule",
    container: "docker:index/container:Container",
    remoteImage: "docker:index/remoteImage:RemoteImage",
} as const;

const DIGEST = /@sha256:[0-9a-f]{64}$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

const configSchema = {
    properties: {
        stacks: { type: "array" as const, items: { type: "string" as const }, default: ["prod"] },
        minMembers: { type: "integer" as const, minimum: 1, default: 2 },
        adminPorts: { type: "array" as const, items: { type: "integer" as const } },
        monitoringPorts: { type: "array" as const, items: { type: "integer" as const }, default: [9100] },
        maxFirstWavePercent: { type: "number" as const, exclusiveMinimum: 0, maximum: 100, default: 10 },
        computeHosts: { type: "integer" as const, minimum: 1 },
    },
};

type Settings = Required<Omit<GuardrailConfig, "computeHosts">> & Pick<GuardrailConfig, "computeHosts">;

function settings(args: { getConfig<T extends object>(): T }): Settings {
    const config = args.getConfig<GuardrailConfig>() ?? {};
    return {
        stacks: config.stacks ?? ["prod"],
        minMembers: config.minMembers ?? 2,
        adminPorts: config.adminPorts ?? Object.keys(ADMIN_PORTS).map(Number),
        monitoringPorts: config.monitoringPorts ?? [9100],
        maxFirstWavePercent: config.maxFirstWavePercent ?? 10,
        computeHosts: config.computeHosts,
    };
}

/** Calls `notApplicable` (which throws) unless the stack is one the policy applies to. */
function requireStack(env: PolicyEnvironment, args: ResourceValidationArgs | StackValidationArgs): Settings {
    const config = settings(args);
    const stack = env.stack();
    if (stack !== "" && !config.stacks.includes(stack)) {
        args.notApplicable(`stack "${stack}" is not one of ${config.stacks.join(", ")}`);
    }
    return config;
}

/** A fleet: a herd component and the resources directly under it. */
interface Fleet {
    readonly component: PolicyResource;
    readonly children: readonly PolicyResource[];
}

function fleetsOf(resources: readonly PolicyResource[], type: string): Fleet[] {
    return resources
        .filter((r) => r.type === type)
        .map((component) => ({ component, children: resources.filter((r) => r.parent?.urn === component.urn) }));
}

const ofType = (resources: readonly PolicyResource[], type: string) => resources.filter((r) => r.type === type);

function redundancy(env: PolicyEnvironment): StackValidationPolicy {
    return {
        name: "herd-fleet-redundancy",
        description: "Every fleet has at least two members, spread over hosts by anti-affinity.",
        enforcementLevel: "mandatory",
        configSchema,
        validateStack: (args, reportViolation) => {
            const { minMembers, computeHosts } = requireStack(env, args);
            const tooSmall = (fleet: Fleet, members: number) => {
                if (members < minMembers) {
                    reportViolation(
                        `${label(fleet)} has ${members} member${members === 1 ? "" : "s"}: prod fleets need at least ${minMembers}, so that losing one host does not take the fleet down`,
                        fleet.component.urn,
                    );
                }
            };
            for (const policy of FLEET_POLICIES) {
                for (const fleet of fleetsOf(args.resources, policy.componentType)) {
                    tooSmall(fleet, policy.members(fleet));
                    for (const violation of policy.spreadViolations(fleet, computeHosts)) {
                        reportViolation(violation.message, violation.urn ?? fleet.component.urn);
                    }
                }
            }
        },
    };
}

function healthChecked(env: PolicyEnvironment): StackValidationPolicy {
    return {
        name: "herd-health-checked",
        description: "Every fleet that serves traffic is health-checked, so traffic only reaches healthy members.",
        enforcementLevel: "mandatory",
        configSchema,
        validateStack: (args, reportViolation) => {
            const { monitoringPorts } = requireStack(env, args);
            for (const policy of FLEET_POLICIES) {
                for (const fleet of fleetsOf(args.resources, policy.componentType)) {
                    for (const violation of policy.healthViolations(fleet, monitoringPorts)) {
                        reportViolation(violation.message, violation.urn ?? fleet.component.urn);
                    }
                }
            }
        },
    };
}

/** The addresses a CIDR covers, as a range of one family's address space. */
interface AddressRange {
    readonly family: "IPv4" | "IPv6";
    readonly first: bigint;
    readonly last: bigint;
}

const FAMILY_BITS = { IPv4: 32, IPv6: 128 } as const;

/**
 * The addresses a CIDR covers, or `undefined` when it is not a CIDR. IPv4 addresses written as
 * IPv6 (`::ffff:0.0.0.0/96`) count as the IPv4 addresses they are.
 */
export function cidrRange(cidr: string): AddressRange | undefined {
    let address: ipaddr.IPv4 | ipaddr.IPv6;
    let prefix: number;
    try {
        [address, prefix] = ipaddr.parseCIDR(cidr);
    } catch {
        return undefined;
    }
    if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
        address = (address as ipaddr.IPv6).toIPv4Address();
        prefix -= 96;
    }
    const family = address.kind() === "ipv4" ? "IPv4" : "IPv6";
    const value = address.toByteArray().reduce((n, byte) => (n << 8n) | BigInt(byte), 0n);
    const size = 1n << BigInt(FAMILY_BITS[family] - prefix);
    const first = (value / size) * size;
    return { family, first, last: first + size - 1n };
}

/** The family whose every address the ranges cover together, or `undefined` when none is covered. */
export function coveredFamily(ranges: readonly AddressRange[]): "IPv4" | "IPv6" | undefined {
    for (const family of ["IPv4", "IPv6"] as const) {
        let next = 0n;
        for (const range of ranges.filter((r) => r.family === family).sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))) {
            if (range.first > next) {
                break;
            }
            next = range.last + 1n > next ? range.last + 1n : next;
        }
        if (next === 1n << BigInt(FAMILY_BITS[family])) {
            return family;
        }
    }
    return undefined;
}

/** Who a rule lets in: everyone (no source given), a CIDR's addresses, a security group, or a source that is not a CIDR. */
function sourceOf(rule: Record<string, unknown>): AddressRange | "world" | "group" | "invalid" {
    const prefix = rule.remoteIpPrefix;
    if (prefix === undefined || prefix === null || prefix === "") {
        return rule.remoteGroupId === undefined ? "world" : "group";
    }
    return (typeof prefix === "string" && cidrRange(prefix)) || "invalid";
}

function noAdminPortOpenToWorld(env: PolicyEnvironment): StackValidationPolicy {
    const fix = "admin ports must only be reachable from a management network or a bastion";
    return {
        name: "no-admin-port-open-to-world",
        description: "No security group rule, alone or with the others of its group, opens SSH or another remote administration port to every address (0.0.0.0/0, ::/0, or CIDRs that add up to them).",
        enforcementLevel: "mandatory",
        configSchema,
        validateStack: (args, reportViolation) => {
            const rules = ofType(args.resources, T.secGroupRule).filter((rule) => rule.props.direction === "ingress");
            if (rules.length === 0) {
                return;
            }
            const { adminPorts } = requireStack(env, args);
            const ports = [...adminPorts].sort((a, b) => a - b);
            const portNames = (open: number[]) =>
                `${open.length === 1 ? "port" : "ports"} ${open.map((port) => (ADMIN_PORTS[port] ? `${port} (${ADMIN_PORTS[port]})` : String(port))).join(", ")}`;
            const opens = (rule: PolicyResource, port: number) => {
                const range = portsOpened(rule.props);
                return range === "all" || (port >= range[0] && port <= range[1]);
            };
            // Rules that let every address in on their own.
            for (const rule of rules) {
                const source = sourceOf(rule.props);
                const open = ports.filter((port) => opens(rule, port));
                const prefix = rule.props.remoteIpPrefix as string | undefined;
                if (open.length === 0 || source === "group") {
                    continue;
                }
                if (source === "invalid") {
                    reportViolation(`security group rule "${rule.name}" opens ${portNames(open)} to ${JSON.stringify(prefix)}, which is not a CIDR: ${fix}`, rule.urn);
                } else if (source === "world") {
                    reportViolation(`security group rule "${rule.name}" opens ${portNames(open)} to any address: ${fix}`, rule.urn);
                } else if (coveredFamily([source])) {
                    reportViolation(`security group rule "${rule.name}" opens ${portNames(open)} to ${prefix} (every ${source.family} address): ${fix}`, rule.urn);
                }
            }
            // Rules of one security group that let every address in together, e.g. 0.0.0.0/1 and 128.0.0.0/1.
            const groups = new Map<string, PolicyResource[]>();
            for (const rule of rules) {
                const id = rule.props.securityGroupId;
                const key = typeof id === "string" && id !== "" ? `group ${id}` : `parent ${rule.parent?.urn ?? rule.urn}`;
                groups.set(key, [...(groups.get(key) ?? []), rule]);
            }
            for (const group of groups.values()) {
                for (const port of ports) {
                    const partial = group
                        .filter((rule) => opens(rule, port))
                        .map((rule) => ({ rule, source: sourceOf(rule.props) }))
                        .filter((r): r is { rule: PolicyResource; source: AddressRange } => typeof r.source === "object" && coveredFamily([r.source]) === undefined);
                    const family = coveredFamily(partial.map((r) => r.source));
                    if (family) {
                        const names = partial.filter((r) => r.source.family === family).map((r) => r.rule);
                        reportViolation(
                            `security group rules ${names.map((r) => `"${r.name}"`).join(", ")} together open ${portNames([port])} to every ${family} address (${names.map((r) => r.props.remoteIpPrefix).join(", ")}): ${fix}`,
                            names[0].urn,
                        );
                    }
                }
            }
        },
    };
}

function nonRootWithLimits(env: PolicyEnvironment): ResourceValidationPolicy {
    return {
        name: "containers-non-root-with-limits",
        description: "Containers run as a non-root user, with CPU and memory limits.",
        enforcementLevel: "mandatory",
        configSchema,
        validateResource: (args, reportViolation) => {
            if (POD_WORKLOADS.includes(args.type)) {
                requireStack(env, args);
                const pod = podSpecOf(args.props);
                const kind = args.type.split(":").pop();
                for (const container of pod.containers ?? []) {
                    const own = container.securityContext ?? {};
                    const podContext = pod.securityContext ?? {};
                    const nonRoot = own.runAsNonRoot ?? podContext.runAsNonRoot;
                    const user = own.runAsUser ?? podContext.runAsUser;
                    if (!(nonRoot === true || (user !== undefined && user > 0)) || user === 0) {
                        reportViolation(`${kind} "${args.name}" container "${container.name}" may run as root: set runAsNonRoot: true (herd's default) or a non-zero runAsUser`);
                    }
                    const limits = container.resources?.limits ?? {};
                    const missing = ["cpu", "memory"].filter((resource) => limits[resource] === undefined);
                    if (missing.length > 0) {
                        reportViolation(`${kind} "${args.name}" container "${container.name}" has no ${missing.join(" or ")} limit`);
                    }
                }
            } else if (args.type === T.container) {
                requireStack(env, args);
                const user = args.props.user as string | undefined;
                if (user === undefined || user === "" || /^(0|root)(:.*)?$/.test(user)) {
                    reportViolation(
                        `container "${args.name}" runs as ${user ? `"${user}"` : "the image's default user, which may be root"}: set user to a non-root UID`,
                    );
                }
                if (!(Number(args.props.memory) > 0) || (args.props.cpus === undefined && args.props.cpuShares === undefined)) {
                    reportViolation(`container "${args.name}" has no memory and CPU limits: set memory and cpus`);
                }
            }
        },
    };
}

function imagesPinned(env: PolicyEnvironment): ResourceValidationPolicy {
    const byTag = (image: string) => `"${image}" by tag: pin it by digest (name@sha256:…) so every member runs the same bytes`;
    return {
        name: "images-pinned",
        description: "Images are pinned: container images by digest, OpenStack images by ID.",
        enforcementLevel: "mandatory",
        configSchema,
        validateResource: (args, reportViolation) => {
            if (POD_WORKLOADS.includes(args.type)) {
                requireStack(env, args);
                for (const container of podSpecOf(args.props).containers ?? []) {
                    if (typeof container.image === "string" && !DIGEST.test(container.image)) {
                        reportViolation(`${args.type.split(":").pop()} "${args.name}" container "${container.name}" runs image ${byTag(container.image)}`);
                    }
                }
            } else if (args.type === T.remoteImage) {
                requireStack(env, args);
                const name = args.props.name;
                if (typeof name === "string" && !DIGEST.test(name)) {
                    reportViolation(`image "${args.name}" pulls ${byTag(name)}`);
                }
            } else if (args.type === T.container) {
                requireStack(env, args);
                // herd passes the pulled image's ID (unknown until pulled); checked on the RemoteImage.
                const image = args.props.image;
                if (typeof image === "string" && !DIGEST.test(image) && !IMAGE_ID.test(image)) {
                    reportViolation(`container "${args.name}" runs image ${byTag(image)}`);
                }
            } else if (args.type === T.instance) {
                requireStack(env, args);
                if (args.props.imageId === undefined && typeof args.props.imageName === "string") {
                    reportViolation(
                        `instance "${args.name}" boots image name "${args.props.imageName}": pin the image ID, since a name moves when the image is republished and then replaces every server`,
                    );
                }
            }
        },
    };
}

/** A fleet of `herd:fleets` as written, not validated. */
export type RawFleet = { size?: unknown; release?: unknown; rollout?: { waves?: unknown; members?: unknown; previous?: unknown } };

function firstWaveSmall(env: PolicyEnvironment): StackValidationPolicy {
    return {
        name: "first-wave-small",
        description:
            "A rollout's first wave is at most 10% of the fleet (one member is always allowed), and the members on a new release are one of its waves, counted on the members themselves.",
        enforcementLevel: "mandatory",
        configSchema,
        validateStack: (args, reportViolation) => {
            const { maxFirstWavePercent } = requireStack(env, args);
            const fleets = env.fleets();
            if (fleets === undefined || fleets === null || typeof fleets !== "object") {
                args.notApplicable("the stack config has no herd:fleets");
            }
            const components = new Map(FLEET_POLICIES.flatMap((policy) => fleetsOf(args.resources, policy.componentType).map((f) => [f.component.name, { fleet: f, policy }] as const)));
            for (const [name, fleet] of Object.entries(fleets as Record<string, RawFleet | null>)) {
                const size = fleet?.size;
                const waves = fleet?.rollout?.waves ?? DEFAULT_WAVES;
                let schedule: number[];
                try {
                    schedule = waveSchedule(size as number, waves as number[]);
                } catch {
                    continue; // an invalid size or waves fails the program's own validation, with its own message
                }
                const total = size as number;
                const allowed = Math.max(1, Math.floor((total * maxFirstWavePercent) / 100));
                const first = schedule[0];
                const percent = (count: number) => Math.round((count * 100) / total);
                if (first !== undefined && first > allowed) {
                    reportViolation(
                        `fleet "${name}": the first rollout wave moves ${first} of ${size} members (${percent(first)}%): it must be at most ${maxFirstWavePercent}% of the fleet (${allowed} member${allowed === 1 ? "" : "s"}); start herd:fleets.${name}.rollout.waves with ${allowed}`,
                    );
                }
                const rollout = fleet?.rollout;
                const component = components.get(name);
                // A rollout is under way while a previous release, other than the release, is kept.
                if (!component || rollout?.previous === undefined || canonicalJson(rollout.previous) === canonicalJson(fleet?.release)) {
                    continue;
                }
                const members = typeof rollout.members === "number" ? rollout.members : 0;
                const moved = component.policy.membersOnNewRelease(component.fleet, members);
                // herd promote drops rollout.previous when the last wave is reached, so all
                // members on the new release with a previous one still kept is a jump, not a wave.
                const waveStops = schedule.slice(0, -1);
                if (moved > allowed && !waveStops.includes(moved)) {
                    reportViolation(
                        `fleet "${name}": ${moved} of ${size} members (${percent(moved)}%) run the new release (herd:fleets.${name}.rollout.members is ${JSON.stringify(rollout.members)}), which is not a wave of its rollout (${[0, ...schedule].join(" → ")}): the first wave is at most ${allowed} member${allowed === 1 ? "" : "s"}, the next ones come with herd promote`,
                    );
                }
            }
        },
    };
}

/**
 * A fleet's slots as its config describes them, for the protected-rollout rule: each slot's
 * release as canonical JSON, with the text of its user data file (an edited file is a new
 * release). `undefined` for a fleet the config does not describe well enough.
 */
export function configSlots(fleet: RawFleet | null | undefined, readFile: (file: string) => string | undefined = () => undefined): FleetSlots | undefined {
    const size = fleet?.size;
    let schedule: number[];
    try {
        schedule = waveSchedule(size as number, (fleet?.rollout?.waves ?? DEFAULT_WAVES) as number[]);
    } catch {
        return undefined;
    }
    const identity = (release: unknown): string | null => {
        if (release === null || typeof release !== "object") {
            return null;
        }
        const userData = (release as { userData?: unknown }).userData;
        return canonicalJson({ release, userData: typeof userData === "string" ? (readFile(userData) ?? null) : null });
    };
    const total = size as number;
    const rollout = fleet?.rollout;
    const members = rollout && typeof rollout.members === "number" ? Math.min(rollout.members, total) : total;
    const release = identity(fleet?.release);
    const previous = rollout ? identity(rollout.previous) : null;
    return {
        size: total,
        members,
        waves: schedule,
        slots: Array.from({ length: total }, (_, slot) => ({ generation: slot < members ? release : previous })),
        generations: { release: members > 0 ? release : null, previous: members < total ? previous : null },
    };
}

function protectedRollout(env: PolicyEnvironment): StackValidationPolicy {
    return {
        name: "protected-rollout",
        description:
            "In a protected stack (herd:protected: true), a new release reaches at most the first wave at once, and a rollout moves one wave at a time; releases start with herd release.",
        enforcementLevel: "mandatory",
        configSchema,
        validateStack: (args, reportViolation) => {
            const stack = env.stack();
            const base = env.base?.();
            if (env.protected?.() !== true && base?.protected !== true) {
                args.notApplicable(`stack "${stack}" is not protected (herd:protected: true)`);
            }
            if (!base) {
                args.notApplicable("the stack config the change is compared with is unknown (set HERD_BASE_REVISION to a git revision)");
            }
            const fleets = env.fleets();
            const before = (base?.fleets ?? {}) as Record<string, RawFleet | null>;
            for (const [name, fleet] of Object.entries((fleets ?? {}) as Record<string, RawFleet | null>)) {
                const after = configSlots(fleet, (file) => env.readFile?.(file));
                const old = before[name] === undefined ? undefined : configSlots(before[name], (file) => base?.readFile?.(file));
                const refusal = after && protectionRefusal(name, stack || "<stack>", old, after);
                if (refusal) {
                    reportViolation(refusal.message);
                }
            }
        },
    };
}

/** Every guardrail, in the order `pulumi preview` reports them. */
export function guardrails(env: PolicyEnvironment): (ResourceValidationPolicy | StackValidationPolicy)[] {
    return [redundancy(env), healthChecked(env), noAdminPortOpenToWorld(env), nonRootWithLimits(env), imagesPinned(env), firstWaveSmall(env), protectedRollout(env)];
}
