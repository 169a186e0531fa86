/*
 * client.c — the closed-loop client: --concurrency lanes per thread, each
 * keeping one call in flight and issuing the next from the continuation of
 * the last. No thread, timer or queue of our own sits between a response
 * and the next request, so what is measured is tern's round trip.
 *
 * Phases of a thread: warmup (the first --warmup completions, not measured)
 * -> measuring (each successful call's RTT, tern_now_ns() at tern_call() to
 * tern_now_ns() in its continuation, into the histogram) -> stopping (count
 * or duration reached, or a signal: no new calls, in-flight ones finish)
 * -> done when nothing is in flight.
 *
 * Bounded whatever the server does: every call has a deadline (--timeout-ms)
 * and tern fails it when that passes; a dead session makes tern_call() fail
 * at once, which retires the lane. As a backstop against anything that
 * still does not end (a lost continuation would be a tern bug), the thread
 * cancels what is in flight when no call has completed for a timeout plus
 * STALL_GRACE, when draining takes longer than a timeout plus STALL_GRACE,
 * or at a second signal.
 *
 * selftest: the same client, plus a server endpoint in the same thread; each
 * pass polls both (no sleeping: one of them may have work while the other
 * waits). --faults applies to the client endpoint only (see self_server()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "perf.h"

#define STALL_GRACE_NS   (2 * PERF_NS_PER_S)
#define WAIT_NS          PERF_NS_PER_MS /* longest sleep in one poll (--busy-poll 0) */
#define TICK_EVERY       64u            /* polls between clock checks */
#define ERR_PRINT_MAX    5              /* failed calls reported one by one, per process */

struct perf_lane {
	struct perf_worker *w;
	unsigned sidx;  /* its session: w->sess[sidx] */
	uint64_t seq;   /* current call */
	uint64_t t0;    /* when it was issued */
};

static _Atomic unsigned err_printed;

static void report_failure(const struct perf_worker *w, uint64_t seq, const char *what, int err)
{
	if (atomic_fetch_add(&err_printed, 1) >= ERR_PRINT_MAX)
		return;
	fprintf(stderr, "tern-perf: thread %u call %llu: %s: %s (%s)\n", w->id,
		(unsigned long long)seq, what, perf_errname(err), strerror(-err));
}

static void count_error(struct perf_worker *w, int err)
{
	w->res.errors++;
	unsigned e = err < 0 && -err < PERF_ERRNO_MAX ? (unsigned)-err : 0;
	w->res.by_errno[e]++;
}

static void start_measuring(struct perf_worker *w, uint64_t now)
{
	w->measuring = true;
	w->res.t_start = now;
	w->res.t_end = now;
	w->prog_next = now + PERF_NS_PER_S;
	w->prog_last_t = now;
	w->prog_last_n = 0;
	if (w->o->duration_ns != 0)
		w->t_stop = now + w->o->duration_ns;
}

static void stop(struct perf_worker *w, uint64_t now)
{
	if (w->stopping)
		return;
	w->stopping = true;
	w->t_drain = now + w->o->timeout_ns + STALL_GRACE_NS;
}

static bool may_issue(const struct perf_worker *w)
{
	if (w->stopping)
		return false;
	return w->o->duration_ns != 0 || w->issued < w->warmup + w->target;
}

static void on_reply(const struct tern_result *r, void *ctx);

/* Issue the lane's next call if the run wants one. A call that cannot even
 * be started retires the lane (no busy retry loop); it counts as failed
 * unless its session already failed (those calls were counted already). */
static void lane_issue(struct perf_lane *l)
{
	struct perf_worker *w = l->w;
	const struct perf_opts *o = w->o;
	struct tern_session *s = w->sess[l->sidx];
	if (!may_issue(w) || s == NULL)
		return;
	uint64_t seq = w->next_seq++;
	struct tern_msg *m = tern_msg_alloc(w->ep, o->size);
	if (m == NULL) {
		count_error(w, -ENOMEM);
		report_failure(w, seq, "tern_msg_alloc", -ENOMEM);
		return;
	}
	perf_req_build(tern_msg_data(m), o->size, seq, o->resp_size, o->verify);
	l->seq = seq;
	l->t0 = tern_now_ns();
	int rc = o->type == PERF_TYPE_ONEWAY
			 ? tern_send(s, PERF_TYPE_ONEWAY, m, on_reply, l, o->timeout_ns)
			 : tern_call(s, (uint16_t)o->type, m, on_reply, l, o->timeout_ns);
	if (rc != 0) {
		tern_msg_free(m); /* still ours on error */
		/* A failed or closing session has already failed its calls (and the
		 * session hook said why): retire the lane without another error. */
		if (rc == -ENOTCONN || rc == -ECANCELED)
			return;
		count_error(w, rc);
		report_failure(w, seq, "tern_call", rc);
		return;
	}
	w->issued++;
	w->inflight++;
}

