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
 *
 * Invariants about a transition rather than a state (I3 per split, I7b,
 * I8-I12, I15, I19) and the provenance ledger's (I4) are recorded inline,
 * when they break, and reported by the next kvm_tdx_check().  What is not
 * checked, and why: I18 is the checker's own rule (agreement is not
 * compared once the VM is bugged; skipped_agreement says so); I8's
 * "remove_external_spte only while the HKID is assigned" does not hold in
 * this model by design (after the release the leaves come back by RECLAIM
 * through the remove hook, as the kernel's tdx_sept_remove_private_spte
 * does); I12's "after BLOCK and TRACK in the current epoch" is the
 * module's own check (DEMOTE refuses otherwise: TDX_TLB_TRACKING_NOT_DONE,
 * and the VM is bugged); I15's split-cache lock and disallow_lpage writes
 * are held by construction and asserted by lockdep, not recorded; I19's
 * "a failed split leaves the failing memslot's attributes unchanged" holds
 * by construction (the store follows every pre-set).
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
	/* The provenance ledger (I4), recorded when the page moves: */
	KVM_INV_DOUBLE_FREE,	/* I4: a page freed twice */
	KVM_INV_WRONG_POOL,	/* I4: freed to another pool, or by a freer not of its pool */
	KVM_INV_FREED_OWNED,	/* I4: freed (or cached) while the module owns it */
	KVM_INV_BALANCE,	/* I4: at teardown, a page neither freed nor leaked on purpose */
	/* Recorded inline, at the call that breaks them: */
	KVM_INV_SPLIT_DEQUEUE,	/* I3: split from a short cache, or too many used */
	KVM_INV_PRECISE_ZAP,	/* I7b: a page outside a conversion changed */
	KVM_INV_LEAVES_FIRST,	/* I8: table freed before its leaves, or live */
	KVM_INV_SHARED_SPLIT,	/* I9: split/zap under the shared mmu_lock */
	KVM_INV_MERGE,		/* I10: a mirror table replaced by a leaf */
	KVM_INV_TRANSITION,	/* I11: a mirror transition outside spec table 4.2 */
	KVM_INV_SPLIT_SHAPE,	/* I12: a split not into 512 inherited 4K leaves */
	KVM_INV_LOCK,		/* I15: a hook or cache op without the lock it needs */
	KVM_INV_RETURN,		/* I19: a split/convert path returned a positive value */
	KVM_INV_MODULE,		/* the module's own checker (tdxsim_check) */
	KVM_INV_NR,
};

