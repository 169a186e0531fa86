/*
 * test_status.c — status codes and messages end to end (issue 14 part 5):
 * a server endpoint polled by its own thread answers with
 * tern_respond_status(), a client on the main thread calls it with
 * tern_call_sync_status() and tern_call(). Every code arrives with its
 * message and errno, a long message arrives cut at a character boundary,
 * plain errno answers and tern's own refusals get their codes.
 *
 * Usage: test_status DRIVER [FAULTS]   (loop or udp; FAULTS as cfg.faults,
 * e.g. loss and duplication: duplicate requests are then answered from the
 * server's cache, and every call still ends once with the right status).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tern.h"

#define T_STATUS 1 /* request: [code][message]; answered with that status */
#define T_ERRNO  2 /* answered with tern_respond_error(-EEXIST) */
#define T_OK     3 /* echo */
#define SEC 1000000000ull

static struct tern_ep *srv, *cli;
static struct tern_session *sess;
static atomic_int stop;
static atomic_int srv_runs;

static void h_status(struct tern_req *req, void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&srv_runs, 1);
	const uint8_t *p = tern_req_data(req);
	size_t n = tern_req_len(req);
	char msg[2048];
	if (n == 0 || n > sizeof(msg)) {
		tern_respond_status(req, TERN_STATUS_INVALID_ARGUMENT, "bad test request");
		return;
	}
	memcpy(msg, p + 1, n - 1);
	msg[n - 1] = '\0';
	if (tern_respond_status(req, p[0], msg) != 0)
		tern_respond_error(req, -EPROTO);
}

static void h_errno(struct tern_req *req, void *ctx)
{
	(void)ctx;
	tern_respond_error(req, -EEXIST);
}

static void h_ok(struct tern_req *req, void *ctx)
{
	(void)ctx;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), tern_req_len(req));
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	tern_respond(req, m);
}

static void *serve(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		tern_poll(srv);
	return NULL;
}

/* [code][msg] as a request. */
static size_t status_req(uint8_t *buf, int code, const char *msg)
{
	size_t n = strlen(msg);
	buf[0] = (uint8_t)code;
	memcpy(buf + 1, msg, n);
	return n + 1;
}

static void sync__status_and_message(void)
{
	uint8_t req[64];
	const char *msg = "key \xc2\xabk1\xc2\xbb not found"; /* key «k1» not found */
	size_t n = status_req(req, TERN_STATUS_NOT_FOUND, msg);
	struct tern_status st;
	char resp[16];
	size_t rlen = 99;
	int rc = tern_call_sync_status(sess, T_STATUS, req, n, resp, sizeof(resp), &rlen, 5 * SEC,
				       &st);
	CHECK_EQ(rc, -ENOENT);
	CHECK_EQ(st.code, TERN_STATUS_NOT_FOUND);
	CHECK(strcmp(st.message, msg) == 0);
	/* NULL status: as tern_call_sync */
	CHECK_EQ(tern_call_sync_status(sess, T_STATUS, req, n, resp, sizeof(resp), &rlen, 5 * SEC,
				       NULL), -ENOENT);
	CHECK_EQ(tern_call_sync(sess, T_STATUS, req, n, resp, sizeof(resp), &rlen, 5 * SEC),
		 -ENOENT);
	/* Success: code 0, no message, the answer as tern_call_sync gives it. */
	rc = tern_call_sync_status(sess, T_OK, "hello", 5, resp, sizeof(resp), &rlen, 5 * SEC, &st);
	CHECK_EQ(rc, 0);
	CHECK_EQ(st.code, TERN_STATUS_OK);
	CHECK_EQ(st.message[0], '\0');
	CHECK_EQ(rlen, 5);
	CHECK(memcmp(resp, "hello", 5) == 0);
	/* A plain errno answer: its code, no message. */
	rc = tern_call_sync_status(sess, T_ERRNO, "x", 1, resp, sizeof(resp), &rlen, 5 * SEC, &st);
	CHECK_EQ(rc, -EEXIST);
	CHECK_EQ(st.code, TERN_STATUS_ALREADY_EXISTS);
	CHECK_EQ(st.message[0], '\0');
	/* tern's own refusal: no handler. */
	rc = tern_call_sync_status(sess, 99, "x", 1, resp, sizeof(resp), &rlen, 5 * SEC, &st);
	CHECK_EQ(rc, -ENOENT);
	CHECK_EQ(st.code, TERN_STATUS_NOT_FOUND);
	CHECK_EQ(st.message[0], '\0');
	/* The call never ran: bad arguments. */
	rc = tern_call_sync_status(NULL, T_OK, "x", 1, resp, sizeof(resp), &rlen, 5 * SEC, &st);
	CHECK_EQ(rc, -EINVAL);
	CHECK_EQ(st.code, TERN_STATUS_INVALID_ARGUMENT);
}

struct got {
	int calls, status, code;
	char message[TERN_STATUS_MSG_MAX + 1];
	size_t message_len;
};

