/**
 * herd's fleets as a Pulumi component package, for programs in Pulumi YAML, Python, Go or .NET.
 *
 * The Node.js SDK's component provider host derives the package schema from the TypeScript types
 * of the components this module exports. It expresses plain interfaces, arrays, string maps and
 * `as const` enums, but not unions (`MetricsEndpoint | false`), generic interfaces
 * (`Rollout<R>`), inline object types or readonly arrays, and a component's type token must be
 * `herd:index:<ClassName>`. So each class here takes args in that vocabulary, maps them onto the
 * TypeScript SDK's args and builds the SDK's own component as its only child: a fleet built from
 * Python has the same members, names, generations and cattle rules as one built in TypeScript.
 */
import * as pulumi from "@pulumi/pulumi";
import type {
    ContainerRelease as HerdContainerRelease,
    DockerWorkloadArgs,
    HealthCheck as HerdHealthCheck,
    KubernetesVolume as HerdKubernetesVolume,
    KubernetesWorkloadArgs,
    PlainNamespaceWorkloadArgs,
    MetricsEndpoint as HerdMetricsEndpoint,
    ProbeSpec,
    ServerGroupArgs,
    Toleration as HerdToleration,
} from "../components";
import { fleetNameProblems, refuseArguments, servingProblems } from "../components/core/arguments";
import { resolveDockerWorkload } from "../components/docker/spec";
import { buildFleet, type DockerFleetArgs, type Fleet, type KubernetesFleetArgs, type OpenStackFleetArgs } from "../components";
import { dockerWorkloadArgsOf } from "../components/docker/fleet";
import { fleetProblems } from "../components/fleet/backends";
import { kubernetesWorkloadArgsOf } from "../components/kubernetes/fleet";
import { resolveWorkload } from "../components/kubernetes/plan";
import { serverGroupProblems } from "../components/openstack/serverGroup";
import { ruleFile } from "../components/monitoring/rules";
import { secretMarker } from "../components/release/secrets";

/** How strictly members are spread: over hypervisors (OpenStack) or nodes (Kubernetes). */
export const Spread = {
    /** Never two members on one host while another host has fewer; members stay pending (Kubernetes) or fail to schedule (Nova) otherwise. */
    AntiAffinity: "anti-affinity",
    /** Spread when possible, schedule anyway. */
    SoftAntiAffinity: "soft-anti-affinity",
} as const;
/** How strictly members are spread. */
export type Spread = (typeof Spread)[keyof typeof Spread];

/** The order in which a member is replaced. */
export const UpdateOrder = {
    /** The new member is created before the old one is deleted: capacity never drops. */
    CreateBeforeDelete: "create-before-delete",
    /** The old member is deleted first, for quota-tight projects: capacity drops by a batch. */
    DeleteBeforeCreate: "delete-before-create",
} as const;
/** The order in which a member is replaced. */
export type UpdateOrder = (typeof UpdateOrder)[keyof typeof UpdateOrder];

/** Protocol of an ingress rule. */
export const IngressProtocol = {
    /** TCP. */
    Tcp: "tcp",
    /** UDP. */
    Udp: "udp",
} as const;
/** Protocol of an ingress rule. */
export type IngressProtocol = (typeof IngressProtocol)[keyof typeof IngressProtocol];

/** Protocol of the load balancer's listener and pool. */
export const LoadBalancerProtocol = {
    /** HTTP, health-checked with a GET of the health path. */
    Http: "HTTP",
    /** HTTPS passed through to the members. */
    Https: "HTTPS",
    /** Plain TCP, health-checked with a TCP connect. */
    Tcp: "TCP",
} as const;
/** Protocol of the load balancer's listener and pool. */
export type LoadBalancerProtocol = (typeof LoadBalancerProtocol)[keyof typeof LoadBalancerProtocol];

/** Seccomp profile of a pod. */
export const SeccompProfile = {
    /** The container runtime's default profile. */
    RuntimeDefault: "RuntimeDefault",
    /** No seccomp filtering. */
    Unconfined: "Unconfined",
} as const;
/** Seccomp profile of a pod. */
export type SeccompProfile = (typeof SeccompProfile)[keyof typeof SeccompProfile];

/** What an OpenStack member runs. Any change to it replaces the member. */
export interface ServerRelease {
    /** Image ID (preferred: IDs do not move) or image name. */
    image: string;
    /** Flavor name, or flavor ID when it is a UUID. A flavor change replaces the member, never resizes it. */
    flavor: string;
    /** Networks the member is plugged into, in order: names or IDs, plain or wired from another resource (its ID). At least one. */
    networks: string[];
    /** Nova key pair name, plain or wired from another resource. Defaults to none. */
    keyPair?: string;
    /** Security group names added to the fleet's own group, plain or wired from another resource. Defaults to none. */
    securityGroups?: string[];
    /**
     * A `#cloud-config` document (the text). herd adds node_exporter and the release identity. May be a
     * secret or a rendered template: checked once it resolves, kept secret, and a new value replaces
     * the members. Defaults to an empty cloud-config.
     */
    userData?: string;
}

