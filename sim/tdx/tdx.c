// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM's TDX backend, KVM's half (arch/x86/kvm/vmx/tdx.c's role): the callers
 * of the TDX core's wrappers (tdx_core.c).  Kernel-shaped, built only
 * against <tdxsim/kernel.h> and the <tdxsim-kvm/> headers.  Spec seamcall.md §7.2,
 * §7.3; kvm-model.md §2.
 */
#include <errno.h>
#include <stdlib.h>

#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>

#include "tdx_internal.h"

/*
 * I15 (spec kvm-model.md §5): the hooks that change the S-EPT's shape run
 * with mmu_lock held for write.  lockdep_assert_held_write() records a
 * kernel event; this tells the checker, with the GFN.  Not the kernel's.
 */
static void tdx_check_write_locked(struct kvm *kvm, gfn_t gfn, int level, const char *fn)
{
	if (!kvm_mmu_lock_held(kvm, false))
		kvm_check_record(kvm, KVM_INV_LOCK, gfn, level, 0, 0,
				 "%s without mmu_lock held for write", fn);
}

/* The checker's provenance ledger (<tdxsim-kvm/check.h>); not the kernel's. */
#define prov(ev, page, pool)							\
	kvm_prov_note((ev), page_to_phys(page), 1, (pool), ~0ULL, 0, __func__)


/* tdx_defect(), tdx_kick_vcpus() and tdh_do_no_vcpus() are in tdx_internal.h (tdx_upstream.c uses them). */

int tdx_track(struct kvm_tdx *kvm_tdx)
{
	u64 err;

	err = tdh_do_no_vcpus(tdh_mem_track, kvm_tdx);
	if (TDX_BUG_ON_VM(err, TDH_MEM_TRACK, kvm_tdx->kvm))
		return -EIO;

	/* vCPUs still in the old epoch must leave before the range is tracked. */
	tdx_kick_vcpus(kvm_tdx);
	return 0;
}

int tdx_block_range(struct kvm_tdx *kvm_tdx, gpa_t gpa, int level)
{
	u64 entry, level_state, err;

	err = tdh_do_no_vcpus(tdh_mem_range_block, kvm_tdx, gpa, level, &entry, &level_state);
	if (TDX_BUG_ON_2_VM(err, TDH_MEM_RANGE_BLOCK, entry, level_state, kvm_tdx->kvm))
		return -EIO;
	return 0;
}

/* The S-EPT page and the guest range each need a pair (§4.5). */
int tdx_demote_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa, kvm_pfn_t pfn, struct page *new_sp,
		  struct tdx_pamt_cache *cache)
{
	u64 entry, level_state, err;
	unsigned int restarts = 0;
	int ret;

	/* TDXSIM_KVM_DEFECT_SKIP_SEPT_PAGE_PAMT_GET leaves 003:P21's get out (S27d). */
	bool get = !tdx_defect(kvm_tdx, TDXSIM_KVM_DEFECT_SKIP_SEPT_PAGE_PAMT_GET);
	struct page *r12 = NULL, *r13 = NULL;

	ret = get ? tdx_pamt_get(new_sp, cache) : 0;
	if (KVM_BUG_ON(ret, kvm_tdx->kvm))
		return -EIO;

	/* The pair DEMOTE will pop for the guest range (R12 = the top). */
	if (cache && cache->cnt >= TDX_DPAMT_ENTRY_PAGES) {
		r12 = cache->pages[cache->cnt - 1];
		r13 = cache->pages[cache->cnt - 2];
	}
	err = tdh_do_no_vcpus(tdh_mem_page_demote_loop, kvm_tdx, gpa, TDX_PS_2M, pfn, new_sp,
			      cache, &entry, &level_state, kvm_tdx->demote_restart_bound,
			      &restarts);
	/* S08b: every re-issue happened under the write mmu_lock (tdh_do_no_vcpus) */
	if (kvm_tdx->kvm)
		kvm_tdx->kvm->stat.demote_restarts += restarts;
	if (TDX_BUG_ON_2_VM(err, TDH_MEM_PAGE_DEMOTE, entry, level_state, kvm_tdx->kvm)) {
		ret = -EIO;
		goto err_put;
	}
	/*
	 * TDXSIM_KVM_DEFECT_REUSE_DEMOTE_PAIR (S27e): P22's "give the pair
	 * back" runs on success too, so the module's PAMT pages go back to the
	 * cache and the next split hands one to DEMOTE as R12.
	 */
	if (r12 && tdx_defect(kvm_tdx, TDXSIM_KVM_DEFECT_REUSE_DEMOTE_PAIR) &&
	    cache->cnt <= TDX_PAMT_CACHE_MAX - TDX_DPAMT_ENTRY_PAGES) {
		cache->pages[cache->cnt++] = r13;
		cache->pages[cache->cnt++] = r12;
	}
	return 0;

err_put:
	if (get)
		tdx_pamt_put(new_sp);
	return ret;
}

