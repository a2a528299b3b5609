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
 * (tdxsim_check) and nothing was bugged, warned or leaked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>

#define BASE_GFN	0x40000ULL	/* GPA 1GB */
#define NPAGES		1024		/* two 2M ranges */
#define GFN_2M		(BASE_GFN + 3)	/* inside range 0: one order-9 folio */
#define GFN_4K		(BASE_GFN + 512 + 5)	/* inside range 1: one order-0 folio */

struct ctx {
	struct tdxsim_config cfg;
	struct tdxsim *sim;
	struct tdxsim_td *std;
	struct kvm_tdx *kvm_tdx;
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
	struct folio *folio_2m;
	struct page *page_4k;
	u64 pages_baseline;		/* tdxsim_pages_in_use before the TD */
	bool zapped;			/* the test zapped every leaf itself */
};

static struct page *hpa_page(u64 hpa)
{
	return pfn_to_page(PHYS_PFN(hpa));
}

static int refcount_of(struct page *page)
{
	return atomic_read(tdx_find_pamt_refcount(page_to_pfn(page)));
}

/* Which step failed; teardown (cmocka skips it after a failed setup) is not run. */
static int setup_failed(int line)
{
	fprintf(stderr, "setup failed at line %d\n", line);
	return -1;
}

static int setup(void **state)
{
	struct kvm_userspace_memory_region2 mem = {
		.slot = 0, .flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = BASE_GFN << PAGE_SHIFT,
		.memory_size = (u64)NPAGES << PAGE_SHIFT,
	};
#ifdef TEST_DESIGN_UPSTREAM
	struct tdxsim_kvm_config kcfg = {
		.ops = &tdx_x86_ops_upstream_aux,
		.upstream_ops = &tdx_x86_ops_upstream,
	};
#else
	struct tdxsim_kvm_config kcfg = { .ops = &tdx_x86_ops };
#endif
	struct ctx *c = calloc(1, sizeof(*c));
	u64 st;

	if (!c)
		return setup_failed(__LINE__);
	*state = c;
	tdxsim_config_init(&c->cfg);
	c->cfg.mem_size = 64ULL << 20;
	c->sim = tdxsim_create(&c->cfg);
	if (!c->sim)
		return setup_failed(__LINE__);
	tdxsim_kernel_set_current(c->sim);
	tdxsim_kernel_events_reset(c->sim);
	if (tdx_pamt_refcounts_init())
		return setup_failed(__LINE__);
	c->pages_baseline = tdxsim_pages_in_use(c->sim);

	/* MR.FINALIZE wants a vCPU: the host layer's, which this slice never runs. */
	c->std = tdxsim_td_create(c->sim, &st);
	if (!c->std || !tdxsim_vcpu_create(c->std, &st) || tdxsim_td_finalize(c->std))
		return setup_failed(__LINE__);

	/* KVM's view of the same TD: its TDR, HKID, and RUNNABLE after MR.FINALIZE. */
	c->kvm_tdx = calloc(1, sizeof(*c->kvm_tdx));
	if (!c->kvm_tdx)
		return setup_failed(__LINE__);
	c->kvm_tdx->td.tdr_page = hpa_page(c->std->tdr_pa);
	c->kvm_tdx->hkid = c->std->hkid;
	c->kvm_tdx->state = TD_STATE_RUNNABLE;
	tdx_vm_init(c->kvm_tdx);
	/*
	 * The host layer built the control pages with their pairs; count them
	 * as KVM's tdx_alloc_page() would, so that a put of another page of
	 * those 2MB ranges never removes a pair they still use (§4.5).
	 */
	if (tdx_pamt_get(c->kvm_tdx->td.tdr_page, NULL))
		return setup_failed(__LINE__);
	for (unsigned int i = 0; i < c->std->nr_tdcx; i++) {
		if (tdx_pamt_get(hpa_page(c->std->tdcx_pa[i]), NULL))
			return -1;
	}

	kcfg.priv = c->kvm_tdx;
	c->kvm = tdxsim_kvm_create(&kcfg);
	if (!c->kvm)
		return setup_failed(__LINE__);
	c->kvm_tdx->kvm = c->kvm;
	if (kvm_set_memory_region(c->kvm, &mem) ||
	    kvm_vm_set_mem_attributes(c->kvm, BASE_GFN, BASE_GFN + NPAGES,
				      KVM_MEMORY_ATTRIBUTE_PRIVATE))
		return setup_failed(__LINE__);

	/* guest_memfd: a 2M folio for range 0, one 4K folio in range 1. */
	c->folio_2m = folio_alloc(GFP_KERNEL, PMD_SHIFT - PAGE_SHIFT);
	c->page_4k = alloc_page(GFP_KERNEL);
	if (!c->folio_2m || !c->page_4k)
		return setup_failed(__LINE__);
	if (tdxsim_kvm_gmem_set_folio(c->kvm, BASE_GFN, folio_pfn(c->folio_2m), 9) ||
	    tdxsim_kvm_gmem_set_folio(c->kvm, GFN_4K, page_to_pfn(c->page_4k), 0))
		return setup_failed(__LINE__);

	c->vcpu = tdxsim_kvm_vcpu_create(c->kvm, 0);
	if (!c->vcpu || tdx_vcpu_create(c->vcpu))
		return setup_failed(__LINE__);
	return 0;
}

