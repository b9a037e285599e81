import * as fs from "node:fs";
import * as path from "node:path";
import { canonicalHealthCheck, HttpHealthCheck, TcpHealthCheck } from "../core/health";
import { dockerArgsFromConfig, dockerConfigProblems } from "../docker/config";
import type { DockerWorkloadArgs } from "../docker/workload";
import { kubernetesArgsFromConfig, kubernetesConfigProblems } from "../kubernetes/config";
import type { PlainNamespaceWorkloadArgs } from "../kubernetes/workload";
import type { ServerGroupArgs, ServerRelease } from "../openstack";
import { spreadProblem } from "../openstack/hosts";
import { renderRelease } from "../openstack/members";
import { containerGeneration } from "../release/container";
import { cloudConfigProblems, encodedUserDataSize, parseCloudConfig, USER_DATA_MAX_ENCODED_BYTES } from "../openstack/userData";
import { CanaryGate, defaultMinHealthy, FleetAlertInput } from "../monitoring/rules";
import { cronSchedule, PROBE_SCRIPT_MAX_BYTES, ProbeSpec } from "../monitoring/probe";
import type { SecretValues } from "../release/secrets";
import { defaultBatch } from "../rollout";
import { ConfigError, ConfigProblem } from "./errors";
import {
    FleetConfig,
    KubernetesSettings,
    kubernetesSettingsSchema,
    MonitoringSettings,
    monitoringSettingsSchema,
    OpenStackFleetConfig,
    OpenStackSettings,
    openstackSettingsSchema,
    ServerReleaseConfig,
} from "./schema";
import { markSecrets } from "./secrets";
import type { StackConfig } from "./stackFile";
import { checkFleets, checkSettings, FLEETS_KEY } from "./validate";

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
          /** Arguments of its {@link KubernetesWorkload}; a stack file names the namespace in plain text. */
          readonly args: PlainNamespaceWorkloadArgs;
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
    /** The project directory; `userData` and probe `script` paths are relative to it, and must stay inside it. */
    readonly projectDir: string;
    /**
     * Reads a file; tests pass their own. A reader of its own is trusted with where a path
     * leads (symlinks, devices); its text is still bounded in size.
     * @default the file, once its real path (symlinks followed) is inside the project directory and it is a regular file of a bounded size
     */
    readonly readFile?: (file: string) => string;
    /** The Pushgateway container probes push to (`herd:monitoring.pushgateway`). @default none */
    readonly pushgateway?: string;
    /** Plaintext of the secrets the fleets hold, by marker (see `markSecrets`). @default none */
    readonly secrets?: SecretValues;
}

/** Why a project file cannot be used, in the words of a problem's `allowed`. */
type FileOutcome = { readonly text: string } | { readonly problem: string };

const describeKind = (stat: fs.Stats) =>
    stat.isDirectory() ? "a directory" : stat.isFIFO() ? "a FIFO" : stat.isSocket() ? "a socket" : stat.isCharacterDevice() || stat.isBlockDevice() ? "a device" : "not a regular file";

/** Whether `inner` is `root` or inside it. */
function isInside(root: string, inner: string): boolean {
    const relative = path.relative(root, inner);
    return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/**
 * Where a project path really leads: its real path (every symlink followed), once that is inside
 * the project's real path; a problem otherwise. `kind` says what the path must be.
 */
function projectPath(projectDir: string, relative: string, kind: "file" | "directory"): { readonly real: string; readonly stat?: fs.Stats } | { readonly problem: string } {
    let root: string;
    try {
        root = fs.realpathSync(projectDir);
    } catch {
        return { problem: `the project directory ${projectDir} does not exist` };
    }
    const full = path.resolve(root, relative);
    if (!isInside(root, full)) {
        return { problem: "it leads outside the project directory" };
    }
    let real: string;
    try {
        real = fs.realpathSync(full);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") {
            return { problem: `${full} does not exist` };
        }
        return { problem: code === "ELOOP" ? "its symlinks loop" : `it cannot be read (${code ?? "error"})` };
    }
    if (!isInside(root, real)) {
        return { problem: "a symlink leads it outside the project directory" };
    }
    const stat = fs.statSync(real);
    if (kind === "file" ? !stat.isFile() : !stat.isDirectory()) {
        return { problem: `it is ${describeKind(stat)}, not a ${kind === "file" ? "regular file" : "directory"}` };
    }
    return { real, stat };
}

