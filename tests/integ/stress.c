/*
 * stress.c — tern-stress: end-to-end correctness driver for the
 * integration, property and crash tests.
 *
 * A client issues --count calls of random sizes (1 byte .. --max-size, with
 * packet-boundary sizes mixed in) keeping --concurrency in flight; every
 * request and response payload is a pattern derived from (seed, call id), so
 * both sides verify contents without storing them. The server counts
 * executions per call id; the client asks for them at the end (a "report"
 * call) and checks: every call completed exactly once, none failed, no RRA
 * request ran twice, and every pool is back to its starting level.
 *
 *   tern-stress both   --driver loop [--faults ...]        one process, one thread
 *   tern-stress server --driver udp --bind A [--exit-when-idle]
 *   tern-stress client --driver udp --connect A
 *
 * Exit status: 0 all checks held, 1 a check failed, 2 usage or setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern.h"

#define T_CALL   1 /* RRA echo-with-pattern */
#define T_REPORT 2 /* RR: server counters */

struct opts {
	const char *mode, *driver, *bind, *connect, *eal, *dargs, *faults;
	const char *client_bind, *client_dargs; /* both: the client endpoint's */
	long count;
	long max_size;
	int concurrency;
	uint64_t seed;
	uint64_t timeout_ms;
	uint64_t deadline_s;
	int exit_when_idle;
	int reconnect;      /* client survives server crashes: reopen failed sessions */
	int auto_reconnect; /* TERN_EP_RECONNECT + idempotent calls */
	int expect_reset;   /* --reconnect: fail unless some call saw -ECONNRESET */
	int quiet;
	int stats; /* print both endpoints' counters */
	int block; /* busy_poll = 0: sleep in the driver when idle (udp) */
	int allow_errors;
	uint32_t mtu;
	uint64_t rto_min_us;
	uint64_t rto_max_us;
	uint64_t session_timeout_ms;
	uint32_t credits;
	const char *psk;     /* a pre-shared key file: sessions are authenticated */
	uint32_t protection; /* TERN_PROT_*: asked (client) and the least accepted (server) */
};

/* ------------------------------------------------------------------ */
/* payload patterns                                                   */
/* ------------------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void fill(uint8_t *p, size_t n, uint64_t key)
{
	uint64_t s = mix(key);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		s = mix(s + i);
		memcpy(p + i, &s, 8);
	}
	s = mix(s + i);
	for (; i < n; i++)
		p[i] = (uint8_t)(s >> (8 * (i & 7)));
}

static int check(const uint8_t *p, size_t n, uint64_t key)
{
	uint64_t s = mix(key);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		s = mix(s + i);
		if (memcmp(p + i, &s, 8) != 0)
			return 0;
	}
	s = mix(s + i);
	for (; i < n; i++)
		if (p[i] != (uint8_t)(s >> (8 * (i & 7))))
			return 0;
	return 1;
}

/* Request layout: header, then the pattern. */
struct req_hdr {
	uint64_t id;
	uint64_t seed;
	uint32_t resp_size;
	uint32_t pad;
};

/* ------------------------------------------------------------------ */
/* server                                                             */
/* ------------------------------------------------------------------ */

struct server {
	struct tern_ep *ep;
	uint8_t *exec; /* executions per call id */
	size_t exec_cap;
	uint64_t executed, dup_exec, bad_req;
	uint64_t sessions_seen;
};

struct report {
	uint64_t executed, dup_exec, bad_req;
	uint64_t msgs_in_use, cached;
};

