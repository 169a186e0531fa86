-- tern.lua — a Wireshark dissector for tern's wire format (lib/wire.h).
--
-- Load it for one run:
--   wireshark -X lua_script:/usr/local/share/tern/wireshark/tern.lua
--   tshark -X lua_script:tern.lua -r capture.pcapng -Y tern
-- or for good: copy it into ~/.local/lib/wireshark/plugins/ (Wireshark >= 3.6;
-- older: ~/.config/wireshark/plugins/). `meson install` puts it in
-- <prefix>/share/tern/wireshark/tern.lua.
--
-- Which packets: every UDP datagram that looks like tern (heuristic: a
-- 32-byte header of version 1, a known type, no reserved flag, and a
-- correct header checksum), and every datagram to or from the UDP ports of
-- the "tern.ports" preference (default 31850-31899, tern's default ports;
-- there a bad checksum is shown, not a reason to skip the packet). Both
-- can be changed in Edit > Preferences > Protocols > TERN, or with
-- `-o tern.ports:40000-40010 -o tern.heuristic:FALSE`.
--
-- What it shows: one field per header field, named as in wire.h (tern.type,
-- tern.req_num, ...), the flags bit by bit, the checksum verified, the
-- range a credit return answers, the handshake's visible fields (the plain
-- CONNECT/CONNECT_OK body; of the authenticated one the pattern, cid,
-- ephemeral key and macs, the rest marked encrypted; of a COOKIE reply the
-- cid, salt and counter), RESET's epoch, and protected packets as counter |
-- payload | 16-byte tag. A status answer (RESP with the Status flag) shows its
-- status code by name (tern.status.code) and its message (tern.status.message;
-- in clear unless the session is protected).
--
-- Table-driven: a new packet type is one line in `types` below (with a body
-- function if its body is new); a new flag, one line in `flag_bits`.

local tern = Proto("tern", "tern RPC transport")

local HDR_LEN = 32
local WIRE_VERSION = 1
local CTR_LEN, TAG_LEN = 8, 16
local HS_LEN = 40 -- struct tern_wire_hs
local SESSION_NONE = 0xffff

-- Bit operations: Lua 5.2's bit32 where Wireshark has it, native operators otherwise.
local band, bxor, rshift
if bit32 ~= nil then
	band, bxor, rshift = bit32.band, bit32.bxor, bit32.rshift
else
	band = load("return function(a, b) return a & b end")()
	bxor = load("return function(a, b) return a ~ b end")()
	rshift = load("return function(a, n) return a >> n end")()
end

-- Positive errno values a RESP or CONNECT_OK status carries (Linux numbering).
local errno_names = {
	[1] = "EPERM", [2] = "ENOENT", [5] = "EIO", [11] = "EAGAIN", [12] = "ENOMEM",
	[13] = "EACCES", [16] = "EBUSY", [17] = "EEXIST", [22] = "EINVAL", [28] = "ENOSPC",
	[34] = "ERANGE", [61] = "ENODATA", [71] = "EPROTO", [74] = "EBADMSG", [90] = "EMSGSIZE",
	[95] = "EOPNOTSUPP", [104] = "ECONNRESET", [110] = "ETIMEDOUT", [111] = "ECONNREFUSED",
	[121] = "EREMOTEIO", [125] = "ECANCELED",
}

-- Header flags (TERN_WF_*): one line each.
local flag_bits = {
	{0x01, "oneway", "Oneway", "REQ: R semantics, no response is wanted"},
	{0x02, "working", "Working", "CR: the handler is still running"},
	{0x04, "protected", "Protected", "counter after the header, 16-byte tag at the end"},
	{0x08, "secure", "Secure", "CONNECT/CONNECT_OK/COOKIE: the authenticated handshake"},
	{0x10, "status", "Status", "RESP: status is a status code, the body its message"},
}
local FLAGS_KNOWN = 0x1f
local WF_STATUS = 0x10

