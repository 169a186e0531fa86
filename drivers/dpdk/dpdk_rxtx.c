/*
 * dpdk_rxtx.c — the dpdk driver's fast path: rx_burst, rx_done, tx_burst.
 *
 * Frames are Ethernet + IPv4 (no options sent, any accepted) + UDP + tern
 * packet. RX trusts nothing: every frame is checked (ethertype, version,
 * IHL, header checksum, lengths against the frame, fragments, protocol,
 * our IP, our port, UDP length) before its payload is handed up; failures
 * are dropped and counted in rx_drop_frame. A frame whose header and length
 * equal those of the frame accepted before it in the burst (a bulk call's)
 * gets that verdict from one compare (struct rx_memo). ARP is answered here, on
 * whichever queue it arrives. RX hands up pointers into the mbufs; a chained
 * mbuf (memif chains big packets, net_ring passes a sender's chain as is)
 * is copied into a per-burst contiguous area.
 *
 * TX builds one mbuf per packet: a 42-byte header from a template, then the
 * tern header, payload and trailer. A payload of at least zc_threshold
 * bytes that sits in a msgbuf is not copied: it is attached as an external
 * buffer behind the header mbuf, and a tern_msg_ref holds the msgbuf until
 * the mbuf is freed. That free may happen on any thread (net_ring hands the
 * mbuf to the peer endpoint, which frees it in its rx_done), so the free
 * callback only enqueues the msg on the owner's MP/SC ring; the owner drops
 * the references in its next rx_burst/tx_burst (dpdk_zc_reap).
 *
 * A sealed packet needs no copy at all: the core wrote it into an mbuf
 * this driver lent (dpdk_tx_lend, driver.h's tx_lend) and tx_burst only
 * puts the 42-byte header in front of it. A lent mbuf is freed here when
 * its descriptor is consumed (sent: by the PMD; dropped: here); one the
 * device queue did not take stays with its descriptor, the core's.
 *
 * Costs paid per burst, not per packet: one mbuf bulk allocation, one
 * rte_eth_tx_burst, one bulk free. No lock, no allocation outside mempools,
 * no log.
 */
#include <assert.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_arp.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_memory.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "dpdk_priv.h"
#include "prefetch.h"

/* The tern header without body or counter (wire.h's TERN_HDR_LEN; the
 * driver API only promises hdr_len >= 32). */
#define TX_HDR_BARE 32u

/* Largest header we parse: Ethernet + IPv4 with options + UDP. */
#define RX_HDR_MAX (DPDK_ETH_LEN + 60u + DPDK_UDP_LEN)

/* ------------------------------------------------------------------ RX */

/* The one's-complement sum of a 20-byte IPv4 header (no options), folded
 * to 16 bits as rte_raw_cksum() folds it: five 32-bit adds instead of its
 * general loop, for the header every packet has. */
static inline uint32_t ip_sum20(const void *h)
{
	uint32_t w[5];
	memcpy(w, h, sizeof(w));
	uint64_t sum = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	uint32_t s = (uint32_t)(sum & 0xffff) + (uint32_t)(sum >> 16);
	return (s & 0xffff) + (s >> 16);
}

/*
 * The frame of this burst that last passed every check below, if its
 * 42-byte header (no IP options) lies in its mbuf, which stays ours until
 * rx_done. A bulk call's frames carry the same Ethernet/IPv4/UDP header
 * byte for byte: every check of the header is a function of those bytes
 * and the frame's length, so a frame whose header and length equal the
 * accepted one's gets the same verdict, found with one 42-byte compare
 * instead of the checks one by one; and its source was learnt with it
 * (nothing else is learnt in between: any other frame ends the memo). Its
 * own mbuf's flags (the device's checksum verdicts) are still read per
 * frame.
 */
struct rx_memo {
	const uint8_t *hdr; /* NULL: none yet */
	uint32_t flen;
	uint8_t sw_sum; /* its IPv4 checksum was summed here, not the device's verdict */
};

/* 8 bytes of a and b, XORed: 0 where they are equal. */
static inline uint64_t xor8(const uint8_t *a, const uint8_t *b)
{
	uint64_t wa, wb;
	memcpy(&wa, a, 8);
	memcpy(&wb, b, 8);
	return wa ^ wb;
}

