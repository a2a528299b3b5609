// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TDP MMU for private memory (arch/x86/kvm/mmu/tdp_mmu.c as the v3
 * series leaves it; spec kvm-model.md §2, §3.2).  Bodies written from the
 * described behaviour; names and call shapes are the kernel's.
 */
#include <tdxsim-kvm/check.h>

#include "mmu_internal.h"

/* ---- the backend boundary: the one place that calls the hooks ---- */
/*
 * v3 (spec §4.1) has five hooks chosen by the transition; `upstream`
 * (kvm-upstream.md §3) has the funnel and free_external_spt(kvm, sp).  The
 * paths below ask is_upstream() where the two designs put the call in a
 * different place.
 */
static bool is_upstream(const struct kvm *kvm)
{
	return kvm->mmu_design == KVM_MMU_DESIGN_UPSTREAM;
}

static int ext_funnel(struct kvm *kvm, gfn_t gfn, u64 old_spte, u64 new_spte, int level)
{
	if (!kvm->x86_ops_upstream->set_external_spte)
		return -EOPNOTSUPP;
	return kvm->x86_ops_upstream->set_external_spte(kvm, gfn, old_spte, new_spte, level);
}

static int ext_set_external_spte(struct kvm *kvm, gfn_t gfn, int level, u64 new_spte)
{
	if (!kvm->x86_ops->set_external_spte)
		return -EOPNOTSUPP;
	return kvm->x86_ops->set_external_spte(kvm, gfn, level, new_spte);
}

static int ext_link_external_spt(struct kvm *kvm, gfn_t gfn, int level, void *external_spt)
{
	if (!kvm->x86_ops->link_external_spt)
		return -EOPNOTSUPP;
	return kvm->x86_ops->link_external_spt(kvm, gfn, level, external_spt);
}

static int ext_split_external_spte(struct kvm *kvm, gfn_t gfn, int level, u64 old_spte,
				   void *new_external_spt, bool shared)
{
	if (!kvm->x86_ops->split_external_spte)
		return -EOPNOTSUPP;
	return kvm->x86_ops->split_external_spte(kvm, gfn, level, old_spte, new_external_spt,
						 shared);
}

static void ext_remove_external_spte(struct kvm *kvm, gfn_t gfn, int level, u64 old_spte)
{
	if (kvm->x86_ops->remove_external_spte)
		kvm->x86_ops->remove_external_spte(kvm, gfn, level, old_spte);
}

static int ext_free_external_spt(struct kvm *kvm, gfn_t gfn, int level, void *external_spt)
{
	if (!kvm->x86_ops->free_external_spt)
		return 0;
	return kvm->x86_ops->free_external_spt(kvm, gfn, level, external_spt);
}

/* mmu.c need_topup_external_split_cache() (003:P19); an absent op means "no". */
static bool need_topup_external_split_cache(struct kvm *kvm, enum pg_level huge_level)
{
	bool (*need)(struct kvm *, enum pg_level) =
		kvm->x86_ops->need_topup_external_per_vm_split_cache;

	return need ? need(kvm, huge_level) : false;
}

/* ---- page stats, sp life cycle ---- */
void kvm_update_page_stats(struct kvm *kvm, int level, long count)
{
	if (level >= PG_LEVEL_4K && level <= KVM_NR_PAGE_SIZES)
		__atomic_fetch_add(&kvm->stat.pages[level - 1], count, __ATOMIC_RELAXED);
}

static void tdp_mmu_init_sp(struct kvm_mmu_page *sp, u64 *sptep, gfn_t gfn,
			    union kvm_mmu_page_role role)
{
	*kvm_spt_private(sp->spt) = sp;	/* set_page_private() */
	sp->role = role;
	sp->gfn = gfn;
	sp->ptep = sptep;
}

/* Children inherit the parent's role (is_mirror included), one level down. */
static void tdp_mmu_init_child_sp(struct kvm_mmu_page *child_sp, struct tdp_iter *iter)
{
	struct kvm_mmu_page *parent_sp = sptep_to_sp(iter->sptep);
	union kvm_mmu_page_role role = parent_sp->role;

	role.level--;
	tdp_mmu_init_sp(child_sp, iter->sptep, iter->gfn, role);
}

struct kvm_mmu_page *tdp_mmu_alloc_sp(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu_page *sp;

	sp = kvm_mmu_memory_cache_alloc(&vcpu->arch.mmu_page_header_cache);
	if (!sp)
		return NULL;
	sp->spt = kvm_mmu_memory_cache_alloc(&vcpu->arch.mmu_shadow_page_cache);
	if (!sp->spt) {
		free(sp);
		return NULL;
	}
	__atomic_fetch_add(&vcpu->kvm->stat.sp_allocated, 1, __ATOMIC_RELAXED);
	return sp;
}

