// SPDX-License-Identifier: GPL-2.0-only
/*
 * tdxsim_guest_access(): a vCPU in guest mode reads or writes a GPA.  An
 * accepted page is accessible, a PENDING one gives the guest a #VE, a GPA
 * no leaf maps (or a blocked one) exits the TD with an EPT violation that
 * KVM can read back, a shared GPA always works, and a vCPU's stale TLB
 * keeps a blocked page accessible until TRACK and a kick have taken it
 * out of the guest (td_ept_violation.c; spec seamcall.md §2.17).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "harness.h"

#define GPA0		GPA_2M(0)
#define GPA1		GPA_2M(1)
#define GPA_FAR		0x80000000ULL	/* 2GB: nothing maps it, not even a table */
#define SHARED_BIT	(1ULL << 47)	/* GPAW 48 */
#define GVA_BITS	(EPT_VIOLATION_GVA_IS_VALID | EPT_VIOLATION_GVA_TRANSLATED)

static u64 tdvpr(struct fixture *fx)
{
	return tdxsim_vcpu_tdvpr_pa(fx->vcpu);
}

static u64 access(struct fixture *fx, u64 gpa, bool write)
{
	return tdxsim_guest_access(fx->sim, tdvpr(fx), gpa, write);
}

static u64 accept(struct fixture *fx, u64 gpa, int level)
{
	struct tdx_module_args a = { .rcx = gpa | (u64)level };

	return tdxsim_tdcall(fx->sim, tdvpr(fx), TDG_MEM_PAGE_ACCEPT, &a);
}

static u8 sept_state(struct fixture *fx, u64 gpa)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gpa, &si), 0);
	return si.state;
}

/* The access exited with a plain EPT violation at @gpa; the vCPU is out of the guest. */
static void assert_ept_exit(struct fixture *fx, u64 status, u64 gpa, bool write)
{
	struct tdxsim_td_exit ex;

	assert_int_equal(status, TDXSIM_TDCALL_TD_EXIT);
	assert_false(tdxsim_vp_in_guest(fx->sim, tdvpr(fx)));
	assert_int_equal(tdxsim_vp_last_exit(fx->sim, tdvpr(fx), &ex), 0);
	assert_int_equal(ex.exit_reason, EXIT_REASON_EPT_VIOLATION);
	assert_int_equal(ex.gpa, gpa);
	assert_int_equal(ex.exit_qual,
			 (write ? EPT_VIOLATION_ACC_WRITE : EPT_VIOLATION_ACC_READ) | GVA_BITS);
	assert_int_equal(ex.ext_exit_qual, 0);	/* type NONE: not an ACCEPT exit */
}

/* AUG then ACCEPT: the page is the guest's, reads and writes go through. */
static void test_mapped_page_accessible(void **state)
{
	struct fixture *fx = *state;

	fx_aug(fx, GPA0, TDX_PS_4K);
	fx_enter(fx);
	assert_status(accept(fx, GPA0, TDX_PS_4K), TDX_SUCCESS);
	assert_status(access(fx, GPA0, false), TDX_SUCCESS);
	assert_status(access(fx, GPA0 + 0x123, true), TDX_SUCCESS);
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr(fx)));

	/* A 2MB page accepted whole: any 4K of it. */
	fx_aug(fx, GPA1, TDX_PS_2M);
	assert_status(accept(fx, GPA1, TDX_PS_2M), TDX_SUCCESS);
	assert_status(access(fx, GPA1 + 0x1FF000, true), TDX_SUCCESS);
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr(fx)));
}

/*
 * AUG'ed but not accepted: the guest's own #VE, no TD exit, the page
 * untouched; once accepted the same access succeeds.
 */
static void test_pending_page_ve(void **state)
{
	struct fixture *fx = *state;

	fx_aug(fx, GPA0, TDX_PS_4K);
	fx_aug(fx, GPA1, TDX_PS_2M);
	fx_enter(fx);
	assert_int_equal(access(fx, GPA0, false), TDXSIM_GUEST_ACCESS_VE);
	assert_int_equal(access(fx, GPA0, true), TDXSIM_GUEST_ACCESS_VE);
	assert_int_equal(access(fx, GPA1 + 0x5000, true), TDXSIM_GUEST_ACCESS_VE);
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr(fx)));
	assert_int_equal(sept_state(fx, GPA0), SEPT_PUBLIC_PENDING);

	assert_status(accept(fx, GPA0, TDX_PS_4K), TDX_SUCCESS);
	assert_status(access(fx, GPA0, true), TDX_SUCCESS);
	/* The 2MB page stays PENDING until accepted at 2M. */
	assert_int_equal(access(fx, GPA1, false), TDXSIM_GUEST_ACCESS_VE);
	assert_status(accept(fx, GPA1, TDX_PS_2M), TDX_SUCCESS);
	assert_status(access(fx, GPA1, false), TDX_SUCCESS);
}

