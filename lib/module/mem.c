// SPDX-License-Identifier: GPL-2.0-only
/*
 * Simulated host physical memory: one TDMR, a per-4K flag byte, and the host's
 * page allocator (2MB chunks on a free list and a partial list; 4K pages are
 * carved from partial chunks first so 2MB blocks stay available).
 *
 * The host allocator is not part of the module: it blocks on a mutex.
 */
#include <stdarg.h>
#include <stdio.h>

#include "tdxsim-internal.h"

bool mem_in_tdmr(const struct tdxsim *sim, u64 pa)
{
	return pa >= sim->cfg.mem_base && pa < sim->mem_end;
}

int mem_init(struct tdxsim *sim)
{
	u64 nr_chunks = sim->cfg.mem_size / SZ_2M;

	sim->nr_pages = sim->cfg.mem_size >> PAGE_SHIFT;
	sim->mem_end = sim->cfg.mem_base + sim->cfg.mem_size;
	sim->page_flags = calloc(sim->nr_pages, 1);
	sim->chunks = calloc(nr_chunks, sizeof(*sim->chunks));
	if (!sim->page_flags || !sim->chunks)
		return -ENOMEM;

	TAILQ_INIT(&sim->free_chunks);
	TAILQ_INIT(&sim->partial_chunks);
	for (u64 i = 0; i < nr_chunks; i++) {
		sim->chunks[i].nr_free = PAGES_PER_2M;
		sim->chunks[i].on_list = CHUNK_FREE;
		TAILQ_INSERT_TAIL(&sim->free_chunks, &sim->chunks[i], link);
	}
	pthread_mutex_init(&sim->alloc_lock, NULL);
	pthread_mutex_init(&sim->misuse_lock, NULL);
	return 0;
}

void mem_fini(struct tdxsim *sim)
{
	free(sim->page_flags);
	free(sim->chunks);
	pthread_mutex_destroy(&sim->alloc_lock);
	pthread_mutex_destroy(&sim->misuse_lock);
}

void sim_record_misuse(struct tdxsim *sim, u64 hpa, const char *fmt, ...)
{
	struct tdxsim_violation *v;
	va_list ap;

	pthread_mutex_lock(&sim->misuse_lock);
	v = &sim->misuse[sim->nr_misuse % MISUSE_LOG];
	memset(v, 0, sizeof(*v));
	v->what = TDXSIM_INV_HOST_MISUSE;
	v->hpa = hpa;
	v->gpa = ~0ULL;
	v->seq = __atomic_load_n(&sim->seq, __ATOMIC_RELAXED);
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	sim->nr_misuse++;
	pthread_mutex_unlock(&sim->misuse_lock);
}

static u64 chunk_pa(const struct tdxsim *sim, const struct mem_chunk *ch)
{
	return sim->cfg.mem_base + (u64)(ch - sim->chunks) * SZ_2M;
}

static void chunk_move(struct tdxsim *sim, struct mem_chunk *ch)
{
	u8 want = ch->nr_free == PAGES_PER_2M ? CHUNK_FREE :
		  ch->nr_free ? CHUNK_PARTIAL : 0;

	if (want == ch->on_list)
		return;
	if (ch->on_list == CHUNK_FREE)
		TAILQ_REMOVE(&sim->free_chunks, ch, link);
	else if (ch->on_list == CHUNK_PARTIAL)
		TAILQ_REMOVE(&sim->partial_chunks, ch, link);
	if (want == CHUNK_FREE)
		TAILQ_INSERT_HEAD(&sim->free_chunks, ch, link);
	else if (want == CHUNK_PARTIAL)
		TAILQ_INSERT_HEAD(&sim->partial_chunks, ch, link);
	ch->on_list = want;
}

static u64 alloc_4k(struct tdxsim *sim)
{
	struct mem_chunk *ch = TAILQ_FIRST(&sim->partial_chunks);
	u64 base, idx;

	if (!ch)
		ch = TAILQ_FIRST(&sim->free_chunks);
	if (!ch)
		return 0;
	base = chunk_pa(sim, ch);
	idx = pa_to_idx(sim, base);
	for (unsigned int i = 0; i < PAGES_PER_2M; i++) {
		/* Atomic: the module sets other flag bits of allocated pages. */
		if (__atomic_load_n(&sim->page_flags[idx + i], __ATOMIC_RELAXED) & PG_ALLOCATED)
			continue;
		__atomic_fetch_or(&sim->page_flags[idx + i], PG_ALLOCATED, __ATOMIC_RELAXED);
		ch->nr_free--;
		chunk_move(sim, ch);
		return base + ((u64)i << PAGE_SHIFT);
	}
	return 0;	/* unreachable: nr_free said otherwise */
}

static u64 alloc_2m(struct tdxsim *sim)
{
	struct mem_chunk *ch = TAILQ_FIRST(&sim->free_chunks);
	u64 base;

	if (!ch)
		return 0;
	base = chunk_pa(sim, ch);
	memset(&sim->page_flags[pa_to_idx(sim, base)], PG_ALLOCATED, PAGES_PER_2M);
	ch->nr_free = 0;
	chunk_move(sim, ch);
	return base;
}

