// SPDX-License-Identifier: GPL-2.0-only
/*
 * Physical-address operands, KeyIDs and PAMT locking, checked against the
 * newest public module source with Dynamic PAMT (spec seamcall.md §0.1):
 * helpers.c (hpa_check_with_pwr_2_alignment, shared_hpa_check),
 * pamt_manager.c (pamt_walk, pamt_demote), tdh_phymem_pamt_add.c,
 * tdh_mem_page_demote.c, tdh_mng_init.c, tdh_mng_create.c.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define SZ_4K		0x1000ULL
#define SZ_2M		0x200000ULL
#define TD_PARAMS_PA	0x1000ULL

static u64 raw(struct fixture *fx, u64 leaf, u64 rcx, u64 rdx, u64 r8,
	       struct tdx_module_args *out)
{
	struct tdx_module_args a = { .rcx = rcx, .rdx = rdx, .r8 = r8 };
	u64 st = tdxsim_seamcall(fx->sim, leaf, &a);

	if (out)
		*out = a;
	return st;
}

static struct tdxsim_pamt_info pamt_at(struct fixture *fx, u64 hpa)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	return pi;
}

static u64 mem_end(const struct fixture *fx)
{
	return fx->cfg.mem_base + fx->cfg.mem_size;
}

static u64 alloc(struct fixture *fx, int level)
{
	u64 pa = tdxsim_page_alloc(fx->sim, level);

	assert_true(pa != 0);
	return pa;
}

static void free_page(struct fixture *fx, u64 pa, int level)
{
	assert_int_equal(tdxsim_page_free(fx->sim, pa, level), 0);
}

/* ---------------------------------------------------------------------------
 * TDH.MNG.INIT: RCX is "no extended error code" (0) unless a CPUID
 * configuration is refused (tdh_mng_init.c).
 */
static void test_mng_init_rcx_zero(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td *td = calloc(1, sizeof(*td));
	struct tdx_module_args a;

	assert_non_null(td);
	td->sim = fx->sim;
	td->hkid = fx->td->hkid + 1;
	td->tdr_pa = fx_alloc_4k(fx);
	assert_status(raw(fx, TDH_MNG_CREATE, td->tdr_pa, td->hkid, 0, NULL), TDX_SUCCESS);
	assert_status(raw(fx, TDH_MNG_KEY_CONFIG, td->tdr_pa, 0, 0, NULL), TDX_SUCCESS);
	for (unsigned int i = 0; i < fx->cfg.nr_tdcs_pages; i++) {
		u64 page = fx_alloc_4k(fx);

		assert_status(raw(fx, TDH_MNG_ADDCX, page, td->tdr_pa, 0, NULL), TDX_SUCCESS);
		td->tdcx_pa[td->nr_tdcx++] = page;
	}
	/* A failure clears RCX too: the error is not an extended code. */
	assert_status(raw(fx, TDH_MNG_INIT, td->tdr_pa, TD_PARAMS_PA + 0x10, 0, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_int_equal(a.rcx, 0);
	assert_status(raw(fx, TDH_MNG_INIT, td->tdr_pa, TD_PARAMS_PA, 0, &a), TDX_SUCCESS);
	assert_int_equal(a.rcx, 0);
	assert_int_equal(tdxsim_td_teardown(td, 0), 0);
}

/* ---------------------------------------------------------------------------
 * TDH.PHYMEM.PAMT.ADD with two bad operands (tdh_phymem_pamt_add.c): RCX's
 * form, RDX (valid, TDMR), R8 (valid, TDMR), RCX's TDMR, the range, the two
 * page walks, the two bitmap bits.
 */
static void test_pamt_add_operand_order(void **state)
{
	struct fixture *fx = *state;
	u64 range = alloc(fx, TDX_PS_2M), pages = alloc(fx, TDX_PS_2M);
	u64 p0 = pages, p1 = pages + SZ_4K;
	u64 used = pamt_at(fx, fx->td->tdr_pa).dpamt_pages[0];
	u64 tdr = fx->td->tdr_pa;

	assert_true(pamt_at(fx, used).pamt_page);
	/* RCX outside the TDMR, RDX misaligned: the page operands come first. */
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, mem_end(fx) | TDX_PS_2M, p0 + 0x10, p1, NULL),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, mem_end(fx) | TDX_PS_2M, p0, mem_end(fx), NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8);
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, mem_end(fx) | TDX_PS_2M, p0, p1, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	/* RCX's own form is checked before anything else. */
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, (range + SZ_4K) | TDX_PS_2M, p0 + 0x10, p1,
			  NULL), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	/* RDX fully (valid and TDMR) before R8. */
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, range | TDX_PS_2M, 0x1000, p1 + 0x10, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RDX);
	/* A range that is not free answers before the pages are walked. */
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, (tdr & ~(SZ_2M - 1)) | TDX_PS_2M, used, tdr,
			  NULL), TDX_HPA_RANGE_NOT_FREE | TDX_OPERAND_ID_RCX);
	/*
	 * RDX is already a PAMT page (its entry is PT_NDA, its bitmap bit set)
	 * and R8 is the TDR: both walks come before the bitmap bits, so R8.
	 */
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, range | TDX_PS_2M, used, tdr, NULL),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R8);
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, range | TDX_PS_2M, used, p1, NULL),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_RDX);
	/* R8's bit taken: RDX's is given back. */
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, range | TDX_PS_2M, p0, used, NULL),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R8);
	assert_false(pamt_at(fx, p0).pamt_page);
	assert_false(pamt_at(fx, range).dpamt_pair);

	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, range | TDX_PS_2M, p0, p1, NULL), TDX_SUCCESS);
	assert_status(raw(fx, TDH_PHYMEM_PAMT_REMOVE, range | TDX_PS_2M, 0, 0, NULL), TDX_SUCCESS);
	free_page(fx, range, TDX_PS_2M);
	free_page(fx, pages, TDX_PS_2M);
}

