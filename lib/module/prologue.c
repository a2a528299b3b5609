// SPDX-License-Identifier: GPL-2.0-only
/*
 * The common check prologue of the SEAMCALLs that work on a TD, in the
 * module's order (spec seamcall.md §2.1), so that a call that is wrong in two
 * ways fails on the same check as on the real module:
 *
 *   TD handle flags -> TDR operand -> TD state -> op_state -> GPA/level ->
 *   private GPA -> SEPT tree lock -> walk -> entry lock -> entry state
 */
#include "tdxsim-internal.h"

u64 sept_error(struct seamcall_ctx *c, u64 status)
{
	sept_set_details(c, &c->walk);
	return api_error_with_operand_id(status, TDX_OPERAND_ID_RCX);
}

/* The TDR entry locked: a 4K PT_TDR entry, and its TD. */
static u64 td_check_tdr_locked(struct seamcall_ctx *c, u32 operand)
{
	struct tdxsim *sim = c->sim;

	if (c->tdr.level != TDX_PS_4K || c->tdr.e->pt != PT_TDR)
		return api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, operand);
	c->td = td_by_id(sim, c->tdr.e->owner);
	if (!c->td)	/* cannot happen while the TDR entry is PT_TDR */
		return api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, operand);
	return TDX_SUCCESS;
}

/* TDR operand: address checks, PAMT walk and lock, page type (step 3). */
u64 td_lock_tdr(struct seamcall_ctx *c, u64 tdr_pa, u32 operand, enum lock_type t)
{
	u64 err;

	err = hpa_check_operand(c, tdr_pa, PAGE_SIZE, operand);
	if (err)
		return err;
	err = pamt_lock_page(c, tdr_pa, TDX_PS_4K, t, operand, &c->tdr);
	if (err)
		return err;
	return td_check_tdr_locked(c, operand);
}

/*
 * lock_and_map_implicit_tdr() (helpers.c): the TDR of a TDVPR's owner, its
 * entry locked without a walk.
 */
u64 td_lock_tdr_implicit(struct seamcall_ctx *c, u64 tdr_pa, u32 operand, enum lock_type t)
{
	u64 err = pamt_lock_implicit(c, tdr_pa, TDX_PS_4K, t, operand, &c->tdr);

	if (err)
		return err;
	return td_check_tdr_locked(c, operand);
}

/* TD state (step 4). */
u64 td_check_keys(struct seamcall_ctx *c)
{
	struct td *td = c->td;

	if (td->fatal)
		return TDX_TD_FATAL;
	if (td->lifecycle != TD_KEYS_CONFIGURED)
		return TDX_TD_KEYS_NOT_CONFIGURED;
	if (td->nr_tdcx < c->sim->cfg.nr_tdcs_pages)
		return TDX_TDCS_NOT_ALLOCATED;
	return TDX_SUCCESS;
}

/* op_state lock (shared, host priority) and gating (step 5, §2.1.1). */
u64 td_lock_op_state(struct seamcall_ctx *c, u32 op_states)
{
	struct td *td = c->td;

	if (!ctx_td_try_lock(c, &td->op_state_lock, TDX_LOCK_SHARED, TDXSIM_HOOK_LOCK_OP_STATE,
			     TDX_OPERAND_ID_OP_STATE))
		return api_error_with_operand_id(TDX_OPERAND_BUSY, TDX_OPERAND_ID_OP_STATE);
	c->op_locked = true;
	if (!(op_states & (1U << td->op_state)))
		return TDX_OP_STATE_INCORRECT;
	return TDX_SUCCESS;
}