static void cont(const struct tern_result *res, void *ctx)
{
	struct got *g = ctx;
	g->calls++;
	g->status = res->status;
	g->code = res->code;
	g->message_len = res->message != NULL ? res->message_len : 0;
	if (res->message != NULL && res->message_len <= TERN_STATUS_MSG_MAX)
		memcpy(g->message, res->message, res->message_len + 1);
}

/* Every code, all calls in flight at once. */
static void async__every_code(void)
{
	struct got g[TERN_STATUS_MAX + 1];
	memset(g, 0, sizeof(g));
	int left = TERN_STATUS_MAX;
	for (int c = 1; c <= TERN_STATUS_MAX; c++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "code %d: %s \xe2\x9c\x93", c, tern_status_name(c));
		struct tern_msg *m = tern_msg_alloc(cli, strlen(msg) + 1);
		REQUIRE(m != NULL);
		status_req(tern_msg_data(m), c, msg);
		REQUIRE(tern_call(sess, T_STATUS, m, cont, &g[c], 10 * SEC) == 0);
	}
	for (long i = 0; i < 100000000 && left > 0; i++) {
		tern_poll(cli);
		left = 0;
		for (int c = 1; c <= TERN_STATUS_MAX; c++)
			left += g[c].calls == 0;
	}
	for (int c = 1; c <= TERN_STATUS_MAX; c++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "code %d: %s \xe2\x9c\x93", c, tern_status_name(c));
		CHECK_EQ(g[c].calls, 1);
		CHECK_EQ(g[c].code, c);
		CHECK_EQ(g[c].status, tern_status_to_errno(c));
		CHECK_EQ(g[c].message_len, strlen(msg));
		CHECK(strcmp(g[c].message, msg) == 0);
	}
}

/* A message over TERN_STATUS_MSG_MAX arrives cut at a character boundary. */
static void sync__long_message_cut(void)
{
	static uint8_t req[1 + 1200];
	char text[1200];
	size_t n = 0;
	text[n++] = 'a'; /* then 4-byte characters: 1 + 4k, so 512 falls inside one */
	while (n + 4 < sizeof(text)) {
		memcpy(text + n, "\xf0\x9f\x98\x80", 4);
		n += 4;
	}
	text[n] = '\0';
	size_t len = status_req(req, TERN_STATUS_RESOURCE_EXHAUSTED, text);
	struct tern_status st;
	size_t rlen;
	int rc = tern_call_sync_status(sess, T_STATUS, req, len, NULL, 0, &rlen, 5 * SEC, &st);
	CHECK_EQ(rc, tern_status_to_errno(TERN_STATUS_RESOURCE_EXHAUSTED));
	CHECK_EQ(st.code, TERN_STATUS_RESOURCE_EXHAUSTED);
	CHECK_EQ(strlen(st.message), 509); /* "a" + 127 characters of 4 bytes */
	CHECK(memcmp(st.message, text, 509) == 0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_status loop|udp [faults]\n");
		return 2;
	}
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.driver = argv[1];
	cfg.bind = "127.0.0.1:0";
	cfg.rto_min_ns = 200000;
	if (tern_ep_create(&cfg, &srv) != 0) {
		fprintf(stderr, "server endpoint\n");
		return 1;
	}
	cfg.faults = argc > 2 ? argv[2] : NULL; /* on the client's side: both directions */
	if (tern_ep_create(&cfg, &cli) != 0) {
		fprintf(stderr, "client endpoint\n");
		return 1;
	}
	tern_handle(srv, T_STATUS, h_status, NULL, TERN_RRA);
	tern_handle(srv, T_ERRNO, h_errno, NULL, TERN_RRA);
	tern_handle(srv, T_OK, h_ok, NULL, TERN_RRA);
	char addr[64];
	tern_ep_addr(srv, addr, sizeof(addr));
	pthread_t th;
	if (pthread_create(&th, NULL, serve, NULL) != 0)
		return 1;
	if (tern_connect(cli, addr, &sess) != 0 || tern_session_wait(sess, 10 * SEC) != 0) {
		fprintf(stderr, "connect failed\n");
		atomic_store(&stop, 1);
		pthread_join(th, NULL);
		return 1;
	}
	RUN(sync__status_and_message);
	RUN(async__every_code);
	RUN(sync__long_message_cut);
	tern_session_close(sess);
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	struct tern_stats st;
	tern_ep_stats(srv, &st);
	printf("  server: %llu handler runs, %llu duplicate requests, %llu error answers\n",
	       (unsigned long long)atomic_load(&srv_runs), (unsigned long long)st.requests_dup,
	       (unsigned long long)st.responses_error);
	check_case = "each_request_ran_once";
	CHECK_EQ(atomic_load(&srv_runs), 3 + TERN_STATUS_MAX + 1); /* RRA: duplicates from cache */
	tern_ep_destroy(cli);
	tern_ep_destroy(srv);
	return check_exit();
}
