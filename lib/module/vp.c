// SPDX-License-Identifier: GPL-2.0-only
/*
 * vCPUs: TDH.VP.CREATE, ADDCX, INIT, FLUSH, the epoch half of TDH.VP.ENTER,
 * TD exits, and the TDCALL dispatcher (spec seamcall.md §2.6, §2.17).  A vCPU
 * is named by its TDVPR page, in SEAMCALLs and in the public calls alike.
 */
#include "tdxsim-internal.h"

/* TDH.VP.CREATE: RCX = TDVPR page, RDX = TDR (tdh_vp_create.c). */
u64 leaf_tdh_vp_create(struct seamcall_ctx *c)
{
	struct tdxsim *sim = c->sim;
	u64 tdvpr = c->args->rcx;
	struct td_vcpu *v;
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
	v->state = VCPU_UNINITIALIZED;
	v->num_tdvps_pages = 1;
	pthread_mutex_lock(&c->td->vcpu_lock);
	HASH_ADD(hh, c->td->vcpus, tdvpr_pa, sizeof(v->tdvpr_pa), v);
	pthread_mutex_unlock(&c->td->vcpu_lock);
	if (hash_add_failed(v)) {
		free(v);
		return TDX_SYS_BUSY;	/* host out of memory: simulator limit */
	}
	pamt_page_take(c, c->td, tdvpr, TDX_PS_4K, PT_TDVPR);
	return TDX_SUCCESS;
}

static struct td_vcpu *vcpu_find(struct td *td, u64 tdvpr)
{
	struct td_vcpu *v;

	pthread_mutex_lock(&td->vcpu_lock);
	HASH_FIND(hh, td->vcpus, &tdvpr, sizeof(tdvpr), v);
	pthread_mutex_unlock(&td->vcpu_lock);
	return v;
}

/*
 * The vCPU of a TDVPR page, for calls made outside a SEAMCALL (TDCALL,
 * kick, queries): the page's PAMT entry names the owner TD.
 */
struct td_vcpu *vcpu_by_tdvpr(struct tdxsim *sim, u64 tdvpr)
{
	struct pamt_entry *e;
	struct td *td;

	if (tdvpr & (PAGE_SIZE - 1) || !mem_in_tdmr(sim, tdvpr) ||
	    pamt_leaf_level(sim, tdvpr) != TDX_PS_4K)
		return NULL;
	e = pamt_entry_at(sim, tdvpr, TDX_PS_4K);
	if (__atomic_load_n(&e->pt, __ATOMIC_ACQUIRE) != PT_TDVPR)
		return NULL;
	td = td_by_id(sim, e->owner);
	return td ? vcpu_find(td, tdvpr) : NULL;
}

/*
 * The TDVPR operand (check_and_lock_explicit_4k_private_hpa): address
 * checks, its PAMT entry locked (@t) and PT_TDVPR, then the owner TDR locked
 * (@tdr_lock: the implicit TDR lock, operand TDR).  Sets c->td and *vp (NULL
 * if the vCPU is unknown).
 */
static u64 vcpu_lock_tdvpr(struct seamcall_ctx *c, u64 tdvpr, u32 operand, enum lock_type t,
			   enum lock_type tdr_lock, struct td_vcpu **vp)
{
	struct pamt_locked *pl;
	struct td *td;
	u64 err;

	err = hpa_check_operand(c, tdvpr, PAGE_SIZE, operand);
	if (err)
		return err;
	err = ctx_pamt_lock_page(c, tdvpr, TDX_PS_4K, t, operand, &pl);
	if (err)
		return err;
	if (pl->level != TDX_PS_4K || pl->e->pt != PT_TDVPR)
		return api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, operand);
	td = td_by_id(c->sim, pl->e->owner);
	err = td_lock_tdr_implicit(c, td->tdr_pa, TDX_OPERAND_ID_TDR, tdr_lock);
	if (err)
		return err;
	*vp = vcpu_find(td, tdvpr);
	return TDX_SUCCESS;
}

