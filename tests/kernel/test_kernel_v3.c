// SPDX-License-Identifier: GPL-2.0-only
/*
 * The huge-page series' wrappers in their v3 shape (folio + start_idx), our
 * own code written from their described behaviour (spec seamcall.md §7.1,
 * §7.2, §7.5, §7.6, §7.8), built against <tdxsim/kernel.h> only with the
 * strict flags: tdh_mem_page_aug(), tdh_mem_page_demote() with the split
 * cache and the DPAMT pair in R12/R13, tdx_quirk_reset_folio() (the shim's),
 * tdh_phymem_page_reclaim(), and KVM's tdx_reclaim_folio().
 *
 * The first half of the file is "tdx.c" and "kvm/vmx/tdx.c", with their
 * own #include lines resolved through include/tdxsim/compat; the tests
 * follow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

/* As tdx.c includes them: resolved by include/tdxsim/compat (or the system's UAPI). */
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/printk.h>
#include <linux/spinlock.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/minmax.h>
#include <linux/pfn.h>
#include <linux/align.h>
#include <asm/page.h>
#include <asm/tdx.h>

#include "../lib/assert_status.h"

/* ---- the series' own type (asm/tdx.h of v3): the per-VM split cache ---- */
struct tdx_prealloc {
	struct list_head page_list;
	int cnt;
};

/* ---- "arch/x86/virt/vmx/tdx/tdx.c" ---- */

/* The kernel's per-2MB count of 4K users of a DPAMT pair (§4.4). */
static atomic_t *pamt_refcounts;

static atomic_t *tdx_find_pamt_refcount(unsigned long pfn)
{
	return &pamt_refcounts[pfn / PTRS_PER_PMD];
}

/* The registers as an array from @reg on, as the TDX ABI lists pages. */
#define MAX_TDX_ARG_SIZE(reg)	((sizeof(struct tdx_module_args) -		\
				  offsetof(struct tdx_module_args, reg)) / sizeof(u64))
#define TDX_ARG_INDEX(reg)	(offsetof(struct tdx_module_args, reg) / sizeof(u64))

static u64 *dpamt_args_array_ptr_rdx(struct tdx_module_array_args *args)
{
	WARN_ON_ONCE(tdx_dpamt_entry_pages() > (int)MAX_TDX_ARG_SIZE(rdx));
	return &args->args_array[TDX_ARG_INDEX(rdx)];
}

static u64 *dpamt_args_array_ptr_r12(struct tdx_module_array_args *args)
{
	WARN_ON_ONCE(tdx_dpamt_entry_pages() > (int)MAX_TDX_ARG_SIZE(r12));
	return &args->args_array[TDX_ARG_INDEX(r12)];
}

/* A page for a pair: the cache first, else the allocator (which may sleep). */
static struct page *alloc_dpamt_page(struct tdx_prealloc *prealloc)
{
	struct page *page = list_first_entry_or_null(&prealloc->page_list, struct page, lru);

	if (page) {
		list_del(&page->lru);
		prealloc->cnt--;
		return page;
	}
	return alloc_page(GFP_KERNEL_ACCOUNT);
}

static int alloc_pamt_array(u64 *pa_array, struct tdx_prealloc *prealloc)
{
	int i;

	for (i = 0; i < tdx_dpamt_entry_pages(); i++) {
		struct page *page = alloc_dpamt_page(prealloc);

		if (!page)
			goto err;
		pa_array[i] = page_to_phys(page);
	}
	return 0;
err:
	while (i--)
		__free_page(phys_to_page(pa_array[i]));
	return -ENOMEM;
}

static void free_pamt_array(u64 *pa_array)
{
	for (int i = 0; i < tdx_dpamt_entry_pages(); i++) {
		tdx_quirk_reset_paddr(pa_array[i], PAGE_SIZE);
		__free_page(phys_to_page(pa_array[i]));
	}
}

/* PAMT.ADD of @page's 2MB range with the pair in RDX/R8 (§2.14). */
static u64 tdh_phymem_pamt_add(struct page *page, u64 *pamt_pa_array)
{
	struct tdx_module_array_args args = {
		.args.rcx = ALIGN_DOWN(page_to_phys(page), PMD_SIZE) | TDX_PS_2M,
	};

	memcpy(dpamt_args_array_ptr_rdx(&args), pamt_pa_array,
	       tdx_dpamt_entry_pages() * sizeof(u64));
	return seamcall(TDH_PHYMEM_PAMT_ADD, &args.args);
}

