/**
 * Makes the package's hot path a few files (after `tsc -p tsconfig.build.json`, which `npm run
 * build` runs first), replacing what tsc has just compiled there:
 *
 *     dist/vendor/zod.js, dist/vendor/yaml.js   zod (the parts the schemas use) and yaml, one file each
 *     dist/index.js                             the package root: herd's SDK modules in one file
 *
 * Why: a Pulumi program driven by its stack config loads the package root, checks the config
 * (zod) and reads its user data and writes its rule file (yaml) on every `pulumi preview` and
 * `up`. zod's entry is about 95 files, 64 of them the translations of its messages, which zod's
 * core loads eagerly; yaml is 72 files; herd's root about 80. Resolving and compiling that many
 * modules costs more than the code in them (more again under a TypeScript loader, which hooks
 * every load). `npm run bench` shows the effect (its case runs the built package).
 *
 * The root's bundle requires zod and yaml from dist/vendor/ (each loads with its first use, as
 * from the sources) and every other package from the user's node_modules (`@pulumi/pulumi` is
 * the user's own copy). Its declarations are tsc's (`dist/index.d.ts` and the files it imports).
 * The other entry points — the test kit, the command line, the policy pack and the component
 * package — stay tsc's module per file; the test kit takes the fleet registry from the root
 * (`components/testing/program.ts`), so a test process holds one registry. The root's bundle ends
 * with its export names in the form Node.js reads from a CommonJS module, so `import { buildFleet }
 * from "pulumi-herd"` works from ES modules too.
 *
 * Each vendored file starts with the name, version and licence of the package it holds.
 *
 * Usage: node --import tsx scripts/bundle.ts   (after tsc -p tsconfig.build.json; `npm run build` runs both)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { build, type BuildOptions } from "esbuild";

const root = path.resolve(__dirname, "..");

/** What every bundle shares: Node.js 22, CommonJS as the package is. */
const COMMON: BuildOptions = { bundle: true, platform: "node", format: "cjs", target: "node22", logLevel: "warning" };

/** Builds `options` into `outfile` beside tsc's output and renames it over that: a failed bundle leaves no half-written file. */
async function replace(outfile: string, options: BuildOptions): Promise<void> {
    if (!fs.existsSync(outfile)) {
        throw new Error(`${path.relative(root, outfile)} is missing: run tsc -p tsconfig.build.json first`);
    }
    const temporary = `${outfile}.${process.pid}.tmp`;
    try {
        await build({ ...COMMON, ...options, outfile: temporary });
        fs.renameSync(temporary, outfile);
    } finally {
        fs.rmSync(temporary, { force: true });
    }
    // On stderr: `npm pack --json` runs the build, and its stdout is the pack's JSON.
    process.stderr.write(`${path.relative(root, outfile)}: ${Math.round(fs.statSync(outfile).size / 1024)} KB\n`);
}

async function main(): Promise<void> {
    for (const name of ["zod", "yaml"]) {
        const manifest = JSON.parse(fs.readFileSync(path.join(root, "node_modules", name, "package.json"), "utf8")) as { version: string; license: string };
        await replace(path.join(root, "dist", "vendor", `${name}.js`), {
            entryPoints: [path.join(root, "components", "vendor", `${name}.ts`)],
            banner: { js: `/* ${name} ${manifest.version} (${manifest.license}), bundled into herd's package by scripts/bundle.ts */` },
            legalComments: "inline",
            // From ES modules, which esbuild joins into one scope and trims to what is used: zod's
            // own are; yaml's are the build its package gives where Node.js is not the condition
            // (the same code; it warns with console.warn rather than process.emitWarning, and reads
            // YAML 1.1's !!binary, which herd's documents do not use, into a Uint8Array).
            ...(name === "yaml" ? { platform: "neutral" as const } : {}),
        });
    }
    // tsc's source map is of the file the bundle replaces.
    fs.rmSync(path.join(root, "dist", "index.js.map"), { force: true });
    await replace(path.join(root, "dist", "index.js"), {
        entryPoints: [path.join(root, "components", "index.ts")],
        // Every package from the user's node_modules, as the modules tsc compiled require them.
        packages: "external",
        plugins: [
            {
                name: "herd-vendor",
                setup(bundle) {
                    // zod and yaml from their own bundles, beside the root: loaded with their first use.
                    bundle.onResolve({ filter: /\/vendor\/(zod|yaml)$/ }, (args) => ({ path: `./vendor/${path.basename(args.path)}.js`, external: true }));
                },
            },
        ],
    });
}

main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
});
