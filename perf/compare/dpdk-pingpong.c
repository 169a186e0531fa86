/*
 * dpdk-pingpong — bare DPDK UDP ping-pong, no RPC layer: the floor tern's
 * round trip is compared against over the same vdev.
 *
 *   dpdk-pingpong server --eal "-l 1 --no-pci --file-prefix pps
 *                 --vdev=net_memif0,role=server,socket=/tmp/pp.sock" [--idle-exit S]
 *   dpdk-pingpong client --eal "-l 0 --no-pci --file-prefix ppc
 *                 --vdev=net_memif0,role=client,socket=/tmp/pp.sock"
 *                 [--size 32] [--count N | --duration S] [--window W] [--json]
 *                 [--cdf FILE]
 *
 * The client sends Ethernet/IPv4/UDP frames carrying --size bytes of UDP
 * payload (a sequence number in the first 8 bytes, valid IPv4 checksum,
 * UDP checksum 0) from --bind to --connect; the server swaps the addresses
 * and sends the same mbuf back. The client keeps --window frames
 * outstanding, takes one TSC reading per receive burst and one per send
 * burst, and records each round trip in perf/hist.h's histogram. A frame
 * not back within --rto-ms counts as an error and its slot sends a new
 * sequence number; a late reply to it is ignored. With no reply at all for
 * --timeout seconds the client gives up and reports what it has.
 *
 * The destination MAC is broadcast until the first reply, then the
 * server's (learned from it). No ARP, no RX checksum verification: only
 * what a kernel-bypass transport must do per packet.
 *
 * --cdf FILE writes the latency CDF as tern-perf --cdf does (result.h).
 *
 * Single-threaded on the EAL main lcore; pin it with EAL -l.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "dpdk-common.h"
#include "result.h"

#define SEQ_BYTES 8 /* the payload starts with a little-endian uint64 sequence number */

struct opts {
	struct dp_opts co; /* first role: server */
	uint32_t size;
	uint64_t count;
	double duration;
	uint32_t window;
	uint64_t warmup;
	double rto_ms;
	double timeout_s;
	double idle_exit_s;
	const char *cdf;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dpdk-pingpong server --eal \"EAL ARGS\" [--bind IP:PORT] [--idle-exit S]\n"
		"       dpdk-pingpong client --eal \"EAL ARGS\" [--bind IP:PORT] [--connect IP:PORT]\n"
		"                     [--size BYTES] [--count N | --duration S] [--window W]\n"
		"                     [--warmup N] [--rto-ms MS] [--timeout S] [--json] [--cdf FILE]\n"
		"defaults: --size 32 --count 100000 --window 1 --warmup 1000 --rto-ms 100\n"
		"          --timeout 5 (client: link wait and max silence), --idle-exit 60 (server)\n"
		"          server --bind 10.0.0.1:31850, client --bind 10.0.0.2:31851\n");
}

enum { O_SIZE = DP_O_OWN, O_COUNT, O_DURATION, O_WINDOW, O_WARMUP, O_RTO, O_TIMEOUT, O_IDLE,
       O_CDF };

static void own_opt(int c, const char *arg, void *ctx)
{
	struct opts *o = ctx;
	switch (c) {
	case O_SIZE: o->size = (uint32_t)dp_parse_u64("--size", arg); break;
	case O_COUNT: o->count = dp_parse_u64("--count", arg); break;
	case O_DURATION: o->duration = dp_parse_double("--duration", arg); break;
	case O_WINDOW: o->window = (uint32_t)dp_parse_u64("--window", arg); break;
	case O_WARMUP: o->warmup = dp_parse_u64("--warmup", arg); break;
	case O_RTO: o->rto_ms = dp_parse_double("--rto-ms", arg); break;
	case O_TIMEOUT: o->timeout_s = dp_parse_double("--timeout", arg); break;
	case O_IDLE: o->idle_exit_s = dp_parse_double("--idle-exit", arg); break;
	case O_CDF: o->cdf = arg; break;
	}
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"size", required_argument, NULL, O_SIZE},
		{"count", required_argument, NULL, O_COUNT},
		{"duration", required_argument, NULL, O_DURATION},
		{"window", required_argument, NULL, O_WINDOW},
		{"warmup", required_argument, NULL, O_WARMUP},
		{"rto-ms", required_argument, NULL, O_RTO},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"idle-exit", required_argument, NULL, O_IDLE},
		{"cdf", required_argument, NULL, O_CDF},
		{NULL, 0, NULL, 0},
	};
	static const char *const roles[2] = {"server", "client"};

	*o = (struct opts){
		.co.connect = {RTE_IPV4(10, 0, 0, 1), 31850},
		.size = 32,
		.count = 100000,
		.window = 1,
		.warmup = 1000,
		.rto_ms = 100,
		.timeout_s = 5,
		.idle_exit_s = 60,
	};
	dp_parse_opts(argc, argv, roles, lo, own_opt, o, usage, &o->co);
	struct dp_opts *co = &o->co;
	if (!co->bind_set)
		co->bind = co->first_role ? (struct dp_addr){RTE_IPV4(10, 0, 0, 1), 31850}
					  : (struct dp_addr){RTE_IPV4(10, 0, 0, 2), 31851};
	if (o->size < SEQ_BYTES || o->size > RTE_ETHER_MTU - 28) {
		fprintf(stderr, "--size must be %d..%d bytes (UDP payload in one frame)\n", SEQ_BYTES,
			RTE_ETHER_MTU - 28);
		exit(2);
	}
	if (o->window < 1 || o->window > 512) {
		fprintf(stderr, "--window must be 1..512\n");
		exit(2);
	}
	if (o->rto_ms <= 0 || (!co->first_role && o->timeout_s <= 0)) {
		fprintf(stderr, "--rto-ms and --timeout must be > 0\n");
		exit(2);
	}
}

