// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel shim (<tdxsim/kernel.h>): kernel-shaped wrapper code from
 * sim/tdx (tdx_core.c, tdx.c) runs against the simulator.  The tests set a TD up with the
 * simulator's own API and then drive memory only through the example
 * wrappers, checking module state (spec seamcall.md §2, §4) and the kernel
 * side (refcounts, recorded WARN/BUG events, the PAMT cache) after each step.
 *
 * This file must not call libtdxsim's wrappers.c: sim/tdx/tdx_core.c defines the
 * same names.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <tdxsim/fault.h>
#include <tdxsim/tdxsim.h>

#include <tdxsim-kvm/tdx.h>

#define GUEST_GPA	0x40000000ULL	/* 1GB: a 2MB-aligned private GPA */

#include "../lib/assert_status.h"

struct kfx {
	struct tdxsim_config cfg;
	struct tdxsim *sim;
	struct tdxsim_td *std;		/* the simulator's handle of the TD */
	struct tdxsim_vcpu *vcpu;
	struct kvm_tdx td;		/* the "kernel" view of the same TD */
	struct tdx_pamt_cache cache;
	u64 guest_hpa;			/* the 2MB guest page, 0 if none */
	bool expect_warn;		/* the test provokes a WARN on purpose */
	bool expect_bug;		/* the test provokes a TDX_BUG_ON on purpose */
};

static void kick_vcpus(struct kvm_tdx *kvm_tdx)
{
	tdxsim_td_kick_vcpus(kvm_tdx->kick_arg);
}

static int refcount_of(u64 hpa)
{
	return atomic_read(tdx_find_pamt_refcount(PHYS_PFN(hpa)));
}

static struct page *hpa_page(u64 hpa)
{
	return pfn_to_page(PHYS_PFN(hpa));
}

static struct tdxsim_pamt_info pamt_of(struct kfx *fx, u64 hpa)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	return pi;
}

static u64 leaf_calls(struct kfx *fx, unsigned int leaf)
{
	struct tdxsim_leaf_stats st;

	assert_int_equal(tdxsim_stats_leaf(fx->sim, leaf, &st), 0);
	return st.calls;
}

static struct tdxsim_sept_info sept_at(struct kfx *fx, u64 gpa, int level)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->std, gpa, level, &si), 0);
	return si;
}

static int setup_cfg(void **state, bool dpamt, bool with_td)
{
	struct kfx *fx = calloc(1, sizeof(*fx));
	u64 st;

	if (!fx)
		return -1;
	tdxsim_config_init(&fx->cfg);
	fx->cfg.mem_size = 64ULL << 20;
	if (!dpamt)
		fx->cfg.features0 &= ~TDX_FEATURES0_DYNAMIC_PAMT;
	fx->sim = tdxsim_create(&fx->cfg);
	if (!fx->sim)
		goto fail;
	tdxsim_kernel_set_current(fx->sim);
	tdxsim_kernel_events_reset(fx->sim);
	if (tdx_pamt_refcounts_init())
		goto fail;
	*state = fx;
	if (!with_td)
		return 0;

	fx->std = tdxsim_td_create(fx->sim, &st);
	if (!fx->std)
		goto fail;
	fx->vcpu = tdxsim_vcpu_create(fx->std, &st);
	if (!fx->vcpu || tdxsim_td_finalize(fx->std))
		goto fail;
	fx->td.td.tdr_page = hpa_page(fx->std->tdr_pa);
	fx->td.hkid = fx->std->hkid;
	fx->td.kick_vcpus = kick_vcpus;
	fx->td.kick_arg = fx->std;
	/*
	 * The simulator built the control pages and their pairs; count them as
	 * KVM's tdx_alloc_page() would have, so that puts of other pages of
	 * those 2MB ranges never try to remove a pair still in use (§4.5).
	 */
	if (tdx_pamt_get(fx->td.td.tdr_page, NULL) ||
	    tdx_pamt_get(hpa_page(tdxsim_vcpu_tdvpr_pa(fx->vcpu)), NULL))
		goto fail;
	for (unsigned int i = 0; i < fx->std->nr_tdcx; i++) {
		if (tdx_pamt_get(hpa_page(fx->std->tdcx_pa[i]), NULL))
			goto fail;
	}
	return 0;
fail:
	tdxsim_td_teardown(fx->std, TDXSIM_TEARDOWN_FREE_PAMT);
	tdx_pamt_refcounts_free();
	tdxsim_kernel_set_current(NULL);
	tdxsim_destroy(fx->sim);
	free(fx);
	return -1;
}

static int setup_td(void **state)
{
	return setup_cfg(state, true, true);
}

static int setup_td_nodpamt(void **state)
{
	return setup_cfg(state, false, true);
}

static int setup_sim(void **state)
{
	return setup_cfg(state, true, false);
}

/*
 * Everything goes back: the TD (with every pair left empty), the cache, the
 * refcount array.  Fails the test on a module invariant violation, a page
 * left allocated, or a WARN/BUG/pr_err the test did not provoke.
 */
