/*
 * test_serve.c — lib/serve.c, the callee side: every row of the serve-slot
 * table (serve.c's top comment) with past, current, future and duplicate
 * packets of each type, handler semantics (RRA, RR, R), error answers,
 * responses (now, deferred, too big, after teardown) and the response cache.
 * CRs are test_credits.c's, the request window test_window.c's.
 *
 * The endpoint under test is the server (fixture.h's callee, with its
 * handlers T_*); the peer (the caller) is played by injected packets. MTU
 * 96: 64 payload bytes per packet. Slot 0's calls are req_num 8, 16, 24,
 * ... (8 slots).
 */

#include "fixture.h"

/* --- FREE / new calls ------------------------------------------------------------- */

/* --- FREE / new calls ------------------------------------------------------------ */

static void on_req__new_call_runs_handler_once(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_ECHO, 0, 5, 0, "hello", 5);
	inj_poll(ep);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK(seen_len == 5 && memcmp(seen, "hello", 5) == 0);
	const struct inj_pkt *r = expect_resp(8, T_ECHO, 0, 5, 0);
	REQUIRE(r != NULL);
	CHECK(r->body_len == 5 && memcmp(r->body, "hello", 5) == 0);
	CHECK(tern_addr_eq(&r->dst, &peer.addr));
	CHECK_EQ(inj_tx_count(d), 0);
	struct tern_stats st = stats();
	CHECK_EQ(st.requests_executed, 1);
	CHECK_EQ(st.cached_responses, 1);
	CHECK_EQ(st.zc_rx, 1); /* handed over in place */
	/* The other slots are independent. */
	for (uint64_t k = 1; k < 8; k++)
		inj_req(&peer, 8 + k, T_ECHO, 0, 1, 0, "x", 1);
	inj_poll(ep);
	CHECK_EQ(runs[T_ECHO], 8);
	CHECK_EQ(stats().cached_responses, 8);
	teardown();
}

static void on_req__empty_request_and_response(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_ECHO, 0, 0, 0, NULL, 0);
	inj_poll(ep);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK_EQ(seen_len, 0);
	const struct inj_pkt *r = expect_resp(8, T_ECHO, 0, 0, 0);
	REQUIRE(r != NULL);
	CHECK_EQ(r->body_len, 0);
	teardown();
}

/* R < C: stale packets of every type are dropped. */
static void on_req__stale_dropped(void)
{
	REQUIRE(server_setup() == 0);
	resp_size = 200; /* a 4-packet response, so RFRs make sense */
	inj_req(&peer, 16, T_ECHO, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(16, T_ECHO, 0, 200, 0) != NULL);
	struct tern_stats a = stats();
	inj_req(&peer, 8, T_ECHO, 0, 1, 0, "a", 1);
	inj_rfr(&peer, 8, T_ECHO, 1, 200);
	inj_ack(&peer, 8, T_ECHO);
	inj_poll(ep);
	struct tern_stats b = stats();
	CHECK_EQ(b.drops[TERN_DROP_STALE], a.drops[TERN_DROP_STALE] + 3);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK_EQ(b.cached_responses, 1); /* the ACK for 8 did not free 16's */
	teardown();
}

/* R > C while ANSWERED: the new call acknowledges the old response. */
static void on_req__newer_call_frees_cached_response(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_ECHO, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(8, T_ECHO, 0, 1, 0) != NULL);
	CHECK_EQ(stats().cached_responses, 1);
	CHECK_EQ(stats().msgs_in_use, 1);
	inj_req(&peer, 16, T_ECHO, 0, 2, 0, "bb", 2);
	inj_poll(ep);
	CHECK(expect_resp(16, T_ECHO, 0, 2, 0) != NULL);
	CHECK_EQ(stats().cached_responses, 1);
	CHECK_EQ(stats().msgs_in_use, 1);
	/* Skipping ahead is fine too (the caller's calls on the slot may have
	 * timed out unseen). */
	inj_req(&peer, 8 + 8 * 100, T_ECHO, 0, 1, 0, "c", 1);
	inj_poll(ep);
	CHECK(expect_resp(808, T_ECHO, 0, 1, 0) != NULL);
	CHECK_EQ(runs[T_ECHO], 3);
	inj_ack(&peer, 808, T_ECHO);
	inj_poll(ep);
	CHECK_EQ(stats().cached_responses, 0);
	CHECK_EQ(stats().msgs_in_use, 0);
	teardown();
}

/* R > C while RUNNING: busy, dropped until C is answered. */
static void on_req__newer_call_while_running_dropped(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_DEFER, 0, 1, 0, "a", 1);
	inj_poll(ep);
	REQUIRE(ndeferred == 1);
	inj_req(&peer, 16, T_ECHO, 0, 1, 0, "b", 1);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_BUSY], 1);
	CHECK_EQ(runs[T_ECHO], 0);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 0)), 0);
	tern_poll(ep);
	CHECK(expect_resp(8, T_DEFER, 0, 0, 0) != NULL);
	inj_req(&peer, 16, T_ECHO, 0, 1, 0, "b", 1);
	inj_poll(ep);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK(expect_resp(16, T_ECHO, 0, 1, 0) != NULL);
	teardown();
}

/* --- R == C ----------------------------------------------------------------------- */

/* --- R == C ------------------------------------------------------------------------ */

