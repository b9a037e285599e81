import * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { childDependsOn } from "../core/dependencies";
import { DEFAULT_METRICS_PATH, HERD_LABELS } from "../release/container";
import { AlertRule, RuleGroup } from "../monitoring/rules";
import { DEFAULT_NAMESPACE, fleetSelector, PORT_NAME } from "./names";

/**
 * Arguments of a {@link KubernetesMonitoring}.
 *
 * @group Monitoring
 */
export interface KubernetesMonitoringArgs {
    /** The stack, added to every series as `herd_stack`. */
    readonly stack: string;
    /** The fleet (the workload's name). */
    readonly fleet: string;
    /** Namespace of the workload. @default "default" */
    readonly namespace?: string;
    /** The fleet's alert rules (default alerts and probes); herd adds the canary alerts. */
    readonly rules: RuleGroup;
    /** Path the pods serve metrics on. @default "/metrics" */
    readonly metricsPath?: string;
    /**
     * The pods' port Prometheus scrapes: a named container port, or a port number the pods
     * declare (see {@link scrapePort}); `false` when the pods serve no metrics: then there is no
     * PodMonitor, and the rules should count members with {@link kubernetesMembersUp} instead of
     * `up`, which would stay absent. @default "http"
     */
    readonly metricsPort?: string | number | false;
    /** Labels the Prometheus Operator selects PodMonitors and PrometheusRules by. @default {} */
    readonly selectorLabels?: Readonly<Record<string, string>>;
}

