// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.PHYMEM.PAGE.RECLAIM (leaf 28) and TDH.PHYMEM.PAGE.WBINVD (leaf 41)
 * (spec seamcall.md §2.12, §2.13): physical pages, no TD op_state gating.
 */
#include "tdxsim-internal.h"

/*
 * RCX = page PA.  Out: RCX = page type, RDX = owner TDR, R8 = size, R9 =
 * PAMT removal hint (newer DPAMT module; 1.5 always returns 0 there).
 */
u64 leaf_tdh_phymem_page_reclaim(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	struct tdx_module_args *a = c->args;
	u64 pa = a->rcx;
	struct pamt_locked *pl;
	struct td *td;
	int level;
	u64 err;
	u8 pt;

	a->rcx = a->rdx = a->r8 = a->r9 = a->r10 = a->r11 = 0;
	err = hpa_check_operand(c, pa, PAGE_SIZE, TDX_OPERAND_ID_RCX);
	if (err)
		return err;
	/* Walk to whatever leaf covers the page. */
	err = ctx_pamt_lock_page(c, pa, TDX_PS_4K, TDX_LOCK_EXCLUSIVE, TDX_OPERAND_ID_RCX,
				 &pl);
	if (err)
		return err;
	level = pl->level;
	pt = pl->e->pt;
	if (pt == PT_NDA || pt == PT_RSVD || pt == PT_PAMT)
		return api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, TDX_OPERAND_ID_RCX);
	td = td_by_id(sim, pl->e->owner);
	/* The outputs are set before the remaining checks; a TDR has owner 0. */
	a->rcx = pt;
	a->rdx = td && pt != PT_TDR ? td->tdr_pa : 0;
	a->r8 = (u64)level;
	if (pa & (tdx_level_size(level) - 1))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	if (!td)	/* cannot happen: an owned page's TD lives until its TDR goes */
		return api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, TDX_OPERAND_ID_RCX);

	if (pt == PT_TDR) {
		if (td->lifecycle != TD_TEARDOWN)
			return TDX_LIFECYCLE_STATE_INCORRECT;
		if (__atomic_load_n(&td->chldcnt, __ATOMIC_ACQUIRE))
			return TDX_TD_ASSOCIATED_PAGES_EXIST;
		/* We hold the TDR entry exclusive: no call can be inside this TD. */
		a->r9 = pamt_page_give_back(c, td, pa, TDX_PS_4K, false);
		td_free(sim, td);
		return TDX_SUCCESS;
	}
	err = td_lock_tdr_implicit(c, td->tdr_pa, TDX_OPERAND_ID_TDR, TDX_LOCK_SHARED);
	if (err)
		return err;
	if (td->lifecycle != TD_TEARDOWN)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	/* A reclaimed S-EPT table stays on its TD's list until the TD goes. */
	a->r9 = pamt_page_give_back(c, td, pa, level, false);
	return TDX_SUCCESS;
}

/* RCX = page PA with the TD's KeyID in the HKID bits. */
u64 leaf_tdh_phymem_page_wbinvd(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	u64 keyed = c->args->rcx;
	u64 pa = keyed & ~sim->hkid_mask;
	u16 hkid = (u16)((keyed & sim->hkid_mask) >> sim->hkid_shift);
	struct pamt_locked *pl;
	u64 err;

	err = hpa_check_operand(c, pa, PAGE_SIZE, TDX_OPERAND_ID_RCX);
	if (err)
		return err;
	err = ctx_pamt_lock_page(c, pa, TDX_PS_4K, TDX_LOCK_SHARED, TDX_OPERAND_ID_RCX,
				 &pl);
	if (err)
		return err;
	if (pl->e->pt != PT_NDA)
		return api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, TDX_OPERAND_ID_RCX);
	if (page_flags_get(sim, pa) & PG_DIRTY && page_dirty_hkid(sim, pa) == hkid)
		page_flags_clear(sim, pa, PG_DIRTY);
	return TDX_SUCCESS;
}
