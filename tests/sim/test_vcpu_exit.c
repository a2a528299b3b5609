// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM's TDX vCPU side (sim/tdx/tdx_vcpu.c) with a guest: the vCPU enters
 * (tdx_vcpu_enter), the guest accepts (tdxsim_tdcall) or touches
 * (tdxsim_guest_access) private memory, and each TD exit goes to
 * tdx_handle_exit() as KVM's run loop sends it, until the guest's
 * operation completes.  The dialogues of the v3 cover letter §5 (spec
 * kvm-model.md §2.4): (a) KVM maps 2M, the guest accepts 4K, the ACCEPT
 * exit splits the leaf and inhibits 2M; (b) the guest accepts 4K first,
 * KVM maps 4K; and a plain access that faults the page in, sees it PENDING
 * (#VE) and accepts it.  Once per hook design (sim-vcpu-exit-v3,
 * sim-vcpu-exit-upstream), on tests/sim/tdx_fixture.c's VM; each flow ends
 * with kvm_tdx_check() clean.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <tdxsim/fault.h>
#include <tdxsim/hook.h>
#include <tdxsim-kvm/check.h>

#include "tdx_fixture.h"

/* What a guest operation cost: TD exits by kind, entries. */
struct run_counts {
	unsigned int accept_exits, ept_exits, entries;
};

static struct kvm_check_report rep;

static gpa_t gpa_of(gfn_t gfn)
{
	return (gpa_t)gfn << PAGE_SHIFT;
}

static u64 tdvpr_of(struct tdx_fixture *fx)
{
	return ((struct vcpu_tdx *)fx->vcpu->priv)->vp.tdvpr_pa;
}

/* The fixture's module vCPU, attached to its KVM vCPU. */
static int setup(void **state)
{
	struct tdx_fixture *fx;
	u64 tdvpr;

	if (tdx_fixture_setup(state))
		return -1;
	fx = *state;
	if (tdxsim_td_vcpus(fx->sim, fx->std->tdr_pa, &tdvpr, 1) != 1 ||
	    tdx_vcpu_bind(fx->vcpu, tdvpr))
		return -1;
	return 0;
}

static void assert_clean(struct tdx_fixture *fx)
{
	int n = kvm_tdx_check(fx->kvm, &rep);

	if (n)
		kvm_check_report_print(&rep, stderr);
	assert_int_equal(n, 0);
}

static u64 calls_of(struct tdx_fixture *fx, unsigned int leaf)
{
	struct tdxsim_leaf_stats st;

	assert_int_equal(tdxsim_stats_leaf(fx->sim, leaf, &st), 0);
	return st.calls;
}

/* Into the guest unless already there. */
static void ensure_in_guest(struct tdx_fixture *fx, struct run_counts *rc)
{
	if (tdxsim_vp_in_guest(fx->sim, tdvpr_of(fx)))
		return;
	assert_int_equal(tdx_vcpu_enter(fx->vcpu), 0);
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr_of(fx)));
	rc->entries++;
}

/* A TD exit to KVM: counted by its kind and handled, the guest resumed. */
static void handle_exit(struct tdx_fixture *fx, struct run_counts *rc)
{
	struct tdxsim_td_exit ex;

	assert_false(tdxsim_vp_in_guest(fx->sim, tdvpr_of(fx)));
	assert_int_equal(tdxsim_vp_last_exit(fx->sim, tdvpr_of(fx), &ex), 0);
	assert_int_equal(ex.exit_reason, EXIT_REASON_EPT_VIOLATION);
	if ((ex.ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK) == TDX_EXT_EXIT_QUAL_TYPE_ACCEPT)
		rc->accept_exits++;
	else
		rc->ept_exits++;
	assert_int_equal(tdx_handle_exit(fx->vcpu, &ex), 1);
}

/* The guest's TDG.MEM.PAGE.ACCEPT, re-executed after each exit (bounded). */
static u64 guest_accept(struct tdx_fixture *fx, gfn_t gfn, int pg_level, struct run_counts *rc)
{
	for (int i = 0; i < 8; i++) {
		struct tdx_module_args a = { .rcx = gpa_of(gfn) | (u64)(pg_level - 1) };
		u64 st;

		ensure_in_guest(fx, rc);
		st = tdxsim_tdcall(fx->sim, tdvpr_of(fx), TDG_MEM_PAGE_ACCEPT, &a);
		if (st != TDXSIM_TDCALL_TD_EXIT)
			return st;
		handle_exit(fx, rc);
	}
	fail_msg("ACCEPT of gfn %#llx never completed", (unsigned long long)gfn);
	return 0;
}

