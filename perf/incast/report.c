/*
 * report.c — what tern-incast prints: goodput against the bottleneck, the
 * resend ratio, per-sender shares and Jain's fairness index, latency
 * percentiles of the bulk and the victim's calls, failures, and the
 * bottleneck's and server's counters; as a table or one JSON object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incast.h"

double inc_jain(const double *x, unsigned n)
{
	double s = 0, s2 = 0;
	for (unsigned i = 0; i < n; i++) {
		s += x[i];
		s2 += x[i] * x[i];
	}
	return n != 0 && s2 > 0 ? s * s / ((double)n * s2) : 0.0;
}

/* A duration for humans: ns, µs, ms or s with three significant digits. */
static const char *fmt_ns(uint64_t ns, char *buf, size_t len)
{
	double v = (double)ns;
	if (ns < 1000)
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.3g us", v / 1e3);
	else if (ns < INC_NS_PER_S)
		snprintf(buf, len, "%.3g ms", v / 1e6);
	else
		snprintf(buf, len, "%.3g s", v / 1e9);
	return buf;
}

/*
 * Two measures of the window. The headline is a network measurement:
 * request bytes the server received from each sender between the two marks
 * (first copies, of calls complete or not), over the server's clock between
 * them; Jain's index over those per-sender bytes. The second counts the
 * calls that completed in the window (request bytes of whole calls), which
 * a call that takes seconds quantises: kept so that nothing is hidden.
 */
struct summary {
	/* delivered (headline); valid false: the marks did not come back */
	bool valid;
	double dsecs, gbps, pct, jain, share_min, share_max;
	uint64_t bytes;
	unsigned idle;  /* senders that got nothing through in the window */
	double *shares; /* per sender, of the delivered bytes */
	/* completed calls */
	double secs, cgbps, cpct, cjain;
	uint64_t cbytes, win_calls;
	unsigned cidle; /* senders without a completed call in the window */
	double resend;
};

/* min and max of x[0..n) as shares of their sum; x becomes the shares. */
static void to_shares(double *x, unsigned n, double sum, double *lo, double *hi)
{
	*lo = 1, *hi = 0;
	for (unsigned i = 0; i < n; i++) {
		x[i] = sum > 0 ? x[i] / sum : 0;
		*lo = x[i] < *lo ? x[i] : *lo;
		*hi = x[i] > *hi ? x[i] : *hi;
	}
}

static void summarise(const struct inc_opts *o, const struct inc_sender *s,
		      const struct inc_client_res *c, struct summary *m)
{
	double *x = calloc(o->senders, sizeof(*x)), *y = calloc(o->senders, sizeof(*y));
	memset(m, 0, sizeof(*m));
	m->resend = c->tx_pkts != 0 ? (double)c->retransmits / (double)c->tx_pkts : 0;
	/* completed calls */
	m->secs = (double)(c->t_end - c->t_start) / 1e9;
	for (unsigned i = 0; i < o->senders; i++) {
		m->cbytes += s[i].win_bytes;
		m->win_calls += s[i].win_calls;
		m->cidle += s[i].win_calls == 0;
		if (y != NULL)
			y[i] = (double)s[i].win_bytes;
	}
	m->cgbps = m->secs > 0 ? (double)m->cbytes * 8 / m->secs / 1e9 : 0;
	m->cpct = o->rate != 0 ? m->cgbps * 1e9 / (double)o->rate * 100 : 0;
	m->cjain = y != NULL ? inc_jain(y, o->senders) : 0;
	free(y);
	/* delivered */
	m->shares = x;
	m->valid = x != NULL && c->marked[0] && c->marked[1] && c->mark_ns[1] > c->mark_ns[0];
	for (unsigned i = 0; i < o->senders && m->valid; i++) {
		const uint64_t *r = s[i].rx_mark;
		if (r[0] == UINT64_MAX || r[1] == UINT64_MAX || r[1] < r[0]) {
			m->valid = false; /* a sender's session unknown to the server */
			break;
		}
		x[i] = (double)(r[1] - r[0]);
		m->bytes += r[1] - r[0];
		m->idle += r[1] == r[0];
	}
	if (!m->valid)
		return;
	m->dsecs = (double)(c->mark_ns[1] - c->mark_ns[0]) / 1e9;
	m->gbps = (double)m->bytes * 8 / m->dsecs / 1e9;
	m->pct = o->rate != 0 ? m->gbps * 1e9 / (double)o->rate * 100 : 0;
	m->jain = inc_jain(x, o->senders);
	to_shares(x, o->senders, (double)m->bytes, &m->share_min, &m->share_max);
}

