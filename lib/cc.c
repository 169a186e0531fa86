/*
 * cc.c — per-session congestion control: a delay-based congestion window
 * after Swift (Kumar et al., SIGCOMM 2020), fed by the RTT samples loss.c
 * takes (one running per call: Karn's rule, so resent packets give none)
 * and cut on loss. It owns struct tern_cc's window and the session's
 * credits_floor; pacer.c spaces the packets of a window below one packet.
 *
 * The target delay is the lowest RTT the session has seen (the path without
 * queues: its handshake's, or a lower data sample) plus a queueing
 * allowance: ep->cc_target_ns (RTO floor / 4 by default) for a session at
 * its full window, more for a session whose window is smaller — up to
 * CC_FS_MAX x base more at the smallest window, in proportion to
 * 1/sqrt(cwnd) between the full window and the smallest (Swift's
 * flow-based scaling, over the whole range). So when many sessions share a
 * bottleneck (incast: each has a window of a packet or less), the queue
 * they aim at grows with their number instead of every one of them cutting
 * to the floor; at any queueing delay the larger windows are above their
 * target and shrink while the smaller are below theirs and grow, which
 * drives the sessions to equal windows however rarely a paced one samples
 * (a scaling that stopped at one packet left every paced session with the
 * same target, and incast at 64-100 senders unfair); and small flows (a
 * victim of short calls) are cut less than big ones.
 *
 *   sample <= target: grow by one packet per RTT of time, below one
 *                     packet by 1/8 packet per RTT (additive in time, so
 *                     equal for every session: fair shares)
 *   sample >  target: at most once per RTT, multiply by
 *                     1 - 0.8 x (rtt - target) / rtt, at least 0.5
 *   loss (a fast retransmit, an RTO), with the latest sample above
 *                     target, older than an RTO, or none yet: at most
 *                     once per RTT, halve (an RTO: down to one packet,
 *                     RFC 5681's loss window), but not below one packet
 *                     (only delay paces a session)
 *   loss with a sample within target in the last RTO: nothing — random
 *                     loss or reordering, not a queue (a queue that
 *                     drops delays first)
 *
 * bounded to [1/32 packet, the session's credits]. A window of w >= 1
 * packets lets w packets be in flight (credits_floor = credits - w); below
 * one packet the session is paced (pacer.c): one packet per rtt / window.
 *
 * Uncongested fast path: a session at its full window whose samples stay
 * under target costs one comparison per sample and nothing per packet —
 * credits_floor is 0, so credits.h's check is the one it always made (eRPC
 * skips its rate limiter for uncongested sessions the same way). Without
 * TERN_EP_CC (the default for now) nothing here acts.
 */
#include "cc.h"

#define CC_MIN      (TERN_CC_ONE / 32u) /* the smallest window: a packet per 32 RTTs */
#define CC_FS_MAX   10u                  /* the smallest window aims at base x 11 */
#define CC_BETA_PCT 80u                  /* decrease per unit of relative excess delay */
#define CC_MDF_PCT  50u                  /* the largest decrease at once */
#define CC_AI_SMALL (TERN_CC_ONE / 8u)  /* growth per RTT below one packet */

static uint64_t isqrt(uint64_t v)
{
	uint64_t r = 0, b = 1ull << 62;
	while (b > v)
		b >>= 2;
	while (b != 0) {
		if (v >= r + b) {
			v -= r + b;
			r = (r >> 1) + b;
		} else {
			r >>= 1;
		}
		b >>= 2;
	}
	return r;
}

static uint32_t cc_max(const struct tern_session *s)
{
	return s->credits_max * TERN_CC_ONE;
}

/* The RTT pacing and "once per RTT" go by: smoothed, else the latest sample. */
static uint64_t cc_rtt(const struct tern_session *s)
{
	if (s->srtt_ns != 0)
		return s->srtt_ns;
	return s->cc.rtt_ns != 0 ? s->cc.rtt_ns : s->rto_ns;
}

