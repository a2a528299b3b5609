// SPDX-License-Identifier: GPL-2.0-only
/*
 * Physical-page leaves: TDH.PHYMEM.PAGE.RECLAIM (spec seamcall.md §2.13 and
 * /tmp/research/mgmt.md §9), TDH.PHYMEM.PAGE.WBINVD (§2.12),
 * TDH.PHYMEM.PAMT.ADD/REMOVE (§2.14, §2.15) and the Dynamic-PAMT rules of
 * §4.3-§4.5, including the kernel's PAMT.ADD race of §4.4.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define SZ_2M_RANGE		(1ULL << 21)
#define GPA_4K(base, i)		((base) + (u64)(i) * TDX_PAGE_SIZE)

static struct tdxsim_pamt_info pamt_at(struct fixture *fx, u64 hpa)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	return pi;
}

static u64 chldcnt(struct fixture *fx)
{
	return tdxsim_td_chldcnt(fx->sim, fx->td);
}

static u64 mem_end(const struct fixture *fx)
{
	return fx->cfg.mem_base + fx->cfg.mem_size;
}

static u64 pamt_add_raw(struct fixture *fx, u64 rcx, u64 rdx, u64 r8)
{
	struct tdx_module_args a = { .rcx = rcx, .rdx = rdx, .r8 = r8 };

	return tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAMT_ADD, &a);
}

static u64 pamt_remove_raw(struct fixture *fx, u64 rcx, struct tdx_module_args *out)
{
	struct tdx_module_args a = { .rcx = rcx, .rdx = ~0ULL, .r8 = ~0ULL };
	u64 st = tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAMT_REMOVE, &a);

	*out = a;
	return st;
}

static u64 alloc_4k(struct fixture *fx)
{
	u64 pa = tdxsim_page_alloc(fx->sim, TDX_PS_4K);

	assert_true(pa != 0);
	return pa;
}

static u64 alloc_2m(struct fixture *fx)
{
	u64 pa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);

	assert_true(pa != 0);
	return pa;
}

static void free_4k(struct fixture *fx, u64 pa)
{
	assert_int_equal(tdxsim_page_free(fx->sim, pa, TDX_PS_4K), 0);
}

/* A 2MB range with no pair and a pair whose two pages are plain host pages. */
struct range {
	u64 base;
	u64 pages[2];
};

static void range_get(struct fixture *fx, struct range *r)
{
	r->base = alloc_2m(fx);
	r->pages[0] = alloc_4k(fx);
	r->pages[1] = alloc_4k(fx);
	assert_false(pamt_at(fx, r->base).dpamt_pair);
}

static void range_put(struct fixture *fx, struct range *r)
{
	assert_int_equal(tdxsim_page_free(fx->sim, r->base, TDX_PS_2M), 0);
	free_4k(fx, r->pages[0]);
	free_4k(fx, r->pages[1]);
}

/* A failed PAMT.ADD leaves no pair on the range and no flag on the pages. */
static void assert_add_left_nothing(struct fixture *fx, const struct range *r)
{
	assert_false(pamt_at(fx, r->base).dpamt_pair);
	assert_int_equal(pamt_at(fx, r->base).pt, PT_NDA);
	assert_false(pamt_at(fx, r->pages[0]).pamt_page);
	assert_false(pamt_at(fx, r->pages[1]).pamt_page);
}

/* ---------------------------------------------------------------------------
 * PAMT.ADD / PAMT.REMOVE (§2.14, §2.15).
 */

/* §2.14: node PT_PAMT with count 0, both pages flagged; §2.15: REMOVE returns them. */
static void test_pamt_add_remove(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_pamt_info pi;
	struct tdx_module_args a;
	struct range r;

	range_get(fx, &r);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], r.pages[1]), TDX_SUCCESS);
	pi = pamt_at(fx, r.base + 100 * TDX_PAGE_SIZE);
	assert_true(pi.dpamt_pair);
	assert_int_equal(pi.dpamt_pages[0], r.pages[0]);
	assert_int_equal(pi.dpamt_pages[1], r.pages[1]);
	assert_int_equal(pi.dpamt_count, 0);
	/* The range now has a 4K level: its pages are 4K PT_NDA leaves. */
	assert_int_equal(pi.level, TDX_PS_4K);
	assert_int_equal(pi.pt, PT_NDA);
	assert_true(pamt_at(fx, r.pages[0]).pamt_page);
	assert_true(pamt_at(fx, r.pages[1]).pamt_page);

	assert_status(pamt_remove_raw(fx, r.base | TDX_PS_2M, &a), TDX_SUCCESS);
	assert_int_equal(a.rdx, r.pages[0]);
	assert_int_equal(a.r8, r.pages[1]);
	assert_false(pamt_at(fx, r.base).dpamt_pair);
	assert_int_equal(pamt_at(fx, r.base).level, TDX_PS_2M);
	assert_false(pamt_at(fx, r.pages[0]).pamt_page);
	assert_false(pamt_at(fx, r.pages[1]).pamt_page);
	range_put(fx, &r);
}

