#!/bin/sh
# test-hello-secure.sh HELLO_SERVER HELLO_CLIENT TERN_KEYGEN — hello over
# kernel UDP on 127.0.0.1 with authenticated sessions: keys from
# tern-keygen, a server with --key --allow --protection integrity, a client
# with --key --peer-key --protection privacy echoing texts (one several
# packets long); then the refusals, each a clean exit 2 with a reason: a
# client not on the allow-list, one that pinned another key, one without
# keys, one below the server's minimum level; a PSK-only server with the
# right and the wrong PSK; bad flag values and missing key files. Every
# step is bounded by timeout(1); servers are stopped on every exit path.
set -u
server=${1:?usage: test-hello-secure.sh hello-server hello-client tern-keygen}
client=${2:?usage: test-hello-secure.sh hello-server hello-client tern-keygen}
keygen=${3:?usage: test-hello-secure.sh hello-server hello-client tern-keygen}

tmp=$(mktemp -d) || exit 1
srv=
stop_server() {
	if [ -n "$srv" ]; then
		kill -TERM "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
		srv=
	fi
}
cleanup() {
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*"
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[ -s "$f" ] && { echo "--- $(basename "$f")"; cat "$f"; }
	done
	exit 1
}

for k in server client stranger psk1 psk2; do
	"$keygen" "$tmp/$k" >/dev/null || fail "tern-keygen $k"
done
cp "$tmp/client.pub" "$tmp/allowed"

# start_server ARGS...: run hello-server, wait for its address in $addr.
start_server() {
	: >"$tmp/server.out" # not the last server's address
	timeout 100 "$server" --bind 127.0.0.1:0 "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
	srv=$!
	addr=
	i=0
	while [ $i -lt 100 ]; do
		addr=$(sed -n 's/^hello-server: listening on \([^ ]*\) .*/\1/p' "$tmp/server.out")
		[ -n "$addr" ] && return 0
		kill -0 "$srv" 2>/dev/null || fail "server exited before listening"
		sleep 0.05
		i=$((i + 1))
	done
	fail "server did not report its address within 5 s"
}
# echo_ok TEXT ARGS...: the client must print TEXT and exit 0.
echo_ok() {
	text=$1
	shift
	out=$(timeout 20 "$client" --server "$addr" "$@" "$text" 2>"$tmp/client.err")
	rc=$?
	[ $rc -eq 0 ] || fail "client $* exited $rc for '$text'"
	[ "$out" = "$text" ] || fail "client $*: sent '$text', got '$out'"
}
# refused ARGS...: the client must exit 2, print nothing, say why.
refused() {
	out=$(timeout 20 "$client" --server "$addr" "$@" "x" 2>"$tmp/client.err")
	rc=$?
	[ $rc -eq 2 ] || fail "client $* exited $rc, not 2"
	[ -z "$out" ] || fail "client $* printed '$out'"
	grep -q 'Permission denied' "$tmp/client.err" || fail "client $*: no reason given"
}

start_server --key "$tmp/server.key" --allow "$tmp/allowed" --protection integrity
me="--key $tmp/client.key --peer-key $tmp/server.pub"
# shellcheck disable=SC2086 # $me is two flags and their files (no spaces in mktemp paths)
echo_ok "secret text" $me --protection privacy
# shellcheck disable=SC2086
echo_ok "$(head -c 5000 /dev/zero | tr '\0' 'y')" $me --protection privacy
# shellcheck disable=SC2086
echo_ok "integrity only" $me --protection integrity
# shellcheck disable=SC2086
refused $me --protection none                                  # below the minimum
refused --key "$tmp/stranger.key" --peer-key "$tmp/server.pub" --protection privacy
refused --key "$tmp/client.key" --peer-key "$tmp/stranger.pub" --protection privacy
refused --peer-key "$tmp/server.pub" --protection privacy      # anonymous
refused                                                        # no keys at all
stop_server

start_server --psk "$tmp/psk1.key" --protection privacy
echo_ok "pre-shared" --psk "$tmp/psk1.key" --protection privacy
refused --psk "$tmp/psk2.key" --protection privacy
stop_server

# Bad values: exit 2 with a reason, before anything is sent.
timeout 10 "$client" --server 127.0.0.1:9 --protection secret x 2>"$tmp/client.err"
[ $? -eq 2 ] || fail "bad --protection not rejected with 2"
grep -q 'none, integrity or privacy' "$tmp/client.err" || fail "bad --protection: no reason"
timeout 10 "$client" --server 127.0.0.1:9 --peer-key "$tmp/missing.pub" x 2>"$tmp/client.err"
[ $? -eq 2 ] || fail "missing --peer-key file not rejected with 2"
grep -q 'missing.pub' "$tmp/client.err" || fail "missing key file not named"
timeout 10 "$server" --bind 127.0.0.1:0 --key "$tmp/missing.key" >/dev/null 2>"$tmp/server.err"
[ $? -eq 2 ] || fail "server with a missing key file did not exit 2"
grep -q 'missing.key' "$tmp/server.err" || fail "server: missing key file not named"
timeout 10 "$server" --bind 127.0.0.1:0 --allow "$tmp/allowed" >/dev/null 2>"$tmp/server.err"
[ $? -eq 2 ] || fail "--allow without --key not rejected"
"$client" --help | grep -q -- '--peer-key' || fail "client --help lacks --peer-key"
"$server" --help | grep -q -- '--allow' || fail "server --help lacks --allow"
echo "PASS"
