/*
 * timers.c — retransmission and acknowledgement timers.
 *
 * No timer objects: each call slot keeps the time of its last progress
 * (stamped by the first scan after it, see TERN_PROGRESS_PENDING), and
 * tern_poll() walks the endpoint's timed list every scan_ns (a fraction of
 * the RTO floor). For each call in flight:
 *   - past its deadline                  -> -ETIMEDOUT
 *   - no progress for rto << backoff     -> go back to the first missing
 *                                           reception and resend what is
 *                                           missing (go-back-N that skips
 *                                           what already arrived); after
 *                                           max_retries RTOs during which
 *                                           the peer sent nothing at all
 *                                           -> -ETIMEDOUT
 * and for each idle slot owing an acknowledgement whose ack_delay passed,
 * an explicit ACK (the next call on the slot would have carried it).
 *
 * The RTO is Jacobson/Karels per session (smoothed RTT and variance from
 * samples of packets sent once, Karn's rule), clamped to [rto_min, rto_max],
 * doubled per retry of a call; a call's first RTO also doubles the
 * session's RTO until the next valid sample (RFC 6298 5.5). Defaults come from the driver: ~100 µs floor on DPDK,
 * ~1 ms on kernel UDP (see README).
 */
#include "tern_internal.h"

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

uint64_t tern_rto(const struct tern_session *s, uint32_t retries)
{
	uint64_t max = s->ep->rto_max_ns;
	uint64_t rto = s->rto_ns;
	for (uint32_t i = 0; i < retries && rto < max; i++)
		rto <<= 1;
	return rto < max ? rto : max;
}

/* No progress for an RTO: resend everything not yet answered. */
static void rollback(struct tern_ep *ep, struct call_slot *c)
{
	struct tern_session *s = c->s;
	s->credits += c->inflight;
	c->inflight = 0;
	c->tx_next = c->rx_base;
	c->sample_valid = 0;
	c->frtx_mark = c->rx_base;
	c->progress_ns = ep->now;
	tern_call_kick(ep, c);
	if (s->want_tx != 0)
		tern_session_kick(s);
}

static void send_ack(struct tern_ep *ep, struct call_slot *c)
{
	struct tern_session *s = c->s;
	struct tern_hdr h;
	tern_hdr_init(&h, s, TERN_PKT_ACK);
	h.req_type = c->req_type;
	h.req_num = c->req_num;
	tern_tx_data(ep, s, &h, NULL, NULL, 0);
	ep->st.acks_sent++;
}

/* Returns 1 if a continuation ran (the list may have changed under us). */
static int scan_one(struct tern_ep *ep, struct call_slot *c)
{
	uint64_t now = ep->now;
	struct tern_session *s = c->s;
	if (!c->active) {
		if (c->ack_pending && now >= c->ack_due_ns) {
			c->ack_pending = 0;
			if (s->state == SESS_CONNECTED)
				send_ack(ep, c);
		}
		if (!c->ack_pending)
			tern_timed_del(c);
		return 0;
	}
	if (now >= c->deadline_ns) {
		tern_call_complete(c, -ETIMEDOUT, NULL, 0);
		return 1;
	}
	if (c->inflight == 0 || c->progress_ns == TERN_PROGRESS_PENDING) {
		/* Nothing outstanding: the call waits for session credits, which
		 * is not a loss; its clock starts when it sends again. Or it made
		 * progress since the last scan: its clock starts now. */
		c->progress_ns = now;
		return 0;
	}
	/* Judged at the last time the receive queue was empty (see
	 * TERN_PROGRESS_PENDING): answers still queued are not losses. */
	uint64_t seen = ep->rx_clear_ns;
	if (seen <= c->progress_ns || seen - c->progress_ns < tern_rto(s, c->backoff))
		return 0;
	ep->st.rto_events++;
	if (c->backoff == 0 && now - s->rto_backoff_ns >= s->rto_ns) {
		/* RFC 6298 5.5: keep the backed-off RTO for later calls until a
		 * valid sample arrives, or a path slower than the RTO would
		 * retransmit every call forever (Karn's rule discards the samples
		 * of retransmitted calls). Once per RTO period, however many
		 * calls timed out together. */
		uint64_t r = 2 * s->rto_ns;
		s->rto_ns = r < ep->rto_max_ns ? r : ep->rto_max_ns;
		s->rto_backoff_ns = now;
	}
	if (c->backoff < 16)
		c->backoff++;
	/* The retry budget is for a silent peer. One that answers other calls
	 * is alive and only losing packets: the deadline bounds this call. */
	if (s->last_rx_ns <= c->progress_ns && ++c->retries > ep->cfg.max_retries) {
		tern_call_complete(c, -ETIMEDOUT, NULL, 0);
		return 1;
	}
	rollback(ep, c);
	return 0;
}

void tern_loss_scan(struct tern_ep *ep)
{
	uint64_t gen = ++ep->scan_gen;
	struct call_slot *c = ep->timed.tnext;
	while (c != &ep->timed) {
		struct call_slot *next = c->tnext;
		if (c->scan_gen != gen) {
			c->scan_gen = gen;
			if (scan_one(ep, c)) {
				/* A continuation may have closed sessions: start over,
				 * skipping the slots already seen in this round. */
				c = ep->timed.tnext;
				continue;
			}
		}
		c = next;
	}
}
