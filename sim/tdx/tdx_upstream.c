// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM's TDX backend under the `upstream` design, where it differs from v3
 * (tdx.c) beyond the 7.2 funnel: the split path of Sean's v5 posting and
 * the Dynamic PAMT v6 API (kvm-upstream.md §4, §5).
 *
 *  - v3 tops up a per-VM split cache with mmu_lock dropped and consumes it
 *    under a spinlock after re-checking the count (kvm-model.md §2.8; 004).
 *  - v5 guards kvm_tdx->pamt_cache with a mutex, pamt_cache_lock, which
 *    tdx_gmem_convert() takes *before* the write mmu_lock: it tops the
 *    cache up (it may sleep: the mutex is a sleeping lock) and then splits
 *    the head and tail of the conversion under mmu_lock with the mutex
 *    still held, so nobody else can take the pages in between and no
 *    re-check is needed.  A split takes its pages from
 *    tdx_get_pamt_cache(): the running vCPU's cache (a vCPU's accept-level
 *    split), else the per-VM one, asserting the mutex (Sean's v5 patch
 *    "Add support for splitting S-EPT hugepages on conversion", his reply
 *    of 2026-01-29 <aXt_L6QKB9CSTZcW@google.com>).
 *  - DPAMT v6: tdx_pamt_get(pfn, cache) / tdx_pamt_put(pfn), the put built
 *    on atomic_dec_and_lock() so a zero count is only ever seen under the
 *    global lock; here tdx_pamt_get_v6()/tdx_pamt_put_v6() (tdx.h says why).
 *
 * Kernel-shaped, built only against <tdxsim/kernel.h> and <tdxsim-kvm/>.
 */
#include <errno.h>

#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>

#include "tdx_internal.h"

/* ---- Dynamic PAMT v6 (kvm-upstream.md §4; v6 05-06/11) ---- */

int tdx_pamt_get_v6(kvm_pfn_t pfn, struct tdx_pamt_cache *cache)
{
	struct page *pamt_pages[TDX_DPAMT_ENTRY_PAGES];
	atomic_t *refcount;
	u64 err;

	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo))
		return 0;

	refcount = tdx_find_pamt_refcount(pfn);
	if (atomic_inc_not_zero(refcount))
		return 0;

	/* Allocate (or take from @cache) before the spinlock. */
	if (pamt_pages_alloc(pamt_pages, cache))
		return -ENOMEM;

	spin_lock(&pamt_lock);
	/*
	 * A put reaches 0 only under this lock and removes the pair before
	 * dropping it, so a count seen here is a pair that is installed.
	 */
	if (atomic_read(refcount)) {
		atomic_inc(refcount);
		goto out_release;
	}
	err = tdh_phymem_pamt_add(pfn_to_page(pfn), pamt_pages);
	if (err) {
		spin_unlock(&pamt_lock);
		WARN_ONCE(1, "TDH_PHYMEM_PAMT_ADD failed: %#llx", (unsigned long long)err);
		pamt_pages_release(pamt_pages, TDX_DPAMT_ENTRY_PAGES, cache);
		return -EIO;
	}
	atomic_set(refcount, 1);
	spin_unlock(&pamt_lock);
	return 0;

out_release:
	spin_unlock(&pamt_lock);
	pamt_pages_release(pamt_pages, TDX_DPAMT_ENTRY_PAGES, cache);
	return 0;
}

void tdx_pamt_put_v6(kvm_pfn_t pfn)
{
	struct page *pamt_pages[TDX_DPAMT_ENTRY_PAGES];
	atomic_t *refcount;
	u64 err;

	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo))
		return;

	refcount = tdx_find_pamt_refcount(pfn);
	if (!atomic_dec_and_lock(refcount, &pamt_lock))
		return;

	err = tdh_phymem_pamt_remove(pfn_to_page(pfn), pamt_pages);
	if (err) {
		/* The pair stays installed: its count says one user again (v6 06/11). */
		atomic_set(refcount, 1);
		spin_unlock(&pamt_lock);
		WARN_ONCE(1, "TDH_PHYMEM_PAMT_REMOVE failed: %#llx", (unsigned long long)err);
		return;
	}
	spin_unlock(&pamt_lock);

	/* The ledger names the freer by the kernel's name of this function. */
	for (int i = 0; i < TDX_DPAMT_ENTRY_PAGES; i++) {
		kvm_prov_note(KVM_PROV_FREE, page_to_phys(pamt_pages[i]), 1, KVM_POOL_PAMT_PAIR,
			      ~0ULL, 0, "tdx_pamt_put");
		__free_page(pamt_pages[i]);
	}
}

/*
 * The v5/v6 DEMOTE wrapper takes KVM's level; the body (feature check, the
 * pair from the cache in R12/R13, the refcount 0 -> 512 with its WARN) is
 * tdx_core.c's, which both designs share.
 */
