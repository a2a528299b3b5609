// SPDX-License-Identifier: GPL-2.0-only
/*
 * The checker's inline half: invariants of spec kvm-model.md §5 that are
 * about a transition or a call, not a state, so no scan at a quiescent
 * point can see them (I7b, I9-I12, I19; I3's per-split part, I8 and I15
 * are checked where they happen, in sim/tdx).  sim/kvm calls these at the
 * points named below; each failure is recorded in the simulator's ledger
 * (kvm_check_record) with the seq of the last call, and kvm_tdx_check()
 * reports it.  Without a current simulator (the MMU's own tests against a
 * recording backend) nothing is checked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>

static bool checking(void)
{
	return tdxsim_kernel_current() != NULL;
}

/* A handle on the VM's TD for the module's lookups, if the S-EPT can be walked. */
static bool td_of(struct kvm *kvm, struct tdxsim_td *td)
{
	struct kvm_tdx *kvm_tdx;

	if (!checking() || !tdx_is_td_vm(kvm) || kvm->vm_bugged)
		return false;
	kvm_tdx = to_kvm_tdx(kvm);
	if (!is_hkid_assigned(kvm_tdx) || !kvm_tdx->td.tdr_page)
		return false;
	memset(td, 0, sizeof(*td));
	td->sim = tdxsim_kernel_current();
	td->tdr_pa = page_to_phys(kvm_tdx->td.tdr_page);
	return true;
}

static bool leaf_state(u8 state);

/* FROZEN_SPTE is a placeholder for "changing": as non-present here. */
static bool present(u64 spte)
{
	return is_shadow_present_pte(spte) && !is_frozen_spte(spte);
}

/*
 * I9-I11, I15 for one mirror SPTE change (handle_changed_mirror_spte).
 * Spec table 4.2: !present -> leaf or table on the atomic path; leaf ->
 * table (split); leaf or table -> !present under the write lock; never
 * table -> leaf (I10), never leaf -> another leaf (I11).
 */
void kvm_check_spte_change(struct kvm *kvm, gfn_t gfn, int level, u64 old_spte, u64 new_spte,
			   bool shared)
{
	bool op = present(old_spte), np = present(new_spte);
	bool ol = op && is_last_spte(old_spte, level), nl = np && is_last_spte(new_spte, level);

	if (!checking() || old_spte == new_spte || (!op && !np))
		return;
	if (!shared && !kvm_mmu_lock_held(kvm, false))
		kvm_check_record(kvm, KVM_INV_LOCK, gfn, level, 0, new_spte,
				 "non-atomic mirror write %#llx -> %#llx without the write lock",
				 (unsigned long long)old_spte, (unsigned long long)new_spte);
	if (op && !ol && nl)
		kvm_check_record(kvm, KVM_INV_MERGE, gfn, level, PFN_PHYS(spte_to_pfn(new_spte)),
				 new_spte, "mirror table at level %d replaced by a leaf (a merge)",
				 level);
	else if (op && np && (ol == nl))
		kvm_check_record(kvm, KVM_INV_TRANSITION, gfn, level,
				 PFN_PHYS(spte_to_pfn(new_spte)), new_spte,
				 "present %s %#llx replaced in place by %#llx",
				 ol ? "leaf" : "table", (unsigned long long)old_spte,
				 (unsigned long long)new_spte);
	else if (!np && shared)
		kvm_check_record(kvm, KVM_INV_SHARED_SPLIT, gfn, level,
				 PFN_PHYS(spte_to_pfn(old_spte)), old_spte,
				 "atomic zap of a mirror %s under the shared mmu_lock",
				 ol ? "leaf" : "table");
	else if (!op && !shared)
		kvm_check_record(kvm, KVM_INV_TRANSITION, gfn, level,
				 PFN_PHYS(spte_to_pfn(new_spte)), new_spte,
				 "non-atomic path maps a %s (only the atomic path may)",
				 nl ? "leaf" : "table");
}

/*
 * I12 after a mirror split that succeeded (tdp_mmu_split_huge_page): only
 * 2M -> 4K, only for a RUNNABLE TD; the 512 mirror children are present 4K
 * leaves with contiguous PFNs from the huge one; the S-EPT has the new
 * table as the 2M entry and 4K leaves of the same pages, PENDING or MAPPED
 * (sampled: its first and last entries; the full scan compares all).  The
 * two need not agree: a guest on another vCPU may ACCEPT one of them
 * right after the DEMOTE, mmu_lock or not.
 */
