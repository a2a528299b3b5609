// SPDX-License-Identifier: GPL-2.0-only
/* TDH.MEM.PAGE.ADD (leaf 2): add a 4K page at TD build (spec seamcall.md §2.3). */
#include "tdxsim-internal.h"

static const struct mem_prologue page_add_prologue = {
	.tdr_lock = TDX_LOCK_EXCLUSIVE,	/* the whole TD is held: concurrent calls see BUSY|RDX */
	.op_states = OPS(INITIALIZED),
	.min_level = TDX_PS_4K,
	.max_level = TDX_PS_4K,
	.tree_lock = TDX_LOCK_NO_LOCK,	/* implicitly exclusive under the TDR lock */
};

/* RCX = GPA|0, RDX = TDR, R8 = target page, R9 = source page (shared). */
u64 leaf_tdh_mem_page_add(struct seamcall_ctx *c)
{
	struct tdx_module_args *a = c->args;
	u64 page_info = a->rcx, tdr = a->rdx, page = a->r8, source = a->r9;
	u64 err;

	ctx_clear_outputs(c);
	err = mem_prologue(c, &page_add_prologue, page_info, tdr);
	if (err)
		return err;
	err = mem_walk_and_lock(c, SEPT_STATES(FREE));
	if (err)
		return err;
	/* The source is a shared page: aligned, below MAX_PA, no private KeyID. */
	if (!shared_hpa_valid(c->sim, source, PAGE_SIZE))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_R9);
	err = ctx_pamt_check_free_page(c, page, TDX_PS_4K, TDX_OPERAND_ID_R8, NULL);
	if (err)
		return err;

	sept_commit(c, septe_make(SEPT_MAPPED, page));
	pamt_page_take(c, c->td, page, TDX_PS_4K, PT_REG);
	return TDX_SUCCESS;
}
