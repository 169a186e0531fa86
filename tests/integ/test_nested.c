/*
 * test_nested.c — deferred responses, nested calls and call semantics end to
 * end over loop (optionally + faults): a handler that calls back into its
 * client on the same session and answers only when that call completes; a
 * handler that answers from a posted worker thread; R (one-way) and RR.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tern.h"

#define T_OUTER  1 /* server: calls T_INNER on the client, then answers */
#define T_INNER  2 /* client-side handler */
#define T_WORKER 3 /* server: answered from another thread via tern_ep_post */
#define T_ONEWAY 4 /* server: TERN_R */
#define T_RR     5 /* server: TERN_RR counter */

static const char *faults;
static struct tern_ep *srv, *cli;
static struct tern_session *sess;
static int inner_runs, oneway_runs, rr_runs;

static void pump(int *done, long max)
{
	for (long i = 0; i < max && !*done; i++) {
		tern_poll(cli);
		tern_poll(srv);
	}
}

/* --- nested: server -> client call inside a server handler --------------- */

struct outer_ctx {
	struct tern_req *req;
	uint32_t x;
};

static void inner_done(const struct tern_result *res, void *ctx)
{
	struct outer_ctx *oc = ctx;
	uint32_t y = 0;
	if (res->status == 0 && res->len == sizeof(y))
		memcpy(&y, res->data, sizeof(y));
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(oc->req), sizeof(y));
	if (res->status != 0 || m == NULL) {
		tern_msg_free(m);
		tern_respond_error(oc->req, res->status != 0 ? res->status : -ENOMEM);
	} else {
		y += 1; /* outer answer = inner answer + 1 */
		memcpy(tern_msg_data(m), &y, sizeof(y));
		tern_respond(oc->req, m);
	}
	free(oc);
}

static void srv_outer(struct tern_req *req, void *ctx)
{
	(void)ctx;
	struct outer_ctx *oc = calloc(1, sizeof(*oc));
	if (oc == NULL || tern_req_len(req) != sizeof(uint32_t)) {
		free(oc);
		tern_respond_error(req, -EINVAL);
		return;
	}
	oc->req = req;
	memcpy(&oc->x, tern_req_data(req), sizeof(oc->x));
	/* Deferred: call the client back on the same session, answer later. */
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), sizeof(oc->x));
	memcpy(tern_msg_data(m), &oc->x, sizeof(oc->x));
	int rc = tern_call(tern_req_session(req), T_INNER, m, inner_done, oc, 0);
	if (rc != 0) {
		tern_msg_free(m);
		tern_respond_error(req, rc);
		free(oc);
	}
}

static void cli_inner(struct tern_req *req, void *ctx)
{
	(void)ctx;
	uint32_t x;
	inner_runs++;
	memcpy(&x, tern_req_data(req), sizeof(x));
	x *= 2;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), sizeof(x));
	memcpy(tern_msg_data(m), &x, sizeof(x));
	tern_respond(req, m);
}

struct call_out {
	int done;
	int status;
	uint32_t val;
	int count;
};

static void cont_u32(const struct tern_result *res, void *ctx)
{
	struct call_out *o = ctx;
	o->count++;
	o->done = 1;
	o->status = res->status;
	if (res->status == 0 && res->len == sizeof(o->val))
		memcpy(&o->val, res->data, sizeof(o->val));
}

static void nested__server_calls_client_then_answers(void)
{
	for (uint32_t x = 1; x <= 50; x++) {
		struct call_out o = {0};
		struct tern_msg *m = tern_msg_alloc(cli, sizeof(x));
		memcpy(tern_msg_data(m), &x, sizeof(x));
		REQUIRE(tern_call(sess, T_OUTER, m, cont_u32, &o, 0) == 0);
		pump(&o.done, 50000000);
		CHECK_EQ(o.count, 1);
		CHECK_EQ(o.status, 0);
		CHECK_EQ(o.val, 2 * x + 1);
	}
	CHECK(inner_runs >= 50);
}

/* --- deferred from a worker thread ---------------------------------------- */

struct job {
	struct tern_req *req;
	struct tern_ep *ep;
	uint32_t x;
};

static void job_finish(void *arg)
{
	struct job *j = arg; /* on the owner thread, inside tern_poll */
	struct tern_msg *m = tern_msg_alloc(j->ep, sizeof(j->x));
	uint32_t y = j->x * 3;
	memcpy(tern_msg_data(m), &y, sizeof(y));
	tern_respond(j->req, m);
	free(j);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	usleep(2000); /* "slow work" */
	while (tern_ep_post(j->ep, job_finish, j) == -EAGAIN)
		usleep(100);
	return NULL;
}

static void srv_worker(struct tern_req *req, void *ctx)
{
	(void)ctx;
	struct job *j = calloc(1, sizeof(*j));
	pthread_t t;
	j->req = req;
	j->ep = tern_req_ep(req);
	memcpy(&j->x, tern_req_data(req), sizeof(j->x));
	if (pthread_create(&t, NULL, worker, j) != 0) {
		free(j);
		tern_respond_error(req, -EAGAIN);
		return;
	}
	pthread_detach(t);
}