static u64 tdh_mem_sept_add(struct tdx_td *td, u64 gpa, int level, struct page *page,
			    u64 *ext_err1, u64 *ext_err2)
{
	struct tdx_module_args args = {
		.rcx = gpa | level,
		.rdx = tdx_tdr_pa(td),
		.r8 = page_to_phys(page),
	};
	u64 ret;

	tdx_clflush_page(page);
	ret = seamcall_ret(TDH_MEM_SEPT_ADD, &args);
	*ext_err1 = args.rcx;
	*ext_err2 = args.rdx;
	return ret;
}

/* §7.1: the guest memory is @folio's pages from @start_idx. */
static u64 tdh_mem_page_aug(struct tdx_td *td, u64 gpa, int level, struct folio *folio,
			    unsigned long start_idx, u64 *ext_err1, u64 *ext_err2)
{
	struct tdx_module_args args = {
		.rcx = gpa | level,
		.rdx = tdx_tdr_pa(td),
		.r8 = page_to_phys(folio_page(folio, start_idx)),
	};
	unsigned long npages = 1UL << (level * PTE_SHIFT);
	u64 ret;

	if (start_idx + npages > (unsigned long)folio_nr_pages(folio))
		return TDX_OPERAND_INVALID;
	for (unsigned long i = 0; i < npages; i++)
		tdx_clflush_page(folio_page(folio, start_idx + i));
	ret = seamcall_ret(TDH_MEM_PAGE_AUG, &args);
	*ext_err1 = args.rcx;
	*ext_err2 = args.rdx;
	return ret;
}

static u64 tdh_mem_range_block(struct tdx_td *td, u64 gpa, int level, u64 *ext_err1,
			       u64 *ext_err2)
{
	struct tdx_module_args args = { .rcx = gpa | level, .rdx = tdx_tdr_pa(td) };
	u64 ret = seamcall_ret(TDH_MEM_RANGE_BLOCK, &args);

	*ext_err1 = args.rcx;
	*ext_err2 = args.rdx;
	return ret;
}

static u64 tdh_mem_track(struct tdx_td *td)
{
	struct tdx_module_args args = { .rcx = tdx_tdr_pa(td) };

	return seamcall(TDH_MEM_TRACK, &args);
}

/*
 * §7.2, v3: a 2MB DEMOTE takes the guest range's new pair in R12/R13 from
 * the split cache; on success the range has 512 4K users.
 */
static u64 tdh_mem_page_demote(struct tdx_td *td, u64 gpa, int level, struct folio *guest_folio,
			       unsigned long guest_start_idx, struct page *new_sept_page,
			       struct tdx_prealloc *prealloc, u64 *ext_err1, u64 *ext_err2)
{
	bool dpamt = tdx_supports_dynamic_pamt(&tdx_sysinfo) && level == TDX_PS_2M;
	u64 guest_memory_pamt_page[MAX_TDX_ARG_SIZE(r12)];
	struct tdx_module_array_args args = {
		.args.rcx = gpa | level,
		.args.rdx = tdx_tdr_pa(td),
		.args.r8 = page_to_phys(new_sept_page),
	};
	unsigned long guest_base_pfn = 0;
	u64 ret;

	if (!tdx_supports_demote_nointerrupt(&tdx_sysinfo))
		return TDX_SW_ERROR;

	if (dpamt) {
		unsigned long npages = 1UL << (level * PTE_SHIFT);

		guest_base_pfn = page_to_pfn(folio_page(guest_folio, guest_start_idx));
		if (guest_start_idx + npages > (unsigned long)folio_nr_pages(guest_folio) ||
		    !IS_ALIGNED(guest_base_pfn, npages))
			return TDX_OPERAND_INVALID;
		if (alloc_pamt_array(guest_memory_pamt_page, prealloc))
			return TDX_SW_ERROR;
		memcpy(dpamt_args_array_ptr_r12(&args), guest_memory_pamt_page,
		       tdx_dpamt_entry_pages() * sizeof(u64));
	}

	tdx_clflush_page(new_sept_page);
	ret = seamcall_saved_ret(TDH_MEM_PAGE_DEMOTE, &args.args);
	*ext_err1 = args.args.rcx;
	*ext_err2 = args.args.rdx;

	if (dpamt) {
		if (ret)
			free_pamt_array(guest_memory_pamt_page);
		else
			WARN_ON_ONCE(atomic_cmpxchg_release(tdx_find_pamt_refcount(guest_base_pfn),
							    0, PTRS_PER_PMD));
	}
	return ret;
}
EXPORT_SYMBOL_GPL(tdh_mem_page_demote);

