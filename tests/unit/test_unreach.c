/*
 * test_unreach.c — lib/unreach.c: the driver's "port unreachable" notices
 * (TERN_RX_UNREACH entries, injected), on the virtual clock.
 *
 * A connect whose CONNECT is quoted back fails at once with -ECONNREFUSED,
 * and every call queued on it ends with it, exactly once (plain and
 * authenticated handshakes). Notices that do not quote what the session
 * sent (another nonce, another address, another session, too short) are
 * counted and ignored. A session reconnecting after a RESET
 * (TERN_EP_RECONNECT: the server restarts) is not failed. An established
 * session, plain or protected, is never ended by one: it only probes its
 * peer, and lives on when the peer answers.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "secpair.h"
#include "session.h"

#define MS 1000000ull

struct events {
	int n;
	int ev[8];
	int err[8];
};
static struct events evs;

static void on_session(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	(void)s;
	struct events *e = ctx;
	if (e->n < 8) {
		e->ev[e->n] = ev;
		e->err[e->n] = err;
	}
	e->n++;
}

static struct tern_ep *plain_ep(void)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.on_session = on_session;
	cfg.session_ctx = &evs;
	cfg.connect_timeout_ns = 1000 * MS;
	cfg.call_timeout_ns = 10000 * MS;
	memset(&evs, 0, sizeof(evs));
	return inj_ep_create(&cfg);
}

static struct tern_stats stats(struct tern_ep *ep)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	return st;
}

static int call(struct tern_ep *ep, struct tern_session *s, struct inj_result *r)
{
	inj_result_reset(r);
	struct tern_msg *m = inj_msg(ep, 10, 1);
	int rc = tern_call(s, 1, m, inj_cont, r, 0);
	if (rc != 0)
		tern_msg_free(m);
	return rc;
}

/* The notice that pkt (len bytes, as sent) found nothing listening at `to`. */
static void unreach(struct tern_ep *ep, const void *pkt, size_t len, const char *to)
{
	struct tern_addr a;
	tern_addr_parse(to, &a);
	inj_push_raw(inj_of(ep), pkt, len, &a, TERN_RX_UNREACH);
	inj_poll(ep);
}

/* A connecting session with three calls queued; its CONNECT copied to pkt. */
static struct tern_session *connecting(struct tern_ep *ep, uint8_t *pkt, uint32_t *len,
				       struct inj_result r[3])
{
	struct tern_session *s;
	if (tern_connect(ep, INJ_PEER_ADDR, &s) != 0)
		return NULL;
	tern_poll(ep);
	const struct inj_pkt *c = inj_expect_tx(inj_of(ep), TERN_PKT_CONNECT);
	if (c == NULL || c->len > 512)
		return NULL;
	memcpy(pkt, c->data, c->len);
	*len = c->len;
	for (int i = 0; i < 3; i++)
		if (call(ep, s, &r[i]) != 0)
			return NULL;
	return s;
}

static void on_unreach__connect_refused(void)
{
	struct tern_ep *ep = plain_ep();
	REQUIRE(ep != NULL);
	uint8_t pkt[512];
	uint32_t len;
	struct inj_result r[3];
	struct tern_session *s = connecting(ep, pkt, &len, r);
	REQUIRE(s != NULL);
	unreach(ep, pkt, len, INJ_PEER_ADDR);
	CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
	CHECK_EQ(tern_session_wait(s, MS), -ECONNREFUSED);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].status, -ECONNREFUSED);
	}
	REQUIRE(evs.n == 1);
	CHECK_EQ(evs.ev[0], TERN_SESSION_FAILED);
	CHECK_EQ(evs.err[0], -ECONNREFUSED);
	/* The same notice again, and the connect timeout passing: nothing more. */
	unreach(ep, pkt, len, INJ_PEER_ADDR);
	for (int t = 0; t < 30; t++)
		inj_tick(ep, 100 * MS);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(r[i].calls, 1);
	CHECK_EQ(evs.n, 1);
	CHECK_EQ(stats(ep).unreach_rx, 2);
	CHECK_EQ(stats(ep).unreach_ignored, 1); /* the session is no longer connecting */
	CHECK_EQ(stats(ep).msgs_in_use, 0);
	tern_session_close(s);
	tern_ep_destroy(ep);
}

