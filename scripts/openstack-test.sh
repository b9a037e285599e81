#!/usr/bin/env bash
# The OpenStack test: `herd apply` and its preflight (test/openstack/apply.e2e.ts), then the
# `box` stack's whole lifecycle (test/openstack/openstack.e2e.ts), then `herd robot` replacing a
# member whose server is put into ERROR, behind Debian's prometheus-alertmanager
# (test/openstack/robot.e2e.ts), through the real Pulumi CLI and engine and the OpenStack provider
# rebuilt from its upstream, against a real OpenStack on this machine (each file says what it
# checks). Builds or finds cached the engine
# (scripts/engine.sh) and the provider (scripts/openstack/provider.sh, installed into the
# engine's plugins), installs the cloud from Debian's packages (scripts/openstack/cloud.sh
# install; root) and starts it in a temporary folder, stopped by PID whatever happens. Not part
# of `npm test`.
#
# Usage: scripts/openstack-test.sh [mocha options]
# Environment: HERD_OPENSTACK_RUN=DIR runs against the cloud started in DIR (cloud.sh start DIR)
#              and leaves it running; HERD_ENGINE_DIR=DIR uses that engine (scripts/engine.sh's
#              folder) instead of building or finding one; HERD_ENGINE_KEEP=1 keeps the test's
#              project and the cloud's folder.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
# HERD_ENGINE_DIR set: that engine (CI passes one whose CLI is built, its Kubernetes provider
# perhaps still building, which this test does not use).
HERD_ENGINE_DIR=${HERD_ENGINE_DIR:-$(bash scripts/engine.sh)}
export HERD_ENGINE_DIR
PULUMI="$HERD_ENGINE_DIR/bin/pulumi" PULUMI_HOME="$HERD_ENGINE_DIR/home" bash scripts/openstack/provider.sh >/dev/null
echo "openstack-test: engine and provider ready after $((SECONDS - started)) s"

if [ -z "${HERD_OPENSTACK_RUN:-}" ]; then
    bash scripts/openstack/cloud.sh install
    HERD_OPENSTACK_RUN=$(mktemp -d "${TMPDIR:-/tmp}/herd-openstack-XXXXXX")
    export HERD_OPENSTACK_RUN
    stop() {
        bash scripts/openstack/cloud.sh stop "$HERD_OPENSTACK_RUN" || true
        if [ -n "${HERD_ENGINE_KEEP:-}" ]; then
            echo "openstack-test: kept $HERD_OPENSTACK_RUN"
        else
            rm -rf "$HERD_OPENSTACK_RUN"
        fi
    }
    trap stop EXIT
    trap 'exit 130' INT TERM
    up=$SECONDS
    bash scripts/openstack/cloud.sh start "$HERD_OPENSTACK_RUN" >/dev/null
    echo "openstack-test: cloud ready in $((SECONDS - up)) s"
fi

node_modules/.bin/mocha --no-config --node-option import=tsx --extension ts \
    --timeout 2400000 --reporter spec "$@" test/openstack/apply.e2e.ts test/openstack/openstack.e2e.ts \
    test/openstack/robot.e2e.ts
