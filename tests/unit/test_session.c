/*
 * test_session.c — lib/session.c, the life of a session once it exists:
 * DISCONNECT and RESET from the peer (and reconnecting after one), close,
 * keepalive and dead peers, tern_session_wait. Opening one is
 * test_connect.c's.
 *
 * Driven by injected packets on the virtual clock (fixture.h's sessions).
 */

#include "fixture.h"

/* --- DISCONNECT and RESET --------------------------------------------------------- */

static void on_disconnect__server_session_closed(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	inj_ctrl(&p, TERN_PKT_DISCONNECT);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	struct tern_stats st = stats();
	CHECK_EQ(st.sessions_open, 0);
	CHECK_EQ(st.sessions_closed, 1);
	REQUIRE(evs.n == 2);
	CHECK_EQ(evs.ev[1], TERN_SESSION_CLOSED);
	/* Anything after it names a session we do not have. */
	inj_ctrl(&p, TERN_PKT_PING);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_RESET) != NULL);
	teardown();
}

static void on_disconnect__client_session_fails_calls(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r[2];
	for (int i = 0; i < 2; i++) {
		inj_result_reset(&r[i]);
		CHECK_EQ(call_on(p.s, 10, &r[i]), 0);
	}
	tern_poll(ep);
	inj_tx_clear(d);
	inj_ctrl(&p, TERN_PKT_DISCONNECT);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_FAILED);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].status, -ECONNRESET); /* outcome unknown */
	}
	REQUIRE(evs.n == 2);
	CHECK_EQ(evs.ev[1], TERN_SESSION_CLOSED);
	CHECK_EQ(stats().sessions_closed, 1);
	CHECK_EQ(stats().sessions_open, 1); /* the handle, until closed */
	CHECK_EQ(tern_session_close(p.s), 0);
	CHECK_EQ(stats().sessions_open, 0);
	teardown();
}

static void on_reset__server_side(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	/* Wrong token or wrong source session: not believed. */
	p.token ^= 1;
	inj_reset(&p);
	p.token ^= 1;
	p.id++;
	inj_reset(&p);
	p.id--;
	inj_poll(ep);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTED);
	CHECK_EQ(stats().drops[TERN_DROP_TOKEN], 2);
	CHECK_EQ(stats().resets_rx, 0);
	/* The real one tears the session down, without an answer. */
	inj_reset(&p);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().resets_rx, 1);
	CHECK_EQ(stats().sessions_open, 0);
	REQUIRE(evs.n == 2);
	CHECK_EQ(evs.ev[1], TERN_SESSION_RESET);
	teardown();
}

static void on_reset__client_inflight_calls_fail_once(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r[10];
	for (int i = 0; i < 10; i++) { /* 8 slots + 2 in the backlog */
		inj_result_reset(&r[i]);
		CHECK_EQ(call_on(p.s, 10, &r[i]), 0);
	}
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 8);
	/* A RESET with the wrong token is not believed. */
	p.token ^= 1;
	inj_reset(&p);
	p.token ^= 1;
	inj_poll(ep);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTED);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(r[i].calls, 0);
	/* The real one fails everything, exactly once. */
	inj_reset(&p);
	inj_reset(&p);
	inj_poll(ep);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_FAILED);
	for (int i = 0; i < 10; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].status, -ECONNRESET);
	}
	struct tern_stats st = stats();
	CHECK_EQ(st.calls_reset, 10);
	CHECK_EQ(st.resets_rx, 1);
	CHECK_EQ(st.msgs_in_use, 0);
	REQUIRE(evs.n == 2);
	CHECK_EQ(evs.ev[1], TERN_SESSION_RESET);
	CHECK_EQ(tern_session_wait(p.s, MS), -ECONNRESET);
	for (int t = 0; t < 100; t++)
		inj_tick(ep, MS);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(r[i].calls, 1);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 0); /* nothing retransmitted */
	/* Packets for the failed session get RESET. */
	inj_tx_clear(d);
	inj_ctrl(&p, TERN_PKT_PING);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_RESET) != NULL);
	tern_session_close(p.s);
	teardown();
}

