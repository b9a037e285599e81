import * as pulumi from "@pulumi/pulumi";
import type { ContainerReleaseConfig } from "../config/schema";
import { formatValue } from "../config/errors";
import {
    containerFilePathProblem,
    imageReferenceProblem,
    isProcessText,
    PROCESS_TEXT_ALLOWED,
    RELEASE_DATA_MAX_BYTES,
    releaseDataAllowed,
    releaseDataBytes,
} from "../config/grammar";
import { deployTimePlaceholder, generationOf, isDeployTimeValue } from "./generation";

/**
 * What a container member runs, on any container backend (Kubernetes, Docker). Two members with
 * the same release are identical, and have the same generation on every backend.
 *
 * Env values and file contents also take a value wired from another resource or a secret
 * (`db.endpoint`, `pulumi.secret(token)`, `config.requireSecret("token")`). herd cannot see such a
 * value when it plans, so the generation holds a placeholder naming its place
 * (`env.DB_URL: an input known at deploy time`) and stays the same on every run and for every
 * value; the backend replaces the members when the value changes instead: Kubernetes puts every
 * wired value in the role's `Secret` and a checksum of them on the pod template, so the
 * Deployment rolls; Docker recreates the containers (`replaceOnChanges` on `envs` and `uploads`),
 * delete-before-create since their names stay. Such a change therefore replaces every member
 * holding the value in one `pulumi up`, not wave by wave. A secret stays secret wherever it lands.
 *
 * What is checked when: env names and file paths always before anything is registered, as are
 * plain values (no NUL in env values, at most 1 MiB of env and files);
 * a wired value once it resolves, when the deployment fails with a message naming the fleet and
 * the key (never the value) if it is not text, an env value holds a NUL, or the release's env and
 * files together grow past the limit.
 *
 * @group Releases and rollouts
 */
export interface ContainerRelease {
    /** Image reference. Pin it by digest (`registry/app@sha256:…`) so the same release always runs the same bytes. */
    readonly image: string;
    /** Replaces the image's entrypoint (Kubernetes `command`, Docker `entrypoint`). @default the image's entrypoint */
    readonly command?: readonly string[];
    /** Replaces the image's default arguments (Kubernetes `args`, Docker `cmd`). @default the image's arguments */
    readonly args?: readonly string[];
    /** Environment variables, `NAME: value`; a value may be wired from another resource or a secret. @default none */
    readonly env?: Readonly<Record<string, pulumi.Input<string>>>;
    /** Config files, `/absolute/path: content`, mounted read-only; a content may be wired from another resource or a secret. @default none */
    readonly files?: Readonly<Record<string, pulumi.Input<string>>>;
    /** The port the member serves on (TCP). @default none: the member serves nothing */
    readonly port?: number;
}

/**
 * Where a member exposes Prometheus metrics.
 *
 * @group Releases and rollouts
 */
export interface MetricsEndpoint {
    /** @default the release's `port` */
    readonly port?: number;
    /** @default "/metrics" */
    readonly path?: string;
}

/**
 * Label keys herd puts on every member, so `kubectl get pods -L` / `docker ps --filter` show who runs what.
 *
 * @group Releases and rollouts
 */
export const HERD_LABELS = {
    fleet: "herd.dev/fleet",
    generation: "herd.dev/generation",
    role: "herd.dev/role",
    slot: "herd.dev/slot",
} as const;

/** The default metrics path, as Prometheus client libraries serve it. */
export const DEFAULT_METRICS_PATH = "/metrics";

// At most 253 characters: on Kubernetes, an env name is a ConfigMap key.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,252}$/;

/**
 * Why an env value or file content that is neither text nor an Output is refused. The value
 * itself is not shown: it may be a secret.
 */
const NOT_TEXT = "is not a string: expected text, or an Output of text (a value wired from another resource, a secret)";

/** `true` for a port number Kubernetes and Docker accept: a whole number from 1 to 65535. */
export function isPort(value: unknown): value is number {
    return Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
}

function sortedRecord<V>(record: Readonly<Record<string, V>> | undefined): Record<string, V> | undefined {
    const keys = Object.keys(record ?? {}).sort();
    return keys.length === 0 ? undefined : Object.fromEntries(keys.map((key) => [key, (record as Record<string, V>)[key]]));
}

/** How messages and placeholders name an env variable of a release: `env.TOKEN`. */
export function envPlace(name: string): string {
    return `env.${name}`;
}

/** How messages and placeholders name a file of a release: `files["/etc/app/key.pem"]`. */
export function filePlace(path: string): string {
    return `files[${JSON.stringify(path)}]`;
}

/** Whether a release holds an env value or file content known only at deploy time (wired from another resource, a secret). */
export function holdsDeployTimeValue(release: ContainerRelease): boolean {
    return [...Object.values(release.env ?? {}), ...Object.values(release.files ?? {})].some(isDeployTimeValue);
}

