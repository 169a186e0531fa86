#!/usr/bin/env bash
# test-kv.sh KV_SERVER KV_CLIENT — the kv example over udp on 127.0.0.1: a
# server on an ephemeral port, then Put/Get/Delete through kv-client with
# their results checked (a 64 KiB value byte for byte, a missing key, a
# value over the limit refused), and a check run of 200 random values.
set -u
server=${1:?usage: test-kv.sh kv-server kv-client}
client=${2:?}

tmp=$(mktemp -d) || exit 1
srv=
cleanup() {
	[[ -n "$srv" ]] && { kill -TERM "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; }
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[[ -s "$f" ]] && { echo "--- $(basename "$f")"; head -c 2000 "$f"; echo; }
	done
	exit 1
}

timeout 120 "$server" --bind 127.0.0.1:0 >"$tmp/server.out" 2>"$tmp/server.err" &
srv=$!
addr=
for _ in $(seq 100); do
	addr=$(sed -n 's/^kv-server: listening on \(.*\)$/\1/p' "$tmp/server.out")
	[[ -n "$addr" ]] && break
	kill -0 "$srv" 2>/dev/null || fail "server exited"
	sleep 0.05
done
[[ -n "$addr" ]] || fail "server did not come up"

kv() { timeout 30 "$client" --server "$addr" "$@" >"$tmp/cli.out" 2>"$tmp/cli.err"; }

kv put greeting "hello, tern" || fail "put"
grep -qx "put greeting: 11 bytes" "$tmp/cli.out" || fail "put output"
kv get greeting || fail "get"
[[ "$(cat "$tmp/cli.out")" == "hello, tern" ]] || fail "get returned '$(cat "$tmp/cli.out")'"
kv put greeting "hi" || fail "put again"
grep -qx "put greeting: 2 bytes (replaced)" "$tmp/cli.out" || fail "replace not reported"

head -c 65536 /dev/urandom >"$tmp/big"
kv put big "@$tmp/big" || fail "put 64 KiB"
kv get big || fail "get 64 KiB"
cmp -s "$tmp/big" "$tmp/cli.out" || fail "64 KiB value differs"
head -c 65537 /dev/urandom >"$tmp/huge"
kv put huge "@$tmp/huge"
[[ $? -eq 2 ]] && grep -q "value too large" "$tmp/cli.err" || fail "65537 bytes not refused"

kv delete greeting || fail "delete"
grep -qx "deleted greeting" "$tmp/cli.out" || fail "delete output"
kv get greeting
[[ $? -eq 1 ]] && grep -q "greeting: not found" "$tmp/cli.err" || fail "deleted key still found"
kv delete greeting
[[ $? -eq 1 ]] || fail "second delete did not say not found"

kv check 200 || fail "check"
grep -qx "check: 200 puts, 200 gets, 200 deletes, 200 gets after delete: 0 mismatches" "$tmp/cli.out" ||
	fail "check output"
cat "$tmp/cli.out"

kill -TERM "$srv"
wait "$srv"
rc=$?
srv=
[[ $rc -eq 0 ]] || fail "server exit $rc"
echo PASS
