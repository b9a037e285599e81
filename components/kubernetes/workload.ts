import * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { childDependsOn } from "../core/dependencies";
import type { HealthCheck } from "../core/health";
import { Rollout } from "../rollout";
import { ContainerRelease, deployTimeChecks, MetricsEndpoint } from "../release/container";
import { reveal, SecretValues } from "../release/secrets";
import { buildConfigMapData, buildSecretData, wiredChecksum, wiredValues } from "./configMaps";
import { buildDeploymentSpec, buildDisruptionBudgetSpec, buildServiceSpec } from "./manifests";
import { configMapName, deploymentName, disruptionBudgetName, fleetLabels, objectMeta, roleLabels, secretName } from "./names";
import type { Toleration } from "./placement";
import { deploymentOrder, ResolvedWorkload, resolveWorkload, Role, RolePlan, WorkloadSecurity, WorkloadUpdate } from "./plan";
import type { PodSettings } from "./pod";

/**
 * Arguments of a {@link KubernetesWorkload}; the pod settings (service account, image pull
 * secrets, extra volumes, pod annotations, requests and limits) are those of {@link PodSettings}.
 *
 * @group Components
 */
export interface KubernetesWorkloadArgs extends PodSettings {
    /** Number of pods, stable and canary together. */
    readonly size: number;
    /**
     * The release new pods run. Its env values and file contents may be wired from other
     * resources or secrets: such a value goes to the role's `Secret` (never its ConfigMap, as a
     * Pulumi secret), the generation holds a placeholder naming its place, and a checksum of the
     * wired values (scrypt, never the values) on the pod template rolls the Deployment when one
     * changes. It is checked once it resolves (see `ContainerRelease`).
     */
    readonly release: ContainerRelease;
    /**
     * A rollout under way: `members` pods run `release` in the `canary` Deployment, the others
     * run `previous` in the `stable` one; `previous` takes wired values as `release` does.
     * @default every pod runs `release`
     */
    readonly rollout?: Rollout<ContainerRelease>;
    /**
     * Namespace of every object; it must exist. A plain name is checked against Kubernetes'
     * grammar; a name wired from another resource (`ns.metadata.name`, a Namespace of the same
     * program) is used as it is on every object, unchecked, and the objects wait for it. The
     * generation does not hold the namespace either way. @default "default"
     */
    readonly namespace?: pulumi.Input<string>;
    /** How a change of release rolls through each Deployment. @default batches of a quarter of the size, new pods first */
    readonly update?: WorkloadUpdate;
    /**
     * How strictly pods are spread over nodes (`kubernetes.io/hostname`): `anti-affinity` leaves a
     * pod pending rather than put two more on one node than on another; `soft-anti-affinity`
     * prefers spreading but schedules anyway. @default "soft-anti-affinity"
     */
    readonly spread?: "anti-affinity" | "soft-anti-affinity";
    /**
     * The check a pod must pass to receive traffic (readiness, every 5 s), to stay alive
     * (liveness, every 10 s, restarted after 3 failures) and to count as started (up to 150 s):
     * `{ path, port }` an HTTP GET (`httpGet`), `{ port }` a TCP connect (`tcpSocket`),
     * `{ command }` a command run in the container (`exec`).
     * @default no probes: a pod receives traffic as soon as it runs
     */
    readonly health?: HealthCheck;
    /**
     * Node labels a node must carry for members to run on it (`spec.nodeSelector`), e.g.
     * `{ "example.org/pool": "web" }`. @default any node
     */
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** Node taints members tolerate (`spec.tolerations`), e.g. nodes dedicated to the fleet. @default none */
    readonly tolerations?: readonly Toleration[];
    /** The security context. @default non-root, read-only root filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp */
    readonly security?: WorkloadSecurity;
    /** Where Prometheus scrapes each pod (`prometheus.io/*` annotations); `false` for no scraping. @default the release's port, `/metrics` */
    readonly metrics?: MetricsEndpoint | false;
    /** Port of the Service, which forwards to the pods' `http` port. @default the release's port; no Service when no release has a port */
    readonly servicePort?: number;
    /**
     * Give the Deployments, Service and PodDisruptionBudget fixed names (`${name}-stable`,
     * `${name}-canary`, `${name}`, `${name}-pdb`) instead of Pulumi's generated ones, for a Service
     * DNS name that other workloads can rely on. The cost: a change that replaces one of these
     * objects (a namespace move, say) becomes delete-then-create, with downtime in between, and two
     * stacks deploying the same fleet to one namespace collide. ConfigMaps are always generated:
     * their changing names are what rolls the pods when env or files change.
     * @default false
     */
    readonly fixedNames?: boolean;
    /**
     * Plaintext of the secrets the releases hold, by marker (`[secret 1a2b3c4d]`, see
     * `secretMarker`), as strings or Outputs. Env values and files holding a marker go into a `Secret` rather than a
     * ConfigMap, with the plaintext in place of the marker, as Pulumi secrets; the generation,
     * names and labels see only the marker. @default none: markers stay as they are, in the Secret
     */
    readonly secrets?: SecretValues;
}