/* mmu.c kvm_mmu_alloc_external_spt(): the fault path's S-EPT page comes from the backend. */
static void kvm_mmu_alloc_external_spt(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp)
{
	if (vcpu->kvm->x86_ops->alloc_external_fault_cache)
		sp->external_spt = vcpu->kvm->x86_ops->alloc_external_fault_cache(vcpu);
}

/*
 * 003:P10: the split path allocates the header, the spt and, for a mirror
 * table, the external_spt with get_zeroed_page().  v3 left the spt zeroed;
 * Kai (001:L101-111) asked for SHADOW_NONPRESENT_VALUE as the fault path's
 * cache gives, so no raw 0 can ever sit in a TDX table (I13).  The model
 * does that; TDXSIM_KVM_DEFECT_SPLIT_SPT_ZERO brings back the zeroes.
 */
struct kvm_mmu_page *tdp_mmu_alloc_sp_for_split(struct kvm *kvm, bool mirror)
{
	struct kvm_mmu_page *sp = calloc(1, sizeof(*sp));

	if (!sp)
		return NULL;
	sp->spt = kvm_mmu_alloc_spt_page((kvm->defects & TDXSIM_KVM_DEFECT_SPLIT_SPT_ZERO) ?
					 0 : SHADOW_NONPRESENT_VALUE);
	if (!sp->spt) {
		free(sp);
		return NULL;
	}
	if (mirror) {
		sp->external_spt = kvm->page_ops.get_page_for(kvm, KVM_POOL_SPLIT_SP);
		if (!sp->external_spt) {
			kvm_mmu_free_spt_page(sp->spt);
			free(sp);
			return NULL;
		}
	}
	__atomic_fetch_add(&kvm->stat.sp_allocated, 1, __ATOMIC_RELAXED);
	return sp;
}

/* KVM frees external_spt with free_page() whatever its origin (000, Sean). */
void tdp_mmu_free_sp(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	if (!sp)
		return;
	if (sp->external_spt)
		kvm->page_ops.release_page(kvm, sp->external_spt, KVM_POOL_SP_FREE);
	kvm_mmu_free_spt_page(sp->spt);
	free(sp);
	__atomic_fetch_sub(&kvm->stat.sp_allocated, 1, __ATOMIC_RELAXED);
}

struct kvm_mmu_page *kvm_tdp_mmu_alloc_mirror_root(struct kvm *kvm)
{
	union kvm_mmu_page_role role = { .word = 0 };
	struct kvm_mmu_page *root = calloc(1, sizeof(*root));

	if (!root)
		return NULL;
	root->spt = kvm_mmu_alloc_spt_page(SHADOW_NONPRESENT_VALUE);
	if (!root->spt) {
		free(root);
		return NULL;
	}
	role.level = kvm->root_level;
	role.is_mirror = 1;
	/* The S-EPT root belongs to the TD's control structures: no external_spt. */
	tdp_mmu_init_sp(root, NULL, 0, role);
	root->tdp_mmu_root_count = 1;
	__atomic_fetch_add(&kvm->stat.sp_allocated, 1, __ATOMIC_RELAXED);
	return root;
}

/* ---- changed SPTEs ---- */
static void handle_removed_pt(struct kvm *kvm, u64 *pt, bool shared);

/* tdp_mmu.c remove_external_spte(): only leaves; tables go in handle_removed_pt. */
static void remove_external_spte(struct kvm *kvm, gfn_t gfn, u64 old_spte, int level)
{
	if (!is_shadow_present_pte(old_spte) || !is_last_spte(old_spte, level))
		return;
	lockdep_assert_held_write(&kvm->mmu_lock);
	ext_remove_external_spte(kvm, gfn, level, old_spte);
}

static void __handle_changed_spte(struct kvm *kvm, int as_id, gfn_t gfn, u64 old_spte,
				  u64 new_spte, int level, bool shared);

/*
 * @mirror: the SPTE is in a mirror table; @propagated: the caller (the
 * atomic path) has already told the backend.  upstream: every other mirror
 * change but a table's removal goes through the funnel here, after the
 * accounting (and after the children, for a table replaced by a leaf).
 */
static void handle_changed_mirror_spte(struct kvm *kvm, int as_id, gfn_t gfn, u64 old_spte,
				       u64 new_spte, int level, bool shared, bool mirror,
				       bool propagated)
{
	bool table_removed = is_shadow_present_pte(old_spte) &&
			     !is_last_spte(old_spte, level) && !is_shadow_present_pte(new_spte);

	if (mirror)
		kvm_check_spte_change(kvm, gfn, level, old_spte, new_spte, shared);
	__handle_changed_spte(kvm, as_id, gfn, old_spte, new_spte, level, shared);
	if (!mirror || propagated || !is_upstream(kvm) || table_removed || old_spte == new_spte)
		return;
	if (!is_shadow_present_pte(old_spte) && !is_shadow_present_pte(new_spte))
		return;
	KVM_BUG_ON(ext_funnel(kvm, gfn, old_spte, new_spte, level), kvm);
}