static void print_hist(const char *name, const struct hist *h)
{
	char a[32], b[32], c[32], d[32];
	if (h->count == 0) {
		printf("%-14s no call issued in the window completed\n", name);
		return;
	}
	printf("%-14s p50 %s  p99 %s  p99.9 %s  max %s  (%llu calls)\n", name,
	       fmt_ns(hist_quantile(h, 0.5), a, sizeof(a)), fmt_ns(hist_quantile(h, 0.99), b, sizeof(b)),
	       fmt_ns(hist_quantile(h, 0.999), c, sizeof(c)), fmt_ns(h->max, d, sizeof(d)),
	       (unsigned long long)h->count);
}

static void print_link(const struct inc_server_res *v)
{
	char a[32], b[32];
	if (!v->have_link)
		return;
	printf("bottleneck     arrived %llu  dropped %llu (%.1f%%)  nobuf %llu  peak %llu pkts / %llu B"
	       "  sojourn mean %s max %s  (whole run)\n",
	       (unsigned long long)v->link_arrived, (unsigned long long)v->link_dropped,
	       v->link_arrived ? 100.0 * (double)v->link_dropped / (double)v->link_arrived : 0.0,
	       (unsigned long long)v->link_nobuf, (unsigned long long)v->link_peak_pkts,
	       (unsigned long long)v->link_peak_bytes, fmt_ns(v->link_sojourn_mean_ns, a, sizeof(a)),
	       fmt_ns(v->link_sojourn_max_ns, b, sizeof(b)));
}

static void print_server(const struct inc_server_res *v)
{
	printf("server         executed %llu  executed twice %llu  duplicates answered %llu  bad %llu\n",
	       (unsigned long long)v->executed, (unsigned long long)v->executed_twice,
	       (unsigned long long)v->st.requests_dup, (unsigned long long)v->bad_requests);
	printf("server rx      packets %llu  duplicates %llu  stale %llu  (whole run: copies of "
	       "packets it had, i.e. resends that were not needed)\n",
	       (unsigned long long)v->st.rx_pkts, (unsigned long long)v->st.drops[TERN_DROP_DUP],
	       (unsigned long long)v->st.drops[TERN_DROP_STALE]);
	if (v->udp_rcvbuf_errors != UINT64_MAX && v->udp_rcvbuf_errors != 0)
		printf("server udp     %llu datagrams dropped by full socket buffers (RcvbufErrors)\n",
		       (unsigned long long)v->udp_rcvbuf_errors);
	print_link(v);
}

static void json_hist(const char *name, const struct hist *h)
{
	printf("\"%s\":{\"calls\":%llu,\"p50_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,"
	       "\"max_ns\":%llu},",
	       name, (unsigned long long)h->count, (unsigned long long)hist_quantile(h, 0.5),
	       (unsigned long long)hist_quantile(h, 0.99), (unsigned long long)hist_quantile(h, 0.999),
	       (unsigned long long)(h->count ? h->max : 0));
}

