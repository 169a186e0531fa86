#!/usr/bin/env bash
# wire_tshark.sh HELLO_SERVER HELLO_CLIENT TERN_KEYGEN — what an eavesdropper
# on the link sees, checked with tshark.
#
# Two network namespaces joined by a veth pair (ci/netns-lib.sh); hello-server
# (udp driver) in one, hello-client in the other sending a marker text that
# the server echoes. tshark captures on the server's veth end. For each
# protection level the exchange must succeed and the capture must hold it
# (packets to the server's port in both directions); then:
#   plain (no keys)       the marker is on the wire
#   keys, --protection none        visible: authenticated handshake only
#   keys, --protection integrity   visible: authenticated, not encrypted
#   keys, --protection privacy     absent: request and response encrypted
# and the client's static public key never appears in clear (the handshake
# encrypts it).
#
# Exit: 0 pass, 1 fail, 77 skip (not root, no tshark, no namespaces).
set -u
server=${1:?usage: wire_tshark.sh hello-server hello-client tern-keygen}
client=${2:?usage: wire_tshark.sh hello-server hello-client tern-keygen}
keygen=${3:?usage: wire_tshark.sh hello-server hello-client tern-keygen}
here=$(cd "$(dirname "$0")" && pwd)

if [[ $EUID -ne 0 ]]; then
	echo "skip: needs root (network namespaces, capture)" >&2
	exit 77
fi
if ! command -v tshark >/dev/null 2>&1; then
	echo "skip: tshark is not installed" >&2
	exit 77
fi
# shellcheck source=../../ci/netns-lib.sh
. "$here/../../ci/netns-lib.sh"
netns_available || { echo "skip: cannot create network namespaces" >&2; exit 77; }

marker="MARKER-7f3a-tern"
port=31870
tag=ts$$
nsa=tern-$tag-a nsb=tern-$tag-b ifa=v${tag}a ifb=v${tag}b
ipa=10.78.0.1 ipb=10.78.0.2
tmp=$(mktemp -d /tmp/tern-tshark.XXXXXX) || exit 1
srv="" cap=""

