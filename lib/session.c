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
#include "cc.h"
#include "crypto.h"
#include "loss.h"
#include "serve.h"
#include "session.h"
#include "timers.h"
#include "tx.h"

/* --- allocation ----------------------------------------------------------- */

static void session_arm(struct tern_session *s);

void (*tern_session_free_hook)(const struct tern_session *s);

/*
 * One allocation per session: the session, its call slots and its serve
 * slots (3.5 KiB with the default 8 slots). Memory follows the sessions in
 * use; an unused id costs its pointer and its free-list entry.
 */
struct tern_session *tern_session_alloc(struct tern_ep *ep, int client)
{
	if (ep->nfree == 0)
		return NULL;
	uint32_t n = ep->cfg.slots;
	size_t size = sizeof(struct tern_session) + n * sizeof(struct call_slot) +
		      n * sizeof(struct serve_slot);
	/* On a cache line: the data path's fields fill its first lines.
	 * calloc rather than an aligned allocation and a memset: calloc need
	 * not write memory fresh from the system (known zero), so the
	 * allocation itself touches no more than it must. */
	void *mem = calloc(1, size + 63);
	if (mem == NULL)
		return NULL;
	struct tern_session *s = (struct tern_session *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
	s->mem = mem;
	struct call_slot *cs = (struct call_slot *)(void *)tern_session_cs_at(s, n, 0);
	struct serve_slot *ss = (struct serve_slot *)(void *)tern_session_ss_at(s, n, 0);
	uint16_t id = ep->free_ids[--ep->nfree];
	ep->sessions[id] = s;
	s->ep = ep;
	s->id = id;
	tern_session_hdr_words(s);
	s->client = (uint8_t)client;
	s->cs = cs;
	s->ss = ss;
	s->nslots = n;
	s->req_slot_mask = n - 1;
	s->credits_max = s->credits = ep->cfg.credits;
	s->dpp = tern_dpp(ep->mtu, TERN_PROT_NONE);
	s->token = tern_rand32();
	s->last_rx_ns = ep->now;
	tern_timer_init(&s->timer, TERN_TIMER_SESSION);
	tern_timer_init(&s->calls_timer, TERN_TIMER_CALLS);
	for (uint32_t i = 0; i < n; i++) {
		cs[i].s = s;
		cs[i].idx = i;
		cs[i].req_num = i;
		tern_timer_init(&cs[i].timer, TERN_TIMER_CALL);
		ss[i].req.ep = ep;
		ss[i].req.s = s;
		ss[i].req.slot = &ss[i];
	}
	tern_rto_init(s);
	tern_cc_init(s);
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
	tern_done_remove(s); /* one-way calls waiting to complete: s->cs goes below */
	tern_hs_remove(ep, s);
	tern_connect_leave(s);
	tern_wheel_cancel(&ep->wheel, &s->timer);
	tern_wheel_cancel(&ep->wheel, &s->calls_timer);
	tern_pacer_stop(s);
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct serve_slot *ss = &s->ss[i];
		if (ss->state == SRV_RUNNING) { /* forced (endpoint destroy) */
			ss->state = SRV_FREE;
			ep->running--;
		}
		tern_serve_slot_release(ep, ss);
		tern_calls_forget(&s->cs[i]);
	}
	tern_sec_session_wipe(s); /* keys are wiped when a session ends */
	if (s->uprev != NULL)
		s->uprev->unext = s->unext;
	else
		ep->used = s->unext;
	if (s->unext != NULL)
		s->unext->uprev = s->uprev;
	ep->sessions[s->id] = NULL;
	ep->free_ids[ep->nfree++] = s->id;
	ep->st.sessions_open--;
	if (tern_session_free_hook != NULL)
		tern_session_free_hook(s);
	tern_tx_addr_pin(ep, &s->peer); /* its packets still queued outlive it */
	free(s->mem);
}

