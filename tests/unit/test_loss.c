/*
 * test_timers.c — lib/timers.c: the RTO estimator (Jacobson/Karels samples,
 * clamps, backoff), the loss scan's rules (RTO per call, retry budget only
 * against a silent peer, deadlines, waiting for credits is not a loss) and
 * the explicit ACK timer.
 */
#include "check.h"
#include "inject.h"
#include "loss.h"

#define US 1000ull
#define MS 1000000ull

static struct tern_ep *ep;
static struct inj_peer peer;

static uint64_t session_timeout = 50000 * MS;

static int setup_rto(uint64_t rto_min, uint64_t rto_max, uint32_t max_retries)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.rto_min_ns = rto_min;
	cfg.rto_max_ns = rto_max;
	cfg.max_retries = max_retries; /* unused: nothing may depend on it */
	cfg.keepalive_ns = 100000 * MS;
	cfg.session_timeout_ns = session_timeout;
	cfg.call_timeout_ns = 100000 * MS;
	ep = inj_ep_create(&cfg);
	if (ep == NULL)
		return -1;
	inj_peer_init(&peer, ep, NULL);
	return inj_connect(&peer);
}

static void teardown(void)
{
	CHECK_EQ(inj_tx_bad(peer.d), 0);
	tern_ep_destroy(ep);
	ep = NULL;
}

static struct tern_stats stats(void)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	return st;
}

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

/*
 * A call never fails for unanswered retransmissions. A peer that keeps
 * answering other calls is alive: only the call's deadline ends a call whose
 * own packets keep getting lost. A peer that goes silent is probed (PINGs);
 * after session_timeout_ns of silence its session is dead and the call ends
 * with it (-ETIMEDOUT), not after some number of retries.
 */
static void rto__silence_fails_calls_only_through_the_session(void)
{
	session_timeout = 50 * MS;
	REQUIRE(setup_rto(1 * MS, 8 * MS, 3) == 0);
	session_timeout = 50000 * MS;
	struct inj_result lost, busy;
	inj_result_reset(&lost);
	inj_result_reset(&busy);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &lost, 200 * MS) == 0); /* 8 */
	tern_poll(ep);
	inj_tx_clear(peer.d);
	/* Other calls come and go every millisecond; "lost" never gets anything. */
	int other = 0;
	for (int t = 0; t < 150 && lost.calls == 0; t++) {
		if (busy.calls == other) {
			REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 1, 0), inj_cont, &busy, 0) == 0);
			other++;
		}
		tern_poll(ep);
		const struct inj_pkt *q;
		while ((q = inj_pop_tx(peer.d)) != NULL) {
			if (q->h.type == TERN_PKT_REQ && q->h.req_num % 8 != 0)
				inj_resp_pkt(&peer, q->h.req_num, 1, "b", 1, 0);
			if (q->h.type == TERN_PKT_PING)
				inj_ctrl(&peer, TERN_PKT_PONG);
		}
		inj_tick(ep, MS);
	}
	CHECK_EQ(lost.calls, 0); /* 150 ms: three session timeouts, the peer alive */
	CHECK(busy.calls > 100);
	CHECK(stats().rto_events > 3);
	CHECK_EQ(stats().sessions_dead, 0);
	/* The deadline (200 ms) still ends it. */
	for (int t = 0; t < 100 && lost.calls == 0; t++) {
		inj_tick(ep, MS);
		inj_tx_clear(peer.d);
		inj_ctrl(&peer, TERN_PKT_PONG);
	}
	CHECK_EQ(lost.calls, 1);
	CHECK_EQ(lost.status, -ETIMEDOUT);
	CHECK_EQ(stats().sessions_dead, 0);
	/* A silent peer: probed, and dead one session timeout after it was last
	 * heard; the call ends with the session. */
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &r, 0) == 0);
	uint64_t t0 = inj_clock();
	int pings = 0;
	for (int t = 0; t < 200 && r.calls == 0; t++) {
		inj_tick(ep, MS);
		const struct inj_pkt *q;
		while ((q = inj_pop_tx(peer.d)) != NULL)
			pings += q->h.type == TERN_PKT_PING;
	}
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ETIMEDOUT);
	CHECK_EQ(stats().sessions_dead, 1);
	CHECK(pings >= 8); /* every 50 ms / 64, at least the RTO floor (1 ms) */
	uint64_t took = inj_clock() - t0;
	if (!(took >= 50 * MS && took <= 62 * MS))
		fprintf(stderr, "  dead after %llu ms\n", (unsigned long long)(took / MS));
	CHECK(took >= 50 * MS && took <= 62 * MS);
	tern_session_close(peer.s);
	peer.s = NULL;
	teardown();
}

