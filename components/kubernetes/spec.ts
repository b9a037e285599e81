import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { formatProblem } from "../config/errors";
import { HTTP_PATH_ALLOWED, isHttpPath } from "../config/grammar";
import { MAX_FLEET_SIZE } from "../config/schema";
import { fleetNameProblems, healthCheckProblems, refuseArguments } from "../core/arguments";
import { canonicalHealthCheck, HealthCheck, healthCheckKind } from "../core/health";
import { assignSlots, defaultBatch, Rollout } from "../rollout";
import {
    canonicalContainerRelease,
    containerGeneration,
    ContainerRelease,
    containerReleaseProblems,
    DEFAULT_METRICS_PATH,
    fleetShapeProblems,
    HERD_LABELS,
    isPort,
} from "../release/container";
import { holdsSecret } from "../release/secrets";
import { podSettingsProblems, podVolume, ResolvedPodSettings, resolvePodSettings, ResourceQuantities, volumeMount } from "./pod";
import type { KubernetesWorkloadArgs } from "./workload";

/** Which Deployment a pod belongs to: `stable` runs the fleet's settled release, `canary` the one being rolled out. */
export type Role = "stable" | "canary";

/**
 * The pod's and container's security context. herd runs members locked down; loosen a setting
 * only for an image that cannot run otherwise.
 */
export interface WorkloadSecurity {
    /** Refuse to start a container whose user is root. Needs an image with a numeric non-root `USER`, or `runAsUser`. @default true */
    readonly runAsNonRoot?: boolean;
    /** UID the container runs as. @default the image's `USER` */
    readonly runAsUser?: number;
    /** GID the container runs as. @default the image's group */
    readonly runAsGroup?: number;
    /** Group that owns mounted volumes. @default none */
    readonly fsGroup?: number;
    /** Mount the container's root filesystem read-only; `/tmp` stays writable (an `emptyDir`). @default true */
    readonly readOnlyRootFilesystem?: boolean;
    /** Let a process gain more privileges than its parent (setuid binaries). @default false */
    readonly allowPrivilegeEscalation?: boolean;
    /** Linux capabilities added back after dropping `ALL`, e.g. `NET_BIND_SERVICE`. @default [] */
    readonly addCapabilities?: readonly string[];
    /** Seccomp profile. @default "RuntimeDefault" */
    readonly seccompProfile?: "RuntimeDefault" | "Unconfined";
}

/** How a change of release proceeds in each Deployment. */
export interface WorkloadUpdate {
    /** Pods replaced at a time (the Deployment's surge, and the PodDisruptionBudget's `maxUnavailable`). @default a quarter of the size, rounded up, at least 1 */
    readonly batch?: number;
    /**
     * `create-before-delete` starts `batch` new pods before stopping old ones (capacity never
     * drops); `delete-before-create` stops `batch` old pods first, for quota-tight namespaces.
     * @default "create-before-delete"
     */
    readonly order?: "create-before-delete" | "delete-before-create";
}

/** A toleration of a node taint, as Kubernetes takes it: lets members run on nodes with that taint. */
export interface Toleration {
    /** Taint key; unset with `operator: Exists` tolerates every taint. @default every key */
    readonly key?: string;
    /** `Equal` matches `value`; `Exists` matches any value. @default "Equal" */
    readonly operator?: "Equal" | "Exists";
    /** Taint value, with `operator: Equal`. @default "" */
    readonly value?: string;
    /** Taint effect tolerated. @default every effect */
    readonly effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
    /** With `effect: NoExecute`: how long a member stays on a node after the taint appears. @default forever */
    readonly tolerationSeconds?: number;
}

/** Which nodes members may run on. */
export interface WorkloadPlacement {
    /** Node labels a node must carry, e.g. `{ "node-role.example.org/web": "true" }`. @default any node */
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** Taints members tolerate, e.g. nodes dedicated to the fleet. @default none */
    readonly tolerations?: readonly Toleration[];
}

