#!/bin/sh
# netns.sh — run a dpdk driver test across two network namespaces joined by
# a veth pair: tern-dpdk-a holds veth-a, tern-dpdk-b holds veth-b.
#
#   netns.sh <test_dpdk> <af_packet|af_xdp>
#
# The test binary runs in tern-dpdk-a and starts its echo peer in
# tern-dpdk-b (ip netns exec). Exit 77 (skip) when not root or when
# namespaces or veths cannot be made.
#
# The kernel is kept out of the way so that every frame on the wire is
# tern's and the counters can be checked exactly:
#  - no IPv4 address on the veths: the kernel neither answers ARP for tern's
#    addresses (10.9.0.x) nor accepts the UDP datagrams (it drops them
#    silently; forwarding is off in a fresh namespace), so ARP is the
#    driver's own;
#  - IPv6 disabled in both namespaces: no router solicitations, DAD or MLD
#    reports arriving as foreign frames.
# af_packet sees a copy of what the kernel sees (and its fanout group
# reassembles IP fragments in the kernel, so a lone fragment never reaches
# the PMD); af_xdp's program redirects queue 0 to its socket, so the kernel
# sees nothing at all. libxdp warns that /sys/fs/bpf is missing (ip netns
# exec remounts /sys) and loads its program without the dispatcher: fine.
#
# EAL vdevs the test uses (the peer swaps a/b and -l 0/-l 1):
#   --vdev=net_af_packet0,iface=veth-a,qpairs=1,qdisc_bypass=1
#   --vdev=net_af_xdp0,iface=veth-a,start_queue=0,queue_count=1
set -u

bin=${1:?usage: netns.sh <test_dpdk> <af_packet|af_xdp>}
kind=${2:?usage: netns.sh <test_dpdk> <af_packet|af_xdp>}
A=tern-dpdk-a
B=tern-dpdk-b

if [ "$(id -u)" != 0 ]; then
	echo "skip: netns.sh needs root" >&2
	exit 77
fi
command -v ip >/dev/null 2>&1 || { echo "skip: no ip(8)" >&2; exit 77; }

cleanup() {
	# Deleting a namespace deletes its end of the veth, and with it the pair.
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cleanup
setup() {
	ip netns add "$A" && ip netns add "$B" || return 1
	for ns in "$A" "$B"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 || return 1
	done
	ip link add veth-a netns "$A" type veth peer name veth-b netns "$B" || return 1
	ip -n "$A" link set veth-a up && ip -n "$B" link set veth-b up
}
if ! setup; then
	echo "skip: cannot create namespaces and a veth pair" >&2
	exit 77
fi

ip netns exec "$A" "$bin" pair "$kind" "$B"
