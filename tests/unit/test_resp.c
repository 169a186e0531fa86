/*
 * test_resp.c — lib/resp.c (and the caller's half of timers.c), the caller
 * side: window and credits, CRs, response packets and RFRs, fast retransmit,
 * RTO rollback, retry budget and deadlines, WORKING, error answers, the
 * explicit ACK, the backlog, argument errors, one-way calls, and the rule
 * that every accepted call ends in exactly one continuation.
 *
 * The endpoint under test is the client; the peer (the server) is played by
 * injected packets. MTU 96: 64 payload bytes per packet. The first call on
 * slot k is req_num k + slots.
 */
#include "check.h"
#include "inject.h"

#define MS 1000000ull

static struct tern_ep *ep;
static struct inj *d;
static struct inj_peer peer;

static void config(struct tern_ep_config *cfg)
{
	inj_config(cfg);
	cfg->mtu = 96;
	cfg->keepalive_ns = 1000 * MS;
	cfg->session_timeout_ns = 5000 * MS;
	cfg->call_timeout_ns = 10000 * MS;
	cfg->max_retries = 100;
}

static int setup_cfg(const struct tern_ep_config *cfg)
{
	ep = inj_ep_create(cfg);
	if (ep == NULL)
		return -1;
	d = inj_of(ep);
	inj_peer_init(&peer, ep, NULL);
	return inj_connect(&peer);
}

static int setup(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	return setup_cfg(&cfg);
}

static struct tern_stats stats(void)
{
	struct tern_stats st;
	tern_ep_stats(ep, &st);
	return st;
}

static void teardown(void)
{
	CHECK_EQ(inj_tx_bad(d), 0);
	tern_ep_destroy(ep);
	ep = NULL;
}

/* Issue a call of len bytes of pattern seed. */
static int call(size_t len, uint32_t seed, struct inj_result *r, uint64_t timeout)
{
	inj_result_reset(r);
	struct tern_msg *m = inj_msg(ep, len, seed);
	int rc = tern_call(peer.s, 1, m, inj_cont, r, timeout);
	if (rc != 0)
		tern_msg_free(m);
	return rc;
}

/* Pop the next REQ and check it is packet pkt of req_num. */
static int expect_req(uint64_t req_num, uint32_t pkt)
{
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
	if (q == NULL)
		return 0;
	if (q->h.req_num != req_num || q->h.pkt_num != pkt) {
		fprintf(stderr, "  REQ req %llu pkt %u, want %llu %u\n",
			(unsigned long long)q->h.req_num, q->h.pkt_num,
			(unsigned long long)req_num, pkt);
		return 0;
	}
	return 1;
}

static int expect_rfr(uint64_t req_num, uint32_t pkt, uint32_t size)
{
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_RFR);
	if (q == NULL)
		return 0;
	if (q->h.req_num != req_num || q->h.pkt_num != pkt || q->h.msg_size != size ||
	    q->h.req_type != 1 || q->body_len != 0) {
		fprintf(stderr, "  RFR req %llu pkt %u size %u, want %llu %u %u\n",
			(unsigned long long)q->h.req_num, q->h.pkt_num, q->h.msg_size,
			(unsigned long long)req_num, pkt, size);
		return 0;
	}
	return 1;
}

/* --- window and credits ----------------------------------------------------------- */

static void credits__window_of_four(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 4;
	REQUIRE(setup_cfg(&cfg) == 0);
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
	 * (the response answers it). */
	REQUIRE(call(100, 2, &r, 0) == 0); /* 2 packets: req 16 */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 2);
	a = stats();
	inj_cr(&peer, 16, 1, 0, 100, 0);
	inj_cr(&peer, 16, 1, 1, 100, 0); /* "held" (wire.h): not resent, no credit */
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
static void credits__range_cr(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 4;
	REQUIRE(setup_cfg(&cfg) == 0);
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

static void credits__shared_by_the_calls_of_a_session(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 4;
	REQUIRE(setup_cfg(&cfg) == 0);
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

static void resp__packet0_acknowledges_the_request(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	REQUIRE(call(640, 1, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 10);
	CHECK_EQ(peer.s->credits, 32 - 10);
	/* Every CR was lost; the response says it all. */
	inj_resp_pkt(&peer, 8, 1, "done", 4, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(peer.s->credits, 32);
	CHECK_EQ(stats().zc_rx, 1);
	/* Nothing is resent later; only the ACK goes out. */
	for (int t = 0; t < 20; t++)
		inj_tick(ep, MS);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_ACK), 1);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().retransmits, 0);
	/* The same with a multi-packet response: its packet 0 moves the
	 * window past the request at once, so the RFRs go out right away and
	 * the last response packet completes the call. */
	uint8_t resp[300];
	inj_fill(resp, sizeof(resp), 9);
	REQUIRE(call(640, 2, &r, 0) == 0); /* req 16 */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 10);
	inj_resp_pkt(&peer, 16, 1, resp, 300, 0);
	inj_poll(ep);
	for (uint32_t j = 1; j < 5; j++)
		CHECK(expect_rfr(16, j, 300));
	CHECK_EQ(inj_tx_count(d), 0);
	for (uint32_t j = 1; j < 5; j++)
		inj_resp_pkt(&peer, 16, 1, resp, 300, j);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK(r.len == 300 && memcmp(r.data, resp, 300) == 0);
	CHECK_EQ(peer.s->credits, 32);
	CHECK_EQ(stats().retransmits, 0);
	teardown();
}

static void resp__before_request_fully_sent_dropped(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 4;
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_result r;
	REQUIRE(call(640, 1, &r, 0) == 0);
	tern_poll(ep);
	inj_tx_clear(d);
	inj_resp_pkt(&peer, 8, 1, "no", 2, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], 1);
	tern_session_close(peer.s);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ECANCELED);
	teardown();
}

