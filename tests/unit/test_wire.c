/*
 * test_wire.c — lib/wire.h: encoding, decoding and every stateless and
 * per-session validation, on the functions themselves. The same checks
 * through an endpoint (each malformed packet dropped and counted under its
 * reason) are test_rx.c's; the CRC itself is test_crc.c's.
 */
#include "check.h"
#include "inject.h"

static uint8_t pkt[2048];

/* Build a sealed packet of type with body_len bytes of body (pattern). */
static size_t mk(uint8_t type, const struct tern_hdr *proto, size_t body_len)
{
	struct tern_hdr h;
	if (proto != NULL)
		h = *proto;
	else
		memset(&h, 0, sizeof(h));
	h.type = type;
	tern_wire_put(pkt, &h);
	inj_fill(pkt + TERN_HDR_LEN, body_len, type);
	tern_wire_seal(pkt, TERN_HDR_LEN + body_len);
	return TERN_HDR_LEN + body_len;
}

static size_t body_len_of(uint8_t type)
{
	switch (type) {
	case TERN_PKT_CONNECT:
	case TERN_PKT_CONNECT_OK:
		return TERN_HS_LEN;
	case TERN_PKT_RESET:
		return TERN_RESET_LEN;
	case TERN_PKT_COOKIE:
		return TERN_COOKIE_BODY_LEN;
	default:
		return 0;
	}
}

static void wire_put_get__round_trip(void)
{
	struct tern_hdr a = {
		.type = TERN_PKT_RFR, .flags = 0xa5, .status = 0x5a, .req_type = 0xbeef,
		.dst_session = 0x1234, .src_session = 0xfedc, .token = 0xdeadbeef,
		.pkt_num = 0x01020304, .msg_size = 0xf0e0d0c0, .req_num = 0x1122334455667788ull,
	}, b;
	uint8_t buf[TERN_HDR_LEN];
	tern_wire_put(buf, &a);
	tern_wire_get(buf, &b);
	CHECK_EQ(buf[0], TERN_WIRE_VERSION);
	CHECK_EQ(b.type, a.type);
	CHECK_EQ(b.flags, a.flags);
	CHECK_EQ(b.status, a.status);
	CHECK_EQ(b.req_type, a.req_type);
	CHECK_EQ(b.dst_session, a.dst_session);
	CHECK_EQ(b.src_session, a.src_session);
	CHECK_EQ(b.token, a.token);
	CHECK_EQ(b.pkt_num, a.pkt_num);
	CHECK_EQ(b.msg_size, a.msg_size);
	CHECK(b.req_num == a.req_num);
	/* Field offsets and little-endian byte order, as the diagram says. */
	CHECK_EQ(buf[1], TERN_PKT_RFR);
	CHECK_EQ(buf[2], 0xa5);
	CHECK_EQ(buf[3], 0x5a);
	CHECK_EQ(buf[4], 0xef);
	CHECK_EQ(buf[5], 0xbe);
	CHECK_EQ(buf[6], 0x34);
	CHECK_EQ(buf[7], 0x12);
	CHECK_EQ(buf[8], 0xdc);
	CHECK_EQ(buf[9], 0xfe);
	CHECK_EQ(buf[10], 0); /* csum: filled by seal */
	CHECK_EQ(buf[11], 0);
	CHECK_EQ(buf[12], 0xef);
	CHECK_EQ(buf[15], 0xde);
	CHECK_EQ(buf[16], 0x04);
	CHECK_EQ(buf[19], 0x01);
	CHECK_EQ(buf[20], 0xc0);
	CHECK_EQ(buf[23], 0xf0);
	CHECK_EQ(buf[24], 0x88);
	CHECK_EQ(buf[31], 0x11);
}

