import { z } from "zod";
import { HealthCheck, healthProblems } from "../core/health";
import { CPU_ALLOWED, MEDIUM_ALLOWED, MEMORY_ALLOWED, MOUNT_PATH_ALLOWED, objectNameAllowed, SIZE_ALLOWED } from "./kubernetesGrammar";
import { holdsSecret } from "../release/secrets";
import {
    BASE_URL_ALLOWED,
    containerFilePathProblem,
    IMAGE_REFERENCE_ALLOWED,
    imageReferenceProblem,
    isBaseUrl,
    isProcessText,
    parseIpv4Cidr,
    PROCESS_TEXT_ALLOWED,
    promqlProblem,
    RELEASE_DATA_MAX_BYTES,
    releaseDataAllowed,
    releaseDataBytes,
} from "./grammar";
import { parseDuration } from "../core/duration";

/**
 * The schema of `herd:fleets` in a stack file. Every object is strict, so a typo such as `szie`
 * is an error, and every field carries the text of what it allows, which the error formatter
 * prints next to the value it received.
 */

const expect = (allowed: string) => ({ error: () => allowed });

function strict<T extends z.ZodRawShape>(shape: T) {
    const keys = Object.keys(shape).join(", ");
    return z.strictObject(shape, {
        error: (issue) =>
            issue.code === "unrecognized_keys" ? `allowed keys: ${keys}` : `an object with keys ${keys}`,
    });
}

const wholeNumber = (min: number) =>
    z.int(expect(`a whole number ≥ ${min}`)).min(min, expect(`a whole number ≥ ${min}`));

const port = z.int(expect("a port, 1–65535")).min(1, expect("a port, 1–65535")).max(65535, expect("a port, 1–65535"));

const text = (what: string) => z.string(expect(what)).min(1, expect(what));

const names = (what: string) => z.array(text(what), expect(`a list of ${what}s`));

/**
 * The most members one fleet may have, per backend. A larger fleet is refused by the schema,
 * before anything is planned, so a typo of a few zeros fails in milliseconds:
 * - `openstack`: 5000, the largest fleet the benchmark (`bench/`) measures: every member is a
 *   few resources that `pulumi up` registers one by one, and 5,000 already take about a minute
 *   and 3 GB to evaluate;
 * - `kubernetes`: 10000. The members are replicas of one or two Deployments, which stay two
 *   resources; Kubernetes is tested up to 150,000 pods per cluster, and one fleet of 10,000 is
 *   already a large share of it;
 * - `docker`: 100. One Docker engine on one host runs them all, each with its own limits
 *   (256 MB by default: 100 members already want 25 GB).
 */
export const MAX_FLEET_SIZE = { openstack: 5000, kubernetes: 10000, docker: 100 } as const;

const fleetSize = (backend: keyof typeof MAX_FLEET_SIZE) =>
    wholeNumber(0).max(MAX_FLEET_SIZE[backend], expect(`at most ${MAX_FLEET_SIZE[backend]} members: the most one ${backend} fleet may have`));