static int teardown(void **state)
{
	struct kfx *fx = *state;
	struct tdxsim_report rep;
	int ret = 0;

	if (fx->std && tdxsim_td_teardown(fx->std, TDXSIM_TEARDOWN_FREE_PAMT)) {
		fprintf(stderr, "TD teardown failed\n");
		ret = -1;
	}
	tdx_pamt_cache_free(&fx->cache);
	if (tdxsim_check(fx->sim, &rep)) {
		tdxsim_report_print(&rep, stderr);
		ret = -1;
	}
	if (tdxsim_pages_in_use(fx->sim)) {
		fprintf(stderr, "%llu pages left allocated\n",
			(unsigned long long)tdxsim_pages_in_use(fx->sim));
		ret = -1;
	}
	if ((!fx->expect_warn && tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN)) ||
	    (!fx->expect_bug && tdxsim_kernel_events(fx->sim, TDXSIM_KEV_TDX_BUG)) ||
	    tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG) ||
	    tdxsim_kernel_events(fx->sim, TDXSIM_KEV_PR_ERR) ||
	    tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC) ||
	    tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP)) {
		fprintf(stderr, "unexpected events: warn %u tdx_bug %u kvm_bug %u pr_err %u "
			"sleep %u lockdep %u\n",
			tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN),
			tdxsim_kernel_events(fx->sim, TDXSIM_KEV_TDX_BUG),
			tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG),
			tdxsim_kernel_events(fx->sim, TDXSIM_KEV_PR_ERR),
			tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC),
			tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP));
		ret = -1;
	}
	tdx_pamt_refcounts_free();
	tdxsim_kernel_set_current(NULL);
	tdxsim_destroy(fx->sim);
	free(fx);
	return ret;
}

/*
 * SEPT.ADD the upper levels for a 2MB mapping at @gpa; each S-EPT page is a
 * pair user.  Returns the number of S-EPT pages added.
 */
static int map_sept(struct kfx *fx, u64 gpa)
{
	int added = 0;

	for (int level = 3; level > TDX_PS_2M; level--) {
		u64 base = ALIGN_DOWN(gpa, tdx_level_size(level)), e1, e2;
		struct page *sp = alloc_page(GFP_KERNEL);

		assert_non_null(sp);
		assert_int_equal(tdx_pamt_get(sp, NULL), 0);
		assert_status(tdh_mem_sept_add(&fx->td.td, base, level, sp, &e1, &e2), TDX_SUCCESS);
		assert_int_equal(sept_at(fx, gpa, level).state, SEPT_PUBLIC_NL_MAPPED);
		assert_int_equal(sept_at(fx, gpa, level).hpa, page_to_phys(sp));
		added++;
	}
	return added;
}

/* AUG a fresh 2MB page at GUEST_GPA (§2.4, F1); optionally the guest accepts it. */
static void aug_2m(struct kfx *fx, bool accept)
{
	struct tdx_module_args a = { .rcx = GUEST_GPA | TDX_PS_2M };
	u64 chld = tdxsim_td_chldcnt(fx->sim, fx->std), e1, e2;
	struct tdxsim_sept_info si;

	chld += map_sept(fx, GUEST_GPA);
	fx->guest_hpa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(fx->guest_hpa != 0);
	assert_status(tdh_mem_page_aug(&fx->td.td, GUEST_GPA, TDX_PS_2M, PHYS_PFN(fx->guest_hpa),
				       &e1, &e2), TDX_SUCCESS);
	si = sept_at(fx, GUEST_GPA, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
	assert_int_equal(si.hpa, fx->guest_hpa);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->std), chld + PTRS_PER_PMD);
	/* A 2MB AUG uses the static 2M PAMT entry: no pair, no kernel count (§4.5). */
	assert_false(pamt_of(fx, fx->guest_hpa).dpamt_pair);
	assert_int_equal(refcount_of(fx->guest_hpa), 0);
	if (!accept)
		return;

	assert_status(tdxsim_vcpu_enter(fx->vcpu), TDX_SUCCESS);
	assert_status(tdxsim_tdcall(fx->sim, fx->vcpu->tdvpr_pa, TDG_MEM_PAGE_ACCEPT, &a), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, GUEST_GPA, TDX_PS_2M).state, SEPT_PUBLIC_MAPPED);
}

/* BLOCK + TRACK + kick through the example wrappers (§2.5, §2.6). */
static void block_track_kick(struct kfx *fx)
{
	u64 e1, e2, epoch = tdxsim_td_epoch(fx->sim, fx->std);

	assert_status(tdh_mem_range_block(&fx->td.td, GUEST_GPA, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, GUEST_GPA, TDX_PS_2M).state, SEPT_PUBLIC_BLOCKED);
	assert_status(tdh_mem_track(&fx->td.td), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->std), epoch + 1);
	fx->td.kick_vcpus(&fx->td);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
}

/* A new S-EPT page for DEMOTE with its pair counted (§2.8 step 5). */
static struct page *new_sept_page(struct kfx *fx)
{
	struct page *sp = alloc_page(GFP_KERNEL);
	int before;

	assert_non_null(sp);
	before = refcount_of(page_to_phys(sp));
	assert_int_equal(tdx_pamt_get(sp, &fx->cache), 0);
	assert_int_equal(refcount_of(page_to_phys(sp)), before + 1);
	assert_true(pamt_of(fx, page_to_phys(sp)).dpamt_pair);
	return sp;
}

