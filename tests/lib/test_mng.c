// SPDX-License-Identifier: GPL-2.0-only
/*
 * TD management, vCPUs, the SEAMCALL dispatcher, host memory and bad input.
 * Check orders and statuses follow the TDX 1.5 module source as summarised in
 * research/mgmt.md (§N below) and spec seamcall.md (spec §N).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define SZ_4K		0x1000ULL
#define SZ_2M		0x200000ULL
#define TD_PARAMS_PA	0x1000ULL	/* any 1KB-aligned shared address */

static u64 sc(struct fixture *fx, u64 rax, u64 rcx, u64 rdx, struct tdx_module_args *a)
{
	*a = (struct tdx_module_args){ .rcx = rcx, .rdx = rdx };
	return tdxsim_seamcall(fx->sim, rax, a);
}

static u64 sc1(struct fixture *fx, u64 rax, u64 rcx)
{
	struct tdx_module_args a;

	return sc(fx, rax, rcx, 0, &a);
}

static struct tdxsim_pamt_info pamt_of(struct fixture *fx, u64 hpa)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	return pi;
}

static void assert_free_page(struct fixture *fx, u64 pa)
{
	struct tdxsim_pamt_info pi = pamt_of(fx, pa);

	assert_int_equal(pi.pt, PT_NDA);
	assert_int_equal(pi.owner, 0);
}

static u64 chldcnt(struct fixture *fx, struct tdxsim_td *td)
{
	return tdxsim_td_chldcnt(fx->sim, td);
}

static u8 sept_state(struct fixture *fx, u64 gpa, int level)
{
	struct tdxsim_sept_info si;

	tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, level, &si);
	return si.state;
}

/* A 4K page in a 2MB range without a Dynamic-PAMT pair (a whole free block). */
static u64 alloc_unpaired(struct fixture *fx)
{
	u64 pa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);

	assert_true(pa != 0);
	assert_false(pamt_of(fx, pa).dpamt_pair);
	return pa;
}

/*
 * A second TD built by hand: TDH.MNG.CREATE only (lifecycle HKID_ASSIGNED).
 * The handle is the library's, so tdxsim_td_teardown() can take it down.
 */
static struct tdxsim_td *td_new(struct fixture *fx, u16 hkid)
{
	struct tdxsim_td *td = calloc(1, sizeof(*td));
	struct tdx_module_args a;

	assert_non_null(td);
	td->sim = fx->sim;
	td->hkid = hkid;
	td->tdr_pa = fx_alloc_4k(fx);
	assert_status(sc(fx, TDH_MNG_CREATE, td->tdr_pa, hkid, &a), TDX_SUCCESS);
	assert_int_equal(pamt_of(fx, td->tdr_pa).pt, PT_TDR);
	return td;
}

static u64 addcx(struct fixture *fx, struct tdxsim_td *td, u64 *page)
{
	struct tdx_module_args a;
	u64 err;

	*page = fx_alloc_4k(fx);
	err = sc(fx, TDH_MNG_ADDCX, *page, td->tdr_pa, &a);
	if (!err)
		td->tdcx_pa[td->nr_tdcx++] = *page;
	return err;
}

static void addcx_ok(struct fixture *fx, struct tdxsim_td *td, unsigned int n)
{
	u64 page;

	for (unsigned int i = 0; i < n; i++) {
		assert_status(addcx(fx, td, &page), TDX_SUCCESS);
		assert_int_equal(pamt_of(fx, page).pt, PT_TDCX);
		assert_int_equal(pamt_of(fx, page).owner, td->tdr_pa);
	}
}

/* A page the call refused: still free, back to the host. */
static void give_back_refused(struct fixture *fx, u64 page)
{
	assert_free_page(fx, page);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);
}

static void td_done(struct tdxsim_td *td)
{
	assert_int_equal(tdxsim_td_teardown(td, 0), 0);
}

/* VPFLUSHDONE, CACHE.WB, KEY.FREEID: lifecycle TEARDOWN (§8). */
static void release_hkid(struct fixture *fx, struct tdxsim_td *td)
{
	assert_status(tdxsim_td_flush_vcpus(td), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, td->tdr_pa), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_PHYMEM_CACHE_WB, 0), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_KEY_FREEID, td->tdr_pa), TDX_SUCCESS);
}

/* ------------------------------------------------------------------------
 * TDH.MNG.CREATE (§1)
 */