static void json_server(const struct inc_server_res *v)
{
	printf("\"server\":{\"cpu\":%.3f,\"executed\":%llu,\"executed_twice\":%llu,\"requests_dup\":%llu,"
	       "\"bad\":%llu",
	       v->cpu, (unsigned long long)v->executed, (unsigned long long)v->executed_twice,
	       (unsigned long long)v->st.requests_dup, (unsigned long long)v->bad_requests);
	printf(",\"rx_pkts\":%llu,\"dup_pkts\":%llu,\"stale_pkts\":%llu",
	       (unsigned long long)v->st.rx_pkts, (unsigned long long)v->st.drops[TERN_DROP_DUP],
	       (unsigned long long)v->st.drops[TERN_DROP_STALE]);
	if (v->udp_rcvbuf_errors != UINT64_MAX)
		printf(",\"udp_rcvbuf_errors\":%llu", (unsigned long long)v->udp_rcvbuf_errors);
	if (v->have_link)
		printf(",\"link\":{\"arrived\":%llu,\"dropped\":%llu,\"nobuf\":%llu,\"delivered\":%llu,"
		       "\"wire_bytes\":%llu,\"peak_pkts\":%llu,\"peak_bytes\":%llu,"
		       "\"sojourn_mean_ns\":%llu,\"sojourn_max_ns\":%llu}",
		       (unsigned long long)v->link_arrived, (unsigned long long)v->link_dropped,
		       (unsigned long long)v->link_nobuf, (unsigned long long)v->link_delivered,
		       (unsigned long long)v->link_wire_bytes, (unsigned long long)v->link_peak_pkts,
		       (unsigned long long)v->link_peak_bytes,
		       (unsigned long long)v->link_sojourn_mean_ns,
		       (unsigned long long)v->link_sojourn_max_ns);
	printf("}");
}

/* One row of run-matrix.sh's table (its header names the columns). */
static void print_row(const struct inc_opts *o, const struct inc_client_res *c,
		      const struct summary *m)
{
	char a[32], b[32], d[32], e[32], f[32];
	const struct hist *h = &c->bulk, *v = &c->victim;
	if (m->valid)
		printf("| %s | %.3f | %.0f%% | %.2f | ", o->row, m->gbps, m->pct, m->jain);
	else
		printf("| %s | - | - | - | ", o->row);
	printf("%.1f%% | %.0f%% / %.2f | %s / %s / %s | ", m->resend * 100, m->cpct, m->cjain,
	       fmt_ns(hist_quantile(h, 0.5), a, sizeof(a)),
	       fmt_ns(hist_quantile(h, 0.99), b, sizeof(b)),
	       fmt_ns(hist_quantile(h, 0.999), d, sizeof(d)));
	if (o->victim && v->count != 0)
		printf("%s / %s | ", fmt_ns(hist_quantile(v, 0.5), e, sizeof(e)),
		       fmt_ns(hist_quantile(v, 0.99), f, sizeof(f)));
	else
		printf("- | ");
	if (inc_sim_build)
		printf("%llu | virtual |\n", (unsigned long long)c->calls_failed);
	else
		printf("%llu | %.0f%% |\n", (unsigned long long)c->calls_failed, c->cpu * 100);
}

