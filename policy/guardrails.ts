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
 *   `herd:kubernetes:Workload`, `herd:docker:Workload`);
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
import { DEFAULT_WAVES, waveSchedule } from "../components/rollout/waves";

/** What the policies know about the stack under check. */
export interface PolicyEnvironment {
    /** The stack's name; `""` when the CLI does not say. */
    stack(): string;
    /** `herd:fleets` from the stack config, as written; `undefined` when the stack has none. */
    fleets(): unknown;
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

/** The herd component types whose children make up a fleet. */
export const FLEET_TYPES = {
    openstack: "herd:openstack:ServerGroup",
    kubernetes: "herd:kubernetes:Workload",
    docker: "herd:docker:Workload",
} as const;

const T = {
    instance: "openstack:compute/instance:Instance",
    novaGroup: "openstack:compute/serverGroup:ServerGroup",
    secGroupRule: "openstack:networking/secGroupRule:SecGroupRule",
    pool: "openstack:loadbalancer/pool:Pool",
    monitor: "openstack:loadbalancer/monitor:Monitor",
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    daemonSet: "kubernetes:apps/v1:DaemonSet",
    service: "kubernetes:core/v1:Service",
    container: "docker:index/container:Container",
    remoteImage: "docker:index/remoteImage:RemoteImage",
} as const;

const POD_WORKLOADS: readonly string[] = [T.deployment, T.statefulSet, T.daemonSet];
const WORLD = ["0.0.0.0/0", "::/0"];
const DIGEST = /@sha256:[0-9a-f]{64}$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const HOSTNAME = "kubernetes.io/hostname";
const SPREAD_POLICIES = ["anti-affinity", "soft-anti-affinity"];

const configSchema = {
    properties: {
        stacks: { type: "array" as const, items: { type: "string" as const }, default: ["prod"] },
        minMembers: { type: "integer" as const, minimum: 1, default: 2 },
        adminPorts: { type: "array" as const, items: { type: "integer" as const } },
        monitoringPorts: { type: "array" as const, items: { type: "integer" as const }, default: [9100] },
        maxFirstWavePercent: { type: "number" as const, exclusiveMinimum: 0, maximum: 100, default: 10 },
    },
};

function settings(args: { getConfig<T extends object>(): T }): Required<GuardrailConfig> {
    const config = args.getConfig<GuardrailConfig>() ?? {};
    return {
        stacks: config.stacks ?? ["prod"],
        minMembers: config.minMembers ?? 2,
        adminPorts: config.adminPorts ?? Object.keys(ADMIN_PORTS).map(Number),
        monitoringPorts: config.monitoringPorts ?? [9100],
        maxFirstWavePercent: config.maxFirstWavePercent ?? 10,
    };
}

/** Calls `notApplicable` (which throws) unless the stack is one the policy applies to. */
function requireStack(env: PolicyEnvironment, args: ResourceValidationArgs | StackValidationArgs): Required<GuardrailConfig> {
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

function label(fleet: Fleet): string {
    return `fleet "${fleet.component.name}" (${fleet.component.type})`;
}

const ofType = (resources: readonly PolicyResource[], type: string) => resources.filter((r) => r.type === type);

type PodSpec = { containers?: Container[]; securityContext?: SecurityContext; affinity?: { podAntiAffinity?: unknown }; topologySpreadConstraints?: { topologyKey?: string }[] };
type Container = { name?: string; image?: unknown; securityContext?: SecurityContext; resources?: { limits?: Record<string, unknown> }; readinessProbe?: unknown; ports?: unknown[] };
type SecurityContext = { runAsNonRoot?: boolean; runAsUser?: number };

function podSpecOf(props: Record<string, unknown>): PodSpec {
    const spec = props.spec as { template?: { spec?: PodSpec } } | undefined;
    return spec?.template?.spec ?? {};
}

function redundancy(env: PolicyEnvironment): StackValidationPolicy {
    return {
        name: "herd-fleet-redundancy",
        description: "Every fleet has at least two members, spread over hosts by anti-affinity.",
        enforcementLevel: "mandatory",
        configSchema,
        validateStack: (args, reportViolation) => {
            const { minMembers } = requireStack(env, args);
            const tooSmall = (fleet: Fleet, members: number) => {
                if (members < minMembers) {
                    reportViolation(
                        `${label(fleet)} has ${members} member${members === 1 ? "" : "s"}: prod fleets need at least ${minMembers}, so that losing one host does not take the fleet down`,
                        fleet.component.urn,
                    );
                }
            };
            for (const fleet of fleetsOf(args.resources, FLEET_TYPES.openstack)) {
                const instances = ofType(fleet.children, T.instance);
                tooSmall(fleet, instances.length);
                const [group] = ofType(fleet.children, T.novaGroup);
                const policies = (group?.props.policies as string[] | undefined) ?? [];
                if (!group || !policies.some((policy) => SPREAD_POLICIES.includes(policy))) {
                    reportViolation(
                        `${label(fleet)} is not spread: its Nova server group policy is ${group ? JSON.stringify(policies.join(", ")) : "missing"}; use anti-affinity or soft-anti-affinity`,
                        fleet.component.urn,
                    );
                }
                for (const instance of instances) {
                    const hints = instance.props.schedulerHints as unknown[] | undefined;
                    if (!Array.isArray(hints) || hints.length === 0) {
                        reportViolation(`${label(fleet)}: instance "${instance.name}" does not join the fleet's server group (no scheduler hint)`, instance.urn);
                    }
                }
            }
            for (const fleet of fleetsOf(args.resources, FLEET_TYPES.kubernetes)) {
                const workloads = fleet.children.filter((r) => POD_WORKLOADS.includes(r.type));
                tooSmall(fleet, workloads.reduce((sum, w) => sum + Number((w.props.spec as { replicas?: number } | undefined)?.replicas ?? 1), 0));
                for (const workload of workloads) {
                    const pod = podSpecOf(workload.props);
                    const spread = (pod.topologySpreadConstraints ?? []).some((c) => c.topologyKey === HOSTNAME) || pod.affinity?.podAntiAffinity !== undefined;
                    if (!spread) {
                        reportViolation(
                            `${label(fleet)} is not spread: Deployment "${workload.name}" has no topology spread constraint or pod anti-affinity over ${HOSTNAME}`,
                            workload.urn,
                        );
                    }
                }
            }
            for (const fleet of fleetsOf(args.resources, FLEET_TYPES.docker)) {
                tooSmall(fleet, ofType(fleet.children, T.container).length);
                reportViolation(
                    `${label(fleet)} runs every member on one Docker engine, which no anti-affinity can spread: run prod fleets on openstack or kubernetes`,
                    fleet.component.urn,
                );
            }
        },
    };
}

function portsOpened(rule: Record<string, unknown>): [number, number] | "all" {
    const min = rule.portRangeMin as number | undefined;
    const max = rule.portRangeMax as number | undefined;
    if (rule.protocol === undefined || rule.protocol === "" || rule.protocol === "any" || (min === undefined && max === undefined) || min === 0) {
        return rule.protocol === "icmp" ? [0, -1] : "all";
    }
    return [min ?? (max as number), max ?? (min as number)];
}

function healthChecked(env: PolicyEnvironment): StackValidationPolicy {
    return {
        name: "herd-health-checked",
        description: "Every fleet that serves traffic is health-checked, so traffic only reaches healthy members.",
        enforcementLevel: "mandatory",
        configSchema,
        validateStack: (args, reportViolation) => {
            const { monitoringPorts } = requireStack(env, args);
            for (const fleet of fleetsOf(args.resources, FLEET_TYPES.openstack)) {
                const pools = ofType(fleet.children, T.pool);
                const monitors = ofType(fleet.children, T.monitor);
                const servingPorts = ofType(fleet.children, T.secGroupRule)
                    .filter((rule) => rule.props.direction === "ingress")
                    .map((rule) => portsOpened(rule.props))
                    .filter((ports) => ports === "all" || !monitoringPorts.some((port) => port >= ports[0] && port <= ports[1]))
                    .map((ports) => (ports === "all" ? "every port" : `port ${ports[0]}`));
                if (pools.length === 0 && servingPorts.length > 0) {
                    reportViolation(
                        `${label(fleet)} serves on ${servingPorts[0]} but nothing health-checks its members: give it a health check and a load balancer, whose health monitor takes failing members out`,
                        fleet.component.urn,
                    );
                }
                if (pools.length > monitors.length) {
                    reportViolation(`${label(fleet)} has a load balancer pool without a health monitor: give the fleet a health check`, fleet.component.urn);
                }
            }
            for (const fleet of fleetsOf(args.resources, FLEET_TYPES.kubernetes)) {
                const serving = ofType(fleet.children, T.service).length > 0;
                for (const workload of fleet.children.filter((r) => POD_WORKLOADS.includes(r.type))) {
                    const containers = podSpecOf(workload.props).containers ?? [];
                    const servesHere = serving || containers.some((c) => (c.ports ?? []).length > 0);
                    for (const container of containers.filter((c) => servesHere && c.readinessProbe === undefined)) {
                        reportViolation(
                            `${label(fleet)} serves but Deployment "${workload.name}" container "${container.name}" has no readiness probe: give the fleet a health check`,
                            workload.urn,
                        );
                    }
                }
            }
            for (const fleet of fleetsOf(args.resources, FLEET_TYPES.docker)) {
                for (const container of ofType(fleet.children, T.container)) {
                    const ports = (container.props.ports as { external?: number; internal?: number }[] | undefined) ?? [];
                    if (ports.length > 0 && container.props.healthcheck === undefined) {
                        reportViolation(
                            `${label(fleet)} publishes port ${ports[0].external ?? ports[0].internal} but container "${container.name}" has no healthcheck: give the fleet a health check`,
                            container.urn,
                        );
                    }
                }
            }
        },
    };
}

function noAdminPortOpenToWorld(env: PolicyEnvironment): ResourceValidationPolicy {
    return {
        name: "no-admin-port-open-to-world",
        description: "No security group rule opens SSH or another remote administration port to 0.0.0.0/0 or ::/0.",
        enforcementLevel: "mandatory",
        configSchema,
        validateResource: (args, reportViolation) => {
            if (args.type !== T.secGroupRule) {
                return;
            }
            const { adminPorts } = requireStack(env, args);
            const rule = args.props;
            const source = rule.remoteIpPrefix as string | undefined;
            const fromWorld = source === undefined || source === "" ? rule.remoteGroupId === undefined : WORLD.includes(source);
            if (rule.direction !== "ingress" || !fromWorld) {
                return;
            }
            const ports = portsOpened(rule);
            const open = [...adminPorts].sort((a, b) => a - b).filter((port) => ports === "all" || (port >= ports[0] && port <= ports[1]));
            if (open.length > 0) {
                const names = open.map((port) => (ADMIN_PORTS[port] ? `${port} (${ADMIN_PORTS[port]})` : String(port)));
                reportViolation(
                    `security group rule "${args.name}" opens ${open.length === 1 ? "port" : "ports"} ${names.join(", ")} to ${source || "any address"}: admin ports must only be reachable from a management network or a bastion`,
                );
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

function firstWaveSmall(env: PolicyEnvironment): StackValidationPolicy {
    return {
        name: "first-wave-small",
        description: "A rollout's first wave is at most 10% of the fleet (one member is always allowed).",
        enforcementLevel: "mandatory",
        configSchema,
        validateStack: (args, reportViolation) => {
            const { maxFirstWavePercent } = requireStack(env, args);
            const fleets = env.fleets();
            if (fleets === undefined || fleets === null || typeof fleets !== "object") {
                args.notApplicable("the stack config has no herd:fleets");
            }
            for (const [name, fleet] of Object.entries(fleets as Record<string, { size?: unknown; rollout?: { waves?: unknown } }>)) {
                const size = fleet?.size;
                const waves = fleet?.rollout?.waves ?? DEFAULT_WAVES;
                let schedule: number[];
                try {
                    schedule = waveSchedule(size as number, waves as number[]);
                } catch {
                    continue; // an invalid size or waves fails the program's own validation, with its own message
                }
                const allowed = Math.max(1, Math.floor(((size as number) * maxFirstWavePercent) / 100));
                const first = schedule[0];
                if (first !== undefined && first > allowed) {
                    reportViolation(
                        `fleet "${name}": the first rollout wave moves ${first} of ${size} members (${Math.round((first * 100) / (size as number))}%): it must be at most ${maxFirstWavePercent}% of the fleet (${allowed} member${allowed === 1 ? "" : "s"}); start herd:fleets.${name}.rollout.waves with ${allowed}`,
                    );
                }
            }
        },
    };
}

/** Every guardrail, in the order `pulumi preview` reports them. */
export function guardrails(env: PolicyEnvironment): (ResourceValidationPolicy | StackValidationPolicy)[] {
    return [redundancy(env), healthChecked(env), noAdminPortOpenToWorld(env), nonRootWithLimits(env), imagesPinned(env), firstWaveSmall(env)];
}
