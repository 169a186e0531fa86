/*
 * test_connect.c — lib/connect.c, the handshake that opens a session: the
 * server's acceptance (CONNECT_OK's fields, retransmitted CONNECTs, a new
 * nonce, a full server, bad CONNECTs, the dedup table), the client's
 * CONNECT, its retransmission and backoff (judged by the order of the
 * answers and against the receive queue), the CONNECT_OKs it refuses and
 * the values it adopts, and the connect window. Plain sessions; the
 * authenticated handshake is test_noise.c's.
 *
 * Driven by injected packets on the virtual clock (fixture.h's sessions).
 */

#include "fixture.h"

/* --- server role ------------------------------------------------------------------ */

/* --- server role -------------------------------------------------------------- */

static void on_connect__connect_ok_fields(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	p.slots = 4;     /* fewer than our 8 */
	p.credits = 64;  /* more than our 32 */
	p.mtu = 500;     /* less than our 1472 */
	p.max_msg = 4096;
	struct tern_hdr h;
	struct tern_wire_hs hs, ok;
	inj_connect_pkt(&p, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_CONNECT_OK);
	REQUIRE(r != NULL);
	CHECK_EQ(r->wire, TERN_WIRE_OK);
	CHECK(tern_addr_eq(&r->dst, &p.addr));
	CHECK_EQ(r->h.status, 0);
	CHECK_EQ(r->h.dst_session, p.id);
	CHECK(r->h.src_session < ep->cfg.max_sessions);
	CHECK_EQ(r->h.token, p.token);
	REQUIRE(r->body_len == TERN_HS_LEN);
	tern_wire_hs_get(r->body, &ok);
	struct tern_session *s = ep->sessions[r->h.src_session];
	CHECK(ok.token != 0);
	CHECK_EQ(ok.token, s->token);
	CHECK(ok.epoch == ep->epoch);
	CHECK(ok.peer_epoch == p.epoch);
	CHECK(ok.nonce == p.nonce);
	CHECK_EQ(ok.slots, 4);
	CHECK_EQ(ok.credits, 32);
	CHECK_EQ(ok.mtu, ep->mtu);
	CHECK_EQ(ok.max_msg_size, ep->cfg.max_msg_size);
	CHECK_EQ(ok.hs_flags, 0);
	/* The session adopted the smaller of each. */
	CHECK_EQ(s->nslots, 4);
	CHECK_EQ(s->credits_max, 32);
	CHECK_EQ(s->dpp, 500 - TERN_HDR_LEN);
	CHECK_EQ(s->peer_max_msg, 4096);
	CHECK_EQ(s->peer_token, p.token);
	CHECK_EQ(s->peer_id, p.id);
	struct tern_stats st = stats();
	CHECK_EQ(st.sessions_open, 1);
	CHECK_EQ(st.sessions_accepted, 1);
	CHECK_EQ(evs.n, 1);
	CHECK_EQ(evs.ev[0], TERN_SESSION_ACCEPTED);
	CHECK(evs.s[0] == s);
	/* Packets on it are cut at the negotiated size: 468 bytes per packet. */
	tern_handle(ep, 1, echo, NULL, TERN_RRA);
	p.ep_id = r->h.src_session;
	p.ep_token = ok.token;
	p.dpp = 468;
	uint8_t msg[600];
	inj_fill(msg, sizeof(msg), 5);
	inj_req_msg(&p, 4, 1, msg, 600, 0);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_CR) != NULL);
	const struct inj_pkt *r0 = inj_expect_tx(d, TERN_PKT_RESP);
	REQUIRE(r0 != NULL);
	CHECK_EQ(r0->body_len, 468);
	CHECK_EQ(r0->h.msg_size, 600);
	/* And responses never exceed the client's max_msg_size: see test_req. */
	teardown();
}

static void on_connect__retransmitted_connect_same_answer(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	uint16_t id = p.ep_id;
	uint32_t tok = p.ep_token;
	for (int i = 0; i < 3; i++) {
		REQUIRE(inj_accept(&p) == 0);
		CHECK_EQ(p.ep_id, id);
		CHECK_EQ(p.ep_token, tok);
	}
	struct tern_stats st = stats();
	CHECK_EQ(st.sessions_open, 1);
	CHECK_EQ(st.sessions_accepted, 1);
	CHECK_EQ(evs.n, 1);
	teardown();
}

static void on_connect__new_nonce_replaces_session(void)
{
	REQUIRE(sess_setup() == 0);
	tern_handle(ep, 1, echo, NULL, TERN_RRA);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	uint32_t old_token = p.ep_token;
	/* A cached response lives on the old session. */
	inj_req(&p, 8, 1, 0, 3, 0, "abc", 3);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_RESP) != NULL);
	CHECK_EQ(stats().cached_responses, 1);
	/* The client started over: same address, epoch and session id, new nonce. */
	p.nonce++;
	p.token++;
	REQUIRE(inj_accept(&p) == 0);
	CHECK(p.ep_token != old_token);
	struct tern_stats st = stats();
	CHECK_EQ(st.sessions_open, 1);
	CHECK_EQ(st.sessions_accepted, 2);
	CHECK_EQ(st.cached_responses, 0);
	CHECK_EQ(st.msgs_in_use, 0);
	REQUIRE(evs.n == 3);
	CHECK_EQ(evs.ev[1], TERN_SESSION_RESET);
	CHECK_EQ(evs.err[1], -ECONNRESET);
	CHECK_EQ(evs.ev[2], TERN_SESSION_ACCEPTED);
	/* The new session starts clean: req 8 runs again. */
	inj_req(&p, 8, 1, 0, 3, 0, "abc", 3);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_RESP) != NULL);
	CHECK_EQ(stats().requests_executed, 2);
	/* The same nonce with another token is not a copy either: the client
	 * started over (and reused a nonce). */
	uint16_t id2 = p.ep_id;
	uint32_t tok2 = p.ep_token;
	p.token++;
	REQUIRE(inj_accept(&p) == 0);
	CHECK(p.ep_token != tok2);
	CHECK_EQ(p.ep_id, id2); /* the freed id, reused at once */
	CHECK_EQ(stats().sessions_accepted, 3);
	CHECK_EQ(stats().sessions_open, 1);
	/* The old token is refused with RESET. */
	struct tern_hdr h = inj_hdr(&p, TERN_PKT_PING);
	h.token = old_token;
	inj_send(&p, &h, NULL, 0);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_RESET) != NULL);
	teardown();
}

