/*
 * perf.h — tern-perf's shared types: the parsed options, one worker per
 * thread, and the functions its files export to each other.
 *
 * Files: tern-perf.c (main: threads, signals, pinning, the start gate),
 * opts.c (command line), client.c (closed-loop calls and measurement; also
 * the client half of selftest), server.c (echo handlers), report.c (progress
 * line, result block, JSON, counters), payload.c (request/response contents).
 *
 * Threading: one worker per thread owns its endpoint(s), as tern requires.
 * Workers share nothing but the read-only options, the stop flags and the
 * few atomics they publish for the progress line; results are merged by the
 * main thread after joining.
 */
#ifndef TERN_PERF_H
#define TERN_PERF_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"
#include "tern.h"

#define PERF_NS_PER_S  1000000000ull
#define PERF_NS_PER_MS 1000000ull

/* Request types the server registers, one per call semantics (--mode). */
enum perf_type {
	PERF_TYPE_RRA = 1,    /* echo, TERN_RRA (default) */
	PERF_TYPE_RR = 2,     /* echo, TERN_RR */
	PERF_TYPE_ONEWAY = 3, /* sink, TERN_R: no response */
};

enum perf_cmd {
	PERF_CMD_NONE = 0,
	PERF_CMD_SERVER,
	PERF_CMD_CLIENT,
	PERF_CMD_SELFTEST, /* server and client endpoints in one thread */
	PERF_CMD_DRIVERS,  /* print the drivers built into libtern */
};

#define PERF_MAX_THREADS 64
#define PERF_MAX_CPUS    1024

struct perf_opts {
	enum perf_cmd cmd;
	const char *cmd_name;
	const char *driver;
	const char *bind;     /* NULL = driver default (server: see opts.c) */
	const char *connect;
	const char *eal;
	const char *driver_args;
	const char *faults;
	const char *key, *peer_key, *allow, *psk; /* security: key files */
	const char *cdf;      /* client: write the latency CDF here */
	uint32_t protection;  /* TERN_PROT_* */
	enum perf_type type;  /* --mode */
	uint32_t size;        /* request bytes */
	uint32_t resp_size;   /* response bytes asked of the server */
	uint32_t srv_resp_size; /* server: force this response size (0 = as asked) */
	bool resp_size_set;
	uint32_t concurrency; /* calls in flight per thread */
	uint32_t sessions;    /* sessions per thread */
	uint32_t threads;
	uint32_t slots;       /* 0 = tern's default */
	uint32_t max_sessions; /* 0 = tern's default, or --sessions if more */
	uint32_t credits;     /* 0 = tern's default */
	uint32_t rto_min_us;  /* 0 = the driver's */
	uint32_t coalesce_cr; /* --coalesce-cr: the default, accepted */
	uint32_t no_coalesce_cr; /* TERN_EP_NO_COALESCE_CR */
	uint32_t cc;             /* TERN_EP_CC */
	uint64_t count;       /* measured calls, all threads together */
	uint64_t duration_ns; /* 0 = count mode */
	uint64_t warmup;      /* per thread */
	bool warmup_set;
	uint32_t mtu;
	uint32_t max_msg;     /* tern_ep_config.max_msg_size */
	uint64_t timeout_ns;  /* per call */
	uint64_t connect_timeout_ns;
	uint32_t busy_poll;
	bool verify;
	bool json;
	bool quiet;
	bool allow_errors;
	bool stats;           /* client: also print the endpoint counters */
	int verbose;
	unsigned ncpus;       /* --cpus, parsed */
	int cpus[PERF_MAX_CPUS];
};

/* Exit codes. */
#define PERF_EXIT_OK    0
#define PERF_EXIT_ERR   1 /* the run had failed calls */
#define PERF_EXIT_SETUP 2 /* usage, endpoint or connection failure: nothing was measured */
#define PERF_EXIT_SIGNAL 128 /* + the signal: a client interrupted, its result partial */

/* What one client worker measured; merged across threads at the end. */
#define PERF_ERRNO_MAX 256
struct perf_result {
	struct hist hist;        /* RTT of measured successful calls, ns */
	uint64_t ok;             /* measured successful calls */
	uint64_t errors;         /* failed calls, warmup included (verify failures too) */
	uint64_t verify_fail;    /* ... of which wrong response contents */
	uint64_t payload_bytes;  /* request + response bytes of measured calls */
	uint64_t t_start, t_end; /* measured window (tern_now_ns) */
	uint64_t by_errno[PERF_ERRNO_MAX]; /* errors by -status (0: out of range) */
	bool aborted;            /* calls were cancelled (stall, signal, deadline) */
};

