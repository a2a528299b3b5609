// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host out of memory inside the library: every malloc()/calloc() the library
 * makes on a path can fail, and the call then fails cleanly (a SEAMCALL with
 * TDX_SYS_BUSY, a management call with NULL/-ENOMEM) with the module's state
 * as before: never exit() (uthash's default), never a crash.
 *
 * This binary links with -Wl,--wrap=malloc,--wrap=calloc: the library's
 * calls (libtdxsim.a is linked statically into it) go through the wrappers
 * below, which fail the Nth allocation once armed.  The fault rule
 * alloc:enomem cannot reach these paths: it fails tdxsim_page_alloc(), the
 * simulated host's page allocator, not the simulator's own memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);

/* Fail the fail_at-th allocation from now (1-based); 0: never. */
static unsigned int fail_at, nr_allocs;
static bool failed;

static bool fail_this_one(void)
{
	if (!fail_at || ++nr_allocs != fail_at)
		return false;
	failed = true;
	return true;
}

void *__wrap_malloc(size_t size)
{
	if (fail_this_one()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fail_this_one()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

static void arm(unsigned int n)
{
	fail_at = n;
	nr_allocs = 0;
	failed = false;
}

static void disarm(void)
{
	fail_at = 0;
}

static struct tdxsim_pamt_info pamt(struct fixture *fx, u64 pa)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, pa, &pi), 0);
	return pi;
}

/*
 * TDH.VP.CREATE allocates the vCPU and, for the TD's first vCPU, the
 * uthash table of its vCPUs (table, then buckets): each fails cleanly.
 */
static void test_vp_create_oom(void **state)
{
	struct fixture *fx = *state;
	u64 tdvpr = fx_alloc_4k(fx), chld = tdxsim_td_chldcnt(fx->sim, fx->td), st;
	unsigned int n;

	for (n = 1;; n++) {
		struct tdx_module_args a = { .rcx = tdvpr, .rdx = fx->td->tdr_pa };

		assert_true(n < 16);
		arm(n);
		st = tdxsim_seamcall(fx->sim, TDH_VP_CREATE, &a);
		disarm();
		if (!failed)
			break;
		assert_status(st, TDX_SYS_BUSY);
		assert_int_equal(pamt(fx, tdvpr).pt, PT_NDA);
		assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->td), chld);
		assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	}
	/* The vCPU, the table and its buckets: three allocations could fail. */
	assert_true(n >= 4);
	assert_status(st, TDX_SUCCESS);
	assert_int_equal(pamt(fx, tdvpr).pt, PT_TDVPR);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->td), chld + 1);
}

/* TDH.MEM.SEPT.ADD of a level-2 table (it keeps a child array): fails cleanly. */
static void test_sept_add_oom(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = GPA_2M(0), page, st, e1, e2;
	struct tdxsim_sept_info si;
	unsigned int n;

	fx_map_sept(fx, gpa, TDX_PS_1G);	/* the level-3 entry exists */
	page = fx_alloc_4k(fx);
	for (n = 1;; n++) {
		assert_true(n < 16);
		arm(n);
		st = tdxsim_tdh_mem_sept_add(fx->td, gpa & ~(tdx_level_size(2) - 1), 2, page,
					     &e1, &e2);
		disarm();
		if (!failed)
			break;
		assert_status(st, TDX_SYS_BUSY);
		assert_int_equal(pamt(fx, page).pt, PT_NDA);
		assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, 2, &si), 0);
		assert_int_equal(si.state, SEPT_PUBLIC_FREE);
		assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	}
	assert_true(n >= 2);
	assert_status(st, TDX_SUCCESS);
	assert_int_equal(pamt(fx, page).pt, PT_EPT);
	fx_aug(fx, gpa, TDX_PS_4K);
	fx_remove(fx, gpa, TDX_PS_4K);
}

/* The TD convenience and the simulator itself: NULL, nothing left behind. */
static void test_create_oom(void **state)
{
	struct tdxsim_config cfg;
	struct tdxsim *sim;
	struct tdxsim_td *td;
	unsigned int n;
	u64 st;

	tdxsim_config_init(&cfg);
	cfg.mem_size = 16ULL << 20;
	for (n = 1;; n++) {
		assert_true(n < 64);
		arm(n);
		errno = 0;
		sim = tdxsim_create(&cfg);
		disarm();
		if (!failed)
			break;
		assert_null(sim);
		assert_int_equal(errno, ENOMEM);
	}
	assert_non_null(sim);
	for (n = 1;; n++) {
		assert_true(n < 64);
		arm(n);
		td = tdxsim_td_create(sim, &st);
		disarm();
		if (!failed)
			break;
		assert_null(td);
		assert_true(st != TDX_SUCCESS);
		/* At most the Dynamic-PAMT pair it installed, kept by design. */
		assert_true(tdxsim_pages_in_use(sim) <= 2);
		assert_int_equal(tdxsim_check(sim, NULL), 0);
	}
	assert_non_null(td);
	assert_true(n >= 3);	/* the handle, the TD, the root table's children */
	assert_int_equal(tdxsim_td_teardown(td, TDXSIM_TEARDOWN_FREE_PAMT), 0);
	assert_int_equal(tdxsim_pages_in_use(sim), 0);
	tdxsim_destroy(sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vp_create_oom, fx_setup_initialized,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_sept_add_oom, fx_setup_initialized,
						fx_teardown),
		cmocka_unit_test(test_create_oom),
	};

	return run_group(tests);
}