static void on_connect__server_full_refused(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	cfg.max_sessions = 2;
	REQUIRE(sess_setup_cfg(&cfg) == 0);
	struct inj_peer p[3];
	for (int i = 0; i < 2; i++) {
		inj_peer_init(&p[i], ep, NULL);
		p[i].id = (uint16_t)(10 + i);
		REQUIRE(inj_accept(&p[i]) == 0);
	}
	inj_peer_init(&p[2], ep, NULL);
	p[2].id = 12;
	struct tern_hdr h;
	struct tern_wire_hs hs, ok;
	inj_connect_pkt(&p[2], &h, &hs);
	inj_send_hs(&p[2], &h, &hs);
	inj_poll(ep);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_CONNECT_OK);
	REQUIRE(r != NULL);
	CHECK_EQ(r->h.status, ECONNREFUSED);
	CHECK_EQ(r->h.dst_session, 12);
	CHECK_EQ(r->h.src_session, TERN_SESSION_NONE);
	CHECK_EQ(r->h.token, p[2].token);
	tern_wire_hs_get(r->body, &ok);
	CHECK(ok.nonce == p[2].nonce);
	CHECK(ok.peer_epoch == p[2].epoch);
	CHECK_EQ(stats().sessions_open, 2);
	/* When one leaves, the next CONNECT gets in. */
	inj_ctrl(&p[0], TERN_PKT_DISCONNECT);
	inj_poll(ep);
	CHECK_EQ(stats().sessions_open, 1);
	CHECK(inj_accept(&p[2]) == 0);
	CHECK_EQ(stats().sessions_open, 2);
	teardown();
}

static void on_connect__bad_connects(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_hdr h;
	struct tern_wire_hs hs;
	/* Proposals we cannot accept get CONNECT_OK with EPROTO. */
	for (int k = 0; k < 5; k++) {
		inj_connect_pkt(&p, &h, &hs);
		switch (k) {
		case 0: hs.slots = 3; break;
		case 1: hs.slots = 0; break;
		case 2: hs.credits = 0; break;
		case 3: hs.mtu = TERN_HDR_LEN + 63; break;
		default: hs.max_msg_size = 0; break;
		}
		inj_send_hs(&p, &h, &hs);
		inj_poll(ep);
		const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_CONNECT_OK);
		REQUIRE(r != NULL);
		CHECK_EQ(r->h.status, EPROTO);
		CHECK_EQ(r->h.src_session, TERN_SESSION_NONE);
	}
	/* Malformed ones are dropped without an answer. */
	struct tern_stats a = stats();
	for (int k = 0; k < 4; k++) {
		inj_connect_pkt(&p, &h, &hs);
		switch (k) {
		case 0: h.dst_session = 0; break;
		case 1: h.src_session = TERN_SESSION_NONE; break;
		case 2: hs.epoch = 0; break;
		default: hs.token = 0; break;
		}
		inj_send_hs(&p, &h, &hs);
	}
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 4);
	CHECK_EQ(stats().sessions_open, 0);
	teardown();
}

static void hs_remove__dedup_table_survives_removals(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	cfg.max_sessions = 60; /* a 128-entry table, 60 keys: long probe runs */
	REQUIRE(sess_setup_cfg(&cfg) == 0);
	enum { N = 60 };
	static struct inj_peer p[N];
	for (int i = 0; i < N; i++) {
		inj_peer_init(&p[i], ep, NULL);
		p[i].id = (uint16_t)(100 + i);
		REQUIRE(inj_accept(&p[i]) == 0);
	}
	/* Remove two out of three, scattered (backward-shift deletion). */
	int gone = 0;
	for (int k = 0; k < N; k++) {
		int i = (k * 37) % N;
		if (i % 3 == 0)
			continue;
		inj_ctrl(&p[i], TERN_PKT_DISCONNECT);
		inj_poll(ep);
		gone++;
		/* After every removal, every survivor is still found. */
		if (k % 10 == 0) {
			for (int j = 0; j < N; j++) {
				if (ep->sessions[p[j].ep_id] == NULL ||
				    ep->sessions[p[j].ep_id]->state != SESS_CONNECTED)
					continue; /* removed */
				uint16_t id = p[j].ep_id;
				REQUIRE(inj_accept(&p[j]) == 0);
				CHECK_EQ(p[j].ep_id, id);
			}
		}
	}
	CHECK_EQ(stats().sessions_open, N - gone);
	for (int i = 0; i < N; i += 3) {
		uint16_t id = p[i].ep_id;
		uint32_t tok = p[i].ep_token;
		REQUIRE(inj_accept(&p[i]) == 0);
		CHECK_EQ(p[i].ep_id, id);
		CHECK_EQ(p[i].ep_token, tok);
	}
	CHECK_EQ(stats().sessions_open, N - gone);
	CHECK_EQ(stats().sessions_accepted, N);
	/* The removed ones come back as new sessions. */
	for (int i = 1; i < N; i += 3) {
		p[i].nonce++;
		REQUIRE(inj_accept(&p[i]) == 0);
	}
	CHECK_EQ(stats().sessions_accepted, N + N / 3);
	teardown();
}

/* --- client role --------------------------------------------------------------- */