/* A guest load/store, repeated after each exit (bounded): SUCCESS or the #VE. */
static u64 guest_access(struct tdx_fixture *fx, gfn_t gfn, bool write, struct run_counts *rc)
{
	for (int i = 0; i < 8; i++) {
		u64 st;

		ensure_in_guest(fx, rc);
		st = tdxsim_guest_access(fx->sim, tdvpr_of(fx), gpa_of(gfn), write);
		if (st != TDXSIM_TDCALL_TD_EXIT)
			return st;
		handle_exit(fx, rc);
	}
	fail_msg("access to gfn %#llx never completed", (unsigned long long)gfn);
	return 0;
}

static struct tdxsim_sept_info sept_at(struct tdx_fixture *fx, gfn_t gfn)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->std, gpa_of(gfn), &si), 0);
	return si;
}

static int mirror_level(struct tdx_fixture *fx, gfn_t gfn)
{
	int level;
	u64 spte = *tdx_fixture_mirror_sptep(fx->kvm, gfn, &level);

	return is_shadow_present_pte(spte) ? level : PG_LEVEL_NONE;
}

static struct kvm_memory_slot *slot0(struct tdx_fixture *fx)
{
	return gfn_to_memslot(fx->kvm, FX_BASE_GFN);
}

/*
 * Cover letter §5 (a): KVM maps the 2M folio at 2M, the guest accepts one
 * 4K page.  ACCEPT exits once with the guest's level (4K); KVM splits the
 * mirror leaf (BLOCK, TRACK, kick, DEMOTE: one DEMOTE), inhibits 2M, the
 * fault finds the 4K leaf, and the re-executed ACCEPT succeeds.  The
 * neighbours are 4K PENDING leaves the guest accepts without another exit.
 */
