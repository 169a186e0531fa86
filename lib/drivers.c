/*
 * drivers.c — the registry of drivers built into this library. Which ones
 * exist is decided by meson (drivers/meson.build) and passed down as
 * TERN_HAVE_DRIVER_<NAME>.
 */
#include <pthread.h>
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

/* Drivers added at run time (tests' packet-injection driver, custom ones). */
#define EXTRA_MAX 8
static const struct tern_drv_ops *extra[EXTRA_MAX];
static pthread_mutex_t extra_lock = PTHREAD_MUTEX_INITIALIZER;

int tern_drv_register(const struct tern_drv_ops *ops)
{
	int rc = -ENOSPC;
	if (ops == NULL || ops->name == NULL || ops->open == NULL || ops->close == NULL ||
	    ops->rx_burst == NULL || ops->rx_done == NULL || ops->tx_burst == NULL)
		return -EINVAL;
	pthread_mutex_lock(&extra_lock);
	for (unsigned i = 0; i < EXTRA_MAX; i++) {
		if (extra[i] == ops || extra[i] == NULL) {
			extra[i] = ops;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&extra_lock);
	return rc;
}

const struct tern_drv_ops *tern_drv_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (unsigned i = 0; registry[i] != NULL; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	const struct tern_drv_ops *found = NULL;
	pthread_mutex_lock(&extra_lock);
	for (unsigned i = 0; i < EXTRA_MAX && extra[i] != NULL && found == NULL; i++)
		if (strcmp(extra[i]->name, name) == 0)
			found = extra[i];
	pthread_mutex_unlock(&extra_lock);
	return found;
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
