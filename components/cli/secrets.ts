import { isSecureValue, secretMarker } from "../release/secrets";

// One marker for the CLI and the program: `herd plan` must compute the generations `pulumi up`
// will (components/release/secrets.ts says how a marker is made, and why from the ciphertext).
export { isSecureValue, secretMarker, type SecureValue } from "../release/secrets";

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
