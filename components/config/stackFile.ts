import * as fs from "node:fs";
import * as path from "node:path";
import { YAML } from "./lazy";

/**
 * The `config:` map of a `Pulumi.<stack>.yaml`, keys as written (`herd:fleets`, `openstack:region`).
 *
 * @group Stack config
 */
export type StackConfig = Record<string, unknown>;

/** Path of a stack's config file in a Pulumi project directory. */
export function stackFilePath(projectDir: string, stack: string): string {
    return path.join(projectDir, `Pulumi.${stack}.yaml`);
}

/**
 * Parses the text of a stack file and returns its `config:` map. Throws with the file name and
 * the YAML error's line and column when the text is not valid YAML or not a stack file; the
 * message never quotes the text, which may hold a secret.
 */
export function parseStackFile(text: string, fileName: string): StackConfig {
    const lineCounter = new YAML.LineCounter();
    // prettyErrors would append the offending line of the file to the message.
    const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
    if (doc.errors.length > 0) {
        const error = doc.errors[0];
        const { line, col } = lineCounter.linePos(error.pos[0]);
        throw new Error(`${fileName} is not valid YAML: ${error.message.split("\n")[0]} at line ${line}, column ${col}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) {
        return {};
    }
    if (typeof value !== "object" || Array.isArray(value)) {
        throw new Error(`${fileName} must be a YAML mapping with a "config:" key`);
    }
    const config = (value as { config?: unknown }).config;
    if (config === undefined || config === null) {
        return {};
    }
    if (typeof config !== "object" || Array.isArray(config)) {
        throw new Error(`${fileName}: "config" must be a mapping of "namespace:key": value`);
    }
    return config as StackConfig;
}

/** Reads `Pulumi.<stack>.yaml` from a project directory and returns its `config:` map. */
export function readStackConfig(projectDir: string, stack: string): StackConfig {
    const file = stackFilePath(projectDir, stack);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
            throw new Error(`no stack "${stack}": ${file} does not exist`);
        }
        throw err;
    }
    return parseStackFile(text, path.basename(file));
}
