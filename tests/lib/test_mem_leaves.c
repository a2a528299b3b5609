// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TD-memory SEAMCALLs one at a time: TDH.MEM.SEPT.ADD, PAGE.ADD, PAGE.AUG,
 * RANGE.BLOCK/UNBLOCK, TRACK, PAGE.REMOVE and SEPT.REMOVE, each with its
 * success path and the error paths of spec seamcall.md §2.1-§2.11 and the
 * state table §3.2.  Every failure is checked with its full status (operand
 * included), the RCX/RDX details, and that nothing changed.
 */
#include "harness.h"
#include "tdxsim-internal.h"	/* to hold the SEPT tree lock in the check-order test */

#define GPA0		GPA_2M(0)	/* 1GB aligned too */
#define SRC_PA		0x2000ULL	/* PAGE.ADD source: any shared page */
#define SZ_4K		0x1000ULL
#define SHARED_BIT	(1ULL << 47)	/* GPAW 48 */
#define ARCH_RWX	(SEPT_ARCH_R | SEPT_ARCH_W | SEPT_ARCH_X)

/* ------------------------------------------------------------------------
 * Helpers
 */

static u64 seamcall_v(struct fixture *fx, unsigned int leaf, unsigned int version,
		      struct tdx_module_args *a)
{
	return tdxsim_seamcall(fx->sim, (u64)leaf | ((u64)version << TDX_VERSION_SHIFT), a);
}

static u64 chldcnt(struct fixture *fx)
{
	return tdxsim_td_chldcnt(fx->sim, fx->td);
}

static u64 epoch(struct fixture *fx)
{
	return tdxsim_td_epoch(fx->sim, fx->td);
}

static struct tdxsim_sept_info sept_at(struct fixture *fx, u64 gpa, int level)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, level, &si), 0);
	return si;
}

static struct tdxsim_pamt_info pamt_of(struct fixture *fx, u64 hpa)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	return pi;
}

/* RDX of a walk/state error: level | public state << 8 (spec §0.2). */
static u64 level_state(int level, u8 state)
{
	return (u64)level | ((u64)state << TDX_SEPT_INFO_STATE_SHIFT);
}

/*
 * The architectural entry the module reports for a leaf
 * (set_arch_septe_details_in_vmm_regs(), SEPT_ARCH_ENTRY_LEAF_MASK): PS and
 * IPAT are part of every leaf state's encoding, SVE is set on every leaf, RWX
 * only while MAPPED.  The level does not change it.
 */
static u64 arch_leaf(u64 hpa, int level, bool mapped)
{
	(void)level;
	return hpa | SEPT_ARCH_MT_WB | SEPT_ARCH_IPAT | SEPT_ARCH_PS | SEPT_ARCH_SVE |
	       (mapped ? ARCH_RWX : 0);
}

/* A non-leaf entry: RWX | PS only (SEPT_ARCH_ENTRY_NON_LEAF_MASK), no address. */
#define ARCH_NL_MAPPED	ARCH_RWX
#define ARCH_NL_BLOCKED	0ULL

/*
 * Failed call: full status and both detail registers.  The outputs come by
 * pointer: the call that fills them is an argument too.
 */
static void assert_fail(u64 st, const u64 *e1, const u64 *e2, u64 want, u64 want1, u64 want2)
{
	assert_status(st, want);
	assert_int_equal(*e1, want1);
	assert_int_equal(*e2, want2);
}

/* What a failed call must not change: child count and the entry mapping @gpa. */
struct snap {
	u64 chldcnt;
	u64 epoch;
	struct tdxsim_sept_info si;
};

static void snap_take(struct fixture *fx, u64 gpa, struct snap *s)
{
	s->chldcnt = chldcnt(fx);
	s->epoch = epoch(fx);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gpa, &s->si), 0);
}

static void snap_check(struct fixture *fx, u64 gpa, const struct snap *s)
{
	struct snap now;

	snap_take(fx, gpa, &now);
	assert_int_equal(now.chldcnt, s->chldcnt);
	assert_int_equal(now.epoch, s->epoch);
	assert_int_equal(now.si.level, s->si.level);
	assert_int_equal(now.si.state, s->si.state);
	assert_int_equal(now.si.hpa, s->si.hpa);
	assert_int_equal(now.si.entry, s->si.entry);
}

/* A page operand that was refused must keep its PAMT state. */
static void page_check(struct fixture *fx, u64 hpa, const struct tdxsim_pamt_info *before)
{
	struct tdxsim_pamt_info pi = pamt_of(fx, hpa);

	assert_int_equal(pi.level, before->level);
	assert_int_equal(pi.pt, before->pt);
	assert_int_equal(pi.owner, before->owner);
	assert_int_equal(pi.dpamt_pair, before->dpamt_pair);
	assert_int_equal(pi.dpamt_count, before->dpamt_count);
}

/* A 2MB block of host memory; its range has no DPAMT pair until asked for. */
static u64 alloc_2m(struct fixture *fx)
{
	u64 pa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);

	assert_true(pa != 0);
	return pa;
}

static void free_2m(struct fixture *fx, u64 pa)
{
	assert_int_equal(tdxsim_page_free(fx->sim, pa, TDX_PS_2M), 0);
}

static void free_4k(struct fixture *fx, u64 pa)
{
	assert_int_equal(tdxsim_page_free(fx->sim, pa, TDX_PS_4K), 0);
}

/* TDH.PHYMEM.PAGE.WBINVD with the TD's key over @size bytes (spec §2.12). */
static void wbinvd(struct fixture *fx, u64 hpa, u64 size)
{
	for (u64 off = 0; off < size; off += SZ_4K)
		assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, hpa + off),
			      TDX_SUCCESS);
}

/* A removed page stays dirty with the TD's HKID until WBINVD (spec §2.10). */
static void assert_dirty(struct fixture *fx, u64 hpa, bool dirty)
{
	struct tdxsim_pamt_info pi = pamt_of(fx, hpa);

	assert_int_equal(pi.dirty, dirty);
	if (dirty)
		assert_int_equal(pi.dirty_hkid, fx->td->hkid);
}

/* AUG a 4K page and let the guest accept it: a MAPPED leaf in a RUNNABLE TD. */
static u64 make_mapped(struct fixture *fx, u64 gpa, int level)
{
	u64 hpa = fx_aug(fx, gpa, level);

	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, level), TDX_SUCCESS);
	tdxsim_vcpu_exit(fx->vcpu);
	assert_int_equal(sept_at(fx, gpa, level).state, SEPT_PUBLIC_MAPPED);
	return hpa;
}

static u64 track(struct fixture *fx)
{
	return tdxsim_tdh_mem_track(fx->td);
}

/* ------------------------------------------------------------------------
 * TDH.MEM.SEPT.ADD (spec §2.2)
 */

/* Levels 3, 2, 1 in turn: parent NL_MAPPED, page PT_EPT, chldcnt and DPAMT count +1. */
static void test_sept_add_levels(void **state)
{
	struct fixture *fx = *state;

	for (int level = 3; level >= TDX_PS_2M; level--) {
		u64 base = GPA0 & ~(tdx_level_size(level) - 1);
		u64 page = fx_alloc_4k(fx), cnt = chldcnt(fx), e1 = ~0ULL, e2 = ~0ULL;
		u16 dcount = pamt_of(fx, page).dpamt_count;
		struct tdxsim_sept_info si = sept_at(fx, base, level);
		struct tdxsim_pamt_info pi;

		assert_int_equal(si.state, SEPT_PUBLIC_FREE);
		assert_status(tdxsim_tdh_mem_sept_add(fx->td, base, level, page, &e1, &e2), TDX_SUCCESS);
		assert_int_equal(e1, 0);
		assert_int_equal(e2, 0);
		si = sept_at(fx, base, level);
		assert_int_equal(si.state, SEPT_PUBLIC_NL_MAPPED);
		assert_false(si.leaf);
		assert_int_equal(si.hpa, page);
		assert_int_equal(si.entry, ARCH_NL_MAPPED);
		pi = pamt_of(fx, page);
		assert_int_equal(pi.level, TDX_PS_4K);
		assert_int_equal(pi.pt, PT_EPT);
		assert_int_equal(pi.owner, fx->td->tdr_pa);
		assert_int_equal(pi.dpamt_count, dcount + 1);
		assert_int_equal(chldcnt(fx), cnt + 1);
		/* The new table's entries are reachable and FREE. */
		assert_int_equal(sept_at(fx, GPA0, level - 1).state, SEPT_PUBLIC_FREE);
	}
}

