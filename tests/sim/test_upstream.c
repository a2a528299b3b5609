// SPDX-License-Identifier: GPL-2.0-only
/*
 * sim-upstream-protocol: where the `upstream` design's split path differs
 * in behaviour from v3's (kvm-upstream.md §4-§5), each test building a VM
 * of each design in turn (one VM at a time: the refcount array is global).
 *
 *  - The same private->shared conversion of one 4K page inside a 2M
 *    mapping: v3 drops mmu_lock a second time to top up its per-VM split
 *    cache (and re-checks it after); upstream tops kvm_tdx->pamt_cache up
 *    in tdx_gmem_convert() under pamt_cache_lock before it takes mmu_lock,
 *    and holds the mutex across the split's one drop (the sp allocation).
 *  - A split from a thread with no vCPU and without the mutex: upstream's
 *    tdx_get_pamt_cache() asserts the mutex (a lockdep event); v3 has no
 *    such rule.  A vCPU's accept-level split: upstream takes the vCPU's
 *    own cache (no top-up, no mutex); v3 tops up its per-VM cache.
 *  - DEMOTE without ENHANCED_DEMOTE_INTERRUPTIBILITY: TDX_SW_ERROR, no
 *    SEAMCALL.
 *  - Dynamic PAMT: a get racing the last put of a 2MB range, v3's API
 *    against v6's (tdx_pamt_get_v6/put_v6).
 *  - review-scenarios.md S25, "can one split consume another's top-up?",
 *    with two converter threads and a forced schedule: in v3 the second
 *    converter takes the first's pages while it has mmu_lock dropped, and
 *    the first's re-check sends it to top up again (two rounds); in
 *    upstream the second converter waits on pamt_cache_lock until the
 *    first has split (one round each).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <tdxsim/kernel.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>
#include <tdxsim-kvm/vcpu.h>
#include <tdxsim-kvm/vm.h>

#define G		0x40000000ULL	/* the slot's first GPA */
#define SLOT_SIZE	(8ULL << 20)
#define S_2M		(2ULL << 20)
#define S_4K		4096ULL
/* A forced schedule that does not happen fails, never hangs. */
#define WAIT_SECONDS	10

/* ---- per-thread bookkeeping, read by the hooks ---- */

struct thr {
	int id;
	int topups;		/* calls of the MMU's split-cache top-up op on this thread */
	int drops;		/* mmu_lock drops of a walk on this thread (during_drop) */
	int drops_with_mutex;	/* ... while holding upstream's pamt_cache_lock */
};

static __thread struct thr *me;

static struct kvm_x86_ops counting_ops;
static const struct kvm_x86_ops *base_ops;

static int counting_topup(struct kvm *kvm, enum pg_level level)
{
	if (me)
		__atomic_fetch_add(&me->topups, 1, __ATOMIC_RELAXED);
	return base_ops->topup_external_per_vm_split_cache(kvm, level);
}

/* The design's table with the top-up counted; everything else the design's own. */
static const struct kvm_x86_ops *counting_table(bool upstream)
{
	base_ops = upstream ? &tdx_x86_ops_upstream_aux : &tdx_x86_ops;
	counting_ops = *base_ops;
	counting_ops.topup_external_per_vm_split_cache = counting_topup;
	return &counting_ops;
}

/* Does this thread hold @m?  (A default pthread mutex held by us answers EBUSY.) */
static bool mutex_held_here(struct mutex *m)
{
	if (pthread_mutex_trylock(&m->m))
		return true;
	pthread_mutex_unlock(&m->m);
	return false;
}

/* ---- the VM ---- */

/* The test's VM, destroyed by live_vm_destroy() if a failed assert skipped its teardown. */
static struct tdxsim_vm *live_vm;

static int live_vm_destroy(void **state)
{
	(void)state;
	tdxsim_vm_destroy(live_vm);
	live_vm = NULL;
	return 0;
}