/*
 * The module's vCPU is the host layer's (the vCPU layer is a later slice):
 * it flushes it, as KVM does before TDH.MNG.VPFLUSHDONE, then the backend
 * releases the HKID.
 */
static void release_hkid(struct ctx *c)
{
	if (!is_hkid_assigned(c->kvm_tdx))
		return;
	assert_int_equal(tdxsim_td_flush_vcpus(c->std), TDX_SUCCESS);
	assert_int_equal(tdx_mmu_release_hkid(c->kvm), 0);
}

/*
 * tdx_vm_destroy()'s order: release the HKID, let the MMU zap the mirror
 * root (leaves and tables come back by RECLAIM through the hooks), then the
 * host layer reclaims the TD's control pages and the pairs left empty.
 */
static int teardown(void **state)
{
	struct ctx *c = *state;
	struct tdxsim_report rep;
	int ret = 0;

	if (c->kvm) {
		release_hkid(c);
		if (is_hkid_assigned(c->kvm_tdx)) {
			fprintf(stderr, "tdx_mmu_release_hkid failed\n");
			ret = -1;
		}
		if (c->vcpu) {
			tdx_vcpu_free(c->vcpu);
			tdxsim_kvm_vcpu_destroy(c->vcpu);
		}
		if (c->kvm->vm_bugged) {
			fprintf(stderr, "VM bugged\n");
			ret = -1;
		}
		tdxsim_kvm_destroy(c->kvm);
	}
	if (c->std && tdxsim_td_teardown(c->std, TDXSIM_TEARDOWN_FREE_PAMT)) {
		fprintf(stderr, "TD teardown failed\n");
		ret = -1;
	}
	free(c->kvm_tdx);
	if (c->folio_2m)
		folio_put(c->folio_2m);
	if (c->page_4k)
		__free_page(c->page_4k);
	if (c->sim) {
		if (tdxsim_check(c->sim, &rep)) {
			tdxsim_report_print(&rep, stderr);
			ret = -1;
		}
		if (tdxsim_pages_in_use(c->sim) != c->pages_baseline) {
			fprintf(stderr, "pages in use %llu, baseline %llu\n",
				(unsigned long long)tdxsim_pages_in_use(c->sim),
				(unsigned long long)c->pages_baseline);
			ret = -1;
		}
		if (tdxsim_kernel_events(c->sim, TDXSIM_KEV_WARN) ||
		    tdxsim_kernel_events(c->sim, TDXSIM_KEV_TDX_BUG) ||
		    tdxsim_kernel_events(c->sim, TDXSIM_KEV_KVM_BUG) ||
		    tdxsim_kernel_events(c->sim, TDXSIM_KEV_PR_ERR) ||
		    tdxsim_kernel_events(c->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC) ||
		    tdxsim_kernel_events(c->sim, TDXSIM_KEV_LOCKDEP)) {
			fprintf(stderr, "unexpected kernel events: warn %u tdx_bug %u kvm_bug %u "
				"pr_err %u sleep %u lockdep %u\n",
				tdxsim_kernel_events(c->sim, TDXSIM_KEV_WARN),
				tdxsim_kernel_events(c->sim, TDXSIM_KEV_TDX_BUG),
				tdxsim_kernel_events(c->sim, TDXSIM_KEV_KVM_BUG),
				tdxsim_kernel_events(c->sim, TDXSIM_KEV_PR_ERR),
				tdxsim_kernel_events(c->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC),
				tdxsim_kernel_events(c->sim, TDXSIM_KEV_LOCKDEP));
			ret = -1;
		}
	}
	tdx_pamt_refcounts_free();
	tdxsim_kernel_set_current(NULL);
	tdxsim_destroy(c->sim);
	free(c);
	return ret;
}

