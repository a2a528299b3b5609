// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>

#include "harness.h"

static void cfg_nodpamt(struct tdxsim_config *cfg)
{
	cfg->features0 &= ~TDX_FEATURES0_DYNAMIC_PAMT;
}

static void cfg_interruptible(struct tdxsim_config *cfg)
{
	cfg->features0 &= ~TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY;
}

int fx_setup_with(void **state, fixture_cfg_fn cfg_fn, bool runnable)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	u64 st;

	if (!fx)
		return -1;
	tdxsim_config_init(&fx->cfg);
	fx->cfg.mem_size = 256ULL << 20;
	if (cfg_fn)
		cfg_fn(&fx->cfg);
	fx->sim = tdxsim_create(&fx->cfg);
	if (!fx->sim)
		goto fail;
	fx->td = tdxsim_td_create(fx->sim, &st);
	if (!fx->td)
		goto fail;
	if (runnable) {
		fx->vcpu = tdxsim_vcpu_create(fx->td, &st);
		if (!fx->vcpu || tdxsim_td_finalize(fx->td))
			goto fail;
	}
	*state = fx;
	return 0;
fail:
	tdxsim_destroy(fx->sim);
	free(fx);
	return -1;
}

int fx_setup_initialized(void **state)
{
	return fx_setup_with(state, NULL, false);
}

int fx_setup_runnable(void **state)
{
	return fx_setup_with(state, NULL, true);
}

int fx_setup_initialized_nodpamt(void **state)
{
	return fx_setup_with(state, cfg_nodpamt, false);
}

int fx_setup_runnable_nodpamt(void **state)
{
	return fx_setup_with(state, cfg_nodpamt, true);
}

int fx_setup_runnable_interruptible(void **state)
{
	return fx_setup_with(state, cfg_interruptible, true);
}

int fx_teardown(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_report rep;
	int bad = tdxsim_check(fx->sim, &rep);
	int ret = 0;

	if (bad && !fx->expect_violations) {
		tdxsim_report_print(&rep, stderr);
		ret = -1;
	}
	if (fx->td && tdxsim_td_teardown(fx->td, TDXSIM_TEARDOWN_FREE_PAMT) &&
	    !fx->expect_violations) {
		fprintf(stderr, "teardown failed\n");
		ret = -1;
	}
	if (!fx->allow_leftover_pages && !fx->expect_violations &&
	    tdxsim_pages_in_use(fx->sim)) {
		fprintf(stderr, "%llu pages left allocated after teardown\n",
			(unsigned long long)tdxsim_pages_in_use(fx->sim));
		ret = -1;
	}
	tdxsim_destroy(fx->sim);
	free(fx);
	return ret;
}

void fx_ensure_pair(struct fixture *fx, u64 pa)
{
	struct tdxsim_pamt_info pi;
	u64 pair[2], st;

	if (!(fx->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT))
		return;
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, pa, &pi), 0);
	if (pi.dpamt_pair)
		return;
	pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_true(pair[0] && pair[1]);
	st = tdxsim_tdh_phymem_pamt_add(fx->sim, pa, pair);
	assert_status(st, TDX_SUCCESS);
}

u64 fx_alloc_4k(struct fixture *fx)
{
	u64 pa = tdxsim_page_alloc(fx->sim, TDX_PS_4K);

	assert_true(pa != 0);
	fx_ensure_pair(fx, pa);
	return pa;
}

void fx_map_sept(struct fixture *fx, u64 gpa, int level)
{
	/* From the root's entries down: level 4 exists with GPAW 52 only. */
	for (int l = 4; l > level; l--) {
		struct tdxsim_sept_info si;
		u64 e1, e2, page;
		int r = tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, l, &si);

		if (r == -EINVAL || (r == 0 && si.state == SEPT_PUBLIC_NL_MAPPED))
			continue;
		page = fx_alloc_4k(fx);
		assert_status(tdxsim_tdh_mem_sept_add(fx->td, gpa & ~(tdx_level_size(l) - 1), l, page,
					       &e1, &e2), TDX_SUCCESS);
	}
}

u64 fx_aug(struct fixture *fx, u64 gpa, int level)
{
	u64 hpa, e1, e2;

	fx_map_sept(fx, gpa, level);
	if (level == TDX_PS_4K)
		hpa = fx_alloc_4k(fx);
	else
		hpa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(hpa != 0);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, level, hpa >> 12, &e1, &e2), TDX_SUCCESS);
	return hpa;
}

void fx_block_track(struct fixture *fx, u64 gpa, int level)
{
	u64 e1, e2;

	assert_status(tdxsim_tdh_mem_range_block(fx->td, gpa, level, &e1, &e2), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);
}

u64 fx_demote(struct fixture *fx, u64 gpa)
{
	u64 sept = fx_alloc_4k(fx), pair[2] = { 0, 0 }, e1, e2;

	if (fx->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT) {
		pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
		pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	}
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, gpa, TDX_PS_2M, sept, pair, &e1, &e2),
		      TDX_SUCCESS);
	return sept;
}

void fx_remove(struct fixture *fx, u64 gpa, int level)
{
	struct tdxsim_sept_info si;
	u64 e1, e2, hpa;

	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, level, &si), 0);
	hpa = si.hpa;
	fx_block_track(fx, gpa, level);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, level, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1 & ~TDX_PAMT_REMOVAL_HINT, hpa);
	for (u64 off = 0; off < tdx_level_size(level); off += TDX_PAGE_SIZE)
		assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, hpa + off),
			      TDX_SUCCESS);
	if (fx->cfg.reset_quirk)
		assert_int_equal(tdxsim_page_reset(fx->sim, hpa, tdx_level_size(level)), 0);
	if (level == TDX_PS_4K) {
		assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_4K), 0);
	} else {
		for (u64 off = 0; off < tdx_level_size(level); off += 0x200000ULL)
			assert_int_equal(tdxsim_page_free(fx->sim, hpa + off, TDX_PS_2M), 0);
	}
}

void fx_enter(struct fixture *fx)
{
	assert_status(tdxsim_vcpu_enter(fx->vcpu), TDX_SUCCESS);
}
