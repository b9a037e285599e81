#!/usr/bin/env node
// First, before commander (which an older Node.js cannot load) is imported.
import "./requireNode";
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config";
import { BatchError } from "../fleet/batches";
import { addApplyCommand } from "./apply";
import { CliError, CliIo, ExitCode } from "./io";
import { addPlanCommand } from "./plan";
import { addPromoteCommand } from "./promote";
import { addReleaseCommand } from "./release";
import { addRobotCommand } from "./robot";
import { addRollbackCommand } from "./rollback";
import { addStatusCommand } from "./status";
import { addTimelineCommand } from "./timeline";

function version(): string {
    try {
        return (JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;
    } catch {
        return "unknown";
    }
}

/**
 * Runs the `herd` command line with `argv` (the arguments after the program name) and resolves
 * with its exit code: 0 done or, for `plan`, no change; 2 `plan` found changes; 3 `plan` found a
 * change a protected stack refuses; 1 invalid config, bad input or a refused command, with one
 * message on stderr.
 *
 * @param io where output goes and the directory paths are relative to. @default the process's
 */
export async function run(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
    const cli: CliIo = {
        stdout: io.stdout ?? ((text) => process.stdout.write(text)),
        stderr: io.stderr ?? ((text) => process.stderr.write(text)),
        cwd: io.cwd ?? process.cwd(),
        fs: io.fs ?? fs,
    };
    let exitCode: number = ExitCode.Ok;
    const exit = (code: number) => {
        exitCode = code;
    };
    const program = new Command("herd")
        .description("Progressive rollouts of herd fleets (1 → 10 → all), pinned in git as Pulumi stack config.")
        .version(version())
        .exitOverride()
        .configureOutput({ writeOut: cli.stdout, writeErr: cli.stderr })
        .addHelpText(
            "after",
            "\nExit codes: 0 done (plan: no change), 2 plan found changes, 3 plan refused by a protected stack (herd:protected) or by the preflight of OpenStack fleets, 1 invalid config, bad input or refused.",
        );
    addPlanCommand(program, cli, exit);
    addApplyCommand(program, cli, exit);
    addStatusCommand(program, cli, exit);
    addReleaseCommand(program, cli, exit);
    addPromoteCommand(program, cli, exit);
    addRollbackCommand(program, cli, exit);
    addRobotCommand(program, cli, exit);
    addTimelineCommand(program, cli, exit);
    try {
        await program.parseAsync([...argv], { from: "user" });
        return exitCode;
    } catch (err) {
        if (err instanceof CommanderError) {
            // Commander has printed the usage error or the help already.
            return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Error;
        }
        cli.stderr(err instanceof CliError || err instanceof ConfigError || err instanceof BatchError ? `herd: ${err.message}\n` : unexpected(err));
        return ExitCode.Error;
    }
}

/** Environment variable that makes an unexpected error print its stack trace. */
export const DEBUG_VARIABLE = "HERD_DEBUG";

/**
 * How an error herd did not foresee is printed: one line, its first, unless `HERD_DEBUG=1` asks
 * for the stack trace.
 */
export function unexpected(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
    if (env[DEBUG_VARIABLE] === "1" && err instanceof Error && err.stack) {
        return `herd: ${err.stack}\n`;
    }
    const message = err instanceof Error ? err.message : String(err);
    return `herd: unexpected error: ${message.split("\n")[0]} (set ${DEBUG_VARIABLE}=1 for details)\n`;
}

/**
 * Writes to a standard stream until its reader goes away: `herd plan | head` closes the pipe
 * early, which is no error of herd's, so the rest of the output is dropped, quietly, and the
 * command still ends with its own exit code.
 */
function pipeWriter(stream: NodeJS.WriteStream): (text: string) => void {
    let closed = false;
    stream.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code !== "EPIPE") {
            throw err;
        }
        closed = true;
    });
    return (text) => {
        if (!closed) {
            stream.write(text);
        }
    };
}

if (require.main === module) {
    process.on("uncaughtException", (err) => {
        process.stderr.write(unexpected(err));
        process.exit(ExitCode.Error);
    });
    void run(process.argv.slice(2), { stdout: pipeWriter(process.stdout), stderr: pipeWriter(process.stderr) }).then((code) => {
        process.exitCode = code;
    });
}
