import type { z } from "zod/mini";
import { lazy } from "./lazy";
import { HealthCheck, healthProblems } from "../core/health";
import { holdsSecret } from "../release/secrets";
import {
    BASE_URL_ALLOWED,
    containerFilePathProblem,
    IMAGE_REFERENCE_ALLOWED,
    imageReferenceProblem,
    isBaseUrl,
    isProcessText,
    PROCESS_TEXT_ALLOWED,
    promqlProblem,
    RELEASE_DATA_MAX_BYTES,
    releaseDataAllowed,
    releaseDataBytes,
} from "./grammar";
import { parseDuration } from "../core/duration";

/**
 * The parts of zod the schemas use (`vendor/zod.ts`), loaded with the first schema built (see
 * {@link lazy}): importing herd does not load them.
 */
export const zod = lazy(() => require("../vendor/zod") as typeof import("../vendor/zod"));

/**
 * The schema of `herd:fleets` in a stack file. Every object is strict, so a typo such as `szie`
 * is an error, and every field carries the text of what it allows, which the error formatter
 * prints next to the value it received.
 */

export const expect = (allowed: string) => ({ error: () => allowed });

export function strict<T extends z.core.$ZodLooseShape>(shape: T) {
    const keys = Object.keys(shape).join(", ");
    return zod.strictObject(shape, {
        error: (issue) =>
            issue.code === "unrecognized_keys" ? `allowed keys: ${keys}` : `an object with keys ${keys}`,
    });
}

export const wholeNumber = (min: number) =>
    zod.int(expect(`a whole number ≥ ${min}`)).check(zod.gte(min, expect(`a whole number ≥ ${min}`)));

export const port = lazy(() =>
    zod.int(expect("a port, 1–65535")).check(zod.gte(1, expect("a port, 1–65535")), zod.lte(65535, expect("a port, 1–65535"))),
);

export const text = (what: string) => zod.string(expect(what)).check(zod.minLength(1, expect(what)));

export const names = (what: string) => zod.array(text(what), expect(`a list of ${what}s`));

/** What a project file path allows: relative, inside the project, no control character. */
export function projectFilePath(what: string) {
    const allowed = `${what}: a path relative to the project directory, without '..'`;
    return zod.string(expect(allowed)).check(
        zod.minLength(1, expect(allowed)),
        zod.maxLength(1024, expect(`${allowed}, at most 1024 characters`)),
        zod.refine(
            (value: string) => !value.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(value) && !value.split(/[\\/]/).includes("..") && !/[\u0000-\u001f\u007f]/.test(value),
            expect(allowed),
        ),
    );
}

/** Longest probe schedule: a probe runs at least once a day. */
const MAX_EVERY_SECONDS = 24 * 3600;

/** Seconds of a duration such as `30s`, `5m` or `1h`; `NaN` for anything else. */
export function durationOf(value: string): number {
    return parseDuration(value, ["s", "m", "h"], 9)?.seconds ?? NaN;
}

/** Names that end up in cloud-side names, DNS labels and Kubernetes labels. */
export const FLEET_NAME = /^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$/;

// At most 253 characters: on Kubernetes, an env name is a ConfigMap key.
const envName = /^[A-Za-z_][A-Za-z0-9_]{0,252}$/;

/** An image reference Docker and Kubernetes pull as it is written (see `imageReferenceProblem`). */
export const imageReference = lazy(() =>
    zod.string(expect(IMAGE_REFERENCE_ALLOWED)).check((ctx) => {
        const problem = imageReferenceProblem(ctx.value);
        // A secret here is refused as one, with a message that says why (see misplacedSecrets).
        if (problem !== undefined && !holdsSecret(ctx.value)) {
            ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
        }
    }),
);

/** A container's command or arguments: what `execve` takes. */
const processArguments = lazy(() =>
    zod.array(text("argument").check(zod.refine(isProcessText, expect(PROCESS_TEXT_ALLOWED))), expect("a list of arguments")),
);

