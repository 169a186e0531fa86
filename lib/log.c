/*
 * log.c — the log hook. Library code never prints: it formats into a stack
 * buffer and hands the line to the hook the application set, or drops it.
 */
#include <stdarg.h>
#include <stdio.h>

#include "driver.h"

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
