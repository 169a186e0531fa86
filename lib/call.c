/*
 * call.c — the caller side: issuing calls, sending a call's packets within
 * its window and the session's credits, receiving credit returns and
 * response packets, retransmission (fast retransmit, selective resend on RTO),
 * completion, and one-way calls. Calls beyond the free slots wait in the
 * session's backlog (backlog.c); credits are credits.c's, the window
 * window.h's, the RTO loss.c's, and when a call is looked at timers.c's.
 *
 * A call's transmissions i = 0..total-1 and receptions i pair up one to one
 * (tern_internal.h): the caller sends what the window (rx.base + 64) and the
 * session's credits allow; every reception returns the credit of its
 * transmission; response packet 0 also acknowledges every request packet,
 * so lost CRs cost nothing. Receptions may arrive in any order inside the
 * window; a hole with three receptions above it is resent at once (fast
 * retransmit), anything else waits for the RTO.
 *
 * Completion hands the continuation the response: in place in the receive
 * buffer for one-packet responses, else the reassembly msgbuf. The slot then
 * owes the callee an acknowledgement: the next call on the slot carries it
 * implicitly; if none comes within ack_delay_ns, an explicit ACK goes.
 *
 * Every accepted call ends in exactly one continuation, through
 * call_end(): from a slot (tern_call_complete) or from the backlog.
 *
 * Timers. A session's calls share one timer on the endpoint's wheel
 * (TERN_TIMER_CALLS), armed no later than the earliest RTO or deadline among
 * them; when it fires, tern_calls_timer() looks at the session's busy slots,
 * judges those that are due and sets it for the next. A call that sent,
 * made progress or completed during a poll is put on ep->arm and its times
 * are set at the end of the poll (tern_calls_arm), from a clock read after
 * every callback of the poll: so an RTO runs from when the packets left,
 * not from a poll's start that a long continuation made stale. The timer
 * moves lazily: armed for an earlier time than needed (a call that ended or
 * progressed since), it is left to fire early, and the scan sets it right;
 * so calls that follow each other on a session cost a wheel operation per
 * RTO, not per call or per slot (per slot, each slot's RTO fired once per
 * RTO while its calls came and went). An RTO that passes is judged against
 * the receive queue (rx.c's clocks, rx.h's tern_rx_seen_since()): an answer
 * that is only waiting in the queue is not a loss, and the call is judged
 * again later on its slot's own timer (TERN_TIMER_CALL, look_ns), which
 * also carries the explicit ACK of a completed call. A call never fails
 * for unanswered retransmissions: a peer that stays silent while its
 * session probes it is declared dead (session.c), or the call's deadline
 * ends it.
 */
#include <string.h>

#include "backlog.h"
#include "call.h"
#include "cc.h"
#include "credits.h"
#include "loss.h"
#include "rx.h"
#include "session.h"
#include "status.h"
#include "tx.h"
#include "window.h"

/* --- the one way a call ends ------------------------------------------------ */

static inline void call_end(struct tern_ep *ep, tern_cont_fn cont, void *ctx, uint16_t type, int status,
		     const void *data, size_t len)
{
	struct tern_result r = {.status = status, .req_type = type, .data = data, .len = len};
	if (status == 0) {
		ep->st.calls_ok++;
	} else {
		ep->st.calls_failed++;
		if (status == -ETIMEDOUT)
			ep->st.calls_timeout++;
		else if (status == -ECONNRESET)
			ep->st.calls_reset++;
		tern_result_failed(&r); /* a failure's data is its message (status.c) */
	}
	CB_ENTER(ep);
	cont(&r, ctx);
	CB_LEAVE(ep);
}

/* A queued call that never got a slot ends with err. */
static void queued_fail(struct tern_ep *ep, struct tern_msg *req, int err)
{
	struct tern_pending p = req->pend;
	tern_msg_drop(req);
	call_end(ep, p.cont, p.ctx, p.req_type, err, NULL, 0);
}

/* --- transmission ------------------------------------------------------------ */

static inline void send_one(struct tern_ep *ep, struct tern_session *s, struct call_slot *c, uint32_t i)
{
	struct tern_hdr h;
	tern_hdr_init(&h, s, TERN_PKT_REQ);
	h.req_type = c->req_type;
	h.req_num = c->req_num;
	if (i < c->tx_hi) {
		ep->st.retransmits++;
		/* Karn: the answer to a packet sent twice gives no sample. Only
		 * when it is sent again: an RTO whose resend waits (for the
		 * pacer, for credits) and is answered first leaves the sample
		 * running, and the RTT that outlasted the RTO is measured. */
		if (c->sample_valid && c->sample_idx == i)
			c->sample_valid = 0;
	}
	if (i < c->req_npkts) {
		struct tern_msg *m = c->req;
		uint32_t off = i * s->dpp;
		uint32_t len = m->len - off < s->dpp ? m->len - off : s->dpp;
		h.flags = c->oneway ? TERN_WF_ONEWAY : 0;
		h.pkt_num = i;
		h.msg_size = m->len;
		tern_tx_data(ep, s, &h, m, m->data + off, len);
		return;
	}
	h.type = TERN_PKT_RFR;
	h.pkt_num = i - c->req_npkts + 1;
	h.msg_size = c->resp_size;
	tern_tx_data(ep, s, &h, NULL, NULL, 0);
}

/* One-way calls complete once their last packet is out: from tern_poll(),
 * never from inside tern_call(). */
static int oneway_sent(const struct call_slot *c)
{
	return c->oneway && c->tx_hi == c->req_npkts && c->rx.base + 1 >= c->req_npkts;
}

/* Set c's timer at the end of this poll (tern_calls_arm). */
static inline void arm_later(struct tern_ep *ep, struct call_slot *c)
{
	if (!c->arm_queued) {
		c->arm_queued = 1;
		c->arm_next = ep->arm;
		ep->arm = c;
	}
}

/* Transmission i of c goes out in this poll (fresh: never sent before):
 * an RTT sample starts on it if none runs and it is fresh (Karn), and the
 * call's RTO is set when the poll ends unless it already runs. */
