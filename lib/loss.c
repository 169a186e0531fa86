/*
 * loss.c — the session's round-trip estimate and retransmission timeout:
 * Jacobson/Karels (smoothed RTT and variance from samples of packets sent
 * once, Karn's rule), clamped to [rto_min, rto_max], doubled per retry of
 * a call; a call's first RTO also doubles the session's RTO until the next
 * valid sample (RFC 6298 5.5). Defaults come from the driver: ~100 µs
 * floor on DPDK, ~1 ms on kernel UDP (README).
 *
 * This file only computes; what a call does when its RTO passes (resend
 * what is missing) is call.c's, and when it is looked at is timers.c's.
 */
#include "loss.h"

void tern_rto_init(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	s->srtt_ns = 0;
	s->rttvar_ns = 0;
	s->rto_ns = 2 * ep->rto_min_ns < ep->rto_max_ns ? 2 * ep->rto_min_ns : ep->rto_max_ns;
}

void tern_rtt_sample(struct tern_session *s, uint64_t rtt)
{
	struct tern_ep *ep = s->ep;
	if (s->srtt_ns == 0) {
		s->srtt_ns = rtt;
		s->rttvar_ns = rtt / 2;
	} else {
		uint64_t delta = s->srtt_ns > rtt ? s->srtt_ns - rtt : rtt - s->srtt_ns;
		s->rttvar_ns = (3 * s->rttvar_ns + delta) / 4;
		s->srtt_ns = (7 * s->srtt_ns + rtt) / 8;
	}
	uint64_t rto = s->srtt_ns + 4 * s->rttvar_ns;
	if (rto < ep->rto_min_ns)
		rto = ep->rto_min_ns;
	if (rto > ep->rto_max_ns)
		rto = ep->rto_max_ns;
	s->rto_ns = rto;
}

uint64_t tern_rto(const struct tern_session *s, uint32_t backoff)
{
	uint64_t max = s->ep->rto_max_ns;
	uint64_t rto = s->rto_ns;
	for (uint32_t i = 0; i < backoff && rto < max; i++)
		rto <<= 1;
	return rto < max ? rto : max;
}

void tern_rto_backoff(struct tern_session *s, uint64_t now)
{
	/* Keep the backed-off RTO for later calls until a valid sample
	 * arrives, or a path slower than the RTO would retransmit every call
	 * forever (Karn's rule discards the samples of retransmitted calls).
	 * Once per RTO period, however many calls timed out together. */
	if (now - s->rto_backoff_ns < s->rto_ns)
		return;
	uint64_t r = 2 * s->rto_ns;
	s->rto_ns = r < s->ep->rto_max_ns ? r : s->ep->rto_max_ns;
	s->rto_backoff_ns = now;
}