/* NL_MAPPED without allow_existing: EPT_ENTRY_STATE_INCORRECT|RCX with the details. */
static void test_sept_add_existing(void **state)
{
	struct fixture *fx = *state;
	u64 table, page, e1, e2;
	struct tdxsim_pamt_info pi;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	table = sept_at(fx, GPA0, TDX_PS_2M).hpa;
	page = fx_alloc_4k(fx);
	pi = pamt_of(fx, page);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, page, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, ARCH_NL_MAPPED,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED));
	snap_check(fx, GPA0, &s);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_2M).hpa, table);
	page_check(fx, page, &pi);
	free_4k(fx, page);
}

/*
 * allow_existing (RDX bit 0): success without using the page.  The module
 * writes R8 back only for version 1: the page with bit 63 = "not used".
 */
static void test_sept_add_allow_existing(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a;
	struct tdxsim_pamt_info pi;
	u64 table, page;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	table = sept_at(fx, GPA0, TDX_PS_2M).hpa;
	page = fx_alloc_4k(fx);
	pi = pamt_of(fx, page);
	snap_take(fx, GPA0, &s);

	a = (struct tdx_module_args){ .rcx = GPA0 | TDX_PS_2M,
				      .rdx = fx->td->tdr_pa | TDX_TD_HANDLE_FLAG, .r8 = page };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 1, &a), TDX_SUCCESS);
	assert_int_equal(a.r8, page | TDX_SEPT_ADD_PAGE_NOT_USED);
	assert_int_equal(a.rcx, 0);
	assert_int_equal(a.rdx, 0);

	a = (struct tdx_module_args){ .rcx = GPA0 | TDX_PS_2M,
				      .rdx = fx->td->tdr_pa | TDX_TD_HANDLE_FLAG, .r8 = page };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 0, &a), TDX_SUCCESS);
	assert_int_equal(a.r8, page);	/* version 0 leaves R8 alone */

	snap_check(fx, GPA0, &s);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_2M).hpa, table);
	page_check(fx, page, &pi);
	free_4k(fx, page);
}

/*
 * R8 per version (tdh_mem_sept_add.c, process_l1_page()): "no page" is NULL_PA
 * (all ones), which version 0 refuses (OPERAND_INVALID|R8, after the walk,
 * whatever the parent) and version 1 accepts over an existing table only.
 * 0 is an ordinary page address: outside the TDMR.  Version 1 writes R8 back
 * on success and on failure: NULL_PA once the page is used, the page with bit
 * 63 set when an existing table made it unused, else the input (bit 63 of a
 * page address cleared).
 */
static void test_sept_add_v1_outputs(void **state)
{
	struct fixture *fx = *state;
	u64 parent = GPA0 | TDX_PS_2M;
	struct tdx_module_args a;
	u64 page;

	fx_map_sept(fx, GPA0, TDX_PS_2M);
	/* Version 0: NULL_PA is refused even over a FREE parent; 0 is out of range. */
	a = (struct tdx_module_args){ .rcx = parent, .rdx = fx->td->tdr_pa, .r8 = TDX_NULL_PA };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 0, &a), TDX_OPERAND_INVALID |
		      TDX_OPERAND_ID_R8);
	assert_int_equal(a.r8, TDX_NULL_PA);	/* version 0 leaves R8 alone */
	a = (struct tdx_module_args){ .rcx = parent, .rdx = fx->td->tdr_pa, .r8 = 0 };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 0, &a), TDX_OPERAND_ADDR_RANGE_ERROR |
		      TDX_OPERAND_ID_R8);
	/* Version 1, no page, no table yet: the parent is in the wrong state. */
	a = (struct tdx_module_args){ .rcx = parent, .rdx = fx->td->tdr_pa, .r8 = TDX_NULL_PA };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 1, &a),
		      TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, SEPT_ARCH_SVE);
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_FREE));
	assert_int_equal(a.r8, TDX_NULL_PA);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_2M).state, SEPT_PUBLIC_FREE);
	/* Version 1, R8 = 0: out of range, and R8 comes back as given. */
	a = (struct tdx_module_args){ .rcx = parent, .rdx = fx->td->tdr_pa, .r8 = 0 };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 1, &a), TDX_OPERAND_ADDR_RANGE_ERROR |
		      TDX_OPERAND_ID_R8);
	assert_int_equal(a.r8, 0);

	/* A page with bit 63 set is that page; once used R8 reads NULL_PA. */
	page = fx_alloc_4k(fx);
	a = (struct tdx_module_args){ .rcx = parent, .rdx = fx->td->tdr_pa,
				      .r8 = page | TDX_SEPT_ADD_PAGE_NOT_USED };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 1, &a), TDX_SUCCESS);
	assert_int_equal(a.r8, TDX_NULL_PA);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_2M).hpa, page);

	/* The table exists now: NULL_PA is fine in version 1, refused in version 0. */
	a = (struct tdx_module_args){ .rcx = parent, .rdx = fx->td->tdr_pa, .r8 = TDX_NULL_PA };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 1, &a), TDX_SUCCESS);
	assert_int_equal(a.r8, TDX_NULL_PA);
	a = (struct tdx_module_args){ .rcx = parent, .rdx = fx->td->tdr_pa, .r8 = TDX_NULL_PA };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 0, &a), TDX_OPERAND_INVALID |
		      TDX_OPERAND_ID_R8);
	/* allow_existing: R8 is not even checked (0 passes) and comes back flagged. */
	a = (struct tdx_module_args){ .rcx = parent, .rdx = fx->td->tdr_pa | TDX_TD_HANDLE_FLAG,
				      .r8 = 0 };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 1, &a), TDX_SUCCESS);
	assert_int_equal(a.r8, TDX_SEPT_ADD_PAGE_NOT_USED);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_2M).hpa, page);
	/* A failure after the TD handle check still writes R8 back (the EXIT path). */
	a = (struct tdx_module_args){ .rcx = parent | 0x8, .rdx = fx->td->tdr_pa,
				      .r8 = page | TDX_SEPT_ADD_PAGE_NOT_USED };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 1, &a), TDX_OPERAND_INVALID |
		      TDX_OPERAND_ID_RCX);
	assert_int_equal(a.r8, page);
}

/* The parent of the requested entry is missing: EPT_WALK_FAILED where the walk stopped. */
static void test_sept_add_walk_failed(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), e1, e2;
	struct tdxsim_pamt_info pi = pamt_of(fx, page);
	struct snap s;

	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, page, &e1, &e2), &e1, &e2,
		    TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(3, SEPT_PUBLIC_FREE));
	snap_check(fx, GPA0, &s);

	fx_map_sept(fx, GPA0, 2);	/* level-3 entry only */
	pi = pamt_of(fx, page);		/* the range's DPAMT count moved with it */
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, page, &e1, &e2), &e1, &e2,
		    TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(2, SEPT_PUBLIC_FREE));
	snap_check(fx, GPA0, &s);
	page_check(fx, page, &pi);
	free_4k(fx, page);
}

/* A leaf at the parent level is neither FREE nor NL_MAPPED (spec §3.2). */
static void test_sept_add_over_leaf(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = fx_aug(fx, GPA0, TDX_PS_2M), page = fx_alloc_4k(fx), e1, e2;
	struct snap s;

	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, page, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX,
		    arch_leaf(hpa, TDX_PS_2M, false),
		    level_state(TDX_PS_2M, SEPT_PUBLIC_PENDING));
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* Level 0 (no table below a 4K entry) and levels above the root are refused. */
static void test_sept_add_bad_level(void **state)
{
	struct fixture *fx = *state;
	static const int levels[] = { TDX_PS_4K, 4, 7 };
	u64 page = fx_alloc_4k(fx), e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	snap_take(fx, GPA0, &s);
	for (unsigned int i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		/* GPA 0 is aligned for every level. */
		assert_fail(tdxsim_tdh_mem_sept_add(fx->td, 0, levels[i], page, &e1, &e2), &e1, &e2,
			    TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX, 0, 0);
		assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, levels[i], page, &e1, &e2), &e1, &e2,
			    TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX, 0, 0);
	}
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* GPA not aligned to the level, shared GPA, beyond GPAW, RCX reserved bits. */
static void test_sept_add_bad_gpa(void **state)
{
	struct fixture *fx = *state;
	const u64 bad[] = {
		(GPA0 + SZ_4K) | TDX_PS_2M,
		(GPA0 | SHARED_BIT) | TDX_PS_2M,
		(GPA0 | (1ULL << 48)) | TDX_PS_2M,
		GPA0 | TDX_PS_2M | (1ULL << 3),
		GPA0 | TDX_PS_2M | (1ULL << 60),
	};
	u64 page = fx_alloc_4k(fx);
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tdx_module_args a = { .rcx = bad[i], .rdx = fx->td->tdr_pa, .r8 = page };

		assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 0, &a),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
		assert_int_equal(a.rcx, 0);
		assert_int_equal(a.rdx, 0);
	}
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* R8 address checks: alignment/HKID bits -> INVALID, outside the TDMR -> ADDR_RANGE. */
static void test_sept_add_page_addr(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), e1, e2;
	const struct {
		u64 pa, status;
	} bad[] = {
		{ page + 0x800, TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8 },
		{ tdxsim_mk_keyed_paddr(fx->sim, fx->td->hkid, page),
		  TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8 },
		{ fx->cfg.mem_base - SZ_4K, TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8 },
		{ fx->cfg.mem_base + fx->cfg.mem_size,
		  TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8 },
	};
	struct tdxsim_pamt_info pi;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_2M);
	pi = pamt_of(fx, page);
	snap_take(fx, GPA0, &s);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, bad[i].pa, &e1, &e2),
			    &e1, &e2, bad[i].status, 0, 0);
	snap_check(fx, GPA0, &s);
	page_check(fx, page, &pi);
	free_4k(fx, page);
}