static inline void sending(struct tern_ep *ep, struct call_slot *c, uint32_t i, int fresh)
{
	if (!c->sample_valid && fresh) {
		c->sample_valid = 1;
		c->sample_idx = i;
		c->sample_ns = 0; /* stamped when the poll ends (tern_calls_arm) */
		arm_later(ep, c);
	} else if (c->sent_ns == 0) { /* the RTO starts when this leaves */
		arm_later(ep, c);
	}
}

/* Send transmission i (new, inside the window) if the credits allow;
 * 0 if it must wait for them (tern_credit_take() noted it). */
static inline int kick_one(struct tern_ep *ep, struct tern_session *s, struct call_slot *c,
			   uint32_t i)
{
	if (!tern_credit_take(s, c, i + 1 == c->req_npkts))
		return 0;
	sending(ep, c, i, i >= c->tx_hi);
	send_one(ep, s, c, i);
	c->tx_next = i + 1;
	if (c->tx_next > c->tx_hi)
		c->tx_hi = c->tx_next;
	return 1;
}

/*
 * kick_one() for a run of new request packets from i (never sent: i is
 * tx_hi, so the window holds nothing at or above it) short of the last
 * one, as many as the window, the session's credits above its floor and
 * the transmit batch take: the bookkeeping once for the run, the header
 * built once (tern_tx_data_run). A bulk request is almost all such runs.
 * Returns how many it sent; 0: none fit, and kick_one() decides (it waits
 * for credits, asks the pacer, or makes room in the batch).
 */
static inline uint32_t send_run(struct tern_ep *ep, struct tern_session *s, struct call_slot *c,
				uint32_t i)
{
	uint32_t n = c->req_npkts - 1 - i;
	uint32_t win = c->rx.base + TERN_WINDOW - i; /* i is inside the window */
	uint32_t credits = s->credits > s->credits_floor ? s->credits - s->credits_floor : 0;
	uint32_t room = tern_tx_room(ep);
	if (n > win)
		n = win;
	if (n > credits)
		n = credits;
	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	s->credits -= n; /* tern_credit_take() n times, each above the floor */
	c->inflight += n;
	sending(ep, c, i, 1);
	/* send_one() for each: not retransmissions, each a full packet (only
	 * the last may be shorter). */
	struct tern_msg *m = c->req;
	struct tern_hdr h;
	tern_hdr_init(&h, s, TERN_PKT_REQ);
	h.flags = c->oneway ? TERN_WF_ONEWAY : 0;
	h.req_type = c->req_type;
	h.req_num = c->req_num;
	h.pkt_num = i;
	h.msg_size = m->len;
	tern_tx_data_run(ep, s, &h, m, m->data + (size_t)i * s->dpp, s->dpp, n);
	c->tx_next = c->tx_hi = i + n;
	return n;
}

/* Send what the window and the credits allow. */
static void call_kick(struct tern_ep *ep, struct call_slot *c)
{
	struct tern_session *s = c->s;
	while (c->tx_next < c->total) {
		uint32_t i = c->tx_next;
		enum tern_win w = tern_win_test(&c->rx, i);
		if (w == TERN_WIN_BEYOND)
			break;
		if (w != TERN_WIN_NEW || (tern_unlikely(c->last_held) && i + 1 == c->req_npkts &&
					  c->rx.base + 1 < c->req_npkts)) {
			/* answered already, or the last request packet the callee
			 * holds while packets below it are missing: skip it. (With
			 * nothing missing below it, it is resent: the response's
			 * first packet was lost, and only a copy of the last
			 * request packet brings it again.) */
			c->tx_next = i < c->rx.base ? c->rx.base : i + 1;
			continue;
		}
		if (i == c->tx_hi && i + 1 < c->req_npkts && s->prot == TERN_PROT_NONE &&
		    send_run(ep, s, c, i) != 0)
			continue;
		if (!kick_one(ep, s, c, i))
			return; /* tern_credits_next_waiting() resumes it */
	}
	s->want_tx &= ~(1ull << c->idx);
	if (tern_unlikely(c->oneway) && oneway_sent(c) && !c->done_queued) {
		c->done_queued = 1;
		c->dnext = ep->done;
		ep->done = c;
	}
}

/* Credits came back (or the pacer's time came): the calls waiting for them send. */
void tern_calls_kick(struct tern_session *s)
{
	struct call_slot *c;
	while ((c = tern_credits_next_waiting(s)) != NULL)
		call_kick(s->ep, c);
}

/* --- starting calls ----------------------------------------------------------- */

static uint64_t slots_free(const struct tern_session *s)
{
	/* (1 << nslots) - 1 without the branch for 64 slots: nslots is 1..64,
	 * and 2 << 63 is 0 in 64 bits. */
	uint64_t all = (2ull << (s->nslots - 1)) - 1;
	return ~s->cs_busy & all;
}

/*
 * call_start()'s one-packet request (most calls): call_kick()'s first turn,
 * without the window's test (it is empty) or a loop, and kick_one() and
 * send_one() with what a slot just started says written rather than tested:
 * no RTT sample taken yet, nothing sent before (not a retransmission), the
 * slot queued to be armed already, the whole message in packet 0, and not
 * one-way.
 */
static inline void start_one(struct tern_ep *ep, struct tern_session *s, struct call_slot *c,
			     struct tern_msg *req, uint16_t type, uint64_t req_num, uint32_t len,
			     uint64_t bit)
{
	if (!tern_credit_take(s, c, 1)) {
		/* it waits for credits: tern_credits_next_waiting() resumes it */
		c->sample_valid = 0;
		c->tx_next = c->tx_hi = 0;
		return;
	}
	c->sample_valid = 1;
	c->sample_idx = 0;
	c->sample_ns = 0; /* stamped when the poll ends (tern_calls_arm) */
	struct tern_hdr h;
	tern_hdr_init(&h, s, TERN_PKT_REQ);
	h.req_type = type;
	h.req_num = req_num;
	h.msg_size = len;
	tern_tx_data(ep, s, &h, req, req->data, len);
	c->tx_next = c->tx_hi = 1;
	s->want_tx &= ~bit;
}

