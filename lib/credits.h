/*
 * credits.h — a session's credits (credits.c): the caller's packets in
 * flight per session, and the callee's credit returns (CRs).
 */
#ifndef TERN_CREDITS_H
#define TERN_CREDITS_H

#include "cc.h"
#include "tern_internal.h"

/* --- caller: credits spent and returned ----------------------------------- */

/* Spend a credit for a packet of call c; 0 if the session has none, or its
 * congestion window or pacer (cc.h) holds it (c then waits:
 * tern_credits_next_waiting() hands it back when credits return or the
 * pacer's time comes). An uncongested session's credits_floor is 0: the
 * one test is the one it always made. A request's last packet (last != 0)
 * needs only a credit: its answer is the response, which comes when the
 * handler is done — perhaps only once other calls of the session have
 * arrived (deferred replies), so a narrow window must not hold it. */
static inline int tern_credit_take(struct tern_session *s, struct call_slot *c, int last)
{
	if (tern_unlikely(s->credits <= (last ? 0 : s->credits_floor)) &&
	    (s->credits == 0 || !tern_pacer_admit(s))) {
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

/* n packets of c were answered at once (a coalesced CR): their credits. */
static inline void tern_credits_return_n(struct tern_session *s, struct call_slot *c, uint32_t n)
{
	if (n > c->inflight)
		n = c->inflight;
	c->inflight -= n;
	s->credits += n;
}

/* Every credit c holds comes back (rollback, completion); c no longer waits. */
static inline void tern_credits_release(struct tern_session *s, struct call_slot *c)
{
	const uint64_t bit = 1ull << c->idx; /* read before the stores, which may alias it */
	s->credits += c->inflight;
	c->inflight = 0;
	s->want_tx &= ~bit;
}

/* The next waiting call to let send now that credits are there (round robin
 * from the one after the last served, so none starves), unmarked; NULL if
 * none waits or no credit is left. */
struct call_slot *tern_credits_next_waiting(struct tern_session *s);

/* --- callee: credit returns ------------------------------------------------ */

/* CR for request packet p of ss's call now, and for the `extra` packets just below it. */
void tern_cr_send(struct tern_ep *ep, struct tern_session *s, const struct serve_slot *ss,
		  uint32_t p, uint32_t extra, uint8_t flags);
/* tern_cr_new_packet() when p does not extend the burst's last run. */
void tern_cr_new_run(struct tern_ep *ep, struct tern_session *s, const struct serve_slot *ss,
		     uint32_t p);

#define TERN_CR_RANGE 64u /* packets one CR answers at most (wire.h: status < 64) */

/* CR for a new request packet p: coalesced until the end of the receive
 * burst, or at once with TERN_EP_NO_COALESCE_CR (then nothing is ever
 * pending). Inline: every request packet but the last comes here, and
 * nearly all of them just extend the run of the packet before. */
static inline void tern_cr_new_packet(struct tern_ep *ep, struct tern_session *s,
				      const struct serve_slot *ss, uint32_t p)
{
	if (tern_likely(ep->ncr != 0)) {
		struct tern_cr_pend *q = &ep->cr[ep->ncr - 1];
		if (tern_likely(q->ss == ss && q->hi + 1 == p && q->req_num == ss->req_num &&
				q->hi - q->lo + 1 < TERN_CR_RANGE)) {
			q->hi = p;
			return;
		}
	}
	tern_cr_new_run(ep, s, ss, p);
}
/* The end of a receive burst: send the coalesced CRs. */
void tern_cr_burst_end(struct tern_ep *ep);
/* ss goes away (its session is released): forget its queued CRs. */
void tern_cr_forget(struct tern_ep *ep, const struct serve_slot *ss);

#endif /* TERN_CREDITS_H */