/* §2.14/§2.15 with static PAMT: both leaves are OPERAND_INVALID|RAX. */
static void test_pamt_feature_off(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a;
	struct range r;

	range_get(fx, &r);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], r.pages[1]),
		      0xC000010000000000ULL);
	assert_status(TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX, 0xC000010000000000ULL);
	assert_false(pamt_at(fx, r.base).dpamt_pair);
	assert_false(pamt_at(fx, r.pages[0]).pamt_page);
	assert_status(pamt_remove_raw(fx, r.base | TDX_PS_2M, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
	range_put(fx, &r);
}

/* §2.14: RCX level/alignment/reserved bits, page alignment, TDMR range. */
static void test_pamt_add_operands(void **state)
{
	struct fixture *fx = *state;
	struct range r;
	u64 p0, p1;

	range_get(fx, &r);
	p0 = r.pages[0];
	p1 = r.pages[1];
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_4K, p0, p1),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_1G, p0, p1),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(pamt_add_raw(fx, r.base | 0x10 | TDX_PS_2M, p0, p1),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(pamt_add_raw(fx, (r.base + 0x1000) | TDX_PS_2M, p0, p1),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(pamt_add_raw(fx, mem_end(fx) | TDX_PS_2M, p0, p1),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, p0 + 0x40, p1),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, p0, p1 | 0x800),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8);
	/* A KeyID in the page address is not a host page (§2.14: HKID 0). */
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, p0,
				   tdxsim_mk_keyed_paddr(fx->sim, 3, p1)),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, 0x1000, p1),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RDX);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, p0, mem_end(fx)),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8);
	assert_add_left_nothing(fx, &r);
	range_put(fx, &r);
}

/* §2.14: the range must be a PT_NDA 2MB entry -> else HPA_RANGE_NOT_FREE|RCX. */
static void test_pamt_add_range_not_free(void **state)
{
	struct fixture *fx = *state;
	struct range r;
	u64 other[2], ret[2], hpa;

	/* A pair already installed: the second one is refused and left untouched. */
	range_get(fx, &r);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], r.pages[1]), TDX_SUCCESS);
	other[0] = alloc_4k(fx);
	other[1] = alloc_4k(fx);
	assert_status(tdxsim_tdh_phymem_pamt_add(fx->sim, r.base, other),
		      TDX_HPA_RANGE_NOT_FREE | TDX_OPERAND_ID_RCX);
	assert_false(pamt_at(fx, other[0]).pamt_page);
	assert_false(pamt_at(fx, other[1]).pamt_page);
	assert_int_equal(pamt_at(fx, r.base).dpamt_pages[0], r.pages[0]);
	assert_int_equal(pamt_at(fx, r.base).dpamt_pages[1], r.pages[1]);
	assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, r.base, ret), TDX_SUCCESS);
	assert_int_equal(ret[0], r.pages[0]);
	assert_int_equal(ret[1], r.pages[1]);
	range_put(fx, &r);

	/* A range mapped as a 2MB private page (PT_REG leaf), spec §9 point 5. */
	hpa = fx_aug(fx, GPA_2M(0), TDX_PS_2M);
	assert_status(tdxsim_tdh_phymem_pamt_add(fx->sim, hpa, other),
		      TDX_HPA_RANGE_NOT_FREE | TDX_OPERAND_ID_RCX);
	assert_false(pamt_at(fx, hpa).dpamt_pair);
	assert_int_equal(pamt_at(fx, hpa).pt, PT_REG);
	assert_int_equal(pamt_at(fx, hpa).level, TDX_PS_2M);
	assert_false(pamt_at(fx, other[0]).pamt_page);
	assert_false(pamt_at(fx, other[1]).pamt_page);
	free_4k(fx, other[0]);
	free_4k(fx, other[1]);
}

/* §2.14: each PAMT page must be free and not already a PAMT page; failures roll back. */
static void test_pamt_add_page_not_free(void **state)
{
	struct fixture *fx = *state;
	struct range r;
	u64 used_pamt, guest;

	range_get(fx, &r);
	used_pamt = pamt_at(fx, fx->td->tdr_pa).dpamt_pages[0];
	assert_true(pamt_at(fx, used_pamt).pamt_page);

	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, used_pamt, r.pages[1]),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_RDX);
	assert_add_left_nothing(fx, &r);
	assert_true(pamt_at(fx, used_pamt).pamt_page);

	/* R8 fails after RDX was taken: RDX's bitmap bit is given back. */
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], used_pamt),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R8);
	assert_add_left_nothing(fx, &r);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], fx->td->tdr_pa),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R8);
	assert_add_left_nothing(fx, &r);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], r.pages[0]),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R8);
	assert_add_left_nothing(fx, &r);

	/* A page inside a 2MB private page: its PAMT leaf is the PT_REG 2MB entry. */
	guest = fx_aug(fx, GPA_2M(0), TDX_PS_2M);
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], guest + 0x5000),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R8);
	assert_add_left_nothing(fx, &r);
	assert_int_equal(pamt_at(fx, guest).pt, PT_REG);
	range_put(fx, &r);
}

