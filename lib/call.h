/*
 * call.h — the caller side of calls (call.c): issuing, sending within the
 * window and credits, receptions, retransmission, completion.
 */
#ifndef TERN_CALL_H
#define TERN_CALL_H

#include "tern_internal.h"

/* Receptions for this side's calls (rx.c). */
void tern_on_cr(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h);
void tern_on_resp(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h,
		  const uint8_t *payload, uint32_t len);
/* Where a response packet h of len payload bytes would be copied: its place
 * in the call's reassembly buffer when that exists and the packet would be
 * new there, else NULL. Changes nothing (h is not yet authenticated: a
 * privacy packet is decrypted straight there, and on a bad tag that
 * region, still unfilled, is zeroed). */
uint8_t *tern_call_rx_dest(struct tern_session *s, const struct tern_hdr *h, uint32_t len);

/* End call c with status (its continuation runs here, with data/len on success). */
void tern_call_complete(struct call_slot *c, int status, const void *data, size_t len);
/* Credits came back or the pacer's time came (pacer.c): s's calls waiting
 * for them send what they may. */
void tern_calls_kick(struct tern_session *s);
/* Start queued calls of s in free slots (a session just came up, a slot freed). */
void tern_calls_start(struct tern_session *s);
/* Fail every queued call of s with err (their continuations run here). */
void tern_calls_fail_queued(struct tern_session *s, int err);
/* Reconnect: put s's idempotent calls in flight back at the head of the
 * backlog, in order, their slots freed without a continuation. */
void tern_calls_requeue_idempotent(struct tern_session *s);
/* End of a poll (ep.c): set the timers of the calls that sent, made
 * progress or completed during it, from now (a clock read after every
 * callback of the poll). */
void tern_calls_arm(struct tern_ep *ep, uint64_t now);
/* The timer of call slot c fired (ep->now is the time): the explicit ACK,
 * or an RTO judged again. Continuations may run. */
void tern_call_timer(struct tern_ep *ep, struct call_slot *c);
/* The timer of s's calls fired (ep->now is the time): the deadlines and
 * RTOs of its calls that are due. Continuations may run; s may be gone. */
void tern_calls_timer(struct tern_ep *ep, struct tern_session *s);
/* The deadline of a queued call (its request req) passed. */
void tern_queued_timer(struct tern_ep *ep, struct tern_msg *req);
/* The slot's memory goes (its session is released): off the wheel and ep->arm. */
void tern_calls_forget(struct call_slot *c);
/* c no longer counts as stalled (progress, completion, release). */
void tern_call_unstall(struct call_slot *c);

/* One-way calls whose last packet is out: complete them (tern_poll). */
void tern_done_drain(struct tern_ep *ep);
/* Unlink the call slots of s from the done list (their memory is going). */
void tern_done_remove(struct tern_session *s);

#endif /* TERN_CALL_H */
