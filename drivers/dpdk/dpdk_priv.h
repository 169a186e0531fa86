/*
 * dpdk_priv.h — private to drivers/dpdk: the instance, the process-wide port
 * records and the ARP table, shared by dpdk.c (control path), dpdk_eal.c
 * (EAL start and why it failed), dpdk_rxtx.c (fast path), dpdk_arp.c
 * (neighbour resolution) and dpdk_quiesce.c (the net_memif quiesce handshake).
 *
 * Threading: a struct dpdk_drv belongs to its endpoint's thread. struct
 * dpdk_port and the EAL are process-wide and change only under the lock in
 * dpdk.c, except dpdk_port.ips[], which every queue's rx path reads (atomic,
 * relaxed) to answer ARP for any address on the port. The ARP table is
 * lock-free (see dpdk_arp.c).
 */
#ifndef TERN_DPDK_PRIV_H
#define TERN_DPDK_PRIV_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "driver.h"

struct rte_flow;

#define DPDK_ETH_LEN  14u               /* Ethernet header, no VLAN */
#define DPDK_IP_LEN   20u               /* IPv4 header without options (what we send) */
#define DPDK_UDP_LEN  8u
#define DPDK_HDR_LEN  (DPDK_ETH_LEN + DPDK_IP_LEN + DPDK_UDP_LEN) /* 42 */
#define DPDK_ARP_LEN  28u               /* ARP body for Ethernet/IPv4 */
#define DPDK_MIN_FRAME 60u              /* Ethernet minimum without FCS: pad ARP to it */

#define DPDK_BURST      32u  /* mbufs per rte_eth_rx/tx_burst call */
#define DPDK_LENT       64u  /* mbufs the core holds through tx_lend (its batch) */
#define DPDK_MAX_QUEUES 64u  /* queue pairs per port we manage (busy bitmap) */
#define DPDK_DEF_MTU    1472u /* tern packet in a 1500-byte IP MTU: 1500 - 20 - 8 */
#define DPDK_DEF_PORT   31850u /* UDP port when bind asks for 0 (+ queue), as eRPC */

/* Process-wide state of one ethdev port (index = port id), under the lock. */
struct dpdk_port {
	uint16_t port_id;
	uint16_t nq;           /* queue pairs configured */
	uint32_t mtu;          /* largest tern packet the port is configured for */
	uint64_t busy;         /* bit q: queue pair q is open */
	uint8_t memif;         /* net_memif: quiesce the peer before stopping (dpdk_quiesce.c) */
	uint64_t tx_offloads;  /* enabled RTE_ETH_TX_OFFLOAD_* */
	uint64_t rx_offloads;  /* enabled RTE_ETH_RX_OFFLOAD_* */
	struct rte_ether_addr mac;
	/* IPv4 (network order) of the endpoint on each open queue, 0 = none:
	 * an ARP request for any of them is answered on whichever queue it
	 * arrives. Written under the lock, read by every queue's rx path. */
	_Atomic uint32_t ips[DPDK_MAX_QUEUES];
	struct rte_mempool *mp[DPDK_MAX_QUEUES]; /* one per queue (rx + tx) */
};

/*
 * Private area of every mbuf in our pools (rte_mbuf_to_priv). Used only by
 * the zero-copy path: the shared info of an external buffer lives in the
 * mbuf it is attached to, so it stays valid until that mbuf's free, which
 * is exactly when its callback runs.
 */
struct dpdk_zc_priv {
	struct rte_mbuf_ext_shared_info sh;
	struct tern_msg *msg;  /* holds one tern_msg_ref */
	struct rte_ring *done; /* owner's ring of released msgs */
};

/* One driver instance: one queue pair of one port, one local IP:port. */
#define DPDK_NB 64u /* neighbour cache entries, power of two */

struct dpdk_drv {
	struct tern_drv base; /* first: the core only sees this */

