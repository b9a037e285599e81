import type { z } from "zod";
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

export function strict<T extends z.ZodRawShape>(shape: T) {
    const keys = Object.keys(shape).join(", ");
    return zod.strictObject(shape, {
        error: (issue) =>
            issue.code === "unrecognized_keys" ? `allowed keys: ${keys}` : `an object with keys ${keys}`,
    });
}

export const wholeNumber = (min: number) =>
    zod.int(expect(`a whole number ≥ ${min}`)).min(min, expect(`a whole number ≥ ${min}`));

export const port = lazy(() =>
    zod.int(expect("a port, 1–65535")).min(1, expect("a port, 1–65535")).max(65535, expect("a port, 1–65535")),
);

export const text = (what: string) => zod.string(expect(what)).min(1, expect(what));

export const names = (what: string) => zod.array(text(what), expect(`a list of ${what}s`));

/** What a project file path allows: relative, inside the project, no control character. */
export function projectFilePath(what: string) {
    const allowed = `${what}: a path relative to the project directory, without '..'`;
    return zod
        .string(expect(allowed))
        .min(1, expect(allowed))
        .max(1024, expect(`${allowed}, at most 1024 characters`))
        .refine(
            (value) => !value.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(value) && !value.split(/[\\/]/).includes("..") && !/[\u0000-\u001f\u007f]/.test(value),
            expect(allowed),
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
    zod.array(text("argument").refine(isProcessText, expect(PROCESS_TEXT_ALLOWED)), expect("a list of arguments")),
);

/** What a container member runs. Any change to one of these replaces the member. */
export const containerReleaseSchema = lazy(() =>
    strict({
        image: imageReference,
        port: port.optional(),
        command: processArguments.optional(),
        args: processArguments.optional(),
        env: zod
            .record(
                zod.string().regex(envName, expect("an environment variable name")),
                zod.string(expect("a string value (quote numbers and booleans)")).refine(isProcessText, expect(PROCESS_TEXT_ALLOWED)),
                expect("a map of NAME: value"),
            )
            .optional(),
        files: zod
            .record(
                zod.string().refine((file) => containerFilePathProblem(file) === undefined, { error: (issue) => containerFilePathProblem(issue.input) ?? "an absolute file path" }),
                zod.string(expect("the file's content")),
                expect("a map of /absolute/path: content"),
            )
            .optional(),
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
    waves: zod
        .array(wholeNumber(1), expect("a list of whole numbers ≥ 1, ascending"))
        .refine((waves) => waves.every((w, i) => i === 0 || w > waves[i - 1]), expect("a list of whole numbers ≥ 1, strictly ascending"))
        .optional(),
}));

const duration = (what: string) =>
    zod.string(expect(`${what}: a duration such as 30s, 5m or 1h`)).refine((value) => !Number.isNaN(durationOf(value)), expect(`${what}: a duration such as 30s, 5m or 1h`));

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
        .min(1, expect("a one-line summary"))
        .max(512, expect("a one-line summary of at most 512 characters"))
        .refine((value) => !/[\u0000-\u001f\u007f]|\{\{|\}\}/.test(value), expect("a one-line summary without control characters or {{ }}")),
);

const probeSchema = lazy(() =>
    strict({
        script: projectFilePath("the probe script (shell or Python, with a shebang)"),
        every,
        metric: zod
            .string(expect("a Prometheus metric name"))
            .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, expect("a Prometheus metric name"))
            .optional(),
        alert: strict({
            expr: promql("a PromQL expression").optional(),
            for: duration("how long it must hold").optional(),
            severity: zod
                .string(expect("a severity label such as warning or critical"))
                .regex(SEVERITY, expect("a severity label such as warning or critical: a letter, then letters, digits, '-' or '_'"))
                .optional(),
            summary: summary.optional(),
        }).optional(),
    }),
);

/**
 * A health check: `{ path, port }` (HTTP), `{ port }` (TCP) or `{ command }` (run in the member).
 * Its grammar is the one callers from code get (`healthProblems`), word for word.
 */
const healthSchema = lazy(() =>
    strict({
        path: zod.unknown().optional(),
        port: zod.unknown().optional(),
        command: zod.unknown().optional(),
    })
        .check((ctx) => {
            for (const problem of healthProblems(ctx.value)) {
                ctx.issues.push({ code: "custom", input: problem.value, path: [...problem.path], message: problem.allowed });
            }
        })
        .transform((health) => health as HealthCheck),
);

