// SPDX-License-Identifier: GPL-2.0-only
/*
 * Defect switches of the KVM model: each scenario holds with its switch off
 * and breaks with it on, so a reviewer's bug can be replayed.  Run for both
 * hook designs; where a switch only exists in one design, the test says so.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tdxsim/fault.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/vcpu.h>
#include <tdxsim-kvm/vm.h>

#include "recording_ops.h"
#include "tdx_fixture.h"

#define BASE_GFN	0x100000ULL
#define NPAGES		1024UL
#define PFN_2M		0x80000ULL

struct vm {
	struct rec_backend rec;
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
};

static void vm_create(struct vm *vm, unsigned int defects)
{
	rec_init(&vm->rec);
	rec_defects = defects;
	vm->kvm = rec_create_vm(&vm->rec, BASE_GFN, NPAGES);
	rec_defects = 0;
	assert_non_null(vm->kvm);
	vm->vcpu = tdxsim_kvm_vcpu_create(vm->kvm, 0);
	assert_non_null(vm->vcpu);
	tdxsim_kernel_events_reset(NULL);
}

static void vm_destroy(struct vm *vm)
{
	tdxsim_kvm_vcpu_destroy(vm->vcpu);
	tdxsim_kvm_destroy(vm->kvm);
	rec_fini(&vm->rec);
	tdxsim_kernel_events_reset(NULL);
}

static int fault(struct vm *vm, gfn_t gfn, int *level)
{
	return kvm_mmu_do_page_fault(vm->vcpu, gfn << 12, PFERR_PRIVATE_ACCESS, level);
}

static void map_2m(struct vm *vm)
{
	int level;

	assert_int_equal(tdxsim_kvm_gmem_set_folio(vm->kvm, BASE_GFN, PFN_2M, 9), 0);
	assert_int_equal(fault(vm, BASE_GFN, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_2M);
}

/*
 * 001 (Kai): a split-path table starts as raw zeroes instead of
 * SHADOW_NONPRESENT_VALUE; a raw 0 in a TDX table is the hazard I13 names.
 */
static bool split_sp_starts_nonpresent(unsigned int defects)
{
	struct kvm_mmu_page *sp;
	struct vm vm;
	int i, ok = 0;

	vm_create(&vm, defects);
	sp = tdp_mmu_alloc_sp_for_split(vm.kvm, true);
	assert_non_null(sp);
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
		ok += sp->spt[i] == SHADOW_NONPRESENT_VALUE;
	tdp_mmu_free_sp(vm.kvm, sp);
	vm_destroy(&vm);
	return ok == SPTE_ENT_PER_PAGE;
}

static void test_defect_split_spt_zero(void **state)
{
	assert_true(split_sp_starts_nonpresent(0));
	assert_false(split_sp_starts_nonpresent(TDXSIM_KVM_DEFECT_SPLIT_SPT_ZERO));
}

/*
 * Spec §6.1: -ENOMEM from the split comes back as 1.  The attribute pre-set
 * handler takes 1 for "flush", skips the zap, and the conversion goes on:
 * the GFN is shared while the mirror still maps it private (I7a/I7b, I19).
 */
static bool conversion_enomem_is_clean(unsigned int defects)
{
	gfn_t g = BASE_GFN + 5;
	bool ok;
	int r;

	struct vm vm;

	vm_create(&vm, defects);
	map_2m(&vm);
	vm.rec.page_fail_nth = vm.rec.page_allocs + 1;	/* the split sp's external_spt */
	r = kvm_vm_set_mem_attributes(vm.kvm, g, g + 1, 0);
	ok = r == -ENOMEM && kvm_mem_is_private(vm.kvm, g);
	/* Whatever came back: no shared GFN may stay mapped in the mirror. */
	if (!kvm_mem_is_private(vm.kvm, g) && kvm_tdp_mmu_read_mirror(vm.kvm, g, NULL))
		ok = false;
	vm_destroy(&vm);
	return ok;
}

static void test_defect_cross_boundary_bool(void **state)
{
	assert_true(conversion_enomem_is_clean(0));
	assert_false(conversion_enomem_is_clean(TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL));
}