static void on_reset__reconnect_reissues_idempotent(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	cfg.flags = TERN_EP_RECONNECT;
	REQUIRE(sess_setup_cfg(&cfg) == 0);
	tern_handle(ep, 1, echo, NULL, TERN_RRA);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	p.slots = 2;
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result idem, plain, queued;
	inj_result_reset(&idem);
	inj_result_reset(&plain);
	inj_result_reset(&queued);
	CHECK_EQ(tern_call_ex(p.s, 1, inj_msg(ep, 5, 11), inj_cont, &idem, 0, TERN_CALL_IDEMPOTENT), 0);
	CHECK_EQ(tern_call(p.s, 1, inj_msg(ep, 5, 12), inj_cont, &plain, 0), 0);
	CHECK_EQ(tern_call(p.s, 1, inj_msg(ep, 5, 13), inj_cont, &queued, 0), 0); /* backlog */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 2);
	struct tern_wire_hs old;
	memset(&old, 0, sizeof(old));
	uint32_t old_token = p.ep_token;
	uint64_t old_nonce = p.nonce;
	inj_reset(&p);
	inj_poll(ep);
	/* The plain call fails; the idempotent one and the queued one wait. */
	CHECK_EQ(plain.calls, 1);
	CHECK_EQ(plain.status, -ECONNRESET);
	CHECK_EQ(idem.calls, 0);
	CHECK_EQ(queued.calls, 0);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTING);
	/* A fresh handshake: new nonce and token. */
	const struct inj_pkt *c = inj_expect_tx(d, TERN_PKT_CONNECT);
	REQUIRE(c != NULL);
	struct tern_wire_hs chs;
	tern_wire_hs_get(c->body, &chs);
	CHECK(chs.nonce != old_nonce);
	CHECK(chs.token != old_token);
	CHECK_EQ(c->h.src_session, p.ep_id); /* same handle, same id */
	/* The server (restarted: new epoch) accepts. */
	p.epoch++;
	p.token++;
	struct tern_hdr h;
	struct tern_wire_hs hs;
	p.ep_token = chs.token;
	connect_ok(&p, &chs, 0, &h, &hs);
	hs.slots = 2;
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTED);
	/* Re-issued: the idempotent call first, then the queued one. */
	const struct inj_pkt *q1 = inj_expect_tx(d, TERN_PKT_REQ);
	REQUIRE(q1 != NULL);
	CHECK_EQ(q1->h.token, p.token);
	uint8_t want[5];
	inj_fill(want, 5, 11);
	CHECK(q1->body_len == 5 && memcmp(q1->body, want, 5) == 0);
	uint64_t n1 = q1->h.req_num;
	const struct inj_pkt *q2 = inj_expect_tx(d, TERN_PKT_REQ);
	REQUIRE(q2 != NULL);
	inj_fill(want, 5, 13);
	CHECK(q2->body_len == 5 && memcmp(q2->body, want, 5) == 0);
	uint64_t n2 = q2->h.req_num;
	inj_resp_pkt(&p, n1, 1, "one", 3, 0);
	inj_resp_pkt(&p, n2, 1, "two", 3, 0);
	inj_poll(ep);
	CHECK_EQ(idem.calls, 1);
	CHECK_EQ(idem.status, 0);
	CHECK(idem.len == 3 && memcmp(idem.data, "one", 3) == 0);
	CHECK_EQ(queued.calls, 1);
	CHECK_EQ(queued.status, 0);
	CHECK_EQ(plain.calls, 1);
	teardown();
}

/* Reconnect while an idempotent call is half way through a multi-packet
 * response: the partial response is dropped and the call starts over. */
