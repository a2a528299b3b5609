// SPDX-License-Identifier: GPL-2.0-only
/*
 * S-EPT fidelity checks written from the module source
 * (tdh_mem_page_promote.c, 1.5.01 and 2.0.18): PROMOTE's lock order seen
 * through the scheduling hook, its R12/R13 (and version-1 R9-R11) outputs;
 * the 5-level S-EPT of a GPAW-52 TD (verify_page_info_input() against
 * eptp.ept_pwl, the walk from the PML5 root).
 */
#include <string.h>

#include <tdxsim/hook.h>

#include "harness.h"

#define GPA_4K(base, i)		((base) + (u64)(i) * TDX_PAGE_SIZE)
#define R12_SENTINEL		0x1111000ULL
#define R13_SENTINEL		0x2222000ULL

static u64 level_state(int level, u8 state)
{
	return (u64)level | ((u64)state << TDX_SEPT_INFO_STATE_SHIFT);
}

static struct tdxsim_sept_info sept_at(struct fixture *fx, u64 gpa, int level)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, level, &si), 0);
	return si;
}

/* The lock attempts of the PROMOTE calls made while the recorder is on. */
#define MAX_LOCKS	2048

struct lock_log {
	unsigned int n;
	struct tdxsim_hook_event ev[MAX_LOCKS];
};

static void record_locks(void *arg, const struct tdxsim_hook_event *ev)
{
	struct lock_log *log = arg;

	if (ev->point != TDXSIM_HOOK_LOCK || ev->tdcall || ev->leaf != TDH_MEM_PAGE_PROMOTE)
		return;
	if (log->n < MAX_LOCKS)
		log->ev[log->n] = *ev;
	log->n++;
}

/* Index of the first event matching @lock (and @pa / @gpa+@level when not ~0), or -1. */
static int find_lock(const struct lock_log *log, unsigned int from, enum tdxsim_hook_lock lock,
		     u64 pa, u64 gpa, int level)
{
	for (unsigned int i = from; i < log->n && i < MAX_LOCKS; i++) {
		const struct tdxsim_hook_event *e = &log->ev[i];

		if (e->lock != lock)
			continue;
		if (pa != ~0ULL && e->pa != pa)
			continue;
		if (gpa != ~0ULL && (e->gpa != gpa || e->level != level))
			continue;
		return (int)i;
	}
	return -1;
}

static unsigned int count_lock(const struct lock_log *log, enum tdxsim_hook_lock lock, int level)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < log->n && i < MAX_LOCKS; i++)
		n += log->ev[i].lock == lock && log->ev[i].level == level;
	return n;
}

/* A 2MB range at @gpa demoted into 4K children (PENDING); returns the S-EPT page. */
static u64 demoted_range(struct fixture *fx, u64 gpa, u64 *hpa)
{
	*hpa = fx_aug(fx, gpa, TDX_PS_2M);
	fx_block_track(fx, gpa, TDX_PS_2M);
	return fx_demote(fx, gpa);
}

static u64 promote(struct fixture *fx, unsigned int version, u64 gpa, int level,
		   struct tdx_module_args *a)
{
	*a = (struct tdx_module_args){
		.rcx = gpa | (u64)level, .rdx = fx->td->tdr_pa,
		.r9 = 0x9000, .r10 = 0xa000, .r11 = 0xb000,
		.r12 = R12_SENTINEL, .r13 = R13_SENTINEL,
	};
	return tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_PROMOTE | ((u64)version << 16), a);
}

/* The S-EPT page a PROMOTE freed: dirty with the TD's key; clean it and free it. */
static void give_back(struct fixture *fx, u64 pa)
{
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, pa), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, pa, TDX_PS_4K), 0);
}

/*
 * The S-EPT page's PAMT entry is locked (exclusive) right after the parent
 * entry, before the block/track checks: a PROMOTE of an entry that is not
 * blocked has taken it when it answers GPA_RANGE_NOT_BLOCKED, and has locked
 * no child.
 */