/* R8 already owned by the module (TDCX, S-EPT page, DPAMT page): PAGE_METADATA_INCORRECT. */
static void test_sept_add_page_in_use(void **state)
{
	struct fixture *fx = *state;
	u64 sept_page, pair_page, e1, e2;
	struct tdxsim_pamt_info pi;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_2M);
	sept_page = sept_at(fx, GPA0, 2).hpa;
	pi = pamt_of(fx, fx->td->tdcx_pa[0]);
	assert_true(pi.dpamt_pair);
	pair_page = pi.dpamt_pages[0];
	/* spec §4.3: the pair page's own range has a pair, so only the bitmap refuses it. */
	assert_true(pamt_of(fx, pair_page).dpamt_pair);
	assert_true(pamt_of(fx, pair_page).pamt_page);

	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, fx->td->tdcx_pa[0], &e1, &e2),
		    &e1, &e2, TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8, 0, 0);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, sept_page, &e1, &e2),
		    &e1, &e2, TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8, 0, 0);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, pair_page, &e1, &e2),
		    &e1, &e2, TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, fx->td->tdcx_pa[0]).pt, PT_TDCX);
	assert_int_equal(pamt_of(fx, sept_page).pt, PT_EPT);
	assert_true(pamt_of(fx, pair_page).pamt_page);
}

/* DPAMT: a 4K page of a 2MB range without a pair: MISSING_PAMT_PAGE_PAIR|R8 (§4.3). */
static void test_sept_add_no_pair(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), e1, e2;
	struct tdxsim_pamt_info pi = pamt_of(fx, block);
	struct snap s;

	assert_false(pi.dpamt_pair);
	fx_map_sept(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, block, &e1, &e2), &e1, &e2,
		    TDX_MISSING_PAMT_PAGE_PAIR | TDX_OPERAND_ID_R8, 0, 0);
	snap_check(fx, GPA0, &s);
	page_check(fx, block, &pi);
	free_2m(fx, block);
}

/* RDX is a TD handle: bits 11:1 and 63:52 reserved (spec §0.2). */
static void test_sept_add_rdx_reserved(void **state)
{
	struct fixture *fx = *state;
	const u64 rsvd[] = { 1ULL << 1, 1ULL << 11, 1ULL << 52, 1ULL << 63 };
	u64 page = fx_alloc_4k(fx);
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	for (unsigned int i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++) {
		struct tdx_module_args a = {
			.rcx = GPA0 | TDX_PS_2M, .rdx = fx->td->tdr_pa | rsvd[i], .r8 = page,
		};

		assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 0, &a),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
		assert_int_equal(a.rcx, 0);
		assert_int_equal(a.rdx, 0);
	}
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* ------------------------------------------------------------------------
 * TDH.MEM.PAGE.ADD (spec §2.3), TD INITIALIZED
 */

static void test_page_add_success(void **state)
{
	struct fixture *fx = *state;
	u64 page, cnt, e1 = ~0ULL, e2 = ~0ULL;
	struct tdxsim_sept_info si;
	struct tdxsim_pamt_info pi;
	u16 dcount;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	cnt = chldcnt(fx);
	dcount = pamt_of(fx, page).dpamt_count;
	assert_status(tdxsim_tdh_mem_page_add(fx->td, GPA0, page, SRC_PA, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	/* MAPPED right away: a build-time page needs no ACCEPT. */
	si = sept_at(fx, GPA0, TDX_PS_4K);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
	assert_true(si.leaf);
	assert_int_equal(si.hpa, page);
	assert_int_equal(si.entry, arch_leaf(page, TDX_PS_4K, true));
	pi = pamt_of(fx, page);
	assert_int_equal(pi.level, TDX_PS_4K);
	assert_int_equal(pi.pt, PT_REG);
	assert_int_equal(pi.owner, fx->td->tdr_pa);
	assert_int_equal(pi.dpamt_count, dcount + 1);
	assert_int_equal(chldcnt(fx), cnt + 1);
}

/* verify_page_info_input(LVL_PT, LVL_PT): only 4K. */
static void test_page_add_level(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx);
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	snap_take(fx, GPA0, &s);
	for (int level = TDX_PS_2M; level <= TDX_PS_1G; level++) {
		struct tdx_module_args a = {
			.rcx = GPA0 | (u64)level, .rdx = fx->td->tdr_pa, .r8 = page, .r9 = SRC_PA,
		};

		assert_status(seamcall_v(fx, TDH_MEM_PAGE_ADD, 0, &a),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
		assert_int_equal(a.rcx, 0);
		assert_int_equal(a.rdx, 0);
	}
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* op_state gating (§2.1.1): PAGE.ADD is for INITIALIZED only. */
static void test_page_add_runnable(void **state)
{
	struct fixture *fx = *state;
	u64 page, e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_add(fx->td, GPA0, page, SRC_PA, &e1, &e2), &e1, &e2,
		    TDX_OP_STATE_INCORRECT, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* R9, the shared source page: 4K aligned, no KeyID -> else OPERAND_INVALID|R9. */
static void test_page_add_source(void **state)
{
	struct fixture *fx = *state;
	const u64 bad[] = { SRC_PA + 0x800, SRC_PA + 8,
			    tdxsim_mk_keyed_paddr(fx->sim, fx->td->hkid, SRC_PA) };
	u64 page, e1, e2;
	struct tdxsim_pamt_info pi;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	pi = pamt_of(fx, page);
	snap_take(fx, GPA0, &s);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_fail(tdxsim_tdh_mem_page_add(fx->td, GPA0, page, bad[i], &e1, &e2), &e1, &e2,
			    TDX_OPERAND_INVALID | TDX_OPERAND_ID_R9, 0, 0);
	snap_check(fx, GPA0, &s);
	page_check(fx, page, &pi);
	free_4k(fx, page);
}

/* The entry must be FREE (§3.2); a walk that stops above level 0 fails first. */
static void test_page_add_entry(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), page2 = fx_alloc_4k(fx), e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_2M);	/* no level-1 table yet */
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_add(fx->td, GPA0, page, SRC_PA, &e1, &e2), &e1, &e2,
		    TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_FREE));
	snap_check(fx, GPA0, &s);

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	assert_status(tdxsim_tdh_mem_page_add(fx->td, GPA0, page, SRC_PA, &e1, &e2), TDX_SUCCESS);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_add(fx->td, GPA0, page2, SRC_PA, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX,
		    arch_leaf(page, TDX_PS_4K, true),
		    level_state(TDX_PS_4K, SEPT_PUBLIC_MAPPED));
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page2).pt, PT_NDA);
	free_4k(fx, page2);
}

/* R8, the target page: same checks as every private page the module takes. */
static void test_page_add_target(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), block = alloc_2m(fx), e1, e2;
	const struct {
		u64 pa, status;
	} bad[] = {
		{ page + 0x800, TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8 },
		{ tdxsim_mk_keyed_paddr(fx->sim, fx->td->hkid, page),
		  TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8 },
		{ fx->cfg.mem_base + fx->cfg.mem_size,
		  TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8 },
		{ fx->td->tdcx_pa[1], TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8 },
		{ block, TDX_MISSING_PAMT_PAGE_PAIR | TDX_OPERAND_ID_R8 },
	};
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	snap_take(fx, GPA0, &s);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_fail(tdxsim_tdh_mem_page_add(fx->td, GPA0, bad[i].pa, SRC_PA, &e1, &e2),
			    &e1, &e2, bad[i].status, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	assert_int_equal(pamt_of(fx, fx->td->tdcx_pa[1]).pt, PT_TDCX);
	assert_false(pamt_of(fx, block).dpamt_pair);
	free_4k(fx, page);
	free_2m(fx, block);
}

