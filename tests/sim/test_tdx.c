// SPDX-License-Identifier: GPL-2.0-only
/*
 * sim/tdx behind sim/kvm: the TDP MMU with KVM's TDX backend against a
 * simulated module, once per hook design: tdx_x86_ops (v3, sim-tdx-v3) or,
 * built with TEST_DESIGN_UPSTREAM, the funnel tdx_x86_ops_upstream over the
 * same bodies (sim-tdx-upstream).  A TD is created and
 * finalized by the host layer, a struct kvm gets one memslot of private
 * memory backed by pages of the kernel shim's allocator, and faults go
 * through kvm_tdp_map_page() -> kvm_tdp_mmu_map() -> the backend's
 * SEPT.ADD/AUG.  Each test checks the module's S-EPT (tdxsim_sept_lookup)
 * against the mirror SPTE, and the teardown checks that every page is back
 * (tdxsim_pages_in_use at its baseline), the module's invariants hold
 * (tdxsim_check) and nothing was bugged, warned or leaked beyond what a
 * test declared in fx->expect.  The VM is tests/sim/tdx_fixture.c's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <tdxsim/fault.h>
#include <tdxsim-kvm/check.h>

#include "tdx_fixture.h"

/*
 * The users of @page's 2MB pair.  The fixture counts every control page of
 * the TD (the vCPU's TDVPR and TDCX too, as KVM's tdx_alloc_page() does for
 * each page it hands the module), so the 4K range's count is only compared
 * against itself; the absolute counts are about the order-9 folio's range,
 * which the folio fills alone (no control page can share its pair).
 */
static int refcount_of(struct page *page)
{
	return atomic_read(tdx_find_pamt_refcount(page_to_pfn(page)));
}

/* The mirror SPTE that maps @gfn (walk to the first leaf or non-present entry). */
static u64 mirror_spte(struct kvm *kvm, gfn_t gfn, int *level)
{
	return *tdx_fixture_mirror_sptep(kvm, gfn, level);
}

static struct tdxsim_sept_info sept_of(struct tdx_fixture *fx, gfn_t gfn)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->std, gfn << PAGE_SHIFT, &si), 0);
	return si;
}

/* The module's leaf and the mirror leaf agree: same level, same page. */
static void assert_mapped(struct tdx_fixture *fx, gfn_t gfn, int pg_level, u64 hpa)
{
	struct tdxsim_sept_info si = sept_of(fx, gfn);
	int mlevel;
	u64 spte = mirror_spte(fx->kvm, gfn, &mlevel);

	assert_true(si.leaf);
	assert_int_equal(si.level, pg_level - 1);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);	/* AUG'ed, not yet accepted */
	assert_int_equal(si.hpa, hpa);
	assert_true(is_shadow_present_pte(spte));
	assert_int_equal(mlevel, pg_level);
	assert_true(is_last_spte(spte, mlevel));
	assert_int_equal(PFN_PHYS(spte_to_pfn(spte)), hpa);
}

/* Neither tree maps @gfn any more; the module's entry is FREE. */
static void assert_unmapped(struct tdx_fixture *fx, gfn_t gfn, int pg_level)
{
	struct tdxsim_sept_info si = sept_of(fx, gfn);
	int mlevel;
	u64 spte = mirror_spte(fx->kvm, gfn, &mlevel);

	assert_false(si.leaf);
	assert_int_equal(si.state, SEPT_PUBLIC_FREE);
	assert_int_equal(si.level, pg_level - 1);	/* the table above stays */
	assert_false(is_shadow_present_pte(spte));
	assert_int_equal(mlevel, pg_level);
}

static struct tdxsim_pamt_info pamt_of(struct tdx_fixture *fx, struct page *page)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, page_to_phys(page), &pi), 0);
	return pi;
}

/*
 * A 4K fault: SEPT.ADD of the tables the walk lacks, AUG at 4K with the
 * page's pair counted; the zap: BLOCK, TRACK, REMOVE, WBINVD, the pair use
 * dropped, and the page is the host's again.
 */
