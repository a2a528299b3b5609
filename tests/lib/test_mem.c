// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host allocator and the range checks of the host-memory calls
 * (tdxsim.h "Host physical memory"), on a small simulator of 4 chunks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tdxsim-internal.h"

#define NR_CHUNKS	4
#define PAGES		(NR_CHUNKS * 512)

struct memfx {
	struct tdxsim *sim;
	u64 base, end;
};

static int setup(void **state)
{
	struct tdxsim_config cfg;
	struct memfx *m = calloc(1, sizeof(*m));

	if (!m)
		return -1;
	tdxsim_config_init(&cfg);
	cfg.mem_size = NR_CHUNKS * 0x200000ULL;
	m->sim = tdxsim_create(&cfg);
	if (!m->sim) {
		free(m);
		return -1;
	}
	m->base = cfg.mem_base;
	m->end = cfg.mem_base + cfg.mem_size;
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	struct memfx *m = *state;

	tdxsim_destroy(m->sim);
	free(m);
	return 0;
}

static bool has_misuse(struct tdxsim *sim, u64 hpa)
{
	struct tdxsim_report rep;

	tdxsim_check(sim, &rep);
	for (unsigned int i = 0; i < rep.nr && i < TDXSIM_REPORT_MAX; i++) {
		if (rep.v[i].what == TDXSIM_INV_HOST_MISUSE && rep.v[i].hpa == hpa)
			return true;
	}
	return false;
}

/*
 * Every 4K page once, lowest first within a chunk; 4K pages come from a
 * partial chunk before a free one, so a 2MB block stays available; then
 * ENOMEM; a freed page is the next one handed out.
 */