/* Are the 42-byte headers a and b equal? Six loads each (the last two
 * words overlap), no call and no loop. */
static inline int hdr_same(const uint8_t *a, const uint8_t *b)
{
	static_assert(DPDK_HDR_LEN == 42, "hdr_same compares 42 bytes");
	return (xor8(a, b) | xor8(a + 8, b + 8) | xor8(a + 16, b + 16) | xor8(a + 24, b + 24) |
		xor8(a + 32, b + 32) | xor8(a + 34, b + 34)) == 0;
}

/* 1: r describes a tern packet to hand up; 0: m was consumed (dropped, ARP). */
static inline int rx_one(struct dpdk_drv *d, struct rte_mbuf *m, struct tern_rx *r, uint8_t *lin,
			 struct rte_mbuf **arp_reply, struct rx_memo *memo)
{
	uint8_t hbuf[RX_HDR_MAX];
	uint32_t flen = rte_pktmbuf_pkt_len(m);
	const struct rte_ipv4_hdr *ip;
	const struct rte_udp_hdr *udp;
	uint32_t hl, tot;

	/* 42 bytes: the shortest IPv4/UDP frame, and exactly Ethernet + ARP. */
	if (unlikely(flen < DPDK_HDR_LEN))
		goto bad;
	/* Contiguous in the first segment: a pointer, no copy. */
	const uint8_t *h = rte_pktmbuf_read(m, 0, DPDK_HDR_LEN, hbuf);
	uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (memo->hdr != NULL && flen == memo->flen && (memo->sw_sum || ck == RTE_MBUF_F_RX_IP_CKSUM_GOOD) &&
	    ck != RTE_MBUF_F_RX_IP_CKSUM_BAD &&
	    (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_BAD &&
	    hdr_same(h, memo->hdr)) {
		ip = (const struct rte_ipv4_hdr *)(h + DPDK_ETH_LEN);
		udp = (const struct rte_udp_hdr *)(h + DPDK_ETH_LEN + DPDK_IP_LEN);
		hl = DPDK_IP_LEN;
		tot = rte_be_to_cpu_16(ip->total_length);
		goto take;
	}
	memo->hdr = NULL; /* whatever this frame is, the memo ends here */
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)h;
	if (unlikely(eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))) {
		if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
			*arp_reply = dpdk_arp_input(d, h, flen);
			return 0;
		}
		if (eth->ether_type == rte_cpu_to_be_16(DPDK_ETYPE_QUIESCE) &&
		    dpdk_quiesce_input(d, h, flen, arp_reply) == 0)
			return 0;
		goto bad;
	}

	ip = (const struct rte_ipv4_hdr *)(h + DPDK_ETH_LEN);
	hl = (uint32_t)(ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * RTE_IPV4_IHL_MULTIPLIER;
	if (unlikely(ip->version_ihl != RTE_IPV4_VHL_DEF)) {
		if ((ip->version_ihl >> 4) != IPVERSION || hl < DPDK_IP_LEN)
			goto bad;
		/* Options: read again so the UDP header behind them is contiguous too. */
		if (flen < DPDK_ETH_LEN + hl + DPDK_UDP_LEN)
			goto bad;
		h = rte_pktmbuf_read(m, 0, DPDK_ETH_LEN + hl + DPDK_UDP_LEN, hbuf);
		eth = (const struct rte_ether_hdr *)h;
		ip = (const struct rte_ipv4_hdr *)(h + DPDK_ETH_LEN);
	}

	/* The device's verdict where it gives one, else the software sum. */
	if (unlikely(ck == RTE_MBUF_F_RX_IP_CKSUM_BAD))
		goto bad;
	if (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
	    unlikely((hl == DPDK_IP_LEN ? ip_sum20(ip) : rte_raw_cksum(ip, hl)) != 0xffff))
		goto bad;

	/* total_length may be shorter than the frame (Ethernet padding), never longer. */
	tot = rte_be_to_cpu_16(ip->total_length);
	if (unlikely(tot < hl + DPDK_UDP_LEN || tot > flen - DPDK_ETH_LEN))
		goto bad;
	if (unlikely(ip->fragment_offset &
		     rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)))
		goto bad; /* tern packets fit a frame: a fragment is not ours */
	if (unlikely(ip->next_proto_id != IPPROTO_UDP || ip->dst_addr != d->ip))
		goto bad;
	udp = (const struct rte_udp_hdr *)((const uint8_t *)ip + hl);
	if (unlikely(udp->dst_port != d->udp_port ||
		     rte_be_to_cpu_16(udp->dgram_len) != tot - hl))
		goto bad;
	/*
	 * The UDP checksum is not verified: tern sends 0 (legal on IPv4), the
	 * link has its FCS, and the core checks every header field. A device
	 * that did verify it and found it bad still gets its way.
	 */
	if (unlikely((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD))
		goto bad;

	if (unlikely(tot - hl - DPDK_UDP_LEN > d->mtu)) {
		d->base.stats.rx_drop_trunc++;
		return 0;
	}
	/* So a server answers without ARP. The source MAC is as trusted as an
	 * ARP reply: anyone on the link can claim an IP either way. */
	dpdk_nb_learn(d, ip->src_addr, eth->src_addr.addr_bytes);
	if (hl == DPDK_IP_LEN && h != hbuf) {
		memo->hdr = h;
		memo->flen = flen;
		memo->sw_sum = ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	}
take:;
	uint32_t len = tot - hl - DPDK_UDP_LEN;
	r->data =
	    (void *)(uintptr_t)rte_pktmbuf_read(m, DPDK_ETH_LEN + hl + DPDK_UDP_LEN, len, lin);
	r->len = len;
	r->flags = 0;
	r->priv = m;
	memset(&r->src, 0, sizeof(r->src));
	r->src.family = AF_INET;
	r->src.port = rte_be_to_cpu_16(udp->src_port);
	memcpy(r->src.ip, &ip->src_addr, 4);
	return 1;
bad:
	d->base.stats.rx_drop_frame++;
	return 0;
}

