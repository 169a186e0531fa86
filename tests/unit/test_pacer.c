/*
 * test_pacer.c — lib/pacer.c: a session whose congestion window is below
 * one packet sends one packet per gap (rtt / window), resumed by the
 * pacer's timer; credits coming back do not bypass it; an unlimited
 * session never asks it. Virtual clock, MTU 96 (64 payload bytes/packet).
 */
#include "cc.h"
#include "check.h"
#include "inject.h"
#include "loss.h"

#define US 1000ull
#define MS 1000000ull

static struct tern_ep *ep;
static struct inj *d;
static struct inj_peer peer;
static struct tern_session *s;

static int setup(void)
{
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.flags |= TERN_EP_CC;
	cfg.mtu = 96;
	cfg.cc_target_ns = 100 * US;
	cfg.rto_min_ns = 50 * MS; /* no RTO within these tests */
	cfg.rto_max_ns = 100 * MS;
	ep = inj_ep_create(&cfg);
	if (ep == NULL)
		return -1;
	d = inj_of(ep);
	inj_peer_init(&peer, ep, NULL);
	if (inj_connect(&peer) != 0)
		return -1;
	s = peer.s;
	return 0;
}

static void teardown(void)
{
	CHECK_EQ(inj_tx_bad(d), 0);
	tern_ep_destroy(ep);
	ep = NULL;
}

/* srtt 1 ms; a base of 100 µs, then samples of 1 ms (far above target)
 * until the window is half a packet: a gap of 2 ms. */
static void make_paced(void)
{
	ep->now = inj_clock();
	tern_rtt_sample(s, MS);
	tern_cc_rtt(s, 100 * US);
	for (int i = 0; i < 100 && s->cc.cwnd > TERN_CC_ONE / 2; i++) {
		inj_clock_advance(2 * MS);
		ep->now = inj_clock();
		tern_cc_rtt(s, MS);
	}
	s->cc.cwnd = TERN_CC_ONE / 2; /* exactly half (the cuts' last step may overshoot) */
	s->srtt_ns = MS;
	tern_cc_loss(s); /* below a packet: a loss leaves it (and re-applies nothing) */
	s->credits_floor = s->credits_max;
	s->cc.gap_ns = 2 * MS;
}

static int call(size_t len, struct inj_result *r)
{
	inj_result_reset(r);
	struct tern_msg *m = inj_msg(ep, len, 1);
	int rc = tern_call(s, 1, m, inj_cont, r, 0);
	if (rc != 0)
		tern_msg_free(m);
	return rc;
}

static void pacer__unlimited_session_sends_at_once(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	REQUIRE(call(640, &r) == 0); /* 10 packets */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 10);
	CHECK(!tern_timer_armed(&s->cc.timer));
	teardown();
}

static void pacer__one_packet_per_gap(void)
{
	REQUIRE(setup() == 0);
	make_paced();
	REQUIRE(s->cc.paced);
	CHECK_EQ(s->cc.gap_ns, 2 * MS);
	struct inj_result r;
	REQUIRE(call(1280, &r) == 0); /* 20 packets: the last is not reached */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 1);
	CHECK(tern_timer_armed(&s->cc.timer));
	/* Its CR comes back at once: the credit alone does not let the next go. */
	inj_cr(&peer, 8, 1, 0, 640, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	/* Steps of 100 µs: the pacer's timer lets one go per gap, never two at
	 * once: packet k leaves no earlier than k gaps after the first, and at
	 * most a step (and a wheel tick) later — one that left late does not
	 * push the schedule back. */
	uint64_t t0 = inj_clock();
	int sent = 0;
	for (int t = 0; t < 200; t++) {
		inj_tick(ep, 100 * US);
		unsigned n = inj_skip_tx(d, TERN_PKT_REQ);
		CHECK(n <= 1);
		if (n == 1) {
			sent++;
			uint64_t due = t0 + (uint64_t)sent * 2 * MS;
			CHECK(inj_clock() >= due && inj_clock() <= due + 200 * US);
		}
	}
	CHECK(sent >= 8 && sent <= 10); /* 20 ms: a packet per 2 ms */
	teardown();
}