-- Status codes a RESP with the Status flag carries (tern.h enum tern_status_code,
-- gRPC's numbering).
local status_names = {
	[1] = "CANCELLED", [2] = "UNKNOWN", [3] = "INVALID_ARGUMENT", [4] = "DEADLINE_EXCEEDED",
	[5] = "NOT_FOUND", [6] = "ALREADY_EXISTS", [7] = "PERMISSION_DENIED",
	[8] = "RESOURCE_EXHAUSTED", [9] = "FAILED_PRECONDITION", [10] = "ABORTED",
	[11] = "OUT_OF_RANGE", [12] = "UNIMPLEMENTED", [13] = "INTERNAL", [14] = "UNAVAILABLE",
	[15] = "DATA_LOSS", [16] = "UNAUTHENTICATED",
}

local patterns = {[1] = "Noise_IK_25519_ChaChaPoly_SHA256",
	[2] = "Noise_NNpsk0_25519_ChaChaPoly_SHA256", [3] = "Noise_IKpsk1_25519_ChaChaPoly_SHA256"}

local pf = {
	version = ProtoField.uint8("tern.version", "Version"),
	flags = ProtoField.uint8("tern.flags", "Flags", base.HEX),
	flags_reserved = ProtoField.uint8("tern.flags.reserved", "Reserved", base.HEX, nil, 0xe0),
	status = ProtoField.uint8("tern.status", "Status"),
	errno = ProtoField.string("tern.errno", "Error"),
	status_code = ProtoField.string("tern.status.code", "Status code"),
	status_message = ProtoField.string("tern.status.message", "Status message"),
	req_type = ProtoField.uint16("tern.req_type", "Request type"),
	dst_session = ProtoField.uint16("tern.dst_session", "Destination session"),
	src_session = ProtoField.uint16("tern.src_session", "Source session"),
	csum = ProtoField.uint16("tern.csum", "Checksum", base.HEX),
	csum_status = ProtoField.string("tern.csum.status", "Checksum status"),
	token = ProtoField.uint32("tern.token", "Token", base.HEX),
	pkt_num = ProtoField.uint32("tern.pkt_num", "Packet number"),
	msg_size = ProtoField.uint32("tern.msg_size", "Message size"),
	req_num = ProtoField.uint64("tern.req_num", "Request number"),
	-- credit return range
	cr_first = ProtoField.uint32("tern.cr.first", "Answers packets from"),
	cr_last = ProtoField.uint32("tern.cr.last", "Answers packets to"),
	cr_count = ProtoField.uint32("tern.cr.count", "Packets answered"),
	-- data
	payload = ProtoField.bytes("tern.payload", "Payload"),
	-- protected packets
	prot_epoch = ProtoField.uint8("tern.prot.epoch", "Key epoch (mod 16)"),
	prot_counter = ProtoField.uint64("tern.prot.counter", "Counter (AEAD nonce)"),
	prot_payload = ProtoField.bytes("tern.prot.payload", "Protected payload"),
	prot_tag = ProtoField.bytes("tern.prot.tag", "Tag"),
	-- plain handshake (struct tern_wire_hs)
	hs_epoch = ProtoField.uint64("tern.hs.epoch", "Epoch", base.HEX),
	hs_peer_epoch = ProtoField.uint64("tern.hs.peer_epoch", "Peer epoch", base.HEX),
	hs_token = ProtoField.uint32("tern.hs.token", "Token", base.HEX),
	hs_max_msg_size = ProtoField.uint32("tern.hs.max_msg_size", "Max message size"),
	hs_slots = ProtoField.uint16("tern.hs.slots", "Slots"),
	hs_credits = ProtoField.uint16("tern.hs.credits", "Credits"),
	hs_mtu = ProtoField.uint16("tern.hs.mtu", "MTU"),
	hs_flags = ProtoField.uint16("tern.hs.flags", "Handshake flags", base.HEX),
	hs_nonce = ProtoField.uint64("tern.hs.nonce", "Nonce", base.HEX),
	-- authenticated handshake: what is in clear, and the rest
	shs_pattern = ProtoField.uint8("tern.shs.pattern", "Noise pattern", base.DEC, patterns),
	shs_reserved = ProtoField.bytes("tern.shs.reserved", "Reserved"),
	shs_cid = ProtoField.uint64("tern.shs.cid", "Attempt id (cid)", base.HEX),
	shs_e = ProtoField.bytes("tern.shs.e", "Ephemeral public key"),
	shs_static = ProtoField.bytes("tern.shs.static", "Static public key (encrypted)"),
	shs_payload = ProtoField.bytes("tern.shs.payload", "Handshake payload (encrypted)"),
	shs_mac1 = ProtoField.bytes("tern.shs.mac1", "mac1"),
	shs_mac2 = ProtoField.bytes("tern.shs.mac2", "mac2 (zero: no cookie)"),
	-- COOKIE reply
	cookie_cid = ProtoField.uint64("tern.cookie.cid", "Attempt id (cid)", base.HEX),
	cookie_salt = ProtoField.bytes("tern.cookie.salt", "Salt"),
	cookie_counter = ProtoField.uint64("tern.cookie.counter", "Counter"),
	cookie_cookie = ProtoField.bytes("tern.cookie.cookie", "Cookie (encrypted, with tag)"),
	-- RESET
	reset_epoch = ProtoField.uint64("tern.reset.epoch", "Sender's epoch", base.HEX),
}
for _, f in ipairs(flag_bits) do
	pf["flag_" .. f[2]] = ProtoField.bool("tern.flags." .. f[2], f[3], 8, nil, f[1], f[4])
end

local ex = {
	csum_bad = ProtoExpert.new("tern.csum.bad", "Bad header checksum", expert.group.CHECKSUM,
		expert.severity.ERROR),
	malformed = ProtoExpert.new("tern.malformed", "Malformed tern packet", expert.group.MALFORMED,
		expert.severity.ERROR),
	refused = ProtoExpert.new("tern.refused", "Refused or failed", expert.group.RESPONSE_CODE,
		expert.severity.NOTE),
}

-- --- bodies -----------------------------------------------------------------------

-- Each takes the packet's tvb, the body's offset and length (protected
-- packets never get here), the tree, and the decoded header; it may return
-- a few words for the Info column. A type's hdr function (optional) shows
-- what its header fields mean together; it runs for protected packets too.

-- REQ / RESP: the message's bytes (this packet's share); an error RESP has
-- none, but a status answer's body is its message (UTF-8, msg_size bytes).
local function body_data(tvb, off, blen, tree, h)
	if h.type == 2 and band(h.flags, WF_STATUS) ~= 0 then
		if blen ~= h.msg_size or blen > 512 then
			tree:add_proto_expert_info(ex.malformed, "status message length is not msg_size (<= 512)")
		end
		if blen > 0 then
			local msg = tvb(off, blen):string(ENC_UTF_8)
			tree:add(pf.status_message, tvb(off, blen), msg)
			return '"' .. msg .. '"'
		end
		return
	end
	if blen > 0 then
		tree:add(pf.payload, tvb(off, blen))
	end
