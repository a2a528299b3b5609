// SPDX-License-Identifier: GPL-2.0-only
/*
 * TD management leaves: TDH.MNG.CREATE, KEY.CONFIG, ADDCX, INIT, VPFLUSHDONE,
 * KEY.FREEID and TDH.MR.FINALIZE, plus the no-op TDH.PHYMEM.CACHE.WB.
 * Only what the memory model needs: keys, TDCS pages, op_state, epochs.
 */
#include "tdxsim-internal.h"

/* The op_state lock taken exclusive: the leaf changes op_state. */
static u64 td_lock_op_state_excl(struct seamcall_ctx *c, u32 op_states)
{
	struct td *td = c->td;

	if (!sharex_try_lock(&td->op_state_lock, TDX_LOCK_EXCLUSIVE))
		return api_error_with_operand_id(TDX_OPERAND_BUSY, TDX_OPERAND_ID_OP_STATE);
	if (!(op_states & (1U << td->op_state))) {
		sharex_unlock(&td->op_state_lock, TDX_LOCK_EXCLUSIVE);
		return TDX_OP_STATE_INCORRECT;
	}
	return TDX_SUCCESS;
}

static void td_unlock_op_state_excl(struct seamcall_ctx *c)
{
	sharex_unlock(&c->td->op_state_lock, TDX_LOCK_EXCLUSIVE);
}

/* TDH.MNG.CREATE: RCX = TDR page, RDX = HKID. */
u64 leaf_tdh_mng_create(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	u64 tdr_pa = c->args->rcx, hkid = c->args->rdx;
	struct td *td;
	u64 err;

	err = ctx_pamt_check_free_page(c, tdr_pa, TDX_PS_4K, TDX_OPERAND_ID_RCX);
	if (err)
		return err;
	/* HKID 0 is the TDX global private key's neighbour: the host's. */
	if (!hkid || hkid >= (1ULL << sim->cfg.nr_hkid_bits))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RDX);
	if (__atomic_exchange_n(&sim->hkid_used[hkid], 1, __ATOMIC_ACQ_REL))
		return api_error_with_operand_id(TDX_HKID_NOT_FREE, TDX_OPERAND_ID_RDX);
	td = td_alloc(sim, tdr_pa, (u16)hkid);
	if (!td) {
		/* Simulator limit (max_tds), not a module behaviour. */
		__atomic_store_n(&sim->hkid_used[hkid], 0, __ATOMIC_RELEASE);
		return TDX_SYS_BUSY;
	}
	td->seq = c->seq;
	pamt_assign(sim, tdr_pa, TDX_PS_4K, PT_TDR, td->id, c->seq);
	dpamt_inc(sim, tdr_pa);
	return TDX_SUCCESS;
}

/* TDH.MNG.KEY.CONFIG: RCX = TDR. */
u64 leaf_tdh_mng_key_config(struct seamcall_ctx *c)
{
	u64 err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE);

	if (err)
		return err;
	if (c->td->fatal)
		return TDX_TD_FATAL;
	if (c->td->lifecycle == TD_KEYS_CONFIGURED)
		return TDX_KEY_CONFIGURED;
	if (c->td->lifecycle != TD_HKID_ASSIGNED)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	c->td->lifecycle = TD_KEYS_CONFIGURED;
	c->td->seq = c->seq;
	return TDX_SUCCESS;
}

/* TDH.MNG.ADDCX: RCX = TDCX page, RDX = TDR. */
u64 leaf_tdh_mng_addcx(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	u64 page = c->args->rcx;
	struct td *td;
	u64 err;

	err = td_lock_tdr(c, c->args->rdx, TDX_OPERAND_ID_RDX, TDX_LOCK_EXCLUSIVE);
	if (err)
		return err;
	td = c->td;
	if (td->fatal)
		return TDX_TD_FATAL;
	if (td->lifecycle != TD_KEYS_CONFIGURED)
		return TDX_TD_KEYS_NOT_CONFIGURED;
	if (td->op_state != OP_STATE_UNINITIALIZED)
		return TDX_OP_STATE_INCORRECT;
	if (td->nr_tdcx >= sim->cfg.nr_tdcs_pages)
		return TDX_TDCX_NUM_INCORRECT;
	err = ctx_pamt_check_free_page(c, page, TDX_PS_4K, TDX_OPERAND_ID_RCX);
	if (err)
		return err;
	pamt_assign(sim, page, TDX_PS_4K, PT_TDCX, td->id, c->seq);
	dpamt_inc(sim, page);
	td->tdcx_pa[td->nr_tdcx++] = page;
	td_chldcnt_add(c, 1);
	return TDX_SUCCESS;
}

