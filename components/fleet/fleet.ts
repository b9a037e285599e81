import * as pulumi from "@pulumi/pulumi";
import { refuseArguments } from "../core/arguments";
import { ruleFile } from "../monitoring/rules";
import type { OnBackend } from "./backend";
import { type BackendName, type Fleet, type FleetArgs, type FleetArgsOf, fleetBackend, type FleetOf, fleetProblems } from "./backends";

export type { BuiltFleet } from "./backend";
export type { Fleet, FleetArgs } from "./backends";

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
 *
 * @group Fleets
 */
export function buildFleet<B extends BackendName>(name: string, args: FleetArgsOf<B> & OnBackend<B>, opts?: pulumi.ComponentResourceOptions): FleetOf<B>;
export function buildFleet(name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions): Fleet;
export function buildFleet(name: string, given: OnBackend, opts: pulumi.ComponentResourceOptions = {}): Fleet {
    const args = given as FleetArgs;
    refuseArguments("Fleet", name, fleetProblems(name, args));
    // fleetProblems refused a backend the registry does not have.
    const backend = fleetBackend(args.backend) as NonNullable<ReturnType<typeof fleetBackend>>;
    return backend.build(name, args, args.stack ?? pulumi.getStack(), opts);
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
 *
 * @group Fleets
 */
export function alertRuleFile(fleets: readonly Fleet[]): string {
    return ruleFile(fleets.filter((fleet) => fleetBackend(fleet.backend)?.ruleFile).map((fleet) => fleet.ruleGroup));
}