static void test_create_bad_hkid(void **state)
{
	struct fixture *fx = *state;
	u64 tdr = fx_alloc_4k(fx), nr_hkids = 1ULL << fx->cfg.nr_hkid_bits;
	const u64 bad[] = { 0, nr_hkids, nr_hkids + 1, (1ULL << 16) | 2, 1ULL << 63 };
	struct tdx_module_args a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_status(sc(fx, TDH_MNG_CREATE, tdr, bad[i], &a),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
		assert_free_page(fx, tdr);
	}
	/* The HKID is checked before the TDR page: two bad operands -> RDX. */
	assert_status(sc(fx, TDH_MNG_CREATE, tdr + 8, 0, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_status(sc(fx, TDH_MNG_CREATE, fx->td->tdr_pa, nr_hkids, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_int_equal(pamt_of(fx, fx->td->tdr_pa).pt, PT_TDR);
	give_back_refused(fx, tdr);
}

static void test_create_bad_tdr(void **state)
{
	struct fixture *fx = *state;
	u16 hkid = fx->td->hkid + 1;
	u64 tdr = fx_alloc_4k(fx), mem_end = fx->cfg.mem_base + fx->cfg.mem_size, block;
	struct tdx_module_args a;
	struct tdxsim_td *td2;

	assert_status(sc(fx, TDH_MNG_CREATE, tdr + 0x800, hkid, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(sc(fx, TDH_MNG_CREATE, tdxsim_mk_keyed_paddr(fx->sim, hkid, tdr), hkid, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(sc(fx, TDH_MNG_CREATE, 1ULL << fx->cfg.max_pa_bits, hkid, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(sc(fx, TDH_MNG_CREATE, mem_end, hkid, &a),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	assert_status(sc(fx, TDH_MNG_CREATE, fx->cfg.mem_base - SZ_4K, hkid, &a),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	/* Page in use: another TD's TDR, a TDCX page. */
	assert_status(sc(fx, TDH_MNG_CREATE, fx->td->tdr_pa, hkid, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(sc(fx, TDH_MNG_CREATE, fx->td->tdcx_pa[2], hkid, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_int_equal(pamt_of(fx, fx->td->tdcx_pa[2]).pt, PT_TDCX);
	/* Dynamic PAMT: the TDR's 2MB range needs its pair (§4.3). */
	block = alloc_unpaired(fx);
	assert_status(sc(fx, TDH_MNG_CREATE, block, hkid, &a),
		      TDX_MISSING_PAMT_PAGE_PAIR | TDX_OPERAND_ID_RCX);
	assert_free_page(fx, block);
	assert_int_equal(tdxsim_page_free(fx->sim, block, TDX_PS_2M), 0);
	assert_free_page(fx, tdr);
	assert_int_equal(tdxsim_page_free(fx->sim, tdr, TDX_PS_4K), 0);

	/* None of the refusals took the HKID. */
	td2 = td_new(fx, hkid);
	assert_int_equal(chldcnt(fx, td2), 0);
	td_done(td2);
}

static void test_create_hkid_not_free(void **state)
{
	struct fixture *fx = *state;
	u16 hkid = fx->td->hkid;
	u64 tdr = fx_alloc_4k(fx);
	struct tdx_module_args a;
	struct tdxsim_td *td2;

	/* The operand-less status, exactly. */
	assert_status(sc(fx, TDH_MNG_CREATE, tdr, hkid, &a), 0xC000082000000000ULL);
	assert_status(sc(fx, TDH_MNG_CREATE, tdr, hkid, &a), TDX_HKID_NOT_FREE);
	assert_free_page(fx, tdr);
	assert_int_equal(tdxsim_page_free(fx->sim, tdr, TDX_PS_4K), 0);

	/* Still not free in BLOCKED (after VPFLUSHDONE + CACHE.WB); free after KEY.FREEID. */
	tdr = fx_alloc_4k(fx);
	/* TDH.VP.INIT associated the vCPU: it needs TDH.VP.FLUSH first. */
	assert_status(tdxsim_td_flush_vcpus(fx->td), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, fx->td->tdr_pa), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_PHYMEM_CACHE_WB, 0), TDX_SUCCESS);
	assert_status(sc(fx, TDH_MNG_CREATE, tdr, hkid, &a), TDX_HKID_NOT_FREE);
	assert_status(sc1(fx, TDH_MNG_KEY_FREEID, fx->td->tdr_pa), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, tdr, TDX_PS_4K), 0);
	td2 = td_new(fx, hkid);
	td_done(td2);
}

/* ------------------------------------------------------------------------
 * KEY.CONFIG, ADDCX, MNG.INIT (§2-§4)
 */
static void test_key_config_twice(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td *td2 = td_new(fx, fx->td->hkid + 1);

	assert_status(sc1(fx, TDH_MNG_KEY_CONFIG, fx->td->tdr_pa), TDX_LIFECYCLE_STATE_INCORRECT);
	assert_status(sc1(fx, TDH_MNG_KEY_CONFIG, td2->tdr_pa), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_KEY_CONFIG, td2->tdr_pa), TDX_LIFECYCLE_STATE_INCORRECT);
	/* RCX must be a TDR. */
	assert_status(sc1(fx, TDH_MNG_KEY_CONFIG, fx->td->tdcx_pa[0]),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	td_done(td2);
}

/* The build order, each step's gate (§2, §3, §4, §10). */
static void test_build_order(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td *td2 = td_new(fx, fx->td->hkid + 1);
	u64 tdr = td2->tdr_pa, page, e1, e2;
	struct tdx_module_args a;

	/* HKID_ASSIGNED: no TDCX, no INIT, no memory leaf. */
	assert_status(addcx(fx, td2, &page), TDX_TD_KEYS_NOT_CONFIGURED);
	give_back_refused(fx, page);
	assert_status(sc(fx, TDH_MNG_INIT, tdr, TD_PARAMS_PA, &a), TDX_TD_KEYS_NOT_CONFIGURED);
	assert_status(sc1(fx, TDH_MEM_TRACK, tdr), TDX_TD_KEYS_NOT_CONFIGURED);
	assert_status(tdxsim_tdh_mem_range_block(td2, GPA_2M(0), TDX_PS_2M, &e1, &e2),
		      TDX_TD_KEYS_NOT_CONFIGURED);
	assert_int_equal(chldcnt(fx, td2), 0);

	assert_status(sc1(fx, TDH_MNG_KEY_CONFIG, tdr), TDX_SUCCESS);
	/* KEYS_CONFIGURED, fewer than 6 TDCX pages: TDCS_NOT_ALLOCATED. */
	addcx_ok(fx, td2, fx->cfg.nr_tdcs_pages - 1);
	assert_int_equal(chldcnt(fx, td2), fx->cfg.nr_tdcs_pages - 1);
	assert_status(sc(fx, TDH_MNG_INIT, tdr, TD_PARAMS_PA, &a), TDX_TDCS_NOT_ALLOCATED);
	assert_status(sc1(fx, TDH_MEM_TRACK, tdr), TDX_TDCS_NOT_ALLOCATED);
	page = fx_alloc_4k(fx);
	assert_status(sc(fx, TDH_VP_CREATE, page, tdr, &a), TDX_TDCS_NOT_ALLOCATED);
	give_back_refused(fx, page);

	/* 6 pages, UNINITIALIZED: op_state gates the rest. */
	addcx_ok(fx, td2, 1);
	assert_status(sc1(fx, TDH_MEM_TRACK, tdr), TDX_OP_STATE_INCORRECT);
	page = fx_alloc_4k(fx);
	assert_status(sc(fx, TDH_VP_CREATE, page, tdr, &a), TDX_OP_STATE_INCORRECT);
	give_back_refused(fx, page);
	assert_status(sc1(fx, TDH_MR_FINALIZE, tdr), TDX_OP_STATE_INCORRECT);

	/* TD_PARAMS must be 1KB aligned and shared; a failed INIT can be retried. */
	assert_status(sc(fx, TDH_MNG_INIT, tdr, TD_PARAMS_PA + 0x200, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_status(sc(fx, TDH_MNG_INIT, tdr,
			 tdxsim_mk_keyed_paddr(fx->sim, td2->hkid, TD_PARAMS_PA), &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_int_equal(tdxsim_td_epoch(fx->sim, td2), 0);
	assert_status(sc(fx, TDH_MNG_INIT, tdr, TD_PARAMS_PA, &a), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_epoch(fx->sim, td2), 1);
	assert_status(sc(fx, TDH_MNG_INIT, tdr, TD_PARAMS_PA, &a), TDX_OP_STATE_INCORRECT);
	assert_int_equal(tdxsim_td_epoch(fx->sim, td2), 1);
	/* TDCX pages beyond the base size only before INIT (§3 step 5). */
	assert_status(addcx(fx, td2, &page), TDX_OP_STATE_INCORRECT);
	give_back_refused(fx, page);
	assert_int_equal(chldcnt(fx, td2), fx->cfg.nr_tdcs_pages);
	/* INITIALIZED: TRACK works (epoch 1 -> 2). */
	assert_status(sc1(fx, TDH_MEM_TRACK, tdr), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_epoch(fx->sim, td2), 2);
	td_done(td2);
}

static void test_addcx_max(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td *td2 = td_new(fx, fx->td->hkid + 1);
	struct tdx_module_args a;
	u64 page;

	assert_status(sc1(fx, TDH_MNG_KEY_CONFIG, td2->tdr_pa), TDX_SUCCESS);
	/* Up to MAX_NUM_TDCS_PAGES before INIT (L2 roots), then TDCX_NUM_INCORRECT. */
	addcx_ok(fx, td2, TDXSIM_MAX_TDCS_PAGES);
	assert_int_equal(chldcnt(fx, td2), TDXSIM_MAX_TDCS_PAGES);
	assert_status(addcx(fx, td2, &page), TDX_TDCX_NUM_INCORRECT);
	give_back_refused(fx, page);
	assert_int_equal(chldcnt(fx, td2), TDXSIM_MAX_TDCS_PAGES);
	/* The checked TDR comes first: a bad TDR beats the count. */
	page = fx_alloc_4k(fx);
	assert_status(sc(fx, TDH_MNG_ADDCX, page, td2->tdr_pa + 8, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	give_back_refused(fx, page);
	assert_status(sc(fx, TDH_MNG_INIT, td2->tdr_pa, TD_PARAMS_PA, &a), TDX_SUCCESS);
	td_done(td2);
}

/* ------------------------------------------------------------------------
 * MR.FINALIZE and op_state gating (§5, spec §2.1.1)
 */
static void test_finalize(void **state)
{
	struct fixture *fx = *state;
	u64 st;

	/* Needs a vCPU; a refusal leaves the TD INITIALIZED. */
	assert_status(tdxsim_td_finalize(fx->td), TDX_NO_VCPUS);
	fx->vcpu = tdxsim_vcpu_create(fx->td, &st);
	assert_non_null(fx->vcpu);
	assert_status(st, TDX_SUCCESS);
	assert_status(tdxsim_td_finalize(fx->td), TDX_SUCCESS);
	assert_status(tdxsim_td_finalize(fx->td), TDX_OP_STATE_INCORRECT);
	/* RUNNABLE: VP.ENTER allowed now. */
	fx_enter(fx);
}

static u64 page_add(struct fixture *fx, u64 gpa, u64 page)
{
	struct tdx_module_args a = { .rcx = gpa, .rdx = fx->td->tdr_pa, .r8 = page,
				     .r9 = TD_PARAMS_PA };

	return tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_ADD, &a);
}

/* AUG is allowed in INITIALIZED and RUNNABLE, PAGE.ADD only in INITIALIZED. */
static void test_op_state_aug_vs_add(void **state)
{
	struct fixture *fx = *state;
	u64 g0 = GPA_2M(0), g1 = GPA_2M(1), hpa, page, c0, st;

	hpa = fx_aug(fx, g0, TDX_PS_2M);
	assert_int_equal(sept_state(fx, g0, TDX_PS_2M), SEPT_PUBLIC_PENDING);
	fx_map_sept(fx, g1, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	assert_status(page_add(fx, g1, page), TDX_SUCCESS);
	assert_int_equal(sept_state(fx, g1, TDX_PS_4K), SEPT_PUBLIC_MAPPED);

	fx->vcpu = tdxsim_vcpu_create(fx->td, &st);
	assert_non_null(fx->vcpu);
	assert_status(tdxsim_td_finalize(fx->td), TDX_SUCCESS);
	c0 = chldcnt(fx, fx->td);
	page = fx_alloc_4k(fx);
	assert_status(page_add(fx, g1 + SZ_4K, page), TDX_OP_STATE_INCORRECT);
	assert_int_equal(sept_state(fx, g1 + SZ_4K, TDX_PS_4K), SEPT_PUBLIC_FREE);
	assert_int_equal(chldcnt(fx, fx->td), c0);
	give_back_refused(fx, page);
	fx_aug(fx, g1 + SZ_4K, TDX_PS_4K);
	assert_int_equal(sept_state(fx, g1 + SZ_4K, TDX_PS_4K), SEPT_PUBLIC_PENDING);
	assert_int_equal(chldcnt(fx, fx->td), c0 + 1);
	(void)hpa;
}

/* ------------------------------------------------------------------------
 * vCPUs (§6, §7)
 */
static void test_vp_create_after_finalize(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), c0 = chldcnt(fx, fx->td), st;
	struct tdx_module_args a;

	assert_status(sc(fx, TDH_VP_CREATE, page, fx->td->tdr_pa, &a), TDX_OP_STATE_INCORRECT);
	assert_int_equal(chldcnt(fx, fx->td), c0);
	give_back_refused(fx, page);
	assert_null(tdxsim_vcpu_create(fx->td, &st));
	assert_status(st, TDX_OP_STATE_INCORRECT);
	assert_int_equal(chldcnt(fx, fx->td), c0);
}

static void test_vp_enter_before_finalize(void **state)
{
	struct fixture *fx = *state;
	u64 c0, st;

	fx->vcpu = tdxsim_vcpu_create(fx->td, &st);
	assert_non_null(fx->vcpu);
	c0 = chldcnt(fx, fx->td);
	assert_int_equal(pamt_of(fx, tdxsim_vcpu_tdvpr_pa(fx->vcpu)).pt, PT_TDVPR);
	assert_status(tdxsim_vcpu_enter(fx->vcpu), TDX_OP_STATE_INCORRECT);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	/* No epoch taken: TRACK twice goes through. */
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_int_equal(chldcnt(fx, fx->td), c0);
}

static void test_vp_enter_bad_rcx(void **state)
{
	struct fixture *fx = *state;
	u64 tdvpr = tdxsim_vcpu_tdvpr_pa(fx->vcpu), block, mem_end;
	const u64 rsvd[] = { 1, 0x800, 1ULL << 54, 1ULL << 63 };
	struct tdx_module_args a;

	mem_end = fx->cfg.mem_base + fx->cfg.mem_size;
	for (size_t i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++) {
		assert_status(sc1(fx, TDH_VP_ENTER, tdvpr | rsvd[i]),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
		assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	}
	assert_status(sc1(fx, TDH_VP_ENTER, tdxsim_mk_keyed_paddr(fx->sim, fx->td->hkid, tdvpr)),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(sc1(fx, TDH_VP_ENTER, mem_end), TDX_OPERAND_ADDR_RANGE_ERROR |
						     TDX_OPERAND_ID_RCX);
	/* Not a TDVPR: the TDR, a TDCX page, a free page, a page without PAMT pair. */
	assert_status(sc1(fx, TDH_VP_ENTER, fx->td->tdr_pa),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(sc1(fx, TDH_VP_ENTER, fx->td->tdcx_pa[1]),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(sc(fx, TDH_VP_ENTER, tdvpr + SZ_4K, 0, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	block = alloc_unpaired(fx);
	assert_status(sc1(fx, TDH_VP_ENTER, block), TDX_PAGE_METADATA_INCORRECT |
						  TDX_OPERAND_ID_RCX);
	assert_int_equal(tdxsim_page_free(fx->sim, block, TDX_PS_2M), 0);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	fx_enter(fx);
}

static void test_vp_enter_twice(void **state)
{
	struct fixture *fx = *state;
	u64 e0 = tdxsim_td_epoch(fx->sim, fx->td);

	fx_enter(fx);
	assert_status(tdxsim_vcpu_enter(fx->vcpu), TDX_VCPU_STATE_INCORRECT);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	/* Counted once: one exit drains the epoch (TRACK twice). */
	tdxsim_vcpu_exit(fx->vcpu);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), e0 + 2);
	/* Exit when not in guest is a no-op. */
	tdxsim_vcpu_exit(fx->vcpu);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
}

/* §7 step 9, spec §2.6: ENTER puts the vCPU in refcount[epoch & 1]. */
static void test_vp_enter_samples_epoch(void **state)
{
	struct fixture *fx = *state;
	u64 e0 = tdxsim_td_epoch(fx->sim, fx->td);

	assert_int_equal(e0, 1);
	fx_enter(fx);			/* in epoch e0 */
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), e0 + 1);
	/* e0 is now the previous epoch and still has the vCPU. */
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), e0 + 1);
	tdxsim_vcpu_exit(fx->vcpu);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), e0 + 2);
	/* Re-entry samples the new epoch: one TRACK passes, the next waits. */
	fx_enter(fx);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), e0 + 3);
}

/* ------------------------------------------------------------------------
 * Teardown: VPFLUSHDONE, CACHE.WB, KEY.FREEID (§8)
 */
static void test_vpflushdone_vcpu_in_guest(void **state)
{
	struct fixture *fx = *state;
	u64 tdr = fx->td->tdr_pa;

	fx_enter(fx);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, tdr), TDX_FLUSHVP_NOT_DONE);
	/* Still KEYS_CONFIGURED: memory leaves work. */
	tdxsim_vcpu_exit(fx->vcpu);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	/* Out of the guest but still associated until TDH.VP.FLUSH. */
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, tdr), TDX_FLUSHVP_NOT_DONE);
	assert_status(sc1(fx, TDH_VP_FLUSH, tdxsim_vcpu_tdvpr_pa(fx->vcpu)), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_VP_FLUSH, tdxsim_vcpu_tdvpr_pa(fx->vcpu)),
		      TDX_VCPU_NOT_ASSOCIATED);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, tdr), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, tdr), TDX_LIFECYCLE_STATE_INCORRECT);
	/* BLOCKED: no entry, no flush, no memory leaf. */
	assert_status(sc1(fx, TDH_VP_FLUSH, tdxsim_vcpu_tdvpr_pa(fx->vcpu)),
		      TDX_TD_KEYS_NOT_CONFIGURED);
	assert_status(tdxsim_vcpu_enter(fx->vcpu), TDX_TD_KEYS_NOT_CONFIGURED);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_TD_KEYS_NOT_CONFIGURED);
}

static void test_freeid_order(void **state)
{
	struct fixture *fx = *state;
	u64 tdr = fx->td->tdr_pa;

	assert_status(sc1(fx, TDH_MNG_KEY_FREEID, tdr), TDX_LIFECYCLE_STATE_INCORRECT);
	/* Nothing flushed yet: a warning, bit 63 clear. */
	assert_status(sc1(fx, TDH_PHYMEM_CACHE_WB, 0), 0x0000082100000000ULL);
	assert_status(sc1(fx, TDH_PHYMEM_CACHE_WB, 0), TDX_NO_HKID_READY_TO_WBCACHE);
	assert_status(tdxsim_td_flush_vcpus(fx->td), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, tdr), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_KEY_FREEID, tdr), TDX_WBCACHE_NOT_COMPLETE);
	assert_status(sc1(fx, TDH_PHYMEM_CACHE_WB, 2), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(sc1(fx, TDH_MNG_KEY_FREEID, tdr), TDX_WBCACHE_NOT_COMPLETE);
	assert_status(sc1(fx, TDH_PHYMEM_CACHE_WB, 0), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_PHYMEM_CACHE_WB, 0), TDX_NO_HKID_READY_TO_WBCACHE);
	assert_status(sc1(fx, TDH_MNG_KEY_FREEID, tdr), TDX_SUCCESS);
	/* TEARDOWN: the lifecycle leaves all refuse. */
	assert_status(sc1(fx, TDH_MNG_KEY_FREEID, tdr), TDX_LIFECYCLE_STATE_INCORRECT);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, tdr), TDX_LIFECYCLE_STATE_INCORRECT);
	assert_status(sc1(fx, TDH_MNG_KEY_CONFIG, tdr), TDX_LIFECYCLE_STATE_INCORRECT);
}

/* §10: after KEY.FREEID every TD leaf fails on the TD state, whatever the operands. */
static void test_leaves_after_freeid(void **state)
{
	struct fixture *fx = *state;
	u64 g = GPA_2M(0), tdr = fx->td->tdr_pa, hpa, page, c0;
	struct tdx_module_args a;

	hpa = fx_aug(fx, g, TDX_PS_2M);
	page = fx_alloc_4k(fx);
	release_hkid(fx, fx->td);
	c0 = chldcnt(fx, fx->td);
	{
		const struct {
			u64 leaf, rcx, rdx, r8;
		} calls[] = {
			{ TDH_MEM_SEPT_ADD, g | TDX_PS_1G, tdr, page },
			{ TDH_MEM_PAGE_ADD, (g + SZ_2M) | TDX_PS_4K, tdr, page },
			{ TDH_MEM_PAGE_AUG, (g + SZ_2M) | TDX_PS_4K, tdr, page },
			{ TDH_MEM_RANGE_BLOCK, g | TDX_PS_2M, tdr, 0 },
			{ TDH_MEM_RANGE_UNBLOCK, g | TDX_PS_2M, tdr, 0 },
			{ TDH_MEM_PAGE_DEMOTE, g | TDX_PS_2M, tdr, page },
			{ TDH_MEM_PAGE_PROMOTE, g | TDX_PS_2M, tdr, 0 },
			{ TDH_MEM_PAGE_REMOVE, g | TDX_PS_2M, tdr, 0 },
			{ TDH_MEM_SEPT_REMOVE, g | TDX_PS_2M, tdr, 0 },
			{ TDH_MEM_TRACK, tdr, 0, 0 },
			{ TDH_MNG_ADDCX, page, tdr, 0 },
			{ TDH_MNG_INIT, tdr, TD_PARAMS_PA, 0 },
			{ TDH_MR_FINALIZE, tdr, 0, 0 },
			{ TDH_VP_CREATE, page, tdr, 0 },
			{ TDH_VP_ENTER, tdxsim_vcpu_tdvpr_pa(fx->vcpu), 0, 0 },
		};

		for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
			a = (struct tdx_module_args){ .rcx = calls[i].rcx, .rdx = calls[i].rdx,
						      .r8 = calls[i].r8, .r9 = TD_PARAMS_PA };
			assert_status(tdxsim_seamcall(fx->sim, calls[i].leaf, &a),
				      TDX_TD_KEYS_NOT_CONFIGURED);
		}
	}
	assert_int_equal(sept_state(fx, g, TDX_PS_2M), SEPT_PUBLIC_PENDING);
	assert_int_equal(pamt_of(fx, hpa).pt, PT_REG);
	assert_int_equal(chldcnt(fx, fx->td), c0);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	give_back_refused(fx, page);
}