/** What a container member runs. Any change to one of these replaces the member. */
export const containerReleaseSchema = lazy(() =>
    strict({
        image: imageReference,
        port: zod.optional(port),
        command: zod.optional(processArguments),
        args: zod.optional(processArguments),
        env: zod.optional(
            zod.record(
                zod.string().check(zod.regex(envName, expect("an environment variable name"))),
                zod.string(expect("a string value (quote numbers and booleans)")).check(zod.refine(isProcessText, expect(PROCESS_TEXT_ALLOWED))),
                expect("a map of NAME: value"),
            ),
        ),
        files: zod.optional(
            zod.record(
                zod
                    .string()
                    .check(
                        zod.refine((file: string) => containerFilePathProblem(file) === undefined, {
                            error: (issue) => containerFilePathProblem(issue.input) ?? "an absolute file path",
                        }),
                    ),
                zod.string(expect("the file's content")),
                expect("a map of /absolute/path: content"),
            ),
        ),
    }).check((ctx) => {
        const bytes = releaseDataBytes(ctx.value);
        if (bytes > RELEASE_DATA_MAX_BYTES) {
            const key = ctx.value.files ? "files" : "env";
            ctx.issues.push({ code: "custom", input: ctx.value[key], path: [key], message: releaseDataAllowed(bytes) });
        }
    }),
);

export const rolloutFields = lazy(() => ({
    members: wholeNumber(0),
    waves: zod.optional(
        zod
            .array(wholeNumber(1), expect("a list of whole numbers ≥ 1, ascending"))
            .check(zod.refine((waves: number[]) => waves.every((w, i) => i === 0 || w > waves[i - 1]), expect("a list of whole numbers ≥ 1, strictly ascending"))),
    ),
}));

const duration = (what: string) =>
    zod
        .string(expect(`${what}: a duration such as 30s, 5m or 1h`))
        .check(zod.refine((value: string) => !Number.isNaN(durationOf(value)), expect(`${what}: a duration such as 30s, 5m or 1h`)));

/** A probe's schedule: a duration of 1 second to 24 hours, whatever backend runs it. */
const every = lazy(() =>
    zod.string(expect("how often it runs: a duration such as 30s, 5m or 1h")).check((ctx) => {
        const seconds = durationOf(ctx.value);
        if (Number.isNaN(seconds) || seconds < 1 || seconds > MAX_EVERY_SECONDS) {
            ctx.issues.push({
                code: "custom",
                input: ctx.value,
                message: Number.isNaN(seconds)
                    ? "how often it runs: a duration such as 30s, 5m or 1h"
                    : "how often it runs: a duration from 1s to 24h, such as 30s, 5m or 1h",
            });
        }
    }),
);

/** PromQL, parsed: `transform` puts the placeholders a query may hold into parseable form first. */
const promql = (what: string, transform: (expr: string) => string = (expr) => expr) =>
    zod.string(expect(what)).check((ctx) => {
        const problem = promqlProblem(transform(ctx.value));
        if (problem !== undefined) {
            ctx.issues.push({ code: "custom", input: ctx.value, message: `${what}; this one has ${problem}` });
        }
    });

/** A Prometheus label value herd sets itself (a severity), kept to a plain word. */
const SEVERITY = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** A one-line annotation: no template braces (Prometheus would read them as a template). */
const summary = lazy(() =>
    zod
        .string(expect("a one-line summary"))
        .check(
            zod.minLength(1, expect("a one-line summary")),
            zod.maxLength(512, expect("a one-line summary of at most 512 characters")),
            zod.refine((value: string) => !/[\u0000-\u001f\u007f]|\{\{|\}\}/.test(value), expect("a one-line summary without control characters or {{ }}")),
        ),
);

