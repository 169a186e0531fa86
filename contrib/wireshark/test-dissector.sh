#!/usr/bin/env bash
# test-dissector.sh HELLO_SERVER HELLO_CLIENT TERN_KEYGEN TERN_LUA FIB_SERVER
# FIB_CLIENT — the Wireshark dissector on real traffic.
#
# tshark captures on loopback while hello runs twice: plain on port P (a
# 3000-byte text, so requests and responses take three packets each and
# CR and RFR appear, then a 2-byte text; the server returns a CR per
# request packet, --no-coalesce-cr, since with CRs coalesced a request
# that arrives in one receive burst gets none), and authenticated with
# privacy on port P+1; then fib on port P+2 asks for fib(-5) (refused: a
# status answer, INVALID_ARGUMENT and a sentence) and fib(10). The capture
# is decoded with the dissector (tshark -X
# lua_script:...) and every packet type it holds is checked field by field
# against what was sent: REQ/RESP req_type, msg_size (the packed
# EchoRequest: 3003 and 4 bytes), pkt_num within the message and payload
# bytes adding up to msg_size; CR ranges; CONNECT_OK echoing CONNECT's
# epoch and nonce; the authenticated handshake's pattern, cid and keys;
# protected packets as key epoch, counter | payload | tag with no payload in clear;
# the status answer's code by name, its message, msg_size its length; every
# checksum verified. Then: the same packets found through the port
# preference with the heuristic off, none with neither.
#
# Exit: 0 pass, 1 fail, 77 skip (not root, no tshark, no capture on lo).
set -u
server=${1:?usage: test-dissector.sh hello-server hello-client tern-keygen tern.lua}
client=${2:?}
keygen=${3:?}
lua=${4:?}
fib_server=${5:?}
fib_client=${6:?}

if [[ $EUID -ne 0 ]]; then
	echo "skip: needs root (capture)"
	exit 77
fi
if ! command -v tshark >/dev/null 2>&1; then
	echo "skip: tshark is not installed"
	exit 77
fi

port=$((32000 + $$ % 500 * 2)) # outside the dissector's default ports: the heuristic finds it
tmp=$(mktemp -d /tmp/tern-dissector.XXXXXX) || exit 1
srv="" cap=""
stop() { # SIGINT (tshark writes its file out), then wait
	[[ -n "$1" ]] || return 0
	kill -INT "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	stop "$srv"
	stop "$cap"
	[[ -n "${KEEP:-}" ]] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[[ -s "$f" ]] && { echo "--- $(basename "$f")"; tail -20 "$f"; }
	done
	exit 1
}
probe() { echo probe >/dev/udp/127.0.0.1/$port 2>/dev/null; }

"$keygen" "$tmp/server" >/dev/null || fail "tern-keygen server"
"$keygen" "$tmp/client" >/dev/null || fail "tern-keygen client"
cp "$tmp/client.pub" "$tmp/allow"

# Capture: up once a probe shows in its output (skip if it never does).
timeout 120 tshark -i lo -l -P -w "$tmp/cap.pcapng" -f "udp and (port $port or port $((port + 1)) or port $((port + 2)))" \
	>"$tmp/tshark.out" 2>"$tmp/tshark.err" &
cap=$!
for ((i = 0; i < 100; i++)); do
	probe
	sleep 0.2
	[[ -s "$tmp/tshark.out" ]] && break
	kill -0 "$cap" 2>/dev/null || break
done
if [[ ! -s "$tmp/tshark.out" ]]; then
	echo "skip: tshark does not capture on lo here: $(tail -2 "$tmp/tshark.err")"
	exit 77
fi

# Every process sends one datagram per packet (gso=0): with the udp
# driver's segmentation offload, a capture on the sending host sees a run
# of equal datagrams as one large UDP packet (the kernel splits it after
# the capture point), which no dissector can take apart.
nogso=(--driver-args gso=0)

