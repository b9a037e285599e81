import { Command, Option } from "commander";
import { hasUncommittedChanges, projectFilesDiffer, revisionExists } from "./git";
import { CliError, CliIo, ExitCode } from "./io";
import { planPreflight } from "./preflight";
import { locateProject, readStackText, StackProject } from "./project";
import type { Plan } from "./report";
import { planStack, PlanFormat, printPlan } from "./stackPlan";

interface PlanFlags {
    readonly stack: string[];
    readonly against?: string;
    readonly fleet?: string;
    readonly format?: PlanFormat;
    readonly json?: boolean;
    readonly dir?: string;
    readonly program?: string;
}

/** The revision `herd plan` compares with when none is given, and the line that says why. */
export interface DefaultRevision {
    /** `null` when HEAD is the repository's first commit: every member is created. */
    readonly against: string | null;
    /** Printed before the plan when it is not the work tree against HEAD. */
    readonly note?: string;
}

/**
 * What `herd plan` compares with by default: the work tree against `HEAD` while the stack file
 * or the project's other files have uncommitted changes; once they are committed, the last
 * commit's change (`HEAD~1` → `HEAD`), so that "change, commit, plan" shows the change.
 */
export function defaultRevision(project: StackProject): DefaultRevision {
    if (hasUncommittedChanges(project.dir, project.stackFileName) || projectFilesDiffer(project.dir, "HEAD", project.stackFileName)) {
        return { against: "HEAD" };
    }
    const clean = `${project.stackFileName} and the project's files have no uncommitted changes`;
    if (!revisionExists(project.dir, "HEAD~1")) {
        return { against: null, note: `${clean}, and HEAD is the first commit: showing everything it creates.` };
    }
    return { against: "HEAD~1", note: `${clean}: showing the last commit's change, HEAD~1 → HEAD (--against <rev> compares with another).` };
}

/** The plan of one fleet: its slots, its changes and what a protected stack refuses of it. */
export function planOfFleet(plan: Plan, fleet: string): Plan {
    const changes = plan.changes.filter((c) => c.fleet === fleet);
    if (!plan.fleets.some((f) => f.name === fleet) && changes.length === 0) {
        const names = plan.fleets.map((f) => f.name);
        throw new CliError(`unknown fleet "${fleet}" in stack "${plan.stack}": ${names.length > 0 ? `fleets are ${names.join(", ")}` : "it has no fleets"}`);
    }
    const summary = { create: 0, replace: 0, update: 0, delete: 0 };
    changes.forEach((c) => summary[c.action]++);
    return { ...plan, fleets: plan.fleets.filter((f) => f.name === fleet), changes, summary, refusals: plan.refusals.filter((r) => r.fleet === fleet) };
}

/** The exit code of several plans: a refusal first, then changes. */
function worst(codes: readonly number[]): number {
    for (const code of [ExitCode.Refused, ExitCode.Changes]) {
        if (codes.includes(code)) {
            return code;
        }
    }
    return ExitCode.Ok;
}

/** `herd plan`: what each slot runs, and what would change against a git revision of the stack file. */
export function addPlanCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    cli.command("plan")
        .summary("show what each slot runs and what would change against a git revision")
        .description(
            "evaluate the program for a stack under mocks (no cloud, no Pulumi CLI) and show each slot's generation, release and wave, " +
                "and which members would be created, replaced or deleted, batch by batch, against a git revision of the stack file. " +
                "Without --against: the work tree against HEAD while there are uncommitted changes, else the last commit's change (HEAD~1 → HEAD). " +
                "In a protected stack (herd:protected: true), a change that moves more than the first wave to a new release is refused: exit code 3. " +
                "OpenStack fleets get a preflight: what the change needs at its peak under a plain pulumi up and under herd apply, against Nova's limits " +
                "(when OS_* reach the cloud) or herd:openstack.quota; a change that does not fit even under herd apply is refused: exit code 3",
        )
        .requiredOption("-s, --stack <name...>", "the stack (reads Pulumi.<name>.yaml); several stacks are planned one after the other")
        .option("-a, --against <revision>", "git revision of the stack file to compare with (default: HEAD, or HEAD~1 when nothing is uncommitted)")
        .option("--fleet <name>", "show this fleet only")
        .addOption(new Option("--format <format>", "text for people, json for machines, markdown for a pull request comment").choices(["text", "json", "markdown"]).default("text"))
        .option("--json", "the same as --format json")
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .option("-p, --program <path>", "the program's entry module (default: <projectDir>/index.ts)")
        .action(async (flags: PlanFlags) => {
            const format: PlanFormat = flags.json ? "json" : (flags.format ?? "text");
            const codes: number[] = [];
            const plans: Plan[] = [];
            for (const [i, stack] of flags.stack.entries()) {
                const project = locateProject({ ...flags, stack }, io.cwd);
                const revision: DefaultRevision = flags.against === undefined ? defaultRevision(project) : { against: flags.against };
                const text = readStackText(project);
                const whole = await planStack(project, text, revision.against);
                const plan = flags.fleet === undefined ? whole : planOfFleet(whole, flags.fleet);
                // What each backend checks of the change (OpenStack: its peak against the project's quota and hosts).
                const checked = await planPreflight(project, text, revision.against, process.env, flags.fleet);
                if (checked && checked.problems.length > 0) {
                    checked.problems.forEach((problem) => io.stderr(`herd: refused by the preflight of stack ${stack}: ${problem}\n`));
                    codes.push(ExitCode.Refused);
                }
                if (format !== "text") {
                    // The text plan ends with them; JSON and Markdown go to files and comments, so CI logs get them here.
                    plan.refusals.forEach((refusal) => io.stderr(`herd: refused in protected stack ${stack}: ${refusal.message}\n`));
                }
                if (format === "json") {
                    plans.push(plan);
                    codes.push(printPlan(plan, project, format, () => undefined));
                    continue;
                }
                if (i > 0) {
                    io.stdout("\n");
                }
                if (revision.note) {
                    io.stdout(format === "markdown" ? `_${revision.note}_\n\n` : `${revision.note}\n\n`);
                }
                codes.push(printPlan(plan, project, format, io.stdout));
                if (checked) {
                    io.stdout(format === "markdown" ? `\n\`\`\`\n${checked.report}\`\`\`\n` : `\n${checked.report}`);
                }
            }
            if (format === "json") {
                io.stdout(`${JSON.stringify(plans.length === 1 ? plans[0] : plans, null, 2)}\n`);
            }
            exit(worst(codes));
        });
}
