// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel shim's memory (include/tdxsim/kernel/mm.h): a memmap of struct
 * page per simulator, its direct map (a shadow of simulated memory), and the
 * page allocator on top of tdxsim_page_alloc()/tdxsim_page_free().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel-internal.h"

void shim_mm_release(struct shim_mm *mm)
{
	if (!mm)
		return;
	if (mm->shadow)
		munmap(mm->shadow, mm->nr_pages * PAGE_SIZE);
	free(mm->memmap);
	free(mm);
}

/*
 * @sim's memmap, built on first use.  Every struct page knows its frame
 * number from here on, so page_to_pfn() needs no simulator.  NULL: no
 * memory for it.
 */
static struct shim_mm *shim_mm(struct tdxsim *sim)
{
	const struct tdxsim_config *cfg;
	struct shim_state *st;
	struct shim_mm *mm;

	if (!sim)
		return NULL;
	st = shim_of(sim, true);
	if (!st)
		return NULL;
	mm = __atomic_load_n(&st->mm, __ATOMIC_ACQUIRE);
	if (mm)
		return mm;

	pthread_mutex_lock(&st->lock);
	mm = st->mm;
	if (mm)
		goto out;
	cfg = tdxsim_get_config(sim);
	mm = calloc(1, sizeof(*mm));
	if (!mm)
		goto out;
	mm->base_pfn = PHYS_PFN(cfg->mem_base);
	mm->nr_pages = PHYS_PFN(cfg->mem_size);
	mm->memmap = calloc(mm->nr_pages, sizeof(*mm->memmap));
	if (!mm->memmap) {
		free(mm);
		mm = NULL;
		goto out;
	}
	for (unsigned long i = 0; i < mm->nr_pages; i++)
		mm->memmap[i].__tdxsim_pfn = mm->base_pfn + i;
	__atomic_store_n(&st->mm, mm, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&st->lock);
	return mm;
}

/* The shadow of @mm's memory, mapped on first use; NULL if mmap() fails. */
static char *shim_shadow(struct tdxsim *sim, struct shim_mm *mm)
{
	struct shim_state *st = shim_of(sim, false);
	char *shadow = __atomic_load_n(&mm->shadow, __ATOMIC_ACQUIRE);
	void *p;

	if (shadow || !st)
		return shadow;
	pthread_mutex_lock(&st->lock);
	shadow = mm->shadow;
	if (!shadow) {
		/* Reserved, not committed: a page costs memory once written. */
		p = mmap(NULL, mm->nr_pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED) {
			shadow = p;
			__atomic_store_n(&mm->shadow, shadow, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return shadow;
}

static bool mm_has_pfn(const struct shim_mm *mm, unsigned long pfn)
{
	return pfn >= mm->base_pfn && pfn - mm->base_pfn < mm->nr_pages;
}

static bool mm_has_page(const struct shim_mm *mm, const struct page *page)
{
	return page >= mm->memmap && page < mm->memmap + mm->nr_pages;
}

bool __tdxsim_pfn_valid(unsigned long pfn)
{
	struct shim_mm *mm = shim_mm(shim_current());

	return mm && mm_has_pfn(mm, pfn);
}

struct page *__tdxsim_pfn_to_page(unsigned long pfn)
{
	struct shim_mm *mm = shim_mm(shim_current());

	if (!mm || !mm_has_pfn(mm, pfn)) {
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__,
				      "pfn_to_page(%#lx): no struct page (outside simulated memory)",
				      pfn);
		return NULL;
	}
	return &mm->memmap[pfn - mm->base_pfn];
}

void *__tdxsim_page_address(const struct page *page)
{
	struct tdxsim *sim = shim_current();
	struct shim_mm *mm = shim_mm(sim);
	char *shadow;

	if (!mm || !mm_has_page(mm, page)) {
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__,
				      "page_address(%p): not a page of the current simulator",
				      (const void *)page);
		return NULL;
	}
	shadow = shim_shadow(sim, mm);
	if (!shadow)
		return NULL;
	return shadow + (size_t)(page - mm->memmap) * PAGE_SIZE;
}

/* Offset of @addr in the current simulator's direct map, or -1. */
static long shadow_offset(const void *addr, struct shim_mm **mmp)
{
	struct shim_mm *mm = shim_mm(shim_current());
	const char *shadow, *p = addr;

	if (!mm)
		return -1;
	shadow = __atomic_load_n(&mm->shadow, __ATOMIC_ACQUIRE);
	if (!shadow || p < shadow || p >= shadow + mm->nr_pages * PAGE_SIZE)
		return -1;
	*mmp = mm;
	return p - shadow;
}

struct page *__tdxsim_virt_to_page(const void *addr)
{
	struct shim_mm *mm;
	long off = shadow_offset(addr, &mm);

	if (off < 0) {
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__,
				      "virt_to_page(%p): not in the direct map", addr);
		return NULL;
	}
	return &mm->memmap[off >> PAGE_SHIFT];
}

