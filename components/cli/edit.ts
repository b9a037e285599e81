import { isDeepStrictEqual } from "node:util";
import { CST, Parser } from "yaml";
import { FLEETS_KEY, parseProtected, parseRollouts, parseStackFile, PROTECTED_KEY, ROLLOUTS_KEY } from "../config";
import { parseFleets } from "../fleet/config";
import { canonicalJson } from "../release";
import { membersOnRelease, nextWave, slotsBetween, waveSchedule } from "../rollout";
import { CliError } from "./io";
import { stackConfigOf } from "./project";
import { isSecureValue, withOpaqueSecrets } from "./secrets";
import { flow, StackTextEditor } from "./stackText";

/** A rewrite of one fleet's rollout in a stack file. */
export interface RolloutEdit {
    readonly fleet: string;
    /** Where the fleet's rollout is: `herd:fleets`, or `herd:rollouts` for a fleet built in code. */
    readonly section: FleetSection;
    /** The new text of the stack file. */
    readonly text: string;
    /** Slots on the release before and after. */
    readonly from: number;
    readonly to: number;
    /** The slots that change release. */
    readonly slots: readonly number[];
    /** `true` when every slot now runs the release and the `rollout` block was removed. */
    readonly complete: boolean;
}

type Path = readonly string[];

/**
 * A stack file's text, edited through the `yaml` package's concrete syntax tree: only the edited
 * nodes change, so comments, key order, quoting and spacing stay byte for byte.
 */
class SourceEditor {
    private readonly tokens: CST.Token[];

    constructor(text: string) {
        this.tokens = [...new Parser().parse(text)];
    }

    private root(): CST.Token | undefined {
        const doc = this.tokens.find((t): t is CST.Document => t.type === "document");
        return doc?.value;
    }

    /** The collection holding the pair at `path`, and the pair's index in it. */
    private locate(path: Path): { collection: CST.BlockMap | CST.FlowCollection; index: number } | undefined {
        let node = this.root();
        let found: { collection: CST.BlockMap | CST.FlowCollection; index: number } | undefined;
        for (const key of path) {
            if (!node || (node.type !== "block-map" && node.type !== "flow-collection")) {
                return undefined;
            }
            const collection: CST.BlockMap | CST.FlowCollection = node;
            const index = collection.items.findIndex((item) => item.key && CST.resolveAsScalar(item.key)?.value === key);
            if (index < 0) {
                return undefined;
            }
            found = { collection, index };
            node = collection.items[index].value;
        }
        return found;
    }

    /** Sets the plain scalar at `path` (which exists) to `value`, keeping its trailing comment. */
    setNumber(path: Path, value: number): void {
        const at = this.locate(path);
        const node = at?.collection.items[at.index].value;
        if (!node || !CST.isScalar(node)) {
            throw new Error(`${path.join(".")} is not a scalar`);
        }
        CST.setScalarValue(node, String(value));
    }

    /** Removes the pair at `path`, with the comment lines above it unless it is the first key of its map. */
    remove(path: Path): void {
        const at = this.locate(path);
        if (!at) {
            return;
        }
        const { collection, index } = at;
        collection.items.splice(index, 1);
        const next = collection.items[index];
        if (index === 0 && next) {
            if (collection.type === "block-map") {
                // The indentation of a block map's first key sits before it, in the parent.
                const start = next.start.findIndex((t) => t.type !== "newline" && t.type !== "space");
                next.start.splice(0, start < 0 ? next.start.length : start);
            } else {
                next.start.splice(0, next.start.findIndex((t) => t.type === "comma") + 1);
            }
        }
    }

    toString(): string {
        return this.tokens.map((token) => CST.stringify(token)).join("");
    }
}

/** What a fleet built in code looks like once the program has run: the CLI learns its size there. */
export interface CodeFleetShape {
    /** `openstack`, `kubernetes`, `docker`, or the provider of its members. */
    readonly backend: string;
    readonly size: number;
}

/** Where a fleet's release and rollout are kept: `herd:fleets` (fleets in YAML) or `herd:rollouts` (fleets built in code). */
export type FleetSection = typeof FLEETS_KEY | typeof ROLLOUTS_KEY;