/* The state after a successful 2MB DEMOTE of the guest page (§2.8 commit, §4.5). */
static void assert_demoted(struct kfx *fx, struct page *sp, struct page *const pair[2])
{
	struct tdxsim_pamt_info pi = pamt_of(fx, fx->guest_hpa);
	struct tdxsim_sept_info si = sept_at(fx, GUEST_GPA, TDX_PS_2M);

	assert_int_equal(si.state, SEPT_PUBLIC_NL_MAPPED);
	assert_int_equal(si.hpa, page_to_phys(sp));
	for (unsigned int i = 0; i < PTRS_PER_PMD; i += 73) {
		si = sept_at(fx, GUEST_GPA + i * PAGE_SIZE, TDX_PS_4K);
		assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
		assert_int_equal(si.hpa, fx->guest_hpa + i * PAGE_SIZE);
	}
	assert_int_equal(refcount_of(fx->guest_hpa), PTRS_PER_PMD);
	assert_true(pi.dpamt_pair);
	assert_int_equal(pi.dpamt_count, PTRS_PER_PMD);
	assert_int_equal(pi.level, TDX_PS_4K);
	assert_int_equal(pi.pt, PT_REG);
	assert_int_equal(pi.owner, fx->std->tdr_pa);
	assert_int_equal(pi.dpamt_pages[0], page_to_phys(pair[0]));
	assert_int_equal(pi.dpamt_pages[1], page_to_phys(pair[1]));
	assert_int_equal(pamt_of(fx, page_to_phys(sp)).pt, PT_EPT);
}

/* ---- tests ---- */

/* No module "loaded" on this thread: every SEAMCALL fails VMFAILINVALID, nothing is allocated. */
static void test_no_current_sim(void **state)
{
	struct kfx *fx = *state;
	u64 seq = tdxsim_seq(fx->sim), pt = 1, owner = 1, size = 1, e1 = 1, e2 = 1;

	tdxsim_kernel_set_current(NULL);
	assert_null(tdxsim_kernel_current());
	assert_status(tdh_mem_track(&fx->td.td), TDX_SEAMCALL_VMFAILINVALID);
	assert_status(tdh_mem_page_aug(&fx->td.td, GUEST_GPA, TDX_PS_2M, 0x40000, &e1, &e2),
		      TDX_SEAMCALL_VMFAILINVALID);
	assert_status(tdh_phymem_page_reclaim(fx->td.td.tdr_page, 1, &pt, &owner, &size),
		      TDX_SEAMCALL_VMFAILINVALID);
	/* The wrappers hand back whatever the registers hold: the inputs, untouched. */
	assert_int_equal(e1, GUEST_GPA | TDX_PS_2M);
	assert_int_equal(e2, fx->std->tdr_pa);
	assert_int_equal(pt, fx->std->tdr_pa);
	assert_null(alloc_page(GFP_KERNEL));
	assert_int_equal(tdx_pamt_refcounts_init(), -ENODEV);
	/* Nothing reached the simulator. */
	assert_int_equal(tdxsim_seq(fx->sim), seq);

	tdxsim_kernel_set_current(fx->sim);
	assert_ptr_equal(tdxsim_kernel_current(), fx->sim);
	assert_status(tdh_mem_track(&fx->td.td), TDX_SUCCESS);
	assert_int_equal(tdxsim_seq(fx->sim), seq + 1);
}

/*
 * F2 through the example: AUG 2M, guest ACCEPT, BLOCK/TRACK/kick, pair for
 * the new S-EPT page, DEMOTE with the cache.  Then the 4K REMOVE path of
 * F3 for one page, down to its tdx_pamt_put().
 */
