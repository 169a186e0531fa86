/*
 * connect.c — the CONNECT / CONNECT_OK handshake that opens a session, on
 * both sides: the client's attempt and its retransmission, the server's
 * acceptance (plain here, authenticated through noise.c), the CONNECT
 * dedup table, and the one place a peer's parameters are checked
 * (hs_valid) and taken over (adopt).
 *
 * The server side is idempotent: a retransmitted CONNECT (same client
 * address, epoch, session id and nonce) gets the same CONNECT_OK again, found
 * through a small open-addressing table. A CONNECT with a new nonce from the
 * same client session means the client started over: the old session goes.
 * A client retransmits its CONNECT with backoff until CONNECT_OK or
 * connect_timeout_ns, from the session's timer; like a call's RTO (call.c),
 * a retransmission that comes due is first judged by the order of the
 * answers (loss.h's RACK rule): while CONNECT_OKs keep coming for CONNECTs
 * sent no later than this one, the server is working through its queue and
 * this one waits its turn there (a process descheduled past the backoff
 * finds the server behind, not the CONNECT lost); then against the receive
 * queue (rx.h's tern_rx_seen_since()): while the CONNECT_OK may be waiting
 * there — under load, bursts that come back full, or a long callback. Either
 * way the timer looks again later instead of resending, never past the
 * deadline.
 *
 * The connect window: an endpoint has at most TERN_CONNECT_WINDOW CONNECTs
 * outstanding; further sessions wait, in order, until one is answered or
 * gives up. A storm of tern_connect()s (20,000 at once) then reaches the
 * server at the rate it answers, instead of all at once and again at every
 * retry. Retries back off from an RTO estimated from this endpoint's
 * CONNECT -> CONNECT_OK round trips (first transmissions only), and a new
 * session's RTT estimate starts from its own handshake's round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "call.h"
#include "cc.h"
#include "crypto.h"
#include "loss.h"
#include "rx.h"
#include "session.h"
#include "tx.h"

uint64_t tern_rand64(void)
{
	uint64_t v = 0;
	while (v == 0)
		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			v = tern_now_ns() * 0x9e3779b97f4a7c15ull; /* never fails for 8 bytes; belt and braces */
	return v;
}

uint32_t tern_rand32(void)
{
	uint32_t v = (uint32_t)tern_rand64();
	return v != 0 ? v : 1;
}

/* --- CONNECT dedup table: (client addr, epoch, session id) -> id + 1 --- */

static uint32_t hs_hash(const struct tern_addr *a, uint64_t epoch, uint16_t id)
{
	uint64_t h = epoch ^ ((uint64_t)a->port << 16) ^ id;
	for (unsigned i = 0; i < 16; i += 4) {
		uint32_t w;
		memcpy(&w, a->ip + i, 4);
		h = (h ^ w) * 0x100000001b3ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h ^ (h >> 32));
}

static int hs_match(const struct tern_session *s, const struct tern_addr *a, uint64_t key,
		    uint16_t id, int secure)
{
	return s->hs_key == key && s->peer_id == id && (s->hs_reply != NULL) == secure &&
	       tern_addr_eq(&s->hs_addr, a);
}

/* The CONNECT dedup key is the client's epoch (plain handshakes) or the
 * attempt's cid (authenticated ones, where the epoch is encrypted). The two
 * kinds never match each other: a plain CONNECT that copies an
 * authenticated one's clear fields (its cid as the epoch) must not be taken
 * for a client reopening that session, which would tear it down. */
struct tern_session *tern_hs_find(struct tern_ep *ep, const struct tern_addr *a, uint64_t key,
				  uint16_t id, int secure)
{
	for (uint32_t i = hs_hash(a, key, id) & ep->hs_mask;; i = (i + 1) & ep->hs_mask) {
		uint32_t v = ep->hs_table[i];
		if (v == 0)
			return NULL;
		struct tern_session *s = ep->sessions[v - 1];
		if (hs_match(s, a, key, id, secure))
			return s;
	}
}

