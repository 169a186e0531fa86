/*
 * test_dpdk_ring.c — the dpdk driver over net_ring, in one process:
 * argument checking, a self-looped net_ring0 vdev (queues, ARP to
 * ourselves, close and re-creation), and port pairs joined by
 * rte_eth_from_rings (the EAL cannot cross two ring vdevs, so the test
 * builds them): echo flows, frame format, TX errors, malformed frames,
 * zero copy across threads, jumbo MTU, reference balance.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "check.h"
#include "dpdk_test.h"
#include "drv_shim.h"

static char ring_eal[1024];
static struct tern_drv *loop0;                /* net_ring0 queue 0, self-looped */
static struct tern_drv *ra, *rb;              /* net_ring_tern_a <-> net_ring_tern_b */
static struct rte_ring *ring_ab, *ring_ba;    /* a's TX = b's RX, and back */

static void open__bad_args(void)
{
	struct tern_drv *d = NULL;
	CHECK_EQ(open_ep(ring_eal, "bogus=1", "10.1.0.1:5000", 0, "bad", &d), -EINVAL);
	CHECK_EQ(open_ep(ring_eal, "queues=0", "10.1.0.1:5000", 0, "bad", &d), -EINVAL);
	CHECK_EQ(open_ep(ring_eal, "mtu=10", "10.1.0.1:5000", 0, "bad", &d), -EINVAL);
	CHECK_EQ(open_ep(ring_eal, "memif_wait=3601", "10.1.0.1:5000", 0, "bad", &d), -EINVAL);
	CHECK(strstr(test_log_last, "bad value \"3601\" for memif_wait") != NULL);
	CHECK_EQ(open_ep(ring_eal, NULL, "[::1]:5000", 0, "bad", &d), -EINVAL);
	CHECK(strstr(test_log_last, "speaks IPv4 only") != NULL);
	CHECK_EQ(open_ep(ring_eal, NULL, NULL, 0, "bad", &d), -EINVAL);
	CHECK(strstr(test_log_last, "no bind address: the dpdk driver needs this endpoint's own "
				    "IPv4 address and UDP port") != NULL);
	CHECK_EQ(open_ep(ring_eal, NULL, "0.0.0.0:5000", 0, "bad", &d), -EINVAL);
	CHECK(strstr(test_log_last, "not 0.0.0.0") != NULL);
	CHECK_EQ(open_ep(ring_eal, NULL, "10.1.0.1:99999", 0, "bad", &d), -EINVAL);
	CHECK(strstr(test_log_last, "bind \"10.1.0.1:99999\": port 99999 is out of range") != NULL);
	CHECK_EQ(open_ep("--vdev='unterminated", NULL, "10.1.0.1:5000", 0, "bad", &d), -EINVAL);
	CHECK(d == NULL);
}

/* Send n random packets to ourselves in one tx_burst and get them all back. */
static void self_roundtrip(struct tern_drv *d, const char *self, unsigned n)
{
	struct flow *f = calloc(1, sizeof(*f));
	REQUIRE(f != NULL);
	REQUIRE(flow_init(f, "self", d, self, n, 0, 1) == 0);
	f->window = n;
	REQUIRE(arp_resolve(d, self, NULL, 0, 5) == 0);
	/* The probe arp_resolve sent comes back to us: drain it. */
	CHECK_EQ(flows_run((struct flow *[]){f}, 1, NULL, 0, 30), 0);
	CHECK_EQ(f->bad, 0);
	CHECK_EQ(f->done, n);
	flow_fini(f);
	free(f);
}

