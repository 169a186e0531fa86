/*
 * echo.h — the echo handler the integration tests serve: answers a request
 * with a copy of its payload, or -ENOMEM when no msgbuf is left.
 */
#ifndef TERN_TEST_INTEG_ECHO_H
#define TERN_TEST_INTEG_ECHO_H

#include <errno.h>
#include <string.h>

#include "tern.h"

static inline void echo(struct tern_req *req, void *ctx)
{
	(void)ctx;
	struct tern_msg *m = tern_msg_alloc(tern_req_ep(req), tern_req_len(req));
	if (m == NULL) {
		tern_respond_error(req, -ENOMEM);
		return;
	}
	memcpy(tern_msg_data(m), tern_req_data(req), tern_req_len(req));
	tern_respond(req, m);
}

#endif
