/*
 * unreach.c — what a "port unreachable" notice from the driver does
 * (TERN_RX_UNREACH, driver.h: over udp, an ICMP or ICMPv6 port unreachable
 * read from the socket's error queue): a packet we sent found nothing
 * listening on the peer's UDP port.
 *
 *   CONNECTING session   the connect fails at once with -ECONNREFUSED
 *                        (TERN_SESSION_FAILED), and so do the calls queued
 *                        on it: "connection refused", within a round trip
 *                        instead of after connect_timeout_ns
 *   CONNECTING again     (TERN_EP_RECONNECT, after a RESET: the server
 *                        restarted) a hint only: a restarting server's port
 *                        is closed for a moment, and its idempotent calls
 *                        are waiting for it; CONNECT is retransmitted as
 *                        usual until connect_timeout_ns
 *   CONNECTED            a hint only, never a teardown: anyone can forge an
 *                        ICMP message and nothing in it is authenticated, and
 *                        a peer that restarts closes its port for a moment.
 *                        The session probes the peer at once (session.c): a
 *                        restarted peer answers RESET, a live one PONG, and
 *                        a dead one nothing, so it ends after the session
 *                        timeout, as any silent peer
 *
 * Which session: the notice quotes the packet that was refused, and every
 * packet we send carries our session id (src_session): one array index,
 * never a walk over the sessions. It is believed only if the quote is what
 * that session sent: to that address, and the handshake's random nonce (or
 * the authenticated handshake's cid) of the current attempt, or the
 * session's ids and the peer's token once connected. So an off-path
 * attacker, who sees none of these, cannot fail a connect with a forged
 * ICMP (nor make a session probe); what an on-path one can do this way it
 * could already do by dropping packets. No notice ends an established
 * session. A notice that quotes too little to tell (under the tern header,
 * or a CONNECT cut before its nonce) is ignored: Linux quotes the whole datagram (up to 576 bytes
 * of IPv4, 1280 of IPv6), and routers at least 8 bytes past the IP header
 * (RFC 792), too few to act on safely. Counted in tern_stats.unreach_rx and
 * unreach_ignored.
 */
#include <string.h>

#include "session.h"

/* Does the quoted CONNECT q (len bytes) carry the current attempt of s? */
static int quotes_attempt(const struct tern_session *s, const uint8_t *q, uint32_t len,
			  const struct tern_hdr *h)
{
	if (s->hs != NULL) { /* authenticated: the attempt's cid, body bytes 8..15 */
		const uint8_t *sent = s->hs->pkt + TERN_HDR_LEN + 8;
		return (h->flags & TERN_WF_SECURE) && len >= TERN_HDR_LEN + 16 &&
		       memcmp(q + TERN_HDR_LEN + 8, sent, 8) == 0;
	}
	if ((h->flags & TERN_WF_SECURE) || len < TERN_HDR_LEN + TERN_HS_LEN)
		return 0;
	struct tern_wire_hs hs;
	tern_wire_hs_get(q + TERN_HDR_LEN, &hs);
	return hs.nonce == s->hs_nonce && hs.token == s->token && hs.epoch == s->ep->epoch;
}

void tern_on_unreach(struct tern_ep *ep, const struct tern_rx *rx)
{
	const uint8_t *q = rx->data;
	struct tern_hdr h;
	struct tern_session *s;
	char a[64];
	ep->st.unreach_rx++;
	if (rx->len < TERN_HDR_LEN || q[0] != TERN_WIRE_VERSION)
		goto ignore;
	tern_wire_get(q, &h);
	if (h.src_session >= ep->cfg.max_sessions || (s = ep->sessions[h.src_session]) == NULL ||
	    !tern_addr_same(&s->peer, &rx->src))
		goto ignore;
	if (s->state == SESS_CONNECTING) {
		if (h.type != TERN_PKT_CONNECT || !quotes_attempt(s, q, rx->len, &h))
			goto ignore;
		if (s->reconnecting) {
			tern_log(ep, TERN_LOG_DEBUG, "reconnect to %s refused: trying until the "
				 "connect timeout", tern_addr_str(&rx->src, a, sizeof(a)));
			return;
		}
		tern_log(ep, TERN_LOG_DEBUG, "connect to %s refused: nothing listens there",
			 tern_addr_str(&rx->src, a, sizeof(a)));
		tern_session_fail(s, -ECONNREFUSED, TERN_SESSION_FAILED);
		return;
	}
	if (s->state != SESS_CONNECTED || h.type == TERN_PKT_CONNECT ||
	    h.dst_session != s->peer_id || h.token != s->peer_token)
		goto ignore;
	tern_log(ep, TERN_LOG_DEBUG, "session %u: nothing listens at %s any more: probing it", s->id,
		 tern_addr_str(&rx->src, a, sizeof(a)));
	tern_session_probe(s);
	return;
ignore:
	ep->st.unreach_ignored++;
}