static void on_reset__reconnect_mid_response(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	cfg.flags = TERN_EP_RECONNECT;
	cfg.mtu = 96;
	REQUIRE(sess_setup_cfg(&cfg) == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_call_ex(p.s, 1, inj_msg(ep, 5, 1), inj_cont, &r, 0, TERN_CALL_IDEMPOTENT) == 0);
	tern_poll(ep);
	inj_tx_clear(d);
	static uint8_t resp[300];
	inj_fill(resp, sizeof(resp), 3);
	inj_resp_pkt(&p, 8, 1, resp, 300, 0);
	inj_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_RFR), 4);
	CHECK_EQ(stats().msgs_in_use, 2); /* request, reassembly buffer */
	inj_reset(&p);
	inj_poll(ep);
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(stats().msgs_in_use, 1); /* the reassembly buffer went */
	const struct inj_pkt *c = inj_expect_tx(d, TERN_PKT_CONNECT);
	REQUIRE(c != NULL);
	struct tern_wire_hs chs;
	tern_wire_hs_get(c->body, &chs);
	p.ep_token = chs.token;
	struct tern_hdr h;
	struct tern_wire_hs hs;
	connect_ok(&p, &chs, 0, &h, &hs);
	hs.epoch = p.epoch + 1;
	inj_send_hs(&p, &h, &hs);
	inj_poll(ep);
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
	REQUIRE(q != NULL);
	uint64_t rn = q->h.req_num;
	inj_resp_pkt(&p, rn, 1, resp, 100, 0);
	inj_resp_pkt(&p, rn, 1, resp, 100, 1);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK(r.len == 100 && memcmp(r.data, resp, 100) == 0);
	teardown();
}

/* --- close ------------------------------------------------------------------------ */

static void session_close__server_session_sends_disconnect(void)
{
	REQUIRE(sess_setup() == 0);
	tern_handle(ep, 1, echo, NULL, TERN_RRA);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	inj_req(&p, 8, 1, 0, 2, 0, "hi", 2);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_RESP) != NULL);
	CHECK_EQ(stats().cached_responses, 1);
	CHECK_EQ(tern_session_close(p.s), 0);
	tern_poll(ep);
	const struct inj_pkt *x = inj_expect_tx(d, TERN_PKT_DISCONNECT);
	REQUIRE(x != NULL);
	CHECK_EQ(x->h.dst_session, p.id);
	CHECK_EQ(x->h.src_session, p.ep_id);
	CHECK_EQ(x->h.token, p.token);
	CHECK(tern_addr_eq(&x->dst, &p.addr));
	struct tern_stats st = stats();
	CHECK_EQ(st.sessions_open, 0);
	CHECK_EQ(st.cached_responses, 0);
	CHECK_EQ(st.msgs_in_use, 0);
	/* The handle is gone with the session (its memory is freed: sessions
	 * cost memory only while in use), so it is not closed twice here. */
	CHECK(ep->sessions[p.ep_id] == NULL);
	teardown();
}

static void session_close__calls_canceled_and_disconnect_sent(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r[10];
	for (int i = 0; i < 10; i++) {
		inj_result_reset(&r[i]);
		CHECK_EQ(call_on(p.s, 10, &r[i]), 0);
	}
	tern_poll(ep);
	inj_tx_clear(d);
	CHECK_EQ(tern_session_close(p.s), 0);
	for (int i = 0; i < 10; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].status, -ECANCELED);
	}
	tern_poll(ep);
	const struct inj_pkt *x = inj_expect_tx(d, TERN_PKT_DISCONNECT);
	REQUIRE(x != NULL);
	CHECK(tern_addr_eq(&x->dst, &p.addr));
	CHECK_EQ(x->h.dst_session, p.id);
	CHECK_EQ(x->h.token, p.token);
	struct tern_stats st = stats();
	CHECK_EQ(st.sessions_open, 0);
	CHECK_EQ(st.sessions_closed, 1);
	CHECK_EQ(st.msgs_in_use, 0);
	CHECK_EQ(tern_session_close(NULL), -EINVAL);
	teardown();
}

static void close_in_callback(struct tern_session *s, enum tern_session_event ev, int err,
			      void *ctx)
{
	(void)err;
	int *n = ctx;
	(*n)++;
	if (ev == TERN_SESSION_RESET || ev == TERN_SESSION_FAILED)
		CHECK_EQ(tern_session_close(s), 0);
}

