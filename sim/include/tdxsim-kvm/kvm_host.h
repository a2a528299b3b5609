/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The KVM side of tdxsim (floor 2, libtdxsim-kvm.a): struct kvm with its
 * memslots, memory attributes, lpage_info and mmu_lock; vCPUs with their MMU
 * caches; the kvm_x86_ops-shaped table through which the TDP MMU reaches the
 * TDX backend.  Kernel names throughout (include/linux/kvm_host.h,
 * arch/x86/include/asm/kvm_host.h); spec kvm-model.md §1.
 *
 * Thread safety: a struct kvm may be used by many threads; what each
 * function needs held is said at the function, as the kernel's lockdep
 * assertions say it.  Setup calls (memslots, folios) are not thread-safe
 * against faults.
 */
#ifndef TDXSIM_KVM_KVM_HOST_H
#define TDXSIM_KVM_KVM_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <bsd/sys/bitstring.h>
#include <tdxsim/kernel.h>
#include <tdxsim-kvm/spte.h>

#pragma GCC visibility push(default)

struct kvm;
struct kvm_vcpu;
struct kvm_mmu_page;

/* ---- kvm_mmu_memory_cache (virt/kvm/kvm_main.c; spec §1.7) ---- */
#define KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE	40

/* What a cache holds: sp headers (a kmem_cache) or page-table pages. */
enum kvm_mmu_cache_kind {
	KVM_MMU_CACHE_HEADER,	/* struct kvm_mmu_page, zeroed */
	KVM_MMU_CACHE_SPT,	/* a 4K table of 512 SPTEs, filled with init_value */
};

struct kvm_mmu_memory_cache {
	enum kvm_mmu_cache_kind kind;
	bool gfp_zero;
	u64 init_value;		/* fill pattern for each SPTE of a table (0: zeroed) */
	int capacity;
	int nobjs;
	void *objects[KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE];
};

/*
 * Fills @mc to capacity when it holds fewer than @min objects; may sleep,
 * so called without mmu_lock.  0 or -ENOMEM.
 */
int kvm_mmu_topup_memory_cache(struct kvm_mmu_memory_cache *mc, int min);
int kvm_mmu_memory_cache_nr_free_objects(struct kvm_mmu_memory_cache *mc);
void kvm_mmu_free_memory_cache(struct kvm_mmu_memory_cache *mc);
/* Pops one object; empty: WARN and allocate (the kernel's GFP_ATOMIC fallback). */
void *kvm_mmu_memory_cache_alloc(struct kvm_mmu_memory_cache *mc);

/* ---- memslots, lpage_info, attributes (spec §1.4, §1.5) ---- */
#define KVM_LPAGE_MIXED_FLAG		(1U << 31)	/* attributes not uniform */
#define KVM_LPAGE_GUEST_INHIBIT_FLAG	(1U << 30)	/* the guest accepted below this level */

struct kvm_lpage_info {
	/* flags above, low bits: count of other reasons; non-zero forbids the level */
	unsigned int disallow_lpage;
};

/* guest_memfd stand-in: one folio per 2M of the slot, of order 9 or 512 of order 0. */
struct kvm_gmem_chunk {
	kvm_pfn_t pfn;		/* order-9 folio: its first PFN; else unused */
	kvm_pfn_t *pfns;	/* order-0 folios: 512 PFNs, 0 = no folio */
	bool huge;
};

struct kvm_memory_slot {
	int id;
	int as_id;
	gfn_t base_gfn;
	unsigned long npages;
	unsigned long userspace_addr;
	struct kvm_lpage_info *lpage_info[KVM_NR_PAGE_SIZES - 1];	/* [level - 2] */
	bitstr_t *attr_private;	/* KVM_MEMORY_ATTRIBUTE_PRIVATE per GFN of the slot */
	struct kvm_gmem_chunk *gmem;	/* [(gfn - base_gfn + gmem_pgoff) >> 9] */
	unsigned long gmem_pgoff;
};