/** What the workload's settings come to once defaults are applied. */
export interface ResolvedWorkload {
    /** The fleet's name: the `herd.dev/fleet` label and the prefix of every child's name. */
    readonly name: string;
    /** Namespace of every object: a name, or one wired from another resource. */
    readonly namespace: pulumi.Input<string>;
    /** Pods replaced at a time (surge, and the PodDisruptionBudget's `maxUnavailable`). */
    readonly batch: number;
    /** Whether new pods start before old ones stop. */
    readonly order: "create-before-delete" | "delete-before-create";
    /** How strictly pods are spread over nodes. */
    readonly spread: "anti-affinity" | "soft-anti-affinity";
    /** The check behind the readiness, liveness and startup probes (HTTP, TCP or a command), when the fleet has one. */
    readonly health?: HealthCheck;
    /** CPU and memory of the container, defaults applied. */
    readonly resources: {
        /** What the scheduler reserves per pod. */
        readonly requests: Required<ResourceQuantities>;
        /** The most a pod may use. */
        readonly limits: Required<ResourceQuantities>;
    };
    /** Service account, image pull secrets, extra volumes and pod annotations, defaults applied. */
    readonly pod: Omit<ResolvedPodSettings, "resources">;
    /** The pod's and container's security context. */
    readonly security: ResolvedSecurity;
    /** Node selector (sorted by key) and tolerations, as given; empty when unset. */
    readonly placement: {
        /** Node labels a node must carry. */
        readonly nodeSelector: Readonly<Record<string, string>>;
        /** Taints members tolerate. */
        readonly tolerations: readonly Toleration[];
    };
    /** `false` when metrics are not scraped; `port` unset means each role's release port. */
    readonly metrics:
        | {
              /** Port Prometheus scrapes; unset: each role's release port. */
              readonly port?: number;
              /** HTTP path of the metrics. */
              readonly path: string;
          }
        | false;
    /** Service port; `undefined` when no release serves a port (no Service then). */
    readonly servicePort?: number;
    /** Whether the Deployments, Service and PodDisruptionBudget have fixed names. */
    readonly fixedNames: boolean;
    /** The Deployments to run: always `stable`, and `canary` while a rollout is under way. */
    readonly roles: readonly RolePlan[];
}

/** {@link WorkloadSecurity} with its defaults applied. */
export interface ResolvedSecurity {
    /** Refuse to start a container whose user is root. */
    readonly runAsNonRoot: boolean;
    /** UID the container runs as; unset: the image's `USER`. */
    readonly runAsUser?: number;
    /** GID the container runs as; unset: the image's group. */
    readonly runAsGroup?: number;
    /** Group that owns mounted volumes; unset: none. */
    readonly fsGroup?: number;
    /** Mount the root filesystem read-only (`/tmp` stays writable). */
    readonly readOnlyRootFilesystem: boolean;
    /** Let a process gain more privileges than its parent. */
    readonly allowPrivilegeEscalation: boolean;
    /** Sorted, so the order they were given in does not change the pods. */
    readonly addCapabilities: readonly string[];
    /** Seccomp profile. */
    readonly seccompProfile: "RuntimeDefault" | "Unconfined";
}

/** One Deployment of the fleet. */
export interface RolePlan {
    /** Which Deployment: `stable` or `canary`. */
    readonly role: Role;
    /** The release its pods run, in canonical form. */
    readonly release: ContainerRelease;
    /** Generation of the release, on the pods' `herd.dev/generation` label. */
    readonly generation: string;
    /** Pods of this Deployment; the roles' replicas add up to the fleet's size. */
    readonly replicas: number;
}

/** Namespace of a fleet that names none. */
export const DEFAULT_NAMESPACE = "default";
/** Name of the container in every pod, and of its serving port (the Service targets it by name). */
export const CONTAINER_NAME = "app";
/** Name of the container's serving port, which the Service targets. */
export const PORT_NAME = "http";
/** Name of the container's metrics port, when metrics are served on a port of their own. */
export const METRICS_PORT_NAME = "metrics";
/** Members are spread over nodes. */
export const TOPOLOGY_KEY = "kubernetes.io/hostname";

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A label (or taint) key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label value: empty, or at most 63 characters of letters, digits, `-`, `_` and `.`, starting and ending alphanumeric. */
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;

/** `true` for a Kubernetes label key (`example.org/role`, `role`): prefix at most 253 characters, name at most 63. */
export function isLabelKey(key: string): boolean {
    const slash = key.lastIndexOf("/");
    return LABEL_KEY.test(key) && (slash < 0 || slash <= 253);
}

/** `true` for a Kubernetes label value: empty, or at most 63 characters of `[A-Za-z0-9-_.]`, alphanumeric at both ends. */
export function isLabelValue(value: string): boolean {
    return LABEL_VALUE.test(value);
}

