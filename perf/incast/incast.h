/*
 * incast.h — tern-incast's shared types: options, the senders, the server
 * and the results the report prints.
 *
 * Files: incast.c (main: command line, modes, threads, pinning, signals),
 * clients.c (the client endpoints, the sender sessions and their
 * back-to-back calls, the measurement window), server.c (the server
 * endpoint, its handler and its duplicate-execution check), report.c (the
 * table and the JSON object), clock_real.c / clock_sim.c (tern-incast's
 * real clock, tern-incast-sim's virtual one).
 *
 * Threading: the server endpoint belongs to the server thread, every client
 * endpoint to the one client thread (as tern requires); they share only the
 * read-only options and the stop flags. Results are read after both joined.
 * With --one-thread (always in tern-incast-sim) one thread polls them all.
 */
#ifndef TERN_INCAST_H
#define TERN_INCAST_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../hist.h"
#include "tern.h"

#define INC_NS_PER_S   1000000000ull
#define INC_MAX_SENDERS 1024u /* bulk senders; the victim is one more */
#define INC_REQ_TYPE   7u
#define INC_HDR_LEN    16u    /* request: sender id (u32), magic (u32), seq (u64) */
#define INC_MAGIC      0x74636e69u
#define INC_RESP_LEN   8u     /* response: the seq */
#define INC_MARK_TYPE  8u     /* window mark: the server answers what it received so far */
#define INC_MARK_REQ_LEN 8u   /* mark request: how many senders (u64, the victim included) */
#define INC_MARK_HDR   16u    /* its answer: the server's clock, the count n (u64 each), then */
			      /* n x u64: request bytes received from each sender (UINT64_MAX: */
			      /* no session known for it) */
#define INC_HELLO_TYPE 9u     /* before the run: the request header (seq 0) names the */
			      /* session's sender to the server */

enum inc_mode { INC_LOCAL = 1, INC_SERVER, INC_CLIENT };

struct inc_opts {
	enum inc_mode mode;
	const char *driver;
	const char *bind;        /* server address (local, server) */
	const char *client_ip;   /* clients bind client_ip:0 */
	const char *connect;     /* client: the server */
	const char *link;        /* server: faults keys of the emulated bottleneck */
	const char *faults;      /* client endpoints: extra faults */
	const char *server_args; /* server: driver arguments */
	uint64_t rate;           /* bits/s for the "% of bottleneck" column (0: from link) */
	uint32_t senders, endpoints, depth;
	uint32_t size, victim_size;
	bool victim;
	uint64_t duration_ns, warmup_ns, timeout_ns;
	uint64_t rto_min_ns, rto_max_ns; /* clients and server (0: the driver's) */
	int no_cc;                        /* clients without congestion control (--no-cc) */
	uint64_t cc_target_ns;            /* clients' cc_target_ns (0: the library's default) */
	int server_cpu, client_cpu; /* -1: not pinned */
	bool json, quiet, check;
	bool one_thread;         /* local: the server polled by the client thread */
	const char *row;         /* print one markdown table row with this label */
	/* --check bounds beyond the invariants (negative: none) */
	int64_t max_failed;
	double max_resend, min_jain, min_goodput;
};

/* One call in flight. */
struct inc_lane {
	struct inc_sender *s;
	uint64_t seq;
	uint64_t t0;
};

struct inc_sender {
	unsigned id;             /* 0..senders-1; the victim is `senders` */
	bool victim;
	struct tern_ep *ep;
	struct tern_session *sess;
	uint32_t size;
	uint64_t next_seq;
	uint32_t inflight;
	struct inc_lane *lanes;  /* depth of them */
	uint64_t ok, failed, wrong;
	uint64_t win_calls, win_bytes; /* completed OK inside the window */
	/* Request bytes the server had received from this sender at the
	 * window's start and end (tern_session_rx_bytes(), read by the mark
	 * calls): what was delivered through the bottleneck, of calls complete
	 * or not; resent copies not counted. UINT64_MAX: unknown. */
	uint64_t rx_mark[2];
	bool hello_ok;
	int first_err;
};

