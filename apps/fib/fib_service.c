/*
 * fib_service.c — Fib.Calculate: fib(n) by iteration, for 0 <= n <= 93.
 * Anything else is answered with a status and a sentence, never a crash:
 * negative n (NEGATIVE), n past 93 (TOO_LARGE: fib(94) overflows 64 bits).
 * Bytes that are not a CalculateRequest never get here: tern_pb answers
 * them with -EPROTO.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "fib.h"
#include "tern_pb.h"

int fib_compute(int64_t n, uint64_t *out)
{
	if (n < 0)
		return -EDOM;
	if (n > FIB_MAX_N)
		return -ERANGE;
	uint64_t a = 0, b = 1; /* fib(i), fib(i + 1) */
	for (int64_t i = 0; i < n; i++) {
		uint64_t next = a + b; /* fib(94) would wrap here: n <= 93 */
		a = b;
		b = next;
	}
	*out = a;
	return 0;
}

static void fib_calculate(Fib__Fib_Service *service, const Fib__CalculateRequest *req,
			  Fib__CalculateReply_Closure closure, void *closure_data)
{
	(void)service;
	Fib__CalculateReply reply = FIB__CALCULATE_REPLY__INIT;
	char *why = tern_pb_req_alloc(closure_data, 96); /* lives until the reply is packed */
	int rc = fib_compute(req->n, &reply.value);
	if (rc == -EDOM) {
		reply.status = FIB__CALCULATE_REPLY__STATUS__NEGATIVE;
		if (why != NULL)
			snprintf(why, 96, "n must be >= 0 (got %" PRId64 ")", req->n);
	} else if (rc == -ERANGE) {
		reply.status = FIB__CALCULATE_REPLY__STATUS__TOO_LARGE;
		if (why != NULL)
			snprintf(why, 96, "fib(%" PRId64 ") does not fit in 64 bits (n must be <= %d)",
				 req->n, FIB_MAX_N);
	}
	if (rc != 0)
		reply.error = why != NULL ? why : "bad n";
	closure(&reply, closure_data);
}

Fib__Fib_Service fib_service = FIB__FIB__INIT(fib_);
