/*
 * session.c — the life of a session once it exists: allocation and release,
 * teardown (calls failed or re-issued), close, RESET and DISCONNECT from the
 * peer, keepalive and dead-peer detection, and the accessors. Opening one
 * (the CONNECT handshake) is connect.c's.
 *
 * Session states (enum sess_state):
 *   CONNECTING  client: CONNECT sent and retransmitted with backoff until
 *               CONNECT_OK or connect_timeout_ns (-> FAILED, -ETIMEDOUT)
 *   CONNECTED   usable by both sides; PING after keepalive_ns of silence,
 *               dead after session_timeout_ns (-> teardown, -ETIMEDOUT)
 *   FAILED      client handle of a failed session: calls are refused until
 *               the owner closes it (handles never dangle behind its back)
 *   ZOMBIE      torn down while deferred handlers still hold requests; the
 *               id is reused only when the last of them answers
 *
 * Epochs: each endpoint picks a random epoch at start. A server that
 * restarted does not know the client's session (or knows another one under
 * that id): it answers RESET, which carries its new epoch, and the client
 * fails every call in flight with -ECONNRESET — or, with TERN_EP_RECONNECT,
 * opens a fresh session and re-issues the calls marked idempotent.
 */
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "crypto.h"
#include "loss.h"
#include "serve.h"
#include "session.h"
#include "timers.h"
#include "tx.h"

/* --- allocation ----------------------------------------------------------- */

struct tern_session *tern_session_alloc(struct tern_ep *ep, int client)
{
	if (ep->nfree == 0)
		return NULL;
	uint32_t n = ep->cfg.slots;
	struct call_slot *cs = calloc(n, sizeof(*cs));
	struct serve_slot *ss = calloc(n, sizeof(*ss));
	if (cs == NULL || ss == NULL) {
		free(cs);
		free(ss);
		return NULL;
	}
	uint16_t id = ep->free_ids[--ep->nfree];
	struct tern_session *s = &ep->sessions[id];
	memset(s, 0, sizeof(*s));
	s->ep = ep;
	s->id = id;
	s->client = (uint8_t)client;
	s->cs = cs;
	s->ss = ss;
	s->nslots = n;
	s->req_slot_mask = n - 1;
	s->credits_max = s->credits = ep->cfg.credits;
	s->dpp = tern_dpp(ep->mtu, TERN_PROT_NONE);
	s->token = tern_rand32();
	s->last_rx_ns = ep->now;
	for (uint32_t i = 0; i < n; i++) {
		cs[i].s = s;
		cs[i].idx = i;
		cs[i].req_num = i;
		ss[i].req.ep = ep;
		ss[i].req.s = s;
		ss[i].req.slot = &ss[i];
	}
	tern_rto_init(s);
	s->unext = ep->used;
	s->uprev = NULL;
	if (ep->used != NULL)
		ep->used->uprev = s;
	ep->used = s;
	ep->st.sessions_open++;
	return s;
}

void tern_session_release(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	if (s->state == SESS_FREE && s->cs == NULL)
		return;
	tern_done_remove(s); /* one-way calls waiting to complete: s->cs goes below */
	tern_hs_remove(ep, s);
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct serve_slot *ss = &s->ss[i];
		if (ss->state == SRV_RUNNING) { /* forced (endpoint destroy) */
			ss->state = SRV_FREE;
			ep->running--;
		}
		tern_serve_slot_release(ep, ss);
		struct call_slot *c = &s->cs[i];
		if (c->timed)
			tern_timed_del(c);
	}
	free(s->cs);
	free(s->ss);
	s->cs = NULL;
	s->ss = NULL;
	tern_sec_session_wipe(s); /* keys are wiped when a session ends */
	if (s->uprev != NULL)
		s->uprev->unext = s->unext;
	else
		ep->used = s->unext;
	if (s->unext != NULL)
		s->unext->uprev = s->uprev;
	s->state = SESS_FREE;
	ep->free_ids[ep->nfree++] = s->id;
	ep->st.sessions_open--;
}

int tern_session_unhold(struct tern_session *s)
{
	if (s->state != SESS_ZOMBIE || s->handlers != 0 || s->pins != 0)
		return 0;
	tern_session_release(s);
	return 1;
}

void tern_session_report(struct tern_session *s, enum tern_session_event ev, int err)
{
	struct tern_ep *ep = s->ep;
	if (ep->cfg.on_session == NULL)
		return;
	CB_ENTER(ep);
	ep->cfg.on_session(s, ev, err, ep->cfg.session_ctx);
	CB_LEAVE(ep);
}

