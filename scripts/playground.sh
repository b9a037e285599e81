#!/usr/bin/env bash
# The playground: herd's Kubernetes fleets on a real control plane on this machine, no cloud.
#
#   npm run playground                 build or reuse the engine and the control plane, start the
#                                      cluster, `pulumi up` the `local` stack, show what runs where
#   npm run playground -- up           `pulumi up` again (after an edit of Pulumi.local.yaml)
#   npm run playground -- status       what runs where: pods per fleet, role and generation
#   npm run playground -- pulumi ARGS  any pulumi command on the playground (preview, stack output…)
#   npm run playground -- --down       stop the cluster (its data and the stack's state are kept)
#   npm run playground -- --reset      stop it and forget everything (.herd/playground)
#
# Everything lives in .herd/playground (ignored by git): the cluster (scripts/cluster-up.sh), its
# kubeconfig, which Pulumi.local.yaml names, and the stack's state (a local file backend, with a
# passphrase that protects nothing: this is a playground). Every server listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$PWD
run_dir="$project/.herd/playground"
readonly STACK=local

log() { printf 'playground: %s\n' "$*" >&2; }

# The engine (Pulumi CLI and Kubernetes provider), as the tests use it.
use_engine() {
    local t=$SECONDS engine
    engine=$(bash scripts/engine.sh)
    log "engine ready after $((SECONDS - t)) s"
    export PATH="$engine/bin:$PATH"
    export PULUMI_HOME="$engine/home"
    export PULUMI_BACKEND_URL="file://$run_dir/state"
    export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-herd playground}"
    export PULUMI_SKIP_UPDATE_CHECK=true
    export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
    export KUBECONFIG="$run_dir/kubeconfig"
    mkdir -p "$run_dir/state"
}

# The Pulumi CLI on the project, with the program served by scripts/pulumi.ts.
pulumi_() { node --import tsx "$project/scripts/pulumi.ts" "$@"; }

running() { [ -f "$run_dir/kubeconfig" ] && kubectl_ get --raw /readyz >/dev/null 2>&1; }
kubectl_() { "$(sed -n 's/^HERD_CLUSTER_BIN=//p' "$run_dir/cluster.env")/kubectl" --kubeconfig "$run_dir/kubeconfig" "$@"; }

ensure_cluster() {
    if [ -f "$run_dir/cluster.env" ] && running; then
        log "the cluster is running ($(sed -n 's/^HERD_CLUSTER_API=//p' "$run_dir/cluster.env"))"
        return
    fi
    local t=$SECONDS
    bash scripts/cluster-up.sh start "$run_dir"
    log "cluster ready after $((SECONDS - t)) s"
}

# Pulumi.local.yaml carries the salt of the playground's passphrase, so creating the stack
# leaves the committed file as it is.
ensure_stack() {
    pulumi stack select --create "$STACK" --secrets-provider passphrase >/dev/null
}

status() {
    echo
    echo "What runs where (a row per pod: on Kubernetes each pod is a member):"
    kubectl_ get pods --all-namespaces -l herd.dev/fleet \
        --sort-by=.metadata.labels.herd\\.dev/fleet \
        -o custom-columns='FLEET:.metadata.labels.herd\.dev/fleet,NAMESPACE:.metadata.namespace,ROLE:.metadata.labels.herd\.dev/role,GENERATION:.metadata.labels.herd\.dev/generation,POD:.metadata.name,NODE:.spec.nodeName,STATUS:.status.phase'
}

next_steps() {
    local kubectl
    kubectl="$(sed -n 's/^HERD_CLUSTER_BIN=//p' "$run_dir/cluster.env")/kubectl --kubeconfig $run_dir/kubeconfig"
    cat <<TEXT

Try a rollout; in another shell, watch the pods being replaced:
  $kubectl get pods -n web -L herd.dev/generation -w
  1. npm run herd -- release web --stack local --set 'env={LOG_LEVEL: debug}' && git commit -qam "web: debug logs"
     npm run playground -- up          one pod runs the new release, 11 stay as they are
  2. npm run herd -- promote web --stack local && git commit -qam "web: next wave" && npm run playground -- up
                                       10 pods, then (again) all 12, each one a new pod
  3. npm run herd -- rollback web --stack local && git commit -qam "web: back" && npm run playground -- up
                                       every pod back on the previous release
  npm run herd -- status --stack local shows the wave; git revert undoes any step.
Stop it with: npm run playground -- --down     (forget everything: --reset)
TEXT
}

command=${1:-start}
case "$command" in
    start | "")
        started=$SECONDS
        use_engine
        ensure_cluster
        ensure_stack
        pulumi_ up --stack "$STACK" --yes --skip-preview
        status
        log "ready in $((SECONDS - started)) s"
        next_steps
        ;;
    up)
        use_engine
        ensure_cluster
        ensure_stack
        pulumi_ up --stack "$STACK" --yes --skip-preview
        status
        ;;
    status)
        running || { log "the playground is not running: npm run playground"; exit 1; }
        status
        ;;
    pulumi)
        shift
        use_engine
        ensure_stack
        pulumi_ "$@"
        ;;
    --down | down)
        bash scripts/cluster-up.sh stop "$run_dir"
        ;;
    --reset | reset)
        bash scripts/cluster-up.sh stop "$run_dir"
        rm -rf "$run_dir"
        log "forgot .herd/playground"
        ;;
    *)
        sed -n '4,10p' "$0" | sed 's/^# //' >&2
        exit 2
        ;;
esac
