/*
 * rx.c — the receive path: one burst from the driver, each packet checked
 * and dispatched by type.
 *
 *   driver rx_burst -> tern_wire_check (stateless) -> session by index ->
 *   token -> protect.c (protected sessions) -> tern_wire_check_data (sizes)
 *   -> serve.c (requests, RFR, ACK) / call.c (CR, responses) / connect.c,
 *   session.c (handshake, RESET, DISCONNECT, keepalive)
 *
 * The driver's "port unreachable" notices (TERN_RX_UNREACH) go to unreach.c.
 *
 * At the end of each burst, one hook: credits.c sends the credit returns it
 * coalesced over the burst.
 *
 * Each burst also sets the receive-queue clocks (ep->rx_burst_ns,
 * rx_clear_ns): when the queue was last looked at and last seen empty. A
 * wait for an answer that times out (a call's RTO, a CONNECT's
 * retransmission) counts as a loss only once they say the answer is not
 * just waiting in the queue (rx.h's tern_rx_seen_since()).
 *
 * The network is hostile: every field is checked before use, lengths first,
 * and a bad packet is dropped and counted by reason (tern_stats.drops). A
 * packet naming a session we do not have is answered with RESET, so a peer
 * that outlived our restart learns it at once.
 */
#include <string.h>

#include "call.h"
#include "credits.h"
#include "rx.h"
#include "serve.h"
#include "session.h"
#include "tx.h"

static const enum tern_drop wire_drop[] = {
	[TERN_WIRE_SHORT] = TERN_DROP_SHORT,
	[TERN_WIRE_VERSION_BAD] = TERN_DROP_VERSION,
	[TERN_WIRE_TYPE_BAD] = TERN_DROP_TYPE,
	[TERN_WIRE_LEN_BAD] = TERN_DROP_LENGTH,
	[TERN_WIRE_TOO_BIG] = TERN_DROP_TOO_BIG,
	[TERN_WIRE_PKT_BAD] = TERN_DROP_PKT_NUM,
	[TERN_WIRE_CSUM_BAD] = TERN_DROP_CHECKSUM,
	[TERN_WIRE_STATUS_BAD] = TERN_DROP_STATUS,
};

void tern_send_reset(struct tern_ep *ep, const struct tern_addr *to, const struct tern_hdr *h)
{
	struct tern_hdr r;
	struct tern_wire_reset body = {.epoch = tern_le64(ep->epoch)};
	memset(&r, 0, sizeof(r));
	r.type = TERN_PKT_RESET;
	r.dst_session = h->src_session;
	r.src_session = h->dst_session;
	r.token = h->token;
	tern_tx_ctrl(ep, to, &r, &body, sizeof(body));
	ep->st.resets_sent++;
}

/* Packets that may be answered with RESET: those of a live exchange. */
static int resettable(uint8_t type)
{
	switch (type) {
	case TERN_PKT_REQ:
	case TERN_PKT_RESP:
	case TERN_PKT_CR:
	case TERN_PKT_RFR:
	case TERN_PKT_ACK:
	case TERN_PKT_PING:
	case TERN_PKT_PONG:
		return 1;
	default:
		return 0;
	}
}

/* A packet for a session id we have no live session under. */
static void unknown_session(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h,
			    enum tern_drop why)
{
	tern_rx_drop(ep, why);
	if (h->src_session == TERN_SESSION_NONE)
		return;
	/* The server opened a session we no longer want (CONNECT_OK): let it go
	 * now. Like every RESET, this one echoes the token of the packet it
	 * refuses — on a CONNECT_OK that is ours, which the server keeps as its
	 * peer_token and checks (tern_on_reset); not the server's own token
	 * from the handshake body. */
	if (resettable(h->type) || (h->type == TERN_PKT_CONNECT_OK && h->status == 0))
		tern_send_reset(ep, &rx->src, h);
}

/* A packet for a session of ours that is not (or no longer) connected. */
static void not_connected(struct tern_ep *ep, struct tern_session *s, const struct tern_rx *rx,
			  const struct tern_hdr *h)
{
	if (s->state != SESS_CONNECTING) {
		unknown_session(ep, rx, h, TERN_DROP_SESSION);
		return;
	}
	/* An authenticated handshake's refusal cannot carry our token (the
	 * server could not read it): noise.c matches it by its cid. */
	if (h->type == TERN_PKT_CONNECT_OK && (h->token == s->token || (h->flags & TERN_WF_SECURE))) {
		tern_on_connect_ok(ep, s, rx, h);
		return;
	}
	/* Anything else with our token means the server already has this
	 * session and its CONNECT_OK is late or lost (a PING of it, say):
	 * drop it, never RESET it — that would tear down the server's side
	 * and leave us half open when the CONNECT_OK comes after all. */
	tern_rx_drop(ep, h->token == s->token ? TERN_DROP_UNEXPECTED : TERN_DROP_TOKEN);
}

