/*
 * drivers.c — the registry of drivers built into this library. Which ones
 * exist is decided by meson (drivers/meson.build) and passed down as
 * TERN_HAVE_DRIVER_<NAME>.
 */
#include <string.h>

#include "tern_internal.h"

extern const struct tern_drv_ops tern_drv_loop, tern_drv_faults, tern_drv_udp, tern_drv_dpdk;

static const struct tern_drv_ops *const registry[] = {
#ifdef TERN_HAVE_DRIVER_UDP
	&tern_drv_udp,
#endif
#ifdef TERN_HAVE_DRIVER_DPDK
	&tern_drv_dpdk,
#endif
#ifdef TERN_HAVE_DRIVER_LOOP
	&tern_drv_loop,
#endif
#ifdef TERN_HAVE_DRIVER_FAULTS
	&tern_drv_faults,
#endif
	NULL,
};

const struct tern_drv_ops *tern_drv_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (unsigned i = 0; registry[i] != NULL; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

const char *tern_drivers(void)
{
	/* Each name carries a leading comma; skip the first. */
	static const char names[] = ""
#ifdef TERN_HAVE_DRIVER_UDP
		",udp"
#endif
#ifdef TERN_HAVE_DRIVER_DPDK
		",dpdk"
#endif
#ifdef TERN_HAVE_DRIVER_LOOP
		",loop"
#endif
#ifdef TERN_HAVE_DRIVER_FAULTS
		",faults"
#endif
		;
	return names[0] == ',' ? names + 1 : names;
}
