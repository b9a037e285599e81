import * as fs from "node:fs";
import * as path from "node:path";
import { parseStackFile, stackFilePath, StackConfig } from "../config/stackFile";
import { FLEETS_KEY } from "../config/validate";
import { describeFsError } from "./atomicWrite";
import { CliError } from "./io";
import { isSecureValue, withOpaqueSecrets } from "./secrets";

/** The Pulumi project and stack a command works on. */
export interface StackProject {
    /** Absolute project directory: where `Pulumi.yaml`, the stack files and the files they name are. */
    readonly dir: string;
    /** Absolute path of the program's entry module. */
    readonly program: string;
    readonly stack: string;
    /** Absolute path of `Pulumi.<stack>.yaml`. */
    readonly stackFile: string;
    /** `Pulumi.<stack>.yaml`, as messages and git name it. */
    readonly stackFileName: string;
}

/** Options every command takes. */
export interface ProjectOptions {
    readonly stack: string;
    /** @default the current directory */
    readonly dir?: string;
    /** @default `<dir>/index.ts` */
    readonly program?: string;
}

const STACK_NAME = /^[A-Za-z0-9_.-]+$/;

function stacksIn(dir: string): string[] {
    try {
        return fs
            .readdirSync(dir)
            .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
            .filter((stack): stack is string => stack !== undefined)
            .sort();
    } catch {
        return [];
    }
}

/**
 * Finds the project and stack file a command names.
 *
 * @throws CliError when the stack file or the program does not exist
 */
export function locateProject(options: ProjectOptions, cwd: string): StackProject {
    const dir = path.resolve(cwd, options.dir ?? ".");
    const stack = options.stack;
    if (!STACK_NAME.test(stack)) {
        throw new CliError(`"${stack}" is not a stack name: letters, digits, "-", "_" and "." only`);
    }
    const stackFile = stackFilePath(dir, stack);
    if (!fs.existsSync(stackFile)) {
        const known = stacksIn(dir);
        throw new CliError(
            `unknown stack "${stack}": ${stackFile} does not exist (${known.length > 0 ? `stacks here: ${known.join(", ")}` : `no Pulumi.<stack>.yaml in ${dir}`})`,
        );
    }
    const program = path.resolve(cwd, options.program ?? path.join(dir, "index.ts"));
    if (!fs.existsSync(program)) {
        throw new CliError(`no program: ${program} does not exist (give its entry module with --program)`);
    }
    return { dir, program, stack, stackFile, stackFileName: path.basename(stackFile) };
}

/**
 * The text of the stack file in the work tree.
 *
 * @throws CliError with one line when it cannot be read
 */
export function readStackText(project: StackProject): string {
    try {
        return fs.readFileSync(project.stackFile, "utf8");
    } catch (err) {
        throw new CliError(`cannot read ${project.stackFileName} (stack "${project.stack}"): ${describeFsError(err)}`);
    }
}

/**
 * The `config:` map of a stack file's text, each encrypted value (`{ secure: … }`, which herd
 * cannot decrypt) replaced by an opaque marker (see {@link withOpaqueSecrets}).
 *
 * @param where how messages name the text, e.g. `Pulumi.prod.yaml` or `Pulumi.prod.yaml at HEAD`
 * @throws CliError when the text is not valid YAML or not a stack file, or `herd:fleets` is
 * encrypted as a whole
 */
export function stackConfigOf(text: string, where: string): StackConfig {
    let config: StackConfig;
    try {
        config = parseStackFile(text, where);
    } catch (err) {
        throw new CliError((err as Error).message);
    }
    if (isSecureValue(config[FLEETS_KEY])) {
        throw new CliError(
            `${FLEETS_KEY} in ${where} is encrypted as a whole, and herd cannot decrypt it to plan the fleets: ` +
                `store it in plain text and encrypt only the secret values, e.g. pulumi config set --secret --path '${FLEETS_KEY}.api.release.env.TOKEN'`,
        );
    }
    return withOpaqueSecrets(config) as StackConfig;
}
