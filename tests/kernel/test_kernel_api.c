// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel shim's API as kernel code sees it (<tdxsim/kernel.h>): lists,
 * the memmap and folios, the page allocator in atomic context, lockdep
 * assertions, the SEAMCALL register contract, sc_retry() and asm/tdx.h.
 * The functions under test are written here in the kernel's shape, from the
 * behaviour the kernel documents; each test checks what the kernel would do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <pthread.h>

#include <tdxsim/fault.h>
#include <tdxsim/kernel.h>

#include "../lib/assert_status.h"

struct kfx {
	struct tdxsim_config cfg;
	struct tdxsim *sim;
};

static int setup(void **state)
{
	struct kfx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	tdxsim_config_init(&fx->cfg);
	fx->cfg.mem_size = 64ULL << 20;
	fx->sim = tdxsim_create(&fx->cfg);
	if (!fx->sim) {
		free(fx);
		return -1;
	}
	tdxsim_kernel_set_current(fx->sim);
	*state = fx;
	return 0;
}

/* Every page back, nothing held, no event a test did not ask for. */
static int teardown(void **state)
{
	struct kfx *fx = *state;
	int ret = 0;

	if (tdxsim_pages_in_use(fx->sim)) {
		fprintf(stderr, "%llu pages left allocated\n",
			(unsigned long long)tdxsim_pages_in_use(fx->sim));
		ret = -1;
	}
	if (tdxsim_kernel_locks_held() || tdxsim_kernel_preempt_count()) {
		fprintf(stderr, "%u locks held, preempt_count %d\n", tdxsim_kernel_locks_held(),
			tdxsim_kernel_preempt_count());
		ret = -1;
	}
	tdxsim_kernel_set_current(NULL);
	tdxsim_destroy(fx->sim);
	free(fx);
	return ret;
}

static void assert_no_events(struct tdxsim *sim)
{
	for (int t = 0; t < TDXSIM_KEV_NR; t++) {
		if (t != TDXSIM_KEV_PR_INFO)
			assert_int_equal(tdxsim_kernel_events(sim, t), 0);
	}
}

/* The last event of @type came from this file at @line. */
static void assert_event_at(struct tdxsim *sim, enum tdxsim_kernel_event_type type, int line)
{
	struct tdxsim_kernel_event ev;

	assert_int_equal(tdxsim_kernel_last_event(sim, type, &ev), 0);
	assert_string_equal(ev.file, __FILE__);
	assert_int_equal(ev.line, line);
}

/* ---- linux/list.h and page->lru ---- */

struct item {
	int v;
	struct list_head node;
};

static void test_list_api(void **state)
{
	struct item it[4] = { { .v = 0 }, { .v = 1 }, { .v = 2 }, { .v = 3 } };
	static const int order[] = { 1, 3, 0 };
	struct item *pos, *n;
	LIST_HEAD(head);
	LIST_HEAD(other);
	int want, i;

	(void)state;
	assert_true(list_empty(&head));
	assert_null(list_first_entry_or_null(&head, struct item, node));
	list_add_tail(&it[1].node, &head);
	list_add_tail(&it[2].node, &head);
	list_add(&it[0].node, &head);		/* a stack push: first */
	list_add_tail(&it[3].node, &head);	/* a queue push: last */
	assert_int_equal(list_count_nodes(&head), 4);
	want = 0;
	list_for_each_entry(pos, &head, node)
		assert_int_equal(pos->v, want++);
	assert_int_equal(want, 4);
	list_for_each_entry_reverse(pos, &head, node)
		assert_int_equal(pos->v, --want);
	assert_ptr_equal(list_first_entry(&head, struct item, node), &it[0]);
	assert_ptr_equal(list_last_entry(&head, struct item, node), &it[3]);

	/* The kernel's list_del() poisons the node. */
	list_del(&it[2].node);
	assert_ptr_equal(it[2].node.next, LIST_POISON1);
	assert_ptr_equal(it[2].node.prev, LIST_POISON2);
	assert_ptr_equal(list_next_entry(&it[1], node), &it[3]);

	list_move_tail(&it[0].node, &other);
	assert_true(list_is_singular(&other));
	list_splice_init(&head, &other);	/* 1, 3 before 0 */
	assert_true(list_empty(&head));
	i = 0;
	list_for_each_entry_safe(pos, n, &other, node) {
		assert_int_equal(pos->v, order[i++]);
		list_del_init(&pos->node);
		assert_true(list_empty(&pos->node));
	}
	assert_true(list_empty(&other));
}