/* ------------------------------------------------------------------------
 * The dispatcher (§0)
 */
static void test_dispatcher_bad_rax(void **state)
{
	struct fixture *fx = *state;
	u64 g = GPA_2M(0), hpa, e0 = tdxsim_td_epoch(fx->sim, fx->td);
	const u64 bad[] = {
		99, 12, 0xFFFF, TDX_NR_LEAVES,
		TDH_MEM_TRACK | (1ULL << 24), TDH_MEM_TRACK | (1ULL << 63),
		TDH_MEM_TRACK | (1ULL << TDX_VERSION_SHIFT),
	};
	struct tdx_module_args a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_status(sc(fx, bad[i], fx->td->tdr_pa, 0, &a),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
		/* Refused before any leaf: the registers are untouched. */
		assert_int_equal(a.rcx, fx->td->tdr_pa);
	}
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), e0);

	/* A correct AUG, but version 1: nothing happens. */
	fx_map_sept(fx, g, TDX_PS_2M);
	hpa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(hpa != 0);
	a = (struct tdx_module_args){ .rcx = g | TDX_PS_2M, .rdx = fx->td->tdr_pa, .r8 = hpa };
	assert_status(tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_AUG | (1ULL << TDX_VERSION_SHIFT), &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
	assert_int_equal(sept_state(fx, g, TDX_PS_2M), SEPT_PUBLIC_FREE);
	assert_int_equal(pamt_of(fx, hpa).pt, PT_NDA);
	a = (struct tdx_module_args){ .rcx = g | TDX_PS_2M, .rdx = fx->td->tdr_pa, .r8 = hpa };
	assert_status(tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_AUG, &a), TDX_SUCCESS);
	assert_int_equal(sept_state(fx, g, TDX_PS_2M), SEPT_PUBLIC_PENDING);

	/* TDCALL: only ACCEPT, version 0. */
	fx_enter(fx);
	a = (struct tdx_module_args){ .rcx = g | TDX_PS_2M };
	assert_status(tdxsim_tdcall(fx->sim, fx->vcpu->tdvpr_pa, 7, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
	assert_status(tdxsim_tdcall(fx->sim, fx->vcpu->tdvpr_pa,
				    TDG_MEM_PAGE_ACCEPT | (1ULL << TDX_VERSION_SHIFT), &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
	assert_int_equal(sept_state(fx, g, TDX_PS_2M), SEPT_PUBLIC_PENDING);
}

static bool stats_has(const struct tdxsim_leaf_stats *st, u64 status, u64 count)
{
	for (unsigned int i = 0; i < st->nr_statuses; i++) {
		if (st->statuses[i].status == status)
			return st->statuses[i].count == count;
	}
	return count == 0;
}

static void test_stats(void **state)
{
	struct fixture *fx = *state;
	u64 busy = TDX_PREVIOUS_TLB_EPOCH_BUSY, rax_bad = TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX;
	struct tdxsim_leaf_stats before, after, st;
	struct tdx_module_args a;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(tdxsim_stats_leaf(fx->sim, TDH_MEM_TRACK, &before), 0);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_TRACK, busy), 0);
	fx_enter(fx);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_track(fx->td), busy);
	assert_status(tdxsim_tdh_mem_track(fx->td), busy);
	assert_int_equal(tdxsim_stats_leaf(fx->sim, TDH_MEM_TRACK, &after), 0);
	assert_int_equal(after.calls, before.calls + 3);
	assert_int_equal(after.success, before.success + 1);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_TRACK, busy), 2);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_TRACK, TDX_SUCCESS), after.success);
	assert_true(stats_has(&after, busy, 2));

	/* An unimplemented leaf below TDX_NR_LEAVES is counted under its number. */
	assert_int_equal(tdxsim_stats_leaf(fx->sim, 12, &st), 0);
	assert_int_equal(st.calls, 0);
	assert_status(sc(fx, 12, 0, 0, &a), rax_bad);
	assert_int_equal(tdxsim_stats_leaf(fx->sim, 12, &st), 0);
	assert_int_equal(st.calls, 1);
	assert_int_equal(st.success, 0);
	assert_int_equal(st.nr_statuses, 1);
	assert_true(stats_has(&st, rax_bad, 1));
	/* The full status is the key: INVALID|RAX (operand id 0) is not INVALID|RCX. */
	assert_status(sc(fx, TDH_MEM_PAGE_AUG | (1ULL << TDX_VERSION_SHIFT), 0, 0, &a), rax_bad);
	assert_status(sc(fx, TDH_MEM_PAGE_AUG, 0x7, fx->td->tdr_pa, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_AUG, rax_bad), 1);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_AUG,
					    TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX), 1);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_AUG,
					    TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8), 0);
	assert_int_equal(tdxsim_stats_leaf(fx->sim, TDX_NR_LEAVES, &st), -EINVAL);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDX_NR_LEAVES, rax_bad), 0);

	/* TDCALLs have their own table. */
	assert_int_equal(tdxsim_stats_tdcall(fx->sim, TDG_MEM_PAGE_ACCEPT, &st), 0);
	assert_int_equal(st.calls, 0);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, GPA_2M(0) | (1ULL << 47), TDX_PS_4K),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_int_equal(tdxsim_stats_tdcall(fx->sim, TDG_MEM_PAGE_ACCEPT, &st), 0);
	assert_int_equal(st.calls, 1);
	assert_true(stats_has(&st, TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX, 1));

	assert_string_equal(tdxsim_leaf_name(TDH_MEM_PAGE_AUG), "TDH.MEM.PAGE.AUG");
	assert_string_equal(tdxsim_leaf_name(TDH_PHYMEM_PAMT_REMOVE), "TDH.PHYMEM.PAMT.REMOVE");
	assert_null(tdxsim_leaf_name(12));
	assert_null(tdxsim_leaf_name(99));

	f = open_memstream(&text, &len);
	assert_non_null(f);
	tdxsim_stats_print(fx->sim, f);
	fclose(f);
	assert_non_null(strstr(text, "TDH.MEM.TRACK"));
	assert_non_null(strstr(text, "TDX_PREVIOUS_TLB_EPOCH_BUSY=2"));
	free(text);
}