static void resp__multi_packet_pulled_with_rfrs(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 4;
	REQUIRE(setup_cfg(&cfg) == 0);
	enum { SIZE = 600, M = 10 }; /* 9 x 64 + 24 */
	uint8_t resp[SIZE];
	inj_fill(resp, sizeof(resp), 42);
	struct inj_result r;
	REQUIRE(call(10, 1, &r, 0) == 0);
	tern_poll(ep);
	CHECK(expect_req(8, 0));
	inj_resp_pkt(&peer, 8, 1, resp, SIZE, 0);
	inj_poll(ep);
	/* Four credits: RFR 1..4. */
	for (uint32_t j = 1; j <= 4; j++)
		CHECK(expect_rfr(8, j, SIZE));
	CHECK_EQ(inj_tx_count(d), 0);
	/* Out of order: 3 first (one credit back: RFR 5). */
	inj_resp_pkt(&peer, 8, 1, resp, SIZE, 3);
	inj_poll(ep);
	CHECK(expect_rfr(8, 5, SIZE));
	CHECK_EQ(inj_tx_count(d), 0);
	/* Duplicated, and beyond what was requested: dropped, no credit. */
	struct tern_stats a = stats();
	inj_resp_pkt(&peer, 8, 1, resp, SIZE, 3);
	inj_resp_pkt(&peer, 8, 1, resp, SIZE, 7);
	inj_resp_pkt(&peer, 8, 1, resp, SIZE, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	struct tern_stats b = stats();
	CHECK_EQ(b.drops[TERN_DROP_DUP], a.drops[TERN_DROP_DUP] + 2);
	CHECK_EQ(b.drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 1);
	/* Wrong msg_size for the response: dropped. */
	struct tern_hdr h = inj_hdr(&peer, TERN_PKT_RESP);
	h.req_num = 8;
	h.req_type = 1;
	h.pkt_num = 1;
	h.msg_size = SIZE + 64;
	inj_send(&peer, &h, resp + 64, 64);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], b.drops[TERN_DROP_UNEXPECTED] + 1);
	/* The rest in order, each pulling the next. */
	uint32_t next = 6;
	const uint32_t order[] = {1, 2, 4, 5, 6, 7, 8, 9};
	for (unsigned k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		CHECK_EQ(r.calls, 0);
		inj_resp_pkt(&peer, 8, 1, resp, SIZE, order[k]);
		inj_poll(ep);
		if (next < M) {
			CHECK(expect_rfr(8, next, SIZE));
			next++;
		}
		CHECK_EQ(inj_tx_count(d), 0);
	}
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK(r.len == SIZE && memcmp(r.data, resp, SIZE) == 0);
	CHECK_EQ(peer.s->credits, 4);
	CHECK_EQ(stats().msgs_in_use, 0);
	teardown();
}

/* The per-call window is 64 receptions wide, whatever the credits. */
static void window__64_wide_and_slides(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 64;
	REQUIRE(setup_cfg(&cfg) == 0);
	enum { N = 140 };
	struct inj_result r;
	REQUIRE(call(N * 64, 3, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 64);
	CHECK_EQ(inj_tx_count(d), 0);
	/* CRs 1..63: credits come back, but packet 64 is outside the window
	 * until 0 is answered. (Early retransmit resends the hole 0.) */
	for (uint32_t i = 1; i < 64; i++)
		inj_cr(&peer, 8, 1, i, N * 64, 0);
	inj_poll(ep);
	CHECK(expect_req(8, 0));
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(peer.s->credits, 63);
	/* CR 0 fills the whole bitmap: the window jumps by 64 at once. */
	inj_cr(&peer, 8, 1, 0, N * 64, 0);
	inj_poll(ep);
	CHECK_EQ(peer.s->cs[0].rx.base, 64);
	for (uint32_t i = 64; i < 128; i++)
		CHECK(expect_req(8, i));
	CHECK_EQ(inj_tx_count(d), 0);
	for (uint32_t i = 64; i < N - 1; i++) {
		inj_cr(&peer, 8, 1, i, N * 64, 0);
		inj_poll(ep);
	}
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), N - 128);
	inj_resp_pkt(&peer, 8, 1, "ok", 2, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(peer.s->credits, 64);
	teardown();
}

static void resp__bad_answers_dropped(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r, ow;
	REQUIRE(call(10, 1, &r, 0) == 0);
	inj_result_reset(&ow);
	REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 150, 0), inj_cont, &ow, 0) == 0); /* req 9 */
	tern_poll(ep);
	inj_tx_clear(d);
	struct tern_stats a = stats();
	inj_resp_pkt(&peer, 8, 2, "x", 1, 0);  /* another request type */
	inj_resp_pkt(&peer, 9, 1, "x", 1, 0);  /* an answer to a one-way call */
	inj_resp_pkt(&peer, 10, 1, "x", 1, 0); /* a call never made */
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 2);
	CHECK_EQ(stats().drops[TERN_DROP_STALE], a.drops[TERN_DROP_STALE] + 1);
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(ow.calls, 0);
	CHECK_EQ(inj_tx_count(d), 0);
	tern_session_close(peer.s);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(ow.calls, 1);
	teardown();
}

/* No buffer to reassemble a response into: dropped, and the next copy of
 * packet 0 (the RTO resends the request) gets in. */
static void resp__no_memory_for_reassembly(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.mem_limit = 4u << 20;
	cfg.max_msg_size = 4u << 20;
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_result r;
	REQUIRE(call(10, 1, &r, 0) == 0);
	tern_poll(ep);
	inj_tx_clear(d);
	/* Take the rest of the memory. */
	struct tern_msg *hog = tern_msg_alloc(ep, (2u << 20) - 200);
	REQUIRE(hog != NULL);
	static uint8_t big[100000];
	inj_resp_pkt(&peer, 8, 1, big, sizeof(big), 0);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_NOMEM], 1);
	CHECK_EQ(r.calls, 0);
	tern_msg_free(hog);
	/* A smaller answer fits the first region (256-byte chunks). */
	inj_resp_pkt(&peer, 8, 1, big, 100, 0);
	inj_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_RFR), 1);
	inj_resp_pkt(&peer, 8, 1, big, 100, 1);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(r.len, 100);
	teardown();
}

/* The driver takes fewer packets than offered (its queue is full): the rest
 * stay in the batch and go at the next flush, nothing is lost. A driver that
 * refuses a whole full batch loses it: counted, recovered by the RTO. */
