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

/*
 * The 4K level is kept per 2MB range: a block of 512 entries (8 B each, one
 * host page) that sim->pamt_4k_blk points to.  Static PAMT populates every
 * block up front in one array, like the module's static PAMT (no page fault
 * in the middle of the first DEMOTE of a range).  With Dynamic PAMT a range
 * has a block only while it has a pair (spec §4.3): taken from a pool at
 * PAMT.ADD and DEMOTE, given back at PAMT.REMOVE and PROMOTE.  A range
 * without one reads as the shared read-only block of PT_NDA entries, so a
 * lookup never touches per-range memory that does not exist, and a write
 * to it faults.  Pool blocks come from slabs populated in one go (a page
 * fault each would cost more than the DEMOTE itself) and are kept until
 * tdxsim_destroy(): a lock-free reader that raced with PAMT.REMOVE reads
 * stale entries, never freed memory (as the S-EPT tables, sept.c).
 */
#define PAMT_BLK_SIZE		(PAGES_PER_2M * sizeof(struct pamt_entry))
#define PAMT_BLK_PER_SLAB	64

struct pamt_blk_slab {
	SLIST_ENTRY(pamt_blk_slab) link;
	void *mem;
};

int pamt_init(struct tdxsim *sim)
{
	u64 nr_2m = sim->cfg.mem_size / SZ_2M;
	u64 nr_1g = (sim->cfg.mem_size + SZ_1G - 1) / SZ_1G;

	pthread_mutex_init(&sim->pamt_blk_lock, NULL);
	SLIST_INIT(&sim->pamt_blk_slabs);
	sim->pamt_4k_blk = mem_vzalloc(nr_2m * sizeof(*sim->pamt_4k_blk));
	sim->pamt_4k_none = mmap(NULL, PAMT_BLK_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
				 -1, 0);
	if (sim->pamt_4k_none == MAP_FAILED)
		sim->pamt_4k_none = NULL;
	if (!sim_dpamt(sim)) {
		sim->pamt_4k = mmap(NULL, sim->nr_pages * sizeof(*sim->pamt_4k),
				    PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (sim->pamt_4k == MAP_FAILED)
			sim->pamt_4k = NULL;
		for (u64 i = 0; sim->pamt_4k && sim->pamt_4k_blk && i < nr_2m; i++)
			sim->pamt_4k_blk[i] = &sim->pamt_4k[i * PAGES_PER_2M];
	}
	sim->pamt_2m = mem_vzalloc(nr_2m * sizeof(*sim->pamt_2m));
	sim->pamt_1g = mem_vzalloc(nr_1g * sizeof(*sim->pamt_1g));
	sim->seq_2m = mem_vzalloc(nr_2m * sizeof(*sim->seq_2m));
	sim->dirty_hkid = mem_vzalloc(sim->nr_pages * sizeof(*sim->dirty_hkid));
	sim->dirty_hkid_ready = calloc((nr_1g + 63) / 64, sizeof(u64));
	if (sim_dpamt(sim))
		sim->dpamt = mem_vzalloc(nr_2m * sizeof(*sim->dpamt));
	if (!sim->pamt_4k_blk || !sim->pamt_4k_none || (!sim_dpamt(sim) && !sim->pamt_4k) ||
	    !sim->pamt_2m || !sim->pamt_1g || !sim->seq_2m || !sim->dirty_hkid ||
	    !sim->dirty_hkid_ready ||
	    (sim_dpamt(sim) && !sim->dpamt))
		return -ENOMEM;
	return 0;
}

void pamt_fini(struct tdxsim *sim)
{
	u64 nr_2m = sim->cfg.mem_size / SZ_2M;
	u64 nr_1g = (sim->cfg.mem_size + SZ_1G - 1) / SZ_1G;
	struct pamt_blk_slab *slab;

	while ((slab = SLIST_FIRST(&sim->pamt_blk_slabs))) {
		SLIST_REMOVE_HEAD(&sim->pamt_blk_slabs, link);
		munmap(slab->mem, PAMT_BLK_PER_SLAB * PAMT_BLK_SIZE);
		free(slab);
	}
	free(sim->pamt_blk_free);
	sim->pamt_blk_free = NULL;
	if (sim->pamt_4k_none)
		munmap(sim->pamt_4k_none, PAMT_BLK_SIZE);
	mem_vfree(sim->pamt_4k, sim->nr_pages * sizeof(*sim->pamt_4k));
	mem_vfree(sim->pamt_4k_blk, nr_2m * sizeof(*sim->pamt_4k_blk));
	mem_vfree(sim->pamt_2m, nr_2m * sizeof(*sim->pamt_2m));
	mem_vfree(sim->pamt_1g, nr_1g * sizeof(*sim->pamt_1g));
	mem_vfree(sim->seq_2m, nr_2m * sizeof(*sim->seq_2m));
	mem_vfree(sim->dirty_hkid, sim->nr_pages * sizeof(*sim->dirty_hkid));
	free(sim->dirty_hkid_ready);
	sim->dirty_hkid_ready = NULL;
	mem_vfree(sim->dpamt, nr_2m * sizeof(*sim->dpamt));
	sim->pamt_4k = NULL;
	sim->pamt_4k_blk = NULL;
	sim->pamt_4k_none = NULL;
	sim->pamt_2m = NULL;
	sim->pamt_1g = NULL;
	sim->seq_2m = NULL;
	sim->dirty_hkid = NULL;
	sim->dpamt = NULL;
	pthread_mutex_destroy(&sim->pamt_blk_lock);
}

/* One more slab of blocks for the pool.  Called with pamt_blk_lock. */
static int pamt_blk_grow(struct tdxsim *sim)
{
	struct pamt_blk_slab *slab = malloc(sizeof(*slab));
	struct pamt_entry **fl;

	if (!slab)
		return -ENOMEM;
	fl = realloc(sim->pamt_blk_free, (sim->pamt_blk_cap + PAMT_BLK_PER_SLAB) * sizeof(*fl));
	if (!fl)
		goto fail;
	sim->pamt_blk_free = fl;
	slab->mem = mmap(NULL, PAMT_BLK_PER_SLAB * PAMT_BLK_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (slab->mem == MAP_FAILED)
		goto fail;
	sim->pamt_blk_cap += PAMT_BLK_PER_SLAB;
	SLIST_INSERT_HEAD(&sim->pamt_blk_slabs, slab, link);
	/* Lowest address on top of the stack. */
	for (unsigned int i = 0; i < PAMT_BLK_PER_SLAB; i++)
		fl[sim->nr_pamt_blk_free++] = (struct pamt_entry *)slab->mem +
					       (u64)(PAMT_BLK_PER_SLAB - 1 - i) * PAGES_PER_2M;
	return 0;
fail:
	free(slab);
	return -ENOMEM;
}

/*
 * A block of 4K entries for a range getting a pair: zeroed (all PT_NDA,
 * unlocked) when @zero, else the caller writes all 512.  NULL when the host
 * is out of memory.
 */
struct pamt_entry *pamt_4k_block_get(struct tdxsim *sim, bool zero)
{
	struct pamt_entry *blk = NULL;

	pthread_mutex_lock(&sim->pamt_blk_lock);
	if (sim->nr_pamt_blk_free || !pamt_blk_grow(sim))
		blk = sim->pamt_blk_free[--sim->nr_pamt_blk_free];
	pthread_mutex_unlock(&sim->pamt_blk_lock);
	if (blk && zero)
		memset(blk, 0, PAMT_BLK_SIZE);
	return blk;
}

/* Back to the pool: the range lost its pair, or the leaf that took it failed. */
void pamt_4k_block_put(struct tdxsim *sim, struct pamt_entry *blk)
{
	pthread_mutex_lock(&sim->pamt_blk_lock);
	sim->pamt_blk_free[sim->nr_pamt_blk_free++] = blk;	/* LIFO: reuse a warm one */
	pthread_mutex_unlock(&sim->pamt_blk_lock);
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
	if (l->e1g)
		pamt_unlock(l->e1g, TDX_LOCK_SHARED);
	l->e = NULL;
	l->e2m = NULL;
	l->e1g = NULL;
}

/* Does @c hold @e through a walk other than @except (the one in progress)? */
static bool walk_holds(const struct pamt_locked *l, const struct pamt_entry *e,
		       const struct pamt_locked *except)
{
	return l != except && (l->e == e || l->e2m == e || l->e1g == e);
}

static bool ctx_holds_pamt_entry(struct seamcall_ctx *c, const struct pamt_entry *e,
				 const struct pamt_locked *except)
{
	if (walk_holds(&c->tdr, e, except))
		return true;
	for (unsigned int i = 0; i < c->npl; i++) {
		if (walk_holds(&c->pl[i], e, except))
			return true;
	}
	return false;
}

/*
 * A BUSY the call causes itself: it already holds the entry it now needs,
 * so the same call answers BUSY every time, on real hardware too (see "Host
 * bugs that never clear" in tdxsim.h).  A host that retries it loops
 * forever: the second identical failure in a row is recorded as host misuse,
 * so tdxsim_check() names it.
 */
static void note_self_busy(struct seamcall_ctx *c, u64 pa, int level, u32 operand)
{
	struct tdxsim *sim = c->sim;
	u64 tdr = c->td ? c->td->tdr_pa : 0;
	const char *leaf = c->tdcall ? NULL : tdxsim_leaf_name(c->leaf);
	char name[64];
	bool again;

	pthread_mutex_lock(&sim->misuse_lock);
	again = sim->self_busy.leaf == c->leaf && sim->self_busy.pa == pa &&
		sim->self_busy.operand == operand && sim->self_busy.tdr == tdr;
	sim->self_busy.leaf = c->leaf;
	sim->self_busy.pa = pa;
	sim->self_busy.operand = operand;
	sim->self_busy.tdr = tdr;
	sim->self_busy.repeats = again ? sim->self_busy.repeats + 1 : 0;
	again = sim->self_busy.repeats == 1;
	pthread_mutex_unlock(&sim->misuse_lock);
	if (!again)
		return;
	tdxsim_status_name(api_error_with_operand_id(TDX_OPERAND_BUSY, operand), name,
			   sizeof(name));
	sim_record_misuse(sim, pa,
			  "%s retried: %s on the %s PAMT entry of %#llx never clears, the call itself holds it",
			  leaf ? leaf : "leaf", name,
			  level == TDX_PS_4K ? "4K" : level == TDX_PS_2M ? "2MB" : "1GB",
			  (unsigned long long)pa);
}

/* One try-lock (or promotion) of the walk; on failure, why. */
static inline __attribute__((always_inline)) bool
walk_try(struct seamcall_ctx *c, struct pamt_entry *e, enum lock_type t,
	 bool promote, u64 pa, int level, u32 operand, const struct pamt_locked *out)
{
	u64 base = pa & ~(tdx_level_size(level) - 1);
	bool ok = promote ? ctx_pamt_try_promote(c, e, base, level, operand) :
			    ctx_pamt_try_lock(c, e, t, base, level, operand);

	if (!ok && ctx_holds_pamt_entry(c, e, out))
		note_self_busy(c, base, level, operand);
	return ok;
}

/*
 * pamt_walk() (pamt_manager.c): towards @level, the 1GB entry shared, then
 * (unless it is the leaf) the 2MB entry shared, then the 4K entry with @t; a
 * leaf above 4K taken shared first and promoted when @t is exclusive.  The
 * parents stay held shared until the unwalk, in static PAMT mode as with
 * Dynamic PAMT, so a 2MB exclusive walk and any walk through the same 2MB
 * entry contend.  A 4K level exists with Dynamic PAMT only while the 2MB
 * entry is PT_PAMT.  Types are read after each lock, as the module does.
 * On success out->e is locked @t and out->level says which level it is.
 *
 * The 8-bit lock counts 127 shared holders at most: a walk that would be the
 * 128th one through a 1GB entry answers BUSY.
 */
u64 pamt_lock_page(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
		   u32 operand, struct pamt_locked *out)
{
	struct tdxsim *sim = c->sim;
	struct pamt_entry *e1g = pamt_entry_at(sim, pa, TDX_PS_1G);
	struct pamt_entry *e2m, *e4k;
	bool excl = t == TDX_LOCK_EXCLUSIVE;
	u8 pt;

	memset(out, 0, sizeof(*out));
	out->t = t;
	if (!walk_try(c, e1g, TDX_LOCK_SHARED, false, pa, TDX_PS_1G, operand, out))
		return api_error_with_operand_id(TDX_OPERAND_BUSY, operand);
	if (__atomic_load_n(&e1g->pt, __ATOMIC_ACQUIRE) != PT_NDA || level == TDX_PS_1G) {
		out->t = excl ? TDX_LOCK_EXCLUSIVE : TDX_LOCK_SHARED;
		if (excl && !walk_try(c, e1g, t, true, pa, TDX_PS_1G, operand, out))
			goto busy_1g;
		out->e = e1g;
		out->level = TDX_PS_1G;
		return TDX_SUCCESS;
	}
	e2m = pamt_entry_at(sim, pa, TDX_PS_2M);
	if (!walk_try(c, e2m, TDX_LOCK_SHARED, false, pa, TDX_PS_2M, operand, out))
		goto busy_1g;
	pt = __atomic_load_n(&e2m->pt, __ATOMIC_ACQUIRE);
	if ((sim_dpamt(sim) ? pt != PT_PAMT : pt != PT_NDA) || level == TDX_PS_2M) {
		out->t = excl ? TDX_LOCK_EXCLUSIVE : TDX_LOCK_SHARED;
		if (excl && !walk_try(c, e2m, t, true, pa, TDX_PS_2M, operand, out))
			goto busy_2m;
		out->e = e2m;
		out->e1g = e1g;
		out->level = TDX_PS_2M;
		return TDX_SUCCESS;
	}
	e4k = pamt_entry_at(sim, pa, TDX_PS_4K);
	if (!walk_try(c, e4k, t, false, pa, TDX_PS_4K, operand, out))
		goto busy_2m;
	out->e = e4k;
	out->e2m = e2m;
	out->e1g = e1g;
	out->level = TDX_PS_4K;
	return TDX_SUCCESS;
busy_2m:
	pamt_unlock(e2m, TDX_LOCK_SHARED);
busy_1g:
	pamt_unlock(e1g, TDX_LOCK_SHARED);
	return api_error_with_operand_id(TDX_OPERAND_BUSY, operand);
}

/*
 * pamt_implicit_get_and_lock() (pamt_manager.c): the entry of a page whose
 * level the caller already knows (an S-EPT leaf, a TDR reached through its
 * TDVPR, the page DEMOTE splits), locked @t directly, no walk: the parents
 * are not held.  One difference: with Dynamic PAMT a 4K entry lives in its
 * range's pair pages, and tdxsim holds the 2MB entry shared for as long as it
 * holds the 4K one so that PAMT.REMOVE cannot take that storage away under
 * the lock (the module relies on the host's page refcounts there).
 */
u64 pamt_lock_implicit(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
		       u32 operand, struct pamt_locked *out)
{
	struct tdxsim *sim = c->sim;
	struct pamt_entry *e, *e2m = NULL;

	memset(out, 0, sizeof(*out));
	out->t = t;
	out->level = level;
	if (level == TDX_PS_4K && sim_dpamt(sim)) {
		e2m = pamt_entry_at(sim, pa, TDX_PS_2M);
		if (!walk_try(c, e2m, TDX_LOCK_SHARED, false, pa, TDX_PS_2M, operand, out))
			return api_error_with_operand_id(TDX_OPERAND_BUSY, operand);
		/*
		 * The callers know a TD owns the 4K page, so its range has a
		 * pair (the module treats anything else as fatal); the 4K
		 * entries exist only then.
		 */
		if (__atomic_load_n(&e2m->pt, __ATOMIC_ACQUIRE) != PT_PAMT) {
			pamt_unlock(e2m, TDX_LOCK_SHARED);
			return api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, operand);
		}
	}
	e = pamt_entry_at(sim, pa, level);
	if (!walk_try(c, e, t, false, pa, level, operand, out)) {
		if (e2m)
			pamt_unlock(e2m, TDX_LOCK_SHARED);
		return api_error_with_operand_id(TDX_OPERAND_BUSY, operand);
	}
	out->e = e;
	out->e2m = e2m;
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

		/*
		 * DPAMT: the bitmap; static PAMT: each 4K entry.  Atomic reads: a
		 * REMOVE in the range locks its 4K entry implicitly, without the
		 * 2MB entry we hold, and may be committing meanwhile.
		 */
		for (unsigned int i = 0; i < PAGES_PER_2M; i++) {
			u8 f = __atomic_load_n(&sim->page_flags[idx + i], __ATOMIC_RELAXED);

			if (f & PG_PAMT_PAGE ||
			    (!sim_dpamt(sim) && __atomic_load_n(&sim->pamt_4k[idx + i].pt,
								__ATOMIC_ACQUIRE) != PT_NDA)) {
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

/* Does any of the 8 pages from @idx (a multiple of 8) carry a flag of @f? */
static bool range_flags8_any(struct tdxsim *sim, u64 idx, u8 f)
{
	u64 w = __atomic_load_n((u64 *)&sim->page_flags[idx], __ATOMIC_RELAXED);

	return w & (0x0101010101010101ULL * f);
}

/*
 * Record the HKID page @idx is dirty with (page_dirty_hkid()).  In the
 * array, its 1GB's part (512 KiB) is committed in one go the first time:
 * pages are released in any order, and a fault per 2048 pages costs more
 * than the calls they serve.
 */
static void dirty_hkid_set(struct tdxsim *sim, u64 idx, u16 hkid)
{
	u64 region = idx >> (30 - PAGE_SHIFT), bit = 1ULL << (region % 64);
	u64 *ready = &sim->dirty_hkid_ready[region / 64];
	struct pamt_entry *blk = sim->pamt_4k_blk[idx / PAGES_PER_2M];

	/* Relaxed stores: page_dirty_hkid() may read them in tdxsim_pamt_lookup(). */
	if (blk) {
		__atomic_store_n(&blk[idx % PAGES_PER_2M].owner, hkid, __ATOMIC_RELAXED);
		return;
	}

	if (unlikely(!(__atomic_load_n(ready, __ATOMIC_ACQUIRE) & bit))) {
		u64 first = region << (30 - PAGE_SHIFT);
		u64 n = sim->nr_pages - first < (1ULL << (30 - PAGE_SHIFT)) ?
			sim->nr_pages - first : 1ULL << (30 - PAGE_SHIFT);

		mem_vpopulate(&sim->dirty_hkid[first], n * sizeof(*sim->dirty_hkid));
		__atomic_fetch_or(ready, bit, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&sim->dirty_hkid[idx], hkid, __ATOMIC_RELAXED);
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
		hkid = page_dirty_hkid(sim, p);
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
	__atomic_store_n(&e->owner, owner, __ATOMIC_RELAXED);	/* read by tdxsim_pamt_lookup() */
	__atomic_store_n(&e->bepoch, 0, __ATOMIC_RELAXED);	/* read by guest walks */
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

	__atomic_store_n(&e->owner, 0, __ATOMIC_RELAXED);	/* read by tdxsim_pamt_lookup() */
	__atomic_store_n(&e->bepoch, 0, __ATOMIC_RELAXED);	/* read by guest walks */
	__atomic_store_n(&e->pt, PT_NDA, __ATOMIC_RELEASE);
	seq_touch(sim, pa, seq);
	if (!flags)
		return;
	for (u64 i = 0; i < npages; i++) {
		u64 p = pa + (i << PAGE_SHIFT);

		if (dirty)
			dirty_hkid_set(sim, pa_to_idx(sim, p), hkid);
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
void dpamt_pair_install(struct seamcall_ctx *c, u64 range, const u64 pair[2], u16 count,
			struct pamt_entry *blk)
{
	struct tdxsim *sim = c->sim;
	struct dpamt_node *n = &sim->dpamt[pa_to_idx2m(sim, range)];

	/*
	 * PAMT.ADD: pages of the range still dirty from a 2MB release move
	 * their HKIDs into the new 4K entries (at DEMOTE, @count 512, the TD
	 * owns every page: none is dirty).  Then the block before the type: a
	 * walk that sees PT_PAMT finds it.
	 */
	for (unsigned int i = 0; !count && i < PAGES_PER_2M; i++) {
		u64 idx = pa_to_idx(sim, range) + i;

		if (!(i % 8) && !range_flags8_any(sim, idx, PG_DIRTY)) {
			i += 7;
			continue;
		}
		if (page_flags_get(sim, idx_to_pa(sim, idx)) & PG_DIRTY) {
			blk[i].owner = sim->dirty_hkid[idx];
			/* One place at a time; relaxed, as page_dirty_hkid() reads it. */
			__atomic_store_n(&sim->dirty_hkid[idx], 0, __ATOMIC_RELAXED);
		}
	}
	__atomic_store_n(&sim->pamt_4k_blk[pa_to_idx2m(sim, range)], blk, __ATOMIC_RELEASE);
	/* Relaxed stores (plain moves): tdxsim_pamt_lookup() reads them unlocked. */
	__atomic_store_n(&n->hpa[0], pair[0], __ATOMIC_RELAXED);
	__atomic_store_n(&n->hpa[1], pair[1], __ATOMIC_RELAXED);
	__atomic_store_n(&n->page_count, count, __ATOMIC_RELAXED);
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
	bool in_use = __atomic_load_n(&n->page_count, __ATOMIC_RELAXED);	/* PROMOTE: all the TD's */
	struct pamt_entry *blk;

	for (unsigned int i = 0; i < 2; i++) {
		pair[i] = n->hpa[i];
		page_flags_clear(sim, n->hpa[i], PG_PAMT_PAGE);
		if (sim->cfg.reset_quirk)
			page_flags_set(sim, n->hpa[i], PG_NEEDS_RESET);
	}
	/* Field by field, not memset(): tdxsim_pamt_lookup() reads them unlocked. */
	__atomic_store_n(&n->hpa[0], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&n->hpa[1], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&n->page_count, 0, __ATOMIC_RELAXED);
	/*
	 * The range's 4K level goes with the pair (its entries are all
	 * PT_NDA); the HKIDs of its dirty pages move to the array first.
	 */
	blk = sim->pamt_4k_blk[pa_to_idx2m(sim, range)];
	if (!blk)
		return;
	__atomic_store_n(&sim->pamt_4k_blk[pa_to_idx2m(sim, range)], NULL, __ATOMIC_RELEASE);
	for (unsigned int i = 0; !in_use && i < PAGES_PER_2M; i++) {
		u64 idx = pa_to_idx(sim, range) + i;

		if (!(i % 8) && !range_flags8_any(sim, idx, PG_DIRTY)) {
			i += 7;
			continue;
		}
		if (page_flags_get(sim, idx_to_pa(sim, idx)) & PG_DIRTY)
			dirty_hkid_set(sim, idx, blk[i].owner);
	}
	pamt_4k_block_put(sim, blk);
}

int tdxsim_pamt_lookup(struct tdxsim *sim, u64 hpa, struct tdxsim_pamt_info *info)
{
	struct pamt_entry *e;
	u16 owner;
	u8 f;

	memset(info, 0, sizeof(*info));
	if (!mem_in_tdmr(sim, hpa))
		return -EINVAL;
	/*
	 * SEAMCALLs on other threads change what this reads (dpamt_inc() on
	 * every AUG and REMOVE, the entries on AUG, REMOVE, DEMOTE, PROMOTE,
	 * PAMT.ADD/REMOVE): each field is one relaxed atomic load, so the
	 * result is a snapshot whose fields may come from different moments
	 * (tdxsim.h).  The writers' atomic stores are plain moves on x86.
	 */
	info->level = pamt_leaf_level(sim, hpa);
	e = pamt_entry_at(sim, hpa, info->level);
	info->pt = __atomic_load_n(&e->pt, __ATOMIC_ACQUIRE);
	info->bepoch = __atomic_load_n(&e->bepoch, __ATOMIC_RELAXED);
	owner = __atomic_load_n(&e->owner, __ATOMIC_RELAXED);
	if (info->pt != PT_NDA && info->pt != PT_TDR && owner) {
		struct td *td = td_by_id(sim, owner);

		info->owner = td ? td->tdr_pa : 0;
	}
	f = page_flags_get(sim, hpa);
	info->pamt_page = f & PG_PAMT_PAGE;
	info->allocated = f & PG_ALLOCATED;
	info->dirty = f & PG_DIRTY;
	info->needs_reset = f & PG_NEEDS_RESET;
	if (info->dirty)
		info->dirty_hkid = page_dirty_hkid(sim, hpa);
	if (sim_dpamt(sim) &&
	    __atomic_load_n(&pamt_entry_at(sim, hpa, TDX_PS_2M)->pt, __ATOMIC_ACQUIRE) == PT_PAMT) {
		struct dpamt_node *n = &sim->dpamt[pa_to_idx2m(sim, hpa)];

		info->dpamt_pair = true;
		info->dpamt_pages[0] = __atomic_load_n(&n->hpa[0], __ATOMIC_RELAXED);
		info->dpamt_pages[1] = __atomic_load_n(&n->hpa[1], __ATOMIC_RELAXED);
		info->dpamt_count = __atomic_load_n(&n->page_count, __ATOMIC_RELAXED);
	}
	return 0;
}
