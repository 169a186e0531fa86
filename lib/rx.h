/*
 * rx.h — the receive path (rx.c), and the one rule by which its
 * receive-queue clocks tell a lost answer from one still queued.
 */
#ifndef TERN_RX_H
#define TERN_RX_H

#include "tern_internal.h"

/* Receive and dispatch one burst; returns the packets received. */
int tern_rx_poll(struct tern_ep *ep);
/* Answer a packet that names a session we do not have. */
void tern_send_reset(struct tern_ep *ep, const struct tern_addr *to, const struct tern_hdr *h);

/*
 * The receive-queue clocks (set by tern_rx_poll), for whoever waits for an
 * answer: call.c's RTOs, connect.c's CONNECT retransmissions. An answer was
 * due at `due` (its wait timed out then), and `wait` is the wait it was
 * given. Has the queue been seen since, so that a missing answer is lost
 * rather than only waiting there? Yes if a burst that started after due
 * emptied the queue (everything that arrived before due has been read), or
 * if bursts have kept finding it full for a whole `wait` more (sustained
 * load: about one wait after it was due).
 */
static inline int tern_rx_seen_since(const struct tern_ep *ep, uint64_t due, uint64_t wait)
{
	return ep->rx_clear_ns >= due || ep->rx_burst_ns >= due + wait;
}

/* If not: when to look again (later than now). While bursts find the queue
 * full, a wait after due; if none has run since due (a callback held the
 * poll), after the next one — never within this poll. */
static inline uint64_t tern_rx_look_again(const struct tern_ep *ep, uint64_t due, uint64_t wait,
					  uint64_t now)
{
	uint64_t again = ep->rx_burst_ns >= due ? due + wait : now + 1;
	return again > now ? again : now + 1;
}

#endif /* TERN_RX_H */