const probeSchema = lazy(() =>
    strict({
        script: projectFilePath("the probe script (shell or Python, with a shebang)"),
        every,
        metric: zod.optional(zod.string(expect("a Prometheus metric name")).check(zod.regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, expect("a Prometheus metric name")))),
        alert: zod.optional(
            strict({
                expr: zod.optional(promql("a PromQL expression")),
                for: zod.optional(duration("how long it must hold")),
                severity: zod.optional(
                    zod
                        .string(expect("a severity label such as warning or critical"))
                        .check(zod.regex(SEVERITY, expect("a severity label such as warning or critical: a letter, then letters, digits, '-' or '_'"))),
                ),
                summary: zod.optional(summary),
            }),
        ),
    }),
);

/**
 * A health check: `{ path, port }` (HTTP), `{ port }` (TCP) or `{ command }` (run in the member).
 * Its grammar is the one callers from code get (`healthProblems`), word for word.
 */
const healthSchema = lazy(() =>
    zod.pipe(
        strict({
            path: zod.optional(zod.unknown()),
            port: zod.optional(zod.unknown()),
            command: zod.optional(zod.unknown()),
        }).check((ctx) => {
            for (const problem of healthProblems(ctx.value)) {
                ctx.issues.push({ code: "custom", input: problem.value, path: [...problem.path], message: problem.allowed });
            }
        }),
        zod.transform((health: object) => health as HealthCheck),
    ),
);

/** Probe names become file, unit and metric names. */
export const PROBE_NAME = /^[a-z][a-z0-9_]{0,39}$/;

/** The keys every fleet has, whatever its backend (`size` bounded per backend by {@link fleetSchemaOf}). */
const common = lazy(() => ({
    size: wholeNumber(0),
    update: zod.optional(
        strict({
            batch: zod.optional(wholeNumber(1)),
            order: zod.optional(zod.enum(["create-before-delete", "delete-before-create"], expect("create-before-delete | delete-before-create"))),
        }),
    ),
    spread: zod.optional(zod.enum(["anti-affinity", "soft-anti-affinity"], expect("anti-affinity | soft-anti-affinity"))),
    health: zod.optional(healthSchema),
    alerts: zod.optional(strict({ minHealthy: zod.optional(wholeNumber(0)) })),
    // Read by `herd robot` only: what it may do to this fleet on an alert (README, "The robot").
    robot: zod.optional(
        strict({
            heal: zod.optional(zod.boolean(expect("true | false: whether the robot replaces a member that is down"))),
            rollback: zod.optional(
                zod.enum(["off", "commit", "branch"], expect("off | commit | branch: what the robot does when the canary alerts during a rollout")),
            ),
        }),
    ),
    gate: zod.optional(
        strict({
            prometheus: zod
                .string(expect("the base URL of a Prometheus server, e.g. http://prometheus:9090"))
                .check(zod.refine(isBaseUrl, expect(`the base URL of a Prometheus server, e.g. http://prometheus:9090: ${BASE_URL_ALLOWED}`))),
            query: promql(
                "PromQL that returns a non-empty result while the canary is healthy ($generation, $fleet, $stack are substituted)",
                (query) => query.replace(/\$(generation|fleet|stack)\b/g, "x"),
            ),
            bake: zod.optional(duration("the minimum time a wave runs before the next")),
        }),
    ),
    probes: zod.optional(
        zod.record(
            zod.string().check(zod.regex(PROBE_NAME, expect("a probe name: lowercase letters, digits and '_', starting with a letter"))),
            probeSchema,
            expect("a map of probe name → { script, every, metric, alert }"),
        ),
    ),
}));

/**
 * The schema of one backend's fleets under `herd:fleets`: `backend` (its name), the keys every
 * fleet has, `size` up to the most members one fleet of the backend may have, and the backend's
 * own keys (its `release` and `rollout` among them), in that order, which is the order of the
 * "allowed keys" a typo is told. Each backend's `schema.ts` calls it; the fleet registry puts
 * them together.
 *
 * @param maxSize the most members one fleet may have: a larger one is refused before anything is
 *   planned, so a typo of a few zeros fails in milliseconds
 */
