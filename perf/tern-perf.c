/*
 * tern-perf — tern's latency/throughput client and echo server.
 *
 *   tern-perf server --driver udp --bind 127.0.0.1:31850
 *   tern-perf client --driver udp --connect 127.0.0.1:31850 --size 32 --count 100000 [--json]
 *   tern-perf selftest --driver loop --count 20000     (both ends in one thread)
 *
 * (tern-perf --help has every option.) This file runs the threads: one
 * worker per --threads, each owning its endpoint(s) as tern requires, bound
 * to port+i and dpdk queue i, optionally pinned. Workers are started one at
 * a time — each creates its endpoint(s) and connects, then reports ready —
 * so the first endpoint initialises DPDK's EAL from a known thread and a
 * setup failure stops everything before anything is measured. Clients then
 * wait at a start gate (polling, so their sessions stay alive) until every
 * thread is ready; servers start serving at once.
 *
 * Signals: SIGINT/SIGTERM only count into perf_signals; every loop polls it.
 * A server exits at the first (status 0: that is how it is stopped); a
 * client stops issuing at the first, drains, reports the partial result,
 * says it was interrupted and exits 128 + the signal, and at the second
 * cancels what is still in flight.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perf.h"

volatile sig_atomic_t perf_signals;
volatile sig_atomic_t perf_signo;
_Atomic int perf_go;
struct perf_worker *perf_workers;
unsigned perf_nworkers;

static void on_signal(int sig)
{
	if (perf_signals == 0)
		perf_signo = sig;
	perf_signals++;
}

static int install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART needed: every wait in tern-perf is bounded and rechecks the flag. */
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
		perror("tern-perf: sigaction");
		return -1;
	}
	return 0;
}

/* --- endpoint configuration and hooks ---------------------------------------------- */

static void log_hook(void *ctx, int level, const char *msg)
{
	const struct perf_worker *w = ctx;
	int max = w->o->quiet ? TERN_LOG_ERR
			      : w->o->verbose >= 2 ? TERN_LOG_DEBUG
			      : w->o->verbose == 1 ? TERN_LOG_INFO
						   : TERN_LOG_WARN;
	if (level > max)
		return;
	const char *lv = level <= TERN_LOG_ERR ? "error" : level <= TERN_LOG_WARN ? "warning"
							 : level <= TERN_LOG_INFO ? "info" : "debug";
	if (perf_nworkers > 1)
		fprintf(stderr, "tern-perf: thread %u: tern %s: %s\n", w->id, lv, msg);
	else
		fprintf(stderr, "tern-perf: tern %s: %s\n", lv, msg);
}

static void session_hook(struct tern_session *s, enum tern_session_event ev, int err, void *ctx)
{
	const struct perf_worker *w = ctx;
	/* selftest shares this hook between its client and server endpoints */
	bool server_side = w->o->cmd == PERF_CMD_SERVER || tern_session_ep(s) == w->srv;
	bool loud = server_side ? w->o->verbose > 0 : !w->o->quiet;
	char peer[128] = "?";
	tern_session_peer(s, peer, sizeof(peer));
	switch (ev) {
	case TERN_SESSION_RESET:
	case TERN_SESSION_DEAD:
		/* A client's calls fail after this: always say why. */
		if (loud || !server_side)
			fprintf(stderr, "tern-perf: session with %s %s: %s\n", peer,
				ev == TERN_SESSION_RESET ? "reset (peer restarted?)" : "dead (peer silent)",
				strerror(-err));
		break;
	case TERN_SESSION_CLOSED:
		/* -ECANCELED is our own close; anything else came from the peer. */
		if (err != -ECANCELED && loud)
			fprintf(stderr, "tern-perf: session with %s closed by the peer\n", peer);
		break;
	case TERN_SESSION_ACCEPTED:
		if (loud)
			fprintf(stderr, "tern-perf: session from %s accepted\n", peer);
		break;
	default:
		break;
	}
}

void perf_ep_config(const struct perf_opts *o, struct tern_ep_config *cfg, const char *bind,
		    unsigned queue, struct perf_worker *w)
{
	tern_ep_config_init(cfg);
	cfg->driver = o->driver;
	cfg->bind = bind;
	cfg->driver_args = o->driver_args;
	cfg->eal = o->eal;
	cfg->faults = o->faults;
	cfg->key_file = o->key;
	cfg->peer_key_file = o->peer_key;
	cfg->allow_file = o->allow;
	cfg->psk_file = o->psk;
	cfg->protection = o->protection;
	cfg->queue = queue;
	cfg->busy_poll = o->busy_poll;
	cfg->mtu = o->mtu;
	cfg->max_msg_size = o->max_msg;
	if (o->slots != 0)
		cfg->slots = o->slots;
	if (o->max_sessions != 0)
		cfg->max_sessions = o->max_sessions;
	else if (o->sessions > cfg->max_sessions)
		cfg->max_sessions = o->sessions;
	if (o->credits != 0)
		cfg->credits = o->credits;
	cfg->rto_min_ns = (uint64_t)o->rto_min_us * 1000;
	if (o->no_coalesce_cr)
		cfg->flags |= TERN_EP_NO_COALESCE_CR;
	if (o->cc)
		cfg->flags |= TERN_EP_CC;
	cfg->call_timeout_ns = o->timeout_ns;
	cfg->connect_timeout_ns = o->connect_timeout_ns;
	cfg->log = log_hook;
	cfg->log_ctx = w;
	cfg->on_session = session_hook;
	cfg->session_ctx = w;
}

/* --- threads -------------------------------------------------------------------------- */