/* ------------------------------------------------------------------------
 * TDH.MEM.PAGE.AUG (spec §2.4)
 */

static void test_aug_4k(void **state)
{
	struct fixture *fx = *state;
	u64 page, cnt, e1 = ~0ULL, e2 = ~0ULL;
	struct tdxsim_sept_info si;
	struct tdxsim_pamt_info pi;
	u16 dcount;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	cnt = chldcnt(fx);
	dcount = pamt_of(fx, page).dpamt_count;
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_4K, page >> 12, &e1, &e2),
		      TDX_SUCCESS);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	si = sept_at(fx, GPA0, TDX_PS_4K);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
	assert_true(si.leaf);
	assert_int_equal(si.hpa, page);
	assert_int_equal(si.entry, arch_leaf(page, TDX_PS_4K, false));
	pi = pamt_of(fx, page);
	assert_int_equal(pi.level, TDX_PS_4K);
	assert_int_equal(pi.pt, PT_REG);
	assert_int_equal(pi.owner, fx->td->tdr_pa);
	assert_int_equal(pi.dpamt_count, dcount + 1);
	assert_int_equal(chldcnt(fx), cnt + 1);
}

static void test_aug_2m(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), cnt, e1 = ~0ULL, e2 = ~0ULL;
	struct tdxsim_sept_info si;

	fx_map_sept(fx, GPA0, TDX_PS_2M);
	cnt = chldcnt(fx);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_2M, block >> 12, &e1, &e2),
		      TDX_SUCCESS);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	si = sept_at(fx, GPA0, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
	assert_true(si.leaf);
	assert_int_equal(si.hpa, block);
	assert_int_equal(si.entry, arch_leaf(block, TDX_PS_2M, false));
	/* Every 4K of it is covered by the one 2MB PAMT leaf; no DPAMT pair (§4.5). */
	for (u64 off = 0; off < SZ_2M; off += SZ_2M - SZ_4K) {
		struct tdxsim_pamt_info pi = pamt_of(fx, block + off);

		assert_int_equal(pi.level, TDX_PS_2M);
		assert_int_equal(pi.pt, PT_REG);
		assert_int_equal(pi.owner, fx->td->tdr_pa);
		assert_false(pi.dpamt_pair);
	}
	assert_int_equal(chldcnt(fx), cnt + 512);
}

/* 1GB is not an AUG level (verify_page_info_input(LVL_PT, LVL_PD)). */
static void test_aug_level_1g(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_1G);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_1G, block >> 12, &e1, &e2), &e1, &e2,
		    TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, block).pt, PT_NDA);
	free_2m(fx, block);
}

/* A 2MB page must be 2MB aligned in host memory. */
static void test_aug_2m_misaligned(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_2M, (block + SZ_4K) >> 12, &e1, &e2),
		    &e1, &e2, TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, block).pt, PT_NDA);
	free_2m(fx, block);
}

/* 4K under a 2MB leaf: the walk stops at the leaf, level 1 (spec §2.4, F4). */
static void test_aug_4k_under_2m_leaf(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = fx_aug(fx, GPA0, TDX_PS_2M), page = fx_alloc_4k(fx), e1, e2;
	struct snap s;

	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0 + SZ_4K, TDX_PS_4K, page >> 12, &e1, &e2),
		    &e1, &e2, TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX,
		    arch_leaf(hpa, TDX_PS_2M, false),
		    level_state(TDX_PS_2M, SEPT_PUBLIC_PENDING));
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* 4K with the level-1 entry FREE: no page table to put it in. */
static void test_aug_4k_no_table(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_4K, page >> 12, &e1, &e2), &e1, &e2,
		    TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_FREE));
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* 2MB over an NL_MAPPED level-1 entry (range split, spec F5): state incorrect. */
static void test_aug_2m_over_table(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_2M, block >> 12, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, ARCH_NL_MAPPED,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED));
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, block).pt, PT_NDA);
	free_2m(fx, block);
}

/* AUG is allowed on FREE (and REMOVED) only (§3.2). */
static void test_aug_entry_not_free(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = fx_aug(fx, GPA0, TDX_PS_4K), page = fx_alloc_4k(fx), e1, e2;
	struct snap s;

	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_4K, page >> 12, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX,
		    arch_leaf(hpa, TDX_PS_4K, false),
		    level_state(TDX_PS_4K, SEPT_PUBLIC_PENDING));
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* DPAMT: a 2MB AUG of a range whose pair is installed fails "forever" (§2.4, [P18]). */
static void test_aug_2m_pair_installed(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), e1, e2;
	struct tdxsim_pamt_info pi;
	struct snap s;

	fx_ensure_pair(fx, block);
	pi = pamt_of(fx, block);
	assert_true(pi.dpamt_pair);
	assert_int_equal(pi.dpamt_count, 0);
	fx_map_sept(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_2M, block >> 12, &e1, &e2), &e1, &e2,
		    TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8, 0, 0);
	snap_check(fx, GPA0, &s);
	page_check(fx, block, &pi);
	/* The pair is left for the teardown's PAMT.REMOVE. */
	free_2m(fx, block);
}

/* DPAMT: a 4K AUG needs its 2MB range's pair. */
static void test_aug_4k_no_pair(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), e1, e2;
	struct tdxsim_pamt_info pi = pamt_of(fx, block);
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_4K, block >> 12, &e1, &e2), &e1, &e2,
		    TDX_MISSING_PAMT_PAGE_PAIR | TDX_OPERAND_ID_R8, 0, 0);
	snap_check(fx, GPA0, &s);
	page_check(fx, block, &pi);
	free_2m(fx, block);
}

/* Static PAMT: a 2MB AUG needs all 512 4K PAMT entries free (spec §2.4). */
static void test_aug_2m_static_pamt_busy_range(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), clean, e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA_2M(1), TDX_PS_4K);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, GPA_2M(1), TDX_PS_4K, (block + SZ_4K) >> 12,
				       &e1, &e2), TDX_SUCCESS);
	fx_map_sept(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_2M, block >> 12, &e1, &e2), &e1, &e2,
		    TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, block).pt, PT_NDA);
	assert_int_equal(pamt_of(fx, block + SZ_4K).pt, PT_REG);

	/* The same call with a clean 2MB range works: the 4K page was the reason. */
	clean = alloc_2m(fx);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_2M, clean >> 12, &e1, &e2),
		      TDX_SUCCESS);
	/* Give back the unused rest of @block; the TD's page goes at teardown. */
	for (u64 off = 0; off < SZ_2M; off += SZ_4K) {
		if (off != SZ_4K)
			free_4k(fx, block + off);
	}
}

/* ------------------------------------------------------------------------
 * TDH.MEM.RANGE.BLOCK / UNBLOCK (spec §2.5, §2.7)
 */

