import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import * as YAML from "yaml";
import { FLEETS_KEY, parseRollouts, parseStackFile, ROLLOUTS_KEY, stackFilePath } from "../config";
import { parseFleets } from "../fleet/config";
import { fleetBackend } from "../fleet/backends";
import { describeFsError } from "./atomicWrite";
import { CodeFleetShape, hasSecrets, releaseStackFile, RolloutEdit, stackFleets } from "./edit";
import { CliError, CliIo } from "./io";
import { stackConfigOf, StackProject } from "./project";
import { applyRolloutStep, RolloutStepFlags } from "./rolloutStep";

/** Flags of `herd release`. */
interface ReleaseFlags extends RolloutStepFlags {
    readonly image?: string;
    readonly flavor?: string;
    readonly network?: string;
    readonly keyPair?: string;
    readonly userData?: string;
    readonly port?: string;
    readonly set: string[];
    readonly releaseFile?: string;
    readonly fromStack?: string;
    readonly waves?: string;
    readonly all?: boolean;
}

/** The release flags, by the release key they set. */
const KEY_FLAGS = [
    ["image", "image"],
    ["flavor", "flavor"],
    ["network", "network"],
    ["keyPair", "key-pair"],
    ["userData", "user-data"],
] as const;

function collect(value: string, previous: string[]): string[] {
    return [...previous, value];
}

/** `--set key=value`: the value read as YAML, so `port=8080` is a number and `env={A: "1"}` a map. */
function parseSet(assignment: string): [string, unknown] {
    const match = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/s.exec(assignment);
    if (!match) {
        throw new CliError(`--set ${JSON.stringify(assignment)}: expected key=value, e.g. --set image=registry.example.org/api@sha256:… (a value is read as YAML; key=null removes the key)`);
    }
    let value: unknown;
    try {
        value = YAML.parse(match[2]);
    } catch (err) {
        throw new CliError(`--set ${match[1]}: the value is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    return [match[1], value ?? null];
}

function readFragment(file: string, cwd: string): Record<string, unknown> {
    const where = path.resolve(cwd, file);
    let text: string;
    try {
        text = fs.readFileSync(where, "utf8");
    } catch (err) {
        throw new CliError(`cannot read --release-file ${file}: ${describeFsError(err)}`);
    }
    let value: unknown;
    try {
        value = YAML.parse(text);
    } catch (err) {
        throw new CliError(`--release-file ${file} is not valid YAML or JSON: ${(err as Error).message.split("\n")[0]}`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new CliError(`--release-file ${file}: expected a map of release keys (image, flavor, port, …), e.g. {"image": "…"}`);
    }
    return value as Record<string, unknown>;
}

function parseWaves(text: string): number[] {
    const waves = text.split(",").map((part) => Number(part.trim()));
    if (waves.length === 0 || waves.some((wave, i) => !Number.isSafeInteger(wave) || wave < 1 || (i > 0 && wave <= waves[i - 1]))) {
        throw new CliError(`--waves ${text}: expected whole numbers ≥ 1, strictly ascending, separated by commas, e.g. 1,10`);
    }
    return waves;
}

/** Releases of VMs and of containers are not interchangeable: what a backend's members run (`FleetBackend.releaseKind`). */
function kind(backend: string): string {
    return fleetBackend(backend)?.releaseKind ?? backend;
}

/**
 * The release a fleet runs in another stack: its `release` (whatever its rollout there: the
 * release the whole fleet is moving to), and a note when that stack is still rolling it out.
 */
function releaseInStack(project: StackProject, stack: string, fleet: string, target: { backend: string; section: string }): { release: Record<string, unknown>; notes: string[] } {
    const file = stackFilePath(project.dir, stack);
    const fileName = path.basename(file);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new CliError(`--from-stack ${stack}: cannot read ${fileName}: ${describeFsError(err)}`);
    }
    const config = stackConfigOf(text, fileName);
    const yamlFleets = config[FLEETS_KEY] === undefined ? {} : parseFleets(config[FLEETS_KEY], stack);
    const rollouts = parseRollouts(config[ROLLOUTS_KEY], stack);
    const source = yamlFleets[fleet];
    if (!source && !(fleet in rollouts) && target.section === FLEETS_KEY) {
        throw new CliError(`--from-stack ${stack}: stack "${stack}" (${fileName}) has no fleet "${fleet}"`);
    }
    if (source && target.section === FLEETS_KEY && kind(source.backend) !== kind(target.backend)) {
        throw new CliError(
            `--from-stack ${stack}: fleet ${fleet} runs on ${source.backend} in stack "${stack}" and on ${target.backend} here: a ${kind(source.backend)} release does not fit a ${kind(target.backend)} fleet; give the release with flags instead`,
        );
    }
    const section = source ? FLEETS_KEY : ROLLOUTS_KEY;
    const raw = ((parseStackFile(text, fileName)[section] as Record<string, { release?: unknown }> | undefined)?.[fleet]?.release ?? {}) as Record<string, unknown>;
    if (hasSecrets(raw)) {
        throw new CliError(
            `--from-stack ${stack}: the release of fleet ${fleet} in stack "${stack}" holds encrypted values, which only that stack's key can read: set them in this stack with \`pulumi config set --secret --path\`, and give the rest with flags`,
        );
    }
    const notes = [`The release of fleet ${fleet} in stack "${stack}" (${fileName}).`];
    const rollout = source ? source.rollout : rollouts[fleet]?.rollout;
    if (rollout && (!source || rollout.members < source.size)) {
        notes.push(`Note: stack "${stack}" is still rolling it out (rollout.members: ${rollout.members}${source ? ` of ${source.size}` : ""}).`);
    }
    return { release: raw, notes };
}

