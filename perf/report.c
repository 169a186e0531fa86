/*
 * report.c — what tern-perf prints: the progress line (stderr, about once a
 * second on runs longer than ~3 s), the client's result block or JSON object
 * (stdout), the server's counters (stdout), error summaries (stderr).
 *
 * Threads publish their progress through relaxed atomics once a second;
 * thread 0 prints the line, so no extra thread wakes up beside the pollers.
 * Final results are merged after the threads are joined.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

#define PROGRESS_MIN_RUN_NS (3 * PERF_NS_PER_S)

const char *perf_errname(int err)
{
	static _Thread_local char buf[16];
	const char *name = err < 0 ? strerrorname_np(-err) : NULL;
	if (name != NULL)
		return name;
	snprintf(buf, sizeof(buf), "E%d", -err);
	return buf;
}

void perf_progress_publish(struct perf_worker *w)
{
	atomic_store_explicit(&w->pub_ok, w->res.ok, memory_order_relaxed);
	atomic_store_explicit(&w->pub_errors, w->res.errors, memory_order_relaxed);
	atomic_store_explicit(&w->pub_p50, hist_quantile(&w->res.hist, 0.5), memory_order_relaxed);
}

/* Will this run last long enough to deserve a progress line? */
static bool long_run(const struct perf_opts *o, uint64_t elapsed, uint64_t done)
{
	if (o->duration_ns != 0)
		return o->duration_ns > PROGRESS_MIN_RUN_NS;
	if (done == 0)
		return elapsed > PROGRESS_MIN_RUN_NS;
	return (double)elapsed * (double)o->count / (double)done > (double)PROGRESS_MIN_RUN_NS;
}

void perf_progress_tick(struct perf_worker *w, uint64_t now)
{
	const struct perf_opts *o = w->o;
	w->prog_next = now + PERF_NS_PER_S;
	perf_progress_publish(w);
	if (w->id != 0 || o->quiet || o->json)
		return;
	uint64_t ok = 0, errors = 0, p50 = 0;
	for (unsigned i = 0; i < perf_nworkers; i++) {
		struct perf_worker *x = &perf_workers[i];
		ok += atomic_load_explicit(&x->pub_ok, memory_order_relaxed);
		errors += atomic_load_explicit(&x->pub_errors, memory_order_relaxed);
		uint64_t v = atomic_load_explicit(&x->pub_p50, memory_order_relaxed);
		p50 = v > p50 ? v : p50;
	}
	uint64_t elapsed = now - w->res.t_start;
	if (!long_run(o, elapsed, ok + errors))
		return;
	double rate = (double)(ok - w->prog_last_n) * 1e9 / (double)(now - w->prog_last_t);
	w->prog_last_n = ok;
	w->prog_last_t = now;
	fprintf(stderr, "tern-perf: %6.1f s %12" PRIu64 " calls %11.0f calls/s  p50 %8.2f us%s  errors %" PRIu64 "\n",
		(double)elapsed / 1e9, ok, rate, (double)p50 / 1e3,
		perf_nworkers > 1 ? " (slowest thread)" : "", errors);
}

/* --- the client's result ---------------------------------------------------------- */

static void merge(struct perf_result *t, const struct perf_worker *ws, unsigned n)
{
	memset(t, 0, sizeof(*t));
	hist_init(&t->hist);
	t->t_start = UINT64_MAX;
	for (unsigned i = 0; i < n; i++) {
		const struct perf_result *r = &ws[i].res;
		hist_merge(&t->hist, &r->hist);
		t->ok += r->ok;
		t->errors += r->errors;
		t->verify_fail += r->verify_fail;
		t->payload_bytes += r->payload_bytes;
		t->aborted |= r->aborted;
		for (unsigned e = 0; e < PERF_ERRNO_MAX; e++)
			t->by_errno[e] += r->by_errno[e];
		/* The measured window spans every thread's: rates are not overstated. */
		if (r->ok != 0 && r->t_start < t->t_start)
			t->t_start = r->t_start;
		if (r->ok != 0 && r->t_end > t->t_end)
			t->t_end = r->t_end;
	}
	if (t->t_start == UINT64_MAX)
		t->t_start = t->t_end = 0;
}

static const char *mode_name(enum perf_type t)
{
	return t == PERF_TYPE_RR ? "rr" : t == PERF_TYPE_ONEWAY ? "oneway" : "rra";
}