/* --- teardown ------------------------------------------------------------- */

/* FAILED -> released, or ZOMBIE while deferred handlers hold requests. */
static void session_end(struct tern_session *s)
{
	if (s->handlers != 0 || s->pins != 0) {
		s->state = SESS_ZOMBIE;
		tern_hs_remove(s->ep, s);
		return;
	}
	tern_session_release(s);
}

/*
 * Fail the calls of s and release its serve state. reconnect: re-issue
 * idempotent calls on a fresh handshake instead of failing them.
 */
static void teardown(struct tern_session *s, int err, enum tern_session_event ev, int reconnect)
{
	struct tern_ep *ep = s->ep;
	s->tearing = 1;
	s->err = err;
	tern_hs_remove(ep, s);
	for (uint32_t i = 0; i < s->nslots; i++)
		tern_serve_slot_release(ep, &s->ss[i]);
	if (reconnect) {
		tern_calls_requeue_idempotent(s);
		/* New token and nonce (and handshake): state CONNECTING. */
		if (tern_connect_start(s) != 0) {
			reconnect = 0; /* cannot even start: fail like any other */
			s->state = SESS_FAILED;
		}
	} else {
		s->state = SESS_FAILED;
	}
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct call_slot *c = &s->cs[i];
		c->ack_pending = 0;
		if (c->active)
			tern_call_complete(c, err, NULL, 0);
		else if (c->timed)
			tern_timed_del(c);
	}
	s->want_tx = 0;
	if (!reconnect)
		tern_calls_fail_queued(s, err);
	s->credits = s->credits_max;
	tern_session_report(s, ev, err);
	s->tearing = 0;
}

void tern_session_fail(struct tern_session *s, int err, enum tern_session_event ev)
{
	struct tern_ep *ep = s->ep;
	if (s->state != SESS_CONNECTING && s->state != SESS_CONNECTED)
		return;
	if (s->tearing)
		return;
	int reconnect = s->client && (ep->cfg.flags & TERN_EP_RECONNECT) && ev == TERN_SESSION_RESET &&
			s->state == SESS_CONNECTED;
	if (ev == TERN_SESSION_DEAD)
		ep->st.sessions_dead++;
	teardown(s, err, ev, reconnect);
	if (s->close_req) {
		s->close_req = 0;
		tern_session_close(s);
		return;
	}
	if (!s->client && s->state == SESS_FAILED)
		session_end(s);
}

int tern_session_close(struct tern_session *s)
{
	if (s == NULL || s->state == SESS_FREE)
		return -EINVAL;
	struct tern_ep *ep = s->ep;
	if (s->tearing) {
		s->close_req = 1;
		return 0;
	}
	if (s->state == SESS_ZOMBIE)
		return 0;
	if (ep->in_poll == 0)
		ep->now = tern_now_ns();
	if (s->state == SESS_CONNECTED)
		tern_tx_session_ctrl(ep, s, TERN_PKT_DISCONNECT);
	if (s->state == SESS_CONNECTED || s->state == SESS_CONNECTING) {
		ep->st.sessions_closed++;
		teardown(s, -ECANCELED, TERN_SESSION_CLOSED, 0);
	}
	s->close_req = 0;
	session_end(s);
	return 0;
}

/* --- packets from the peer -------------------------------------------------- */

void tern_on_reset(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h)
{
	(void)rx;
	if (h->dst_session >= ep->cfg.max_sessions) {
		tern_rx_drop(ep, TERN_DROP_SESSION);
		return;
	}
	struct tern_session *s = &ep->sessions[h->dst_session];
	/* Only a RESET that echoes what we sent (their id and token) is believed. */
	if (s->state != SESS_CONNECTED || s->peer_id != h->src_session || s->peer_token != h->token) {
		tern_rx_drop(ep, TERN_DROP_TOKEN);
		return;
	}
	ep->st.resets_rx++;
	if (s->prot != TERN_PROT_NONE) {
		/* A RESET cannot be authenticated, and an on-path attacker sees the
		 * ids and token it echoes: on a protected session it is only a
		 * hint. Probe with an authenticated PING; the session ends only if
		 * nothing authenticated comes back in time (rx.c clears the probe). */
		if (s->reset_probe_ns == 0) {
			uint64_t t = 4 * s->rto_ns;
			if (t < 10 * TERN_MS)
				t = 10 * TERN_MS;
			if (t > 1000 * TERN_MS)
				t = 1000 * TERN_MS;
			s->reset_probe_ns = ep->now + t;
			tern_tx_session_ctrl(ep, s, TERN_PKT_PING);
		}
		return;
	}
	tern_session_fail(s, -ECONNRESET, TERN_SESSION_RESET);
}

