/*
 * test_credits.c — lib/credits.c (and credits.h), credits in both
 * directions: the caller spends one per packet in flight and gets it back
 * from each CR or response packet (one CR per packet, or a range), calls
 * that wait for credits get them round robin; the callee returns them, one
 * CR per packet with TERN_EP_NO_COALESCE_CR (the tests' config) or, by
 * default, one per run of packets per receive burst.
 *
 * Caller cases run on fixture.h's caller, callee cases on its callee; the
 * other side is played by injected packets. MTU 96: 64 payload bytes per
 * packet.
 */

#include "fixture.h"

/* --- caller ----------------------------------------------------------------------- */

/* --- window and credits ----------------------------------------------------------- */

static void credit_take__window_of_four(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 4;
	REQUIRE(client_setup_cfg(&cfg) == 0);
	struct inj_result r;
	uint8_t msg[640]; /* 10 packets */
	inj_fill(msg, sizeof(msg), 1);
	REQUIRE(call(640, 1, &r, 0) == 0);
	tern_poll(ep);
	for (uint32_t i = 0; i < 4; i++) {
		const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
		REQUIRE(q != NULL);
		CHECK_EQ(q->h.pkt_num, i);
		CHECK_EQ(q->h.req_num, 8);
		CHECK_EQ(q->h.msg_size, 640);
		CHECK_EQ(q->h.req_type, 1);
		CHECK_EQ(q->h.flags, 0);
		CHECK_EQ(q->h.token, peer.token);
		CHECK_EQ(q->h.dst_session, peer.id);
		CHECK(q->body_len == 64 && memcmp(q->body, msg + i * 64, 64) == 0);
	}
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(peer.s->credits, 0);
	/* Each CR releases exactly one more, in any order. */
	inj_cr(&peer, 8, 1, 0, 640, 0);
	inj_poll(ep);
	CHECK(expect_req(8, 4));
	CHECK_EQ(inj_tx_count(d), 0);
	inj_cr(&peer, 8, 1, 2, 640, 0);
	inj_poll(ep);
	CHECK(expect_req(8, 5));
	/* Duplicate CR, a CR for the last packet, a CR for a packet never sent:
	 * no credit. */
	struct tern_stats a = stats();
	inj_cr(&peer, 8, 1, 2, 640, 0);
	inj_cr(&peer, 8, 1, 9, 640, 0);
	inj_cr(&peer, 8, 1, 7, 640, 0);
	inj_cr(&peer, 8, 1, 1, 641, 0); /* wrong size */
	inj_cr(&peer, 16, 1, 1, 640, 0); /* wrong call */
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	struct tern_stats b = stats();
	CHECK_EQ(b.drops[TERN_DROP_DUP], a.drops[TERN_DROP_DUP] + 1);
	CHECK_EQ(b.drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 4);
	uint32_t next = 6;
	for (uint32_t c = 1; c <= 8; c++) {
		if (c == 2)
			continue;
		inj_cr(&peer, 8, 1, c, 640, 0);
		inj_poll(ep);
		if (next < 10)
			CHECK(expect_req(8, next++));
		CHECK_EQ(inj_tx_count(d), 0);
	}
	CHECK_EQ(inj_tx_count(d), 0); /* all 10 sent, nothing twice */
	CHECK_EQ(stats().retransmits, 0);
	inj_resp_pkt(&peer, 8, 1, "ok", 2, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK(r.len == 2 && memcmp(r.data, "ok", 2) == 0);
	CHECK_EQ(peer.s->credits, 4);
	/* A CR for the last packet, once it was sent: still not a reception
	 * (the response answers it), but "held" (wire.h): not resent, no credit. */
	REQUIRE(call(100, 2, &r, 0) == 0); /* 2 packets: req 16 */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 2);
	a = stats();
	inj_cr(&peer, 16, 1, 0, 100, 0);
	inj_cr(&peer, 16, 1, 1, 100, 0);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED]);
	CHECK(peer.s->cs[0].last_held);
	CHECK_EQ(peer.s->cs[0].rx.base, 1);
	CHECK_EQ(peer.s->credits, 3);
	inj_resp_pkt(&peer, 16, 1, "ok", 2, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(peer.s->credits, 4);
	teardown();
}

