/*
 * backlog.c — the per-session backlog: calls accepted by tern_call*() that
 * wait for a free call slot (or for the session to come up), in FIFO order.
 *
 * A queued call needs no memory of its own: its request msgbuf, which tern
 * owns from tern_call() on, carries the call's continuation, context,
 * deadline and flags in its header area (struct tern_pending, part of the
 * msgbuf's metadata). So the backlog never allocates, and a queued call is
 * exactly one msgbuf. This file only links and unlinks; starting a queued
 * call and failing one (its continuation) are call.c's.
 */
#include "backlog.h"

void tern_backlog_push(struct tern_session *s, struct tern_msg *req, int at_head)
{
	if (at_head) {
		req->pend.next = s->bl_head;
		s->bl_head = req;
		if (s->bl_tail == NULL)
			s->bl_tail = req;
	} else {
		req->pend.next = NULL;
		if (s->bl_tail != NULL)
			s->bl_tail->pend.next = req;
		else
			s->bl_head = req;
		s->bl_tail = req;
	}
	s->bl_len++;
}

struct tern_msg *tern_backlog_pop(struct tern_session *s)
{
	struct tern_msg *m = s->bl_head;
	if (m == NULL)
		return NULL;
	s->bl_head = m->pend.next;
	if (s->bl_head == NULL)
		s->bl_tail = NULL;
	s->bl_len--;
	m->pend.next = NULL;
	return m;
}

struct tern_msg *tern_backlog_take_expired(struct tern_session *s, uint64_t now)
{
	struct tern_msg *expired = NULL, **etail = &expired, *prev = NULL;
	struct tern_msg **pp = &s->bl_head;
	while (*pp != NULL) {
		struct tern_msg *m = *pp;
		if (now >= m->pend.deadline_ns) {
			*pp = m->pend.next;
			if (s->bl_tail == m)
				s->bl_tail = prev;
			s->bl_len--;
			m->pend.next = NULL;
			*etail = m;
			etail = &m->pend.next;
		} else {
			prev = m;
			pp = &m->pend.next;
		}
	}
	return expired;
}