static void test_fault_zap_4k(void **state)
{
	struct tdx_fixture *fx = *state;
	int before = refcount_of(fx->page_4k), mapped;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_mapped(fx, FX_GFN_4K, PG_LEVEL_4K, page_to_phys(fx->page_4k));
	/* The guest page is a user of its range's pair (S-EPT pages there may be too). */
	mapped = refcount_of(fx->page_4k);
	assert_true(mapped >= before + 1);
	assert_true(pamt_of(fx, fx->page_4k).dpamt_pair);
	assert_int_equal(pamt_of(fx, fx->page_4k).owner, fx->std->tdr_pa);

	/* A second fault on it is spurious: nothing new in either tree. */
	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(refcount_of(fx->page_4k), mapped);

	/* The zap drops exactly the guest page's use; the tables above stay. */
	tdx_fixture_zap_slot(fx);
	assert_unmapped(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(refcount_of(fx->page_4k), mapped - 1);
	assert_int_equal(pamt_of(fx, fx->page_4k).pt, PT_NDA);
	assert_false(pamt_of(fx, fx->page_4k).dirty);
	assert_false(fx->kvm->vm_bugged);
}

/* A 2M fault on an order-9 folio: AUG at 2M, no pair; the zap frees all 512 pages. */
static void test_fault_zap_2m(void **state)
{
	struct tdx_fixture *fx = *state;
	struct page *head = folio_page(fx->folio_2m, 0);

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_mapped(fx, FX_GFN_2M, PG_LEVEL_2M, page_to_phys(head));
	/* A 2M page is covered by the static 2M PAMT entry: no pair, no count (§4.5). */
	assert_int_equal(refcount_of(head), 0);
	assert_false(pamt_of(fx, head).dpamt_pair);
	assert_int_equal(pamt_of(fx, head).level, TDX_PS_2M);

	tdx_fixture_zap_slot(fx);
	assert_unmapped(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(pamt_of(fx, head).pt, PT_NDA);
	assert_int_equal(pamt_of(fx, folio_page(fx->folio_2m, 511)).pt, PT_NDA);
	assert_false(pamt_of(fx, folio_page(fx->folio_2m, 511)).dirty);
	assert_false(fx->kvm->vm_bugged);
}

/* Both at once, both zapped by one range: the neighbour range is unaffected until then. */
static void test_fault_both_then_zap(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_mapped(fx, FX_GFN_2M, PG_LEVEL_2M, page_to_phys(folio_page(fx->folio_2m, 0)));
	assert_mapped(fx, FX_GFN_4K, PG_LEVEL_4K, page_to_phys(fx->page_4k));
	assert_int_equal(fx->kvm->stat.pages[PG_LEVEL_4K - 1], 1);
	assert_int_equal(fx->kvm->stat.pages[PG_LEVEL_2M - 1], 1);

	tdx_fixture_zap_slot(fx);
	assert_unmapped(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_unmapped(fx, FX_GFN_4K, PG_LEVEL_4K);
	assert_int_equal(fx->kvm->stat.pages[PG_LEVEL_4K - 1], 0);
	assert_int_equal(fx->kvm->stat.pages[PG_LEVEL_2M - 1], 0);
}

/*
 * No zap: the VM goes down with both leaves mapped.  After the HKID is
 * released the remove hook RECLAIMs the leaves and the free hook the
 * S-EPT pages (the teardown checks every page is back).
 */
static void test_teardown_mapped(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	tdx_fixture_release_hkid(fx);
	assert_false(is_hkid_assigned(fx->kvm_tdx));
	KVM_MMU_LOCK(fx->kvm);
	tdp_mmu_zap_root(fx->kvm, fx->kvm->mirror_root, false);
	KVM_MMU_UNLOCK(fx->kvm);
	/*
	 * Leaves and tables went back by RECLAIM: only the root's sp is left
	 * (a failed free_external_spt would have WARNed and leaked the page;
	 * the teardown counts every page).
	 */
	kvm_mmu_rcu_barrier(fx->kvm);
	assert_int_equal(fx->kvm->stat.sp_allocated, 1);
	assert_int_equal(pamt_of(fx, fx->page_4k).pt, PT_NDA);
	assert_int_equal(pamt_of(fx, folio_page(fx->folio_2m, 0)).pt, PT_NDA);
	assert_int_equal(pamt_of(fx, folio_page(fx->folio_2m, 511)).pt, PT_NDA);
	assert_false(fx->kvm->vm_bugged);
}

/*
 * A fault on a TD still being built that does not come from
 * KVM_TDX_INIT_MEM_REGION (no source page parked in page_add_src) is a KVM
 * bug: tdx_mem_page_add() refuses before any SEAMCALL, the MMU restores the
 * SPTE and asks for a retry, the mirror stays non-present and the VM is
 * bugged.  (The build path itself: tests/sim/test_vm.c.)
 */
static void test_fault_not_runnable(void **state)
{
	struct tdx_fixture *fx = *state;
	int mlevel;

	fx->kvm_tdx->state = TD_STATE_INITIALIZED;
	assert_int_equal(kvm_mmu_do_page_fault(fx->vcpu, FX_GFN_4K << PAGE_SHIFT,
					       PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK, NULL),
			 RET_PF_RETRY);
	assert_true(fx->kvm->vm_bugged);
	assert_false(is_shadow_present_pte(mirror_spte(fx->kvm, FX_GFN_4K, &mlevel)));
	assert_false(sept_of(fx, FX_GFN_4K).leaf);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG), 1);
	/* Expected: the teardown wants exactly these, and nothing more on its way down. */
	fx->expect.vm_bugged = true;
	fx->expect.kvm_bug = 1;
}

/* The 4K leaf at @gfn in both trees is page @hpa, PENDING in the module. */
static void assert_4k_leaf(struct tdx_fixture *fx, gfn_t gfn, u64 hpa)
{
	assert_mapped(fx, gfn, PG_LEVEL_4K, hpa);
}

/*
 * Private -> shared conversion of one 4K page inside a 2M mapping
 * (kvm_vm_set_mem_attributes): the MMU splits the 2M leaf (the backend:
 * BLOCK, TRACK, DEMOTE with the guest range's pair from the per-VM split
 * cache, which the MMU topped up with mmu_lock dropped), then zaps the one
 * page.  The neighbours stay mapped at 4K in both trees, on the same pages,
 * and each counts as a user of the new pair (512 after DEMOTE, 511 after
 * the zap).  Zapping the rest drops the count to 0 and removes the pair.
 */
static void test_convert_4k_in_2m(void **state)
{
	struct tdx_fixture *fx = *state;
	struct page *head = folio_page(fx->folio_2m, 0);

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(refcount_of(head), 0);
	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0), 0);
	assert_false(fx->kvm->vm_bugged);

	assert_unmapped(fx, FX_GFN_2M, PG_LEVEL_4K);
	assert_4k_leaf(fx, FX_BASE_GFN, page_to_phys(head));
	assert_4k_leaf(fx, FX_GFN_2M + 1, page_to_phys(folio_page(fx->folio_2m, 4)));
	assert_4k_leaf(fx, FX_BASE_GFN + 511, page_to_phys(folio_page(fx->folio_2m, 511)));
	assert_int_equal(fx->kvm->stat.pages[PG_LEVEL_4K - 1], 511);
	assert_int_equal(fx->kvm->stat.pages[PG_LEVEL_2M - 1], 0);
	assert_true(pamt_of(fx, head).dpamt_pair);
	assert_int_equal(refcount_of(head), 511);
	assert_int_equal(pamt_of(fx, folio_page(fx->folio_2m, 3)).pt, PT_NDA);
	/* The split cache was refilled before the split and used by it. */
	assert_true(fx->kvm_tdx->prealloc_split_cache.cnt < TDX_MIN_SPLIT_CACHE_SZ);

	tdx_fixture_zap_slot(fx);
	assert_unmapped(fx, FX_BASE_GFN, PG_LEVEL_4K);
	assert_unmapped(fx, FX_BASE_GFN + 511, PG_LEVEL_4K);
	assert_int_equal(refcount_of(head), 0);
	assert_false(pamt_of(fx, head).dpamt_pair);
	assert_false(fx->kvm->vm_bugged);
}