void handle_changed_spte(struct kvm *kvm, int as_id, gfn_t gfn, u64 old_spte, u64 new_spte,
			 int level, bool shared)
{
	__handle_changed_spte(kvm, as_id, gfn, old_spte, new_spte, level, shared);
}

static void __handle_changed_spte(struct kvm *kvm, int as_id, gfn_t gfn, u64 old_spte,
				  u64 new_spte, int level, bool shared)
{
	bool old_present = is_shadow_present_pte(old_spte);
	bool new_present = is_shadow_present_pte(new_spte);
	/* is_last_spte() is only meaningful for a present SPTE. */
	bool old_leaf = old_present ? is_last_spte(old_spte, level) : false;
	bool new_leaf = new_present ? is_last_spte(new_spte, level) : false;
	bool pfn_changed = spte_to_pfn(old_spte) != spte_to_pfn(new_spte);

	WARN_ON_ONCE(level > PT64_ROOT_MAX_LEVEL || level < PG_LEVEL_4K);
	WARN_ON_ONCE(gfn & (KVM_PAGES_PER_HPAGE(level) - 1));

	/* A leaf replaced by another leaf of a different PFN is never done in place. */
	if (old_leaf && new_leaf && pfn_changed) {
		KVM_BUG_ON(1, kvm);
		return;
	}
	if (old_spte == new_spte)
		return;
	/* Non-present to non-present: only FROZEN comes and goes; nothing to account. */
	if (!old_present && !new_present)
		return;
	if (new_leaf != old_leaf)
		kvm_update_page_stats(kvm, level, new_leaf ? 1 : -1);
	/* A table unlinked (zapped, or replaced by a leaf): reap it, children first. */
	if (old_present && !old_leaf && (new_leaf || !new_present || WARN_ON_ONCE(pfn_changed)))
		handle_removed_pt(kvm, spte_to_child_pt(old_spte, level), shared);
}

/*
 * A table that is no longer reachable: freeze each child, account it as
 * gone (recursing into grandchildren first), remove external leaves, then
 * hand the external table back (free_external_spt) and free the sp after
 * the grace period.  Leaves before their parent (002:L49-57; spec §2.9).
 */
static void handle_removed_pt(struct kvm *kvm, u64 *pt, bool shared)
{
	struct kvm_mmu_page *sp = sptep_to_sp(pt);
	int level = sp->role.level;
	gfn_t base_gfn = sp->gfn;
	int i;

	for (i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		u64 *sptep = pt + i;
		gfn_t gfn = base_gfn + i * KVM_PAGES_PER_HPAGE(level);
		u64 child_spte;

		if (shared) {
			/* Wait out whoever froze it: they write the final value. */
			for (;;) {
				child_spte = kvm_tdp_mmu_write_spte_atomic(sptep, FROZEN_SPTE);
				if (!is_frozen_spte(child_spte))
					break;
			}
		} else {
			/* Exclusive mmu_lock: a non-present child cannot become present. */
			child_spte = kvm_tdp_mmu_read_spte(sptep);
			if (!is_shadow_present_pte(child_spte))
				continue;
			child_spte = kvm_tdp_mmu_write_spte_atomic(sptep, FROZEN_SPTE);
		}
		handle_changed_mirror_spte(kvm, 0, gfn, child_spte, FROZEN_SPTE, level, shared,
					   is_mirror_sp(sp), false);
		if (is_mirror_sp(sp) && !is_upstream(kvm)) {
			KVM_BUG_ON(shared, kvm);
			remove_external_spte(kvm, gfn, child_spte, level);
		}
	}

	if (is_mirror_sp(sp) && is_upstream(kvm)) {
		/* upstream: the backend leaks the page itself (external_spt = NULL). */
		if (kvm->x86_ops_upstream->free_external_spt)
			kvm->x86_ops_upstream->free_external_spt(kvm, sp);
	} else if (is_mirror_sp(sp) &&
		   WARN_ON(ext_free_external_spt(kvm, base_gfn, level, sp->external_spt))) {
		/* The module may still own it: leak it rather than free it (I4). */
		if (!(kvm->defects & TDXSIM_KVM_DEFECT_FREE_OWNED_EXT_SPT)) {
			kvm_prov_note_virt(KVM_PROV_LEAK, sp->external_spt, KVM_POOL_OTHER,
					   __func__);
			sp->external_spt = NULL;
		}
	}
	kvm_mmu_call_rcu(kvm, sp);
}

