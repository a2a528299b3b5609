// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reference flows F1-F7 of spec seamcall.md §8, each walked end to end
 * with the state asserted after every step (S-EPT state/level, PAMT
 * type/owner/size, Dynamic-PAMT node and count, chldcnt, epoch, dirty flag),
 * and their negative variants.  F1-F6 run with Dynamic PAMT and with static
 * PAMT: one body, two test functions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define SZ_4K		0x1000ULL
#define SZ_2M		0x200000ULL
#define NR_4K_IN_2M	512

/* RDX of an S-EPT error: level | public state << 8 (sept_entry_arch_info_t). */
#define LS(level, state)	((u64)(level) | ((u64)(state) << TDX_SEPT_INFO_STATE_SHIFT))
#define SEPT_ARCH_RWX		(SEPT_ARCH_R | SEPT_ARCH_W | SEPT_ARCH_X)

static bool has_dpamt(const struct fixture *fx)
{
	return fx->cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT;
}

static struct tdxsim_sept_info sept_at(struct fixture *fx, u64 gpa, int level)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, level, &si), 0);
	return si;
}

static void assert_sept(struct fixture *fx, u64 gpa, int level, u8 state, u64 hpa)
{
	struct tdxsim_sept_info si = sept_at(fx, gpa, level);

	assert_int_equal(si.level, level);
	assert_int_equal(si.state, state);
	assert_int_equal(si.hpa, hpa);
}

static struct tdxsim_pamt_info pamt_of(struct fixture *fx, u64 hpa)
{
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	return pi;
}

static void assert_pamt(struct fixture *fx, u64 hpa, int level, u8 pt, u64 owner)
{
	struct tdxsim_pamt_info pi = pamt_of(fx, hpa);

	assert_int_equal(pi.level, level);
	assert_int_equal(pi.pt, pt);
	assert_int_equal(pi.owner, owner);
}

static u64 chldcnt(struct fixture *fx)
{
	return tdxsim_td_chldcnt(fx->sim, fx->td);
}

static u64 epoch(struct fixture *fx)
{
	return tdxsim_td_epoch(fx->sim, fx->td);
}

/*
 * RCX/RDX of a walk/state error (spec §0.2): RCX is the architectural entry
 * where the walk stopped (@level), RDX its level and public state.
 */
static void assert_ext(struct fixture *fx, u64 e1, u64 e2, u64 gpa, int level, u8 state,
		       u64 hpa)
{
	struct tdxsim_sept_info si = sept_at(fx, gpa, level);

	assert_int_equal(e2, LS(level, state));
	assert_int_equal(e1, si.entry);
	assert_int_equal(e1 & SEPT_ARCH_PFN_MASK, hpa);
	if (state == SEPT_PUBLIC_MAPPED || state == SEPT_PUBLIC_NL_MAPPED)
		assert_int_equal(e1 & SEPT_ARCH_RWX, SEPT_ARCH_RWX);
	else
		assert_int_equal(e1 & SEPT_ARCH_RWX, 0);
}

/* Everything a failed call must leave alone, for one GPA and one page. */
struct snap {
	struct tdxsim_sept_info si;
	struct tdxsim_pamt_info pi;
	u64 chldcnt, epoch, in_use;
};

static void snap_take(struct fixture *fx, u64 gpa, int level, u64 hpa, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, level, &s->si);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &s->pi), 0);
	s->chldcnt = chldcnt(fx);
	s->epoch = epoch(fx);
	s->in_use = tdxsim_pages_in_use(fx->sim);
}

static void assert_unchanged(struct fixture *fx, u64 gpa, int level, u64 hpa,
			     const struct snap *before)
{
	struct snap now;

	snap_take(fx, gpa, level, hpa, &now);
	assert_memory_equal(&now, before, sizeof(now));
}

/* A 4K page in a 2MB range that has no Dynamic-PAMT pair: a whole free 2MB block. */
static u64 alloc_unpaired_block(struct fixture *fx)
{
	u64 pa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);

	assert_true(pa != 0);
	assert_false(pamt_of(fx, pa).dpamt_pair);
	return pa;
}

/* The DEMOTE page pair (R12/R13), none without Dynamic PAMT. */
static void alloc_pair(struct fixture *fx, u64 pair[2])
{
	pair[0] = pair[1] = 0;
	if (!has_dpamt(fx))
		return;
	pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_true(pair[0] && pair[1]);
}

static u64 wbinvd(struct fixture *fx, u64 pa)
{
	return tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, pa);
}

static u64 seamcall_rcx(struct fixture *fx, u64 leaf, u64 rcx, struct tdx_module_args *a)
{
	memset(a, 0, sizeof(*a));
	a->rcx = rcx;
	return tdxsim_seamcall(fx->sim, leaf, a);
}

/* F3/F5: PAMT.REMOVE of an empty range gives the pair back; free it. */
static void pamt_remove_and_free(struct fixture *fx, u64 pa, const u64 expect[2])
{
	u64 pages[2];

	assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, pa, pages), TDX_SUCCESS);
	assert_int_equal(pages[0], expect[0]);
	assert_int_equal(pages[1], expect[1]);
	assert_false(pamt_of(fx, pa).dpamt_pair);
	for (int i = 0; i < 2; i++) {
		assert_false(pamt_of(fx, pages[i]).pamt_page);
		assert_int_equal(tdxsim_page_free(fx->sim, pages[i], TDX_PS_4K), 0);
	}
}

/*
 * F3 for a whole split range: BLOCK every 4K entry, one TRACK + kick, then
 * REMOVE each (RCX = HPA, bit 62 when the Dynamic-PAMT count drops to 0),
 * WBINVD, and optionally give the page back.
 */
