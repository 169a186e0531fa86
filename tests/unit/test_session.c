/*
 * test_session.c — lib/session.c: the handshake in both roles, RESET,
 * DISCONNECT, keepalive and dead peers, close and reconnect, all driven by
 * injected packets on the virtual clock.
 */
#include "check.h"
#include "inject.h"

#define MS 1000000ull

static struct tern_ep *ep;
static struct inj *d;

struct events {
	int n;
	int ev[32];
	int err[32];
	struct tern_session *s[32];
};
static struct events evs;

static void on_session(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	struct events *e = ctx;
	if (e->n < 32) {
		e->ev[e->n] = ev;
		e->err[e->n] = err;
		e->s[e->n] = s;
	}
	e->n++;
}

static void base_config(struct tern_ep_config *cfg)
{
	inj_config(cfg);
	cfg->on_session = on_session;
	cfg->session_ctx = &evs;
	cfg->keepalive_ns = 10 * MS;
	cfg->session_timeout_ns = 50 * MS;
	cfg->connect_timeout_ns = 40 * MS;
	cfg->call_timeout_ns = 10000 * MS;
}

static int setup_cfg(const struct tern_ep_config *cfg)
{
	memset(&evs, 0, sizeof(evs));
	ep = inj_ep_create(cfg);
	if (ep == NULL)
		return -1;
	d = inj_of(ep);
	return 0;
}

static int setup(void)
{
	struct tern_ep_config cfg;
	base_config(&cfg);
	return setup_cfg(&cfg);
}

static void teardown(void)
{
	CHECK_EQ(inj_tx_bad(d), 0);
	tern_ep_destroy(ep);
	ep = NULL;
	d = NULL;
}

static struct tern_stats stats(void)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	return st;
}

static int call(struct tern_session *s, size_t len, struct inj_result *r)
{
	struct tern_msg *m = inj_msg(ep, len, 1);
	int rc = tern_call(s, 1, m, inj_cont, r, 0);
	if (rc != 0)
		tern_msg_free(m);
	return rc;
}

static void echo(struct tern_req *req, void *ctx)
{
	(void)ctx;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), tern_req_len(req));
	memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	tern_respond(req, m);
}

/* --- server role -------------------------------------------------------------- */