static void assert_name(u64 status, const char *expect)
{
	char buf[64];

	assert_string_equal(tdxsim_status_name(status, buf, sizeof(buf)), expect);
}

static void test_status_name(void **state)
{
	char small[8];

	(void)state;
	assert_name(TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT, "TDX_OPERAND_BUSY|SEPT");
	assert_name(0x80000200000000A9ULL, "TDX_OPERAND_BUSY|TD_EPOCH");
	assert_name(TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX, "TDX_OPERAND_INVALID");
	assert_name(TDX_OPERAND_INVALID | TDX_OPERAND_ID_R12, "TDX_OPERAND_INVALID|R12");
	assert_name(TDX_MISSING_PAMT_PAGE_PAIR | TDX_OPERAND_ID_R8,
		    "TDX_MISSING_PAMT_PAGE_PAIR|R8");
	assert_name(TDX_SUCCESS, "TDX_SUCCESS");
	assert_name(TDX_HKID_NOT_FREE, "TDX_HKID_NOT_FREE");
	assert_name(TDX_NO_HKID_READY_TO_WBCACHE, "TDX_NO_HKID_READY_TO_WBCACHE");
	/* Levels and indices print as numbers, unknown operands in hex. */
	assert_name(TDX_PAGE_SIZE_MISMATCH | 1, "TDX_PAGE_SIZE_MISMATCH|0x1");
	assert_name(TDX_PAMT_PAGE_NOT_EMPTY | 1, "TDX_PAMT_PAGE_NOT_EMPTY|0x1");
	assert_name(TDX_OPERAND_INVALID | 0x46, "TDX_OPERAND_INVALID|0x46");
	assert_name(TDX_OPERAND_INVALID | TDX_OPERAND_ID_CPUID_CONFIG,
		    "TDX_OPERAND_INVALID|CPUID_CONFIG");
	assert_name(0xC0000FFF00000000ULL, "0xc0000fff00000000");
	assert_string_equal(tdxsim_status_name(TDX_OPERAND_BUSY, small, sizeof(small)),
			    "TDX_OPE");
	assert_string_equal(tdxsim_status_base_name(TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX),
			    "TDX_OPERAND_BUSY");
	assert_null(tdxsim_status_base_name(0xC0000FFF00000001ULL));
}

