/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel shim's private state, shared by lib/host/kernel*.c.  The host
 * layer sees the simulator through include/tdxsim/ only: the shim's state of
 * a simulator is client data attached under a key of its own.
 */
#ifndef TDXSIM_HOST_KERNEL_INTERNAL_H
#define TDXSIM_HOST_KERNEL_INTERNAL_H

#include <tdxsim/kernel.h>

/* A simulator's memmap and direct map (kernel_mm.c). */
struct shim_mm {
	struct page *memmap;		/* one struct page per 4K of simulated memory */
	unsigned long base_pfn;
	unsigned long nr_pages;
	char *shadow;			/* the direct map, NULL until first used */
};

struct shim_state {
	pthread_mutex_t lock;
	unsigned int nr_events[TDXSIM_KEV_NR];
	struct tdxsim_kernel_event last_event[TDXSIM_KEV_NR];
	/* The first TDXSIM_KERNEL_EVENT_LOG events since the last reset, in order. */
	struct tdxsim_kernel_event *log;
	unsigned int nr_log;
	bool verbose;
	void (*lock_hook)(void *lock, void *arg);
	void *lock_hook_arg;
	/* WARN_ON_ONCE/WARN_ONCE sites that fired on this simulator. */
	const void **once_sites;
	size_t nr_once, once_cap;
	/* Published with release semantics once built (memmap, shadow, sysinfo). */
	struct shim_mm *mm;
	struct tdx_sys_info *sysinfo;
};

/* The calling thread's current simulator. */
struct tdxsim *shim_current(void);
/* @sim's state, created on first use when @create; NULL: out of memory / no slot. */
struct shim_state *shim_of(struct tdxsim *sim, bool create);
/* kernel_mm.c: release what the state's memmap holds. */
void shim_mm_release(struct shim_mm *mm);

#endif /* TDXSIM_HOST_KERNEL_INTERNAL_H */
