// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host invariant checker: one pass over the mirror root of a TDX VM,
 * each entry compared with the simulated module (S-EPT, PAMT), then the
 * pages the TD owns against what the mirror refers to, the kernel's
 * per-2MB PAMT refcounts against the module's DPAMT counts, the per-VM
 * split cache, kvm->stat, and finally the module's own tdxsim_check().
 * Invariant numbers are those of spec kvm-model.md §5.  Only public
 * headers: the backend's state is read through <tdxsim-kvm/tdx.h>.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>

/* ledger.c: the seq a violation at (gfn, level, hpa) names. */
u64 kvm_check_seq_of(struct tdxsim *sim, gfn_t gfn, int level, u64 hpa);

static const struct {
	const char *id;
	const char *name;
} inv_names[KVM_INV_NR] = {
	[KVM_INV_FOLIO]			= { "I1", "leaf-vs-folio" },
	[KVM_INV_LPAGE]			= { "I1", "disallow-lpage" },
	[KVM_INV_SEPT]			= { "I2", "sept-mismatch" },
	[KVM_INV_SEPT_UNMIRRORED]	= { "I2", "sept-unmirrored" },
	[KVM_INV_SPLIT_CACHE]		= { "I3", "split-cache" },
	[KVM_INV_EXT_SPT]		= { "I4", "external-spt-owner" },
	[KVM_INV_SP_LINK]		= { "I4", "sp-link" },
	[KVM_INV_MODULE_ORPHAN]		= { "I4", "module-orphan" },
	[KVM_INV_PAMT_REFCOUNT]		= { "I5", "pamt-refcount" },
	[KVM_INV_PAMT_PAIR]		= { "I5", "pamt-pair" },
	[KVM_INV_GUEST_INHIBIT]		= { "I6", "guest-inhibit" },
	[KVM_INV_MIXED]			= { "I7a", "mixed-attributes" },
	[KVM_INV_SPT_CONTENT]		= { "I13", "spt-content" },
	[KVM_INV_FROZEN]		= { "I14", "frozen-spte" },
	[KVM_INV_STATS]			= { "I16", "stats" },
	[KVM_INV_SHARED_MAPPED]		= { "I17", "shared-mapped" },
	[KVM_INV_DOUBLE_FREE]		= { "I4", "double-free" },
	[KVM_INV_WRONG_POOL]		= { "I4", "wrong-pool" },
	[KVM_INV_FREED_OWNED]		= { "I4", "freed-while-owned" },
	[KVM_INV_BALANCE]		= { "I4", "ledger-balance" },
	[KVM_INV_SPLIT_DEQUEUE]		= { "I3", "split-dequeue" },
	[KVM_INV_PRECISE_ZAP]		= { "I7b", "precise-zap" },
	[KVM_INV_LEAVES_FIRST]		= { "I8", "leaves-before-parent" },
	[KVM_INV_SHARED_SPLIT]		= { "I9", "shared-lock-split" },
	[KVM_INV_MERGE]			= { "I10", "merge" },
	[KVM_INV_TRANSITION]		= { "I11", "illegal-transition" },
	[KVM_INV_SPLIT_SHAPE]		= { "I12", "split-shape" },
	[KVM_INV_LOCK]			= { "I15", "lock-precondition" },
	[KVM_INV_RETURN]		= { "I19", "return-code" },
	[KVM_INV_MODULE]		= { "module", "tdxsim_check" },
};

const char *kvm_check_inv_id(enum kvm_check_inv inv)
{
	return (unsigned int)inv < KVM_INV_NR ? inv_names[inv].id : "?";
}

const char *kvm_check_inv_name(enum kvm_check_inv inv)
{
	return (unsigned int)inv < KVM_INV_NR ? inv_names[inv].name : "?";
}

/* A page the mirror refers to (leaf or external_spt), by HPA. */
struct ref_page {
	u64 hpa;
	int tdx_level;		/* TDX_PS_* the mirror maps it at (S-EPT page: 4K) */
	UT_hash_handle hh;
};

struct check_ctx {
	struct kvm *kvm;
	struct kvm_tdx *kvm_tdx;
	struct tdxsim *sim;
	struct tdxsim_td td;	/* a handle for the lookups: only sim and tdr_pa */
	bool agree;		/* compare entry by entry (HKID assigned, not bugged) */
	struct kvm_check_report *rep;
	int nr;
	long pages[KVM_NR_PAGE_SIZES];
	struct ref_page *refs;
	bool nomem;
};