/* The window takes effect: credits_floor, and pacing below one packet. */
static void cc_apply(struct tern_session *s)
{
	struct tern_cc *cc = &s->cc;
	uint32_t max = cc_max(s);
	if (cc->cwnd >= max) {
		cc->cwnd = max;
		cc->paced = 0;
		s->credits_floor = 0;
		return;
	}
	if (cc->cwnd < CC_MIN)
		cc->cwnd = CC_MIN;
	if (cc->cwnd >= TERN_CC_ONE) {
		cc->paced = 0;
		s->credits_floor = s->credits_max - cc->cwnd / TERN_CC_ONE;
		return;
	}
	if (!cc->paced) {
		cc->paced = 1;
		cc->next_ns = 0;
	}
	s->credits_floor = s->credits_max;
	cc->gap_ns = cc_rtt(s) * TERN_CC_ONE / cc->cwnd;
}

void tern_cc_init(struct tern_session *s)
{
	struct tern_cc *cc = &s->cc;
	tern_pacer_stop(s);
	cc->cwnd = TERN_MAX_CREDITS * TERN_CC_ONE; /* cc_apply() bounds it by the credits */
	cc->paced = 0;
	cc->min_rtt_ns = 0;
	cc->rtt_ns = cc->rtt_at_ns = 0;
	cc->cut_ns = cc->grow_ns = 0;
	cc->gap_ns = cc->next_ns = 0;
	s->credits_floor = 0;
	if (cc->timer.kind != TERN_TIMER_PACE)
		tern_timer_init(&cc->timer, TERN_TIMER_PACE);
}

/* Before any data: the queues the session will build are not in it. */
void tern_cc_handshake_rtt(struct tern_session *s, uint64_t rtt)
{
	struct tern_cc *cc = &s->cc;
	if (rtt != 0 && (cc->min_rtt_ns == 0 || rtt < cc->min_rtt_ns))
		cc->min_rtt_ns = rtt;
}

/* 1/sqrt(w) for a window of w/TERN_CC_ONE packets, in 1/1024. */
static uint64_t inv_sqrt(uint32_t w)
{
	return isqrt((1ull << 30) / w);
}

/* The delay a session with window cwnd aims at. */
static uint64_t cc_target(const struct tern_session *s, uint32_t cwnd)
{
	uint64_t base = s->ep->cc_target_ns;
	uint32_t max = cc_max(s);
	if (cwnd >= max)
		return s->cc.min_rtt_ns + base;
	/* 0 at the full window, CC_FS_MAX x base at the smallest */
	uint64_t lo = inv_sqrt(max), hi = inv_sqrt(CC_MIN);
	uint64_t r = inv_sqrt(cwnd > CC_MIN ? cwnd : CC_MIN);
	uint64_t fs = CC_FS_MAX * base * (r - lo) / (hi - lo);
	return s->cc.min_rtt_ns + base + fs;
}

