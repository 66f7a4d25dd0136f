#!/usr/bin/env bash
# Publish throughput: signet-server against the Go notary-server, both on one Postgres
# database, measured in one run by the `publish_load` generator (publish_load.rs).
#
# Usage: crates/server/benches/load/publish.sh
# Environment (all optional):
#   GUNS=64             GUNs per server and round, one concurrent client each
#   PUBLISHES=1000      publishes per server and round, spread over the GUNs
#   ROUNDS=1            rounds; the servers take turns going first (Go first)
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   the Postgres cluster (trust auth)
#   SIGNET_SERVER_BIN, PUBLISH_LOAD_BIN   binaries to use instead of building release ones
#   SIGNET_EXTRA_ARGS   extra signet-server arguments
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
guns="${GUNS:-64}"
publishes="${PUBLISHES:-1000}"
rounds="${ROUNDS:-1}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"

for tool in psql notary-server curl; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool (Debian packages: postgresql-client notary curl)" >&2
        exit 1
    }
done

if [[ -z "${SIGNET_SERVER_BIN:-}" || -z "${PUBLISH_LOAD_BIN:-}" ]]; then
    (cd "$root" && cargo build --release -p signet-server --bin signet-server --example publish_load) >&2
    release="${CARGO_TARGET_DIR:-$root/target}/release"
    SIGNET_SERVER_BIN="${SIGNET_SERVER_BIN:-$release/signet-server}"
    PUBLISH_LOAD_BIN="${PUBLISH_LOAD_BIN:-$release/examples/publish_load}"
fi

work="$(mktemp -d -t signet-publish-XXXXXX)"
db="signet_publish_$$"
# shellcheck source=pair.sh
source "$here/pair.sh"

echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
status=0
"$PUBLISH_LOAD_BIN" --server "go=$go_url" --server "signet=$signet_url" \
    --guns "$guns" --publishes "$publishes" --rounds "$rounds" || status=$?
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Where signet's publishes spent their time: the mean of each phase the server records
# (signet_server_publish_phase_seconds) and of the whole POST, over every accepted upload.
echo
echo "| signet publish phase | mean per publish | share of the POST |"
echo "|---|---:|---:|"
curl -sf "$signet_url/metrics" | awk '
    /^signet_server_publish_phase_seconds_sum/ { match($0, /phase="[a-z]+"/); p = substr($0, RSTART + 7, RLENGTH - 8); sum[p] = $2 }
    /^signet_server_publish_phase_seconds_count/ { match($0, /phase="[a-z]+"/); p = substr($0, RSTART + 7, RLENGTH - 8); n[p] = $2 }
    /^notary_server_http_request_duration_seconds_sum\{operation="UpdateTUF",method="POST"\}/ { total = $2 }
    /^notary_server_http_request_duration_seconds_count\{operation="UpdateTUF",method="POST"\}/ { count = $2 }
    END {
        split("validate snapshot timestamp store", order, " ")
        for (i = 1; i <= 4; i++) {
            p = order[i]
            if (n[p] > 0) printf "| %s | %.2f ms | %.0f%% |\n", p, 1000 * sum[p] / n[p], 100 * sum[p] / total
        }
        if (count > 0) printf "| whole POST (parsing and response included) | %.2f ms | 100%% |\n", 1000 * total / count
    }'
if [[ $status -ne 0 ]]; then
    kept="$(mktemp -d -t signet-publish-logs-XXXXXX)"
    cp "$work/go.log" "$work/signet.log" "$kept/"
    echo "the run failed; the servers' logs are in $kept" >&2
fi
exit "$status"
