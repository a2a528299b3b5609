// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host invariant checker (sim/check, kvm_tdx_check) on a TDX VM driven
 * through the real flows (tests/sim/tdx_fixture.c: KVM's TDX backend
 * against a simulated module).  Positive tests: clean after 4K and 2M
 * faults, a split by private->shared conversion, zaps, HKID release and the
 * zap of the root.  Negative tests: each corrupts exactly one thing, asserts
 * that exactly the invariant it breaks is reported, undoes it and asserts
 * the VM is clean again (the fixture's teardown then checks every page).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <string.h>

#include <tdxsim/fault.h>
#include <tdxsim/trace.h>
#include <tdxsim/wrappers.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/vcpu.h>

#include "tdx_fixture.h"

static struct kvm_check_report rep;

static void assert_clean(struct tdx_fixture *fx)
{
	int n = kvm_tdx_check(fx->kvm, &rep);

	if (n)
		kvm_check_report_print(&rep, stderr);
	assert_int_equal(n, 0);
}

/* Exactly @inv broke, and nothing else (the module's checker included). */
static void assert_only(struct tdx_fixture *fx, enum kvm_check_inv inv)
{
	int n = kvm_tdx_check(fx->kvm, &rep);

	if (n <= 0 || (unsigned int)n != rep.count[inv])
		kvm_check_report_print(&rep, stderr);
	assert_true(n > 0);
	assert_int_equal(rep.count[inv], n);
	if (inv == KVM_INV_MODULE)
		return;		/* their details are in rep.module */
	assert_int_equal(rep.v[0].what, inv);
	assert_true(rep.v[0].msg[0] != '\0');
}

static struct kvm_memory_slot *slot0(struct tdx_fixture *fx)
{
	return gfn_to_memslot(fx->kvm, FX_BASE_GFN);
}

/* ---- positive: clean after each real flow ---- */

static void test_clean_empty(void **state)
{
	struct tdx_fixture *fx = *state;

	assert_clean(fx);
	assert_string_equal(kvm_check_inv_id(KVM_INV_SEPT), "I2");
	assert_string_equal(kvm_check_inv_id(KVM_INV_PAMT_REFCOUNT), "I5");
	assert_string_equal(kvm_check_inv_id(KVM_INV_NR), "?");
}

static void test_clean_fault_zap(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_clean(fx);
	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_clean(fx);
	tdx_fixture_zap_slot(fx);
	assert_clean(fx);
}

/* Split (BLOCK, TRACK, DEMOTE from the per-VM cache) + precise zap, then the rest zapped. */
static void test_clean_split_zap(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0), 0);
	assert_int_equal(fx->kvm->stat.pages[PG_LEVEL_4K - 1], 512);
	assert_clean(fx);
	tdx_fixture_zap_slot(fx);
	assert_clean(fx);
}

/* After the HKID release only ownership is compared; after the root's zap nothing is left. */
static void test_clean_teardown(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0), 0);
	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	tdx_fixture_release_hkid(fx);
	assert_clean(fx);
	KVM_MMU_LOCK(fx->kvm);
	tdp_mmu_zap_root(fx->kvm, fx->kvm->mirror_root, false);
	KVM_MMU_UNLOCK(fx->kvm);
	kvm_mmu_rcu_barrier(fx->kvm);
	assert_clean(fx);
}

/* ---- negative: one corruption, one invariant ---- */

/* I2: the module's leaf BLOCKED behind KVM's back (then TRACK and UNBLOCK undo it). */
static void test_break_sept(void **state)
{
	struct tdx_fixture *fx = *state;
	u64 e1, e2, gpa = FX_GFN_4K << PAGE_SHIFT;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(tdh_mem_range_block(&fx->kvm_tdx->td, gpa, TDX_PS_4K, &e1, &e2),
			 TDX_SUCCESS);
	assert_only(fx, KVM_INV_SEPT);
	assert_int_equal(rep.v[0].gfn, FX_GFN_4K);
	assert_int_equal(rep.v[0].level, PG_LEVEL_4K);
	assert_int_equal(rep.v[0].hpa, page_to_phys(fx->page_4k));
	/* tdx_track() wants mmu_lock for write, as in every KVM caller (§7.3). */
	KVM_MMU_LOCK(fx->kvm);
	assert_int_equal(tdx_track(fx->kvm_tdx), 0);
	KVM_MMU_UNLOCK(fx->kvm);
	assert_int_equal(tdxsim_tdh_mem_range_unblock(fx->std, gpa, TDX_PS_4K, &e1, &e2),
			 TDX_SUCCESS);
	assert_clean(fx);
}

/* I2: a page AUG'ed straight to the module, the mirror never told. */
static void test_break_sept_unmirrored(void **state)
{
	struct tdx_fixture *fx = *state;
	gfn_t gfn = FX_GFN_4K + 1;
	struct page *page;
	u64 e1, e2;

	page = alloc_page(GFP_KERNEL);
	assert_non_null(page);
	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(tdx_pamt_get(page, NULL), 0);
	assert_int_equal(tdh_mem_page_aug(&fx->kvm_tdx->td, gfn << PAGE_SHIFT, TDX_PS_4K,
					  page_to_pfn(page), &e1, &e2), TDX_SUCCESS);
	assert_only(fx, KVM_INV_SEPT_UNMIRRORED);
	assert_int_equal(rep.v[0].gfn, gfn);
	assert_int_equal(rep.v[0].hpa, page_to_phys(page));

	KVM_MMU_LOCK(fx->kvm);
	tdx_sept_remove_private_spte(fx->kvm, gfn, PG_LEVEL_4K,
				     make_spte(page_to_pfn(page), PG_LEVEL_4K));
	KVM_MMU_UNLOCK(fx->kvm);
	__free_page(page);
	assert_clean(fx);
}

/*
 * The design's per-VM split cache and its top-up from this (non-vCPU)
 * thread: v3's prealloc_split_cache; upstream's kvm_tdx->pamt_cache, whose
 * mutex a caller outside a vCPU must hold (v5, kvm-upstream.md §5).
 */
static struct tdx_pamt_cache *vm_split_cache(struct tdx_fixture *fx)
{
#ifdef TEST_DESIGN_UPSTREAM
	return &fx->kvm_tdx->pamt_cache;
#else
	return &fx->kvm_tdx->prealloc_split_cache;
#endif
}

static int topup_vm_split_cache(struct tdx_fixture *fx)
{
	int r;

#ifdef TEST_DESIGN_UPSTREAM
	mutex_lock(&fx->kvm_tdx->pamt_cache_lock);
#endif
	r = fx->kvm->x86_ops->topup_external_per_vm_split_cache(fx->kvm, PG_LEVEL_2M);
#ifdef TEST_DESIGN_UPSTREAM
	mutex_unlock(&fx->kvm_tdx->pamt_cache_lock);
#endif
	return r;
}

/*
 * I3: a page the module maps put into the design's per-VM split cache
 * (upstream: kvm_tdx->pamt_cache, which the scan once missed), which
 * tdx_split_cache_count() then counts.
 */
static void test_break_split_cache(void **state)
{
	struct tdx_fixture *fx = *state;
	struct tdx_pamt_cache *cache = vm_split_cache(fx);

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(tdx_split_cache_count(fx->kvm), 0);
	cache->pages[cache->cnt++] = fx->page_4k;
	assert_int_equal(tdx_split_cache_count(fx->kvm), 1);
	assert_only(fx, KVM_INV_SPLIT_CACHE);
	assert_int_equal(rep.v[0].hpa, page_to_phys(fx->page_4k));
	cache->cnt--;
	assert_clean(fx);
}