/* The return value itself (the checker's I19): negative, never positive. */
static void test_defect_cross_boundary_bool_return(void **state)
{
	struct kvm_gfn_range range = {
		.start = BASE_GFN + 5, .end = BASE_GFN + 6,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	unsigned int defects[] = { 0, TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL };
	int expect[] = { -ENOMEM, 1 };
	int i;

	for (i = 0; i < 2; i++) {
		struct vm vm;

		vm_create(&vm, defects[i]);
		map_2m(&vm);
		vm.rec.page_fail_nth = vm.rec.page_allocs + 1;
		KVM_MMU_LOCK(vm.kvm);
		assert_int_equal(kvm_split_cross_boundary_leafs(vm.kvm, &range, false), expect[i]);
		KVM_MMU_UNLOCK(vm.kvm);
		vm_destroy(&vm);
	}
}

/*
 * 000/001: a table page the backend could not take back (free_external_spt
 * failed) is still the module's; v3 KVM must leak it (external_spt = NULL),
 * not free it.  upstream moved that into the backend's free_external_spt,
 * so the switch has no effect there.
 */
static bool owned_page_never_freed(unsigned int defects)
{
	struct vm vm;
	bool ok;

	vm_create(&vm, defects);
	assert_int_equal(tdxsim_kvm_gmem_set_folio(vm.kvm, BASE_GFN, PFN_2M, 0), 0);
	assert_int_equal(fault(&vm, BASE_GFN, NULL), RET_PF_FIXED);
	vm.rec.fail_hook = REC_FREE;
	vm.rec.fail_nth = 1;
	vm.rec.fail_err = -EIO;
	KVM_MMU_LOCK(vm.kvm);
	tdp_mmu_zap_root(vm.kvm, vm.kvm->mirror_root, false);
	KVM_MMU_UNLOCK(vm.kvm);
	ok = vm.rec.violations == 0 && vm.rec.nmodule_owned == 1;
	vm_destroy(&vm);
	return ok;
}

static void test_defect_free_owned_external_spt(void **state)
{
	assert_true(owned_page_never_freed(0));
	if (rec_design == KVM_MMU_DESIGN_V3)
		assert_false(owned_page_never_freed(TDXSIM_KVM_DEFECT_FREE_OWNED_EXT_SPT));
	else
		assert_true(owned_page_never_freed(TDXSIM_KVM_DEFECT_FREE_OWNED_EXT_SPT));
}


/* ---- the backend's switches (sim/tdx), on a TDX VM against the module ---- */

static struct tdxsim_sept_info sept_at(struct tdx_fixture *fx, gfn_t gfn, int tdx_level)
{
	struct tdxsim_sept_info si = { 0 };

	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->std, gfn << PAGE_SHIFT, tdx_level,
						  &si), 0);
	return si;
}

/*
 * Split the 2M leaf of range 0 to 4K under the write lock, as the accept
 * path does.  upstream: from this host thread (no vCPU) the split takes
 * the per-VM PAMT cache, whose mutex it must hold (v5, kvm-upstream.md §5).
 */
static int split_range0(struct tdx_fixture *fx)
{
	int r;

#ifdef TEST_DESIGN_UPSTREAM
	mutex_lock(&fx->kvm_tdx->pamt_cache_lock);
#endif
	KVM_MMU_LOCK(fx->kvm);
	r = tdp_mmu_split_huge_pages_root(fx->kvm, fx->kvm->mirror_root, FX_BASE_GFN,
					  FX_BASE_GFN + 512, PG_LEVEL_4K, false, false);
	KVM_MMU_UNLOCK(fx->kvm);
#ifdef TEST_DESIGN_UPSTREAM
	mutex_unlock(&fx->kvm_tdx->pamt_cache_lock);
#endif
	return r;
}

/*
 * The events the test provoked, and for a VM bugged with the mirror split
 * over the module's 2M leaf, what its teardown adds: the 512 4K RECLAIMs
 * of a 2M page fail (TDX_BUG_ON each), the 4K table's free WARNs (v3) and
 * its S-EPT page is leaked (tests/sim/test_tdx.c's busy-twice case).
 */
static void declare_events(struct tdx_fixture *fx, bool split_over_2m)
{
	fx->expect.vm_bugged = fx->kvm->vm_bugged;
	fx->expect.warn = tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN);
	fx->expect.tdx_bug = tdxsim_kernel_events(fx->sim, TDXSIM_KEV_TDX_BUG);
	fx->expect.kvm_bug = tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG);
	if (!split_over_2m)
		return;
	fx->expect.tdx_bug += 513;
	fx->expect.pages_leaked = 1;
#ifndef TEST_DESIGN_UPSTREAM
	fx->expect.warn++;
#endif
}

static unsigned int check_count(struct tdx_fixture *fx, enum kvm_check_inv inv)
{
	static struct kvm_check_report rep;

	kvm_tdx_check(fx->kvm, &rep);
	return rep.count[inv];
}

