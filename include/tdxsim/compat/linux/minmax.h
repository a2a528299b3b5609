/* SPDX-License-Identifier: GPL-2.0-only */
/* linux/minmax.h for kernel files built against the shim: see <tdxsim/kernel.h>. */
#include <tdxsim/kernel.h>
