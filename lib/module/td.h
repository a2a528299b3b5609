/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TD control structures (td.c): TDR/TDCS state, epochs, vCPUs (TDVPS).
 */
#ifndef TDXSIM_MODULE_TD_H
#define TDXSIM_MODULE_TD_H

#include "sept.h"

struct seamcall_ctx;

/* --------------------------------------------------------------------------
 * TD control structures (TDR + TDCS).
 */
enum td_lifecycle {
	TD_HKID_ASSIGNED = 0,
	TD_KEYS_CONFIGURED = 1,
	TD_BLOCKED = 2,
	TD_TEARDOWN = 3,
};

enum td_op_state {
	OP_STATE_UNINITIALIZED = 0,
	OP_STATE_INITIALIZED = 1,
	OP_STATE_RUNNABLE = 2,
	OP_STATE_LIVE_EXPORT = 3,
	OP_STATE_PAUSED_EXPORT = 4,
	OP_STATE_POST_EXPORT = 5,
	OP_STATE_MEMORY_IMPORT = 6,
	OP_STATE_STATE_IMPORT = 7,
	OP_STATE_POST_IMPORT = 8,
	OP_STATE_LIVE_IMPORT = 9,
	OP_STATE_FAILED_IMPORT = 10,
	OP_STATE_NR,
};

#define OPS(x)		(1U << OP_STATE_##x)

struct td_vcpu;

struct td {
	u16 id;
	u16 hkid;
	u64 tdr_pa;
	u8 lifecycle;
	u8 op_state;
	bool fatal;
	bool wbcache_pending;	/* VPFLUSHDONE done, CACHE.WB not yet */
	unsigned int nr_tdcx;
	u64 tdcx_pa[TDXSIM_MAX_TDCS_PAGES];
	u32 op_state_lock;
	u32 sept_lock;		/* secure_ept_lock */
	u32 epoch_lock;
	u64 chldcnt;		/* atomic */
	u64 td_epoch;		/* under epoch_lock */
	u32 refcount[2];	/* atomic: vCPUs in guest per epoch parity */
	unsigned int gpaw;
	int sept_levels;	/* 4 (GPAW 48) or 5 (GPAW 52): root holds level 3 or 4 */
	struct sept_page *root;
	/*
	 * Every table of the TD, root included.  A table RECLAIMed after
	 * KEY.FREEID stays here until the TD goes: the module no longer walks it.
	 */
	struct sept_page_list sept_pages;
	u64 seq;		/* last call that changed chldcnt/state */
	pthread_mutex_t vcpu_lock;	/* protects the vcpu list (bookkeeping) */
	struct td_vcpu *vcpus;		/* uthash by tdvpr_pa */
	u32 num_vcpus;			/* TDCS num_vcpus: vCPUs past TDH.VP.INIT */
};

/* TDVPS.management.state (tdx_tdvps.h): only the two states the host sees. */
#define VCPU_UNINITIALIZED	0x0
#define VCPU_READY		0x2

/* TDVPS pages, TDVPR included (tdx_tdvps.h tdvps_pages_e). */
#define MAX_TDVPS_PAGES		15

/*
 * Module-side vCPU (TDVPS), found by its TDVPR page; lives until its TD is
 * freed (TDR reclaimed).  state, num_tdvps_pages and tdvpx_pa change under
 * the TDVPR's PAMT entry held exclusive (VP.ADDCX, VP.INIT).
 */
struct td_vcpu {
	struct tdxsim *sim;
	struct td *td;
	u64 tdvpr_pa;
	u8 state;		/* VCPU_UNINITIALIZED until TDH.VP.INIT */
	u8 num_tdvps_pages;	/* TDVPR + TDVPX pages */
	u64 tdvpx_pa[MAX_TDVPS_PAGES - 1];
	u32 vcpu_index;
	bool has_x2apic_id;	/* TDH.VP.INIT version 1 */
	u32 x2apic_id;
	/*
	 * Atomic: 0 outside the guest, else 1 + the parity of the epoch the
	 * vCPU counts in (td->refcount[]), so that an exit learns the slot to
	 * drop in the same exchange that takes the vCPU out: a kick from
	 * another thread must not read vcpu_epoch, which the vCPU's next
	 * TDH.VP.ENTER may be rewriting.
	 */
	u8 in_guest;
	bool associated;	/* atomic: initialised or entered since the last TDH.VP.FLUSH */
	u64 vcpu_epoch;
	struct tdxsim_td_exit last_exit;
	UT_hash_handle hh;
};

/* td.c / prologue.c */
struct td *td_by_tdr(struct tdxsim *sim, u64 tdr_pa);
struct td *td_by_id(struct tdxsim *sim, u16 id);
struct td *td_alloc(struct tdxsim *sim, u64 tdr_pa, u16 hkid);
void td_free(struct tdxsim *sim, struct td *td);
bool is_tlb_tracked(struct td *td, u32 bepoch);
bool td_tlb_tracking_required(const struct td *td);
void td_chldcnt_add(struct seamcall_ctx *c, struct td *td, s64 delta);
/* vp.c: the vCPU whose TDVPR page is @tdvpr_pa (unlocked, introspection), or NULL. */
struct td_vcpu *vcpu_by_tdvpr(struct tdxsim *sim, u64 tdvpr_pa);

#endif /* TDXSIM_MODULE_TD_H */
