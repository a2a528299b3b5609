// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDH.MEM.PAGE.DEMOTE (spec seamcall.md §2.8), TDH.MEM.PAGE.PROMOTE (§2.9) and
 * TDG.MEM.PAGE.ACCEPT (§2.16, with /tmp/research/mgmt.md §12 where the module
 * source differs): success paths, every error path, host interrupts, and the
 * guest/host ACCEPT dialogues of §7.7.
 */
#include <string.h>

#include "harness.h"
#include "tdxsim-internal.h"

#define GPA_4K(base, i)		((base) + (u64)(i) * TDX_PAGE_SIZE)
#define RWX			(SEPT_ARCH_R | SEPT_ARCH_W | SEPT_ARCH_X)

/*
 * Architectural leaf entry as reported in RCX (set_arch_septe_details_in_vmm_regs()):
 * HPA | WB | IPAT | PS | SVE on every leaf, 4K included; RWX only when MAPPED.
 */
static u64 arch_leaf(u64 hpa, int level, bool mapped)
{
	(void)level;
	return hpa | SEPT_ARCH_MT_WB | SEPT_ARCH_IPAT | SEPT_ARCH_PS | SEPT_ARCH_SVE |
	       (mapped ? RWX : 0);
}

/* Architectural non-leaf entry: RWX | PS only, no address; RWX cleared by BLOCK (§2.5). */
static u64 arch_nl(bool blocked)
{
	return blocked ? 0 : RWX;
}

/* RDX of the S-EPT error details: level in 2:0, public state in 15:8 (§0.2). */
static u64 level_state(int level, u8 state)
{
	return (u64)level | ((u64)state << TDX_SEPT_INFO_STATE_SHIFT);
}

static struct tdxsim_sept_info sept_at(struct fixture *fx, u64 gpa, int level)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, level, &si), 0);
	return si;
}

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

static void accept_ok(struct fixture *fx, u64 gpa, int level)
{
	if (!tdxsim_vcpu_in_guest(fx->vcpu))
		fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, level), TDX_SUCCESS);
}

static u64 seamcall(struct fixture *fx, u64 leaf, struct tdx_module_args *a)
{
	return tdxsim_seamcall(fx->sim, leaf, a);
}

/* The pages a 2MB DEMOTE consumes: R8 and, with DPAMT, the R12/R13 pair. */
struct demote_pages {
	u64 gpa, hpa;
	u64 sept;
	u64 pair[2];
};

/* AUG a 2MB page (accepted if @accept), BLOCK + TRACK + kick, allocate DEMOTE's pages. */
static void prep_demote(struct fixture *fx, u64 gpa, bool accept, bool block,
			struct demote_pages *d)
{
	d->gpa = gpa;
	d->hpa = fx_aug(fx, gpa, TDX_PS_2M);
	if (accept) {
		accept_ok(fx, gpa, TDX_PS_2M);
		tdxsim_vcpu_exit(fx->vcpu);
	}
	if (block)
		fx_block_track(fx, gpa, TDX_PS_2M);
	d->sept = fx_alloc_4k(fx);
	d->pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	d->pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_true(d->pair[0] && d->pair[1]);
}

/* Give back DEMOTE's pages when no DEMOTE consumed them. */
static void free_demote_pages(struct fixture *fx, struct demote_pages *d)
{
	assert_int_equal(tdxsim_page_free(fx->sim, d->sept, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, d->pair[0], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, d->pair[1], TDX_PS_4K), 0);
}

static u64 demote_raw(struct fixture *fx, u64 rcx, u64 r8, u64 r12, u64 r13,
		      struct tdx_module_args *out)
{
	struct tdx_module_args a = {
		.rcx = rcx, .rdx = fx->td->tdr_pa, .r8 = r8, .r12 = r12, .r13 = r13,
	};
	u64 st = seamcall(fx, TDH_MEM_PAGE_DEMOTE, &a);

	*out = a;
	return st;
}

/* Everything a failed DEMOTE must leave alone. */
struct demote_snap {
	struct tdxsim_sept_info entry;
	struct tdxsim_pamt_info page, page_last, sept, p0, p1;
	u64 chldcnt;
};

static void snap_demote(struct fixture *fx, const struct demote_pages *d, struct demote_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->entry = sept_at(fx, d->gpa, TDX_PS_2M);
	s->page = pamt_at(fx, d->hpa);
	s->page_last = pamt_at(fx, d->hpa + 511 * TDX_PAGE_SIZE);
	s->sept = pamt_at(fx, d->sept);
	s->p0 = pamt_at(fx, d->pair[0]);
	s->p1 = pamt_at(fx, d->pair[1]);
	s->chldcnt = chldcnt(fx);
}

static void assert_demote_unchanged(struct fixture *fx, const struct demote_pages *d,
				    const struct demote_snap *before)
{
	struct demote_snap now;

	snap_demote(fx, d, &now);
	assert_memory_equal(&now.entry, &before->entry, sizeof(now.entry));
	assert_memory_equal(&now.page, &before->page, sizeof(now.page));
	assert_memory_equal(&now.page_last, &before->page_last, sizeof(now.page_last));
	assert_memory_equal(&now.sept, &before->sept, sizeof(now.sept));
	assert_memory_equal(&now.p0, &before->p0, sizeof(now.p0));
	assert_memory_equal(&now.p1, &before->p1, sizeof(now.p1));
	assert_int_equal(now.chldcnt, before->chldcnt);
	/* Still the 2MB leaf, no DPAMT node for the guest range, pair not taken. */
	assert_true(now.entry.leaf);
	assert_int_equal(now.page.level, TDX_PS_2M);
	assert_false(now.page.dpamt_pair);
	assert_false(now.p0.pamt_page);
	assert_false(now.p1.pamt_page);
	assert_int_equal(now.sept.pt, PT_NDA);
}

/* spec §2.8 commit: 512 children copied from the parent minus the blocked state. */
static void assert_demoted(struct fixture *fx, const struct demote_pages *d, u8 child_state,
			   bool dpamt)
{
	struct tdxsim_sept_info si = sept_at(fx, d->gpa, TDX_PS_2M);
	struct tdxsim_pamt_info pi;

	assert_int_equal(si.state, SEPT_PUBLIC_NL_MAPPED);
	assert_false(si.leaf);
	assert_int_equal(si.hpa, d->sept);
	assert_int_equal(si.entry, arch_nl(false));
	for (unsigned int i = 0; i < 512; i++) {
		u64 hpa = d->hpa + i * TDX_PAGE_SIZE;

		si = sept_at(fx, GPA_4K(d->gpa, i), TDX_PS_4K);
		assert_int_equal(si.state, child_state);
		assert_true(si.leaf);
		assert_int_equal(si.hpa, hpa);
		assert_int_equal(si.accept_counter, 0);
		assert_int_equal(si.entry,
				 arch_leaf(hpa, TDX_PS_4K, child_state == SEPT_PUBLIC_MAPPED));
		pi = pamt_at(fx, hpa);
		assert_int_equal(pi.level, TDX_PS_4K);
		assert_int_equal(pi.pt, PT_REG);
		assert_int_equal(pi.owner, fx->td->tdr_pa);
		assert_int_equal(pi.bepoch, 0);
		assert_int_equal(pi.dpamt_pair, dpamt);
		if (dpamt) {
			assert_int_equal(pi.dpamt_count, 512);
			assert_int_equal(pi.dpamt_pages[0], d->pair[0]);
			assert_int_equal(pi.dpamt_pages[1], d->pair[1]);
		}
	}
	/* The 2MB PAMT entry itself: PT_PAMT with DPAMT, PT_NDA with static PAMT. */
	assert_int_equal(pamt_entry_at(fx->sim, d->hpa, TDX_PS_2M)->pt, dpamt ? PT_PAMT : PT_NDA);
	pi = pamt_at(fx, d->sept);
	assert_int_equal(pi.level, TDX_PS_4K);
	assert_int_equal(pi.pt, PT_EPT);
	assert_int_equal(pi.owner, fx->td->tdr_pa);
	if (dpamt) {
		assert_true(pamt_at(fx, d->pair[0]).pamt_page);
		assert_true(pamt_at(fx, d->pair[1]).pamt_page);
	}
}