static void test_promote_sept_pamt_before_block_check(void **state)
{
	struct fixture *fx = *state;
	static struct lock_log log;
	struct tdx_module_args a;
	u64 gpa = GPA_2M(0), hpa, sept;
	int parent, pamt;

	sept = demoted_range(fx, gpa, &hpa);
	memset(&log, 0, sizeof(log));
	tdxsim_set_hook(fx->sim, record_locks, &log);
	assert_status(promote(fx, 0, gpa, TDX_PS_2M, &a),
		      TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX);
	tdxsim_set_hook(fx->sim, NULL, NULL);
	assert_int_equal(a.rcx, SEPT_ARCH_R | SEPT_ARCH_W | SEPT_ARCH_X);
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED));

	parent = find_lock(&log, 0, TDXSIM_HOOK_LOCK_SEPT_ENTRY, ~0ULL, gpa, TDX_PS_2M);
	pamt = find_lock(&log, 0, TDXSIM_HOOK_LOCK_PAMT, sept, ~0ULL, 0);
	assert_true(parent >= 0);
	assert_true(pamt > parent);
	assert_int_equal(log.ev[pamt].level, TDX_PS_4K);
	assert_true(log.ev[pamt].exclusive);
	assert_true(log.ev[pamt].acquired);
	assert_int_equal(count_lock(&log, TDXSIM_HOOK_LOCK_SEPT_ENTRY, TDX_PS_4K), 0);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_NL_MAPPED);
}

/*
 * The children are locked and checked one at a time: with child 7 removed,
 * children 0-7 are locked, the scan stops there (INVALID_PROMOTE_CONDITIONS
 * with the parent's details) and child 8 is never locked.  The S-EPT page's
 * PAMT entry was locked before the first child.
 */
static void test_promote_children_one_at_a_time(void **state)
{
	struct fixture *fx = *state;
	static struct lock_log log;
	struct tdx_module_args a;
	u64 gpa = GPA_2M(0), hpa, sept, e1, e2;
	int pamt, child0;

	sept = demoted_range(fx, gpa, &hpa);
	fx_remove(fx, GPA_4K(gpa, 7), TDX_PS_4K);
	fx_block_track(fx, gpa, TDX_PS_2M);
	memset(&log, 0, sizeof(log));
	tdxsim_set_hook(fx->sim, record_locks, &log);
	assert_status(promote(fx, 0, gpa, TDX_PS_2M, &a),
		      TDX_EPT_INVALID_PROMOTE_CONDITIONS | TDX_OPERAND_ID_RCX);
	tdxsim_set_hook(fx->sim, NULL, NULL);
	assert_int_equal(a.rcx, 0);	/* NL_BLOCKED: no RWX, no address */
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_NL_BLOCKED));

	assert_int_equal(count_lock(&log, TDXSIM_HOOK_LOCK_SEPT_ENTRY, TDX_PS_4K), 8);
	for (unsigned int i = 0; i < 8; i++) {
		int k = find_lock(&log, 0, TDXSIM_HOOK_LOCK_SEPT_ENTRY, ~0ULL, GPA_4K(gpa, i),
				  TDX_PS_4K);

		assert_true(k >= 0);
		assert_true(log.ev[k].acquired);
	}
	assert_int_equal(find_lock(&log, 0, TDXSIM_HOOK_LOCK_SEPT_ENTRY, ~0ULL, GPA_4K(gpa, 8),
				   TDX_PS_4K), -1);
	pamt = find_lock(&log, 0, TDXSIM_HOOK_LOCK_PAMT, sept, ~0ULL, 0);
	child0 = find_lock(&log, 0, TDXSIM_HOOK_LOCK_SEPT_ENTRY, ~0ULL, gpa, TDX_PS_4K);
	assert_true(pamt >= 0 && pamt < child0);
	/* The merged page's PAMT entry is never reached. */
	assert_int_equal(find_lock(&log, 0, TDXSIM_HOOK_LOCK_PAMT, hpa, ~0ULL, 0), -1);
	/* Every child lock was given back: once unblocked, child 0 can be removed. */
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	fx_remove(fx, gpa, TDX_PS_4K);
}

/*
 * Without Dynamic PAMT a 2MB PROMOTE leaves R12/R13 as the caller set them;
 * version 1 sets R9-R11 to NULL_PA (no L2 S-EPT page freed).
 */