void tern_on_disconnect(struct tern_ep *ep, struct tern_session *s)
{
	ep->st.sessions_closed++;
	tern_session_fail(s, -ECONNRESET, TERN_SESSION_CLOSED);
}

/* --- periodic work ------------------------------------------------------------ */

/* One session's timers; returns non-zero if callbacks ran (the list may have changed). */
static int session_tick(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	uint64_t now = ep->now;
	if (s->state == SESS_CONNECTING) {
		if (now >= s->hs_deadline_ns) {
			tern_session_fail(s, -ETIMEDOUT, TERN_SESSION_FAILED);
			return 1;
		}
		if (now >= s->hs_next_ns) {
			tern_connect_resend(s);
			s->hs_backoff_ns *= 2;
			if (s->hs_backoff_ns > 200 * TERN_MS)
				s->hs_backoff_ns = 200 * TERN_MS;
			s->hs_next_ns = now + s->hs_backoff_ns;
		}
	} else if (s->state == SESS_CONNECTED) {
		if (s->reset_probe_ns != 0 && now >= s->reset_probe_ns) {
			/* A RESET, and nothing authenticated since: the peer lost us. */
			tern_session_fail(s, -ECONNRESET, TERN_SESSION_RESET);
			return 1;
		}
		uint64_t idle = now - s->last_rx_ns;
		if (idle >= ep->cfg.session_timeout_ns) {
			tern_session_fail(s, -ETIMEDOUT, TERN_SESSION_DEAD);
			return 1;
		}
		if (idle >= ep->cfg.keepalive_ns && now - s->last_ping_ns >= ep->cfg.keepalive_ns / 4) {
			tern_tx_session_ctrl(ep, s, TERN_PKT_PING);
			s->last_ping_ns = now;
		}
	}
	if (s->bl_head != NULL && (s->state == SESS_CONNECTING || s->state == SESS_CONNECTED))
		return tern_calls_expire_queued(s);
	return 0;
}

void tern_session_scan(struct tern_ep *ep)
{
	/* Callbacks may close sessions (changing the list): restart, skipping
	 * the ones already done this round. */
	uint64_t gen = ++ep->scan_gen;
	struct tern_session *s = ep->used;
	while (s != NULL) {
		struct tern_session *next = s->unext;
		if (s->scan_gen != gen) {
			s->scan_gen = gen;
			if (session_tick(s)) {
				s = ep->used;
				continue;
			}
		}
		s = next;
	}
}

/* --- accessors ------------------------------------------------------------------ */

int tern_session_wait(struct tern_session *s, uint64_t timeout_ns)
{
	if (s == NULL || s->state == SESS_FREE)
		return -EINVAL;
	struct tern_ep *ep = s->ep;
	if (ep->in_cb != 0 || ep->in_poll != 0)
		return -EDEADLK;
	uint64_t end = tern_deadline(tern_now_ns(), timeout_ns);
	while (s->state == SESS_CONNECTING) {
		if (tern_now_ns() >= end)
			return -ETIMEDOUT;
		int rc = tern_poll_wait(ep, 1000000);
		if (rc < 0)
			return rc;
	}
	if (s->state == SESS_CONNECTED)
		return 0;
	return s->err != 0 ? s->err : -ENOTCONN;
}

int tern_session_state(const struct tern_session *s)
{
	if (s == NULL)
		return -EINVAL;
	switch (s->state) {
	case SESS_CONNECTING:
		return TERN_SS_CONNECTING;
	case SESS_CONNECTED:
		return TERN_SS_CONNECTED;
	default:
		return TERN_SS_FAILED;
	}
}

struct tern_ep *tern_session_ep(const struct tern_session *s)
{
	return s != NULL ? s->ep : NULL;
}

char *tern_session_peer(const struct tern_session *s, char *buf, size_t len)
{
	if (s == NULL)
		return buf;
	return tern_addr_str(&s->peer, buf, len);
}

int tern_session_protection(const struct tern_session *s)
{
	return s != NULL ? s->prot : -EINVAL;
}

int tern_session_peer_key(const struct tern_session *s, uint8_t pub[32])
{
	static const uint8_t zero[32];
	if (s == NULL || pub == NULL)
		return -EINVAL;
	if (memcmp(s->peer_static, zero, 32) == 0)
		return -ENOENT;
	memcpy(pub, s->peer_static, 32);
	return 0;
}