/**
 * A release as herd sees it when it plans: each env value or file content known only at deploy
 * time replaced by a placeholder naming its place ({@link deployTimePlaceholder}). A release of
 * plain strings comes back as it is.
 */
export function releaseAtPlan(release: ContainerRelease): ContainerRelease {
    if (!holdsDeployTimeValue(release)) {
        return release;
    }
    const atPlan = (record: Readonly<Record<string, pulumi.Input<string>>>, place: (key: string) => string) =>
        Object.fromEntries(Object.entries(record).map(([key, value]) => [key, isDeployTimeValue(value) ? deployTimePlaceholder(place(key)) : value]));
    return {
        ...release,
        ...(release.env ? { env: atPlan(release.env, envPlace) } : {}),
        ...(release.files ? { files: atPlan(release.files, filePlace) } : {}),
    };
}

/**
 * The canonical form of a release: maps sorted by key, and empty lists and maps dropped (an empty
 * `env` runs the same container as no `env`, so it must not give another generation). Every
 * backend builds its inputs from this form, so the same release gives byte-identical inputs.
 */
export function canonicalContainerRelease(release: ContainerRelease): ContainerRelease {
    const env = sortedRecord(release.env);
    const files = sortedRecord(release.files);
    return {
        image: release.image,
        ...(release.command && release.command.length > 0 ? { command: [...release.command] } : {}),
        ...(release.args && release.args.length > 0 ? { args: [...release.args] } : {}),
        ...(env ? { env } : {}),
        ...(files ? { files } : {}),
        ...(release.port === undefined ? {} : { port: release.port }),
    };
}

/**
 * The generation of a container release: the same on Kubernetes and Docker for the same release.
 * A value known only at deploy time counts by its place, not its value (see {@link releaseAtPlan}).
 */
export function containerGeneration(release: ContainerRelease): string {
    return generationOf(releaseAtPlan(canonicalContainerRelease(release)));
}

/**
 * Checks a release given in code (the stack config is checked by its schema already). Returns one
 * line per problem, naming the key (prefixed with `key`), the value and what is allowed.
 */
export function containerReleaseProblems(release: ContainerRelease, key: string): string[] {
    const problems: string[] = [];
    const image = imageReferenceProblem(release.image);
    if (image !== undefined) {
        problems.push(`${key}.image = ${formatValue(release.image)}: expected ${image}`);
    }
    for (const part of ["command", "args"] as const) {
        (release[part] ?? []).forEach((argument, i) => {
            if (!isProcessText(argument)) {
                problems.push(`${key}.${part}[${i}] = ${formatValue(argument)}: expected ${PROCESS_TEXT_ALLOWED}`);
            }
        });
    }
    if (release.port !== undefined && !isPort(release.port)) {
        problems.push(`${key}.port = ${JSON.stringify(release.port)}: expected a port, 1–65535`);
    }
    // A value known only at deploy time is checked once it resolves (see deployTimeChecks).
    for (const name of Object.keys(release.env ?? {}).sort()) {
        const value = release.env?.[name];
        if (!ENV_NAME.test(name)) {
            problems.push(`${key}.env has ${JSON.stringify(name)}: expected an environment variable name (letters, digits, _; not starting with a digit)`);
        } else if (typeof value !== "string" && !isDeployTimeValue(value)) {
            problems.push(`${key}.env.${name} ${NOT_TEXT}`);
        } else if (typeof value === "string" && !isProcessText(value)) {
            problems.push(`${key}.env.${name} = ${formatValue(value)}: expected ${PROCESS_TEXT_ALLOWED}`);
        }
    }
    for (const path of Object.keys(release.files ?? {}).sort()) {
        const problem = containerFilePathProblem(path);
        if (problem !== undefined) {
            problems.push(`${key}.files has ${JSON.stringify(path)}: expected ${problem}`);
        } else if (typeof release.files?.[path] !== "string" && !isDeployTimeValue(release.files?.[path])) {
            problems.push(`${key}.files[${JSON.stringify(path)}] ${NOT_TEXT}`);
        }
    }
    // A value known only at deploy time counts once it resolves; the message shows plain values only.
    const plain = releaseAtPlan(release);
    const bytes = releaseDataBytes(release);
    if (bytes > RELEASE_DATA_MAX_BYTES) {
        problems.push(`${key}.${plain.files ? "files" : "env"} = ${formatValue(plain.files ?? plain.env)}: expected ${releaseDataAllowed(bytes)}`);
    }
    return problems;
}

/**
 * The checks of {@link containerReleaseProblems} that need a value, for the values known only at
 * deploy time: returns a function that maps each such value of the releases to an Output that
 * resolves to it once checked, and fails the deployment otherwise, with a message naming the
 * fleet and the key, never the value: not text, a NUL in an env value, or a release whose env and
 * files together grow past 1 MiB (what one ConfigMap or Secret holds). Other values come back as they are.
 * A release's values are checked together, so when one of them is a secret, the Outputs given
 * for all of them are.
 *
 * @param releases each release with how messages name it (`release`, `rollout.previous`)
 */
