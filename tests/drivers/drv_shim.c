/*
 * drv_shim.c — the core services a driver calls, for driver-level tests that
 * run without the protocol core: msgbuf references are counted so a test can
 * assert that a driver dropped every reference it took.
 */
#include "drv_shim.h"

long drv_shim_refs;      /* references currently held */
long drv_shim_refs_max;  /* high-water mark */
long drv_shim_ref_calls; /* tern_msg_ref() calls */

void tern_msg_ref(struct tern_msg *m)
{
	(void)m;
	drv_shim_ref_calls++;
	if (++drv_shim_refs > drv_shim_refs_max)
		drv_shim_refs_max = drv_shim_refs;
}

void tern_msg_unref(struct tern_msg *m)
{
	(void)m;
	drv_shim_refs--;
}
