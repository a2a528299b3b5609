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

static int fx_fail(int line)
{
	fprintf(stderr, "tdx_fixture_setup failed at line %d\n", line);
	return -1;
}

static struct page *gmem_page(struct tdx_fixture *fx, gfn_t gfn)
{
	kvm_pfn_t pfn;
	int order;

	if (kvm_gmem_get_pfn(fx->kvm, gfn_to_memslot(fx->kvm, gfn), gfn, &pfn, &order))
		return NULL;
	return pfn_to_page(pfn);
}

int tdx_fixture_setup(void **state)
{
	const struct tdx_fixture_opts *opts = *state;
	struct tdx_fixture *fx = calloc(1, sizeof(*fx));
	struct tdxsim_vm_config vcfg;
	struct tdxsim_vm_summary sum;
	int err;

	if (!fx)
		return fx_fail(__LINE__);
	*state = fx;
	tdxsim_vm_config_init(&vcfg);
	vcfg.module.mem_size = 64ULL << 20;
#ifdef TEST_DESIGN_UPSTREAM
	vcfg.upstream = true;
#endif
	if (opts) {
		vcfg.defects = opts->defects;
		vcfg.ops = opts->ops;	/* upstream: its auxiliary table */
#ifdef TEST_DESIGN_UPSTREAM
		vcfg.upstream_ops = opts->upstream_ops;
#endif
	}
	fx->cfg = vcfg.module;
	fx->vm = tdxsim_vm_create(&vcfg, &err);
	if (!fx->vm)
		return fx_fail(__LINE__);
	fx->sim = tdxsim_vm_sim(fx->vm);
	tdxsim_kernel_events_reset(fx->sim);
	tdxsim_vm_summary(fx->vm, &sum);
	fx->pages_baseline = sum.pages_baseline;
	fx->std = tdxsim_vm_td(fx->vm);
	fx->kvm_tdx = tdxsim_vm_kvm_tdx(fx->vm);
	fx->kvm = tdxsim_vm_kvm(fx->vm);
	fx->vcpu = tdxsim_vm_vcpu(fx->vm, 0);

	if (tdxsim_vm_add_memslot(fx->vm, 0, FX_BASE_GFN << PAGE_SHIFT,
				  (u64)FX_NPAGES << PAGE_SHIFT, TDXSIM_SLOT_PRIVATE) ||
	    tdxsim_vm_gmem_populate(fx->vm, FX_BASE_GFN << PAGE_SHIFT, PMD_SIZE, 9) ||
	    tdxsim_vm_gmem_populate(fx->vm, FX_GFN_4K << PAGE_SHIFT, PAGE_SIZE, 0) ||
	    tdxsim_vm_finalize(fx->vm))
		return fx_fail(__LINE__);
	fx->folio_2m = (struct folio *)gmem_page(fx, FX_BASE_GFN);
	fx->page_4k = gmem_page(fx, FX_GFN_4K);
	if (!fx->folio_2m || !fx->page_4k)
		return fx_fail(__LINE__);
	return 0;
}

void tdx_fixture_release_hkid(struct tdx_fixture *fx)
{
	if (!is_hkid_assigned(fx->kvm_tdx))
		return;
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
		{ TDXSIM_KEV_SLEEP_IN_ATOMIC, fx->expect.sleep_in_atomic },
		{ TDXSIM_KEV_LOCKDEP, fx->expect.lockdep },
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

/*
 * The provenance ledger once everything is gone (tdxsim_vm_teardown()
 * noted the guest folios' frees): pages still held and the violations
 * recorded, against what the test declared.  Nonzero when they differ.
 */
static int ledger_as_expected(struct tdx_fixture *fx)
{
	long held = kvm_prov_balance(fx->sim, NULL);
	int n = kvm_check_ledger_violations(fx->sim, NULL, NULL);
	struct kvm_check_report *lrep;

	/* kvm_prov_balance() recorded each held page as a violation too. */
	if (held == fx->expect.held && n == fx->expect.ledger_teardown + held)
		return 0;
	fprintf(stderr, "ledger: %ld page(s) held (expected %ld), %d violation(s) in the teardown"
		" (expected %d)\n", held, fx->expect.held, n - (int)held,
		fx->expect.ledger_teardown);
	lrep = calloc(1, sizeof(*lrep));
	if (lrep) {
		kvm_check_ledger_violations(fx->sim, NULL, lrep);
		kvm_check_report_print(lrep, stderr);
		free(lrep);
	}
	return -1;
}

/* tdxsim_vm_teardown(): HKID (vCPUs flushed), the MMU's zap (RECLAIM via the hooks), the TD. */
int tdx_fixture_teardown(void **state)
{
	struct tdx_fixture *fx = *state;
	struct tdxsim_vm_summary sum;
	int ret = 0;

	if (fx->vm) {
		/*
		 * What the ledger holds for the VM before its teardown (the
		 * records stay; reset here so the teardown's own are counted
		 * apart): the test's to declare.
		 */
		int n = kvm_check_ledger_violations(fx->sim, fx->kvm, NULL);

		if (n != fx->expect.ledger) {
			struct kvm_check_report *lrep = calloc(1, sizeof(*lrep));

			fprintf(stderr, "ledger: %d violation(s) before the teardown, expected %d\n",
				n, fx->expect.ledger);
			if (lrep) {
				kvm_check_ledger_violations(fx->sim, fx->kvm, lrep);
				kvm_check_report_print(lrep, stderr);
				free(lrep);
			}
			ret = -1;
		}
		kvm_check_ledger_reset(fx->sim);
		if (tdxsim_vm_teardown(fx->vm) == -EIO) {
			fprintf(stderr, "VM teardown failed\n");
			ret = -1;
		}
		tdxsim_vm_summary(fx->vm, &sum);
		if (sum.vm_bugged != fx->expect.vm_bugged) {
			fprintf(stderr, "VM bugged %d, expected %d\n", sum.vm_bugged,
				fx->expect.vm_bugged);
			ret = -1;
		}
		if (ledger_as_expected(fx))
			ret = -1;
		if (sum.module_violations && !fx->module_dirty) {
			tdxsim_report_print(&sum.module_report, stderr);
			ret = -1;
		}
		if (sum.pages_in_use != fx->pages_baseline + fx->expect.pages_leaked) {
			fprintf(stderr, "pages in use %llu, baseline %llu, expected leaked %llu\n",
				(unsigned long long)sum.pages_in_use,
				(unsigned long long)fx->pages_baseline,
				(unsigned long long)fx->expect.pages_leaked);
			ret = -1;
		}
		if (!events_as_expected(fx))
			ret = -1;
		tdxsim_vm_destroy(fx->vm);
	}
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