#define KVM_MEM_SLOTS_NUM	32
#define KVM_MAX_VCPUS		64
#define KVM_MEM_GUEST_MEMFD	(1U << 2)
#define KVM_MEMORY_ATTRIBUTE_PRIVATE	(1ULL << 3)

struct kvm_userspace_memory_region2 {
	u32 slot;
	u32 flags;
	u64 guest_phys_addr;
	u64 memory_size;
	u64 userspace_addr;
	u64 guest_memfd_offset;
};

enum kvm_gfn_range_filter {
	KVM_FILTER_SHARED	= (1U << 0),
	KVM_FILTER_PRIVATE	= (1U << 1),
};

struct kvm_gfn_range {
	struct kvm_memory_slot *slot;
	gfn_t start;
	gfn_t end;		/* exclusive */
	union {
		u64 attributes;
	} arg;
	enum kvm_gfn_range_filter attr_filter;
	bool may_block;
};

/* ---- the backend boundary (spec §4.1; kvm-upstream.md §3) ---- */
/*
 * The v3 hook inventory, each with the kernel's argument order.  A hook left
 * NULL is an optional op that is absent (KVM_X86_OP_OPTIONAL): the MMU skips
 * it (need_topup: "no", topup: 0) or, for a hook an external tree needs,
 * returns -EOPNOTSUPP.  The `upstream` funnel (set_external_spte(kvm, gfn,
 * old, new, level) + free_external_spt(kvm, sp)) will be a second table type
 * selected by struct kvm::mmu_design; tdp_mmu.c reaches the backend only
 * through its "backend boundary" helpers, the one place that dispatches.
 */
struct kvm_x86_ops {
	const char *name;
	int (*link_external_spt)(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				 void *external_spt);
	int (*set_external_spte)(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				 u64 mirror_spte);
	int (*free_external_spt)(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				 void *external_spt);
	void (*remove_external_spte)(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				     u64 mirror_spte);
	/* @huge_spte: the mirror leaf being split; @child_table: the external table below it. */
	int (*split_external_spte)(struct kvm *vm, gfn_t huge_gfn, enum pg_level huge_level,
				   u64 huge_spte, void *child_table, bool lock_is_shared);
	void *(*alloc_external_fault_cache)(struct kvm_vcpu *vcpu);
	int (*topup_external_fault_cache)(struct kvm_vcpu *vcpu);
	void (*free_external_fault_cache)(struct kvm_vcpu *vcpu);
	/* The per-VM split cache, sized for a split at @lvl. */
	int (*topup_external_per_vm_split_cache)(struct kvm *vm, enum pg_level lvl);
	bool (*need_topup_external_per_vm_split_cache)(struct kvm *vm, enum pg_level lvl);
	void (*free_external_per_vm_split_cache)(struct kvm *vm);
	int (*gmem_max_mapping_level)(struct kvm *kvm, kvm_pfn_t pfn, bool is_private);
	/*
	 * kvm_arch_gmem_convert() (v5, KVM_X86_OP_OPTIONAL_RET0; kvm-upstream.md
	 * §5): called by a conversion of [start, end) before it takes mmu_lock,
	 * so the backend can take its own sleeping locks first.  0 or a
	 * negative errno, which fails the conversion before anything changed.
	 */
	int (*gmem_convert)(struct kvm *kvm, gfn_t start, gfn_t end, bool to_private);
};

/*
 * The `upstream` design (kvm-upstream.md §3, merged for 7.2): one funnel
 * for every mirror SPTE change but the removal of a table, which goes to
 * free_external_spt after the table's children.  Called with the old and
 * new SPTE from the atomic path (SPTE frozen, restored on error) and from
 * handle_changed_spte() on the non-atomic path (an error there is a
 * KVM_BUG_ON).  free_external_spt NULLs sp->external_spt itself when the
 * page cannot be taken back.  The auxiliary ops (fault cache, split cache,
 * gmem_max_mapping_level) still come from struct kvm_x86_ops.
 */
struct kvm_x86_ops_upstream {
	const char *name;
	int (*set_external_spte)(struct kvm *kvm, gfn_t gfn, u64 old_spte, u64 new_spte,
				 enum pg_level level);
	void (*free_external_spt)(struct kvm *kvm, struct kvm_mmu_page *sp);
};