static void wire_hs_put_get__round_trip(void)
{
	struct tern_wire_hs a = {
		.epoch = 0x0102030405060708ull, .peer_epoch = 0x1112131415161718ull,
		.token = 0xcafef00d, .max_msg_size = 0x00800000, .slots = 64, .credits = 32,
		.mtu = 9000, .hs_flags = 0x8001, .nonce = 0xa1a2a3a4a5a6a7a8ull,
	}, b;
	uint8_t buf[TERN_HS_LEN];
	tern_wire_hs_put(buf, &a);
	tern_wire_hs_get(buf, &b);
	CHECK(b.epoch == a.epoch);
	CHECK(b.peer_epoch == a.peer_epoch);
	CHECK_EQ(b.token, a.token);
	CHECK_EQ(b.max_msg_size, a.max_msg_size);
	CHECK_EQ(b.slots, a.slots);
	CHECK_EQ(b.credits, a.credits);
	CHECK_EQ(b.mtu, a.mtu);
	CHECK_EQ(b.hs_flags, a.hs_flags);
	CHECK(b.nonce == a.nonce);
	CHECK_EQ(buf[0], 0x08); /* little-endian */
	CHECK_EQ(buf[16], 0x0d);
	CHECK_EQ(buf[32], 0xa8);
}

static void wire_check__every_type_ok(void)
{
	struct tern_hdr h;
	for (uint8_t t = 1; t <= TERN_PKT_MAX; t++) {
		size_t len = mk(t, NULL, body_len_of(t));
		CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_OK);
		CHECK_EQ(h.type, t);
		CHECK(tern_wire_csum_ok(pkt, len));
	}
	/* The known flags are allowed (a protected packet carries its counter
	 * and tag after the header; STATUS only on a RESP). */
	struct tern_hdr p = {.flags = TERN_WF_ALL & ~TERN_WF_PROTECTED};
	size_t len = mk(TERN_PKT_RESP, &p, 0);
	CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_OK);
	CHECK_EQ(h.flags, TERN_WF_ALL & ~TERN_WF_PROTECTED);
	p.flags = TERN_WF_ALL;
	len = mk(TERN_PKT_RESP, &p, TERN_PROT_OVERHEAD);
	CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_OK);
	CHECK_EQ(h.flags, TERN_WF_ALL);
	/* ... and not with room for them missing, nor on handshake packets. */
	p.flags = TERN_WF_ALL & ~TERN_WF_STATUS;
	len = mk(TERN_PKT_PING, &p, TERN_PROT_OVERHEAD - 1);
	CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_SHORT);
	p.flags = TERN_WF_PROTECTED;
	len = mk(TERN_PKT_RESET, &p, TERN_RESET_LEN + TERN_PROT_OVERHEAD);
	CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_TYPE_BAD);
}

static void wire_check__short_packet(void)
{
	struct tern_hdr h;
	mk(TERN_PKT_PING, NULL, 0);
	CHECK_EQ(tern_wire_check(pkt, 0, 1u << 20, &h), TERN_WIRE_SHORT);
	CHECK_EQ(tern_wire_check(pkt, 1, 1u << 20, &h), TERN_WIRE_SHORT);
	CHECK_EQ(tern_wire_check(pkt, TERN_HDR_LEN - 1, 1u << 20, &h), TERN_WIRE_SHORT);
	CHECK_EQ(tern_wire_check(pkt, TERN_HDR_LEN, 1u << 20, &h), TERN_WIRE_OK);
}

static void wire_check__bad_version(void)
{
	struct tern_hdr h;
	const uint8_t bad[] = {0, 2, 0x81, 255};
	for (unsigned i = 0; i < sizeof(bad); i++) {
		size_t len = mk(TERN_PKT_PING, NULL, 0);
		pkt[0] = bad[i];
		tern_wire_seal(pkt, len);
		CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_VERSION_BAD);
	}
}

static void wire_check__bad_type(void)
{
	struct tern_hdr h;
	const unsigned bad[] = {0, TERN_PKT_MAX + 1, 0x80, 255};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = mk((uint8_t)bad[i], NULL, 0);
		CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_TYPE_BAD);
	}
}