static bool verify(struct perf_worker *w, const struct perf_lane *l, const struct tern_result *r)
{
	const struct perf_opts *o = w->o;
	size_t bad = perf_resp_check(r->data, r->len, o->size, l->seq, o->resp_size);
	if (bad == 0)
		return true;
	w->res.verify_fail++;
	count_error(w, -EBADMSG);
	if (atomic_fetch_add(&err_printed, 1) < ERR_PRINT_MAX)
		fprintf(stderr,
			"tern-perf: thread %u call %llu: wrong response: %zu bytes (expected %u), "
			"first bad byte at offset %zu\n",
			w->id, (unsigned long long)l->seq, r->len,
			o->size < PERF_HDR_LEN ? o->size : o->resp_size, bad - 1);
	return false;
}

static void on_reply(const struct tern_result *r, void *ctx)
{
	struct perf_lane *l = ctx;
	struct perf_worker *w = l->w;
	uint64_t now = tern_now_ns();
	bool measured = w->measuring;
	w->inflight--;
	w->completed++;
	w->t_last_done = now;
	if (r->status != 0) {
		count_error(w, r->status);
		report_failure(w, l->seq, "failed", r->status);
	} else if ((!w->o->verify || verify(w, l, r)) && measured) {
		hist_add(&w->res.hist, now - l->t0);
		w->res.ok++;
		w->res.payload_bytes += w->o->size + r->len;
		w->res.t_end = now;
	}
	if (!w->measuring && w->completed >= w->warmup)
		start_measuring(w, now);
	if (w->o->duration_ns != 0 && w->measuring && now >= w->t_stop)
		stop(w, now);
	lane_issue(l);
}

/* Cancel everything in flight: closing a session ends its calls with
 * -ECANCELED (their continuations run inside tern_session_close()). */
static void cancel_all(struct perf_worker *w, const char *why)
{
	uint64_t n = w->inflight;
	stop(w, tern_now_ns());
	w->res.aborted = true;
	for (unsigned i = 0; i < w->o->sessions; i++) {
		if (w->sess[i] != NULL) {
			tern_session_close(w->sess[i]);
			w->sess[i] = NULL;
		}
	}
	fprintf(stderr, "tern-perf: thread %u: %s; cancelled %llu calls in flight\n", w->id, why,
		(unsigned long long)n);
}

static int poll_once(struct perf_worker *w)
{
	if (w->srv != NULL)
		return tern_poll(w->ep) + tern_poll(w->srv);
	if (w->o->busy_poll)
		return tern_poll(w->ep);
	return tern_poll_wait(w->ep, WAIT_NS);
}

void perf_client_idle(struct perf_worker *w)
{
	(void)poll_once(w);
}

/* Clock-driven checks, every TICK_EVERY polls. */
static void tick(struct perf_worker *w)
{
	uint64_t now = tern_now_ns();
	const struct perf_opts *o = w->o;
	if (perf_signals >= 2 && w->inflight != 0) {
		cancel_all(w, "interrupted twice");
		return;
	}
	if (perf_signals != 0 || atomic_load(&perf_go) < 0)
		stop(w, now);
	if (o->duration_ns != 0 && w->measuring && now >= w->t_stop)
		stop(w, now);
	if (w->inflight != 0 && now - w->t_last_done > o->timeout_ns + STALL_GRACE_NS) {
		cancel_all(w, "no call completed for a timeout and more (tern bug?)");
		return;
	}
	if (w->stopping && w->inflight != 0 && now > w->t_drain) {
		cancel_all(w, "calls still in flight long after their deadline (tern bug?)");
		return;
	}
	if (w->measuring && now >= w->prog_next)
		perf_progress_tick(w, now);
}

void perf_client_run(struct perf_worker *w)
{
	uint64_t now = tern_now_ns();
	w->t_last_done = now;
	if (w->warmup == 0)
		start_measuring(w, now);
	for (unsigned i = 0; i < w->o->concurrency; i++)
		lane_issue(&w->lanes[i]);
	unsigned iter = 0;
	while (w->inflight != 0 && !w->res.aborted) {
		(void)poll_once(w);
		if (++iter % TICK_EVERY == 0)
			tick(w);
	}
	if (w->inflight != 0) /* cancelled, yet no continuation: never wait for them */
		fprintf(stderr, "tern-perf: thread %u: %llu calls never completed (tern bug)\n", w->id,
			(unsigned long long)w->inflight);
	w->stopping = true;
	perf_progress_publish(w);
}

/* selftest: poll both endpoints until every session is up or has failed. */
static int self_wait(struct perf_worker *w)
{
	uint64_t end = tern_now_ns() + w->o->connect_timeout_ns + PERF_NS_PER_S;
	for (;;) {
		unsigned connecting = 0;
		for (unsigned i = 0; i < w->o->sessions; i++) {
			int st = tern_session_state(w->sess[i]);
			if (st == TERN_SS_FAILED)
				return -ECONNREFUSED;
			connecting += st == TERN_SS_CONNECTING;
		}
		if (connecting == 0)
			return 0;
		if (tern_now_ns() >= end)
			return -ETIMEDOUT;
		(void)poll_once(w);
	}
}

