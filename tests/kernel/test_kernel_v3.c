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

/*
 * The Dynamic-PAMT leaves read the pair as consecutive registers of struct
 * tdx_module_args: from RDX on for PAMT.ADD (§2.14), from R12 on for
 * DEMOTE (§7.2).  put_pair_at() writes the pair's addresses register by
 * register from @reg, refusing (with a warning) a pair that would run past
 * the last register.
 */
#define DPAMT_PAIR_MAX	2	/* tdx_dpamt_entry_pages() is 2 or 0 */

static void put_pair_from(struct tdx_module_array_args *regs, size_t first_reg,
			  const u64 *pair_pa)
{
	size_t n = (size_t)tdx_dpamt_entry_pages();

	if (WARN_ON_ONCE(n > DPAMT_PAIR_MAX || first_reg + n > ARRAY_SIZE(regs->args_array)))
		return;
	for (size_t k = 0; k < n; k++)
		regs->args_array[first_reg + k] = pair_pa[k];
}

#define put_pair_at(regs, reg, pair_pa)						\
	put_pair_from((regs), offsetof(struct tdx_module_args, reg) / sizeof(u64), (pair_pa))

/*
 * One page of a pair: v3 takes it from the per-VM split cache when there
 * is one and it is not empty, else from the page allocator, which may sleep.
 */
static struct page *alloc_dpamt_page(struct tdx_prealloc *cache)
{
	struct page *page = NULL;

	if (cache)
		page = list_first_entry_or_null(&cache->page_list, struct page, lru);
	if (!page)
		return alloc_page(GFP_KERNEL_ACCOUNT);
	list_del(&page->lru);
	cache->cnt--;
	return page;
}

/* Fill @pair_pa with the pair's physical addresses; on failure nothing is kept. */
static int alloc_pamt_array(u64 *pair_pa, struct tdx_prealloc *cache)
{
	int n = tdx_dpamt_entry_pages();
	int got;

	for (got = 0; got < n; got++) {
		struct page *page = alloc_dpamt_page(cache);

		if (!page)
			break;
		pair_pa[got] = page_to_phys(page);
	}
	if (got == n)
		return 0;
	while (got > 0)
		__free_page(phys_to_page(pair_pa[--got]));
	return -ENOMEM;
}

/* A pair the module did not take: reset (§4.4 quirk) and give back each page. */
static void free_pamt_array(u64 *pair_pa)
{
	int n = tdx_dpamt_entry_pages();

	for (int k = 0; k < n; k++) {
		u64 pa = pair_pa[k];

		tdx_quirk_reset_paddr(pa, PAGE_SIZE);
		__free_page(phys_to_page(pa));
	}
}