static void wire_check__reserved_flags(void)
{
	struct tern_hdr h;
	for (unsigned bit = 0; bit < 8; bit++) {
		struct tern_hdr p = {.flags = (uint8_t)(1u << bit)};
		size_t len = mk(TERN_PKT_REQ, &p, 0);
		/* STATUS: only on a RESP */
		enum tern_wire_err want = (1u << bit) & ~TERN_WF_ALL  ? TERN_WIRE_TYPE_BAD
					  : (1u << bit) == TERN_WF_STATUS    ? TERN_WIRE_TYPE_BAD
					  : (1u << bit) == TERN_WF_PROTECTED ? TERN_WIRE_SHORT
									     : TERN_WIRE_OK;
		CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), want);
	}
}

/* The expected error when bit b of byte i of a valid packet of type t flips. */
static enum tern_wire_err flip_err(unsigned i, uint8_t newval)
{
	if (i == 0)
		return TERN_WIRE_VERSION_BAD;
	if (i == 1 && (newval == 0 || newval > TERN_PKT_MAX))
		return TERN_WIRE_TYPE_BAD;
	if (i == 2 && (newval & ~TERN_WF_ALL) != 0)
		return TERN_WIRE_TYPE_BAD;
	return TERN_WIRE_CSUM_BAD;
}

static void wire_check__checksum_bit_flips(void)
{
	struct tern_hdr h, proto = {
		.req_type = 9, .dst_session = 3, .src_session = 4, .token = 0x12345678,
		.pkt_num = 1, .msg_size = 100, .req_num = 77,
	};
	const uint8_t types[] = {TERN_PKT_REQ, TERN_PKT_ACK, TERN_PKT_CONNECT, TERN_PKT_RESET};
	for (unsigned t = 0; t < sizeof(types); t++) {
		/* A REQ's payload is not covered: give it some to prove the cut. */
		size_t body = types[t] == TERN_PKT_REQ ? 36 : body_len_of(types[t]);
		size_t len = mk(types[t], &proto, body);
		size_t covered = tern_wire_csum_len(types[t], 0, len);
		CHECK_EQ(covered, types[t] == TERN_PKT_REQ ? TERN_HDR_LEN : len);
		uint8_t orig[sizeof(pkt)];
		memcpy(orig, pkt, len);
		unsigned misses = 0;
		for (unsigned i = 0; i < covered; i++) {
			for (unsigned b = 0; b < 8; b++) {
				memcpy(pkt, orig, len);
				pkt[i] ^= (uint8_t)(1u << b);
				enum tern_wire_err e = tern_wire_check(pkt, len, 1u << 30, &h);
				enum tern_wire_err want = flip_err(i, pkt[i]);
				if (e != want) {
					if (misses++ < 4)
						fprintf(stderr, "  type %u byte %u bit %u: %d, want %d\n",
							types[t], i, b, e, want);
				}
			}
		}
		CHECK_EQ(misses, 0);
		/* Bytes after the covered ones (a data packet's payload) are not checked. */
		if (covered < len) {
			memcpy(pkt, orig, len);
			pkt[len - 1] ^= 0xff;
			CHECK_EQ(tern_wire_check(pkt, len, 1u << 30, &h), TERN_WIRE_OK);
		}
	}
}

static void wire_check__too_big(void)
{
	struct tern_hdr h;
	const uint8_t types[] = {TERN_PKT_REQ, TERN_PKT_RESP, TERN_PKT_CR, TERN_PKT_RFR};
	for (unsigned t = 0; t < sizeof(types); t++) {
		struct tern_hdr p = {.msg_size = 4096};
		size_t len = mk(types[t], &p, 0);
		CHECK_EQ(tern_wire_check(pkt, len, 4095, &h), TERN_WIRE_TOO_BIG);
		CHECK_EQ(tern_wire_check(pkt, len, 4096, &h), TERN_WIRE_OK);
		p.msg_size = UINT32_MAX;
		len = mk(types[t], &p, 0);
		CHECK_EQ(tern_wire_check(pkt, len, UINT32_MAX - 1, &h), TERN_WIRE_TOO_BIG);
	}
	/* msg_size means nothing on control packets. */
	struct tern_hdr p = {.msg_size = UINT32_MAX};
	size_t len = mk(TERN_PKT_ACK, &p, 0);
	CHECK_EQ(tern_wire_check(pkt, len, 1, &h), TERN_WIRE_OK);
}