static void remove_range_4k(struct fixture *fx, u64 gpa, u64 hpa, bool give_back)
{
	u64 e1, e2;

	for (unsigned int i = 0; i < NR_4K_IN_2M; i++) {
		if (sept_at(fx, gpa + i * SZ_4K, TDX_PS_4K).state == SEPT_PUBLIC_FREE)
			continue;
		assert_status(tdxsim_tdh_mem_range_block(fx->td, gpa + i * SZ_4K, TDX_PS_4K, &e1, &e2),
			      TDX_SUCCESS);
	}
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);
	for (unsigned int i = 0; i < NR_4K_IN_2M; i++) {
		u64 g = gpa + i * SZ_4K, pa = hpa + i * SZ_4K, hint;

		if (sept_at(fx, g, TDX_PS_4K).state == SEPT_PUBLIC_FREE)
			continue;
		hint = has_dpamt(fx) && pamt_of(fx, pa).dpamt_count == 1 ?
		       TDX_PAMT_REMOVAL_HINT : 0;
		assert_status(tdxsim_tdh_mem_page_remove(fx->td, g, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
		assert_int_equal(e1, pa | hint);
		assert_status(wbinvd(fx, pa), TDX_SUCCESS);
		if (give_back)
			assert_int_equal(tdxsim_page_free(fx->sim, pa, TDX_PS_4K), 0);
	}
}

/* ------------------------------------------------------------------------
 * F1: 2MB map + guest accept.
 */
static void flow_f1(struct fixture *fx)
{
	u64 gpa = GPA_2M(0), tdr = fx->td->tdr_pa, hpa, c0, e1, e2;
	struct tdxsim_td_exit ex;
	struct tdxsim_sept_info si;

	fx_map_sept(fx, gpa, TDX_PS_2M);
	assert_sept(fx, gpa, TDX_PS_2M, SEPT_PUBLIC_FREE, 0);
	c0 = chldcnt(fx);
	hpa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(hpa != 0);

	/* spec §2.4: PENDING 2MB leaf, PAMT_2M PT_REG, chldcnt += 512, no pair needed. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_2M, hpa >> 12, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	assert_sept(fx, gpa, TDX_PS_2M, SEPT_PUBLIC_PENDING, hpa);
	assert_true(sept_at(fx, gpa, TDX_PS_2M).leaf);
	/* The 4K walk stops at the 2MB leaf. */
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gpa + 7 * SZ_4K, &si), 0);
	assert_int_equal(si.level, TDX_PS_2M);
	assert_pamt(fx, hpa, TDX_PS_2M, PT_REG, tdr);
	assert_pamt(fx, hpa + 511 * SZ_4K, TDX_PS_2M, PT_REG, tdr);
	assert_false(pamt_of(fx, hpa).dpamt_pair);
	assert_int_equal(chldcnt(fx), c0 + NR_4K_IN_2M);

	/* §2.16: an interrupt suspends the 2MB accept; the counter is kept in the entry. */
	fx_enter(fx);
	assert_int_equal(tdxsim_raise_interrupt(fx->sim, 0), 0);
	assert_int_equal(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M),
			 TDXSIM_TDCALL_TD_EXIT);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	tdxsim_vcpu_last_exit(fx->vcpu, &ex);
	assert_int_equal(ex.exit_reason, EXIT_REASON_EXTERNAL_INTERRUPT);
	si = sept_at(fx, gpa, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
	assert_int_equal(si.accept_counter, 1);

	/* The guest re-executes the TDCALL after re-entry and completes. */
	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M), TDX_SUCCESS);
	si = sept_at(fx, gpa, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(si.accept_counter, 0);
	assert_int_equal(si.entry & SEPT_ARCH_RWX, SEPT_ARCH_RWX);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));

	/* Re-accepting at 2MB or 4K inside: ALREADY_ACCEPTED with the leaf's level. */
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M),
		      TDX_PAGE_ALREADY_ACCEPTED | TDX_PS_2M);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa + SZ_4K, TDX_PS_4K),
		      TDX_PAGE_ALREADY_ACCEPTED | TDX_PS_2M);
	assert_pamt(fx, hpa, TDX_PS_2M, PT_REG, tdr);
	assert_int_equal(chldcnt(fx), c0 + NR_4K_IN_2M);
	assert_int_equal(epoch(fx), 1);
}

static void test_f1_dpamt(void **state)
{
	flow_f1(*state);
}

static void test_f1_static(void **state)
{
	flow_f1(*state);
}

/* ------------------------------------------------------------------------
 * F2: 4K ACCEPT inside a PENDING 2MB -> exit -> BLOCK, TRACK, kick, DEMOTE.
 */
static void flow_f2(struct fixture *fx)
{
	u64 gpa = GPA_2M(0), tdr = fx->td->tdr_pa, hpa, sept, pair[2], c0, e0, n0 = 0, e1, e2;
	u64 info = TDX_PS_4K | (TDX_PS_2M << TDX_ACCEPT_INFO_ERR_LEVEL_SHIFT) |
		   (SEPT_PUBLIC_PENDING << TDX_ACCEPT_INFO_ERR_STATE_SHIFT) |
		   TDX_ACCEPT_INFO_ERR_IS_LEAF;
	struct tdxsim_td_exit ex;
	struct tdxsim_pamt_info pi;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	c0 = chldcnt(fx);
	e0 = epoch(fx);

	/* §2.16: 4K ACCEPT stops at the PENDING 2MB leaf: EPT violation, type ACCEPT. */
	fx_enter(fx);
	assert_int_equal(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa + 3 * SZ_4K, TDX_PS_4K),
			 TDXSIM_TDCALL_TD_EXIT);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	tdxsim_vcpu_last_exit(fx->vcpu, &ex);
	assert_int_equal(ex.exit_reason, EXIT_REASON_EPT_VIOLATION);
	assert_int_equal(ex.gpa, gpa + 3 * SZ_4K);
	assert_int_equal(ex.ext_exit_qual, TDX_EXT_EXIT_QUAL_TYPE_ACCEPT |
					   (info << TDX_EXT_EXIT_QUAL_INFO_SHIFT));
	assert_sept(fx, gpa, TDX_PS_2M, SEPT_PUBLIC_PENDING, hpa);

	/* §2.5: BLOCK -> PENDING_BLOCKED, bepoch of the 2MB PAMT entry = current epoch. */
	assert_status(tdxsim_tdh_mem_range_block(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_sept(fx, gpa, TDX_PS_2M, SEPT_PUBLIC_PENDING_BLOCKED, hpa);
	assert_int_equal(pamt_of(fx, hpa).bepoch, e0);
	/* §2.6: TRACK moves the epoch on. */
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_int_equal(epoch(fx), e0 + 1);
	tdxsim_td_kick_vcpus(fx->td);

	/* The new S-EPT page's range gets its pair first (tdx_pamt_get). */
	sept = fx_alloc_4k(fx);
	alloc_pair(fx, pair);
	assert_pamt(fx, sept, TDX_PS_4K, PT_NDA, 0);
	if (has_dpamt(fx))
		n0 = pamt_of(fx, sept).dpamt_count;
	/* §5: with ENHANCED_DEMOTE_INTERRUPTIBILITY a pending interrupt does not stop it. */
	assert_int_equal(tdxsim_raise_interrupt(fx->sim, 0), 0);
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, gpa, TDX_PS_2M, sept, pair, &e1, &e2),
		      TDX_SUCCESS);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);

	/* §2.8 commit: parent NL_MAPPED, 512 PENDING children, PAMT split. */
	assert_sept(fx, gpa, TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED, sept);
	assert_false(sept_at(fx, gpa, TDX_PS_2M).leaf);
	for (unsigned int i = 0; i < NR_4K_IN_2M; i++) {
		assert_sept(fx, gpa + i * SZ_4K, TDX_PS_4K, SEPT_PUBLIC_PENDING, hpa + i * SZ_4K);
		pi = pamt_of(fx, hpa + i * SZ_4K);
		assert_int_equal(pi.level, TDX_PS_4K);
		assert_int_equal(pi.pt, PT_REG);
		assert_int_equal(pi.owner, tdr);
		assert_int_equal(pi.bepoch, 0);
	}
	pi = pamt_of(fx, hpa);
	assert_int_equal(pi.dpamt_pair, has_dpamt(fx));
	if (has_dpamt(fx)) {
		/* §4.3: node PT_PAMT, pages R12/R13, count 512; the S-EPT page's range +1. */
		assert_int_equal(pi.dpamt_pages[0], pair[0]);
		assert_int_equal(pi.dpamt_pages[1], pair[1]);
		assert_int_equal(pi.dpamt_count, NR_4K_IN_2M);
		assert_true(pamt_of(fx, pair[0]).pamt_page);
		assert_true(pamt_of(fx, pair[1]).pamt_page);
		assert_int_equal(pamt_of(fx, sept).dpamt_count, n0 + 1);
	}
	assert_pamt(fx, sept, TDX_PS_4K, PT_EPT, tdr);
	assert_int_equal(chldcnt(fx), c0 + 1);
	assert_int_equal(epoch(fx), e0 + 1);

	/* The guest re-executes its 4K ACCEPT. */
	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa + 3 * SZ_4K, TDX_PS_4K),
		      TDX_SUCCESS);
	assert_sept(fx, gpa + 3 * SZ_4K, TDX_PS_4K, SEPT_PUBLIC_MAPPED, hpa + 3 * SZ_4K);
	assert_sept(fx, gpa + 4 * SZ_4K, TDX_PS_4K, SEPT_PUBLIC_PENDING, hpa + 4 * SZ_4K);
	/* 2MB ACCEPT over the split range: PAGE_SIZE_MISMATCH with the requested level. */
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M),
		      TDX_PAGE_SIZE_MISMATCH | TDX_PS_2M);
	assert_int_equal(chldcnt(fx), c0 + 1);
}