/*
 * consume-without-recheck (004, S25): the consumer's re-check under the
 * cache lock is the backstop when the cache comes up short at a split.
 * In v3's protocol the MMU re-checks need_topup under the write lock it
 * splits under, so two splitters cannot interleave there (S25's "answered"
 * part); the read-lock variant that needs the backstop is refused by TDX.
 * The test reaches the consumer with an empty cache the one way the model
 * has: a user's backend table without need_topup (an absent optional op
 * means "no top-up needed").  Off: -ENOMEM, the VM bugged by KVM_BUG_ON
 * before any SEAMCALL, the S-EPT untouched, I3 holds.  On: it dequeues
 * from the empty cache, BLOCKs the 2M leaf, and DEMOTE finds no pair:
 * TDX_SW_ERROR, the leaf left BLOCKED, I3 broken.
 */
static struct kvm_x86_ops ops_no_need_topup;

static void test_backend_consume_without_recheck(void **state)
{
	struct tdx_fixture *fx = *state;
	bool on = fx->kvm->defects & TDXSIM_KVM_DEFECT_CONSUME_WITHOUT_RECHECK;
	struct tdxsim_sept_info si;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
#ifdef TEST_DESIGN_UPSTREAM
	/*
	 * upstream (v5, kvm-upstream.md §5) has no consumer re-check to skip:
	 * pamt_cache_lock, held from top-up to split, is the protection.  A
	 * host thread holding it, with need_topup absent, brings the empty
	 * per-VM cache to the split, on or off alike: BLOCK, then DEMOTE
	 * finds no pair (TDX_SW_ERROR, I3 from the wrapper), the leaf BLOCKED.
	 */
	(void)on;
	split_range0(fx);
	assert_true(fx->kvm->vm_bugged);
	si = sept_at(fx, FX_BASE_GFN, TDX_PS_2M);
	assert_true(si.leaf);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING_BLOCKED);
	assert_int_equal(check_count(fx, KVM_INV_SPLIT_DEQUEUE), 1);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_RANGE_BLOCK, TDX_SUCCESS), 1);
	kvm_check_ledger_reset(fx->sim);
	fx->module_dirty = true;
	declare_events(fx, true);
	return;
#endif
	split_range0(fx);
	assert_true(fx->kvm->vm_bugged);
	si = sept_at(fx, FX_BASE_GFN, TDX_PS_2M);
	assert_true(si.leaf);
	if (on) {
		assert_int_equal(si.state, SEPT_PUBLIC_PENDING_BLOCKED);
		assert_int_equal(check_count(fx, KVM_INV_SPLIT_DEQUEUE), 2);
		assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_RANGE_BLOCK, TDX_SUCCESS), 1);
	} else {
		assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
		assert_int_equal(check_count(fx, KVM_INV_SPLIT_DEQUEUE), 0);
		assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_RANGE_BLOCK, TDX_SUCCESS), 0);
	}
	kvm_check_ledger_reset(fx->sim);
	fx->module_dirty = true;	/* a BLOCKED leaf of a bugged VM */
	declare_events(fx, true);
}

/*
 * aug-2m-over-pair: a failed PAMT.REMOVE leaves a 2MB range's pair
 * installed (tdx_pamt_put keeps its count at 1).  A 2M folio there, mapped
 * later: off, the backend maps it at 4K (the static 2M PAMT entry is the
 * pair's); on, it AUGs at 2M and the module refuses: TDX_BUG, VM bugged.
 */