static void rx_one(struct tern_ep *ep, struct tern_rx *rx)
{
	struct tern_hdr h;
	if (tern_unlikely(rx->flags != 0)) {
		/* The driver's notice that the peer's port is closed (unreach.c), or a
		 * truncated datagram. */
		if (rx->flags & TERN_RX_UNREACH)
			tern_on_unreach(ep, rx);
		else
			tern_rx_drop(ep, TERN_DROP_FRAME);
		return;
	}
	enum tern_wire_err e = tern_wire_check(rx->data, rx->len, ep->cfg.max_msg_size, &h);
	if (tern_unlikely(e != TERN_WIRE_OK)) {
		tern_rx_drop(ep, wire_drop[e]);
		return;
	}
	if (h.type == TERN_PKT_CONNECT) {
		tern_on_connect(ep, rx, &h);
		return;
	}
	if (h.type == TERN_PKT_RESET) {
		tern_on_reset(ep, rx, &h);
		return;
	}
	if (h.type == TERN_PKT_COOKIE) { /* for a handshake in progress: cookie.c */
		tern_on_cookie(ep, rx, &h);
		return;
	}
	struct tern_session *s;
	if (tern_unlikely(h.dst_session >= ep->cfg.max_sessions ||
			  (s = ep->sessions[h.dst_session]) == NULL)) {
		unknown_session(ep, rx, &h, TERN_DROP_SESSION);
		return;
	}
	if (tern_unlikely(s->state != SESS_CONNECTED)) {
		not_connected(ep, s, rx, &h);
		return;
	}
	if (tern_unlikely(h.token != s->token)) {
		unknown_session(ep, rx, &h, TERN_DROP_TOKEN);
		return;
	}
	if (tern_unlikely(h.src_session != s->peer_id)) {
		tern_rx_drop(ep, TERN_DROP_SESSION);
		return;
	}
	uint32_t body = rx->len - TERN_HDR_LEN;
	const uint8_t *payload = (const uint8_t *)rx->data + TERN_HDR_LEN;
	if (tern_unlikely(s->prot != TERN_PROT_NONE || (h.flags & TERN_WF_PROTECTED))) {
		if (h.type == TERN_PKT_CONNECT_OK) {
			tern_rx_drop(ep, TERN_DROP_DUP); /* a retransmitted answer */
			return;
		}
		/* Nothing past the header is believed before the tag verifies.
		 * privacy: a packet of a message being reassembled is decrypted
		 * straight into its place there when that place is known and
		 * still unfilled (one pass instead of decrypt, then copy). */
		body -= TERN_PROT_OVERHEAD;
		uint8_t *dest = NULL;
		if (s->prot == TERN_PROT_PRIVACY && h.pkt_num != 0 && body != 0) {
			if (h.type == TERN_PKT_REQ)
				dest = tern_serve_rx_dest(s, &h, body);
			else if (h.type == TERN_PKT_RESP)
				dest = tern_call_rx_dest(s, &h, body);
		}
		if (tern_rx_unprotect(ep, s, rx, &h, dest) != 0)
			return;
		s->reset_probe_ns = 0; /* the peer knows the session: a RESET was forged */
		payload = dest != NULL ? dest : payload + TERN_PROT_CTR_LEN;
	}
	if (h.type <= TERN_PKT_RFR) { /* REQ, RESP, CR, RFR */
		e = tern_wire_check_data(&h, body, s->dpp);
		if (tern_unlikely(e != TERN_WIRE_OK)) {
			tern_rx_drop(ep, wire_drop[e]);
			return;
		}
	}
	s->last_rx_ns = ep->now;
	/* Replies go where the peer now sends from (NAT rebinding, roaming). */
	if (tern_unlikely(!tern_addr_same(&s->peer, &rx->src))) {
		tern_tx_addr_pin(ep, &s->peer); /* what is queued goes where it was sent */
		s->peer = rx->src;
	}
	/* Requests and responses first: they are most of the traffic. */
	if (tern_likely(h.type == TERN_PKT_REQ)) {
		tern_on_req(ep, s, &h, payload, body);
		return;
	}
	if (tern_likely(h.type == TERN_PKT_RESP)) {
		tern_on_resp(ep, s, &h, payload, body);
		return;
	}
	switch (h.type) {
	case TERN_PKT_CR:
		tern_on_cr(ep, s, &h);
		break;
	case TERN_PKT_RFR:
		tern_on_rfr(ep, s, &h);
		break;
	case TERN_PKT_ACK:
		tern_on_ack(ep, s, &h);
		break;
	case TERN_PKT_CONNECT_OK:
		tern_rx_drop(ep, TERN_DROP_DUP); /* a retransmitted answer */
		break;
	case TERN_PKT_DISCONNECT:
		tern_on_disconnect(ep, s);
		break;
	case TERN_PKT_PING:
		tern_tx_session_ctrl(ep, s, TERN_PKT_PONG);
		break;
	case TERN_PKT_PONG:
		break; /* last_rx_ns is all it is for */
	default:
		tern_rx_drop(ep, TERN_DROP_TYPE);
		break;
	}
}