static void wire_check__body_length_per_type(void)
{
	struct tern_hdr h;
	for (uint8_t t = TERN_PKT_ACK; t <= TERN_PKT_MAX; t++) {
		size_t want = body_len_of(t);
		size_t bad[] = {want + 1, want + 7, want + 40, want + 100};
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			size_t len = mk(t, NULL, bad[i]);
			CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_LEN_BAD);
		}
		if (want != 0) {
			size_t shorter[] = {0, 1, want - 1};
			for (unsigned i = 0; i < 3; i++) {
				size_t len = mk(t, NULL, shorter[i]);
				CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_LEN_BAD);
			}
		}
	}
}

/* The authenticated handshake's packets: one length each, never protected. */
static void wire_check__secure_handshake_lengths(void)
{
	static const struct {
		uint8_t type;
		size_t len;
	} t[] = {{TERN_PKT_CONNECT, TERN_SHS_CONNECT_LEN},
		 {TERN_PKT_CONNECT_OK, TERN_SHS_OK_LEN},
		 {TERN_PKT_COOKIE, TERN_COOKIE_BODY_LEN}};
	CHECK_EQ(TERN_SHS_CONNECT_LEN, 200);
	CHECK_EQ(TERN_SHS_OK_LEN, 120);
	CHECK_EQ(TERN_COOKIE_BODY_LEN, 64);
	CHECK(TERN_COOKIE_BODY_LEN < TERN_SHS_CONNECT_LEN); /* no amplification */
	struct tern_hdr h;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct tern_hdr p = {.flags = TERN_WF_SECURE};
		size_t len = mk(t[i].type, &p, t[i].len);
		CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_OK);
		for (size_t d = 1; d < 40; d += 7) {
			len = mk(t[i].type, &p, t[i].len + d);
			CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_LEN_BAD);
			len = mk(t[i].type, &p, t[i].len - d);
			CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_LEN_BAD);
		}
		p.flags = TERN_WF_SECURE | TERN_WF_PROTECTED;
		len = mk(t[i].type, &p, t[i].len + TERN_PROT_OVERHEAD);
		CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &h), TERN_WIRE_TYPE_BAD);
	}
}

static void wire_npkts__edges(void)
{
	CHECK_EQ(tern_wire_npkts(0, 64), 1);
	CHECK_EQ(tern_wire_npkts(1, 64), 1);
	CHECK_EQ(tern_wire_npkts(64, 64), 1);
	CHECK_EQ(tern_wire_npkts(65, 64), 2);
	CHECK_EQ(tern_wire_npkts(128, 64), 2);
	CHECK_EQ(tern_wire_npkts(129, 64), 3);
	CHECK_EQ(tern_wire_npkts(UINT32_MAX, 1), UINT32_MAX);
	CHECK_EQ(tern_wire_npkts(UINT32_MAX, 64), (UINT32_MAX / 64) + 1);
}

static enum tern_wire_err data(uint8_t type, uint32_t pkt_num, uint32_t msg_size, size_t body,
			       uint32_t dpp)
{
	struct tern_hdr h = {.type = type, .pkt_num = pkt_num, .msg_size = msg_size};
	return tern_wire_check_data(&h, body, dpp);
}

