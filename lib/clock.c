/*
 * clock.c — tern_now_ns(): a cheap monotonic nanosecond clock.
 *
 * On x86 with an invariant TSC (constant_tsc + nonstop_tsc) it is rdtsc
 * scaled by a multiplier calibrated once per process against
 * CLOCK_MONOTONIC; elsewhere it is clock_gettime(CLOCK_MONOTONIC). The poll
 * loop reads it once per pass.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tern_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#else
#define HAVE_TSC 0
#endif

static pthread_once_t clock_once = PTHREAD_ONCE_INIT;
static int use_tsc;
static uint64_t tsc_base;
static uint64_t ns_base;
/* ns = ns_base + ((tsc - tsc_base) * mult) >> 32 */
static uint64_t tsc_mult;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#if HAVE_TSC
static int tsc_invariant(void)
{
	char line[4096];
	int c = 0, n = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		c = strstr(line, " constant_tsc") != NULL;
		n = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return c && n;
}
#endif

static void clock_init(void)
{
#if HAVE_TSC
	if (!tsc_invariant())
		return;
	/* Calibrate over ~5 ms; repeat the edges to keep the error small. */
	uint64_t n0 = mono_ns(), t0 = __rdtsc();
	uint64_t n1, t1;
	do {
		n1 = mono_ns();
		t1 = __rdtsc();
	} while (n1 - n0 < 5000000ull);
	if (t1 <= t0)
		return;
	tsc_mult = (uint64_t)(((__uint128_t)(n1 - n0) << 32) / (t1 - t0));
	tsc_base = t1;
	ns_base = n1;
	use_tsc = 1;
#endif
}

/* How tern_now_ns() reads the time, set (release) once clock_init has run:
 * one load tells the common case (the TSC) from everything else. */
enum { CLOCK_UNSET = 0, CLOCK_TSC, CLOCK_MONO };
static int clock_mode;

/* Not the TSC: set up on first use, or CLOCK_MONOTONIC (out of line, so
 * the TSC read below needs no stack frame). */
__attribute__((noinline)) static uint64_t now_other(int mode)
{
	if (tern_unlikely(mode == CLOCK_UNSET)) {
		pthread_once(&clock_once, clock_init);
		mode = use_tsc ? CLOCK_TSC : CLOCK_MONO;
		__atomic_store_n(&clock_mode, mode, __ATOMIC_RELEASE);
		if (mode == CLOCK_TSC)
			return tern_now_ns();
	}
	return mono_ns();
}

uint64_t tern_now_ns(void)
{
	/* The poll loop reads the clock every pass: skip pthread_once's call
	 * once initialised (an acquire load is a plain load on x86). */
	int mode = __atomic_load_n(&clock_mode, __ATOMIC_ACQUIRE);
#if HAVE_TSC
	if (tern_likely(mode == CLOCK_TSC)) {
		/* A core whose TSC trails the calibrating one by a few cycles
		 * must not wrap around. */
		uint64_t d = __rdtsc() - tsc_base;
		if (tern_unlikely((int64_t)d < 0))
			d = 0;
		return ns_base + (uint64_t)(((__uint128_t)d * tsc_mult) >> 32);
	}
#endif
	return now_other(mode);
}
