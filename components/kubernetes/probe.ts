import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { childDependsOn } from "../core/dependencies";
import { CONTAINER_PROBE_DIR, cronSchedule, PUSH_PROBE_NAME, PUSH_PROBE_SCRIPT } from "../monitoring/probe";
import { DEFAULT_PROBE_IMAGE, type Probe, type ProbeArgs, probeLabels, pushCommand } from "../monitoring/probeComponent";
import type { Toleration } from "./placement";

/**
 * Labels of a probe's pods. Not the fleet's labels: the fleet's Service, PodDisruptionBudget and
 * spread select pods by `app.kubernetes.io/name` and `herd.dev/fleet`, and a probe pod they
 * selected would receive traffic, count against the spread, and, being a finished Job pod, hold
 * the budget at zero disruptions (a node drain would then hang).
 */
export function probePodLabels(fleet: string, probe: string): Record<string, string> {
    return { "app.kubernetes.io/component": "probe", "herd.dev/probe": probe, "herd.dev/probe-of": fleet };
}

/** Longest Pulumi name of a CronJob: Pulumi adds `-` and 8 characters, and Kubernetes allows 52 (it appends the Job's time). */
const CRONJOB_NAME_MAX = 52 - 9;

/**
 * The Pulumi name (and so the prefix of the Kubernetes name) of a probe's CronJob: a DNS label
 * (`stuck_jobs` → `stuck-jobs`), at most 43 characters, a hash of the whole keeping long names
 * apart once cut: `web-probe-stuck-jobs`.
 */
export function probeObjectName(fleet: string, probe: string): string {
    const full = `${fleet}-probe-${probe.replace(/_/g, "-")}`.replace(/-+$/, "");
    if (full.length <= CRONJOB_NAME_MAX) {
        return full;
    }
    const hash = createHash("sha256").update(`${fleet}\0${probe}`).digest("hex").slice(0, 8);
    return `${full.slice(0, CRONJOB_NAME_MAX - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/** The CronJob spec of a probe on Kubernetes: locked down like herd's pods, one run at a time. */
export function buildProbeCronJobSpec(
    args: ProbeArgs,
    pushgateway: string,
    image: string,
    configMapName: pulumi.Input<string>,
    placement: { readonly nodeSelector?: Readonly<Record<string, string>>; readonly tolerations?: readonly Toleration[] } = {},
) {
    const nodeSelector = placement.nodeSelector ?? {};
    return {
        schedule: cronSchedule(args.probe.every),
        concurrencyPolicy: "Forbid",
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
            spec: {
                backoffLimit: 0,
                activeDeadlineSeconds: 300,
                template: {
                    metadata: { labels: probePodLabels(args.fleet, args.probe.name) },
                    spec: {
                        restartPolicy: "Never",
                        automountServiceAccountToken: false,
                        // Where the fleet runs, the probe can run: the same nodes, the same taints.
                        ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector: { ...nodeSelector } } : {}),
                        ...(placement.tolerations?.length ? { tolerations: placement.tolerations.map((t) => ({ ...t })) } : {}),
                        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
                        containers: [
                            {
                                name: "probe",
                                image,
                                command: pushCommand(args, pushgateway),
                                env: [{ name: "TMPDIR", value: "/tmp" }],
                                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                                resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
                                volumeMounts: [
                                    { name: "scripts", mountPath: CONTAINER_PROBE_DIR, readOnly: true },
                                    { name: "tmp", mountPath: "/tmp" },
                                ],
                            },
                        ],
                        volumes: [
                            { name: "scripts", configMap: { name: configMapName, defaultMode: 0o555 } },
                            { name: "tmp", emptyDir: {} },
                        ],
                    },
                },
            },
        },
    };
}

/**
 * Where a probe of a Kubernetes fleet runs: a CronJob in the fleet's cluster, pushing its count to a Pushgateway.
 *
 * @group Monitoring
 */
export interface KubernetesProbeTarget {
    /** As a CronJob in the fleet's cluster. */
    readonly backend: "kubernetes";
    /** Namespace of the CronJob. @default "default" */
    readonly namespace?: string;
    /** Base URL of the Prometheus Pushgateway the count is pushed to. */
    readonly pushgateway: string;
    /** @default "docker.io/library/busybox:1.37" (`DEFAULT_PROBE_IMAGE`) */
    readonly image?: string;
    /** Node labels the probe's pods need, as the fleet's (`nodeSelector`). @default any node */
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** Taints the probe's pods tolerate, as the fleet's. @default none */
    readonly tolerations?: readonly Toleration[];
}

/**
 * The Kubernetes backend's probe runner: a CronJob whose script, and the wrapper that pushes its
 * count, come from a ConfigMap, both children of the probe's `Probe` and in the target's
 * namespace. The provider SDK is loaded here: a stack without Kubernetes probes does not pay for it.
 *
 * @param component the probe's `Probe`, parent of both objects
 * @param name the Probe's name, which the objects' names replaced (they keep it through an alias)
 * @param args what the Probe runs, with its Kubernetes target
 * @param opts the Probe's options: the objects wait for what it waits for (its namespace)
 * @returns the ConfigMap (`configMap`) and the CronJob (`cronJob`)
 */
export function kubernetesProbeRunner(
    component: Probe,
    name: string,
    args: ProbeArgs<KubernetesProbeTarget>,
    opts: pulumi.ComponentResourceOptions | undefined,
): { readonly configMap: k8s.core.v1.ConfigMap; readonly cronJob: k8s.batch.v1.CronJob } {
    const kubernetes = require("@pulumi/kubernetes") as typeof k8s;
    const target = args.target;
    const metadata = { namespace: target.namespace ?? "default", labels: probeLabels(args.fleet, args.probe.name) };
    // Kubernetes names the objects after these (plus Pulumi's suffix), so they must be
    // DNS labels; a name that had to change keeps its resource through an alias.
    const objectName = probeObjectName(args.fleet, args.probe.name);
    const renamed = (from: string, to: string) => (from === to ? {} : { aliases: [{ name: from }] });
    // Auto-named, so a new script gets a new ConfigMap and the CronJob follows it.
    const configMap = new kubernetes.core.v1.ConfigMap(
        `${objectName}-scripts`,
        { metadata, data: { [args.probe.name]: args.probe.script, [PUSH_PROBE_NAME]: PUSH_PROBE_SCRIPT } },
        { parent: component, replaceOnChanges: ["data"], dependsOn: childDependsOn(opts), ...renamed(`${name}-scripts`, `${objectName}-scripts`) },
    );
    const spec = buildProbeCronJobSpec(args, target.pushgateway, target.image ?? DEFAULT_PROBE_IMAGE, configMap.metadata.name, target);
    const cronJob = new kubernetes.batch.v1.CronJob(objectName, { metadata, spec }, { parent: component, dependsOn: childDependsOn(opts), ...renamed(name, objectName) });
    return { configMap, cronJob };
}
