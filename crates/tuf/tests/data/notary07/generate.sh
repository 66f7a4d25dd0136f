#!/usr/bin/env bash
# Regenerates the notary 0.7 fixture cases next to this script from the real Go binaries
# (Debian package `notary`: notary, notary-server). See README.md for what each case holds.
#
# Every case directory in this folder is replaced; generate.sh and README.md are kept.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for tool in notary notary-server curl jq openssl sha256sum; do
	command -v "$tool" >/dev/null || {
		echo "generate.sh: '$tool' is required" >&2
		exit 1
	}
done

# Fixed passphrases, one per key alias the notary CLI asks for (documented in README.md).
export NOTARY_ROOT_PASSPHRASE=notary07-root
export NOTARY_TARGETS_PASSPHRASE=notary07-targets
export NOTARY_SNAPSHOT_PASSPHRASE=notary07-snapshot
export NOTARY_DELEGATION_PASSPHRASE=notary07-delegation
# Expiry timestamps are written in the server's local offset: keep them in UTC.
export TZ=UTC LC_ALL=C

work=$(mktemp -d)
export HOME="$work/home"
mkdir -p "$HOME"
out="$work/out"
log="$work/notary.log"
server_pid=""

cleanup() {
	local status=$?
	if [ "$status" -ne 0 ] && [ -s "$work/server.log" ]; then
		echo "generate.sh: failed; last lines of the notary-server log:" >&2
		tail -n 20 "$work/server.log" >&2
	fi
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Starts notary-server (memory storage, local ed25519 signing) on a free loopback port; sets $url.
start_server() {
	local attempt port i
	for attempt in $(seq 1 20); do
		port=$((20000 + RANDOM % 40000))
		if port_in_use "$port"; then
			continue
		fi
		cat >"$work/server.json" <<-EOF
			{
			  "server": {"http_addr": "127.0.0.1:$port"},
			  "trust_service": {"type": "local", "key_algorithm": "ed25519"},
			  "storage": {"backend": "memory"},
			  "logging": {"level": "info"}
			}
		EOF
		notary-server -config "$work/server.json" >"$work/server.log" 2>&1 &
		server_pid=$!
		for i in $(seq 1 100); do
			if curl -sf "http://127.0.0.1:$port/_notary_server/health" >/dev/null; then
				url="http://127.0.0.1:$port"
				return 0
			fi
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
		echo "generate.sh: notary-server did not come up on port $port (attempt $attempt)" >&2
	done
	cat "$work/server.log" >&2
	return 1
}

# Runs the notary CLI against the case's trust dir and the server; output goes to the log.
nt() {
	if ! notary -d "$trust" -s "$url" "$@" >>"$log" 2>&1; then
		echo "generate.sh: notary $* failed:" >&2
		tail -n 20 "$log" >&2
		return 1
	fi
}

# Like nt, but prints stdout (for outputs kept as expected data).
nt_out() {
	notary -d "$trust" -s "$url" "$@" 2>>"$log"
}

# TUF key ID of a PUBLIC KEY PEM: sha256 of {"keytype":T,"keyval":{"private":null,"public":<b64 DER>}}.
pub_key_id() {
	local keytype=$1 pem=$2 b64
	b64=$(sed -e '/^-----/d' -e '/^[A-Za-z-]*: /d' -e '/^$/d' "$pem" | tr -d '\n')
	printf '{"keytype":"%s","keyval":{"private":null,"public":"%s"}}' "$keytype" "$b64" |
		sha256sum | cut -c1-64
}

# Generates an ECDSA delegation key pair with `notary key generate -o` and imports the private half.
# An encrypted key needs a `path:` header (its key ID) to be importable.
generate_delegation_key() {
	local role=$1 prefix=$2 id
	nt key generate ecdsa --role "$role" -o "$prefix"
	id=$(pub_key_id ecdsa "$prefix.pem")
	sed "1a path: $id" "$prefix-key.pem" >"$prefix-import.pem"
	nt key import "$prefix-import.pem"
}

# Generates an RSA 2048 key with openssl and imports it (notary encrypts it with the role's alias).
generate_rsa_key() {
	local role=$1 prefix=$2
	openssl genrsa -out "$prefix-key.pem" 2048 2>/dev/null
	nt key import "$prefix-key.pem" --role "$role"
}

# Saves every version of every file the server holds for a GUN into $1/server.
dump_server() {
	local case_dir=$1 base="$url/v2/$gun/_trust/tuf" dest="$1/server" role max v sha file fetched
	local roles=(root targets snapshot timestamp)
	mkdir -p "$dest"
	curl -sf "$base/timestamp.json" -o "$dest/timestamp.json"
	sha=$(jq -r '.signed.meta.snapshot.hashes.sha256' "$dest/timestamp.json" | base64 -d | od -An -tx1 | tr -d ' \n')
	curl -sf "$base/snapshot.$sha.json" -o "$work/snapshot.json"
	while IFS= read -r role; do
		roles+=("$role")
	done < <(jq -r '.signed.meta | keys[] | select(startswith("targets/"))' "$work/snapshot.json")
	for role in "${roles[@]}"; do
		max=$(curl -sf "$base/$role.json" | jq -r '.signed.version')
		for v in $(seq 1 "$max"); do
			fetched="$work/fetched.json"
			curl -sf "$base/$v.$role.json" -o "$fetched" || continue
			case $role in
			root | timestamp)
				file="$dest/$v.$role.json"
				;;
			*)
				sha=$(sha256sum "$fetched" | cut -c1-64)
				file="$dest/$role.$sha.json"
				curl -sf "$base/$role.$sha.json" -o "$work/by-hash.json"
				cmp -s "$fetched" "$work/by-hash.json" || {
					echo "generate.sh: $gun $role.$sha.json differs from version $v" >&2
					return 1
				}
				;;
			esac
			mkdir -p "$(dirname "$file")"
			mv "$fetched" "$file"
		done
	done
}