/* RUNNING: the last packet gets a WORKING CR, others a plain CR; never a rerun. */
static void on_req__dup_while_running_working_cr(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_DEFER, 0, 1, 0, "a", 1);
	inj_poll(ep);
	REQUIRE(ndeferred == 1);
	CHECK_EQ(inj_tx_count(d), 0);
	inj_req(&peer, 8, T_DEFER, 0, 1, 0, "a", 1);
	inj_poll(ep);
	const struct inj_pkt *c = expect_cr(8, 0, TERN_WF_WORKING);
	REQUIRE(c != NULL);
	CHECK_EQ(c->h.msg_size, 1);
	CHECK_EQ(c->h.req_type, T_DEFER);
	CHECK_EQ(stats().drops[TERN_DROP_DUP], 1);
	CHECK_EQ(runs[T_DEFER], 1);
	/* A three-packet request, deferred. */
	uint8_t msg[150];
	inj_fill(msg, sizeof(msg), 9);
	inj_req_msg(&peer, 9, T_DEFER, msg, 150, 0);
	inj_poll(ep);
	CHECK(expect_cr(9, 0, 0) != NULL);
	CHECK(expect_cr(9, 1, 0) != NULL);
	REQUIRE(ndeferred == 2);
	CHECK(memcmp(tern_req_data(deferred[1]), msg, 150) == 0);
	inj_req_pkt(&peer, 9, T_DEFER, msg, 150, 1, 0);
	inj_req_pkt(&peer, 9, T_DEFER, msg, 150, 2, 0);
	inj_poll(ep);
	CHECK(expect_cr(9, 1, 0) != NULL);
	CHECK(expect_cr(9, 2, TERN_WF_WORKING) != NULL);
	CHECK_EQ(runs[T_DEFER], 2);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 0)), 0);
	CHECK_EQ(tern_respond(deferred[1], tern_msg_alloc(ep, 0)), 0);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_RESP), 2);
	teardown();
}

/* ANSWERED: the last packet brings response packet 0 again, others a CR. */
static void on_req__dup_while_answered_resends_resp0(void)
{
	REQUIRE(server_setup() == 0);
	resp_size = 200; /* 4 response packets */
	uint8_t msg[150];
	inj_fill(msg, sizeof(msg), 3);
	inj_req_msg(&peer, 8, T_ECHO, msg, 150, 0);
	inj_poll(ep);
	inj_skip_tx(d, TERN_PKT_CR);
	const struct inj_pkt *r = expect_resp(8, T_ECHO, 0, 200, 0);
	REQUIRE(r != NULL);
	uint8_t want[200];
	inj_fill(want, sizeof(want), T_ECHO);
	CHECK(r->body_len == 64 && memcmp(r->body, want, 64) == 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 150, 2, 0);
	inj_poll(ep);
	r = expect_resp(8, T_ECHO, 0, 200, 0);
	REQUIRE(r != NULL);
	CHECK(r->body_len == 64 && memcmp(r->body, want, 64) == 0);
	CHECK_EQ(inj_tx_count(d), 0); /* only packet 0: the rest is pulled by RFR */
	inj_req_pkt(&peer, 8, T_ECHO, msg, 150, 1, 0);
	inj_poll(ep);
	CHECK(expect_cr(8, 1, 0) != NULL);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK_EQ(stats().requests_dup, 2);
	CHECK_EQ(stats().requests_executed, 1);
	teardown();
}

/* DONE (acknowledged): duplicates are dropped, nothing is sent or run. */
static void on_req__dup_after_ack_dropped(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_ECHO, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(8, T_ECHO, 0, 1, 0) != NULL);
	inj_ack(&peer, 8, T_ECHO);
	inj_poll(ep);
	struct tern_stats st = stats();
	CHECK_EQ(st.acks_rx, 1);
	CHECK_EQ(st.cached_responses, 0);
	CHECK_EQ(st.msgs_in_use, 0);
	inj_req(&peer, 8, T_ECHO, 0, 1, 0, "a", 1);
	inj_ack(&peer, 8, T_ECHO);
	inj_rfr(&peer, 8, T_ECHO, 0, 1);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK_EQ(stats().acks_rx, 1);
	CHECK_EQ(stats().drops[TERN_DROP_DUP], 3); /* REQ, ACK, RFR */
	teardown();
}