static void hs_insert(struct tern_ep *ep, struct tern_session *s)
{
	uint32_t i = hs_hash(&s->hs_addr, s->hs_key, s->peer_id) & ep->hs_mask;
	while (ep->hs_table[i] != 0)
		i = (i + 1) & ep->hs_mask;
	ep->hs_table[i] = (uint32_t)s->id + 1;
	s->in_hs = 1;
}

/* Linear-probing delete with backward shift: no tombstones. */
void tern_hs_remove(struct tern_ep *ep, struct tern_session *s)
{
	if (!s->in_hs)
		return;
	s->in_hs = 0;
	uint32_t i = hs_hash(&s->hs_addr, s->hs_key, s->peer_id) & ep->hs_mask;
	while (ep->hs_table[i] != (uint32_t)s->id + 1) {
		if (ep->hs_table[i] == 0)
			return;
		i = (i + 1) & ep->hs_mask;
	}
	ep->hs_table[i] = 0;
	for (uint32_t j = (i + 1) & ep->hs_mask; ep->hs_table[j] != 0; j = (j + 1) & ep->hs_mask) {
		struct tern_session *o = ep->sessions[ep->hs_table[j] - 1];
		uint32_t home = hs_hash(&o->hs_addr, o->hs_key, o->peer_id) & ep->hs_mask;
		/* Move j into the hole i if its home slot is not in (i, j]. */
		if (((j - home) & ep->hs_mask) >= ((j - i) & ep->hs_mask)) {
			ep->hs_table[i] = ep->hs_table[j];
			ep->hs_table[j] = 0;
			i = j;
		}
	}
}

/* --- the peer's parameters: one check, one adoption -------------------------- */

/*
 * Are the parameters a peer proposes (CONNECT) or grants (CONNECT_OK)
 * usable for a session at protection level prot? Every packet must carry
 * at least 64 payload bytes.
 */
static int hs_valid(const struct tern_wire_hs *hs, unsigned prot)
{
	return hs->slots != 0 && (hs->slots & (hs->slots - 1)) == 0 && hs->credits != 0 &&
	       hs->mtu >= TERN_HDR_LEN + (prot != TERN_PROT_NONE ? TERN_PROT_OVERHEAD : 0) + 64 &&
	       hs->max_msg_size != 0;
}

/* Take over the peer's side of the session: ids, token, epoch, address, and
 * the smaller of both sides' slots, credits and MTU. */
static void adopt(struct tern_session *s, const struct tern_wire_hs *hs, uint16_t peer_id,
		  const struct tern_addr *from)
{
	struct tern_ep *ep = s->ep;
	uint32_t nslots = hs->slots < s->nslots ? hs->slots : s->nslots;
	uint32_t credits = hs->credits < s->credits_max ? hs->credits : s->credits_max;
	uint32_t mtu = hs->mtu < ep->mtu ? hs->mtu : ep->mtu;
	s->peer_id = peer_id;
	s->peer_token = hs->token;
	tern_session_hdr_words(s);
	s->peer_epoch = hs->epoch;
	tern_tx_addr_pin(ep, &s->peer);
	s->peer = *from;
	s->nslots = nslots;
	s->req_slot_mask = nslots - 1;
	s->credits_max = s->credits = credits;
	s->dpp = tern_dpp(mtu, s->prot);
	s->peer_max_msg = hs->max_msg_size;
	s->state = SESS_CONNECTED;
	s->reconnecting = 0;
	s->last_rx_ns = ep->now;
}

/* This side's parameters, as proposed (client) or granted (server, s set up). */
static void own_hs(const struct tern_session *s, struct tern_wire_hs *hs)
{
	const struct tern_ep *ep = s->ep;
	memset(hs, 0, sizeof(*hs));
	hs->epoch = ep->epoch;
	hs->token = s->token;
	hs->max_msg_size = ep->cfg.max_msg_size;
	hs->slots = (uint16_t)s->nslots;
	hs->credits = (uint16_t)s->credits_max;
	hs->mtu = (uint16_t)ep->mtu;
}

