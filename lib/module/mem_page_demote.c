// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.MEM.PAGE.DEMOTE (leaf 15): split a 2MB (1GB) leaf into 512 4K (2MB)
 * leaves in a new S-EPT page, and split its PAMT entry; with Dynamic PAMT
 * the host supplies the 2MB range's PAMT page pair in R12/R13
 * (spec seamcall.md §2.8).
 */
#include "tdxsim-internal.h"


static const struct mem_prologue demote_prologue = {
	.td_handle_flags = true,
	.tdr_lock = TDX_LOCK_SHARED,
	.op_states = OPS_BLOCK_LIKE,
	.min_level = TDX_PS_2M,
	.max_level = TDX_PS_1G,
	.tree_lock = TDX_LOCK_SHARED,
};

/*
 * pamt_demote() (pamt_manager.c): lock the big entry exclusive, then check
 * the pair interleaved as the module does: R12 and R13 valid, R12 and R13 in
 * a TDMR, R12 then R13 walked shared and PT_NDA, and only then the two
 * bitmap bits test-and-set (R12's undone if R13's fails).  Nothing is
 * committed here.
 *
 * A pair page inside the 2MB page being demoted answers BUSY|R12 (or R13)
 * every time: its walk needs the 2MB entry this call holds exclusive.  The
 * module does the same; see "Host bugs that never clear" in tdxsim.h.
 */
static u64 pamt_demote_check(struct seamcall_ctx *c, u64 page, bool dpamt, u64 pair[2])
{
	static const u32 ids[2] = { TDX_OPERAND_ID_R12, TDX_OPERAND_ID_R13 };
	struct tdxsim *sim = c->sim;
	struct pamt_locked *pl;
	u64 err;

	/* acquire_sharex_lock_hp_ex() on the entry itself, no walk. */
	err = ctx_pamt_lock_implicit(c, page, c->level, TDX_LOCK_EXCLUSIVE, TDX_OPERAND_ID_RCX,
				     NULL);
	if (err)
		return err;
	if (!dpamt)
		return TDX_SUCCESS;
	for (unsigned int i = 0; i < 2; i++) {
		if (!hpa_valid(sim, pair[i], PAGE_SIZE))
			return api_error_with_operand_id(TDX_OPERAND_INVALID, ids[i]);
	}
	for (unsigned int i = 0; i < 2; i++) {
		if (!hpa_in_tdmr(sim, pair[i], PAGE_SIZE))
			return api_error_with_operand_id(TDX_OPERAND_ADDR_RANGE_ERROR, ids[i]);
	}
	for (unsigned int i = 0; i < 2; i++) {
		/* Shared: the pair is usually two pages of one 2MB range. */
		err = ctx_pamt_lock_page(c, pair[i], TDX_PS_4K, TDX_LOCK_SHARED, ids[i], &pl);
		if (err)
			return err;
		if (pl->e->pt != PT_NDA)
			return api_error_with_operand_id(TDX_PAGE_NOT_FREE, ids[i]);
	}
	if (!dpamt_page_claim(sim, pair[0]))
		return api_error_with_operand_id(TDX_PAGE_NOT_FREE, TDX_OPERAND_ID_R12);
	if (!dpamt_page_claim(sim, pair[1])) {
		dpamt_page_unclaim(sim, pair[0]);
		return api_error_with_operand_id(TDX_PAGE_NOT_FREE, TDX_OPERAND_ID_R13);
	}
	return TDX_SUCCESS;
}

/* @blk: with Dynamic PAMT, the range's new block of 4K entries (pamt.c). */
static void pamt_demote_commit(struct seamcall_ctx *c, u64 page, bool dpamt, u64 pair[2],
			       struct pamt_entry *blk)
{
	struct tdxsim *sim = c->sim;
	struct pamt_entry *big = pamt_entry_at(sim, page, c->level);
	struct pamt_entry *small = dpamt ? blk : pamt_entry_at(sim, page, c->level - 1);
	struct pamt_entry child = { .owner = big->owner, .pt = big->pt };

	/* The 512 smaller entries are contiguous; published by the release below. */
	/* One 8-byte store each, not one per field (a cold line is written once). */
	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++)
		memcpy(&small[i], &child, sizeof(child));
	__atomic_store_n(&big->owner, 0, __ATOMIC_RELAXED);	/* read by tdxsim_pamt_lookup() */
	__atomic_store_n(&big->bepoch, 0, __ATOMIC_RELAXED);	/* read by guest walks */
	if (dpamt) {
		dpamt_pair_install(c, page, pair, PAGES_PER_2M, blk);
	} else {
		__atomic_store_n(&big->pt, PT_NDA, __ATOMIC_RELEASE);
		seq_note(&sim->seq_2m[pa_to_idx2m(sim, page)], c->seq);
	}
}

