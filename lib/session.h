/*
 * session.h — sessions: lifecycle (session.c), the CONNECT handshake
 * that opens them (connect.c), and closed ports (unreach.c).
 */
#ifndef TERN_SESSION_H
#define TERN_SESSION_H

#include "tern_internal.h"

/* --- session.c: lifecycle --- */

/* A free session entry, initialised (state FREE until the caller sets it);
 * NULL if none is free or memory ran out. */
struct tern_session *tern_session_alloc(struct tern_ep *ep, int client);
/* Where tern_session_alloc() puts call slot i & (slots - 1) and serve slot
 * i & (slots - 1) of a session of an endpoint of `slots` slots (its
 * cfg.slots; after the session, call slots first), from the session's
 * address alone, without loading from it: the receive path prefetches them
 * with it. A session that agreed to fewer slots than its endpoint has its
 * slots at the same places, indexed by its own mask. */
static inline char *tern_session_cs_at(struct tern_session *s, uint32_t slots, uint64_t i)
{
	return (char *)(s + 1) + (i & (slots - 1)) * sizeof(struct call_slot);
}
static inline char *tern_session_ss_at(struct tern_session *s, uint32_t slots, uint64_t i)
{
	return (char *)(s + 1) + slots * sizeof(struct call_slot) +
	       (i & (slots - 1)) * sizeof(struct serve_slot);
}
/* Return the id to the free list and free the session. It must have no
 * active calls. */
void tern_session_release(struct tern_session *s);
/* Tests: called with each session just before its memory is freed. */
extern void (*tern_session_free_hook)(const struct tern_session *s);
/* A handler finished or a pin went: release s if it is a zombie nothing
 * holds any more. Returns 1 if s was released (gone). Inline: it runs after
 * every handler and continuation, and is almost always 0. */
static inline int tern_session_unhold(struct tern_session *s)
{
	if (tern_likely(s->state != SESS_ZOMBIE) || s->handlers != 0 || s->pins != 0)
		return 0;
	tern_session_release(s);
	return 1;
}
/* Tear a session down: calls end with err (or are re-issued), event reported. */
void tern_session_fail(struct tern_session *s, int err, enum tern_session_event ev);
/* Report ev to the application's session hook. Returns 1 if the hook
 * closed s and it is gone. */
int tern_session_report(struct tern_session *s, enum tern_session_event ev, int err);
void tern_on_reset(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h);
void tern_on_disconnect(struct tern_ep *ep, struct tern_session *s);
/* The session's timer fired (ep->now is the time): handshake retries and
 * deadline (connect.c), probing and dead peers, keepalive, idle timeout. */
void tern_session_timer(struct tern_ep *ep, struct tern_session *s);
/* A session just came up: its keepalive (opener) or idle timeout (acceptor) starts. */
void tern_session_start_timers(struct tern_session *s);
/* A call of s went silent past its RTO: make sure the peer is alive (PING
 * every probe_ns; dead after session_timeout_ns of silence). */
void tern_session_probe(struct tern_session *s);

/* --- unreach.c: the driver's "port unreachable" notices --- */

/* rx (TERN_RX_UNREACH): a packet we sent to rx->src found no listener there;
 * rx->data/len quote it. Fails a connect, ends or probes a session (unreach.c). */
void tern_on_unreach(struct tern_ep *ep, const struct tern_rx *rx);

/* --- connect.c: the handshake --- */

/* Random non-zero values for tokens and nonces. */
uint64_t tern_rand64(void);
uint32_t tern_rand32(void);

/* Client: (re)start the handshake of s: new token and nonce, CONNECT sent. */
int tern_connect_start(struct tern_session *s);
/* Client: the CONNECT again (retransmission). */
void tern_connect_resend(struct tern_session *s);
/* Client: the session's timer fired while connecting (retries, deadline). */
void tern_connect_timer(struct tern_session *s);
/* The session leaves the connect window (connected, failed, closed, released). */
void tern_connect_leave(struct tern_session *s);
void tern_on_connect(struct tern_ep *ep, const struct tern_rx *rx, const struct tern_hdr *h);
void tern_on_connect_ok(struct tern_ep *ep, struct tern_session *s, const struct tern_rx *rx,
			const struct tern_hdr *h);
/* The CONNECT dedup table (secure: authenticated handshakes' entries). */
struct tern_session *tern_hs_find(struct tern_ep *ep, const struct tern_addr *a, uint64_t key,
				  uint16_t id, int secure);
void tern_hs_remove(struct tern_ep *ep, struct tern_session *s);

#endif /* TERN_SESSION_H */
