/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The call context (seamcall.c) and the common prologue (prologue.c):
 * what one SEAMCALL or TDCALL has locked so far, and the leaf handlers.
 */
#ifndef TDXSIM_MODULE_CTX_H
#define TDXSIM_MODULE_CTX_H

#include "sim.h"

#define CTX_MAX_PAMT_LOCKS	4

/* Per-call context: who is calling and what has been locked so far. */
struct seamcall_ctx {
	struct tdxsim *sim;
	struct tdx_module_args *args;
	unsigned int leaf;
	unsigned int version;
	bool tdcall;
	int fault_rule;		/* rule that fired for this call, or -1 */
	unsigned int cpu;
	u64 seq;
	tdxsim_hook_fn hook;	/* the simulator's hook at entry, or NULL */
	void *hook_arg;
	struct td *td;
	struct pamt_locked tdr;		/* the TDR page's PAMT entry */
	bool op_locked;
	enum lock_type tree_lock;
	bool epoch_locked;		/* TRACK: td->epoch_lock held exclusive */
	u64 *locked_ep;			/* S-EPT entry holding our host lock */
	unsigned int npl;
	u64 gpa;
	int level;
	struct sept_walk walk;
	/*
	 * Last: ctx_init() does not clear it.  pl[i] for i >= npl is written
	 * whole by the lock that takes it, and nothing reads it before.
	 */
	struct pamt_locked pl[CTX_MAX_PAMT_LOCKS];	/* released in ctx_release() */
};

/*
 * max_level of the leaves that take any S-EPT level (SEPT.ADD/REMOVE,
 * BLOCK/UNBLOCK): the module checks their level against the TD's EPTP page-walk
 * length (eptp.ept_pwl: 3 for a 4-level S-EPT, 4 for a 5-level one).
 */
#define SEPT_LEVEL_PWL		(-1)

/* The common prologue of the TD-memory leaves (spec §2.1), per leaf. */
struct mem_prologue {
	bool td_handle_flags;	/* RDX carries flags (SEPT.ADD, DEMOTE) */
	enum lock_type tdr_lock;
	u32 op_states;		/* allowed op_states, OPS() mask */
	int min_level, max_level;	/* max_level SEPT_LEVEL_PWL: the TD's root level */
	enum lock_type tree_lock;
};
u64 td_lock_tdr(struct seamcall_ctx *c, u64 tdr_pa, u32 operand, enum lock_type t);
u64 td_lock_tdr_implicit(struct seamcall_ctx *c, u64 tdr_pa, u32 operand, enum lock_type t);
u64 td_check_keys(struct seamcall_ctx *c);
u64 td_lock_op_state(struct seamcall_ctx *c, u32 op_states);
u64 mem_prologue(struct seamcall_ctx *c, const struct mem_prologue *p, u64 page_info,
		 u64 td_handle);
u64 mem_walk_and_lock(struct seamcall_ctx *c, u32 allowed_states);
/*
 * The call's PAMT lock ledger: each lock taken goes into c->pl[] and is
 * released by ctx_release(); *out (if not NULL) is the entry locked.
 */
u64 ctx_pamt_check_free_page(struct seamcall_ctx *c, u64 pa, int level, u32 operand,
			     struct pamt_locked **out);
u64 ctx_pamt_lock_page(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
		       u32 operand, struct pamt_locked **out);
/* The same without a walk: the entry at @level only (pamt_lock_implicit()). */
u64 ctx_pamt_lock_implicit(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
			   u32 operand, struct pamt_locked **out);
#define SEPT_STATES(x)		(1U << SEPT_##x)
void ctx_release(struct seamcall_ctx *c);
u64 sept_error(struct seamcall_ctx *c, u64 status);
u32 sept_entry_bepoch(struct seamcall_ctx *c);

