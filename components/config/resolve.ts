import * as fs from "node:fs";
import * as path from "node:path";
import { dockerArgsFromConfig, dockerConfigProblems } from "../docker/config";
import type { DockerWorkloadArgs } from "../docker/workload";
import { kubernetesArgsFromConfig } from "../kubernetes/config";
import type { KubernetesWorkloadArgs } from "../kubernetes/workload";
import type { ServerGroupArgs, ServerRelease } from "../openstack";
import { parseCloudConfig } from "../openstack/userData";
import { defaultMinHealthy, FleetAlertInput } from "../monitoring/rules";
import { cronSchedule, ProbeSpec } from "../monitoring/probe";
import { defaultBatch } from "../rollout";
import { ConfigError, ConfigProblem } from "./errors";
import { FleetConfig, OpenStackFleetConfig, ServerReleaseConfig } from "./schema";
import { FLEETS_KEY, parseFleets } from "./validate";

/** A validated fleet, with the arguments of the component that builds it and of its default alerts. */
export type ResolvedFleet = {
    /** The fleet's name: the key under `herd:fleets`. */
    readonly name: string;
    /** What its default alerts are built from. */
    readonly alerts: FleetAlertInput;
} & (
    | {
          /** The fleet runs on OpenStack VMs. */
          readonly backend: "openstack";
          /** Arguments of its {@link ServerGroup}. */
          readonly args: ServerGroupArgs;
      }
    | {
          /** The fleet runs as pods on Kubernetes. */
          readonly backend: "kubernetes";
          /** Arguments of its {@link KubernetesWorkload}. */
          readonly args: KubernetesWorkloadArgs;
      }
    | {
          /** The fleet runs as containers on one Docker engine. */
          readonly backend: "docker";
          /** Arguments of its {@link DockerWorkload}. */
          readonly args: DockerWorkloadArgs;
      }
);

/** Where a stack's fleets come from. */
export interface ResolveOptions {
    /** The stack, for messages and cloud-side group names. */
    readonly stack: string;
    /** The project directory; `userData` paths are relative to it. */
    readonly projectDir: string;
    /** Reads a file; tests pass their own. @default fs.readFileSync(…, "utf8") */
    readonly readFile?: (file: string) => string;
    /** The Pushgateway container probes push to (`herd:monitoring.pushgateway`). @default none */
    readonly pushgateway?: string;
}

function reader(options: ResolveOptions): (file: string) => string {
    return options.readFile ?? ((file) => fs.readFileSync(file, "utf8"));
}

function readFileOrNull(readFile: (file: string) => string, file: string): string | null {
    try {
        return readFile(file);
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "EISDIR") {
            return null;
        }
        throw err;
    }
}

function serverRelease(
    release: ServerReleaseConfig,
    keyPath: (string | number)[],
    options: ResolveOptions,
    problems: ConfigProblem[],
): ServerRelease {
    let userData: string | undefined;
    if (release.userData !== undefined) {
        const file = path.resolve(options.projectDir, release.userData);
        const text = readFileOrNull(reader(options), file);
        const where = [...keyPath, "userData"];
        if (text === null) {
            problems.push({ path: where, value: release.userData, allowed: `a #cloud-config file relative to the project directory (${file} does not exist)` });
        } else {
            try {
                parseCloudConfig(text);
                userData = text;
            } catch (err) {
                problems.push({ path: where, value: release.userData, allowed: `a #cloud-config file; this one ${(err as Error).message}` });
            }
        }
    }
    return {
        image: release.image,
        flavor: release.flavor,
        networks: release.networks ?? (release.network === undefined ? [] : [release.network]),
        ...(release.keyPair === undefined ? {} : { keyPair: release.keyPair }),
        ...(release.securityGroups === undefined ? {} : { securityGroups: release.securityGroups }),
        ...(userData === undefined ? {} : { userData }),
    };
}

function probes(name: string, fleet: FleetConfig, options: ResolveOptions, problems: ConfigProblem[]): ProbeSpec[] {
    return Object.entries(fleet.probes ?? {}).flatMap(([probe, config]): ProbeSpec[] => {
        const where = [FLEETS_KEY, name, "probes", probe, "script"];
        const file = path.resolve(options.projectDir, config.script);
        const script = readFileOrNull(reader(options), file);
        if (script === null) {
            problems.push({ path: where, value: config.script, allowed: `a script relative to the project directory (${file} does not exist)` });
            return [];
        }
        if (!script.startsWith("#!")) {
            problems.push({ path: where, value: config.script, allowed: "a script that starts with a shebang line such as #!/bin/sh" });
            return [];
        }
        return [{ name: probe, script, every: config.every, ...(config.metric ? { metric: config.metric } : {}), ...(config.alert ? { alert: config.alert } : {}) }];
    });
}

