#!/usr/bin/env bash
# Regenerates keys.json and metadata.json in this folder with the real Go notary-signer,
# notary-server and notary CLI (Debian package `notary`), Postgres at 127.0.0.1:5432 (user
# postgres, trust auth), openssl, curl and jq. See README.md for what the files hold.
#
#   crates/server/tests/data/notary-signer/generate.sh
#
# Two throw-away databases are created (and dropped at the end): one for notary-signer
# (`private_keys`) and one for notary-server (`tuf_files`).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../../.." && pwd)
pg=${PG_BASE:-postgres://postgres@127.0.0.1:5432}
alias_name=fixtures
passphrase='signet fixture passphrase'

for tool in notary notary-server notary-signer openssl curl jq psql; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

work=$(mktemp -d)
suffix="$$_$(date +%s)"
signer_db="signet_fixture_signer_$suffix"
server_db="signet_fixture_server_$suffix"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$pg/postgres" -qAtX -c "DROP DATABASE IF EXISTS $signer_db" >/dev/null 2>&1 || true
    psql "$pg/postgres" -qAtX -c "DROP DATABASE IF EXISTS $server_db" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- TLS: a CA, the signer's server certificate and notary-server's client certificate. ---
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=signet-fixture-ca -keyout ca.key -out ca.crt 2>/dev/null
issue() { # name extension
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$2" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
issue signer "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
issue server "extendedKeyUsage=clientAuth"

# --- Databases. ---
psql "$pg/postgres" -qAtX -c "CREATE DATABASE $signer_db" >/dev/null
psql "$pg/postgres" -qAtX -c "CREATE DATABASE $server_db" >/dev/null
for f in "$repo"/tests/data/notary-signer-schema/postgresql/*.sql; do psql "$pg/$signer_db" -qAtX -f "$f" >/dev/null; done
for f in "$repo"/tests/data/notary-server-schema/postgresql/*.sql; do
    psql "$pg/$server_db" -qAtX -f "$f" >/dev/null
done

# --- notary-signer. ---
grpc_port=$(free_port)
cat >signer.json <<EOF
{"server": {"grpc_addr": "127.0.0.1:$grpc_port", "tls_cert_file": "signer.crt",
            "tls_key_file": "signer.key", "client_ca_file": "ca.crt"},
 "logging": {"level": "info"},
 "storage": {"backend": "postgres", "default_alias": "$alias_name",
             "db_url": "$pg/$signer_db?sslmode=disable"}}
EOF
env "NOTARY_SIGNER_${alias_name^^}=$passphrase" notary-signer -config signer.json \
    >signer.log 2>&1 &
pids+=($!)

# --- Two notary-servers on the same database and signer: ecdsa and ed25519 keys. ---
start_server() { # algorithm -> prints the port
    local port
    port=$(free_port)
    cat >"server-$1.json" <<EOF
{"server": {"http_addr": "127.0.0.1:$port"},
 "trust_service": {"type": "remote", "hostname": "127.0.0.1", "port": "$grpc_port",
                   "tls_ca_file": "ca.crt", "tls_client_cert": "server.crt",
                   "tls_client_key": "server.key", "key_algorithm": "$1"},
 "storage": {"backend": "postgres", "db_url": "$pg/$server_db?sslmode=disable"},
 "logging": {"level": "info"}}
EOF
    notary-server -config "server-$1.json" >"server-$1.log" 2>&1 &
    pids+=($!)
    echo "$port"
}
ecdsa_port=$(start_server ecdsa)
ed25519_port=$(start_server ed25519)
for port in "$ecdsa_port" "$ed25519_port"; do
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$port/_notary_server/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$port/_notary_server/health" >/dev/null || {
        cat signer.log server-*.log >&2; exit 1; }
done

export NOTARY_ROOT_PASSPHRASE=fixture-root NOTARY_TARGETS_PASSPHRASE=fixture-targets
export NOTARY_SNAPSHOT_PASSPHRASE=fixture-snapshot HOME="$work"
cli() { # port args...
    local port=$1
    shift
    notary -d "$work/trust" -s "http://127.0.0.1:$port" "$@" >>cli.log 2>&1 || {
        cat cli.log signer.log server-*.log >&2; exit 1; }
}

# example.com/fixtures/ecdsa: published, its first timestamp key rotated away (retired), the
# snapshot key moved to the server (active), and one more timestamp key handed out by
# POST timestamp.key but never used (pending).
gun=example.com/fixtures/ecdsa
cli "$ecdsa_port" init -p "$gun"
cli "$ecdsa_port" key rotate "$gun" timestamp -r
cli "$ecdsa_port" key rotate "$gun" snapshot -r
curl -fsS -X POST "http://127.0.0.1:$ecdsa_port/v2/$gun/_trust/tuf/timestamp.key" >/dev/null

# example.com/fixtures/ed25519: published with an ed25519 timestamp key (active).
cli "$ed25519_port" init -p example.com/fixtures/ed25519

# example.com/fixtures/unpublished: a timestamp key handed out by GET timestamp.key for a GUN
# that never published (pending, no root).
curl -fsS "http://127.0.0.1:$ecdsa_port/v2/example.com/fixtures/unpublished/_trust/tuf/timestamp.key" \
    >/dev/null

# --- Dump. ---
psql "$pg/$signer_db" -qAtX -c "
  SELECT json_agg(json_build_object(
      'key_id', key_id, 'gun', gun, 'role', role, 'algorithm', algorithm,
      'encryption_alg', encryption_alg, 'keywrap_alg', keywrap_alg,
      'passphrase_alias', passphrase_alias,
      'created_at', to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),
      'last_used', to_char(last_used, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),
      'public', encode(public, 'hex'), 'private', convert_from(private, 'UTF8'))
    ORDER BY id)
  FROM private_keys" | jq . >"$here/keys.json"
psql "$pg/$server_db" -qAtX -c "
  SELECT json_agg(json_build_object('gun', gun, 'role', role, 'version', version,
      'data', convert_from(data, 'UTF8')) ORDER BY id)
  FROM tuf_files" | jq . >"$here/metadata.json"
echo "wrote $here/keys.json ($(jq length "$here/keys.json") keys) and" \
    "$here/metadata.json ($(jq length "$here/metadata.json") files)"
