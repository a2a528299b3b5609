// SPDX-License-Identifier: GPL-2.0-only
/*
 * tdxsim_check(): verify every module invariant while the module is quiet.
 *
 *  - each live TD's S-EPT tree against the PAMT (leaf pages PT_REG owned by
 *    the TD at the mapping size, S-EPT pages PT_EPT), and every page the
 *    PAMT says the TD owns is reachable from the tree or the control pages;
 *  - TDR child counts equal the pages each TD owns;
 *  - Dynamic PAMT: page counts equal the 4K pages in use per 2MB, pair pages
 *    flagged and allocated, no 4K use without a pair;
 *  - no page both free in the host pool and owned by the module;
 *  - epoch refcounts equal the vCPUs in guest per epoch parity;
 *  - no lock held; host misuse recorded by tdxsim_page_free().
 */
#include <stdarg.h>
#include <stdio.h>

#include <bsd/bitstring.h>

#include "tdxsim-internal.h"

struct checker {
	struct tdxsim *sim;
	struct tdxsim_report *r;
	bitstr_t *seen;		/* pages reached from a live TD's structures */
	u64 *owned;		/* per TD id: pages counted like chldcnt */
	int nr;
};

static void report(struct checker *ck, enum tdxsim_invariant what, u64 hpa, u64 gpa,
		   u64 tdr, u64 seq, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void report(struct checker *ck, enum tdxsim_invariant what, u64 hpa, u64 gpa,
		   u64 tdr, u64 seq, const char *fmt, ...)
{
	struct tdxsim_violation *v;
	va_list ap;

	ck->nr++;
	if (!ck->r)
		return;
	if (ck->r->nr++ >= TDXSIM_REPORT_MAX)
		return;
	v = &ck->r->v[ck->r->nr - 1];
	v->what = what;
	v->hpa = hpa;
	v->gpa = gpa;
	v->tdr_pa = tdr;
	v->seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
}

static u64 seq_of(struct checker *ck, u64 pa)
{
	return mem_in_tdmr(ck->sim, pa) ? ck->sim->seq_2m[pa_to_idx2m(ck->sim, pa)] : 0;
}

static void mark_seen(struct checker *ck, u64 pa)
{
	if (mem_in_tdmr(ck->sim, pa))
		bit_set(ck->seen, pa_to_idx(ck->sim, pa));
}

static void check_owned_page(struct checker *ck, struct td *td, u64 pa, int level, u8 pt,
			     enum tdxsim_invariant what, u64 gpa, u64 seq)
{
	struct tdxsim *sim = ck->sim;
	struct pamt_entry *e;
	int leaf;

	if (!mem_in_tdmr(sim, pa)) {
		report(ck, what, pa, gpa, td->tdr_pa, seq,
		       "page %#llx is outside simulated memory", (unsigned long long)pa);
		return;
	}
	leaf = pamt_leaf_level(sim, pa);
	e = pamt_entry_at(sim, pa, leaf);
	if (leaf != level || e->pt != pt || e->owner != td->id)
		report(ck, what, pa, gpa, td->tdr_pa, seq ? seq : seq_of(ck, pa),
		       "page %#llx: PAMT says type %u owner TD%u size %d, expected type %u owner TD%u size %d",
		       (unsigned long long)pa, e->pt, e->owner, leaf, pt, td->id, level);
	mark_seen(ck, pa);
}

static void check_table(struct checker *ck, struct td *td, struct sept_page *sp, u64 gpa_base)
{
	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++) {
		u64 e = sp->e[i];
		enum sept_state s = septe_state(e);
		u64 gpa = gpa_base + ((u64)i << (PAGE_SHIFT + TDX_PTE_SHIFT * sp->level));
		struct sept_page *child;

		if (e & SEPTE_LOCK)
			report(ck, TDXSIM_INV_LOCK_HELD, septe_hpa(e), gpa, td->tdr_pa, sp->seq,
			       "S-EPT entry of GPA %#llx level %u still locked",
			       (unsigned long long)gpa, sp->level);
		if (sept_state_is_leaf(s)) {
			if (sp->level > TDX_PS_1G) {
				report(ck, TDXSIM_INV_LEAF_PAMT, septe_hpa(e), gpa, td->tdr_pa,
				       sp->seq, "leaf at level %u", sp->level);
				continue;
			}
			check_owned_page(ck, td, septe_hpa(e), sp->level, PT_REG,
					 TDXSIM_INV_LEAF_PAMT, gpa, 0);
			continue;
		}
		if (!sept_state_is_nl(s))
			continue;
		child = sp->child ? sp->child[i] : NULL;
		if (!child || child->hpa != septe_hpa(e) || child->level + 1 != sp->level) {
			report(ck, TDXSIM_INV_SEPT_PAGE_PAMT, septe_hpa(e), gpa, td->tdr_pa,
			       sp->seq, "non-leaf entry of GPA %#llx level %u has no matching table",
			       (unsigned long long)gpa, sp->level);
			continue;
		}
		check_owned_page(ck, td, child->hpa, TDX_PS_4K, PT_EPT,
				 TDXSIM_INV_SEPT_PAGE_PAMT, gpa, child->seq);
		check_table(ck, td, child, gpa);
	}
}

