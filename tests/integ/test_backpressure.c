/*
 * test_backpressure.c — a slow server under a flood of calls.
 *
 * The server's handler defers every request and answers one per few polls
 * (a slow disk, say); its server_queue_limit is small. Clients on several
 * sessions flood it until tern_call() says -EAGAIN (backlog full). Checks:
 * -EAGAIN and -EBUSY both appear; every accepted call ends in exactly one
 * continuation, with status 0 or -EBUSY and nothing else; the server never
 * runs more than its limit at once; memory stays bounded; all pools return
 * to their starting level. Optionally over faults (argv[1]).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tern.h"

#define T_SLOW       1
#define SESSIONS     4
#define QUEUE_LIMIT  6
#define BACKLOG      32
#define ROUNDS       3000
#define MAX_PENDING  4096

static struct tern_ep *srv, *cli;
static struct tern_req *pending[MAX_PENDING];
static int npending, max_running, srv_exec;

static void slow(struct tern_req *req, void *ctx)
{
	(void)ctx;
	srv_exec++;
	if (npending < MAX_PENDING)
		pending[npending++] = req;
	if (npending > max_running)
		max_running = npending;
}

/* Answer the oldest deferred request. */
static void serve_one(void)
{
	if (npending == 0)
		return;
	struct tern_req *req = pending[0];
	memmove(pending, pending + 1, (size_t)(npending - 1) * sizeof(pending[0]));
	npending--;
	struct tern_msg *m = tern_msg_alloc(srv, tern_req_len(req));
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	tern_respond(req, m);
}

struct call {
	int ends;
	int status;
	uint32_t id;
	int verified;
};

static long accepted, eagain, ended, ok, ebusy, other;
static struct call *calls;
static long ncalls;

static void cont(const struct tern_result *res, void *ctx)
{
	struct call *c = ctx;
	c->ends++;
	c->status = res->status;
	ended++;
	if (res->status == 0) {
		ok++;
		uint32_t id = 0;
		if (res->len == 64)
			memcpy(&id, res->data, sizeof(id));
		c->verified = res->len == 64 && id == c->id;
	} else if (res->status == -EBUSY) {
		ebusy++;
	} else {
		other++;
		if (other < 5)
			fprintf(stderr, "unexpected status %d\n", res->status);
	}
}

static void flood__eagain_ebusy_nothing_lost(void)
{
	struct tern_session *s[SESSIONS];
	char addr[64];
	tern_ep_addr(srv, addr, sizeof(addr));
	for (int i = 0; i < SESSIONS; i++) {
		REQUIRE(tern_connect(cli, addr, &s[i]) == 0);
	}
	for (long it = 0; it < 10000000; it++) {
		int up = 0;
		for (int i = 0; i < SESSIONS; i++)
			up += tern_session_state(s[i]) == TERN_SS_CONNECTED;
		if (up == SESSIONS)
			break;
		tern_poll(cli);
		tern_poll(srv);
	}
	calls = calloc(ROUNDS * SESSIONS * 64, sizeof(*calls));
	REQUIRE(calls != NULL);
	uint64_t peak_reserved = 0;
	for (int round = 0; round < ROUNDS; round++) {
		/* Flood: every session until its backlog refuses. */
		for (int i = 0; i < SESSIONS; i++) {
			for (int k = 0; k < 64; k++) {
				struct call *c = &calls[ncalls];
				c->id = (uint32_t)ncalls;
				struct tern_msg *m = tern_msg_alloc(cli, 64);
				REQUIRE(m != NULL);
				memset(tern_msg_data(m), 0, 64);
				memcpy(tern_msg_data(m), &c->id, sizeof(c->id));
				int rc = tern_call(s[i], T_SLOW, m, cont, c, 0);
				if (rc == -EAGAIN) {
					eagain++;
					tern_msg_free(m);
					break;
				}
				CHECK_EQ(rc, 0);
				accepted++;
				ncalls++;
			}
		}
		tern_poll(cli);
		tern_poll(srv);
		if (round % 3 == 0)
			serve_one(); /* the slow part */
		struct tern_stats st;
		tern_ep_stats(cli, &st);
		if (st.msg_bytes_reserved > peak_reserved)
			peak_reserved = st.msg_bytes_reserved;
		tern_ep_stats(srv, &st);
		if (st.msg_bytes_reserved > peak_reserved)
			peak_reserved = st.msg_bytes_reserved;
	}
	/* Drain: serve everything, let every call end. */
	for (long it = 0; it < 200000000 && ended < accepted; it++) {
		tern_poll(cli);
		tern_poll(srv);
		serve_one();
	}
	printf("accepted %ld eagain %ld ended %ld ok %ld ebusy %ld other %ld max_running %d peak %llu KiB\n",
	       accepted, eagain, ended, ok, ebusy, other, max_running,
	       (unsigned long long)peak_reserved / 1024);
	CHECK(eagain > 0);
	CHECK(ebusy > 0);
	CHECK(ok > 0);
	CHECK_EQ(ended, accepted);
	CHECK_EQ(other, 0);
	CHECK(max_running <= QUEUE_LIMIT);
	CHECK(peak_reserved <= 64ull << 20); /* bounded: a few slabs, not the flood */
	for (long i = 0; i < ncalls; i++) {
		if (calls[i].ends != 1 || (calls[i].status == 0 && !calls[i].verified)) {
			CHECK(0 && "each accepted call ended exactly once, verified");
			break;
		}
	}
	CHECK_EQ(ok, srv_exec); /* executed = answered with data: -EBUSY never executed */
	for (int i = 0; i < SESSIONS; i++)
		tern_session_close(s[i]);
	for (int i = 0; i < 200000; i++) {
		tern_poll(cli);
		tern_poll(srv);
	}
	struct tern_stats a, b;
	tern_ep_stats(cli, &a);
	tern_ep_stats(srv, &b);
	CHECK_EQ(a.msgs_in_use, 0);
	CHECK_EQ(b.sessions_open, 0);
	CHECK_EQ(b.msgs_in_use, 0);
	CHECK(b.busy_rejects > 0);
	free(calls);
}

int main(void)
{
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.driver = "loop";
	cfg.bind = "127.0.0.1:0";
	cfg.server_queue_limit = QUEUE_LIMIT;
	cfg.backlog_limit = BACKLOG;
	cfg.ack_delay_ns = 1000000;
	if (tern_ep_create(&cfg, &srv) != 0 || tern_ep_create(&cfg, &cli) != 0)
		return 1;
	tern_handle(srv, T_SLOW, slow, NULL, TERN_RRA);
	RUN(flood__eagain_ebusy_nothing_lost);
	tern_ep_destroy(cli);
	tern_ep_destroy(srv);
	return check_exit();
}
