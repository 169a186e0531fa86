/*
 * test_rx.c — lib/rx.c, the receive path through an endpoint: each
 * malformed packet is dropped and counted under its reason (the checks
 * themselves are test_wire.c's); only a packet for an unknown session or
 * with a wrong token is answered, with RESET; PING gets PONG; the peer's
 * address follows authenticated packets; a packet of a session still
 * connecting is dropped, never RESET.
 *
 * The peer is played by injected packets (fixture.h).
 */

#include "fixture.h"

/* An accepted session on an endpoint with MTU 96 (64 bytes per packet) and
 * 64 KiB messages. */
static int rx_setup(void)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.mtu = 96; /* 64 bytes per packet */
	cfg.max_msg_size = 1u << 16;
	if (ep_open(&cfg) != 0)
		return -1;
	return inj_accept(&peer);
}

static void noop_handler(struct tern_req *req, void *ctx)
{
	int *n = ctx;
	(*n)++;
	tern_respond(req, tern_msg_alloc(tern_req_ep(req), 0));
}

/* Push raw bytes from the peer and expect exactly one drop under why, nothing sent. */
static void expect_drop(const void *p, size_t len, uint32_t rx_flags, enum tern_drop why,
			const char *what)
{
	struct tern_stats a = stats(), b;
	inj_push_raw(peer.d, p, len, &peer.addr, rx_flags);
	inj_poll(ep);
	b = stats();
	for (int r = 0; r < TERN_DROP_MAX; r++) {
		uint64_t want = a.drops[r] + (r == (int)why ? 1 : 0);
		if (b.drops[r] != want)
			fprintf(stderr, "  %s: drops[%s] %llu -> %llu\n", what, tern_drop_name(r),
				(unsigned long long)a.drops[r], (unsigned long long)b.drops[r]);
		CHECK(b.drops[r] == want);
	}
	CHECK_EQ(inj_tx_count(peer.d), 0);
	CHECK_EQ(b.requests_executed, a.requests_executed);
	inj_tx_clear(peer.d);
}

/* --- drops ------------------------------------------------------------------------ */

static void rx_one__stateless_drops(void)
{
	REQUIRE(rx_setup() == 0);
	int handled = 0;
	tern_handle(ep, 9, noop_handler, &handled, TERN_RRA);
	struct tern_hdr h = inj_hdr(&peer, TERN_PKT_REQ);
	h.req_type = 9;
	h.req_num = 8;
	h.msg_size = 4;
	uint8_t buf[256];
	tern_wire_put(buf, &h);
	memcpy(buf + TERN_HDR_LEN, "abcd", 4);
	tern_wire_seal(buf, 36);

	expect_drop(buf, 0, 0, TERN_DROP_SHORT, "empty");
	expect_drop(buf, 31, 0, TERN_DROP_SHORT, "31 bytes");
	uint8_t v[256];
	memcpy(v, buf, 36);
	v[0] = 2;
	expect_drop(v, 36, 0, TERN_DROP_VERSION, "version");
	memcpy(v, buf, 36);
	v[1] = 0;
	expect_drop(v, 36, 0, TERN_DROP_TYPE, "type 0");
	v[1] = TERN_PKT_MAX + 1;
	expect_drop(v, 36, 0, TERN_DROP_TYPE, "type max+1");
	memcpy(v, buf, 36);
	v[2] = 0x80;
	tern_wire_seal(v, 36);
	expect_drop(v, 36, 0, TERN_DROP_TYPE, "reserved flag");
	memcpy(v, buf, 36);
	v[20] ^= 0x10; /* msg_size */
	expect_drop(v, 36, 0, TERN_DROP_CHECKSUM, "checksum");
	memcpy(v, buf, 36);
	expect_drop(v, 36, TERN_RX_TRUNC, TERN_DROP_FRAME, "truncated");
	/* msg_size over the endpoint's max_msg_size (64 KiB). */
	struct tern_hdr big = h;
	big.msg_size = (1u << 16) + 1;
	tern_wire_put(v, &big);
	tern_wire_seal(v, 32 + 64);
	expect_drop(v, 32 + 64, 0, TERN_DROP_TOO_BIG, "too big");
	/* A control packet with a body. */
	struct tern_hdr ping = inj_hdr(&peer, TERN_PKT_PING);
	tern_wire_put(v, &ping);
	tern_wire_seal(v, 33);
	expect_drop(v, 33, 0, TERN_DROP_LENGTH, "PING with a body");
	/* The well-formed original runs the handler once. */
	inj_push_raw(peer.d, buf, 36, &peer.addr, 0);
	inj_poll(ep);
	CHECK_EQ(handled, 1);
	CHECK(inj_expect_tx(peer.d, TERN_PKT_RESP) != NULL);
	teardown();
}