static void test_f2_dpamt(void **state)
{
	flow_f2(*state);
}

static void test_f2_static(void **state)
{
	flow_f2(*state);
}

/* Negative F2 setup: a PENDING 2MB page and the pages a DEMOTE would take. */
struct f2 {
	u64 gpa, hpa, sept, pair[2];
	struct snap snap;
};

static void f2_prepare(struct fixture *fx, struct f2 *t)
{
	t->gpa = GPA_2M(0);
	t->hpa = fx_aug(fx, t->gpa, TDX_PS_2M);
	t->sept = fx_alloc_4k(fx);
	alloc_pair(fx, t->pair);
}

static u64 f2_demote(struct fixture *fx, struct f2 *t, u64 *e1, u64 *e2)
{
	snap_take(fx, t->gpa, TDX_PS_2M, t->hpa, &t->snap);
	return tdxsim_tdh_mem_page_demote(fx->td, t->gpa, TDX_PS_2M, t->sept, t->pair, e1, e2);
}

/* Nothing of a refused DEMOTE is committed: entry, PAMT, and the offered pages. */
static void f2_assert_untouched(struct fixture *fx, struct f2 *t)
{
	assert_unchanged(fx, t->gpa, TDX_PS_2M, t->hpa, &t->snap);
	assert_pamt(fx, t->sept, TDX_PS_4K, PT_NDA, 0);
	for (int i = 0; has_dpamt(fx) && i < 2; i++)
		assert_false(pamt_of(fx, t->pair[i]).pamt_page);
}

/* The same pages then work once the precondition holds. */
static void f2_demote_ok(struct fixture *fx, struct f2 *t)
{
	u64 e1, e2;

	assert_status(tdxsim_tdh_mem_page_demote(fx->td, t->gpa, TDX_PS_2M, t->sept, t->pair, &e1, &e2),
		      TDX_SUCCESS);
	assert_sept(fx, t->gpa, TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED, t->sept);
	assert_sept(fx, t->gpa, TDX_PS_4K, SEPT_PUBLIC_PENDING, t->hpa);
}

/* §2.8 step 4: RUNNABLE needs the entry blocked. */
static void flow_f2_not_blocked(struct fixture *fx)
{
	struct f2 t;
	u64 e1, e2;

	f2_prepare(fx, &t);
	assert_status(f2_demote(fx, &t, &e1, &e2),
		      TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX);
	assert_ext(fx, e1, e2, t.gpa, TDX_PS_2M, SEPT_PUBLIC_PENDING, t.hpa);
	f2_assert_untouched(fx, &t);
	fx_block_track(fx, t.gpa, TDX_PS_2M);
	f2_demote_ok(fx, &t);
}

static void test_f2_not_blocked_dpamt(void **state)
{
	flow_f2_not_blocked(*state);
}

static void test_f2_not_blocked_static(void **state)
{
	flow_f2_not_blocked(*state);
}