/* ---------------------------------------------------------------------------
 * DEMOTE success paths.
 */

/* spec §2.8, §4.3: MAPPED 2MB, blocked and tracked, DPAMT pair in R12/R13. */
static void test_demote_2m_mapped_dpamt(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	u64 e1 = ~0ULL, e2 = ~0ULL, cnt, sept_count;

	prep_demote(fx, GPA_2M(0), true, true, &d);
	assert_int_equal(sept_at(fx, d.gpa, TDX_PS_2M).state, SEPT_PUBLIC_BLOCKED);
	cnt = chldcnt(fx);
	sept_count = pamt_at(fx, d.sept).dpamt_count;
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, d.gpa, TDX_PS_2M, d.sept, d.pair, &e1, &e2),
		      TDX_SUCCESS);
	/* §2.1 step 1: RCX/RDX are zeroed, no extended error on success. */
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	assert_demoted(fx, &d, SEPT_PUBLIC_MAPPED, true);
	assert_int_equal(chldcnt(fx), cnt + 1);
	/* §4.3: the new S-EPT page counts in its own 2MB node. */
	assert_int_equal(pamt_at(fx, d.sept).dpamt_count, sept_count + 1);
}

/* spec §2.8 commit: PENDING_BLOCKED parent -> 512 PENDING children. */
static void test_demote_2m_pending_blocked(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	u64 e1, e2;

	prep_demote(fx, GPA_2M(0), false, true, &d);
	assert_int_equal(sept_at(fx, d.gpa, TDX_PS_2M).state, SEPT_PUBLIC_PENDING_BLOCKED);
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, d.gpa, TDX_PS_2M, d.sept, d.pair, &e1, &e2),
		      TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_PENDING, true);
}

/* spec §4.1: static PAMT, R12/R13 ignored; 512 4K PT_REG entries, 2MB entry PT_NDA. */
static void test_demote_2m_nodpamt(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct tdx_module_args a;
	u64 cnt;

	prep_demote(fx, GPA_2M(0), true, true, &d);
	cnt = chldcnt(fx);
	/* Junk in R12/R13: only read when the module runs with Dynamic PAMT. */
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, d.sept, 0x7, ~0ULL, &a), TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_MAPPED, false);
	assert_int_equal(chldcnt(fx), cnt + 1);
	assert_false(pamt_at(fx, d.pair[0]).pamt_page);
	assert_int_equal(tdxsim_page_free(fx->sim, d.pair[0], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, d.pair[1], TDX_PS_4K), 0);
}

/*
 * spec §2.1.1, §3.3: INITIALIZED TD needs no BLOCK/TRACK.  A MAPPED 2MB page is
 * built the only way a TD under construction can have one: 512 PAGE.ADDs of a
 * 2MB-aligned block merged by PROMOTE (also without BLOCK), then split again.
 */
static void test_demote_initialized_mapped(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d = { .gpa = GPA_2M(0) };
	struct tdxsim_sept_info si;
	struct tdxsim_pamt_info pi;
	u64 e1, e2, sept_old, sept_ret, pair_ret[2], cnt;

	d.hpa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(d.hpa != 0);
	fx_ensure_pair(fx, d.hpa);
	fx_map_sept(fx, d.gpa, TDX_PS_4K);
	sept_old = sept_at(fx, d.gpa, TDX_PS_2M).hpa;
	for (unsigned int i = 0; i < 512; i++)
		assert_status(tdxsim_tdh_mem_page_add(fx->td, GPA_4K(d.gpa, i), d.hpa + i * TDX_PAGE_SIZE,
					       0x2000, &e1, &e2), TDX_SUCCESS);
	cnt = chldcnt(fx);
	pi = pamt_at(fx, d.hpa);
	assert_true(pi.dpamt_pair);
	assert_int_equal(pi.dpamt_count, 512);
	assert_status(tdxsim_tdh_mem_page_promote(fx->td, d.gpa, TDX_PS_2M, &sept_ret, pair_ret, &e1,
					   &e2), TDX_SUCCESS);
	assert_int_equal(sept_ret & ~TDX_PAMT_REMOVAL_HINT, sept_old);
	assert_int_equal(pair_ret[0], pi.dpamt_pages[0]);
	assert_int_equal(pair_ret[1], pi.dpamt_pages[1]);
	assert_false(pamt_at(fx, d.hpa).dpamt_pair);
	assert_int_equal(chldcnt(fx), cnt - 1);
	si = sept_at(fx, d.gpa, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(si.hpa, d.hpa);
	/* Give back the merged S-EPT page and the pair the way KVM would. */
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, sept_old), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, sept_old, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, pair_ret[0], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, pair_ret[1], TDX_PS_4K), 0);

	/* DEMOTE of the MAPPED, never blocked leaf. */
	d.sept = fx_alloc_4k(fx);
	d.pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	d.pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	cnt = chldcnt(fx);
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, d.gpa, TDX_PS_2M, d.sept, d.pair, &e1, &e2),
		      TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_MAPPED, true);
	assert_int_equal(chldcnt(fx), cnt + 1);
}

/* spec §2.1.1: INITIALIZED, a PENDING (AUGed) 2MB page splits without BLOCK too. */
static void test_demote_initialized_pending(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	u64 e1, e2;

	d.gpa = GPA_2M(3);
	d.hpa = fx_aug(fx, d.gpa, TDX_PS_2M);
	d.sept = fx_alloc_4k(fx);
	d.pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	d.pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, d.gpa, TDX_PS_2M, d.sept, d.pair, &e1, &e2),
		      TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_PENDING, true);
}

/* ---------------------------------------------------------------------------
 * DEMOTE errors: each leaves everything as it was.
 */

/* spec §2.8 step 4: RUNNABLE, not blocked -> GPA_RANGE_NOT_BLOCKED|RCX with details. */
static void test_demote_not_blocked(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d, p;
	struct demote_snap s;
	struct tdx_module_args a;

	prep_demote(fx, GPA_2M(0), true, false, &d);
	snap_demote(fx, &d, &s);
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, arch_leaf(d.hpa, TDX_PS_2M, true));
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_MAPPED));
	assert_demote_unchanged(fx, &d, &s);

	/* Same for a PENDING leaf. */
	prep_demote(fx, GPA_2M(1), false, false, &p);
	snap_demote(fx, &p, &s);
	assert_status(demote_raw(fx, p.gpa | TDX_PS_2M, p.sept, p.pair[0], p.pair[1], &a),
		      TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, arch_leaf(p.hpa, TDX_PS_2M, false));
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_PENDING));
	assert_demote_unchanged(fx, &p, &s);
	free_demote_pages(fx, &d);
	free_demote_pages(fx, &p);
}