static void rx_one__data_checks_per_session(void)
{
	REQUIRE(rx_setup() == 0);
	int handled = 0;
	tern_handle(ep, 9, noop_handler, &handled, TERN_RRA);
	uint8_t msg[300];
	inj_fill(msg, sizeof(msg), 1);
	uint8_t v[256];
	struct tern_hdr h = inj_hdr(&peer, TERN_PKT_REQ);
	h.req_type = 9;
	h.req_num = 8;
	h.msg_size = 200; /* 64 + 64 + 64 + 8 */
	/* pkt_num out of range */
	h.pkt_num = 4;
	tern_wire_put(v, &h);
	tern_wire_seal(v, 32 + 8);
	expect_drop(v, 32 + 8, 0, TERN_DROP_PKT_NUM, "pkt 4 of 4");
	/* the last packet one byte short / long */
	h.pkt_num = 3;
	tern_wire_put(v, &h);
	tern_wire_seal(v, 32 + 7);
	expect_drop(v, 32 + 7, 0, TERN_DROP_LENGTH, "last packet short");
	expect_drop(v, 32 + 9, 0, TERN_DROP_LENGTH, "last packet long");
	/* a full packet short */
	h.pkt_num = 1;
	tern_wire_put(v, &h);
	tern_wire_seal(v, 32 + 63);
	expect_drop(v, 32 + 63, 0, TERN_DROP_LENGTH, "middle packet short");
	/* 0-byte message with data */
	h.pkt_num = 0;
	h.msg_size = 0;
	tern_wire_put(v, &h);
	tern_wire_seal(v, 33);
	expect_drop(v, 33, 0, TERN_DROP_LENGTH, "empty message with a byte");
	/* CR and RFR with a body, out of range */
	struct tern_hdr c = inj_hdr(&peer, TERN_PKT_CR);
	c.req_num = 8;
	c.msg_size = 200;
	tern_wire_put(v, &c);
	tern_wire_seal(v, 33);
	expect_drop(v, 33, 0, TERN_DROP_LENGTH, "CR with a body");
	c.type = TERN_PKT_RFR;
	c.pkt_num = 4;
	tern_wire_put(v, &c);
	tern_wire_seal(v, 32);
	expect_drop(v, 32, 0, TERN_DROP_PKT_NUM, "RFR out of range");
	/* A CR answering more packets than lie below it, or than a window. */
	c.type = TERN_PKT_CR;
	c.pkt_num = 2;
	c.status = 3;
	tern_wire_put(v, &c);
	tern_wire_seal(v, 32);
	expect_drop(v, 32, 0, TERN_DROP_PKT_NUM, "CR range below packet 0");
	c.msg_size = 64 * 200;
	c.pkt_num = 100;
	c.status = 64;
	tern_wire_put(v, &c);
	tern_wire_seal(v, 32);
	expect_drop(v, 32, 0, TERN_DROP_PKT_NUM, "CR range wider than the window");
	c.status = 0;
	c.msg_size = 200;
	/* An error RESP with a body. */
	struct tern_hdr r = inj_hdr(&peer, TERN_PKT_RESP);
	r.status = 5;
	r.req_num = 8;
	tern_wire_put(v, &r);
	tern_wire_seal(v, 34);
	expect_drop(v, 34, 0, TERN_DROP_LENGTH, "error RESP with a body");
	/* Nothing of that reached the slot: the real request runs once. */
	inj_req_msg(&peer, 8, 9, msg, 200, 0);
	inj_poll(ep);
	CHECK_EQ(handled, 1);
	CHECK_EQ(inj_skip_tx(peer.d, TERN_PKT_CR), 3);
	CHECK(inj_expect_tx(peer.d, TERN_PKT_RESP) != NULL);
	teardown();
}

/* --- RESET ------------------------------------------------------------------------ */