/* ---- atomic path (read mmu_lock) ---- */
static void *get_external_spt(gfn_t gfn, u64 new_spte, int level)
{
	if (is_shadow_present_pte(new_spte) && !is_last_spte(new_spte, level)) {
		struct kvm_mmu_page *sp = spte_to_child_sp(new_spte);

		WARN_ON_ONCE(sp->role.level + 1 != level);
		WARN_ON_ONCE(sp->gfn != gfn);
		return sp->external_spt;
	}
	return NULL;
}

/*
 * Freeze the mirror SPTE, propagate to the external tree, then write the new
 * value, or restore the old one if the backend failed (spec §3.2): the
 * mirror never shows a present value the external tree lacks.
 */
static int set_external_spte_present(struct kvm *kvm, u64 *sptep, gfn_t gfn, u64 *old_spte,
				     u64 new_spte, int level)
{
	bool was_present = is_shadow_present_pte(*old_spte);
	bool is_present = is_shadow_present_pte(new_spte);
	bool is_leaf = is_present && is_last_spte(new_spte, level);
	u64 frozen_from = *old_spte;
	int ret = 0;

	/*
	 * v3: !present -> present, or leaf -> non-leaf (demote, 003:P09).
	 * upstream moved these checks into the TDX code.
	 */
	if (!is_upstream(kvm) &&
	    KVM_BUG_ON(was_present && !(is_last_spte(*old_spte, level) && is_present && !is_leaf),
		       kvm))
		return -EIO;

	kvm_lockdep_assert_mmu_lock_held(kvm, true);
	/* v3 passed old_spte by value and left it stale here; refreshed as v5 02/45 does. */
	if (!try_cmpxchg64(sptep, old_spte, FROZEN_SPTE))
		return -EBUSY;

	if (is_upstream(kvm))
		ret = ext_funnel(kvm, gfn, frozen_from, new_spte, level);
	else if (!was_present && is_leaf)
		ret = ext_set_external_spte(kvm, gfn, level, new_spte);
	else if (!was_present)
		ret = ext_link_external_spt(kvm, gfn, level, get_external_spt(gfn, new_spte, level));
	else
		ret = ext_split_external_spte(kvm, gfn, level, frozen_from,
					      get_external_spt(gfn, new_spte, level), true);

	__atomic_store_n(sptep, ret ? frozen_from : new_spte, __ATOMIC_RELEASE);
	return ret;
}

static int __tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte)
{
	u64 *sptep = iter->sptep;

	/* A yielded iterator's snapshot is stale; a frozen SPTE belongs to someone else. */
	WARN_ON_ONCE(iter->yielded || is_frozen_spte(iter->old_spte));

	if (is_mirror_sptep(sptep) && !is_frozen_spte(new_spte)) {
		/* Users of atomic zapping don't operate on mirror roots. */
		if (KVM_BUG_ON(!is_shadow_present_pte(new_spte), kvm))
			return -EBUSY;
		return set_external_spte_present(kvm, sptep, iter->gfn, &iter->old_spte, new_spte,
						 iter->level);
	}
	if (!try_cmpxchg64(sptep, &iter->old_spte, new_spte))
		return -EBUSY;
	return 0;
}

int tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte)
{
	int ret;

	kvm_lockdep_assert_mmu_lock_held(kvm, true);
	ret = __tdp_mmu_set_spte_atomic(kvm, iter, new_spte);
	if (ret)
		return ret;
	handle_changed_mirror_spte(kvm, iter->as_id, iter->gfn, iter->old_spte, new_spte,
				   iter->level, true, is_mirror_sptep(iter->sptep), true);
	return 0;
}

/* ---- non-atomic path (write mmu_lock) ---- */
u64 tdp_mmu_set_spte(struct kvm *kvm, int as_id, u64 *sptep, u64 old_spte, u64 new_spte,
		     gfn_t gfn, int level)
{
	u64 prev_spte;

	lockdep_assert_held_write(&kvm->mmu_lock);

	/* Nobody else may hold a frozen SPTE while we hold mmu_lock for write. */
	WARN_ON_ONCE(is_frozen_spte(old_spte) || is_frozen_spte(new_spte));

	prev_spte = kvm_tdp_mmu_write_spte_atomic(sptep, new_spte);
	handle_changed_mirror_spte(kvm, as_id, gfn, prev_spte, new_spte, level, false,
				   is_mirror_sptep(sptep), false);
	if (is_upstream(kvm))
		return prev_spte;	/* propagated (or bugged) in handle_changed_spte */

	/*
	 * The mirror is written first; the external tree follows and cannot
	 * be rolled back (spec §3.2).  003:P07: the split's return value is
	 * ignored, a failure has already bugged the VM.
	 */
	if (is_mirror_sptep(sptep)) {
		if (!is_shadow_present_pte(new_spte))
			remove_external_spte(kvm, gfn, prev_spte, level);
		else if (is_shadow_present_pte(prev_spte) && is_last_spte(prev_spte, level) &&
			 !is_last_spte(new_spte, level))
			ext_split_external_spte(kvm, gfn, level, prev_spte,
						get_external_spt(gfn, new_spte, level), false);
		else
			KVM_BUG_ON(1, kvm);
	}
	return prev_spte;
}

