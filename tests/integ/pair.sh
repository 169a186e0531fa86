#!/usr/bin/env bash
# pair.sh — tern-stress between two processes over a real link: a server
# (--exit-when-idle: it exits when the client's session is gone, with status
# 0 only if its pools are clean and no request ran twice) and a client that
# checks everything else (see stress.c).
#
#   pair.sh TERN_STRESS KIND [ARGS...]
#
# KIND:
#   udp        io_uring UDP on 127.0.0.1
#   udp-proxy:P  the same through lossproxy.py, a process between the two
#              that drops each datagram with probability P each way: the
#              peer is alive, only the path loses (the proxy's counts are
#              printed and must show P within 0.1 each way)
#   udp-netns  io_uring UDP across two network namespaces (veth pair)
#   memif      DPDK net_memif between the two processes (no hugepages needed)
#   af_packet  DPDK net_af_packet on each end of a veth pair in two namespaces
#   af_xdp     DPDK net_af_xdp, likewise
# ARGS go to both sides (e.g. --faults ..., --count N, --max-size B).
#
# Exit: 0 pass, 1 fail, 77 skip (not root / no namespaces, where needed).
set -u
stress=${1:?usage: pair.sh TERN_STRESS KIND [ARGS...]}
kind=${2:?usage: pair.sh TERN_STRESS KIND [ARGS...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
tag=t$$
srv_pid=
proxy_pid=
out=$(mktemp -d /tmp/tern-pair.XXXXXX)

cleanup() {
	[[ -n "$srv_pid" ]] && kill -9 "$srv_pid" 2>/dev/null
	[[ -n "$proxy_pid" ]] && kill -9 "$proxy_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$out" "/tmp/tern-pair-$tag.sock"
}
trap cleanup EXIT

need_root() {
	if [[ $EUID -ne 0 ]]; then
		echo "skip: $kind needs root" >&2
		exit 77
	fi
}

# Namespaces for the netns kinds; their cleanup chains to ours.
netns_setup() { # $1: with kernel IPs (udp) or without (DPDK on the veth)
	need_root
	# shellcheck source=../../ci/netns-lib.sh
	. "$here/../../ci/netns-lib.sh"
	netns_available || { echo "skip: cannot create namespaces" >&2; exit 77; }
	nsa=tern-$tag-a nsb=tern-$tag-b
	if [[ $1 == ip ]]; then
		netns_pair "$nsa" "v$tag"a 10.77.0.1/24 "$nsb" "v$tag"b 10.77.0.2/24
	else
		netns_pair "$nsa" "v$tag"a 10.99.0.1/32 "$nsb" "v$tag"b 10.99.0.2/32
		# DPDK owns these links: keep the kernel's IPv4 and IPv6 off them.
		ip -n "$nsa" addr flush dev "v$tag"a
		ip -n "$nsb" addr flush dev "v$tag"b
		for ns in "$nsa" "$nsb"; do
			ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
				net.ipv6.conf.default.disable_ipv6=1
		done
	fi
}

srv_pre=() cli_pre=() loss=
case $kind in
udp | udp-proxy:*)
	[[ $kind == udp-proxy:* ]] && loss=${kind#udp-proxy:}
	srv=(--driver udp --bind 127.0.0.1:0)
	cli=(--driver udp --bind 127.0.0.1:0)
	;;
udp-netns)
	netns_setup ip
	srv_pre=(ip netns exec "$nsa") cli_pre=(ip netns exec "$nsb")
	srv=(--driver udp --bind 10.77.0.1:0)
	cli=(--driver udp --bind 10.77.0.2:0)
	;;
memif)
	need_root
	mem="--no-huge -m 512 --no-shconf --no-pci --log-level=*:warning"
	sock=/tmp/tern-pair-$tag.sock
	srv=(--driver dpdk --bind 10.88.0.1:31900
		--eal "-l 1 $mem --file-prefix tern-$tag-s --vdev=net_memif0,role=server,id=0,socket=$sock,socket-abstract=no")
	cli=(--driver dpdk --bind 10.88.0.2:31901
		--eal "-l 0 $mem --file-prefix tern-$tag-c --vdev=net_memif0,role=client,id=0,socket=$sock,socket-abstract=no")
	;;