/* MAPPED -> BLOCKED (bepoch = epoch) -> TRACK -> UNBLOCK -> MAPPED. */
static void test_block_unblock_mapped(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = make_mapped(fx, GPA0, TDX_PS_4K), cnt = chldcnt(fx), e1, e2, e;
	struct tdxsim_sept_info si;

	assert_status(track(fx), TDX_SUCCESS);	/* epoch 2: bepoch is not a default */
	e = epoch(fx);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	si = sept_at(fx, GPA0, TDX_PS_4K);
	assert_int_equal(si.state, SEPT_PUBLIC_BLOCKED);
	assert_int_equal(si.hpa, hpa);
	assert_int_equal(si.entry, arch_leaf(hpa, TDX_PS_4K, false));
	assert_int_equal(pamt_of(fx, hpa).bepoch, e);

	assert_status(track(fx), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	si = sept_at(fx, GPA0, TDX_PS_4K);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(si.entry, arch_leaf(hpa, TDX_PS_4K, true));
	assert_int_equal(chldcnt(fx), cnt);
}

/* PENDING (2MB) -> PENDING_BLOCKED -> PENDING; bepoch on the 2MB PAMT entry. */
static void test_block_unblock_pending(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = fx_aug(fx, GPA0, TDX_PS_2M), e1, e2;
	struct tdxsim_sept_info si;

	assert_status(track(fx), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	si = sept_at(fx, GPA0, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING_BLOCKED);
	assert_int_equal(si.entry, arch_leaf(hpa, TDX_PS_2M, false));
	assert_int_equal(pamt_of(fx, hpa).level, TDX_PS_2M);
	assert_int_equal(pamt_of(fx, hpa).bepoch, epoch(fx));

	assert_status(track(fx), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	si = sept_at(fx, GPA0, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
	assert_int_equal(si.entry, arch_leaf(hpa, TDX_PS_2M, false));
	assert_int_equal(pamt_of(fx, hpa).pt, PT_REG);
}

/* NL_MAPPED -> NL_BLOCKED (walks stop there; bepoch on the child table) -> NL_MAPPED. */
static void test_block_unblock_nl(void **state)
{
	struct fixture *fx = *state;
	u64 table, e1, e2, e;
	struct tdxsim_sept_info si;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	table = sept_at(fx, GPA0, TDX_PS_2M).hpa;
	assert_status(track(fx), TDX_SUCCESS);
	e = epoch(fx);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	si = sept_at(fx, GPA0, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_NL_BLOCKED);
	assert_int_equal(si.entry, ARCH_NL_BLOCKED);	/* RWX cleared, no address */
	assert_int_equal(pamt_of(fx, table).bepoch, e);
	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, GPA0, TDX_PS_4K, &si),
			 -ENOENT);

	assert_status(track(fx), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	si = sept_at(fx, GPA0, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_NL_MAPPED);
	assert_int_equal(si.entry, ARCH_NL_MAPPED);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).state, SEPT_PUBLIC_FREE);
}

/* Any-BLOCKED: TDX_GPA_RANGE_ALREADY_BLOCKED|RCX, a warning (bit 63 clear). */
static void test_block_already_blocked(void **state)
{
	struct fixture *fx = *state;
	u64 hpa4k = make_mapped(fx, GPA0, TDX_PS_4K), hpa2m = fx_aug(fx, GPA_2M(1), TDX_PS_2M);
	u64 table = sept_at(fx, GPA0, TDX_PS_2M).hpa, e1, e2, st, e;
	struct snap s;

	e = epoch(fx);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA_2M(1), TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_status(track(fx), TDX_SUCCESS);

	snap_take(fx, GPA0, &s);
	st = tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2);
	assert_fail(st, &e1, &e2, TDX_GPA_RANGE_ALREADY_BLOCKED | TDX_OPERAND_ID_RCX,
		    arch_leaf(hpa4k, TDX_PS_4K, false),
		    level_state(TDX_PS_4K, SEPT_PUBLIC_BLOCKED));
	assert_false(st & TDX_ERROR);
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, hpa4k).bepoch, e);	/* not re-stamped */

	snap_take(fx, GPA_2M(1), &s);
	assert_fail(tdxsim_tdh_mem_range_block(fx->td, GPA_2M(1), TDX_PS_2M, &e1, &e2), &e1, &e2,
		    TDX_GPA_RANGE_ALREADY_BLOCKED | TDX_OPERAND_ID_RCX,
		    arch_leaf(hpa2m, TDX_PS_2M, false),
		    level_state(TDX_PS_2M, SEPT_PUBLIC_PENDING_BLOCKED));
	snap_check(fx, GPA_2M(1), &s);
	assert_int_equal(pamt_of(fx, hpa2m).bepoch, e);

	/* NL_BLOCKED too. */
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_fail(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_2M, &e1, &e2), &e1, &e2,
		    TDX_GPA_RANGE_ALREADY_BLOCKED | TDX_OPERAND_ID_RCX, ARCH_NL_BLOCKED,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_NL_BLOCKED));
	assert_int_equal(pamt_of(fx, table).bepoch, e + 1);
}

/*
 * RCX of a failing leaf, state by state, in literal bits as
 * set_arch_septe_details_in_vmm_regs() builds it: a leaf is its entry masked
 * with SEPT_ARCH_ENTRY_LEAF_MASK, where MT is WB, IPAT and PS are part of
 * every leaf state's encoding (4K too) and SVE is always set; RWX is 7 only
 * for MAPPED (AUG writes PENDING with SEPT_PERMISSIONS_NONE, BLOCK clears
 * them).  A non-leaf entry keeps RWX | PS only: 0x7 or 0, no address.
 * tdxsim_sept_info.entry reports the same value.
 */
static void assert_rcx_entry(struct fixture *fx, u64 gpa, int level, u8 state, u64 want)
{
	u64 page = fx_alloc_4k(fx), e1, e2;

	/* AUG 4K refuses anything but FREE/REMOVED at the 4K level... */
	if (level == TDX_PS_4K)
		assert_fail(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, page >> 12, &e1, &e2),
			    &e1, &e2, TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, want,
			    level_state(level, state));
	/* ...and PAGE.REMOVE anything but a leaf at the 2MB level. */
	else
		assert_fail(tdxsim_tdh_mem_page_remove(fx->td, gpa, level, &e1, &e2), &e1, &e2,
			    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, want,
			    level_state(level, state));
	assert_int_equal(sept_at(fx, gpa, level).entry, want);
	free_4k(fx, page);
}

static void test_arch_entry_per_state(void **state)
{
	struct fixture *fx = *state;
	u64 g_pend = GPA0, g_map = GPA0 + SZ_4K, hpa_pend, hpa_map, e1, e2;

	hpa_pend = fx_aug(fx, g_pend, TDX_PS_4K);
	hpa_map = make_mapped(fx, g_map, TDX_PS_4K);
	assert_rcx_entry(fx, g_pend, TDX_PS_4K, SEPT_PUBLIC_PENDING,
			 hpa_pend | 0x80000000000000F0ULL);
	assert_rcx_entry(fx, g_map, TDX_PS_4K, SEPT_PUBLIC_MAPPED,
			 hpa_map | 0x80000000000000F7ULL);
	/* The level-1 entry above them: NL_MAPPED reads as RWX alone. */
	assert_rcx_entry(fx, GPA0, TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED, 0x7);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, g_pend, TDX_PS_4K, &e1, &e2),
		      TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, g_map, TDX_PS_4K, &e1, &e2),
		      TDX_SUCCESS);
	assert_rcx_entry(fx, g_pend, TDX_PS_4K, SEPT_PUBLIC_PENDING_BLOCKED,
			 hpa_pend | 0x80000000000000F0ULL);
	assert_rcx_entry(fx, g_map, TDX_PS_4K, SEPT_PUBLIC_BLOCKED,
			 hpa_map | 0x80000000000000F0ULL);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_rcx_entry(fx, GPA0, TDX_PS_2M, SEPT_PUBLIC_NL_BLOCKED, 0);

	/* A 2MB leaf: the same bits, its 2MB address. */
	hpa_map = make_mapped(fx, GPA_2M(3), TDX_PS_2M);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA_2M(3), TDX_PS_2M, fx_alloc_4k(fx), &e1, &e2),
		    &e1, &e2, TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX,
		    hpa_map | 0x80000000000000F7ULL, level_state(TDX_PS_2M, SEPT_PUBLIC_MAPPED));
	fx->allow_leftover_pages = true;	/* the refused S-EPT page */
}

/* FREE is not blockable (§3.2); a missing table is a walk failure. */
static void test_block_free(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_FREE));
	assert_fail(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_2M, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_FREE));
	snap_check(fx, GPA0, &s);
	fx_map_sept(fx, GPA0, TDX_PS_4K);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(TDX_PS_4K, SEPT_PUBLIC_FREE));
	snap_check(fx, GPA0, &s);
}

/* RUNNABLE: UNBLOCK before TRACK is TLB_TRACKING_NOT_DONE|SEPT (0x92), no details. */
static void test_unblock_before_track(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = make_mapped(fx, GPA0, TDX_PS_4K), e1, e2;
	struct snap s;

	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_SEPT, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).state, SEPT_PUBLIC_BLOCKED);

	assert_status(track(fx), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).entry, arch_leaf(hpa, TDX_PS_4K, true));
}

/* A vCPU that entered in the blocked epoch keeps the block untracked until it exits. */
static void test_unblock_vcpu_in_blocked_epoch(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2;
	struct snap s;

	make_mapped(fx, GPA0, TDX_PS_4K);
	fx_enter(fx);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_status(track(fx), TDX_SUCCESS);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_SEPT, 0, 0);
	snap_check(fx, GPA0, &s);
	tdxsim_vcpu_exit(fx->vcpu);
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).state, SEPT_PUBLIC_MAPPED);
}

/* UNBLOCK needs a blocked entry (§3.2). */
static void test_unblock_not_blocked(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = make_mapped(fx, GPA0, TDX_PS_4K), e1, e2;
	struct snap s;

	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX,
		    arch_leaf(hpa, TDX_PS_4K, true),
		    level_state(TDX_PS_4K, SEPT_PUBLIC_MAPPED));
	assert_fail(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_2M, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, ARCH_NL_MAPPED,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED));
	assert_fail(tdxsim_tdh_mem_range_unblock(fx->td, GPA0 + SZ_4K, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(TDX_PS_4K, SEPT_PUBLIC_FREE));
	snap_check(fx, GPA0, &s);
}

