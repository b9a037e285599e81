import { ConfigProblem } from "../config/errors";
import { containerFilePathProblem } from "../config/grammar";
import {
    ANNOTATION_KEY_ALLOWED,
    CPU_ALLOWED,
    isAnnotationKey,
    isDnsLabel,
    isDnsSubdomain,
    MEDIUM_ALLOWED,
    MEMORY_ALLOWED,
    MOUNT_PATH_ALLOWED,
    objectNameAllowed,
    quantityValue,
    SIZE_ALLOWED,
    VOLUME_NAME_ALLOWED,
} from "./grammar";
import { holdsSecret } from "../release/secrets";

/**
 * The pod settings of a Kubernetes fleet beyond its release: service account, image pull
 * secrets, extra volumes, pod annotations and the container's requests and limits. Checked here,
 * once, for the stack config and for callers from code alike (key paths relative to the args),
 * and turned into pod spec fields by pure functions.
 */

/**
 * CPU and memory of one container, in Kubernetes quantities (`100m`, `128Mi`).
 *
 * @group Components
 */
export interface ResourceQuantities {
    /** CPU, e.g. `100m` (a tenth of a core) or `2`. @default 100m requested, 500m limit */
    readonly cpu?: string;
    /** Memory, e.g. `128Mi` or `1Gi`. @default 128Mi requested, 256Mi limit */
    readonly memory?: string;
}

/**
 * Requests (what the scheduler reserves) and limits (the ceiling) of the fleet's container.
 *
 * @group Components
 */
export interface ContainerResources {
    /** @default { cpu: "100m", memory: "128Mi" } */
    readonly requests?: ResourceQuantities;
    /** @default { cpu: "500m", memory: "256Mi" } */
    readonly limits?: ResourceQuantities;
}

/**
 * A scratch directory that lives as long as the pod (`emptyDir`).
 *
 * @group Components
 */
export interface EmptyDirSource {
    /** `Memory` for a tmpfs (counted against the container's memory limit). @default the node's disk */
    readonly medium?: "Memory";
    /** The most it may hold, a quantity such as `1Gi`; the pod is evicted beyond it. @default no limit */
    readonly sizeLimit?: string;
}

/**
 * A volume mounted into every pod of the fleet, from exactly one source: an existing Secret,
 * ConfigMap or PersistentVolumeClaim (by name, in the fleet's namespace), or an `emptyDir`.
 * herd creates none of them: they outlive the pods, which are cattle.
 *
 * @group Components
 */
export interface KubernetesVolume {
    /** Where the volume appears in the container: an absolute, normalized path. */
    readonly mountPath: string;
    /** Mount it read-only. @default true for `secret` and `configMap`, false for `emptyDir` and `persistentVolumeClaim` */
    readonly readOnly?: boolean;
    /** An `emptyDir`: scratch space that lives as long as the pod. */
    readonly emptyDir?: EmptyDirSource;
    /** The name of a Secret; each key becomes a file. */
    readonly secret?: string;
    /** The name of a ConfigMap; each key becomes a file. */
    readonly configMap?: string;
    /**
     * The name of a PersistentVolumeClaim. Every pod of the fleet mounts the same claim, so it
     * needs an access mode that allows that (`ReadWriteMany`, or `ReadOnlyMany` read-only).
     */
    readonly persistentVolumeClaim?: string;
}

/**
 * The pod settings of a Kubernetes fleet, as its args give them.
 *
 * @group Components
 */
export interface PodSettings {
    /** The ServiceAccount the pods run as. @default the namespace's `default` */
    readonly serviceAccountName?: string;
    /** Mount the service account's API token into the pods, for members that call the API server. @default false */
    readonly automountServiceAccountToken?: boolean;
    /** Secrets (type `kubernetes.io/dockerconfigjson`) holding the registry credentials to pull the image with. @default none */
    readonly imagePullSecrets?: readonly string[];
    /** Extra volumes by name (a DNS label), each with its mount. @default none */
    readonly volumes?: Readonly<Record<string, KubernetesVolume>>;
    /** Annotations of every pod, beside herd's Prometheus ones. @default none */
    readonly podAnnotations?: Readonly<Record<string, string>>;
    /** CPU and memory requests and limits of the container. @default requests 100m / 128Mi, limits 500m / 256Mi */
    readonly resources?: ContainerResources;
}

/**
 * A volume with its defaults applied.
 *
 * @group Components
 */
export interface ResolvedVolume extends KubernetesVolume {
    /** The volume's name. */
    readonly name: string;
    /** Whether it is mounted read-only. */
    readonly readOnly: boolean;
}

/**
 * {@link PodSettings} with defaults applied, maps sorted by key.
 *
 * @group Components
 */
