/*
 * faults_link.c — the bottleneck link of the faults decorator: a FIFO queue
 * drained at a fixed bit rate, with drop-tail and an optional propagation
 * delay. It models one switch port: on a server endpoint's RX side it is the
 * port every client's packets share, which is what an incast overflows.
 *
 * A packet arriving at time a (when the decorator takes it from the inner
 * driver, or from the caller on TX) with w wire bytes (datagram + overhead)
 * departs at
 *
 *     dep = max(a, dep of the previous packet) + w * 8 / rate
 *
 * computed exactly in integer nanoseconds with the remainder carried, so a
 * saturated link releases rate bits per second with no rounding drift. It
 * is in the queue from a until dep (store and forward: the packet being
 * sent still occupies the buffer). It is refused (drop-tail) when the queue
 * then holds qpkts packets, or when its wire bytes would take the queue
 * beyond qbytes. It is passed on at dep + prop_ns, at the first call after
 * that. Thus the wait of an admitted packet is backlog / rate plus its own
 * serialisation, and the order is FIFO. The model has no randomness: the
 * same arrivals at the same times meet the same fate, so with a virtual
 * clock and a seed for the other faults a run is reproducible.
 *
 * Packets are copied into link buffers (any inner driver's buffers go back
 * to it at once, so a long queue never starves its receive ring). RX copies
 * are lent to the next stage (the injector, then the core) until rx_done;
 * TX copies go to the inner tx_burst with msg NULL (it copies them, as it
 * does hdr). A packet that finds every buffer in use is dropped and counted
 * in nobuf: the buffers are sized for a full queue of the smallest packets
 * plus what is in flight on the propagation delay, up to LINK_BUFS_MAX.
 *
 * RX: the link comes first (the packet crosses the port, then meets the
 * injected faults). TX: the injected faults come first, then the link (the
 * last hop before the wire). Each rx_burst pulls everything the inner
 * driver has (bounded), so arrival times are the poll times of the owner.
 *
 * No ECN-style marking: tern's header has no congestion bit, and the
 * controller of issue 13 is delay-based; the queueing delay this link adds
 * is what its RTT samples see.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faults/faults_priv.h"

#define LINK_MIN_DGRAM 32u                /* the smallest tern packet: its header */
#define LINK_PULL_MAX  (8u * FAULTS_BURST) /* inner packets taken per rx_burst */

static uint32_t pow2_at_least(uint32_t x)
{
	uint32_t p = 1;
	while (p < x)
		p <<= 1;
	return p;
}

int link_init(struct faults *f, struct flink *l, unsigned dir)
{
	const struct faults_cfg *c = &f->cfg;
	uint32_t mtu = f->base.info.mtu, min_wire = LINK_MIN_DGRAM + c->overhead;
	uint64_t n;

	memset(l, 0, sizeof(*l));
	if (c->rate == 0 || !(c->link_dir & dir))
		return 0;
	if (c->qbytes != 0 && c->qbytes < (uint64_t)mtu + c->overhead) {
		tern_drv_log(&f->base, TERN_LOG_ERR,
			     "faults: queue=%llu holds no full packet (MTU %u + overhead %u)",
			     (unsigned long long)c->qbytes, mtu, c->overhead);
		return -EINVAL;
	}
	/* A full queue of the smallest packets, those on the propagation
	 * delay, and those lent to the core (RX). */
	n = c->qbytes != 0 ? (c->qbytes + min_wire - 1) / min_wire : UINT64_MAX;
	if (c->qpkts != 0 && c->qpkts < n)
		n = c->qpkts;
	n += (c->rate / 8 * (c->prop_ns / 1000) / 1000000 + min_wire - 1) / min_wire;
	n += 2 * FAULTS_BURST;
	if (n > LINK_BUFS_MAX) {
		tern_drv_log(&f->base, TERN_LOG_WARN,
			     "faults: link %s: %llu buffers needed, %u used: small packets may "
			     "be dropped as nobuf before the queue is full",
			     dir == DIR_TX ? "tx" : "rx", (unsigned long long)n, LINK_BUFS_MAX);
		n = LINK_BUFS_MAX;
	}
	l->nbufs = (uint32_t)n;
	l->bufsz = dir == DIR_TX ? TX_PAYLOAD_OFF + (size_t)mtu : (size_t)mtu;
	l->bufsz = (l->bufsz + 63) & ~(size_t)63;
	l->mask = pow2_at_least(l->nbufs) - 1;
	l->pkts = calloc(l->nbufs, sizeof(*l->pkts));
	l->fifo = calloc((size_t)l->mask + 1, sizeof(*l->fifo));
	l->bufs = aligned_alloc(64, l->bufsz * l->nbufs);
	if (l->pkts == NULL || l->fifo == NULL || l->bufs == NULL) {
		free(l->pkts);
		free(l->fifo);
		free(l->bufs);
		memset(l, 0, sizeof(*l));
		return -ENOMEM;
	}
	for (uint32_t i = l->nbufs; i-- > 0;) {
		struct lpkt *p = &l->pkts[i];
		p->buf = l->bufs + (size_t)i * l->bufsz;
		p->next = l->free;
		l->free = p;
	}
	l->on = true;
	tern_drv_log(&f->base, TERN_LOG_INFO,
		     "faults: link %s: %llu bit/s, queue %llu B / %u pkts (0: no bound), "
		     "prop %llu ns, overhead %u B, %u buffers",
		     dir == DIR_TX ? "tx" : "rx", (unsigned long long)c->rate,
		     (unsigned long long)c->qbytes, c->qpkts, (unsigned long long)c->prop_ns,
		     c->overhead, l->nbufs);
	return 0;
}

