/*
 * backlog.h — calls waiting for a free call slot of their session (backlog.c).
 */
#ifndef TERN_BACKLOG_H
#define TERN_BACKLOG_H

#include "tern_internal.h"

/* Queue req (its continuation, flags and deadline in req->pend, filled by
 * the caller) at the tail, or at the head (calls re-issued on a fresh
 * session: pushed in reverse, they keep their order); its deadline is armed. */
void tern_backlog_push(struct tern_session *s, struct tern_msg *req, int at_head);
/* Unlink req (queued on s) and cancel its deadline. */
void tern_backlog_remove(struct tern_session *s, struct tern_msg *req);
/* The oldest queued call, unlinked; NULL if none. */
struct tern_msg *tern_backlog_pop(struct tern_session *s);

static inline int tern_backlog_empty(const struct tern_session *s)
{
	return s->bl_head == NULL;
}

#endif /* TERN_BACKLOG_H */