static void session_close__from_session_event(void)
{
	struct tern_ep_config cfg;
	sess_config(&cfg);
	int n = 0;
	cfg.on_session = close_in_callback;
	cfg.session_ctx = &n;
	REQUIRE(sess_setup_cfg(&cfg) == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r;
	inj_result_reset(&r);
	CHECK_EQ(call_on(p.s, 10, &r), 0);
	tern_poll(ep);
	inj_reset(&p);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ECONNRESET);
	CHECK_EQ(stats().sessions_open, 0);
	CHECK_EQ(n, 2); /* CONNECTED, RESET */
	teardown();
}

/* --- keepalive and dead peers ----------------------------------------------------- */

/* Idle sessions: only the opener keeps one alive. After keepalive_ns (10 ms,
 * jittered by up to 1/8) of silence it PINGs, and probes until the peer
 * answers; a peer silent for the session timeout (50 ms) of probing is dead. */
static void session_timer__opener_pings_when_idle(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	/* Quiet for less than keepalive_ns less its jitter: nothing. */
	for (int i = 0; i < 8; i++)
		inj_tick(ep, MS);
	CHECK_EQ(inj_tx_count(d), 0);
	/* Past it plus its jitter: a PING. */
	int t;
	for (t = 8; t < 20 && inj_tx_count(d) == 0; t++)
		inj_tick(ep, MS);
	CHECK(t >= 9 && t <= 13);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_PING);
	REQUIRE(r != NULL);
	CHECK_EQ(r->h.dst_session, p.id);
	CHECK_EQ(r->h.token, p.token);
	/* The peer answers: quiet again for about a keepalive. */
	inj_ctrl(&p, TERN_PKT_PONG);
	inj_poll(ep);
	inj_tick(ep, 2 * MS);
	inj_skip_tx(d, TERN_PKT_PING); /* a probe sent before the PONG was seen */
	for (int i = 0; i < 6; i++)
		inj_tick(ep, MS);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTED);
	/* Silent peer: PINGs keep coming, until a session timeout of silence. */
	int pings = 0;
	for (int i = 0; i < 200 && tern_session_state(p.s) == TERN_SS_CONNECTED; i++) {
		inj_tick(ep, MS);
		pings += (int)inj_skip_tx(d, TERN_PKT_PING);
	}
	CHECK(pings >= 10);
	CHECK_EQ(stats().sessions_dead, 1);
	REQUIRE(evs.n == 2);
	CHECK_EQ(evs.ev[1], TERN_SESSION_DEAD);
	CHECK_EQ(evs.err[1], -ETIMEDOUT);
	tern_session_close(p.s);
	teardown();
}

/* The accepting side never probes an idle session: it closes one it has not
 * heard from for idle_timeout_ns (3 x keepalive: 30 ms), and keeps one
 * whose opener pings. */
static void session_timer__acceptor_closes_idle_sessions(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	/* The opener pings every 10 ms: the session stays, nothing is sent but PONGs. */
	for (int i = 0; i < 100; i++) {
		if (i % 10 == 9)
			inj_ctrl(&p, TERN_PKT_PING);
		inj_tick(ep, MS);
		CHECK_EQ(inj_skip_tx(d, TERN_PKT_PONG), i % 10 == 9);
		CHECK_EQ(inj_tx_count(d), 0);
	}
	CHECK_EQ(stats().sessions_open, 1);
	/* Silence: closed as dead after 30 ms, without a single PING. */
	int t;
	for (t = 0; t < 100 && stats().sessions_open == 1; t++) {
		inj_tick(ep, MS);
		CHECK_EQ(inj_tx_count(d), 0);
	}
	if (!(t >= 29 && t <= 32))
		fprintf(stderr, "  closed after %d ms\n", t);
	CHECK(t >= 29 && t <= 32);
	CHECK_EQ(stats().sessions_open, 0);
	CHECK_EQ(stats().sessions_dead, 1);
	REQUIRE(evs.n == 2);
	CHECK_EQ(evs.ev[1], TERN_SESSION_DEAD);
	CHECK_EQ(evs.err[1], -ETIMEDOUT);
	teardown();
}

