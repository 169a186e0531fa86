/*
 * backlog.h — calls waiting for a free call slot of their session (backlog.c).
 */
#ifndef TERN_BACKLOG_H
#define TERN_BACKLOG_H

#include "tern_internal.h"

/* Queue req (its continuation and deadline in req->pend, filled by the
 * caller) at the tail; at_head: at the head (calls re-issued on a fresh
 * session, in their old order when pushed in reverse). */
void tern_backlog_push(struct tern_session *s, struct tern_msg *req, int at_head);
/* The oldest queued call, unlinked; NULL if none. */
struct tern_msg *tern_backlog_pop(struct tern_session *s);
/* Unlink every queued call whose deadline is at or before now: a chain in
 * queue order, linked through pend.next (NULL if none). */
struct tern_msg *tern_backlog_take_expired(struct tern_session *s, uint64_t now);

static inline int tern_backlog_empty(const struct tern_session *s)
{
	return s->bl_head == NULL;
}

#endif /* TERN_BACKLOG_H */