/* BLOCK + TRACK + kick (tdx_internal.h); upstream's split shares it. */
int tdx_block_track_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa)
{
	int ret = tdx_block_range(kvm_tdx, gpa, TDX_PS_2M);

	if (ret)
		return ret;
	return tdx_defect(kvm_tdx, TDXSIM_KVM_DEFECT_SKIP_TRACK) ? 0 : tdx_track(kvm_tdx);
}

/* BLOCK + TRACK + kick, then DEMOTE: no UNBLOCK afterwards (§2.8). */
int tdx_split_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa, kvm_pfn_t pfn, struct page *new_sp,
		 struct tdx_pamt_cache *cache)
{
	int ret = tdx_block_track_2m(kvm_tdx, gpa);

	if (ret)
		return ret;
	return tdx_demote_2m(kvm_tdx, gpa, pfn, new_sp, cache);
}

/* ---- the backend behind the v3 hook table (kvm-model.md §2, §4.1) ---- */

static inline gpa_t gfn_to_gpa(gfn_t gfn)
{
	return (gpa_t)gfn << PAGE_SHIFT;
}

/* KVM levels count from 1 (PG_LEVEL_4K), TDX levels from 0 (TDX_PS_4K). */
static inline int pg_level_to_tdx_sept_level(enum pg_level level)
{
	WARN_ON_ONCE(level == PG_LEVEL_NONE);
	return level - 1;
}

static struct vcpu_tdx *to_tdx(struct kvm_vcpu *vcpu)
{
	return vcpu->priv;
}

/* tdx_fault_pamt_cache() is in tdx_internal.h: tdx_build.c's PAGE.ADD takes its pairs there too. */

int tdx_vcpu_create(struct kvm_vcpu *vcpu)
{
	struct vcpu_tdx *tdx = calloc(1, sizeof(*tdx));

	if (!tdx)
		return -ENOMEM;
	tdx->vcpu = vcpu;
	tdx->pamt_cache.pool = KVM_POOL_VCPU_PREALLOC;
	vcpu->priv = tdx;
	return 0;
}

static bool tdx_dpamt_at_topup(struct kvm *kvm)
{
	return to_kvm_tdx(kvm)->dpamt_at_topup && tdx_supports_dynamic_pamt(&tdx_sysinfo);
}

static void tdx_free_external_fault_cache(struct kvm_vcpu *vcpu)
{
	struct vcpu_tdx *tdx = to_tdx(vcpu);

	if (!tdx)
		return;
	while (tdx->nr_spt_pages) {
		struct page *page = tdx->spt_pages[--tdx->nr_spt_pages];

		/* S29: the top-up counted this page's pair user; never used. */
		if (tdx_dpamt_at_topup(vcpu->kvm))
			tdx_pamt_put_for(vcpu->kvm, page);
		prov(KVM_PROV_FREE, page, KVM_POOL_MMU_CACHE);
		__free_page(page);
	}
	tdx_pamt_cache_free(&tdx->pamt_cache);
}

void tdx_vcpu_free(struct kvm_vcpu *vcpu)
{
	tdx_free_external_fault_cache(vcpu);
	free(vcpu->priv);
	vcpu->priv = NULL;
}

/*
 * Before the fault takes mmu_lock (it may sleep): an S-EPT page for every
 * level a fault can add, and a pair for each of them and for a 4K guest
 * page, since a hook under mmu_lock must not allocate.
 */
static int tdx_topup_external_fault_cache(struct kvm_vcpu *vcpu)
{
	struct vcpu_tdx *tdx = to_tdx(vcpu);

	if (KVM_BUG_ON(!tdx, vcpu->kvm))
		return -EIO;
	while (tdx->nr_spt_pages < TDX_FAULT_SPT_PAGES) {
		struct page *page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);

		if (!page)
			return -ENOMEM;
		prov(KVM_PROV_ALLOC, page, KVM_POOL_MMU_CACHE);
		/*
		 * S29 (Sean, 003 P19 12597): count the page's pair user now,
		 * so that every page KVM gives the module went through the
		 * TDX allocation API; a pair installed here may never be used.
		 */
		if (tdx_dpamt_at_topup(vcpu->kvm)) {
			int cnt, r;

			r = tdx_pamt_cache_topup(&tdx->pamt_cache, TDX_DPAMT_ENTRY_PAGES);
			cnt = tdx->pamt_cache.cnt;
			if (!r)
				r = tdx_pamt_get_for(vcpu->kvm, page, &tdx->pamt_cache);
			if (r) {
				prov(KVM_PROV_FREE, page, KVM_POOL_MMU_CACHE);
				__free_page(page);
				return r;
			}
			if (tdx->pamt_cache.cnt < cnt)
				__atomic_add_fetch(&vcpu->kvm->stat.topup_pairs, 1,
						   __ATOMIC_RELAXED);
		}
		prov(KVM_PROV_CACHE_PUT, page, KVM_POOL_MMU_CACHE);
		tdx->spt_pages[tdx->nr_spt_pages++] = page;
	}
	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo))
		return 0;
	return tdx_pamt_cache_topup(&tdx->pamt_cache,
				    TDX_DPAMT_ENTRY_PAGES * (TDX_FAULT_SPT_PAGES + 1));
}