# run PORT SERVER_FLAGS -- CLIENT_FLAGS: hello with a 3000-byte text and a
# 2-byte one (unless the server runs with keys: one call is enough there).
big=$(head -c 3000 /dev/zero | tr '\0' x)
run() {
	local p=$1 addr="" sflags=() cflags=()
	shift
	while [[ $# -gt 0 && $1 != -- ]]; do sflags+=("$1"); shift; done
	[[ $# -gt 0 ]] && shift
	cflags=("$@")
	timeout 60 "$server" --bind 127.0.0.1:$p "${nogso[@]}" "${sflags[@]}" >"$tmp/server.out" 2>"$tmp/server.err" &
	srv=$!
	for ((i = 0; i < 100; i++)); do
		grep -q "listening on" "$tmp/server.out" && break
		kill -0 "$srv" 2>/dev/null || fail "server exited"
		sleep 0.05
	done
	[[ "$(timeout 20 "$client" --server 127.0.0.1:$p "${nogso[@]}" "${cflags[@]}" "$big" 2>"$tmp/client.err")" == "$big" ]] ||
		fail "hello (3000 bytes) on port $p"
	if [[ " ${sflags[*]} " != *" --key "* ]]; then
		[[ "$(timeout 20 "$client" --server 127.0.0.1:$p "${nogso[@]}" "${cflags[@]}" hi 2>"$tmp/client.err")" == hi ]] ||
			fail "hello (2 bytes) on port $p"
	fi
	stop "$srv"
	srv=
}
run $port --no-coalesce-cr
run $((port + 1)) --key "$tmp/server.key" --allow "$tmp/allow" --protection privacy -- \
	--key "$tmp/client.key" --peer-key "$tmp/server.pub" --protection privacy

# fib on port+2: fib(-5) is refused with a status code and a sentence, fib(10) answers.
timeout 60 "$fib_server" --bind 127.0.0.1:$((port + 2)) "${nogso[@]}" >"$tmp/fib-server.out" 2>"$tmp/fib-server.err" &
srv=$!
for ((i = 0; i < 100; i++)); do
	grep -q "listening on" "$tmp/fib-server.out" && break
	kill -0 "$srv" 2>/dev/null || fail "fib-server exited"
	sleep 0.05
done
timeout 20 "$fib_client" --server 127.0.0.1:$((port + 2)) "${nogso[@]}" -- -5 10 >"$tmp/fib.out" 2>"$tmp/fib.err"
[[ $? -eq 1 && "$(cat "$tmp/fib.out")" == 55 ]] || fail "fib -5 10: $(cat "$tmp/fib.out" "$tmp/fib.err")"
stop "$srv"
srv=

# Flush: packets come in order; once a later probe is in, so is the exchange.
before=$(grep -c "Len=6" "$tmp/tshark.out")
for ((i = 0; i < 100; i++)); do
	probe
	sleep 0.2
	[[ $(grep -c "Len=6" "$tmp/tshark.out") -gt $before ]] && break
done
stop "$cap"
cap=

fields=(frame.number udp.dstport udp.srcport tern.version tern.type tern.flags tern.status
	tern.req_type tern.dst_session tern.src_session tern.csum tern.csum.status tern.token
	tern.pkt_num tern.msg_size tern.req_num tern.cr.first tern.cr.last tern.payload
	tern.hs.epoch tern.hs.peer_epoch tern.hs.nonce tern.hs.slots tern.hs.mtu
	tern.shs.pattern tern.shs.cid tern.shs.e tern.shs.static tern.shs.payload tern.shs.mac1
	tern.shs.mac2 tern.prot.epoch tern.prot.counter tern.prot.payload tern.prot.tag tern.reset.epoch
	tern.flags.status tern.status.code tern.status.message)
decode() { # decode FILE [tshark options]: one tab-separated line of fields per tern packet
	local out=$1
	shift
	tshark -r "$tmp/cap.pcapng" -X lua_script:"$lua" "$@" -Y tern -T fields -E separator=/t \
		$(printf -- '-e %s ' "${fields[@]}") >"$tmp/$out" 2>"$tmp/$out.err" ||
		fail "tshark decode ($*): $(cat "$tmp/$out.err")"
}
decode fields.tsv
decode byport.tsv -o tern.heuristic:FALSE -o "tern.ports:$port-$((port + 2))"
decode none.tsv -o tern.heuristic:FALSE

python3 - "$tmp" "$port" "${fields[@]}" <<'EOF' || fail "decoded fields (above)"
import sys

tmp, port, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def load(name):
    rows = []
    for line in open(f"{tmp}/{name}"):
        v = line.rstrip("\n").split("\t")
        rows.append({n: (v[i] if i < len(v) else "") for i, n in enumerate(names)})
    return rows
rows = load("fields.tsv")
errors = []
def check(cond, what, r=None):
    if not cond:
        errors.append(what + (f" (frame {r['frame.number']})" if r else ""))
def num(s):
    return int(s, 16) if s.startswith("0x") else int(s)
def hexlen(s):
    return len(s.replace(":", "")) // 2

REQ, RESP, CR, RFR, ACK, CONNECT, CONNECT_OK, DISCONNECT, RESET = 1, 2, 3, 4, 5, 6, 7, 8, 9
DPP = 1472 - 32   # payload per packet: the udp driver's MTU minus the header
SIZES = {3003, 4} # EchoRequest{text}: tag, length varint, text (3000 and 2 bytes)

plain = [r for r in rows if port in (num(r["udp.dstport"]), num(r["udp.srcport"]))]
secure = [r for r in rows if port + 1 in (num(r["udp.dstport"]), num(r["udp.srcport"]))]
check(len(plain) > 0 and len(secure) > 0, f"tern packets: {len(plain)} plain, {len(secure)} secure")
for r in rows:
    check(r["tern.version"] == "1", "version", r)
    check(r["tern.csum.status"] == "Good", "checksum " + r["tern.csum.status"], r)

# --- plain ------------------------------------------------------------------------
by = {}
for r in plain:
    by.setdefault(num(r["tern.type"]), []).append(r)
for t, name in ((CONNECT, "CONNECT"), (CONNECT_OK, "CONNECT_OK"), (REQ, "REQ"), (RESP, "RESP"),
                (CR, "CR"), (RFR, "RFR"), (DISCONNECT, "DISCONNECT")):
    check(t in by, f"plain capture holds no {name}")
connects = {}
for r in by.get(CONNECT, []):
    check(num(r["tern.dst_session"]) == 0xffff, "CONNECT dst_session", r)
    check(num(r["udp.dstport"]) == port, "CONNECT to the server", r)
    slots = num(r["tern.hs.slots"])
    check(slots > 0 and slots & (slots - 1) == 0 and num(r["tern.hs.mtu"]) > 32, "CONNECT body", r)
    check(num(r["tern.hs.peer_epoch"]) == 0, "CONNECT peer_epoch", r)
    connects[r["tern.hs.nonce"]] = r["tern.hs.epoch"]
for r in by.get(CONNECT_OK, []):
    check(num(r["tern.status"]) == 0, "CONNECT_OK status", r)
    check(connects.get(r["tern.hs.nonce"]) == r["tern.hs.peer_epoch"],
          "CONNECT_OK echoes the CONNECT's nonce and epoch", r)
reqs = {}
for t in (REQ, RESP):
    got = {}
    for r in by.get(t, []):
        size, pkt = num(r["tern.msg_size"]), num(r["tern.pkt_num"])
        check(num(r["tern.req_type"]) == 1, "req_type (HELLO_BASE_TYPE)", r)
        check(size in SIZES, f"msg_size {size}", r)
        check(num(r["tern.status"]) == 0, "status", r)
        npkts = (size + DPP - 1) // DPP
        check(pkt < npkts, f"pkt_num {pkt} of {npkts}", r)
        want = min(DPP, size - pkt * DPP)
        check(hexlen(r["tern.payload"]) == want, f"payload {hexlen(r['tern.payload'])} B, not {want}", r)
        if pkt == 0:  # the packed EchoRequest/EchoReply: field 1, length, text
            head = "0ab81778" if size == 3003 else "0a026869"
            check(r["tern.payload"].replace(":", "").startswith(head), "payload bytes", r)
        got.setdefault((r["tern.req_num"], r["tern.dst_session"], size), set()).add(pkt)
    for (req, sess, size), pkts in got.items():
        check(pkts == set(range((size + DPP - 1) // DPP)), f"type {t} req {req}: packets {sorted(pkts)}")
    if t == REQ:
        reqs = got
    else:  # every response answers a request: same req_num and size (an echo)
        for (req, sess, size) in got:
            check(any(k[0] == req and k[2] == size for k in reqs), f"RESP req {req} size {size} unasked")
for r in by.get(CR, []):
    pkt, st = num(r["tern.pkt_num"]), num(r["tern.status"])
    check(num(r["tern.cr.first"]) == pkt - st and num(r["tern.cr.last"]) == pkt, "CR range", r)
    check(pkt < (num(r["tern.msg_size"]) + DPP - 1) // DPP - 1, "CR for the last packet", r)
    check(num(r["udp.srcport"]) == port, "CR from the server", r)
for r in by.get(RFR, []):
    check(1 <= num(r["tern.pkt_num"]) < (num(r["tern.msg_size"]) + DPP - 1) // DPP, "RFR pkt_num", r)
    check(num(r["udp.dstport"]) == port, "RFR to the server", r)
for r in by.get(ACK, []):
    check(any(k[0] == r["tern.req_num"] for k in reqs), "ACK of an unknown req_num", r)
for r in by.get(RESET, []):
    check(r["tern.reset.epoch"] != "", "RESET epoch", r)
for r in plain:
    check(num(r["tern.flags"]) == 0 and r["tern.prot.counter"] == "", "plain packet flags", r)

# --- authenticated, privacy ------------------------------------------------------------
sby = {}
for r in secure:
    sby.setdefault(num(r["tern.type"]), []).append(r)
for t, name in ((CONNECT, "CONNECT"), (CONNECT_OK, "CONNECT_OK"), (REQ, "REQ"), (RESP, "RESP")):
    check(t in sby, f"secure capture holds no {name}")
cids = set()
for r in sby.get(CONNECT, []):
    check(num(r["tern.flags"]) & 0x08, "CONNECT secure flag", r)
    check(num(r["tern.shs.pattern"]) == 1, "pattern IK", r)
    check(hexlen(r["tern.shs.e"]) == 32 and hexlen(r["tern.shs.static"]) == 48 and
          hexlen(r["tern.shs.payload"]) == 72 and hexlen(r["tern.shs.mac1"]) == 16 and
          hexlen(r["tern.shs.mac2"]) == 16, "CONNECT parts", r)
    check(r["tern.hs.epoch"] == "", "the handshake body in clear", r)
    cids.add(r["tern.shs.cid"])
for r in sby.get(CONNECT_OK, []):
    check(num(r["tern.flags"]) & 0x08 and num(r["tern.status"]) == 0, "CONNECT_OK", r)
    check(r["tern.shs.cid"] in cids, "CONNECT_OK echoes the cid", r)
    check(hexlen(r["tern.shs.e"]) == 32 and hexlen(r["tern.shs.payload"]) == 72 and
          r["tern.shs.static"] == "", "CONNECT_OK parts", r)
counters = {}
for r in secure:
    t = num(r["tern.type"])
    if t in (CONNECT, CONNECT_OK, RESET):
        continue
    check(num(r["tern.flags"]) & 0x04, "protected flag", r)
    check(r["tern.prot.counter"] != "" and hexlen(r["tern.prot.tag"]) == 16, "counter and tag", r)
    # a short session: no rekey yet, epoch 0 and small counters (the
    # field's top 4 bits are the epoch, not part of the counter)
    check(r["tern.prot.epoch"] != "" and num(r["tern.prot.epoch"]) == 0 and num(r["tern.prot.counter"]) < 1 << 20, "key epoch and counter", r)
    check(r["tern.payload"] == "", "payload in clear", r)
    check("787878787878" not in r["tern.prot.payload"].replace(":", ""), "text in clear at privacy", r)
    counters.setdefault(r["udp.srcport"], []).append(num(r["tern.prot.counter"]))
for src, c in counters.items():  # per direction; retransmissions get fresh counters
    check(len(set(c)) == len(c), f"counters from port {src} repeat: {c}")
for t in (REQ, RESP):
    for r in sby.get(t, []):
        check(num(r["tern.msg_size"]) == 3003 and num(r["tern.req_type"]) == 1, "secure header fields", r)
for r in sby.get(CR, []):  # the range comes from the header, shown for protected packets too
    check(num(r["tern.cr.last"]) == num(r["tern.pkt_num"]), "protected CR range", r)

# --- a status answer (fib) ---------------------------------------------------------------
fib = [r for r in rows if port + 2 in (num(r["udp.dstport"]), num(r["udp.srcport"]))]
fresp = [r for r in fib if num(r["tern.type"]) == RESP]
status = [r for r in fresp if num(r["tern.flags"]) & 0x10]
WHY = "n must be >= 0 (got -5)"
check(len(status) >= 1, f"fib capture: {len(status)} status answers")
for r in status:
    check(num(r["tern.status"]) == 3 and r["tern.status.code"] == "INVALID_ARGUMENT",
          f"status code {r['tern.status']} {r['tern.status.code']}", r)
    check(r["tern.status.message"] == WHY, f"status message {r['tern.status.message']!r}", r)
    check(num(r["tern.msg_size"]) == len(WHY) and num(r["tern.pkt_num"]) == 0, "status msg_size", r)
    check(r["tern.payload"] == "" and r["tern.flags.status"] in ("1", "True"), "status fields", r)
for r in fresp:
    if not num(r["tern.flags"]) & 0x10:
        check(num(r["tern.status"]) == 0 and r["tern.status.code"] == "" and
              r["tern.status.message"] == "" and r["tern.payload"] != "", "a plain answer", r)
check(len(fresp) > len(status), "fib(10)'s answer")
for r in plain + secure:
    check(r["tern.status.code"] == "" and r["tern.status.message"] == "", "no status in hello", r)

# --- registration ----------------------------------------------------------------------
byport, none = load("byport.tsv"), load("none.tsv")
check(len(byport) == len(rows), f"by port: {len(byport)} packets, heuristic: {len(rows)}")
check(len(none) == 0, f"{len(none)} packets decoded with neither heuristic nor port")

for e in errors[:40]:
    print("  " + e)
types = sorted({num(r["tern.type"]) for r in rows})
print(f"{len(rows)} tern packets ({len(plain)} plain, {len(secure)} secure), types {types}: "
      f"{len(errors)} problems")
sys.exit(1 if errors else 0)
EOF
echo PASS