static void test_backend_aug_2m_over_pair(void **state)
{
	struct tdx_fixture *fx = *state;
	bool on = fx->kvm->defects & TDXSIM_KVM_DEFECT_AUG_2M_OVER_PAIR;
	u64 gpa = (FX_BASE_GFN << PAGE_SHIFT) + (64ULL << 20);
	struct folio *folio = folio_alloc(GFP_KERNEL, PMD_SHIFT - PAGE_SHIFT);
	struct tdxsim_fault_rule r;
	struct tdxsim_pamt_info pi;
	int level = 0, ret;

	assert_non_null(folio);
	assert_int_equal(tdx_pamt_get(&folio->page, NULL), 0);
	tdxsim_fault_rule_init(&r, TDH_PHYMEM_PAMT_REMOVE, TDXSIM_FAULT_STATUS, TDX_OPERAND_BUSY);
	r.nth = 1;
	assert_true(tdxsim_fault_add(fx->sim, &r) >= 0);
	tdx_pamt_put(&folio->page);
	tdxsim_fault_clear(fx->sim);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, folio_pfn(folio) << PAGE_SHIFT, &pi), 0);
	assert_true(pi.dpamt_pair);
	assert_int_equal(atomic_read(tdx_find_pamt_refcount(folio_pfn(folio))), 1);

	assert_int_equal(tdxsim_vm_add_memslot(fx->vm, 1, gpa, PMD_SIZE, TDXSIM_SLOT_PRIVATE), 0);
	assert_int_equal(tdxsim_kvm_gmem_set_folio(fx->kvm, gpa >> PAGE_SHIFT, folio_pfn(folio), 9),
			 0);
	ret = kvm_tdp_map_page(fx->vcpu, gpa, PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK, &level);
	if (on) {
		assert_int_not_equal(ret, 0);
		assert_true(fx->kvm->vm_bugged);
		assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_TDX_BUG), 1);
	} else {
		struct kvm_gfn_range range = {
			.slot = gfn_to_memslot(fx->kvm, gpa >> PAGE_SHIFT),
			.start = gpa >> PAGE_SHIFT, .end = (gpa + PMD_SIZE) >> PAGE_SHIFT,
			.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
		};

		assert_int_equal(ret, 0);
		assert_int_equal(level, PG_LEVEL_4K);
		assert_false(fx->kvm->vm_bugged);
		assert_int_equal(atomic_read(tdx_find_pamt_refcount(folio_pfn(folio))), 2);
		KVM_MMU_LOCK(fx->kvm);
		kvm_unmap_gfn_range(fx->kvm, &range);
		KVM_MMU_UNLOCK(fx->kvm);
	}
	/* The count the failed REMOVE kept: dropped, the pair goes. */
	tdx_pamt_put(&folio->page);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, folio_pfn(folio) << PAGE_SHIFT, &pi), 0);
	assert_false(pi.dpamt_pair);
	/* Nothing maps it now (unmapped, or never AUG'ed). */
	folio_put(folio);
	kvm_check_ledger_reset(fx->sim);
	declare_events(fx, false);
}

/*
 * no-kick-before-retry (S09 ii): a vCPU that re-enters between TRACK's kick
 * and DEMOTE makes DEMOTE BUSY (a BUSY|SEPT rule stands for it); it stays
 * out only when kicked while entry is blocked (wait_for_sept_zap).  Off:
 * the retry succeeds.  On: the retry is BUSY again: TDX_BUG_ON, VM bugged.
 */
static void (*orig_kick)(struct kvm_tdx *kvm_tdx);
static struct tdxsim *kick_sim;

static void kick_clears_contention(struct kvm_tdx *kvm_tdx)
{
	if (READ_ONCE(kvm_tdx->wait_for_sept_zap))
		tdxsim_fault_clear(kick_sim);
	if (orig_kick)
		orig_kick(kvm_tdx);
}

static void test_backend_no_kick_before_retry(void **state)
{
	struct tdx_fixture *fx = *state;
	bool on = fx->kvm->defects & TDXSIM_KVM_DEFECT_NO_KICK_BEFORE_RETRY;
	struct tdxsim_fault_rule r;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	tdxsim_fault_rule_init(&r, TDH_MEM_PAGE_DEMOTE, TDXSIM_FAULT_STATUS,
			       TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT);
	assert_true(tdxsim_fault_add(fx->sim, &r) >= 0);
	orig_kick = fx->kvm_tdx->kick_vcpus;
	kick_sim = fx->sim;
	fx->kvm_tdx->kick_vcpus = kick_clears_contention;
	split_range0(fx);
	fx->kvm_tdx->kick_vcpus = orig_kick;
	tdxsim_fault_clear(fx->sim);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_DEMOTE,
					    TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT), on ? 2 : 1);
	assert_int_equal(fx->kvm->vm_bugged, on);
	if (!on) {
		assert_int_equal(sept_at(fx, FX_BASE_GFN, TDX_PS_4K).state, SEPT_PUBLIC_PENDING);
		assert_int_equal(check_count(fx, KVM_INV_SPLIT_SHAPE), 0);
	}
	kvm_check_ledger_reset(fx->sim);
	fx->module_dirty = on;	/* the 2M leaf BLOCKED under a 4K mirror table */
	declare_events(fx, on);
}

/*
 * skip-track (S12 b): DEMOTE right after BLOCK, no TRACK: the module
 * refuses with TDX_TLB_TRACKING_NOT_DONE, TDX_BUG_ON, VM bugged.  Off: the
 * split succeeds.
 */
static void test_backend_skip_track(void **state)
{
	struct tdx_fixture *fx = *state;
	bool on = fx->kvm->defects & TDXSIM_KVM_DEFECT_SKIP_TRACK;
	struct tdxsim_leaf_stats st;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	split_range0(fx);
	assert_int_equal(fx->kvm->vm_bugged, on);
	assert_int_equal(tdxsim_stats_leaf(fx->sim, TDH_MEM_TRACK, &st), 0);
	assert_int_equal(st.calls, on ? 0 : 1);
	assert_int_equal(tdxsim_stats_leaf(fx->sim, TDH_MEM_PAGE_DEMOTE, &st), 0);
	assert_int_equal(st.calls, 1);
	assert_int_equal(st.statuses[0].status & ~0xffffffffULL,
			 on ? TDX_TLB_TRACKING_NOT_DONE : TDX_SUCCESS);
	kvm_check_ledger_reset(fx->sim);
	fx->module_dirty = on;
	declare_events(fx, on);
}

