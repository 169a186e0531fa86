/*
 * tx.h — the transmit batch (tx.c): every packet tern sends is queued here.
 */
#ifndef TERN_TX_H
#define TERN_TX_H

#include "tern_internal.h"

/* Hand the batch to the driver (what it cannot take now stays queued). */
void tern_tx_flush(struct tern_ep *ep);
/* Queue a packet of session s: header h, then len bytes of payload from m
 * (sealed if s is protected). */
void tern_tx_data(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h,
		  struct tern_msg *m, const void *payload, uint32_t len);
/* Queue a control packet (header + body of at most TERN_HS_LEN) to dst. */
void tern_tx_ctrl(struct tern_ep *ep, const struct tern_addr *dst, const struct tern_hdr *h,
		  const void *body, uint32_t body_len);
/* Queue a complete packet (header + body, at most TERN_TX_HDR_MAX bytes), copied. */
void tern_tx_raw(struct tern_ep *ep, const struct tern_addr *dst, const void *pkt, uint32_t len);
/* Queue a bodiless packet of type on s (PING, PONG, DISCONNECT). */
void tern_tx_session_ctrl(struct tern_ep *ep, struct tern_session *s, uint8_t type);

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

#endif /* TERN_TX_H */
