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
#include <tdxsim-kvm/kvm_host.h>

#pragma GCC visibility push(default)

/* Pages of one Dynamic-PAMT pair, tdx_dpamt_entry_pages() (spec §4.2). */
#define TDX_DPAMT_ENTRY_PAGES	2
/* Room for a split: one pair for the new S-EPT page, one for the guest range (§4.5). */
#define TDX_MIN_SPLIT_CACHE_SZ	(2 * TDX_DPAMT_ENTRY_PAGES)
/* Room for a fault at 5 levels: a pair per S-EPT page and one for a 4K guest page. */
#define TDX_PAMT_CACHE_MAX	16

/* Pages set aside for PAMT pairs where allocating is not allowed (§7.8). */
struct tdx_pamt_cache {
	struct page *pages[TDX_PAMT_CACHE_MAX];
	int cnt;
	/*
	 * The provenance ledger's pool of the cache's pages (<tdxsim-kvm/check.h>):
	 * KVM_POOL_VCPU_PREALLOC, KVM_POOL_SPLIT_CACHE; 0 (unset) is a PAMT
	 * page cache of its own, KVM_POOL_PAMT_PAIR.
	 */
	enum kvm_page_pool pool;
};

/* KVM's kvm_tdx->state (arch/x86/kvm/vmx/tdx.h). */
enum kvm_tdx_state {
	TD_STATE_UNINITIALIZED = 0,
	TD_STATE_INITIALIZED,		/* MNG.INIT done: being built (PAGE.ADD) */
	TD_STATE_RUNNABLE,		/* MR.FINALIZE done: private memory by AUG */
};

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
	 * tdx_vm_init() sets tdx_kick_all_vcpus() unless the caller set one.
	 * NULL: nothing is kicked.
	 */
	void (*kick_vcpus)(struct kvm_tdx *kvm_tdx);
	void *kick_arg;		/* for kick_vcpus */
	/*
	 * Set while tdh_do_no_vcpus() retries a SEAMCALL that lost to a vCPU:
	 * KVM's vCPU entry refuses to enter the TD meanwhile
	 * (tdx_vcpu_enter() answers -EAGAIN).
	 */
	bool wait_for_sept_zap;
	/*
	 * S08b, CL Note #2's test-only workaround: 0 = off; N = the split's
	 * DEMOTE is re-issued on TDX_INTERRUPTED_RESTARTABLE up to N times
	 * (tdh_mem_page_demote_loop()), counted in kvm->stat.demote_restarts.
	 */
	unsigned int demote_restart_bound;
	/*
	 * S32c: v3's split-cache top-up allocates with GFP_KERNEL (false, the
	 * posted code: not charged to the VM's memcg); true is the fix Sean
	 * asked for and Yan agreed to (000 line 57): GFP_KERNEL_ACCOUNT.
	 */
	bool split_cache_account;
	/*
	 * S29, Sean's proposal (003 P19 12597-12729): tdx_pamt_get() for each
	 * S-EPT page when the vCPU's fault cache is topped up (counted in
	 * kvm->stat.topup_pairs when it installs a pair), none at SEPT.ADD;
	 * the cache's leftovers are put when it is freed.
	 */
	bool dpamt_at_topup;
	struct kvm *kvm;
	enum kvm_tdx_state state;
	/*
	 * KVM_TDX_INIT_MEM_REGION's source page while one page of it is
	 * mapped (tdx_gmem_post_populate()); a fault that reaches
	 * tdx_mem_page_add() without it is a KVM bug.
	 */
	struct page *page_add_src;
	/*
	 * The per-VM split cache: PAMT pages for a split under mmu_lock, where
	 * nothing may be allocated.  Topped up with mmu_lock dropped, consumed
	 * under it; its own spinlock orders the two (spec kvm-model.md §2.8).
	 * tdx_vm_init() sets it up.
	 */
	spinlock_t prealloc_split_cache_lock;
	struct tdx_pamt_cache prealloc_split_cache;
	/*
	 * The upstream design (v5, kvm-upstream.md §5; tdx_upstream.c): the
	 * per-VM PAMT cache for splits outside a vCPU, guarded by a mutex
	 * that tdx_gmem_convert() takes before the write mmu_lock, so the
	 * cache is topped up (may sleep) and consumed under one lock hold.
	 * v3 VMs leave both unused.
	 */
	struct mutex pamt_cache_lock;
	struct tdx_pamt_cache pamt_cache;
};

/* The parts of struct kvm_tdx the caller does not fill in; no failure. */
void tdx_vm_init(struct kvm_tdx *kvm_tdx);