/* ---------------------------------------------------------------------------
 * TDH.MEM.PAGE.DEMOTE's pair (pamt_demote()): R12 and R13 valid, R12 and R13
 * in a TDMR, R12 then R13 walked and PT_NDA, then the two bitmap bits.
 */
struct demote_case {
	u64 gpa, hpa, sept, pair[2];
};

static void prep_demote(struct fixture *fx, struct demote_case *d)
{
	d->gpa = GPA_2M(0);
	d->hpa = fx_aug(fx, d->gpa, TDX_PS_2M);
	fx_block_track(fx, d->gpa, TDX_PS_2M);
	d->sept = fx_alloc_4k(fx);
	d->pair[0] = alloc(fx, TDX_PS_4K);
	d->pair[1] = alloc(fx, TDX_PS_4K);
}

static u64 demote(struct fixture *fx, const struct demote_case *d, u64 r12, u64 r13)
{
	struct tdx_module_args a = {
		.rcx = d->gpa | TDX_PS_2M, .rdx = fx->td->tdr_pa, .r8 = d->sept,
		.r12 = r12, .r13 = r13,
	};

	return tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_DEMOTE, &a);
}

/* Nothing a refused DEMOTE may touch has moved. */
static void assert_not_demoted(struct fixture *fx, const struct demote_case *d)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, d->gpa, TDX_PS_2M, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING_BLOCKED);
	assert_int_equal(pamt_at(fx, d->hpa).level, TDX_PS_2M);
	assert_int_equal(pamt_at(fx, d->sept).pt, PT_NDA);
	assert_false(pamt_at(fx, d->pair[0]).pamt_page);
	assert_false(pamt_at(fx, d->pair[1]).pamt_page);
}