/*
 * Nothing maps the GPA: no table at all, or a FREE 4K entry of an existing
 * table.  Each exits with the EPT violation KVM reads: the access type as
 * the CPU sets it, the GPA, no extended type.  Out of the guest the vCPU can
 * access nothing until it re-enters.
 */
static void test_unmapped_gpa_ept_violation(void **state)
{
	struct fixture *fx = *state;

	fx_enter(fx);
	assert_ept_exit(fx, access(fx, GPA_FAR + 0x3000, false), GPA_FAR + 0x3000, false);
	assert_status(access(fx, GPA_FAR, true), TDX_VCPU_STATE_INCORRECT);

	fx_enter(fx);
	assert_ept_exit(fx, access(fx, GPA_FAR + 0x3008, true), GPA_FAR + 0x3008, true);

	/* The tables exist down to the 4K level; the 4K entry is FREE. */
	fx_map_sept(fx, GPA0, TDX_PS_4K);
	fx_enter(fx);
	assert_ept_exit(fx, access(fx, GPA0 + 0x7000, true), GPA0 + 0x7000, true);
	assert_int_equal(sept_state(fx, GPA0 + 0x7000), SEPT_PUBLIC_FREE);

	/* The exit is what an ACCEPT exit is not: a later ACCEPT exit says ACCEPT. */
	fx_enter(fx);
	assert_int_equal(accept(fx, GPA0 + 0x7000, TDX_PS_4K), TDXSIM_TDCALL_TD_EXIT);
	{
		struct tdxsim_td_exit ex;

		assert_int_equal(tdxsim_vp_last_exit(fx->sim, tdvpr(fx), &ex), 0);
		assert_int_equal(ex.ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK,
				 TDX_EXT_EXIT_QUAL_TYPE_ACCEPT);
	}
}

/*
 * A blocked accepted page and the TLB: the vCPU that was in the guest when
 * the host blocked it keeps its translation through the block and the
 * TRACK (it still counts in the old epoch); after the kick and a re-entry
 * in the new epoch the access exits.
 */
static void test_blocked_page_stale_tlb_until_tracked(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2;

	fx_aug(fx, GPA0, TDX_PS_4K);
	fx_enter(fx);
	assert_status(accept(fx, GPA0, TDX_PS_4K), TDX_SUCCESS);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(sept_state(fx, GPA0), SEPT_PUBLIC_BLOCKED);
	assert_status(access(fx, GPA0, true), TDX_SUCCESS);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_status(access(fx, GPA0, false), TDX_SUCCESS);
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr(fx)));

	tdxsim_td_kick_vcpus(fx->td);
	assert_status(access(fx, GPA0, false), TDX_VCPU_STATE_INCORRECT);
	fx_enter(fx);
	assert_ept_exit(fx, access(fx, GPA0, true), GPA0, true);

	/* UNBLOCK (tracking done): accessible again. */
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_4K, &e1, &e2),
		      TDX_SUCCESS);
	fx_enter(fx);
	assert_status(access(fx, GPA0, true), TDX_SUCCESS);
}

/*
 * A vCPU that enters after the block but before the TRACK is still in the
 * block's epoch: the module flushes its TLB only on entry in a newer epoch.
 * One entering after the TRACK is not.
 */
static void test_blocked_page_entry_epochs(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2;

	fx_aug(fx, GPA0, TDX_PS_4K);
	fx_enter(fx);
	assert_status(accept(fx, GPA0, TDX_PS_4K), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	fx_enter(fx);
	assert_status(access(fx, GPA0, false), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	fx_enter(fx);
	assert_ept_exit(fx, access(fx, GPA0, false), GPA0, false);
}

/* Never accessible, whatever the epoch: a PENDING page blocked by the host. */
static void test_pending_blocked_exits(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2;

	fx_aug(fx, GPA0, TDX_PS_4K);
	fx_enter(fx);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(sept_state(fx, GPA0), SEPT_PUBLIC_PENDING_BLOCKED);
	assert_ept_exit(fx, access(fx, GPA0, true), GPA0, true);
}

/*
 * A 2MB table blocked above accepted 4K pages (BLOCK at 2M of a non-leaf):
 * the vCPU of the block's epoch reaches them through its TLB; after TRACK,
 * kick and re-entry the blocked table stops the walk.  A PENDING page
 * under the blocked table never had a translation: it exits at once.
 */
static void test_blocked_table(void **state)
{
	struct fixture *fx = *state;
	u64 e1, e2;

	fx_aug(fx, GPA0, TDX_PS_4K);
	fx_aug(fx, GPA0 + 0x1000, TDX_PS_4K);
	fx_enter(fx);
	assert_status(accept(fx, GPA0, TDX_PS_4K), TDX_SUCCESS);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_2M, &e1, &e2), TDX_SUCCESS);
	assert_status(access(fx, GPA0, true), TDX_SUCCESS);
	assert_ept_exit(fx, access(fx, GPA0 + 0x1000, false), GPA0 + 0x1000, false);

	fx_enter(fx);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);
	fx_enter(fx);
	assert_ept_exit(fx, access(fx, GPA0, true), GPA0, true);
	/* Leave the table as teardown expects it. */
	assert_status(tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_2M, &e1, &e2),
		      TDX_SUCCESS);
}

