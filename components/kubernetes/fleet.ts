import type * as pulumi from "@pulumi/pulumi";
import { type ConfigProblem, formatProblem } from "../config/errors";
import type { BuiltFleet, FleetBackend } from "../fleet/backend";
import { containerProbeProblems, fleetAlertInput, type ContainerProbeArgs, type FleetMonitoringArgs } from "../fleet/plan";
import { cronScheduleProblem, probeSpecProblems, type ProbeSpec } from "../monitoring/probe";
import { fleetProbes } from "../monitoring/probeComponent";
import { defaultAlerts } from "../monitoring/rules";
import { scrapePort } from "./manifests";
import type * as MonitoringModule from "./monitoring";
import { isLabelKey, isLabelValue } from "./placement";
import type * as WorkloadModule from "./workload";
import { kubernetesConfigBackend } from "./config";
import { kubernetesHeal } from "./heal";
import { kubernetesFleetPolicy, podTemplateLabels } from "./policy";
import { kubernetesProbeRunner, type KubernetesProbeTarget } from "./probe";
import { KUBERNETES_MAX_SIZE, type KubernetesFleetConfig, type KubernetesSettings } from "./schema";
import { kubernetesStackProgram } from "./stack";

/**
 * The Kubernetes backend of a fleet: a `KubernetesWorkload`, a `KubernetesMonitoring` (PodMonitor
 * and a PrometheusRule with the fleet's alerts) and a CronJob per probe.
 */

/**
 * Arguments of a Kubernetes fleet: those of its `KubernetesWorkload`, and how it is watched.
 *
 * @group Fleets
 */
export interface KubernetesFleetArgs extends WorkloadModule.PlainNamespaceWorkloadArgs, FleetMonitoringArgs, ContainerProbeArgs {
    /** The fleet runs as pods on Kubernetes. */
    readonly backend: "kubernetes";
    /**
     * Namespace of every object; it must exist. A plain name only, unlike the workload's: the
     * fleet's alert expressions and probes name it when they are written. @default "default"
     */
    readonly namespace?: string;
    /**
     * Labels of the fleet's PodMonitor and PrometheusRule, for a Prometheus Operator that selects
     * them by label (kube-prometheus-stack selects `release: <its release name>`). @default {}
     */
    readonly monitoringLabels?: Readonly<Record<string, string>>;
}

/**
 * A Kubernetes fleet as `buildFleet` built it.
 *
 * @group Fleets
 */
export interface KubernetesFleet extends BuiltFleet {
    /** The fleet runs as pods on Kubernetes. */
    readonly backend: "kubernetes";
    /** Its Deployments, Service, PodDisruptionBudget, ConfigMaps and Secrets. */
    readonly workload: WorkloadModule.KubernetesWorkload;
    /** Its PodMonitor (when the pods serve metrics) and the PrometheusRule carrying `ruleGroup`. */
    readonly monitoring: MonitoringModule.KubernetesMonitoring;
}

/** The arguments of a Kubernetes fleet's `KubernetesWorkload`: its own, without how the fleet is watched. */
export function kubernetesWorkloadArgsOf(args: KubernetesFleetArgs): WorkloadModule.KubernetesWorkloadArgs {
    const { backend: _backend, stack: _stack, alerts: _alerts, probes: _probes, pushgateway: _pushgateway, probeImage: _image, monitoringLabels: _labels, ...workload } = args;
    return workload;
}

/** What a Kubernetes fleet adds that the platform constrains: CronJob schedules, label grammar, the probes' Pushgateway and image. */
function kubernetesFleetProblems(args: KubernetesFleetArgs): string[] {
    const problems: string[] = [];
    const add = (problem: ConfigProblem) => problems.push(formatProblem(problem));
    const probes: unknown = args.probes ?? [];
    if (Array.isArray(probes)) {
        (probes as ProbeSpec[]).forEach((probe, i) => {
            // A probe's own problems are fleetProblems' to report; a schedule that is a duration
            // may still be one no CronJob can keep.
            const own = probe !== null && typeof probe === "object" ? probeSpecProblems(probe, `probes[${i}]`) : ["not a probe"];
            if (own.some((line) => line.startsWith(`probes[${i}].every `) || line === "not a probe")) {
                return;
            }
            const schedule = cronScheduleProblem(probe.every);
            if (schedule !== undefined) {
                add({ path: ["probes", i, "every"], value: probe.every, allowed: schedule });
            }
        });
    }
    containerProbeProblems(args, Array.isArray(probes) ? probes.length : 0).forEach(add);
    for (const [key, value] of Object.entries(args.monitoringLabels ?? {})) {
        if (!isLabelKey(key)) {
            problems.push(`monitoringLabels has ${JSON.stringify(key)}: expected a label key such as example.org/team (name at most 63 characters)`);
        } else if (typeof value !== "string" || !isLabelValue(value)) {
            add({ path: ["monitoringLabels", key], value, allowed: "a label value: at most 63 letters, digits, '-', '_' or '.'" });
        }
    }
    return problems;
}

