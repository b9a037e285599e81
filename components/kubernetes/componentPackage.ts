/**
 * The Kubernetes class of herd's component package (`herd:index:KubernetesWorkload`), its
 * arguments in the package's vocabulary and their mapping onto the SDK's (see `fleet/componentPackage.ts`).
 */
import * as pulumi from "@pulumi/pulumi";
import { fleetNameProblems, refuseArguments } from "../core/arguments";
import { fleetProblems } from "../fleet/backends";
import {
    alertRulesOf,
    CONTAINER_OUTPUTS,
    type ContainerRelease,
    containerReleaseArgs,
    type ContainerRollout,
    defined,
    type FleetAlerts,
    type HealthCheck,
    healthOf,
    type MetricsEndpoint,
    metricsOf,
    outputProblems,
    type Probe,
    type Spread,
    type UpdatePolicy,
    watchedArgs,
} from "../fleet/componentPackage";
import { buildFleet } from "../fleet/fleet";
import { type KubernetesFleetArgs, kubernetesWorkloadArgsOf } from "./fleet";
import type { Toleration as HerdToleration } from "./placement";
import { resolveWorkload } from "./plan";
import type { KubernetesVolume as HerdKubernetesVolume } from "./pod";
import type { PlainNamespaceWorkloadArgs } from "./workload";

/** Seccomp profile of a pod. */
export enum SeccompProfile {
    /** The container runtime's default profile. */
    RuntimeDefault = "RuntimeDefault",
    /** No seccomp filtering. */
    Unconfined = "Unconfined",
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