static void tdp_mmu_iter_set_spte(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte)
{
	WARN_ON_ONCE(iter->yielded);
	iter->old_spte = tdp_mmu_set_spte(kvm, iter->as_id, iter->sptep, iter->old_spte, new_spte,
					  iter->gfn, iter->level);
}

/* ---- yield ---- */
static void kvm_mmu_unlock_shared(struct kvm *kvm, bool shared)
{
	if (shared)
		kvm_mmu_read_unlock(kvm);
	else
		KVM_MMU_UNLOCK(kvm);
}

static void kvm_mmu_lock_shared(struct kvm *kvm, bool shared)
{
	if (shared)
		kvm_mmu_read_lock(kvm);
	else
		KVM_MMU_LOCK(kvm);
}

/* Any lock drop is a scheduling point (spec §2.12): let a test's other thread run. */
static void kvm_mmu_lock_dropped(struct kvm *kvm)
{
	if (kvm->yield_hook.during_drop)
		kvm->yield_hook.during_drop(kvm, kvm->yield_hook.arg);
}

bool tdp_mmu_iter_cond_resched(struct kvm *kvm, struct tdp_iter *iter, bool flush, bool shared)
{
	struct kvm_yield_hook *h = &kvm->yield_hook;

	/* Forward progress: never yield twice at the same GFN. */
	if (iter->next_last_level_gfn == iter->yielded_gfn)
		return false;
	if (!h->should_yield || !h->should_yield(kvm, iter->gfn, iter->level, h->arg))
		return false;
	kvm_mmu_unlock_shared(kvm, shared);
	kvm_mmu_lock_dropped(kvm);
	kvm_mmu_lock_shared(kvm, shared);
	iter->yielded = true;
	return true;
}

/* ---- link and split ---- */
static void tdp_account_mmu_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
}

static int tdp_mmu_link_sp(struct kvm *kvm, struct tdp_iter *iter, struct kvm_mmu_page *sp,
			   bool shared)
{
	u64 spte = make_nonleaf_spte(sp->spt, false);
	int ret;

	if (shared) {
		ret = tdp_mmu_set_spte_atomic(kvm, iter, spte);
		if (ret)
			return ret;
	} else {
		tdp_mmu_iter_set_spte(kvm, iter, spte);
	}
	tdp_account_mmu_page(kvm, sp);
	return 0;
}

/* spte.c make_small_spte(): the i-th piece of a huge SPTE, one level down. */
static u64 make_small_spte(struct kvm *kvm, u64 huge_spte, union kvm_mmu_page_role role, int index)
{
	u64 child_spte = huge_spte;

	if (role.level == PG_LEVEL_4K)
		child_spte &= ~PT_PAGE_SIZE_MASK;
	child_spte += ((u64)index * KVM_PAGES_PER_HPAGE(role.level)) << 12;
	return child_spte;
}

static int tdp_mmu_split_huge_page(struct kvm *kvm, struct tdp_iter *iter,
				   struct kvm_mmu_page *sp, bool shared)
{
	u64 huge_spte = iter->old_spte;
	int level = iter->level;
	int ret, i;

	/* Unreachable until linked: plain writes. */
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
		sp->spt[i] = make_small_spte(kvm, huge_spte, sp->role, i);

	ret = tdp_mmu_link_sp(kvm, iter, sp, shared);
	if (ret)
		return ret;
	kvm_update_page_stats(kvm, level - 1, SPTE_ENT_PER_PAGE);
	kvm_check_split_done(kvm, iter->gfn, level, huge_spte, sp);	/* I12 */
	return 0;
}

/* 003:P11: does the leaf at @it stick out of [@first, @limit) on either side? */
static bool iter_cross_boundary(struct tdp_iter *it, gfn_t first, gfn_t limit)
{
	gfn_t leaf_end = it->gfn + KVM_PAGES_PER_HPAGE(it->level);

	return it->gfn < first || leaf_end > limit;
}