static void deferred__answer_from_worker_thread(void)
{
	struct call_out outs[8];
	memset(outs, 0, sizeof(outs));
	for (uint32_t i = 0; i < 8; i++) {
		struct tern_msg *m = tern_msg_alloc(cli, sizeof(i));
		memcpy(tern_msg_data(m), &i, sizeof(i));
		REQUIRE(tern_call(sess, T_WORKER, m, cont_u32, &outs[i], 0) == 0);
	}
	int all = 0;
	for (long it = 0; it < 100000000 && !all; it++) {
		tern_poll(cli);
		tern_poll(srv);
		all = 1;
		for (int i = 0; i < 8; i++)
			all &= outs[i].done;
	}
	for (uint32_t i = 0; i < 8; i++) {
		CHECK_EQ(outs[i].count, 1);
		CHECK_EQ(outs[i].status, 0);
		CHECK_EQ(outs[i].val, 3 * i);
	}
}

/* --- R and RR ---------------------------------------------------------------- */

static void srv_oneway(struct tern_req *req, void *ctx)
{
	(void)ctx;
	(void)req;
	oneway_runs++;
}

static void srv_rr(struct tern_req *req, void *ctx)
{
	(void)ctx;
	rr_runs++;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), 0);
	tern_respond(req, m);
}

static void semantics__oneway_and_rr(void)
{
	struct call_out o = {0};
	int before = oneway_runs;
	for (int i = 0; i < 20; i++) {
		struct tern_msg *m = tern_msg_alloc(cli, 100);
		memset(tern_msg_data(m), i, 100);
		memset(&o, 0, sizeof(o));
		REQUIRE(tern_send(sess, T_ONEWAY, m, cont_u32, &o, 0) == 0);
		CHECK_EQ(o.count, 0); /* never from inside tern_send */
		pump(&o.done, 1000000);
		CHECK_EQ(o.count, 1);
		CHECK_EQ(o.status, 0);
	}
	/* Let the last one-way packets arrive. */
	for (int i = 0; i < 1000; i++) {
		tern_poll(cli);
		tern_poll(srv);
	}
	if (faults == NULL)
		CHECK_EQ(oneway_runs - before, 20); /* no loss: each delivered once */
	else
		CHECK(oneway_runs - before <= 20); /* at most once, may be lost */

	/* A normal call to a one-way handler is refused with -EPROTO. */
	memset(&o, 0, sizeof(o));
	struct tern_msg *m = tern_msg_alloc(cli, 4);
	REQUIRE(tern_call(sess, T_ONEWAY, m, cont_u32, &o, 0) == 0);
	pump(&o.done, 50000000);
	CHECK_EQ(o.status, -EPROTO);

	/* RR works like RRA on a clean network. */
	for (int i = 0; i < 20; i++) {
		memset(&o, 0, sizeof(o));
		m = tern_msg_alloc(cli, 8);
		REQUIRE(tern_call(sess, T_RR, m, cont_u32, &o, 0) == 0);
		pump(&o.done, 50000000);
		CHECK_EQ(o.status, 0);
	}
	CHECK(rr_runs >= 20);
}

static void unknown__no_handler_gives_enoent(void)
{
	struct call_out o = {0};
	struct tern_msg *m = tern_msg_alloc(cli, 16);
	REQUIRE(tern_call(sess, 999, m, cont_u32, &o, 0) == 0);
	pump(&o.done, 50000000);
	CHECK_EQ(o.count, 1);
	CHECK_EQ(o.status, -ENOENT);
}

int main(int argc, char **argv)
{
	faults = argc > 1 ? argv[1] : NULL;
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.driver = "loop";
	cfg.faults = faults;
	cfg.bind = "127.0.0.1:0";
	cfg.rto_min_ns = 100000;
	if (tern_ep_create(&cfg, &srv) != 0 || tern_ep_create(&cfg, &cli) != 0) {
		fprintf(stderr, "endpoints\n");
		return 1;
	}
	tern_handle(srv, T_OUTER, srv_outer, NULL, TERN_RRA);
	tern_handle(srv, T_WORKER, srv_worker, NULL, TERN_RRA);
	tern_handle(srv, T_ONEWAY, srv_oneway, NULL, TERN_R);
	tern_handle(srv, T_RR, srv_rr, NULL, TERN_RR);
	tern_handle(cli, T_INNER, cli_inner, NULL, TERN_RRA);
	char addr[64];
	tern_ep_addr(srv, addr, sizeof(addr));
	if (tern_connect(cli, addr, &sess) != 0)
		return 1;
	for (long i = 0; i < 10000000 && tern_session_state(sess) == TERN_SS_CONNECTING; i++) {
		tern_poll(cli);
		tern_poll(srv);
	}
	if (tern_session_state(sess) != TERN_SS_CONNECTED) {
		fprintf(stderr, "connect failed\n");
		return 1;
	}
	RUN(nested__server_calls_client_then_answers);
	RUN(deferred__answer_from_worker_thread);
	RUN(semantics__oneway_and_rr);
	RUN(unknown__no_handler_gives_enoent);
	tern_session_close(sess);
	for (int i = 0; i < 100000; i++) {
		tern_poll(cli);
		tern_poll(srv);
	}
	struct tern_stats a, b;
	tern_ep_stats(cli, &a);
	tern_ep_stats(srv, &b);
	check_case = "pools_back_to_start";
	CHECK_EQ(a.msgs_in_use, 0);
	if (faults == NULL) { /* a lost DISCONNECT leaves the server session to its timeout */
		CHECK_EQ(b.sessions_open, 0);
		CHECK_EQ(b.msgs_in_use, 0);
	}
	tern_ep_destroy(cli);
	tern_ep_destroy(srv);
	return check_exit();
}
