// SPDX-License-Identifier: GPL-2.0-only
/*
 * vCPUs: TDH.VP.CREATE, the epoch half of TDH.VP.ENTER, TD exits, and the
 * TDCALL dispatcher (spec seamcall.md §2.6, §2.17).
 */
#include "tdxsim-internal.h"

/* TDH.VP.CREATE: RCX = TDVPR page, RDX = TDR. */
u64 leaf_tdh_vp_create(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	u64 tdvpr = c->args->rcx;
	struct tdxsim_vcpu *v;
	u64 err;

	err = td_lock_tdr(c, c->args->rdx, TDX_OPERAND_ID_RDX, TDX_LOCK_SHARED);
	if (err)
		return err;
	err = td_check_keys(c);
	if (err)
		return err;
	err = td_lock_op_state(c, OPS(INITIALIZED) | OPS(STATE_IMPORT));
	if (err)
		return err;
	err = ctx_pamt_check_free_page(c, tdvpr, TDX_PS_4K, TDX_OPERAND_ID_RCX, NULL);
	if (err)
		return err;
	v = calloc(1, sizeof(*v));
	if (!v)
		return TDX_SYS_BUSY;
	v->sim = sim;
	v->td = c->td;
	v->tdvpr_pa = tdvpr;
	pthread_mutex_lock(&c->td->vcpu_lock);
	HASH_ADD(hh, c->td->vcpus, tdvpr_pa, sizeof(v->tdvpr_pa), v);
	pthread_mutex_unlock(&c->td->vcpu_lock);
	pamt_page_take(c, c->td, tdvpr, TDX_PS_4K, PT_TDVPR);
	return TDX_SUCCESS;
}

static struct tdxsim_vcpu *vcpu_find(struct td *td, u64 tdvpr)
{
	struct tdxsim_vcpu *v;

	pthread_mutex_lock(&td->vcpu_lock);
	HASH_FIND(hh, td->vcpus, &tdvpr, sizeof(tdvpr), v);
	pthread_mutex_unlock(&td->vcpu_lock);
	return v;
}

/*
 * The TDVPR operand of VP.ENTER/VP.FLUSH: address checks, its PAMT entry
 * locked (@t) and PT_TDVPR, then the owner TDR locked shared (the implicit
 * TDR lock, operand TDR).  Sets c->td and *vp (NULL if the vCPU is unknown).
 */
static u64 vcpu_lock_tdvpr(struct seamcall_ctx *c, u64 tdvpr, enum lock_type t,
			   struct tdxsim_vcpu **vp)
{
	struct pamt_locked *pl;
	struct td *td;
	u64 err;

	err = hpa_check_operand(c, tdvpr, PAGE_SIZE, TDX_OPERAND_ID_RCX);
	if (err)
		return err;
	err = ctx_pamt_lock_page(c, tdvpr, TDX_PS_4K, t, TDX_OPERAND_ID_RCX, &pl);
	if (err)
		return err;
	if (pl->level != TDX_PS_4K || pl->e->pt != PT_TDVPR)
		return api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, TDX_OPERAND_ID_RCX);
	td = td_by_id(c->sim, pl->e->owner);
	err = td_lock_tdr(c, td->tdr_pa, TDX_OPERAND_ID_TDR, TDX_LOCK_SHARED);
	if (err)
		return err;
	*vp = vcpu_find(td, tdvpr);
	return TDX_SUCCESS;
}

/*
 * TDH.VP.ENTER: RCX = TDVPR.  Only the epoch part: sample td_epoch under the
 * epoch lock (shared), count the vCPU in refcount[epoch & 1].
 */
u64 leaf_tdh_vp_enter(struct seamcall_ctx *c)
{
	u64 tdvpr = c->args->rcx & SEPTE_PFN_MASK;
	struct tdxsim_vcpu *v;
	struct td *td;
	u64 err;

	/*
	 * Bits 52 (host_recoverability_hint) and 53 (resume_l1) are flags the
	 * module accepts; tdxsim ignores them.  Bits 11:0 and 63:54 are reserved.
	 */
	if (c->args->rcx & ~(SEPTE_PFN_MASK | (3ULL << 52)))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	err = vcpu_lock_tdvpr(c, tdvpr, TDX_LOCK_SHARED, &v);
	if (err)
		return err;
	td = c->td;
	err = td_check_keys(c);
	if (err)
		return err;
	err = td_lock_op_state(c, OPS(RUNNABLE) | OPS(LIVE_EXPORT) | OPS(LIVE_IMPORT));
	if (err)
		return err;
	if (!v || __atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE))
		return TDX_VCPU_STATE_INCORRECT;
	if (!ctx_td_try_lock(c, &td->epoch_lock, TDX_LOCK_SHARED, TDXSIM_HOOK_LOCK_EPOCH,
			     TDX_OPERAND_ID_TD_EPOCH))
		return api_error_with_operand_id(TDX_OPERAND_BUSY, TDX_OPERAND_ID_TD_EPOCH);
	v->vcpu_epoch = __atomic_load_n(&td->td_epoch, __ATOMIC_ACQUIRE);
	__atomic_fetch_add(&td->refcount[v->vcpu_epoch & 1], 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&v->in_guest, true, __ATOMIC_RELEASE);
	__atomic_store_n(&v->associated, true, __ATOMIC_RELEASE);
	sharex_unlock(&td->epoch_lock, TDX_LOCK_SHARED);
	return TDX_SUCCESS;
}

