/*
 * status.h — status codes and messages (status.c): what serve.c and call.c
 * use of them.
 */
#ifndef TERN_STATUS_H
#define TERN_STATUS_H

#include "call.h"
#include "tern_internal.h"

/* Is p[0..n) well-formed UTF-8 without NUL? */
int tern_utf8_valid(const uint8_t *p, size_t n);

/* The length of the longest prefix of the UTF-8 text msg[0..n) that is at
 * most limit bytes and ends at a character boundary. */
size_t tern_utf8_cut(const char *msg, size_t n, size_t limit);

/* A handler's message (NUL-terminated, or NULL), cut to at most limit bytes
 * at a character boundary, into a new msgbuf *out: 0 (*out NULL if there is
 * no message, or no memory for it: the code then goes alone), or -EINVAL
 * if it is not UTF-8 (logged). */
int tern_status_msg(struct tern_ep *ep, const char *msg, size_t limit, struct tern_msg **out);

/* Call c got an error response h (checked by tern_wire_check_error) with
 * body payload[0..len): end it with the errno, or with the status code and
 * its message; a message that is not UTF-8 is dropped (TERN_DROP_STATUS)
 * and the call goes on. */
void tern_call_error(struct tern_ep *ep, struct call_slot *c, const struct tern_hdr *h,
		     const uint8_t *payload, uint32_t len);

/* call.c: r is a failure (status != 0) whose data/len, if any, are the
 * message: turn them into code, message and message_len. */
void tern_result_failed(struct tern_result *r);

#endif /* TERN_STATUS_H */
