#!/usr/bin/env bash
# Builds the Pulumi OpenStack provider that herd's engine tests run against the OpenStack started
# by scripts/openstack/cloud.sh, and installs it as a Pulumi plugin. Pulumi's own provider module
# (github.com/pulumi/pulumi-openstack/provider/v3) is not served by the Go module proxy; its parts
# are: terraform-provider-openstack at the version that @pulumi/openstack wraps, and
# pulumi-terraform-bridge. scripts/openstack/provider/*.go joins them, with the SDK's tokens.
# Like scripts/engine.sh, the binary is cached outside the repository:
#
#   ${HERD_OPENSTACK_CACHE:-$HOME/.cache/herd-openstack}/<versions>/
#     bin/pulumi-resource-openstack   the provider, reporting the version of @pulumi/openstack
#     src/                            the generated wrapper module it was built in
#     home/                           the default PULUMI_HOME, with the plugin installed
#     versions.env                    what was built
#
# It installs the binary as plugin `resource openstack <version>` into $PULUMI_HOME (default: the
# cache's home/) with the Pulumi CLI built by scripts/engine.sh ($PULUMI, else the newest ready
# build in ${HERD_ENGINE_CACHE:-$HOME/.cache/herd-engine}, else `pulumi` on the PATH). The
# plugin is never downloaded. A second run finds the cache and takes seconds.
#
# Usage: [PULUMI_HOME=dir] scripts/openstack/provider.sh [--build-only]
#        progress on standard error; prints the cache folder on standard output. --build-only
#        builds (or finds) the binary and installs no plugin, so it needs no Pulumi CLI yet (CI
#        builds it next to the engine).
set -euo pipefail
cd "$(dirname "$0")/../.."
build_only=false
case "${1:-}" in
    --build-only) build_only=true ;;
    "") ;;
    *)
        printf 'usage: %s [--build-only]\n' "$0" >&2
        exit 2
        ;;
esac

# Bump when the way the binary is built changes: it is part of the cache key (with the versions
# and a hash of the Go sources).
readonly RECIPE=1
readonly UPSTREAM_MODULE=github.com/terraform-provider-openstack/terraform-provider-openstack
# What @pulumi/openstack 3.15.2 wraps (its provider/go.mod). The proxy serves this version even
# though it refuses to list the module's versions.
readonly UPSTREAM_VERSION=v1.54.1
readonly BRIDGE_MODULE=github.com/pulumi/pulumi-terraform-bridge/v3
# Pulumi's 3.15.2 was built with bridge v3.79.0; this newer bridge builds with the Go here and
# still names properties the same way (provider.sh checks every name against the SDK).
readonly BRIDGE_VERSION=v3.120.0
readonly SRC=scripts/openstack/provider

log() { printf 'openstack-provider: %s\n' "$*" >&2; }
die() {
    printf 'openstack-provider: ERROR: %s\n' "$*" >&2
    exit 1
}

# --- Tools ------------------------------------------------------------------------------------

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || die "Go is not installed (looked on the PATH and in /usr/local/go/bin)"
command -v node >/dev/null || die "node is not on the PATH (it reads package-lock.json and the SDK)"
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

sdk_dir=node_modules/@pulumi/openstack
[ -f "$sdk_dir/package.json" ] || die "no $sdk_dir: run npm ci first (the build checks its names against the SDK)"
sdk_version=$(node -p 'require(process.argv[1]).version.replace(/^v/, "")' "$PWD/$sdk_dir/package.json")
provider_version=$(sed -n 's/^const version = "\(.*\)"$/\1/p' "$SRC/main.go")
[ "$sdk_version" = "$provider_version" ] ||
    die "node_modules has @pulumi/openstack $sdk_version but $SRC/main.go serves $provider_version (and wraps terraform-provider-openstack $UPSTREAM_VERSION): update both together"

