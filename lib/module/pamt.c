// SPDX-License-Identifier: GPL-2.0-only
/*
 * PAMT: page type, owner and block epoch of every physical page, at 1GB, 2MB
 * and 4K granularity (spec seamcall.md §4.1), and the Dynamic-PAMT 2MB nodes
 * (§4.3).  A walk stops at the first level whose entry is not PT_NDA, or at
 * the requested level; with Dynamic PAMT the 4K level of a 2MB range exists
 * only while the range's 2MB entry is PT_PAMT.
 */
#include <sys/mman.h>

#include "tdxsim-internal.h"

int pamt_init(struct tdxsim *sim)
{
	u64 nr_2m = sim->cfg.mem_size / SZ_2M;
	u64 nr_1g = (sim->cfg.mem_size + SZ_1G - 1) / SZ_1G;

	/*
	 * The 4K level is populated up front, like the module's static PAMT:
	 * 8 bytes per 4K page of the TDMR, and no page fault in the middle of
	 * the first DEMOTE of a range.  The other levels are small.
	 */
	sim->pamt_4k = mmap(NULL, sim->nr_pages * sizeof(*sim->pamt_4k), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (sim->pamt_4k == MAP_FAILED)
		sim->pamt_4k = NULL;
	sim->pamt_2m = calloc(nr_2m, sizeof(*sim->pamt_2m));
	sim->pamt_1g = calloc(nr_1g, sizeof(*sim->pamt_1g));
	sim->seq_2m = calloc(nr_2m, sizeof(*sim->seq_2m));
	if (sim_dpamt(sim))
		sim->dpamt = calloc(nr_2m, sizeof(*sim->dpamt));
	if (!sim->pamt_4k || !sim->pamt_2m || !sim->pamt_1g || !sim->seq_2m ||
	    (sim_dpamt(sim) && !sim->dpamt))
		return -ENOMEM;
	return 0;
}

void pamt_fini(struct tdxsim *sim)
{
	if (sim->pamt_4k)
		munmap(sim->pamt_4k, sim->nr_pages * sizeof(*sim->pamt_4k));
	free(sim->pamt_2m);
	free(sim->pamt_1g);
	free(sim->seq_2m);
	free(sim->dpamt);
}

struct pamt_entry *pamt_entry_at(struct tdxsim *sim, u64 pa, int level)
{
	u64 off = pa - sim->cfg.mem_base;

	switch (level) {
	case TDX_PS_1G:
		return &sim->pamt_1g[off / SZ_1G];
	case TDX_PS_2M:
		return &sim->pamt_2m[off / SZ_2M];
	default:
		return &sim->pamt_4k[off >> PAGE_SHIFT];
	}
}

/* Level at which a walk towards 4K for @pa stops (its PAMT leaf). */
static int pamt_walk_level(struct tdxsim *sim, u64 pa, int want)
{
	u8 pt;

	if (__atomic_load_n(&pamt_entry_at(sim, pa, TDX_PS_1G)->pt, __ATOMIC_ACQUIRE) != PT_NDA ||
	    want == TDX_PS_1G)
		return TDX_PS_1G;
	pt = __atomic_load_n(&pamt_entry_at(sim, pa, TDX_PS_2M)->pt, __ATOMIC_ACQUIRE);
	if ((pt != PT_NDA && pt != PT_PAMT) || want == TDX_PS_2M)
		return TDX_PS_2M;
	if (sim_dpamt(sim) && pt != PT_PAMT)
		return TDX_PS_2M;	/* no 4K level without a page pair */
	return TDX_PS_4K;
}

int pamt_leaf_level(struct tdxsim *sim, u64 pa)
{
	return pamt_walk_level(sim, pa, TDX_PS_4K);
}

/*
 * hpa_check_with_pwr_2_alignment() (helpers.c): aligned, no KeyID bits, and
 * below the architectural MAX_PA of 52 bits (x86_defs.h), not the platform's
 * width.  An address with bits between max_pa_bits and 51 set passes here and
 * is refused by hpa_in_tdmr() as OPERAND_ADDR_RANGE_ERROR.
 */
bool hpa_valid(const struct tdxsim *sim, u64 pa, u64 align)
{
	return !(pa & (align - 1)) && !(pa & sim->hkid_mask) && pa < (1ULL << MAX_PA);
}

/*
 * shared_hpa_check_with_pwr_2_alignment() (helpers.c): aligned, below MAX_PA,
 * and a shared KeyID (below private_hkid_min) if any.  tdxsim has no SEAMRR
 * and never reads the page.
 */
bool shared_hpa_valid(const struct tdxsim *sim, u64 pa, u64 align)
{
	u64 hkid = (pa & sim->hkid_mask) >> sim->hkid_shift;

	return !(pa & (align - 1)) && pa < (1ULL << MAX_PA) && hkid < sim->private_hkid_min;
}

/* pamt_get_block(): the TDMR covers [pa, pa + size); @pa passed hpa_valid(). */
bool hpa_in_tdmr(const struct tdxsim *sim, u64 pa, u64 size)
{
	return mem_in_tdmr(sim, pa) && pa + size <= sim->mem_end;
}

u64 hpa_check_operand(struct seamcall_ctx *c, u64 pa, u64 align, u32 operand)
{
	if (!hpa_valid(c->sim, pa, align))
		return api_error_with_operand_id(TDX_OPERAND_INVALID, operand);
	if (!hpa_in_tdmr(c->sim, pa, align))
		return api_error_with_operand_id(TDX_OPERAND_ADDR_RANGE_ERROR, operand);
	return TDX_SUCCESS;
}

void pamt_unlock_page(struct pamt_locked *l)
{
	if (l->e)
		pamt_unlock(l->e, l->t);
	if (l->e2m)
		pamt_unlock(l->e2m, TDX_LOCK_SHARED);
	l->e = NULL;
	l->e2m = NULL;
}

/*
 * Walk towards @level and lock the entry reached with @t.  A 4K entry of a
 * Dynamic-PAMT range is reached through its 2MB node, which is held shared
 * (the 2MB-granularity lock PAMT.ADD/REMOVE take exclusive).
 * On success out->e is locked and out->level says which level it is.
 */
u64 pamt_lock_page(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
		   u32 operand, struct pamt_locked *out)
{
	struct tdxsim *sim = c->sim;
	int reached = pamt_walk_level(sim, pa, level);

	memset(out, 0, sizeof(*out));
	if (reached == TDX_PS_4K && sim_dpamt(sim)) {
		struct pamt_entry *e2m = pamt_entry_at(sim, pa, TDX_PS_2M);

		if (!ctx_pamt_try_lock(c, e2m, TDX_LOCK_SHARED, pa & ~(SZ_2M - 1), TDX_PS_2M,
				       operand))
			return api_error_with_operand_id(TDX_OPERAND_BUSY, operand);
		/* The pair may have gone between the walk and the lock. */
		if (e2m->pt != PT_PAMT) {
			pamt_unlock(e2m, TDX_LOCK_SHARED);
			reached = TDX_PS_2M;
		} else {
			out->e2m = e2m;
		}
	}
	out->e = pamt_entry_at(sim, pa, reached);
	out->t = t;
	out->level = reached;
	if (!ctx_pamt_try_lock(c, out->e, t, pa & ~(tdx_level_size(reached) - 1), reached,
			       operand)) {
		out->e = NULL;
		pamt_unlock_page(out);
		return api_error_with_operand_id(TDX_OPERAND_BUSY, operand);
	}
	return TDX_SUCCESS;
}

/*
 * A page the module is about to take: aligned to @level, in the TDMR, its
 * PAMT entry at @level exclusively locked and PT_NDA, not a Dynamic-PAMT page;
 * a 2MB page must have all 512 4K pieces free too (spec §2.4, §4.3).
 */
u64 pamt_check_free_page(struct seamcall_ctx *c, u64 pa, int level, u32 operand,
			 struct pamt_locked *out)
{
	struct tdxsim *sim = c->sim;
	int reached;
	u64 err;

	memset(out, 0, sizeof(*out));
	err = hpa_check_operand(c, pa, tdx_level_size(level), operand);
	if (err)
		return err;
	err = pamt_lock_page(c, pa, level, TDX_LOCK_EXCLUSIVE, operand, out);
	if (err)
		return err;
	reached = out->level;
	if (reached != level) {
		/* A 4K page in a DPAMT range with no pair: the 4K level is missing. */
		if (reached == TDX_PS_2M && sim_dpamt(sim) && out->e->pt == PT_NDA)
			err = api_error_with_operand_id(TDX_MISSING_PAMT_PAGE_PAIR, operand);
		else
			err = api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, operand);
		goto fail;
	}
	if (out->e->pt != PT_NDA || page_flags_get(sim, pa) & PG_PAMT_PAGE) {
		err = api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, operand);
		goto fail;
	}
	if (level == TDX_PS_2M) {
		u64 idx = pa_to_idx(sim, pa);

		for (unsigned int i = 0; i < PAGES_PER_2M; i++) {
			/* DPAMT: the bitmap; static PAMT: each 4K entry. */
			if (sim->page_flags[idx + i] & PG_PAMT_PAGE ||
			    (!sim_dpamt(sim) && sim->pamt_4k[idx + i].pt != PT_NDA)) {
				err = api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT,
								operand);
				goto fail;
			}
		}
	}
	return TDX_SUCCESS;