# Refreshes the trust dir cache from the server, then copies keys, metadata and server files.
save_case() {
	local name=$1 case_dir="$out/$1"
	mkdir -p "$case_dir/trust/tuf/$gun"
	nt_out list "$gun" >"$case_dir/list.txt"
	cp -R "$trust/private" "$case_dir/trust/private"
	cp -R "$trust/tuf/$gun/metadata" "$case_dir/trust/tuf/$gun/metadata"
	dump_server "$case_dir"
	jq -n --arg gun "$gun" '{gun: $gun}' >"$case_dir/case.json"
	if [ -d "$work/$name/files" ]; then
		cp -R "$work/$name/files" "$case_dir/files"
	fi
}

new_case() {
	trust="$work/$1/trust"
	gun=$2
	mkdir -p "$trust" "$work/$1/files" "$work/$1/keys"
	files="$work/$1/files"
	keys="$work/$1/keys"
	echo "generate.sh: case $1 ($gun)" >&2
}

start_server
mkdir -p "$out"

# a) basic: targets from files and from hashes, custom data, a name with '&' and non-ASCII.
new_case basic example.com/notary07/basic
printf 'hello, notary\n' >"$files/hello.txt"
printf 'ampersand & friends\n' >"$files/a-and-b.txt"
printf 'grüße\n' >"$files/unicode.txt"
printf '{"author":"Zoë Ångström","labels":{"lang":"日本語","tier":1},"note":"naïve café ✓"}' >"$files/custom.json"
printf '{"build":42,"origin":"ci"}' >"$files/custom-hash.json"
nt init -p "$gun"
nt add -p "$gun" hello.txt "$files/hello.txt"
nt add "$gun" 'docs/a&b.txt' "$files/a-and-b.txt" --custom "$files/custom.json"
nt add "$gun" 'docs/grüße.txt' "$files/unicode.txt"
nt addhash "$gun" by-hash/sha256-only 1024 \
	--sha256 "$(printf 'sha256 only' | sha256sum | cut -c1-64)"