/* §2.8 step 4: blocked but no TRACK since: not tracked (no entry details, module). */
static void flow_f2_not_tracked(struct fixture *fx)
{
	struct f2 t;
	u64 e1, e2;

	f2_prepare(fx, &t);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, t.gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_status(f2_demote(fx, &t, &e1, &e2),
		      TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	f2_assert_untouched(fx, &t);
	assert_sept(fx, t.gpa, TDX_PS_2M, SEPT_PUBLIC_PENDING_BLOCKED, t.hpa);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	f2_demote_ok(fx, &t);
}

static void test_f2_not_tracked_dpamt(void **state)
{
	flow_f2_not_tracked(*state);
}

static void test_f2_not_tracked_static(void **state)
{
	flow_f2_not_tracked(*state);
}

/*
 * §2.6: TRACK succeeded, but a vCPU that entered in epoch E (the block epoch)
 * is still in the guest: not tracked until it exits (the kick).
 */
static void flow_f2_vcpu_in_epoch(struct fixture *fx)
{
	struct f2 t;
	u64 e1, e2, e0;

	f2_prepare(fx, &t);
	e0 = epoch(fx);
	fx_enter(fx);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, t.gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_int_equal(epoch(fx), e0 + 1);
	assert_status(f2_demote(fx, &t, &e1, &e2),
		      TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	f2_assert_untouched(fx, &t);
	/* The vCPU of epoch E also holds off the next TRACK. */
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	assert_int_equal(epoch(fx), e0 + 1);
	tdxsim_td_kick_vcpus(fx->td);
	f2_demote_ok(fx, &t);
}

static void test_f2_vcpu_in_epoch_dpamt(void **state)
{
	flow_f2_vcpu_in_epoch(*state);
}

static void test_f2_vcpu_in_epoch_static(void **state)
{
	flow_f2_vcpu_in_epoch(*state);
}

/* §2.8 step 5 / §4.3: the new S-EPT page's 2MB range has no pair. */
static void test_f2_sept_page_no_pair(void **state)
{
	struct fixture *fx = *state;
	u64 block, e1, e2;
	struct f2 t;

	f2_prepare(fx, &t);
	fx_block_track(fx, t.gpa, TDX_PS_2M);
	block = alloc_unpaired_block(fx);
	assert_int_equal(tdxsim_page_free(fx->sim, t.sept, TDX_PS_4K), 0);
	t.sept = block;
	assert_status(f2_demote(fx, &t, &e1, &e2),
		      TDX_MISSING_PAMT_PAGE_PAIR | TDX_OPERAND_ID_R8);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	assert_unchanged(fx, t.gpa, TDX_PS_2M, t.hpa, &t.snap);
	assert_sept(fx, t.gpa, TDX_PS_2M, SEPT_PUBLIC_PENDING_BLOCKED, t.hpa);
	assert_false(pamt_of(fx, block).dpamt_pair);
	for (int i = 0; i < 2; i++)
		assert_false(pamt_of(fx, t.pair[i]).pamt_page);
	assert_int_equal(tdxsim_page_free(fx->sim, block, TDX_PS_2M), 0);
	t.sept = fx_alloc_4k(fx);
	f2_demote_ok(fx, &t);
}

/*
 * §2.8 step 8: a pair page that already is a PAMT page -> PAGE_NOT_FREE with
 * its register; a failure on R13 gives R12's bitmap bit back.
 */
static void test_f2_pair_page_not_free(void **state)
{
	struct fixture *fx = *state;
	u64 good[2], used, e1, e2;
	struct f2 t;

	f2_prepare(fx, &t);
	fx_block_track(fx, t.gpa, TDX_PS_2M);
	good[0] = t.pair[0];
	good[1] = t.pair[1];
	/* One page of the pair installed for the S-EPT page's range. */
	used = pamt_of(fx, t.sept).dpamt_pages[0];
	assert_true(pamt_of(fx, used).pamt_page);

	t.pair[0] = used;
	assert_status(f2_demote(fx, &t, &e1, &e2), TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R12);
	assert_unchanged(fx, t.gpa, TDX_PS_2M, t.hpa, &t.snap);
	assert_pamt(fx, t.sept, TDX_PS_4K, PT_NDA, 0);
	assert_true(pamt_of(fx, used).pamt_page);

	t.pair[0] = good[0];
	t.pair[1] = used;
	assert_status(f2_demote(fx, &t, &e1, &e2), TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R13);
	assert_unchanged(fx, t.gpa, TDX_PS_2M, t.hpa, &t.snap);
	assert_false(pamt_of(fx, good[0]).pamt_page);
	assert_true(pamt_of(fx, used).pamt_page);

	/* A page the module owns (a TDCX page) is not free either. */
	t.pair[1] = fx->td->tdcx_pa[0];
	assert_status(f2_demote(fx, &t, &e1, &e2), TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R13);
	assert_unchanged(fx, t.gpa, TDX_PS_2M, t.hpa, &t.snap);
	assert_false(pamt_of(fx, good[0]).pamt_page);

	t.pair[1] = good[1];
	f2_demote_ok(fx, &t);
	assert_int_equal(pamt_of(fx, t.hpa).dpamt_pages[1], good[1]);
}

/*
 * §2.8 step 7, §5: without ENHANCED_DEMOTE_INTERRUPTIBILITY a pending host
 * interrupt stops DEMOTE: restartable, RCX/RDX hold the inputs, no commit.
 */
static void test_f2_interrupted(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2;
	struct f2 t;

	f2_prepare(fx, &t);
	fx_block_track(fx, t.gpa, TDX_PS_2M);
	assert_int_equal(tdxsim_raise_interrupt(fx->sim, 0), 0);
	assert_status(f2_demote(fx, &t, &e1, &e2), TDX_INTERRUPTED_RESTARTABLE);
	assert_int_equal(e1, t.gpa | TDX_PS_2M);
	assert_int_equal(e2, fx->td->tdr_pa);
	f2_assert_untouched(fx, &t);
	/* The host took the interrupt when the call returned: the retry goes through. */
	f2_demote_ok(fx, &t);
}

/* ------------------------------------------------------------------------
 * F3: remove 4K pages of a split range; the last one hints PAMT.REMOVE.
 */
static u64 split_2m(struct fixture *fx, u64 gpa)
{
	fx_block_track(fx, gpa, TDX_PS_2M);
	return fx_demote(fx, gpa);
}

static void flow_f3(struct fixture *fx)
{
	u64 gpa = GPA_2M(0), hpa, sept, pair[2], c0, e0, pages[2], e1, e2;
	u64 g = gpa + 5 * SZ_4K, pa;
	struct tdx_module_args a;
	struct tdxsim_pamt_info pi;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	sept = split_2m(fx, gpa);
	pa = hpa + 5 * SZ_4K;
	pi = pamt_of(fx, hpa);
	pair[0] = pi.dpamt_pages[0];
	pair[1] = pi.dpamt_pages[1];
	c0 = chldcnt(fx);

	/* §2.5: BLOCK(4K) stamps the 4K PAMT entry with the epoch. */
	e0 = epoch(fx);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, g, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_sept(fx, g, TDX_PS_4K, SEPT_PUBLIC_PENDING_BLOCKED, pa);
	assert_int_equal(pamt_of(fx, pa).bepoch, e0);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);

	/* §2.10: FREE, PAMT_4K PT_NDA, RCX = HPA (count 511: no hint), page dirty. */
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, g, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, pa);
	assert_sept(fx, g, TDX_PS_4K, SEPT_PUBLIC_FREE, 0);
	pi = pamt_of(fx, pa);
	assert_int_equal(pi.level, TDX_PS_4K);
	assert_int_equal(pi.pt, PT_NDA);
	assert_int_equal(pi.owner, 0);
	assert_true(pi.allocated);
	assert_true(pi.dirty);
	assert_int_equal(pi.dirty_hkid, fx->td->hkid);
	if (has_dpamt(fx))
		assert_int_equal(pi.dpamt_count, NR_4K_IN_2M - 1);
	assert_int_equal(chldcnt(fx), c0 - 1);
	/* §2.12: a neighbour still mapped cannot be flushed. */
	assert_status(wbinvd(fx, pa + SZ_4K), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_status(wbinvd(fx, pa), TDX_SUCCESS);
	assert_false(pamt_of(fx, pa).dirty);
	assert_int_equal(tdxsim_page_free(fx->sim, pa, TDX_PS_4K), 0);
	assert_false(pamt_of(fx, pa).allocated);

	if (has_dpamt(fx)) {
		/* §2.15: the range is still in use: page 0 (4K indices 0-255) not empty. */
		assert_status(seamcall_rcx(fx, TDH_PHYMEM_PAMT_REMOVE, hpa | TDX_PS_2M, &a),
			      TDX_PAMT_PAGE_NOT_EMPTY | 0);
		assert_true(pamt_of(fx, hpa).dpamt_pair);
	} else {
		/* No Dynamic PAMT: the leaf does not exist. */
		assert_status(seamcall_rcx(fx, TDH_PHYMEM_PAMT_REMOVE, hpa | TDX_PS_2M, &a),
			      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
	}

	/* The other 511: only the last REMOVE carries bit 62 (with DPAMT). */
	remove_range_4k(fx, gpa, hpa, true);
	assert_int_equal(chldcnt(fx), c0 - NR_4K_IN_2M);
	assert_sept(fx, gpa, TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED, sept);
	assert_sept(fx, gpa + 511 * SZ_4K, TDX_PS_4K, SEPT_PUBLIC_FREE, 0);
	if (has_dpamt(fx)) {
		pi = pamt_of(fx, hpa);
		assert_true(pi.dpamt_pair);
		assert_int_equal(pi.dpamt_count, 0);
		pamt_remove_and_free(fx, hpa, pair);
		/* A second PAMT.REMOVE finds no pair. */
		assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, hpa, pages),
			      TDX_NO_PAMT_PAGE_PAIR | TDX_OPERAND_ID_RCX);
	}
	assert_pamt(fx, hpa, has_dpamt(fx) ? TDX_PS_2M : TDX_PS_4K, PT_NDA, 0);
}