/* The mirror SPTE that maps @gfn (walk to the first leaf or non-present entry). */
static u64 mirror_spte(struct kvm *kvm, gfn_t gfn, int *level)
{
	u64 *pt = kvm->mirror_root->spt;
	int l;

	for (l = kvm->root_level; l >= PG_LEVEL_4K; l--) {
		u64 spte = pt[SPTE_INDEX(gfn, l)];

		*level = l;
		if (!is_shadow_present_pte(spte) || is_last_spte(spte, l))
			return spte;
		pt = spte_to_child_pt(spte, l);
	}
	return SHADOW_NONPRESENT_VALUE;
}

static struct tdxsim_sept_info sept_of(struct ctx *c, gfn_t gfn)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup(c->sim, c->std, gfn << PAGE_SHIFT, &si), 0);
	return si;
}

static void map(struct ctx *c, gfn_t gfn, int want_level)
{
	int level = 0;

	assert_int_equal(kvm_tdp_map_page(c->vcpu, gfn << PAGE_SHIFT,
					  PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK, &level), 0);
	assert_int_equal(level, want_level);
}

/* The module's leaf and the mirror leaf agree: same level, same page. */
static void assert_mapped(struct ctx *c, gfn_t gfn, int pg_level, u64 hpa)
{
	struct tdxsim_sept_info si = sept_of(c, gfn);
	int mlevel;
	u64 spte = mirror_spte(c->kvm, gfn, &mlevel);

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
static void assert_unmapped(struct ctx *c, gfn_t gfn, int pg_level)
{
	struct tdxsim_sept_info si = sept_of(c, gfn);
	int mlevel;
	u64 spte = mirror_spte(c->kvm, gfn, &mlevel);

	assert_false(si.leaf);
	assert_int_equal(si.state, SEPT_PUBLIC_FREE);
	assert_int_equal(si.level, pg_level - 1);	/* the table above stays */
	assert_false(is_shadow_present_pte(spte));
	assert_int_equal(mlevel, pg_level);
}

static void zap_slot(struct ctx *c)
{
	struct kvm_gfn_range range = {
		.slot = gfn_to_memslot(c->kvm, BASE_GFN),
		.start = BASE_GFN, .end = BASE_GFN + NPAGES,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};

	KVM_MMU_LOCK(c->kvm);
	kvm_unmap_gfn_range(c->kvm, &range);
	KVM_MMU_UNLOCK(c->kvm);
}

static struct tdxsim_pamt_info pamt_of(struct ctx *c, struct page *page)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(c->sim, page_to_phys(page), &pi), 0);
	return pi;
}

/*
 * A 4K fault: SEPT.ADD of the tables the walk lacks, AUG at 4K with the
 * page's pair counted; the zap: BLOCK, TRACK, REMOVE, WBINVD, the pair use
 * dropped, and the page is the host's again.
 */