/* §7.6: a reclaim of another size than asked still happened: TDX_SW_ERROR. */
static u64 tdh_phymem_page_reclaim(struct folio *folio, unsigned long start_idx,
				   unsigned long npages, u64 *tdx_pt, u64 *tdx_owner,
				   u64 *tdx_size)
{
	struct tdx_module_args args = {
		.rcx = page_to_phys(folio_page(folio, start_idx)),
	};
	u64 ret;

	if (start_idx + npages > (unsigned long)folio_nr_pages(folio))
		return TDX_OPERAND_INVALID;
	ret = seamcall_ret(TDH_PHYMEM_PAGE_RECLAIM, &args);
	*tdx_pt = args.rcx;
	*tdx_owner = args.rdx;
	*tdx_size = args.r8;
	if (!ret && npages != 1UL << (*tdx_size * PTE_SHIFT))
		return TDX_SW_ERROR;
	return ret;
}

/* ---- "arch/x86/kvm/vmx/tdx.c" ---- */

struct kvm_tdx {
	struct tdx_td td;
	u16 hkid;
	struct tdxsim_td *kvm;		/* stands in for struct kvm */
	spinlock_t prealloc_split_cache_lock;
	struct tdx_prealloc prealloc_split_cache;
};

static int tdx_min_split_cache_sz(void)
{
	return tdx_dpamt_entry_pages() * 2;
}

/* §7.8: allocate outside the lock, add under it. */
static int tdx_topup_split_cache(struct kvm_tdx *kvm_tdx)
{
	while (READ_ONCE(kvm_tdx->prealloc_split_cache.cnt) < tdx_min_split_cache_sz()) {
		struct page *page = alloc_page(GFP_KERNEL_ACCOUNT);

		if (!page)
			return -ENOMEM;
		spin_lock(&kvm_tdx->prealloc_split_cache_lock);
		list_add(&page->lru, &kvm_tdx->prealloc_split_cache.page_list);
		kvm_tdx->prealloc_split_cache.cnt++;
		spin_unlock(&kvm_tdx->prealloc_split_cache_lock);
	}
	return 0;
}

static void tdx_free_split_cache(struct kvm_tdx *kvm_tdx)
{
	struct page *page, *tmp;

	list_for_each_entry_safe(page, tmp, &kvm_tdx->prealloc_split_cache.page_list, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
	kvm_tdx->prealloc_split_cache.cnt = 0;
}

/* DEMOTE under the cache lock, as v3's tdx_sept_split_private_spte() does. */
static int tdx_demote_locked(struct kvm_tdx *kvm_tdx, gpa_t gpa, struct folio *folio,
			     struct page *new_sept_page)
{
	u64 err, entry = 0, level_state = 0;

	spin_lock(&kvm_tdx->prealloc_split_cache_lock);
	err = tdh_mem_page_demote(&kvm_tdx->td, gpa, TDX_PS_2M, folio, 0, new_sept_page,
				  &kvm_tdx->prealloc_split_cache, &entry, &level_state);
	spin_unlock(&kvm_tdx->prealloc_split_cache_lock);
	if (TDX_BUG_ON_2(err, TDH_MEM_PAGE_DEMOTE, entry, level_state, kvm_tdx->kvm))
		return -EIO;
	return 0;
}

/* §7.6: no BUSY expected once the HKID is released; any error bugs the VM. */
static int tdx_reclaim_folio(struct folio *folio, unsigned long start_idx,
			     unsigned long npages, bool reset)
{
	/* Zeroed: the wrapper's early returns leave them unwritten, and they are printed. */
	u64 err, tdx_pt = 0, tdx_owner = 0, tdx_size = 0;

	err = tdh_phymem_page_reclaim(folio, start_idx, npages, &tdx_pt, &tdx_owner, &tdx_size);
	if (TDX_BUG_ON_3(err, TDH_PHYMEM_PAGE_RECLAIM, tdx_pt, tdx_owner, tdx_size, NULL))
		return -EIO;
	if (reset)
		tdx_quirk_reset_folio(folio, start_idx, npages);
	return 0;
}

/* ---- the tests ---- */

#define GUEST_GPA	0x40000000ULL

struct v3fx {
	struct tdxsim *sim;
	struct tdxsim_td *std;
	struct kvm_tdx kvm_tdx;
	struct folio *guest;
};

/* Test scaffolding: a pair for @page's 2MB range if it has none (KVM's tdx_pamt_get()). */
static void ensure_pair(struct v3fx *fx, struct page *page)
{
	struct tdxsim_pamt_info pi;
	u64 pair[2];

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, page_to_phys(page), &pi), 0);
	if (pi.dpamt_pair)
		return;
	assert_int_equal(alloc_pamt_array(pair, NULL), 0);
	assert_status(tdh_phymem_pamt_add(page, pair), TDX_SUCCESS);
}

