// SPDX-License-Identifier: GPL-2.0-only
/*
 * Secure EPT: tables, the walk, entry locks and the architectural view of an
 * entry (spec seamcall.md §0.2, §3).
 *
 * A table's memory is kept until tdxsim_destroy(): a retired table goes to a
 * free list and is reused by the next SEPT.ADD/DEMOTE, so a walker that raced
 * with the retirement reads stale entries (as on hardware) but never freed
 * memory.
 */
#include <sys/mman.h>

#include "tdxsim-internal.h"

/*
 * Tables come from slabs mapped and populated in one go, so that a DEMOTE
 * does not take a page fault for its new table.  Called with sept_lock.
 */
static int sept_slab_grow(struct tdxsim *sim)
{
	size_t size = SEPT_SLAB_PAGES * sizeof(struct sept_page) + sizeof(struct sept_slab);
	struct sept_slab *slab;
	struct sept_page *sp;

	slab = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (slab == MAP_FAILED)
		return -ENOMEM;
	slab->size = size;
	SLIST_INSERT_HEAD(&sim->sept_slabs, slab, link);
	sp = (struct sept_page *)(slab + 1);
	for (unsigned int i = 0; i < SEPT_SLAB_PAGES; i++)
		TAILQ_INSERT_TAIL(&sim->sept_free, &sp[i], link);
	return 0;
}

void sept_slabs_free(struct tdxsim *sim)
{
	struct sept_slab *slab;
	struct sept_page *sp;

	TAILQ_FOREACH(sp, &sim->sept_free, link)
		free(sp->child);
	while ((slab = SLIST_FIRST(&sim->sept_slabs))) {
		SLIST_REMOVE_HEAD(&sim->sept_slabs, link);
		munmap(slab, slab->size);
	}
}

struct sept_page *sept_page_get(struct tdxsim *sim, struct td *td, u64 hpa, int level,
				bool zero)
{
	struct sept_page *sp;

	pthread_mutex_lock(&sim->sept_lock);
	if (TAILQ_EMPTY(&sim->sept_free) && sept_slab_grow(sim)) {
		sp = NULL;
		goto out;
	}
	sp = TAILQ_FIRST(&sim->sept_free);
	if (level >= TDX_PS_2M && !sp->child) {
		/* Out of memory: the table stays free, the caller fails the call. */
		sp->child = calloc(PTRS_PER_TABLE, sizeof(*sp->child));
		if (!sp->child) {
			sp = NULL;
			goto out;
		}
	} else if (sp->child) {
		memset(sp->child, 0, PTRS_PER_TABLE * sizeof(*sp->child));
	}
	TAILQ_REMOVE(&sim->sept_free, sp, link);
	if (zero)
		memset(sp->e, 0, sizeof(sp->e));	/* SEPTE_INIT_VALUE: all FREE */
	sp->hpa = hpa;
	sp->td_id = td->id;
	sp->level = (u8)level;
	sp->seq = 0;
	TAILQ_INSERT_TAIL(&td->sept_pages, sp, link);
out:
	pthread_mutex_unlock(&sim->sept_lock);
	return sp;
}

void sept_page_put(struct tdxsim *sim, struct td *td, struct sept_page *sp)
{
	pthread_mutex_lock(&sim->sept_lock);
	TAILQ_REMOVE(&td->sept_pages, sp, link);
	sp->hpa = 0;
	TAILQ_INSERT_HEAD(&sim->sept_free, sp, link);	/* LIFO: reuse a warm table */
	pthread_mutex_unlock(&sim->sept_lock);
}

u64 sept_read(const u64 *ep)
{
	return __atomic_load_n(ep, __ATOMIC_ACQUIRE);
}

static unsigned int sept_index(u64 gpa, int level)
{
	return (gpa >> (PAGE_SHIFT + TDX_PTE_SHIFT * level)) & (PTRS_PER_TABLE - 1);
}