/* A PAMT-style page cache on page->lru, as Dynamic PAMT v6 keeps it. */
struct page_cache {
	struct list_head page_list;
	int cnt;
};

static int page_cache_topup(struct page_cache *c, int min)
{
	while (c->cnt < min) {
		struct page *page = alloc_page(GFP_KERNEL_ACCOUNT);

		if (!page)
			return -ENOMEM;
		list_add(&page->lru, &c->page_list);
		c->cnt++;
	}
	return 0;
}

static struct page *page_cache_pop(struct page_cache *c)
{
	struct page *page = list_first_entry_or_null(&c->page_list, struct page, lru);

	if (page) {
		list_del(&page->lru);
		c->cnt--;
	}
	return page;
}

static void test_page_lru_list(void **state)
{
	struct kfx *fx = *state;
	struct page_cache c = { .page_list = LIST_HEAD_INIT(c.page_list) };
	struct page *page, *last = NULL;
	u64 seen[4];
	int i = 0;

	assert_int_equal(page_cache_topup(&c, 4), 0);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 4);
	list_for_each_entry(page, &c.page_list, lru) {
		assert_ptr_equal(pfn_to_page(page_to_pfn(page)), page);
		assert_true(tdxsim_pamt_lookup(fx->sim, page_to_phys(page),
					       &(struct tdxsim_pamt_info){ 0 }) == 0);
		seen[i++] = page_to_phys(page);
		last = page;
	}
	assert_int_equal(i, 4);
	/* list_add() pushes: the last allocated page comes out first. */
	page = page_cache_pop(&c);
	assert_int_equal(page_to_phys(page), seen[0]);
	assert_ptr_equal(page->lru.next, LIST_POISON1);
	__free_page(page);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 3);
	assert_ptr_equal(list_last_entry(&c.page_list, struct page, lru), last);
	while ((page = page_cache_pop(&c)))
		__free_page(page);
	assert_int_equal(c.cnt, 0);
	assert_no_events(fx->sim);
}

/* ---- struct page, folios, the direct map ---- */

static void test_folio_4k(void **state)
{
	struct kfx *fx = *state;
	struct folio *folio = folio_alloc(GFP_KERNEL, 0);
	struct page *page;
	char *va;

	assert_non_null(folio);
	page = folio_page(folio, 0);
	assert_ptr_equal(page_folio(page), folio);
	assert_int_equal(folio_nr_pages(folio), 1);
	assert_int_equal(folio_size(folio), PAGE_SIZE);
	assert_false(folio_test_large(folio));
	assert_int_equal(folio_page_idx(folio, page), 0);
	assert_int_equal(folio_pfn(folio), page_to_pfn(page));
	assert_true(pfn_valid(folio_pfn(folio)));
	assert_true(tdxsim_pamt_lookup(fx->sim, page_to_phys(page),
				       &(struct tdxsim_pamt_info){ 0 }) == 0);
	assert_ptr_equal(phys_to_page(page_to_phys(page)), page);

	/* The direct map: real memory, both ways. */
	va = folio_address(folio);
	assert_non_null(va);
	memset(va, 0x5a, PAGE_SIZE);
	assert_ptr_equal(virt_to_page(va + 100), page);
	assert_ptr_equal(virt_to_folio(va), folio);
	assert_int_equal(__pa(va + 100), page_to_phys(page) + 100);
	assert_ptr_equal(__va(page_to_phys(page)), va);
	folio_put(folio);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 0);

	/* The next owner asks for a zeroed page and gets one. */
	va = (char *)get_zeroed_page(GFP_KERNEL);
	assert_non_null(va);
	for (unsigned long i = 0; i < PAGE_SIZE; i += 511)
		assert_int_equal(va[i], 0);
	free_page((unsigned long)va);
	assert_no_events(fx->sim);
}