static void test_fault_zap_4k(void **state)
{
	struct ctx *c = *state;
	int before = refcount_of(c->page_4k), mapped;

	map(c, GFN_4K, PG_LEVEL_4K);
	assert_mapped(c, GFN_4K, PG_LEVEL_4K, page_to_phys(c->page_4k));
	/* The guest page is a user of its range's pair (S-EPT pages there may be too). */
	mapped = refcount_of(c->page_4k);
	assert_true(mapped >= before + 1);
	assert_true(pamt_of(c, c->page_4k).dpamt_pair);
	assert_int_equal(pamt_of(c, c->page_4k).owner, c->std->tdr_pa);

	/* A second fault on it is spurious: nothing new in either tree. */
	map(c, GFN_4K, PG_LEVEL_4K);
	assert_int_equal(refcount_of(c->page_4k), mapped);

	/* The zap drops exactly the guest page's use; the tables above stay. */
	zap_slot(c);
	assert_unmapped(c, GFN_4K, PG_LEVEL_4K);
	assert_int_equal(refcount_of(c->page_4k), mapped - 1);
	assert_int_equal(pamt_of(c, c->page_4k).pt, PT_NDA);
	assert_false(pamt_of(c, c->page_4k).dirty);
	assert_false(c->kvm->vm_bugged);
}

/* A 2M fault on an order-9 folio: AUG at 2M, no pair; the zap frees all 512 pages. */
static void test_fault_zap_2m(void **state)
{
	struct ctx *c = *state;
	struct page *head = folio_page(c->folio_2m, 0);

	map(c, GFN_2M, PG_LEVEL_2M);
	assert_mapped(c, GFN_2M, PG_LEVEL_2M, page_to_phys(head));
	/* A 2M page is covered by the static 2M PAMT entry: no pair, no count (§4.5). */
	assert_int_equal(refcount_of(head), 0);
	assert_false(pamt_of(c, head).dpamt_pair);
	assert_int_equal(pamt_of(c, head).level, TDX_PS_2M);

	zap_slot(c);
	assert_unmapped(c, GFN_2M, PG_LEVEL_2M);
	assert_int_equal(pamt_of(c, head).pt, PT_NDA);
	assert_int_equal(pamt_of(c, folio_page(c->folio_2m, 511)).pt, PT_NDA);
	assert_false(pamt_of(c, folio_page(c->folio_2m, 511)).dirty);
	assert_false(c->kvm->vm_bugged);
}

/* Both at once, both zapped by one range: the neighbour range is unaffected until then. */
static void test_fault_both_then_zap(void **state)
{
	struct ctx *c = *state;

	map(c, GFN_2M, PG_LEVEL_2M);
	map(c, GFN_4K, PG_LEVEL_4K);
	assert_mapped(c, GFN_2M, PG_LEVEL_2M, page_to_phys(folio_page(c->folio_2m, 0)));
	assert_mapped(c, GFN_4K, PG_LEVEL_4K, page_to_phys(c->page_4k));
	assert_int_equal(c->kvm->stat.pages[PG_LEVEL_4K - 1], 1);
	assert_int_equal(c->kvm->stat.pages[PG_LEVEL_2M - 1], 1);

	zap_slot(c);
	assert_unmapped(c, GFN_2M, PG_LEVEL_2M);
	assert_unmapped(c, GFN_4K, PG_LEVEL_4K);
	assert_int_equal(c->kvm->stat.pages[PG_LEVEL_4K - 1], 0);
	assert_int_equal(c->kvm->stat.pages[PG_LEVEL_2M - 1], 0);
}

/*
 * No zap: the VM goes down with both leaves mapped.  After the HKID is
 * released the remove hook RECLAIMs the leaves and the free hook the
 * S-EPT pages (the teardown checks every page is back).
 */