/* The slot's fields that the stores below could alias (the build has
 * -fno-strict-aliasing) are read once, into locals, first. */
__attribute__((always_inline)) static inline void
call_start(struct tern_ep *ep, struct tern_session *s, struct call_slot *c, struct tern_msg *req,
	   uint16_t type, tern_cont_fn cont, void *ctx, uint64_t deadline, int oneway, int idempotent)
{
	const uint64_t req_num = c->req_num + s->nslots;
	const uint64_t bit = 1ull << c->idx;
	const uint32_t len = req->len;
	const uint32_t npkts = tern_wire_npkts(len, s->dpp);
	c->req_num = req_num;
	c->active = 1;
	c->oneway = (uint8_t)oneway;
	c->idempotent = (uint8_t)idempotent;
	c->ack_pending = 0; /* this request acknowledges the previous response */
	/* done_queued is left alone: it says the slot is linked on ep->done,
	 * which stays true until tern_done_drain() unlinks it. Clearing it here
	 * let a slot still on the list be pushed again, which cut the list
	 * (and lost the calls behind it). */
	c->last_held = 0;
	c->req_type = type;
	c->req = req;
	c->req_npkts = npkts;
	c->resp_size = 0;
	c->resp_npkts = 0;
	c->total = npkts;
	tern_win_reset(&c->rx);
	c->inflight = 0;
	c->backoff = 0;
	c->frtx_mark = 0;
	c->sent_ns = 0;
	c->start_ns = 0;
	c->deadline_ns = deadline;
	c->resp = NULL;
	c->cont = cont;
	c->ctx = ctx;
	s->cs_busy |= bit;
	arm_later(ep, c); /* the deadline, if nothing is sent yet */
	if (npkts == 1 && !oneway) {
		start_one(ep, s, c, req, type, req_num, len, bit); /* sets the two below */
		return;
	}
	c->sample_valid = 0;
	c->tx_next = c->tx_hi = 0;
	call_kick(ep, c);
}

void tern_calls_start(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	while (!tern_backlog_empty(s) && s->state == SESS_CONNECTED && !s->tearing) {
		uint64_t free_slots = slots_free(s);
		if (free_slots == 0)
			return;
		struct tern_msg *req = tern_backlog_pop(s);
		if (req->len > s->peer_max_msg) {
			/* Learnt at connect time: the server would refuse it. */
			queued_fail(ep, req, -EMSGSIZE);
			continue;
		}
		const struct tern_pending *p = &req->pend;
		unsigned i = (unsigned)__builtin_ctzll(free_slots);
		call_start(ep, s, &s->cs[i], req, p->req_type, p->cont, p->ctx, p->deadline_ns,
			   p->oneway, p->idempotent);
	}
}

void tern_calls_fail_queued(struct tern_session *s, int err)
{
	struct tern_msg *req;
	while ((req = tern_backlog_pop(s)) != NULL)
		queued_fail(s->ep, req, err);
}

void tern_queued_timer(struct tern_ep *ep, struct tern_msg *req)
{
	tern_backlog_remove(req->pend.s, req);
	queued_fail(ep, req, -ETIMEDOUT);
}

void tern_calls_requeue_idempotent(struct tern_session *s)
{
	/* Backwards, each pushed at the head: they keep their order. */
	for (uint32_t i = s->nslots; i-- > 0;) {
		struct call_slot *c = &s->cs[i];
		if (!c->active || !c->idempotent)
			continue;
		struct tern_msg *req = c->req;
		req->pend = (struct tern_pending){
			.cont = c->cont,
			.ctx = c->ctx,
			.deadline_ns = c->deadline_ns,
			.req_type = c->req_type,
			.oneway = c->oneway,
			.idempotent = 1,
		};
		c->req = NULL;
		c->cont = NULL;
		/* Release the slot without a continuation. */
		if (c->resp != NULL) {
			tern_msg_drop(c->resp);
			c->resp = NULL;
		}
		c->active = 0;
		s->cs_busy &= ~(1ull << i);
		tern_call_unstall(c);
		tern_wheel_cancel(&s->ep->wheel, &c->timer);
		tern_backlog_push(s, req, 1);
	}
}

/* tern_call() and its variants. Inline into tern_call(), where oneway and
 * flags are constants (every call of the benchmarks); call_issue() is the
 * one copy for the others. */
__attribute__((always_inline)) static inline int
call_issue_inline(struct tern_session *s, uint16_t type, struct tern_msg *req, tern_cont_fn cont,
		  void *ctx, uint64_t timeout_ns, int oneway, unsigned flags)
{
	if (s == NULL || req == NULL || cont == NULL || (flags & ~TERN_CALL_IDEMPOTENT) != 0)
		return -EINVAL;
	struct tern_ep *ep = s->ep;
	if (req->ep != ep || req->refs != 1)
		return -EINVAL;
	if (s->tearing || s->close_req)
		return -ECANCELED;
	if (s->state != SESS_CONNECTED && s->state != SESS_CONNECTING)
		return -ENOTCONN;
	if (s->state == SESS_CONNECTED && req->len > s->peer_max_msg)
		return -EMSGSIZE;
	if (ep->in_poll == 0)
		ep->now = tern_now_ns();
	uint64_t deadline =
		tern_deadline(ep->now, timeout_ns != 0 ? timeout_ns : ep->cfg.call_timeout_ns);
	int idem = (flags & TERN_CALL_IDEMPOTENT) != 0;
	uint64_t free_slots = slots_free(s);
	if (s->state == SESS_CONNECTED && tern_backlog_empty(s) && free_slots != 0) {
		unsigned i = (unsigned)__builtin_ctzll(free_slots);
		call_start(ep, s, &s->cs[i], req, type, cont, ctx, deadline, oneway, idem);
	} else {
		if (s->bl_len >= ep->cfg.backlog_limit)
			return -EAGAIN;
		req->pend = (struct tern_pending){
			.cont = cont,
			.ctx = ctx,
			.deadline_ns = deadline,
			.req_type = type,
			.oneway = (uint8_t)oneway,
			.idempotent = (uint8_t)idem,
		};
		tern_backlog_push(s, req, 0);
	}
	ep->st.calls_started++;
	return 0;
}