/*
 * skip-sept-page-pamt-get (S27d): the split's new S-EPT page must lie in a
 * 2M region without a Dynamic-PAMT pair, or the missing get changes
 * nothing.  Host pages are taken until one opens such a region (the
 * allocator then serves the split from it); they stay taken until the end.
 * Off: tdx_pamt_get() installs the region's pair, DEMOTE succeeds.  On:
 * DEMOTE -> TDX_MISSING_PAMT_PAGE_PAIR, TDX_BUG_ON, VM bugged.
 */
static void test_backend_skip_sept_page_pamt_get(void **state)
{
	struct tdx_fixture *fx = *state;
	bool on = fx->kvm->defects & TDXSIM_KVM_DEFECT_SKIP_SEPT_PAGE_PAMT_GET;
	struct tdxsim_leaf_stats st;
	struct page *held[PTRS_PER_PMD + 1];
	int n = 0, i;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	do {
		u64 pfn;

		held[n] = alloc_page(GFP_KERNEL);
		assert_non_null(held[n]);
		pfn = page_to_pfn(held[n++]);
		if (pfn % PTRS_PER_PMD != PTRS_PER_PMD - 1 &&
		    !atomic_read(tdx_find_pamt_refcount(ALIGN_DOWN(pfn, PTRS_PER_PMD))))
			break;
	} while (n < (int)ARRAY_SIZE(held));
	assert_true(n < (int)ARRAY_SIZE(held));

	split_range0(fx);
	assert_int_equal(fx->kvm->vm_bugged, on);
	assert_int_equal(tdxsim_stats_leaf(fx->sim, TDH_MEM_PAGE_DEMOTE, &st), 0);
	assert_int_equal(st.calls, 1);
	assert_int_equal(st.statuses[0].status & ~0xffffffffULL,
			 on ? TDX_MISSING_PAMT_PAGE_PAIR : TDX_SUCCESS);
	for (i = 0; i < n; i++)
		__free_page(held[i]);
	kvm_check_ledger_reset(fx->sim);
	fx->module_dirty = on;
	declare_events(fx, on);
}

/*
 * ignore-demote-feature-bit (S07): a module without
 * ENHANCED_DEMOTE_INTERRUPTIBILITY.  Off: tdx_huge_page is forced off
 * (003:P24), the fault maps 4K and a split has nothing to do.  On: the fault
 * maps 2M and the split's DEMOTE wrapper returns TDX_SW_ERROR without a
 * SEAMCALL: TDX_BUG_ON, the VM bugged.
 */
static void split_without_demote_bit(bool on)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm_summary sum;
	struct tdxsim_leaf_stats st;
	const u64 gpa = 0x40000000ULL, size = 2ULL << 20;
	struct tdxsim_vm *vm;
	int level, err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
	cfg.module.features0 &= ~TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY;
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	cfg.defects = on ? TDXSIM_KVM_DEFECT_IGNORE_DEMOTE_FEATURE_BIT : 0;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, gpa, size, TDXSIM_SLOT_PRIVATE), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, gpa, size, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	assert_int_equal(tdxsim_vm_map(vm, 0, gpa, &level), 0);
	assert_int_equal(level, on ? PG_LEVEL_2M : PG_LEVEL_4K);

	err = tdxsim_vm_split(vm, gpa, size, PG_LEVEL_4K, false);
	assert_int_equal(tdxsim_vm_kvm(vm)->vm_bugged, on);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_TDX_BUG), on);
	if (!on)
		assert_int_equal(err, 0);
	/* No SEAMCALL either way: the wrapper refuses before it, or nothing to split. */
	assert_int_equal(tdxsim_stats_leaf(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE, &st), 0);
	assert_int_equal(st.calls, 0);

	tdxsim_vm_teardown(vm);
	tdxsim_vm_summary(vm, &sum);
	assert_int_equal(sum.vm_bugged, on);
	assert_true(!sum.pages_leaked || sum.known_leak);
	tdxsim_vm_destroy(vm);
	tdxsim_kernel_events_reset(NULL);
}

static void test_vm_ignore_demote_feature_bit(void **state)
{
	split_without_demote_bit(false);
	split_without_demote_bit(true);
}

/*
 * A 64M VM of the test's design with a 2M private slot of one 2M folio at
 * @gpa; @build_4k: PAGE.ADD the slot's first 4K before MR.FINALIZE.
 */