/* kvm_mmu_alloc_external_spt(): the new table's S-EPT page, from the prealloc. */
static void *tdx_alloc_external_fault_cache(struct kvm_vcpu *vcpu)
{
	struct vcpu_tdx *tdx = to_tdx(vcpu);

	struct page *page;

	if (WARN_ON_ONCE(!tdx || !tdx->nr_spt_pages))
		return NULL;
	page = tdx->spt_pages[--tdx->nr_spt_pages];
	prov(KVM_PROV_CACHE_TAKE, page, KVM_POOL_MMU_CACHE);
	return page_address(page);
}

/*
 * The TD's max mapping level for private memory: 4K while it is built
 * (PAGE.ADD maps only 4K), 2M once runnable (1G is not supported).
 */
static int tdx_gmem_max_mapping_level(struct kvm *kvm, kvm_pfn_t pfn, bool is_private)
{
	if (!is_private)
		return 0;
	if (to_kvm_tdx(kvm)->state != TD_STATE_RUNNABLE)
		return PG_LEVEL_4K;
	/*
	 * A 2M mapping uses the range's static 2M PAMT entry, which the module
	 * cannot assign while a Dynamic-PAMT pair sits there.  A 2MB guest
	 * folio has pair users only once split, and then the mirror has a table
	 * there; otherwise the pair is one a failed PAMT.REMOVE left installed
	 * (tdx_pamt_put keeps the count at 1 for it): map at 4K, as the pair's
	 * users.  TDXSIM_KVM_DEFECT_AUG_2M_OVER_PAIR forgets it.
	 */
	if (tdx_supports_dynamic_pamt(&tdx_sysinfo) &&
	    !(kvm->defects & TDXSIM_KVM_DEFECT_AUG_2M_OVER_PAIR)) {
		atomic_t *ref = tdx_find_pamt_refcount(ALIGN_DOWN(pfn, PTRS_PER_PMD));

		if (ref && atomic_read(ref))
			return PG_LEVEL_4K;
	}
	return PG_LEVEL_2M;
}

/*
 * link_external_spt: SEPT.ADD the table's S-EPT page under the entry at
 * @level.  The page joins its 2MB range's pair users first (Dynamic PAMT:
 * the module wants a pair for every 4K page it takes, spec §4.5).  BUSY
 * (another vCPU holds the entry) is -EBUSY: the MMU restores the SPTE and
 * the fault is retried.
 */
int tdx_sept_link_private_spt(struct kvm *kvm, gfn_t gfn, enum pg_level level,
			      void *private_spt)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	gpa_t gpa = gfn_to_gpa(gfn);
	u64 err, entry, level_state;
	struct page *page;
	int ret;

	if (KVM_BUG_ON(!private_spt, kvm))
		return -EIO;
	page = virt_to_page(private_spt);

	/* S29's variant counted the pair user at the cache top-up. */
	ret = tdx_dpamt_at_topup(kvm) ? 0 : tdx_pamt_get_for(kvm, page, tdx_fault_pamt_cache(kvm));
	if (ret)
		return ret;

	err = tdh_mem_sept_add(&kvm_tdx->td, gpa, pg_level_to_tdx_sept_level(level), page,
			       &entry, &level_state);
	ret = tdx_map_call_ret(err, TDH_MEM_SEPT_ADD, entry, level_state, kvm);
	if (ret)
		tdx_pamt_put_for(kvm, page);
	return ret;
}

/*
 * AUG the guest page at @level.  A 4K page needs its 2MB range's pair; a
 * 2M page uses the static 2M PAMT entry and needs none (§4.5).
 */
static int tdx_mem_page_aug(struct kvm *kvm, gfn_t gfn, enum pg_level level, kvm_pfn_t pfn)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	struct page *page = pfn_to_page(pfn);
	u64 err, entry, level_state;
	int ret;

	if (level == PG_LEVEL_4K) {
		ret = tdx_pamt_get_for(kvm, page, tdx_fault_pamt_cache(kvm));
		if (ret)
			return ret;
	}

	err = tdh_mem_page_aug(&kvm_tdx->td, gfn_to_gpa(gfn), pg_level_to_tdx_sept_level(level),
			       pfn, &entry, &level_state);
	ret = tdx_map_call_ret(err, TDH_MEM_PAGE_AUG, entry, level_state, kvm);
	if (ret && level == PG_LEVEL_4K)
		tdx_pamt_put_for(kvm, page);
	return ret;
}

