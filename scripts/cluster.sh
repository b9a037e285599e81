#!/usr/bin/env bash
# Builds the real Kubernetes control plane that the end-to-end test runs against (started by
# scripts/cluster-up.sh), from the Go module proxy, and caches it outside the repository (CI
# starts from a fresh clone, on the same machine):
#
#   ${HERD_CLUSTER_CACHE:-$HOME/.cache/herd-cluster}/<versions>/
#     bin/kube-apiserver, bin/kube-controller-manager, bin/kube-scheduler, bin/kubectl
#                          from k8s.io/kubernetes
#     bin/etcd             from go.etcd.io/etcd/server/v3
#     bin/kwok             from sigs.k8s.io/kwok: runs fake nodes and pods (nothing is pulled or run)
#     crds/                the Prometheus Operator's PodMonitor and PrometheusRule CRDs, as published
#                          in its module (example/prometheus-operator-crd/)
#     kwok-stages/         the Stage files KWOK ships (kustomize/stage/...): the kwok binary, unlike
#                          kwokctl, simulates nothing until it is given stages
#     versions.env         what was built, and where the CRDs and stages come from
#
# k8s.io/kubernetes and etcd's server module have `replace` directives (by folders of their
# repositories, not in the module zips), which `go install module@version` refuses: each is built
# by a small wrapper module generated in the cache, whose go.mod requires the upstream module and
# replaces each folder by the published module of the same code. A second run finds the cache and
# takes a fraction of a second (it does not ask the proxy anything).
#
# Versions: HERD_KUBERNETES_VERSION (v1.36.1), HERD_ETCD_VERSION (v3.6.16),
# HERD_KWOK_VERSION (v0.8.0), HERD_PROMETHEUS_OPERATOR_VERSION (v0.92.0); each is part of the key.
#
# Usage: scripts/cluster.sh      progress on standard error; prints the cache folder on standard output
set -euo pipefail
cd "$(dirname "$0")/.."

# Bump when the way the binaries are built changes: it is part of the cache key.
readonly RECIPE=1
readonly K8S_MODULE=k8s.io/kubernetes
readonly ETCD_MODULE=go.etcd.io/etcd/server/v3
readonly KWOK_MODULE=sigs.k8s.io/kwok
readonly PROMOP_MODULE=github.com/prometheus-operator/prometheus-operator
# Pinned so that the cache key is known without asking the proxy. etcd: the newest 3.6 patch the
# proxy served on 2026-11-27. Prometheus Operator: the proxy lists only v0.85.0 for it but serves
# newer releases when asked by version; v0.92.0 was served on 2026-11-27.
k8s_version=${HERD_KUBERNETES_VERSION:-v1.36.1}
etcd_version=${HERD_ETCD_VERSION:-v3.6.16}
kwok_version=${HERD_KWOK_VERSION:-v0.8.0}
promop_version=${HERD_PROMETHEUS_OPERATOR_VERSION:-v0.92.0}

log() { printf 'cluster: %s\n' "$*" >&2; }
die() {
    printf 'cluster: ERROR: %s\n' "$*" >&2
    exit 1
}

# --- Cache ------------------------------------------------------------------------------------

cache_root="${HERD_CLUSTER_CACHE:-$HOME/.cache/herd-cluster}"
key="k8s-${k8s_version}_etcd-${etcd_version}_kwok-${kwok_version}_promop-${promop_version}_r$RECIPE"
dir="$cache_root/$key"
bin="$dir/bin"
readonly BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

cached() {
    [ -f "$dir/ready" ] || return 1
    local b
    for b in "${BINARIES[@]}"; do [ -x "$bin/$b" ] || return 1; done
}

if cached; then
    log "cached: $dir"
    sed 's/^/cluster:   /' "$dir/versions.env" >&2
    echo "$dir"
    exit 0
fi

# --- Tools ------------------------------------------------------------------------------------

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || die "Go is not installed (looked on the PATH and in /usr/local/go/bin)"
command -v node >/dev/null || die "node is not on the PATH (it reads the go command's JSON)"
# The wrapper modules resolve their dependencies from the proxy; keep builds reproducible and quiet.
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
# Static binaries, as upstream releases them: no C toolchain needed, nothing linked from the host.
export CGO_ENABLED=0

started=$SECONDS
log "building into $dir"
mkdir -p "$bin" "$dir/src" "$dir/tmp"
# The go command's scratch space, where nothing else cleans it up mid-build.
export GOTMPDIR="$dir/tmp"

goproxy=$(go env GOPROXY)
case "$goproxy" in
    off | "") die "GOPROXY is '$goproxy': the Go module proxy is needed to build the control plane (go env -w GOPROXY=https://proxy.golang.org,direct)" ;;