static void test_demote_success(void **state)
{
	struct kfx *fx = *state;
	struct page *sp, *pair[2];
	u64 chld, e1, e2, gpa = GUEST_GPA + 5 * PAGE_SIZE, hpa;

	aug_2m(fx, true);
	block_track_kick(fx);
	assert_int_equal(tdx_pamt_cache_topup(&fx->cache, TDX_MIN_SPLIT_CACHE_SZ), 0);
	assert_int_equal(fx->cache.cnt, TDX_MIN_SPLIT_CACHE_SZ);
	sp = new_sept_page(fx);
	/* The S-EPT page's range already had users: the fast path took no cache page. */
	assert_int_equal(fx->cache.cnt, TDX_MIN_SPLIT_CACHE_SZ);
	pair[0] = fx->cache.pages[fx->cache.cnt - 1];
	pair[1] = fx->cache.pages[fx->cache.cnt - 2];
	chld = tdxsim_td_chldcnt(fx->sim, fx->std);

	assert_status(tdh_mem_page_demote(&fx->td.td, GUEST_GPA, TDX_PS_2M, PHYS_PFN(fx->guest_hpa),
					  sp, &fx->cache, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(fx->cache.cnt, TDX_MIN_SPLIT_CACHE_SZ - TDX_DPAMT_ENTRY_PAGES);
	assert_demoted(fx, sp, pair);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->std), chld + 1);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_DEMOTE, TDX_SUCCESS), 1);

	/* F3: remove one 4K page the KVM way and drop its count. */
	hpa = fx->guest_hpa + 5 * PAGE_SIZE;
	assert_status(tdh_mem_range_block(&fx->td.td, gpa, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(tdx_track(&fx->td), 0);
	assert_status(tdh_mem_page_remove(&fx->td.td, gpa, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	/* §2.10: RCX = the removed page; the pair still has 511 users, so no hint. */
	assert_int_equal(e1, hpa);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_4K).state, SEPT_PUBLIC_FREE);
	assert_true(pamt_of(fx, hpa).dirty);
	assert_status(tdh_phymem_page_wbinvd_hkid(fx->td.hkid, PHYS_PFN(hpa)), TDX_SUCCESS);
	assert_false(pamt_of(fx, hpa).dirty);
	tdx_pamt_put(hpa_page(hpa));
	assert_int_equal(refcount_of(hpa), PTRS_PER_PMD - 1);
	assert_int_equal(pamt_of(fx, hpa).dpamt_count, PTRS_PER_PMD - 1);
	assert_true(pamt_of(fx, hpa).dpamt_pair);
	__free_page(hpa_page(hpa));
	assert_false(pamt_of(fx, hpa).allocated);
}

/*
 * A DEMOTE that loses the S-EPT tree lock (§2.8 locks, injected) commits
 * nothing: the pair goes back to the cache, the leaf stays BLOCKED with its
 * static PAMT entry, the count stays 0.  Kick and retry (§7.3) succeeds.
 */
static void test_demote_busy_then_retry(void **state)
{
	struct kfx *fx = *state;
	struct tdxsim_sept_info si_before, si;
	struct tdxsim_pamt_info pi;
	struct page *sp, *cached[TDX_MIN_SPLIT_CACHE_SZ], *pair[2];
	u64 chld, e1, e2, in_use = tdxsim_pages_in_use(fx->sim);
	char err[128];

	aug_2m(fx, true);
	block_track_kick(fx);
	assert_int_equal(tdx_pamt_cache_topup(&fx->cache, TDX_MIN_SPLIT_CACHE_SZ), 0);
	sp = new_sept_page(fx);
	memcpy(cached, fx->cache.pages, sizeof(cached));
	si_before = sept_at(fx, GUEST_GPA, TDX_PS_2M);
	chld = tdxsim_td_chldcnt(fx->sim, fx->std);
	in_use = tdxsim_pages_in_use(fx->sim);

	assert_int_equal(tdxsim_fault_parse(fx->sim, "demote:busy=sept:nth=1", err, sizeof(err)),
			 1);
	assert_status(tdh_mem_page_demote(&fx->td.td, GUEST_GPA, TDX_PS_2M, PHYS_PFN(fx->guest_hpa),
					  sp, &fx->cache, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	/* The pair is back in the cache, in its place. */
	assert_int_equal(fx->cache.cnt, TDX_MIN_SPLIT_CACHE_SZ);
	assert_memory_equal(fx->cache.pages, cached, sizeof(cached));
	assert_int_equal(tdxsim_pages_in_use(fx->sim), in_use);
	/* Module and kernel state unchanged. */
	si = sept_at(fx, GUEST_GPA, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_BLOCKED);
	assert_int_equal(si.entry, si_before.entry);
	assert_int_equal(si.hpa, fx->guest_hpa);
	pi = pamt_of(fx, fx->guest_hpa);
	assert_int_equal(pi.level, TDX_PS_2M);
	assert_int_equal(pi.pt, PT_REG);
	assert_false(pi.dpamt_pair);
	assert_false(pamt_of(fx, page_to_phys(cached[TDX_MIN_SPLIT_CACHE_SZ - 1])).pamt_page);
	assert_int_equal(pamt_of(fx, page_to_phys(sp)).pt, PT_NDA);
	assert_int_equal(refcount_of(fx->guest_hpa), 0);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->std), chld);

	/* tdh_do_no_vcpus(): kick, then the second attempt goes through. */
	fx->td.kick_vcpus(&fx->td);
	pair[0] = fx->cache.pages[fx->cache.cnt - 1];
	pair[1] = fx->cache.pages[fx->cache.cnt - 2];
	assert_status(tdh_mem_page_demote(&fx->td.td, GUEST_GPA, TDX_PS_2M, PHYS_PFN(fx->guest_hpa),
					  sp, &fx->cache, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(fx->cache.cnt, TDX_MIN_SPLIT_CACHE_SZ - TDX_DPAMT_ENTRY_PAGES);
	assert_demoted(fx, sp, pair);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->std), chld + 1);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
}

/*
 * The register-contract bug reviewers caught in the DEMOTE series: a wrapper
 * that fills the Dynamic-PAMT pair into R12/R13 (through the array view of
 * the registers, as tdx.c does) but issues the call with seamcall_ret(),
 * which passes RCX..R11 only.  Written here on purpose, kernel-shaped.
 */
static u64 demote_pair_via_seamcall_ret(struct tdx_td *td, u64 gpa, struct page *new_sept_page,
					struct page *const pair[2], u64 *ext_err1, u64 *ext_err2)
{
	struct tdx_module_array_args args = {
		.args.rcx = gpa | TDX_PS_2M,
		.args.rdx = tdx_tdr_pa(td),
		.args.r8 = page_to_phys(new_sept_page),
	};
	u64 *r12 = &args.args_array[offsetof(struct tdx_module_args, r12) / sizeof(u64)];
	u64 ret;

	for (int i = 0; i < tdx_dpamt_entry_pages(); i++)
		r12[i] = page_to_phys(pair[i]);
	tdx_clflush_page(new_sept_page);
	ret = seamcall_ret(TDH_MEM_PAGE_DEMOTE, &args.args);
	*ext_err1 = args.args.rcx;
	*ext_err2 = args.args.rdx;
	return ret;
}

/*
 * As on hardware, the module sees junk in R12/R13 and refuses the pair;
 * nothing is committed.  The same DEMOTE through seamcall_saved_ret() (the
 * example's tdh_mem_page_demote()) then succeeds with the same pages.
 */
static void test_demote_pair_needs_saved_ret(void **state)
{
	struct kfx *fx = *state;
	struct page *sp, *pair[2];
	u64 e1, e2, chld;

	aug_2m(fx, true);
	block_track_kick(fx);
	assert_int_equal(tdx_pamt_cache_topup(&fx->cache, TDX_MIN_SPLIT_CACHE_SZ), 0);
	sp = new_sept_page(fx);
	pair[0] = fx->cache.pages[fx->cache.cnt - 1];
	pair[1] = fx->cache.pages[fx->cache.cnt - 2];
	chld = tdxsim_td_chldcnt(fx->sim, fx->std);

	assert_status(demote_pair_via_seamcall_ret(&fx->td.td, GUEST_GPA, sp, pair, &e1, &e2),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R12);
	assert_int_equal(sept_at(fx, GUEST_GPA, TDX_PS_2M).state, SEPT_PUBLIC_BLOCKED);
	assert_false(pamt_of(fx, fx->guest_hpa).dpamt_pair);
	assert_false(pamt_of(fx, page_to_phys(pair[0])).pamt_page);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->std), chld);

	assert_status(tdh_mem_page_demote(&fx->td.td, GUEST_GPA, TDX_PS_2M, PHYS_PFN(fx->guest_hpa),
					  sp, &fx->cache, &e1, &e2), TDX_SUCCESS);
	assert_demoted(fx, sp, pair);
}

