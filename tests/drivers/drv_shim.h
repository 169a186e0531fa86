#ifndef TERN_DRV_SHIM_H
#define TERN_DRV_SHIM_H
#include "driver.h"
extern long drv_shim_refs, drv_shim_refs_max, drv_shim_ref_calls;
#endif