/* tdx_split_cache_count() answers for the design's cache after a real top-up. */
static void test_split_cache_count(void **state)
{
	struct tdx_fixture *fx = *state;

	assert_int_equal(tdx_split_cache_count(fx->kvm), 0);
	assert_int_equal(topup_vm_split_cache(fx), 0);
	assert_int_equal(tdx_split_cache_count(fx->kvm), vm_split_cache(fx)->cnt);
	assert_int_equal(tdx_split_cache_count(fx->kvm), TDX_MIN_SPLIT_CACHE_SZ);
	assert_int_equal(tdx_split_cache_count(NULL), -EINVAL);
	assert_clean(fx);
}

/* I5: one get too many on the 4K page's 2MB range (its pair stays installed). */
static void test_break_pamt_refcount(void **state)
{
	struct tdx_fixture *fx = *state;
	atomic_t *ref;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	ref = tdx_find_pamt_refcount(page_to_pfn(fx->page_4k));
	atomic_inc(ref);
	assert_only(fx, KVM_INV_PAMT_REFCOUNT);
	assert_int_equal(rep.v[0].hpa, page_to_phys(fx->page_4k) & PMD_MASK);
	atomic_dec(ref);
	assert_clean(fx);
}

/*
 * I5: a Dynamic-PAMT pair installed behind the kernel's back on a 2MB
 * range nobody uses (module count 0 = kernel refcount 0, but a pair).
 */
static void test_break_pamt_pair(void **state)
{
	struct tdx_fixture *fx = *state;
	const struct tdxsim_config *cfg = tdxsim_get_config(fx->sim);
	struct page *p0 = alloc_page(GFP_KERNEL), *p1 = alloc_page(GFP_KERNEL);
	struct tdxsim_pamt_info pi;
	u64 pair[2], out[2], range = 0, hpa;

	assert_non_null(p0);
	assert_non_null(p1);
	pair[0] = page_to_phys(p0);
	pair[1] = page_to_phys(p1);
	for (hpa = cfg->mem_base; hpa < cfg->mem_base + cfg->mem_size && !range;
	     hpa += PMD_SIZE) {
		assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
		if (!pi.dpamt_pair && !atomic_read(tdx_find_pamt_refcount(PHYS_PFN(hpa))) &&
		    (pair[0] & PMD_MASK) != hpa && (pair[1] & PMD_MASK) != hpa)
			range = hpa;
	}
	assert_true(range != 0);
	assert_clean(fx);
	assert_int_equal(tdxsim_tdh_phymem_pamt_add(fx->sim, range, pair), TDX_SUCCESS);
	assert_only(fx, KVM_INV_PAMT_PAIR);
	assert_int_equal(rep.v[0].hpa, range);
	assert_int_equal(tdxsim_tdh_phymem_pamt_remove(fx->sim, range, out), TDX_SUCCESS);
	__free_page(p0);
	__free_page(p1);
	assert_clean(fx);
}

/* I4: a linked table handed to call_rcu as if removed (freed at the next unlock). */
static void test_break_sp_removed(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_mmu_page *sp;
	int level;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	sp = sptep_to_sp(tdx_fixture_mirror_sptep(fx->kvm, FX_GFN_4K, &level));
	kvm_mmu_call_rcu(fx->kvm, sp);
	assert_only(fx, KVM_INV_SP_LINK);
	assert_int_equal(rep.v[0].level, PG_LEVEL_2M);
	/* Take it back off the list before a grace period frees it. */
	assert_ptr_equal(fx->kvm->rcu.first, sp);
	fx->kvm->rcu.first = sp->rcu_next;
	fx->kvm->stat.rcu_pending--;
	assert_clean(fx);
}

/* I14: a FROZEN_SPTE left in a 4K table. */
static void test_break_frozen(void **state)
{
	struct tdx_fixture *fx = *state;
	int level;
	u64 *sptep, old;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	sptep = tdx_fixture_mirror_sptep(fx->kvm, FX_GFN_4K + 1, &level);
	assert_int_equal(level, PG_LEVEL_4K);
	old = *sptep;
	assert_int_equal(old, SHADOW_NONPRESENT_VALUE);
	*sptep = FROZEN_SPTE;
	assert_only(fx, KVM_INV_FROZEN);
	assert_int_equal(rep.v[0].gfn, FX_GFN_4K + 1);
	*sptep = old;
	assert_clean(fx);
}

/* I13: a raw 0 in a linked table (what 001's zeroed split spt leaves). */
static void test_break_spt_content(void **state)
{
	struct tdx_fixture *fx = *state;
	int level;
	u64 *sptep;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	sptep = tdx_fixture_mirror_sptep(fx->kvm, FX_GFN_4K + 7, &level);
	*sptep = 0;
	assert_only(fx, KVM_INV_SPT_CONTENT);
	assert_int_equal(rep.v[0].gfn, FX_GFN_4K + 7);
	*sptep = SHADOW_NONPRESENT_VALUE;
	assert_clean(fx);
}

/* I6: GUEST_INHIBIT on the 2M range while a 2M leaf maps it. */
static void test_break_guest_inhibit(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_lpage_info *li;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	li = lpage_info_slot(FX_GFN_2M, slot0(fx), PG_LEVEL_2M);
	li->disallow_lpage |= KVM_LPAGE_GUEST_INHIBIT_FLAG;
	assert_only(fx, KVM_INV_GUEST_INHIBIT);
	assert_int_equal(rep.v[0].gfn, FX_BASE_GFN);
	assert_int_equal(rep.v[0].level, PG_LEVEL_2M);
	li->disallow_lpage &= ~KVM_LPAGE_GUEST_INHIBIT_FLAG;
	assert_clean(fx);
}

/* I7a: one GFN under the 2M leaf made shared without a split. */
static void test_break_mixed(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_memory_slot *slot = slot0(fx);

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	bit_clear(slot->attr_private, FX_GFN_2M + 100 - slot->base_gfn);
	assert_false(kvm_mem_is_private(fx->kvm, FX_GFN_2M + 100));
	assert_only(fx, KVM_INV_MIXED);
	bit_set(slot->attr_private, FX_GFN_2M + 100 - slot->base_gfn);
	assert_clean(fx);
}

/* I1: disallow_lpage counted (write tracking, say) with the 2M leaf left in place. */
static void test_break_lpage(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	kvm_mmu_gfn_disallow_lpage(slot0(fx), FX_GFN_2M);
	assert_only(fx, KVM_INV_LPAGE);
	kvm_mmu_gfn_allow_lpage(slot0(fx), FX_GFN_2M);
	assert_clean(fx);
}

/* I1: guest_memfd's folio for the GFN is not the page the leaf maps. */
static void test_break_folio(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_memory_slot *slot = slot0(fx);
	u64 idx = FX_GFN_4K - slot->base_gfn + slot->gmem_pgoff;
	kvm_pfn_t *pfnp;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	pfnp = &slot->gmem[idx / SPTE_ENT_PER_PAGE].pfns[idx % SPTE_ENT_PER_PAGE];
	assert_int_equal(*pfnp, page_to_pfn(fx->page_4k));
	*pfnp += 1;
	assert_only(fx, KVM_INV_FOLIO);
	assert_int_equal(rep.v[0].gfn, FX_GFN_4K);
	*pfnp -= 1;
	assert_clean(fx);
}

/* I4: a linked sp's external_spt is a page the module does not own as S-EPT. */
static void test_break_external_spt(void **state)
{
	struct tdx_fixture *fx = *state;
	struct page *other = alloc_page(GFP_KERNEL);
	struct kvm_mmu_page *sp;
	void *saved;
	int level;

	assert_non_null(other);
	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	sp = sptep_to_sp(tdx_fixture_mirror_sptep(fx->kvm, FX_GFN_4K, &level));
	assert_int_equal(sp->role.level, PG_LEVEL_4K);
	saved = sp->external_spt;
	sp->external_spt = page_address(other);
	assert_only(fx, KVM_INV_EXT_SPT);
	assert_int_equal(rep.v[0].hpa, page_to_phys(other));
	assert_int_equal(rep.v[0].level, PG_LEVEL_2M);
	sp->external_spt = saved;
	__free_page(other);
	assert_clean(fx);
}