/*
 * TDH.VP.ADDCX: RCX = TDVPX page, RDX = TDVPR (tdh_vp_addcx.c).  Only before
 * TDH.VP.INIT; at most MAX_TDVPS_PAGES - 1 TDVPX pages.  The page becomes
 * PT_TDCX, a child of the TD.
 */
u64 leaf_tdh_vp_addcx(struct seamcall_ctx *c)
{
	u64 page = c->args->rcx;
	struct td_vcpu *v;
	u64 err;

	err = vcpu_lock_tdvpr(c, c->args->rdx, TDX_OPERAND_ID_RDX, TDX_LOCK_EXCLUSIVE,
			      TDX_LOCK_SHARED, &v);
	if (err)
		return err;
	err = td_check_keys(c);
	if (err)
		return err;
	err = td_lock_op_state(c, OPS(INITIALIZED) | OPS(STATE_IMPORT));
	if (err)
		return err;
	if (!v)
		return TDX_VCPU_STATE_INCORRECT;
	/* [MDP] reports the vCPU state as the operand. */
	if (v->state != VCPU_UNINITIALIZED)
		return api_error_with_operand_id(TDX_VCPU_STATE_INCORRECT, v->state);
	if (v->num_tdvps_pages >= MAX_TDVPS_PAGES)
		return TDX_TDCX_NUM_INCORRECT;
	err = ctx_pamt_check_free_page(c, page, TDX_PS_4K, TDX_OPERAND_ID_RCX, NULL);
	if (err)
		return err;
	v->tdvpx_pa[v->num_tdvps_pages - 1] = page;
	__atomic_store_n(&v->num_tdvps_pages, v->num_tdvps_pages + 1, __ATOMIC_RELEASE);
	pamt_page_take(c, c->td, page, TDX_PS_4K, PT_TDCX);
	return TDX_SUCCESS;
}

/*
 * TDH.VP.INIT: RCX = TDVPR, RDX = the guest's initial RCX, R8 = x2APIC ID
 * (version 1, which also takes the TDR exclusive) (tdh_vp_init.c).  Needs
 * every TDVPX page (1 + nr_tdvpx_pages TDVPS pages); the vCPU becomes READY
 * and associated with the calling CPU (associate_vcpu_initial), so it needs
 * TDH.VP.FLUSH before TDH.MNG.VPFLUSHDONE even if it never entered.
 * TD_PARAMS is not modelled: there is no MAX_VCPUS limit.
 */
u64 leaf_tdh_vp_init(struct seamcall_ctx *c)
{
	u64 x2apic_id = c->args->r8;
	struct td_vcpu *v, *o, *tmp;
	struct td *td;
	u64 err;

	err = vcpu_lock_tdvpr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE,
			      c->version ? TDX_LOCK_EXCLUSIVE : TDX_LOCK_SHARED, &v);
	if (err)
		return err;
	err = td_check_keys(c);
	if (err)
		return err;
	err = td_lock_op_state(c, OPS(INITIALIZED));
	if (err)
		return err;
	td = c->td;
	if (!v)
		return TDX_VCPU_STATE_INCORRECT;
	/* map_tdvps() fails before the state is looked at. */
	if (v->num_tdvps_pages < 1 + c->sim->cfg.nr_tdvpx_pages)
		return TDX_TDCX_NUM_INCORRECT;
	if (v->state != VCPU_UNINITIALIZED)
		return api_error_with_operand_id(TDX_VCPU_STATE_INCORRECT, v->state);
	if (c->version) {
		if (x2apic_id > 0xFFFFFFFFULL)
			return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_R8);
		/* Version 1 holds the TDR exclusive: no other VP.INIT runs. */
		pthread_mutex_lock(&td->vcpu_lock);
		HASH_ITER(hh, td->vcpus, o, tmp) {
			if (o->state == VCPU_READY && o->has_x2apic_id &&
			    o->x2apic_id == (u32)x2apic_id)
				break;
		}
		pthread_mutex_unlock(&td->vcpu_lock);
		if (o)
			return api_error_with_operand_id(TDX_X2APIC_ID_NOT_UNIQUE, (u32)x2apic_id);
		v->has_x2apic_id = true;
		v->x2apic_id = (u32)x2apic_id;
	}
	v->vcpu_index = __atomic_fetch_add(&td->num_vcpus, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&v->associated, true, __ATOMIC_RELEASE);
	__atomic_store_n(&v->state, VCPU_READY, __ATOMIC_RELEASE);
	seq_note(&td->seq, c->seq);
	return TDX_SUCCESS;
}

