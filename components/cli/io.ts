import type { WriteFs } from "./atomicWrite";
import type { LockFs } from "./lock";

/** Where a command writes, and the directory it runs in. Tests pass their own. */
export interface CliIo {
    /** Writes to standard output. */
    readonly stdout: (text: string) => void;
    /** Writes to standard error. */
    readonly stderr: (text: string) => void;
    /** The directory relative paths (`--dir`, `--program`) are resolved against. */
    readonly cwd: string;
    /** The file system calls that write a stack file and its lock: node's `fs`, or a test's that fails on cue. */
    readonly fs: WriteFs & LockFs;
}

/**
 * Exit codes of every `herd` command. `plan` (and the plan `promote` and `rollback` print) uses
 * {@link ExitCode.Changes} so CI can tell "this would change the fleet" from "nothing to do".
 */
export const ExitCode = {
    /** Done; for `plan`: the stack matches the compared revision. */
    Ok: 0,
    /** Invalid config, bad input, a refused command, or any other error. */
    Error: 1,
    /** `plan` only: slots would be created, replaced or deleted. */
    Changes: 2,
    /**
     * `plan` only: the stack is protected (`herd:protected: true`) and the change moves more
     * than a wave at once (the message names `herd release`), or the change of OpenStack fleets
     * does not fit the project's quota even one batch at a time (the message gives the numbers);
     * the plan is printed.
     */
    Refused: 3,
} as const;

/** A failure the user can fix: printed as one message, without a stack trace, exit code 1. */
export class CliError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "CliError";
    }
}