static void test_demote_pair_operand_order(void **state)
{
	struct fixture *fx = *state;
	struct demote_case d;
	u64 used, tdr = fx->td->tdr_pa;

	prep_demote(fx, &d);
	used = pamt_at(fx, tdr).dpamt_pages[0];

	/* R12 outside the TDMR, R13 misaligned: validity of both first. */
	assert_status(demote(fx, &d, mem_end(fx), d.pair[1] + 0x10),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R13);
	assert_status(demote(fx, &d, mem_end(fx), mem_end(fx) + SZ_4K),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R12);
	/* R12 a PAMT page already, R13 the TDR: the walks before the bits. */
	assert_status(demote(fx, &d, used, tdr), TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R13);
	assert_status(demote(fx, &d, used, d.pair[1]), TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R12);
	/* R13 out of the TDMR answers before R12's walk. */
	assert_status(demote(fx, &d, tdr, 0x1000),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R13);
	assert_not_demoted(fx, &d);
	assert_true(pamt_at(fx, used).pamt_page);

	assert_status(demote(fx, &d, d.pair[0], d.pair[1]), TDX_SUCCESS);
}

/*
 * A pair page inside the 2MB page being demoted: its walk needs the 2MB entry
 * the call holds exclusive, so BUSY on its operand (pamt_demote()).  The
 * checks before the walks still answer first.  One such failure is not yet
 * flagged: the checker stays clean.
 */
static void test_demote_pair_inside_page(void **state)
{
	struct fixture *fx = *state;
	struct demote_case d;
	u64 inside;

	prep_demote(fx, &d);
	inside = d.hpa + 5 * SZ_4K;
	assert_status(demote(fx, &d, inside, d.pair[1]), TDX_OPERAND_BUSY | TDX_OPERAND_ID_R12);
	assert_status(demote(fx, &d, d.pair[0], inside), TDX_OPERAND_BUSY | TDX_OPERAND_ID_R13);
	assert_status(demote(fx, &d, inside, d.pair[1] + 0x10),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R13);
	assert_not_demoted(fx, &d);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	assert_status(demote(fx, &d, d.pair[0], d.pair[1]), TDX_SUCCESS);
}

/* The host misuse a retried never-clearing BUSY leaves: exactly one, naming it. */
static void assert_one_retry_misuse(struct fixture *fx, const char *leaf, const char *operand)
{
	struct tdxsim_report rep;

	assert_int_equal(tdxsim_check(fx->sim, &rep), 1);
	assert_int_equal(rep.v[0].what, TDXSIM_INV_HOST_MISUSE);
	assert_non_null(strstr(rep.v[0].msg, leaf));
	assert_non_null(strstr(rep.v[0].msg, "retried"));
	assert_non_null(strstr(rep.v[0].msg, operand));
	assert_non_null(strstr(rep.v[0].msg, "never clears"));
	/* The teardown's check would see it again. */
	fx->expect_violations = true;
}

/* Retried, it answers the same every time, and the checker names it. */
static void test_demote_pair_inside_page_retried(void **state)
{
	struct fixture *fx = *state;
	struct demote_case d;

	prep_demote(fx, &d);
	for (int i = 0; i < 4; i++)
		assert_status(demote(fx, &d, d.hpa + SZ_4K, d.pair[1]),
			      TDX_OPERAND_BUSY | TDX_OPERAND_ID_R12);
	assert_not_demoted(fx, &d);
	assert_status(demote(fx, &d, d.pair[0], d.pair[1]), TDX_SUCCESS);
	assert_one_retry_misuse(fx, "TDH.MEM.PAGE.DEMOTE", "BUSY|R12");
}

