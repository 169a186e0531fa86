/*
 * timers.h — when timed things are looked at (timers.c).
 */
#ifndef TERN_TIMERS_H
#define TERN_TIMERS_H

#include "tern_internal.h"

/* Call slots in flight or owing an explicit ACK are on the timed list. */
void tern_timed_add(struct tern_ep *ep, struct call_slot *c);
void tern_timed_del(struct call_slot *c);
/* Look at every call slot on the timed list (call.c decides what is due). */
void tern_loss_scan(struct tern_ep *ep);

#endif /* TERN_TIMERS_H */
