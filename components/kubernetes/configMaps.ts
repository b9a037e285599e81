/**
 * The data of a role's ConfigMaps and Secrets: the release's env and config files, the values
 * that hold a secret (a marker, or any value wired from another resource) going to a Secret and
 * the rest to a ConfigMap, each file under a key that Kubernetes accepts and that stays the same
 * for the same path. Both are named by Pulumi, never fixed: a new content gets a new name, and
 * the pod template that refers to it rolls.
 */
import { createHash, scryptSync } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { canonicalContainerRelease, ContainerRelease, envPlace, filePlace } from "../release/container";
import { canonicalJson, isDeployTimeValue } from "../release/generation";
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
    /**
     * Checksum of the release's values wired from other resources (see {@link wiredChecksum}), on
     * the pod template, when the release has some: a new value changes the template, which rolls.
     */
    readonly wiredChecksum?: N;
}

/**
 * Whether an env value or file content goes to the role's Secret rather than its ConfigMap: it
 * holds a secret's marker, or it is wired from another resource. herd cannot tell whether an
 * Output is a secret until it resolves, and the objects a role has are decided before, so every
 * wired value is kept as a secret.
 */
export function goesToSecret(value: pulumi.Input<string>): boolean {
    return typeof value !== "string" || holdsSecret(value);
}

/**
 * The values of a release wired from other resources, by place (`env.TOKEN`,
 * `files["/etc/app/key.pem"]`), sorted; empty when there is none.
 */
export function wiredValues(release: ContainerRelease): [string, pulumi.Input<string>][] {
    const canonical = canonicalContainerRelease(release);
    return [
        ...Object.entries(canonical.env ?? {}).map(([name, value]) => [envPlace(name), value] as [string, pulumi.Input<string>]),
        ...Object.entries(canonical.files ?? {}).map(([path, value]) => [filePlace(path), value] as [string, pulumi.Input<string>]),
    ]
        .filter(([, value]) => isDeployTimeValue(value))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The checksum of a role's wired values once they resolved (`resolved`, in the order of
 * {@link wiredValues}): 16 hex digits that change when any value does. It lands on the pod
 * template, which anyone who can list pods reads, so it is derived with scrypt, salted with the
 * fleet and role: a plain hash of a weak secret (a short PIN) would let them test guesses fast.
 */
export function wiredChecksum(fleet: string, role: string, places: readonly string[], resolved: readonly string[]): string {
    const data = canonicalJson(places.map((place, i) => [place, resolved[i]]));
    return scryptSync(data, `herd wired values\0${fleet}\0${role}`, 8).toString("hex");
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
 * content), each sorted by key, and absent when empty; values that go to the Secret (see
 * {@link goesToSecret}) are left out.
 */
export function buildConfigMapData(release: ContainerRelease): {
    /** Environment: variable name → value. */
    env?: Record<string, string>;
    /** Config files: {@link fileKey} of the path → content. */
    files?: Record<string, string>;
} {
    return roleData(release, false) as { env?: Record<string, string>; files?: Record<string, string> };
}

/**
 * The data of a role's Secrets: the env values and file contents that hold a secret's marker
 * (`[secret 1a2b3c4d]`) or are wired from another resource, keyed as in
 * {@link buildConfigMapData}, which leaves them out. The component puts each secret's plaintext in
 * place of its marker; absent when there is none.
 */
export function buildSecretData(release: ContainerRelease): {
    /** Environment: variable name → value, markers and all. */
    env?: Record<string, pulumi.Input<string>>;
    /** Config files: {@link fileKey} of the path → content, markers and all. */
    files?: Record<string, pulumi.Input<string>>;
} {
    return roleData(release, true);
}

function roleData(release: ContainerRelease, secret: boolean): { env?: Record<string, pulumi.Input<string>>; files?: Record<string, pulumi.Input<string>> } {
    const canonical = canonicalContainerRelease(release);
    const env = Object.entries(canonical.env ?? {}).filter(([, value]) => goesToSecret(value) === secret);
    const files = Object.entries(canonical.files ?? {})
        .filter(([, content]) => goesToSecret(content) === secret)
        .map(([path, content]) => [fileKey(path), content] as const)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
        ...(env.length > 0 ? { env: Object.fromEntries(env) } : {}),
        ...(files.length > 0 ? { files: Object.fromEntries(files) } : {}),
    };
}