/* --- client -------------------------------------------------------------------- */

void tern_connect_resend(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	ep->st.connects_sent++;
	if (s->hs != NULL) { /* authenticated: the same CONNECT, byte for byte */
		tern_tx_raw(ep, &s->peer, s->hs->pkt, sizeof(s->hs->pkt));
		return;
	}
	struct tern_hdr h;
	struct tern_wire_hs hs;
	uint8_t body[TERN_HS_LEN];
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT;
	h.dst_session = TERN_SESSION_NONE;
	h.src_session = s->id;
	own_hs(s, &hs);
	hs.nonce = s->hs_nonce;
	tern_wire_hs_put(body, &hs);
	tern_tx_ctrl(ep, &s->peer, &h, body, TERN_HS_LEN);
}

/* The first wait before resending a CONNECT. */
static uint64_t connect_rto(const struct tern_ep *ep)
{
	uint64_t floor = ep->rto_min_ns > TERN_MS ? ep->rto_min_ns : TERN_MS;
	uint64_t rto = ep->cw_srtt_ns + 4 * ep->cw_rttvar_ns;
	return rto > floor ? rto : floor;
}

/* A CONNECT leaves now: its send time, distinct and in send order (a
 * nanosecond after the last one sent in the same poll, never 0), so that
 * the order of the answers tells which CONNECTs were sent before which
 * (loss.h's RACK rule): the server answers in the order they left. */
static uint64_t connect_stamp(struct tern_ep *ep)
{
	uint64_t t = ep->now > ep->cw_sent_ns ? ep->now : ep->cw_sent_ns + 1;
	ep->cw_sent_ns = t;
	return t;
}

/* Send s's CONNECT now: it takes a place in the window. */
static void connect_send(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	s->cw_state = 2;
	ep->cw_inflight++;
	s->hs_sent_ns = connect_stamp(ep);
	s->hs_backoff_ns = connect_rto(ep);
	s->hs_next_ns = s->hs_sent_ns + s->hs_backoff_ns;
	tern_connect_resend(s);
}

static void connect_arm(struct tern_session *s)
{
	uint64_t at = s->cw_state == 2 && s->hs_next_ns < s->hs_deadline_ns ? s->hs_next_ns
									       : s->hs_deadline_ns;
	tern_wheel_arm(&s->ep->wheel, &s->timer, at);
}

void tern_connect_leave(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	if (s->cw_state == 1) { /* waiting: out of the queue */
		if (s->cw_prev != NULL)
			s->cw_prev->cw_next = s->cw_next;
		else
			ep->cw_head = s->cw_next;
		if (s->cw_next != NULL)
			s->cw_next->cw_prev = s->cw_prev;
		else
			ep->cw_tail = s->cw_prev;
	} else if (s->cw_state == 2) { /* a place in the window frees up */
		ep->cw_inflight--;
		while (ep->cw_head != NULL && ep->cw_inflight < TERN_CONNECT_WINDOW) {
			struct tern_session *w = ep->cw_head;
			ep->cw_head = w->cw_next;
			if (ep->cw_head != NULL)
				ep->cw_head->cw_prev = NULL;
			else
				ep->cw_tail = NULL;
			w->cw_next = w->cw_prev = NULL;
			connect_send(w);
			connect_arm(w);
		}
	}
	s->cw_next = s->cw_prev = NULL;
	s->cw_state = 0;
}

