#!/usr/bin/env bash
# Load benchmark: signet-server against the Go notary-server, both on one Postgres database.
#
# Usage: crates/server/benches/load/run.sh
# Environment (all optional):
#   DURATION=10s        wrk duration per endpoint
#   CONNECTIONS=32      wrk connections
#   THREADS=2           wrk threads
#   PUBLISHES=20        sequential `notary add -p` runs timed per server
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   the Postgres cluster (trust auth)
#   SIGNET_SERVER_BIN   a signet-server binary to use instead of building the release one
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-32}"
threads="${THREADS:-2}"
publishes="${PUBLISHES:-20}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"

for tool in psql notary notary-server wrk curl sha256sum; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool (Debian packages: postgresql-client notary wrk curl)" >&2
        exit 1
    }
done

if [[ -z "${SIGNET_SERVER_BIN:-}" ]]; then
    (cd "$root" && cargo build --release -p signet-server --bin signet-server) >&2
    SIGNET_SERVER_BIN="${CARGO_TARGET_DIR:-$root/target}/release/signet-server"
fi

work="$(mktemp -d -t signet-load-XXXXXX)"
db="signet_load_$$"
# shellcheck source=pair.sh
source "$here/pair.sh"

export NOTARY_ROOT_PASSPHRASE=load NOTARY_TARGETS_PASSPHRASE=load \
    NOTARY_SNAPSHOT_PASSPHRASE=load NOTARY_DELEGATION_PASSPHRASE=load
export HOME="$work/home"
mkdir -p "$HOME"

# Publishes a repository with a few targets through the Go CLI.
seed() { # name url gun
    local trust="$work/trust-$1"
    notary -d "$trust" -s "$2" init -p "$3" >/dev/null
    for i in 1 2 3 4 5; do
        echo "payload $i" >"$work/payload-$1-$i"
        notary -d "$trust" -s "$2" add "$3" "target-$i" "$work/payload-$1-$i" >/dev/null
    done
    notary -d "$trust" -s "$2" publish "$3" >/dev/null
    notary -d "$work/check-$1" -s "$2" list "$3" >/dev/null
}

# Prints "req/s p50 p99" for one URL.
bench() {
    local out
    out="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$1")"
    if grep -q "Non-2xx" <<<"$out"; then
        echo "non-2xx responses from $1:" >&2
        echo "$out" >&2
        exit 1
    fi
    local rps p50 p99
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    echo "$rps $p50 $p99"
}

# Prints "publishes/s mean-ms" for PUBLISHES sequential `notary add -p` runs.
publish_load() { # name url gun
    local trust="$work/trust-$1" start end
    start="$(date +%s.%N)"
    for i in $(seq 1 "$publishes"); do
        echo "publish $i" >"$work/pub-$1-$i"
        notary -d "$trust" -s "$2" add -p "$3" "pub-$i" "$work/pub-$1-$i" >/dev/null
    done
    end="$(date +%s.%N)"
    awk -v s="$start" -v e="$end" -v n="$publishes" \
        'BEGIN { printf "%.2f %.0fms\n", n / (e - s), (e - s) * 1000 / n }'
}

declare -A result
for side in go signet; do
    if [[ $side == go ]]; then url="$go_url"; else url="$signet_url"; fi
    gun="load.example.com/$side/app"
    seed "$side" "$url" "$gun"
    tuf="$url/v2/$gun/_trust/tuf"
    snapshot_sum="$(curl -sf "$tuf/snapshot.json" | sha256sum | cut -d' ' -f1)"
    curl -sf "$tuf/snapshot.$snapshot_sum.json" >/dev/null
    echo "benchmarking $side..." >&2
    result[$side,timestamp]="$(bench "$tuf/timestamp.json")"
    result[$side,root]="$(bench "$tuf/root.json")"
    result[$side,targets]="$(bench "$tuf/targets.json")"
    result[$side,checksum]="$(bench "$tuf/snapshot.$snapshot_sum.json")"
    result[$side,publish]="$(publish_load "$side" "$url" "$gun")"
    # The repository still verifies from scratch after the publish load.
    notary -d "$work/final-$side" -s "$url" list "$gun" >/dev/null
done

echo
echo "wrk: $threads threads, $connections connections, $duration per endpoint; publish: $publishes sequential \`notary add -p\`"
echo
echo "| endpoint | Go req/s | Go p50 / p99 | signet req/s | signet p50 / p99 | signet ÷ Go |"
echo "|---|---:|---:|---:|---:|---:|"
for what in timestamp root targets checksum; do
    read -r g_rps g_50 g_99 <<<"${result[go,$what]}"
    read -r s_rps s_50 s_99 <<<"${result[signet,$what]}"
    case $what in
        timestamp) label='GET timestamp.json' ;;
        root) label='GET root.json' ;;
        targets) label='GET targets.json' ;;
        checksum) label='GET snapshot.<sha256>.json' ;;
    esac
    ratio="$(awk -v s="$s_rps" -v g="$g_rps" 'BEGIN { printf "%.1f×", s / g }')"
    echo "| $label | $g_rps | $g_50 / $g_99 | $s_rps | $s_50 / $s_99 | $ratio |"
done
read -r g_pps g_mean <<<"${result[go,publish]}"
read -r s_pps s_mean <<<"${result[signet,publish]}"
ratio="$(awk -v s="$s_pps" -v g="$g_pps" 'BEGIN { printf "%.2f×", s / g }')"
echo "| publish (\`notary add -p\`), per s | $g_pps | mean $g_mean | $s_pps | mean $s_mean | $ratio |"
