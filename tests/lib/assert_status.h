/* SPDX-License-Identifier: GPL-2.0-only */
/* assert_status(): a CMocka assertion that prints SEAMCALL statuses by name. */
#ifndef TDXSIM_TESTS_ASSERT_STATUS_H
#define TDXSIM_TESTS_ASSERT_STATUS_H

#include <tdxsim/tdx_errno.h>

#define assert_status(actual, expected)						\
	do {									\
		u64 __a = (actual), __e = (expected);				\
		char __b1[64], __b2[64];					\
		if (__a != __e)							\
			fail_msg("%s:%d: status %s (%#llx), expected %s (%#llx)",	\
				 __FILE__, __LINE__,				\
				 tdxsim_status_name(__a, __b1, sizeof(__b1)),	\
				 (unsigned long long)__a,			\
				 tdxsim_status_name(__e, __b2, sizeof(__b2)),	\
				 (unsigned long long)__e);			\
	} while (0)

#endif /* TDXSIM_TESTS_ASSERT_STATUS_H */