/** What a project file path allows: relative, inside the project, no control character. */
function projectPath(what: string) {
    const allowed = `${what}: a path relative to the project directory, without '..'`;
    return z
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

/**
 * The name or ID of an OpenStack object (image, flavor, network, key pair, security group), as
 * the cloud looks it up: at most 255 characters, none of them a control character (a newline
 * would only fail, or match nothing, once the provider asks the cloud).
 */
const cloudName = (what: string) => {
    const allowed = `${what}: at most 255 characters, no control character`;
    return text(what).max(255, expect(allowed)).refine((value) => !/[\u0000-\u001f\u007f]/.test(value), expect(allowed));
};

/** What an OpenStack member runs. Any change to one of these replaces the member. */
export const serverReleaseSchema = strict({
    image: cloudName("an image ID (preferred) or name"),
    flavor: cloudName("a flavor name or ID"),
    network: cloudName("a network name or ID").optional(),
    networks: z.array(cloudName("a network name or ID"), expect("a list of network names or IDs")).min(1, expect("at least one network")).optional(),
    keyPair: cloudName("a key pair name").optional(),
    securityGroups: z.array(cloudName("a security group name"), expect("a list of security group names")).optional(),
    userData: projectPath("a #cloud-config file").optional(),
});

// At most 253 characters: on Kubernetes, an env name is a ConfigMap key.
const envName = /^[A-Za-z_][A-Za-z0-9_]{0,252}$/;

/** An image reference Docker and Kubernetes pull as it is written (see `imageReferenceProblem`). */
const imageReference = z.string(expect(IMAGE_REFERENCE_ALLOWED)).check((ctx) => {
    const problem = imageReferenceProblem(ctx.value);
    // A secret here is refused as one, with a message that says why (see misplacedSecrets).
    if (problem !== undefined && !holdsSecret(ctx.value)) {
        ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
    }
});

/** A container's command or arguments: what `execve` takes. */
const processArguments = z.array(text("argument").refine(isProcessText, expect(PROCESS_TEXT_ALLOWED)), expect("a list of arguments"));

/** What a container member runs. Any change to one of these replaces the member. */
export const containerReleaseSchema = strict({
    image: imageReference,
    port: port.optional(),
    command: processArguments.optional(),
    args: processArguments.optional(),
    env: z
        .record(
            z.string().regex(envName, expect("an environment variable name")),
            z.string(expect("a string value (quote numbers and booleans)")).refine(isProcessText, expect(PROCESS_TEXT_ALLOWED)),
            expect("a map of NAME: value"),
        )
        .optional(),
    files: z
        .record(
            z.string().refine((file) => containerFilePathProblem(file) === undefined, { error: (issue) => containerFilePathProblem(issue.input) ?? "an absolute file path" }),
            z.string(expect("the file's content")),
            expect("a map of /absolute/path: content"),
        )
        .optional(),
}).check((ctx) => {
    const bytes = releaseDataBytes(ctx.value);
    if (bytes > RELEASE_DATA_MAX_BYTES) {
        const key = ctx.value.files ? "files" : "env";
        ctx.issues.push({ code: "custom", input: ctx.value[key], path: [key], message: releaseDataAllowed(bytes) });
    }
});

const rolloutFields = {
    members: wholeNumber(0),
    waves: z
        .array(wholeNumber(1), expect("a list of whole numbers ≥ 1, ascending"))
        .refine((waves) => waves.every((w, i) => i === 0 || w > waves[i - 1]), expect("a list of whole numbers ≥ 1, strictly ascending"))
        .optional(),
};

const duration = (what: string) =>
    z.string(expect(`${what}: a duration such as 30s, 5m or 1h`)).refine((value) => !Number.isNaN(durationOf(value)), expect(`${what}: a duration such as 30s, 5m or 1h`));

/** A probe's schedule: a duration of 1 second to 24 hours, whatever backend runs it. */
const every = z.string(expect("how often it runs: a duration such as 30s, 5m or 1h")).check((ctx) => {
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
});

/** PromQL, parsed: `transform` puts the placeholders a query may hold into parseable form first. */
const promql = (what: string, transform: (expr: string) => string = (expr) => expr) =>
    z.string(expect(what)).check((ctx) => {
        const problem = promqlProblem(transform(ctx.value));
        if (problem !== undefined) {
            ctx.issues.push({ code: "custom", input: ctx.value, message: `${what}; this one has ${problem}` });
        }
    });

/** A Prometheus label value herd sets itself (a severity), kept to a plain word. */
const SEVERITY = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** A one-line annotation: no template braces (Prometheus would read them as a template). */
const summary = z
    .string(expect("a one-line summary"))
    .min(1, expect("a one-line summary"))
    .max(512, expect("a one-line summary of at most 512 characters"))
    .refine((value) => !/[\u0000-\u001f\u007f]|\{\{|\}\}/.test(value), expect("a one-line summary without control characters or {{ }}"));

const probeSchema = strict({
    script: projectPath("the probe script (shell or Python, with a shebang)"),
    every,
    metric: z
        .string(expect("a Prometheus metric name"))
        .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, expect("a Prometheus metric name"))
        .optional(),
    alert: strict({
        expr: promql("a PromQL expression").optional(),
        for: duration("how long it must hold").optional(),
        severity: z
            .string(expect("a severity label such as warning or critical"))
            .regex(SEVERITY, expect("a severity label such as warning or critical: a letter, then letters, digits, '-' or '_'"))
            .optional(),
        summary: summary.optional(),
    }).optional(),
});

/**
 * A health check: `{ path, port }` (HTTP), `{ port }` (TCP) or `{ command }` (run in the member).
 * Its grammar is the one callers from code get (`healthProblems`), word for word.
 */
const healthSchema = strict({
    path: z.unknown().optional(),
    port: z.unknown().optional(),
    command: z.unknown().optional(),
})
    .check((ctx) => {
        for (const problem of healthProblems(ctx.value)) {
            ctx.issues.push({ code: "custom", input: problem.value, path: [...problem.path], message: problem.allowed });
        }
    })
    .transform((health) => health as HealthCheck);