static void connect__connect_fields(void)
{
	REQUIRE(sess_setup() == 0);
	struct tern_session *s;
	REQUIRE(tern_connect(ep, INJ_PEER_ADDR, &s) == 0);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	/* Sent at once, not at the next poll: its backoff runs from now
	 * (perf/sessions/run resent the whole first window of 64 when the
	 * CONNECTs waited for the poll after thousands of tern_connect()s). */
	CHECK_EQ(inj_tx_count(d), 1);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_CONNECT);
	REQUIRE(r != NULL);
	struct tern_addr a;
	tern_addr_parse(INJ_PEER_ADDR, &a);
	CHECK(tern_addr_eq(&r->dst, &a));
	CHECK_EQ(r->h.dst_session, TERN_SESSION_NONE);
	CHECK_EQ(r->h.src_session, s->id);
	CHECK_EQ(r->h.token, 0);
	REQUIRE(r->body_len == TERN_HS_LEN);
	struct tern_wire_hs hs;
	tern_wire_hs_get(r->body, &hs);
	CHECK(hs.epoch == ep->epoch);
	CHECK(hs.peer_epoch == 0);
	CHECK(hs.token != 0);
	CHECK_EQ(hs.token, s->token);
	CHECK(hs.nonce != 0);
	CHECK_EQ(hs.slots, ep->cfg.slots);
	CHECK_EQ(hs.credits, ep->cfg.credits);
	CHECK_EQ(hs.mtu, ep->mtu);
	CHECK_EQ(hs.max_msg_size, ep->cfg.max_msg_size);
	/* No free session: -ENOSPC. */
	struct tern_session *more[16];
	int opened = 0;
	while (opened < 16 && tern_connect(ep, INJ_PEER_ADDR, &more[opened]) == 0)
		opened++;
	CHECK_EQ(opened, (int)ep->cfg.max_sessions - 1);
	struct tern_session *x = (void *)1;
	CHECK_EQ(tern_connect(ep, INJ_PEER_ADDR, &x), -ENOSPC);
	CHECK(x == NULL);
	for (int i = 0; i < opened; i++)
		tern_session_close(more[i]);
	/* Bad addresses */
	CHECK_EQ(tern_connect(ep, "nonsense", &x), -EINVAL);
	CHECK(x == NULL);
	CHECK_EQ(tern_connect(ep, "10.0.0.2:0", &x), -EINVAL);
	CHECK_EQ(tern_connect(ep, NULL, &x), -EINVAL);
	CHECK_EQ(tern_connect(NULL, INJ_PEER_ADDR, &x), -EINVAL);
	CHECK_EQ(tern_connect(ep, INJ_PEER_ADDR, NULL), -EINVAL);
	teardown();
}

static void connect_timer__retransmitted_until_answered(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_session *s;
	REQUIRE(tern_connect(ep, p.addr_str, &s) == 0);
	tern_poll(ep);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_CONNECT);
	REQUIRE(r != NULL);
	struct tern_wire_hs first, hs;
	tern_wire_hs_get(r->body, &first);
	int n = 0, last_tick = 0, gaps_ok = 1, prev_gap = 0;
	for (int t = 1; t <= 35; t++) {
		inj_tick(ep, MS);
		while ((r = inj_pop_tx(d)) != NULL) {
			CHECK_EQ(r->h.type, TERN_PKT_CONNECT);
			tern_wire_hs_get(r->body, &hs);
			CHECK(hs.nonce == first.nonce); /* the same attempt */
			CHECK_EQ(hs.token, first.token);
			int gap = t - last_tick;
			if (gap < prev_gap)
				gaps_ok = 0; /* backoff never shrinks */
			prev_gap = gap;
			last_tick = t;
			n++;
		}
	}
	CHECK(n >= 3);
	CHECK(n <= 10); /* backed off, not once per tick */
	CHECK(gaps_ok);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	/* Answered: connected, and no more CONNECTs. */
	struct tern_hdr h;
	p.ep_id = s->id;
	connect_ok(&p, &first, 0, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK_EQ(stats().sessions_connected, 1);
	REQUIRE(evs.n == 1);
	CHECK_EQ(evs.ev[0], TERN_SESSION_CONNECTED);
	/* A duplicate CONNECT_OK is dropped. */
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_DUP], 1);
	for (int t = 0; t < 30; t++)
		inj_tick(ep, MS);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_CONNECT), 0);
	teardown();
}