void tern_cc_rtt(struct tern_session *s, uint64_t rtt)
{
	struct tern_cc *cc = &s->cc;
	if (s->ep->cc_target_ns == 0 || rtt == 0)
		return; /* no TERN_EP_CC */
	if (cc->min_rtt_ns == 0 || rtt < cc->min_rtt_ns)
		cc->min_rtt_ns = rtt;
	cc->rtt_ns = rtt;
	cc->rtt_at_ns = s->ep->now;
	uint32_t max = cc_max(s);
	if (cc->cwnd > max)
		cc->cwnd = max; /* the credits were settled at the handshake */
	if (tern_likely(cc->cwnd >= max) && rtt <= cc->min_rtt_ns + s->ep->cc_target_ns)
		return; /* uncongested, at line rate: nothing to do */
	uint64_t now = s->ep->now;
	uint64_t target = cc_target(s, cc->cwnd);
	if (rtt <= target) {
		if (cc->cwnd >= max)
			return;
		/* Additive in time: every session gains the same per RTT
		 * however often it samples (a paced one samples once per
		 * gap), which is what makes AIMD converge to fair shares. */
		uint64_t el = now - cc->grow_ns;
		uint64_t cap = cc->paced && cc->gap_ns > rtt ? cc->gap_ns : rtt;
		if (el > cap || cc->grow_ns == 0)
			el = cap;
		uint64_t step = cc->cwnd >= TERN_CC_ONE ? TERN_CC_ONE : CC_AI_SMALL;
		uint64_t w = cc->cwnd + step * el / rtt;
		cc->cwnd = w > max ? max : (uint32_t)w;
		cc->grow_ns = now;
	} else {
		if (cc->cut_ns != 0 && now - cc->cut_ns < rtt)
			return;
		uint64_t excess = rtt - target;
		uint64_t cut = CC_BETA_PCT * excess / rtt; /* percent */
		if (cut > CC_MDF_PCT)
			cut = CC_MDF_PCT;
		cc->cwnd = (uint32_t)((uint64_t)cc->cwnd * (100 - cut) / 100);
		cc->cut_ns = cc->grow_ns = now;
	}
	cc_apply(s);
}

/* A loss: is it congestion (cut), or random (leave the window)? And not
 * twice in one RTT. 1: cut now. */
static int loss_cuts(struct tern_session *s)
{
	struct tern_cc *cc = &s->cc;
	if (s->ep->cc_target_ns == 0)
		return 0;
	if (cc->cwnd > cc_max(s))
		cc->cwnd = cc_max(s);
	/* Congestion or a random loss? The delay tells: a queue that
	 * overflows was long first. With the session's latest sample within
	 * its target the path has no queue to speak of, and the loss is the
	 * link's (or a reordering fast retransmit took for one): no cut —
	 * cutting there only throttles bulk calls on a lossy path while
	 * nothing is congested. A sample older than an RTO (or none yet)
	 * says nothing of the queue now — under a deep full queue Karn's
	 * rule and the queue keep samples away for RTOs, and the last one
	 * may have passed before it filled: then the loss is congestion. */
	uint64_t now = s->ep->now;
	int fresh = cc->rtt_at_ns != 0 && now - cc->rtt_at_ns <= s->rto_ns;
	if (fresh && cc->rtt_ns <= cc_target(s, cc->cwnd))
		return 0;
	/* With a queue: at most once per RTT (the losses of a burst are one
	 * event; a delay cut in the same RTT counts as it). */
	if (cc->cut_ns != 0 && now - cc->cut_ns < cc_rtt(s))
		return 0;
	/* Not below a packet: losses come in storms while the RTO is short of
	 * a deep queue (before samples tell it), and a window cut below a
	 * packet would be paced by an RTT no sample has measured. The delay
	 * samples take it lower. */
	return cc->cwnd > TERN_CC_ONE;
}

static void loss_cut(struct tern_session *s, uint32_t w)
{
	struct tern_cc *cc = &s->cc;
	cc->cwnd = w > TERN_CC_ONE ? w : TERN_CC_ONE;
	cc->cut_ns = cc->grow_ns = s->ep->now;
	cc_apply(s);
}

void tern_cc_loss(struct tern_session *s)
{
	if (loss_cuts(s))
		loss_cut(s, (uint32_t)((uint64_t)s->cc.cwnd * (100 - CC_MDF_PCT) / 100)); /* halve */
}

/*
 * An RTO cuts to one packet where a fast retransmit halves. A fast
 * retransmit is told by answers that kept coming: most of the window got
 * through. An RTO means none did for an RTO: in incast, every session's
 * first window (its credits) lands on a full queue at once, and halving
 * per RTO (32, 16, 8, ... packets resent each round, from 100 sessions)
 * kept the queue overflowing for rounds, each round's resends dropped or
 * answered twice; at one packet each round sends one per session.
 */
void tern_cc_rto(struct tern_session *s)
{
	if (loss_cuts(s))
		loss_cut(s, TERN_CC_ONE);
}