/*
 * set_external_spte: map a private leaf.  AUG for a RUNNABLE TD; while the
 * TD is built, PAGE.ADD from KVM_TDX_INIT_MEM_REGION's source
 * (tdx_mem_page_add(), tdx_build.c), which bugs the VM for a fault that
 * does not come from that ioctl.
 */
int tdx_sept_set_private_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 mirror_spte)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */

	if (KVM_BUG_ON(level > PG_LEVEL_2M, kvm))
		return -EIO;
	if (kvm_tdx->state != TD_STATE_RUNNABLE)
		return tdx_mem_page_add(kvm, gfn, level, spte_to_pfn(mirror_spte));
	return tdx_mem_page_aug(kvm, gfn, level, spte_to_pfn(mirror_spte));
}

/* RECLAIM after the HKID is gone; the page's contents are reset for reuse. */
static int tdx_reclaim_page(struct kvm *kvm, struct page *page, unsigned long npages)
{
	u64 err, tdx_pt, tdx_owner, tdx_size;

	err = tdh_phymem_page_reclaim(page, npages, &tdx_pt, &tdx_owner, &tdx_size);
	if (TDX_BUG_ON_VM(err, TDH_PHYMEM_PAGE_RECLAIM, kvm))
		return -EIO;
	tdx_quirk_reset_paddr(page_to_phys(page), npages << PAGE_SHIFT);
	return 0;
}

/*
 * remove_external_spte: take a private leaf out of the TD.  With the HKID
 * still assigned: BLOCK, TRACK (and the kick), REMOVE, write back the cache
 * lines of every 4K page under the TD's key, reset the pages (the quirk),
 * and, for a 4K page, drop its pair use.  After tdx_mmu_release_hkid() the
 * TD is torn down and a RECLAIM replaces all of that.  Any failure leaves
 * the page with the module: it is leaked, the VM is bugged.
 */
void tdx_sept_remove_private_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				  u64 mirror_spte)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	kvm_pfn_t pfn = spte_to_pfn(mirror_spte);
	unsigned long i, npages = KVM_PAGES_PER_HPAGE(level);
	int sept_level = pg_level_to_tdx_sept_level(level);
	gpa_t gpa = gfn_to_gpa(gfn);
	u64 err, entry, level_state;

	lockdep_assert_held_write(&kvm->mmu_lock);
	tdx_check_write_locked(kvm, gfn, level, __func__);
	if (KVM_BUG_ON(level > PG_LEVEL_2M, kvm))
		return;

	if (!is_hkid_assigned(kvm_tdx)) {
		if (tdx_reclaim_page(kvm, pfn_to_page(pfn), npages))
			return;
		tdx_note_mapped(&kvm_tdx->td, gfn, level, -(long)npages);	/* I8 */
		if (level == PG_LEVEL_4K)
			tdx_pamt_put_for(kvm, pfn_to_page(pfn));
		return;
	}

	if (tdx_block_range(kvm_tdx, gpa, sept_level))
		return;
	if (tdx_track(kvm_tdx))
		return;

	err = tdh_do_no_vcpus(tdh_mem_page_remove, kvm_tdx, gpa, sept_level, &entry,
			      &level_state);
	if (TDX_BUG_ON_2_VM(err, TDH_MEM_PAGE_REMOVE, entry, level_state, kvm))
		return;

	for (i = 0; i < npages; i++) {
		err = tdh_phymem_page_wbinvd_hkid(kvm_tdx->hkid, pfn + i);
		if (TDX_BUG_ON_VM(err, TDH_PHYMEM_PAGE_WBINVD, kvm))
			return;
	}
	tdx_quirk_reset_paddr(PFN_PHYS(pfn), npages << PAGE_SHIFT);
	if (level == PG_LEVEL_4K)
		tdx_pamt_put_for(kvm, pfn_to_page(pfn));
}

/*
 * free_external_spt: an S-EPT page comes back only once the TD has no HKID
 * (the module frees no table of a live TD here); otherwise the module
 * still owns it and KVM must leak it, which an error makes it do.
 */