void kvm_check_split_done(struct kvm *kvm, gfn_t gfn, int level, u64 huge_spte,
			  struct kvm_mmu_page *sp)
{
	kvm_pfn_t pfn = spte_to_pfn(huge_spte);
	struct tdxsim_sept_info first = { 0 }, last = { 0 }, table = { 0 };
	struct tdxsim_td td;
	int i;

	if (!checking() || !sp || !is_mirror_sp(sp))
		return;
	if (level != PG_LEVEL_2M) {
		kvm_check_record(kvm, KVM_INV_SPLIT_SHAPE, gfn, level, PFN_PHYS(pfn), huge_spte,
				 "mirror split at level %d: TDX splits only 2M -> 4K", level);
		return;
	}
	if (tdx_is_td_vm(kvm) && to_kvm_tdx(kvm)->state != TD_STATE_RUNNABLE)
		kvm_check_record(kvm, KVM_INV_SPLIT_SHAPE, gfn, level, PFN_PHYS(pfn), huge_spte,
				 "split of a TD that is not RUNNABLE");
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		u64 c = sp->spt[i];

		if (!present(c) || !is_last_spte(c, PG_LEVEL_4K) || spte_to_pfn(c) != pfn + i) {
			kvm_check_record(kvm, KVM_INV_SPLIT_SHAPE, gfn + i, PG_LEVEL_4K,
					 PFN_PHYS(pfn + i), c,
					 "mirror child %d of the split is %#llx, not a 4K leaf of "
					 "pfn %#llx", i, (unsigned long long)c,
					 (unsigned long long)(pfn + i));
			return;
		}
	}
	if (!td_of(kvm, &td) || !sp->external_spt)
		return;
	if (tdxsim_sept_lookup_level(td.sim, &td, gfn << PAGE_SHIFT, TDX_PS_2M, &table) ||
	    table.leaf || table.hpa != page_to_phys(virt_to_page(sp->external_spt)) ||
	    tdxsim_sept_lookup_level(td.sim, &td, gfn << PAGE_SHIFT, TDX_PS_4K, &first) ||
	    tdxsim_sept_lookup_level(td.sim, &td, (gfn + 511) << PAGE_SHIFT, TDX_PS_4K, &last) ||
	    !first.leaf || !last.leaf || first.hpa != PFN_PHYS(pfn) ||
	    last.hpa != PFN_PHYS(pfn + 511) ||
	    !leaf_state(first.state) || !leaf_state(last.state))
		kvm_check_record(kvm, KVM_INV_SPLIT_SHAPE, gfn, level, PFN_PHYS(pfn), huge_spte,
				 "after the split the S-EPT has: 2M entry %s hpa %#llx state %#x; "
				 "4K entries 0 and 511: %s/%s state %#x/%#x",
				 table.leaf ? "leaf" : "table", (unsigned long long)table.hpa,
				 table.state, first.leaf ? "leaf" : "-", last.leaf ? "leaf" : "-",
				 first.state, last.state);
}

/* ---- I7b: a private->shared conversion or punch hole zaps precisely ---- */
struct zap_entry {
	gfn_t gfn;		/* first GFN of the S-EPT leaf */
	unsigned long npages;
	u64 hpa;
	u8 state;
};

struct kvm_zap_check {
	struct kvm *kvm;
	struct tdxsim_td td;
	gfn_t start, end;	/* the range converted */
	int nr, cap;
	struct zap_entry *e;
};

static bool leaf_state(u8 state)
{
	return state == SEPT_PUBLIC_PENDING || state == SEPT_PUBLIC_MAPPED;
}

/* The S-EPT leaf holding @gfn; else how many GFNs from @gfn on are unmapped. */
static bool sept_leaf(struct kvm_zap_check *zc, gfn_t gfn, struct zap_entry *out,
		      unsigned long *skip)
{
	struct tdxsim_sept_info si;
	unsigned long span;

	if (tdxsim_sept_lookup(zc->td.sim, &zc->td, gfn << PAGE_SHIFT, &si)) {
		*skip = 1;
		return false;
	}
	span = 1UL << (9 * si.level);
	if (!si.leaf || !leaf_state(si.state)) {
		*skip = span - (gfn & (span - 1));
		return false;
	}
	out->gfn = gfn & ~(gfn_t)(span - 1);
	out->npages = span;
	out->hpa = si.hpa;
	out->state = si.state;
	*skip = span - (gfn & (span - 1));
	return true;
}