/* INITIALIZED: no TLB tracking required (§2.1.1), UNBLOCK right after BLOCK. */
static void test_unblock_initialized(void **state)
{
	struct fixture *fx = *state;
	u64 page, e1, e2;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	assert_status(tdxsim_tdh_mem_page_add(fx->td, GPA0, page, SRC_PA, &e1, &e2), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).state, SEPT_PUBLIC_BLOCKED);
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).state, SEPT_PUBLIC_MAPPED);
}

/* ------------------------------------------------------------------------
 * TDH.MEM.TRACK (spec §2.6)
 */

static void test_track_epoch(void **state)
{
	struct fixture *fx = *state;
	u64 e = epoch(fx);
	struct tdx_module_args a = { .rcx = fx->td->tdr_pa };

	assert_status(seamcall_v(fx, TDH_MEM_TRACK, 0, &a), TDX_SUCCESS);
	assert_int_equal(epoch(fx), e + 1);
	assert_status(track(fx), TDX_SUCCESS);
	assert_int_equal(epoch(fx), e + 2);
}

/*
 * A vCPU still in guest since before the previous TRACK blocks the next one;
 * one that entered after it does not block the next TRACK but the one after.
 */
static void test_track_previous_epoch_busy(void **state)
{
	struct fixture *fx = *state;
	u64 e = epoch(fx);

	fx_enter(fx);				/* enters in epoch e */
	assert_status(track(fx), TDX_SUCCESS);	/* e -> e+1 */
	assert_status(track(fx), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	assert_int_equal(epoch(fx), e + 1);
	tdxsim_vcpu_exit(fx->vcpu);
	assert_status(track(fx), TDX_SUCCESS);	/* e+1 -> e+2 */
	assert_int_equal(epoch(fx), e + 2);

	fx_enter(fx);				/* enters in epoch e+2 */
	assert_status(track(fx), TDX_SUCCESS);	/* e+2 -> e+3: nobody in e+1 */
	assert_status(track(fx), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	assert_int_equal(epoch(fx), e + 3);
	tdxsim_vcpu_exit(fx->vcpu);
}

/* TRACK's TDR operand is RCX. */
static void test_track_bad_tdr(void **state)
{
	struct fixture *fx = *state;
	const struct {
		u64 pa, status;
	} bad[] = {
		{ fx->td->tdcx_pa[0], TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX },
		{ fx->td->tdr_pa + 0x800, TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX },
		{ fx->cfg.mem_base - SZ_4K, TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RCX },
	};
	u64 e = epoch(fx);

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tdx_module_args a = { .rcx = bad[i].pa };

		assert_status(seamcall_v(fx, TDH_MEM_TRACK, 0, &a), bad[i].status);
	}
	assert_int_equal(epoch(fx), e);
}

/* ------------------------------------------------------------------------
 * TDH.MEM.PAGE.REMOVE (spec §2.10)
 */

/*
 * Two 4K pages alone in a 2MB range: the first REMOVE returns the HPA, the
 * second the HPA | PAMT_REMOVAL_HINT as the DPAMT count drops to 0.
 */
static void test_remove_4k(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), cnt, e1, e2;
	struct tdxsim_pamt_info pi;

	fx_ensure_pair(fx, block);
	fx_map_sept(fx, GPA0, TDX_PS_4K);
	for (int i = 0; i < 2; i++)
		assert_status(tdxsim_tdh_mem_page_aug(fx->td, GPA0 + i * SZ_4K, TDX_PS_4K,
					       (block + i * SZ_4K) >> 12, &e1, &e2),
			      TDX_SUCCESS);
	assert_int_equal(pamt_of(fx, block).dpamt_count, 2);

	for (int i = 0; i < 2; i++) {
		u64 gpa = GPA0 + i * SZ_4K, hpa = block + i * SZ_4K;

		fx_block_track(fx, gpa, TDX_PS_4K);
		cnt = chldcnt(fx);
		assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
		assert_int_equal(e1, hpa | (i ? TDX_PAMT_REMOVAL_HINT : 0));
		assert_int_equal(e2, 0);
		assert_int_equal(sept_at(fx, gpa, TDX_PS_4K).state, SEPT_PUBLIC_FREE);
		assert_int_equal(chldcnt(fx), cnt - 1);
		pi = pamt_of(fx, hpa);
		assert_int_equal(pi.level, TDX_PS_4K);
		assert_int_equal(pi.pt, PT_NDA);
		assert_int_equal(pi.owner, 0);
		assert_int_equal(pi.dpamt_count, 1 - i);
		assert_dirty(fx, hpa, true);
	}
	wbinvd(fx, block, 2 * SZ_4K);
	assert_dirty(fx, block, false);
	assert_dirty(fx, block + SZ_4K, false);
	free_2m(fx, block);
}

/* 2MB: RCX = HPA (no DPAMT node, no hint), chldcnt -512, all 512 pages dirty. */
static void test_remove_2m(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = fx_aug(fx, GPA0, TDX_PS_2M), cnt, e1, e2;
	struct tdxsim_pamt_info pi;

	fx_block_track(fx, GPA0, TDX_PS_2M);
	cnt = chldcnt(fx);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, hpa);
	assert_int_equal(e2, 0);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_2M).state, SEPT_PUBLIC_FREE);
	assert_int_equal(chldcnt(fx), cnt - 512);
	pi = pamt_of(fx, hpa);
	assert_int_equal(pi.pt, PT_NDA);
	assert_int_equal(pi.owner, 0);
	assert_false(pi.dpamt_pair);
	assert_dirty(fx, hpa, true);
	assert_dirty(fx, hpa + SZ_2M - SZ_4K, true);
	wbinvd(fx, hpa, SZ_2M);
	assert_dirty(fx, hpa, false);
	assert_dirty(fx, hpa + SZ_2M - SZ_4K, false);
	free_2m(fx, hpa);
}

/* RUNNABLE: the entry must be blocked first: GPA_RANGE_NOT_BLOCKED|RCX + details. */
static void test_remove_not_blocked(void **state)
{
	struct fixture *fx = *state;
	u64 pend = fx_aug(fx, GPA0, TDX_PS_4K), mapped = make_mapped(fx, GPA0 + SZ_4K, 0);
	u64 e1, e2;
	struct snap s;

	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_remove(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX,
		    arch_leaf(pend, TDX_PS_4K, false),
		    level_state(TDX_PS_4K, SEPT_PUBLIC_PENDING));
	snap_check(fx, GPA0, &s);
	snap_take(fx, GPA0 + SZ_4K, &s);
	assert_fail(tdxsim_tdh_mem_page_remove(fx->td, GPA0 + SZ_4K, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX,
		    arch_leaf(mapped, TDX_PS_4K, true),
		    level_state(TDX_PS_4K, SEPT_PUBLIC_MAPPED));
	snap_check(fx, GPA0 + SZ_4K, &s);
	assert_int_equal(pamt_of(fx, pend).pt, PT_REG);
	assert_int_equal(pamt_of(fx, mapped).pt, PT_REG);
}

/* Blocked but not tracked (no TRACK, or a vCPU still in the blocked epoch). */
static void test_remove_not_tracked(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = fx_aug(fx, GPA0, TDX_PS_4K), e1, e2;
	struct snap s;

	fx_enter(fx);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_remove(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_status(track(fx), TDX_SUCCESS);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_remove(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, hpa).pt, PT_REG);

	tdxsim_vcpu_exit(fx->vcpu);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1 & ~TDX_PAMT_REMOVAL_HINT, hpa);
	wbinvd(fx, hpa, SZ_4K);
	free_4k(fx, hpa);
}

/* 4K REMOVE inside a blocked 2MB leaf: EPT_WALK_FAILED, level 1, BLOCKED (spec F4). */
static void test_remove_4k_in_2m_leaf(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = make_mapped(fx, GPA0, TDX_PS_2M), e1, e2;
	struct snap s;

	fx_block_track(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_remove(fx->td, GPA0 + SZ_4K, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX, arch_leaf(hpa, TDX_PS_2M, false),
		    level_state(TDX_PS_2M, SEPT_PUBLIC_BLOCKED));
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, hpa).pt, PT_REG);
}

/* REMOVE needs a leaf: NL_MAPPED and FREE entries are the wrong state (§3.2). */
static void test_remove_wrong_state(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_page_remove(fx->td, GPA0, TDX_PS_2M, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, ARCH_NL_MAPPED,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED));
	assert_fail(tdxsim_tdh_mem_page_remove(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(TDX_PS_4K, SEPT_PUBLIC_FREE));
	snap_check(fx, GPA0, &s);
}