static void __attribute__((format(printf, 7, 8)))
report(struct check_ctx *c, enum kvm_check_inv what, gfn_t gfn, int level, u64 hpa, u64 spte,
       const char *fmt, ...)
{
	struct kvm_check_report *rep = c->rep;
	struct kvm_check_violation *v;
	va_list ap;

	c->nr++;
	if (!rep)
		return;
	rep->count[what]++;
	if (rep->nr++ >= KVM_CHECK_REPORT_MAX)
		return;
	v = &rep->v[rep->nr - 1];
	v->what = what;
	v->gfn = gfn;
	v->level = level;
	v->hpa = hpa;
	v->spte = spte;
	v->seq = kvm_check_seq_of(c->sim, gfn, level, hpa);
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
}

static void ref_add(struct check_ctx *c, u64 hpa, int tdx_level)
{
	struct ref_page *r;

	HASH_FIND(hh, c->refs, &hpa, sizeof(hpa), r);
	if (r)
		return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		c->nomem = true;
		return;
	}
	r->hpa = hpa;
	r->tdx_level = tdx_level;
	HASH_ADD(hh, c->refs, hpa, sizeof(r->hpa), r);
}

static struct ref_page *ref_find(struct check_ctx *c, u64 hpa)
{
	struct ref_page *r;

	HASH_FIND(hh, c->refs, &hpa, sizeof(hpa), r);
	return r;
}

static void refs_free(struct check_ctx *c)
{
	struct ref_page *r, *tmp;

	HASH_ITER(hh, c->refs, r, tmp) {
		HASH_DEL(c->refs, r);
		free(r);
	}
}

static u64 gfn_gpa(gfn_t gfn)
{
	return (u64)gfn << PAGE_SHIFT;
}

static bool sept_leaf_state_ok(u8 state)
{
	/*
	 * AUG'ed (PENDING) or accepted (MAPPED).  BLOCKED only lives between
	 * BLOCK and REMOVE/DEMOTE inside one write-locked operation, so at a
	 * quiescent point it is a mismatch (a failure there bugged the VM,
	 * and a bugged VM is not compared).
	 */
	return state == SEPT_PUBLIC_PENDING || state == SEPT_PUBLIC_MAPPED;
}

/* I1, I6, I7a, I17: the leaf against its folio, lpage_info and attributes. */
static void check_leaf_host(struct check_ctx *c, gfn_t gfn, int level, u64 spte)
{
	struct kvm *kvm = c->kvm;
	kvm_pfn_t pfn = spte_to_pfn(spte), fpfn;
	u64 npages = KVM_PAGES_PER_HPAGE(level), i;
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	bool shared_seen = false;
	int order;

	if (level > PG_LEVEL_2M)
		report(c, KVM_INV_FOLIO, gfn, level, PFN_PHYS(pfn), spte,
		       "leaf at level %d: TDX maps at most 2M", level);
	if (!slot || gfn + npages > slot->base_gfn + slot->npages) {
		report(c, KVM_INV_FOLIO, gfn, level, PFN_PHYS(pfn), spte,
		       "leaf not inside one memslot");
		return;
	}
	if (kvm_gmem_get_pfn(kvm, slot, gfn, &fpfn, &order)) {
		report(c, KVM_INV_FOLIO, gfn, level, PFN_PHYS(pfn), spte,
		       "no guest_memfd folio behind the leaf");
	} else if (fpfn != pfn) {
		report(c, KVM_INV_FOLIO, gfn, level, PFN_PHYS(pfn), spte,
		       "mirror maps pfn %#llx, guest_memfd has pfn %#llx",
		       (unsigned long long)pfn, (unsigned long long)fpfn);
	} else if ((u64)order < (u64)KVM_HPAGE_GFN_SHIFT(level) ||
		   (pfn & (npages - 1)) || (gfn & (npages - 1))) {
		report(c, KVM_INV_FOLIO, gfn, level, PFN_PHYS(pfn), spte,
		       "level %d leaf on a folio of order %d (pfn %#llx)", level, order,
		       (unsigned long long)pfn);
	}

	/* The mirror root maps private GFNs only; a huge leaf only uniform ones. */
	for (i = 0; i < npages && !shared_seen; i++)
		shared_seen = !kvm_mem_is_private(kvm, gfn + i);
	if (shared_seen) {
		if (level == PG_LEVEL_4K)
			report(c, KVM_INV_SHARED_MAPPED, gfn, level, PFN_PHYS(pfn), spte,
			       "shared GFN mapped in the mirror root");
		else
			report(c, KVM_INV_MIXED, gfn, level, PFN_PHYS(pfn), spte,
			       "huge leaf covers shared GFN %#llx",
			       (unsigned long long)(gfn + i - 1));
	}

	if (level > PG_LEVEL_4K && level <= KVM_MAX_HUGEPAGE_LEVEL) {
		unsigned int d = lpage_info_slot(gfn, slot, level)->disallow_lpage;
		unsigned int cnt = d & ~(KVM_LPAGE_MIXED_FLAG | KVM_LPAGE_GUEST_INHIBIT_FLAG);

		if (d & KVM_LPAGE_GUEST_INHIBIT_FLAG)
			report(c, KVM_INV_GUEST_INHIBIT, gfn, level, PFN_PHYS(pfn), spte,
			       "level %d leaf where the guest accepted below it", level);
		if (d & KVM_LPAGE_MIXED_FLAG)
			report(c, KVM_INV_MIXED, gfn, level, PFN_PHYS(pfn), spte,
			       "level %d leaf where lpage_info says MIXED", level);
		if (cnt)
			report(c, KVM_INV_LPAGE, gfn, level, PFN_PHYS(pfn), spte,
			       "level %d leaf, disallow_lpage count %u", level, cnt);
	}
}