/* UNCACHED (RR): a duplicate of the last packet runs the handler again. */
static void on_req__rr_duplicate_reexecutes(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_RR, 0, 2, 0, "rr", 2);
	inj_poll(ep);
	CHECK(expect_resp(8, T_RR, 0, 2, 0) != NULL);
	CHECK_EQ(stats().cached_responses, 0); /* nothing kept */
	CHECK_EQ(stats().msgs_in_use, 0);
	inj_req(&peer, 8, T_RR, 0, 2, 0, "rr", 2);
	inj_poll(ep);
	const struct inj_pkt *r = expect_resp(8, T_RR, 0, 2, 0);
	REQUIRE(r != NULL);
	CHECK(r->body_len == 2 && memcmp(r->body, "rr", 2) == 0);
	CHECK_EQ(runs[T_RR], 2);
	CHECK_EQ(stats().requests_dup, 0);
	/* An ACK ends it: the next duplicate is dropped. */
	inj_ack(&peer, 8, T_RR);
	inj_req(&peer, 8, T_RR, 0, 2, 0, "rr", 2);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_RR], 2);
	/* A multi-packet RR response is cached like RRA: no re-execution. */
	resp_size = 100;
	inj_req(&peer, 16, T_RR, 0, 2, 0, "rr", 2);
	inj_poll(ep);
	CHECK(expect_resp(16, T_RR, 0, 100, 0) != NULL);
	CHECK_EQ(stats().cached_responses, 1);
	inj_req(&peer, 16, T_RR, 0, 2, 0, "rr", 2);
	inj_poll(ep);
	CHECK(expect_resp(16, T_RR, 0, 100, 0) != NULL);
	CHECK_EQ(runs[T_RR], 3);
	/* A deferred RR: a duplicate while it runs gets WORKING, not a rerun. */
	inj_req(&peer, 9, T_RR_DEFER, 0, 1, 0, "d", 1);
	inj_req(&peer, 9, T_RR_DEFER, 0, 1, 0, "d", 1);
	inj_poll(ep);
	CHECK_EQ(runs[T_RR_DEFER], 1);
	CHECK(expect_cr(9, 0, TERN_WF_WORKING) != NULL);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 3)), 0);
	tern_poll(ep);
	CHECK(expect_resp(9, T_RR_DEFER, 0, 3, 0) != NULL);
	teardown();
}

/* R: no response; CRs for non-last packets only; duplicates never rerun. */
static void on_req__oneway(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_ONEWAY, 0, 3, TERN_WF_ONEWAY, "one", 3);
	inj_poll(ep);
	CHECK_EQ(runs[T_ONEWAY], 1);
	CHECK(seen_len == 3 && memcmp(seen, "one", 3) == 0);
	CHECK_EQ(inj_tx_count(d), 0);
	inj_req(&peer, 8, T_ONEWAY, 0, 3, TERN_WF_ONEWAY, "one", 3);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ONEWAY], 1);
	/* Three packets: CRs for 0 and 1, nothing for the last. */
	uint8_t msg[150];
	inj_fill(msg, sizeof(msg), 4);
	inj_req_msg(&peer, 16, T_ONEWAY, msg, 150, TERN_WF_ONEWAY);
	inj_poll(ep);
	CHECK(expect_cr(16, 0, 0) != NULL);
	CHECK(expect_cr(16, 1, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ONEWAY], 2);
	CHECK(seen_len == 150 && memcmp(seen, msg, 150) == 0);
	/* Its CRs were lost: the caller sends packet 1 again and must get its
	 * CR, or its one-way call could never complete. The last packet gets
	 * nothing and runs nothing. */
	inj_req_pkt(&peer, 16, T_ONEWAY, msg, 150, 1, TERN_WF_ONEWAY);
	inj_req_pkt(&peer, 16, T_ONEWAY, msg, 150, 2, TERN_WF_ONEWAY);
	inj_poll(ep);
	CHECK(expect_cr(16, 1, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ONEWAY], 2);
	/* A multi-packet one-way call we refused (no R handler) gets no CRs at
	 * all, first packet or copies: it was not delivered. */
	inj_req_pkt(&peer, 24, T_ECHO, msg, 150, 0, TERN_WF_ONEWAY);
	inj_req_pkt(&peer, 24, T_ECHO, msg, 150, 1, TERN_WF_ONEWAY);
	inj_req_pkt(&peer, 24, T_ECHO, msg, 150, 0, TERN_WF_ONEWAY);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ECHO], 0);
	CHECK_EQ(stats().cached_responses, 0);
	CHECK_EQ(stats().msgs_in_use, 0);
	teardown();
}

static void on_req__no_handler_enoent(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_NONE, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(8, T_NONE, 0, 0, ENOENT) != NULL);
	CHECK_EQ(stats().responses_error, 1);
	/* Cached: the duplicate gets the same answer. */
	inj_req(&peer, 8, T_NONE, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(8, T_NONE, 0, 0, ENOENT) != NULL);
	CHECK_EQ(stats().requests_dup, 1);
	CHECK_EQ(stats().responses_error, 1);
	/* A multi-packet request is answered at its first packet, and its other
	 * packets (any of them) get the error again. */
	uint8_t msg[150];
	inj_fill(msg, sizeof(msg), 4);
	inj_req_pkt(&peer, 16, T_NONE, msg, 150, 1, 0);
	inj_poll(ep);
	CHECK(expect_resp(16, T_NONE, 0, 0, ENOENT) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	inj_req_pkt(&peer, 16, T_NONE, msg, 150, 0, 0);
	inj_poll(ep);
	CHECK(expect_resp(16, T_NONE, 0, 0, ENOENT) != NULL);
	/* RFR on an error answer: nothing to resend. */
	inj_rfr(&peer, 16, T_NONE, 1, 150);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	/* ACK frees it. */
	inj_ack(&peer, 16, T_NONE);
	inj_req_pkt(&peer, 16, T_NONE, msg, 150, 0, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().acks_rx, 1);
	teardown();
}

