/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to sim/tdx.  The kernel shim's TDX_BUG_ON() records the event but
 * cannot mark a VM (it has no struct kvm); KVM's marks it bugged, so here a
 * failed SEAMCALL also sets kvm->vm_bugged of the kvm_tdx's VM, if it has one.
 */
#ifndef TDXSIM_SIM_TDX_INTERNAL_H
#define TDXSIM_SIM_TDX_INTERNAL_H

#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdx.h>

/* KVM's KVM_BUG_ON: records the event and marks @kvm (if any) bugged. */
#undef KVM_BUG_ON
#define KVM_BUG_ON(cond, kvm)	__kvm_bug_on((kvm), !!(cond), __FILE__, __LINE__, #cond)

static inline bool tdx_mark_bugged(struct kvm *kvm, bool bugged)
{
	if (bugged && kvm)
		__atomic_store_n(&kvm->vm_bugged, true, __ATOMIC_RELAXED);
	return bugged;
}

/* #fn here, before TDH_* expands to its number (as the shim's TDX_BUG_ON does). */
#define TDX_BUG_ON_VM(err, fn, kvm)						\
	tdx_mark_bugged((kvm), __TDX_BUG_ON(err, #fn, ""))
#define TDX_BUG_ON_2_VM(err, fn, a1, a2, kvm)					\
	tdx_mark_bugged((kvm), __TDX_BUG_ON(err, #fn, ", " #a1 " %#llx, " #a2 " %#llx",	\
					    (unsigned long long)(a1),		\
					    (unsigned long long)(a2)))

/*
 * kvm_make_all_cpus_request(kvm, KVM_REQ_OUTSIDE_GUEST_MODE).  A VM whose
 * kvm_tdx has no kick_vcpus has no vCPU that can be in guest mode (this
 * slice of the backend runs no vCPUs): nothing to kick, the TRACK alone
 * starts the new epoch.
 */
static inline void tdx_kick_vcpus(struct kvm_tdx *kvm_tdx)
{
	if (kvm_tdx->kick_vcpus)
		kvm_tdx->kick_vcpus(kvm_tdx);
}

/*
 * Only vCPUs in the guest can make BLOCK, TRACK, DEMOTE or REMOVE lose a
 * lock to the module (the TD epoch, the S-EPT entry).  On BUSY, keep every
 * vCPU from entering again (wait_for_sept_zap), force the ones in the guest
 * out, and issue the same call once more: nothing is left to contend, so a
 * second BUSY is a KVM or module bug that the caller's TDX_BUG_ON reports
 * (spec kvm-model.md §2.6, seamcall.md §7.3).  KVM's callers hold mmu_lock
 * for write; a kvm_tdx without a VM (tests/kernel drives the wrappers
 * directly) has no mmu_lock to hold.
 * TDXSIM_KVM_DEFECT_NO_KICK_BEFORE_RETRY retries straight away (S09).
 */
static inline bool tdx_defect(struct kvm_tdx *kvm_tdx, unsigned int defect)
{
	return kvm_tdx->kvm && (kvm_tdx->kvm->defects & defect);
}

#define tdh_do_no_vcpus(tdh_func, kvm_tdx, ...) ({				\
	struct kvm_tdx *__kt = (kvm_tdx);					\
	bool __kick = !tdx_defect(__kt, TDXSIM_KVM_DEFECT_NO_KICK_BEFORE_RETRY); \
	u64 __err;								\
										\
	if (__kt->kvm)								\
		lockdep_assert_held_write(&__kt->kvm->mmu_lock);		\
	__err = tdh_func(&__kt->td, ##__VA_ARGS__);				\
	if (IS_TDX_OPERAND_BUSY(__err)) {					\
		if (__kick) {							\
			WRITE_ONCE(__kt->wait_for_sept_zap, true);		\
			tdx_kick_vcpus(__kt);					\
		}								\
		__err = tdh_func(&__kt->td, ##__VA_ARGS__);			\
		WRITE_ONCE(__kt->wait_for_sept_zap, false);			\
	}									\
	__err;									\
})

/* I8's count of entries mapped under each S-EPT table of @td (<tdxsim-kvm/check.h>). */
static inline void tdx_note_mapped(const struct tdx_td *td, gfn_t gfn, int level, long delta)
{
	kvm_check_note_mapped(page_to_phys(td->tdr_page), gfn, level, delta);
}

static inline long tdx_mapped_children(const struct tdx_td *td, gfn_t gfn, int level)
{
	return kvm_check_mapped_children(page_to_phys(td->tdr_page), gfn, level);
}

/*
 * A SEAMCALL that gives the TD a page (PAGE.ADD, SEPT.ADD, PAGE.AUG) as the
 * hook returns it: BUSY is the caller's to retry (-EBUSY), any other error
 * bugs the VM (-EIO), success 0.  #fn here, as TDX_BUG_ON_2_VM does it.
 */
#define tdx_map_call_ret(err, fn, entry, level_state, kvm)			\
	(unlikely(IS_TDX_OPERAND_BUSY(err)) ? -EBUSY :				\
	 tdx_mark_bugged((kvm), __TDX_BUG_ON(err, #fn, ", entry %#llx, level_state %#llx", \
					     (unsigned long long)(entry),	\
					     (unsigned long long)(level_state))) ? -EIO : 0)

/*
 * The pairs a hook may need come from the vCPU faulting on this thread, as
 * the kernel takes them from the running vCPU's prealloc; with none (not on
 * a fault path) tdx_pamt_get() falls back to the page allocator.
 */
static inline struct tdx_pamt_cache *tdx_fault_pamt_cache(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu = kvm_get_running_vcpu();
	struct vcpu_tdx *tdx;

	if (!vcpu || vcpu->kvm != kvm)
		return NULL;
	tdx = vcpu->priv;	/* to_tdx() */
	return tdx ? &tdx->pamt_cache : NULL;
}

/*
 * BLOCK the 2M leaf at @gpa, then TRACK and the kick, so DEMOTE may split
 * it next (§2.8; v3's tdx_split_2m() and upstream's split both).
 * TDXSIM_KVM_DEFECT_SKIP_TRACK leaves the TRACK out (S12 b).
 */
int tdx_block_track_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa);

/*
 * tdx_core.c's Dynamic-PAMT internals, shared with the v6 get/put of
 * tdx_upstream.c: the global lock, PAMT.ADD/REMOVE of a page's 2MB range,
 * a pair from a cache (then the allocator) and back.
 */
extern spinlock_t pamt_lock;
u64 tdh_phymem_pamt_add(struct page *page, struct page **pamt_pages);
u64 tdh_phymem_pamt_remove(struct page *page, struct page **pamt_pages);
int pamt_pages_alloc(struct page **pages, struct tdx_pamt_cache *cache);
void pamt_pages_release(struct page **pages, int nr, struct tdx_pamt_cache *cache);

/*
 * Not the kernel's: tdx.c's bodies serve both designs, and each design
 * keeps its own DPAMT API (v3's page-based one, v6's for upstream), which
 * must never meet on one refcount (their puts reach 0 differently).
 */
static inline int tdx_pamt_get_for(struct kvm *kvm, struct page *page,
				   struct tdx_pamt_cache *cache)
{
	if (kvm && kvm->mmu_design == KVM_MMU_DESIGN_UPSTREAM)
		return tdx_pamt_get_v6(page_to_pfn(page), cache);
	return tdx_pamt_get(page, cache);
}

static inline void tdx_pamt_put_for(struct kvm *kvm, struct page *page)
{
	if (kvm && kvm->mmu_design == KVM_MMU_DESIGN_UPSTREAM)
		tdx_pamt_put_v6(page_to_pfn(page));
	else
		tdx_pamt_put(page);
}

/* ---- tdx_upstream.c: the upstream design's split path (kvm-upstream.md §4-§5) ---- */
int tdx_sept_split_private_spte_upstream(struct kvm *kvm, gfn_t gfn, enum pg_level level,
					 u64 old_spte, void *new_external_spt);
int tdx_gmem_convert(struct kvm *kvm, gfn_t start, gfn_t end, bool to_private);
bool tdx_need_topup_external_pamt_cache(struct kvm *kvm, enum pg_level level);
int tdx_topup_external_pamt_cache(struct kvm *kvm, enum pg_level level);
void tdx_free_external_pamt_cache(struct kvm *kvm);

#endif /* TDXSIM_SIM_TDX_INTERNAL_H */