/** A fleet's release and rollout as a stack file holds them, wherever they are. */
export interface FleetEntry {
    readonly name: string;
    readonly section: FleetSection;
    readonly backend: string;
    readonly size: number;
    /** The release as written (for a fleet built in code, the keys pinned over the program's; `{}` when none). */
    readonly release: Readonly<Record<string, unknown>>;
    readonly rollout?: { readonly previous?: Readonly<Record<string, unknown>>; readonly members: number; readonly waves?: readonly number[] };
}

/** A stack file's config, its fleets in YAML and the state of its fleets built in code, validated. */
export interface StackFleets {
    readonly config: Record<string, unknown>;
    readonly protected: boolean;
    readonly entries: Readonly<Record<string, FleetEntry>>;
}

/**
 * Reads the fleets of a stack config: those of `herd:fleets`, and those built in code whose
 * shape (`codeFleets`, from running the program) is known, with their `herd:rollouts` state.
 *
 * @throws ConfigError when `herd:fleets`, `herd:rollouts` or `herd:protected` is invalid, or
 * `herd:rollouts` pins a fleet that `herd:fleets` defines
 */
export function stackFleets(config: Record<string, unknown>, stack: string, codeFleets: Readonly<Record<string, CodeFleetShape>> = {}): StackFleets {
    // A project that builds its fleets in code has no herd:fleets; the program says whether it needs one.
    const fleets = config[FLEETS_KEY] === undefined ? {} : parseFleets(config[FLEETS_KEY], stack);
    const rollouts = parseRollouts(config[ROLLOUTS_KEY], stack);
    const both = Object.keys(rollouts).filter((name) => fleets[name] !== undefined);
    if (both.length > 0) {
        throw new CliError(
            `fleet ${both.join(", ")} is in both ${FLEETS_KEY} and ${ROLLOUTS_KEY} of stack "${stack}": ${ROLLOUTS_KEY} is for fleets built in code; a fleet of ${FLEETS_KEY} keeps its release and rollout there`,
        );
    }
    const entries: Record<string, FleetEntry> = {};
    for (const [name, fleet] of Object.entries(fleets)) {
        entries[name] = { name, section: FLEETS_KEY, backend: fleet.backend, size: fleet.size, release: fleet.release, ...(fleet.rollout ? { rollout: fleet.rollout } : {}) };
    }
    for (const [name, shape] of Object.entries(codeFleets)) {
        if (entries[name]) {
            continue;
        }
        const state = rollouts[name];
        const rollout = state?.rollout;
        if (rollout && rollout.members > shape.size) {
            throw new CliError(
                `${ROLLOUTS_KEY}.${name}.rollout.members = ${rollout.members} in stack "${stack}": expected a whole number from 0 to the size of fleet ${name} (${shape.size}, as the program builds it)`,
            );
        }
        entries[name] = { name, section: ROLLOUTS_KEY, backend: shape.backend, size: shape.size, release: state?.release ?? {}, ...(rollout ? { rollout } : {}) };
    }
    return { config, protected: parseProtected(config[PROTECTED_KEY], stack), entries };
}

interface Loaded {
    readonly config: Record<string, unknown>;
    readonly protected: boolean;
    readonly fleet: FleetEntry;
}

function load(text: string, fileName: string, stack: string, fleetName: string, codeFleets: Readonly<Record<string, CodeFleetShape>>): Loaded {
    const config = stackConfigOf(text, fileName);
    const { entries, protected: isProtected } = stackFleets(config, stack, codeFleets);
    const fleet = entries[fleetName];
    if (!fleet) {
        const names = Object.keys(entries);
        throw new CliError(
            `unknown fleet "${fleetName}" in stack "${stack}" (${fileName}): ${names.length > 0 ? `fleets are ${names.join(", ")}` : "it has no fleets"}`,
        );
    }
    return { config, protected: isProtected, fleet };
}

/** The config the edited text must parse to: the old one with only this fleet's `key` changed (removed when `undefined`). */
function expectedConfig(config: Record<string, unknown>, fleet: FleetEntry, changes: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const section = structuredClone((config[fleet.section] as Record<string, Record<string, unknown>> | undefined) ?? {});
    const entry = section[fleet.name] ?? {};
    for (const [key, value] of Object.entries(changes)) {
        if (value === undefined) {
            delete entry[key];
        } else {
            entry[key] = value;
        }
    }
    section[fleet.name] = entry;
    return { ...config, [fleet.section]: section };
}

