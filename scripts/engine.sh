#!/usr/bin/env bash
# Builds the real Pulumi engine that the engine test runs the program through, from the Go module
# proxy, and caches it outside the repository (CI starts from a fresh clone, on the same machine):
#
#   ${HERD_ENGINE_CACHE:-$HOME/.cache/herd-engine}/<versions>/
#     bin/pulumi                       the CLI, at the version of @pulumi/pulumi in package-lock.json
#     bin/pulumi-resource-kubernetes   the provider, at the version of @pulumi/kubernetes
#     bin/pulumi-language-nodejs       the Node.js language host, when the proxy serves it; else
#                                      scripts/pulumi-language-nodejs.js, which runs policy packs
#     home/                            PULUMI_HOME, with the provider installed as a plugin
#     versions.env                     what was asked for and what was built
#
# Each binary is built by a small wrapper module generated in the cache (its own go.mod requiring
# the upstream module, with the upstream go.mod's `replace` directives carried over: a `go install
# module@version` refuses modules that have them). A second run finds the cache and takes seconds.
#
# Where the proxy refuses the lock file's version (it serves only some), the nearest version it
# serves is built instead and a warning says so; HERD_PULUMI_VERSION and
# HERD_KUBERNETES_PROVIDER_VERSION (Go module versions, e.g. v3.274.1) choose one explicitly.
#
# The stand-in language host is installed on every run, outside the cache key: a warm cache stays
# warm and gets the stand-in of the checkout that runs it.
#
# Usage: scripts/engine.sh           progress on standard error; prints the cache folder on standard output
#        scripts/engine.sh --cli-ready   builds nothing: prints the cache folder once its CLI is built
#                                        (a build still making the Kubernetes provider included), else
#                                        exits 3. A test that needs only the CLI (OpenStack's) starts
#                                        with it rather than after the provider's build.
set -euo pipefail
cd "$(dirname "$0")/.."

# Bump when the way the binaries are built changes: it is part of the cache key.
readonly RECIPE=1
readonly CLI_MODULE=github.com/pulumi/pulumi/pkg/v3
readonly CLI_PACKAGE=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
readonly SDK_MODULE=github.com/pulumi/pulumi/sdk/v3
readonly NODEJS_MODULE=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
readonly K8S_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
readonly K8S_CMD=cmd/pulumi-resource-kubernetes
# pulumi-kubernetes tags its releases at the repository root only, so its provider module has no
# release versions on the proxy, only pseudo-versions of commits: this is the one the proxy served
# on 2026-11-26 (commit f47bc2d6f199 of 2026-01-15), used when the lock file's version is refused.
readonly K8S_FALLBACK=v4.0.0-20260115033456-f47bc2d6f199

log() { printf 'engine: %s\n' "$*" >&2; }
warn() { printf 'engine: WARNING: %s\n' "$*" >&2; }
die() {
    printf 'engine: ERROR: %s\n' "$*" >&2
    exit 1
}

# --- Tools ------------------------------------------------------------------------------------

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || die "Go is not installed (looked on the PATH and in /usr/local/go/bin)"
command -v node >/dev/null || die "node is not on the PATH (it reads package-lock.json)"
# The wrapper modules resolve their dependencies from the proxy; keep builds reproducible and quiet.
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# --- Versions ---------------------------------------------------------------------------------

lock_version() {
    node -e '
        const lock = require(process.argv[1]);
        const entry = lock.packages && lock.packages["node_modules/" + process.argv[2]];
        if (!entry || !entry.version) { console.error("no " + process.argv[2] + " in package-lock.json"); process.exit(1); }
        console.log(entry.version);
    ' "$PWD/package-lock.json" "$1"
}

sdk_pulumi=$(lock_version @pulumi/pulumi)
sdk_kubernetes=$(lock_version @pulumi/kubernetes)
cache_root="${HERD_ENGINE_CACHE:-$HOME/.cache/herd-engine}"
key="pulumi-${HERD_PULUMI_VERSION:-v$sdk_pulumi}_kubernetes-${HERD_KUBERNETES_PROVIDER_VERSION:-v$sdk_kubernetes}_r$RECIPE"
dir="$cache_root/$key"
bin="$dir/bin"

