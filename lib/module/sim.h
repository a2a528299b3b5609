/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The simulator: physical memory and the host allocator (mem.c), logical
 * CPUs, statistics, fault rules (fault.c) and trace sinks (trace.c).
 */
#ifndef TDXSIM_MODULE_SIM_H
#define TDXSIM_MODULE_SIM_H

#include "pamt.h"
#include "td.h"

/* --------------------------------------------------------------------------
 * The simulator (module + physical memory).
 */
/*
 * One 2MB chunk of the host allocator.  Chunks at or above
 * sim->chunk_fresh have never been handed out: they are free, zero, and on no
 * list, so creating a simulator touches none of them.  All fields are guarded
 * by sim->alloc_lock.
 */
struct mem_chunk {
	u64 used[PAGES_PER_2M / 64];	/* bit set: the 4K page is allocated */
	u16 nr_used;
	u8 on_list;		/* 0, CHUNK_FREE or CHUNK_PARTIAL */
	TAILQ_ENTRY(mem_chunk) link;
};

TAILQ_HEAD(mem_chunk_list, mem_chunk);

#define CHUNK_FREE		1
#define CHUNK_PARTIAL		2

struct sim_cpu {
	bool intr_pending;	/* atomic */
};

/*
 * One atomic add per call: the count of its status's slot.  Calls and
 * successes are summed when read (stats_copy()); @other counts the calls
 * whose status found no free slot.
 */
struct leaf_stats {
	u64 other;
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
	u32 private_hkid_min;	/* KeyIDs below it are shared (MKTME) ones */

	struct pamt_entry *pamt_4k;	/* static PAMT: every 4K entry, in one array */
	struct pamt_entry **pamt_4k_blk; /* per 2MB: its 512 4K entries, NULL = none */
	struct pamt_entry *pamt_4k_none; /* read-only PT_NDA block for ranges without one */
	pthread_mutex_t pamt_blk_lock;	/* the pool of 4K blocks (Dynamic PAMT) */
	struct pamt_entry **pamt_blk_free;
	u64 nr_pamt_blk_free, pamt_blk_cap;
	SLIST_HEAD(, pamt_blk_slab) pamt_blk_slabs;
	struct pamt_entry *pamt_2m;
	struct pamt_entry *pamt_1g;
	struct dpamt_node *dpamt;	/* per 2MB, only with DYNAMIC_PAMT */
	u64 *seq_2m;			/* last call that touched each 2MB (checker) */
	u8 *page_flags;
	u16 *dirty_hkid;		/* per 4K page without a 4K level: page_dirty_hkid() */
	u64 *dirty_hkid_ready;		/* per 1GB: its part of dirty_hkid is committed */

	/* Host allocator. */
	pthread_mutex_t alloc_lock;
	struct mem_chunk *chunks;
	u64 nr_chunks;
	u64 chunk_fresh;		/* chunks from here on were never used */
	struct mem_chunk_list free_chunks;
	struct mem_chunk_list partial_chunks;
	u64 pages_in_use;
	u64 nr_allocs;		/* atomic: tdxsim_page_alloc() calls */

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

	/* The calling thread's CPU and number (thread.c). */
	pthread_key_t thread_key;
	bool thread_key_ok;
	unsigned int thread_counter;	/* atomic: last thread number given */

	/* Client data (tdxsim_client_data_attach), released at destroy. */
	pthread_mutex_t client_lock;
	struct {
		const void *key;	/* published last (release) */
		void *data;
		void (*release)(void *data);
	} client[TDXSIM_MAX_CLIENT_DATA];

	/* The scheduling hook (include/tdxsim/hook.h); read once per call. */
	tdxsim_hook_fn hook;
	void *hook_arg;

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
	/* The last BUSY a call caused itself (pamt.c), under misuse_lock. */
	struct {
		unsigned int leaf;
		u32 operand;
		u64 pa, tdr;
		u64 repeats;
	} self_busy;
};

/* mem.c: physical memory and host allocator */
int mem_init(struct tdxsim *sim);
void mem_fini(struct tdxsim *sim);
void *mem_vzalloc(size_t size);
void mem_vfree(void *p, size_t size);
void mem_vpopulate(void *p, size_t size);
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