/* §2.14: PAMT pages inside the very range they describe are allowed. */
static void test_pamt_add_pages_inside_range(void **state)
{
	struct fixture *fx = *state;
	u64 base = alloc_2m(fx), pages[2] = { base + 0x1000, base + 0x1FF000 }, ret[2];

	assert_status(tdxsim_tdh_phymem_pamt_add(fx->sim, base, pages), TDX_SUCCESS);
	assert_true(pamt_at(fx, pages[0]).pamt_page);
	assert_true(pamt_at(fx, pages[1]).pamt_page);
	assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, base, ret), TDX_SUCCESS);
	assert_int_equal(ret[0], pages[0]);
	assert_int_equal(ret[1], pages[1]);
	assert_int_equal(tdxsim_page_free(fx->sim, base, TDX_PS_2M), 0);
}

/* BLOCK + TRACK + kick + REMOVE of a 4K page; returns RCX (HPA | removal hint). */
static u64 remove_4k(struct fixture *fx, u64 gpa)
{
	u64 e1, e2;

	fx_block_track(fx, gpa, TDX_PS_4K);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	return e1;
}

static void wbinvd_free_4k(struct fixture *fx, u64 hpa)
{
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, hpa), TDX_SUCCESS);
	free_4k(fx, hpa);
}

/* AUG the 4K page @hpa at @gpa (tables added as needed). */
static void aug_4k_at(struct fixture *fx, u64 gpa, u64 hpa)
{
	u64 e1, e2;

	fx_map_sept(fx, gpa, TDX_PS_4K);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, hpa >> 12, &e1, &e2), TDX_SUCCESS);
}

/*
 * §2.15: no pair -> NO_PAMT_PAGE_PAIR|RCX; a 4K page in use -> PAMT_PAGE_NOT_EMPTY
 * with the index of the PAMT page covering it (0: 4K pages 0-255, 1: 256-511).
 * §2.10/§4.3: the last 4K REMOVE of the range carries the removal hint.
 */