/* With thousands of sessions, each packet's session and the slot of its
 * call are cold memory, and rx_one() meets the misses one after another,
 * each behind the work of the packet before. A pass over the burst first
 * starts them all at once: the session's first two lines (the fields the
 * receive path reads, tern_internal.h) and its call's slot, whose place
 * follows from the session's address alone (session.h), with no load
 * between one packet's prefetches and the next's but the session pointer.
 * A hint only: rx_one() checks everything again. */
#define TERN_PREFETCH_SESSIONS 256u
static void prefetch_burst(const struct tern_ep *ep, const struct tern_rx *rx, unsigned n)
{
	for (const struct tern_rx *end = rx + n; rx != end; rx++) {
		if (rx->len < TERN_HDR_LEN)
			continue;
		/* Fields by memcpy: the packet need not be aligned (DPDK). */
		const uint8_t *p = rx->data;
		uint16_t id;
		uint64_t req_num;
		memcpy(&id, p + offsetof(struct tern_wire_hdr, dst_session), sizeof(id));
		id = tern_le16(id);
		if (id >= ep->cfg.max_sessions)
			continue;
		struct tern_session *s = ep->sessions[id];
		if (s == NULL)
			continue;
		__builtin_prefetch(s);
		__builtin_prefetch((char *)s + 64);
		memcpy(&req_num, p + offsetof(struct tern_wire_hdr, req_num), sizeof(req_num));
		req_num = tern_le64(req_num);
		uint8_t type = p[offsetof(struct tern_wire_hdr, type)];
		if (type == TERN_PKT_REQ) {
			char *ss = tern_session_ss_at(s, ep->cfg.slots, req_num);
			__builtin_prefetch(ss);
			__builtin_prefetch(ss + sizeof(struct serve_slot) - 1);
		} else if (type == TERN_PKT_RESP) {
			char *cs = tern_session_cs_at(s, ep->cfg.slots, req_num);
			__builtin_prefetch((char *)s + 128);
			__builtin_prefetch(cs);
			__builtin_prefetch(cs + 64);
			__builtin_prefetch(cs + 128);
			__builtin_prefetch(cs + sizeof(struct call_slot) - 1);
		}
	}
}

int tern_rx_poll(struct tern_ep *ep)
{
	unsigned n = ep->ops->rx_burst(ep->drv, ep->rx, TERN_RX_BURST);
	/* The queue was looked at now; a burst short of full emptied it:
	 * everything that arrived before this poll began has been seen (the
	 * clocks rx.h's tern_rx_seen_since() judges RTOs and CONNECT
	 * retransmissions by). */
	ep->rx_burst_ns = ep->now;
	if (tern_likely(n < TERN_RX_BURST))
		ep->rx_clear_ns = ep->now;
	if (n == 0)
		return 0;
	/* Only where sessions outgrow the caches (a few hundred of 3.5 KiB
	 * pass the L2): below, the pass costs more than the misses it saves. */
	if (n > 1 && ep->cfg.max_sessions - ep->nfree >= TERN_PREFETCH_SESSIONS)
		prefetch_burst(ep, ep->rx, n);
	for (struct tern_rx *rx = ep->rx, *end = ep->rx + n; rx != end; rx++) {
		/* Past the burst, a stale entry: a wasted prefetch is cheaper
		 * than a test per packet. */
		__builtin_prefetch(rx[1].data);
		rx_one(ep, rx);
	}
	if (ep->ncr != 0)
		tern_cr_burst_end(ep);
	ep->ops->rx_done(ep->drv, ep->rx, n);
	return (int)n;
}
