#!/usr/bin/env bash
# Runs a command next to a real Kubernetes control plane: builds or finds cached the engine
# (scripts/engine.sh) and the control plane (scripts/cluster.sh), starts a cluster in a temporary
# folder (scripts/cluster-up.sh), runs the command with HERD_ENGINE_DIR and HERD_CLUSTER_RUN set,
# and stops exactly the processes it started, whatever happens to the command; exits with the
# command's status. HERD_ENGINE_KEEP=1 keeps the cluster's folder.
#
# Usage: scripts/with-cluster.sh COMMAND [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -gt 0 ] || {
    sed -n '8p' "$0" | sed 's/^# //' >&2
    exit 2
}

started=$SECONDS
HERD_ENGINE_DIR=$(bash scripts/engine.sh)
export HERD_ENGINE_DIR
echo "with-cluster: engine ready after $((SECONDS - started)) s: $HERD_ENGINE_DIR"
built=$SECONDS
bash scripts/cluster.sh >/dev/null
echo "with-cluster: control plane binaries ready after $((SECONDS - built)) s"

HERD_CLUSTER_RUN=$(mktemp -d "${TMPDIR:-/tmp}/herd-cluster-XXXXXX")
export HERD_CLUSTER_RUN
stop() {
    bash scripts/cluster-up.sh stop "$HERD_CLUSTER_RUN" || true
    if [ -n "${HERD_ENGINE_KEEP:-}" ]; then
        echo "with-cluster: kept $HERD_CLUSTER_RUN"
    else
        rm -rf "$HERD_CLUSTER_RUN"
    fi
}
trap stop EXIT
trap 'exit 130' INT TERM
up=$SECONDS
bash scripts/cluster-up.sh start "$HERD_CLUSTER_RUN"
echo "with-cluster: cluster ready in $((SECONDS - up)) s"

status=0
"$@" || status=$?
trap - EXIT
stop
echo "with-cluster: done in $((SECONDS - started)) s"
exit "$status"