/* I2 and I4 for a leaf: the module maps the same page at the same level. */
static void check_leaf_module(struct check_ctx *c, gfn_t gfn, int level, u64 spte)
{
	u64 hpa = PFN_PHYS(spte_to_pfn(spte));
	struct tdxsim_pamt_info pi;
	struct tdxsim_sept_info si;
	int ret;

	ref_add(c, hpa, level - 1);
	/*
	 * Owned by the TD as a guest page (I4) always; at the mirror's size
	 * (I2) unless the VM is bugged: a failed DEMOTE leaves the mirror at
	 * 4K over the module's 2M page (spec §6.2).
	 */
	if (tdxsim_pamt_lookup(c->sim, hpa, &pi) || pi.pt != PT_REG ||
	    pi.owner != c->td.tdr_pa || (!c->kvm->vm_bugged && pi.level != level - 1)) {
		report(c, KVM_INV_SEPT, gfn, level, hpa, spte,
		       "mirror leaf's page is not the TD's: PAMT pt %u level %d owner %#llx",
		       pi.pt, pi.level, (unsigned long long)pi.owner);
		return;
	}
	if (!c->agree)
		return;
	ret = tdxsim_sept_lookup_level(c->sim, &c->td, gfn_gpa(gfn), level - 1, &si);
	if (ret || !si.leaf || !sept_leaf_state_ok(si.state) || si.hpa != hpa)
		report(c, KVM_INV_SEPT, gfn, level, hpa, spte,
		       "mirror leaf, S-EPT %s: level %d state %#x leaf %d hpa %#llx",
		       ret ? "walk stops above" : "entry", si.level, si.state, si.leaf,
		       (unsigned long long)si.hpa);
}

/* I2: a non-present mirror entry has no S-EPT entry behind it. */
static void check_nonpresent_module(struct check_ctx *c, gfn_t gfn, int level)
{
	struct tdxsim_sept_info si;

	if (!c->agree)
		return;
	if (tdxsim_sept_lookup_level(c->sim, &c->td, gfn_gpa(gfn), level - 1, &si))
		return;		/* beyond the GPA width, or no table: nothing mapped */
	if (si.state == SEPT_PUBLIC_FREE)
		return;
	report(c, KVM_INV_SEPT_UNMIRRORED, gfn, level, si.hpa, 0,
	       "mirror non-present, S-EPT %s at level %d state %#x hpa %#llx",
	       si.leaf ? "leaf" : "table", si.level, si.state, (unsigned long long)si.hpa);
	/* Reported once: its page (or table) is not an orphan too. */
	if (si.hpa)
		ref_add(c, si.hpa, si.leaf ? si.level : TDX_PS_4K);
}

