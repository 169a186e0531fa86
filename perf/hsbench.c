/*
 * hsbench — what an authenticated connect costs: open and close N secure
 * sessions and print connects per second, the connect latency, and (when
 * it runs the server too) the server thread's CPU time per handshake
 * (getrusage RUSAGE_THREAD), from which one server endpoint's capacity
 * follows (1 s / CPU per handshake).
 *
 *   hsbench [--count N] [--clients C] [--window W] [--pattern ik|ikpsk1|nnpsk0]
 *           [--protection none|integrity|privacy] [--driver udp|loop]
 *           [--load L] [--port P]
 *       a server endpoint in one thread and C client threads (own endpoints,
 *       ports P+1..), each opening and closing N/C sessions, W at a time;
 *       keys made by tern_keygen in a temporary directory (IK, IKpsk1: a
 *       key pair each, the client's on the server's allow-list). Server and
 *       clients wait in the driver (busy_poll 0), so the server's CPU time
 *       is its work. --load sets the server's handshake_load (default the
 *       library's: over it, cookies are asked for; the per-address rate is
 *       raised so the benchmark's one address is not limited).
 *   hsbench --connect HOST:PORT [--peer-key F] [--key F] [--psk F] [--protection L]
 *           [--count N] [--window W] [--timeout-ms T]
 *       clients only, against a running server (tern-perf server ...):
 *       connects/s and connect latency, and how many failed.
 *
 * Every loop is bounded (a connect gives up after its timeout); the machine
 * running it should be otherwise idle for figures that mean something.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tern.h"

struct opts {
	unsigned count, clients, window, port, timeout_ms;
	uint32_t protection, load;
	const char *driver, *connect, *peer_key, *key, *psk;
	int pattern; /* 0 ik, 1 ikpsk1, 2 nnpsk0 */
};

static struct opts o = {.count = 2000, .clients = 1, .window = 8, .port = 31900,
			.timeout_ms = 3000, .driver = "udp"};

static char dir[64], srv_key[128], srv_pub[128], cli_key[128], cli_pub[128], psk[128],
	allow[128];
static _Atomic int clients_ready, clients_done, go, stop;

static void usage(void)
{
	fprintf(stderr, "usage: hsbench [--count N] [--clients C] [--window W] [--pattern "
			"ik|ikpsk1|nnpsk0]\n"
			"               [--protection none|integrity|privacy] [--driver udp|loop] "
			"[--load L] [--port P]\n"
			"       hsbench --connect HOST:PORT [--peer-key F] [--key F] [--psk F] "
			"[--protection L]\n"
			"               [--count N] [--window W] [--timeout-ms T]\n");
}

static uint64_t thread_cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* --- keys ---------------------------------------------------------------------------- */

