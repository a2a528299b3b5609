// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TDX core's half of KVM's TDX backend (arch/x86/virt/vmx/tdx/tdx.c's
 * role): the SEAMCALL wrappers KVM calls and the Dynamic-PAMT refcounting,
 * kernel-shaped C built only against <tdxsim/kernel.h> and issuing every
 * SEAMCALL through seamcall*() on the thread's current simulator.
 * Behaviour: spec seamcall.md §4.4, §7.1-§7.6.  (Moved here from
 * tests/kernel/tdx_example.c: one copy, used by tests/kernel and sim/tdx.)
 */
#include <errno.h>
#include <stdlib.h>

#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/tdx.h>

#include "tdx_internal.h"

/*
 * The checker's ledger (<tdxsim-kvm/check.h>) learns each SEAMCALL's GPA and
 * page (for the seq a violation names) and each page's moves (provenance).
 * Not the kernel's: the kernel has no such bookkeeping.
 */
#define prov(ev, page, n, pool, gfn, level)					\
	kvm_prov_note((ev), page_to_phys(page), (n), (pool), (gfn), (level), __func__)

static enum kvm_page_pool cache_pool(const struct tdx_pamt_cache *cache)
{
	return cache && cache->pool ? cache->pool : KVM_POOL_PAMT_PAIR;
}

/* The TDX level of a GPA-leaf call as a KVM level (TDX_PS_4K is PG_LEVEL_4K). */
static int kvm_level(int tdx_level)
{
	return tdx_level + 1;
}

/* One count per 2MB of physical address space, indexed by pfn >> 9 (§4.4). */
static atomic_t *pamt_refcounts;
static unsigned long nr_pamt_refcounts;

/* Serialises PAMT.ADD/PAMT.REMOVE against the refcount reaching or leaving 0. */
DEFINE_SPINLOCK(pamt_lock);

int tdx_pamt_refcounts_init(void)
{
	struct tdxsim *sim = tdxsim_kernel_current();
	const struct tdxsim_config *cfg;

	if (!sim)
		return -ENODEV;
	cfg = tdxsim_get_config(sim);

	/* vmalloc() in the kernel; the array covers [0, end of the TDMR). */
	nr_pamt_refcounts = (cfg->mem_base + cfg->mem_size) >> PMD_SHIFT;
	pamt_refcounts = calloc(nr_pamt_refcounts, sizeof(*pamt_refcounts));
	if (!pamt_refcounts)
		return -ENOMEM;
	return 0;
}

void tdx_pamt_refcounts_free(void)
{
	free(pamt_refcounts);
	pamt_refcounts = NULL;
	nr_pamt_refcounts = 0;
}

atomic_t *tdx_find_pamt_refcount(u64 pfn)
{
	u64 idx = pfn >> (PMD_SHIFT - PAGE_SHIFT);

	/* Memory beyond the TDMRs has no PAMT, so no count (a VMM's no-TDMR slot). */
	return idx < nr_pamt_refcounts ? &pamt_refcounts[idx] : NULL;
}

/* PAMT.ADD/REMOVE take the 2MB range of the page, at level 2M (§2.14). */
static u64 pamt_2mb_arg(struct page *page)
{
	return ALIGN_DOWN(page_to_phys(page), PMD_SIZE) | TDX_PS_2M;
}

/*
 * The S-EPT leaves share one register layout (spec §0.2): RCX = GPA | level,
 * RDX = TD, and on a walk/state error RCX/RDX describe the entry found.
 */
/*
 * I9 (spec kvm-model.md §5): BLOCK, DEMOTE and REMOVE change a mirrored
 * S-EPT entry the way only a write-locked path may: never from a thread
 * holding mmu_lock for read.  Not the kernel's; the checker's.
 */
static void tdx_check_not_shared(u64 leaf, u64 gpa, int level)
{
	bool shared;
	struct kvm *kvm = kvm_mmu_lock_owner(&shared);

	if (kvm && shared)
		kvm_check_record(kvm, KVM_INV_SHARED_SPLIT, gpa >> PAGE_SHIFT, kvm_level(level), 0,
				 0, "%s under the shared mmu_lock", tdxsim_leaf_name(leaf));
}