void tern_connect_timer(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	uint64_t now = ep->now;
	if (now >= s->hs_deadline_ns) {
		tern_session_fail(s, -ETIMEDOUT, TERN_SESSION_FAILED);
		return;
	}
	if (s->cw_state == 2 && now >= s->hs_next_ns) {
		/* Its CONNECT (the last one sent) left a backoff before it was due. */
		uint64_t sent = s->hs_next_ns - s->hs_backoff_ns;
		uint64_t again = 0;
		if (tern_rack_turn_coming(&ep->cw_rack, sent, s->hs_backoff_ns, now))
			/* CONNECTs sent no later than it are still being answered:
			 * it waits its turn in the server's queue (loss.h). */
			again = tern_rack_look_again(sent, s->hs_backoff_ns, now);
		else if (!tern_rx_seen_since(ep, s->hs_next_ns, s->hs_backoff_ns))
			/* Its CONNECT_OK may be waiting in the receive queue
			 * (a full burst, a long callback): no retransmission
			 * until the queue has been seen (rx.h). */
			again = tern_rx_look_again(ep, s->hs_next_ns, s->hs_backoff_ns, now);
		if (again != 0) { /* not lost yet: look again, not past the deadline */
			tern_wheel_arm(&ep->wheel, &s->timer,
				       again < s->hs_deadline_ns ? again : s->hs_deadline_ns);
			return;
		}
		tern_connect_resend(s);
		s->hs_sent_ns = 0; /* resent: its answer is no RTT sample (Karn) */
		s->hs_backoff_ns *= 2;
		if (s->hs_backoff_ns > 200 * TERN_MS)
			s->hs_backoff_ns = 200 * TERN_MS;
		s->hs_next_ns = connect_stamp(ep) + s->hs_backoff_ns;
	}
	connect_arm(s);
}

int tern_connect_start(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	tern_sec_session_wipe(s); /* a reconnect starts from no keys */
	tern_connect_leave(s);
	s->state = SESS_CONNECTING;
	s->token = tern_rand32();
	s->hs_nonce = tern_rand64();
	s->hs_deadline_ns = tern_deadline(ep->now, ep->cfg.connect_timeout_ns);
	s->hs_sent_ns = 0;
	s->nslots = ep->cfg.slots;
	s->req_slot_mask = s->nslots - 1;
	s->credits_max = s->credits = ep->cfg.credits;
	s->dpp = tern_dpp(ep->mtu, TERN_PROT_NONE);
	tern_rto_init(s);
	tern_cc_init(s);
	int secure = tern_sec_client_secure(ep);
	if (secure < 0)
		return secure; /* a level it cannot authenticate the server for */
	if (secure) {
		struct tern_wire_hs hs;
		own_hs(s, &hs);
		hs.nonce = s->hs_nonce;
		int rc = tern_noise_connect(s, &hs);
		tern_wipe(&hs, sizeof(hs));
		if (rc != 0)
			return rc;
	}
	if (ep->cw_inflight < TERN_CONNECT_WINDOW) {
		connect_send(s);
	} else { /* wait for a place in the window */
		s->cw_state = 1;
		s->cw_prev = ep->cw_tail;
		s->cw_next = NULL;
		if (ep->cw_tail != NULL)
			ep->cw_tail->cw_next = s;
		else
			ep->cw_head = s;
		ep->cw_tail = s;
	}
	connect_arm(s);
	return 0;
}

/* A first CONNECT answered: the endpoint's estimate, and the session's first. */
static void connect_sample(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	if (s->hs_sent_ns == 0 || ep->now < s->hs_sent_ns)
		return;
	uint64_t rtt = ep->now - s->hs_sent_ns;
	tern_rtt_ewma(&ep->cw_srtt_ns, &ep->cw_rttvar_ns, rtt);
	tern_rtt_sample(s, rtt);
	tern_cc_handshake_rtt(s, rtt);
}