static inline bool mem_in_tdmr(const struct tdxsim *sim, u64 pa)
{
	return pa >= sim->cfg.mem_base && pa < sim->mem_end;
}

/* [pa, pa + size) lies inside the TDMR; written so that pa + size cannot wrap. */
static inline bool mem_range_in_tdmr(const struct tdxsim *sim, u64 pa, u64 size)
{
	return mem_in_tdmr(sim, pa) && size <= sim->mem_end - pa;
}

/*
 * The module's dynamic_pamt_enabled: supported (features0 bit 36) and
 * enabled by TDH.SYS.CONFIG (S30: tdxsim_config.dpamt_not_configured).
 */
static inline bool sim_dpamt(const struct tdxsim *sim)
{
	return (sim->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT) &&
	       !sim->cfg.dpamt_not_configured;
}

/*
 * The PAMT entry of @pa at @level.  Inline: every leaf takes several, and
 * @level is a constant at most call sites.  A 4K entry of a range without a
 * block (Dynamic PAMT, no pair) is in the shared read-only PT_NDA block.
 */
static inline struct pamt_entry *pamt_entry_at(struct tdxsim *sim, u64 pa, int level)
{
	u64 off = pa - sim->cfg.mem_base;
	struct pamt_entry *blk;

	switch (level) {
	case TDX_PS_1G:
		return &sim->pamt_1g[off / SZ_1G];
	case TDX_PS_2M:
		return &sim->pamt_2m[off / SZ_2M];
	default:
		blk = __atomic_load_n(&sim->pamt_4k_blk[off / SZ_2M], __ATOMIC_ACQUIRE);
		return &(blk ? blk : sim->pamt_4k_none)[(off >> PAGE_SHIFT) % PAGES_PER_2M];
	}
}

/* Level at which a walk towards @want for @pa stops (its PAMT leaf). */
static inline int pamt_walk_level(struct tdxsim *sim, u64 pa, int want)
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

/*
 * The HKID a PG_DIRTY page is dirty with: in the owner field of its PT_NDA
 * 4K entry when its range has a 4K level (the line a 4K REMOVE writes
 * anyway), else in sim->dirty_hkid (a 2MB page released, Dynamic PAMT).
 * PAMT.ADD and PAMT.REMOVE move it between the two (pamt.c).
 */
static inline u16 page_dirty_hkid(struct tdxsim *sim, u64 pa)
{
	u64 idx = pa_to_idx(sim, pa);
	struct pamt_entry *blk = __atomic_load_n(&sim->pamt_4k_blk[idx / PAGES_PER_2M],
						 __ATOMIC_ACQUIRE);

	/* Relaxed loads: tdxsim_pamt_lookup() calls this while SEAMCALLs run. */
	return blk ? __atomic_load_n(&blk[idx % PAGES_PER_2M].owner, __ATOMIC_RELAXED) :
		     __atomic_load_n(&sim->dirty_hkid[idx], __ATOMIC_RELAXED);
}

static inline int pamt_leaf_level(struct tdxsim *sim, u64 pa)
{
	return pamt_walk_level(sim, pa, TDX_PS_4K);
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

/* thread.c */
int sim_thread_init(struct tdxsim *sim);
void sim_thread_fini(struct tdxsim *sim);
unsigned int sim_thread_cpu(struct tdxsim *sim);
void sim_client_data_fini(struct tdxsim *sim);

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
void trace_td_exit(struct td_vcpu *v, u32 exit_reason);

/* report.c */
void report_at_destroy(struct tdxsim *sim);

/* fault.c */
void fault_quote_token(char *dst, size_t n, const char *tok);
int fault_check(struct tdxsim *sim, unsigned int leaf, const struct tdx_module_args *a);

static inline bool sim_has_faults(struct tdxsim *sim)
{
	return __atomic_load_n(&sim->nr_faults, __ATOMIC_RELAXED) != 0;
}

#endif /* TDXSIM_MODULE_SIM_H */
