/*
 * loss.c — the session's round-trip estimate and retransmission timeout:
 * Jacobson/Karels (smoothed RTT and variance from samples of packets sent
 * once, Karn's rule; the first from the session's own handshake), clamped
 * to [rto_min, rto_max], doubled per retry of a call (at most x8) and kept
 * doubled until a valid sample (Karn's algorithm: call.c); an
 * answer to a call already answered (a spurious retransmission) doubles
 * the session's RTO until the next valid sample. Defaults come from the
 * driver: ~100 µs floor on DPDK, ~1 ms on kernel UDP (docs/protocol.md).
 *
 * The per-call parts (a sample, the RTO without backoff) are inline in
 * loss.h. This file only computes; what a call does when its RTO passes (resend
 * what is missing) is call.c's, and when it is looked at is timers.c's.
 * call.c passes the samples of the network alone on to the congestion
 * controller too (cc.c).
 */
#include "loss.h"

void tern_rto_init(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	s->srtt_ns = 0;
	s->rttvar_ns = 0;
	s->rto_ns = 2 * ep->rto_min_ns < ep->rto_max_ns ? 2 * ep->rto_min_ns : ep->rto_max_ns;
}

uint64_t tern_rto_backoff(const struct tern_session *s, uint32_t backoff)
{
	uint64_t max = s->ep->rto_max_ns;
	uint64_t rto = s->rto_ns;
	for (uint32_t i = 0; i < backoff && rto < max; i++)
		rto <<= 1;
	return rto < max ? rto : max;
}

void tern_rto_spurious(struct tern_session *s, uint64_t now)
{
	/* An answer came for a call that had already been answered: both the
	 * first transmission and a retransmission were answered, so the RTO
	 * fired on a packet that was only slow (RFC 3708's duplicate-answer
	 * detection). The path is slower than the RTO: double it, once per
	 * RTO period, until a valid sample says otherwise. (A retransmitted
	 * call gives no sample — Karn's rule — so without this a path that
	 * became slower than the RTO would have every call retransmitted.)
	 * Unlike RFC 6298 5.5, an RTO that fires is not enough: a session
	 * carries many calls, and at high loss rates backing off on every loss
	 * starves it of samples and grows its RTO without bound. */
	if (now - s->rto_backoff_ns < s->rto_ns)
		return;
	uint64_t r = 2 * s->rto_ns;
	s->rto_ns = r < s->ep->rto_max_ns ? r : s->ep->rto_max_ns;
	s->rto_backoff_ns = now;
}