static void wire_check_data__pkt_num_range(void)
{
	const uint8_t types[] = {TERN_PKT_REQ, TERN_PKT_RESP};
	for (unsigned t = 0; t < 2; t++) {
		/* 200 bytes, 64 per packet: packets 0..3 (64, 64, 64, 8). */
		CHECK_EQ(data(types[t], 3, 200, 8, 64), TERN_WIRE_OK);
		CHECK_EQ(data(types[t], 4, 200, 8, 64), TERN_WIRE_PKT_BAD);
		CHECK_EQ(data(types[t], UINT32_MAX, 200, 8, 64), TERN_WIRE_PKT_BAD);
		CHECK_EQ(data(types[t], 1, 0, 0, 64), TERN_WIRE_PKT_BAD);
		CHECK_EQ(data(types[t], 1, 64, 0, 64), TERN_WIRE_PKT_BAD);
	}
	const uint8_t ctl[] = {TERN_PKT_CR, TERN_PKT_RFR};
	for (unsigned t = 0; t < 2; t++) {
		CHECK_EQ(data(ctl[t], 3, 200, 0, 64), TERN_WIRE_OK);
		CHECK_EQ(data(ctl[t], 4, 200, 0, 64), TERN_WIRE_PKT_BAD);
		CHECK_EQ(data(ctl[t], UINT32_MAX, UINT32_MAX, 0, 1), TERN_WIRE_PKT_BAD);
		CHECK_EQ(data(ctl[t], 0, 0, 0, 64), TERN_WIRE_OK);
		/* CR and RFR carry no data. */
		CHECK_EQ(data(ctl[t], 0, 200, 1, 64), TERN_WIRE_LEN_BAD);
		CHECK_EQ(data(ctl[t], 0, 200, 64, 64), TERN_WIRE_LEN_BAD);
	}
}

/* The range checks multiply instead of dividing: the same verdict as
 * pkt_num < tern_wire_npkts(msg_size, dpp) for every small case. */
static void wire_check_data__pkt_num_matches_npkts(void)
{
	for (uint32_t dpp = 1; dpp <= 40; dpp++) {
		for (uint32_t size = 0; size <= 200; size++) {
			uint32_t n = tern_wire_npkts(size, dpp);
			for (uint32_t p = 0; p <= n + 2; p++) {
				uint64_t off = (uint64_t)p * dpp;
				size_t body = off < size ? (size - off < dpp ? size - off : dpp) : 0;
				enum tern_wire_err want = p < n ? TERN_WIRE_OK : TERN_WIRE_PKT_BAD;
				CHECK_EQ(data(TERN_PKT_REQ, p, size, body, dpp), want);
				CHECK_EQ(data(TERN_PKT_CR, p, size, 0, dpp), want);
				CHECK_EQ(data(TERN_PKT_RFR, p, size, 0, dpp), want);
			}
		}
	}
}

static void wire_check_data__lengths(void)
{
	const uint8_t types[] = {TERN_PKT_REQ, TERN_PKT_RESP};
	for (unsigned t = 0; t < 2; t++) {
		uint8_t ty = types[t];
		/* Full packets must be exactly dpp long. */
		for (uint32_t p = 0; p < 3; p++) {
			CHECK_EQ(data(ty, p, 200, 64, 64), TERN_WIRE_OK);
			CHECK_EQ(data(ty, p, 200, 63, 64), TERN_WIRE_LEN_BAD);
			CHECK_EQ(data(ty, p, 200, 65, 64), TERN_WIRE_LEN_BAD);
			CHECK_EQ(data(ty, p, 200, 8, 64), TERN_WIRE_LEN_BAD);
		}
		/* The last packet: exactly the rest. */
		CHECK_EQ(data(ty, 3, 200, 8, 64), TERN_WIRE_OK);
		CHECK_EQ(data(ty, 3, 200, 7, 64), TERN_WIRE_LEN_BAD);
		CHECK_EQ(data(ty, 3, 200, 9, 64), TERN_WIRE_LEN_BAD);
		CHECK_EQ(data(ty, 3, 200, 64, 64), TERN_WIRE_LEN_BAD);
		/* A message that is a multiple of dpp: the last packet is full. */
		CHECK_EQ(data(ty, 1, 128, 64, 64), TERN_WIRE_OK);
		CHECK_EQ(data(ty, 1, 128, 0, 64), TERN_WIRE_LEN_BAD);
		CHECK_EQ(data(ty, 2, 128, 0, 64), TERN_WIRE_PKT_BAD);
		/* One-packet messages, including the empty one. */
		CHECK_EQ(data(ty, 0, 0, 0, 64), TERN_WIRE_OK);
		CHECK_EQ(data(ty, 0, 0, 1, 64), TERN_WIRE_LEN_BAD);
		CHECK_EQ(data(ty, 0, 1, 1, 64), TERN_WIRE_OK);
		CHECK_EQ(data(ty, 0, 1, 0, 64), TERN_WIRE_LEN_BAD);
		CHECK_EQ(data(ty, 0, 64, 64, 64), TERN_WIRE_OK);
		/* Offsets that overflow 32 bits are computed in 64. */
		CHECK_EQ(data(ty, (UINT32_MAX / 64), UINT32_MAX, 63, 64), TERN_WIRE_OK);
		CHECK_EQ(data(ty, (UINT32_MAX / 64), UINT32_MAX, 64, 64), TERN_WIRE_LEN_BAD);
	}
}