/* The counters, at close (tern-incast reads this line). */
void link_log(const struct faults *f, const struct flink *l, const char *name)
{
	const struct tern_faults_link_counts *k = &l->cnt;
	if (!l->on)
		return;
	uint64_t adm = k->arrived - k->dropped - k->nobuf;
	tern_drv_log(&f->base, TERN_LOG_INFO,
		     "faults: link %s: arrived %llu dropped %llu nobuf %llu delivered %llu "
		     "bytes %llu wire_bytes %llu peak_pkts %llu peak_bytes %llu "
		     "sojourn_mean_ns %llu sojourn_max_ns %llu",
		     name, (unsigned long long)k->arrived, (unsigned long long)k->dropped,
		     (unsigned long long)k->nobuf, (unsigned long long)k->delivered,
		     (unsigned long long)k->bytes, (unsigned long long)k->wire_bytes,
		     (unsigned long long)k->peak_pkts, (unsigned long long)k->peak_bytes,
		     (unsigned long long)(adm != 0 ? k->sojourn_sum_ns / adm : 0),
		     (unsigned long long)k->sojourn_max_ns);
}

void link_fini(struct flink *l)
{
	free(l->pkts);
	free(l->fifo);
	free(l->bufs);
	memset(l, 0, sizeof(*l));
}

/* Packets whose departure has come leave the queue (they may still be on
 * the propagation delay, or waiting to be passed on). */
static void advance(struct flink *l, uint64_t now)
{
	while (l->qhead != l->tail) {
		const struct lpkt *p = l->fifo[l->qhead & l->mask];
		if ((int64_t)(p->dep - now) > 0)
			break;
		l->qbytes -= p->wire;
		l->qhead++;
	}
	l->cnt.queued_pkts = l->tail - l->qhead;
	l->cnt.queued_bytes = l->qbytes;
}

/*
 * A packet of wire bytes arrives at now: a buffer queued with its departure
 * time, or NULL if it is dropped (counted). The caller fills the buffer.
 */
static struct lpkt *admit(const struct faults_cfg *c, struct flink *l, uint32_t wire,
			  uint64_t now)
{
	struct lpkt *p;
	uint64_t start, num;

	l->cnt.arrived++;
	advance(l, now);
	if ((c->qpkts != 0 && l->tail - l->qhead >= c->qpkts) ||
	    (c->qbytes != 0 && l->qbytes + wire > c->qbytes)) {
		l->cnt.dropped++;
		return NULL;
	}
	if ((p = l->free) == NULL) {
		l->cnt.nobuf++;
		return NULL;
	}
	l->free = p->next;
	p->next = NULL;
	if ((int64_t)(now - l->last_dep) >= 0) { /* the link is idle */
		start = now;
		l->frac = 0;
	} else {
		start = l->last_dep;
	}
	num = (uint64_t)wire * 8u * 1000000000u + l->frac;
	p->dep = start + num / c->rate;
	p->wire = wire;
	p->state = LP_QUEUED;
	l->frac = num % c->rate;
	l->last_dep = p->dep;
	l->fifo[l->tail++ & l->mask] = p;
	l->qbytes += wire;
	l->cnt.queued_pkts = l->tail - l->qhead;
	l->cnt.queued_bytes = l->qbytes;
	if (l->cnt.queued_pkts > l->cnt.peak_pkts)
		l->cnt.peak_pkts = l->cnt.queued_pkts;
	if (l->qbytes > l->cnt.peak_bytes)
		l->cnt.peak_bytes = l->qbytes;
	l->cnt.sojourn_sum_ns += p->dep - now;
	if (p->dep - now > l->cnt.sojourn_max_ns)
		l->cnt.sojourn_max_ns = p->dep - now;
	return p;
}

/* The oldest packet not yet passed on, if it is due. */
static inline struct lpkt *due_head(const struct faults_cfg *c, const struct flink *l,
				    uint64_t now)
{
	struct lpkt *p;
	if (l->head == l->tail)
		return NULL;
	p = l->fifo[l->head & l->mask];
	return (int64_t)(p->dep + c->prop_ns - now) <= 0 ? p : NULL;
}

static void delivered(struct flink *l, const struct lpkt *p, uint32_t len)
{
	l->head++;
	l->cnt.delivered++;
	l->cnt.bytes += len;
	l->cnt.wire_bytes += p->wire;
}