static int setup(void **state)
{
	struct v3fx *fx = calloc(1, sizeof(*fx));
	struct tdxsim_config cfg;
	u64 st, e1, e2;

	assert_non_null(fx);
	tdxsim_config_init(&cfg);
	cfg.mem_size = 64ULL << 20;
	fx->sim = tdxsim_create(&cfg);
	assert_non_null(fx->sim);
	tdxsim_kernel_set_current(fx->sim);
	pamt_refcounts = calloc((cfg.mem_base + cfg.mem_size) >> PMD_SHIFT, sizeof(atomic_t));
	assert_non_null(pamt_refcounts);
	fx->std = tdxsim_td_create(fx->sim, &st);
	assert_non_null(fx->std);
	assert_non_null(tdxsim_vcpu_create(fx->std, &st));
	assert_status(tdxsim_td_finalize(fx->std), TDX_SUCCESS);
	fx->kvm_tdx.td.tdr_page = phys_to_page(fx->std->tdr_pa);
	fx->kvm_tdx.hkid = fx->std->hkid;
	fx->kvm_tdx.kvm = fx->std;
	spin_lock_init(&fx->kvm_tdx.prealloc_split_cache_lock);
	INIT_LIST_HEAD(&fx->kvm_tdx.prealloc_split_cache.page_list);

	/* The S-EPT levels above a 2MB leaf at GUEST_GPA. */
	for (int level = 3; level > TDX_PS_2M; level--) {
		struct page *sp = alloc_page(GFP_KERNEL);

		assert_non_null(sp);
		ensure_pair(fx, sp);
		assert_status(tdh_mem_sept_add(&fx->kvm_tdx.td,
					       ALIGN_DOWN(GUEST_GPA, tdx_level_size(level)), level,
					       sp, &e1, &e2), TDX_SUCCESS);
	}
	fx->guest = folio_alloc(GFP_KERNEL, HPAGE_PMD_ORDER);
	assert_non_null(fx->guest);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct v3fx *fx = *state;
	struct tdxsim_pamt_info pi;
	struct tdxsim_report rep;
	int ret = 0;

	tdx_free_split_cache(&fx->kvm_tdx);
	if (tdxsim_td_teardown(fx->std, TDXSIM_TEARDOWN_FREE_PAMT)) {
		fprintf(stderr, "TD teardown failed\n");
		ret = -1;
	}
	/* Teardown reclaims and frees the guest pages the TD still owned. */
	if (tdxsim_pamt_lookup(fx->sim, page_to_phys(&fx->guest->page), &pi) == 0 && pi.allocated)
		folio_put(fx->guest);
	if (tdxsim_check(fx->sim, &rep)) {
		tdxsim_report_print(&rep, stderr);
		ret = -1;
	}
	if (tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN) ||
	    tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP)) {
		fprintf(stderr, "unexpected events: warn %u lockdep %u\n",
			tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN),
			tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP));
		ret = -1;
	}
	free(pamt_refcounts);
	pamt_refcounts = NULL;
	tdxsim_kernel_set_current(NULL);
	tdxsim_destroy(fx->sim);
	free(fx);
	return ret;
}

static void aug_block_track(struct v3fx *fx)
{
	u64 e1, e2;

	/* A 2MB mapping needs 512 pages of the folio from start_idx. */
	assert_status(tdh_mem_page_aug(&fx->kvm_tdx.td, GUEST_GPA, TDX_PS_2M, fx->guest, 1, &e1,
				       &e2), TDX_OPERAND_INVALID);
	assert_int_equal(tdxsim_stats_leaf(fx->sim, TDH_MEM_PAGE_AUG,
					   &(struct tdxsim_leaf_stats){ 0 }), 0);
	assert_status(tdh_mem_page_aug(&fx->kvm_tdx.td, GUEST_GPA, TDX_PS_2M, fx->guest, 0, &e1,
				       &e2), TDX_SUCCESS);
	assert_status(tdh_mem_range_block(&fx->kvm_tdx.td, GUEST_GPA, TDX_PS_2M, &e1, &e2),
		      TDX_SUCCESS);
	assert_status(tdh_mem_track(&fx->kvm_tdx.td), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->std);
}