static void test_folio_2m(void **state)
{
	struct kfx *fx = *state;
	struct folio *folio = folio_alloc(GFP_KERNEL, HPAGE_PMD_ORDER);
	struct tdxsim_pamt_info pi;
	struct page *head, *page;

	assert_non_null(folio);
	head = &folio->page;
	assert_true(IS_ALIGNED(folio_pfn(folio), PTRS_PER_PMD));
	assert_int_equal(folio_nr_pages(folio), PTRS_PER_PMD);
	assert_int_equal(folio_size(folio), PMD_SIZE);
	assert_int_equal(folio_order(folio), HPAGE_PMD_ORDER);
	assert_true(folio_test_large(folio));
	assert_int_equal(tdxsim_pages_in_use(fx->sim), PTRS_PER_PMD);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, page_to_phys(head), &pi), 0);
	assert_true(pi.allocated);

	/* Every page of the folio leads back to it, at its own index. */
	for (unsigned long i = 0; i < PTRS_PER_PMD; i += 37) {
		page = folio_page(folio, i);
		assert_ptr_equal(page_folio(page), folio);
		assert_int_equal(folio_page_idx(folio, page), i);
		assert_int_equal(page_to_pfn(page), folio_pfn(folio) + i);
		assert_ptr_equal(pfn_to_page(folio_pfn(folio) + i), page);
		assert_int_equal(PageTail(page), i != 0);
	}
	page = folio_page(folio, PTRS_PER_PMD - 1);
	assert_ptr_equal(virt_to_folio((char *)page_address(page) + 5), folio);

	/* A reference taken through a tail page keeps the whole folio. */
	get_page(page);
	assert_int_equal(folio_ref_count(folio), 2);
	folio_put(folio);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), PTRS_PER_PMD);
	put_page(page);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 0);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, page_to_phys(head), &pi), 0);
	assert_false(pi.allocated);
	/* Freed, the pages are single pages again. */
	assert_ptr_equal(page_folio(page), (struct folio *)page);
	assert_no_events(fx->sim);
}

/* Outside simulated memory there is no struct page, and the shim says so. */
static void test_pfn_outside_memory(void **state)
{
	struct kfx *fx = *state;
	unsigned long below = PHYS_PFN(fx->cfg.mem_base) - 1;

	assert_false(pfn_valid(below));
	assert_null(pfn_to_page(below));
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN), 1);
	assert_null(alloc_pages(GFP_KERNEL, 3));
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN), 2);
	assert_int_equal(__pa(&below), 0);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_WARN), 3);
}

/* The event log keeps the first TDXSIM_KERNEL_EVENT_LOG events in order, until a reset. */
static void test_event_log(void **state)
{
	struct kfx *fx = *state;
	struct tdxsim_kernel_event ev;
	int line = 0;

	for (int i = 0; i < 300; i++) {
		line = __LINE__ + 1;
		pr_warn("event %d\n", i);
	}
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_PR_WARN), 300);
	assert_int_equal(tdxsim_kernel_event_at(fx->sim, 255, &ev), 0);
	assert_string_equal(ev.msg, "event 255\n");
	assert_int_equal(ev.line, line);
	assert_int_equal(tdxsim_kernel_event_at(fx->sim, TDXSIM_KERNEL_EVENT_LOG, &ev), -ENOENT);
	assert_int_equal(tdxsim_kernel_last_event(fx->sim, TDXSIM_KEV_PR_WARN, &ev), 0);
	assert_string_equal(ev.msg, "event 299\n");
	tdxsim_kernel_events_reset(fx->sim);
	assert_int_equal(tdxsim_kernel_event_at(fx->sim, 0, &ev), -ENOENT);
	for (int i = 0; i < 3; i++)
		pr_info_once("once %d\n", i);	/* one site: fires the first time only */
	assert_int_equal(tdxsim_kernel_event_at(fx->sim, 0, &ev), 0);
	assert_int_equal(ev.type, TDXSIM_KEV_PR_INFO);
	assert_string_equal(ev.msg, "once 0\n");
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_PR_INFO), 1);
}