/* PAMT.ADD of @page's 2MB range with the pair in RDX/R8 (§2.14). */
static u64 tdh_phymem_pamt_add(struct page *page, u64 *pamt_pa_array)
{
	struct tdx_module_array_args regs = { };

	regs.args.rcx = ALIGN_DOWN(page_to_phys(page), PMD_SIZE) | TDX_PS_2M;
	put_pair_at(&regs, rdx, pamt_pa_array);
	return seamcall(TDH_PHYMEM_PAMT_ADD, &regs.args);
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

/* Does @folio hold @n pages from index @idx on? */
static bool folio_has_range(struct folio *folio, unsigned long idx, unsigned long n)
{
	return idx + n <= (unsigned long)folio_nr_pages(folio);
}

/* §7.1: the guest memory is @n pages of @folio from @idx: flush each one. */
static u64 tdh_mem_page_aug(struct tdx_td *td, u64 gpa, int level, struct folio *folio,
			    unsigned long idx, u64 *entry, u64 *level_state)
{
	/* tdx_level_pages() (tdx_api.h): 1, 512 or 512 * 512. */
	unsigned long n = tdx_level_pages(level);
	struct tdx_module_args regs;
	u64 status;

	if (!folio_has_range(folio, idx, n))
		return TDX_OPERAND_INVALID;
	for (unsigned long k = idx; k < idx + n; k++)
		tdx_clflush_page(folio_page(folio, k));

	regs = (struct tdx_module_args){ .rcx = gpa | level, .rdx = tdx_tdr_pa(td) };
	regs.r8 = page_to_phys(folio_page(folio, idx));
	status = seamcall_ret(TDH_MEM_PAGE_AUG, &regs);
	*entry = regs.rcx;
	*level_state = regs.rdx;
	return status;
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
 * §7.2, v3: refused outright on a module that may interrupt a DEMOTE.  A
 * 2MB DEMOTE with Dynamic PAMT hands the guest range a new pair in R12/R13,
 * taken from @cache; the module keeps it on success, when the range gets
 * its 512 4K users, and the pages go back on any error.
 */
static u64 tdh_mem_page_demote(struct tdx_td *td, u64 gpa, int level, struct folio *folio,
			       unsigned long idx, struct page *sept_page,
			       struct tdx_prealloc *cache, u64 *entry, u64 *level_state)
{
	bool may_interrupt = !tdx_supports_demote_nointerrupt(&tdx_sysinfo);
	struct tdx_module_array_args regs = { };
	u64 pair_pa[DPAMT_PAIR_MAX];
	unsigned long range_pfn = 0;
	bool with_pair;
	u64 status;

	if (may_interrupt)
		return TDX_SW_ERROR;

	with_pair = level == TDX_PS_2M && tdx_supports_dynamic_pamt(&tdx_sysinfo);
	if (with_pair) {
		unsigned long n = tdx_level_pages(level);

		if (!folio_has_range(folio, idx, n))
			return TDX_OPERAND_INVALID;
		range_pfn = page_to_pfn(folio_page(folio, idx));
		if (!IS_ALIGNED(range_pfn, n))
			return TDX_OPERAND_INVALID;
		if (alloc_pamt_array(pair_pa, cache))
			return TDX_SW_ERROR;
		put_pair_at(&regs, r12, pair_pa);
	}

	regs.args.rcx = gpa | level;
	regs.args.rdx = tdx_tdr_pa(td);
	regs.args.r8 = page_to_phys(sept_page);
	tdx_clflush_page(sept_page);
	status = seamcall_saved_ret(TDH_MEM_PAGE_DEMOTE, &regs.args);
	*entry = regs.args.rcx;
	*level_state = regs.args.rdx;
	if (!with_pair)
		return status;

	if (status != TDX_SUCCESS) {
		free_pamt_array(pair_pa);
		return status;
	}
	/* The range had no pair, so no 4K users: 0 -> 512, anything else is a bug. */
	WARN_ON_ONCE(atomic_cmpxchg_release(tdx_find_pamt_refcount(range_pfn), 0,
					    PTRS_PER_PMD) != 0);
	return status;
}
EXPORT_SYMBOL_GPL(tdh_mem_page_demote);

/*
 * §7.6: reclaim @npages of @folio from @idx.  The module reports the page
 * type, owner and size it reclaimed; a size other than asked still
 * reclaimed the page, and is reported as TDX_SW_ERROR.
 */
static u64 tdh_phymem_page_reclaim(struct folio *folio, unsigned long idx,
				   unsigned long npages, u64 *page_type, u64 *owner,
				   u64 *page_size)
{
	struct tdx_module_args regs = { };
	u64 status;

	if (!folio_has_range(folio, idx, npages))
		return TDX_OPERAND_INVALID;
	regs.rcx = page_to_phys(folio_page(folio, idx));
	status = seamcall_ret(TDH_PHYMEM_PAGE_RECLAIM, &regs);
	*page_type = regs.rcx;
	*owner = regs.rdx;
	*page_size = regs.r8;
	if (status == TDX_SUCCESS && tdx_level_pages((int)*page_size) != npages)
		return TDX_SW_ERROR;
	return status;
}

/* ---- "arch/x86/kvm/vmx/tdx.c" ---- */

struct kvm_tdx {
	struct tdx_td td;
	u16 hkid;
	struct tdxsim_td *kvm;		/* stands in for struct kvm */
	spinlock_t prealloc_split_cache_lock;
	struct tdx_prealloc prealloc_split_cache;
};

/* A 2MB split needs two pairs: the new S-EPT page's and the guest range's (§7.8). */
static int tdx_min_split_cache_sz(void)
{
	return tdx_dpamt_entry_pages() * 2;
}

/* §7.8: a page is allocated with no lock held, then added under the cache's lock. */
static void split_cache_add(struct kvm_tdx *kvm_tdx, struct page *page)
{
	struct tdx_prealloc *cache = &kvm_tdx->prealloc_split_cache;
	spinlock_t *lock = &kvm_tdx->prealloc_split_cache_lock;

	spin_lock(lock);
	cache->cnt++;
	list_add(&page->lru, &cache->page_list);
	spin_unlock(lock);
}

static int tdx_topup_split_cache(struct kvm_tdx *kvm_tdx)
{
	const int want = tdx_min_split_cache_sz();

	while (READ_ONCE(kvm_tdx->prealloc_split_cache.cnt) < want) {
		struct page *page = alloc_page(GFP_KERNEL_ACCOUNT);

		if (!page)
			return -ENOMEM;
		split_cache_add(kvm_tdx, page);
	}
	return 0;
}

static void tdx_free_split_cache(struct kvm_tdx *kvm_tdx)
{
	struct tdx_prealloc *cache = &kvm_tdx->prealloc_split_cache;
	struct page *page;

	while ((page = list_first_entry_or_null(&cache->page_list, struct page, lru))) {
		list_del(&page->lru);
		__free_page(page);
	}
	cache->cnt = 0;
}

/*
 * The DEMOTE runs with the split cache's lock held, as v3's
 * tdx_sept_split_private_spte() does, so the pair can only come from the
 * cache without sleeping.
 */
static int tdx_demote_locked(struct kvm_tdx *kvm_tdx, gpa_t gpa, struct folio *folio,
			     struct page *new_sept_page)
{
	struct tdx_prealloc *cache = &kvm_tdx->prealloc_split_cache;
	spinlock_t *lock = &kvm_tdx->prealloc_split_cache_lock;
	u64 status, entry = 0, level_state = 0;

	spin_lock(lock);
	status = tdh_mem_page_demote(&kvm_tdx->td, gpa, TDX_PS_2M, folio, 0, new_sept_page,
				     cache, &entry, &level_state);
	spin_unlock(lock);
	return TDX_BUG_ON_2(status, TDH_MEM_PAGE_DEMOTE, entry, level_state, kvm_tdx->kvm) ?
	       -EIO : 0;
}

/*
 * §7.6: reclaim runs after the HKID is released, so no BUSY is expected;
 * any error bugs the VM.  @reset: also reset the pages (the #MC quirk).
 */
static int tdx_reclaim_folio(struct folio *folio, unsigned long idx, unsigned long npages,
			     bool reset)
{
	/* Zeroed: printed below even when the wrapper returned before writing them. */
	u64 page_type = 0, owner = 0, page_size = 0;
	u64 status = tdh_phymem_page_reclaim(folio, idx, npages, &page_type, &owner,
					     &page_size);

	if (TDX_BUG_ON_3(status, TDH_PHYMEM_PAGE_RECLAIM, page_type, owner, page_size, NULL))
		return -EIO;
	if (!reset)
		return 0;
	tdx_quirk_reset_folio(folio, idx, npages);
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
