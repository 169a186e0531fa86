#!/bin/sh
# test-hello.sh HELLO_SERVER HELLO_CLIENT — hello over kernel UDP on
# 127.0.0.1, two processes: the server on an ephemeral port (read back from
# its "listening on" line), the client echoing a few texts (empty, spaces,
# UTF-8, 3000 bytes: several packets), by IP and by host name; a client
# aimed at nobody fails cleanly. Every step is bounded by timeout(1); the
# server is stopped on every exit path.
set -u
server=${1:?usage: test-hello.sh hello-server hello-client}
client=${2:?usage: test-hello.sh hello-server hello-client}

tmp=$(mktemp -d) || exit 1
srv=
cleanup() {
	if [ -n "$srv" ]; then
		kill -TERM "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*"
	for f in "$tmp"/*; do
		[ -s "$f" ] && { echo "--- $(basename "$f")"; cat "$f"; }
	done
	exit 1
}

timeout 60 "$server" --bind 127.0.0.1:0 >"$tmp/server.out" 2>"$tmp/server.err" &
srv=$!
addr=
i=0
while [ $i -lt 100 ]; do
	addr=$(sed -n 's/^hello-server: listening on \([^ ]*\) .*/\1/p' "$tmp/server.out")
	[ -n "$addr" ] && break
	kill -0 "$srv" 2>/dev/null || fail "server exited before listening"
	sleep 0.05
	i=$((i + 1))
done
[ -n "$addr" ] || fail "server did not report its address within 5 s"
port=${addr##*:}

# echo TEXT [ADDR]: the client must print TEXT and exit 0.
echo_ok() {
	out=$(timeout 20 "$client" --server "${2:-$addr}" "$1" 2>"$tmp/client.err")
	rc=$?
	[ $rc -eq 0 ] || fail "client exited $rc for '$1'"
	[ "$out" = "$1" ] || fail "sent '$1', got '$out'"
}
echo_ok "some text"
echo_ok "hello from tern" "localhost:$port"
echo_ok ""
echo_ok "  spaces  and	tab  "
echo_ok "h$(printf '\303\251')llo w$(printf '\303\266')rld"
long=$(head -c 3000 /dev/zero | tr '\0' 'x')
echo_ok "$long"

# Nobody at that port: exit 2 (no connection), an error on stderr, no output.
out=$(timeout 20 "$client" --server 127.0.0.1:9 "x" 2>"$tmp/nobody.err")
rc=$?
[ $rc -eq 2 ] || fail "client to nobody exited $rc, not 2"
[ -z "$out" ] || fail "client to nobody printed '$out'"
grep -q 'cannot reach' "$tmp/nobody.err" || fail "no error message for an unreachable server"
# Bad usage: exit 2.
timeout 10 "$client" "no server" 2>/dev/null
[ $? -eq 2 ] || fail "missing --server not rejected with 2"

kill -TERM "$srv"
wait "$srv"
rc=$?
srv=
[ $rc -eq 0 ] || fail "server exited $rc after SIGTERM"
echo "PASS"