end

-- CR: status = how many packets below pkt_num it also answers. From the
-- header alone, so shown for protected packets too.
local function hdr_cr(tree, h)
	local first = h.pkt_num - h.status
	tree:add(pf.cr_first, first):set_generated()
	tree:add(pf.cr_last, h.pkt_num):set_generated()
	tree:add(pf.cr_count, h.status + 1):set_generated()
	return string.format("pkts %d-%d", first, h.pkt_num)
end

-- CONNECT / CONNECT_OK: struct tern_wire_hs, or the authenticated handshake
-- (lib/wire.h): pattern (1) | reserved (7) | cid (8) | the Noise message:
--   CONNECT, IK/IKpsk1: e (32) | static key, encrypted (48) | payload, encrypted (72)
--   CONNECT, NNpsk0:    e (32) | payload, encrypted (72) | zero (48)
--   CONNECT_OK:         e (32) | payload, encrypted (72)
-- then, CONNECT only, mac1 (16) | mac2 (16).
local function body_hs(tvb, off, blen, tree, h)
	if band(h.flags, 0x08) ~= 0 then
		if blen < 16 then
			tree:add_proto_expert_info(ex.malformed, "authenticated handshake body too short")
			return
		end
		local t = tree:add(tern, tvb(off, blen), "Authenticated handshake")
		t:add(pf.shs_pattern, tvb(off, 1))
		t:add(pf.shs_reserved, tvb(off + 1, 7))
		t:add_le(pf.shs_cid, tvb(off + 8, 8))
		local at = 16
		local connect, nn = h.type == 6, tvb(off, 1):uint() == 2
		local parts = {{pf.shs_e, 32, true}, {pf.shs_static, 48, connect and not nn},
			{pf.shs_payload, 72, true}, {nil, 48, connect and nn},
			{pf.shs_mac1, 16, connect}, {pf.shs_mac2, 16, connect}}
		for _, p in ipairs(parts) do
			if p[3] and blen >= at + p[2] then
				if p[1] ~= nil then
					t:add(p[1], tvb(off + at, p[2]))
				end
				at = at + p[2]
			end
		end
		return patterns[tvb(off, 1):uint()] or "unknown pattern"
	end
	if blen ~= HS_LEN then
		tree:add_proto_expert_info(ex.malformed, "handshake body is not " .. HS_LEN .. " bytes")
		return
	end
	local t = tree:add(tern, tvb(off, blen), "Handshake")
	t:add_le(pf.hs_epoch, tvb(off, 8))
	t:add_le(pf.hs_peer_epoch, tvb(off + 8, 8))
	t:add_le(pf.hs_token, tvb(off + 16, 4))
	t:add_le(pf.hs_max_msg_size, tvb(off + 20, 4))
	t:add_le(pf.hs_slots, tvb(off + 24, 2))
	t:add_le(pf.hs_credits, tvb(off + 26, 2))
	t:add_le(pf.hs_mtu, tvb(off + 28, 2))
	t:add_le(pf.hs_flags, tvb(off + 30, 2))
	t:add_le(pf.hs_nonce, tvb(off + 32, 8))
	return string.format("slots %d credits %d mtu %d", tvb(off + 24, 2):le_uint(),
		tvb(off + 26, 2):le_uint(), tvb(off + 28, 2):le_uint())