static struct page *new_sept_page(struct v3fx *fx)
{
	struct page *sp = alloc_page(GFP_KERNEL);

	assert_non_null(sp);
	ensure_pair(fx, sp);
	return sp;
}

/* The v3 split: cache topped up outside the lock, DEMOTE under it, pair from the cache. */
static void test_v3_demote_from_split_cache(void **state)
{
	struct v3fx *fx = *state;
	struct tdxsim_pamt_info pi;
	struct page *sp, *first;
	u64 pair0;

	aug_block_track(fx);
	assert_int_equal(tdx_topup_split_cache(&fx->kvm_tdx), 0);
	assert_int_equal(fx->kvm_tdx.prealloc_split_cache.cnt, 4);
	first = list_first_entry(&fx->kvm_tdx.prealloc_split_cache.page_list, struct page, lru);
	pair0 = page_to_phys(first);
	sp = new_sept_page(fx);

	assert_int_equal(tdx_demote_locked(&fx->kvm_tdx, GUEST_GPA, fx->guest, sp), 0);
	assert_int_equal(fx->kvm_tdx.prealloc_split_cache.cnt, 2);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, folio_pfn(fx->guest) << PAGE_SHIFT, &pi), 0);
	assert_true(pi.dpamt_pair);
	assert_int_equal(pi.dpamt_pages[0], pair0);
	assert_int_equal(pi.dpamt_count, PTRS_PER_PMD);
	assert_int_equal(atomic_read(tdx_find_pamt_refcount(folio_pfn(fx->guest))), PTRS_PER_PMD);
	/* Only what the cache held was used, under the lock: nothing slept. */
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC), 0);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_TDX_BUG), 0);
}

/*
 * A split that finds the cache empty falls back to alloc_page(GFP_KERNEL_ACCOUNT)
 * inside alloc_dpamt_page(), under the cache spinlock: the DEMOTE works, and
 * the shim reports the sleep in atomic context the kernel would.
 */
static void test_v3_demote_empty_cache_sleeps_in_atomic(void **state)
{
	struct v3fx *fx = *state;
	struct tdxsim_kernel_event ev;
	struct page *sp;

	aug_block_track(fx);
	sp = new_sept_page(fx);
	assert_int_equal(tdx_demote_locked(&fx->kvm_tdx, GUEST_GPA, fx->guest, sp), 0);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC),
			 tdx_dpamt_entry_pages());
	assert_int_equal(tdxsim_kernel_last_event(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC, &ev), 0);
	assert_string_equal(ev.file, __FILE__);
	assert_non_null(strstr(ev.msg, "sleeping function called from invalid context"));
}

/* §7.6, F6: after the HKID is released, reclaim the 2MB guest folio. */
static void test_v3_reclaim_folio(void **state)
{
	struct v3fx *fx = *state;
	struct tdx_module_args a;
	struct tdxsim_pamt_info pi;
	struct tdxsim_kernel_event ev;
	u64 e1, e2;

	assert_status(tdh_mem_page_aug(&fx->kvm_tdx.td, GUEST_GPA, TDX_PS_2M, fx->guest, 0, &e1,
				       &e2), TDX_SUCCESS);
	assert_status(tdxsim_td_flush_vcpus(fx->std), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = fx->std->tdr_pa };
	assert_status(seamcall(TDH_MNG_VPFLUSHDONE, &a), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = 0 };
	assert_status(seamcall(TDH_PHYMEM_CACHE_WB, &a), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = fx->std->tdr_pa };
	assert_status(seamcall(TDH_MNG_KEY_FREEID, &a), TDX_SUCCESS);

	/* Beyond the folio: refused before any SEAMCALL, and the VM is bugged. */
	assert_int_equal(tdx_reclaim_folio(fx->guest, 1, PTRS_PER_PMD, true), -EIO);
	assert_int_equal(tdxsim_kernel_last_event(fx->sim, TDXSIM_KEV_TDX_BUG, &ev), 0);
	assert_non_null(strstr(ev.msg, "TDX_OPERAND_INVALID"));
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_PAGE_RECLAIM, TDX_SUCCESS), 0);

	assert_int_equal(tdx_reclaim_folio(fx->guest, 0, PTRS_PER_PMD, true), 0);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_PAGE_RECLAIM, TDX_SUCCESS), 1);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, page_to_phys(&fx->guest->page), &pi), 0);
	assert_int_equal(pi.pt, PT_NDA);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_TDX_BUG), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v3_demote_from_split_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v3_demote_empty_cache_sleeps_in_atomic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_v3_reclaim_folio, setup, teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