/**
 * {@link KubernetesWorkloadArgs} with the namespace a plain name: as a stack file gives it, and as
 * `buildFleet` takes it (the fleet's alert expressions and probes name it when they are written).
 *
 * @group Components
 */
export interface PlainNamespaceWorkloadArgs extends KubernetesWorkloadArgs {
    /** Namespace of every object; it must exist. @default "default" */
    readonly namespace?: string;
}

/**
 * A fleet of interchangeable pods on Kubernetes: a `stable` Deployment and, while a rollout is
 * under way, a `canary` Deployment running the new release on `rollout.members` pods, both behind
 * one Service and one PodDisruptionBudget. Pods are replaced, never patched: a release change
 * rolls them `update.batch` at a time, and the canary is updated before the stable Deployment
 * shrinks (the other way round for delete-before-create). Env and files live in generated-name
 * ConfigMaps (and Secrets, for secrets and values wired from other resources), so a change of
 * either rolls the pods; pods are locked down, probed and spread by default.
 *
 * @example Six pods in their namespace, ready once their HTTP check answers
 * ```ts
 * import { KubernetesWorkload } from "pulumi-herd";
 *
 * const api = new KubernetesWorkload("api", {
 *     namespace: "api",
 *     size: 6,
 *     release: { image: "registry.example.org/api:1.4.2", port: 8080, env: { LOG_LEVEL: "info" } },
 *     health: { path: "/ready", port: 8080 },
 *     update: { batch: 2 },
 * });
 * export const generations = api.generations;
 * ```
 *
 * @group Components
 */
export class KubernetesWorkload extends pulumi.ComponentResource {
    /** The settings every object was built from, defaults applied. */
    readonly workload: ResolvedWorkload;
    /** Generation per role; `canary` only while a rollout is under way. */
    readonly generations: Readonly<Partial<Record<Role, string>>> & {
        /** Generation of the stable Deployment's release. */
        readonly stable: string;
    };
    /** Replicas per role; they add up to `size`. */
    readonly replicas: Readonly<Record<Role, number>>;
    /** Deployment per role; `canary` only while a rollout is under way. */
    readonly deployments: Readonly<Partial<Record<Role, k8s.apps.v1.Deployment>>> & {
        /** The stable Deployment, always there. */
        readonly stable: k8s.apps.v1.Deployment;
    };
    /** The generated-name ConfigMaps holding each role's env and files; a new content gets a new ConfigMap, which rolls the pods. */
    readonly configMaps: readonly k8s.core.v1.ConfigMap[];
    /** The generated-name Secrets holding each role's secret env values and files, named and rolled like the ConfigMaps. */
    readonly secrets: readonly k8s.core.v1.Secret[];
    /** The Service in front of both Deployments; absent when no release serves a port. */
    readonly service?: k8s.core.v1.Service;
    /** The PodDisruptionBudget over every pod of the fleet: at most `update.batch` pods down at a time. */
    readonly disruptionBudget: k8s.policy.v1.PodDisruptionBudget;
    /** The Service's name in the namespace, as other workloads resolve it; `undefined` without a Service. */
    readonly serviceName: pulumi.Output<string | undefined>;

