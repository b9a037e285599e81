#!/usr/bin/env bash
# Checks herd as another project gets it from npm: packs the package (which builds it), checks
# that the tarball holds the built JavaScript, the declarations, the README, the policy pack
# (dist/policy) and the component package (dist/provider) and nothing else, installs it into
# examples/consumer (a Pulumi project of its own) and runs that project's type check and tests
# against it, which start the installed pack and plugin under plain Node.js. A broken export, a
# missing file or a declaration that does not compile fails here.
#
# Usage: scripts/consumer.sh     (node and npm on the PATH; the npm registry reachable)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
consumer="$root/examples/consumer"

pack_dir=$(mktemp -d)
trap 'rm -rf "$pack_dir"' EXIT

echo "consumer: packing pulumi-herd (npm pack runs the build)"
npm pack --json --pack-destination "$pack_dir" >"$pack_dir/pack.json"

# What the tarball must and may hold: package.json, README.md, dist/**/*.js and dist/**/*.d.ts,
# the files that make dist/policy a policy pack and dist/provider a plugin, and every file that
# package.json points at (exports, types, bin); @pulumi/pulumi as a peer dependency and tsx not a
# dependency.
tarball=$(node - "$pack_dir/pack.json" "$root/package.json" <<'JS'
const fs = require("node:fs");
const [packFile, manifestFile] = process.argv.slice(2);
const [pack] = JSON.parse(fs.readFileSync(packFile, "utf8"));
const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
const files = new Set(pack.files.map((file) => file.path));
// `pulumi preview --policy-pack node_modules/pulumi-herd/dist/policy` and
// `pulumi package add node_modules/pulumi-herd/dist/provider` need these (the plugin host derives
// the schema from index.ts and its tsconfig.json).
const plugins = [
    ...["PulumiPolicy.yaml", "package.json", "index.js", "guardrails.js"].map((file) => `dist/policy/${file}`),
    ...["PulumiPlugin.yaml", "package.json", "tsconfig.json", "index.ts", "index.js"].map((file) => `dist/provider/${file}`),
];
const allowed = (file) => file === "package.json" || file === "README.md" || /^dist\/.+(\.d\.ts|\.js)$/.test(file) || plugins.includes(file);
const problems = [...files].filter((file) => !allowed(file)).map((file) => `${file}: not built JavaScript, a declaration, the README or a file of the policy pack or plugin`);
const targets = new Set(plugins);
const collect = (value) => {
    if (typeof value === "string") targets.add(value.replace(/^\.\//, ""));
    else if (value && typeof value === "object") Object.values(value).forEach(collect);
};
collect(manifest.exports);
collect(manifest.types);
collect(manifest.bin);
collect(manifest.typesVersions);
// One copy of the Pulumi SDK in a user's project (theirs), and no TypeScript loader forced on them.
if (manifest.dependencies?.["@pulumi/pulumi"] || !manifest.peerDependencies?.["@pulumi/pulumi"]) {
    problems.push("@pulumi/pulumi: must be a peer dependency, not a dependency");
}
if (manifest.dependencies?.tsx) {
    problems.push("tsx: must not be a runtime dependency");
}
for (const target of [...targets].sort()) {
    if (!files.has(target)) problems.push(`${target}: named in package.json or needed by the policy pack or plugin, but not in the package`);
}
if (problems.length > 0) {
    console.error(`consumer: ${pack.filename} is not what users should get:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    process.exit(1);
}
console.error(`consumer: ${pack.filename}: ${files.size} files, ${pack.size} bytes; every path package.json names is in it, and the policy pack and plugin`);
console.log(pack.filename);
JS
)

cd "$consumer"
echo "consumer: installing the consumer's locked dependencies, then $tarball"
npm ci --no-audit --no-fund
npm install --no-save --no-audit --no-fund "$pack_dir/$tarball"

echo "consumer: type check and tests of examples/consumer against the installed package"
npm test
