/*
 * tern-incast — many senders writing to one server through one bottleneck.
 *
 *   tern-incast local  [options]   server and clients in one process: the
 *                                  server thread and the client thread each
 *                                  on a core of their own
 *   tern-incast server [options]   the server alone (until SIGINT/SIGTERM or
 *                                  --duration), then its counters
 *   tern-incast client [options]   the senders alone, against --connect
 *
 * The bottleneck is either emulated (--link: the faults decorator's link on
 * the server endpoint's ingress, shared by every sender, as a switch port
 * is) or real (netns.sh: a tc tbf on a router namespace's egress toward the
 * server; give its rate with --rate). See perf/incast/README.md.
 *
 * tern-incast-sim is the same program on a virtual clock (clock_sim.c):
 * local mode only, one thread; deterministic and independent of the
 * machine's load.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "incast.h"

volatile sig_atomic_t inc_signals;

static void on_signal(int sig)
{
	(void)sig;
	inc_signals++;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tern-incast local|server|client [options]\n"
		"       tern-incast-sim local [options]   (virtual time, one thread)\n"
		"  --driver NAME        loop (local only) or udp (default: local loop, else udp)\n"
		"  --bind IP:PORT       the server's address (default 127.0.0.1:7300)\n"
		"  --connect IP:PORT    client: the server (default: --bind)\n"
		"  --client-ip IP       client endpoints bind IP:0 (default 127.0.0.1)\n"
		"  --link FAULTS        server: emulated bottleneck, faults keys, e.g.\n"
		"                       rate=200m,queue=256k (see drivers/faults/faults.c)\n"
		"  --rate R             bottleneck bits/s for the %% figure, e.g. 200m (default:\n"
		"                       --link's rate=)\n"
		"  --faults FAULTS      client endpoints: injected faults\n"
		"  --server-args ARGS   server driver arguments (local over loop: ring=8192)\n"
		"  --senders N          bulk sender sessions (8, at most %u)\n"
		"  --endpoints M        client endpoints the senders are spread over (min(N, 8))\n"
		"  --size B             bulk call size: 1m, 64k, 4096 (1m)\n"
		"  --depth D            calls in flight per sender (1)\n"
		"  --victim             one more session, on its own endpoint, of small calls\n"
		"  --victim-size B      its call size (32)\n"
		"  --duration S         measured seconds (5; server: lifetime, 0 = until a signal)\n"
		"  --warmup S           seconds before the window (0.5)\n"
		"  --timeout S          per-call deadline (10)\n"
		"  --no-cc              client endpoints without congestion control (TERN_EP_CC)\n"
		"  --cc-target-us N     client endpoints' queueing delay target (tern_ep_config\n"
		"                       .cc_target_ns; default: the library's)\n"
		"  --rto-min-us N       RTO floor of every endpoint (default: the driver's)\n"
		"  --rto-max-us N       RTO ceiling of every endpoint (default: the driver's)\n"
		"  --server-cpu N, --client-cpu N  pin the threads (local: 0 and 1 on 2+ CPUs;\n"
		"                       -1: not pinned)\n"
		"  --one-thread         local: one thread polls the server and the clients\n"
		"  --sim-step-ns N      tern-incast-sim: virtual time per pass (1000)\n"
		"  --json               one JSON object instead of the table\n"
		"  --row LABEL          one markdown table row instead (see run-matrix.sh)\n"
		"  --quiet              no log lines\n"
		"  --check              local: exit 1 unless every call ended exactly once, every\n"
		"                       OK call was executed once and none twice, no answer was\n"
		"                       wrong; and the bounds below hold:\n"
		"  --max-failed N       at most N calls failed\n"
		"  --max-resend R       resent packets at most R of those sent (0.05 = 5%%)\n"
		"  --min-jain J         Jain's fairness index over the request bytes each sender\n"
		"                       got to the server in the window at least J\n"
		"  --min-goodput F      request bytes the server received in the window at least\n"
		"                       F of the bottleneck (--rate, or the link's rate) (0.85)\n",
		INC_MAX_SENDERS);
}

uint64_t inc_parse_bits(const char *s)
{
	char *end;
	double v = strtod(s, &end), m = 1;
	if (end == s || v <= 0)
		return 0;
	if (*end == 'k' || *end == 'K')
		m = 1e3;
	else if (*end == 'm' || *end == 'M')
		m = 1e6;
	else if (*end == 'g' || *end == 'G')
		m = 1e9;
	if (m != 1)
		end++;
	if (strcmp(end, "bit") == 0)
		end += 3;
	return *end == '\0' ? (uint64_t)(v * m + 0.5) : 0;
}

uint64_t inc_parse_bytes(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;
	if (end == s)
		return 0;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'm' || *end == 'M')
		shift = 20;
	if (shift != 0)
		end++;
	return *end == '\0' && v < (1ull << 40) ? (uint64_t)v << shift : 0;
}

uint64_t inc_link_rate(const char *link)
{
	char buf[64];
	const char *p = link;
	while (p != NULL && *p != '\0') {
		if (strncmp(p, "rate=", 5) == 0) {
			size_t n = strcspn(p + 5, ",");
			if (n >= sizeof(buf))
				return 0;
			memcpy(buf, p + 5, n);
			buf[n] = '\0';
			return inc_parse_bits(buf);
		}
		p = strchr(p, ',');
		p = p != NULL ? p + 1 : NULL;
	}
	return 0;
}

uint64_t inc_udp_rcvbuf_errors(void)
{
	char hdr[1024], val[1024];
	FILE *f = fopen("/proc/net/snmp", "r");
	uint64_t r = UINT64_MAX;
	if (f == NULL)
		return r;
	while (fgets(hdr, sizeof(hdr), f) != NULL && fgets(val, sizeof(val), f) != NULL) {
		if (strncmp(hdr, "Udp: ", 5) != 0)
			continue;
		char *sh, *sv, *h = strtok_r(hdr, " \n", &sh), *v = strtok_r(val, " \n", &sv);
		while (h != NULL && v != NULL) {
			if (strcmp(h, "RcvbufErrors") == 0)
				r = strtoull(v, NULL, 10);
			h = strtok_r(NULL, " \n", &sh);
			v = strtok_r(NULL, " \n", &sv);
		}
		break;
	}
	fclose(f);
	return r;
}

uint64_t inc_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * INC_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int pin(int cpu)
{
	cpu_set_t set;
	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static double parse_secs(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	return end != s && *end == '\0' && v >= 0 && v < 1e6 ? v : -1;
}

static int parse_opts(int argc, char **argv, struct inc_opts *o)
{
	enum { O_DRIVER = 256, O_BIND, O_CONNECT, O_CLIENT_IP, O_LINK, O_RATE, O_FAULTS,
	       O_SERVER_ARGS, O_SENDERS, O_ENDPOINTS, O_SIZE, O_DEPTH, O_VICTIM, O_VICTIM_SIZE,
	       O_DURATION, O_WARMUP, O_TIMEOUT, O_RTO, O_RTO_MAX, O_NOCC, O_CCT, O_SCPU, O_CCPU, O_JSON, O_QUIET, O_CHECK,
	       O_MAX_FAILED, O_MAX_RESEND, O_MIN_JAIN, O_MIN_GOODPUT, O_ROW, O_ONE_THREAD, O_SIM_STEP, O_HELP };
	static const struct option lo[] = {
		{"driver", 1, 0, O_DRIVER}, {"bind", 1, 0, O_BIND}, {"connect", 1, 0, O_CONNECT},
		{"client-ip", 1, 0, O_CLIENT_IP}, {"link", 1, 0, O_LINK}, {"rate", 1, 0, O_RATE},
		{"faults", 1, 0, O_FAULTS}, {"server-args", 1, 0, O_SERVER_ARGS},
		{"senders", 1, 0, O_SENDERS}, {"endpoints", 1, 0, O_ENDPOINTS},
		{"size", 1, 0, O_SIZE}, {"depth", 1, 0, O_DEPTH}, {"victim", 0, 0, O_VICTIM},
		{"victim-size", 1, 0, O_VICTIM_SIZE}, {"duration", 1, 0, O_DURATION},
		{"warmup", 1, 0, O_WARMUP}, {"timeout", 1, 0, O_TIMEOUT},
		{"rto-min-us", 1, 0, O_RTO}, {"rto-max-us", 1, 0, O_RTO_MAX}, {"no-cc", 0, 0, O_NOCC},
		{"cc-target-us", 1, 0, O_CCT},
		{"server-cpu", 1, 0, O_SCPU},
		{"client-cpu", 1, 0, O_CCPU}, {"json", 0, 0, O_JSON}, {"quiet", 0, 0, O_QUIET},
		{"check", 0, 0, O_CHECK}, {"max-failed", 1, 0, O_MAX_FAILED},
		{"max-resend", 1, 0, O_MAX_RESEND}, {"min-jain", 1, 0, O_MIN_JAIN},
		{"min-goodput", 1, 0, O_MIN_GOODPUT},
		{"row", 1, 0, O_ROW}, {"one-thread", 0, 0, O_ONE_THREAD},
		{"sim-step-ns", 1, 0, O_SIM_STEP}, {"help", 0, 0, O_HELP}, {0, 0, 0, 0},
	};
	double dur = -2, warm = 0.5, tmo = 10;
	long long endpoints = 0, scpu = -2, ccpu = -2;
	uint64_t v;
	int c;

	if (argc < 2) {
		usage(stderr);
		return -EINVAL;
	}
	if (strcmp(argv[1], "local") == 0)
		o->mode = INC_LOCAL;
	else if (strcmp(argv[1], "server") == 0)
		o->mode = INC_SERVER;
	else if (strcmp(argv[1], "client") == 0)
		o->mode = INC_CLIENT;
	else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		exit(0);
	} else {
		usage(stderr);
		return -EINVAL;
	}
	o->bind = "127.0.0.1:7300";
	o->client_ip = "127.0.0.1";
	o->senders = 8;
	o->depth = 1;
	o->size = 1u << 20;
	o->victim_size = 32;
	o->max_failed = -1;
	o->max_resend = -1;
	o->min_jain = -1;
	o->min_goodput = -1;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_DRIVER: o->driver = optarg; break;
		case O_BIND: o->bind = optarg; break;
		case O_CONNECT: o->connect = optarg; break;
		case O_CLIENT_IP: o->client_ip = optarg; break;
		case O_LINK: o->link = optarg; break;
		case O_RATE:
			if ((o->rate = inc_parse_bits(optarg)) == 0)
				goto bad;
			break;
		case O_FAULTS: o->faults = optarg; break;
		case O_SERVER_ARGS: o->server_args = optarg; break;
		case O_SENDERS:
			v = strtoull(optarg, NULL, 10);
			if (v < 1 || v > INC_MAX_SENDERS)
				goto bad;
			o->senders = (uint32_t)v;
			break;
		case O_ENDPOINTS: endpoints = strtoll(optarg, NULL, 10); break;
		case O_SIZE:
			if ((v = inc_parse_bytes(optarg)) < INC_HDR_LEN || v > (64u << 20))
				goto bad;
			o->size = (uint32_t)v;
			break;
		case O_DEPTH:
			v = strtoull(optarg, NULL, 10);
			if (v < 1 || v > 64)
				goto bad;
			o->depth = (uint32_t)v;
			break;
		case O_VICTIM: o->victim = true; break;
		case O_VICTIM_SIZE:
			if ((v = inc_parse_bytes(optarg)) < INC_HDR_LEN || v > (1u << 20))
				goto bad;
			o->victim_size = (uint32_t)v;
			break;
		case O_DURATION: dur = parse_secs(optarg); break;
		case O_WARMUP: warm = parse_secs(optarg); break;
		case O_TIMEOUT: tmo = parse_secs(optarg); break;
		case O_RTO: o->rto_min_ns = strtoull(optarg, NULL, 10) * 1000; break;
		case O_NOCC: o->no_cc = 1; break;
		case O_CCT: o->cc_target_ns = strtoull(optarg, NULL, 10) * 1000; break;
		case O_RTO_MAX: o->rto_max_ns = strtoull(optarg, NULL, 10) * 1000; break;
		case O_SCPU: scpu = strtoll(optarg, NULL, 10); break;
		case O_CCPU: ccpu = strtoll(optarg, NULL, 10); break;
		case O_JSON: o->json = true; break;
		case O_ROW: o->row = optarg; break;
		case O_ONE_THREAD: o->one_thread = true; break;
		case O_SIM_STEP:
			v = strtoull(optarg, NULL, 10);
			if (!inc_sim_build || v < 1 || v > 1000000)
				goto bad;
			inc_sim_step_ns = v;
			break;
		case O_QUIET: o->quiet = true; break;
		case O_CHECK: o->check = true; break;
		case O_MAX_FAILED: o->max_failed = strtoll(optarg, NULL, 10); break;
		case O_MAX_RESEND: o->max_resend = parse_secs(optarg); break;
		case O_MIN_JAIN: o->min_jain = parse_secs(optarg); break;
		case O_MIN_GOODPUT: o->min_goodput = parse_secs(optarg); break;
		case O_HELP: usage(stdout); exit(0);
		default: goto bad;
		}
	}
	if (optind != argc || dur == -1 || warm < 0 || tmo <= 0)
		goto bad;
	if (inc_sim_build) {
		if (o->mode != INC_LOCAL) {
			fprintf(stderr, "tern-incast-sim: local mode only\n");
			goto bad;
		}
		o->one_thread = true;
	}
	if (dur == -2)
		dur = o->mode == INC_SERVER ? 0 : 5;
	if (o->mode != INC_SERVER && dur <= 0)
		goto bad;
	o->duration_ns = (uint64_t)(dur * 1e9);
	o->warmup_ns = (uint64_t)(warm * 1e9);
	o->timeout_ns = (uint64_t)(tmo * 1e9);
	if (endpoints < 0 || endpoints > o->senders)
		goto bad;
	o->endpoints = endpoints != 0 ? (uint32_t)endpoints : (o->senders < 8 ? o->senders : 8);
	if (o->driver == NULL)
		o->driver = o->mode == INC_LOCAL ? "loop" : "udp";
	if (o->mode == INC_LOCAL && strcmp(o->driver, "loop") == 0 && o->server_args == NULL)
		o->server_args = "ring=8192";
	if (o->connect == NULL)
		o->connect = o->bind;
	if (o->rate == 0 && o->link != NULL)
		o->rate = inc_link_rate(o->link);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	bool two = o->mode == INC_LOCAL && !o->one_thread && ncpu >= 2;
	o->server_cpu = (int)(scpu != -2 ? scpu : (two ? 0 : -1));
	o->client_cpu = (int)(ccpu != -2 ? ccpu : (two ? 1 : -1));
	return 0;
bad:
	fprintf(stderr, "tern-incast: bad arguments\n");
	usage(stderr);
	return -EINVAL;
}

/* --- local: the server on a thread of its own --- */