/*
 * The KVM split path (tdx_split_2m) meets one BUSY on BLOCK and one on
 * DEMOTE: tdh_do_no_vcpus() retries each once and the split succeeds with
 * no BUG recorded (§7.2, §7.3).
 */
static void test_split_retries_busy(void **state)
{
	struct kfx *fx = *state;
	struct page *sp, *pair[2];
	char err[128];

	aug_2m(fx, false);
	assert_int_equal(tdx_pamt_cache_topup(&fx->cache, TDX_MIN_SPLIT_CACHE_SZ), 0);
	pair[0] = fx->cache.pages[fx->cache.cnt - 1];
	pair[1] = fx->cache.pages[fx->cache.cnt - 2];
	sp = alloc_page(GFP_KERNEL);
	assert_non_null(sp);
	assert_int_equal(tdxsim_fault_parse(fx->sim,
					    "block:busy=sept:nth=1; demote:busy=sept:nth=1",
					    err, sizeof(err)), 2);

	assert_int_equal(tdx_split_2m(&fx->td, GUEST_GPA, PHYS_PFN(fx->guest_hpa), sp,
				      &fx->cache), 0);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 2);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_RANGE_BLOCK,
					    TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT), 1);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_DEMOTE,
					    TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT), 1);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_DEMOTE, TDX_SUCCESS), 1);
	/* PENDING 2M: the 512 children are PENDING (§2.8 commit). */
	assert_int_equal(sept_at(fx, GUEST_GPA + 0x1000, TDX_PS_4K).state, SEPT_PUBLIC_PENDING);
	assert_int_equal(refcount_of(fx->guest_hpa), PTRS_PER_PMD);
	assert_int_equal(pamt_of(fx, fx->guest_hpa).dpamt_pages[0], page_to_phys(pair[0]));
	assert_int_equal(pamt_of(fx, fx->guest_hpa).dpamt_pages[1], page_to_phys(pair[1]));
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_TDX_BUG), 0);
}

/*
 * DEMOTE of a MAPPED 2M leaf without BLOCK: GPA_RANGE_NOT_BLOCKED|RCX with
 * the entry details (§2.8 check 4, F2 negative).  The KVM caller records
 * TDX_BUG_ON_2 naming the status and details, returns -EIO, puts the S-EPT
 * page's count back; the test process keeps running.
 */