/* Forged or stale notices: each counted, ignored; the connect goes on. */
static void on_unreach__unverified_ignored(void)
{
	struct tern_ep *ep = plain_ep();
	REQUIRE(ep != NULL);
	uint8_t pkt[512], bad[512];
	uint32_t len;
	struct inj_result r[3];
	struct tern_session *s = connecting(ep, pkt, &len, r);
	REQUIRE(s != NULL);
	int n = 0;
	/* another address */
	unreach(ep, pkt, len, "10.0.0.3:5000"), n++;
	unreach(ep, pkt, len, "10.0.0.2:5001"), n++;
	/* another nonce (the body's last field, flipped) */
	memcpy(bad, pkt, len);
	bad[len - 1] ^= 1;
	unreach(ep, bad, len, INJ_PEER_ADDR), n++;
	/* another session */
	memcpy(bad, pkt, len);
	struct tern_hdr h;
	tern_wire_get(bad, &h);
	h.src_session = (uint16_t)(h.src_session + 1);
	tern_wire_put(bad, &h);
	unreach(ep, bad, len, INJ_PEER_ADDR), n++;
	/* quotes too little: the header only, a byte short of it, nothing */
	unreach(ep, pkt, TERN_HDR_LEN, INJ_PEER_ADDR), n++;
	unreach(ep, pkt, TERN_HDR_LEN - 1, INJ_PEER_ADDR), n++;
	unreach(ep, pkt, 0, INJ_PEER_ADDR), n++;
	/* another packet type (a CONNECT rewritten as a PING) */
	memcpy(bad, pkt, len);
	h.src_session = s->id;
	h.type = TERN_PKT_PING;
	tern_wire_put(bad, &h);
	unreach(ep, bad, len, INJ_PEER_ADDR), n++;
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(r[i].calls, 0);
	CHECK_EQ(evs.n, 0);
	CHECK_EQ(stats(ep).unreach_rx, (uint64_t)n);
	CHECK_EQ(stats(ep).unreach_ignored, (uint64_t)n);
	/* The genuine one still works. */
	unreach(ep, pkt, len, INJ_PEER_ADDR);
	CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(r[i].status, -ECONNREFUSED);
	tern_session_close(s);
	tern_ep_destroy(ep);
}

/* An established plain session only probes: a PING at once; the peer's
 * PONG keeps it, and the call completes. */
static void on_unreach__plain_session_only_probes(void)
{
	struct tern_ep *ep = plain_ep();
	REQUIRE(ep != NULL);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r;
	REQUIRE(call(ep, p.s, &r) == 0);
	tern_poll(ep);
	const struct inj_pkt *q = inj_expect_tx(p.d, TERN_PKT_REQ);
	REQUIRE(q != NULL);
	uint8_t pkt[512];
	uint32_t len = q->len;
	uint64_t rn = q->h.req_num;
	memcpy(pkt, q->data, len);
	/* A quote with another token is not ours. */
	uint8_t bad[512];
	struct tern_hdr h;
	memcpy(bad, pkt, len);
	tern_wire_get(bad, &h);
	h.token ^= 1;
	tern_wire_put(bad, &h);
	unreach(ep, bad, len, INJ_PEER_ADDR);
	CHECK_EQ(stats(ep).unreach_ignored, 1);
	CHECK_EQ(inj_tx_count(p.d), 0);
	uint64_t pings = stats(ep).pings_sent;
	int events = evs.n;
	unreach(ep, pkt, len, INJ_PEER_ADDR);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTED);
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(stats(ep).pings_sent, pings + 1);
	CHECK(inj_expect_tx(p.d, TERN_PKT_PING) != NULL);
	CHECK_EQ(evs.n, events); /* no session event */
	inj_ctrl(&p, TERN_PKT_PONG);
	inj_resp_pkt(&p, rn, 1, "ok", 2, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTED);
	tern_session_close(p.s);
	tern_ep_destroy(ep);
}

/*
 * TERN_EP_RECONNECT: after a RESET (the server restarted) the session
 * connects again; a notice quoting that CONNECT (the restarting server's
 * port is closed for a moment) does not fail it nor its idempotent call:
 * the CONNECT is retransmitted and the server, once back, answers.
 */
static void on_unreach__reconnect_not_refused(void)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.on_session = on_session;
	cfg.session_ctx = &evs;
	cfg.flags |= TERN_EP_RECONNECT;
	cfg.connect_timeout_ns = 1000 * MS;
	cfg.call_timeout_ns = 10000 * MS;
	memset(&evs, 0, sizeof(evs));
	struct tern_ep *ep = inj_ep_create(&cfg);
	REQUIRE(ep != NULL);
	struct inj_peer p;
	inj_peer_init(&p, ep, NULL);
	REQUIRE(inj_connect(&p) == 0);
	struct inj_result r;
	inj_result_reset(&r);
	struct tern_msg *m = inj_msg(ep, 10, 1);
	REQUIRE(tern_call_ex(p.s, 1, m, inj_cont, &r, 0, TERN_CALL_IDEMPOTENT) == 0);
	tern_poll(ep);
	inj_tx_clear(p.d);
	inj_reset(&p);
	inj_poll(ep);
	REQUIRE(tern_session_state(p.s) == TERN_SS_CONNECTING);
	const struct inj_pkt *c = inj_expect_tx(p.d, TERN_PKT_CONNECT);
	REQUIRE(c != NULL);
	uint8_t pkt[512];
	uint32_t len = c->len;
	memcpy(pkt, c->data, len);
	unreach(ep, pkt, len, INJ_PEER_ADDR);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTING);
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(stats(ep).unreach_ignored, 0);
	/* The CONNECT goes again; the server answers it. */
	unsigned again = 0;
	for (int t = 0; t < 50 && again == 0; t++) {
		inj_tick(ep, 10 * MS);
		again = inj_skip_tx(p.d, TERN_PKT_CONNECT);
	}
	CHECK(again > 0);
	CHECK_EQ(tern_session_state(p.s), TERN_SS_CONNECTING);
	CHECK_EQ(r.calls, 0);
	tern_session_close(p.s);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ECANCELED);
	tern_ep_destroy(ep);
}

