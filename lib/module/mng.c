// SPDX-License-Identifier: GPL-2.0-only
/*
 * TD management leaves: TDH.MNG.CREATE, KEY.CONFIG, ADDCX, INIT, VPFLUSHDONE,
 * KEY.FREEID and TDH.MR.FINALIZE, plus the no-op TDH.PHYMEM.CACHE.WB.
 * Only what the memory model needs: keys, TDCS pages, op_state, epochs.
 */
#include "tdxsim-internal.h"

/* TDH.MNG.CREATE: RCX = TDR page, RDX = HKID (bits 15:0).  The HKID is checked first. */
u64 leaf_tdh_mng_create(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	u64 tdr_pa = c->args->rcx, hkid = c->args->rdx;
	struct td *td;
	u64 err;

	/* is_private_hkid(), reserved bits 63:16 clear (tdh_mng_create.c). */
	if (hkid < sim->private_hkid_min || hkid >= (1ULL << sim->cfg.nr_hkid_bits))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RDX);
	err = ctx_pamt_check_free_page(c, tdr_pa, TDX_PS_4K, TDX_OPERAND_ID_RCX, NULL);
	if (err)
		return err;
	/* The key ownership table: an HKID is not free until KEY.FREEID. */
	if (__atomic_exchange_n(&sim->hkid_used[hkid], 1, __ATOMIC_ACQ_REL))
		return TDX_HKID_NOT_FREE;
	td = td_alloc(sim, tdr_pa, (u16)hkid);
	if (!td) {
		/* Simulator limit (max_tds), not a module behaviour. */
		__atomic_store_n(&sim->hkid_used[hkid], 0, __ATOMIC_RELEASE);
		return TDX_SYS_BUSY;
	}
	seq_note(&td->seq, c->seq);
	/* The module records owner 0 for a TDR; tdxsim keeps its TD id there. */
	pamt_page_take(c, td, tdr_pa, TDX_PS_4K, PT_TDR);
	return TDX_SUCCESS;
}

/* TDH.MNG.KEY.CONFIG: RCX = TDR.  One package: HKID_ASSIGNED -> KEYS_CONFIGURED. */
u64 leaf_tdh_mng_key_config(struct seamcall_ctx *c)
{
	u64 err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE);

	if (err)
		return err;
	if (c->td->fatal)
		return TDX_TD_FATAL;
	if (c->td->lifecycle != TD_HKID_ASSIGNED)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	c->td->lifecycle = TD_KEYS_CONFIGURED;
	seq_note(&c->td->seq, c->seq);
	return TDX_SUCCESS;
}

/*
 * TDH.MNG.ADDCX: RCX = TDCX page, RDX = TDR.  Pages beyond the TDCS base size
 * (L2 roots) are only accepted before MNG.INIT.
 */
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
	if (td->nr_tdcx >= TDXSIM_MAX_TDCS_PAGES)
		return TDX_TDCX_NUM_INCORRECT;
	err = ctx_pamt_check_free_page(c, page, TDX_PS_4K, TDX_OPERAND_ID_RCX, NULL);
	if (err)
		return err;
	if (td->nr_tdcx + 1 > sim->cfg.nr_tdcs_pages && td->op_state != OP_STATE_UNINITIALIZED)
		return TDX_OP_STATE_INCORRECT;
	pamt_page_take(c, td, page, TDX_PS_4K, PT_TDCX);
	td->tdcx_pa[td->nr_tdcx++] = page;
	return TDX_SUCCESS;
}

/* TDH.MNG.INIT: RCX = TDR, RDX = TD_PARAMS (shared, 1KB aligned). */
u64 leaf_tdh_mng_init(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	u64 tdr = c->args->rcx, params = c->args->rdx;
	struct td *td;
	u64 err;

	/* tdh_mng_init.c: "no extended error code" unless a CPUID config fails. */
	c->args->rcx = 0;
	err = td_lock_tdr(c, tdr, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE);
	if (err)
		return err;
	err = td_check_keys(c);
	if (err)
		return err;
	td = c->td;
	if (td->op_state != OP_STATE_UNINITIALIZED)
		return TDX_OP_STATE_INCORRECT;
	if (!params || !shared_hpa_valid(sim, params, 1024))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RDX);
	/* The root S-EPT page lives in the TDCS: no host page of its own. */
	td->root = sept_page_get(sim, td, 0, td->sept_levels - 1, true);
	if (!td->root)
		return TDX_SYS_BUSY;
	td->td_epoch = 1;
	td->op_state = OP_STATE_INITIALIZED;
	seq_note(&td->seq, c->seq);
	return TDX_SUCCESS;
}