/** A rollout of an OpenStack fleet under way. */
export interface ServerRollout {
    /** The release the slots from `members` on still run. Required while `members` is below the size. */
    previous?: ServerRelease;
    /** How many slots (`0 … members-1`) already run `release`. */
    members: number;
}

/** What a container member runs, on Kubernetes or Docker. Any change to it replaces the member. */
export interface ContainerRelease {
    /** Image reference; pin it by digest (`registry/app@sha256:…`). */
    image: string;
    /** Replaces the image's entrypoint. Defaults to the image's. */
    command?: string[];
    /** Replaces the image's arguments. Defaults to the image's. */
    args?: string[];
    /** Environment variables, `NAME: value`. A value may be a secret (or an Output): it reaches the members as a secret and nothing else shows it. Defaults to none. */
    env?: Record<string, pulumi.Input<string>>;
    /** Config files, `/absolute/path: content`, mounted read-only. A content may be a secret (or an Output), as in `env`. Defaults to none. */
    files?: Record<string, pulumi.Input<string>>;
    /** The TCP port the member serves on. Defaults to none: the member serves nothing. */
    port?: number;
}

/** A rollout of a container fleet under way. */
export interface ContainerRollout {
    /** The release the slots from `members` on still run. Required while `members` is below the size. */
    previous?: ContainerRelease;
    /** How many members already run `release`. */
    members: number;
}

/** How replacements proceed within one `pulumi up`. */
export interface UpdatePolicy {
    /** Members replaced at a time; batch k+1 waits for batch k. Defaults to a quarter of the size, at least 1. */
    batch?: number;
    /** Defaults to `create-before-delete`. */
    order?: UpdateOrder;
}

/**
 * A health check every member must pass to receive traffic: `path` and `port` for HTTP, `port`
 * alone for TCP, or `command` alone, run in the member (Kubernetes and Docker; refused on
 * OpenStack, whose load balancer checks from outside).
 */
export interface HealthCheck {
    /** HTTP path, e.g. `/healthz`; without it, `port` is checked over TCP. */
    path?: string;
    /** Port the member serves (and is checked) on. */
    port?: number;
    /** A command run in the member, healthy when it exits 0, e.g. `["redis-cli", "ping"]`; without a port or path. */
    command?: string[];
}

/** A scratch directory that lives as long as the pod. */
export interface EmptyDirVolume {
    /** `Memory` for a tmpfs. Defaults to the node's disk. */
    medium?: string;
    /** The most it may hold, e.g. `1Gi`. Defaults to no limit. */
    sizeLimit?: string;
}

/** An extra volume of a Kubernetes fleet's pods, from exactly one source. */
export interface KubernetesVolume {
    /** Where the volume appears in the container: an absolute path. */
    mountPath: string;
    /** Defaults to `true` for `secret` and `configMap`, `false` otherwise. */
    readOnly?: boolean;
    /** A scratch directory that lives as long as the pod. */
    emptyDir?: EmptyDirVolume;
    /** The name of a Secret in the fleet's namespace. */
    secret?: string;
    /** The name of a ConfigMap in the fleet's namespace. */
    configMap?: string;
    /** The name of a PersistentVolumeClaim in the fleet's namespace, mounted by every pod. */
    persistentVolumeClaim?: string;
}

/** An Octavia load balancer in front of an OpenStack fleet. */
export interface LoadBalancer {
    /** Listener port. */
    port: number;
    /** Defaults to `HTTP`. */
    protocol?: LoadBalancerProtocol;
    /** Network of the VIP, name or ID. Defaults to the release's first network. */
    network?: string;
}

/** A data volume per slot of an OpenStack fleet, kept across replacements of the slot's member. */
export interface DataVolume {
    /** Size in GB. */
    size: number;
    /** Cinder volume type. Defaults to the cloud's default type. */
    type?: string;
}

/** An ingress rule of an OpenStack fleet's security group. */
export interface IngressRule {
    /** Port the rule opens. */
    port: number;
    /** Defaults to `tcp`. */
    protocol?: IngressProtocol;
    /** Source range, e.g. `10.0.0.0/8`. */
    cidr: string;
}

