#!/bin/sh
# Counts nginx workers that died on a signal since the log was last rotated: the crash behind
# the 502s of a bad release. herd publishes the count as herd_probe_nginx_worker_crashes.
set -eu
log=/var/log/nginx/error.log
if [ ! -r "$log" ]; then
    echo 0
    exit 0
fi
# grep -c prints 0 and exits 1 when nothing matches; 0 is the answer then, not a failure.
grep -c 'worker process [0-9]* exited on signal' "$log" || true