export function deployTimeChecks(
    fleet: string,
    releases: readonly (readonly [string, ContainerRelease | undefined])[],
): (value: pulumi.Input<string>) => pulumi.Input<string> {
    const checked = new Map<unknown, pulumi.Output<string>>();
    for (const [label, release] of releases) {
        if (!release) {
            continue;
        }
        const wired = [
            ...Object.entries(release.env ?? {}).map(([name, value]) => ({ place: envPlace(name), env: true, value })),
            ...Object.entries(release.files ?? {}).map(([path, value]) => ({ place: filePlace(path), env: false, value })),
        ].filter(({ value }) => isDeployTimeValue(value));
        if (wired.length === 0) {
            continue;
        }
        const plainBytes = releaseDataBytes(release);
        const values = pulumi.all(wired.map(({ value }) => value)).apply((resolved: unknown[]) => {
            const problems: string[] = [];
            resolved.forEach((value, i) => {
                const where = `${label}.${wired[i].place}`;
                if (typeof value !== "string") {
                    problems.push(`${where} ${NOT_TEXT}`);
                } else if (wired[i].env && !isProcessText(value)) {
                    problems.push(`${where}: expected ${PROCESS_TEXT_ALLOWED}`);
                }
            });
            const bytes = resolved.reduce((sum: number, value) => sum + (typeof value === "string" ? Buffer.byteLength(value) : 0), plainBytes);
            if (bytes > RELEASE_DATA_MAX_BYTES) {
                problems.push(`${label}.env and ${label}.files: expected ${releaseDataAllowed(bytes)}`);
            }
            if (problems.length > 0) {
                throw new Error(
                    `fleet "${fleet}": values wired from other resources, checked once they resolved (the values are not shown):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
                );
            }
            return resolved as string[];
        });
        wired.forEach(({ value }, i) => {
            if (!checked.has(value)) {
                checked.set(value, values.apply((all) => all[i]));
            }
        });
    }
    return (value) => checked.get(value) ?? value;
}

/** The size of a fleet, the whole of it in rollout, and its update batch, as plain data to check. */
export interface FleetShape<R> {
    /** Number of slots. */
    readonly size: number;
    /** A rollout under way. @default none */
    readonly rollout?: {
        /** The release the other slots still run. */
        readonly previous?: R;
        /** How many slots run the new release. */
        readonly members: number;
    };
    /** Members replaced at a time. @default a quarter of the size, at least 1 */
    readonly batch?: number;
    /** The most members the backend takes (see `MAX_FLEET_SIZE`). @default no limit */
    readonly maxSize?: number;
}

/**
 * Checks the numbers of a fleet given in code: size, rollout members (at most the size; a
 * `previous` release while some slots still run it) and batch size. One line per problem.
 */
export function fleetShapeProblems<R>(shape: FleetShape<R>): string[] {
    const problems: string[] = [];
    const whole = (value: unknown, min: number) => Number.isSafeInteger(value) && (value as number) >= min;
    if (!whole(shape.size, 0)) {
        problems.push(`size = ${JSON.stringify(shape.size)}: expected a whole number ≥ 0`);
    } else if (shape.maxSize !== undefined && shape.size > shape.maxSize) {
        problems.push(`size = ${shape.size}: expected at most ${shape.maxSize} members`);
    }
    if (shape.rollout) {
        const { members, previous } = shape.rollout;
        if (!whole(members, 0) || (whole(shape.size, 0) && members > shape.size)) {
            problems.push(`rollout.members = ${JSON.stringify(members)}: expected a whole number from 0 to size (${shape.size})`);
        } else if (members < shape.size && previous === undefined) {
            problems.push(
                `rollout.previous is missing: required while rollout.members (${members}) < size (${shape.size}), the release the other slots still run`,
            );
        }
    }
    if (shape.batch !== undefined && !whole(shape.batch, 1)) {
        problems.push(`update.batch = ${JSON.stringify(shape.batch)}: expected a whole number ≥ 1`);
    }
    return problems;
}

/** Maps a release from the stack config (`herd:fleets.<name>.release`) to a {@link ContainerRelease}. */
export function containerReleaseFromConfig(config: ContainerReleaseConfig): ContainerRelease {
    return {
        image: config.image,
        ...(config.command === undefined ? {} : { command: config.command }),
        ...(config.args === undefined ? {} : { args: config.args }),
        ...(config.env === undefined ? {} : { env: config.env }),
        ...(config.files === undefined ? {} : { files: config.files }),
        ...(config.port === undefined ? {} : { port: config.port }),
    };
}