end

-- RESET: the sender's epoch (a restart and a loss look different).
local function body_reset(tvb, off, blen, tree, h)
	if blen ~= 8 then
		tree:add_proto_expert_info(ex.malformed, "RESET body is not 8 bytes")
		return
	end
	tree:add_le(pf.reset_epoch, tvb(off, 8))
end

-- COOKIE: a loaded server's answer to a secure CONNECT (lib/cookie.c):
--   cid (8) | salt (16) | counter (8) | cookie, encrypted (16) and its tag (16)
local function body_cookie(tvb, off, blen, tree, h)
	if blen ~= 64 then
		tree:add_proto_expert_info(ex.malformed, "COOKIE body is not 64 bytes")
		return
	end
	local t = tree:add(tern, tvb(off, blen), "Cookie reply")
	t:add_le(pf.cookie_cid, tvb(off, 8))
	t:add(pf.cookie_salt, tvb(off + 8, 16))
	t:add_le(pf.cookie_counter, tvb(off + 24, 8))
	t:add(pf.cookie_cookie, tvb(off + 32, 32))
end

local function body_none(tvb, off, blen, tree, h)
	if blen ~= 0 then
		tree:add_proto_expert_info(ex.malformed, "unexpected body")
	end
end

-- --- packet types: one line each (lib/wire.h enum tern_pkt_type) ----------------
-- [value] = {name, what it is, body dissector, a call's packet (req/pkt/msg in Info), hdr function}
local types = {
	[1] = {"REQ", "request data packet", body_data, true},
	[2] = {"RESP", "response data packet (status: an errno, or with the Status flag a status code and its message)", body_data, true},
	[3] = {"CR", "credit return", body_none, true, hdr_cr},
	[4] = {"RFR", "request for response packet", body_none, true},
	[5] = {"ACK", "whole response received", body_none, false},
	[6] = {"CONNECT", "open a session", body_hs, false},
	[7] = {"CONNECT_OK", "session opened, or refused (status)", body_hs, false},
	[8] = {"DISCONNECT", "session closed", body_none, false},
	[9] = {"RESET", "unknown session", body_reset, false},
	[10] = {"PING", "keepalive probe", body_none, false},
	[11] = {"PONG", "keepalive answer", body_none, false},
	[12] = {"COOKIE", "cookie reply: a loaded server asks for mac2", body_cookie, false},
}
local type_names = {}
for v, t in pairs(types) do
	type_names[v] = t[1]
end
pf.type = ProtoField.uint8("tern.type", "Type", base.DEC, type_names)

local fields = {}
for _, f in pairs(pf) do
	fields[#fields + 1] = f
end
tern.fields = fields
tern.experts = {ex.csum_bad, ex.malformed, ex.refused}

-- --- the header checksum: CRC32C folded to 16 bits (lib/crc.c) -----------------

local crc_table = {}
for i = 0, 255 do
	local c = i
	for _ = 1, 8 do
		if band(c, 1) ~= 0 then
			c = bxor(rshift(c, 1), 0x82f63b78)
		else
			c = rshift(c, 1)
		end
	end
	crc_table[i] = c
end

-- Over the header (bytes 10-11 as zero) and a control packet's body (at most
-- its first 40 bytes); not over REQ/RESP payload, nor protected packets' rest.
local function csum_compute(tvb, typ, flags)
	local len = HDR_LEN
	if typ ~= 1 and typ ~= 2 and band(flags, 0x04) == 0 then
		len = math.min(tvb:len(), HDR_LEN + HS_LEN)
	end
	local c = 0xffffffff
	for i = 0, len - 1 do
		local b = (i == 10 or i == 11) and 0 or tvb(i, 1):uint()
		c = bxor(crc_table[band(bxor(c, b), 0xff)], rshift(c, 8))
	end
	c = bxor(c, 0xffffffff)
	return band(bxor(c, rshift(c, 16)), 0xffff)
end

local function looks_like_tern(tvb)
	if tvb:len() < HDR_LEN or tvb(0, 1):uint() ~= WIRE_VERSION then
		return false
	end
	local typ, flags = tvb(1, 1):uint(), tvb(2, 1):uint()
	return types[typ] ~= nil and band(flags, 0xff - FLAGS_KNOWN) == 0 and
		csum_compute(tvb, typ, flags) == tvb(10, 2):le_uint()
end

-- --- the dissector -----------------------------------------------------------------

function tern.dissector(tvb, pinfo, tree)
	local len = tvb:len()
	if len < HDR_LEN then
		return 0
	end
	pinfo.cols.protocol = "TERN"
	local h = {
		type = tvb(1, 1):uint(), flags = tvb(2, 1):uint(), status = tvb(3, 1):uint(),
		req_type = tvb(4, 2):le_uint(), dst = tvb(6, 2):le_uint(), src = tvb(8, 2):le_uint(),
		pkt_num = tvb(16, 4):le_uint(), msg_size = tvb(20, 4):le_uint(),
		req_num = tvb(24, 8):le_uint64(),
	}
	local ty = types[h.type]
	local name = ty and ty[1] or string.format("type %d", h.type)
	local t = tree:add(tern, tvb(), "tern, " .. name)

	local vt = t:add(pf.version, tvb(0, 1))
	if tvb(0, 1):uint() ~= WIRE_VERSION then
		vt:add_proto_expert_info(ex.malformed, "unknown version")
	end
	local tt = t:add(pf.type, tvb(1, 1))
	if ty then
		tt:append_text(": " .. ty[2])
	else
		tt:add_proto_expert_info(ex.malformed, "unknown packet type")
	end
	local ft = t:add(pf.flags, tvb(2, 1))
	local set = {}
	for _, f in ipairs(flag_bits) do
		ft:add(pf["flag_" .. f[2]], tvb(2, 1))
		if band(h.flags, f[1]) ~= 0 then
			set[#set + 1] = f[3]
		end
	end
	ft:add(pf.flags_reserved, tvb(2, 1))
	if #set > 0 then
		ft:append_text(" (" .. table.concat(set, ", ") .. ")")
	end
	local st = t:add(pf.status, tvb(3, 1))
	local err = nil
	if h.type == 3 then
		st:append_text(" (packets below pkt_num it also answers)")
	elseif h.type == 2 and band(h.flags, WF_STATUS) ~= 0 then
		err = status_names[h.status] or ("bad status code " .. h.status)
		t:add(pf.status_code, tvb(3, 1), err):set_generated()
		if status_names[h.status] == nil then
			st:add_proto_expert_info(ex.malformed, err)
		else
			st:add_proto_expert_info(ex.refused, err)
		end
	elseif (h.type == 2 or h.type == 7) and h.status ~= 0 then
		err = errno_names[h.status] or ("errno " .. h.status)
		t:add(pf.errno, tvb(3, 1), err):set_generated()
		st:add_proto_expert_info(ex.refused, err)
	end
	t:add_le(pf.req_type, tvb(4, 2))
	for _, s in ipairs({{pf.dst_session, 6, h.dst}, {pf.src_session, 8, h.src}}) do
		local it = t:add_le(s[1], tvb(s[2], 2))
		if s[3] == SESSION_NONE then
			it:append_text(" (none)")
		end
	end
	local ct = t:add_le(pf.csum, tvb(10, 2))
	local want = csum_compute(tvb, h.type, h.flags)
	if want == tvb(10, 2):le_uint() then
		ct:append_text(" [correct]")
		t:add(pf.csum_status, tvb(10, 2), "Good"):set_generated()
	else
		ct:append_text(string.format(" [incorrect, should be 0x%04x]", want))
		t:add(pf.csum_status, tvb(10, 2), "Bad"):set_generated()
		ct:add_proto_expert_info(ex.csum_bad)
	end
	t:add_le(pf.token, tvb(12, 4))
	t:add_le(pf.pkt_num, tvb(16, 4))
	t:add_le(pf.msg_size, tvb(20, 4))
	t:add_le(pf.req_num, tvb(24, 8))

	-- The body; a protected packet's is its session's business: counter | payload | tag.
	local protected = band(h.flags, 0x04) ~= 0
	local extra = nil
	if ty and ty[5] then
		extra = ty[5](t, h)
	end
	if protected then
		if len < HDR_LEN + CTR_LEN + TAG_LEN then
			t:add_proto_expert_info(ex.malformed, "protected packet shorter than counter and tag")
			return len
		end
		local pt = t:add(tern, tvb(HDR_LEN), "Protected (counter | payload | tag)")
		-- 8 bytes, little-endian: the key epoch in the top 4 bits, the
		-- counter in the low 60 (lib/wire.h)
		pt:add(pf.prot_epoch, tvb(HDR_LEN + CTR_LEN - 1, 1), math.floor(tvb(HDR_LEN + CTR_LEN - 1, 1):uint() / 16))
		pt:add(pf.prot_counter, tvb(HDR_LEN, CTR_LEN),
			tvb(HDR_LEN, CTR_LEN):le_uint64():band(UInt64(0xffffffff, 0x0fffffff)))
		local plen = len - HDR_LEN - CTR_LEN - TAG_LEN
		if plen > 0 then
			pt:add(pf.prot_payload, tvb(HDR_LEN + CTR_LEN, plen)):append_text(
				" (encrypted at privacy, clear at integrity; authenticated)")
		end
		pt:add(pf.prot_tag, tvb(len - TAG_LEN, TAG_LEN))
	elseif ty then
		extra = ty[3](tvb, HDR_LEN, len - HDR_LEN, t, h) or extra
	end

	local info = name
	if ty and ty[4] then
		info = info .. string.format(" req %s type %d pkt %d msg %d", tostring(h.req_num), h.req_type,
			h.pkt_num, h.msg_size)
	elseif h.type == 5 then
		info = info .. string.format(" req %s", tostring(h.req_num))
	end
	info = info .. string.format(" sess %d->%d", h.src, h.dst)
	if err then
		info = info .. " " .. err
	end
	if extra then
		info = info .. " " .. extra
	end
	if protected then
		info = info .. " [protected]"
	end
	if band(h.flags, 0x08) ~= 0 then
		info = info .. " [secure]"
	end
	pinfo.cols.info = info
	return len
end

-- --- registration --------------------------------------------------------------------

tern.prefs.ports = Pref.range("UDP ports", "31850-31899", "UDP ports always decoded as tern", 65535)
tern.prefs.heuristic = Pref.bool("Heuristic", true,
	"Also find tern on any UDP port (header version, type, flags and checksum must hold)")

local udp_port = DissectorTable.get("udp.port")
local registered = nil

local function register_ports()
	if registered ~= nil then
		udp_port:remove(registered, tern)
	end
	registered = tostring(tern.prefs.ports)
	udp_port:add(registered, tern)
end

local function heuristic(tvb, pinfo, tree)
	if not tern.prefs.heuristic or not looks_like_tern(tvb) then
		return false
	end
	tern.dissector(tvb, pinfo, tree)
	return true
end

tern.prefs_changed = register_ports
tern:register_heuristic("udp", heuristic)
register_ports()
