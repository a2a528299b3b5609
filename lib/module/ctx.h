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
	struct td *td;
	struct pamt_locked tdr;		/* the TDR page's PAMT entry */
	bool op_locked;
	enum lock_type tree_lock;
	bool epoch_locked;		/* TRACK: td->epoch_lock held exclusive */
	u64 *locked_ep;			/* S-EPT entry holding our host lock */
	unsigned int npl;
	struct pamt_locked pl[CTX_MAX_PAMT_LOCKS];	/* released in ctx_release() */
	u64 gpa;
	int level;
	struct sept_walk walk;
};

/* The common prologue of the TD-memory leaves (spec §2.1), per leaf. */
struct mem_prologue {
	bool td_handle_flags;	/* RDX carries flags (SEPT.ADD, DEMOTE) */
	enum lock_type tdr_lock;
	u32 op_states;		/* allowed op_states, OPS() mask */
	int min_level, max_level;
	enum lock_type tree_lock;
};
u64 td_lock_tdr(struct seamcall_ctx *c, u64 tdr_pa, u32 operand, enum lock_type t);
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
u64 leaf_tdg_mem_page_accept(struct seamcall_ctx *c, struct tdxsim_vcpu *vcpu);
u64 vcpu_exit_to_host(struct tdxsim_vcpu *v, const struct tdxsim_td_exit *exit);

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
/* The hook sees TDCALL leaves as leaf | TDXSIM_HOOK_TDCALL. */
#define TDXSIM_HOOK_TDCALL	0x10000U
void tdxsim_test_set_hold_hook(struct tdxsim *sim,
			       void (*fn)(void *arg, unsigned int leaf, u64 status), void *arg);
void ctx_init(struct seamcall_ctx *c, struct tdxsim *sim, struct tdx_module_args *args,
	      unsigned int leaf, unsigned int version);
void ctx_finish(struct seamcall_ctx *c, u64 status);
bool fault_inject(struct seamcall_ctx *c, unsigned int rule_leaf, u64 *status);
bool cpu_interrupt_pending(struct seamcall_ctx *c);
void stats_count(struct leaf_stats *ls, u64 status);

#endif /* TDXSIM_MODULE_CTX_H */