/* ---- sleeping in atomic context ---- */

static DEFINE_SPINLOCK(cache_lock);
static DEFINE_RWLOCK(mmu_lock);
static DEFINE_MUTEX(slots_lock);

static void test_gfp_kernel_under_spinlock(void **state)
{
	struct kfx *fx = *state;
	struct tdxsim_kernel_event ev;
	struct page *page;
	int line;

	spin_lock(&cache_lock);
	assert_true(in_atomic());
	line = __LINE__ + 1;
	page = alloc_page(GFP_KERNEL_ACCOUNT);
	spin_unlock(&cache_lock);
	/* The allocation itself works; the kernel would have complained. */
	assert_non_null(page);
	__free_page(page);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC), 1);
	assert_event_at(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC, line);
	assert_int_equal(tdxsim_kernel_last_event(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC, &ev), 0);
	assert_non_null(strstr(ev.msg, "sleeping function called from invalid context"));

	/* Outside the lock, and GFP_ATOMIC inside it: no complaint. */
	assert_false(in_atomic());
	page = alloc_page(GFP_KERNEL);
	__free_page(page);
	spin_lock(&cache_lock);
	page = alloc_page(GFP_ATOMIC);
	__free_page(page);
	page = alloc_page(GFP_NOWAIT);
	__free_page(page);
	spin_unlock(&cache_lock);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC), 1);

	/* A read-locked rwlock is atomic too; so is a mutex_lock() under it. */
	read_lock(&mmu_lock);
	line = __LINE__ + 1;
	mutex_lock(&slots_lock);
	mutex_unlock(&slots_lock);
	read_unlock(&mmu_lock);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC), 2);
	assert_event_at(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC, line);

	/* Under a mutex, sleeping is fine. */
	mutex_lock(&slots_lock);
	might_sleep();
	page = alloc_page(GFP_KERNEL);
	__free_page(page);
	mutex_unlock(&slots_lock);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC), 2);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP), 0);
}

/* GFP_ATOMIC never sleeps, and can fail: the caller must cope. */
static void test_gfp_atomic_fails_under_injection(void **state)
{
	struct kfx *fx = *state;
	char err[128];

	assert_int_equal(tdxsim_fault_parse(fx->sim, "alloc:enomem:nth=1", err, sizeof(err)), 1);
	spin_lock(&cache_lock);
	assert_null(alloc_page(GFP_ATOMIC | __GFP_NOWARN));
	spin_unlock(&cache_lock);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 0);
	assert_no_events(fx->sim);
}

/* ---- lockdep ---- */

/* KVM-style: the caller must hold mmu_lock for write. */
static int zap_leaf(void)
{
	lockdep_assert_held_write(&mmu_lock);
	return 0;
}

