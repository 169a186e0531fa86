/*
 * tern-sessions — many sessions on one server endpoint, as a storage
 * backend sees them: N client sessions, one 32-byte call outstanding on
 * each, for a while; then the same sessions idle.
 *
 *   tern-sessions server [--driver udp] [--bind IP:PORT] [--busy-poll 0|1]
 *   tern-sessions client --connect IP:PORT --sessions N [--duration S]
 *                        [--idle S] [--driver udp] [--bind IP:PORT] [--json]
 *
 * The client prints: the time to connect all N (a connect storm: every
 * tern_connect() at once), calls/s, p50/p99/p99.9 of the calls, failed
 * calls, sessions declared dead, and, for the idle phase, the packets per
 * second both ways and its own CPU. The server prints its counters and its
 * RSS when it gets SIGUSR1 (perf/sessions/run reads the server's CPU and
 * RSS from /proc around each phase). Public API only.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tern.h"

#define T_ECHO 1

struct opts {
	const char *mode, *driver, *bind, *connect, *driver_args;
	long sessions;
	double duration, idle;
	int busy_poll, json;
};

static volatile sig_atomic_t stop, report;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else
		stop = 1;
}

static void echo(struct tern_req *req, void *ctx)
{
	(void)ctx;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), tern_req_len(req));
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	tern_respond(req, m);
}

static struct tern_ep *make_ep(const struct opts *o, const char *bind, uint32_t max_sessions)
{
	struct tern_ep_config cfg;
	tern_ep_config_init(&cfg);
	cfg.driver = o->driver;
	cfg.bind = bind;
	cfg.driver_args = o->driver_args;
	cfg.max_sessions = max_sessions;
	cfg.busy_poll = (uint32_t)o->busy_poll;
	cfg.connect_timeout_ns = 30ull * 1000000000ull;
	struct tern_ep *ep = NULL;
	int rc = tern_ep_create(&cfg, &ep);
	if (rc != 0)
		fprintf(stderr, "tern-sessions: endpoint: %s\n", strerror(-rc));
	return ep;
}

/* A size from /proc/self/status in KiB: key "VmRSS:" (resident now) or
 * "VmHWM:" (the most it ever was), -1 if not found. */
static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	size_t klen = strlen(key);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0) {
			kib = strtol(line + klen, NULL, 10);
			break;
		}
	}
	if (f != NULL)
		fclose(f);
	return kib;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static int run_server(const struct opts *o)
{
	struct tern_ep *ep = make_ep(o, o->bind != NULL ? o->bind : "127.0.0.1:31890", 65535);
	if (ep == NULL || tern_handle(ep, T_ECHO, echo, NULL, TERN_RRA) != 0)
		return 2;
	char addr[96];
	printf("listening %s rss_kib %ld\n", tern_ep_addr(ep, addr, sizeof(addr)),
	       status_kib("VmRSS:"));
	fflush(stdout);
	while (!stop) {
		if (o->busy_poll)
			tern_poll(ep);
		else
			tern_poll_wait(ep, 100000000ull);
		if (report) {
			report = 0;
			struct tern_stats st;
			tern_ep_stats(ep, &st);
			/* hwm_kib: the peak, while all sessions were open (by
			 * now the client may have closed them). */
			printf("server sessions_open %" PRIu64 " rss_kib %ld hwm_kib %ld cpu_s %.3f rx_pkts %" PRIu64
			       " tx_pkts %" PRIu64 " executed %" PRIu64 " dup %" PRIu64 " dead %" PRIu64
			       "\n",
			       st.sessions_open, status_kib("VmRSS:"), status_kib("VmHWM:"), cpu_s(), st.rx_pkts, st.tx_pkts,
			       st.requests_executed, st.requests_dup, st.sessions_dead);
			fflush(stdout);
		}
	}
	tern_ep_destroy(ep);
	return 0;
}

/* Latencies: log2 buckets of 32 linear steps each, from 1 ns up. */
#define SUB 32
#define BUCKETS (64 * SUB)
static uint64_t hist[BUCKETS], nlat;

