/*
 * dpdk_quiesce.c — the net_memif quiesce handshake: a port about to stop
 * asks its memif peer to stop touching the shared rings first.
 *
 * Why: DPDK's memif PMD (22.11, unchanged upstream) handles a peer's
 * disconnect on the EAL interrupt thread: memif_disconnect() clears
 * ETH_MEMIF_FLAG_CONNECTED, then munmaps the shared regions. eth_memif_rx
 * and eth_memif_tx test that flag once on entry and then read the rings,
 * and nothing orders the two threads, so a thread inside rx/tx_burst when
 * the peer goes away reads unmapped memory (SIGSEGV). The PMD raises no
 * link event and has no lock an application could take; the only safe
 * moment is one where no thread is inside a burst on the port when the
 * peer's disconnect arrives. contrib/memif-race reproduces it.
 *
 * The handshake (only between tern endpoints over net_memif, on the last
 * close of a port whose link is up, i.e. before rte_eth_dev_stop):
 *   closing side: on every queue q, send QUIESCE; poll every queue for
 *     QUIESCED (the ack) until each queue has answered or DPDK_QUIESCE_WAIT_MS
 *     passed (a peer queue no endpoint owns, or an older tern, never
 *     answers: nobody bursts on it, or the race stays as before); then stop.
 *   peer endpoint on queue q: on QUIESCE, send QUIESCED from the same
 *     burst, then make no rte_eth_rx_burst/tx_burst on the port until the
 *     link has gone down (the disconnect began: memif_disconnect sets it
 *     first) and come back up (memif_connect sets it last, rings mapped).
 *     If the link is still up after DPDK_QUIESCE_HOLD_MS (the peer did not
 *     stop after all), it resumes and logs.
 * A peer that is itself closing answers QUIESCE and stops polling that
 * queue; two sides closing at the same instant are not fully covered, nor
 * is a peer that dies without closing (kill -9): the PMD must be fixed.
 *
 * Frame: Ethernet to the broadcast address (memif is point to point),
 * EtherType 0x88B5 (IEEE 802 local experimental), then "tQSC" and one
 * opcode byte, padded to 60 bytes. Anything else with that EtherType is
 * dropped and counted in rx_drop_frame; on a port that is not memif the
 * EtherType is not ours and is dropped as before.
 *
 * Threading: dpdk_quiesce_input and dpdk_quiesce_hold run on the
 * endpoint's thread (its burst path); dpdk_quiesce_peer under dpdk.c's lock
 * on the closing thread, when no endpoint of the port is left.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dpdk_priv.h"

#define QSC_MAGIC "tQSC"
#define QSC_MAGIC_LEN 4u
#define QSC_BODY (QSC_MAGIC_LEN + 1u)
#define QSC_OP_QUIESCE  1u
#define QSC_OP_QUIESCED 2u

/* Fill m (empty) with a handshake frame from port p's MAC; 0 or -ENOSPC. */
static int qsc_build(struct rte_mbuf *m, const struct rte_ether_addr *src, uint8_t op)
{
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, DPDK_MIN_FRAME);
	if (f == NULL)
		return -ENOSPC;
	memset(f, 0, DPDK_MIN_FRAME);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(src, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(DPDK_ETYPE_QUIESCE);
	memcpy(f + DPDK_ETH_LEN, QSC_MAGIC, QSC_MAGIC_LEN);
	f[DPDK_ETH_LEN + QSC_MAGIC_LEN] = op;
	return 0;
}

/* The opcode of a handshake frame h (len bytes, >= DPDK_HDR_LEN contiguous), or 0. */
static uint8_t qsc_op(const uint8_t *h, uint32_t len)
{
	if (len < DPDK_ETH_LEN + QSC_BODY || memcmp(h + DPDK_ETH_LEN, QSC_MAGIC, QSC_MAGIC_LEN) != 0)
		return 0;
	uint8_t op = h[DPDK_ETH_LEN + QSC_MAGIC_LEN];
	return op == QSC_OP_QUIESCE || op == QSC_OP_QUIESCED ? op : 0;
}

static int link_up(uint16_t port)
{
	struct rte_eth_link l;
	/* memif's link_update only reads dev_link in a primary: no ring access. */
	return rte_eth_link_get_nowait(port, &l) == 0 && l.link_status == RTE_ETH_LINK_UP;
}