static void srv_call(struct tern_req *req, void *ctx)
{
	struct server *sv = ctx;
	size_t len = tern_req_len(req);
	const uint8_t *p = tern_req_data(req);
	struct req_hdr h;
	if (len < sizeof(h)) {
		sv->bad_req++;
		tern_respond_error(req, -EINVAL);
		return;
	}
	memcpy(&h, p, sizeof(h));
	if (!check(p + sizeof(h), len - sizeof(h), h.seed ^ h.id)) {
		sv->bad_req++;
		tern_respond_error(req, -EILSEQ);
		return;
	}
	if (h.id >= sv->exec_cap) {
		size_t cap = sv->exec_cap ? sv->exec_cap : 1024;
		while (cap <= h.id)
			cap *= 2;
		uint8_t *e = realloc(sv->exec, cap);
		if (e == NULL) {
			tern_respond_error(req, -ENOMEM);
			return;
		}
		memset(e + sv->exec_cap, 0, cap - sv->exec_cap);
		sv->exec = e;
		sv->exec_cap = cap;
	}
	if (sv->exec[h.id] != 0)
		sv->dup_exec++;
	if (sv->exec[h.id] < 255)
		sv->exec[h.id]++;
	sv->executed++;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), h.resp_size);
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	fill(tern_msg_data(m), h.resp_size, ~(h.seed ^ h.id));
	tern_respond(req, m);
}

static void srv_report(struct tern_req *req, void *ctx)
{
	struct server *sv = ctx;
	struct tern_stats st;
	struct report r;
	tern_ep_stats(sv->ep, &st);
	r.executed = sv->executed;
	r.dup_exec = sv->dup_exec;
	r.bad_req = sv->bad_req;
	r.msgs_in_use = st.msgs_in_use;
	r.cached = st.cached_responses;
	struct tern_msg *m = tern_msg_alloc(sv->ep, sizeof(r));
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	memcpy(tern_msg_data(m), &r, sizeof(r));
	tern_respond(req, m);
}

static void srv_session(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	struct server *sv = ctx;
	(void)s;
	(void)err;
	if (ev == TERN_SESSION_ACCEPTED)
		sv->sessions_seen++;
}

/* ------------------------------------------------------------------ */
/* client                                                             */
/* ------------------------------------------------------------------ */

struct client {
	struct tern_ep *ep;
	struct tern_session *s;
	const struct opts *o;
	uint8_t *done; /* completions per call id */
	long next, completed, failed, bad_resp, double_done;
	long st_reset, st_timeout, st_other, ok_after_reset; /* --reconnect */
	int sessions_lost;
	int in_flight;
	uint64_t rng;
	uint32_t dpp;
	uint64_t bytes;
	int errors_shown;
};

static uint64_t rnd(struct client *c)
{
	c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
	return mix(c->rng);
}

/* Sizes: mostly small, some large, a few exactly at packet boundaries. */
static size_t pick_size(struct client *c)
{
	uint64_t r = rnd(c);
	size_t max = (size_t)c->o->max_size;
	size_t dpp = c->dpp;
	size_t v;
	switch (r % 20) {
	case 0: /* a packet boundary: k*dpp - 1, k*dpp, k*dpp + 1 */
		v = dpp * (1 + (r >> 8) % 4) + ((r >> 16) % 3) - 1;
		break;
	case 1: /* large: up to max */
		v = 1 + (size_t)((r >> 8) % max);
		break;
	case 2:
	case 3:
	case 4: /* medium: up to 256 KiB */
		v = 1 + (size_t)((r >> 8) % (256 * 1024));
		break;
	default: /* small: up to 4 KiB */
		v = 1 + (size_t)((r >> 8) % 4096);
		break;
	}
	if (v > max)
		v = max;
	return v < 1 ? 1 : v;
}

static void issue(struct client *c);

struct call_ctx {
	struct client *c;
	uint64_t id;
	uint32_t resp_size;
	uint32_t req_size;
	uint64_t start_ns;
};

/* The slowest call, reported at the end (how close calls come to their
 * deadline under loss). */
static uint64_t slow_ns, slow_id;
static uint32_t slow_req, slow_resp;

static struct call_ctx *ctxs;