/**
 * Reads a file the stack config names, relative to the project directory: it must lead (after
 * symlinks) to a regular file inside the project, of at most `maxBytes`. A device, FIFO or
 * directory is refused before it is opened, so it can neither hang nor flood the program.
 */
function readProjectFile(options: ResolveOptions, relative: string, maxBytes: number): FileOutcome {
    if (options.readFile) {
        let text: string;
        try {
            text = options.readFile(path.resolve(options.projectDir, relative));
        } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === "ENOENT" || code === "EISDIR") {
                return { problem: `${path.resolve(options.projectDir, relative)} does not exist` };
            }
            throw err;
        }
        const size = Buffer.byteLength(text, "utf8");
        return size > maxBytes ? { problem: `at most ${maxBytes} bytes; this one has ${size}` } : { text };
    }
    const found = projectPath(options.projectDir, relative, "file");
    if ("problem" in found) {
        return found;
    }
    if ((found.stat?.size ?? 0) > maxBytes) {
        return { problem: `at most ${maxBytes} bytes; this one has ${found.stat?.size}` };
    }
    return { text: fs.readFileSync(found.real, "utf8") };
}

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

function probes(name: string, fleet: FleetConfig, options: ResolveOptions, problems: ConfigProblem[]): ProbeSpec[] {
    return Object.entries(fleet.probes ?? {}).flatMap(([probe, config]): ProbeSpec[] => {
        const where = [FLEETS_KEY, name, "probes", probe, "script"];
        const file = readProjectFile(options, config.script, PROBE_SCRIPT_MAX_BYTES);
        if ("problem" in file) {
            problems.push({ path: where, value: config.script, allowed: `a script relative to the project directory (${file.problem})` });
            return [];
        }
        if (!file.text.startsWith("#!")) {
            problems.push({ path: where, value: config.script, allowed: "a script that starts with a shebang line such as #!/bin/sh" });
            return [];
        }
        return [{ name: probe, script: file.text, every: config.every, ...(config.metric ? { metric: config.metric } : {}), ...(config.alert ? { alert: config.alert } : {}) }];
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
            userData = renderRelease(name, release, { securityGroupName: args.groupName ?? `herd-${name}`, probes: args.probes }, key.join(".")).userData;
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
        // crossChecks refused a command check: Octavia runs HTTP and TCP checks only.
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
 * The fleet's gate for its `HerdCanaryGateClosed` alert while a rollout is under way (some slots
 * on the release, the others on the previous one), with the generation of the release as its
 * component computes it: the canary's.
 */
function canaryGate(fleet: ResolvedFleet, config: FleetConfig): CanaryGate | undefined {
    const members = config.rollout?.members ?? config.size;
    if (!config.gate || members === 0 || members >= config.size) {
        return undefined;
    }
    return { query: config.gate.query, generation: releaseGeneration(fleet) };
}

/** The generation of a fleet's `release`, as its component computes it: what a rollout's canary runs. */
export function releaseGeneration(fleet: ResolvedFleet): string {
    return fleet.backend === "openstack"
        ? renderRelease(fleet.name, fleet.args.release, { securityGroupName: fleet.args.groupName ?? `herd-${fleet.name}`, probes: fleet.args.probes }, "release").generation
        : containerGeneration(fleet.args.release);
}

/** The secrets of a container fleet's args, when it holds any. */
function withSecrets(options: ResolveOptions) {
    return options.secrets && options.secrets.size > 0 ? { secrets: options.secrets } : {};
}

/** Every fleet that is valid and whose files are, resolved; and every problem of the others. */
function collectFleets(raw: unknown, options: ResolveOptions): { resolved: ResolvedFleet[]; problems: ConfigProblem[] } {
    const checked = checkFleets(raw);
    const problems: ConfigProblem[] = [...checked.problems];
    const resolved: ResolvedFleet[] = [];
    for (const [name, fleet] of Object.entries(checked.fleets)) {
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
            case "kubernetes": {
                const kubernetesProblems = kubernetesConfigProblems(name, fleet);
                problems.push(...kubernetesProblems);
                if (kubernetesProblems.length === 0) {
                    resolved.push({ name, backend: "kubernetes", args: { ...kubernetesArgsFromConfig(name, fleet), ...withSecrets(options) }, alerts });
                }
                break;
            }
            case "docker": {
                const dockerProblems = dockerConfigProblems(name, fleet);
                problems.push(...dockerProblems);
                if (dockerProblems.length === 0) {
                    resolved.push({ name, backend: "docker", args: { ...dockerArgsFromConfig(name, fleet), ...withSecrets(options) }, alerts });
                }
                break;
            }
        }
    }
    // Only a fleet whose release renders has a generation; the others' problems end the run.
    const gated = problems.length > 0 ? resolved : resolved.map((fleet) => {
        const gate = canaryGate(fleet, checked.fleets[fleet.name]);
        return gate ? { ...fleet, alerts: { ...fleet.alerts, canaryGate: gate } } : fleet;
    });
    return { resolved: gated, problems };
}

/**
 * Validates `herd:fleets` and turns each fleet into the arguments of its backend's component,
 * reading the files it names. Throws one {@link ConfigError} listing every problem (schema,
 * cross-key and file checks together), before anything is registered.
 */
export function resolveFleets(raw: unknown, options: ResolveOptions): ResolvedFleet[] {
    const { resolved, problems } = collectFleets(raw, options);
    if (problems.length > 0) {
        throw new ConfigError(options.stack, problems);
    }
    return resolved;
}

/** The herd keys of a stack's config, as the program reads them (`pulumi.Config.getObject`). */
export interface StackInput {
    /** `herd:fleets`. */
    readonly fleets: unknown;
    /** `herd:monitoring`. @default none */
    readonly monitoring?: unknown;
    /** `herd:kubernetes`. @default none */
    readonly kubernetes?: unknown;
    /** `herd:openstack`. @default none */
    readonly openstack?: unknown;
}

/** Where a stack's config comes from, and what Pulumi says of its secrets. */
export interface StackOptions extends Omit<ResolveOptions, "pushgateway" | "secrets"> {
    /** The stack's config as stored (`secure:` values and all; see `storedStackConfig`). @default unknown */
    readonly stored?: StackConfig;
    /** The config keys Pulumi says hold a secret (see `isPulumiSecretKey`). @default none */
    readonly secretKeys?: readonly string[];
}

/** A stack's herd config, validated and resolved. */
export interface ResolvedStack {
    /** Every fleet, with its component's arguments. */
    readonly fleets: ResolvedFleet[];
    /** `herd:monitoring`, when set. */
    readonly monitoring?: MonitoringSettings;
    /** `herd:kubernetes`, when set. */
    readonly kubernetes?: KubernetesSettings;
    /** `herd:openstack`, when set. */
    readonly openstack?: OpenStackSettings;
}

/**
 * Problems of the paths in `herd:kubernetes`: each must stay inside the project. They may not
 * exist yet (a kubeconfig a local cluster writes, a directory manifests are rendered to): what
 * exists of them must lead, after symlinks, inside the project, and be of the right kind.
 */
function kubernetesPathProblems(settings: KubernetesSettings, projectDir: string): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const check = (key: "kubeconfig" | "renderYamlToDirectory", relative: string, kind: "file" | "directory", what: string) => {
        let existing = relative;
        while (existing !== "." && !fs.existsSync(path.resolve(projectDir, existing))) {
            existing = path.dirname(existing);
        }
        const found = projectPath(projectDir, existing, existing === relative ? kind : "directory");
        if ("problem" in found) {
            problems.push({ path: ["herd:kubernetes", key], value: relative, allowed: `${what} relative to the project directory (${found.problem})` });
        }
    };
    if (settings.kubeconfig !== undefined) {
        check("kubeconfig", settings.kubeconfig, "file", "a kubeconfig file");
    }
    if (settings.renderYamlToDirectory !== undefined) {
        check("renderYamlToDirectory", settings.renderYamlToDirectory, "directory", "a directory");
    }
    return problems;
}