/* 003:P19: drop the locks, top up the backend's per-VM split cache, retake. */
static int topup_external_split_cache(struct kvm *kvm, enum pg_level huge_level,
				      bool lock_shared)
{
	int (*topup)(struct kvm *, enum pg_level) =
		kvm->x86_ops->topup_external_per_vm_split_cache;
	int r = 0;

	kvm_mmu_unlock_shared(kvm, lock_shared);
	if (topup)
		r = topup(kvm, huge_level);
	kvm_mmu_lock_dropped(kvm);
	kvm_mmu_lock_shared(kvm, lock_shared);
	return r;
}

int tdp_mmu_split_huge_pages_root(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t start,
				  gfn_t end, int target_level, bool lock_shared,
				  bool only_cross_boundary)
{
	struct kvm_mmu_page *sp = NULL;
	struct tdp_iter iter;
	int ret = 0;

	kvm_lockdep_assert_mmu_lock_held(kvm, lock_shared);

	/* Pre-order: a 1G leaf becomes 2M leaves, which are then split in turn. */
	for_each_tdp_pte_min_level(iter, kvm, root, target_level + 1, start, end) {
		/* S19: the walk's cost; atomic, the shared-lock walk may run in parallel */
		if (only_cross_boundary)
			__atomic_fetch_add(&kvm->stat.cross_boundary_steps, 1, __ATOMIC_RELAXED);
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, false, lock_shared))
			continue;
		if (!is_shadow_present_pte(iter.old_spte) || !is_large_pte(iter.old_spte))
			continue;
		if (only_cross_boundary && !iter_cross_boundary(&iter, start, end))
			continue;

		if (!sp) {
			/* May sleep: drop mmu_lock; the walk restarts and re-reads the SPTE. */
			kvm_mmu_unlock_shared(kvm, lock_shared);
			sp = tdp_mmu_alloc_sp_for_split(kvm, is_mirror_sp(root));
			kvm_mmu_lock_dropped(kvm);
			kvm_mmu_lock_shared(kvm, lock_shared);
			if (!sp) {
				ret = -ENOMEM;
				break;
			}
			iter.yielded = true;
			continue;
		}

		if (is_mirror_sp(root) && need_topup_external_split_cache(kvm, iter.level)) {
			ret = topup_external_split_cache(kvm, iter.level, lock_shared);
			if (ret)
				goto out;
			/* Re-check need_topup under the lock just retaken (004:L59-79). */
			iter.yielded = true;
			continue;
		}

		tdp_mmu_init_child_sp(sp, &iter);
		ret = tdp_mmu_split_huge_page(kvm, &iter, sp, lock_shared);
		if (ret == -EBUSY) {
			/* Lost a cmpxchg: iter.old_spte is fresh, try this SPTE again. */
			ret = 0;
			goto retry;
		}
		/*
		 * The kernel retries on any error; a backend that refuses (TDX
		 * under the shared lock, spec §2.10) would make that spin on the
		 * same SPTE forever (spec §6.3), so the model stops with it.
		 */
		if (ret)
			break;
		sp = NULL;
	}
out:
	/* An sp allocated but never linked (another thread split first, or an error). */
	if (sp)
		tdp_mmu_free_sp(kvm, sp);
	return ret;
}

int kvm_tdp_mmu_try_split_huge_pages(struct kvm *kvm, const struct kvm_memory_slot *slot,
				     gfn_t start, gfn_t end, int target_level, bool shared)
{
	kvm_lockdep_assert_mmu_lock_held(kvm, shared);
	/* S23, the proposal: no mirror root for dirty logging's splits. */
	if (kvm->eager_split_refuse_mirror && WARN_ON_ONCE(kvm->has_mirrored_tdp))
		return -EINVAL;
	/*
	 * for_each_valid_tdp_mmu_root_yield_safe(kvm, root, slot->as_id): the
	 * direct root is not modelled, the mirror root is valid on a TD (v3
	 * as posted: nothing keeps the walk off it, S23).
	 */
	(void)slot;
	if (!kvm->mirror_root)
		return 0;
	return tdp_mmu_split_huge_pages_root(kvm, kvm->mirror_root, start, end, target_level,
					     shared, false);
}

/*
 * Sean's kvm_tdp_mmu_mirrors_split_huge_pages() (2026-01-29, kvm-upstream.md
 * §5): split the huge leaves of the mirror root in [start, end) down to
 * @target_level under the write mmu_lock, for a backend that picks the
 * range itself (TDX: the head and tail of a conversion).  It drops
 * mmu_lock only to allocate the sp; the backend's split pages must be
 * there already.
 */
int kvm_tdp_mmu_mirrors_split_huge_pages(struct kvm *kvm, gfn_t start, gfn_t end,
					 int target_level)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	return tdp_mmu_split_huge_pages_root(kvm, kvm->mirror_root, start, end, target_level,
					     false, false);
}

