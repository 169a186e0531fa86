/*
 * test_loss.c — lib/loss.c: the session's RTT estimate and RTO
 * (Jacobson/Karels samples, Karn's rule, clamps, backoff) and the spurious
 * retransmission rule, on the functions and through calls. What a call does
 * when its RTO passes is test_call.c's.
 */

#include "fixture.h"
#include "loss.h"

static void rto_init__twice_the_floor(void)
{
	REQUIRE(setup_rto(1 * MS, 100 * MS, 12) == 0);
	struct tern_session *s = peer.s;
	tern_rto_init(s);
	CHECK_EQ(s->rto_ns, 2 * MS);
	CHECK_EQ(s->srtt_ns, 0);
	teardown();
	/* Capped by the ceiling. */
	REQUIRE(setup_rto(1 * MS, 1500 * US, 12) == 0);
	tern_rto_init(peer.s);
	CHECK_EQ(peer.s->rto_ns, 1500 * US);
	teardown();
}

static void rtt_sample__jacobson_karels(void)
{
	REQUIRE(setup_rto(10 * US, 1000 * MS, 12) == 0);
	struct tern_session *s = peer.s;
	tern_rto_init(s);
	/* First sample: srtt = R, rttvar = R/2, rto = srtt + 4 rttvar = 3R. */
	tern_rtt_sample(s, 100 * US);
	CHECK_EQ(s->srtt_ns, 100 * US);
	CHECK_EQ(s->rttvar_ns, 50 * US);
	CHECK_EQ(s->rto_ns, 300 * US);
	/* Second: rttvar = 3/4 rttvar + 1/4 |srtt - R|; srtt = 7/8 srtt + 1/8 R. */
	tern_rtt_sample(s, 200 * US);
	CHECK_EQ(s->rttvar_ns, (3 * 50 * US + 100 * US) / 4);
	CHECK_EQ(s->srtt_ns, (7 * 100 * US + 200 * US) / 8);
	CHECK_EQ(s->rto_ns, s->srtt_ns + 4 * s->rttvar_ns);
	/* Converges on a steady RTT, variance decays. */
	for (int i = 0; i < 200; i++)
		tern_rtt_sample(s, 150 * US);
	CHECK(s->srtt_ns >= 149 * US && s->srtt_ns <= 151 * US);
	CHECK(s->rttvar_ns < 2 * US);
	CHECK(s->rto_ns >= s->srtt_ns && s->rto_ns < 160 * US);
	/* A sample below the old srtt works the other way round. */
	uint64_t srtt = s->srtt_ns, var = s->rttvar_ns;
	tern_rtt_sample(s, 50 * US);
	CHECK_EQ(s->rttvar_ns, (3 * var + (srtt - 50 * US)) / 4);
	CHECK_EQ(s->srtt_ns, (7 * srtt + 50 * US) / 8);
	teardown();
}

static void rtt_sample__clamped(void)
{
	REQUIRE(setup_rto(1 * MS, 50 * MS, 12) == 0);
	struct tern_session *s = peer.s;
	tern_rto_init(s);
	tern_rtt_sample(s, 10 * US); /* 3 x 10 us: below the floor */
	CHECK_EQ(s->rto_ns, 1 * MS);
	tern_rto_init(s);
	tern_rtt_sample(s, 40 * MS); /* 120 ms: above the ceiling */
	CHECK_EQ(s->rto_ns, 50 * MS);
	teardown();
}

static void rto__backoff_doubles_capped(void)
{
	REQUIRE(setup_rto(1 * MS, 40 * MS, 12) == 0);
	struct tern_session *s = peer.s;
	s->rto_ns = 3 * MS;
	CHECK_EQ(tern_rto(s, 0), 3 * MS);
	CHECK_EQ(tern_rto(s, 1), 6 * MS);
	CHECK_EQ(tern_rto(s, 2), 12 * MS);
	CHECK_EQ(tern_rto(s, 3), 24 * MS);
	CHECK_EQ(tern_rto(s, 4), 40 * MS);
	CHECK_EQ(tern_rto(s, 63), 40 * MS);
	CHECK_EQ(tern_rto(s, 64), 40 * MS);
	CHECK_EQ(tern_rto(s, UINT32_MAX), 40 * MS); /* no overflow, no long loop */
	s->rto_ns = 40 * MS;
	CHECK_EQ(tern_rto(s, 1), 40 * MS);
	teardown();
}

