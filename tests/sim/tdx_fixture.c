// SPDX-License-Identifier: GPL-2.0-only
/* The TDX VM fixture of tests/sim (see tdx_fixture.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "tdx_fixture.h"

static struct page *page_at(u64 hpa)
{
	return pfn_to_page(PHYS_PFN(hpa));
}

static int fx_fail(int line)
{
	fprintf(stderr, "tdx_fixture_setup failed at line %d\n", line);
	return -1;
}

/*
 * KVM allocates every TD control page with tdx_alloc_page(), which takes a
 * use of the page's 2MB pair; the host layer built these itself, so count
 * them here, or a later tdx_pamt_put() in the same range would remove a
 * pair they still need (spec §4.5) and the refcounts would not match.
 */
static int count_control_pages(struct tdx_fixture *fx)
{
	struct tdxsim_td_page tp;
	u64 cursor = 0;

	while (!tdxsim_td_page_next(fx->sim, fx->std->tdr_pa, &cursor, &tp)) {
		if (tp.level != TDX_PS_4K || tp.pt == PT_REG || tp.pt == PT_EPT)
			continue;
		if (tdx_pamt_get(page_at(tp.hpa), NULL))
			return -1;
	}
	return 0;
}

int tdx_fixture_setup(void **state)
{
	struct kvm_userspace_memory_region2 mem = {
		.slot = 0, .flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = FX_BASE_GFN << PAGE_SHIFT,
		.memory_size = (u64)FX_NPAGES << PAGE_SHIFT,
	};
#ifdef TEST_DESIGN_UPSTREAM
	struct tdxsim_kvm_config kcfg = {
		.ops = &tdx_x86_ops_upstream_aux,
		.upstream_ops = &tdx_x86_ops_upstream,
	};
#else
	struct tdxsim_kvm_config kcfg = { .ops = &tdx_x86_ops };
#endif
	const struct tdx_fixture_opts *opts = *state;
	struct tdx_fixture *fx = calloc(1, sizeof(*fx));
	u64 st;

	if (!fx)
		return fx_fail(__LINE__);
	*state = fx;
	if (opts)
		kcfg.defects = opts->defects;
	tdxsim_config_init(&fx->cfg);
	fx->cfg.mem_size = 64ULL << 20;
	fx->sim = tdxsim_create(&fx->cfg);
	if (!fx->sim)
		return fx_fail(__LINE__);
	tdxsim_kernel_set_current(fx->sim);
	tdxsim_kernel_events_reset(fx->sim);
	if (tdx_pamt_refcounts_init())
		return fx_fail(__LINE__);
	fx->pages_baseline = tdxsim_pages_in_use(fx->sim);

	fx->std = tdxsim_td_create(fx->sim, &st);
	if (!fx->std || !tdxsim_vcpu_create(fx->std, &st) || tdxsim_td_finalize(fx->std))
		return fx_fail(__LINE__);
	if (count_control_pages(fx))
		return fx_fail(__LINE__);

	fx->kvm_tdx = calloc(1, sizeof(*fx->kvm_tdx));
	if (!fx->kvm_tdx)
		return fx_fail(__LINE__);
	fx->kvm_tdx->td.tdr_page = page_at(fx->std->tdr_pa);
	fx->kvm_tdx->hkid = fx->std->hkid;
	fx->kvm_tdx->state = TD_STATE_RUNNABLE;
	tdx_vm_init(fx->kvm_tdx);

	kcfg.priv = fx->kvm_tdx;
	fx->kvm = tdxsim_kvm_create(&kcfg);
	if (!fx->kvm)
		return fx_fail(__LINE__);
	fx->kvm_tdx->kvm = fx->kvm;
	if (kvm_set_memory_region(fx->kvm, &mem) ||
	    kvm_vm_set_mem_attributes(fx->kvm, FX_BASE_GFN, FX_BASE_GFN + FX_NPAGES,
				      KVM_MEMORY_ATTRIBUTE_PRIVATE))
		return fx_fail(__LINE__);

	fx->folio_2m = folio_alloc(GFP_KERNEL, PMD_SHIFT - PAGE_SHIFT);
	fx->page_4k = alloc_page(GFP_KERNEL);
	if (!fx->folio_2m || !fx->page_4k)
		return fx_fail(__LINE__);
	/* guest_memfd's memory, for the provenance ledger's balance. */
	kvm_prov_note(KVM_PROV_ALLOC, folio_pfn(fx->folio_2m) << PAGE_SHIFT, 512,
		      KVM_POOL_GUEST_FOLIO, ~0ULL, 0, "kvm_gmem_populate");
	kvm_prov_note(KVM_PROV_ALLOC, page_to_phys(fx->page_4k), 1, KVM_POOL_GUEST_FOLIO, ~0ULL,
		      0, "kvm_gmem_populate");
	if (tdxsim_kvm_gmem_set_folio(fx->kvm, FX_BASE_GFN, folio_pfn(fx->folio_2m), 9) ||
	    tdxsim_kvm_gmem_set_folio(fx->kvm, FX_GFN_4K, page_to_pfn(fx->page_4k), 0))
		return fx_fail(__LINE__);

	fx->vcpu = tdxsim_kvm_vcpu_create(fx->kvm, 0);
	if (!fx->vcpu || tdx_vcpu_create(fx->vcpu))
		return fx_fail(__LINE__);
	return 0;
}

