// SPDX-License-Identifier: GPL-2.0-only
/*
 * vCPUs as KVM builds them: TDH.VP.CREATE, TDH.VP.ADDCX (TDVPX pages),
 * TDH.VP.INIT, then TDH.VP.ENTER with the TDVPR in RCX, and the guest's
 * TDCALLs addressed by the TDVPR.  Check order and statuses are those of the
 * module source (tdh_vp_addcx.c, tdh_vp_init.c, tdh_vp_enter.c, [MDP]).
 */
#include <errno.h>
#include <stdlib.h>

#include "harness.h"

#define TD_PARAMS_PA	0x1000ULL
#define GPA0		GPA_2M(0)
#define VP_READY	2	/* TDVPS VCPU_READY, the operand of VCPU_STATE_INCORRECT */

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

/* TDH.VP.INIT version 1 (KVM's): RDX = initial RCX, R8 = x2APIC ID. */
static u64 vp_init(struct fixture *fx, u64 tdvpr, u64 x2apic_id)
{
	struct tdx_module_args a = { .rcx = tdvpr, .r8 = x2apic_id };

	return tdxsim_seamcall(fx->sim, TDH_VP_INIT | (1ULL << TDX_VERSION_SHIFT), &a);
}

static struct tdxsim_pamt_info pamt_of(struct fixture *fx, u64 hpa)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	return pi;
}

static u64 chldcnt(struct fixture *fx)
{
	return tdxsim_td_chldcnt(fx->sim, fx->td);
}

/* A page the module refused stays the host's: PT_NDA, and it frees. */
static void give_back_refused(struct fixture *fx, u64 page)
{
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);
}

/* TDH.VP.CREATE of a fresh TDVPR page. */
static u64 vp_create(struct fixture *fx)
{
	struct tdx_module_args a;
	u64 tdvpr = fx_alloc_4k(fx);

	assert_status(sc(fx, TDH_VP_CREATE, tdvpr, fx->td->tdr_pa, &a), TDX_SUCCESS);
	return tdvpr;
}

/* @n TDH.VP.ADDCX of fresh pages; each a PT_TDCX child of the TD. */
static void vp_addcx_ok(struct fixture *fx, u64 tdvpr, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct tdx_module_args a;
		struct tdxsim_pamt_info pi;
		u64 page = fx_alloc_4k(fx), c = chldcnt(fx);
		u16 count = pamt_of(fx, page).dpamt_count;

		assert_status(sc(fx, TDH_VP_ADDCX, page, tdvpr, &a), TDX_SUCCESS);
		pi = pamt_of(fx, page);
		assert_int_equal(pi.pt, PT_TDCX);
		assert_int_equal(pi.owner, fx->td->tdr_pa);
		assert_int_equal(chldcnt(fx), c + 1);
		if (pi.dpamt_pair)
			assert_int_equal(pi.dpamt_count, count + 1);
	}
}

static u64 vp_addcx(struct fixture *fx, u64 tdvpr, u64 *page)
{
	struct tdx_module_args a;

	*page = fx_alloc_4k(fx);
	return sc(fx, TDH_VP_ADDCX, *page, tdvpr, &a);
}

