/*
 * test_tx.c — lib/tx.c, the transmit batch: what the driver did not take
 * stays at the front of the batch (the kept tail) and goes at the next
 * flush; a full batch the driver refuses outright is dropped, counted, and
 * recovered by retransmission; a full batch is flushed before more is
 * queued; a descriptor's destination stays the one it was queued for
 * when the session's address changes or the session goes.
 *
 * The endpoint under test is fixture.h's caller (the session tests' for the
 * last case); the peer is played by injected packets.
 *
 * Sealed packets (tern_tx_sealed), on a privacy session between two inject
 * endpoints (secpair.h) whose driver lends transmit buffers: the packet is
 * sealed straight into the lent buffer (nothing copied), the buffer comes
 * back to the driver exactly once on every path (sent, refused and sent
 * later, a refused batch dropped, a seal that fails, the endpoint
 * destroyed with it queued), and a driver that lends none gets the
 * msgbuf path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "secpair.h"
#include "session.h"

/* The driver takes fewer packets than offered (its queue is full): the rest
 * stay in the batch and go at the next flush, nothing is lost. */
static void tx_keep_tail__rest_goes_at_the_next_flush(void)
{
	REQUIRE(client_setup() == 0);
	struct inj_result r;
	REQUIRE(call(640, 1, &r, 0) == 0);
	inj_tx_limit(d, 4);
	tern_poll(ep); /* a flush at its start and one at its end: 4 + 4 */
	for (uint32_t i = 0; i < 8; i++)
		CHECK(expect_req(8, i));
	CHECK_EQ(stats().tx_drops, 0);
	inj_tx_limit(d, -1);
	tern_poll(ep);
	for (uint32_t i = 8; i < 10; i++)
		CHECK(expect_req(8, i));
	CHECK_EQ(stats().tx_drops, 0);
	CHECK_EQ(stats().retransmits, 0);
	inj_resp_pkt(&peer, 8, 1, "k", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	teardown();
}

/* A driver that takes nothing: the full batch waits; when more must go (the
 * RTO's resends), it is dropped, counted, and resent. */
static void tx_make_room__refused_full_batch_dropped_and_resent(void)
{
	struct inj_result r;
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 64;
	REQUIRE(client_setup_cfg(&cfg) == 0);
	inj_tx_limit(d, 0);
	REQUIRE(call(64 * 64, 1, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().tx_drops, 0);
	for (int t = 0; t < 50 && stats().tx_drops == 0; t++)
		inj_tick(ep, MS);
	CHECK(stats().tx_drops >= 64); /* the first batch, and maybe the resends */
	CHECK_EQ(stats().rto_events, 1);
	inj_tx_limit(d, -1);
	/* Whatever is still queued goes now; the rest comes with the next RTO. */
	uint64_t got = 0;
	for (int t = 0; t < 50 && got != ~0ull; t++) {
		inj_tick(ep, MS);
		const struct inj_pkt *q;
		while ((q = inj_pop_tx(d)) != NULL)
			if (q->h.type == TERN_PKT_REQ && q->h.req_num == 8 && q->h.pkt_num < 64)
				got |= 1ull << q->h.pkt_num;
	}
	CHECK(got == ~0ull); /* every packet went out in the end */
	for (uint32_t i = 0; i < 63; i++)
		inj_cr(&peer, 8, 1, i, 64 * 64, 0);
	inj_resp_pkt(&peer, 8, 1, "k", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	inj_tx_clear(d);
	teardown();
}

/* More than a batch (64) queued between two polls: flushed when full. */
static void tx_make_room__full_batch_flushed_first(void)
{
	struct inj_result r;
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 64;
	REQUIRE(client_setup_cfg(&cfg) == 0);
	struct inj_result r2;
	REQUIRE(call(64 * 64, 1, &r, 0) == 0);
	REQUIRE(call(10, 2, &r2, 0) == 0); /* waits for a credit */
	CHECK_EQ(inj_tx_count(d), 0);      /* 64 packets queued, not sent yet */
	tern_session_close(peer.s);        /* the DISCONNECT is the 65th */
	CHECK_EQ(inj_tx_count(d), 64);     /* the full batch went first */
	tern_poll(ep);
	CHECK_EQ(inj_tx_count(d), 65);
	CHECK_EQ(stats().tx_drops, 0);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r2.calls, 1);
	teardown();
}

/* The DISCONNECT of a closed session must go to its peer even when the id is
 * reused for another peer before the transmit batch is flushed. */
static void tx_desc__disconnect_reaches_old_peer_when_id_reused(void)
{
	REQUIRE(sess_setup() == 0);
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

/* A session's packets point at its address: one queued before the peer
 * moves (NAT rebinding, a later packet of the same burst) still goes where
 * it was sent, the one after to the new address. */
static void tx_addr_pin__queued_packet_keeps_address_when_peer_moves(void)
{
	struct inj_peer p;
	struct tern_addr old, moved;
	REQUIRE(sess_setup_moving_peer(&p, &old, &moved) == 0);
	inj_ctrl(&p, TERN_PKT_PING); /* from where it was */
	p.addr = moved;
	inj_ctrl(&p, TERN_PKT_PING); /* from its new address, in the same burst */
	inj_poll(ep);
	const struct inj_pkt *r = inj_expect_tx(d, TERN_PKT_PONG);
	REQUIRE(r != NULL);
	CHECK(tern_addr_eq(&r->dst, &old));
	r = inj_expect_tx(d, TERN_PKT_PONG);
	REQUIRE(r != NULL);
	CHECK(tern_addr_eq(&r->dst, &moved));
	CHECK(tern_addr_eq(&p.s->peer, &moved));
	teardown();
}

/* --- sealed packets, lent buffers ------------------------------------------------- */

static struct tern_ep *psrv, *pcli; /* a privacy session: pcs (client), its server */
static struct tern_session *pcs;
static int phandled;

/* The driver lends lend buffers (inj_tx_lend_allow); credits 0: the default. */
static int priv_up(int lend, uint32_t credits)
{
	struct sp_sec s = {.key = sp_keys.srv_key, .allow = sp_keys.allow};
	struct sp_sec c = {.key = sp_keys.cli_key, .peer = sp_keys.srv_pub,
			   .protection = TERN_PROT_PRIVACY};
	phandled = 0;
	if (credits == 0) {
		psrv = sp_ep(&s, SP_SRV_ADDR);
		pcli = sp_ep(&c, SP_CLI_ADDR);
	} else {
		struct tern_ep_config sc, cc;
		inj_config(&sc);
		sc.credits = credits;
		sc.call_timeout_ns = 60000000000ull;
		cc = sc;
		psrv = sp_ep_cfg(&sc, &s, SP_SRV_ADDR);
		pcli = sp_ep_cfg(&cc, &c, SP_CLI_ADDR);
	}
	if (psrv == NULL || pcli == NULL)
		return -1;
	tern_handle(psrv, 1, sp_echo, &phandled, TERN_RRA);
	if (sp_connect(pcli, psrv, &pcs, NULL, NULL) != 0)
		return -1;
	inj_tx_lend_allow(inj_of(pcli), lend);
	inj_tx_lend_allow(inj_of(psrv), lend);
	return tern_session_protection(pcs) == (int)TERN_PROT_PRIVACY ? 0 : -1;
}

/* Both endpoints gone; every buffer either lent came back exactly once. */
static void priv_down(void)
{
	unsigned leaked = inj_lent_leaked();
	struct inj_lend_stats a = inj_lend_stats(inj_of(pcli)), b = inj_lend_stats(inj_of(psrv));
	CHECK_EQ(a.bad + b.bad, 0);
	CHECK_EQ(inj_tx_bad(inj_of(pcli)) + inj_tx_bad(inj_of(psrv)), 0);
	tern_ep_destroy(pcli);
	tern_ep_destroy(psrv);
	CHECK_EQ(inj_lent_leaked(), leaked);
	pcli = psrv = NULL;
	pcs = NULL;
}

/* A call of len bytes (pattern 11) on pcs; the client polled once. */
static void priv_call(size_t len, struct inj_result *r)
{
	inj_result_reset(r);
	struct tern_msg *m = inj_msg(pcli, len, 11);
	REQUIRE(tern_call(pcs, 1, m, inj_cont, r, 0) == 0);
	tern_poll(pcli);
}

static int priv_received(const struct inj_result *r, size_t len)
{
	uint8_t want[4096];
	inj_fill(want, len, 11);
	return r->calls == 1 && r->status == 0 && r->len == len && memcmp(r->data, want, len) == 0;
}

/* Each request packet is sealed into a buffer the driver lent, which goes
 * back with the packet: nothing is copied on the way out (the answers
 * too), and the call completes intact. */
static void tx_sealed__privacy_seals_into_lent_buffers(void)
{
	REQUIRE(priv_up(-1, 0) == 0);
	const size_t len = 2 * (size_t)pcs->dpp + 10; /* 3 packets each way */
	uint64_t ccopied = sp_stats(pcli).copied_bytes, scopied = sp_stats(psrv).copied_bytes;
	struct inj_result r;
	priv_call(len, &r);
	struct inj_lend_stats ls = inj_lend_stats(inj_of(pcli));
	CHECK_EQ(ls.lent, 3);
	CHECK_EQ(ls.sent, 3);
	CHECK_EQ(ls.out, 0);
	CHECK_EQ(sp_stats(pcli).copied_bytes, ccopied); /* the msgbuf path: + len */
	sp_settle(pcli, psrv);
	CHECK(priv_received(&r, len));
	CHECK_EQ(inj_lend_stats(inj_of(psrv)).sent, 3); /* the answer's packets */
	/* Each side copied only the first packet it received (into the
	 * reassembly buffer made for it), nothing it sent. */
	CHECK_EQ(sp_stats(psrv).copied_bytes, scopied + pcs->dpp);
	CHECK_EQ(sp_stats(pcli).copied_bytes, ccopied + pcs->dpp);
	priv_down();
}

/* A driver that lends nothing (none free): the ciphertext goes into a
 * msgbuf, copied as before, and the call completes. */
static void tx_sealed__no_lent_buffer_seals_into_a_msgbuf(void)
{
	REQUIRE(priv_up(1, 0) == 0); /* one, then none */
	const size_t len = 2 * (size_t)pcs->dpp + 10;
	uint64_t copied = sp_stats(pcli).copied_bytes;
	struct inj_result r;
	priv_call(len, &r);
	struct inj_lend_stats ls = inj_lend_stats(inj_of(pcli));
	CHECK_EQ(ls.lent, 1);
	CHECK_EQ(ls.sent, 1);
	CHECK_EQ(sp_stats(pcli).copied_bytes, copied + len - pcs->dpp); /* packets 1 and 2 */
	sp_settle(pcli, psrv);
	CHECK(priv_received(&r, len));
	priv_down();
}

/* The driver refuses the sealed packets (queue full): they stay queued with
 * their lent buffers and go, unchanged, at a later flush. */
static void tx_sealed__refused_lent_packet_goes_later(void)
{
	REQUIRE(priv_up(-1, 0) == 0);
	const size_t len = 2 * (size_t)pcs->dpp + 10;
	struct inj_result r;
	inj_tx_limit(inj_of(pcli), 1);
	priv_call(len, &r); /* two flushes: one packet each */
	struct inj_lend_stats ls = inj_lend_stats(inj_of(pcli));
	CHECK_EQ(ls.lent, 3);
	CHECK_EQ(ls.sent, 2);
	CHECK_EQ(ls.out, 1); /* the third, still queued */
	CHECK_EQ(ls.unlent, 0);
	inj_tx_limit(inj_of(pcli), -1);
	tern_poll(pcli);
	ls = inj_lend_stats(inj_of(pcli));
	CHECK_EQ(ls.sent, 3);
	CHECK_EQ(ls.out, 0);
	sp_settle(pcli, psrv);
	CHECK(priv_received(&r, len));
	CHECK_EQ(sp_stats(pcli).retransmits, 0);
	priv_down();
}

/* A full batch the driver refuses outright is dropped: its lent buffers go
 * back through tx_unlend, once each, and retransmission completes the call. */
static void tx_sealed__dropped_batch_gives_lent_buffers_back(void)
{
	REQUIRE(priv_up(-1, TERN_TX_BATCH) == 0); /* a call fills the batch */
	size_t big = (size_t)pcs->dpp * TERN_TX_BATCH + 100;
	struct inj_result r;
	inj_tx_limit(inj_of(pcli), 0);
	inj_result_reset(&r);
	struct tern_msg *m = inj_msg(pcli, big, 11);
	REQUIRE(tern_call(pcs, 1, m, inj_cont, &r, 0) == 0);
	tern_poll(pcli);
	CHECK_EQ(inj_lend_stats(inj_of(pcli)).out, TERN_TX_BATCH); /* queued, refused */
	/* The RTO's resends need room: the refused batch is dropped. */
	for (int t = 0; t < 50 && sp_stats(pcli).tx_drops == 0; t++)
		inj_tick(pcli, MS);
	struct inj_lend_stats ls = inj_lend_stats(inj_of(pcli));
	CHECK(ls.unlent >= TERN_TX_BATCH);
	CHECK_EQ(ls.sent, 0);
	CHECK_EQ(ls.out, ls.lent - ls.unlent);
	CHECK(sp_stats(pcli).tx_drops >= TERN_TX_BATCH);
	inj_tx_limit(inj_of(pcli), -1);
	for (int i = 0; i < 400 && r.calls == 0; i++) {
		inj_tick(pcli, MS);
		sp_settle(pcli, psrv);
	}
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(r.len, big);
	ls = inj_lend_stats(inj_of(pcli));
	CHECK_EQ(ls.out, 0);
	CHECK_EQ(ls.lent, ls.sent + ls.unlent);
	priv_down();
}

/* The seal fails after the buffer was lent (no counter left): the packet
 * is not sent and its buffer goes back. */
static void tx_sealed__failed_seal_gives_lent_buffer_back(void)
{
	REQUIRE(priv_up(-1, 0) == 0);
	pcs->tx_ctr = 1ull << 60; /* no counter left, and no key turnover either */
	struct inj_result r;
	priv_call(100, &r);
	struct inj_lend_stats ls = inj_lend_stats(inj_of(pcli));
	CHECK_EQ(ls.lent, 1);
	CHECK_EQ(ls.unlent, 1);
	CHECK_EQ(ls.sent, 0);
	CHECK_EQ(ls.out, 0);
	CHECK_EQ(inj_tx_count(inj_of(pcli)), 0);
	CHECK_EQ(sp_stats(pcli).tx_drops, 1);
	priv_down();
}

/* The endpoint is destroyed with sealed packets still queued (the driver
 * takes nothing): their lent buffers go back before the driver closes. */
static void tx_sealed__destroy_gives_queued_lent_buffers_back(void)
{
	REQUIRE(priv_up(-1, 0) == 0);
	const size_t len = 2 * (size_t)pcs->dpp + 10;
	struct inj_result r;
	inj_tx_limit(inj_of(pcli), 0);
	priv_call(len, &r);
	struct inj_lend_stats ls = inj_lend_stats(inj_of(pcli));
	CHECK_EQ(ls.out, 3);
	unsigned leaked = inj_lent_leaked();
	inj_clock_autostep(MS); /* the destroy's bounded last flush ends */
	tern_ep_destroy(pcli);
	inj_clock_autostep(0);
	pcli = NULL;
	CHECK_EQ(inj_lent_leaked(), leaked); /* the inject driver counts them at close */
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ECANCELED);
	tern_ep_destroy(psrv);
	psrv = NULL;
}

int main(void)
{
	RUN(tx_keep_tail__rest_goes_at_the_next_flush);
	RUN(tx_make_room__refused_full_batch_dropped_and_resent);
	RUN(tx_make_room__full_batch_flushed_first);
	RUN(tx_desc__disconnect_reaches_old_peer_when_id_reused);
	RUN(tx_addr_pin__queued_packet_keeps_address_when_peer_moves);
	if (sp_keys_init() != 0) {
		fprintf(stderr, "cannot write key files\n");
		sp_keys_fini();
		return 1;
	}
	RUN(tx_sealed__privacy_seals_into_lent_buffers);
	RUN(tx_sealed__no_lent_buffer_seals_into_a_msgbuf);
	RUN(tx_sealed__refused_lent_packet_goes_later);
	RUN(tx_sealed__dropped_batch_gives_lent_buffers_back);
	RUN(tx_sealed__failed_seal_gives_lent_buffer_back);
	RUN(tx_sealed__destroy_gives_queued_lent_buffers_back);
	sp_keys_fini();
	return check_exit();
}