enum kvm_mmu_design {
	KVM_MMU_DESIGN_V3,		/* the hooks of struct kvm_x86_ops */
	KVM_MMU_DESIGN_UPSTREAM,	/* struct kvm_x86_ops_upstream */
};

/*
 * Pools a page KVM allocates comes from (provenance); KVM's own
 * get_zeroed_page()/free_page() for external_spt pages go through
 * struct kvm_page_ops so a test or the simulator decides what a page is.
 */
enum kvm_page_pool {
	KVM_POOL_SPLIT_SP,	/* an S-EPT page of the split path: tdp_mmu_alloc_sp_for_split */
	KVM_POOL_SP_FREE,	/* release only: tdp_mmu_free_sp's free_page, whatever the origin */
	/*
	 * The provenance ledger's other pools (<tdxsim-kvm/check.h>): where
	 * sim/tdx took a simulated page from.  The mmu cache is the vCPU's
	 * external-fault cache (S-EPT pages for faults; the kernel's
	 * mmu_external_spt_cache); the vCPU prealloc is its tdx_prealloc of
	 * PAMT pages; a PAMT pair is one tdx_pamt_get() allocated itself.
	 */
	KVM_POOL_MMU_CACHE,
	KVM_POOL_VCPU_PREALLOC,
	KVM_POOL_SPLIT_CACHE,	/* the per-VM prealloc_split_cache */
	KVM_POOL_PAMT_PAIR,
	KVM_POOL_GUEST_FOLIO,	/* guest_memfd memory */
	KVM_POOL_OTHER,		/* not allocated by the model: first seen in a SEAMCALL */
	KVM_POOL_NR,
};

struct kvm_page_ops {
	/* A zeroed 4K page for an external_spt, or NULL (-ENOMEM). */
	void *(*get_page_for)(struct kvm *kvm, enum kvm_page_pool pool);
	void (*release_page)(struct kvm *kvm, void *page, enum kvm_page_pool pool);
};

/* ---- vCPU ---- */
struct kvm_vcpu_arch {
	struct kvm_mmu_memory_cache mmu_page_header_cache;
	struct kvm_mmu_memory_cache mmu_shadow_page_cache;
};

/* vcpu->mode (include/linux/kvm_host.h); READING_SHADOW_PAGE_TABLES is not modelled. */
enum {
	OUTSIDE_GUEST_MODE,
	IN_GUEST_MODE,
	EXITING_GUEST_MODE,
};

struct kvm_vcpu {
	struct kvm *kvm;
	int vcpu_id;
	/*
	 * The kernel's vcpu->mode: IN_GUEST_MODE from the entry (set before
	 * the last look at requests, smp_store_mb()) until the run loop has
	 * seen the exit, EXITING_GUEST_MODE once a kick asked the vCPU out
	 * (kvm_vcpu_exiting_guest_mode()), OUTSIDE_GUEST_MODE otherwise.
	 * Accessed atomically only.
	 */
	int mode;
	/*
	 * Ours: nonzero while the vCPU's CPU cannot take the kick's IPI yet:
	 * its entry runs with IRQs off (from mode = IN_GUEST_MODE until
	 * TDH.VP.ENTER has returned), or one guest instruction (a TDCALL, an
	 * access) is under way, since an interrupt is taken at an
	 * instruction boundary.  The kick waits for it to drop to 0, as
	 * kvm_make_all_cpus_request() waits for the IPI's acknowledgement
	 * (tdx_vcpu.c).  Accessed atomically only.
	 */
	int irqs_off;
	struct kvm_vcpu_arch arch;
	void *priv;		/* the backend's per-vCPU state (to_tdx()) */
};

/*
 * kvm_vcpu_exiting_guest_mode(): IN_GUEST_MODE -> EXITING_GUEST_MODE,
 * returning the mode found.  Full barrier before, as the kernel's
 * smp_mb__before_atomic() + cmpxchg(): the request (here
 * wait_for_sept_zap) is visible to a vCPU that enters after this.
 */
