/*
 * server.c — the echo server: request type 1 (TERN_RRA) and 2 (TERN_RR)
 * answer with the request's bytes at the size the client asked for (or
 * --resp-size), type 3 (TERN_R) is a sink. Handlers answer at once, inside
 * tern_poll(), like an in-memory service would.
 *
 * The loop polls until SIGINT/SIGTERM (or --duration): spinning with
 * --busy-poll 1, else sleeping in tern_poll_wait(), which the driver wakes
 * when a packet arrives.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "payload.h"
#include "perf.h"

#define WAIT_NS        (10 * PERF_NS_PER_MS) /* --busy-poll 0: longest sleep before rechecking signals */
#define CLOCK_EVERY    1024u                 /* busy polls between clock reads (--duration) */

/* The response size: the server's --resp-size, else the header's, else an echo. */
static size_t resp_len(const struct perf_opts *o, const void *req, size_t len)
{
	struct perf_hdr h;
	if (o->srv_resp_size != 0)
		return o->srv_resp_size;
	if (perf_req_parse(req, len, &h))
		return h.resp_size;
	return len;
}

static void on_echo(struct tern_req *req, void *ctx)
{
	struct perf_worker *w = ctx;
	struct perf_srv_counts *c = &w->srv_counts;
	const void *data = tern_req_data(req);
	size_t len = tern_req_len(req);
	c->requests[tern_req_type(req) == PERF_TYPE_RR ? PERF_TYPE_RR : PERF_TYPE_RRA]++;
	c->rx_bytes += len;
	size_t rlen = resp_len(w->o, data, len);
	if (rlen > w->o->max_msg) { /* a client asking for more than we carry */
		c->respond_fail++;
		(void)tern_respond_error(req, -EMSGSIZE);
		return;
	}
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), rlen);
	if (m == NULL) {
		c->alloc_fail++;
		(void)tern_respond_error(req, -ENOMEM);
		return;
	}
	perf_resp_build(tern_msg_data(m), rlen, data, len);
	if (tern_respond(req, m) == 0)
		c->tx_bytes += rlen;
	else
		c->respond_fail++;
}

static void on_sink(struct tern_req *req, void *ctx)
{
	struct perf_worker *w = ctx;
	w->srv_counts.requests[PERF_TYPE_ONEWAY]++;
	w->srv_counts.rx_bytes += tern_req_len(req);
}

int perf_server_handlers(struct perf_worker *w, struct tern_ep *ep)
{
	int rc = tern_handle(ep, PERF_TYPE_RRA, on_echo, w, TERN_RRA);
	if (rc == 0)
		rc = tern_handle(ep, PERF_TYPE_RR, on_echo, w, TERN_RR);
	if (rc == 0)
		rc = tern_handle(ep, PERF_TYPE_ONEWAY, on_sink, w, TERN_R);
	if (rc != 0) {
		fprintf(stderr, "tern-perf: tern_handle: %s\n", strerror(-rc));
		return PERF_EXIT_SETUP;
	}
	return 0;
}

int perf_server_setup(struct perf_worker *w)
{
	struct tern_ep_config cfg;
	perf_ep_config(w->o, &cfg, w->bind, w->id, w);
	int rc = tern_ep_create(&cfg, &w->ep);
	if (rc != 0) {
		fprintf(stderr, "tern-perf: cannot create the %s server endpoint on %s: %s\n",
			w->o->driver, w->bind, strerror(-rc));
		if (rc == -ENOENT)
			fprintf(stderr, "tern-perf: drivers built into libtern: %s\n", tern_drivers());
		return PERF_EXIT_SETUP;
	}
	tern_ep_addr(w->ep, w->addr, sizeof(w->addr));
	return perf_server_handlers(w, w->ep);
}

void perf_server_run(struct perf_worker *w)
{
	const struct perf_opts *o = w->o;
	uint64_t end = o->duration_ns != 0 ? tern_now_ns() + o->duration_ns : UINT64_MAX;
	unsigned iter = 0;
	while (perf_signals == 0 && atomic_load_explicit(&perf_go, memory_order_relaxed) >= 0) {
		if (o->busy_poll) {
			(void)tern_poll(w->ep);
			if (++iter % CLOCK_EVERY != 0)
				continue;
		} else {
			(void)tern_poll_wait(w->ep, WAIT_NS);
		}
		if (end != UINT64_MAX && tern_now_ns() >= end)
			break;
	}
}

void perf_server_teardown(struct perf_worker *w)
{
	if (w->ep == NULL)
		return;
	tern_ep_stats(w->ep, &w->srv_stats);
	tern_ep_destroy(w->ep);
	w->ep = NULL;
}