esac

unreachable() {
    case "$1" in
        *"dial tcp"* | *"no such host"* | *"connection refused"* | *"i/o timeout"* | *"TLS handshake"* | *"network is unreachable"* | *"Client.Timeout"*)
            return 0
            ;;
    esac
    return 1
}

# The field of a JSON object on standard input (fails if absent).
json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v===undefined)process.exit(1);console.log(v)})' "$1"; }

# Downloads module@version and prints one field of the proxy's answer (Dir, GoMod); dies with the
# proxy's own words when it refuses or cannot be reached.
download() {
    local module=$1 version=$2 field=$3 out error
    out=$(go mod download -json "$module@$version" 2>/dev/null || true)
    if printf '%s' "$out" | json_field "$field" 2>/dev/null; then
        return
    fi
    error=$(printf '%s' "$out" | json_field Error 2>/dev/null || echo "no answer for $module@$version")
    if unreachable "$error"; then
        die "the Go module proxy ($goproxy) cannot be reached, so the control plane cannot be built:
$error"
    fi
    die "the proxy does not serve $module@$version (go list -m -versions $module lists what it has):
$error"
}

# Runs a go command in a folder; on failure dies with its output (and says so plainly when the
# failure is the proxy being unreachable). The output is kept in a log file next to the folder.
run_go() {
    local wdir=$1 what=$2 logfile
    shift 2
    logfile="$dir/src/$(basename "$wdir").log"
    if ! (cd "$wdir" && "$@") >>"$logfile" 2>&1; then
        if unreachable "$(cat "$logfile")"; then
            die "the Go module proxy ($goproxy) cannot be reached, so the control plane cannot be built:
$(tail -n 5 "$logfile")"
        fi
        die "$what failed in $wdir (full output: $logfile):
$(tail -n 20 "$logfile")"
    fi
}