/** The alert on a probe's metric. */
export interface ProbeAlert {
    /** PromQL. Defaults to the metric above 0 on the fleet. */
    expr?: string;
    /** How long the expression must hold. Defaults to `5m`. */
    for?: string;
    /** Defaults to `warning`. */
    severity?: string;
    /** Defaults to "Probe <name> counts failures on fleet <fleet>". */
    summary?: string;
}

/** A small script that counts one failure mode on every member, with an alert of its own. */
export interface Probe {
    /** Probe name: lowercase letters, digits and `_`. */
    name: string;
    /** The script's text: a shebang line, then code that prints one number. */
    script: string;
    /** How often it runs, e.g. `30s`, `5m`, `1h`. */
    every: string;
    /** Metric name. Defaults to `herd_probe_<name>`. */
    metric?: string;
    /** The alert. Defaults to the metric above 0 for 5 minutes, severity warning. */
    alert?: ProbeAlert;
}

/** The default alerts of a fleet: fewer than `minHealthy` members up, a member down for 5 minutes. */
export interface FleetAlerts {
    /** Alert when fewer members than this are up. Defaults to the size minus one update batch. */
    minHealthy?: number;
    /** How long a member may be down before it alerts, as Prometheus reads a duration (`5m`, `90s`). Defaults to `5m`. */
    memberDownFor?: string;
}

/** A node taint the members of a Kubernetes fleet tolerate. */
export interface Toleration {
    /** Taint key. Defaults to every key (with `operator: Exists`). */
    key?: string;
    /** `Equal` or `Exists` (checked when the workload is built). Defaults to `Equal`. */
    operator?: string;
    /** Taint value, with `Equal`. Defaults to empty. */
    value?: string;
    /** `NoSchedule`, `PreferNoSchedule` or `NoExecute` (checked when the workload is built). Defaults to every effect. */
    effect?: string;
    /** With `NoExecute`: seconds a member stays after the taint appears. Defaults to forever. */
    tolerationSeconds?: number;
}

/** Where Prometheus scrapes each member. */
export interface MetricsEndpoint {
    /** `false` for no scraping at all. Defaults to `true`. */
    scrape?: boolean;
    /** Defaults to the release's port. */
    port?: number;
    /** Defaults to `/metrics`. */
    path?: string;
}

/** CPU and memory of one container, in Kubernetes quantities. */
export interface ResourceQuantities {
    /** CPU, e.g. `100m`. */
    cpu?: string;
    /** Memory, e.g. `128Mi`. */
    memory?: string;
}

/** Requests and limits of a fleet's container. */
export interface ContainerResources {
    /** Defaults to 100m CPU, 128Mi memory. */
    requests?: ResourceQuantities;
    /** Defaults to 500m CPU, 256Mi memory. */
    limits?: ResourceQuantities;
}

/** The pod's and container's security context; every field defaults to locked down. */
export interface WorkloadSecurity {
    /** Defaults to `true`. */
    runAsNonRoot?: boolean;
    /** Defaults to the image's `USER`. */
    runAsUser?: number;
    /** Defaults to the image's group. */
    runAsGroup?: number;
    /** Defaults to none. */
    fsGroup?: number;
    /** Defaults to `true`; `/tmp` stays writable. */
    readOnlyRootFilesystem?: boolean;
    /** Defaults to `false`. */
    allowPrivilegeEscalation?: boolean;
    /** Capabilities added back after dropping `ALL`. Defaults to none. */
    addCapabilities?: string[];
    /** Defaults to `RuntimeDefault`. */
    seccompProfile?: SeccompProfile;
}

/** One OpenStack member, as the outputs show it. */
export interface Server {
    /** The slot, `0 … size-1`. */
    slot: number;
    /** Server name, `<fleet>-<slot>-<generation>`. */
    name: string;
    /** Generation of the release it runs. */
    generation: string;
    /** IPv4 address. */
    ip: string;
}

/** Generation per Deployment of a Kubernetes fleet. */
export interface RoleGenerations {
    /** Generation of the stable Deployment's release. */
    stable: string;
    /** Generation of the canary Deployment's release, while a rollout is under way. */
    canary?: string;
}

/** Replicas per Deployment of a Kubernetes fleet; they add up to the size. */
export interface RoleReplicas {
    /** Pods of the stable Deployment. */
    stable: number;
    /** Pods of the canary Deployment; 0 when no rollout is under way. */
    canary: number;
}

