/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * PAMT manager (pamt.c): static and Dynamic PAMT entries, their locks,
 * the host-side page flags.
 */
#ifndef TDXSIM_MODULE_PAMT_H
#define TDXSIM_MODULE_PAMT_H

#include "lock.h"

struct seamcall_ctx;
struct tdxsim;
struct td;

/* --------------------------------------------------------------------------
 * PAMT.  One 8-byte entry per 4K page, per 2MB and per 1GB of the TDMR (the
 * module's entry is 16 bytes; the lock and bepoch are narrower here).  With
 * Dynamic PAMT the 4K level of a 2MB range exists only while its 2MB entry is
 * PT_PAMT (a page pair is installed): the array is only reserved, and a
 * range's 512 entries (one host page) are resident only while it has a pair.
 * Read a 4K entry only after the walk found the 2MB entry PT_PAMT.
 */
struct pamt_entry {
	u32 bepoch;
	u16 owner;		/* TD id (index into sim->tds), 0 = none */
	u8 pt;			/* enum pamt_page_type */
	u8 lock;		/* bit 7 exclusive, bits 6:0 shared holders */
};

#define PAMT_LOCK_EXCL		0x80

static inline bool pamt_try_lock(struct pamt_entry *p, enum lock_type t)
{
	u8 v = __atomic_load_n(&p->lock, __ATOMIC_RELAXED);

	if (t == TDX_LOCK_NO_LOCK)
		return true;
	if (t == TDX_LOCK_EXCLUSIVE) {
		v = 0;
		return __atomic_compare_exchange_n(&p->lock, &v, PAMT_LOCK_EXCL, false,
						   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	}
	do {
		if (v & PAMT_LOCK_EXCL || v == 0x7f)
			return false;
	} while (!__atomic_compare_exchange_n(&p->lock, &v, v + 1, true,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return true;
}

/*
 * promote_sharex_lock_hp(): the caller's own shared hold becomes exclusive,
 * only if it is the single holder.  Else BUSY, the shared hold kept.
 */
static inline bool pamt_try_promote(struct pamt_entry *p)
{
	u8 v = 1;

	return __atomic_compare_exchange_n(&p->lock, &v, PAMT_LOCK_EXCL, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void pamt_unlock(struct pamt_entry *p, enum lock_type t)
{
	if (t == TDX_LOCK_EXCLUSIVE)
		__atomic_store_n(&p->lock, 0, __ATOMIC_RELEASE);
	else if (t == TDX_LOCK_SHARED)
		__atomic_fetch_sub(&p->lock, 1, __ATOMIC_RELEASE);
}

/* Dynamic PAMT node of a 2MB range (valid while pamt_2m.pt == PT_PAMT). */
struct dpamt_node {
	u64 hpa[2];
	u16 page_count;
};

/* Host-side state of each 4K page (sim->page_flags). */
#define PG_ALLOCATED		0x01	/* handed out by tdxsim_page_alloc() */
#define PG_DIRTY		0x02	/* cache lines written with a TD key */
#define PG_NEEDS_RESET		0x04	/* reset quirk: must be reset before reuse */
#define PG_PAMT_PAGE		0x08	/* the PAMT page bitmap bit: a DPAMT page */

/*
 * A PAMT walk held (pamt_walk_result_t): the leaf entry @e locked @t, and the
 * parent entries the walk passed through held shared until the unwalk.
 */
struct pamt_locked {
	struct pamt_entry *e;
	enum lock_type t;
	int level;			/* level of @e: where the PAMT walk stopped */
	struct pamt_entry *e2m;		/* the 2MB parent of a 4K leaf, held shared */
	struct pamt_entry *e1g;		/* the 1GB parent of a 2MB/4K leaf, held shared */
};


/* pamt.c */
int pamt_init(struct tdxsim *sim);
void pamt_fini(struct tdxsim *sim);
bool hpa_valid(const struct tdxsim *sim, u64 pa, u64 align);
bool shared_hpa_valid(const struct tdxsim *sim, u64 pa, u64 align);
bool hpa_in_tdmr(const struct tdxsim *sim, u64 pa, u64 size);
u64 hpa_check_operand(struct seamcall_ctx *c, u64 pa, u64 align, u32 operand);
u64 pamt_lock_page(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
		   u32 operand, struct pamt_locked *out);
u64 pamt_lock_implicit(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
		       u32 operand, struct pamt_locked *out);
void pamt_unlock_page(struct pamt_locked *l);
u64 pamt_check_free_page(struct seamcall_ctx *c, u64 pa, int level, u32 operand,
			 struct pamt_locked *out);

/* Commit tails shared by the leaves: a page taken by the module, given back. */
void pamt_page_take(struct seamcall_ctx *c, struct td *td, u64 pa, int level, u8 pt);
u64 pamt_page_give_back(struct seamcall_ctx *c, struct td *td, u64 pa, int level, bool dirty);

/* The Dynamic-PAMT page pair of a 2MB range: claimed, installed, released. */
bool dpamt_page_claim(struct tdxsim *sim, u64 pa);
void dpamt_page_unclaim(struct tdxsim *sim, u64 pa);
void dpamt_pair_install(struct seamcall_ctx *c, u64 range, const u64 pair[2], u16 count,
			struct pamt_entry *blk);
struct pamt_entry *pamt_4k_block_get(struct tdxsim *sim, bool zero);
void pamt_4k_block_put(struct tdxsim *sim, struct pamt_entry *blk);
void dpamt_pair_release(struct tdxsim *sim, u64 range, u64 pair[2]);

#endif /* TDXSIM_MODULE_PAMT_H */