fail:
	pamt_unlock_page(out);
	return err;
}

static void seq_touch(struct tdxsim *sim, u64 pa, u64 seq)
{
	seq_note(&sim->seq_2m[pa_to_idx2m(sim, pa)], seq);
}

/*
 * The module does not look at cache state, but a page handed to it while
 * still dirty with another TD's key is a host bug (no WBINVD after REMOVE):
 * record it.  The page's lines now belong to its new owner.
 */
static void note_dirty_reuse(struct tdxsim *sim, u64 pa, int level, u16 owner)
{
	struct td *td = td_by_id(sim, owner);

	for (u64 i = 0; i < tdx_level_pages(level); i++) {
		u64 p = pa + (i << PAGE_SHIFT);
		u16 hkid;

		if (!(page_flags_get(sim, p) & PG_DIRTY))
			continue;
		hkid = sim->pamt_4k[pa_to_idx(sim, p)].owner;
		page_flags_clear(sim, p, PG_DIRTY);
		if (td && hkid != td->hkid)
			sim_record_misuse(sim, p, "page %#llx given to TD%u while dirty with HKID %u (no WBINVD)",
					  (unsigned long long)p, owner, hkid);
	}
}

static void pamt_assign(struct tdxsim *sim, u64 pa, int level, u8 pt, u16 owner, u64 seq)
{
	struct pamt_entry *e = pamt_entry_at(sim, pa, level);

	note_dirty_reuse(sim, pa, level, owner);
	e->owner = owner;
	e->bepoch = 0;
	__atomic_store_n(&e->pt, pt, __ATOMIC_RELEASE);
	seq_touch(sim, pa, seq);
}

