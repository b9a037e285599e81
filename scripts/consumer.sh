#!/usr/bin/env bash
# Checks herd as another project gets it from npm: packs the package (which builds it), checks
# that the tarball holds the built JavaScript, the declarations, the README, the policy pack
# (dist/policy) and the component package (dist/provider) and nothing else, installs it into
# examples/consumer (a Pulumi project of its own) and runs that project's type check and tests
# against it, which start the installed pack and plugin under plain Node.js. A broken export, a
# missing file or a declaration that does not compile fails here.
#
# With HERD_ENGINE_DIR (the folder scripts/engine.sh prints), the installed policy pack then runs
# through the real Pulumi CLI and engine: `pulumi preview --policy-pack node_modules/pulumi-herd/dist/policy`
# on examples/consumer/guarded, passing a clean fleet and refusing a violating one.
#
# Usage: [HERD_ENGINE_DIR=…] scripts/consumer.sh     (node and npm on the PATH; the npm registry reachable)
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

# The installed policy pack through the real Pulumi CLI and engine (scripts/engine.sh builds them),
# when HERD_ENGINE_DIR names one: examples/consumer/guarded, a prod stack of one Kubernetes fleet
# rendered to a folder (no cluster), previewed with `--policy-pack node_modules/pulumi-herd/dist/policy`
# as it is, then with an image by tag and one pod. No engine is built here: CI builds it in the
# background while this runs.
if [ -z "${HERD_ENGINE_DIR:-}" ]; then
    echo "consumer: HERD_ENGINE_DIR is not set, so the installed pack was not run by pulumi preview (HERD_ENGINE_DIR=\$(bash scripts/engine.sh) bash scripts/consumer.sh runs it)"
    exit 0
fi
guarded="$pack_dir/guarded"
mkdir -p "$guarded/node_modules" "$pack_dir/state"
cp "$consumer"/guarded/{Pulumi.yaml,Pulumi.prod.yaml,index.ts} "$guarded/"
# pulumi-herd is the project's own copy, as npm installs it (the pack finds its project from where
# it sits); everything else is examples/consumer's.
for entry in "$consumer"/node_modules/* "$consumer"/node_modules/.bin; do
    [ "$(basename "$entry")" = pulumi-herd ] || ln -s "$entry" "$guarded/node_modules/"
done
cp -R "$consumer/node_modules/pulumi-herd" "$guarded/node_modules/"

readonly PACK=node_modules/pulumi-herd/dist/policy
engine_env=(env -u KUBECONFIG -u PULUMI_ACCESS_TOKEN
    PATH="$HERD_ENGINE_DIR/bin:$PATH" PULUMI_HOME="$HERD_ENGINE_DIR/home"
    PULUMI_BACKEND_URL="file://$pack_dir/state" PULUMI_CONFIG_PASSPHRASE="herd consumer"
    PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true HOME="$pack_dir")
cd "$guarded"
"${engine_env[@]}" pulumi stack init prod --secrets-provider passphrase >/dev/null

# Runs the preview into preview.log and says how long it took; its exit code is the preview's.
# The program is served by scripts/pulumi.ts (the engine's language host runs policy packs only).
preview() {
    local started=$SECONDS status=0
    "${engine_env[@]}" node --import tsx "$root/scripts/pulumi.ts" preview --stack prod --color never --policy-pack "$PACK" >"$pack_dir/preview.log" 2>&1 || status=$?
    echo "consumer: pulumi preview --policy-pack $PACK ($1): exit $status in $((SECONDS - started)) s" >&2
    return "$status"
}
expect_in_preview() {
    grep -qF -- "$1" "$pack_dir/preview.log" && return
    cat "$pack_dir/preview.log" >&2
    echo "consumer: the preview does not say: $1" >&2
    exit 1
}

version=$(node -p 'require("./node_modules/pulumi-herd/package.json").version')
preview "a fleet that passes" || { cat "$pack_dir/preview.log" >&2; exit 1; }
expect_in_preview "✅ herd-guardrails@v$version (local: $PACK)"

sed -i -e 's/^    size: 3$/    size: 1/' -e 's#^    image: registry.example.org/api@sha256:.*#    image: registry.example.org/api:1.4#' Pulumi.prod.yaml
if preview "an image by tag, one pod"; then
    cat "$pack_dir/preview.log" >&2
    echo "consumer: the pack let an image by tag and a fleet of one pass" >&2
    exit 1
fi
expect_in_preview "❌ herd-guardrails@v$version (local: $PACK)"
expect_in_preview 'fleet "api" (herd:kubernetes:Workload) has 1 member: prod fleets need at least 2'
expect_in_preview 'runs image "registry.example.org/api:1.4" by tag: pin it by digest'
echo "consumer: the installed policy pack passes the fleet and refuses the change, through the real engine"