static void call_cont(const struct tern_result *res, void *arg)
{
	struct call_ctx *cc = arg;
	struct client *c = cc->c;
	c->in_flight--;
	uint64_t took = tern_now_ns() - cc->start_ns;
	if (took > slow_ns) {
		slow_ns = took;
		slow_id = cc->id;
		slow_req = cc->req_size;
		slow_resp = cc->resp_size;
	}
	if (c->done[cc->id] != 0)
		c->double_done++;
	c->done[cc->id]++;
	c->completed++;
	if (res->status == -ECONNRESET)
		c->st_reset++;
	else if (res->status == -ETIMEDOUT)
		c->st_timeout++;
	else if (res->status != 0)
		c->st_other++;
	else if (c->sessions_lost != 0)
		c->ok_after_reset++;
	if (res->status != 0) {
		c->failed++;
		if (c->errors_shown++ < 5)
			fprintf(stderr, "call %" PRIu64 " failed: %s\n", cc->id, strerror(-res->status));
	} else if (res->len != cc->resp_size || !check(res->data, res->len, ~(c->o->seed ^ cc->id))) {
		c->bad_resp++;
		if (c->errors_shown++ < 5)
			fprintf(stderr, "call %" PRIu64 ": bad response (%zu bytes, want %u)\n", cc->id,
				res->len, cc->resp_size);
	} else {
		c->bytes += res->len;
	}
	issue(c);
}

static void issue(struct client *c)
{
	while (c->in_flight < c->o->concurrency && c->next < c->o->count) {
		uint64_t id = (uint64_t)c->next;
		size_t size = pick_size(c);
		uint32_t resp = (uint32_t)pick_size(c);
		size_t len = sizeof(struct req_hdr) + size;
		if (len > (size_t)c->o->max_size)
			len = (size_t)c->o->max_size;
		struct tern_msg *m = tern_msg_alloc(c->ep, len);
		if (m == NULL) {
			fprintf(stderr, "tern_msg_alloc(%zu) failed\n", len);
			c->failed++;
			c->next = c->o->count;
			return;
		}
		struct req_hdr h = {.id = id, .seed = c->o->seed, .resp_size = resp};
		uint8_t *p = tern_msg_data(m);
		memcpy(p, &h, sizeof(h));
		fill(p + sizeof(h), len - sizeof(h), c->o->seed ^ id);
		struct call_ctx *cc = &ctxs[id];
		cc->c = c;
		cc->id = id;
		cc->resp_size = resp;
		cc->req_size = (uint32_t)len;
		cc->start_ns = tern_now_ns();
		unsigned flags = c->o->auto_reconnect ? TERN_CALL_IDEMPOTENT : 0;
		int rc = tern_call_ex(c->s, T_CALL, m, call_cont, cc, c->o->timeout_ms * 1000000ull,
				      flags);
		if (rc != 0) {
			tern_msg_free(m);
			if (rc == -EAGAIN)
				return; /* backlog full: try again from the next completion */
			if (c->o->reconnect && (rc == -ENOTCONN || rc == -ECANCELED))
				return; /* the session failed: issue again once reconnected */
			fprintf(stderr, "tern_call: %s\n", strerror(-rc));
			c->failed++;
			c->next = c->o->count;
			return;
		}
		c->next++;
		c->in_flight++;
	}
}

/* ------------------------------------------------------------------ */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void log_hook(void *ctx, int level, const char *msg)
{
	const struct opts *o = ctx;
	if (level <= TERN_LOG_WARN || !o->quiet)
		if (level <= TERN_LOG_INFO)
			fprintf(stderr, "tern: %s\n", msg);
}

