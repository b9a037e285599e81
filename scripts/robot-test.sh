#!/usr/bin/env bash
# The robot's end-to-end test: a pod of the `local` stack made unready on a real control plane is
# replaced through real Prometheus, Alertmanager and `herd robot` (test/cluster/robot.e2e.ts says
# what it checks), next to a cluster started and stopped by scripts/with-cluster.sh. Needs
# Debian's prometheus and prometheus-alertmanager. Not part of `npm test`.
# Usage: scripts/robot-test.sh [mocha options]
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/with-cluster.sh node_modules/.bin/mocha --no-config --node-option import=tsx --extension ts \
    --timeout 900000 --reporter spec "$@" test/cluster/robot.e2e.ts