/* Server-side counters beyond tern's. */
struct perf_srv_counts {
	uint64_t requests[4];   /* by enum perf_type (0: unused) */
	uint64_t rx_bytes, tx_bytes;
	uint64_t alloc_fail;
	uint64_t respond_fail;
};

struct perf_lane;

/* One thread's state. Owned by that thread from start to join. */
struct perf_worker {
	unsigned id;
	const struct perf_opts *o;
	pthread_t tid;
	int cpu;                    /* -1 = not pinned */
	struct tern_ep *ep;         /* client endpoint (server mode: the server's) */
	struct tern_ep *srv;        /* selftest: the in-thread server endpoint */
	char bind[128];             /* this thread's --bind (port + id) */
	char connect[128];          /* this thread's --connect (port + id) */

	/* client */
	struct tern_session **sess;
	struct perf_lane *lanes;
	uint64_t target;            /* measured calls this thread makes (count mode) */
	uint64_t warmup;
	uint64_t issued, completed, inflight;
	uint64_t next_seq;
	uint64_t t_stop;            /* duration mode: stop issuing at this time */
	uint64_t t_last_done;       /* last completion (stall detection) */
	uint64_t t_drain;           /* stopping: cancel what is still in flight at this time */
	bool measuring;
	bool stopping;              /* no new calls; drain what is in flight */
	struct perf_result res;

	/* server (server mode, and selftest's in-thread server) */
	struct perf_srv_counts srv_counts;
	struct tern_stats srv_stats, cli_stats; /* taken just before destroy */

	/* progress line */
	uint64_t prog_next;         /* next publish/print time */
	uint64_t prog_last_t, prog_last_n;

	char addr[128];             /* server: the bound address, for the listening line */

	/* start gate: 0 starting, 1 ready, < 0 setup failed (-errno) */
	_Atomic int state;
	int exit_code;              /* setup failure: PERF_EXIT_* */

	/* published for the progress line (worker 0 prints it) */
	_Atomic uint64_t pub_ok;
	_Atomic uint64_t pub_errors;
	_Atomic uint64_t pub_p50;
};

/* Shared run state (tern-perf.c). */
extern volatile sig_atomic_t perf_signals; /* SIGINT/SIGTERM received so far */
extern volatile sig_atomic_t perf_signo;   /* the first of them */
extern _Atomic int perf_go;                /* 0 wait, 1 run, -1 abort */
extern struct perf_worker *perf_workers;
extern unsigned perf_nworkers;

/* opts.c */
/* Parse argv into *o. Prints the problem and where the help is on stderr
 * and returns PERF_EXIT_SETUP, or returns -1 to go on (0 after --help). */
int perf_opts_parse(int argc, char **argv, struct perf_opts *o);
/* The help of cmd (PERF_CMD_NONE: every command's synopsis). */
void perf_usage(FILE *f, enum perf_cmd cmd);
/* addr with its port raised by off ("10.0.0.1:31850" + 2 -> "...:31852");
 * port 0 stays 0. Returns 0 or -EINVAL. */
int perf_addr_offset(const char *addr, unsigned off, char *out, size_t len);

/* tern-perf.c */
/* An endpoint config from the options: driver, addresses, sizes, timeouts,
 * log and session hooks. bind may be NULL. */
void perf_ep_config(const struct perf_opts *o, struct tern_ep_config *cfg, const char *bind,
		    unsigned queue, struct perf_worker *w);
void perf_pin(struct perf_worker *w);

/* client.c */
int perf_client_setup(struct perf_worker *w);  /* ep, sessions, connected; 0 or exit code */
void perf_client_idle(struct perf_worker *w);  /* one poll while waiting at the start gate */
/* noinline: perf/instructions counts what runs inside it (callgrind --toggle-collect). */
__attribute__((noinline)) void perf_client_run(struct perf_worker *w);
void perf_client_teardown(struct perf_worker *w);

/* server.c */
int perf_server_handlers(struct perf_worker *w, struct tern_ep *ep);
int perf_server_setup(struct perf_worker *w);
void perf_server_run(struct perf_worker *w);
void perf_server_teardown(struct perf_worker *w);

/* report.c */
void perf_progress_tick(struct perf_worker *w, uint64_t now);
void perf_progress_publish(struct perf_worker *w);
int perf_client_report(const struct perf_opts *o, struct perf_worker *ws, unsigned n);
void perf_server_report(const struct perf_opts *o, struct perf_worker *ws, unsigned n);
/* The counters as indented "name value" lines; only the non-zero ones unless all. */
void perf_stats_print(FILE *f, const char *title, const struct tern_stats *st, bool all);
void perf_stats_add(struct tern_stats *dst, const struct tern_stats *src);
const char *perf_errname(int err); /* "ETIMEDOUT" */

#endif