/** Probe names become file, unit and metric names. */
export const PROBE_NAME = /^[a-z][a-z0-9_]{0,39}$/;

const common = {
    size: wholeNumber(0),
    update: strict({
        batch: wholeNumber(1).optional(),
        order: z.enum(["create-before-delete", "delete-before-create"], expect("create-before-delete | delete-before-create")).optional(),
    }).optional(),
    spread: z.enum(["anti-affinity", "soft-anti-affinity"], expect("anti-affinity | soft-anti-affinity")).optional(),
    health: healthSchema.optional(),
    alerts: strict({ minHealthy: wholeNumber(0).optional() }).optional(),
    // Read by `herd robot` only: what it may do to this fleet on an alert (README, "The robot").
    robot: strict({
        heal: z.boolean(expect("true | false: whether the robot replaces a member that is down")).optional(),
        rollback: z
            .enum(["off", "commit", "branch"], expect("off | commit | branch: what the robot does when the canary alerts during a rollout"))
            .optional(),
    }).optional(),
    gate: strict({
        prometheus: z
            .string(expect("the base URL of a Prometheus server, e.g. http://prometheus:9090"))
            .refine(isBaseUrl, expect(`the base URL of a Prometheus server, e.g. http://prometheus:9090: ${BASE_URL_ALLOWED}`)),
        query: promql(
            "PromQL that returns a non-empty result while the canary is healthy ($generation, $fleet, $stack are substituted)",
            (query) => query.replace(/\$(generation|fleet|stack)\b/g, "x"),
        ),
        bake: duration("the minimum time a wave runs before the next").optional(),
    }).optional(),
    probes: z
        .record(
            z.string().regex(PROBE_NAME, expect("a probe name: lowercase letters, digits and '_', starting with a letter")),
            probeSchema,
            expect("a map of probe name → { script, every, metric, alert }"),
        )
        .optional(),
};

const ingressRule = strict({
    port,
    protocol: z.enum(["tcp", "udp"], expect("tcp | udp")).optional(),
    cidr: z.string(expect("an IPv4 CIDR such as 10.0.0.0/8")).check((ctx) => {
        const parsed = parseIpv4Cidr(ctx.value);
        if (typeof parsed === "string") {
            ctx.issues.push({ code: "custom", input: ctx.value, message: `an IPv4 CIDR such as 10.0.0.0/8; this one: ${parsed}` });
        }
    }),
});

/** An OpenStack fleet in the stack config (`backend: openstack`): what {@link resolveFleets} turns into {@link ServerGroupArgs}. */
export const openstackFleetSchema = strict({
    backend: z.literal("openstack"),
    ...common,
    size: fleetSize("openstack"),
    release: serverReleaseSchema,
    rollout: strict({ previous: serverReleaseSchema.optional(), ...rolloutFields }).optional(),
    loadBalancer: strict({
        port,
        protocol: z.enum(["HTTP", "HTTPS", "TCP"], expect("HTTP | HTTPS | TCP")).optional(),
        network: text("a network name or ID for the VIP").optional(),
    }).optional(),
    ingress: z.array(ingressRule, expect("a list of { port, protocol, cidr }")).optional(),
    volume: strict({
        size: wholeNumber(1),
        type: text("a Cinder volume type").optional(),
    }).optional(),
});

const labelKey = z
    .string(expect("a label key such as example.org/pool"))
    .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
        expect("a label key such as example.org/pool (name at most 63 characters)"),
    );
const labelValue = z
    .string(expect("a label value (quote numbers and booleans)"))
    .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, expect("a label value: at most 63 letters, digits, '-', '_' or '.'"));

const toleration = strict({
    key: labelKey.optional(),
    operator: z.enum(["Equal", "Exists"], expect("Equal | Exists")).optional(),
    value: labelValue.optional(),
    effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"], expect("NoSchedule | PreferNoSchedule | NoExecute")).optional(),
    tolerationSeconds: wholeNumber(0).optional(),
});

/** A resource quantity: YAML may give a number (`cpu: 1`), which Kubernetes takes as its text. */
const quantity = (allowed: string) => z.union([z.string(), z.number()], expect(allowed)).transform(String);

const resourceQuantities = strict({ cpu: quantity(CPU_ALLOWED).optional(), memory: quantity(MEMORY_ALLOWED).optional() });