static void test_alloc_all_4k(void **state)
{
	struct memfx *m = *state;
	unsigned int n = PAGES - 512;
	u64 *pa = calloc(n, sizeof(*pa)), blk = 0;
	u8 *seen = calloc(PAGES, 1);

	assert_non_null(pa);
	assert_non_null(seen);
	for (unsigned int i = 0; i < n; i++) {
		pa[i] = tdxsim_page_alloc(m->sim, TDX_PS_4K);
		assert_true(pa[i] >= m->base && pa[i] < m->end);
		assert_int_equal(pa[i] & 0xfff, 0);
		assert_int_equal(seen[(pa[i] - m->base) >> 12], 0);
		seen[(pa[i] - m->base) >> 12] = 1;
		if (i % 512)
			assert_true(pa[i] == pa[i - 1] + 4096);
		if (i == 0) {
			blk = tdxsim_page_alloc(m->sim, TDX_PS_2M);
			assert_int_equal(blk & 0x1fffff, 0);
			assert_true(blk >= m->base && blk < m->end);
			assert_true(blk != (pa[0] & ~0x1fffffULL));
			for (unsigned int j = 0; j < 512; j++)
				seen[((blk - m->base) >> 12) + j] = 1;
		}
	}
	assert_int_equal(tdxsim_pages_in_use(m->sim), PAGES);
	errno = 0;
	assert_int_equal(tdxsim_page_alloc(m->sim, TDX_PS_4K), 0);
	assert_int_equal(errno, ENOMEM);

	/* Two holes in one chunk: the lower one is filled first. */
	assert_int_equal(tdxsim_page_free(m->sim, pa[700], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(m->sim, pa[600], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_alloc(m->sim, TDX_PS_4K), pa[600]);
	assert_int_equal(tdxsim_page_alloc(m->sim, TDX_PS_4K), pa[700]);

	/* A chunk given back whole is a 2MB block again. */
	assert_int_equal(tdxsim_page_alloc(m->sim, TDX_PS_2M), 0);
	for (unsigned int i = 512; i < 1024; i++)
		assert_int_equal(tdxsim_page_free(m->sim, pa[i], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_alloc(m->sim, TDX_PS_2M), pa[512]);
	assert_int_equal(tdxsim_page_free(m->sim, pa[512], TDX_PS_2M), 0);
	for (unsigned int i = 0; i < n; i++) {
		if (i < 512 || i >= 1024)
			assert_int_equal(tdxsim_page_free(m->sim, pa[i], TDX_PS_4K), 0);
	}
	assert_int_equal(tdxsim_page_free(m->sim, blk, TDX_PS_2M), 0);
	assert_int_equal(tdxsim_pages_in_use(m->sim), 0);
	free(pa);
	free(seen);
}

/* A 2MB block can be given back 4K at a time, and the chunk is reused. */
static void test_2m_freed_as_4k(void **state)
{
	struct memfx *m = *state;
	u64 blk[NR_CHUNKS], p;

	for (unsigned int i = 0; i < NR_CHUNKS; i++) {
		blk[i] = tdxsim_page_alloc(m->sim, TDX_PS_2M);
		assert_int_equal(blk[i] & 0x1fffff, 0);
		assert_true(blk[i] >= m->base && blk[i] < m->end);
	}
	assert_int_equal(tdxsim_page_alloc(m->sim, TDX_PS_2M), 0);
	assert_int_equal(tdxsim_page_alloc(m->sim, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(m->sim, blk[2] + 5 * 4096, TDX_PS_4K), 0);
	p = tdxsim_page_alloc(m->sim, TDX_PS_4K);
	assert_int_equal(p, blk[2] + 5 * 4096);
	for (unsigned int i = 0; i < 512; i++)
		assert_int_equal(tdxsim_page_free(m->sim, blk[2] + i * 4096ULL, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_alloc(m->sim, TDX_PS_2M), blk[2]);
	for (unsigned int i = 0; i < NR_CHUNKS; i++)
		assert_int_equal(tdxsim_page_free(m->sim, blk[i], TDX_PS_2M), 0);
	assert_int_equal(tdxsim_pages_in_use(m->sim), 0);
	assert_int_equal(tdxsim_check(m->sim, NULL), 0);
}

/* tdxsim.h: a double free or a free of a partly free 2MB block is refused and recorded. */
static void test_free_misuse(void **state)
{
	struct memfx *m = *state;
	u64 a = tdxsim_page_alloc(m->sim, TDX_PS_4K);
	u64 b = tdxsim_page_alloc(m->sim, TDX_PS_2M);

	assert_int_equal(tdxsim_page_free(m->sim, a, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(m->sim, a, TDX_PS_4K), -EINVAL);
	assert_true(has_misuse(m->sim, a));
	assert_int_equal(tdxsim_page_free(m->sim, b + 4096, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(m->sim, b, TDX_PS_2M), -EINVAL);
	assert_true(has_misuse(m->sim, b));
	/* The refused free changed nothing: the other 511 pages are still out. */
	assert_int_equal(tdxsim_pages_in_use(m->sim), 511);
	assert_int_equal(tdxsim_page_free(m->sim, b + 4096, TDX_PS_4K), -EINVAL);
	for (unsigned int i = 0; i < 512; i++) {
		if (i != 1)
			assert_int_equal(tdxsim_page_free(m->sim, b + i * 4096ULL, TDX_PS_4K), 0);
	}
	assert_int_equal(tdxsim_pages_in_use(m->sim), 0);
}

/*
 * Issue 7: every range argument is checked without overflow.  Before the fix
 * hpa + size wrapped, the check passed and the reset wrote past the
 * page-flag array (ASan: heap-buffer-overflow; a segfault without it).
 */
static void test_range_args_no_wrap(void **state)
{
	struct memfx *m = *state;
	u64 p = tdxsim_page_alloc(m->sim, TDX_PS_4K);

	assert_int_equal(tdxsim_page_reset(m->sim, m->base, 0 - m->base + 4096), -EINVAL);
	assert_int_equal(tdxsim_page_reset(m->sim, m->end - 4096, 0 - m->end + 8192), -EINVAL);
	assert_int_equal(tdxsim_page_reset(m->sim, m->end - 4096, 8192), -EINVAL);
	assert_int_equal(tdxsim_page_reset(m->sim, m->end - 4096, ~0xfffULL), -EINVAL);
	assert_int_equal(tdxsim_page_reset(m->sim, m->end, 4096), -EINVAL);
	assert_int_equal(tdxsim_page_reset(m->sim, m->base - 4096, 8192), -EINVAL);
	assert_int_equal(tdxsim_page_reset(m->sim, m->end - 4096, 4096), 0);
	assert_int_equal(tdxsim_page_reset(m->sim, m->base, m->end - m->base), 0);

	assert_int_equal(tdxsim_page_free(m->sim, ~0x1fffffULL, TDX_PS_2M), -EINVAL);
	assert_int_equal(tdxsim_page_free(m->sim, ~0xfffULL, TDX_PS_4K), -EINVAL);
	assert_int_equal(tdxsim_page_free(m->sim, m->end, TDX_PS_4K), -EINVAL);
	assert_true(has_misuse(m->sim, m->end));

	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(m->sim, ~0xfffULL, &pi), -EINVAL);
	assert_int_equal(tdxsim_pamt_lookup(m->sim, m->end, &pi), -EINVAL);
	assert_int_equal(tdxsim_pamt_lookup(m->sim, m->end - 4096, &pi), 0);
	assert_int_equal(tdxsim_page_free(m->sim, p, TDX_PS_4K), 0);
}

/*
 * Spec §4.3, issue 6: with Dynamic PAMT the 4K PAMT of a 2MB range exists
 * only while the range has a page pair: a block of its own exactly when its
 * 2MB entry is PT_PAMT; any other range reads as the shared read-only block
 * (a write to it would fault).  Returns the number of ranges with a block.
 */
static u64 check_4k_level_only_with_pair(struct tdxsim *sim)
{
	u64 nr_2m = sim->cfg.mem_size / 0x200000ULL, with = 0;

	for (u64 i = 0; i < nr_2m; i++) {
		u64 range = sim->cfg.mem_base + i * 0x200000ULL;
		bool pair = pamt_entry_at(sim, range, TDX_PS_2M)->pt == PT_PAMT;
		struct pamt_entry *e = pamt_entry_at(sim, range + 4096, TDX_PS_4K);

		if (!pair != !sim->pamt_4k_blk[i])
			fail_msg("range %#llx: pair %d but 4K block %p", (unsigned long long)range,
				 pair, (void *)sim->pamt_4k_blk[i]);
		if (!pair)
			assert_ptr_equal(e, &sim->pamt_4k_none[1]);
		with += pair;
	}
	return with;
}

static void test_dpamt_4k_pamt_only_with_pair(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_pamt_info pi;
	u64 gpa = GPA_2M(3), hpa, pair[2], base, before;
	struct tdxsim_report rep;

	before = check_4k_level_only_with_pair(fx->sim);
	/* Lookups, frees and the checker over pages of ranges without a pair. */
	hpa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	for (u64 off = 0; off < 0x200000ULL; off += 4096)
		assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa + off, &pi), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_2M), 0);
	assert_int_equal(tdxsim_check(fx->sim, &rep), 0);
	assert_int_equal(check_4k_level_only_with_pair(fx->sim), before);

	/* A 2MB page: no pair, no 4K level; DEMOTE installs both. */
	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M), TDX_SUCCESS);
	tdxsim_vcpu_exit(fx->vcpu);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	fx_block_track(fx, gpa, TDX_PS_2M);
	fx_demote(fx, gpa);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	assert_true(check_4k_level_only_with_pair(fx->sim) > before);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	assert_int_equal(pi.pt, PT_REG);
	assert_int_equal(pi.level, TDX_PS_4K);

	/* PAMT.ADD then REMOVE of an unused range: its 4K level goes with the pair. */
	base = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_status(tdxsim_tdh_phymem_pamt_add(fx->sim, base, pair), TDX_SUCCESS);
	before = check_4k_level_only_with_pair(fx->sim);
	assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, base, pair), TDX_SUCCESS);
	assert_int_equal(check_4k_level_only_with_pair(fx->sim), before - 1);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, base + 4096, &pi), 0);
	assert_int_equal(pi.level, TDX_PS_2M);
	assert_int_equal(pi.pt, PT_NDA);
	/* And comes back zeroed with the next pair, even when its block was written. */
	for (unsigned int i = 0; i < fx->sim->nr_pamt_blk_free; i++)
		memset(fx->sim->pamt_blk_free[i], 0x5a, 4096);
	assert_status(tdxsim_tdh_phymem_pamt_add(fx->sim, base, pair), TDX_SUCCESS);
	for (unsigned int i = 0; i < 512; i++)
		assert_int_equal(pamt_entry_at(fx->sim, base + i * 4096ULL, TDX_PS_4K)->pt, PT_NDA);
	assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, base, pair), TDX_SUCCESS);
	for (int i = 0; i < 2; i++)
		assert_int_equal(tdxsim_page_free(fx->sim, pair[i], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, base, TDX_PS_2M), 0);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	check_4k_level_only_with_pair(fx->sim);
}

