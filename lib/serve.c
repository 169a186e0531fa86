/*
 * serve.c — the callee side: incoming requests, duplicate handling, handler
 * invocation, responses and their cache (acknowledge-reply). Credit returns
 * are credits.c's, the request window window.h's.
 *
 * Each session has S serve slots; a request's slot is req_num % S and the
 * slot remembers the current req_num C. For an incoming request packet with
 * req_num R (enum serve_state; one row per state, first match wins):
 *
 *   R <  C                 stale duplicate of an older call: drop
 *   R >  C, RUNNING        the caller gave up on C while it still runs: drop
 *                          (busy) until it is answered
 *   R >  C or FREE         a new call. It implicitly acknowledges C: C's
 *                          cached response is freed. Look up the handler;
 *                          no handler -> -ENOENT, R/non-R mismatch ->
 *                          -EPROTO, over server_queue_limit -> -EBUSY: all
 *                          answered at once as cached error responses.
 *   R == C, RECEIVING      store the packet (window of 64 above the received
 *                          prefix), CR it unless it is the last (the last
 *                          is CR'd alone while packets below it are
 *                          missing: "held", wire.h); when all are in, run
 *                          the handler; a duplicate is CR'd again
 *   R == C, RUNNING        CR again; for the last packet a CR flagged
 *                          WORKING, which resets the caller's retry count
 *   R == C, ANSWERED       CR again, or the response's packet 0 again for
 *                          the last packet (an error response: always it)
 *   R == C, UNCACHED (RR)  the last packet runs the handler again
 *   R == C, DONE           drop (a one-way call's non-last packets: CR again)
 *
 * RFR(j) with R == C and ANSWERED resends response packet j; ACK with R == C
 * frees the cached response (-> DONE). The callee never retransmits on its
 * own: every packet it sends answers one from the caller.
 */
#include <string.h>

#include "credits.h"
#include "prefetch.h"
#include "serve.h"
#include "session.h"
#include "status.h"
#include "tx.h"
#include "window.h"

/* Packet j of ss's answer m, a response message (no error). */
__attribute__((always_inline)) static inline void send_resp_data(struct tern_ep *ep,
								  struct tern_session *s,
								  struct serve_slot *ss,
								  struct tern_msg *m, uint32_t j)
{
	struct tern_hdr h;
	tern_hdr_init(&h, s, TERN_PKT_RESP);
	h.req_type = ss->req_type;
	h.req_num = ss->req_num;
	uint32_t off = j * s->dpp;
	uint32_t len = m->len - off < s->dpp ? m->len - off : s->dpp;
	h.pkt_num = j;
	h.msg_size = m->len;
	tern_tx_data(ep, s, &h, m, m->data + off, len);
}

/* Response packet j of ss's answer. Inline everywhere (also where it is
 * rare): a call from there costs more than the packet's header. finish()
 * sends every response's packet 0, with send_resp_data() where it is no
 * error. */
__attribute__((always_inline)) static inline void send_resp_pkt(struct tern_ep *ep,
								 struct tern_session *s,
								 struct serve_slot *ss, uint32_t j)
{
	if (ss->resp_status != 0 || ss->resp == NULL) {
		/* An error: an errno, or a status code and its message (wire.h). */
		struct tern_hdr h;
		tern_hdr_init(&h, s, TERN_PKT_RESP);
		h.req_type = ss->req_type;
		h.req_num = ss->req_num;
		h.status = ss->resp_status;
		h.flags = ss->resp_flags;
		if (ss->resp != NULL) {
			h.msg_size = ss->resp->len;
			tern_tx_data(ep, s, &h, ss->resp, ss->resp->data, ss->resp->len);
			return;
		}
		tern_tx_data(ep, s, &h, NULL, NULL, 0);
		return;
	}
	send_resp_data(ep, s, ss, ss->resp, j);
}

static inline void drop_resp(struct tern_ep *ep, struct serve_slot *ss)
{
	if (ss->resp != NULL) {
		tern_msg_drop(ss->resp);
		ss->resp = NULL;
		ep->st.cached_responses--;
	}
}

static void drop_req_buf(struct serve_slot *ss)
{
	if (ss->req_buf != NULL) {
		tern_msg_drop(ss->req_buf);
		ss->req_buf = NULL;
	}
}

void tern_serve_slot_release(struct tern_ep *ep, struct serve_slot *ss)
{
	tern_cr_forget(ep, ss);
	if (ss->state == SRV_RUNNING)
		return; /* the handler still owns the request; tern_respond() finishes it */
	drop_resp(ep, ss);
	drop_req_buf(ss);
	ss->state = SRV_FREE;
}