# Writes a wrapper module in $1 requiring $2@$3; each replacement of the upstream go.mod is carried
# over, with a replacement by a folder of the upstream repository (a sibling module, absent from
# the module zip) becoming the module of that path at the version printed by `$4 path required`.
wrapper() {
    local wdir=$1 module=$2 version=$3 folder_version=$4 gomod goline replacements line
    gomod=$(download "$module" "$version" GoMod)
    rm -rf "$wdir"
    mkdir -p "$wdir"
    goline=$(go mod edit -json "$gomod" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Go||"1.22"))')
    printf 'module herd.invalid/cluster/%s\n\ngo %s\n\nrequire %s %s\n' "$(basename "$wdir")" "$goline" "$module" "$version" >"$wdir/go.mod"
    # Lines "old=new@version" or "old=FOLDER=required version" for the shell to finish.
    replacements=$(go mod edit -json "$gomod" | node -e '
        let s = "";
        process.stdin.on("data", (d) => (s += d)).on("end", () => {
            const mod = JSON.parse(s);
            const required = new Map((mod.Require || []).map((r) => [r.Path, r.Version]));
            for (const r of mod.Replace || []) {
                const old = r.Old.Path + (r.Old.Version ? "@" + r.Old.Version : "");
                if (r.New.Version) console.log(old + "=" + r.New.Path + "@" + r.New.Version);
                else if (required.has(r.Old.Path)) console.log(old + "=FOLDER=" + required.get(r.Old.Path));
                // A folder replacing a module that is not required (etcd points go.etcd.io/etcd
                // at ./FORBIDDEN_DEPENDENCY to catch bad imports) has nothing to build: skipped.
            }
        });
    ')
    local count=0 old new
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        old=${line%%=*}
        new=${line#*=}
        if [[ $new == FOLDER=* ]]; then
            new="$old@$("$folder_version" "$old" "${new#FOLDER=}")"
        fi
        (cd "$wdir" && go mod edit -replace="$old=$new")
        count=$((count + 1))
    done <<<"$replacements"
    log "  wrapper module $wdir ($count replacements)"
}

# k8s.io/kubernetes requires its staging repositories at v0.0.0 and replaces them by ./staging:
# the same code is published as k8s.io/<repo> v0.<minor>.<patch> for v1.<minor>.<patch>.
k8s_staging_version() { echo "v0.${k8s_version#v1.}"; }
# etcd's server module requires its sibling modules at the version it is released with.
same_version() { echo "$2"; }

build() {
    local wdir=$1 package=$2 output=$3 ldflags=$4 t=$SECONDS
    log "  go build $package (long on a cold cache)"
    run_go "$wdir" "go build $package" go build -trimpath -ldflags "-s -w $ldflags" -o "$output" "$package"
    log "  built $(basename "$output") in $((SECONDS - t)) s"
}

# --- Kubernetes -------------------------------------------------------------------------------

log "kubernetes $k8s_version (staging modules at $(k8s_staging_version))"
k8s_src="$dir/src/kubernetes"
wrapper "$k8s_src" "$K8S_MODULE" "$k8s_version" k8s_staging_version
run_go "$k8s_src" "go mod download" go get "$K8S_MODULE/cmd/kube-apiserver@$k8s_version"
# Upstream's hack/lib/version.sh stamps both version packages; without this the binaries report
# v0.0.0 (and the API server's compatibility checks read that).
minor=${k8s_version#v1.}
minor=${minor%%.*}
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
# One after another: the machine has few cores and they share most packages (the build cache).
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    build "$k8s_src" "$K8S_MODULE/cmd/$cmd" "$bin/$cmd" "$k8s_ldflags"
done

# --- etcd -------------------------------------------------------------------------------------

log "etcd $etcd_version"
etcd_src="$dir/src/etcd"
wrapper "$etcd_src" "$ETCD_MODULE" "$etcd_version" same_version
run_go "$etcd_src" "go mod download" go get "$ETCD_MODULE@$etcd_version"
# The module root is etcd's main package (a wrapper of etcdmain).
build "$etcd_src" "$ETCD_MODULE" "$bin/etcd" ""

# --- KWOK -------------------------------------------------------------------------------------

# kwok has no replace directives: `go install` builds it as released (its version is a constant).
log "kwok $kwok_version"
log "  go install $KWOK_MODULE/cmd/kwok@$kwok_version"
t=$SECONDS
run_go "$dir/src" "go install $KWOK_MODULE/cmd/kwok@$kwok_version" \
    env GOBIN="$bin" go install -trimpath -ldflags "-s -w" "$KWOK_MODULE/cmd/kwok@$kwok_version"
log "  built kwok in $((SECONDS - t)) s"

kwok_dir=$(download "$KWOK_MODULE" "$kwok_version" Dir)
rm -rf "$dir/kwok-stages"
# kwokctl's defaults are node/fast + node/heartbeat(-with-lease) + pod/fast; pod/general is the
# slower, more lifelike set (create/init/ready with delays). Keep them all, in upstream's layout.
for stages in node/fast node/heartbeat node/heartbeat-with-lease pod/fast pod/general; do
    [ -d "$kwok_dir/kustomize/stage/$stages" ] || die "$KWOK_MODULE@$kwok_version has no kustomize/stage/$stages (its layout changed: look in $kwok_dir/kustomize/stage)"
    mkdir -p "$dir/kwok-stages/$stages"
    for f in "$kwok_dir/kustomize/stage/$stages"/*.yaml; do
        [ "$(basename "$f")" = kustomization.yaml ] && continue
        cp "$f" "$dir/kwok-stages/$stages/"
    done
done
chmod -R u+w "$dir/kwok-stages"

# --- CRDs -------------------------------------------------------------------------------------

log "Prometheus Operator CRDs from $PROMOP_MODULE@$promop_version"
promop_dir=$(download "$PROMOP_MODULE" "$promop_version" Dir)
rm -rf "$dir/crds"
mkdir -p "$dir/crds"
for crd in podmonitors prometheusrules; do
    f="$promop_dir/example/prometheus-operator-crd/monitoring.coreos.com_$crd.yaml"
    [ -f "$f" ] || die "$PROMOP_MODULE@$promop_version has no example/prometheus-operator-crd/monitoring.coreos.com_$crd.yaml"
    cp "$f" "$dir/crds/"
done
chmod -R u+w "$dir/crds"

# --- Record -----------------------------------------------------------------------------------

{
    echo "KUBERNETES=$("$bin/kubectl" version --client -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).clientVersion.gitVersion))')"
    echo "KUBERNETES_MODULE=$K8S_MODULE@$k8s_version"
    echo "ETCD=$("$bin/etcd" --version | sed -n 's/^etcd Version: //p')"
    echo "ETCD_MODULE=$ETCD_MODULE@$etcd_version"
    echo "KWOK=$("$bin/kwok" --version 2>&1 | head -n 1)"
    echo "KWOK_MODULE=$KWOK_MODULE@$kwok_version"
    echo "KWOK_STAGES=$KWOK_MODULE@$kwok_version/kustomize/stage"
    echo "CRDS=$PROMOP_MODULE@$promop_version/example/prometheus-operator-crd"
    echo "GO=$(go env GOVERSION)"
} >"$dir/versions.env"
rm -rf "$dir/tmp"
touch "$dir/ready"
log "ready in $((SECONDS - started)) s: $dir"
sed 's/^/cluster:   /' "$dir/versions.env" >&2
echo "$dir"
