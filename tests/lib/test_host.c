// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host layer's life cycle under failures (issue 7): a failed
 * tdxsim_td_create() leaves no page behind, teardown retries what the kernel
 * retries and never reports success with pages left, and no retry loop of
 * the host layer runs forever.  Failures come from fault rules.
 */
#include <errno.h>
#include <stdlib.h>

#include <tdxsim/fault.h>

#include "harness.h"

/* A simulator and no TD. */
static int setup_sim(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	tdxsim_config_init(&fx->cfg);
	fx->cfg.mem_size = 64ULL << 20;
	fx->sim = tdxsim_create(&fx->cfg);
	if (!fx->sim) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static void add_rule(struct fixture *fx, const char *spec)
{
	char err[160];

	if (tdxsim_fault_parse(fx->sim, spec, err, sizeof(err)) != 1)
		fail_msg("rule '%s': %s", spec, err);
}

static void assert_clean(struct fixture *fx)
{
	struct tdxsim_report rep;

	if (tdxsim_check(fx->sim, &rep)) {
		tdxsim_report_print(&rep, stderr);
		fail_msg("invariants broken");
	}
}

/* A create that must fail: NULL, the expected status, and every page back. */
static void create_fails(struct fixture *fx, const char *rule, u64 expected)
{
	u64 before = tdxsim_pages_in_use(fx->sim), st = 0;
	struct tdxsim_td *td;

	if (rule)
		add_rule(fx, rule);
	td = tdxsim_td_create(fx->sim, &st);
	if (td)
		fail_msg("'%s': tdxsim_td_create succeeded", rule);
	assert_status(st, expected);
	if (tdxsim_pages_in_use(fx->sim) != before)
		fail_msg("'%s': %llu pages in use after the failed create, %llu before", rule,
			 (unsigned long long)tdxsim_pages_in_use(fx->sim),
			 (unsigned long long)before);
	tdxsim_fault_clear(fx->sim);
	assert_clean(fx);
}

/* A full TD with a vCPU that ran, and a 4K guest page. */
static void build_td(struct fixture *fx)
{
	u64 st;

	fx->td = tdxsim_td_create(fx->sim, &st);
	assert_non_null(fx->td);
	fx->vcpu = tdxsim_vcpu_create(fx->td, &st);
	assert_non_null(fx->vcpu);
	assert_status(tdxsim_td_finalize(fx->td), TDX_SUCCESS);
	fx_aug(fx, GPA_2M(0), TDX_PS_4K);
	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, GPA_2M(0),
						 TDX_PS_4K), TDX_SUCCESS);
}

/*
 * ENOMEM on each of the 4th to 9th allocations: the TDR and its DPAMT pair
 * are the first three, the TDCX pages follow.  Before the fix the pair
 * installed for the control pages stayed allocated.
 */
static void test_create_enomem_leaves_nothing(void **state)
{
	struct fixture *fx = *state;
	char rule[64];
	u64 st;

	for (int n = 1; n <= 9; n++) {
		snprintf(rule, sizeof(rule), "alloc:enomem:nth=%d", n);
		create_fails(fx, rule, TDX_SW_ERROR);
	}
	/* The HKID and the pages are free again: a create works. */
	fx->td = tdxsim_td_create(fx->sim, &st);
	assert_non_null(fx->td);
	assert_int_equal(fx->td->hkid, fx->cfg.nr_mktme_hkids + 1);
}

