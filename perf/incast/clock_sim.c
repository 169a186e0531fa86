/*
 * clock_sim.c — tern-incast-sim's virtual clock. The program links tern's
 * internal archive with -Wl,--wrap=tern_now_ns (as the unit tests do), so
 * every clock read, in tern and here, returns the virtual time, which
 * advances by --sim-step-ns after each pass over the endpoints (one thread
 * polls them all). Hosts are then infinitely fast and never descheduled:
 * what is measured is the protocol against the link, the same on any
 * machine, run after run.
 */
#include "incast.h"

const bool inc_sim_build = true;
uint64_t inc_sim_step_ns = 1000;

static uint64_t vclock = 1000ull * INC_NS_PER_S; /* far from 0 */

uint64_t __wrap_tern_now_ns(void);
uint64_t __wrap_tern_now_ns(void)
{
	return vclock;
}

void inc_tick(void)
{
	vclock += inc_sim_step_ns;
}
