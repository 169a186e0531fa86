/*
 * vclock.c — see vclock.h.
 */
#include <stdbool.h>
#include <time.h>

#include "driver.h" /* tern_now_ns(), through tern.h */
#include "vclock.h"

static bool virt;
static uint64_t vt;

uint64_t tern_now_ns(void)
{
	struct timespec ts;
	if (virt)
		return vt;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vclock_start(uint64_t t)
{
	virt = true;
	vt = t;
}

void vclock_stop(void)
{
	virt = false;
}

void vclock_set(uint64_t t)
{
	vt = t;
}

void vclock_advance(uint64_t ns)
{
	vt += ns;
}

uint64_t vclock_now(void)
{
	return vt;
}
