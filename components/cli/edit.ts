import { isDeepStrictEqual } from "node:util";
import { CST, Parser } from "yaml";
import { FleetConfig, FLEETS_KEY, parseFleets } from "../config";
import { membersOnRelease, nextWave, slotsBetween } from "../rollout";
import { CliError } from "./io";
import { stackConfigOf } from "./project";

/** A rewrite of one fleet's rollout in a stack file. */
export interface RolloutEdit {
    readonly fleet: string;
    /** The new text of the stack file. */
    readonly text: string;
    /** Slots on the release before and after. */
    readonly from: number;
    readonly to: number;
    /** The slots that change release. */
    readonly slots: readonly number[];
    /** `true` when every slot now runs the release and `rollout.previous` was dropped. */
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

interface Loaded {
    readonly config: Record<string, unknown>;
    readonly fleet: FleetConfig;
}

function load(text: string, fileName: string, stack: string, fleetName: string): Loaded {
    const config = stackConfigOf(text, fileName);
    const fleets = parseFleets(config[FLEETS_KEY], stack);
    const fleet = fleets[fleetName];
    if (!fleet) {
        const names = Object.keys(fleets);
        throw new CliError(
            `unknown fleet "${fleetName}" in stack "${stack}" (${fileName}): ${names.length > 0 ? `fleets are ${names.join(", ")}` : "it has no fleets"}`,
        );
    }
    return { config, fleet };
}

/** The config the edited text must parse to: the old one with only this fleet's rollout changed. */
function expectedConfig(config: Record<string, unknown>, fleetName: string, rollout: unknown): Record<string, unknown> {
    const fleets = structuredClone(config[FLEETS_KEY]) as Record<string, Record<string, unknown>>;
    if (rollout === undefined) {
        delete fleets[fleetName].rollout;
    } else {
        fleets[fleetName].rollout = rollout;
    }
    return { ...config, [FLEETS_KEY]: fleets };
}

function finish(editor: SourceEditor, loaded: Loaded, fileName: string, stack: string, fleetName: string, rollout: unknown): string {
    const text = editor.toString();
    const after = stackConfigOf(text, fileName);
    if (!isDeepStrictEqual(after, expectedConfig(loaded.config, fleetName, rollout))) {
        throw new CliError(`could not rewrite ${fileName} without changing more than herd:fleets.${fleetName}.rollout; edit it by hand`);
    }
    parseFleets(after[FLEETS_KEY], stack);
    return text;
}

/**
 * Moves a fleet's rollout to its next wave (1 → 10 → all with the default waves). At all, the
 * rollout is finished: `previous` is dropped (and the whole `rollout` block, unless it sets
 * `waves`, which stay for the next rollout with `members` at the size).
 *
 * @param text the stack file's text; the result keeps its comments and layout
 * @throws CliError when the fleet is unknown or already runs its release on every slot;
 * ConfigError when the stack's config is invalid
 */
export function promoteStackFile(text: string, fileName: string, stack: string, fleetName: string): RolloutEdit {
    const loaded = load(text, fileName, stack, fleetName);
    const { fleet } = loaded;
    const from = membersOnRelease(fleet.size, fleet.rollout);
    const to = nextWave(fleet.size, from, fleet.rollout?.waves);
    if (!fleet.rollout || to === undefined) {
        throw new CliError(
            `nothing to promote: all ${fleet.size} slots of fleet "${fleetName}" already run its release` +
                ` (start a rollout by changing herd:fleets.${fleetName}.release and setting rollout.previous to the release it replaces, with rollout.members: 0)`,
        );
    }
    const editor = new SourceEditor(text);
    const path = ["config", FLEETS_KEY, fleetName, "rollout"];
    const complete = to === fleet.size;
    let rollout: unknown;
    if (!complete) {
        editor.setNumber([...path, "members"], to);
        rollout = { ...(loaded.config[FLEETS_KEY] as Record<string, Record<string, object>>)[fleetName].rollout, members: to };
    } else if (fleet.rollout.waves) {
        editor.remove([...path, "previous"]);
        editor.setNumber([...path, "members"], to);
        rollout = { members: to, waves: fleet.rollout.waves };
    } else {
        editor.remove(path);
        rollout = undefined;
    }
    return { fleet: fleetName, text: finish(editor, loaded, fileName, stack, fleetName, rollout), from, to, slots: slotsBetween(from, to), complete };
}

/**
 * Puts every slot of a fleet back on `rollout.previous` (`members: 0`).
 *
 * @throws CliError when the fleet is unknown, has no `rollout.previous` to go back to, or has no
 * slot on the release; ConfigError when the stack's config is invalid
 */
export function rollbackStackFile(text: string, fileName: string, stack: string, fleetName: string): RolloutEdit {
    const loaded = load(text, fileName, stack, fleetName);
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
    editor.setNumber(["config", FLEETS_KEY, fleetName, "rollout", "members"], 0);
    const rollout = { ...(loaded.config[FLEETS_KEY] as Record<string, Record<string, object>>)[fleetName].rollout, members: 0 };
    return { fleet: fleetName, text: finish(editor, loaded, fileName, stack, fleetName, rollout), from, to: 0, slots: slotsBetween(from, 0), complete: false };
}
