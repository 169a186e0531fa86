/*
 * dpdk_arp.c — neighbour resolution for the dpdk driver: a process-wide ARP
 * table, ARP requests for unknown peers, answers for our own addresses.
 *
 * A user names a peer by IP:port only, so the driver resolves MACs itself.
 * Most packets never come here: a reply goes to the MAC the request came
 * from (rx.src carries it), and the core caches a resolved MAC in its
 * struct tern_addr. The table is consulted on a tx miss and updated by
 * received ARP frames, both of which can happen on any endpoint's thread
 * inside rx_burst/tx_burst, where we take no lock. So the table is
 * lock-free: a fixed array probed linearly, a slot claimed once with a CAS
 * on its key and never given back, the MAC published with one atomic store
 * (valid bit + 48 bits). Entries are invalidated (not removed) when their
 * port closes. A full table only costs rate-limit precision and learning;
 * everything else keeps working.
 */
#include <stdatomic.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dpdk_priv.h"

#define ARP_SLOTS  1024u /* power of two */
#define ARP_PROBES 16u   /* linear probe bound: lookups stay O(1) */
#define ARP_VALID  (1ull << 63)

struct arp_slot {
	_Atomic uint64_t key;      /* 0 = free; else ARP_KEY(port, ip), never changes again */
	_Atomic uint64_t mac;      /* ARP_VALID | MAC in the low 48 bits; 0 = unresolved */
	_Atomic uint64_t last_req; /* TSC of the last request sent for this IP; 0 = never */
};

/* Zero-initialised, never freed: a slot outlives every port and instance. */
static struct arp_slot arp_table[ARP_SLOTS];

/* Bit 48 keeps a key of port 0, IP 0.0.0.0 distinct from "free". */
static inline uint64_t arp_key(uint16_t port, uint32_t ip)
{
	return (1ull << 48) | ((uint64_t)port << 32) | ip;
}

static struct arp_slot *slot_find(uint64_t key, int create)
{
	uint32_t h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 40);
	for (uint32_t i = 0; i < ARP_PROBES; i++) {
		struct arp_slot *s = &arp_table[(h + i) & (ARP_SLOTS - 1)];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == key)
			return s;
		if (k != 0)
			continue;
		/* Keys are never removed, so a chain ends at its first free slot. */
		if (!create)
			return NULL;
		uint64_t expect = 0;
		if (atomic_compare_exchange_strong_explicit(&s->key, &expect, key,
							    memory_order_acq_rel,
							    memory_order_acquire))
			return s;
		if (expect == key) /* another thread inserted the same key */
			return s;
	}
	return NULL;
}