/* The same page twice where the leaf locks both: ADDCX of the TDR itself. */
static void test_addcx_of_own_tdr_retried(void **state)
{
	struct fixture *fx = *state;
	u64 tdr = fx->td->tdr_pa;

	assert_status(raw(fx, TDH_MNG_ADDCX, tdr, tdr, 0, NULL),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	assert_status(raw(fx, TDH_MNG_ADDCX, tdr, tdr, 0, NULL),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_int_equal(pamt_at(fx, tdr).pt, PT_TDR);
	assert_one_retry_misuse(fx, "TDH.MNG.ADDCX", "BUSY|RCX");
}

/* ---------------------------------------------------------------------------
 * A 2MB AUG into the 2MB physical range that holds the TD's own TDR: the call
 * holds the TDR's PAMT walk (the 1GB and 2MB parents shared), so promoting
 * the range's 2MB entry to exclusive fails: BUSY|R8, every time, with static
 * and Dynamic PAMT alike.  Another TD page in a range is a metadata error.
 */
static u64 aug2m(struct fixture *fx, u64 gpa, u64 hpa)
{
	return raw(fx, TDH_MEM_PAGE_AUG, gpa | TDX_PS_2M, fx->td->tdr_pa, hpa, NULL);
}

static void aug_into_tdr_range(struct fixture *fx, bool retry)
{
	u64 gpa = GPA_2M(6), range = fx->td->tdr_pa & ~(SZ_2M - 1);
	struct tdxsim_sept_info si;

	fx_map_sept(fx, gpa, TDX_PS_2M);
	for (int i = 0; i < (retry ? 3 : 1); i++)
		assert_status(aug2m(fx, gpa, range), TDX_OPERAND_BUSY | TDX_OPERAND_ID_R8);
	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, TDX_PS_2M, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_FREE);
	assert_int_equal(pamt_at(fx, fx->td->tdr_pa).pt, PT_TDR);
	if (retry)
		assert_one_retry_misuse(fx, "TDH.MEM.PAGE.AUG", "BUSY|R8");
	else
		assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
}

static void test_aug_2m_tdr_range(void **state)
{
	aug_into_tdr_range(*state, false);
}

static void test_aug_2m_tdr_range_static(void **state)
{
	aug_into_tdr_range(*state, false);
}

static void test_aug_2m_tdr_range_retried(void **state)
{
	aug_into_tdr_range(*state, true);
}

/*
 * A TD page (a 4K guest page) in a 2MB range that is not the TDR's: the range
 * is not free, PAGE_METADATA_INCORRECT (DPAMT: the 2MB entry is PT_PAMT;
 * static: a 4K child is PT_REG).
 */
static void test_aug_2m_range_with_td_page(void **state)
{
	struct fixture *fx = *state;
	u64 range = alloc(fx, TDX_PS_2M), g4k = GPA_2M(7), g2m = GPA_2M(8), e1, e2;
	bool dpamt = fx->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT;
	struct tdx_module_args a = { .rcx = range | TDX_PS_2M };

	assert_true(range >> 21 != fx->td->tdr_pa >> 21);
	fx_ensure_pair(fx, range);
	fx_map_sept(fx, g4k, TDX_PS_4K);
	fx_map_sept(fx, g2m, TDX_PS_2M);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g4k, TDX_PS_4K, (range + SZ_4K) >> 12,
					      &e1, &e2), TDX_SUCCESS);
	for (int i = 0; i < 2; i++)
		assert_status(aug2m(fx, g2m, range),
			      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);

	/* Give the range back whole: the 4K page out, the pair out, the block free. */
	assert_status(tdxsim_tdh_mem_range_block(fx->td, g4k, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, g4k, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, range + SZ_4K),
		      TDX_SUCCESS);
	if (dpamt) {
		assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAMT_REMOVE, &a), TDX_SUCCESS);
		free_page(fx, a.rdx, TDX_PS_4K);
		free_page(fx, a.r8, TDX_PS_4K);
	}
	free_page(fx, range, TDX_PS_2M);
}

static void test_aug_2m_range_with_td_page_static(void **state)
{
	test_aug_2m_range_with_td_page(state);
}

/* ---------------------------------------------------------------------------
 * Physical addresses on a platform narrower than 52 bits: bits between
 * max_pa_bits and 51 pass "smaller than MAX_PA" (52, x86_defs.h) and fail the
 * TDMR lookup; KeyID bits and bit 52 up stay OPERAND_INVALID.
 */
#define NARROW_PA_BITS	46
#define ABOVE_PA	(1ULL << 47)

static void cfg_narrow(struct tdxsim_config *cfg)
{
	cfg->max_pa_bits = NARROW_PA_BITS;
}

static int setup_narrow(void **state)
{
	return fx_setup_with(state, cfg_narrow, true);
}

