#!/usr/bin/env bash
# test-perf-cli.sh TERN_PERF — tern-perf's command line as a user meets it:
#
#   usage errors    the error and one line pointing to the help, exit 2
#   --help          per command: its own options only; without one, the synopses
#   server report   non-zero counters only; every counter with --stats
#   Ctrl-C          a client reports its partial result, says it was
#                   interrupted and exits 130 (SIGINT) or 143 (SIGTERM)
#
# The last two run a server and a client over udp on 127.0.0.1 (skipped when
# the udp driver is not built). Every process is bounded by timeout(1).
set -u
perf=${1:?usage: test-perf-cli.sh path/to/tern-perf}

tmp=$(mktemp -d) || exit 1
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
fail() {
	echo "FAIL: $*"
	for f in "$tmp"/*; do
		[[ -s "$f" ]] && { echo "--- $(basename "$f")"; cat "$f"; }
	done
	failed=1
}

# run ARGS...: tern-perf with stdout/stderr captured; sets rc.
run() {
	timeout 30 "$perf" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# usage_error WANT HINT ARGS...: exit 2, nothing on stdout, exactly two
# lines on stderr: one with WANT, then the hint.
usage_error() {
	local want=$1 hint=$2
	shift 2
	run "$@"
	if [[ $rc -ne 2 ]]; then
		fail "tern-perf $*: exit $rc, not 2"
	elif [[ -s "$tmp/out" ]]; then
		fail "tern-perf $*: printed on stdout"
	elif [[ $(wc -l <"$tmp/err") -ne 2 ]]; then
		fail "tern-perf $*: $(wc -l <"$tmp/err") lines on stderr, not 2"
	elif ! head -n1 "$tmp/err" | grep -qF -- "$want"; then
		fail "tern-perf $*: first line lacks \"$want\""
	elif [[ "$(tail -n1 "$tmp/err")" != "$hint" ]]; then
		fail "tern-perf $*: hint is \"$(tail -n1 "$tmp/err")\""
	fi
}

c_hint="Try 'tern-perf client --help' for its options."
s_hint="Try 'tern-perf server --help' for its options."
g_hint="Try 'tern-perf --help' for the commands."
usage_error 'bad value for --size: "abc": 0..1G bytes' "$c_hint" client --connect 127.0.0.1:1 --size abc
usage_error "unrecognized option '--bogus'" "$c_hint" --bogus client
usage_error "client: --connect IP:PORT is required" "$c_hint" client
usage_error "server: --connect is a client option" "$s_hint" server --connect 127.0.0.1:1
usage_error "option '--count' requires an argument" "$s_hint" server --count
usage_error "missing command" "$g_hint"
usage_error 'unknown command "clinet"' "$g_hint" --size=3 clinet
usage_error '--connect "foo:bar": expected HOST:PORT' "$c_hint" client --connect foo:bar

# --help: the command's own options only.
run client --help
{ [[ $rc -eq 0 ]] && grep -q -- "--connect IP:PORT" "$tmp/out" && grep -q "^client options:" "$tmp/out" &&
	grep -q -- "--peer-key" "$tmp/out" && ! grep -q -- "--allow FILE" "$tmp/out" &&
	! grep -q "^server options:" "$tmp/out" && ! grep -q "selftest" "$tmp/out"; } ||
	fail "client --help"
run server --help
{ [[ $rc -eq 0 ]] && grep -q -- "--duration S          exit after S seconds" "$tmp/out" &&
	grep -q -- "--allow FILE" "$tmp/out" && ! grep -q -- "--connect" "$tmp/out" &&
	! grep -q -- "--peer-key" "$tmp/out" && ! grep -q "^client options:" "$tmp/out"; } ||
	fail "server --help"
run --help
{ [[ $rc -eq 0 ]] && [[ $(wc -l <"$tmp/out") -le 10 ]] && grep -q "^usage: tern-perf server" "$tmp/out" &&
	grep -q "^       tern-perf client" "$tmp/out" && grep -q "COMMAND --help" "$tmp/out"; } ||
	fail "--help"

case ",$("$perf" drivers)," in
*,udp,*) ;;
*)
	echo "udp driver not built: server report and interrupt cases skipped"
	((failed == 0)) && echo PASS
	exit $failed
	;;
esac

# start_server NAME ARGS...: a udp server on an ephemeral port; sets addr, srv.
start_server() {
	local name=$1
	shift
	timeout 60 "$perf" server --driver udp --bind 127.0.0.1:0 --busy-poll 0 --duration 40 "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	srv=$!
	pids+=("$srv")
	addr=
	for _ in $(seq 100); do
		addr=$(sed -n 's/^tern-perf server: listening on \([^ ]*\) .*/\1/p' "$tmp/$name.out")
		[[ -n "$addr" ]] && return 0
		kill -0 "$srv" 2>/dev/null || break
		sleep 0.05
	done
	fail "server $name did not come up"
	return 1
}

# Server report: non-zero counters only, all of them with --stats.
for mode in default stats; do
	extra=()
	[[ $mode == stats ]] && extra=(--stats)
	start_server "srv_$mode" "${extra[@]}" || continue
	run client --driver udp --connect "$addr" --count 300 --warmup 0 --busy-poll 0 -q
	[[ $rc -eq 0 ]] || fail "client against the $mode server: exit $rc"
	kill -TERM "$srv"
	wait "$srv"
	src=$?
	o=$tmp/srv_$mode.out
	[[ $src -eq 0 ]] || fail "$mode server exit $src after SIGTERM"
	if [[ $mode == default ]]; then
		{ grep -q "^  requests     rra 300$" "$o" && grep -q "^endpoint counters (non-zero; --stats for all):" "$o" &&
			grep -q "^  requests_executed *300$" "$o" && ! grep -q "^  .* 0$" "$o" &&
			! grep -q "failures" "$o"; } || fail "server report without --stats"
	else
		{ grep -q "^  requests     rra 300, rr 0, oneway 0$" "$o" && grep -q "^endpoint counters:" "$o" &&
			grep -q "^  drop_short *0$" "$o" && grep -q "^  failures     0 no memory, 0 not answered" "$o"; } ||
			fail "server report with --stats"
	fi
done

# Ctrl-C: partial result, said so, 128 + signal.
start_server srv_int || exit 1
for sig in INT TERM; do
	for fmt in block json; do
		extra=()
		[[ $fmt == json ]] && extra=(--json)
		# --duration bounds it (not timeout(1): it would signal the process group twice)
		"$perf" client --driver udp --connect "$addr" --duration 30 --busy-poll 0 "${extra[@]}" \
			>"$tmp/cli.out" 2>"$tmp/cli.err" &
		cli=$!
		sleep 1
		kill -"$sig" "$cli"
		wait "$cli"
		rc=$?
		want=$((128 + $(kill -l "$sig")))
		if [[ $rc -ne $want ]]; then
			fail "client SIG$sig ($fmt): exit $rc, not $want"
		elif ! grep -q "^tern-perf: interrupted by SIG$sig after [0-9]* measured calls\?: the result above is partial$" "$tmp/cli.err"; then
			fail "client SIG$sig ($fmt): no interrupted line"
		elif [[ $fmt == block ]] && ! grep -q "^  errors       0 (interrupted)$" "$tmp/cli.out"; then
			fail "client SIG$sig: result block"
		elif [[ $fmt == json ]] && ! grep -q '"interrupted": true' "$tmp/cli.out"; then
			fail "client SIG$sig: JSON"
		fi
	done
done
kill -TERM "$srv"
wait "$srv"

((failed == 0)) && echo PASS
exit $failed
