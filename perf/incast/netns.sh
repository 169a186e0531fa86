#!/bin/bash
# netns.sh — a real-kernel bottleneck for tern-incast: client and server in
# two network namespaces joined through a router namespace whose egress
# toward the server is a tc tbf (which drops when its queue is full, as a
# switch port under incast does).
#
#   client ns 10.201.1.2 --veth-- 10.201.1.1 router 10.201.2.1 --veth-- 10.201.2.2 server ns
#                                             tbf here (egress toward the server)
#
# usage:
#   netns.sh up   [--rate 200mbit] [--burst 32kb] [--limit 256kb]
#   netns.sh down
#   netns.sh run  [--rate R] [--burst B] [--limit L] [--bin PATH] [--server-cpu N]
#                 [--client-cpu N] [--keep] -- [tern-incast client options]
#       up, then `tern-incast server` in the server namespace and `tern-incast
#       client` in the client namespace (each pinned with taskset, bounded by
#       timeout), then both reports (server's on stderr), then down unless --keep.
#   netns.sh status   the namespaces, addresses and the tbf's counters
#
# Names start with $NS_PREFIX (default "incast") so they collide with nothing
# else on the machine; everything is removed on exit, error or interrupt.
# Needs root (ip netns, tc). Every wait is bounded.
set -euo pipefail

P=${NS_PREFIX:-incast}
CLI=$P-cli RTR=$P-rtr SRV=$P-srv
NET1=10.201.1 NET2=10.201.2
SRV_ADDR=$NET2.2:7300

RATE=200mbit BURST=32kb LIMIT=256kb
BIN="" SCPU=0 CCPU=1 KEEP=0

die() { echo "netns.sh: $*" >&2; exit 1; }

down() {
	for ns in "$CLI" "$RTR" "$SRV"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -TERM 2>/dev/null || true
	done
	for ns in "$CLI" "$RTR" "$SRV"; do
		ip netns del "$ns" 2>/dev/null || true
	done
}

up() {
	[ "$(id -u)" = 0 ] || die "needs root (ip netns, tc)"
	down
	for ns in "$CLI" "$RTR" "$SRV"; do ip netns add "$ns"; done
	# veth names are per namespace once moved; create with unique names first.
	ip link add "$P-c0" type veth peer name "$P-r1"
	ip link add "$P-r2" type veth peer name "$P-s0"
	ip link set "$P-c0" netns "$CLI"
	ip link set "$P-r1" netns "$RTR"
	ip link set "$P-r2" netns "$RTR"
	ip link set "$P-s0" netns "$SRV"
	ip -n "$CLI" addr add $NET1.2/24 dev "$P-c0"
	ip -n "$RTR" addr add $NET1.1/24 dev "$P-r1"
	ip -n "$RTR" addr add $NET2.1/24 dev "$P-r2"
	ip -n "$SRV" addr add $NET2.2/24 dev "$P-s0"
	for ns in "$CLI" "$RTR" "$SRV"; do ip -n "$ns" link set lo up; done
	ip -n "$CLI" link set "$P-c0" up
	ip -n "$RTR" link set "$P-r1" up
	ip -n "$RTR" link set "$P-r2" up
	ip -n "$SRV" link set "$P-s0" up
	ip -n "$CLI" route add default via $NET1.1
	ip -n "$SRV" route add default via $NET2.1
	ip netns exec "$RTR" sysctl -qw net.ipv4.ip_forward=1
	# The bottleneck: the router's egress toward the server.
	ip netns exec "$RTR" tc qdisc add dev "$P-r2" root tbf rate "$RATE" burst "$BURST" limit "$LIMIT"
	ip -n "$CLI" route get $NET2.2 >/dev/null || die "no route client -> server"
}

status() {
	for ns in "$CLI" "$RTR" "$SRV"; do
		echo "== $ns"; ip -n "$ns" -br addr 2>/dev/null || echo "(absent)"
	done
	ip netns exec "$RTR" tc -s qdisc show dev "$P-r2" 2>/dev/null || true
}

find_bin() {
	if [ -n "$BIN" ]; then return; fi
	local here; here=$(cd "$(dirname "$0")" && pwd)
	for b in "$here/../../build/dev/perf/incast/tern-incast" "$here/tern-incast"; do
		if [ -x "$b" ]; then BIN=$b; return; fi
	done
	BIN=$(command -v tern-incast) || die "tern-incast not found: give --bin"
}

run() {
	find_bin
	local dur=5 warm=0.5 tmo=10 a
	# The client's own --duration/--warmup/--timeout bound the server's life.
	local args=("$@")
	for ((i = 0; i < ${#args[@]}; i++)); do
		case "${args[$i]}" in
		--duration) dur=${args[$((i + 1))]} ;;
		--warmup) warm=${args[$((i + 1))]} ;;
		--timeout) tmo=${args[$((i + 1))]} ;;
		esac
	done
	a=$(awk -v d="$dur" -v w="$warm" -v t="$tmo" 'BEGIN { printf "%d", d + w + t + 15 }')
	trap 'down' EXIT
	trap 'exit 130' INT TERM
	up

	ip netns exec "$SRV" timeout -s TERM "$((a + 10))" \
		taskset -c "$SCPU" "$BIN" server --driver udp --bind $SRV_ADDR --quiet \
		--server-cpu -1 --senders 1000 &
	local spid=$!
	sleep 0.3
	local rc=0
	ip netns exec "$CLI" timeout -s TERM "$a" \
		taskset -c "$CCPU" "$BIN" client --driver udp --connect $SRV_ADDR \
		--client-ip $NET1.2 --rate "$RATE" --client-cpu -1 "$@" || rc=$?
	echo "tbf (router egress toward the server):"
	ip netns exec "$RTR" tc -s qdisc show dev "$P-r2" | sed 's/^/  /'
	kill -TERM "$spid" 2>/dev/null || true
	wait "$spid" || true
	if [ "$KEEP" = 1 ]; then trap - EXIT; fi
	return $rc
}

cmd=${1:-}
[ -n "$cmd" ] || die "usage: netns.sh up|down|status|run [options] [-- client options]"
shift
while [ $# -gt 0 ]; do
	case "$1" in
	--rate) RATE=$2; shift 2 ;;
	--burst) BURST=$2; shift 2 ;;
	--limit) LIMIT=$2; shift 2 ;;
	--bin) BIN=$2; shift 2 ;;
	--server-cpu) SCPU=$2; shift 2 ;;
	--client-cpu) CCPU=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--) shift; break ;;
	*) die "unknown option $1" ;;
	esac
done
case "$cmd" in
up) up ;;
down) down ;;
status) status ;;
run) run "$@" ;;
*) die "unknown command $cmd" ;;
esac
