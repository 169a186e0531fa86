/*
 * fuzz_fixture.c — see fuzz_fixture.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_fixture.h"

static struct fz_call calls[FZ_MAX_CALLS];
static unsigned ncalls;

void fz_config(struct tern_ep_config *cfg, uint32_t mtu, uint64_t connect_timeout_ns)
{
	inj_config(cfg);
	cfg->mtu = mtu;
	cfg->slots = 4;
	cfg->credits = 8;
	cfg->max_sessions = 8;
	cfg->max_msg_size = 1u << 16;
	cfg->mem_limit = 16u << 20;
	cfg->backlog_limit = 16;
	cfg->server_queue_limit = 8;
	cfg->max_retries = 4;
	cfg->call_timeout_ns = 500 * FZ_MS;
	cfg->connect_timeout_ns = connect_timeout_ns;
	cfg->keepalive_ns = 20 * FZ_MS;
	cfg->session_timeout_ns = 100 * FZ_MS;
}

struct fz_call *fz_issue(struct tern_ep *ep, struct tern_session *s, size_t len, int oneway,
			 unsigned flags, tern_cont_fn cont)
{
	if (s == NULL || ncalls == FZ_MAX_CALLS)
		return NULL;
	struct tern_msg *m = tern_msg_alloc(ep, len);
	if (m == NULL)
		return NULL;
	inj_fill(tern_msg_data(m), len, (uint32_t)len);
	struct fz_call *c = &calls[ncalls];
	memset(c, 0, sizeof(*c));
	c->s = s;
	int rc = oneway ? tern_send(s, 4, m, cont, c, 0) : tern_call_ex(s, 1, m, cont, c, 0, flags);
	if (rc != 0) {
		tern_msg_free(m);
		return NULL;
	}
	ncalls++;
	return c;
}

void fz_call_done(struct fz_call *c)
{
	if (++c->done > 1)
		__builtin_trap(); /* a second continuation for one call */
}

void fz_calls_finish(void)
{
	for (unsigned i = 0; i < ncalls; i++)
		if (calls[i].done != 1)
			__builtin_trap(); /* an accepted call without its continuation */
	ncalls = 0;
}

int fz_trace(void)
{
	static int trace = -1;
	if (trace < 0)
		trace = getenv("TERN_FUZZ_TRACE") != NULL;
	return trace;
}

void fz_trace_stats(struct tern_ep *ep)
{
	char buf[4096];
	struct tern_stats st;
	if (!fz_trace() || ep == NULL)
		return;
	tern_ep_stats(ep, &st);
	tern_stats_format(&st, buf, sizeof(buf));
	fprintf(stderr, "%s", buf);
}
