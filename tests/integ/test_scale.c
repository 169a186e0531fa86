/*
 * test_scale.c — many sessions on one endpoint, over the loop driver, in
 * one thread (both endpoints polled in turn), through the public API.
 *
 *   test_scale [N]      (default 20000 sessions)
 *
 * A client endpoint opens N sessions to a server endpoint all at once (a
 * connect storm), then runs rounds of one 32-byte call per session, all
 * outstanding together. Checks: every session connects (none fails, none
 * is declared dead), the storm costs at most 1.25 CONNECTs per session
 * (the connect window: they reach the server as fast as it answers, not
 * all again at every retry), every call completes once with its answer, no
 * call fails or times out, and nothing is left in either pool when the
 * sessions close. The times it prints are information, not checks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "echo.h"
#include "tern.h"

#define ROUNDS 3
#define LIMIT_NS (120ull * 1000000000ull) /* every wait is bounded */

static struct tern_ep *srv, *cli;
static long done, ok, bad;

static void cont(const struct tern_result *res, void *ctx)
{
	uintptr_t id = (uintptr_t)ctx;
	done++;
	if (res->status == 0 && res->len == 32 &&
	    memcmp(res->data, &id, sizeof(id)) == 0)
		ok++;
	else
		bad++;
}

static struct tern_ep *make(const char *bind, uint32_t max_sessions)
{
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.driver = "loop";
	cfg.bind = bind;
	/* A burst of N requests (or N DISCONNECTs) lands in one ring at once. */
	cfg.driver_args = "ring=262144";
	cfg.max_sessions = max_sessions;
	struct tern_ep *ep = NULL;
	int rc = tern_ep_create(&cfg, &ep);
	if (rc != 0)
		fprintf(stderr, "tern_ep_create: %s\n", strerror(-rc));
	return ep;
}

static void poll_both(void)
{
	tern_poll(cli);
	tern_poll(srv);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 0) : 20000;
	if (n < 1 || n > 65535) {
		fprintf(stderr, "usage: test_scale [sessions 1..65535]\n");
		return 2;
	}
	check_case = "scale";
	srv = make("127.0.0.7:7000", 65535);
	cli = make("127.0.0.8:7001", (uint32_t)n);
	if (srv == NULL || cli == NULL)
		return 1;
	if (tern_handle(srv, 1, echo, NULL, TERN_RRA) != 0)
		return 1;
	struct tern_session **s = calloc((size_t)n, sizeof(*s));
	if (s == NULL)
		return 1;

	/* The storm: N tern_connect()s at once. */
	uint64_t t0 = tern_now_ns();
	for (long i = 0; i < n; i++)
		if (tern_connect(cli, "127.0.0.7:7000", &s[i]) != 0)
			return 1;
	long up = 0;
	for (long it = 0; up < n && tern_now_ns() - t0 < LIMIT_NS; it++) {
		poll_both();
		if (it % 64 == 0) {
			up = 0;
			for (long i = 0; i < n; i++)
				up += tern_session_state(s[i]) == TERN_SS_CONNECTED;
		}
	}
	uint64_t t1 = tern_now_ns();
	struct tern_stats cs, ss;
	tern_ep_stats(cli, &cs);
	tern_ep_stats(srv, &ss);
	printf("%ld sessions connected in %.3f s: %llu CONNECTs sent, %llu accepted\n", up,
	       (double)(t1 - t0) / 1e9, (unsigned long long)cs.connects_sent,
	       (unsigned long long)ss.sessions_accepted);
	CHECK_EQ(up, n);
	CHECK_EQ(ss.sessions_accepted, (uint64_t)n); /* no half-open extras */
	CHECK((double)cs.connects_sent <= 1.25 * (double)n);

	/* Rounds of one call per session, all outstanding together. */
	for (int r = 0; r < ROUNDS; r++) {
		done = ok = bad = 0;
		uint64_t c0 = tern_now_ns();
		for (long i = 0; i < n; i++) {
			struct tern_msg *m = tern_msg_alloc(cli, 32);
			if (m == NULL)
				return 1;
			memset(tern_msg_data(m), 0, 32);
			uintptr_t id = (uintptr_t)i;
			memcpy(tern_msg_data(m), &id, sizeof(id));
			if (tern_call(s[i], 1, m, cont, (void *)id, 0) != 0)
				return 1;
		}
		while (done < n && tern_now_ns() - c0 < LIMIT_NS)
			poll_both();
		uint64_t c1 = tern_now_ns();
		printf("round %d: %ld calls in %.3f s (%.0f calls/s)\n", r, done, (double)(c1 - c0) / 1e9,
		       (double)done * 1e9 / (double)(c1 - c0));
		CHECK_EQ(done, n);
		CHECK_EQ(ok, n);
		CHECK_EQ(bad, 0);
	}
	tern_ep_stats(cli, &cs);
	tern_ep_stats(srv, &ss);
	printf("client: rto %llu retransmits %llu pings %llu; server: executed %llu dup %llu\n",
	       (unsigned long long)cs.rto_events, (unsigned long long)cs.retransmits,
	       (unsigned long long)cs.pings_sent, (unsigned long long)ss.requests_executed,
	       (unsigned long long)ss.requests_dup);
	CHECK_EQ(cs.calls_failed, 0);
	CHECK_EQ(cs.calls_timeout, 0);
	CHECK_EQ(cs.sessions_dead + ss.sessions_dead, 0);
	CHECK_EQ(ss.requests_executed, (uint64_t)n * ROUNDS); /* each exactly once */

	/* Close everything: both pools come back. */
	for (long i = 0; i < n; i++)
		tern_session_close(s[i]);
	uint64_t e0 = tern_now_ns();
	do {
		poll_both();
		tern_ep_stats(srv, &ss);
	} while (ss.sessions_open != 0 && tern_now_ns() - e0 < LIMIT_NS);
	tern_ep_stats(cli, &cs);
	CHECK_EQ(cs.sessions_open, 0);
	CHECK_EQ(ss.sessions_open, 0);
	CHECK_EQ(cs.msgs_in_use, 0);
	CHECK_EQ(ss.msgs_in_use, 0);
	CHECK_EQ(ss.cached_responses, 0);
	free(s);
	tern_ep_destroy(cli);
	tern_ep_destroy(srv);
	return check_exit();
}