/* ------------------------------------------------------------------------
 * Bad input
 */
static void test_bad_addresses(void **state)
{
	struct fixture *fx = *state;
	u64 g = GPA_2M(0), tdr = fx->td->tdr_pa, end, page, c0, pair[2];
	u64 keyed_tdr = tdxsim_mk_keyed_paddr(fx->sim, fx->td->hkid, tdr);
	struct tdx_module_args a;

	end = fx->cfg.mem_base + fx->cfg.mem_size;
	fx_map_sept(fx, g, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	c0 = chldcnt(fx, fx->td);
	{
		const struct {
			u64 leaf, rcx, rdx, r8, status;
		} calls[] = {
			/* AUG page (R8): outside, below, keyed, above MAX_PA. */
			{ TDH_MEM_PAGE_AUG, g, tdr, end, TDX_OPERAND_ADDR_RANGE_ERROR | 8 },
			{ TDH_MEM_PAGE_AUG, g, tdr, 0x1000, TDX_OPERAND_ADDR_RANGE_ERROR | 8 },
			{ TDH_MEM_PAGE_AUG, g, tdr, tdxsim_mk_keyed_paddr(fx->sim, 1, page),
			  TDX_OPERAND_INVALID | 8 },
			{ TDH_MEM_PAGE_AUG, g, tdr, 1ULL << 52, TDX_OPERAND_INVALID | 8 },
			{ TDH_MEM_SEPT_ADD, (g + SZ_2M) | TDX_PS_2M, tdr, end,
			  TDX_OPERAND_ADDR_RANGE_ERROR | 8 },
			/* The TDR operand (RDX): outside, keyed, unaligned. */
			{ TDH_MEM_PAGE_AUG, g, end, page, TDX_OPERAND_ADDR_RANGE_ERROR | 2 },
			{ TDH_MEM_PAGE_AUG, g, keyed_tdr, page, TDX_OPERAND_INVALID | 2 },
			{ TDH_MEM_PAGE_AUG, g, tdr + 64, page, TDX_OPERAND_INVALID | 2 },
			{ TDH_MEM_RANGE_BLOCK, g, 0, 0, TDX_OPERAND_ADDR_RANGE_ERROR | 2 },
			/* TRACK and the physical-page leaves take it in RCX. */
			{ TDH_MEM_TRACK, keyed_tdr, 0, 0, TDX_OPERAND_INVALID | 1 },
			{ TDH_MEM_TRACK, end, 0, 0, TDX_OPERAND_ADDR_RANGE_ERROR | 1 },
			{ TDH_PHYMEM_PAGE_RECLAIM, end, 0, 0, TDX_OPERAND_ADDR_RANGE_ERROR | 1 },
			{ TDH_PHYMEM_PAGE_RECLAIM, page + 2, 0, 0, TDX_OPERAND_INVALID | 1 },
			{ TDH_PHYMEM_PAGE_WBINVD, end, 0, 0, TDX_OPERAND_ADDR_RANGE_ERROR | 1 },
			{ TDH_PHYMEM_PAMT_ADD, end | TDX_PS_2M, page, page + SZ_4K,
			  TDX_OPERAND_ADDR_RANGE_ERROR | 1 },
		};

		for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
			a = (struct tdx_module_args){ .rcx = calls[i].rcx, .rdx = calls[i].rdx,
						      .r8 = calls[i].r8 };
			assert_status(tdxsim_seamcall(fx->sim, calls[i].leaf, &a),
				      calls[i].status);
		}
	}
	/* RECLAIM's outputs stay 0 when it refuses the address. */
	assert_status(sc(fx, TDH_PHYMEM_PAGE_RECLAIM, end, 0, &a),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx | a.rdx | a.r8, 0);
	/* PAMT.ADD: each pair page checked with its register. */
	pair[0] = end;
	pair[1] = page;
	assert_status(tdxsim_tdh_phymem_pamt_add(fx->sim, end - SZ_2M, pair),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RDX);
	assert_int_equal(sept_state(fx, g, TDX_PS_4K), SEPT_PUBLIC_FREE);
	assert_int_equal(chldcnt(fx, fx->td), c0);
	give_back_refused(fx, page);
}

