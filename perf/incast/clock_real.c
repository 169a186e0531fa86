/*
 * clock_real.c — tern-incast's clock: tern's own (real time). Its twin
 * clock_sim.c makes tern-incast-sim, which runs on a virtual clock.
 */
#include "incast.h"

const bool inc_sim_build = false;
uint64_t inc_sim_step_ns;

void inc_tick(void)
{
}