/* spec §2.8 step 4, §2.6: blocked but no TRACK -> TLB_TRACKING_NOT_DONE|RCX. */
static void test_demote_not_tracked(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct demote_snap s;
	struct tdx_module_args a;
	u64 e1, e2;

	prep_demote(fx, GPA_2M(0), true, false, &d);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, d.gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	snap_demote(fx, &d, &s);
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX);
	/* Module source: no entry details for this status, RCX/RDX stay cleared. */
	assert_int_equal(a.rcx, 0);
	assert_int_equal(a.rdx, 0);
	assert_demote_unchanged(fx, &d, &s);

	/* TRACK completes the sequence; the same pages then work. */
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_MAPPED, true);
}

/*
 * spec §2.6 is_tlb_tracked(): a vCPU that entered in the blocking epoch and is
 * still in the guest after TRACK keeps the range untracked until it exits.
 */
static void test_demote_vcpu_in_blocked_epoch(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct demote_snap s;
	struct tdx_module_args a;
	u64 e1, e2;

	prep_demote(fx, GPA_2M(0), true, false, &d);
	fx_enter(fx);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, d.gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	snap_demote(fx, &d, &s);
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, 0);
	assert_int_equal(a.rdx, 0);
	assert_demote_unchanged(fx, &d, &s);

	tdxsim_td_kick_vcpus(fx->td);
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_MAPPED, true);
}

/* spec §2.1 steps 6/9, §2.8 step 3: operand, walk and state errors. */
static void test_demote_operand_walk_state(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct demote_snap s;
	struct tdx_module_args a;

	prep_demote(fx, GPA_2M(0), true, true, &d);
	/* A range mapped at 4K (level-1 entry NL_MAPPED), set up before the snapshot. */
	fx_map_sept(fx, GPA_2M(6), TDX_PS_4K);
	snap_demote(fx, &d, &s);
	/* Level 0 (and 3) outside DEMOTE's 2MB..1GB range. */
	assert_status(demote_raw(fx, d.gpa | TDX_PS_4K, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, 0);
	assert_int_equal(a.rdx, 0);
	assert_status(demote_raw(fx, d.gpa | 3, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	/* Reserved bit 3 of the GPA|level operand, and a GPA not 2MB aligned. */
	assert_status(demote_raw(fx, d.gpa | 0x8 | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	assert_status(demote_raw(fx, (d.gpa + 0x1000) | TDX_PS_2M, d.sept, d.pair[0], d.pair[1],
				 &a), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	/* TD handle with a reserved bit: DEMOTE's RDX carries flags (§0.2). */
	a = (struct tdx_module_args){ .rcx = d.gpa | TDX_PS_2M, .rdx = fx->td->tdr_pa | 0x2,
				      .r8 = d.sept, .r12 = d.pair[0], .r13 = d.pair[1] };
	assert_status(seamcall(fx, TDH_MEM_PAGE_DEMOTE, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RDX);
	assert_demote_unchanged(fx, &d, &s);

	/* No level-1 table walked to: the walk stops at the FREE level-1 entry of GPA_2M(5). */
	assert_status(demote_raw(fx, GPA_2M(5) | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, SEPT_ARCH_SVE);
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_FREE));
	/* GPA in another 1GB: the level-2 entry is FREE, the walk stops above the target. */
	assert_status(demote_raw(fx, (GPA_2M(0) + (1ULL << 30)) | TDX_PS_2M, d.sept, d.pair[0],
				 d.pair[1], &a), TDX_EPT_WALK_FAILED | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, SEPT_ARCH_SVE);
	assert_int_equal(a.rdx, level_state(TDX_PS_1G, SEPT_PUBLIC_FREE));

	/* NL_MAPPED: the level-1 entry of a range already mapped at 4K. */
	assert_status(demote_raw(fx, GPA_2M(6) | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, arch_nl(false));
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED));
	assert_int_equal(sept_at(fx, GPA_2M(6), TDX_PS_2M).state, SEPT_PUBLIC_NL_MAPPED);
	assert_demote_unchanged(fx, &d, &s);
	free_demote_pages(fx, &d);
}

/* spec §2.8 step 5, §4.3: the new S-EPT page R8. */
static void test_demote_r8_errors(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct demote_snap s;
	struct tdx_module_args a;
	u64 blk, tdr_pair0;

	prep_demote(fx, GPA_2M(0), true, true, &d);
	snap_demote(fx, &d, &s);

	/* A page of a 2MB range with no DPAMT pair. */
	blk = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(blk != 0);
	assert_false(pamt_at(fx, blk).dpamt_pair);
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, blk + 0x3000, d.pair[0], d.pair[1], &a),
		      TDX_MISSING_PAMT_PAGE_PAIR | TDX_OPERAND_ID_R8);
	assert_false(pamt_at(fx, blk).dpamt_pair);
	assert_int_equal(tdxsim_page_free(fx->sim, blk, TDX_PS_2M), 0);

	/* A page in use by the TD (a TDCX page), and a page that is a DPAMT page. */
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, fx->td->tdcx_pa[0], d.pair[0], d.pair[1],
				 &a), TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	/*
	 * The TDR itself: this very call holds its PAMT entry shared (§2.1 step 3),
	 * so the exclusive lock R8 needs cannot be had -> BUSY, as on the module.
	 */
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, fx->td->tdr_pa, d.pair[0], d.pair[1], &a),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_R8);
	tdr_pair0 = pamt_at(fx, fx->td->tdr_pa).dpamt_pages[0];
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, tdr_pair0, d.pair[0], d.pair[1], &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	/* Misaligned / outside memory. */
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, d.sept + 0x800, d.pair[0], d.pair[1], &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R8);
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, 0x1000, d.pair[0], d.pair[1], &a),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R8);
	assert_demote_unchanged(fx, &d, &s);
	assert_true(pamt_at(fx, tdr_pair0).pamt_page);
	free_demote_pages(fx, &d);
}

