/**
 * What every backend's class in herd's component package shares: the package's enums, releases,
 * update policy, health check, probes and alerts, and how a class maps them onto the TypeScript
 * SDK's arguments. The component package (`provider/`) exports each backend's class from its
 * folder (`components/<backend>/componentPackage.ts`), for programs in Pulumi YAML, Python, Go or .NET.
 *
 * The Node.js SDK's component provider host derives the package schema from these TypeScript
 * types. It expresses plain interfaces, arrays, string maps and enums, but not unions
 * (`MetricsEndpoint | false`), generic interfaces (`Rollout<R>`), inline object types or readonly
 * arrays, and a component's type token must be `herd:index:<ClassName>`; so a class takes args in
 * that vocabulary, maps them onto the SDK's and builds the fleet with `buildFleet` as its only
 * child: a fleet built from Python has the same members, names, generations and cattle rules as
 * one built in TypeScript. The enums are TypeScript `enum`s: the host reads their values from the
 * installed package's declarations, which keep an enum's values and drop an `as const` object's.
 */
import * as pulumi from "@pulumi/pulumi";
import type { HealthCheck as HerdHealthCheck } from "../core/health";
import type { ProbeSpec } from "../monitoring/probe";
import { ruleFile } from "../monitoring/rules";
import type { ContainerRelease as HerdContainerRelease, MetricsEndpoint as HerdMetricsEndpoint } from "../release/container";
import { secretMarker } from "../release/secrets";
import type { Fleet } from "./backends";

/** How strictly members are spread: over hypervisors (OpenStack) or nodes (Kubernetes). */
export enum Spread {
    /** Never two members on one host while another host has fewer; members stay pending (Kubernetes) or fail to schedule (Nova) otherwise. */
    AntiAffinity = "anti-affinity",
    /** Spread when possible, schedule anyway. */
    SoftAntiAffinity = "soft-anti-affinity",
}

/** The order in which a member is replaced. */
export enum UpdateOrder {
    /** The new member is created before the old one is deleted: capacity never drops. */
    CreateBeforeDelete = "create-before-delete",
    /** The old member is deleted first, for quota-tight projects: capacity drops by a batch. */
    DeleteBeforeCreate = "delete-before-create",
}

/** What a container member runs, on Kubernetes or Docker. Any change to it replaces the member. */
export interface ContainerRelease {
    /** Image reference; pin it by digest (`registry/app@sha256:…`). */
    image: string;
    /** Replaces the image's entrypoint. Defaults to the image's. */
    command?: string[];
    /** Replaces the image's arguments. Defaults to the image's. */
    args?: string[];
    /** Environment variables, `NAME: value`. A value may be a secret (or an Output): it reaches the members as a secret and nothing else shows it. Defaults to none. */
    env?: Record<string, pulumi.Input<string>>;
    /** Config files, `/absolute/path: content`, mounted read-only. A content may be a secret (or an Output), as in `env`. Defaults to none. */
    files?: Record<string, pulumi.Input<string>>;
    /** The TCP port the member serves on. Defaults to none: the member serves nothing. */
    port?: number;
}

/** A rollout of a container fleet under way. */
export interface ContainerRollout {
    /** The release the slots from `members` on still run. Required while `members` is below the size. */
    previous?: ContainerRelease;
    /** How many members already run `release`. */
    members: number;
}

/** How replacements proceed within one `pulumi up`. */
export interface UpdatePolicy {
    /** Members replaced at a time; batch k+1 waits for batch k. Defaults to a quarter of the size, at least 1. */
    batch?: number;
    /** Defaults to `create-before-delete`. */
    order?: UpdateOrder;
}

/**
 * A health check every member must pass to receive traffic: `path` and `port` for HTTP, `port`
 * alone for TCP, or `command` alone, run in the member (Kubernetes and Docker; refused on
 * OpenStack, whose load balancer checks from outside).
 */
export interface HealthCheck {
    /** HTTP path, e.g. `/healthz`; without it, `port` is checked over TCP. */
    path?: string;
    /** Port the member serves (and is checked) on. */
    port?: number;
    /** A command run in the member, healthy when it exits 0, e.g. `["redis-cli", "ping"]`; without a port or path. */
    command?: string[];
}