static void check_td_structures(struct checker *ck, struct td *td)
{
	struct td_vcpu *v, *tmp;
	u32 in_guest[2] = { 0, 0 };

	check_owned_page(ck, td, td->tdr_pa, TDX_PS_4K, PT_TDR, TDXSIM_INV_ORPHAN, ~0ULL, td->seq);
	if (td->sept_lock || td->op_state_lock || td->epoch_lock)
		report(ck, TDXSIM_INV_LOCK_HELD, td->tdr_pa, ~0ULL, td->tdr_pa, td->seq,
		       "TD%u: a TD lock is still held (sept %#x op_state %#x epoch %#x)",
		       td->id, td->sept_lock, td->op_state_lock, td->epoch_lock);
	HASH_ITER(hh, td->vcpus, v, tmp) {
		if (v->in_guest) {
			if (v->vcpu_epoch + 1 < td->td_epoch)
				report(ck, TDXSIM_INV_EPOCH, v->tdvpr_pa, ~0ULL, td->tdr_pa, td->seq,
				       "vCPU %#llx in guest since epoch %llu, TD epoch %llu",
				       (unsigned long long)v->tdvpr_pa,
				       (unsigned long long)v->vcpu_epoch,
				       (unsigned long long)td->td_epoch);
			in_guest[v->vcpu_epoch & 1]++;
		}
	}
	for (int p = 0; p < 2; p++) {
		if (td->refcount[p] != in_guest[p])
			report(ck, TDXSIM_INV_EPOCH, td->tdr_pa, ~0ULL, td->tdr_pa, td->seq,
			       "TD%u: refcount[%d] = %u but %u vCPUs are in guest with that parity",
			       td->id, p, td->refcount[p], in_guest[p]);
	}
	/* After KEY.FREEID the module no longer keeps the tree: RECLAIM order is free. */
	if (td->lifecycle == TD_TEARDOWN)
		return;
	for (unsigned int i = 0; i < td->nr_tdcx; i++)
		check_owned_page(ck, td, td->tdcx_pa[i], TDX_PS_4K, PT_TDCX, TDXSIM_INV_ORPHAN,
				 ~0ULL, td->seq);
	HASH_ITER(hh, td->vcpus, v, tmp) {
		check_owned_page(ck, td, v->tdvpr_pa, TDX_PS_4K, PT_TDVPR, TDXSIM_INV_ORPHAN,
				 ~0ULL, td->seq);
		/* TDVPX pages are PT_TDCX children of the TD (tdh_vp_addcx.c). */
		for (unsigned int i = 0; i + 1 < v->num_tdvps_pages; i++)
			check_owned_page(ck, td, v->tdvpx_pa[i], TDX_PS_4K, PT_TDCX,
					 TDXSIM_INV_ORPHAN, ~0ULL, td->seq);
	}
	if (td->root)
		check_table(ck, td, td->root, 0);
}

/* One PAMT leaf owned by the module: count it, and it must be reachable. */
static void scan_leaf(struct checker *ck, u64 pa, int level, struct pamt_entry *e)
{
	struct tdxsim *sim = ck->sim;
	struct td *td = td_by_id(sim, e->owner);
	u64 idx = pa_to_idx(sim, pa);

	if (e->lock)
		report(ck, TDXSIM_INV_LOCK_HELD, pa, ~0ULL, td ? td->tdr_pa : 0, seq_of(ck, pa),
		       "PAMT entry of %#llx (size %d) still locked", (unsigned long long)pa, level);
	if (e->pt == PT_NDA)
		return;
	if (!td) {
		report(ck, TDXSIM_INV_ORPHAN, pa, ~0ULL, 0, seq_of(ck, pa),
		       "page %#llx type %u owned by TD%u, which does not exist",
		       (unsigned long long)pa, e->pt, e->owner);
		return;
	}
	if (e->pt != PT_TDR)
		ck->owned[td->id] += tdx_level_pages(level);
	for (u64 i = 0; i < tdx_level_pages(level); i++) {
		if (!(sim->page_flags[idx + i] & PG_ALLOCATED)) {
			report(ck, TDXSIM_INV_FREE_OWNED, pa + (i << PAGE_SHIFT), ~0ULL, td->tdr_pa,
			       seq_of(ck, pa), "page %#llx is free in the host pool but TD%u owns it (type %u)",
			       (unsigned long long)(pa + (i << PAGE_SHIFT)), td->id, e->pt);
			break;
		}
	}
	if (td->lifecycle != TD_TEARDOWN && !bit_test(ck->seen, idx))
		report(ck, TDXSIM_INV_ORPHAN, pa, ~0ULL, td->tdr_pa, seq_of(ck, pa),
		       "page %#llx (type %u, size %d) owned by TD%u is not reachable from its S-EPT or control structures",
		       (unsigned long long)pa, e->pt, level, td->id);
}