__attribute__((noinline)) static int call_issue(struct tern_session *s, uint16_t type,
					       struct tern_msg *req, tern_cont_fn cont, void *ctx,
					       uint64_t timeout_ns, int oneway, unsigned flags)
{
	return call_issue_inline(s, type, req, cont, ctx, timeout_ns, oneway, flags);
}

int tern_call(struct tern_session *s, uint16_t req_type, struct tern_msg *req, tern_cont_fn cont,
	      void *ctx, uint64_t timeout_ns)
{
	return call_issue_inline(s, req_type, req, cont, ctx, timeout_ns, 0, 0);
}

int tern_call_ex(struct tern_session *s, uint16_t req_type, struct tern_msg *req,
		 tern_cont_fn cont, void *ctx, uint64_t timeout_ns, unsigned flags)
{
	return call_issue(s, req_type, req, cont, ctx, timeout_ns, 0, flags);
}

int tern_send(struct tern_session *s, uint16_t req_type, struct tern_msg *req, tern_cont_fn cont,
	      void *ctx, uint64_t timeout_ns)
{
	return call_issue(s, req_type, req, cont, ctx, timeout_ns, 1, 0);
}

/* --- completion ------------------------------------------------------------------ */

/* tern_call_complete(), inline where a call ends with an answer of one
 * packet (most calls): there status is the constant 0, and the tests of it
 * fold away. */
__attribute__((always_inline)) static inline void complete(struct call_slot *c, int status,
							    const void *data, size_t len)
{
	struct tern_session *s = c->s;
	struct tern_ep *ep = s->ep;
	const uint64_t bit = 1ull << c->idx; /* the shift once (tern_credits_release's too) */
	tern_credits_release(s, c);
	c->active = 0;
	s->cs_busy &= ~bit;
	if (tern_unlikely(c->stalled))
		tern_call_unstall(c);
	/* The callee keeps an answer (data or error) until acknowledged. */
	int answered = !c->oneway && c->resp_npkts != 0;
	if (answered)
		tern_rack_answered(&ep->rack, c->start_ns, ep->now);
	answered |= !c->oneway && status != 0 && status != -ETIMEDOUT && status != -ECONNRESET &&
		    status != -ECANCELED;
	if (answered && s->state == SESS_CONNECTED) {
		c->ack_pending = 1;
		c->ack_due_ns = ep->now + ep->ack_delay_ns;
	}
	arm_later(ep, c); /* the ACK, or nothing (a next call on the slot) */
	/* The credits this call held may be what stalled calls wait for. */
	if (s->want_tx != 0 && s->state == SESS_CONNECTED && !s->tearing)
		tern_calls_kick(s);
	struct tern_msg *req = c->req, *resp = c->resp;
	tern_cont_fn cont = c->cont;
	void *ctx = c->ctx;
	c->req = NULL;
	c->resp = NULL;
	c->cont = NULL;
	tern_msg_drop(req);
	/* Pinned: the continuation may close the session, whose memory then
	 * goes only once it returns. */
	s->pins++;
	call_end(ep, cont, ctx, c->req_type, status, data, len);
	s->pins--;
	tern_msg_drop(resp);
	if (tern_session_unhold(s))
		return; /* closed in the continuation: s and c are gone */
	if (!tern_backlog_empty(s) && s->state == SESS_CONNECTED && !s->tearing)
		tern_calls_start(s);
}

void tern_call_complete(struct call_slot *c, int status, const void *data, size_t len)
{
	complete(c, status, data, len);
}

void tern_done_drain(struct tern_ep *ep)
{
	while (ep->done != NULL) {
		struct call_slot *c = ep->done;
		ep->done = c->dnext;
		c->dnext = NULL;
		if (c->done_queued && c->active && oneway_sent(c)) {
			c->done_queued = 0;
			/* "Handed to the driver": a call a continuation of this loop
			 * started may still sit in the transmit batch. */
			if (ep->ntx != 0)
				tern_tx_flush(ep);
			tern_call_complete(c, 0, NULL, 0);
		} else {
			c->done_queued = 0;
		}
	}
}

void tern_done_remove(struct tern_session *s)
{
	struct call_slot **pp = &s->ep->done;
	while (*pp != NULL) {
		struct call_slot *c = *pp;
		if (c->s == s) {
			*pp = c->dnext;
			c->dnext = NULL;
			c->done_queued = 0;
		} else {
			pp = &c->dnext;
		}
	}
}

/* --- receptions -------------------------------------------------------------------- */

/* 0: reception i is new and inside the window; else the drop reason. */
static int rx_check(const struct call_slot *c, uint32_t i)
{
	enum tern_win w = tern_win_test(&c->rx, i);
	if (w == TERN_WIN_OLD)
		return TERN_DROP_DUP;
	if (i >= c->tx_hi)
		return TERN_DROP_UNEXPECTED; /* answers something never sent */
	return w == TERN_WIN_NEW ? 0 : TERN_DROP_DUP;
}

/* The call made progress: its RTO starts again when this poll ends. Its
 * backoff stays until a valid RTT sample (rx_sample): Karn's algorithm —
 * an answer after a resend is ambiguous, and an RTO that proved short
 * stays backed off until a packet sent once is answered. (Reset on every
 * answer, a path slower than the session's RTO — incast behind a deep
 * queue, an RTO from the handshake's empty path — resent each packet at
 * every backoff step again, and Karn's rule then threw away each sample
 * that would have told.) */
static inline void progress(struct tern_ep *ep, struct call_slot *c)
{
	c->sent_ns = 0;
	if (tern_unlikely(c->stalled))
		tern_call_unstall(c);
	arm_later(ep, c);
}

