// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.MEM.TRACK (leaf 38): advance the TD epoch once no vCPU still runs in
 * the previous one (spec seamcall.md §2.6).
 */
#include "tdxsim-internal.h"

/* RCX = TDR. */
u64 leaf_tdh_mem_track(struct seamcall_ctx *c)
{
	struct td *td;
	u64 err, epoch;

	err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_SHARED);
	if (err)
		return err;
	err = td_check_keys(c);
	if (err)
		return err;
	err = td_lock_op_state(c, (1U << OP_STATE_NR) - 1 - OPS(UNINITIALIZED) -
				  OPS(FAILED_IMPORT));
	if (err)
		return err;
	td = c->td;
	if (!ctx_td_try_lock(c, &td->epoch_lock, TDX_LOCK_EXCLUSIVE, TDXSIM_HOOK_LOCK_EPOCH,
			     TDX_OPERAND_ID_TD_EPOCH))
		return api_error_with_operand_id(TDX_OPERAND_BUSY, TDX_OPERAND_ID_TD_EPOCH);
	/* Held to the end of the call, released by ctx_release() (module: EXIT label). */
	c->epoch_locked = true;
	epoch = td->td_epoch;
	if (__atomic_load_n(&td->refcount[(epoch - 1) & 1], __ATOMIC_ACQUIRE))
		return TDX_PREVIOUS_TLB_EPOCH_BUSY;
	__atomic_store_n(&td->td_epoch, epoch + 1, __ATOMIC_RELEASE);
	seq_note(&td->seq, c->seq);
	return TDX_SUCCESS;
}