/* The same split, then the VM goes down with 511 4K leaves mapped: all reclaimed. */
static void test_split_then_teardown(void **state)
{
	struct tdx_fixture *fx = *state;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0), 0);
	assert_int_equal(refcount_of(folio_page(fx->folio_2m, 0)), 511);
	/* The teardown: release the HKID, zap the root (RECLAIM each leaf), check. */
}

/*
 * Under the shared mmu_lock TDX cannot split: the hook refuses before any
 * SEAMCALL, the MMU restores the 2M leaf, the module still maps 2M, and the
 * VM is not bugged.
 */
static void test_split_shared_refused(void **state)
{
	struct tdx_fixture *fx = *state;
	struct kvm_gfn_range range = {
		.slot = gfn_to_memslot(fx->kvm, FX_BASE_GFN),
		.start = FX_GFN_2M, .end = FX_GFN_2M + 1,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	int ret;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	kvm_mmu_read_lock(fx->kvm);
	ret = kvm_split_cross_boundary_leafs(fx->kvm, &range, true);
	kvm_mmu_read_unlock(fx->kvm);
	assert_int_equal(ret, -EOPNOTSUPP);
#ifndef TEST_DESIGN_UPSTREAM
	/* v3's hook refuses with WARN_ON_ONCE (003:P09, kvm-model §2.10). */
	fx->expect.warn = 1;
#endif
	assert_mapped(fx, FX_GFN_2M, PG_LEVEL_2M, page_to_phys(folio_page(fx->folio_2m, 0)));
	assert_int_equal(refcount_of(folio_page(fx->folio_2m, 0)), 0);
	assert_false(fx->kvm->vm_bugged);
}

/*
 * The S-EPT tables of a TD whose HKID is still assigned cannot come back:
 * zapping the whole mirror root then is a KVM bug, and the pages must be
 * leaked, never freed (the module owns them).  Both designs bug the VM from
 * tdx_sept_free_private_spt() and leak; they differ in who leaks: v3's
 * handle_removed_pt() WARNs on the hook's error and NULLs external_spt
 * (spec kvm-model.md §4.1), upstream's free_external_spt does it inside TDX
 * with no WARN in the MMU ("Move error handling inside
 * free_external_spt()", kvm-upstream.md §2-§3).  The host layer's teardown
 * then reclaims the leaked tables from the TD (the fixture's teardown counts
 * the pages).
 */
static void test_free_spt_hkid_assigned(void **state)
{
	struct tdx_fixture *fx = *state;
	struct page *tables[PT64_ROOT_MAX_LEVEL];
	u64 *pt = fx->kvm->mirror_root->spt;
	int l, nr = 0;

	tdx_fixture_map(fx, FX_GFN_4K, PG_LEVEL_4K);
	/* The tables the fault linked below the root, top down. */
	for (l = fx->kvm->root_level; l > PG_LEVEL_4K; l--) {
		u64 spte = pt[SPTE_INDEX(FX_GFN_4K, l)];

		assert_true(is_shadow_present_pte(spte) && !is_last_spte(spte, l));
		tables[nr++] = virt_to_page(spte_to_child_sp(spte)->external_spt);
		pt = spte_to_child_pt(spte, l);
	}
	/* The fault itself was clean: every event below is the zap's. */
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG), 0);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN), 0);

	KVM_MMU_LOCK(fx->kvm);
	tdp_mmu_zap_root(fx->kvm, fx->kvm->mirror_root, false);
	KVM_MMU_UNLOCK(fx->kvm);
	kvm_mmu_rcu_barrier(fx->kvm);

	assert_true(fx->kvm->vm_bugged);
	/* The leaf went by BLOCK/TRACK/REMOVE; each table's free was refused. */
	assert_int_equal(pamt_of(fx, fx->page_4k).pt, PT_NDA);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG), nr);
