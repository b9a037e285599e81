import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { HTTP_PATH_ALLOWED, isHttpPath } from "../config/grammar";
import { DOCKER_MAX_SIZE } from "./schema";
import { fleetNameProblems, healthCheckProblems, refuseArguments } from "../core/arguments";
import {
    canonicalContainerRelease,
    containerGeneration,
    ContainerRelease,
    containerReleaseProblems,
    DEFAULT_METRICS_PATH,
    fleetShapeProblems,
    HERD_LABELS,
    holdsDeployTimeValue,
    isPort,
    releaseAtPlan,
} from "../release/container";
import { canonicalHealthCheck, HealthCheck, healthCheckKind } from "../core/health";
import { generationOf, reveal, SecretValues } from "../release";
import { assignSlots, batchesOf, defaultBatch } from "../rollout";
import type { DockerWorkloadArgs } from "./workload";

/** Where the component's own Docker provider connects when none is given. */
export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";
/** Memory limit of each container, in MB. */
export const DEFAULT_DOCKER_MEMORY = 256;
/** CPUs each container may use. */
export const DEFAULT_DOCKER_CPUS = "0.5";
/** Host address published ports listen on: the local machine only. */
export const DEFAULT_HOST_IP = "127.0.0.1";
/** Seconds a container gets to stop on SIGTERM before it is killed, when it is replaced or removed. */
export const STOP_GRACE_SECONDS = 10;

/**
 * Container properties that carry the release (image, entrypoint, arguments, env, files, port)
 * or are derived from it (the name and labels hold the generation). A change to any of them
 * replaces the member; most are force-new in the provider already, and the list makes it explicit.
 */
export const CONTAINER_RELEASE_PROPERTIES = ["image", "entrypoints", "command", "envs", "uploads", "ports", "name", "labels"] as const;

/**
 * One slot of a Docker fleet, as herd will create it.
 *
 * @group Components
 */
export interface DockerMemberPlan {
    /** The slot number, `0 … size-1`. */
    readonly slot: number;
    /** Pulumi resource name, stable for the slot: `${fleet}-${slot}`. */
    readonly resourceName: string;
    /**
     * Docker container name: `${fleet}-${slot}-${generation}-${settings}`, where `settings` hashes
     * every input of the container (see `containerSettingsHash`). Whatever replaces the
     * container gives the new one a name the old one does not hold, so create-before-delete
     * never collides on it.
     */
    readonly containerName: string;
    /** Generation of the release the slot runs. */
    readonly generation: string;
    /** `true` when the slot runs the fleet's new `release`, `false` when it still runs `rollout.previous`. */
    readonly current: boolean;
    /** Index of the update batch the slot belongs to. */
    readonly batch: number;
    /** The release the slot runs, in canonical form. */
    readonly release: ContainerRelease;
    /** Pulumi resource name of the image the slot pulls. */
    readonly imageResourceName: string;
    /** Host port the slot publishes its release port on, when the fleet has a `hostPort`. */
    readonly hostPort?: number;
    /**
     * `true` when the old container must go before the new one starts: the slot holds a fixed
     * host port (two containers cannot bind it), its release holds a value wired from another
     * resource (a new value recreates the container under the name it has), or the fleet asked
     * for delete-before-create.
     */
    readonly deleteBeforeReplace: boolean;
}

/**
 * What a Docker workload's settings come to once defaults are applied.
 *
 * @group Components
 */