# The Node.js language host runs policy packs (`pulumi preview --policy-pack`). Where the proxy
# does not serve the real one, scripts/pulumi-language-nodejs.js stands in for it; a real one that
# was built is left alone. Replaced only when it differs, and atomically (checkouts share the cache).
readonly STAND_IN=scripts/pulumi-language-nodejs.js
readonly STAND_IN_MARK="herd: the engine's stand-in for pulumi-language-nodejs"
install_language_host() {
    local target="$bin/pulumi-language-nodejs"
    if [ -e "$target" ] && ! grep -qF "$STAND_IN_MARK" "$target"; then
        return
    fi
    cmp -s "$STAND_IN" "$target" && return
    mkdir -p "$bin"
    cp "$STAND_IN" "$target.$$"
    chmod 755 "$target.$$"
    mv -f "$target.$$" "$target"
    log "installed $STAND_IN as $target (the proxy serves no pulumi-language-nodejs; it runs policy packs only)"
}

if [ "${1:-}" = "--cli-ready" ]; then
    if [ -x "$bin/pulumi" ] && { [ -f "$dir/ready" ] || [ -f "$dir/cli-ready" ]; }; then
        echo "$dir"
        exit 0
    fi
    exit 3
fi

if [ -f "$dir/ready" ] && [ -x "$bin/pulumi" ] && [ -x "$bin/pulumi-resource-kubernetes" ]; then
    log "cached: $dir"
    install_language_host
    sed 's/^/engine:   /' "$dir/versions.env" >&2
    echo "$dir"
    exit 0
fi

started=$SECONDS
log "building into $dir (the lock file has @pulumi/pulumi $sdk_pulumi, @pulumi/kubernetes $sdk_kubernetes)"
mkdir -p "$bin" "$dir/home" "$dir/src" "$dir/tmp"
# The go command's scratch space, where nothing else cleans it up mid-build.
export GOTMPDIR="$dir/tmp"

# The proxy must answer: say so plainly when it does not.
goproxy=$(go env GOPROXY)
case "$goproxy" in
    off | "") die "GOPROXY is '$goproxy': the Go module proxy is needed to build the engine (go env -w GOPROXY=https://proxy.golang.org,direct)" ;;
esac

# Prints `go mod download -json` of module@version: the module's Dir and GoMod, or its Error
# (the proxy's answer). Succeeds either way.
download() { go mod download -json "$1@$2" 2>/dev/null || true; }

# The field of a `go mod download -json` answer.
json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v===undefined)process.exit(1);console.log(v)})' "$1"; }

unreachable() {
    case "$1" in
        *"dial tcp"* | *"no such host"* | *"connection refused"* | *"i/o timeout"* | *"TLS handshake"* | *"network is unreachable"* | *"Client.Timeout"*)
            return 0
            ;;
    esac
    return 1
}

# Resolves the version to build of a module: the wanted one if the proxy serves it (or the module
# cache has it), otherwise the one the fallback command prints. Prints the version.
resolve() {
    local module=$1 wanted=$2 out error fallback=""
    shift 2
    out=$(download "$module" "$wanted")
    if printf '%s' "$out" | json_field Dir >/dev/null 2>&1; then
        echo "$wanted"
        return
    fi
    error=$(printf '%s' "$out" | json_field Error 2>/dev/null || echo "no answer for $module@$wanted")
    if unreachable "$error"; then
        die "the Go module proxy ($goproxy) cannot be reached, so the engine cannot be built:
$error"
    fi
    [ "$#" -eq 0 ] || fallback=$("$@")
    if [ -z "$fallback" ]; then
        die "the proxy does not serve $module@$wanted: $error"
    fi
    warn "the proxy does not serve $module@$wanted ($(printf '%s' "$error" | tail -n 1 | sed 's/.*server response: //')); building $fallback instead"
    echo "$fallback"
}

