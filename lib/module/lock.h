/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The module's try-locks: a call never waits, contention is a BUSY.
 */
#ifndef TDXSIM_MODULE_LOCK_H
#define TDXSIM_MODULE_LOCK_H

#include "defs.h"

/* --------------------------------------------------------------------------
 * Try-locks.  The module never waits on its locks: contention is a BUSY.
 * sharex lock: bit 31 exclusive, bits 30:0 shared holders.
 */
enum lock_type {
	TDX_LOCK_NO_LOCK = 0,
	TDX_LOCK_SHARED,
	TDX_LOCK_EXCLUSIVE,
};

#define SHAREX_EXCL		0x80000000U

static inline bool sharex_try_lock(u32 *l, enum lock_type t)
{
	u32 v = __atomic_load_n(l, __ATOMIC_RELAXED);

	if (t == TDX_LOCK_NO_LOCK)
		return true;
	if (t == TDX_LOCK_EXCLUSIVE) {
		v = 0;
		return __atomic_compare_exchange_n(l, &v, SHAREX_EXCL, false,
						   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	}
	do {
		if (v & SHAREX_EXCL)
			return false;
	} while (!__atomic_compare_exchange_n(l, &v, v + 1, true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return true;
}

static inline void sharex_unlock(u32 *l, enum lock_type t)
{
	if (t == TDX_LOCK_EXCLUSIVE)
		__atomic_store_n(l, 0, __ATOMIC_RELEASE);
	else if (t == TDX_LOCK_SHARED)
		__atomic_fetch_sub(l, 1, __ATOMIC_RELEASE);
}

#endif /* TDXSIM_MODULE_LOCK_H */
