/*
 * dpdk_test_lib.c — helpers of the dpdk driver tests: EAL memory choice,
 * opening instances, the echo server, the flow engine and frame injection
 * (see dpdk_test.h). No CHECKs here: helpers return what they saw.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "dpdk_test.h"

char self_path[4096];
char eal_mem[128];

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t rng_state = 0x9e3779b97f4a7c15ull;
uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

char test_log_last[512];

void test_log(void *ctx, int level, const char *msg)
{
	fprintf(stderr, "  [%s L%d] %s\n", (const char *)ctx, level, msg);
	snprintf(test_log_last, sizeof(test_log_last), "%s", msg);
}

/* Memory flags for the EAL: hugepages if enough are free, else none. */
void pick_memory(void)
{
	const char *env = getenv("TERN_DPDK_TEST_HUGE");
	int huge = 0;
	if (env != NULL) {
		huge = atoi(env) != 0;
	} else {
		FILE *f = fopen("/proc/meminfo", "r");
		char line[256];
		long free_pages = 0, size_kb = 0;
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			sscanf(line, "HugePages_Free: %ld", &free_pages);
			sscanf(line, "Hugepagesize: %ld kB", &size_kb);
		}
		if (f != NULL)
			fclose(f);
		huge = free_pages * size_kb >= 512L * 1024 && access("/dev/hugepages", F_OK) == 0;
	}
	/* --in-memory: hugepages without files to clean up; --no-huge needs --no-shconf. */
	snprintf(eal_mem, sizeof(eal_mem), "%s",
		 huge ? "--in-memory" : "--no-huge -m 512 --no-shconf");
	printf("# EAL memory: %s\n", eal_mem);
}

int open_ep_log(const char *eal, const char *args, const char *bind, unsigned queue,
		const char *tag, void (*log)(void *ctx, int level, const char *msg),
		struct tern_drv **out)
{
	struct tern_drv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.eal = eal;
	cfg.args = args;
	cfg.bind = bind;
	cfg.queue = queue;
	cfg.busy_poll = 1;
	cfg.log = log;
	cfg.log_ctx = (void *)tag;
	return ops->open(&cfg, out);
}

int open_ep(const char *eal, const char *args, const char *bind, unsigned queue,
	    const char *tag, struct tern_drv **out)
{
	return open_ep_log(eal, args, bind, queue, tag, test_log, out);
}

struct tern_addr addr(const char *s)
{
	struct tern_addr a;
	if (tern_addr_parse(s, &a) != 0)
		memset(&a, 0, sizeof(a));
	return a;
}



/* 1 if p (len bytes) is the intact packet seq of total bytes. */
int pkt_ok(const uint8_t *p, uint32_t len, uint32_t *seq_out)
{
	struct test_hdr h;
	if (len < TEST_HDR)
		return 0;
	memcpy(&h, p, sizeof(h));
	if (h.magic != MAGIC_DATA || h.total != len)
		return 0;
	for (uint32_t i = sizeof(h); i < len; i++)
		if (p[i] != pat(h.seq, i))
			return 0;
	*seq_out = h.seq;
	return 1;
}

/* Echo every datagram back to its sender (hdr 32 bytes + the rest, copied). */
unsigned echo_once(struct tern_drv *d, int *quit, struct tern_drv *const *all, unsigned nall)
{
	struct tern_rx rx[32];
	struct tern_tx tx[32];
	struct tern_addr dst[32];
	uint8_t stats_pkt[TEST_HDR + 4 * sizeof(struct tern_drv_stats)];
	unsigned n = ops->rx_burst(d, rx, 32), nt = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t magic = 0;
		if (rx[i].len >= 4)
			memcpy(&magic, rx[i].data, 4);
		dst[nt] = rx[i].src;
		memset(&tx[nt], 0, sizeof(tx[nt]));
		tx[nt].dst = &dst[nt];
		if (magic == MAGIC_QUIT && quit != NULL) {
			/* Answer with every endpoint's counters, then stop. */
			struct test_hdr h = {MAGIC_STATS, nall, 0, 0};
			memset(stats_pkt, 0, sizeof(stats_pkt));
			memcpy(stats_pkt, &h, sizeof(h));
			for (unsigned k = 0; k < nall && k < 4; k++)
				memcpy(stats_pkt + TEST_HDR + k * sizeof(struct tern_drv_stats),
				       &all[k]->stats, sizeof(struct tern_drv_stats));
			tx[nt].hdr = stats_pkt;
			tx[nt].hdr_len = TEST_HDR;
			tx[nt].payload = stats_pkt + TEST_HDR;
			tx[nt].len = (uint32_t)(nall * sizeof(struct tern_drv_stats));
			*quit = 1;
			nt++;
			continue;
		}
		if (rx[i].len < TEST_HDR)
			continue;
		tx[nt].hdr = rx[i].data;
		tx[nt].hdr_len = TEST_HDR;
		tx[nt].payload = (const uint8_t *)rx[i].data + TEST_HDR;
		tx[nt].len = rx[i].len - TEST_HDR;
		nt++;
	}
	if (nt != 0)
		ops->tx_burst(d, tx, nt);
	ops->rx_done(d, rx, n);
	return n;
}