static bool sp_is_removed(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct kvm_mmu_page *r;

	for (r = kvm->rcu.first; r; r = r->rcu_next) {
		if (r == sp)
			return true;
	}
	return false;
}

static void check_table(struct check_ctx *c, struct kvm_mmu_page *sp, int depth);

/* I2, I4 for a non-leaf entry, then its table. */
static void check_nonleaf(struct check_ctx *c, struct kvm_mmu_page *sp, int idx, gfn_t gfn,
			  int level, u64 spte, int depth)
{
	struct kvm_mmu_page *child = spte_to_child_sp(spte);
	struct tdxsim_pamt_info pi;
	struct tdxsim_sept_info si;
	bool ext_ok = false;
	u64 ext_hpa = 0;
	int ret;

	if (!child) {
		report(c, KVM_INV_SP_LINK, gfn, level, 0, spte, "SPTE points at a table with no sp");
		return;
	}
	/*
	 * A removed sp's memory lives until the grace period (the write
	 * unlock), so it can still be read: report, then go on checking what
	 * it maps, one report for this cause.
	 */
	if (sp_is_removed(c->kvm, child))
		report(c, KVM_INV_SP_LINK, gfn, level, 0, spte,
		       "SPTE points at a removed (RCU-pending) sp");
	else if (child->ptep != &sp->spt[idx] || child->role.level != (unsigned int)level - 1 ||
		 child->gfn != gfn || !child->role.is_mirror || child->role.invalid)
		report(c, KVM_INV_SP_LINK, gfn, level, 0, spte,
		       "child sp inconsistent: level %u gfn %#llx ptep %s mirror %u invalid %u",
		       child->role.level, (unsigned long long)child->gfn,
		       child->ptep == &sp->spt[idx] ? "ok" : "wrong", child->role.is_mirror,
		       child->role.invalid);
	if (child->role.level != (unsigned int)level - 1)
		return;		/* walking it would misread every entry */

	if (!child->external_spt) {
		report(c, KVM_INV_EXT_SPT, gfn, level, 0, spte, "linked sp without external_spt");
	} else {
		ext_hpa = page_to_phys(virt_to_page(child->external_spt));
		if (tdxsim_pamt_lookup(c->sim, ext_hpa, &pi) || pi.pt != PT_EPT ||
		    pi.owner != c->td.tdr_pa)
			report(c, KVM_INV_EXT_SPT, gfn, level, ext_hpa, spte,
			       "external_spt of a linked sp not the TD's S-EPT page: "
			       "PAMT pt %u owner %#llx", pi.pt, (unsigned long long)pi.owner);
		else
			ext_ok = true;
		ref_add(c, ext_hpa, TDX_PS_4K);
	}

	if (c->agree) {
		ret = tdxsim_sept_lookup_level(c->sim, &c->td, gfn_gpa(gfn), level - 1, &si);
		if (!ret && !si.leaf && si.hpa)
			ref_add(c, si.hpa, TDX_PS_4K);	/* one report per cause */
		if (ext_ok && (ret || si.leaf || si.state != SEPT_PUBLIC_NL_MAPPED ||
			       si.hpa != ext_hpa))
			report(c, KVM_INV_SEPT, gfn, level, ext_hpa, spte,
			       "mirror table, S-EPT %s: level %d state %#x leaf %d hpa %#llx",
			       ret ? "walk stops above" : "entry", si.level, si.state, si.leaf,
			       (unsigned long long)si.hpa);
	}
	check_table(c, child, depth + 1);
}

static void check_table(struct check_ctx *c, struct kvm_mmu_page *sp, int depth)
{
	int level = sp->role.level, i;

	if (depth > PT64_ROOT_MAX_LEVEL || level < PG_LEVEL_4K)
		return;
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		u64 spte = sp->spt[i];
		gfn_t gfn = sp->gfn + ((gfn_t)i << KVM_HPAGE_GFN_SHIFT(level));

		if (is_frozen_spte(spte)) {
			report(c, KVM_INV_FROZEN, gfn, level, 0, spte,
			       "FROZEN_SPTE left at a quiescent point");
			continue;
		}
		if (!is_shadow_present_pte(spte)) {
			if (spte != SHADOW_NONPRESENT_VALUE)
				report(c, KVM_INV_SPT_CONTENT, gfn, level, 0, spte,
				       "non-present entry %#llx is not SHADOW_NONPRESENT_VALUE",
				       (unsigned long long)spte);
			check_nonpresent_module(c, gfn, level);
			continue;
		}
		if (is_last_spte(spte, level)) {
			if (level <= KVM_NR_PAGE_SIZES)
				c->pages[level - 1]++;
			check_leaf_host(c, gfn, level, spte);
			check_leaf_module(c, gfn, level, spte);
			continue;
		}
		check_nonleaf(c, sp, i, gfn, level, spte, depth);
	}
}