#ifdef TEST_DESIGN_UPSTREAM
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN), 0);
#else
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN), nr);
#endif
	/* Leaked, not freed: the module still holds every table as S-EPT. */
	for (l = 0; l < nr; l++)
		assert_int_equal(pamt_of(fx, tables[l]).pt, PT_EPT);
	assert_int_equal(fx->kvm->stat.sp_allocated, 1);

	/* Expected: the teardown wants exactly these, and nothing more on its way down. */
	fx->expect.vm_bugged = true;
	fx->expect.kvm_bug = nr;
	/* The checker's I8: each table's free_external_spt with the HKID assigned. */
	fx->expect.ledger = nr;
#ifndef TEST_DESIGN_UPSTREAM
	fx->expect.warn = nr;
#endif
}

/*
 * A kick_vcpus for the busy tests: counts the kicks, and those made while
 * vCPU entry was held off (tdh_do_no_vcpus()'s retry), then kicks the host
 * layer's vCPUs as KVM_REQ_OUTSIDE_GUEST_MODE would.
 */
struct kick_log {
	struct tdx_fixture *fx;
	unsigned int kicks, kicks_entry_blocked;
};

static void log_kick(struct kvm_tdx *kvm_tdx)
{
	struct kick_log *log = kvm_tdx->kick_arg;

	log->kicks++;
	if (kvm_tdx->wait_for_sept_zap)
		log->kicks_entry_blocked++;
	tdxsim_td_kick_vcpus(log->fx->std);
}