export interface ResolvedPodSettings {
    /** The ServiceAccount, when one is given. */
    readonly serviceAccountName?: string;
    /** Whether the API token is mounted. */
    readonly automountServiceAccountToken: boolean;
    /** Names of the image pull Secrets, in the order given. */
    readonly imagePullSecrets: readonly string[];
    /** Extra volumes, sorted by name. */
    readonly volumes: readonly ResolvedVolume[];
    /** The user's pod annotations, sorted by key. */
    readonly annotations: Readonly<Record<string, string>>;
    /** CPU and memory of the container, defaults applied. */
    readonly resources: {
        /** What the scheduler reserves per pod. */
        readonly requests: Required<ResourceQuantities>;
        /** The most a pod may use. */
        readonly limits: Required<ResourceQuantities>;
    };
}

/** Requests of a fleet's container that gives none: what the scheduler reserves per pod. */
export const DEFAULT_REQUESTS = { cpu: "100m", memory: "128Mi" } as const;
/** Limits of a fleet's container that gives none: the most a pod may use. */
export const DEFAULT_LIMITS = { cpu: "500m", memory: "256Mi" } as const;

/** Volume names herd's own volumes take (the writable `/tmp`, the release's files). */
export const RESERVED_VOLUME_NAMES = ["tmp", "files", "secret-files"] as const;

/** Pod annotations herd sets from `metrics`, for Prometheus's discovery. */
export const PROMETHEUS_ANNOTATIONS = ["prometheus.io/path", "prometheus.io/port", "prometheus.io/scrape"] as const;

/** The most bytes of annotations (keys and values) a Kubernetes object takes. */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** Why a quantity of `kind` is not one Kubernetes takes for a container, or `undefined`. */
function quantityProblem(kind: "cpu" | "memory" | "size", value: unknown): string | undefined {
    const allowed = kind === "cpu" ? CPU_ALLOWED : kind === "memory" ? MEMORY_ALLOWED : SIZE_ALLOWED;
    const parsed = quantityValue(value);
    if (parsed === undefined) {
        return allowed;
    }
    // A fraction of a byte is a typo for a unit ("128m" for "128Mi"), never a size.
    if (kind !== "cpu" && /[num]$/.test(value as string)) {
        return allowed;
    }
    return undefined;
}

type Problem = ConfigProblem;
const at = (path: (string | number)[], value: unknown, allowed: string): Problem => ({ path, value, allowed });

function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

const SOURCES = ["emptyDir", "secret", "configMap", "persistentVolumeClaim"] as const;

function volumeProblems(name: string, volume: unknown, taken: Map<string, string>, filePaths: ReadonlySet<string>): Problem[] {
    const where = ["volumes", name];
    if (!isDnsLabel(name) || (RESERVED_VOLUME_NAMES as readonly string[]).includes(name)) {
        return [at(where, name, VOLUME_NAME_ALLOWED)];
    }
    if (!isRecord(volume)) {
        return [at(where, volume, `a volume: { mountPath, readOnly?, and one of ${SOURCES.join(", ")} }`)];
    }
    const problems: Problem[] = [];
    const mountPath = volume.mountPath;
    const pathProblem = containerFilePathProblem(mountPath);
    if (mountPath === undefined) {
        problems.push(at([...where, "mountPath"], undefined, MOUNT_PATH_ALLOWED));
    } else if (pathProblem !== undefined) {
        problems.push(at([...where, "mountPath"], mountPath, pathProblem));
    } else if (mountPath === "/tmp" || filePaths.has(mountPath as string)) {
        problems.push(
            at([...where, "mountPath"], mountPath, `a path herd mounts nothing at: ${mountPath === "/tmp" ? "/tmp is the pod's writable scratch directory" : "a file of the release is mounted there"}`),
        );
    } else if (taken.has(mountPath as string)) {
        problems.push(at([...where, "mountPath"], mountPath, `a path no other volume is mounted at (volumes.${taken.get(mountPath as string)} is)`));
    } else {
        taken.set(mountPath as string, name);
    }
    if (volume.readOnly !== undefined && typeof volume.readOnly !== "boolean") {
        problems.push(at([...where, "readOnly"], volume.readOnly, "true | false"));
    }
    const given = SOURCES.filter((source) => volume[source] !== undefined);
    if (given.length !== 1) {
        problems.push(
            at(
                given.length === 0 ? where : [...where, given[1]],
                given.length === 0 ? volume : volume[given[1]],
                `exactly one source: ${SOURCES.join(", ")}${given.length > 1 ? ` (this volume has ${given.join(" and ")})` : ""}`,
            ),
        );
    }
    for (const [source, kind] of [
        ["secret", "Secret"],
        ["configMap", "ConfigMap"],
        ["persistentVolumeClaim", "PersistentVolumeClaim"],
    ] as const) {
        if (volume[source] !== undefined && !isDnsSubdomain(volume[source])) {
            problems.push(at([...where, source], volume[source], objectNameAllowed(kind)));
        }
    }
    const emptyDir = volume.emptyDir;
    if (emptyDir !== undefined) {
        if (!isRecord(emptyDir)) {
            problems.push(at([...where, "emptyDir"], emptyDir, "{ medium?, sizeLimit? }, or {} for a directory on the node's disk"));
        } else {
            if (emptyDir.medium !== undefined && emptyDir.medium !== "Memory") {
                problems.push(at([...where, "emptyDir", "medium"], emptyDir.medium, MEDIUM_ALLOWED));
            }
            const size = emptyDir.sizeLimit === undefined ? undefined : quantityProblem("size", emptyDir.sizeLimit);
            if (size !== undefined) {
                problems.push(at([...where, "emptyDir", "sizeLimit"], emptyDir.sizeLimit, size));
            }
        }
    }
    return problems;
}

