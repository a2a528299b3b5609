/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel shim: linux/mm_types.h, linux/mm.h, linux/gfp.h, linux/slab.h,
 * linux/vmalloc.h and asm/page.h, "customised".
 *
 * The memmap.  Each simulator gets, on first use, an array of struct page,
 * one per 4K page of its simulated memory [mem_base, mem_base + mem_size):
 * pfn_to_page()/page_to_pfn() are the kernel's index arithmetic over it, so
 * page->lru, page->private and folios work as in the kernel.  The calls that
 * name no page (pfn_to_page, alloc_pages, virt_to_page ...) use the calling
 * thread's current simulator (tdxsim_kernel_set_current()); a struct page
 * knows its own frame number, so page_to_pfn()/page_to_phys() work on any
 * thread.  A frame outside simulated memory has no struct page:
 * pfn_to_page() records a WARN there and returns NULL.
 *
 * The direct map.  page_address() returns a real pointer into a per-simulator
 * shadow of simulated memory (mapped on first use, mem_size bytes of
 * MAP_NORESERVE anonymous memory: pages cost only when written), so kernel
 * code may read and write page contents; virt_to_page(), __pa() and __va()
 * convert both ways.  The module never reads the shadow: TDX operations see
 * addresses, not contents.  kmalloc()/vmalloc() memory comes from the C
 * heap and has no physical address (__pa() of it records a WARN, returns 0).
 *
 * The allocator.  alloc_pages() takes the page (order 0) or the 2MB block
 * (order 9, the only other order the simulator's allocator has) from
 * tdxsim_page_alloc(), so a test sees it in tdxsim_pages_in_use() and the
 * module's checks, and fault injection's "alloc:enomem" makes it fail.
 * With __GFP_COMP (folio_alloc() always) the block is a compound page: tail
 * pages point at the head (page_folio()), the order is kept in the head.
 * Pages are reference counted (get_page/put_page); the last put frees.
 * A sleeping allocation (__GFP_DIRECT_RECLAIM: GFP_KERNEL*) is a
 * might_sleep() at its call site; GFP_ATOMIC/GFP_NOWAIT never sleep.
 * Simplifications: the head keeps the order itself (the kernel keeps it in
 * the first tail page); no page flags, mapping or LRU lists of our own.
 */
#ifndef TDXSIM_KERNEL_MM_H
#define TDXSIM_KERNEL_MM_H

#include <stdlib.h>

#include <tdxsim/kernel/atomic.h>
#include <tdxsim/kernel/base.h>
#include <tdxsim/kernel/list.h>
#include <tdxsim/kernel/locking.h>

#pragma GCC visibility push(default)

/* ---- linux/gfp_types.h: the kernel's flag names; the values are ours ---- */
typedef unsigned int gfp_t;
#define __GFP_HIGH		0x20U
#define __GFP_IO		0x40U
#define __GFP_FS		0x80U
#define __GFP_ZERO		0x100U
#define __GFP_DIRECT_RECLAIM	0x400U
#define __GFP_KSWAPD_RECLAIM	0x800U
#define __GFP_NOWARN		0x2000U
#define __GFP_RETRY_MAYFAIL	0x4000U
#define __GFP_NOFAIL		0x8000U
#define __GFP_NORETRY		0x10000U
#define __GFP_COMP		0x40000U
#define __GFP_ACCOUNT		0x400000U
#define __GFP_RECLAIM		(__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)
#define GFP_ATOMIC		(__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
#define GFP_NOWAIT		(__GFP_KSWAPD_RECLAIM | __GFP_NOWARN)
#define GFP_KERNEL		(__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_KERNEL_ACCOUNT	(GFP_KERNEL | __GFP_ACCOUNT)
#define GFP_NOIO		(__GFP_RECLAIM)
#define GFP_NOFS		(__GFP_RECLAIM | __GFP_IO)
#define GFP_USER		(__GFP_RECLAIM | __GFP_IO | __GFP_FS)

static inline bool gfpflags_allow_blocking(gfp_t gfp)
{
	return !!(gfp & __GFP_DIRECT_RECLAIM);
}

/* ---- struct page, struct folio ---- */
#define __TDXSIM_PAGE_FIELDS							\
	unsigned long flags;							\
	union {									\
		struct list_head lru;						\
		/* Tail pages: the head's address | 1 (never a list pointer). */ \
		struct {							\
			unsigned long compound_head;				\
			unsigned long __tdxsim_tail_pad;			\
		};								\
	};									\
	unsigned long private;							\
	atomic_t _refcount;							\
	/* tdxsim: the compound order (head only), the frame number. */	\
	unsigned int __tdxsim_order;						\
	unsigned long __tdxsim_pfn;

struct page {
	__TDXSIM_PAGE_FIELDS
};

/* A folio is its head page: same layout, so &folio->page is the head. */
struct folio {
	union {
		struct {
			__TDXSIM_PAGE_FIELDS
		};
		struct page page;
	};
};

#define MAX_PAGE_ORDER		10
#define HPAGE_PMD_ORDER		(PMD_SHIFT - PAGE_SHIFT)
#define HPAGE_PMD_NR		(1 << HPAGE_PMD_ORDER)

/* The current simulator's struct page of @pfn; NULL (and a WARN) outside its memory. */
struct page *__tdxsim_pfn_to_page(unsigned long pfn);
static inline struct page *pfn_to_page(unsigned long pfn)
{
	return __tdxsim_pfn_to_page(pfn);
}
/* Whether @pfn has a struct page in the current simulator. */
bool __tdxsim_pfn_valid(unsigned long pfn);
static inline bool pfn_valid(unsigned long pfn)
{
	return __tdxsim_pfn_valid(pfn);
}

static inline unsigned long page_to_pfn(const struct page *page)
{
	return page->__tdxsim_pfn;
}

static inline phys_addr_t page_to_phys(const struct page *page)
{
	return PFN_PHYS(page_to_pfn(page));
}

static inline struct page *phys_to_page(phys_addr_t pa)
{
	return pfn_to_page(PHYS_PFN(pa));
}

#define nth_page(page, n)	((page) + (n))

static inline bool PageTail(const struct page *page)
{
	return READ_ONCE(page->compound_head) & 1;
}

static inline struct page *compound_head(const struct page *page)
{
	unsigned long head = READ_ONCE(page->compound_head);

	if (head & 1)
		return (struct page *)(head - 1);
	return (struct page *)page;
}

#define page_folio(p)		((struct folio *)compound_head(p))
#define folio_page(folio, n)	(&(folio)->page + (n))

static inline unsigned int folio_order(const struct folio *folio)
{
	return folio->__tdxsim_order;
}

static inline long folio_nr_pages(const struct folio *folio)
{
	return 1L << folio_order(folio);
}

static inline size_t folio_size(const struct folio *folio)
{
	return PAGE_SIZE << folio_order(folio);
}

static inline bool folio_test_large(const struct folio *folio)
{
	return folio_order(folio) > 0;
}

static inline unsigned long folio_pfn(const struct folio *folio)
{
	return page_to_pfn(&folio->page);
}

static inline unsigned long folio_page_idx(const struct folio *folio, const struct page *page)
{
	return (unsigned long)(page - &folio->page);
}

static inline unsigned int compound_order(const struct page *page)
{
	return PageTail(page) ? 0 : page->__tdxsim_order;
}

static inline int page_ref_count(const struct page *page)
{
	return atomic_read(&page->_refcount);
}

static inline int folio_ref_count(const struct folio *folio)
{
	return page_ref_count(&folio->page);
}

/* ---- the direct map (a per-simulator shadow of simulated memory) ---- */
/* Pointer to @page's contents in the current simulator's shadow; NULL if it has none. */
void *__tdxsim_page_address(const struct page *page);
static inline void *page_address(const struct page *page)
{
	return __tdxsim_page_address(page);
}
/* The page a direct-map pointer is in; NULL (and a WARN) for any other pointer. */
struct page *__tdxsim_virt_to_page(const void *addr);
static inline struct page *virt_to_page(const void *addr)
{
	return __tdxsim_virt_to_page(addr);
}
/* Physical address of a direct-map pointer; 0 (and a WARN) for any other pointer. */
phys_addr_t __tdxsim_pa(const void *addr);
static inline phys_addr_t __pa(const void *addr)
{
	return __tdxsim_pa(addr);
}
/* Direct-map pointer of a physical address; NULL (and a WARN) outside simulated memory. */
void *__tdxsim_va(phys_addr_t pa);
static inline void *__va(phys_addr_t pa)
{
	return __tdxsim_va(pa);
}

#define page_to_virt(page)	page_address(page)
#define virt_to_phys(addr)	__pa(addr)
#define phys_to_virt(pa)	__va(pa)
#define virt_to_pfn(addr)	PHYS_PFN(__pa(addr))
#define pfn_to_virt(pfn)	__va(PFN_PHYS(pfn))
#define folio_address(folio)	page_address(&(folio)->page)
#define virt_to_folio(addr)	page_folio(virt_to_page(addr))

/* ---- the page allocator ---- */
struct page *__tdxsim_alloc_pages(gfp_t gfp, unsigned int order, const char *file, int line);
void __tdxsim_free_pages(struct page *page, unsigned int order);
static inline void __free_pages(struct page *page, unsigned int order)
{
	__tdxsim_free_pages(page, order);
}
void __tdxsim_get_page(struct page *page);
static inline void get_page(struct page *page)
{
	__tdxsim_get_page(page);
}
void __tdxsim_put_page(struct page *page);
static inline void put_page(struct page *page)
{
	__tdxsim_put_page(page);
}

#define alloc_pages(gfp, order)	__tdxsim_alloc_pages((gfp), (order), __FILE__, __LINE__)
#define alloc_page(gfp)		alloc_pages((gfp), 0)
#define __free_page(page)	__free_pages((page), 0)
#define folio_alloc(gfp, order)	\
	((struct folio *)__tdxsim_alloc_pages((gfp) | __GFP_COMP, (order), __FILE__, __LINE__))
#define folio_get(folio)	get_page(&(folio)->page)
#define folio_put(folio)	put_page(&(folio)->page)
#define __get_free_pages(gfp, order) ({						\
	struct page *__p = alloc_pages((gfp), (order));				\
	__p ? (unsigned long)page_address(__p) : 0UL;				\
})
#define __get_free_page(gfp)	__get_free_pages((gfp), 0)
#define get_zeroed_page(gfp)	__get_free_page((gfp) | __GFP_ZERO)
#define free_pages(addr, order)	do {						\
	if (addr)								\
		__free_pages(virt_to_page((void *)(addr)), (order));		\
} while (0)
#define free_page(addr)		free_pages((addr), 0)

