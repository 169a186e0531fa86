# shellcheck shell=bash
# ci/netns-lib.sh — two network namespaces joined by a veth pair, for tests
# that need a real kernel link without a NIC (udp driver across namespaces,
# DPDK net_af_packet / net_af_xdp on a veth end). Source it:
#
#   . "$(dirname "$0")/../../ci/netns-lib.sh"
#   netns_available || exit 77                     # meson's "skip"
#   netns_pair tA vA 10.9.0.1/24  tB vB 10.9.0.2/24
#   netns_exec tA ./server --bind 10.9.0.1:31850 &
#   netns_exec tB ./client --connect 10.9.0.1:31850
#   # DPDK on a veth end:  netns_exec tA app --vdev=net_af_packet0,iface=vA
#
# Cleanup is automatic: everything netns_pair created is deleted when the
# script exits, also on Ctrl-C/SIGTERM, and netns_cleanup may be called any
# time (it is idempotent). The EXIT trap chains to an EXIT trap the caller
# set before the first netns_pair; a caller that sets its EXIT trap later
# must call netns_cleanup from it.
#
# Choose names unique to the test (e.g. with $$) so tests can run in
# parallel: namespace names are global, interface names are at most 15
# characters. Needs root and iproute2.

_netns_created=()   # namespaces to delete, in creation order
_netns_trapped=0

# netns_available: true if this process can create namespaces.
netns_available() {
	[[ $EUID -eq 0 ]] && command -v ip >/dev/null 2>&1 || return 1
	local probe=tern-probe-$$
	ip netns add "$probe" 2>/dev/null || return 1
	ip netns del "$probe"
}

# netns_pair NS_A IF_A ADDR_A NS_B IF_B ADDR_B [MTU]
# Create NS_A and NS_B (replacing stale ones of the same name), a veth pair
# IF_A <-> IF_B with IF_A in NS_A and IF_B in NS_B, give them the addresses
# (CIDR, e.g. 10.9.0.1/24), set the MTU (default 1500), and bring them and
# each namespace's lo up.
netns_pair() {
	local nsa=$1 ifa=$2 addra=$3 nsb=$4 ifb=$5 addrb=$6 mtu=${7:-1500}
	if ((${#ifa} > 15 || ${#ifb} > 15)); then
		echo "netns_pair: interface names must be at most 15 characters" >&2
		return 1
	fi
	_netns_trap
	local ns
	for ns in "$nsa" "$nsb"; do
		ip netns del "$ns" 2>/dev/null || true
		ip netns add "$ns"
		_netns_created+=("$ns")
		ip -n "$ns" link set lo up
	done
	ip link add "$ifa" netns "$nsa" mtu "$mtu" type veth peer name "$ifb" netns "$nsb" mtu "$mtu"
	ip -n "$nsa" addr add "$addra" dev "$ifa"
	ip -n "$nsb" addr add "$addrb" dev "$ifb"
	ip -n "$nsa" link set "$ifa" up
	ip -n "$nsb" link set "$ifb" up
}

# netns_exec NS CMD...: run CMD inside NS.
netns_exec() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# netns_mac NS IF: print IF's MAC address.
netns_mac() {
	ip netns exec "$1" cat "/sys/class/net/$2/address"
}

# netns_offloads_off NS IF: turn off checksum and segmentation offloads, so
# frames the kernel sends on IF carry complete checksums and are not
# coalesced. Needed when a DPDK af_packet/af_xdp peer on the other end reads
# what kernel sockets send (veth otherwise leaves UDP checksums partial).
netns_offloads_off() {
	ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
		echo "netns_offloads_off: ethtool -K $2 failed (is ethtool installed?)" >&2
}

# netns_cleanup: delete every namespace netns_pair created (the veth pair
# goes with them). Idempotent.
netns_cleanup() {
	local ns
	for ns in "${_netns_created[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	_netns_created=()
}

# Install the cleanup traps once, chaining an existing EXIT trap; turn
# SIGINT/SIGTERM into an exit (so EXIT runs) unless the caller traps them.
_netns_trap() {
	((_netns_trapped)) && return 0
	_netns_trapped=1
	local prev words
	prev=$(trap -p EXIT)
	if [[ -n "$prev" ]]; then
		eval "words=($prev)" # trap -- 'CMD' EXIT -> (trap -- CMD EXIT)
		# shellcheck disable=SC2064 # expand the old command now, on purpose
		trap "netns_cleanup; ${words[2]}" EXIT
	else
		trap netns_cleanup EXIT
	fi
	[[ -n "$(trap -p INT)" ]] || trap 'exit 130' INT
	[[ -n "$(trap -p TERM)" ]] || trap 'exit 143' TERM
}