/** Problems of a node selector and tolerations, one line each, keys prefixed with `key`. */
export function placementProblems(placement: WorkloadPlacement, key = ""): string[] {
    const problems: string[] = [];
    for (const [label, value] of Object.entries(placement.nodeSelector ?? {})) {
        if (!isLabelKey(label)) {
            problems.push(`${key}nodeSelector has key ${JSON.stringify(label)}: expected a label key such as example.org/pool (name at most 63 characters)`);
        }
        if (typeof value !== "string" || !isLabelValue(value)) {
            problems.push(`${key}nodeSelector.${label} = ${JSON.stringify(value)}: expected a label value: at most 63 letters, digits, '-', '_' or '.'`);
        }
    }
    (placement.tolerations ?? []).forEach((toleration, i) => {
        const at = `${key}tolerations[${i}]`;
        const operator = toleration.operator ?? "Equal";
        if (operator !== "Equal" && operator !== "Exists") {
            problems.push(`${at}.operator = ${JSON.stringify(toleration.operator)}: expected Equal | Exists`);
        }
        if (toleration.key !== undefined && !isLabelKey(toleration.key)) {
            problems.push(`${at}.key = ${JSON.stringify(toleration.key)}: expected a taint key such as example.org/dedicated`);
        }
        if (toleration.key === undefined && operator !== "Exists") {
            problems.push(`${at}: a toleration without a key needs operator: Exists (it then tolerates every taint)`);
        }
        if (toleration.value !== undefined && (operator === "Exists" ? toleration.value !== "" : !isLabelValue(toleration.value))) {
            problems.push(
                `${at}.value = ${JSON.stringify(toleration.value)}: ${operator === "Exists" ? "operator Exists takes no value" : "expected a taint value: at most 63 letters, digits, '-', '_' or '.'"}`,
            );
        }
        if (toleration.effect !== undefined && !(TAINT_EFFECTS as readonly string[]).includes(toleration.effect)) {
            problems.push(`${at}.effect = ${JSON.stringify(toleration.effect)}: expected ${TAINT_EFFECTS.join(" | ")}`);
        }
        if (toleration.tolerationSeconds !== undefined) {
            if (!Number.isSafeInteger(toleration.tolerationSeconds) || toleration.tolerationSeconds < 0) {
                problems.push(`${at}.tolerationSeconds = ${JSON.stringify(toleration.tolerationSeconds)}: expected a whole number of seconds ≥ 0`);
            } else if (toleration.effect !== "NoExecute") {
                problems.push(`${at}.tolerationSeconds: only a NoExecute toleration has a time limit; set effect: NoExecute or drop it`);
            }
        }
    });
    return problems;
}

/** A toleration in the form the API server returns it: fields in a fixed order, unset ones absent. */
function canonicalToleration(toleration: Toleration): Toleration {
    return {
        ...(toleration.key === undefined ? {} : { key: toleration.key }),
        operator: toleration.operator ?? "Equal",
        ...(toleration.value === undefined ? {} : { value: toleration.value }),
        ...(toleration.effect === undefined ? {} : { effect: toleration.effect }),
        ...(toleration.tolerationSeconds === undefined ? {} : { tolerationSeconds: toleration.tolerationSeconds }),
    };
}
const CAPABILITY = /^[A-Z_]+$/;

/**
 * The Deployments of a fleet and their replicas, which always add up to `size`:
 * - no rollout, or `members` = `size`: one `stable` Deployment running `release`;
 * - `members` = 0: one `stable` Deployment running `rollout.previous`;
 * - otherwise `stable` runs `previous` on `size - members` pods and `canary` runs `release` on `members`.
 *
 * The split comes from the slot assignment every backend shares, so "members" means the same
 * number of members on Kubernetes as on OpenStack and Docker.
 */
export function planRoles(size: number, release: ContainerRelease, rollout?: Rollout<ContainerRelease>): RolePlan[] {
    const slots = assignSlots(size, release, rollout);
    const members = slots.filter((slot) => slot.current).length;
    const plan = (role: Role, of: ContainerRelease, replicas: number): RolePlan => {
        const canonical = canonicalContainerRelease(of);
        return { role, release: canonical, generation: containerGeneration(canonical), replicas };
    };
    if (members > 0 && members < size) {
        return [plan("stable", rollout?.previous as ContainerRelease, size - members), plan("canary", release, members)];
    }
    return [plan("stable", members === 0 && size > 0 ? (rollout?.previous as ContainerRelease) : release, size)];
}

