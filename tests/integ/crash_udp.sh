#!/usr/bin/env bash
# crash_udp.sh — peers that die, over udp between processes.
#
#   crash_udp.sh TERN_STRESS server-restart   kill -9 the server mid-load and
#       restart it on the same port: calls in flight end with -ECONNRESET
#       (never silently re-executed), new sessions work, nothing hangs.
#   crash_udp.sh TERN_STRESS server-restart-idempotent   same, with
#       TERN_EP_RECONNECT and calls marked idempotent: the library reopens
#       the session and re-issues them; none fails with -ECONNRESET.
#   crash_udp.sh TERN_STRESS client-kill      kill -9 the client mid-load:
#       the server declares it dead after its session timeout and frees the
#       session and everything it held (its counters prove it).
set -u
stress=${1:?usage: crash_udp.sh TERN_STRESS server-restart|server-restart-idempotent|client-kill}
what=${2:?usage: crash_udp.sh TERN_STRESS server-restart|server-restart-idempotent|client-kill}
out=$(mktemp -d /tmp/tern-crash.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$out"
}
trap cleanup EXIT

# start_server LOG ARGS...: start a server; sets srv_pid and srv_addr.
start_server() {
	local log=$1
	shift
	# No timeout(1) wrapper: kill -9 must reach the server itself (it has
	# its own --deadline-s, and the trap kills it).
	"$stress" server --driver udp --block --deadline-s 120 "$@" >"$log" 2>&1 &
	srv_pid=$!
	pids+=("$srv_pid")
	srv_addr=
	for _ in $(seq 1 200); do
		srv_addr=$(sed -n 's/^listening //p' "$log" | head -n1)
		[[ -n "$srv_addr" ]] && break
		sleep 0.05
	done
	if [[ -z "$srv_addr" ]]; then
		echo "server did not come up:" >&2
		cat "$log" >&2
		return 1
	fi
}

# wait_progress LOG N: wait until the client reports N calls ended.
wait_progress() {
	for _ in $(seq 1 300); do
		local n
		n=$(sed -n 's/^progress: ended \([0-9]*\).*/\1/p' "$1" | tail -n1)
		[[ -n "$n" && "$n" -ge "$2" ]] && return 0
		sleep 0.1
	done
	echo "client made no progress:" >&2
	cat "$1" >&2
	return 1
}

case $what in
server-restart | server-restart-idempotent)
	start_server "$out/s1.log" --bind 127.0.0.1:0 --quiet || exit 1
	addr=$srv_addr
	flag=--expect-reset
	[[ $what == server-restart-idempotent ]] && flag=--auto-reconnect
	# Enough calls to outlast the crash; each is small so many are in flight.
	"$stress" client --driver udp --block --connect "$addr" --reconnect $flag --deadline-s 120 \
		--count 40000 --max-size 65536 --concurrency 16 --timeout-ms 8000 >"$out/c.log" 2>&1 &
	cpid=$!
	wait_progress "$out/c.log" 2000 || exit 1
	kill -9 "$srv_pid"
	# Reaped: it is gone and its port is free (no sleep to guess when).
	wait "$srv_pid" 2>/dev/null
	echo "server killed at: $(tail -n1 "$out/c.log")"
	# The restarted server needs the same port at once.
	start_server "$out/s2.log" --bind "$addr" --quiet || exit 1
	wait "$cpid"
	crc=$?
	cat "$out/c.log"
	[[ $crc -eq 0 ]] || { echo "FAIL: client exit $crc"; exit 1; }
	;;
client-kill)
	start_server "$out/s.log" --bind 127.0.0.1:0 --exit-when-idle --session-timeout-ms 1000 ||
		exit 1
	addr=$srv_addr
	spid=$srv_pid
	"$stress" client --driver udp --block --connect "$addr" --reconnect --deadline-s 120 \
		--count 1000000 --max-size 65536 --concurrency 16 >"$out/c.log" 2>&1 &
	cpid=$!
	pids+=($cpid)
	wait_progress "$out/c.log" 2000 || exit 1
	kill -9 "$cpid"
	# The server exits by itself once the dead client's session is freed.
	wait "$spid"
	src=$?
	cat "$out/s.log"
	dead=$(sed -n 's/^sessions_dead *//p' "$out/s.log")
	open=$(sed -n 's/^sessions_open *//p' "$out/s.log")
	cached=$(sed -n 's/^cached_responses *//p' "$out/s.log")
	inuse=$(sed -n 's/^msgs_in_use *//p' "$out/s.log")
	echo "server exit $src: sessions_dead=$dead sessions_open=$open cached=$cached msgs_in_use=$inuse"
	[[ $src -eq 0 && "$dead" -ge 1 && "$open" -eq 0 && "$cached" -eq 0 && "$inuse" -eq 0 ]] ||
		{ echo "FAIL"; exit 1; }
	echo PASS
	;;
*)
	echo "crash_udp.sh: unknown case $what" >&2
	exit 2
	;;
esac
exit 0
