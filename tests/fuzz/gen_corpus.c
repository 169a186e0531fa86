/*
 * gen_corpus.c — writes the seed corpus of fuzz_rx (tests/fuzz/corpus/):
 * valid exchanges touching every packet type, both roles, the timers and
 * the API records, in the record format of fuzz_format.h.
 *
 *   gen_corpus DIR    (re)writes DIR/<name> for every seed
 *
 * The fixture these seeds assume is described in fuzz_format.h (4 slots:
 * the first call of slot k is req_num k + 4; 64 payload bytes per packet).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_format.h"
#include "wire.h"

static uint8_t out[65536];
static size_t n;

static void byte(uint8_t b)
{
	if (n < sizeof(out))
		out[n++] = b;
}

static void pkt(uint8_t op, const struct tern_hdr *h, const void *body, size_t len)
{
	uint8_t p[FZ_PKT_MAX];
	tern_wire_put(p, h);
	if (len != 0)
		memcpy(p + TERN_HDR_LEN, body, len);
	tern_wire_seal(p, TERN_HDR_LEN + len);
	byte(FZ_PKT | op);
	byte((uint8_t)(TERN_HDR_LEN + len));
	byte((uint8_t)((TERN_HDR_LEN + len) >> 8));
	for (size_t i = 0; i < TERN_HDR_LEN + len; i++)
		byte(p[i]);
}

static struct tern_hdr hdr(uint8_t type, uint64_t req_num, uint16_t req_type, uint32_t pkt_num,
			   uint32_t msg_size)
{
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.req_num = req_num;
	h.req_type = req_type;
	h.pkt_num = pkt_num;
	h.msg_size = msg_size;
	return h;
}

static uint8_t payload[4096];

/* Packet p of a message of size bytes (64 per packet) of type (REQ/RESP). */
static void data(uint8_t op, uint8_t type, uint64_t rn, uint16_t rt, uint32_t p, uint32_t size,
		 uint8_t flags)
{
	struct tern_hdr h = hdr(type, rn, rt, p, size);
	h.flags = flags;
	uint32_t off = p * 64;
	uint32_t len = size - off < 64 ? size - off : 64;
	pkt(op, &h, payload + off, len);
}

static void msg(uint8_t op, uint8_t type, uint64_t rn, uint16_t rt, uint32_t size, uint8_t flags)
{
	uint32_t np = tern_wire_npkts(size, 64);
	for (uint32_t p = 0; p < np; p++)
		data(op, type, rn, rt, p, size, flags);
}

static void ctl(uint8_t op, uint8_t type, uint64_t rn, uint16_t rt, uint32_t p, uint32_t size,
		uint8_t flags)
{
	struct tern_hdr h = hdr(type, rn, rt, p, size);
	h.flags = flags;
	pkt(op, &h, NULL, 0);
}

static void hs(uint8_t op, uint8_t type, uint8_t status, uint16_t src)
{
	struct tern_hdr h = hdr(type, 0, 0, 0, 0);
	h.status = status;
	h.src_session = src;
	h.dst_session = type == TERN_PKT_CONNECT ? TERN_SESSION_NONE : 0;
	struct tern_wire_hs b = {
		.epoch = 0x1234567, .peer_epoch = 0, .token = 0xabcdef, .max_msg_size = 65536,
		.slots = 4, .credits = 8, .mtu = 96, .nonce = 0x5eed,
	};
	uint8_t body[TERN_HS_LEN];
	tern_wire_hs_put(body, &b);
	pkt(op, &h, body, sizeof(body));
}