/* is_hkid_assigned(): tdx_mmu_release_hkid() sets hkid to 0, never a private KeyID. */
static inline bool is_hkid_assigned(const struct kvm_tdx *kvm_tdx)
{
	return kvm_tdx->hkid > 0;
}

/* S-EPT pages a fault may need below a 5-level root (the vCPU's prealloc). */
#define TDX_FAULT_SPT_PAGES	4


/*
 * The per-2MB refcount array, sized for the thread's current simulator (the
 * kernel's tdx_init_pamt_refcounts() at module bring-up): 0, -ENODEV (no
 * current simulator) or -ENOMEM.  Not thread-safe against tdx_pamt_get/put.
 */
int tdx_pamt_refcounts_init(void);
void tdx_pamt_refcounts_free(void);

/* The kernel's per-2MB count of 4K users of a DPAMT pair (§4.4); NULL beyond the TDMRs. */
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
/*
 * tdh_mem_page_demote() with CL Note #2's workaround when @restart_bound
 * > 0 (S08b): no ENHANCED_DEMOTE_INTERRUPTIBILITY check, and
 * TDX_INTERRUPTED_RESTARTABLE re-issued up to @restart_bound times (then
 * a pr_err "no forward progress" and that status).  *@restarts: re-issues.
 */
u64 tdh_mem_page_demote_loop(struct tdx_td *td, u64 gpa, int level, kvm_pfn_t pfn,
			     struct page *new_sept_page, struct tdx_pamt_cache *pamt_cache,
			     u64 *ext_entry, u64 *ext_level_state, unsigned int restart_bound,
			     unsigned int *restarts);
u64 tdh_phymem_page_wbinvd_hkid(u16 hkid, kvm_pfn_t pfn);
u64 tdh_phymem_page_reclaim(struct page *page, unsigned long npages, u64 *tdx_pt,
			    u64 *tdx_owner, u64 *tdx_size);

u64 tdh_mem_page_add(struct tdx_td *td, u64 gpa, struct page *page, struct page *source,
		     u64 *ext_entry, u64 *ext_level_state);
u64 tdh_mr_finalize(struct tdx_td *td);
u64 tdh_vp_flush(struct tdx_vp *vp);
u64 tdh_mng_vpflushdone(struct tdx_td *td);
u64 tdh_mng_key_freeid(struct tdx_td *td);
u64 tdh_phymem_cache_wb(bool resume);

int tdx_pamt_get(struct page *page, struct tdx_pamt_cache *cache);
void tdx_pamt_put(struct page *page);
int tdx_pamt_cache_topup(struct tdx_pamt_cache *cache, int min);
void tdx_pamt_cache_free(struct tdx_pamt_cache *cache);

/*
 * ---- the upstream design's TDX core API (tdx_upstream.c; kvm-upstream.md §4-§5) ----
 *
 * Dynamic PAMT v6 names its calls tdx_pamt_get(pfn, cache) and
 * tdx_pamt_put(pfn), and the v5/v6 DEMOTE wrapper takes a KVM level
 * (enum pg_level).  v3's page-based tdx_pamt_get(page, cache) and its
 * TDX-level tdh_mem_page_demote() above keep those names for the v3
 * design, and C has no overloading: the v6 shapes carry a _v6 suffix.
 * Both count on the same per-2MB refcounts and the same global lock.
 */

/*
 * One more user of the DPAMT pair of @pfn's 2MB range: the pair comes from
 * @cache (NULL: the page allocator) when the range has none.  The v6
 * protocol: lockless atomic_inc_not_zero(); else under the global lock,
 * re-check, PAMT.ADD, count 1; a failing PAMT.ADD WARNs and gives -EIO.
 * 0, -ENOMEM (no pages), -EIO.  No DPAMT: 0.  Thread-safe.
 */
int tdx_pamt_get_v6(kvm_pfn_t pfn, struct tdx_pamt_cache *cache);
/*
 * One user less: the last one (atomic_dec_and_lock(), so a count of 0 is
 * seen only under the lock) removes the pair with PAMT.REMOVE and frees
 * its pages; a failing PAMT.REMOVE WARNs, sets the count back to 1 and
 * keeps the pages.  Thread-safe.
 */
void tdx_pamt_put_v6(kvm_pfn_t pfn);