/* spec §2.8 step 8: the DPAMT pair R12/R13; a failure on R13 gives R12 back. */
static void test_demote_pair_errors(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct demote_snap s;
	struct tdx_module_args a;
	u64 rcx, used_pair0, keyed;

	prep_demote(fx, GPA_2M(0), true, true, &d);
	rcx = d.gpa | TDX_PS_2M;
	snap_demote(fx, &d, &s);

	used_pair0 = pamt_at(fx, fx->td->tdr_pa).dpamt_pages[0];
	assert_status(demote_raw(fx, rcx, d.sept, used_pair0, d.pair[1], &a),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R12);
	assert_true(pamt_at(fx, used_pair0).pamt_page);
	assert_demote_unchanged(fx, &d, &s);

	/* R12 is the TD's TDR: not PT_NDA. */
	assert_status(demote_raw(fx, rcx, d.sept, fx->td->tdr_pa, d.pair[1], &a),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R12);
	assert_demote_unchanged(fx, &d, &s);

	/* The same page twice: R12 takes it, R13 finds it taken; R12 is rolled back. */
	assert_status(demote_raw(fx, rcx, d.sept, d.pair[0], d.pair[0], &a),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R13);
	assert_demote_unchanged(fx, &d, &s);

	/* R13 already a PAMT page. */
	assert_status(demote_raw(fx, rcx, d.sept, d.pair[0], used_pair0, &a),
		      TDX_PAGE_NOT_FREE | TDX_OPERAND_ID_R13);
	assert_demote_unchanged(fx, &d, &s);

	assert_status(demote_raw(fx, rcx, d.sept, d.pair[0] + 0x10, d.pair[1], &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R12);
	keyed = tdxsim_mk_keyed_paddr(fx->sim, 1, d.pair[1]);
	assert_status(demote_raw(fx, rcx, d.sept, d.pair[0], keyed, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_R13);
	assert_demote_unchanged(fx, &d, &s);

	assert_status(demote_raw(fx, rcx, d.sept, d.pair[0], 0x1000, &a),
		      TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R13);
	assert_status(demote_raw(fx, rcx, d.sept, fx->cfg.mem_base + fx->cfg.mem_size,
				 d.pair[1], &a), TDX_OPERAND_ADDR_RANGE_ERROR | TDX_OPERAND_ID_R12);
	assert_demote_unchanged(fx, &d, &s);

	/* After all of this the right pages still work. */
	assert_status(demote_raw(fx, rcx, d.sept, d.pair[0], d.pair[1], &a), TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_MAPPED, true);
}

/* ---------------------------------------------------------------------------
 * Host interrupts (spec §2.8 step 7, §2.9, §5 ENHANCED_DEMOTE_INTERRUPTIBILITY).
 */

static void raise_here(struct fixture *fx)
{
	assert_int_equal(tdxsim_raise_interrupt(fx->sim, tdxsim_cpu_current(fx->sim)), 0);
}

/* Feature off: a pending interrupt stops DEMOTE before the PAMT split. */
static void test_demote_interrupted(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct demote_snap s;
	struct tdx_module_args a;
	u64 rcx;

	assert_false(fx->cfg.features0 & TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY);
	prep_demote(fx, GPA_2M(0), true, true, &d);
	rcx = d.gpa | TDX_PS_2M;
	snap_demote(fx, &d, &s);
	raise_here(fx);
	assert_status(demote_raw(fx, rcx, d.sept, d.pair[0], d.pair[1], &a),
		      0x8000000400000000ULL);
	assert_status(TDX_INTERRUPTED_RESTARTABLE, 0x8000000400000000ULL);
	/* RCX/RDX hold their inputs again: the host re-issues the same call. */
	assert_int_equal(a.rcx, rcx);
	assert_int_equal(a.rdx, fx->td->tdr_pa);
	assert_demote_unchanged(fx, &d, &s);
	assert_int_equal(sept_at(fx, d.gpa, TDX_PS_2M).state, SEPT_PUBLIC_BLOCKED);

	/* The interrupt was taken when the call returned: the retry goes through. */
	assert_status(demote_raw(fx, rcx, d.sept, d.pair[0], d.pair[1], &a), TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_MAPPED, true);
}

/* Feature on (default): the same pending interrupt does not stop DEMOTE. */
static void test_demote_not_interrupted_enhanced(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct tdx_module_args a;

	assert_true(fx->cfg.features0 & TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY);
	prep_demote(fx, GPA_2M(0), true, true, &d);
	raise_here(fx);
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_MAPPED, true);
}

/* An interrupt pending on another logical CPU does not concern this one. */
static void test_demote_interrupt_other_cpu(void **state)
{
	struct fixture *fx = *state;
	unsigned int here = tdxsim_cpu_current(fx->sim), other = (here + 1) % fx->cfg.nr_cpus;
	struct demote_pages d, p;
	struct tdx_module_args a;

	prep_demote(fx, GPA_2M(0), true, true, &d);
	prep_demote(fx, GPA_2M(1), true, true, &p);
	assert_int_equal(tdxsim_raise_interrupt(fx->sim, other), 0);
	assert_status(demote_raw(fx, d.gpa | TDX_PS_2M, d.sept, d.pair[0], d.pair[1], &a),
		      TDX_SUCCESS);
	assert_demoted(fx, &d, SEPT_PUBLIC_MAPPED, true);

	/* It is still pending over there: a call made from that CPU sees it. */
	assert_int_equal(tdxsim_cpu_bind(fx->sim, other), 0);
	assert_status(demote_raw(fx, p.gpa | TDX_PS_2M, p.sept, p.pair[0], p.pair[1], &a),
		      TDX_INTERRUPTED_RESTARTABLE);
	assert_status(demote_raw(fx, p.gpa | TDX_PS_2M, p.sept, p.pair[0], p.pair[1], &a),
		      TDX_SUCCESS);
	assert_int_equal(tdxsim_cpu_bind(fx->sim, here), 0);
	assert_demoted(fx, &p, SEPT_PUBLIC_MAPPED, true);
}

/* ---------------------------------------------------------------------------
 * PROMOTE.
 */

/* Demote @gpa (accepted or not), then BLOCK its non-leaf entry and TRACK. */
static void demote_then_block_nl(struct fixture *fx, u64 gpa, bool accept, bool block_nl,
				 struct demote_pages *d)
{
	u64 e1, e2;

	prep_demote(fx, gpa, accept, true, d);
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, gpa, TDX_PS_2M, d->sept, d->pair, &e1, &e2),
		      TDX_SUCCESS);
	if (block_nl)
		fx_block_track(fx, gpa, TDX_PS_2M);
}

static u64 promote_raw(struct fixture *fx, u64 gpa, struct tdx_module_args *out)
{
	struct tdx_module_args a = { .rcx = gpa | TDX_PS_2M, .rdx = fx->td->tdr_pa };
	u64 st = seamcall(fx, TDH_MEM_PAGE_PROMOTE, &a);

	*out = a;
	return st;
}

/* Everything a failed PROMOTE must leave alone: parent, children, PAMT, count. */
static void assert_promote_unchanged(struct fixture *fx, const struct demote_pages *d,
				     u8 parent_state, u64 cnt, u16 node_count)
{
	struct tdxsim_sept_info si = sept_at(fx, d->gpa, TDX_PS_2M);

	assert_int_equal(si.state, parent_state);
	assert_int_equal(si.hpa, d->sept);
	assert_int_equal(chldcnt(fx), cnt);
	assert_int_equal(pamt_at(fx, d->sept).pt, PT_EPT);
	assert_int_equal(pamt_at(fx, d->hpa).dpamt_count, node_count);
	assert_true(pamt_at(fx, d->pair[0]).pamt_page);
	assert_true(pamt_at(fx, d->pair[1]).pamt_page);
}

/*
 * Public state of child @i of the 2MB range @gpa.  The walk does not descend
 * through an NL_BLOCKED entry (§2.1 step 9), so read the child table directly.
 */