static void tx__driver_refusals_recovered(void)
{
	REQUIRE(setup() == 0);
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
	/* A driver that takes nothing: the full batch waits; when more must
	 * go (the RTO's resends), it is dropped, counted, and resent. */
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 64;
	REQUIRE(setup_cfg(&cfg) == 0);
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
	/* More than a batch (64) queued between two polls: flushed when full. */
	config(&cfg);
	cfg.credits = 64;
	REQUIRE(setup_cfg(&cfg) == 0);
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

/* --- loss recovery ---------------------------------------------------------------- */

static void fast_retransmit__three_above_a_hole(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	REQUIRE(call(640, 1, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 10);
	/* Holes at 0 and 2. */
	inj_cr(&peer, 8, 1, 1, 640, 0);
	inj_cr(&peer, 8, 1, 3, 640, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0); /* two above hole 0: not yet */
	inj_cr(&peer, 8, 1, 4, 640, 0);
	inj_poll(ep);
	CHECK(expect_req(8, 0)); /* three above 0; only two above 2 */
	CHECK_EQ(inj_tx_count(d), 0);
	inj_cr(&peer, 8, 1, 5, 640, 0);
	inj_poll(ep);
	CHECK(expect_req(8, 2)); /* 0 was resent already: only 2 */
	CHECK_EQ(inj_tx_count(d), 0);
	inj_cr(&peer, 8, 1, 6, 640, 0);
	inj_cr(&peer, 8, 1, 7, 640, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0); /* each hole once */
	CHECK_EQ(stats().retransmits, 2);
	CHECK_EQ(stats().rto_events, 0);
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	teardown();
}

static void rto__rollback_resends_only_missing(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	REQUIRE(call(640, 1, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 10);
	const uint32_t got[] = {0, 1, 2, 3, 4, 6};
	for (unsigned k = 0; k < 6; k++)
		inj_cr(&peer, 8, 1, got[k], 640, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	/* Silence until the RTO: then 5, 7, 8, 9 again, and nothing else. */
	int t;
	for (t = 0; t < 100 && inj_tx_count(d) == 0; t++)
		inj_tick(ep, MS);
	CHECK(expect_req(8, 5));
	CHECK(expect_req(8, 7));
	CHECK(expect_req(8, 8));
	CHECK(expect_req(8, 9));
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().retransmits, 4);
	CHECK_EQ(stats().rto_events, 1);
	inj_cr(&peer, 8, 1, 5, 640, 0);
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	teardown();
}

/* Selective resend: packet 3 of 10 is lost (and so is its fast
 * retransmission); the callee CRs the rest and says it holds the last. The
 * RTO resends packet 3 and nothing else (before: 3 and the last, 9). */
static void rto__resends_only_the_lost_middle_packet(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	REQUIRE(call(640, 1, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 10);
	inj_cr_range(&peer, 8, 1, 2, 2, 640, 0);
	inj_cr_range(&peer, 8, 1, 8, 4, 640, 0);
	inj_cr(&peer, 8, 1, 9, 640, 0); /* held */
	inj_poll(ep);
	CHECK(expect_req(8, 3)); /* fast retransmit */
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK(peer.s->cs[0].last_held);
	/* That copy is lost too: silence until the RTO. */
	int t;
	for (t = 0; t < 100 && inj_tx_count(d) == 0; t++)
		inj_tick(ep, MS);
	CHECK(expect_req(8, 3));
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().retransmits, 2);
	CHECK_EQ(stats().rto_events, 1);
	/* A second held CR is a duplicate. */
	struct tern_stats a = stats();
	inj_cr(&peer, 8, 1, 9, 640, 0);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_DUP], a.drops[TERN_DROP_DUP] + 1);
	CHECK_EQ(inj_tx_count(d), 0);
	inj_cr(&peer, 8, 1, 3, 640, 0);
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	teardown();
}

/* A two-packet request whose first packet is lost: the held CR for the
 * last reveals the hole at once (no RTO wait). */
static void fast_retransmit__held_last_reveals_hole(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	REQUIRE(call(128, 1, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 2);
	inj_cr(&peer, 8, 1, 1, 128, 0); /* held */
	inj_poll(ep);
	CHECK(expect_req(8, 0));
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().retransmits, 1);
	CHECK_EQ(stats().rto_events, 0);
	/* A held CR with a range, or for a call already answered: refused. */
	struct tern_stats a = stats();
	inj_cr_range(&peer, 8, 1, 1, 1, 128, 0);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_DUP], a.drops[TERN_DROP_DUP] + 1);
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	teardown();
}

/* The callee held the last packet, then got the rest and answered; the
 * response is lost. The holes' CRs come (copies answered from the cache)
 * and nothing is in flight, but the call still has its RTO: it resends
 * the last packet, whose copy brings response packet 0 again. (It hung
 * until its deadline when only credits in flight kept the RTO running.) */
static void rto__held_last_resent_when_the_response_is_lost(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	REQUIRE(call(192, 1, &r, 0) == 0); /* 3 packets */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 3);
	inj_cr(&peer, 8, 1, 2, 192, 0); /* held */
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0); /* two holes below it: not enough to tell */
	int t;
	for (t = 0; t < 100 && inj_tx_count(d) == 0; t++)
		inj_tick(ep, MS);
	CHECK(expect_req(8, 0)); /* the RTO: the holes, not the last */
	CHECK(expect_req(8, 1));
	CHECK_EQ(inj_tx_count(d), 0);
	inj_cr(&peer, 8, 1, 0, 192, 0);
	inj_cr(&peer, 8, 1, 1, 192, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	for (t = 0; t < 100 && inj_tx_count(d) == 0; t++)
		inj_tick(ep, MS);
	CHECK(expect_req(8, 2));
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	teardown();
}

/* A continuation that runs for longer than the RTO (it filled a big request,
 * say) and then calls again: the poll's clock is stale by that long, which
 * must not count against the new call. Its RTO runs from when it was sent. */
static int slow_calls;
static void slow_cont(const struct tern_result *res, void *ctx)
{
	inj_cont(res, ctx);
	if (slow_calls++ == 0) {
		inj_clock_advance(20 * MS); /* ten times the RTO */
		CHECK_EQ(tern_call(peer.s, 1, inj_msg(ep, 1, 0), slow_cont, ctx, 0), 0);
	}
}

static void rto__long_continuation_is_not_a_loss(void)
{
	REQUIRE(setup() == 0);
	slow_calls = 0;
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 1, 0), slow_cont, &r, 0) == 0);
	tern_poll(ep);
	REQUIRE(expect_req(8, 0));
	inj_resp_pkt(&peer, 8, 1, "a", 1, 0); /* its continuation calls again */
	tern_poll(ep);
	REQUIRE(expect_req(16, 0));
	/* Half the RTO later (1 ms: the floor, as the first call's RTT sample
	 * was 0 on the virtual clock): still nothing resent. */
	for (int t = 0; t < 5; t++)
		inj_tick(ep, MS / 10);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().rto_events, 0);
	/* Silence goes on: the RTO still fires, one RTO (plus a scan) after
	 * the call went out. */
	int t;
	for (t = 5; t < 100 && inj_tx_count(d) == 0; t++)
		inj_tick(ep, MS / 10);
	if (!(t >= 10 && t <= 12))
		fprintf(stderr, "  RTO after %d ticks of 0.1 ms\n", t);
	CHECK(t >= 10 && t <= 12);
	CHECK(expect_req(16, 0));
	CHECK_EQ(stats().rto_events, 1);
	inj_resp_pkt(&peer, 16, 1, "b", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 2);
	CHECK_EQ(stats().msgs_in_use, 0);
	teardown();
}