/* ---- zap ---- */
static bool tdp_mmu_zap_leafs(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t start,
			      gfn_t end, bool can_yield, bool flush)
{
	struct tdp_iter iter;

	lockdep_assert_held_write(&kvm->mmu_lock);
	for_each_tdp_pte_min_level(iter, kvm, root, PG_LEVEL_4K, start, end) {
		if (can_yield && tdp_mmu_iter_cond_resched(kvm, &iter, flush, false)) {
			flush = false;
			continue;
		}
		if (!is_shadow_present_pte(iter.old_spte) ||
		    !is_last_spte(iter.old_spte, iter.level))
			continue;
		/* A huge leaf intersecting the range goes whole: split it first (003:CL§8). */
		tdp_mmu_iter_set_spte(kvm, &iter, SHADOW_NONPRESENT_VALUE);
		flush = true;
	}
	return flush;
}

static struct kvm_mmu_page *root_for_filter(struct kvm *kvm, enum kvm_gfn_range_filter filter)
{
	/* Only the mirror root is modelled: private memory. */
	return (filter & KVM_FILTER_PRIVATE) ? kvm->mirror_root : NULL;
}

bool kvm_tdp_mmu_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range, bool flush)
{
	struct kvm_mmu_page *root = root_for_filter(kvm, range->attr_filter);

	if (root)
		flush = tdp_mmu_zap_leafs(kvm, root, range->start, range->end, range->may_block,
					  flush);
	return flush;
}

bool kvm_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range)
{
	return kvm_tdp_mmu_unmap_gfn_range(kvm, range, false);
}

static int kvm_tdp_mmu_gfn_range_split_cross_boundary_leafs(struct kvm *kvm,
							    struct kvm_gfn_range *range,
							    bool shared)
{
	struct kvm_mmu_page *root = root_for_filter(kvm, range->attr_filter);
	gfn_t head_end, tail_start;
	int ret;

	if (!root)
		return 0;
	if (!kvm->split_cross_boundary_headtail)
		return tdp_mmu_split_huge_pages_root(kvm, root, range->start, range->end,
						     PG_LEVEL_4K, shared, true);
	/*
	 * S19 `headtail`: a leaf of at most 1G crosses start only inside
	 * start's 1G region and end only inside end's, so walking those two
	 * regions' parts of the range finds the same leaves; the walk costs
	 * at most two 1G regions, not the whole range.
	 */
	head_end = min(ALIGN(range->start, KVM_PAGES_PER_HPAGE(PG_LEVEL_1G)), range->end);
	tail_start = max(ALIGN_DOWN(range->end, KVM_PAGES_PER_HPAGE(PG_LEVEL_1G)), head_end);
	ret = 0;
	if (range->start < head_end)
		ret = tdp_mmu_split_huge_pages_root(kvm, root, range->start, head_end,
						    PG_LEVEL_4K, shared, true);
	if (!ret && tail_start < range->end)
		ret = tdp_mmu_split_huge_pages_root(kvm, root, tail_start, range->end,
						    PG_LEVEL_4K, shared, true);
	return ret;
}

/*
 * mmu.c (003:P11).  No TLB flush and no "did split" result: callers flush
 * as they need.  v3 declared the result `bool`, turning -ENOMEM into 1 (spec
 * §6.1); this returns the errno.
 */
int kvm_split_cross_boundary_leafs(struct kvm *kvm, struct kvm_gfn_range *range, bool shared)
{
	int ret;

	if (!range->may_block)
		return -EOPNOTSUPP;
	ret = kvm_tdp_mmu_gfn_range_split_cross_boundary_leafs(kvm, range, shared);
	/* v3 as posted: `bool ret = 0; ... ret = <int>; return ret;` */
	if (kvm->defects & TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL)
		ret = ret != 0;
	return kvm_check_return(kvm, __func__, ret);	/* I19 */
}

static void __tdp_mmu_zap_root(struct kvm *kvm, struct kvm_mmu_page *root, bool shared,
			       int zap_level)
{
	gfn_t end = 1ULL << (root->role.level * SPTE_LEVEL_BITS);
	struct tdp_iter iter;

	for_each_tdp_pte_min_level(iter, kvm, root, zap_level, 0, end) {
		if (iter.level > zap_level || !is_shadow_present_pte(iter.old_spte))
			continue;
		tdp_mmu_iter_set_spte(kvm, &iter, SHADOW_NONPRESENT_VALUE);
	}
}

void tdp_mmu_zap_root(struct kvm *kvm, struct kvm_mmu_page *root, bool lock_shared)
{
	kvm_lockdep_assert_mmu_lock_held(kvm, lock_shared);
	/* 1G first, to bound the work per top-level entry, then the rest. */
	__tdp_mmu_zap_root(kvm, root, lock_shared, PG_LEVEL_1G);
	__tdp_mmu_zap_root(kvm, root, lock_shared, root->role.level);
}

