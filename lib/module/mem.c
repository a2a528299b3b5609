// SPDX-License-Identifier: GPL-2.0-only
/*
 * Simulated host physical memory: one TDMR, a per-4K flag byte, and the host's
 * page allocator (2MB chunks on a free list and a partial list, each with a
 * bitmap of its allocated 4K pages; 4K pages are carved from partial chunks
 * first so 2MB blocks stay available).
 *
 * The host allocator is not part of the module: it blocks on a mutex.
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>

#include "tdxsim-internal.h"

/*
 * Zeroed memory for the per-page and per-chunk arrays: reserved, not
 * committed (MAP_NORESERVE), so a 1 TiB simulator costs resident memory only
 * for what its users touch.
 */
void *mem_vzalloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

/*
 * Commit [p, p + size) of a mem_vzalloc() array in one go.  A page fault
 * per page costs about 20x more than this on some virtual machines (17 us
 * against 0.85 us a page measured on the CI machine).  On a kernel without
 * MADV_POPULATE_WRITE the pages fault in one by one as before.
 */
void mem_vpopulate(void *p, size_t size)
{
	madvise(p, size, MADV_POPULATE_WRITE);
}

void mem_vfree(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

int mem_init(struct tdxsim *sim)
{
	sim->nr_chunks = sim->cfg.mem_size / SZ_2M;
	sim->nr_pages = sim->cfg.mem_size >> PAGE_SHIFT;
	sim->mem_end = sim->cfg.mem_base + sim->cfg.mem_size;
	pthread_mutex_init(&sim->alloc_lock, NULL);
	pthread_mutex_init(&sim->misuse_lock, NULL);
	TAILQ_INIT(&sim->free_chunks);
	TAILQ_INIT(&sim->partial_chunks);
	sim->chunk_fresh = 0;
	/* Every chunk starts fresh: nothing to initialise (see struct mem_chunk). */
	sim->page_flags = mem_vzalloc(sim->nr_pages);
	sim->chunks = mem_vzalloc(sim->nr_chunks * sizeof(*sim->chunks));
	if (!sim->page_flags || !sim->chunks)
		return -ENOMEM;
	return 0;
}

void mem_fini(struct tdxsim *sim)
{
	mem_vfree(sim->page_flags, sim->nr_pages);
	mem_vfree(sim->chunks, sim->nr_chunks * sizeof(*sim->chunks));
	sim->page_flags = NULL;
	sim->chunks = NULL;
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

/* Put @ch on the list its fill level calls for: free, partial or none (full). */
static void chunk_move(struct tdxsim *sim, struct mem_chunk *ch)
{
	u8 want = !ch->nr_used ? CHUNK_FREE :
		  ch->nr_used < PAGES_PER_2M ? CHUNK_PARTIAL : 0;

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

/* A wholly free chunk: one given back earlier, else the next fresh one. */
static struct mem_chunk *chunk_free_get(struct tdxsim *sim)
{
	struct mem_chunk *ch = TAILQ_FIRST(&sim->free_chunks);

	if (ch)
		return ch;
	if (sim->chunk_fresh == sim->nr_chunks)
		return NULL;
	return &sim->chunks[sim->chunk_fresh++];
}

/*
 * O(1): the first partial chunk (else a free one), and in it the first clear
 * bit of its 8-word bitmap.  The lowest free page goes first, as before.
 */
static u64 alloc_4k(struct tdxsim *sim)
{
	struct mem_chunk *ch = TAILQ_FIRST(&sim->partial_chunks);
	unsigned int w, bit;

	if (!ch)
		ch = chunk_free_get(sim);
	if (!ch)
		return 0;
	for (w = 0; w < PAGES_PER_2M / 64; w++) {
		if (~ch->used[w])
			break;
	}
	if (w == PAGES_PER_2M / 64)
		return 0;	/* unreachable: the chunk was not full */
	bit = w * 64 + (unsigned int)__builtin_ctzll(~ch->used[w]);
	ch->used[w] |= 1ULL << (bit % 64);
	ch->nr_used++;
	chunk_move(sim, ch);
	/* Atomic: the module sets other flag bits of allocated pages. */
	__atomic_fetch_or(&sim->page_flags[(u64)(ch - sim->chunks) * PAGES_PER_2M + bit],
			  PG_ALLOCATED, __ATOMIC_RELAXED);
	return chunk_pa(sim, ch) + ((u64)bit << PAGE_SHIFT);
}

static u64 alloc_2m(struct tdxsim *sim)
{
	struct mem_chunk *ch = chunk_free_get(sim);

	if (!ch)
		return 0;
	memset(ch->used, 0xff, sizeof(ch->used));
	ch->nr_used = PAGES_PER_2M;
	chunk_move(sim, ch);
	/* A free chunk carries no other flag (tdxsim_page_free refuses those). */
	memset(&sim->page_flags[(u64)(ch - sim->chunks) * PAGES_PER_2M], PG_ALLOCATED,
	       PAGES_PER_2M);
	return chunk_pa(sim, ch);
}

u64 tdxsim_page_alloc(struct tdxsim *sim, int level)
{
	u64 pa;

	if (level != TDX_PS_4K && level != TDX_PS_2M) {
		errno = EINVAL;
		return 0;
	}
	__atomic_fetch_add(&sim->nr_allocs, 1, __ATOMIC_RELAXED);
	if (unlikely(sim_has_faults(sim))) {
		int id = fault_check(sim, TDXSIM_FAULT_PAGE_ALLOC, NULL);

		if (id >= 0) {
			if (unlikely(sim_tracing(sim))) {
				struct tdxsim_trace_event ev = {
					.seq = tdxsim_seq(sim), .ts_ns = trace_now_ns(sim),
					.cpu = tdxsim_cpu_current(sim), .type = TDXSIM_EV_FAULT,
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
	if (hpa & (size - 1) || !mem_range_in_tdmr(sim, hpa, size)) {
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
		unsigned int bit = idx % PAGES_PER_2M;

		for (u64 i = 0; i < npages; i++)
			__atomic_fetch_and(&sim->page_flags[idx + i], (u8)~PG_ALLOCATED,
					   __ATOMIC_RELAXED);
		if (npages == PAGES_PER_2M)
			memset(ch->used, 0, sizeof(ch->used));
		else
			ch->used[bit / 64] &= ~(1ULL << (bit % 64));
		ch->nr_used -= npages;
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
	/* Issue 7: hpa + size must not wrap past the end of the TDMR. */
	if (hpa & (PAGE_SIZE - 1) || size & (PAGE_SIZE - 1) || !size ||
	    !mem_range_in_tdmr(sim, hpa, size))
		return -EINVAL;
	/*
	 * MOVDIR64B with the host key: clears the poison quirk, but does not
	 * stand in for TDH.PHYMEM.PAGE.WBINVD, so PG_DIRTY stays.
	 */
	for (u64 off = 0; off < size; off += PAGE_SIZE)
		page_flags_clear(sim, hpa + off, PG_NEEDS_RESET);
	return 0;
}

u64 tdxsim_page_allocs(struct tdxsim *sim)
{
	return __atomic_load_n(&sim->nr_allocs, __ATOMIC_RELAXED);
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