static void open__loopback(void)
{
	struct tern_drv *d = NULL, *q1 = NULL;
	REQUIRE(open_ep(ring_eal, "port=net_ring0,queues=2", "10.1.0.1:5000", 0, "loop0", &loop0) ==
		0);
	const struct tern_drv_info *in = &loop0->info;
	CHECK_EQ(in->mtu, 1472);
	CHECK(in->caps & TERN_DRV_CAP_MULTISEG); /* net_ring chains */
	CHECK(!(in->caps & TERN_DRV_CAP_ZC_TX));
	CHECK(!(in->caps & TERN_DRV_CAP_WAIT));
	CHECK_EQ(in->local.family, AF_INET);
	CHECK_EQ(in->local.port, 5000);
	uint16_t p0 = RTE_MAX_ETHPORTS;
	struct rte_ether_addr mac0;
	CHECK(rte_eth_dev_get_port_by_name("net_ring0", &p0) == 0 &&
	      rte_eth_macaddr_get(p0, &mac0) == 0);
	CHECK(memcmp(in->lladdr, mac0.addr_bytes, 6) == 0);
	CHECK(in->rto_min_ns >= 50000 && in->rto_min_ns <= 200000);
	CHECK(in->rto_max_ns >= 50000000 && in->rto_max_ns <= 200000000);
	CHECK(in->scan_ns > 0 && in->scan_ns <= 100000);
	CHECK(ops->wait == NULL);
	/* Same queue twice: busy. A different EAL string: logged, ignored. */
	CHECK_EQ(open_ep(ring_eal, "port=net_ring0", "10.1.0.9:5000", 0, "dup", &d), -EBUSY);
	/* No port=: the first port (the only one so far); port=N: by index. */
	CHECK_EQ(open_ep("--this-is-ignored", NULL, "10.1.0.2:0", 1, "q1", &q1), 0);
	uint16_t pid = RTE_MAX_ETHPORTS;
	char byidx[32];
	CHECK(rte_eth_dev_get_port_by_name("net_ring0", &pid) == 0);
	snprintf(byidx, sizeof(byidx), "port=%u", pid);
	CHECK_EQ(open_ep(ring_eal, byidx, "10.1.0.3:5000", 2, "q2", &d), -EINVAL);
	CHECK_EQ(open_ep(ring_eal, byidx, "10.1.0.3:5000", 1, "q1b", &d), -EBUSY);
	CHECK_EQ(open_ep(ring_eal, "port=nonexistent0", "10.1.0.3:5000", 0, "none", &d), -ENODEV);
	if (q1 != NULL) {
		CHECK_EQ(q1->info.local.port, 31850 + 1); /* port 0 picks a default per queue */
		ops->close(q1);
	}
	/* net_ring0 sends queue i to itself: the first packet waits for ARP (to ourselves). */
	struct tern_addr me = addr("10.1.0.1:5000");
	uint8_t hdr[TEST_HDR];
	probe_hdr(hdr);
	struct tern_tx tx = {.dst = &me, .hdr = hdr, .hdr_len = TEST_HDR};
	CHECK_EQ(ops->tx_burst(loop0, &tx, 1), 1);
	CHECK_EQ(loop0->stats.tx_drop_noroute, 1);
	CHECK_EQ(loop0->stats.arp_tx, 1);
	self_roundtrip(loop0, "10.1.0.1:5000", 200);
	CHECK(loop0->stats.arp_rx >= 2); /* our request and our reply */
	CHECK_EQ(loop0->stats.rx_drop_frame, 0);
}

/* Closing the last queue closes the vdev; opening again re-creates it. */
static void open__reopen_vdev(void)
{
	REQUIRE(loop0 != NULL);
	ops->close(loop0);
	loop0 = NULL;
	uint16_t pid;
	CHECK(rte_eth_dev_get_port_by_name("net_ring0", &pid) != 0);
	REQUIRE(open_ep(ring_eal, "port=net_ring0", "10.1.0.1:5000", 0, "loop0b", &loop0) == 0);
	CHECK(rte_eth_dev_get_port_by_name("net_ring0", &pid) == 0);
	self_roundtrip(loop0, "10.1.0.1:5000", 100);
	ops->close(loop0);
	loop0 = NULL;
}

