import { Command } from "commander";
import { rollbackStackFile } from "./edit";
import { CliIo } from "./io";
import { addRolloutStepCommand } from "./rolloutStep";

/** `herd rollback`: puts every slot of a fleet back on its previous release in the stack file. */
export function addRollbackCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    addRolloutStepCommand(cli, io, exit, {
        name: "rollback",
        summary: "put a fleet back on its previous release in the stack file",
        description:
            "put every slot of a fleet back on rollout.previous by setting rollout.members to 0 in Pulumi.<stack>.yaml, " +
            "keeping its comments and layout, then print the plan of that step",
        fleet: "the fleet to roll back",
        edit: rollbackStackFile,
    });
}
