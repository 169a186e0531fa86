#!/usr/bin/env bash
# perf/hsflood.sh — issue 10 finding 4, measured: while hsflood sends a
# spoofed-source flood of valid-mac1 CONNECTs at the highest rate one
# process can, does (a) an honest client still connect within 1 s, (b) a
# call on an established session keep its p99 within 2x of the unloaded
# p99, (c) the server's memory stay flat?
#
#   perf/hsflood.sh [BUILD_DIR] [ROUNDS]      (root: hsflood needs a raw socket)
#   BUSY_POLL=1 perf/hsflood.sh ...            server and client spin (default: sleep)
#
# One tern-perf server (udp, 127.0.0.1:31850, key + allow-list, privacy)
# for the whole run. First the flood alone, twice (the server's RSS before
# and after each). Then each round: tern-perf client, 20,000 calls of 32 B on
# one established session, unloaded (A); then the same with the flood
# running (B), while hsbench --connect opens 20 sessions one at a time
# (connect latency) and the server's VmRSS is sampled every 0.5 s. Rounds
# interleave A and B; the medians are printed. Every process it starts is
# stopped by its pid; every step is bounded (timeout).
set -euo pipefail

build=${1:-build/gcc}
rounds=${2:-3}
busy=${BUSY_POLL:-0} # tern-perf --busy-poll of server and client (0: they sleep when idle)
here=$(cd "$(dirname "$0")/.." && pwd)
b=$here/$build
[[ -x $b/perf/hsflood && -x $b/perf/hsbench && -x $b/perf/tern-perf ]] ||
	{ echo "hsflood.sh: build $build first (ci/build ${build#build/})" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "hsflood.sh: needs root (raw socket)" >&2; exit 2; }

work=$(mktemp -d /tmp/tern-hsflood.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
cd "$work"
"$b/apps/tools/tern-keygen" srv >/dev/null
"$b/apps/tools/tern-keygen" cli >/dev/null
cp cli.pub allow
port=31850
addr=127.0.0.1:$port
sec_srv=(--key srv.key --allow allow --protection privacy)
sec_cli=(--key cli.key --peer-key srv.pub --protection privacy)

"$b/perf/tern-perf" server --driver udp --bind "$addr" "${sec_srv[@]}" --busy-poll "$busy" \
	--stats >server.log 2>&1 &
srv=$!
pids+=("$srv")
sleep 1
kill -0 "$srv" || { cat server.log; exit 1; }

p99() { # tern-perf client, 20k calls: the p99 RTT in us ("fail" if it did not finish)
	local out
	out=$(timeout 120 "$b/perf/tern-perf" client --driver udp --connect "$addr" "${sec_cli[@]}" \
		--busy-poll "$busy" --count 20000 --allow-errors 2>&1) || true
	awk '/RTT us/ { for (i = 1; i < NF; i++) if ($i == "p99") { print $(i + 1); found = 1; exit } }
	     END { if (!found) print "fail" }' <<<"$out"
}
rss() { awk '/VmRSS/ { print $2 }' "/proc/$srv/status"; }

# (c) alone first: the flood and nothing else, twice; RSS before, between, after.
f0=$(rss)
timeout 60 "$b/perf/hsflood" --peer-key srv.pub --to "$addr" --seconds 8 >flood_only.log 2>&1 || true
f1=$(rss)
timeout 60 "$b/perf/hsflood" --peer-key srv.pub --to "$addr" --seconds 8 >>flood_only.log 2>&1 || true
f2=$(rss)
echo "flood only: $(grep -c sent flood_only.log) floods of 8 s ($(awk '/sent/ { print $(NF - 4) }' flood_only.log | paste -sd' ') pkt/s); server RSS $f0 -> $f1 -> $f2 kB"

declare -a A B C R0 R1
for ((r = 0; r < rounds; r++)); do
	A+=("$(p99)")
	rss_before=$(rss)
	timeout 60 "$b/perf/hsflood" --peer-key srv.pub --to "$addr" --seconds 12 >"flood$r.log" 2>&1 &
	fl=$!
	pids+=("$fl")
	sleep 1
	( for i in $(seq 1 22); do rss; sleep 0.5; done ) >"rss$r.log" &
	sampler=$!
	pids+=("$sampler")
	timeout 60 "$b/perf/hsbench" --connect "$addr" --key cli.key --peer-key srv.pub \
		--protection privacy --count 20 --window 1 --port $((port + 100)) >"connect$r.log" 2>&1 || true
	B+=("$(p99)")
	wait "$fl" || true
	wait "$sampler" || true
	C+=("$(awk '/max/ { print $NF }' "connect$r.log")")
	R0+=("$rss_before")
	R1+=("$(sort -n "rss$r.log" | tail -1)")
	echo "round $r: p99 unloaded ${A[r]} us, flooded ${B[r]} us; connects: $(grep connects "connect$r.log" || echo none); $(grep latency "connect$r.log" || true); $(tail -1 "flood$r.log"); server RSS ${R0[r]} -> max ${R1[r]} kB"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "median p99 unloaded $(median "${A[@]}") us, flooded $(median "${B[@]}") us; worst connect $(printf '%s\n' "${C[@]}" | sort -g | tail -1) us; RSS $(median "${R0[@]}") -> $(median "${R1[@]}") kB"
kill -INT "$srv" 2>/dev/null || true
wait "$srv" 2>/dev/null || true
grep -E "hs_ok|hs_cookies_sent|drop_handshake|drop_ratelimit|drop_frame|rx_pkts" server.log || true