/** Probes of container fleets run as their own workloads and push to a Pushgateway. */
function containerProbeProblems(name: string, fleet: FleetConfig, options: ResolveOptions): ConfigProblem[] {
    const probeNames = Object.keys(fleet.probes ?? {});
    if (probeNames.length === 0) {
        return [];
    }
    const problems: ConfigProblem[] = [];
    if (options.pushgateway === undefined) {
        problems.push({
            path: ["herd:monitoring", "pushgateway"],
            value: undefined,
            allowed: `the URL of a Prometheus Pushgateway: probes of ${fleet.backend} fleet ${name} (${probeNames.join(", ")}) push their counts there`,
        });
    }
    if (fleet.backend === "kubernetes") {
        for (const [probe, config] of Object.entries(fleet.probes ?? {})) {
            try {
                cronSchedule(config.every);
            } catch (err) {
                problems.push({ path: [FLEETS_KEY, name, "probes", probe, "every"], value: config.every, allowed: (err as Error).message.replace(/, got .*$/, "") });
            }
        }
    }
    return problems;
}

function openstackArgs(
    name: string,
    fleet: OpenStackFleetConfig,
    fleetProbes: readonly ProbeSpec[],
    options: ResolveOptions,
    problems: ConfigProblem[],
): ServerGroupArgs {
    const prefix = [FLEETS_KEY, name];
    const release = serverRelease(fleet.release, [...prefix, "release"], options, problems);
    const previous = fleet.rollout?.previous && serverRelease(fleet.rollout.previous, [...prefix, "rollout", "previous"], options, problems);
    return {
        size: fleet.size,
        release,
        ...(fleet.rollout ? { rollout: { members: fleet.rollout.members, ...(previous ? { previous } : {}) } } : {}),
        ...(fleet.update ? { update: fleet.update } : {}),
        ...(fleet.spread ? { spread: fleet.spread } : {}),
        ...(fleet.health ? { health: fleet.health } : {}),
        ...(fleet.loadBalancer ? { loadBalancer: fleet.loadBalancer } : {}),
        ...(fleet.ingress ? { ingress: fleet.ingress } : {}),
        ...(fleet.volume ? { volume: fleet.volume } : {}),
        groupName: `herd-${options.stack}-${name}`,
        metadata: { "herd-stack": options.stack },
        probes: fleetProbes,
    };
}

function alertInput(name: string, fleet: FleetConfig, stack: string, fleetProbes: readonly ProbeSpec[]): FleetAlertInput {
    return {
        stack,
        probes: fleetProbes,
        fleet: name,
        size: fleet.size,
        minHealthy: fleet.alerts?.minHealthy ?? defaultMinHealthy(fleet.size, fleet.update?.batch ?? defaultBatch(fleet.size)),
    };
}

/**
 * Validates `herd:fleets` and turns each fleet into the arguments of its backend's component,
 * reading the files it names. Throws one {@link ConfigError} listing every problem, before
 * anything is registered.
 */
export function resolveFleets(raw: unknown, options: ResolveOptions): ResolvedFleet[] {
    const fleets = parseFleets(raw, options.stack);
    const problems: ConfigProblem[] = [];
    const resolved: ResolvedFleet[] = [];
    for (const [name, fleet] of Object.entries(fleets)) {
        const fleetProbes = probes(name, fleet, options, problems);
        if (fleet.backend !== "openstack") {
            problems.push(...containerProbeProblems(name, fleet, options));
        }
        const alerts = alertInput(name, fleet, options.stack, fleetProbes);
        switch (fleet.backend) {
            case "openstack":
                resolved.push({
                    name,
                    alerts,
                    backend: "openstack",
                    args: openstackArgs(name, fleet, fleetProbes, options, problems),
                });
                break;
            case "kubernetes":
                resolved.push({ name, backend: "kubernetes", args: kubernetesArgsFromConfig(name, fleet), alerts });
                break;
            case "docker": {
                const dockerProblems = dockerConfigProblems(name, fleet);
                problems.push(...dockerProblems);
                if (dockerProblems.length === 0) {
                    resolved.push({ name, backend: "docker", args: dockerArgsFromConfig(name, fleet), alerts });
                }
                break;
            }
        }
    }
    if (problems.length > 0) {
        throw new ConfigError(options.stack, problems);
    }
    return resolved;
}