/* Answers that arrived while a callback ran long wait in the receive queue:
 * they are not losses. A's continuation runs for 20 ms (ten RTOs) in a full
 * burst; B's response waits behind it and must not be resent for. */
static void long_cont(const struct tern_result *res, void *ctx)
{
	inj_cont(res, ctx);
	inj_clock_advance(20 * MS);
}

static void rto__answers_queued_behind_a_long_callback(void)
{
	REQUIRE(setup() == 0);
	struct inj_result a, b;
	inj_result_reset(&a);
	inj_result_reset(&b);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 1, 0), long_cont, &a, 0) == 0);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 1, 0), inj_cont, &b, 0) == 0);
	tern_poll(ep);
	CHECK(expect_req(8, 0));
	CHECK(expect_req(9, 0));
	inj_tick(ep, MS / 10);
	/* A's response, then 31 copies of it (dropped), fill the first burst;
	 * B's response is the 33rd packet. */
	for (int k = 0; k < 32; k++)
		inj_resp_pkt(&peer, 8, 1, "a", 1, 0);
	inj_resp_pkt(&peer, 9, 1, "b", 1, 0);
	inj_clock_advance(MS / 10); /* a loss scan is due in this poll */
	tern_poll(ep);
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(b.calls, 0);
	/* 20 ms idle after A: its explicit ACK is due; nothing else is sent. */
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_ACK);
	CHECK(q != NULL && q->h.req_num == 8);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().rto_events, 0);
	tern_poll(ep);
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(b.status, 0);
	CHECK_EQ(stats().rto_events, 0);
	CHECK_EQ(stats().retransmits, 0);
	CHECK_EQ(stats().msgs_in_use, 0);
	teardown();
}

/* A silent peer: retransmissions back off, the session probes it, and one
 * session timeout of silence later the session is dead — the call ends
 * with it (-ETIMEDOUT), not after a number of retries. */
static void rto__silent_peer_ends_with_its_session(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.session_timeout_ns = 300 * MS;
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_result r;
	REQUIRE(call(10, 1, &r, 0) == 0);
	tern_poll(ep);
	CHECK(expect_req(8, 0));
	int resends = 0, pings = 0, last = 0, prev_gap = 0, backoff_ok = 1;
	int t;
	for (t = 1; t <= 1000 && r.calls == 0; t++) {
		inj_tick(ep, MS);
		const struct inj_pkt *q;
		int n = 0;
		while ((q = inj_pop_tx(d)) != NULL) {
			n += q->h.type == TERN_PKT_REQ;
			pings += q->h.type == TERN_PKT_PING;
		}
		if (n != 0) {
			CHECK_EQ(n, 1);
			/* Steps of 1 ms against the wheel's 1.024 µs ticks: a gap
			 * may come out one step shorter than the one before,
			 * depending on where the clock stands (what ran before). */
			if (t - last + 1 < prev_gap)
				backoff_ok = 0;
			prev_gap = t - last;
			last = t;
			resends++;
		}
	}
	CHECK(resends >= 3);
	CHECK(backoff_ok);
	CHECK(pings >= 10);
	CHECK(t >= 300 && t <= 330); /* one session timeout after the probing began */
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ETIMEDOUT);
	struct tern_stats st = stats();
	CHECK_EQ(st.calls_timeout, 1);
	CHECK_EQ(st.sessions_dead, 1);
	CHECK_EQ(st.rto_events, st.retransmits);
	CHECK_EQ(tern_session_state(peer.s), TERN_SS_FAILED);
	/* Nothing more goes out for a dead session, no ACK for an unanswered call. */
	for (int k = 0; k < 50; k++)
		inj_tick(ep, MS);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(r.calls, 1);
	tern_session_close(peer.s);
	peer.s = NULL;
	teardown();
}

/*
 * A lone call whose answers are lost many times in a row while the peer is
 * alive (it answers every retransmission, and half its answers to probes
 * get through). It used to fail with -ETIMEDOUT after 12 RTOs in a row
 * (~350 ms on udp) with a 20 s deadline; now it completes when an answer
 * finally gets through, and the session is never declared dead.
 */
static void rto__lone_call_survives_many_lost_answers(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.max_retries = 12; /* the default that used to end the call; unused now */
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_result r;
	REQUIRE(call(10, 1, &r, 20000 * MS) == 0);
	tern_poll(ep);
	CHECK(expect_req(8, 0));
	int lost = 0, pings = 0;
	for (int t = 0; t < 20000 && r.calls == 0; t++) {
		inj_tick(ep, MS);
		const struct inj_pkt *q;
		int req = 0;
		while ((q = inj_pop_tx(d)) != NULL) {
			if (q->h.type == TERN_PKT_REQ)
				req = 1;
			if (q->h.type == TERN_PKT_PING && pings++ % 2 == 0)
				inj_ctrl(&peer, TERN_PKT_PONG); /* alive: every other probe answered */
		}
		if (req && lost++ >= 20) /* the 21st answer gets through */
			inj_resp_pkt(&peer, 8, 1, "late", 4, 0);
	}
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK(lost > 20);
	CHECK_EQ(stats().sessions_dead, 0);
	CHECK_EQ(stats().calls_timeout, 0);
	CHECK_EQ(tern_session_state(peer.s), TERN_SS_CONNECTED);
	teardown();
}

static void deadline__per_call_timeout(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r, r2;
	REQUIRE(call(10, 1, &r, 20 * MS) == 0);
	REQUIRE(call(10, 2, &r2, 0) == 0); /* the endpoint's default: 10 s */
	tern_poll(ep);
	inj_tx_clear(d);
	/* WORKING keeps both alive as far as the RTO goes; the deadline ends r. */
	for (int t = 0; t < 100 && r.calls == 0; t++) {
		inj_cr(&peer, 8, 1, 0, 10, TERN_WF_WORKING);
		inj_cr(&peer, 9, 1, 0, 10, TERN_WF_WORKING);
		inj_tick(ep, MS);
	}
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ETIMEDOUT);
	CHECK_EQ(r2.calls, 0);
	inj_resp_pkt(&peer, 9, 1, "z", 1, 0);
	inj_resp_pkt(&peer, 8, 1, "z", 1, 0); /* too late: stale */
	inj_poll(ep);
	CHECK_EQ(r2.calls, 1);
	CHECK_EQ(r2.status, 0);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(stats().drops[TERN_DROP_STALE], 1);
	teardown();
}