/* TDH.MR.FINALIZE: RCX = TDR (exclusive).  INITIALIZED -> RUNNABLE. */
u64 leaf_tdh_mr_finalize(struct seamcall_ctx *c)
{
	struct td *td;
	u64 err;

	err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE);
	if (err)
		return err;
	err = td_check_keys(c);
	if (err)
		return err;
	td = c->td;
	if (td->op_state != OP_STATE_INITIALIZED)
		return TDX_OP_STATE_INCORRECT;
	/* TDCS num_vcpus counts the vCPUs past TDH.VP.INIT (tdh_mr_finalize.c). */
	if (!__atomic_load_n(&td->num_vcpus, __ATOMIC_ACQUIRE))
		return TDX_NO_VCPUS;
	__atomic_store_n(&td->op_state, OP_STATE_RUNNABLE, __ATOMIC_RELEASE);
	seq_note(&td->seq, c->seq);
	return TDX_SUCCESS;
}

/* num_assoc_vcpus != 0: a vCPU initialised or entered since its last TDH.VP.FLUSH. */
static bool td_any_vcpu_associated(struct td *td)
{
	struct td_vcpu *v, *tmp;
	bool any = false;

	pthread_mutex_lock(&td->vcpu_lock);
	HASH_ITER(hh, td->vcpus, v, tmp) {
		if (__atomic_load_n(&v->associated, __ATOMIC_ACQUIRE))
			any = true;
	}
	pthread_mutex_unlock(&td->vcpu_lock);
	return any;
}

/*
 * TDH.MNG.VPFLUSHDONE: RCX = TDR.  HKID_ASSIGNED/KEYS_CONFIGURED -> BLOCKED.
 * Refused while a vCPU is still associated: every vCPU that entered needs
 * TDH.VP.FLUSH first.
 */
u64 leaf_tdh_mng_vpflushdone(struct seamcall_ctx *c)
{
	struct td *td;
	u64 err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE);

	if (err)
		return err;
	td = c->td;
	if (td->lifecycle != TD_HKID_ASSIGNED && td->lifecycle != TD_KEYS_CONFIGURED)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	if (td->nr_tdcx >= c->sim->cfg.nr_tdcs_pages && td->op_state != OP_STATE_UNINITIALIZED &&
	    td_any_vcpu_associated(td))
		return TDX_FLUSHVP_NOT_DONE;
	td->lifecycle = TD_BLOCKED;
	td->wbcache_pending = true;
	seq_note(&td->seq, c->seq);
	return TDX_SUCCESS;
}

/*
 * TDH.PHYMEM.CACHE.WB: RCX = 0 (start) or 1 (resume).  One package: writes
 * back the caches of every HKID flushed by VPFLUSHDONE, so pages removed
 * earlier and never WBINVDed are clean afterwards.
 */
u64 leaf_tdh_phymem_cache_wb(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	bool any = false;

	if (c->args->rcx > 1)
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	u8 *flushed = calloc(1ULL << sim->cfg.nr_hkid_bits, 1);

	if (!flushed)
		return TDX_SYS_BUSY;	/* host out of memory: simulator limit */
	pthread_mutex_lock(&sim->td_lock);
	for (u16 id = 1; id <= sim->cfg.max_tds; id++) {
		struct td *td = sim->tds[id];

		if (td && __atomic_exchange_n(&td->wbcache_pending, false, __ATOMIC_ACQ_REL)) {
			flushed[td->hkid] = 1;
			any = true;
		}
	}
	pthread_mutex_unlock(&sim->td_lock);
	/* Write back and invalidate every line of the flushed keys. */
	for (u64 i = 0; any && i < sim->nr_pages; i++) {
		if (__atomic_load_n(&sim->page_flags[i], __ATOMIC_RELAXED) & PG_DIRTY &&
		    flushed[page_dirty_hkid(sim, idx_to_pa(sim, i))])
			page_flags_clear(sim, idx_to_pa(sim, i), PG_DIRTY);
	}
	free(flushed);
	return any ? TDX_SUCCESS : TDX_NO_HKID_READY_TO_WBCACHE;
}

/* TDH.MNG.KEY.FREEID: RCX = TDR.  BLOCKED -> TEARDOWN, HKID free again. */
u64 leaf_tdh_mng_key_freeid(struct seamcall_ctx *c)
{
	u64 err = td_lock_tdr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE);

	if (err)
		return err;
	if (c->td->lifecycle != TD_BLOCKED)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	if (__atomic_load_n(&c->td->wbcache_pending, __ATOMIC_ACQUIRE))
		return TDX_WBCACHE_NOT_COMPLETE;
	c->td->lifecycle = TD_TEARDOWN;
	__atomic_store_n(&c->sim->hkid_used[c->td->hkid], 0, __ATOMIC_RELEASE);
	seq_note(&c->td->seq, c->seq);
	return TDX_SUCCESS;
}