static void test_promote_no_dpamt_keeps_r12_r13(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a;
	u64 gpa = GPA_2M(0), hpa, sept;

	assert_false(fx->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT);
	sept = demoted_range(fx, gpa, &hpa);
	fx_block_track(fx, gpa, TDX_PS_2M);
	assert_status(promote(fx, 1, gpa, TDX_PS_2M, &a), TDX_SUCCESS);
	assert_int_equal(a.rcx, sept);
	assert_int_equal(a.r12, R12_SENTINEL);
	assert_int_equal(a.r13, R13_SENTINEL);
	assert_int_equal(a.r9, TDX_NULL_PA);
	assert_int_equal(a.r10, TDX_NULL_PA);
	assert_int_equal(a.r11, TDX_NULL_PA);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).hpa, hpa);
	give_back(fx, sept);
}

/*
 * The two PAMT entries PROMOTE locks itself are locked directly, without a
 * walk (tdh_mem_page_promote.c: pamt_implicit_get_and_lock() on the S-EPT
 * page; pamt_manager.c pamt_promote(): acquire_sharex_lock_hp_ex() on the
 * merged entry): after the parent S-EPT entry is locked, no 1GB entry is
 * tried, and the merged 2MB entry is tried once, exclusive (a walk would take
 * it shared, then promote).  Only the TDR's walk, before, holds a 1GB entry.
 */
static void test_promote_pamt_locks_no_walk(void **state)
{
	struct fixture *fx = *state;
	static struct lock_log log;
	struct tdx_module_args a;
	u64 gpa = GPA_2M(0), hpa, sept;
	unsigned int n_1g = 0, n_merged = 0;
	int parent, pamt, merged;

	sept = demoted_range(fx, gpa, &hpa);
	fx_block_track(fx, gpa, TDX_PS_2M);
	memset(&log, 0, sizeof(log));
	tdxsim_set_hook(fx->sim, record_locks, &log);
	assert_status(promote(fx, 0, gpa, TDX_PS_2M, &a), TDX_SUCCESS);
	tdxsim_set_hook(fx->sim, NULL, NULL);
	assert_true(log.n <= MAX_LOCKS);
	assert_int_equal(a.rcx & ~TDX_PAMT_REMOVAL_HINT, sept);

	parent = find_lock(&log, 0, TDXSIM_HOOK_LOCK_SEPT_ENTRY, ~0ULL, gpa, TDX_PS_2M);
	assert_true(parent >= 0);
	for (unsigned int i = 0; i < log.n; i++) {
		const struct tdxsim_hook_event *e = &log.ev[i];

		if (e->lock != TDXSIM_HOOK_LOCK_PAMT)
			continue;
		assert_true(e->acquired);
		if (e->level == TDX_PS_1G) {
			n_1g++;
			assert_true((int)i < parent);	/* the TDR's walk */
		}
		if (e->pa == hpa && e->level == TDX_PS_2M)
			n_merged++;
	}
	assert_int_equal(n_1g, 1);
	assert_int_equal(n_merged, 1);

	pamt = find_lock(&log, parent, TDXSIM_HOOK_LOCK_PAMT, sept, ~0ULL, 0);
	assert_true(pamt > parent);
	assert_int_equal(log.ev[pamt].level, TDX_PS_4K);
	assert_true(log.ev[pamt].exclusive);
	merged = find_lock(&log, pamt, TDXSIM_HOOK_LOCK_PAMT, hpa, ~0ULL, 0);
	assert_true(merged > pamt);
	assert_int_equal(log.ev[merged].level, TDX_PS_2M);
	assert_true(log.ev[merged].exclusive);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).hpa, hpa);
	give_back(fx, sept);
	if (fx->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT) {	/* the pair came back */
		assert_int_equal(tdxsim_page_free(fx->sim, a.r12, TDX_PS_4K), 0);
		assert_int_equal(tdxsim_page_free(fx->sim, a.r13, TDX_PS_4K), 0);
	}
}