u64 mem_prologue(struct seamcall_ctx *c, const struct mem_prologue *p, u64 page_info,
		 u64 td_handle)
{
	u64 tdr_pa = td_handle;
	int level = (int)(page_info & TDX_PAGE_INFO_LEVEL_MASK);
	u64 gpa = page_info & ~(TDX_PAGE_INFO_LEVEL_MASK | TDX_PAGE_INFO_RSVD_MASK);
	struct td *td;
	u64 err;

	if (p->td_handle_flags) {
		if (td_handle & TDX_TD_HANDLE_RSVD_MASK)
			return api_error_with_operand_id(TDX_OPERAND_INVALID,
							 TDX_OPERAND_ID_RDX);
		tdr_pa = td_handle & ~TDX_TD_HANDLE_FLAG;
	}
	err = td_lock_tdr(c, tdr_pa, TDX_OPERAND_ID_RDX, p->tdr_lock);
	if (err)
		return err;
	err = td_check_keys(c);
	if (err)
		return err;
	err = td_lock_op_state(c, p->op_states);
	if (err)
		return err;
	td = c->td;

	/* verify_page_info_input(): reserved bits, level range, alignment. */
	if (page_info & TDX_PAGE_INFO_RSVD_MASK || level < p->min_level ||
	    level > (p->max_level == SEPT_LEVEL_PWL ? td->sept_levels - 1 : p->max_level) ||
	    gpa & (tdx_level_size(level) - 1))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	/* A private GPA: inside GPAW, shared bit (GPAW - 1) clear. */
	if (gpa >> (td->gpaw - 1))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	c->gpa = gpa;
	c->level = level;

	if (!ctx_td_try_lock(c, &td->sept_lock, p->tree_lock, TDXSIM_HOOK_LOCK_SEPT_TREE,
			     TDX_OPERAND_ID_SEPT))
		return api_error_with_operand_id(TDX_OPERAND_BUSY, TDX_OPERAND_ID_SEPT);
	c->tree_lock = p->tree_lock;
	return TDX_SUCCESS;
}

/* Walk, entry host lock, state check (steps 9-11). */
u64 mem_walk_and_lock(struct seamcall_ctx *c, u32 allowed_states)
{
	u64 *ep;

	sept_walk(c->td, c->gpa, c->level, &c->walk);
	if (c->walk.level != c->level)
		return sept_error(c, TDX_EPT_WALK_FAILED);
	ep = sept_walk_ep(&c->walk);
	if (!ctx_sept_lock_host(c, ep, c->gpa, c->level, TDX_OPERAND_ID_RCX)) {
		c->walk.entry = sept_read(ep);
		return sept_error(c, TDX_OPERAND_BUSY);
	}
	c->locked_ep = ep;
	c->walk.entry = sept_read(ep);
	if (!(allowed_states & (1U << septe_state(c->walk.entry))))
		return sept_error(c, TDX_EPT_ENTRY_STATE_INCORRECT);
	return TDX_SUCCESS;
}

/*
 * Leaves lock at most CTX_MAX_PAMT_LOCKS pages; more would be a simulator
 * bug, which fails the call as a simulator limit (TDX_SYS_BUSY) rather than
 * the process: the library never aborts.
 */
static struct pamt_locked *ctx_next_pl(struct seamcall_ctx *c)
{
	if (unlikely(c->npl >= CTX_MAX_PAMT_LOCKS))
		return NULL;
	return &c->pl[c->npl];
}

u64 ctx_pamt_check_free_page(struct seamcall_ctx *c, u64 pa, int level, u32 operand,
			     struct pamt_locked **out)
{
	struct pamt_locked *l = ctx_next_pl(c);
	u64 err;

	if (!l)
		return TDX_SYS_BUSY;
	err = pamt_check_free_page(c, pa, level, operand, l);
	if (err)
		return err;
	c->npl++;
	if (out)
		*out = l;
	return TDX_SUCCESS;
}

u64 ctx_pamt_lock_implicit(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
			   u32 operand, struct pamt_locked **out)
{
	struct pamt_locked *l = ctx_next_pl(c);
	u64 err;

	if (!l)
		return TDX_SYS_BUSY;
	err = pamt_lock_implicit(c, pa, level, t, operand, l);
	if (err)
		return err;
	c->npl++;
	if (out)
		*out = l;
	return TDX_SUCCESS;
}

u64 ctx_pamt_lock_page(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
		       u32 operand, struct pamt_locked **out)
{
	struct pamt_locked *l = ctx_next_pl(c);
	u64 err;

	if (!l)
		return TDX_SYS_BUSY;
	err = pamt_lock_page(c, pa, level, t, operand, l);
	if (err)
		return err;
	c->npl++;
	if (out)
		*out = l;
	return TDX_SUCCESS;
}

void ctx_release(struct seamcall_ctx *c)
{
	if (c->locked_ep)
		sept_unlock(c->locked_ep);
	while (c->npl)
		pamt_unlock_page(&c->pl[--c->npl]);
	if (c->td) {
		sharex_unlock(&c->td->sept_lock, c->tree_lock);
		if (c->epoch_locked)
			sharex_unlock(&c->td->epoch_lock, TDX_LOCK_EXCLUSIVE);
		if (c->op_locked)
			sharex_unlock(&c->td->op_state_lock, TDX_LOCK_SHARED);
	}
	pamt_unlock_page(&c->tdr);
	c->locked_ep = NULL;
	c->tree_lock = TDX_LOCK_NO_LOCK;
	c->epoch_locked = false;
	c->op_locked = false;
}
