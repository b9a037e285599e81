/**
 * The grammar of the Kubernetes values a fleet names (object names, annotation keys, resource
 * quantities), as the API server checks them, with what each allows in words: the stack config
 * and the Kubernetes backend check them with the same words.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** What a volume name is, in words. */
export const VOLUME_NAME_ALLOWED = `a volume name: a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), not tmp, files or secret-files (herd's own)`;

/** What the name of an object a pod refers to (Secret, ConfigMap, claim, ServiceAccount) is, in words. */
export function objectNameAllowed(kind: string): string {
    return `the name of a ${kind} in the fleet's namespace: a DNS subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)`;
}

/** What an annotation key is, in words. */
export const ANNOTATION_KEY_ALLOWED = "an annotation key such as example.org/team: an optional DNS-subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' or '.'";

/** What a volume's mount path is, when it is missing. */
export const MOUNT_PATH_ALLOWED = "where the volume appears in the container: an absolute path such as /var/cache/app";

/** What an `emptyDir`'s medium is, in words. */
export const MEDIUM_ALLOWED = "Memory (a tmpfs), or no medium for the node's disk";

/** What a quantity of CPU is, in words. */
export const CPU_ALLOWED = "a CPU quantity such as 250m (a quarter of a core), 1 or 1.5";
/** What a quantity of memory is, in words. */
export const MEMORY_ALLOWED = "a memory quantity in bytes such as 128Mi, 1Gi or 512M ('m' is a thousandth: 128m would be 0.128 bytes)";
/** What a size limit is, in words. */
export const SIZE_ALLOWED = "a size such as 64Mi or 1Gi";

/** `true` for a DNS label: the name of a volume. */
export function isDnsLabel(value: unknown): value is string {
    return typeof value === "string" && DNS_LABEL.test(value);
}

/** `true` for a DNS subdomain: the name of a Secret, ConfigMap, PersistentVolumeClaim or ServiceAccount. */
export function isDnsSubdomain(value: unknown): value is string {
    return typeof value === "string" && value.length <= 253 && DNS_SUBDOMAIN.test(value);
}

/** `true` for an annotation key (a qualified name, its prefix at most 253 characters). */
export function isAnnotationKey(value: unknown): value is string {
    if (typeof value !== "string" || !QUALIFIED_NAME.test(value)) {
        return false;
    }
    const slash = value.lastIndexOf("/");
    return slash < 0 || slash <= 253;
}

/**
 * The value of a non-negative Kubernetes quantity (`250m` → 0.25, `1Gi` → 1073741824), or
 * `undefined` when it is not one. Requests and limits are compared by it.
 */
export function quantityValue(value: unknown): number | undefined {
    if (typeof value !== "string" || value.length > 64) {
        return undefined;
    }
    const match = QUANTITY.exec(value);
    if (!match) {
        return undefined;
    }
    const number = Number(match[1]);
    const suffix = match[3] ?? "";
    const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
    const decimal: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
    if (suffix in binary) {
        return number * binary[suffix];
    }
    if (suffix in decimal) {
        return number * decimal[suffix];
    }
    return number * 10 ** Number(suffix.slice(1));
}