/*
 * The module gives @pa back to the host.  @dirty: the TD wrote it with its
 * key, so the host must TDH.PHYMEM.PAGE.WBINVD it before reuse (spec §2.10).
 */
static void pamt_release(struct tdxsim *sim, u64 pa, int level, u16 hkid, bool dirty, u64 seq)
{
	struct pamt_entry *e = pamt_entry_at(sim, pa, level);
	u64 npages = tdx_level_pages(level);
	u8 flags = (dirty ? PG_DIRTY : 0) | (sim->cfg.reset_quirk ? PG_NEEDS_RESET : 0);

	e->owner = 0;
	e->bepoch = 0;
	__atomic_store_n(&e->pt, PT_NDA, __ATOMIC_RELEASE);
	seq_touch(sim, pa, seq);
	if (!flags)
		return;
	for (u64 i = 0; i < npages; i++) {
		u64 p = pa + (i << PAGE_SHIFT);

		if (dirty)
			sim->pamt_4k[pa_to_idx(sim, p)].owner = hkid;
		page_flags_set(sim, p, flags);
	}
}

static void dpamt_inc(struct tdxsim *sim, u64 pa)
{
	if (sim_dpamt(sim))
		__atomic_fetch_add(&sim->dpamt[pa_to_idx2m(sim, pa)].page_count, 1,
				   __ATOMIC_RELAXED);
}

/* Returns true when the count dropped to 0: the PAMT removal hint. */
static bool dpamt_dec(struct tdxsim *sim, u64 pa)
{
	if (!sim_dpamt(sim))
		return false;
	return __atomic_sub_fetch(&sim->dpamt[pa_to_idx2m(sim, pa)].page_count, 1,
				  __ATOMIC_RELAXED) == 0;
}

/*
 * The commit tail of a leaf that gives the module a page for @td, the page's
 * PAMT entry at @level held exclusive and PT_NDA: the entry records @pt and
 * its owner, a 4K page counts in its range's Dynamic-PAMT node, and every
 * page but the TDR itself is a child of the TD (TDR.CHLDCNT, in 4K pages).
 */
void pamt_page_take(struct seamcall_ctx *c, struct td *td, u64 pa, int level, u8 pt)
{
	pamt_assign(c->sim, pa, level, pt, td->id, c->seq);
	if (level == TDX_PS_4K)
		dpamt_inc(c->sim, pa);
	if (pt != PT_TDR)
		td_chldcnt_add(c, td, (s64)tdx_level_pages(level));
}

