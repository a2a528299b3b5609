/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The TDP MMU for private memory: struct kvm_mmu_page, the TDP iterator, the
 * SPTE writers and the control paths (arch/x86/kvm/mmu/{mmu_internal.h,
 * tdp_iter.[ch],tdp_mmu.c,mmu.c}; spec kvm-model.md §1.2, §2, §3).
 * sim/README.md maps each function to its kernel file.
 */
#ifndef TDXSIM_KVM_TDP_MMU_H
#define TDXSIM_KVM_TDP_MMU_H

#include <tdxsim-kvm/kvm_host.h>

#pragma GCC visibility push(default)

union kvm_mmu_page_role {
	u32 word;
	struct {
		unsigned int level:4;
		unsigned int invalid:1;
		unsigned int is_mirror:1;
	};
};

struct kvm_mmu_page {
	union kvm_mmu_page_role role;
	gfn_t gfn;			/* first GFN this table maps */
	u64 *spt;			/* 512 SPTEs, what KVM reads and writes */
	void *external_spt;		/* the S-EPT page handed to the backend; KVM never reads it */
	u64 *ptep;			/* the parent SPTE */
	int tdp_mmu_root_count;		/* roots only */
	bool nx_huge_page_disallowed;
	struct kvm_mmu_page *rcu_next;	/* rcu_head: on kvm->rcu until the grace period */
};

/*
 * A page-table page's ->private (set_page_private(virt_to_page(sp->spt), sp)),
 * so sptep_to_sp() and spte_to_child_sp() are lock-free as in the kernel.
 * Customised stand-in for the memmap: spt pages come from 2 MiB-aligned
 * chunks of 512 pages whose first page holds the other pages' ->private
 * (sim/kvm/spt_page.c).
 */
#define KVM_SPT_CHUNK_SIZE	(2UL << 20)

static inline struct kvm_mmu_page **kvm_spt_private(const u64 *sptep)
{
	uintptr_t addr = (uintptr_t)sptep;
	struct kvm_mmu_page **slot = (struct kvm_mmu_page **)(addr & ~(KVM_SPT_CHUNK_SIZE - 1));

	return &slot[(addr & (KVM_SPT_CHUNK_SIZE - 1)) >> 12];
}

static inline struct kvm_mmu_page *sptep_to_sp(u64 *sptep)
{
	return *kvm_spt_private(sptep);
}

static inline struct kvm_mmu_page *spte_to_child_sp(u64 spte)
{
	return sptep_to_sp(spte_to_child_pt(spte, 0));
}

static inline bool is_mirror_sp(const struct kvm_mmu_page *sp)
{
	return sp->role.is_mirror;
}

static inline bool is_mirror_sptep(u64 *sptep)
{
	return is_mirror_sp(sptep_to_sp(sptep));
}

/* ---- the TDP iterator (tdp_iter.h; spec §2.0, §2.12) ---- */
struct tdp_iter {
	gfn_t next_last_level_gfn;	/* where a restart resumes */
	gfn_t yielded_gfn;		/* next_last_level_gfn at the last yield */
	u64 *pt_path[PT64_ROOT_MAX_LEVEL];	/* the table walked at each level */
	u64 *sptep;
	gfn_t gfn;			/* first GFN mapped by sptep */
	int root_level;
	int min_level;
	int level;
	int as_id;
	u64 old_spte;			/* snapshot of *sptep: stale after a yield */
	bool valid;
	bool yielded;			/* the walk dropped mmu_lock: restart at the next step */
};

void tdp_iter_start(struct tdp_iter *iter, struct kvm_mmu_page *root, int min_level,
		    gfn_t next_last_level_gfn);
void tdp_iter_next(struct tdp_iter *iter);
void tdp_iter_restart(struct tdp_iter *iter);

/* Pre-order over the SPTEs covering [start, end), descending only to @min_level. */
#define for_each_tdp_pte_min_level(iter, kvm, root, min_level, start, end)		\
	for (tdp_iter_start(&(iter), (root), (min_level), (start));			\
	     (iter).valid && (iter).gfn < (end);					\
	     tdp_iter_next(&(iter)))

#define for_each_tdp_pte(iter, kvm, root, start, end)					\
	for_each_tdp_pte_min_level(iter, kvm, root, PG_LEVEL_4K, start, end)

/* ---- SPTE writers (spec §2.0, §3.2) ---- */
/*
 * Under the read mmu_lock: cmpxchg @iter's SPTE from iter->old_spte to
 * @new_spte; for a mirror SPTE, freeze it, run the external hook, then write
 * @new_spte or restore the old value.  0, -EBUSY (lost the race;
 * iter->old_spte refreshed), or the hook's error.
 */
int tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte);
/*
 * Under the write mmu_lock: write the SPTE, then handle_changed_spte(), then
 * propagate to the external tree (remove or split; the split's result is
 * ignored, a failure has bugged the VM).  Returns the old SPTE.
 */
u64 tdp_mmu_set_spte(struct kvm *kvm, int as_id, u64 *sptep, u64 old_spte, u64 new_spte,
		     gfn_t gfn, int level);
void handle_changed_spte(struct kvm *kvm, int as_id, gfn_t gfn, u64 old_spte, u64 new_spte,
			 int level, bool shared);
/* Yield point: may drop and retake mmu_lock (kvm->yield_hook); true if it did. */
bool tdp_mmu_iter_cond_resched(struct kvm *kvm, struct tdp_iter *iter, bool flush, bool shared);

