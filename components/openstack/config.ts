import type { ConfigBackend, ResolveOptions, ResolvedConfig } from "../config/backend";
import type { ConfigProblem } from "../config/errors";
import { readProjectFile } from "../config/files";
import { parseIpv4Cidr } from "../config/grammar";
import { FLEETS_KEY } from "../config/validate";
import { canonicalHealthCheck, HEALTH_COMMAND_OUTSIDE, type HttpHealthCheck, type TcpHealthCheck } from "../core/health";
import type { ProbeSpec } from "../monitoring/probe";
import { defaultBatch } from "../rollout";
import { spreadProblem } from "./hosts";
import { groupNameOf, renderRelease, type ServerRelease } from "./members";
import { openstackFleetSchema, type OpenStackFleetConfig, type OpenStackSettings, openstackSettingsSchema, type ServerReleaseConfig } from "./schema";
import type { ServerGroupArgs } from "./serverGroup";
import { cloudConfigProblems, encodedUserDataSize, parseCloudConfig, USER_DATA_MAX_ENCODED_BYTES } from "./userData";

/**
 * An OpenStack fleet's stack config turned into its `ServerGroup`'s arguments: the release with
 * its `#cloud-config` file read (inside the project) and checked, the user data rendered as the
 * members will boot with it and held against Nova's limit, and the declared compute hosts.
 */

/** The largest `#cloud-config` file herd reads: what Nova takes, before herd's additions. */
const USER_DATA_FILE_MAX_BYTES = 64 * 1024;

