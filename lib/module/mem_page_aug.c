// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.MEM.PAGE.AUG (leaf 6): add a PENDING 4K or 2MB page to a RUNNABLE TD
 * (spec seamcall.md §2.4).  The guest must TDG.MEM.PAGE.ACCEPT it.
 */
#include "tdxsim-internal.h"

static const struct mem_prologue page_aug_prologue = {
	.tdr_lock = TDX_LOCK_SHARED,
	.op_states = OPS(INITIALIZED) | OPS(RUNNABLE) | OPS(LIVE_EXPORT) | OPS(LIVE_IMPORT),
	.min_level = TDX_PS_4K,
	.max_level = TDX_PS_2M,
	.tree_lock = TDX_LOCK_SHARED,
};

/* RCX = GPA|level, RDX = TDR, R8 = page (2MB aligned for level 1). */
u64 leaf_tdh_mem_page_aug(struct seamcall_ctx *c)
{
	struct tdx_module_args *a = c->args;
	u64 page_info = a->rcx, tdr = a->rdx, page = a->r8;
	u64 err;

	ctx_clear_outputs(c);
	err = mem_prologue(c, &page_aug_prologue, page_info, tdr);
	if (err)
		return err;
	err = mem_walk_and_lock(c, SEPT_STATES(FREE) | SEPT_STATES(REMOVED));
	if (err)
		return err;
	/*
	 * check_and_lock_free_range_hpa(): with Dynamic PAMT a 4K page needs its
	 * 2MB range's pair, and a 2MB page is refused while a pair is installed.
	 */
	err = ctx_pamt_check_free_page(c, page, c->level, TDX_OPERAND_ID_R8, NULL);
	if (err)
		return err;

	sept_commit(c, septe_make(SEPT_PENDING, page));
	pamt_page_take(c, c->td, page, c->level, PT_REG);
	return TDX_SUCCESS;
}