static void reset(uint8_t op)
{
	struct tern_hdr h = hdr(TERN_PKT_RESET, 0, 0, 0, 0);
	uint8_t body[TERN_RESET_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
	pkt(op, &h, body, sizeof(body));
}

static void tick(uint8_t steps)
{
	byte(FZ_TIME);
	byte(steps);
}

static void api(uint8_t action, uint8_t arg)
{
	byte(FZ_API | action);
	byte(arg);
}

static void poll_n(uint8_t k)
{
	byte(FZ_POLL | (k & 0x3f));
}

static int save(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(out, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = 0;
	return 0;
}

enum { S = FZ_T_SERVER, C = FZ_T_CLIENT };

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1];
	int rc = 0;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);

	/* --- the endpoint as the server ----------------------------------------- */
	data(S, TERN_PKT_REQ, 4, 1, 0, 5, 0);
	poll_n(0);
	ctl(S, TERN_PKT_ACK, 4, 1, 0, 0, 0);
	poll_n(0);
	rc |= save(dir, "req_single");

	msg(S, TERN_PKT_REQ, 5, 1, 200, 0);
	poll_n(0);
	for (uint32_t j = 1; j < 4; j++)
		ctl(S, TERN_PKT_RFR, 5, 1, j, 200, 0);
	ctl(S, TERN_PKT_ACK, 5, 1, 0, 0, 0);
	poll_n(1);
	rc |= save(dir, "req_multi");

	data(S, TERN_PKT_REQ, 4, 2, 0, 10, 0);
	poll_n(0);
	data(S, TERN_PKT_REQ, 4, 2, 0, 10, 0);
	poll_n(0);
	api(FZ_A_RESPOND, 40);
	data(S, TERN_PKT_REQ, 4, 2, 0, 10, 0);
	ctl(S, TERN_PKT_RFR, 4, 2, 1, 160, 0);
	ctl(S, TERN_PKT_RFR, 4, 2, 2, 160, 0);
	poll_n(0);
	data(S, TERN_PKT_REQ, 8, 2, 0, 10, 0); /* the next call: implicit ACK */
	poll_n(0);
	api(FZ_A_RESPOND_ERR, 4);
	rc |= save(dir, "req_deferred");

	data(S, TERN_PKT_REQ, 6, 3, 0, 30, 0);
	poll_n(0);
	data(S, TERN_PKT_REQ, 6, 3, 0, 30, 0);
	poll_n(0);
	ctl(S, TERN_PKT_ACK, 6, 3, 0, 0, 0);
	rc |= save(dir, "req_rr");

	msg(S, TERN_PKT_REQ, 7, 4, 150, TERN_WF_ONEWAY);
	poll_n(0);
	data(S, TERN_PKT_REQ, 7, 4, 1, 150, TERN_WF_ONEWAY);
	data(S, TERN_PKT_REQ, 11, 1, 0, 3, TERN_WF_ONEWAY); /* one-way to an RRA handler */
	data(S, TERN_PKT_REQ, 15, 4, 0, 3, 0);              /* two-way to an R handler */
	poll_n(0);
	rc |= save(dir, "req_oneway");

	data(S, TERN_PKT_REQ, 4, 5, 0, 1, 0);
	data(S, TERN_PKT_REQ, 5, 99, 0, 1, 0);
	data(S, TERN_PKT_REQ, 6, 7, 0, 16, 0);
	poll_n(0);
	api(FZ_A_RESPOND, 1);
	data(S, TERN_PKT_REQ, 7, 6, 0, 8, 0);
	poll_n(0);
	rc |= save(dir, "req_error_close_nested");

	/* The endpoint's own call on the server session (server to client). */
	data(S, TERN_PKT_RESP, 4, 1, 0, 2, 0);
	poll_n(0);
	tick(30);
	rc |= save(dir, "server_call_answered");

	/* --- the endpoint as the client ----------------------------------------- */
	data(C, TERN_PKT_RESP, 4, 1, 0, 3, 0);
	poll_n(0);
	tick(20); /* the ACK is due */
	rc |= save(dir, "resp_single");

	for (uint32_t j = 0; j < 4; j++)
		ctl(C, TERN_PKT_CR, 5, 1, j, 300, 0);
	data(C, TERN_PKT_RESP, 5, 1, 0, 200, 0);
	poll_n(0);
	data(C, TERN_PKT_RESP, 5, 1, 2, 200, 0);
	data(C, TERN_PKT_RESP, 5, 1, 1, 200, 0);
	data(C, TERN_PKT_RESP, 5, 1, 3, 200, 0);
	data(C, TERN_PKT_RESP, 5, 1, 3, 200, 0);
	poll_n(0);
	rc |= save(dir, "resp_multi");

	ctl(C, TERN_PKT_CR, 4, 1, 0, 10, TERN_WF_WORKING);
	tick(8);
	ctl(C, TERN_PKT_CR, 4, 1, 0, 10, TERN_WF_WORKING);
	tick(8);
	struct tern_hdr e = hdr(TERN_PKT_RESP, 4, 1, 0, 0);
	e.status = 16; /* EBUSY */
	pkt(C, &e, NULL, 0);
	poll_n(0);
	rc |= save(dir, "resp_working_then_error");

	/* A status answer (code and message) to a call; a server's status
	 * answers: refused (code 0), sent, then re-sent to a duplicate. */
	struct tern_hdr sa = hdr(TERN_PKT_RESP, 4, 1, 0, 6);
	sa.flags = TERN_WF_STATUS;
	sa.status = 5; /* NOT_FOUND */
	pkt(C, &sa, "no key", 6);
	poll_n(0);
	data(S, TERN_PKT_REQ, 4, 2, 0, 10, 0);
	poll_n(0);
	api(FZ_A_RESPOND_STATUS, 0);
	api(FZ_A_RESPOND_STATUS, 41);
	data(S, TERN_PKT_REQ, 4, 2, 0, 10, 0);
	poll_n(0);
	rc |= save(dir, "resp_status");

	ctl(C, TERN_PKT_CR, 6, 4, 0, 150, 0);
	ctl(C, TERN_PKT_CR, 6, 4, 1, 150, 0);
	poll_n(1);
	rc |= save(dir, "cr_oneway");

	/* Coalesced CRs: one for packets 0..2, a duplicate range, then 3. */
	struct tern_hdr cr = hdr(TERN_PKT_CR, 5, 1, 2, 300);
	cr.status = 2;
	pkt(C, &cr, NULL, 0);
	cr.pkt_num = 3;
	cr.status = 3;
	pkt(C, &cr, NULL, 0);
	data(C, TERN_PKT_RESP, 5, 1, 0, 2, 0);
	poll_n(0);
	rc |= save(dir, "cr_range");

	/* --- handshake and session packets ---------------------------------------- */
	hs(FZ_T_RAW, TERN_PKT_CONNECT, 0, 11);
	poll_n(0);
	hs(FZ_T_RAW, TERN_PKT_CONNECT, 0, 11);
	poll_n(0);
	rc |= save(dir, "connect");

	hs(FZ_T_CONNECTING | FZ_HS_FIX, TERN_PKT_CONNECT_OK, 0, 3);
	poll_n(0);
	hs(FZ_T_CONNECTING | FZ_HS_FIX, TERN_PKT_CONNECT_OK, 0, 3);
	poll_n(0);
	rc |= save(dir, "connect_ok");

	hs(FZ_T_CONNECTING | FZ_HS_FIX, TERN_PKT_CONNECT_OK, 111, 0xffff);
	poll_n(0);
	rc |= save(dir, "connect_refused");

	/* Port unreachable notices: quoting the connecting session's CONNECT
	 * (refused), then a packet of the accepted session (a plain one: reset). */
	hs(FZ_T_CONNECTING | FZ_UNREACH, TERN_PKT_CONNECT, 0, 0);
	poll_n(0);
	ctl(S | FZ_UNREACH, TERN_PKT_PING, 0, 0, 0, 0, 0);
	poll_n(0);
	rc |= save(dir, "unreach");

	ctl(S, TERN_PKT_DISCONNECT, 0, 0, 0, 0, 0);
	ctl(C, TERN_PKT_DISCONNECT, 0, 0, 0, 0, 0);
	poll_n(0);
	rc |= save(dir, "disconnect");

	reset(S);
	reset(C);
	poll_n(0);
	rc |= save(dir, "reset");

	/* COOKIE replies to an endpoint without keys (and so no secure
	 * handshake in progress): to the connecting session, raw, moved. */
	{
		uint8_t body[TERN_COOKIE_BODY_LEN];
		for (unsigned i = 0; i < sizeof(body); i++)
			body[i] = (uint8_t)(i * 13 + 1);
		struct tern_hdr h = hdr(TERN_PKT_COOKIE, 0, 0, 0, 0);
		h.flags = TERN_WF_SECURE;
		pkt(FZ_T_CONNECTING, &h, body, sizeof(body));
		pkt(FZ_T_RAW, &h, body, sizeof(body));
		pkt(FZ_T_CLIENT | FZ_MOVED, &h, body, sizeof(body) - 1);
		poll_n(0);
		rc |= save(dir, "cookie");
	}

	ctl(S, TERN_PKT_PING, 0, 0, 0, 0, 0);
	ctl(C, TERN_PKT_PONG, 0, 0, 0, 0, 0);
	ctl(S | FZ_MOVED, TERN_PKT_PING, 0, 0, 0, 0, 0);
	ctl(C | FZ_KEEP_TOKEN, TERN_PKT_PING, 0, 0, 0, 0, 0);
	poll_n(0);
	rc |= save(dir, "ping_pong");

	/* --- timers and the API ------------------------------------------------------ */
	for (int k = 0; k < 12; k++)
		tick(40);
	rc |= save(dir, "timers_silent_peer");

	api(FZ_A_CALL, 3);
	api(FZ_A_SEND, 20);
	api(FZ_A_CALL_IDEM, 1);
	api(FZ_A_CALL_SERVER, 2);
	poll_n(0);
	api(FZ_A_CALL_CLOSING, 0);
	data(C, TERN_PKT_RESP, 7, 1, 0, 1, 0);
	poll_n(0);
	api(FZ_A_RECONNECT, 0);
	poll_n(0);
	api(FZ_A_CLOSE_CLIENT, 0);
	api(FZ_A_CLOSE_SERVER, 0);
	tick(100);
	rc |= save(dir, "api_mix");

	/* One-way calls waiting to complete when their session goes. */
	api(FZ_A_SEND, 1);
	api(FZ_A_SEND, 2);
	api(FZ_A_CLOSE_CLIENT, 0);
	poll_n(1);
	rc |= save(dir, "send_then_close");

	/* Calls queued on the connecting session; the server takes only 16 bytes. */
	api(FZ_A_CALL_CONN, 1);
	api(FZ_A_CALL_CONN, 10);
	{
		struct tern_hdr h = hdr(TERN_PKT_CONNECT_OK, 0, 0, 0, 0);
		h.src_session = 5;
		struct tern_wire_hs b = {
			.epoch = 0x777, .token = 0xabc, .max_msg_size = 16,
			.slots = 2, .credits = 2, .mtu = 96, .nonce = 1,
		};
		uint8_t body[TERN_HS_LEN];
		tern_wire_hs_put(body, &b);
		pkt(FZ_T_CONNECTING | FZ_HS_FIX, &h, body, sizeof(body));
	}
	poll_n(0);
	rc |= save(dir, "connect_ok_small_limit");

	/* A RESET of the client session: it reconnects (idempotent req 5 is
	 * re-issued, req 4 fails); then answer the new handshake. */
	reset(C);
	poll_n(0);
	hs(FZ_T_CONNECTING | FZ_HS_FIX, TERN_PKT_CONNECT_OK, 0, 12);
	poll_n(0);
	rc |= save(dir, "reset_reconnect");

	/* Session events close their sessions. */
	api(FZ_A_CLOSE_ON_EVT, 0);
	reset(C);
	ctl(S, TERN_PKT_DISCONNECT, 0, 0, 0, 0, 0);
	poll_n(0);
	tick(255);
	rc |= save(dir, "close_on_event");

	/* Every type once, raw, for the stateless checks. */
	for (uint8_t t = 1; t <= TERN_PKT_MAX; t++) {
		size_t body = t == TERN_PKT_CONNECT || t == TERN_PKT_CONNECT_OK ? TERN_HS_LEN
			    : t == TERN_PKT_RESET			      ? TERN_RESET_LEN
										      : 0;
		struct tern_hdr h = hdr(t, 4, 1, 0, 0);
		pkt(FZ_T_RAW, &h, payload, body);
	}
	poll_n(0);
	rc |= save(dir, "every_type_raw");
	return rc != 0 ? 1 : 0;
}