/* Answer the current call of ss with an error, cached like any response:
 * err, a positive errno; or (flags TERN_WF_STATUS) a status code and its
 * message in msg (or NULL). */
static void answer_error(struct tern_ep *ep, struct tern_session *s, struct serve_slot *ss, int err,
			 uint8_t flags, struct tern_msg *msg)
{
	ss->state = SRV_ANSWERED;
	ss->resp = msg;
	ss->resp_status = (uint8_t)err;
	ss->resp_flags = flags;
	ss->resp_npkts = 1;
	if (msg != NULL)
		ep->st.cached_responses++;
	ep->st.responses_error++;
	send_resp_pkt(ep, s, ss, 0);
}

/* The handler no longer holds ss's request. */
static inline void handler_done(struct tern_ep *ep, struct tern_session *s, struct serve_slot *ss)
{
	s->handlers--;
	ep->running--;
	drop_req_buf(ss);
	ss->req.data = NULL;
	ss->req.len = 0;
}

/* Finish a request: cache resp (or the error status: an errno, or with
 * flags TERN_WF_STATUS a status code, resp its message or NULL) and send
 * packet 0. Inline into the three tern_respond*() calls: every answer
 * passes here. */
__attribute__((always_inline)) static inline int finish(struct tern_ep *ep, struct tern_session *s, struct serve_slot *ss,
		  struct tern_msg *resp, int status, uint8_t flags)
{
	int rc = 0;
	handler_done(ep, s, ss);
	if (s->state != SESS_CONNECTED) {
		/* The session went away while the handler worked. */
		tern_msg_drop(resp);
		ss->state = SRV_FREE;
		tern_session_unhold(s);
		return -ECONNRESET;
	}
	if (resp != NULL && resp->len > s->peer_max_msg) {
		tern_msg_drop(resp);
		resp = NULL;
		status = EMSGSIZE;
		flags = 0;
		rc = -EMSGSIZE;
	}
	if (status != 0) {
		answer_error(ep, s, ss, status, flags, resp);
		return rc;
	}
	ss->state = SRV_ANSWERED;
	ss->resp = resp;
	ss->resp_status = 0;
	ss->resp_npkts = tern_wire_npkts(resp->len, s->dpp);
	ep->st.cached_responses++;
	send_resp_data(ep, s, ss, resp, 0);
	if (ss->sem == TERN_RR && ss->resp_npkts == 1 && ss->req_npkts == 1) {
		/* RR: nothing is kept; a duplicate request runs the handler again. */
		drop_resp(ep, ss);
		ss->state = SRV_UNCACHED;
	}
	return rc;
}

/* Run the handler hd (NULL: look it up) of ss's request (data, len).
 * Inline into its four callers: every request runs through it. */
__attribute__((always_inline)) static inline void run_handler(struct tern_ep *ep,
							       struct tern_session *s,
							       struct serve_slot *ss,
							       const struct handler *hd,
							       const uint8_t *data, uint32_t len,
							       int in_place)
{
	if (hd == NULL)
		hd = handler_find(ep, ss->req_type);
	if (tern_unlikely(hd == NULL)) { /* cannot happen: checked at the first packet */
		answer_error(ep, s, ss, ENOENT, 0, NULL);
		return;
	}
	ss->state = SRV_RUNNING;
	s->handlers++;
	ep->running++;
	ep->st.requests_executed++;
	if (in_place)
		ep->st.zc_rx++;
	struct tern_req *req = &ss->req;
	req->data = data;
	req->len = len;
	req->type = ss->req_type;
	/* Pin the session while the handler runs: it may answer and close its
	 * own session (or close, then answer), which would otherwise release
	 * the session — and ss with it — under our feet. */
	s->pins++;
	CB_ENTER(ep);
	hd->fn(req, hd->ctx);
	CB_LEAVE(ep);
	s->pins--;
	if (tern_session_unhold(s))
		return; /* closed in the handler, and answered: s is gone */
	if (ss->state != SRV_RUNNING)
		return; /* answered in the handler: the common case */
	if (ss->sem == TERN_R) {
		/* One-way: nothing to answer; the request is done. */
		handler_done(ep, s, ss);
		ss->state = SRV_DONE;
		tern_session_unhold(s);
		return;
	}
	if (in_place) {
		/* Deferred: the receive buffer goes back to the driver after this
		 * burst, so the request moves into a msgbuf now. */
		struct tern_msg *m = tern_msg_alloc(ep, len);
		if (m == NULL) {
			tern_log(ep, TERN_LOG_ERR, "no memory to keep a deferred request (%u bytes)", len);
			req->data = NULL;
			req->len = 0;
			return;
		}
		memcpy(m->data, data, len);
		ep->st.copied_bytes += len;
		ss->req_buf = m;
		req->data = m->data;
	}
}