function finish(
    text: string,
    loaded: Loaded,
    fileName: string,
    stack: string,
    changes: Readonly<Record<string, unknown>>,
    codeFleets: Readonly<Record<string, CodeFleetShape>>,
): string {
    const after = stackConfigOf(text, fileName);
    if (!isDeepStrictEqual(after, expectedConfig(loaded.config, loaded.fleet, changes))) {
        const keys = Object.keys(changes).map((key) => `${loaded.fleet.section}.${loaded.fleet.name}.${key}`);
        throw new CliError(`could not rewrite ${fileName} without changing more than ${keys.join(" and ")}; edit it by hand`);
    }
    stackFleets(after, stack, codeFleets);
    return text;
}

function pathOf(fleet: FleetEntry, ...keys: string[]): string[] {
    return ["config", fleet.section, fleet.name, ...keys];
}

/** How to start a rollout, for the messages that find none. */
function rolloutHint(fleet: FleetEntry, stack: string): string {
    return `start one with \`herd release ${fleet.name} --stack ${stack}\` and the new release`;
}

/**
 * Moves a fleet's rollout to its next wave (1 → 10 → all with the default waves). At all, the
 * rollout is finished: the whole `rollout` block goes, so the file is what it would be had the
 * release always been there, and the fleet can grow.
 *
 * @param text the stack file's text; the result keeps its comments and layout
 * @param codeFleets the shape of the fleets built in code, when the fleet is one of them
 * @throws CliError when the fleet is unknown or already runs its release on every slot;
 * ConfigError when the stack's config is invalid
 */
export function promoteStackFile(
    text: string,
    fileName: string,
    stack: string,
    fleetName: string,
    codeFleets: Readonly<Record<string, CodeFleetShape>> = {},
): RolloutEdit {
    const loaded = load(text, fileName, stack, fleetName, codeFleets);
    const { fleet } = loaded;
    const from = membersOnRelease(fleet.size, fleet.rollout);
    const to = nextWave(fleet.size, from, fleet.rollout?.waves);
    if (!fleet.rollout || to === undefined) {
        throw new CliError(`nothing to promote: all ${fleet.size} slots of fleet "${fleetName}" already run its release (${rolloutHint(fleet, stack)})`);
    }
    const complete = to === fleet.size;
    const path = pathOf(fleet, "rollout");
    const editor = new SourceEditor(text);
    let rollout: unknown;
    if (!complete) {
        editor.setNumber([...path, "members"], to);
        rollout = { ...(loaded.config[fleet.section] as Record<string, Record<string, object>>)[fleetName].rollout, members: to };
    } else {
        editor.remove(path);
        rollout = undefined;
    }
    return {
        fleet: fleetName,
        section: fleet.section,
        text: finish(editor.toString(), loaded, fileName, stack, { rollout }, codeFleets),
        from,
        to,
        slots: slotsBetween(from, to),
        complete,
    };
}

/**
 * Puts every slot of a fleet back on `rollout.previous` (`members: 0`).
 *
 * @throws CliError when the fleet is unknown, has no `rollout.previous` to go back to, or has no
 * slot on the release; ConfigError when the stack's config is invalid
 */
export function rollbackStackFile(
    text: string,
    fileName: string,
    stack: string,
    fleetName: string,
    codeFleets: Readonly<Record<string, CodeFleetShape>> = {},
): RolloutEdit {
    const loaded = load(text, fileName, stack, fleetName, codeFleets);
    const { fleet } = loaded;
    if (!fleet.rollout?.previous) {
        throw new CliError(
            `nothing to roll back: fleet "${fleetName}" has no rollout.previous to go back to` +
                " (to undo a finished rollout, git revert the commit that finished it)",
        );
    }
    const from = fleet.rollout.members;
    if (from === 0) {
        throw new CliError(`nothing to roll back: no slot of fleet "${fleetName}" runs its release (rollout.members is already 0)`);
    }
    const editor = new SourceEditor(text);
    editor.setNumber(pathOf(fleet, "rollout", "members"), 0);
    const rollout = { ...(loaded.config[fleet.section] as Record<string, Record<string, object>>)[fleetName].rollout, members: 0 };
    return {
        fleet: fleetName,
        section: fleet.section,
        text: finish(editor.toString(), loaded, fileName, stack, { rollout }, codeFleets),
        from,
        to: 0,
        slots: slotsBetween(from, 0),
        complete: false,
    };
}