static int ring_pair(const char *a, const char *b, struct rte_ring **ab, struct rte_ring **ba)
{
	char n1[32], n2[32];
	snprintf(n1, sizeof(n1), "%s_tx", a);
	snprintf(n2, sizeof(n2), "%s_tx", b);
	*ab = rte_ring_create(n1, 1024, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	*ba = rte_ring_create(n2, 1024, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (*ab == NULL || *ba == NULL)
		return -1;
	if (rte_eth_from_rings(a, ba, 1, ab, 1, rte_socket_id()) < 0 ||
	    rte_eth_from_rings(b, ab, 1, ba, 1, rte_socket_id()) < 0)
		return -1;
	return 0;
}

static void ring__echo(void)
{
	REQUIRE(ring_pair("tern_a", "tern_b", &ring_ab, &ring_ba) == 0);
	REQUIRE(open_ep(ring_eal, "port=net_ring_tern_a", "10.2.0.1:6000", 0, "a", &ra) == 0);
	REQUIRE(open_ep(ring_eal, "port=net_ring_tern_b", "10.2.0.2:6001", 0, "b", &rb) == 0);

	/* Deterministic ARP: one request, one answer, then the MAC is known. */
	struct tern_addr dst = addr("10.2.0.2:6001");
	uint8_t hdr[TEST_HDR];
	probe_hdr(hdr);
	struct tern_tx tx = {.dst = &dst, .hdr = hdr, .hdr_len = TEST_HDR};
	CHECK_EQ(ops->tx_burst(ra, &tx, 1), 1);
	CHECK_EQ(ra->stats.tx_drop_noroute, 1);
	CHECK_EQ(ra->stats.arp_tx, 1);
	CHECK_EQ(ra->stats.tx_pkts, 0);
	CHECK_EQ(ops->tx_burst(ra, &tx, 1), 1); /* rate limited: no second request */
	CHECK_EQ(ra->stats.tx_drop_noroute, 2);
	CHECK_EQ(ra->stats.arp_tx, 1);
	struct tern_rx rx[4];
	CHECK_EQ(ops->rx_burst(rb, rx, 4), 0); /* b answers the request... */
	CHECK_EQ(rb->stats.arp_rx, 1);
	CHECK_EQ(rb->stats.arp_tx, 1);
	CHECK_EQ(ops->rx_burst(ra, rx, 4), 0); /* ...a learns */
	CHECK_EQ(ra->stats.arp_rx, 1);
	CHECK_EQ(ops->tx_burst(ra, &tx, 1), 1);
	CHECK_EQ(ra->stats.tx_drop_noroute, 2); /* the neighbour is known now */
	CHECK_EQ(ra->stats.tx_pkts, 1);
	CHECK_EQ(ops->rx_burst(rb, rx, 4), 1);
	CHECK_EQ(rx[0].len, TEST_HDR);
	CHECK_EQ(rx[0].src.port, 6000);
	CHECK(memcmp(rx[0].src.ip, ra->info.local.ip, 4) == 0);
	ops->rx_done(rb, rx, 1);

	struct flow *f = calloc(1, sizeof(*f));
	REQUIRE(f != NULL);
	REQUIRE(flow_init(f, "ring", ra, "10.2.0.2:6001", 3000, 0, 1) == 0);
	f->dst = dst;
	CHECK_EQ(flows_run((struct flow *[]){f}, 1, &rb, 1, 60), 0);
	CHECK_EQ(f->bad, 0);
	CHECK_EQ(f->resent, 0); /* nothing is lost on a ring */
	CHECK_EQ(rb->stats.tx_drop_noroute, 0); /* replies use rx.src's MAC */
	CHECK_EQ(ra->stats.rx_drop_frame, 0);
	CHECK_EQ(rb->stats.rx_drop_frame, 0);
	CHECK(ra->stats.tx_copied_bytes > 0);
	flow_report(f);
	flow_fini(f);
	free(f);
}

/* Frames as they leave: checked with DPDK's own helpers, not the driver's. */
static void tx__frame_format(void)
{
	REQUIRE(ra != NULL && rb != NULL);
	struct tern_addr dst = addr("10.2.0.2:6001"); /* a's neighbour since ring__echo */
	uint8_t hdr[40], pl[300], tr[16];
	for (unsigned i = 0; i < sizeof(hdr); i++)
		hdr[i] = (uint8_t)i;
	for (unsigned i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 3);
	memset(tr, 0xee, sizeof(tr));
	struct tern_tx tx = {.dst = &dst, .hdr = hdr, .hdr_len = 40, .payload = pl, .len = 300,
			     .trailer = tr, .trailer_len = 16};
	CHECK_EQ(ops->tx_burst(ra, &tx, 1), 1);
	struct rte_mbuf *m = NULL;
	REQUIRE(rte_ring_dequeue(ring_ab, (void **)&m) == 0);
	CHECK_EQ(rte_pktmbuf_pkt_len(m), 42 + 356);
	uint8_t buf[512];
	const uint8_t *p = rte_pktmbuf_read(m, 0, rte_pktmbuf_pkt_len(m), buf);
	REQUIRE(p != NULL);
	const struct rte_ether_hdr *eth = (const void *)p;
	const struct rte_ipv4_hdr *ip = (const void *)(p + 14);
	const struct rte_udp_hdr *udp = (const void *)(p + 34);
	CHECK(eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4));
	CHECK(memcmp(eth->dst_addr.addr_bytes, rb->info.lladdr, 6) == 0);
	CHECK(memcmp(eth->src_addr.addr_bytes, ra->info.lladdr, 6) == 0);
	CHECK_EQ(ip->version_ihl, 0x45);
	CHECK_EQ(rte_be_to_cpu_16(ip->total_length), 20 + 8 + 356);
	CHECK_EQ(ip->next_proto_id, IPPROTO_UDP);
	CHECK(ip->time_to_live > 0);
	CHECK_EQ(rte_ipv4_cksum(ip), 0); /* a valid header folds to 0 */
	struct rte_ipv4_hdr copy = *ip;
	copy.hdr_checksum = 0;
	CHECK_EQ(rte_ipv4_cksum(&copy), ip->hdr_checksum);
	CHECK(memcmp(&ip->src_addr, ra->info.local.ip, 4) == 0);
	CHECK(memcmp(&ip->dst_addr, dst.ip, 4) == 0);
	CHECK_EQ(rte_be_to_cpu_16(udp->src_port), 6000);
	CHECK_EQ(rte_be_to_cpu_16(udp->dst_port), 6001);
	CHECK_EQ(rte_be_to_cpu_16(udp->dgram_len), 8 + 356);
	CHECK_EQ(udp->dgram_cksum, 0);
	CHECK(memcmp(p + 42, hdr, 40) == 0);
	CHECK(memcmp(p + 82, pl, 300) == 0);
	CHECK(memcmp(p + 382, tr, 16) == 0);
	rte_pktmbuf_free(m);
}

static void tx__errors(void)
{
	REQUIRE(ra != NULL);
	struct tern_addr dst = addr("10.2.0.2:6001"), v6 = addr("[::1]:6001");
	static uint8_t big[2000];
	uint8_t hdr[TEST_HDR];
	probe_hdr(hdr);
	struct tern_tx tx[3] = {
		{.dst = &dst, .hdr = hdr, .hdr_len = TEST_HDR, .payload = big, .len = 1472},
		{.dst = &v6, .hdr = hdr, .hdr_len = TEST_HDR},
		{.dst = &dst, .hdr = hdr, .hdr_len = TEST_HDR, .payload = big, .len = 1441},
	};
	uint64_t err = ra->stats.tx_drop_error;
	CHECK_EQ(ops->tx_burst(ra, tx, 3), 3); /* dropped and counted, not refused */
	CHECK_EQ(ra->stats.tx_drop_error - err, 3);
	CHECK_EQ(ops->tx_burst(ra, tx, 0), 0);
}

static void sum_in_use(struct rte_mempool *mp, void *arg)
{
	*(unsigned *)arg += rte_mempool_in_use_count(mp);
}

/* mbufs taken from every pool of this process (caches count as free). */
static unsigned mbufs_in_use(void)
{
	unsigned n = 0;
	rte_mempool_walk(sum_in_use, &n);
	return n;
}

/* A lent descriptor for the packet at b: hdr 40, payload len, tag 16, in a row. */
static struct tern_tx lent_tx(const struct tern_addr *dst, uint8_t *b, uint32_t len, void *h)
{
	return (struct tern_tx){.dst = dst, .hdr = b, .hdr_len = 40, .payload = b + 40, .len = len,
				.trailer = b + 40 + len, .trailer_len = 16, .flags = TERN_TX_LENT,
				.lent = h};
}

/* Frames m[0..n) sent from a to b (ring_ab), which echoes them: how many
 * good injected frames (MAGIC_INJ, 64 bytes) came back, waiting for up to
 * want of them (at most 100 rounds). */
static unsigned inj_echo(struct rte_mbuf **m, unsigned n, unsigned want)
{
	if (rte_ring_enqueue_bulk(ring_ab, (void **)m, n, NULL) != n)
		return 0;
	inj_seen = 0;
	for (int i = 0; i < 100 && inj_seen < want; i++) {
		echo_once(rb, NULL, NULL, 0);
		struct tern_rx rx[32];
		unsigned got = ops->rx_burst(ra, rx, 32);
		for (unsigned k = 0; k < got; k++) {
			uint32_t magic;
			memcpy(&magic, rx[k].data, 4);
			inj_seen += magic == MAGIC_INJ && rx[k].len == 64;
		}
		ops->rx_done(ra, rx, got);
	}
	return inj_seen;
}

/* Lent mbufs (tx_lend): the packet written into one leaves in that very
 * mbuf, nothing copied; each comes back exactly once: sent, dropped (bad
 * size, no route), left to the caller by a full queue and sent later, or
 * given back (tx_unlend). */
static void tx__lent_buffers(void)
{
	REQUIRE(ra != NULL && rb != NULL);
	struct tern_addr dst = addr("10.2.0.2:6001"), nowhere = addr("10.2.0.99:6001");
	unsigned used = mbufs_in_use();
	void *h[5], *hx = NULL;
	uint8_t *b[5];
	for (int i = 0; i < 5; i++) {
		b[i] = ops->tx_lend(ra, 40 + 300 + 16, &h[i]);
		REQUIRE(b[i] != NULL);
		for (unsigned j = 0; j < 356; j++)
			b[i][j] = (uint8_t)(i + j * 7);
	}
	CHECK(ops->tx_lend(ra, ra->info.mtu + 1, &hx) == NULL);
	CHECK_EQ(mbufs_in_use(), used + 5);

	uint64_t copied = ra->stats.tx_copied_bytes, err = ra->stats.tx_drop_error,
		 noroute = ra->stats.tx_drop_noroute;
	struct tern_tx tx[3] = {lent_tx(&dst, b[0], 300, h[0]), lent_tx(&nowhere, b[1], 300, h[1]),
				lent_tx(&dst, b[2], 300, h[2])};
	tx[2].len = ra->info.mtu; /* too big with its header and tag */
	CHECK_EQ(ops->tx_burst(ra, tx, 3), 3);
	CHECK_EQ(ra->stats.tx_drop_error - err, 1);
	CHECK_EQ(ra->stats.tx_drop_noroute - noroute, 1);
	CHECK_EQ(ra->stats.tx_copied_bytes, copied);
	struct rte_mbuf *m = NULL, *arp = NULL;
	REQUIRE(rte_ring_dequeue(ring_ab, (void **)&m) == 0);
	CHECK(m == h[0]); /* the lent mbuf itself, one segment */
	CHECK_EQ(m->nb_segs, 1);
	CHECK_EQ(rte_pktmbuf_pkt_len(m), 42 + 356);
	uint8_t want[356];
	for (unsigned j = 0; j < 356; j++)
		want[j] = (uint8_t)(j * 7);
	CHECK(memcmp(rte_pktmbuf_mtod_offset(m, uint8_t *, 42), want, 356) == 0);
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, 14);
	CHECK_EQ(rte_ipv4_cksum(ip), 0);
	rte_pktmbuf_free(m);
	if (rte_ring_dequeue(ring_ab, (void **)&arp) == 0) /* who has 10.2.0.99? */
		rte_pktmbuf_free(arp);

	/* A full queue: the descriptor is left, its mbuf still the caller's. */
	void *fill[4096];
	unsigned nfill = 0;
	while (nfill < 4096 && rte_ring_enqueue(ring_ab, &fill[nfill]) == 0)
		nfill++;
	struct tern_tx t3 = lent_tx(&dst, b[3], 300, h[3]);
	CHECK_EQ(ops->tx_burst(ra, &t3, 1), 0);
	CHECK_EQ(mbufs_in_use(), used + 2); /* b[3] and b[4] */
	void *junk;
	while (nfill-- > 0)
		REQUIRE(rte_ring_dequeue(ring_ab, &junk) == 0);
	CHECK_EQ(ops->tx_burst(ra, &t3, 1), 1);
	REQUIRE(rte_ring_dequeue(ring_ab, (void **)&m) == 0);
	CHECK(m == h[3]);
	rte_pktmbuf_free(m);

	ops->tx_unlend(ra, h[4]);
	CHECK_EQ(mbufs_in_use(), used);
}