static u64 tdh_mem_gpa_call(u64 leaf, struct tdx_td *td, u64 gpa, int level, u64 r8,
			    u64 *ext_entry, u64 *ext_level_state)
{
	struct tdx_module_args regs = { .r8 = r8 };
	u64 status;

	if (leaf == TDH_MEM_RANGE_BLOCK || leaf == TDH_MEM_PAGE_REMOVE)
		tdx_check_not_shared(leaf, gpa, level);

	regs.rcx = gpa | level;
	regs.rdx = tdx_tdr_pa(td);
	status = seamcall_ret(leaf, &regs);
	*ext_entry = regs.rcx;
	*ext_level_state = regs.rdx;
	kvm_check_note_seamcall(gpa, level, r8, level);
	return status;
}

/* §2.2: R8 is the new S-EPT page. */
u64 tdh_mem_sept_add(struct tdx_td *td, u64 gpa, int level, struct page *page,
		     u64 *ext_entry, u64 *ext_level_state)
{
	u64 status;

	tdx_clflush_page(page);
	status = tdh_mem_gpa_call(TDH_MEM_SEPT_ADD, td, gpa, level, page_to_phys(page),
				  ext_entry, ext_level_state);
	/* The new table serves the entry at @level: its whole range. */
	if (status == TDX_SUCCESS) {
		prov(KVM_PROV_TO_MODULE, page, 1, KVM_POOL_OTHER, gpa >> PAGE_SHIFT,
		     kvm_level(level));
		tdx_note_mapped(td, gpa >> PAGE_SHIFT, kvm_level(level), 1);	/* I8 */
	}
	return status;
}

/* §7.1: R8 is the guest page, 2MB-aligned for a 2M mapping. */
u64 tdh_mem_page_aug(struct tdx_td *td, u64 gpa, int level, kvm_pfn_t pfn,
		     u64 *ext_entry, u64 *ext_level_state)
{
	u64 status;

	status = tdh_mem_gpa_call(TDH_MEM_PAGE_AUG, td, gpa, level, PFN_PHYS(pfn),
				  ext_entry, ext_level_state);
	if (status == TDX_SUCCESS) {
		prov(KVM_PROV_TO_MODULE, pfn_to_page(pfn), 1UL << (PTE_SHIFT * level),
		     KVM_POOL_GUEST_FOLIO, gpa >> PAGE_SHIFT, kvm_level(level));
		/* I8: the entries mapped under their table, in 4K units. */
		tdx_note_mapped(td, gpa >> PAGE_SHIFT, kvm_level(level),
				      1L << (PTE_SHIFT * level));
	}
	return status;
}

u64 tdh_mem_range_block(struct tdx_td *td, u64 gpa, int level, u64 *ext_entry,
			u64 *ext_level_state)
{
	return tdh_mem_gpa_call(TDH_MEM_RANGE_BLOCK, td, gpa, level, 0, ext_entry, ext_level_state);
}

/* §2.10: on success RCX is the removed page (| the DPAMT removal hint). */
u64 tdh_mem_page_remove(struct tdx_td *td, u64 gpa, int level, u64 *ext_entry,
			u64 *ext_level_state)
{
	u64 status;

	status = tdh_mem_gpa_call(TDH_MEM_PAGE_REMOVE, td, gpa, level, 0, ext_entry,
				  ext_level_state);
	if (status == TDX_SUCCESS) {
		u64 hpa = *ext_entry & PAGE_MASK & GENMASK_ULL(51, 0);

		prov(KVM_PROV_FROM_MODULE, pfn_to_page(PHYS_PFN(hpa)), 1UL << (PTE_SHIFT * level),
		     KVM_POOL_GUEST_FOLIO, gpa >> PAGE_SHIFT, 0);
		kvm_check_note_seamcall(gpa, level, hpa, level);
		tdx_note_mapped(td, gpa >> PAGE_SHIFT, kvm_level(level),
				      -(1L << (PTE_SHIFT * level)));	/* I8 */
	}
	return status;
}