function resourceProblems(resources: unknown): Problem[] {
    if (resources === undefined) {
        return [];
    }
    if (!isRecord(resources)) {
        return [at(["resources"], resources, "{ requests?: { cpu?, memory? }, limits?: { cpu?, memory? } }")];
    }
    const problems: Problem[] = [];
    const values: Record<string, Record<string, number | undefined>> = {};
    for (const kind of ["requests", "limits"] as const) {
        const given = resources[kind];
        const defaults: Record<string, string> = kind === "requests" ? DEFAULT_REQUESTS : DEFAULT_LIMITS;
        values[kind] = {};
        if (given !== undefined && !isRecord(given)) {
            problems.push(at(["resources", kind], given, "{ cpu?, memory? }"));
            continue;
        }
        for (const resource of ["cpu", "memory"] as const) {
            const value = given?.[resource];
            const problem = value === undefined ? undefined : quantityProblem(resource, value);
            if (problem !== undefined) {
                problems.push(at(["resources", kind, resource], value, problem));
            }
            values[kind][resource] = problem === undefined ? quantityValue(value ?? defaults[resource]) : undefined;
        }
    }
    // Kubernetes refuses a request above its limit; the defaults count where one side is not given.
    for (const resource of ["cpu", "memory"] as const) {
        const request = values.requests[resource];
        const limit = values.limits[resource];
        if (request !== undefined && limit !== undefined && request > limit) {
            const requested = (resources.requests as Record<string, unknown> | undefined)?.[resource];
            const limited = (resources.limits as Record<string, unknown> | undefined)?.[resource];
            problems.push(
                requested !== undefined
                    ? at(["resources", "requests", resource], requested, `at most the ${resource} limit (${limited ?? `${DEFAULT_LIMITS[resource]} by default`}): a pod cannot reserve more than it may use`)
                    : at(["resources", "limits", resource], limited, `at least the ${resource} request (${DEFAULT_REQUESTS[resource]} by default): a pod cannot use less than it reserves`),
            );
        }
    }
    return problems;
}