/* When the oldest packet falls due: 0 if it is, UINT64_MAX if none waits. */
uint64_t link_next(const struct faults *f, const struct flink *l, uint64_t now)
{
	if (l->head == l->tail)
		return UINT64_MAX;
	uint64_t at = l->fifo[l->head & l->mask]->dep + f->cfg.prop_ns;
	return (int64_t)(at - now) > 0 ? at - now : 0;
}

/* --- RX --- */

/* Take everything the inner driver has (bounded): these packets arrive now. */
void link_rx_pull(struct faults *f, uint64_t now)
{
	struct flink *l = &f->lrx;
	struct tern_drv *in = f->inner;
	struct lpkt *p;

	for (unsigned pulled = 0; pulled < LINK_PULL_MAX;) {
		unsigned got = in->ops->rx_burst(in, l->scr.rx, FAULTS_BURST);
		for (unsigned j = 0; j < got; j++) {
			const struct tern_rx *q = &l->scr.rx[j];
			if (q->len > l->bufsz) {
				l->cnt.arrived++;
				l->cnt.nobuf++;
				continue;
			}
			if ((p = admit(&f->cfg, l, q->len + f->cfg.overhead, now)) == NULL)
				continue;
			memcpy(p->buf, q->data, q->len);
			p->rx = *q;
			p->rx.data = p->buf;
			p->rx.priv = p;
		}
		if (got != 0)
			in->ops->rx_done(in, l->scr.rx, got);
		if (got < FAULTS_BURST)
			break;
		pulled += got;
	}
}

/* Pass on, oldest first, what has departed and crossed the delay. */
unsigned link_rx_release(struct faults *f, struct tern_rx *rx, unsigned n, uint64_t now)
{
	struct flink *l = &f->lrx;
	unsigned k = 0;
	struct lpkt *p;

	advance(l, now);
	while (k < n && (p = due_head(&f->cfg, l, now)) != NULL) {
		p->state = LP_LENT;
		rx[k++] = p->rx;
		delivered(l, p, p->rx.len);
	}
	return k;
}

/* Return a lent RX copy; false if priv is not one of this link's buffers. */
bool link_rx_put(struct flink *l, void *priv)
{
	struct lpkt *p = priv;
	if (!l->on || (uintptr_t)p - (uintptr_t)l->pkts >= (uintptr_t)l->nbufs * sizeof(*p))
		return false;
	if (p->state == LP_LENT) { /* ignore a second rx_done */
		p->state = LP_FREE;
		p->next = l->free;
		l->free = p;
	}
	return true;
}

/* --- TX --- */

/* Due packets to the inner driver, oldest first, while it takes them. */
void link_tx_flush(struct faults *f, uint64_t now)
{
	struct flink *l = &f->ltx;
	struct tern_drv *in = f->inner;

	advance(l, now);
	for (;;) {
		unsigned k = 0, acc;
		for (uint32_t i = l->head; k < FAULTS_BURST && i != l->tail; i++) {
			const struct lpkt *p = l->fifo[i & l->mask];
			if ((int64_t)(p->dep + f->cfg.prop_ns - now) > 0)
				break;
			l->scr.tx[k++] = p->tx;
		}
		if (k == 0)
			return;
		acc = in->ops->tx_burst(in, l->scr.tx, k);
		for (unsigned i = 0; i < acc; i++) {
			struct lpkt *p = l->fifo[l->head & l->mask];
			delivered(l, p, p->tx.hdr_len + p->tx.len + p->tx.trailer_len);
			p->state = LP_FREE;
			p->next = l->free;
			l->free = p;
		}
		if (acc < k)
			return; /* the inner queue is full: the rest waits at the head */
	}
}

/* Queue tx[0..n) (copies) or drop them; all count as accepted, as on a wire. */
unsigned link_tx_burst(struct faults *f, const struct tern_tx *tx, unsigned n, uint64_t now)
{
	struct flink *l = &f->ltx;

	for (unsigned i = 0; i < n; i++) {
		const struct tern_tx *t = &tx[i];
		struct lpkt *p;
		if (t->hdr_len > TERN_TX_HDR_MAX || t->trailer_len > TERN_TX_TRAILER_MAX ||
		    t->len > l->bufsz - TX_PAYLOAD_OFF) {
			l->cnt.arrived++;
			l->cnt.nobuf++;
			continue;
		}
		p = admit(&f->cfg, l, t->hdr_len + t->len + t->trailer_len + f->cfg.overhead, now);
		if (p == NULL)
			continue;
		memcpy(p->buf, t->hdr, t->hdr_len);
		if (t->trailer_len != 0)
			memcpy(p->buf + TX_TRAILER_OFF, t->trailer, t->trailer_len);
		if (t->len != 0)
			memcpy(p->buf + TX_PAYLOAD_OFF, t->payload, t->len);
		p->tx = *t;
		p->dst = *t->dst;
		p->tx.dst = &p->dst;
		p->tx.hdr = p->buf;
		p->tx.trailer = p->buf + TX_TRAILER_OFF;
		p->tx.payload = t->len != 0 ? p->buf + TX_PAYLOAD_OFF : NULL;
		p->tx.msg = NULL;
	}
	link_tx_flush(f, now);
	return n;
}
