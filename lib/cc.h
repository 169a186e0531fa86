/*
 * cc.h — per-session congestion control (cc.c): a delay-based congestion
 * window fed by the RTT samples loss.c takes, cut on loss; and the pacer
 * (pacer.c) that spaces a session's packets when its window is below one
 * packet. The state lives in struct tern_session (struct tern_cc).
 */
#ifndef TERN_CC_H
#define TERN_CC_H

#include "tern_internal.h"

/* --- the controller (cc.c) ------------------------------------------------- */

/* A fresh session (or a reconnect): no window limit, nothing learnt. */
void tern_cc_init(struct tern_session *s);
/* The handshake's round trip (connect.c): the session's first measure of
 * the path without queues, taken before it sent any data — a session whose
 * first data samples already wait behind a full queue (incast: every
 * sender starts at once) would otherwise take that queue for the path. */
void tern_cc_handshake_rtt(struct tern_session *s, uint64_t rtt_ns);
/* A valid RTT sample of s that measures the network alone (call.c: not
 * one that includes the handler's run time): grow the window if
 * the delay is below the target, cut it (at most once per RTT) if above. */
void tern_cc_rtt(struct tern_session *s, uint64_t rtt_ns);
/* A loss (a hole resent by fast retransmit): halve the window, at
 * most once per RTT — unless the session's latest sample, taken within an
 * RTO, is within its target: then the path has no queue and the loss is
 * random (or reordering), not congestion. */
void tern_cc_loss(struct tern_session *s);
/* An RTO (call.c): as tern_cc_loss(), but a window it cuts goes to one
 * packet, not half (RFC 5681's loss window): nothing was answered for an
 * RTO, so the window in flight told nothing of what the path takes, and
 * the RTO's resend is the one packet that leaves at once. */
void tern_cc_rto(struct tern_session *s);

/* --- the pacer (pacer.c) --------------------------------------------------- */

/* s's credits are at or below credits_floor (credits.h): may one more
 * packet leave now? 1: yes (the pacer counts it); 0: no — if the pacer is
 * what holds it, its timer is armed to resume s's waiting calls. */
int tern_pacer_admit(struct tern_session *s);
/* Would tern_pacer_admit() say yes now? (No side effects.) */
int tern_pacer_ready(const struct tern_session *s);
/* s's pacer timer fired (ep.c): its waiting calls send what they may. */
void tern_pacer_timer(struct tern_ep *ep, struct tern_session *s);
/* s goes away or reconnects: its pacer timer off the wheel. */
void tern_pacer_stop(struct tern_session *s);

#endif /* TERN_CC_H */