static void install_kick_log(struct tdx_fixture *fx, struct kick_log *log)
{
	*log = (struct kick_log){ .fx = fx };
	fx->kvm_tdx->kick_arg = log;
	fx->kvm_tdx->kick_vcpus = log_kick;
}

static u64 demotes(struct tdx_fixture *fx, u64 status)
{
	return tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_DEMOTE, status);
}

/*
 * DEMOTE loses to a vCPU once (a fault rule answers BUSY on the S-EPT
 * before the leaf runs): tdh_do_no_vcpus() holds vCPU entry off, kicks,
 * retries, and the split goes through as without the BUSY: the neighbours
 * mapped at 4K, the guest range's pair counted 511 times after the zap of
 * the converted page, nothing bugged, and kvm_tdx_check() clean.
 */
static void test_split_demote_busy_retry(void **state)
{
	struct tdx_fixture *fx = *state;
	struct page *head = folio_page(fx->folio_2m, 0);
	struct kvm_check_report rep;
	struct kick_log log;
	char err[128];

	install_kick_log(fx, &log);
	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(tdxsim_fault_parse(fx->sim, "demote:busy=sept:nth=1", err, sizeof(err)),
			 1);

	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0), 0);
	assert_false(fx->kvm->vm_bugged);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	assert_int_equal(demotes(fx, TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT), 1);
	assert_int_equal(demotes(fx, TDX_SUCCESS), 1);
	/* One retry, with entry held off while it ran, and released after. */
	assert_int_equal(log.kicks_entry_blocked, 1);
	assert_false(fx->kvm_tdx->wait_for_sept_zap);

	assert_unmapped(fx, FX_GFN_2M, PG_LEVEL_4K);
	assert_4k_leaf(fx, FX_BASE_GFN, page_to_phys(head));
	assert_4k_leaf(fx, FX_BASE_GFN + 511, page_to_phys(folio_page(fx->folio_2m, 511)));
	assert_int_equal(refcount_of(head), 511);
	assert_int_equal(kvm_tdx_check(fx->kvm, &rep), 0);
	assert_false(rep.skipped_agreement);
}