/** The alert on a probe's metric. */
export interface ProbeAlert {
    /** PromQL. Defaults to the metric above 0 on the fleet. */
    expr?: string;
    /** How long the expression must hold. Defaults to `5m`. */
    for?: string;
    /** Defaults to `warning`. */
    severity?: string;
    /** Defaults to "Probe <name> counts failures on fleet <fleet>". */
    summary?: string;
}

/** A small script that counts one failure mode on every member, with an alert of its own. */
export interface Probe {
    /** Probe name: lowercase letters, digits and `_`. */
    name: string;
    /** The script's text: a shebang line, then code that prints one number. */
    script: string;
    /** How often it runs, e.g. `30s`, `5m`, `1h`. */
    every: string;
    /** Metric name. Defaults to `herd_probe_<name>`. */
    metric?: string;
    /** The alert. Defaults to the metric above 0 for 5 minutes, severity warning. */
    alert?: ProbeAlert;
}

/** The default alerts of a fleet: fewer than `minHealthy` members up, a member down for 5 minutes. */
export interface FleetAlerts {
    /** Alert when fewer members than this are up. Defaults to the size minus one update batch. */
    minHealthy?: number;
    /** How long a member may be down before it alerts, as Prometheus reads a duration (`5m`, `90s`). Defaults to `5m`. */
    memberDownFor?: string;
}

/** Where Prometheus scrapes each member. */
export interface MetricsEndpoint {
    /** `false` for no scraping at all. Defaults to `true`. */
    scrape?: boolean;
    /** Defaults to the release's port. */
    port?: number;
    /** Defaults to `/metrics`. */
    path?: string;
}

export function metricsOf(metrics: MetricsEndpoint | undefined): HerdMetricsEndpoint | false | undefined {
    if (metrics === undefined) {
        return undefined;
    }
    if (metrics.scrape === false) {
        return false;
    }
    return { ...(metrics.port === undefined ? {} : { port: metrics.port }), ...(metrics.path === undefined ? {} : { path: metrics.path }) };
}