static void on_req__semantics_mismatch(void)
{
	REQUIRE(server_setup() == 0);
	/* A call that wants an answer, to an R handler: EPROTO. */
	inj_req(&peer, 8, T_ONEWAY, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(8, T_ONEWAY, 0, 0, EPROTO) != NULL);
	CHECK_EQ(runs[T_ONEWAY], 0);
	/* A one-way call to an RRA handler, or to nothing: cannot be answered,
	 * dropped, never run. */
	inj_req(&peer, 9, T_ECHO, 0, 1, TERN_WF_ONEWAY, "a", 1);
	inj_req(&peer, 10, T_NONE, 0, 1, TERN_WF_ONEWAY, "a", 1);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ECHO], 0);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], 2);
	/* Its copies too. */
	inj_req(&peer, 9, T_ECHO, 0, 1, TERN_WF_ONEWAY, "a", 1);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ECHO], 0);
	teardown();
}

static void on_req__server_queue_limit_ebusy(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.server_queue_limit = 1;
	REQUIRE(server_setup_cfg(&cfg) == 0);
	inj_req(&peer, 8, T_DEFER, 0, 1, 0, "a", 1);
	inj_req(&peer, 9, T_DEFER, 0, 1, 0, "b", 1);
	inj_poll(ep);
	CHECK_EQ(runs[T_DEFER], 1);
	CHECK(expect_resp(9, T_DEFER, 0, 0, EBUSY) != NULL);
	CHECK_EQ(stats().busy_rejects, 1);
	/* The refusal is cached: a duplicate gets EBUSY again, never runs. */
	inj_req(&peer, 9, T_DEFER, 0, 1, 0, "b", 1);
	inj_poll(ep);
	CHECK(expect_resp(9, T_DEFER, 0, 0, EBUSY) != NULL);
	CHECK_EQ(runs[T_DEFER], 1);
	CHECK_EQ(stats().busy_rejects, 1);
	/* Room again: the caller's next call on that slot runs. */
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 0)), 0);
	tern_poll(ep);
	CHECK(expect_resp(8, T_DEFER, 0, 0, 0) != NULL);
	inj_req(&peer, 17, T_ECHO, 0, 1, 0, "c", 1);
	inj_poll(ep);
	CHECK(expect_resp(17, T_ECHO, 0, 1, 0) != NULL);
	teardown();
}

/* The last packet before one below it: CR'd alone ("held", wire.h), so the
 * caller does not resend it; a copy of it is CR'd again; once the missing
 * packet comes, the response answers everything. */