/**
 * What a stack shows of a Kubernetes fleet.
 *
 * @group Fleets
 */
export interface KubernetesFleetOutputs {
    /** The fleet runs as pods on Kubernetes. */
    readonly backend: "kubernetes";
    /** The generation each role (stable, canary) runs. */
    readonly generations: WorkloadModule.KubernetesWorkload["generations"];
    /** The replicas of each role. */
    readonly replicas: WorkloadModule.KubernetesWorkload["replicas"];
    /** The fleet's Service, when it serves a port. */
    readonly serviceName: WorkloadModule.KubernetesWorkload["serviceName"];
}

/** The Kubernetes backend, as the fleet registry lists it. */
export const kubernetesFleetBackend: FleetBackend<
    KubernetesFleetArgs,
    KubernetesFleet,
    KubernetesFleetOutputs,
    KubernetesFleetConfig,
    WorkloadModule.PlainNamespaceWorkloadArgs,
    KubernetesProbeTarget,
    KubernetesSettings
> = {
    name: "kubernetes",
    maxSize: KUBERNETES_MAX_SIZE,
    releaseKind: "container",
    problems: kubernetesFleetProblems,
    build(name: string, args: KubernetesFleetArgs, stack: string, opts: pulumi.ComponentResourceOptions): KubernetesFleet {
        // The components' modules load the provider SDK: only a stack with a Kubernetes fleet loads it.
        const { KubernetesWorkload } = require("./workload") as typeof WorkloadModule;
        const { kubernetesMembersUp, KubernetesMonitoring } = require("./monitoring") as typeof MonitoringModule;
        const workload = new KubernetesWorkload(name, kubernetesWorkloadArgsOf(args), opts);
        const { namespace, nodeSelector, tolerations } = args;
        // A fleet whose pods serve no metrics is counted by kube-state-metrics, not by scrapes that never come.
        const metricsPort = scrapePort(workload.workload);
        const metrics = workload.workload.metrics;
        const membersUp = metricsPort === undefined ? kubernetesMembersUp({ fleet: name, namespace }) : undefined;
        const monitoring = new KubernetesMonitoring(
            `${name}-monitoring`,
            {
                stack,
                fleet: name,
                namespace,
                metricsPort: metricsPort ?? false,
                ...(metrics ? { metricsPath: metrics.path } : {}),
                rules: defaultAlerts(fleetAlertInput(name, args, stack, membersUp)),
                ...(args.monitoringLabels ? { selectorLabels: args.monitoringLabels } : {}),
            },
            opts,
        );
        const target: KubernetesProbeTarget = {
            backend: "kubernetes",
            namespace,
            pushgateway: args.pushgateway ?? "",
            ...(args.probeImage !== undefined ? { image: args.probeImage } : {}),
            ...(nodeSelector ? { nodeSelector } : {}),
            ...(tolerations ? { tolerations } : {}),
        };
        const probes = fleetProbes(name, stack, args.probes, target, opts);
        return { name, backend: "kubernetes", workload, monitoring, ruleGroup: monitoring.ruleGroup, probes };
    },
    // The fleet's PrometheusRule carries its alerts.
    ruleFile: false,
    outputs: (fleet) => ({
        backend: "kubernetes",
        generations: fleet.workload.generations,
        replicas: fleet.workload.replicas,
        serviceName: fleet.workload.serviceName,
    }),
    memberTypes: ["kubernetes:apps/v1:Deployment"],
    // A Deployment is a group of pods: its pods' labels name the fleet, role and generation.
    memberLabels: (_type, inputs) => podTemplateLabels(inputs),
    policy: kubernetesFleetPolicy,
    heal: kubernetesHeal,
    config: kubernetesConfigBackend,
    stackProgram: kubernetesStackProgram,
    probeRunner: kubernetesProbeRunner,
};