void inc_report(const struct inc_opts *o, const struct inc_sender *s,
		const struct inc_client_res *c, const struct inc_server_res *sv)
{
	struct summary m;
	summarise(o, s, c, &m);
	if (o->row != NULL) {
		print_row(o, c, &m);
		free(m.shares);
		return;
	}
	if (o->json) {
		printf("{\"senders\":%u,\"endpoints\":%u,\"size\":%u,\"depth\":%u,\"driver\":\"%s\","
		       "\"link\":\"%s\",\"rate_bps\":%llu,\"window_s\":%.3f,",
		       o->senders, o->endpoints, o->size, o->depth, o->driver,
		       o->link != NULL ? o->link : "", (unsigned long long)o->rate, m.secs);
		if (m.valid)
			printf("\"server_window_s\":%.3f,\"goodput_gbps\":%.4f,\"goodput_pct\":%.2f,"
			       "\"jain\":%.4f,\"idle_senders\":%u,",
			       m.dsecs, m.gbps, m.pct, m.jain, m.idle);
		printf("\"calls_goodput_gbps\":%.4f,\"calls_goodput_pct\":%.2f,\"calls_jain\":%.4f,"
		       "\"calls_idle_senders\":%u,\"tx_pkts\":%llu,\"retransmits\":%llu,"
		       "\"rto_events\":%llu,\"resend_ratio\":%.4f,\"calls_ok\":%llu,"
		       "\"calls_failed\":%llu,\"timeouts\":%llu,\"wrong\":%llu,\"unfinished\":%llu,"
		       "\"client_cpu\":%.3f,\"run_tx_pkts\":%llu,\"run_retransmits\":%llu,"
		       "\"run_rto_events\":%llu,",
		       m.cgbps, m.cpct, m.cjain, m.cidle, (unsigned long long)c->tx_pkts,
		       (unsigned long long)c->retransmits, (unsigned long long)c->rto_events, m.resend,
		       (unsigned long long)c->calls_ok, (unsigned long long)c->calls_failed,
		       (unsigned long long)c->err_timeout, (unsigned long long)c->calls_wrong,
		       (unsigned long long)c->unfinished, c->cpu, (unsigned long long)c->run_tx_pkts,
		       (unsigned long long)c->run_retransmits, (unsigned long long)c->run_rto_events);
		if (c->udp_rcvbuf_errors != UINT64_MAX)
			printf("\"udp_rcvbuf_errors\":%llu,", (unsigned long long)c->udp_rcvbuf_errors);
		json_hist("bulk", &c->bulk);
		if (o->victim)
			json_hist("victim", &c->victim);
		printf("\"shares\":[");
		for (unsigned i = 0; i < o->senders && m.valid; i++)
			printf("%s%.5f", i ? "," : "", m.shares[i]);
		printf("]");
		if (sv != NULL) {
			printf(",");
			json_server(sv);
		}
		printf("}\n");
		free(m.shares);
		return;
	}
	printf("tern-incast: %u senders on %u endpoints, %u B calls, depth %u, driver %s, "
	       "window %.2f s\n",
	       o->senders, o->endpoints, o->size, o->depth, o->driver, m.secs);
	if (m.valid) {
		printf("goodput        %.3f Gbit/s", m.gbps);
		if (o->rate != 0)
			printf("  (%.1f%% of the %.3f Gbit/s bottleneck)", m.pct, (double)o->rate / 1e9);
		printf(": request bytes the server received in the window, of calls complete or "
		       "not\n");
		printf("shares         Jain %.3f  min %.2f%%  max %.2f%%  (fair: %.2f%%) of those bytes; "
		       "%u senders got nothing through\n",
		       m.jain, m.share_min * 100, m.share_max * 100, 100.0 / o->senders, m.idle);
	} else {
		printf("goodput        unknown: the server did not answer both window marks\n");
	}
	printf("by calls       %.3f Gbit/s (%.1f%%), Jain %.3f: request bytes of calls completed in "
	       "the window; %u senders completed none\n",
	       m.cgbps, m.cpct, m.cjain, m.cidle);
	printf("packets        sent %llu  resent %llu  resend ratio %.1f%%  (%llu RTOs)\n",
	       (unsigned long long)c->tx_pkts, (unsigned long long)c->retransmits, m.resend * 100,
	       (unsigned long long)c->rto_events);
	printf("calls          ok %llu (%llu in the window)  failed %llu (timeouts %llu, resets %llu, "
	       "other %llu)  wrong %llu  unfinished %llu\n",
	       (unsigned long long)c->calls_ok, (unsigned long long)m.win_calls,
	       (unsigned long long)c->calls_failed, (unsigned long long)c->err_timeout,
	       (unsigned long long)c->err_reset, (unsigned long long)c->err_other,
	       (unsigned long long)c->calls_wrong, (unsigned long long)c->unfinished);
	print_hist("bulk latency", &c->bulk);
	if (o->victim)
		print_hist("victim latency", &c->victim);
	if (inc_sim_build)
		printf("time           virtual, %llu ns per pass over the endpoints\n",
		       (unsigned long long)inc_sim_step_ns);
	else if (o->one_thread)
		printf("cpu            the one thread %.0f%% of a core (below 100%%: the machine is "
		       "shared and the link starves)\n", c->cpu * 100);
	else
		printf("cpu            client thread %.0f%% of a core, server thread %.0f%% (below "
		       "100%%: the machine is shared and the link starves)\n",
		       c->cpu * 100, sv != NULL ? sv->cpu * 100 : 0.0);
	if (c->udp_rcvbuf_errors != UINT64_MAX && c->udp_rcvbuf_errors != 0)
		printf("udp            %llu datagrams dropped by full socket buffers (RcvbufErrors)\n",
		       (unsigned long long)c->udp_rcvbuf_errors);
	if (sv != NULL)
		print_server(sv);
	free(m.shares);
}

