import * as pulumi from "@pulumi/pulumi";
import type * as DockerBackend from "../docker/workload";
import type * as KubernetesBackend from "../kubernetes/workload";
import type * as KubernetesMonitoringModule from "../kubernetes/monitoring";
import { refuseArguments } from "../core/arguments";
import { scrapePort } from "../kubernetes/manifests";
import { Probe, type ProbeTarget } from "../monitoring/probeComponent";
import { defaultAlerts, ruleFile, type RuleGroup } from "../monitoring/rules";
import type * as OpenStackBackend from "../openstack/serverGroup";
import {
    dockerWorkloadArgsOf,
    fleetAlertInput,
    fleetProblems,
    kubernetesWorkloadArgsOf,
    serverGroupArgsOf,
    type DockerFleetArgs,
    type FleetArgs,
    type KubernetesFleetArgs,
    type OpenStackFleetArgs,
} from "./plan";

// Each backend's provider SDK takes a second or more to load: a fleet loads its own backend only.
const openstackBackend = () => require("../openstack/serverGroup") as typeof OpenStackBackend;
const kubernetesBackend = () => require("../kubernetes/workload") as typeof KubernetesBackend;
const kubernetesMonitoring = () => require("../kubernetes/monitoring") as typeof KubernetesMonitoringModule;
const dockerBackend = () => require("../docker/workload") as typeof DockerBackend;

/** What every built fleet has, whatever its backend. */
interface BuiltFleet {
    /** The fleet's name, as given. */
    readonly name: string;
    /**
     * The fleet's alerts: the default ones, one per probe, and on Kubernetes the canary alerts.
     * On Kubernetes a PrometheusRule carries them; elsewhere put them in the rule file of the
     * Prometheus that scrapes the members (see {@link alertRuleFile}).
     */
    readonly ruleGroup: RuleGroup;
    /** One component per probe, `${name}-probe-${probe}`, in the order of `args.probes`. */
    readonly probes: readonly Probe[];
}

/** An OpenStack fleet as {@link buildFleet} built it. */
export interface OpenStackFleet extends BuiltFleet {
    /** The fleet runs on OpenStack VMs. */
    readonly backend: "openstack";
    /** Its VMs, security group, server group and load balancer. */
    readonly workload: OpenStackBackend.ServerGroup;
}

/** A Kubernetes fleet as {@link buildFleet} built it. */
export interface KubernetesFleet extends BuiltFleet {
    /** The fleet runs as pods on Kubernetes. */
    readonly backend: "kubernetes";
    /** Its Deployments, Service, PodDisruptionBudget, ConfigMaps and Secrets. */
    readonly workload: KubernetesBackend.KubernetesWorkload;
    /** Its PodMonitor (when the pods serve metrics) and the PrometheusRule carrying `ruleGroup`. */
    readonly monitoring: KubernetesMonitoringModule.KubernetesMonitoring;
}

/** A Docker fleet as {@link buildFleet} built it. */
export interface DockerFleet extends BuiltFleet {
    /** The fleet runs as containers on one Docker engine. */
    readonly backend: "docker";
    /** Its containers, network, image pulls and (unless given one) Docker provider. */
    readonly workload: DockerBackend.DockerWorkload;
}

/** A fleet as {@link buildFleet} built it: its workload, alerts, monitoring objects and probes. */
export type Fleet = OpenStackFleet | KubernetesFleet | DockerFleet;