/* I4: a table's back pointer to its parent SPTE lost. */
static void test_break_sp_link(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_mmu_page *sp;
	u64 *saved;
	int level;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	sp = sptep_to_sp(tdx_fixture_mirror_sptep(fx->kvm, FX_GFN_4K, &level));
	saved = sp->ptep;
	sp->ptep = NULL;
	assert_only(fx, KVM_INV_SP_LINK);
	sp->ptep = saved;
	assert_clean(fx);
}

/* I16: the pages_4k statistic off by one. */
static void test_break_stats(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	fx->kvm->stat.pages[PG_LEVEL_4K - 1]++;
	assert_only(fx, KVM_INV_STATS);
	fx->kvm->stat.pages[PG_LEVEL_4K - 1]--;
	assert_clean(fx);
}

/* I17: the mapped 4K GFN turned shared without the zap. */
static void test_break_shared_mapped(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_memory_slot *slot = slot0(fx);

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	bit_clear(slot->attr_private, FX_GFN_4K - slot->base_gfn);
	assert_only(fx, KVM_INV_SHARED_MAPPED);
	bit_set(slot->attr_private, FX_GFN_4K - slot->base_gfn);
	assert_clean(fx);
}

/*
 * I4 after the HKID release: the mirror forgets a leaf (stat kept in step)
 * while the TD still owns the page: nothing would ever RECLAIM it.
 */
static void test_break_module_orphan(void **state)
{
	struct tdx_fixture *fx = *state;
	int level;
	u64 *sptep, old;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	tdx_fixture_release_hkid(fx);
	sptep = tdx_fixture_mirror_sptep(fx->kvm, FX_GFN_4K, &level);
	old = *sptep;
	*sptep = SHADOW_NONPRESENT_VALUE;
	fx->kvm->stat.pages[PG_LEVEL_4K - 1]--;
	assert_only(fx, KVM_INV_MODULE_ORPHAN);
	assert_int_equal(rep.v[0].hpa, page_to_phys(fx->page_4k));
	*sptep = old;
	fx->kvm->stat.pages[PG_LEVEL_4K - 1]++;
	assert_clean(fx);
}

/*
 * The module's own checker runs in the same call: the host frees a page
 * the TD maps.  The module refuses and records a host misuse
 * (TDXSIM_INV_HOST_MISUSE); the mirror is still right, so that is the one
 * violation, reported as KVM_INV_MODULE with tdxsim_check()'s report.
 */
static void test_module_report_merged(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(tdxsim_page_free(fx->sim, page_to_phys(fx->page_4k), TDX_PS_4K), -EBUSY);
	fx->module_dirty = true;
	assert_only(fx, KVM_INV_MODULE);
	assert_int_equal(rep.module.nr, 1);
	assert_int_equal(rep.module.v[0].what, TDXSIM_INV_HOST_MISUSE);
	assert_int_equal(rep.module.v[0].hpa, page_to_phys(fx->page_4k));
}

/*
 * I18: once the VM is bugged the trees may disagree by design; the
 * checker says it skipped the agreement checks instead of reporting them.
 * (A fault on a TD still being built bugs the VM in this model, as in
 * test_tdx.c's test_fault_not_runnable.)
 */
static void test_bugged_skips_agreement(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	fx->kvm_tdx->state = TD_STATE_INITIALIZED;
	assert_int_equal(kvm_mmu_do_page_fault(fx->vcpu, FX_GFN_4K << PAGE_SHIFT,
					       PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK, NULL),
			 RET_PF_RETRY);
	assert_true(fx->kvm->vm_bugged);
	assert_clean(fx);
	assert_true(rep.skipped_agreement);
	/* Expected: the teardown must not count them against the test. */
	fx->kvm_tdx->state = TD_STATE_RUNNABLE;
	fx->kvm->vm_bugged = false;
	tdxsim_kernel_events_reset(fx->sim);
	assert_clean(fx);
	assert_false(rep.skipped_agreement);
}

/*
 * A real flow that breaks an invariant: spec §6.1's `bool ret`
 * (TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL).  The first host page allocation
 * of a private->shared conversion inside the 2M leaf fails; the split
 * returns -ENOMEM.  Off: the conversion fails, attributes unchanged, clean.
 * On: -ENOMEM comes back as 1, the zap is skipped and the conversion goes
 * on, so the 2M leaf now covers a shared GFN: I7a, and only I7a.
 */
static void convert_with_enomem(struct tdx_fixture *fx)
{
	struct tdxsim_fault_rule r;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	tdxsim_fault_rule_init(&r, TDXSIM_FAULT_PAGE_ALLOC, TDXSIM_FAULT_ENOMEM, 0);
	r.nth = 1;
	assert_true(tdxsim_fault_add(fx->sim, &r) >= 0);
	fx->conv_ret = kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	tdxsim_fault_clear(fx->sim);
}

static void test_flow_cross_boundary_enomem(void **state)
{
	struct tdx_fixture *fx = *state;

	convert_with_enomem(fx);
	assert_int_equal(fx->conv_ret, -ENOMEM);
	assert_true(kvm_mem_is_private(fx->kvm, FX_GFN_2M));
	assert_clean(fx);
}

static void test_flow_cross_boundary_bool_defect(void **state)
{
	struct tdx_fixture *fx = *state;

	convert_with_enomem(fx);
#ifdef TEST_DESIGN_UPSTREAM
	/*
	 * upstream splits the head and tail in tdx_gmem_convert(), not in
	 * kvm_split_cross_boundary_leafs(): its ENOMEM (the PAMT cache
	 * top-up, before mmu_lock) never meets v3's `bool ret`.
	 */
	assert_int_equal(fx->conv_ret, -ENOMEM);
	assert_true(kvm_mem_is_private(fx->kvm, FX_GFN_2M));
	assert_clean(fx);
	return;
#endif
	assert_int_equal(fx->conv_ret, 0);
	assert_false(kvm_mem_is_private(fx->kvm, FX_GFN_2M));
	/*
	 * The scan: the 2M leaf over a shared GFN (I7a, twice: the GFN and
	 * MIXED).  Inline: the positive return (I19) and the GFN the
	 * conversion left mapped (I7b).  Nothing else.
	 */
	assert_int_equal(kvm_tdx_check(fx->kvm, &rep), 4);
	assert_int_equal(rep.count[KVM_INV_MIXED], 2);
	assert_int_equal(rep.count[KVM_INV_RETURN], 1);
	assert_int_equal(rep.count[KVM_INV_PRECISE_ZAP], 1);
	assert_int_equal(rep.v[0].what, KVM_INV_MIXED);
	assert_int_equal(rep.v[0].gfn, FX_BASE_GFN);
	assert_int_equal(rep.v[0].level, PG_LEVEL_2M);
	fx->expect.ledger = 2;	/* I19, I7b */
}


/* ---- the trace seq a violation names ---- */

/* A corruption made through sim/tdx's wrappers: the violation names that very call. */
static void test_seq_names_the_call(void **state)
{
	struct tdx_fixture *fx = *state;
	u64 e1, e2, gpa = FX_GFN_4K << PAGE_SHIFT, seq;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(tdh_mem_range_block(&fx->kvm_tdx->td, gpa, TDX_PS_4K, &e1, &e2),
			 TDX_SUCCESS);
	seq = tdxsim_seq(fx->sim);
	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);	/* later calls, elsewhere */
	assert_true(tdxsim_seq(fx->sim) > seq);
	assert_only(fx, KVM_INV_SEPT);
	assert_int_equal(rep.v[0].seq, seq);

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	kvm_check_report_print(&rep, f);
	fclose(f);
	{
		char want[32];

		snprintf(want, sizeof(want), "seq %llu ", (unsigned long long)seq);
		assert_non_null(strstr(buf, want));
	}
	free(buf);

	KVM_MMU_LOCK(fx->kvm);
	assert_int_equal(tdx_track(fx->kvm_tdx), 0);
	KVM_MMU_UNLOCK(fx->kvm);
	assert_int_equal(tdxsim_tdh_mem_range_unblock(fx->std, gpa, TDX_PS_4K, &e1, &e2),
			 TDX_SUCCESS);
	assert_clean(fx);
}