/* A simulator and no TD: the test builds its own. */
static int setup_sim_only(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	tdxsim_config_init(&fx->cfg);
	fx->cfg.mem_size = 256ULL << 20;
	fx->sim = tdxsim_create(&fx->cfg);
	if (!fx->sim) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

/*
 * The acceptance test: a TD built from raw SEAMCALLs only, in KVM's
 * order, runs its guest; the guest is named by its TDVPR; an ACCEPT of an
 * unmapped GPA exits to the host with the EPT-violation exit information.
 * The caller-built handle is then torn down by the host layer like any other.
 */
static void test_raw_kvm_order(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td *td = calloc(1, sizeof(*td));
	struct tdx_module_args a;
	struct tdxsim_vp_info vp;
	struct tdxsim_sept_info si;
	struct tdxsim_td_exit ex;
	u64 tdr, tdvpr, listed[4], gpa_unmapped = 0x80000000ULL, info;

	assert_non_null(td);
	td->sim = fx->sim;
	td->hkid = 1;
	fx->td = td;		/* the fixture tears it down and counts the pages */
	tdr = td->tdr_pa = fx_alloc_4k(fx);
	assert_status(sc(fx, TDH_MNG_CREATE, tdr, td->hkid, &a), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_KEY_CONFIG, tdr), TDX_SUCCESS);
	for (unsigned int i = 0; i < fx->cfg.nr_tdcs_pages; i++) {
		td->tdcx_pa[i] = fx_alloc_4k(fx);
		assert_status(sc(fx, TDH_MNG_ADDCX, td->tdcx_pa[i], tdr, &a), TDX_SUCCESS);
		td->nr_tdcx++;
	}
	assert_status(sc(fx, TDH_MNG_INIT, tdr, TD_PARAMS_PA, &a), TDX_SUCCESS);

	tdvpr = vp_create(fx);
	assert_int_equal(pamt_of(fx, tdvpr).pt, PT_TDVPR);
	vp_addcx_ok(fx, tdvpr, fx->cfg.nr_tdvpx_pages);
	assert_int_equal(chldcnt(fx), fx->cfg.nr_tdcs_pages + 1 + fx->cfg.nr_tdvpx_pages);
	assert_int_equal(tdxsim_vp_info(fx->sim, tdvpr, &vp), 0);
	assert_false(vp.initialized);
	assert_int_equal(vp.nr_tdvpx, fx->cfg.nr_tdvpx_pages);
	assert_status(vp_init(fx, tdvpr, 0), TDX_SUCCESS);
	assert_int_equal(tdxsim_vp_info(fx->sim, tdvpr, &vp), 0);
	assert_true(vp.initialized);
	assert_true(vp.associated);
	assert_int_equal(vp.tdr_pa, tdr);
	assert_int_equal(tdxsim_td_vcpus(fx->sim, tdr, listed, 4), 1);
	assert_int_equal(listed[0], tdvpr);

	assert_status(sc1(fx, TDH_MR_FINALIZE, tdr), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_VP_ENTER, tdvpr), TDX_SUCCESS);
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr));

	/* AUG a 4K page; the guest accepts it through its TDVPR. */
	fx_aug(fx, GPA0, TDX_PS_4K);
	a = (struct tdx_module_args){ .rcx = GPA0 | TDX_PS_4K };
	assert_status(tdxsim_tdcall(fx->sim, tdvpr, TDG_MEM_PAGE_ACCEPT, &a), TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, td, GPA0, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);

	/* Nothing maps 2-3GB: the walk stops at the FREE level-2 entry and the vCPU exits. */
	a = (struct tdx_module_args){ .rcx = gpa_unmapped | TDX_PS_4K };
	assert_int_equal(tdxsim_tdcall(fx->sim, tdvpr, TDG_MEM_PAGE_ACCEPT, &a),
			 TDXSIM_TDCALL_TD_EXIT);
	assert_false(tdxsim_vp_in_guest(fx->sim, tdvpr));
	assert_int_equal(tdxsim_vp_last_exit(fx->sim, tdvpr, &ex), 0);
	assert_int_equal(ex.exit_reason, EXIT_REASON_EPT_VIOLATION);
	assert_int_equal(ex.gpa, gpa_unmapped);
	assert_int_equal(ex.ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK,
			 TDX_EXT_EXIT_QUAL_TYPE_ACCEPT);
	info = ex.ext_exit_qual >> TDX_EXT_EXIT_QUAL_INFO_SHIFT;
	assert_int_equal(info & TDX_ACCEPT_INFO_REQ_LEVEL_MASK, TDX_PS_4K);
	assert_int_equal((info >> TDX_ACCEPT_INFO_ERR_LEVEL_SHIFT) & 7, TDX_PS_1G);
	assert_int_equal((info >> TDX_ACCEPT_INFO_ERR_STATE_SHIFT) & 0xFF, SEPT_PUBLIC_FREE);
	assert_false(info & TDX_ACCEPT_INFO_ERR_IS_LEAF);
	/* Out of the guest, a TDCALL is refused; re-entry works. */
	assert_status(tdxsim_tdcall(fx->sim, tdvpr, TDG_MEM_PAGE_ACCEPT, &a),
		      TDX_VCPU_STATE_INCORRECT);
	assert_status(sc1(fx, TDH_VP_ENTER, tdvpr), TDX_SUCCESS);
	/* A TDCALL naming a page that is not a TDVPR. */
	assert_status(tdxsim_tdcall(fx->sim, tdr, TDG_MEM_PAGE_ACCEPT, &a),
		      TDX_VCPU_STATE_INCORRECT);
	assert_int_equal(tdxsim_vp_exit(fx->sim, tdr), -EINVAL);
	assert_int_equal(tdxsim_vp_info(fx->sim, tdr, &vp), -EINVAL);
	assert_int_equal(tdxsim_td_vcpus(fx->sim, tdvpr, listed, 4), -EINVAL);
	/* The fixture's teardown kicks, flushes and reclaims all, TDVPX pages too. */
}