/* Huge timeouts ("forever") must not wrap around into "already expired". */
static void connect_start__huge_timeouts_do_not_wrap(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	cfg.connect_timeout_ns = UINT64_MAX;
	REQUIRE(sess_setup_cfg(&cfg) == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_wire_hs chs, hs;
	struct tern_hdr h;
	struct tern_session *s = start_connect(&p, &chs);
	REQUIRE(s != NULL);
	for (int t = 0; t < 50; t++)
		inj_tick(ep, MS);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	/* tern_session_wait(UINT64_MAX) returns when it connects, not at once. */
	connect_ok(&p, &chs, 0, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	CHECK_EQ(tern_session_wait(s, UINT64_MAX), 0);
	teardown();
}

static void on_connect_ok__bad_connect_ok_ignored(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_wire_hs chs, hs;
	struct tern_hdr h;
	struct tern_session *s = start_connect(&p, &chs);
	REQUIRE(s != NULL);
	struct tern_stats a = stats();
	connect_ok(&p, &chs, 0, &h, &hs);
	h.token ^= 1; /* not our token */
	inj_send_hs(&p, &h, &hs);
	connect_ok(&p, &chs, 0, &h, &hs);
	hs.nonce ^= 1; /* answers another attempt */
	inj_send_hs(&p, &h, &hs);
	connect_ok(&p, &chs, 0, &h, &hs);
	hs.peer_epoch ^= 1; /* answers another incarnation of us */
	inj_send_hs(&p, &h, &hs);
	connect_ok(&p, &chs, ECONNREFUSED, &h, &hs);
	hs.nonce ^= 1; /* even a refusal must echo the nonce */
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	struct tern_stats b = stats();
	CHECK_EQ(b.drops[TERN_DROP_TOKEN], a.drops[TERN_DROP_TOKEN] + 1);
	CHECK_EQ(b.drops[TERN_DROP_STALE], a.drops[TERN_DROP_STALE] + 3);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	CHECK_EQ(evs.n, 0);
	CHECK_EQ(inj_tx_count(d), 0);
	/* The right one connects. */
	connect_ok(&p, &chs, 0, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	teardown();
}

static void on_connect_ok__refused_fails_queued_calls(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_wire_hs chs, hs;
	struct tern_hdr h;
	struct tern_session *s = start_connect(&p, &chs);
	REQUIRE(s != NULL);
	struct inj_result r[3];
	for (int i = 0; i < 3; i++) {
		inj_result_reset(&r[i]);
		CHECK_EQ(call_on(s, 10, &r[i]), 0);
	}
	tern_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0); /* calls wait for the session */
	connect_ok(&p, &chs, ECONNREFUSED, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].status, -ECONNREFUSED);
	}
	REQUIRE(evs.n == 1);
	CHECK_EQ(evs.ev[0], TERN_SESSION_FAILED);
	CHECK_EQ(evs.err[0], -ECONNREFUSED);
	CHECK_EQ(tern_session_wait(s, MS), -ECONNREFUSED);
	struct inj_result late;
	inj_result_reset(&late);
	CHECK_EQ(call_on(s, 10, &late), -ENOTCONN);
	/* Nothing runs twice; the handle stays until closed. */
	for (int t = 0; t < 50; t++)
		inj_tick(ep, MS);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(r[i].calls, 1);
	CHECK_EQ(late.calls, 0);
	CHECK_EQ(stats().sessions_open, 1);
	CHECK_EQ(stats().msgs_in_use, 0);
	CHECK_EQ(tern_session_close(s), 0);
	CHECK_EQ(stats().sessions_open, 0);
	CHECK_EQ(inj_tx_count(d), 0); /* no DISCONNECT for a session that never was */
	teardown();
}

static void connect_timer__timeout_fails_queued_calls(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_wire_hs chs;
	struct tern_session *s = start_connect(&p, &chs);
	REQUIRE(s != NULL);
	struct inj_result r[2];
	for (int i = 0; i < 2; i++) {
		inj_result_reset(&r[i]);
		CHECK_EQ(call_on(s, 10, &r[i]), 0);
	}
	for (int t = 0; t < 100 && tern_session_state(s) == TERN_SS_CONNECTING; t++)
		inj_tick(ep, MS);
	CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].status, -ETIMEDOUT);
	}
	REQUIRE(evs.n == 1);
	CHECK_EQ(evs.ev[0], TERN_SESSION_FAILED);
	CHECK_EQ(evs.err[0], -ETIMEDOUT);
	CHECK_EQ(stats().calls_timeout, 2);
	inj_tx_clear(d);
	/* A CONNECT_OK that arrives after we gave up: the server is told to let
	 * go with a RESET it will believe — it echoes the token the server
	 * stamped on the CONNECT_OK (ours), as every RESET echoes the token of
	 * the packet it refuses. */
	struct tern_hdr h;
	struct tern_wire_hs hs;
	connect_ok(&p, &chs, 0, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	const struct inj_pkt *rs = inj_expect_tx(d, TERN_PKT_RESET);
	REQUIRE(rs != NULL);
	CHECK_EQ(rs->h.dst_session, p.id);
	CHECK_EQ(rs->h.src_session, s->id);
	CHECK_EQ(rs->h.token, h.token);
	CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
	CHECK_EQ(tern_session_close(s), 0);
	teardown();
}

/* A server that took that RESET: it must tear the session down. */
static void on_connect_ok__stray_connect_ok_reset_is_believed(void)
{
	/* Two endpoints on the inject driver, the packets moved by hand. */
	struct tern_ep_config cfg;
	sess_config(&cfg);
	REQUIRE(sess_setup_cfg(&cfg) == 0); /* the client */
	struct tern_ep *cli = ep;
	struct inj *dc = d;
	cfg.bind = INJ_PEER_ADDR;
	struct tern_ep *srv = inj_ep_create(&cfg);
	REQUIRE(srv != NULL);
	struct inj *dsrv = inj_of(srv);
	struct tern_session *s;
	REQUIRE(tern_connect(cli, INJ_PEER_ADDR, &s) == 0);
	tern_poll(cli);
	const struct inj_pkt *c = inj_expect_tx(dc, TERN_PKT_CONNECT);
	REQUIRE(c != NULL);
	uint8_t cbuf[TERN_HDR_LEN + TERN_HS_LEN];
	REQUIRE(c->len == sizeof(cbuf));
	memcpy(cbuf, c->data, sizeof(cbuf));
	/* The client gives up before the answer comes. */
	for (int t = 0; t < 100 && tern_session_state(s) == TERN_SS_CONNECTING; t++)
		inj_tick(cli, MS);
	inj_tx_clear(dc);
	REQUIRE(tern_session_state(s) == TERN_SS_FAILED);
	/* The (late) CONNECT reaches the server, which accepts. */
	struct tern_addr caddr;
	tern_addr_parse(INJ_EP_ADDR, &caddr);
	inj_push_raw(dsrv, cbuf, sizeof(cbuf), &caddr, 0);
	inj_poll(srv);
	const struct inj_pkt *ok = inj_expect_tx(dsrv, TERN_PKT_CONNECT_OK);
	REQUIRE(ok != NULL);
	REQUIRE(ok->h.status == 0);
	struct tern_stats st;
	tern_ep_stats(srv, &st);
	CHECK_EQ(st.sessions_open, 1);
	/* Its CONNECT_OK reaches the client, which answers RESET ... */
	struct tern_addr saddr;
	tern_addr_parse(INJ_PEER_ADDR, &saddr);
	inj_push_raw(dc, ok->data, ok->len, &saddr, 0);
	inj_poll(cli);
	const struct inj_pkt *rs = inj_expect_tx(dc, TERN_PKT_RESET);
	REQUIRE(rs != NULL);
	/* ... which the server believes. */
	inj_push_raw(dsrv, rs->data, rs->len, &caddr, 0);
	inj_poll(srv);
	tern_ep_stats(srv, &st);
	CHECK_EQ(st.resets_rx, 1);
	CHECK_EQ(st.sessions_open, 0);
	CHECK_EQ(inj_tx_bad(dsrv), 0);
	tern_ep_destroy(srv);
	tern_session_close(s);
	teardown();
}