static int make_ep(const struct opts *o, const char *bind, struct tern_ep **ep, void *sctx)
{
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.driver = o->driver;
	cfg.bind = bind;
	cfg.eal = o->eal;
	cfg.driver_args = o->dargs;
	cfg.faults = o->faults;
	cfg.log = log_hook;
	cfg.log_ctx = (void *)o;
	cfg.mtu = o->mtu;
	cfg.max_msg_size = (uint32_t)(o->max_size + 64 > (8 << 20) ? o->max_size + 64 : (8 << 20));
	if (o->rto_min_us != 0)
		cfg.rto_min_ns = o->rto_min_us * 1000;
	if (o->rto_max_us != 0)
		cfg.rto_max_ns = o->rto_max_us * 1000;
	/* The server checks that a closed session's state is freed: a
	 * DISCONNECT lost to injected faults leaves it to the idle timeout
	 * (3 x keepalive), so keep that short here (the defaults are minutes). */
	cfg.keepalive_ns = 1000000000ull;
	if (o->session_timeout_ms != 0) {
		cfg.session_timeout_ns = o->session_timeout_ms * 1000000ull;
		cfg.keepalive_ns = cfg.session_timeout_ns / 4;
	}
	if (o->credits != 0)
		cfg.credits = o->credits;
	cfg.psk_file = o->psk;
	cfg.protection = o->protection;
	cfg.call_timeout_ns = o->timeout_ms * 1000000ull;
	cfg.busy_poll = o->block ? 0 : 1;
	if (o->auto_reconnect)
		cfg.flags |= TERN_EP_RECONNECT;
	cfg.on_session = sctx != NULL ? srv_session : NULL;
	cfg.session_ctx = sctx;
	int rc = tern_ep_create(&cfg, ep);
	if (rc != 0)
		fprintf(stderr, "tern_ep_create(%s, %s): %s\n", o->driver, bind ? bind : "-", strerror(-rc));
	return rc;
}

static int server_init(const struct opts *o, struct server *sv, const char *bind)
{
	memset(sv, 0, sizeof(*sv));
	if (make_ep(o, bind, &sv->ep, sv) != 0)
		return -1;
	tern_handle(sv->ep, T_CALL, srv_call, sv, TERN_RRA);
	tern_handle(sv->ep, T_REPORT, srv_report, sv, TERN_RR);
	return 0;
}

#define FAIL_IF(cond, what)                                                              \
	do {                                                                             \
		if (cond) {                                                              \
			printf("CHECK FAILED: %s\n", what);                              \
			fails++;                                                         \
		}                                                                        \
	} while (0)

/* Poll the client (and the in-process server) until cond or the deadline. */
#define POLL_UNTIL(cond)                                                                 \
	do {                                                                             \
		while (!(cond) && tern_now_ns() < deadline && !stop) {                   \
			if (c.o->block && sv == NULL)                                    \
				tern_poll_wait(c.ep, 1000000);                           \
			else                                                             \
				tern_poll(c.ep);                                         \
			if (sv != NULL)                                                  \
				tern_poll(sv->ep);                                       \
		}                                                                        \
	} while (0)