static void on_req__last_packet_held_crd_alone(void)
{
	REQUIRE(server_setup() == 0);
	uint8_t msg[192]; /* 3 packets */
	inj_fill(msg, sizeof(msg), 5);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 192, 2, 0);
	inj_poll(ep);
	CHECK(expect_cr(8, 2, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 192, 0, 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 192, 2, 0); /* a copy */
	inj_poll(ep);
	CHECK(expect_cr(8, 0, 0) != NULL);
	CHECK(expect_cr(8, 2, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ECHO], 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 192, 1, 0);
	inj_poll(ep);
	CHECK(expect_cr(8, 1, 0) != NULL);
	CHECK(expect_resp(8, T_ECHO, 0, 192, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK(seen_len == 192 && memcmp(seen, msg, 192) == 0);
	teardown();
}

static void on_req__multi_packet_out_of_order_with_dups(void)
{
	REQUIRE(server_setup() == 0);
	enum { SIZE = 600, N = 10 }; /* 9 x 64 + 24 */
	uint8_t msg[SIZE];
	inj_fill(msg, sizeof(msg), 77);
	const int order[] = {9, 3, 0, 3, 7, 1, 2, 0, 8, 9, 5, 4, 6, 6};
	int crs = 0, resps = 0;
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		inj_req_pkt(&peer, 8, T_ECHO, msg, SIZE, (uint32_t)order[i], 0);
		inj_poll(ep);
		const struct inj_pkt *p;
		while ((p = inj_pop_tx(d)) != NULL) {
			if (p->h.type == TERN_PKT_CR) {
				CHECK_EQ(p->h.pkt_num, (uint32_t)order[i]);
				crs++;
			} else {
				CHECK_EQ(p->h.type, TERN_PKT_RESP);
				CHECK_EQ(p->h.pkt_num, 0);
				CHECK_EQ(i, 12); /* when the last hole (6) filled */
				resps++;
			}
		}
	}
	/* every packet, dups included, was CR'd (the last, 9, "held": it came
	 * before the others); the response came once */
	CHECK_EQ(crs, 14);
	CHECK_EQ(resps, 1);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK(seen_len == SIZE && memcmp(seen, msg, SIZE) == 0);
	/* The response (an echo: 10 packets) is pulled with RFRs. */
	for (uint32_t j = 1; j < N; j++)
		inj_rfr(&peer, 8, T_ECHO, j, SIZE);
	inj_poll(ep);
	for (uint32_t j = 1; j < N; j++) {
		const struct inj_pkt *r = expect_resp(8, T_ECHO, j, SIZE, 0);
		REQUIRE(r != NULL);
		uint32_t len = j == N - 1 ? 24 : 64;
		CHECK(r->body_len == len && memcmp(r->body, msg + j * 64, len) == 0);
	}
	CHECK_EQ(stats().copied_bytes, SIZE); /* reassembly: one copy per byte */
	teardown();
}

/* tern_session_rx_bytes(): each request packet counted once, when it is
 * taken into its call, complete or not; duplicates (before and after the
 * answer) are not. copied_bytes, which counts reassembly copies, misses a
 * one-packet request handed over in place. */
static void on_req__rx_bytes_first_copies_only(void)
{
	REQUIRE(server_setup() == 0);
	enum { SIZE = 600 }; /* 10 packets: 9 x 64 + 24 */
	uint8_t msg[SIZE];
	inj_fill(msg, sizeof(msg), 5);
	inj_req(&peer, 8, T_ECHO, 0, 5, 0, "hello", 5);
	inj_poll(ep);
	REQUIRE(seen_sess != NULL);
	struct tern_session *s = seen_sess;
	CHECK_EQ(tern_session_rx_bytes(s), 5);
	inj_req(&peer, 8, T_ECHO, 0, 5, 0, "hello", 5); /* a copy: answered from the cache */
	inj_poll(ep);
	CHECK_EQ(tern_session_rx_bytes(s), 5);
	CHECK_EQ(stats().requests_dup, 1);
	/* The next call on the slot, out of order with copies: counted as it
	 * arrives, before it completes. */
	const int order[] = {9, 3, 0, 3, 9};
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		inj_req_pkt(&peer, 16, T_ECHO, msg, SIZE, (uint32_t)order[i], 0);
	inj_poll(ep);
	CHECK_EQ(tern_session_rx_bytes(s), 5 + 24 + 64 + 64);
	CHECK_EQ(runs[T_ECHO], 1);
	for (uint32_t p = 0; p < 9; p++)
		inj_req_pkt(&peer, 16, T_ECHO, msg, SIZE, p, 0);
	inj_poll(ep);
	CHECK_EQ(runs[T_ECHO], 2);
	CHECK_EQ(tern_session_rx_bytes(s), 5 + SIZE);
	inj_req_pkt(&peer, 16, T_ECHO, msg, SIZE, 2, 0); /* after the answer */
	inj_poll(ep);
	CHECK_EQ(tern_session_rx_bytes(s), 5 + SIZE);
	CHECK(stats().drops[TERN_DROP_DUP] >= 4);
	CHECK_EQ(stats().copied_bytes, SIZE);
	CHECK_EQ(tern_session_rx_bytes(NULL), 0);
	teardown();
}

static void on_req__mismatched_packets_of_a_call_dropped(void)
{
	REQUIRE(server_setup() == 0);
	uint8_t msg[300];
	inj_fill(msg, sizeof(msg), 1);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 150, 0, 0);
	inj_poll(ep);
	CHECK(expect_cr(8, 0, 0) != NULL);
	/* Same req_num, another size or type: not part of this call. */
	struct tern_stats a = stats();
	inj_req_pkt(&peer, 8, T_ECHO, msg, 140, 1, 0);
	inj_req_pkt(&peer, 8, T_DEFER, msg, 150, 1, 0);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 2);
	CHECK_EQ(inj_tx_count(d), 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 150, 1, 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 150, 2, 0);
	inj_poll(ep);
	CHECK(expect_cr(8, 1, 0) != NULL);
	CHECK(expect_resp(8, T_ECHO, 0, 150, 0) != NULL);
	CHECK(seen_len == 150 && memcmp(seen, msg, 150) == 0);
	/* Answered: a "copy" with another size or type is not one; in
	 * particular no CR may name a packet outside the call's request. */
	a = stats();
	inj_req_pkt(&peer, 8, T_ECHO, msg, 300, 4, 0);
	inj_req_pkt(&peer, 8, T_ECHO, msg, 300, 2, 0);
	inj_req_pkt(&peer, 8, T_DEFER, msg, 150, 2, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 3);
	CHECK_EQ(stats().requests_dup, a.requests_dup);
	/* Running (deferred): the same. */
	inj_req_pkt(&peer, 9, T_DEFER, msg, 150, 0, 0);
	inj_req_pkt(&peer, 9, T_DEFER, msg, 150, 1, 0);
	inj_req_pkt(&peer, 9, T_DEFER, msg, 150, 2, 0);
	inj_poll(ep);
	REQUIRE(ndeferred == 1);
	inj_tx_clear(d);
	inj_req_pkt(&peer, 9, T_DEFER, msg, 300, 4, 0);
	inj_req_pkt(&peer, 9, T_ECHO, msg, 150, 2, 0);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	/* RR, answered and not cached: a "copy" of another type does not rerun. */
	inj_req(&peer, 10, T_RR, 0, 1, 0, "r", 1);
	inj_poll(ep);
	inj_tx_clear(d);
	inj_req(&peer, 10, T_ECHO, 0, 1, 0, "r", 1);
	inj_req(&peer, 10, T_RR, 0, 2, 0, "rr", 2);
	inj_poll(ep);
	CHECK_EQ(runs[T_RR], 1);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 0)), 0);
	teardown();
}

/* No memory to reassemble a request: dropped (no CR), the caller resends. */
static void on_req__no_memory_for_reassembly(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.mem_limit = 4u << 20;
	REQUIRE(server_setup_cfg(&cfg) == 0);
	struct tern_msg *hog = tern_msg_alloc(ep, (2u << 20) - 200);
	struct tern_msg *hog2 = tern_msg_alloc(ep, (2u << 20) - 200);
	REQUIRE(hog != NULL && hog2 != NULL);
	static uint8_t msg[3000];
	inj_fill(msg, sizeof(msg), 1);
	inj_req_pkt(&peer, 8, T_ECHO, msg, sizeof(msg), 0, 0);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_NOMEM], 1);
	CHECK_EQ(inj_tx_count(d), 0);
	tern_msg_free(hog2);
	/* Memory back (a 2 MiB chunk, not a region for 4 KiB ones): still no. */
	inj_req_pkt(&peer, 8, T_ECHO, msg, sizeof(msg), 0, 0);
	inj_poll(ep);
	CHECK_EQ(stats().drops[TERN_DROP_NOMEM], 2);
	tern_msg_free(hog);
	teardown();
}