/*
 * A call sim/tdx did not make (the host layer's PAMT.ADD): found in the
 * trace ring; a corruption of KVM's own state names no call (seq 0).
 */
static void test_seq_from_trace_ring(void **state)
{
	struct tdx_fixture *fx = *state;
	const struct tdxsim_config *cfg = tdxsim_get_config(fx->sim);
	struct page *p0 = alloc_page(GFP_KERNEL), *p1 = alloc_page(GFP_KERNEL);
	struct tdxsim_pamt_info pi;
	u64 pair[2], out[2], range = 0, hpa, seq;

	assert_int_equal(tdxsim_trace_ring(fx->sim, 64), 0);
	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	fx->kvm->stat.pages[PG_LEVEL_4K - 1]++;
	assert_only(fx, KVM_INV_STATS);
	assert_int_equal(rep.v[0].seq, 0);
	fx->kvm->stat.pages[PG_LEVEL_4K - 1]--;

	pair[0] = page_to_phys(p0);
	pair[1] = page_to_phys(p1);
	for (hpa = cfg->mem_base + cfg->mem_size - PMD_SIZE; hpa > cfg->mem_base && !range;
	     hpa -= PMD_SIZE) {
		assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
		if (!pi.dpamt_pair && !atomic_read(tdx_find_pamt_refcount(PHYS_PFN(hpa))) &&
		    (pair[0] & PMD_MASK) != hpa && (pair[1] & PMD_MASK) != hpa)
			range = hpa;
	}
	assert_true(range != 0);
	assert_int_equal(tdxsim_tdh_phymem_pamt_add(fx->sim, range, pair), TDX_SUCCESS);
	seq = tdxsim_seq(fx->sim);
	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_only(fx, KVM_INV_PAMT_PAIR);
	assert_int_equal(rep.v[0].seq, seq);
	assert_int_equal(tdxsim_tdh_phymem_pamt_remove(fx->sim, range, out), TDX_SUCCESS);
	__free_page(p0);
	__free_page(p1);
	assert_int_equal(tdxsim_trace_ring(fx->sim, 0), 0);
	assert_clean(fx);
}

/* ---- provenance ---- */

/*
 * A split's pages through their whole life: the DEMOTE pair came from the
 * per-VM split cache and is the module's; the new S-EPT page from the
 * split path.  After the zaps, the HKID release and the root's zap the pair
 * was freed by tdx_pamt_put and the S-EPT page by tdp_mmu_free_sp.
 */
static void test_provenance_split(void **state)
{
	struct tdx_fixture *fx = *state;
	u64 gpa = (FX_GFN_2M + 2) << PAGE_SHIFT;
	struct kvm_page_provenance p, q;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0), 0);

	assert_int_equal(kvm_gpa_provenance(fx->sim, fx->kvm, gpa, KVM_POOL_SPLIT_CACHE, &p), 0);
	assert_int_equal(p.state, KVM_PAGE_MODULE);
#ifdef TEST_DESIGN_UPSTREAM
	/* tdx_gmem_convert() filled kvm_tdx->pamt_cache before mmu_lock (v5). */
	assert_string_equal(p.allocator, "tdx_pamt_cache_topup");
#else
	assert_string_equal(p.allocator, "tdx_topup_external_per_vm_split_cache");
#endif
	assert_int_equal(p.gfn, FX_BASE_GFN);
	assert_int_equal(p.level, PG_LEVEL_2M);
	assert_null(p.freer);
	assert_true(p.last_seq > 0);

	assert_int_equal(kvm_gpa_provenance(fx->sim, fx->kvm, gpa, kvm_page_pool_lookup("sept-page"), &q),
			 0);
	assert_int_equal(q.pool, KVM_POOL_SPLIT_SP);
	assert_int_equal(q.state, KVM_PAGE_MODULE);
	assert_string_equal(q.allocator, "tdp_mmu_alloc_sp_for_split");
	/* The guest page: the folio the fixture populated. */
	assert_int_equal(kvm_gpa_provenance(fx->sim, fx->kvm, FX_GFN_2M << PAGE_SHIFT, KVM_POOL_GUEST_FOLIO,
					    &p), 0);
	assert_string_equal(p.allocator, "kvm_gmem_populate");
	assert_int_equal(kvm_gpa_provenance(fx->sim, fx->kvm, 1ULL << 41, KVM_POOL_NR, &p), -ENOENT);
	assert_clean(fx);

	tdx_fixture_zap_slot(fx);
	tdx_fixture_release_hkid(fx);
	KVM_MMU_LOCK(fx->kvm);
	tdp_mmu_zap_root(fx->kvm, fx->kvm->mirror_root, false);
	KVM_MMU_UNLOCK(fx->kvm);
	assert_clean(fx);

	assert_int_equal(kvm_gpa_provenance(fx->sim, fx->kvm, gpa, KVM_POOL_SPLIT_CACHE, &p), 0);
	assert_int_equal(p.state, KVM_PAGE_FREED);
	assert_string_equal(p.freer, "tdx_pamt_put");
	assert_int_equal(kvm_page_provenance(fx->sim, q.hpa, &q), 0);
	assert_int_equal(q.state, KVM_PAGE_FREED);
	assert_string_equal(q.freer, "tdp_mmu_free_sp");
	assert_true(q.free_seq >= q.alloc_seq);
	assert_string_equal(kvm_page_pool_name(KVM_POOL_SPLIT_CACHE), "split-cache");
	assert_int_equal(kvm_page_pool_lookup("no-such-pool"), -EINVAL);
}

/*
 * 000's ownership question: a page of the split cache ends up as an sp's
 * external_spt and KVM frees it with the sp.  Reported as it happens.
 */
static void test_provenance_wrong_freer(void **state)
{
	struct tdx_fixture *fx = *state;
	struct tdx_pamt_cache *cache = vm_split_cache(fx);
	struct kvm_mmu_page *sp;
	struct page *page;
	void *own;

	assert_int_equal(topup_vm_split_cache(fx), 0);
	assert_int_equal(cache->cnt, TDX_MIN_SPLIT_CACHE_SZ);
	sp = tdp_mmu_alloc_sp_for_split(fx->kvm, true);
	assert_non_null(sp);
	own = sp->external_spt;
	page = cache->pages[--cache->cnt];
	sp->external_spt = page_address(page);
	tdp_mmu_free_sp(fx->kvm, sp);
	assert_only(fx, KVM_INV_WRONG_POOL);
	assert_int_equal(rep.v[0].hpa, page_to_phys(page));
	assert_non_null(strstr(rep.v[0].msg, "from the split-cache"));
	assert_non_null(strstr(rep.v[0].msg, "freed by tdp_mmu_free_sp"));
	fx->kvm->page_ops.release_page(fx->kvm, own, KVM_POOL_SP_FREE);
	kvm_check_ledger_reset(fx->sim);
	assert_clean(fx);
}

/* A page of the vCPU's prealloc freed twice (the second time from a stale cache slot). */
static void test_provenance_double_free(void **state)
{
	struct tdx_fixture *fx = *state;
	struct tdx_pamt_cache c = { .cnt = 0, .pool = KVM_POOL_VCPU_PREALLOC };
	struct page *page;

	assert_int_equal(tdx_pamt_cache_topup(&c, 1), 0);
	page = c.pages[0];
	tdx_pamt_cache_free(&c);
	c.cnt = 1;		/* the slot still names it */
	tdx_pamt_cache_free(&c);
	fx->module_dirty = true;	/* the simulator's page allocator refuses it too */
	assert_int_equal(kvm_tdx_check(fx->kvm, &rep) >= 1, 1);
	assert_int_equal(rep.count[KVM_INV_DOUBLE_FREE], 1);
	assert_int_equal(rep.v[0].what, KVM_INV_DOUBLE_FREE);
	assert_int_equal(rep.v[0].hpa, page_to_phys(page));
	assert_non_null(strstr(rep.v[0].msg, "by tdx_pamt_cache_free"));
	kvm_check_ledger_reset(fx->sim);
}

