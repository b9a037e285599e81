/**
 * Builds the policy pack (`policy/`) and the component package (`provider/`) into the npm package,
 * beside the SDK that `tsc -p tsconfig.build.json` has just compiled into `dist/`:
 *
 *     dist/policy/    PulumiPolicy.yaml, package.json, index.js, guardrails.js (+ .d.ts)
 *     dist/provider/  PulumiPlugin.yaml, package.json, tsconfig.json, index.ts, index.js (+ .d.ts)
 *
 * so that `npm install pulumi-herd` gives a project `--policy-pack node_modules/pulumi-herd/dist/policy`
 * and `pulumi package add node_modules/pulumi-herd/dist/provider`.
 *
 * Their sources import the SDK from `../components/…`; in the package the SDK is `dist/` itself,
 * one level up from each folder. So each source is copied into its folder with those imports
 * pointing at `../…` and compiled there against the SDK's own declarations: what the pack and the
 * plugin are built from is the SDK exactly as it is packed (an import of the SDK left as it was
 * resolves to nothing there, and fails the build rather than a user). Both folders hold a
 * package.json with no dependencies of their own: `@pulumi/pulumi`, `@pulumi/policy` and the rest
 * resolve from the installing project's node_modules, so the CLI needs no `npm install` in them.
 *
 * The plugin's folder keeps its TypeScript source: the Node.js SDK's component provider host
 * derives the package schema from `index.ts` and the `tsconfig.json` beside it, and runs `index.js`.
 * That `index.ts` is `provider/index.ts` (the vocabulary the classes share) followed by one
 * `export * from "../<backend>/componentPackage"` per backend of the fleet registry
 * (`FLEET_BACKENDS`), in its order: the schema analyzer finds the classes by following static
 * exports, and writing them here from the registry means a new backend is its folder and its
 * registry entry, nothing in `provider/`. A registered backend without a `componentPackage.ts`
 * fails the build.
 *
 * Usage: node --import tsx scripts/build-plugins.ts   (after tsc -p tsconfig.build.json; `npm run build` runs both)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const root = path.resolve(__dirname, "..");
const dist = path.join(root, "dist");
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };

/** What the compiler uses in both folders; the plugin's tsconfig.json says the same to the schema analyzer. */
const compilerOptions = {
    target: "es2022",
    module: "node20",
    moduleResolution: "node16",
    lib: ["es2023"],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
};

interface Plugin {
    /** The folder, in the repository and under dist/. */
    readonly folder: "policy" | "provider";
    /** The Pulumi file that makes the folder a policy pack or a plugin. */
    readonly pulumiFile: string;
    /** The TypeScript sources, the entry first. */
    readonly sources: readonly string[];
    /** Sources kept in the package beside their JavaScript. */
    readonly keepSources: boolean;
    /** Lines added to the entry's source, after its own. */
    readonly entryTail?: () => string;
}

const PLUGINS: readonly Plugin[] = [
    { folder: "policy", pulumiFile: "PulumiPolicy.yaml", sources: ["index.ts", "guardrails.ts"], keepSources: false },
    { folder: "provider", pulumiFile: "PulumiPlugin.yaml", sources: ["index.ts"], keepSources: true, entryTail: backendExports },
];

/**
 * One export per backend of the fleet registry, in its order, of the classes in its folder's
 * `componentPackage.ts` (a backend's folder is named as its registry key). Read from the SDK just
 * compiled, so the package hosts exactly the backends it can build fleets on.
 */
function backendExports(): string {
    const { FLEET_BACKENDS } = require(path.join(dist, "index.js")) as { FLEET_BACKENDS: Record<string, unknown> };
    const lines = Object.keys(FLEET_BACKENDS).map((backend) => {
        if (!fs.existsSync(path.join(dist, backend, "componentPackage.d.ts"))) {
            throw new Error(`build-plugins: backend ${backend} is in FLEET_BACKENDS but has no components/${backend}/componentPackage.ts with its component package class`);
        }
        return `export * from "../${backend}/componentPackage";\n`;
    });
    return `\n// Each backend of the fleet registry (FLEET_BACKENDS), in its order: written by scripts/build-plugins.ts.\n${lines.join("")}`;
}

/** `source` with every import and export from `../components/…` taken from `../…` instead. */
function fromPackedSdk(source: string, fileName: string): string {
    const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    const edits: { start: number; end: number; text: string }[] = [];
    for (const statement of file.statements) {
        const specifier = (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier;
        if (specifier && ts.isStringLiteral(specifier) && /^\.\.\/components(\/|$)/.test(specifier.text)) {
            const moved = specifier.text === "../components" ? ".." : specifier.text.replace(/^\.\.\/components\//, "../");
            edits.push({ start: specifier.getStart(file), end: specifier.getEnd(), text: JSON.stringify(moved) });
        }
    }
    return edits.reduceRight((text, edit) => text.slice(0, edit.start) + edit.text + text.slice(edit.end), source);
}

function writeJson(file: string, value: unknown): void {
    fs.writeFileSync(file, `${JSON.stringify(value, null, 4)}\n`);
}

function build(plugin: Plugin): void {
    const from = path.join(root, plugin.folder);
    const to = path.join(dist, plugin.folder);
    fs.mkdirSync(to, { recursive: true });
    fs.copyFileSync(path.join(from, plugin.pulumiFile), path.join(to, plugin.pulumiFile));
    const own = JSON.parse(fs.readFileSync(path.join(from, "package.json"), "utf8")) as Record<string, unknown>;
    // The package's version, so that the pack and the plugin say which herd they come from.
    writeJson(path.join(to, "package.json"), { ...own, version: manifest.version, main: "index.js" });
    if (plugin.keepSources) {
        writeJson(path.join(to, "tsconfig.json"), { compilerOptions: { ...compilerOptions, noEmit: true }, include: [...plugin.sources] });
    }

    const sources = plugin.sources.map((name) => path.join(to, name));
    plugin.sources.forEach((name, i) => {
        const tail = i === 0 && plugin.entryTail ? plugin.entryTail() : "";
        fs.writeFileSync(sources[i], fromPackedSdk(fs.readFileSync(path.join(from, name), "utf8"), name) + tail);
    });
    const parsed = ts.convertCompilerOptionsFromJson({ ...compilerOptions, types: ["node"], declaration: true, sourceMap: true }, to);
    const program = ts.createProgram(sources, parsed.options);
    const diagnostics = [...parsed.errors, ...ts.getPreEmitDiagnostics(program)];
    const emitted = program.emit();
    diagnostics.push(...emitted.diagnostics);
    if (diagnostics.length > 0) {
        const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => "\n" };
        process.stderr.write(ts.formatDiagnostics(diagnostics, host));
        throw new Error(`build-plugins: ${plugin.folder}/ does not compile against the SDK in dist/`);
    }
    if (!plugin.keepSources) {
        sources.forEach((file) => fs.rmSync(file));
    }
}

if (!fs.existsSync(path.join(dist, "index.d.ts"))) {
    throw new Error("build-plugins: no SDK in dist/: run tsc -p tsconfig.build.json first (npm run build does)");
}
for (const plugin of PLUGINS) {
    build(plugin);
}