static void test_lockdep_assert_held(void **state)
{
	struct kfx *fx = *state;
	struct tdxsim_kernel_event ev;
	int line;

	spin_lock(&cache_lock);
	lockdep_assert_held(&cache_lock);
	spin_unlock(&cache_lock);
	write_lock(&mmu_lock);
	zap_leaf();
	lockdep_assert_held(&mmu_lock);
	write_unlock(&mmu_lock);
	read_lock(&mmu_lock);
	lockdep_assert_held_read(&mmu_lock);
	lockdep_assert_not_held(&cache_lock);
	read_unlock(&mmu_lock);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP), 0);

	/* Not held at all. */
	line = __LINE__ + 1;
	lockdep_assert_held(&cache_lock);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP), 1);
	assert_event_at(fx->sim, TDXSIM_KEV_LOCKDEP, line);

	/* Held, but for read where write is required. */
	read_lock(&mmu_lock);
	zap_leaf();
	read_unlock(&mmu_lock);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP), 2);
	assert_int_equal(tdxsim_kernel_last_event(fx->sim, TDXSIM_KEV_LOCKDEP, &ev), 0);
	assert_string_equal(ev.file, __FILE__);
	assert_non_null(strstr(ev.msg, "lockdep_assert_held_write"));
	assert_non_null(strstr(ev.msg, "held shared"));

	/* The log has them in order, each with its site. */
	assert_int_equal(tdxsim_kernel_event_at(fx->sim, 0, &ev), 0);
	assert_int_equal(ev.type, TDXSIM_KEV_LOCKDEP);
	assert_non_null(strstr(ev.msg, "lockdep_assert_held("));
	assert_int_equal(tdxsim_kernel_event_at(fx->sim, 1, &ev), 0);
	assert_non_null(strstr(ev.msg, "lockdep_assert_held_write"));
	assert_string_equal(ev.file, __FILE__);
	assert_int_equal(tdxsim_kernel_event_at(fx->sim, 2, &ev), -ENOENT);

	/* An unlock of what this thread does not hold: bad unlock balance. */
	assert_int_equal(tdxsim_kernel_locks_held(), 0);
	line = __LINE__ + 1;
	spin_unlock(&cache_lock);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP), 3);
	assert_event_at(fx->sim, TDXSIM_KEV_LOCKDEP, line);
	/* It was left alone: still free. */
	assert_true(spin_trylock(&cache_lock));
	spin_unlock(&cache_lock);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP), 3);
}

struct holder {
	pthread_barrier_t taken, done;
};

static void *hold_cache_lock(void *arg)
{
	struct holder *h = arg;

	spin_lock(&cache_lock);
	pthread_barrier_wait(&h->taken);
	pthread_barrier_wait(&h->done);
	spin_unlock(&cache_lock);
	return NULL;
}

/* A lock another thread holds is not held by this one (lockdep is per task). */
static void test_lockdep_other_thread(void **state)
{
	struct kfx *fx = *state;
	struct holder h;
	pthread_t t;
	int line;

	pthread_barrier_init(&h.taken, NULL, 2);
	pthread_barrier_init(&h.done, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, hold_cache_lock, &h), 0);
	pthread_barrier_wait(&h.taken);
	assert_false(spin_trylock(&cache_lock));
	line = __LINE__ + 1;
	lockdep_assert_held(&cache_lock);
	assert_false(in_atomic());
	pthread_barrier_wait(&h.done);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_barrier_destroy(&h.taken);
	pthread_barrier_destroy(&h.done);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP), 1);
	assert_event_at(fx->sim, TDXSIM_KEV_LOCKDEP, line);
}

/* atomic_dec_and_lock(): only the last put returns, with the lock held. */
static void test_atomic_dec_and_lock(void **state)
{
	struct kfx *fx = *state;
	atomic_t users = ATOMIC_INIT(2);

	assert_false(atomic_dec_and_lock(&users, &cache_lock));
	assert_int_equal(atomic_read(&users), 1);
	assert_false(in_atomic());
	assert_true(atomic_dec_and_lock(&users, &cache_lock));
	assert_int_equal(atomic_read(&users), 0);
	lockdep_assert_held(&cache_lock);
	assert_true(in_atomic());
	spin_unlock(&cache_lock);
	assert_false(atomic_add_unless(&users, 1, 0));
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP), 0);
}

/* ---- linux/cleanup.h ---- */

static int guarded_zap(void)
{
	guard(write_lock)(&mmu_lock);
	return zap_leaf();
}

static int *dup_int(int v)
{
	int *p __free(kfree) = kmalloc(sizeof(*p), GFP_KERNEL);

	if (!p)
		return NULL;
	*p = v;
	return_ptr(p);
}