static void test_pamt_remove_errors(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a;
	struct range r;
	u64 gpa = GPA_2M(0), hpa_hi, hpa_lo, guest2m;

	range_get(fx, &r);
	assert_status(pamt_remove_raw(fx, r.base | TDX_PS_2M, &a),
		      TDX_NO_PAMT_PAGE_PAIR | TDX_OPERAND_ID_RCX);
	assert_status(pamt_remove_raw(fx, r.base | TDX_PS_4K, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(pamt_remove_raw(fx, (r.base + 0x3000) | TDX_PS_2M, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(pamt_remove_raw(fx, mem_end(fx) | TDX_PS_2M, &a),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	guest2m = fx_aug(fx, GPA_2M(4), TDX_PS_2M);
	assert_status(pamt_remove_raw(fx, guest2m | TDX_PS_2M, &a),
		      TDX_NO_PAMT_PAGE_PAIR | TDX_OPERAND_ID_RCX);
	assert_int_equal(pamt_at(fx, guest2m).pt, PT_REG);

	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], r.pages[1]), TDX_SUCCESS);
	hpa_hi = r.base + 300 * TDX_PAGE_SIZE;
	hpa_lo = r.base + 10 * TDX_PAGE_SIZE;
	aug_4k_at(fx, GPA_4K(gpa, 0), hpa_hi);
	assert_int_equal(pamt_at(fx, r.base).dpamt_count, 1);
	assert_status(pamt_remove_raw(fx, r.base | TDX_PS_2M, &a), TDX_PAMT_PAGE_NOT_EMPTY | 1);
	assert_status(TDX_PAMT_PAGE_NOT_EMPTY | 1, 0xC000030600000001ULL);
	aug_4k_at(fx, GPA_4K(gpa, 1), hpa_lo);
	assert_status(pamt_remove_raw(fx, r.base | TDX_PS_2M, &a), TDX_PAMT_PAGE_NOT_EMPTY | 0);
	/* Nothing changed by the refusals. */
	assert_true(pamt_at(fx, r.base).dpamt_pair);
	assert_int_equal(pamt_at(fx, r.base).dpamt_count, 2);
	assert_true(pamt_at(fx, r.pages[0]).pamt_page);
	assert_true(pamt_at(fx, r.pages[1]).pamt_page);

	/* The low page goes: still not empty, now because of page 1's half. */
	assert_int_equal(remove_4k(fx, GPA_4K(gpa, 1)), hpa_lo);
	wbinvd_free_4k(fx, hpa_lo);
	assert_status(pamt_remove_raw(fx, r.base | TDX_PS_2M, &a), TDX_PAMT_PAGE_NOT_EMPTY | 1);
	/* The last 4K user of the range: REMOVE's RCX carries the hint (bit 62). */
	assert_int_equal(remove_4k(fx, GPA_4K(gpa, 0)), hpa_hi | TDX_PAMT_REMOVAL_HINT);
	wbinvd_free_4k(fx, hpa_hi);
	assert_int_equal(pamt_at(fx, r.base).dpamt_count, 0);
	assert_status(pamt_remove_raw(fx, r.base | TDX_PS_2M, &a), TDX_SUCCESS);
	assert_int_equal(a.rdx, r.pages[0]);
	assert_int_equal(a.r8, r.pages[1]);
	/* The 2MB block went back page by page: free the other 510 pages. */
	for (unsigned int i = 0; i < 512; i++) {
		u64 pa = r.base + i * TDX_PAGE_SIZE;

		if (pa != hpa_hi && pa != hpa_lo)
			free_4k(fx, pa);
	}
	free_4k(fx, r.pages[0]);
	free_4k(fx, r.pages[1]);
}

/* ---------------------------------------------------------------------------
 * Dynamic-PAMT rules (§4.3-§4.5).
 */

/* §4.3: 4K use needs a pair; a pair blocks 2MB use; a PAMT page is not a TD page. */
static void test_dpamt_rules(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_sept_info si;
	struct range r;
	u64 e1, e2, gpa = GPA_4K(GPA_2M(0), 0), used_pamt;

	range_get(fx, &r);
	fx_map_sept(fx, gpa, TDX_PS_4K);
	fx_map_sept(fx, GPA_2M(2), TDX_PS_2M);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, r.base >> 12, &e1, &e2),
		      TDX_MISSING_PAMT_PAGE_PAIR | TDX_OPERAND_ID_R8);
	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, TDX_PS_4K, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_FREE);
	assert_int_equal(pamt_at(fx, r.base).pt, PT_NDA);

	/* [P18]: once a pair is installed the range can no longer be AUGed at 2MB. */
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], r.pages[1]), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, GPA_2M(2), TDX_PS_2M, r.base >> 12, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);

	/* A page that is a PAMT page is refused as a TD page. */
	used_pamt = pamt_at(fx, fx->td->tdr_pa).dpamt_pages[1];
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, used_pamt >> 12, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, r.pages[0] >> 12, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	assert_int_equal(pamt_at(fx, r.base).dpamt_count, 0);

	/* With the pair, 4K AUG works and counts (§4.5). */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, (r.base + 0x4000) >> 12, &e1, &e2),
		      TDX_SUCCESS);
	assert_int_equal(pamt_at(fx, r.base).dpamt_count, 1);
	assert_int_equal(pamt_at(fx, r.base + 0x4000).pt, PT_REG);
	assert_int_equal(remove_4k(fx, gpa), (r.base + 0x4000) | TDX_PAMT_REMOVAL_HINT);
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, r.base + 0x4000),
		      TDX_SUCCESS);
	assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, r.base, r.pages), TDX_SUCCESS);
	range_put(fx, &r);
}

/*
 * §4.4: the kernel keeps its own per-2MB refcount and races PAMT.ADD against
 * PAMT.REMOVE under its lock; the module answers the losing PAMT.ADD with
 * HPA_RANGE_NOT_FREE, which tdx_pamt_get() takes as "already installed".
 * Both interleavings, at module level.
 */
static void test_dpamt_get_put_race(void **state)
{
	struct fixture *fx = *state;
	struct range r;
	u64 late[2], st, e1, e2, gpa = GPA_4K(GPA_2M(0), 0);

	range_get(fx, &r);
	fx_map_sept(fx, gpa, TDX_PS_4K);

	/* get A wins: pair A installed. */
	assert_status(pamt_add_raw(fx, r.base | TDX_PS_2M, r.pages[0], r.pages[1]), TDX_SUCCESS);
	/* get B saw refcount 0 too: its PAMT.ADD loses, B frees its own pages. */
	late[0] = alloc_4k(fx);
	late[1] = alloc_4k(fx);
	st = tdxsim_tdh_phymem_pamt_add(fx->sim, r.base, late);
	assert_status(st, TDX_HPA_RANGE_NOT_FREE | TDX_OPERAND_ID_RCX);
	assert_true(IS_TDX_HPA_RANGE_NOT_FREE(st));
	free_4k(fx, late[0]);
	free_4k(fx, late[1]);
	/* The range works with A's pair. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, (r.base + 0x8000) >> 12, &e1, &e2),
		      TDX_SUCCESS);
	assert_int_equal(pamt_at(fx, r.base).dpamt_pages[0], r.pages[0]);

	/*
	 * put: the last user leaves (hint), the refcount drops to 0, and before
	 * the putter's PAMT.REMOVE a new get's PAMT.ADD finds the pair still there.
	 */
	assert_int_equal(remove_4k(fx, gpa), (r.base + 0x8000) | TDX_PAMT_REMOVAL_HINT);
	wbinvd_free_4k(fx, r.base + 0x8000);
	late[0] = alloc_4k(fx);
	late[1] = alloc_4k(fx);
	assert_status(tdxsim_tdh_phymem_pamt_add(fx->sim, r.base, late),
		      TDX_HPA_RANGE_NOT_FREE | TDX_OPERAND_ID_RCX);
	free_4k(fx, late[0]);
	free_4k(fx, late[1]);
	/* The getter keeps using the range: a 4K AUG still finds A's pair. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, (r.base + 0x9000) >> 12, &e1, &e2),
		      TDX_SUCCESS);
	assert_int_equal(pamt_at(fx, r.base).dpamt_count, 1);
	/* ... so the putter's PAMT.REMOVE, when it finally runs, must fail. */
	assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, r.base, late), TDX_PAMT_PAGE_NOT_EMPTY | 0);
	assert_true(pamt_at(fx, r.base).dpamt_pair);

	remove_4k(fx, gpa);
	wbinvd_free_4k(fx, r.base + 0x9000);
	/* Both 4K pages of the block were freed separately: free the rest the same way. */
	assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, r.base, late), TDX_SUCCESS);
	for (unsigned int i = 0; i < 512; i++) {
		if (i != 8 && i != 9)
			free_4k(fx, r.base + i * TDX_PAGE_SIZE);
	}
	free_4k(fx, r.pages[0]);
	free_4k(fx, r.pages[1]);
}