bool inc_check(const struct inc_opts *o, const struct inc_sender *s,
	       const struct inc_client_res *c, const struct inc_server_res *v)
{
	struct summary m;
	bool ok = true;
#define REQ(cond, ...)                                                       \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "tern-incast: check failed: " __VA_ARGS__); \
			ok = false;                                          \
		}                                                            \
	} while (0)
	summarise(o, s, c, &m);
	REQ(c->connected && c->calls_ok > 0, "no call completed\n");
	REQ(c->unfinished == 0, "%llu calls never ended\n", (unsigned long long)c->unfinished);
	REQ(c->calls_wrong == 0, "%llu wrong answers\n", (unsigned long long)c->calls_wrong);
	REQ(v->executed_twice == 0, "%llu calls executed twice\n",
	    (unsigned long long)v->executed_twice);
	REQ(v->bad_requests == 0, "%llu malformed requests\n", (unsigned long long)v->bad_requests);
	/* Each OK call ran once; a failed one at most once (its answer may be lost). */
	REQ(v->executed >= c->calls_ok && v->executed <= c->calls_ok + c->calls_failed,
	    "executed %llu, ok %llu, failed %llu\n", (unsigned long long)v->executed,
	    (unsigned long long)c->calls_ok, (unsigned long long)c->calls_failed);
	REQ(o->max_failed < 0 || c->calls_failed <= (uint64_t)o->max_failed,
	    "%llu calls failed (at most %lld)\n", (unsigned long long)c->calls_failed,
	    (long long)o->max_failed);
	REQ(o->max_resend < 0 || m.resend <= o->max_resend, "resend ratio %.4f (at most %.4f)\n",
	    m.resend, o->max_resend);
	REQ((o->min_jain < 0 && o->min_goodput < 0) || m.valid,
	    "the server did not answer both window marks: no goodput, no shares\n");
	REQ(o->min_jain < 0 || !m.valid || m.jain >= o->min_jain,
	    "Jain %.4f over the bytes delivered (at least %.4f)\n", m.jain, o->min_jain);
	REQ(o->min_goodput < 0 || !m.valid || o->rate == 0 || m.pct >= o->min_goodput * 100,
	    "goodput %.1f%% of the bottleneck (at least %.1f%%)\n", m.pct, o->min_goodput * 100);
	REQ(o->min_goodput < 0 || o->rate != 0, "--min-goodput without a rate\n");
#undef REQ
	free(m.shares);
	return ok;
}

void inc_report_server(const struct inc_opts *o, const struct inc_server_res *sv)
{
	if (o->json) {
		printf("{");
		json_server(sv);
		printf("}\n");
		return;
	}
	print_server(sv);
}