static void test_pa_above_platform_width(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), tdr = fx->td->tdr_pa;
	u64 keyed = tdxsim_mk_keyed_paddr(fx->sim, fx->td->hkid, page);
	u64 gpa = GPA_2M(3), pair[2];

	/* KeyID bits sit at the top of the platform's width. */
	assert_int_equal(keyed & ~page, (u64)fx->td->hkid << (NARROW_PA_BITS - 6));

	assert_status(raw(fx, TDH_PHYMEM_PAGE_RECLAIM, page | ABOVE_PA, 0, 0, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	assert_status(raw(fx, TDH_PHYMEM_PAGE_RECLAIM, page | (1ULL << 51), 0, 0, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	assert_status(raw(fx, TDH_PHYMEM_PAGE_RECLAIM, page | (1ULL << 52), 0, 0, NULL),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(raw(fx, TDH_PHYMEM_PAGE_RECLAIM, keyed, 0, 0, NULL),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	/* WBINVD strips the KeyID; what is left is out of the TDMR. */
	assert_status(raw(fx, TDH_PHYMEM_PAGE_WBINVD, keyed | ABOVE_PA, 0, 0, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	assert_status(raw(fx, TDH_PHYMEM_PAGE_WBINVD, keyed, 0, 0, NULL), TDX_SUCCESS);
	/* The TDR operand of every TD leaf. */
	assert_status(raw(fx, TDH_MEM_TRACK, tdr | ABOVE_PA, 0, 0, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);

	/* SEPT.ADD R8 and AUG R8 (4K: GPA_2M(3)'s 4K table; 2M: GPA_2M(4)). */
	fx_map_sept(fx, gpa, TDX_PS_4K);
	fx_map_sept(fx, GPA_2M(4), TDX_PS_2M);
	assert_status(raw(fx, TDH_MEM_SEPT_ADD, GPA_2M(4) | TDX_PS_2M, tdr, page | ABOVE_PA,
			  NULL), TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8);
	assert_status(raw(fx, TDH_MEM_PAGE_AUG, gpa | TDX_PS_4K, tdr, page | ABOVE_PA, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8);
	assert_status(raw(fx, TDH_MEM_PAGE_AUG, GPA_2M(4) | TDX_PS_2M, tdr,
			  (page & ~(SZ_2M - 1)) | ABOVE_PA, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8);
	/* PAMT.ADD: both pages, then the range. */
	pair[0] = page;
	pair[1] = page | ABOVE_PA;
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, (page & ~(SZ_2M - 1)) | TDX_PS_2M,
			  pair[0], pair[1], NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8);
	assert_status(raw(fx, TDH_PHYMEM_PAMT_ADD, ((page & ~(SZ_2M - 1)) | ABOVE_PA) | TDX_PS_2M,
			  page, page, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	assert_status(raw(fx, TDH_PHYMEM_PAMT_REMOVE,
			  ((page & ~(SZ_2M - 1)) | ABOVE_PA) | TDX_PS_2M, 0, 0, NULL),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	assert_status(raw(fx, TDH_PHYMEM_PAMT_REMOVE,
			  ((page & ~(SZ_2M - 1)) | (1ULL << 52)) | TDX_PS_2M, 0, 0, NULL),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);

	assert_int_equal(pamt_at(fx, page).pt, PT_NDA);
	free_page(fx, page, TDX_PS_4K);
}

/* ---------------------------------------------------------------------------
 * KeyIDs: shared (MKTME) below private_hkid_min, private (TDX) from it on.
 */
#define NR_MKTME	16		/* KeyIDs 1..16 shared, 17..63 private */

static void cfg_mktme(struct tdxsim_config *cfg)
{
	cfg->nr_mktme_hkids = NR_MKTME;
}

static int setup_mktme(void **state)
{
	return fx_setup_with(state, cfg_mktme, false);
}

/* TDH.MEM.PAGE.ADD (INITIALIZED TD) with @source in R9. */
static u64 page_add(struct fixture *fx, u64 gpa, u64 page, u64 source)
{
	struct tdx_module_args a = {
		.rcx = gpa, .rdx = fx->td->tdr_pa, .r8 = page, .r9 = source,
	};

	return tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_ADD, &a);
}

static void test_config_default_all_private(void **state)
{
	struct tdxsim_config cfg;
	struct tdxsim *sim;

	(void)state;
	tdxsim_config_init(&cfg);
	assert_int_equal(cfg.nr_mktme_hkids, 0);
	cfg.mem_size = 64ULL << 20;
	/* At least one private KeyID must remain. */
	cfg.nr_mktme_hkids = (1U << cfg.nr_hkid_bits) - 2;
	sim = tdxsim_create(&cfg);
	assert_non_null(sim);
	tdxsim_destroy(sim);
	cfg.nr_mktme_hkids = (1U << cfg.nr_hkid_bits) - 1;
	assert_null(tdxsim_create(&cfg));
}

/* Default: every KeyID private, so a keyed source or TD_PARAMS is refused. */
static void test_all_private_refuses_keyed_source(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = GPA_2M(2), page = fx_alloc_4k(fx);

	assert_int_equal(fx->td->hkid, 1);
	fx_map_sept(fx, gpa, TDX_PS_4K);
	assert_status(page_add(fx, gpa, page, tdxsim_mk_keyed_paddr(fx->sim, 2, TD_PARAMS_PA)),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R9);
	assert_status(page_add(fx, gpa, page, TD_PARAMS_PA), TDX_SUCCESS);
}

static void test_mktme_split(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = GPA_2M(2), page, tdr, shared_src, private_src;
	struct tdx_module_args a;

	/* The host layer picked the first private KeyID. */
	assert_int_equal(fx->td->hkid, NR_MKTME + 1);

	/* MNG.CREATE: a shared KeyID is not a TD's. */
	tdr = fx_alloc_4k(fx);
	assert_status(raw(fx, TDH_MNG_CREATE, tdr, NR_MKTME, 0, NULL),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_status(raw(fx, TDH_MNG_CREATE, tdr, 1, 0, NULL),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_int_equal(pamt_at(fx, tdr).pt, PT_NDA);
	free_page(fx, tdr, TDX_PS_4K);

	/* PAGE.ADD's source may carry a shared KeyID, not a private one. */
	fx_map_sept(fx, gpa, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	shared_src = tdxsim_mk_keyed_paddr(fx->sim, NR_MKTME, TD_PARAMS_PA);
	private_src = tdxsim_mk_keyed_paddr(fx->sim, NR_MKTME + 1, TD_PARAMS_PA);
	assert_status(page_add(fx, gpa, page, private_src),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R9);
	assert_status(page_add(fx, gpa, page, tdxsim_mk_keyed_paddr(fx->sim, 63, TD_PARAMS_PA)),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R9);
	assert_int_equal(pamt_at(fx, page).pt, PT_NDA);
	assert_status(page_add(fx, gpa, page, shared_src), TDX_SUCCESS);
	assert_int_equal(pamt_at(fx, page).pt, PT_REG);

	/* A private page operand takes no KeyID at all, shared or private. */
	assert_status(raw(fx, TDH_PHYMEM_PAGE_RECLAIM,
			  tdxsim_mk_keyed_paddr(fx->sim, 1, page), 0, 0, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	tdr = fx_alloc_4k(fx);
	assert_status(raw(fx, TDH_MNG_ADDCX, tdxsim_mk_keyed_paddr(fx->sim, 1, tdr),
			  fx->td->tdr_pa, 0, NULL), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	free_page(fx, tdr, TDX_PS_4K);
}

/* TD_PARAMS (MNG.INIT RDX) is a shared page: a shared KeyID is fine. */
static void test_mktme_td_params(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td *td = calloc(1, sizeof(*td));
	struct tdx_module_args a;

	assert_non_null(td);
	td->sim = fx->sim;
	td->hkid = NR_MKTME + 2;
	td->tdr_pa = fx_alloc_4k(fx);
	assert_status(raw(fx, TDH_MNG_CREATE, td->tdr_pa, td->hkid, 0, NULL), TDX_SUCCESS);
	assert_status(raw(fx, TDH_MNG_KEY_CONFIG, td->tdr_pa, 0, 0, NULL), TDX_SUCCESS);
	for (unsigned int i = 0; i < fx->cfg.nr_tdcs_pages; i++) {
		u64 page = fx_alloc_4k(fx);

		assert_status(raw(fx, TDH_MNG_ADDCX, page, td->tdr_pa, 0, NULL), TDX_SUCCESS);
		td->tdcx_pa[td->nr_tdcx++] = page;
	}
	assert_status(raw(fx, TDH_MNG_INIT, td->tdr_pa,
			  tdxsim_mk_keyed_paddr(fx->sim, NR_MKTME + 1, TD_PARAMS_PA), 0, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_status(raw(fx, TDH_MNG_INIT, td->tdr_pa,
			  tdxsim_mk_keyed_paddr(fx->sim, 3, TD_PARAMS_PA), 0, &a), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_teardown(td, 0), 0);
}

#define T(fn, setup)	cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

/*
 * S30: DYNAMIC_PAMT supported (features0 bit 36) but not enabled by
 * TDH.SYS.CONFIG: the module's PAMT.ADD and PAMT.REMOVE refuse first thing
 * with TDX_OPERAND_INVALID|RAX (tdh_phymem_pamt_add.c, dynamic_pamt_enabled),
 * so a host that trusts the bit cannot create a TD: its first pair (the
 * TDR's range) is refused, and the failed create leaves nothing behind.
 */
static void test_dpamt_supported_not_configured(void **state)
{
	struct tdxsim_config cfg;
	struct tdx_module_args a;
	struct tdxsim *sim;
	u64 range, p0, p1, st, before;

	(void)state;
	for (int conf = 0; conf < 2; conf++) {
		tdxsim_config_init(&cfg);
		cfg.mem_size = 64ULL << 20;
		assert_true(cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT);
		cfg.dpamt_not_configured = !conf;
		sim = tdxsim_create(&cfg);
		assert_non_null(sim);
		range = tdxsim_page_alloc(sim, TDX_PS_2M);
		p0 = tdxsim_page_alloc(sim, TDX_PS_4K);
		p1 = tdxsim_page_alloc(sim, TDX_PS_4K);
		assert_true(range && p0 && p1);
		memset(&a, 0, sizeof(a));
		a.rcx = range | TDX_PS_2M;
		a.rdx = p0;
		a.r8 = p1;
		st = tdxsim_seamcall(sim, TDH_PHYMEM_PAMT_ADD, &a);
		assert_status(st, conf ? TDX_SUCCESS : TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
		memset(&a, 0, sizeof(a));
		a.rcx = range | TDX_PS_2M;
		st = tdxsim_seamcall(sim, TDH_PHYMEM_PAMT_REMOVE, &a);
		assert_status(st, conf ? TDX_SUCCESS : TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
		if (!conf) {
			before = tdxsim_pages_in_use(sim);
			assert_null(tdxsim_td_create(sim, &st));
			assert_status(st, TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
			assert_int_equal(tdxsim_pages_in_use(sim), before);
		}
		tdxsim_destroy(sim);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_mng_init_rcx_zero, fx_setup_initialized),
		T(test_pamt_add_operand_order, fx_setup_initialized),
		T(test_demote_pair_operand_order, fx_setup_runnable),
		T(test_demote_pair_inside_page, fx_setup_runnable),
		T(test_demote_pair_inside_page_retried, fx_setup_runnable),
		T(test_addcx_of_own_tdr_retried, fx_setup_initialized),
		T(test_aug_2m_tdr_range, fx_setup_runnable),
		T(test_aug_2m_tdr_range_static, fx_setup_runnable_nodpamt),
		T(test_aug_2m_tdr_range_retried, fx_setup_runnable),
		T(test_aug_2m_range_with_td_page, fx_setup_runnable),
		T(test_aug_2m_range_with_td_page_static, fx_setup_runnable_nodpamt),
		T(test_pa_above_platform_width, setup_narrow),
		cmocka_unit_test(test_config_default_all_private),
		cmocka_unit_test(test_dpamt_supported_not_configured),
		T(test_all_private_refuses_keyed_source, fx_setup_initialized),
		T(test_mktme_split, setup_mktme),
		T(test_mktme_td_params, setup_mktme),
	};

	return run_group(tests);
}