/*
 * TDH.VP.ENTER: RCX = TDVPR.  Only the epoch part: sample td_epoch under the
 * epoch lock (shared), count the vCPU in refcount[epoch & 1].
 */
u64 leaf_tdh_vp_enter(struct seamcall_ctx *c)
{
	u64 tdvpr = c->args->rcx & SEPTE_PFN_MASK;
	struct td_vcpu *v;
	struct td *td;
	u64 err;

	/*
	 * Bits 52 (host_recoverability_hint) and 53 (resume_l1) are flags the
	 * module accepts; tdxsim ignores them.  Bits 11:0 and 63:54 are reserved.
	 */
	if (c->args->rcx & ~(SEPTE_PFN_MASK | (3ULL << 52)))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RCX);
	err = vcpu_lock_tdvpr(c, tdvpr, TDX_OPERAND_ID_RCX, TDX_LOCK_SHARED, TDX_LOCK_SHARED, &v);
	if (err)
		return err;
	td = c->td;
	err = td_check_keys(c);
	if (err)
		return err;
	err = td_lock_op_state(c, OPS(RUNNABLE) | OPS(LIVE_EXPORT) | OPS(LIVE_IMPORT));
	if (err)
		return err;
	if (!v)
		return TDX_VCPU_STATE_INCORRECT;
	/* tdh_vp_enter.c: map_tdvps(), then check_and_associate_vcpu() wants READY. */
	if (v->num_tdvps_pages < 1 + c->sim->cfg.nr_tdvpx_pages)
		return TDX_TDCX_NUM_INCORRECT;
	if (__atomic_load_n(&v->state, __ATOMIC_ACQUIRE) != VCPU_READY ||
	    __atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE))
		return TDX_VCPU_STATE_INCORRECT;
	if (!ctx_td_try_lock(c, &td->epoch_lock, TDX_LOCK_SHARED, TDXSIM_HOOK_LOCK_EPOCH,
			     TDX_OPERAND_ID_TD_EPOCH))
		return api_error_with_operand_id(TDX_OPERAND_BUSY, TDX_OPERAND_ID_TD_EPOCH);
	v->vcpu_epoch = __atomic_load_n(&td->td_epoch, __ATOMIC_ACQUIRE);
	__atomic_fetch_add(&td->refcount[v->vcpu_epoch & 1], 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&v->in_guest, (u8)(1 + (v->vcpu_epoch & 1)), __ATOMIC_RELEASE);
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
	struct td_vcpu *v;
	u64 err;

	err = vcpu_lock_tdvpr(c, c->args->rcx, TDX_OPERAND_ID_RCX, TDX_LOCK_EXCLUSIVE,
			      TDX_LOCK_SHARED, &v);
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
static bool vcpu_td_exit(struct td_vcpu *v)
{
	u8 slot = __atomic_exchange_n(&v->in_guest, 0, __ATOMIC_ACQ_REL);

	if (!slot)
		return false;
	__atomic_fetch_sub(&v->td->refcount[slot - 1], 1, __ATOMIC_ACQ_REL);
	return true;
}

void trace_td_exit(struct td_vcpu *v, u32 exit_reason)
{
	struct tdxsim_trace_event ev = {
		.seq = tdxsim_seq(v->sim), .ts_ns = trace_now_ns(v->sim),
		.cpu = tdxsim_cpu_current(v->sim), .type = TDXSIM_EV_TD_EXIT, .fault_rule = -1,
		.tdvpr = v->tdvpr_pa, .exit_reason = exit_reason,
	};

	trace_emit(v->sim, &ev);
}

int tdxsim_vp_exit(struct tdxsim *sim, u64 tdvpr_pa)
{
	struct td_vcpu *v = vcpu_by_tdvpr(sim, tdvpr_pa);

	if (!v)
		return -EINVAL;
	if (vcpu_td_exit(v) && unlikely(sim_tracing(sim)))
		trace_td_exit(v, 0);
	return 0;
}