unsigned dpdk_rx_burst(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	struct dpdk_drv *d = dpdk_of(drv);
	struct rte_mbuf *pkts[DPDK_BURST], *gone[DPDK_BURST], *arp[DPDK_BURST];
	unsigned got = 0, ngone = 0, narp = 0;
	uint64_t bytes = 0;
	struct rx_memo memo = {.hdr = NULL};

	if (d->zc_inflight != 0)
		dpdk_zc_reap(d);
	if (unlikely(d->quiesce != DPDK_QSC_RUN) && dpdk_quiesce_hold(d))
		return 0; /* the memif peer is stopping: its rings may vanish under a burst */
	if (n > DPDK_BURST)
		n = DPDK_BURST;
	uint16_t nb = rte_eth_rx_burst(d->port_id, d->queue, pkts, (uint16_t)n);
	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = pkts[i];
		struct rte_mbuf *reply = NULL;
		if (i + 1 < nb)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (rx_one(d, m, &rx[got], d->lin + (size_t)got * d->lin_stride, &reply, &memo)) {
			bytes += rx[got].len;
			got++;
			continue;
		}
		gone[ngone++] = m;
		if (reply != NULL)
			arp[narp++] = reply;
	}
	if (ngone != 0)
		rte_pktmbuf_free_bulk(gone, ngone);
	if (unlikely(narp != 0)) {
		/* This thread owns the queue's TX side too: answer on it. */
		uint16_t s = rte_eth_tx_burst(d->port_id, d->queue, arp, (uint16_t)narp);
		d->base.stats.arp_tx += s;
		if (s < narp)
			rte_pktmbuf_free_bulk(arp + s, narp - s);
	}
	d->base.stats.rx_pkts += got;
	d->base.stats.rx_bytes += bytes;
	return got;
}

/* Can m go straight back to mp: what rte_pktmbuf_free() leaves of an mbuf
 * of mp that is one segment, direct (no clone, no external buffer) and
 * referenced once: the mbuf as it is. */
static inline int mbuf_plain(const struct rte_mbuf *m, const struct rte_mempool *mp)
{
	return m->pool == mp && m->next == NULL && m->nb_segs == 1 &&
	       rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m);
}

/*
 * Every frame a burst handed up goes back at once. Frames the device
 * received into our pool as plain mbufs (all of memif's) are put back in
 * one mempool operation; rte_pktmbuf_free_bulk() makes the same decision
 * for each mbuf through its general per-segment path (~40 instructions a
 * frame in callgrind). A burst with anything else in it (a chain, a
 * clone, another pool's: net_ring hands over the sender's mbufs) takes
 * that path whole.
 */