u64 tdxsim_page_alloc(struct tdxsim *sim, int level)
{
	u64 pa;

	if (level != TDX_PS_4K && level != TDX_PS_2M) {
		errno = EINVAL;
		return 0;
	}
	if (unlikely(sim_has_faults(sim))) {
		int id = fault_check(sim, TDXSIM_FAULT_PAGE_ALLOC, NULL);

		if (id >= 0) {
			if (unlikely(sim_tracing(sim))) {
				struct tdxsim_trace_event ev = {
					.seq = tdxsim_seq(sim), .ts_ns = trace_now_ns(sim),
					.cpu = tdxsim_cpu_current(), .type = TDXSIM_EV_FAULT,
					.leaf = TDXSIM_FAULT_PAGE_ALLOC, .fault_rule = id,
				};

				trace_emit(sim, &ev);
			}
			errno = ENOMEM;		/* injected: the ENOMEM paths of top-ups */
			return 0;
		}
	}
	pthread_mutex_lock(&sim->alloc_lock);
	pa = level == TDX_PS_4K ? alloc_4k(sim) : alloc_2m(sim);
	if (pa)
		sim->pages_in_use += tdx_level_pages(level);
	pthread_mutex_unlock(&sim->alloc_lock);
	if (!pa)
		errno = ENOMEM;
	return pa;
}

/* Why the host may not take @pa back: 0 if it may. */
static int page_busy_reason(struct tdxsim *sim, u64 pa)
{
	u8 f = page_flags_get(sim, pa);
	int lvl = pamt_leaf_level(sim, pa);
	struct pamt_entry *pe = pamt_entry_at(sim, pa, lvl);

	if (!(f & PG_ALLOCATED))
		return -EINVAL;
	if (f & PG_PAMT_PAGE || (pe->pt != PT_NDA && pe->pt != PT_PAMT))
		return -EBUSY;
	if (f & (PG_DIRTY | PG_NEEDS_RESET))
		return -EIO;
	return 0;
}

int tdxsim_page_free(struct tdxsim *sim, u64 hpa, int level)
{
	u64 npages, size;
	int ret = 0;

	if (level != TDX_PS_4K && level != TDX_PS_2M)
		return -EINVAL;
	size = tdx_level_size(level);
	if (hpa & (size - 1) || !mem_in_tdmr(sim, hpa)) {
		sim_record_misuse(sim, hpa, "free of %#llx (level %d): not a page of simulated memory",
				  (unsigned long long)hpa, level);
		return -EINVAL;
	}
	npages = tdx_level_pages(level);

	pthread_mutex_lock(&sim->alloc_lock);
	for (u64 i = 0; i < npages && !ret; i++)
		ret = page_busy_reason(sim, hpa + (i << PAGE_SHIFT));
	if (!ret) {
		u64 idx = pa_to_idx(sim, hpa);
		struct mem_chunk *ch = &sim->chunks[idx / PAGES_PER_2M];

		for (u64 i = 0; i < npages; i++)
			__atomic_fetch_and(&sim->page_flags[idx + i], (u8)~PG_ALLOCATED,
					   __ATOMIC_RELAXED);
		ch->nr_free += npages;
		chunk_move(sim, ch);
		sim->pages_in_use -= npages;
	}
	pthread_mutex_unlock(&sim->alloc_lock);

	if (ret == -EINVAL)
		sim_record_misuse(sim, hpa, "free of %#llx: page is not allocated (double free?)",
				  (unsigned long long)hpa);
	else if (ret == -EBUSY)
		sim_record_misuse(sim, hpa, "free of %#llx: the TDX module owns the page",
				  (unsigned long long)hpa);
	else if (ret == -EIO)
		sim_record_misuse(sim, hpa,
				  "free of %#llx: page still dirty with a TD key or not reset",
				  (unsigned long long)hpa);
	return ret;
}

int tdxsim_page_reset(struct tdxsim *sim, u64 hpa, u64 size)
{
	if (hpa & (PAGE_SIZE - 1) || size & (PAGE_SIZE - 1) || !size ||
	    !mem_in_tdmr(sim, hpa) || hpa + size > sim->mem_end)
		return -EINVAL;
	/*
	 * MOVDIR64B with the host key: clears the poison quirk, but does not
	 * stand in for TDH.PHYMEM.PAGE.WBINVD, so PG_DIRTY stays.
	 */
	for (u64 off = 0; off < size; off += PAGE_SIZE)
		page_flags_clear(sim, hpa + off, PG_NEEDS_RESET);
	return 0;
}

u64 tdxsim_pages_in_use(struct tdxsim *sim)
{
	u64 n;

	pthread_mutex_lock(&sim->alloc_lock);
	n = sim->pages_in_use;
	pthread_mutex_unlock(&sim->alloc_lock);
	return n;
}

u64 tdxsim_mk_keyed_paddr(const struct tdxsim *sim, u16 hkid, u64 pa)
{
	return pa | ((u64)hkid << sim->hkid_shift);
}