u64 tdh_mem_track(struct tdx_td *td)
{
	struct tdx_module_args regs = { .rcx = tdx_tdr_pa(td) };
	u64 status;

	status = seamcall(TDH_MEM_TRACK, &regs);
	kvm_check_note_seamcall(~0ULL, 0, tdx_tdr_pa(td), 0);
	return status;
}

/*
 * §2.3: TD build only, 4K only: R8 is the new private page, R9 the shared
 * source it is copied from.
 */
u64 tdh_mem_page_add(struct tdx_td *td, u64 gpa, struct page *page, struct page *source,
		     u64 *ext_entry, u64 *ext_level_state)
{
	struct tdx_module_args regs = {
		.rcx = gpa,
		.rdx = tdx_tdr_pa(td),
		.r8 = page_to_phys(page),
		.r9 = page_to_phys(source),
	};
	u64 status;

	tdx_clflush_page(page);
	status = seamcall_ret(TDH_MEM_PAGE_ADD, &regs);
	*ext_entry = regs.rcx;
	*ext_level_state = regs.rdx;
	kvm_check_note_seamcall(gpa, TDX_PS_4K, page_to_phys(page), TDX_PS_4K);
	if (status == TDX_SUCCESS) {
		prov(KVM_PROV_TO_MODULE, page, 1, KVM_POOL_GUEST_FOLIO, gpa >> PAGE_SHIFT,
		     PG_LEVEL_4K);
		tdx_note_mapped(td, gpa >> PAGE_SHIFT, PG_LEVEL_4K, 1);	/* I8 */
	}
	return status;
}

/* RCX = TDR: INITIALIZED -> RUNNABLE. */
u64 tdh_mr_finalize(struct tdx_td *td)
{
	struct tdx_module_args regs = { .rcx = tdx_tdr_pa(td) };

	return seamcall(TDH_MR_FINALIZE, &regs);
}

/* RCX = TDVPR: dissociate the vCPU from the logical CPU it last ran on. */
u64 tdh_vp_flush(struct tdx_vp *vp)
{
	struct tdx_module_args regs = { .rcx = vp->tdvpr_pa };

	return seamcall(TDH_VP_FLUSH, &regs);
}

/* §2.13: RCX = TDR; BUSY while a vCPU is still associated. */
u64 tdh_mng_vpflushdone(struct tdx_td *td)
{
	struct tdx_module_args regs = { .rcx = tdx_tdr_pa(td) };

	return seamcall(TDH_MNG_VPFLUSHDONE, &regs);
}

u64 tdh_mng_key_freeid(struct tdx_td *td)
{
	struct tdx_module_args regs = { .rcx = tdx_tdr_pa(td) };

	return seamcall(TDH_MNG_KEY_FREEID, &regs);
}

/* RCX = 1 resumes a write-back the module interrupted (INTERRUPTED_RESUMABLE). */
u64 tdh_phymem_cache_wb(bool resume)
{
	struct tdx_module_args regs = { .rcx = resume ? 1 : 0 };

	return seamcall(TDH_PHYMEM_CACHE_WB, &regs);
}

/* One 4K page per call (§2.12, §7.4). */
u64 tdh_phymem_page_wbinvd_hkid(u16 hkid, kvm_pfn_t pfn)
{
	struct tdx_module_args regs = { .rcx = mk_keyed_paddr(hkid, pfn_to_page(pfn)) };
	u64 status;

	status = seamcall(TDH_PHYMEM_PAGE_WBINVD, &regs);
	kvm_check_note_seamcall(~0ULL, 0, PFN_PHYS(pfn), 0);
	return status;
}

/*
 * §7.6: the module reclaims the page at the size its PAMT says (R8).  If the
 * caller meant another size the call still happened: report it as a software
 * error so that the caller does not free a page the module described
 * differently.
 */