/* ---- fault-in ---- */
static void disallowed_hugepage_adjust(struct kvm *kvm, struct kvm_page_fault *fault, u64 spte,
				       int cur_level)
{
	struct kvm_mmu_page *child;

	if (cur_level <= PG_LEVEL_4K || cur_level != fault->goal_level ||
	    !is_shadow_present_pte(spte) || is_large_pte(spte))
		return;
	child = spte_to_child_sp(spte);
	/*
	 * 003:P06: never replace a mirror table by a leaf (no merge).
	 * TDXSIM_KVM_DEFECT_ALLOW_MIRROR_PROMOTION drops the rule (S17c).
	 */
	if (child->nx_huge_page_disallowed ||
	    (is_mirror_sp(child) && !(kvm->defects & TDXSIM_KVM_DEFECT_ALLOW_MIRROR_PROMOTION))) {
		u64 page_mask = KVM_PAGES_PER_HPAGE(cur_level) - KVM_PAGES_PER_HPAGE(cur_level - 1);

		fault->pfn |= fault->gfn & page_mask;
		fault->goal_level--;
	}
}

static int tdp_mmu_map_handle_target_level(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault,
					   struct tdp_iter *iter)
{
	struct kvm_mmu_page *sp = sptep_to_sp(iter->sptep);
	u64 new_spte;

	if (WARN_ON_ONCE(sp->role.level != fault->goal_level))
		return RET_PF_RETRY;
	new_spte = make_spte(fault->pfn, iter->level);
	if (new_spte == iter->old_spte)
		return RET_PF_SPURIOUS;
	if (tdp_mmu_set_spte_atomic(vcpu->kvm, iter, new_spte))
		return RET_PF_RETRY;
	return RET_PF_FIXED;
}

int kvm_tdp_mmu_map(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *root = kvm->mirror_root;
	/*
	 * 003:P06: the mirror root never maps a leaf over an existing table
	 * (TDXSIM_KVM_DEFECT_ALLOW_MIRROR_PROMOTION: it may, S17c).
	 */
	bool adjust_for_children = fault->nx_huge_page_workaround_enabled ||
		(is_mirror_sp(root) && !(kvm->defects & TDXSIM_KVM_DEFECT_ALLOW_MIRROR_PROMOTION));
	struct tdp_iter iter;
	int ret = RET_PF_RETRY;

	kvm_lockdep_assert_mmu_lock_held(kvm, true);
	kvm_mmu_hugepage_adjust(vcpu, fault);
	for_each_tdp_pte(iter, kvm, root, fault->gfn, fault->gfn + 1) {
		struct kvm_mmu_page *sp;
		bool present;
		int r;

		if (adjust_for_children)
			disallowed_hugepage_adjust(kvm, fault, iter.old_spte, iter.level);

		/* Someone else is changing this SPTE: let the vCPU retry. */
		if (is_frozen_spte(iter.old_spte))
			goto retry;
		if (iter.level == fault->goal_level)
			goto map_target_level;
		present = is_shadow_present_pte(iter.old_spte);
		if (present && !is_large_pte(iter.old_spte))
			continue;

		sp = tdp_mmu_alloc_sp(vcpu);
		if (!sp)
			goto retry;
		tdp_mmu_init_child_sp(sp, &iter);
		if (is_mirror_sp(sp))
			kvm_mmu_alloc_external_spt(vcpu, sp);
		sp->nx_huge_page_disallowed = fault->huge_page_disallowed;

		/*
		 * Present here means a huge leaf above the goal: split it (the
		 * backend may refuse: §2.10); else link the new table.
		 */
		r = present ? tdp_mmu_split_huge_page(kvm, &iter, sp, true) :
			      tdp_mmu_link_sp(kvm, &iter, sp, true);
		if (r) {
			tdp_mmu_free_sp(kvm, sp);
			goto retry;
		}
	}
	/* The walk ended above the goal, e.g. a table was zapped under us. */
	WARN_ON_ONCE(iter.level == fault->goal_level);
	goto retry;

map_target_level:
	ret = tdp_mmu_map_handle_target_level(vcpu, fault, &iter);
retry:
	return ret;
}

u64 kvm_tdp_mmu_read_mirror(struct kvm *kvm, gfn_t gfn, int *level)
{
	struct tdp_iter iter;

	for_each_tdp_pte(iter, kvm, kvm->mirror_root, gfn, gfn + 1) {
		if (is_shadow_present_pte(iter.old_spte) &&
		    is_last_spte(iter.old_spte, iter.level)) {
			if (level)
				*level = iter.level;
			return iter.old_spte;
		}
	}
	if (level)
		*level = PG_LEVEL_NONE;
	return 0;
}