static void session_timer__dead_client_calls_time_out(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r;
	inj_result_reset(&r);
	CHECK_EQ(call_on(p.s, 10, &r), 0);
	/* The server keeps saying WORKING, so the RTO never gives up ... */
	tern_poll(ep);
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
	REQUIRE(q != NULL);
	uint64_t rn = q->h.req_num;
	for (int t = 0; t < 40; t++) {
		inj_cr(&p, rn, 1, 0, 10, TERN_WF_WORKING);
		inj_tick(ep, MS);
	}
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTED);
	/* ... but once it is silent for session_timeout_ns, it is dead. */
	for (int t = 0; t < 200 && r.calls == 0; t++)
		inj_tick(ep, MS);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ETIMEDOUT);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_FAILED);
	/* The dead-peer check ended it: the call ends with its session. */
	CHECK_EQ(stats().calls_timeout, 1);
	for (int t = 0; t < 100 && tern_session_state(p.s) == TERN_SS_CONNECTED; t++)
		inj_tick(ep, MS);
	CHECK_EQ(stats().sessions_dead, 1);
	tern_session_close(p.s);
	teardown();
}

/* --- waiting ---------------------------------------------------------------------- */

/* A connect that times out ends the wait then, not at the wait's own timeout
 * (on the virtual clock: the connect timeout is 40 ms, the wait's 5 s). */
static void session_wait__returns_when_connect_times_out(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_wire_hs chs;
	struct tern_session *s = start_connect(&p, &chs);
	REQUIRE(s != NULL);
	uint64_t t0 = inj_clock();
	inj_clock_autostep(10000); /* tern_session_wait polls against the clock */
	CHECK_EQ(tern_session_wait(s, 5000 * MS), -ETIMEDOUT);
	inj_clock_autostep(0);
	CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
	CHECK(inj_clock() - t0 < 1000 * MS);
	tern_session_close(s);
	teardown();
}

static void session_wait__connects_on_virtual_time(void)
{
	REQUIRE(sess_setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_wire_hs chs, hs;
	struct tern_hdr h;
	struct tern_session *s = start_connect(&p, &chs);
	REQUIRE(s != NULL);
	inj_clock_autostep(10000); /* tern_session_wait polls against the clock */
	CHECK_EQ(tern_session_wait(s, 2 * MS), -ETIMEDOUT);
	connect_ok(&p, &chs, 0, &h, &hs);
	inj_send_hs(&p, &h, &hs);
	CHECK_EQ(tern_session_wait(s, 2 * MS), 0);
	inj_clock_autostep(0);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK(tern_session_ep(s) == ep);
	char buf[64];
	CHECK(strcmp(tern_session_peer(s, buf, sizeof(buf)), INJ_PEER_ADDR) == 0);
	CHECK_EQ(tern_session_wait(NULL, 1), -EINVAL);
	CHECK_EQ(tern_session_state(NULL), -EINVAL);
	teardown();
}

int main(void)
{
	RUN(on_disconnect__server_session_closed);
	RUN(on_disconnect__client_session_fails_calls);
	RUN(on_reset__server_side);
	RUN(on_reset__client_inflight_calls_fail_once);
	RUN(on_reset__reconnect_reissues_idempotent);
	RUN(on_reset__reconnect_mid_response);
	RUN(session_close__server_session_sends_disconnect);
	RUN(session_close__calls_canceled_and_disconnect_sent);
	RUN(session_close__from_session_event);
	RUN(session_timer__opener_pings_when_idle);
	RUN(session_timer__acceptor_closes_idle_sessions);
	RUN(session_timer__dead_client_calls_time_out);
	RUN(session_wait__connects_on_virtual_time);
	RUN(session_wait__returns_when_connect_times_out);
	return check_exit();
}