/* ------------------------------------------------------------- flows */


static char fake_msg_storage;
#define FAKE_MSG ((struct tern_msg *)(void *)&fake_msg_storage)

int flow_init(struct flow *f, const char *name, struct tern_drv *drv, const char *dst,
	      unsigned count, int zc, int trailers)
{
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->drv = drv;
	f->dst = addr(dst);
	f->count = count < MAX_FLOW ? count : MAX_FLOW;
	f->window = 48;
	f->zc = zc;
	f->trailers = trailers;
	f->stride = (drv->info.mtu + 63) & ~(size_t)63;
	f->area = ops->mem_alloc(drv, (f->count * f->stride + 4095) & ~(size_t)4095);
	if (f->area == NULL)
		return -ENOMEM;
	uint32_t mtu = drv->info.mtu;
	for (unsigned s = 0; s < f->count; s++) {
		/* The edges first (smallest, largest), then random. */
		uint32_t total = s == 0	  ? TEST_HDR
				 : s == 1 ? mtu
					  : TEST_HDR + rnd() % (mtu - TEST_HDR + 1);
		uint32_t hmax = total < TERN_TX_HDR_MAX ? total : TERN_TX_HDR_MAX;
		uint32_t h = TEST_HDR + (rnd() % 4 == 0 ? rnd() % (hmax - TEST_HDR + 1) : 0);
		uint32_t t = 0;
		if (trailers && rnd() % 3 == 0) {
			uint32_t room = total - h;
			t = rnd() % ((room < TERN_TX_TRAILER_MAX ? room : TERN_TX_TRAILER_MAX) + 1);
		}
		f->total[s] = (uint16_t)total;
		f->hlen[s] = (uint16_t)h;
		f->tlen[s] = (uint16_t)t;
	}
	return 0;
}

void flow_fini(struct flow *f)
{
	if (f->area != NULL)
		ops->mem_free(f->area, (f->count * f->stride + 4095) & ~(size_t)4095);
	f->area = NULL;
}

/* Send what the window allows (new packets and due resends) in one tx_burst. */
void flow_send(struct flow *f, uint64_t now)
{
	static uint8_t hdrs[32][TERN_TX_HDR_MAX], trl[32][TERN_TX_TRAILER_MAX];
	struct tern_tx tx[32];
	uint32_t seqs[32];
	unsigned n = 0;

	for (unsigned s = 0; s < f->next && n < 32; s++) {
		if (f->state[s] == 1 && now - f->sent_at[s] > RESEND_NS) {
			f->state[s] = 0;
			f->inflight--;
			f->resent++;
		}
		if (f->state[s] == 0 && f->inflight + n < f->window)
			seqs[n++] = s;
	}
	while (n < 32 && f->next < f->count && f->inflight + n < f->window)
		seqs[n++] = f->next++;
	if (n == 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint32_t s = seqs[i], h = f->hlen[s], t = f->tlen[s], total = f->total[s];
		uint32_t len = total - h - t;
		struct test_hdr th = {MAGIC_DATA, s, total, h};
		uint8_t *pl = f->area + s * f->stride;
		memcpy(hdrs[i], &th, sizeof(th));
		for (uint32_t k = sizeof(th); k < h; k++)
			hdrs[i][k] = pat(s, k);
		for (uint32_t k = 0; k < len; k++)
			pl[k] = pat(s, h + k);
		for (uint32_t k = 0; k < t; k++)
			trl[i][k] = pat(s, h + len + k);
		memset(&tx[i], 0, sizeof(tx[i]));
		tx[i].dst = &f->dst;
		tx[i].hdr = hdrs[i];
		tx[i].hdr_len = h;
		tx[i].payload = len != 0 ? pl : NULL;
		tx[i].len = len;
		tx[i].trailer = trl[i];
		tx[i].trailer_len = t;
		tx[i].msg = f->zc && len != 0 ? FAKE_MSG : NULL;
	}
	unsigned acc = ops->tx_burst(f->drv, tx, n);
	/* Accepted ones are on their way (or dropped by the driver, counted): resend later. */
	for (unsigned i = 0; i < acc; i++) {
		f->state[seqs[i]] = 1;
		f->sent_at[seqs[i]] = now;
		f->inflight++;
	}
}