static void test_demote_unblocked_bug(void **state)
{
	struct kfx *fx = *state;
	struct tdxsim_kernel_event ev;
	struct tdxsim_sept_info si;
	struct page *sp;
	char want[192];
	int sp_count;
	u64 chld;

	fx->expect_bug = true;
	aug_2m(fx, true);
	assert_int_equal(tdx_pamt_cache_topup(&fx->cache, TDX_MIN_SPLIT_CACHE_SZ), 0);
	sp = alloc_page(GFP_KERNEL);
	assert_non_null(sp);
	sp_count = refcount_of(page_to_phys(sp));
	si = sept_at(fx, GUEST_GPA, TDX_PS_2M);
	chld = tdxsim_td_chldcnt(fx->sim, fx->std);
	assert_int_equal(tdxsim_kernel_last_event(fx->sim, TDXSIM_KEV_TDX_BUG, &ev), -ENOENT);

	assert_int_equal(tdx_demote_2m(&fx->td, GUEST_GPA, PHYS_PFN(fx->guest_hpa), sp,
				       &fx->cache), -EIO);

	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_TDX_BUG), 1);
	assert_int_equal(tdxsim_kernel_last_event(fx->sim, TDXSIM_KEV_TDX_BUG, &ev), 0);
	assert_int_equal(ev.type, TDXSIM_KEV_TDX_BUG);
	snprintf(want, sizeof(want),
		 "SEAMCALL TDH_MEM_PAGE_DEMOTE failed: TDX_GPA_RANGE_NOT_BLOCKED|RCX, "
		 "entry %#llx, level_state %#llx", (unsigned long long)si.entry,
		 (unsigned long long)(TDX_PS_2M | SEPT_PUBLIC_MAPPED << TDX_SEPT_INFO_STATE_SHIFT));
	assert_string_equal(ev.msg, want);
	assert_non_null(strstr(ev.file, "sim/tdx/tdx.c"));
	/* Not BUSY: no retry. */
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_DEMOTE,
					    TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX), 1);
	assert_int_equal(leaf_calls(fx, TDH_MEM_PAGE_DEMOTE), 1);
	/* Nothing changed: leaf MAPPED, cache full, counts as before. */
	assert_int_equal(sept_at(fx, GUEST_GPA, TDX_PS_2M).state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(sept_at(fx, GUEST_GPA, TDX_PS_2M).entry, si.entry);
	assert_int_equal(fx->cache.cnt, TDX_MIN_SPLIT_CACHE_SZ);
	assert_int_equal(refcount_of(page_to_phys(sp)), sp_count);
	assert_int_equal(refcount_of(fx->guest_hpa), 0);
	assert_false(pamt_of(fx, fx->guest_hpa).dpamt_pair);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->std), chld);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_KVM_BUG), 0);
	__free_page(sp);
}

/*
 * §7.6 / F6: once the TD is in TEARDOWN, RECLAIM of a 2MB guest page at its
 * base reclaims all of it (R8 = 1).  A caller that asked for one page gets
 * TDX_SW_ERROR with the module's outputs; the page is the host's again.
 */
static void test_reclaim_size_mismatch(void **state)
{
	struct kfx *fx = *state;
	struct tdx_module_args a;
	struct tdxsim_pamt_info pi;
	struct page *sp;
	u64 pt, owner, size, chld;

	aug_2m(fx, false);
	sp = hpa_page(sept_at(fx, GUEST_GPA, TDX_PS_2M + 1).hpa);

	/* Teardown up to TEARDOWN only (§2.13): no page is reclaimed yet. */
	fx->td.kick_vcpus(&fx->td);
	/* TDH.VP.INIT associated the vCPU: TDH.VP.FLUSH before VPFLUSHDONE. */
	assert_status(tdxsim_td_flush_vcpus(fx->std), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = fx->std->tdr_pa };
	assert_status(seamcall(TDH_MNG_VPFLUSHDONE, &a), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = 0 };
	assert_status(seamcall(TDH_PHYMEM_CACHE_WB, &a), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = fx->std->tdr_pa };
	assert_status(seamcall(TDH_MNG_KEY_FREEID, &a), TDX_SUCCESS);
	chld = tdxsim_td_chldcnt(fx->sim, fx->std);

	assert_status(tdh_phymem_page_reclaim(hpa_page(fx->guest_hpa), 1, &pt, &owner, &size),
		      TDX_SW_ERROR);
	assert_int_equal(pt, PT_REG);
	assert_int_equal(owner, fx->std->tdr_pa);
	assert_int_equal(size, TDX_PS_2M);
	/* The module did reclaim it, at 2MB. */
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_PAGE_RECLAIM, TDX_SUCCESS), 1);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->std), chld - PTRS_PER_PMD);
	pi = pamt_of(fx, fx->guest_hpa);
	assert_int_equal(pi.pt, PT_NDA);
	assert_int_equal(pi.owner, 0);
	assert_false(pi.dpamt_pair);
	assert_int_equal(tdxsim_page_free(fx->sim, fx->guest_hpa, TDX_PS_2M), 0);

	/* The matching size is plain success: a 4K S-EPT page (F6). */
	assert_status(tdh_phymem_page_reclaim(sp, 1, &pt, &owner, &size), TDX_SUCCESS);
	assert_int_equal(pt, PT_EPT);
	assert_int_equal(owner, fx->std->tdr_pa);
	assert_int_equal(size, TDX_PS_4K);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->std), chld - PTRS_PER_PMD - 1);
	tdx_pamt_put(sp);
	__free_page(sp);
	assert_false(pamt_of(fx, page_to_phys(sp)).allocated);
}

/* ---- the Dynamic-PAMT race of §4.4 ---- */

struct park {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool parked, release;
	struct tdxsim *sim;
	struct page *page;
};

static __thread bool park_me;

