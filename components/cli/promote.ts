import { Command } from "commander";
import { promoteStackFile } from "./edit";
import { CliIo } from "./io";
import { addRolloutStepCommand } from "./rolloutStep";

/** `herd promote`: moves a fleet's rollout to its next wave in the stack file. */
export function addPromoteCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    addRolloutStepCommand(cli, io, exit, {
        name: "promote",
        summary: "move a fleet to its next rollout wave in the stack file",
        description:
            "move a fleet's rollout to its next wave (1 → 10 → all by default) by rewriting rollout.members in Pulumi.<stack>.yaml, " +
            "keeping its comments and layout, then print the plan of that step; at all, rollout.previous is dropped. " +
            "A fleet with a gate is promoted only while its gate holds",
        fleet: "the fleet to promote",
        edit: promoteStackFile,
    });
}