/** `herd.dev/fleet` → `__meta_kubernetes_pod_label_herd_dev_fleet`, as Prometheus names pod labels. */
function podLabelMeta(label: string): string {
    return `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

/** The PodMonitor spec: scrape the fleet's pods and label series like every herd target. */
export function buildPodMonitorSpec(args: KubernetesMonitoringArgs) {
    const port = args.metricsPort ?? PORT_NAME;
    return {
        selector: { matchLabels: fleetSelector(args.fleet) },
        podMetricsEndpoints: [
            {
                ...(typeof port === "number" ? { portNumber: port } : { port }),
                path: args.metricsPath ?? DEFAULT_METRICS_PATH,
                relabelings: [
                    { targetLabel: "herd_stack", replacement: args.stack, action: "replace" },
                    { sourceLabels: [podLabelMeta(HERD_LABELS.fleet)], targetLabel: "herd_fleet", action: "replace" },
                    { sourceLabels: [podLabelMeta(HERD_LABELS.generation)], targetLabel: "herd_generation", action: "replace" },
                    { sourceLabels: [podLabelMeta(HERD_LABELS.role)], targetLabel: "herd_role", action: "replace" },
                    { sourceLabels: ["__meta_kubernetes_pod_name"], targetLabel: "herd_slot", action: "replace" },
                ],
            },
        ],
    };
}

/**
 * One series per pod of the fleet, 1 while it is ready and 0 while it is not, from
 * kube-state-metrics (`kube_pod_status_ready`, and `kube_pod_labels` with the `herd.dev/*` labels
 * allowed by its `--metric-labels-allowlist`), labelled like a scrape target (`herd_slot` the pod,
 * `herd_generation`): the member count of a fleet whose pods serve no metrics.
 *
 * @group Monitoring
 */
export function kubernetesMembersUp(args: { readonly fleet: string; readonly namespace?: string }): string {
    const namespace = args.namespace ?? DEFAULT_NAMESPACE;
    const fleetLabel = `label_${HERD_LABELS.fleet.replace(/[^a-zA-Z0-9_]/g, "_")}`;
    const generationLabel = `label_${HERD_LABELS.generation.replace(/[^a-zA-Z0-9_]/g, "_")}`;
    const ready = `max by (namespace, pod) (kube_pod_status_ready{namespace="${namespace}",condition="true"})`;
    const members = `max by (namespace, pod, ${generationLabel}) (kube_pod_labels{namespace="${namespace}",${fleetLabel}="${args.fleet}"})`;
    const joined = `${ready} * on (namespace, pod) group_left (${generationLabel}) ${members}`;
    return `label_replace(label_replace(${joined}, "herd_slot", "$1", "pod", "(.+)"), "herd_generation", "$1", "${generationLabel}", "(.+)")`;
}

/**
 * Alerts on a canary that does worse than the stable pods: more container restarts per pod
 * (kube-state-metrics) or a higher share of HTTP 5xx responses (`http_requests_total{code}`).
 */
export function canaryAlerts(args: KubernetesMonitoringArgs): AlertRule[] {
    const namespace = args.namespace ?? DEFAULT_NAMESPACE;
    const roleLabel = `label_${HERD_LABELS.role.replace(/[^a-zA-Z0-9_]/g, "_")}`;
    const fleetLabel = `label_${HERD_LABELS.fleet.replace(/[^a-zA-Z0-9_]/g, "_")}`;
    const restarts = (role: string) =>
        `avg(rate(kube_pod_container_status_restarts_total{namespace="${namespace}"}[15m]) * on (namespace, pod) group_left() kube_pod_labels{namespace="${namespace}",${fleetLabel}="${args.fleet}",${roleLabel}="${role}"})`;
    const sel = (role: string, extra = "") =>
        `herd_stack="${args.stack}",herd_fleet="${args.fleet}",herd_role="${role}"${extra}`;
    const errorRatio = (role: string) =>
        `(sum(rate(http_requests_total{${sel(role, ',code=~"5.."')}}[5m])) / sum(rate(http_requests_total{${sel(role)}}[5m])))`;
    const labels = { herd_stack: args.stack, herd_fleet: args.fleet, severity: "warning" };
    return [
        {
            alert: "HerdCanaryRestarts",
            expr: `${restarts("canary")} > (${restarts("stable")} or on () vector(0))`,
            for: "10m",
            labels,
            annotations: { summary: `The canary of fleet ${args.fleet} (${args.stack}) restarts more often than its stable pods; hold the rollout` },
        },
        {
            alert: "HerdCanaryErrorRate",
            expr: `${errorRatio("canary")} > (${errorRatio("stable")} or on () vector(0))`,
            for: "10m",
            labels,
            annotations: { summary: `The canary of fleet ${args.fleet} (${args.stack}) answers more 5xx than its stable pods; hold the rollout` },
        },
    ];
}

/** The fleet's rules with the canary alerts added. */
export function kubernetesRuleGroup(args: KubernetesMonitoringArgs): RuleGroup {
    return { name: args.rules.name, rules: [...args.rules.rules, ...canaryAlerts(args)] };
}

/**
 * Monitoring of a Kubernetes fleet for the Prometheus Operator: a `PodMonitor` scraping its pods
 * (labelled `herd_stack`, `herd_fleet`, `herd_generation`, `herd_role`) and a `PrometheusRule`
 * with the fleet's alerts plus the canary alerts. Needs the Operator's CRDs in the cluster.
 *
 * @group Monitoring
 */
export class KubernetesMonitoring extends pulumi.ComponentResource {
    /** The PodMonitor that has Prometheus scrape every pod of the fleet; absent with `metricsPort: false`. */
    readonly podMonitor?: k8s.apiextensions.CustomResource;
    /** The PrometheusRule holding the fleet's alerts. */
    readonly prometheusRule: k8s.apiextensions.CustomResource;
    /** The rule group the PrometheusRule carries. */
    readonly ruleGroup: RuleGroup;

    constructor(name: string, args: KubernetesMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("herd:kubernetes:Monitoring", name, {}, opts);
        // The Kubernetes SDK loads when a fleet uses it, not when herd is imported (a second or more).
        const k8s = require("@pulumi/kubernetes") as typeof import("@pulumi/kubernetes");
        const metadata = { namespace: args.namespace ?? DEFAULT_NAMESPACE, labels: { ...fleetSelector(args.fleet), ...args.selectorLabels } };
        this.ruleGroup = kubernetesRuleGroup(args);
        if (args.metricsPort !== false) {
            this.podMonitor = new k8s.apiextensions.CustomResource(
                `${name}-pods`,
                { apiVersion: "monitoring.coreos.com/v1", kind: "PodMonitor", metadata, spec: buildPodMonitorSpec(args) },
                { parent: this, dependsOn: childDependsOn(opts) },
            );
        }
        this.prometheusRule = new k8s.apiextensions.CustomResource(
            `${name}-rules`,
            { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata, spec: { groups: [this.ruleGroup] } },
            { parent: this, dependsOn: childDependsOn(opts) },
        );
        this.registerOutputs({ ruleGroup: this.ruleGroup });
    }
}
