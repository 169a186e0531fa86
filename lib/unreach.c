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
 *   CONNECTED, plain     the session ends like on a RESET from the peer:
 *                        -ECONNRESET (TERN_SESSION_RESET; TERN_EP_RECONNECT
 *                        reconnects, and that connect is then refused)
 *   CONNECTED, protected a hint only, never a teardown: anyone can forge an
 *                        ICMP message, and nothing in it is authenticated. The
 *                        session probes the peer (session.c): it ends only if
 *                        nothing authenticated comes back for the session
 *                        timeout, as for any silent peer
 *
 * Which session: the notice quotes the packet that was refused, and every
 * packet we send carries our session id (src_session): one array index,
 * never a walk over the sessions. It is believed only if the quote is what
 * that session sent: to that address, and the handshake's random nonce (or
 * the authenticated handshake's cid) of the current attempt, or the
 * session's ids and the peer's token once connected. So an off-path
 * attacker, who sees none of these, cannot fail a connect or end a session
 * with a forged ICMP; what an on-path one can do this way it could already
 * do with a RESET (plain sessions) or by dropping packets. A notice that
 * quotes too little to tell (under the tern header, or a CONNECT cut before
 * its nonce) is ignored: Linux quotes the whole datagram (up to 576 bytes
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
		tern_log(ep, TERN_LOG_DEBUG, "connect to %s refused: nothing listens there",
			 tern_addr_str(&rx->src, a, sizeof(a)));
		tern_session_fail(s, -ECONNREFUSED, TERN_SESSION_FAILED);
		return;
	}
	if (s->state != SESS_CONNECTED || h.type == TERN_PKT_CONNECT ||
	    h.dst_session != s->peer_id || h.token != s->peer_token)
		goto ignore;
	tern_log(ep, TERN_LOG_DEBUG, "session %u: nothing listens at %s any more%s", s->id,
		 tern_addr_str(&rx->src, a, sizeof(a)),
		 s->prot != TERN_PROT_NONE ? ": probing it" : "");
	if (s->prot != TERN_PROT_NONE)
		tern_session_probe(s);
	else
		tern_session_fail(s, -ECONNRESET, TERN_SESSION_RESET);
	return;
ignore:
	ep->st.unreach_ignored++;
}