sources_hash=$(cat "$SRC"/*.go | sha256sum | cut -c1-8)
cache_root="${HERD_OPENSTACK_CACHE:-$HOME/.cache/herd-openstack}"
key="openstack-v${sdk_version}_tf-${UPSTREAM_VERSION}_bridge-${BRIDGE_VERSION}_src-${sources_hash}_r$RECIPE"
dir="$cache_root/$key"
bin="$dir/bin/pulumi-resource-openstack"

# --- Plugin installation ----------------------------------------------------------------------

# The Pulumi CLI that installs the plugin.
pulumi_cli() {
    if [ -n "${PULUMI:-}" ]; then
        echo "$PULUMI"
        return
    fi
    local ready
    # The newest ready engine build (ls -t: newest first).
    # shellcheck disable=SC2012
    ready=$(ls -td "${HERD_ENGINE_CACHE:-$HOME/.cache/herd-engine}"/*/ready 2>/dev/null | head -n 1 || true)
    if [ -n "$ready" ] && [ -x "$(dirname "$ready")/bin/pulumi" ]; then
        echo "$(dirname "$ready")/bin/pulumi"
        return
    fi
    command -v pulumi || die "no Pulumi CLI to install the plugin with: run scripts/engine.sh (or set PULUMI)"
}

install_plugin() {
    if $build_only; then
        return
    fi
    local home="${PULUMI_HOME:-$dir/home}" installed
    installed="$home/plugins/resource-openstack-v$provider_version/pulumi-resource-openstack"
    if [ -x "$installed" ] && cmp -s "$installed" "$bin"; then
        log "plugin resource openstack $provider_version already installed in $home"
        return
    fi
    local cli
    cli=$(pulumi_cli)
    log "installing plugin resource openstack $provider_version into $home (with $cli)"
    mkdir -p "$home"
    PULUMI_HOME="$home" PULUMI_SKIP_UPDATE_CHECK=true \
        "$cli" plugin install resource openstack "$provider_version" --file "$bin" --reinstall >&2 ||
        die "pulumi plugin install failed"
}

if [ -f "$dir/ready" ] && [ -x "$bin" ]; then
    log "cached: $dir"
    sed 's/^/openstack-provider:   /' "$dir/versions.env" >&2
    install_plugin
    echo "$dir"
    exit 0
fi

# --- Wrapper module ---------------------------------------------------------------------------

started=$SECONDS
log "building into $dir"
mkdir -p "$dir/bin" "$dir/tmp"
export GOTMPDIR="$dir/tmp"

case "$(go env GOPROXY)" in
    off | "") die "GOPROXY is '$(go env GOPROXY)': the Go module proxy is needed to build the provider" ;;
esac

# The bridge's go.mod, for its Go version and its `replace` of terraform-plugin-sdk by Pulumi's
# fork (the bridge needs the fork's extra API; a wrapper module must repeat replacements).
bridge_gomod=$(go mod download -json "$BRIDGE_MODULE@$BRIDGE_VERSION" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const j = JSON.parse(s); if (j.Error) { console.error(j.Error); process.exit(1); } console.log(j.GoMod);
    })') || die "the proxy does not serve $BRIDGE_MODULE@$BRIDGE_VERSION"
go mod download "$UPSTREAM_MODULE@$UPSTREAM_VERSION" || die "the proxy does not serve $UPSTREAM_MODULE@$UPSTREAM_VERSION"

