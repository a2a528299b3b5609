/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * S-EPT manager (sept.c): entry encoding, tables, walks, entry locks.
 */
#ifndef TDXSIM_MODULE_SEPT_H
#define TDXSIM_MODULE_SEPT_H

#include "defs.h"

struct seamcall_ctx;
struct tdxsim;
struct td;

/* --------------------------------------------------------------------------
 * S-EPT.  A table is 512 u64 entries.  The internal entry encoding:
 *   bits  3:0  enum sept_state (FREE == 0, so a zeroed table is all FREE)
 *   bit     10 TDHP: host asked for the entry lock while it was held
 *   bit     11 TDEL: entry lock (host or guest)
 *   bits 51:12 PFN of the mapped page or of the child table
 *   bits 61:52 accept counter of a 2MB PENDING page (4K pages zeroed so far)
 * tdxsim_sept_info / RCX report the architectural form (sept_arch_entry()).
 */
enum sept_state {
	SEPT_FREE = 0,
	SEPT_NL_MAPPED,
	SEPT_NL_BLOCKED,
	SEPT_MAPPED,
	SEPT_BLOCKED,
	SEPT_PENDING,
	SEPT_PENDING_BLOCKED,
	SEPT_REMOVED,
	SEPT_NR_STATES,
};

#define SEPTE_STATE_MASK	0xFULL
#define SEPTE_HP		(1ULL << 10)
#define SEPTE_LOCK		(1ULL << 11)
#define SEPTE_PFN_MASK		0x000FFFFFFFFFF000ULL
#define SEPTE_ACCEPT_SHIFT	52
#define SEPTE_ACCEPT_MASK	(0x3FFULL << SEPTE_ACCEPT_SHIFT)

static inline enum sept_state septe_state(u64 e)
{
	return (enum sept_state)(e & SEPTE_STATE_MASK);
}

static inline u64 septe_hpa(u64 e)
{
	return e & SEPTE_PFN_MASK;
}

static inline unsigned int septe_accept_counter(u64 e)
{
	return (unsigned int)((e & SEPTE_ACCEPT_MASK) >> SEPTE_ACCEPT_SHIFT);
}

static inline u64 septe_make(enum sept_state s, u64 hpa)
{
	return (u64)s | (hpa & SEPTE_PFN_MASK);
}

static inline bool sept_state_is_leaf(enum sept_state s)
{
	return s == SEPT_MAPPED || s == SEPT_BLOCKED || s == SEPT_PENDING ||
	       s == SEPT_PENDING_BLOCKED;
}

static inline bool sept_state_is_nl(enum sept_state s)
{
	return s == SEPT_NL_MAPPED || s == SEPT_NL_BLOCKED;
}

static inline bool sept_state_any_blocked(enum sept_state s)
{
	return s == SEPT_NL_BLOCKED || s == SEPT_BLOCKED || s == SEPT_PENDING_BLOCKED;
}

struct sept_page {
	u64 e[PTRS_PER_TABLE];
	/* Child tables of NL entries; only tables whose entries are level >= 1. */
	struct sept_page **child;
	u64 hpa;
	u64 seq;		/* last call that wrote an entry */
	u16 td_id;
	u8 level;		/* level of the entries in this table */
	/* On its TD's list while the TD lives, else on sim->sept_free. */
	TAILQ_ENTRY(sept_page) link;
};

TAILQ_HEAD(sept_page_list, sept_page);

#define SEPT_SLAB_PAGES		63

/* A mapping of SEPT_SLAB_PAGES tables, returned only by tdxsim_destroy(). */
struct sept_slab {
	SLIST_ENTRY(sept_slab) link;
	size_t size;
};

SLIST_HEAD(sept_slab_list, sept_slab);

/* Result of a walk (sept_walk()). */
struct sept_walk {
	struct sept_page *table;	/* table holding the entry reached */
	unsigned int idx;
	int level;			/* level of the entry reached */
	u64 entry;			/* its value when read */
};

static inline u64 *sept_walk_ep(const struct sept_walk *w)
{
	return &w->table->e[w->idx];
}

/* sept.c */
/* A table for @hpa; @zero false when the caller writes all 512 entries. */
struct sept_page *sept_page_get(struct tdxsim *sim, struct td *td, u64 hpa, int level,
				bool zero);
void sept_page_put(struct tdxsim *sim, struct td *td, struct sept_page *sp);
void sept_slabs_free(struct tdxsim *sim);
void sept_walk(struct td *td, u64 gpa, int level, struct sept_walk *w);
u64 sept_arch_entry(u64 e);
u8 sept_public_state(enum sept_state s);
bool sept_lock_host(u64 *ep);
void sept_unlock(u64 *ep);
void sept_set(u64 *ep, u64 val);
u64 sept_read(const u64 *ep);
void sept_set_details(struct seamcall_ctx *c, const struct sept_walk *w);

/* Commit tails on the entry the call holds locked (c->locked_ep, c->walk). */
void sept_commit(struct seamcall_ctx *c, u64 val);
void sept_link_child(struct seamcall_ctx *c, struct sept_page *sp);
struct sept_page *sept_unlink_child(struct seamcall_ctx *c, u64 val);

#endif /* TDXSIM_MODULE_SEPT_H */
