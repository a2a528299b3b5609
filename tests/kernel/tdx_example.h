/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel-shaped SEAMCALL wrappers and Dynamic-PAMT refcounting, written for
 * this test in the style of arch/x86/virt/vmx/tdx and built only against
 * <tdxsim/kernel.h>.  Behaviour follows spec seamcall.md §4.4 and §7.1-§7.6.
 *
 * Levels are TDX levels (TDX_PS_4K, TDX_PS_2M).
 */
#ifndef TDX_EXAMPLE_H
#define TDX_EXAMPLE_H

#include <tdxsim/kernel.h>

/* Pages of one Dynamic-PAMT pair, tdx_dpamt_entry_pages() (spec §4.2). */
#define TDX_DPAMT_ENTRY_PAGES	2
/* Room for a split: one pair for the new S-EPT page, one for the guest range (§4.5). */
#define TDX_MIN_SPLIT_CACHE_SZ	(2 * TDX_DPAMT_ENTRY_PAGES)
#define TDX_PAMT_CACHE_MAX	8

/* KVM's per-TD state: the TDX core's struct tdx_td (asm/tdx.h) and KVM's own. */
struct kvm_tdx {
	struct tdx_td td;
	u16 hkid;
	/* KVM's kvm_make_all_cpus_request(kvm, KVM_REQ_OUTSIDE_GUEST_MODE). */
	void (*kick_vcpus)(struct kvm_tdx *kvm_tdx);
	void *kvm;
};

/* Pages set aside for PAMT pairs where allocating is not allowed (§7.8). */
struct tdx_pamt_cache {
	struct page *pages[TDX_PAMT_CACHE_MAX];
	int cnt;
};

/* Module bring-up against the thread's current simulator: 0, -ENODEV or -ENOMEM. */
int tdx_example_init(void);
void tdx_example_exit(void);

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

#endif /* TDX_EXAMPLE_H */
