// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TDP MMU for private memory (sim/kvm) against the recording test double
 * of its backend hooks: the exact hook calls of each control path, the
 * mirror's SPTEs afterwards, and agreement between the mirror and the
 * external tree the calls built.  Spec kvm-model.md §2, §3.2.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tdxsim-kvm/tdp_mmu.h>

#include "recording_ops.h"

#define BASE_GFN	0x100000ULL	/* 4 GiB: 2M- and 1G-aligned */
#define NPAGES		(4 * 512UL)	/* 8 MiB: four 2M ranges */
#define PFN_2M(i)	(0x80000ULL + (i) * 512)	/* a 2M-aligned folio per range */

struct ctx {
	struct rec_backend rec;
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
	long pages_before;
	bool kvm_bugged;
	bool trees_disagree;	/* the test broke mirror/external agreement on purpose */
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	/* Kernel-shim events of this test only (the threads have no current simulator). */
	tdxsim_kernel_events_reset(NULL);
	rec_init(&c->rec);
	c->kvm = rec_create_vm(&c->rec, BASE_GFN, NPAGES);
	c->vcpu = c->kvm ? tdxsim_kvm_vcpu_create(c->kvm, 0) : NULL;
	if (!c->vcpu)
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	c->kvm_bugged = c->kvm->vm_bugged;
	tdxsim_kvm_vcpu_destroy(c->vcpu);
	tdxsim_kvm_destroy(c->kvm);
	/* Every page KVM allocated or got from the fault cache went back. */
	assert_int_equal(c->rec.pages_alive, c->rec.nmodule_owned);
	if (!c->trees_disagree)
		assert_int_equal(c->rec.violations, 0);
	/* mmu_lock was always held as asserted, nothing slept under it, the VM is sound. */
	assert_int_equal(tdxsim_kernel_events(NULL, TDXSIM_KEV_LOCKDEP), 0);
	assert_int_equal(tdxsim_kernel_events(NULL, TDXSIM_KEV_SLEEP_IN_ATOMIC), 0);
	assert_int_equal(tdxsim_kernel_events(NULL, TDXSIM_KEV_KVM_BUG), 0);
	assert_false(c->kvm_bugged);
	rec_fini(&c->rec);
	free(c);
	return 0;
}

/* Back range @i (2M) with one order-9 folio. */
static void folio_2m(struct ctx *c, int i)
{
	assert_int_equal(tdxsim_kvm_gmem_set_folio(c->kvm, BASE_GFN + i * 512, PFN_2M(i), 9), 0);
}

/* Back range @i with 512 order-0 folios, PFNs contiguous from PFN_2M(i). */
static void folios_4k(struct ctx *c, int i)
{
	int j;

	for (j = 0; j < 512; j++)
		assert_int_equal(tdxsim_kvm_gmem_set_folio(c->kvm, BASE_GFN + i * 512 + j,
							   PFN_2M(i) + j, 0), 0);
}

static int fault(struct ctx *c, gfn_t gfn, int *level)
{
	return kvm_mmu_do_page_fault(c->vcpu, gfn << 12, PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK,
				     level);
}

static void assert_call(struct ctx *c, int i, enum rec_hook hook, gfn_t gfn, int level)
{
	const struct rec_call *call = &c->rec.calls[i];

	if (call->hook != hook || call->gfn != gfn || call->level != level)
		fail_msg("call %d: %s gfn %#llx level %d, expected %s gfn %#llx level %d", i,
			 rec_hook_name(call->hook), call->gfn, call->level, rec_hook_name(hook),
			 gfn, level);
}

static void assert_agree(struct ctx *c)
{
	char why[256];

	if (rec_check_agreement(c->kvm, &c->rec, why, sizeof(why)))
		fail_msg("mirror and external tree disagree: %s", why);
	assert_int_equal(c->rec.violations, 0);
	assert_int_equal(rec_count_spte(c->kvm, FROZEN_SPTE), 0);
}

static u64 mirror(struct ctx *c, gfn_t gfn, int *level)
{
	return kvm_tdp_mmu_read_mirror(c->kvm, gfn, level);
}

static struct kvm_memory_slot *slot0(struct ctx *c)
{
	return gfn_to_memslot(c->kvm, BASE_GFN);
}

/* ---- encoding ---- */
static void test_spte_values(void **state)
{
	u64 leaf = make_spte(0x1234, PG_LEVEL_2M);

	assert_false(is_shadow_present_pte(SHADOW_NONPRESENT_VALUE));
	assert_false(is_shadow_present_pte(FROZEN_SPTE));
	assert_true(is_frozen_spte(FROZEN_SPTE));
	assert_false(is_frozen_spte(SHADOW_NONPRESENT_VALUE));
	assert_true(is_shadow_present_pte(leaf));
	assert_true(is_large_pte(leaf));
	assert_true(is_last_spte(leaf, PG_LEVEL_2M));
	assert_int_equal(spte_to_pfn(leaf), 0x1234);
	assert_false(is_large_pte(make_spte(0x1234, PG_LEVEL_4K)));
	assert_true(is_last_spte(make_spte(1, PG_LEVEL_4K), PG_LEVEL_4K));
}

/* ---- lpage_info (§1.4) ---- */
static void test_lpage_info_edges_and_flags(void **state)
{
	struct ctx *c = *state;
	struct kvm_memory_slot *slot;
	struct kvm_userspace_memory_region2 mem = {
		.slot = 1,
		.guest_phys_addr = (BASE_GFN + NPAGES + 3) << 12,	/* not 2M-aligned */
		.memory_size = 1024 << 12,
	};

	assert_int_equal(kvm_set_memory_region(c->kvm, &mem), 0);
	slot = gfn_to_memslot(c->kvm, BASE_GFN + NPAGES + 3);
	assert_non_null(slot);
	/* Head and tail 2M pages stick out of the slot: one count each. */
	assert_int_equal(lpage_info_slot(slot->base_gfn, slot, PG_LEVEL_2M)->disallow_lpage, 1);
	assert_int_equal(lpage_info_slot(slot->base_gfn + 600, slot, PG_LEVEL_2M)->disallow_lpage,
			 0);
	assert_int_equal(kvm_mmu_max_mapping_level(c->kvm, slot, slot->base_gfn, PG_LEVEL_2M),
			 PG_LEVEL_4K);

	/* Slot 0: aligned, so 2M is allowed until something says otherwise. */
	slot = slot0(c);
	assert_int_equal(kvm_mmu_max_mapping_level(c->kvm, slot, BASE_GFN, PG_LEVEL_2M),
			 PG_LEVEL_2M);
	kvm_mmu_gfn_disallow_lpage(slot, BASE_GFN);
	assert_int_equal(kvm_mmu_max_mapping_level(c->kvm, slot, BASE_GFN, PG_LEVEL_2M),
			 PG_LEVEL_4K);
	kvm_mmu_gfn_allow_lpage(slot, BASE_GFN);
	assert_int_equal(kvm_mmu_max_mapping_level(c->kvm, slot, BASE_GFN, PG_LEVEL_2M),
			 PG_LEVEL_2M);

	/* GUEST_INHIBIT is one-way: counts going up and down leave it set. */
	KVM_MMU_LOCK(c->kvm);
	hugepage_set_guest_inhibit(slot, BASE_GFN + 512, PG_LEVEL_2M);
	KVM_MMU_UNLOCK(c->kvm);
	kvm_mmu_gfn_disallow_lpage(slot, BASE_GFN + 512);
	kvm_mmu_gfn_allow_lpage(slot, BASE_GFN + 512);
	assert_true(hugepage_test_guest_inhibit(slot, BASE_GFN + 512, PG_LEVEL_2M));
	assert_int_equal(lpage_info_slot(BASE_GFN + 512, slot, PG_LEVEL_2M)->disallow_lpage,
			 KVM_LPAGE_GUEST_INHIBIT_FLAG);
	assert_false(hugepage_test_guest_inhibit(slot, BASE_GFN, PG_LEVEL_2M));
}