int dpdk_quiesce_input(struct dpdk_drv *d, const uint8_t *h, uint32_t len,
		       struct rte_mbuf **reply)
{
	if (!d->port->memif)
		return -EPROTO;
	uint8_t op = qsc_op(h, len);
	if (op == 0)
		return -EPROTO;
	if (op == QSC_OP_QUIESCED)
		return 0; /* an ack that came late to a close: nothing to do */
	struct rte_mbuf *m = rte_pktmbuf_alloc(d->mp);
	if (m != NULL && qsc_build(m, &d->mac, QSC_OP_QUIESCED) != 0) {
		rte_pktmbuf_free(m);
		m = NULL;
	}
	/* Without an ack the closer waits out its bound; stop touching the port anyway. */
	*reply = m;
	if (d->quiesce == DPDK_QSC_RUN)
		tern_drv_log(&d->base, TERN_LOG_INFO,
			     "dpdk: queue %u: memif peer is stopping; no bursts until its link "
			     "goes down and up",
			     d->queue);
	d->quiesce = DPDK_QSC_WAIT_DOWN;
	d->quiesce_tsc = rte_get_timer_cycles();
	return 0;
}

int dpdk_quiesce_hold(struct dpdk_drv *d)
{
	int up = link_up(d->port_id);
	if (d->quiesce == DPDK_QSC_WAIT_DOWN) {
		if (up) {
			uint64_t hold = rte_get_timer_hz() / 1000 * DPDK_QUIESCE_HOLD_MS;
			if (rte_get_timer_cycles() - d->quiesce_tsc < hold)
				return 1;
			tern_drv_log(&d->base, TERN_LOG_WARN,
				     "dpdk: queue %u: the memif peer asked to quiesce but its link is "
				     "still up after %u ms; resuming",
				     d->queue, DPDK_QUIESCE_HOLD_MS);
			d->quiesce = DPDK_QSC_RUN;
			return 0;
		}
		d->quiesce = DPDK_QSC_WAIT_UP;
		return 1;
	}
	if (!up)
		return 1;
	d->quiesce = DPDK_QSC_RUN; /* reconnected: memif_connect set the link up last */
	return 0;
}

void dpdk_quiesce_peer(struct dpdk_drv *d, struct dpdk_port *p, const char *name)
{
	uint64_t pending = 0, asked = 0;
	if (!p->memif || !link_up(p->port_id))
		return;
	for (unsigned q = 0; q < p->nq; q++)
		pending |= 1ull << q;
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz() / 1000 * DPDK_QUIESCE_WAIT_MS;
	/* Bounded by the clock and by a count (a clock that stalls cannot hang a close). */
	for (unsigned round = 0; pending != 0 && round < DPDK_QUIESCE_ROUNDS; round++) {
		if (rte_get_timer_cycles() > end || !link_up(p->port_id))
			break;
		for (unsigned q = 0; q < p->nq; q++) {
			if (!(pending & (1ull << q)))
				continue;
			if (!(asked & (1ull << q))) {
				struct rte_mbuf *m = rte_pktmbuf_alloc(p->mp[q]);
				if (m != NULL && qsc_build(m, &p->mac, QSC_OP_QUIESCE) == 0 &&
				    rte_eth_tx_burst(p->port_id, (uint16_t)q, &m, 1) == 1)
					asked |= 1ull << q;
				else
					rte_pktmbuf_free(m); /* NULL is fine; retried next round */
			}
			struct rte_mbuf *in[DPDK_BURST];
			uint16_t n = rte_eth_rx_burst(p->port_id, (uint16_t)q, in, DPDK_BURST);
			for (uint16_t i = 0; i < n; i++) {
				uint8_t hb[DPDK_ETH_LEN + QSC_BODY];
				uint32_t len = rte_pktmbuf_pkt_len(in[i]);
				const uint8_t *h = len < sizeof(hb) ? NULL :
						   rte_pktmbuf_read(in[i], 0, sizeof(hb), hb);
				const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)h;
				if (h == NULL ||
				    eth->ether_type != rte_cpu_to_be_16(DPDK_ETYPE_QUIESCE))
					continue;
				uint8_t op = qsc_op(h, len);
				if (op == QSC_OP_QUIESCED) {
					pending &= ~(1ull << q);
				} else if (op == QSC_OP_QUIESCE) {
					/* The peer is closing too: answer, and poll q no more. */
					struct rte_mbuf *a = rte_pktmbuf_alloc(p->mp[q]);
					if (a != NULL && (qsc_build(a, &p->mac, QSC_OP_QUIESCED) != 0 ||
							  rte_eth_tx_burst(p->port_id, (uint16_t)q, &a,
									   1) != 1))
						rte_pktmbuf_free(a);
					pending &= ~(1ull << q);
				}
			}
			if (n != 0)
				rte_pktmbuf_free_bulk(in, n);
		}
		if (pending != 0)
			rte_delay_us_sleep(DPDK_QUIESCE_POLL_US);
	}
	if (pending != 0 && link_up(p->port_id))
		tern_drv_log(&d->base, TERN_LOG_INFO,
			     "dpdk: %s: memif peer did not confirm quiesce on queue mask 0x%llx "
			     "within %u ms (no endpoint there, or not tern); stopping anyway",
			     name, (unsigned long long)pending, DPDK_QUIESCE_WAIT_MS);
}
