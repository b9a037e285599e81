import * as fs from "node:fs";
import * as path from "node:path";
import type { ServerGroupArgs, ServerRelease } from "../openstack";
import { parseCloudConfig } from "../openstack/userData";
import { defaultMinHealthy, FleetAlertInput } from "../monitoring";
import { defaultBatch } from "../rollout";
import { ConfigError, ConfigProblem } from "./errors";
import { FleetConfig, OpenStackFleetConfig, ServerReleaseConfig } from "./schema";
import { FLEETS_KEY, parseFleets } from "./validate";

/** A validated fleet, with the arguments of the component that builds it and of its default alerts. */
export type ResolvedFleet = {
    readonly name: string;
    readonly alerts: FleetAlertInput;
} & { readonly backend: "openstack"; readonly args: ServerGroupArgs };

/** Where a stack's fleets come from. */
export interface ResolveOptions {
    /** The stack, for messages and cloud-side group names. */
    readonly stack: string;
    /** The project directory; `userData` paths are relative to it. */
    readonly projectDir: string;
    /** Reads a file; tests pass their own. @default fs.readFileSync(…, "utf8") */
    readonly readFile?: (file: string) => string;
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
        const text = readFileOrNull(options.readFile ?? ((f) => fs.readFileSync(f, "utf8")), file);
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

function openstackArgs(name: string, fleet: OpenStackFleetConfig, options: ResolveOptions, problems: ConfigProblem[]): ServerGroupArgs {
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
        groupName: `herd-${options.stack}-${name}`,
        metadata: { "herd-stack": options.stack },
    };
}

function alertInput(name: string, fleet: FleetConfig, stack: string): FleetAlertInput {
    return {
        stack,
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
        switch (fleet.backend) {
            case "openstack":
                resolved.push({
                    name,
                    backend: "openstack",
                    args: openstackArgs(name, fleet, options, problems),
                    alerts: alertInput(name, fleet, options.stack),
                });
                break;
            default:
                problems.push({
                    path: [FLEETS_KEY, name, "backend"],
                    value: fleet.backend,
                    allowed: "openstack (this version of herd builds OpenStack fleets only)",
                });
        }
    }
    if (problems.length > 0) {
        throw new ConfigError(options.stack, problems);
    }
    return resolved;
}
