/*
 * dpdk-common.h — what the bare DPDK baselines (dpdk-pingpong, dpdk-bulk)
 * share: EAL start from one "--eal" string, bring-up of the one port,
 * UDP/IPv4/Ethernet framing and validation, TSC time, signals and the
 * result block. No RPC layer: these programs are the floor tern is
 * measured against over the same vdev.
 *
 * Single-threaded: everything runs on the EAL main lcore.
 */
#ifndef TERN_COMPARE_DPDK_COMMON_H
#define TERN_COMPARE_DPDK_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "hist.h"

#define DP_BURST 32

/* Ethernet + IPv4 (no options) + UDP. */
#define DP_HDR_LEN (RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))

/* Set by SIGINT/SIGTERM; loops poll it. */
extern volatile sig_atomic_t dp_stop;

struct dp_port {
	uint16_t id;
	char name[RTE_ETH_NAME_MAX_LEN];
	struct rte_mempool *mp;
	struct rte_ether_addr mac;
};

/* An IPv4 address and UDP port, host byte order. */
struct dp_addr {
	uint32_t ip;
	uint16_t port;
};

/*
 * Start EAL with prog followed by the whitespace-separated words of eal
 * (no quoting). Installs the SIGINT/SIGTERM handlers. Returns 0 or -1.
 */
int dp_eal_init(const char *prog, const char *eal);

/*
 * Bring up the first ethdev with one RX and one TX queue and a pool of
 * nb_mbufs, then wait for link up for at most timeout_s seconds (0: until
 * dp_stop). Returns 0, or -1 after printing why.
 */
int dp_port_init(struct dp_port *p, unsigned nb_mbufs, double timeout_s);
void dp_port_close(struct dp_port *p);

/*
 * Orderly goodbye. net_memif unmaps the shared rings from its interrupt
 * thread when the peer disconnects, racing with an rx_burst in progress
 * (a SIGSEGV inside the PMD, seen here within a few runs). So the side that
 * leaves first sends one frame whose payload starts with DP_BYE, lingers,
 * and only then closes; the side that stays stops polling on DP_BYE and
 * waits for the link to go down before polling again or closing.
 */
#define DP_BYE UINT64_MAX

/* Send one frame of len bytes copied from frame, retrying for up to 100 ms. */
int dp_send_frame(struct dp_port *p, const void *frame, uint32_t len);
/* Leaving side: give the peer time to read the goodbye before closing. */
void dp_linger(void);
/*
 * Staying side: wait (without polling the queues) up to 2 s for the link
 * to go down and the PMD to finish tearing down; closing or exiting before
 * that races with EAL's interrupt thread too (a SIGSEGV in rte_eal_cleanup).
 */
void dp_wait_link_down(struct dp_port *p);
/*
 * Staying side that serves the next peer: dp_wait_link_down(), then wait
 * up to wait_up_s (0: forever) for a new peer. Returns 0 when the link is up
 * again, -1 on timeout or dp_stop.
 */
int dp_wait_peer_gone(struct dp_port *p, double wait_up_s);

/*
 * The command line both programs share: "PROG ROLE [options]", ROLE one of
 * two words, then --eal, --bind, --connect, --json and --help, which
 * dp_parse_opts() handles, and the program's own long options (ids from
 * DP_O_OWN up, above getopt's own returns), which it hands to own(c, optarg, ctx). A bad role, option
 * or address, or a stray argument, prints usage to stderr and exits 2;
 * --help prints it to stdout and exits 0.
 */
enum { DP_O_EAL = 1, DP_O_BIND, DP_O_CONNECT, DP_O_JSON, DP_O_HELP, DP_O_OWN = 256 };
struct dp_opts {
	bool first_role; /* ROLE is roles[0] */
	const char *eal;
	struct dp_addr bind, connect; /* connect: as the caller set it before */
	bool bind_set;                /* --bind given (else the caller's per-role default) */
	bool json;
};
struct option;
void dp_parse_opts(int argc, char **argv, const char *const roles[2], const struct option *own_lo,
		   void (*own)(int c, const char *arg, void *ctx), void *ctx, void (*usage)(FILE *f),
		   struct dp_opts *co);

/*
 * Bring EAL and the port up (nb_mbufs mbufs, link wait timeout_s), call
 * run(p, ctx), then close the port and EAL. Returns run's value, or 1 when
 * EAL or the port did not come up.
 */
int dp_run(const char *prog, const char *eal, unsigned nb_mbufs, double timeout_s,
	   int (*run)(struct dp_port *p, void *ctx), void *ctx);

/*
 * The leaving side's goodbye (see DP_BYE): frame (len bytes, a frame this
 * side sends, from its Ethernet header) with its payload's first 8 bytes set
 * to DP_BYE, sent, then dp_linger(). frame is modified.
 */
void dp_say_bye(struct dp_port *p, uint8_t *frame, uint32_t len);

/* Parse "a.b.c.d:port". Returns 0 or -1. */
int dp_parse_addr(const char *s, struct dp_addr *out);
/* Parse a non-negative number; exits with a message on error. */
uint64_t dp_parse_u64(const char *opt, const char *s);
double dp_parse_double(const char *opt, const char *s);

/*
 * Write Ethernet/IPv4/UDP headers for payload_len bytes of UDP payload at
 * buf, with a valid IPv4 header checksum and UDP checksum 0 (legal on IPv4;
 * none of the software vdevs offload checksums).
 */
void dp_frame_init(void *buf, const struct rte_ether_addr *src_mac, const struct rte_ether_addr *dst_mac,
		   struct dp_addr src, struct dp_addr dst, uint16_t payload_len);

/*
 * Validate a received frame as Ethernet/IPv4/UDP for dst_port (0: any)
 * whose lengths agree with the mbuf. Returns the UDP payload and its
 * length, or NULL.
 */
void *dp_frame_check(struct rte_mbuf *m, uint16_t dst_port, uint16_t *payload_len);

/* TSC time: dp_tsc_init() runs after EAL init (rte_get_tsc_hz()). */
extern double dp_ns_per_cycle;
extern uint64_t dp_tsc_hz;
void dp_tsc_init(void);
static inline uint64_t dp_cycles_to_ns(uint64_t c)
{
	return (uint64_t)((double)c * dp_ns_per_cycle);
}
static inline uint64_t dp_sec_to_cycles(double s)
{
	return (uint64_t)(s * (double)dp_tsc_hz);
}

/*
 * Times the calling thread was preempted (involuntary context switches) so
 * far: on a shared host a run with many of these measured the neighbours.
 */
long dp_preemptions(void);

/*
 * Print the latency result block (or one JSON object): count, errors,
 * calls_per_s, p50_us, p99_us, p999_us, max_us, plus the given extra
 * "key": number pairs after the standard keys in JSON.
 */
void dp_print_latency(const char *title, bool json, const struct hist *h, uint64_t errors,
		      double calls_per_s, const char *extra_json);

#endif