    constructor(name: string, args: KubernetesWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before the component itself is registered: a refused fleet leaves nothing behind.
        const workload = resolveWorkload(name, args);
        super("herd:kubernetes:Workload", name, {}, opts);
        // The Kubernetes SDK loads when a fleet uses it, not when herd is imported (a second or more).
        const k8s = require("@pulumi/kubernetes") as typeof import("@pulumi/kubernetes");
        this.workload = workload;
        const atDeploy = deployTimeChecks(name, [
            ["release", args.release],
            ["rollout.previous", args.rollout?.previous],
        ]);

        const configMaps: k8s.core.v1.ConfigMap[] = [];
        const secrets: k8s.core.v1.Secret[] = [];
        const deployments: Partial<Record<Role, k8s.apps.v1.Deployment>> = {};
        let updatedBefore: k8s.apps.v1.Deployment | undefined;
        for (const plan of deploymentOrder(workload)) {
            const data = buildConfigMapData(plan.release);
            const refs: {
                env?: pulumi.Output<string>;
                files?: pulumi.Output<string>;
                secretEnv?: pulumi.Output<string>;
                secretFiles?: pulumi.Output<string>;
                wiredChecksum?: pulumi.Output<string>;
            } = {};
            for (const kind of ["env", "files"] as const) {
                const content = data[kind];
                if (content === undefined) {
                    continue;
                }
                // No fixed name, ever: Pulumi names it, a new content gets a new name, and the
                // Deployment's pod template, which refers to that name, rolls. `replaceOnChanges`
                // keeps it so on a provider with `enableConfigMapMutable`, which would otherwise
                // patch the data in place (and fail on an immutable ConfigMap).
                const configMap = new k8s.core.v1.ConfigMap(
                    configMapName(name, plan.role, kind),
                    {
                        metadata: { namespace: workload.namespace, labels: roleLabels(name, plan.role) },
                        immutable: true,
                        data: content,
                    },
                    { parent: this, replaceOnChanges: ["data"], dependsOn: childDependsOn(opts) },
                );
                configMaps.push(configMap);
                refs[kind] = configMap.metadata.name;
            }
            const secretData = buildSecretData(plan.release);
            for (const kind of ["env", "files"] as const) {
                const content = secretData[kind];
                if (content === undefined) {
                    continue;
                }
                // Named and rolled like the ConfigMaps; the plaintext goes in as Pulumi secrets.
                const secret = new k8s.core.v1.Secret(
                    secretName(name, plan.role, kind),
                    {
                        metadata: { namespace: workload.namespace, labels: roleLabels(name, plan.role) },
                        type: "Opaque",
                        immutable: true,
                        stringData: Object.fromEntries(
                            Object.entries(content).map(([key, value]) => [
                                key,
                                typeof value === "string" ? reveal(value, args.secrets ?? new Map()) : pulumi.secret(atDeploy(value)),
                            ]),
                        ),
                    },
                    { parent: this, replaceOnChanges: ["stringData"], dependsOn: childDependsOn(opts) },
                );
                secrets.push(secret);
                refs[kind === "env" ? "secretEnv" : "secretFiles"] = secret.metadata.name;
            }
            const wired = wiredValues(plan.release);
            if (wired.length > 0) {
                // A hash, not a value: unsecret, so the Deployment's spec is not hidden whole in diffs.
                const places = wired.map(([place]) => place);
                refs.wiredChecksum = pulumi.unsecret(
                    pulumi.all(wired.map(([, value]) => atDeploy(value))).apply((resolved) => wiredChecksum(name, plan.role, places, resolved)),
                );
            }
            const resourceName = deploymentName(name, plan.role);
            const deployment = new k8s.apps.v1.Deployment(
                resourceName,
                {
                    metadata: objectMeta(workload, resourceName, roleLabels(name, plan.role)),
                    spec: buildDeploymentSpec(workload, plan, refs),
                },
                { parent: this, dependsOn: childDependsOn(opts, updatedBefore ? [updatedBefore] : []) },
            );
            deployments[plan.role] = deployment;
            updatedBefore = deployment;
        }
        this.configMaps = configMaps;
        this.secrets = secrets;
        this.deployments = deployments as KubernetesWorkload["deployments"];

        if (workload.servicePort !== undefined) {
            this.service = new k8s.core.v1.Service(
                name,
                { metadata: objectMeta(workload, name, fleetLabels(name)), spec: buildServiceSpec(workload, workload.servicePort) },
                { parent: this, dependsOn: childDependsOn(opts) },
            );
        }
        const budgetName = disruptionBudgetName(name);
        this.disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(
            budgetName,
            { metadata: objectMeta(workload, budgetName, fleetLabels(name)), spec: buildDisruptionBudgetSpec(workload) },
            { parent: this, dependsOn: childDependsOn(opts) },
        );

        const stable = workload.roles.find((plan) => plan.role === "stable") as RolePlan;
        const canary = workload.roles.find((plan) => plan.role === "canary");
        this.generations = { stable: stable.generation, ...(canary ? { canary: canary.generation } : {}) };
        this.replicas = { stable: stable.replicas, canary: canary?.replicas ?? 0 };
        this.serviceName = this.service ? this.service.metadata.name : pulumi.output(undefined);
        this.registerOutputs({
            serviceName: this.serviceName,
            generations: this.generations,
            replicas: this.replicas,
        });
    }
}