/* s as a JSON string body (driver names and addresses come from the user). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct figures {
	double elapsed_s, calls_per_s, gbps;
	double mean_us, min_us, p50_us, p99_us, p999_us, max_us;
};

static void figures(const struct perf_result *t, struct figures *f)
{
	const struct hist *h = &t->hist;
	f->elapsed_s = (double)(t->t_end - t->t_start) / 1e9;
	f->calls_per_s = f->elapsed_s > 0 ? (double)t->ok / f->elapsed_s : 0;
	f->gbps = f->elapsed_s > 0 ? (double)t->payload_bytes * 8 / f->elapsed_s / 1e9 : 0;
	f->mean_us = hist_mean(h) / 1e3;
	f->min_us = h->count != 0 ? (double)h->min / 1e3 : 0;
	f->p50_us = (double)hist_quantile(h, 0.50) / 1e3;
	f->p99_us = (double)hist_quantile(h, 0.99) / 1e3;
	f->p999_us = (double)hist_quantile(h, 0.999) / 1e3;
	f->max_us = h->count != 0 ? (double)h->max / 1e3 : 0;
}

static void print_json(const struct perf_opts *o, const struct perf_result *t, const struct figures *f)
{
	printf("{\"driver\": ");
	json_str(stdout, o->driver);
	printf(", \"mode\": \"%s\", \"size\": %u, \"resp_size\": %u, \"concurrency\": %u, "
	       "\"sessions\": %u, \"threads\": %u, \"count\": %" PRIu64 ", \"warmup\": %" PRIu64 ", "
	       "\"errors\": %" PRIu64 ", \"verify_failures\": %" PRIu64 ", \"aborted\": %s, "
	       "\"interrupted\": %s, "
	       "\"elapsed_s\": %.6f, \"calls_per_s\": %.1f, \"gbps\": %.6f, \"mean_us\": %.3f, "
	       "\"min_us\": %.3f, \"p50_us\": %.3f, \"p99_us\": %.3f, \"p999_us\": %.3f, "
	       "\"max_us\": %.3f}\n",
	       mode_name(o->type), o->size, o->type == PERF_TYPE_ONEWAY ? 0 : o->resp_size,
	       o->concurrency, o->sessions, o->threads, t->ok, o->warmup, t->errors, t->verify_fail,
	       t->aborted ? "true" : "false", perf_signals != 0 ? "true" : "false", f->elapsed_s, f->calls_per_s, f->gbps, f->mean_us,
	       f->min_us, f->p50_us, f->p99_us, f->p999_us, f->max_us);
}

static void print_block(const struct perf_opts *o, const struct perf_result *t, const struct figures *f)
{
	printf("tern-perf %s: driver %s%s%s, mode %s\n", o->cmd_name, o->driver,
	       o->connect != NULL ? ", server " : "", o->connect != NULL ? o->connect : "",
	       mode_name(o->type));
	if (o->type == PERF_TYPE_ONEWAY)
		printf("  size         %u B request, no response\n", o->size);
	else
		printf("  size         %u B request, %u B response\n", o->size, o->resp_size);
	printf("  concurrency  %u (%u session%s, %u thread%s)\n", o->concurrency * o->threads,
	       o->sessions * o->threads, o->sessions * o->threads > 1 ? "s" : "", o->threads,
	       o->threads > 1 ? "s" : "");
	printf("  count        %" PRIu64 " (after %" PRIu64 " warmup call%s per thread)\n", t->ok,
	       o->warmup, o->warmup != 1 ? "s" : "");
	printf("  errors       %" PRIu64 "%s%s\n", t->errors, t->aborted ? " (run cut short)" : "",
	       perf_signals != 0 ? " (interrupted)" : "");
	printf("  elapsed      %.3f s\n", f->elapsed_s);
	printf("  calls/s      %.0f\n", f->calls_per_s);
	printf("  Gbit/s       %.3f (payload, %s)\n", f->gbps,
	       o->type == PERF_TYPE_ONEWAY ? "requests" : "requests + responses");
	printf("  RTT us       p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  mean %.2f\n", f->p50_us,
	       f->p99_us, f->p999_us, f->max_us, f->mean_us);
}

/* The latency CDF: "latency_us cumulative_fraction" per histogram bucket. */
static int write_cdf(const char *path, const struct hist *h)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS && h->count != 0; i++) {
		if (h->b[i] == 0)
			continue;
		seen += h->b[i];
		fprintf(f, "%.3f %.6f\n", (double)hist_bucket_low(i) / 1e3, (double)seen / (double)h->count);
	}
	return fclose(f) == 0 ? 0 : -1;
}

static void print_error_summary(const struct perf_result *t)
{
	fprintf(stderr, "tern-perf: %" PRIu64 " call%s failed:", t->errors, t->errors != 1 ? "s" : "");
	for (int e = 0; e < PERF_ERRNO_MAX; e++)
		if (t->by_errno[e] != 0)
			fprintf(stderr, " %s x%" PRIu64, e != 0 ? perf_errname(-e) : "other",
				t->by_errno[e]);
	fprintf(stderr, "\n");
}