/* I4 the other way: every S-EPT page and guest page the TD owns is the mirror's. */
static void check_module_pages(struct check_ctx *c)
{
	struct tdxsim_td_page tp;
	u64 cursor = 0;

	while (!tdxsim_td_page_next(c->sim, c->td.tdr_pa, &cursor, &tp)) {
		struct ref_page *r;

		if (tp.pt != PT_EPT && tp.pt != PT_REG)
			continue;	/* TDR, TDCS (the S-EPT root is one), TDVPR, TDVPX */
		r = ref_find(c, tp.hpa);
		if (!r)
			report(c, KVM_INV_MODULE_ORPHAN, ~0ULL, tp.level + 1, tp.hpa, 0,
			       "the TD owns this %s page (PAMT level %d); no mirror entry refers to it",
			       tp.pt == PT_EPT ? "S-EPT" : "guest", tp.level);
	}
}

/*
 * I3: a per-VM split cache holds free host pages, each once.  @name says
 * which: v3's prealloc_split_cache or upstream's pamt_cache (kvm-upstream.md
 * §5); a VM of either design has both, and only its design's is ever filled.
 */
static void check_one_split_cache(struct check_ctx *c, const struct tdx_pamt_cache *cache,
				  const char *name)
{
	struct tdxsim_pamt_info pi;
	int i, j;

	if (cache->cnt < 0 || cache->cnt > TDX_PAMT_CACHE_MAX) {
		report(c, KVM_INV_SPLIT_CACHE, ~0ULL, 0, 0, 0,
		       "%s count %d outside [0, %d]", name, cache->cnt, TDX_PAMT_CACHE_MAX);
		return;
	}
	for (i = 0; i < cache->cnt; i++) {
		struct page *page = cache->pages[i];
		u64 hpa;

		if (!page) {
			report(c, KVM_INV_SPLIT_CACHE, ~0ULL, 0, 0, 0,
			       "%s slot %d of %d is empty", name, i, cache->cnt);
			continue;
		}
		hpa = page_to_phys(page);
		for (j = 0; j < i; j++) {
			if (cache->pages[j] == page)
				report(c, KVM_INV_SPLIT_CACHE, ~0ULL, 0, hpa, 0,
				       "page in the %s twice (slots %d, %d)", name, j, i);
		}
		if (tdxsim_pamt_lookup(c->sim, hpa, &pi) || !pi.allocated || pi.pt != PT_NDA ||
		    pi.pamt_page || ref_find(c, hpa))
			report(c, KVM_INV_SPLIT_CACHE, ~0ULL, 0, hpa, 0,
			       "%s page in use: allocated %d PAMT pt %u pamt page %d%s",
			       name, pi.allocated, pi.pt, pi.pamt_page,
			       ref_find(c, hpa) ? ", mapped by the mirror" : "");
	}
}

static void check_split_cache(struct check_ctx *c)
{
	check_one_split_cache(c, &c->kvm_tdx->prealloc_split_cache, "split cache");
	check_one_split_cache(c, &c->kvm_tdx->pamt_cache, "per-VM PAMT cache");
}