/**
 * An extra volume of a Kubernetes fleet. Its values' grammar and the rules between them (one
 * source, a free mount path) are checked by the Kubernetes backend, for code and config alike.
 */
const kubernetesVolume = strict({
    mountPath: z.string(expect(MOUNT_PATH_ALLOWED)),
    readOnly: z.boolean(expect("true | false")).optional(),
    emptyDir: strict({ medium: z.string(expect(MEDIUM_ALLOWED)).optional(), sizeLimit: quantity(SIZE_ALLOWED).optional() }).optional(),
    secret: z.string(expect(objectNameAllowed("Secret"))).optional(),
    configMap: z.string(expect(objectNameAllowed("ConfigMap"))).optional(),
    persistentVolumeClaim: z.string(expect(objectNameAllowed("PersistentVolumeClaim"))).optional(),
});

/** A Kubernetes fleet in the stack config (`backend: kubernetes`): what {@link resolveFleets} turns into {@link KubernetesWorkloadArgs}. */
export const kubernetesFleetSchema = strict({
    backend: z.literal("kubernetes"),
    ...common,
    size: fleetSize("kubernetes"),
    namespace: z.string(expect("a Kubernetes namespace name")).regex(FLEET_NAME, expect("a Kubernetes namespace name")).optional(),
    nodeSelector: z.record(labelKey, labelValue, expect("a map of node label → value")).optional(),
    tolerations: z.array(toleration, expect("a list of { key, operator, value, effect, tolerationSeconds }")).optional(),
    serviceAccountName: z.string(expect(objectNameAllowed("ServiceAccount"))).optional(),
    automountServiceAccountToken: z.boolean(expect("true | false: whether the pods get the service account's API token")).optional(),
    imagePullSecrets: z.array(z.string(expect(objectNameAllowed("Secret"))), expect("a list of Secret names")).optional(),
    volumes: z.record(z.string(), kubernetesVolume, expect("a map of volume name → { mountPath, readOnly?, and one of emptyDir, secret, configMap, persistentVolumeClaim }")).optional(),
    podAnnotations: z.record(z.string(), z.string(expect("a string value (quote numbers and booleans)")), expect("a map of annotation key: value")).optional(),
    resources: strict({ requests: resourceQuantities.optional(), limits: resourceQuantities.optional() }).optional(),
    release: containerReleaseSchema,
    rollout: strict({ previous: containerReleaseSchema.optional(), ...rolloutFields }).optional(),
});

/** A Docker fleet in the stack config (`backend: docker`): what {@link resolveFleets} turns into {@link DockerWorkloadArgs}. */
export const dockerFleetSchema = strict({
    backend: z.literal("docker"),
    ...common,
    size: fleetSize("docker"),
    release: containerReleaseSchema,
    rollout: strict({ previous: containerReleaseSchema.optional(), ...rolloutFields }).optional(),
    hostPort: port.optional(),
});

/** The backends a fleet can run on, as `backend` names them. */
export const BACKENDS = ["openstack", "kubernetes", "docker"] as const;

/** One fleet of `herd:fleets`, told apart by its `backend`. */
export const fleetSchema = z.discriminatedUnion("backend", [openstackFleetSchema, kubernetesFleetSchema, dockerFleetSchema], {
    error: () => `a backend, one of ${BACKENDS.join(" | ")}`,
});

/** `herd:fleets`: a map from fleet name to fleet. */
export const fleetsSchema = z.record(
    z.string().regex(FLEET_NAME, expect("a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters")),
    fleetSchema,
    expect("a map of fleet name → fleet"),
);

/** A release of an OpenStack fleet as the stack config gives it (`userData` is a path to a file). */
export type ServerReleaseConfig = z.infer<typeof serverReleaseSchema>;
/** A release of a container fleet as the stack config gives it. */
export type ContainerReleaseConfig = z.infer<typeof containerReleaseSchema>;
/**
 * An OpenStack fleet as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type OpenStackFleetConfig = z.infer<typeof openstackFleetSchema>;
/**
 * A Kubernetes fleet as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type KubernetesFleetConfig = z.infer<typeof kubernetesFleetSchema>;
/**
 * A Docker fleet as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type DockerFleetConfig = z.infer<typeof dockerFleetSchema>;
/**
 * Any fleet as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type FleetConfig = z.infer<typeof fleetSchema>;
/** Where a fleet's members run: `openstack`, `kubernetes` or `docker`. */
export type Backend = FleetConfig["backend"];

