/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared fixtures for the libtdxsim CMocka suites: a simulator with one TD,
 * helpers that build S-EPT levels and map pages the way KVM does, and an
 * assert that prints statuses by name.  The fixture teardown fails the test
 * if any module invariant is broken or a page is left allocated.
 */
#ifndef TDXSIM_TESTS_HARNESS_H
#define TDXSIM_TESTS_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/wrappers.h>

#define GPA_2M(n)	(0x40000000ULL + (u64)(n) * 0x200000ULL)

struct fixture {
	struct tdxsim_config cfg;
	struct tdxsim *sim;
	struct tdxsim_td *td;
	struct tdxsim_vcpu *vcpu;
	bool allow_leftover_pages;	/* test leaves pages allocated on purpose */
	bool expect_violations;		/* test breaks invariants on purpose */
};

#include "assert_status.h"

/* Config tweak hook: set before setup by a test group's own setup. */
typedef void (*fixture_cfg_fn)(struct tdxsim_config *cfg);

/* Simulator + INITIALIZED TD (DPAMT and ENHANCED_DEMOTE_INTERRUPTIBILITY on). */
int fx_setup_initialized(void **state);
/* ... + one vCPU, TD finalized (RUNNABLE), vCPU not in guest. */
int fx_setup_runnable(void **state);
/* Same two with static PAMT. */
int fx_setup_initialized_nodpamt(void **state);
int fx_setup_runnable_nodpamt(void **state);
/* Same with ENHANCED_DEMOTE_INTERRUPTIBILITY off. */
int fx_setup_runnable_interruptible(void **state);
/* Create with @cfg_fn applied to the default config; @runnable chooses the TD state. */
int fx_setup_with(void **state, fixture_cfg_fn cfg_fn, bool runnable);
int fx_teardown(void **state);

/* A 4K page for the module; with DPAMT its 2MB range gets a pair first. */
u64 fx_alloc_4k(struct fixture *fx);
/* Install the DPAMT pair of @pa's 2MB range if missing (no-op without DPAMT). */
void fx_ensure_pair(struct fixture *fx, u64 pa);
/* SEPT.ADD the tables so that entries of @level exist for @gpa. */
void fx_map_sept(struct fixture *fx, u64 gpa, int level);
/* AUG (RUNNABLE) a fresh page at @gpa/@level, tables added; returns the HPA. */
u64 fx_aug(struct fixture *fx, u64 gpa, int level);
/* BLOCK + TRACK + kick. */
void fx_block_track(struct fixture *fx, u64 gpa, int level);
/* Demote a 2MB leaf (after fx_block_track in RUNNABLE); returns the new S-EPT page. */
u64 fx_demote(struct fixture *fx, u64 gpa);
/* Remove and give back a page the way KVM does: BLOCK, TRACK, REMOVE, WBINVD, free. */
void fx_remove(struct fixture *fx, u64 gpa, int level);
/* Enter the fixture's vCPU. */
void fx_enter(struct fixture *fx);

/* Run the group with TAP output. */
#define run_group(tests) \
	(cmocka_set_message_output(CM_OUTPUT_TAP), cmocka_run_group_tests(tests, NULL, NULL))

#endif /* TDXSIM_TESTS_HARNESS_H */