static void rx__malformed(void)
{
	REQUIRE(ra != NULL && rb != NULL);
	struct rte_mbuf *m[INJ_COUNT];
	uint64_t before = rb->stats.rx_drop_frame;
	REQUIRE(inj_make(m, &ra->info.local, ra->info.lladdr, &rb->info.local, rb->info.lladdr) ==
		INJ_COUNT);
	CHECK_EQ(inj_echo(m, INJ_COUNT, 2), 2); /* the two good ones, options or not */
	CHECK_EQ(rb->stats.rx_drop_frame - before, INJ_BAD);
}

/* m's frame with its IPv4 header checksum computed again. */
static void ip_resum(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

/* Frames whose header equals the one accepted before them in the burst
 * take its verdict (dpdk_rxtx.c's rx_memo); every other frame is checked
 * in full: a copy with a broken checksum, one the device flagged bad, one
 * to another address (its checksum right) are dropped; a padded copy (a
 * longer frame, same header) is checked in full and taken. */
static void rx__same_header(void)
{
	REQUIRE(ra != NULL && rb != NULL);
	struct rte_mbuf *m[INJ_COUNT];
	uint64_t before = rb->stats.rx_drop_frame;
	REQUIRE(inj_make(m, &ra->info.local, ra->info.lladdr, &rb->info.local, rb->info.lladdr) ==
		INJ_COUNT);
	const unsigned n = 6;
	const uint8_t *good = rte_pktmbuf_mtod(m[INJ_GOOD], const uint8_t *);
	uint32_t flen = rte_pktmbuf_pkt_len(m[INJ_GOOD]);
	for (unsigned k = 1; k < n; k++) {
		REQUIRE(flen + 8 <= rte_pktmbuf_tailroom(m[k]) + rte_pktmbuf_data_len(m[k]));
		memcpy(rte_pktmbuf_mtod(m[k], uint8_t *), good, flen);
		m[k]->data_len = (uint16_t)flen;
		m[k]->pkt_len = flen;
		m[k]->ol_flags = 0;
	}
	uint8_t *p2 = rte_pktmbuf_mtod(m[2], uint8_t *);
	p2[14 + 10] ^= 0x01; /* the checksum's first byte */
	m[3]->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_BAD; /* the device says so */
	uint8_t *p4 = rte_pktmbuf_mtod(m[4], uint8_t *);
	p4[14 + 19] ^= 0x01; /* another destination address, correctly summed */
	ip_resum(m[4]);
	memset(rte_pktmbuf_mtod(m[5], uint8_t *) + flen, 0, 8); /* Ethernet padding */
	m[5]->data_len = (uint16_t)(flen + 8);
	m[5]->pkt_len = flen + 8;
	rte_pktmbuf_free_bulk(m + n, INJ_COUNT - n);
	CHECK_EQ(inj_echo(m, n, 3), 3); /* the frame, its copy, its padded copy */
	CHECK_EQ(rb->stats.rx_drop_frame - before, 3);
}

/* An echo server on its own thread: extbufs are freed by a foreign thread. */
struct srv_thread {
	struct tern_drv *d;
	atomic_int stop;
};

static void *srv_main(void *arg)
{
	struct srv_thread *t = arg;
	uint64_t end = now_ns() + 90ull * 1000000000ull;
	while (!atomic_load(&t->stop) && now_ns() < end)
		echo_once(t->d, NULL, NULL, 0);
	return NULL;
}

static void ring__zero_copy(void)
{
	struct rte_ring *cd, *dc;
	struct tern_drv *c = NULL, *d = NULL;
	REQUIRE(ring_pair("tern_c", "tern_d", &cd, &dc) == 0);
	REQUIRE(open_ep(ring_eal, "port=net_ring_tern_c,zc_threshold=256", "10.4.0.1:6000", 0, "c",
			&c) == 0);
	REQUIRE(open_ep(ring_eal, "port=net_ring_tern_d", "10.4.0.2:6000", 0, "d", &d) == 0);
	CHECK(c->info.caps & TERN_DRV_CAP_ZC_TX);
	CHECK(!(d->info.caps & TERN_DRV_CAP_ZC_TX));
	long refs0 = drv_shim_refs, calls0 = drv_shim_ref_calls;

	/* Same thread, step by step: references live exactly as long as the mbufs. */
	REQUIRE(arp_resolve(c, "10.4.0.2:6000", &d, 1, 5) == 0);
	struct flow *f = calloc(1, sizeof(*f));
	REQUIRE(f != NULL);
	REQUIRE(flow_init(f, "zc", c, "10.4.0.2:6000", 16, 1, 0) == 0);
	for (unsigned s = 0; s < 16; s++) { /* all big: all zero copy */
		f->total[s] = 1400;
		f->hlen[s] = TEST_HDR;
		f->tlen[s] = (uint16_t)(s % 2 ? 16 : 0);
	}
	f->window = 16;
	flow_send(f, now_ns());
	CHECK_EQ(drv_shim_refs - refs0, 16);
	CHECK_EQ(c->stats.tx_copied_bytes, 0);
	echo_once(d, NULL, NULL, 0); /* d copies, echoes, frees c's mbufs */
	CHECK_EQ(drv_shim_refs - refs0, 16); /* released on c's ring, not yet reaped */
	flow_recv(f);                        /* c's rx_burst reaps */
	CHECK_EQ(drv_shim_refs - refs0, 0);
	CHECK_EQ(f->done, 16);
	CHECK_EQ(f->bad, 0);
	flow_fini(f);

	/* Then concurrently: the server frees c's extbufs on its own thread. */
	REQUIRE(flow_init(f, "zc-threaded", c, "10.4.0.2:6000", 3000, 1, 1) == 0);
	struct srv_thread st = {.d = d};
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	/* EAL pinned us to CPU 0 (-l 0); put the server on CPU 1 for real concurrency. */
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0, &cpus);
	pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	REQUIRE(pthread_create(&th, &attr, srv_main, &st) == 0);
	pthread_attr_destroy(&attr);
	CHECK_EQ(flows_run((struct flow *[]){f}, 1, NULL, 0, 60), 0);
	atomic_store(&st.stop, 1);
	pthread_join(th, NULL);
	CHECK_EQ(f->bad, 0);
	CHECK(drv_shim_ref_calls - calls0 > 1000);
	CHECK(c->stats.tx_copied_bytes < c->stats.tx_bytes / 4); /* only payloads < 256 B */
	flow_report(f);
	flow_fini(f);
	free(f);
	/* A last poll reaps what the server freed after our final rx_burst. */
	struct tern_rx rx[32];
	unsigned n = ops->rx_burst(c, rx, 32);
	ops->rx_done(c, rx, n);
	CHECK_EQ(drv_shim_refs - refs0, 0);
	ops->close(c);
	ops->close(d);
	CHECK_EQ(drv_shim_refs - refs0, 0);
}