nt addhash "$gun" by-hash/both 2048 \
	--sha256 "$(printf 'both' | sha256sum | cut -c1-64)" \
	--sha512 "$(printf 'both' | sha512sum | cut -c1-128)" \
	--custom "$files/custom-hash.json"
nt publish "$gun"
save_case basic

# b) delegation tree: releases (all paths), team (team/, RSA certificate), team/qa (team/qa/,
#    an ECDSA key and an RSA PUBLIC KEY), each publishing targets into its own role.
new_case delegations example.com/notary07/delegations
nt init -p "$gun"
generate_delegation_key targets/releases "$keys/releases"
generate_rsa_key targets/team "$keys/team"
openssl req -new -x509 -key "$keys/team-key.pem" -out "$keys/team.crt" -days 3650 \
	-subj '/CN=targets\/team' -addext basicConstraints=critical,CA:FALSE 2>/dev/null
generate_delegation_key targets/team/qa "$keys/qa"
generate_rsa_key targets/team/qa "$keys/qa-rsa"
openssl pkey -in "$keys/qa-rsa-key.pem" -pubout -out "$keys/qa-rsa.pem"
nt delegation add "$gun" targets/releases "$keys/releases.pem" --all-paths
nt delegation add "$gun" targets/team "$keys/team.crt" --paths team/
nt publish "$gun"
nt delegation add "$gun" targets/team/qa "$keys/qa.pem" "$keys/qa-rsa.pem" --paths team/qa/
nt publish "$gun"
printf 'top-level\n' >"$files/top.txt"
printf 'release 1.0\n' >"$files/release.txt"
printf 'team app\n' >"$files/app.txt"
printf 'qa report\n' >"$files/report.txt"
nt add "$gun" top "$files/top.txt"
nt add "$gun" release-1.0 "$files/release.txt" -r targets/releases
nt add "$gun" team/app "$files/app.txt" -r targets/team
nt add "$gun" team/qa/report "$files/report.txt" -r targets/team/qa
nt publish "$gun"
nt add -p "$gun" release-1.1 "$files/release.txt" -r targets/releases
save_case delegations
nt_out delegation list "$gun" >"$out/delegations/delegations.txt"
cp "$keys/releases.pem" "$keys/team.crt" "$keys/qa.pem" "$keys/qa-rsa.pem" "$out/delegations/files/"

# c) rotated root: two root rotations (1 -> 2 -> 3), then targets and snapshot rotations.
new_case rotated-root example.com/notary07/rotated-root
printf 'one\n' >"$files/one.txt"
printf 'two\n' >"$files/two.txt"
printf 'three\n' >"$files/three.txt"
nt init -p "$gun"
nt add -p "$gun" one "$files/one.txt"
printf 'yes\n' | nt key rotate "$gun" root
printf 'yes\n' | nt key rotate "$gun" root
nt add -p "$gun" two "$files/two.txt"
nt key rotate "$gun" targets
nt key rotate "$gun" snapshot
nt add -p "$gun" three "$files/three.txt"
save_case rotated-root

# d) server-managed snapshot: the snapshot key moves to the server.
new_case server-snapshot example.com/notary07/server-snapshot
printf 'before\n' >"$files/before.txt"
printf 'after\n' >"$files/after.txt"
nt init -p "$gun"
nt add -p "$gun" before "$files/before.txt"
nt key rotate "$gun" snapshot -r
nt add -p "$gun" after "$files/after.txt"
save_case server-snapshot

# Replace the previous output tree.
find "$here" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
cp -R "$out"/. "$here"/
echo "generate.sh: wrote $(find "$out" -type f | wc -l) files ($(du -sk "$out" | cut -f1) KiB) to $here" >&2
