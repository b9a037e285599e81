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
import { generationOf } from "./generation";

/**
 * What a container member runs, on any container backend (Kubernetes, Docker). Two members with
 * the same release are identical, and have the same generation on every backend.
 */
export interface ContainerRelease {
    /** Image reference. Pin it by digest (`registry/app@sha256:…`) so the same release always runs the same bytes. */
    readonly image: string;
    /** Replaces the image's entrypoint (Kubernetes `command`, Docker `entrypoint`). @default the image's entrypoint */
    readonly command?: readonly string[];
    /** Replaces the image's default arguments (Kubernetes `args`, Docker `cmd`). @default the image's arguments */
    readonly args?: readonly string[];
    /** Environment variables, `NAME: value`. @default none */
    readonly env?: Readonly<Record<string, string>>;
    /** Config files, `/absolute/path: content`, mounted read-only. @default none */
    readonly files?: Readonly<Record<string, string>>;
    /** The port the member serves on (TCP). @default none: the member serves nothing */
    readonly port?: number;
}

/** Where a member exposes Prometheus metrics. */
export interface MetricsEndpoint {
    /** @default the release's `port` */
    readonly port?: number;
    /** @default "/metrics" */
    readonly path?: string;
}

/** Label keys herd puts on every member, so `kubectl get pods -L` / `docker ps --filter` show who runs what. */
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
 * Why an env value or file content that is not a string is refused. The value itself is not
 * shown: it may be a secret, or an Output whose text is a warning.
 */
const NOT_TEXT =
    "is not a string: expected text; a secret or an Output goes in as a marker ([secret 1a2b3c4d]), with its value in the component's `secrets`";

/** `true` for a port number Kubernetes and Docker accept: a whole number from 1 to 65535. */
export function isPort(value: unknown): value is number {
    return Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
}

function sortedRecord(record: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
    const keys = Object.keys(record ?? {}).sort();
    return keys.length === 0 ? undefined : Object.fromEntries(keys.map((key) => [key, (record as Record<string, string>)[key]]));
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

/** The generation of a container release: the same on Kubernetes and Docker for the same release. */
export function containerGeneration(release: ContainerRelease): string {
    return generationOf(canonicalContainerRelease(release));
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
    for (const name of Object.keys(release.env ?? {}).sort()) {
        if (!ENV_NAME.test(name)) {
            problems.push(`${key}.env has ${JSON.stringify(name)}: expected an environment variable name (letters, digits, _; not starting with a digit)`);
        } else if (typeof release.env?.[name] !== "string") {
            problems.push(`${key}.env.${name} ${NOT_TEXT}`);
        } else if (!isProcessText(release.env[name])) {
            problems.push(`${key}.env.${name} = ${formatValue(release.env[name])}: expected ${PROCESS_TEXT_ALLOWED}`);
        }
    }
    for (const path of Object.keys(release.files ?? {}).sort()) {
        const problem = containerFilePathProblem(path);
        if (problem !== undefined) {
            problems.push(`${key}.files has ${JSON.stringify(path)}: expected ${problem}`);
        } else if (typeof release.files?.[path] !== "string") {
            problems.push(`${key}.files[${JSON.stringify(path)}] ${NOT_TEXT}`);
        }
    }
    const bytes = releaseDataBytes(release);
    if (bytes > RELEASE_DATA_MAX_BYTES) {
        problems.push(`${key}.${release.files ? "files" : "env"} = ${formatValue(release.files ?? release.env)}: expected ${releaseDataAllowed(bytes)}`);
    }
    return problems;
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