export function fleetSchemaOf<B extends string, S extends z.core.$ZodLooseShape>(backend: B, maxSize: number, shape: S) {
    return strict({
        backend: zod.literal(backend),
        ...common,
        // In common's place (second), which is where the "allowed keys" of a typo list it.
        size: wholeNumber(0).check(zod.lte(maxSize, expect(`at most ${maxSize} members: the most one ${backend} fleet may have`))),
        ...shape,
    });
}

/** A fleet's `rollout` key, for a backend whose releases `release` validates. */
export function rolloutSchemaOf<R extends z.ZodMiniType>(release: R) {
    return strict({ previous: zod.optional(release), ...rolloutFields });
}

/** A release of a container fleet as the stack config gives it. */
export type ContainerReleaseConfig = z.infer<typeof containerReleaseSchema>;
/** `herd:monitoring`: where probes of Kubernetes and Docker fleets push their counts. */
export const monitoringSettingsSchema = lazy(() =>
    strict({
        pushgateway: zod.optional(
            zod
                .string(expect("the base URL of a Prometheus Pushgateway, e.g. http://pushgateway.monitoring:9091"))
                .check(zod.refine(isBaseUrl, expect(`the base URL of a Prometheus Pushgateway, e.g. http://pushgateway.monitoring:9091: ${BASE_URL_ALLOWED}`))),
        ),
        // An image with a POSIX shell and wget (busybox), pinned by digest where possible.
        probeImage: zod.optional(imageReference),
    }),
);

/**
 * The validated value of `herd:monitoring`.
 *
 * @group Stack config
 */
export type MonitoringSettings = z.infer<typeof monitoringSettingsSchema>;

/**
 * `herd:protected`: `true` makes a stack take a new release a wave at a time. There, a change
 * that moves more than the first wave to a new release is refused by `herd plan` and by the
 * policy pack; releases start with `herd release`. @default false
 */
export const protectedSchema = lazy(() =>
    zod.boolean(
        expect("true (a new release reaches at most the first wave at once; releases start with herd release) or false"),
    ),
);

/**
 * Release keys that `herd:rollouts` pins for a fleet built in code, in the components' own form
 * (`networks` a list, `userData` the cloud-config text): laid over the release the program builds.
 */
export const releaseKeysSchema = lazy(() =>
    strict({
        image: zod.optional(text("an image: an ID or name on OpenStack, a reference pinned by digest for containers")),
        flavor: zod.optional(text("a flavor name or ID")),
        networks: zod.optional(names("network name or ID").check(zod.minLength(1, expect("at least one network")))),
        keyPair: zod.optional(text("a key pair name")),
        securityGroups: zod.optional(names("security group name")),
        userData: zod.optional(zod.string(expect("a #cloud-config document (its text)"))),
        port: containerReleaseSchema.shape.port,
        command: containerReleaseSchema.shape.command,
        args: containerReleaseSchema.shape.args,
        env: containerReleaseSchema.shape.env,
        files: containerReleaseSchema.shape.files,
    }),
);

/**
 * One fleet of `herd:rollouts`: the release keys the stack pins for a fleet built in code, and
 * its rollout while one is under way (`previous` keys over the program's release; `{}` is the
 * program's release as it is).
 */
export const codeFleetStateSchema = lazy(() =>
    strict({
        release: zod.optional(releaseKeysSchema),
        rollout: zod.optional(strict({ previous: zod.optional(releaseKeysSchema), ...rolloutFields })),
    }),
);

/** `herd:rollouts`: fleet name → the release and rollout the stack pins for a fleet built in code. */
export const rolloutsSchema = lazy(() =>
    zod.record(
        zod.string().check(zod.regex(FLEET_NAME, expect("a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters"))),
        codeFleetStateSchema,
        expect("a map of fleet name → { release, rollout }"),
    ),
);

/**
 * Release keys of a fleet built in code, as `herd:rollouts` pins them, validated.
 *
 * @group Stack config
 */
export type ReleaseKeys = z.infer<typeof releaseKeysSchema>;
/**
 * The release and rollout `herd:rollouts` pins for one fleet built in code, validated.
 *
 * @group Stack config
 */
export type CodeFleetState = z.infer<typeof codeFleetStateSchema>;
