/*
 * oncrpc-fib-client (fib-client.c) — latency and throughput of ONC RPC (libtirpc, rpcgen's MT-safe
 * stubs): CALCULATE_FIB(n) in a closed loop against oncrpc-fib-server.
 *
 *   oncrpc-fib-client --connect IP:PORT [--proto udp|tcp] [--n 10] [--threads T]
 *              [--count N | --duration S] [--warmup N] [--timeout-ms MS]
 *              [--retry-ms MS] [--json] [--cdf FILE]
 *
 * ONC RPC clients are synchronous: one CLIENT handle has one call in flight.
 * So "T outstanding" is T threads, each with its own handle (and, for TCP,
 * its own connection), each calling in a loop; the server is one thread.
 * The client handle is made with clntudp_create / clnttcp_create on the
 * given address and port, so no portmapper or rpcbind is asked. Every call
 * is timed (CLOCK_MONOTONIC around the stub, so XDR encoding and decoding
 * are in it) into perf/hist.h's histogram, one per thread, merged at the
 * end; every result is checked against fib(n).
 *
 * UDP: a request or reply lost is retransmitted by libtirpc after
 * --retry-ms (default 100), a call fails after --timeout-ms (default 2000).
 * Failed calls are errors, not latencies. A thread stops after 100 failures
 * in a row, or 5 s of nothing but failures (the server is gone).
 *
 * Output: the result block, or with --json one object with the keys
 * perf/compare/run reads (result.h); --cdf FILE writes the latency CDF.
 * Exit: 0 if every call succeeded, 1 otherwise, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rpc/rpc.h>

#include "fib.h"
#include "result.h"

#define MAX_THREADS 256
#define MAX_FAILS_IN_ROW 100
#define MAX_FAIL_NS (5 * 1000000000ull)

struct opts {
	struct sockaddr_in addr;
	const char *connect;
	bool tcp;
	int n;
	unsigned threads;
	uint64_t count;
	double duration;
	uint64_t warmup;
	unsigned timeout_ms, retry_ms;
	bool json;
	const char *cdf;
};

struct worker {
	pthread_t tid;
	unsigned id;
	const struct opts *o;
	uint64_t todo; /* count mode: calls to measure */
	struct hist h;
	uint64_t errors, wrong;
	uint64_t t_end;
	uint64_t t_fail; /* first of the current run of failures */
	int setup_failed;
};

static atomic_int stop; /* SIGINT/SIGTERM, or a thread saw the server go away */
static pthread_barrier_t go;
static int expect;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fib(int n)
{
	int a = 0, b = 1;
	for (int i = 0; i < n; i++) {
		int t = (int)((unsigned)a + (unsigned)b);
		a = b;
		b = t;
	}
	return a;
}

static CLIENT *make_client(const struct opts *o)
{
	struct sockaddr_in sin = o->addr;
	int sock = RPC_ANYSOCK;
	CLIENT *cl;

	if (o->tcp) {
		cl = clnttcp_create(&sin, FIBCALCULATION, FIBVERS, &sock, 0, 0);
	} else {
		struct timeval retry = {o->retry_ms / 1000, (long)(o->retry_ms % 1000) * 1000};
		cl = clntudp_create(&sin, FIBCALCULATION, FIBVERS, retry, &sock);
	}
	if (cl == NULL) {
		clnt_pcreateerror("oncrpc-fib-client");
		return NULL;
	}
	/* Overrides the stub's fixed 25 s total timeout. */
	struct timeval total = {o->timeout_ms / 1000, (long)(o->timeout_ms % 1000) * 1000};
	clnt_control(cl, CLSET_TIMEOUT, (char *)&total);
	return cl;
}

/* One call; its latency in ns, or 0 if it failed (counted). A thread gives
 * up (and stops the others) after MAX_FAILS_IN_ROW failures in a row, or
 * after failing for MAX_FAIL_NS without a success (UDP timeouts are slow). */
static uint64_t one_call(struct worker *w, CLIENT *cl, int *fails_in_row)
{
	int arg = w->o->n, res = -1;
	uint64_t t0 = now_ns();
	enum clnt_stat st = calculate_fib_1(&arg, &res, cl);
	uint64_t t1 = now_ns();

	if (st != RPC_SUCCESS || res != expect) {
		if (st != RPC_SUCCESS && w->errors + w->wrong < 3)
			fprintf(stderr, "oncrpc-fib-client: thread %u: %s\n", w->id, clnt_sperrno(st));
		if (st == RPC_SUCCESS)
			w->wrong++;
		else
			w->errors++;
		if (*fails_in_row == 0)
			w->t_fail = t0;
		if (++*fails_in_row >= MAX_FAILS_IN_ROW || t1 - w->t_fail > MAX_FAIL_NS)
			stop = 1;
		return 0;
	}
	*fails_in_row = 0;
	return t1 - t0 > 0 ? t1 - t0 : 1;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	int fails = 0;
	CLIENT *cl = make_client(o);

	if (cl == NULL)
		w->setup_failed = 1;
	for (uint64_t i = 0; cl != NULL && i < o->warmup && !stop; i++)
		one_call(w, cl, &fails);
	w->errors = w->wrong = 0;
	pthread_barrier_wait(&go);
	if (cl == NULL)
		return NULL;
	uint64_t t_stop = now_ns() + (uint64_t)(o->duration * 1e9);
	for (uint64_t i = 0; !stop; i++) {
		if (o->duration > 0 ? (i & 15) == 0 && now_ns() >= t_stop : i >= w->todo)
			break;
		uint64_t ns = one_call(w, cl, &fails);
		if (ns != 0)
			hist_add(&w->h, ns);
	}
	w->t_end = now_ns();
	clnt_destroy(cl);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: oncrpc-fib-client --connect IP:PORT [--proto udp|tcp] [--n N] [--threads T]\n"
		   "                  [--count N | --duration S] [--warmup N] [--timeout-ms MS]\n"
		   "                  [--retry-ms MS] [--json] [--cdf FILE]\n"
		   "defaults: --proto udp --n 10 --threads 1 --count 100000 --warmup 1000 (per thread)\n"
		   "          --timeout-ms 2000 --retry-ms 100 (udp retransmission)\n");
}