struct kvm_check_violation {
	enum kvm_check_inv what;
	gfn_t gfn;		/* first GFN concerned, or ~0 */
	int level;		/* PG_LEVEL_* of the entry, or 0 */
	u64 hpa;		/* physical page concerned, or 0 */
	u64 spte;		/* the mirror's raw SPTE, or 0 */
	/*
	 * The trace sequence number (tdxsim_seq(), the trace events' .seq) of
	 * the SEAMCALL that broke it.  Recorded inline: the last call made
	 * when it was recorded.  Found by a scan: the last SEAMCALL that
	 * named the GFN or the page (sim/tdx's wrappers, or failing that the
	 * trace ring, tdxsim_trace_ring()); 0 when no call touched them (a
	 * corruption of KVM's own state).
	 */
	u64 seq;
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

/*
 * ---- the provenance ledger (spec §5 I4) ----
 *
 * Every simulated page sim/kvm and sim/tdx allocate is recorded, per
 * simulator (tdxsim_client_data), with its pool (enum kvm_page_pool) and
 * the function that allocated it; then each move: into a cache, out of
 * it, to the module (SEPT.ADD, AUG, DEMOTE, PAMT.ADD) and back (REMOVE,
 * RECLAIM, PAMT.REMOVE), leaked on purpose, freed and by whom.  A double
 * free, a page put into or freed from a pool it did not come from, a free
 * of a page the module owns are recorded as they happen and reported by
 * kvm_tdx_check() (KVM_INV_DOUBLE_FREE, _WRONG_POOL, _FREED_OWNED).
 * Without a current simulator (tdxsim_kernel_current()) nothing is
 * recorded.  Thread-safe (one mutex per simulator).
 */
enum kvm_page_state {
	KVM_PAGE_LIVE,		/* the host's: KVM uses it (an sp's external_spt, a folio) */
	KVM_PAGE_CACHED,	/* in one of the model's caches */
	KVM_PAGE_MODULE,	/* given to the module by a SEAMCALL */
	KVM_PAGE_LEAKED,	/* KVM gave it up: the module may still own it */
	KVM_PAGE_FREED,
};

struct kvm_page_provenance {
	u64 hpa;
	enum kvm_page_pool pool;	/* where it came from */
	enum kvm_page_state state;
	const char *allocator;		/* function that allocated it */
	const char *freer;		/* function that freed it, NULL while not freed */
	const char *last;		/* function of its last move */
	u64 alloc_seq, free_seq;	/* tdxsim_seq() then */
	u64 last_seq;			/* the last SEAMCALL that named the page */
	gfn_t gfn;			/* the GFN it served (table, leaf, pair), or ~0 */
	int level;			/* PG_LEVEL_* of that use, 0 if none */
};

/* "split-cache", "mmu-cache", ...; NULL if out of range. */
const char *kvm_page_pool_name(enum kvm_page_pool pool);
/* The pool named @name (kvm_page_pool_name's, "sept-page" too), or -EINVAL. */
int kvm_page_pool_lookup(const char *name);
const char *kvm_page_state_name(enum kvm_page_state state);

/* The page at @hpa (any address in it) on @sim: 0, or -ENOENT (never recorded). */
int kvm_page_provenance(struct tdxsim *sim, u64 hpa, struct kvm_page_provenance *p);
/*
 * The page that served @gpa in @pool (KVM_POOL_NR: any pool): the guest
 * page guest_memfd has for it (@kvm non-NULL; a VMM reported the folio
 * with kvm_prov_note), else of the model's own pages the one moved last
 * that served it: an S-EPT page of a table covering it, a PAMT pair
 * DEMOTE installed for its 2M range.  For the scenario language's `expect provenance GPA pool=...
 * freed-by=...`.  0, or -ENOENT.
 */
int kvm_gpa_provenance(struct tdxsim *sim, struct kvm *kvm, u64 gpa, enum kvm_page_pool pool,
		       struct kvm_page_provenance *p);

/* Per pool: pages allocated, freed, still held (live, cached, module), leaked. */
struct kvm_prov_balance {
	unsigned long allocated[KVM_POOL_NR];
	unsigned long freed[KVM_POOL_NR];
	unsigned long held[KVM_POOL_NR];
	unsigned long leaked[KVM_POOL_NR];
};
/*
 * The balance of @sim's ledger.  At teardown (every VM destroyed, guest
 * memory freed) a page still held is a leak nobody chose: returns the
 * number of such pages, each also recorded once as KVM_INV_BALANCE (see
 * kvm_check_ledger_violations()).  @b may be NULL.
 */
long kvm_prov_balance(struct tdxsim *sim, struct kvm_prov_balance *b);

/*
 * Violations the ledger and the inline checks recorded on @sim for @kvm
 * (NULL: all), appended to @rep (which may be NULL); returns their count.
 * kvm_tdx_check() includes them.  kvm_check_ledger_reset() forgets them
 * (a test that broke an invariant on purpose).
 */
int kvm_check_ledger_violations(struct tdxsim *sim, struct kvm *kvm,
				struct kvm_check_report *rep);
/*
 * The same for a VM by its kvm->check_id, which stays valid after
 * tdxsim_kvm_destroy(): a VM's violations outlive it (an `expect invariants
 * hold` after teardown still sees them).  -EINVAL for id 0.
 */
int kvm_check_ledger_violations_of(struct tdxsim *sim, u64 check_id,
				   struct kvm_check_report *rep);
void kvm_check_ledger_reset(struct tdxsim *sim);

/*
 * What the model reports to the ledger (sim/kvm, sim/tdx, and a VMM for
 * its guest memory).  @hpa: first byte, @npages 4K pages; @fn: the
 * caller (__func__).  An allocation of more than one page (a guest folio)
 * is followed as one range; a 4K page the model did not allocate is not
 * followed at all.  No-ops without a current simulator.
 */
enum kvm_prov_event {
	KVM_PROV_ALLOC,		/* allocated for @pool */
	KVM_PROV_CACHE_PUT,	/* into a cache of @pool */
	KVM_PROV_CACHE_TAKE,	/* out of its cache, to be used */
	KVM_PROV_TO_MODULE,	/* a SEAMCALL gave it to the module (for @gfn/@level) */
	KVM_PROV_FROM_MODULE,	/* a SEAMCALL gave it back */
	KVM_PROV_LEAK,		/* KVM gave it up on purpose */
	KVM_PROV_FREE,
	KVM_PROV_ASSOC,		/* it serves @gfn/@level (a pair DEMOTE installed) */
};
void kvm_prov_note(enum kvm_prov_event ev, u64 hpa, unsigned long npages,
		   enum kvm_page_pool pool, gfn_t gfn, int level, const char *fn);
/* The same for a direct-map pointer (an external_spt); a no-op without a simulator. */
void kvm_prov_note_virt(enum kvm_prov_event ev, const void *addr, enum kvm_page_pool pool,
			const char *fn);
/*
 * I8: sim/tdx counts the mapped entries (4K units) under each S-EPT table
 * of the TD whose TDR is at @tdr_pa: +n when SEPT.ADD/AUG/DEMOTE map at
 * (@gfn, @level), -n when REMOVE or RECLAIM take them back;
 * kvm_check_mapped_children() is the count of the table holding entries
 * of @level around @gfn.
 */
void kvm_check_note_mapped(u64 tdr_pa, gfn_t gfn, int level, long delta);
long kvm_check_mapped_children(u64 tdr_pa, gfn_t gfn, int level);
/*
 * ---- inline checks (sim/check/inline.c), called by sim/kvm ----
 * Each records what it finds (kvm_check_record); none changes anything.
 * A VMM's own paths may call them too (a punch hole: kvm_check_zap_begin
 * before its split and zap, kvm_check_zap_end after).
 */
/* I9, I10, I11, I15 for a mirror SPTE change; from handle_changed_spte. */
void kvm_check_spte_change(struct kvm *kvm, gfn_t gfn, int level, u64 old_spte, u64 new_spte,
			   bool shared);
/* I12 after a mirror split of @huge_spte at @level into @sp succeeded. */
void kvm_check_split_done(struct kvm *kvm, gfn_t gfn, int level, u64 huge_spte,
			  struct kvm_mmu_page *sp);
/*
 * I7b around a private->shared conversion or a punch hole of [start, end):
 * begin snapshots the S-EPT leaves of the 2M blocks around the range (NULL:
 * nothing to check: no simulator, HKID gone, VM bugged, or no memory);
 * end compares, given the operation's return value (inside the range only
 * checked on success), and frees the snapshot.  Callers hold no mmu_lock.
 */
struct kvm_zap_check;
struct kvm_zap_check *kvm_check_zap_begin(struct kvm *kvm, gfn_t start, gfn_t end);
void kvm_check_zap_end(struct kvm_zap_check *zc, int ret);
/* I19: records a positive @ret of @fn; returns @ret. */
int kvm_check_return(struct kvm *kvm, const char *fn, int ret);

/* A SEAMCALL sim/tdx just made, for the seq of violations: its GPA (or ~0) and page (or 0). */
void kvm_check_note_seamcall(u64 gpa, int tdx_level, u64 hpa, int hpa_tdx_level);
/*
 * An inline check failed: record @what for @kvm with the seq of the last
 * call.  printf-style @fmt.
 */
void kvm_check_record(struct kvm *kvm, enum kvm_check_inv what, gfn_t gfn, int level,
		      u64 hpa, u64 spte, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

#pragma GCC visibility pop

#endif /* TDXSIM_KVM_CHECK_H */