export interface ResolvedDockerWorkload {
    /** The fleet's name: the `herd.dev/fleet` label and the prefix of every child's name. */
    readonly name: string;
    /** Containers replaced at a time. */
    readonly batch: number;
    /** Whether a slot's new container starts before its old one stops. */
    readonly order: "create-before-delete" | "delete-before-create";
    /** The health check (HTTP, TCP or a command), when the fleet has one. */
    readonly health?: HealthCheck;
    /** The healthcheck command, when there is a health check. */
    readonly healthCommand?: readonly string[];
    /** Host port of slot 0 (slot `i` publishes `hostPort + i`), when the fleet publishes one. */
    readonly hostPort?: number;
    /** Host address the published ports listen on. */
    readonly hostIp: string;
    /** Memory limit of each container, in MB. */
    readonly memory: number;
    /** CPUs each container may use. */
    readonly cpus: string;
    /** `false` when metrics are not scraped; `port` unset means each member's release port. */
    readonly metrics:
        | {
              /** Port Prometheus scrapes; unset: each member's release port. */
              readonly port?: number;
              /** HTTP path of the metrics. */
              readonly path: string;
          }
        | false;
    /** Whether pulled images stay on the host when the fleet stops using them. */
    readonly keepImages: boolean;
    /** Every slot's plan, in slot order. */
    readonly members: readonly DockerMemberPlan[];
}

/** Pulumi resource name of the image a fleet pulls, stable for the image reference: `${fleet}-image-<hash of the reference>`. */
export function imageResourceName(fleet: string, image: string): string {
    return `${fleet}-image-${generationOf(image)}`;
}

/** Pulumi resource name of the fleet's network. */
export function networkResourceName(fleet: string): string {
    return `${fleet}-net`;
}

/** Pulumi resource name of the Docker provider the component creates when none is given. */
export function providerResourceName(fleet: string): string {
    return `${fleet}-provider`;
}