/*
 * Walk from the root towards @level.  The walk descends only through
 * NL_MAPPED entries: it stops early at a leaf or at any entry with RWX == 0
 * (FREE, NL_BLOCKED, PENDING*, BLOCKED*) (secure_ept_walk()).
 * w->level says where it stopped.
 */
void sept_walk(struct td *td, u64 gpa, int level, struct sept_walk *w)
{
	struct sept_page *sp = td->root;
	int lvl = td->sept_levels - 1;

	for (;;) {
		unsigned int idx = sept_index(gpa, lvl);
		u64 e = sept_read(&sp->e[idx]);

		w->table = sp;
		w->idx = idx;
		w->level = lvl;
		w->entry = e;
		if (lvl == level || septe_state(e) != SEPT_NL_MAPPED)
			return;
		sp = __atomic_load_n(&sp->child[idx], __ATOMIC_ACQUIRE);
		lvl--;
	}
}

u8 sept_public_state(enum sept_state s)
{
	static const u8 pub[SEPT_NR_STATES] = {
		[SEPT_FREE] = SEPT_PUBLIC_FREE,
		[SEPT_NL_MAPPED] = SEPT_PUBLIC_NL_MAPPED,
		[SEPT_NL_BLOCKED] = SEPT_PUBLIC_NL_BLOCKED,
		[SEPT_MAPPED] = SEPT_PUBLIC_MAPPED,
		[SEPT_BLOCKED] = SEPT_PUBLIC_BLOCKED,
		[SEPT_PENDING] = SEPT_PUBLIC_PENDING,
		[SEPT_PENDING_BLOCKED] = SEPT_PUBLIC_PENDING_BLOCKED,
		[SEPT_REMOVED] = SEPT_PUBLIC_REMOVED,
	};

	return pub[s];
}

/*
 * The architectural entry (set_arch_septe_details_in_vmm_regs()).  FREE reads
 * as SVE alone.  Otherwise the module masks its entry: a leaf (PS set, on 4K
 * leaves too, since PS and IPAT are part of every leaf state's encoding) keeps
 * HPA, RWX, MT (WB), IPAT, PS and SVE (always set on a leaf); a non-leaf
 * entry keeps only RWX and PS (0), so no address.  RWX is 7 only for MAPPED
 * and NL_MAPPED: AUG writes PENDING with no permissions and BLOCK clears them.
 * REMOVED is not FREE and not a leaf: 0.
 */
u64 sept_arch_entry(u64 e)
{
	enum sept_state s = septe_state(e);
	u64 rwx = SEPT_ARCH_R | SEPT_ARCH_W | SEPT_ARCH_X;

	if (s == SEPT_FREE)
		return SEPT_ARCH_SVE;
	if (!sept_state_is_leaf(s))
		return s == SEPT_NL_MAPPED ? rwx : 0;
	return septe_hpa(e) | SEPT_ARCH_MT_WB | SEPT_ARCH_IPAT | SEPT_ARCH_PS | SEPT_ARCH_SVE |
	       (s == SEPT_MAPPED ? rwx : 0);
}

/*
 * Host side of the entry lock (sept_lock_acquire_host): a held lock makes the
 * host fail with BUSY, after setting the host-priority bit so the guest backs
 * off on its next attempt.  Winning clears the host-priority bit.
 */