static void on_connect_ok__bad_negotiation_fails(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	for (int k = 0; k < 5; k++) {
		struct tern_wire_hs chs, hs;
		struct tern_hdr h;
		struct tern_session *s = start_connect(&p, &chs);
		REQUIRE(s != NULL);
		connect_ok(&p, &chs, 0, &h, &hs);
		switch (k) {
		case 0: hs.slots = (uint16_t)(chs.slots * 2); break; /* more than we offered */
		case 1: hs.slots = 3; break;
		case 2: hs.credits = (uint16_t)(chs.credits + 1); break;
		case 3: hs.mtu = TERN_HDR_LEN + 10; break;
		default: hs.max_msg_size = 0; break;
		}
		inj_send_hs(&p, &h, &hs);
		inj_poll(ep);
		CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
		CHECK_EQ(tern_session_wait(s, MS), -EPROTO);
		tern_session_close(s);
	}
	CHECK_EQ(stats().sessions_open, 0);
	teardown();
}

static void on_connect_ok__negotiated_values_used(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	p.slots = 2;
	p.credits = 3;
	p.mtu = 200;
	REQUIRE(inj_connect(&p) == 0);
	struct tern_session *s = p.s;
	CHECK_EQ(s->nslots, 2);
	CHECK_EQ(s->credits_max, 3);
	CHECK_EQ(s->dpp, 200 - TERN_HDR_LEN);
	CHECK(tern_addr_eq(&s->peer, &p.addr));
	/* Three calls: two take the two slots, the third waits. */
	struct inj_result r[3];
	for (int i = 0; i < 3; i++) {
		inj_result_reset(&r[i]);
		CHECK_EQ(call_on(s, 10, &r[i]), 0);
	}
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 2);
	CHECK_EQ(s->bl_len, 1);
	tern_session_close(s);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(r[i].calls, 1);
	teardown();
}

/* CONNECT retransmissions back off up to a cap (200 ms), not forever. */
static void connect_timer__backoff_capped(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	cfg.connect_timeout_ns = 3000 * MS;
	REQUIRE(sess_setup_cfg(&cfg) == 0);
	struct tern_session *s;
	REQUIRE(tern_connect(ep, INJ_PEER_ADDR, &s) == 0);
	tern_poll(ep);
	inj_tx_clear(d);
	int last = 0, gap = 0, n = 0;
	for (int t = 1; t <= 2000; t++) {
		inj_tick(ep, MS);
		if (inj_skip_tx(d, TERN_PKT_CONNECT) != 0) {
			gap = t - last;
			last = t;
			n++;
		}
	}
	CHECK(n >= 10);
	CHECK(gap >= 199 && gap <= 201);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	teardown();
}

/* --- retransmission judged against the receive queue ------------------------------- */

/* n datagrams too short for a header (dropped, never answered): a burst
 * of TERN_RX_BURST of them comes back full, and the queue is not seen empty. */
static void junk(unsigned n, const struct inj_peer *p)
{
	for (unsigned i = 0; i < n; i++)
		inj_push_raw(d, "x", 1, &p->addr, 0);
}

/* The timing wheel fires a timer in the first tick (1.024 µs) at or after
 * its time: a clock moved to a time plus SLACK is past it. */
#define SLACK (2 * US)

/* An endpoint set up with cfg (NULL: sess_config()) that has sent its
 * CONNECT to p (p's defaults); NULL if any of it failed. */
static struct tern_session *connecting(const struct tern_ep_config *cfg, struct inj_peer *p,
				       struct tern_wire_hs *chs)
{
	if ((cfg != NULL ? sess_setup_cfg(cfg) : sess_setup()) != 0)
		return NULL;
	inj_peer_init(p, ep, NULL);
	return start_connect(p, chs);
}

/* Advance the virtual clock to t (no poll). */
static void clock_to(uint64_t t)
{
	if (t > inj_clock())
		inj_clock_advance(t - inj_clock());
}

/* Under load the first burst of a poll comes back full and the CONNECT_OK
 * waits behind it while the retransmission comes due in that poll: it is
 * not lost, and no second CONNECT goes (scale_loop_20k sent 39,584
 * CONNECTs for 20,000 sessions so). */
static void connect_timer__answer_behind_full_burst_not_resent(void)
{
	struct inj_peer p;
	struct tern_wire_hs chs, hs;
	struct tern_hdr h;
	struct tern_session *s = connecting(NULL, &p, &chs);
	REQUIRE(s != NULL);
	CHECK_EQ(stats().connects_sent, 1);
	inj_tick(ep, s->hs_backoff_ns / 2); /* the queue seen empty before due */
	junk(TERN_RX_BURST, &p);
	connect_ok(&p, &chs, 0, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	clock_to(s->hs_next_ns + SLACK);
	tern_poll(ep); /* a full burst, then the timer */
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_CONNECT), 0);
	CHECK_EQ(stats().connects_sent, 1);
	tern_poll(ep); /* the CONNECT_OK */
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_CONNECT), 0);
	CHECK_EQ(stats().connects_sent, 1);
	CHECK_EQ(stats().drops[TERN_DROP_SHORT], TERN_RX_BURST);
	teardown();
}