static void test_f3_dpamt(void **state)
{
	flow_f3(*state);
}

static void test_f3_static(void **state)
{
	flow_f3(*state);
}

/* ------------------------------------------------------------------------
 * F4: remove a 2MB page: 512 WBINVDs, no PAMT.REMOVE.
 */
static void flow_f4(struct fixture *fx)
{
	u64 gpa = GPA_2M(0), hpa, c0, e1, e2, pages[2];
	struct tdxsim_pamt_info pi;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M), TDX_SUCCESS);
	c0 = chldcnt(fx);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_sept(fx, gpa, TDX_PS_2M, SEPT_PUBLIC_BLOCKED, hpa);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);
	/* §2.12: nothing can be flushed while the 2MB leaf is still there. */
	assert_status(wbinvd(fx, hpa + 9 * SZ_4K), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);

	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, hpa);		/* no hint: no pair involved */
	assert_sept(fx, gpa, TDX_PS_2M, SEPT_PUBLIC_FREE, 0);
	assert_pamt(fx, hpa, has_dpamt(fx) ? TDX_PS_2M : TDX_PS_4K, PT_NDA, 0);
	assert_int_equal(chldcnt(fx), c0 - NR_4K_IN_2M);
	for (unsigned int i = 0; i < NR_4K_IN_2M; i++) {
		pi = pamt_of(fx, hpa + i * SZ_4K);
		assert_true(pi.dirty);
		assert_int_equal(pi.dirty_hkid, fx->td->hkid);
	}
	/* The host must not take it back dirty... */
	for (unsigned int i = 0; i < NR_4K_IN_2M; i++)
		assert_status(wbinvd(fx, hpa + i * SZ_4K), TDX_SUCCESS);
	for (unsigned int i = 0; i < NR_4K_IN_2M; i++)
		assert_false(pamt_of(fx, hpa + i * SZ_4K).dirty);
	assert_false(pamt_of(fx, hpa).dpamt_pair);
	if (has_dpamt(fx))
		assert_status(tdxsim_tdh_phymem_pamt_remove(fx->sim, hpa, pages),
			      TDX_NO_PAMT_PAGE_PAIR | TDX_OPERAND_ID_RCX);
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_2M), 0);
}

static void test_f4_dpamt(void **state)
{
	flow_f4(*state);
}

static void test_f4_static(void **state)
{
	flow_f4(*state);
}

/* §2.10: REMOVE(4K) inside a blocked 2MB leaf: the walk stops at level 1. */
static void flow_f4_remove_4k_in_2m(struct fixture *fx)
{
	u64 gpa = GPA_2M(0), hpa, e1, e2;
	struct snap s;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M), TDX_SUCCESS);
	fx_block_track(fx, gpa, TDX_PS_2M);
	snap_take(fx, gpa, TDX_PS_2M, hpa, &s);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa + 2 * SZ_4K, TDX_PS_4K, &e1, &e2),
		      TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX);
	assert_ext(fx, e1, e2, gpa, TDX_PS_2M, SEPT_PUBLIC_BLOCKED, hpa);
	assert_int_equal(e1 & SEPT_ARCH_PS, SEPT_ARCH_PS);
	assert_unchanged(fx, gpa, TDX_PS_2M, hpa, &s);
	/* The right level goes through. */
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, hpa);
	for (unsigned int i = 0; i < NR_4K_IN_2M; i++)
		assert_status(wbinvd(fx, hpa + i * SZ_4K), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_2M), 0);
}

static void test_f4_remove_4k_in_2m_dpamt(void **state)
{
	flow_f4_remove_4k_in_2m(*state);
}

static void test_f4_remove_4k_in_2m_static(void **state)
{
	flow_f4_remove_4k_in_2m(*state);
}

/* §2.10: RUNNABLE needs BLOCK, then TRACK, before REMOVE(2M). */
static void flow_f4_not_blocked_tracked(struct fixture *fx)
{
	u64 gpa = GPA_2M(0), hpa, e1, e2;
	struct snap s;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	snap_take(fx, gpa, TDX_PS_2M, hpa, &s);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, TDX_PS_2M, &e1, &e2),
		      TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX);
	assert_ext(fx, e1, e2, gpa, TDX_PS_2M, SEPT_PUBLIC_PENDING, hpa);
	assert_unchanged(fx, gpa, TDX_PS_2M, hpa, &s);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	snap_take(fx, gpa, TDX_PS_2M, hpa, &s);
	/* Module: no entry details for this one. */
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, TDX_PS_2M, &e1, &e2),
		      TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	assert_unchanged(fx, gpa, TDX_PS_2M, hpa, &s);
	assert_false(pamt_of(fx, hpa).dirty);

	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, hpa);
	for (unsigned int i = 0; i < NR_4K_IN_2M; i++)
		assert_status(wbinvd(fx, hpa + i * SZ_4K), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_2M), 0);
}

static void test_f4_not_blocked_tracked_dpamt(void **state)
{
	flow_f4_not_blocked_tracked(*state);
}

static void test_f4_not_blocked_tracked_static(void **state)
{
	flow_f4_not_blocked_tracked(*state);
}

/* ------------------------------------------------------------------------
 * F5: re-mapping 2MB over a range that was split.
 */