/* Version 1 sets R9-R11 to NULL_PA on failure too; version 0 leaves them. */
static void test_promote_v1_r9_r11_on_failure(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a;

	assert_status(promote(fx, 1, GPA_2M(0), TDX_PS_4K, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.r9, TDX_NULL_PA);
	assert_int_equal(a.r10, TDX_NULL_PA);
	assert_int_equal(a.r11, TDX_NULL_PA);
	assert_int_equal(a.r12, R12_SENTINEL);
	assert_status(promote(fx, 0, GPA_2M(0), TDX_PS_4K, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.r9, 0x9000);
	assert_int_equal(a.r11, 0xb000);
}

/* 2GB of memory: the top 1GB [2G, 3G) stays free for a 1GB-aligned block. */
static void cfg_2g(struct tdxsim_config *cfg)
{
	cfg->mem_size = 2ULL << 30;
}

static int setup_2g(void **state)
{
	return fx_setup_with(state, cfg_2g, true);
}

/* The 512 2MB blocks of the 1GB-aligned range at @base, allocated from the host. */
static void alloc_1g_block(struct fixture *fx, u64 base)
{
	static u64 other[1024];
	unsigned int got = 0, n_other = 0;
	u64 pa;

	while (got < 512 && (pa = tdxsim_page_alloc(fx->sim, TDX_PS_2M))) {
		if (pa >= base && pa < base + (1ULL << 30))
			got++;
		else
			other[n_other++] = pa;
	}
	assert_int_equal(got, 512);
	while (n_other)
		assert_int_equal(tdxsim_page_free(fx->sim, other[--n_other], TDX_PS_2M), 0);
}

/*
 * With Dynamic PAMT on, a 1GB PROMOTE leaves R12/R13 alone: the pair comes
 * back only from a 2MB promote (tdh_mem_page_promote.c:
 * dynamic_pamt_enabled && level == PT_2MB).
 */
static void test_promote_1g_keeps_r12_r13(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = 4ULL << 30, base = fx->cfg.mem_base + (1ULL << 30), sept, e1, e2;
	struct tdx_module_args a;

	assert_true(fx->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT);
	alloc_1g_block(fx, base);
	fx_map_sept(fx, gpa, TDX_PS_2M);
	sept = sept_at(fx, gpa, TDX_PS_1G).hpa;	/* the table of the 2MB entries */
	for (unsigned int i = 0; i < 512; i++)
		assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa + i * 0x200000ULL, TDX_PS_2M,
						      (base + i * 0x200000ULL) >> 12, &e1, &e2),
			      TDX_SUCCESS);
	fx_block_track(fx, gpa, TDX_PS_1G);
	assert_status(promote(fx, 0, gpa, TDX_PS_1G, &a), TDX_SUCCESS);
	assert_int_equal(a.rcx & ~TDX_PAMT_REMOVAL_HINT, sept);
	assert_int_equal(a.r12, R12_SENTINEL);
	assert_int_equal(a.r13, R13_SENTINEL);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_1G).state, SEPT_PUBLIC_PENDING);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_1G).hpa, base);
	give_back(fx, sept);
}

/* ---------------------------------------------------------------------------
 * GPAW 52: a 5-level S-EPT.  The root holds level-4 entries; the leaves that
 * take any level (SEPT.ADD/REMOVE, BLOCK/UNBLOCK) accept up to the TD's
 * page-walk length (eptp.ept_pwl = 4), the walk starts at level 4, and bits
 * 51:48 of a GPA select a level-4 entry.  Bit 51 is the shared bit.
 */

static void cfg_gpaw52(struct tdxsim_config *cfg)
{
	cfg->gpaw = 52;
}

static int setup_gpaw52(void **state)
{
	return fx_setup_with(state, cfg_gpaw52, true);
}

#define GPA_HI		(0x3ULL << 48)	/* private, bits 49:48 set */

/* A missing level-4 table: the walk fails at level 4, which RDX reports. */
static void test_5level_walk_fails_at_level_4(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), e1, e2;

	assert_status(tdxsim_tdh_mem_sept_add(fx->td, 0, 3, page, &e1, &e2),
		      TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX);
	assert_int_equal(e1, SEPT_ARCH_SVE);
	assert_int_equal(e2, level_state(4, SEPT_PUBLIC_FREE));
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, GPA_HI, TDX_PS_4K, page >> 12, &e1, &e2),
		      TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX);
	assert_int_equal(e2, level_state(4, SEPT_PUBLIC_FREE));
	/* Level 4 is a root entry: SEPT.ADD takes it; level 5 does not exist. */
	assert_status(tdxsim_tdh_mem_sept_add(fx->td, 0, 5, page, &e1, &e2),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(tdxsim_tdh_mem_sept_add(fx->td, 0, 4, page, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, 0, 4).state, SEPT_PUBLIC_NL_MAPPED);
	assert_int_equal(sept_at(fx, 0, 4).hpa, page);
	assert_int_equal(sept_at(fx, 0, 3).state, SEPT_PUBLIC_FREE);
}

