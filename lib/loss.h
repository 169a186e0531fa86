/*
 * loss.h — round-trip time and retransmission timeout of a session (loss.c),
 * and the rule that tells a lost answer from one that waits its turn in the
 * peer's queue (RACK's), for call.c's RTOs and connect.c's CONNECTs.
 */
#ifndef TERN_LOSS_H
#define TERN_LOSS_H

#include "tern_internal.h"

/* The RTO of a fresh session (no sample yet). */
void tern_rto_init(struct tern_session *s);
/* RFC 6298's smoothed RTT and variation, fed one sample (the first sets
 * them). Used for sessions and for the endpoint's connect estimate. */
static inline void tern_rtt_ewma(uint64_t *srtt, uint64_t *rttvar, uint64_t rtt)
{
	if (tern_unlikely(*srtt == 0)) {
		*srtt = rtt;
		*rttvar = rtt / 2;
	} else {
		uint64_t delta = *srtt > rtt ? *srtt - rtt : rtt - *srtt;
		*rttvar = (3 * *rttvar + delta) / 4;
		*srtt = (7 * *srtt + rtt) / 8;
	}
}
/* A valid RTT sample (a packet sent once, answered: Karn's rule). Inline:
 * one per call. */
static inline void tern_rtt_sample(struct tern_session *s, uint64_t rtt)
{
	const struct tern_ep *e = s->ep;
	uint64_t srtt = s->srtt_ns, rttvar = s->rttvar_ns; /* in registers, stored once */
	tern_rtt_ewma(&srtt, &rttvar, rtt);
	s->srtt_ns = srtt;
	s->rttvar_ns = rttvar;
	uint64_t rto = srtt + 4 * rttvar;
	if (rto < e->rto_min_ns)
		rto = e->rto_min_ns;
	if (rto > e->rto_max_ns)
		rto = e->rto_max_ns;
	s->rto_ns = rto;
}
/* The RTO of a call that has backed off `backoff` times (doubled each,
 * capped). Inline: every call's timer is set from it; _backoff: the
 * doubling, out of line. */
uint64_t tern_rto_backoff(const struct tern_session *s, uint32_t backoff);
static inline uint64_t tern_rto(const struct tern_session *s, uint32_t backoff)
{
	if (tern_likely(backoff == 0))
		return s->rto_ns < s->ep->rto_max_ns ? s->rto_ns : s->ep->rto_max_ns;
	return tern_rto_backoff(s, backoff);
}
/* An answer came for a call already answered: a retransmission was
 * spurious, the path is slower than the RTO — double it (once per RTO
 * period) until a valid sample comes. */
void tern_rto_spurious(struct tern_session *s, uint64_t now);

/*
 * RACK's rule (RFC 8985: a loss is inferred from later things answered, or
 * from time). A peer answers what it receives in order; with a queue in
 * front of it — 20,000 sessions' CONNECTs or first calls sent at once —
 * a thing may wait there past any wait it was given, without being lost.
 * struct tern_rack (tern_internal.h) records the answers to one kind of
 * thing; these are the rule's three parts.
 */

/* An answer came at now to a thing first sent at sent (0: not known, e.g.
 * resent: the answer may be to either transmission). */
static inline void tern_rack_answered(struct tern_rack *r, uint64_t sent, uint64_t now)
{
	if (sent > r->sent_ns)
		r->sent_ns = sent;
	r->at_ns = now;
}

/* A thing sent at sent has had its wait `wait` without an answer: is its
 * turn coming? Yes while answers keep coming for things sent no later than
 * it: the latest-sent thing answered was sent no later, and an answer came
 * within the last wait, or within a quarter of how long it has waited (a
 * long queue drains in bursts). An answer to a thing sent after it, or none
 * for that long, and it is lost. */
static inline int tern_rack_turn_coming(const struct tern_rack *r, uint64_t sent, uint64_t wait,
					uint64_t now)
{
	if (sent == 0 || r->sent_ns == 0 || r->sent_ns > sent)
		return 0;
	uint64_t waited = now - sent;
	return now - r->at_ns < (wait > waited / 4 ? wait : waited / 4);
}

/* If so: when to look again — once it has waited as long again, and at
 * least a wait on (a queue of 50,000 calls is then looked at a few times
 * per call, not per RTO). */
static inline uint64_t tern_rack_look_again(uint64_t sent, uint64_t wait, uint64_t now)
{
	uint64_t waited = now - sent;
	return now + (waited > wait ? waited : wait);
}

#endif /* TERN_LOSS_H */