void dpdk_rx_done(struct tern_drv *drv, struct tern_rx *rx, unsigned n)
{
	struct dpdk_drv *d = dpdk_of(drv);
	struct rte_mbuf *m[DPDK_BURST];
	while (n != 0) {
		unsigned k = n < DPDK_BURST ? n : DPDK_BURST;
		int plain = 1;
		for (unsigned i = 0; i < k; i++) {
			m[i] = rx[i].priv;
			plain &= mbuf_plain(m[i], d->mp);
		}
		if (plain)
			rte_mempool_put_bulk(d->mp, (void **)m, k);
		else
			rte_pktmbuf_free_bulk(m, k);
		rx += k;
		n -= k;
	}
}

/* ------------------------------------------------------------------ TX */

void dpdk_tmpl_init(struct dpdk_drv *d)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d->tmpl;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d->tmpl + DPDK_ETH_LEN);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(d->tmpl + DPDK_ETH_LEN + DPDK_IP_LEN);

	memset(d->tmpl, 0, sizeof(d->tmpl));
	rte_ether_addr_copy(&d->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	/* DF and ID 0 (RFC 6864): a tern packet is never fragmented. */
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->src_addr = d->ip;
	udp->src_port = d->udp_port;

	/* Sum the constant words once; tx adds length and destination. */
	uint32_t sum = 0;
	for (unsigned i = 0; i < DPDK_IP_LEN; i += 2) {
		uint16_t w;
		memcpy(&w, (const uint8_t *)ip + i, 2);
		sum += w;
	}
	d->ip_sum = sum;
}

/* The device computes m's IPv4 header checksum. */
static inline void hdr_offload(struct rte_mbuf *m)
{
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	m->l2_len = DPDK_ETH_LEN;
	m->l3_len = DPDK_IP_LEN;
}

/* Where an IPv4 tern_addr sends to, in one word: family, pad, port and the
 * address (driver.h's layout), for telling a packet to the same place as
 * the one before from one to elsewhere. */
static inline uint64_t dst_key(const struct tern_addr *a)
{
	uint64_t k;
	static_assert(offsetof(struct tern_addr, ip) == 4, "tern_addr: ip after family, pad, port");
	memcpy(&k, a, sizeof(k));
	return k;
}

static inline void hdr_fill(const struct dpdk_drv *d, struct rte_mbuf *m,
			    const struct tern_addr *dst, const uint8_t *mac, uint32_t plen)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + DPDK_ETH_LEN);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(p + DPDK_ETH_LEN + DPDK_IP_LEN);
	uint16_t tl = rte_cpu_to_be_16((uint16_t)(DPDK_IP_LEN + DPDK_UDP_LEN + plen));
	uint32_t dip;

	memcpy(p, d->tmpl, DPDK_HDR_LEN);
	memcpy(p, mac, RTE_ETHER_ADDR_LEN); /* Ethernet destination */
	memcpy(&dip, dst->ip, 4);
	ip->total_length = tl;
	ip->dst_addr = dip;
	if (d->tx_ip_cksum) {
		hdr_offload(m);
	} else {
		/* One's-complement sums work on words as stored, in any byte order. */
		uint32_t sum = d->ip_sum + tl + (dip & 0xffff) + (dip >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		ip->hdr_checksum = (uint16_t)~sum;
	}
	udp->dst_port = rte_cpu_to_be_16(dst->port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(DPDK_UDP_LEN + plen));
}

/* IOVA of a payload for the device, if it has one (0 = copy instead). */
static inline int zc_iova(const struct dpdk_drv *d, const void *p, uint32_t len, rte_iova_t *iova)
{
	if (d->iova_va) {
		*iova = (rte_iova_t)(uintptr_t)p;
		return 1;
	}
	/* Physical addressing: only DPDK memory (mem_alloc) within one segment. */
	const struct rte_memseg *ms = rte_mem_virt2memseg(p, NULL);
	if (ms == NULL || ms->iova == RTE_BAD_IOVA ||
	    (uintptr_t)p + len > (uintptr_t)ms->addr + ms->len)
		return 0;
	*iova = ms->iova + ((uintptr_t)p - (uintptr_t)ms->addr);
	return 1;
}