# The newest release of a module that the proxy lists at or below a version (same major).
newest_at_or_below() {
    local module=$1 ceiling=$2 versions listed
    versions=$(go list -m -versions "$module" 2>&1) || {
        unreachable "$versions" && die "the Go module proxy ($goproxy) cannot be reached, so the engine cannot be built:
$versions"
        return 0
    }
    read -ra listed <<<"$versions"
    node -e '
        const [ceiling, ...listed] = process.argv.slice(1);
        const parse = (v) => { const m = /^v(\d+)\.(\d+)\.(\d+)$/.exec(v); return m && m.slice(1).map(Number); };
        const cmp = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
        const top = parse(ceiling);
        const ok = listed.filter((v) => { const p = parse(v); return p && p[0] === top[0] && cmp(p, top) <= 0; });
        ok.sort((a, b) => cmp(parse(a), parse(b)));
        if (ok.length) console.log(ok[ok.length - 1]);
    ' "$ceiling" "${listed[@]:1}"
}

log "asking the proxy ($goproxy) for the modules"
if [ -n "${HERD_PULUMI_VERSION:-}" ]; then
    cli_version=$(resolve "$CLI_MODULE" "$HERD_PULUMI_VERSION")
else
    cli_version=$(resolve "$CLI_MODULE" "v$sdk_pulumi" newest_at_or_below "$CLI_MODULE" "v$sdk_pulumi")
fi
if [ -n "${HERD_KUBERNETES_PROVIDER_VERSION:-}" ]; then
    k8s_version=$(resolve "$K8S_MODULE" "$HERD_KUBERNETES_PROVIDER_VERSION")
else
    k8s_version=$(resolve "$K8S_MODULE" "v$sdk_kubernetes" echo "$K8S_FALLBACK")
fi
nodejs_version=""
out=$(download "$NODEJS_MODULE" "$cli_version")
if printf '%s' "$out" | json_field Dir >/dev/null 2>&1; then
    nodejs_version=$cli_version
else
    warn "the proxy does not serve $NODEJS_MODULE@$cli_version ($(printf '%s' "$out" | json_field Error 2>/dev/null | tail -n 1 | sed 's/.*server response: //')): no pulumi-language-nodejs; the engine test serves the program with @pulumi/pulumi's own language runtime (scripts/pulumi.ts)"
fi

# --- Wrapper modules --------------------------------------------------------------------------

# Writes a wrapper module in $1 that requires $2@$3 with the upstream go.mod's replacements:
# a replacement by another module is copied; one by a folder of the upstream repository (a
# sibling module, not in the module zip) becomes that module at the version upstream requires.
wrapper() {
    local wdir=$1 module=$2 version=$3 gomod
    gomod=$(download "$module" "$version" | json_field GoMod) || die "cannot read the go.mod of $module@$version"
    rm -rf "$wdir"
    mkdir -p "$wdir"
    local goline
    goline=$(go mod edit -json "$gomod" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Go||"1.22"))')
    printf 'module herd.invalid/engine/%s\n\ngo %s\n' "$(basename "$wdir")" "$goline" >"$wdir/go.mod"
    local replacements
    replacements=$(go mod edit -json "$gomod" | node -e '
        let s = "";
        process.stdin.on("data", (d) => (s += d)).on("end", () => {
            const mod = JSON.parse(s);
            const required = new Map((mod.Require || []).map((r) => [r.Path, r.Version]));
            for (const r of mod.Replace || []) {
                const old = r.Old.Path + (r.Old.Version ? "@" + r.Old.Version : "");
                if (r.New.Version) {
                    console.log(old + "=" + r.New.Path + "@" + r.New.Version);
                } else if (required.has(r.Old.Path)) {
                    console.log(old + "=" + r.Old.Path + "@" + required.get(r.Old.Path));
                } else {
                    console.error("engine: skipping replacement of " + old + " by the folder " + r.New.Path + " (not required)");
                }
            }
        });
    ')
    local line
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        log "  $(basename "$wdir"): replace ${line/=/ => }"
        (cd "$wdir" && go mod edit -replace="$line")
    done <<<"$replacements"
}

# `go get` a package into a wrapper module, with the proxy's error if it fails.
get() {
    local wdir=$1 target=$2 out
    if ! out=$(cd "$wdir" && go get "$target" 2>&1); then
        unreachable "$out" && die "the Go module proxy ($goproxy) cannot be reached, so the engine cannot be built:
$out"
        die "go get $target failed in $wdir:
$out"
    fi
}

build() {
    local wdir=$1 package=$2 output=$3 ldflags=$4 t=$SECONDS
    log "  go build $package (long on a cold cache)"
    (cd "$wdir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$output" "$package") ||
        die "go build $package failed (wrapper module: $wdir)"
    log "  built $(basename "$output") in $((SECONDS - t)) s"
}