static int run_client(const struct opts *o, struct server *sv)
{
	struct client c;
	int fails = 0;
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.rng = o->seed;
	uint64_t deadline = tern_now_ns() + o->deadline_s * 1000000000ull;
	struct opts co = *o;
	if (sv != NULL) { /* in-process: the client endpoint has its own address and queue */
		co.bind = o->client_bind != NULL ? o->client_bind : "127.0.0.1:0";
		if (o->client_dargs != NULL)
			co.dargs = o->client_dargs;
	}
	if (make_ep(&co, co.bind, &c.ep, NULL) != 0)
		return 2;
	c.dpp = tern_ep_data_per_pkt(c.ep);
	c.done = calloc((size_t)o->count + 1, 1);
	ctxs = calloc((size_t)o->count + 1, sizeof(*ctxs));
	if (c.done == NULL || ctxs == NULL)
		return 2;
	char peer[96];
	if (sv != NULL)
		tern_ep_addr(sv->ep, peer, sizeof(peer));
	else
		snprintf(peer, sizeof(peer), "%s", o->connect);
	int rc = tern_connect(c.ep, peer, &c.s);
	if (rc != 0) {
		fprintf(stderr, "tern_connect(%s): %s\n", peer, strerror(-rc));
		return 2;
	}
	POLL_UNTIL(tern_session_state(c.s) != TERN_SS_CONNECTING);
	if (tern_session_state(c.s) != TERN_SS_CONNECTED) {
		fprintf(stderr, "could not connect to %s\n", peer);
		return 2;
	}
	uint64_t t0 = tern_now_ns();
	issue(&c);
	POLL_UNTIL(c.completed == o->count && c.in_flight == 0);
	uint64_t t1 = tern_now_ns();

	/* The server's side of the story. */
	struct report rep;
	memset(&rep, 0, sizeof(rep));
	size_t rlen = 0;
	int rrc = -EIO;
	if (sv == NULL) {
		rrc = tern_call_sync(c.s, T_REPORT, NULL, 0, &rep, sizeof(rep), &rlen,
				     o->timeout_ms * 1000000ull);
	} else {
		rep.executed = sv->executed;
		rep.dup_exec = sv->dup_exec;
		rep.bad_req = sv->bad_req;
		rrc = 0;
		rlen = sizeof(rep);
	}

	/* Close, then check that every pool came back. */
	tern_session_close(c.s);
	struct tern_stats cst, sst;
	if (sv != NULL) {
		struct tern_stats tmp;
		POLL_UNTIL(tern_ep_stats(sv->ep, &tmp) == 0 && tmp.sessions_open == 0);
		/* Packets still in transit (held back by the faults decorator)
		 * keep their msgbufs referenced: let them drain, for at most 1 s. */
		uint64_t drained = tern_now_ns() + 1000000000ull;
		while (tern_now_ns() < drained && tern_ep_stats(sv->ep, &tmp) == 0 &&
		       tern_ep_stats(c.ep, &cst) == 0 && tmp.msgs_in_use + cst.msgs_in_use != 0) {
			tern_poll(c.ep);
			tern_poll(sv->ep);
		}
		tern_ep_stats(sv->ep, &sst);
	}
	tern_ep_stats(c.ep, &cst);

	double secs = (double)(t1 - t0) / 1e9;
	printf("calls %ld completed %ld failed %ld bad_resp %ld double_done %ld in %.2f s "
	       "(%.0f calls/s, %.1f MB/s responses)\n",
	       o->count, c.completed, c.failed, c.bad_resp, c.double_done, secs,
	       secs > 0 ? (double)c.completed / secs : 0, secs > 0 ? (double)c.bytes / secs / 1e6 : 0);
	printf("slowest call %" PRIu64 ": %.1f ms (request %u B, response %u B; deadline %" PRIu64 " ms)\n",
	       slow_id, (double)slow_ns / 1e6, slow_req, slow_resp, o->timeout_ms);
	printf("client: retransmits %" PRIu64 " rto %" PRIu64 " timeouts %" PRIu64
	       " drops(dup %" PRIu64 " stale %" PRIu64 " csum %" PRIu64 ") msgs_in_use %" PRIu64 "\n",
	       cst.retransmits, cst.rto_events, cst.calls_timeout, cst.drops[TERN_DROP_DUP],
	       cst.drops[TERN_DROP_STALE], cst.drops[TERN_DROP_CHECKSUM], cst.msgs_in_use);
	if (rrc == 0 && rlen == sizeof(rep))
		printf("server: executed %" PRIu64 " duplicate executions %" PRIu64 " bad requests %" PRIu64
		       "\n",
		       rep.executed, rep.dup_exec, rep.bad_req);
	else
		printf("server report failed: %s\n", strerror(-rrc));
	if (sv != NULL)
		printf("server: msgs_in_use %" PRIu64 " cached %" PRIu64 " sessions_open %" PRIu64
		       " requests_dup %" PRIu64 "\n",
		       sst.msgs_in_use, sst.cached_responses, sst.sessions_open, sst.requests_dup);

	FAIL_IF(c.completed != o->count, "every call completed");
	FAIL_IF(c.double_done != 0, "no call completed twice");
	for (long i = 0; i < o->count; i++)
		if (c.done[i] != 1) {
			FAIL_IF(1, "each call id completed exactly once");
			break;
		}
	FAIL_IF(!o->allow_errors && c.failed != 0, "no call failed");
	FAIL_IF(c.bad_resp != 0, "every response verified");
	FAIL_IF(rrc != 0 || rlen != sizeof(rep), "server report received");
	FAIL_IF(rep.dup_exec != 0, "no RRA request executed twice");
	FAIL_IF(rep.bad_req != 0, "every request verified by the server");
	FAIL_IF(!o->allow_errors && rep.executed != (uint64_t)o->count,
		"server executed every call exactly once");
	FAIL_IF(cst.msgs_in_use != 0, "client msgbuf pool back to its starting level");
	if (sv != NULL) {
		FAIL_IF(sst.sessions_open != 0, "server session freed after close");
		FAIL_IF(sst.msgs_in_use != 0, "server msgbuf pool back to its starting level");
		FAIL_IF(sst.cached_responses != 0, "no cached response left on the server");
	}
	if (o->stats) {
		char b[8192];
		tern_stats_format(&cst, b, sizeof(b));
		printf("client counters:\n%s", b);
		if (sv != NULL) {
			tern_stats_format(&sst, b, sizeof(b));
			printf("server counters:\n%s", b);
		}
	}
	tern_ep_destroy(c.ep);
	free(c.done);
	free(ctxs);
	printf("%s\n", fails == 0 ? "PASS" : "FAIL");
	return fails == 0 ? 0 : 1;
}