int tdx_sept_free_private_spt(struct kvm *kvm, gfn_t gfn, enum pg_level level,
			      void *private_spt)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	struct page *page;
	long left;

	tdx_check_write_locked(kvm, gfn, level, __func__);
	/*
	 * I8: a table goes only after the HKID (the module removes no table of
	 * a live TD) and only once nothing is mapped under it.  The count is
	 * the module's: once the VM is bugged the trees may disagree by design
	 * (I18), so only the first half holds then.
	 */
	if (is_hkid_assigned(kvm_tdx))
		kvm_check_record(kvm, KVM_INV_LEAVES_FIRST, gfn, level + 1,
				 private_spt ? page_to_phys(virt_to_page(private_spt)) : 0, 0,
				 "free_external_spt of a level %d table with the HKID assigned",
				 level);
	else if (!kvm->vm_bugged && (left = tdx_mapped_children(&kvm_tdx->td, gfn, level)) > 0)
		kvm_check_record(kvm, KVM_INV_LEAVES_FIRST, gfn, level + 1,
				 private_spt ? page_to_phys(virt_to_page(private_spt)) : 0, 0,
				 "free_external_spt of a level %d table with %ld 4K page(s) still "
				 "mapped under it", level, left);
	if (KVM_BUG_ON(is_hkid_assigned(kvm_tdx), kvm) || KVM_BUG_ON(!private_spt, kvm))
		return -EINVAL;
	page = virt_to_page(private_spt);
	if (tdx_reclaim_page(kvm, page, 1))
		return -EIO;
	tdx_note_mapped(&kvm_tdx->td, gfn, level + 1, -1);	/* I8: gone from its parent */
	tdx_pamt_put_for(kvm, page);
	return 0;
}

/*
 * tdx_flush_vp(): TDH.VP.FLUSH dissociates the vCPU from the CPU it last
 * ran on.  A vCPU that is not associated (never entered since its last
 * flush) is no error (the kernel tolerates TDX_VCPU_NOT_ASSOCIATED for
 * the same reason: nothing to flush); anything else is a KVM bug.
 */
static int tdx_flush_vp(struct kvm_vcpu *vcpu)
{
	struct vcpu_tdx *tdx = to_tdx(vcpu);
	u64 err;

	if (!tdx || !tdx->vp.tdvpr_pa)
		return 0;
	err = tdh_vp_flush(&tdx->vp);
	if (unlikely(err && err != TDX_VCPU_NOT_ASSOCIATED) && KVM_BUG_ON(err, vcpu->kvm))
		return -EIO;
	return 0;
}

int tdx_mmu_release_hkid(struct kvm *kvm)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	struct kvm_vcpu *vcpu;
	bool resume = false;
	unsigned long i;
	u64 err;

	if (!is_hkid_assigned(kvm_tdx))
		return 0;

	/*
	 * Every vCPU is flushed before VPFLUSHDONE, which fails while one is
	 * still associated (the kernel's tdx_flush_vp_on_cpu() per vCPU).
	 */
	kvm_for_each_vcpu(i, vcpu, kvm)
		if (tdx_flush_vp(vcpu))
			return -EIO;

	err = tdh_mng_vpflushdone(&kvm_tdx->td);
	if (TDX_BUG_ON_VM(err, TDH_MNG_VPFLUSHDONE, kvm))
		return -EIO;

	for (;;) {
		err = tdh_phymem_cache_wb(resume);
		if (TDX_STATUS(err) != TDX_INTERRUPTED_RESUMABLE)
			break;
		resume = true;
	}
	/* Another TD's teardown already wrote the caches back. */
	if (TDX_STATUS(err) == TDX_NO_HKID_READY_TO_WBCACHE)
		err = TDX_SUCCESS;
	if (TDX_BUG_ON_VM(err, TDH_PHYMEM_CACHE_WB, kvm))
		return -EIO;

	err = tdh_mng_key_freeid(&kvm_tdx->td);
	if (TDX_BUG_ON_VM(err, TDH_MNG_KEY_FREEID, kvm))
		return -EIO;
	kvm_tdx->hkid = 0;
	return 0;
}

/* ---- split (kvm-model.md §2.8, seamcall.md §7.2) ---- */

/* The split cache's spinlock: topper and consumer meet under it. */
static void split_cache_lock(struct kvm_tdx *t)
{
	spin_lock(&t->prealloc_split_cache_lock);
}

static void split_cache_unlock(struct kvm_tdx *t)
{
	spin_unlock(&t->prealloc_split_cache_lock);
}

void tdx_vm_init(struct kvm_tdx *t)
{
	spin_lock_init(&t->prealloc_split_cache_lock);
	t->prealloc_split_cache.cnt = 0;
	t->prealloc_split_cache.pool = KVM_POOL_SPLIT_CACHE;
	/* upstream (tdx_upstream.c): v5's per-VM PAMT cache and its mutex. */
	mutex_init(&t->pamt_cache_lock);
	t->pamt_cache.cnt = 0;
	t->pamt_cache.pool = KVM_POOL_SPLIT_CACHE;
	if (!t->kick_vcpus)
		t->kick_vcpus = tdx_kick_all_vcpus;
}