static void test_teardown_mapped(void **state)
{
	struct ctx *c = *state;

	map(c, GFN_2M, PG_LEVEL_2M);
	map(c, GFN_4K, PG_LEVEL_4K);
	release_hkid(c);
	assert_false(is_hkid_assigned(c->kvm_tdx));
	KVM_MMU_LOCK(c->kvm);
	tdp_mmu_zap_root(c->kvm, c->kvm->mirror_root, false);
	KVM_MMU_UNLOCK(c->kvm);
	/*
	 * Leaves and tables went back by RECLAIM: only the root's sp is left
	 * (a failed free_external_spt would have WARNed and leaked the page;
	 * the teardown counts every page).
	 */
	kvm_mmu_rcu_barrier(c->kvm);
	assert_int_equal(c->kvm->stat.sp_allocated, 1);
	assert_int_equal(pamt_of(c, c->page_4k).pt, PT_NDA);
	assert_int_equal(pamt_of(c, folio_page(c->folio_2m, 0)).pt, PT_NDA);
	assert_int_equal(pamt_of(c, folio_page(c->folio_2m, 511)).pt, PT_NDA);
	assert_false(c->kvm->vm_bugged);
}

/*
 * A fault on a TD still being built is a KVM bug in this slice (PAGE.ADD is
 * not modelled): the hook refuses, the MMU restores the SPTE and asks for a
 * retry, the mirror stays non-present and the VM is bugged.
 */
static void test_fault_not_runnable(void **state)
{
	struct ctx *c = *state;
	int mlevel;

	c->kvm_tdx->state = TD_STATE_INITIALIZED;
	assert_int_equal(kvm_mmu_do_page_fault(c->vcpu, GFN_4K << PAGE_SHIFT,
					       PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK, NULL),
			 RET_PF_RETRY);
	assert_true(c->kvm->vm_bugged);
	assert_false(is_shadow_present_pte(mirror_spte(c->kvm, GFN_4K, &mlevel)));
	assert_false(sept_of(c, GFN_4K).leaf);
	assert_int_equal(tdxsim_kernel_events(c->sim, TDXSIM_KEV_KVM_BUG), 1);
	/* Expected: the teardown must not count them against the test. */
	c->kvm->vm_bugged = false;
	tdxsim_kernel_events_reset(c->sim);
}

/* The 4K leaf at @gfn in both trees is page @hpa, PENDING in the module. */
static void assert_4k_leaf(struct ctx *c, gfn_t gfn, u64 hpa)
{
	assert_mapped(c, gfn, PG_LEVEL_4K, hpa);
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
	struct ctx *c = *state;
	struct page *head = folio_page(c->folio_2m, 0);

	map(c, GFN_2M, PG_LEVEL_2M);
	assert_int_equal(refcount_of(head), 0);
	assert_int_equal(kvm_vm_set_mem_attributes(c->kvm, GFN_2M, GFN_2M + 1, 0), 0);
	assert_false(c->kvm->vm_bugged);

	assert_unmapped(c, GFN_2M, PG_LEVEL_4K);
	assert_4k_leaf(c, BASE_GFN, page_to_phys(head));
	assert_4k_leaf(c, GFN_2M + 1, page_to_phys(folio_page(c->folio_2m, 4)));
	assert_4k_leaf(c, BASE_GFN + 511, page_to_phys(folio_page(c->folio_2m, 511)));
	assert_int_equal(c->kvm->stat.pages[PG_LEVEL_4K - 1], 511);
	assert_int_equal(c->kvm->stat.pages[PG_LEVEL_2M - 1], 0);
	assert_true(pamt_of(c, head).dpamt_pair);
	assert_int_equal(refcount_of(head), 511);
	assert_int_equal(pamt_of(c, folio_page(c->folio_2m, 3)).pt, PT_NDA);
	/* The split cache was refilled before the split and used by it. */
	assert_true(c->kvm_tdx->prealloc_split_cache.cnt < TDX_MIN_SPLIT_CACHE_SZ);

	zap_slot(c);
	assert_unmapped(c, BASE_GFN, PG_LEVEL_4K);
	assert_unmapped(c, BASE_GFN + 511, PG_LEVEL_4K);
	assert_int_equal(refcount_of(head), 0);
	assert_false(pamt_of(c, head).dpamt_pair);
	assert_false(c->kvm->vm_bugged);
}