static unsigned bucket(uint64_t ns)
{
	if (ns < SUB)
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns);
	unsigned sub = (unsigned)((ns >> (e - 5)) & (SUB - 1));
	return (e - 4) * SUB + sub;
}

static uint64_t bucket_ns(unsigned b)
{
	if (b < SUB)
		return b;
	unsigned e = b / SUB + 4, sub = b % SUB;
	return ((uint64_t)SUB + sub) << (e - 5);
}

static double pct(double p)
{
	uint64_t want = (uint64_t)ceil(p * (double)nlat), seen = 0;
	for (unsigned b = 0; b < BUCKETS; b++) {
		seen += hist[b];
		if (seen >= want && seen != 0)
			return (double)bucket_ns(b) / 1e3;
	}
	return 0;
}

/* A session's own state in the benchmark, one 16-byte record (four to a
 * cache line): at 50,000 sessions every call finds its record cold, so one
 * record rather than an array per field keeps the benchmark's own misses to
 * one per call, as a user keeping per-session state together would. */
struct lane {
	struct tern_session *s;
	uint64_t sent_at;
};

struct cli {
	struct tern_ep *ep;
	struct lane *lane;
	long n, ok, failed, inflight;
	int measuring, issuing;
};
static struct cli cli;

static void issue(struct lane *l);

static void lane_cont(const struct tern_result *res, void *ctx)
{
	struct lane *l = ctx;
	struct cli *c = &cli;
	uint64_t now = tern_now_ns();
	c->inflight--;
	if (res->status != 0) {
		c->failed++;
		fprintf(stderr, "call on session %ld: %s\n", (long)(l - c->lane),
			strerror(-res->status));
	} else if (c->measuring) {
		c->ok++;
		hist[bucket(now - l->sent_at)]++;
		nlat++;
	}
	if (c->issuing && res->status == 0)
		issue(l);
}

static void issue(struct lane *l)
{
	struct cli *c = &cli;
	struct tern_msg *m = tern_msg_alloc(c->ep, 32);
	if (m == NULL)
		return;
	memset(tern_msg_data(m), (int)((l - c->lane) & 0xff), 32);
	l->sent_at = tern_now_ns();
	if (tern_call(l->s, T_ECHO, m, lane_cont, l, 0) != 0) {
		tern_msg_free(m);
		c->failed++;
		return;
	}
	c->inflight++;
}

