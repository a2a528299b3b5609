/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host invariant checker (sim/check/): a full scan of a TDX VM's mirror
 * root against the simulated module, the kernel's Dynamic-PAMT refcounts and
 * the per-VM split cache, at a quiescent point.  Each violation names the
 * invariant of spec kvm-model.md §5 it breaks (I1-I19), where (GFN, level,
 * HPA) and what both sides show.  The module's own checker, tdxsim_check(),
 * runs inside the same call (its violations come back as KVM_INV_MODULE).
 *
 * Thread safety: the VM must be quiescent: no fault, zap, split or SEAMCALL
 * in flight on it or on its simulator, and mmu_lock not held by anyone
 * (the checker reads without taking locks, as a debugger would).
 */
#ifndef TDXSIM_KVM_CHECK_H
#define TDXSIM_KVM_CHECK_H

#include <stdio.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim-kvm/kvm_host.h>

#pragma GCC visibility push(default)

/* What broke; kvm_check_inv_id() maps each to its I-number of spec §5. */
enum kvm_check_inv {
	KVM_INV_FOLIO,		/* I1: leaf larger than its folio, misaligned, or > 2M */
	KVM_INV_LPAGE,		/* I1: huge leaf where disallow_lpage's count forbids it */
	KVM_INV_SEPT,		/* I2: mirror entry and S-EPT entry differ */
	KVM_INV_SEPT_UNMIRRORED,	/* I2: S-EPT maps what the mirror does not */
	KVM_INV_SPLIT_CACHE,	/* I3: split cache count out of range or a page not free */
	KVM_INV_EXT_SPT,	/* I4: linked sp's external_spt not the module's PT_EPT page */
	KVM_INV_SP_LINK,	/* I4: SPTE points at a removed/inconsistent sp */
	KVM_INV_MODULE_ORPHAN,	/* I4: the TD owns a page no mirror entry refers to */
	KVM_INV_PAMT_REFCOUNT,	/* I5: kernel refcount != module's DPAMT count */
	KVM_INV_PAMT_PAIR,	/* I5: pair installed but refcount 0, or the reverse */
	KVM_INV_GUEST_INHIBIT,	/* I6: huge leaf where GUEST_INHIBIT is set */
	KVM_INV_MIXED,		/* I7a: huge leaf across a private/shared boundary or MIXED */
	KVM_INV_SPT_CONTENT,	/* I13: raw entry neither present nor SHADOW_NONPRESENT_VALUE */
	KVM_INV_FROZEN,		/* I14: FROZEN_SPTE at a quiescent point */
	KVM_INV_STATS,		/* I16: kvm->stat.pages[] != present leaves */
	KVM_INV_SHARED_MAPPED,	/* I17: a shared GFN mapped in the mirror root */
	KVM_INV_MODULE,		/* the module's own checker (tdxsim_check) */
	KVM_INV_NR,
};

struct kvm_check_violation {
	enum kvm_check_inv what;
	gfn_t gfn;		/* first GFN concerned, or ~0 */
	int level;		/* PG_LEVEL_* of the entry, or 0 */
	u64 hpa;		/* physical page concerned, or 0 */
	u64 spte;		/* the mirror's raw SPTE, or 0 */
	char msg[192];		/* both sides' view */
};

#define KVM_CHECK_REPORT_MAX	64
struct kvm_check_report {
	unsigned int nr;	/* violations found (may exceed KVM_CHECK_REPORT_MAX) */
	unsigned int count[KVM_INV_NR];	/* per invariant, all of them */
	/* The VM was bugged (I18): the mirror/module agreement checks were skipped. */
	bool skipped_agreement;
	struct kvm_check_violation v[KVM_CHECK_REPORT_MAX];
	struct tdxsim_report module;	/* tdxsim_check()'s own report */
};

/*
 * Check the TDX VM @kvm (tdx_x86_ops, kvm->priv a struct kvm_tdx) against
 * the thread's current simulator (tdxsim_kernel_current()), then run
 * tdxsim_check() on it.  With the HKID assigned the mirror and the S-EPT
 * must agree entry by entry; after tdx_mmu_release_hkid() only ownership is
 * compared (the S-EPT of a TD in teardown is not walked by the module).
 * Returns the number of violations (0: clean), or -EINVAL when @kvm is not
 * a TDX VM or there is no current simulator.  @rep may be NULL.
 * The VM must be quiescent (see above).
 */
int kvm_tdx_check(struct kvm *kvm, struct kvm_check_report *rep);

/* "I2", "I5", ... for @inv; "?" if out of range. */
const char *kvm_check_inv_id(enum kvm_check_inv inv);
/* A short name ("sept-mismatch"); "?" if out of range. */
const char *kvm_check_inv_name(enum kvm_check_inv inv);
/* One line per violation, then the module's report. */
void kvm_check_report_print(const struct kvm_check_report *rep, FILE *f);

#pragma GCC visibility pop

#endif /* TDXSIM_KVM_CHECK_H */
