/*
 * credits.c — credits, both directions of one mechanism.
 *
 * A session has credits_max credits: every request packet or RFR the caller
 * sends spends one, every CR or response packet that answers it returns
 * one, so at most credits_max packets of a session are in flight (fewer
 * when its congestion window, cc.c, says so: credits_floor). The
 * caller's accounting is inline (credits.h); a call that finds none waits
 * in want_tx, and when credits return the waiting calls get them round
 * robin (tern_credits_next_waiting), so no slot starves.
 *
 * The callee returns credits for request packets that are not the last
 * (the response answers the last): by default one CR per run of
 * consecutive new packets of a call per receive burst (a CR per packet with
 * TERN_EP_NO_COALESCE_CR) (pkt_num the highest, status the number of
 * packets below it that it also answers, at most TERN_CR_RANGE - 1), sent
 * at the end of the burst (tern_cr_burst_end, rx.c's one end-of-burst
 * hook), and none for a call answered within the burst: its response
 * answers every request packet. Duplicates are answered at once.
 */
#include "credits.h"
#include "tx.h"

struct call_slot *tern_credits_next_waiting(struct tern_session *s)
{
	while (s->want_tx != 0 && (s->credits > s->credits_floor || tern_pacer_ready(s))) {
		uint64_t after = s->kick_next >= 64 ? 0 : s->want_tx & (~0ull << s->kick_next);
		unsigned i = (unsigned)__builtin_ctzll(after != 0 ? after : s->want_tx);
		s->want_tx &= ~(1ull << i);
		s->kick_next = i + 1;
		if (s->cs[i].active)
			return &s->cs[i];
	}
	return NULL;
}

void tern_cr_send(struct tern_ep *ep, struct tern_session *s, const struct serve_slot *ss,
		  uint32_t p, uint32_t extra, uint8_t flags)
{
	struct tern_hdr h;
	tern_hdr_init(&h, s, TERN_PKT_CR);
	h.flags = flags;
	h.status = (uint8_t)extra; /* wire.h: a CR's status counts the packets below pkt_num */
	h.req_type = ss->req_type;
	h.pkt_num = p;
	h.msg_size = ss->req_size;
	h.req_num = ss->req_num;
	tern_tx_data(ep, s, &h, NULL, NULL, 0);
}

void tern_cr_new_run(struct tern_ep *ep, struct tern_session *s, const struct serve_slot *ss,
		     uint32_t p)
{
	if (ep->cfg.flags & TERN_EP_NO_COALESCE_CR) {
		tern_cr_send(ep, s, ss, p, 0, 0);
		return;
	}
	if (ep->ncr == TERN_RX_BURST)
		tern_cr_burst_end(ep); /* more runs than a burst has packets */
	struct tern_cr_pend *q = &ep->cr[ep->ncr++];
	q->s = s;
	q->ss = ss;
	q->req_num = ss->req_num;
	q->lo = q->hi = p;
}

void tern_cr_burst_end(struct tern_ep *ep)
{
	unsigned n = ep->ncr;
	ep->ncr = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct tern_cr_pend *q = &ep->cr[i];
		const struct serve_slot *ss = q->ss;
		if (ss == NULL || ss->req_num != q->req_num || ss->state == SRV_FREE)
			continue;
		if (!ss->oneway && ss->state != SRV_RECEIVING && ss->state != SRV_RUNNING)
			continue; /* answered: the response answers every packet */
		tern_cr_send(ep, q->s, ss, q->hi, q->hi - q->lo, 0);
	}
}

void tern_cr_forget(struct tern_ep *ep, const struct serve_slot *ss)
{
	for (unsigned i = 0; i < ep->ncr; i++)
		if (ep->cr[i].ss == ss)
			ep->cr[i].ss = NULL; /* the slot's memory may go with its session */
}