/*
 * DEMOTE busy twice in a row: the retry is the last attempt, so
 * TDX_BUG_ON_2(TDH.MEM.PAGE.DEMOTE) bugs the VM.  Under the write mmu_lock
 * the mirror already links the new 4K table when the hook fails and the MMU
 * goes on (kvm-model.md §2.5, §6): the conversion returns 0 and its zap's
 * BLOCK at 4K fails against the module's 2M leaf (a second TDX_BUG).  The
 * module keeps its (pending, blocked) 2M leaf, and kvm_tdx_check() says it skipped the
 * mirror/S-EPT comparison because the VM is bugged (I18).
 */
static void test_split_demote_busy_twice(void **state)
{
	struct tdx_fixture *fx = *state;
	struct page *head = folio_page(fx->folio_2m, 0);
	struct kvm_check_report rep;
	struct tdxsim_sept_info si;
	struct kick_log log;
	char err[128];

	install_kick_log(fx, &log);
	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(tdxsim_fault_parse(fx->sim, "demote:busy=sept:every=1:max=2",
					    err, sizeof(err)), 1);

	assert_int_equal(kvm_vm_set_mem_attributes(fx->kvm, FX_GFN_2M, FX_GFN_2M + 1, 0), 0);
	assert_true(fx->kvm->vm_bugged);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_TDX_BUG), 2);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN), 0);
#ifdef TEST_DESIGN_UPSTREAM
	/* The funnel's error comes back to the MMU, which KVM_BUG_ONs it. */
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG), 1);
#else
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG), 0);
#endif
	/* Exactly one retry: a third attempt would have gone through. */
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 2);
	assert_int_equal(demotes(fx, TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT), 2);
	assert_int_equal(demotes(fx, TDX_SUCCESS), 0);
	assert_int_equal(log.kicks_entry_blocked, 1);
	assert_false(fx->kvm_tdx->wait_for_sept_zap);

	si = sept_of(fx, FX_GFN_2M);
	assert_true(si.leaf);
	assert_int_equal(si.level, TDX_PS_2M);
	/* AUG'ed and never accepted, then blocked by the split's BLOCK. */
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING_BLOCKED);
	assert_int_equal(si.hpa, page_to_phys(head));

	assert_true(kvm_tdx_check(fx->kvm, &rep) >= 0);
	assert_true(rep.skipped_agreement);

	/*
	 * The teardown of the disagreeing trees: after the HKID is released
	 * each of the mirror's 511 4K leaves is RECLAIMed as a 4K page the
	 * module holds as part of its 2M leaf (511 TDX_BUGs), and so is the
	 * new 4K table the module never took (one more).  KVM leaks that
	 * table's page rather than free a page it cannot reclaim; v3's
	 * handle_removed_pt() also WARNs on the hook's error, upstream's
	 * free_external_spt handles it inside TDX with the TDX_BUG alone
	 * (kvm-upstream.md §2-§3).  The host layer's teardown then reclaims
	 * the module's 2M leaf.
	 */
	fx->expect.vm_bugged = true;
	fx->expect.tdx_bug = 2 + 511 + 1;
	fx->expect.pages_leaked = 1;
#ifdef TEST_DESIGN_UPSTREAM
	fx->expect.kvm_bug = 1;
#else
	fx->expect.warn = 1;
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fault_zap_4k, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_fault_zap_2m, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_fault_both_then_zap, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_teardown_mapped, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_fault_not_runnable, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_convert_4k_in_2m, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_split_then_teardown, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_split_shared_refused, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_free_spt_hkid_assigned, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_split_demote_busy_retry, tdx_fixture_setup, tdx_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_split_demote_busy_twice, tdx_fixture_setup, tdx_fixture_teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