/* "No deadline" spelled UINT64_MAX must not wrap around into "already late". */
static void deadline__huge_timeout_does_not_wrap(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	REQUIRE(call(10, 1, &r, UINT64_MAX) == 0);
	REQUIRE(call(10, 1, &r, UINT64_MAX - 5) == 0);
	tern_poll(ep);
	inj_tx_clear(d);
	for (int t = 0; t < 20; t++) {
		inj_cr(&peer, 8, 1, 0, 10, TERN_WF_WORKING);
		inj_cr(&peer, 9, 1, 0, 10, TERN_WF_WORKING);
		inj_tick(ep, MS);
	}
	CHECK_EQ(r.calls, 0);
	tern_session_close(peer.s);
	CHECK_EQ(r.calls, 2);
	CHECK_EQ(r.status, -ECANCELED);
	/* The same through the endpoint's default. */
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.call_timeout_ns = UINT64_MAX;
	teardown();
	REQUIRE(setup_cfg(&cfg) == 0);
	REQUIRE(call(10, 1, &r, 0) == 0);
	tern_poll(ep);
	for (int t = 0; t < 20; t++) {
		inj_cr(&peer, 8, 1, 0, 10, TERN_WF_WORKING);
		inj_tick(ep, MS);
	}
	CHECK_EQ(r.calls, 0);
	tern_session_close(peer.s);
	CHECK_EQ(r.calls, 1);
	teardown();
}

/* A handler that runs long: the callee answers each retransmission
 * "still working", which is progress — the call is never stalled, the
 * session never probes, however long it takes. */
static void working__keeps_a_long_call_alive(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.session_timeout_ns = 50 * MS;
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_result r;
	REQUIRE(call(10, 1, &r, 0) == 0);
	tern_poll(ep);
	inj_tx_clear(d);
	/* The server answers each retransmission "still working", for six
	 * session timeouts. */
	int resends = 0, others = 0;
	for (int t = 0; t < 300; t++) {
		inj_tick(ep, MS);
		const struct inj_pkt *q;
		int n = 0;
		while ((q = inj_pop_tx(d)) != NULL) {
			n += q->h.type == TERN_PKT_REQ;
			others += q->h.type != TERN_PKT_REQ;
		}
		if (n != 0) {
			resends += n;
			inj_cr(&peer, 8, 1, 0, 10, TERN_WF_WORKING);
		}
	}
	CHECK(resends > 2 * 3);
	CHECK_EQ(others, 0); /* no probe: the peer keeps saying it works */
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(stats().sessions_dead, 0);
	inj_resp_pkt(&peer, 8, 1, "late", 4, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	/* WORKING for anything but the last packet is bogus. */
	REQUIRE(call(192, 1, &r, 0) == 0);
	tern_poll(ep);
	struct tern_stats a = stats();
	inj_cr(&peer, 16, 1, 0, 192, TERN_WF_WORKING);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 1);
	tern_session_close(peer.s);
	CHECK_EQ(r.calls, 1);
	teardown();
}

static void error_resp__mid_request_completes_at_once(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.credits = 4;
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_result r;
	REQUIRE(call(640, 1, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 4);
	inj_resp_err(&peer, 8, 1, EBUSY);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -EBUSY);
	CHECK_EQ(r.len, 0);
	CHECK_EQ(inj_tx_count(d), 0); /* the rest of the request is not sent */
	CHECK_EQ(peer.s->credits, 4);
	CHECK_EQ(stats().calls_failed, 1);
	/* The callee keeps error answers too: the slot owes an ACK. */
	for (int t = 0; t < 20; t++)
		inj_tick(ep, MS);
	const struct inj_pkt *a = inj_expect_tx(d, TERN_PKT_ACK);
	REQUIRE(a != NULL);
	CHECK_EQ(a->h.req_num, 8);
	/* Late CRs and copies of the answer are stale. */
	inj_cr(&peer, 8, 1, 4, 640, 0);
	inj_resp_err(&peer, 8, 1, EBUSY);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(inj_tx_count(d), 0);
	teardown();
}

/* --- acknowledgement -------------------------------------------------------------- */

static void ack__sent_after_delay_when_idle(void)
{
	REQUIRE(setup() == 0); /* ack_delay: 4 x rto_min = 4 ms */
	struct inj_result r;
	REQUIRE(call(10, 1, &r, 0) == 0);
	tern_poll(ep);
	inj_tx_clear(d);
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	inj_tick(ep, MS);
	inj_tick(ep, MS);
	CHECK_EQ(inj_tx_count(d), 0); /* not yet */
	for (int t = 0; t < 5; t++)
		inj_tick(ep, MS);
	const struct inj_pkt *a = inj_expect_tx(d, TERN_PKT_ACK);
	REQUIRE(a != NULL);
	CHECK_EQ(a->h.req_num, 8);
	CHECK_EQ(a->h.req_type, 1);
	CHECK_EQ(a->h.token, peer.token);
	CHECK_EQ(a->h.dst_session, peer.id);
	CHECK_EQ(a->body_len, 0);
	for (int t = 0; t < 20; t++)
		inj_tick(ep, MS);
	CHECK_EQ(inj_tx_count(d), 0); /* once */
	CHECK_EQ(stats().acks_sent, 1);
	teardown();
}

static void ack__not_sent_when_next_call_reuses_slot(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r1, r2;
	REQUIRE(call(10, 1, &r1, 0) == 0);
	tern_poll(ep);
	inj_tx_clear(d);
	inj_resp_pkt(&peer, 8, 1, "x", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r1.calls, 1);
	REQUIRE(call(10, 2, &r2, 0) == 0); /* slot 0 again: carries the ACK */
	tern_poll(ep);
	CHECK(expect_req(16, 0));
	inj_cr(&peer, 16, 1, 0, 10, TERN_WF_WORKING);
	int acks = 0;
	for (int t = 0; t < 10; t++) {
		inj_tick(ep, MS);
		const struct inj_pkt *q;
		while ((q = inj_pop_tx(d)) != NULL) /* retransmissions of 16, no ACK */
			acks += q->h.type == TERN_PKT_ACK;
	}
	CHECK_EQ(acks, 0);
	inj_resp_pkt(&peer, 16, 1, "y", 1, 0);
	inj_poll(ep);
	CHECK_EQ(r2.calls, 1);
	for (int t = 0; t < 10; t++)
		inj_tick(ep, MS);
	const struct inj_pkt *a = inj_expect_tx(d, TERN_PKT_ACK);
	REQUIRE(a != NULL);
	CHECK_EQ(a->h.req_num, 16);
	CHECK_EQ(stats().acks_sent, 1);
	teardown();
}

/* --- backlog and arguments -------------------------------------------------------- */

static int start_order[16], nstarted;
static void order_cont(const struct tern_result *res, void *ctx)
{
	(void)res;
	start_order[nstarted++] = (int)(intptr_t)ctx;
}