/*
 * TDH.VP.FLUSH: RCX = TDVPR.  Dissociates a vCPU (the host runs it where the
 * vCPU last ran; tdxsim does not tie vCPUs to logical CPUs).  A vCPU still
 * in guest mode cannot be flushed [INF: on hardware it cannot be running on
 * the flushing CPU].
 */
u64 leaf_tdh_vp_flush(struct seamcall_ctx *c)
{
	struct tdxsim_vcpu *v;
	u64 err;

	err = vcpu_lock_tdvpr(c, c->args->rcx, TDX_LOCK_EXCLUSIVE, &v);
	if (err)
		return err;
	if (c->td->lifecycle != TD_KEYS_CONFIGURED)
		return TDX_TD_KEYS_NOT_CONFIGURED;
	if (!v || __atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE))
		return TDX_VCPU_STATE_INCORRECT;
	if (!__atomic_exchange_n(&v->associated, false, __ATOMIC_ACQ_REL))
		return TDX_VCPU_NOT_ASSOCIATED;
	return TDX_SUCCESS;
}

/* TD exit: the vCPU no longer holds its epoch. */
static bool vcpu_td_exit(struct tdxsim_vcpu *v)
{
	if (!__atomic_exchange_n(&v->in_guest, false, __ATOMIC_ACQ_REL))
		return false;
	__atomic_fetch_sub(&v->td->refcount[v->vcpu_epoch & 1], 1, __ATOMIC_ACQ_REL);
	return true;
}

void trace_td_exit(struct tdxsim_vcpu *v, u32 exit_reason)
{
	struct tdxsim_trace_event ev = {
		.seq = tdxsim_seq(v->sim), .ts_ns = trace_now_ns(v->sim),
		.cpu = tdxsim_cpu_current(v->sim), .type = TDXSIM_EV_TD_EXIT, .fault_rule = -1,
		.tdvpr = v->tdvpr_pa, .exit_reason = exit_reason,
	};

	trace_emit(v->sim, &ev);
}

void tdxsim_vcpu_exit(struct tdxsim_vcpu *v)
{
	if (v && v->td && vcpu_td_exit(v) && unlikely(sim_tracing(v->sim)))
		trace_td_exit(v, 0);
}

bool tdxsim_vcpu_in_guest(const struct tdxsim_vcpu *v)
{
	return __atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE);
}

void tdxsim_vcpu_last_exit(const struct tdxsim_vcpu *v, struct tdxsim_td_exit *exit)
{
	*exit = v->last_exit;
}

u64 tdxsim_vcpu_tdvpr_pa(const struct tdxsim_vcpu *v)
{
	return v->tdvpr_pa;
}

/* Record the exit and leave the guest: tdxsim_tdcall() returns TD_EXIT. */
u64 vcpu_exit_to_host(struct tdxsim_vcpu *v, const struct tdxsim_td_exit *exit)
{
	v->last_exit = *exit;
	vcpu_td_exit(v);
	return TDXSIM_TDCALL_TD_EXIT;
}

/* TDCALL handlers by leaf number; names and versions are in the leaf table. */
static u64 (*const tdcall_handlers[TDX_NR_LEAVES])(struct seamcall_ctx *c,
						    struct tdxsim_vcpu *v) = {
	[TDG_MEM_PAGE_ACCEPT] = leaf_tdg_mem_page_accept,
};

u64 tdxsim_tdcall(struct tdxsim *sim, struct tdxsim_vcpu *v, u64 rax,
		  struct tdx_module_args *args)
{
	unsigned int leaf = rax & TDX_LEAF_MASK;
	unsigned int version = (rax >> TDX_VERSION_SHIFT) & TDX_VERSION_MASK;
	const struct tdxsim_leaf_info *info = tdxsim_tdcall_leaf_info(leaf);
	struct tdx_module_args in;
	struct seamcall_ctx c;
	u64 status, t0 = 0;
	/* Decided once: a call that started untraced has no entry registers to show. */
	bool tracing = sim_tracing(sim);

	ctx_init(&c, sim, args, leaf, version);
	c.tdcall = true;
	if (unlikely(c.hook))
		ctx_hook_call(&c, TDXSIM_HOOK_ENTRY, 0);
	if (unlikely(tracing)) {
		in = *args;
		t0 = trace_now_ns(sim);
	}
	if (!v || v->sim != sim || !v->td || !__atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE))
		status = TDX_VCPU_STATE_INCORRECT;
	else if (rax >> 24 || !info || !tdcall_handlers[leaf] || version > info->max_version)
		status = api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RAX);
	else if (unlikely(sim_has_faults(sim)) &&
		 fault_inject(&c, TDXSIM_FAULT_TDCALL | leaf, &status))
		;	/* failed before the leaf ran */
	else
		status = tdcall_handlers[leaf](&c, v);
	ctx_finish(&c, status);
	if (leaf < TDX_NR_LEAVES)
		stats_count(&sim->tdcall_stats[leaf], status);
	if (unlikely(tracing)) {
		trace_call(&c, TDXSIM_EV_TDCALL, &in, t0, status);
		if (status == TDXSIM_TDCALL_TD_EXIT)
			trace_td_exit(v, v->last_exit.exit_reason);
	}
	return status;
}