static inline int kvm_vcpu_exiting_guest_mode(struct kvm_vcpu *vcpu)
{
	int old = IN_GUEST_MODE;

	smp_mb__before_atomic();
	__atomic_compare_exchange_n(&vcpu->mode, &old, EXITING_GUEST_MODE, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	return old;
}

/* ---- struct kvm ---- */
struct kvm_vm_stat {
	long pages[KVM_NR_PAGE_SIZES];	/* present leaves per level (pages_4k/2m/1g) */
	long rcu_pending;		/* removed sps waiting for their grace period */
	long sp_allocated;		/* kvm_mmu_page headers alive */
	/* Faults that waited for guest_memfd's invalidate lock (S24), and the longest wait. */
	long gmem_fault_waits;
	long gmem_wait_max_ns;
	/* SPTEs visited by kvm_split_cross_boundary_leafs' walks (S19: its cost, not a timing). */
	long cross_boundary_steps;
	/*
	 * S08b: DEMOTEs re-issued after TDX_INTERRUPTED_RESTARTABLE (the
	 * workaround's loop), each under the write mmu_lock; and the longest
	 * hold of the write mmu_lock (KVM_MMU_LOCK to KVM_MMU_UNLOCK, ns).
	 */
	long demote_restarts;
	long mmu_lock_write_max_ns;
	/*
	 * S32c, a memcg-style charge counter: pages v3's split-cache top-up
	 * allocated, and how many of them were charged to the VM's memcg
	 * (allocated with __GFP_ACCOUNT).  Cumulative: the model has no
	 * uncharge (a consumed page lives on as a PAMT page).  Atomic: the
	 * top-up allocates with no lock held.
	 */
	long split_cache_allocated;
	long split_cache_charged;
	/* S29 (dpamt_at_topup): PAMT pairs the fault-cache top-up installed. */
	long topup_pairs;
};

struct kvm_mmu_rcu_head {
	struct kvm_mmu_page *first;	/* removed sps, linked by sp->rcu_next */
};

/*
 * A test's scheduling points.  @should_yield: at tdp_mmu_iter_cond_resched,
 * true makes the walker drop mmu_lock there.  @during_drop runs at every
 * lock drop of a walk (that yield, the split sp allocation, the split-cache
 * top-up) with the lock dropped: another thread's work, made deterministic.
 */
struct kvm_yield_hook {
	bool (*should_yield)(struct kvm *kvm, gfn_t gfn, int level, void *arg);
	void (*during_drop)(struct kvm *kvm, void *arg);
	void *arg;
};

struct kvm {
	rwlock_t mmu_lock;	/* the kernel shim's: lockdep knows who holds it */
	enum kvm_mmu_design mmu_design;
	const struct kvm_x86_ops *x86_ops;
	const struct kvm_x86_ops_upstream *x86_ops_upstream;
	struct kvm_page_ops page_ops;
	void *priv;		/* the backend's per-VM state (to_kvm_tdx()) */
	bool has_mirrored_tdp;	/* kvm_has_mirrored_tdp(): a TDX VM */
	int root_level;
	struct kvm_mmu_page *mirror_root;	/* kvm->arch.mirror_root_hpa */
	int nr_memslots;
	struct kvm_memory_slot *memslots[KVM_MEM_SLOTS_NUM];
	bool vm_bugged;
	unsigned int defects;		/* enum tdxsim_kvm_defect bits */
	/*
	 * S19's `headtail` variant of kvm_split_cross_boundary_leafs() (Yan,
	 * 003 P11 10874-11033): walk only [start, ALIGN(start, 1G)) and
	 * [ALIGN_DOWN(end, 1G), end) instead of the whole range with the
	 * cross-boundary flag (v3, `flag`).  Same splits; set it before use.
	 */
	bool split_cross_boundary_headtail;
	/*
	 * S23's proposal (Kai, 003 P11 9305-9446; Yan, 11915-12048): the
	 * log-dirty eager split refuses a VM with a mirrored TDP
	 * (WARN_ON_ONCE, -EINVAL) instead of walking the mirror root (v3).
	 */
	bool eager_split_refuse_mirror;
	/*
	 * Never 0 and never reused (unlike the address): the checker's ledger
	 * files the VM's violations under it, and keeps them after the VM is
	 * destroyed (kvm_check_ledger_violations_of()).
	 */
	u64 check_id;
	struct kvm_vm_stat stat;
	struct timespec mmu_lock_write_t0;	/* KVM_MMU_LOCK's time (stat.mmu_lock_write_max_ns) */
	pthread_mutex_t rcu_lock;
	struct kvm_mmu_rcu_head rcu;
	struct kvm_yield_hook yield_hook;
	/*
	 * The invalidation protocol (virt/kvm/kvm_main.c): a change to what
	 * backs a GFN (attributes, a guest_memfd folio) runs between
	 * kvm_mmu_invalidate_begin() and _end() with the range added; a fault
	 * samples mmu_invalidate_seq before it looks the GFN up and retries
	 * when, under mmu_lock, an invalidation covers the GFN or has ended
	 * since (mmu_invalidate_retry_gfn()).  Changed under the write
	 * mmu_lock; the seq is read atomically outside it.
	 */
	unsigned long mmu_invalidate_seq;
	long mmu_invalidate_in_progress;
	gfn_t mmu_invalidate_range_start;
	gfn_t mmu_invalidate_range_end;
	/*
	 * guest_memfd's filemap_invalidate_lock: kvm_gmem_get_pfn() reads the
	 * folios shared, a change to them (set, split, remove) takes it
	 * exclusive.
	 */
	pthread_rwlock_t gmem_lock;
	/*
	 * The same lock as a conversion, punch hole or memory failure holds it
	 * for its whole run (review-scenarios.md S24): a fault of a GFN in
	 * [gmem_inval_start, gmem_inval_end) waits until it ends.  The range is
	 * the whole file, as guest_memfd locks it, unless the VMM locks by
	 * range (S24's variant).  gmem_inval_mutex guards the fields.
	 */
	pthread_mutex_t gmem_inval_mutex;
	pthread_cond_t gmem_inval_cond;
	bool gmem_inval_busy;
	gfn_t gmem_inval_start, gmem_inval_end;
	/* kvm->vcpu_array: tdxsim_kvm_vcpu_create() adds, _destroy() removes. */
	struct kvm_vcpu *vcpu_array[KVM_MAX_VCPUS];
};

/* kvm_for_each_vcpu(): every vCPU created and not destroyed, in slot order. */
#define kvm_for_each_vcpu(idx, vcpup, kvm)					\
	for ((idx) = 0; (idx) < KVM_MAX_VCPUS; (idx)++)				\
		if (((vcpup) = (kvm)->vcpu_array[(idx)]) != NULL)

/*
 * Defect switches: each re-creates a bug reviewers pointed at, off by
 * default, so a test can show the failure with it on and the pass with it
 * off.
 */
enum tdxsim_kvm_defect {
	/* 001: tdp_mmu_alloc_sp_for_split leaves spt zero, not SHADOW_NONPRESENT_VALUE */
	TDXSIM_KVM_DEFECT_SPLIT_SPT_ZERO	= 1U << 0,
	/* spec §6.1: kvm_split_cross_boundary_leafs' `bool ret` turns -ENOMEM into 1 */
	TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL	= 1U << 1,
	/* 000/001: v3 KVM frees an external_spt whose free_external_spt failed */
	TDXSIM_KVM_DEFECT_FREE_OWNED_EXT_SPT	= 1U << 2,
	/* The backend's (sim/tdx): */
	/* 004/S25: the split-cache consumer dequeues without re-checking the count */
	TDXSIM_KVM_DEFECT_CONSUME_WITHOUT_RECHECK = 1U << 3,
	/* 2M AUG of a range whose Dynamic-PAMT pair a failed PAMT.REMOVE left installed */
	TDXSIM_KVM_DEFECT_AUG_2M_OVER_PAIR	= 1U << 4,
	/* S09: tdh_do_no_vcpus retries a BUSY without kicking the vCPUs out first */
	TDXSIM_KVM_DEFECT_NO_KICK_BEFORE_RETRY	= 1U << 5,
	/* S12(b): a split DEMOTEs without the TRACK after its BLOCK */
	TDXSIM_KVM_DEFECT_SKIP_TRACK		= 1U << 6,
	/*
	 * S07: sim/vmm keeps tdx_huge_page on although the module lacks
	 * ENHANCED_DEMOTE_INTERRUPTIBILITY (P24's gate missing): the split's
	 * DEMOTE wrapper returns TDX_SW_ERROR without a SEAMCALL
	 */
	TDXSIM_KVM_DEFECT_IGNORE_DEMOTE_FEATURE_BIT = 1U << 7,
	/*
	 * S13e: tdx_handle_ept_violation() ignores the ACCEPT level of the
	 * exit (no split, no GUEST_INHIBIT): the guest's ACCEPT exits again
	 * and again on the same GFN
	 */
	TDXSIM_KVM_DEFECT_NO_SPLIT_ON_ACCEPT_EXIT = 1U << 8,
	/*
	 * S17c: kvm_tdp_mmu_map() calls no disallowed_hugepage_adjust() for
	 * the mirror root (003:P06 left out): a fault may map a 2M leaf over
	 * an existing mirror table (promotion)
	 */
	TDXSIM_KVM_DEFECT_ALLOW_MIRROR_PROMOTION = 1U << 9,
	/*
	 * S27d: a split DEMOTEs without tdx_pamt_get() for the new S-EPT
	 * page (003:P21 left out), nor the put on failure
	 */
	TDXSIM_KVM_DEFECT_SKIP_SEPT_PAGE_PAMT_GET = 1U << 10,
	/*
	 * S27e (v3): after a successful DEMOTE the guest range's pair goes
	 * back to the split cache as if DEMOTE had failed (003:P22's cleanup
	 * on the wrong branch): the next split hands DEMOTE an R12 page that
	 * is already a PAMT page
	 */
	TDXSIM_KVM_DEFECT_REUSE_DEMOTE_PAIR	= 1U << 11,
	TDXSIM_KVM_DEFECT_NR_BITS		= 12,
};

/*
 * The switches by name, for the scenario language (`defect NAME`):
 * "split-spt-zero", "cross-boundary-bool", "free-owned-ext-spt",
 * "consume-without-recheck", "aug-2m-over-pair", "no-kick-before-retry",
 * "skip-track", "ignore-demote-feature-bit", "no-split-on-accept-exit",
 * "allow-mirror-promotion", "skip-sept-page-pamt-get", "reuse-demote-pair".
 * tdxsim_kvm_defect_name(): the name of bit @bit (0 for
 * TDXSIM_KVM_DEFECT_SPLIT_SPT_ZERO), NULL past the last;
 * tdxsim_kvm_defect_desc(): a one-line description, NULL likewise;
 * tdxsim_kvm_defect_lookup(): the switch's mask (1U << bit), or -EINVAL.
 */
const char *tdxsim_kvm_defect_name(unsigned int bit);
const char *tdxsim_kvm_defect_desc(unsigned int bit);
int tdxsim_kvm_defect_lookup(const char *name);

struct tdxsim_kvm_config {
	const struct kvm_x86_ops *ops;		/* required */
	/* Non-NULL selects KVM_MMU_DESIGN_UPSTREAM: its two hooks replace ops' five. */
	const struct kvm_x86_ops_upstream *upstream_ops;
	const struct kvm_page_ops *page_ops;	/* NULL: the kernel shim's alloc_page() */
	void *priv;
	int root_level;				/* 4 or 5; 0 = 4 */
	unsigned int defects;			/* enum tdxsim_kvm_defect bits */
};

/* A TDX VM (mirrored TDP) with an empty mirror root.  NULL with errno EINVAL/ENOMEM. */
struct kvm *tdxsim_kvm_create(const struct tdxsim_kvm_config *cfg);
/*
 * Tears the VM down: the mirror root is zapped (leaves, then each table
 * after its children: free_external_spt per table), caches freed.  NULL is a
 * no-op.  Not thread-safe: no other thread may use @kvm.
 */
void tdxsim_kvm_destroy(struct kvm *kvm);

/*
 * KVM_BUG_ON()'s body: when @cond, marks the VM bugged (kvm->vm_bugged) and
 * records the kernel shim's KVM_BUG event.  Returns @cond.
 */
bool __kvm_bug_on(struct kvm *kvm, bool cond, const char *file, int line, const char *what);

/* vCPUs (in the first free slot of kvm->vcpu_array).  NULL with errno ENOMEM or ENOSPC. */
struct kvm_vcpu *tdxsim_kvm_vcpu_create(struct kvm *kvm, int vcpu_id);
void tdxsim_kvm_vcpu_destroy(struct kvm_vcpu *vcpu);
/* The vCPU running on this thread (vcpu_load/vcpu_put), or NULL. */
struct kvm_vcpu *kvm_get_running_vcpu(void);
void vcpu_load(struct kvm_vcpu *vcpu);
void vcpu_put(struct kvm_vcpu *vcpu);

/*
 * KVM_SET_USER_MEMORY_REGION2 with a guest_memfd: creates slot @mem->slot
 * (page-aligned GPA and size).  0, -EINVAL, -EEXIST, -ENOMEM.
 */
int kvm_set_memory_region(struct kvm *kvm, const struct kvm_userspace_memory_region2 *mem);
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn);
/*
 * guest_memfd: back GFN @gfn (and, for order 9, the 2M around it; @gfn and
 * @pfn must then be 2M-aligned) with a folio.  0, -EINVAL, -ENOMEM.
 */
