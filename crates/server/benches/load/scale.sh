#!/usr/bin/env bash
# Concurrency at scale: the e2e test `publish_at_scale` with 1,000 acknowledged publishes per
# layout (64 clients on one GUN, 64 clients on 64 GUNs) on SQLite and on PostgreSQL, against a
# release build of signet-server (the clients are the e2e suite's usual debug build). Prints the
# figures the test measures.
#
# Usage: crates/server/benches/load/scale.sh
# Environment (all optional):
#   PUBLISHES=1000      acknowledged publishes per layout
#   SIGNET_SERVER_BIN   a signet-server binary to use instead of building the release one
# Needs Postgres on 127.0.0.1:5432 (user postgres, trust auth) for the PostgreSQL half.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
publishes="${PUBLISHES:-1000}"

if [[ -z "${SIGNET_SERVER_BIN:-}" ]]; then
    (cd "$root" && cargo build --release -p signet-server --bin signet-server) >&2
    SIGNET_SERVER_BIN="${CARGO_TARGET_DIR:-$root/target}/release/signet-server"
fi
export SIGNET_SERVER_BIN SIGNET_SCALE_PUBLISHES="$publishes"

(cd "$root" && cargo test -p signet-e2e --test e2e --no-run) >&2
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
log="$(mktemp -t signet-scale-XXXXXX.log)"
start="$(date +%s)"
status=0
(cd "$root" && cargo test -p signet-e2e --test e2e -- publish_at_scale \
    --test-threads=1 --nocapture) >"$log" 2>&1 || status=$?
grep -E '^(sqlite|postgres):|^test |test result|panicked' "$log" || true
echo "whole run (build excluded; both backends, both layouts, checks included): $(($(date +%s) - start)) s"
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [[ $status -ne 0 ]]; then
    echo "the test failed; its output is in $log" >&2
else
    rm -f "$log"
fi
exit "$status"