/* ---- page-table pages ---- */
struct kvm_mmu_page *tdp_mmu_alloc_sp(struct kvm_vcpu *vcpu);
struct kvm_mmu_page *tdp_mmu_alloc_sp_for_split(struct kvm *kvm, bool mirror);
/* Frees the sp's external_spt (whatever its origin: 000), spt and header. */
void tdp_mmu_free_sp(struct kvm *kvm, struct kvm_mmu_page *sp);

/* ---- control paths ---- */
#define PFERR_WRITE_MASK	(1ULL << 1)
#define PFERR_PRIVATE_ACCESS	(1ULL << 49)

enum {
	RET_PF_CONTINUE = 0,
	RET_PF_RETRY,
	RET_PF_EMULATE,
	RET_PF_WRITE_PROTECTED,
	RET_PF_INVALID,
	RET_PF_FIXED,
	RET_PF_SPURIOUS,
};

struct kvm_page_fault {
	gpa_t addr;
	u64 error_code;
	bool is_private;
	bool write;
	gfn_t gfn;
	struct kvm_memory_slot *slot;
	kvm_pfn_t pfn;
	int max_level;
	int req_level;
	int goal_level;
	bool huge_page_disallowed;
	bool nx_huge_page_workaround_enabled;
	unsigned long mmu_seq;	/* kvm->mmu_invalidate_seq before the lookup */
};

/*
 * One private fault attempt for @gpa on @vcpu (mmu_topup_memory_caches,
 * kvm_mmu_faultin_pfn, read mmu_lock, kvm_tdp_mmu_map): RET_PF_FIXED,
 * RET_PF_SPURIOUS, RET_PF_RETRY, or a negative errno (-EFAULT: no memslot or
 * folio, or the access's privateness differs from the attributes; -ENOMEM:
 * cache top-up).  @level, if not NULL, gets the level mapped.  Takes
 * mmu_lock itself; the caller must not hold it.
 */
int kvm_mmu_do_page_fault(struct kvm_vcpu *vcpu, gpa_t gpa, u64 error_code, int *level);
int kvm_tdp_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
/*
 * mmu.c kvm_tdp_map_page(): fault until the GPA is mapped.  0 with @level
 * set, or a negative errno.  The kernel loops on RET_PF_RETRY until a
 * signal; here KVM_TDP_MAP_PAGE_MAX_RETRIES attempts stand for that signal
 * and give -EINTR (a livelock such as spec §6.3 ends instead of hanging);
 * a bugged VM gives -EIO before the next attempt (KVM_REQ_VM_DEAD).
 */
#define KVM_TDP_MAP_PAGE_MAX_RETRIES	10000
int kvm_tdp_map_page(struct kvm_vcpu *vcpu, gpa_t gpa, u64 error_code, int *level);
/* Called with the read mmu_lock held. */
int kvm_tdp_mmu_map(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
/* The largest level lpage_info allows at @gfn, at most @max_level. */
int kvm_mmu_max_mapping_level(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn,
			      int max_level);

/*
 * Split every huge leaf of @root in [start, end) (only those crossing start
 * or end when @only_cross_boundary) down to @target_level.  Called with
 * mmu_lock held as @shared says; drops and retakes it to allocate.  0 or
 * -ENOMEM (sp allocation or the per-VM split cache top-up).
 */
int tdp_mmu_split_huge_pages_root(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t start,
				  gfn_t end, int target_level, bool shared,
				  bool only_cross_boundary);
/*
 * kvm_tdp_mmu_try_split_huge_pages(): dirty logging's eager split of
 * [start, end) of @slot down to @target_level over every valid root of the
 * slot's address space (KVM_VALID_ROOTS: on a TD the mirror root, the only
 * root modelled), mmu_lock held as @shared says.  The kernel's returns
 * void; here 0 or the walk's error (-ENOMEM; -EOPNOTSUPP: TDX refuses a
 * split under the shared lock), or -EINVAL (with a WARN) when
 * kvm->eager_split_refuse_mirror and the VM has a mirrored TDP (S23).
 */
int kvm_tdp_mmu_try_split_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot,
				     gfn_t start, gfn_t end, int target_level, bool shared);
/*
 * The mirror root's huge leaves in [start, end) split to @target_level
 * (v5's kvm_tdp_mmu_mirrors_split_huge_pages(), for TDX's conversion
 * entry).  Write mmu_lock held; drops it to allocate the sp.  0, -ENOMEM,
 * or the split's error (the VM is then bugged).
 */
int kvm_tdp_mmu_mirrors_split_huge_pages(struct kvm *kvm, gfn_t start, gfn_t end,
					 int target_level);
/*
 * Split huge leaves that straddle @range's start or end, in the roots
 * @range->attr_filter selects.  0 or a negative errno (-EOPNOTSUPP when
 * !may_block), never positive unless TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL
 * re-creates v3's `bool ret` (an error comes back as 1).
 */
int kvm_split_cross_boundary_leafs(struct kvm *kvm, struct kvm_gfn_range *range, bool shared);
/* Zap the leaves in [range->start, range->end) of the filtered roots; write lock held. */
bool kvm_tdp_mmu_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range, bool flush);
bool kvm_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range);
/* Zap everything under @root, leaves before their table; write lock held. */
void tdp_mmu_zap_root(struct kvm *kvm, struct kvm_mmu_page *root, bool shared);

/* Reads: the mirror SPTE mapping @gfn and its level (0 and PG_LEVEL_NONE if none). */
u64 kvm_tdp_mmu_read_mirror(struct kvm *kvm, gfn_t gfn, int *level);

#pragma GCC visibility pop

#endif /* TDXSIM_KVM_TDP_MMU_H */