static void scan_2m(struct checker *ck, u64 pa)
{
	struct tdxsim *sim = ck->sim;
	struct pamt_entry *e2m = pamt_entry_at(sim, pa, TDX_PS_2M);
	unsigned int used = 0;
	bool has_4k = !sim_dpamt(sim) || e2m->pt == PT_PAMT;

	if (e2m->pt != PT_NDA && e2m->pt != PT_PAMT) {
		scan_leaf(ck, pa, TDX_PS_2M, e2m);
		return;
	}
	if (e2m->lock)
		report(ck, TDXSIM_INV_LOCK_HELD, pa, ~0ULL, 0, seq_of(ck, pa),
		       "PAMT 2MB entry of %#llx still locked", (unsigned long long)pa);
	if (sim_dpamt(sim) && has_4k != !!sim->pamt_4k_blk[pa_to_idx2m(sim, pa)])
		report(ck, TDXSIM_INV_DPAMT_PAIR, pa, ~0ULL, 0, seq_of(ck, pa),
		       "2MB range %#llx: %s but %s block of 4K entries", (unsigned long long)pa,
		       has_4k ? "a pair" : "no pair", has_4k ? "no" : "a");
	/*
	 * Dynamic PAMT: a range without a pair has no 4K level to look at (its
	 * entries' memory does not exist, pamt_init()).
	 */
	for (unsigned int i = 0; has_4k && i < PAGES_PER_2M; i++) {
		struct pamt_entry *e = pamt_entry_at(sim, pa + ((u64)i << PAGE_SHIFT), TDX_PS_4K);

		if (e->pt == PT_NDA)
			continue;
		used++;
		scan_leaf(ck, pa + ((u64)i << PAGE_SHIFT), TDX_PS_4K, e);
	}
	if (sim_dpamt(sim) && e2m->pt == PT_PAMT) {
		struct dpamt_node *n = &sim->dpamt[pa_to_idx2m(sim, pa)];

		if (n->page_count != used)
			report(ck, TDXSIM_INV_DPAMT_COUNT, pa, ~0ULL, 0, seq_of(ck, pa),
			       "2MB range %#llx: DPAMT page count %u, but %u 4K pages are in use",
			       (unsigned long long)pa, n->page_count, used);
		for (int p = 0; p < 2; p++) {
			u8 f = mem_in_tdmr(sim, n->hpa[p]) ? page_flags_get(sim, n->hpa[p]) : 0;

			if ((f & (PG_PAMT_PAGE | PG_ALLOCATED)) != (PG_PAMT_PAGE | PG_ALLOCATED))
				report(ck, TDXSIM_INV_DPAMT_PAIR, n->hpa[p], ~0ULL, 0, seq_of(ck, pa),
				       "PAMT page %d (%#llx) of 2MB range %#llx is %s", p,
				       (unsigned long long)n->hpa[p], (unsigned long long)pa,
				       f & PG_PAMT_PAGE ? "free in the host pool" : "not flagged as a PAMT page");
			else
				bit_set(ck->seen, pa_to_idx(sim, n->hpa[p]));
		}
	}
}

static void scan_pamt(struct checker *ck)
{
	struct tdxsim *sim = ck->sim;
	u64 base = sim->cfg.mem_base;

	for (u64 pa = base; pa < sim->mem_end; pa += SZ_2M) {
		struct pamt_entry *e1g = pamt_entry_at(sim, pa, TDX_PS_1G);

		if (!((pa - base) & (SZ_1G - 1)) && e1g->pt != PT_NDA) {
			scan_leaf(ck, pa, TDX_PS_1G, e1g);
			pa += SZ_1G - SZ_2M;
			continue;
		}
		/* Every PAMT walk holds its 1GB entry shared (pamt_walk()). */
		if (!((pa - base) & (SZ_1G - 1)) && e1g->lock)
			report(ck, TDXSIM_INV_LOCK_HELD, pa, ~0ULL, 0, seq_of(ck, pa),
			       "PAMT 1GB entry of %#llx still locked", (unsigned long long)pa);
		scan_2m(ck, pa);
	}
}

