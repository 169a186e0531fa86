/*
 * dpdk-bulk — bare one-directional bulk transfer over one DPDK port, no RPC
 * layer: the "bare memif bulk bandwidth" floor.
 *
 *   dpdk-bulk recv --eal "-l 1 --no-pci --file-prefix bkr
 *             --vdev=net_memif0,role=server,socket=/tmp/bk.sock" [--json]
 *   dpdk-bulk send --eal "-l 0 --no-pci --file-prefix bks
 *             --vdev=net_memif0,role=client,socket=/tmp/bk.sock" [--duration 5] [--frame 1514]
 *             [--source BYTES] [--json]
 *
 * The sender blasts bursts of --burst Ethernet/IPv4/UDP frames of --frame
 * bytes (Ethernet header to end of payload, no FCS; the default 1514 is an
 * MTU-sized 1500-byte IP packet, 1472 bytes of UDP payload) for --duration
 * seconds, as fast as tx_burst takes them (a full ring is backpressure, not
 * loss), then reports what it sent. The receiver counts valid frames for
 * its port and their UDP payload bytes from the first frame to the last,
 * detects lost frames from the sequence numbers, and reports Gbit/s of UDP
 * payload. It exits when the sender says goodbye (see DP_BYE in
 * dpdk-common.h), after --idle-exit seconds without frames once data has
 * flowed, after --timeout seconds if nothing ever arrives, or on
 * SIGINT/SIGTERM.
 *
 * Only headers and the sequence number are written per frame: the payload
 * bytes are whatever the mbuf holds, so the figure is the transport's
 * ceiling, not including producing the data. With --source BYTES the
 * sender also copies each frame's payload from a buffer of BYTES (filled
 * once, read in order, wrapping): what putting a caller's bytes on the
 * wire costs, e.g. --source 4194304 for four 1 MiB requests in flight,
 * larger than the caches close to the core. --json prints one object; its
 * "gbps" key is UDP payload Gbit/s (the sender's: offered, the receiver's:
 * delivered).
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

#include "dpdk-common.h"

#define SOURCE_MAX (1ull << 32) /* --source bound: 4 GiB */

struct opts {
	struct dp_opts co; /* first role: send */
	uint32_t frame;
	uint32_t burst;
	uint64_t source; /* bytes of payload source; 0: payload never written */
	double duration;
	double timeout_s;
	double idle_exit_s;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: dpdk-bulk send --eal \"EAL ARGS\" [--bind IP:PORT] [--connect IP:PORT]\n"
		   "                 [--frame BYTES] [--burst N] [--duration S] [--timeout S]\n"
		   "                 [--source BYTES] [--json]\n"
		   "       dpdk-bulk recv --eal \"EAL ARGS\" [--bind IP:PORT] [--idle-exit S] [--timeout S] [--json]\n"
		   "defaults: --frame 1514 (1472 B UDP payload) --burst 32 --duration 5\n"
		   "          --source 0 (payload not written; else copied from a buffer of BYTES)\n"
		   "          --timeout 30 (link wait; recv: wait for first frame) --idle-exit 1\n"
		   "          recv --bind 10.0.0.1:31860, send --bind 10.0.0.2:31861 --connect 10.0.0.1:31860\n");
}

enum { O_FRAME = DP_O_OWN, O_BURST, O_DURATION, O_TIMEOUT, O_IDLE, O_SOURCE };

