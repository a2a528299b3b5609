// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDG.MEM.PAGE.ACCEPT (TDCALL leaf 6): the guest accepts a PENDING 4K or 2MB
 * page (spec seamcall.md §2.16).  When the host mapping does not let the
 * module decide (PENDING 2MB leaf for a 4K accept, a blocked or missing
 * entry), the vCPU exits with an EPT violation of type ACCEPT carrying the
 * guest's requested level, and re-executes the TDCALL after re-entry.
 */
#include "tdxsim-internal.h"

static u64 accept_exit(struct seamcall_ctx *c, struct td_vcpu *v, u64 gpa, int req)
{
	const struct sept_walk *w = &c->walk;
	enum sept_state s = septe_state(w->entry);
	struct tdxsim_td_exit exit = {
		.exit_reason = EXIT_REASON_EPT_VIOLATION,
		.exit_qual = EPT_VIOLATION_ACC_WRITE,
		.gpa = gpa,
	};
	u64 info = (u64)req | ((u64)w->level << TDX_ACCEPT_INFO_ERR_LEVEL_SHIFT) |
		   ((u64)sept_public_state(s) << TDX_ACCEPT_INFO_ERR_STATE_SHIFT) |
		   (sept_state_is_leaf(s) ? TDX_ACCEPT_INFO_ERR_IS_LEAF : 0);

	exit.ext_exit_qual = TDX_EXT_EXIT_QUAL_TYPE_ACCEPT | (info << TDX_EXT_EXIT_QUAL_INFO_SHIFT);
	return vcpu_exit_to_host(v, &exit);
}

/*
 * Guest side of the entry lock: loses to a holder and to the host-priority
 * bit.  The TDCALL dispatcher turns BUSY_HOST_PRIORITY into TDX_OPERAND_BUSY,
 * so the guest sees TDX_OPERAND_BUSY|RCX either way.
 */
static u64 sept_lock_guest(u64 *ep)
{
	u64 v = __atomic_load_n(ep, __ATOMIC_RELAXED);

	for (;;) {
		if (v & (SEPTE_HP | SEPTE_LOCK))
			return api_error_with_operand_id(TDX_OPERAND_BUSY, TDX_OPERAND_ID_RCX);
		if (__atomic_compare_exchange_n(ep, &v, v | SEPTE_LOCK, true, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return TDX_SUCCESS;
	}
}

/* RCX = GPA|level (0 or 1). */
u64 leaf_tdg_mem_page_accept(struct seamcall_ctx *c, struct td_vcpu *v)
{
	struct td *td = v->td;
	u64 page_info = c->args->rcx;
	int level = (int)(page_info & TDX_PAGE_INFO_LEVEL_MASK);
	u64 gpa = page_info & ~(TDX_PAGE_INFO_LEVEL_MASK | TDX_PAGE_INFO_RSVD_MASK);
	unsigned int counter, total;
	enum sept_state s;
	u64 *ep, e, err;

	if (page_info & TDX_PAGE_INFO_RSVD_MASK || level > TDX_PS_2M ||
	    gpa & (tdx_level_size(level) - 1) || gpa >> (td->gpaw - 1))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	c->td = td;
	sept_walk(td, gpa, level, &c->walk);
	s = septe_state(c->walk.entry);
	if (c->walk.level != level) {
		/* Stopped above: an accepted huge page, or the host must act. */
		if (s == SEPT_MAPPED)
			return TDX_PAGE_ALREADY_ACCEPTED | (u64)c->walk.level;
		return accept_exit(c, v, gpa, level);
	}
	/* The entry is guest-locked before any state test: lock failures win. */
	ep = sept_walk_ep(&c->walk);
	err = sept_lock_guest(ep);
	if (unlikely(c->hook))
		ctx_hook_lock(c, TDXSIM_HOOK_LOCK_SEPT_ENTRY_GUEST, TDX_OPERAND_ID_RCX, 0, gpa,
			      level, TDX_LOCK_EXCLUSIVE, !err);
	if (err)
		return err;
	e = sept_read(ep);
	c->walk.entry = e;
	s = septe_state(e);
	if (sept_state_is_nl(s))
		err = TDX_PAGE_SIZE_MISMATCH | (u64)level;
	else if (s == SEPT_MAPPED)
		err = TDX_PAGE_ALREADY_ACCEPTED | (u64)level;
	if (err || s != SEPT_PENDING) {
		sept_unlock(ep);
		return err ? err : accept_exit(c, v, gpa, level);
	}
	/*
	 * Zero the page 4K at a time.  A pending interrupt suspends a 2MB
	 * accept after the current 4K: the counter is saved in the entry, RIP
	 * is not advanced, and the host takes the interrupt (a TD exit).
	 */
	total = (unsigned int)tdx_level_pages(level);
	counter = septe_accept_counter(e);
	while (counter < total) {
		counter++;
		if (counter < total && cpu_interrupt_pending(c)) {
			struct tdxsim_td_exit exit = {
				.exit_reason = EXIT_REASON_EXTERNAL_INTERRUPT,
				.gpa = gpa,
			};

			sept_set(ep, (e & ~SEPTE_ACCEPT_MASK) |
				     ((u64)counter << SEPTE_ACCEPT_SHIFT));
			c->locked_ep = ep;	/* released by ctx_release() */
			return vcpu_exit_to_host(v, &exit);
		}
	}
	/* Held to the end of the call like any leaf lock, released by ctx_release(). */
	c->locked_ep = ep;
	sept_commit(c, septe_make(SEPT_MAPPED, septe_hpa(e)));
	return TDX_SUCCESS;
}