/** Drops the keys whose value is `undefined`, which the engine sends for unset inputs. */
export function defined<T extends object>(value: T): T {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The TypeScript SDK's health check for a {@link HealthCheck}: its kind is told by the keys it
 * has, which the workloads check (a command beside a port, say, is refused).
 */
export function healthOf(health: HealthCheck | undefined): HerdHealthCheck | undefined {
    return health && (defined({ ...health }) as HerdHealthCheck);
}

/**
 * A container fleet's releases as the TypeScript SDK takes them, and the secrets they hold. An
 * env value or file content given as an Output — a secret (`pulumi.Output.secret`,
 * `config.require_secret`, YAML's `fn::secret`), or a value known only at deploy time — is handled
 * as a secret: the release holds a marker in its place (`[secret 1a2b3c4d]`, a hash of the env
 * name or file path, never of the value), and the Output goes in {@link SecretReleases.secrets},
 * so that it reaches the members as a Pulumi secret (a Kubernetes `Secret`, a Docker container's
 * env or file) while names, labels, generations and outputs see only the marker.
 *
 * A secret given so belongs to the fleet, not to a release: a new value is not a new release,
 * every member gets the value `release` gives (or, for a place only `rollout.previous` has, the
 * one it gives), and changing it replaces the members that hold it all at once — Kubernetes rolls
 * their pods, Docker replaces their containers delete-before-create.
 */
export interface SecretReleases {
    /** `release`, each Output replaced by its marker. */
    readonly release: HerdContainerRelease;
    /** `rollout.previous`, each Output replaced by its marker; absent when there is none. */
    readonly previous?: HerdContainerRelease;
    /** The Outputs, by marker, in the order met. */
    readonly secrets: ReadonlyMap<string, pulumi.Input<string>>;
}

const isOutput = (value: unknown): boolean => pulumi.Output.isInstance(value) || pulumi.isUnknown(value);

/** The marker of the secret in an env variable or a file: the same for `release` and `rollout.previous`, so it names no release. */
function placeMarker(kind: "env" | "files", key: string): string {
    return secretMarker({ secure: `${kind}\u0000${key}` });
}

/** See {@link SecretReleases}. */
export function secretsOf(release: ContainerRelease, previous: ContainerRelease | undefined): SecretReleases {
    const secrets = new Map<string, pulumi.Input<string>>();
    const mark = (given: ContainerRelease): HerdContainerRelease => {
        const marked = (kind: "env" | "files") =>
            given[kind] &&
            Object.fromEntries(
                Object.entries(given[kind]).map(([key, value]) => {
                    if (!isOutput(value)) {
                        return [key, value as string];
                    }
                    const marker = placeMarker(kind, key);
                    if (!secrets.has(marker)) {
                        secrets.set(marker, value);
                    }
                    return [key, marker];
                }),
            );
        return defined({ ...given, env: marked("env"), files: marked("files") });
    };
    const plainRelease = mark(release);
    return { release: plainRelease, ...(previous ? { previous: mark(previous) } : {}), secrets };
}

/** Where an Output may be in a component's args, and those places in words. */
export interface OutputPlaces {
    /** The key paths (`release.userData`, `release.env.TOKEN`) that may hold an Output. */
    readonly paths: RegExp;
    /** The places, in words, for the message. */
    readonly allowed: string;
}

/** A container release's env values and file contents: they reach the members as secrets. */
export const CONTAINER_OUTPUTS: OutputPlaces = {
    paths: /^(release|rollout\.previous)\.(env\.[^.]+|files\[.*\])$/,
    allowed: "only env values and file contents of a release may be Outputs",
};

/**
 * One line per Output in a component's args outside the places one may be (`places`): herd
 * names members after their release and plans from their settings, so it needs the rest as
 * plain values when the component is built.
 */
export function outputProblems(args: object, places: OutputPlaces): string[] {
    const problems: string[] = [];
    const walk = (value: unknown, path: string) => {
        if (isOutput(value)) {
            if (!places.paths.test(path)) {
                problems.push(
                    `${path} is an Output (a secret, or a value known only at deploy time): expected a plain value, which herd hashes into generations and names; ${places.allowed}`,
                );
            }
        } else if (Array.isArray(value)) {
            value.forEach((item, i) => walk(item, `${path}[${i}]`));
        } else if (value !== null && typeof value === "object") {
            for (const [key, item] of Object.entries(value)) {
                walk(item, key.startsWith("/") ? `${path}[${JSON.stringify(key)}]` : path === "" ? key : `${path}.${key}`);
            }
        }
    };
    walk(args, "");
    return problems;
}

/** The SDK's probes for the package's. */
export function probeSpecs(probes: Probe[] | undefined): ProbeSpec[] | undefined {
    return probes?.map((probe): ProbeSpec => defined({ ...probe, alert: probe.alert && defined({ ...probe.alert }) }));
}

/** How a fleet is watched, as `buildFleet` takes it: its alerts and, for a container fleet, its probes and where they push. */
export function watchedArgs(args: { alerts?: FleetAlerts; probes?: Probe[]; pushgateway?: string; probeImage?: string; monitoringLabels?: Record<string, string> }) {
    return defined({
        alerts: args.alerts && defined({ ...args.alerts }),
        probes: probeSpecs(args.probes),
        pushgateway: args.pushgateway,
        probeImage: args.probeImage,
        monitoringLabels: args.monitoringLabels,
    });
}

/** The releases, rollout and secrets of a container fleet's SDK args. */
export function containerReleaseArgs(args: { release: ContainerRelease; rollout?: ContainerRollout }) {
    const { release, previous, secrets } = secretsOf(args.release, args.rollout?.previous);
    return {
        release,
        rollout: args.rollout && defined({ members: args.rollout.members, previous }),
        secrets: secrets.size > 0 ? secrets : undefined,
    };
}

/** A fleet's alerts as a Prometheus rule file (see `buildFleet`). */
export function alertRulesOf(fleet: Fleet): pulumi.Output<string> {
    return pulumi.output(ruleFile([fleet.ruleGroup]));
}
