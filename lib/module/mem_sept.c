// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.MEM.SEPT.ADD (leaf 3) and TDH.MEM.SEPT.REMOVE (leaf 30): link and unlink
 * an S-EPT page under a parent entry (spec seamcall.md §2.2, §2.11).
 */
#include "tdxsim-internal.h"

static const struct mem_prologue sept_add_prologue = {
	.td_handle_flags = true,
	.tdr_lock = TDX_LOCK_SHARED,
	.op_states = OPS(INITIALIZED) | OPS(RUNNABLE) | OPS(LIVE_EXPORT) |
		     OPS(MEMORY_IMPORT) | OPS(STATE_IMPORT) | OPS(POST_IMPORT) |
		     OPS(LIVE_IMPORT),
	.min_level = TDX_PS_2M,
	.max_level = SEPT_LEVEL_PWL,
	.tree_lock = TDX_LOCK_SHARED,
};

/*
 * Link the new table, or find the existing one (tdh_mem_sept_add.c,
 * process_l1_page()).  R8 is an ordinary page address unless it is NULL_PA
 * (all ones), which only version 1 accepts and only over an existing table;
 * 0 is a page address like any other.  With the parent already NL_MAPPED and
 * allow_existing, R8 is not looked at.
 */
static u64 sept_add_l1(struct seamcall_ctx *c, u64 page, bool allow_existing, u64 *flagged)
{
	struct sept_page *sp;
	u64 err;

	if (page == TDX_NULL_PA) {
		if (!c->version)
			return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_R8);
		if (septe_state(c->walk.entry) != SEPT_NL_MAPPED)
			return sept_error(c, TDX_EPT_ENTRY_STATE_INCORRECT);
		return TDX_SUCCESS;
	}
	if (septe_state(c->walk.entry) == SEPT_NL_MAPPED) {
		if (!allow_existing)
			return sept_error(c, TDX_EPT_ENTRY_STATE_INCORRECT);
		*flagged |= TDX_SEPT_ADD_PAGE_NOT_USED;
		return TDX_SUCCESS;
	}
	err = ctx_pamt_check_free_page(c, page, TDX_PS_4K, TDX_OPERAND_ID_R8, NULL);
	if (err)
		return err;

	sp = sept_page_get(c->sim, c->td, page, c->level - 1, true);
	if (!sp)
		return TDX_SYS_BUSY;	/* host out of memory: simulator limit */
	sept_link_child(c, sp);
	pamt_page_take(c, c->td, page, TDX_PS_4K, PT_EPT);
	*flagged = TDX_NULL_PA;		/* "no longer needs to be allocated" */
	return TDX_SUCCESS;
}

/*
 * RCX = GPA|level of the parent entry, RDX = TD handle (bit 0 allow_existing),
 * R8 = page.  Version 1 writes R8 back, success or not: the page (bit 63 set if
 * an existing table made it unused), or NULL_PA once it was used.
 */
u64 leaf_tdh_mem_sept_add(struct seamcall_ctx *c)
{
	struct tdx_module_args *a = c->args;
	u64 page_info = a->rcx, handle = a->rdx, page = a->r8, flagged;
	u64 err;

	/* Bit 63 of a page address is ignored (it is the "not used" output flag). */
	if (page != TDX_NULL_PA)
		page &= ~TDX_SEPT_ADD_PAGE_NOT_USED;
	flagged = page;
	ctx_clear_outputs(c);
	err = mem_prologue(c, &sept_add_prologue, page_info, handle);
	if (!err)
		err = mem_walk_and_lock(c, SEPT_STATES(FREE) | SEPT_STATES(NL_MAPPED));
	if (!err)
		err = sept_add_l1(c, page, handle & TDX_TD_HANDLE_FLAG, &flagged);
	if (c->version)
		a->r8 = flagged;
	return err;
}

static const struct mem_prologue sept_remove_prologue = {
	.tdr_lock = TDX_LOCK_SHARED,
	.op_states = (1U << OP_STATE_NR) - 1 - OPS(UNINITIALIZED),
	.min_level = TDX_PS_2M,
	.max_level = SEPT_LEVEL_PWL,
	.tree_lock = TDX_LOCK_EXCLUSIVE,
};

/* RCX = GPA|level of the parent entry, RDX = TDR.  Out: RCX = removed page (+hint). */
u64 leaf_tdh_mem_sept_remove(struct seamcall_ctx *c)
{
	struct tdx_module_args *a = c->args;
	u64 page_info = a->rcx, tdr = a->rdx;
	struct sept_page *child;
	struct pamt_locked *pl;
	u64 err, page;

	ctx_clear_outputs(c);
	err = mem_prologue(c, &sept_remove_prologue, page_info, tdr);
	if (err)
		return err;
	err = mem_walk_and_lock(c, SEPT_STATES(NL_MAPPED) | SEPT_STATES(NL_BLOCKED));
	if (err)
		return err;
	page = septe_hpa(c->walk.entry);
	child = c->walk.table->child[c->walk.idx];
	/* pamt_implicit_get_and_lock(): an S-EPT page is a 4K page. */
	err = ctx_pamt_lock_implicit(c, page, TDX_PS_4K, TDX_LOCK_EXCLUSIVE, TDX_OPERAND_ID_RCX,
				     &pl);
	if (err)
		return err;
	if (td_tlb_tracking_required(c->td)) {
		if (septe_state(c->walk.entry) != SEPT_NL_BLOCKED)
			return sept_error(c, TDX_GPA_RANGE_NOT_BLOCKED);
		/* The module gives no entry details for this one. */
		if (!is_tlb_tracked(c->td, pl->e->bepoch))
			return api_error_with_operand_id(TDX_TLB_TRACKING_NOT_DONE,
							 TDX_OPERAND_ID_RCX);
	}
	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++) {
		if (septe_state(sept_read(&child->e[i])) != SEPT_FREE)
			return sept_error(c, TDX_EPT_PAGE_NOT_FREE);
	}

	sept_page_put(c->sim, c->td, sept_unlink_child(c, septe_make(SEPT_FREE, 0)));
	a->rcx = page | pamt_page_give_back(c, c->td, page, TDX_PS_4K, true);
	return TDX_SUCCESS;
}
