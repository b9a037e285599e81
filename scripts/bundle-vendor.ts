/**
 * Makes each module of `components/vendor/` one file in the npm package: `dist/vendor/zod.js` and
 * `dist/vendor/yaml.js`, bundled with esbuild from the installed zod and yaml, replacing the
 * re-exports `tsc -p tsconfig.build.json` has just compiled there (their `.d.ts` stay: the types
 * are zod's and yaml's own, which stay dependencies of the package).
 *
 * Why: a Pulumi program driven by its stack config checks it before it registers anything, so it
 * loads zod on every `pulumi preview` and `up`. zod's entry is about 95 files, 64 of them the
 * translations of its messages, which zod's core loads eagerly; yaml is 72 files. Resolving and
 * compiling that many modules costs more than the code in them: bundled, with zod limited to the
 * parts the schemas use (esbuild drops the rest, as zod declares no side effects), the program
 * loads two files. `npm run bench` shows the effect (its case runs the built package).
 *
 * Each file starts with the name, version and licence of the package it holds.
 *
 * Usage: node --import tsx scripts/bundle-vendor.ts   (after tsc -p tsconfig.build.json; `npm run build` runs both)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { buildSync } from "esbuild";

const root = path.resolve(__dirname, "..");

for (const name of ["zod", "yaml"]) {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, "node_modules", name, "package.json"), "utf8")) as { version: string; license: string };
    const outfile = path.join(root, "dist", "vendor", `${name}.js`);
    if (!fs.existsSync(outfile)) {
        throw new Error(`${path.relative(root, outfile)} is missing: run tsc -p tsconfig.build.json first`);
    }
    // Written beside and renamed over tsc's output: a failed bundle leaves no half-written file.
    const temporary = `${outfile}.${process.pid}.tmp`;
    try {
        buildSync({
            entryPoints: [path.join(root, "components", "vendor", `${name}.ts`)],
            bundle: true,
            platform: "node",
            format: "cjs",
            target: "node22",
            outfile: temporary,
            banner: { js: `/* ${name} ${manifest.version} (${manifest.license}), bundled into herd's package by scripts/bundle-vendor.ts */` },
            legalComments: "inline",
            logLevel: "warning",
        });
        fs.renameSync(temporary, outfile);
    } finally {
        fs.rmSync(temporary, { force: true });
    }
    // On stderr: `npm pack --json` runs the build, and its stdout is the pack's JSON.
    process.stderr.write(`dist/vendor/${name}.js: ${name} ${manifest.version}, ${Math.round(fs.statSync(outfile).size / 1024)} KB\n`);
}