/** What `herd release` changes: the new release and how it starts. */
export interface ReleaseChange {
    /**
     * The new release, whole (for a fleet built in code, the keys pinned over the program's
     * release). Keys given `null` are removed.
     */
    readonly release: Readonly<Record<string, unknown>>;
    /** The rollout's waves. @default the waves of the rollout block, else [1, 10] */
    readonly waves?: readonly number[];
    /** Move every slot at once, with no rollout: refused in a protected stack. @default false */
    readonly all?: boolean;
}

/** A rewrite of a fleet's release in a stack file: the rollout it starts. */
export interface ReleaseEdit extends RolloutEdit {
    /** The release the fleet ran, now `rollout.previous` (unless `all`). */
    readonly previous: Readonly<Record<string, unknown>>;
    /** The new release. */
    readonly release: Readonly<Record<string, unknown>>;
}

function withoutNulls(release: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(release).filter(([, value]) => value !== null && value !== undefined));
}

/**
 * Starts a rollout of a new release: the release the fleet runs becomes `rollout.previous`, the
 * new one `release`, and `rollout.members` the first wave. A fleet rolled back (`members: 0`)
 * starts again from the release its slots run, `previous`. With `all` (unprotected stacks
 * only), every slot moves at once and there is no rollout.
 *
 * @param text the stack file's text; the result keeps its comments and layout, and the new
 * `rollout.previous` keeps the old release's lines, comments included
 * @throws CliError when the fleet is unknown, a rollout is under way, the release is the one it
 * runs, or `all` is asked in a protected stack; ConfigError when the new config is invalid
 */