/* ---- attributes and MIXED (§1.5) ---- */
static void test_attributes_mixed(void **state)
{
	struct ctx *c = *state;
	struct kvm_memory_slot *slot = slot0(c);
	gfn_t g = BASE_GFN + 512 + 7;

	assert_true(kvm_mem_is_private(c->kvm, g));
	assert_int_equal(kvm_vm_set_mem_attributes(c->kvm, g, g + 1, 0), 0);
	assert_false(kvm_mem_is_private(c->kvm, g));
	assert_true(kvm_mem_is_private(c->kvm, g + 1));
	assert_true(lpage_info_slot(g, slot, PG_LEVEL_2M)->disallow_lpage & KVM_LPAGE_MIXED_FLAG);
	/* The slot ends inside its 1G page: that level is refused by the tail count. */
	assert_int_equal(lpage_info_slot(g, slot, PG_LEVEL_1G)->disallow_lpage, 1);
	assert_false(lpage_info_slot(BASE_GFN, slot, PG_LEVEL_2M)->disallow_lpage);
	assert_int_equal(kvm_vm_set_mem_attributes(c->kvm, g, g + 1, KVM_MEMORY_ATTRIBUTE_PRIVATE),
			 0);
	assert_false(lpage_info_slot(g, slot, PG_LEVEL_2M)->disallow_lpage & KVM_LPAGE_MIXED_FLAG);
}