/* BUSY once on each build step (KVM does not retry these): the create fails clean. */
static void test_create_busy_leaves_nothing(void **state)
{
	struct fixture *fx = *state;
	u64 st;

	create_fails(fx, "mng_create:busy=rcx:nth=1", TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	create_fails(fx, "key_config:busy=rcx:nth=1", TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	create_fails(fx, "addcx:busy=rdx:nth=1", TDX_OPERAND_BUSY | TDX_OPERAND_ID_RDX);
	create_fails(fx, "addcx:busy=rdx:nth=4", TDX_OPERAND_BUSY | TDX_OPERAND_ID_RDX);
	create_fails(fx, "mng_init:busy=rcx:nth=1", TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	fx->td = tdxsim_td_create(fx->sim, &st);
	assert_non_null(fx->td);
	assert_int_equal(fx->td->hkid, fx->cfg.nr_mktme_hkids + 1);
}

/*
 * MNG.CREATE answering HKID_NOT_FREE on every call: the create gives up
 * after trying each HKID once (it looped forever before).
 */
static void test_create_hkid_not_free_terminates(void **state)
{
	struct fixture *fx = *state;
	u64 calls = tdxsim_stats_count(fx->sim, TDH_MNG_CREATE, TDX_HKID_NOT_FREE);

	create_fails(fx, "mng_create:status=TDX_HKID_NOT_FREE", TDX_HKID_NOT_FREE);
	/* Each private KeyID once. */
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MNG_CREATE, TDX_HKID_NOT_FREE) - calls,
			 (1U << fx->cfg.nr_hkid_bits) - 1 - fx->cfg.nr_mktme_hkids);
}

/* Every HKID taken: the next create fails with HKID_NOT_FREE, nothing left behind. */
static void test_create_out_of_hkids(void **state)
{
	struct fixture *fx = *state;
	unsigned int nr = (1U << fx->cfg.nr_hkid_bits) - 1 - fx->cfg.nr_mktme_hkids;
	struct tdxsim_td **tds = calloc(nr, sizeof(*tds));
	u64 st;

	assert_non_null(tds);
	for (unsigned int i = 0; i < nr; i++) {
		tds[i] = tdxsim_td_create(fx->sim, &st);
		assert_non_null(tds[i]);
	}
	create_fails(fx, NULL, TDX_HKID_NOT_FREE);
	for (unsigned int i = 0; i < nr; i++)
		assert_int_equal(tdxsim_td_teardown(tds[i], TDXSIM_TEARDOWN_FREE_PAMT), 0);
	free(tds);
}

/* Teardown returns 0 and gives every page back; the fixture checks the count. */
static void teardown_ok(struct fixture *fx, const char *rule)
{
	add_rule(fx, rule);
	if (tdxsim_td_teardown(fx->td, TDXSIM_TEARDOWN_FREE_PAMT))
		fail_msg("'%s': teardown failed", rule);
	fx->td = NULL;
	fx->vcpu = NULL;
	if (tdxsim_fault_fired_total(fx->sim) == 0)
		fail_msg("'%s' never fired", rule);
	tdxsim_fault_clear(fx->sim);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 0);
}

/* One BUSY on TDH.VP.FLUSH is retried, as KVM retries it (it leaked the TD before). */
static void test_teardown_vp_flush_busy(void **state)
{
	struct fixture *fx = *state;

	build_td(fx);
	teardown_ok(fx, "vp_flush:busy=rcx:nth=1");
}

/* BUSY on each teardown SEAMCALL once: retried. */
static void test_teardown_busy_each_step(void **state)
{
	static const char *const rules[] = {
		"vpflushdone:busy=rcx:nth=1", "cache_wb:busy=rcx:nth=1",
		"key_freeid:busy=rcx:nth=1", "reclaim:busy=rcx:nth=1", "reclaim:busy=rcx:nth=5",
		"pamt_remove:busy=rcx:nth=1",
	};
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		build_td(fx);
		teardown_ok(fx, rules[i]);
	}
}

/* CACHE.WB interrupted: resumed with RCX = 1, as the kernel does. */
static void test_teardown_cache_wb_resumes(void **state)
{
	struct fixture *fx = *state;

	build_td(fx);
	teardown_ok(fx, "cache_wb:status=TDX_INTERRUPTED_RESUMABLE:nth=1");
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_PHYMEM_CACHE_WB, TDX_SUCCESS), 1);
}

/*
 * A failure the kernel does not retry is reported, never a success with
 * pages left; the TD stays as it was left and a second teardown, with a
 * handle built from the TDR alone, finishes the job.
 */
