import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/**
 * How a secret travels through herd. A release never holds a secret's plaintext: where the
 * stack config has an encrypted value, the release holds its **marker**, `[secret 1a2b3c4d]`
 * (8 hex digits of the SHA-256 of the value's ciphertext, as Pulumi stores it in the stack file).
 * Everything herd computes from a release (validation, the generation, names, labels, plans,
 * messages) sees only the marker, so none of it can hold the plaintext. The plaintext travels
 * beside the release, in a {@link SecretValues} map, and is put back only where a value reaches
 * the member (a container's env and files, a Kubernetes `Secret`), as a Pulumi secret.
 *
 * The marker follows the ciphertext, not the plaintext: a hash of a weak plaintext in a name
 * or label would let anyone who can list containers test guesses against it, while the
 * ciphertext is in the stack file for anyone to read already and tells nothing. So `herd plan`,
 * which cannot decrypt, computes the same generations as `pulumi up`, and a new value (which
 * Pulumi encrypts into a new ciphertext) is a new release. So is re-encrypting the same value
 * (`pulumi config set --secret` again, a change of secrets provider): it replaces the members
 * that hold it, once.
 */

/**
 * A value as `pulumi config set --secret` writes it in a stack file: `{ secure: <ciphertext> }`.
 *
 * @group Releases and rollouts
 */
export interface SecureValue {
    /** The ciphertext. */
    readonly secure: string;
}

/**
 * The plaintext of the secrets a release refers to, by marker: a string, or an Output (a secret
 * a program holds, a value known only at deploy time).
 *
 * @group Releases and rollouts
 */
export type SecretValues = ReadonlyMap<string, pulumi.Input<string>>;

/** A marker anywhere in a string. */
const MARKER = /\[secret [0-9a-f]{8}\]/g;
/** A string that is one marker and nothing else. */
const WHOLE_MARKER = /^\[secret [0-9a-f]{8}\]$/;

/** Whether a config value is an encrypted one, as Pulumi writes it in a stack file. */
export function isSecureValue(value: unknown): value is SecureValue {
    return (
        value !== null &&
        typeof value === "object" &&
        !Array.isArray(value) &&
        Object.keys(value).length === 1 &&
        typeof (value as { secure?: unknown }).secure === "string"
    );
}

/** Whether a config value holds an encrypted value anywhere: Pulumi then says its key holds a secret. */
export function holdsSecureValue(value: unknown): boolean {
    return isSecureValue(value) || (value !== null && typeof value === "object" && Object.values(value).some(holdsSecureValue));
}

/**
 * The marker that stands for an encrypted value: `[secret 1a2b3c4d]`, from its ciphertext.
 *
 * @group Releases and rollouts
 */
export function secretMarker(value: SecureValue): string {
    return `[secret ${createHash("sha256").update(value.secure).digest("hex").slice(0, 8)}]`;
}

/**
 * The marker of a secret known only as plaintext: a value of a `herd:fleets` that is secret as a
 * whole (encrypted whole, or filled by an ESC environment), which has no ciphertext of its own.
 * 8 hex digits of the SHA-256 of the value salted with the stack, so the same value keeps its
 * marker (and the members their generation) however often the key is encrypted again. Unlike a
 * ciphertext's marker, it is a function of the plaintext: a weak value (a short PIN) could be
 * tested against a generation by someone who knows the rest of the release; encrypt such values
 * one by one (`pulumi config set --secret --path`).
 */
export function plaintextMarker(stack: string, plaintext: string): string {
    return `[secret ${createHash("sha256").update(`herd secret\0${stack}\0${plaintext}`).digest("hex").slice(0, 8)}]`;
}

/** Whether a string is exactly one marker. */
export function isSecretMarker(value: unknown): value is string {
    return typeof value === "string" && WHOLE_MARKER.test(value);
}

/** Whether a string holds a marker, i.e. stands for (part of) a secret. */
export function holdsSecret(value: string): boolean {
    MARKER.lastIndex = 0;
    return MARKER.test(value);
}

/**
 * The value a member receives for a release's string: the string itself when it holds no
 * marker; otherwise a Pulumi secret, each marker replaced by its plaintext (a marker whose
 * plaintext is not in `secrets`, as under `herd plan`, stays, still secret).
 */
export function reveal(value: string, secrets: SecretValues | undefined): pulumi.Input<string> {
    if (!holdsSecret(value)) {
        return value;
    }
    const plaintexts = (value.match(MARKER) ?? []).map((marker) => secrets?.get(marker) ?? marker);
    return pulumi.secret(
        pulumi.all(plaintexts).apply((known) => {
            let next = 0;
            return value.replace(MARKER, () => known[next++]);
        }),
    );
}