/* Fixture: INITIALIZED TD (convenience), and one raw vCPU with nothing added. */
static void test_addcx_check_order(void **state)
{
	struct fixture *fx = *state;
	u64 tdr = fx->td->tdr_pa, tdvpr = vp_create(fx), page, c;
	struct tdx_module_args a;

	/* The TDVPR operand (RDX) is checked first: address, then PAMT type. */
	page = fx_alloc_4k(fx);
	assert_status(sc(fx, TDH_VP_ADDCX, page, tdvpr + 8, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_status(sc(fx, TDH_VP_ADDCX, page, 0x1000, &a),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RDX);
	assert_status(sc(fx, TDH_VP_ADDCX, page, tdr, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RDX);
	assert_status(sc(fx, TDH_VP_ADDCX, page, fx->td->tdcx_pa[0], &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RDX);
	/* A free page as TDVPR beats a bad RCX. */
	assert_status(sc(fx, TDH_VP_ADDCX, tdr, page, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RDX);
	give_back_refused(fx, page);

	/*
	 * The new page (RCX) must be free.  The TDR's entry is already held
	 * shared by this call (the implicit TDR lock), so RCX = TDR cannot be
	 * taken exclusive: BUSY, on every try.
	 */
	c = chldcnt(fx);
	assert_status(sc(fx, TDH_VP_ADDCX, tdr, tdvpr, &a), TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_status(sc(fx, TDH_VP_ADDCX, fx->td->tdcx_pa[1], tdvpr, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(sc(fx, TDH_VP_ADDCX, tdvpr + 0x10, tdvpr, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	/* The TDVPR itself: its PAMT entry is already held exclusive by this call. */
	assert_status(sc(fx, TDH_VP_ADDCX, tdvpr, tdvpr, &a),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_int_equal(chldcnt(fx), c);

	/* Up to MAX_TDVPS_PAGES - 1 TDVPX pages before INIT; then the count is checked before RCX. */
	vp_addcx_ok(fx, tdvpr, TDXSIM_MAX_TDVPX_PAGES);
	assert_status(vp_addcx(fx, tdvpr, &page), TDX_TDCX_NUM_INCORRECT);
	give_back_refused(fx, page);
	assert_status(sc(fx, TDH_VP_ADDCX, tdr, tdvpr, &a), TDX_TDCX_NUM_INCORRECT);
	assert_int_equal(chldcnt(fx), c + TDXSIM_MAX_TDVPX_PAGES);
	/* More than the minimum is fine for INIT. */
	assert_status(vp_init(fx, tdvpr, 7), TDX_SUCCESS);
	/* After INIT the state is checked before the count and the page. */
	assert_status(sc(fx, TDH_VP_ADDCX, tdr, tdvpr, &a),
		      TDX_VCPU_STATE_INCORRECT | VP_READY);
}

static void test_init_check_order(void **state)
{
	struct fixture *fx = *state;
	u64 tdr = fx->td->tdr_pa, tdvpr = vp_create(fx), page, c;
	struct tdxsim_vp_info vp;
	struct tdx_module_args a;

	/* The TDVPR operand is RCX here. */
	assert_status(vp_init(fx, tdr, 0), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(vp_init(fx, tdvpr | 0x800, 0), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	/* Version 2 does not exist. */
	a = (struct tdx_module_args){ .rcx = tdvpr };
	assert_status(tdxsim_seamcall(fx->sim, TDH_VP_INIT | (2ULL << TDX_VERSION_SHIFT), &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);

	/* Before every TDVPX page is added: TDCX_NUM_INCORRECT, and nothing changes. */
	assert_status(vp_init(fx, tdvpr, 0), TDX_TDCX_NUM_INCORRECT);
	vp_addcx_ok(fx, tdvpr, fx->cfg.nr_tdvpx_pages - 1);
	assert_status(vp_init(fx, tdvpr, 0), TDX_TDCX_NUM_INCORRECT);
	/* map_tdvps() fails before R8 is looked at. */
	assert_status(vp_init(fx, tdvpr, 1ULL << 32), TDX_TDCX_NUM_INCORRECT);
	assert_int_equal(tdxsim_vp_info(fx->sim, tdvpr, &vp), 0);
	assert_false(vp.initialized);
	assert_false(vp.associated);
	vp_addcx_ok(fx, tdvpr, 1);

	/* Version 1: the x2APIC ID has 32 bits. */
	c = chldcnt(fx);
	assert_status(vp_init(fx, tdvpr, 1ULL << 32), TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8);
	assert_status(vp_init(fx, tdvpr, 5), TDX_SUCCESS);
	assert_int_equal(chldcnt(fx), c);
	assert_int_equal(tdxsim_vp_info(fx->sim, tdvpr, &vp), 0);
	assert_true(vp.initialized);
	assert_int_equal(vp.vcpu_index, 0);
	/* Twice: the state, with VCPU_READY as the operand ([MDP]). */
	assert_status(vp_init(fx, tdvpr, 6), TDX_VCPU_STATE_INCORRECT | VP_READY);

	/* A second vCPU may not reuse the x2APIC ID; a refused INIT does not count. */
	page = vp_create(fx);
	vp_addcx_ok(fx, page, fx->cfg.nr_tdvpx_pages);
	assert_status(vp_init(fx, page, 5), TDX_X2APIC_ID_NOT_UNIQUE | 5);
	assert_status(vp_init(fx, page, 6), TDX_SUCCESS);
	assert_int_equal(tdxsim_vp_info(fx->sim, page, &vp), 0);
	assert_int_equal(vp.vcpu_index, 1);
	/* Version 0 takes no x2APIC ID. */
	c = vp_create(fx);
	vp_addcx_ok(fx, c, fx->cfg.nr_tdvpx_pages);
	a = (struct tdx_module_args){ .rcx = c, .r8 = 5 };
	assert_status(tdxsim_seamcall(fx->sim, TDH_VP_INIT, &a), TDX_SUCCESS);
}

/* op_state gating, MR.FINALIZE's vCPU count, VP.ENTER on a vCPU not initialised. */
static void test_build_states(void **state)
{
	struct fixture *fx = *state;
	u64 tdr = fx->td->tdr_pa, bare, full, page;
	struct tdxsim_vcpu *v;
	struct tdx_module_args a;
	u64 st;

	bare = vp_create(fx);		/* no TDVPX page */
	full = vp_create(fx);		/* every TDVPX page, no INIT */
	vp_addcx_ok(fx, full, fx->cfg.nr_tdvpx_pages);
	/* vCPUs that were not initialised do not count. */
	assert_status(sc1(fx, TDH_MR_FINALIZE, tdr), TDX_NO_VCPUS);
	/* Nor flushed: they were never associated. */
	assert_status(sc1(fx, TDH_VP_FLUSH, full), TDX_VCPU_NOT_ASSOCIATED);

	v = tdxsim_vcpu_create(fx->td, &st);
	assert_non_null(v);
	assert_status(st, TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MR_FINALIZE, tdr), TDX_SUCCESS);

	/* RUNNABLE: ADDCX and INIT are build-time only (op_state_lookup.c [4], [22]). */
	assert_status(vp_addcx(fx, bare, &page), TDX_OP_STATE_INCORRECT);
	give_back_refused(fx, page);
	assert_status(vp_init(fx, full, 9), TDX_OP_STATE_INCORRECT);
	/* VP.ENTER: missing TDVPX pages (map_tdvps), then the state (not READY). */
	assert_status(sc1(fx, TDH_VP_ENTER, bare), TDX_TDCX_NUM_INCORRECT);
	assert_status(sc1(fx, TDH_VP_ENTER, full), TDX_VCPU_STATE_INCORRECT);
	assert_false(tdxsim_vp_in_guest(fx->sim, full));
	assert_status(tdxsim_vcpu_enter(v), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = v->tdvpr_pa };
	assert_status(tdxsim_seamcall(fx->sim, TDH_VP_ENTER, &a), TDX_VCPU_STATE_INCORRECT);
	assert_int_equal(tdxsim_td_vcpus(fx->sim, tdr, NULL, 0), 3);
}

/* A vCPU never initialised was never associated: VPFLUSHDONE does not wait for it. */
static void test_uninit_not_associated(void **state)
{
	struct fixture *fx = *state;
	u64 tdr = fx->td->tdr_pa, tdvpr = vp_create(fx);

	vp_addcx_ok(fx, tdvpr, fx->cfg.nr_tdvpx_pages);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, tdr), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_PHYMEM_CACHE_WB, 0), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_KEY_FREEID, tdr), TDX_SUCCESS);
}

/* VP.INIT associates the vCPU: VPFLUSHDONE needs a VP.FLUSH even if it never ran. */
static void test_init_associates(void **state)
{
	struct fixture *fx = *state;
	u64 tdr = fx->td->tdr_pa, tdvpr = vp_create(fx);

	vp_addcx_ok(fx, tdvpr, fx->cfg.nr_tdvpx_pages);
	assert_status(vp_init(fx, tdvpr, 0), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, tdr), TDX_FLUSHVP_NOT_DONE);
	assert_status(sc1(fx, TDH_VP_FLUSH, tdvpr), TDX_SUCCESS);
	assert_status(sc1(fx, TDH_VP_FLUSH, tdvpr), TDX_VCPU_NOT_ASSOCIATED);
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, tdr), TDX_SUCCESS);
}

/* tdxsim_td_flush_vcpus() flushes every vCPU, not only the first 64. */
static void cfg_small_vcpus(struct tdxsim_config *cfg)
{
	cfg->nr_tdvpx_pages = 1;
}

static int setup_small_vcpus(void **state)
{
	return fx_setup_with(state, cfg_small_vcpus, false);
}

#define MANY_VCPUS	70

static void test_flush_many_vcpus(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_vcpu *v[MANY_VCPUS];
	u64 st;

	for (int i = 0; i < MANY_VCPUS; i++) {
		v[i] = tdxsim_vcpu_create(fx->td, &st);
		assert_non_null(v[i]);
		assert_status(st, TDX_SUCCESS);
	}
	assert_status(tdxsim_td_finalize(fx->td), TDX_SUCCESS);
	for (int i = 0; i < MANY_VCPUS; i++)
		assert_status(tdxsim_vcpu_enter(v[i]), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_vcpus(fx->sim, fx->td->tdr_pa, NULL, 0), MANY_VCPUS);
	/* Kicks every vCPU out, then flushes each one. */
	assert_status(tdxsim_td_flush_vcpus(fx->td), TDX_SUCCESS);
	for (int i = 0; i < MANY_VCPUS; i++)
		assert_false(tdxsim_vcpu_in_guest(v[i]));
	assert_status(sc1(fx, TDH_MNG_VPFLUSHDONE, fx->td->tdr_pa), TDX_SUCCESS);
}

/* The typed wrappers build and run a vCPU the same way (KVM's tdh_vp_*() shapes). */
static void test_wrappers(void **state)
{
	struct fixture *fx = *state;
	u64 tdvpr = fx_alloc_4k(fx), c = chldcnt(fx);
	struct tdxsim_vp_info vp;

	assert_status(tdxsim_tdh_vp_create(fx->td, tdvpr), TDX_SUCCESS);
	for (unsigned int i = 0; i < fx->cfg.nr_tdvpx_pages; i++)
		assert_status(tdxsim_tdh_vp_addcx(fx->sim, tdvpr, fx_alloc_4k(fx)), TDX_SUCCESS);
	assert_int_equal(chldcnt(fx), c + 1 + fx->cfg.nr_tdvpx_pages);
	assert_status(tdxsim_tdh_vp_enter(fx->sim, tdvpr), TDX_OP_STATE_INCORRECT);
	assert_status(tdxsim_tdh_vp_init(fx->sim, tdvpr, 0x1234, 3), TDX_SUCCESS);
	assert_status(tdxsim_tdh_vp_init(fx->sim, tdvpr, 0x1234, 3),
		      TDX_VCPU_STATE_INCORRECT | VP_READY);
	assert_status(tdxsim_td_finalize(fx->td), TDX_SUCCESS);
	assert_status(tdxsim_tdh_vp_enter(fx->sim, tdvpr), TDX_SUCCESS);
	assert_status(tdxsim_tdh_vp_flush(fx->sim, tdvpr), TDX_VCPU_STATE_INCORRECT);
	assert_int_equal(tdxsim_vp_exit(fx->sim, tdvpr), 0);
	assert_status(tdxsim_tdh_vp_flush(fx->sim, tdvpr), TDX_SUCCESS);
	assert_int_equal(tdxsim_vp_info(fx->sim, tdvpr, &vp), 0);
	assert_false(vp.associated);
	assert_false(vp.in_guest);
}

/*
 * Conveniences on a TD whose vCPUs the caller built by hand: a vCPU that
 * took x2APIC ID 0 does not stop tdxsim_vcpu_create(), which moves on to
 * the next ID.
 */
static void test_vcpu_create_beside_raw_vcpus(void **state)
{
	struct fixture *fx = *state;
	u64 raw = vp_create(fx), st;
	struct tdxsim_vp_info vp;
	struct tdxsim_vcpu *v;

	vp_addcx_ok(fx, raw, fx->cfg.nr_tdvpx_pages);
	assert_status(vp_init(fx, raw, 0), TDX_SUCCESS);
	v = tdxsim_vcpu_create(fx->td, &st);
	assert_non_null(v);
	assert_status(st, TDX_SUCCESS);
	assert_int_equal(tdxsim_vp_info(fx->sim, v->tdvpr_pa, &vp), 0);
	assert_true(vp.initialized);
	assert_int_equal(vp.vcpu_index, 1);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_VP_INIT, TDX_X2APIC_ID_NOT_UNIQUE), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_raw_kvm_order, setup_sim_only, fx_teardown),
		cmocka_unit_test_setup_teardown(test_addcx_check_order, fx_setup_initialized,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_init_check_order, fx_setup_initialized,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_build_states, fx_setup_initialized,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_uninit_not_associated, fx_setup_initialized,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_init_associates, fx_setup_initialized,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_flush_many_vcpus, setup_small_vcpus,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_wrappers, fx_setup_initialized, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_create_beside_raw_vcpus,
						fx_setup_initialized, fx_teardown),
	};

	return run_group(tests);
}
