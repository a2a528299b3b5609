/* SPDX-License-Identifier: GPL-2.0-only */
/* Private to lib/module/: basic definitions shared by every manager. */
#ifndef TDXSIM_MODULE_DEFS_H
#define TDXSIM_MODULE_DEFS_H

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/queue.h>

/*
 * uthash exits the process (uthash_fatal -> exit(-1)) when it cannot
 * allocate a table or grow it; the library never exits.  Non-fatal mode: a
 * HASH_ADD that runs out of memory leaves the element out (hash_add_failed()
 * tells) and the table as it was, and the caller fails the call.
 */
#define HASH_NONFATAL_OOM	1
#define uthash_nonfatal_oom(elt)	do { } while (0)
#define uthash_fatal(msg)	do { } while (0)	/* unused in non-fatal mode */
#include <uthash.h>

/* After HASH_ADD(hh, ...): the element is not in the table (out of memory). */
#define hash_add_failed(elt)	((elt)->hh.tbl == NULL)

#include <tdxsim/tdxsim.h>
#include <tdxsim/fault.h>
#include <tdxsim/trace.h>

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

#define PAGE_SHIFT		12
#define PAGE_SIZE		(1ULL << PAGE_SHIFT)
#define SZ_2M			(1ULL << 21)
#define SZ_1G			(1ULL << 30)
#define PAGES_PER_2M		512
#define PTRS_PER_TABLE		512

/*
 * The module's MAX_PA (x86_defs.h): its "smaller than MAX_PA" operand checks
 * use the architectural 52 bits whatever the platform's width.
 */
#define MAX_PA			52

#define api_error_with_operand_id(err, id)	((err) | (u64)(id))

#endif /* TDXSIM_MODULE_DEFS_H */