static void test_cleanup_guards(void **state)
{
	struct kfx *fx = *state;
	int *p, line;

	assert_int_equal(guarded_zap(), 0);
	assert_int_equal(tdxsim_kernel_locks_held(), 0);
	scoped_guard(spinlock, &cache_lock) {
		lockdep_assert_held(&cache_lock);
		assert_true(in_atomic());
	}
	assert_false(in_atomic());
	scoped_guard(mutex, &slots_lock)
		msleep(1);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_LOCKDEP), 0);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC), 0);

	/* A mutex guard inside a read_lock guard: the guard's line is the sleep site. */
	{
		guard(read_lock)(&mmu_lock);
		line = __LINE__ + 1;
		guard(mutex)(&slots_lock);
	}
	assert_int_equal(tdxsim_kernel_locks_held(), 0);
	assert_int_equal(tdxsim_kernel_events(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC), 1);
	assert_event_at(fx->sim, TDXSIM_KEV_SLEEP_IN_ATOMIC, line);

	p = dup_int(7);
	assert_non_null(p);
	assert_int_equal(*p, 7);
	kfree(p);
}

/* ---- the SEAMCALL register contract ---- */

struct seen_regs {
	struct tdx_module_args in;
	unsigned int calls;
};

static void record_entry(void *arg, const struct tdxsim_hook_event *ev)
{
	struct seen_regs *s = arg;

	if (ev->point != TDXSIM_HOOK_ENTRY)
		return;
	s->in = *ev->args;
	s->calls++;
}

static void test_seamcall_register_contract(void **state)
{
	struct kfx *fx = *state;
	struct seen_regs seen = { 0 };
	struct tdx_module_args args;
	const struct tdx_module_args mine = {
		.rcx = 1, .rdx = 2, .r8 = 3, .r9 = 4, .r10 = 5, .r11 = 6, .r12 = 7, .r13 = 8,
		.r14 = 9, .r15 = 10, .rbx = 11, .rdi = 12, .rsi = 13,
	};

	tdxsim_set_hook(fx->sim, record_entry, &seen);

	/* seamcall(): RCX..R11 in, the rest junk; nothing written back. */
	args = mine;
	assert_true(seamcall(TDH_MEM_TRACK, &args) != TDX_SUCCESS);
	assert_int_equal(seen.in.rcx, 1);
	assert_int_equal(seen.in.r11, 6);
	assert_int_equal(seen.in.r12, TDXSIM_SEAMCALL_JUNK(r12));
	assert_int_equal(seen.in.r13, TDXSIM_SEAMCALL_JUNK(r13));
	assert_int_equal(seen.in.rbx, TDXSIM_SEAMCALL_JUNK(rbx));
	assert_int_equal(seen.in.rsi, TDXSIM_SEAMCALL_JUNK(rsi));
	assert_memory_equal(&args, &mine, sizeof(args));

	/* seamcall_ret(): the same inputs; R12 and up stay the caller's. */
	args = mine;
	seamcall_ret(TDH_MEM_TRACK, &args);
	assert_int_equal(seen.in.r10, 5);
	assert_int_equal(seen.in.r12, TDXSIM_SEAMCALL_JUNK(r12));
	assert_int_equal(seen.in.rdi, TDXSIM_SEAMCALL_JUNK(rdi));
	assert_int_equal(args.r12, 7);
	assert_int_equal(args.rsi, 13);

	/* seamcall_saved_ret(): all thirteen. */
	args = mine;
	seamcall_saved_ret(TDH_MEM_TRACK, &args);
	assert_memory_equal(&seen.in, &mine, sizeof(mine));
	assert_int_equal(seen.calls, 3);
	tdxsim_set_hook(fx->sim, NULL, NULL);
}