bool tdxsim_vp_in_guest(struct tdxsim *sim, u64 tdvpr_pa)
{
	struct td_vcpu *v = vcpu_by_tdvpr(sim, tdvpr_pa);

	return v && __atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE) != 0;
}

int tdxsim_vp_last_exit(struct tdxsim *sim, u64 tdvpr_pa, struct tdxsim_td_exit *exit)
{
	struct td_vcpu *v = vcpu_by_tdvpr(sim, tdvpr_pa);

	if (!v)
		return -EINVAL;
	*exit = v->last_exit;
	return 0;
}

int tdxsim_vp_info(struct tdxsim *sim, u64 tdvpr_pa, struct tdxsim_vp_info *info)
{
	struct td_vcpu *v = vcpu_by_tdvpr(sim, tdvpr_pa);

	memset(info, 0, sizeof(*info));
	if (!v)
		return -EINVAL;
	info->tdr_pa = v->td->tdr_pa;
	info->initialized = __atomic_load_n(&v->state, __ATOMIC_ACQUIRE) == VCPU_READY;
	info->in_guest = __atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE) != 0;
	info->associated = __atomic_load_n(&v->associated, __ATOMIC_ACQUIRE);
	info->nr_tdvpx = __atomic_load_n(&v->num_tdvps_pages, __ATOMIC_ACQUIRE) - 1;
	memcpy(info->tdvpx_pa, v->tdvpx_pa, info->nr_tdvpx * sizeof(u64));
	info->vcpu_index = info->initialized ? v->vcpu_index : 0;
	return 0;
}

int tdxsim_td_vcpus(struct tdxsim *sim, u64 tdr_pa, u64 *tdvpr, size_t max)
{
	struct td *td = td_by_tdr(sim, tdr_pa);
	struct td_vcpu *v, *tmp;
	size_t n = 0;

	if (!td)
		return -EINVAL;
	pthread_mutex_lock(&td->vcpu_lock);
	HASH_ITER(hh, td->vcpus, v, tmp) {
		struct pamt_entry *e = pamt_entry_at(sim, v->tdvpr_pa, TDX_PS_4K);

		/* A TDVPR reclaimed at teardown is no longer a vCPU of the TD. */
		if (pamt_leaf_level(sim, v->tdvpr_pa) != TDX_PS_4K ||
		    __atomic_load_n(&e->pt, __ATOMIC_ACQUIRE) != PT_TDVPR || e->owner != td->id)
			continue;
		if (n < max)
			tdvpr[n] = v->tdvpr_pa;
		n++;
	}
	pthread_mutex_unlock(&td->vcpu_lock);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* Record the exit and leave the guest: tdxsim_tdcall() returns TD_EXIT. */
u64 vcpu_exit_to_host(struct td_vcpu *v, const struct tdxsim_td_exit *exit)
{
	v->last_exit = *exit;
	vcpu_td_exit(v);
	return TDXSIM_TDCALL_TD_EXIT;
}

/* TDCALL handlers by leaf number; names and versions are in the leaf table. */
static u64 (*const tdcall_handlers[TDX_NR_LEAVES])(struct seamcall_ctx *c,
						    struct td_vcpu *v) = {
	[TDG_MEM_PAGE_ACCEPT] = leaf_tdg_mem_page_accept,
};

u64 tdxsim_tdcall(struct tdxsim *sim, u64 tdvpr_pa, u64 rax, struct tdx_module_args *args)
{
	unsigned int leaf = rax & TDX_LEAF_MASK;
	unsigned int version = (rax >> TDX_VERSION_SHIFT) & TDX_VERSION_MASK;
	const struct tdxsim_leaf_info *info = tdxsim_tdcall_leaf_info(leaf);
	struct td_vcpu *v = vcpu_by_tdvpr(sim, tdvpr_pa);
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
	if (!v || !__atomic_load_n(&v->in_guest, __ATOMIC_ACQUIRE))
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