u64 tdh_mem_page_demote_v6(struct tdx_td *td, u64 gpa, enum pg_level level, u64 pfn,
			   struct page *new_sp, struct tdx_pamt_cache *cache,
			   u64 *ext_err1, u64 *ext_err2)
{
	if (WARN_ON_ONCE(level != PG_LEVEL_2M && level != PG_LEVEL_1G))
		return TDX_SW_ERROR;
	return tdh_mem_page_demote(td, gpa, level - 1, pfn, new_sp, cache, ext_err1, ext_err2);
}

/* ---- the per-VM PAMT cache and its mutex (kvm-upstream.md §5) ---- */

struct tdx_pamt_cache *tdx_get_pamt_cache(struct kvm *kvm, struct kvm_vcpu *vcpu)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);

	if (KVM_BUG_ON(vcpu && vcpu->kvm != kvm, kvm))
		return NULL;
	if (vcpu) {
		struct vcpu_tdx *tdx = vcpu->priv;	/* to_tdx() */

		return tdx ? &tdx->pamt_cache : NULL;
	}
	lockdep_assert_held(&kvm_tdx->pamt_cache_lock);
	return &kvm_tdx->pamt_cache;
}

/* A 2M split: a pair for the new S-EPT page and one for the guest range (§4.5). */
static int tdx_split_pamt_pages(enum pg_level level)
{
	return level == PG_LEVEL_2M ? TDX_MIN_SPLIT_CACHE_SZ : 0;
}

/*
 * The MMU's need_topup op, asked under mmu_lock before each split: the
 * running vCPU's cache, or the per-VM one (the mutex asserted).  A
 * conversion topped the per-VM cache up before it took mmu_lock, so the
 * answer there is "no" and the walk never drops mmu_lock to top up.  Under
 * the shared mmu_lock the funnel refuses the split: nothing to top up.
 */
bool tdx_need_topup_external_pamt_cache(struct kvm *kvm, enum pg_level level)
{
	struct tdx_pamt_cache *cache;

	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo) || !kvm_mmu_lock_held(kvm, false))
		return false;
	cache = tdx_get_pamt_cache(kvm, kvm_get_running_vcpu());
	return cache && READ_ONCE(cache->cnt) < tdx_split_pamt_pages(level);
}

/*
 * The MMU's topup op, with mmu_lock dropped: the kernel's
 * tdx_topup_external_pamt_cache(kvm, vcpu, min), for the vCPU's cache in
 * practice (the per-VM cache is topped up by tdx_gmem_convert()).
 */
int tdx_topup_external_pamt_cache(struct kvm *kvm, enum pg_level level)
{
	struct tdx_pamt_cache *cache;

	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo))
		return 0;
	cache = tdx_get_pamt_cache(kvm, kvm_get_running_vcpu());
	if (!cache)
		return -EIO;
	return tdx_pamt_cache_topup(cache, tdx_split_pamt_pages(level));
}

/* tdx_vm_destroy()'s tdx_free_pamt_cache(&kvm_tdx->pamt_cache). */
void tdx_free_external_pamt_cache(struct kvm *kvm)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);

	mutex_lock(&kvm_tdx->pamt_cache_lock);
	tdx_pamt_cache_free(&kvm_tdx->pamt_cache);
	mutex_unlock(&kvm_tdx->pamt_cache_lock);
}

/* ---- the conversion entry (kvm_x86_ops.gmem_convert) ---- */

/* The 2M range at @gfn split down to 4K (only TDX's 2M leaves exist). */
static int tdx_sept_split_2m_at(struct kvm *kvm, gfn_t gfn)
{
	gfn_t end = gfn + KVM_PAGES_PER_HPAGE(PG_LEVEL_2M);

	return kvm_tdp_mmu_mirrors_split_huge_pages(kvm, gfn, end, PG_LEVEL_4K);
}

/*
 * Only a 2M leaf that sticks out of [start, end) needs splitting: those
 * wholly inside are zapped whole.  At most two: the one holding @start
 * when @start is not 2M-aligned (the head) and the one holding @end when
 * @end is not (the tail), once if they are the same.
 */
static bool tdx_split_head(gfn_t start)
{
	return gfn_round_for_level(start, PG_LEVEL_2M) != start;
}

static bool tdx_split_tail(gfn_t start, gfn_t end)
{
	gfn_t tail = gfn_round_for_level(end, PG_LEVEL_2M);

	return tail != end && !(tdx_split_head(start) &&
				tail == gfn_round_for_level(start, PG_LEVEL_2M));
}