void tdx_fixture_release_hkid(struct tdx_fixture *fx)
{
	if (!is_hkid_assigned(fx->kvm_tdx))
		return;
	assert_int_equal(tdxsim_td_flush_vcpus(fx->std), TDX_SUCCESS);
	assert_int_equal(tdx_mmu_release_hkid(fx->kvm), 0);
}

/* Each bad event's count, against fx->expect (0 for those it cannot declare). */
static bool events_as_expected(struct tdx_fixture *fx)
{
	const struct {
		enum tdxsim_kernel_event_type type;
		unsigned int want;
	} ev[] = {
		{ TDXSIM_KEV_WARN, fx->expect.warn },
		{ TDXSIM_KEV_TDX_BUG, fx->expect.tdx_bug },
		{ TDXSIM_KEV_KVM_BUG, fx->expect.kvm_bug },
		{ TDXSIM_KEV_PR_ERR, 0 },
		{ TDXSIM_KEV_SLEEP_IN_ATOMIC, 0 },
		{ TDXSIM_KEV_LOCKDEP, 0 },
	};
	bool ok = true;

	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		unsigned int n = tdxsim_kernel_events(fx->sim, ev[i].type);

		if (n != ev[i].want) {
			fprintf(stderr, "kernel event %d recorded %u time(s), expected %u\n",
				(int)ev[i].type, n, ev[i].want);
			ok = false;
		}
	}
	return ok;
}