int tdxsim_kvm_gmem_set_folio(struct kvm *kvm, gfn_t gfn, kvm_pfn_t pfn, int order);
/*
 * guest_memfd's folio split: the order-9 folio of the 2M range holding
 * @gfn becomes 512 order-0 folios with the same PFNs.  0, -EINVAL (no
 * order-9 folio there), -ENOMEM.  The caller runs it inside an
 * invalidation of that range.
 */
int tdxsim_kvm_gmem_split_folio(struct kvm *kvm, gfn_t gfn);
/*
 * Take the folio at @gfn out of guest_memfd (truncate, memory failure): the
 * whole order-9 folio of its 2M range, or the order-0 folio at @gfn.
 * Returns the order removed, or -ENOENT.  Inside an invalidation.
 */
int tdxsim_kvm_gmem_remove_folio(struct kvm *kvm, gfn_t gfn);
/*
 * filemap_invalidate_lock() of guest_memfd for an operation on [start,
 * end) (0, ~0ULL: the whole file): waits for the current holder, then
 * holds it until tdxsim_kvm_gmem_invalidate_unlock().  Faults in the range
 * meanwhile wait in kvm_gmem_fault_wait() (counted in kvm->stat).  Not
 * with mmu_lock held; not recursive.
 */
void tdxsim_kvm_gmem_invalidate_lock(struct kvm *kvm, gfn_t start, gfn_t end);
void tdxsim_kvm_gmem_invalidate_unlock(struct kvm *kvm);
/* The fault's filemap_invalidate_lock_shared(): waits while @gfn is being invalidated. */
void kvm_gmem_fault_wait(struct kvm *kvm, gfn_t gfn);
/* The folio behind @gfn: its PFN for @gfn and the folio's order.  0 or -EFAULT. */
int kvm_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
		     kvm_pfn_t *pfn, int *max_order);