function serverRelease(
    release: ServerReleaseConfig,
    keyPath: (string | number)[],
    options: ResolveOptions,
    problems: ConfigProblem[],
): ServerRelease {
    let userData: string | undefined;
    if (release.userData !== undefined) {
        const where = [...keyPath, "userData"];
        const file = readProjectFile(options, release.userData, USER_DATA_FILE_MAX_BYTES);
        if ("problem" in file) {
            problems.push({ path: where, value: release.userData, allowed: `a #cloud-config file relative to the project directory (${file.problem})` });
        } else {
            try {
                const shapes = cloudConfigProblems(parseCloudConfig(file.text));
                if (shapes.length > 0) {
                    problems.push({ path: where, value: release.userData, allowed: `a #cloud-config file; in this one ${shapes.join("; ")}` });
                } else {
                    userData = file.text;
                }
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

/**
 * Renders each release's user data as its members will boot with it, so that what Nova would
 * refuse (too large, once herd's additions are in) or what herd cannot add to is found now.
 */
function userDataProblems(name: string, fleet: OpenStackFleetConfig, args: ServerGroupArgs): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const releases: [string[], ServerReleaseConfig, ServerRelease][] = [[["release"], fleet.release, args.release]];
    if (fleet.rollout?.previous && args.rollout?.previous) {
        releases.push([["rollout", "previous"], fleet.rollout.previous, args.rollout.previous]);
    }
    for (const [key, config, release] of releases) {
        const where = config.userData === undefined ? [FLEETS_KEY, name, "probes"] : [FLEETS_KEY, name, ...key, "userData"];
        const value = config.userData ?? Object.keys(fleet.probes ?? {});
        let userData: string;
        try {
            userData = renderRelease(name, release, { securityGroupName: groupNameOf(name, args), probes: args.probes }, key.join(".")).userData;
        } catch (err) {
            problems.push({ path: where, value, allowed: `a #cloud-config file herd can add to; ${(err as Error).message}` });
            continue;
        }
        const encoded = encodedUserDataSize(userData);
        if (encoded > USER_DATA_MAX_ENCODED_BYTES) {
            problems.push({
                path: where,
                value,
                allowed:
                    `user data that Nova takes: at most ${USER_DATA_MAX_ENCODED_BYTES} bytes once base64-encoded; with herd's additions ` +
                    `(node_exporter, ${args.probes?.length ?? 0} probe(s), the release identity) it is ${Buffer.byteLength(userData, "utf8")} bytes, ${encoded} encoded`,
            });
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
    const before = problems.length;
    const release = serverRelease(fleet.release, [...prefix, "release"], options, problems);
    const previous = fleet.rollout?.previous && serverRelease(fleet.rollout.previous, [...prefix, "rollout", "previous"], options, problems);
    const args: ServerGroupArgs = {
        size: fleet.size,
        release,
        ...(fleet.rollout ? { rollout: { members: fleet.rollout.members, ...(previous ? { previous } : {}) } } : {}),
        ...(fleet.update ? { update: fleet.update } : {}),
        ...(fleet.spread ? { spread: fleet.spread } : {}),
        // openstackConfigProblems refused a command check: Octavia runs HTTP and TCP checks only.
        ...(fleet.health ? { health: canonicalHealthCheck(fleet.health) as HttpHealthCheck | TcpHealthCheck } : {}),
        ...(fleet.loadBalancer ? { loadBalancer: fleet.loadBalancer } : {}),
        ...(fleet.ingress ? { ingress: fleet.ingress } : {}),
        ...(fleet.volume ? { volume: fleet.volume } : {}),
        groupName: `herd-${options.stack}-${name}`,
        metadata: { "herd-stack": options.stack },
        probes: fleetProbes,
    };
    if (problems.length === before) {
        problems.push(...userDataProblems(name, fleet, args));
    }
    return args;
}

/** A fleet with hard anti-affinity that does not fit on the declared compute hosts (`herd:openstack.computeHosts`). */
function hostProblems(fleet: string, args: ServerGroupArgs, hosts: number): ConfigProblem[] {
    const createBeforeDelete = args.update?.order !== "delete-before-create" && args.volume === undefined;
    const problem = spreadProblem({ size: args.size, spread: args.spread, batch: args.update?.batch ?? defaultBatch(args.size), createBeforeDelete }, hosts);
    if (!problem) {
        return [];
    }
    return [
        {
            path: ["herd:fleets", fleet, ...problem.key.split(".")],
            value: problem.key === "size" ? args.size : "create-before-delete",
            allowed: `at most herd:openstack.computeHosts = ${hosts} hosts at the peak: ${problem.message}`,
        },
    ];
}

/**
 * Rules of an OpenStack fleet that span several of its keys: each release has one network or a
 * list of them, a load balancer sends traffic only to members that pass a health check (HTTP or
 * TCP: Octavia runs no command), and no ingress rule gives what an earlier one gives.
 */
function openstackConfigProblems(fleet: OpenStackFleetConfig, prefix: (string | number)[]): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    for (const [key, release] of [["release", fleet.release], ["rollout.previous", fleet.rollout?.previous]] as const) {
        if (release && release.network === undefined && release.networks === undefined) {
            problems.push({
                path: [...prefix, ...key.split("."), "network"],
                value: undefined,
                allowed: "a network name or ID (or `networks`, a list) for the members' ports",
            });
        }
        if (release && release.network !== undefined && release.networks !== undefined) {
            problems.push({
                path: [...prefix, ...key.split("."), "networks"],
                value: release.networks,
                allowed: "either `network` or `networks`, not both",
            });
        }
    }
    if (fleet.loadBalancer && !fleet.health) {
        problems.push({
            path: [...prefix, "health"],
            value: undefined,
            allowed: "{ path, port } (HTTP) or { port } (TCP) when loadBalancer is set: traffic goes only to members that pass it",
        });
    }
    if (fleet.health?.command !== undefined) {
        problems.push({ path: [...prefix, "health", "command"], value: fleet.health.command, allowed: HEALTH_COMMAND_OUTSIDE });
    }
    problems.push(...duplicateIngress(fleet.ingress ?? [], [...prefix, "ingress"]));
    return problems;
}

/** Ingress rules that open what an earlier rule opens already (they would be one security group rule, twice). */
function duplicateIngress(rules: readonly { port: number; protocol?: string; cidr: string }[], prefix: (string | number)[]): ConfigProblem[] {
    const seen = new Map<string, number>();
    const problems: ConfigProblem[] = [];
    rules.forEach((rule, i) => {
        const parsed = parseIpv4Cidr(rule.cidr);
        const range = typeof parsed === "string" ? rule.cidr : `${parsed.address}/${parsed.prefix}`;
        const key = `${rule.protocol ?? "tcp"} ${rule.port} ${range}`;
        const first = seen.get(key);
        if (first === undefined) {
            seen.set(key, i);
        } else {
            problems.push({
                path: [...prefix, i],
                value: rule,
                allowed: `a rule that ingress[${first}] does not give already (${rule.protocol ?? "tcp"} port ${rule.port} from ${range})`,
            });
        }
    });
    return problems;
}

/** The OpenStack backend's part of validating and resolving a stack config. */
export const openstackConfigBackend: ConfigBackend<OpenStackFleetConfig, ServerGroupArgs, OpenStackSettings> = {
    schema: openstackFleetSchema,
    problems: openstackConfigProblems,
    settings: { schema: openstackSettingsSchema },
    resolve(name: string, fleet: OpenStackFleetConfig, probes: readonly ProbeSpec[], options: ResolveOptions): ResolvedConfig<ServerGroupArgs> {
        const problems: ConfigProblem[] = [];
        const args = openstackArgs(name, fleet, probes, options, problems);
        return { args, problems };
    },
    // The declared hosts reach every OpenStack fleet, which checks them again when built in code.
    withStack(name: string, args: ServerGroupArgs, settings: OpenStackSettings | undefined): ResolvedConfig<ServerGroupArgs> {
        const computeHosts = settings?.computeHosts;
        if (computeHosts === undefined) {
            return { args, problems: [] };
        }
        return { args: { ...args, computeHosts }, problems: hostProblems(name, args, computeHosts) };
    },
    releaseGeneration: (name: string, args: ServerGroupArgs) =>
        renderRelease(name, args.release, { securityGroupName: groupNameOf(name, args), probes: args.probes }, "release").generation,
};