/* Jumbo tern packets: a bigger port MTU and mbufs that hold a whole frame. */
static void ring__jumbo(void)
{
	struct rte_ring *ef, *fe;
	struct tern_drv *e = NULL, *f2 = NULL;
	REQUIRE(ring_pair("tern_e", "tern_f", &ef, &fe) == 0);
	REQUIRE(open_ep(ring_eal, "port=net_ring_tern_e,mtu=8000", "10.5.0.1:6000", 0, "e", &e) ==
		0);
	REQUIRE(open_ep(ring_eal, "port=net_ring_tern_f,mtu=8000", "10.5.0.2:6000", 0, "f", &f2) ==
		0);
	CHECK_EQ(e->info.mtu, 8000);
	struct flow *f = calloc(1, sizeof(*f));
	REQUIRE(f != NULL);
	REQUIRE(arp_resolve(e, "10.5.0.2:6000", &f2, 1, 5) == 0);
	REQUIRE(flow_init(f, "jumbo", e, "10.5.0.2:6000", 500, 0, 1) == 0);
	CHECK_EQ(flows_run((struct flow *[]){f}, 1, &f2, 1, 30), 0);
	CHECK_EQ(f->bad, 0);
	CHECK_EQ(f2->stats.rx_drop_frame + f2->stats.rx_drop_trunc, 0);
	flow_fini(f);
	free(f);
	ops->close(e);
	ops->close(f2);
}

static void close__refs_balanced(void)
{
	if (ra != NULL)
		ops->close(ra);
	if (rb != NULL)
		ops->close(rb);
	ra = rb = NULL;
	CHECK_EQ(drv_shim_refs, 0);
}

int mode_ring(void)
{
	snprintf(ring_eal, sizeof(ring_eal),
		 /* quoted as a shell would: the driver splits the string itself */
		 "-l 0 %s --no-pci --file-prefix=tern-dpdk-test-ring-%d '--log-level=*:warning' "
		 "--vdev=\"net_ring0\"",
		 eal_mem, (int)getpid());
	printf("# EAL: %s\n", ring_eal);
	RUN(open__bad_args);
	RUN(open__loopback);
	RUN(open__reopen_vdev);
	RUN(ring__echo);
	RUN(tx__frame_format);
	RUN(tx__errors);
	RUN(tx__lent_buffers);
	RUN(rx__malformed);
	RUN(rx__same_header);
	RUN(ring__zero_copy);
	RUN(ring__jumbo);
	RUN(close__refs_balanced);
	return check_exit();
}