int perf_client_report(const struct perf_opts *o, struct perf_worker *ws, unsigned n)
{
	struct perf_result *t = malloc(sizeof(*t));
	struct figures f;
	if (t == NULL) {
		fprintf(stderr, "tern-perf: out of memory\n");
		return PERF_EXIT_ERR;
	}
	merge(t, ws, n);
	figures(t, &f);
	if (o->cdf != NULL && write_cdf(o->cdf, &t->hist) != 0)
		fprintf(stderr, "tern-perf: cannot write %s\n", o->cdf);
	if (o->json)
		print_json(o, t, &f);
	else
		print_block(o, t, &f);
	fflush(stdout);
	if (o->stats) {
		struct tern_stats cli, srv;
		memset(&cli, 0, sizeof(cli));
		memset(&srv, 0, sizeof(srv));
		for (unsigned i = 0; i < n; i++) {
			perf_stats_add(&cli, &ws[i].cli_stats);
			perf_stats_add(&srv, &ws[i].srv_stats);
		}
		perf_stats_print(stderr, "client endpoint counters", &cli, true);
		if (o->cmd == PERF_CMD_SELFTEST)
			perf_stats_print(stderr, "server endpoint counters", &srv, true);
	}
	if (t->errors != 0)
		print_error_summary(t);
	int rc = t->errors != 0 && !o->allow_errors ? PERF_EXIT_ERR : PERF_EXIT_OK;
	if (perf_signals != 0) {
		int sig = perf_signo;
		fprintf(stderr,
			"tern-perf: interrupted by %s after %" PRIu64 " measured call%s: the result "
			"above is partial\n",
			sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", t->ok,
			t->ok != 1 ? "s" : "");
		rc = PERF_EXIT_SIGNAL + sig;
	}
	free(t);
	return rc;
}

/* --- counters ----------------------------------------------------------------------------- */

/* Every field of struct tern_stats is a uint64_t counter (tern.h), so
 * endpoints add up field by field; gauges (sessions_open, msgs_in_use) add
 * up to the process total, which is what a merged report wants. */
_Static_assert(sizeof(struct tern_stats) % sizeof(uint64_t) == 0, "tern_stats: uint64_t fields only");

void perf_stats_add(struct tern_stats *dst, const struct tern_stats *src)
{
	unsigned char *d = (unsigned char *)dst;
	const unsigned char *s = (const unsigned char *)src;
	for (size_t off = 0; off < sizeof(*dst); off += sizeof(uint64_t)) {
		uint64_t a, b;
		memcpy(&a, d + off, sizeof(a));
		memcpy(&b, s + off, sizeof(b));
		a += b;
		memcpy(d + off, &a, sizeof(a));
	}
}

void perf_stats_print(FILE *f, const char *title, const struct tern_stats *st, bool all)
{
	char buf[4096];
	int n = tern_stats_format(st, buf, sizeof(buf));
	if (n < 0)
		return;
	fprintf(f, "%s%s:\n", title, all ? "" : " (non-zero; --stats for all)");
	/* Indent each "name value" line; skip the zeros unless all. */
	for (char *line = buf, *nl; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);
		const char *sp = memrchr(line, ' ', (size_t)len);
		bool zero = sp != NULL && len - (sp + 1 - line) == 1 && sp[1] == '0';
		if (all || !zero)
			fprintf(f, "  %.*s\n", len, line);
		if (nl == NULL)
			break;
	}
	if ((size_t)n >= sizeof(buf))
		fprintf(f, "  (truncated)\n");
}

void perf_server_report(const struct perf_opts *o, struct perf_worker *ws, unsigned n)
{
	struct perf_srv_counts c;
	struct tern_stats st;
	memset(&c, 0, sizeof(c));
	memset(&st, 0, sizeof(st));
	for (unsigned i = 0; i < n; i++) {
		const struct perf_srv_counts *x = &ws[i].srv_counts;
		for (unsigned k = 0; k < 4; k++)
			c.requests[k] += x->requests[k];
		c.rx_bytes += x->rx_bytes;
		c.tx_bytes += x->tx_bytes;
		c.alloc_fail += x->alloc_fail;
		c.respond_fail += x->respond_fail;
		perf_stats_add(&st, &ws[i].srv_stats);
	}
	if (o->quiet)
		return;
	printf("tern-perf server: driver %s, %u thread%s\n", o->driver, n, n > 1 ? "s" : "");
	/* Zeros only with --stats: what the run did is what stands out. */
	static const char *const type_name[] = {NULL, "rra", "rr", "oneway"};
	char req[128] = "0";
	int off = 0;
	for (unsigned k = 1; k < 4; k++)
		if (c.requests[k] != 0 || o->stats)
			off += snprintf(req + off, sizeof(req) - (size_t)off, "%s%s %" PRIu64,
					off != 0 ? ", " : "", type_name[k], c.requests[k]);
	printf("  requests     %s\n", req);
	if (c.rx_bytes != 0 || c.tx_bytes != 0 || o->stats)
		printf("  payload      %" PRIu64 " B in, %" PRIu64 " B out\n", c.rx_bytes, c.tx_bytes);
	if (c.alloc_fail != 0 || c.respond_fail != 0 || o->stats)
		printf("  failures     %" PRIu64 " no memory, %" PRIu64 " not answered\n",
		       c.alloc_fail, c.respond_fail);
	perf_stats_print(stdout, "endpoint counters", &st, o->stats);
	fflush(stdout);
}