/* A coalesced CR returns the credit of every packet of its range that had
 * not been answered; one answering nothing new is a duplicate. */
static void credit_return__range_cr(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 4;
	REQUIRE(client_setup_cfg(&cfg) == 0);
	struct inj_result r;
	REQUIRE(call(640, 1, &r, 0) == 0); /* 10 packets */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 4);
	CHECK_EQ(peer.s->credits, 0);
	inj_cr(&peer, 8, 1, 1, 640, 0);          /* packet 1 alone */
	inj_poll(ep);
	CHECK(expect_req(8, 4));
	inj_cr_range(&peer, 8, 1, 3, 3, 640, 0); /* 0..3: 0, 2 and 3 are new */
	inj_poll(ep);
	CHECK(expect_req(8, 5));
	CHECK(expect_req(8, 6));
	CHECK(expect_req(8, 7));
	CHECK_EQ(inj_tx_count(d), 0);
	struct tern_stats a = stats();
	inj_cr_range(&peer, 8, 1, 3, 2, 640, 0); /* 1..3 again: nothing new */
	inj_cr_range(&peer, 8, 1, 9, 2, 640, 0); /* up to the last packet: not a CR */
	inj_cr_range(&peer, 8, 1, 8, 1, 640, 0); /* 7..8: 8 was never sent */
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	struct tern_stats b = stats();
	CHECK_EQ(b.drops[TERN_DROP_DUP], a.drops[TERN_DROP_DUP] + 1);
	CHECK_EQ(b.drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 2);
	inj_cr_range(&peer, 8, 1, 7, 3, 640, 0); /* 4..7 */
	inj_poll(ep);
	CHECK(expect_req(8, 8));
	CHECK(expect_req(8, 9));
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().retransmits, 0);
	inj_cr(&peer, 8, 1, 8, 640, 0);
	inj_resp_pkt(&peer, 8, 1, "ok", 2, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(peer.s->credits, 4);
	teardown();
}

/* A session's credits may be more than one call's window (64 packets past
 * its first unanswered one): two calls of 100 packets keep 128 in flight,
 * 64 each; a CR for a whole word of the window (0..63) returns 64 credits
 * at once, the call slides its window by 64 and sends the rest. */
static void credit_take__session_credits_beyond_one_calls_window(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 128;
	REQUIRE(client_setup_cfg(&cfg) == 0);
	CHECK_EQ(peer.s->credits, 128);
	struct inj_result r[2];
	REQUIRE(call(100 * 64, 1, &r[0], 0) == 0);
	REQUIRE(call(100 * 64, 2, &r[1], 0) == 0);
	tern_poll(ep);
	for (uint32_t i = 0; i < 64; i++)
		CHECK(expect_req(8, i));
	for (uint32_t i = 0; i < 64; i++)
		CHECK(expect_req(9, i));
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(peer.s->credits, 0);
	inj_cr_range(&peer, 8, 1, 63, 63, 100 * 64, 0); /* 0..63 */
	inj_poll(ep);
	for (uint32_t i = 64; i < 100; i++)
		CHECK(expect_req(8, i));
	CHECK_EQ(inj_tx_count(d), 0); /* 9 is still at the edge of its window */
	CHECK_EQ(peer.s->credits, 64 - 36);
	CHECK_EQ(stats().retransmits, 0);
	teardown();
}

