// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TDP iterator (arch/x86/kvm/mmu/tdp_iter.c; spec kvm-model.md §2.0):
 * a pre-order walk of the SPTEs covering a GFN range that steps into a child
 * only when the snapshot old_spte is a present non-leaf above min_level.
 * After a yield (iter->yielded) the next step restarts from the root at
 * next_last_level_gfn and re-reads every SPTE.
 */
#include "mmu_internal.h"

static void tdp_iter_refresh_sptep(struct tdp_iter *iter)
{
	iter->sptep = iter->pt_path[iter->level - 1] + SPTE_INDEX(iter->gfn, iter->level);
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
}

void tdp_iter_restart(struct tdp_iter *iter)
{
	iter->yielded = false;
	iter->yielded_gfn = iter->next_last_level_gfn;
	iter->level = iter->root_level;
	iter->gfn = gfn_round_for_level(iter->next_last_level_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	iter->valid = true;
}

void tdp_iter_start(struct tdp_iter *iter, struct kvm_mmu_page *root, int min_level,
		    gfn_t next_last_level_gfn)
{
	memset(iter, 0, sizeof(*iter));
	if (WARN_ON_ONCE(!root || root->role.level < 1 || root->role.level > PT64_ROOT_MAX_LEVEL)) {
		iter->valid = false;
		return;
	}
	iter->next_last_level_gfn = next_last_level_gfn;
	iter->root_level = root->role.level;
	iter->min_level = min_level;
	iter->pt_path[iter->root_level - 1] = root->spt;
	iter->as_id = 0;
	tdp_iter_restart(iter);
}

static bool try_step_down(struct tdp_iter *iter)
{
	u64 *child_pt;

	if (iter->level == iter->min_level)
		return false;
	/* Re-read: the snapshot may be stale if another thread changed the SPTE. */
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
	if (!is_shadow_present_pte(iter->old_spte) || is_last_spte(iter->old_spte, iter->level))
		return false;
	child_pt = spte_to_child_pt(iter->old_spte, iter->level);
	iter->level--;
	iter->pt_path[iter->level - 1] = child_pt;
	iter->gfn = gfn_round_for_level(iter->next_last_level_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	return true;
}

static bool try_step_side(struct tdp_iter *iter)
{
	/* The last entry of this table: the caller steps up. */
	if (SPTE_INDEX(iter->gfn, iter->level) == SPTE_ENT_PER_PAGE - 1)
		return false;
	iter->gfn += KVM_PAGES_PER_HPAGE(iter->level);
	iter->next_last_level_gfn = iter->gfn;
	iter->sptep++;
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
	return true;
}

static bool try_step_up(struct tdp_iter *iter)
{
	if (iter->level == iter->root_level)
		return false;
	iter->level++;
	iter->gfn = gfn_round_for_level(iter->gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	return true;
}

void tdp_iter_next(struct tdp_iter *iter)
{
	if (iter->yielded) {
		tdp_iter_restart(iter);
		return;
	}
	if (try_step_down(iter))
		return;
	do {
		if (try_step_side(iter))
			return;
	} while (try_step_up(iter));
	iter->valid = false;
}