static void teardown_fails_then_resumes(struct fixture *fx, const char *rule)
{
	struct tdxsim_td_info info;
	u64 tdr = fx->td->tdr_pa, before;
	u16 hkid = fx->td->hkid;
	struct tdxsim_td *again;

	add_rule(fx, rule);
	before = tdxsim_pages_in_use(fx->sim);
	if (tdxsim_td_teardown(fx->td, TDXSIM_TEARDOWN_FREE_PAMT) != -EIO)
		fail_msg("'%s': teardown did not report the failure", rule);
	fx->td = NULL;
	fx->vcpu = NULL;
	tdxsim_fault_clear(fx->sim);
	/* The TD is still there and still owns pages; none was lost on the way. */
	assert_int_equal(tdxsim_td_info(fx->sim, tdr, &info), 0);
	assert_true(info.chldcnt > 0);
	assert_true(tdxsim_pages_in_use(fx->sim) <= before);
	assert_clean(fx);

	again = calloc(1, sizeof(*again));
	assert_non_null(again);
	again->sim = fx->sim;
	again->tdr_pa = tdr;
	again->hkid = hkid;
	assert_int_equal(tdxsim_td_teardown(again, TDXSIM_TEARDOWN_FREE_PAMT), 0);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 0);
}

static void test_teardown_failures_reported(void **state)
{
	static const char *const rules[] = {
		"vp_flush:status=TDX_SYS_BUSY:nth=1",
		"vpflushdone:status=TDX_SYS_BUSY:nth=1",
		"cache_wb:status=TDX_SYS_BUSY:nth=1",
		"key_freeid:status=TDX_SYS_BUSY:nth=1",
		"reclaim:status=TDX_SYS_BUSY:nth=3",
		"vp_flush:busy=rcx",		/* BUSY forever: the retries are bounded */
		"reclaim:busy=rcx",
	};
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		build_td(fx);
		teardown_fails_then_resumes(fx, rules[i]);
	}
}

/* The TD as the host layer sees it now: tdxsim_td_info() and its pages. */
static void test_td_info_and_pages(void **state)
{
	struct fixture *fx = *state;
	unsigned int nr_tdcx_pt = 0, nr_tdvpr = 0, nr_ept = 0, nr_reg4k = 0, nr_reg2m = 0, nr_tdr = 0;
	struct tdxsim_td_info info;
	struct tdxsim_td_page page;
	u64 cursor = 0, units = 0, last = 0, tdr, big;

	build_td(fx);
	big = fx_aug(fx, GPA_2M(1), TDX_PS_2M);
	tdr = fx->td->tdr_pa;
	assert_int_equal(tdxsim_td_info(fx->sim, tdr, &info), 0);
	assert_int_equal(info.lifecycle, TDXSIM_TD_KEYS_CONFIGURED);
	assert_int_equal(info.op_state, TDXSIM_OP_STATE_RUNNABLE);
	assert_int_equal(info.hkid, fx->td->hkid);
	assert_int_equal(info.nr_tdcx, fx->cfg.nr_tdcs_pages);
	assert_int_equal(info.nr_vcpus, 1);
	assert_int_equal(info.epoch, tdxsim_td_epoch(fx->sim, fx->td));
	assert_int_equal(info.chldcnt, tdxsim_td_chldcnt(fx->sim, fx->td));
	assert_false(info.wbcache_pending);

	while (tdxsim_td_page_next(fx->sim, tdr, &cursor, &page) == 0) {
		assert_true(page.hpa >= last);
		assert_int_equal(cursor, page.hpa + tdx_level_size(page.level));
		last = cursor;
		switch (page.pt) {
		case PT_TDR:
			assert_int_equal(page.hpa, tdr);
			nr_tdr++;
			continue;
		case PT_TDCX:
			nr_tdcx_pt++;
			break;
		case PT_TDVPR:
			assert_int_equal(page.hpa, fx->vcpu->tdvpr_pa);
			nr_tdvpr++;
			break;
		case PT_EPT:
			nr_ept++;
			break;
		case PT_REG:
			if (page.level == TDX_PS_2M) {
				assert_int_equal(page.hpa, big);
				nr_reg2m++;
			} else {
				nr_reg4k++;
			}
			break;
		default:
			fail_msg("page %#llx of type %u", (unsigned long long)page.hpa, page.pt);
		}
		units += tdx_level_pages(page.level);
	}
	assert_int_equal(nr_tdr, 1);
	assert_int_equal(nr_tdcx_pt, fx->cfg.nr_tdcs_pages + fx->cfg.nr_tdvpx_pages);
	assert_int_equal(nr_tdvpr, 1);
	assert_int_equal(nr_ept, 3);	/* levels 3, 2, 1 of GPA_2M(0); GPA_2M(1) shares them */
	assert_int_equal(nr_reg4k, 1);
	assert_int_equal(nr_reg2m, 1);
	assert_int_equal(units, info.chldcnt);
	/* At the end, and for what is not a TDR. */
	assert_int_equal(tdxsim_td_page_next(fx->sim, tdr, &cursor, &page), -ENOENT);
	cursor = 0;
	assert_int_equal(tdxsim_td_page_next(fx->sim, big, &cursor, &page), -EINVAL);
	assert_int_equal(tdxsim_td_info(fx->sim, big, &info), -EINVAL);

	/* Through teardown: BLOCKED, then gone. */
	assert_status(tdxsim_td_flush_vcpus(fx->td), TDX_SUCCESS);
	assert_status(tdxsim_seamcall(fx->sim, TDH_MNG_VPFLUSHDONE,
				      &(struct tdx_module_args){ .rcx = tdr }), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_info(fx->sim, tdr, &info), 0);
	assert_int_equal(info.lifecycle, TDXSIM_TD_BLOCKED);
	assert_true(info.wbcache_pending);
	assert_int_equal(tdxsim_td_teardown(fx->td, TDXSIM_TEARDOWN_FREE_PAMT), 0);
	fx->td = NULL;
	fx->vcpu = NULL;
	assert_int_equal(tdxsim_td_info(fx->sim, tdr, &info), -EINVAL);
}