/* An RTT sample is taken from a packet sent once, and the RTO follows it. */
static void rtt_sample__from_a_call(void)
{
	REQUIRE(setup_rto(10 * US, 1000 * MS, 12) == 0);
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &r, 0) == 0);
	tern_poll(ep);
	CHECK(inj_expect_tx(peer.d, TERN_PKT_REQ) != NULL);
	inj_clock_advance(700 * US);
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(peer.s->srtt_ns, 700 * US);
	CHECK_EQ(peer.s->rto_ns, 3 * 700 * US);
	/* Karn: a retransmitted packet gives no sample. */
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &r, 0) == 0);
	tern_poll(ep);
	CHECK(inj_expect_tx(peer.d, TERN_PKT_REQ) != NULL);
	for (int t = 0; t < 100 && inj_skip_tx(peer.d, TERN_PKT_REQ) == 0; t++)
		inj_tick(ep, 100 * US);
	CHECK(stats().retransmits >= 1);
	inj_clock_advance(5 * MS);
	inj_resp_pkt(&peer, 16, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 2);
	CHECK_EQ(peer.s->srtt_ns, 700 * US);
	teardown();
}

/* An answer to a call already answered (its retransmission was answered
 * too): the RTO fired on a packet that was only slow. The session's RTO
 * doubles, once per RTO period, until a valid sample pulls it back. */
static void rto_spurious__duplicate_answer_doubles_the_rto(void)
{
	REQUIRE(setup_rto(1 * MS, 1000 * MS, 12) == 0);
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &r, 0) == 0);
	tern_poll(ep);
	uint64_t rto0 = peer.s->rto_ns;
	for (int t = 0; t < 100 && stats().retransmits == 0; t++)
		inj_tick(ep, 100 * US);
	CHECK_EQ(stats().retransmits, 1);
	inj_tx_clear(peer.d);
	/* The original's answer, then the retransmission's. */
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(peer.s->rto_ns, 2 * rto0);
	/* A second one in the same RTO period changes nothing more. */
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(peer.s->rto_ns, 2 * rto0);
	/* A valid sample (a call answered the first time) sets it from the estimate. */
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &r, 0) == 0);
	tern_poll(ep);
	inj_clock_advance(300 * US);
	inj_resp_pkt(&peer, 16, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 2);
	CHECK_EQ(peer.s->rto_ns, 1 * MS); /* srtt + 4 rttvar below the floor */
	inj_tx_clear(peer.d);
	teardown();
}

/* Losses are not slowness: calls whose first packet was lost, answered
 * after their retransmission, leave the session's RTO alone (backing it off
 * on every loss starved a lossy session of samples and grew its RTO
 * without bound: 100 calls/s at 30% loss per trip). */
static void rto__losses_do_not_inflate_the_session_rto(void)
{
	REQUIRE(setup_rto(1 * MS, 1000 * MS, 12) == 0);
	struct inj_result r;
	inj_result_reset(&r);
	uint64_t rto0 = peer.s->rto_ns;
	for (int k = 0; k < 20; k++) {
		uint64_t rn = 8 + 8 * (uint64_t)k;
		REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &r, 0) == 0);
		tern_poll(ep);
		uint64_t sent = stats().retransmits;
		for (int t = 0; t < 1000 && stats().retransmits == sent; t++)
			inj_tick(ep, 100 * US); /* the first one "lost" */
		inj_resp_pkt(&peer, rn, 1, "x", 1, 0);
		inj_poll(ep);
		inj_tx_clear(peer.d);
	}
	CHECK_EQ(r.calls, 20);
	CHECK_EQ(stats().retransmits, 20);
	CHECK_EQ(peer.s->rto_ns, rto0);
	teardown();
}

int main(void)
{
	RUN(rto_init__twice_the_floor);
	RUN(rtt_sample__jacobson_karels);
	RUN(rtt_sample__clamped);
	RUN(rto__backoff_doubles_capped);
	RUN(rtt_sample__from_a_call);
	RUN(rto_spurious__duplicate_answer_doubles_the_rto);
	RUN(rto__losses_do_not_inflate_the_session_rto);
	return check_exit();
}
