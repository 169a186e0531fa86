/*
 * fib.h — what fib's server, client and tests share: the service's tern
 * request type and its implementation (fib_service.c).
 */
#ifndef FIB_H
#define FIB_H

#include <stdint.h>

#include "fib.pb-c.h"

/* Fib's methods are tern request types FIB_BASE_TYPE + method index, on
 * both sides (Calculate = FIB_BASE_TYPE). */
#define FIB_BASE_TYPE 10

/* The largest n whose Fibonacci number fits in a uint64_t. */
#define FIB_MAX_N 93

/* fib(n): 0 and *out set; -EDOM if n < 0; -ERANGE if n > FIB_MAX_N. */
int fib_compute(int64_t n, uint64_t *out);

/* The Fib service, ready for tern_pb_serve(). */
extern Fib__Fib_Service fib_service;

#endif