static int make_keys(void)
{
	snprintf(dir, sizeof(dir), "/tmp/tern-hsbench-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	char base[96];
	snprintf(base, sizeof(base), "%s/srv", dir);
	int rc = tern_keygen(base);
	snprintf(base, sizeof(base), "%s/cli", dir);
	rc |= tern_keygen(base);
	snprintf(base, sizeof(base), "%s/psk", dir);
	rc |= tern_keygen(base);
	snprintf(srv_key, sizeof(srv_key), "%s/srv.key", dir);
	snprintf(srv_pub, sizeof(srv_pub), "%s/srv.pub", dir);
	snprintf(cli_key, sizeof(cli_key), "%s/cli.key", dir);
	snprintf(cli_pub, sizeof(cli_pub), "%s/cli.pub", dir);
	snprintf(psk, sizeof(psk), "%s/psk.key", dir);
	snprintf(allow, sizeof(allow), "%s/allow", dir);
	FILE *f = fopen(cli_pub, "r"), *a = fopen(allow, "w");
	char line[128];
	if (rc != 0 || f == NULL || a == NULL || fgets(line, sizeof(line), f) == NULL ||
	    fputs(line, a) < 0)
		rc = -1;
	if (f != NULL)
		fclose(f);
	if (a != NULL && fclose(a) != 0)
		rc = -1;
	return rc;
}

static void remove_keys(void)
{
	const char *names[] = {"srv.key", "srv.pub", "cli.key", "cli.pub", "psk.key", "psk.pub",
			       "allow"};
	char p[160];
	if (dir[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* bind: the caller's buffer for the address, which the endpoint keeps using. */
static void base_config(struct tern_ep_config *c, char bind[32], unsigned port)
{
	tern_ep_config_init(c);
	c->driver = o.driver;
	snprintf(bind, 32, "127.0.0.1:%u", port);
	c->bind = bind;
	c->busy_poll = 0;
	c->max_sessions = 1024;
	c->protection = o.protection;
	c->connect_timeout_ns = (uint64_t)o.timeout_ms * 1000000ull;
}

/* --- the server thread ------------------------------------------------------------------ */

struct server {
	struct tern_ep *ep;
	char bind[32];
	uint64_t cpu_ns;
	struct tern_stats st;
	int rc;
};

static void *server_main(void *arg)
{
	struct server *sv = arg;
	while (!atomic_load(&go) && !atomic_load(&stop))
		tern_poll_wait(sv->ep, 1000000);
	uint64_t c0 = thread_cpu_ns();
	while (!atomic_load(&stop))
		tern_poll_wait(sv->ep, 1000000);
	sv->cpu_ns = thread_cpu_ns() - c0;
	tern_ep_stats(sv->ep, &sv->st);
	return NULL;
}

/* --- clients ------------------------------------------------------------------------------- */

struct client {
	unsigned id, n;
	struct tern_ep *ep;
	char bind[32];
	const char *target;
	uint64_t *lat; /* per connect, ns */
	unsigned nlat, failed;
	int rc;
};

struct slot {
	struct tern_session *s;
	uint64_t t0;
};

/* Open and close c->n sessions, o.window at a time. */
static void run_client(struct client *c)
{
	struct slot *w = calloc(o.window, sizeof(*w));
	if (w == NULL) {
		c->rc = -ENOMEM;
		return;
	}
	unsigned started = 0, ended = 0;
	uint64_t deadline = tern_now_ns() + (uint64_t)c->n * o.timeout_ms * 1000000ull + 10000000000ull;
	while (ended < c->n && tern_now_ns() < deadline) {
		for (unsigned i = 0; i < o.window; i++) {
			if (w[i].s == NULL && started < c->n) {
				w[i].t0 = tern_now_ns();
				int rc = tern_connect(c->ep, c->target, &w[i].s);
				if (rc != 0) {
					fprintf(stderr, "hsbench: tern_connect: %s\n", strerror(-rc));
					c->rc = rc;
					goto out;
				}
				started++;
			}
		}
		tern_poll_wait(c->ep, 1000000);
		for (unsigned i = 0; i < o.window; i++) {
			if (w[i].s == NULL)
				continue;
			int st = tern_session_state(w[i].s);
			if (st == TERN_SS_CONNECTING)
				continue;
			if (st == TERN_SS_CONNECTED)
				c->lat[c->nlat++] = tern_now_ns() - w[i].t0;
			else
				c->failed++;
			tern_session_close(w[i].s);
			w[i].s = NULL;
			ended++;
		}
	}
out:
	for (unsigned i = 0; i < o.window; i++)
		if (w[i].s != NULL)
			tern_session_close(w[i].s);
	for (int i = 0; i < 20; i++) /* let the DISCONNECTs out */
		tern_poll_wait(c->ep, 1000000);
	free(w);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	atomic_fetch_add(&clients_ready, 1);
	while (!atomic_load(&go))
		tern_poll_wait(c->ep, 1000000);
	run_client(c);
	atomic_fetch_add(&clients_done, 1);
	return NULL;
}

static int client_ep(struct client *c, unsigned port, int standalone)
{
	struct tern_ep_config cfg;
	base_config(&cfg, c->bind, port);
	if (standalone) {
		cfg.peer_key_file = o.peer_key;
		cfg.key_file = o.key;
		cfg.psk_file = o.psk;
	} else {
		cfg.peer_key_file = o.pattern != 2 ? srv_pub : NULL;
		cfg.key_file = o.pattern != 2 ? cli_key : NULL;
		cfg.psk_file = o.pattern != 0 ? psk : NULL;
	}
	int rc = tern_ep_create(&cfg, &c->ep);
	if (rc != 0)
		fprintf(stderr, "hsbench: client endpoint on port %u: %s\n", port, strerror(-rc));
	return rc;
}

static void report(struct client *cl, unsigned nc, double secs, const struct server *sv)
{
	unsigned total = 0, failed = 0;
	for (unsigned i = 0; i < nc; i++) {
		total += cl[i].nlat;
		failed += cl[i].failed;
	}
	uint64_t *all = malloc(((size_t)total + 1) * sizeof(*all));
	unsigned k = 0;
	for (unsigned i = 0; all != NULL && i < nc; i++)
		for (unsigned j = 0; j < cl[i].nlat; j++)
			all[k++] = cl[i].lat[j];
	if (all != NULL && total != 0)
		qsort(all, total, sizeof(*all), cmp64);
	printf("connects %u failed %u in %.3f s: %.0f connects/s\n", total, failed, secs,
	       total / secs);
	if (all != NULL && total != 0)
		printf("connect latency us: p50 %.0f p99 %.0f max %.0f\n", all[total / 2] / 1e3,
		       all[(size_t)(total * 0.99)] / 1e3, all[total - 1] / 1e3);
	if (sv != NULL && sv->st.hs_ok != 0)
		printf("server: %llu handshakes, CPU %.1f us per handshake (one endpoint: %.0f "
		       "handshakes/s), cookies sent %llu, drops handshake %llu ratelimit %llu\n",
		       (unsigned long long)sv->st.hs_ok, sv->cpu_ns / 1e3 / (double)sv->st.hs_ok,
		       1e9 * (double)sv->st.hs_ok / (double)sv->cpu_ns,
		       (unsigned long long)sv->st.hs_cookies_sent,
		       (unsigned long long)sv->st.drops[TERN_DROP_HANDSHAKE],
		       (unsigned long long)sv->st.drops[TERN_DROP_RATELIMIT]);
	free(all);
}

static int parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"count", required_argument, NULL, 'n'},   {"clients", required_argument, NULL, 'c'},
		{"window", required_argument, NULL, 'w'},  {"pattern", required_argument, NULL, 'P'},
		{"protection", required_argument, NULL, 'L'}, {"driver", required_argument, NULL, 'd'},
		{"load", required_argument, NULL, 'l'},    {"port", required_argument, NULL, 'p'},
		{"connect", required_argument, NULL, 'C'}, {"peer-key", required_argument, NULL, 'K'},
		{"key", required_argument, NULL, 'k'},     {"psk", required_argument, NULL, 's'},
		{"timeout-ms", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'n': o.count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': o.clients = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': o.window = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': o.load = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'p': o.port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': o.timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': o.driver = optarg; break;
		case 'C': o.connect = optarg; break;
		case 'K': o.peer_key = optarg; break;
		case 'k': o.key = optarg; break;
		case 's': o.psk = optarg; break;
		case 'P':
			o.pattern = !strcmp(optarg, "ik") ? 0 : !strcmp(optarg, "ikpsk1") ? 1
				    : !strcmp(optarg, "nnpsk0") ? 2 : -1;
			if (o.pattern < 0)
				return -1;
			break;
		case 'L':
			o.protection = !strcmp(optarg, "none") ? TERN_PROT_NONE
				       : !strcmp(optarg, "integrity") ? TERN_PROT_INTEGRITY
				       : !strcmp(optarg, "privacy") ? TERN_PROT_PRIVACY : 99;
			if (o.protection == 99)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (o.count == 0 || o.clients == 0 || o.clients > 15 || o.window == 0 || o.window > 256 ||
	    optind != argc)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (parse(argc, argv) != 0) {
		usage();
		return 2;
	}
	int standalone = o.connect != NULL;
	unsigned nc = standalone ? 1 : o.clients;
	struct client *cl = calloc(nc, sizeof(*cl));
	struct server sv = {0};
	pthread_t st, ct[16];
	int rc = 1;
	char target[64];
	if (cl == NULL)
		return 1;
	if (!standalone) {
		if (make_keys() != 0) {
			fprintf(stderr, "hsbench: cannot make keys in %s\n", dir);
			goto out;
		}
		struct tern_ep_config cfg;
		base_config(&cfg, sv.bind, o.port);
		cfg.key_file = o.pattern != 2 ? srv_key : NULL;
		cfg.allow_file = o.pattern != 2 ? allow : NULL;
		cfg.psk_file = o.pattern != 0 ? psk : NULL;
		cfg.handshake_load = o.load;
		cfg.handshake_rate = 100000000; /* one address: the benchmark's */
		int e = tern_ep_create(&cfg, &sv.ep);
		if (e != 0) {
			fprintf(stderr, "hsbench: server endpoint: %s\n", strerror(-e));
			goto out;
		}
		tern_ep_addr(sv.ep, target, sizeof(target));
	} else {
		snprintf(target, sizeof(target), "%s", o.connect);
	}
	for (unsigned i = 0; i < nc; i++) {
		cl[i].id = i;
		cl[i].n = o.count / nc + (i < o.count % nc);
		cl[i].target = target;
		cl[i].lat = calloc(cl[i].n + 1, sizeof(*cl[i].lat));
		if (cl[i].lat == NULL || client_ep(&cl[i], o.port + 1 + i, standalone) != 0)
			goto out;
	}
	if (!standalone && pthread_create(&st, NULL, server_main, &sv) != 0)
		goto out;
	for (unsigned i = 0; i < nc; i++)
		if (pthread_create(&ct[i], NULL, client_main, &cl[i]) != 0) {
			atomic_store(&stop, 1);
			atomic_store(&go, 1);
			for (unsigned j = 0; j < i; j++)
				pthread_join(ct[j], NULL);
			goto join_server;
		}
	while (atomic_load(&clients_ready) < (int)nc)
		usleep(1000);
	uint64_t t0 = tern_now_ns();
	atomic_store(&go, 1);
	for (unsigned i = 0; i < nc; i++)
		pthread_join(ct[i], NULL);
	double secs = (tern_now_ns() - t0) / 1e9;
	atomic_store(&stop, 1);
	rc = 0;
join_server:
	if (!standalone)
		pthread_join(st, NULL);
	if (rc == 0) {
		for (unsigned i = 0; i < nc; i++)
			rc |= cl[i].rc != 0;
		report(cl, nc, secs, standalone ? NULL : &sv);
	}
out:
	for (unsigned i = 0; i < nc; i++) {
		if (cl[i].ep != NULL)
			tern_ep_destroy(cl[i].ep);
		free(cl[i].lat);
	}
	free(cl);
	if (sv.ep != NULL)
		tern_ep_destroy(sv.ep);
	remove_keys();
	return rc;
}
