#!/usr/bin/env bash
# Scale benchmark: publish and list a repository of COUNT targets with the Go notary 0.7 CLI and
# with `signet`, against the same Go notary-server (memory storage), and optionally signet-server.
#
# Usage: crates/cli/benches/scale/run.sh
# Environment (all optional):
#   COUNT=100000        targets staged and published per client
#   RUNS=5              hyperfine runs of each `list` (fresh trust dir every run)
#   SIGNET_SERVER=1     also publish/list through signet-server (SQLite); 0 to skip
#   SIGNET_BIN, SIGNET_SERVER_BIN   binaries to use instead of building the release ones
#   KEEP=1              keep the work directory (logs, trust dirs) for inspection
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
count="${COUNT:-100000}"
runs="${RUNS:-5}"
with_signet_server="${SIGNET_SERVER:-1}"

for tool in notary notary-server curl python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool (Debian packages: notary curl python3 time)" >&2
        exit 1
    }
done
have_hyperfine=0
command -v hyperfine >/dev/null && have_hyperfine=1

target_dir="${CARGO_TARGET_DIR:-$root/target}"
if [[ -z "${SIGNET_BIN:-}" || ( "$with_signet_server" == 1 && -z "${SIGNET_SERVER_BIN:-}" ) ]]; then
    (cd "$root" && cargo build --release -p signet-cli -p signet-server) >&2
fi
SIGNET_BIN="${SIGNET_BIN:-$target_dir/release/signet}"
SIGNET_SERVER_BIN="${SIGNET_SERVER_BIN:-$target_dir/release/signet-server}"

work="$(mktemp -d -t signet-scale-XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ "${KEEP:-0}" == 1 ]]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_healthy() {
    for _ in $(seq 1 300); do
        curl -sf "$1/_notary_server/health" >/dev/null && return 0
        sleep 0.1
    done
    echo "server at $1 did not become healthy; logs in $work" >&2
    exit 1
}

go_port="$(free_port)"
cat >"$work/go-server.json" <<JSON
{
  "server": {"http_addr": "127.0.0.1:$go_port"},
  "trust_service": {"type": "local", "key_algorithm": "ecdsa"},
  "storage": {"backend": "memory"},
  "logging": {"level": "error"}
}
JSON
notary-server -config "$work/go-server.json" >"$work/go-server.log" 2>&1 &
pids+=($!)
go_url="http://127.0.0.1:$go_port"
wait_healthy "$go_url"

servers=("go=$go_url")
if [[ "$with_signet_server" == 1 ]]; then
    signet_port="$(free_port)"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/kek.hex"
    "$SIGNET_SERVER_BIN" --listen "127.0.0.1:$signet_port" \
        --database-url "sqlite://$work/signet.db?mode=rwc" --kek-file "$work/kek.hex" \
        --data-dir "$work" --log-level warn >"$work/signet-server.log" 2>&1 &
    pids+=($!)
    signet_url="http://127.0.0.1:$signet_port"
    wait_healthy "$signet_url"
    servers+=("signet-server=$signet_url")
fi

export NOTARY_ROOT_PASSPHRASE=scale NOTARY_TARGETS_PASSPHRASE=scale \
    NOTARY_SNAPSHOT_PASSPHRASE=scale NOTARY_DELEGATION_PASSPHRASE=scale
export HOME="$work/home"
mkdir -p "$HOME"

results="$work/results.txt"
: >"$results"

# measure LABEL CMD...: runs CMD once under /usr/bin/time -v, records wall seconds and peak RSS.
measure() {
    local label="$1"
    shift
    local log="$work/time-${label//[^A-Za-z0-9_-]/_}.txt"
    if ! /usr/bin/time -v -o "$log" "$@" >"$log.out" 2>&1; then
        echo "FAILED: $label ($*); output:" >&2
        tail -20 "$log.out" >&2
        exit 1
    fi
    local wall rss
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" |
        awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')"
    rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")"
    printf '%-44s %9.2f s %9.1f MB\n' "$label" "$wall" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" | tee -a "$results"
}

# hyper LABEL CMD: hyperfine mean of RUNS runs, each from a fresh trust dir $work/fresh.
hyper() {
    [[ "$have_hyperfine" == 1 ]] || return 0
    local label="$1" cmd="$2"
    local json="$work/hyperfine-${label//[^A-Za-z0-9_-]/_}.json"
    hyperfine -N --runs "$runs" --warmup 1 --prepare "rm -rf $work/fresh" \
        --export-json "$json" "$cmd" >"$json.out" 2>&1 || {
        echo "FAILED: hyperfine $label" >&2
        cat "$json.out" >&2
        exit 1
    }
    python3 - "$json" "$label" <<'PY' | tee -a "$results"
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"{sys.argv[2]:<44} mean {r['mean']:.3f} s ± {r['stddev']:.3f} (min {r['min']:.3f}, {len(r['times'])} runs)")
PY
}

for entry in "${servers[@]}"; do
    sname="${entry%%=*}"
    url="${entry#*=}"
    echo "== server: $sname ($url), $count targets ==" | tee -a "$results"
    for client in notary signet; do
        bin=notary
        [[ "$client" == signet ]] && bin="$SIGNET_BIN"
        gun="scale.example.com/$sname/$client"
        trust="$work/trust-$sname-$client"
        "$bin" -d "$trust" -s "$url" init -p "$gun" >"$work/init-$sname-$client.log" 2>&1
        python3 "$here/stage.py" "$trust" "$gun" "$count"
        measure "$sname: $client publish" "$bin" -d "$trust" -s "$url" publish "$gun"
        left="$(find "$trust/tuf/$gun/changelist" -name '*.change' | wc -l)"
        [[ "$left" == 0 ]] || { echo "$client publish left $left changes" >&2; exit 1; }
    done
    # Both clients list the same repository (the one the Go CLI published), from a fresh trust dir.
    gun="scale.example.com/$sname/notary"
    for client in notary signet; do
        bin=notary
        [[ "$client" == signet ]] && bin="$SIGNET_BIN"
        rm -rf "$work/fresh"
        measure "$sname: $client list (fresh trust dir)" "$bin" -d "$work/fresh" -s "$url" list "$gun"
        lines="$(grep -c 'artifact-' "$work/time-${sname}__${client}_list__fresh_trust_dir_.txt.out" || true)"
        [[ "$lines" == "$count" ]] || { echo "$client list printed $lines targets, expected $count" >&2; exit 1; }
    done
    rm -rf "$work/fresh"
    measure "$sname: signet list of signet-published" "$SIGNET_BIN" -d "$work/fresh" -s "$url" list "scale.example.com/$sname/signet"
    for client in notary signet; do
        bin=notary
        [[ "$client" == signet ]] && bin="$SIGNET_BIN"
        hyper "$sname: $client list x$runs" "$bin -d $work/fresh -s $url list $gun"
    done
done

echo
echo "== summary =="
cat "$results"