/*
 * A failed tdxsim_vcpu_create() (no page, or a build step refused) returns
 * NULL; what the module took stays with the TD and teardown gives it all back.
 */
static void test_vcpu_create_failures(void **state)
{
	static const char *const rules[] = {
		"alloc:enomem:nth=1", "alloc:enomem:nth=2", "alloc:enomem:nth=4",
		"vp_create:busy=rdx:nth=1", "vp_addcx:busy=rdx:nth=1", "vp_addcx:busy=rdx:nth=3",
		"vp_init:busy=rcx:nth=1",
	};
	struct fixture *fx = *state;
	struct tdxsim_vcpu *v;
	u64 st;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		fx->td = tdxsim_td_create(fx->sim, &st);
		assert_non_null(fx->td);
		add_rule(fx, rules[i]);
		v = tdxsim_vcpu_create(fx->td, &st);
		if (v)
			fail_msg("'%s': the vCPU was created", rules[i]);
		assert_true(st != TDX_SUCCESS);
		tdxsim_fault_clear(fx->sim);
		assert_clean(fx);
		/* The TD still works: another vCPU, then a clean teardown. */
		v = tdxsim_vcpu_create(fx->td, &st);
		assert_non_null(v);
		assert_status(tdxsim_td_finalize(fx->td), TDX_SUCCESS);
		assert_status(tdxsim_vcpu_enter(v), TDX_SUCCESS);
		assert_int_equal(tdxsim_td_teardown(fx->td, TDXSIM_TEARDOWN_FREE_PAMT), 0);
		fx->td = NULL;
		assert_int_equal(tdxsim_pages_in_use(fx->sim), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_enomem_leaves_nothing, setup_sim,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_busy_leaves_nothing, setup_sim,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_hkid_not_free_terminates, setup_sim,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_out_of_hkids, setup_sim, fx_teardown),
		cmocka_unit_test_setup_teardown(test_teardown_vp_flush_busy, setup_sim,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_teardown_busy_each_step, setup_sim,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_teardown_cache_wb_resumes, setup_sim,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_teardown_failures_reported, setup_sim,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_td_info_and_pages, setup_sim, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_create_failures, setup_sim, fx_teardown),
	};

	return run_group(tests);
}