static void wire_check_data__error_resp(void)
{
	struct tern_hdr h = {.type = TERN_PKT_RESP, .status = 2};
	CHECK_EQ(tern_wire_check_data(&h, 0, 64), TERN_WIRE_OK);
	CHECK_EQ(tern_wire_check_data(&h, 1, 64), TERN_WIRE_LEN_BAD);
	h.msg_size = 100; /* msg_size is ignored, but not pkt_num or a body */
	CHECK_EQ(tern_wire_check_data(&h, 0, 64), TERN_WIRE_OK);
	CHECK_EQ(tern_wire_check_data(&h, 36, 64), TERN_WIRE_LEN_BAD);
	h.pkt_num = 1;
	CHECK_EQ(tern_wire_check_data(&h, 0, 64), TERN_WIRE_LEN_BAD);
	/* A REQ has no status semantics: status does not change its checks. */
	struct tern_hdr r = {.type = TERN_PKT_REQ, .status = 2, .msg_size = 4};
	CHECK_EQ(tern_wire_check_data(&r, 4, 64), TERN_WIRE_OK);
	CHECK_EQ(tern_wire_check_data(&r, 0, 64), TERN_WIRE_LEN_BAD);
}

/* A status answer (TERN_WF_STATUS): a code 1..16, pkt_num 0, a message of
 * msg_size bytes, at most 512 and one packet. */