/** Probe names become file, unit and metric names. */
export const PROBE_NAME = /^[a-z][a-z0-9_]{0,39}$/;

/** The keys every fleet has, whatever its backend (`size` bounded per backend by {@link fleetSchemaOf}). */
const common = lazy(() => ({
    size: wholeNumber(0),
    update: strict({
        batch: wholeNumber(1).optional(),
        order: zod.enum(["create-before-delete", "delete-before-create"], expect("create-before-delete | delete-before-create")).optional(),
    }).optional(),
    spread: zod.enum(["anti-affinity", "soft-anti-affinity"], expect("anti-affinity | soft-anti-affinity")).optional(),
    health: healthSchema.optional(),
    alerts: strict({ minHealthy: wholeNumber(0).optional() }).optional(),
    // Read by `herd robot` only: what it may do to this fleet on an alert (README, "The robot").
    robot: strict({
        heal: zod.boolean(expect("true | false: whether the robot replaces a member that is down")).optional(),
        rollback: zod
            .enum(["off", "commit", "branch"], expect("off | commit | branch: what the robot does when the canary alerts during a rollout"))
            .optional(),
    }).optional(),
    gate: strict({
        prometheus: zod
            .string(expect("the base URL of a Prometheus server, e.g. http://prometheus:9090"))
            .refine(isBaseUrl, expect(`the base URL of a Prometheus server, e.g. http://prometheus:9090: ${BASE_URL_ALLOWED}`)),
        query: promql(
            "PromQL that returns a non-empty result while the canary is healthy ($generation, $fleet, $stack are substituted)",
            (query) => query.replace(/\$(generation|fleet|stack)\b/g, "x"),
        ),
        bake: duration("the minimum time a wave runs before the next").optional(),
    }).optional(),
    probes: zod
        .record(
            zod.string().regex(PROBE_NAME, expect("a probe name: lowercase letters, digits and '_', starting with a letter")),
            probeSchema,
            expect("a map of probe name → { script, every, metric, alert }"),
        )
        .optional(),
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
export function fleetSchemaOf<B extends string, S extends z.ZodRawShape>(backend: B, maxSize: number, shape: S) {
    return strict({
        backend: zod.literal(backend),
        ...common,
        // In common's place (second), which is where the "allowed keys" of a typo list it.
        size: wholeNumber(0).max(maxSize, expect(`at most ${maxSize} members: the most one ${backend} fleet may have`)),
        ...shape,
    });
}

/** A fleet's `rollout` key, for a backend whose releases `release` validates. */
export function rolloutSchemaOf<R extends z.ZodType>(release: R) {
    return strict({ previous: release.optional(), ...rolloutFields });
}

/** A release of a container fleet as the stack config gives it. */
export type ContainerReleaseConfig = z.infer<typeof containerReleaseSchema>;
/** `herd:monitoring`: where probes of Kubernetes and Docker fleets push their counts. */
export const monitoringSettingsSchema = lazy(() =>
    strict({
        pushgateway: zod
            .string(expect("the base URL of a Prometheus Pushgateway, e.g. http://pushgateway.monitoring:9091"))
            .refine(isBaseUrl, expect(`the base URL of a Prometheus Pushgateway, e.g. http://pushgateway.monitoring:9091: ${BASE_URL_ALLOWED}`))
            .optional(),
        // An image with a POSIX shell and wget (busybox), pinned by digest where possible.
        probeImage: imageReference.optional(),
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
        image: text("an image: an ID or name on OpenStack, a reference pinned by digest for containers").optional(),
        flavor: text("a flavor name or ID").optional(),
        networks: names("network name or ID").min(1, expect("at least one network")).optional(),
        keyPair: text("a key pair name").optional(),
        securityGroups: names("security group name").optional(),
        userData: zod.string(expect("a #cloud-config document (its text)")).optional(),
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
        release: releaseKeysSchema.optional(),
        rollout: strict({ previous: releaseKeysSchema.optional(), ...rolloutFields }).optional(),
    }),
);

/** `herd:rollouts`: fleet name → the release and rollout the stack pins for a fleet built in code. */
export const rolloutsSchema = lazy(() =>
    zod.record(
        zod.string().regex(FLEET_NAME, expect("a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters")),
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
