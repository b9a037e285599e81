import { createHash, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";

/**
 * What a request must present to be let in: the token of `Authorization: Bearer <token>`, or the
 * user and password of `Authorization: Basic …`. Alertmanager sends either from its
 * `http_config` (`authorization.credentials_file`, `basic_auth.password_file`).
 */
export type Credentials = { readonly kind: "bearer"; readonly token: string } | { readonly kind: "basic"; readonly username: string; readonly password: string };

/** Shortest secret accepted: guessing it must be hopeless. */
export const MIN_SECRET_LENGTH = 16;

/** Thrown when a credentials file cannot be used; the message says why and how to fix it. */
export class CredentialsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "CredentialsError";
    }
}

/**
 * Reads credentials from a file: a bearer token (the file holds the token), or basic auth (the file
 * holds `username:password`). Surrounding white space (a trailing newline) is ignored. A file that
 * others than its owner may read or write is refused, as are short secrets.
 *
 * @throws CredentialsError naming the file and the problem
 */
export function readCredentials(file: string, kind: Credentials["kind"]): Credentials {
    let text: string;
    let mode: number;
    try {
        mode = fs.statSync(file).mode & 0o777;
        text = fs.readFileSync(file, "utf8").trim();
    } catch (err) {
        throw new CredentialsError(`cannot read the credentials file ${file}: ${(err as Error).message.split("\n")[0]}`);
    }
    if ((mode & 0o077) !== 0) {
        throw new CredentialsError(`the credentials file ${file} may be read by others (mode ${mode.toString(8).padStart(4, "0")}): chmod 600 it`);
    }
    if (/[\u0000-\u001f\u007f]/.test(text)) {
        throw new CredentialsError(`the credentials file ${file} holds more than one line or control characters: it holds ${kind === "bearer" ? "the token" : "username:password"} alone`);
    }
    if (kind === "bearer") {
        if (text.length < MIN_SECRET_LENGTH) {
            throw new CredentialsError(`the token in ${file} is shorter than ${MIN_SECRET_LENGTH} characters: make one with \`openssl rand -hex 32\``);
        }
        return { kind, token: text };
    }
    const colon = text.indexOf(":");
    if (colon <= 0) {
        throw new CredentialsError(`the basic auth file ${file} must hold username:password`);
    }
    const password = text.slice(colon + 1);
    if (password.length < MIN_SECRET_LENGTH) {
        throw new CredentialsError(`the password in ${file} is shorter than ${MIN_SECRET_LENGTH} characters: make one with \`openssl rand -hex 32\``);
    }
    return { kind, username: text.slice(0, colon), password };
}

/** Compares two strings in a time that does not depend on where they differ, nor on their lengths. */
function sameSecret(given: string, expected: string): boolean {
    const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();
    return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Whether an `Authorization` header carries the credentials. Every comparison is constant-time;
 * a header of the wrong scheme, a malformed one or none is refused.
 */
export function authenticates(header: string | undefined, credentials: Credentials): boolean {
    if (header === undefined || header.length > 8192) {
        return false;
    }
    const match = /^([A-Za-z]+) +(\S+)$/.exec(header.trim());
    if (!match) {
        return false;
    }
    const scheme = match[1].toLowerCase();
    if (credentials.kind === "bearer") {
        return scheme === "bearer" && sameSecret(match[2], credentials.token);
    }
    if (scheme !== "basic" || !/^[A-Za-z0-9+/]+={0,2}$/.test(match[2])) {
        return false;
    }
    return sameSecret(Buffer.from(match[2], "base64").toString("utf8"), `${credentials.username}:${credentials.password}`);
}
