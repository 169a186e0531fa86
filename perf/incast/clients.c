/*
 * clients.c — tern-incast's senders: `endpoints` client endpoints with the
 * `senders` sessions spread over them round robin, each keeping `depth`
 * calls of `size` bytes in flight back to back (the next call is issued
 * from the continuation of the last), plus the victim: an endpoint of its
 * own with one session of victim_size-byte calls, one at a time. One thread
 * polls them all, as one core of a client machine would.
 *
 * Phases: connect (every session up, bounded) -> warmup -> the window
 * [t_start, t_end): calls completing OK in it count for goodput and shares,
 * calls issued in it give the latency percentiles (completed whenever), and
 * the endpoints' counters are read at both ends -> drain: no new calls; the
 * ones in flight end by their deadline (bounded: after timeout + grace the
 * sessions are closed, which cancels what is left, counted as unfinished).
 * Before the warmup each sender names its session to the server with a
 * hello call; at each end of the window a mark call (on the victim's
 * session, or the first sender's) asks the server how many request bytes
 * each sender's session has received so far: what each got through the
 * bottleneck in the window, whatever calls the bytes belong to (calls of
 * 1 MiB at 100 senders take seconds, so completed calls measure a 5 s
 * window's goodput and shares coarsely).
 *
 * In one-thread mode the server endpoint is polled in the same loop, after
 * the clients; every pass ends with inc_tick() (the virtual clock of
 * tern-incast-sim advances there).
 *
 * One client side per process: the continuation finds the run in `run`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incast.h"

#define CONNECT_WAIT_NS (5 * INC_NS_PER_S)
#define DRAIN_GRACE_NS  (2 * INC_NS_PER_S)
#define TICK_EVERY      64u

static struct {
	const struct inc_opts *o;
	struct inc_client_res *res;
	struct tern_ep **eps;
	unsigned neps;
	struct tern_ep *server; /* one-thread mode: polled here too */
	struct inc_sender *s;
	unsigned ns;
	uint64_t t_start, t_end;
	bool stopping;
	uint64_t inflight;
	unsigned marks; /* mark and hello calls in flight */
} run;

static void count_failure(struct inc_sender *s, int err)
{
	struct inc_client_res *r = run.res;
	s->failed++;
	if (s->first_err == 0)
		s->first_err = err;
	if (err == -ETIMEDOUT)
		r->err_timeout++;
	else if (err == -ECONNRESET)
		r->err_reset++;
	else
		r->err_other++;
}

static void on_reply(const struct tern_result *r, void *ctx);
static void poll_all(void);

/* The lane's next call, unless the run is stopping. A call tern refuses
 * retires the lane (no busy retry) and counts as failed, unless the session
 * is gone (its calls failed and were counted). */
static void issue(struct inc_lane *l)
{
	struct inc_sender *s = l->s;
	struct tern_msg *m;
	uint8_t *d;
	uint32_t magic = INC_MAGIC;
	int rc;

	if (run.stopping || s->sess == NULL)
		return;
	m = tern_msg_alloc(s->ep, s->size);
	if (m == NULL) {
		count_failure(s, -ENOMEM);
		return;
	}
	l->seq = s->next_seq++;
	d = tern_msg_data(m);
	memcpy(d, &s->id, 4);
	memcpy(d + 4, &magic, 4);
	memcpy(d + 8, &l->seq, 8);
	memset(d + INC_HDR_LEN, (int)(l->seq & 0xff), s->size - INC_HDR_LEN);
	l->t0 = tern_now_ns();
	rc = tern_call(s->sess, INC_REQ_TYPE, m, on_reply, l, run.o->timeout_ns);
	if (rc != 0) {
		tern_msg_free(m);
		/* A failed or closing session has failed its calls already. */
		if (rc != -ENOTCONN && rc != -ECANCELED)
			count_failure(s, rc);
		return;
	}
	s->inflight++;
	run.inflight++;
}

