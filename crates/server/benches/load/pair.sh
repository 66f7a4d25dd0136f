# Sourced by the load scripts beside it: one throw-away Postgres database `$db` with the Go
# notary-server schema, the Go notary-server and signet-server on it (both signing with
# ed25519), both healthy. Expects `root`, `work`, `db` and `SIGNET_SERVER_BIN`
# (`SIGNET_EXTRA_ARGS` is optional); sets `go_url`, `signet_url` and `db_url`, and removes
# servers, database and `$work` on exit.

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