/* lpage_info (arch/x86/kvm/mmu/mmu.c) */
struct kvm_lpage_info *lpage_info_slot(gfn_t gfn, const struct kvm_memory_slot *slot, int level);
void kvm_mmu_gfn_disallow_lpage(const struct kvm_memory_slot *slot, gfn_t gfn);
void kvm_mmu_gfn_allow_lpage(const struct kvm_memory_slot *slot, gfn_t gfn);
/* One-way: there is no clear (003:P12).  Callers hold mmu_lock for write. */
void hugepage_set_guest_inhibit(struct kvm_memory_slot *memslot, gfn_t frame, int lvl);
bool hugepage_test_guest_inhibit(struct kvm_memory_slot *memslot, gfn_t frame, int lvl);

/* Memory attributes: per GFN, only inside memslots. */
u64 kvm_get_memory_attributes(struct kvm *kvm, gfn_t gfn);
bool kvm_mem_is_private(struct kvm *kvm, gfn_t gfn);
/*
 * KVM_SET_MEMORY_ATTRIBUTES over [start, end): for each memslot, under the
 * write mmu_lock, the pre-set handler (to shared: split huge private leaves
 * crossing the range, then zap the private leaves inside it), the update,
 * and the post-set MIXED recomputation.  0, or the split's negative errno
 * with the failing slot's attributes unchanged (earlier slots keep theirs,
 * as in the kernel, 003:P15).  Takes mmu_lock itself.
 */