/* --- RFR and ACK ------------------------------------------------------------------ */

static void on_rfr__each_response_packet(void)
{
	REQUIRE(server_setup() == 0);
	resp_size = 200; /* 64, 64, 64, 8 */
	uint8_t want[200];
	inj_fill(want, sizeof(want), T_ECHO);
	inj_req(&peer, 8, T_ECHO, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(8, T_ECHO, 0, 200, 0) != NULL);
	for (uint32_t j = 3; j >= 1; j--) { /* any order, and twice */
		for (int k = 0; k < 2; k++) {
			inj_rfr(&peer, 8, T_ECHO, j, 200);
			inj_poll(ep);
			const struct inj_pkt *r = expect_resp(8, T_ECHO, j, 200, 0);
			REQUIRE(r != NULL);
			uint32_t len = j == 3 ? 8 : 64;
			CHECK(r->body_len == len && memcmp(r->body, want + j * 64, len) == 0);
		}
	}
	struct tern_stats a = stats();
	inj_rfr(&peer, 8, T_ECHO, 0, 200);   /* packet 0 comes with the request */
	inj_rfr(&peer, 8, T_ECHO, 1, 300);   /* wrong size */
	inj_rfr(&peer, 16, T_ECHO, 1, 200);  /* a future call */
	inj_rfr(&peer, 8, T_ECHO, 4, 200);   /* out of range: the wire check */
	inj_rfr(&peer, 8, T_ECHO, 1, 64);    /* out of range for the size it names */
	inj_poll(ep);
	struct tern_stats b = stats();
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(b.drops[TERN_DROP_UNEXPECTED], a.drops[TERN_DROP_UNEXPECTED] + 3);
	CHECK_EQ(b.drops[TERN_DROP_PKT_NUM], a.drops[TERN_DROP_PKT_NUM] + 2);
	/* RFR while the handler still runs: nothing to send yet. */
	inj_req(&peer, 9, T_DEFER, 0, 1, 0, "a", 1);
	inj_rfr(&peer, 9, T_DEFER, 1, 200);
	inj_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(tern_respond(deferred[0], inj_msg(ep, 200, 1)), 0);
	teardown();
}

static void on_ack__frees_response(void)
{
	REQUIRE(server_setup() == 0);
	resp_size = 1000;
	inj_req(&peer, 8, T_ECHO, 0, 1, 0, "a", 1);
	inj_req(&peer, 9, T_DEFER, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(8, T_ECHO, 0, 1000, 0) != NULL);
	CHECK_EQ(stats().cached_responses, 1);
	struct tern_stats a = stats();
	inj_ack(&peer, 16, T_ECHO); /* a future call's */
	inj_ack(&peer, 9, T_DEFER); /* still running */
	inj_poll(ep);
	CHECK_EQ(stats().cached_responses, 1);
	CHECK_EQ(stats().acks_rx, 0);
	CHECK_EQ(stats().drops[TERN_DROP_DUP], a.drops[TERN_DROP_DUP] + 2);
	inj_ack(&peer, 8, T_ECHO);
	inj_ack(&peer, 8, T_ECHO);
	inj_poll(ep);
	CHECK_EQ(stats().cached_responses, 0);
	CHECK_EQ(stats().acks_rx, 1);
	CHECK_EQ(inj_tx_count(d), 0);
	/* The buffer went back: only the deferred request's copy remains. */
	CHECK_EQ(stats().msgs_in_use, 1);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 0)), 0);
	CHECK_EQ(stats().msgs_in_use, 1); /* its (empty) response is cached */
	teardown();
}

/* --- the handler's side ----------------------------------------------------------- */

/* --- the handler's side ----------------------------------------------------------- */

static void respond__twice_einval(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_TWICE, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK_EQ(second_rc, -EINVAL);
	CHECK(expect_resp(8, T_TWICE, 0, 1, 0) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	/* Deferred, answered, answered again. */
	inj_req(&peer, 9, T_DEFER, 0, 1, 0, "a", 1);
	inj_poll(ep);
	REQUIRE(ndeferred == 1);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 1)), 0);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 1)), -EINVAL);
	CHECK_EQ(tern_respond_error(deferred[0], -EIO), -EINVAL);
	tern_poll(ep);
	CHECK_EQ(inj_skip_tx(d, TERN_PKT_RESP), 1);
	inj_ack(&peer, 8, T_TWICE);
	inj_ack(&peer, 9, T_DEFER);
	inj_poll(ep);
	CHECK_EQ(stats().msgs_in_use, 0); /* the refused buffers were freed */
	CHECK_EQ(tern_respond(NULL, NULL), -EINVAL);
	teardown();
}

