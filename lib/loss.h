/*
 * loss.h — round-trip time and retransmission timeout of a session (loss.c).
 */
#ifndef TERN_LOSS_H
#define TERN_LOSS_H

#include "tern_internal.h"

/* The RTO of a fresh session (no sample yet). */
void tern_rto_init(struct tern_session *s);
/* A valid RTT sample (a packet sent once, answered: Karn's rule). */
void tern_rtt_sample(struct tern_session *s, uint64_t rtt_ns);
/* The RTO of a call that has backed off `backoff` times (doubled each, capped). */
uint64_t tern_rto(const struct tern_session *s, uint32_t backoff);
/* A call's first RTO: back the session's RTO off too, once per RTO period
 * (RFC 6298 5.5), until a valid sample comes. */
void tern_rto_backoff(struct tern_session *s, uint64_t now);

#endif /* TERN_LOSS_H */