static int connect_all(struct perf_worker *w, const char *to)
{
	const struct perf_opts *o = w->o;
	for (unsigned i = 0; i < o->sessions; i++) {
		int rc = tern_connect(w->ep, to, &w->sess[i]);
		if (rc != 0) {
			fprintf(stderr, "tern-perf: cannot connect to %s: %s\n", to, strerror(-rc));
			return PERF_EXIT_SETUP;
		}
	}
	for (unsigned i = 0; i < o->sessions; i++) {
		/* tern gives up at connect_timeout_ns; wait a little longer to get its reason. */
		int rc = w->srv != NULL ? self_wait(w)
					: tern_session_wait(w->sess[i], o->connect_timeout_ns + 200 * PERF_NS_PER_MS);
		if (rc != 0) {
			fprintf(stderr, "tern-perf: cannot connect to %s (driver %s): %s%s\n", to, o->driver,
				strerror(-rc),
				rc == -ETIMEDOUT ? " (is the server running and reachable?)" : "");
			return PERF_EXIT_SETUP;
		}
	}
	return 0;
}

/* selftest's in-thread server, bound where --bind says or 127.0.0.1:ephemeral. */
static int self_server(struct perf_worker *w, char *addr, size_t len)
{
	struct tern_ep_config cfg;
	const char *bind = w->bind[0] != '\0' ? w->bind : "127.0.0.1:0";
	perf_ep_config(w->o, &cfg, bind, 2 * w->id, w);
	/* --faults wraps only the client's driver, both directions: each packet
	 * meets the injector once. (Both ends with one seed would draw the same
	 * fates, one packet apart: every fault would strike two calls in a row.) */
	cfg.faults = NULL;
	int rc = tern_ep_create(&cfg, &w->srv);
	if (rc != 0) {
		fprintf(stderr, "tern-perf: cannot create the %s server endpoint on %s: %s\n", w->o->driver,
			bind, strerror(-rc));
		return PERF_EXIT_SETUP;
	}
	rc = perf_server_handlers(w, w->srv);
	if (rc != 0)
		return rc;
	tern_ep_addr(w->srv, addr, len);
	return 0;
}

int perf_client_setup(struct perf_worker *w)
{
	const struct perf_opts *o = w->o;
	struct tern_ep_config cfg;
	char self_addr[128];
	const char *to = w->connect;
	int rc;
	bool self = o->cmd == PERF_CMD_SELFTEST;

	w->sess = calloc(o->sessions, sizeof(*w->sess));
	w->lanes = calloc(o->concurrency, sizeof(*w->lanes));
	if (w->sess == NULL || w->lanes == NULL) {
		fprintf(stderr, "tern-perf: out of memory\n");
		return PERF_EXIT_SETUP;
	}
	for (unsigned i = 0; i < o->concurrency; i++)
		w->lanes[i] = (struct perf_lane){.w = w, .sidx = i % o->sessions};
	hist_init(&w->res.hist);
	w->next_seq = (uint64_t)w->id << 48; /* distinct per thread: a crossed reply would show */

	if (self) {
		rc = self_server(w, self_addr, sizeof(self_addr));
		if (rc != 0)
			return rc;
		to = self_addr;
	}
	/* selftest's client takes the driver's default address (its server has --bind). */
	perf_ep_config(o, &cfg, self || w->bind[0] == '\0' ? NULL : w->bind,
		       self ? 2 * w->id + 1 : w->id, w);
	/* Every lane's call must fit in a session's slots plus backlog. */
	uint32_t per_session = (o->concurrency + o->sessions - 1) / o->sessions;
	if (cfg.backlog_limit < per_session)
		cfg.backlog_limit = per_session;
	rc = tern_ep_create(&cfg, &w->ep);
	if (rc != 0) {
		fprintf(stderr, "tern-perf: cannot create the %s client endpoint%s%s: %s\n", o->driver,
			cfg.bind != NULL ? " on " : "", cfg.bind != NULL ? cfg.bind : "", strerror(-rc));
		if (rc == -ENOENT)
			fprintf(stderr, "tern-perf: drivers built into libtern: %s\n", tern_drivers());
		return PERF_EXIT_SETUP;
	}
	return connect_all(w, to);
}

void perf_client_teardown(struct perf_worker *w)
{
	w->stopping = true;
	if (w->ep != NULL) {
		for (unsigned i = 0; w->sess != NULL && i < w->o->sessions; i++)
			if (w->sess[i] != NULL)
				tern_session_close(w->sess[i]); /* DISCONNECT: the server frees its state now */
		tern_ep_stats(w->ep, &w->cli_stats);
		tern_ep_destroy(w->ep);
		w->ep = NULL;
	}
	if (w->srv != NULL) {
		/* Let the server see the DISCONNECTs, so its counters show clean closes. */
		for (int i = 0; i < 16; i++)
			(void)tern_poll(w->srv);
		tern_ep_stats(w->srv, &w->srv_stats);
		tern_ep_destroy(w->srv);
		w->srv = NULL;
	}
	free(w->sess);
	free(w->lanes);
	w->sess = NULL;
	w->lanes = NULL;
}
