import { Command } from "commander";
import { rollbackStackFile } from "./edit";
import { CliIo } from "./io";
import { applyRolloutStep, RolloutStepFlags } from "./rolloutStep";

/** `herd rollback`: puts every slot of a fleet back on its previous release in the stack file. */
export function addRollbackCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    cli.command("rollback")
        .summary("put a fleet back on its previous release in the stack file")
        .description(
            "put every slot of a fleet back on rollout.previous by setting rollout.members to 0 in Pulumi.<stack>.yaml, " +
                "keeping its comments and layout, then print the plan of that step",
        )
        .argument("<fleet>", "the fleet to roll back")
        .requiredOption("-s, --stack <name>", "the stack: rewrites Pulumi.<name>.yaml")
        .option("-f, --force", "rewrite the stack file even if it has uncommitted changes")
        .option("--json", "print the step and its plan as JSON")
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .option("-p, --program <path>", "the program's entry module (default: <projectDir>/index.ts)")
        .action(async (fleet: string, flags: RolloutStepFlags) => {
            exit(await applyRolloutStep(fleet, flags, io, rollbackStackFile));
        });
}