/*
 * TDH.MEM.PAGE.DEMOTE, v5/v6 shape: @level is the KVM level of the leaf
 * (PG_LEVEL_2M), @pfn its first page, @new_sp the new S-EPT page.
 * TDX_SW_ERROR without issuing the SEAMCALL when the module lacks
 * ENHANCED_DEMOTE_INTERRUPTIBILITY (KVM could not restart an interrupted
 * DEMOTE) or, with Dynamic PAMT, when @pamt_cache holds no pair for
 * R12/R13; on success the range's refcount goes 0 -> 512 (a WARN if it
 * was not 0).  Pages of a failed call go back to @cache.
 */
u64 tdh_mem_page_demote_v6(struct tdx_td *td, u64 gpa, enum pg_level level, u64 pfn,
			   struct page *new_sp, struct tdx_pamt_cache *cache,
			   u64 *ext_err1, u64 *ext_err2);

/* KVM-side callers: 0 or -EIO (the VM is then bugged, see the recorded events). */
int tdx_track(struct kvm_tdx *kvm_tdx);
int tdx_block_range(struct kvm_tdx *kvm_tdx, gpa_t gpa, int level);
int tdx_demote_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa, kvm_pfn_t pfn, struct page *new_sp,
		  struct tdx_pamt_cache *cache);
int tdx_split_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa, kvm_pfn_t pfn, struct page *new_sp,
		 struct tdx_pamt_cache *cache);

/*
 * ---- the backend behind sim/kvm's v3 hook table (tdx.c) ----
 *
 * A TDX VM: a struct kvm_tdx (td.tdr_page, hkid, state filled in by the
 * caller, kvm pointing back at the VM) as tdxsim_kvm_config.priv, and
 * tdx_x86_ops as its ops; each vCPU gets its struct vcpu_tdx with
 * tdx_vcpu_create() before its first fault.  The hooks run on the thread's
 * current simulator and need tdx_pamt_refcounts_init() done.  They are
 * called by the MMU with mmu_lock held as the kernel holds it (the map and
 * link hooks under the read lock, removal and split under the write
 * lock; a split under the read lock is refused with -EOPNOTSUPP).
 */
extern const struct kvm_x86_ops tdx_x86_ops;

/*
 * The same backend under the upstream design (kvm-upstream.md §3): the
 * funnel and free_external_spt over the same tdx_sept_* bodies (the split
 * is v5's, tdx_upstream.c), with tdx_x86_ops_upstream_aux (fault prealloc,
 * v5's PAMT-cache ops, gmem_convert, gmem_max_mapping_level, none of the
 * v3 hooks) as tdxsim_kvm_config.ops.
 */
extern const struct kvm_x86_ops_upstream tdx_x86_ops_upstream;
extern const struct kvm_x86_ops tdx_x86_ops_upstream_aux;

/*
 * tdx_get_pamt_cache() (v5, kvm-upstream.md §5): the PAMT cache a split
 * under mmu_lock takes its pages from.  @vcpu (the running vCPU, from
 * kvm_get_running_vcpu()) non-NULL: its own cache.  NULL: the per-VM
 * kvm_tdx->pamt_cache, whose mutex the caller must hold
 * (lockdep_assert_held(): a TDXSIM_KEV_LOCKDEP event when it does not; the
 * cache is returned anyway, as the kernel's assert only warns).  NULL (and
 * the VM bugged) for a vCPU of another VM.
 */
struct tdx_pamt_cache *tdx_get_pamt_cache(struct kvm *kvm, struct kvm_vcpu *vcpu);

/*
 * The pages in @kvm's per-VM split cache, whichever the design keeps: v3's
 * prealloc_split_cache (under its spinlock), upstream's kvm_tdx->pamt_cache
 * (under pamt_cache_lock, a mutex: may sleep; do not call with mmu_lock or
 * that mutex held).  Not the kernel's: the scenario language's
 * `expect split-cache = N`.  -EINVAL for a VM without a kvm_tdx.
 */
int tdx_split_cache_count(struct kvm *kvm);

/* The per-vCPU prealloc (tdx_prealloc): S-EPT pages for faults and pairs for them. */
struct vcpu_tdx {
	struct kvm_vcpu *vcpu;
	struct page *spt_pages[TDX_FAULT_SPT_PAGES];
	int nr_spt_pages;
	struct tdx_pamt_cache pamt_cache;
	struct tdx_vp vp;	/* the module's vCPU (tdx_vcpu_bind()); tdvpr_pa 0: none */
};

static inline struct kvm_tdx *to_kvm_tdx(struct kvm *kvm)
{
	return kvm->priv;
}