/*
 * --reconnect: a client that outlives server crashes. It keeps the load
 * going; when the session fails it reopens one. Every call must end exactly
 * once, with success, -ECONNRESET (in flight when the server died: outcome
 * unknown, never silently retried) or -ETIMEDOUT (the server was down past
 * the call's deadline) — nothing else, and never a hang. With
 * --auto-reconnect the library reopens the session itself and re-issues the
 * calls marked idempotent, so none should fail with -ECONNRESET.
 */
static int run_crash_client(const struct opts *o)
{
	struct client c;
	struct server *sv = NULL; /* for POLL_UNTIL */
	int fails = 0;
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.rng = o->seed;
	uint64_t deadline = tern_now_ns() + o->deadline_s * 1000000000ull;
	if (make_ep(o, o->bind, &c.ep, NULL) != 0)
		return 2;
	c.dpp = tern_ep_data_per_pkt(c.ep);
	c.done = calloc((size_t)o->count + 1, 1);
	ctxs = calloc((size_t)o->count + 1, sizeof(*ctxs));
	if (c.done == NULL || ctxs == NULL || tern_connect(c.ep, o->connect, &c.s) != 0)
		return 2;
	uint64_t next_report = tern_now_ns() + 1000000000ull;
	while (!(c.completed == o->count && c.in_flight == 0) && tern_now_ns() < deadline && !stop) {
		if (o->block)
			tern_poll_wait(c.ep, 1000000);
		else
			tern_poll(c.ep);
		if (tern_session_state(c.s) == TERN_SS_FAILED) {
			/* The server crashed or restarted: open a fresh session. */
			tern_session_close(c.s);
			c.sessions_lost++;
			if (tern_connect(c.ep, o->connect, &c.s) != 0)
				return 2;
		}
		if (tern_session_state(c.s) == TERN_SS_CONNECTED || o->auto_reconnect)
			issue(&c);
		if (!o->quiet && tern_now_ns() >= next_report) {
			fprintf(stderr, "progress: ended %ld ok %ld reset %ld timeout %ld sessions lost %d\n",
				c.completed, c.completed - c.failed, c.st_reset, c.st_timeout, c.sessions_lost);
			next_report += 1000000000ull;
		}
	}
	tern_session_close(c.s);
	POLL_UNTIL(c.in_flight == 0);
	struct tern_stats st;
	tern_ep_stats(c.ep, &st);
	printf("calls %ld ended %ld ok %ld reset %ld timeout %ld other %ld bad_resp %ld double %ld "
	       "sessions_lost %d ok_after_reset %ld client_resets_rx %" PRIu64 "\n",
	       o->count, c.completed, c.completed - c.failed, c.st_reset, c.st_timeout, c.st_other,
	       c.bad_resp, c.double_done, c.sessions_lost, c.ok_after_reset, st.resets_rx);
	FAIL_IF(c.completed != o->count, "every call ended (no hang)");
	FAIL_IF(c.double_done != 0, "no call ended twice");
	FAIL_IF(c.st_other != 0, "only success, -ECONNRESET or -ETIMEDOUT");
	FAIL_IF(c.bad_resp != 0, "every response verified");
	FAIL_IF(st.msgs_in_use != 0, "client pool back to its starting level");
	if (o->auto_reconnect) {
		FAIL_IF(c.st_reset != 0, "idempotent calls re-issued, not failed");
		FAIL_IF(st.resets_rx == 0, "a RESET was seen");
	} else if (o->expect_reset) {
		FAIL_IF(c.st_reset == 0, "in-flight calls failed with -ECONNRESET");
		FAIL_IF(c.sessions_lost == 0, "the session was lost");
		FAIL_IF(c.ok_after_reset == 0, "calls succeed on a new session");
	}
	tern_ep_destroy(c.ep);
	free(c.done);
	free(ctxs);
	printf("%s\n", fails == 0 ? "PASS" : "FAIL");
	return fails == 0 ? 0 : 1;
}