static struct tdxsim_pamt_info pamt_at(struct fixture *fx, u64 hpa)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	return pi;
}

/*
 * The HKID a page is dirty with (TDH.PHYMEM.PAGE.WBINVD clears only that
 * key's lines) survives its 2MB range gaining and losing a 4K level: kept in
 * the 4K entry while there is one, else beside the page flags.
 */
static void test_dirty_hkid_across_pamt_add_remove(void **state)
{
	struct fixture *fx = *state;
	u16 hkid = fx->td->hkid;
	struct tdxsim_pamt_info pi;
	u64 gpa = GPA_2M(5), hpa, pair[2], e1, e2;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	fx_block_track(fx, gpa, TDX_PS_2M);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa + 7 * 4096, &pi), 0);
	assert_true(pi.dirty);
	assert_int_equal(pi.dirty_hkid, hkid);

	/* The range gets a 4K level: the HKIDs go with it. */
	pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_status(tdxsim_tdh_phymem_pamt_add(fx->sim, hpa, pair), TDX_SUCCESS);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa + 7 * 4096, &pi), 0);
	assert_int_equal(pi.level, TDX_PS_4K);
	assert_true(pi.dirty);
	assert_int_equal(pi.dirty_hkid, hkid);
	/* A wrong key leaves the page dirty, the right one cleans it. */
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, hkid + 1, hpa), TDX_SUCCESS);
	assert_true(pamt_at(fx, hpa).dirty);
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, hkid, hpa), TDX_SUCCESS);
	assert_false(pamt_at(fx, hpa).dirty);

	/* And loses it: the remaining HKIDs come back. */
	assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, hpa, pair), TDX_SUCCESS);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa + 7 * 4096, &pi), 0);
	assert_int_equal(pi.level, TDX_PS_2M);
	assert_true(pi.dirty);
	assert_int_equal(pi.dirty_hkid, hkid);
	for (u64 off = 4096; off < 0x200000ULL; off += 4096)
		assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, hkid, hpa + off),
			      TDX_SUCCESS);
	assert_false(pamt_at(fx, hpa + 7 * 4096).dirty);
	for (int i = 0; i < 2; i++)
		assert_int_equal(tdxsim_page_free(fx->sim, pair[i], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_2M), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alloc_all_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_2m_freed_as_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_args_no_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dpamt_4k_pamt_only_with_pair,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dirty_hkid_across_pamt_add_remove,
						fx_setup_runnable, fx_teardown),
	};

	return run_group(tests);
}