/* Reception i was the RTT sample's packet. */
static inline void rx_sample(struct tern_ep *ep, struct call_slot *c, uint32_t i)
{
	struct tern_session *s = c->s;
	c->sample_valid = 0;
	if (c->sample_ns != 0 && ep->now > c->sample_ns) {
		uint64_t rtt = ep->now - c->sample_ns;
		c->backoff = 0; /* a valid sample: the RTO is the estimate's again */
		tern_rtt_sample(s, rtt);
		/* The congestion window goes by the same samples but response
		 * packet 0's, which include the handler's run time (a slow or
		 * deferred handler is no queue). */
		if (i + 1 != c->req_npkts)
			tern_cc_rtt(s, rtt);
	}
}

/* Take reception i (new, inside the window): into the window, its credit
 * back, its RTT sample if it carries the one running. */
static inline void rx_take(struct tern_ep *ep, struct call_slot *c, uint32_t i)
{
	tern_win_mark(&c->rx, i);
	tern_credit_return(c->s, c);
	if (c->sample_valid && i == c->sample_idx)
		rx_sample(ep, c, i);
}

/* Record reception i (checked by rx_check): credit back, window forward. */
static void rx_mark(struct tern_ep *ep, struct call_slot *c, uint32_t i)
{
	rx_take(ep, c, i);
	progress(ep, c);
}

/*
 * Resend a hole (a missing reception below one that arrived) once, when
 * three receptions arrived above it, or when everything sent after it has
 * been answered: then nothing more is coming that could reveal it, and
 * waiting would cost a whole RTO (early retransmit, RFC 5827). The last
 * request packet, once the callee said it holds it, counts as arrived.
 */
static void fast_retransmit(struct tern_ep *ep, struct call_slot *c)
{
	uint64_t bits = c->rx.bits; /* bit 0 (rx.base) is a hole here */
	uint32_t last = c->req_npkts - 1;
	if (tern_unlikely(c->last_held) && last - c->rx.base < TERN_WINDOW)
		bits |= 1ull << (last - c->rx.base);
	if (bits == 0)
		return;
	unsigned top = 63u - (unsigned)__builtin_clzll(bits);
	for (unsigned off = 0; off < top; off++) {
		if ((bits >> off) & 1)
			continue;
		uint32_t i = c->rx.base + off;
		if (i < c->frtx_mark || i >= c->tx_next)
			continue;
		unsigned above = (unsigned)__builtin_popcountll(bits >> off);
		if (above < 3 && above != c->tx_hi - i - 1)
			break;
		send_one(ep, c->s, c, i);
		c->frtx_mark = i + 1;
		tern_cc_loss(c->s);
	}
}

static inline struct call_slot *slot_of(struct tern_ep *ep, struct tern_session *s,
				 const struct tern_hdr *h)
{
	struct call_slot *c = &s->cs[h->req_num & s->req_slot_mask];
	if (!c->active || c->req_num != h->req_num) {
		tern_rx_drop(ep, h->req_num < c->req_num || !c->active ? TERN_DROP_STALE
								       : TERN_DROP_UNEXPECTED);
		/* An answer to a call that was made and already answered: it was
		 * retransmitted for nothing (the path is slower than the RTO). */
		if (h->req_num <= c->req_num && h->req_num >= s->nslots)
			tern_rto_spurious(s, ep->now);
		return NULL;
	}
	if (h->req_type != c->req_type) {
		tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
		return NULL;
	}
	return c;
}

static void after_rx(struct tern_ep *ep, struct call_slot *c)
{
	struct tern_session *s = c->s;
	if (c->rx.bits != 0 || tern_unlikely(c->last_held))
		fast_retransmit(ep, c);
	call_kick(ep, c);
	if (s->want_tx != 0)
		tern_calls_kick(s);
}

void tern_on_cr(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h)
{
	struct call_slot *c = slot_of(ep, s, h);
	if (c == NULL)
		return;
	if (h->msg_size != c->req->len) {
		tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
		return;
	}
	if (h->flags & TERN_WF_WORKING) {
		/* The callee is still executing: alive, so do not give up. */
		if (h->pkt_num + 1 == c->req_npkts && c->resp_npkts == 0) {
			c->backoff = 0; /* the retry count starts again */
			progress(ep, c);
		} else {
			tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
		}
		return;
	}
	if (h->pkt_num + 1 >= c->req_npkts) {
		/* The last packet is answered by the response; a CR for it (alone,
		 * before the response) says the callee holds it while packets
		 * below it are missing (wire.h): it is not resent, and the holes
		 * below it are revealed. */
		if (h->pkt_num + 1 == c->req_npkts && tern_cr_extra(h) == 0 && c->resp_npkts == 0 &&
		    h->pkt_num < c->tx_hi && !c->last_held) {
			c->last_held = 1;
			progress(ep, c);
			after_rx(ep, c);
			return;
		}
		tern_rx_drop(ep, c->last_held ? TERN_DROP_DUP : TERN_DROP_UNEXPECTED);
		return;
	}
	/* A CR answers pkt_num and the cr_extra packets below it (the wire
	 * check bounds that count by pkt_num and the window). */
	if (h->pkt_num >= c->tx_hi) {
		tern_rx_drop(ep, TERN_DROP_UNEXPECTED); /* answers something never sent */
		return;
	}
	/* rx_take() for each new one, as one word operation on the window
	 * (a coalesced CR answers up to 64 packets): every packet below
	 * tx_hi, so the window's test is rx_check()'s. Then the call-wide
	 * part (progress) once. */
	uint32_t base = c->rx.base;
	uint64_t fresh = tern_win_mark_range(&c->rx, h->pkt_num - tern_cr_extra(h), h->pkt_num);
	if (fresh == 0) {
		/* Answers only packets answered already: a resend was spurious
		 * (the path is slower than the RTO, a deep queue), as for a
		 * whole call answered twice (slot_of). */
		tern_rx_drop(ep, TERN_DROP_DUP);
		tern_rto_spurious(s, ep->now);
		return;
	}
	tern_credits_return_n(s, c, (uint32_t)__builtin_popcountll(fresh));
	if (c->sample_valid && c->sample_idx >= base && c->sample_idx - base < TERN_WINDOW &&
	    ((fresh >> (c->sample_idx - base)) & 1))
		rx_sample(ep, c, c->sample_idx);
	progress(ep, c);
	after_rx(ep, c);
}

