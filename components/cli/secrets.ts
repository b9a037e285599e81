import { createHash } from "node:crypto";

/** A value `pulumi config set --secret` wrote: `{ secure: <ciphertext> }`. */
export interface SecureValue {
    readonly secure: string;
}

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

/**
 * The string that stands for an encrypted value: `[secret 1a2b3c4d]`, with 8 hex digits of the
 * SHA-256 of its ciphertext.
 *
 * herd reads stack files without Pulumi's key, so it cannot decrypt. The marker is a string,
 * so it passes validation wherever a string is allowed (an env value, a file's content), and it
 * is the same for the same ciphertext, so generations and plans are stable. It follows the
 * ciphertext rather than being one fixed string so that a changed secret plans as a change (a
 * new release, which replaces members, as `pulumi up` will); re-encrypting the same value
 * gives a new ciphertext and so plans as a change too. The hash is of the ciphertext, which is
 * in the file for anyone to read; it tells nothing of the value.
 */
export function secretMarker(value: SecureValue): string {
    return `[secret ${createHash("sha256").update(value.secure).digest("hex").slice(0, 8)}]`;
}

/**
 * A copy of a config value with every `{ secure: … }` replaced by its {@link secretMarker}, at
 * any depth. Nothing downstream (validation, evaluation, messages) then sees a ciphertext.
 */
export function withOpaqueSecrets(value: unknown): unknown {
    if (isSecureValue(value)) {
        return secretMarker(value);
    }
    if (Array.isArray(value)) {
        return value.map(withOpaqueSecrets);
    }
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, withOpaqueSecrets(inner)]));
    }
    return value;
}
