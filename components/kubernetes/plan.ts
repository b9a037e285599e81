/**
 * What a `KubernetesWorkload`'s arguments come to before any object exists: every argument
 * checked at once, defaults applied (a {@link ResolvedWorkload}), and the fleet split into its
 * Deployments, `stable` and, while a rollout is under way, `canary`, with their replicas and the
 * order in which they are updated. Pulumi mocks see no diffs, so what decides what is replaced is
 * planned here, in pure functions that tests call directly.
 */
import type * as pulumi from "@pulumi/pulumi";
import { formatProblem } from "../config/errors";
import { HTTP_PATH_ALLOWED, isHttpPath } from "../config/grammar";
import { KUBERNETES_MAX_SIZE } from "./schema";
import { fleetNameProblems, healthCheckProblems, refuseArguments } from "../core/arguments";
import { canonicalHealthCheck, HealthCheck } from "../core/health";
import { assignSlots, defaultBatch, Rollout } from "../rollout";
import {
    canonicalContainerRelease,
    containerGeneration,
    ContainerRelease,
    containerReleaseProblems,
    DEFAULT_METRICS_PATH,
    fleetShapeProblems,
    isPort,
} from "../release/container";
import { DEFAULT_NAMESPACE } from "./names";
import { placementProblems, Toleration } from "./placement";
import { podSettingsProblems, ResolvedPodSettings, resolvePodSettings, ResourceQuantities } from "./pod";
import type { KubernetesWorkloadArgs } from "./workload";

/**
 * Which Deployment a pod belongs to: `stable` runs the fleet's settled release, `canary` the one being rolled out.
 *
 * @group Components
 */
export type Role = "stable" | "canary";

/**
 * The pod's and container's security context. herd runs members locked down; loosen a setting
 * only for an image that cannot run otherwise.
 *
 * @group Components
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

/**
 * How a change of release proceeds in each Deployment.
 *
 * @group Components
 */
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

/**
 * What the workload's settings come to once defaults are applied.
 *
 * @group Components
 */
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

/**
 * {@link WorkloadSecurity} with its defaults applied.
 *
 * @group Components
 */
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

/**
 * One Deployment of the fleet.
 *
 * @group Components
 */
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

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const CAPABILITY = /^[A-Z_]+$/;

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
    const problems = fleetShapeProblems({ size: input.size, rollout: input.rollout, batch: input.update?.batch, maxSize: KUBERNETES_MAX_SIZE });
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