static struct tdxsim_vm *vm_2m_folio(unsigned int defects, u64 gpa, bool dpamt, bool build_4k)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *vm;
	int err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	if (!dpamt)
		cfg.module.features0 &= ~TDX_FEATURES0_DYNAMIC_PAMT;
	cfg.defects = defects;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, gpa, 2ULL << 20, TDXSIM_SLOT_PRIVATE), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, gpa, 2ULL << 20, 9), 0);
	if (build_4k)
		assert_int_equal(tdxsim_vm_build_add(vm, gpa, 4096), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	return vm;
}

/*
 * S13e, defect no-split-on-accept-exit: the guest touches G+20K (KVM maps
 * 2M, the page is PENDING) and its #VE handler accepts at 4K.  Off (S13a):
 * one accept exit, KVM splits (one DEMOTE) and the ACCEPT succeeds.  On:
 * KVM ignores the exit's level, the 2M leaf stays, the module exits for the
 * same GFN on every try until the step budget; no DEMOTE.
 */
static void accept_exit_without_split(bool on)
{
	const u64 gpa = 0x40000000ULL;
	struct tdxsim_guest_op op = {
		.kind = TDXSIM_GUEST_ACCESS, .gpa = gpa + 0x5000, .write = true,
	};
	struct tdxsim_guest_result res;
	struct tdxsim_leaf_stats st;
	struct tdxsim_vm *vm;
	int ret;

	vm = vm_2m_folio(on ? TDXSIM_KVM_DEFECT_NO_SPLIT_ON_ACCEPT_EXIT : 0, gpa, true, false);
	ret = tdxsim_vcpu_run_prog(vm, 0, &op, 1, 2000, &res);
	assert_int_equal(tdxsim_stats_leaf(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE, &st), 0);
	if (on) {
		assert_int_equal(ret, -EINTR);
		assert_true(res.budget_hit);
		assert_true(res.accept_exits > 10);
		assert_int_equal(st.calls, 0);
	} else {
		assert_int_equal(ret, 0);
		assert_int_equal(op.status, TDX_SUCCESS);
		assert_int_equal(res.accept_exits, 1);
		assert_int_equal(st.calls, 1);
	}
	assert_false(tdxsim_vm_kvm(vm)->vm_bugged);
	tdxsim_vm_destroy(vm);
	tdxsim_kernel_events_reset(NULL);
}

static void test_vm_no_split_on_accept_exit(void **state)
{
	accept_exit_without_split(false);
	accept_exit_without_split(true);
}

/*
 * S17c, defect allow-mirror-promotion: a 4K page added at build time leaves
 * a mirror table under the 2M entry; a later fault elsewhere in the 2M
 * (DPAMT off, so no pair forces 4K) may map 2M as far as the folio and the
 * attributes go.  Off (003:P06): disallowed_hugepage_adjust keeps it at 4K
 * under the table.  On: KVM replaces the table by a 2M leaf; neither
 * design has a TDX transition for that: KVM_BUG_ON, -EIO, no AUG.
 */
static void promote_mirror_table(bool on)
{
	const u64 gpa = 0x40000000ULL;
	struct tdxsim_leaf_stats st;
	struct tdxsim_vm *vm;
	int level = PG_LEVEL_NONE, ret;

	vm = vm_2m_folio(on ? TDXSIM_KVM_DEFECT_ALLOW_MIRROR_PROMOTION : 0, gpa, false, true);
	ret = tdxsim_vm_map(vm, 0, gpa + (1ULL << 20), &level);
	assert_int_equal(tdxsim_stats_leaf(tdxsim_vm_sim(vm), TDH_MEM_PAGE_AUG, &st), 0);
	if (on) {
		assert_int_equal(ret, -EIO);
		assert_true(tdxsim_vm_kvm(vm)->vm_bugged);
		assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_KVM_BUG), 1);
		assert_int_equal(st.calls, 0);
	} else {
		assert_int_equal(ret, 0);
		assert_int_equal(level, PG_LEVEL_4K);
		assert_false(tdxsim_vm_kvm(vm)->vm_bugged);
		assert_int_equal(st.calls, 1);
	}
	tdxsim_vm_destroy(vm);
	tdxsim_kernel_events_reset(NULL);
}

static void test_vm_allow_mirror_promotion(void **state)
{
	promote_mirror_table(false);
	promote_mirror_table(true);
}

/*
 * S10d: TDX refuses a split under the read mmu_lock before any SEAMCALL;
 * v3's hook does so with WARN_ON_ONCE (003:P09, kvm-model §2.10): one WARN
 * for the first refusal, none for the second, the 2M leaf kept.  The
 * upstream funnel refuses without a WARN in the model.
 */