function argumentProblems(input: KubernetesWorkloadArgs): string[] {
    const problems = fleetShapeProblems({ size: input.size, rollout: input.rollout, batch: input.update?.batch, maxSize: MAX_FLEET_SIZE.kubernetes });
    problems.push(...containerReleaseProblems(input.release, "release"));
    if (input.rollout?.previous) {
        problems.push(...containerReleaseProblems(input.rollout.previous, "rollout.previous"));
    }
    // A namespace wired from another resource is not known yet: Kubernetes checks it.
    if (typeof input.namespace === "string" && !NAMESPACE.test(input.namespace)) {
        problems.push(`namespace = ${JSON.stringify(input.namespace)}: expected a Kubernetes namespace name (lowercase letters, digits, '-')`);
    }
    problems.push(...healthCheckProblems(input.health));
    if (input.servicePort !== undefined && !isPort(input.servicePort)) {
        problems.push(`servicePort = ${JSON.stringify(input.servicePort)}: expected a port, 1–65535`);
    }
    if (input.metrics && input.metrics.port !== undefined && !isPort(input.metrics.port)) {
        problems.push(`metrics.port = ${JSON.stringify(input.metrics.port)}: expected a port, 1–65535`);
    }
    if (input.metrics && input.metrics.path !== undefined && !isHttpPath(input.metrics.path)) {
        problems.push(`metrics.path = ${JSON.stringify(input.metrics.path)}: expected ${HTTP_PATH_ALLOWED}`);
    }
    problems.push(...placementProblems(input));
    const filePaths = [input.release, input.rollout?.previous].flatMap((release) => Object.keys(release?.files ?? {}));
    problems.push(...podSettingsProblems(input, { filePaths, metrics: input.metrics !== false }).map(formatProblem));
    for (const capability of input.security?.addCapabilities ?? []) {
        if (!CAPABILITY.test(capability)) {
            problems.push(`security.addCapabilities has ${JSON.stringify(capability)}: expected a capability name such as NET_BIND_SERVICE`);
        }
    }
    return problems;
}

/**
 * Validates a workload's arguments and applies every default. Throws one Error that lists every
 * problem (key, value, what is allowed) before anything is created.
 */