phys_addr_t __tdxsim_pa(const void *addr)
{
	struct shim_mm *mm;
	long off = shadow_offset(addr, &mm);

	if (off < 0) {
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__,
				      "__pa(%p): not in the direct map", addr);
		return 0;
	}
	return PFN_PHYS(mm->base_pfn) + (phys_addr_t)off;
}

void *__tdxsim_va(phys_addr_t pa)
{
	struct tdxsim *sim = shim_current();
	struct shim_mm *mm = shim_mm(sim);
	char *shadow;

	if (!mm || !mm_has_pfn(mm, PHYS_PFN(pa))) {
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__,
				      "__va(%#llx): outside simulated memory", (unsigned long long)pa);
		return NULL;
	}
	shadow = shim_shadow(sim, mm);
	return shadow ? shadow + (pa - PFN_PHYS(mm->base_pfn)) : NULL;
}

/* ---- the allocator ---- */

static void page_init(struct page *page)
{
	unsigned long pfn = page->__tdxsim_pfn;

	memset(page, 0, sizeof(*page));
	page->__tdxsim_pfn = pfn;
}

struct page *__tdxsim_alloc_pages(gfp_t gfp, unsigned int order, const char *file, int line)
{
	struct tdxsim *sim = shim_current();
	unsigned long nr = 1UL << order, i;
	struct shim_mm *mm;
	struct page *page;
	char *shadow;
	u64 pa;

	/* The kernel's allocator may sleep for these: so may this call. */
	if (gfpflags_allow_blocking(gfp))
		__tdxsim_might_sleep(file, line);
	mm = shim_mm(sim);
	if (!mm)
		return NULL;
	if (order != 0 && order != HPAGE_PMD_ORDER) {
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, file, line,
				      "alloc_pages(order %u): the simulator allocates order 0 and %d only",
				      order, HPAGE_PMD_ORDER);
		return NULL;
	}
	pa = tdxsim_page_alloc(sim, order ? TDX_PS_2M : TDX_PS_4K);
	if (!pa) {
		if (!(gfp & __GFP_NOWARN))
			__tdxsim_kernel_event(TDXSIM_KEV_PR_WARN, file, line,
					      "page allocation failure: order:%u, mode:%#x",
					      order, gfp);
		return NULL;
	}
	page = &mm->memmap[PHYS_PFN(pa) - mm->base_pfn];
	for (i = 0; i < nr; i++)
		page_init(&page[i]);
	atomic_set(&page->_refcount, 1);
	if ((gfp & __GFP_COMP) && order) {
		page->__tdxsim_order = order;
		for (i = 1; i < nr; i++)
			page[i].compound_head = (unsigned long)page | 1;
	}
	if (gfp & __GFP_ZERO) {
		/* An unmapped shadow reads as zeroes already. */
		shadow = __atomic_load_n(&mm->shadow, __ATOMIC_ACQUIRE);
		if (shadow)
			memset(shadow + (pa - PFN_PHYS(mm->base_pfn)), 0, nr * PAGE_SIZE);
	}
	return page;
}

/*
 * Give @page (of @order) back to the simulator.  A page whose count is
 * already 0 was not allocated through the shim (a test took it from
 * tdxsim_page_alloc()): it is freed as it is, and a double free shows as the
 * simulator's host-misuse record.
 */
void __tdxsim_free_pages(struct page *page, unsigned int order)
{
	struct tdxsim *sim = shim_current();
	struct shim_mm *mm = shim_mm(sim);
	unsigned long i;

	if (!page)
		return;
	if (!mm || !mm_has_page(mm, page)) {
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__,
				      "__free_pages(%p): not a page of the current simulator",
				      (void *)page);
		return;
	}
	if (atomic_read(&page->_refcount) > 0 && !atomic_dec_and_test(&page->_refcount))
		return;
	if (PageTail(page) || (page->__tdxsim_order && page->__tdxsim_order != order))
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__,
				      "__free_pages(pfn %#lx, order %u): a compound page of order %u",
				      page_to_pfn(page), order, compound_order(page));
	if (page->__tdxsim_order) {
		for (i = 1; i < 1UL << page->__tdxsim_order; i++)
			page[i].compound_head = 0;
		page->__tdxsim_order = 0;
	}
	tdxsim_page_free(sim, page_to_phys(page), order ? TDX_PS_2M : TDX_PS_4K);
}

void __tdxsim_get_page(struct page *page)
{
	atomic_inc(&compound_head(page)->_refcount);
}

void __tdxsim_put_page(struct page *page)
{
	struct page *head = compound_head(page);

	/* At 0, __free_pages() frees without counting down again. */
	if (atomic_dec_and_test(&head->_refcount))
		__free_pages(head, head->__tdxsim_order);
}
