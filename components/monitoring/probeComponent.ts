import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { CONTAINER_PROBE_DIR, cronSchedule, probeAlert, probeMetric, ProbeSpec, probeSpecProblems, PUSH_PROBE_NAME, pushgatewayProblems } from "./probe";
import type { OnBackend } from "../fleet/backend";
import type * as BackendsModule from "../fleet/backends";
import type { Toleration } from "../kubernetes/placement";
import { AlertRule } from "./rules";

/**
 * The image probe containers run in: a POSIX shell and busybox's `wget` are all the wrapper needs.
 *
 * @group Monitoring
 */
export const DEFAULT_PROBE_IMAGE = "docker.io/library/busybox:1.37";

/**
 * Where a probe runs, and where its count goes: `backend` names the fleet's backend, the rest is
 * that backend's. A backend that runs probes itself (its registry entry has a `probeRunner`)
 * defines its target beside its runner (`KubernetesProbeTarget`: a CronJob in the fleet's
 * cluster; `DockerProbeTarget`: a container on the fleet's engine), each pushing the count to a
 * Prometheus Pushgateway. On a backend without one, the target is `{ backend }` alone: OpenStack
 * members run their probes from a systemd timer their user data installs (see
 * `ServerGroupArgs.probes`).
 *
 * @group Monitoring
 */
export type ProbeTarget = {
    [B in BackendsModule.BackendName]: Parameters<NonNullable<(typeof BackendsModule.FLEET_BACKENDS)[B]["probeRunner"]>>[2]["target"];
}[BackendsModule.BackendName];

/**
 * What a {@link Probe} runs, for which fleet, and where.
 *
 * @typeParam Target where it runs: {@link ProbeTarget}, or one backend's target for its runner
 *
 * @group Monitoring
 */
export interface ProbeArgs<Target extends OnBackend = ProbeTarget> {
    /** The stack, as the metric's `herd_stack` label. */
    readonly stack: string;
    /** The fleet the probe watches. */
    readonly fleet: string;
    /** The probe: its script, schedule, metric and alert. */
    readonly probe: ProbeSpec;
    /** Where it runs and where its count goes; `target.backend` picks the backend that runs it. */
    readonly target: Target;
}

/** Labels of a probe's objects (CronJob, ConfigMap, container), so `-l herd.dev/fleet=web` lists them with the fleet's. */
export function probeLabels(fleet: string, probe: string): Record<string, string> {
    return { "app.kubernetes.io/name": fleet, "herd.dev/fleet": fleet, "herd.dev/probe": probe };
}

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

/** The command a probe container runs once: the wrapper, with where to push. */
export function pushCommand(args: ProbeArgs, pushgateway: string): string[] {
    return [`${CONTAINER_PROBE_DIR}/${PUSH_PROBE_NAME}`, args.probe.name, probeMetric(args.probe), pushgateway, args.stack, args.fleet];
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
 * A probe: a small script that counts one failure mode, run on a schedule, published as a metric,
 * with its own alert ({@link Probe.alert}). The backend `target.backend` names runs it: its
 * registry entry's `probeRunner` registers what does as this component's children (on Kubernetes
 * a CronJob whose script comes from a ConfigMap, on Docker a container that runs it in a loop,
 * both pushing the count to a Prometheus Pushgateway). On a backend without a runner, such as
 * OpenStack, the members run it (their user data installs it), so this component only records it.
 *
 * @group Monitoring
 */
export class Probe extends pulumi.ComponentResource {
    /** The metric the probe publishes. */
    readonly metric: string;
    /** The alert on it, for the stack's rule file or PrometheusRule. */
    readonly alert: AlertRule;
    /**
     * What runs the probe, as its backend's runner registered it, by role: on Kubernetes
     * `configMap` (the script and the wrapper) and `cronJob`; on Docker `container`; none where
     * the members run it.
     */
    readonly resources: Readonly<Record<string, pulumi.Resource>>;

    constructor(name: string, args: ProbeArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before the component registers: a wrong probe registers nothing.
        // Looked up when a probe is built, not imported: the registry's entries import this module.
        const { fleetBackend } = require("../fleet/backends") as typeof BackendsModule;
        const backend = fleetBackend(args.target.backend);
        const target = args.target;
        // A probe its backend runs pushes its count to the Pushgateway its target names.
        const pushgateway = backend?.probeRunner === undefined ? [] : pushgatewayProblems("pushgateway" in target ? target.pushgateway : undefined);
        const problems = [...probeSpecProblems(args.probe), ...pushgateway];
        if (problems.length > 0) {
            throw new Error(`Probe "${name}": invalid arguments:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        }
        super("herd:monitoring:Probe", name, {}, opts);
        this.metric = probeMetric(args.probe);
        this.alert = probeAlert(args.probe, args.stack, args.fleet);
        this.resources = backend?.probeRunner?.(this, name, args, opts) ?? {};
        this.registerOutputs({ metric: this.metric, alert: this.alert });
    }
}

/**
 * A fleet's probes, one {@link Probe} each, `${fleet}-probe-${probe}`, in the order given, run on
 * `target` (its backend's), each with `opts`.
 */
export function fleetProbes(fleet: string, stack: string, probes: readonly ProbeSpec[] | undefined, target: ProbeTarget, opts?: pulumi.ComponentResourceOptions): Probe[] {
    return (probes ?? []).map((probe) => new Probe(`${fleet}-probe-${probe.name}`, { stack, fleet, probe, target }, opts));
}