/* --- protected sessions (a pair of endpoints, secpair.h) ---------------------- */

static struct tern_ep *srv, *cli;

static int pair(void)
{
	struct sp_sec s = {.key = sp_keys.srv_key, .allow = sp_keys.allow};
	struct sp_sec c = {.key = sp_keys.cli_key, .peer = sp_keys.srv_pub,
			   .protection = TERN_PROT_INTEGRITY};
	srv = sp_ep(&s, SP_SRV_ADDR);
	cli = sp_ep(&c, SP_CLI_ADDR);
	if (srv == NULL || cli == NULL)
		return -1;
	tern_handle(srv, 1, sp_echo, NULL, TERN_RRA);
	return 0;
}

static void unpair(void)
{
	tern_ep_destroy(cli);
	tern_ep_destroy(srv);
	cli = srv = NULL;
}

/* The authenticated handshake: its CONNECT quoted back fails the connect. */
static void on_unreach__secure_connect_refused(void)
{
	REQUIRE(pair() == 0);
	struct tern_session *s;
	REQUIRE(tern_connect(cli, SP_SRV_ADDR, &s) == 0);
	tern_poll(cli);
	struct sp_pkt c;
	REQUIRE(sp_take(cli, TERN_PKT_CONNECT, &c) == 0);
	struct inj_result r;
	REQUIRE(call(cli, s, &r) == 0);
	/* Another attempt's cid (body bytes 8..15) is not believed. */
	struct sp_pkt bad = c;
	bad.data[TERN_HDR_LEN + 8] ^= 1;
	unreach(cli, bad.data, bad.len, SP_SRV_ADDR);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTING);
	CHECK_EQ(sp_stats(cli).unreach_ignored, 1);
	unreach(cli, c.data, c.len, SP_SRV_ADDR);
	CHECK_EQ(tern_session_state(s), TERN_SS_FAILED);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ECONNREFUSED);
	tern_session_close(s);
	unpair();
}

/*
 * An established protected session does not trust the unauthenticated
 * notice, even one quoting its own packet exactly: it sends a PING at
 * once (probes sooner), and lives on when the peer answers.
 */
static void on_unreach__protected_session_only_probes(void)
{
	REQUIRE(pair() == 0);
	struct tern_session *s;
	REQUIRE(sp_connect(cli, srv, &s, NULL, NULL) == 0);
	struct inj_result r;
	REQUIRE(call(cli, s, &r) == 0);
	tern_poll(cli);
	struct sp_pkt q;
	REQUIRE(sp_take(cli, TERN_PKT_REQ, &q) == 0);
	uint64_t pings = sp_stats(cli).pings_sent;
	unreach(cli, q.data, q.len, SP_SRV_ADDR);
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(sp_stats(cli).pings_sent, pings + 1);
	CHECK_EQ(sp_stats(cli).unreach_ignored, 0);
	struct sp_pkt ping;
	REQUIRE(sp_take(cli, TERN_PKT_PING, &ping) == 0);
	/* The network delivers the request and the PING; the call completes. */
	sp_inject(srv, &q, sp_addr(cli));
	sp_inject(srv, &ping, sp_addr(cli));
	sp_settle(cli, srv);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	/* Well past the session timeout with the peer answering: still up. */
	for (int t = 0; t < 40; t++) {
		inj_clock_advance(2000 * MS);
		sp_settle(cli, srv);
	}
	CHECK_EQ(tern_session_state(s), TERN_SS_CONNECTED);
	REQUIRE(call(cli, s, &r) == 0);
	sp_settle(cli, srv);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	tern_session_close(s);
	unpair();
}

int main(void)
{
	if (sp_keys_init() != 0) {
		fprintf(stderr, "cannot write key files\n");
		sp_keys_fini();
		return 1;
	}
	RUN(on_unreach__connect_refused);
	RUN(on_unreach__unverified_ignored);
	RUN(on_unreach__plain_session_only_probes);
	RUN(on_unreach__reconnect_not_refused);
	RUN(on_unreach__secure_connect_refused);
	RUN(on_unreach__protected_session_only_probes);
	sp_keys_fini();
	return check_exit();
}