static void flow_f5_nl_mapped(struct fixture *fx)
{
	u64 gpa = GPA_2M(0), hpa, sept, pair[2], e1, e2;
	struct tdxsim_pamt_info pi;
	struct snap s;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	sept = split_2m(fx, gpa);
	pi = pamt_of(fx, hpa);
	pair[0] = pi.dpamt_pages[0];
	pair[1] = pi.dpamt_pages[1];
	remove_range_4k(fx, gpa, hpa, false);
	if (has_dpamt(fx))
		pamt_remove_and_free(fx, hpa, pair);
	/* The physical 2MB is free again; the level-1 entry still points to the S-EPT page. */
	assert_pamt(fx, hpa, has_dpamt(fx) ? TDX_PS_2M : TDX_PS_4K, PT_NDA, 0);
	assert_sept(fx, gpa, TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED, sept);

	snap_take(fx, gpa, TDX_PS_2M, hpa, &s);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_2M, hpa >> 12, &e1, &e2),
		      TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX);
	/* A non-leaf entry is reported without its child table's address. */
	assert_ext(fx, e1, e2, gpa, TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED, 0);
	assert_int_equal(e1 & SEPT_ARCH_PS, 0);
	assert_unchanged(fx, gpa, TDX_PS_2M, hpa, &s);

	/* The same physical 2MB at another GPA is fine: the refusal was the S-EPT's. */
	fx_map_sept(fx, GPA_2M(1), TDX_PS_2M);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, GPA_2M(1), TDX_PS_2M, hpa >> 12, &e1, &e2),
		      TDX_SUCCESS);
	assert_sept(fx, GPA_2M(1), TDX_PS_2M, SEPT_PUBLIC_PENDING, hpa);
	assert_pamt(fx, hpa, TDX_PS_2M, PT_REG, fx->td->tdr_pa);
}

static void test_f5_nl_mapped_dpamt(void **state)
{
	flow_f5_nl_mapped(*state);
}

static void test_f5_nl_mapped_static(void **state)
{
	flow_f5_nl_mapped(*state);
}

/* F5, [P18]: the pair was not removed: the 2MB range can only be used at 4K. */
static void test_f5_pair_not_removed(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = GPA_2M(0), g2 = GPA_2M(1), hpa, pair[2], e1, e2;
	struct tdxsim_pamt_info pi;
	struct snap s;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	split_2m(fx, gpa);
	pi = pamt_of(fx, hpa);
	pair[0] = pi.dpamt_pages[0];
	pair[1] = pi.dpamt_pages[1];
	remove_range_4k(fx, gpa, hpa, false);
	pi = pamt_of(fx, hpa);
	assert_true(pi.dpamt_pair);
	assert_int_equal(pi.dpamt_count, 0);

	fx_map_sept(fx, g2, TDX_PS_2M);
	snap_take(fx, g2, TDX_PS_2M, hpa, &s);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g2, TDX_PS_2M, hpa >> 12, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	assert_unchanged(fx, g2, TDX_PS_2M, hpa, &s);
	assert_sept(fx, g2, TDX_PS_2M, SEPT_PUBLIC_FREE, 0);

	pamt_remove_and_free(fx, hpa, pair);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g2, TDX_PS_2M, hpa >> 12, &e1, &e2), TDX_SUCCESS);
	assert_pamt(fx, hpa, TDX_PS_2M, PT_REG, fx->td->tdr_pa);
}

/* ------------------------------------------------------------------------
 * F6: teardown, each page reclaimed by hand, TDR last.
 */
static u64 reclaim(struct fixture *fx, u64 pa, struct tdx_module_args *a)
{
	return seamcall_rcx(fx, TDH_PHYMEM_PAGE_RECLAIM, pa, a);
}

static void assert_reclaim_out(const struct tdx_module_args *a, u64 pt, u64 owner, u64 level)
{
	assert_int_equal(a->rcx, pt);
	assert_int_equal(a->rdx, owner);
	assert_int_equal(a->r8, level);
}

/* §2.13: RECLAIM a 4K page: outputs, R9 hint when the DPAMT count drops to 0. */
static void reclaim_4k(struct fixture *fx, u64 pa, u64 pt, u64 owner)
{
	struct tdx_module_args a;
	u64 hint = has_dpamt(fx) && pamt_of(fx, pa).dpamt_count == 1 ?
		   TDX_PAMT_REMOVAL_HINT : 0;

	assert_status(reclaim(fx, pa, &a), TDX_SUCCESS);
	assert_reclaim_out(&a, pt, owner, TDX_PS_4K);
	assert_int_equal(a.r9, hint);
	assert_int_equal(pamt_of(fx, pa).pt, PT_NDA);
	assert_int_equal(tdxsim_page_free(fx->sim, pa, TDX_PS_4K), 0);
}

/* PAMT.REMOVE every empty pair left and give its pages back. */
static void free_empty_pairs(struct fixture *fx)
{
	for (u64 pa = fx->cfg.mem_base; pa < fx->cfg.mem_base + fx->cfg.mem_size; pa += SZ_2M) {
		struct tdxsim_pamt_info pi = pamt_of(fx, pa);

		if (!pi.dpamt_pair)
			continue;
		assert_int_equal(pi.dpamt_count, 0);
		pamt_remove_and_free(fx, pa, pi.dpamt_pages);
	}
}

/* After KEY.FREEID the TD's memory leaves fail on the TD state (§2.1 step 4). */
static void assert_mem_leaves_dead(struct fixture *fx, u64 gpa, u64 status)
{
	u64 page = tdxsim_page_alloc(fx->sim, TDX_PS_4K), pair[2] = { 0, 0 }, e1, e2;
	struct tdx_module_args a = { .rcx = gpa | TDX_PS_4K, .rdx = fx->td->tdr_pa,
				     .r8 = page, .r9 = 0x2000 };

	assert_true(page != 0);
	assert_status(tdxsim_tdh_mem_sept_add(fx->td, gpa, TDX_PS_2M, page, &e1, &e2), status);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, page >> 12, &e1, &e2), status);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, gpa, TDX_PS_2M, &e1, &e2), status);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gpa, TDX_PS_2M, &e1, &e2), status);
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, gpa, TDX_PS_2M, page, pair, &e1, &e2), status);
	assert_status(tdxsim_tdh_mem_track(fx->td), status);
	assert_status(tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_ADD, &a), status);
	assert_status(tdxsim_vcpu_enter(fx->vcpu), status);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);
}