/* ------------------------------------------------------------------ */
/* server: bounce every UDP frame for our port back to its sender */

static int run_server(const struct opts *o, struct dp_port *p)
{
	struct rte_mbuf *rx[DP_BURST], *tx[DP_BURST];
	uint64_t n_rx = 0, n_tx = 0, n_bad = 0, n_txfull = 0, n_bye = 0, byes_seen = 0;
	uint64_t idle_cycles = dp_sec_to_cycles(o->idle_exit_s);
	uint64_t last = rte_rdtsc();
	unsigned spins = 0;

	fprintf(stderr, "dpdk-pingpong server: %s up, mac " RTE_ETHER_ADDR_PRT_FMT ", port %u\n", p->name,
		RTE_ETHER_ADDR_BYTES(&p->mac), o->co.bind.port);
	while (!dp_stop) {
		uint16_t n = rte_eth_rx_burst(p->id, 0, rx, DP_BURST);
		if (n == 0) {
			/* Idle check every 64K empty polls: cheap and still prompt. */
			if (o->idle_exit_s > 0 && (++spins & 0xffff) == 0 && rte_rdtsc() - last > idle_cycles) {
				fprintf(stderr, "dpdk-pingpong server: idle for %.0f s, exiting\n",
					o->idle_exit_s);
				break;
			}
			continue;
		}
		last = rte_rdtsc();
		n_rx += n;
		uint16_t k = 0;
		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = rx[i];
			uint16_t plen;
			void *pl = dp_frame_check(m, o->co.bind.port, &plen);
			if (pl == NULL || plen < SEQ_BYTES) {
				n_bad++;
				rte_pktmbuf_free(m);
				continue;
			}
			uint64_t seq;
			memcpy(&seq, (uint8_t *)pl, SEQ_BYTES);
			if (seq == DP_BYE) {
				n_bye++;
				rte_pktmbuf_free(m);
				continue;
			}
			struct rte_ether_hdr *e = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(e + 1);
			struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
			rte_ether_addr_copy(&e->src_addr, &e->dst_addr);
			rte_ether_addr_copy(&p->mac, &e->src_addr);
			uint32_t a = ip->src_addr;
			ip->src_addr = ip->dst_addr;
			ip->dst_addr = a; /* the header checksum is unchanged by a swap */
			uint16_t port = u->src_port;
			u->src_port = u->dst_port;
			u->dst_port = port;
			tx[k++] = m;
		}
		uint16_t sent = 0;
		for (int tries = 0; sent < k && tries < 1000; tries++)
			sent += rte_eth_tx_burst(p->id, 0, tx + sent, k - sent);
		n_tx += sent;
		if (sent < k) {
			n_txfull += k - sent;
			rte_pktmbuf_free_bulk(tx + sent, k - sent);
		}
		if (n_bye != byes_seen) {
			/* The client is leaving: keep off the rings until it is gone. */
			byes_seen = n_bye;
			fprintf(stderr, "dpdk-pingpong server: client left, waiting for the next one\n");
			if (dp_wait_peer_gone(p, o->idle_exit_s) != 0)
				break;
			last = rte_rdtsc();
		}
	}
	printf("dpdk-pingpong server counters\n"
	       "  rx_packets    %" PRIu64 "\n"
	       "  tx_packets    %" PRIu64 "\n"
	       "  rx_bad        %" PRIu64 "\n"
	       "  tx_dropped    %" PRIu64 "\n"
	       "  clients       %" PRIu64 "\n",
	       n_rx, n_tx, n_bad, n_txfull, n_bye);
	return 0;
}

