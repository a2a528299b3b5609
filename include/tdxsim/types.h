/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel-style fixed-width types used throughout the public API, defined as
 * the kernel defines them on x86-64 (include/uapi/asm-generic/int-ll64.h):
 * u64 is unsigned long long, so "%llx" and a u64 * work in kernel-shaped
 * code exactly as in the kernel.
 */
#ifndef TDXSIM_TYPES_H
#define TDXSIM_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long long s64;
typedef int s32;

#endif /* TDXSIM_TYPES_H */