struct srv_thread {
	const struct inc_opts *o;
	_Atomic int ready; /* 1: up (addr valid), -1: failed */
	_Atomic int stop;
	int err;
	char addr[128];
	struct inc_server_res res;
};

static void *server_main(void *arg)
{
	struct srv_thread *t = arg;
	struct inc_server *sv;
	int rc = pin(t->o->server_cpu);
	if (rc != 0)
		fprintf(stderr, "tern-incast: pin server to CPU %d: %s\n", t->o->server_cpu,
			strerror(-rc));
	rc = inc_server_create(t->o, &sv, t->addr, sizeof(t->addr));
	if (rc != 0) {
		t->err = rc;
		atomic_store(&t->ready, -1);
		return NULL;
	}
	atomic_store(&t->ready, 1);
	inc_server_run(sv, &t->stop, 0);
	inc_server_destroy(sv, &t->res);
	return NULL;
}

/* local, one thread: the server endpoint is polled by the client loop. */
static int run_one_thread(const struct inc_opts *o)
{
	static struct inc_client_res c;
	static struct inc_server_res v;
	struct inc_sender *s = NULL;
	struct inc_server *sv;
	char addr[128];
	int rc = pin(o->client_cpu);

	if (rc != 0)
		fprintf(stderr, "tern-incast: pin to CPU %d: %s\n", o->client_cpu, strerror(-rc));
	rc = inc_server_create(o, &sv, addr, sizeof(addr));
	if (rc != 0) {
		fprintf(stderr, "tern-incast: server: %s\n", strerror(-rc));
		return 1;
	}
	rc = inc_clients_run(o, addr, inc_server_ep(sv), &s, &c);
	inc_server_destroy(sv, &v);
	v.cpu = c.cpu;
	bool ok = rc == 0;
	if (ok)
		inc_report(o, s, &c, &v);
	if (ok && o->check)
		ok = inc_check(o, s, &c, &v);
	inc_senders_free(s, o->senders + (o->victim ? 1 : 0));
	return ok ? 0 : 1;
}