int kvm_vm_set_mem_attributes(struct kvm *kvm, gfn_t start, gfn_t end, u64 attributes);
/*
 * x86.c kvm_arch_gmem_convert(): the backend's gmem_convert op (0 when
 * absent).  kvm_vm_set_mem_attributes() calls it first; a VMM that splits
 * or zaps before that calls it itself, without mmu_lock held, and then
 * kvm_vm_set_mem_attributes_converted() (not the kernel's): the same
 * without the second call, which could top the per-VM PAMT cache up again.
 */
int kvm_vm_set_mem_attributes_converted(struct kvm *kvm, gfn_t start, gfn_t end,
					u64 attributes);
int kvm_arch_gmem_convert(struct kvm *kvm, gfn_t start, gfn_t end, bool to_private);

/*
 * The invalidation protocol (see struct kvm): begin/range_add/end with the
 * write mmu_lock held; mmu_invalidate_retry_gfn() with mmu_lock held either
 * way: true when a fault that sampled @mmu_seq must retry for @gfn.
 */
void kvm_mmu_invalidate_begin(struct kvm *kvm);
void kvm_mmu_invalidate_range_add(struct kvm *kvm, gfn_t start, gfn_t end);
void kvm_mmu_invalidate_end(struct kvm *kvm);
bool mmu_invalidate_retry_gfn(struct kvm *kvm, unsigned long mmu_seq, gfn_t gfn);