function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A POSIX shell script that exits 0 when a socket listens on TCP `port` in the container's
 * network namespace, and 1 otherwise. It reads `/proc/net/tcp` and `/proc/net/tcp6` (the
 * kernel's socket tables, readable by any user) with shell builtins only (`read`, `case`, `[`),
 * so it needs `/bin/sh` and nothing else: no `nc`, `wget` or bash. A socket in LISTEN state
 * (`0A`) is what a TCP connect would reach, short of a full accept queue. The kernel lists
 * listening sockets before connected ones, so the script stops at the first connected one: a
 * shell's `read` takes a byte per system call, and a busy server's thousands of connections
 * would otherwise outlast the check's timeout.
 */
export function tcpListenScript(port: number): string {
    const hex = port.toString(16).toUpperCase().padStart(4, "0");
    return (
        `for f in /proc/net/tcp /proc/net/tcp6; do [ -r "$f" ] || continue; ` +
        `while read -r _ a _ s _; do case "$s" in st) continue ;; 0A) ;; *) break ;; esac; ` +
        `case "$a" in *:${hex}) exit 0 ;; esac; done < "$f"; done; exit 1`
    );
}

/**
 * Run by bash with the port and the path as `$1` and `$2` (data, never pasted into the script): a
 * `GET` over bash's `/dev/tcp`, healthy on a 2xx or 3xx status line.
 */
const BASH_HTTP_GET =
    'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1; ' +
    "printf 'GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' \"$2\" >&3 || exit 1; " +
    'IFS=" " read -r _ code _ <&3 || exit 1; case "$code" in 2??|3??) exit 0 ;; esac; exit 1';

/**
 * A POSIX shell script that GETs `http://127.0.0.1:port/path` with the first HTTP client the image
 * has — `wget`, else `curl`, else bash's `/dev/tcp` — healthy on a 2xx or 3xx answer; an image
 * with none of them (only `/bin/sh`) is checked as {@link tcpListenScript} checks a TCP port:
 * a socket listens on the port. So the check needs `/bin/sh` and nothing else, and checks the path
 * wherever the image can.
 */
export function httpHealthScript(port: number, path: string): string {
    const url = shellQuote(`http://127.0.0.1:${port}${path}`);
    return (
        `if command -v wget >/dev/null 2>&1; then wget -q -O /dev/null ${url} && exit 0; exit 1; fi; ` +
        `if command -v curl >/dev/null 2>&1; then curl -fsS -o /dev/null ${url} && exit 0; exit 1; fi; ` +
        `if command -v bash >/dev/null 2>&1; then exec bash -c ${shellQuote(BASH_HTTP_GET)} herd-health ${port} ${shellQuote(path)}; fi; ` +
        tcpListenScript(port)
    );
}

/**
 * The Docker healthcheck test of a health check, run inside the container:
 * - HTTP: {@link httpHealthScript} through `/bin/sh`: the path with whichever of `wget`, `curl`
 *   or bash the image carries, else the port alone;
 * - TCP: {@link tcpListenScript} through `/bin/sh`, which needs no other tool in the image;
 * - command: the user's command, executed as it is (`CMD`, no shell).
 */
export function defaultHealthCommand(health: HealthCheck): string[] {
    switch (healthCheckKind(health)) {
        case "command":
            return ["CMD", ...(health.command as readonly string[])];
        case "tcp":
            return ["CMD-SHELL", tcpListenScript(health.port as number)];
        default:
            return ["CMD-SHELL", httpHealthScript(health.port as number, health.path as string)];
    }
}

function argumentProblems(name: string, args: DockerWorkloadArgs): string[] {
    const problems = fleetNameProblems(name);
    problems.push(...fleetShapeProblems({ size: args.size, rollout: args.rollout, batch: args.update?.batch, maxSize: DOCKER_MAX_SIZE }));
    problems.push(...containerReleaseProblems(args.release, "release"));
    if (args.rollout?.previous) {
        problems.push(...containerReleaseProblems(args.rollout.previous, "rollout.previous"));
    }
    problems.push(...healthCheckProblems(args.health));
    if (args.healthCommand !== undefined && args.healthCommand.length === 0) {
        problems.push("healthCommand = []: expected a Docker healthcheck test such as [\"CMD\", \"/app\", \"check\"]");
    }
    if (args.hostPort !== undefined) {
        if (!isPort(args.hostPort)) {
            problems.push(`hostPort = ${JSON.stringify(args.hostPort)}: expected a port, 1–65535`);
        } else if (Number.isSafeInteger(args.size) && args.hostPort + args.size - 1 > 65535) {
            problems.push(
                `hostPort = ${args.hostPort}: expected a base port with hostPort + size - 1 ≤ 65535 (slot i publishes hostPort + i; ${args.size} slots need up to ${args.hostPort + args.size - 1})`,
            );
        }
        for (const [key, release] of [["release", args.release], ["rollout.previous", args.rollout?.previous]] as const) {
            if (release && release.port === undefined) {
                problems.push(`${key}.port is missing: required with hostPort, the container port the host port forwards to`);
            }
        }
    }
    if (args.update?.order === "create-before-delete" && [args.release, args.rollout?.previous].some((release) => release && holdsDeployTimeValue(release))) {
        problems.push(
            'update.order = "create-before-delete": expected delete-before-create (or no order) for a fleet whose env or files hold an Output: ' +
                "a new value of it recreates containers under the names they have, and a new container cannot take the name of one that still runs",
        );
    }
    if (args.memory !== undefined && !(Number.isSafeInteger(args.memory) && args.memory >= 6)) {
        problems.push(`memory = ${JSON.stringify(args.memory)}: expected a whole number of MB, at least 6 (Docker's minimum)`);
    }
    if (args.cpus !== undefined && !/^\d+(\.\d+)?$/.test(args.cpus)) {
        problems.push(`cpus = ${JSON.stringify(args.cpus)}: expected a number of CPUs as a string, e.g. "0.5"`);
    }
    if (args.metrics && args.metrics.port !== undefined && !isPort(args.metrics.port)) {
        problems.push(`metrics.port = ${JSON.stringify(args.metrics.port)}: expected a port, 1–65535`);
    }
    if (args.metrics && args.metrics.path !== undefined && !isHttpPath(args.metrics.path)) {
        problems.push(`metrics.path = ${JSON.stringify(args.metrics.path)}: expected ${HTTP_PATH_ALLOWED}`);
    }
    if (args.hostIp !== undefined && net.isIP(args.hostIp) === 0) {
        problems.push(`hostIp = ${JSON.stringify(args.hostIp)}: expected an IP address of the Docker host, such as 127.0.0.1`);
    }
    return problems;
}

/**
 * Validates a Docker workload's arguments, applies every default and plans every slot: which
 * release it runs, its generation, names, batch, host port and replacement order. Pure: the same
 * arguments give the same plan, byte for byte. Throws one Error listing every problem.
 */
export function resolveDockerWorkload(name: string, args: DockerWorkloadArgs): ResolvedDockerWorkload {
    refuseArguments("DockerWorkload", name, argumentProblems(name, args));
    const batch = args.update?.batch ?? defaultBatch(args.size);
    const order = args.update?.order ?? "create-before-delete";
    const batchOf = new Map(batchesOf(args.size, batch).flatMap((slots, index) => slots.map((slot) => [slot, index] as const)));
    const canonical = new Map<ContainerRelease, { release: ContainerRelease; generation: string }>();
    const render = (release: ContainerRelease) => {
        let rendered = canonical.get(release);
        if (!rendered) {
            const form = canonicalContainerRelease(release);
            rendered = { release: form, generation: containerGeneration(form) };
            canonical.set(release, rendered);
        }
        return rendered;
    };
    const members = assignSlots(args.size, args.release, args.rollout).map(({ slot, release, current }): DockerMemberPlan => {
        const { release: form, generation } = render(release);
        const hostPort = args.hostPort === undefined ? undefined : args.hostPort + slot;
        return {
            slot,
            resourceName: `${name}-${slot}`,
            containerName: "",
            generation,
            current,
            batch: batchOf.get(slot) as number,
            release: form,
            imageResourceName: imageResourceName(name, form.image),
            ...(hostPort === undefined ? {} : { hostPort }),
            // A wired value is not in the name: a new one recreates the container under the name it has.
            deleteBeforeReplace: hostPort !== undefined || order === "delete-before-create" || holdsDeployTimeValue(form),
        };
    });
    const workload: ResolvedDockerWorkload = {
        name,
        batch,
        order,
        ...(args.health
            ? { health: canonicalHealthCheck(args.health), healthCommand: [...(args.healthCommand ?? defaultHealthCommand(args.health))] }
            : {}),
        ...(args.hostPort === undefined ? {} : { hostPort: args.hostPort }),
        hostIp: args.hostIp ?? DEFAULT_HOST_IP,
        memory: args.memory ?? DEFAULT_DOCKER_MEMORY,
        cpus: args.cpus ?? DEFAULT_DOCKER_CPUS,
        metrics:
            args.metrics === false
                ? false
                : { ...(args.metrics?.port === undefined ? {} : { port: args.metrics.port }), path: args.metrics?.path ?? DEFAULT_METRICS_PATH },
        keepImages: args.keepImages ?? true,
        members,
    };
    return {
        ...workload,
        members: members.map((member) => ({
            ...member,
            containerName: `${name}-${member.slot}-${member.generation}-${containerSettingsHash(workload, member)}`,
        })),
    };
}

/**
 * A hash of every input of a member's container but its name and the IDs it gets from other
 * resources: the release and the fleet's settings (health check, host port and address, limits,
 * metrics labels…). It is part of the container's name, so any change that recreates the
 * container names the new one differently from the old one; secrets count by their markers,
 * values wired from other resources by their places.
 */
export function containerSettingsHash(workload: ResolvedDockerWorkload, member: DockerMemberPlan): string {
    const { name: _, ...inputs } = containerInputs(workload, { ...member, release: releaseAtPlan(member.release) }, { image: "", network: "" });
    return generationOf(inputs);
}

/** The distinct images of a fleet, in slot order of first use, with their resource names. */
export function imagesOf(workload: ResolvedDockerWorkload): {
    /** Pulumi resource name of the pull: `${fleet}-image-<hash of the reference>`. */
    readonly resourceName: string;
    /** The image reference, as the release gives it. */
    readonly image: string;
}[] {
    const images = new Map<string, string>();
    for (const member of workload.members) {
        images.set(member.release.image, member.imageResourceName);
    }
    return [...images].map(([image, resourceName]) => ({ resourceName, image }));
}

/**
 * A member's labels, sorted by key: fleet, slot and generation (so `docker ps --filter
 * label=herd.dev/generation=…` shows who runs what) and Prometheus's Docker discovery labels.
 */
export function containerLabels(
    workload: ResolvedDockerWorkload,
    member: DockerMemberPlan,
): {
    /** Label key, e.g. `herd.dev/generation`. */
    label: string;
    /** Label value. */
    value: string;
}[] {
    const labels: Record<string, string> = {
        [HERD_LABELS.fleet]: workload.name,
        [HERD_LABELS.slot]: String(member.slot),
        [HERD_LABELS.generation]: member.generation,
    };
    const metricsPort = workload.metrics === false ? undefined : (workload.metrics.port ?? member.release.port);
    if (workload.metrics !== false && metricsPort !== undefined) {
        labels["prometheus.io/scrape"] = "true";
        labels["prometheus.io/port"] = String(metricsPort);
        labels["prometheus.io/path"] = workload.metrics.path;
    }
    return Object.keys(labels)
        .sort()
        .map((label) => ({ label, value: labels[label] }));
}

/** The references a container needs from other resources: plain strings in tests, Outputs in the component. */
export interface ContainerRefs<N> {
    /** The image to run (the pulled image's ID). */
    readonly image: N;
    /** The fleet network's name. */
    readonly network: N;
}

/**
 * The inputs of a member's `docker.Container`: release first (image, entrypoint, arguments, env
 * sorted by name, files sorted by path, published port), then the fleet's settings. Everything is
 * in a fixed order, so two evaluations give identical inputs.
 *
 * @param secrets plaintext of the secrets the release holds, by marker
 * @param atDeploy what an env value or file content known only at deploy time becomes (see `deployTimeChecks`)
 */
export function containerInputs<N>(
    workload: ResolvedDockerWorkload,
    member: DockerMemberPlan,
    refs: ContainerRefs<N>,
    secrets?: SecretValues,
    atDeploy: (value: pulumi.Input<string>) => pulumi.Input<string> = (value) => value,
) {
    const { release } = member;
    const env = release.env ?? {};
    const files = release.files ?? {};
    // A value that holds a secret's marker reaches the container as a Pulumi secret, with its plaintext.
    const value = (text: string) => (secrets === undefined ? text : reveal(text, secrets));
    // A value wired from another resource reaches it as it resolves, a secret still a secret.
    const input = (given: pulumi.Input<string>, text: (resolved: string) => string): pulumi.Input<string> =>
        typeof given === "string" ? value(text(given)) : pulumi.output(atDeploy(given)).apply(text);
    return {
        name: member.containerName,
        image: refs.image,
        ...(release.command ? { entrypoints: release.command.map(value) } : {}),
        ...(release.args ? { command: release.args.map(value) } : {}),
        ...(release.env ? { envs: Object.keys(env).sort().map((key) => input(env[key], (resolved) => `${key}=${resolved}`)) } : {}),
        // Config files, not programs: readable by the container's user, writable by no one.
        ...(release.files
            ? { uploads: Object.keys(files).sort().map((file) => ({ file, content: input(files[file], (resolved) => resolved), permissions: "0444" })) }
            : {}),
        ...(member.hostPort === undefined
            ? {}
            : { ports: [{ internal: release.port as number, external: member.hostPort, ip: workload.hostIp, protocol: "tcp" }] }),
        labels: containerLabels(workload, member),
        ...(workload.healthCommand
            ? {
                  healthcheck: { tests: [...workload.healthCommand], interval: "10s", timeout: "3s", retries: 3, startPeriod: "15s" },
                  // Creation waits until the container is healthy, so the next batch starts only after this one serves.
                  wait: true,
              }
            : {}),
        restart: "unless-stopped",
        memory: workload.memory,
        cpus: workload.cpus,
        securityOpts: ["no-new-privileges:true"],
        destroyGraceSeconds: STOP_GRACE_SECONDS,
        // `<fleet>` resolves to every member on the fleet network (round-robin DNS), `<fleet>-<slot>` to one.
        networksAdvanced: [{ name: refs.network, aliases: [workload.name, member.resourceName] }],
    };
}