static int run_server(const struct opts *o)
{
	struct server sv;
	if (server_init(o, &sv, o->bind) != 0)
		return 2;
	char addr[96];
	printf("listening %s\n", tern_ep_addr(sv.ep, addr, sizeof(addr)));
	fflush(stdout);
	uint64_t deadline = tern_now_ns() + o->deadline_s * 1000000000ull;
	int rc = 0;
	while (!stop && tern_now_ns() < deadline) {
		if (o->block)
			tern_poll_wait(sv.ep, 10000000);
		else
			tern_poll(sv.ep);
		if (o->exit_when_idle && sv.sessions_seen != 0) {
			struct tern_stats st;
			tern_ep_stats(sv.ep, &st);
			if (st.sessions_open == 0) {
				/* Let packets in transit (the faults decorator's) drain. */
				uint64_t drained = tern_now_ns() + 1000000000ull;
				while (st.msgs_in_use != 0 && tern_now_ns() < drained) {
					tern_poll(sv.ep);
					tern_ep_stats(sv.ep, &st);
				}
				printf("server idle: executed %" PRIu64 " dup_exec %" PRIu64
				       " msgs_in_use %" PRIu64 " cached %" PRIu64 "\n",
				       sv.executed, sv.dup_exec, st.msgs_in_use, st.cached_responses);
				rc = (st.msgs_in_use == 0 && st.cached_responses == 0 && sv.dup_exec == 0) ? 0 : 1;
				break;
			}
		}
	}
	struct tern_stats st;
	char buf[4096];
	tern_ep_stats(sv.ep, &st);
	tern_stats_format(&st, buf, sizeof(buf));
	if (!o->quiet)
		printf("%s", buf);
	tern_ep_destroy(sv.ep);
	free(sv.exec);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tern-stress both|server|client --driver NAME [--bind A] [--connect A]\n"
		   "  [--eal ARGS] [--driver-args KV] [--faults KV] [--count N] [--max-size B]\n"
		   "  [--concurrency N] [--seed S] [--timeout-ms MS] [--deadline-s S] [--mtu N]\n"
		   "  [--rto-min-us US] [--rto-max-us US] [--session-timeout-ms MS] [--credits N] [--exit-when-idle]\n"
		   "  [--allow-errors] [--quiet] [--client-bind A] [--client-driver-args KV]\n"
		   "  [--reconnect [--expect-reset] | --auto-reconnect] [--stats] [--block]\n"
		   "  [--psk FILE [--protection none|integrity|privacy]]\n");
}