static void respond__error(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_ERROR, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(8, T_ERROR, 0, 0, EIO) != NULL);
	CHECK_EQ(stats().responses_error, 1);
	inj_req(&peer, 9, T_DEFER, 0, 1, 0, "a", 1);
	inj_poll(ep);
	REQUIRE(ndeferred == 1);
	CHECK_EQ(tern_respond_error(deferred[0], 0), -EINVAL);
	CHECK_EQ(tern_respond_error(deferred[0], 5), -EINVAL);
	CHECK_EQ(tern_respond_error(deferred[0], -256), -EINVAL);
	CHECK_EQ(tern_respond_error(NULL, -EIO), -EINVAL);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(tern_respond_error(deferred[0], -255), 0);
	tern_poll(ep);
	CHECK(expect_resp(9, T_DEFER, 0, 0, 255) != NULL);
	teardown();
}

static void respond__over_client_max_msg(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	memset(runs, 0, sizeof(runs));
	ndeferred = 0;
	ep = inj_ep_create(&cfg);
	REQUIRE(ep != NULL);
	d = inj_of(ep);
	tern_handle(ep, T_DEFER, h_defer, NULL, TERN_RRA);
	inj_peer_init(&peer, ep, NULL);
	peer.max_msg = 100;
	REQUIRE(inj_accept(&peer) == 0);
	inj_req(&peer, 8, T_DEFER, 0, 1, 0, "a", 1);
	inj_req(&peer, 9, T_DEFER, 0, 1, 0, "a", 1);
	inj_poll(ep);
	REQUIRE(ndeferred == 2);
	CHECK_EQ(tern_respond(deferred[0], inj_msg(ep, 101, 1)), -EMSGSIZE);
	CHECK_EQ(tern_respond(deferred[1], inj_msg(ep, 100, 1)), 0);
	tern_poll(ep);
	CHECK(expect_resp(8, T_DEFER, 0, 0, EMSGSIZE) != NULL);
	CHECK(expect_resp(9, T_DEFER, 0, 100, 0) != NULL);
	teardown();
}

static void respond__deferred_request_data_kept(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_DEFER, 0, 40, 0, "0123456789012345678901234567890123456789", 40);
	inj_poll(ep);
	REQUIRE(ndeferred == 1);
	/* The receive buffer is gone; the request lives in a msgbuf now. */
	CHECK_EQ(tern_req_len(deferred[0]), 40);
	CHECK(memcmp(tern_req_data(deferred[0]), "0123456789012345678901234567890123456789", 40) == 0);
	CHECK_EQ(tern_req_type(deferred[0]), T_DEFER);
	CHECK(tern_req_session(deferred[0]) == peer.s);
	CHECK(tern_req_ep(deferred[0]) == ep);
	CHECK_EQ(stats().copied_bytes, 40);
	CHECK_EQ(stats().msgs_in_use, 1);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 0)), 0);
	CHECK_EQ(stats().msgs_in_use, 1); /* request copy freed, response cached */
	teardown();
}

static int log_errors;

static char log_last[512];

static void log_hook(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level == TERN_LOG_ERR)
		log_errors++;
	snprintf(log_last, sizeof(log_last), "%s", msg);
}

/* A deferred one-packet request must leave the receive buffer; with no
 * memory for its copy the handler sees no data (logged), and can still
 * answer with an error. */
static void respond__deferred_copy_without_memory(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.mem_limit = 4u << 20;
	cfg.log = log_hook;
	log_errors = 0;
	REQUIRE(server_setup_cfg(&cfg) == 0);
	struct tern_msg *hog = tern_msg_alloc(ep, (2u << 20) - 200);
	struct tern_msg *hog2 = tern_msg_alloc(ep, (2u << 20) - 200);
	REQUIRE(hog != NULL && hog2 != NULL);
	inj_req(&peer, 8, T_DEFER, 0, 5, 0, "hello", 5);
	inj_poll(ep);
	REQUIRE(ndeferred == 1);
	CHECK(seen_len == 5 && memcmp(seen, "hello", 5) == 0); /* in place, in the handler */
	CHECK_EQ(log_errors, 1);
	CHECK(strstr(log_last, "deferred") != NULL);
	CHECK_EQ(tern_req_len(deferred[0]), 0);
	CHECK(tern_req_data(deferred[0]) == NULL);
	CHECK_EQ(tern_respond_error(deferred[0], -ENOMEM), 0);
	tern_poll(ep);
	CHECK(expect_resp(8, T_DEFER, 0, 0, ENOMEM) != NULL);
	tern_msg_free(hog);
	tern_msg_free(hog2);
	teardown();
}

static void respond__foreign_msgbuf(void)
{
	REQUIRE(server_setup() == 0);
	struct tern_ep_config cfg;
	inj_config(&cfg);
	cfg.bind = "10.0.0.3:1";
	struct tern_ep *other = inj_ep_create(&cfg);
	REQUIRE(other != NULL);
	inj_req(&peer, 8, T_DEFER, 0, 1, 0, "a", 1);
	inj_poll(ep);
	REQUIRE(ndeferred == 1);
	struct tern_msg *m = tern_msg_alloc(other, 4);
	CHECK_EQ(tern_respond(deferred[0], m), -EINVAL);
	tern_msg_free(m); /* still ours */
	struct tern_stats st;
	tern_ep_stats(other, &st);
	CHECK_EQ(st.msgs_in_use, 0);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 0)), 0);
	tern_ep_destroy(other);
	teardown();
}