/** Arguments of a {@link ServerGroup}. */
export interface ServerGroupComponentArgs {
    /** Number of slots (members). */
    size: number;
    /** The release new members run. */
    release: ServerRelease;
    /** A rollout under way: slots `0 … members-1` run `release`, the others `previous`. Defaults to none. */
    rollout?: ServerRollout;
    /** How replacements proceed within one `pulumi up`. */
    update?: UpdatePolicy;
    /** Nova server group policy. Defaults to `soft-anti-affinity`. */
    spread?: Spread;
    /** Health check of a serving fleet: `path` and `port` (HTTP) or `port` alone (TCP); a command is refused. Defaults to none. */
    health?: HealthCheck;
    /** Load balancer sending traffic only to healthy members; needs `health`. Defaults to none. */
    loadBalancer?: LoadBalancer;
    /** Ingress rules of the fleet's security group. Defaults to the health port from 0.0.0.0/0 when `health` is set. */
    ingress?: IngressRule[];
    /** Cloud-side name of the security group and server group. Defaults to `herd-<name>`. */
    groupName?: string;
    /** Extra Nova metadata on every member. Defaults to none. */
    metadata?: Record<string, string>;
    /** Probes every member runs, each with an alert of its own. Defaults to none. */
    probes?: Probe[];
    /** The fleet's default alerts. Defaults to `minHealthy` the size minus one update batch, `memberDownFor` 5m. */
    alerts?: FleetAlerts;
    /**
     * A Cinder volume per slot, attached to the slot's member and kept (protected, retained on
     * delete) when the member is replaced; members are then replaced delete-before-create.
     * Defaults to none.
     */
    volume?: DataVolume;
    /** Compute hosts the project can use: hard anti-affinity needing more is refused before anything is created. Defaults to unchecked. */
    computeHosts?: number;
}

/** Arguments of a {@link KubernetesWorkload}. */
export interface KubernetesWorkloadComponentArgs {
    /** Number of pods, stable and canary together. */
    size: number;
    /** The release new pods run. */
    release: ContainerRelease;
    /** A rollout under way: `members` pods run `release` in the canary Deployment. Defaults to none. */
    rollout?: ContainerRollout;
    /** Namespace of every object; it must exist. Defaults to `default`. */
    namespace?: string;
    /** How a change of release rolls through each Deployment. */
    update?: UpdatePolicy;
    /** Topology spread over nodes. Defaults to `soft-anti-affinity`. */
    spread?: Spread;
    /** Node labels a node must carry for members to run on it. Defaults to any node. */
    nodeSelector?: Record<string, string>;
    /** Node taints members tolerate. Defaults to none. */
    tolerations?: Toleration[];
    /** The check behind the readiness, liveness and startup probes: HTTP, TCP or a command. Defaults to none. */
    health?: HealthCheck;
    /** Defaults to requests 100m / 128Mi, limits 500m / 256Mi. */
    resources?: ContainerResources;
    /** The ServiceAccount the pods run as. Defaults to the namespace's `default`. */
    serviceAccountName?: string;
    /** Mount the service account's API token into the pods. Defaults to `false`. */
    automountServiceAccountToken?: boolean;
    /** Secrets with the registry credentials to pull the image. Defaults to none. */
    imagePullSecrets?: string[];
    /** Extra volumes by name, each with its mount. Defaults to none. */
    volumes?: Record<string, KubernetesVolume>;
    /** Annotations of every pod, beside herd's Prometheus ones. Defaults to none. */
    podAnnotations?: Record<string, string>;
    /** Defaults to non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp. */
    security?: WorkloadSecurity;
    /** Defaults to scraping the release's port at `/metrics`. */
    metrics?: MetricsEndpoint;
    /** Port of the Service. Defaults to the release's port; no Service when no release has a port. */
    servicePort?: number;
    /** Fixed names for the Deployments, Service and PodDisruptionBudget. Defaults to `false`. */
    fixedNames?: boolean;
    /** The fleet's default alerts, in its PrometheusRule. Defaults to `minHealthy` the size minus one update batch, `memberDownFor` 5m. */
    alerts?: FleetAlerts;
    /** Probes run as CronJobs in the fleet's namespace, each with an alert of its own; they need `pushgateway`. Defaults to none. */
    probes?: Probe[];
    /** Base URL of the Prometheus Pushgateway probes push their counts to, e.g. `http://pushgateway.monitoring:9091`. Defaults to none. */
    pushgateway?: string;
    /** The image probe containers run in (a POSIX shell and `wget`). Defaults to `docker.io/library/busybox:1.37`. */
    probeImage?: string;
    /** Labels of the fleet's PodMonitor and PrometheusRule, for a Prometheus Operator that selects them by label. Defaults to none. */
    monitoringLabels?: Record<string, string>;
}

