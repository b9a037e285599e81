import { ConfigError, StackConfig } from "../config";
import { ProgramError, ProgramRun, runProgram } from "../testing";
import { CliError } from "./io";
import { StackProject } from "./project";

/**
 * Makes `require` load TypeScript, for programs written in it (as `pulumi up` does). Nothing to
 * do when a loader is already in place, e.g. under `node --import tsx`.
 */
export function registerTypeScript(program: string): void {
    if (!/\.[cm]?tsx?$/.test(program) || require.extensions[".ts"] !== undefined) {
        return;
    }
    let tsx: { register(): void };
    try {
        tsx = require("tsx/cjs/api");
    } catch {
        throw new CliError(`loading ${program} needs the TypeScript loader tsx: npm install --save-dev tsx`);
    }
    tsx.register();
}

/**
 * Runs the stack's program under the test kit's mocks with the given config (no cloud, no Pulumi
 * CLI) and returns every resource it registers, with its options.
 *
 * @param where how messages name the config, e.g. `Pulumi.prod.yaml at HEAD`
 * @throws ConfigError when the program rejects the config; CliError when it fails otherwise
 */
export async function evaluateStack(project: StackProject, config: StackConfig, where: string): Promise<ProgramRun> {
    registerTypeScript(project.program);
    // Pulumi takes a stack trace for every promise and resource; mapping each one through the
    // TypeScript source maps costs more than the evaluation itself.
    const sourceMaps = process.sourceMapsEnabled;
    process.setSourceMapsEnabled(false);
    try {
        return await runProgram({ program: project.program, stack: project.stack, projectDir: project.dir, config });
    } catch (err) {
        const cause = err instanceof ProgramError ? err.cause : err;
        if (cause instanceof ConfigError) {
            throw cause;
        }
        throw new CliError(`the program failed on ${where}: ${(cause as Error)?.message ?? String(cause)}`);
    } finally {
        process.setSourceMapsEnabled(sourceMaps);
    }
}