u64 tdh_phymem_page_reclaim(struct page *page, unsigned long npages, u64 *tdx_pt,
			    u64 *tdx_owner, u64 *tdx_size)
{
	struct tdx_module_args regs = { .rcx = page_to_phys(page) };
	u64 status;

	status = seamcall_ret(TDH_PHYMEM_PAGE_RECLAIM, &regs);
	*tdx_pt = regs.rcx;
	*tdx_owner = regs.rdx;
	*tdx_size = regs.r8;
	kvm_check_note_seamcall(~0ULL, 0, page_to_phys(page), status ? 0 : (int)regs.r8);
	if (status == TDX_SUCCESS)
		prov(KVM_PROV_FROM_MODULE, page, 1UL << (PTE_SHIFT * regs.r8), KVM_POOL_OTHER,
		     ~0ULL, 0);

	if (status == TDX_SUCCESS && npages != 1UL << (PTE_SHIFT * regs.r8))
		status = TDX_SW_ERROR;
	return status;
}

u64 tdh_phymem_pamt_add(struct page *page, struct page **pamt_pages)
{
	struct tdx_module_args regs = { .rcx = pamt_2mb_arg(page) };

	u64 status;
	int i;

	regs.rdx = page_to_phys(pamt_pages[0]);
	regs.r8 = page_to_phys(pamt_pages[1]);
	status = seamcall(TDH_PHYMEM_PAMT_ADD, &regs);
	kvm_check_note_seamcall(~0ULL, 0, ALIGN_DOWN(page_to_phys(page), PMD_SIZE), TDX_PS_2M);
	for (i = 0; i < TDX_DPAMT_ENTRY_PAGES && status == TDX_SUCCESS; i++) {
		prov(KVM_PROV_TO_MODULE, pamt_pages[i], 1, KVM_POOL_PAMT_PAIR, ~0ULL, 0);
		kvm_check_note_seamcall(~0ULL, 0, page_to_phys(pamt_pages[i]), 0);
	}
	return status;
}

/* §2.15: the module hands the pair back in RDX and R8. */
u64 tdh_phymem_pamt_remove(struct page *page, struct page **pamt_pages)
{
	struct tdx_module_args regs = { .rcx = pamt_2mb_arg(page) };
	u64 status;

	status = seamcall_ret(TDH_PHYMEM_PAMT_REMOVE, &regs);
	kvm_check_note_seamcall(~0ULL, 0, ALIGN_DOWN(page_to_phys(page), PMD_SIZE), TDX_PS_2M);
	if (status == TDX_SUCCESS) {
		pamt_pages[0] = pfn_to_page(PHYS_PFN(regs.rdx));
		pamt_pages[1] = pfn_to_page(PHYS_PFN(regs.r8));
		prov(KVM_PROV_FROM_MODULE, pamt_pages[0], 1, KVM_POOL_PAMT_PAIR, ~0ULL, 0);
		prov(KVM_PROV_FROM_MODULE, pamt_pages[1], 1, KVM_POOL_PAMT_PAIR, ~0ULL, 0);
	}
	return status;
}

/* ---- the PAMT page cache ---- */

int tdx_pamt_cache_topup(struct tdx_pamt_cache *cache, int min)
{
	if (WARN_ON_ONCE(min > TDX_PAMT_CACHE_MAX))
		return -EINVAL;

	while (cache->cnt < min) {
		struct page *page = alloc_page(GFP_KERNEL_ACCOUNT);

		if (!page)
			return -ENOMEM;
		prov(KVM_PROV_ALLOC, page, 1, cache_pool(cache), ~0ULL, 0);
		prov(KVM_PROV_CACHE_PUT, page, 1, cache_pool(cache), ~0ULL, 0);
		cache->pages[cache->cnt++] = page;
	}
	return 0;
}

void tdx_pamt_cache_free(struct tdx_pamt_cache *cache)
{
	while (cache->cnt) {
		struct page *page = cache->pages[--cache->cnt];

		prov(KVM_PROV_FREE, page, 1, cache_pool(cache), ~0ULL, 0);
		__free_page(page);
	}
}

static struct page *pamt_cache_pop(struct tdx_pamt_cache *cache)
{
	struct page *page;

