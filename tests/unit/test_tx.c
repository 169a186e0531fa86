/*
 * test_tx.c — lib/tx.c, the transmit batch: what the driver did not take
 * stays at the front of the batch (the kept tail) and goes at the next
 * flush; a full batch the driver refuses outright is dropped, counted, and
 * recovered by retransmission; a full batch is flushed before more is
 * queued; each descriptor holds its destination by value.
 *
 * The endpoint under test is fixture.h's caller (the session tests' for the
 * last case); the peer is played by injected packets.
 */

#include "fixture.h"

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

int main(void)
{
	RUN(tx_keep_tail__rest_goes_at_the_next_flush);
	RUN(tx_make_room__refused_full_batch_dropped_and_resent);
	RUN(tx_make_room__full_batch_flushed_first);
	RUN(tx_desc__disconnect_reaches_old_peer_when_id_reused);
	return check_exit();
}