stop() { # stop PID: SIGINT (tshark writes its file out), then wait
	[[ -n "$1" ]] || return 0
	kill -INT "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	stop "$srv"
	stop "$cap"
	srv="" cap=""
	netns_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT # set before netns_pair: its own trap chains to this one
fail() {
	echo "FAIL: $*"
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[[ -s "$f" ]] && { echo "--- $(basename "$f")"; tail -20 "$f"; }
	done
	exit 1
}

netns_pair "$nsa" "$ifa" $ipa/24 "$nsb" "$ifb" $ipb/24 || fail "cannot make the veth pair"

"$keygen" "$tmp/server" >/dev/null || fail "tern-keygen server"
"$keygen" "$tmp/client" >/dev/null || fail "tern-keygen client"
cp "$tmp/client.pub" "$tmp/allow"
# The client's static public key as the bytes on the wire would carry it (hex).
client_pub=$(base64 -d <"$tmp/client.pub" | od -An -v -tx1 | tr -d ' \n')
[[ ${#client_pub} -eq 64 ]] || fail "cannot decode the client's public key"

# capture NAME: start tshark on the server's end; return once it is seen
# capturing (a probe datagram shows up in its output).
capture() {
	local name=$1 i
	: >"$tmp/$name.tshark.out"
	: >"$tmp/$name.tshark.err"
	ip netns exec "$nsa" timeout 60 tshark -i "$ifa" -l -P -w "$tmp/$name.pcapng" \
		-f "udp port $port" >"$tmp/$name.tshark.out" 2>"$tmp/$name.tshark.err" &
	cap=$!
	for ((i = 0; i < 100; i++)); do
		grep -q "Capturing on" "$tmp/$name.tshark.err" && break
		kill -0 "$cap" 2>/dev/null || fail "tshark exited: $(cat "$tmp/$name.tshark.err")"
		sleep 0.1
	done
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$nsb" bash -c "echo probe >/dev/udp/$ipa/$port" 2>/dev/null
		[[ -s "$tmp/$name.tshark.out" ]] && return 0
		sleep 0.2
	done
	fail "tshark did not capture a probe within 20 s"
}

# flush NAME: libpcap hands packets over in blocks, so a capture stopped
# right after the exchange can miss its end. Send probes until a new one
# shows in tshark's output: packets come in order, so the exchange is in.
flush() {
	local name=$1 i before
	before=$(grep -c "Len=6" "$tmp/$name.tshark.out")
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$nsb" bash -c "echo probe >/dev/udp/$ipa/$port" 2>/dev/null
		sleep 0.2
		[[ $(grep -c "Len=6" "$tmp/$name.tshark.out") -gt $before ]] && return 0
	done
	fail "$name: tshark did not show a probe sent after the exchange within 20 s"
}

# exchange NAME SERVER_FLAGS -- CLIENT_FLAGS: one echo of the marker while
# tshark captures; the capture ends up in $tmp/NAME.pcapng.
exchange() {
	local name=$1 i addr="" out rc
	shift
	local sflags=() cflags=()
	while [[ $# -gt 0 && $1 != -- ]]; do sflags+=("$1"); shift; done
	[[ $# -gt 0 ]] && shift
	cflags=("$@")
	capture "$name"
	: >"$tmp/$name.server.out"
	ip netns exec "$nsa" timeout 60 "$server" --bind $ipa:$port "${sflags[@]}" \
		>"$tmp/$name.server.out" 2>"$tmp/$name.server.err" &
	srv=$!
	for ((i = 0; i < 100; i++)); do
		addr=$(sed -n 's/^hello-server: listening on \([^ ]*\) .*/\1/p' "$tmp/$name.server.out")
		[[ -n "$addr" ]] && break
		kill -0 "$srv" 2>/dev/null || fail "$name: server exited before listening"
		sleep 0.05
	done
	[[ -n "$addr" ]] || fail "$name: server did not report its address within 5 s"
	out=$(ip netns exec "$nsb" timeout 20 "$client" --server $ipa:$port --bind $ipb:0 \
		"${cflags[@]}" "$marker" 2>"$tmp/$name.client.err")
	rc=$?
	[[ $rc -eq 0 ]] || fail "$name: client exited $rc"
	[[ $out == "$marker" ]] || fail "$name: sent '$marker', got '$out'"
	stop "$srv"
	srv=
	flush "$name"
	stop "$cap" # on SIGINT tshark writes out every packet it has
	cap=
	[[ -s "$tmp/$name.pcapng" ]] || fail "$name: no capture file"
}

# to_port NAME / from_port NAME: tern packets in each direction in the capture
# (the probes are 6-byte datagrams; tern's are at least 32).
to_port() {
	tshark -r "$tmp/$1.pcapng" -Y "udp.dstport == $port && udp.length >= 40" 2>/dev/null | wc -l
}
from_port() {
	tshark -r "$tmp/$1.pcapng" -Y "udp.srcport == $port && udp.length >= 40" 2>/dev/null | wc -l
}
seen() { # seen NAME STRING: how many times STRING is in the capture's bytes
	grep -a -o -- "$2" "$tmp/$1.pcapng" | wc -l
}
seen_hex() { # seen_hex NAME HEX: is the byte string HEX in the capture (0/1)
	od -An -v -tx1 "$tmp/$1.pcapng" | tr -d ' \n' | grep -c -- "$2"
}

check() { # check NAME WANT_MARKER(0|1)
	local name=$1 want=$2 to from n
	to=$(to_port "$name")
	from=$(from_port "$name")
	# CONNECT and a request one way, CONNECT_OK and a response the other.
	[[ $to -ge 2 && $from -ge 2 ]] || fail "$name: capture holds $to packets to and $from from the server"
	n=$(seen "$name" "$marker")
	if [[ $want -eq 1 ]]; then
		# the request and the echoed response
		[[ $n -ge 2 ]] || fail "$name: marker seen $n times, wanted it in clear both ways"
	else
		[[ $n -eq 0 ]] || fail "$name: marker in clear $n times on a private session"
	fi
	[[ $(seen_hex "$name" "$client_pub") -eq 0 ]] || fail "$name: the client's public key in clear"
	echo "$name: $to packets to the server, $from from it, marker in clear $n times"
}

exchange plain
check plain 1
exchange none --key "$tmp/server.key" --allow "$tmp/allow" -- \
	--key "$tmp/client.key" --peer-key "$tmp/server.pub" --protection none
check none 1
exchange integrity --key "$tmp/server.key" --allow "$tmp/allow" -- \
	--key "$tmp/client.key" --peer-key "$tmp/server.pub" --protection integrity
check integrity 1
exchange privacy --key "$tmp/server.key" --allow "$tmp/allow" --protection privacy -- \
	--key "$tmp/client.key" --peer-key "$tmp/server.pub" --protection privacy
check privacy 0
echo "PASS"