static void flow_f6(struct fixture *fx)
{
	u64 g0 = GPA_2M(0), g1 = GPA_2M(1), tdr = fx->td->tdr_pa, big, small, sept[3];
	u64 tdvpr = tdxsim_vcpu_tdvpr_pa(fx->vcpu), chld;
	struct tdxsim_vp_info vp;
	struct tdx_module_args a;

	big = fx_aug(fx, g0, TDX_PS_2M);
	small = fx_aug(fx, g1, TDX_PS_2M);
	sept[0] = split_2m(fx, g1);
	sept[1] = sept_at(fx, g0, TDX_PS_2M + 1).hpa;	/* table of the level-1 entries */
	sept[2] = sept_at(fx, g0, TDX_PS_1G + 1).hpa;	/* table of the level-2 entries */
	fx_enter(fx);

	/* §8 mgmt: VPFLUSHDONE refuses while a vCPU is associated. */
	assert_status(seamcall_rcx(fx, TDH_MNG_VPFLUSHDONE, tdr, &a), TDX_FLUSHVP_NOT_DONE);
	tdxsim_td_kick_vcpus(fx->td);
	/* Out of the guest, but associated until TDH.VP.FLUSH. */
	assert_status(seamcall_rcx(fx, TDH_MNG_VPFLUSHDONE, tdr, &a), TDX_FLUSHVP_NOT_DONE);
	assert_status(tdxsim_td_flush_vcpus(fx->td), TDX_SUCCESS);
	assert_status(seamcall_rcx(fx, TDH_MNG_VPFLUSHDONE, tdr, &a), TDX_SUCCESS);
	/* BLOCKED: keys gone for the memory leaves; no RECLAIM before TEARDOWN. */
	assert_mem_leaves_dead(fx, g0, TDX_TD_KEYS_NOT_CONFIGURED);
	assert_status(reclaim(fx, big, &a), TDX_LIFECYCLE_STATE_INCORRECT);
	assert_reclaim_out(&a, PT_REG, tdr, TDX_PS_2M);
	assert_status(seamcall_rcx(fx, TDH_MNG_KEY_FREEID, tdr, &a), TDX_WBCACHE_NOT_COMPLETE);
	assert_status(seamcall_rcx(fx, TDH_PHYMEM_CACHE_WB, 0, &a), TDX_SUCCESS);
	assert_status(seamcall_rcx(fx, TDH_MNG_KEY_FREEID, tdr, &a), TDX_SUCCESS);
	assert_mem_leaves_dead(fx, g0, TDX_TD_KEYS_NOT_CONFIGURED);

	/* The TDR goes last: its children first. */
	assert_status(reclaim(fx, tdr, &a), TDX_TD_ASSOCIATED_PAGES_EXIST);
	assert_reclaim_out(&a, PT_TDR, 0, TDX_PS_4K);
	/* §2.13: inside a 2MB page, not aligned to it: invalid, outputs filled. */
	chld = chldcnt(fx);
	assert_status(reclaim(fx, big + SZ_4K, &a), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_reclaim_out(&a, PT_REG, tdr, TDX_PS_2M);
	assert_pamt(fx, big, TDX_PS_2M, PT_REG, tdr);
	assert_int_equal(chldcnt(fx), chld);
	/* One call for the 2MB page: R8 = 1. */
	assert_status(reclaim(fx, big, &a), TDX_SUCCESS);
	assert_reclaim_out(&a, PT_REG, tdr, TDX_PS_2M);
	assert_int_equal(a.r9, 0);
	assert_int_equal(chldcnt(fx), chld - NR_4K_IN_2M);
	assert_int_equal(pamt_of(fx, big).pt, PT_NDA);
	assert_false(pamt_of(fx, big).dirty);
	assert_int_equal(tdxsim_page_free(fx->sim, big, TDX_PS_2M), 0);
	/* A second time: PT_NDA, outputs stay 0. */
	assert_status(reclaim(fx, big, &a), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_reclaim_out(&a, 0, 0, 0);

	/* The split range: 512 4K pages; with DPAMT the last one hints in R9. */
	for (unsigned int i = 0; i < NR_4K_IN_2M; i++)
		reclaim_4k(fx, small + i * SZ_4K, PT_REG, tdr);
	for (int i = 0; i < 3; i++)
		reclaim_4k(fx, sept[i], PT_EPT, tdr);
	assert_int_equal(tdxsim_vp_info(fx->sim, tdvpr, &vp), 0);
	assert_int_equal(vp.nr_tdvpx, fx->cfg.nr_tdvpx_pages);
	reclaim_4k(fx, tdvpr, PT_TDVPR, tdr);
	for (unsigned int i = 0; i < vp.nr_tdvpx; i++)
		reclaim_4k(fx, vp.tdvpx_pa[i], PT_TDCX, tdr);
	for (unsigned int i = 0; i < fx->td->nr_tdcx; i++)
		reclaim_4k(fx, fx->td->tdcx_pa[i], PT_TDCX, tdr);
	assert_int_equal(chldcnt(fx), 0);
	reclaim_4k(fx, tdr, PT_TDR, 0);
	assert_status(reclaim(fx, tdr, &a), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
	if (has_dpamt(fx))
		free_empty_pairs(fx);
	/* All given back by hand: teardown finds no TD and only frees the handle. */
	assert_int_equal(tdxsim_td_teardown(fx->td, 0), -EINVAL);
	fx->td = NULL;
	fx->vcpu = NULL;
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 0);
}

static void test_f6_dpamt(void **state)
{
	flow_f6(*state);
}

static void test_f6_static(void **state)
{
	flow_f6(*state);
}

/* ------------------------------------------------------------------------
 * F7: TD build (INITIALIZED).
 */
#define SOURCE_PA	0x2000ULL	/* TD_PARAMS-like shared source page */

static u64 page_add(struct fixture *fx, u64 rcx, u64 page, u64 source,
		    struct tdx_module_args *a)
{
	*a = (struct tdx_module_args){ .rcx = rcx, .rdx = fx->td->tdr_pa, .r8 = page,
				       .r9 = source };
	return tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_ADD, a);
}

/* §2.3: PAGE.ADD maps 4K pages MAPPED directly; only 4K. */
static void test_f7_page_add(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = GPA_2M(0), tdr = fx->td->tdr_pa, page, other, c0, n0;
	struct tdx_module_args a;
	struct snap s;

	fx_map_sept(fx, gpa, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	other = fx_alloc_4k(fx);
	c0 = chldcnt(fx);
	n0 = pamt_of(fx, page).dpamt_count;

	assert_status(page_add(fx, gpa, page, SOURCE_PA, &a), TDX_SUCCESS);
	assert_sept(fx, gpa, TDX_PS_4K, SEPT_PUBLIC_MAPPED, page);
	assert_pamt(fx, page, TDX_PS_4K, PT_REG, tdr);
	assert_int_equal(pamt_of(fx, page).dpamt_count, n0 + 1);
	assert_int_equal(chldcnt(fx), c0 + 1);

	/* Same GPA again: the entry is not FREE. */
	snap_take(fx, gpa, TDX_PS_4K, other, &s);
	assert_status(page_add(fx, gpa, other, SOURCE_PA, &a),
		      TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_ext(fx, a.rcx, a.rdx, gpa, TDX_PS_4K, SEPT_PUBLIC_MAPPED, page);
	assert_unchanged(fx, gpa, TDX_PS_4K, other, &s);
	/* Level 1: PAGE.ADD is 4K only. */
	snap_take(fx, GPA_2M(1), TDX_PS_2M, other, &s);
	assert_status(page_add(fx, GPA_2M(1) | TDX_PS_2M, other, SOURCE_PA, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_unchanged(fx, GPA_2M(1), TDX_PS_2M, other, &s);
	/* The source is a shared page: no KeyID. */
	snap_take(fx, gpa + SZ_4K, TDX_PS_4K, other, &s);
	assert_status(page_add(fx, gpa + SZ_4K, other,
			       tdxsim_mk_keyed_paddr(fx->sim, fx->td->hkid, SOURCE_PA), &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R9);
	assert_unchanged(fx, gpa + SZ_4K, TDX_PS_4K, other, &s);
	/* The target must be free. */
	assert_status(page_add(fx, gpa + SZ_4K, page, SOURCE_PA, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	assert_sept(fx, gpa + SZ_4K, TDX_PS_4K, SEPT_PUBLIC_FREE, 0);

	assert_status(page_add(fx, gpa + SZ_4K, other, SOURCE_PA, &a), TDX_SUCCESS);
	assert_sept(fx, gpa + SZ_4K, TDX_PS_4K, SEPT_PUBLIC_MAPPED, other);
	assert_int_equal(chldcnt(fx), c0 + 2);
}

/*
 * §2.1.1: in INITIALIZED no TLB tracking is required, so REMOVE and DEMOTE
 * need no BLOCK/TRACK; after FINALIZE (RUNNABLE) they do.
 */
static void test_f7_no_block_track(void **state)
{
	struct fixture *fx = *state;
	u64 g0 = GPA_2M(0), g1 = GPA_2M(1), page, hpa, sept, e0, c0, e1, e2, st, hint;
	struct tdx_module_args a;
	struct snap s;

	fx_map_sept(fx, g0, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	assert_status(page_add(fx, g0, page, SOURCE_PA, &a), TDX_SUCCESS);
	/* AUG is allowed in INITIALIZED too. */
	hpa = fx_aug(fx, g1, TDX_PS_2M);
	assert_sept(fx, g1, TDX_PS_2M, SEPT_PUBLIC_PENDING, hpa);
	e0 = epoch(fx);
	c0 = chldcnt(fx);

	hint = pamt_of(fx, page).dpamt_count == 1 ? TDX_PAMT_REMOVAL_HINT : 0;
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, g0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, page | hint);
	assert_sept(fx, g0, TDX_PS_4K, SEPT_PUBLIC_FREE, 0);
	assert_int_equal(pamt_of(fx, page).pt, PT_NDA);
	assert_true(pamt_of(fx, page).dirty);
	assert_status(wbinvd(fx, page), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);

	sept = fx_demote(fx, g1);
	assert_sept(fx, g1, TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED, sept);
	assert_sept(fx, g1 + SZ_4K, TDX_PS_4K, SEPT_PUBLIC_PENDING, hpa + SZ_4K);
	assert_int_equal(pamt_of(fx, hpa).dpamt_count, NR_4K_IN_2M);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, g1, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(e1, hpa);
	assert_status(wbinvd(fx, hpa), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_4K), 0);
	/* No TRACK was ever needed. */
	assert_int_equal(epoch(fx), e0);
	/* -1 (PAGE.ADD page), +1 (DEMOTE's S-EPT page), -1 (the 4K child). */
	assert_int_equal(chldcnt(fx), c0 - 1);

	/* RUNNABLE: the same REMOVE now needs the entry blocked. */
	fx->vcpu = tdxsim_vcpu_create(fx->td, &st);
	assert_non_null(fx->vcpu);
	assert_status(tdxsim_td_finalize(fx->td), TDX_SUCCESS);
	snap_take(fx, g1 + SZ_4K, TDX_PS_4K, hpa + SZ_4K, &s);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, g1 + SZ_4K, TDX_PS_4K, &e1, &e2),
		      TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX);
	assert_ext(fx, e1, e2, g1 + SZ_4K, TDX_PS_4K, SEPT_PUBLIC_PENDING, hpa + SZ_4K);
	assert_unchanged(fx, g1 + SZ_4K, TDX_PS_4K, hpa + SZ_4K, &s);
	/* And PAGE.ADD is over. */
	page = fx_alloc_4k(fx);
	assert_status(page_add(fx, g0, page, SOURCE_PA, &a), TDX_OP_STATE_INCORRECT);
	assert_sept(fx, g0, TDX_PS_4K, SEPT_PUBLIC_FREE, 0);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);
}

#define T(fn, setup)	cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_f1_dpamt, fx_setup_runnable),
		T(test_f1_static, fx_setup_runnable_nodpamt),
		T(test_f2_dpamt, fx_setup_runnable),
		T(test_f2_static, fx_setup_runnable_nodpamt),
		T(test_f2_not_blocked_dpamt, fx_setup_runnable),
		T(test_f2_not_blocked_static, fx_setup_runnable_nodpamt),
		T(test_f2_not_tracked_dpamt, fx_setup_runnable),
		T(test_f2_not_tracked_static, fx_setup_runnable_nodpamt),
		T(test_f2_vcpu_in_epoch_dpamt, fx_setup_runnable),
		T(test_f2_vcpu_in_epoch_static, fx_setup_runnable_nodpamt),
		T(test_f2_sept_page_no_pair, fx_setup_runnable),
		T(test_f2_pair_page_not_free, fx_setup_runnable),
		T(test_f2_interrupted, fx_setup_runnable_interruptible),
		T(test_f3_dpamt, fx_setup_runnable),
		T(test_f3_static, fx_setup_runnable_nodpamt),
		T(test_f4_dpamt, fx_setup_runnable),
		T(test_f4_static, fx_setup_runnable_nodpamt),
		T(test_f4_remove_4k_in_2m_dpamt, fx_setup_runnable),
		T(test_f4_remove_4k_in_2m_static, fx_setup_runnable_nodpamt),
		T(test_f4_not_blocked_tracked_dpamt, fx_setup_runnable),
		T(test_f4_not_blocked_tracked_static, fx_setup_runnable_nodpamt),
		T(test_f5_nl_mapped_dpamt, fx_setup_runnable),
		T(test_f5_nl_mapped_static, fx_setup_runnable_nodpamt),
		T(test_f5_pair_not_removed, fx_setup_runnable),
		T(test_f6_dpamt, fx_setup_runnable),
		T(test_f6_static, fx_setup_runnable_nodpamt),
		T(test_f7_page_add, fx_setup_initialized),
		T(test_f7_no_block_track, fx_setup_initialized),
	};

	return run_group(tests);
}