/* ------------------------------------------------------------------ */
/* client: W outstanding frames, one slot each */

struct slot {
	uint64_t seq;
	uint64_t tsc; /* when it was sent */
	bool busy;
};

struct client {
	const struct opts *o;
	struct dp_port *p;
	struct slot *slots;
	uint8_t tmpl[DP_HDR_LEN + RTE_ETHER_MTU]; /* every request: headers, zero payload */
	uint32_t frame_len;
	uint64_t next_seq;  /* next sequence number to send */
	uint64_t last_seq;  /* send no sequence number >= this (count mode) */
	bool sending;       /* false once the count or duration is reached */
	uint64_t busy;      /* outstanding frames */
	uint64_t lost, late, bad, tx_fail;
	bool peer_known;
	struct hist hist;
	uint64_t t_first, t_last; /* first measured send, last measured reply */
};

/* Queue (at most) one new request per free slot index in idx[0..n). */
static void send_batch(struct client *c, const uint32_t *idx, unsigned n)
{
	struct rte_mbuf *m[DP_BURST];
	unsigned k = 0;

	if (n == 0)
		return;
	if (rte_pktmbuf_alloc_bulk(c->p->mp, m, n) != 0) {
		c->tx_fail += n; /* pool empty: the slots stay free and retry on the scan */
		return;
	}
	uint64_t now = rte_rdtsc();
	for (unsigned i = 0; i < n; i++) {
		if (!c->sending || c->next_seq >= c->last_seq) {
			c->sending = false;
			break;
		}
		uint8_t *d = (uint8_t *)rte_pktmbuf_append(m[k], (uint16_t)c->frame_len);
		memcpy(d, c->tmpl, c->frame_len); /* as a transport copies a small payload in */
		uint64_t seq = c->next_seq++;
		memcpy(d + DP_HDR_LEN, &seq, SEQ_BYTES);
		struct slot *s = &c->slots[idx[i]];
		s->seq = seq;
		s->tsc = now;
		s->busy = true;
		c->busy++;
		if (seq == c->o->warmup)
			c->t_first = now;
		k++;
	}
	uint16_t sent = 0;
	for (int tries = 0; sent < k && tries < 1000; tries++)
		sent += rte_eth_tx_burst(c->p->id, 0, m + sent, (uint16_t)(k - sent));
	/* Unsent frames stay busy in their slots and time out: a lost packet. */
	c->tx_fail += k - sent;
	rte_pktmbuf_free_bulk(m + sent, n - sent);
}

