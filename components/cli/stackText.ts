import { isDeepStrictEqual } from "node:util";
import * as YAML from "yaml";

/**
 * Edits of a stack file's text that add or replace whole keys (a release, a rollout block, a
 * fleet's entry), made as splices into the source: every byte outside the edited keys stays as
 * it was, and a key that keeps its value keeps its source too, comments included. The `yaml`
 * package locates the nodes; rendering a document anew would reformat the whole file.
 */
export class StackTextEditor {
    private readonly doc: YAML.Document.Parsed;
    private readonly splices: { start: number; end: number; text: string }[] = [];

    constructor(private readonly text: string) {
        this.doc = YAML.parseDocument(text, { keepSourceTokens: false });
    }

    /** The pair at `path` (keys from the document's root), if there is one. */
    pair(path: readonly string[]): YAML.Pair<YAML.Scalar, YAML.Node | null> | undefined {
        let node: unknown = this.doc.contents;
        let found: YAML.Pair<YAML.Scalar, YAML.Node | null> | undefined;
        for (const key of path) {
            if (!YAML.isMap(node)) {
                return undefined;
            }
            found = node.items.find((item) => YAML.isScalar(item.key) && item.key.value === key) as typeof found;
            node = found?.value;
        }
        return found;
    }

    /** Whether the pair at `path` is in a block map whose value, if a map, is block or flow. */
    isBlockPair(path: readonly string[]): boolean {
        const parent = path.length === 1 ? this.doc.contents : this.pair(path.slice(0, -1))?.value;
        return YAML.isMap(parent) && !parent.flow;
    }

    private lineStart(offset: number): number {
        return this.text.lastIndexOf("\n", offset - 1) + 1;
    }

    private column(offset: number): number {
        return offset - this.lineStart(offset);
    }

