/*
 * timers.c — when timed things are looked at.
 *
 * No timer objects yet: the call slots in flight or owing an explicit ACK
 * are on the endpoint's timed list, and tern_poll() walks it every scan_ns
 * (a fraction of the RTO floor); call.c decides for each what is due
 * (deadline, RTO, the ACK). Sessions are walked by session.c's scan.
 */
#include "call.h"
#include "timers.h"

void tern_timed_add(struct tern_ep *ep, struct call_slot *c)
{
	c->tnext = &ep->timed;
	c->tprev = ep->timed.tprev;
	ep->timed.tprev->tnext = c;
	ep->timed.tprev = c;
	c->timed = 1;
}

void tern_timed_del(struct call_slot *c)
{
	c->tprev->tnext = c->tnext;
	c->tnext->tprev = c->tprev;
	c->tnext = c->tprev = NULL;
	c->timed = 0;
}

void tern_loss_scan(struct tern_ep *ep)
{
	uint64_t gen = ++ep->scan_gen;
	struct call_slot *c = ep->timed.tnext;
	while (c != &ep->timed) {
		struct call_slot *next = c->tnext;
		if (c->scan_gen != gen) {
			c->scan_gen = gen;
			if (tern_call_tick(ep, c)) {
				/* A continuation may have closed sessions: start over,
				 * skipping the slots already seen in this round. */
				c = ep->timed.tnext;
				continue;
			}
		}
		c = next;
	}
}