/* Pages of another TD are not free; another TD's TDR is not a page to give. */
static void test_other_td_pages(void **state)
{
	struct fixture *fx = *state;
	struct fixture fx2 = *fx;
	struct tdxsim_td *td2;
	u64 g = GPA_2M(0), hpa2, c0, c2, e1, e2, st;
	struct tdx_module_args a;

	td2 = tdxsim_td_create(fx->sim, &st);
	assert_non_null(td2);
	assert_int_not_equal(td2->hkid, fx->td->hkid);
	fx2.td = td2;
	hpa2 = fx_aug(&fx2, g, TDX_PS_2M);	/* INITIALIZED TD: AUG allowed */
	fx_map_sept(fx, g, TDX_PS_4K);
	fx_map_sept(fx, g + SZ_2M, TDX_PS_2M);
	c0 = chldcnt(fx, fx->td);
	c2 = chldcnt(fx, td2);

	/* TD2's 2MB guest page at a free 2MB entry of TD1. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g + SZ_2M, TDX_PS_2M, hpa2 >> 12, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	assert_int_equal(sept_state(fx, g + SZ_2M, TDX_PS_2M), SEPT_PUBLIC_FREE);
	assert_int_equal(pamt_of(fx, hpa2).pt, PT_REG);
	assert_int_equal(pamt_of(fx, hpa2).owner, td2->tdr_pa);
	/* TD2's control pages as TD1's pages. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g, TDX_PS_4K, td2->tdcx_pa[0] >> 12, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g, TDX_PS_4K, td2->tdr_pa >> 12, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	assert_status(tdxsim_tdh_mem_sept_add(fx->td, g + SZ_2M * 2, TDX_PS_2M, td2->tdr_pa, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	assert_status(sc(fx, TDH_MNG_CREATE, td2->tdr_pa, td2->hkid + 1, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(sc(fx, TDH_MNG_ADDCX, td2->tdr_pa, fx->td->tdr_pa, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	/* A TDCX page where a TDR is expected. */
	a = (struct tdx_module_args){ .rcx = g, .rdx = fx->td->tdcx_pa[0], .r8 = hpa2 };
	assert_status(tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_AUG, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RDX);
	assert_int_equal(sept_state(fx, g, TDX_PS_4K), SEPT_PUBLIC_FREE);
	assert_int_equal(chldcnt(fx, fx->td), c0);
	assert_int_equal(chldcnt(fx, td2), c2);
	td_done(td2);
}