/**
 * Validates and resolves a stack's herd config, all of it at once: the secrets in it (each
 * replaced by its marker; see `markSecrets`), `herd:monitoring`, `herd:kubernetes` and
 * `herd:fleets` with the files they name. Throws one {@link ConfigError} listing every problem
 * of every key, before anything is registered.
 */
export function resolveStack(input: StackInput, options: StackOptions): ResolvedStack {
    const problems: ConfigProblem[] = [];
    const secrets = new Map<string, string>();
    const refused = new Set<string>();
    const marked = (key: string, value: unknown) => {
        const result = markSecrets(key, value, options.stored?.[key], options.secretKeys?.includes(key) ?? false, options.stack);
        problems.push(...result.problems);
        for (const [marker, plaintext] of result.secrets) {
            secrets.set(marker, plaintext);
        }
        if (result.refused) {
            refused.add(key);
        }
        return result.value;
    };
    const fleetsValue = marked(FLEETS_KEY, input.fleets);
    const monitoring = checkSettings(monitoringSettingsSchema, "herd:monitoring", marked("herd:monitoring", input.monitoring));
    const kubernetes = checkSettings(kubernetesSettingsSchema, "herd:kubernetes", marked("herd:kubernetes", input.kubernetes));
    problems.push(...monitoring.problems, ...kubernetes.problems);
    if (kubernetes.value) {
        problems.push(...kubernetesPathProblems(kubernetes.value, options.projectDir));
    }
    const fleets = refused.has(FLEETS_KEY) ? { resolved: [], problems: [] } : collectFleets(fleetsValue, {
        ...options,
        secrets,
        ...(monitoring.value?.pushgateway === undefined ? {} : { pushgateway: monitoring.value.pushgateway }),
    });
    // A pushgateway that is wrong is reported once, not again as missing for every probe.
    const pushgatewayWrong = monitoring.problems.some((p) => p.path[1] === "pushgateway") || (monitoring.value === undefined && monitoring.problems.length > 0);
    problems.push(...fleets.problems.filter((p) => !(pushgatewayWrong && p.path[0] === "herd:monitoring")));
    const openstack = checkSettings(openstackSettingsSchema, "herd:openstack", marked("herd:openstack", input.openstack));
    problems.push(...openstack.problems);
    // The declared hosts reach every OpenStack fleet, which checks them again when built in code.
    const computeHosts = openstack.value?.computeHosts;
    const resolvedFleets = fleets.resolved.map((fleet): ResolvedFleet => {
        if (fleet.backend !== "openstack" || computeHosts === undefined) {
            return fleet;
        }
        problems.push(...hostProblems(fleet.name, fleet.args, computeHosts));
        return { ...fleet, args: { ...fleet.args, computeHosts } };
    });
    if (problems.length > 0) {
        throw new ConfigError(options.stack, problems);
    }
    return {
        fleets: resolvedFleets,
        ...(monitoring.value ? { monitoring: monitoring.value } : {}),
        ...(kubernetes.value ? { kubernetes: kubernetes.value } : {}),
        ...(openstack.value ? { openstack: openstack.value } : {}),
    };
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