/* ---- fault-in (§2.1, §2.2) ---- */
static void test_fault_4k(void **state)
{
	struct ctx *c = *state;
	gfn_t g = BASE_GFN + 5;
	int level;
	u64 spte;

	folios_4k(c, 0);
	rec_reset_calls(&c->rec);
	assert_int_equal(fault(c, g, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_4K);
	/* One table per level below the root, linked top-down, then the leaf. */
	assert_int_equal(c->rec.ncalls, 4);
	assert_call(c, 0, REC_LINK, gfn_round_for_level(g, 4), 4);
	assert_call(c, 1, REC_LINK, gfn_round_for_level(g, 3), 3);
	assert_call(c, 2, REC_LINK, gfn_round_for_level(g, 2), 2);
	assert_call(c, 3, REC_SET, g, PG_LEVEL_4K);
	assert_true(c->rec.calls[0].shared);
	spte = mirror(c, g, &level);
	assert_int_equal(c->rec.calls[3].new_spte, spte);
	assert_int_equal(spte_to_pfn(spte), PFN_2M(0) + 5);
	assert_int_equal(level, PG_LEVEL_4K);
	assert_int_equal(c->kvm->stat.pages[0], 1);
	assert_agree(c);

	/* Same fault again: nothing to do, no hook. */
	assert_int_equal(fault(c, g, NULL), RET_PF_SPURIOUS);
	assert_int_equal(c->rec.ncalls, 4);
	/* A neighbour reuses the tables. */
	assert_int_equal(fault(c, g + 1, NULL), RET_PF_FIXED);
	assert_int_equal(c->rec.ncalls, 5);
	assert_call(c, 4, REC_SET, g + 1, PG_LEVEL_4K);
	assert_agree(c);
}

static void test_fault_2m(void **state)
{
	struct ctx *c = *state;
	gfn_t g = BASE_GFN + 512 + 77;
	int level;
	u64 spte;

	folio_2m(c, 1);
	rec_reset_calls(&c->rec);
	assert_int_equal(fault(c, g, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_int_equal(c->rec.ncalls, 3);
	assert_call(c, 0, REC_LINK, gfn_round_for_level(g, 4), 4);
	assert_call(c, 1, REC_LINK, gfn_round_for_level(g, 3), 3);
	assert_call(c, 2, REC_SET, BASE_GFN + 512, PG_LEVEL_2M);
	spte = mirror(c, g, &level);
	assert_true(is_large_pte(spte));
	assert_int_equal(spte_to_pfn(spte), PFN_2M(1));	/* the folio's head, not gfn's page */
	assert_int_equal(c->kvm->stat.pages[1], 1);
	assert_int_equal(c->kvm->stat.pages[0], 0);
	assert_agree(c);
}

/* Each rule of §2.2 alone forces 4K over a 2M folio. */
static void test_fault_max_level_rules(void **state)
{
	struct ctx *c = *state;
	int level;

	folio_2m(c, 0);
	folio_2m(c, 1);
	folio_2m(c, 2);
	folios_4k(c, 3);
	/* The vendor limit: 4K while the TD is built (tdx_gmem_max_mapping_level). */
	c->rec.max_mapping_level = PG_LEVEL_4K;
	assert_int_equal(fault(c, BASE_GFN + 3, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_4K);
	c->rec.max_mapping_level = 0;
	/* disallow_lpage (a count). */
	kvm_mmu_gfn_disallow_lpage(slot0(c), BASE_GFN + 512);
	assert_int_equal(fault(c, BASE_GFN + 512, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_4K);
	kvm_mmu_gfn_allow_lpage(slot0(c), BASE_GFN + 512);
	/* GUEST_INHIBIT. */
	KVM_MMU_LOCK(c->kvm);
	hugepage_set_guest_inhibit(slot0(c), BASE_GFN + 1024, PG_LEVEL_2M);
	KVM_MMU_UNLOCK(c->kvm);
	assert_int_equal(fault(c, BASE_GFN + 1024, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_4K);
	/* Order-0 folios. */
	assert_int_equal(fault(c, BASE_GFN + 1536, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_4K);
	assert_int_equal(c->kvm->stat.pages[1], 0);
	assert_int_equal(c->kvm->stat.pages[0], 4);
	assert_agree(c);

	/* Wrong privateness or no folio: an exit to userspace, no hook. */
	rec_reset_calls(&c->rec);
	assert_int_equal(kvm_mmu_do_page_fault(c->vcpu, (BASE_GFN + 9) << 12, 0, NULL), -EFAULT);
	assert_int_equal(fault(c, BASE_GFN + NPAGES + 100, NULL), -EFAULT);
	assert_int_equal(c->rec.ncalls, 0);
}

/* §2.3: a mirror table built at 4K is never replaced by a 2M leaf. */
static void test_fault_no_merge(void **state)
{
	struct ctx *c = *state;
	int level;

	folio_2m(c, 0);
	c->rec.max_mapping_level = PG_LEVEL_4K;		/* TD build */
	assert_int_equal(fault(c, BASE_GFN, &level), RET_PF_FIXED);
	c->rec.max_mapping_level = 0;			/* runnable: 2M allowed */
	rec_reset_calls(&c->rec);
	assert_int_equal(fault(c, BASE_GFN + 1, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_4K);
	assert_int_equal(c->rec.ncalls, 1);
	assert_call(c, 0, REC_SET, BASE_GFN + 1, PG_LEVEL_4K);
	assert_int_equal(spte_to_pfn(mirror(c, BASE_GFN + 1, NULL)), PFN_2M(0) + 1);
	assert_agree(c);
}

/* §3.2: a failing hook on the atomic path leaves the mirror as it was. */
static void test_fault_hook_failure_restores(void **state)
{
	struct ctx *c = *state;
	gfn_t g = BASE_GFN + 512 + 3;
	long sp_before;
	int level;

	folios_4k(c, 1);
	/* The leaf's AUG is BUSY: tables stay (both trees have them), the leaf does not. */
	c->rec.fail_hook = REC_SET;
	c->rec.fail_nth = 1;
	c->rec.fail_err = -EBUSY;
	assert_int_equal(fault(c, g, NULL), RET_PF_RETRY);
	assert_int_equal(mirror(c, g, &level), 0);
	assert_int_equal(level, PG_LEVEL_NONE);
	assert_int_equal(c->kvm->stat.pages[0], 0);
	assert_agree(c);
	assert_int_equal(fault(c, g, NULL), RET_PF_FIXED);
	assert_agree(c);

	/* SEPT.ADD of a new leaf table is BUSY: the sp and its external_spt are freed. */
	rec_reset_calls(&c->rec);
	folios_4k(c, 2);
	c->rec.fail_hook = REC_LINK;
	c->rec.fail_nth = 1;
	sp_before = c->kvm->stat.sp_allocated;
	c->pages_before = c->rec.pages_alive;
	assert_int_equal(fault(c, BASE_GFN + 1024, NULL), RET_PF_RETRY);
	assert_int_equal(c->rec.ncalls, 1);
	assert_int_equal(c->rec.calls[0].ret, -EBUSY);
	assert_int_equal(c->kvm->stat.sp_allocated, sp_before);
	assert_int_equal(c->rec.pages_alive, c->pages_before);
	assert_int_equal(rec_count_spte(c->kvm, SHADOW_NONPRESENT_VALUE) > 0, 1);
	assert_agree(c);
	assert_int_equal(fault(c, BASE_GFN + 1024, NULL), RET_PF_FIXED);
	assert_agree(c);
}

/* ---- split (§2.5) ---- */
static void map_2m(struct ctx *c, int i)
{
	int level;

	folio_2m(c, i);
	assert_int_equal(fault(c, BASE_GFN + i * 512, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_2M);
}

/* The 512 4K children of split range @i; returns the new table's external_spt. */
static void *assert_split_children(struct ctx *c, int i)
{
	struct kvm_mmu_page *child;
	u64 parent = 0;
	int j, level;

	for (j = 0; j < 512; j++) {
		u64 spte = mirror(c, BASE_GFN + i * 512 + j, &level);

		assert_int_equal(level, PG_LEVEL_4K);
		assert_false(is_large_pte(spte));
		assert_int_equal(spte_to_pfn(spte), PFN_2M(i) + j);
		assert_int_equal(spte & VMX_EPT_RWX_MASK, VMX_EPT_RWX_MASK);
	}
	/* The new table is a mirror page one level down, with its own external_spt. */
	struct tdp_iter iter;

	for_each_tdp_pte_min_level(iter, c->kvm, c->kvm->mirror_root, PG_LEVEL_2M,
				   BASE_GFN + i * 512, BASE_GFN + i * 512 + 1)
		if (iter.level == PG_LEVEL_2M)
			parent = iter.old_spte;
	assert_true(is_shadow_present_pte(parent) && !is_large_pte(parent));
	child = spte_to_child_sp(parent);
	assert_true(is_mirror_sp(child));
	assert_int_equal(child->role.level, PG_LEVEL_4K);
	assert_int_equal(child->gfn, BASE_GFN + i * 512);
	assert_non_null(child->external_spt);
	return child->external_spt;
}

static void test_split_2m(void **state)
{
	struct ctx *c = *state;
	u64 huge;
	int r;

	map_2m(c, 1);
	huge = mirror(c, BASE_GFN + 512, NULL);
	c->rec.split_cache_min = 4;	/* DPAMT: 2 pairs per 2M split (003:P20) */
	rec_reset_calls(&c->rec);
	KVM_MMU_LOCK(c->kvm);
	r = tdp_mmu_split_huge_pages_root(c->kvm, c->kvm->mirror_root, BASE_GFN + 512,
					  BASE_GFN + 1024, PG_LEVEL_4K, false, false);
	KVM_MMU_UNLOCK(c->kvm);
	assert_int_equal(r, 0);
	/* Top-up with the lock dropped, then the split under the write lock. */
	assert_int_equal(c->rec.ncalls, 2);
	assert_call(c, 0, REC_TOPUP_SPLIT, 0, PG_LEVEL_2M);
	assert_call(c, 1, REC_SPLIT, BASE_GFN + 512, PG_LEVEL_2M);
	assert_false(c->rec.calls[1].shared);
	assert_int_equal(c->rec.calls[1].old_spte, huge);
	assert_int_equal(c->rec.split_cache_cnt, 0);
	/* The hook got the new table's external_spt (from tdp_mmu_alloc_sp_for_split). */
	assert_ptr_equal(c->rec.calls[1].page, assert_split_children(c, 1));
	assert_int_equal(c->kvm->stat.pages[1], 0);
	assert_int_equal(c->kvm->stat.pages[0], 512);
	assert_int_equal(rec_count_spte(c->kvm, 0), 0);
	assert_agree(c);
}

/* The split sp cannot be allocated: -ENOMEM, nothing changed, nothing leaked. */
static void test_split_alloc_enomem(void **state)
{
	struct ctx *c = *state;
	u64 huge;
	int r;

	map_2m(c, 0);
	huge = mirror(c, BASE_GFN, NULL);
	c->pages_before = c->rec.pages_alive;
	c->rec.page_fail_nth = c->rec.page_allocs + 1;
	rec_reset_calls(&c->rec);
	KVM_MMU_LOCK(c->kvm);
	r = tdp_mmu_split_huge_pages_root(c->kvm, c->kvm->mirror_root, BASE_GFN, BASE_GFN + 512,
					  PG_LEVEL_4K, false, false);
	KVM_MMU_UNLOCK(c->kvm);
	assert_int_equal(r, -ENOMEM);
	assert_int_equal(c->rec.ncalls, 0);
	assert_int_equal(mirror(c, BASE_GFN, NULL), huge);
	assert_int_equal(c->rec.pages_alive, c->pages_before);
	assert_agree(c);
}

/* Split-cache top-up fails: -ENOMEM; the preallocated sp is freed, the leaf intact. */
static void test_split_topup_enomem(void **state)
{
	struct ctx *c = *state;
	long sp_before;
	u64 huge;
	int r;

	map_2m(c, 0);
	huge = mirror(c, BASE_GFN, NULL);
	c->rec.split_cache_min = 4;
	c->rec.split_cache_topup_err = -ENOMEM;
	c->pages_before = c->rec.pages_alive;
	sp_before = c->kvm->stat.sp_allocated;
	rec_reset_calls(&c->rec);
	KVM_MMU_LOCK(c->kvm);
	r = tdp_mmu_split_huge_pages_root(c->kvm, c->kvm->mirror_root, BASE_GFN, BASE_GFN + 512,
					  PG_LEVEL_4K, false, false);
	/* The top-up failed with the lock dropped; it is held again on return. */
	assert_true(kvm_mmu_lock_held(c->kvm, false));
	KVM_MMU_UNLOCK(c->kvm);
	assert_int_equal(r, -ENOMEM);
	assert_int_equal(c->rec.ncalls, 1);
	assert_call(c, 0, REC_TOPUP_SPLIT, 0, PG_LEVEL_2M);
	assert_int_equal(mirror(c, BASE_GFN, NULL), huge);
	assert_int_equal(c->rec.pages_alive, c->pages_before);
	assert_int_equal(c->kvm->stat.sp_allocated, sp_before);
	assert_agree(c);
}

/* §2.12: while the lock is dropped for the allocation, another thread zaps the leaf. */
static void zap_first_2m(struct kvm *kvm, void *arg)
{
	struct kvm_gfn_range range = {
		.start = BASE_GFN, .end = BASE_GFN + 512,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	int *calls = arg;

	if ((*calls)++)
		return;
	KVM_MMU_LOCK(kvm);
	kvm_unmap_gfn_range(kvm, &range);
	KVM_MMU_UNLOCK(kvm);
}

static void test_split_restart_after_drop(void **state)
{
	struct ctx *c = *state;
	int drops = 0, r;
	long sp_before;

	map_2m(c, 0);
	sp_before = c->kvm->stat.sp_allocated;
	c->pages_before = c->rec.pages_alive;
	c->kvm->yield_hook.during_drop = zap_first_2m;
	c->kvm->yield_hook.arg = &drops;
	rec_reset_calls(&c->rec);
	KVM_MMU_LOCK(c->kvm);
	r = tdp_mmu_split_huge_pages_root(c->kvm, c->kvm->mirror_root, BASE_GFN, BASE_GFN + 512,
					  PG_LEVEL_4K, false, false);
	KVM_MMU_UNLOCK(c->kvm);
	c->kvm->yield_hook.during_drop = NULL;
	assert_int_equal(r, 0);
	assert_int_equal(drops, 1);
	/* The walk re-read the SPTE: nothing to split; the unused sp was freed. */
	assert_int_equal(c->rec.ncalls, 1);
	assert_call(c, 0, REC_REMOVE, BASE_GFN, PG_LEVEL_2M);
	assert_int_equal(c->kvm->stat.sp_allocated, sp_before);
	assert_int_equal(c->rec.pages_alive, c->pages_before);
	assert_agree(c);
}

/*
 * §6.2: under the write lock the mirror is written first and the split's
 * result is ignored; a backend failure leaves the mirror at 4K while the
 * external tree still has the 2M leaf (TDX bugs the VM; the double does not).
 */
static void test_split_failure_write_lock_not_rolled_back(void **state)
{
	struct ctx *c = *state;
	char why[256];
	int r;

	map_2m(c, 0);
	c->rec.fail_hook = REC_SPLIT;
	c->rec.fail_nth = 1;
	c->rec.fail_err = -EIO;
	rec_reset_calls(&c->rec);
	KVM_MMU_LOCK(c->kvm);
	r = tdp_mmu_split_huge_pages_root(c->kvm, c->kvm->mirror_root, BASE_GFN, BASE_GFN + 512,
					  PG_LEVEL_4K, false, false);
	KVM_MMU_UNLOCK(c->kvm);
	assert_int_equal(r, 0);
	assert_int_equal(c->rec.ncalls, 1);
	assert_int_equal(c->rec.calls[0].ret, -EIO);
	assert_split_children(c, 0);
	assert_int_equal(rec_count_spte(c->kvm, FROZEN_SPTE), 0);
	assert_int_not_equal(rec_check_agreement(c->kvm, &c->rec, why, sizeof(why)), 0);
	c->trees_disagree = true;
	/*
	 * Where the designs differ: v3 ignores the hook's result (TDX bugs the
	 * VM itself); upstream's handle_changed_spte() wraps the funnel in
	 * KVM_BUG_ON, so the MMU bugs the VM.
	 */
	if (rec_design == KVM_MMU_DESIGN_UPSTREAM) {
		assert_true(c->kvm->vm_bugged);
		assert_int_equal(tdxsim_kernel_events(NULL, TDXSIM_KEV_KVM_BUG), 1);
		c->kvm->vm_bugged = false;
		tdxsim_kernel_events_reset(NULL);
	} else {
		assert_false(c->kvm->vm_bugged);
		assert_int_equal(tdxsim_kernel_events(NULL, TDXSIM_KEV_KVM_BUG), 0);
	}
}

/* Yield at every step of a zap: the walk restarts from the root and zaps each leaf once. */
static bool yield_always(struct kvm *kvm, gfn_t gfn, int level, void *arg)
{
	(*(int *)arg)++;
	return true;
}

static void test_zap_yield_restart(void **state)
{
	struct ctx *c = *state;
	struct kvm_gfn_range range = {
		.start = BASE_GFN, .end = BASE_GFN + NPAGES,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	int yields = 0, i;

	folios_4k(c, 0);
	for (i = 0; i < 40; i++)
		assert_int_equal(fault(c, BASE_GFN + i * 13, NULL), RET_PF_FIXED);
	map_2m(c, 2);
	rec_reset_calls(&c->rec);
	c->kvm->yield_hook.should_yield = yield_always;
	c->kvm->yield_hook.arg = &yields;
	KVM_MMU_LOCK(c->kvm);
	kvm_unmap_gfn_range(c->kvm, &range);
	KVM_MMU_UNLOCK(c->kvm);
	c->kvm->yield_hook.should_yield = NULL;
	assert_true(yields > 41);
	assert_int_equal(c->rec.ncalls, 41);
	for (i = 0; i < 40; i++)
		assert_call(c, i, REC_REMOVE, BASE_GFN + i * 13, PG_LEVEL_4K);
	assert_call(c, 40, REC_REMOVE, BASE_GFN + 1024, PG_LEVEL_2M);
	assert_int_equal(c->kvm->stat.pages[0] + c->kvm->stat.pages[1], 0);
	assert_agree(c);
}

/* A 5-level root (GPAW 52): one more table to link on the way down. */
static void test_fault_5level(void **state)
{
	struct rec_backend rec;
	struct tdxsim_kvm_config cfg = rec_config(&rec);
	struct kvm_userspace_memory_region2 mem = {
		.slot = 0, .guest_phys_addr = BASE_GFN << 12, .memory_size = 512 << 12,
	};
	struct kvm_vcpu *vcpu;
	struct kvm *kvm;
	char why[256];
	int level;

	rec_init(&rec);
	cfg.root_level = 5;
	kvm = tdxsim_kvm_create(&cfg);
	assert_non_null(kvm);
	assert_int_equal(kvm_set_memory_region(kvm, &mem), 0);
	assert_int_equal(kvm_vm_set_mem_attributes(kvm, BASE_GFN, BASE_GFN + 512,
						   KVM_MEMORY_ATTRIBUTE_PRIVATE), 0);
	assert_int_equal(tdxsim_kvm_gmem_set_folio(kvm, BASE_GFN, PFN_2M(0), 9), 0);
	vcpu = tdxsim_kvm_vcpu_create(kvm, 0);
	assert_non_null(vcpu);
	assert_int_equal(kvm_mmu_do_page_fault(vcpu, (BASE_GFN + 1) << 12, PFERR_PRIVATE_ACCESS,
					       &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_int_equal(rec.ncalls, 4);
	assert_int_equal(rec.calls[0].hook, REC_LINK);
	assert_int_equal(rec.calls[0].level, 5);
	assert_int_equal(rec.calls[2].level, 3);
	assert_int_equal(rec.calls[3].hook, REC_SET);
	assert_int_equal(rec_check_agreement(kvm, &rec, why, sizeof(why)), 0);
	tdxsim_kvm_vcpu_destroy(vcpu);
	tdxsim_kvm_destroy(kvm);
	assert_int_equal(rec.nhook[REC_FREE], 3);
	assert_int_equal(rec.pages_alive, 0);
	assert_int_equal(rec.violations, 0);
	rec_fini(&rec);
}

/* ---- cross-boundary split (§2.7) ---- */
static void split_cross(struct ctx *c, gfn_t start, gfn_t end, int expect_ret)
{
	struct kvm_gfn_range range = {
		.slot = slot0(c), .start = start, .end = end,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};

	KVM_MMU_LOCK(c->kvm);
	assert_int_equal(kvm_split_cross_boundary_leafs(c->kvm, &range, false), expect_ret);
	KVM_MMU_UNLOCK(c->kvm);
}

static void test_cross_boundary_only_straddling(void **state)
{
	struct ctx *c = *state;
	struct kvm_gfn_range nb = { .start = BASE_GFN, .end = BASE_GFN + 1,
				    .attr_filter = KVM_FILTER_PRIVATE, .may_block = false };

	map_2m(c, 0);
	map_2m(c, 1);
	map_2m(c, 2);
	rec_reset_calls(&c->rec);
	/* Wholly covered leaves are left alone. */
	split_cross(c, BASE_GFN, BASE_GFN + 1024, 0);
	assert_int_equal(c->rec.ncalls, 0);
	/* [base+100, base+1024+1): leaf 0 straddles the start, leaf 2 the end, leaf 1 is inside. */
	split_cross(c, BASE_GFN + 100, BASE_GFN + 1025, 0);
	assert_int_equal(c->rec.ncalls, 2);
	assert_call(c, 0, REC_SPLIT, BASE_GFN, PG_LEVEL_2M);
	assert_call(c, 1, REC_SPLIT, BASE_GFN + 1024, PG_LEVEL_2M);
	assert_true(is_large_pte(mirror(c, BASE_GFN + 512, NULL)));
	assert_split_children(c, 0);
	assert_split_children(c, 2);
	/* Already 4K: nothing more to split. */
	split_cross(c, BASE_GFN + 100, BASE_GFN + 101, 0);
	assert_int_equal(c->rec.ncalls, 2);
	/* A range that may not block is refused. */
	KVM_MMU_LOCK(c->kvm);
	assert_int_equal(kvm_split_cross_boundary_leafs(c->kvm, &nb, false), -EOPNOTSUPP);
	KVM_MMU_UNLOCK(c->kvm);
	assert_agree(c);
}

/*
 * S19: the walk's cost.  Three 2M leaves in three 1G regions; the range
 * [BASE+100, BASE+2G+612) cuts the first and the last.  Both variants split
 * exactly those two; `flag` (v3) walks every 2M entry of the three present
 * tables (1G regions), `headtail` only the head's and the tail's regions:
 * the middle region's 512 entries are not visited.
 */
#define G1	(512ULL * 512)		/* GFNs per 1G */

static void cross_boundary_cost(bool headtail, long want_steps)
{
	const gfn_t leaf[3] = { BASE_GFN, BASE_GFN + G1, BASE_GFN + 2 * G1 + 512 };
	struct ctx *c = calloc(1, sizeof(*c));
	void *st = c;
	int level;

	assert_non_null(c);
	tdxsim_kernel_events_reset(NULL);
	rec_init(&c->rec);
	c->kvm = rec_create_vm(&c->rec, BASE_GFN, 3 * G1);
	assert_non_null(c->kvm);
	c->vcpu = tdxsim_kvm_vcpu_create(c->kvm, 0);
	assert_non_null(c->vcpu);
	c->kvm->split_cross_boundary_headtail = headtail;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tdxsim_kvm_gmem_set_folio(c->kvm, leaf[i], PFN_2M(i), 9), 0);
		assert_int_equal(fault(c, leaf[i], &level), RET_PF_FIXED);
		assert_int_equal(level, PG_LEVEL_2M);
	}
	rec_reset_calls(&c->rec);
	assert_int_equal(c->kvm->stat.cross_boundary_steps, 0);
	split_cross(c, BASE_GFN + 100, leaf[2] + 100, 0);
	assert_int_equal(c->rec.ncalls, 2);
	assert_call(c, 0, REC_SPLIT, leaf[0], PG_LEVEL_2M);
	assert_call(c, 1, REC_SPLIT, leaf[2], PG_LEVEL_2M);
	assert_true(is_large_pte(mirror(c, leaf[1], NULL)));
	assert_int_equal(c->kvm->stat.cross_boundary_steps, want_steps);
	assert_agree(c);
	teardown(&st);
}

static void test_cross_boundary_cost_flag(void **state)
{
	(void)state;
	cross_boundary_cost(false, 1036);
}

static void test_cross_boundary_cost_headtail(void **state)
{
	(void)state;
	cross_boundary_cost(true, 524);
}

/*
 * S23: dirty logging's eager split walks the valid roots; on a TD that is
 * the mirror root, so (v3) both 2M leaves are split through the backend.
 * The proposal refuses: one WARN, -EINVAL, no hook called, leaves intact.
 */
static int eager_split(struct ctx *c)
{
	int r;

	KVM_MMU_LOCK(c->kvm);
	r = kvm_tdp_mmu_try_split_huge_pages(c->kvm, slot0(c), BASE_GFN, BASE_GFN + 1024,
					     PG_LEVEL_4K, false);
	KVM_MMU_UNLOCK(c->kvm);
	return r;
}

static void test_eager_split_reaches_mirror(void **state)
{
	struct ctx *c = *state;

	map_2m(c, 0);
	map_2m(c, 1);
	rec_reset_calls(&c->rec);
	assert_int_equal(eager_split(c), 0);
	assert_int_equal(c->rec.ncalls, 2);
	assert_call(c, 0, REC_SPLIT, BASE_GFN, PG_LEVEL_2M);
	assert_call(c, 1, REC_SPLIT, BASE_GFN + 512, PG_LEVEL_2M);
	assert_split_children(c, 0);
	assert_split_children(c, 1);
	assert_agree(c);
}

static void test_eager_split_mirror_refused(void **state)
{
	struct ctx *c = *state;
	long warns = tdxsim_kernel_events(NULL, TDXSIM_KEV_WARN);

	map_2m(c, 0);
	map_2m(c, 1);
	rec_reset_calls(&c->rec);
	c->kvm->eager_split_refuse_mirror = true;
	assert_int_equal(eager_split(c), -EINVAL);
	assert_int_equal(c->rec.ncalls, 0);
	assert_true(is_large_pte(mirror(c, BASE_GFN, NULL)));
	assert_true(is_large_pte(mirror(c, BASE_GFN + 512, NULL)));
	assert_int_equal(tdxsim_kernel_events(NULL, TDXSIM_KEV_WARN), warns + 1);
	assert_agree(c);
}

/* -ENOMEM comes back negative (v3's `bool ret` turned it into 1, spec §6.1). */
static void test_cross_boundary_enomem_negative(void **state)
{
	struct ctx *c = *state;

	map_2m(c, 0);
	c->rec.page_fail_nth = c->rec.page_allocs + 1;
	split_cross(c, BASE_GFN + 5, BASE_GFN + 6, -ENOMEM);
	assert_true(is_large_pte(mirror(c, BASE_GFN, NULL)));
	assert_agree(c);
}

/* ---- precise zap of a conversion (§2.7 caller 2, §2.8) ---- */
static void test_convert_one_page_precise_zap(void **state)
{
	struct ctx *c = *state;
	gfn_t g = BASE_GFN + 512 + 200;
	int level, j;

	map_2m(c, 1);
	rec_reset_calls(&c->rec);
	assert_int_equal(kvm_vm_set_mem_attributes(c->kvm, g, g + 1, 0), 0);
	/* Split the straddling leaf, then remove exactly the converted page. */
	assert_int_equal(c->rec.ncalls, 2);
	assert_call(c, 0, REC_SPLIT, BASE_GFN + 512, PG_LEVEL_2M);
	assert_call(c, 1, REC_REMOVE, g, PG_LEVEL_4K);
	assert_int_equal(mirror(c, g, &level), 0);
	for (j = 0; j < 512; j++) {
		if (BASE_GFN + 512 + j == g)
			continue;
		assert_int_equal(spte_to_pfn(mirror(c, BASE_GFN + 512 + j, &level)),
				 PFN_2M(1) + j);
		assert_int_equal(level, PG_LEVEL_4K);
	}
	assert_int_equal(c->kvm->stat.pages[0], 511);
	assert_agree(c);
	/* Now shared: a private access to it is an exit, a neighbour is spurious. */
	assert_int_equal(fault(c, g, NULL), -EFAULT);
	assert_int_equal(fault(c, g + 1, NULL), RET_PF_SPURIOUS);
}

/* ---- zap order and deferred free (§2.9) ---- */
static void test_zap_root_leaves_before_parent(void **state)
{
	struct ctx *c = *state;
	int i, nfree = 0, first_free = -1;
	long sp_before;

	map_2m(c, 0);
	split_cross(c, BASE_GFN + 1, BASE_GFN + 2, 0);
	folios_4k(c, 2);
	assert_int_equal(fault(c, BASE_GFN + 1024 + 9, NULL), RET_PF_FIXED);
	map_2m(c, 3);
	sp_before = c->kvm->stat.sp_allocated;
	rec_reset_calls(&c->rec);

	KVM_MMU_LOCK(c->kvm);
	tdp_mmu_zap_root(c->kvm, c->kvm->mirror_root, false);
	/* Removed tables wait for the grace period (end of the write-lock hold). */
	assert_int_equal(c->kvm->stat.sp_allocated, sp_before);
	assert_int_equal(c->kvm->stat.rcu_pending, 4);
	KVM_MMU_UNLOCK(c->kvm);
	assert_int_equal(c->kvm->stat.rcu_pending, 0);
	assert_int_equal(c->kvm->stat.sp_allocated, 1);	/* the root */

	/* 512 + 1 + 1 leaves, 4 tables (two 4K tables, 2M table, 1G table). */
	assert_int_equal(c->rec.nhook[REC_REMOVE], 514);
	assert_int_equal(c->rec.nhook[REC_FREE], 4);
	for (i = 0; i < c->rec.ncalls; i++) {
		const struct rec_call *call = &c->rec.calls[i];

		if (call->hook != REC_FREE) {
			/* No leaf is removed after the table holding it was freed. */
			assert_int_equal(nfree == 0 || call->gfn >= BASE_GFN + 1024, 1);
			continue;
		}
		if (first_free < 0)
			first_free = i;
		nfree++;
	}
	/*
	 * The first 4K table's 512 leaves went before it; then the other 4K
	 * table after its leaf, the 2M table after the 2M leaf, the 1G table last.
	 */
	assert_int_equal(first_free, 512);
	assert_call(c, first_free, REC_FREE, BASE_GFN, PG_LEVEL_4K);
	assert_call(c, 513, REC_REMOVE, BASE_GFN + 1024 + 9, PG_LEVEL_4K);
	assert_call(c, 514, REC_FREE, BASE_GFN + 1024, PG_LEVEL_4K);
	assert_call(c, 515, REC_REMOVE, BASE_GFN + 1536, PG_LEVEL_2M);
	assert_call(c, 516, REC_FREE, BASE_GFN, PG_LEVEL_2M);
	assert_call(c, 517, REC_FREE, 0, PG_LEVEL_1G);
	assert_int_equal(c->rec.ncalls, 518);
	assert_int_equal(c->kvm->stat.pages[0] + c->kvm->stat.pages[1], 0);
	assert_agree(c);	/* the double checked each free found its table empty */
}

/* A table the backend cannot take back is leaked, never freed by KVM (I4). */
static void test_free_failure_leaks(void **state)
{
	struct ctx *c = *state;

	folios_4k(c, 0);
	assert_int_equal(fault(c, BASE_GFN, NULL), RET_PF_FIXED);
	c->pages_before = c->rec.pages_alive;
	c->rec.fail_hook = REC_FREE;
	c->rec.fail_nth = 1;
	c->rec.fail_err = -EIO;
	rec_reset_calls(&c->rec);
	KVM_MMU_LOCK(c->kvm);
	tdp_mmu_zap_root(c->kvm, c->kvm->mirror_root, false);
	KVM_MMU_UNLOCK(c->kvm);
	assert_int_equal(c->rec.nhook[REC_FREE], 3);
	assert_int_equal(c->rec.nmodule_owned, 1);
	/* Two of three external pages came back to KVM and were freed; one stays out. */
	assert_int_equal(c->rec.pages_alive, c->pages_before - 2);
}

/* ---- the shared-lock split rejection (§2.10) and honouring ACCEPT (§2.4) ---- */
static void test_shared_split_rejected_then_write_split(void **state)
{
	struct ctx *c = *state;
	gfn_t g = BASE_GFN + 3;
	struct kvm_gfn_range range = {
		.slot = slot0(c), .start = g, .end = g + 1,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	long sp_before;
	u64 huge;
	int level;

	map_2m(c, 0);
	huge = mirror(c, g, NULL);
	/* The guest accepted at 4K: 2M is inhibited, the fault wants 4K over a 2M leaf. */
	KVM_MMU_LOCK(c->kvm);
	hugepage_set_guest_inhibit(slot0(c), g, PG_LEVEL_2M);
	KVM_MMU_UNLOCK(c->kvm);
	sp_before = c->kvm->stat.sp_allocated;
	c->pages_before = c->rec.pages_alive;
	rec_reset_calls(&c->rec);
	assert_int_equal(fault(c, g, NULL), RET_PF_RETRY);
	assert_int_equal(c->rec.ncalls, 1);
	assert_call(c, 0, REC_SPLIT, BASE_GFN, PG_LEVEL_2M);
	assert_true(c->rec.calls[0].shared);
	assert_int_equal(c->rec.calls[0].ret, -EOPNOTSUPP);
	/* Mirror restored, the sp and its external_spt freed. */
	assert_int_equal(mirror(c, g, &level), huge);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_int_equal(c->kvm->stat.sp_allocated, sp_before);
	assert_int_equal(c->rec.pages_alive, c->pages_before);
	assert_agree(c);

	/* tdx_honor_guest_accept_level: split under the write lock, then the fault is spurious. */
	KVM_MMU_LOCK(c->kvm);
	assert_int_equal(kvm_split_cross_boundary_leafs(c->kvm, &range, false), 0);
	KVM_MMU_UNLOCK(c->kvm);
	assert_call(c, 1, REC_SPLIT, BASE_GFN, PG_LEVEL_2M);
	assert_false(c->rec.calls[1].shared);
	assert_int_equal(fault(c, g, &level), RET_PF_SPURIOUS);
	assert_int_equal(level, PG_LEVEL_4K);
	assert_int_equal(c->rec.ncalls, 2);
	assert_agree(c);
}

/*
 * §2.10 + §6.3 through the split engine: under the read lock the backend
 * refuses; the kernel would retry the same SPTE forever, the model returns
 * the refusal with the mirror restored and the unused sp freed.
 */
static void test_split_root_shared_refused(void **state)
{
	struct ctx *c = *state;
	long sp_before;
	u64 huge;
	int r;

	map_2m(c, 0);
	huge = mirror(c, BASE_GFN, NULL);
	sp_before = c->kvm->stat.sp_allocated;
	c->pages_before = c->rec.pages_alive;
	rec_reset_calls(&c->rec);
	kvm_mmu_read_lock(c->kvm);
	r = tdp_mmu_split_huge_pages_root(c->kvm, c->kvm->mirror_root, BASE_GFN, BASE_GFN + 512,
					  PG_LEVEL_4K, true, false);
	kvm_mmu_read_unlock(c->kvm);
	assert_int_equal(r, -EOPNOTSUPP);
	assert_int_equal(c->rec.ncalls, 1);
	assert_call(c, 0, REC_SPLIT, BASE_GFN, PG_LEVEL_2M);
	assert_true(c->rec.calls[0].shared);
	assert_int_equal(mirror(c, BASE_GFN, NULL), huge);
	assert_int_equal(c->kvm->stat.sp_allocated, sp_before);
	assert_int_equal(c->rec.pages_alive, c->pages_before);
	assert_agree(c);
}

/* kvm_tdp_map_page: retries until mapped; §6.3's livelock ends as a "signal". */
static void test_map_page_retries_and_livelock(void **state)
{
	struct ctx *c = *state;
	int level;

	folios_4k(c, 1);
	c->rec.fail_hook = REC_SET;
	c->rec.fail_nth = 1;
	c->rec.fail_err = -EBUSY;
	assert_int_equal(kvm_tdp_map_page(c->vcpu, (BASE_GFN + 512) << 12, PFERR_PRIVATE_ACCESS,
					  &level), 0);
	assert_int_equal(level, PG_LEVEL_4K);
	assert_int_equal(c->rec.nhook[REC_SET], 2);

	/* A 2M leaf, 2M inhibited: every 4K fault asks for a shared-lock split, refused. */
	map_2m(c, 0);
	KVM_MMU_LOCK(c->kvm);
	hugepage_set_guest_inhibit(slot0(c), BASE_GFN, PG_LEVEL_2M);
	KVM_MMU_UNLOCK(c->kvm);
	rec_reset_calls(&c->rec);
	assert_int_equal(kvm_tdp_map_page(c->vcpu, (BASE_GFN + 1) << 12, PFERR_PRIVATE_ACCESS,
					  &level), -EINTR);
	assert_int_equal(c->rec.nhook[REC_SPLIT], KVM_TDP_MAP_PAGE_MAX_RETRIES);
	assert_true(is_large_pte(mirror(c, BASE_GFN + 1, NULL)));
	assert_agree(c);
}

/* ---- lockdep (the kernel shim's): the MMU asserts how mmu_lock is held ---- */
static unsigned int lockdep_events(void)
{
	return tdxsim_kernel_events(NULL, TDXSIM_KEV_LOCKDEP);
}

static void test_lockdep_assertions(void **state)
{
	struct ctx *c = *state;
	u64 spte = SHADOW_NONPRESENT_VALUE;
	unsigned int before = lockdep_events();

	kvm_lockdep_assert_mmu_lock_held(c->kvm, false);
	assert_int_equal(lockdep_events(), before + 1);
	kvm_mmu_read_lock(c->kvm);
	assert_true(kvm_mmu_lock_held(c->kvm, true));
	assert_false(kvm_mmu_lock_held(c->kvm, false));
	kvm_lockdep_assert_mmu_lock_held(c->kvm, true);
	assert_int_equal(lockdep_events(), before + 1);
	/* A non-atomic write under the read lock is flagged. */
	tdp_mmu_set_spte(c->kvm, 0, &c->kvm->mirror_root->spt[0], spte, spte, 0, 4);
	assert_int_equal(lockdep_events(), before + 2);
	kvm_mmu_read_unlock(c->kvm);
	/* And a fault path run with nothing held. */
	KVM_MMU_LOCK(c->kvm);
	kvm_lockdep_assert_mmu_lock_held(c->kvm, false);
	KVM_MMU_UNLOCK(c->kvm);
	assert_int_equal(lockdep_events(), before + 2);
	tdxsim_kernel_events_reset(NULL);	/* expected ones */
}

/* ---- concurrent faults under the shared lock (§3.2) ---- */
struct race {
	struct ctx *c;
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool parked, go;
	gfn_t gfn;
	int ret;
	struct kvm_vcpu *vcpu;
};

static struct race *the_race;

/* Park the first fault inside SEPT.ADD of the leaf table, with its SPTE frozen. */
static void park_in_link(struct rec_backend *rec, enum rec_hook hook, gfn_t gfn, int level)
{
	struct race *r = the_race;

	if (hook != REC_LINK || level != PG_LEVEL_2M || r->parked)
		return;
	pthread_mutex_lock(&r->m);
	r->parked = true;
	pthread_cond_broadcast(&r->cv);
	while (!r->go)
		pthread_cond_wait(&r->cv, &r->m);
	pthread_mutex_unlock(&r->m);
}

static void *fault_thread(void *arg)
{
	struct race *r = arg;

	r->ret = kvm_mmu_do_page_fault(r->vcpu, r->gfn << 12, PFERR_PRIVATE_ACCESS, NULL);
	return NULL;
}

static void test_concurrent_faults_frozen(void **state)
{
	struct ctx *c = *state;
	struct race r = { .c = c, .gfn = BASE_GFN + 1024 };
	struct kvm_vcpu *vcpu1 = tdxsim_kvm_vcpu_create(c->kvm, 1);
	pthread_t t;
	int ret;

	assert_non_null(vcpu1);
	folios_4k(c, 2);
	pthread_mutex_init(&r.m, NULL);
	pthread_cond_init(&r.cv, NULL);
	r.vcpu = vcpu1;
	the_race = &r;
	c->rec.in_hook = park_in_link;
	assert_int_equal(pthread_create(&t, NULL, fault_thread, &r), 0);
	pthread_mutex_lock(&r.m);
	while (!r.parked)
		pthread_cond_wait(&r.cv, &r.m);
	pthread_mutex_unlock(&r.m);

	/* vCPU 0 faults a neighbour while the table's SPTE is FROZEN: retry, no hook. */
	assert_int_equal(rec_count_spte(c->kvm, FROZEN_SPTE), 1);
	rec_reset_calls(&c->rec);
	ret = fault(c, BASE_GFN + 1024 + 1, NULL);
	assert_int_equal(ret, RET_PF_RETRY);
	assert_int_equal(c->rec.ncalls, 0);

	pthread_mutex_lock(&r.m);
	r.go = true;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.m);
	pthread_join(t, NULL);
	c->rec.in_hook = NULL;
	assert_int_equal(r.ret, RET_PF_FIXED);
	assert_int_equal(fault(c, BASE_GFN + 1024 + 1, NULL), RET_PF_FIXED);
	assert_agree(c);
	tdxsim_kvm_vcpu_destroy(vcpu1);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.m);
}

struct racer {
	struct ctx *c;
	struct kvm_vcpu *vcpu;
	int first, step;
	long retries;
	int errors;
};

static void *racer_thread(void *arg)
{
	struct racer *r = arg;
	int i;

	/* Both threads walk the same 2M ranges: they race for every table. */
	for (i = r->first; i < (int)NPAGES; i += r->step) {
		int ret;

		while ((ret = kvm_mmu_do_page_fault(r->vcpu, (BASE_GFN + i) << 12,
						    PFERR_PRIVATE_ACCESS, NULL)) == RET_PF_RETRY)
			r->retries++;
		if (ret != RET_PF_FIXED && ret != RET_PF_SPURIOUS)
			r->errors++;
	}
	return NULL;
}

static void test_concurrent_faults_free_running(void **state)
{
	struct ctx *c = *state;
	struct racer r[2];
	pthread_t t[2];
	int i;

	for (i = 0; i < 4; i++)
		folios_4k(c, i);
	for (i = 0; i < 2; i++) {
		r[i] = (struct racer){ .c = c, .first = i, .step = 2 };
		r[i].vcpu = tdxsim_kvm_vcpu_create(c->kvm, 10 + i);
		assert_non_null(r[i].vcpu);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer_thread, &r[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 2; i++) {
		assert_int_equal(r[i].errors, 0);
		tdxsim_kvm_vcpu_destroy(r[i].vcpu);
	}
	/* Every page mapped once, one SET each; the tables linked once each. */
	assert_int_equal(c->kvm->stat.pages[0], NPAGES);
	assert_int_equal(c->rec.nhook[REC_SET], NPAGES);
	/*
	 * A lost race fails the freeze before any hook: one link per table
	 * (the 1G table, the 2M table, four 4K tables).
	 */
	assert_int_equal(c->rec.nhook[REC_LINK], 6);
	assert_agree(c);
}

int main(void)
{
#ifdef TEST_DESIGN_UPSTREAM
	rec_design = KVM_MMU_DESIGN_UPSTREAM;
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spte_values),
		cmocka_unit_test_setup_teardown(test_lpage_info_edges_and_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attributes_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_2m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_max_level_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_no_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_hook_failure_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_2m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_alloc_enomem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_topup_enomem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_restart_after_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_failure_write_lock_not_rolled_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_zap_yield_restart, setup, teardown),
		cmocka_unit_test(test_fault_5level),
		cmocka_unit_test_setup_teardown(test_cross_boundary_only_straddling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_boundary_enomem_negative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_convert_one_page_precise_zap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zap_root_leaves_before_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_failure_leaks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_split_rejected_then_write_split, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_root_shared_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_page_retries_and_livelock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eager_split_reaches_mirror, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eager_split_mirror_refused, setup, teardown),
		cmocka_unit_test(test_cross_boundary_cost_flag),
		cmocka_unit_test(test_cross_boundary_cost_headtail),
		cmocka_unit_test_setup_teardown(test_lockdep_assertions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_faults_frozen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_faults_free_running, setup, teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