static void credits_next_waiting__shared_by_the_calls_of_a_session(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 4;
	REQUIRE(client_setup_cfg(&cfg) == 0);
	struct inj_result r[3];
	for (int i = 0; i < 3; i++)
		REQUIRE(call(192, (uint32_t)i, &r[i], 0) == 0); /* 3 packets each */
	tern_poll(ep);
	CHECK(expect_req(8, 0));
	CHECK(expect_req(8, 1));
	CHECK(expect_req(8, 2));
	CHECK(expect_req(9, 0));
	CHECK_EQ(inj_tx_count(d), 0);
	/* Credits come back as the callee answers; stalled calls go on, round
	 * robin (9 sends, then 10, ...). */
	inj_cr(&peer, 8, 1, 0, 192, 0);
	inj_cr(&peer, 8, 1, 1, 192, 0);
	inj_poll(ep);
	CHECK(expect_req(9, 1));
	CHECK(expect_req(10, 0));
	CHECK_EQ(inj_tx_count(d), 0);
	/* A call that completes gives its credits to the stalled ones at once
	 * (not an RTO later). */
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r[0].calls, 1);
	CHECK(expect_req(9, 2));
	CHECK_EQ(inj_tx_count(d), 0);
	inj_resp_pkt(&peer, 9, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r[1].calls, 1);
	CHECK(expect_req(10, 1));
	CHECK(expect_req(10, 2));
	CHECK_EQ(inj_tx_count(d), 0);
	inj_resp_pkt(&peer, 10, 1, "x", 1, 0);
	inj_poll(ep);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].status, 0);
	}
	CHECK_EQ(peer.s->credits, 4);
	CHECK_EQ(stats().retransmits, 0);
	teardown();
}

/* --- callee ----------------------------------------------------------------------- */

/* The default (without TERN_EP_NO_COALESCE_CR): one CR per run of
 * consecutive new packets of a call per receive burst; duplicates answered
 * at once; none for a call answered within the burst. */
static void cr_new_packet__coalesce_per_run(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.flags &= ~TERN_EP_NO_COALESCE_CR;
	REQUIRE(server_setup_cfg(&cfg) == 0);
	uint8_t msg[192]; /* 3 packets */
	inj_fill(msg, sizeof(msg), 3);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 192, 0, 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 192, 1, 0);
	inj_req_pkt(&peer, 9, T_ECHO, msg, 192, 0, 0);
	inj_req_pkt(&peer, 9, T_ECHO, msg, 192, 1, 0);
	inj_poll(ep);
	CHECK(expect_cr_range(8, 1, 1, 0) != NULL);
	CHECK(expect_cr_range(9, 1, 1, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	/* Interleaved and a gap: each run its own CR; a duplicate at once. */
	inj_req_pkt(&peer, 10, T_ECHO, msg, 192, 0, 0);
	inj_req_pkt(&peer, 11, T_ECHO, msg, 192, 1, 0);
	inj_req_pkt(&peer, 10, T_ECHO, msg, 192, 1, 0);
	inj_req_pkt(&peer, 11, T_ECHO, msg, 192, 1, 0); /* duplicate */
	inj_req_pkt(&peer, 11, T_ECHO, msg, 192, 0, 0);
	inj_poll(ep);
	CHECK(expect_cr(11, 1, 0) != NULL); /* the duplicate's, sent at once */
	CHECK(expect_cr(10, 0, 0) != NULL);
	CHECK(expect_cr(11, 1, 0) != NULL);
	CHECK(expect_cr(10, 1, 0) != NULL);
	CHECK(expect_cr(11, 0, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ECHO], 0);
	/* The last packets: answered in the burst, so the responses alone. */
	inj_req_pkt(&peer, 8, T_ECHO, msg, 192, 2, 0);
	inj_req_pkt(&peer, 9, T_ECHO, msg, 192, 2, 0);
	inj_poll(ep);
	CHECK(expect_resp(8, T_ECHO, 0, 192, 0) != NULL);
	CHECK(expect_resp(9, T_ECHO, 0, 192, 0) != NULL);
	CHECK_EQ(runs[T_ECHO], 2);
	/* A 63-packet run over two bursts (32 + 31): one CR each. */
	enum { N = 70, SIZE = N * 64 - 10 };
	static uint8_t big[SIZE];
	inj_fill(big, sizeof(big), 12);
	for (uint32_t i = 0; i < 63; i++)
		inj_req_pkt(&peer, 16, T_ECHO, big, SIZE, i, 0);
	inj_poll(ep);
	CHECK(expect_cr_range(16, 31, 31, 0) != NULL);
	CHECK(expect_cr_range(16, 62, 30, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	teardown();
}

int main(void)
{
	RUN(credit_take__window_of_four);
	RUN(credit_return__range_cr);
	RUN(credit_take__session_credits_beyond_one_calls_window);
	RUN(credits_next_waiting__shared_by_the_calls_of_a_session);
	RUN(cr_new_packet__coalesce_per_run);
	return check_exit();
}
