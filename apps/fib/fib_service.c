/*
 * fib_service.c — Fib.Calculate: fib(n) by iteration, for 0 <= n <= 93.
 * Anything else is refused with a status code and a sentence
 * (tern_pb_respond_status()), never a crash: negative n (INVALID_ARGUMENT),
 * n past 93 (OUT_OF_RANGE: fib(94) overflows 64 bits).
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
	int rc = fib_compute(req->n, &reply.value);
	if (rc == 0) {
		closure(&reply, closure_data);
		return;
	}
	char why[96];
	int code;
	if (rc == -EDOM) {
		code = TERN_STATUS_INVALID_ARGUMENT;
		snprintf(why, sizeof(why), "n must be >= 0 (got %" PRId64 ")", req->n);
	} else {
		code = TERN_STATUS_OUT_OF_RANGE;
		snprintf(why, sizeof(why), "fib(%" PRId64 ") does not fit in 64 bits (n must be <= %d)",
			 req->n, FIB_MAX_N);
	}
	if (tern_pb_respond_status(closure_data, code, why) != 0)
		closure(NULL, closure_data); /* cannot happen (a valid code, ASCII) */
}

Fib__Fib_Service fib_service = FIB__FIB__INIT(fib_);
