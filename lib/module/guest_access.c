// SPDX-License-Identifier: GPL-2.0-only
/*
 * A TD vCPU in guest mode touches a GPA: what the CPU's walk of the S-EPT and
 * the module's EPT-violation handler make of it (td_ept_violation.c, read for
 * the behaviour; spec seamcall.md §2.17).  Not a TDCALL: no sequence number,
 * no statistics, no fault rule; a TD exit is traced like a TDCALL's.
 *
 * The CPU walks the S-EPT without the module's locks (their bits are
 * software-available bits the walk ignores) and reads each entry once, as
 * TDG.MEM.PAGE.ACCEPT's walk does.  What the CPU may still use although the
 * S-EPT no longer allows it is its TLB: a translation of a page that was
 * guest-accessible (MAPPED) stays usable after TDH.MEM.RANGE.BLOCK until
 * the vCPU has left the guest after the TDH.MEM.TRACK that follows the
 * block, i.e. while the vCPU's epoch (sampled at TDH.VP.ENTER) is not newer
 * than the entry's block epoch.  That is the window TDH.MEM.TRACK and the
 * host's kick close, and the one in which DEMOTE, REMOVE and UNBLOCK refuse
 * with TDX_TLB_TRACKING_NOT_DONE; the model takes the worst case and lets
 * the access through, as a TLB that holds the translation would.
 */
#include "tdxsim-internal.h"

/*
 * Block epoch of a blocked entry: on the mapped page's PAMT entry for a
 * leaf, on the child S-EPT page's for a non-leaf (mem_range_block.c).
 */
static u32 entry_bepoch(struct tdxsim *sim, u64 e, int level)
{
	int pamt_level = sept_state_is_nl(septe_state(e)) ? TDX_PS_4K : level;

	return __atomic_load_n(&pamt_entry_at(sim, septe_hpa(e), pamt_level)->bepoch,
			       __ATOMIC_ACQUIRE);
}

/* The vCPU entered before the TRACK that follows the block: its TLB may be stale. */
static bool vcpu_tlb_may_hold(struct td_vcpu *v, u32 bepoch)
{
	return (s32)((u32)v->vcpu_epoch - bepoch) <= 0;
}

/*
 * EPT-violation TD exit (tdx_ept_violation_exit_to_vmm): the exit
 * qualification as the CPU reports a data access through a guest linear
 * address to a non-present entry: the access type (read or write), the
 * entry's permissions (none) and GLA valid/translated; no extended exit
 * qualification (type NONE).  The vCPU leaves the guest.
 */
static u64 ept_violation_exit(struct td_vcpu *v, u64 gpa, bool write)
{
	struct tdxsim_td_exit exit = {
		.exit_reason = EXIT_REASON_EPT_VIOLATION,
		.exit_qual = (write ? EPT_VIOLATION_ACC_WRITE : EPT_VIOLATION_ACC_READ) |
			     EPT_VIOLATION_GVA_IS_VALID | EPT_VIOLATION_GVA_TRANSLATED,
		.gpa = gpa,
	};
	u64 ret = vcpu_exit_to_host(v, &exit);

	if (unlikely(sim_tracing(v->sim)))
		trace_td_exit(v, exit.exit_reason);
	return ret;
}

/*
 * The walk the CPU does: down through NL_MAPPED entries, and through an
 * NL_BLOCKED one only while the vCPU's TLB may still hold translations
 * under it.  A leaf ends it: MAPPED is accessible; BLOCKED too through a
 * stale TLB; PENDING is the guest's own #VE (the TD does not exit on it:
 * TD_CTLS.PENDING_VE_DISABLE is not modelled).  Everything else (FREE, a
 * block the vCPU has seen tracked, PENDING_BLOCKED, REMOVED, a PENDING leaf
 * under a blocked table) exits to the host with an EPT violation.
 */
static u64 guest_walk(struct td_vcpu *v, u64 gpa, bool write)
{
	struct td *td = v->td;
	struct sept_page *sp = td->root;
	int level = td->sept_levels - 1;
	bool through_block = false;

	for (;;) {
		unsigned int idx = (gpa >> (PAGE_SHIFT + TDX_PTE_SHIFT * level)) &
				   (PTRS_PER_TABLE - 1);
		u64 e = sept_read(&sp->e[idx]);
		enum sept_state s = septe_state(e);

		switch (s) {
		case SEPT_NL_BLOCKED:
			if (!vcpu_tlb_may_hold(v, entry_bepoch(v->sim, e, level)))
				return ept_violation_exit(v, gpa, write);
			through_block = true;
			/* fall through */
		case SEPT_NL_MAPPED:
			if (level == TDX_PS_4K)		/* never: a 4K entry is a leaf */
				return ept_violation_exit(v, gpa, write);
			sp = __atomic_load_n(&sp->child[idx], __ATOMIC_ACQUIRE);
			level--;
			continue;
		case SEPT_MAPPED:
			return TDX_SUCCESS;
		case SEPT_BLOCKED:
			if (vcpu_tlb_may_hold(v, entry_bepoch(v->sim, e, level)))
				return TDX_SUCCESS;
			return ept_violation_exit(v, gpa, write);
		case SEPT_PENDING:
			if (through_block)
				return ept_violation_exit(v, gpa, write);
			return TDXSIM_GUEST_ACCESS_VE;
		default:
			return ept_violation_exit(v, gpa, write);
		}
	}
}

u64 tdxsim_guest_access(struct tdxsim *sim, u64 tdvpr_pa, u64 gpa, bool write)
{
	struct td_vcpu *v = vcpu_by_tdvpr(sim, tdvpr_pa);
	u64 shared_bit;

	/* As tdxsim_tdcall(): no vCPU, or not in the guest, cannot access anything. */
	if (!v || !__atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE))
		return TDX_VCPU_STATE_INCORRECT;
	shared_bit = 1ULL << (v->td->gpaw - 1);
	/* Above GPAW the module turns the violation into a #PF(RSVD) in the guest. */
	if (gpa >> v->td->gpaw)
		return TDX_OPERAND_INVALID;
	/* The shared EPT is the host's and is not modelled: always accessible. */
	if (gpa & shared_bit)
		return TDX_SUCCESS;
	return guest_walk(v, gpa, write);
}