	if (!cache || !cache->cnt)
		return NULL;
	page = cache->pages[--cache->cnt];
	prov(KVM_PROV_CACHE_TAKE, page, 1, cache_pool(cache), ~0ULL, 0);
	return page;
}

/* Pages go back where they can be used again: the cache if it has room. */
void pamt_pages_release(struct page **pages, int nr, struct tdx_pamt_cache *cache)
{
	int i;

	for (i = nr - 1; i >= 0; i--) {
		if (cache && cache->cnt < TDX_PAMT_CACHE_MAX) {
			prov(KVM_PROV_CACHE_PUT, pages[i], 1, cache_pool(cache), ~0ULL, 0);
			cache->pages[cache->cnt++] = pages[i];
		} else {
			prov(KVM_PROV_FREE, pages[i], 1, cache_pool(cache), ~0ULL, 0);
			__free_page(pages[i]);
		}
	}
}

/* A pair for PAMT.ADD: from @cache first, then the page allocator. */
int pamt_pages_alloc(struct page **pages, struct tdx_pamt_cache *cache)
{
	int nr_cache = 0, i;

	for (i = 0; i < TDX_DPAMT_ENTRY_PAGES; i++) {
		pages[i] = pamt_cache_pop(cache);
		if (pages[i]) {
			nr_cache++;
			continue;
		}
		/*
		 * I3 (spec §5): a fault's pairs come from the vCPU's prealloc,
		 * topped up before mmu_lock; reaching the allocator with a
		 * cache in hand means the top-up was short.
		 */
		if (cache && cache->pool == KVM_POOL_VCPU_PREALLOC)
			kvm_check_record(NULL, KVM_INV_SPLIT_DEQUEUE, ~0ULL, 0, 0, 0,
					 "the vCPU's PAMT prealloc ran empty during a fault");
		pages[i] = alloc_page(GFP_KERNEL_ACCOUNT);
		if (!pages[i])
			goto err_free;
		prov(KVM_PROV_ALLOC, pages[i], 1, KVM_POOL_PAMT_PAIR, ~0ULL, 0);
	}
	return 0;

err_free:
	/* The cache is drained first: slots [nr_cache, i) came from alloc_page(). */
	while (i-- > nr_cache) {
		prov(KVM_PROV_FREE, pages[i], 1, KVM_POOL_PAMT_PAIR, ~0ULL, 0);
		__free_page(pages[i]);
	}
	pamt_pages_release(pages, nr_cache, cache);
	return -ENOMEM;
}

/* ---- Dynamic-PAMT refcounting (§4.4) ---- */

/*
 * Make sure the 2MB range of @page has its PAMT pair before the page is given
 * to the module, and count one more user of the pair.
 */
int tdx_pamt_get(struct page *page, struct tdx_pamt_cache *cache)
{
	struct page *pamt_pages[TDX_DPAMT_ENTRY_PAGES];
	atomic_t *refcount;
	int ret = 0;
	u64 err;

	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo))
		return 0;

	refcount = tdx_find_pamt_refcount(page_to_pfn(page));

	/* Fast path: the pair is there and someone else keeps it there. */
	if (atomic_inc_not_zero(refcount))
		return 0;

	/* Allocate outside the spinlock; most of the time the pages get used. */
	if (pamt_pages_alloc(pamt_pages, cache))
		return -ENOMEM;

	spin_lock(&pamt_lock);

	/* Another get installed the pair while we were allocating. */
	if (atomic_read(refcount)) {
		atomic_inc(refcount);
		goto out_release;
	}

	err = tdh_phymem_pamt_add(page, pamt_pages);
	if (!err) {
		atomic_set(refcount, 1);
		spin_unlock(&pamt_lock);
		return 0;
	}

	if (IS_TDX_HPA_RANGE_NOT_FREE(err)) {
		/*
		 * A put took the count to 0 and waits for pamt_lock to remove
		 * the pair: it is still installed, so revive it.  That put
		 * then sees a non-zero count and leaves the pair alone.
		 */
		atomic_set(refcount, 1);
	} else {
		pr_err("TDH_PHYMEM_PAMT_ADD failed: %#llx\n", (unsigned long long)err);
		ret = -EIO;
	}