/* A RESET must answer: ids swapped, the refused token echoed, our epoch in the body. */
static void check_reset(const struct inj_pkt *r, const struct tern_hdr *sent)
{
	CHECK_EQ(r->wire, TERN_WIRE_OK);
	CHECK_EQ(r->h.dst_session, sent->src_session);
	CHECK_EQ(r->h.src_session, sent->dst_session);
	CHECK_EQ(r->h.token, sent->token);
	CHECK_EQ(r->body_len, TERN_RESET_LEN);
	uint64_t e;
	memcpy(&e, r->body, 8);
	CHECK(tern_le64(e) == ep->epoch);
	CHECK(tern_addr_eq(&r->dst, &peer.addr));
}

static void unknown_session__reset_for_unknown_id_and_bad_token(void)
{
	REQUIRE(rx_setup() == 0);
	const uint8_t types[] = {TERN_PKT_REQ, TERN_PKT_RESP, TERN_PKT_CR, TERN_PKT_RFR,
				 TERN_PKT_ACK, TERN_PKT_PING, TERN_PKT_PONG};
	for (unsigned t = 0; t < sizeof(types); t++) {
		struct tern_hdr cases[3];
		enum tern_drop why[3] = {TERN_DROP_SESSION, TERN_DROP_SESSION, TERN_DROP_TOKEN};
		cases[0] = inj_hdr(&peer, types[t]);
		cases[0].dst_session = 1000; /* beyond max_sessions */
		cases[1] = inj_hdr(&peer, types[t]);
		cases[1].dst_session = (uint16_t)(peer.ep_id + 1); /* a free id */
		cases[2] = inj_hdr(&peer, types[t]);
		cases[2].token ^= 0x100; /* wrong token */
		for (unsigned k = 0; k < 3; k++) {
			struct tern_stats a = stats(), b;
			cases[k].req_num = 8;
			inj_send(&peer, &cases[k], NULL, 0);
			inj_poll(ep);
			b = stats();
			CHECK_EQ(b.drops[why[k]], a.drops[why[k]] + 1);
			CHECK_EQ(b.resets_sent, a.resets_sent + 1);
			const struct inj_pkt *r = inj_expect_tx(peer.d, TERN_PKT_RESET);
			if (r != NULL)
				check_reset(r, &cases[k]);
			CHECK_EQ(inj_tx_count(peer.d), 0);
		}
	}
	/* The session is unharmed by all that. */
	CHECK_EQ(tern_session_state(peer.s), TERN_SS_CONNECTED);
	teardown();
}

static void rx_one__no_reset_cases(void)
{
	REQUIRE(rx_setup() == 0);
	struct tern_stats a = stats(), b;
	/* From the right session id but another source session: dropped quietly. */
	struct tern_hdr h = inj_hdr(&peer, TERN_PKT_PING);
	h.src_session = (uint16_t)(peer.id + 1);
	inj_send(&peer, &h, NULL, 0);
	/* Unknown session, but the sender names no session: nobody to reset. */
	h = inj_hdr(&peer, TERN_PKT_REQ);
	h.dst_session = 1000;
	h.src_session = TERN_SESSION_NONE;
	inj_send(&peer, &h, NULL, 0);
	/* A DISCONNECT for an unknown session is not answered. */
	h = inj_hdr(&peer, TERN_PKT_DISCONNECT);
	h.dst_session = 1000;
	inj_send(&peer, &h, NULL, 0);
	/* A RESET for an unknown session or with a wrong token: dropped. */
	h = inj_hdr(&peer, TERN_PKT_RESET);
	h.dst_session = 1000;
	uint64_t e = 1;
	inj_send(&peer, &h, &e, 8);
	inj_poll(ep);
	b = stats();
	CHECK_EQ(b.drops[TERN_DROP_SESSION], a.drops[TERN_DROP_SESSION] + 4);
	CHECK_EQ(inj_tx_count(peer.d), 0);
	CHECK_EQ(b.resets_sent, a.resets_sent);
	CHECK_EQ(tern_session_state(peer.s), TERN_SS_CONNECTED);
	teardown();
}

/*
 * The half-open race (seen at 20,000 sessions: 22,338 accepted for 20,000
 * opened): the server accepted our CONNECT, but its CONNECT_OK is late, and
 * a packet of the server's session (a PING) arrives while we still
 * connect. RESETting it tore the server's side down; the late CONNECT_OK
 * then connected us to a session the server no longer had. Now a packet
 * that carries our token is dropped, never RESET, and the CONNECT_OK that
 * follows connects us to a session the server still has.
 */