static u8 child_state(struct fixture *fx, u64 gpa, unsigned int i)
{
	struct td *t = td_by_tdr(fx->sim, fx->td->tdr_pa);
	struct sept_page *child;
	struct sept_walk w;

	assert_non_null(t);
	sept_walk(t, gpa, TDX_PS_2M, &w);
	assert_int_equal(w.level, TDX_PS_2M);
	child = w.table->child[w.idx];
	assert_non_null(child);
	return sept_public_state(septe_state(child->e[i]));
}

static void give_back_sept_page(struct fixture *fx, u64 pa)
{
	struct tdxsim_pamt_info pi = pamt_at(fx, pa);

	/* Removed from the TD: PT_NDA, dirty with the TD's key (§2.10, §2.12). */
	assert_int_equal(pi.pt, PT_NDA);
	assert_true(pi.dirty);
	assert_int_equal(pi.dirty_hkid, fx->td->hkid);
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, pa), TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, pa, TDX_PS_4K), 0);
}

static void promote_success(struct fixture *fx, bool accept)
{
	struct demote_pages d;
	struct tdxsim_sept_info si;
	struct tdxsim_pamt_info pi;
	u8 leaf_state = accept ? SEPT_PUBLIC_MAPPED : SEPT_PUBLIC_PENDING;
	u64 sept_pa, pair[2], e1, e2, cnt, hint;

	demote_then_block_nl(fx, GPA_2M(0), accept, true, &d);
	assert_int_equal(sept_at(fx, d.gpa, TDX_PS_2M).state, SEPT_PUBLIC_NL_BLOCKED);
	cnt = chldcnt(fx);
	/* §2.9, §4.3: the removal hint tells whether the S-EPT page was its range's last user. */
	hint = pamt_at(fx, d.sept).dpamt_count == 1 ? TDX_PAMT_REMOVAL_HINT : 0;
	assert_status(tdxsim_tdh_mem_page_promote(fx->td, d.gpa, TDX_PS_2M, &sept_pa, pair, &e1, &e2),
		      TDX_SUCCESS);
	assert_int_equal(sept_pa, d.sept | hint);
	assert_int_equal(pair[0], d.pair[0]);
	assert_int_equal(pair[1], d.pair[1]);
	assert_int_equal(chldcnt(fx), cnt - 1);

	/* The leaf is back, unblocked, with the children's state. */
	si = sept_at(fx, d.gpa, TDX_PS_2M);
	assert_int_equal(si.state, leaf_state);
	assert_true(si.leaf);
	assert_int_equal(si.hpa, d.hpa);
	assert_int_equal(si.entry, arch_leaf(d.hpa, TDX_PS_2M, accept));
	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, GPA_4K(d.gpa, 9), TDX_PS_4K,
						  &si), -ENOENT);
	/* PAMT merged: one 2MB PT_REG leaf, the node and its pair gone. */
	pi = pamt_at(fx, d.hpa + 77 * TDX_PAGE_SIZE);
	assert_int_equal(pi.level, TDX_PS_2M);
	assert_int_equal(pi.pt, PT_REG);
	assert_int_equal(pi.owner, fx->td->tdr_pa);
	assert_false(pi.dpamt_pair);
	assert_false(pamt_at(fx, d.pair[0]).pamt_page);
	assert_false(pamt_at(fx, d.pair[1]).pamt_page);
	give_back_sept_page(fx, d.sept);
	assert_int_equal(tdxsim_page_free(fx->sim, d.pair[0], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, d.pair[1], TDX_PS_4K), 0);

	/* A PENDING merged page is still acceptable at 2MB. */
	if (!accept) {
		accept_ok(fx, d.gpa, TDX_PS_2M);
		assert_int_equal(sept_at(fx, d.gpa, TDX_PS_2M).state, SEPT_PUBLIC_MAPPED);
	}
}

/* spec §2.9: 512 MAPPED children merge into a MAPPED 2MB leaf. */
static void test_promote_mapped(void **state)
{
	promote_success(*state, true);
}

/* spec §2.9: 512 PENDING children merge into a PENDING 2MB leaf. */
static void test_promote_pending(void **state)
{
	promote_success(*state, false);
}

/* spec §2.9 is_sept_page_valid_for_merge(): one child removed. */
static void test_promote_child_removed(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct tdx_module_args a;
	u64 cnt;

	demote_then_block_nl(fx, GPA_2M(0), true, false, &d);
	fx_remove(fx, GPA_4K(d.gpa, 7), TDX_PS_4K);
	fx_block_track(fx, d.gpa, TDX_PS_2M);
	cnt = chldcnt(fx);
	assert_status(promote_raw(fx, d.gpa, &a),
		      TDX_EPT_INVALID_PROMOTE_CONDITIONS | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, arch_nl(true));
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_NL_BLOCKED));
	assert_promote_unchanged(fx, &d, SEPT_PUBLIC_NL_BLOCKED, cnt, 511);
	assert_int_equal(child_state(fx, d.gpa, 7), SEPT_PUBLIC_FREE);
	assert_int_equal(child_state(fx, d.gpa, 8), SEPT_PUBLIC_MAPPED);
	/* The teardown reclaims 511 4K pages; the 2MB block was freed page by page. */
}

/* spec §2.9 / [CL]: "all PENDING or all ACCEPTED" — one child accepted. */
static void test_promote_mixed_states(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct tdx_module_args a;
	u64 cnt;

	demote_then_block_nl(fx, GPA_2M(0), false, false, &d);
	accept_ok(fx, GPA_4K(d.gpa, 3), TDX_PS_4K);
	fx_block_track(fx, d.gpa, TDX_PS_2M);
	cnt = chldcnt(fx);
	assert_status(promote_raw(fx, d.gpa, &a),
		      TDX_EPT_INVALID_PROMOTE_CONDITIONS | TDX_OPERAND_ID_RCX);
	assert_promote_unchanged(fx, &d, SEPT_PUBLIC_NL_BLOCKED, cnt, 512);
	assert_int_equal(child_state(fx, d.gpa, 3), SEPT_PUBLIC_MAPPED);
	assert_int_equal(child_state(fx, d.gpa, 4), SEPT_PUBLIC_PENDING);
}