int tern_session_report(struct tern_session *s, enum tern_session_event ev, int err)
{
	struct tern_ep *ep = s->ep;
	if (ep->cfg.on_session == NULL)
		return 0;
	s->pins++; /* the hook may close s: its memory goes once the hook returns */
	CB_ENTER(ep);
	ep->cfg.on_session(s, ev, err, ep->cfg.session_ctx);
	CB_LEAVE(ep);
	s->pins--;
	return tern_session_unhold(s);
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
		} else {
			s->reconnecting = 1; /* unreach.c: a restarting server is not refused */
		}
	} else {
		s->state = SESS_FAILED;
	}
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct call_slot *c = &s->cs[i];
		c->ack_pending = 0;
		if (c->active)
			tern_call_complete(c, err, NULL, 0);
		else
			tern_wheel_cancel(&ep->wheel, &c->timer);
	}
	s->probe_since = 0;
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
	struct tern_session *s = ep->sessions[h->dst_session];
	/* Only a RESET that echoes what we sent (their id and token) is believed. */
	if (s == NULL || s->state != SESS_CONNECTED || s->peer_id != h->src_session ||
	    s->peer_token != h->token) {
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
			session_arm(s);
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

/* --- liveness: probing, keepalive, idle sessions ------------------------------ */

/*
 * The rule (see also tern.h):
 *  - A peer is dead when the session has heard nothing from it for
 *    session_timeout_ns while this side was probing it: PINGs every
 *    probe_ns (session_timeout_ns / 64, at least the RTO floor). Probing
 *    starts when a call's RTO passes without an answer (the call is
 *    "stalled") or when the opener's keepalive finds the session idle, and
 *    stops once the peer is heard and no call is stalled. Retransmissions
 *    that go unanswered never fail a call by themselves.
 *  - Idle sessions cost (close to) nothing: only the side that opened the
 *    session keeps it alive, with one PING after keepalive_ns (jittered by
 *    up to 1/8) of silence; the peer answers. The accepting side probes
 *    nobody while idle: it closes a session it has not heard from for
 *    idle_timeout_ns (3 x keepalive_ns by default), as dead.
 *  - Busy sessions need no keepalive: their calls' RTOs find silence.
 * One timer per session (TERN_TIMER_SESSION) carries all of it, and while
 * connecting the handshake's retries and deadline too (connect.c).
 */

static uint64_t jitter(struct tern_ep *ep, uint64_t v)
{
	/* xorshift: cheap, and spreads a crowd of sessions opened at once */
	uint64_t x = ep->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ep->rng = x;
	return v - v / 8 + (v >= 4 ? x % (v / 4) : 0);
}

static int session_busy(const struct tern_session *s)
{
	return s->cs_busy != 0 || s->bl_head != NULL || s->handlers != 0;
}

/* Set the session's timer for the earliest thing it waits for. */
static void session_arm(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	uint64_t at = s->probe_since != 0 ? ep->now + ep->probe_ns : s->idle_check_ns;
	if (s->reset_probe_ns != 0 && s->reset_probe_ns < at)
		at = s->reset_probe_ns;
	tern_wheel_arm(&ep->wheel, &s->timer, at);
}

void tern_session_start_timers(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	s->probe_since = 0;
	s->idle_check_ns = ep->now + (s->client ? jitter(ep, ep->keepalive_ns) : ep->idle_timeout_ns);
	session_arm(s);
}

void tern_session_probe(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	if (s->probe_since != 0 || s->state != SESS_CONNECTED)
		return;
	s->probe_since = ep->now;
	tern_tx_session_ctrl(ep, s, TERN_PKT_PING);
	ep->st.pings_sent++;
	session_arm(s);
}

void tern_session_timer(struct tern_ep *ep, struct tern_session *s)
{
	uint64_t now = ep->now;
	if (s->state == SESS_CONNECTING) {
		tern_connect_timer(s);
		return;
	}
	if (s->state != SESS_CONNECTED)
		return;
	if (s->reset_probe_ns != 0 && now >= s->reset_probe_ns) {
		/* A RESET, and nothing authenticated since: the peer lost us. */
		tern_session_fail(s, -ECONNRESET, TERN_SESSION_RESET);
		return;
	}
	if (s->probe_since != 0) {
		uint64_t heard = s->last_rx_ns > s->probe_since ? s->last_rx_ns : s->probe_since;
		if (now - heard >= ep->cfg.session_timeout_ns) {
			tern_session_fail(s, -ETIMEDOUT, TERN_SESSION_DEAD);
			return;
		}
		if (s->last_rx_ns >= s->probe_since && s->stalled == 0) {
			/* Heard, and no call is stuck: the peer is alive. */
			s->probe_since = 0;
			s->idle_check_ns = now + (s->client ? jitter(ep, ep->keepalive_ns)
							    : ep->idle_timeout_ns);
		} else {
			tern_tx_session_ctrl(ep, s, TERN_PKT_PING);
			ep->st.pings_sent++;
		}
		session_arm(s);
		return;
	}
	if (now >= s->idle_check_ns) {
		uint64_t quiet = now - s->last_rx_ns;
		if (s->client) {
			/* Keepalive: the opener pings a session silent for keepalive_ns
			 * and probes it until the peer answers. */
			if (quiet >= ep->keepalive_ns) {
				tern_session_probe(s);
				return;
			}
			s->idle_check_ns = s->last_rx_ns + jitter(ep, ep->keepalive_ns);
		} else {
			if (quiet >= ep->idle_timeout_ns && !session_busy(s)) {
				tern_session_fail(s, -ETIMEDOUT, TERN_SESSION_DEAD);
				return;
			}
			s->idle_check_ns = (quiet >= ep->idle_timeout_ns ? now : s->last_rx_ns) +
					   ep->idle_timeout_ns;
		}
	}
	session_arm(s);
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

uint64_t tern_session_rx_bytes(const struct tern_session *s)
{
	return s != NULL ? s->rx_req_bytes : 0;
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