struct kvm_zap_check *kvm_check_zap_begin(struct kvm *kvm, gfn_t start, gfn_t end)
{
	struct kvm_zap_check *zc;
	gfn_t gfn, lo = start & ~511ULL, hi = (end + 511) & ~511ULL;

	if (start >= end)
		return NULL;
	zc = calloc(1, sizeof(*zc));
	if (!zc)
		return NULL;
	if (!td_of(kvm, &zc->td)) {
		free(zc);
		return NULL;
	}
	zc->kvm = kvm;
	zc->start = start;
	zc->end = end;
	for (gfn = lo; gfn < hi;) {
		struct zap_entry e;
		unsigned long skip;

		if (sept_leaf(zc, gfn, &e, &skip)) {
			if (zc->nr == zc->cap) {
				int cap = zc->cap ? 2 * zc->cap : 64;
				struct zap_entry *n = realloc(zc->e, cap * sizeof(*n));

				if (!n) {
					free(zc->e);
					free(zc);
					return NULL;
				}
				zc->e = n;
				zc->cap = cap;
			}
			zc->e[zc->nr++] = e;
		}
		gfn += skip;
	}
	return zc;
}

/*
 * @ret: the operation's result.  Outside [start, end) every page mapped
 * before is mapped still, the same page in the same accept state (a huge
 * leaf crossing an edge may now be 4K leaves; PENDING may have become
 * MAPPED by a concurrent guest ACCEPT); after a success nothing inside is
 * mapped.  One violation per S-EPT leaf of the snapshot.  Other host
 * threads changing the same 2M blocks meanwhile (another conversion, a
 * zap) are not told apart from the operation: keep concurrent host
 * operations to blocks of their own.
 */
void kvm_check_zap_end(struct kvm_zap_check *zc, int ret)
{
	int i;

	if (!zc)
		return;
	for (i = 0; !zc->kvm->vm_bugged && i < zc->nr; i++) {
		struct zap_entry *e = &zc->e[i];
		gfn_t gfn = e->gfn, stop = e->gfn + e->npages;

		while (gfn < stop) {
			bool inside = gfn >= zc->start && gfn < zc->end;
			struct zap_entry now;
			unsigned long skip;
			bool mapped = sept_leaf(zc, gfn, &now, &skip);
			u64 want = e->hpa + ((gfn - e->gfn) << PAGE_SHIFT);
			u64 got = mapped ? now.hpa + ((gfn - now.gfn) << PAGE_SHIFT) : 0;

			if (inside) {
				if (mapped && !ret) {
					kvm_check_record(zc->kvm, KVM_INV_PRECISE_ZAP, gfn, 0, got,
							 0, "GFN %#llx inside the converted range "
							 "[%#llx, %#llx) is still mapped",
							 (unsigned long long)gfn,
							 (unsigned long long)zc->start,
							 (unsigned long long)zc->end);
					break;
				}
				gfn += skip;	/* past this leaf or hole */
				continue;
			}
			/*
			 * PENDING -> MAPPED is a guest's ACCEPT on another vCPU
			 * meanwhile (one way, the guest's own): not the zap's doing.
			 */
			if (!mapped || got != want ||
			    (now.state != e->state && !(e->state == SEPT_PUBLIC_PENDING &&
							now.state == SEPT_PUBLIC_MAPPED))) {
				kvm_check_record(zc->kvm, KVM_INV_PRECISE_ZAP, gfn, 0, want, 0,
						 "GFN %#llx outside the converted range [%#llx, "
						 "%#llx) was mapped (hpa %#llx state %#x), now %s "
						 "(hpa %#llx state %#x)", (unsigned long long)gfn,
						 (unsigned long long)zc->start,
						 (unsigned long long)zc->end,
						 (unsigned long long)want, e->state,
						 mapped ? "mapped" : "unmapped",
						 (unsigned long long)got, mapped ? now.state : 0);
				break;
			}
			gfn++;	/* outside: each 4K page (only the edge 2M blocks have any) */
		}
	}
	free(zc->e);
	free(zc);
}

/* I19: the split and conversion paths return 0 or a negative errno. */
int kvm_check_return(struct kvm *kvm, const char *fn, int ret)
{
	if (ret > 0 && checking())
		kvm_check_record(kvm, KVM_INV_RETURN, ~0ULL, 0, 0, 0,
				 "%s returned %d: 0 or a negative errno only", fn, ret);
	return ret;
}