/* spec §2.9: RUNNABLE needs NL_BLOCKED and tracked; a leaf is no PROMOTE target. */
static void test_promote_block_track_state(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct tdx_module_args a;
	u64 e1, e2, cnt, leaf_hpa;

	demote_then_block_nl(fx, GPA_2M(0), true, false, &d);
	cnt = chldcnt(fx);
	assert_status(promote_raw(fx, d.gpa, &a), TDX_GPA_RANGE_NOT_BLOCKED | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, arch_nl(false));
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_NL_MAPPED));
	assert_promote_unchanged(fx, &d, SEPT_PUBLIC_NL_MAPPED, cnt, 512);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, d.gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_status(promote_raw(fx, d.gpa, &a), TDX_TLB_TRACKING_NOT_DONE | TDX_OPERAND_ID_RCX);
	/* Module source: no entry details for this status. */
	assert_int_equal(a.rcx, 0);
	assert_int_equal(a.rdx, 0);
	assert_promote_unchanged(fx, &d, SEPT_PUBLIC_NL_BLOCKED, cnt, 512);

	/* Level 0 is out of range; a 2MB leaf is not NL_MAPPED/NL_BLOCKED. */
	a = (struct tdx_module_args){ .rcx = d.gpa | TDX_PS_4K, .rdx = fx->td->tdr_pa };
	assert_status(seamcall(fx, TDH_MEM_PAGE_PROMOTE, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
	leaf_hpa = fx_aug(fx, GPA_2M(1), TDX_PS_2M);
	assert_status(promote_raw(fx, GPA_2M(1), &a),
		      TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_int_equal(a.rcx, arch_leaf(leaf_hpa, TDX_PS_2M, false));
	assert_int_equal(a.rdx, level_state(TDX_PS_2M, SEPT_PUBLIC_PENDING));
	assert_int_equal(sept_at(fx, GPA_2M(1), TDX_PS_2M).state, SEPT_PUBLIC_PENDING);
}

/* spec §2.9 host-interrupt check: restartable with the feature off, nothing committed. */
static void test_promote_interrupted(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct tdx_module_args a;
	u64 cnt;

	demote_then_block_nl(fx, GPA_2M(0), true, true, &d);
	cnt = chldcnt(fx);
	raise_here(fx);
	assert_status(promote_raw(fx, d.gpa, &a), 0x8000000400000000ULL);
	assert_int_equal(a.rcx, d.gpa | TDX_PS_2M);
	assert_int_equal(a.rdx, fx->td->tdr_pa);
	assert_promote_unchanged(fx, &d, SEPT_PUBLIC_NL_BLOCKED, cnt, 512);
	assert_int_equal(child_state(fx, d.gpa, 100), SEPT_PUBLIC_MAPPED);

	assert_status(promote_raw(fx, d.gpa, &a), TDX_SUCCESS);
	assert_int_equal(a.rcx & ~TDX_PAMT_REMOVAL_HINT, d.sept);
	assert_int_equal(a.r12, d.pair[0]);
	assert_int_equal(a.r13, d.pair[1]);
	assert_int_equal(sept_at(fx, d.gpa, TDX_PS_2M).state, SEPT_PUBLIC_MAPPED);
	give_back_sept_page(fx, d.sept);
	assert_int_equal(tdxsim_page_free(fx->sim, d.pair[0], TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, d.pair[1], TDX_PS_4K), 0);
}

/*
 * Feature on: PROMOTE is interrupted all the same (tdh_mem_page_promote.c
 * checks is_interrupt_pending_host_side() unconditionally;
 * ENHANCED_DEMOTE_INTERRUPTIBILITY spares DEMOTE only).
 */
static void test_promote_interrupted_enhanced(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	struct tdx_module_args a;
	u64 cnt;

	assert_true(fx->cfg.features0 & TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY);
	demote_then_block_nl(fx, GPA_2M(0), true, true, &d);
	cnt = chldcnt(fx);
	raise_here(fx);
	assert_status(promote_raw(fx, d.gpa, &a), TDX_INTERRUPTED_RESTARTABLE);
	assert_int_equal(a.rcx, d.gpa | TDX_PS_2M);
	assert_int_equal(a.rdx, fx->td->tdr_pa);
	assert_promote_unchanged(fx, &d, SEPT_PUBLIC_NL_BLOCKED, cnt, 512);

	assert_status(promote_raw(fx, d.gpa, &a), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, d.gpa, TDX_PS_2M).state, SEPT_PUBLIC_MAPPED);
	give_back_sept_page(fx, d.sept);
	assert_int_equal(tdxsim_page_free(fx->sim, a.r12, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, a.r13, TDX_PS_4K), 0);
}

/* ---------------------------------------------------------------------------
 * TDG.MEM.PAGE.ACCEPT (spec §2.16, mgmt.md §12).
 */

static u64 accept_raw(struct fixture *fx, u64 rcx)
{
	struct tdx_module_args a = { .rcx = rcx };

	return tdxsim_tdcall(fx->sim, fx->vcpu->tdvpr_pa, TDG_MEM_PAGE_ACCEPT, &a);
}

/* The EPT-violation exit of type ACCEPT and its info field (§2.16). */
static void assert_accept_exit(struct fixture *fx, u64 gpa, int req, int err_level, u8 err_state,
			       bool is_leaf)
{
	struct tdxsim_td_exit ex;
	u64 info = (u64)req | ((u64)err_level << TDX_ACCEPT_INFO_ERR_LEVEL_SHIFT) |
		   ((u64)err_state << TDX_ACCEPT_INFO_ERR_STATE_SHIFT) |
		   (is_leaf ? TDX_ACCEPT_INFO_ERR_IS_LEAF : 0);

	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	tdxsim_vcpu_last_exit(fx->vcpu, &ex);
	assert_int_equal(ex.exit_reason, EXIT_REASON_EPT_VIOLATION);
	assert_int_equal(ex.gpa, gpa);
	assert_int_equal(ex.ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK,
			 TDX_EXT_EXIT_QUAL_TYPE_ACCEPT);
	assert_int_equal((ex.ext_exit_qual & TDX_EXT_EXIT_QUAL_INFO_MASK) >>
			 TDX_EXT_EXIT_QUAL_INFO_SHIFT, info);
	/* What KVM decodes: the guest's level, pg_level = info[2:0] + 1 ([P13]). */
	assert_int_equal(((ex.ext_exit_qual >> TDX_EXT_EXIT_QUAL_INFO_SHIFT) &
			  TDX_ACCEPT_INFO_REQ_LEVEL_MASK), req);
}

/* §2.16: PENDING 2MB accepted at 2MB -> MAPPED; again -> ALREADY_ACCEPTED|1. */
static void test_accept_2m(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_sept_info si;
	u64 gpa = GPA_2M(0), hpa, cnt;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	cnt = chldcnt(fx);
	fx_enter(fx);
	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDX_SUCCESS);
	si = sept_at(fx, gpa, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(si.hpa, hpa);
	assert_int_equal(si.entry, arch_leaf(hpa, TDX_PS_2M, true));
	assert_int_equal(si.accept_counter, 0);
	assert_int_equal(chldcnt(fx), cnt);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));

	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDX_PAGE_ALREADY_ACCEPTED | TDX_PS_2M);
	/* §12: 4K ACCEPT inside the accepted 2MB: operand = level where the walk stopped. */
	assert_status(accept_raw(fx, GPA_4K(gpa, 5) | TDX_PS_4K),
		      0x00000B0A00000001ULL);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_MAPPED);
}

/* §2.16: 4K ACCEPT inside a PENDING 2MB: the host must split, TD exit. */
static void test_accept_4k_in_pending_2m(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = GPA_2M(0), hpa;

	hpa = fx_aug(fx, gpa, TDX_PS_2M);
	fx_enter(fx);
	assert_status(accept_raw(fx, GPA_4K(gpa, 17) | TDX_PS_4K), TDXSIM_TDCALL_TD_EXIT);
	assert_accept_exit(fx, GPA_4K(gpa, 17), TDX_PS_4K, TDX_PS_2M, SEPT_PUBLIC_PENDING, true);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_PENDING);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).hpa, hpa);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).accept_counter, 0);
}

