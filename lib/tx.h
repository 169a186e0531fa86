/*
 * tx.h — the transmit batch (tx.c): every packet tern sends is queued here.
 */
#ifndef TERN_TX_H
#define TERN_TX_H

#include "tern_internal.h"

/* Hand the batch to the driver (what it cannot take now stays queued). */
void tern_tx_flush(struct tern_ep *ep);
/* Empty the batch without sending it: msgbuf references and lent buffers
 * given back (the batch was refused, or the endpoint is being destroyed). */
void tern_tx_discard(struct tern_ep *ep);
/* A session's packets point at its address (s->peer) rather than a copy:
 * before that address changes, or the session's memory goes, the
 * descriptors still queued that point at it get a copy of their own. */
void tern_tx_addr_pin(struct tern_ep *ep, const struct tern_addr *a);

/* The next free descriptor (the batch has room), dst copied, its header
 * storage attached and everything else cleared. */
static inline struct tern_tx *tern_tx_desc(struct tern_ep *ep, const struct tern_addr *dst,
					   unsigned *idx)
{
	unsigned i = ep->ntx++;
	struct tern_tx *t = &ep->txq[i];
	ep->txdst[i] = *dst;
	t->dst = &ep->txdst[i];
	t->hdr = ep->txhdr[i];
	t->payload = NULL;
	t->trailer = NULL;
	t->msg = NULL;
	t->lens = 0; /* len, trailer_len, flags */
	*idx = i;
	return t;
}

/* The common header fields of a packet on session s. */
static inline void tern_hdr_init(struct tern_hdr *h, const struct tern_session *s, uint8_t type)
{
	h->type = type;
	h->flags = 0;
	h->status = 0;
	h->req_type = 0;
	h->dst_session = s->peer_id;
	h->src_session = s->id;
	h->token = s->peer_token;
	h->pkt_num = 0;
	h->msg_size = 0;
	h->req_num = 0;
}

/* Set s->hdr_w0 and hdr_w1 from its id, peer_id and peer_token: where a
 * session is made, and where it learns its peer's. */
static inline void tern_session_hdr_words(struct tern_session *s)
{
	struct tern_hdr h;
	tern_hdr_init(&h, s, 0);
	struct tern_wire_words w = tern_wire_words(&h);
	s->hdr_w0 = w.w0;
	s->hdr_w1 = w.w1;
}

/* tern_wire_words() of h, a header tern_hdr_init() began for s: the
 * session's part from its template, which leaves out the three loads and
 * the shifts that would build it again per packet. */
static inline struct tern_wire_words tern_session_words(const struct tern_session *s,
							const struct tern_hdr *h)
{
	struct tern_wire_words w;
	w.w0 = s->hdr_w0 | (uint64_t)h->type << 8 | (uint64_t)h->flags << 16 |
	       (uint64_t)h->status << 24 | (uint64_t)h->req_type << 32;
	w.w1 = s->hdr_w1;
	w.w2 = h->pkt_num | (uint64_t)h->msg_size << 32;
	w.w3 = h->req_num;
	return w;
}

/* The rare cases of tern_tx_data(), out of line: the batch is full (make
 * room: afterwards it has some); a protected session's packet (protect.c
 * seals the header written in descriptor i's storage, and the payload). */
void tern_tx_make_room(struct tern_ep *ep);
void tern_tx_sealed(struct tern_ep *ep, struct tern_session *s, struct tern_tx *t, unsigned i);

/* Queue a packet of session s: header h, then len bytes of payload from m
 * (sealed if s is protected). Inline: every data packet goes through it.
 * h does not escape, so its fields stay in registers: the header is built
 * as its four words (tern_wire_words()) and written with its checksum by
 * one call that reads no memory; each descriptor field is written once. */
static inline void tern_tx_data(struct tern_ep *ep, struct tern_session *s,
				const struct tern_hdr *h, struct tern_msg *m, const void *payload,
				uint32_t len)
{
	if (tern_unlikely(ep->ntx == TERN_TX_BATCH))
		tern_tx_make_room(ep);
	unsigned i = ep->ntx++;
	struct tern_tx *t = &ep->txq[i];
	struct tern_wire_words w = tern_session_words(s, h);
	t->dst = &s->peer;
	t->hdr = ep->txhdr[i];
	t->hdr_len = TERN_HDR_LEN;
	t->trailer = NULL;
	t->lens = len; /* len; trailer_len and flags 0 */
	if (len != 0) {
		t->payload = payload;
		t->msg = m;
		tern_msg_get(m);
	} else {
		t->payload = NULL;
		t->msg = NULL;
	}
	if (tern_unlikely(s->prot != TERN_PROT_NONE)) {
		tern_wire_put_words(ep->txhdr[i], &w);
		tern_tx_sealed(ep, s, t, i);
		return;
	}
	tern_wire_put_sealed(ep->txhdr[i], &w);
}

/* Room left in the batch: how many packets tern_tx_data_run() may queue. */
static inline unsigned tern_tx_room(const struct tern_ep *ep)
{
	return TERN_TX_BATCH - ep->ntx;
}

/*
 * tern_tx_data() for n packets in a row of an unprotected session s, with
 * room for them (1 <= n <= tern_tx_room()): packet k has header h with
 * pkt_num h->pkt_num + k, and len (> 0) bytes of m from payload + k * len. A
 * large message's packets differ only in pkt_num: the header's words are
 * built once, each packet's written with its number and checksum; the
 * msgbuf references are taken at once. Every descriptor ends as tern_tx_data()
 * leaves it.
 */
static inline void tern_tx_data_run(struct tern_ep *ep, struct tern_session *s,
				    const struct tern_hdr *h, struct tern_msg *m,
				    const uint8_t *payload, uint32_t len, uint32_t n)
{
	unsigned i0 = ep->ntx;
	struct tern_wire_words w = tern_session_words(s, h);
	const uint32_t pkt_num = h->pkt_num;
	m->refs += n;
	struct tern_tx *t = &ep->txq[i0];
	uint8_t *hb = ep->txhdr[i0];
	for (uint32_t k = 0; k < n; k++, t++, hb += sizeof(ep->txhdr[0]), payload += len) {
		t->dst = &s->peer;
		t->hdr = hb;
		t->hdr_len = TERN_HDR_LEN;
		t->trailer = NULL;
		t->lens = len; /* len; trailer_len and flags 0 */
		t->payload = payload;
		t->msg = m;
		/* pkt_num is the low half of the third word */
		struct tern_wire_words wk = w;
		wk.w2 = (w.w2 & ~0xffffffffull) | (uint32_t)(pkt_num + k);
		tern_wire_put_sealed(hb, &wk);
	}
	ep->ntx = i0 + n;
}

/* Queue a control packet (header + body of at most TERN_HS_LEN) to dst. */
void tern_tx_ctrl(struct tern_ep *ep, const struct tern_addr *dst, const struct tern_hdr *h,
		  const void *body, uint32_t body_len);
/* Queue a complete packet (header + body, at most TERN_TX_HDR_MAX bytes), copied. */
void tern_tx_raw(struct tern_ep *ep, const struct tern_addr *dst, const void *pkt, uint32_t len);
/* Queue a bodiless packet of type on s (PING, PONG, DISCONNECT). */
void tern_tx_session_ctrl(struct tern_ep *ep, struct tern_session *s, uint8_t type);

#endif /* TERN_TX_H */