int tdx_split_cache_count(struct kvm *kvm)
{
	struct kvm_tdx *kvm_tdx;
	int cnt;

	if (!kvm || !kvm->priv)
		return -EINVAL;
	kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	if (kvm->mmu_design == KVM_MMU_DESIGN_UPSTREAM) {
		mutex_lock(&kvm_tdx->pamt_cache_lock);
		cnt = kvm_tdx->pamt_cache.cnt;
		mutex_unlock(&kvm_tdx->pamt_cache_lock);
	} else {
		split_cache_lock(kvm_tdx);
		cnt = kvm_tdx->prealloc_split_cache.cnt;
		split_cache_unlock(kvm_tdx);
	}
	return cnt;
}

/* A 2M split needs a pair for the new S-EPT page and one for the guest range. */
static int tdx_split_cache_min(enum pg_level level)
{
	return level == PG_LEVEL_2M ? TDX_MIN_SPLIT_CACHE_SZ : 0;
}

static bool tdx_need_topup_external_per_vm_split_cache(struct kvm *kvm, enum pg_level level)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	bool need;

	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo))
		return false;
	split_cache_lock(kvm_tdx);
	need = kvm_tdx->prealloc_split_cache.cnt < tdx_split_cache_min(level);
	split_cache_unlock(kvm_tdx);
	return need;
}

/*
 * Called with mmu_lock dropped: allocate (may sleep) outside the spinlock,
 * add under it; a page another topper made unnecessary goes back.
 */
static int tdx_topup_external_per_vm_split_cache(struct kvm *kvm, enum pg_level level)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	struct tdx_pamt_cache *cache = &kvm_tdx->prealloc_split_cache;
	int min = tdx_split_cache_min(level);

	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo))
		return 0;
	for (;;) {
		struct page *page;
		bool added = false;
		gfp_t gfp;

		split_cache_lock(kvm_tdx);
		if (cache->cnt >= min) {
			split_cache_unlock(kvm_tdx);
			return 0;
		}
		split_cache_unlock(kvm_tdx);

		/*
		 * v3 (P20) allocates with GFP_KERNEL: the VM's memcg is not
		 * charged.  Sean (000 line 57) asked for GFP_KERNEL_ACCOUNT;
		 * Yan agreed: split_cache_account (S32c).
		 */
		gfp = kvm_tdx->split_cache_account ? GFP_KERNEL_ACCOUNT : GFP_KERNEL;
		page = alloc_page(gfp);
		if (!page)
			return -ENOMEM;
		prov(KVM_PROV_ALLOC, page, KVM_POOL_SPLIT_CACHE);
		__atomic_add_fetch(&kvm->stat.split_cache_allocated, 1, __ATOMIC_RELAXED);
		if (gfp & __GFP_ACCOUNT)
			__atomic_add_fetch(&kvm->stat.split_cache_charged, 1, __ATOMIC_RELAXED);

		split_cache_lock(kvm_tdx);
		if (cache->cnt < TDX_PAMT_CACHE_MAX) {
			prov(KVM_PROV_CACHE_PUT, page, KVM_POOL_SPLIT_CACHE);
			cache->pages[cache->cnt++] = page;
			added = true;
		}
		split_cache_unlock(kvm_tdx);
		if (!added) {
			prov(KVM_PROV_FREE, page, KVM_POOL_SPLIT_CACHE);
			__free_page(page);
		}
	}
}

static void tdx_free_external_per_vm_split_cache(struct kvm *kvm)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */

	split_cache_lock(kvm_tdx);
	tdx_pamt_cache_free(&kvm_tdx->prealloc_split_cache);
	split_cache_unlock(kvm_tdx);
}

/*
 * split_external_spte: a 2M private leaf becomes a table of 512 4K leaves
 * (BLOCK, TRACK and the kick, then DEMOTE with the new S-EPT page and the
 * guest range's pair; tdx_split_2m).  The pages the split needs are taken
 * from the per-VM cache under its lock, and the count re-checked there
 * (the caller's need_topup ran before it retook mmu_lock; 004): too few is
 * a KVM bug.  Unused pages go back to the cache.  Under the shared
 * mmu_lock TDX cannot split (spec §2.10): refused with a WARN before any
 * SEAMCALL.
 * Any other failure bugs the VM: the mirror already shows the split.
 */
