/*
 * serve.h — the callee side of calls (serve.c): requests in, handlers,
 * responses and their cache.
 */
#ifndef TERN_SERVE_H
#define TERN_SERVE_H

#include "tern_internal.h"

/* Receptions for calls the peer issued (rx.c). */
void tern_on_req(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h,
		 const uint8_t *payload, uint32_t len);
void tern_on_rfr(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h);
/* The request side of tern_call_rx_dest() (call.h): the place of request
 * packet h in the request's reassembly buffer, or NULL. Changes nothing. */
uint8_t *tern_serve_rx_dest(struct tern_session *s, const struct tern_hdr *h, uint32_t len);
void tern_on_ack(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h);
/* Release a serve slot's buffers when its session goes away (a running
 * handler keeps its request: tern_respond() finishes it). */
void tern_serve_slot_release(struct tern_ep *ep, struct serve_slot *ss);

#endif /* TERN_SERVE_H */