static void test_vm_shared_split_warns_once(void **state)
{
	const u64 gpa = 0x40000000ULL;
	struct tdxsim_leaf_stats st;
	struct tdxsim_vm *vm;
	int level, i;

	vm = vm_2m_folio(0, gpa, true, false);
	assert_int_equal(tdxsim_vm_map(vm, 0, gpa, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
	tdxsim_kernel_events_reset(tdxsim_vm_sim(vm));
	for (i = 0; i < 2; i++) {
		assert_int_equal(tdxsim_vm_split(vm, gpa, 2ULL << 20, PG_LEVEL_4K, true),
				 -EOPNOTSUPP);
#ifdef TEST_DESIGN_UPSTREAM
		assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_WARN), 0);
#else
		assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_WARN), 1);
#endif
	}
	assert_int_equal(tdxsim_stats_leaf(tdxsim_vm_sim(vm), TDH_MEM_RANGE_BLOCK, &st), 0);
	assert_int_equal(st.calls, 0);
	assert_int_equal(tdxsim_stats_leaf(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE, &st), 0);
	assert_int_equal(st.calls, 0);
	assert_false(tdxsim_vm_kvm(vm)->vm_bugged);
	tdxsim_vm_destroy(vm);
	tdxsim_kernel_events_reset(NULL);
}

/*
 * S16h, config vm_memory_attributes (not a defect: KVM's module parameter):
 * on, TDX huge pages are off (003:P14, kvm-model §1.5) and a fault in a 2M
 * folio maps 4K; off, the same fault maps 2M.
 */
static void map_with_vm_memory_attributes(bool on)
{
	struct tdxsim_vm_config cfg;
	const u64 gpa = 0x40000000ULL;
	struct tdxsim_vm *vm;
	int level, err;

	tdxsim_vm_config_init(&cfg);
	assert_false(cfg.vm_memory_attributes);
	cfg.module.mem_size = 64ULL << 20;
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	cfg.vm_memory_attributes = on;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, gpa, 2ULL << 20, TDXSIM_SLOT_PRIVATE), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, gpa, 2ULL << 20, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	assert_int_equal(tdxsim_vm_map(vm, 0, gpa + 0x5000, &level), 0);
	assert_int_equal(level, on ? PG_LEVEL_4K : PG_LEVEL_2M);
	assert_false(tdxsim_vm_kvm(vm)->vm_bugged);
	tdxsim_vm_destroy(vm);
	tdxsim_kernel_events_reset(NULL);
}

static void test_vm_memory_attributes_4k(void **state)
{
	map_with_vm_memory_attributes(false);
	map_with_vm_memory_attributes(true);
}

/*
 * reuse-demote-pair (S27e, v3 only): two 2M leaves split one after the
 * other.  Off: both DEMOTEs succeed.  On: the first DEMOTE's R12/R13 pages
 * went back to the split cache, the second DEMOTE gets them:
 * TDX_PAGE_NOT_FREE|R12, TDX_BUG_ON, VM bugged.  The upstream split has no
 * such switch: both succeed there.
 */
static void split_twice_reusing_pair(bool on)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_leaf_stats st;
	const u64 gpa = 0x40000000ULL, s2m = 2ULL << 20;
	struct tdxsim_vm *vm;
	bool fails = on;
	int level, err;

#ifdef TEST_DESIGN_UPSTREAM
	fails = false;