static void accept__connect_ok_fields(void)
{
	REQUIRE(setup() == 0);
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

static void accept__retransmitted_connect_same_answer(void)
{
	REQUIRE(setup() == 0);
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

static void accept__new_nonce_replaces_session(void)
{
	REQUIRE(setup() == 0);
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

static void accept__server_full_refused(void)
{
	struct tern_ep_config cfg;
	base_config(&cfg);
	cfg.max_sessions = 2;
	REQUIRE(setup_cfg(&cfg) == 0);
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

static void accept__bad_connects(void)
{
	REQUIRE(setup() == 0);
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

static void accept__dedup_table_survives_removals(void)
{
	struct tern_ep_config cfg;
	base_config(&cfg);
	cfg.max_sessions = 60; /* a 128-entry table, 60 keys: long probe runs */
	REQUIRE(setup_cfg(&cfg) == 0);
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

static void ping__pong(void)
{
	REQUIRE(setup() == 0);
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

static void disconnect__server_session_closed(void)
{
	REQUIRE(setup() == 0);
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

static void disconnect__client_session_fails_calls(void)
{
	REQUIRE(setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r[2];
	for (int i = 0; i < 2; i++) {
		inj_result_reset(&r[i]);
		CHECK_EQ(call(p.s, 10, &r[i]), 0);
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

static void close__server_session_sends_disconnect(void)
{
	REQUIRE(setup() == 0);
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

static void reset__server_side(void)
{
	REQUIRE(setup() == 0);
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

/* Idle sessions: only the opener keeps one alive. After keepalive_ns (10 ms,
 * jittered by up to 1/8) of silence it PINGs, and probes until the peer
 * answers; a peer silent for the session timeout (50 ms) of probing is dead. */
static void keepalive__opener_pings_when_idle(void)
{
	REQUIRE(setup() == 0);
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
static void keepalive__acceptor_closes_idle_sessions(void)
{
	REQUIRE(setup() == 0);
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

/* Replies go where the peer now sends from (NAT rebinding), but only for
 * packets that passed the token check. */
static void peer_address__follows_authenticated_source(void)
{
	REQUIRE(setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_accept(&p) == 0);
	struct tern_addr old = p.addr, moved;
	tern_addr_parse("192.168.1.9:7777", &moved);
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

/* --- client role --------------------------------------------------------------- */

static void connect__connect_fields(void)
{
	REQUIRE(setup() == 0);
	struct tern_session *s;
	REQUIRE(tern_connect(ep, INJ_PEER_ADDR, &s) == 0);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	CHECK_EQ(inj_tx_count(d), 0); /* sent from tern_poll() */
	tern_poll(ep);
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

static void connect__retransmitted_until_answered(void)
{
	REQUIRE(setup() == 0);
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
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT_OK;
	h.dst_session = s->id;
	h.src_session = p.id;
	h.token = first.token;
	memset(&hs, 0, sizeof(hs));
	hs.epoch = p.epoch;
	hs.peer_epoch = first.epoch;
	hs.token = p.token;
	hs.max_msg_size = 1 << 20;
	hs.slots = 8;
	hs.credits = 32;
	hs.mtu = 1472;
	hs.nonce = first.nonce;
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

/* Start connecting to p; returns the session and fills *hs with the CONNECT. */
static struct tern_session *start_connect(struct inj_peer *p, struct tern_wire_hs *chs)
{
	struct tern_session *s = NULL;
	if (tern_connect(ep, p->addr_str, &s) != 0)
		return NULL;
	tern_poll(ep);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_CONNECT);
	if (r == NULL)
		return NULL;
	tern_wire_hs_get(r->body, chs);
	p->ep_id = s->id;
	p->ep_token = chs->token;
	return s;
}

static void connect_ok(struct inj_peer *p, const struct tern_wire_hs *chs, uint8_t status,
		       struct tern_hdr *h, struct tern_wire_hs *hs)
{
	memset(h, 0, sizeof(*h));
	h->type = TERN_PKT_CONNECT_OK;
	h->status = status;
	h->dst_session = p->ep_id;
	h->src_session = status == 0 ? p->id : TERN_SESSION_NONE;
	h->token = chs->token;
	memset(hs, 0, sizeof(*hs));
	hs->epoch = p->epoch;
	hs->peer_epoch = chs->epoch;
	hs->nonce = chs->nonce;
	if (status == 0) {
		hs->token = p->token;
		hs->max_msg_size = 1 << 20;
		hs->slots = chs->slots;
		hs->credits = chs->credits;
		hs->mtu = chs->mtu;
	}
}

/* Huge timeouts ("forever") must not wrap around into "already expired". */
static void connect__huge_timeouts_do_not_wrap(void)
{
	struct tern_ep_config cfg;
	base_config(&cfg);
	cfg.connect_timeout_ns = UINT64_MAX;
	REQUIRE(setup_cfg(&cfg) == 0);
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

static void connect__bad_connect_ok_ignored(void)
{
	REQUIRE(setup() == 0);
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

static void connect__refused_fails_queued_calls(void)
{
	REQUIRE(setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_wire_hs chs, hs;
	struct tern_hdr h;
	struct tern_session *s = start_connect(&p, &chs);
	REQUIRE(s != NULL);
	struct inj_result r[3];
	for (int i = 0; i < 3; i++) {
		inj_result_reset(&r[i]);
		CHECK_EQ(call(s, 10, &r[i]), 0);
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
	CHECK_EQ(call(s, 10, &late), -ENOTCONN);
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

static void connect__timeout_fails_queued_calls(void)
{
	REQUIRE(setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	struct tern_wire_hs chs;
	struct tern_session *s = start_connect(&p, &chs);
	REQUIRE(s != NULL);
	struct inj_result r[2];
	for (int i = 0; i < 2; i++) {
		inj_result_reset(&r[i]);
		CHECK_EQ(call(s, 10, &r[i]), 0);
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
static void connect__stray_connect_ok_reset_is_believed(void)
{
	/* Two endpoints on the inject driver, the packets moved by hand. */
	struct tern_ep_config cfg;
	base_config(&cfg);
	REQUIRE(setup_cfg(&cfg) == 0); /* the client */
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

static void connect__bad_negotiation_fails(void)
{
	REQUIRE(setup() == 0);
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

static void connect__negotiated_values_used(void)
{
	REQUIRE(setup() == 0);
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
		CHECK_EQ(call(s, 10, &r[i]), 0);
	}
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 2);
	CHECK_EQ(s->bl_len, 1);
	tern_session_close(s);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(r[i].calls, 1);
	teardown();
}

static void reset__client_inflight_calls_fail_once(void)
{
	REQUIRE(setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r[10];
	for (int i = 0; i < 10; i++) { /* 8 slots + 2 in the backlog */
		inj_result_reset(&r[i]);
		CHECK_EQ(call(p.s, 10, &r[i]), 0);
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

static void reset__reconnect_reissues_idempotent(void)
{
	struct tern_ep_config cfg;
	base_config(&cfg);
	cfg.flags = TERN_EP_RECONNECT;
	REQUIRE(setup_cfg(&cfg) == 0);
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
static void reset__reconnect_mid_response(void)
{
	struct tern_ep_config cfg;
	base_config(&cfg);
	cfg.flags = TERN_EP_RECONNECT;
	cfg.mtu = 96;
	REQUIRE(setup_cfg(&cfg) == 0);
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
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT_OK;
	h.dst_session = p.ep_id;
	h.src_session = p.id;
	h.token = chs.token;
	memset(&hs, 0, sizeof(hs));
	hs.epoch = p.epoch + 1;
	hs.peer_epoch = chs.epoch;
	hs.token = p.token;
	hs.max_msg_size = 1 << 20;
	hs.slots = chs.slots;
	hs.credits = chs.credits;
	hs.mtu = chs.mtu;
	hs.nonce = chs.nonce;
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

/* CONNECT retransmissions back off up to a cap (200 ms), not forever. */
static void connect__backoff_capped(void)
{
	struct tern_ep_config cfg;
	base_config(&cfg);
	cfg.connect_timeout_ns = 3000 * MS;
	REQUIRE(setup_cfg(&cfg) == 0);
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

static void dead__client_calls_time_out(void)
{
	REQUIRE(setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r;
	inj_result_reset(&r);
	CHECK_EQ(call(p.s, 10, &r), 0);
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

static void close__calls_canceled_and_disconnect_sent(void)
{
	REQUIRE(setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r[10];
	for (int i = 0; i < 10; i++) {
		inj_result_reset(&r[i]);
		CHECK_EQ(call(p.s, 10, &r[i]), 0);
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

/* The DISCONNECT of a closed session must go to its peer even when the id is
 * reused for another peer before the transmit batch is flushed. */
static void close__disconnect_reaches_old_peer_when_id_reused(void)
{
	REQUIRE(setup() == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	uint16_t id = p.s->id;
	CHECK_EQ(tern_session_close(p.s), 0);
	struct tern_session *s2;
	REQUIRE(tern_connect(ep, "10.0.0.9:9999", &s2) == 0);
	CHECK_EQ(s2->id, id); /* the id was reused at once */
	tern_poll(ep);
	const struct inj_pkt *x = inj_expect_tx(d, TERN_PKT_DISCONNECT);
	REQUIRE(x != NULL);
	CHECK(tern_addr_eq(&x->dst, &p.addr));
	const struct inj_pkt *c = inj_expect_tx(d, TERN_PKT_CONNECT);
	REQUIRE(c != NULL);
	struct tern_addr a;
	tern_addr_parse("10.0.0.9:9999", &a);
	CHECK(tern_addr_eq(&c->dst, &a));
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

static void close__from_session_event(void)
{
	struct tern_ep_config cfg;
	base_config(&cfg);
	int n = 0;
	cfg.on_session = close_in_callback;
	cfg.session_ctx = &n;
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r;
	inj_result_reset(&r);
	CHECK_EQ(call(p.s, 10, &r), 0);
	tern_poll(ep);
	inj_reset(&p);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ECONNRESET);
	CHECK_EQ(stats().sessions_open, 0);
	CHECK_EQ(n, 2); /* CONNECTED, RESET */
	teardown();
}

static void session_wait__connects_on_virtual_time(void)
{
	REQUIRE(setup() == 0);
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

/*
 * The half-open race (seen at 20,000 sessions: 22,338 accepted for 20,000
 * opened): the server accepted our CONNECT, but its CONNECT_OK is late, and
 * a packet of the server's session (a PING) arrives while we still
 * connect. RESETting it tore the server's side down; the late CONNECT_OK
 * then connected us to a session the server no longer had. Now a packet
 * that carries our token is dropped, never RESET, and the CONNECT_OK that
 * follows connects us to a session the server still has.
 */
static void connect__packet_before_connect_ok_is_not_reset(void)
{
	REQUIRE(setup() == 0);
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
	memset(&k, 0, sizeof(k));
	k.type = TERN_PKT_CONNECT_OK;
	k.dst_session = p.ep_id;
	k.src_session = p.id;
	k.token = chs.token;
	struct tern_wire_hs hs;
	memset(&hs, 0, sizeof(hs));
	hs.epoch = p.epoch;
	hs.peer_epoch = chs.epoch;
	hs.token = p.token;
	hs.max_msg_size = p.max_msg;
	hs.slots = chs.slots;
	hs.credits = chs.credits;
	hs.mtu = p.mtu;
	hs.nonce = chs.nonce;
	inj_send_hs(&p, &k, &hs);
	inj_poll(ep);
	REQUIRE(tern_session_state(s) == TERN_SS_CONNECTED);
	p.dpp = (chs.mtu < p.mtu ? chs.mtu : p.mtu) - TERN_HDR_LEN;
	struct inj_result r;
	inj_result_reset(&r);
	CHECK_EQ(call(s, 10, &r), 0);
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

int main(void)
{
	RUN(accept__connect_ok_fields);
	RUN(accept__retransmitted_connect_same_answer);
	RUN(accept__new_nonce_replaces_session);
	RUN(accept__server_full_refused);
	RUN(accept__bad_connects);
	RUN(accept__dedup_table_survives_removals);
	RUN(ping__pong);
	RUN(disconnect__server_session_closed);
	RUN(disconnect__client_session_fails_calls);
	RUN(close__server_session_sends_disconnect);
	RUN(reset__server_side);
	RUN(connect__packet_before_connect_ok_is_not_reset);
	RUN(keepalive__opener_pings_when_idle);
	RUN(keepalive__acceptor_closes_idle_sessions);
	RUN(peer_address__follows_authenticated_source);
	RUN(connect__connect_fields);
	RUN(connect__retransmitted_until_answered);
	RUN(connect__huge_timeouts_do_not_wrap);
	RUN(connect__bad_connect_ok_ignored);
	RUN(connect__refused_fails_queued_calls);
	RUN(connect__timeout_fails_queued_calls);
	RUN(connect__stray_connect_ok_reset_is_believed);
	RUN(connect__bad_negotiation_fails);
	RUN(connect__negotiated_values_used);
	RUN(reset__client_inflight_calls_fail_once);
	RUN(reset__reconnect_reissues_idempotent);
	RUN(reset__reconnect_mid_response);
	RUN(connect__backoff_capped);
	RUN(dead__client_calls_time_out);
	RUN(close__calls_canceled_and_disconnect_sent);
	RUN(close__disconnect_reaches_old_peer_when_id_reused);
	RUN(close__from_session_event);
	RUN(session_wait__connects_on_virtual_time);
	return check_exit();
}
