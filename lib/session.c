/*
 * session.c — sessions: the CONNECT / CONNECT_OK handshake, RESET and
 * DISCONNECT, keepalive and dead-peer detection, teardown and close.
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
 * The server side is idempotent: a retransmitted CONNECT (same client
 * address, epoch, session id and nonce) gets the same CONNECT_OK again, found
 * through a small open-addressing table. A CONNECT with a new nonce from the
 * same client session means the client started over: the old session goes.
 *
 * Epochs: each endpoint picks a random epoch at start. A server that
 * restarted does not know the client's session (or knows another one under
 * that id): it answers RESET, which carries its new epoch, and the client
 * fails every call in flight with -ECONNRESET — or, with TERN_EP_RECONNECT,
 * opens a fresh session and re-issues the calls marked idempotent.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "crypto.h"
#include "tern_internal.h"

#define MS 1000000ull

static uint64_t rand64(void)
{
	uint64_t v = 0;
	while (v == 0)
		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			v = tern_now_ns() * 0x9e3779b97f4a7c15ull; /* never fails for 8 bytes; belt and braces */
	return v;
}

static uint32_t rand32(void)
{
	uint32_t v = (uint32_t)rand64();
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
		struct tern_session *s = &ep->sessions[v - 1];
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
static void hs_remove(struct tern_ep *ep, struct tern_session *s)
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
		struct tern_session *o = &ep->sessions[ep->hs_table[j] - 1];
		uint32_t home = hs_hash(&o->hs_addr, o->hs_key, o->peer_id) & ep->hs_mask;
		/* Move j into the hole i if its home slot is not in (i, j]. */
		if (((j - home) & ep->hs_mask) >= ((j - i) & ep->hs_mask)) {
			ep->hs_table[i] = ep->hs_table[j];
			ep->hs_table[j] = 0;
			i = j;
		}
	}
}

/* --- allocation ----------------------------------------------------------- */

static struct tern_session *session_alloc(struct tern_ep *ep, int client)
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
	s->slot_mask = n - 1;
	s->credits_max = s->credits = ep->cfg.credits;
	s->dpp = ep->dpp;
	s->token = rand32();
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

