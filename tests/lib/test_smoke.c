// SPDX-License-Identifier: GPL-2.0-only
/* The demo's walk as a test: 2MB AUG, ACCEPT, BLOCK, TRACK, DEMOTE, 4K REMOVE. */
#include "harness.h"

static void test_2m_lifecycle(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_sept_info si;
	struct tdxsim_pamt_info pi;
	u64 gpa = GPA_2M(0), hpa;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gpa, &si), 0);
	assert_int_equal(si.level, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M), TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gpa, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
	fx_block_track(fx, gpa, TDX_PS_2M);
	fx_demote(fx, gpa);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	assert_true(pi.dpamt_pair);
	assert_int_equal(pi.dpamt_count, 512);
	assert_int_equal(pi.level, TDX_PS_4K);
	assert_int_equal(pi.pt, PT_REG);
	fx_remove(fx, gpa, TDX_PS_4K);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa + 4096, &pi), 0);
	assert_int_equal(pi.dpamt_count, 511);
}

/*
 * Spec §4.3: with Dynamic PAMT a 2MB range has no 4K level until its pair is
 * installed, so the PAMT leaf of an unused page is the 2MB entry; with static
 * PAMT it is the 4K entry.
 */
static void test_pamt_leaf_level(void **state)
{
	struct fixture *fx = *state;
	bool dpamt = fx->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT;
	struct tdxsim_pamt_info pi;
	u64 pa = tdxsim_page_alloc(fx->sim, TDX_PS_2M), pair[2];

	assert_true(pa != 0);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, pa + 4096, &pi), 0);
	assert_int_equal(pi.level, dpamt ? TDX_PS_2M : TDX_PS_4K);
	assert_int_equal(pi.pt, PT_NDA);
	assert_false(pi.dpamt_pair);
	if (dpamt) {
		pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
		pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
		assert_status(tdxsim_tdh_phymem_pamt_add(fx->sim, pa, pair), TDX_SUCCESS);
		assert_int_equal(tdxsim_pamt_lookup(fx->sim, pa + 4096, &pi), 0);
		assert_int_equal(pi.level, TDX_PS_4K);
		assert_true(pi.dpamt_pair);
		assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, pa, pair), TDX_SUCCESS);
		assert_int_equal(tdxsim_page_free(fx->sim, pair[0], TDX_PS_4K), 0);
		assert_int_equal(tdxsim_page_free(fx->sim, pair[1], TDX_PS_4K), 0);
	}
	assert_int_equal(tdxsim_page_free(fx->sim, pa, TDX_PS_2M), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_2m_lifecycle, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pamt_leaf_level, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pamt_leaf_level, fx_setup_runnable_nodpamt,
						fx_teardown),
	};

	return run_group(tests);
}