static void test_flow_a_map_2m_accept_4k(void **state)
{
	struct tdx_fixture *fx = *state;
	struct run_counts rc = { 0 };
	u64 demotes = calls_of(fx, TDH_MEM_PAGE_DEMOTE), augs;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	augs = calls_of(fx, TDH_MEM_PAGE_AUG);
	assert_false(hugepage_test_guest_inhibit(slot0(fx), FX_GFN_2M, PG_LEVEL_2M));

	assert_int_equal(guest_accept(fx, FX_GFN_2M, PG_LEVEL_4K, &rc), TDX_SUCCESS);
	assert_int_equal(rc.accept_exits, 1);
	assert_int_equal(rc.ept_exits, 0);
	assert_int_equal(rc.entries, 2);
	assert_int_equal(calls_of(fx, TDH_MEM_PAGE_DEMOTE), demotes + 1);
	assert_int_equal(calls_of(fx, TDH_MEM_PAGE_AUG), augs);	/* no new page */
	assert_true(hugepage_test_guest_inhibit(slot0(fx), FX_GFN_2M, PG_LEVEL_2M));
	assert_true(hugepage_test_guest_inhibit(slot0(fx), FX_GFN_2M, PG_LEVEL_1G));
	assert_int_equal(mirror_level(fx, FX_GFN_2M), PG_LEVEL_4K);
	assert_int_equal(sept_at(fx, FX_GFN_2M).level, TDX_PS_4K);
	assert_int_equal(sept_at(fx, FX_GFN_2M).state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(sept_at(fx, FX_GFN_2M + 1).state, SEPT_PUBLIC_PENDING);

	/* The accepted page is the guest's; its neighbour is still PENDING (#VE). */
	assert_int_equal(guest_access(fx, FX_GFN_2M, true, &rc), TDX_SUCCESS);
	assert_int_equal(guest_access(fx, FX_GFN_2M + 1, false, &rc), TDXSIM_GUEST_ACCESS_VE);
	/* A neighbour's ACCEPT needs KVM no more: inhibited, already 4K. */
	assert_int_equal(guest_accept(fx, FX_GFN_2M + 1, PG_LEVEL_4K, &rc), TDX_SUCCESS);
	assert_int_equal(rc.accept_exits, 1);
	assert_int_equal(calls_of(fx, TDH_MEM_PAGE_DEMOTE), demotes + 1);
	assert_clean(fx);
}

/*
 * Cover letter §5 (b): the guest accepts 4K before KVM mapped anything.
 * The ACCEPT exit (4K) inhibits 2M with nothing to split; the fault maps
 * 4K although the folio is 2M; no DEMOTE; the ACCEPT then succeeds.
 */
static void test_flow_b_accept_4k_first(void **state)
{
	struct tdx_fixture *fx = *state;
	struct run_counts rc = { 0 };
	u64 demotes = calls_of(fx, TDH_MEM_PAGE_DEMOTE), augs = calls_of(fx, TDH_MEM_PAGE_AUG);

	assert_int_equal(mirror_level(fx, FX_GFN_2M), PG_LEVEL_NONE);
	assert_int_equal(guest_accept(fx, FX_GFN_2M, PG_LEVEL_4K, &rc), TDX_SUCCESS);
	assert_int_equal(rc.accept_exits, 1);
	assert_int_equal(rc.ept_exits, 0);
	assert_int_equal(calls_of(fx, TDH_MEM_PAGE_DEMOTE), demotes);
	assert_int_equal(calls_of(fx, TDH_MEM_PAGE_AUG), augs + 1);
	assert_true(hugepage_test_guest_inhibit(slot0(fx), FX_GFN_2M, PG_LEVEL_2M));
	assert_int_equal(mirror_level(fx, FX_GFN_2M), PG_LEVEL_4K);
	assert_int_equal(sept_at(fx, FX_GFN_2M).level, TDX_PS_4K);
	assert_int_equal(sept_at(fx, FX_GFN_2M).state, SEPT_PUBLIC_MAPPED);
	/* Only that page: the 2M range around it is not mapped. */
	assert_int_equal(mirror_level(fx, FX_GFN_2M + 1), PG_LEVEL_NONE);

	/* Another 4K of the range: its own exit and 4K AUG, still no DEMOTE. */
	assert_int_equal(guest_accept(fx, FX_GFN_2M + 7, PG_LEVEL_4K, &rc), TDX_SUCCESS);
	assert_int_equal(rc.accept_exits, 2);
	assert_int_equal(calls_of(fx, TDH_MEM_PAGE_AUG), augs + 2);
	assert_int_equal(calls_of(fx, TDH_MEM_PAGE_DEMOTE), demotes);
	assert_clean(fx);
}

/*
 * A plain access to a GPA nothing maps: an EPT violation of no extended
 * type, so KVM maps as large as the folio allows (2M, nothing inhibited);
 * the retried access finds it PENDING (the guest's #VE); the guest accepts
 * at 2M without an exit and then reads and writes it.
 */
static void test_access_unmapped_then_accept(void **state)
{
	struct tdx_fixture *fx = *state;
	struct run_counts rc = { 0 };
	u64 augs = calls_of(fx, TDH_MEM_PAGE_AUG);

	assert_int_equal(guest_access(fx, FX_GFN_2M, true, &rc), TDXSIM_GUEST_ACCESS_VE);
	assert_int_equal(rc.ept_exits, 1);
	assert_int_equal(rc.accept_exits, 0);
	assert_int_equal(calls_of(fx, TDH_MEM_PAGE_AUG), augs + 1);
	assert_int_equal(mirror_level(fx, FX_GFN_2M), PG_LEVEL_2M);
	assert_int_equal(sept_at(fx, FX_GFN_2M).state, SEPT_PUBLIC_PENDING);
	assert_false(hugepage_test_guest_inhibit(slot0(fx), FX_GFN_2M, PG_LEVEL_2M));

	assert_int_equal(guest_accept(fx, FX_BASE_GFN, PG_LEVEL_2M, &rc), TDX_SUCCESS);
	assert_int_equal(rc.accept_exits, 0);
	assert_int_equal(guest_access(fx, FX_GFN_2M, true, &rc), TDX_SUCCESS);
	assert_int_equal(guest_access(fx, FX_BASE_GFN + 511, false, &rc), TDX_SUCCESS);
	assert_int_equal(sept_at(fx, FX_GFN_2M).level, TDX_PS_2M);
	assert_int_equal(sept_at(fx, FX_GFN_2M).state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(rc.ept_exits, 1);

	/* The 4K folio's GFN: mapped at 4K whatever the exit says. */
	assert_int_equal(guest_access(fx, FX_GFN_4K, false, &rc), TDXSIM_GUEST_ACCESS_VE);
	assert_int_equal(mirror_level(fx, FX_GFN_4K), PG_LEVEL_4K);
	assert_int_equal(guest_accept(fx, FX_GFN_4K, PG_LEVEL_4K, &rc), TDX_SUCCESS);
	assert_int_equal(rc.ept_exits, 2);
	assert_clean(fx);
}

/*
 * The guest accepts at 2M on a range KVM mapped at 2M: no exit at all.  At
 * 2M on a range not yet mapped: one ACCEPT exit (2M), 1G inhibited (2M not),
 * the fault maps 2M.
 */
static void test_accept_2m(void **state)
{
	struct tdx_fixture *fx = *state;
	struct run_counts rc = { 0 };

	assert_int_equal(guest_accept(fx, FX_BASE_GFN, PG_LEVEL_2M, &rc), TDX_SUCCESS);
	assert_int_equal(rc.accept_exits, 1);
	assert_true(hugepage_test_guest_inhibit(slot0(fx), FX_BASE_GFN, PG_LEVEL_1G));
	assert_false(hugepage_test_guest_inhibit(slot0(fx), FX_BASE_GFN, PG_LEVEL_2M));
	assert_int_equal(mirror_level(fx, FX_GFN_2M), PG_LEVEL_2M);
	assert_int_equal(sept_at(fx, FX_GFN_2M).state, SEPT_PUBLIC_MAPPED);
	/* A 4K ACCEPT inside the accepted 2M: the module answers, KVM is not asked. */
	assert_int_equal(guest_accept(fx, FX_GFN_2M, PG_LEVEL_4K, &rc),
			 TDX_PAGE_ALREADY_ACCEPTED | TDX_PS_2M);
	assert_int_equal(rc.accept_exits, 1);
	assert_clean(fx);
}

/*
 * The split's PAMT cache top-up fails (v3: the per-VM cache; upstream: the
 * running vCPU's; the 2nd host page allocation of
 * the exit: the 1st is the split sp's S-EPT page): -ENOMEM comes back from
 * the handler as v3 returns it to userspace, nothing split, nothing
 * inhibited, nothing leaked.  The guest's ACCEPT exits again and succeeds
 * once memory is back.
 */
static void test_accept_split_enomem(void **state)
{
	struct tdx_fixture *fx = *state;
	struct run_counts rc = { 0 };
	struct tdx_module_args a = { .rcx = gpa_of(FX_GFN_2M) | TDX_PS_4K };
	struct tdxsim_fault_rule r;
	struct tdxsim_td_exit ex;
	long sps;

	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	ensure_in_guest(fx, &rc);
	assert_int_equal(tdxsim_tdcall(fx->sim, tdvpr_of(fx), TDG_MEM_PAGE_ACCEPT, &a),
			 TDXSIM_TDCALL_TD_EXIT);
	assert_int_equal(tdxsim_vp_last_exit(fx->sim, tdvpr_of(fx), &ex), 0);

	sps = fx->kvm->stat.sp_allocated;
#ifdef TEST_DESIGN_UPSTREAM
	/*
	 * upstream takes the split's pages from the running vCPU's PAMT cache
	 * (tdx_get_pamt_cache()), which the fault's top-up left full: empty it,
	 * so the split's top-up of it is the allocation that fails.
	 */
	tdx_pamt_cache_free(&((struct vcpu_tdx *)fx->vcpu->priv)->pamt_cache);
#endif
	tdxsim_fault_rule_init(&r, TDXSIM_FAULT_PAGE_ALLOC, TDXSIM_FAULT_ENOMEM, 0);
	r.nth = 2;
	assert_true(tdxsim_fault_add(fx->sim, &r) >= 0);
	assert_int_equal(tdx_handle_ept_violation(fx->vcpu, &ex), -ENOMEM);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	tdxsim_fault_clear(fx->sim);

	assert_int_equal(fx->kvm_tdx->prealloc_split_cache.cnt, 0);
	assert_int_equal(fx->kvm->stat.sp_allocated, sps);
	assert_int_equal(mirror_level(fx, FX_GFN_2M), PG_LEVEL_2M);
	assert_int_equal(sept_at(fx, FX_GFN_2M).level, TDX_PS_2M);
	assert_false(hugepage_test_guest_inhibit(slot0(fx), FX_GFN_2M, PG_LEVEL_2M));
	assert_clean(fx);

	/* Userspace runs the vCPU again: the ACCEPT exits again, and now splits. */
	assert_int_equal(guest_accept(fx, FX_GFN_2M, PG_LEVEL_4K, &rc), TDX_SUCCESS);
	assert_int_equal(rc.accept_exits, 1);
	assert_int_equal(mirror_level(fx, FX_GFN_2M), PG_LEVEL_4K);
	assert_clean(fx);
}

/* tdx_vcpu_enter() refuses while tdh_do_no_vcpus() holds entry off. */
static void test_enter_refused_while_wait_for_sept_zap(void **state)
{
	struct tdx_fixture *fx = *state;

	WRITE_ONCE(fx->kvm_tdx->wait_for_sept_zap, true);
	assert_int_equal(tdx_vcpu_enter(fx->vcpu), -EAGAIN);
	assert_false(tdxsim_vp_in_guest(fx->sim, tdvpr_of(fx)));
	WRITE_ONCE(fx->kvm_tdx->wait_for_sept_zap, false);
	assert_int_equal(tdx_vcpu_enter(fx->vcpu), 0);
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr_of(fx)));
	/* Already in the guest: the module refuses a second entry. */
	assert_int_equal(tdx_vcpu_enter(fx->vcpu), -EIO);
}