/* INITIALIZED (TD build): REMOVE without BLOCK/TRACK (§2.1.1, F7). */
static void test_remove_initialized(void **state)
{
	struct fixture *fx = *state;
	u64 page, cnt, e1, e2;
	u16 dcount;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	assert_status(tdxsim_tdh_mem_page_add(fx->td, GPA0, page, SRC_PA, &e1, &e2), TDX_SUCCESS);
	cnt = chldcnt(fx);
	dcount = pamt_of(fx, page).dpamt_count;
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, page | (dcount == 1 ? TDX_PAMT_REMOVAL_HINT : 0));
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).state, SEPT_PUBLIC_FREE);
	assert_int_equal(chldcnt(fx), cnt - 1);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	assert_int_equal(pamt_of(fx, page).dpamt_count, dcount - 1);
	assert_dirty(fx, page, true);
	wbinvd(fx, page, SZ_4K);
	free_4k(fx, page);
}

/* ------------------------------------------------------------------------
 * TDH.MEM.SEPT.REMOVE (spec §2.11)
 */

/*
 * An S-EPT page alone in its 2MB range, whose only child was removed:
 * NL_BLOCKED + tracked -> FREE, RCX = page | hint (DPAMT count 0).
 */
static void test_sept_remove(void **state)
{
	struct fixture *fx = *state;
	u64 block = alloc_2m(fx), guest = block + SZ_4K, cnt, e1, e2;
	struct tdxsim_pamt_info pi;

	fx_ensure_pair(fx, block);
	fx_map_sept(fx, GPA0, TDX_PS_2M);
	assert_status(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, block, &e1, &e2), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_4K, guest >> 12, &e1, &e2),
		      TDX_SUCCESS);
	assert_int_equal(pamt_of(fx, block).dpamt_count, 2);
	fx_block_track(fx, GPA0, TDX_PS_4K);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, guest);

	fx_block_track(fx, GPA0, TDX_PS_2M);
	cnt = chldcnt(fx);
	assert_status(tdxsim_tdh_mem_sept_remove(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, block | TDX_PAMT_REMOVAL_HINT);
	assert_int_equal(e2, 0);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_2M).state, SEPT_PUBLIC_FREE);
	assert_int_equal(chldcnt(fx), cnt - 1);
	pi = pamt_of(fx, block);
	assert_int_equal(pi.pt, PT_NDA);
	assert_int_equal(pi.owner, 0);
	assert_int_equal(pi.dpamt_count, 0);
	assert_dirty(fx, block, true);
	wbinvd(fx, block, 2 * SZ_4K);
	free_2m(fx, block);
}

/* A child entry not FREE: EPT_PAGE_NOT_FREE|RCX with the parent's details. */
static void test_sept_remove_child_not_free(void **state)
{
	struct fixture *fx = *state;
	u64 table, e1, e2;
	struct snap s;

	fx_aug(fx, GPA0 + SZ_4K * 511, TDX_PS_4K);	/* the last child */
	table = sept_at(fx, GPA0, TDX_PS_2M).hpa;
	fx_block_track(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_remove(fx->td, GPA0, TDX_PS_2M, &e1, &e2), &e1, &e2,
		    TDX_EPT_PAGE_NOT_FREE | TDX_OPERAND_ID_RCX, ARCH_NL_BLOCKED,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_NL_BLOCKED));
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, table).pt, PT_EPT);
}

/* RUNNABLE: NL_BLOCKED required, then tracked. */
static void test_sept_remove_not_blocked_tracked(void **state)
{
	struct fixture *fx = *state;
	u64 table, e1, e2;
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	table = sept_at(fx, GPA0, TDX_PS_2M).hpa;
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_remove(fx->td, GPA0, TDX_PS_2M, &e1, &e2), &e1, &e2,
		    TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX, ARCH_NL_MAPPED,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED));
	snap_check(fx, GPA0, &s);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_remove(fx->td, GPA0, TDX_PS_2M, &e1, &e2), &e1, &e2,
		    TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX, 0, 0);
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, table).pt, PT_EPT);

	assert_status(track(fx), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_sept_remove(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1 & ~TDX_PAMT_REMOVAL_HINT, table);
	wbinvd(fx, table, SZ_4K);
	free_4k(fx, table);
}

/* SEPT.REMOVE of a leaf, or at level 0 (no table below). */
static void test_sept_remove_wrong_target(void **state)
{
	struct fixture *fx = *state;
	u64 hpa = fx_aug(fx, GPA0, TDX_PS_2M), e1, e2;
	struct snap s;

	fx_block_track(fx, GPA0, TDX_PS_2M);
	snap_take(fx, GPA0, &s);
	assert_fail(tdxsim_tdh_mem_sept_remove(fx->td, GPA0, TDX_PS_2M, &e1, &e2), &e1, &e2,
		    TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX,
		    arch_leaf(hpa, TDX_PS_2M, false),
		    level_state(TDX_PS_2M, SEPT_PUBLIC_PENDING_BLOCKED));
	assert_fail(tdxsim_tdh_mem_sept_remove(fx->td, GPA0, TDX_PS_4K, &e1, &e2), &e1, &e2,
		    TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX, 0, 0);
	snap_check(fx, GPA0, &s);
}

/* ------------------------------------------------------------------------
 * Check order (spec §2.1): a call wrong in two ways fails on the earlier check.
 */

/* TDR operand (step 3) before GPA/level (step 6). */
static void test_order_tdr_before_level(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a = {
		.rcx = (GPA0 + SZ_4K) | 3, .rdx = fx->td->tdcx_pa[0], .r8 = fx->td->tdcx_pa[1],
	};

	assert_status(seamcall_v(fx, TDH_MEM_PAGE_AUG, 0, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RDX);
	a = (struct tdx_module_args){ .rcx = GPA0 | 5, .rdx = fx->td->tdr_pa + 0x800 };
	assert_status(seamcall_v(fx, TDH_MEM_RANGE_BLOCK, 0, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	/* SEPT.ADD: reserved handle bits (step 2) even before the TDR page type. */
	a = (struct tdx_module_args){ .rcx = GPA0 | 0, .rdx = fx->td->tdcx_pa[0] | (1ULL << 2) };
	assert_status(seamcall_v(fx, TDH_MEM_SEPT_ADD, 0, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
}

/* GPA/level (step 6) before the SEPT tree lock (step 8). */
static void test_order_level_before_tree_lock(void **state)
{
	struct fixture *fx = *state;
	struct td *td = td_by_tdr(fx->sim, fx->td->tdr_pa);
	u64 page = fx_alloc_4k(fx), e1, e2;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	assert_non_null(td);
	/* Another call holds the tree exclusively (e.g. a concurrent BLOCK). */
	assert_true(sharex_try_lock(&td->sept_lock, TDX_LOCK_EXCLUSIVE));
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_1G, page >> 12, &e1, &e2), &e1, &e2,
		    TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX, 0, 0);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0 | SHARED_BIT, TDX_PS_4K, page >> 12,
				     &e1, &e2), &e1, &e2,
		    TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX, 0, 0);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_4K, page >> 12, &e1, &e2), &e1, &e2,
		    TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT, 0, 0);
	sharex_unlock(&td->sept_lock, TDX_LOCK_EXCLUSIVE);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).state, SEPT_PUBLIC_FREE);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* TD keys (step 4) before the GPA (steps 6-7): after VPFLUSHDONE the HKID is going. */
static void test_order_keys_before_gpa(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a = { .rcx = fx->td->tdr_pa };
	u64 page = fx_alloc_4k(fx), e1, e2;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	assert_status(tdxsim_td_flush_vcpus(fx->td), TDX_SUCCESS);
	assert_status(seamcall_v(fx, TDH_MNG_VPFLUSHDONE, 0, &a), TDX_SUCCESS);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0 + 0x800, TDX_PS_4K, page >> 12, &e1, &e2),
		    &e1, &e2, TDX_TD_KEYS_NOT_CONFIGURED, 0, 0);
	assert_fail(tdxsim_tdh_mem_range_block(fx->td, GPA0 | SHARED_BIT, 6, &e1, &e2), &e1, &e2,
		    TDX_TD_KEYS_NOT_CONFIGURED, 0, 0);
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0 | SHARED_BIT, TDX_PS_4K, page, &e1, &e2),
		    &e1, &e2, TDX_TD_KEYS_NOT_CONFIGURED, 0, 0);
	assert_status(track(fx), TDX_TD_KEYS_NOT_CONFIGURED);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).state, SEPT_PUBLIC_FREE);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