/* A callback held the poll past the retransmission time: no burst has seen
 * the queue since the CONNECT was due, so the timer looks again after the
 * next one. If the CONNECT_OK arrived meanwhile, that burst finds it and no
 * second CONNECT goes; if nothing came, the CONNECT goes then. */
static struct tern_session *slow_sess;  /* its CONNECTED event runs long */
static struct inj_peer *slow_peer;       /* whose CONNECT_OK arrives meanwhile (or NULL) */
static const struct tern_wire_hs *slow_chs;
static uint64_t slow_until;

static void slow_on_session(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	(void)err;
	(void)ctx;
	if (s != slow_sess || ev != TERN_SESSION_CONNECTED)
		return;
	clock_to(slow_until);
	if (slow_peer != NULL) {
		struct tern_hdr h;
		struct tern_wire_hs hs;
		connect_ok(slow_peer, slow_chs, 0, &h, &hs);
		inj_send_hs(slow_peer, &h, &hs);
	}
}

static void long_callback(int answered)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	cfg.on_session = slow_on_session;
	REQUIRE(sess_setup_cfg(&cfg) == 0);
	struct inj_peer pa, pb;
	inj_peer_init(&pa, ep, NULL);
	inj_peer_init(&pb, ep, NULL);
	pb.id = 8;
	struct tern_wire_hs chs_a, chs_b, hs;
	struct tern_hdr h;
	struct tern_session *a = start_connect(&pa, &chs_a);
	struct tern_session *b = start_connect(&pb, &chs_b);
	REQUIRE(a != NULL && b != NULL);
	CHECK_EQ(stats().connects_sent, 2);
	/* B's answer comes before A's CONNECT is due; B's event runs until
	 * after it (and A's answer arrives then). */
	slow_sess = b;
	slow_peer = answered ? &pa : NULL;
	slow_chs = &chs_a;
	uint64_t due = a->hs_next_ns;
	slow_until = due + MS / 10;
	inj_tick(ep, a->hs_backoff_ns / 2);
	connect_ok(&pb, &chs_b, 0, &h, &hs);
	inj_send_hs(&pb, &h, &hs);
	tern_poll(ep);
	CHECK_EQ(tern_session_state(b), TERN_SS_CONNECTED);
	CHECK_EQ(tern_session_state(a), TERN_SS_CONNECTING);
	CHECK(inj_clock() > due + SLACK);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_CONNECT), 0);
	CHECK_EQ(stats().connects_sent, 2);
	inj_tick(ep, SLACK); /* the next burst */
	if (answered) {
		CHECK_EQ(tern_session_state(a), TERN_SS_CONNECTED);
		CHECK_EQ(inj_skip_tx(d, TERN_PKT_CONNECT), 0);
		CHECK_EQ(stats().connects_sent, 2);
	} else {
		CHECK_EQ(tern_session_state(a), TERN_SS_CONNECTING);
		const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_CONNECT);
		CHECK(q != NULL && q->h.src_session == a->id);
		CHECK_EQ(stats().connects_sent, 3);
	}
	slow_sess = NULL;
	teardown();
}

static void connect_timer__answer_queued_during_long_callback_not_resent(void)
{
	long_callback(1);
}

static void connect_timer__long_callback_then_queue_empty_resends(void)
{
	long_callback(0);
}

/* Real loss: the queue seen empty after the CONNECT was due, and the
 * CONNECT goes again — at once when the poll's burst emptied it; after a
 * full burst (judged not lost), a backoff after it was due (call.c's rule
 * for RTOs: bursts were seen full since due, so the timer looks again
 * then rather than at every poll), the queue having been seen empty. */
static void connect_timer__queue_seen_empty_resends(void)
{
	struct inj_peer p;
	struct tern_wire_hs chs;
	struct tern_session *s = connecting(NULL, &p, &chs);
	REQUIRE(s != NULL);
	clock_to(s->hs_next_ns + SLACK);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_CONNECT), 1);
	CHECK_EQ(stats().connects_sent, 2);
	/* The next one comes due in a poll whose burst is full of junk. */
	uint64_t due = s->hs_next_ns, backoff = s->hs_backoff_ns;
	junk(TERN_RX_BURST, &p);
	clock_to(due + SLACK);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_CONNECT), 0);
	inj_tick(ep, SLACK); /* the queue is seen empty: nothing was waiting */
	clock_to(due + backoff + SLACK);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_CONNECT), 1);
	CHECK_EQ(stats().connects_sent, 3);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	teardown();
}

/* Bursts that keep coming back full do not hold the retransmission back
 * for ever: it goes once they have done so for a whole backoff more. */
static void connect_timer__queue_full_for_a_backoff_resends(void)
{
	struct inj_peer p;
	struct tern_wire_hs chs;
	struct tern_session *s = connecting(NULL, &p, &chs);
	REQUIRE(s != NULL);
	uint64_t due = s->hs_next_ns, backoff = s->hs_backoff_ns;
	uint64_t step = backoff / 8, sent_at = 0;
	for (int t = 0; t < 40 && sent_at == 0; t++) {
		junk(TERN_RX_BURST, &p);
		inj_tick(ep, step);
		if (inj_skip_tx(d, TERN_PKT_CONNECT) != 0)
			sent_at = inj_clock();
	}
	CHECK(sent_at >= due + backoff);
	CHECK(sent_at <= due + backoff + step); /* at the first poll past it */
	CHECK_EQ(stats().connects_sent, 2);
	teardown();
}

/* The handshake deadline holds while the queue stays full: a look again
 * that would fall after it is cut to it. */