/* §2.16: 2MB ACCEPT over a range the host mapped at 4K -> PAGE_SIZE_MISMATCH|1. */
static void test_accept_size_mismatch_and_4k(void **state)
{
	struct fixture *fx = *state;
	struct demote_pages d;
	u64 e1, e2;

	prep_demote(fx, GPA_2M(0), false, true, &d);
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, d.gpa, TDX_PS_2M, d.sept, d.pair, &e1, &e2),
		      TDX_SUCCESS);
	fx_enter(fx);
	assert_status(accept_raw(fx, d.gpa | TDX_PS_2M), TDX_PAGE_SIZE_MISMATCH | TDX_PS_2M);
	assert_status(TDX_PAGE_SIZE_MISMATCH | TDX_PS_2M, 0xC0000B0B00000001ULL);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	assert_int_equal(sept_at(fx, d.gpa, TDX_PS_2M).state, SEPT_PUBLIC_NL_MAPPED);

	/* The 4K pieces are accepted one by one; a second time -> ALREADY_ACCEPTED|0. */
	assert_status(accept_raw(fx, GPA_4K(d.gpa, 1) | TDX_PS_4K), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, GPA_4K(d.gpa, 1), TDX_PS_4K).state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(sept_at(fx, GPA_4K(d.gpa, 2), TDX_PS_4K).state, SEPT_PUBLIC_PENDING);
	assert_status(accept_raw(fx, GPA_4K(d.gpa, 1) | TDX_PS_4K),
		      TDX_PAGE_ALREADY_ACCEPTED | TDX_PS_4K);
}

/* §2.16: a FREE GPA (no tables, or a FREE leaf slot) -> exit for the host to AUG. */
static void test_accept_free_gpa(void **state)
{
	struct fixture *fx = *state;
	u64 far = GPA_2M(0) + (3ULL << 30);

	fx_enter(fx);
	/* Nothing mapped at all: the walk stops at the FREE level-3 root entry. */
	assert_status(accept_raw(fx, far | TDX_PS_4K), TDXSIM_TDCALL_TD_EXIT);
	assert_accept_exit(fx, far, TDX_PS_4K, 3, SEPT_PUBLIC_FREE, false);

	/* Tables down to level 0 exist, the 4K entry itself is FREE. */
	fx_map_sept(fx, GPA_2M(0), TDX_PS_4K);
	fx_enter(fx);
	assert_status(accept_raw(fx, GPA_4K(GPA_2M(0), 9) | TDX_PS_4K), TDXSIM_TDCALL_TD_EXIT);
	assert_accept_exit(fx, GPA_4K(GPA_2M(0), 9), TDX_PS_4K, TDX_PS_4K, SEPT_PUBLIC_FREE,
			   false);
	/* 2MB ACCEPT of a FREE level-1 slot. */
	fx_enter(fx);
	assert_status(accept_raw(fx, GPA_2M(1) | TDX_PS_2M), TDXSIM_TDCALL_TD_EXIT);
	assert_accept_exit(fx, GPA_2M(1), TDX_PS_2M, TDX_PS_2M, SEPT_PUBLIC_FREE, false);
}

/* §2.16: a blocked PENDING 2MB is not acceptable: exit, state kept. */
static void test_accept_blocked(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = GPA_2M(0), e1, e2;

	fx_aug(fx, gpa, TDX_PS_2M);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	fx_enter(fx);
	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDXSIM_TDCALL_TD_EXIT);
	assert_accept_exit(fx, gpa, TDX_PS_2M, TDX_PS_2M, SEPT_PUBLIC_PENDING_BLOCKED, true);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_PENDING_BLOCKED);
}

/* §2.16 / §12: operand checks -> OPERAND_INVALID|RCX, the vCPU stays in the guest. */
static void test_accept_operand_invalid(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = GPA_2M(0);
	u64 bad[] = {
		gpa | TDX_PS_1G,			/* level 2 */
		gpa | 3,				/* level 3 */
		gpa | 0x10 | TDX_PS_2M,			/* reserved bits 11:3 */
		gpa | (1ULL << 60),			/* reserved bits 63:52 */
		(gpa + 0x1000) | TDX_PS_2M,		/* not 2MB aligned */
		gpa | (1ULL << 47),			/* shared bit (GPAW 48) */
	};

	fx_aug(fx, gpa, TDX_PS_2M);
	fx_enter(fx);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_status(accept_raw(fx, bad[i]), TDX_OPERAND_INVALID | TDX_OPERAND_ID_RCX);
		assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	}
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_PENDING);
}

/* The S-EPT entry of @gpa at @level, inside the module (to hold its lock). */
static u64 *sept_entry(struct fixture *fx, u64 gpa, int level)
{
	struct td *t = td_by_tdr(fx->sim, fx->td->tdr_pa);
	struct sept_walk w;

	assert_non_null(t);
	sept_walk(t, gpa, level, &w);
	assert_int_equal(w.level, level);
	return sept_walk_ep(&w);
}

/*
 * §2.16 / §12 / tdx_locks.h: the host holds the entry lock (or asked for it,
 * host-priority bit): the guest gets OPERAND_BUSY|RCX, and the lock is taken
 * before any state test, so it also wins over ALREADY_ACCEPTED.
 */
static void test_accept_entry_busy(void **state)
{
	struct fixture *fx = *state;
	u64 gpa = GPA_2M(0), *ep;

	fx_aug(fx, gpa, TDX_PS_2M);
	fx_enter(fx);
	ep = sept_entry(fx, gpa, TDX_PS_2M);

	__atomic_fetch_or(ep, SEPTE_LOCK, __ATOMIC_ACQUIRE);
	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_status(TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX, 0x8000020000000001ULL);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	__atomic_fetch_and(ep, ~SEPTE_LOCK, __ATOMIC_RELEASE);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_PENDING);

	/* Host-priority bit only: the guest backs off as well. */
	__atomic_fetch_or(ep, SEPTE_HP, __ATOMIC_ACQUIRE);
	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	__atomic_fetch_and(ep, ~SEPTE_HP, __ATOMIC_RELEASE);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_PENDING);

	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDX_SUCCESS);
	__atomic_fetch_or(ep, SEPTE_LOCK, __ATOMIC_ACQUIRE);
	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	__atomic_fetch_and(ep, ~SEPTE_LOCK, __ATOMIC_RELEASE);
	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDX_PAGE_ALREADY_ACCEPTED | TDX_PS_2M);
}

/*
 * §2.16 / §12: a guest interrupt pending during a 2MB accept suspends it after
 * the current 4K; the counter is kept in the entry and the re-executed TDCALL
 * resumes.  The host takes the interrupt: an external-interrupt TD exit.
 */
static void test_accept_interrupted_resumes(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td_exit ex;
	struct tdxsim_sept_info si;
	u64 gpa = GPA_2M(0);
	unsigned int round;

	fx_aug(fx, gpa, TDX_PS_2M);
	for (round = 1; round <= 3; round++) {
		fx_enter(fx);
		raise_here(fx);
		assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDXSIM_TDCALL_TD_EXIT);
		assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
		tdxsim_vcpu_last_exit(fx->vcpu, &ex);
		assert_int_equal(ex.exit_reason, EXIT_REASON_EXTERNAL_INTERRUPT);
		si = sept_at(fx, gpa, TDX_PS_2M);
		assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
		assert_int_equal(si.accept_counter, round);
	}
	/* No interrupt this time: the accept runs to the end. */
	fx_enter(fx);
	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDX_SUCCESS);
	si = sept_at(fx, gpa, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(si.accept_counter, 0);
}