out_release:
	spin_unlock(&pamt_lock);
	pamt_pages_release(pamt_pages, TDX_DPAMT_ENTRY_PAGES, cache);
	return ret;
}

/* Drop a user of the pair of @page's 2MB range; the last one removes it. */
void tdx_pamt_put(struct page *page)
{
	struct page *pamt_pages[TDX_DPAMT_ENTRY_PAGES];
	atomic_t *refcount;
	u64 err;

	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo))
		return;

	refcount = tdx_find_pamt_refcount(page_to_pfn(page));
	if (!atomic_dec_and_test(refcount))
		return;

	spin_lock(&pamt_lock);

	/* A get revived the range between our decrement and the lock. */
	if (atomic_read(refcount))
		goto out_unlock;

	err = tdh_phymem_pamt_remove(page, pamt_pages);
	if (err) {
		/* The pair stays; keep the count honest about it (§4.4). */
		atomic_inc(refcount);
		spin_unlock(&pamt_lock);
		WARN_ONCE(1, "TDH_PHYMEM_PAMT_REMOVE failed: %#llx", (unsigned long long)err);
		return;
	}
	spin_unlock(&pamt_lock);

	prov(KVM_PROV_FREE, pamt_pages[0], 1, KVM_POOL_PAMT_PAIR, ~0ULL, 0);
	__free_page(pamt_pages[0]);
	prov(KVM_PROV_FREE, pamt_pages[1], 1, KVM_POOL_PAMT_PAIR, ~0ULL, 0);
	__free_page(pamt_pages[1]);
	return;

out_unlock:
	spin_unlock(&pamt_lock);
}

/*
 * §7.2: split a 2MB leaf.  With Dynamic PAMT the guest range needs its own
 * pair in R12/R13, taken from @pamt_cache because the caller holds locks.
 * After a successful 2M demote the 512 4K pages of the range are users of
 * that pair.
 */
u64 tdh_mem_page_demote(struct tdx_td *td, u64 gpa, int level, kvm_pfn_t pfn,
			struct page *new_sept_page, struct tdx_pamt_cache *pamt_cache,
			u64 *ext_entry, u64 *ext_level_state)
{
	return tdh_mem_page_demote_loop(td, gpa, level, pfn, new_sept_page, pamt_cache,
					ext_entry, ext_level_state, 0, NULL);
}

/*
 * The cover letter's test-only workaround for modules without
 * ENHANCED_DEMOTE_INTERRUPTIBILITY (003 CL Note #2, 474-478: "Loop for
 * TDX_INTERRUPTED_RESTARTABLE in tdh_mem_page_demote()"): with
 * @restart_bound > 0 the feature check is skipped and the SEAMCALL is
 * re-issued while it says TDX_INTERRUPTED_RESTARTABLE (nothing committed,
 * RCX/RDX restored, spec §2.8).  The module gives no bound (CL §2.2); the
 * model stops after @restart_bound re-issues ("no forward progress") and
 * returns the last status.  *@restarts (if not NULL) gets the re-issues.
 */