static void connect_timer__deadline_holds_under_full_queue(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	cfg.connect_timeout_ns = 3 * MS / 2; /* after the first due (1 ms), before due + backoff */
	struct inj_peer p;
	struct tern_wire_hs chs;
	struct tern_session *s = connecting(&cfg, &p, &chs);
	REQUIRE(s != NULL);
	uint64_t deadline = s->hs_deadline_ns;
	REQUIRE(s->hs_next_ns < deadline && s->hs_next_ns + s->hs_backoff_ns > deadline);
	junk(TERN_RX_BURST, &p);
	clock_to(s->hs_next_ns + SLACK);
	tern_poll(ep); /* due, judged not lost: looks again at the deadline */
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_CONNECT), 0);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	junk(TERN_RX_BURST, &p);
	clock_to(deadline + SLACK);
	tern_poll(ep);
	CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
	REQUIRE(evs.n == 1);
	CHECK_EQ(evs.ev[0], TERN_SESSION_FAILED);
	CHECK_EQ(evs.err[0], -ETIMEDOUT);
	CHECK_EQ(stats().connects_sent, 1);
	tern_session_close(s);
	teardown();
}

/* The index in s[] of the session a CONNECT came from; -1 if none. */
static int connect_from(const struct inj_pkt *q, struct tern_session *const *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] != NULL && s[i]->id == q->h.src_session)
			return i;
	return -1;
}

/* The connect window: at most TERN_CONNECT_WINDOW CONNECTs outstanding; the
 * other sessions wait, in order, sending nothing, and each CONNECT answered
 * or abandoned lets the next one go. */