/* Start a new call on ss from its first packet to arrive (any packet
 * number). Returns its handler, the state left for the caller to set
 * (SRV_RUNNING or SRV_RECEIVING), or NULL if the call was refused
 * (answered with an error, or dropped). */
static const struct handler *new_call(struct tern_ep *ep, struct tern_session *s,
				      struct serve_slot *ss, const struct tern_hdr *h)
{
	if (ss->state == SRV_RUNNING) {
		tern_rx_drop(ep, TERN_DROP_BUSY);
		return NULL;
	}
	drop_resp(ep, ss); /* implicit acknowledgement of the previous call */
	drop_req_buf(ss);
	ss->req_num = h->req_num;
	ss->req_type = h->req_type;
	ss->req_size = h->msg_size;
	ss->req_npkts = tern_wire_npkts(h->msg_size, s->dpp);
	tern_win_reset(&ss->win);
	ss->resp_status = 0;
	ss->resp_flags = 0;
	ss->oneway = (h->flags & TERN_WF_ONEWAY) != 0;
	struct handler *hd = handler_find(ep, h->req_type);
	if (ss->oneway) {
		if (hd == NULL || hd->flags != TERN_R) {
			/* A one-way call cannot be answered: drop it, and its copies. */
			ss->state = SRV_DONE;
			tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
			return NULL;
		}
	} else if (hd == NULL) {
		answer_error(ep, s, ss, ENOENT, 0, NULL);
		return NULL;
	} else if (hd->flags == TERN_R) {
		answer_error(ep, s, ss, EPROTO, 0, NULL);
		return NULL;
	} else if (ep->running >= ep->cfg.server_queue_limit) {
		ep->st.busy_rejects++;
		answer_error(ep, s, ss, EBUSY, 0, NULL);
		return NULL;
	}
	ss->sem = (uint8_t)hd->flags;
	return hd; /* the caller sets the state: it runs now, or it is receiving */
}

/* A request packet for the current call, which is still arriving (its
 * msg_size and req_type are the call's: new_call took them from this
 * packet, tern_on_req checked them against the call's). */
/* Inline into its one caller: every packet of a large request comes here
 * (a call costs more than the work of a packet that only extends a run). */
__attribute__((always_inline)) static inline void receive(struct tern_ep *ep,
							   struct tern_session *s,
							   struct serve_slot *ss,
							   const struct tern_hdr *h,
							   const uint8_t *payload, uint32_t len)
{
	uint32_t p = h->pkt_num, n = ss->req_npkts;
	int last = p == n - 1;
	enum tern_win w = tern_win_test(&ss->win, p);
	if (w == TERN_WIN_BEYOND) {
		tern_rx_drop(ep, TERN_DROP_UNEXPECTED); /* beyond any window the caller may use */
		return;
	}
	if (w != TERN_WIN_NEW) {
		tern_rx_drop(ep, TERN_DROP_DUP);
		tern_cr_send(ep, s, ss, p, 0, 0); /* our CR may have been lost */
		return;
	}
	if (n == 1) { /* one packet: the handler reads the receive buffer itself */
		s->rx_req_bytes += len;
		run_handler(ep, s, ss, NULL, payload, len, 1);
		return;
	}
	if (ss->req_buf == NULL) {
		ss->req_buf = tern_msg_alloc(ep, ss->req_size);
		if (ss->req_buf == NULL) {
			tern_rx_drop(ep, TERN_DROP_NOMEM);
			return;
		}
	}
	uint8_t *dst = ss->req_buf->data + (size_t)p * s->dpp;
	if (payload != dst) { /* else decrypted in place (tern_serve_rx_dest) */
		memcpy(dst, payload, len);
		ep->st.copied_bytes += len;
	}
	/* A large request's packets arrive in order almost always: fetch the
	 * receive-buffer lines of the one two ahead for writing (prefetch.h).
	 * The copy stalled on its stores (perf annotate), where dpdk-bulk's
	 * receiver writes nothing beyond the mbuf. */
	if (p + 2 < n && len >= TERN_PREFETCH_MIN) {
		size_t off = (size_t)(p + 2) * s->dpp;
		size_t left = ss->req_size - off; /* > 0: p + 2 < n */
		tern_prefetch_range(ss->req_buf->data + off, left < s->dpp ? (uint32_t)left : s->dpp, 1);
	}
	tern_win_mark(&ss->win, p);
	s->rx_req_bytes += len;
	if (!last)
		tern_cr_new_packet(ep, s, ss, p);
	else if (ss->win.base != n)
		tern_cr_send(ep, s, ss, p, 0, 0); /* held: the caller need not resend it (wire.h) */
	if (ss->win.base == n)
		run_handler(ep, s, ss, NULL, ss->req_buf->data, ss->req_size, 0);
}