/* sc_retry(): TDX_RND_NO_ENTROPY is retried, up to RDRAND_RETRY_LOOPS calls. */
static void test_sc_retry_no_entropy(void **state)
{
	struct kfx *fx = *state;
	struct tdxsim_fault_rule r;
	struct tdxsim_td *td;
	struct tdx_module_args args;
	struct tdxsim_leaf_stats st;
	u64 status;

	td = tdxsim_td_create(fx->sim, &status);
	assert_non_null(td);
	tdxsim_fault_rule_init(&r, TDH_MEM_TRACK, TDXSIM_FAULT_STATUS, TDX_RND_NO_ENTROPY);
	r.nth = 1;
	assert_true(tdxsim_fault_add(fx->sim, &r) >= 0);
	args = (struct tdx_module_args){ .rcx = td->tdr_pa };
	assert_status(seamcall(TDH_MEM_TRACK, &args), TDX_SUCCESS);
	assert_int_equal(tdxsim_stats_leaf(fx->sim, TDH_MEM_TRACK, &st), 0);
	assert_int_equal(st.calls, 2);

	tdxsim_fault_clear(fx->sim);
	tdxsim_fault_rule_init(&r, TDH_MEM_TRACK, TDXSIM_FAULT_STATUS, TDX_RND_NO_ENTROPY);
	assert_true(tdxsim_fault_add(fx->sim, &r) >= 0);
	assert_status(seamcall(TDH_MEM_TRACK, &args), TDX_RND_NO_ENTROPY);
	assert_int_equal(tdxsim_stats_leaf(fx->sim, TDH_MEM_TRACK, &st), 0);
	assert_int_equal(st.calls, 2 + RDRAND_RETRY_LOOPS);
	/* Preemption was disabled around each call only. */
	assert_int_equal(tdxsim_kernel_preempt_count(), 0);
	tdxsim_fault_clear(fx->sim);
	assert_int_equal(tdxsim_td_teardown(td, TDXSIM_TEARDOWN_FREE_PAMT), 0);
}

/* ---- asm/tdx.h ---- */

static void test_tdx_sysinfo(void **state)
{
	struct kfx *fx = *state;
	const struct tdx_sys_info *si = tdx_get_sysinfo();
	struct page *page;

	assert_non_null(si);
	assert_ptr_equal(si, &tdx_sysinfo);
	assert_int_equal(si->features.tdx_features0, fx->cfg.features0);
	assert_true(tdx_supports_dynamic_pamt(si));
	assert_true(tdx_supports_demote_nointerrupt(&tdx_sysinfo));
	assert_int_equal(tdx_dpamt_entry_pages(), 2);
	assert_int_equal(si->td_ctrl.tdcs_base_size, fx->cfg.nr_tdcs_pages * PAGE_SIZE);
	assert_int_equal(TDX_FEATURES0_ENHANCE_DEMOTE_INTERRUPTIBILITY, BIT_ULL(51));

	/* A module without Dynamic PAMT: no pair pages. */
	tdx_sysinfo.features.tdx_features0 &= ~TDX_FEATURES0_DYNAMIC_PAMT;
	assert_false(tdx_supports_dynamic_pamt(tdx_get_sysinfo()));
	assert_int_equal(tdx_dpamt_entry_pages(), 0);

	/* mk_keyed_paddr() is the simulator's keyed address. */
	page = alloc_page(GFP_KERNEL);
	assert_non_null(page);
	assert_int_equal(mk_keyed_paddr(5, page),
			 tdxsim_mk_keyed_paddr(fx->sim, 5, page_to_phys(page)));
	assert_int_equal(boot_cpu_data.x86_phys_bits, fx->cfg.max_pa_bits - fx->cfg.nr_hkid_bits);
	assert_int_equal(boot_cpu_has_bug(X86_BUG_TDX_PW_MCE), fx->cfg.reset_quirk);
	__free_page(page);

	/* No current simulator: no module, no metadata. */
	tdxsim_kernel_set_current(NULL);
	assert_null(tdx_get_sysinfo());
	assert_false(tdx_supports_dynamic_pamt(&tdx_sysinfo));
	assert_int_equal(boot_cpu_data.x86_phys_bits, 0);
	tdxsim_kernel_set_current(fx->sim);
}