/*
 * v3 with TDXSIM_KVM_DEFECT_FREE_OWNED_EXT_SPT: the root zapped with the
 * HKID assigned, free_external_spt refuses, KVM frees the S-EPT page anyway.
 */
static void test_provenance_freed_owned(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	KVM_MMU_LOCK(fx->kvm);
	tdp_mmu_zap_root(fx->kvm, fx->kvm->mirror_root, false);
	KVM_MMU_UNLOCK(fx->kvm);
	assert_true(fx->kvm->vm_bugged);
	kvm_tdx_check(fx->kvm, &rep);
	if (fx->kvm->mmu_design == KVM_MMU_DESIGN_UPSTREAM) {
		/* upstream's free_external_spt leaks it itself: no such free. */
		assert_int_equal(rep.count[KVM_INV_FREED_OWNED], 0);
	} else {
		unsigned int i;
		bool found = false;

		assert_true(rep.count[KVM_INV_FREED_OWNED] >= 1);
		for (i = 0; i < rep.nr && i < KVM_CHECK_REPORT_MAX; i++)
			found |= rep.v[i].what == KVM_INV_FREED_OWNED &&
				 strstr(rep.v[i].msg, "freed by tdp_mmu_free_sp while it is an "
						      "S-EPT page") != NULL;
		assert_true(found);
	}
	/* I8 too: free_external_spt with the HKID assigned, once per table. */
	assert_int_equal(rep.count[KVM_INV_LEAVES_FIRST], 3);
	kvm_check_ledger_reset(fx->sim);
	fx->module_dirty = true;
	fx->kvm->vm_bugged = false;
	tdxsim_kernel_events_reset(fx->sim);
}

/* The balance: pages the split cache holds are counted; forgotten ones are found at teardown. */
static void test_provenance_balance(void **state)
{
	struct tdx_fixture *fx = *state;
	struct tdx_pamt_cache *cache = vm_split_cache(fx);
	struct kvm_prov_balance b;

	assert_int_equal(topup_vm_split_cache(fx), 0);
	assert_true(kvm_prov_balance(fx->sim, &b) >= TDX_MIN_SPLIT_CACHE_SZ);
	assert_int_equal(b.allocated[KVM_POOL_SPLIT_CACHE], TDX_MIN_SPLIT_CACHE_SZ);
	assert_int_equal(b.held[KVM_POOL_SPLIT_CACHE], TDX_MIN_SPLIT_CACHE_SZ);
	assert_int_equal(b.freed[KVM_POOL_SPLIT_CACHE], 0);
	kvm_check_ledger_reset(fx->sim);
	/* Forgotten: neither freed nor leaked on purpose. */
	cache->cnt = 0;
	fx->expect.held = TDX_MIN_SPLIT_CACHE_SZ;
	fx->expect.pages_leaked = TDX_MIN_SPLIT_CACHE_SZ;
}


/* ---- inline invariants: each broken by a flow, reported as exactly itself ---- */

/* Exactly @inv @n times, recorded inline (the ledger), nothing from the scan. */
static void assert_inline_only(struct tdx_fixture *fx, enum kvm_check_inv inv, unsigned int n)
{
	int got = kvm_tdx_check(fx->kvm, &rep);

	if (got != (int)n || rep.count[inv] != n)
		kvm_check_report_print(&rep, stderr);
	assert_int_equal(got, n);
	assert_int_equal(rep.count[inv], n);
	assert_int_equal(rep.v[0].what, inv);
	assert_true(rep.v[0].seq > 0);
	assert_true(rep.v[0].msg[0] != '\0');
}

/*
 * I7b: a punch hole that forgot kvm_split_cross_boundary_leafs: the zap of
 * one 4K GFN takes the whole 2M leaf, its 511 neighbours with it.
 */
static void test_break_precise_zap(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_gfn_range range = {
		.slot = slot0(fx), .start = FX_GFN_2M, .end = FX_GFN_2M + 1,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	struct kvm_zap_check *zc;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	zc = kvm_check_zap_begin(fx->kvm, range.start, range.end);
	assert_non_null(zc);
	KVM_MMU_LOCK(fx->kvm);
	kvm_unmap_gfn_range(fx->kvm, &range);
	KVM_MMU_UNLOCK(fx->kvm);
	kvm_check_zap_end(zc, 0);
	assert_inline_only(fx, KVM_INV_PRECISE_ZAP, 1);
	assert_int_equal(rep.v[0].gfn, FX_BASE_GFN);	/* the first neighbour lost */
	assert_non_null(strstr(rep.v[0].msg, "outside the converted range"));
	kvm_check_ledger_reset(fx->sim);
	assert_clean(fx);
}

/* The same with the split first (the kernel's conversion): precise. */
static void test_clean_precise_zap(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0), 0);
	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M + 7, FX_GFN_2M + 9, 0), 0);
	assert_clean(fx);
}

/* I19 alone: spec §6.1's `bool ret` turns the split's -ENOMEM into 1. */
static void test_break_return(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_gfn_range range = {
		.slot = slot0(fx), .start = FX_GFN_2M, .end = FX_GFN_2M + 1,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	struct tdxsim_fault_rule r;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	tdxsim_fault_rule_init(&r, TDXSIM_FAULT_PAGE_ALLOC, TDXSIM_FAULT_ENOMEM, 0);
	r.nth = 1;
	assert_true(tdxsim_fault_add(fx->sim, &r) >= 0);
	KVM_MMU_LOCK(fx->kvm);
	assert_int_equal(kvm_split_cross_boundary_leafs(fx->kvm, &range, false), 1);
	KVM_MMU_UNLOCK(fx->kvm);
	tdxsim_fault_clear(fx->sim);
	assert_inline_only(fx, KVM_INV_RETURN, 1);
	assert_non_null(strstr(rep.v[0].msg, "kvm_split_cross_boundary_leafs returned 1"));
	kvm_check_ledger_reset(fx->sim);
	assert_clean(fx);
}

/* I15: a caller that forgot mmu_lock takes a page out of the TD (the hook runs anyway). */
static void test_break_lock(void **state)
{
	struct tdx_fixture *fx = *state;
	gfn_t gfn = FX_GFN_4K + 1;
	struct page *page;
	u64 e1, e2;

	page = alloc_page(GFP_KERNEL);
	assert_non_null(page);
	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(tdx_pamt_get(page, NULL), 0);
	assert_int_equal(tdh_mem_page_aug(&fx->kvm_tdx->td, gfn << PAGE_SHIFT, TDX_PS_4K,
					  page_to_pfn(page), &e1, &e2), TDX_SUCCESS);
	tdx_sept_remove_private_spte(fx->kvm, gfn, PG_LEVEL_4K,
				     make_spte(page_to_pfn(page), PG_LEVEL_4K));
	__free_page(page);
	assert_inline_only(fx, KVM_INV_LOCK, 1);
	assert_int_equal(rep.v[0].gfn, gfn);
	kvm_check_ledger_reset(fx->sim);
	assert_clean(fx);
	/* lockdep: the hook's, and BLOCK, TRACK and REMOVE's tdh_do_no_vcpus. */
	fx->expect.lockdep = tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP);
	assert_int_equal(fx->expect.lockdep, 4);
}

/* The mirror table of range 1 (4K leaf zapped: linked, empty) and its 2M entry. */
static u64 *empty_table_entry(struct tdx_fixture *fx, u64 *old)
{
	int level;
	u64 *sptep;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	tdx_fixture_zap_slot(fx);
	sptep = tdx_fixture_mirror_sptep(fx->kvm, FX_GFN_4K, &level);
	assert_int_equal(level, PG_LEVEL_4K);
	sptep = sptep_to_sp(sptep)->ptep;	/* the 2M entry pointing at it */
	*old = *sptep;
	assert_true(is_shadow_present_pte(*old) && !is_last_spte(*old, PG_LEVEL_2M));
	return sptep;
}