export function releaseStackFile(
    text: string,
    fileName: string,
    stack: string,
    fleetName: string,
    change: ReleaseChange,
    codeFleets: Readonly<Record<string, CodeFleetShape>> = {},
): ReleaseEdit {
    const loaded = load(text, fileName, stack, fleetName, codeFleets);
    const { fleet } = loaded;
    // The text is edited with the values as written: an encrypted value that stays is kept as its ciphertext.
    const raw = ((parseStackFile(text, fileName)[fleet.section] as Record<string, Record<string, unknown>> | undefined)?.[fleetName] ?? {}) as Record<string, unknown>;
    const rollout = fleet.rollout;
    const rolledBack = rollout !== undefined && rollout.members === 0 && rollout.previous !== undefined;
    if (rollout && rollout.members > 0 && rollout.members < fleet.size) {
        throw new CliError(
            `fleet "${fleetName}" is in the middle of a rollout (${rollout.members}/${fleet.size} slots on its release): ` +
                `finish it with \`herd promote ${fleetName} --stack ${stack}\` (until every slot runs it), or go back with \`herd rollback ${fleetName} --stack ${stack}\`, then release again`,
        );
    }
    if (change.all && loaded.protected) {
        throw new CliError(
            `stack "${stack}" is protected (${PROTECTED_KEY}: true): a new release reaches the first wave first; drop --all, then move the next waves with \`herd promote ${fleetName} --stack ${stack}\``,
        );
    }
    const rawRelease = (raw.release ?? {}) as Record<string, unknown>;
    const release = Object.fromEntries(
        Object.entries(withoutNulls(change.release)).map(([key, value]) => [key, isDeepStrictEqual(value, withOpaqueSecrets(rawRelease[key])) ? rawRelease[key] : value]),
    );
    // What the slots run now: `previous` after a rollback, else the release.
    const running = (rolledBack ? (raw.rollout as Record<string, unknown>).previous : rawRelease) as Record<string, unknown>;
    if (canonicalJson(release) === canonicalJson(running)) {
        throw new CliError(`nothing to release: every slot of fleet "${fleetName}" in stack "${stack}" runs that release already`);
    }
    const waves = change.waves ?? rollout?.waves;
    const first = waveSchedule(fleet.size, waves)[0] ?? 0;
    const editor = new StackTextEditor(text);
    const releasePath = pathOf(fleet, "release");
    const rolloutPath = pathOf(fleet, "rollout");
    const entryExists = editor.pair(pathOf(fleet)) !== undefined;
    if (entryExists && !editor.isBlockPair(pathOf(fleet, "release"))) {
        throw new CliError(`${fleet.section}.${fleetName} in ${fileName} is written in flow style ({ … }): write it in block style (one key per line) for herd release to rewrite it`);
    }
    const rolloutLines = (indent: number, previousSource: string) =>
        `${" ".repeat(indent)}rollout:\n` +
        `${" ".repeat(indent + 2)}previous:${previousSource}\n` +
        `${" ".repeat(indent + 2)}members: ${first}\n` +
        (change.waves ? `${" ".repeat(indent + 2)}waves: ${flow(change.waves)}\n` : "");
    let newRollout: unknown;
    if (!entryExists) {
        // A fleet built in code with nothing pinned yet: its previous release is the program's own ({}).
        newRollout = change.all ? undefined : { previous: {}, members: first, ...(change.waves ? { waves: change.waves } : {}) };
        editor.appendPair(["config", fleet.section], fleetName, (indent) =>
            `${" ".repeat(indent)}${fleetName}:\n${" ".repeat(indent + 2)}release: ${flow(release)}\n` + (change.all ? "" : rolloutLines(indent + 2, " {}")),
        );
    } else {
        const hasRelease = editor.pair(releasePath) !== undefined;
        if (change.all) {
            newRollout = undefined;
            if (editor.pair(rolloutPath)) {
                editor.replacePair(rolloutPath, () => "");
            }
        } else if (rolledBack) {
            const kept = raw.rollout as Record<string, unknown>;
            newRollout = { ...kept, members: first, ...(change.waves ? { waves: change.waves } : {}) };
            const members = editor.pair([...rolloutPath, "members"]);
            if (!members || !editor.isBlockPair([...rolloutPath, "members"])) {
                throw new CliError(`${fleet.section}.${fleetName}.rollout in ${fileName} is written in flow style: write it in block style for herd release to rewrite it`);
            }
            editor.replacePair([...rolloutPath, "members"], (indent) => `${" ".repeat(indent)}members: ${first}\n`);
            if (change.waves) {
                if (editor.pair([...rolloutPath, "waves"])) {
                    editor.replacePair([...rolloutPath, "waves"], (indent) => `${" ".repeat(indent)}waves: ${flow(change.waves)}\n`);
                } else {
                    editor.insertAfter([...rolloutPath, "members"], (indent) => `${" ".repeat(indent)}waves: ${flow(change.waves)}\n`);
                }
            }
        } else {
            newRollout = { previous: rawRelease, members: first, ...(change.waves ? { waves: change.waves } : {}) };
            const lines = (at: number) => rolloutLines(at, hasRelease ? editor.valueSource(releasePath, at + 2) : " {}");
            if (editor.pair(rolloutPath)) {
                editor.replacePair(rolloutPath, lines);
            } else if (hasRelease) {
                editor.insertAfter(releasePath, lines);
            } else {
                editor.appendPair(pathOf(fleet), "rollout", lines);
            }
        }
        if (hasRelease) {
            editor.setMap(releasePath, release);
        } else {
            editor.appendPair(pathOf(fleet), "release", (indent) => `${" ".repeat(indent)}release: ${flow(release)}\n`);
        }
    }
    const to = change.all ? fleet.size : first;
    return {
        fleet: fleetName,
        section: fleet.section,
        text: finish(editor.toString(), loaded, fileName, stack, withOpaqueSecrets({ release, rollout: newRollout }) as Record<string, unknown>, codeFleets),
        from: 0,
        to,
        slots: slotsBetween(0, to),
        complete: change.all === true,
        previous: withOpaqueSecrets(running) as Record<string, unknown>,
        release: withOpaqueSecrets(release) as Record<string, unknown>,
    };
}

/** Whether a release holds values encrypted with a stack's key, which another stack cannot read. */
export function hasSecrets(value: unknown): boolean {
    if (isSecureValue(value)) {
        return true;
    }
    return value !== null && typeof value === "object" && Object.values(value).some(hasSecrets);
}
