/*
 * loss.h — round-trip time and retransmission timeout of a session (loss.c).
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

#endif /* TERN_LOSS_H */
