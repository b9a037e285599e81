import { Command } from "commander";
import { CliIo } from "./io";
import { locateProject, readStackText } from "./project";
import { planStack, printPlan } from "./stackPlan";

interface PlanFlags {
    readonly stack: string;
    readonly against: string;
    readonly json?: boolean;
    readonly dir?: string;
    readonly program?: string;
}

/** `herd plan`: what each slot runs, and what would change against a git revision of the stack file. */
export function addPlanCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    cli.command("plan")
        .summary("show what each slot runs and what would change against a git revision")
        .description(
            "evaluate the program for a stack under mocks (no cloud, no Pulumi CLI) and show each slot's generation, release and wave, " +
                "and which members would be created, replaced or deleted, batch by batch, against a git revision of the stack file",
        )
        .requiredOption("-s, --stack <name>", "the stack: reads Pulumi.<name>.yaml")
        .option("-a, --against <revision>", "git revision of the stack file to compare with", "HEAD")
        .option("--json", "print the plan as JSON")
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .option("-p, --program <path>", "the program's entry module (default: <projectDir>/index.ts)")
        .action(async (flags: PlanFlags) => {
            const project = locateProject(flags, io.cwd);
            const plan = await planStack(project, readStackText(project), flags.against);
            exit(printPlan(plan, project, flags.json === true, io));
        });
}
