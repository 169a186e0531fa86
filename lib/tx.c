/*
 * tx.c — the transmit batch: the one owner of ep->txq, the descriptors
 * handed to the driver.
 *
 * Packets are queued into a fixed array of driver descriptors and handed to
 * the driver in one tx_burst: at the end of every poll, or when the batch
 * fills. Every descriptor is built here (tx_desc): the destination copied by
 * value, the header written straight into per-descriptor storage, payloads
 * referenced in place (zero copy in the core). Each queued payload holds a
 * msgbuf reference until the driver has consumed the descriptor, so a
 * buffer freed in between (an RR response, a call failed by a timeout) is
 * never reused under the driver.
 *
 * tx_burst returns how many descriptors the driver consumed (driver.h):
 * what it dropped it counted, and retransmission recovers those like any
 * loss. What it did not consume (a full device queue) stays at the front of
 * the batch and is offered again at the next flush; only when the driver
 * refuses a full batch outright does the batch drop it, counted in
 * tern_stats.tx_drops.
 *
 * Protected sessions: protect.c seals the packet into the descriptor's
 * header, trailer (tag) and payload storage; this file does everything
 * else. This file must not know keys or counters.
 */
#include <string.h>

#include "tx.h"

static void tx_release(struct tern_ep *ep, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		if (ep->txq[i].msg != NULL)
			tern_msg_put(ep->txq[i].msg);
}

/* Move descriptors [k, n) to the front, with the header and tag bytes they
 * point at (rare: the driver's queue was full). */
static void tx_keep_tail(struct tern_ep *ep, unsigned k, unsigned n)
{
	for (unsigned i = k; i < n; i++) {
		struct tern_tx *t = &ep->txq[i - k];
		*t = ep->txq[i];
		memcpy(ep->txhdr[i - k], ep->txhdr[i], t->hdr_len);
		t->hdr = ep->txhdr[i - k];
		if (t->trailer_len != 0) {
			memcpy(ep->txtag[i - k], ep->txtag[i], t->trailer_len);
			t->trailer = ep->txtag[i - k];
		}
	}
	ep->ntx = n - k;
}

void tern_tx_flush(struct tern_ep *ep)
{
	unsigned n = ep->ntx;
	if (n == 0)
		return;
	unsigned k = ep->ops->tx_burst(ep->drv, ep->txq, n);
	if (tern_unlikely(k > n))
		k = n;
	tx_release(ep, 0, k);
	if (tern_likely(k == n))
		ep->ntx = 0;
	else
		tx_keep_tail(ep, k, n);
}

/* The batch is full: flush it; if the driver took nothing, drop it. */
__attribute__((noinline)) static void tx_make_room(struct tern_ep *ep)
{
	tern_tx_flush(ep);
	if (ep->ntx == TERN_TX_BATCH) {
		/* The driver took nothing of a full batch: lost, like packets on a
		 * congested wire. */
		tx_release(ep, 0, TERN_TX_BATCH);
		ep->st.tx_drops += TERN_TX_BATCH;
		ep->ntx = 0;
	}
}

/* Give back the last descriptor (its packet could not be built). */
__attribute__((noinline)) static void tx_undo(struct tern_ep *ep, struct tern_tx *t)
{
	if (t->msg != NULL)
		tern_msg_put(t->msg);
	ep->ntx--;
	ep->st.tx_drops++;
}

void tern_tx_sealed(struct tern_ep *ep, struct tern_session *s, struct tern_tx *t, unsigned i)
{
	struct tern_hdr h; /* as tern_tx_data() wrote it */
	tern_wire_get(ep->txhdr[i], &h);
	if (tern_seal(ep, s, &h, t, ep->txhdr[i], ep->txtag[i]) != 0)
		tx_undo(ep, t); /* lost: retransmitted like any other packet */
}

void tern_tx_data_full(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h,
		       struct tern_msg *m, const void *payload, uint32_t len)
{
	tx_make_room(ep);
	tern_tx_data(ep, s, h, m, payload, len);
}

void tern_tx_ctrl(struct tern_ep *ep, const struct tern_addr *dst, const struct tern_hdr *h,
		  const void *body, uint32_t body_len)
{
	if (tern_unlikely(ep->ntx == TERN_TX_BATCH))
		tx_make_room(ep);
	unsigned i;
	struct tern_tx *t = tern_tx_desc(ep, dst, &i);
	tern_wire_put(ep->txhdr[i], h);
	if (body_len > TERN_TX_HDR_MAX - TERN_HDR_LEN)
		body_len = TERN_TX_HDR_MAX - TERN_HDR_LEN;
	if (body_len != 0)
		memcpy(ep->txhdr[i] + TERN_HDR_LEN, body, body_len);
	tern_wire_seal(ep->txhdr[i], TERN_HDR_LEN + body_len);
	t->hdr_len = TERN_HDR_LEN + body_len;
}

void tern_tx_raw(struct tern_ep *ep, const struct tern_addr *dst, const void *pkt, uint32_t len)
{
	if (tern_unlikely(ep->ntx == TERN_TX_BATCH))
		tx_make_room(ep);
	unsigned i;
	struct tern_tx *t = tern_tx_desc(ep, dst, &i);
	if (len > TERN_TX_HDR_MAX)
		len = TERN_TX_HDR_MAX;
	memcpy(ep->txhdr[i], pkt, len);
	t->hdr_len = len;
}

void tern_tx_session_ctrl(struct tern_ep *ep, struct tern_session *s, uint8_t type)
{
	struct tern_hdr h;
	tern_hdr_init(&h, s, type);
	tern_tx_data(ep, s, &h, NULL, NULL, 0);
}