	/* --- fast path, read-only after open --- */
	uint16_t port_id;
	uint16_t queue;
	uint32_t ip;           /* local IPv4, network order */
	uint16_t udp_port;     /* local UDP port, network order */
	uint8_t tx_ip_cksum;   /* the device computes the IPv4 header checksum */
	uint8_t iova_va;       /* IOVA = VA: extbuf IOVA is the address itself */
	uint32_t mtu;          /* largest tern packet */
	uint32_t zc_threshold; /* payloads >= this go zero copy; 0 = never */
	uint8_t quiesce;       /* DPDK_QSC_*: the memif peer is stopping (dpdk_quiesce.c) */
	struct rte_ether_addr mac;
	struct rte_mempool *mp;
	struct dpdk_port *port;
	uint8_t *lin;          /* DPDK_BURST contiguous areas for chained rx mbufs */
	uint32_t lin_stride;
	uint32_t ip_sum;       /* one's-complement sum of the constant IPv4 words */
	uint8_t tmpl[DPDK_HDR_LEN]; /* Eth/IPv4/UDP header with our constant fields */
	uint64_t arp_interval; /* min TSC cycles between ARP requests for one IP */
	uint64_t arp_full_tsc; /* last request sent while the ARP table was full */

	/* --- neighbour cache: this instance's view of the ARP table --- */
	struct dpdk_nb {
		uint32_t ip;   /* network order; 0 = empty */
		uint8_t mac[RTE_ETHER_ADDR_LEN];
	} nb[DPDK_NB];

	/* --- zero copy TX --- */
	struct rte_ring *zc_done; /* MP/SC: msgs whose extbufs were freed (any thread) */
	uint32_t zc_inflight;     /* extbufs attached and not yet reaped (owner only) */
	uint32_t zc_max;          /* never more than zc_done holds, so enqueue cannot fail */

	/* --- control path --- */
	struct rte_flow *flow;    /* steers our IP:port to our queue (NICs with rte_flow) */
	uint64_t quiesce_tsc;     /* when the peer's QUIESCE came */
};

static inline struct dpdk_drv *dpdk_of(struct tern_drv *drv)
{
	return (struct dpdk_drv *)drv;
}

/* dpdk_eal.c: start the EAL from the "--eal" string once per process (0,
 * or -errno with the cause and its remedy logged); the --vdev spec naming
 * a device, and the first one (NULL if none). Under dpdk.c's lock. */
int dpdk_eal_ensure(struct dpdk_drv *d, const char *eal);
const char *dpdk_vdev_find(const char *name);
const char *dpdk_vdev_first(void);

/* dpdk_arp.c: the process-wide neighbour table, keyed by (port, IPv4), and
 * each instance's direct-mapped cache in front of it. */
/* The cache slot of ip. */
static inline struct dpdk_nb *dpdk_nb_slot(struct dpdk_drv *d, uint32_t ip)
{
	uint32_t h = ip * 0x9e3779b1u;
	return &d->nb[(h >> 24) & (DPDK_NB - 1)];
}
/* Cache misses of the two below (out of line: the table). */
int dpdk_nb_fill(struct dpdk_drv *d, struct dpdk_nb *n, uint32_t ip,
		 uint8_t mac[RTE_ETHER_ADDR_LEN]);
void dpdk_nb_store(struct dpdk_drv *d, struct dpdk_nb *n, uint32_t ip,
		   const uint8_t mac[RTE_ETHER_ADDR_LEN]);
/* The MAC of ip into mac: from the cache, else the table (filling the
 * cache). 1 if known. Inline: every packet sent asks. */
static inline int dpdk_nb_lookup(struct dpdk_drv *d, uint32_t ip, uint8_t mac[RTE_ETHER_ADDR_LEN])
{
	struct dpdk_nb *n = dpdk_nb_slot(d, ip);
	if (__builtin_expect(n->ip == ip && ip != 0, 1)) {
		memcpy(mac, n->mac, RTE_ETHER_ADDR_LEN);
		return 1;
	}
	return dpdk_nb_fill(d, n, ip, mac);
}
/* A frame from ip came from mac: remember it (cache and table) if new.
 * Inline: every packet received tells. */