/* The private GPA rule (spec §2.1 step 7): shared bit (GPAW-1) and bits above GPAW clear. */
static void test_gpa_shared_bit(void **state)
{
	struct fixture *fx = *state;
	u64 g = GPA_2M(0), shared = 1ULL << (fx->cfg.gpaw - 1), above = 1ULL << fx->cfg.gpaw;
	u64 page, hpa, c0, e1, e2;

	assert_int_equal(fx->cfg.gpaw, 48);
	fx_map_sept(fx, g, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	c0 = chldcnt(fx, fx->td);
	for (int i = 0; i < 2; i++) {
		u64 bad = g | (i ? above : shared);

		assert_status(tdxsim_tdh_mem_page_aug(fx->td, bad, TDX_PS_4K, page >> 12, &e1, &e2),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
		assert_status(tdxsim_tdh_mem_sept_add(fx->td, bad, TDX_PS_2M, page, &e1, &e2),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
		assert_status(tdxsim_tdh_mem_range_block(fx->td, bad, TDX_PS_4K, &e1, &e2),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
		assert_status(tdxsim_tdh_mem_page_remove(fx->td, bad, TDX_PS_4K, &e1, &e2),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	}
	/* Reserved page_info bits and a misaligned 2MB GPA: the same operand. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g | 0x8, TDX_PS_4K, page >> 12, &e1, &e2),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, g + SZ_4K, TDX_PS_2M, &e1, &e2),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_int_equal(chldcnt(fx, fx->td), c0);
	assert_free_page(fx, page);
	assert_int_equal(sept_state(fx, g, TDX_PS_4K), SEPT_PUBLIC_FREE);
	/* The guest side applies the same rule. */
	hpa = fx_aug(fx, g + SZ_2M, TDX_PS_2M);
	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, (g + SZ_2M) | shared, TDX_PS_2M),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_int_equal(sept_state(fx, g + SZ_2M, TDX_PS_2M), SEPT_PUBLIC_PENDING);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, g + SZ_2M, TDX_PS_2M), TDX_SUCCESS);
	give_back_refused(fx, page);
	(void)hpa;
}

/* ------------------------------------------------------------------------
 * Host memory
 */
static void test_host_misuse(void **state)
{
	struct fixture *fx = *state;
	u64 end = fx->cfg.mem_base + fx->cfg.mem_size, tdr = fx->td->tdr_pa, page, pair0;
	u64 expect[8], n = 0, in_use;
	struct tdxsim_report rep;

	fx->expect_violations = true;	/* every refused free is recorded on purpose */
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	page = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_true(page != 0);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);
	in_use = tdxsim_pages_in_use(fx->sim);

	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), -EINVAL);
	expect[n++] = page;
	assert_int_equal(tdxsim_page_free(fx->sim, tdr, TDX_PS_4K), -EBUSY);
	expect[n++] = tdr;
	pair0 = pamt_of(fx, tdr).dpamt_pages[0];
	assert_int_equal(tdxsim_page_free(fx->sim, pair0, TDX_PS_4K), -EBUSY);
	expect[n++] = pair0;
	assert_int_equal(tdxsim_page_free(fx->sim, tdr + 8, TDX_PS_4K), -EINVAL);
	expect[n++] = tdr + 8;
	assert_int_equal(tdxsim_page_free(fx->sim, end, TDX_PS_4K), -EINVAL);
	expect[n++] = end;
	assert_int_equal(tdxsim_page_free(fx->sim, 0, TDX_PS_4K), -EINVAL);
	expect[n++] = 0;
	/* A 2MB free of a range that is not 2MB aligned. */
	assert_int_equal(tdxsim_page_free(fx->sim, fx->cfg.mem_base + SZ_4K, TDX_PS_2M), -EINVAL);
	expect[n++] = fx->cfg.mem_base + SZ_4K;

	/* Nothing changed hands. */
	assert_int_equal(tdxsim_pages_in_use(fx->sim), in_use);
	assert_int_equal(pamt_of(fx, tdr).pt, PT_TDR);
	assert_true(pamt_of(fx, tdr).allocated);
	assert_true(pamt_of(fx, pair0).pamt_page);
	assert_false(pamt_of(fx, page).allocated);

	assert_int_equal(tdxsim_check(fx->sim, &rep), (int)n);
	assert_int_equal(rep.nr, n);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(rep.v[i].what, TDXSIM_INV_HOST_MISUSE);
		assert_int_equal(rep.v[i].hpa, expect[i]);
	}
	assert_string_equal(tdxsim_invariant_name(TDXSIM_INV_HOST_MISUSE), "host-misuse");
}