/* The same split, then the VM goes down with 511 4K leaves mapped: all reclaimed. */
static void test_split_then_teardown(void **state)
{
	struct ctx *c = *state;

	map(c, GFN_2M, PG_LEVEL_2M);
	assert_int_equal(kvm_vm_set_mem_attributes(c->kvm, GFN_2M, GFN_2M + 1, 0), 0);
	assert_int_equal(refcount_of(folio_page(c->folio_2m, 0)), 511);
	/* teardown(): release the HKID, zap the root (RECLAIM each leaf), check. */
}

/*
 * Under the shared mmu_lock TDX cannot split: the hook refuses before any
 * SEAMCALL, the MMU restores the 2M leaf, the module still maps 2M, and the
 * VM is not bugged.
 */
static void test_split_shared_refused(void **state)
{
	struct ctx *c = *state;
	struct kvm_gfn_range range = {
		.slot = gfn_to_memslot(c->kvm, BASE_GFN),
		.start = GFN_2M, .end = GFN_2M + 1,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	int ret;

	map(c, GFN_2M, PG_LEVEL_2M);
	kvm_mmu_read_lock(c->kvm);
	ret = kvm_split_cross_boundary_leafs(c->kvm, &range, true);
	kvm_mmu_read_unlock(c->kvm);
	assert_int_equal(ret, -EOPNOTSUPP);
	assert_mapped(c, GFN_2M, PG_LEVEL_2M, page_to_phys(folio_page(c->folio_2m, 0)));
	assert_int_equal(refcount_of(folio_page(c->folio_2m, 0)), 0);
	assert_false(c->kvm->vm_bugged);
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
 * then reclaims the leaked tables from the TD (teardown() counts the pages).
 */
static void test_free_spt_hkid_assigned(void **state)
{
	struct ctx *c = *state;
	struct page *tables[PT64_ROOT_MAX_LEVEL];
	u64 *pt = c->kvm->mirror_root->spt;
	int l, nr = 0;

	map(c, GFN_4K, PG_LEVEL_4K);
	/* The tables the fault linked below the root, top down. */
	for (l = c->kvm->root_level; l > PG_LEVEL_4K; l--) {
		u64 spte = pt[SPTE_INDEX(GFN_4K, l)];

		assert_true(is_shadow_present_pte(spte) && !is_last_spte(spte, l));
		tables[nr++] = virt_to_page(spte_to_child_sp(spte)->external_spt);
		pt = spte_to_child_pt(spte, l);
	}
	tdxsim_kernel_events_reset(c->sim);

	KVM_MMU_LOCK(c->kvm);
	tdp_mmu_zap_root(c->kvm, c->kvm->mirror_root, false);
	KVM_MMU_UNLOCK(c->kvm);
	kvm_mmu_rcu_barrier(c->kvm);

	assert_true(c->kvm->vm_bugged);
	/* The leaf went by BLOCK/TRACK/REMOVE; each table's free was refused. */
	assert_int_equal(pamt_of(c, c->page_4k).pt, PT_NDA);
	assert_int_equal(tdxsim_kernel_events(c->sim, TDXSIM_KEV_KVM_BUG), nr);
#ifdef TEST_DESIGN_UPSTREAM
	assert_int_equal(tdxsim_kernel_events(c->sim, TDXSIM_KEV_WARN), 0);
#else
	assert_int_equal(tdxsim_kernel_events(c->sim, TDXSIM_KEV_WARN), nr);
#endif
	/* Leaked, not freed: the module still holds every table as S-EPT. */
	for (l = 0; l < nr; l++)
		assert_int_equal(pamt_of(c, tables[l]).pt, PT_EPT);
	assert_int_equal(c->kvm->stat.sp_allocated, 1);

	/* Expected: the teardown must not count them against the test. */
	c->kvm->vm_bugged = false;
	tdxsim_kernel_events_reset(c->sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fault_zap_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_zap_2m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_both_then_zap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_teardown_mapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_not_runnable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_convert_4k_in_2m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_then_teardown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_shared_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_spt_hkid_assigned, setup, teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
