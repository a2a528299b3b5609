// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.MEM.PAGE.REMOVE (leaf 29): unmap a 4K/2MB/1GB page and give it back
 * to the host, dirty with the TD's key (spec seamcall.md §2.10).
 */
#include "tdxsim-internal.h"

static const struct mem_prologue remove_prologue = {
	.tdr_lock = TDX_LOCK_SHARED,
	.op_states = OPS_BLOCK_LIKE | OPS(FAILED_IMPORT),
	.min_level = TDX_PS_4K,
	.max_level = TDX_PS_1G,
	.tree_lock = TDX_LOCK_SHARED,
};

/* RCX = GPA|level, RDX = TDR.  Out: RCX = page HPA (| PAMT_REMOVAL_HINT). */
u64 leaf_tdh_mem_page_remove(struct seamcall_ctx *c)
{
	struct tdx_module_args *a = c->args;
	u64 page_info = a->rcx, tdr = a->rdx, page;
	struct pamt_locked *pl;
	u64 err;

	ctx_clear_outputs(c);
	err = mem_prologue(c, &remove_prologue, page_info, tdr);
	if (err)
		return err;
	err = mem_walk_and_lock(c, SEPT_STATES(MAPPED) | SEPT_STATES(BLOCKED) |
				   SEPT_STATES(PENDING) | SEPT_STATES(PENDING_BLOCKED));
	if (err)
		return err;
	page = septe_hpa(c->walk.entry);
	/* pamt_implicit_get_and_lock(): the S-EPT leaf gives the level. */
	err = ctx_pamt_lock_implicit(c, page, c->level, TDX_LOCK_EXCLUSIVE, TDX_OPERAND_ID_RCX,
				     &pl);
	if (err)
		return err;
	if (td_tlb_tracking_required(c->td)) {
		if (!sept_state_any_blocked(septe_state(c->walk.entry)))
			return sept_error(c, TDX_GPA_RANGE_NOT_BLOCKED);
		/* The module gives no entry details for this one. */
		if (!is_tlb_tracked(c->td, pl->e->bepoch))
			return api_error_with_operand_id(TDX_TLB_TRACKING_NOT_DONE,
							 TDX_OPERAND_ID_RCX);
	}

	sept_commit(c, septe_make(SEPT_FREE, 0));
	a->rcx = page | pamt_page_give_back(c, c->td, page, c->level, true);
	return TDX_SUCCESS;
}
