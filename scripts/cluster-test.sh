#!/usr/bin/env bash
# The cluster test: the `local` stack through the real Pulumi CLI, engine and Kubernetes provider
# against a real control plane on this machine (test/cluster/cluster.e2e.ts says what it checks),
# started and stopped by scripts/with-cluster.sh. Not part of `npm test`.
# Usage: scripts/cluster-test.sh [mocha options]
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/with-cluster.sh node_modules/.bin/mocha --no-config --node-option import=tsx --extension ts \
    --timeout 2400000 --reporter spec "$@" test/cluster/cluster.e2e.ts