/* What the clients measured. */
struct inc_client_res {
	uint64_t t_start, t_end;    /* the window */
	uint64_t tx_pkts, retransmits, rto_events; /* client endpoints, over the window */
	/* The same over the whole run (connect to the end of the drain): what
	 * a bottleneck's own counters (tc -s qdisc) compare with. */
	uint64_t run_tx_pkts, run_retransmits, run_rto_events;
	uint64_t calls_ok, calls_failed, calls_wrong, unfinished;
	uint64_t err_timeout, err_reset, err_other;
	struct hist bulk, victim;   /* calls issued in the window, completed OK */
	uint64_t udp_rcvbuf_errors; /* /proc/net/snmp delta over the run (-1: unknown) */
	/* The server's clock at the window's start and end (when it answered
	 * the mark calls; the senders' rx_mark[] were read then). */
	uint64_t mark_ns[2];
	bool marked[2];
	double cpu;                 /* client thread: CPU time / wall time over the window */
	bool connected;
};

/* What the server saw (local and server modes). */
struct inc_server_res {
	uint64_t executed;       /* handler runs */
	uint64_t executed_twice; /* (sender, seq) run more than once: at-most-once broken */
	uint64_t bad_requests;
	struct tern_stats st;
	double cpu;              /* server thread: CPU time / wall time while it polled */
	uint64_t udp_rcvbuf_errors; /* server's namespace, over its life (-1: unknown) */
	bool have_link;          /* the link's close-time log line was seen */
	uint64_t link_arrived, link_dropped, link_nobuf, link_delivered, link_wire_bytes;
	uint64_t link_peak_pkts, link_peak_bytes, link_sojourn_mean_ns, link_sojourn_max_ns;
};

struct inc_server;

/* clock_real.c or clock_sim.c */
extern const bool inc_sim_build; /* tern-incast-sim: virtual time */
extern uint64_t inc_sim_step_ns;  /* virtual ns per pass over the endpoints */
/* After each pass over the endpoints: the virtual clock advances (sim). */
void inc_tick(void);

extern volatile sig_atomic_t inc_signals;

/* clients.c: run the whole client side on the calling thread. */
int inc_clients_run(const struct inc_opts *o, const char *server_addr, struct tern_ep *server_ep,
		    struct inc_sender **senders_out, struct inc_client_res *res);
void inc_senders_free(struct inc_sender *s, unsigned n);

/* server.c */
int inc_server_create(const struct inc_opts *o, struct inc_server **out, char *addr,
		      size_t addr_len);
/* The server's endpoint (one-thread mode: the client loop polls it). */
struct tern_ep *inc_server_ep(struct inc_server *sv);
/* Poll until *stop is set (or a signal when stop is NULL and the duration passed). */
void inc_server_run(struct inc_server *sv, _Atomic int *stop, uint64_t until_ns);
/* Destroy the endpoint (its link logs its counters) and fill res. */
void inc_server_destroy(struct inc_server *sv, struct inc_server_res *res);

/* report.c */
void inc_report(const struct inc_opts *o, const struct inc_sender *s,
		const struct inc_client_res *c, const struct inc_server_res *sv);
void inc_report_server(const struct inc_opts *o, const struct inc_server_res *sv);
/* --check: the invariants (and the given bounds) hold; says why not on stderr. */
bool inc_check(const struct inc_opts *o, const struct inc_sender *s,
	       const struct inc_client_res *c, const struct inc_server_res *sv);
/* Jain's fairness index of x[0..n): 1 = equal shares, 1/n = one takes all. */
double inc_jain(const double *x, unsigned n);
/* The bottleneck's rate from "rate=..." in a faults list, or 0. */
uint64_t inc_link_rate(const char *link);
/* "200m" (bits, SI) and "64k" (bytes, binary) parsers; 0 on error. */
uint64_t inc_parse_bits(const char *s);
uint64_t inc_parse_bytes(const char *s);
/* CPU time of the calling thread (ns). */
uint64_t inc_thread_cpu_ns(void);
/* Udp RcvbufErrors of this network namespace, or UINT64_MAX. */
uint64_t inc_udp_rcvbuf_errors(void);

#endif