# The CLI, marked ready on its own (cli-ready): a test that needs no Kubernetes provider starts
# with it. A build cut short after it resumes with the provider.
if [ -f "$dir/cli-ready" ] && [ -x "$bin/pulumi" ]; then
    log "pulumi CLI $cli_version: built already ($bin/pulumi)"
else
    log "pulumi CLI $cli_version"
    wrapper "$dir/src/cli" "$CLI_MODULE" "$cli_version"
    get "$dir/src/cli" "$CLI_PACKAGE@$cli_version"
    build "$dir/src/cli" "$CLI_PACKAGE" "$bin/pulumi" "-X $SDK_MODULE/go/common/version.Version=$cli_version"
    install_language_host
    touch "$dir/cli-ready"
    log "the CLI is ready after $((SECONDS - started)) s (engine.sh --cli-ready answers now)"
fi

# The Node.js language host, where it is served.
if [ -n "$nodejs_version" ]; then
    log "pulumi-language-nodejs $nodejs_version"
    wrapper "$dir/src/nodejs" "$NODEJS_MODULE" "$nodejs_version"
    get "$dir/src/nodejs" "$NODEJS_MODULE@$nodejs_version"
    build "$dir/src/nodejs" "$NODEJS_MODULE" "$bin/pulumi-language-nodejs" "-X $SDK_MODULE/go/common/version.Version=$nodejs_version"
fi

# The Kubernetes provider. Its main package embeds a versioned copy of its schema that upstream
# generates before building (go generate, not in the module zip): the wrapper holds a copy of the
# main package and runs upstream's generator on it.
plugin_version=${k8s_version#v}
log "pulumi-resource-kubernetes $k8s_version (plugin version $plugin_version)"
k8s_dir=$(download "$K8S_MODULE" "$k8s_version" | json_field Dir) || die "cannot download $K8S_MODULE@$k8s_version"
wrapper "$dir/src/kubernetes" "$K8S_MODULE" "$k8s_version"
cp "$k8s_dir/$K8S_CMD/main.go" "$k8s_dir/$K8S_CMD/schema.json" "$k8s_dir/$K8S_CMD/terraform-mapping.json" "$dir/src/kubernetes/"
chmod u+w "$dir/src/kubernetes/"*
get "$dir/src/kubernetes" "$K8S_MODULE@$k8s_version"
(cd "$dir/src/kubernetes" && go mod tidy >/dev/null 2>&1) || die "go mod tidy failed in $dir/src/kubernetes"
log "  generating the embedded schema (upstream's $K8S_CMD/generate.go, VERSION=$plugin_version)"
(cd "$dir/src/kubernetes" && VERSION=$plugin_version go run "$k8s_dir/$K8S_CMD/generate.go") ||
    die "the schema generator failed in $dir/src/kubernetes"
build "$dir/src/kubernetes" . "$bin/pulumi-resource-kubernetes" "-X $K8S_MODULE/pkg/version.Version=$plugin_version"

# --- Plugin installation ----------------------------------------------------------------------

export PULUMI_HOME="$dir/home"
export PULUMI_SKIP_UPDATE_CHECK=true
log "installing the provider as plugin resource kubernetes $plugin_version (PULUMI_HOME=$PULUMI_HOME)"
"$bin/pulumi" plugin install resource kubernetes "$plugin_version" --file "$bin/pulumi-resource-kubernetes" >&2
"$bin/pulumi" version >/dev/null

{
    echo "SDK_PULUMI=$sdk_pulumi"
    echo "SDK_KUBERNETES=$sdk_kubernetes"
    echo "PULUMI_CLI=${cli_version#v}"
    echo "PULUMI_LANGUAGE_NODEJS=${nodejs_version#v}"
    echo "KUBERNETES_PROVIDER=$plugin_version"
    echo "GO=$(go env GOVERSION)"
} >"$dir/versions.env"
rm -rf "$dir/tmp"
install_language_host
touch "$dir/ready"
log "ready in $((SECONDS - started)) s: $dir"
sed 's/^/engine:   /' "$dir/versions.env" >&2
echo "$dir"