function annotationProblems(annotations: unknown, metrics: boolean): Problem[] {
    if (annotations === undefined) {
        return [];
    }
    if (!isRecord(annotations)) {
        return [at(["podAnnotations"], annotations, "a map of annotation key: value")];
    }
    const problems: Problem[] = [];
    let bytes = 0;
    for (const [key, value] of Object.entries(annotations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (!isAnnotationKey(key)) {
            problems.push(at(["podAnnotations", key], key, ANNOTATION_KEY_ALLOWED));
        } else if (metrics && (PROMETHEUS_ANNOTATIONS as readonly string[]).includes(key)) {
            problems.push(at(["podAnnotations", key], value, "an annotation herd does not set: herd sets prometheus.io/path, port and scrape from metrics"));
        } else if (typeof value !== "string") {
            problems.push(at(["podAnnotations", key], value, "a string value (quote numbers and booleans)"));
        } else if (holdsSecret(value)) {
            problems.push(at(["podAnnotations", key], value, "no secret: annotations show in the pod's metadata; a secret belongs in the release's env or files"));
        }
        bytes += Buffer.byteLength(key) + (typeof value === "string" ? Buffer.byteLength(value) : 0);
    }
    if (bytes > ANNOTATIONS_MAX_BYTES) {
        problems.push(at(["podAnnotations"], annotations, `at most ${ANNOTATIONS_MAX_BYTES} bytes of keys and values, what a Kubernetes object takes; these have ${bytes}`));
    }
    return problems;
}

/**
 * Every problem of a fleet's pod settings, with key paths relative to the args
 * (`volumes.cache.mountPath`): names and quantities in Kubernetes's grammar, mount paths
 * absolute and normalized and free (not `/tmp`, a release file or another volume's), one source
 * per volume, requests within limits, no annotation herd sets itself.
 *
 * @param settings the settings, as given
 * @param context the release files' paths (of every role) and whether herd annotates pods for Prometheus
 */
export function podSettingsProblems(settings: PodSettings, context: { readonly filePaths?: Iterable<string>; readonly metrics?: boolean } = {}): ConfigProblem[] {
    const problems: Problem[] = [];
    const input = settings as Record<string, unknown>;
    if (input.serviceAccountName !== undefined && !isDnsSubdomain(input.serviceAccountName)) {
        problems.push(at(["serviceAccountName"], input.serviceAccountName, objectNameAllowed("ServiceAccount")));
    }
    if (input.automountServiceAccountToken !== undefined && typeof input.automountServiceAccountToken !== "boolean") {
        problems.push(at(["automountServiceAccountToken"], input.automountServiceAccountToken, "true | false: whether the pods get the service account's API token"));
    }
    const pullSecrets = input.imagePullSecrets;
    if (pullSecrets !== undefined) {
        if (!Array.isArray(pullSecrets)) {
            problems.push(at(["imagePullSecrets"], pullSecrets, "a list of Secret names"));
        } else {
            pullSecrets.forEach((secret, i) => {
                if (!isDnsSubdomain(secret)) {
                    problems.push(at(["imagePullSecrets", i], secret, objectNameAllowed("Secret")));
                } else if (pullSecrets.indexOf(secret) !== i) {
                    problems.push(at(["imagePullSecrets", i], secret, `a Secret imagePullSecrets[${pullSecrets.indexOf(secret)}] does not name already`));
                }
            });
        }
    }
    const volumes = input.volumes;
    if (volumes !== undefined) {
        if (!isRecord(volumes)) {
            problems.push(at(["volumes"], volumes, "a map of volume name → { mountPath, … }"));
        } else {
            const taken = new Map<string, string>();
            const files = new Set(context.filePaths ?? []);
            for (const name of Object.keys(volumes).sort()) {
                problems.push(...volumeProblems(name, volumes[name], taken, files));
            }
        }
    }
    problems.push(...annotationProblems(input.podAnnotations, context.metrics ?? true));
    problems.push(...resourceProblems(input.resources));
    return problems;
}

/** Applies the defaults of {@link PodSettings}, maps sorted by key: the same settings give the same pods. */
export function resolvePodSettings(settings: PodSettings): ResolvedPodSettings {
    const volumes = settings.volumes ?? {};
    const annotations = settings.podAnnotations ?? {};
    return {
        ...(settings.serviceAccountName === undefined ? {} : { serviceAccountName: settings.serviceAccountName }),
        automountServiceAccountToken: settings.automountServiceAccountToken ?? false,
        imagePullSecrets: [...(settings.imagePullSecrets ?? [])],
        volumes: Object.keys(volumes)
            .sort()
            .map((name): ResolvedVolume => {
                const volume = volumes[name];
                return {
                    name,
                    mountPath: volume.mountPath,
                    readOnly: volume.readOnly ?? (volume.secret !== undefined || volume.configMap !== undefined),
                    ...(volume.emptyDir === undefined
                        ? {}
                        : {
                              emptyDir: {
                                  ...(volume.emptyDir.medium === undefined ? {} : { medium: volume.emptyDir.medium }),
                                  ...(volume.emptyDir.sizeLimit === undefined ? {} : { sizeLimit: volume.emptyDir.sizeLimit }),
                              },
                          }),
                    ...(volume.secret === undefined ? {} : { secret: volume.secret }),
                    ...(volume.configMap === undefined ? {} : { configMap: volume.configMap }),
                    ...(volume.persistentVolumeClaim === undefined ? {} : { persistentVolumeClaim: volume.persistentVolumeClaim }),
                };
            }),
        annotations: Object.fromEntries(Object.keys(annotations).sort().map((key) => [key, annotations[key]])),
        resources: {
            requests: { ...DEFAULT_REQUESTS, ...settings.resources?.requests },
            limits: { ...DEFAULT_LIMITS, ...settings.resources?.limits },
        },
    };
}

/** The pod spec's entry of an extra volume. */
export function podVolume(volume: ResolvedVolume) {
    if (volume.secret !== undefined) {
        return { name: volume.name, secret: { secretName: volume.secret } };
    }
    if (volume.configMap !== undefined) {
        return { name: volume.name, configMap: { name: volume.configMap } };
    }
    if (volume.persistentVolumeClaim !== undefined) {
        return { name: volume.name, persistentVolumeClaim: { claimName: volume.persistentVolumeClaim, ...(volume.readOnly ? { readOnly: true } : {}) } };
    }
    return { name: volume.name, emptyDir: { ...volume.emptyDir } };
}

/** The container's mount of an extra volume. */
export function volumeMount(volume: ResolvedVolume) {
    return { name: volume.name, mountPath: volume.mountPath, readOnly: volume.readOnly };
}