/* Return the id to the free list. The session must have no active calls. */
void tern_session_release(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	if (s->state == SESS_FREE && s->cs == NULL)
		return;
	/* Queued packets of this session (a DISCONNECT, a last response) are
	 * addressed through s->peer, which the id's next session overwrites. */
	tern_tx_detach(ep, &s->peer);
	tern_done_remove(s); /* one-way calls waiting to complete: s->cs goes below */
	hs_remove(ep, s);
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct serve_slot *ss = &s->ss[i];
		if (ss->state == SRV_RUNNING) { /* forced (endpoint destroy) */
			ss->state = SRV_FREE;
			ep->running--;
		}
		tern_serve_slot_release(ep, s, ss);
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

static void report(struct tern_session *s, enum tern_session_event ev, int err)
{
	struct tern_ep *ep = s->ep;
	if (ep->cfg.on_session == NULL)
		return;
	CB_ENTER(ep);
	ep->cfg.on_session(s, ev, err, ep->cfg.session_ctx);
	CB_LEAVE(ep);
}

/* --- client: connect ------------------------------------------------------ */

/* The parameters a client proposes. */
static void client_hs(const struct tern_session *s, struct tern_wire_hs *hs)
{
	const struct tern_ep *ep = s->ep;
	memset(hs, 0, sizeof(*hs));
	hs->epoch = ep->epoch;
	hs->token = s->token;
	hs->max_msg_size = ep->cfg.max_msg_size;
	hs->slots = (uint16_t)ep->cfg.slots;
	hs->credits = (uint16_t)ep->cfg.credits;
	hs->mtu = (uint16_t)ep->mtu;
	hs->nonce = s->hs_nonce;
}

void tern_session_send_connect(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
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
	client_hs(s, &hs);
	tern_wire_hs_put(body, &hs);
	tern_tx_ctrl(ep, &s->peer, &h, body, TERN_HS_LEN);
}

static int connect_start(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	tern_sec_session_wipe(s); /* a reconnect starts from no keys */
	s->state = SESS_CONNECTING;
	s->token = rand32();
	s->hs_nonce = rand64();
	s->hs_backoff_ns = ep->rto_min_ns > MS ? ep->rto_min_ns : MS;
	s->hs_deadline_ns = tern_deadline(ep->now, ep->cfg.connect_timeout_ns);
	s->hs_next_ns = ep->now + s->hs_backoff_ns;
	s->nslots = ep->cfg.slots;
	s->slot_mask = s->nslots - 1;
	s->credits_max = s->credits = ep->cfg.credits;
	s->dpp = ep->dpp;
	tern_rto_init(s);
	int secure = tern_sec_client_secure(ep);
	if (secure < 0)
		return secure;
	if (secure) {
		struct tern_wire_hs hs;
		client_hs(s, &hs);
		int rc = tern_noise_connect(s, &hs);
		tern_wipe(&hs, sizeof(hs));
		if (rc != 0)
			return rc;
	}
	tern_session_send_connect(s);
	return 0;
}

int tern_connect(struct tern_ep *ep, const char *addr, struct tern_session **out)
{
	struct tern_addr a;
	if (ep == NULL || addr == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	if (tern_addr_parse(addr, &a) != 0 || a.port == 0)
		return -EINVAL;
	if (ep->in_poll == 0)
		ep->now = tern_now_ns();
	struct tern_session *s = session_alloc(ep, 1);
	if (s == NULL)
		return ep->nfree == 0 ? -ENOSPC : -ENOMEM;
	s->peer = a;
	int rc = connect_start(s);
	if (rc != 0) {
		tern_session_release(s);
		return rc;
	}
	*out = s;
	return 0;
}

void tern_on_connect_ok(struct tern_ep *ep, struct tern_session *s, const struct tern_rx *rx,
			const struct tern_hdr *h)
{
	struct tern_wire_hs hs;
	if (s->state != SESS_CONNECTING) {
		/* A duplicate answer to a CONNECT we already have: ignore. */
		tern_drop(ep, TERN_DROP_DUP);
		return;
	}
	if (s->hs != NULL || (h->flags & TERN_WF_SECURE)) {
		/* Authenticated handshake: only an answer that decrypts (or a
		 * refusal naming our attempt) counts; a forgery is dropped. */
		int rc = s->hs != NULL ? tern_noise_connect_ok(s, rx, h, &hs) : -EAGAIN;
		if (rc == -EAGAIN) {
			tern_drop(ep, TERN_DROP_HANDSHAKE);
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
		tern_drop(ep, TERN_DROP_STALE);
		return;
	}
	if (h->status != 0) {
		tern_session_fail(s, -(int)h->status, TERN_SESSION_FAILED);
		return;
	}
	if (hs.slots == 0 || (hs.slots & (hs.slots - 1)) != 0 || hs.slots > s->nslots ||
	    hs.credits == 0 || hs.credits > s->credits_max || hs.mtu < TERN_HDR_LEN + 64 ||
	    hs.max_msg_size == 0) {
		tern_session_fail(s, -EPROTO, TERN_SESSION_FAILED);
		return;
	}
	uint64_t old_epoch = s->peer_epoch;
	s->peer_id = h->src_session;
	s->peer_token = hs.token;
	s->peer_epoch = hs.epoch;
	s->peer = rx->src;
	s->nslots = hs.slots;
	s->slot_mask = hs.slots - 1u;
	s->credits_max = s->credits = hs.credits;
	uint32_t mtu = hs.mtu < ep->mtu ? hs.mtu : ep->mtu;
	s->dpp = mtu - TERN_HDR_LEN - (s->prot != TERN_PROT_NONE ? TERN_PROT_OVERHEAD : 0);
	s->peer_max_msg = hs.max_msg_size;
	s->state = SESS_CONNECTED;
	s->last_rx_ns = ep->now;
	ep->st.sessions_connected++;
	if (s->hs != NULL) { /* the handshake's secrets go now */
		tern_wipe(s->hs, sizeof(*s->hs));
		free(s->hs);
		s->hs = NULL;
	}
	(void)old_epoch;
	report(s, TERN_SESSION_CONNECTED, 0);
	if (s->state == SESS_CONNECTED)
		tern_backlog_start(s);
}

/* --- server: accept ------------------------------------------------------- */

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
	memset(&hs, 0, sizeof(hs));
	hs.epoch = ep->epoch;
	hs.peer_epoch = chs->epoch;
	hs.nonce = chs->nonce;
	if (s != NULL) {
		hs.token = s->token;
		hs.max_msg_size = ep->cfg.max_msg_size;
		hs.slots = (uint16_t)s->nslots;
		hs.credits = (uint16_t)s->credits_max;
		hs.mtu = (uint16_t)ep->mtu;
	}
	tern_wire_hs_put(body, &hs);
	tern_tx_ctrl(ep, to, &h, body, TERN_HS_LEN);
}

/* An authenticated CONNECT (TERN_WF_SECURE): noise.c does the crypto. */
static void accept_secure(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h)
{
	struct tern_noise_result res;
	tern_noise_accept(ep, rx, h, &res);
	if (!res.ok)
		goto out;
	const struct tern_wire_hs *chs = &res.hs;
	if (chs->epoch == 0 || chs->token == 0 || chs->slots == 0 ||
	    (chs->slots & (chs->slots - 1)) != 0 || chs->credits == 0 ||
	    chs->mtu < TERN_HDR_LEN + TERN_PROT_OVERHEAD + 64 || chs->max_msg_size == 0) {
		tern_noise_refuse(ep, rx, h, EPROTO);
		goto out;
	}
	struct tern_session *s = session_alloc(ep, 0);
	if (s == NULL) {
		tern_noise_refuse(ep, rx, h, ECONNREFUSED);
		goto out;
	}
	uint32_t nslots = chs->slots < ep->cfg.slots ? chs->slots : ep->cfg.slots;
	uint32_t credits = chs->credits < ep->cfg.credits ? chs->credits : ep->cfg.credits;
	uint32_t mtu = chs->mtu < ep->mtu ? chs->mtu : ep->mtu;
	s->state = SESS_CONNECTED;
	s->peer = rx->src;
	s->hs_addr = rx->src;
	s->hs_key = res.cid;
	s->peer_id = h->src_session;
	s->peer_token = chs->token;
	s->peer_epoch = chs->epoch;
	s->hs_nonce = chs->nonce;
	s->nslots = nslots;
	s->slot_mask = nslots - 1;
	s->credits_max = s->credits = credits;
	s->peer_max_msg = chs->max_msg_size;
	struct tern_wire_hs hs;
	memset(&hs, 0, sizeof(hs));
	hs.epoch = ep->epoch;
	hs.peer_epoch = chs->epoch;
	hs.nonce = chs->nonce;
	hs.token = s->token;
	hs.max_msg_size = ep->cfg.max_msg_size;
	hs.slots = (uint16_t)nslots;
	hs.credits = (uint16_t)credits;
	hs.mtu = (uint16_t)ep->mtu;
	if (tern_noise_answer(s, rx, h, &res, &hs) != 0) {
		tern_session_release(s);
		goto out;
	}
	s->dpp = mtu - TERN_HDR_LEN - (s->prot != TERN_PROT_NONE ? TERN_PROT_OVERHEAD : 0);
	hs_insert(ep, s);
	ep->st.sessions_accepted++;
	report(s, TERN_SESSION_ACCEPTED, 0);
out:
	tern_wipe(&res, sizeof(res));
}

void tern_on_connect(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h)
{
	struct tern_wire_hs hs;
	if (h->dst_session != TERN_SESSION_NONE || h->src_session == TERN_SESSION_NONE) {
		tern_drop(ep, TERN_DROP_UNEXPECTED);
		return;
	}
	if (h->flags & TERN_WF_SECURE) {
		accept_secure(ep, rx, h);
		return;
	}
	tern_wire_hs_get((const uint8_t *)rx->data + TERN_HDR_LEN, &hs);
	if (hs.epoch == 0 || hs.token == 0) {
		tern_drop(ep, TERN_DROP_UNEXPECTED);
		return;
	}
	if (!tern_sec_plain_allowed(ep)) {
		/* This server requires authentication: no session for a plain CONNECT. */
		ep->st.hs_refused++;
		send_connect_ok(ep, &rx->src, h, &hs, NULL, EACCES);
		return;
	}
	if (hs.slots == 0 || (hs.slots & (hs.slots - 1)) != 0 || hs.credits == 0 ||
	    hs.mtu < TERN_HDR_LEN + 64 || hs.max_msg_size == 0) {
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
	s = session_alloc(ep, 0);
	if (s == NULL) {
		send_connect_ok(ep, &rx->src, h, &hs, NULL, ECONNREFUSED);
		return;
	}
	uint32_t nslots = hs.slots < ep->cfg.slots ? hs.slots : ep->cfg.slots;
	uint32_t credits = hs.credits < ep->cfg.credits ? hs.credits : ep->cfg.credits;
	uint32_t mtu = hs.mtu < ep->mtu ? hs.mtu : ep->mtu;
	s->state = SESS_CONNECTED;
	s->peer = rx->src;
	s->hs_addr = rx->src;
	s->peer_id = h->src_session;
	s->peer_token = hs.token;
	s->peer_epoch = hs.epoch;
	s->hs_key = hs.epoch;
	s->hs_nonce = hs.nonce;
	s->nslots = nslots;
	s->slot_mask = nslots - 1;
	s->credits_max = s->credits = credits;
	s->dpp = mtu - TERN_HDR_LEN;
	s->peer_max_msg = hs.max_msg_size;
	hs_insert(ep, s);
	ep->st.sessions_accepted++;
	send_connect_ok(ep, &rx->src, h, &hs, s, 0);
	report(s, TERN_SESSION_ACCEPTED, 0);
}

/* --- teardown ------------------------------------------------------------- */

/* FAILED -> released, or ZOMBIE while deferred handlers hold requests. */
static void session_end(struct tern_session *s)
{
	if (s->running != 0) {
		s->state = SESS_ZOMBIE;
		hs_remove(s->ep, s);
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
	hs_remove(ep, s);
	for (uint32_t i = 0; i < s->nslots; i++)
		tern_serve_slot_release(ep, s, &s->ss[i]);
	if (reconnect) {
		/* Put idempotent in-flight calls back at the head of the backlog. */
		for (uint32_t i = s->nslots; i-- > 0;) {
			struct call_slot *c = &s->cs[i];
			if (!c->active || !c->idempotent)
				continue;
			struct pending *p = tern_pending_get(ep);
			if (p == NULL)
				continue; /* failed below like the others */
			p->req = c->req;
			p->cont = c->cont;
			p->ctx = c->ctx;
			p->deadline_ns = c->deadline_ns;
			p->req_type = c->req_type;
			p->oneway = c->oneway;
			p->idempotent = 1;
			c->req = NULL;
			c->cont = NULL;
			/* Release the slot without a continuation. */
			if (c->resp != NULL) {
				tern_msg_free(c->resp);
				c->resp = NULL;
			}
			c->active = 0;
			s->cs_busy &= ~(1ull << i);
			if (c->timed)
				tern_timed_del(c);
			p->next = s->bl_head;
			s->bl_head = p;
			if (s->bl_tail == NULL)
				s->bl_tail = p;
			s->bl_len++;
		}
		/* New token and nonce (and handshake): state CONNECTING. */
		if (connect_start(s) != 0) {
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
		tern_backlog_fail(s, err);
	s->credits = s->credits_max;
	report(s, ev, err);
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
		tern_drop(ep, TERN_DROP_SESSION);
		return;
	}
	struct tern_session *s = &ep->sessions[h->dst_session];
	/* Only a RESET that echoes what we sent (their id and token) is believed. */
	if (s->state != SESS_CONNECTED || s->peer_id != h->src_session || s->peer_token != h->token) {
		tern_drop(ep, TERN_DROP_TOKEN);
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
			if (t < 10 * MS)
				t = 10 * MS;
			if (t > 1000 * MS)
				t = 1000 * MS;
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

static int backlog_expire(struct tern_session *s)
{
	struct tern_ep *ep = s->ep;
	struct pending **pp = &s->bl_head, *prev = NULL;
	struct pending *expired = NULL, **etail = &expired;
	while (*pp != NULL) {
		struct pending *p = *pp;
		if (ep->now >= p->deadline_ns) {
			*pp = p->next;
			if (s->bl_tail == p)
				s->bl_tail = prev;
			s->bl_len--;
			p->next = NULL;
			*etail = p;
			etail = &p->next;
		} else {
			prev = p;
			pp = &p->next;
		}
	}
	int n = 0;
	while (expired != NULL) {
		struct pending *p = expired;
		expired = p->next;
		struct tern_result r = {.status = -ETIMEDOUT, .req_type = p->req_type};
		tern_cont_fn cont = p->cont;
		void *ctx = p->ctx;
		tern_msg_free(p->req);
		tern_pending_put(ep, p);
		ep->st.calls_failed++;
		ep->st.calls_timeout++;
		CB_ENTER(ep);
		cont(&r, ctx);
		CB_LEAVE(ep);
		n++;
	}
	return n;
}

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
			tern_session_send_connect(s);
			s->hs_backoff_ns *= 2;
			if (s->hs_backoff_ns > 200 * MS)
				s->hs_backoff_ns = 200 * MS;
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
		return backlog_expire(s);
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