/* -EIO: a removed page is dirty with the TD's key until WBINVD. */
static void test_host_free_dirty(void **state)
{
	struct fixture *fx = *state;
	u64 g = GPA_2M(0), hpa, e1, e2;
	struct tdxsim_report rep;

	fx->expect_violations = true;	/* the refused free is recorded */
	hpa = fx_aug(fx, g, TDX_PS_4K);
	fx_block_track(fx, g, TDX_PS_4K);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, g, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_4K), -EIO);
	assert_true(pamt_of(fx, hpa).allocated);
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, hpa), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_check(fx->sim, &rep), 1);
	assert_int_equal(rep.v[0].what, TDXSIM_INV_HOST_MISUSE);
	assert_int_equal(rep.v[0].hpa, hpa);
}

#define SMALL_MEM	(8ULL << 20)

static void cfg_small(struct tdxsim_config *cfg)
{
	cfg->mem_size = SMALL_MEM;
}

static int setup_small(void **state)
{
	return fx_setup_with(state, cfg_small, true);
}

static void test_enomem(void **state)
{
	struct fixture *fx = *state;
	u64 total = SMALL_MEM / SZ_4K, base = tdxsim_pages_in_use(fx->sim), pa, st;
	u64 *big = calloc(SMALL_MEM / SZ_2M, sizeof(u64)), *small = calloc(total, sizeof(u64));
	unsigned int nbig = 0, nsmall = 0;

	assert_true(big && small);
	errno = 0;
	assert_int_equal(tdxsim_page_alloc(fx->sim, TDX_PS_1G), 0);
	assert_int_equal(errno, EINVAL);
	while ((pa = tdxsim_page_alloc(fx->sim, TDX_PS_2M)))
		big[nbig++] = pa;
	assert_int_equal(errno, ENOMEM);
	while ((pa = tdxsim_page_alloc(fx->sim, TDX_PS_4K)))
		small[nsmall++] = pa;
	assert_int_equal(errno, ENOMEM);
	assert_true(nbig > 0);
	assert_int_equal(nbig * 512ULL + nsmall + base, total);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), total);

	/* The conveniences fail cleanly and take nothing. */
	assert_null(tdxsim_td_create(fx->sim, &st));
	assert_status(st, TDX_SW_ERROR);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), total);

	for (unsigned int i = 0; i < nsmall; i++)
		assert_int_equal(tdxsim_page_free(fx->sim, small[i], TDX_PS_4K), 0);
	for (unsigned int i = 0; i < nbig; i++)
		assert_int_equal(tdxsim_page_free(fx->sim, big[i], TDX_PS_2M), 0);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), base);
	/* Everything came back: as many 2MB blocks as before. */
	for (unsigned int i = 0; i < nbig; i++) {
		big[i] = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
		assert_true(big[i] != 0);
	}
	for (unsigned int i = 0; i < nbig; i++)
		assert_int_equal(tdxsim_page_free(fx->sim, big[i], TDX_PS_2M), 0);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), base);
	free(big);
	free(small);
}

static void expect_einval(const struct tdxsim_config *cfg)
{
	errno = 0;
	assert_null(tdxsim_create(cfg));
	assert_int_equal(errno, EINVAL);
}

static void test_create_bad_config(void **state)
{
	struct tdxsim_config cfg;
	struct tdxsim *sim;

	(void)state;
	expect_einval(NULL);
	tdxsim_config_init(&cfg);
	cfg.mem_size = 0;
	expect_einval(&cfg);
	tdxsim_config_init(&cfg);
	cfg.mem_size = SZ_2M + SZ_4K;
	expect_einval(&cfg);
	tdxsim_config_init(&cfg);
	cfg.mem_base += SZ_2M;
	expect_einval(&cfg);
	tdxsim_config_init(&cfg);
	cfg.mem_base = 0;
	expect_einval(&cfg);
	tdxsim_config_init(&cfg);
	cfg.nr_cpus = 0;
	expect_einval(&cfg);
	tdxsim_config_init(&cfg);
	cfg.gpaw = 50;
	expect_einval(&cfg);
	tdxsim_destroy(NULL);

	tdxsim_config_init(&cfg);
	cfg.mem_size = SZ_2M;
	cfg.gpaw = 52;
	sim = tdxsim_create(&cfg);
	assert_non_null(sim);
	assert_int_equal(tdxsim_get_config(sim)->gpaw, 52);
	assert_int_equal(tdxsim_pages_in_use(sim), 0);
	tdxsim_destroy(sim);
}

#define T(fn, setup)	cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_bad_hkid, fx_setup_runnable),
		T(test_create_bad_tdr, fx_setup_runnable),
		T(test_create_hkid_not_free, fx_setup_runnable),
		T(test_key_config_twice, fx_setup_runnable),
		T(test_build_order, fx_setup_runnable),
		T(test_addcx_max, fx_setup_runnable),
		T(test_finalize, fx_setup_initialized),
		T(test_op_state_aug_vs_add, fx_setup_initialized),
		T(test_vp_create_after_finalize, fx_setup_runnable),
		T(test_vp_enter_before_finalize, fx_setup_initialized),
		T(test_vp_enter_bad_rcx, fx_setup_runnable),
		T(test_vp_enter_twice, fx_setup_runnable),
		T(test_vp_enter_samples_epoch, fx_setup_runnable),
		T(test_vpflushdone_vcpu_in_guest, fx_setup_runnable),
		T(test_freeid_order, fx_setup_runnable),
		T(test_leaves_after_freeid, fx_setup_runnable),
		T(test_dispatcher_bad_rax, fx_setup_runnable),
		T(test_stats, fx_setup_runnable),
		cmocka_unit_test(test_status_name),
		T(test_bad_addresses, fx_setup_runnable),
		T(test_other_td_pages, fx_setup_runnable),
		T(test_gpa_shared_bit, fx_setup_runnable),
		T(test_host_misuse, fx_setup_runnable),
		T(test_host_free_dirty, fx_setup_runnable),
		T(test_enomem, setup_small),
		cmocka_unit_test(test_create_bad_config),
	};

	return run_group(tests);
}