/* §12 sept_cleanup_if_pending(): BLOCK of a partially accepted 2MB restarts it from 0. */
static void test_accept_counter_reset_by_block(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_sept_info si;
	u64 gpa = GPA_2M(0), e1, e2;

	fx_aug(fx, gpa, TDX_PS_2M);
	fx_enter(fx);
	raise_here(fx);
	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDXSIM_TDCALL_TD_EXIT);
	assert_true(sept_at(fx, gpa, TDX_PS_2M).accept_counter > 0);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	si = sept_at(fx, gpa, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING_BLOCKED);
	assert_int_equal(si.accept_counter, 0);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, gpa, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	si = sept_at(fx, gpa, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
	assert_int_equal(si.accept_counter, 0);
	accept_ok(fx, gpa, TDX_PS_2M);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_MAPPED);
}

/* §2.17 / tdxsim.h: TDCALL from a vCPU outside the guest; unknown leaf or version. */
static void test_tdcall_vcpu_state_and_leaf(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a = { .rcx = GPA_2M(0) | TDX_PS_2M };
	u64 gpa = GPA_2M(0);

	fx_aug(fx, gpa, TDX_PS_2M);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	assert_status(accept_raw(fx, gpa | TDX_PS_2M), TDX_VCPU_STATE_INCORRECT);
	assert_status(TDX_VCPU_STATE_INCORRECT, 0xC000070000000000ULL);
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_PENDING);

	fx_enter(fx);
	assert_status(tdxsim_tdcall(fx->sim, fx->vcpu->tdvpr_pa, 99, &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
	assert_status(tdxsim_tdcall(fx->sim, fx->vcpu->tdvpr_pa, TDG_MEM_PAGE_ACCEPT | (1ULL << 16), &a),
		      TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	assert_int_equal(sept_at(fx, gpa, TDX_PS_2M).state, SEPT_PUBLIC_PENDING);
}

/* ---------------------------------------------------------------------------
 * Guest/host dialogues of spec §7.7.
 */

/* (a) AUG 2MB -> ACCEPT 4K exits (req level 0) -> BLOCK/TRACK/kick/DEMOTE -> ACCEPT 4K. */
static void test_dialogue_split_on_accept(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td_exit ex;
	struct demote_pages d;
	u64 gpa = GPA_2M(0), target = GPA_4K(gpa, 300), e1, e2;
	int req;

	prep_demote(fx, gpa, false, false, &d);
	fx_enter(fx);
	assert_status(accept_raw(fx, target | TDX_PS_4K), TDXSIM_TDCALL_TD_EXIT);
	tdxsim_vcpu_last_exit(fx->vcpu, &ex);
	assert_int_equal(ex.exit_reason, EXIT_REASON_EPT_VIOLATION);
	assert_int_equal(ex.gpa, target);
	req = (int)((ex.ext_exit_qual >> TDX_EXT_EXIT_QUAL_INFO_SHIFT) &
		    TDX_ACCEPT_INFO_REQ_LEVEL_MASK);
	assert_int_equal(req, TDX_PS_4K);

	/* Host: the guest wants 4K inside a 2MB leaf, so split the 2MB range. */
	fx_block_track(fx, ex.gpa & ~(tdx_level_size(req + 1) - 1), req + 1);
	assert_status(tdxsim_tdh_mem_page_demote(fx->td, gpa, req + 1, d.sept, d.pair, &e1, &e2),
		      TDX_SUCCESS);

	fx_enter(fx);
	assert_status(accept_raw(fx, target | TDX_PS_4K), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, target, TDX_PS_4K).state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(sept_at(fx, target, TDX_PS_4K).hpa, d.hpa + 300 * TDX_PAGE_SIZE);
	assert_int_equal(sept_at(fx, GPA_4K(gpa, 301), TDX_PS_4K).state, SEPT_PUBLIC_PENDING);
}

/* (b) ACCEPT 4K on a FREE GPA -> exit -> host AUGs 4K -> ACCEPT 4K succeeds. */
static void test_dialogue_aug_on_accept(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td_exit ex;
	u64 target = GPA_4K(GPA_2M(2), 33), hpa;
	int req;

	fx_enter(fx);
	assert_status(accept_raw(fx, target | TDX_PS_4K), TDXSIM_TDCALL_TD_EXIT);
	tdxsim_vcpu_last_exit(fx->vcpu, &ex);
	assert_int_equal(ex.exit_reason, EXIT_REASON_EPT_VIOLATION);
	req = (int)((ex.ext_exit_qual >> TDX_EXT_EXIT_QUAL_INFO_SHIFT) &
		    TDX_ACCEPT_INFO_REQ_LEVEL_MASK);
	assert_int_equal(req, TDX_PS_4K);

	hpa = fx_aug(fx, ex.gpa, req);
	fx_enter(fx);
	assert_status(accept_raw(fx, target | TDX_PS_4K), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, target, TDX_PS_4K).state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(sept_at(fx, target, TDX_PS_4K).hpa, hpa);
}

#define T(fn, setup)	cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_demote_2m_mapped_dpamt, fx_setup_runnable),
		T(test_demote_2m_pending_blocked, fx_setup_runnable),
		T(test_demote_2m_nodpamt, fx_setup_runnable_nodpamt),
		T(test_demote_initialized_mapped, fx_setup_initialized),
		T(test_demote_initialized_pending, fx_setup_initialized),
		T(test_demote_not_blocked, fx_setup_runnable),
		T(test_demote_not_tracked, fx_setup_runnable),
		T(test_demote_vcpu_in_blocked_epoch, fx_setup_runnable),
		T(test_demote_operand_walk_state, fx_setup_runnable),
		T(test_demote_r8_errors, fx_setup_runnable),
		T(test_demote_pair_errors, fx_setup_runnable),
		T(test_demote_interrupted, fx_setup_runnable_interruptible),
		T(test_demote_not_interrupted_enhanced, fx_setup_runnable),
		T(test_demote_interrupt_other_cpu, fx_setup_runnable_interruptible),
		T(test_promote_mapped, fx_setup_runnable),
		T(test_promote_pending, fx_setup_runnable),
		T(test_promote_child_removed, fx_setup_runnable),
		T(test_promote_mixed_states, fx_setup_runnable),
		T(test_promote_block_track_state, fx_setup_runnable),
		T(test_promote_interrupted, fx_setup_runnable_interruptible),
		T(test_promote_interrupted_enhanced, fx_setup_runnable),
		T(test_accept_2m, fx_setup_runnable),
		T(test_accept_4k_in_pending_2m, fx_setup_runnable),
		T(test_accept_size_mismatch_and_4k, fx_setup_runnable),
		T(test_accept_free_gpa, fx_setup_runnable),
		T(test_accept_blocked, fx_setup_runnable),
		T(test_accept_operand_invalid, fx_setup_runnable),
		T(test_accept_entry_busy, fx_setup_runnable),
		T(test_accept_interrupted_resumes, fx_setup_runnable),
		T(test_accept_counter_reset_by_block, fx_setup_runnable),
		T(test_tdcall_vcpu_state_and_leaf, fx_setup_runnable),
		T(test_dialogue_split_on_accept, fx_setup_runnable),
		T(test_dialogue_aug_on_accept, fx_setup_runnable),
	};

	return run_group(tests);
}