/* ---------------------------------------------------------------------------
 * RECLAIM (§2.13, mgmt.md §9).
 */

static u64 reclaim_raw(struct fixture *fx, u64 pa, struct tdx_module_args *out)
{
	/* Junk in every output register: RECLAIM clears RCX, RDX, R8..R11 first. */
	struct tdx_module_args a = {
		.rcx = pa, .rdx = ~0ULL, .r8 = ~0ULL, .r9 = ~0ULL, .r10 = ~0ULL, .r11 = ~0ULL,
	};
	u64 st = tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAGE_RECLAIM, &a);

	*out = a;
	return st;
}

static void assert_reclaim_out(const struct tdx_module_args *a, u64 pt, u64 owner, u64 size)
{
	assert_int_equal(a->rcx, pt);
	assert_int_equal(a->rdx, owner);
	assert_int_equal(a->r8, size);
}

/* The TD's pages: guest 2MB + 4K, three S-EPT pages, control pages. */
struct td_pages {
	u64 g2m, g4k, g4k_gpa;
	u64 sept[3];
};

static u64 sept_child(struct fixture *fx, u64 gpa, int level)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, level, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_NL_MAPPED);
	return si.hpa;
}

static void build_td_pages(struct fixture *fx, struct td_pages *p)
{
	p->g2m = fx_aug(fx, GPA_2M(0), TDX_PS_2M);
	p->g4k_gpa = GPA_4K(GPA_2M(1), 5);
	p->g4k = fx_aug(fx, p->g4k_gpa, TDX_PS_4K);
	p->sept[0] = sept_child(fx, GPA_2M(0), 3);
	p->sept[1] = sept_child(fx, GPA_2M(0), TDX_PS_1G);
	p->sept[2] = sept_child(fx, GPA_2M(1), TDX_PS_2M);
}

/* mgmt.md §9 step 7: before the HKID is released every TD page is refused. */
static void test_reclaim_before_teardown(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a;
	struct td_pages p;
	u64 tdr = fx->td->tdr_pa, cnt;

	build_td_pages(fx, &p);
	cnt = chldcnt(fx);
	assert_status(reclaim_raw(fx, p.g4k, &a), TDX_LIFECYCLE_STATE_INCORRECT);
	assert_reclaim_out(&a, PT_REG, tdr, TDX_PS_4K);
	assert_status(reclaim_raw(fx, p.g2m, &a), TDX_LIFECYCLE_STATE_INCORRECT);
	assert_reclaim_out(&a, PT_REG, tdr, TDX_PS_2M);
	assert_status(reclaim_raw(fx, p.sept[1], &a), TDX_LIFECYCLE_STATE_INCORRECT);
	assert_reclaim_out(&a, PT_EPT, tdr, TDX_PS_4K);
	assert_status(reclaim_raw(fx, fx->td->tdcx_pa[2], &a), TDX_LIFECYCLE_STATE_INCORRECT);
	assert_reclaim_out(&a, PT_TDCX, tdr, TDX_PS_4K);
	assert_status(reclaim_raw(fx, tdxsim_vcpu_tdvpr_pa(fx->vcpu), &a),
		      TDX_LIFECYCLE_STATE_INCORRECT);
	assert_reclaim_out(&a, PT_TDVPR, tdr, TDX_PS_4K);
	/* A TDR reports owner 0. */
	assert_status(reclaim_raw(fx, tdr, &a), TDX_LIFECYCLE_STATE_INCORRECT);
	assert_reclaim_out(&a, PT_TDR, 0, TDX_PS_4K);
	assert_int_equal(a.r9, 0);
	assert_int_equal(chldcnt(fx), cnt);
	assert_int_equal(pamt_at(fx, p.g4k).pt, PT_REG);
	assert_int_equal(pamt_at(fx, p.g2m).pt, PT_REG);
}