int tdx_sept_split_private_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				u64 old_mirror_spte, void *new_private_spt, bool mmu_lock_shared)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	struct tdx_pamt_cache *vm_cache = &kvm_tdx->prealloc_split_cache;
	struct tdx_pamt_cache local = { .cnt = 0, .pool = KVM_POOL_SPLIT_CACHE };
	int ret = 0, taken = 0;

	/*
	 * 003:P09 makes the refusal loud: a split under the read lock means
	 * KVM took a path TDX does not support yet (kvm-model §2.10, S10d).
	 */
	if (WARN_ON_ONCE(mmu_lock_shared)) {
		pr_warn_once("Splitting of GFN %llx level %d under shared lock is not supported yet\n",
			     (unsigned long long)gfn, level);
		return -EOPNOTSUPP;
	}
	lockdep_assert_held_write(&kvm->mmu_lock);
	tdx_check_write_locked(kvm, gfn, level, __func__);
	if (KVM_BUG_ON(level != PG_LEVEL_2M || !new_private_spt, kvm))
		return -EIO;
	if (KVM_BUG_ON(!is_hkid_assigned(kvm_tdx), kvm))
		return -EIO;

	if (tdx_supports_dynamic_pamt(&tdx_sysinfo)) {
		bool recheck = !(kvm->defects & TDXSIM_KVM_DEFECT_CONSUME_WITHOUT_RECHECK);

		split_cache_lock(kvm_tdx);
		if (vm_cache->cnt >= TDX_MIN_SPLIT_CACHE_SZ || !recheck) {
			/* I3: never from a short cache (the defect's case). */
			if (vm_cache->cnt < TDX_MIN_SPLIT_CACHE_SZ)
				kvm_check_record(kvm, KVM_INV_SPLIT_DEQUEUE, gfn, level, 0,
						 old_mirror_spte, "split dequeued from a short "
						 "cache: %d page(s), %d needed", vm_cache->cnt,
						 TDX_MIN_SPLIT_CACHE_SZ);
			while (local.cnt < TDX_MIN_SPLIT_CACHE_SZ && vm_cache->cnt)
				local.pages[local.cnt++] = vm_cache->pages[--vm_cache->cnt];
			taken = local.cnt;
		} else {
			ret = -ENOMEM;
		}
		split_cache_unlock(kvm_tdx);
		if (KVM_BUG_ON(ret, kvm))
			return ret;
	}

	ret = tdx_split_2m(kvm_tdx, gfn_to_gpa(gfn), spte_to_pfn(old_mirror_spte),
			   virt_to_page(new_private_spt), &local);
	/* I3: a split uses at most a pair for the S-EPT page and one for the range. */
	if (taken - local.cnt > 2 * TDX_DPAMT_ENTRY_PAGES)
		kvm_check_record(kvm, KVM_INV_SPLIT_DEQUEUE, gfn, level, 0, old_mirror_spte,
				 "the split used %d cache pages", taken - local.cnt);

	/* What the split did not use (the S-EPT page's range had its pair). */
	split_cache_lock(kvm_tdx);
	while (local.cnt && vm_cache->cnt < TDX_PAMT_CACHE_MAX)
		vm_cache->pages[vm_cache->cnt++] = local.pages[--local.cnt];
	split_cache_unlock(kvm_tdx);
	tdx_pamt_cache_free(&local);
	return ret;
}

const struct kvm_x86_ops tdx_x86_ops = {
	.name = "tdx",
	.link_external_spt = tdx_sept_link_private_spt,
	.set_external_spte = tdx_sept_set_private_spte,
	.free_external_spt = tdx_sept_free_private_spt,
	.remove_external_spte = tdx_sept_remove_private_spte,
	.split_external_spte = tdx_sept_split_private_spte,
	.topup_external_per_vm_split_cache = tdx_topup_external_per_vm_split_cache,
	.need_topup_external_per_vm_split_cache = tdx_need_topup_external_per_vm_split_cache,
	.free_external_per_vm_split_cache = tdx_free_external_per_vm_split_cache,
	.alloc_external_fault_cache = tdx_alloc_external_fault_cache,
	.topup_external_fault_cache = tdx_topup_external_fault_cache,
	.free_external_fault_cache = tdx_free_external_fault_cache,
	.gmem_max_mapping_level = tdx_gmem_max_mapping_level,
};

/* ---- the same bodies behind the upstream funnel (kvm-upstream.md §3) ---- */

/*
 * set_external_spte(kvm, gfn, old, new, level), the 7.2 funnel (the kernel
 * names TDX's side tdx_sept_set_private_spte; that name is the v3 hook's
 * here).  The transition picks the body, in the order kvm-upstream.md §3
 * gives for TDX's dispatch:
 *  - old and new present: a huge leaf becomes a table whose child the MMU
 *    filled in already (split, v5 only);
 *  - old present: a leaf goes (tdx_sept_remove_leaf_spte upstream); the
 *    removal of a table never comes here, it goes to free_external_spt;
 *  - new not present: nothing the module could do, a KVM bug;
 *  - new non-leaf: SEPT.ADD of the child's page (tdx_sept_map_nonleaf_spte);
 *  - else AUG of the leaf (tdx_sept_map_leaf_spte).
 * Upstream moved the transition checks of __tdp_mmu_set_spte_atomic() into
 * TDX ("Move KVM_BUG_ON()s ... to TDX code"): an impossible pair bugs the
 * VM here.  The funnel carries no "shared" flag: a split learns it from
 * who holds mmu_lock, and is refused under the read lock as the v3 hook
 * refuses it (kvm-upstream.md is silent on a shared split; v3 behaviour).
 */