static void on_reply(const struct tern_result *r, void *ctx)
{
	struct inc_lane *l = ctx;
	struct inc_sender *s = l->s;
	uint64_t now = tern_now_ns();

	s->inflight--;
	run.inflight--;
	if (r->status != 0) {
		count_failure(s, r->status);
	} else if (r->len != INC_RESP_LEN || memcmp(r->data, &l->seq, 8) != 0) {
		s->wrong++;
	} else {
		s->ok++;
		if (now >= run.t_start && now < run.t_end) {
			s->win_calls++;
			s->win_bytes += s->size;
		}
		if (l->t0 >= run.t_start && l->t0 < run.t_end)
			hist_add(s->victim ? &run.res->victim : &run.res->bulk, now - l->t0);
	}
	issue(l);
}

/* The server's answer to mark k: its clock, then each sender's bytes. */
static void on_mark(const struct tern_result *r, void *ctx)
{
	unsigned k = (unsigned)(uintptr_t)ctx;
	uint64_t v[2];
	run.marks--;
	if (r->status != 0 || r->len != INC_MARK_HDR + (size_t)run.ns * 8)
		return;
	memcpy(v, r->data, sizeof(v));
	if (v[1] != run.ns)
		return;
	run.res->mark_ns[k] = v[0];
	for (unsigned i = 0; i < run.ns; i++)
		memcpy(&run.s[i].rx_mark[k], (const uint8_t *)r->data + INC_MARK_HDR + i * 8, 8);
	run.res->marked[k] = true;
}

/* The session the marks go on: the victim's (an endpoint of its own, no
 * bulk call ahead of them), else the last sender's. */
static struct inc_sender *control(void)
{
	return &run.s[run.ns - 1];
}

/* Window mark k (0: start, 1: end): the server answers what each sender's
 * session has received so far (server.c). */
static void mark(unsigned k)
{
	struct inc_sender *c = control();
	uint64_t n = run.ns;
	struct tern_msg *m;
	if (c->sess == NULL || (m = tern_msg_alloc(c->ep, INC_MARK_REQ_LEN)) == NULL)
		return;
	memcpy(tern_msg_data(m), &n, 8);
	if (tern_call(c->sess, INC_MARK_TYPE, m, on_mark, (void *)(uintptr_t)k, run.o->timeout_ns) != 0) {
		tern_msg_free(m);
		return;
	}
	run.marks++;
}

static void on_hello(const struct tern_result *r, void *ctx)
{
	struct inc_sender *s = ctx;
	run.marks--;
	s->hello_ok = r->status == 0 && r->len == INC_RESP_LEN;
}