static void backlog__fifo_beyond_slots(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.slots = 2;
	REQUIRE(setup_cfg(&cfg) == 0);
	nstarted = 0;
	for (int i = 0; i < 6; i++) {
		struct tern_msg *m = inj_msg(ep, 1, 0);
		((uint8_t *)tern_msg_data(m))[0] = (uint8_t)i;
		REQUIRE(tern_call(peer.s, 1, m, order_cont, (void *)(intptr_t)i, 0) == 0);
	}
	CHECK_EQ(peer.s->bl_len, 4);
	tern_poll(ep);
	/* Answer whatever is in flight, in the order it was sent, one at a time:
	 * the backlog must start in FIFO order. */
	int sent_order[6], nsent = 0;
	for (int round = 0; round < 10 && nstarted < 6; round++) {
		const struct inj_pkt *q = inj_pop_tx(d);
		if (q == NULL) {
			tern_poll(ep);
			continue;
		}
		CHECK_EQ(q->h.type, TERN_PKT_REQ);
		sent_order[nsent++] = q->body[0];
		uint64_t rn = q->h.req_num;
		inj_resp_pkt(&peer, rn, 1, "k", 1, 0);
		inj_poll(ep);
	}
	CHECK_EQ(nsent, 6);
	CHECK_EQ(nstarted, 6);
	for (int i = 0; i < 6; i++) {
		CHECK_EQ(sent_order[i], i);
		CHECK_EQ(start_order[i], i);
	}
	CHECK_EQ(peer.s->bl_len, 0);
	teardown();
}

static void backlog__limit_eagain(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.slots = 2;
	cfg.backlog_limit = 2;
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_result r[5];
	for (int i = 0; i < 4; i++)
		CHECK_EQ(call(1, 0, &r[i], 0), 0);
	CHECK_EQ(call(1, 0, &r[4], 0), -EAGAIN);
	CHECK_EQ(stats().calls_started, 4);
	tern_session_close(peer.s);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].status, -ECANCELED);
	}
	CHECK_EQ(r[4].calls, 0);
	tern_poll(ep); /* the transmit batch lets go of the requests */
	CHECK_EQ(stats().msgs_in_use, 0);
	teardown();
}

static void backlog__queued_call_deadline(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.slots = 1;
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_result a, b;
	REQUIRE(call(1, 0, &a, 0) == 0);
	REQUIRE(call(1, 0, &b, 5 * MS) == 0); /* waits behind a, and expires there */
	tern_poll(ep);
	for (int t = 0; t < 50 && b.calls == 0; t++) {
		inj_cr(&peer, 1, 1, 0, 1, TERN_WF_WORKING); /* 1 slot: a is req 1 */
		inj_tick(ep, MS);
	}
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(b.status, -ETIMEDOUT);
	CHECK_EQ(a.calls, 0);
	CHECK_EQ(peer.s->bl_len, 0);
	inj_tx_clear(d);
	inj_resp_pkt(&peer, 1, 1, "a", 1, 0);
	inj_poll(ep);
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 0); /* b never went out */
	teardown();
}

static void call__argument_errors(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	inj_result_reset(&r);
	struct tern_msg *m = inj_msg(ep, 10, 0);
	CHECK_EQ(tern_call(NULL, 1, m, inj_cont, &r, 0), -EINVAL);
	CHECK_EQ(tern_call(peer.s, 1, NULL, inj_cont, &r, 0), -EINVAL);
	CHECK_EQ(tern_call(peer.s, 1, m, NULL, &r, 0), -EINVAL);
	CHECK_EQ(tern_call_ex(peer.s, 1, m, inj_cont, &r, 0, 0x2), -EINVAL);
	CHECK_EQ(tern_send(NULL, 1, m, inj_cont, &r, 0), -EINVAL);
	/* A buffer the driver or another call still references. */
	tern_msg_ref(m);
	CHECK_EQ(tern_call(peer.s, 1, m, inj_cont, &r, 0), -EINVAL);
	tern_msg_unref(m);
	/* A buffer of another endpoint. */
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.bind = "10.0.0.3:1";
	struct tern_ep *other = inj_ep_create(&cfg);
	REQUIRE(other != NULL);
	struct tern_msg *om = tern_msg_alloc(other, 10);
	CHECK_EQ(tern_call(peer.s, 1, om, inj_cont, &r, 0), -EINVAL);
	tern_msg_free(om);
	tern_ep_destroy(other);
	/* Over the server's limit (it said 8 MiB; make it smaller). */
	peer.s->peer_max_msg = 9;
	CHECK_EQ(tern_call(peer.s, 1, m, inj_cont, &r, 0), -EMSGSIZE);
	peer.s->peer_max_msg = 8u << 20;
	CHECK_EQ(r.calls, 0);
	CHECK_EQ(stats().calls_started, 0);
	tern_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	/* Still ours: a good call with it works. */
	CHECK_EQ(tern_call(peer.s, 1, m, inj_cont, &r, 0), 0);
	tern_session_close(peer.s);
	CHECK_EQ(r.calls, 1);
	teardown();
}

static void call__on_failed_session_enotconn(void)
{
	REQUIRE(setup() == 0);
	inj_reset(&peer);
	inj_poll(ep);
	REQUIRE(tern_session_state(peer.s) == TERN_SS_FAILED);
	struct inj_result r;
	CHECK_EQ(call(1, 0, &r, 0), -ENOTCONN);
	struct tern_msg *m = inj_msg(ep, 1, 0);
	CHECK_EQ(tern_send(peer.s, 1, m, inj_cont, &r, 0), -ENOTCONN);
	tern_msg_free(m);
	CHECK_EQ(r.calls, 0);
	tern_session_close(peer.s);
	teardown();
}

static void call__oversized_queued_before_connect(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	REQUIRE((ep = inj_ep_create(&cfg)) != NULL);
	d = inj_of(ep);
	inj_peer_init(&peer, ep, NULL);
	struct tern_session *s;
	REQUIRE(tern_connect(ep, peer.addr_str, &s) == 0);
	peer.s = s;
	struct inj_result big, small;
	inj_result_reset(&big);
	inj_result_reset(&small);
	CHECK_EQ(tern_call(s, 1, inj_msg(ep, 200, 0), inj_cont, &big, 0), 0);
	CHECK_EQ(tern_call(s, 1, inj_msg(ep, 20, 0), inj_cont, &small, 0), 0);
	tern_poll(ep);
	const struct inj_pkt *c = inj_expect_tx(d, TERN_PKT_CONNECT);
	REQUIRE(c != NULL);
	struct tern_wire_hs chs, hs;
	tern_wire_hs_get(c->body, &chs);
	struct tern_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT_OK;
	h.dst_session = s->id;
	h.src_session = peer.id;
	h.token = chs.token;
	memset(&hs, 0, sizeof(hs));
	hs.epoch = peer.epoch;
	hs.peer_epoch = chs.epoch;
	hs.token = peer.token;
	hs.max_msg_size = 100; /* the server takes at most 100 bytes */
	hs.slots = 8;
	hs.credits = 32;
	hs.mtu = 96;
	hs.nonce = chs.nonce;
	inj_send_hs(&peer, &h, &hs);
	inj_poll(ep);
	CHECK_EQ(big.calls, 1);
	CHECK_EQ(big.status, -EMSGSIZE);
	CHECK_EQ(small.calls, 0);
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
	REQUIRE(q != NULL);
	CHECK_EQ(q->h.msg_size, 20);
	tern_session_close(s);
	CHECK_EQ(small.calls, 1);
	teardown();
}