/*
 * I10: a mirror table replaced by a 2M leaf (after the HKID release, so
 * that the table's removal itself is legal).  The backend refuses the
 * leaf (the VM is bugged); the mirror is put back by hand.
 */
static void test_break_merge(void **state)
{
	struct tdx_fixture *fx = *state;
	gfn_t gfn2m = FX_GFN_4K & ~511ULL;
	u64 old, *sptep = empty_table_entry(fx, &old);

	tdx_fixture_release_hkid(fx);
	KVM_MMU_LOCK(fx->kvm);
	tdp_mmu_set_spte(fx->kvm, 0, sptep, old, make_spte(folio_pfn(fx->folio_2m), PG_LEVEL_2M),
			 gfn2m, PG_LEVEL_2M);
	*sptep = SHADOW_NONPRESENT_VALUE;	/* undo the leaf the backend refused */
	fx->kvm->stat.pages[PG_LEVEL_2M - 1]--;
	KVM_MMU_UNLOCK(fx->kvm);
	assert_true(fx->kvm->vm_bugged);
	assert_inline_only(fx, KVM_INV_MERGE, 1);
	assert_int_equal(rep.v[0].gfn, gfn2m);
	assert_int_equal(rep.v[0].level, PG_LEVEL_2M);
	kvm_check_ledger_reset(fx->sim);
	fx->expect.vm_bugged = true;
	/* v3: tdp_mmu_set_spte's KVM_BUG_ON; upstream: TDX's and the funnel caller's. */
	fx->expect.kvm_bug = tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG);
	assert_int_equal(fx->expect.kvm_bug, fx->kvm->mmu_design == KVM_MMU_DESIGN_V3 ? 1 : 2);
}

/*
 * I11: the non-atomic path maps a leaf.  v3's tdp_mmu_set_spte bugs the VM
 * (mirror undone by hand); upstream's funnel AUGs it (then removed again,
 * legally).
 */
static void test_break_transition(void **state)
{
	struct tdx_fixture *fx = *state;
	gfn_t gfn = FX_GFN_4K;
	u64 old, *sptep;
	int level;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	tdx_fixture_zap_slot(fx);
	sptep = tdx_fixture_mirror_sptep(fx->kvm, gfn, &level);
	old = *sptep;
	KVM_MMU_LOCK(fx->kvm);
	tdp_mmu_set_spte(fx->kvm, 0, sptep, old, make_spte(page_to_pfn(fx->page_4k), PG_LEVEL_4K),
			 gfn, PG_LEVEL_4K);
	if (fx->kvm->vm_bugged) {
		*sptep = old;
		fx->kvm->stat.pages[PG_LEVEL_4K - 1]--;
	} else {
		tdp_mmu_set_spte(fx->kvm, 0, sptep, *sptep, SHADOW_NONPRESENT_VALUE, gfn,
				 PG_LEVEL_4K);
	}
	KVM_MMU_UNLOCK(fx->kvm);
	assert_int_equal(fx->kvm->vm_bugged, fx->kvm->mmu_design == KVM_MMU_DESIGN_V3);
	assert_inline_only(fx, KVM_INV_TRANSITION, 1);
	assert_int_equal(rep.v[0].gfn, gfn);
	assert_non_null(strstr(rep.v[0].msg, "non-atomic path maps a leaf"));
	kvm_check_ledger_reset(fx->sim);
	if (fx->kvm->vm_bugged) {
		fx->expect.vm_bugged = true;
		fx->expect.kvm_bug = 1;
	}
}


/* ---- a user's faulty hooks, caught (the "replace one hook" case) ---- */

/* v3: a split hook that reports success and does nothing. */
static int split_does_nothing(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 huge_spte,
			      void *child_table, bool shared)
{
	return 0;
}

/* v3: a split hook that splits under the shared mmu_lock as if it held it for write (S10). */
static int split_ignores_shared(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 huge_spte,
				void *child_table, bool shared)
{
	return tdx_sept_split_private_spte(kvm, gfn, level, huge_spte, child_table, false);
}

/* v3: a remove hook that forgets the module. */
static void remove_does_nothing(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 spte)
{
}

/* The same three faults behind upstream's funnel. */
static int funnel_split_does_nothing(struct kvm *kvm, gfn_t gfn, u64 old_spte, u64 new_spte,
				     enum pg_level level)
{
	if (is_shadow_present_pte(old_spte) && is_shadow_present_pte(new_spte))
		return 0;
	return tdx_sept_set_private_spte_upstream(kvm, gfn, old_spte, new_spte, level);
}

static int funnel_split_ignores_shared(struct kvm *kvm, gfn_t gfn, u64 old_spte, u64 new_spte,
				       enum pg_level level)
{
	if (is_shadow_present_pte(old_spte) && is_shadow_present_pte(new_spte))
		return tdx_sept_split_private_spte(kvm, gfn, level, old_spte,
						   spte_to_child_sp(new_spte)->external_spt, false);
	return tdx_sept_set_private_spte_upstream(kvm, gfn, old_spte, new_spte, level);
}

static int funnel_remove_does_nothing(struct kvm *kvm, gfn_t gfn, u64 old_spte, u64 new_spte,
				      enum pg_level level)
{
	if (is_shadow_present_pte(old_spte) && !is_shadow_present_pte(new_spte))
		return 0;
	return tdx_sept_set_private_spte_upstream(kvm, gfn, old_spte, new_spte, level);
}

static struct kvm_x86_ops ops_split_nothing, ops_split_shared, ops_remove_nothing;
static struct kvm_x86_ops ops_topup_spt_only;
static int topup_spt_only(struct kvm_vcpu *vcpu);
static struct kvm_x86_ops_upstream up_split_nothing, up_split_shared, up_remove_nothing;

static void user_ops_init(void)
{
#ifdef TEST_DESIGN_UPSTREAM
	ops_topup_spt_only = tdx_x86_ops_upstream_aux;
#else
	ops_topup_spt_only = tdx_x86_ops;
#endif
	ops_topup_spt_only.topup_external_fault_cache = topup_spt_only;
	ops_split_nothing = tdx_x86_ops;
	ops_split_nothing.split_external_spte = split_does_nothing;
	ops_split_shared = tdx_x86_ops;
	ops_split_shared.split_external_spte = split_ignores_shared;
	ops_remove_nothing = tdx_x86_ops;
	ops_remove_nothing.remove_external_spte = remove_does_nothing;
	up_split_nothing = tdx_x86_ops_upstream;
	up_split_nothing.set_external_spte = funnel_split_does_nothing;
	up_split_shared = tdx_x86_ops_upstream;
	up_split_shared.set_external_spte = funnel_split_ignores_shared;
	up_remove_nothing = tdx_x86_ops_upstream;
	up_remove_nothing.set_external_spte = funnel_remove_does_nothing;
}

/*
 * I12: the faulty split leaves the module's 2M leaf under 512 mirror 4K
 * leaves.  The split itself is caught inline, once; the scan then sees
 * every 4K leaf disagree (I2).  The mirror is put back by hand.
 */