static int run_local(const struct inc_opts *o)
{
	static struct srv_thread t; /* large (the result holds tern_stats): not on the stack */
	static struct inc_client_res c;
	struct inc_sender *s = NULL;
	pthread_t th;
	int rc;

	if (o->one_thread)
		return run_one_thread(o);
	t.o = o;
	if (pthread_create(&th, NULL, server_main, &t) != 0)
		return 1;
	while (atomic_load(&t.ready) == 0)
		sched_yield();
	if (atomic_load(&t.ready) < 0) {
		pthread_join(th, NULL);
		fprintf(stderr, "tern-incast: server: %s\n", strerror(-t.err));
		return 1;
	}
	if ((rc = pin(o->client_cpu)) != 0)
		fprintf(stderr, "tern-incast: pin clients to CPU %d: %s\n", o->client_cpu,
			strerror(-rc));
	rc = inc_clients_run(o, t.addr, NULL, &s, &c);
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);
	bool ok = rc == 0;
	if (ok)
		inc_report(o, s, &c, &t.res);
	if (ok && o->check)
		ok = inc_check(o, s, &c, &t.res);
	inc_senders_free(s, o->senders + (o->victim ? 1 : 0));
	return ok ? 0 : 1;
}

static int run_server(const struct inc_opts *o)
{
	static struct inc_server_res res;
	struct inc_server *sv;
	char addr[128];
	int rc = pin(o->server_cpu);
	if (rc != 0)
		fprintf(stderr, "tern-incast: pin to CPU %d: %s\n", o->server_cpu, strerror(-rc));
	rc = inc_server_create(o, &sv, addr, sizeof(addr));
	if (rc != 0) {
		fprintf(stderr, "tern-incast: server on %s: %s\n", o->bind, strerror(-rc));
		return 1;
	}
	if (!o->quiet)
		fprintf(stderr, "tern-incast: server on %s (driver %s%s%s)\n", addr, o->driver,
			o->link ? ", link " : "", o->link ? o->link : "");
	inc_server_run(sv, NULL, o->duration_ns != 0 ? tern_now_ns() + o->duration_ns : 0);
	inc_server_destroy(sv, &res);
	inc_report_server(o, &res);
	return 0;
}

static int run_client(const struct inc_opts *o)
{
	static struct inc_client_res c;
	struct inc_sender *s = NULL;
	int rc = pin(o->client_cpu);
	if (rc != 0)
		fprintf(stderr, "tern-incast: pin to CPU %d: %s\n", o->client_cpu, strerror(-rc));
	rc = inc_clients_run(o, o->connect, NULL, &s, &c);
	if (rc == 0)
		inc_report(o, s, &c, NULL);
	inc_senders_free(s, o->senders + (o->victim ? 1 : 0));
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static struct inc_opts o;
	struct sigaction sa;

	if (parse_opts(argc, argv, &o) != 0)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (o.mode) {
	case INC_LOCAL:
		return run_local(&o);
	case INC_SERVER:
		return run_server(&o);
	default:
		return run_client(&o);
	}
}