/* TDH.MNG.INIT: RCX = TDR, RDX = TD_PARAMS (shared, 1KB aligned). */
u64 leaf_tdh_mng_init(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	u64 params = c->args->rdx;
	struct td *td;
	u64 err;

	err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE);
	if (err)
		return err;
	err = td_check_keys(c);
	if (err)
		return err;
	td = c->td;
	if (td->op_state != OP_STATE_UNINITIALIZED)
		return TDX_OP_STATE_INCORRECT;
	if (!params || params & 1023 || params & sim->hkid_mask ||
	    params >= (1ULL << sim->cfg.max_pa_bits))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RDX);
	/* The root S-EPT page lives in the TDCS: no host page of its own. */
	td->root = sept_page_get(sim, 0, td->id, td->sept_levels - 1);
	if (!td->root)
		return TDX_SYS_BUSY;
	td->td_epoch = 1;
	td->op_state = OP_STATE_INITIALIZED;
	td->seq = c->seq;
	return TDX_SUCCESS;
}

/* TDH.MR.FINALIZE: RCX = TDR.  INITIALIZED -> RUNNABLE. */
u64 leaf_tdh_mr_finalize(struct seamcall_ctx *c)
{
	u64 err;

	err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_SHARED);
	if (err)
		return err;
	err = td_check_keys(c);
	if (err)
		return err;
	err = td_lock_op_state_excl(c, OPS(INITIALIZED));
	if (err)
		return err;
	__atomic_store_n(&c->td->op_state, OP_STATE_RUNNABLE, __ATOMIC_RELEASE);
	c->td->seq = c->seq;
	td_unlock_op_state_excl(c);
	return TDX_SUCCESS;
}

static bool td_any_vcpu_in_guest(struct td *td)
{
	struct tdxsim_vcpu *v, *tmp;
	bool any = false;

	pthread_mutex_lock(&td->vcpu_lock);
	HASH_ITER(hh, td->vcpus, v, tmp) {
		if (__atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE))
			any = true;
	}
	pthread_mutex_unlock(&td->vcpu_lock);
	return any;
}

/* TDH.MNG.VPFLUSHDONE: RCX = TDR.  KEYS_CONFIGURED -> BLOCKED. */
u64 leaf_tdh_mng_vpflushdone(struct seamcall_ctx *c)
{
	u64 err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE);

	if (err)
		return err;
	if (c->td->lifecycle != TD_KEYS_CONFIGURED)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	if (td_any_vcpu_in_guest(c->td))
		return TDX_FLUSHVP_NOT_DONE;
	c->td->lifecycle = TD_BLOCKED;
	c->td->seq = c->seq;
	return TDX_SUCCESS;
}

/* TDH.PHYMEM.CACHE.WB: cache state is per page here; nothing to do. */
u64 leaf_tdh_phymem_cache_wb(struct seamcall_ctx *c)
{
	return TDX_SUCCESS;
}

/* TDH.MNG.KEY.FREEID: RCX = TDR.  BLOCKED -> TEARDOWN, HKID released. */
u64 leaf_tdh_mng_key_freeid(struct seamcall_ctx *c)
{
	u64 err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE);

	if (err)
		return err;
	if (c->td->lifecycle != TD_BLOCKED)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	c->td->lifecycle = TD_TEARDOWN;
	__atomic_store_n(&c->sim->hkid_used[c->td->hkid], 0, __ATOMIC_RELEASE);
	c->td->seq = c->seq;
	return TDX_SUCCESS;
}