static void own_opt(int c, const char *arg, void *ctx)
{
	struct opts *o = ctx;
	switch (c) {
	case O_FRAME: o->frame = (uint32_t)dp_parse_u64("--frame", arg); break;
	case O_BURST: o->burst = (uint32_t)dp_parse_u64("--burst", arg); break;
	case O_DURATION: o->duration = dp_parse_double("--duration", arg); break;
	case O_TIMEOUT: o->timeout_s = dp_parse_double("--timeout", arg); break;
	case O_IDLE: o->idle_exit_s = dp_parse_double("--idle-exit", arg); break;
	case O_SOURCE: o->source = dp_parse_u64("--source", arg); break;
	}
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"frame", required_argument, NULL, O_FRAME},
		{"burst", required_argument, NULL, O_BURST},
		{"duration", required_argument, NULL, O_DURATION},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"idle-exit", required_argument, NULL, O_IDLE},
		{"source", required_argument, NULL, O_SOURCE},
		{NULL, 0, NULL, 0},
	};
	static const char *const roles[2] = {"send", "recv"};

	*o = (struct opts){
		.co.connect = {RTE_IPV4(10, 0, 0, 1), 31860},
		.frame = RTE_ETHER_HDR_LEN + RTE_ETHER_MTU,
		.burst = DP_BURST,
		.duration = 5,
		.timeout_s = 30,
		.idle_exit_s = 1,
	};
	dp_parse_opts(argc, argv, roles, lo, own_opt, o, usage, &o->co);
	if (!o->co.bind_set)
		o->co.bind = o->co.first_role ? (struct dp_addr){RTE_IPV4(10, 0, 0, 2), 31861}
					      : (struct dp_addr){RTE_IPV4(10, 0, 0, 1), 31860};
	if (o->frame < DP_HDR_LEN + 8 || o->frame > RTE_ETHER_HDR_LEN + RTE_ETHER_MTU) {
		fprintf(stderr, "--frame must be %zu..%d bytes\n", DP_HDR_LEN + 8,
			RTE_ETHER_HDR_LEN + RTE_ETHER_MTU);
		exit(2);
	}
	if (o->burst < 1 || o->burst > DP_BURST || o->duration <= 0 || o->timeout_s <= 0 ||
	    o->idle_exit_s <= 0) {
		fprintf(stderr, "--burst must be 1..%d; --duration, --timeout, --idle-exit > 0\n", DP_BURST);
		exit(2);
	}
	if (o->source != 0 && (o->source < o->frame || o->source > SOURCE_MAX)) {
		fprintf(stderr, "--source must be 0 or %u..%llu bytes\n", o->frame, (unsigned long long)SOURCE_MAX);
		exit(2);
	}
}

/* The payload source: filled once with a pattern so its pages exist. */
static uint8_t *source_new(uint64_t len)
{
	uint8_t *b = malloc(len);
	if (b != NULL)
		for (uint64_t i = 0; i < len; i++)
			b[i] = (uint8_t)(i * 131u + 7u);
	return b;
}

static void report(const struct opts *o, const char *role, uint64_t frames, uint64_t payload_bytes,
		   double secs, const char *extra_json, const char *extra_text)
{
	double gbps = secs > 0 ? (double)payload_bytes * 8 / secs / 1e9 : 0;
	double mpps = secs > 0 ? (double)frames / secs / 1e6 : 0;

	if (o->co.json)
		printf("{\"system\": \"dpdk-bulk\", \"role\": \"%s\", \"frame\": %u, \"frames\": %" PRIu64
		       ", \"payload_bytes\": %" PRIu64 ", \"seconds\": %.3f, \"gbps\": %.3f, \"mpps\": %.3f%s}\n",
		       role, o->frame, frames, payload_bytes, secs, gbps, mpps, extra_json);
	else
		printf("dpdk-bulk %s: %u B frames (%u B UDP payload)\n"
		       "  frames     %" PRIu64 "\n"
		       "  seconds    %.3f\n"
		       "  Mpps       %.3f\n"
		       "  Gbit/s     %.3f (UDP payload)\n%s",
		       role, o->frame, o->frame - (uint32_t)DP_HDR_LEN, frames, secs, mpps, gbps, extra_text);
	fflush(stdout);
}

static int run_send(const struct opts *o, struct dp_port *p)
{
	static const struct rte_ether_addr bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	uint8_t tmpl[DP_HDR_LEN];
	struct rte_mbuf *m[DP_BURST];
	uint16_t plen = (uint16_t)(o->frame - DP_HDR_LEN);
	uint64_t seq = 0, sent = 0, full_polls = 0, nomem = 0;
	uint64_t src_len = o->source, src_off = 0;
	uint8_t *src = NULL;
	size_t body = plen - sizeof(uint64_t); /* payload after the sequence number */

	if (src_len != 0 && (src = source_new(src_len)) == NULL) {
		fprintf(stderr, "dpdk-bulk send: no memory for --source %" PRIu64 "\n", src_len);
		return 1;
	}

	dp_frame_init(tmpl, &p->mac, &bcast, o->co.bind, o->co.connect, plen);
	long preempted0 = dp_preemptions();
	uint64_t t0 = rte_rdtsc(), end = t0 + dp_sec_to_cycles(o->duration), now = t0;
	while (!dp_stop && (now = rte_rdtsc()) < end) {
		if (rte_pktmbuf_alloc_bulk(p->mp, m, o->burst) != 0) {
			nomem++;
			continue;
		}
		for (uint32_t i = 0; i < o->burst; i++) {
			uint8_t *d = (uint8_t *)rte_pktmbuf_append(m[i], (uint16_t)o->frame);
			memcpy(d, tmpl, DP_HDR_LEN);
			uint64_t s = seq + i;
			memcpy(d + DP_HDR_LEN, &s, sizeof(s));
			if (src != NULL) {
				if (src_off + body > src_len)
					src_off = 0;
				memcpy(d + DP_HDR_LEN + sizeof(s), src + src_off, body);
				src_off += body;
			}
		}
		uint16_t k = rte_eth_tx_burst(p->id, 0, m, (uint16_t)o->burst);
		if (k < o->burst) {
			full_polls++;
			rte_pktmbuf_free_bulk(m + k, o->burst - k);
		}
		seq += k; /* unsent sequence numbers are reused: no gap at the receiver */
		sent += k;
	}
	double secs = (double)(now - t0) / (double)dp_tsc_hz;
	/* Tell the receiver we are done before unmapping (see DP_BYE). */
	uint8_t bye[DP_HDR_LEN + sizeof(uint64_t)];
	dp_frame_init(bye, &p->mac, &bcast, o->co.bind, o->co.connect, sizeof(uint64_t));
	dp_say_bye(p, bye, sizeof(bye));
	char ej[256], et[256];
	long preempted = dp_preemptions() - preempted0;
	snprintf(ej, sizeof(ej),
		 ", \"ring_full\": %" PRIu64 ", \"nomem\": %" PRIu64 ", \"preempted\": %ld, \"source\": %" PRIu64,
		 full_polls, nomem, preempted, src_len);
	snprintf(et, sizeof(et), "  ring full  %" PRIu64 " bursts (backpressure)\n  preempted  %ld times\n",
		 full_polls, preempted);
	report(o, "send", sent, sent * plen, secs, ej, et);
	free(src);
	return sent > 0 ? 0 : 1;
}

