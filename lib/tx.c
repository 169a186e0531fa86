/*
 * tx.c — the transmit batch: the one owner of ep->txq, the descriptors
 * handed to the driver.
 *
 * Packets are queued into a fixed array of driver descriptors and handed to
 * the driver in one tx_burst: at the end of every poll, or when the batch
 * fills. Every descriptor is built here (tx_desc): the destination a
 * pointer to the session's address (tern_tx_addr_pin() copies it before it
 * changes or goes) or to a copy in per-descriptor storage, the header
 * written straight into per-descriptor storage, payloads
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
 * Protected sessions: protect.c seals the packet into the places this
 * file chose — the descriptor's header and tag storage, and at privacy a
 * buffer the driver lent (driver.h, tx_lend) or a fresh msgbuf for the
 * ciphertext; this file does everything else, and gives every lent buffer
 * back exactly once: through the driver when it consumes the descriptor,
 * else tx_unlend (a seal failed, a batch was dropped, the endpoint is
 * destroyed). This file must not know keys or counters.
 */
#include <string.h>

#include "tx.h"

static void tx_release(struct tern_ep *ep, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		if (ep->txq[i].msg != NULL)
			tern_msg_put(ep->txq[i].msg);
}

/* Give back what descriptor t holds without sending it: its msgbuf
 * reference, or the buffer the driver lent. */
static void tx_discard_one(struct tern_ep *ep, struct tern_tx *t)
{
	if (t->flags & TERN_TX_LENT)
		ep->ops->tx_unlend(ep->drv, t->lent);
	else if (t->msg != NULL)
		tern_msg_put(t->msg);
}

void tern_tx_discard(struct tern_ep *ep)
{
	for (unsigned i = 0; i < ep->ntx; i++)
		tx_discard_one(ep, &ep->txq[i]);
	ep->ntx = 0;
}

void tern_tx_addr_pin(struct tern_ep *ep, const struct tern_addr *a)
{
	for (unsigned i = 0; i < ep->ntx; i++) {
		if (ep->txq[i].dst == a) {
			ep->txdst[i] = *a;
			ep->txq[i].dst = &ep->txdst[i];
		}
	}
}

/* Move descriptors [k, n) to the front, with the header, tag and address
 * bytes they point at (rare: the driver's queue was full). */
static void tx_keep_tail(struct tern_ep *ep, unsigned k, unsigned n)
{
	for (unsigned i = k; i < n; i++) {
		struct tern_tx *t = &ep->txq[i - k];
		*t = ep->txq[i];
		if (t->dst == &ep->txdst[i]) {
			ep->txdst[i - k] = ep->txdst[i];
			t->dst = &ep->txdst[i - k];
		}
		if (t->flags & TERN_TX_LENT)
			continue; /* its bytes are in the lent buffer, which stays put */
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

/* The batch is full: flush it; if the driver took nothing, drop it. Either
 * way it has room afterwards. */
__attribute__((noinline)) void tern_tx_make_room(struct tern_ep *ep)
{
	tern_tx_flush(ep);
	if (ep->ntx == TERN_TX_BATCH) {
		/* The driver took nothing of a full batch: lost, like packets on a
		 * congested wire. */
		tern_tx_discard(ep);
		ep->st.tx_drops += TERN_TX_BATCH;
	}
}

/* Give back the last descriptor (its packet could not be built). */
__attribute__((noinline)) static void tx_undo(struct tern_ep *ep, struct tern_tx *t)
{
	tx_discard_one(ep, t);
	ep->ntx--;
	ep->st.tx_drops++;
}

/*
 * A protected session's packet: protect.c seals it into places chosen
 * here. Privacy makes new bytes (the ciphertext): they go straight into a
 * buffer the driver lends, when it lends one, so header, counter,
 * ciphertext and tag are written once and sent from there without a
 * copy; else into a fresh msgbuf the descriptor owns (copied by the
 * driver, like any payload). Either way the plaintext's reference goes.
 */
void tern_tx_sealed(struct tern_ep *ep, struct tern_session *s, struct tern_tx *t, unsigned i)
{
	struct tern_hdr h; /* as tern_tx_data() wrote it */
	tern_wire_get(ep->txhdr[i], &h);
	uint8_t *hb = ep->txhdr[i], *tag = ep->txtag[i];
	uint8_t *ct = NULL;
	struct tern_msg *plain = t->msg;
	const uint32_t hlen = TERN_HDR_LEN + TERN_PROT_CTR_LEN;
	if (s->prot == TERN_PROT_PRIVACY && t->len != 0) {
		void *lent;
		uint8_t *b = ep->ops->tx_lend != NULL
				 ? ep->ops->tx_lend(ep->drv, hlen + t->len + TERN_PROT_TAG_LEN, &lent)
				 : NULL;
		if (b != NULL) {
			hb = b;
			ct = b + hlen;
			tag = ct + t->len;
			t->flags = TERN_TX_LENT;
			t->lent = lent;
			t->msg = NULL;
		} else {
			struct tern_msg *c = tern_msg_alloc(ep, t->len);
			if (c == NULL) {
				tx_undo(ep, t); /* lost: retransmitted like any other packet */
				return;
			}
			ct = c->data;
			t->msg = c; /* the flush drops the only reference */
			ep->st.copied_bytes += t->len;
		}
	}
	int rc = tern_seal(ep, s, &h, hb, t->payload, t->len, ct, tag);
	if (ct != NULL) {
		tern_msg_put(plain);
		t->payload = ct;
	}
	t->hdr = hb;
	t->hdr_len = hlen;
	t->trailer = tag;
	t->trailer_len = TERN_PROT_TAG_LEN;
	if (rc != 0)
		tx_undo(ep, t);
}

void tern_tx_ctrl(struct tern_ep *ep, const struct tern_addr *dst, const struct tern_hdr *h,
		  const void *body, uint32_t body_len)
{
	if (tern_unlikely(ep->ntx == TERN_TX_BATCH))
		tern_tx_make_room(ep);
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
		tern_tx_make_room(ep);
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
