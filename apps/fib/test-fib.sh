#!/bin/sh
# test-fib.sh FIB_SERVER FIB_CLIENT [TERN_KEYGEN] — fib over kernel UDP on 127.0.0.1, two
# processes: fib-server on an ephemeral port (read back from its "listening
# on" line), fib-client asking for known values by IP and by host name
# (localhost, from /etc/hosts), and the refusals: negative n, n = 94 (fib
# overflows 64 bits), non-numbers, a server nobody runs. Every step is
# bounded by timeout(1); the server is stopped on every exit path, and must
# still be serving after the bad input. With TERN_KEYGEN, then the same over
# an authenticated, encrypted session (--key/--allow/--peer-key/--protection
# privacy), and the refusals of a client not allowed and of a plain one.
set -u
server=${1:?usage: test-fib.sh fib-server fib-client [tern-keygen]}
client=${2:?usage: test-fib.sh fib-server fib-client [tern-keygen]}
keygen=${3:-}

tmp=$(mktemp -d) || exit 1
keys=$(mktemp -d) || exit 1
srv=
cleanup() {
	if [ -n "$srv" ]; then
		kill -TERM "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
	fi
	rm -rf "$tmp" "$keys"
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

# start_server ARGS...: fib-server in the background; its address in $addr.
start_server() {
	: >"$tmp/server.out"
	timeout 120 "$server" --bind 127.0.0.1:0 "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
	srv=$!
	addr=
	i=0
	while [ $i -lt 100 ]; do
		addr=$(sed -n 's/^fib-server: listening on \([^ ]*\) .*/\1/p' "$tmp/server.out")
		[ -n "$addr" ] && return 0
		kill -0 "$srv" 2>/dev/null || fail "server exited before listening"
		sleep 0.05
		i=$((i + 1))
	done
	fail "server did not report its address within 5 s"
}
start_server
port=${addr##*:}

# run EXPECTED_RC ARGS...: fib-client's stdout in $out, stderr in $err.
run() {
	want=$1
	shift
	out=$(timeout 20 "$client" "$@" 2>"$tmp/client.err")
	rc=$?
	err=$(cat "$tmp/client.err")
	[ $rc -eq "$want" ] || fail "fib-client $*: exit $rc, wanted $want (stderr: $err)"
}

run 0 --server "$addr" 10
[ "$out" = "55" ] || fail "fib(10): got '$out'"
run 0 --server "localhost:$port" 10
[ "$out" = "55" ] || fail "fib(10) via localhost: got '$out'"
run 0 --server "$addr" 0 1 2 10 50 93
expect=$(printf '0\n1\n1\n55\n12586269025\n12200160415121876738')
[ "$out" = "$expect" ] || fail "known values: got '$out'"

run 1 --server "$addr" -5
[ -z "$out" ] || fail "fib(-5) printed '$out'"
case "$err" in *"n must be >= 0"*"INVALID_ARGUMENT"*) ;; *) fail "fib(-5): no clear error: '$err'" ;; esac
run 1 --server "$addr" -- -5
run 1 --server "$addr" 94
case "$err" in *"does not fit in 64 bits"*"OUT_OF_RANGE"*) ;; *) fail "fib(94): no clear error: '$err'" ;; esac
run 1 --server "$addr" 9223372036854775807
# Some good, some bad: the good ones print, the exit says something failed.
run 1 --server "$addr" 10 94 11
[ "$out" = "$(printf '55\n89')" ] || fail "mixed: got '$out'"

# Not numbers: refused before anything is sent, exit 2.
for bad in abc 12x "" 1.5 0x10 99999999999999999999; do
	run 2 --server "$addr" "$bad"
	case "$err" in *"is not"*) ;; *) fail "'$bad': no clear error: '$err'" ;; esac
done
run 2 --server "$addr"
run 2 10

# Nobody there: exit 2 within the timeout given.
run 2 --server 127.0.0.1:9 --timeout-ms 500 10
case "$err" in *"cannot reach"*) ;; *) fail "nobody: no clear error: '$err'" ;; esac
run 2 --server no-such-host.invalid:1 10

# Still serving after all that.
run 0 --server "$addr" 93
[ "$out" = "12200160415121876738" ] || fail "fib(93) at the end: got '$out'"

kill -TERM "$srv"
wait "$srv"
rc=$?
srv=
[ $rc -eq 0 ] || fail "server exited $rc after SIGTERM"

if [ -n "$keygen" ]; then
	for k in server client other; do
		"$keygen" "$keys/$k" >/dev/null || fail "tern-keygen $k"
	done
	cp "$keys/client.pub" "$keys/allowed"
	start_server --key "$keys/server.key" --allow "$keys/allowed" --protection privacy
	run 0 --server "$addr" --key "$keys/client.key" --peer-key "$keys/server.pub" \
		--protection privacy 10 93
	[ "$out" = "$(printf '55\n12200160415121876738')" ] || fail "secure: got '$out'"
	run 1 --server "$addr" --key "$keys/client.key" --peer-key "$keys/server.pub" \
		--protection privacy -5
	case "$err" in *"n must be >= 0"*) ;; *) fail "secure fib(-5): no clear error: '$err'" ;; esac
	run 2 --server "$addr" --key "$keys/other.key" --peer-key "$keys/server.pub" \
		--protection privacy 10
	case "$err" in *"Permission denied"*) ;; *) fail "not allowed: no clear error: '$err'" ;; esac
	run 2 --server "$addr" 10
	case "$err" in *"Permission denied"*) ;; *) fail "plain client: no clear error: '$err'" ;; esac
	run 2 --server "$addr" --protection bogus 10
	kill -TERM "$srv"
	wait "$srv"
	rc=$?
	srv=
	[ $rc -eq 0 ] || fail "secure server exited $rc after SIGTERM"
fi
echo "PASS"
