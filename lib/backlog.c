/*
 * backlog.c — the per-session backlog: calls accepted by tern_call*() that
 * wait for a free call slot (or for the session to come up), in FIFO order.
 *
 * A queued call needs no memory of its own: its request msgbuf, which tern
 * owns from tern_call() on, carries the call's continuation, context,
 * deadline and flags in its metadata (struct tern_pending), with the links
 * of the queue and the timer of its deadline. So the backlog never
 * allocates, a queued call is exactly one msgbuf, and removing one whose
 * deadline passed is O(1). This file only links and unlinks (and arms and
 * cancels the deadline); starting a queued call and failing one (its
 * continuation) are call.c's.
 */
#include "backlog.h"

/* Deadlines this far away are "never": not put on the wheel. */
#define FOREVER_NS (1ull << 62)

void tern_backlog_push(struct tern_session *s, struct tern_msg *req, int at_head)
{
	struct tern_pending *p = &req->pend;
	struct tern_ep *ep = s->ep;
	p->s = s;
	if (at_head) {
		p->prev = NULL;
		p->next = s->bl_head;
		if (s->bl_head != NULL)
			s->bl_head->pend.prev = req;
		else
			s->bl_tail = req;
		s->bl_head = req;
	} else {
		p->next = NULL;
		p->prev = s->bl_tail;
		if (s->bl_tail != NULL)
			s->bl_tail->pend.next = req;
		else
			s->bl_head = req;
		s->bl_tail = req;
	}
	s->bl_len++;
	tern_timer_init(&p->timer, TERN_TIMER_QUEUED);
	if (p->deadline_ns - ep->now < FOREVER_NS)
		tern_wheel_arm(&ep->wheel, &p->timer, p->deadline_ns);
}

void tern_backlog_remove(struct tern_session *s, struct tern_msg *req)
{
	struct tern_pending *p = &req->pend;
	if (p->prev != NULL)
		p->prev->pend.next = p->next;
	else
		s->bl_head = p->next;
	if (p->next != NULL)
		p->next->pend.prev = p->prev;
	else
		s->bl_tail = p->prev;
	p->next = p->prev = NULL;
	s->bl_len--;
	tern_wheel_cancel(&s->ep->wheel, &p->timer);
}

struct tern_msg *tern_backlog_pop(struct tern_session *s)
{
	struct tern_msg *m = s->bl_head;
	if (m != NULL)
		tern_backlog_remove(s, m);
	return m;
}