/* Any thread: the mbuf holding this extbuf is being freed. */
static void zc_free_cb(void *addr, void *opaque)
{
	struct dpdk_zc_priv *z = opaque;
	(void)addr;
	/* Cannot fail: the owner keeps at most zc_max <= capacity in flight. */
	rte_ring_mp_enqueue(z->done, z->msg);
}

void dpdk_zc_reap(struct dpdk_drv *d)
{
	void *msgs[DPDK_BURST];
	unsigned nb;
	do {
		nb = rte_ring_sc_dequeue_burst(d->zc_done, msgs, DPDK_BURST, NULL);
		for (unsigned i = 0; i < nb; i++)
			tern_msg_unref(msgs[i]);
		d->zc_inflight -= nb;
	} while (nb == DPDK_BURST);
}

/* ------------------------------------------------------- lent TX buffers */

/*
 * tx_lend: an mbuf of our pool, its data pointer past the room for the
 * Ethernet/IPv4/UDP header, so the core writes the tern packet where it
 * will be sent from; tx_chunk only puts the 42 bytes in front (TX_LENT).
 * The pool has room for a full batch of them (dpdk.c).
 */
void *dpdk_tx_lend(struct tern_drv *drv, uint32_t len, void **handle)
{
	struct dpdk_drv *d = dpdk_of(drv);
	if (unlikely(len > d->mtu))
		return NULL;
	struct rte_mbuf *m = rte_pktmbuf_alloc(d->mp);
	if (unlikely(m == NULL))
		return NULL;
	*handle = m;
	return rte_pktmbuf_mtod_offset(m, uint8_t *, DPDK_HDR_LEN);
}

void dpdk_tx_unlend(struct tern_drv *drv, void *handle)
{
	(void)drv;
	rte_pktmbuf_free(handle);
}

enum tx_kind { TX_ERROR, TX_NOROUTE, TX_COPY, TX_ZC, TX_LENT };

/* Settle the descriptors of tx[0..ret) dropped here (consumed, not sent):
 * count them, and free the buffers lent for them (consumed: ours again). */
static void count_drops(struct tern_drv_stats *st, const struct tern_tx *tx, const uint8_t *kind,
			unsigned ret)
{
	for (unsigned i = 0; i < ret; i++) {
		if (kind[i] > TX_NOROUTE)
			continue;
		st->tx_drop_error += kind[i] == TX_ERROR;
		st->tx_drop_noroute += kind[i] == TX_NOROUTE;
		if (tx[i].flags & TERN_TX_LENT)
			rte_pktmbuf_free(tx[i].lent);
	}
}

/*
 * A large payload (prefetch.h) is prefetched two packets ahead of its copy:
 * a bulk call's source is the caller's msgbuf, read once, megabytes of it
 * in flight (4 x 1 MiB in perf/compare's bulk suite), and the copy stalled
 * on its loads (perf annotate: most of its samples on the loads of the
 * source), where dpdk-bulk's sender has nothing to read.
 */
/* tx[j] is a packet whose payload tx_chunk will copy, and a large one. */
static inline int copy_ahead(const struct tern_tx *tx, const uint8_t *kind, unsigned j, unsigned k)
{
	return j < k && kind[j] == TX_COPY && tx[j].len >= TERN_PREFETCH_MIN;
}

/*
 * Send k <= DPDK_BURST packets with one rte_eth_tx_burst. Returns how many
 * of tx[0..k) it consumed in order (driver.h): sent, or dropped here for
 * no route or a bad size (counted). It stops at the first packet the device
 * queue or the mbuf pool cannot take now: that one and the rest are left to
 * the core, uncounted.
 */