static void test_break_split_shape(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_mmu_page *sp;
	u64 huge, *sptep;
	int level;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	sptep = tdx_fixture_mirror_sptep(fx->kvm, FX_BASE_GFN, &level);
	huge = *sptep;
#ifdef TEST_DESIGN_UPSTREAM
	/* A split outside a vCPU holds the per-VM PAMT cache's mutex (v5). */
	mutex_lock(&fx->kvm_tdx->pamt_cache_lock);
#endif
	KVM_MMU_LOCK(fx->kvm);
	assert_int_equal(tdp_mmu_split_huge_pages_root(fx->kvm, fx->kvm->mirror_root, FX_BASE_GFN,
						       FX_BASE_GFN + 512, PG_LEVEL_4K, false,
						       false), 0);
	KVM_MMU_UNLOCK(fx->kvm);
#ifdef TEST_DESIGN_UPSTREAM
	mutex_unlock(&fx->kvm_tdx->pamt_cache_lock);
#endif
	assert_false(fx->kvm->vm_bugged);
	assert_true(kvm_tdx_check(fx->kvm, &rep) > 0);
	assert_int_equal(rep.count[KVM_INV_SPLIT_SHAPE], 1);
	assert_int_equal(rep.count[KVM_INV_SEPT], 512);

	/* Undo: the 2M leaf back, the unused table freed. */
	KVM_MMU_LOCK(fx->kvm);
	sp = spte_to_child_sp(*sptep);
	*sptep = huge;
	fx->kvm->stat.pages[PG_LEVEL_4K - 1] -= 512;
	fx->kvm->stat.pages[PG_LEVEL_2M - 1]++;
	tdp_mmu_free_sp(fx->kvm, sp);
	KVM_MMU_UNLOCK(fx->kvm);
	kvm_check_ledger_reset(fx->sim);
	assert_clean(fx);
}

/*
 * I9: a split under the shared mmu_lock reaches BLOCK and DEMOTE (a 4K
 * fault under a 2M leaf the guest inhibited).  The hook also breaks I15
 * (it runs without the write lock).
 */
static void test_break_shared_split(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_check_violation *v;
	unsigned int i, n9 = 0;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
#ifdef TEST_DESIGN_UPSTREAM
	/* The faulty hook runs v3's split body, which takes v3's per-VM cache. */
	assert_int_equal(tdx_pamt_cache_topup(&fx->kvm_tdx->prealloc_split_cache,
					      TDX_MIN_SPLIT_CACHE_SZ), 0);
#else
	assert_int_equal(fx->kvm->x86_ops->topup_external_per_vm_split_cache(fx->kvm,
									     PG_LEVEL_2M), 0);
#endif
	KVM_MMU_LOCK(fx->kvm);
	hugepage_set_guest_inhibit(slot0(fx), FX_GFN_2M, PG_LEVEL_2M);
	KVM_MMU_UNLOCK(fx->kvm);
	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_4K);
	assert_int_equal(kvm_tdx_check(fx->kvm, &rep), 3);
	assert_int_equal(rep.count[KVM_INV_SHARED_SPLIT], 2);
	assert_int_equal(rep.count[KVM_INV_LOCK], 1);
	for (i = 0; i < rep.nr; i++) {
		v = &rep.v[i];
		if (v->what != KVM_INV_SHARED_SPLIT)
			continue;
		assert_int_equal(v->gfn, FX_BASE_GFN);
		assert_non_null(strstr(v->msg, n9++ ? "DEMOTE" : "BLOCK"));
	}
	kvm_check_ledger_reset(fx->sim);
#ifdef TEST_DESIGN_UPSTREAM
	/* What v3's body left in v3's cache, which an upstream VM never frees. */
	tdx_pamt_cache_free(&fx->kvm_tdx->prealloc_split_cache);
#endif
	assert_clean(fx);
	/* lockdep: the hook's assertion and tdh_do_no_vcpus' for BLOCK, TRACK, DEMOTE. */
	fx->expect.lockdep = tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP);
	assert_int_equal(fx->expect.lockdep, 4);
}

/*
 * I8: a remove hook that forgets the module: at teardown the 4K table is
 * freed with its guest page still mapped under it.  Then the page is taken
 * back the right way, so that everything else comes back.
 */
static void test_break_leaves_first(void **state)
{
	struct tdx_fixture *fx = *state;
	u64 spte;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	spte = kvm_tdp_mmu_read_mirror(fx->kvm, FX_GFN_4K, NULL);
	tdx_fixture_release_hkid(fx);
	KVM_MMU_LOCK(fx->kvm);
	tdp_mmu_zap_root(fx->kvm, fx->kvm->mirror_root, false);
	KVM_MMU_UNLOCK(fx->kvm);
	assert_true(kvm_tdx_check(fx->kvm, &rep) > 0);
	assert_int_equal(rep.count[KVM_INV_LEAVES_FIRST], 1);
	{
		unsigned int i;
		bool found = false;

		for (i = 0; i < rep.nr && i < KVM_CHECK_REPORT_MAX; i++)
			found |= rep.v[i].what == KVM_INV_LEAVES_FIRST &&
				 rep.v[i].level == PG_LEVEL_2M &&
				 strstr(rep.v[i].msg, "1 4K page(s) still mapped") != NULL;
		assert_true(found);
	}
	/* The page the hook forgot: RECLAIMed and its pair use dropped. */
	KVM_MMU_LOCK(fx->kvm);
	tdx_sept_remove_private_spte(fx->kvm, FX_GFN_4K, PG_LEVEL_4K, spte);
	KVM_MMU_UNLOCK(fx->kvm);
	kvm_check_ledger_reset(fx->sim);
	assert_clean(fx);
}


/*
 * Split-cache top-up ENOMEM through a fault rule on host page allocations
 * (TDXSIM_FAULT_PAGE_ALLOC): a private->shared conversion of one 4K page
 * inside the 2M leaf allocates the split's S-EPT page, then tops up the
 * per-VM cache page by page.  The Nth allocation failing makes the
 * conversion return -ENOMEM cleanly: attributes unchanged, the 2M leaf and
 * the module untouched, the pages already topped up kept in the cache (no
 * leak: the fixture's teardown counts every page and the ledger balance),
 * kvm_tdx_check clean.  Then the same conversion succeeds.
 */
static int convert_failing_alloc(struct tdx_fixture *fx, unsigned int nth)
{
	struct tdxsim_fault_rule r;
	int ret;

	tdxsim_fault_rule_init(&r, TDXSIM_FAULT_PAGE_ALLOC, TDXSIM_FAULT_ENOMEM, 0);
	r.nth = nth;
	assert_true(tdxsim_fault_add(fx->sim, &r) >= 0);
	ret = kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	tdxsim_fault_clear(fx->sim);
	return ret;
}

static void test_split_cache_enomem(void **state)
{
	struct tdx_fixture *fx = *state;
	struct tdx_pamt_cache *cache = vm_split_cache(fx);
	struct kvm_prov_balance b;
	int level;
#ifdef TEST_DESIGN_UPSTREAM
	/* v5: tdx_gmem_convert() tops up (1-4) before the split's sp exists. */
	const int in_cache = 3, first_topup = 1;
#else
	const int in_cache = 2, first_topup = 2;
#endif

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(cache->cnt, 0);

	/* v3: 1: the split's S-EPT page, 2-5: the cache.  The 4th: two pages in. */
	assert_int_equal(convert_failing_alloc(fx, 4), -ENOMEM);
	assert_int_equal(cache->cnt, in_cache);
	assert_true(kvm_mem_is_private(fx->kvm, FX_GFN_2M));
	kvm_tdp_mmu_read_mirror(fx->kvm, FX_GFN_2M, &level);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_clean(fx);

	/* The first top-up page of the next attempt: nothing added. */
	assert_int_equal(convert_failing_alloc(fx, first_topup), -ENOMEM);
	assert_int_equal(cache->cnt, in_cache);
	assert_true(kvm_mem_is_private(fx->kvm, FX_GFN_2M));
	assert_clean(fx);
	kvm_prov_balance(fx->sim, &b);
	kvm_check_ledger_reset(fx->sim);	/* the balance recorded what is held */
	assert_int_equal(b.held[KVM_POOL_SPLIT_CACHE], in_cache);
	/* Each attempt's S-EPT page freed (the second reused the first's page). */
	assert_int_equal(b.held[KVM_POOL_SPLIT_SP], 0);
#ifdef TEST_DESIGN_UPSTREAM
	assert_int_equal(b.freed[KVM_POOL_SPLIT_SP], 0);	/* no sp before the top-up */
#else
	assert_true(b.freed[KVM_POOL_SPLIT_SP] >= 1);
#endif

	/* No fault: the split and the precise zap. */
	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0), 0);
	assert_false(kvm_mem_is_private(fx->kvm, FX_GFN_2M));
	assert_int_equal(fx->kvm->stat.pages[PG_LEVEL_4K - 1], 511);
	assert_clean(fx);
}