/* The window grows back to a packet or more: the pacer lets go, the
 * window alone limits. */
static void pacer__ends_when_the_window_grows(void)
{
	REQUIRE(setup() == 0);
	make_paced();
	struct inj_result r;
	REQUIRE(call(640, &r) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 1);
	for (int i = 0; i < 40 && s->cc.cwnd < 3 * TERN_CC_ONE; i++) {
		inj_clock_advance(MS);
		ep->now = inj_clock();
		tern_rtt_sample(s, 200 * US); /* under target */
		tern_cc_rtt(s, 200 * US);
	}
	CHECK_EQ(s->cc.paced, 0);
	CHECK_EQ(s->credits_floor, 32 - s->cc.cwnd / TERN_CC_ONE);
	inj_cr(&peer, 8, 1, 0, 640, 0); /* a credit back: the waiting call resumes */
	inj_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), s->cc.cwnd / TERN_CC_ONE);
	teardown();
}

/* Regression: a packet the pacer's timer lets go while an earlier one is
 * still unanswered (the call's RTO already running) starts an RTT sample;
 * it was never stamped with its send time, so paced sessions got a sample
 * only when another event happened to touch the call — in incast, none for
 * seconds. Packet 2 leaves while 1 is out; answered 700 µs later, it gives
 * a sample of 700 µs. */
static void pacer__paced_packets_give_rtt_samples(void)
{
	REQUIRE(setup() == 0);
	make_paced();
	struct inj_result r;
	REQUIRE(call(1280, &r) == 0); /* 20 packets */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 1); /* 0: the sample runs on it */
	int t;
	for (t = 0; t < 100 && inj_tx_count(d) == 0; t++)
		inj_tick(ep, 100 * US);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 1); /* 1 */
	inj_tick(ep, 500 * US);
	inj_cr(&peer, 8, 1, 0, 1280, 0); /* 0's sample ends; 1 is out */
	inj_poll(ep);
	for (t = 0; t < 100 && inj_tx_count(d) == 0; t++)
		inj_tick(ep, 100 * US);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 1); /* 2: a sample starts on it */
	for (t = 0; t < 7; t++)
		inj_tick(ep, 100 * US);
	inj_cr(&peer, 8, 1, 1, 1280, 0);
	inj_cr(&peer, 8, 1, 2, 1280, 0);
	inj_poll(ep);
	CHECK(s->cc.rtt_ns >= 600 * US && s->cc.rtt_ns <= 800 * US);
	tern_session_close(s);
	CHECK_EQ(r.calls, 1);
	teardown();
}

/* A request's last packet needs only a credit (its answer, the response,
 * may wait for other calls: deferred replies): one-packet calls are not
 * held by the pacer, nor the last packet of a longer one. */
static void pacer__last_packet_needs_only_a_credit(void)
{
	REQUIRE(setup() == 0);
	make_paced();
	struct inj_result a, b, c;
	REQUIRE(call(128, &a) == 0); /* 2 packets: the first paced */
	REQUIRE(call(10, &b) == 0);
	REQUIRE(call(10, &c) == 0);
	tern_poll(ep);
	const struct inj_pkt *q;
	int first = 0, ones = 0, n = 0;
	while ((q = inj_pop_tx(d)) != NULL) {
		CHECK_EQ(q->h.type, TERN_PKT_REQ);
		first += q->h.req_num == 8 && q->h.pkt_num == 0;
		ones += q->h.req_num == 9 || q->h.req_num == 10;
		n++;
	}
	CHECK_EQ(first, 1);
	CHECK_EQ(ones, 2);
	CHECK_EQ(n, 4); /* and the two-packet call's last */
	/* Another two-packet call: its first packet waits for the pacer. */
	struct inj_result e;
	REQUIRE(call(128, &e) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK(tern_timer_armed(&s->cc.timer));
	teardown();
}

int main(void)
{
	RUN(pacer__unlimited_session_sends_at_once);
	RUN(pacer__one_packet_per_gap);
	RUN(pacer__ends_when_the_window_grows);
	RUN(pacer__paced_packets_give_rtt_samples);
	RUN(pacer__last_packet_needs_only_a_credit);
	return check_exit();
}