int tern_connect(struct tern_ep *ep, const char *addr, struct tern_session **out)
{
	struct tern_addr a;
	if (ep == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	char why[384];
	int rc = tern_addr_parse_why(addr, &a, why, sizeof(why));
	if (rc == 0 && a.port == 0) {
		snprintf(why, sizeof(why), "\"%s\": port 0; give the server's port", addr);
		rc = -EINVAL;
	}
	if (rc != 0) {
		tern_log(ep, TERN_LOG_ERR, "tern_connect: %s", why);
		return rc;
	}
	if (ep->in_poll == 0)
		ep->now = tern_now_ns();
	struct tern_session *s = tern_session_alloc(ep, 1);
	if (s == NULL)
		return ep->nfree == 0 ? -ENOSPC : -ENOMEM;
	s->peer = a;
	rc = tern_connect_start(s);
	if (rc != 0) {
		tern_session_release(s);
		return rc;
	}
	/* Outside a poll, the CONNECT leaves now, not at the next poll: its
	 * backoff runs from now, and an application that opens thousands of
	 * sessions before it polls would otherwise find the first window's
	 * backoffs run out unanswered and resend them all. */
	if (ep->in_poll == 0 && ep->ntx != 0)
		tern_tx_flush(ep);
	*out = s;
	return 0;
}

void tern_on_connect_ok(struct tern_ep *ep, struct tern_session *s, const struct tern_rx *rx,
			const struct tern_hdr *h)
{
	struct tern_wire_hs hs;
	if (s->state != SESS_CONNECTING) {
		/* A duplicate answer to a CONNECT we already have: ignore. */
		tern_rx_drop(ep, TERN_DROP_DUP);
		return;
	}
	if (s->hs != NULL || (h->flags & TERN_WF_SECURE)) {
		/* Authenticated handshake: only an answer that decrypts (or a
		 * refusal naming our attempt) counts; a forgery is dropped. */
		int rc = s->hs != NULL ? tern_noise_connect_ok(s, rx, h, &hs) : -EAGAIN;
		if (rc == -EAGAIN) {
			tern_rx_drop(ep, TERN_DROP_HANDSHAKE);
			return;
		}
		if (rc != 0) {
			tern_session_fail(s, rc, TERN_SESSION_FAILED);
			return;
		}
	} else {
		tern_wire_hs_get((const uint8_t *)rx->data + TERN_HDR_LEN, &hs);
	}
	if (hs.nonce != s->hs_nonce || hs.peer_epoch != ep->epoch) {
		tern_rx_drop(ep, TERN_DROP_STALE);
		return;
	}
	/* The server has answered CONNECTs up to this one's (its first, if it
	 * was sent once; resent, the answer may be to either). */
	tern_rack_answered(&ep->cw_rack, s->hs_sent_ns, ep->now);
	if (h->status != 0) {
		tern_session_fail(s, -(int)h->status, TERN_SESSION_FAILED);
		return;
	}
	/* The server grants at most what we asked. */
	if (!hs_valid(&hs, s->prot) || hs.slots > s->nslots || hs.credits > s->credits_max) {
		tern_session_fail(s, -EPROTO, TERN_SESSION_FAILED);
		return;
	}
	connect_sample(s);
	tern_connect_leave(s);
	adopt(s, &hs, h->src_session, &rx->src);
	tern_session_start_timers(s);
	ep->st.sessions_connected++;
	if (s->hs != NULL) { /* the handshake's secrets go now */
		tern_wipe(s->hs, sizeof(*s->hs));
		free(s->hs);
		s->hs = NULL;
	}
	if (tern_session_report(s, TERN_SESSION_CONNECTED, 0))
		return; /* closed by the hook */
	if (s->state == SESS_CONNECTED)
		tern_calls_start(s);
}

/* --- server ------------------------------------------------------------------------ */

static void send_connect_ok(struct tern_ep *ep, const struct tern_addr *to, const struct tern_hdr *rq,
			    const struct tern_wire_hs *chs, struct tern_session *s, uint8_t status)
{
	struct tern_hdr h;
	struct tern_wire_hs hs;
	uint8_t body[TERN_HS_LEN];
	memset(&h, 0, sizeof(h));
	h.type = TERN_PKT_CONNECT_OK;
	h.status = status;
	h.dst_session = rq->src_session;
	h.src_session = s != NULL ? s->id : TERN_SESSION_NONE;
	h.token = chs->token;
	if (s != NULL)
		own_hs(s, &hs);
	else
		memset(&hs, 0, sizeof(hs));
	hs.epoch = ep->epoch;
	hs.peer_epoch = chs->epoch;
	hs.nonce = chs->nonce;
	tern_wire_hs_put(body, &hs);
	tern_tx_ctrl(ep, to, &h, body, TERN_HS_LEN);
}

/* A new server session for the client that proposed chs from rx. */
static struct tern_session *accept_new(struct tern_ep *ep, const struct tern_rx *rx,
				       const struct tern_hdr *h, const struct tern_wire_hs *chs,
				       uint64_t key, unsigned prot)
{
	struct tern_session *s = tern_session_alloc(ep, 0);
	if (s == NULL)
		return NULL;
	s->prot = (uint8_t)prot; /* for the packet size; noise.c installs the keys */
	adopt(s, chs, h->src_session, &rx->src);
	s->hs_addr = rx->src;
	s->hs_key = key;
	s->hs_nonce = chs->nonce;
	return s;
}

/* An authenticated CONNECT (TERN_WF_SECURE): noise.c does the crypto. */
static void accept_secure(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h)
{
	struct tern_noise_result res;
	tern_noise_accept(ep, rx, h, &res);
	if (!res.ok)
		goto out;
	const struct tern_wire_hs *chs = &res.hs;
	if (chs->epoch == 0 || chs->token == 0 || !hs_valid(chs, res.protection)) {
		tern_noise_refuse(ep, rx, h, EPROTO);
		goto out;
	}
	struct tern_session *s = accept_new(ep, rx, h, chs, res.cid, res.protection);
	if (s == NULL) {
		tern_noise_refuse(ep, rx, h, ECONNREFUSED);
		goto out;
	}
	struct tern_wire_hs hs;
	own_hs(s, &hs);
	hs.peer_epoch = chs->epoch;
	hs.nonce = chs->nonce;
	if (tern_noise_answer(s, rx, h, &res, &hs) != 0) {
		tern_session_release(s);
		goto out;
	}
	hs_insert(ep, s);
	tern_session_start_timers(s);
	ep->st.sessions_accepted++;
	tern_session_report(s, TERN_SESSION_ACCEPTED, 0);
out:
	tern_wipe(&res, sizeof(res));
}

void tern_on_connect(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h)
{
	struct tern_wire_hs hs;
	if (h->dst_session != TERN_SESSION_NONE || h->src_session == TERN_SESSION_NONE) {
		tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
		return;
	}
	if (h->flags & TERN_WF_SECURE) {
		accept_secure(ep, rx, h);
		return;
	}
	tern_wire_hs_get((const uint8_t *)rx->data + TERN_HDR_LEN, &hs);
	if (hs.epoch == 0 || hs.token == 0) {
		tern_rx_drop(ep, TERN_DROP_UNEXPECTED);
		return;
	}
	if (!tern_sec_plain_allowed(ep)) {
		/* This server requires authentication: no session for a plain CONNECT. */
		ep->st.hs_refused++;
		send_connect_ok(ep, &rx->src, h, &hs, NULL, EACCES);
		return;
	}
	if (!hs_valid(&hs, TERN_PROT_NONE)) {
		send_connect_ok(ep, &rx->src, h, &hs, NULL, EPROTO);
		return;
	}
	struct tern_session *s = tern_hs_find(ep, &rx->src, hs.epoch, h->src_session, 0);
	if (s != NULL) {
		if (s->hs_nonce == hs.nonce && s->peer_token == hs.token) {
			/* Retransmitted CONNECT: same answer, no new state. */
			send_connect_ok(ep, &rx->src, h, &hs, s, 0);
			return;
		}
		/* The client reopened that session: the old one is gone. */
		tern_session_fail(s, -ECONNRESET, TERN_SESSION_RESET);
	}
	s = accept_new(ep, rx, h, &hs, hs.epoch, TERN_PROT_NONE);
	if (s == NULL) {
		send_connect_ok(ep, &rx->src, h, &hs, NULL, ECONNREFUSED);
		return;
	}
	hs_insert(ep, s);
	tern_session_start_timers(s);
	ep->st.sessions_accepted++;
	send_connect_ok(ep, &rx->src, h, &hs, s, 0);
	tern_session_report(s, TERN_SESSION_ACCEPTED, 0);
}
