/* SPDX-License-Identifier: GPL-2.0-only */
/* linux/rwlock.h for kernel files built against the shim: see <tdxsim/kernel.h>. */
#include <tdxsim/kernel.h>
