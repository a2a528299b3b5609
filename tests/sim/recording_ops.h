/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test double for the MMU's backend boundary: a struct kvm_x86_ops whose
 * hooks record each call (hook, gfn, level, old/new SPTE, page, shared) and
 * keep a shadow "external tree" of what the calls built, so a test can check
 * the order of calls and that mirror and external tree agree.  It is NOT
 * KVM's TDX backend (sim/tdx/, which issues SEAMCALLs): it only records, can
 * be told to fail one call, and refuses a split under the shared mmu_lock as
 * TDX does (spec §2.10).  Thread-safe (one mutex).
 */
#ifndef TDXSIM_TESTS_RECORDING_OPS_H
#define TDXSIM_TESTS_RECORDING_OPS_H

#include <pthread.h>

#include <tdxsim-kvm/tdp_mmu.h>

enum rec_hook {
	REC_LINK,		/* link_external_spt */
	REC_SET,		/* set_external_spte */
	REC_SPLIT,		/* split_external_spte */
	REC_REMOVE,		/* remove_external_spte */
	REC_FREE,		/* free_external_spt */
	REC_TOPUP_SPLIT,	/* topup_external_per_vm_split_cache */
	REC_NR,
};

struct rec_call {
	enum rec_hook hook;
	gfn_t gfn;
	int level;
	u64 old_spte;
	u64 new_spte;
	void *page;		/* external_spt / new_external_spt */
	bool shared;
	int ret;
};

#define REC_MAX_CALLS	8192

struct rec_ext_entry;

struct rec_backend {
	pthread_mutex_t lock;
	struct rec_call calls[REC_MAX_CALLS];
	int ncalls;
	int nhook[REC_NR];

	/* Fail the @fail_nth-th (1-based) call of @fail_hook with @fail_err. */
	enum rec_hook fail_hook;
	int fail_nth;
	int fail_err;

	/* Per-VM split cache stand-in: cnt pages, need_topup while cnt < min. */
	int split_cache_cnt;
	int split_cache_min;
	int split_cache_topup_err;	/* topup returns this instead of filling */

	/* get_zeroed_page(): fail the Nth call (1-based, 0 = never). */
	int page_fail_nth;
	int page_allocs;
	long pages_alive;

	int max_mapping_level;		/* gmem_max_mapping_level; 0 = no limit */

	/* Called, unlocked, inside a hook before it records (a race is parked here). */
	void (*in_hook)(struct rec_backend *rec, enum rec_hook hook, gfn_t gfn, int level);
	void *in_hook_arg;

	/* The external tree the calls built, and the rules they broke. */
	struct rec_ext_entry *ext;
	void *module_owned[64];		/* free_external_spt failed: the "module" keeps it */
	int nmodule_owned;
	int violations;
	char first_violation[256];
};

extern const struct kvm_x86_ops rec_x86_ops;
/* The upstream funnel over the same recording: calls are recorded by what they do. */
extern const struct kvm_x86_ops_upstream rec_upstream_ops;
extern const struct kvm_page_ops rec_page_ops;

/* Which design rec_create_vm()/rec_config() give (the test binary sets it). */
extern enum kvm_mmu_design rec_design;
/* Defect switches rec_config() passes on (0: none). */
extern unsigned int rec_defects;
struct tdxsim_kvm_config rec_config(struct rec_backend *rec);

void rec_init(struct rec_backend *rec);
void rec_fini(struct rec_backend *rec);
/* A TDX-like VM on @rec with one private slot of @npages at @base_gfn. */
struct kvm *rec_create_vm(struct rec_backend *rec, gfn_t base_gfn, unsigned long npages);
void rec_reset_calls(struct rec_backend *rec);
const char *rec_hook_name(enum rec_hook hook);
/* Mirror vs recorded external tree: 0, or the number of disagreements (first in @why). */
int rec_check_agreement(struct kvm *kvm, struct rec_backend *rec, char *why, size_t len);
/* Number of mirror SPTEs under the root that are FROZEN or raw 0. */
int rec_count_spte(struct kvm *kvm, u64 value);

#endif