void perf_pin(struct perf_worker *w)
{
	if (w->cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (rc != 0)
		fprintf(stderr, "tern-perf: thread %u: cannot pin to CPU %d: %s\n", w->id, w->cpu,
			strerror(rc));
}

/* CPU of thread i: --cpus, else (with several threads) the CPUs we may run on, in order. */
static int cpu_for(const struct perf_opts *o, unsigned i, const cpu_set_t *allowed)
{
	if (o->ncpus != 0)
		return o->cpus[i % o->ncpus];
	if (o->threads == 1)
		return -1; /* leave it to taskset or the EAL's -l */
	int n = CPU_COUNT(allowed);
	if (n <= 0)
		return -1;
	unsigned k = i % (unsigned)n;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, allowed) && k-- == 0)
			return c;
	return -1;
}

static void *client_main(void *arg)
{
	struct perf_worker *w = arg;
	perf_pin(w);
	int rc = perf_client_setup(w);
	if (rc != 0) {
		w->exit_code = rc;
		perf_client_teardown(w);
		atomic_store(&w->state, -1);
		return NULL;
	}
	perf_pin(w); /* again: DPDK's EAL init pins its thread to -l's main lcore */
	atomic_store(&w->state, 1);
	while (atomic_load(&perf_go) == 0)
		perf_client_idle(w);
	if (atomic_load(&perf_go) > 0)
		perf_client_run(w);
	perf_client_teardown(w);
	return NULL;
}

static void *server_main(void *arg)
{
	struct perf_worker *w = arg;
	perf_pin(w);
	int rc = perf_server_setup(w);
	if (rc != 0) {
		w->exit_code = rc;
		perf_server_teardown(w);
		atomic_store(&w->state, -1);
		return NULL;
	}
	perf_pin(w);
	atomic_store(&w->state, 1);
	perf_server_run(w);
	perf_server_teardown(w);
	return NULL;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int worker_init(const struct perf_opts *o, struct perf_worker *w, unsigned i,
		       const cpu_set_t *allowed)
{
	w->id = i;
	w->o = o;
	w->cpu = cpu_for(o, i, allowed);
	atomic_init(&w->state, 0);
	if (o->bind != NULL && perf_addr_offset(o->bind, i, w->bind, sizeof(w->bind)) != 0)
		return -EINVAL;
	if (o->connect != NULL && perf_addr_offset(o->connect, i, w->connect, sizeof(w->connect)) != 0)
		return -EINVAL;
	/* Count mode: split the count, the first threads taking the remainder. */
	w->target = o->count / o->threads + (i < o->count % o->threads ? 1 : 0);
	w->warmup = o->warmup;
	return 0;
}

/* Start the workers one by one; 0, or the exit code of the first that failed. */
static int start_workers(const struct perf_opts *o, struct perf_worker *ws, unsigned *started)
{
	void *(*fn)(void *) = o->cmd == PERF_CMD_SERVER ? server_main : client_main;
	for (unsigned i = 0; i < o->threads; i++) {
		struct perf_worker *w = &ws[i];
		int rc = pthread_create(&w->tid, NULL, fn, w);
		if (rc != 0) {
			fprintf(stderr, "tern-perf: pthread_create: %s\n", strerror(rc));
			return PERF_EXIT_SETUP;
		}
		*started = i + 1;
		while (atomic_load(&w->state) == 0)
			sleep_ms(1); /* setup is bounded: the connect timeout */
		if (atomic_load(&w->state) < 0)
			return w->exit_code != 0 ? w->exit_code : PERF_EXIT_SETUP;
	}
	return 0;
}

static void print_listening(const struct perf_opts *o, const struct perf_worker *ws)
{
	if (o->quiet)
		return;
	for (unsigned i = 0; i < o->threads; i++)
		printf("tern-perf server: listening on %s (driver %s%s)\n", ws[i].addr, o->driver,
		       o->busy_poll ? ", busy-polling" : "");
	fflush(stdout);
}

static int run(const struct perf_opts *o)
{
	cpu_set_t allowed;
	CPU_ZERO(&allowed);
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		CPU_ZERO(&allowed);
	struct perf_worker *ws = calloc(o->threads, sizeof(*ws));
	if (ws == NULL) {
		fprintf(stderr, "tern-perf: out of memory\n");
		return PERF_EXIT_SETUP;
	}
	perf_workers = ws;
	perf_nworkers = o->threads;
	for (unsigned i = 0; i < o->threads; i++) {
		if (worker_init(o, &ws[i], i, &allowed) != 0) {
			fprintf(stderr, "tern-perf: bad address for thread %u\n", i);
			free(ws);
			return PERF_EXIT_SETUP;
		}
	}
	unsigned started = 0;
	int rc = start_workers(o, ws, &started);
	atomic_store(&perf_go, rc == 0 ? 1 : -1);
	if (rc == 0 && o->cmd == PERF_CMD_SERVER)
		print_listening(o, ws);
	for (unsigned i = 0; i < started; i++)
		pthread_join(ws[i].tid, NULL);
	if (rc == 0) {
		if (o->cmd == PERF_CMD_SERVER)
			perf_server_report(o, ws, o->threads);
		else
			rc = perf_client_report(o, ws, o->threads);
	}
	free(ws);
	return rc;
}

int main(int argc, char **argv)
{
	static struct perf_opts o; /* static: the CPU list is large, and workers keep a pointer */
	int rc = perf_opts_parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.cmd == PERF_CMD_DRIVERS) {
		printf("%s\n", tern_drivers());
		return PERF_EXIT_OK;
	}
	if (install_signals() != 0)
		return PERF_EXIT_SETUP;
	return run(&o);
}