uint8_t *tern_serve_rx_dest(struct tern_session *s, const struct tern_hdr *h, uint32_t len)
{
	const struct serve_slot *ss = &s->ss[h->req_num & s->req_slot_mask];
	if (ss->state != SRV_RECEIVING || h->req_num != ss->req_num || ss->req_buf == NULL ||
	    h->msg_size != ss->req_size || h->req_type != ss->req_type ||
	    h->pkt_num >= ss->req_npkts || tern_win_test(&ss->win, h->pkt_num) != TERN_WIN_NEW)
		return NULL;
	/* Exactly that packet's length (see tern_call_rx_dest). */
	size_t off = (size_t)h->pkt_num * s->dpp;
	if (off >= ss->req_size || len != (ss->req_size - off < s->dpp ? ss->req_size - off : s->dpp))
		return NULL;
	return ss->req_buf->data + off;
}

void tern_on_req(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h,
		 const uint8_t *payload, uint32_t len)
{
	struct serve_slot *ss = &s->ss[h->req_num & s->req_slot_mask];
	if (ss->state == SRV_FREE || h->req_num > ss->req_num) {
		const struct handler *hd = new_call(ep, s, ss, h);
		if (hd == NULL)
			return;
		if (tern_likely(ss->req_npkts == 1)) {
			/* One packet (pkt_num 0, checked): run it from the receive
			 * buffer at once. */
			s->rx_req_bytes += len;
			run_handler(ep, s, ss, hd, payload, len, 1);
			return;
		}
		/* A large request's first packet to arrive: received below
		 * like the rest. */
		ss->state = SRV_RECEIVING;
	} else if (h->req_num < ss->req_num) {
		tern_rx_drop(ep, TERN_DROP_STALE);
		return;
	} else if (h->msg_size != ss->req_size || h->req_type != ss->req_type) {
		/* The call's number with another message: not a copy of it (and
		 * its pkt_num was checked against the wrong size). */
		tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
		return;
	}
	int last = h->pkt_num == ss->req_npkts - 1;
	switch (ss->state) {
	case SRV_RECEIVING:
		receive(ep, s, ss, h, payload, len);
		return;
	case SRV_RUNNING:
		tern_rx_drop(ep, TERN_DROP_DUP);
		tern_cr_send(ep, s, ss, h->pkt_num, 0, last ? TERN_WF_WORKING : 0);
		return;
	case SRV_ANSWERED:
		tern_rx_drop(ep, TERN_DROP_DUP);
		ep->st.requests_dup++;
		if (last || ss->resp_status != 0)
			send_resp_pkt(ep, s, ss, 0);
		else
			tern_cr_send(ep, s, ss, h->pkt_num, 0, 0);
		return;
	case SRV_UNCACHED:
		if (last)
			run_handler(ep, s, ss, NULL, payload, len, 1); /* RR: execute again */
		else
			tern_rx_drop(ep, TERN_DROP_DUP);
		return;
	default: /* SRV_DONE */
		tern_rx_drop(ep, TERN_DROP_DUP);
		/* A one-way caller completes only when every non-last packet is
		 * CR'd: if those CRs were lost, its retransmissions must get them
		 * here too, or a delivered request would end in -ETIMEDOUT. (Only
		 * packets we had: not those of a one-way call we refused.) */
		if (ss->oneway && !last && h->pkt_num < ss->win.base)
			tern_cr_send(ep, s, ss, h->pkt_num, 0, 0);
		return;
	}
}

