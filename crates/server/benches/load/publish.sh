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
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_healthy() {
    for _ in $(seq 1 200); do
        curl -sf "$1/_notary_server/health" >/dev/null && return 0
        sleep 0.1
    done
    echo "server at $1 did not become healthy; logs in $work" >&2
    exit 1
}

# One database, the Go schema; signet-server adopts it and adds its own tables.
psql -q -d postgres -c "CREATE DATABASE $db" >/dev/null
for sql in "$root"/tests/data/notary-server-schema/postgresql/*.up.sql; do
    psql -q -v ON_ERROR_STOP=1 -d "$db" -f "$sql" >/dev/null
done
db_url="postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable"

go_port="$(free_port)"
cat >"$work/go.json" <<EOF
{
  "server": {"http_addr": "127.0.0.1:$go_port"},
  "trust_service": {"type": "local", "key_algorithm": "ed25519"},
  "storage": {"backend": "postgres", "db_url": "$db_url"},
  "logging": {"level": "error"}
}
EOF
notary-server -config "$work/go.json" >"$work/go.log" 2>&1 &
pids+=($!)
go_url="http://127.0.0.1:$go_port"

signet_port="$(free_port)"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/kek.hex"
# shellcheck disable=SC2086
"$SIGNET_SERVER_BIN" --listen "127.0.0.1:$signet_port" --database-url "$db_url" \
    --kek-file "$work/kek.hex" --data-dir "$work" --key-algorithm ed25519 --log-level warn \
    ${SIGNET_EXTRA_ARGS:-} >"$work/signet.log" 2>&1 &
pids+=($!)
signet_url="http://127.0.0.1:$signet_port"
wait_healthy "$go_url"
wait_healthy "$signet_url"

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