/** Arguments of a {@link DockerWorkload}. */
export interface DockerWorkloadComponentArgs {
    /** Number of slots (containers). */
    size: number;
    /** The release new containers run. */
    release: ContainerRelease;
    /** A rollout under way: slots `0 … members-1` run `release`, the others `previous`. Defaults to none. */
    rollout?: ContainerRollout;
    /** How replacements proceed within one `pulumi up`. */
    update?: UpdatePolicy;
    /** The check run inside each container: HTTP (with `wget`), TCP (with `/bin/sh` alone) or a command. Defaults to none. */
    health?: HealthCheck;
    /** The healthcheck test, replacing the one `health` gives. Defaults to the test of `health`. */
    healthCommand?: string[];
    /** Publish the release port on the host: slot `i` listens on `hostPort + i`. Defaults to none. */
    hostPort?: number;
    /** Host address the published ports listen on. Defaults to `127.0.0.1`. */
    hostIp?: string;
    /** Memory limit of each container, in MB. Defaults to 256. */
    memory?: number;
    /** CPUs each container may use, e.g. `0.5`. Defaults to `0.5`. */
    cpus?: string;
    /** Defaults to scraping the release's port at `/metrics`. */
    metrics?: MetricsEndpoint;
    /** Docker daemon to connect to. Defaults to `unix:///var/run/docker.sock`. */
    host?: string;
    /** Keep pulled images when the fleet stops using them. Defaults to `true`. */
    keepImages?: boolean;
    /** The fleet's default alerts. Defaults to `minHealthy` the size minus one update batch, `memberDownFor` 5m. */
    alerts?: FleetAlerts;
    /** Probes run as containers on the fleet's network, each with an alert of its own; they need `pushgateway`. Defaults to none. */
    probes?: Probe[];
    /** Base URL of the Prometheus Pushgateway probes push their counts to. Defaults to none. */
    pushgateway?: string;
    /** The image probe containers run in (a POSIX shell and `wget`). Defaults to `docker.io/library/busybox:1.37`. */
    probeImage?: string;
}

function metricsOf(metrics: MetricsEndpoint | undefined): HerdMetricsEndpoint | false | undefined {
    if (metrics === undefined) {
        return undefined;
    }
    if (metrics.scrape === false) {
        return false;
    }
    return { ...(metrics.port === undefined ? {} : { port: metrics.port }), ...(metrics.path === undefined ? {} : { path: metrics.path }) };
}