export function resolveWorkload(name: string, input: KubernetesWorkloadArgs): ResolvedWorkload {
    refuseArguments("KubernetesWorkload", name, [...fleetNameProblems(name), ...argumentProblems(input)]);
    const roles = planRoles(input.size, input.release, input.rollout);
    const security = input.security ?? {};
    const servicePort = input.servicePort ?? input.release.port ?? input.rollout?.previous?.port;
    const { resources, ...pod } = resolvePodSettings(input);
    return {
        name,
        namespace: input.namespace ?? DEFAULT_NAMESPACE,
        batch: input.update?.batch ?? defaultBatch(input.size),
        order: input.update?.order ?? "create-before-delete",
        spread: input.spread ?? "soft-anti-affinity",
        ...(input.health ? { health: canonicalHealthCheck(input.health) } : {}),
        resources,
        pod,
        security: {
            runAsNonRoot: security.runAsNonRoot ?? true,
            readOnlyRootFilesystem: security.readOnlyRootFilesystem ?? true,
            allowPrivilegeEscalation: security.allowPrivilegeEscalation ?? false,
            addCapabilities: [...(security.addCapabilities ?? [])].sort(),
            seccompProfile: security.seccompProfile ?? "RuntimeDefault",
            ...(security.runAsUser === undefined ? {} : { runAsUser: security.runAsUser }),
            ...(security.runAsGroup === undefined ? {} : { runAsGroup: security.runAsGroup }),
            ...(security.fsGroup === undefined ? {} : { fsGroup: security.fsGroup }),
        },
        placement: {
            nodeSelector: Object.fromEntries(Object.entries(input.nodeSelector ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
            tolerations: (input.tolerations ?? []).map(canonicalToleration),
        },
        metrics:
            input.metrics === false
                ? false
                : {
                      ...(input.metrics?.port === undefined ? {} : { port: input.metrics.port }),
                      path: input.metrics?.path ?? DEFAULT_METRICS_PATH,
                  },
        ...(servicePort === undefined ? {} : { servicePort }),
        fixedNames: input.fixedNames ?? false,
        roles,
    };
}

/**
 * The order in which the Deployments are updated, each waiting for the one before. Moving
 * forward, the canary grows while the stable Deployment shrinks: with create-before-delete the
 * canary goes first, so its new pods are ready before stable pods stop and capacity never drops;
 * with delete-before-create the stable Deployment shrinks first, so the namespace never holds
 * more pods than `size`.
 */
export function deploymentOrder(workload: ResolvedWorkload): RolePlan[] {
    const first: Role = workload.order === "create-before-delete" ? "canary" : "stable";
    return [...workload.roles].sort((a, b) => Number(b.role === first) - Number(a.role === first));
}

/** Pulumi resource name of a role's Deployment: `${name}-stable`, `${name}-canary`. */
export function deploymentName(name: string, role: Role): string {
    return `${name}-${role}`;
}

/** Pulumi resource name of a role's ConfigMap: `${name}-stable-env`, `${name}-canary-files`. */
export function configMapName(name: string, role: Role, kind: "env" | "files"): string {
    return `${name}-${role}-${kind}`;
}

/** Pulumi resource name of a role's Secret, holding the env values and files that are secrets: `${name}-stable-secret-env`. */
export function secretName(name: string, role: Role, kind: "env" | "files"): string {
    return `${name}-${role}-secret-${kind}`;
}

/** Pulumi resource name of the PodDisruptionBudget. */
export function disruptionBudgetName(name: string): string {
    return `${name}-pdb`;
}

/** Labels every object of the fleet carries. */
export function fleetLabels(name: string): Record<string, string> {
    return { "app.kubernetes.io/name": name, [HERD_LABELS.fleet]: name };
}

/** Labels of a role's Deployment and ConfigMaps. */
export function roleLabels(name: string, role: Role): Record<string, string> {
    return { ...fleetLabels(name), [HERD_LABELS.role]: role };
}

/** Labels of a pod: its fleet, role and generation, so `kubectl get pods -L herd.dev/generation` shows who runs what. */
export function podLabels(name: string, plan: RolePlan): Record<string, string> {
    return { ...roleLabels(name, plan.role), [HERD_LABELS.generation]: plan.generation };
}

/**
 * A Deployment's selector: fleet and role only. A selector is immutable once created, so it must
 * not contain the generation (a new release would then fail, or force a delete-then-create).
 */
export function deploymentSelector(name: string, role: Role): Record<string, string> {
    return { [HERD_LABELS.fleet]: name, [HERD_LABELS.role]: role };
}

/** The Service's and PodDisruptionBudget's selector: every pod of the fleet, stable and canary. */
export function fleetSelector(name: string): Record<string, string> {
    return { "app.kubernetes.io/name": name, [HERD_LABELS.fleet]: name };
}

/**
 * The ConfigMap key of a file. Keys allow only `[-._a-zA-Z0-9]`, so the key is the file's base
 * name made safe, prefixed with a hash of its full path: `/etc/a/x.conf` and `/etc/b/x.conf` get
 * different keys, and the same path always gets the same one.
 */
export function fileKey(path: string): string {
    const hash = createHash("sha256").update(path).digest("hex").slice(0, 8);
    const base = path.slice(path.lastIndexOf("/") + 1).replace(/[^-._a-zA-Z0-9]/g, "_").slice(0, 200);
    return `${hash}-${base}`;
}

/**
 * The data of a role's ConfigMaps: `env` (variable → value) and `files` ({@link fileKey} →
 * content), each sorted by key, and absent when empty.
 */
export function buildConfigMapData(release: ContainerRelease): {
    /** Environment: variable name → value. */
    env?: Record<string, string>;
    /** Config files: {@link fileKey} of the path → content. */
    files?: Record<string, string>;
} {
    return roleData(release, false);
}

/**
 * The data of a role's Secrets: the env values and file contents that hold a secret's marker
 * (`[secret 1a2b3c4d]`), keyed as in {@link buildConfigMapData}, which leaves them out. The
 * component puts each secret's plaintext in place of its marker; absent when there is none.
 */
export function buildSecretData(release: ContainerRelease): {
    /** Environment: variable name → value, markers and all. */
    env?: Record<string, string>;
    /** Config files: {@link fileKey} of the path → content, markers and all. */
    files?: Record<string, string>;
} {
    return roleData(release, true);
}

function roleData(release: ContainerRelease, secret: boolean): { env?: Record<string, string>; files?: Record<string, string> } {
    const canonical = canonicalContainerRelease(release);
    const env = Object.entries(canonical.env ?? {}).filter(([, value]) => holdsSecret(value) === secret);
    const files = Object.entries(canonical.files ?? {})
        .filter(([, content]) => holdsSecret(content) === secret)
        .map(([path, content]) => [fileKey(path), content] as const)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
        ...(env.length > 0 ? { env: Object.fromEntries(env) } : {}),
        ...(files.length > 0 ? { files: Object.fromEntries(files) } : {}),
    };
}

/** The paths of a release's files whose content is (or is not) a secret, in canonical order. */
function filePaths(release: ContainerRelease, secret: boolean): string[] {
    return Object.entries(release.files ?? {})
        .filter(([, content]) => holdsSecret(content) === secret)
        .map(([path]) => path);
}

/** Metadata of a child object. `name` is set only with `fixedNames`; otherwise Pulumi names it (`web-stable-1a2b3c4d`). */
export function objectMeta(workload: ResolvedWorkload, resourceName: string, labels: Record<string, string>) {
    return {
        namespace: workload.namespace,
        labels,
        ...(workload.fixedNames ? { name: resourceName } : {}),
    };
}

/** The names of a role's ConfigMaps, as the pod refers to them (plain strings in tests, Outputs in the component). */
export interface ConfigMapRefs<N> {
    /** Name of the ConfigMap holding the environment, when the release has `env`. */
    readonly env?: N;
    /** Name of the ConfigMap holding the config files, when the release has `files`. */
    readonly files?: N;
    /** Name of the Secret holding the env values that are secrets, when the release has some. */
    readonly secretEnv?: N;
    /** Name of the Secret holding the files whose content is a secret, when the release has some. */
    readonly secretFiles?: N;
}

/**
 * The probe of a health check: `httpGet`, `tcpSocket` or `exec`. A command gets 5 s, for the
 * process it starts in the container; a connection 2 s.
 */
export function healthProbe(health: HealthCheck) {
    switch (healthCheckKind(health)) {
        case "command":
            return { exec: { command: [...(health.command as readonly string[])] }, timeoutSeconds: 5 };
        case "tcp":
            return { tcpSocket: { port: health.port as number }, timeoutSeconds: 2 };
        default:
            return { httpGet: { path: health.path as string, port: health.port as number, scheme: "HTTP" }, timeoutSeconds: 2 };
    }
}

/**
 * The container's ports: the release's serving port (`http`), and the metrics port (`metrics`)
 * when metrics are served on a port of their own, which Prometheus can only scrape once the pod
 * declares it.
 */
function containerPorts(workload: ResolvedWorkload, plan: RolePlan) {
    const port = plan.release.port;
    const metrics = workload.metrics === false ? undefined : workload.metrics.port;
    return [
        ...(port === undefined ? [] : [{ name: PORT_NAME, containerPort: port, protocol: "TCP" }]),
        ...(metrics === undefined || metrics === port ? [] : [{ name: METRICS_PORT_NAME, containerPort: metrics, protocol: "TCP" }]),
    ];
}

/**
 * Where Prometheus scrapes the fleet's pods: the metrics port by number when one is set, else the
 * serving port by name when every role has one; `undefined` when there is nothing to scrape
 * (metrics off, or a fleet that serves no port), so that no scrape target is promised that would
 * never come up.
 */
export function scrapePort(workload: ResolvedWorkload): string | number | undefined {
    if (workload.metrics === false) {
        return undefined;
    }
    if (workload.metrics.port !== undefined) {
        return workload.metrics.port;
    }
    return workload.roles.every((plan) => plan.release.port !== undefined) ? PORT_NAME : undefined;
}

function container<N>(workload: ResolvedWorkload, plan: RolePlan, configMaps: ConfigMapRefs<N>) {
    const { release } = plan;
    const files = filePaths(release, false);
    const secretFiles = filePaths(release, true);
    const envFrom = [
        ...(configMaps.env === undefined ? [] : [{ configMapRef: { name: configMaps.env } }]),
        ...(configMaps.secretEnv === undefined ? [] : [{ secretRef: { name: configMaps.secretEnv } }]),
    ];
    return {
        name: CONTAINER_NAME,
        image: release.image,
        ...(release.command ? { command: [...release.command] } : {}),
        ...(release.args ? { args: [...release.args] } : {}),
        ...(containerPorts(workload, plan).length > 0 ? { ports: containerPorts(workload, plan) } : {}),
        ...(envFrom.length === 0 ? {} : { envFrom }),
        resources: {
            requests: { ...workload.resources.requests },
            limits: { ...workload.resources.limits },
        },
        securityContext: {
            runAsNonRoot: workload.security.runAsNonRoot,
            readOnlyRootFilesystem: workload.security.readOnlyRootFilesystem,
            allowPrivilegeEscalation: workload.security.allowPrivilegeEscalation,
            capabilities: {
                drop: ["ALL"],
                ...(workload.security.addCapabilities.length > 0 ? { add: [...workload.security.addCapabilities] } : {}),
            },
        },
        // The startup probe gives a slow start up to 150 s before the liveness probe may restart it;
        // readiness decides, every 5 s, whether the Service sends the pod traffic.
        ...(workload.health
            ? {
                  startupProbe: { ...healthProbe(workload.health), periodSeconds: 5, failureThreshold: 30 },
                  readinessProbe: { ...healthProbe(workload.health), periodSeconds: 5, failureThreshold: 3 },
                  livenessProbe: { ...healthProbe(workload.health), periodSeconds: 10, failureThreshold: 3 },
              }
            : {}),
        volumeMounts: [
            { name: "tmp", mountPath: "/tmp" },
            ...files.map((path) => ({ name: "files", mountPath: path, subPath: fileKey(path), readOnly: true })),
            ...secretFiles.map((path) => ({ name: "secret-files", mountPath: path, subPath: fileKey(path), readOnly: true })),
            ...workload.pod.volumes.map(volumeMount),
        ],
    };
}

/**
 * The pod spec of a role: secure by default (non-root, read-only root filesystem with a writable
 * `/tmp`, no privilege escalation, every capability dropped, RuntimeDefault seccomp, no service
 * account token), with requests and limits, HTTP probes from `health`, env and files from the
 * role's ConfigMaps, and spread over nodes.
 */
export function buildPodSpec<N>(workload: ResolvedWorkload, plan: RolePlan, configMaps: ConfigMapRefs<N>) {
    const { security } = workload;
    const files = filePaths(plan.release, false);
    const secretFiles = filePaths(plan.release, true);
    if ((files.length > 0) !== (configMaps.files !== undefined)) {
        throw new Error(`KubernetesWorkload "${workload.name}": the ${plan.role} pods need a files ConfigMap exactly when the release has files`);
    }
    if ((secretFiles.length > 0) !== (configMaps.secretFiles !== undefined)) {
        throw new Error(`KubernetesWorkload "${workload.name}": the ${plan.role} pods need a files Secret exactly when the release has secret files`);
    }
    return {
        // Members talk to nothing in the API server unless told so; a token would only be something to steal.
        ...(workload.pod.serviceAccountName === undefined ? {} : { serviceAccountName: workload.pod.serviceAccountName }),
        automountServiceAccountToken: workload.pod.automountServiceAccountToken,
        ...(workload.pod.imagePullSecrets.length > 0 ? { imagePullSecrets: workload.pod.imagePullSecrets.map((name) => ({ name })) } : {}),
        // Service links add an env variable per Service in the namespace: noise that differs by namespace.
        enableServiceLinks: false,
        securityContext: {
            runAsNonRoot: security.runAsNonRoot,
            seccompProfile: { type: security.seccompProfile },
            ...(security.runAsUser === undefined ? {} : { runAsUser: security.runAsUser }),
            ...(security.runAsGroup === undefined ? {} : { runAsGroup: security.runAsGroup }),
            ...(security.fsGroup === undefined ? {} : { fsGroup: security.fsGroup }),
        },
        containers: [container(workload, plan, configMaps)],
        volumes: [
            { name: "tmp", emptyDir: {} },
            ...(configMaps.files === undefined
                ? []
                : [
                      {
                          name: "files",
                          configMap: {
                              name: configMaps.files,
                              items: files.map((path) => ({ key: fileKey(path), path: fileKey(path) })).sort((a, b) => (a.key < b.key ? -1 : 1)),
                              // Files are config, not programs: readable by the container's user, writable by no one.
                              defaultMode: 0o444,
                          },
                      },
                  ]),
            ...(configMaps.secretFiles === undefined
                ? []
                : [
                      {
                          name: "secret-files",
                          secret: {
                              secretName: configMaps.secretFiles,
                              items: secretFiles.map((path) => ({ key: fileKey(path), path: fileKey(path) })).sort((a, b) => (a.key < b.key ? -1 : 1)),
                              defaultMode: 0o444,
                          },
                      },
                  ]),
            ...workload.pod.volumes.map(podVolume),
        ],
        ...(Object.keys(workload.placement.nodeSelector).length > 0 ? { nodeSelector: { ...workload.placement.nodeSelector } } : {}),
        ...(workload.placement.tolerations.length > 0 ? { tolerations: workload.placement.tolerations.map((t) => ({ ...t })) } : {}),
        topologySpreadConstraints: [spreadConstraint(workload)],
    };
}

/**
 * How a role's pods are spread over nodes. The skew is counted among the pods of one pod
 * template (`matchLabelKeys: [pod-template-hash]`): counting the fleet's other pods too would
 * count the old ReplicaSet's pods during a rollout, which are about to go, and pile the new
 * ones onto whatever nodes those left emptiest. Tainted nodes (a cordoned node being drained)
 * are left out of the count (`nodeTaintsPolicy: Honor`); otherwise the drained node's empty slot
 * keeps the skew at its limit and a hard spread strands the evicted pod Pending.
 */
export function spreadConstraint(workload: ResolvedWorkload) {
    return {
        maxSkew: 1,
        topologyKey: TOPOLOGY_KEY,
        whenUnsatisfiable: workload.spread === "anti-affinity" ? "DoNotSchedule" : "ScheduleAnyway",
        labelSelector: { matchLabels: { [HERD_LABELS.fleet]: workload.name } },
        matchLabelKeys: ["pod-template-hash"],
        nodeTaintsPolicy: "Honor",
    };
}

/**
 * The annotations of a role's pods: the fleet's `podAnnotations` and Prometheus's discovery
 * annotations (unless metrics are off or there is no port), sorted by key; none when empty.
 */
export function podAnnotations(workload: ResolvedWorkload, plan: RolePlan): Record<string, string> | undefined {
    const port = workload.metrics === false ? undefined : (workload.metrics.port ?? plan.release.port);
    const prometheus: Record<string, string> =
        workload.metrics === false || port === undefined
            ? {}
            : { "prometheus.io/path": workload.metrics.path, "prometheus.io/port": String(port), "prometheus.io/scrape": "true" };
    const annotations: Record<string, string> = { ...workload.pod.annotations, ...prometheus };
    const keys = Object.keys(annotations).sort();
    return keys.length === 0 ? undefined : Object.fromEntries(keys.map((key) => [key, annotations[key]]));
}

/**
 * The Deployment's rolling update: `batch` pods at a time, new ones first (`maxSurge`) or old
 * ones first (`maxUnavailable`).
 */
export function rollingUpdate(workload: ResolvedWorkload) {
    return {
        type: "RollingUpdate",
        rollingUpdate:
            workload.order === "create-before-delete"
                ? { maxSurge: workload.batch, maxUnavailable: 0 }
                : { maxSurge: 0, maxUnavailable: workload.batch },
    };
}

/** The spec of a role's Deployment. */
export function buildDeploymentSpec<N>(workload: ResolvedWorkload, plan: RolePlan, configMaps: ConfigMapRefs<N>) {
    const annotations = podAnnotations(workload, plan);
    return {
        replicas: plan.replicas,
        selector: { matchLabels: deploymentSelector(workload.name, plan.role) },
        strategy: rollingUpdate(workload),
        template: {
            metadata: { labels: podLabels(workload.name, plan), ...(annotations ? { annotations } : {}) },
            spec: buildPodSpec(workload, plan, configMaps),
        },
    };
}

/**
 * The spec of the fleet's Service: one port, targeting the pods' named port, so stable and canary
 * pods are both reached even when their releases listen on different ports.
 */
export function buildServiceSpec(workload: ResolvedWorkload, port: number) {
    return {
        type: "ClusterIP",
        selector: fleetSelector(workload.name),
        ports: [{ name: PORT_NAME, port, targetPort: PORT_NAME, protocol: "TCP" }],
    };
}

/** The spec of the fleet's PodDisruptionBudget: voluntary evictions take at most a batch at a time. */
export function buildDisruptionBudgetSpec(workload: ResolvedWorkload) {
    return {
        maxUnavailable: workload.batch,
        selector: { matchLabels: fleetSelector(workload.name) },
        // A pod that is not ready serves nothing; letting it be evicted keeps node drains from hanging on a broken member.
        unhealthyPodEvictionPolicy: "AlwaysAllow",
    };
}
