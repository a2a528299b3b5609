// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.PHYMEM.PAMT.ADD (leaf 58) and TDH.PHYMEM.PAMT.REMOVE (leaf 59): install
 * and remove the Dynamic-PAMT page pair of a 2MB range (spec seamcall.md
 * §2.14, §2.15).  Both hold the range's 2MB PAMT entry exclusive: the
 * 2MB-granularity lock every 4K operation in the range takes shared.
 */
#include "tdxsim-internal.h"

/* RCX = 2MB-aligned HPA | TDX_PS_2M; reserved bits and level checked. */
static u64 check_range_operand(struct seamcall_ctx *c, u64 rcx, u64 *pa)
{
	*pa = rcx & ~(u64)(PAGE_SIZE - 1);
	if ((rcx & (PAGE_SIZE - 1)) != TDX_PS_2M || *pa & (SZ_2M - 1))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	return hpa_check_operand(c, *pa, SZ_2M, TDX_OPERAND_ID_RCX);
}

static u64 lock_range(struct seamcall_ctx *c, u64 pa, struct pamt_entry **e2m)
{
	struct pamt_locked *pl;
	u64 err = ctx_pamt_lock_page(c, pa, TDX_PS_2M, TDX_LOCK_EXCLUSIVE, TDX_OPERAND_ID_RCX,
				     &pl);

	if (err)
		return err;
	*e2m = pl->e;
	return TDX_SUCCESS;
}

/* A page to become a PAMT page: free (covering leaf PT_NDA), bitmap bit clear. */
static u64 take_pamt_page(struct seamcall_ctx *c, u64 range, u64 pa, u32 operand)
{
	struct pamt_locked *pl;
	u64 err;

	/* A page inside the range itself is covered by the entry we hold. */
	if (pa - range >= SZ_2M) {
		err = ctx_pamt_lock_page(c, pa, TDX_PS_4K, TDX_LOCK_SHARED, operand, &pl);
		if (err)
			return err;
		if (pl->e->pt != PT_NDA)
			return api_error_with_operand_id(TDX_PAGE_NOT_FREE, operand);
	}
	if (!dpamt_page_claim(c->sim, pa))
		return api_error_with_operand_id(TDX_PAGE_NOT_FREE, operand);
	return TDX_SUCCESS;
}

/* RCX = range | 1, RDX = PAMT page 0, R8 = PAMT page 1. */
u64 leaf_tdh_phymem_pamt_add(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	struct tdx_module_args *a = c->args;
	u64 pages[2] = { a->rdx, a->r8 };
	struct pamt_entry *e2m;
	u64 err, pa;

	if (!sim_dpamt(sim))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RAX);
	err = check_range_operand(c, a->rcx, &pa);
	if (err)
		return err;
	err = hpa_check_operand(c, pages[0], PAGE_SIZE, TDX_OPERAND_ID_RDX);
	if (err)
		return err;
	err = hpa_check_operand(c, pages[1], PAGE_SIZE, TDX_OPERAND_ID_R8);
	if (err)
		return err;
	err = lock_range(c, pa, &e2m);
	if (err)
		return err;
	if (e2m->pt != PT_NDA || pamt_entry_at(sim, pa, TDX_PS_1G)->pt != PT_NDA)
		return api_error_with_operand_id(TDX_HPA_RANGE_NOT_FREE, TDX_OPERAND_ID_RCX);
	err = take_pamt_page(c, pa, pages[0], TDX_OPERAND_ID_RDX);
	if (err)
		return err;
	err = take_pamt_page(c, pa, pages[1], TDX_OPERAND_ID_R8);
	if (err) {
		dpamt_page_unclaim(sim, pages[0]);
		return err;
	}
	dpamt_pair_install(c, pa, pages, 0);
	return TDX_SUCCESS;
}

/* RCX = range | 1.  Out: RDX = PAMT page 0, R8 = PAMT page 1. */
u64 leaf_tdh_phymem_pamt_remove(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	struct tdx_module_args *a = c->args;
	struct pamt_entry *e2m;
	u64 err, pa, idx, pair[2];

	if (!sim_dpamt(sim))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RAX);
	err = check_range_operand(c, a->rcx, &pa);
	if (err)
		return err;
	err = lock_range(c, pa, &e2m);
	if (err)
		return err;
	if (e2m->pt != PT_PAMT)
		return api_error_with_operand_id(TDX_NO_PAMT_PAGE_PAIR, TDX_OPERAND_ID_RCX);
	idx = pa_to_idx(sim, pa);
	for (unsigned int i = 0; i < PAGES_PER_2M; i++) {
		if (sim->pamt_4k[idx + i].pt != PT_NDA)
			return api_error_with_operand_id(TDX_PAMT_PAGE_NOT_EMPTY, i / 256);
	}
	dpamt_pair_release(sim, pa, pair);
	a->rdx = pair[0];
	a->r8 = pair[1];
	__atomic_store_n(&e2m->pt, PT_NDA, __ATOMIC_RELEASE);
	seq_note(&sim->seq_2m[pa_to_idx2m(sim, pa)], c->seq);
	return TDX_SUCCESS;
}