/* Leaf handlers: each returns the status; ctx_release() is called by the dispatcher. */
typedef u64 (*leaf_fn)(struct seamcall_ctx *c);
u64 leaf_tdh_mng_create(struct seamcall_ctx *c);
u64 leaf_tdh_mng_key_config(struct seamcall_ctx *c);
u64 leaf_tdh_mng_addcx(struct seamcall_ctx *c);
u64 leaf_tdh_mng_init(struct seamcall_ctx *c);
u64 leaf_tdh_mng_key_freeid(struct seamcall_ctx *c);
u64 leaf_tdh_mng_vpflushdone(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_cache_wb(struct seamcall_ctx *c);
u64 leaf_tdh_mr_finalize(struct seamcall_ctx *c);
u64 leaf_tdh_vp_create(struct seamcall_ctx *c);
u64 leaf_tdh_vp_enter(struct seamcall_ctx *c);
u64 leaf_tdh_vp_flush(struct seamcall_ctx *c);
u64 leaf_tdh_vp_addcx(struct seamcall_ctx *c);
u64 leaf_tdh_vp_init(struct seamcall_ctx *c);
u64 leaf_tdh_mem_sept_add(struct seamcall_ctx *c);
u64 leaf_tdh_mem_sept_remove(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_add(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_aug(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_demote(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_promote(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_remove(struct seamcall_ctx *c);
u64 leaf_tdh_mem_range_block(struct seamcall_ctx *c);
u64 leaf_tdh_mem_range_unblock(struct seamcall_ctx *c);
u64 leaf_tdh_mem_track(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_page_reclaim(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_page_wbinvd(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_pamt_add(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_pamt_remove(struct seamcall_ctx *c);
u64 leaf_tdg_mem_page_accept(struct seamcall_ctx *c, struct td_vcpu *vcpu);
u64 vcpu_exit_to_host(struct td_vcpu *v, const struct tdxsim_td_exit *exit);

/* Input registers are read first, then RCX/RDX are cleared (prologue step 1). */
static inline void ctx_clear_outputs(struct seamcall_ctx *c)
{
	c->args->rcx = 0;
	c->args->rdx = 0;
}

/* op_states of BLOCK, UNBLOCK, DEMOTE, PROMOTE (op_state_lookup). */
#define OPS_BLOCK_LIKE	(OPS(INITIALIZED) | OPS(RUNNABLE) | OPS(LIVE_EXPORT) |	\
			 OPS(PAUSED_EXPORT) | OPS(POST_EXPORT) | OPS(POST_IMPORT) |	\
			 OPS(LIVE_IMPORT))


/* seamcall.c */
void ctx_init(struct seamcall_ctx *c, struct tdxsim *sim, struct tdx_module_args *args,
	      unsigned int leaf, unsigned int version);
void ctx_finish(struct seamcall_ctx *c, u64 status);
void ctx_hook_call(struct seamcall_ctx *c, enum tdxsim_hook_point point, u64 status);
void ctx_hook_lock(struct seamcall_ctx *c, enum tdxsim_hook_lock lock, u32 operand, u64 pa,
		   u64 gpa, int level, enum lock_type t, bool acquired);
bool fault_inject(struct seamcall_ctx *c, unsigned int rule_leaf, u64 *status);
bool cpu_interrupt_pending(struct seamcall_ctx *c);
void stats_count(struct leaf_stats *ls, u64 status);

/*
 * The try-locks as a call takes them: the attempt, then the scheduling hook
 * (include/tdxsim/hook.h) with its outcome.  Without a hook, one branch.
 */

/* op_state, secure_ept_lock, epoch: the TD-wide sharex locks of c->td. */
static inline bool ctx_td_try_lock(struct seamcall_ctx *c, u32 *l, enum lock_type t,
				   enum tdxsim_hook_lock lock, u32 operand)
{
	bool ok = sharex_try_lock(l, t);

	if (unlikely(c->hook) && t != TDX_LOCK_NO_LOCK)
		ctx_hook_lock(c, lock, operand, c->td->tdr_pa,
			      lock == TDXSIM_HOOK_LOCK_SEPT_TREE ? c->gpa : 0,
			      lock == TDXSIM_HOOK_LOCK_SEPT_TREE ? c->level : -1, t, ok);
	return ok;
}

/* The PAMT entry of the @level page or range at @pa. */
static inline bool ctx_pamt_try_lock(struct seamcall_ctx *c, struct pamt_entry *e,
				     enum lock_type t, u64 pa, int level, u32 operand)
{
	bool ok = pamt_try_lock(e, t);

	if (unlikely(c->hook) && t != TDX_LOCK_NO_LOCK)
		ctx_hook_lock(c, TDXSIM_HOOK_LOCK_PAMT, operand, pa, 0, level, t, ok);
	return ok;
}

/* A PAMT walk's own shared hold of that entry made exclusive. */
static inline bool ctx_pamt_try_promote(struct seamcall_ctx *c, struct pamt_entry *e,
					u64 pa, int level, u32 operand)
{
	bool ok = pamt_try_promote(e);

	if (unlikely(c->hook))
		ctx_hook_lock(c, TDXSIM_HOOK_LOCK_PAMT, operand, pa, 0, level,
			      TDX_LOCK_EXCLUSIVE, ok);
	return ok;
}

/* The host side of the S-EPT entry lock of (@gpa, @level). */
static inline bool ctx_sept_lock_host(struct seamcall_ctx *c, u64 *ep, u64 gpa, int level,
				      u32 operand)
{
	bool ok = sept_lock_host(ep);

	if (unlikely(c->hook))
		ctx_hook_lock(c, TDXSIM_HOOK_LOCK_SEPT_ENTRY, operand, 0, gpa, level,
			      TDX_LOCK_EXCLUSIVE, ok);
	return ok;
}

#endif /* TDXSIM_MODULE_CTX_H */
