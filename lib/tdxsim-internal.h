/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to lib/: the module's data structures.  Layout follows the module:
 * PAMT (pamt.c), S-EPT (sept.c), TD control structures (td.c), one file per
 * SEAMCALL leaf or small family, a shared check prologue (prologue.c).
 */
#ifndef TDXSIM_INTERNAL_H
#define TDXSIM_INTERNAL_H

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/queue.h>
#include <uthash.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/fault.h>
#include <tdxsim/trace.h>

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

#define PAGE_SHIFT		12
#define PAGE_SIZE		(1ULL << PAGE_SHIFT)
#define SZ_2M			(1ULL << 21)
#define SZ_1G			(1ULL << 30)
#define PAGES_PER_2M		512
#define PTRS_PER_TABLE		512

#define api_error_with_operand_id(err, id)	((err) | (u64)(id))

/* --------------------------------------------------------------------------
 * Try-locks.  The module never waits on its locks: contention is a BUSY.
 * sharex lock: bit 31 exclusive, bits 30:0 shared holders.
 */
enum lock_type {
	TDX_LOCK_NO_LOCK = 0,
	TDX_LOCK_SHARED,
	TDX_LOCK_EXCLUSIVE,
};

#define SHAREX_EXCL		0x80000000U

static inline bool sharex_try_lock(u32 *l, enum lock_type t)
{
	u32 v = __atomic_load_n(l, __ATOMIC_RELAXED);

	if (t == TDX_LOCK_NO_LOCK)
		return true;
	if (t == TDX_LOCK_EXCLUSIVE) {
		v = 0;
		return __atomic_compare_exchange_n(l, &v, SHAREX_EXCL, false,
						   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	}
	do {
		if (v & SHAREX_EXCL)
			return false;
	} while (!__atomic_compare_exchange_n(l, &v, v + 1, true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return true;
}

static inline void sharex_unlock(u32 *l, enum lock_type t)
{
	if (t == TDX_LOCK_EXCLUSIVE)
		__atomic_store_n(l, 0, __ATOMIC_RELEASE);
	else if (t == TDX_LOCK_SHARED)
		__atomic_fetch_sub(l, 1, __ATOMIC_RELEASE);
}

/* --------------------------------------------------------------------------
 * PAMT.  One 8-byte entry per 4K page, per 2MB and per 1GB of the TDMR (the
 * module's entry is 16 bytes; the lock and bepoch are narrower here).  With
 * Dynamic PAMT the 4K level of a 2MB range exists only while its 2MB entry is
 * PT_PAMT (a page pair is installed): the array keeps storage for it anyway.
 *
 * For a PT_NDA 4K entry whose page carries PG_DIRTY, @owner holds the HKID
 * the page is dirty with.
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

/* --------------------------------------------------------------------------
 * TD control structures (TDR + TDCS).
 */
enum td_lifecycle {
	TD_HKID_ASSIGNED = 0,
	TD_KEYS_CONFIGURED = 1,
	TD_BLOCKED = 2,
	TD_TEARDOWN = 3,
};

enum td_op_state {
	OP_STATE_UNINITIALIZED = 0,
	OP_STATE_INITIALIZED = 1,
	OP_STATE_RUNNABLE = 2,
	OP_STATE_LIVE_EXPORT = 3,
	OP_STATE_PAUSED_EXPORT = 4,
	OP_STATE_POST_EXPORT = 5,
	OP_STATE_MEMORY_IMPORT = 6,
	OP_STATE_STATE_IMPORT = 7,
	OP_STATE_POST_IMPORT = 8,
	OP_STATE_LIVE_IMPORT = 9,
	OP_STATE_FAILED_IMPORT = 10,
	OP_STATE_NR,
};

#define OPS(x)		(1U << OP_STATE_##x)

struct td_vcpu;

struct td {
	u16 id;
	u16 hkid;
	u64 tdr_pa;
	u8 lifecycle;
	u8 op_state;
	bool fatal;
	bool wbcache_pending;	/* VPFLUSHDONE done, CACHE.WB not yet */
	unsigned int nr_tdcx;
	u64 tdcx_pa[TDXSIM_MAX_TDCS_PAGES];
	u32 op_state_lock;
	u32 sept_lock;		/* secure_ept_lock */
	u32 epoch_lock;
	u64 chldcnt;		/* atomic */
	u64 td_epoch;		/* under epoch_lock */
	u32 refcount[2];	/* atomic: vCPUs in guest per epoch parity */
	unsigned int gpaw;
	int sept_levels;	/* 4: root table holds level-3 entries */
	struct sept_page *root;
	/*
	 * Every table of the TD, root included.  A table RECLAIMed after
	 * KEY.FREEID stays here until the TD goes: the module no longer walks it.
	 */
	struct sept_page_list sept_pages;
	u64 seq;		/* last call that changed chldcnt/state */
	pthread_mutex_t vcpu_lock;	/* protects the vcpu list (bookkeeping) */
	struct tdxsim_vcpu *vcpus;	/* uthash by tdvpr_pa */
};

/* Module-side vCPU (TDVPS); lives until its TD is freed (TDR reclaimed). */
struct tdxsim_vcpu {
	struct tdxsim *sim;
	struct td *td;
	u64 tdvpr_pa;
	bool in_guest;		/* atomic */
	bool associated;	/* atomic: entered since the last TDH.VP.FLUSH */
	u64 vcpu_epoch;
	struct tdxsim_td_exit last_exit;
	UT_hash_handle hh;
};

/* --------------------------------------------------------------------------
 * The simulator (module + physical memory).
 */
struct mem_chunk {
	u16 nr_free;
	u8 on_list;		/* 0, CHUNK_FREE or CHUNK_PARTIAL */
	TAILQ_ENTRY(mem_chunk) link;
};

TAILQ_HEAD(mem_chunk_list, mem_chunk);

#define CHUNK_FREE		1
#define CHUNK_PARTIAL		2

struct sim_cpu {
	bool intr_pending;	/* atomic */
};

struct leaf_stats {
	u64 calls;
	u64 success;
	struct {
		u64 status;	/* TDXSIM_STAT_EMPTY when unused */
		u64 count;
	} st[TDXSIM_STATS_MAX_STATUSES];
};

#define TDXSIM_STAT_EMPTY	0x7FFFFFFFFFFFFFFFULL

#define TDXSIM_MAX_FAULT_RULES	32

struct trace_state {
	tdxsim_trace_fn fn;
	void *fn_arg;
	struct tdxsim_trace_event *ring;
	size_t ring_cap, ring_head, ring_count;
	FILE *file;
	enum tdxsim_trace_format fmt;
	u64 file_events;
};

struct fault_state {
	struct tdxsim_fault_rule rule;
	u64 matches;		/* atomic: matching calls seen */
	u64 fired;		/* atomic */
};
#define MISUSE_LOG		16

struct tdxsim {
	struct tdxsim_config cfg;
	u64 mem_end;
	u64 nr_pages;
	u64 max_pa;		/* first address above the non-KeyID bits */
	u64 hkid_mask;
	unsigned int hkid_shift;

	struct pamt_entry *pamt_4k;
	struct pamt_entry *pamt_2m;
	struct pamt_entry *pamt_1g;
	struct dpamt_node *dpamt;	/* per 2MB, only with DYNAMIC_PAMT */
	u64 *seq_2m;			/* last call that touched each 2MB (checker) */
	u8 *page_flags;

	/* Host allocator. */
	pthread_mutex_t alloc_lock;
	struct mem_chunk *chunks;
	struct mem_chunk_list free_chunks;
	struct mem_chunk_list partial_chunks;
	u64 pages_in_use;

	/* TDs, indexed by id (1..max_tds); HKIDs in use. */
	pthread_mutex_t td_lock;
	struct td **tds;
	u8 *hkid_used;

	/* Retired S-EPT tables kept for reuse; also guards every TD's list. */
	pthread_mutex_t sept_lock;
	struct sept_page_list sept_free;
	struct sept_slab_list sept_slabs;

	struct sim_cpu *cpus;
	u64 seq;		/* atomic */
	struct leaf_stats stats[TDX_NR_LEAVES];
	struct leaf_stats tdcall_stats[TDX_NR_LEAVES];

	/*
	 * Test hook: called at the end of every SEAMCALL/TDCALL while the leaf
	 * still holds all its locks, so a test can park one thread inside a
	 * call and make another collide with it deterministically.
	 */
	void (*hold_hook)(void *arg, unsigned int leaf, u64 status);
	void *hold_arg;

	/* Trace (trace.c): events are built only while trace_on. */
	bool trace_on;
	u64 trace_t0;
	pthread_mutex_t trace_lock;
	struct trace_state trace;

	/* Fault injection (fault.c). */
	pthread_mutex_t fault_lock;
	int nr_faults;		/* atomic; rules are append-only until cleared */
	struct fault_state faults[TDXSIM_MAX_FAULT_RULES];

	pthread_mutex_t misuse_lock;
	u64 nr_misuse;
	struct tdxsim_violation misuse[MISUSE_LOG];
};

/* A PAMT entry (and, for a Dynamic-PAMT 4K entry, its 2MB node) held locked. */
struct pamt_locked {
	struct pamt_entry *e;
	enum lock_type t;
	struct pamt_entry *e2m;		/* DPAMT: the 2MB entry held shared */
};

#define CTX_MAX_PAMT_LOCKS	4

/* Per-call context: who is calling and what has been locked so far. */
struct seamcall_ctx {
	struct tdxsim *sim;
	struct tdx_module_args *args;
	unsigned int leaf;
	unsigned int version;
	bool tdcall;
	int fault_rule;		/* rule that fired for this call, or -1 */
	unsigned int cpu;
	u64 seq;
	struct td *td;
	struct pamt_locked tdr;		/* the TDR page's PAMT entry */
	bool op_locked;
	enum lock_type tree_lock;
	bool epoch_locked;		/* TRACK: td->epoch_lock held exclusive */
	u64 *locked_ep;			/* S-EPT entry holding our host lock */
	unsigned int npl;
	struct pamt_locked pl[CTX_MAX_PAMT_LOCKS];	/* released in ctx_release() */
	u64 gpa;
	int level;
	struct sept_walk walk;
};

/* mem.c: physical memory and host allocator */
int mem_init(struct tdxsim *sim);
void mem_fini(struct tdxsim *sim);
bool mem_in_tdmr(const struct tdxsim *sim, u64 pa);
void sim_record_misuse(struct tdxsim *sim, u64 hpa, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the call that last wrote a location (read by the checker only). */
static inline void seq_note(u64 *where, u64 seq)
{
	__atomic_store_n(where, seq, __ATOMIC_RELAXED);
}

static inline u64 pa_to_idx(const struct tdxsim *sim, u64 pa)
{
	return (pa - sim->cfg.mem_base) >> PAGE_SHIFT;
}

static inline u64 idx_to_pa(const struct tdxsim *sim, u64 idx)
{
	return sim->cfg.mem_base + (idx << PAGE_SHIFT);
}

static inline u64 pa_to_idx2m(const struct tdxsim *sim, u64 pa)
{
	return (pa - sim->cfg.mem_base) >> 21;
}

static inline bool sim_dpamt(const struct tdxsim *sim)
{
	return sim->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT;
}

static inline void page_flags_set(struct tdxsim *sim, u64 pa, u8 f)
{
	__atomic_fetch_or(&sim->page_flags[pa_to_idx(sim, pa)], f, __ATOMIC_RELAXED);
}

static inline void page_flags_clear(struct tdxsim *sim, u64 pa, u8 f)
{
	__atomic_fetch_and(&sim->page_flags[pa_to_idx(sim, pa)], (u8)~f, __ATOMIC_RELAXED);
}

static inline u8 page_flags_get(const struct tdxsim *sim, u64 pa)
{
	return __atomic_load_n(&sim->page_flags[pa_to_idx(sim, pa)], __ATOMIC_RELAXED);
}

/* pamt.c */
int pamt_init(struct tdxsim *sim);
void pamt_fini(struct tdxsim *sim);
struct pamt_entry *pamt_entry_at(struct tdxsim *sim, u64 pa, int level);
int pamt_leaf_level(struct tdxsim *sim, u64 pa);
u64 hpa_check_operand(struct seamcall_ctx *c, u64 pa, u64 align, u32 operand);
u64 pamt_lock_page(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
		   u32 operand, struct pamt_locked *out);
void pamt_unlock_page(struct pamt_locked *l);
u64 pamt_check_free_page(struct seamcall_ctx *c, u64 pa, int level, u32 operand,
			 struct pamt_locked *out);
int pamt_locked_level(struct tdxsim *sim, const struct pamt_locked *l);
void pamt_assign(struct tdxsim *sim, u64 pa, int level, u8 pt, u16 owner, u64 seq);
void pamt_release(struct tdxsim *sim, u64 pa, int level, u16 hkid, bool dirty, u64 seq);
bool dpamt_dec(struct tdxsim *sim, u64 pa);
void dpamt_inc(struct tdxsim *sim, u64 pa);
void td_chldcnt_add(struct seamcall_ctx *c, s64 delta);

/* sept.c */
/* A table for @hpa; @zero false when the caller writes all 512 entries. */
struct sept_page *sept_page_get(struct tdxsim *sim, struct td *td, u64 hpa, int level,
				bool zero);
void sept_page_put(struct tdxsim *sim, struct td *td, struct sept_page *sp);
void sept_slabs_free(struct tdxsim *sim);
void sept_walk(struct td *td, u64 gpa, int level, struct sept_walk *w);
u64 sept_arch_entry(u64 e, int level);
u8 sept_public_state(enum sept_state s);
bool sept_lock_host(u64 *ep);
void sept_unlock(u64 *ep);
void sept_set(u64 *ep, u64 val);
u64 sept_read(const u64 *ep);
void sept_set_details(struct seamcall_ctx *c, const struct sept_walk *w);

/* td.c / prologue.c */
struct td *td_by_tdr(struct tdxsim *sim, u64 tdr_pa);
struct td *td_by_id(struct tdxsim *sim, u16 id);
struct td *td_alloc(struct tdxsim *sim, u64 tdr_pa, u16 hkid);
void td_free(struct tdxsim *sim, struct td *td);
bool is_tlb_tracked(struct td *td, u32 bepoch);
bool td_tlb_tracking_required(const struct td *td);

/* The common prologue of the TD-memory leaves (spec §2.1), per leaf. */
struct mem_prologue {
	bool td_handle_flags;	/* RDX carries flags (SEPT.ADD, DEMOTE) */
	enum lock_type tdr_lock;
	u32 op_states;		/* allowed op_states, OPS() mask */
	int min_level, max_level;
	enum lock_type tree_lock;
};
u64 td_lock_tdr(struct seamcall_ctx *c, u64 tdr_pa, u32 operand, enum lock_type t);
u64 td_check_keys(struct seamcall_ctx *c);
u64 td_lock_op_state(struct seamcall_ctx *c, u32 op_states);
u64 mem_prologue(struct seamcall_ctx *c, const struct mem_prologue *p, u64 page_info,
		 u64 td_handle);
u64 mem_walk_and_lock(struct seamcall_ctx *c, u32 allowed_states);
u64 ctx_pamt_check_free_page(struct seamcall_ctx *c, u64 pa, int level, u32 operand);
u64 ctx_pamt_lock_page(struct seamcall_ctx *c, u64 pa, int level, enum lock_type t,
		       u32 operand, int *reached);
#define SEPT_STATES(x)		(1U << SEPT_##x)
void ctx_release(struct seamcall_ctx *c);
u64 sept_error(struct seamcall_ctx *c, u64 status);
u32 sept_entry_bepoch(struct seamcall_ctx *c);

/* Leaf handlers: each returns the status; ctx_release() is called by the dispatcher. */
typedef u64 (*leaf_fn)(struct seamcall_ctx *c);
u64 leaf_tdh_mng_create(struct seamcall_ctx *c);
u64 leaf_tdh_mng_key_config(struct seamcall_ctx *c);
u64 leaf_tdh_mng_addcx(struct seamcall_ctx *c);
u64 leaf_tdh_mng_init(struct seamcall_ctx *c);
u64 leaf_tdh_mng_key_freeid(struct seamcall_ctx *c);
u64 leaf_tdh_mng_vpflushdone(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_cache_wb(struct seamcall_ctx *c);
u64 leaf_tdh_mr_finalize(struct seamcall_ctx *c);
u64 leaf_tdh_vp_create(struct seamcall_ctx *c);
u64 leaf_tdh_vp_enter(struct seamcall_ctx *c);
u64 leaf_tdh_vp_flush(struct seamcall_ctx *c);
u64 leaf_tdh_mem_sept_add(struct seamcall_ctx *c);
u64 leaf_tdh_mem_sept_remove(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_add(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_aug(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_demote(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_promote(struct seamcall_ctx *c);
u64 leaf_tdh_mem_page_remove(struct seamcall_ctx *c);
u64 leaf_tdh_mem_range_block(struct seamcall_ctx *c);
u64 leaf_tdh_mem_range_unblock(struct seamcall_ctx *c);
u64 leaf_tdh_mem_track(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_page_reclaim(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_page_wbinvd(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_pamt_add(struct seamcall_ctx *c);
u64 leaf_tdh_phymem_pamt_remove(struct seamcall_ctx *c);
u64 leaf_tdg_mem_page_accept(struct seamcall_ctx *c, struct tdxsim_vcpu *vcpu);
u64 vcpu_exit_to_host(struct tdxsim_vcpu *v, const struct tdxsim_td_exit *exit);

/* Input registers are read first, then RCX/RDX are cleared (prologue step 1). */
static inline void ctx_clear_outputs(struct seamcall_ctx *c)
{
	c->args->rcx = 0;
	c->args->rdx = 0;
}

/* op_states of BLOCK, UNBLOCK, DEMOTE, PROMOTE (op_state_lookup). */
#define OPS_BLOCK_LIKE	(OPS(INITIALIZED) | OPS(RUNNABLE) | OPS(LIVE_EXPORT) |	\
			 OPS(PAUSED_EXPORT) | OPS(POST_EXPORT) | OPS(POST_IMPORT) |	\
			 OPS(LIVE_IMPORT))

/* trace.c */
u64 trace_now_ns(struct tdxsim *sim);
void trace_emit(struct tdxsim *sim, struct tdxsim_trace_event *ev);
int trace_apply_environment(struct tdxsim *sim);
void trace_fini(struct tdxsim *sim);

static inline bool sim_tracing(struct tdxsim *sim)
{
	return __atomic_load_n(&sim->trace_on, __ATOMIC_RELAXED);
}

void trace_call(struct seamcall_ctx *c, enum tdxsim_trace_type type,
		const struct tdx_module_args *in, u64 t0, u64 status);
void trace_td_exit(struct tdxsim_vcpu *v, u32 exit_reason);

/* fault.c */
int fault_check(struct tdxsim *sim, unsigned int leaf, const struct tdx_module_args *a);

static inline bool sim_has_faults(struct tdxsim *sim)
{
	return __atomic_load_n(&sim->nr_faults, __ATOMIC_RELAXED) != 0;
}

/* seamcall.c */
/* The hook sees TDCALL leaves as leaf | TDXSIM_HOOK_TDCALL. */
#define TDXSIM_HOOK_TDCALL	0x10000U
void tdxsim_test_set_hold_hook(struct tdxsim *sim,
			       void (*fn)(void *arg, unsigned int leaf, u64 status), void *arg);
void ctx_init(struct seamcall_ctx *c, struct tdxsim *sim, struct tdx_module_args *args,
	      unsigned int leaf, unsigned int version);
void ctx_finish(struct seamcall_ctx *c, u64 status);
bool fault_inject(struct seamcall_ctx *c, unsigned int rule_leaf, u64 *status);
bool cpu_interrupt_pending(struct seamcall_ctx *c);
void stats_count(struct leaf_stats *ls, u64 status);

#endif /* TDXSIM_INTERNAL_H */