/* GPAs that differ only in bits 51:48 are different pages. */
static void test_5level_high_bits_distinct(void **state)
{
	struct fixture *fx = *state;
	u64 lo = GPA_2M(0), hi = GPA_2M(0) | GPA_HI, p_lo, p_hi, e1, e2;

	p_lo = fx_aug(fx, lo, TDX_PS_4K);
	p_hi = fx_aug(fx, hi, TDX_PS_4K);
	assert_true(p_lo != p_hi);
	assert_int_equal(sept_at(fx, lo, TDX_PS_4K).hpa, p_lo);
	assert_int_equal(sept_at(fx, hi, TDX_PS_4K).hpa, p_hi);
	assert_int_equal(sept_at(fx, lo, 4).hpa != sept_at(fx, hi, 4).hpa, true);
	/* Removing one leaves the other mapped. */
	fx_remove(fx, hi, TDX_PS_4K);
	assert_int_equal(sept_at(fx, lo, TDX_PS_4K).state, SEPT_PUBLIC_PENDING);
	assert_int_equal(sept_at(fx, hi, TDX_PS_4K).state, SEPT_PUBLIC_FREE);
	/* Bit 51 is the shared bit: not a private GPA. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, lo | (1ULL << 51), TDX_PS_4K, p_lo >> 12,
					      &e1, &e2), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
}

/* BLOCK/UNBLOCK and SEPT.REMOVE take level 4 too (ept_pwl). */
static void test_5level_block_remove_level_4(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2, table;

	fx_map_sept(fx, GPA_HI, 3);	/* the level-4 entry only */
	table = sept_at(fx, GPA_HI, 4).hpa;
	fx_block_track(fx, GPA_HI, 4);
	assert_int_equal(sept_at(fx, GPA_HI, 4).state, SEPT_PUBLIC_NL_BLOCKED);
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, GPA_HI, 4, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, GPA_HI, 4).state, SEPT_PUBLIC_NL_MAPPED);
	fx_block_track(fx, GPA_HI, 4);
	assert_status(tdxsim_tdh_mem_sept_remove(fx->td, GPA_HI, 4, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1 & ~TDX_PAMT_REMOVAL_HINT, table);
	assert_int_equal(sept_at(fx, GPA_HI, 4).state, SEPT_PUBLIC_FREE);
	give_back(fx, table);
}

/* GPAW 48 keeps 4 levels: level 4 is out of range for every leaf. */
static void test_4level_no_level_4(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), e1, e2;

	assert_int_equal(fx->cfg.gpaw, 48);
	assert_status(tdxsim_tdh_mem_sept_add(fx->td, 0, 4, page, &e1, &e2),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, 0, 4, &e1, &e2),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	/* The root holds level-3 entries: SEPT.ADD at level 3 needs no walk. */
	assert_status(tdxsim_tdh_mem_sept_add(fx->td, 0, 3, page, &e1, &e2), TDX_SUCCESS);
}

#define T(fn, setup)	cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_promote_sept_pamt_before_block_check, fx_setup_runnable),
		T(test_promote_children_one_at_a_time, fx_setup_runnable),
		T(test_promote_no_dpamt_keeps_r12_r13, fx_setup_runnable_nodpamt),
		T(test_promote_pamt_locks_no_walk, fx_setup_runnable),
		T(test_promote_pamt_locks_no_walk, fx_setup_runnable_nodpamt),
		T(test_promote_v1_r9_r11_on_failure, fx_setup_runnable),
		T(test_promote_1g_keeps_r12_r13, setup_2g),
		T(test_5level_walk_fails_at_level_4, setup_gpaw52),
		T(test_5level_high_bits_distinct, setup_gpaw52),
		T(test_5level_block_remove_level_4, setup_gpaw52),
		T(test_4level_no_level_4, fx_setup_runnable),
	};

	return run_group(tests);
}
