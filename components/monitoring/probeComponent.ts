import * as pulumi from "@pulumi/pulumi";
import { CONTAINER_PROBE_DIR, probeAlert, probeMetric, ProbeSpec, probeSpecProblems, PUSH_PROBE_NAME, pushgatewayProblems } from "./probe";
import type { OnBackend } from "../fleet/backend";
import type * as BackendsModule from "../fleet/backends";
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

/** The command a probe container runs once: the wrapper, with where to push. */
export function pushCommand(args: ProbeArgs, pushgateway: string): string[] {
    return [`${CONTAINER_PROBE_DIR}/${PUSH_PROBE_NAME}`, args.probe.name, probeMetric(args.probe), pushgateway, args.stack, args.fleet];
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