static int run_client(const struct opts *o, struct dp_port *p)
{
	static const struct rte_ether_addr bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	struct client cl = {.o = o, .p = p, .sending = true};
	struct client *c = &cl;
	struct rte_mbuf *rx[DP_BURST];
	uint32_t idx[DP_BURST];
	const uint32_t W = o->window;

	c->slots = calloc(W, sizeof(*c->slots));
	if (c->slots == NULL)
		return 1;
	hist_init(&c->hist);
	c->frame_len = DP_HDR_LEN + o->size;
	c->last_seq = o->duration > 0 ? UINT64_MAX : o->warmup + o->count;
	dp_frame_init(c->tmpl, &p->mac, &bcast, o->co.bind, o->co.connect, (uint16_t)o->size);

	uint64_t rto = dp_sec_to_cycles(o->rto_ms / 1e3);
	uint64_t scan_every = rto / 10 ? rto / 10 : 1;
	uint64_t silence = dp_sec_to_cycles(o->timeout_s);
	uint64_t now = rte_rdtsc(), next_scan = now + scan_every, last_rx = now;
	uint64_t deadline = 0; /* duration mode: set when measuring starts */

	long preempted0 = dp_preemptions();
	/* memif: the server cannot send to us before our first rx_burst. */
	uint16_t n0 = rte_eth_rx_burst(p->id, 0, rx, DP_BURST);
	rte_pktmbuf_free_bulk(rx, n0);
	for (uint32_t i = 0; i < W; i += DP_BURST) {
		unsigned n = RTE_MIN(W - i, (uint32_t)DP_BURST);
		for (unsigned j = 0; j < n; j++)
			idx[j] = i + j;
		send_batch(c, idx, n);
	}

	while (c->busy > 0 || c->sending) {
		if (dp_stop) {
			fprintf(stderr, "dpdk-pingpong client: interrupted\n");
			break;
		}
		uint16_t n = rte_eth_rx_burst(p->id, 0, rx, DP_BURST);
		now = rte_rdtsc();
		if (o->duration > 0 && c->t_first) {
			if (deadline == 0)
				deadline = c->t_first + dp_sec_to_cycles(o->duration);
			else if (now >= deadline)
				c->sending = false;
		}
		unsigned nfree = 0;
		for (uint16_t i = 0; i < n; i++) {
			uint16_t plen;
			uint8_t *pl = dp_frame_check(rx[i], o->co.bind.port, &plen);
			uint64_t seq;
			if (pl == NULL || plen < SEQ_BYTES) {
				c->bad++;
				continue;
			}
			memcpy(&seq, pl, SEQ_BYTES);
			struct slot *s = &c->slots[seq % W];
			if (!s->busy || s->seq != seq) {
				c->late++; /* reply to a frame already given up on */
				continue;
			}
			if (!c->peer_known) {
				struct rte_ether_hdr *e = rte_pktmbuf_mtod(rx[i], struct rte_ether_hdr *);
				rte_ether_addr_copy(&e->src_addr, &((struct rte_ether_hdr *)c->tmpl)->dst_addr);
				c->peer_known = true;
			}
			if (seq >= o->warmup) {
				hist_add(&c->hist, dp_cycles_to_ns(now - s->tsc));
				c->t_last = now;
			}
			s->busy = false;
			c->busy--;
			idx[nfree++] = (uint32_t)(seq % W);
		}
		if (n) {
			rte_pktmbuf_free_bulk(rx, n);
			last_rx = now;
		}
		if (c->sending)
			send_batch(c, idx, nfree);

		if (now >= next_scan) {
			next_scan = now + scan_every;
			if (now - last_rx > silence) {
				fprintf(stderr, "dpdk-pingpong client: no reply for %.1f s, giving up\n",
					o->timeout_s);
				c->lost += c->busy;
				break;
			}
			/* Give up on frames older than the RTO; their slots send anew. */
			nfree = 0;
			for (uint32_t i = 0; i < W; i++) {
				struct slot *s = &c->slots[i];
				/* Signed: send_batch() stamps slots after `now` was read. */
				if (s->busy && (int64_t)(now - s->tsc) > (int64_t)rto) {
					s->busy = false;
					c->busy--;
					c->lost++;
				}
				if (!s->busy && c->sending) {
					idx[nfree++] = i;
					if (nfree == DP_BURST) {
						send_batch(c, idx, nfree);
						nfree = 0;
					}
				}
			}
			send_batch(c, idx, nfree);
		}
	}

	/* Say goodbye so the server stops polling before we unmap (see DP_BYE). */
	dp_say_bye(p, c->tmpl, c->frame_len);

	double secs = c->t_last > c->t_first ? (double)(c->t_last - c->t_first) / (double)dp_tsc_hz : 0;
	double rate = secs > 0 ? (double)c->hist.count / secs : 0;
	uint64_t errors = c->lost;
	long preempted = dp_preemptions() - preempted0;
	char title[160], extra[256];
	snprintf(title, sizeof(title), "dpdk-pingpong: %s, %u B UDP payload (%u B frames), window %u",
		 p->name, o->size, c->frame_len, W);
	snprintf(extra, sizeof(extra),
		 "\"system\": \"dpdk-pingpong\", \"size\": %u, \"window\": %u, \"late\": %" PRIu64
		 ", \"bad\": %" PRIu64 ", \"tx_fail\": %" PRIu64 ", \"preempted\": %ld",
		 o->size, W, c->late, c->bad, c->tx_fail, preempted);
	dp_print_latency(title, o->co.json, &c->hist, errors, rate, extra);
	if (o->cdf != NULL)
		result_write_cdf(o->cdf, &c->hist);
	if (!o->co.json && (c->late || c->bad || c->tx_fail))
		printf("  late %" PRIu64 ", bad %" PRIu64 ", tx_fail %" PRIu64 "\n", c->late, c->bad,
		       c->tx_fail);
	if (!o->co.json)
		printf("  preempted  %ld times\n", preempted);
	free(c->slots);
	return c->hist.count > 0 && !dp_stop ? 0 : 1;
}

static int run(struct dp_port *p, void *ctx)
{
	const struct opts *o = ctx;
	return o->co.first_role ? run_server(o, p) : run_client(o, p);
}

int main(int argc, char **argv)
{
	struct opts o;

	parse(argc, argv, &o);
	/* Enough for the RX ring (1024), the window and bursts in flight. */
	return dp_run(argv[0], o.co.eal, 8191, o.co.first_role ? o.idle_exit_s : o.timeout_s, run, &o);
}
