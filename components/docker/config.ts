import { type ConfigBackend, missingPushgateway, type ResolveOptions, type ResolvedConfig, secretsOf } from "../config/backend";
import { ConfigProblem, formatProblem } from "../config/errors";
import { FLEETS_KEY, isContainerSecretPlace } from "../config/validate";
import { canonicalHealthCheck } from "../core/health";
import type { ProbeSpec } from "../monitoring/probe";
import { containerGeneration, containerReleaseFromConfig } from "../release/container";
import { type DockerFleetConfig, dockerFleetSchema } from "./schema";
import type { DockerWorkloadArgs } from "./workload";

/**
 * Rules of a Docker fleet that span several keys, which the config schema cannot say: slot `i`
 * publishes `hostPort + i`, so every slot's port must exist, and every release must have the
 * container `port` the host port forwards to. Returns one problem per broken rule, with the full
 * key path, for the stack's config error.
 */
export function dockerConfigProblems(name: string, fleet: DockerFleetConfig): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    if (fleet.hostPort === undefined) {
        return problems;
    }
    const last = fleet.hostPort + fleet.size - 1;
    if (last > 65535) {
        problems.push({
            path: [FLEETS_KEY, name, "hostPort"],
            value: fleet.hostPort,
            allowed: `a base port with hostPort + size - 1 ≤ 65535 (slot i publishes hostPort + i; ${fleet.size} slots need up to ${last})`,
        });
    }
    for (const [key, release] of [["release", fleet.release], ["previous", fleet.rollout?.previous]] as const) {
        if (release && release.port === undefined) {
            problems.push({
                path: key === "release" ? [FLEETS_KEY, name, "release", "port"] : [FLEETS_KEY, name, "rollout", "previous", "port"],
                value: undefined,
                allowed: "the container port that hostPort forwards to",
            });
        }
    }
    return problems;
}

/**
 * The arguments of a {@link DockerWorkload} for a fleet of the stack config
 * (`herd:fleets.<name>`, `backend: docker`), already validated by the config schema. `spread`
 * does not apply (one Docker host); `rollout.waves` is the CLI's promotion schedule. Settings the
 * config does not have (Docker host, limits, metrics) keep their defaults.
 *
 * @param name the fleet's name, which becomes the component's name and appears in messages
 * @throws Error listing {@link dockerConfigProblems}, with their key paths
 */
export function dockerArgsFromConfig(name: string, fleet: DockerFleetConfig): DockerWorkloadArgs {
    if (fleet.backend !== "docker") {
        throw new Error(`fleet "${name}": expected a docker fleet, got backend ${JSON.stringify(fleet.backend)}`);
    }
    const problems = dockerConfigProblems(name, fleet);
    if (problems.length > 0) {
        throw new Error(problems.map(formatProblem).join("\n"));
    }
    const previous = fleet.rollout?.previous && containerReleaseFromConfig(fleet.rollout.previous);
    return {
        size: fleet.size,
        release: containerReleaseFromConfig(fleet.release),
        ...(fleet.rollout ? { rollout: { members: fleet.rollout.members, ...(previous ? { previous } : {}) } } : {}),
        ...(fleet.update ? { update: { ...fleet.update } } : {}),
        ...(fleet.health ? { health: canonicalHealthCheck(fleet.health) } : {}),
        ...(fleet.hostPort === undefined ? {} : { hostPort: fleet.hostPort }),
    };
}

/** The Docker backend's part of resolving a stack config. */
/**
 * Host ports that two Docker fleets would both publish: slot `i` of a fleet publishes
 * `hostPort + i`, and every Docker fleet of a stack runs on the same engine.
 */
function hostPortOverlaps(fleets: readonly (readonly [string, DockerFleetConfig])[]): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const taken: { name: string; first: number; last: number }[] = [];
    for (const [name, fleet] of fleets) {
        if (fleet.hostPort === undefined || fleet.size === 0) {
            continue;
        }
        const first = fleet.hostPort;
        const last = fleet.hostPort + fleet.size - 1;
        const other = taken.find((range) => first <= range.last && range.first <= last);
        if (other) {
            problems.push({
                path: [FLEETS_KEY, name, "hostPort"],
                value: fleet.hostPort,
                allowed: `host ports no other fleet publishes: its ${fleet.size} slots would publish ${first}–${last}, and fleet ${other.name} publishes ${other.first}–${other.last}`,
            });
        }
        taken.push({ name, first, last });
    }
    return problems;
}

/** The Docker backend's part of validating and resolving a stack config. */
export const dockerConfigBackend: ConfigBackend<DockerFleetConfig, DockerWorkloadArgs> = {
    schema: dockerFleetSchema,
    secretPlace: isContainerSecretPlace,
    stackProblems: hostPortOverlaps,
    resolve(name: string, fleet: DockerFleetConfig, _probes: readonly ProbeSpec[], options: ResolveOptions): ResolvedConfig<DockerWorkloadArgs> {
        // Each probe runs as a container that pushes its count to the stack's Pushgateway.
        const probes = missingPushgateway(name, "docker", Object.keys(fleet.probes ?? {}), options);
        const problems = dockerConfigProblems(name, fleet);
        return problems.length > 0
            ? { problems: [...probes, ...problems] }
            : { args: { ...dockerArgsFromConfig(name, fleet), ...secretsOf(options) }, problems: probes };
    },
    releaseGeneration: (_name: string, args: DockerWorkloadArgs) => containerGeneration(args.release),
};
