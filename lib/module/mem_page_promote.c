// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.MEM.PAGE.PROMOTE (leaf 23): merge 512 uniform leaves back into one and
 * free their S-EPT page; with Dynamic PAMT the pair comes back in R12/R13
 * (spec seamcall.md §2.9).  Not used by KVM v3.  The SEPT tree is held
 * shared, as in the module: the 512 children are host-locked instead, and a
 * retired table is never freed while the simulator lives (sept.c).
 */
#include "tdxsim-internal.h"


static const struct mem_prologue promote_prologue = {
	.tdr_lock = TDX_LOCK_SHARED,
	.op_states = OPS_BLOCK_LIKE,
	.min_level = TDX_PS_2M,
	.max_level = TDX_PS_1G,
	.tree_lock = TDX_LOCK_SHARED,
};

static void unlock_children(struct sept_page *child, unsigned int n)
{
	while (n--)
		sept_unlock(&child->e[n]);
}

/*
 * is_sept_page_valid_for_merge(): each child is host-locked, then checked,
 * one at a time, so the first bad child stops the scan and the children after
 * it are never locked.  Child 0 must be MAPPED or PENDING and aligned to the
 * merged size; each later child must equal child 0 but for the address, one
 * stride further.  Pending 2MB children are compared without their accept
 * counters (sept_cleanup_if_pending()).  *locked counts the locks taken.
 */
static u64 lock_and_check_children(struct seamcall_ctx *c, struct sept_page *child,
				   unsigned int *locked)
{
	u64 stride = tdx_level_size(c->level - 1), first = 0;

	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++) {
		u64 e;

		if (!ctx_sept_lock_host(c, &child->e[i], c->gpa + i * stride, c->level - 1,
					TDX_OPERAND_ID_RCX))
			return sept_error(c, TDX_OPERAND_BUSY);
		(*locked)++;
		e = sept_read(&child->e[i]) & ~(SEPTE_LOCK | SEPTE_HP | SEPTE_ACCEPT_MASK);
		if (i == 0) {
			enum sept_state s = septe_state(e);

			if (septe_hpa(e) & (tdx_level_size(c->level) - 1) ||
			    (s != SEPT_MAPPED && s != SEPT_PENDING))
				return sept_error(c, TDX_EPT_INVALID_PROMOTE_CONDITIONS);
			first = e;
		} else if (e != first + i * stride) {
			return sept_error(c, TDX_EPT_INVALID_PROMOTE_CONDITIONS);
		}
	}
	return TDX_SUCCESS;
}

static void pamt_promote_commit(struct seamcall_ctx *c, u64 page, u64 pair_out[2])
{
	struct tdxsim *sim = c->sim;
	struct pamt_entry *big = pamt_entry_at(sim, page, c->level);
	struct pamt_entry *small = pamt_entry_at(sim, page, c->level - 1);
	u8 pt = small->pt;
	u16 owner = small->owner;

	/*
	 * The 512 smaller entries are contiguous; published by the release
	 * below.  With Dynamic PAMT their block goes with the pair instead.
	 */
	if (big->pt == PT_PAMT)
		dpamt_pair_release(sim, page, pair_out);
	else
		memset(small, 0, PTRS_PER_TABLE * sizeof(*small));
	__atomic_store_n(&big->owner, owner, __ATOMIC_RELAXED);	/* read by tdxsim_pamt_lookup() */
	__atomic_store_n(&big->bepoch, 0, __ATOMIC_RELAXED);	/* read by guest walks */
	__atomic_store_n(&big->pt, pt, __ATOMIC_RELEASE);
	seq_note(&sim->seq_2m[pa_to_idx2m(sim, page)], c->seq);
}

/*
 * RCX = GPA|level, RDX = TDR.  Out: RCX = freed S-EPT page | removal hint;
 * R12/R13 = the range's DPAMT pair, written only by a 2MB promote with
 * Dynamic PAMT on (else the caller's values stay); version 1: R9-R11 =
 * NULL_PA (no L2 S-EPT pages).  Order as tdh_mem_page_promote.c: entry lock
 * and state, the S-EPT page's PAMT entry (exclusive), block/track, the
 * children one by one, a pending interrupt, the merged page's PAMT entry.
 */
u64 leaf_tdh_mem_page_promote(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	struct tdx_module_args *a = c->args;
	u64 page_info = a->rcx, tdr = a->rdx;
	u64 pair[2] = { 0, 0 };
	struct pamt_locked *sept_pl;
	struct sept_page *child;
	unsigned int locked = 0;
	u64 err, sept_pa, first;

	ctx_clear_outputs(c);
	if (c->version)
		a->r9 = a->r10 = a->r11 = TDX_NULL_PA;
	err = mem_prologue(c, &promote_prologue, page_info, tdr);
	if (err)
		return err;
	err = mem_walk_and_lock(c, SEPT_STATES(NL_MAPPED) | SEPT_STATES(NL_BLOCKED));
	if (err)
		return err;
	sept_pa = septe_hpa(c->walk.entry);
	/*
	 * pamt_implicit_get_and_lock(): an S-EPT page is a 4K page, its entry
	 * locked without a walk, no parent held.  No entry details when this
	 * lock fails (api_error_with_operand_id() only).
	 */
	err = ctx_pamt_lock_implicit(c, sept_pa, TDX_PS_4K, TDX_LOCK_EXCLUSIVE,
				     TDX_OPERAND_ID_RCX, &sept_pl);
	if (err)
		return err;
	if (td_tlb_tracking_required(c->td)) {
		if (septe_state(c->walk.entry) != SEPT_NL_BLOCKED)
			return sept_error(c, TDX_GPA_RANGE_NOT_BLOCKED);
		/* BLOCK of a non-leaf entry left its epoch on the S-EPT page's PAMT entry. */
		if (!is_tlb_tracked(c->td, sept_pl->e->bepoch))
			return api_error_with_operand_id(TDX_TLB_TRACKING_NOT_DONE,
							 TDX_OPERAND_ID_RCX);
	}
	child = c->walk.table->child[c->walk.idx];
	err = lock_and_check_children(c, child, &locked);
	if (err)
		goto out;
	/*
	 * Not restartable and nothing committed: RCX/RDX hold their inputs
	 * again.  ENHANCED_DEMOTE_INTERRUPTIBILITY spares DEMOTE only.
	 */
	if (cpu_interrupt_pending(c)) {
		a->rcx = page_info;
		a->rdx = tdr;
		err = TDX_INTERRUPTED_RESTARTABLE;
		goto out;
	}
	first = child->e[0];
	/* pamt_promote(): acquire_sharex_lock_hp_ex() on the merged entry itself, no walk. */
	err = ctx_pamt_lock_implicit(c, septe_hpa(first), c->level, TDX_LOCK_EXCLUSIVE,
				     TDX_OPERAND_ID_RCX, NULL);
	if (err)
		goto out;

	pamt_promote_commit(c, septe_hpa(first), pair);
	sept_unlink_child(c, septe_make(septe_state(first), septe_hpa(first)));
	unlock_children(child, locked);
	locked = 0;
	sept_page_put(sim, c->td, child);
	a->rcx = sept_pa | pamt_page_give_back(c, c->td, sept_pa, TDX_PS_4K, true);
	if (sim_dpamt(sim) && c->level == TDX_PS_2M) {
		a->r12 = pair[0];
		a->r13 = pair[1];
	}
	return TDX_SUCCESS;
out:
	unlock_children(child, locked);
	return err;
}
