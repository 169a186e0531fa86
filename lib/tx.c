/*
 * tx.c — the transmit batch.
 *
 * Packets are queued into a fixed array of driver descriptors and handed to
 * the driver in one tx_burst: at the end of every poll, or when the batch
 * fills. Headers are written straight into per-descriptor storage; payloads
 * are referenced in place (zero copy in the core). Each queued payload holds
 * a msgbuf reference until the burst returns, so a buffer freed in between
 * (an RR response, a call failed by a timeout) is never reused under the
 * driver. What the driver does not accept it counts, and the
 * retransmission machinery recovers it, like any loss.
 */
#include <string.h>

#include "tern_internal.h"

void tern_tx_flush(struct tern_ep *ep)
{
	unsigned n = ep->ntx;
	if (n == 0)
		return;
	/* What the driver did not take it has counted (tx_drop_*): it is lost
	 * like any packet on the wire, and retransmission recovers it. */
	(void)ep->ops->tx_burst(ep->drv, ep->txq, n);
	for (unsigned i = 0; i < n; i++)
		if (ep->txq[i].msg != NULL)
			tern_msg_unref(ep->txq[i].msg);
	ep->ntx = 0;
}

unsigned tern_tx_slot(struct tern_ep *ep)
{
	if (tern_unlikely(ep->ntx == TERN_TX_BATCH))
		tern_tx_flush(ep);
	return ep->ntx++;
}

void tern_tx_data(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h,
		  struct tern_msg *m, const void *payload, uint32_t len)
{
	if (tern_unlikely(s->prot != TERN_PROT_NONE)) {
		tern_tx_protected(ep, s, h, m, payload, len);
		return;
	}
	unsigned i = tern_tx_slot(ep);
	struct tern_tx *t = &ep->txq[i];
	tern_wire_put(ep->txhdr[i], h);
	tern_wire_seal(ep->txhdr[i], TERN_HDR_LEN);
	t->dst = &s->peer;
	t->hdr = ep->txhdr[i];
	t->hdr_len = TERN_HDR_LEN;
	t->payload = len != 0 ? payload : NULL;
	t->len = len;
	t->msg = len != 0 ? m : NULL;
	t->trailer = NULL;
	t->trailer_len = 0;
	if (t->msg != NULL)
		tern_msg_ref(m);
}

void tern_tx_ctrl(struct tern_ep *ep, const struct tern_addr *dst, const struct tern_hdr *h,
		  const void *body, uint32_t body_len)
{
	unsigned i = tern_tx_slot(ep);
	struct tern_tx *t = &ep->txq[i];
	tern_wire_put(ep->txhdr[i], h);
	if (body_len > TERN_TX_HDR_MAX - TERN_HDR_LEN)
		body_len = TERN_TX_HDR_MAX - TERN_HDR_LEN;
	if (body_len != 0)
		memcpy(ep->txhdr[i] + TERN_HDR_LEN, body, body_len);
	tern_wire_seal(ep->txhdr[i], TERN_HDR_LEN + body_len);
	ep->txaddr[i] = *dst;
	t->dst = &ep->txaddr[i];
	t->hdr = ep->txhdr[i];
	t->hdr_len = TERN_HDR_LEN + body_len;
	t->payload = NULL;
	t->len = 0;
	t->msg = NULL;
	t->trailer = NULL;
	t->trailer_len = 0;
}

void tern_tx_raw(struct tern_ep *ep, const struct tern_addr *dst, const void *pkt, uint32_t len)
{
	unsigned i = tern_tx_slot(ep);
	struct tern_tx *t = &ep->txq[i];
	if (len > TERN_TX_HDR_MAX)
		len = TERN_TX_HDR_MAX;
	memcpy(ep->txhdr[i], pkt, len);
	ep->txaddr[i] = *dst;
	t->dst = &ep->txaddr[i];
	t->hdr = ep->txhdr[i];
	t->hdr_len = len;
	t->payload = NULL;
	t->len = 0;
	t->msg = NULL;
	t->trailer = NULL;
	t->trailer_len = 0;
}

/*
 * Queued packets address their peer through a pointer (tern_tx_data: the
 * session's address, where a driver may cache the MAC). Before that address
 * is reused (the session is released), give them their own copy.
 */
void tern_tx_detach(struct tern_ep *ep, const struct tern_addr *a)
{
	for (unsigned i = 0; i < ep->ntx; i++) {
		if (ep->txq[i].dst == a) {
			ep->txaddr[i] = *a;
			ep->txq[i].dst = &ep->txaddr[i];
		}
	}
}

void tern_tx_session_ctrl(struct tern_ep *ep, struct tern_session *s, uint8_t type)
{
	struct tern_hdr h;
	tern_hdr_init(&h, s, type);
	tern_tx_data(ep, s, &h, NULL, NULL, 0);
}