/* Pages flagged as PAMT pages must belong to a pair (bits set by scan_2m). */
static void scan_pamt_pages(struct checker *ck)
{
	struct tdxsim *sim = ck->sim;

	for (u64 i = 0; i < sim->nr_pages; i++) {
		if (sim->page_flags[i] & PG_PAMT_PAGE && !bit_test(ck->seen, i))
			report(ck, TDXSIM_INV_DPAMT_PAIR, idx_to_pa(sim, i), ~0ULL, 0,
			       seq_of(ck, idx_to_pa(sim, i)),
			       "page %#llx is flagged as a PAMT page but no 2MB node uses it",
			       (unsigned long long)idx_to_pa(sim, i));
	}
}

int tdxsim_check(struct tdxsim *sim, struct tdxsim_report *r)
{
	struct checker ck = { .sim = sim, .r = r };

	if (r)
		memset(r, 0, sizeof(*r));
	ck.seen = bit_alloc((int)sim->nr_pages);
	ck.owned = calloc((size_t)sim->cfg.max_tds + 1, sizeof(*ck.owned));
	if (!ck.seen || !ck.owned) {
		free(ck.seen);
		free(ck.owned);
		return -ENOMEM;
	}
	for (u16 id = 1; id <= sim->cfg.max_tds; id++) {
		struct td *td = sim->tds[id];

		if (td)
			check_td_structures(&ck, td);
	}
	scan_pamt(&ck);
	if (sim_dpamt(sim))
		scan_pamt_pages(&ck);
	for (u16 id = 1; id <= sim->cfg.max_tds; id++) {
		struct td *td = sim->tds[id];

		if (td && td->chldcnt != ck.owned[id])
			report(&ck, TDXSIM_INV_CHLDCNT, td->tdr_pa, ~0ULL, td->tdr_pa, td->seq,
			       "TD%u: TDR child count %llu, but the TD owns %llu pages",
			       td->id, (unsigned long long)td->chldcnt,
			       (unsigned long long)ck.owned[id]);
	}
	pthread_mutex_lock(&sim->misuse_lock);
	/* The ring holds the last MISUSE_LOG misuses: each once, oldest first. */
	for (u64 i = sim->nr_misuse > MISUSE_LOG ? sim->nr_misuse - MISUSE_LOG : 0;
	     i < sim->nr_misuse; i++) {
		struct tdxsim_violation *m = &sim->misuse[i % MISUSE_LOG];

		report(&ck, m->what, m->hpa, m->gpa, m->tdr_pa, m->seq, "host misuse: %s", m->msg);
	}
	pthread_mutex_unlock(&sim->misuse_lock);
	free(ck.seen);
	free(ck.owned);
	return ck.nr;
}

const char *tdxsim_invariant_name(enum tdxsim_invariant inv)
{
	static const char *const names[TDXSIM_INV_NR] = {
		[TDXSIM_INV_CHLDCNT] = "chldcnt",
		[TDXSIM_INV_LEAF_PAMT] = "leaf-pamt",
		[TDXSIM_INV_SEPT_PAGE_PAMT] = "sept-page-pamt",
		[TDXSIM_INV_DPAMT_COUNT] = "dpamt-count",
		[TDXSIM_INV_DPAMT_PAIR] = "dpamt-pair",
		[TDXSIM_INV_FREE_OWNED] = "free-owned",
		[TDXSIM_INV_EPOCH] = "epoch",
		[TDXSIM_INV_ORPHAN] = "orphan",
		[TDXSIM_INV_HOST_MISUSE] = "host-misuse",
		[TDXSIM_INV_LOCK_HELD] = "lock-held",
	};

	return inv < TDXSIM_INV_NR ? names[inv] : "?";
}

void tdxsim_report_print(const struct tdxsim_report *r, FILE *f)
{
	unsigned int n = r->nr < TDXSIM_REPORT_MAX ? r->nr : TDXSIM_REPORT_MAX;

	for (unsigned int i = 0; i < n; i++) {
		const struct tdxsim_violation *v = &r->v[i];

		fprintf(f, "invariant %s broken", tdxsim_invariant_name(v->what));
		if (v->gpa != ~0ULL)
			fprintf(f, " at GPA %#llx", (unsigned long long)v->gpa);
		if (v->hpa)
			fprintf(f, " HPA %#llx", (unsigned long long)v->hpa);
		if (v->seq)
			fprintf(f, " (last changed by call #%llu)", (unsigned long long)v->seq);
		fprintf(f, ": %s\n", v->msg);
	}
	if (r->nr > n)
		fprintf(f, "... and %u more\n", r->nr - n);
}