/* I5: tdx_pamt_get/put's count per 2MB against the module's, pair iff count. */
static void check_pamt_refcounts(struct check_ctx *c)
{
	const struct tdxsim_config *cfg = tdxsim_get_config(c->sim);
	u64 hpa;

	if (!tdx_supports_dynamic_pamt(&tdx_sysinfo))
		return;
	for (hpa = cfg->mem_base; hpa < cfg->mem_base + cfg->mem_size; hpa += PMD_SIZE) {
		atomic_t *ref = tdx_find_pamt_refcount(PHYS_PFN(hpa));
		struct tdxsim_pamt_info pi;
		int cnt;

		if (!ref || tdxsim_pamt_lookup(c->sim, hpa, &pi))
			continue;
		cnt = atomic_read(ref);
		if (cnt != pi.dpamt_count)
			report(c, KVM_INV_PAMT_REFCOUNT, ~0ULL, 0, hpa, 0,
			       "2MB range: kernel refcount %d, module DPAMT count %u", cnt,
			       pi.dpamt_count);
		if ((cnt > 0) != pi.dpamt_pair)
			report(c, KVM_INV_PAMT_PAIR, ~0ULL, 0, hpa, 0,
			       "2MB range: kernel refcount %d, pair %s", cnt,
			       pi.dpamt_pair ? "installed" : "absent");
	}
}

int kvm_tdx_check(struct kvm *kvm, struct kvm_check_report *rep)
{
	struct check_ctx c = { .kvm = kvm, .rep = rep };
	struct tdxsim_td_info info;
	int l, n;

	if (rep)
		memset(rep, 0, sizeof(*rep));
	if (!kvm || !kvm->priv || !kvm->mirror_root)
		return -EINVAL;
	c.kvm_tdx = kvm->priv;
	c.sim = tdxsim_kernel_current();
	if (!c.sim || !c.kvm_tdx->td.tdr_page)
		return -EINVAL;
	c.td.sim = c.sim;
	c.td.tdr_pa = page_to_phys(c.kvm_tdx->td.tdr_page);
	if (tdxsim_td_info(c.sim, c.td.tdr_pa, &info))
		return -EINVAL;

	/*
	 * I18: after a KVM_BUG_ON the trees may disagree by design (spec
	 * §6.2); ownership (I4) is still checked.  After the HKID release the
	 * module no longer walks the S-EPT, only PAMT ownership is compared.
	 */
	c.agree = is_hkid_assigned(c.kvm_tdx) && !kvm->vm_bugged;
	if (rep)
		rep->skipped_agreement = kvm->vm_bugged;

	check_table(&c, kvm->mirror_root, 0);
	if (!kvm->vm_bugged)
		check_module_pages(&c);
	check_split_cache(&c);
	if (!kvm->vm_bugged)
		check_pamt_refcounts(&c);
	for (l = 0; l < KVM_NR_PAGE_SIZES; l++) {
		if (c.pages[l] != kvm->stat.pages[l])
			report(&c, KVM_INV_STATS, ~0ULL, l + 1, 0, 0,
			       "stat.pages[%d] %ld, present leaves %ld", l, kvm->stat.pages[l],
			       c.pages[l]);
	}
	refs_free(&c);

	/* What the ledger and the inline checks recorded as it happened. */
	n = kvm_check_ledger_violations(c.sim, kvm, rep);
	c.nr += n;

	n = tdxsim_check(c.sim, rep ? &rep->module : NULL);
	if (n > 0) {
		c.nr += n;
		if (rep) {
			rep->count[KVM_INV_MODULE] += n;
			rep->nr += n;
		}
	}
	return c.nomem ? -ENOMEM : c.nr;
}

void kvm_check_report_print(const struct kvm_check_report *rep, FILE *f)
{
	unsigned int i, shown = rep->nr - rep->count[KVM_INV_MODULE];

	if (shown > KVM_CHECK_REPORT_MAX)
		shown = KVM_CHECK_REPORT_MAX;
	fprintf(f, "kvm_tdx_check: %u violation(s)%s\n", rep->nr,
		rep->skipped_agreement ? " (VM bugged: mirror/S-EPT agreement not checked)" : "");
	for (i = 0; i < shown; i++) {
		const struct kvm_check_violation *v = &rep->v[i];

		char seq[24] = "?";

		if (v->seq)
			snprintf(seq, sizeof(seq), "%llu", (unsigned long long)v->seq);
		fprintf(f, "  %s %s: seq %s gfn %#llx level %d hpa %#llx spte %#llx: %s\n",
			kvm_check_inv_id(v->what), kvm_check_inv_name(v->what), seq,
			(unsigned long long)v->gfn, v->level, (unsigned long long)v->hpa,
			(unsigned long long)v->spte, v->msg);
	}
	if (rep->count[KVM_INV_MODULE])
		tdxsim_report_print(&rep->module, f);
}