int tdx_sept_set_private_spte_upstream(struct kvm *kvm, gfn_t gfn, u64 old_spte, u64 new_spte,
				       enum pg_level level)
{
	bool was_present = is_shadow_present_pte(old_spte);
	bool is_present = is_shadow_present_pte(new_spte);
	bool old_is_leaf = was_present && is_last_spte(old_spte, level);
	bool new_is_leaf = is_present && is_last_spte(new_spte, level);

	if (was_present && is_present) {
		/* Only leaf -> table is a split; a PFN or level change in place is a bug. */
		if (KVM_BUG_ON(!old_is_leaf || new_is_leaf, kvm))
			return -EIO;
		return tdx_sept_split_private_spte_upstream(kvm, gfn, level, old_spte,
							    spte_to_child_sp(new_spte)->external_spt);
	}
	if (was_present) {
		if (KVM_BUG_ON(!old_is_leaf, kvm))
			return -EIO;
		tdx_sept_remove_private_spte(kvm, gfn, level, old_spte);
		return 0;
	}
	if (KVM_BUG_ON(!is_present, kvm))
		return -EIO;
	if (!new_is_leaf)
		return tdx_sept_link_private_spt(kvm, gfn, level,
						 spte_to_child_sp(new_spte)->external_spt);
	return tdx_sept_set_private_spte(kvm, gfn, level, new_spte);
}

/*
 * free_external_spt(kvm, sp): upstream moved the error handling into TDX
 * ("Move error handling inside free_external_spt()"): a page the module may
 * still own (HKID assigned, RECLAIM failed) is leaked by clearing
 * sp->external_spt, so KVM's free of the sp leaves it alone.
 */
void tdx_sept_free_private_spt_upstream(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	if (tdx_sept_free_private_spt(kvm, sp->gfn, sp->role.level, sp->external_spt)) {
		if (sp->external_spt)
			prov(KVM_PROV_LEAK, virt_to_page(sp->external_spt), KVM_POOL_OTHER);
		sp->external_spt = NULL;
	}
}

const struct kvm_x86_ops_upstream tdx_x86_ops_upstream = {
	.name = "tdx (upstream funnel)",
	.set_external_spte = tdx_sept_set_private_spte_upstream,
	.free_external_spt = tdx_sept_free_private_spt_upstream,
};

/*
 * The auxiliary ops an upstream VM takes from struct kvm_x86_ops; none of
 * the five v3 hooks, so an MMU path that reached one would get -EOPNOTSUPP.
 *
 * Fault prealloc: DPAMT v6 lets KVM allocate the S-EPT page and TDX count
 * its pair from the vCPU's cache right before SEPT.ADD (kvm-upstream.md
 * §3, §4); the model's MMU takes the page from alloc_external_fault_cache
 * either way, and tdx_sept_link_private_spt() does the tdx_pamt_get() from
 * the vCPU's cache, so the v3 ops serve both.
 *
 * Split cache: v5's protocol, not v3's (tdx_upstream.c, kvm-upstream.md
 * §5): tdx_gmem_convert() takes kvm_tdx->pamt_cache_lock (a mutex) before
 * the write mmu_lock and tops kvm_tdx->pamt_cache up there; a split takes
 * its pages from tdx_get_pamt_cache() (the running vCPU's cache, else the
 * per-VM one with the mutex asserted).  The MMU's need_topup/topup ops
 * serve the vCPU's cache (and a caller without the mutex, which the assert
 * reports); under the mutex they find the cache full and never drop
 * mmu_lock for it.
 */
const struct kvm_x86_ops tdx_x86_ops_upstream_aux = {
	.name = "tdx (upstream auxiliary ops)",
	.topup_external_per_vm_split_cache = tdx_topup_external_pamt_cache,
	.need_topup_external_per_vm_split_cache = tdx_need_topup_external_pamt_cache,
	.free_external_per_vm_split_cache = tdx_free_external_pamt_cache,
	.gmem_convert = tdx_gmem_convert,
	.alloc_external_fault_cache = tdx_alloc_external_fault_cache,
	.topup_external_fault_cache = tdx_topup_external_fault_cache,
	.free_external_fault_cache = tdx_free_external_fault_cache,
	.gmem_max_mapping_level = tdx_gmem_max_mapping_level,
};

bool tdx_is_td_vm(struct kvm *kvm)
{
	return kvm && kvm->priv && kvm->x86_ops &&
	       kvm->x86_ops->alloc_external_fault_cache == tdx_alloc_external_fault_cache &&
	       to_kvm_tdx(kvm)->kvm == kvm;
}