static unsigned tx_chunk(struct dpdk_drv *d, struct tern_tx *tx, unsigned k)
{
	uint8_t kind[DPDK_BURST];
	uint8_t mac[DPDK_BURST][RTE_ETHER_ADDR_LEN], mi[DPDK_BURST]; /* tx[i]'s MAC: mac[mi[i]] */
	rte_iova_t iova[DPDK_BURST];
	uint32_t arp_ip[DPDK_BURST];
	/* at most 3 segments per packet, plus one ARP request per packet */
	struct rte_mbuf *segs[DPDK_BURST * 4], *pkts[DPDK_BURST * 2];
	uint8_t idx[DPDK_BURST];
	unsigned nseg = 0, narp = 0, nzc = 0, nlent = 0, first = k, ndrop = 0;
	uint64_t now = 0;
	struct tern_drv_stats *st = &d->base.stats;

	/* The last packet routed: the next to the same address (all of a bulk
	 * call's) takes its MAC without a lookup. */
	uint32_t last_ip = 0;
	unsigned last = 0;
	for (unsigned i = 0; i < k; i++) {
		struct tern_tx *t = &tx[i];
		uint32_t ip;
		if (unlikely(!tern_tx_valid(t, d->mtu) || t->dst->family != AF_INET)) {
			kind[i] = TX_ERROR;
			ndrop++;
			continue;
		}
		memcpy(&ip, t->dst->ip, 4);
		if (ip == last_ip && last_ip != 0) {
			mi[i] = mi[last];
		} else if (likely(dpdk_nb_lookup(d, ip, mac[i]))) {
			mi[i] = (uint8_t)i;
			last_ip = ip;
		} else {
			kind[i] = TX_NOROUTE;
			ndrop++;
			if (now == 0)
				now = rte_rdtsc();
			if (dpdk_arp_may_request(d, ip, now))
				arp_ip[narp++] = ip;
			continue;
		}
		last = i;
		if (first == k)
			first = i;
		if (t->flags & TERN_TX_LENT) {
			kind[i] = TX_LENT; /* already in its mbuf */
			nlent++;
		} else if (d->zc_threshold != 0 && t->len >= d->zc_threshold && t->msg != NULL &&
		    d->zc_inflight + nzc < d->zc_max && zc_iova(d, t->payload, t->len, &iova[i])) {
			kind[i] = TX_ZC;
			nzc++;
			nseg += 2 + (t->trailer_len != 0);
		} else {
			kind[i] = TX_COPY;
			nseg++;
		}
	}
	if (nseg + narp + nlent == 0) {
		count_drops(st, tx, kind, k);
		return k;
	}
	if (nseg + narp != 0 && unlikely(rte_pktmbuf_alloc_bulk(d->mp, segs, nseg + narp) != 0)) {
		/* The pool ran dry: as good as a full queue. */
		count_drops(st, tx, kind, first);
		return first;
	}

	unsigned s = 0, np = 0;
	uint64_t copied = 0, bytes = 0;
	/* The Ethernet/IPv4/UDP header built last (in its mbuf), where it goes
	 * and for how long a packet: the next packet to the same place of the
	 * same length (a bulk call's packets) copies it whole. */
	const uint8_t *prev_hdr = NULL;
	uint64_t prev_key = 0;
	uint32_t prev_plen = 0;
	for (unsigned j = 0; j < 2; j++)
		if (copy_ahead(tx, kind, j, k))
			tern_prefetch_range(tx[j].payload, tx[j].len, 0);
	for (unsigned i = 0; i < k; i++) {
		struct tern_tx *t = &tx[i];
		if (copy_ahead(tx, kind, i + 2, k))
			tern_prefetch_range(tx[i + 2].payload, tx[i + 2].len, 0);
		if (kind[i] < TX_COPY)
			continue;
		uint32_t plen = t->hdr_len + t->len + t->trailer_len;
		struct rte_mbuf *m = kind[i] == TX_LENT ? t->lent : segs[s++];
		uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
		uint64_t key = dst_key(t->dst);
		if (prev_hdr != NULL && key == prev_key && plen == prev_plen) {
			memcpy(frame, prev_hdr, DPDK_HDR_LEN);
			if (d->tx_ip_cksum)
				hdr_offload(m);
		} else {
			hdr_fill(d, m, t->dst, mac[mi[i]], plen);
			prev_key = key;
			prev_plen = plen;
		}
		prev_hdr = frame;
		if (kind[i] == TX_LENT) {
			m->data_len = (uint16_t)(DPDK_HDR_LEN + plen);
			m->pkt_len = DPDK_HDR_LEN + plen;
			bytes += plen;
			idx[np] = (uint8_t)i;
			pkts[np++] = m;
			continue;
		}
		uint8_t *p = frame + DPDK_HDR_LEN;
		/* Every data packet of an unprotected session has the bare
		 * 32-byte header: a fixed-size copy, inline, not a libc call. */
		if (t->hdr_len == TX_HDR_BARE)
			memcpy(p, t->hdr, TX_HDR_BARE);
		else
			memcpy(p, t->hdr, t->hdr_len);
		if (kind[i] == TX_COPY) {
			p += t->hdr_len;
			if (t->len != 0) {
				memcpy(p, t->payload, t->len);
				copied += t->len;
				p += t->len;
			}
			if (t->trailer_len != 0)
				memcpy(p, t->trailer, t->trailer_len);
			m->data_len = (uint16_t)(DPDK_HDR_LEN + plen);
		} else {
			struct rte_mbuf *ext = segs[s++];
			struct dpdk_zc_priv *z = rte_mbuf_to_priv(ext);
			z->sh.free_cb = zc_free_cb;
			z->sh.fcb_opaque = z;
			rte_mbuf_ext_refcnt_set(&z->sh, 1);
			z->msg = t->msg;
			z->done = d->zc_done;
			/* The device only reads it; the mbuf API has no const. */
			rte_pktmbuf_attach_extbuf(ext, (void *)(uintptr_t)t->payload, iova[i],
						  (uint16_t)t->len, &z->sh);
			ext->data_len = (uint16_t)t->len;
			tern_msg_ref(t->msg);
			d->zc_inflight++;
			m->data_len = (uint16_t)(DPDK_HDR_LEN + t->hdr_len);
			m->next = ext;
			m->nb_segs = 2;
			if (t->trailer_len != 0) {
				struct rte_mbuf *tr = segs[s++];
				memcpy(rte_pktmbuf_mtod(tr, void *), t->trailer, t->trailer_len);
				tr->data_len = (uint16_t)t->trailer_len;
				ext->next = tr;
				m->nb_segs = 3;
			}
		}
		m->pkt_len = DPDK_HDR_LEN + plen;
		bytes += plen;
		idx[np] = (uint8_t)i;
		pkts[np++] = m;
	}
	unsigned ndata = np;
	for (unsigned a = 0; a < narp; a++) {
		struct rte_mbuf *m = segs[s++];
		dpdk_arp_build(d, m, RTE_ARP_OP_REQUEST, NULL, d->ip, arp_ip[a]);
		pkts[np++] = m;
	}

	uint16_t sent = rte_eth_tx_burst(d->port_id, d->queue, pkts, (uint16_t)np);
	if (unlikely(sent < ndata)) {
		/* Count only what went: sum again up to the first left behind. */
		bytes = 0;
		for (unsigned j = 0; j < sent; j++) {
			const struct tern_tx *t = &tx[idx[j]];
			bytes += t->hdr_len + t->len + t->trailer_len;
		}
	}
	st->tx_pkts += sent < ndata ? sent : ndata;
	st->tx_bytes += bytes;
	st->arp_tx += sent > ndata ? sent - ndata : 0;
	st->tx_copied_bytes += copied;
	if (unlikely(sent < np)) {
		/* Extbufs among these release their msgs through zc_free_cb. A
		 * lent mbuf left behind is not ours: its descriptor goes back to
		 * the core unconsumed, lent buffer and all (driver.h). */
		unsigned nfree = 0;
		for (unsigned j = sent; j < np; j++)
			if (j >= ndata || kind[idx[j]] != TX_LENT)
				pkts[sent + nfree++] = pkts[j];
		rte_pktmbuf_free_bulk(pkts + sent, nfree);
		if (sent < ndata) {
			count_drops(st, tx, kind, idx[sent]);
			return idx[sent];
		}
	}
	if (unlikely(ndrop != 0))
		count_drops(st, tx, kind, k);
	return k;
}

unsigned dpdk_tx_burst(struct tern_drv *drv, struct tern_tx *tx, unsigned n)
{
	struct dpdk_drv *d = dpdk_of(drv);
	unsigned done = 0;

	if (unlikely(d->quiesce != DPDK_QSC_RUN) && dpdk_quiesce_hold(d))
		return 0; /* nothing taken: the core keeps the packets (see dpdk_rx_burst) */
	while (done < n) {
		unsigned k = n - done < DPDK_BURST ? n - done : DPDK_BURST;
		unsigned r = tx_chunk(d, tx + done, k);
		done += r;
		if (r < k)
			break;
	}
	/* memif and af_packet free during tx_burst: release those msgs now. */
	if (d->zc_inflight != 0)
		dpdk_zc_reap(d);
	return done;
}
