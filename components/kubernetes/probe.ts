import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { childDependsOn } from "../core/dependencies";
import { PUSH_PROBE_NAME, PUSH_PROBE_SCRIPT } from "../monitoring/probe";
import { buildProbeCronJobSpec, DEFAULT_PROBE_IMAGE, type Probe, type ProbeArgs, probeLabels, probeObjectName } from "../monitoring/probeComponent";
import type { Toleration } from "./placement";

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