wdir="$dir/src"
rm -rf "$wdir"
mkdir -p "$wdir"
goline=$(go mod edit -json "$bridge_gomod" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Go))')
printf 'module herd.invalid/openstack-provider\n\ngo %s\n' "$goline" >"$wdir/go.mod"
cp "$SRC"/*.go "$wdir/"
(
    cd "$wdir"
    # Only the bridge's replacements by other modules: the rest point into its own repository.
    go mod edit -json "$bridge_gomod" | node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
            for (const r of JSON.parse(s).Replace || []) if (r.New.Version) console.log(r.Old.Path + "=" + r.New.Path + "@" + r.New.Version);
        })' | while IFS= read -r line; do
        log "  replace ${line/=/ => }"
        go mod edit -replace="$line"
    done
    go mod edit -require="$UPSTREAM_MODULE@$UPSTREAM_VERSION" -require="$BRIDGE_MODULE@$BRIDGE_VERSION"
    log "  go mod tidy"
    go mod tidy >"$dir/tidy.log" 2>&1 || die "go mod tidy failed in $wdir: $(tail -n 20 "$dir/tidy.log")"
    # tidy may raise the required versions (minimum version selection): say so if it did.
    for m in "$UPSTREAM_MODULE@$UPSTREAM_VERSION" "$BRIDGE_MODULE@$BRIDGE_VERSION"; do
        got=$(go list -m -f '{{.Version}}' "${m%@*}")
        [ "$got" = "${m#*@}" ] || die "${m%@*} resolved to $got, not ${m#*@}"
    done
    t=$SECONDS
    log "  go build (long on a cold cache)"
    go build -trimpath -ldflags "-s -w" -o "$bin" . 2>"$dir/build.log" ||
        die "go build failed in $wdir: $(tail -n 30 "$dir/build.log")"
    log "  built in $((SECONDS - t)) s"
)

# --- Check the names against the SDK ----------------------------------------------------------

# Every SDK token must be served, every served token must be the SDK's, and each resource's
# property names must be the SDK's: a mismatch would fail only at `pulumi up` time otherwise.
"$bin" -herd-properties >"$dir/properties.json" || die "$bin -herd-properties failed"
node - "$PWD/$sdk_dir" "$dir/properties.json" <<'EOF' || die "the provider does not serve the SDK's names (above)"
const fs = require("fs"), path = require("path");
const [sdk, propsFile] = process.argv.slice(2);
const served = JSON.parse(fs.readFileSync(propsFile, "utf8"));
const sdkTokens = new Map(); // token -> .d.ts file
(function walk(d) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) { if (e.name !== "node_modules" && e.name !== "types") walk(p); continue; }
        if (!e.name.endsWith(".js")) continue;
        for (const m of fs.readFileSync(p, "utf8").matchAll(/(?:__pulumiType = |invoke\()["'](openstack:[^"']+)["']/g)) {
            sdkTokens.set(m[1], p.replace(/\.js$/, ".d.ts"));
        }
    }
})(sdk);
const errors = [];
for (const t of sdkTokens.keys()) if (!(t in served)) errors.push(`the SDK has ${t}, the provider does not serve it`);
for (const t of Object.keys(served)) if (!sdkTokens.has(t)) errors.push(`the provider serves ${t}, the SDK has no such token`);
// A resource's properties: the members of its `…State` interface (all of them, optional).
for (const [t, dts] of sdkTokens) {
    const name = t.split(":")[2];
    if (name.startsWith("get") || !(t in served)) continue;
    const body = new RegExp(`export interface ${name}State \\{([\\s\\S]*?)\\n\\}`).exec(fs.readFileSync(dts, "utf8"));
    if (!body) { errors.push(`no ${name}State in ${dts}`); continue; }
    const sdkProps = [...body[1].matchAll(/^ {4}(\w+)\?:/gm)].map((m) => m[1]).sort();
    const mine = served[t];
    const missing = sdkProps.filter((p) => !mine.includes(p)), extra = mine.filter((p) => !sdkProps.includes(p));
    if (missing.length || extra.length) errors.push(`${t}: SDK-only ${JSON.stringify(missing)}, provider-only ${JSON.stringify(extra)}`);
}
if (errors.length) { console.error(errors.join("\n")); process.exit(1); }
console.error(`openstack-provider: the ${sdkTokens.size} SDK tokens and every resource's property names match`);
EOF

{
    echo "SDK_OPENSTACK=$sdk_version"
    echo "PROVIDER_VERSION=$provider_version"
    echo "TERRAFORM_PROVIDER_OPENSTACK=${UPSTREAM_VERSION#v}"
    echo "PULUMI_TERRAFORM_BRIDGE=${BRIDGE_VERSION#v}"
    echo "GO=$(go env GOVERSION)"
} >"$dir/versions.env"
rm -rf "$dir/tmp"
touch "$dir/ready"
log "ready in $((SECONDS - started)) s: $dir"
sed 's/^/openstack-provider:   /' "$dir/versions.env" >&2
install_plugin
echo "$dir"