/*
 * mmu_lock is the kernel shim's rwlock_t: read_lock()/write_lock() record
 * who holds it, and lockdep_assert_held_*() record a TDXSIM_KEV_LOCKDEP
 * event on the thread's current simulator when the caller does not hold it
 * as asked.  KVM_MMU_LOCK/KVM_MMU_UNLOCK (x86: the write lock) and the read
 * pair below are what the MMU and its callers use: releasing the write lock
 * ends a grace period, when removed page tables are freed.
 */
void KVM_MMU_LOCK(struct kvm *kvm);
void KVM_MMU_UNLOCK(struct kvm *kvm);
void kvm_mmu_read_lock(struct kvm *kvm);
void kvm_mmu_read_unlock(struct kvm *kvm);
/* Does the calling thread hold @kvm's mmu_lock, shared or exclusive as said? */
bool kvm_mmu_lock_held(struct kvm *kvm, bool shared);
/* The VM whose mmu_lock the calling thread holds (*@shared: how), or NULL. */
struct kvm *kvm_mmu_lock_owner(bool *shared);
/* tdp_mmu.c: lockdep_assert_held_read() when @shared, _write() otherwise. */
void kvm_lockdep_assert_mmu_lock_held(struct kvm *kvm, bool shared);
/* call_rcu(tdp_mmu_free_sp_rcu_callback) and the grace period that frees it. */
void kvm_mmu_call_rcu(struct kvm *kvm, struct kvm_mmu_page *sp);
void kvm_mmu_rcu_barrier(struct kvm *kvm);

#pragma GCC visibility pop

#endif /* TDXSIM_KVM_KVM_HOST_H */