/* Either side may call: the server calls its client on the accepted session. */
static void call__server_initiated(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	REQUIRE((ep = inj_ep_create(&cfg)) != NULL);
	d = inj_of(ep);
	inj_peer_init(&peer, ep, NULL);
	REQUIRE(inj_accept(&peer) == 0);
	struct inj_result r;
	REQUIRE(call(100, 5, &r, 0) == 0);
	tern_poll(ep);
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
	REQUIRE(q != NULL);
	CHECK_EQ(q->h.dst_session, peer.id);
	CHECK_EQ(q->h.src_session, peer.ep_id);
	CHECK_EQ(q->h.token, peer.token);
	CHECK_EQ(q->h.req_num, 8);
	CHECK(tern_addr_eq(&q->dst, &peer.addr));
	CHECK(expect_req(8, 1));
	inj_cr(&peer, 8, 1, 0, 100, 0);
	inj_resp_pkt(&peer, 8, 1, "back", 4, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	CHECK(r.len == 4 && memcmp(r.data, "back", 4) == 0);
	/* The client's own calls on the same slot numbers are independent. */
	inj_req(&peer, 8, 1, 0, 1, 0, "x", 1);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_RESP) != NULL); /* ENOENT: no handler */
	teardown();
}

/* --- continuations ---------------------------------------------------------------- */

static int closes;
static void close_cont(const struct tern_result *res, void *ctx)
{
	inj_cont(res, ctx);
	if (closes++ == 0)
		CHECK_EQ(tern_session_close(peer.s), 0);
	/* Polling from a continuation is refused. */
	CHECK_EQ(tern_poll(ep), -EDEADLK);
}

static void cont__closes_own_session(void)
{
	REQUIRE(setup() == 0);
	closes = 0;
	struct inj_result r[5];
	for (int i = 0; i < 5; i++) {
		inj_result_reset(&r[i]);
		REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 1, 0), close_cont, &r[i], 0) == 0);
	}
	tern_poll(ep);
	inj_tx_clear(d);
	inj_resp_pkt(&peer, 10, 1, "k", 1, 0); /* slot 2's call ends first */
	inj_resp_pkt(&peer, 8, 1, "k", 1, 0);  /* by then, for a closed session */
	inj_poll(ep);
	CHECK_EQ(r[2].status, 0);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(r[i].calls, 1);
		if (i != 2)
			CHECK_EQ(r[i].status, -ECANCELED);
	}
	CHECK_EQ(stats().sessions_open, 0);
	CHECK_EQ(stats().msgs_in_use, 0);
	CHECK(inj_expect_tx(d, TERN_PKT_DISCONNECT) != NULL);
	teardown();
}

static struct inj_result inner;
static int inner_rc = 1;
static void call_in_cancel_cont(const struct tern_result *res, void *ctx)
{
	inj_cont(res, ctx);
	inj_result_reset(&inner);
	struct tern_msg *m = inj_msg(ep, 1, 0);
	inner_rc = tern_call(peer.s, 1, m, inj_cont, &inner, 0);
	if (inner_rc != 0)
		tern_msg_free(m);
}

/* A continuation of a call canceled by close cannot start a new one there. */
static void cont__call_on_closing_session_ecanceled(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 1, 0), call_in_cancel_cont, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(tern_session_close(peer.s), 0);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, -ECANCELED);
	CHECK_EQ(inner_rc, -ECANCELED);
	CHECK_EQ(inner.calls, 0);
	tern_poll(ep);
	CHECK_EQ(stats().msgs_in_use, 0);
	teardown();
}

static int chained;
static void chain_cont(const struct tern_result *res, void *ctx)
{
	inj_cont(res, ctx);
	if (chained++ < 3)
		CHECK_EQ(tern_call(peer.s, 1, inj_msg(ep, 1, 0), chain_cont, ctx, 0), 0);
}

static void cont__issues_next_call(void)
{
	REQUIRE(setup() == 0);
	chained = 0;
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_call(peer.s, 1, inj_msg(ep, 1, 0), chain_cont, &r, 0) == 0);
	tern_poll(ep);
	for (int k = 0; k < 4; k++) {
		const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
		REQUIRE(q != NULL);
		CHECK_EQ(q->h.req_num, 8 + 8 * (uint64_t)k); /* slot 0, again and again */
		inj_resp_pkt(&peer, q->h.req_num, 1, "k", 1, 0);
		inj_poll(ep);
		tern_poll(ep);
	}
	CHECK_EQ(r.calls, 4);
	CHECK_EQ(stats().calls_ok, 4);
	CHECK_EQ(stats().acks_sent, 0); /* each call acknowledged the previous */
	teardown();
}

/* --- one-way calls ---------------------------------------------------------------- */

static void send__completes_from_poll(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &r, 0) == 0);
	CHECK_EQ(r.calls, 0); /* never inside tern_send */
	tern_poll(ep);
	const struct inj_pkt *q = inj_expect_tx(d, TERN_PKT_REQ);
	REQUIRE(q != NULL);
	CHECK_EQ(q->h.flags, TERN_WF_ONEWAY);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	/* Nothing follows: no retransmission, no ACK; a stray RESP is dropped. */
	inj_resp_pkt(&peer, q->h.req_num, 1, "x", 1, 0);
	inj_poll(ep);
	for (int t = 0; t < 50; t++)
		inj_tick(ep, MS);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(stats().calls_ok, 1);
	teardown();
}

static void send__multi_packet_waits_for_crs(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r;
	inj_result_reset(&r);
	REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 150, 0), inj_cont, &r, 0) == 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 3);
	CHECK_EQ(r.calls, 0);
	inj_cr(&peer, 8, 1, 1, 150, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 0);
	/* CR 0 lost: the RTO resends 0 and the last packet (never CR'd). */
	for (int t = 0; t < 20 && inj_tx_count(d) == 0; t++)
		inj_tick(ep, MS);
	CHECK(expect_req(8, 0));
	CHECK(expect_req(8, 2));
	inj_cr(&peer, 8, 1, 0, 150, 0);
	inj_poll(ep);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.status, 0);
	teardown();
}