/* A deferred response after the session was torn down: dropped, -ECONNRESET;
 * the session id stays taken (zombie) until then. */
static void respond__after_teardown_zombie(void)
{
	REQUIRE(server_setup() == 0);
	uint16_t id = peer.ep_id;
	inj_req(&peer, 8, T_DEFER, 0, 1, 0, "a", 1);
	inj_req(&peer, 9, T_ECHO, 0, 1, 0, "a", 1);
	inj_poll(ep);
	REQUIRE(ndeferred == 1);
	inj_tx_clear(d);
	inj_ctrl(&peer, TERN_PKT_DISCONNECT);
	inj_poll(ep);
	CHECK_EQ(stats().cached_responses, 0); /* 9's answer freed at teardown */
	/* Its id is not handed out while the handler holds the request. */
	struct inj_peer p2;
	inj_peer_init(&p2, ep, "10.0.0.3:5000");
	REQUIRE(inj_accept(&p2) == 0);
	CHECK(p2.ep_id != id);
	/* Packets for the zombie are refused. */
	inj_req(&peer, 16, T_ECHO, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_RESET) != NULL);
	CHECK_EQ(runs[T_ECHO], 1);
	CHECK_EQ(tern_respond(deferred[0], tern_msg_alloc(ep, 1)), -ECONNRESET);
	tern_poll(ep);
	CHECK_EQ(inj_tx_count(d), 0);
	CHECK_EQ(stats().msgs_in_use, 0);
	/* Now the id is free again. */
	struct inj_peer p3;
	inj_peer_init(&p3, ep, "10.0.0.4:5000");
	REQUIRE(inj_accept(&p3) == 0);
	CHECK_EQ(p3.ep_id, id);
	CHECK_EQ(stats().sessions_open, 2);
	teardown();
}

/* A handler may close its own session (tern_session_close is safe inside
 * callbacks), before or after answering. */
static void run_handler__closes_own_session(void)
{
	REQUIRE(server_setup() == 0);
	inj_req(&peer, 8, T_CLOSE_AFTER, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK_EQ(runs[T_CLOSE_AFTER], 1);
	CHECK_EQ(stats().sessions_open, 0);
	CHECK_EQ(stats().msgs_in_use, 0);
	inj_skip_tx(d, TERN_PKT_RESP);
	CHECK(inj_expect_tx(d, TERN_PKT_DISCONNECT) != NULL);
	CHECK_EQ(inj_tx_count(d), 0);
	peer.nonce++;
	REQUIRE(inj_accept(&peer) == 0);
	inj_req(&peer, 8, T_CLOSE_BEFORE, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(inj_expect_tx(d, TERN_PKT_DISCONNECT) != NULL);
	CHECK_EQ(inj_tx_count(d), 0); /* the answer was dropped */
	CHECK_EQ(runs[T_CLOSE_BEFORE], 1);
	CHECK_EQ(stats().sessions_open, 0);
	CHECK_EQ(stats().msgs_in_use, 0);
	/* A one-way handler closing its session. */
	peer.nonce++;
	REQUIRE(inj_accept(&peer) == 0);
	inj_req(&peer, 8, T_ONEWAY_CLOSE, 0, 1, TERN_WF_ONEWAY, "a", 1);
	inj_poll(ep);
	CHECK_EQ(runs[T_ONEWAY_CLOSE], 1);
	CHECK(inj_expect_tx(d, TERN_PKT_DISCONNECT) != NULL);
	CHECK_EQ(stats().sessions_open, 0);
	/* The endpoint still works. */
	peer.nonce++;
	REQUIRE(inj_accept(&peer) == 0);
	inj_req(&peer, 8, T_ECHO, 0, 1, 0, "a", 1);
	inj_poll(ep);
	CHECK(expect_resp(8, T_ECHO, 0, 1, 0) != NULL);
	teardown();
}

int main(void)
{
	RUN(on_req__new_call_runs_handler_once);
	RUN(on_req__empty_request_and_response);
	RUN(on_req__stale_dropped);
	RUN(on_req__newer_call_frees_cached_response);
	RUN(on_req__newer_call_while_running_dropped);
	RUN(on_req__dup_while_running_working_cr);
	RUN(on_req__dup_while_answered_resends_resp0);
	RUN(on_req__dup_after_ack_dropped);
	RUN(on_req__rr_duplicate_reexecutes);
	RUN(on_req__oneway);
	RUN(on_req__no_handler_enoent);
	RUN(on_req__semantics_mismatch);
	RUN(on_req__server_queue_limit_ebusy);
	RUN(on_req__multi_packet_out_of_order_with_dups);
	RUN(on_req__last_packet_held_crd_alone);
	RUN(on_req__rx_bytes_first_copies_only);
	RUN(on_req__mismatched_packets_of_a_call_dropped);
	RUN(on_req__no_memory_for_reassembly);
	RUN(on_rfr__each_response_packet);
	RUN(on_ack__frees_response);
	RUN(respond__twice_einval);
	RUN(respond__error);
	RUN(respond__over_client_max_msg);
	RUN(respond__deferred_request_data_kept);
	RUN(respond__deferred_copy_without_memory);
	RUN(respond__foreign_msgbuf);
	RUN(respond__after_teardown_zombie);
	RUN(run_handler__closes_own_session);
	return check_exit();
}