static void wire_check_error__status(void)
{
	struct tern_hdr h = {.type = TERN_PKT_RESP, .flags = TERN_WF_STATUS, .status = 5,
			     .msg_size = 10};
	CHECK_EQ(tern_wire_check_data(&h, 10, 1024), TERN_WIRE_OK);
	CHECK_EQ(tern_wire_check_data(&h, 9, 1024), TERN_WIRE_STATUS_BAD);
	CHECK_EQ(tern_wire_check_data(&h, 11, 1024), TERN_WIRE_STATUS_BAD);
	h.status = 0; /* the flag alone still makes it an error answer, and code 0 is none */
	CHECK_EQ(tern_wire_check_data(&h, 10, 1024), TERN_WIRE_STATUS_BAD);
	h.status = TERN_WIRE_CODE_MAX;
	CHECK_EQ(tern_wire_check_data(&h, 10, 1024), TERN_WIRE_OK);
	h.status = TERN_WIRE_CODE_MAX + 1;
	CHECK_EQ(tern_wire_check_data(&h, 10, 1024), TERN_WIRE_STATUS_BAD);
	h.status = 255;
	CHECK_EQ(tern_wire_check_data(&h, 10, 1024), TERN_WIRE_STATUS_BAD);
	h.status = 1;
	h.pkt_num = 1;
	CHECK_EQ(tern_wire_check_data(&h, 10, 1024), TERN_WIRE_STATUS_BAD);
	h.pkt_num = 0;
	h.msg_size = TERN_WIRE_STATUS_MSG_MAX;
	CHECK_EQ(tern_wire_check_data(&h, TERN_WIRE_STATUS_MSG_MAX, 1024), TERN_WIRE_OK);
	CHECK_EQ(tern_wire_check_data(&h, TERN_WIRE_STATUS_MSG_MAX, 511), TERN_WIRE_STATUS_BAD);
	h.msg_size = TERN_WIRE_STATUS_MSG_MAX + 1;
	CHECK_EQ(tern_wire_check_data(&h, TERN_WIRE_STATUS_MSG_MAX + 1, 1024), TERN_WIRE_STATUS_BAD);
	h.msg_size = 0;
	CHECK_EQ(tern_wire_check_data(&h, 0, 1024), TERN_WIRE_OK);
	/* Only a RESP carries it. */
	struct tern_hdr q;
	for (uint8_t t = 1; t <= TERN_PKT_MAX; t++) {
		struct tern_hdr p = {.flags = TERN_WF_STATUS, .status = 1};
		size_t len = mk(t, &p, t == TERN_PKT_RESP ? 0 : body_len_of(t));
		CHECK_EQ(tern_wire_check(pkt, len, 1u << 20, &q),
			 t == TERN_PKT_RESP ? TERN_WIRE_OK : TERN_WIRE_TYPE_BAD);
	}
}

static void wire_type_name__all(void)
{
	const char *names[] = {"INVALID", "REQ", "RESP", "CR", "RFR", "ACK", "CONNECT",
			       "CONNECT_OK", "DISCONNECT", "RESET", "PING", "PONG", "COOKIE"};
	for (unsigned t = 0; t <= TERN_PKT_MAX; t++)
		CHECK(strcmp(tern_wire_type_name(t), names[t]) == 0);
	CHECK(strcmp(tern_wire_type_name(TERN_PKT_MAX + 1), "INVALID") == 0);
	CHECK(strcmp(tern_wire_type_name(~0u), "INVALID") == 0);
}

static void wire_csum_len__cases(void)
{
	CHECK_EQ(tern_wire_csum_len(TERN_PKT_REQ, 0, 1000), TERN_HDR_LEN);
	CHECK_EQ(tern_wire_csum_len(TERN_PKT_RESP, 0, 33), TERN_HDR_LEN);
	CHECK_EQ(tern_wire_csum_len(TERN_PKT_CR, 0, 32), TERN_HDR_LEN);
	CHECK_EQ(tern_wire_csum_len(TERN_PKT_RESET, 0, 40), 40);
	CHECK_EQ(tern_wire_csum_len(TERN_PKT_CONNECT, 0, 72), 72);
	CHECK_EQ(tern_wire_csum_len(TERN_PKT_CONNECT, 0, 1000), 72);
	CHECK_EQ(tern_wire_csum_len(TERN_PKT_PING, 0, 10), TERN_HDR_LEN);
}

int main(void)
{
	RUN(wire_put_get__round_trip);
	RUN(wire_hs_put_get__round_trip);
	RUN(wire_check__every_type_ok);
	RUN(wire_check__short_packet);
	RUN(wire_check__bad_version);
	RUN(wire_check__bad_type);
	RUN(wire_check__reserved_flags);
	RUN(wire_check__checksum_bit_flips);
	RUN(wire_check__too_big);
	RUN(wire_check__body_length_per_type);
	RUN(wire_check__secure_handshake_lengths);
	RUN(wire_npkts__edges);
	RUN(wire_check_data__pkt_num_range);
	RUN(wire_check_data__pkt_num_matches_npkts);
	RUN(wire_check_data__lengths);
	RUN(wire_check_data__error_resp);
	RUN(wire_check_error__status);
	RUN(wire_type_name__all);
	RUN(wire_csum_len__cases);
	return check_exit();
}