void tern_on_rfr(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h)
{
	struct serve_slot *ss = &s->ss[h->req_num & s->req_slot_mask];
	if (h->req_num != ss->req_num || ss->state == SRV_FREE) {
		tern_rx_drop(ep, h->req_num < ss->req_num ? TERN_DROP_STALE : TERN_DROP_UNEXPECTED);
		return;
	}
	if (ss->state != SRV_ANSWERED || ss->resp == NULL || h->msg_size != ss->resp->len ||
	    h->pkt_num == 0 || h->pkt_num >= ss->resp_npkts) {
		tern_rx_drop(ep, ss->state == SRV_DONE ? TERN_DROP_DUP : TERN_DROP_UNEXPECTED);
		return;
	}
	send_resp_pkt(ep, s, ss, h->pkt_num);
}

void tern_on_ack(struct tern_ep *ep, struct tern_session *s, const struct tern_hdr *h)
{
	struct serve_slot *ss = &s->ss[h->req_num & s->req_slot_mask];
	if (h->req_num != ss->req_num || (ss->state != SRV_ANSWERED && ss->state != SRV_UNCACHED)) {
		tern_rx_drop(ep, h->req_num < ss->req_num ? TERN_DROP_STALE : TERN_DROP_DUP);
		return;
	}
	ep->st.acks_rx++;
	drop_resp(ep, ss);
	ss->state = SRV_DONE;
}

/* --- the handler's side of the API ------------------------------------------- */

int tern_respond(struct tern_req *req, struct tern_msg *resp)
{
	if (req == NULL || resp == NULL)
		return -EINVAL;
	struct serve_slot *ss = req->slot;
	if (resp->ep != req->ep)
		return -EINVAL; /* a foreign msgbuf: the caller keeps it */
	if (ss->state != SRV_RUNNING || ss->sem == TERN_R) {
		tern_msg_drop(resp);
		return -EINVAL;
	}
	return finish(req->ep, req->s, ss, resp, 0, 0);
}

/* May the handler of req answer now? 0, or -EINVAL said through the log hook. */
static int answerable(const struct tern_req *req, const char *fn)
{
	const struct serve_slot *ss = req->slot;
	if (ss->sem == TERN_R) {
		tern_log(req->ep, TERN_LOG_ERR, "%s: a TERN_R handler sends no answer", fn);
		return -EINVAL;
	}
	if (ss->state != SRV_RUNNING) {
		tern_log(req->ep, TERN_LOG_ERR, "%s: the request was answered already", fn);
		return -EINVAL;
	}
	return 0;
}

int tern_respond_error(struct tern_req *req, int err)
{
	if (req == NULL)
		return -EINVAL;
	if (err >= 0 || err < -255) {
		tern_log(req->ep, TERN_LOG_ERR,
			 "tern_respond_error: err %d is not a negative errno (-1..-255)", err);
		return -EINVAL;
	}
	int rc = answerable(req, "tern_respond_error");
	if (rc != 0)
		return rc;
	return finish(req->ep, req->s, req->slot, NULL, -err, 0);
}

int tern_respond_status(struct tern_req *req, int code, const char *msg)
{
	if (req == NULL)
		return -EINVAL;
	if (code <= TERN_STATUS_OK || code > TERN_STATUS_MAX) {
		tern_log(req->ep, TERN_LOG_ERR,
			 "tern_respond_status: code %d is not an error code (1..%d)", code,
			 TERN_STATUS_MAX);
		return -EINVAL;
	}
	int rc = answerable(req, "tern_respond_status");
	if (rc != 0)
		return rc;
	/* The message fits the limit, one packet of the session, and the client's
	 * message size (status.c cuts it to that). */
	struct tern_session *s = req->s;
	size_t limit = TERN_STATUS_MSG_MAX;
	if (limit > s->dpp)
		limit = s->dpp;
	if (limit > s->peer_max_msg)
		limit = s->peer_max_msg;
	struct tern_msg *m;
	rc = tern_status_msg(req->ep, msg, limit, &m);
	if (rc != 0)
		return rc;
	return finish(req->ep, s, req->slot, m, code, TERN_WF_STATUS);
}

const void *tern_req_data(const struct tern_req *req)
{
	return req != NULL ? req->data : NULL;
}

size_t tern_req_len(const struct tern_req *req)
{
	return req != NULL ? req->len : 0;
}

uint16_t tern_req_type(const struct tern_req *req)
{
	return req != NULL ? req->type : 0;
}

struct tern_session *tern_req_session(const struct tern_req *req)
{
	return req != NULL ? req->s : NULL;
}

struct tern_ep *tern_req_ep(const struct tern_req *req)
{
	return req != NULL ? req->ep : NULL;
}