static int run_recv(const struct opts *o, struct dp_port *p)
{
	struct rte_mbuf *m[DP_BURST];
	uint64_t frames = 0, bytes = 0, bad = 0, lost = 0, reordered = 0, expect = 0;
	uint64_t t_first = 0, t_last = 0, start = rte_rdtsc();
	long preempted0 = dp_preemptions();
	uint64_t idle = dp_sec_to_cycles(o->idle_exit_s), wait = dp_sec_to_cycles(o->timeout_s);
	unsigned spins = 0;

	fprintf(stderr, "dpdk-bulk recv: %s up, waiting for frames on port %u\n", p->name, o->co.bind.port);
	bool done = false;
	while (!dp_stop && !done) {
		uint16_t n = rte_eth_rx_burst(p->id, 0, m, DP_BURST);
		if (n == 0) {
			if ((++spins & 0xffff) == 0) {
				uint64_t now = rte_rdtsc();
				if (frames ? now - t_last > idle : now - start > wait)
					break;
			}
			continue;
		}
		uint64_t now = rte_rdtsc();
		for (uint16_t i = 0; i < n; i++) {
			uint16_t plen;
			uint8_t *pl = dp_frame_check(m[i], o->co.bind.port, &plen);
			if (pl == NULL || plen < 8) {
				bad++;
				continue;
			}
			uint64_t s;
			memcpy(&s, pl, sizeof(s));
			if (s == DP_BYE) {
				done = true; /* the sender is leaving: stop polling now */
				continue;
			}
			if (s >= expect) {
				lost += s - expect;
				expect = s + 1;
			} else {
				reordered++;
			}
			if (frames++ == 0)
				t_first = now;
			bytes += plen;
		}
		if (frames)
			t_last = now;
		rte_pktmbuf_free_bulk(m, n);
	}
	if (done)
		dp_wait_link_down(p); /* let the sender leave first (see DP_BYE) */
	if (frames == 0) {
		fprintf(stderr, "dpdk-bulk recv: no frames %s\n", dp_stop ? "(interrupted)" : "before --timeout");
		return 1;
	}
	/* The first burst's bytes arrived before t_first started the clock. */
	double secs = (double)(t_last - t_first) / (double)dp_tsc_hz;
	char ej[256], et[256];
	long preempted = dp_preemptions() - preempted0;
	snprintf(ej, sizeof(ej),
		 ", \"lost\": %" PRIu64 ", \"reordered\": %" PRIu64 ", \"bad\": %" PRIu64 ", \"preempted\": %ld",
		 lost, reordered, bad, preempted);
	snprintf(et, sizeof(et),
		 "  lost       %" PRIu64 "\n  reordered  %" PRIu64 "\n  bad        %" PRIu64 "\n  preempted  %ld times\n",
		 lost, reordered, bad, preempted);
	report(o, "recv", frames, bytes, secs, ej, et);
	return 0;
}

static int run(struct dp_port *p, void *ctx)
{
	const struct opts *o = ctx;
	return o->co.first_role ? run_send(o, p) : run_recv(o, p);
}

int main(int argc, char **argv)
{
	struct opts o;

	parse(argc, argv, &o);
	return dp_run(argv[0], o.co.eal, 8191, o.timeout_s, run, &o);
}