/**
 * `herd:kubernetes`: how the program reaches the cluster. Without it, the ambient kubeconfig
 * (`KUBECONFIG`, current context) is used.
 */
export const kubernetesSettingsSchema = strict({
    kubeconfig: projectPath("a kubeconfig file").optional(),
    context: text("a kubeconfig context name").optional(),
    namespace: z.string(expect("a Kubernetes namespace name")).regex(FLEET_NAME, expect("a Kubernetes namespace name")).optional(),
    renderYamlToDirectory: projectPath("a directory to write manifests to instead of applying them to a cluster").optional(),
    createNamespaces: z.boolean(expect("true (herd creates the namespaces its fleets name) or false (they exist already)")).optional(),
});

/**
 * `herd:kubernetes` as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type KubernetesSettings = z.infer<typeof kubernetesSettingsSchema>;

/**
 * `herd:openstack`: what the stack declares of its OpenStack cloud. `computeHosts` is the number
 * of compute hosts the project's servers can be placed on: with it, a fleet with hard
 * anti-affinity that cannot fit (one host per member, plus one per member of a batch with
 * create-before-delete) is refused before any server is created. `quota` and `flavors` declare
 * the project's quota and flavor sizes for the preflight (see components/openstack/preflight.ts).
 */
export const openstackSettingsSchema = strict({
    computeHosts: wholeNumber(1).optional(),
    // The project's quota, for the preflight of `herd plan` and `herd apply` when the cloud is
    // not reachable (where it is, Nova's own limits are used).
    quota: strict({
        instances: wholeNumber(0).optional(),
        cores: wholeNumber(0).optional(),
        ramMB: wholeNumber(0).optional(),
    }).optional(),
    // Flavor sizes by name, for vCPUs and RAM in the preflight when the cloud is not reachable.
    flavors: z
        .record(text("a flavor name"), strict({ vcpus: wholeNumber(1), ramMB: wholeNumber(1) }), expect("a map of flavor name: { vcpus, ramMB }"))
        .optional(),
});

/**
 * `herd:openstack` as the stack config gives it, validated.
 *
 * @group Stack config
 */
export type OpenStackSettings = z.infer<typeof openstackSettingsSchema>;

/** `herd:monitoring`: where probes of Kubernetes and Docker fleets push their counts. */
export const monitoringSettingsSchema = strict({
    pushgateway: z
        .string(expect("the base URL of a Prometheus Pushgateway, e.g. http://pushgateway.monitoring:9091"))
        .refine(isBaseUrl, expect(`the base URL of a Prometheus Pushgateway, e.g. http://pushgateway.monitoring:9091: ${BASE_URL_ALLOWED}`))
        .optional(),
    // An image with a POSIX shell and wget (busybox), pinned by digest where possible.
    probeImage: imageReference.optional(),
});

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
export const protectedSchema = z.boolean(
    expect("true (a new release reaches at most the first wave at once; releases start with herd release) or false"),
);

/**
 * Release keys that `herd:rollouts` pins for a fleet built in code, in the components' own form
 * (`networks` a list, `userData` the cloud-config text): laid over the release the program builds.
 */
export const releaseKeysSchema = strict({
    image: text("an image: an ID or name on OpenStack, a reference pinned by digest for containers").optional(),
    flavor: text("a flavor name or ID").optional(),
    networks: names("network name or ID").min(1, expect("at least one network")).optional(),
    keyPair: text("a key pair name").optional(),
    securityGroups: names("security group name").optional(),
    userData: z.string(expect("a #cloud-config document (its text)")).optional(),
    port: containerReleaseSchema.shape.port,
    command: containerReleaseSchema.shape.command,
    args: containerReleaseSchema.shape.args,
    env: containerReleaseSchema.shape.env,
    files: containerReleaseSchema.shape.files,
});

/**
 * One fleet of `herd:rollouts`: the release keys the stack pins for a fleet built in code, and
 * its rollout while one is under way (`previous` keys over the program's release; `{}` is the
 * program's release as it is).
 */
export const codeFleetStateSchema = strict({
    release: releaseKeysSchema.optional(),
    rollout: strict({ previous: releaseKeysSchema.optional(), ...rolloutFields }).optional(),
});

/** `herd:rollouts`: fleet name → the release and rollout the stack pins for a fleet built in code. */
export const rolloutsSchema = z.record(
    z.string().regex(FLEET_NAME, expect("a fleet name: lowercase letters, digits and '-', starting with a letter, at most 30 characters")),
    codeFleetStateSchema,
    expect("a map of fleet name → { release, rollout }"),
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