u64 tdh_mem_page_demote_loop(struct tdx_td *td, u64 gpa, int level, kvm_pfn_t pfn,
			     struct page *new_sept_page, struct tdx_pamt_cache *pamt_cache,
			     u64 *ext_entry, u64 *ext_level_state, unsigned int restart_bound,
			     unsigned int *restarts)
{
	struct page *pair[TDX_DPAMT_ENTRY_PAGES] = { NULL, NULL };
	bool with_pair = tdx_supports_dynamic_pamt(&tdx_sysinfo) && level == TDX_PS_2M;
	/* v3: without it the module may interrupt a DEMOTE KVM cannot restart. */
	bool runs_to_end = tdx_supports_demote_nointerrupt(&tdx_sysinfo) || restart_bound;
	struct tdx_module_args regs = { .r8 = page_to_phys(new_sept_page) }, in;
	unsigned int n = 0;
	u64 status;
	int i;

	/* The early returns below make no SEAMCALL: nothing to describe. */
	*ext_entry = 0;
	*ext_level_state = 0;
	tdx_check_not_shared(TDH_MEM_PAGE_DEMOTE, gpa, level);
	if (!runs_to_end)
		return TDX_SW_ERROR;

	if (with_pair) {
		if (!IS_ALIGNED(pfn, PTRS_PER_PMD))
			return TDX_OPERAND_INVALID;	/* §7.2: not a 2MB guest range */
		if (!pamt_cache || pamt_cache->cnt < TDX_DPAMT_ENTRY_PAGES) {
			/* I3: the split path's prealloc never comes up short. */
			kvm_check_record(NULL, KVM_INV_SPLIT_DEQUEUE, gpa >> PAGE_SHIFT,
					 kvm_level(level), PFN_PHYS(pfn), 0,
					 "DEMOTE without the guest range's pair: the split's cache "
					 "holds %d page(s)", pamt_cache ? pamt_cache->cnt : 0);
			return TDX_SW_ERROR;		/* §7.2: no pair, no SEAMCALL */
		}
		for (i = 0; i < TDX_DPAMT_ENTRY_PAGES; i++)
			pair[i] = pamt_cache_pop(pamt_cache);
		regs.r12 = page_to_phys(pair[0]);
		regs.r13 = page_to_phys(pair[1]);
	}

	regs.rcx = gpa | level;
	regs.rdx = tdx_tdr_pa(td);
	tdx_clflush_page(new_sept_page);
	/* R12/R13 are inputs: the variant that preserves them across the call. */
	in = regs;
	status = seamcall_saved_ret(TDH_MEM_PAGE_DEMOTE, &regs);
	while (restart_bound && status == TDX_INTERRUPTED_RESTARTABLE) {
		if (n == restart_bound) {
			pr_err("TDH.MEM.PAGE.DEMOTE gpa %#llx: no forward progress after %u retries\n",
			       gpa, n);
			break;
		}
		n++;
		regs = in;
		status = seamcall_saved_ret(TDH_MEM_PAGE_DEMOTE, &regs);
	}
	if (restarts)
		*restarts = n;
	*ext_entry = regs.rcx;
	*ext_level_state = regs.rdx;
	kvm_check_note_seamcall(gpa, level, page_to_phys(new_sept_page), 0);
	kvm_check_note_seamcall(~0ULL, 0, PFN_PHYS(pfn), level);
	if (status == TDX_SUCCESS) {
		/* The new table covers the 2M range: KVM level 2M. */
		prov(KVM_PROV_TO_MODULE, new_sept_page, 1, KVM_POOL_OTHER, gpa >> PAGE_SHIFT,
		     kvm_level(level));
		/* I8: the leaf's pages now hang under the new table, which takes its slot. */
		tdx_note_mapped(td, gpa >> PAGE_SHIFT, kvm_level(level),
				      1 - (1L << (PTE_SHIFT * level)));
		tdx_note_mapped(td, gpa >> PAGE_SHIFT, kvm_level(level) - 1,
				      1L << (PTE_SHIFT * level));
		for (i = 0; i < TDX_DPAMT_ENTRY_PAGES && with_pair; i++) {
			prov(KVM_PROV_TO_MODULE, pair[i], 1, KVM_POOL_PAMT_PAIR, ~0ULL, 0);
			prov(KVM_PROV_ASSOC, pair[i], 1, KVM_POOL_PAMT_PAIR, gpa >> PAGE_SHIFT,
			     kvm_level(level));
		}
	}

	if (!with_pair)
		return status;

	if (status != TDX_SUCCESS) {
		/* Nothing was committed: the pair is still ours. */
		pamt_pages_release(pair, TDX_DPAMT_ENTRY_PAGES, pamt_cache);
		return status;
	}

	/* A 2MB leaf had no pair, so nobody can have counted the range yet. */
	WARN_ON_ONCE(atomic_cmpxchg_release(tdx_find_pamt_refcount(pfn), 0, PTRS_PER_PMD));
	return TDX_SUCCESS;
}