/* mgmt.md §8: kick, VPFLUSHDONE, CACHE.WB, KEY.FREEID with raw SEAMCALLs. */
static void release_hkid(struct fixture *fx)
{
	struct tdx_module_args a = { .rcx = fx->td->tdr_pa };

	fx_enter(fx);
	assert_status(tdxsim_seamcall(fx->sim, TDH_MNG_VPFLUSHDONE, &a), TDX_FLUSHVP_NOT_DONE);
	assert_status(tdxsim_td_flush_vcpus(fx->td), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = fx->td->tdr_pa };
	assert_status(tdxsim_seamcall(fx->sim, TDH_MNG_VPFLUSHDONE, &a), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = 0 };
	assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_CACHE_WB, &a), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = fx->td->tdr_pa };
	assert_status(tdxsim_seamcall(fx->sim, TDH_MNG_KEY_FREEID, &a), TDX_SUCCESS);
}

/* RECLAIM one 4K page of the TD and give it back; checks type, owner, count. */
static void reclaim_4k_ok(struct fixture *fx, u64 pa, u64 pt)
{
	struct tdx_module_args a;
	u64 cnt = chldcnt(fx);
	u64 hint = pamt_at(fx, pa).dpamt_count == 1 ? TDX_PAMT_REMOVAL_HINT : 0;

	assert_status(reclaim_raw(fx, pa, &a), TDX_SUCCESS);
	assert_reclaim_out(&a, pt, fx->td->tdr_pa, TDX_PS_4K);
	assert_int_equal(a.r9, hint);
	assert_int_equal(chldcnt(fx), cnt - 1);
	assert_int_equal(pamt_at(fx, pa).pt, PT_NDA);
	/* After KEY.FREEID + CACHE.WB nothing is left to flush: a plain free works. */
	assert_false(pamt_at(fx, pa).dirty);
	free_4k(fx, pa);
}

/* PAMT.REMOVE and free every pair left on the memory (the TD is gone). */
static void drop_all_pairs(struct fixture *fx)
{
	for (u64 pa = fx->cfg.mem_base; pa < mem_end(fx); pa += SZ_2M_RANGE) {
		u64 ret[2];

		if (!pamt_at(fx, pa).dpamt_pair)
			continue;
		assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, pa, ret), TDX_SUCCESS);
		free_4k(fx, ret[0]);
		free_4k(fx, ret[1]);
	}
}

/*
 * §2.13 / F6 / mgmt.md §9: the whole teardown by hand.  Free page, TDR with
 * children, misaligned PA inside a 2MB page, then every page, the TDR last.
 */