/* tdx_vm_destroy()'s order: HKID, the MMU's zap (RECLAIM via the hooks), the TD. */
int tdx_fixture_teardown(void **state)
{
	struct tdx_fixture *fx = *state;
	struct tdxsim_report rep;
	int ret = 0;

	if (fx->kvm) {
		if (is_hkid_assigned(fx->kvm_tdx) &&
		    (tdxsim_td_flush_vcpus(fx->std) != TDX_SUCCESS ||
		     tdx_mmu_release_hkid(fx->kvm))) {
			fprintf(stderr, "tdx_mmu_release_hkid failed\n");
			ret = -1;
		}
		if (fx->vcpu) {
			tdx_vcpu_free(fx->vcpu);
			tdxsim_kvm_vcpu_destroy(fx->vcpu);
		}
		if (fx->kvm->vm_bugged != fx->expect.vm_bugged) {
			fprintf(stderr, "VM bugged %d, expected %d\n",
				fx->kvm->vm_bugged, fx->expect.vm_bugged);
			ret = -1;
		}
		tdxsim_kvm_destroy(fx->kvm);
	}
	if (fx->std && tdxsim_td_teardown(fx->std, TDXSIM_TEARDOWN_FREE_PAMT)) {
		fprintf(stderr, "TD teardown failed\n");
		ret = -1;
	}
	free(fx->kvm_tdx);
	if (fx->folio_2m) {
		kvm_prov_note(KVM_PROV_FREE, folio_pfn(fx->folio_2m) << PAGE_SHIFT, 512,
			      KVM_POOL_GUEST_FOLIO, ~0ULL, 0, "kvm_gmem_free");
		folio_put(fx->folio_2m);
	}
	if (fx->page_4k) {
		kvm_prov_note(KVM_PROV_FREE, page_to_phys(fx->page_4k), 1, KVM_POOL_GUEST_FOLIO,
			      ~0ULL, 0, "kvm_gmem_free");
		__free_page(fx->page_4k);
	}
	if (fx->sim) {
		long held = kvm_prov_balance(fx->sim, NULL);
		int n = kvm_check_ledger_violations(fx->sim, NULL, NULL);

		/* kvm_prov_balance() recorded each held page as a violation too. */
		if (held != fx->expect.held || n != fx->expect.ledger + held) {
			struct kvm_check_report *lrep = calloc(1, sizeof(*lrep));

			fprintf(stderr, "ledger: %ld page(s) held (expected %ld), %d violation(s)"
				" (expected %d)\n", held, fx->expect.held, n - (int)held,
				fx->expect.ledger);
			if (lrep) {
				kvm_check_ledger_violations(fx->sim, NULL, lrep);
				kvm_check_report_print(lrep, stderr);
				free(lrep);
			}
			ret = -1;
		}

		if (tdxsim_check(fx->sim, &rep) && !fx->module_dirty) {
			tdxsim_report_print(&rep, stderr);
			ret = -1;
		}
		if (tdxsim_pages_in_use(fx->sim) != fx->pages_baseline + fx->expect.pages_leaked) {
			fprintf(stderr, "pages in use %llu, baseline %llu, expected leaked %llu\n",
				(unsigned long long)tdxsim_pages_in_use(fx->sim),
				(unsigned long long)fx->pages_baseline,
				(unsigned long long)fx->expect.pages_leaked);
			ret = -1;
		}
		if (!events_as_expected(fx))
			ret = -1;
	}
	tdx_pamt_refcounts_free();
	tdxsim_kernel_set_current(NULL);
	tdxsim_destroy(fx->sim);
	free(fx);
	return ret;
}

void tdx_fixture_map(struct tdx_fixture *fx, gfn_t gfn, int want_level)
{
	int level = 0;

	assert_int_equal(kvm_tdp_map_page(fx->vcpu, gfn << PAGE_SHIFT,
					  PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK, &level), 0);
	assert_int_equal(level, want_level);
}

void tdx_fixture_zap_slot(struct tdx_fixture *fx)
{
	struct kvm_gfn_range range = {
		.slot = gfn_to_memslot(fx->kvm, FX_BASE_GFN),
		.start = FX_BASE_GFN, .end = FX_BASE_GFN + FX_NPAGES,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};

	KVM_MMU_LOCK(fx->kvm);
	kvm_unmap_gfn_range(fx->kvm, &range);
	KVM_MMU_UNLOCK(fx->kvm);
}

u64 *tdx_fixture_mirror_sptep(struct kvm *kvm, gfn_t gfn, int *level)
{
	u64 *pt = kvm->mirror_root->spt;
	int l;

	for (l = kvm->root_level; l > PG_LEVEL_4K; l--) {
		u64 spte = pt[SPTE_INDEX(gfn, l)];

		if (!is_shadow_present_pte(spte) || is_last_spte(spte, l))
			break;
		pt = spte_to_child_pt(spte, l);
	}
	*level = l;
	return &pt[SPTE_INDEX(gfn, l)];
}
