// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.MEM.RANGE.BLOCK (leaf 7) and TDH.MEM.RANGE.UNBLOCK (leaf 39)
 * (spec seamcall.md §2.5, §2.7).  Both hold the SEPT tree lock exclusive.
 */
#include "tdxsim-internal.h"

static const struct mem_prologue block_prologue = {
	.tdr_lock = TDX_LOCK_SHARED,
	.op_states = OPS_BLOCK_LIKE,
	.min_level = TDX_PS_4K,
	.max_level = SEPT_LEVEL_PWL,
	.tree_lock = TDX_LOCK_EXCLUSIVE,
};

/*
 * The PAMT entry that carries the block epoch: the mapped page at its
 * mapping size for a leaf, the child S-EPT page for a non-leaf entry.
 */
static struct pamt_entry *bepoch_entry(struct seamcall_ctx *c, u64 e, int level)
{
	if (sept_state_is_nl(septe_state(e)))
		return pamt_entry_at(c->sim, septe_hpa(e), TDX_PS_4K);
	return pamt_entry_at(c->sim, septe_hpa(e), level);
}

u32 sept_entry_bepoch(struct seamcall_ctx *c)
{
	return bepoch_entry(c, c->walk.entry, c->level)->bepoch;
}

/* RCX = GPA|level, RDX = TDR. */
u64 leaf_tdh_mem_range_block(struct seamcall_ctx *c)
{
	struct tdx_module_args *a = c->args;
	u64 page_info = a->rcx, tdr = a->rdx;
	enum sept_state s, ns;
	u64 err;

	ctx_clear_outputs(c);
	err = mem_prologue(c, &block_prologue, page_info, tdr);
	if (err)
		return err;
	err = mem_walk_and_lock(c, ~0U);
	if (err)
		return err;
	s = septe_state(c->walk.entry);
	switch (s) {
	case SEPT_NL_MAPPED:
		ns = SEPT_NL_BLOCKED;
		break;
	case SEPT_MAPPED:
		ns = SEPT_BLOCKED;
		break;
	case SEPT_PENDING:
		ns = SEPT_PENDING_BLOCKED;
		break;
	case SEPT_NL_BLOCKED:
	case SEPT_BLOCKED:
	case SEPT_PENDING_BLOCKED:
		return sept_error(c, TDX_GPA_RANGE_ALREADY_BLOCKED);
	default:
		return sept_error(c, TDX_EPT_ENTRY_STATE_INCORRECT);
	}
	/* Atomic: a guest access reads it without the entry's PAMT lock (guest_access.c). */
	__atomic_store_n(&bepoch_entry(c, c->walk.entry, c->level)->bepoch,
			 (u32)__atomic_load_n(&c->td->td_epoch, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
	/* sept_cleanup_if_pending(): a partial 2MB accept restarts from 0. */
	sept_commit(c, (c->walk.entry & ~(SEPTE_STATE_MASK | SEPTE_ACCEPT_MASK)) | ns);
	return TDX_SUCCESS;
}

/* RCX = GPA|level, RDX = TDR. */
u64 leaf_tdh_mem_range_unblock(struct seamcall_ctx *c)
{
	struct tdx_module_args *a = c->args;
	u64 page_info = a->rcx, tdr = a->rdx;
	enum sept_state ns;
	u64 err;

	ctx_clear_outputs(c);
	err = mem_prologue(c, &block_prologue, page_info, tdr);
	if (err)
		return err;
	err = mem_walk_and_lock(c, SEPT_STATES(NL_BLOCKED) | SEPT_STATES(BLOCKED) |
				   SEPT_STATES(PENDING_BLOCKED));
	if (err)
		return err;
	/* Note the operand: the SEPT tree, not RCX as for REMOVE/DEMOTE; no details. */
	if (td_tlb_tracking_required(c->td) && !is_tlb_tracked(c->td, sept_entry_bepoch(c)))
		return api_error_with_operand_id(TDX_TLB_TRACKING_NOT_DONE, TDX_OPERAND_ID_SEPT);
	switch (septe_state(c->walk.entry)) {
	case SEPT_NL_BLOCKED:
		ns = SEPT_NL_MAPPED;
		break;
	case SEPT_BLOCKED:
		ns = SEPT_MAPPED;
		break;
	default:
		ns = SEPT_PENDING;
		break;
	}
	sept_commit(c, (c->walk.entry & ~SEPTE_STATE_MASK) | ns);
	return TDX_SUCCESS;
}