/*
 * Is @kvm a VM of this backend (its ops are tdx_x86_ops, a copy with some
 * hooks replaced, or the upstream auxiliary table, and kvm->priv is a
 * struct kvm_tdx pointing back at it)?  The checker asks before reading
 * kvm->priv as a kvm_tdx.
 */
bool tdx_is_td_vm(struct kvm *kvm);

/* vcpu->priv = a new vcpu_tdx.  0 or -ENOMEM. */
int tdx_vcpu_create(struct kvm_vcpu *vcpu);
/* Frees the prealloc and the vcpu_tdx; before tdxsim_kvm_vcpu_destroy(). */
void tdx_vcpu_free(struct kvm_vcpu *vcpu);

/*
 * tdx_mmu_release_hkid(): TDH.VP.FLUSH of every vCPU of the VM
 * (kvm_for_each_vcpu, those with a TDVPR in vcpu_tdx->vp; a vCPU not
 * associated answers TDX_VCPU_NOT_ASSOCIATED, which is fine), then
 * TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB (resumed while
 * INTERRUPTED_RESUMABLE), TDH.MNG.KEY.FREEID; afterwards the mirror's pages
 * come back by RECLAIM (remove/free hooks).  No vCPU may be in the guest or
 * entering.  0 or -EIO (VM bugged).
 */
int tdx_mmu_release_hkid(struct kvm *kvm);

/* The v3 hooks (spec kvm-model.md §4.1), KVM levels (PG_LEVEL_*). */
int tdx_sept_link_private_spt(struct kvm *kvm, gfn_t gfn, enum pg_level level,
			      void *private_spt);
int tdx_sept_set_private_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 mirror_spte);
void tdx_sept_remove_private_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				  u64 mirror_spte);
int tdx_sept_free_private_spt(struct kvm *kvm, gfn_t gfn, enum pg_level level,
			      void *private_spt);
int tdx_sept_split_private_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				u64 old_mirror_spte, void *new_private_spt, bool mmu_lock_shared);

/*
 * The upstream hooks: the (old, new, level) transition picks one of the
 * bodies above (link, AUG, split, remove); free_external_spt leaks a page
 * the module keeps by NULLing sp->external_spt.
 */
int tdx_sept_set_private_spte_upstream(struct kvm *kvm, gfn_t gfn, u64 old_spte, u64 new_spte,
				       enum pg_level level);
void tdx_sept_free_private_spt_upstream(struct kvm *kvm, struct kvm_mmu_page *sp);

/*
 * ---- the vCPU side (tdx_vcpu.c; spec kvm-model.md §2.1, §2.4) ----
 *
 * A vCPU runs as KVM's vcpu_run loop does: tdx_vcpu_enter(), the guest
 * runs (tdxsim_tdcall(), tdxsim_guest_access() on the vCPU's TDVPR) until
 * a TD exit, tdx_handle_exit() with tdxsim_vp_last_exit()'s exit, again.
 * Each call is made on the vCPU's thread, one at a time, with the VM's
 * simulator current; none holds mmu_lock on entry.
 */

/*
 * Attach the module's vCPU whose TDVPR page is @tdvpr_pa (TDH.VP.CREATE,
 * ADDCX, INIT done by the caller) to @vcpu (after tdx_vcpu_create()):
 * 0, or -EINVAL when it is not a vCPU of this VM's TD.
 */
int tdx_vcpu_bind(struct kvm_vcpu *vcpu, u64 tdvpr_pa);

/*
 * TDH.VP.ENTER: 0 with the vCPU in guest mode, or
 *   -EAGAIN  entry held off: kvm_tdx->wait_for_sept_zap is set
 *            (tdh_do_no_vcpus() is retrying), or TDH.VP.ENTER lost the
 *            epoch lock (BUSY); retry, as KVM's run loop re-enters;
 *   -EINVAL  the TD is not RUNNABLE or no module vCPU is bound;
 *   -EIO     the VM is bugged, or TDH.VP.ENTER failed otherwise (e.g. the
 *            vCPU is already in guest mode).
 */
int tdx_vcpu_enter(struct kvm_vcpu *vcpu);