int main(int argc, char **argv)
{
	struct opts o = {
		.driver = "loop", .count = 1000, .max_size = 1 << 20, .concurrency = 8, .seed = 1,
		.timeout_ms = 20000, .deadline_s = 300,
	};
	static const struct option lo[] = {
		{"driver", 1, 0, 'd'}, {"bind", 1, 0, 'b'}, {"connect", 1, 0, 'c'},
		{"eal", 1, 0, 'e'}, {"driver-args", 1, 0, 'a'}, {"faults", 1, 0, 'f'},
		{"count", 1, 0, 'n'}, {"max-size", 1, 0, 'm'}, {"concurrency", 1, 0, 'C'},
		{"seed", 1, 0, 's'}, {"timeout-ms", 1, 0, 't'}, {"deadline-s", 1, 0, 'D'},
		{"exit-when-idle", 0, 0, 'x'}, {"quiet", 0, 0, 'q'}, {"allow-errors", 0, 0, 'E'},
		{"mtu", 1, 0, 'M'}, {"rto-min-us", 1, 0, 'r'}, {"session-timeout-ms", 1, 0, 'S'},
		{"credits", 1, 0, 'R'}, {"client-bind", 1, 0, 'B'}, {"client-driver-args", 1, 0, 'A'},
		{"reconnect", 0, 0, 'K'}, {"auto-reconnect", 0, 0, 'U'}, {"expect-reset", 0, 0, 'X'},
		{"stats", 0, 0, 'T'}, {"block", 0, 0, 'Y'}, {"rto-max-us", 1, 0, 'Z'}, {"psk", 1, 0, 'P'},
		{"protection", 1, 0, 'L'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0},
	};
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	o.mode = argv[1];
	optind = 2;
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'd': o.driver = optarg; break;
		case 'b': o.bind = optarg; break;
		case 'c': o.connect = optarg; break;
		case 'e': o.eal = optarg; break;
		case 'a': o.dargs = optarg; break;
		case 'f': o.faults = optarg; break;
		case 'n': o.count = strtol(optarg, NULL, 0); break;
		case 'm': o.max_size = strtol(optarg, NULL, 0); break;
		case 'C': o.concurrency = (int)strtol(optarg, NULL, 0); break;
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		case 't': o.timeout_ms = strtoull(optarg, NULL, 0); break;
		case 'D': o.deadline_s = strtoull(optarg, NULL, 0); break;
		case 'x': o.exit_when_idle = 1; break;
		case 'q': o.quiet = 1; break;
		case 'E': o.allow_errors = 1; break;
		case 'M': o.mtu = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'r': o.rto_min_us = strtoull(optarg, NULL, 0); break;
		case 'S': o.session_timeout_ms = strtoull(optarg, NULL, 0); break;
		case 'R': o.credits = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'B': o.client_bind = optarg; break;
		case 'K': o.reconnect = 1; break;
		case 'U': o.auto_reconnect = o.reconnect = 1; break;
		case 'X': o.expect_reset = 1; break;
		case 'T': o.stats = 1; break;
		case 'Y': o.block = 1; break;
		case 'Z': o.rto_max_us = strtoull(optarg, NULL, 0); break;
		case 'A': o.client_dargs = optarg; break;
		case 'P': o.psk = optarg; break;
		case 'L':
			if (strcmp(optarg, "none") == 0)
				o.protection = TERN_PROT_NONE;
			else if (strcmp(optarg, "integrity") == 0)
				o.protection = TERN_PROT_INTEGRITY;
			else if (strcmp(optarg, "privacy") == 0)
				o.protection = TERN_PROT_PRIVACY;
			else {
				usage(stderr);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.count < 1 || o.max_size < (long)sizeof(struct req_hdr) || o.concurrency < 1) {
		usage(stderr);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (strcmp(o.mode, "server") == 0)
		return run_server(&o);
	if (strcmp(o.mode, "client") == 0) {
		if (o.connect == NULL) {
			usage(stderr);
			return 2;
		}
		return o.reconnect ? run_crash_client(&o) : run_client(&o, NULL);
	}
	if (strcmp(o.mode, "both") == 0) {
		struct server sv;
		if (server_init(&o, &sv, o.bind != NULL ? o.bind : "127.0.0.1:0") != 0)
			return 2;
		int rc = run_client(&o, &sv);
		tern_ep_destroy(sv.ep);
		free(sv.exec);
		return rc;
	}
	usage(stderr);
	return 2;
}