static void test_reclaim_teardown_by_hand(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a;
	struct tdxsim_vp_info vp;
	struct td_pages p;
	u64 tdr = fx->td->tdr_pa, spare, cnt;

	build_td_pages(fx, &p);
	release_hkid(fx);

	/* A page the module does not own: error, outputs left at 0. */
	spare = alloc_4k(fx);
	assert_status(reclaim_raw(fx, spare, &a), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_reclaim_out(&a, 0, 0, 0);
	assert_int_equal(a.r9, 0);
	assert_int_equal(a.r10, 0);
	assert_int_equal(a.r11, 0);
	free_4k(fx, spare);
	/* Operand checks. */
	assert_status(reclaim_raw(fx, p.g4k + 0x10, &a), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(reclaim_raw(fx, 0x1000, &a),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);

	/* The TDR while the TD still owns pages. */
	cnt = chldcnt(fx);
	assert_true(cnt > 0);
	assert_status(reclaim_raw(fx, tdr, &a), TDX_TD_ASSOCIATED_PAGES_EXIST);
	assert_reclaim_out(&a, PT_TDR, 0, TDX_PS_4K);

	/* Inside the 2MB page but not at its start: outputs filled, nothing done. */
	assert_status(reclaim_raw(fx, p.g2m + 0x3000, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_reclaim_out(&a, PT_REG, tdr, TDX_PS_2M);
	assert_int_equal(chldcnt(fx), cnt);
	assert_int_equal(pamt_at(fx, p.g2m).pt, PT_REG);

	/* The 2MB page at its 2MB PA: one call, 512 off the child count. */
	assert_status(reclaim_raw(fx, p.g2m, &a), TDX_SUCCESS);
	assert_reclaim_out(&a, PT_REG, tdr, TDX_PS_2M);
	assert_int_equal(a.r9, 0);
	assert_int_equal(chldcnt(fx), cnt - 512);
	assert_int_equal(pamt_at(fx, p.g2m).pt, PT_NDA);
	assert_false(pamt_at(fx, p.g2m + 0x7000).dirty);
	assert_int_equal(tdxsim_page_free(fx->sim, p.g2m, TDX_PS_2M), 0);
	/* Again: it is a free page now. */
	assert_status(reclaim_raw(fx, p.g2m, &a), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);

	reclaim_4k_ok(fx, p.g4k, PT_REG);
	for (int i = 0; i < 3; i++)
		reclaim_4k_ok(fx, p.sept[i], PT_EPT);
	assert_int_equal(tdxsim_vp_info(fx->sim, fx->vcpu->tdvpr_pa, &vp), 0);
	reclaim_4k_ok(fx, tdxsim_vcpu_tdvpr_pa(fx->vcpu), PT_TDVPR);
	for (unsigned int i = 0; i < vp.nr_tdvpx; i++)
		reclaim_4k_ok(fx, vp.tdvpx_pa[i], PT_TDCX);
	for (unsigned int i = 0; i < fx->td->nr_tdcx; i++)
		reclaim_4k_ok(fx, fx->td->tdcx_pa[i], PT_TDCX);
	assert_int_equal(chldcnt(fx), 0);

	/* The TDR last: owner 0, and the TD is gone. */
	assert_status(reclaim_raw(fx, tdr, &a), TDX_SUCCESS);
	assert_reclaim_out(&a, PT_TDR, 0, TDX_PS_4K);
	assert_int_equal(pamt_at(fx, tdr).pt, PT_NDA);
	free_4k(fx, tdr);
	assert_status(reclaim_raw(fx, tdr, &a), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	drop_all_pairs(fx);
	/* Everything was reclaimed by hand: teardown finds no TD and only frees the handle. */
	assert_int_equal(tdxsim_td_teardown(fx->td, 0), -EINVAL);
	fx->td = NULL;
	fx->vcpu = NULL;
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 0);
}

/* ---------------------------------------------------------------------------
 * WBINVD (§2.12) and giving pages back to the host.
 */

static u64 wbinvd(struct fixture *fx, u16 hkid, u64 pa)
{
	return tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, hkid, pa);
}

/* §2.12: only a page whose covering PAMT leaf is PT_NDA can be flushed. */
static void test_wbinvd_mapped(void **state)
{
	struct fixture *fx = *state;
	u16 hkid = fx->td->hkid;
	u64 g4k, g2m;

	g4k = fx_aug(fx, GPA_4K(GPA_2M(1), 0), TDX_PS_4K);
	g2m = fx_aug(fx, GPA_2M(0), TDX_PS_2M);
	assert_status(wbinvd(fx, hkid, g4k), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(wbinvd(fx, hkid, g2m + 7 * TDX_PAGE_SIZE),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(wbinvd(fx, hkid, fx->td->tdr_pa),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(wbinvd(fx, hkid, sept_child(fx, GPA_2M(0), TDX_PS_1G)),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(wbinvd(fx, hkid, g4k + 0x100), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(wbinvd(fx, hkid, 0x1000), TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX);
	assert_int_equal(pamt_at(fx, g4k).pt, PT_REG);
	assert_int_equal(pamt_at(fx, g2m).pt, PT_REG);
}

/* §2.10/§2.12: a removed page is dirty with the TD's key; only that key cleans it. */
static void test_wbinvd_after_remove(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_pamt_info pi;
	u16 hkid = fx->td->hkid;
	u64 gpa = GPA_4K(GPA_2M(1), 0), hpa, g2m, e1, e2;

	hpa = fx_aug(fx, gpa, TDX_PS_4K);
	assert_int_equal(remove_4k(fx, gpa) & ~TDX_PAMT_REMOVAL_HINT, hpa);
	pi = pamt_at(fx, hpa);
	assert_int_equal(pi.pt, PT_NDA);
	assert_true(pi.dirty);
	assert_int_equal(pi.dirty_hkid, hkid);
	/* Another KeyID (the module does not validate it) flushes nothing of ours. */
	assert_status(wbinvd(fx, (u16)(hkid + 1), hpa), TDX_SUCCESS);
	assert_true(pamt_at(fx, hpa).dirty);
	assert_status(wbinvd(fx, 0, hpa), TDX_SUCCESS);
	assert_true(pamt_at(fx, hpa).dirty);
	assert_status(wbinvd(fx, hkid, hpa), TDX_SUCCESS);
	assert_false(pamt_at(fx, hpa).dirty);
	free_4k(fx, hpa);

	/* A 2MB page: WBINVD is strictly 4K, each piece needs its own call. */
	g2m = fx_aug(fx, GPA_2M(0), TDX_PS_2M);
	fx_block_track(fx, GPA_2M(0), TDX_PS_2M);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, GPA_2M(0), TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, g2m);
	assert_status(wbinvd(fx, hkid, g2m + 5 * TDX_PAGE_SIZE), TDX_SUCCESS);
	assert_false(pamt_at(fx, g2m + 5 * TDX_PAGE_SIZE).dirty);
	assert_true(pamt_at(fx, g2m + 6 * TDX_PAGE_SIZE).dirty);
	assert_true(pamt_at(fx, g2m).dirty);
	for (unsigned int i = 0; i < 512; i++)
		assert_status(wbinvd(fx, hkid, g2m + i * TDX_PAGE_SIZE), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, g2m, TDX_PS_2M), 0);
}

static bool report_has_misuse(const struct tdxsim_report *rep, u64 hpa)
{
	for (unsigned int i = 0; i < rep->nr && i < TDXSIM_REPORT_MAX; i++) {
		if (rep->v[i].what == TDXSIM_INV_HOST_MISUSE && rep->v[i].hpa == hpa)
			return true;
	}
	return false;
}

/* tdxsim.h: freeing a page still dirty with a TD key is refused and recorded. */
static void test_free_dirty_page_is_misuse(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_report rep;
	u64 gpa = GPA_4K(GPA_2M(1), 0), hpa;

	hpa = fx_aug(fx, gpa, TDX_PS_4K);
	remove_4k(fx, gpa);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	/* The test breaks an invariant on purpose. */
	fx->expect_violations = true;
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_4K), -EIO);
	assert_true(tdxsim_check(fx->sim, &rep) > 0);
	assert_true(report_has_misuse(&rep, hpa));
	/* The page stayed allocated: give it back properly. */
	assert_true(pamt_at(fx, hpa).allocated);
	wbinvd_free_4k(fx, hpa);
}

static void cfg_reset_quirk(struct tdxsim_config *cfg)
{
	cfg->reset_quirk = true;
}

static int setup_reset_quirk(void **state)
{
	return fx_setup_with(state, cfg_reset_quirk, true);
}

/* §7.5 reset quirk: WBINVD and the reset are both needed, neither stands for the other. */
static void test_reset_quirk(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_pamt_info pi;
	u64 gpa = GPA_4K(GPA_2M(1), 0), hpa;

	hpa = fx_aug(fx, gpa, TDX_PS_4K);
	remove_4k(fx, gpa);
	pi = pamt_at(fx, hpa);
	assert_true(pi.dirty);
	assert_true(pi.needs_reset);
	assert_status(wbinvd(fx, fx->td->hkid, hpa), TDX_SUCCESS);
	pi = pamt_at(fx, hpa);
	assert_false(pi.dirty);
	assert_true(pi.needs_reset);
	assert_int_equal(tdxsim_page_reset(fx->sim, hpa, TDX_PAGE_SIZE), 0);
	assert_false(pamt_at(fx, hpa).needs_reset);
	free_4k(fx, hpa);

	/* Reset first: the page is still dirty. */
	hpa = fx_aug(fx, gpa, TDX_PS_4K);
	remove_4k(fx, gpa);
	assert_int_equal(tdxsim_page_reset(fx->sim, hpa, TDX_PAGE_SIZE), 0);
	pi = pamt_at(fx, hpa);
	assert_false(pi.needs_reset);
	assert_true(pi.dirty);
	wbinvd_free_4k(fx, hpa);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
}

/* Reset quirk: a page freed after WBINVD but without the reset is host misuse. */
static void test_reset_quirk_free_unreset(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_report rep;
	u64 gpa = GPA_4K(GPA_2M(1), 0), hpa;

	hpa = fx_aug(fx, gpa, TDX_PS_4K);
	remove_4k(fx, gpa);
	assert_status(wbinvd(fx, fx->td->hkid, hpa), TDX_SUCCESS);
	fx->expect_violations = true;	/* the misuse below is the point of the test */
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_4K), -EIO);
	assert_true(tdxsim_check(fx->sim, &rep) > 0);
	assert_true(report_has_misuse(&rep, hpa));
	assert_int_equal(tdxsim_page_reset(fx->sim, hpa, TDX_PAGE_SIZE), 0);
	free_4k(fx, hpa);
}

#define T(fn, setup)	cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pamt_add_remove, fx_setup_runnable),
		T(test_pamt_feature_off, fx_setup_runnable_nodpamt),
		T(test_pamt_add_operands, fx_setup_runnable),
		T(test_pamt_add_range_not_free, fx_setup_runnable),
		T(test_pamt_add_page_not_free, fx_setup_runnable),
		T(test_pamt_add_pages_inside_range, fx_setup_runnable),
		T(test_pamt_remove_errors, fx_setup_runnable),
		T(test_dpamt_rules, fx_setup_runnable),
		T(test_dpamt_get_put_race, fx_setup_runnable),
		T(test_reclaim_before_teardown, fx_setup_runnable),
		T(test_reclaim_teardown_by_hand, fx_setup_runnable),
		T(test_wbinvd_mapped, fx_setup_runnable),
		T(test_wbinvd_after_remove, fx_setup_runnable),
		T(test_free_dirty_page_is_misuse, fx_setup_runnable),
		T(test_reset_quirk, setup_reset_quirk),
		T(test_reset_quirk_free_unreset, setup_reset_quirk),
	};

	return run_group(tests);
}
