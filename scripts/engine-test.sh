#!/usr/bin/env bash
# The engine test: the program through the real Pulumi CLI, engine and Kubernetes provider
# (test/engine/engine.e2e.ts), and the policy pack through `pulumi preview --policy-pack`
# (test/engine/policy.e2e.ts), with the engine that scripts/engine.sh builds or finds in its cache.
# Not part of `npm test`. Usage: scripts/engine-test.sh [mocha options]
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
HERD_ENGINE_DIR=$(bash scripts/engine.sh)
export HERD_ENGINE_DIR
echo "engine-test: engine ready after $((SECONDS - started)) s: $HERD_ENGINE_DIR"

status=0
node_modules/.bin/mocha --no-config --node-option import=tsx --extension ts --timeout 600000 --reporter spec \
    "$@" test/engine/engine.e2e.ts test/engine/policy.e2e.ts || status=$?
echo "engine-test: done in $((SECONDS - started)) s"
exit "$status"