static void not_connected__packet_before_connect_ok_is_not_reset(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_session *s = NULL;
	REQUIRE(tern_connect(ep, p.addr_str, &s) == 0);
	inj_poll(ep);
	const struct inj_pkt *c = inj_expect_tx(d, TERN_PKT_CONNECT);
	REQUIRE(c != NULL);
	struct tern_wire_hs chs;
	tern_wire_hs_get(c->body, &chs);
	p.ep_id = c->h.src_session;
	p.ep_token = chs.token;
	p.s = s;
	/* The server's PING, before its CONNECT_OK. */
	struct tern_stats a = stats();
	inj_ctrl(&p, TERN_PKT_PING);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0); /* no RESET */
	CHECK_EQ(stats().resets_sent, a.resets_sent);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 1);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	/* A packet with another token is no proof of anything: dropped too. */
	struct tern_hdr h = inj_hdr(&p, TERN_PKT_PING);
	h.token ^= 1;
	inj_send(&p, &h, NULL, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().drops[TERN_DROP_TOKEN], a.drops[TERN_DROP_TOKEN] + 1);
	/* The late CONNECT_OK: connected, and calls work. */
	struct tern_hdr k;
	struct tern_wire_hs hs;
	connect_ok(&p, &chs, 0, &k, &hs);
	hs.max_msg_size = p.max_msg;
	hs.mtu = p.mtu;
	inj_send_hs(&p, &k, &hs);
	inj_poll(ep);
	REQUIRE(tern_session_state(s) == TERN_SS_CONNECTED);
	p.dpp = (chs.mtu < p.mtu ? chs.mtu : p.mtu) - TERN_HDR_LEN;
	struct inj_result r;
	inj_result_reset(&r);
	CHECK_EQ(call_on(s, 10, &r), 0);
	inj_poll(ep);
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
	REQUIRE(q != NULL);
	inj_resp_pkt(&p, q->h.req_num, 1, "ok", 2, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(stats().resets_sent, a.resets_sent);
	tern_session_close(s);
	teardown();
}

/* --- dispatch --------------------------------------------------------------------- */

static void rx_one__ping_pong(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	inj_ctrl(&p, TERN_PKT_PING);
	inj_poll(ep);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_PONG);
	REQUIRE(r != NULL);
	CHECK_EQ(r->h.dst_session, p.id);
	CHECK_EQ(r->h.src_session, p.ep_id);
	CHECK_EQ(r->h.token, p.token);
	CHECK_EQ(r->body_len, 0);
	CHECK_EQ(inj_tx_count(d), 0);
	teardown();
}

/* Replies go where the peer now sends from (NAT rebinding), but only for
 * packets that passed the token check. */
static void rx_one__peer_address_follows_authenticated_source(void)
{
	struct inj_peer p;
	struct tern_addr old, moved;
	REQUIRE(sess_setup_moving_peer(&p, &old, &moved) == 0);
	/* A forged packet from elsewhere (wrong token) moves nothing. */
	p.addr = moved;
	p.ep_token ^= 1;
	inj_ctrl(&p, TERN_PKT_PING);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_RESET) != NULL);
	CHECK(tern_addr_eq(&p.s->peer, &old));
	/* The real peer from its new address: followed. */
	p.ep_token ^= 1;
	inj_ctrl(&p, TERN_PKT_PING);
	inj_poll(ep);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_PONG);
	REQUIRE(r != NULL);
	CHECK(tern_addr_eq(&r->dst, &moved));
	CHECK(tern_addr_eq(&p.s->peer, &moved));
	/* Its retransmitted CONNECT from the old address still finds it. */
	p.addr = old;
	uint16_t id = p.ep_id;
	REQUIRE(inj_accept(&p) == 0);
	CHECK_EQ(p.ep_id, id);
	CHECK_EQ(stats().sessions_open, 1);
	teardown();
}

int main(void)
{
	RUN(rx_one__stateless_drops);
	RUN(rx_one__data_checks_per_session);
	RUN(unknown_session__reset_for_unknown_id_and_bad_token);
	RUN(rx_one__no_reset_cases);
	RUN(not_connected__packet_before_connect_ok_is_not_reset);
	RUN(rx_one__ping_pong);
	RUN(rx_one__peer_address_follows_authenticated_source);
	return check_exit();
}
