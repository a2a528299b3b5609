// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page-table pages (sp->spt) and their ->private, the stand-in for the
 * kernel's set_page_private(virt_to_page(sp->spt), sp) (tdp_mmu.h
 * kvm_spt_private()).  Customised stand-in for the page allocator and the
 * memmap: pages come from 2 MiB-aligned chunks of 512 pages whose first page
 * holds the other 511 pages' ->private, so a table costs its 4 KiB and 8
 * bytes.  (A 4104-byte page-aligned allocation with ->private after the
 * SPTEs, as before, touched two pages per table: 8 more bytes per mapped 4K
 * page and one more page fault per split, bench-sim-path.)
 *
 * Chunks are kept for the process's life and their pages reused, as the
 * kernel's memmap outlives a VM.  Under valgrind each page is announced as a
 * heap block (VALGRIND_MALLOCLIKE_BLOCK / FREELIKE_BLOCK), so a table used
 * after its free, or never freed, is reported as a malloc'd one was.
 * Thread-safe: one mutex; kvm_spt_private() needs none.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "mmu_internal.h"

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MALLOCLIKE_BLOCK(addr, size, rz, zeroed)	do { } while (0)
#define VALGRIND_FREELIKE_BLOCK(addr, rz)			do { } while (0)
#endif

#define SPT_PAGES_PER_CHUNK	(KVM_SPT_CHUNK_SIZE / PAGE_SIZE)

static pthread_mutex_t spt_lock = PTHREAD_MUTEX_INITIALIZER;
/* Freed pages, linked through their ->private slot (the page itself is off limits). */
static u64 *spt_free_list;
/* The newest chunk's pages not handed out yet. */
static char *spt_next, *spt_end;

/* A 2 MiB-aligned chunk, not committed: a page costs memory once written. */
static int spt_chunk_grow(void)
{
	size_t size = KVM_SPT_CHUNK_SIZE;
	char *p = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t start, chunk, end;

	if (p == MAP_FAILED)
		return -ENOMEM;
	start = (uintptr_t)p;
	end = start + 2 * size;
	chunk = (start + size - 1) & ~(uintptr_t)(size - 1);
	if (chunk > start)
		munmap(p, chunk - start);
	if (chunk + size < end)
		munmap((void *)(chunk + size), end - chunk - size);
	/* A transparent huge page would make the whole chunk resident at once. */
	madvise((void *)chunk, size, MADV_NOHUGEPAGE);
	spt_next = (char *)chunk + PAGE_SIZE;	/* page 0: the ->private slots */
	spt_end = (char *)chunk + size;
	return 0;
}

u64 *kvm_mmu_alloc_spt_page(u64 init_value)
{
	u64 *spt = NULL;
	int i;

	pthread_mutex_lock(&spt_lock);
	if (spt_free_list) {
		spt = spt_free_list;
		spt_free_list = (u64 *)*kvm_spt_private(spt);
	} else if (spt_next < spt_end || !spt_chunk_grow()) {
		spt = (u64 *)spt_next;
		spt_next += PAGE_SIZE;
	}
	if (spt)
		*kvm_spt_private(spt) = NULL;
	pthread_mutex_unlock(&spt_lock);
	if (!spt)
		return NULL;
	VALGRIND_MALLOCLIKE_BLOCK(spt, PAGE_SIZE, 0, 0);
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
		spt[i] = init_value;
	return spt;
}

void kvm_mmu_free_spt_page(u64 *spt)
{
	if (!spt)
		return;
	VALGRIND_FREELIKE_BLOCK(spt, 0);
	pthread_mutex_lock(&spt_lock);
	*kvm_spt_private(spt) = (struct kvm_mmu_page *)spt_free_list;
	spt_free_list = spt;
	pthread_mutex_unlock(&spt_lock);
}
