/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the sim benchmarks (bench_mmu.c, bench_path.c) both measure with:
 * a clock in nanoseconds and the resident set.  tests/bench/bench_leaves.c
 * reads VmRSS from /proc/self/status instead (in KiB), for its own table.
 */
#ifndef TDXSIM_TESTS_SIM_BENCH_UTIL_H
#define TDXSIM_TESTS_SIM_BENCH_UTIL_H

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static inline unsigned long long bench_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* Resident bytes, from /proc/self/statm (0 when it cannot be read). */
static inline long bench_rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * sysconf(_SC_PAGESIZE);
}

#endif /* TDXSIM_TESTS_SIM_BENCH_UTIL_H */