static double parse_num(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "oncrpc-fib-client: bad %s '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"connect", required_argument, NULL, 'c'}, {"proto", required_argument, NULL, 'p'},
		{"n", required_argument, NULL, 'n'},       {"threads", required_argument, NULL, 't'},
		{"count", required_argument, NULL, 'N'},   {"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},  {"timeout-ms", required_argument, NULL, 'T'},
		{"retry-ms", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
		{"cdf", required_argument, NULL, 'C'},     {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){.n = 10, .threads = 1, .count = 100000, .warmup = 1000,
			   .timeout_ms = 2000, .retry_ms = 100};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->connect = optarg; break;
		case 'p':
			if (strcmp(optarg, "udp") && strcmp(optarg, "tcp")) {
				fprintf(stderr, "oncrpc-fib-client: --proto udp|tcp\n");
				exit(2);
			}
			o->tcp = !strcmp(optarg, "tcp");
			break;
		case 'n': o->n = (int)parse_num("--n", optarg, 0, 46); break;
		case 't': o->threads = (unsigned)parse_num("--threads", optarg, 1, MAX_THREADS); break;
		case 'N': o->count = (uint64_t)parse_num("--count", optarg, 1, 1e12); break;
		case 'd': o->duration = parse_num("--duration", optarg, 0.001, 86400); break;
		case 'w': o->warmup = (uint64_t)parse_num("--warmup", optarg, 0, 1e9); break;
		case 'T': o->timeout_ms = (unsigned)parse_num("--timeout-ms", optarg, 1, 3600000); break;
		case 'r': o->retry_ms = (unsigned)parse_num("--retry-ms", optarg, 1, 3600000); break;
		case 'j': o->json = true; break;
		case 'C': o->cdf = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc || o->connect == NULL) {
		usage(stderr);
		exit(2);
	}
	char ip[64];
	const char *colon = strrchr(o->connect, ':');
	size_t iplen = colon != NULL ? (size_t)(colon - o->connect) : 0;
	o->addr.sin_family = AF_INET;
	if (colon == NULL || iplen >= sizeof(ip)) {
		fprintf(stderr, "oncrpc-fib-client: --connect IP:PORT\n");
		exit(2);
	}
	memcpy(ip, o->connect, iplen);
	ip[iplen] = '\0';
	o->addr.sin_port = htons((uint16_t)parse_num("port", colon + 1, 1, 65535));
	if (inet_pton(AF_INET, ip, &o->addr.sin_addr) != 1) {
		fprintf(stderr, "oncrpc-fib-client: bad IPv4 address '%s'\n", ip);
		exit(2);
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct worker *ws;
	struct hist *all;
	int failed = 0;

	parse(argc, argv, &o);
	expect = fib(o.n);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ws = calloc(o.threads, sizeof(*ws));
	all = malloc(sizeof(*all));
	if (ws == NULL || all == NULL || pthread_barrier_init(&go, NULL, o.threads + 1) != 0) {
		fprintf(stderr, "oncrpc-fib-client: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < o.threads; i++) {
		struct worker *w = &ws[i];
		w->id = i;
		w->o = &o;
		w->todo = o.count / o.threads + (i < o.count % o.threads);
		hist_init(&w->h);
		if (pthread_create(&w->tid, NULL, run, w) != 0) {
			fprintf(stderr, "oncrpc-fib-client: cannot start thread %u\n", i);
			return 1;
		}
	}
	/* The warmups are done when everyone reaches the barrier. */
	pthread_barrier_wait(&go);
	uint64_t t_start = now_ns();

	hist_init(all);
	uint64_t errors = 0, t_end = t_start;
	for (unsigned i = 0; i < o.threads; i++) {
		pthread_join(ws[i].tid, NULL);
		hist_merge(all, &ws[i].h);
		errors += ws[i].errors + ws[i].wrong;
		failed |= ws[i].setup_failed;
		if (ws[i].t_end > t_end)
			t_end = ws[i].t_end;
	}
	double secs = (double)(t_end - t_start) / 1e9;
	char title[160], extra[200];
	snprintf(title, sizeof(title), "oncrpc-fib-client: ONC RPC over %s to %s, CALCULATE_FIB(%d), %u thread%s",
		 o.tcp ? "tcp" : "udp", o.connect, o.n, o.threads, o.threads > 1 ? "s" : "");
	snprintf(extra, sizeof(extra), "\"system\": \"oncrpc\", \"proto\": \"%s\", \"threads\": %u, \"n\": %d",
		 o.tcp ? "tcp" : "udp", o.threads, o.n);
	result_print(title, o.json, all, errors, secs > 0 ? (double)all->count / secs : 0, extra);
	if (o.cdf != NULL && result_write_cdf(o.cdf, all) != 0)
		failed = 1;
	free(all);
	free(ws);
	return failed || errors != 0 || stop ? 1 : 0;
}