/*
 * ---- slab and vmalloc: the C heap.  A sleeping @gfp is a might_sleep() at
 * the call site, as in the kernel; these do not take part in fault injection.
 */
#define kmalloc(size, gfp)	({ might_sleep_if(gfpflags_allow_blocking(gfp));	\
				   ((gfp) & __GFP_ZERO) ? calloc(1, (size)) : malloc(size); })
#define kzalloc(size, gfp)	kmalloc((size), (gfp) | __GFP_ZERO)
#define kcalloc(n, size, gfp)	({ might_sleep_if(gfpflags_allow_blocking(gfp)); calloc((n), (size)); })
#define kmalloc_array(n, size, gfp)	kcalloc((n), (size), (gfp))
#define kvmalloc(size, gfp)	kmalloc((size), (gfp))
#define kvzalloc(size, gfp)	kzalloc((size), (gfp))
#define kvcalloc(n, size, gfp)	kcalloc((n), (size), (gfp))
#define vmalloc(size)		({ might_sleep(); malloc(size); })
#define vzalloc(size)		({ might_sleep(); calloc(1, (size)); })
#define vcalloc(n, size)	({ might_sleep(); calloc((n), (size)); })
#define kfree(p)		free((void *)(p))
#define kvfree(p)		free((void *)(p))
#define vfree(p)		free((void *)(p))

#pragma GCC visibility pop

#endif /* TDXSIM_KERNEL_MM_H */