/* The kick tdx_vm_init() wires: every vCPU out of the guest (TRACK's kick). */
static void test_track_kicks_vcpu(void **state)
{
	struct tdx_fixture *fx = *state;

	assert_ptr_equal(fx->kvm_tdx->kick_vcpus, tdx_kick_all_vcpus);
	assert_int_equal(tdx_vcpu_enter(fx->vcpu), 0);
	KVM_MMU_LOCK(fx->kvm);
	assert_int_equal(tdx_track(fx->kvm_tdx), 0);
	KVM_MMU_UNLOCK(fx->kvm);
	assert_false(tdxsim_vp_in_guest(fx->sim, tdvpr_of(fx)));
	assert_int_equal(tdx_vcpu_enter(fx->vcpu), 0);
}

/*
 * A TRACK that loses the epoch lock to a vCPU inside TDH.VP.ENTER: the
 * module hook parks the vCPU's thread in VP.ENTER just after it took the
 * epoch lock (shared), before it samples the epoch and enters.  tdh_do_no_vcpus() holds entry off and
 * kicks; the kick finds the vCPU IN_GUEST_MODE (EXITING_GUEST_MODE now)
 * and must wait for its entry to end (vcpu->irqs_off), as the kernel
 * waits for the IPI's acknowledgement, before the TRACK is retried.  The
 * vCPU, released, finds EXITING_GUEST_MODE and leaves (-EAGAIN); the retry
 * succeeds.  A kick that returned at once would let the retry lose the
 * epoch lock again: TDX_BUG_ON, -EIO, the VM bugged.
 */