/* Park the victim thread at its first lock: pamt_lock inside tdx_pamt_put(). */
static void park_hook(void *lock, void *arg)
{
	struct park *p = arg;

	if (!park_me)
		return;
	pthread_mutex_lock(&p->m);
	if (!p->parked) {
		p->parked = true;
		pthread_cond_broadcast(&p->cv);
		while (!p->release)
			pthread_cond_wait(&p->cv, &p->m);
	}
	pthread_mutex_unlock(&p->m);
}

static void *put_thread(void *arg)
{
	struct park *p = arg;

	park_me = true;
	tdxsim_kernel_set_current(p->sim);
	tdx_pamt_put(p->page);
	tdxsim_kernel_set_current(NULL);
	return NULL;
}

/*
 * Thread A's put takes the count of a range to 0 and is held right before
 * pamt_lock.  A get on another page of the range finds 0, so it tries
 * PAMT.ADD: the module answers HPA_RANGE_NOT_FREE|RCX (pair still there,
 * §2.14), the get revives the count to 1 and frees its own pages.  A then
 * sees 1 and leaves the pair alone: no PAMT.REMOVE at all.
 */
static void test_dpamt_put_get_race(void **state)
{
	struct kfx *fx = *state;
	struct park p = { .m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct tdxsim_pamt_info pi;
	struct page *a_page, *b_page;
	u64 pair[2], in_use;
	pthread_t a;

	a_page = alloc_page(GFP_KERNEL);
	b_page = alloc_page(GFP_KERNEL);
	assert_non_null(a_page);
	assert_non_null(b_page);
	assert_int_equal(ALIGN_DOWN(page_to_phys(a_page), PMD_SIZE),
			 ALIGN_DOWN(page_to_phys(b_page), PMD_SIZE));
	assert_false(pamt_of(fx, page_to_phys(a_page)).dpamt_pair);

	assert_int_equal(tdx_pamt_get(a_page, NULL), 0);
	assert_int_equal(refcount_of(page_to_phys(a_page)), 1);
	pi = pamt_of(fx, page_to_phys(a_page));
	assert_true(pi.dpamt_pair);
	pair[0] = pi.dpamt_pages[0];
	pair[1] = pi.dpamt_pages[1];
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_PAMT_ADD, TDX_SUCCESS), 1);

	p.sim = fx->sim;
	p.page = a_page;
	pthread_mutex_lock(&p.m);
	assert_int_equal(tdxsim_kernel_set_lock_hook(fx->sim, park_hook, &p), 0);
	assert_int_equal(pthread_create(&a, NULL, put_thread, &p), 0);
	while (!p.parked)
		pthread_cond_wait(&p.cv, &p.m);
	pthread_mutex_unlock(&p.m);

	/* A is past atomic_dec_and_test() and before pamt_lock. */
	assert_int_equal(refcount_of(page_to_phys(a_page)), 0);
	assert_true(pamt_of(fx, page_to_phys(a_page)).dpamt_pair);

	in_use = tdxsim_pages_in_use(fx->sim);
	assert_int_equal(tdx_pamt_get(b_page, NULL), 0);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_PAMT_ADD,
					    TDX_HPA_RANGE_NOT_FREE | TDX_OPERAND_ID_RCX), 1);
	assert_int_equal(refcount_of(page_to_phys(b_page)), 1);
	/* The get's two pages went back to the allocator. */
	assert_int_equal(tdxsim_pages_in_use(fx->sim), in_use);

	pthread_mutex_lock(&p.m);
	p.release = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.m);
	assert_int_equal(pthread_join(a, NULL), 0);
	tdxsim_kernel_set_lock_hook(fx->sim, NULL, NULL);

	/* A saw the revived count: the pair is untouched and nobody tried to remove it. */
	assert_int_equal(refcount_of(page_to_phys(b_page)), 1);
	pi = pamt_of(fx, page_to_phys(b_page));
	assert_true(pi.dpamt_pair);
	assert_int_equal(pi.dpamt_pages[0], pair[0]);
	assert_int_equal(pi.dpamt_pages[1], pair[1]);
	assert_int_equal(leaf_calls(fx, TDH_PHYMEM_PAMT_REMOVE), 0);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_PAMT_REMOVE, TDX_SUCCESS), 0);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN), 0);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_PR_ERR), 0);

	/* The last user really removes the pair and frees its pages. */
	in_use = tdxsim_pages_in_use(fx->sim);
	tdx_pamt_put(b_page);
	assert_int_equal(refcount_of(page_to_phys(b_page)), 0);
	assert_false(pamt_of(fx, page_to_phys(b_page)).dpamt_pair);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_PAMT_REMOVE, TDX_SUCCESS), 1);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), in_use - TDX_DPAMT_ENTRY_PAGES);
	assert_false(pamt_of(fx, pair[0]).allocated);
	assert_false(pamt_of(fx, pair[1]).allocated);
	__free_page(a_page);
	__free_page(b_page);
}

/*
 * tdx_pamt_get() on a range without a pair when the allocator fails on the
 * first or the second page: -ENOMEM, no PAMT.ADD, no count, nothing leaked;
 * pages taken from a cache go back to it.
 */