unsigned inj_seen; /* MAGIC_INJ echoes (injected good frames) */

void flow_recv(struct flow *f)
{
	struct tern_rx rx[32];
	unsigned n = ops->rx_burst(f->drv, rx, 32);
	for (unsigned i = 0; i < n; i++) {
		uint32_t seq, magic = 0;
		if (rx[i].len >= 4)
			memcpy(&magic, rx[i].data, 4);
		if (magic == MAGIC_INJ) {
			inj_seen++;
			continue;
		}
		if (magic == MAGIC_PROBE)
			continue;
		if (!pkt_ok(rx[i].data, rx[i].len, &seq) || seq >= f->count ||
		    f->total[seq] != rx[i].len) {
			f->bad++;
			continue;
		}
		if (f->state[seq] == 2) {
			f->dups++;
			continue;
		}
		if (f->state[seq] == 1)
			f->inflight--;
		f->state[seq] = 2;
		f->done++;
	}
	ops->rx_done(f->drv, rx, n);
}

int flows_run(struct flow **fl, unsigned nf, struct tern_drv **srv, unsigned ns, unsigned secs)
{
	uint64_t end = now_ns() + (uint64_t)secs * 1000000000ull;
	for (unsigned long it = 0; it < 200000000ul; it++) {
		uint64_t now = now_ns();
		int all = 1;
		for (unsigned i = 0; i < nf; i++) {
			if (fl[i]->done < fl[i]->count) {
				all = 0;
				flow_send(fl[i], now);
			}
		}
		if (all)
			return 0;
		if (now > end)
			break;
		for (unsigned i = 0; i < ns; i++)
			echo_once(srv[i], NULL, NULL, 0);
		for (unsigned i = 0; i < nf; i++)
			flow_recv(fl[i]);
	}
	for (unsigned i = 0; i < nf; i++)
		fprintf(stderr, "flow %s: %u/%u echoed, %u bad, %u resent\n", fl[i]->name,
			fl[i]->done, fl[i]->count, fl[i]->bad, fl[i]->resent);
	return -ETIMEDOUT;
}

void flow_report(const struct flow *f)
{
	const struct tern_drv_stats *s = &f->drv->stats;
	printf("#   %s: %u pkts, resent %u, dups %u; tx %" PRIu64 " pkts %" PRIu64
	       " B, copied %" PRIu64 " B, drop full %" PRIu64 " noroute %" PRIu64 "\n",
	       f->name, f->count, f->resent, f->dups, s->tx_pkts, s->tx_bytes, s->tx_copied_bytes,
	       s->tx_drop_full, s->tx_drop_noroute);
}

/*
 * First contact: the first packet to an unresolved peer is dropped with
 * tx_drop_noroute while an ARP request goes out; once the reply is in, a
 * send resolves the MAC and goes through. Returns 0 when resolved.
 */
void probe_hdr(uint8_t *hdr)
{
	struct test_hdr th = {MAGIC_PROBE, 0, TEST_HDR, TEST_HDR};
	memset(hdr, 0, TEST_HDR);
	memcpy(hdr, &th, sizeof(th));
}

int arp_resolve(struct tern_drv *cli, const char *dst, struct tern_drv **srv, unsigned ns,
		unsigned secs)
{
	uint8_t hdr[TEST_HDR];
	probe_hdr(hdr);
	uint64_t end = now_ns() + (uint64_t)secs * 1000000000ull, last = 0;
	for (unsigned long it = 0; it < 100000000ul && now_ns() < end; it++) {
		if (now_ns() - last > 2 * 1000 * 1000) {
			const struct tern_addr to = addr(dst);
			struct tern_tx tx = {.dst = &to, .hdr = hdr, .hdr_len = TEST_HDR};
			uint64_t noroute = cli->stats.tx_drop_noroute;
			last = now_ns();
			if (ops->tx_burst(cli, &tx, 1) != 1)
				return -EIO;
			if (cli->stats.tx_drop_noroute == noroute)
				return 0; /* sent: the neighbour is known */
		}
		for (unsigned i = 0; i < ns; i++)
			echo_once(srv[i], NULL, NULL, 0);
		struct tern_rx rx[32];
		unsigned n = ops->rx_burst(cli, rx, 32);
		ops->rx_done(cli, rx, n);
	}
	return -ETIMEDOUT;
}