/** Drops the keys whose value is `undefined`, which the engine sends for unset inputs. */
function defined<T extends object>(value: T): T {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The TypeScript SDK's health check for a {@link HealthCheck}: its kind is told by the keys it
 * has, which the workloads check (a command beside a port, say, is refused).
 */
function healthOf(health: HealthCheck | undefined): HerdHealthCheck | undefined {
    return health && (defined({ ...health }) as HerdHealthCheck);
}

/**
 * A container fleet's releases as the TypeScript SDK takes them, and the secrets they hold. An
 * env value or file content given as an Output — a secret (`pulumi.Output.secret`,
 * `config.require_secret`, YAML's `fn::secret`), or a value known only at deploy time — is handled
 * as a secret: the release holds a marker in its place (`[secret 1a2b3c4d]`, a hash of the env
 * name or file path, never of the value), and the Output goes in {@link SecretReleases.secrets},
 * so that it reaches the members as a Pulumi secret (a Kubernetes `Secret`, a Docker container's
 * env or file) while names, labels, generations and outputs see only the marker.
 *
 * A secret given so belongs to the fleet, not to a release: a new value is not a new release,
 * every member gets the value `release` gives (or, for a place only `rollout.previous` has, the
 * one it gives), and changing it replaces the members that hold it all at once — Kubernetes rolls
 * their pods, Docker replaces their containers delete-before-create.
 */
export interface SecretReleases {
    /** `release`, each Output replaced by its marker. */
    readonly release: HerdContainerRelease;
    /** `rollout.previous`, each Output replaced by its marker; absent when there is none. */
    readonly previous?: HerdContainerRelease;
    /** The Outputs, by marker, in the order met. */
    readonly secrets: ReadonlyMap<string, pulumi.Input<string>>;
}

const isOutput = (value: unknown): boolean => pulumi.Output.isInstance(value) || pulumi.isUnknown(value);

/** The marker of the secret in an env variable or a file: the same for `release` and `rollout.previous`, so it names no release. */
function placeMarker(kind: "env" | "files", key: string): string {
    return secretMarker({ secure: `${kind}\u0000${key}` });
}

/** See {@link SecretReleases}. */
export function secretsOf(release: ContainerRelease, previous: ContainerRelease | undefined): SecretReleases {
    const secrets = new Map<string, pulumi.Input<string>>();
    const mark = (given: ContainerRelease): HerdContainerRelease => {
        const marked = (kind: "env" | "files") =>
            given[kind] &&
            Object.fromEntries(
                Object.entries(given[kind]).map(([key, value]) => {
                    if (!isOutput(value)) {
                        return [key, value as string];
                    }
                    const marker = placeMarker(kind, key);
                    if (!secrets.has(marker)) {
                        secrets.set(marker, value);
                    }
                    return [key, marker];
                }),
            );
        return defined({ ...given, env: marked("env"), files: marked("files") });
    };
    const plainRelease = mark(release);
    return { release: plainRelease, ...(previous ? { previous: mark(previous) } : {}), secrets };
}

/** Where an Output may be in a component's args, and those places in words. */
export interface OutputPlaces {
    /** The key paths (`release.userData`, `release.env.TOKEN`) that may hold an Output. */
    readonly paths: RegExp;
    /** The places, in words, for the message. */
    readonly allowed: string;
}

/**
 * A server release's wired values: networks, key pair, security groups and user data, which the
 * SDK takes as Inputs (the generation holds a placeholder naming the place, and a new value
 * replaces the members).
 */
export const SERVER_OUTPUTS: OutputPlaces = {
    paths: /^(release|rollout\.previous)\.(networks\[\d+\]|keyPair|securityGroups\[\d+\]|userData)$/,
    allowed: "only a release's networks, keyPair, securityGroups and userData may be Outputs",
};

/** A container release's env values and file contents: they reach the members as secrets. */
export const CONTAINER_OUTPUTS: OutputPlaces = {
    paths: /^(release|rollout\.previous)\.(env\.[^.]+|files\[.*\])$/,
    allowed: "only env values and file contents of a release may be Outputs",
};

/**
 * One line per Output in a component's args outside the places one may be (`places`): herd
 * names members after their release and plans from their settings, so it needs the rest as
 * plain values when the component is built.
 */
export function outputProblems(args: object, places: OutputPlaces): string[] {
    const problems: string[] = [];
    const walk = (value: unknown, path: string) => {
        if (isOutput(value)) {
            if (!places.paths.test(path)) {
                problems.push(
                    `${path} is an Output (a secret, or a value known only at deploy time): expected a plain value, which herd hashes into generations and names; ${places.allowed}`,
                );
            }
        } else if (Array.isArray(value)) {
            value.forEach((item, i) => walk(item, `${path}[${i}]`));
        } else if (value !== null && typeof value === "object") {
            for (const [key, item] of Object.entries(value)) {
                walk(item, key.startsWith("/") ? `${path}[${JSON.stringify(key)}]` : path === "" ? key : `${path}.${key}`);
            }
        }
    };
    walk(args, "");
    return problems;
}

/** The TypeScript SDK's {@link ServerGroupArgs} for a {@link ServerGroupComponentArgs}. */
export function serverGroupArgs(args: ServerGroupComponentArgs): ServerGroupArgs {
    return defined({
        size: args.size,
        release: defined({ ...args.release }),
        rollout: args.rollout && defined({ members: args.rollout.members, previous: args.rollout.previous && defined({ ...args.rollout.previous }) }),
        update: args.update && defined({ ...args.update }),
        spread: args.spread,
        // servingProblems refuses a command: Octavia checks servers from outside.
        health: healthOf(args.health) as ServerGroupArgs["health"],
        loadBalancer: args.loadBalancer && defined({ ...args.loadBalancer }),
        ingress: args.ingress?.map((rule) => defined({ ...rule })),
        groupName: args.groupName,
        metadata: args.metadata,
        probes: probeSpecs(args.probes),
        volume: args.volume && defined({ ...args.volume }),
        computeHosts: args.computeHosts,
    });
}

/** The SDK's probes for the package's. */
function probeSpecs(probes: Probe[] | undefined): ProbeSpec[] | undefined {
    return probes?.map((probe): ProbeSpec => defined({ ...probe, alert: probe.alert && defined({ ...probe.alert }) }));
}

/** How a fleet is watched, as `buildFleet` takes it: its alerts and, for a container fleet, its probes and where they push. */
function watchedArgs(args: { alerts?: FleetAlerts; probes?: Probe[]; pushgateway?: string; probeImage?: string; monitoringLabels?: Record<string, string> }) {
    return defined({
        alerts: args.alerts && defined({ ...args.alerts }),
        probes: probeSpecs(args.probes),
        pushgateway: args.pushgateway,
        probeImage: args.probeImage,
        monitoringLabels: args.monitoringLabels,
    });
}

/** The releases, rollout and secrets of a container fleet's SDK args. */
function containerReleaseArgs(args: { release: ContainerRelease; rollout?: ContainerRollout }) {
    const { release, previous, secrets } = secretsOf(args.release, args.rollout?.previous);
    return {
        release,
        rollout: args.rollout && defined({ members: args.rollout.members, previous }),
        secrets: secrets.size > 0 ? secrets : undefined,
    };
}

/** The TypeScript SDK's {@link KubernetesWorkloadArgs} for a {@link KubernetesWorkloadComponentArgs}. */
export function kubernetesWorkloadArgs(args: KubernetesWorkloadComponentArgs): PlainNamespaceWorkloadArgs {
    return defined({
        size: args.size,
        ...containerReleaseArgs(args),
        namespace: args.namespace,
        update: args.update && defined({ ...args.update }),
        spread: args.spread,
        nodeSelector: args.nodeSelector,
        // The schema has no string unions: resolveWorkload checks operator and effect.
        tolerations: args.tolerations?.map((toleration) => defined({ ...toleration }) as HerdToleration),
        health: healthOf(args.health),
        resources: args.resources && defined({ ...args.resources }),
        security: args.security && defined({ ...args.security }),
        metrics: metricsOf(args.metrics),
        servicePort: args.servicePort,
        fixedNames: args.fixedNames,
        serviceAccountName: args.serviceAccountName,
        automountServiceAccountToken: args.automountServiceAccountToken,
        imagePullSecrets: args.imagePullSecrets,
        // The schema has no string unions: resolveWorkload checks the medium.
        volumes:
            args.volumes &&
            Object.fromEntries(
                Object.entries(args.volumes).map(([name, volume]) => [
                    name,
                    defined({ ...volume, emptyDir: volume.emptyDir && defined({ ...volume.emptyDir }) }) as HerdKubernetesVolume,
                ]),
            ),
        podAnnotations: args.podAnnotations,
    });
}

/** A Docker fleet holding a secret given as an Output cannot be replaced create-before-delete: see {@link dockerWorkloadArgs}. */
function secretOrderProblems(args: DockerWorkloadComponentArgs): string[] {
    if (args.update?.order !== UpdateOrder.CreateBeforeDelete || containerReleaseArgs(args).secrets === undefined) {
        return [];
    }
    return [
        'update.order = "create-before-delete": expected delete-before-create (or no order) for a fleet whose env or files hold an Output: ' +
            "a new value of it recreates containers under the names they have, and a new container cannot take the name of one that still runs",
    ];
}

/**
 * The TypeScript SDK's {@link DockerWorkloadArgs} for a {@link DockerWorkloadComponentArgs}. A
 * fleet holding a secret given as an Output is replaced delete-before-create unless told
 * otherwise: a new value recreates containers under the names they have (see {@link SecretReleases}).
 */
export function dockerWorkloadArgs(args: DockerWorkloadComponentArgs): DockerWorkloadArgs {
    const releases = containerReleaseArgs(args);
    const order = args.update?.order ?? (releases.secrets ? UpdateOrder.DeleteBeforeCreate : undefined);
    return defined({
        size: args.size,
        ...releases,
        update: (args.update || order) && defined({ ...args.update, order }),
        health: healthOf(args.health),
        healthCommand: args.healthCommand,
        hostPort: args.hostPort,
        hostIp: args.hostIp,
        memory: args.memory,
        cpus: args.cpus,
        metrics: metricsOf(args.metrics),
        host: args.host,
        keepImages: args.keepImages,
    });
}

/** A fleet's alerts as a Prometheus rule file (see `buildFleet`). */
function alertRulesOf(fleet: Fleet): pulumi.Output<string> {
    return pulumi.output(ruleFile([fleet.ruleGroup]));
}

/**
 * A fleet of interchangeable OpenStack VMs: one instance per slot, spread by a Nova server group,
 * replaced (never patched) whenever its release changes, in batches, optionally behind an Octavia
 * load balancer with an HTTP or TCP health monitor; monitored from birth: its probes run on every member,
 * and its default and probe alerts are in {@link ServerGroup.alertRules}.
 */
export class ServerGroup extends pulumi.ComponentResource {
    /** Name, generation and IPv4 address of every member, by slot. */
    readonly servers: pulumi.Output<Server[]>;
    /** Generation per slot. */
    readonly generations: pulumi.Output<string[]>;
    /** The load balancer's VIP, when there is one. */
    readonly loadBalancerAddress: pulumi.Output<string | undefined>;
    /** The fleet's alerts, as a Prometheus rule file for the Prometheus that scrapes its members. */
    readonly alertRules: pulumi.Output<string>;

    constructor(name: string, args: ServerGroupComponentArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before this component registers: a refused fleet leaves nothing behind.
        const problems = [...fleetNameProblems(name), ...outputProblems(args, SERVER_OUTPUTS)];
        const fleetArgs: OpenStackFleetArgs = { backend: "openstack", ...serverGroupArgs(args), ...watchedArgs(args) };
        refuseArguments(
            "herd:index:ServerGroup",
            name,
            problems.length > 0 ? problems : [...servingProblems(args), ...fleetProblems(name, fleetArgs), ...serverGroupProblems(name, serverGroupArgs(args))],
        );
        super("herd:index:ServerGroup", name, {}, opts);
        const fleet = buildFleet(name, fleetArgs, { parent: this });
        this.servers = fleet.workload.servers.apply((servers) => servers.map((server) => ({ ...server })));
        this.generations = pulumi.output([...fleet.workload.generations]);
        this.loadBalancerAddress = fleet.workload.loadBalancerAddress;
        this.alertRules = alertRulesOf(fleet);
        this.registerOutputs({ servers: this.servers, generations: this.generations, loadBalancerAddress: this.loadBalancerAddress, alertRules: this.alertRules });
    }
}

/**
 * A fleet of interchangeable pods on Kubernetes: a stable Deployment and, while a rollout is under
 * way, a canary Deployment, behind one Service and one PodDisruptionBudget; pods locked down,
 * probed and spread by default; monitored from birth: a PodMonitor and a PrometheusRule with its
 * default, probe and canary alerts (the Prometheus Operator's CRDs must be in the cluster), and a
 * CronJob per probe.
 */
export class KubernetesWorkload extends pulumi.ComponentResource {
    /** Generation per Deployment. */
    readonly generations: pulumi.Output<RoleGenerations>;
    /** Replicas per Deployment. */
    readonly replicas: pulumi.Output<RoleReplicas>;
    /** The Service's name, when the fleet serves a port. */
    readonly serviceName: pulumi.Output<string | undefined>;
    /** The fleet's alerts, which its PrometheusRule carries, as a Prometheus rule file. */
    readonly alertRules: pulumi.Output<string>;

    constructor(name: string, args: KubernetesWorkloadComponentArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before this component registers, the SDK's checks included: a refused fleet leaves nothing behind.
        refuseArguments("herd:index:KubernetesWorkload", name, [...fleetNameProblems(name), ...outputProblems(args, CONTAINER_OUTPUTS)]);
        const fleetArgs: KubernetesFleetArgs = { backend: "kubernetes", ...kubernetesWorkloadArgs(args), ...watchedArgs(args) };
        refuseArguments("herd:index:KubernetesWorkload", name, fleetProblems(name, fleetArgs));
        resolveWorkload(name, kubernetesWorkloadArgsOf(fleetArgs));
        super("herd:index:KubernetesWorkload", name, {}, opts);
        const fleet = buildFleet(name, fleetArgs, { parent: this });
        this.generations = pulumi.output({ ...fleet.workload.generations });
        this.replicas = pulumi.output({ ...fleet.workload.replicas });
        this.serviceName = fleet.workload.serviceName;
        this.alertRules = alertRulesOf(fleet);
        this.registerOutputs({ generations: this.generations, replicas: this.replicas, serviceName: this.serviceName, alertRules: this.alertRules });
    }
}

/**
 * A fleet of interchangeable containers on one Docker engine: one container per slot on the
 * fleet's own network, replaced (never updated) whenever its release changes, in batches;
 * monitored from birth: a container per probe, and its default and probe alerts in
 * {@link DockerWorkload.alertRules}.
 */
export class DockerWorkload extends pulumi.ComponentResource {
    /** Docker container name per slot. */
    readonly containerNames: pulumi.Output<string[]>;
    /** Generation per slot. */
    readonly generations: pulumi.Output<string[]>;
    /** The fleet's alerts, as a Prometheus rule file for the Prometheus that scrapes its containers. */
    readonly alertRules: pulumi.Output<string>;

    constructor(name: string, args: DockerWorkloadComponentArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before this component registers, the SDK's checks included: a refused fleet leaves nothing behind.
        refuseArguments("herd:index:DockerWorkload", name, [...fleetNameProblems(name), ...outputProblems(args, CONTAINER_OUTPUTS), ...secretOrderProblems(args)]);
        const fleetArgs: DockerFleetArgs = { backend: "docker", ...dockerWorkloadArgs(args), ...watchedArgs(args) };
        refuseArguments("herd:index:DockerWorkload", name, fleetProblems(name, fleetArgs));
        resolveDockerWorkload(name, dockerWorkloadArgsOf(fleetArgs));
        super("herd:index:DockerWorkload", name, {}, opts);
        const fleet = buildFleet(name, fleetArgs, { parent: this });
        this.containerNames = pulumi.output([...fleet.workload.containerNames]);
        this.generations = pulumi.output([...fleet.workload.generations]);
        this.alertRules = alertRulesOf(fleet);
        this.registerOutputs({ containerNames: this.containerNames, generations: this.generations, alertRules: this.alertRules });
    }
}
