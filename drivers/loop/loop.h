/*
 * loop.h — the in-process driver's ops table, for the core's registry and
 * for driver tests. Everything else about loop is private to loop.c.
 */
#ifndef TERN_DRV_LOOP_H
#define TERN_DRV_LOOP_H

#include "driver.h"

extern const struct tern_drv_ops tern_drv_loop;

#endif