static int run_client(const struct opts *o)
{
	cli.n = o->sessions;
	cli.ep = make_ep(o, o->bind, (uint32_t)cli.n);
	cli.lane = calloc((size_t)cli.n, sizeof(*cli.lane));
	if (cli.ep == NULL || cli.lane == NULL)
		return 2;
	/* The storm. */
	uint64_t t0 = tern_now_ns();
	for (long i = 0; i < cli.n; i++) {
		int rc = tern_connect(cli.ep, o->connect, &cli.lane[i].s);
		if (rc != 0) {
			fprintf(stderr, "tern_connect: %s\n", strerror(-rc));
			return 2;
		}
	}
	long up = 0, down = 0;
	for (long it = 0; up + down < cli.n && !stop && tern_now_ns() - t0 < 60ull * 1000000000ull;
	     it++) {
		tern_poll(cli.ep);
		if (it % 256 == 0) {
			up = down = 0;
			for (long i = 0; i < cli.n; i++) {
				int st = tern_session_state(cli.lane[i].s);
				up += st == TERN_SS_CONNECTED;
				down += st == TERN_SS_FAILED;
			}
		}
	}
	double connect_s = (double)(tern_now_ns() - t0) / 1e9;
	struct tern_stats st;
	tern_ep_stats(cli.ep, &st);
	uint64_t connects = st.connects_sent;
	if (up != cli.n) {
		fprintf(stderr, "only %ld of %ld sessions connected (%ld failed)\n", up, cli.n, down);
		return 1;
	}
	/* Load: one call outstanding per session. A second of warm-up, then
	 * the measured duration. */
	cli.issuing = 1;
	for (long i = 0; i < cli.n; i++)
		issue(&cli.lane[i]);
	uint64_t w0 = tern_now_ns();
	while (!stop && tern_now_ns() - w0 < 1000000000ull)
		tern_poll(cli.ep);
	tern_ep_stats(cli.ep, &st);
	struct tern_stats before = st;
	cli.measuring = 1;
	uint64_t m0 = tern_now_ns();
	uint64_t dur = (uint64_t)(o->duration * 1e9);
	while (!stop && tern_now_ns() - m0 < dur)
		tern_poll(cli.ep);
	double secs = (double)(tern_now_ns() - m0) / 1e9;
	cli.measuring = 0;
	cli.issuing = 0;
	uint64_t d0 = tern_now_ns();
	while (cli.inflight > 0 && tern_now_ns() - d0 < 30ull * 1000000000ull)
		tern_poll(cli.ep);
	tern_ep_stats(cli.ep, &st);
	double calls_s = (double)cli.ok / secs;
	printf("sessions %ld connect_s %.3f connects_sent %" PRIu64 " calls_s %.0f p50_us %.1f "
	       "p99_us %.1f p999_us %.1f failed %ld dead %" PRIu64 " rto %" PRIu64
	       " retransmits %" PRIu64 "\n",
	       cli.n, connect_s, connects, calls_s, pct(0.5), pct(0.99), pct(0.999), cli.failed,
	       st.sessions_dead, st.rto_events - before.rto_events,
	       st.retransmits - before.retransmits);
	fflush(stdout);
	/* Idle: the same sessions, nothing to do. */
	if (o->idle > 0) {
		tern_ep_stats(cli.ep, &before);
		double cpu0 = cpu_s();
		uint64_t i0 = tern_now_ns();
		uint64_t idle = (uint64_t)(o->idle * 1e9);
		printf("idle_start %ld\n", cli.n);
		fflush(stdout);
		while (!stop && tern_now_ns() - i0 < idle)
			tern_poll_wait(cli.ep, 100000000ull);
		double isecs = (double)(tern_now_ns() - i0) / 1e9;
		tern_ep_stats(cli.ep, &st);
		uint64_t pk = (st.tx_pkts - before.tx_pkts) + (st.rx_pkts - before.rx_pkts);
		printf("idle_s %.1f idle_pkts_s %.1f idle_pings %" PRIu64 " client_idle_cpu %.2f%% "
		       "dead %" PRIu64 "\n",
		       isecs, (double)pk / isecs, st.pings_sent - before.pings_sent,
		       100.0 * (cpu_s() - cpu0) / isecs, st.sessions_dead);
		fflush(stdout);
	}
	for (long i = 0; i < cli.n; i++)
		tern_session_close(cli.lane[i].s);
	tern_ep_destroy(cli.ep);
	return cli.failed != 0 || st.sessions_dead != 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.driver = "udp", .sessions = 1000, .duration = 5, .busy_poll = 1};
	setvbuf(stdout, NULL, _IOLBF, 0); /* perf/sessions/run waits for lines */
	static const struct option lo[] = {
		{"driver", 1, 0, 'd'}, {"bind", 1, 0, 'b'}, {"connect", 1, 0, 'c'},
		{"driver-args", 1, 0, 'a'}, {"sessions", 1, 0, 'n'}, {"duration", 1, 0, 't'},
		{"idle", 1, 0, 'i'}, {"busy-poll", 1, 0, 'p'}, {0, 0, 0, 0},
	};
	if (argc < 2) {
		fprintf(stderr, "usage: tern-sessions server|client [options] (see the source's header)\n");
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
		case 'a': o.driver_args = optarg; break;
		case 'n': o.sessions = strtol(optarg, NULL, 0); break;
		case 't': o.duration = strtod(optarg, NULL); break;
		case 'i': o.idle = strtod(optarg, NULL); break;
		case 'p': o.busy_poll = atoi(optarg); break;
		default:
			fprintf(stderr, "tern-sessions: bad option (see the source's header)\n");
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_signal);
	if (strcmp(o.mode, "server") == 0)
		return run_server(&o);
	if (strcmp(o.mode, "client") == 0 && o.connect != NULL && o.sessions >= 1 &&
	    o.sessions <= 65535)
		return run_client(&o);
	fprintf(stderr, "tern-sessions: client needs --connect and --sessions 1..65535\n");
	return 2;
}