/*
 * The reverse: @td's page at @level goes back to the host (entry held
 * exclusive), dirty with the TD's key if @dirty.  Returns
 * TDX_PAMT_REMOVAL_HINT when it was the last page counted in its 2MB range's
 * Dynamic-PAMT node, else 0.
 */
u64 pamt_page_give_back(struct seamcall_ctx *c, struct td *td, u64 pa, int level, bool dirty)
{
	bool child = pamt_entry_at(c->sim, pa, level)->pt != PT_TDR;
	bool hint = false;

	pamt_release(c->sim, pa, level, td->hkid, dirty, c->seq);
	if (level == TDX_PS_4K)
		hint = dpamt_dec(c->sim, pa);
	if (child)
		td_chldcnt_add(c, td, -(s64)tdx_level_pages(level));
	return hint ? TDX_PAMT_REMOVAL_HINT : 0;
}

/*
 * Claim @pa as a Dynamic-PAMT page: the test-and-set of its bit in the PAMT
 * page bitmap.  False if it already is one.
 */
bool dpamt_page_claim(struct tdxsim *sim, u64 pa)
{
	return !(__atomic_fetch_or(&sim->page_flags[pa_to_idx(sim, pa)], PG_PAMT_PAGE,
				   __ATOMIC_ACQ_REL) & PG_PAMT_PAGE);
}

/* Undo dpamt_page_claim() of a leaf that failed after it. */
void dpamt_page_unclaim(struct tdxsim *sim, u64 pa)
{
	page_flags_clear(sim, pa, PG_PAMT_PAGE);
}

/*
 * Install the claimed @pair as the 2MB range @range's Dynamic-PAMT node,
 * counting @count pages, and publish the range's 2MB entry as PT_PAMT (held
 * exclusive by the caller).
 */
void dpamt_pair_install(struct seamcall_ctx *c, u64 range, const u64 pair[2], u16 count)
{
	struct tdxsim *sim = c->sim;
	struct dpamt_node *n = &sim->dpamt[pa_to_idx2m(sim, range)];

	n->hpa[0] = pair[0];
	n->hpa[1] = pair[1];
	n->page_count = count;
	__atomic_store_n(&pamt_entry_at(sim, range, TDX_PS_2M)->pt, PT_PAMT, __ATOMIC_RELEASE);
	seq_touch(sim, range, c->seq);
}

/*
 * Take the range's pair out of its node and give both pages back to the host
 * (with the reset quirk they need a reset first).  The caller, holding the
 * 2MB entry exclusive, sets the entry's new type.
 */
void dpamt_pair_release(struct tdxsim *sim, u64 range, u64 pair[2])
{
	struct dpamt_node *n = &sim->dpamt[pa_to_idx2m(sim, range)];

	for (unsigned int i = 0; i < 2; i++) {
		pair[i] = n->hpa[i];
		page_flags_clear(sim, n->hpa[i], PG_PAMT_PAGE);
		if (sim->cfg.reset_quirk)
			page_flags_set(sim, n->hpa[i], PG_NEEDS_RESET);
	}
	memset(n, 0, sizeof(*n));
}

int tdxsim_pamt_lookup(struct tdxsim *sim, u64 hpa, struct tdxsim_pamt_info *info)
{
	struct pamt_entry *e;
	u8 f;

	memset(info, 0, sizeof(*info));
	if (!mem_in_tdmr(sim, hpa))
		return -EINVAL;
	info->level = pamt_leaf_level(sim, hpa);
	e = pamt_entry_at(sim, hpa, info->level);
	info->pt = e->pt;
	info->bepoch = e->bepoch;
	if (e->pt != PT_NDA && e->pt != PT_TDR && e->owner) {
		struct td *td = td_by_id(sim, e->owner);

		info->owner = td ? td->tdr_pa : 0;
	}
	f = page_flags_get(sim, hpa);
	info->pamt_page = f & PG_PAMT_PAGE;
	info->allocated = f & PG_ALLOCATED;
	info->dirty = f & PG_DIRTY;
	info->needs_reset = f & PG_NEEDS_RESET;
	if (info->dirty)
		info->dirty_hkid = sim->pamt_4k[pa_to_idx(sim, hpa)].owner;
	if (sim_dpamt(sim) && pamt_entry_at(sim, hpa, TDX_PS_2M)->pt == PT_PAMT) {
		struct dpamt_node *n = &sim->dpamt[pa_to_idx2m(sim, hpa)];

		info->dpamt_pair = true;
		info->dpamt_pages[0] = n->hpa[0];
		info->dpamt_pages[1] = n->hpa[1];
		info->dpamt_count = n->page_count;
	}
	return 0;
}