static int tdx_sept_split_huge_pages(struct kvm *kvm, gfn_t start, gfn_t end)
{
	int r;

	if (tdx_split_head(start)) {
		r = tdx_sept_split_2m_at(kvm, gfn_round_for_level(start, PG_LEVEL_2M));
		if (r)
			return r;
	}
	if (tdx_split_tail(start, end))
		return tdx_sept_split_2m_at(kvm, gfn_round_for_level(end, PG_LEVEL_2M));
	return 0;
}

/*
 * tdx_gmem_convert(): private -> shared needs the head and tail split
 * before the zap, so only [start, end) leaves the TD.  The mutex first (it
 * sleeps), then the per-VM cache filled for the head and tail splits while
 * no spinning lock is held, then the write mmu_lock and the splits, all under the one
 * mutex hold.  To private: nothing (the zap of shared mappings needs no
 * split).  0, -ENOMEM (top-up or sp allocation: nothing converted yet), or
 * the split's error.
 */
int tdx_gmem_convert(struct kvm *kvm, gfn_t start, gfn_t end, bool to_private)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);
	int nr, r = 0;

	if (to_private || !kvm->has_mirrored_tdp || start >= end)
		return 0;

	/* Pages for the splits this range can need (a leaf may not be there). */
	nr = tdx_split_head(start) + tdx_split_tail(start, end);
	mutex_lock(&kvm_tdx->pamt_cache_lock);
	if (nr && tdx_supports_dynamic_pamt(&tdx_sysinfo))
		r = tdx_pamt_cache_topup(&kvm_tdx->pamt_cache, nr * TDX_MIN_SPLIT_CACHE_SZ);
	if (!r) {
		KVM_MMU_LOCK(kvm);
		r = tdx_sept_split_huge_pages(kvm, start, end);
		KVM_MMU_UNLOCK(kvm);
	}
	mutex_unlock(&kvm_tdx->pamt_cache_lock);
	return r;
}

/* ---- the split behind the funnel (v5 "Add core support for splitting") ---- */

/*
 * old and new present at 2M: BLOCK, TRACK and the kick, then DEMOTE with
 * the new S-EPT page (its pair counted first with tdx_pamt_get) and the
 * guest range's pair, both from tdx_get_pamt_cache().  Under the shared
 * mmu_lock TDX cannot split (spec §2.10): refused before any SEAMCALL, as
 * the v3 hook refuses it.  Any other failure bugs the VM: the mirror
 * already shows the split.
 */
int tdx_sept_split_private_spte_upstream(struct kvm *kvm, gfn_t gfn, enum pg_level level,
					 u64 old_spte, void *new_external_spt)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(kvm);
	gpa_t gpa = (gpa_t)gfn << PAGE_SHIFT;
	kvm_pfn_t sp_pfn, pfn = spte_to_pfn(old_spte);
	struct tdx_pamt_cache *cache;
	u64 err, entry, level_state;
	int ret, before;
	bool get;

	if (!kvm_mmu_lock_held(kvm, false))
		return -EOPNOTSUPP;
	if (KVM_BUG_ON(level != PG_LEVEL_2M || !new_external_spt, kvm))
		return -EIO;
	if (KVM_BUG_ON(!is_hkid_assigned(kvm_tdx), kvm))
		return -EIO;
	cache = tdx_get_pamt_cache(kvm, kvm_get_running_vcpu());
	if (!cache)
		return -EIO;
	before = cache->cnt;
	sp_pfn = page_to_pfn(virt_to_page(new_external_spt));

	ret = tdx_block_track_2m(kvm_tdx, gpa);
	if (ret)
		return ret;

	/* TDXSIM_KVM_DEFECT_SKIP_SEPT_PAGE_PAMT_GET: no get, no put (S27d). */
	get = !tdx_defect(kvm_tdx, TDXSIM_KVM_DEFECT_SKIP_SEPT_PAGE_PAMT_GET);
	ret = get ? tdx_pamt_get_v6(sp_pfn, cache) : 0;
	if (KVM_BUG_ON(ret, kvm))
		return -EIO;
	err = tdh_do_no_vcpus(tdh_mem_page_demote_v6, kvm_tdx, gpa, level, pfn,
			      virt_to_page(new_external_spt), cache, &entry, &level_state);
	if (TDX_BUG_ON_2_VM(err, TDH_MEM_PAGE_DEMOTE, entry, level_state, kvm)) {
		if (get)
			tdx_pamt_put_v6(sp_pfn);
		return -EIO;
	}

	/* I8's counts: the DEMOTE wrapper (tdx_core.c) keeps them. */
	/* I3: a split uses at most a pair for the S-EPT page and one for the range. */
	if (before - cache->cnt > 2 * TDX_DPAMT_ENTRY_PAGES)
		kvm_check_record(kvm, KVM_INV_SPLIT_DEQUEUE, gfn, level, 0, old_spte,
				 "the split used %d cache pages", before - cache->cnt);
	return 0;
}
