/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KVM's TDX backend (sim/tdx/, part of libtdxsim-kvm.a): the TDX core's
 * SEAMCALL wrappers and Dynamic-PAMT refcounting (tdx_core.c, the role of
 * arch/x86/virt/vmx/tdx/tdx.c) and KVM's callers of them (tdx.c, the role of
 * arch/x86/kvm/vmx/tdx.c).  Kernel-shaped, built only against
 * <tdxsim/kernel.h>: every SEAMCALL goes to the thread's current simulator
 * (tdxsim_kernel_set_current()).  Behaviour: spec seamcall.md §4.4, §7.1-§7.6.
 *
 * Levels of the tdh_*() wrappers are TDX levels (TDX_PS_4K, TDX_PS_2M).
 *
 * Thread safety: tdx_pamt_get/put serialise on one global lock, as the
 * kernel's do; the refcount array is global too (one simulator's physical
 * range at a time: tdx_pamt_refcounts_init() sizes it for the current one).
 */
#ifndef TDXSIM_KVM_TDX_H
#define TDXSIM_KVM_TDX_H

#include <tdxsim/kernel.h>

#pragma GCC visibility push(default)

/* Pages of one Dynamic-PAMT pair, tdx_dpamt_entry_pages() (spec §4.2). */
#define TDX_DPAMT_ENTRY_PAGES	2
/* Room for a split: one pair for the new S-EPT page, one for the guest range (§4.5). */
#define TDX_MIN_SPLIT_CACHE_SZ	(2 * TDX_DPAMT_ENTRY_PAGES)
#define TDX_PAMT_CACHE_MAX	8

struct kvm;

/*
 * KVM's per-TD state: the TDX core's struct tdx_td (asm/tdx.h) and KVM's own.
 * The kernel embeds struct kvm; here @kvm points at it (NULL when the caller
 * drives the wrappers without a VM, as tests/kernel does): a TDX_BUG_ON then
 * marks that VM bugged.
 */
struct kvm_tdx {
	struct tdx_td td;
	u16 hkid;
	/*
	 * KVM's kvm_make_all_cpus_request(kvm, KVM_REQ_OUTSIDE_GUEST_MODE);
	 * NULL: the VM has no vCPU in guest mode, nothing to kick.
	 */
	void (*kick_vcpus)(struct kvm_tdx *kvm_tdx);
	void *kick_arg;		/* for kick_vcpus */
	struct kvm *kvm;
};

/* Pages set aside for PAMT pairs where allocating is not allowed (§7.8). */
struct tdx_pamt_cache {
	struct page *pages[TDX_PAMT_CACHE_MAX];
	int cnt;
};

/*
 * The per-2MB refcount array, sized for the thread's current simulator (the
 * kernel's tdx_init_pamt_refcounts() at module bring-up): 0, -ENODEV (no
 * current simulator) or -ENOMEM.  Not thread-safe against tdx_pamt_get/put.
 */
int tdx_pamt_refcounts_init(void);
void tdx_pamt_refcounts_free(void);

/* The kernel's per-2MB count of 4K users of a DPAMT pair (§4.4). */
atomic_t *tdx_find_pamt_refcount(u64 pfn);

u64 tdh_mem_sept_add(struct tdx_td *td, u64 gpa, int level, struct page *page,
		     u64 *ext_entry, u64 *ext_level_state);
u64 tdh_mem_page_aug(struct tdx_td *td, u64 gpa, int level, kvm_pfn_t pfn,
		     u64 *ext_entry, u64 *ext_level_state);
u64 tdh_mem_range_block(struct tdx_td *td, u64 gpa, int level, u64 *ext_entry,
			u64 *ext_level_state);
u64 tdh_mem_track(struct tdx_td *td);
u64 tdh_mem_page_remove(struct tdx_td *td, u64 gpa, int level, u64 *ext_entry,
			u64 *ext_level_state);
u64 tdh_mem_page_demote(struct tdx_td *td, u64 gpa, int level, kvm_pfn_t pfn,
			struct page *new_sept_page, struct tdx_pamt_cache *pamt_cache,
			u64 *ext_entry, u64 *ext_level_state);
u64 tdh_phymem_page_wbinvd_hkid(u16 hkid, kvm_pfn_t pfn);
u64 tdh_phymem_page_reclaim(struct page *page, unsigned long npages, u64 *tdx_pt,
			    u64 *tdx_owner, u64 *tdx_size);

int tdx_pamt_get(struct page *page, struct tdx_pamt_cache *cache);
void tdx_pamt_put(struct page *page);
int tdx_pamt_cache_topup(struct tdx_pamt_cache *cache, int min);
void tdx_pamt_cache_free(struct tdx_pamt_cache *cache);

/* KVM-side callers: 0 or -EIO (the VM is then bugged, see the recorded events). */
int tdx_track(struct kvm_tdx *kvm_tdx);
int tdx_block_range(struct kvm_tdx *kvm_tdx, gpa_t gpa, int level);
int tdx_demote_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa, kvm_pfn_t pfn, struct page *new_sp,
		  struct tdx_pamt_cache *cache);
int tdx_split_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa, kvm_pfn_t pfn, struct page *new_sp,
		 struct tdx_pamt_cache *cache);

#pragma GCC visibility pop

#endif /* TDXSIM_KVM_TDX_H */