static void test_pamt_get_enomem(void **state)
{
	struct kfx *fx = *state;
	struct page *page = alloc_page(GFP_KERNEL), *cached;
	char err[128];

	assert_non_null(page);
	assert_false(pamt_of(fx, page_to_phys(page)).dpamt_pair);

	assert_int_equal(tdxsim_fault_parse(fx->sim, "alloc:enomem:nth=1", err, sizeof(err)), 1);
	assert_int_equal(tdx_pamt_get(page, NULL), -ENOMEM);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	assert_int_equal(refcount_of(page_to_phys(page)), 0);
	assert_false(pamt_of(fx, page_to_phys(page)).dpamt_pair);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 1);
	tdxsim_fault_clear(fx->sim);

	/* The first page came, the second did not: the first is freed again. */
	assert_int_equal(tdxsim_fault_parse(fx->sim, "alloc:enomem:nth=2", err, sizeof(err)), 1);
	assert_int_equal(tdx_pamt_get(page, NULL), -ENOMEM);
	/* The rule fired on the 2nd allocation, so the 1st succeeded: it was freed. */
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	assert_int_equal(refcount_of(page_to_phys(page)), 0);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 1);
	tdxsim_fault_clear(fx->sim);

	/* One page in the cache, the allocator fails for the other. */
	assert_int_equal(tdx_pamt_cache_topup(&fx->cache, 1), 0);
	cached = fx->cache.pages[0];
	assert_int_equal(tdxsim_fault_parse(fx->sim, "alloc:enomem:nth=1", err, sizeof(err)), 1);
	assert_int_equal(tdx_pamt_get(page, &fx->cache), -ENOMEM);
	assert_int_equal(fx->cache.cnt, 1);
	assert_ptr_equal(fx->cache.pages[0], cached);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 2);
	/* A topup that cannot allocate keeps what it has. */
	tdxsim_fault_clear(fx->sim);
	assert_int_equal(tdxsim_fault_parse(fx->sim, "alloc:enomem:nth=1", err, sizeof(err)), 1);
	assert_int_equal(tdx_pamt_cache_topup(&fx->cache, 2), -ENOMEM);
	assert_int_equal(fx->cache.cnt, 1);
	tdxsim_fault_clear(fx->sim);

	assert_int_equal(leaf_calls(fx, TDH_PHYMEM_PAMT_ADD), 0);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_PAMT_ADD, TDX_SUCCESS), 0);
	assert_false(pamt_of(fx, page_to_phys(page)).dpamt_pair);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	__free_page(page);
}

/*
 * Without Dynamic PAMT (features0 bit 36 clear) tdx_pamt_get/put do nothing
 * and a 2M DEMOTE takes no pages from the cache; PAMT is split statically
 * (§4.1).
 */
static void test_demote_static_pamt(void **state)
{
	struct kfx *fx = *state;
	struct tdxsim_pamt_info pi;
	struct page *sp;
	u64 e1, e2;

	assert_false(tdx_supports_dynamic_pamt(tdx_get_sysinfo()));
	aug_2m(fx, true);
	block_track_kick(fx);
	assert_int_equal(tdx_pamt_cache_topup(&fx->cache, TDX_MIN_SPLIT_CACHE_SZ), 0);
	sp = alloc_page(GFP_KERNEL);
	assert_non_null(sp);
	assert_int_equal(tdx_pamt_get(sp, &fx->cache), 0);
	assert_int_equal(refcount_of(page_to_phys(sp)), 0);
	assert_status(tdh_mem_page_demote(&fx->td.td, GUEST_GPA, TDX_PS_2M, PHYS_PFN(fx->guest_hpa),
					  sp, &fx->cache, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(fx->cache.cnt, TDX_MIN_SPLIT_CACHE_SZ);
	assert_int_equal(refcount_of(fx->guest_hpa), 0);
	pi = pamt_of(fx, fx->guest_hpa + 7 * PAGE_SIZE);
	assert_int_equal(pi.level, TDX_PS_4K);
	assert_int_equal(pi.pt, PT_REG);
	assert_false(pi.dpamt_pair);
	assert_int_equal(sept_at(fx, GUEST_GPA + 7 * PAGE_SIZE, TDX_PS_4K).state,
			 SEPT_PUBLIC_MAPPED);
	assert_int_equal(leaf_calls(fx, TDH_PHYMEM_PAMT_ADD), 0);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_PAMT_ADD, TDX_SUCCESS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_current_sim, setup_td, teardown),
		cmocka_unit_test_setup_teardown(test_demote_success, setup_td, teardown),
		cmocka_unit_test_setup_teardown(test_demote_busy_then_retry, setup_td, teardown),
		cmocka_unit_test_setup_teardown(test_demote_pair_needs_saved_ret, setup_td, teardown),
		cmocka_unit_test_setup_teardown(test_split_retries_busy, setup_td, teardown),
		cmocka_unit_test_setup_teardown(test_demote_unblocked_bug, setup_td, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_size_mismatch, setup_td, teardown),
		cmocka_unit_test_setup_teardown(test_dpamt_put_get_race, setup_sim, teardown),
		cmocka_unit_test_setup_teardown(test_pamt_get_enomem, setup_sim, teardown),
		cmocka_unit_test_setup_teardown(test_demote_static_pamt, setup_td_nodpamt,
						teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