/* Every sender names its session to the server (bounded). */
static int hello_all(void)
{
	uint32_t magic = INC_MAGIC;
	uint64_t seq = 0, end;
	for (unsigned i = 0; i < run.ns; i++) {
		struct inc_sender *s = &run.s[i];
		struct tern_msg *m = tern_msg_alloc(s->ep, INC_HDR_LEN);
		if (m == NULL)
			return -ENOMEM;
		uint8_t *d = tern_msg_data(m);
		memcpy(d, &s->id, 4);
		memcpy(d + 4, &magic, 4);
		memcpy(d + 8, &seq, 8);
		int rc = tern_call(s->sess, INC_HELLO_TYPE, m, on_hello, s, run.o->timeout_ns);
		if (rc != 0) {
			tern_msg_free(m);
			return rc;
		}
		run.marks++;
	}
	end = tern_now_ns() + run.o->timeout_ns + DRAIN_GRACE_NS;
	while (run.marks != 0 && tern_now_ns() < end && inc_signals == 0)
		poll_all();
	for (unsigned i = 0; i < run.ns; i++) {
		if (!run.s[i].hello_ok) {
			fprintf(stderr, "tern-incast: sender %u: no answer to its hello\n", i);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

static void poll_all(void)
{
	for (unsigned i = 0; i < run.neps; i++)
		(void)tern_poll(run.eps[i]);
	if (run.server != NULL)
		(void)tern_poll(run.server);
	inc_tick();
}

/* Counters of every client endpoint, summed. */
static void snapshot(uint64_t *tx, uint64_t *re, uint64_t *rto)
{
	struct tern_stats st;
	*tx = *re = *rto = 0;
	for (unsigned i = 0; i < run.neps; i++) {
		if (tern_ep_stats(run.eps[i], &st) != 0)
			continue;
		*tx += st.tx_pkts;
		*re += st.retransmits;
		*rto += st.rto_events;
	}
}

static int open_eps(const struct inc_opts *o)
{
	char bind[128];
	struct tern_ep_config cfg;

	snprintf(bind, sizeof(bind), "%s:0", o->client_ip);
	for (unsigned i = 0; i < run.neps; i++) {
		tern_ep_config_init(&cfg);
		cfg.driver = o->driver;
		cfg.bind = bind;
		cfg.faults = o->faults;
		cfg.rto_min_ns = o->rto_min_ns;
		cfg.rto_max_ns = o->rto_max_ns;
		cfg.call_timeout_ns = o->timeout_ns;
		cfg.cc_target_ns = o->cc_target_ns;
		if (!o->no_cc)
			cfg.flags |= TERN_EP_CC;
		int rc = tern_ep_create(&cfg, &run.eps[i]);
		if (rc != 0) {
			fprintf(stderr, "tern-incast: client endpoint %u: %s\n", i, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int connect_all(const char *server)
{
	uint64_t end;
	for (unsigned i = 0; i < run.ns; i++) {
		struct inc_sender *s = &run.s[i];
		int rc = tern_connect(s->ep, server, &s->sess);
		if (rc != 0) {
			fprintf(stderr, "tern-incast: connect %s: %s\n", server, strerror(-rc));
			return rc;
		}
	}
	end = tern_now_ns() + CONNECT_WAIT_NS;
	for (;;) {
		unsigned connecting = 0;
		for (unsigned i = 0; i < run.ns; i++) {
			int st = tern_session_state(run.s[i].sess);
			if (st == TERN_SS_FAILED) {
				fprintf(stderr, "tern-incast: session %u to %s failed to connect\n", i,
					server);
				return -ECONNREFUSED;
			}
			connecting += st == TERN_SS_CONNECTING;
		}
		if (connecting == 0)
			return 0;
		if (tern_now_ns() >= end || inc_signals != 0) {
			fprintf(stderr, "tern-incast: %u sessions still connecting to %s\n",
				connecting, server);
			return -ETIMEDOUT;
		}
		poll_all();
	}
}

/* Close every session: what is still in flight ends with -ECANCELED. */
static void cancel_all(void)
{
	uint64_t left = run.inflight;
	run.stopping = true;
	for (unsigned i = 0; i < run.ns; i++) {
		if (run.s[i].sess != NULL) {
			tern_session_close(run.s[i].sess);
			run.s[i].sess = NULL;
		}
	}
	run.res->unfinished += left;
	fprintf(stderr, "tern-incast: %llu calls still in flight after their deadline: cancelled\n",
		(unsigned long long)left);
}

static void measure(void)
{
	const struct inc_opts *o = run.o;
	struct inc_client_res *r = run.res;
	uint64_t tx0 = 0, re0 = 0, rto0 = 0, cpu0 = 0, drain_end = 0, now = tern_now_ns();
	bool started = false;

	run.t_start = now + o->warmup_ns;
	run.t_end = run.t_start + o->duration_ns;
	for (unsigned i = 0; i < run.ns; i++)
		for (unsigned k = 0; k < (run.s[i].victim ? 1 : o->depth); k++)
			issue(&run.s[i].lanes[k]);
	for (unsigned iter = 1;; iter++) {
		poll_all();
		if (iter % TICK_EVERY != 0)
			continue;
		now = tern_now_ns();
		if (!started && now >= run.t_start) {
			snapshot(&tx0, &re0, &rto0);
			cpu0 = inc_thread_cpu_ns();
			mark(0);
			started = true;
		}
		if (!run.stopping && (now >= run.t_end || inc_signals != 0)) {
			if (now < run.t_end) /* interrupted: the window ends here */
				run.t_end = now > run.t_start ? now : run.t_start;
			snapshot(&r->tx_pkts, &r->retransmits, &r->rto_events);
			r->tx_pkts -= tx0;
			r->retransmits -= re0;
			r->rto_events -= rto0;
			if (now > run.t_start && !inc_sim_build) /* CPU time over virtual time: none */
				r->cpu = (double)(inc_thread_cpu_ns() - cpu0) / (double)(now - run.t_start);
			mark(1);
			run.stopping = true;
			drain_end = now + o->timeout_ns + DRAIN_GRACE_NS;
		}
		if (run.stopping && run.inflight == 0 && run.marks == 0)
			break;
		if (run.stopping && (now >= drain_end || inc_signals > 1)) {
			cancel_all();
			break;
		}
	}
	r->t_start = run.t_start;
	r->t_end = run.t_end;
}

void inc_senders_free(struct inc_sender *s, unsigned n)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < n; i++)
		free(s[i].lanes);
	free(s);
}

int inc_clients_run(const struct inc_opts *o, const char *server, struct tern_ep *server_ep,
		    struct inc_sender **out, struct inc_client_res *res)
{
	uint64_t udp0 = inc_udp_rcvbuf_errors();
	int rc = -ENOMEM;

	memset(res, 0, sizeof(*res));
	res->bulk.min = res->victim.min = UINT64_MAX; /* hist_init() of zeroed histograms */
	memset(&run, 0, sizeof(run));
	run.o = o;
	run.res = res;
	run.server = server_ep;
	run.neps = o->endpoints + (o->victim ? 1 : 0);
	run.ns = o->senders + (o->victim ? 1 : 0);
	run.eps = calloc(run.neps, sizeof(*run.eps));
	run.s = calloc(run.ns, sizeof(*run.s));
	if (run.eps == NULL || run.s == NULL)
		goto out;
	for (unsigned i = 0; i < run.ns; i++) {
		struct inc_sender *s = &run.s[i];
		s->id = i;
		s->victim = i == o->senders;
		s->size = s->victim ? o->victim_size : o->size;
		s->lanes = calloc(o->depth, sizeof(*s->lanes));
		if (s->lanes == NULL)
			goto out;
		for (unsigned k = 0; k < o->depth; k++)
			s->lanes[k].s = s;
		s->rx_mark[0] = s->rx_mark[1] = UINT64_MAX;
	}
	if ((rc = open_eps(o)) != 0)
		goto out;
	for (unsigned i = 0; i < run.ns; i++)
		run.s[i].ep = run.s[i].victim ? run.eps[o->endpoints] : run.eps[i % o->endpoints];
	if ((rc = connect_all(server)) != 0 || (rc = hello_all()) != 0)
		goto out;
	res->connected = true;
	measure();
	for (unsigned i = 0; i < run.ns; i++) {
		res->calls_ok += run.s[i].ok;
		res->calls_failed += run.s[i].failed;
		res->calls_wrong += run.s[i].wrong;
	}
	rc = 0;
	snapshot(&res->run_tx_pkts, &res->run_retransmits, &res->run_rto_events);
out:
	run.stopping = true; /* continuations run by destroy issue nothing */
	for (unsigned i = 0; i < run.neps && run.eps != NULL; i++)
		tern_ep_destroy(run.eps[i]); /* closes the sessions */
	free(run.eps);
	uint64_t udp1 = inc_udp_rcvbuf_errors();
	res->udp_rcvbuf_errors = udp0 != UINT64_MAX && udp1 != UINT64_MAX ? udp1 - udp0 : UINT64_MAX;
	*out = run.s;
	return rc;
}