/** The new release: the base (this stack's, or another's), then --release-file, --set and the key flags over it. */
function newRelease(flags: ReleaseFlags, base: Readonly<Record<string, unknown>>, io: CliIo): Record<string, unknown> {
    const release: Record<string, unknown> = { ...base };
    if (flags.releaseFile !== undefined) {
        Object.assign(release, readFragment(flags.releaseFile, io.cwd));
    }
    for (const assignment of flags.set) {
        const [key, value] = parseSet(assignment);
        release[key] = value;
    }
    for (const [key] of KEY_FLAGS) {
        if (flags[key] !== undefined) {
            release[key] = flags[key];
        }
    }
    if (flags.network !== undefined) {
        release.networks = null;
    }
    if (flags.port !== undefined) {
        const port = Number(flags.port);
        if (!Number.isSafeInteger(port)) {
            throw new CliError(`--port ${flags.port}: expected a port number, 1–65535`);
        }
        release.port = port;
    }
    return release;
}

function describeRelease(step: RolloutEdit, project: StackProject): string {
    const where = `${step.section}.${step.fleet}`;
    if (step.complete) {
        return `Released fleet ${step.fleet} in ${project.stackFileName} to every slot at once: ${where}.release is the new release, and there is no rollout.`;
    }
    const slots = step.to === 1 ? "slot 0 moves" : `slots 0–${step.to - 1} move`;
    return (
        `Started the rollout of fleet ${step.fleet} in ${project.stackFileName}: ${where}.release is the new release, ` +
        `${where}.rollout.previous the one it ran, rollout.members ${step.to}: ${slots} to it. ` +
        `The next waves: \`herd promote ${step.fleet} --stack ${project.stack}\`.`
    );
}

/** `herd release`: starts a rollout of a new release in the stack file. */
export function addReleaseCommand(cli: Command, io: CliIo, exit: (code: number) => void): void {
    cli.command("release")
        .summary("start a rollout of a new release in the stack file")
        .description(
            "start a rollout of a new release of a fleet in Pulumi.<stack>.yaml: the release it runs becomes rollout.previous, " +
                "the new one release, and rollout.members the first wave; comments and layout stay. " +
                "The new release is the current one (or, with --from-stack, the one the fleet has in another stack) " +
                "with --release-file, then --set, then the key flags laid over it. Refused while a rollout is under way: " +
                "finish it with herd promote, or go back with herd rollback",
        )
        .argument("<fleet>", "the fleet to release")
        .requiredOption("-s, --stack <name>", "the stack: rewrites Pulumi.<name>.yaml")
        .option("--image <image>", "release.image: an image ID (OpenStack) or a reference pinned by digest (containers)")
        .option("--flavor <flavor>", "release.flavor (OpenStack)")
        .option("--network <network>", "release.network (OpenStack; replaces release.networks)")
        .option("--key-pair <name>", "release.keyPair (OpenStack)")
        .option("--user-data <path>", "release.userData: a #cloud-config file of the project (OpenStack)")
        .option("--port <port>", "release.port (containers)")
        .option("--set <key=value>", "any release key; the value is read as YAML (env={LOG_LEVEL: debug}); key=null removes it; repeatable", collect, [])
        .option("--release-file <file>", "a YAML or JSON file of release keys to lay over the release")
        .option("--from-stack <stack>", "take the release the fleet has in another stack (its release, even mid-rollout there)")
        .option("--waves <list>", "the rollout's waves, e.g. 1,10 (default: [1, 10], then all)")
        .option("--all", "move every slot at once, with no rollout (refused in a protected stack)")
        .option("-f, --force", "rewrite the stack file even if it has uncommitted changes")
        .option("--json", "print the step and its plan as JSON")
        .option("-d, --dir <projectDir>", "the Pulumi project directory (default: the current directory)")
        .option("-p, --program <path>", "the program's entry module (default: <projectDir>/index.ts)")
        .action(async (fleet: string, flags: ReleaseFlags) => {
            const given = flags.releaseFile !== undefined || flags.fromStack !== undefined || flags.set.length > 0 || flags.port !== undefined || KEY_FLAGS.some(([key]) => flags[key] !== undefined);
            if (!given) {
                throw new CliError("no new release: give it with --image (and --flavor, --port, … ), --set key=value, --release-file or --from-stack");
            }
            const waves = flags.waves === undefined ? undefined : parseWaves(flags.waves);
            const notes: string[] = [];
            exit(
                await applyRolloutStep(fleet, flags, io, {
                    gate: false,
                    notes,
                    edit: (text, fileName, stack, name, codeFleets: Readonly<Record<string, CodeFleetShape>>) => {
                        const project = { dir: path.resolve(io.cwd, flags.dir ?? "."), stack, stackFileName: fileName } as StackProject;
                        const { entries } = stackFleets(stackConfigOf(text, fileName), stack, codeFleets);
                        const target = entries[name];
                        let base: Readonly<Record<string, unknown>> = target?.release ?? {};
                        if (flags.fromStack !== undefined && target) {
                            if (flags.fromStack === stack) {
                                throw new CliError(`--from-stack ${stack}: that is the stack being released to; name the stack the release was proven in`);
                            }
                            const taken = releaseInStack(project, flags.fromStack, name, target);
                            base = taken.release;
                            notes.push(...taken.notes);
                        }
                        return releaseStackFile(text, fileName, stack, name, { release: newRelease(flags, base, io), waves, all: flags.all }, codeFleets);
                    },
                    describe: describeRelease,
                }),
            );
        });
}