static inline uint64_t mac_pack(const struct rte_ether_addr *mac)
{
	uint64_t v = 0;
	memcpy(&v, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	return v | ARP_VALID;
}

int dpdk_arp_lookup(uint16_t port, uint32_t ip, struct rte_ether_addr *mac)
{
	struct arp_slot *s = slot_find(arp_key(port, ip), 0);
	if (s == NULL)
		return 0;
	uint64_t v = atomic_load_explicit(&s->mac, memory_order_acquire);
	if (!(v & ARP_VALID))
		return 0;
	memcpy(mac->addr_bytes, &v, RTE_ETHER_ADDR_LEN);
	return 1;
}

void dpdk_arp_learn(uint16_t port, uint32_t ip, const struct rte_ether_addr *mac)
{
	struct arp_slot *s = slot_find(arp_key(port, ip), 1);
	if (s != NULL)
		atomic_store_explicit(&s->mac, mac_pack(mac), memory_order_release);
}

int dpdk_nb_fill(struct dpdk_drv *d, struct dpdk_nb *n, uint32_t ip,
		 uint8_t mac[RTE_ETHER_ADDR_LEN])
{
	struct rte_ether_addr m;
	if (!dpdk_arp_lookup(d->port_id, ip, &m))
		return 0;
	n->ip = ip;
	memcpy(n->mac, m.addr_bytes, RTE_ETHER_ADDR_LEN);
	memcpy(mac, m.addr_bytes, RTE_ETHER_ADDR_LEN);
	return 1;
}

void dpdk_nb_store(struct dpdk_drv *d, struct dpdk_nb *n, uint32_t ip,
		   const uint8_t mac[RTE_ETHER_ADDR_LEN])
{
	n->ip = ip;
	memcpy(n->mac, mac, RTE_ETHER_ADDR_LEN);
	struct rte_ether_addr m;
	memcpy(m.addr_bytes, mac, RTE_ETHER_ADDR_LEN);
	dpdk_arp_learn(d->port_id, ip, &m);
}

int dpdk_arp_may_request(struct dpdk_drv *d, uint32_t ip, uint64_t now)
{
	struct arp_slot *s = slot_find(arp_key(d->port_id, ip), 1);
	if (s == NULL) {
		/* Table full: rate-limit per instance instead of per IP. */
		if (d->arp_full_tsc != 0 && now - d->arp_full_tsc < d->arp_interval)
			return 0;
		d->arp_full_tsc = now;
		return 1;
	}
	uint64_t last = atomic_load_explicit(&s->last_req, memory_order_relaxed);
	if (last != 0 && now - last < d->arp_interval)
		return 0;
	/* Several queues may miss on the same IP at once: one of them asks. */
	return atomic_compare_exchange_strong_explicit(&s->last_req, &last, now,
						       memory_order_relaxed,
						       memory_order_relaxed);
}

void dpdk_arp_forget_port(uint16_t port)
{
	for (uint32_t i = 0; i < ARP_SLOTS; i++) {
		uint64_t k = atomic_load_explicit(&arp_table[i].key, memory_order_acquire);
		if (k != 0 && (uint16_t)(k >> 32) == port) {
			atomic_store_explicit(&arp_table[i].mac, 0, memory_order_release);
			atomic_store_explicit(&arp_table[i].last_req, 0, memory_order_relaxed);
		}
	}
}

void dpdk_arp_build(struct dpdk_drv *d, struct rte_mbuf *m, uint16_t op,
		    const struct rte_ether_addr *tha, uint32_t sip, uint32_t tip)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(p + DPDK_ETH_LEN);

	/* Pad to the Ethernet minimum: real NICs pad, veth and memif do not. */
	memset(p, 0, DPDK_MIN_FRAME);
	if (op == RTE_ARP_OP_REQUEST)
		memset(eth->dst_addr.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
	else
		rte_ether_addr_copy(tha, &eth->dst_addr);
	rte_ether_addr_copy(&d->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&d->mac, &arp->arp_data.arp_sha);
	arp->arp_data.arp_sip = sip;
	if (op != RTE_ARP_OP_REQUEST) /* a request's target MAC is what we ask: zero */
		rte_ether_addr_copy(tha, &arp->arp_data.arp_tha);
	arp->arp_data.arp_tip = tip;
	m->data_len = DPDK_MIN_FRAME;
	m->pkt_len = DPDK_MIN_FRAME;
}

/* Is ip the address of an endpoint on any queue of our port? */
static int ip_is_ours(const struct dpdk_drv *d, uint32_t ip)
{
	const struct dpdk_port *p = d->port;
	if (ip == 0)
		return 0;
	for (uint32_t q = 0; q < p->nq; q++)
		if (atomic_load_explicit(&p->ips[q], memory_order_relaxed) == ip)
			return 1;
	return 0;
}

struct rte_mbuf *dpdk_arp_input(struct dpdk_drv *d, const uint8_t *h, uint32_t len)
{
	const struct rte_arp_hdr *arp = (const struct rte_arp_hdr *)(h + DPDK_ETH_LEN);

	if (len < DPDK_ETH_LEN + DPDK_ARP_LEN ||
	    arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4) {
		d->base.stats.rx_drop_frame++;
		return NULL;
	}
	uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
	if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) {
		d->base.stats.rx_drop_frame++;
		return NULL;
	}
	d->base.stats.arp_rx++;

	/* Fields of a packed struct: copy out before taking addresses. */
	struct rte_ether_addr sha;
	uint32_t sip, tip;
	memcpy(&sha, &arp->arp_data.arp_sha, sizeof(sha));
	memcpy(&sip, &arp->arp_data.arp_sip, sizeof(sip));
	memcpy(&tip, &arp->arp_data.arp_tip, sizeof(tip));
	int ours = ip_is_ours(d, tip);

	/*
	 * Learn the sender when it talks to us (as Linux does), or refresh an
	 * entry we already have (a moved peer's gratuitous ARP). A probe
	 * (sender IP 0) or a multicast sender MAC teaches nothing.
	 */
	if (sip != 0 && rte_is_unicast_ether_addr(&sha)) {
		if (ours || slot_find(arp_key(d->port_id, sip), 0) != NULL)
			dpdk_arp_learn(d->port_id, sip, &sha);
	}
	if (op != RTE_ARP_OP_REQUEST || !ours)
		return NULL;

	struct rte_mbuf *r = rte_pktmbuf_alloc(d->mp);
	if (r == NULL) {
		d->base.stats.rx_drop_nomem++;
		return NULL;
	}
	dpdk_arp_build(d, r, RTE_ARP_OP_REPLY, &sha, tip, sip);
	return r;
}