/*
 * The EPT-violation exit of a private GPA (kvm-model.md §2.1): an exit of
 * type ACCEPT first honours the guest's accept level
 * (tdx_honor_guest_accept_level: the mirror leaf split down to that level
 * under the write mmu_lock with tdp_mmu_split_huge_pages_root() on the
 * mirror root, then hugepage_set_guest_inhibit() above it), then the
 * fault (a write, kvm_mmu_do_page_fault()) is retried locally while it
 * says RET_PF_RETRY, at most TDX_EPT_LOCAL_RETRIES times.  Returns 1
 * (re-enter the guest: fixed, spurious, or to be re-faulted), or a
 * negative errno for userspace: the split's -ENOMEM (sp or per-VM split
 * cache; nothing inhibited, the guest's ACCEPT exits again), the fault's
 * (-EFAULT: no memslot or folio, or a GPA the attributes make shared;
 * -ENOMEM), -EIO (VM bugged; or an exit of type PENDING_EPT_VIOLATION, a
 * guest access before ACCEPT), -EOPNOTSUPP for a shared GPA (the shared
 * EPT is not modelled).  Takes mmu_lock itself.
 */
#define TDX_EPT_LOCAL_RETRIES	1000
int tdx_handle_ept_violation(struct kvm_vcpu *vcpu, const struct tdxsim_td_exit *exit);

/*
 * A TD exit by reason: EPT violation as above, an external interrupt 1
 * (re-enter); -EOPNOTSUPP for any other reason.
 */
int tdx_handle_exit(struct kvm_vcpu *vcpu, const struct tdxsim_td_exit *exit);

/*
 * KVM_REQ_OUTSIDE_GUEST_MODE to every vCPU, waiting as
 * kvm_make_all_cpus_request() does: on return no vCPU of the VM is in
 * guest mode or inside its entry, and none enters while
 * kvm_tdx->wait_for_sept_zap stays set (the vcpu->mode handshake with
 * tdx_vcpu_enter()).  A vCPU in IN_GUEST_MODE gets tdxsim_vp_exit(), then
 * the kick waits for its vcpu->irqs_off (entry or guest instruction under
 * way) to drop; so it must not be called on a thread whose vCPU has
 * irqs_off set.  Then every vCPU the module knows for the TD
 * (tdxsim_td_vcpus()) leaves guest mode too.  The default
 * kvm_tdx->kick_vcpus; on the thread's current simulator.
 */
void tdx_kick_all_vcpus(struct kvm_tdx *kvm_tdx);

/*
 * ---- building the TD (tdx_build.c; KVM_TDX_INIT_MEM_REGION, KVM_TDX_FINALIZE_VM) ----
 *
 * struct kvm_tdx_init_mem_region: the ioctl's argument with the user's
 * source buffer as the page it pins (the kernel takes source_addr and
 * get_user_pages()); @nr_pages consecutive 4K pages of @source_page are
 * added, page i from source page i (each must be a page of simulated memory
 * the module sees as shared: host memory, not the TD's).
 */
struct kvm_tdx_init_mem_region {
	struct page *source_page;
	u64 gpa;
	u64 nr_pages;
};

/*
 * KVM_TDX_INIT_MEM_REGION: for each 4K page, kvm_tdp_map_page() on @vcpu
 * with kvm_tdx->page_add_src set, so the mirror's set_external_spte hook
 * reaches tdx_mem_page_add() (TDH.MEM.PAGE.ADD from the source) instead
 * of AUG.  On return @region says what is left (nr_pages 0 when done).
 * 0, -EINVAL (the TD is not INITIALIZED, unaligned or empty range, a GPA
 * not private), or the failing page's error (-EIO: VM bugged, -EFAULT: no
 * guest_memfd folio, -EBUSY).  Caller: no mmu_lock; one call per VM at a
 * time (the kernel holds kvm->slots_lock).
 */
int tdx_vcpu_init_mem_region(struct kvm_vcpu *vcpu, struct kvm_tdx_init_mem_region *region);

/*
 * tdx_sept_set_private_spte() while the TD is not RUNNABLE: 4K only, the
 * source in kvm_tdx->page_add_src (a KVM_BUG_ON otherwise), the page's
 * Dynamic-PAMT pair taken first (dropped again on failure).  BUSY is
 * -EBUSY (the fault is retried), any other failure bugs the VM (-EIO).
 */
int tdx_mem_page_add(struct kvm *kvm, gfn_t gfn, enum pg_level level, kvm_pfn_t pfn);

/*
 * KVM_TDX_FINALIZE_VM: TDH.MR.FINALIZE, then the TD is RUNNABLE (faults
 * AUG, huge pages allowed).  -EINVAL if not INITIALIZED or no HKID, -EBUSY
 * on TDX_OPERAND_BUSY, -EIO (VM bugged) on any other failure.
 */
int tdx_td_finalize(struct kvm *kvm);

#pragma GCC visibility pop

#endif /* TDXSIM_KVM_TDX_H */