/*
 * I7b is not broken by the guest: a neighbour ACCEPTed (PENDING -> MAPPED)
 * between the snapshot and the end of a precise zap is the guest's doing
 * (test_guest.c's stress run hit it with a vCPU accepting meanwhile).
 */
static void test_precise_zap_guest_accepts_meanwhile(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_gfn_range range = {
		.slot = slot0(fx), .start = FX_GFN_2M, .end = FX_GFN_2M + 1,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	struct tdxsim_guest_op op = {
		.kind = TDXSIM_GUEST_ACCEPT, .gpa = (FX_BASE_GFN + 100) << PAGE_SHIFT,
		.level = PG_LEVEL_4K,
	};
	struct tdxsim_guest_result res;
	struct tdxsim_sept_info si;
	struct kvm_zap_check *zc;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	zc = kvm_check_zap_begin(fx->kvm, range.start, range.end);
	assert_non_null(zc);
	KVM_MMU_LOCK(fx->kvm);
	assert_int_equal(tdp_mmu_split_huge_pages_root(fx->kvm, fx->kvm->mirror_root,
						       FX_BASE_GFN, FX_BASE_GFN + 512, PG_LEVEL_4K,
						       false, true), 0);
	KVM_MMU_UNLOCK(fx->kvm);
	assert_int_equal(tdxsim_vcpu_run_prog(fx->vm, 0, &op, 1, 0, &res), 0);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->std, op.gpa, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
	KVM_MMU_LOCK(fx->kvm);
	kvm_unmap_gfn_range(fx->kvm, &range);
	KVM_MMU_UNLOCK(fx->kvm);
	kvm_check_zap_end(zc, 0);
	assert_clean(fx);
}


/*
 * I3's fault half: a user's top-up that fills the vCPU's S-EPT pages but
 * not its PAMT pages.  The fault's tdx_pamt_get() then finds the vCPU's
 * prealloc empty and falls back to the allocator (the kernel could not,
 * under mmu_lock: the shim records a sleep in atomic context): recorded,
 * once per pair page it had to allocate.
 */
static int topup_spt_only(struct kvm_vcpu *vcpu)
{
	struct vcpu_tdx *tdx = vcpu->priv;
	int ret = tdx_x86_ops.topup_external_fault_cache(vcpu);

	/* What the real top-up put in the PAMT prealloc goes back. */
	tdx_pamt_cache_free(&tdx->pamt_cache);
	return ret;
}

static void test_break_vcpu_prealloc(void **state)
{
	struct tdx_fixture *fx = *state;
	/* A fresh 2MB range, no pair installed yet: its first page as a 4K folio. */
	struct folio *folio = folio_alloc(GFP_KERNEL, PMD_SHIFT - PAGE_SHIFT);
	gfn_t gfn = FX_GFN_4K + 1;
	unsigned int i;

	assert_non_null(folio);
	assert_int_equal(atomic_read(tdx_find_pamt_refcount(folio_pfn(folio))), 0);
	assert_int_equal(tdxsim_kvm_gmem_set_folio(fx->kvm, gfn, folio_pfn(folio), 0), 0);
	tdx_fixture_map(fx, gfn, PG_LEVEL_4K);
	/* Its pair: two pages the prealloc should have held. */
	assert_int_equal(kvm_tdx_check(fx->kvm, &rep), 2);
	for (i = 0; i < rep.nr; i++) {
		assert_int_equal(rep.v[i].what, KVM_INV_SPLIT_DEQUEUE);
		assert_non_null(strstr(rep.v[i].msg, "vCPU's PAMT prealloc ran empty"));
	}
	kvm_check_ledger_reset(fx->sim);
	assert_clean(fx);

	/* The page REMOVEd (its pair goes with the last use), then freed. */
	tdx_fixture_zap_slot(fx);
	folio_put(folio);
	assert_clean(fx);
	/* The kernel shim saw the two allocations under mmu_lock too. */
	fx->expect.sleep_in_atomic = tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC);
	assert_int_equal(fx->expect.sleep_in_atomic, 2);
}

int main(void)
{
	static struct tdx_fixture_opts bool_defect = {
		.defects = TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL,
	};
	static struct tdx_fixture_opts topup_spt_only_opts = { .ops = &ops_topup_spt_only };
	static struct tdx_fixture_opts split_nothing = {
		.ops = &ops_split_nothing, .upstream_ops = &up_split_nothing,
	};
	static struct tdx_fixture_opts split_shared = {
		.ops = &ops_split_shared, .upstream_ops = &up_split_shared,
	};
	static struct tdx_fixture_opts remove_nothing = {
		.ops = &ops_remove_nothing, .upstream_ops = &up_remove_nothing,
	};
	static struct tdx_fixture_opts free_owned_defect = {
		.defects = TDXSIM_KVM_DEFECT_FREE_OWNED_EXT_SPT,
	};
#define T(fn) cmocka_unit_test_setup_teardown(fn, tdx_fixture_setup, tdx_fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_clean_empty),
		T(test_clean_fault_zap),
		T(test_clean_split_zap),
		T(test_clean_teardown),
		T(test_break_sept),
		T(test_break_sept_unmirrored),
		T(test_break_split_cache),
		T(test_split_cache_count),
		T(test_break_pamt_refcount),
		T(test_break_pamt_pair),
		T(test_break_sp_removed),
		T(test_break_frozen),
		T(test_break_spt_content),
		T(test_break_guest_inhibit),
		T(test_break_mixed),
		T(test_break_lpage),
		T(test_break_folio),
		T(test_break_external_spt),
		T(test_break_sp_link),
		T(test_break_stats),
		T(test_break_shared_mapped),
		T(test_break_module_orphan),
		T(test_module_report_merged),
		T(test_bugged_skips_agreement),
		T(test_flow_cross_boundary_enomem),
		T(test_seq_names_the_call),
		T(test_seq_from_trace_ring),
		T(test_provenance_split),
		T(test_provenance_wrong_freer),
		T(test_provenance_double_free),
		T(test_provenance_balance),
		T(test_break_precise_zap),
		T(test_clean_precise_zap),
		T(test_break_lock),
		T(test_break_merge),
		T(test_break_transition),
		T(test_split_cache_enomem),
		T(test_precise_zap_guest_accepts_meanwhile),
		cmocka_unit_test_prestate_setup_teardown(test_break_vcpu_prealloc,
							 tdx_fixture_setup, tdx_fixture_teardown,
							 &topup_spt_only_opts),
		cmocka_unit_test_prestate_setup_teardown(test_break_return, tdx_fixture_setup,
							 tdx_fixture_teardown, &bool_defect),
		cmocka_unit_test_prestate_setup_teardown(test_break_split_shape, tdx_fixture_setup,
							 tdx_fixture_teardown, &split_nothing),
		cmocka_unit_test_prestate_setup_teardown(test_break_shared_split, tdx_fixture_setup,
							 tdx_fixture_teardown, &split_shared),
		cmocka_unit_test_prestate_setup_teardown(test_break_leaves_first, tdx_fixture_setup,
							 tdx_fixture_teardown, &remove_nothing),
		cmocka_unit_test_prestate_setup_teardown(test_provenance_freed_owned,
							 tdx_fixture_setup, tdx_fixture_teardown,
							 &free_owned_defect),
		cmocka_unit_test_prestate_setup_teardown(test_flow_cross_boundary_bool_defect,
							 tdx_fixture_setup, tdx_fixture_teardown,
							 &bool_defect),
	};
#undef T

	user_ops_init();
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
