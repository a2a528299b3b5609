/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to lib/module/: the module's data structures, one header per
 * manager, as the module is laid out:
 *   lock.h  try-locks          pamt.h  PAMT/DPAMT (pamt.c)
 *   sept.h  S-EPT (sept.c)     td.h    TDR/TDCS, vCPUs (td.c, vp.c)
 *   sim.h   memory, CPUs, stats, faults, trace (mem.c, fault.c, trace.c)
 *   ctx.h   call context and the common prologue (seamcall.c, prologue.c)
 * Leaf files include this umbrella.  Nothing outside lib/module/ may.
 */
#ifndef TDXSIM_INTERNAL_H
#define TDXSIM_INTERNAL_H

#include "defs.h"
#include "lock.h"
#include "pamt.h"
#include "sept.h"
#include "td.h"
#include "sim.h"
#include "ctx.h"

#endif /* TDXSIM_INTERNAL_H */