uint8_t *tern_call_rx_dest(struct tern_session *s, const struct tern_hdr *h, uint32_t len)
{
	const struct call_slot *c = &s->cs[h->req_num & s->req_slot_mask];
	if (!c->active || c->req_num != h->req_num || h->req_type != c->req_type ||
	    c->resp == NULL || h->status != 0 || h->pkt_num == 0 || h->msg_size != c->resp_size ||
	    h->pkt_num >= c->resp_npkts || rx_check(c, c->req_npkts - 1 + h->pkt_num) != 0)
		return NULL;
	/* Exactly that packet's length: a bad tag zeroes len bytes, which
	 * must not reach into a neighbour's place. */
	size_t off = (size_t)h->pkt_num * s->dpp;
	if (off >= c->resp_size || len != (c->resp_size - off < s->dpp ? c->resp_size - off : s->dpp))
		return NULL;
	return c->resp->data + off;
}

void tern_on_resp(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h,
		  const uint8_t *payload, uint32_t len)
{
	struct call_slot *c = slot_of(ep, s, h);
	if (c == NULL)
		return;
	if (c->oneway) {
		tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
		return;
	}
	if (h->status != 0) {
		/* An error answer ends the call at once (status.c: its code and message). */
		tern_call_error(ep, c, h, payload, len);
		return;
	}
	uint32_t n = c->req_npkts;
	if (h->pkt_num == 0) {
		if (c->resp_npkts != 0) {
			tern_rx_drop(ep, TERN_DROP_DUP);
			return;
		}
		if (c->tx_hi < n) { /* a response before the whole request was sent */
			tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
			return;
		}
		uint32_t m = tern_wire_npkts(h->msg_size, s->dpp);
		if (m == 1 && n == 1) {
			/* One packet each way (most calls): the call ends here,
			 * so of rx_mark() only the RTT sample is left to do. Its
			 * credit, its window and a stall are what
			 * tern_call_complete() releases, the timer is set by it,
			 * and call_start() resets the RTO's clock. */
			c->last_held = 0;
			if (c->sample_valid && c->sample_idx == 0)
				rx_sample(ep, c, 0);
			c->resp_size = h->msg_size;
			c->resp_npkts = 1;
			c->total = 1;
			ep->st.zc_rx++;
			complete(c, 0, payload, len);
			return;
		}
		if (m > 1) {
			c->resp = tern_msg_alloc(ep, h->msg_size);
			if (c->resp == NULL) {
				tern_rx_drop(ep, TERN_DROP_NOMEM); /* the RTO brings it again */
				return;
			}
			memcpy(c->resp->data, payload, len);
			ep->st.copied_bytes += len;
		}
		/* Response packet 0 acknowledges every request packet. */
		c->last_held = 0;
		while (c->rx.base < n - 1)
			rx_mark(ep, c, c->rx.base);
		c->resp_size = h->msg_size;
		c->resp_npkts = m;
		c->total = n + m - 1;
		rx_mark(ep, c, n - 1);
		if (m == 1) {
			ep->st.zc_rx++;
			tern_call_complete(c, 0, payload, len);
			return;
		}
	} else {
		uint32_t i = n - 1 + h->pkt_num;
		if (c->resp_npkts == 0 || h->msg_size != c->resp_size || h->pkt_num >= c->resp_npkts) {
			tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
			return;
		}
		int why = rx_check(c, i);
		if (why != 0) {
			tern_rx_drop(ep, (enum tern_drop)why);
			return;
		}
		uint8_t *dst = c->resp->data + (size_t)h->pkt_num * s->dpp;
		if (payload != dst) { /* else decrypted in place (tern_call_rx_dest) */
			memcpy(dst, payload, len);
			ep->st.copied_bytes += len;
		}
		rx_mark(ep, c, i);
	}
	if (c->rx.base == c->total) {
		tern_call_complete(c, 0, c->resp->data, c->resp_size);
		return;
	}
	after_rx(ep, c);
}

/* --- timers: deadline, RTO, explicit ACK ------------------------------------------- */

void tern_calls_forget(struct call_slot *c)
{
	struct tern_ep *ep = c->s->ep;
	tern_wheel_cancel(&ep->wheel, &c->timer);
	if (c->arm_queued) {
		/* ep->arm holds the calls touched in this poll: a short walk */
		for (struct call_slot **pp = &ep->arm; *pp != NULL; pp = &(*pp)->arm_next) {
			if (*pp == c) {
				*pp = c->arm_next;
				break;
			}
		}
		c->arm_queued = 0;
	}
}

void tern_call_unstall(struct call_slot *c)
{
	if (c->stalled) {
		c->stalled = 0;
		c->s->stalled--;
	}
}

