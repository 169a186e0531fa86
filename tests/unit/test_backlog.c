/*
 * test_backlog.c — lib/backlog.c: calls beyond the free slots wait in FIFO
 * order, the backlog's limit (-EAGAIN), and a queued call's deadline.
 *
 * The endpoint under test is fixture.h's caller; the server is played by
 * injected packets.
 */

#include "fixture.h"

/* --- backlog and arguments -------------------------------------------------------- */

static int start_order[16], nstarted;

static void order_cont(const struct tern_result *res, void *ctx)
{
	(void)res;
	start_order[nstarted++] = (int)(intptr_t)ctx;
}

static void backlog_pop__fifo_beyond_slots(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.slots = 2;
	REQUIRE(client_setup_cfg(&cfg) == 0);
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

static void backlog_push__limit_eagain(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.slots = 2;
	cfg.backlog_limit = 2;
	REQUIRE(client_setup_cfg(&cfg) == 0);
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

static void backlog_remove__queued_call_deadline(void)
{
	struct tern_ep_config cfg;
	config(&cfg);
	cfg.slots = 1;
	REQUIRE(client_setup_cfg(&cfg) == 0);
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

int main(void)
{
	RUN(backlog_pop__fifo_beyond_slots);
	RUN(backlog_push__limit_eagain);
	RUN(backlog_remove__queued_call_deadline);
	return check_exit();
}
