// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.PHYMEM.PAMT.ADD (leaf 58) and TDH.PHYMEM.PAMT.REMOVE (leaf 59): install
 * and remove the Dynamic-PAMT page pair of a 2MB range (spec seamcall.md
 * §2.14, §2.15).  Both hold the range's 2MB PAMT entry exclusive: the
 * 2MB-granularity lock every 4K operation in the range takes shared.
 */
#include "tdxsim-internal.h"

/*
 * RCX = 2MB-aligned HPA | TDX_PS_2M: level, reserved bits 11:3 and 63:52,
 * KeyID bits and alignment (INVALID|RCX).  The TDMR is checked apart: PAMT.ADD
 * checks its two pages first.
 */
static bool range_operand_valid(struct seamcall_ctx *c, u64 rcx, u64 *pa)
{
	*pa = rcx & ~(u64)(PAGE_SIZE - 1);
	return (rcx & (PAGE_SIZE - 1)) == TDX_PS_2M && hpa_valid(c->sim, *pa, SZ_2M);
}

/* The range's 2MB entry exclusive; NULL when a 1GB leaf stops the walk above it. */
static u64 lock_range(struct seamcall_ctx *c, u64 pa, struct pamt_entry **e2m)
{
	struct pamt_locked *pl;
	u64 err = ctx_pamt_lock_page(c, pa, TDX_PS_2M, TDX_LOCK_EXCLUSIVE, TDX_OPERAND_ID_RCX,
				     &pl);

	if (err)
		return err;
	*e2m = pl->level == TDX_PS_2M ? pl->e : NULL;
	return TDX_SUCCESS;
}

/*
 * A page to become a PAMT page: its covering PAMT leaf PT_NDA (walked shared;
 * a page inside the range is covered by the entry we hold exclusive).
 */
static u64 walk_pamt_page(struct seamcall_ctx *c, u64 range, u64 pa, u32 operand)
{
	struct pamt_locked *pl;
	u64 err;

	if (pa - range < SZ_2M)
		return TDX_SUCCESS;
	err = ctx_pamt_lock_page(c, pa, TDX_PS_4K, TDX_LOCK_SHARED, operand, &pl);
	if (err)
		return err;
	if (pl->e->pt != PT_NDA)
		return api_error_with_operand_id(TDX_PAGE_NOT_FREE, operand);
	return TDX_SUCCESS;
}

/*
 * RCX = range | 1, RDX = PAMT page 0, R8 = PAMT page 1.  The module's order
 * (tdh_phymem_pamt_add.c): RCX's form; RDX then R8 each valid and in a TDMR;
 * only then RCX in a TDMR; the range's 2MB entry; both pages' entries; both
 * bitmap bits.  With two bad operands the first in that order answers.
 */
u64 leaf_tdh_phymem_pamt_add(struct seamcall_ctx *c)
{
	static const u32 ids[2] = { TDX_OPERAND_ID_RDX, TDX_OPERAND_ID_R8 };
	struct tdxsim *sim = c->sim;
	struct tdx_module_args *a = c->args;
	u64 pages[2] = { a->rdx, a->r8 };
	struct pamt_entry *e2m, *blk;
	u64 err, pa;

	if (!sim_dpamt(sim))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RAX);
	if (!range_operand_valid(c, a->rcx, &pa))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	for (unsigned int i = 0; i < 2; i++) {
		err = hpa_check_operand(c, pages[i], PAGE_SIZE, ids[i]);
		if (err)
			return err;
	}
	if (!hpa_in_tdmr(sim, pa, SZ_2M))
		return api_error_with_operand_id(TDX_OPERAND_ADDR_RANGE_ERROR, TDX_OPERAND_ID_RCX);
	err = lock_range(c, pa, &e2m);
	if (err)
		return err;
	if (!e2m || e2m->pt != PT_NDA)
		return api_error_with_operand_id(TDX_HPA_RANGE_NOT_FREE, TDX_OPERAND_ID_RCX);
	for (unsigned int i = 0; i < 2; i++) {
		err = walk_pamt_page(c, pa, pages[i], ids[i]);
		if (err)
			return err;
	}
	if (!dpamt_page_claim(sim, pages[0]))
		return api_error_with_operand_id(TDX_PAGE_NOT_FREE, TDX_OPERAND_ID_RDX);
	if (!dpamt_page_claim(sim, pages[1])) {
		dpamt_page_unclaim(sim, pages[0]);
		return api_error_with_operand_id(TDX_PAGE_NOT_FREE, TDX_OPERAND_ID_R8);
	}
	/* The range's 4K entries, all PT_NDA (pamt.c). */
	blk = pamt_4k_block_get(sim, true);
	if (!blk) {
		dpamt_page_unclaim(sim, pages[0]);
		dpamt_page_unclaim(sim, pages[1]);
		return TDX_SYS_BUSY;	/* host out of memory: simulator limit */
	}
	dpamt_pair_install(c, pa, pages, 0, blk);
	return TDX_SUCCESS;
}

/* RCX = range | 1.  Out: RDX = PAMT page 0, R8 = PAMT page 1. */
u64 leaf_tdh_phymem_pamt_remove(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	struct tdx_module_args *a = c->args;
	struct pamt_entry *e2m, *blk;
	u64 err, pa, pair[2];

	if (!sim_dpamt(sim))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RAX);
	if (!range_operand_valid(c, a->rcx, &pa))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	if (!hpa_in_tdmr(sim, pa, SZ_2M))
		return api_error_with_operand_id(TDX_OPERAND_ADDR_RANGE_ERROR, TDX_OPERAND_ID_RCX);
	err = lock_range(c, pa, &e2m);
	if (err)
		return err;
	if (!e2m || e2m->pt != PT_PAMT)
		return api_error_with_operand_id(TDX_NO_PAMT_PAGE_PAIR, TDX_OPERAND_ID_RCX);
	blk = pamt_entry_at(sim, pa, TDX_PS_4K);
	for (unsigned int i = 0; i < PAGES_PER_2M; i++) {
		if (blk[i].pt != PT_NDA)
			return api_error_with_operand_id(TDX_PAMT_PAGE_NOT_EMPTY, i / 256);
	}
	dpamt_pair_release(sim, pa, pair);
	a->rdx = pair[0];
	a->r8 = pair[1];
	__atomic_store_n(&e2m->pt, PT_NDA, __ATOMIC_RELEASE);
	seq_note(&sim->seq_2m[pa_to_idx2m(sim, pa)], c->seq);
	return TDX_SUCCESS;
}