static inline void dpdk_nb_learn(struct dpdk_drv *d, uint32_t ip,
				 const uint8_t mac[RTE_ETHER_ADDR_LEN])
{
	struct dpdk_nb *n = dpdk_nb_slot(d, ip);
	if (__builtin_expect(n->ip == ip && memcmp(n->mac, mac, RTE_ETHER_ADDR_LEN) == 0, 1))
		return;
	dpdk_nb_store(d, n, ip, mac);
}
int dpdk_arp_lookup(uint16_t port, uint32_t ip, struct rte_ether_addr *mac);
void dpdk_arp_learn(uint16_t port, uint32_t ip, const struct rte_ether_addr *mac);
/* 1 if an ARP request for ip may go out now (rate limit), 0 if not. */
int dpdk_arp_may_request(struct dpdk_drv *d, uint32_t ip, uint64_t now);
void dpdk_arp_forget_port(uint16_t port);
/* Fill m with an ARP frame (request if op == RTE_ARP_OP_REQUEST). */
void dpdk_arp_build(struct dpdk_drv *d, struct rte_mbuf *m, uint16_t op,
		    const struct rte_ether_addr *tha, uint32_t sip, uint32_t tip);
/* Handle one received ARP frame h (len bytes); returns a reply to send or NULL. */
struct rte_mbuf *dpdk_arp_input(struct dpdk_drv *d, const uint8_t *h, uint32_t len);

/* dpdk_quiesce.c: the net_memif quiesce handshake (see there). */
#define DPDK_ETYPE_QUIESCE    0x88b5u /* IEEE 802 local experimental EtherType 1 */
#define DPDK_QUIESCE_WAIT_MS  1000u   /* closer: longest wait for the peer's acks (a loaded host) */
#define DPDK_QUIESCE_POLL_US  100u    /* closer: pause between polls */
#define DPDK_QUIESCE_ROUNDS   20000u  /* closer: polls at most (2 x WAIT_MS / POLL_US) */
#define DPDK_QUIESCE_HOLD_MS  1000u   /* peer: resume if the link stays up this long */
enum { DPDK_QSC_RUN = 0, DPDK_QSC_WAIT_DOWN, DPDK_QSC_WAIT_UP };
/* A received frame of EtherType DPDK_ETYPE_QUIESCE, h its first len bytes
 * (>= DPDK_HDR_LEN contiguous): 0 if taken (*reply: an ack to send, or
 * NULL), -EPROTO if malformed or not a memif port (drop and count). */
int dpdk_quiesce_input(struct dpdk_drv *d, const uint8_t *h, uint32_t len,
		       struct rte_mbuf **reply);
/* d->quiesce != 0: 1 while d must not burst on its port, 0 once it may again. */
int dpdk_quiesce_hold(struct dpdk_drv *d);
/* Last close of memif port p (name), before rte_eth_dev_stop: ask the peer's
 * endpoints to stop bursting and wait (bounded) for their acks. */
void dpdk_quiesce_peer(struct dpdk_drv *d, struct dpdk_port *p, const char *name);

/* dpdk_rxtx.c */
unsigned dpdk_rx_burst(struct tern_drv *drv, struct tern_rx *rx, unsigned n);
void dpdk_rx_done(struct tern_drv *drv, struct tern_rx *rx, unsigned n);
unsigned dpdk_tx_burst(struct tern_drv *drv, struct tern_tx *tx, unsigned n);
void *dpdk_tx_lend(struct tern_drv *drv, uint32_t len, void **handle);
void dpdk_tx_unlend(struct tern_drv *drv, void *handle);
/* Release the msgs of freed extbufs (tern_msg_unref); owner thread only. */
void dpdk_zc_reap(struct dpdk_drv *d);
/* Prepare d->tmpl and d->ip_sum from the local addresses. */
void dpdk_tmpl_init(struct dpdk_drv *d);

#endif /* TERN_DPDK_PRIV_H */
