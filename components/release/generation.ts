import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { configure } from "safe-stable-stringify";

/** JSON.stringify with every object's keys sorted, at every depth; a cycle throws, as JSON.stringify does. */
const stableStringify = configure({ deterministic: true, circularValue: TypeError, bigint: false });

/**
 * Length of a generation in hex characters: short enough for names, long enough not to collide.
 *
 * @group Releases and rollouts
 */
export const GENERATION_LENGTH = 8;

/**
 * JSON with object keys sorted at every depth and `undefined` fields left out, so two releases
 * written in a different key order serialise to the same bytes.
 */
export function canonicalJson(value: unknown): string {
    const json = stableStringify(value);
    if (json === undefined) {
        throw new TypeError("a release must be JSON-serialisable");
    }
    return json;
}

/**
 * The generation of a release: the first {@link GENERATION_LENGTH} hex digits of the SHA-256 of
 * its canonical JSON. It is the same on every run and every machine for the same release, and it
 * appears in every cloud-side name and label of a member, so `openstack server list` and
 * `kubectl get pods` show who runs what.
 *
 * @group Releases and rollouts
 */
export function generationOf(release: unknown): string {
    return createHash("sha256").update(canonicalJson(release)).digest("hex").slice(0, GENERATION_LENGTH);
}

/**
 * What the generation holds for a release value herd cannot see when it plans (an Output wired
 * from another resource, a secret), at its place in the release: `networks[0]: an input known at
 * deploy time`. It names the place, never the value, so the generation is the same on every run
 * whatever the value is; the backend replaces the members when the value changes instead.
 */
export function deployTimePlaceholder(place: string): string {
    return `${place}: an input known at deploy time`;
}

/** Whether a release value is known only at deploy time: an Output (wired from another resource, a secret) or a promise. */
export function isDeployTimeValue(value: unknown): value is pulumi.Output<string> | Promise<string> {
    return pulumi.Output.isInstance(value) || value instanceof Promise;
}
