/*
 * credits.h — a session's credits (credits.c): the caller's packets in
 * flight per session, and the callee's credit returns (CRs).
 */
#ifndef TERN_CREDITS_H
#define TERN_CREDITS_H

#include "tern_internal.h"

/* --- caller: credits spent and returned ----------------------------------- */

/* Spend a credit for a packet of call c; 0 if the session has none (c then
 * waits: tern_credits_next_waiting() hands it back when some return). */
static inline int tern_credit_take(struct tern_session *s, struct call_slot *c)
{
	if (tern_unlikely(s->credits == 0)) {
		s->want_tx |= 1ull << c->idx;
		return 0;
	}
	s->credits--;
	c->inflight++;
	return 1;
}

/* A packet of c was answered: its credit comes back. */
static inline void tern_credit_return(struct tern_session *s, struct call_slot *c)
{
	if (c->inflight != 0) {
		c->inflight--;
		s->credits++;
	}
}

/* Every credit c holds comes back (rollback, completion); c no longer waits. */
static inline void tern_credits_release(struct tern_session *s, struct call_slot *c)
{
	s->credits += c->inflight;
	c->inflight = 0;
	s->want_tx &= ~(1ull << c->idx);
}

/* The next waiting call to let send now that credits are there (round robin
 * from the one after the last served, so none starves), unmarked; NULL if
 * none waits or no credit is left. */
struct call_slot *tern_credits_next_waiting(struct tern_session *s);

/* --- callee: credit returns ------------------------------------------------ */

/* CR for request packet p of ss's call now, and for the `extra` packets just below it. */
void tern_cr_send(struct tern_ep *ep, struct tern_session *s, const struct serve_slot *ss,
		  uint32_t p, uint32_t extra, uint8_t flags);
/* CR for a new request packet p: coalesced until the end of the receive
 * burst, or at once with TERN_EP_NO_COALESCE_CR. */
void tern_cr_new_packet(struct tern_ep *ep, struct tern_session *s, const struct serve_slot *ss,
			uint32_t p);
/* The end of a receive burst: send the coalesced CRs. */
void tern_cr_burst_end(struct tern_ep *ep);
/* ss goes away (its session is released): forget its queued CRs. */
void tern_cr_forget(struct tern_ep *ep, const struct serve_slot *ss);

#endif /* TERN_CREDITS_H */