/* op_state (step 5) before GPA/level; the walk (9) before the R8 page check. */
static void test_order_op_state_walk_page(void **state)
{
	struct fixture *fx = *state;
	u64 page = fx_alloc_4k(fx), block = alloc_2m(fx), e1, e2;

	/* PAGE.ADD in RUNNABLE with a bad level: the op_state wins. */
	assert_fail(tdxsim_tdh_mem_page_add(fx->td, GPA0 | TDX_PS_2M, page, SRC_PA, &e1, &e2), &e1, &e2,
		    TDX_OP_STATE_INCORRECT, 0, 0);
	/* SEPT.ADD with no parent table and a misaligned page: the walk wins. */
	assert_fail(tdxsim_tdh_mem_sept_add(fx->td, GPA0, TDX_PS_2M, page + 8, &e1, &e2), &e1, &e2,
		    TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX, SEPT_ARCH_SVE,
		    level_state(3, SEPT_PUBLIC_FREE));
	/* 2MB AUG over a table with a misaligned page: the entry state wins. */
	fx_map_sept(fx, GPA0, TDX_PS_4K);
	assert_fail(tdxsim_tdh_mem_page_aug(fx->td, GPA0, TDX_PS_2M, (block + SZ_4K) >> 12, &e1, &e2),
		    &e1, &e2, TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX, ARCH_NL_MAPPED,
		    level_state(TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED));
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
	free_2m(fx, block);
}

/* PAGE.ADD: the source (R9) is checked before the target (R8). */
static void test_order_source_before_target(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	assert_fail(tdxsim_tdh_mem_page_add(fx->td, GPA0, fx->td->tdcx_pa[0], SRC_PA + 0x800, &e1, &e2),
		    &e1, &e2, TDX_OPERAND_INVALID | TDX_OPERAND_ID_R9, 0, 0);
	assert_int_equal(sept_at(fx, GPA0, TDX_PS_4K).state, SEPT_PUBLIC_FREE);
}

/* ------------------------------------------------------------------------
 * TD-state prologue (spec §2.1 step 3) for every leaf taking the TDR in RDX.
 */

static const unsigned int rdx_tdr_leaves[] = {
	TDH_MEM_SEPT_ADD, TDH_MEM_PAGE_ADD, TDH_MEM_PAGE_AUG, TDH_MEM_RANGE_BLOCK,
	TDH_MEM_RANGE_UNBLOCK, TDH_MEM_PAGE_REMOVE, TDH_MEM_SEPT_REMOVE,
};

/* Each leaf with a valid GPA|level and @tdr in RDX must fail with @status, RCX/RDX 0. */
static void check_bad_tdr(struct fixture *fx, u64 tdr, u64 status)
{
	u64 page = fx_alloc_4k(fx);
	struct snap s;

	fx_map_sept(fx, GPA0, TDX_PS_4K);
	snap_take(fx, GPA0, &s);
	for (unsigned int i = 0; i < sizeof(rdx_tdr_leaves) / sizeof(rdx_tdr_leaves[0]); i++) {
		unsigned int leaf = rdx_tdr_leaves[i];
		int level = leaf == TDH_MEM_SEPT_ADD || leaf == TDH_MEM_SEPT_REMOVE ?
			    TDX_PS_2M : TDX_PS_4K;
		struct tdx_module_args a = {
			.rcx = GPA0 | (u64)level, .rdx = tdr, .r8 = page, .r9 = SRC_PA,
		};
		u64 st = seamcall_v(fx, leaf, 0, &a);
		char name[64];

		if (st != status)
			fail_msg("%s: %s", tdxsim_leaf_name(leaf),
				 tdxsim_status_name(st, name, sizeof(name)));
		assert_int_equal(a.rcx, 0);
		assert_int_equal(a.rdx, 0);
	}
	snap_check(fx, GPA0, &s);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	free_4k(fx, page);
}

static void test_prologue_not_tdr(void **state)
{
	struct fixture *fx = *state;
	u64 unused = fx_alloc_4k(fx);

	check_bad_tdr(fx, fx->td->tdcx_pa[0], TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RDX);
	check_bad_tdr(fx, unused, TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RDX);
	free_4k(fx, unused);
}

static void test_prologue_tdr_misaligned(void **state)
{
	struct fixture *fx = *state;

	check_bad_tdr(fx, fx->td->tdr_pa + 0x800, TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	check_bad_tdr(fx, tdxsim_mk_keyed_paddr(fx->sim, fx->td->hkid, fx->td->tdr_pa),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
}

static void test_prologue_tdr_outside(void **state)
{
	struct fixture *fx = *state;

	check_bad_tdr(fx, fx->cfg.mem_base - SZ_4K,
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RDX);
	check_bad_tdr(fx, fx->cfg.mem_base + fx->cfg.mem_size,
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_RDX);
}

#define T_RUN(fn)	cmocka_unit_test_setup_teardown(fn, fx_setup_runnable, fx_teardown)
#define T_INIT(fn)	cmocka_unit_test_setup_teardown(fn, fx_setup_initialized, fx_teardown)
#define T_STATIC(fn)	cmocka_unit_test_setup_teardown(fn, fx_setup_runnable_nodpamt, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* TDH.MEM.SEPT.ADD */
		T_RUN(test_sept_add_levels),
		T_RUN(test_sept_add_existing),
		T_RUN(test_sept_add_allow_existing),
		T_RUN(test_sept_add_v1_outputs),
		T_RUN(test_sept_add_walk_failed),
		T_RUN(test_sept_add_over_leaf),
		T_RUN(test_sept_add_bad_level),
		T_RUN(test_sept_add_bad_gpa),
		T_RUN(test_sept_add_page_addr),
		T_RUN(test_sept_add_page_in_use),
		T_RUN(test_sept_add_no_pair),
		T_RUN(test_sept_add_rdx_reserved),
		/* TDH.MEM.PAGE.ADD */
		T_INIT(test_page_add_success),
		T_INIT(test_page_add_level),
		T_RUN(test_page_add_runnable),
		T_INIT(test_page_add_source),
		T_INIT(test_page_add_entry),
		T_INIT(test_page_add_target),
		/* TDH.MEM.PAGE.AUG */
		T_RUN(test_aug_4k),
		T_RUN(test_aug_2m),
		T_RUN(test_aug_level_1g),
		T_RUN(test_aug_2m_misaligned),
		T_RUN(test_aug_4k_under_2m_leaf),
		T_RUN(test_aug_4k_no_table),
		T_RUN(test_aug_2m_over_table),
		T_RUN(test_aug_entry_not_free),
		T_RUN(test_aug_2m_pair_installed),
		T_RUN(test_aug_4k_no_pair),
		T_STATIC(test_aug_2m_static_pamt_busy_range),
		/* TDH.MEM.RANGE.BLOCK / UNBLOCK */
		T_RUN(test_block_unblock_mapped),
		T_RUN(test_block_unblock_pending),
		T_RUN(test_block_unblock_nl),
		T_RUN(test_block_already_blocked),
		T_RUN(test_arch_entry_per_state),
		T_RUN(test_block_free),
		T_RUN(test_unblock_before_track),
		T_RUN(test_unblock_vcpu_in_blocked_epoch),
		T_RUN(test_unblock_not_blocked),
		T_INIT(test_unblock_initialized),
		/* TDH.MEM.TRACK */
		T_RUN(test_track_epoch),
		T_RUN(test_track_previous_epoch_busy),
		T_RUN(test_track_bad_tdr),
		/* TDH.MEM.PAGE.REMOVE */
		T_RUN(test_remove_4k),
		T_RUN(test_remove_2m),
		T_RUN(test_remove_not_blocked),
		T_RUN(test_remove_not_tracked),
		T_RUN(test_remove_4k_in_2m_leaf),
		T_RUN(test_remove_wrong_state),
		T_INIT(test_remove_initialized),
		/* TDH.MEM.SEPT.REMOVE */
		T_RUN(test_sept_remove),
		T_RUN(test_sept_remove_child_not_free),
		T_RUN(test_sept_remove_not_blocked_tracked),
		T_RUN(test_sept_remove_wrong_target),
		/* Check order */
		T_RUN(test_order_tdr_before_level),
		T_RUN(test_order_level_before_tree_lock),
		T_RUN(test_order_keys_before_gpa),
		T_RUN(test_order_op_state_walk_page),
		T_INIT(test_order_source_before_target),
		/* TD-state prologue */
		T_RUN(test_prologue_not_tdr),
		T_RUN(test_prologue_tdr_misaligned),
		T_RUN(test_prologue_tdr_outside),
	};

	return run_group(tests);
}