/*
 * RCX = GPA|level, RDX = TD handle, R8 = new S-EPT page, R12/R13 = DPAMT page
 * pair for a 2MB demote when Dynamic PAMT is on.
 */
u64 leaf_tdh_mem_page_demote(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	struct tdx_module_args *a = c->args;
	u64 page_info = a->rcx, handle = a->rdx, new_sept = a->r8;
	u64 pair[2] = { a->r12, a->r13 };
	enum sept_state s, child_state;
	struct pamt_entry *blk;
	struct sept_page *sp;
	bool dpamt;
	u64 err, page, stride;

	ctx_clear_outputs(c);
	err = mem_prologue(c, &demote_prologue, page_info, handle);
	if (err)
		return err;
	err = mem_walk_and_lock(c, SEPT_STATES(MAPPED) | SEPT_STATES(BLOCKED) |
				   SEPT_STATES(PENDING) | SEPT_STATES(PENDING_BLOCKED));
	if (err)
		return err;
	s = septe_state(c->walk.entry);
	if (td_tlb_tracking_required(c->td)) {
		if (!sept_state_any_blocked(s))
			return sept_error(c, TDX_GPA_RANGE_NOT_BLOCKED);
		/* The module gives no entry details for this one (as REMOVE). */
		if (!is_tlb_tracked(c->td, sept_entry_bepoch(c)))
			return api_error_with_operand_id(TDX_TLB_TRACKING_NOT_DONE,
							 TDX_OPERAND_ID_RCX);
	}
	err = ctx_pamt_check_free_page(c, new_sept, TDX_PS_4K, TDX_OPERAND_ID_R8, NULL);
	if (err)
		return err;
	/*
	 * Host-interrupt check before the PAMT split: restartable, nothing
	 * committed, RCX/RDX hold their inputs again.  Basic TDX with
	 * ENHANCED_DEMOTE_INTERRUPTIBILITY never stops here (spec §5).
	 */
	if (!(sim->cfg.features0 & TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY) &&
	    cpu_interrupt_pending(c)) {
		a->rcx = page_info;
		a->rdx = handle;
		return TDX_INTERRUPTED_RESTARTABLE;
	}
	page = septe_hpa(c->walk.entry);
	dpamt = sim_dpamt(sim) && c->level == TDX_PS_2M;
	err = pamt_demote_check(c, page, dpamt, pair);
	if (err)
		return err;

	/* Host memory for the new table and 4K entries, then nothing fails. */
	sp = sept_page_get(sim, c->td, new_sept, c->level - 1, false);
	blk = dpamt && sp ? pamt_4k_block_get(sim, false) : NULL;
	if (!sp || (dpamt && !blk)) {
		if (sp)
			sept_page_put(sim, c->td, sp);
		if (dpamt) {
			dpamt_page_unclaim(sim, pair[0]);
			dpamt_page_unclaim(sim, pair[1]);
		}
		return TDX_SYS_BUSY;	/* host out of memory: simulator limit */
	}
	/* The children drop the blocked state: no UNBLOCK after DEMOTE. */
	child_state = (s == SEPT_PENDING || s == SEPT_PENDING_BLOCKED) ? SEPT_PENDING
								      : SEPT_MAPPED;
	stride = tdx_level_size(c->level - 1);
	/*
	 * septe_make(child_state, page + i * stride) for each i, as running
	 * values two at a time: the HPAs stay inside the PFN bits (this loop
	 * was half the instructions of a DEMOTE).
	 */
	{
		typedef u64 u64x2 __attribute__((vector_size(16)));
		u64 e = septe_make(child_state, page);
		u64x2 v = { e, e + stride }, step = { 2 * stride, 2 * stride };

		for (unsigned int i = 0; i < PTRS_PER_TABLE; i += 2, v += step)
			memcpy(&sp->e[i], &v, sizeof(v));
	}
	pamt_demote_commit(c, page, dpamt, pair, blk);
	sept_link_child(c, sp);
	pamt_page_take(c, c->td, new_sept, TDX_PS_4K, PT_EPT);
	return TDX_SUCCESS;
}
