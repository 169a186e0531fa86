/*
 * server.c — tern-incast's server: one endpoint (wrapped in the faults
 * decorator's bottleneck link when --link is given) whose handler takes a
 * write of any size and answers with its 8-byte sequence number.
 *
 * It also checks at-most-once execution: every request carries (sender,
 * seq), and a bitmap per sender says which ran; a second run of the same
 * pair is counted in executed_twice.
 *
 * Bytes delivered per sender: before the run each sender names its session
 * with a hello call (INC_HELLO_TYPE); a mark call (INC_MARK_TYPE) is
 * answered with the server's clock and, for each sender, the request bytes
 * received on its session so far (tern_session_rx_bytes(): each packet
 * once, when taken into its call, complete or not). The clients send one
 * mark at each end of their window; the differences are what each sender
 * got through the bottleneck in it. The link's counters come from the line
 * the faults driver logs when the endpoint is destroyed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incast.h"

struct seen {
	uint64_t *bits;
	uint64_t words;
};

struct inc_server {
	const struct inc_opts *o;
	struct tern_ep *ep;
	char faults[512];
	struct seen seen[INC_MAX_SENDERS + 1];
	struct tern_session *sess[INC_MAX_SENDERS + 1]; /* each sender's (hello); NULL: none */
	struct inc_server_res res;
};

/* Mark (id, seq) executed: false if it already was. */
static bool seen_set(struct inc_server *sv, uint32_t id, uint64_t seq)
{
	struct seen *s = &sv->seen[id];
	uint64_t w = seq / 64;
	if (w >= s->words) {
		uint64_t n = s->words != 0 ? s->words : 64;
		while (n <= w)
			n *= 2;
		uint64_t *b = realloc(s->bits, n * sizeof(*b));
		if (b == NULL)
			return true; /* cannot tell: do not claim a duplicate */
		memset(b + s->words, 0, (n - s->words) * sizeof(*b));
		s->bits = b;
		s->words = n;
	}
	uint64_t m = 1ull << (seq % 64);
	bool was = (s->bits[w] & m) != 0;
	s->bits[w] |= m;
	return !was;
}

/* The request header (sender id, magic, seq); false (answered -EINVAL) if malformed. */
static bool parse_hdr(struct inc_server *sv, struct tern_req *req, uint32_t *id, uint64_t *seq)
{
	const uint8_t *d = tern_req_data(req);
	uint32_t magic;

	if (tern_req_len(req) >= INC_HDR_LEN) {
		memcpy(id, d, 4);
		memcpy(&magic, d + 4, 4);
		memcpy(seq, d + 8, 8);
		if (magic == INC_MAGIC && *id <= INC_MAX_SENDERS)
			return true;
	}
	sv->res.bad_requests++;
	tern_respond_error(req, -EINVAL);
	return false;
}

static void answer_seq(struct tern_req *req, uint64_t seq)
{
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), INC_RESP_LEN);
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	memcpy(tern_msg_data(m), &seq, 8);
	tern_respond(req, m);
}

static void on_write(struct tern_req *req, void *ctx)
{
	struct inc_server *sv = ctx;
	uint32_t id;
	uint64_t seq;

	if (!parse_hdr(sv, req, &id, &seq))
		return;
	sv->res.executed++;
	if (!seen_set(sv, id, seq))
		sv->res.executed_twice++;
	answer_seq(req, seq);
}

/* A sender names its session: the marks report what came on it. */
static void on_hello(struct tern_req *req, void *ctx)
{
	struct inc_server *sv = ctx;
	uint32_t id;
	uint64_t seq;

	if (!parse_hdr(sv, req, &id, &seq))
		return;
	sv->sess[id] = tern_req_session(req);
	answer_seq(req, seq);
}

/* A session that ends is forgotten (its handle is freed after this). */
static void on_session(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	struct inc_server *sv = ctx;
	(void)err;
	if (ev != TERN_SESSION_RESET && ev != TERN_SESSION_DEAD && ev != TERN_SESSION_CLOSED)
		return;
	for (unsigned i = 0; i <= INC_MAX_SENDERS; i++)
		if (sv->sess[i] == s)
			sv->sess[i] = NULL;
}

/* A window mark: the clock, and what each of the first n senders' sessions
 * received so far. */
static void on_mark(struct tern_req *req, void *ctx)
{
	struct inc_server *sv = ctx;
	uint64_t v[2], n;
	struct tern_msg *m;

	if (tern_req_len(req) != INC_MARK_REQ_LEN) {
		sv->res.bad_requests++;
		tern_respond_error(req, -EINVAL);
		return;
	}
	memcpy(&n, tern_req_data(req), 8);
	if (n > INC_MAX_SENDERS + 1) {
		sv->res.bad_requests++;
		tern_respond_error(req, -EINVAL);
		return;
	}
	m = tern_msg_alloc(tern_req_ep(req), INC_MARK_HDR + n * 8);
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	uint8_t *d = tern_msg_data(m);
	v[0] = tern_now_ns();
	v[1] = n;
	memcpy(d, v, sizeof(v));
	for (uint64_t i = 0; i < n; i++) {
		uint64_t b = sv->sess[i] != NULL ? tern_session_rx_bytes(sv->sess[i]) : UINT64_MAX;
		memcpy(d + INC_MARK_HDR + i * 8, &b, 8);
	}
	tern_respond(req, m);
}