/* tdx_quirk_reset_page(): MOVDIR64B zeroes the page only on platforms with the erratum. */
static void test_quirk_reset(void **state)
{
	struct kfx *fx = *state;
	struct tdxsim_config cfg = fx->cfg;
	struct tdxsim *quirky;
	struct folio *folio;
	unsigned char *va;

	folio = folio_alloc(GFP_KERNEL, 0);
	va = folio_address(folio);
	memset(va, 0xaa, PAGE_SIZE);
	tdx_quirk_reset_page(&folio->page);
	assert_int_equal(va[0], 0xaa);		/* no X86_BUG_TDX_PW_MCE: nothing done */
	folio_put(folio);

	cfg.reset_quirk = true;
	quirky = tdxsim_create(&cfg);
	assert_non_null(quirky);
	tdxsim_kernel_set_current(quirky);
	folio = folio_alloc(GFP_KERNEL, HPAGE_PMD_ORDER);
	assert_non_null(folio);
	va = folio_address(folio);
	memset(va, 0xaa, folio_size(folio));
	tdx_quirk_reset_folio(folio, 1, 2);
	assert_int_equal(va[0], 0xaa);
	assert_int_equal(va[PAGE_SIZE], 0);
	assert_int_equal(va[3 * PAGE_SIZE - 1], 0);
	assert_int_equal(va[3 * PAGE_SIZE], 0xaa);
	/* Beyond the folio: WARN_ON_ONCE and nothing reset. */
	tdx_quirk_reset_folio(folio, PTRS_PER_PMD - 1, 2);
	assert_int_equal(tdxsim_kernel_events(quirky, TDXSIM_KEV_WARN), 1);
	assert_int_equal(va[(PTRS_PER_PMD - 1) * PAGE_SIZE], 0xaa);
	folio_put(folio);
	assert_int_equal(tdxsim_pages_in_use(quirky), 0);
	tdxsim_kernel_set_current(fx->sim);
	tdxsim_destroy(quirky);
	assert_no_events(fx->sim);
}

/* Kernel basics that only need to compile and mean what they mean. */
static void test_kernel_basics(void **state)
{
	u64 pa = 0x40201000ULL;
	unsigned long a[7];
	char buf[8];

	(void)state;
	BUILD_BUG_ON(sizeof(struct tdx_module_args) != 13 * sizeof(u64));
	BUILD_BUG_ON(sizeof(struct tdx_module_array_args) != sizeof(struct tdx_module_args));
	assert_int_equal(ARRAY_SIZE(a), 7);
	assert_true(IS_ALIGNED(pa, PAGE_SIZE));
	assert_false(IS_ALIGNED(pa, PMD_SIZE));
	assert_int_equal(PFN_PHYS(PHYS_PFN(pa)), pa);
	assert_int_equal(ALIGN_DOWN(pa, PMD_SIZE), 0x40200000ULL);
	assert_int_equal(min(3, 5), 3);
	assert_int_equal(max_t(u64, 3, pa), pa);
	assert_int_equal(strscpy(buf, "tdxsim", sizeof(buf)), 6);
	assert_int_equal(strscpy(buf, "tdx module", sizeof(buf)), -E2BIG);
	assert_string_equal(buf, "tdx mod");
	WRITE_ONCE(a[0], 42UL);
	assert_int_equal(READ_ONCE(a[0]), 42);
	assert_true(IS_ERR(ERR_PTR(-EIO)));
	assert_int_equal(PTR_ERR(ERR_PTR(-ENOTSUPP)), -524);
	assert_true(likely(pa) && !unlikely(!pa));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_basics),
		cmocka_unit_test(test_list_api),
		cmocka_unit_test_setup_teardown(test_page_lru_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folio_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folio_2m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pfn_outside_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gfp_kernel_under_spinlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gfp_atomic_fails_under_injection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lockdep_assert_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockdep_other_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_dec_and_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleanup_guards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seamcall_register_contract, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sc_retry_no_entropy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tdx_sysinfo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quirk_reset, setup, teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