/* A one-way call is queued for completion inside tern_send; closing the
 * session before the next poll must not leave it behind. */
static void send__close_before_poll(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r[2];
	inj_result_reset(&r[0]);
	inj_result_reset(&r[1]);
	REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &r[0], 0) == 0);
	REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &r[1], 0) == 0);
	CHECK_EQ(tern_session_close(peer.s), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].status, -ECANCELED);
	}
	tern_poll(ep);
	tern_poll(ep);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(r[i].calls, 1);
	teardown();
}

/* The slot of a completed one-way call is reused by another before the done
 * list is drained: each call still completes exactly once, and only once
 * its packet has been handed to the driver. */
static struct inj_result oneway_r[4];
static int oneway_seen_tx[4];
static void oneway_cont(const struct tern_result *res, void *ctx)
{
	struct inj_result *r = ctx;
	inj_cont(res, ctx);
	oneway_seen_tx[r - oneway_r] = (int)ep->drv->stats.tx_pkts;
}

static void send__slot_reused_before_drain(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.slots = 1;
	REQUIRE(setup_cfg(&cfg) == 0);
	int tx0 = (int)ep->drv->stats.tx_pkts;
	for (int i = 0; i < 4; i++) {
		inj_result_reset(&oneway_r[i]);
		REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 10, 0), oneway_cont, &oneway_r[i], 0) == 0);
	}
	for (int k = 0; k < 10; k++)
		tern_poll(ep);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(oneway_r[i].calls, 1);
		CHECK_EQ(oneway_r[i].status, 0);
		CHECK(oneway_seen_tx[i] >= tx0 + i + 1);
	}
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 4);
	teardown();
}

/* Two one-way calls join the done list in the same poll (their last CRs
 * arrive), then the loss scan ends the first one (its deadline) and the
 * backlog reuses its slot for a third one-way call before the list is
 * drained: no call may be lost from the list. */
static void send__slot_reused_while_queued(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.slots = 2;
	REQUIRE(setup_cfg(&cfg) == 0);
	struct inj_result c, b, dd;
	inj_result_reset(&c);
	inj_result_reset(&b);
	inj_result_reset(&dd);
	REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 150, 0), inj_cont, &c, 5 * MS) == 0); /* slot 0: req 2 */
	REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 150, 0), inj_cont, &b, 0) == 0);      /* slot 1: req 3 */
	REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 10, 0), inj_cont, &dd, 0) == 0);      /* backlog */
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_REQ), 6);
	inj_cr(&peer, 3, 1, 0, 150, 0);
	inj_cr(&peer, 3, 1, 1, 150, 0); /* b joins the done list */
	inj_cr(&peer, 2, 1, 0, 150, 0);
	inj_cr(&peer, 2, 1, 1, 150, 0); /* c joins it, in front of b */
	inj_tick(ep, 6 * MS);           /* ... and c's deadline has passed */
	for (int k = 0; k < 5; k++)
		tern_poll(ep);
	CHECK_EQ(c.calls, 1);
	CHECK_EQ(c.status, -ETIMEDOUT);
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(b.status, 0);
	CHECK_EQ(dd.calls, 1);
	CHECK_EQ(dd.status, 0);
	teardown();
}

static struct tern_session *close_target;
static void close_other_cont(const struct tern_result *res, void *ctx)
{
	inj_cont(res, ctx);
	if (close_target != NULL) {
		struct tern_session *s = close_target;
		close_target = NULL;
		tern_session_close(s);
	}
}

/* A one-way continuation that closes its session while other one-way calls
 * of it wait on the done list. */
static void send__continuation_closes_session(void)
{
	REQUIRE(setup() == 0);
	struct inj_result r[3];
	close_target = peer.s;
	for (int i = 0; i < 3; i++) {
		inj_result_reset(&r[i]);
		REQUIRE(tern_send(peer.s, 1, inj_msg(ep, 10, 0), close_other_cont, &r[i], 0) == 0);
	}
	tern_poll(ep);
	tern_poll(ep);
	int ok = 0, canceled = 0;
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(r[i].calls, 1);
		ok += r[i].status == 0;
		canceled += r[i].status == -ECANCELED;
	}
	CHECK_EQ(ok, 1);
	CHECK_EQ(canceled, 2);
	CHECK_EQ(stats().sessions_open, 0);
	teardown();
}

int main(void)
{
	RUN(credits__window_of_four);
	RUN(credits__range_cr);
	RUN(credits__shared_by_the_calls_of_a_session);
	RUN(resp__packet0_acknowledges_the_request);
	RUN(resp__before_request_fully_sent_dropped);
	RUN(resp__multi_packet_pulled_with_rfrs);
	RUN(window__64_wide_and_slides);
	RUN(resp__bad_answers_dropped);
	RUN(resp__no_memory_for_reassembly);
	RUN(tx__driver_refusals_recovered);
	RUN(fast_retransmit__three_above_a_hole);
	RUN(rto__rollback_resends_only_missing);
	RUN(rto__resends_only_the_lost_middle_packet);
	RUN(fast_retransmit__held_last_reveals_hole);
	RUN(rto__held_last_resent_when_the_response_is_lost);
	RUN(rto__long_continuation_is_not_a_loss);
	RUN(rto__answers_queued_behind_a_long_callback);
	RUN(rto__silent_peer_ends_with_its_session);
	RUN(rto__lone_call_survives_many_lost_answers);
	RUN(deadline__per_call_timeout);
	RUN(deadline__huge_timeout_does_not_wrap);
	RUN(working__keeps_a_long_call_alive);
	RUN(error_resp__mid_request_completes_at_once);
	RUN(ack__sent_after_delay_when_idle);
	RUN(ack__not_sent_when_next_call_reuses_slot);
	RUN(backlog__fifo_beyond_slots);
	RUN(backlog__limit_eagain);
	RUN(backlog__queued_call_deadline);
	RUN(call__argument_errors);
	RUN(call__on_failed_session_enotconn);
	RUN(call__oversized_queued_before_connect);
	RUN(call__server_initiated);
	RUN(cont__closes_own_session);
	RUN(cont__issues_next_call);
	RUN(cont__call_on_closing_session_ecanceled);
	RUN(send__completes_from_poll);
	RUN(send__multi_packet_waits_for_crs);
	RUN(send__close_before_poll);
	RUN(send__slot_reused_before_drain);
	RUN(send__slot_reused_while_queued);
	RUN(send__continuation_closes_session);
	return check_exit();
}