struct enter_park {
	struct tdx_fixture *fx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool parked, release;
	int enter_ret, track_ret;
};

static void park_vp_enter(void *arg, const struct tdxsim_hook_event *ev)
{
	struct enter_park *p = arg;

	if (ev->point != TDXSIM_HOOK_LOCK || ev->lock != TDXSIM_HOOK_LOCK_EPOCH ||
	    !ev->acquired || ev->tdcall || ev->leaf != TDH_VP_ENTER)
		return;
	pthread_mutex_lock(&p->lock);
	p->parked = true;
	pthread_cond_broadcast(&p->cond);
	while (!p->release)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

static void *park_enter_fn(void *arg)
{
	struct enter_park *p = arg;

	tdxsim_kernel_set_current(p->fx->sim);
	p->enter_ret = tdx_vcpu_enter(p->fx->vcpu);
	tdxsim_kernel_set_current(NULL);
	return NULL;
}

static void *park_track_fn(void *arg)
{
	struct enter_park *p = arg;

	tdxsim_kernel_set_current(p->fx->sim);
	KVM_MMU_LOCK(p->fx->kvm);
	p->track_ret = tdx_track(p->fx->kvm_tdx);
	KVM_MMU_UNLOCK(p->fx->kvm);
	tdxsim_kernel_set_current(NULL);
	return NULL;
}

static void test_kick_waits_for_entering_vcpu(void **state)
{
	struct tdx_fixture *fx = *state;
	struct enter_park p = {
		.fx = fx, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
	};
	u64 track_calls = calls_of(fx, TDH_MEM_TRACK);
	pthread_t enter_thr, track_thr;
	long spins;

	tdxsim_set_hook(fx->sim, park_vp_enter, &p);
	assert_int_equal(pthread_create(&enter_thr, NULL, park_enter_fn, &p), 0);
	pthread_mutex_lock(&p.lock);
	while (!p.parked)
		pthread_cond_wait(&p.cond, &p.lock);
	pthread_mutex_unlock(&p.lock);
	assert_int_equal(READ_ONCE(fx->vcpu->mode), IN_GUEST_MODE);

	assert_int_equal(pthread_create(&track_thr, NULL, park_track_fn, &p), 0);
	/* The kick has asked the vCPU out (bounded: ~10 s of yields at most). */
	for (spins = 0; READ_ONCE(fx->vcpu->mode) != EXITING_GUEST_MODE; spins++) {
		assert_true(spins < 10000000);
		sched_yield();
	}
	pthread_mutex_lock(&p.lock);
	p.release = true;
	pthread_cond_broadcast(&p.cond);
	pthread_mutex_unlock(&p.lock);
	pthread_join(enter_thr, NULL);
	pthread_join(track_thr, NULL);
	tdxsim_set_hook(fx->sim, NULL, NULL);

	assert_int_equal(p.track_ret, 0);
	assert_false(fx->kvm->vm_bugged);
	/* The first TRACK lost the epoch lock to VP.ENTER, the retry did not. */
	assert_int_equal(calls_of(fx, TDH_MEM_TRACK) - track_calls, 2);
	assert_int_equal(p.enter_ret, -EAGAIN);
	assert_false(tdxsim_vp_in_guest(fx->sim, tdvpr_of(fx)));
	assert_int_equal(READ_ONCE(fx->vcpu->mode), OUTSIDE_GUEST_MODE);
	assert_false(fx->kvm_tdx->wait_for_sept_zap);
	assert_int_equal(tdx_vcpu_enter(fx->vcpu), 0);
}

/*
 * A DEMOTE that loses to the vCPU once (fault rule): tdh_do_no_vcpus()
 * holds entry off and kicks; during that kick the vCPU cannot enter; the
 * retry succeeds and flow (a) completes.
 */
struct zap_kick {
	int enter_ret;
	unsigned int kicks_held;
};

static struct zap_kick zap_log;

static void kick_logging(struct kvm_tdx *kvm_tdx)
{
	struct tdx_fixture *fx = kvm_tdx->kick_arg;

	tdx_kick_all_vcpus(kvm_tdx);
	if (READ_ONCE(kvm_tdx->wait_for_sept_zap)) {
		zap_log.kicks_held++;
		zap_log.enter_ret = tdx_vcpu_enter(fx->vcpu);
	}
}

static void test_flow_a_demote_busy_once(void **state)
{
	struct tdx_fixture *fx = *state;
	struct run_counts rc = { 0 };
	char err[128];

	zap_log = (struct zap_kick){ .enter_ret = 1 };
	fx->kvm_tdx->kick_arg = fx;
	fx->kvm_tdx->kick_vcpus = kick_logging;
	tdx_fixture_map(fx, FX_GFN_2M, PG_LEVEL_2M);
	assert_int_equal(tdxsim_fault_parse(fx->sim, "demote:busy=sept:nth=1", err, sizeof(err)),
			 1);
	assert_int_equal(guest_accept(fx, FX_GFN_2M, PG_LEVEL_4K, &rc), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	tdxsim_fault_clear(fx->sim);
	assert_int_equal(rc.accept_exits, 1);
	assert_int_equal(zap_log.kicks_held, 1);
	assert_int_equal(zap_log.enter_ret, -EAGAIN);
	assert_false(fx->kvm_tdx->wait_for_sept_zap);
	assert_int_equal(mirror_level(fx, FX_GFN_2M), PG_LEVEL_4K);
	assert_clean(fx);
}

/* A module vCPU of another TD, or none, cannot be bound. */
static void test_bind_refuses_foreign(void **state)
{
	struct tdx_fixture *fx = *state;

	assert_int_equal(tdx_vcpu_bind(fx->vcpu, fx->std->tdr_pa), -EINVAL);
	assert_int_equal(tdx_vcpu_bind(fx->vcpu, 0), -EINVAL);
	assert_int_equal(tdx_vcpu_bind(fx->vcpu, tdvpr_of(fx)), 0);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, tdx_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_flow_a_map_2m_accept_4k),
		T(test_flow_b_accept_4k_first),
		T(test_access_unmapped_then_accept),
		T(test_accept_2m),
		T(test_accept_split_enomem),
		T(test_enter_refused_while_wait_for_sept_zap),
		T(test_track_kicks_vcpu),
		T(test_kick_waits_for_entering_vcpu),
		T(test_flow_a_demote_busy_once),
		T(test_bind_refuses_foreign),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
