import * as path from "node:path";
import { readStackConfig, StackConfig } from "../../components/config";
import { ProgramRun, runProgram } from "../../components/testing";

/** The repository root: the Pulumi project under test. */
export const PROJECT_DIR = path.resolve(__dirname, "..", "..");
/** The real program. */
export const PROGRAM = path.join(PROJECT_DIR, "index.ts");

/** The real stack file's config, as a fresh object the test may change. */
export function stackConfig(stack: string): StackConfig {
    return readStackConfig(PROJECT_DIR, stack);
}

/** Runs the real program for a stack, with the stack file's config or the given one. */
export function runStack(stack: string, config?: StackConfig): Promise<ProgramRun> {
    return runProgram({ program: PROGRAM, projectDir: PROJECT_DIR, stack, config });
}

/** Resolves with the rejection of a promise that must fail. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
    try {
        await promise;
    } catch (err) {
        return err as Error;
    }
    throw new Error("expected the promise to be rejected, but it resolved");
}
