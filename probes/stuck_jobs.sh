#!/bin/sh
# Counts the jobs a worker reports as stuck (GET /stats lists one job a line, "stuck <id>" for
# those running past their deadline). A worker that cannot be reached fails the probe, which
# herd publishes as herd_probe_success 0.
set -eu
url="${WORKER_STATS_URL:-http://worker.worker.svc:8080/stats}"
stats=$(wget -q -O - "$url")
# grep -c prints 0 and exits 1 when no job is stuck; 0 is the answer then, not a failure.
printf '%s\n' "$stats" | grep -c '^stuck ' || true