static void connect_start__window_holds_the_rest_in_order(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	cfg.max_sessions = 100;
	REQUIRE(sess_setup_cfg(&cfg) == 0);
	enum { W = TERN_CONNECT_WINDOW, N = TERN_CONNECT_WINDOW + 6 };
	struct tern_session *s[N];
	static struct tern_wire_hs chs[N];
	int sent[N];
	for (int i = 0; i < N; i++) {
		REQUIRE(tern_connect(ep, INJ_PEER_ADDR, &s[i]) == 0);
		sent[i] = 0;
	}
	tern_poll(ep);
	const struct inj_pkt *q;
	int strays = 0;
	while ((q = inj_pop_tx(d)) != NULL) {
		int i = connect_from(q, s, N);
		if (q->h.type != TERN_PKT_CONNECT || i < 0) {
			strays++;
			continue;
		}
		sent[i]++;
		tern_wire_hs_get(q->body, &chs[i]);
	}
	CHECK_EQ(strays, 0);
	for (int i = 0; i < N; i++)
		CHECK_EQ(sent[i], i < W);
	CHECK_EQ(stats().connects_sent, W);
	/* Retransmissions come from the window only. */
	for (int t = 0; t < 5; t++)
		inj_tick(ep, MS);
	int resent = 0, outside = 0;
	while ((q = inj_pop_tx(d)) != NULL) {
		int i = connect_from(q, s, N);
		resent++;
		outside += q->h.type != TERN_PKT_CONNECT || i < 0 || i >= W;
	}
	CHECK(resent >= W);
	CHECK_EQ(outside, 0);
	/* An answer lets the first waiting session send its CONNECT. */
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	p.ep_id = s[0]->id;
	p.ep_token = chs[0].token;
	struct tern_hdr h;
	struct tern_wire_hs hs;
	connect_ok(&p, &chs[0], 0, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	CHECK_EQ(tern_session_state(s[0]), TERN_SS_CONNECTED);
	q = inj_expect_tx(d, TERN_PKT_CONNECT);
	REQUIRE(q != NULL);
	CHECK_EQ(connect_from(q, s, N), W);
	CHECK_EQ(inj_tx_count(d), 0);
	/* A waiting session that is closed frees no place; one in the window
	 * does, and the next in line (not the closed one) goes. */
	CHECK_EQ(tern_session_close(s[W + 1]), 0);
	s[W + 1] = NULL;
	CHECK_EQ(tern_session_close(s[1]), 0);
	s[1] = NULL;
	tern_poll(ep);
	int next = -1, connects = 0;
	while ((q = inj_pop_tx(d)) != NULL) {
		if (q->h.type != TERN_PKT_CONNECT)
			continue;
		connects++;
		next = connect_from(q, s, N);
	}
	CHECK_EQ(connects, 1);
	CHECK_EQ(next, W + 2);
	for (int i = 0; i < N; i++)
		if (s[i] != NULL)
			tern_session_close(s[i]);
	teardown();
}

/* --- retransmission judged by the order of the answers (loss.h's RACK rule) ---------- */

/* NQ sessions whose CONNECTs went in this order, one after the other in
 * the same poll; peer p[i] is the server's side of s[i]. */
enum { NQ = 4 };
struct queue {
	struct inj_peer p[NQ];
	struct tern_wire_hs chs[NQ];
	struct tern_session *s[NQ];
};

static int queue_setup(struct queue *q)
{
	if (sess_setup() != 0)
		return -1;
	for (int i = 0; i < NQ; i++) {
		inj_peer_init(&q->p[i], ep, NULL);
		q->p[i].id = (uint16_t)(10 + i);
		q->s[i] = start_connect(&q->p[i], &q->chs[i]);
		if (q->s[i] == NULL)
			return -1;
	}
	return 0;
}

/* Run the handshakes for `steps` polls an eighth of a backoff apart, the
 * server answering s[i] just before poll at[i] (0: never). first[i]: the
 * poll in which s[i]'s CONNECT first went again (0: never). Returns the
 * CONNECTs that went again in all. */
static int queue_run(struct queue *q, const int *at, int steps, int *first)
{
	uint64_t step = q->s[0]->hs_backoff_ns / 8;
	int n = 0;
	for (int i = 0; i < NQ; i++)
		first[i] = 0;
	for (int t = 1; t <= steps; t++) {
		for (int i = 0; i < NQ; i++) {
			if (at[i] != t)
				continue;
			struct tern_hdr h;
			struct tern_wire_hs hs;
			connect_ok(&q->p[i], &q->chs[i], 0, &h, &hs);
			inj_send_hs(&q->p[i], &h, &hs);
		}
		inj_tick(ep, step);
		const struct inj_pkt *r;
		while ((r = inj_pop_tx(d)) != NULL) {
			int i = connect_from(r, q->s, NQ);
			if (r->h.type != TERN_PKT_CONNECT || i < 0)
				continue;
			n++;
			if (first[i] == 0)
				first[i] = t;
		}
	}
	return n;
}

/* The server works through its queue, one CONNECT_OK every half backoff,
 * in the order the CONNECTs left: the later ones wait past their backoff,
 * but CONNECT_OKs keep coming for CONNECTs sent before them, so their turn
 * is coming and none goes again; each connects when its answer comes
 * (scale_loop_20k, loaded: a process descheduled past the backoff found
 * the queue empty while the server was only behind, and resent). */
static void connect_timer__answers_in_order_hold_later_connects(void)
{
	struct queue q;
	REQUIRE(queue_setup(&q) == 0);
	const int at[NQ] = {4, 8, 12, 16}; /* due at 8: s[1..3] wait past it */
	int first[NQ];
	CHECK_EQ(queue_run(&q, at, 24, first), 0);
	for (int i = 0; i < NQ; i++)
		CHECK_EQ(tern_session_state(q.s[i]), TERN_SS_CONNECTED);
	CHECK_EQ(stats().connects_sent, NQ);
	CHECK_EQ(stats().sessions_connected, NQ);
	teardown();
}

/* s[1]'s answer is lost; answers come for s[2], sent after it: s[1] goes
 * again as soon as its backoff passes (the first poll after), while s[3],
 * sent after the last CONNECT answered, waits its turn and connects
 * without a second CONNECT. */
static void connect_timer__answer_to_a_later_connect_resends(void)
{
	struct queue q;
	REQUIRE(queue_setup(&q) == 0);
	const int at[NQ] = {2, 0, 6, 12};
	int first[NQ];
	CHECK_EQ(queue_run(&q, at, 12, first), 1);
	CHECK_EQ(first[1], 9);
	CHECK_EQ(first[3], 0);
	CHECK_EQ(tern_session_state(q.s[1]), TERN_SS_CONNECTING);
	CHECK_EQ(tern_session_state(q.s[3]), TERN_SS_CONNECTED);
	const int late[NQ] = {0, 1, 0, 0}; /* the answer to its second CONNECT */
	CHECK_EQ(queue_run(&q, late, 1, first), 0);
	CHECK_EQ(tern_session_state(q.s[1]), TERN_SS_CONNECTED);
	CHECK_EQ(stats().connects_sent, NQ + 1);
	teardown();
}

/* No answer at all: every CONNECT goes again when its backoff passes (the
 * first poll after), as without the rule, and once only until the doubled
 * backoff passes. */
static void connect_timer__no_answers_resend_at_the_backoff(void)
{
	struct queue q;
	REQUIRE(queue_setup(&q) == 0);
	const int at[NQ] = {0, 0, 0, 0};
	int first[NQ];
	CHECK_EQ(queue_run(&q, at, 24, first), NQ);
	for (int i = 0; i < NQ; i++) {
		CHECK_EQ(first[i], 9);
		CHECK_EQ(tern_session_state(q.s[i]), TERN_SS_CONNECTING);
	}
	CHECK_EQ(stats().connects_sent, 2 * NQ);
	teardown();
}

/* The answers stop: s[0]'s came half a backoff before the others were due,
 * so they wait then; once none has come for a whole backoff (after poll
 * 12), they are lost and go again, at the first look after (their turn was
 * judged coming at 9: the next look is as long again after). */
static void connect_timer__answers_stop_then_resend(void)
{
	struct queue q;
	REQUIRE(queue_setup(&q) == 0);
	const int at[NQ] = {4, 0, 0, 0};
	int first[NQ];
	CHECK_EQ(queue_run(&q, at, 20, first), NQ - 1);
	for (int i = 1; i < NQ; i++) {
		CHECK(first[i] > 12);
		CHECK(first[i] <= 19);
	}
	CHECK_EQ(tern_session_state(q.s[0]), TERN_SS_CONNECTED);
	teardown();
}

int main(void)
{
	RUN(on_connect__connect_ok_fields);
	RUN(on_connect__retransmitted_connect_same_answer);
	RUN(on_connect__new_nonce_replaces_session);
	RUN(on_connect__server_full_refused);
	RUN(on_connect__bad_connects);
	RUN(hs_remove__dedup_table_survives_removals);
	RUN(connect__connect_fields);
	RUN(connect_timer__retransmitted_until_answered);
	RUN(connect_start__huge_timeouts_do_not_wrap);
	RUN(on_connect_ok__bad_connect_ok_ignored);
	RUN(on_connect_ok__refused_fails_queued_calls);
	RUN(connect_timer__timeout_fails_queued_calls);
	RUN(on_connect_ok__stray_connect_ok_reset_is_believed);
	RUN(on_connect_ok__bad_negotiation_fails);
	RUN(on_connect_ok__negotiated_values_used);
	RUN(connect_timer__backoff_capped);
	RUN(connect_start__window_holds_the_rest_in_order);
	RUN(connect_timer__answer_behind_full_burst_not_resent);
	RUN(connect_timer__answer_queued_during_long_callback_not_resent);
	RUN(connect_timer__long_callback_then_queue_empty_resends);
	RUN(connect_timer__queue_seen_empty_resends);
	RUN(connect_timer__queue_full_for_a_backoff_resends);
	RUN(connect_timer__deadline_holds_under_full_queue);
	RUN(connect_timer__answers_in_order_hold_later_connects);
	RUN(connect_timer__answer_to_a_later_connect_resends);
	RUN(connect_timer__no_answers_resend_at_the_backoff);
	RUN(connect_timer__answers_stop_then_resend);
	return check_exit();
}