static struct tdxsim_vm *vm_new(bool upstream, bool enhanced_demote)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *vm;
	int err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
	if (!enhanced_demote)
		cfg.module.features0 &= ~TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY;
	cfg.upstream = upstream;
	cfg.ops = counting_table(upstream);
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_int_equal(err, 0);
	live_vm = vm;
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, G, SLOT_SIZE, TDXSIM_SLOT_PRIVATE), 0);
	/* Two order-9 folios: [G, G+2M) and [G+2M, G+4M). */
	assert_int_equal(tdxsim_vm_gmem_populate(vm, G, 2 * S_2M, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	tdxsim_kernel_events_reset(tdxsim_vm_sim(vm));
	live_vm = vm;
	return vm;
}

static void map_2m(struct tdxsim_vm *vm, u64 gpa)
{
	int level;

	assert_int_equal(tdxsim_vm_map(vm, 0, gpa, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
}

static int mirror_level(struct tdxsim_vm *vm, u64 gpa)
{
	int level;
	u64 spte = kvm_tdp_mmu_read_mirror(tdxsim_vm_kvm(vm), gpa >> PAGE_SHIFT, &level);

	return is_shadow_present_pte(spte) ? level : PG_LEVEL_NONE;
}

static int refcount_at(struct tdxsim_vm *vm, u64 gpa)
{
	struct kvm *kvm = tdxsim_vm_kvm(vm);
	gfn_t gfn = gpa >> PAGE_SHIFT;
	kvm_pfn_t pfn;
	int order;

	assert_int_equal(kvm_gmem_get_pfn(kvm, gfn_to_memslot(kvm, gfn), gfn, &pfn, &order), 0);
	return atomic_read(tdx_find_pamt_refcount(pfn));
}

static u64 demotes(struct tdxsim_vm *vm, u64 status)
{
	return tdxsim_stats_count(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE, status);
}

static u64 demote_calls(struct tdxsim_vm *vm)
{
	struct tdxsim_leaf_stats st;

	assert_int_equal(tdxsim_stats_leaf(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE, &st), 0);
	return st.calls;
}

/* The page at @gpa converted: gone from both trees, its 2M's neighbours 4K leaves. */
static void assert_converted(struct tdxsim_vm *vm, u64 gpa)
{
	u64 base = gpa & ~(S_2M - 1);

	assert_int_equal(mirror_level(vm, gpa), PG_LEVEL_NONE);
	assert_int_equal(mirror_level(vm, base), PG_LEVEL_4K);
	assert_int_equal(mirror_level(vm, base + S_2M - S_4K), PG_LEVEL_4K);
	assert_false(kvm_mem_is_private(tdxsim_vm_kvm(vm), gpa >> PAGE_SHIFT));
	/* The guest range's pair: 512 users after DEMOTE, one zapped. */
	assert_int_equal(refcount_at(vm, base), 511);
}

static void teardown_clean(struct tdxsim_vm *vm, unsigned int lockdep)
{
	struct tdxsim *sim = tdxsim_vm_sim(vm);
	struct kvm_check_report rep;
	struct tdxsim_vm_summary sum;

	if (kvm_tdx_check(tdxsim_vm_kvm(vm), &rep)) {
		kvm_check_report_print(&rep, stderr);
		fail();
	}
	assert_int_equal(tdxsim_kernel_events(sim, TDXSIM_KEV_LOCKDEP), lockdep);
	assert_int_equal(tdxsim_vm_teardown(vm), 0);
	tdxsim_vm_summary(vm, &sum);
	assert_false(sum.vm_bugged);
	assert_int_equal(sum.module_violations, 0);
	assert_int_equal(sum.pages_in_use, sum.pages_baseline);
	assert_int_equal(sum.pages_leaked, 0);
	assert_int_equal(tdxsim_kernel_events(sim, TDXSIM_KEV_WARN), 0);
	assert_int_equal(tdxsim_kernel_events(sim, TDXSIM_KEV_KVM_BUG), 0);
	assert_int_equal(tdxsim_kernel_events(sim, TDXSIM_KEV_TDX_BUG), 0);
	assert_int_equal(tdxsim_kernel_events(sim, TDXSIM_KEV_SLEEP_IN_ATOMIC), 0);
	assert_int_equal(kvm_prov_balance(sim, NULL), 0);
	tdxsim_vm_destroy(vm);
	live_vm = NULL;
}

/* ---- 1. one conversion, counted ---- */

static void count_drop(struct kvm *kvm, void *arg)
{
	struct kvm_tdx *kvm_tdx = arg;

	if (!me)
		return;
	me->drops++;
	if (mutex_held_here(&kvm_tdx->pamt_cache_lock))
		me->drops_with_mutex++;
}

static void convert_one_4k(bool upstream, struct thr *t)
{
	struct tdxsim_vm *vm = vm_new(upstream, true);
	struct kvm *kvm = tdxsim_vm_kvm(vm);
	struct kvm_tdx *kvm_tdx = tdxsim_vm_kvm_tdx(vm);

	map_2m(vm, G);
	*t = (struct thr){ 0 };
	me = t;
	kvm->yield_hook.during_drop = count_drop;
	kvm->yield_hook.arg = kvm_tdx;
	assert_int_equal(tdxsim_vm_convert(vm, G + 5 * S_4K, S_4K, false), 0);
	kvm->yield_hook.during_drop = NULL;
	me = NULL;

	assert_converted(vm, G + 5 * S_4K);
	assert_int_equal(demotes(vm, TDX_SUCCESS), 1);
	assert_false(mutex_held_here(&kvm_tdx->pamt_cache_lock));
	teardown_clean(vm, 0);
}

/*
 * v3: the walk drops mmu_lock to allocate the sp, then again to top up the
 * per-VM split cache (the top-up op runs once), with no other lock held.
 * upstream: one drop (the sp), with pamt_cache_lock held across it, and
 * the MMU's top-up op never runs: tdx_gmem_convert() filled the cache
 * before it took mmu_lock.
 */
static void test_convert_lock_drops(void **state)
{
	struct thr v3, up;

	(void)state;
	convert_one_4k(false, &v3);
	assert_int_equal(v3.drops, 2);
	assert_int_equal(v3.topups, 1);
	assert_int_equal(v3.drops_with_mutex, 0);

	convert_one_4k(true, &up);
	assert_int_equal(up.drops, 1);
	assert_int_equal(up.topups, 0);
	assert_int_equal(up.drops_with_mutex, 1);
}

/* ---- 2. a split outside a vCPU without the mutex ---- */

/*
 * The VMM's raw split of the 2M leaf (tdp_mmu_split_huge_pages_root under
 * the write mmu_lock, no vCPU loaded on this thread).  upstream: the split
 * takes kvm_tdx->pamt_cache, and tdx_get_pamt_cache() asserts its mutex:
 * lockdep events from tdx_upstream.c (the assert only warns: the split
 * goes through).  With the mutex held, the same split is quiet.  v3: no
 * such rule, no event.
 */
static unsigned int split_from_host(bool upstream, bool with_mutex)
{
	struct tdxsim_vm *vm = vm_new(upstream, true);
	struct tdxsim *sim = tdxsim_vm_sim(vm);
	struct kvm_tdx *kvm_tdx = tdxsim_vm_kvm_tdx(vm);
	struct tdxsim_kernel_event ev;
	unsigned int n;

	map_2m(vm, G);
	assert_null(kvm_get_running_vcpu());
	if (with_mutex)
		mutex_lock(&kvm_tdx->pamt_cache_lock);
	assert_int_equal(tdxsim_vm_split(vm, G, S_2M, PG_LEVEL_4K, false), 0);
	if (with_mutex)
		mutex_unlock(&kvm_tdx->pamt_cache_lock);
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_4K);
	assert_int_equal(demotes(vm, TDX_SUCCESS), 1);
	assert_int_equal(refcount_at(vm, G), 512);

	n = tdxsim_kernel_events(sim, TDXSIM_KEV_LOCKDEP);
	if (n) {
		assert_int_equal(tdxsim_kernel_last_event(sim, TDXSIM_KEV_LOCKDEP, &ev), 0);
		assert_non_null(strstr(ev.file, "tdx_upstream.c"));
	}
	teardown_clean(vm, n);
	return n;
}

static void test_split_without_mutex(void **state)
{
	(void)state;
	assert_int_equal(split_from_host(false, false), 0);
	assert_true(split_from_host(true, false) > 0);
	assert_int_equal(split_from_host(true, true), 0);
}

/* ---- 2b. a vCPU's split takes the vCPU's cache ---- */

/*
 * The guest accepts one 4K page of a 2M mapping: KVM splits on the vCPU's
 * thread (tdx_handle_ept_violation, the vCPU loaded).  v3 tops its per-VM
 * cache up for it (one top-up op call); upstream's tdx_get_pamt_cache()
 * gives the running vCPU's cache, which the fault's top-up left full: no
 * top-up, the per-VM cache untouched, no mutex needed, no assert.
 */
static void accept_split(bool upstream, struct thr *t, int *vm_cache_cnt)
{
	struct tdxsim_vm *vm = vm_new(upstream, true);
	struct kvm_tdx *kvm_tdx = tdxsim_vm_kvm_tdx(vm);
	struct tdxsim_guest_op op = {
		.kind = TDXSIM_GUEST_ACCEPT, .gpa = G + 5 * S_4K, .level = PG_LEVEL_4K,
	};
	struct tdxsim_guest_result res;
	enum kvm_page_pool mine, other;
	struct kvm_page_provenance p;

	map_2m(vm, G);
	*t = (struct thr){ 0 };
	me = t;
	assert_int_equal(tdxsim_vcpu_run_prog(vm, 0, &op, 1, 100000, &res), 0);
	me = NULL;
	assert_int_equal(op.status, TDX_SUCCESS);
	assert_int_equal(res.accept_exits, 1);
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_4K);
	assert_int_equal(demotes(vm, TDX_SUCCESS), 1);
	*vm_cache_cnt = upstream ? kvm_tdx->pamt_cache.cnt : kvm_tdx->prealloc_split_cache.cnt;
	/* The pair DEMOTE installed for the 2M range: from which cache? */
	mine = upstream ? KVM_POOL_VCPU_PREALLOC : KVM_POOL_SPLIT_CACHE;
	other = upstream ? KVM_POOL_SPLIT_CACHE : KVM_POOL_VCPU_PREALLOC;
	assert_int_equal(kvm_gpa_provenance(tdxsim_vm_sim(vm), tdxsim_vm_kvm(vm), G, mine, &p), 0);
	assert_int_equal(p.state, KVM_PAGE_MODULE);
	assert_int_equal(kvm_gpa_provenance(tdxsim_vm_sim(vm), tdxsim_vm_kvm(vm), G, other, &p),
			 -ENOENT);
	teardown_clean(vm, 0);
}

static void test_accept_split_vcpu_cache(void **state)
{
	struct thr v3, up;
	int vm_cnt;

	(void)state;
	accept_split(false, &v3, &vm_cnt);
	assert_int_equal(v3.topups, 1);

	accept_split(true, &up, &vm_cnt);
	assert_int_equal(up.topups, 0);
	assert_int_equal(vm_cnt, 0);
}

/* ---- 3. DEMOTE without the feature ---- */

/*
 * tdh_mem_page_demote_v6() on a 2M leaf the TD maps (4K pieces of a
 * 2M folio cannot be mapped 2M without the feature: KVM turns huge pages
 * off, so the wrapper is called directly, as a patch under test would):
 * TDX_SW_ERROR, and the module sees no DEMOTE.  The same call with the
 * feature but no pair in the cache: TDX_SW_ERROR, no SEAMCALL either.
 */
static void test_demote_needs_feature(void **state)
{
	struct tdx_pamt_cache cache = { .cnt = 0 };
	struct kvm_check_report rep;
	struct tdxsim_vm *vm;
	struct kvm_tdx *kvm_tdx;
	struct page *new_sp;
	u64 e1 = 0, e2 = 0;
	kvm_pfn_t pfn;
	int order;

	(void)state;
	vm = vm_new(true, false);
	kvm_tdx = tdxsim_vm_kvm_tdx(vm);
	assert_int_equal(kvm_gmem_get_pfn(tdxsim_vm_kvm(vm),
					  gfn_to_memslot(tdxsim_vm_kvm(vm), G >> PAGE_SHIFT),
					  G >> PAGE_SHIFT, &pfn, &order), 0);
	new_sp = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	assert_non_null(new_sp);
	assert_int_equal(tdx_pamt_cache_topup(&cache, TDX_DPAMT_ENTRY_PAGES), 0);

	assert_int_equal(tdh_mem_page_demote_v6(&kvm_tdx->td, G, PG_LEVEL_2M, pfn, new_sp, &cache,
						&e1, &e2), TDX_SW_ERROR);
	assert_int_equal(demote_calls(vm), 0);
	/* Nothing taken: the pair is still the caller's. */
	assert_int_equal(cache.cnt, TDX_DPAMT_ENTRY_PAGES);
	tdx_pamt_cache_free(&cache);
	__free_page(new_sp);
	teardown_clean(vm, 0);

	vm = vm_new(true, true);
	kvm_tdx = tdxsim_vm_kvm_tdx(vm);
	map_2m(vm, G);
	assert_int_equal(kvm_gmem_get_pfn(tdxsim_vm_kvm(vm),
					  gfn_to_memslot(tdxsim_vm_kvm(vm), G >> PAGE_SHIFT),
					  G >> PAGE_SHIFT, &pfn, &order), 0);
	new_sp = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	assert_non_null(new_sp);
	assert_int_equal(tdh_mem_page_demote_v6(&kvm_tdx->td, G, PG_LEVEL_2M, pfn, new_sp, &cache,
						&e1, &e2), TDX_SW_ERROR);
	assert_int_equal(demote_calls(vm), 0);
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_2M);
	/* The checker saw the short cache (I3); it is this test's doing. */
	assert_int_equal(kvm_tdx_check(tdxsim_vm_kvm(vm), &rep), 1);
	assert_int_equal(rep.count[KVM_INV_SPLIT_DEQUEUE], 1);
	kvm_check_ledger_reset(tdxsim_vm_sim(vm));
	__free_page(new_sp);
	teardown_clean(vm, 0);
}

