import { Command } from "commander";
import { promoteStackFile } from "./edit";
import { CliIo } from "./io";
import { applyRolloutStep, RolloutStepFlags } from "./rolloutStep";

/** `herd promote`: moves a fleet's rollout to its next wave in the stack file. */
export function addPromoteCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    cli.command("promote")
        .summary("move a fleet to its next rollout wave in the stack file")
        .description(
            "move a fleet's rollout to its next wave (1 → 10 → all by default) by rewriting rollout.members in Pulumi.<stack>.yaml, " +
                "keeping its comments and layout, then print the plan of that step; at all, rollout.previous is dropped",
        )
        .argument("<fleet>", "the fleet to promote")
        .requiredOption("-s, --stack <name>", "the stack: rewrites Pulumi.<name>.yaml")
        .option("-f, --force", "rewrite the stack file even if it has uncommitted changes")
        .option("--json", "print the step and its plan as JSON")
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .option("-p, --program <path>", "the program's entry module (default: <projectDir>/index.ts)")
        .action(async (fleet: string, flags: RolloutStepFlags) => {
            exit(await applyRolloutStep(fleet, flags, io, promoteStackFile));
        });
}
