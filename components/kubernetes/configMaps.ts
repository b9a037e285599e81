/**
 * The data of a role's ConfigMaps and Secrets: the release's env and config files, the values
 * that hold a secret going to a Secret and the rest to a ConfigMap, each file under a key that
 * Kubernetes accepts and that stays the same for the same path. Both are named by Pulumi, never
 * fixed: a new content gets a new name, and the pod template that refers to it rolls.
 */
import { createHash } from "node:crypto";
import { canonicalContainerRelease, ContainerRelease } from "../release/container";
import { holdsSecret } from "../release/secrets";

/** The names of a role's ConfigMaps, as the pod refers to them (plain strings in tests, Outputs in the component). */
export interface ConfigMapRefs<N> {
    /** Name of the ConfigMap holding the environment, when the release has `env`. */
    readonly env?: N;
    /** Name of the ConfigMap holding the config files, when the release has `files`. */
    readonly files?: N;
    /** Name of the Secret holding the env values that are secrets, when the release has some. */
    readonly secretEnv?: N;
    /** Name of the Secret holding the files whose content is a secret, when the release has some. */
    readonly secretFiles?: N;
}

/**
 * The ConfigMap key of a file. Keys allow only `[-._a-zA-Z0-9]`, so the key is the file's base
 * name made safe, prefixed with a hash of its full path: `/etc/a/x.conf` and `/etc/b/x.conf` get
 * different keys, and the same path always gets the same one.
 */
export function fileKey(path: string): string {
    const hash = createHash("sha256").update(path).digest("hex").slice(0, 8);
    const base = path.slice(path.lastIndexOf("/") + 1).replace(/[^-._a-zA-Z0-9]/g, "_").slice(0, 200);
    return `${hash}-${base}`;
}

/**
 * The data of a role's ConfigMaps: `env` (variable → value) and `files` ({@link fileKey} →
 * content), each sorted by key, and absent when empty.
 */
export function buildConfigMapData(release: ContainerRelease): {
    /** Environment: variable name → value. */
    env?: Record<string, string>;
    /** Config files: {@link fileKey} of the path → content. */
    files?: Record<string, string>;
} {
    return roleData(release, false);
}

/**
 * The data of a role's Secrets: the env values and file contents that hold a secret's marker
 * (`[secret 1a2b3c4d]`), keyed as in {@link buildConfigMapData}, which leaves them out. The
 * component puts each secret's plaintext in place of its marker; absent when there is none.
 */
export function buildSecretData(release: ContainerRelease): {
    /** Environment: variable name → value, markers and all. */
    env?: Record<string, string>;
    /** Config files: {@link fileKey} of the path → content, markers and all. */
    files?: Record<string, string>;
} {
    return roleData(release, true);
}

function roleData(release: ContainerRelease, secret: boolean): { env?: Record<string, string>; files?: Record<string, string> } {
    const canonical = canonicalContainerRelease(release);
    const env = Object.entries(canonical.env ?? {}).filter(([, value]) => holdsSecret(value) === secret);
    const files = Object.entries(canonical.files ?? {})
        .filter(([, content]) => holdsSecret(content) === secret)
        .map(([path, content]) => [fileKey(path), content] as const)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
        ...(env.length > 0 ? { env: Object.fromEntries(env) } : {}),
        ...(files.length > 0 ? { files: Object.fromEntries(files) } : {}),
    };
}