/* A call waiting for session credits has nothing in flight: not a loss. */
static void loss_scan__waiting_for_credits_is_not_a_loss(void)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.credits = 1;
	cfg.keepalive_ns = 100000 * MS;
	cfg.session_timeout_ns = 50000 * MS;
	ep = inj_ep_create(&cfg);
	REQUIRE(ep != NULL);
	inj_peer_init(&peer, ep, NULL);
	REQUIRE(inj_connect(&peer) == 0);
	struct inj_result a, b;
	inj_result_reset(&a);
	inj_result_reset(&b);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &a, 0) == 0);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &b, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(peer.d, TERN_PKT_REQ), 1); /* b waits for the credit */
	/* a's handler runs long; WORKING keeps a alive. b must not time out. */
	for (int t = 0; t < 100; t++) {
		inj_tick(ep, MS);
		const struct inj_pkt *p;
		int req = 0;
		while ((p = inj_pop_tx(peer.d)) != NULL) /* resends of a, and probes */
			req |= p->h.type == TERN_PKT_REQ;
		if (req)
			inj_cr(&peer, 8, 1, 0, 10, TERN_WF_WORKING);
	}
	CHECK_EQ(a.calls, 0);
	CHECK_EQ(b.calls, 0);
	inj_resp_pkt(&peer, 8, 1, "a", 1, 0);
	inj_poll(ep);
	CHECK_EQ(a.calls, 1);
	inj_skip_tx(peer.d, TERN_PKT_PING);
	const struct inj_pkt *q = inj_expect_tx(peer.d, TERN_PKT_REQ);
	REQUIRE(q != NULL);
	CHECK_EQ(q->h.req_num, 9);
	inj_resp_pkt(&peer, 9, 1, "b", 1, 0);
	inj_poll(ep);
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(b.status, 0);
	teardown();
}

static void ack_timer__one_ack_per_idle_slot(void)
{
	REQUIRE(setup_rto(1 * MS, 8 * MS, 12) == 0); /* ack_delay 4 ms */
	struct inj_result r[3];
	for (int i = 0; i < 3; i++) {
		inj_result_reset(&r[i]);
		REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 1, 0), inj_cont, &r[i], 0) == 0);
	}
	tern_poll(ep);
	inj_tx_clear(peer.d);
	for (uint64_t k = 0; k < 3; k++)
		inj_resp_pkt(&peer, 8 + k, 1, "x", 1, 0);
	inj_poll(ep);
	uint64_t seen = 0;
	int acks = 0;
	for (int t = 0; t < 20; t++) {
		inj_tick(ep, MS);
		const struct inj_pkt *q;
		while ((q = inj_pop_tx(peer.d)) != NULL) {
			CHECK_EQ(q->h.type, TERN_PKT_ACK);
			seen |= 1ull << (q->h.req_num - 8);
			acks++;
		}
	}
	CHECK_EQ(acks, 3);
	CHECK_EQ(seen, 7);
	/* A session that goes away owes nothing. */
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 1, 0), inj_cont, &r[0], 0) == 0);
	tern_poll(ep);
	inj_resp_pkt(&peer, 16, 1, "x", 1, 0);
	inj_poll(ep);
	inj_reset(&peer);
	inj_poll(ep);
	inj_tx_clear(peer.d);
	for (int t = 0; t < 20; t++)
		inj_tick(ep, MS);
	CHECK_EQ(inj_tx_count(peer.d), 0);
	for (uint32_t i = 0; i < peer.s->nslots; i++)
		CHECK(!tern_timer_armed(&peer.s->cs[i].timer)); /* no call timer left */
	tern_session_close(peer.s);
	teardown();
}

int main(void)
{
	RUN(rto_init__twice_the_floor);
	RUN(rtt_sample__jacobson_karels);
	RUN(rtt_sample__clamped);
	RUN(rto__backoff_doubles_capped);
	RUN(rtt_sample__from_a_call);
	RUN(rto__silence_fails_calls_only_through_the_session);
	RUN(loss_scan__waiting_for_credits_is_not_a_loss);
	RUN(ack_timer__one_ack_per_idle_slot);
	return check_exit();
}
