#!/bin/sh
# test-perf-udp.sh TERN_PERF [DRIVER_ARGS] — tern-perf end to end over kernel UDP on
# 127.0.0.1: a server in the background on an ephemeral port (read back from
# its "listening on" line), a client making 2000 verified calls with --json,
# then the server stopped with SIGTERM. Passes if the client reports
# count 2000 and errors 0 and both processes exit 0. Every step is bounded
# by timeout(1); the server also exits by itself after --duration.
# DRIVER_ARGS (e.g. mode=uring) go to both ends' --driver-args.
# Exit 77 (meson: skipped) when libtern was built without the udp driver.
set -u
perf=${1:?usage: test-perf-udp.sh path/to/tern-perf [driver-args]}
dargs=${2:-}

case ",$("$perf" drivers)," in
*,udp,*) ;;
*) echo "udp driver not built into libtern: skipped"; exit 77 ;;
esac

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
fail() {
	echo "FAIL: $*"
	for f in "$tmp"/*; do
		[ -s "$f" ] && { echo "--- $(basename "$f")"; cat "$f"; }
	done
	exit 1
}

# --busy-poll 0: the server sleeps in the driver and leaves the CPU to the client.
timeout 60 "$perf" server --driver udp --bind 127.0.0.1:0 --busy-poll 0 --duration 45 \
	${dargs:+--driver-args "$dargs"} \
	>"$tmp/server.out" 2>"$tmp/server.err" &
srv=$!

addr=
i=0
while [ $i -lt 100 ]; do
	addr=$(sed -n 's/^tern-perf server: listening on \([^ ]*\) .*/\1/p' "$tmp/server.out" 2>/dev/null)
	[ -n "$addr" ] && break
	kill -0 "$srv" 2>/dev/null || fail "server exited before listening"
	sleep 0.05
	i=$((i + 1))
done
[ -n "$addr" ] || fail "server did not report its address within 5 s"
case "$addr" in 127.0.0.1:*) ;; *) fail "unexpected server address '$addr'" ;; esac

timeout 30 "$perf" client --driver udp --connect "$addr" --count 2000 --concurrency 4 \
	${dargs:+--driver-args "$dargs"} \
	--verify --json >"$tmp/client.json" 2>"$tmp/client.err"
rc=$?
[ $rc -eq 0 ] || fail "client exited with $rc"

python3 - "$tmp/client.json" <<'EOF' || fail "client result not as expected"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1, "expected exactly one JSON object on stdout"
r = json.loads(lines[0])
for k in ("count", "errors", "calls_per_s", "p50_us", "p99_us", "p999_us", "max_us"):
    assert k in r, "missing key " + k
assert r["errors"] == 0, "errors: %r" % r["errors"]
assert r["count"] == 2000, "count: %r" % r["count"]
assert r["calls_per_s"] > 0 and 0 < r["p50_us"] <= r["p99_us"] <= r["max_us"], r
print("udp: %.0f calls/s, p50 %.1f us, p99 %.1f us" % (r["calls_per_s"], r["p50_us"], r["p99_us"]))
EOF

kill -TERM "$srv"
wait "$srv"
rc=$?
srv=
[ $rc -eq 0 ] || fail "server exited with $rc after SIGTERM"
grep -q '^  requests     rra [1-9]' "$tmp/server.out" || fail "server counted no requests"
echo "PASS"