/* The shared EPT is not modelled: a shared GPA is accessible, no S-EPT walk. */
static void test_shared_gpa(void **state)
{
	struct fixture *fx = *state;

	fx_enter(fx);
	assert_status(access(fx, SHARED_BIT | GPA_FAR, true), TDX_SUCCESS);
	assert_status(access(fx, SHARED_BIT | GPA0, false), TDX_SUCCESS);
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr(fx)));
	/* Above GPAW: the guest's #PF(RSVD), not a TD exit. */
	assert_status(access(fx, 1ULL << 48, false), TDX_OPERAND_INVALID);
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr(fx)));
}

/*
 * No vCPU, or one not in guest mode: TDX_VCPU_STATE_INCORRECT, as for a
 * TDCALL (tdxsim_tdcall()), and nothing recorded for the vCPU.
 */
static void test_bad_vcpu(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td_exit ex;

	fx_aug(fx, GPA0, TDX_PS_4K);
	/* Never entered. */
	assert_status(access(fx, GPA0, false), TDX_VCPU_STATE_INCORRECT);
	fx_enter(fx);
	/* Not a TDVPR page: the TDR, a page outside memory, unaligned, 0. */
	assert_status(tdxsim_guest_access(fx->sim, fx->td->tdr_pa, GPA0, false),
		      TDX_VCPU_STATE_INCORRECT);
	assert_status(tdxsim_guest_access(fx->sim, 0, GPA0, false), TDX_VCPU_STATE_INCORRECT);
	assert_status(tdxsim_guest_access(fx->sim, tdvpr(fx) + 8, GPA0, false),
		      TDX_VCPU_STATE_INCORRECT);
	assert_status(tdxsim_guest_access(fx->sim, ~0xFFFULL, GPA_FAR, false),
		      TDX_VCPU_STATE_INCORRECT);
	/* None of them touched the real vCPU. */
	assert_true(tdxsim_vp_in_guest(fx->sim, tdvpr(fx)));
	assert_int_equal(tdxsim_vp_last_exit(fx->sim, tdvpr(fx), &ex), 0);
	assert_int_equal(ex.exit_reason, 0);
	assert_int_equal(access(fx, GPA0, false), TDXSIM_GUEST_ACCESS_VE);
}

/* A guest access is no call: it takes no sequence number. */
static void test_not_a_call(void **state)
{
	struct fixture *fx = *state;
	u64 seq;

	fx_aug(fx, GPA0, TDX_PS_4K);
	fx_enter(fx);
	seq = tdxsim_seq(fx->sim);
	assert_int_equal(access(fx, GPA0, false), TDXSIM_GUEST_ACCESS_VE);
	assert_int_equal(access(fx, GPA_FAR, false), TDXSIM_TDCALL_TD_EXIT);
	assert_int_equal(tdxsim_seq(fx->sim), seq);
}

/*
 * ---- a guest thread against the host's BLOCK, TRACK, kick, UNBLOCK ----
 *
 * The guest writes one accepted page over and over, re-entering whenever
 * it is out of the guest.  The host blocks the page, tracks, kicks, and
 * only then publishes "tracked" (state = generation << 1 | 1); before it
 * unblocks it publishes a new generation.  An access whose entry came
 * after the guest saw "tracked" and that still sees the same state after
 * it ran in the blocked-and-tracked window: it must not go through (the
 * vCPU's epoch is newer than the block).  Every other outcome is one of
 * the documented ones.  Run under TSan, this is also the check that the
 * lock-free walk races with the host's SEAMCALLs only through atomics.
 */
#define RACE_ROUNDS	200
#define RACE_SPIN	200000

struct race {
	struct fixture *fx;
	u64 state;		/* atomic: generation << 1 | tracked */
	bool stop;		/* atomic */
	u64 checked_in_gen;	/* atomic: generation of the last checked access */
	unsigned long accesses, successes, exits, checked;
	u64 bad;		/* an undocumented result, or a tracked access that went through */
};