af_packet | af_xdp)
	netns_setup noip
	srv_pre=(ip netns exec "$nsa") cli_pre=(ip netns exec "$nsb")
	mem="--no-huge -m 512 --no-shconf --no-pci --log-level=*:warning"
	if [[ $kind == af_packet ]]; then
		vs="net_af_packet0,iface=v${tag}a,qpairs=1,qdisc_bypass=1"
		vc="net_af_packet0,iface=v${tag}b,qpairs=1,qdisc_bypass=1"
	else
		vs="net_af_xdp0,iface=v${tag}a,start_queue=0,queue_count=1"
		vc="net_af_xdp0,iface=v${tag}b,start_queue=0,queue_count=1"
	fi
	srv=(--driver dpdk --bind 10.99.0.1:31900 --eal "-l 1 $mem --file-prefix tern-$tag-s --vdev=$vs")
	cli=(--driver dpdk --bind 10.99.0.2:31901 --eal "-l 0 $mem --file-prefix tern-$tag-c --vdev=$vc")
	;;
*)
	echo "pair.sh: unknown kind $kind" >&2
	exit 2
	;;
esac

# listening NAME LOG PID: the "listening ADDR" line a process (the server,
# the proxy) prints once it is up; exits the script if it never comes.
listening() {
	local a=
	for _ in $(seq 1 200); do
		a=$(sed -n 's/^listening //p' "$2" | head -n1)
		[[ -n "$a" ]] && break
		kill -0 "$3" 2>/dev/null || break
		sleep 0.05
	done
	if [[ -z "$a" ]]; then
		echo "$1 did not come up:" >&2
		cat "$2" >&2
		exit 1
	fi
	echo "$a"
}

# No timeout(1) wrapper here: cleanup's kill must reach the server itself
# (it bounds itself with --deadline-s).
"${srv_pre[@]}" "$stress" server "${srv[@]}" --exit-when-idle --quiet --deadline-s 900 "$@" \
	>"$out/server.log" 2>&1 &
srv_pid=$!
addr=$(listening server "$out/server.log" "$srv_pid") || exit 1

# The lossy path: the client talks to the proxy, the proxy to the server.
if [[ -n "$loss" ]]; then
	python3 "$here/lossproxy.py" --to "$addr" --loss "$loss" --seed 11 >"$out/proxy.log" 2>&1 &
	proxy_pid=$!
	addr=$(listening proxy "$out/proxy.log" "$proxy_pid") || exit 1
fi

"${cli_pre[@]}" timeout 900 "$stress" client "${cli[@]}" --connect "$addr" --quiet "$@"
crc=$?
wait "$srv_pid"
src=$?
srv_pid=
echo "--- server ($src):"
cat "$out/server.log"
prc=0
if [[ -n "$proxy_pid" ]]; then
	kill -TERM "$proxy_pid"
	wait "$proxy_pid"
	proxy_pid=
	echo "--- proxy (loss $loss each way):"
	cat "$out/proxy.log"
	# What the path really lost: P within 0.1 each way, over >= 200 datagrams.
	if ! awk -v p="$loss" '$3 == "dropped" { n++; f = $4 / ($2 ? $2 : 1)
		if ($2 < 200 || f < p - 0.1 || f > p + 0.1) { print "proxy: " $1 " lost " f " of " $2; bad = 1 } }
		END { exit (bad || n != 2) }' "$out/proxy.log"; then
		prc=1
	fi
fi
if [[ $crc -ne 0 || $src -ne 0 || $prc -ne 0 ]]; then
	echo "FAIL: client $crc, server $src, proxy $prc"
	exit 1
fi
exit 0
