/* SPDX-License-Identifier: GPL-2.0-only */
/* Kernel-style fixed-width types used throughout the public API. */
#ifndef TDXSIM_TYPES_H
#define TDXSIM_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef uint16_t u16;
typedef uint8_t u8;
typedef int64_t s64;
typedef int32_t s32;

#endif /* TDXSIM_TYPES_H */