/**
 * Builds a fleet monitored from birth: the workload of its backend (`backend` says which:
 * a `ServerGroup`, `KubernetesWorkload` or `DockerWorkload`, named `name`), its default alerts
 * (fewer than `alerts.minHealthy` members up; a member down for 5 minutes), one alert per probe,
 * and its probes (`${name}-probe-${probe}`); on Kubernetes also a `KubernetesMonitoring`
 * (`${name}-monitoring`: a PodMonitor and a PrometheusRule with the alerts). The stack's program
 * builds every fleet of `herd:fleets` with it, so a fleet built in code is what the same fleet in
 * a stack file would be.
 *
 * It registers no resource of its own: each of those is a top-level resource (or a child of
 * `opts.parent`), with `opts`, named as above. So a fleet that moves onto `buildFleet` from its
 * bare workload keeps every URN: nothing is replaced.
 *
 * Everything is checked before anything is registered: what the fleet adds (backend, alerts,
 * probes, Pushgateway…) here, then the workload's own arguments by its component, each in one
 * message (a `RunError`, which `pulumi up` prints without a stack trace) whose lines name the key
 * path in `args` (`probes[0].every = "5x": expected …`). Only the backend's provider SDK is loaded.
 *
 * @param name the fleet's name: lowercase letters, digits and `-`, starting with a letter, at most 30 characters
 * @param args the workload's arguments, `backend`, and how the fleet is watched
 * @param opts options of every component built (provider, `dependsOn`, parent…); a Docker fleet's probes use its workload's provider
 *
 * @example A Kubernetes fleet with a probe, whose PrometheusRule comes with it
 * ```ts
 * import { buildFleet } from "pulumi-herd";
 *
 * const api = buildFleet("api", {
 *     backend: "kubernetes",
 *     namespace: "api",
 *     size: 6,
 *     release: { image: "registry.example.org/api@sha256:…", port: 8080 },
 *     health: { path: "/ready", port: 8080 },
 *     alerts: { minHealthy: 4 },
 *     probes: [{ name: "stuck_jobs", script: "#!/bin/sh\necho 0\n", every: "5m" }],
 *     pushgateway: "http://pushgateway.monitoring:9091",
 * });
 * export const apiService = api.workload.serviceName;
 * ```
 *
 * @example OpenStack and Docker fleets, whose alerts go into a rule file for Prometheus
 * ```ts
 * import { alertRuleFile, buildFleet } from "pulumi-herd";
 *
 * const edge = buildFleet("edge", { backend: "openstack", size: 3, release: { image: "6d1f0b7e-…", flavor: "b3-8", networks: ["ext-net"] } });
 * const cache = buildFleet("cache", { backend: "docker", size: 2, release: { image: "registry.example.org/cache@sha256:…" } });
 * export const alertRules = alertRuleFile([edge, cache]);
 * ```
 */
export function buildFleet(name: string, args: OpenStackFleetArgs, opts?: pulumi.ComponentResourceOptions): OpenStackFleet;
export function buildFleet(name: string, args: KubernetesFleetArgs, opts?: pulumi.ComponentResourceOptions): KubernetesFleet;
export function buildFleet(name: string, args: DockerFleetArgs, opts?: pulumi.ComponentResourceOptions): DockerFleet;
export function buildFleet(name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions): Fleet;
export function buildFleet(name: string, args: FleetArgs, opts: pulumi.ComponentResourceOptions = {}): Fleet {
    refuseArguments("Fleet", name, fleetProblems(name, args));
    const stack = args.stack ?? pulumi.getStack();
    const probes = (target: ProbeTarget, probeOpts: pulumi.ComponentResourceOptions) =>
        (args.probes ?? []).map((probe) => new Probe(`${name}-probe-${probe.name}`, { stack, fleet: name, probe, target }, probeOpts));
    const probeImage = args.backend !== "openstack" && args.probeImage !== undefined ? { image: args.probeImage } : {};
    switch (args.backend) {
        case "openstack": {
            const workload = new (openstackBackend().ServerGroup)(name, serverGroupArgsOf(args), opts);
            return {
                name,
                backend: args.backend,
                workload,
                ruleGroup: defaultAlerts(fleetAlertInput(name, args, stack)),
                probes: probes({ backend: "openstack" }, opts),
            };
        }
        case "kubernetes": {
            const workload = new (kubernetesBackend().KubernetesWorkload)(name, kubernetesWorkloadArgsOf(args), opts);
            const { namespace, nodeSelector, tolerations } = args;
            const { kubernetesMembersUp, KubernetesMonitoring } = kubernetesMonitoring();
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
            const target: ProbeTarget = {
                backend: "kubernetes",
                namespace,
                pushgateway: args.pushgateway ?? "",
                ...probeImage,
                ...(nodeSelector ? { nodeSelector } : {}),
                ...(tolerations ? { tolerations } : {}),
            };
            return { name, backend: args.backend, workload, monitoring, ruleGroup: monitoring.ruleGroup, probes: probes(target, opts) };
        }
        case "docker": {
            const workload = new (dockerBackend().DockerWorkload)(name, dockerWorkloadArgsOf(args), opts);
            // Probes run on the fleet's Docker engine, on its network, to reach its members.
            const target: ProbeTarget = { backend: "docker", pushgateway: args.pushgateway ?? "", network: workload.network.name, ...probeImage };
            return {
                name,
                backend: args.backend,
                workload,
                ruleGroup: defaultAlerts(fleetAlertInput(name, args, stack)),
                probes: probes(target, { ...opts, provider: workload.provider }),
            };
        }
    }
}

/**
 * The Prometheus rule file (`groups:`, YAML) of the fleets whose alerts no PrometheusRule carries —
 * OpenStack and Docker fleets — for the Prometheus that scrapes their members (`promtool check
 * rules` passes it). Kubernetes fleets are left out: their PrometheusRule holds their alerts.
 *
 * @example
 * ```ts
 * export const alertRules = alertRuleFile([edge, cache]);
 * ```
 */
export function alertRuleFile(fleets: readonly Fleet[]): string {
    return ruleFile(fleets.filter((fleet) => fleet.backend !== "kubernetes").map((fleet) => fleet.ruleGroup));
}