/* ---------------------------------------------------- frame injection */


/*
 * Build a frame to (dmac, dip:dport) from (smac, sip:sport) carrying a
 * MAGIC_INJ tern packet, then break it as kind says.
 */
static void inj_build(struct rte_mbuf *m, int kind, const struct tern_addr *from,
		      const uint8_t *smac, const struct tern_addr *to, const uint8_t *dmac)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t opt = kind == INJ_GOOD_OPTS ? 4 : 0, hl = 20 + opt, plen = 64;
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(p + 14 + hl);
	uint8_t *data = p + 14 + hl + 8;
	struct test_hdr th = {MAGIC_INJ, (uint32_t)kind, plen, TEST_HDR};

	memset(p, 0, 14 + hl + 8 + plen);
	memcpy(eth->dst_addr.addr_bytes, dmac, 6);
	memcpy(eth->src_addr.addr_bytes, smac, 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = (uint8_t)(0x40 | (hl / 4));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(hl + 8 + plen));
	memcpy(&ip->src_addr, from->ip, 4);
	memcpy(&ip->dst_addr, to->ip, 4);
	if (opt != 0)
		memset((uint8_t *)ip + 20, 1, opt); /* NOPs */
	udp->src_port = rte_cpu_to_be_16(from->port);
	udp->dst_port = rte_cpu_to_be_16(to->port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + plen));
	memcpy(data, &th, sizeof(th));
	m->data_len = (uint16_t)(14 + hl + 8 + plen);

	switch (kind) {
	case INJ_TRUNC:
		ip->total_length = rte_cpu_to_be_16((uint16_t)(hl + 8 + plen + 100));
		udp->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + plen + 100));
		break;
	case INJ_WRONG_PORT:
		udp->dst_port = rte_cpu_to_be_16((uint16_t)(to->port + 1));
		break;
	case INJ_WRONG_IP:
		ip->dst_addr ^= rte_cpu_to_be_32(1);
		break;
	case INJ_FRAGMENT:
		ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
		break;
	case INJ_NOT_UDP:
		ip->next_proto_id = IPPROTO_TCP;
		break;
	case INJ_UDP_LEN:
		udp->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + plen - 10));
		break;
	case INJ_VERSION:
		ip->version_ihl = 0x65;
		break;
	case INJ_SHORT_IHL:
		ip->version_ihl = 0x44;
		break;
	default:
		break;
	}
	ip->hdr_checksum = 0;
	if (kind != INJ_SHORT_IHL)
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (kind == INJ_BAD_CKSUM)
		ip->hdr_checksum ^= 0x0101;
	if (kind == INJ_RUNT)
		m->data_len = 20;
	if (kind == INJ_ETHERTYPE)
		eth->ether_type = rte_cpu_to_be_16(0x88b5); /* local experimental */
	if (kind == INJ_BAD_ARP) {
		struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(p + 14);
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
		memset(arp, 0, sizeof(*arp));
		arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
		arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		arp->arp_hlen = 5; /* wrong */
		arp->arp_plen = 4;
		arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
		m->data_len = 60;
	}
	m->pkt_len = m->data_len;
}

static struct rte_mempool *inj_pool(void)
{
	static struct rte_mempool *mp;
	if (mp == NULL)
		mp = rte_pktmbuf_pool_create("tern_test_inj", 511, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					     (int)rte_socket_id());
	return mp;
}

/* Fill mbufs with every injection kind; returns how many. */
unsigned inj_make(struct rte_mbuf **m, const struct tern_addr *from, const uint8_t *smac,
		  const struct tern_addr *to, const uint8_t *dmac)
{
	if (rte_pktmbuf_alloc_bulk(inj_pool(), m, INJ_COUNT) != 0)
		return 0;
	for (int k = 0; k < INJ_COUNT; k++)
		inj_build(m[k], k, from, smac, to, dmac);
	return INJ_COUNT;
}