#endif
	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	cfg.defects = on ? TDXSIM_KVM_DEFECT_REUSE_DEMOTE_PAIR : 0;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, gpa, 2 * s2m, TDXSIM_SLOT_PRIVATE), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, gpa, 2 * s2m, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	assert_int_equal(tdxsim_vm_map(vm, 0, gpa, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_int_equal(tdxsim_vm_map(vm, 0, gpa + s2m, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
	tdxsim_vm_split(vm, gpa, s2m, PG_LEVEL_4K, false);
	tdxsim_vm_split(vm, gpa + s2m, s2m, PG_LEVEL_4K, false);
	assert_int_equal(tdxsim_stats_leaf(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE, &st), 0);
	assert_int_equal(st.calls, 2);
	assert_int_equal(tdxsim_stats_count(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE, TDX_SUCCESS),
			 fails ? 1 : 2);
	assert_int_equal(tdxsim_stats_count(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE,
					    TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R12), fails ? 1 : 0);
	assert_int_equal(tdxsim_vm_kvm(vm)->vm_bugged, fails);
	assert_int_equal(tdxsim_vm_teardown(vm), fails ? -ENOTRECOVERABLE : 0);
	tdxsim_vm_destroy(vm);
	tdxsim_kernel_events_reset(NULL);
}

static void test_vm_reuse_demote_pair(void **state)
{
	split_twice_reusing_pair(false);
	split_twice_reusing_pair(true);
}

/* The names the scenario language uses. */
static void test_defect_names(void **state)
{
	unsigned int b;

	assert_string_equal(tdxsim_kvm_defect_name(0), "split-spt-zero");
	assert_int_equal(tdxsim_kvm_defect_lookup("consume-without-recheck"),
			 TDXSIM_KVM_DEFECT_CONSUME_WITHOUT_RECHECK);
	assert_int_equal(tdxsim_kvm_defect_lookup("skip-track"), TDXSIM_KVM_DEFECT_SKIP_TRACK);
	assert_int_equal(tdxsim_kvm_defect_lookup("ignore-demote-feature-bit"),
			 TDXSIM_KVM_DEFECT_IGNORE_DEMOTE_FEATURE_BIT);
	assert_int_equal(tdxsim_kvm_defect_lookup("no-split-on-accept-exit"),
			 TDXSIM_KVM_DEFECT_NO_SPLIT_ON_ACCEPT_EXIT);
	assert_int_equal(tdxsim_kvm_defect_lookup("skip-sept-page-pamt-get"),
			 TDXSIM_KVM_DEFECT_SKIP_SEPT_PAGE_PAMT_GET);
	assert_int_equal(tdxsim_kvm_defect_lookup("allow-mirror-promotion"),
			 TDXSIM_KVM_DEFECT_ALLOW_MIRROR_PROMOTION);
	assert_int_equal(tdxsim_kvm_defect_lookup("no-such-defect"), -EINVAL);
	assert_null(tdxsim_kvm_defect_name(TDXSIM_KVM_DEFECT_NR_BITS));
	for (b = 0; b < TDXSIM_KVM_DEFECT_NR_BITS; b++) {
		assert_non_null(tdxsim_kvm_defect_desc(b));
		assert_int_equal(tdxsim_kvm_defect_lookup(tdxsim_kvm_defect_name(b)), 1 << b);
	}
}

int main(void)
{
	static struct tdx_fixture_opts off = { 0 }, recheck_off = { .ops = &ops_no_need_topup },
		recheck_on = { .ops = &ops_no_need_topup,
			       .defects = TDXSIM_KVM_DEFECT_CONSUME_WITHOUT_RECHECK },
		pair_on = { .defects = TDXSIM_KVM_DEFECT_AUG_2M_OVER_PAIR },
		kick_on = { .defects = TDXSIM_KVM_DEFECT_NO_KICK_BEFORE_RETRY },
		track_on = { .defects = TDXSIM_KVM_DEFECT_SKIP_TRACK },
		pamt_get_off = { .defects = TDXSIM_KVM_DEFECT_SKIP_SEPT_PAGE_PAMT_GET };
#define FX(fn, opts) cmocka_unit_test_prestate_setup_teardown(fn, tdx_fixture_setup,	\
							      tdx_fixture_teardown, &(opts))
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defect_names),
		FX(test_backend_consume_without_recheck, recheck_off),
		FX(test_backend_consume_without_recheck, recheck_on),
		FX(test_backend_aug_2m_over_pair, off),
		FX(test_backend_aug_2m_over_pair, pair_on),
		FX(test_backend_no_kick_before_retry, off),
		FX(test_backend_no_kick_before_retry, kick_on),
		FX(test_backend_skip_track, off),
		FX(test_backend_skip_track, track_on),
		FX(test_backend_skip_sept_page_pamt_get, off),
		FX(test_backend_skip_sept_page_pamt_get, pamt_get_off),
		cmocka_unit_test(test_defect_split_spt_zero),
		cmocka_unit_test(test_defect_cross_boundary_bool),
		cmocka_unit_test(test_defect_cross_boundary_bool_return),
		cmocka_unit_test(test_defect_free_owned_external_spt),
		cmocka_unit_test(test_vm_ignore_demote_feature_bit),
		cmocka_unit_test(test_vm_no_split_on_accept_exit),
		cmocka_unit_test(test_vm_allow_mirror_promotion),
		cmocka_unit_test(test_vm_shared_split_warns_once),
		cmocka_unit_test(test_vm_memory_attributes_4k),
		cmocka_unit_test(test_vm_reuse_demote_pair),
	};

#undef FX
#ifdef TEST_DESIGN_UPSTREAM
	rec_design = KVM_MMU_DESIGN_UPSTREAM;
	ops_no_need_topup = tdx_x86_ops_upstream_aux;
#else
	ops_no_need_topup = tdx_x86_ops;
#endif
	ops_no_need_topup.need_topup_external_per_vm_split_cache = NULL;
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