static uint64_t field(const char *msg, const char *key)
{
	const char *p = strstr(msg, key);
	return p != NULL ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* The faults driver's close-time line carries the link's counters. */
static void on_log(void *ctx, int level, const char *msg)
{
	struct inc_server *sv = ctx;
	struct inc_server_res *r = &sv->res;
	if (strncmp(msg, "faults: link rx: arrived ", 25) == 0) {
		r->have_link = true;
		r->link_arrived = field(msg, "arrived ");
		r->link_dropped = field(msg, "dropped ");
		r->link_nobuf = field(msg, "nobuf ");
		r->link_delivered = field(msg, "delivered ");
		r->link_wire_bytes = field(msg, "wire_bytes ");
		r->link_peak_pkts = field(msg, "peak_pkts ");
		r->link_peak_bytes = field(msg, "peak_bytes ");
		r->link_sojourn_mean_ns = field(msg, "sojourn_mean_ns ");
		r->link_sojourn_max_ns = field(msg, "sojourn_max_ns ");
		return;
	}
	if (level <= TERN_LOG_WARN || (!sv->o->quiet && strncmp(msg, "faults: link", 12) == 0))
		fprintf(stderr, "tern-incast server: %s\n", msg);
}

int inc_server_create(const struct inc_opts *o, struct inc_server **out, char *addr,
		      size_t addr_len)
{
	struct inc_server *sv = calloc(1, sizeof(*sv));
	struct tern_ep_config cfg;
	int rc;

	if (sv == NULL)
		return -ENOMEM;
	sv->o = o;
	tern_ep_config_init(&cfg);
	cfg.driver = o->driver;
	cfg.bind = o->bind;
	cfg.driver_args = o->server_args;
	if (o->link != NULL) {
		snprintf(sv->faults, sizeof(sv->faults), "%s", o->link);
		cfg.faults = sv->faults;
	}
	cfg.max_sessions = o->senders + 64 > 256 ? o->senders + 64 : 256;
	cfg.rto_min_ns = o->rto_min_ns;
	cfg.rto_max_ns = o->rto_max_ns;
	cfg.log = on_log;
	cfg.log_ctx = sv;
	cfg.on_session = on_session;
	cfg.session_ctx = sv;
	rc = tern_ep_create(&cfg, &sv->ep);
	if (rc != 0) {
		free(sv);
		return rc;
	}
	rc = tern_handle(sv->ep, INC_REQ_TYPE, on_write, sv, TERN_RRA);
	if (rc == 0)
		rc = tern_handle(sv->ep, INC_MARK_TYPE, on_mark, sv, TERN_RRA);
	if (rc == 0)
		rc = tern_handle(sv->ep, INC_HELLO_TYPE, on_hello, sv, TERN_RRA);
	if (rc != 0) {
		tern_ep_destroy(sv->ep);
		free(sv);
		return rc;
	}
	if (addr != NULL)
		tern_ep_addr(sv->ep, addr, addr_len);
	*out = sv;
	return 0;
}

struct tern_ep *inc_server_ep(struct inc_server *sv)
{
	return sv->ep;
}

void inc_server_run(struct inc_server *sv, _Atomic int *stop, uint64_t until_ns)
{
	uint64_t t0 = tern_now_ns(), c0 = inc_thread_cpu_ns(), udp0 = inc_udp_rcvbuf_errors();
	for (unsigned i = 0;; i++) {
		(void)tern_poll(sv->ep);
		if (i % 256 != 0)
			continue;
		if (stop != NULL ? atomic_load(stop) != 0 : inc_signals != 0)
			break;
		if (until_ns != 0 && tern_now_ns() >= until_ns)
			break;
	}
	uint64_t wall = tern_now_ns() - t0;
	sv->res.cpu = wall != 0 ? (double)(inc_thread_cpu_ns() - c0) / (double)wall : 0;
	uint64_t udp1 = inc_udp_rcvbuf_errors();
	sv->res.udp_rcvbuf_errors = udp0 != UINT64_MAX && udp1 != UINT64_MAX ? udp1 - udp0 : UINT64_MAX;
}

void inc_server_destroy(struct inc_server *sv, struct inc_server_res *res)
{
	tern_ep_stats(sv->ep, &sv->res.st);
	tern_ep_destroy(sv->ep); /* the link logs its counters here */
	for (unsigned i = 0; i <= INC_MAX_SENDERS; i++)
		free(sv->seen[i].bits);
	*res = sv->res;
	free(sv);
}