/* ---- 3b. DPAMT: a get racing the last put of a 2MB range ---- */

/*
 * T1 drops the last use of a 2MB range's pair and is parked at its first
 * lock (pamt_lock); T2 then takes a use of another page of the same range.
 * v3's put took the count to 0 before the lock: T2 finds 0, issues
 * PAMT.ADD, the module answers that the pair is still there
 * (HPA_RANGE_NOT_FREE), and T2 revives the count.  v6's put
 * (atomic_dec_and_lock) never shows 0 outside the lock: T2 takes the
 * fast path, no PAMT.ADD at all.  Both end with one user and the pair.
 */
struct dpamt_race {
	struct tdxsim *sim;
	struct page *p1, *p2;
	bool v6;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool t1_parked, t2_done, timed_out;
	int t2_ret;
};

static __thread bool park_at_next_lock;

static bool race_wait(struct dpamt_race *r, bool *flag)
{
	struct timespec ts;
	int e = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_SECONDS;
	pthread_mutex_lock(&r->lock);
	while (!*flag && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	if (!*flag)
		r->timed_out = true;
	pthread_mutex_unlock(&r->lock);
	return *flag;
}

static void race_set(struct dpamt_race *r, bool *flag)
{
	pthread_mutex_lock(&r->lock);
	*flag = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void race_lock_hook(void *lock, void *arg)
{
	struct dpamt_race *r = arg;

	(void)lock;
	if (!park_at_next_lock)
		return;
	park_at_next_lock = false;
	race_set(r, &r->t1_parked);
	race_wait(r, &r->t2_done);
}

static void *race_t1(void *arg)
{
	struct dpamt_race *r = arg;

	tdxsim_kernel_set_current(r->sim);
	park_at_next_lock = true;
	if (r->v6)
		tdx_pamt_put_v6(page_to_pfn(r->p1));
	else
		tdx_pamt_put(r->p1);
	/* A put that took no lock (not the last use): let T2 go anyway. */
	if (park_at_next_lock) {
		park_at_next_lock = false;
		race_set(r, &r->t1_parked);
	}
	return NULL;
}

static void *race_t2(void *arg)
{
	struct dpamt_race *r = arg;

	tdxsim_kernel_set_current(r->sim);
	race_wait(r, &r->t1_parked);
	r->t2_ret = r->v6 ? tdx_pamt_get_v6(page_to_pfn(r->p2), NULL) : tdx_pamt_get(r->p2, NULL);
	race_set(r, &r->t2_done);
	return NULL;
}

/* PAMT.ADD calls the race made (@v6: which API), the count left, the pair left. */
static void dpamt_race(bool v6, u64 *adds, int *count, bool *pair)
{
	struct tdxsim_vm *vm = vm_new(v6, true);
	struct tdxsim *sim = tdxsim_vm_sim(vm);
	struct folio *folio = folio_alloc(GFP_KERNEL, PMD_SHIFT - PAGE_SHIFT);
	struct dpamt_race r = { .sim = sim, .v6 = v6 };
	struct tdxsim_leaf_stats st0, st1;
	struct tdxsim_pamt_info pi;
	pthread_t t1, t2;

	assert_non_null(folio);
	r.p1 = folio_page(folio, 0);
	r.p2 = folio_page(folio, 7);
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	assert_int_equal(v6 ? tdx_pamt_get_v6(page_to_pfn(r.p1), NULL) : tdx_pamt_get(r.p1, NULL),
			 0);
	assert_int_equal(tdxsim_stats_leaf(sim, TDH_PHYMEM_PAMT_ADD, &st0), 0);

	assert_int_equal(tdxsim_kernel_set_lock_hook(sim, race_lock_hook, &r), 0);
	assert_int_equal(pthread_create(&t1, NULL, race_t1, &r), 0);
	assert_int_equal(pthread_create(&t2, NULL, race_t2, &r), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	assert_int_equal(tdxsim_kernel_set_lock_hook(sim, NULL, NULL), 0);
	tdxsim_kernel_set_current(sim);
	assert_false(r.timed_out);
	assert_int_equal(r.t2_ret, 0);

	assert_int_equal(tdxsim_stats_leaf(sim, TDH_PHYMEM_PAMT_ADD, &st1), 0);
	*adds = st1.calls - st0.calls;
	*count = atomic_read(tdx_find_pamt_refcount(page_to_pfn(r.p1)));
	assert_int_equal(tdxsim_pamt_lookup(sim, page_to_phys(r.p1), &pi), 0);
	*pair = pi.dpamt_pair;

	/* The last use goes: the pair comes back, the range is free. */
	if (v6)
		tdx_pamt_put_v6(page_to_pfn(r.p2));
	else
		tdx_pamt_put(r.p2);
	assert_int_equal(atomic_read(tdx_find_pamt_refcount(page_to_pfn(r.p1))), 0);
	assert_int_equal(tdxsim_pamt_lookup(sim, page_to_phys(r.p1), &pi), 0);
	assert_false(pi.dpamt_pair);
	folio_put(folio);
	pthread_cond_destroy(&r.cond);
	pthread_mutex_destroy(&r.lock);
	teardown_clean(vm, 0);
}

static void test_dpamt_get_races_last_put(void **state)
{
	u64 adds;
	int count;
	bool pair;

	(void)state;
	dpamt_race(false, &adds, &count, &pair);
	assert_int_equal(adds, 1);	/* refused: HPA_RANGE_NOT_FREE, then revived */
	assert_int_equal(count, 1);
	assert_true(pair);

	dpamt_race(true, &adds, &count, &pair);
	assert_int_equal(adds, 0);
	assert_int_equal(count, 1);
	assert_true(pair);
}

/* ---- 4. S25: can one split consume another split's top-up? ---- */

struct s25 {
	struct tdxsim_vm *vm;
	bool upstream;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool t2_go;		/* T1 lets T2 run (T1 has mmu_lock dropped) */
	bool t2_at_mutex;	/* T2 is about to block on pamt_cache_lock */
	bool t2_done;
	bool released;		/* T1's hook did its one release */
	bool timed_out;
	u64 demotes_at_release;	/* DEMOTEs done when T1 resumed */
	struct thr t[2];
	int ret[2];
};

/* Wait on @flag under s->lock, bounded; false (and timed_out) if it never came. */
static bool s25_wait(struct s25 *s, bool *flag)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_SECONDS;
	while (!*flag && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	if (!*flag)
		s->timed_out = true;
	return *flag;
}

static void s25_set(struct s25 *s, bool *flag)
{
	pthread_mutex_lock(&s->lock);
	*flag = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/*
 * T1's drop is the moment: v3 at its top-up drop (the per-VM cache just
 * filled, mmu_lock not held), upstream at its only drop (the sp, with
 * pamt_cache_lock held).  T2 runs now: v3 until it is done, upstream
 * until it blocks on the mutex (it cannot get further).
 */
static void s25_during_drop(struct kvm *kvm, void *arg)
{
	struct s25 *s = arg;

	if (!me || me->id != 1)
		return;
	me->drops++;
	if (s->released || (!s->upstream && me->topups == 0))
		return;
	s->released = true;
	pthread_mutex_lock(&s->lock);
	s->t2_go = true;
	pthread_cond_broadcast(&s->cond);
	s25_wait(s, s->upstream ? &s->t2_at_mutex : &s->t2_done);
	pthread_mutex_unlock(&s->lock);
	s->demotes_at_release = demotes(s->vm, TDX_SUCCESS);
}

/* The shim's lock hook: T2 about to take pamt_cache_lock. */
static void s25_lock_hook(void *lock, void *arg)
{
	struct s25 *s = arg;

	if (me && me->id == 2 && lock == &tdxsim_vm_kvm_tdx(s->vm)->pamt_cache_lock)
		s25_set(s, &s->t2_at_mutex);
}

static void *s25_thread(void *arg)
{
	struct s25 *s = ((void **)arg)[0];
	int id = (int)(uintptr_t)((void **)arg)[1];
	gfn_t gfn = (G + (u64)(id - 1) * S_2M + 5 * S_4K) >> PAGE_SHIFT;

	me = &s->t[id - 1];
	me->id = id;
	tdxsim_kernel_set_current(tdxsim_vm_sim(s->vm));
	if (id == 2) {
		pthread_mutex_lock(&s->lock);
		s25_wait(s, &s->t2_go);
		pthread_mutex_unlock(&s->lock);
	}
	/* KVM_SET_MEMORY_ATTRIBUTES(shared) of one 4K page: KVM's own conversion. */
	s->ret[id - 1] = kvm_vm_set_mem_attributes(tdxsim_vm_kvm(s->vm), gfn, gfn + 1, 0);
	if (id == 2)
		s25_set(s, &s->t2_done);
	/* T1 done without the moment (the protocol changed): let T2 go anyway. */
	if (id == 1)
		s25_set(s, &s->t2_go);
	me = NULL;
	return NULL;
}

static void s25_run(struct s25 *s, bool upstream)
{
	void *args[2][2];
	pthread_t th[2];
	struct kvm *kvm;
	int i;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->upstream = upstream;
	s->vm = vm_new(upstream, true);
	kvm = tdxsim_vm_kvm(s->vm);
	map_2m(s->vm, G);
	map_2m(s->vm, G + S_2M);
	kvm->yield_hook.during_drop = s25_during_drop;
	kvm->yield_hook.arg = s;
	assert_int_equal(tdxsim_kernel_set_lock_hook(tdxsim_vm_sim(s->vm), s25_lock_hook, s), 0);

	for (i = 0; i < 2; i++) {
		args[i][0] = s;
		args[i][1] = (void *)(uintptr_t)(i + 1);
		assert_int_equal(pthread_create(&th[i], NULL, s25_thread, args[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);

	assert_int_equal(tdxsim_kernel_set_lock_hook(tdxsim_vm_sim(s->vm), NULL, NULL), 0);
	kvm->yield_hook.during_drop = NULL;
	tdxsim_kernel_set_current(tdxsim_vm_sim(s->vm));
	assert_false(s->timed_out);
	assert_true(s->released);
	assert_int_equal(s->ret[0], 0);
	assert_int_equal(s->ret[1], 0);
	/* Both splits went through: no short cache, nothing bugged. */
	assert_converted(s->vm, G + 5 * S_4K);
	assert_converted(s->vm, G + S_2M + 5 * S_4K);
	assert_int_equal(demotes(s->vm, TDX_SUCCESS), 2);
	teardown_clean(s->vm, 0);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
}

/*
 * v3: T2 splits with the pages T1 topped up (its DEMOTE is done when T1
 * resumes), T2 never tops up, and T1's re-check under the retaken lock
 * sends it to top up again: two rounds, three drops for T1.
 */
static void test_s25_v3(void **state)
{
	struct s25 *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	s25_run(s, false);
	assert_int_equal(s->demotes_at_release, 1);
	assert_int_equal(s->t[0].topups, 2);
	assert_int_equal(s->t[1].topups, 0);
	assert_int_equal(s->t[0].drops, 3);
	free(s);
}

/*
 * upstream: while T1 has mmu_lock dropped mid-split, T2 is blocked on
 * pamt_cache_lock and has split nothing (no DEMOTE yet when T1 resumes);
 * neither thread ever runs the MMU's top-up (each tdx_gmem_convert()
 * filled the cache under the mutex), and T1 drops mmu_lock once.
 */
static void test_s25_upstream(void **state)
{
	struct s25 *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	s25_run(s, true);
	assert_true(s->t2_at_mutex);
	assert_int_equal(s->demotes_at_release, 0);
	assert_int_equal(s->t[0].topups, 0);
	assert_int_equal(s->t[1].topups, 0);
	assert_int_equal(s->t[0].drops, 1);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_convert_lock_drops, live_vm_destroy),
		cmocka_unit_test_teardown(test_split_without_mutex, live_vm_destroy),
		cmocka_unit_test_teardown(test_accept_split_vcpu_cache, live_vm_destroy),
		cmocka_unit_test_teardown(test_demote_needs_feature, live_vm_destroy),
		cmocka_unit_test_teardown(test_dpamt_get_races_last_put, live_vm_destroy),
		cmocka_unit_test_teardown(test_s25_v3, live_vm_destroy),
		cmocka_unit_test_teardown(test_s25_upstream, live_vm_destroy),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("sim-upstream-protocol", tests, NULL, NULL);
}
