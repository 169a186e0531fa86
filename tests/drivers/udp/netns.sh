#!/bin/sh
# netns.sh — the udp driver end to end across two network namespaces.
#
#   tern-udp-a                                  tern-udp-b
#   test_udp --netns-client                     test_udp --netns-server
#   10.77.0.1/24  tern-va  <==== veth ====>  tern-vb  10.77.0.2/24 :7777
#
# The client sends datagrams of random sizes (header | payload | trailer),
# the server echoes each one to its source address, the client checks every
# byte. Two passes: MTU 1472 (fits the veth's 1500) and MTU 8972 (IP
# fragments on the wire). Lost datagrams are resent by the client, so the
# test does not depend on the first ARP exchange.
#
# Usage: netns.sh path/to/test_udp [--mode MODE] (the driver mode of both
# ends: mmsg, the default, or uring). Needs root and iproute2; exits 77
# (skip) without them. Namespaces and links are removed on exit.
set -u

BIN=${1:?usage: netns.sh path/to/test_udp [--mode MODE]}
shift
MODE_ARGS="$*" # "" or "--mode MODE": words, split on purpose below
NS_A=tern-udp-a
NS_B=tern-udp-b

if [ "$(id -u)" != 0 ]; then
	echo "netns.sh: skipped, needs root"
	exit 77
fi
if ! command -v ip >/dev/null 2>&1; then
	echo "netns.sh: skipped, needs iproute2 (ip)"
	exit 77
fi

# Two runs at once (two build directories) would share the namespace names.
if command -v flock >/dev/null 2>&1; then
	exec 9>/tmp/tern-udp-netns.lock
	flock -w 100 9 || { echo "netns.sh: lock busy"; exit 1; }
fi

SRV=
cleanup() {
	if [ -n "$SRV" ]; then
		kill "$SRV" 2>/dev/null
		wait "$SRV" 2>/dev/null
	fi
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cleanup # leftovers of a killed run
if ! ip netns add "$NS_A" 2>/dev/null; then
	echo "netns.sh: skipped, cannot create network namespaces"
	exit 77
fi
set -e
ip netns add "$NS_B"
if ! ip link add tern-va netns "$NS_A" type veth peer name tern-vb netns "$NS_B"; then
	echo "netns.sh: skipped, cannot create a veth pair"
	exit 77
fi
ip -n "$NS_A" addr add 10.77.0.1/24 dev tern-va
ip -n "$NS_B" addr add 10.77.0.2/24 dev tern-vb
for ns in "$NS_A" "$NS_B"; do
	ip -n "$ns" link set lo up
done
ip -n "$NS_A" link set tern-va up
ip -n "$NS_B" link set tern-vb up
set +e

# Each program bounds its own run time; timeout(1) is the backstop.
ip netns exec "$NS_B" timeout 90 "$BIN" $MODE_ARGS --netns-server 10.77.0.2:7777 80 &
SRV=$!

rc=0
ip netns exec "$NS_A" timeout 40 "$BIN" $MODE_ARGS --netns-client 10.77.0.1:0 10.77.0.2:7777 2000 - || rc=1
ip netns exec "$NS_A" timeout 40 "$BIN" $MODE_ARGS --netns-client 10.77.0.1:0 10.77.0.2:7777 300 mtu=8972 quit || rc=1

wait "$SRV"
src=$?
SRV=
if [ "$src" != 0 ]; then
	echo "netns.sh: server failed ($src)"
	rc=1
fi
exit $rc
