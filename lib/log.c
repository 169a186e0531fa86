/*
 * log.c — the log hook. Library code never prints: it formats into a stack
 * buffer and hands the line to the hook the application set, or drops it.
 */
#include <stdarg.h>
#include <stdio.h>

#include "tern_internal.h"

void tern_drv_log(const struct tern_drv *drv, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	if (drv == NULL || drv->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	drv->log(drv->log_ctx, level, line);
}

/* The core's own logging: the same hook, taken from the endpoint config. */

void tern_log(const struct tern_ep *ep, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	if (ep == NULL || ep->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ep->cfg.log(ep->cfg.log_ctx, level, line);
}