static void *race_guest(void *arg)
{
	struct race *r = arg;
	struct fixture *fx = r->fx;

	while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
		u64 s1 = __atomic_load_n(&r->state, __ATOMIC_SEQ_CST), s2, st;
		bool entered = false;

		if (!tdxsim_vp_in_guest(fx->sim, tdvpr(fx))) {
			if (tdxsim_vcpu_enter(fx->vcpu) != TDX_SUCCESS)
				continue;	/* the epoch lock lost to TRACK */
			entered = true;
		}
		st = access(fx, GPA0, true);
		s2 = __atomic_load_n(&r->state, __ATOMIC_SEQ_CST);
		r->accesses++;
		if (st == TDX_SUCCESS)
			r->successes++;
		else if (st == TDXSIM_TDCALL_TD_EXIT)
			r->exits++;
		else if (st != TDX_VCPU_STATE_INCORRECT)
			r->bad = st;
		if (entered && s1 == s2 && (s1 & 1)) {
			r->checked++;
			if (st == TDX_SUCCESS)
				r->bad = st;
			__atomic_store_n(&r->checked_in_gen, s1 >> 1, __ATOMIC_SEQ_CST);
		}
	}
	return NULL;
}

static u64 retry_busy(struct fixture *fx, u64 (*fn)(struct fixture *fx))
{
	u64 st;
	int i = 0;

	do {
		st = fn(fx);
		if ((st & TDX_STATUS_MASK) == TDX_PREVIOUS_TLB_EPOCH_BUSY)
			tdxsim_td_kick_vcpus(fx->td);
	} while (st != TDX_SUCCESS && ++i < 100000);
	return st;
}

static u64 do_block(struct fixture *fx)
{
	u64 e1, e2;

	return tdxsim_tdh_mem_range_block(fx->td, GPA0, TDX_PS_4K, &e1, &e2);
}

static u64 do_track(struct fixture *fx)
{
	return tdxsim_tdh_mem_track(fx->td);
}

static u64 do_unblock(struct fixture *fx)
{
	u64 e1, e2;

	return tdxsim_tdh_mem_range_unblock(fx->td, GPA0, TDX_PS_4K, &e1, &e2);
}

static void test_race_guest_vs_block_track(void **state)
{
	struct fixture *fx = *state;
	struct race r = { .fx = fx, .checked_in_gen = ~0ULL };
	pthread_t thr;

	fx_aug(fx, GPA0, TDX_PS_4K);
	fx_enter(fx);
	assert_status(accept(fx, GPA0, TDX_PS_4K), TDX_SUCCESS);
	tdxsim_td_kick_vcpus(fx->td);
	assert_int_equal(pthread_create(&thr, NULL, race_guest, &r), 0);
	for (u64 gen = 0; gen < RACE_ROUNDS; gen++) {
		assert_status(retry_busy(fx, do_block), TDX_SUCCESS);
		assert_status(retry_busy(fx, do_track), TDX_SUCCESS);
		tdxsim_td_kick_vcpus(fx->td);
		__atomic_store_n(&r.state, gen << 1 | 1, __ATOMIC_SEQ_CST);
		/* Give the guest the window (bounded: it may be descheduled). */
		for (int i = 0; i < RACE_SPIN &&
		     __atomic_load_n(&r.checked_in_gen, __ATOMIC_SEQ_CST) != gen; i++)
			sched_yield();
		__atomic_store_n(&r.state, (gen + 1) << 1, __ATOMIC_SEQ_CST);
		assert_status(retry_busy(fx, do_unblock), TDX_SUCCESS);
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_SEQ_CST);
	assert_int_equal(pthread_join(thr, NULL), 0);
	if (r.bad)
		fail_msg("guest access gave %#llx in the wrong phase",
			 (unsigned long long)r.bad);
	/* The tracked window was exercised, and so was the unblocked phase. */
	assert_true(r.checked > 0);
	assert_true(r.successes > 0);
	assert_true(r.exits > 0);
	assert_int_equal(sept_state(fx, GPA0), SEPT_PUBLIC_MAPPED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mapped_page_accessible, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_page_ve, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unmapped_gpa_ept_violation,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_blocked_page_stale_tlb_until_tracked,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_blocked_page_entry_epochs, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_blocked_exits, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_blocked_table, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_shared_gpa, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_vcpu, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_not_a_call, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_page_ve, fx_setup_runnable_nodpamt,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_race_guest_vs_block_track, fx_setup_runnable,
						fx_teardown),
	};

	return run_group(tests);
}
