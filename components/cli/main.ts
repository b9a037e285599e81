#!/usr/bin/env node
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config";
import { CliError, CliIo, ExitCode } from "./io";
import { addPlanCommand } from "./plan";
import { addPromoteCommand } from "./promote";
import { addRollbackCommand } from "./rollback";

function version(): string {
    try {
        return (JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;
    } catch {
        return "unknown";
    }
}

/**
 * Runs the `herd` command line with `argv` (the arguments after the program name) and resolves
 * with its exit code: 0 done or, for `plan`, no change; 2 `plan` found changes; 1 invalid config,
 * bad input or a refused command, with one message on stderr.
 *
 * @param io where output goes and the directory paths are relative to. @default the process's
 */
export async function run(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
    const cli: CliIo = {
        stdout: io.stdout ?? ((text) => process.stdout.write(text)),
        stderr: io.stderr ?? ((text) => process.stderr.write(text)),
        cwd: io.cwd ?? process.cwd(),
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
            "\nExit codes: 0 done (plan: no change), 2 plan found changes, 1 invalid config, bad input or refused.",
        );
    addPlanCommand(program, cli, exit);
    addPromoteCommand(program, cli, exit);
    addRollbackCommand(program, cli, exit);
    try {
        await program.parseAsync([...argv], { from: "user" });
        return exitCode;
    } catch (err) {
        if (err instanceof CommanderError) {
            // Commander has printed the usage error or the help already.
            return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Error;
        }
        if (err instanceof CliError || err instanceof ConfigError) {
            cli.stderr(`herd: ${err.message}\n`);
        } else {
            cli.stderr(`herd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        }
        return ExitCode.Error;
    }
}

if (require.main === module) {
    void run(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    });
}