    /** Where a pair's text ends: after its value and that value's trailing comment, before comment lines that follow. */
    private pairEnd(pair: YAML.Pair<YAML.Scalar, YAML.Node | null>): number {
        const key = pair.key.range as [number, number, number];
        let end = pair.value?.range ? pair.value.range[2] : key[2];
        if (end < this.text.length && this.text[end - 1] !== "\n") {
            const newline = this.text.indexOf("\n", end);
            end = newline < 0 ? this.text.length : newline + 1;
        }
        // Comment or blank lines after the value belong to what follows.
        const first = this.lineStart(key[0]);
        for (;;) {
            const lastLine = this.lineStart(end - 1);
            if (lastLine <= first || !/^\s*(#.*)?\n?$/.test(this.text.slice(lastLine, end))) {
                return end;
            }
            end = lastLine;
        }
    }

    /** The whole lines a pair takes, from its indentation to the end of its value. */
    private pairLines(pair: YAML.Pair<YAML.Scalar, YAML.Node | null>): { start: number; end: number; indent: number } {
        const start = (pair.key.range as number[])[0];
        return { start: this.lineStart(start), end: this.pairEnd(pair), indent: this.column(start) };
    }

    /** The source of a pair's value, re-indented to sit under a key at `indent`: a flow value on one line, a block one below. */
    valueSource(path: readonly string[], indent: number): string {
        const pair = this.require(path);
        const value = pair.value as YAML.Node;
        const [start, valueEnd] = value.range as [number, number, number];
        if (!YAML.isCollection(value) || value.flow) {
            return ` ${this.text.slice(start, valueEnd).trimEnd()}`;
        }
        const lines = this.text.slice(this.lineStart(start), this.pairEnd(pair)).replace(/\n$/, "").split("\n");
        const shift = indent + 2 - this.column(start);
        return `\n${lines.map((line) => (line.trim() === "" ? "" : shift >= 0 ? " ".repeat(shift) + line : line.slice(-shift))).join("\n")}`;
    }

    private require(path: readonly string[]): YAML.Pair<YAML.Scalar, YAML.Node | null> {
        const pair = this.pair(path);
        if (!pair) {
            throw new Error(`${path.join(".")} is not in the file`);
        }
        return pair;
    }

    /** The indentation of the keys of the map at `path`. */
    indentOf(path: readonly string[]): number {
        const pair = this.require(path);
        const value = pair.value;
        if (YAML.isMap(value) && !value.flow && value.items.length > 0) {
            return this.column((value.items[0].key as YAML.Node).range![0]);
        }
        return this.pairLines(pair).indent + 2;
    }

    /**
     * Sets the map at `path` to `value`: a flow map is written anew on its line; in a block map
     * the keys that keep their value keep their lines, changed keys are rewritten (without the
     * comment that described the old value), gone keys are removed, and new keys are appended.
     */
    setMap(path: readonly string[], value: Readonly<Record<string, unknown>>): void {
        const pair = this.require(path);
        const node = pair.value;
        if (!YAML.isMap(node) || node.flow) {
            if (!node?.range) {
                throw new Error(`${path.join(".")} has no value`);
            }
            const [start, , end] = node.range;
            // Up to the end of the line: a trailing comment described the old value.
            this.splices.push({ start, end: this.text[end - 1] === "\n" ? end - 1 : end, text: flow(value) });
            return;
        }
        const indent = this.indentOf(path);
        const old = node.toJSON() as Record<string, unknown>;
        let last = 0;
        for (const item of node.items as YAML.Pair<YAML.Scalar, YAML.Node | null>[]) {
            const key = String(item.key.value);
            const lines = this.pairLines(item);
            last = Math.max(last, lines.end);
            if (!(key in value)) {
                this.splices.push({ start: lines.start, end: lines.end, text: "" });
            } else if (!isDeepStrictEqual(old[key], value[key])) {
                const block = YAML.isCollection(item.value) && !item.value.flow;
                this.splices.push({ start: lines.start, end: lines.end, text: `${" ".repeat(indent)}${renderPair(key, value[key], indent, block)}` });
            }
        }
        const added = Object.keys(value).filter((key) => !(key in old));
        if (added.length > 0) {
            this.splices.push({ start: last, end: last, text: added.map((key) => `${" ".repeat(indent)}${renderPair(key, value[key], indent, false)}`).join("") });
        }
    }

    /** Replaces the pair at `path`, with its lines, by `lines` (whole lines, at the pair's indentation). */
    replacePair(path: readonly string[], lines: (indent: number) => string): void {
        const at = this.pairLines(this.require(path));
        this.splices.push({ start: at.start, end: at.end, text: lines(at.indent) });
    }

    /** Inserts whole lines after the pair at `path`, at its indentation. */
    insertAfter(path: readonly string[], lines: (indent: number) => string): void {
        const at = this.pairLines(this.require(path));
        this.splices.push({ start: at.end, end: at.end, text: lines(at.indent) });
    }

    /**
     * Appends a pair to the block map at `path` (the document's root when empty), creating the
     * parent keys that are missing, as block maps indented by two.
     */
    appendPair(path: readonly string[], key: string, lines: (indent: number) => string): void {
        let depth = path.length;
        while (depth > 0 && !YAML.isMap(this.pair(path.slice(0, depth))?.value)) {
            depth--;
        }
        const existing = path.slice(0, depth);
        const missing = [...path.slice(depth), key];
        const map = existing.length === 0 ? this.doc.contents : this.pair(existing)!.value;
        if (!YAML.isMap(map) || map.flow || (existing.length > 0 && this.pair(existing)!.value === null)) {
            throw new Error(`${existing.join(".") || "the document"} is not a block map`);
        }
        let indent = existing.length === 0 ? 0 : this.indentOf(existing);
        let end: number;
        if (map.items.length > 0) {
            end = this.pairLines(map.items[map.items.length - 1] as YAML.Pair<YAML.Scalar, YAML.Node | null>).end;
        } else {
            end = this.text.length;
        }
        const prefix = end > 0 && this.text[end - 1] !== "\n" ? "\n" : "";
        let text = "";
        for (const parent of missing.slice(0, -1)) {
            text += `${" ".repeat(indent)}${plain(parent)}:\n`;
            indent += 2;
        }
        this.splices.push({ start: end, end, text: prefix + text + lines(indent) });
    }

    /** The text with every edit applied. */
    toString(): string {
        let text = this.text;
        for (const splice of [...this.splices].sort((a, b) => b.start - a.start || b.end - a.end)) {
            text = text.slice(0, splice.start) + splice.text + text.slice(splice.end);
        }
        return text;
    }
}

/** A string as a plain YAML scalar where that reads back as the same string, else double-quoted. */
function plain(value: string): string {
    const safe =
        value !== "" &&
        !/^[\s,[\]{}#&*!|>'"%@`]|^[-?:](\s|$)/.test(value) &&
        !/[,[\]{}\n]|: |\s#|\s$/.test(value) &&
        YAML.parse(value) === value;
    return safe ? value : JSON.stringify(value);
}

function scalar(value: unknown): string {
    if (typeof value === "string") {
        return plain(value);
    }
    if (value === null || value === undefined) {
        return "null";
    }
    return String(value);
}

/** A value in flow style on one line: `{ image: x, port: 80 }`, `[a, b]`. */
export function flow(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map(flow).join(", ")}]`;
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value).filter(([, inner]) => inner !== undefined);
        return entries.length === 0 ? "{}" : `{ ${entries.map(([key, inner]) => `${plain(key)}: ${flow(inner)}`).join(", ")} }`;
    }
    return scalar(value);
}

/** `key: value` and its newline; a collection in block style below the key when `block`, else in flow style. */
function renderPair(key: string, value: unknown, indent: number, block: boolean): string {
    if (block && value !== null && typeof value === "object" && Object.keys(value).length > 0) {
        const body = YAML.stringify(value, { indent: 2, lineWidth: 0 }).replace(/\n$/, "");
        return `${plain(key)}:\n${body
            .split("\n")
            .map((line) => (line === "" ? "" : " ".repeat(indent + 2) + line))
            .join("\n")}\n`;
    }
    return `${plain(key)}: ${flow(value)}\n`;
}