/* No progress for an RTO: resend everything not yet answered. */
static void rollback(struct tern_ep *ep, struct call_slot *c)
{
	struct tern_session *s = c->s;
	tern_credits_release(s, c);
	c->tx_next = c->rx.base;
	/* What the held last packet revealed is resent now: its hole must not
	 * be resent again when the first of these is answered. */
	c->frtx_mark = c->last_held ? c->req_npkts - 1 : c->rx.base;
	c->sent_ns = 0;
	arm_later(ep, c);
	call_kick(ep, c);
	if (s->want_tx != 0)
		tern_calls_kick(s);
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

/* Does c wait for an answer to something sent? Packets in flight; or the
 * last request packet the callee holds (not resent while holes remain
 * below it, so no credit counts it: its answer, the response, may be lost
 * all the same); or a hole below what it sent: credits count packets, not
 * which ones, so after a rollback late answers to packets sent before it
 * take back the credits of the holes resent — inflight reaches 0 while a
 * hole is still unanswered, and without its RTO the call would wait for
 * its deadline (incast behind a deep queue). */
static inline int outstanding(const struct call_slot *c)
{
	return c->inflight != 0 || c->last_held || c->rx.base < c->tx_next;
}

/* When c's RTO is due, with the session's RTO as it is now (it may have
 * grown since the call sent, from other calls' samples); 0: not running. */
static inline uint64_t rto_at(const struct call_slot *c)
{
	if (c->sent_ns == 0 || !outstanding(c))
		return 0; /* nothing outstanding (or waiting for credits): no loss to find */
	return c->sent_ns + tern_rto(c->s, c->backoff);
}

/* The earlier of rto (rto_at(c); 0: not running) and c's deadline. */
static inline uint64_t rto_or_deadline(const struct call_slot *c, uint64_t rto)
{
	return rto != 0 && rto < c->deadline_ns ? rto : c->deadline_ns;
}

/* The timer's next time for an active call: its RTO (rto_at()) or its
 * deadline. rto0 is tern_rto(c->s, 0), which a scan of the session's
 * calls reads once for all of them. */
static inline uint64_t active_at(const struct call_slot *c, uint64_t rto0)
{
	uint64_t rto = 0;
	if (c->sent_ns != 0 && outstanding(c))
		rto = c->sent_ns + (tern_likely(c->backoff == 0) ? rto0 : tern_rto(c->s, c->backoff));
	return rto_or_deadline(c, rto);
}

void tern_calls_arm(struct tern_ep *ep, uint64_t now)
{
	while (ep->arm != NULL) {
		struct call_slot *c = ep->arm;
		ep->arm = c->arm_next;
		c->arm_queued = 0;
		if (c->active) {
			if (c->sample_valid && c->sample_ns == 0)
				c->sample_ns = now;
			/* rto_at(), with outstanding() looked at once */
			uint64_t rto = 0;
			if (outstanding(c)) {
				if (c->sent_ns == 0)
					c->sent_ns = now;
				rto = c->sent_ns + tern_rto(c->s, c->backoff);
			}
			if (c->start_ns == 0 && c->inflight != 0)
				c->start_ns = now;
			/* Its RTO starts again: the slot's timer, armed for a
			 * judgement of it or the ACK of the call before it on
			 * the slot, is moot; off the wheel, or it fires for
			 * nothing. */
			c->look_ns = 0;
			if (tern_unlikely(tern_timer_armed(&c->timer)))
				tern_wheel_cancel(&ep->wheel, &c->timer);
			/* The session's timer is armed for the earliest RTO or
			 * deadline of its calls: if that is no later than this
			 * one's already (a call before it on the session), it is
			 * left there, fires early and tern_calls_timer() sets it
			 * right; one wheel operation per session and RTO rather
			 * than per call or per slot. The session's only call
			 * moves it instead when it would fire over a quarter of
			 * the way early: with one call after another on each of
			 * thousands of sessions, every early fire and cascade
			 * of a timer touches a session gone cold. */
			struct tern_session *s = c->s;
			uint64_t at = rto_or_deadline(c, rto);
			if (tern_likely((s->cs_busy & (s->cs_busy - 1)) == 0))
				tern_wheel_arm_near(&ep->wheel, &s->calls_timer, at, (at - now) >> 2);
			else
				tern_wheel_arm_by(&ep->wheel, &s->calls_timer, at);
		} else if (c->ack_pending) {
			tern_wheel_arm_by(&ep->wheel, &c->timer, c->ack_due_ns);
		}
		/* else an armed timer finds nothing to do: cheaper than a cancel */
	}
}

/* Judge c again at `again` (an RTO passed, not yet known to be a loss): on
 * the slot's own timer, which the session's timer leaves it to. */
static void look_again(struct tern_ep *ep, struct call_slot *c, uint64_t again)
{
	c->look_ns = again;
	tern_wheel_arm(&ep->wheel, &c->timer, again < c->deadline_ns ? again : c->deadline_ns);
}

/* Active call c's time may have come (ep->now is now, c->look_ns is 0):
 * its deadline, its RTO. Continuations may run. */
static void call_judge(struct tern_ep *ep, struct call_slot *c, uint64_t now)
{
	struct tern_session *s = c->s;
	if (now >= c->deadline_ns) {
		tern_call_complete(c, -ETIMEDOUT, NULL, 0);
		return;
	}
	uint64_t due = rto_at(c);
	if (due == 0 || now < due) {
		/* Not due (the RTO grew, or progress since), or nothing
		 * outstanding: the session's timer watches it. */
		if (!c->arm_queued) /* else tern_calls_arm() does when this poll ends */
			tern_wheel_arm_by(&ep->wheel, &s->calls_timer, rto_or_deadline(c, due));
		return;
	}
	uint64_t rto = tern_rto(s, c->backoff);
	if (tern_rack_turn_coming(&ep->rack, c->start_ns, rto, now)) {
		/* Calls sent no later than c are still being answered: the peer
		 * is working through a queue in which c waits its turn — 20,000
		 * sessions' first calls sent at once, say, whose RTO no sample
		 * could have told — and c is not lost yet (loss.h). */
		look_again(ep, c, tern_rack_look_again(c->start_ns, rto, now));
		return;
	}
	if (!tern_rx_seen_since(ep, due, rto)) {
		/* The RTO passed at due, but the answer may only be waiting in
		 * the receive queue (rx.h): look again once the queue has been
		 * seen — after the next burst, or, while it stays full, an RTO
		 * after due. */
		look_again(ep, c, tern_rx_look_again(ep, due, rto, now));
		return;
	}
	ep->st.rto_events++;
	/* Congestion, unless all the call waits for is its response: that may
	 * be a slow handler (WORKING CRs say so) as well as a loss. */
	if (c->rx.base + 1 < c->req_npkts || c->resp_npkts != 0)
		tern_cc_rto(s);
	/* Exponential backoff, capped at 8 RTOs: with more than half of the
	 * round trips lost, unbounded doubling makes the expected time to
	 * deliver grow without limit (0.51 x 2 > 1), and a silent peer is
	 * found by the session's probing, not by backing off further. */
	if (c->backoff < TERN_MAX_BACKOFF)
		c->backoff++;
	rollback(ep, c);
	if (!c->stalled) {
		c->stalled = 1;
		s->stalled++;
	}
	/* A second RTO in a row, and nothing heard from the peer for an RTO
	 * (other calls answered would show it alive): the session makes sure
	 * the peer is alive (session.c). One RTO alone is just a loss, and the
	 * retransmission probes well enough. */
	if (c->backoff >= 2 && now - s->last_rx_ns >= rto)
		tern_session_probe(s);
}

void tern_calls_timer(struct tern_ep *ep, struct tern_session *s)
{
	uint64_t now = ep->now, next = UINT64_MAX;
	uint64_t busy = s->cs_busy;
	uint64_t rto0 = tern_rto(s, 0);
	s->pins++; /* a continuation may close s: its memory goes after the scan */
	while (busy != 0) {
		struct call_slot *c = &s->cs[__builtin_ctzll(busy)];
		busy &= busy - 1;
		/* Not watched by this timer: ended (by a continuation of this
		 * scan), judged again on its own timer, or set when this poll
		 * ends (tern_calls_arm). */
		if (!c->active || c->look_ns != 0 || c->arm_queued)
			continue;
		uint64_t at = active_at(c, rto0);
		if (at > now) {
			next = at < next ? at : next;
			continue;
		}
		call_judge(ep, c, now);
		rto0 = tern_rto(s, 0); /* a judgement may have moved the session's RTO */
	}
	s->pins--;
	if (tern_session_unhold(s))
		return; /* closed by a continuation: s is gone */
	if (next != UINT64_MAX)
		tern_wheel_arm_by(&ep->wheel, &s->calls_timer, next);
}

void tern_call_timer(struct tern_ep *ep, struct call_slot *c)
{
	uint64_t now = ep->now;
	struct tern_session *s = c->s;
	if (!c->active) {
		if (!c->ack_pending)
			return; /* left armed by a call that ended: nothing to do */
		if (now < c->ack_due_ns) {
			/* Fired early (armed for a judgement of the call's RTO). */
			if (!c->arm_queued)
				tern_wheel_arm(&ep->wheel, &c->timer, c->ack_due_ns);
			return;
		}
		c->ack_pending = 0;
		if (s->state == SESS_CONNECTED)
			send_ack(ep, c);
		return;
	}
	if (c->look_ns == 0)
		return; /* the session's timer watches it (progress made this moot) */
	uint64_t at = c->look_ns < c->deadline_ns ? c->look_ns : c->deadline_ns;
	if (now < at) {
		/* Fired early (armed for the ACK of the slot's previous call). */
		if (!c->arm_queued)
			tern_wheel_arm(&ep->wheel, &c->timer, at);
		return;
	}
	c->look_ns = 0;
	call_judge(ep, c, now);
}

/* --- synchronous calls ------------------------------------------------------------- */

struct sync_call {
	int done;
	int status;
	void *buf;
	size_t cap;
	size_t len;
	struct tern_status *st;
};

static void sync_cont(const struct tern_result *res, void *ctx)
{
	struct sync_call *sc = ctx;
	sc->done = 1;
	sc->status = res->status;
	sc->len = res->len;
	if (res->status == 0 && res->len != 0 && sc->buf != NULL)
		memcpy(sc->buf, res->data, res->len < sc->cap ? res->len : sc->cap);
	if (sc->st != NULL && res->status != 0) {
		sc->st->code = res->code;
		memcpy(sc->st->message, res->message, res->message_len); /* <= TERN_STATUS_MSG_MAX */
		sc->st->message[res->message_len] = '\0';
	}
}

static int call_sync(struct tern_session *s, uint16_t req_type, const void *req, size_t req_len,
		     void *resp, size_t resp_cap, size_t *resp_len, uint64_t timeout_ns,
		     struct tern_status *st)
{
	if (s == NULL || (req == NULL && req_len != 0) || (resp == NULL && resp_cap != 0))
		return -EINVAL;
	struct tern_ep *ep = s->ep;
	if (ep->in_cb != 0 || ep->in_poll != 0)
		return -EDEADLK;
	if (req_len > ep->cfg.max_msg_size)
		return -EMSGSIZE;
	struct tern_msg *m = tern_msg_alloc(ep, req_len);
	if (m == NULL)
		return -ENOMEM;
	if (req_len != 0)
		memcpy(m->data, req, req_len);
	struct sync_call sc = {.buf = resp, .cap = resp_cap, .st = st};
	int rc = tern_call(s, req_type, m, sync_cont, &sc, timeout_ns);
	if (rc != 0) {
		tern_msg_drop(m);
		return rc;
	}
	/* Bounded: the call's deadline ends it through the timers. */
	while (!sc.done) {
		rc = tern_poll_wait(ep, 1000000);
		if (rc < 0)
			return rc; /* cannot happen outside callbacks (checked above) */
	}
	if (resp_len != NULL)
		*resp_len = sc.len;
	if (sc.status != 0)
		return sc.status;
	return sc.len > resp_cap ? -EMSGSIZE : 0;
}

int tern_call_sync(struct tern_session *s, uint16_t req_type, const void *req, size_t req_len,
		   void *resp, size_t resp_cap, size_t *resp_len, uint64_t timeout_ns)
{
	return call_sync(s, req_type, req, req_len, resp, resp_cap, resp_len, timeout_ns, NULL);
}

int tern_call_sync_status(struct tern_session *s, uint16_t req_type, const void *req,
			  size_t req_len, void *resp, size_t resp_cap, size_t *resp_len,
			  uint64_t timeout_ns, struct tern_status *st)
{
	if (st != NULL) {
		st->code = TERN_STATUS_OK;
		st->message[0] = '\0';
	}
	int rc = call_sync(s, req_type, req, req_len, resp, resp_cap, resp_len, timeout_ns, st);
	if (rc != 0 && st != NULL && st->code == TERN_STATUS_OK)
		st->code = tern_status_from_errno(rc); /* the call never ran, or its answer did not fit */
	return rc;
}