bool sept_lock_host(u64 *ep)
{
	u64 v = __atomic_load_n(ep, __ATOMIC_RELAXED);

	for (;;) {
		if (v & SEPTE_LOCK) {
			__atomic_fetch_or(ep, SEPTE_HP, __ATOMIC_RELAXED);
			return false;
		}
		if (__atomic_compare_exchange_n(ep, &v, (v | SEPTE_LOCK) & ~SEPTE_HP, true,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return true;
	}
}

void sept_unlock(u64 *ep)
{
	__atomic_fetch_and(ep, ~SEPTE_LOCK, __ATOMIC_RELEASE);
}

/* Write a new value, keeping the lock and host-priority bits. */
void sept_set(u64 *ep, u64 val)
{
	u64 v = __atomic_load_n(ep, __ATOMIC_RELAXED);

	val &= ~(SEPTE_LOCK | SEPTE_HP);
	while (!__atomic_compare_exchange_n(ep, &v, val | (v & (SEPTE_LOCK | SEPTE_HP)), true,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

/* Write the entry the call holds locked (the one c->walk reached). */
void sept_commit(struct seamcall_ctx *c, u64 val)
{
	sept_set(c->locked_ep, val);
	seq_note(&c->walk.table->seq, c->seq);
}

/*
 * Link the filled child table @sp under the locked entry, which becomes
 * NL_MAPPED to sp->hpa.  The child is published before the entry, so a walker
 * that sees NL_MAPPED finds it.
 */
void sept_link_child(struct seamcall_ctx *c, struct sept_page *sp)
{
	seq_note(&sp->seq, c->seq);
	__atomic_store_n(&c->walk.table->child[c->walk.idx], sp, __ATOMIC_RELEASE);
	sept_commit(c, septe_make(SEPT_NL_MAPPED, sp->hpa));
}

/*
 * Unlink the child table of the locked non-leaf entry, which becomes @val.
 * Returns the table; the caller retires it with sept_page_put().
 */
struct sept_page *sept_unlink_child(struct seamcall_ctx *c, u64 val)
{
	struct sept_page *sp = c->walk.table->child[c->walk.idx];

	sept_set(c->locked_ep, val);
	__atomic_store_n(&c->walk.table->child[c->walk.idx], NULL, __ATOMIC_RELEASE);
	seq_note(&c->walk.table->seq, c->seq);
	return sp;
}

/* set_arch_septe_details_in_vmm_regs(): RCX = entry, RDX = level | state << 8. */
void sept_set_details(struct seamcall_ctx *c, const struct sept_walk *w)
{
	enum sept_state s = septe_state(w->entry);

	c->args->rcx = sept_arch_entry(w->entry);
	c->args->rdx = (u64)w->level | ((u64)sept_public_state(s) << TDX_SEPT_INFO_STATE_SHIFT);
}

static void fill_info(const struct sept_walk *w, struct tdxsim_sept_info *info)
{
	enum sept_state s = septe_state(w->entry);

	info->level = w->level;
	info->state = sept_public_state(s);
	info->leaf = sept_state_is_leaf(s);
	info->hpa = s == SEPT_FREE ? 0 : septe_hpa(w->entry);
	info->entry = sept_arch_entry(w->entry);
	info->accept_counter = (u16)septe_accept_counter(w->entry);
}

static struct td *td_of_handle(struct tdxsim *sim, const struct tdxsim_td *td)
{
	struct td *t;

	if (!td)
		return NULL;
	t = td_by_tdr(sim, td->tdr_pa);
	return t && t->root ? t : NULL;
}

int tdxsim_sept_lookup(struct tdxsim *sim, const struct tdxsim_td *td, u64 gpa,
		       struct tdxsim_sept_info *info)
{
	struct td *t = td_of_handle(sim, td);
	struct sept_walk w;

	memset(info, 0, sizeof(*info));
	if (!t || gpa >= (1ULL << t->gpaw))
		return -EINVAL;
	sept_walk(t, gpa, TDX_PS_4K, &w);
	fill_info(&w, info);
	return 0;
}

int tdxsim_sept_lookup_level(struct tdxsim *sim, const struct tdxsim_td *td, u64 gpa,
			     int level, struct tdxsim_sept_info *info)
{
	struct td *t = td_of_handle(sim, td);
	struct sept_walk w;

	memset(info, 0, sizeof(*info));
	if (!t || gpa >= (1ULL << t->gpaw) || level < 0 || level >= t->sept_levels)
		return -EINVAL;
	sept_walk(t, gpa, level, &w);
	fill_info(&w, info);
	return w.level == level ? 0 : -ENOENT;
}
