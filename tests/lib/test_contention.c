// SPDX-License-Identifier: GPL-2.0-only
/*
 * The module's try-locks (spec seamcall.md §1 "Locks that can produce BUSY",
 * §2.1 steps 3/5/8/10, §2.5, §2.6, §2.14, §2.16): a call never waits, it fails
 * with TDX_OPERAND_BUSY and the operand id of the contended resource, and
 * changes nothing.
 *
 * Deterministic collisions: thread A issues a call whose leaf parks in the
 * simulator's scheduling hook (include/tdxsim/hook.h) at its exit point, while
 * it still holds all its locks; the main thread then issues the colliding call, checks the status
 * and that the state did not move, and lets A finish.
 *
 * Stress: 2, 3 and 4 threads, each on its own logical CPU with its own vCPU,
 * own GPA 2MB ranges and own host 2MB blocks, run seeded random legal
 * operations on one TD and retry BUSY.  Each thread keeps an exact model of
 * what it owns, so every non-BUSY status is checked.  Under valgrind the op
 * count is cut: the valgrind test setup sets TDXSIM_VALGRIND=1 (meson.build),
 * and RUNNING_ON_VALGRIND catches a direct `valgrind ./test-lib-contention`.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "tdxsim-internal.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* ------------------------------------------------------------------------
 * Parking a call inside the module.
 */
struct parked_call {
	struct fixture *fx;
	unsigned int hook_leaf;		/* leaf (| PARK_TDCALL) to park in */
	u64 rax;
	struct tdx_module_args args;
	struct tdxsim_vcpu *vcpu;	/* set: a TDCALL from this vCPU */
	u64 result;
	u64 hook_status;		/* the status the leaf had when it parked */
	int park_pamt_level;		/* >= 0: park once the leaf holds a PAMT entry
					 * of this level exclusive, before it commits */
	pthread_t thr;
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool parked, done, release;
};

/* hook_leaf flag: the leaf is a TDCALL leaf. */
#define PARK_TDCALL	0x10000U

static __thread bool park_this_thread;
/* The call parked now, released by the teardown if an assert failed meanwhile. */
static struct parked_call *active_park;
/* Not on a test's stack: the teardown may still need it after a longjmp. */
static struct parked_call park_slot;

/*
 * Runs at every hook point; parks only thread A, only at the exit of its leaf
 * (before the call releases its locks), once.
 */
static void hold_hook(void *arg, const struct tdxsim_hook_event *ev)
{
	struct parked_call *pc = arg;

	if (!park_this_thread || (ev->leaf | (ev->tdcall ? PARK_TDCALL : 0)) != pc->hook_leaf)
		return;
	if (pc->park_pamt_level >= 0 ?
	    ev->point != TDXSIM_HOOK_LOCK || ev->lock != TDXSIM_HOOK_LOCK_PAMT ||
	    ev->level != pc->park_pamt_level || !ev->exclusive || !ev->acquired :
	    ev->point != TDXSIM_HOOK_EXIT)
		return;
	park_this_thread = false;
	pthread_mutex_lock(&pc->m);
	pc->parked = true;
	pc->hook_status = ev->status;
	pthread_cond_broadcast(&pc->cv);
	while (!pc->release)
		pthread_cond_wait(&pc->cv, &pc->m);
	pthread_mutex_unlock(&pc->m);
}

static void *parked_thread(void *arg)
{
	struct parked_call *pc = arg;
	struct tdxsim *sim = pc->fx->sim;
	u64 st;

	tdxsim_cpu_bind(sim, 1);
	park_this_thread = true;
	if (pc->vcpu)
		st = tdxsim_tdcall(sim, pc->vcpu->tdvpr_pa, pc->rax, &pc->args);
	else
		st = tdxsim_seamcall(sim, pc->rax, &pc->args);
	park_this_thread = false;
	pthread_mutex_lock(&pc->m);
	pc->result = st;
	pc->done = true;
	pthread_cond_broadcast(&pc->cv);
	pthread_mutex_unlock(&pc->m);
	return NULL;
}

/* Start thread A with @pc->rax/args and wait until it is parked in @hook_leaf. */
static void park_start_at(struct parked_call *pc, struct fixture *fx, unsigned int hook_leaf,
			  int pamt_level)
{
	struct timespec deadline;
	int rc = 0;

	pc->fx = fx;
	pc->hook_leaf = hook_leaf;
	pc->park_pamt_level = pamt_level;
	pc->parked = pc->done = pc->release = false;
	pthread_mutex_init(&pc->m, NULL);
	pthread_cond_init(&pc->cv, NULL);
	tdxsim_set_hook(fx->sim, hold_hook, pc);
	assert_int_equal(pthread_create(&pc->thr, NULL, parked_thread, pc), 0);
	active_park = pc;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 30;
	pthread_mutex_lock(&pc->m);
	while (!pc->parked && !pc->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&pc->cv, &pc->m, &deadline);
	pthread_mutex_unlock(&pc->m);
	if (!pc->parked) {
		char b[64];

		/* A never reached the hook with that leaf: nothing was held. */
		if (pc->done) {
			pthread_join(pc->thr, NULL);
			active_park = NULL;
		}
		fail_msg("call %#llx did not park (finished: %d, status %s)",
			 (unsigned long long)pc->rax, pc->done,
			 tdxsim_status_name(pc->result, b, sizeof(b)));
	}
}

static void park_start(struct parked_call *pc, struct fixture *fx, unsigned int hook_leaf)
{
	park_start_at(pc, fx, hook_leaf, -1);
}

/* Let A finish; returns the status of A's call. */
static u64 park_finish(struct parked_call *pc)
{
	pthread_mutex_lock(&pc->m);
	pc->release = true;
	pthread_cond_broadcast(&pc->cv);
	pthread_mutex_unlock(&pc->m);
	pthread_join(pc->thr, NULL);
	active_park = NULL;
	tdxsim_set_hook(pc->fx->sim, NULL, NULL);
	pthread_mutex_destroy(&pc->m);
	pthread_cond_destroy(&pc->cv);
	/* The hook sees the final status: nothing changed it on the way out. */
	if (pc->park_pamt_level < 0)
		assert_int_equal(pc->hook_status, pc->result);
	return pc->result;
}

/* ------------------------------------------------------------------------
 * State snapshots: a failed call must not move anything.
 */
#define SNAP_MAX	4

struct snap {
	struct tdxsim_sept_info si[SNAP_MAX];
	struct tdxsim_pamt_info pi[SNAP_MAX];
	u64 chldcnt;
	u64 epoch;
};

static void snap_take(struct fixture *fx, struct snap *s, const u64 *gpas, unsigned int ng,
		      const u64 *hpas, unsigned int nh)
{
	memset(s, 0, sizeof(*s));
	for (unsigned int i = 0; i < ng; i++)
		assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gpas[i], &s->si[i]), 0);
	for (unsigned int i = 0; i < nh; i++)
		assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpas[i], &s->pi[i]), 0);
	s->chldcnt = tdxsim_td_chldcnt(fx->sim, fx->td);
	s->epoch = tdxsim_td_epoch(fx->sim, fx->td);
}

static void snap_same(struct fixture *fx, const struct snap *before, const u64 *gpas,
		      unsigned int ng, const u64 *hpas, unsigned int nh)
{
	struct snap now;

	snap_take(fx, &now, gpas, ng, hpas, nh);
	assert_memory_equal(before->si, now.si, sizeof(now.si));
	assert_memory_equal(before->pi, now.pi, sizeof(now.pi));
	assert_int_equal(before->chldcnt, now.chldcnt);
	assert_int_equal(before->epoch, now.epoch);
}

static struct td *fx_td(struct fixture *fx)
{
	struct td *td = td_by_tdr(fx->sim, fx->td->tdr_pa);

	assert_non_null(td);
	return td;
}

static void set_args(struct parked_call *pc, u64 leaf, u64 rcx, u64 rdx, u64 r8, u64 r9)
{
	memset(&pc->args, 0, sizeof(pc->args));
	pc->rax = leaf;
	pc->args.rcx = rcx;
	pc->args.rdx = rdx;
	pc->args.r8 = r8;
	pc->args.r9 = r9;
	pc->vcpu = NULL;
}

/* ------------------------------------------------------------------------
 * Deterministic collisions.
 */

/* spec §2.5/§2.1 step 8: BLOCK holds the SEPT tree exclusive, AUG wants it shared. */
static void test_block_holds_tree_vs_aug(void **state)
{
	struct fixture *fx = *state;
	u64 gx = GPA_2M(0), gy = GPA_2M(0) + 0x1000, page, e1 = ~0ULL, e2 = ~0ULL;
	struct tdxsim_sept_info si;
	struct parked_call *pc = &park_slot;
	struct snap s;

	fx_aug(fx, gx, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	u64 gpas[] = { gx, gy }, hpas[] = { page };

	set_args(pc, TDH_MEM_RANGE_BLOCK, gx | TDX_PS_4K, fx->td->tdr_pa, 0, 0);
	park_start(pc, fx, TDH_MEM_RANGE_BLOCK);
	snap_take(fx, &s, gpas, 2, hpas, 1);
	assert_int_equal(s.si[0].state, SEPT_PUBLIC_PENDING_BLOCKED);	/* A's work is done */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gy, TDX_PS_4K, page >> 12, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT);
	/* Step 1 cleared RCX/RDX; the tree lock gives no entry details. */
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	snap_same(fx, &s, gpas, 2, hpas, 1);
	assert_int_equal(s.si[1].state, SEPT_PUBLIC_FREE);
	assert_int_equal(s.pi[0].pt, PT_NDA);
	assert_status(park_finish(pc), TDX_SUCCESS);

	/* The lock is gone with A: the same AUG now goes through. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gy, TDX_PS_4K, page >> 12, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gy, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
	assert_int_equal(si.hpa, page);
}

/* spec §2.4/§2.5: AUG holds the tree shared; BLOCK (exclusive) loses, another AUG does not. */
static void test_aug_holds_tree_vs_block(void **state)
{
	struct fixture *fx = *state;
	u64 gx = GPA_2M(0), gy = GPA_2M(0) + 0x1000, gz = GPA_2M(0) + 0x2000;
	u64 py, pz, e1 = ~0ULL, e2 = ~0ULL, chld;
	struct tdxsim_sept_info si;
	struct parked_call *pc = &park_slot;
	struct snap s;

	fx_aug(fx, gx, TDX_PS_4K);
	py = fx_alloc_4k(fx);
	pz = fx_alloc_4k(fx);
	u64 gpas[] = { gx, gy }, hpas[] = { py };

	set_args(pc, TDH_MEM_PAGE_AUG, gy | TDX_PS_4K, fx->td->tdr_pa, py, 0);
	park_start(pc, fx, TDH_MEM_PAGE_AUG);
	snap_take(fx, &s, gpas, 2, hpas, 1);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, gx, TDX_PS_4K, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	snap_same(fx, &s, gpas, 2, hpas, 1);
	assert_int_equal(s.si[0].state, SEPT_PUBLIC_PENDING);

	/* Shared holders coexist: an AUG of another entry succeeds meanwhile. */
	chld = tdxsim_td_chldcnt(fx->sim, fx->td);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gz, TDX_PS_4K, pz >> 12, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->td), chld + 1);
	assert_status(park_finish(pc), TDX_SUCCESS);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, gx, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gx, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING_BLOCKED);
}

/* spec §2.1 step 10: two AUGs share the tree but race on one entry's host lock. */
static void test_aug_vs_aug_same_entry(void **state)
{
	struct fixture *fx = *state;
	u64 gy = GPA_2M(0) + 0x1000, p1, p2, e1 = ~0ULL, e2 = ~0ULL;
	struct tdxsim_pamt_info pi;
	struct parked_call *pc = &park_slot;
	struct snap s;

	fx_map_sept(fx, gy, TDX_PS_4K);
	p1 = fx_alloc_4k(fx);
	p2 = fx_alloc_4k(fx);
	u64 gpas[] = { gy }, hpas[] = { p1, p2 };

	set_args(pc, TDH_MEM_PAGE_AUG, gy | TDX_PS_4K, fx->td->tdr_pa, p1, 0);
	park_start(pc, fx, TDH_MEM_PAGE_AUG);
	snap_take(fx, &s, gpas, 1, hpas, 2);
	assert_int_equal(s.si[0].state, SEPT_PUBLIC_PENDING);
	assert_int_equal(s.si[0].hpa, p1);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gy, TDX_PS_4K, p2 >> 12, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	/* RCX/RDX: the entry as read (A's PENDING page), level 0 | state << 8. */
	assert_int_equal(e1, s.si[0].entry);
	assert_int_equal(e1 & SEPT_ARCH_PFN_MASK, p1);
	assert_int_equal(e2, TDX_PS_4K | (SEPT_PUBLIC_PENDING << TDX_SEPT_INFO_STATE_SHIFT));
	snap_same(fx, &s, gpas, 1, hpas, 2);
	assert_int_equal(s.pi[1].pt, PT_NDA);
	assert_int_equal(s.pi[1].owner, 0);
	assert_status(park_finish(pc), TDX_SUCCESS);

	/* Unlocked, the loser now fails on the state: the entry is taken. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gy, TDX_PS_4K, p2 >> 12, &e1, &e2),
		      TDX_EPT_ENTRY_STATE_INCORRECT | TDX_OPERAND_ID_RCX);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, p2, &pi), 0);
	assert_int_equal(pi.pt, PT_NDA);
	assert_int_equal(tdxsim_page_free(fx->sim, p2, TDX_PS_4K), 0);
}

/* spec §2.1 step 3, §2.3: PAGE.ADD takes the TDR exclusive, every TD leaf loses on it. */
static void test_page_add_holds_tdr(void **state)
{
	struct fixture *fx = *state;
	u64 gx = GPA_2M(0), gy = GPA_2M(0) + 0x1000, g2 = GPA_2M(1);
	u64 page, src, q, sept, e1 = ~0ULL, e2 = ~0ULL;
	struct tdx_module_args a;
	struct tdxsim_sept_info si;
	struct parked_call *pc = &park_slot;
	struct snap s;

	fx_map_sept(fx, gx, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	q = fx_alloc_4k(fx);
	sept = fx_alloc_4k(fx);
	src = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_true(src != 0);
	u64 gpas[] = { gx, gy, g2 }, hpas[] = { page, q, sept };

	set_args(pc, TDH_MEM_PAGE_ADD, gx, fx->td->tdr_pa, page, src);
	park_start(pc, fx, TDH_MEM_PAGE_ADD);
	snap_take(fx, &s, gpas, 3, hpas, 3);
	assert_int_equal(s.si[0].state, SEPT_PUBLIC_MAPPED);

	assert_status(tdxsim_tdh_mem_sept_add(fx->td, g2, TDX_PS_2M, sept, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RDX);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gy, TDX_PS_4K, q >> 12, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RDX);
	assert_status(tdxsim_tdh_mem_page_add(fx->td, gy, q, src, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RDX);
	assert_status(tdxsim_tdh_mem_range_block(fx->td, gx, TDX_PS_4K, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RDX);
	/* TRACK names its TDR operand RCX (§2.1 step 3). */
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	a = (struct tdx_module_args){ .rcx = fx->td->tdr_pa };
	assert_status(tdxsim_seamcall(fx->sim, TDH_MR_FINALIZE, &a),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	snap_same(fx, &s, gpas, 3, hpas, 3);
	assert_status(park_finish(pc), TDX_SUCCESS);

	assert_status(tdxsim_tdh_mem_sept_add(fx->td, g2, TDX_PS_2M, sept, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, g2, TDX_PS_2M, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_NL_MAPPED);
	assert_int_equal(tdxsim_page_free(fx->sim, q, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, src, TDX_PS_4K), 0);
}

/* spec §2.6/§2.17: TRACK holds the epoch lock exclusive; VP.ENTER samples it shared. */
static void test_track_holds_epoch(void **state)
{
	struct fixture *fx = *state;
	struct td *td = fx_td(fx);
	struct parked_call *pc = &park_slot;
	u32 rc0, rc1;
	u64 epoch;

	epoch = tdxsim_td_epoch(fx->sim, fx->td);
	set_args(pc, TDH_MEM_TRACK, fx->td->tdr_pa, 0, 0, 0);
	park_start(pc, fx, TDH_MEM_TRACK);
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), epoch + 1);
	rc0 = td->refcount[0];
	rc1 = td->refcount[1];

	assert_status(tdxsim_vcpu_enter(fx->vcpu), TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH);
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), epoch + 1);
	assert_int_equal(td->refcount[0], rc0);
	assert_int_equal(td->refcount[1], rc1);
	assert_status(park_finish(pc), TDX_SUCCESS);

	fx_enter(fx);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	/* The vCPU is counted in the new epoch's parity. */
	assert_int_equal(td->refcount[(epoch + 1) & 1], ((epoch + 1) & 1 ? rc1 : rc0) + 1);
	assert_int_equal(td->refcount[epoch & 1], epoch & 1 ? rc1 : rc0);
	tdxsim_vcpu_exit(fx->vcpu);
}

/* spec §2.14/§2.4: PAMT.ADD holds the range's 2MB PAMT entry exclusive. */
static void test_pamt_add_holds_2m_entry(void **state)
{
	struct fixture *fx = *state;
	u64 gx = GPA_2M(0), g2 = GPA_2M(1), blk, p0, p1, e1 = ~0ULL, e2 = ~0ULL;
	struct tdxsim_pamt_info pi;
	struct tdx_module_args a;
	struct parked_call *pc = &park_slot;
	struct snap s;

	fx_map_sept(fx, gx, TDX_PS_4K);
	fx_map_sept(fx, g2, TDX_PS_2M);
	blk = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	p0 = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	p1 = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_true(blk && p0 && p1);
	assert_int_equal(tdxsim_pamt_lookup(fx->sim, blk, &pi), 0);
	assert_false(pi.dpamt_pair);
	u64 gpas[] = { gx, g2 }, hpas[] = { blk, blk + 0x5000, p0, p1 };

	set_args(pc, TDH_PHYMEM_PAMT_ADD, blk | TDX_PS_2M, p0, p1, 0);
	park_start(pc, fx, TDH_PHYMEM_PAMT_ADD);
	snap_take(fx, &s, gpas, 2, hpas, 4);
	assert_true(s.pi[1].dpamt_pair);

	/* A 4K page of the range: its 4K entry is reached through the held 2MB entry. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gx, TDX_PS_4K, (blk + 0x5000) >> 12, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_R8);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g2, TDX_PS_2M, blk >> 12, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_R8);
	a = (struct tdx_module_args){ .rcx = blk | TDX_PS_2M };
	assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAMT_REMOVE, &a),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	snap_same(fx, &s, gpas, 2, hpas, 4);
	assert_int_equal(s.si[0].state, SEPT_PUBLIC_FREE);
	assert_status(park_finish(pc), TDX_SUCCESS);

	/* spec §2.4: with a pair installed a 2MB AUG of the range is refused. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g2, TDX_PS_2M, blk >> 12, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	a = (struct tdx_module_args){ .rcx = blk | TDX_PS_2M };
	assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAMT_REMOVE, &a), TDX_SUCCESS);
	assert_int_equal(a.rdx, p0);
	assert_int_equal(a.r8, p1);
	assert_int_equal(tdxsim_page_free(fx->sim, p0, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, p1, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, blk, TDX_PS_2M), 0);
}

/*
 * Static PAMT (pamt_manager.c pamt_walk()): a walk to a 4K entry holds the
 * 1GB and 2MB entries above it shared until the unwalk, so a 2MB AUG of the
 * range, which must take the 2MB entry exclusive, collides with a 4K
 * operation inside the range, and the other way round.
 */
static void test_static_4k_walk_vs_aug_2m(void **state)
{
	struct fixture *fx = *state;
	u64 g2 = GPA_2M(1), blk, e1 = ~0ULL, e2 = ~0ULL;
	struct tdxsim_sept_info si;
	struct parked_call *pc = &park_slot;
	struct snap s;

	fx_map_sept(fx, g2, TDX_PS_2M);
	blk = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(blk != 0);
	u64 gpas[] = { g2 }, hpas[] = { blk, blk + 0x3000 };

	/* A: WBINVD of a free page of the range, parked holding its walk. */
	set_args(pc, TDH_PHYMEM_PAGE_WBINVD, blk + 0x3000, 0, 0, 0);
	park_start(pc, fx, TDH_PHYMEM_PAGE_WBINVD);
	snap_take(fx, &s, gpas, 1, hpas, 2);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g2, TDX_PS_2M, blk >> 12, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_R8);
	snap_same(fx, &s, gpas, 1, hpas, 2);
	assert_int_equal(s.si[0].state, SEPT_PUBLIC_FREE);
	assert_int_equal(s.pi[0].pt, PT_NDA);
	assert_status(park_finish(pc), TDX_SUCCESS);

	/* A gone: the same AUG goes through. */
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g2, TDX_PS_2M, blk >> 12, &e1, &e2),
		      TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, g2, TDX_PS_2M, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
}

/*
 * ... and a 2MB AUG parked once it holds the range's 2MB entry exclusive,
 * before it commits (the entry still PT_NDA): a 4K walk inside loses.
 */
static void test_static_aug_2m_vs_4k_walk(void **state)
{
	struct fixture *fx = *state;
	u64 g2 = GPA_2M(1), blk;
	struct tdx_module_args a;
	struct parked_call *pc = &park_slot;

	fx_map_sept(fx, g2, TDX_PS_2M);
	blk = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(blk != 0);

	set_args(pc, TDH_MEM_PAGE_AUG, g2 | TDX_PS_2M, fx->td->tdr_pa, blk, 0);
	park_start_at(pc, fx, TDH_MEM_PAGE_AUG, TDX_PS_2M);
	assert_int_equal(pamt_entry_at(fx->sim, blk, TDX_PS_2M)->pt, PT_NDA);
	a = (struct tdx_module_args){ .rcx = blk + 0x7000 };
	assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAGE_WBINVD, &a),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	a = (struct tdx_module_args){ .rcx = blk + 0x7000 };
	assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAGE_RECLAIM, &a),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_status(park_finish(pc), TDX_SUCCESS);

	/* The range is the TD's 2MB page now: its 4K pieces are not free. */
	a = (struct tdx_module_args){ .rcx = blk + 0x7000 };
	assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAGE_WBINVD, &a),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_RCX);
}

/*
 * REMOVE locks its page's PAMT entry implicitly (tdh_mem_page_remove.c,
 * pamt_implicit_get_and_lock()): no walk, the 2MB entry above it not held.
 * With static PAMT a 2MB AUG of the range meanwhile gets past the 2MB lock
 * and finds the range not free.
 */
static void test_static_remove_holds_no_parent(void **state)
{
	struct fixture *fx = *state;
	u64 g4 = GPA_2M(2), g2 = GPA_2M(1), blk, e1 = ~0ULL, e2 = ~0ULL;
	struct tdx_module_args a;
	struct parked_call *pc = &park_slot;

	fx_map_sept(fx, g4, TDX_PS_4K);
	fx_map_sept(fx, g2, TDX_PS_2M);
	blk = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(blk != 0);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g4, TDX_PS_4K, (blk + 0x1000) >> 12,
					      &e1, &e2), TDX_SUCCESS);
	fx_block_track(fx, g4, TDX_PS_4K);

	set_args(pc, TDH_MEM_PAGE_REMOVE, g4 | TDX_PS_4K, fx->td->tdr_pa, 0, 0);
	park_start_at(pc, fx, TDH_MEM_PAGE_REMOVE, TDX_PS_4K);
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, g2, TDX_PS_2M, blk >> 12, &e1, &e2),
		      TDX_PAGE_METADATA_INCORRECT | TDX_OPERAND_ID_R8);
	/* A 4K walk to the page itself still meets REMOVE's lock. */
	a = (struct tdx_module_args){ .rcx = blk + 0x1000 };
	assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAGE_RECLAIM, &a),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_status(park_finish(pc), TDX_SUCCESS);

	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, blk + 0x1000),
		      TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, blk, TDX_PS_2M), 0);
}

/*
 * Dynamic PAMT: the one place tdxsim holds more than the module.  REMOVE's
 * implicit 4K lock lives in the range's pair pages, so tdxsim holds the 2MB
 * entry shared with it and a PAMT.REMOVE of the range meanwhile answers
 * BUSY|RCX (the module would read the 4K entries and answer
 * PAMT_PAGE_NOT_EMPTY, or free the pages under REMOVE's lock).
 */
static void test_dpamt_remove_holds_range(void **state)
{
	struct fixture *fx = *state;
	u64 g4 = GPA_2M(2), page;
	struct tdx_module_args a;
	struct parked_call *pc = &park_slot;

	page = fx_aug(fx, g4, TDX_PS_4K);
	fx_block_track(fx, g4, TDX_PS_4K);

	set_args(pc, TDH_MEM_PAGE_REMOVE, g4 | TDX_PS_4K, fx->td->tdr_pa, 0, 0);
	park_start_at(pc, fx, TDH_MEM_PAGE_REMOVE, TDX_PS_4K);
	a = (struct tdx_module_args){ .rcx = (page & ~0x1FFFFFULL) | TDX_PS_2M };
	assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAMT_REMOVE, &a),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_status(park_finish(pc), TDX_SUCCESS);
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, page),
		      TDX_SUCCESS);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);
}

/* spec §2.12/§2.13: AUG holds its page's PAMT entry; RECLAIM and WBINVD of it lose. */
static void test_aug_holds_page_pamt(void **state)
{
	struct fixture *fx = *state;
	u64 gy = GPA_2M(0) + 0x1000, page, pt = ~0ULL, owner = ~0ULL, size = ~0ULL;
	struct tdx_module_args a;
	struct parked_call *pc = &park_slot;
	struct snap s;

	fx_map_sept(fx, gy, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	u64 gpas[] = { gy }, hpas[] = { page };

	set_args(pc, TDH_MEM_PAGE_AUG, gy | TDX_PS_4K, fx->td->tdr_pa, page, 0);
	park_start(pc, fx, TDH_MEM_PAGE_AUG);
	snap_take(fx, &s, gpas, 1, hpas, 1);
	assert_int_equal(s.pi[0].pt, PT_REG);

	assert_status(tdxsim_tdh_phymem_page_reclaim(fx->sim, page, &pt, &owner, &size),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	/* RECLAIM clears its outputs before the lock. */
	assert_int_equal(pt, 0);
	assert_int_equal(owner, 0);
	assert_int_equal(size, 0);
	assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, fx->td->hkid, page),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	/* AUG holds the range's 2MB entry shared: PAMT.REMOVE wants it exclusive. */
	a = (struct tdx_module_args){ .rcx = (page & ~(SZ_2M - 1)) | TDX_PS_2M };
	assert_status(tdxsim_seamcall(fx->sim, TDH_PHYMEM_PAMT_REMOVE, &a),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	snap_same(fx, &s, gpas, 1, hpas, 1);
	assert_status(park_finish(pc), TDX_SUCCESS);

	/* Unlocked, RECLAIM gets to its real check: the TD is not torn down. */
	assert_status(tdxsim_tdh_phymem_page_reclaim(fx->sim, page, &pt, &owner, &size),
		      TDX_LIFECYCLE_STATE_INCORRECT);
	assert_int_equal(pt, PT_REG);
	assert_int_equal(owner, fx->td->tdr_pa);
	assert_int_equal(size, TDX_PS_4K);
}

static int setup_initialized_vcpu(void **state)
{
	struct fixture *fx;
	u64 st;

	if (fx_setup_initialized(state))
		return -1;
	fx = *state;
	fx->vcpu = tdxsim_vcpu_create(fx->td, &st);
	return fx->vcpu ? 0 : -1;
}

/* mgmt.md / §2.1 step 3: MR.FINALIZE takes the TDR exclusive. */
static void test_finalize_holds_tdr(void **state)
{
	struct fixture *fx = *state;
	struct td *td = fx_td(fx);
	struct parked_call *pc = &park_slot;
	u64 epoch = tdxsim_td_epoch(fx->sim, fx->td);

	set_args(pc, TDH_MR_FINALIZE, fx->td->tdr_pa, 0, 0, 0);
	park_start(pc, fx, TDH_MR_FINALIZE);
	assert_int_equal(td->op_state, OP_STATE_RUNNABLE);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	/* VP.ENTER reaches the TDR through the TDVPR: operand id TDR. */
	assert_status(tdxsim_vcpu_enter(fx->vcpu), TDX_OPERAND_BUSY | TDX_OPERAND_ID_TDR);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), epoch);
	assert_status(park_finish(pc), TDX_SUCCESS);

	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), epoch + 1);
}

/*
 * spec §2.16, §2.1 step 10: a guest ACCEPT holds the entry lock; the host
 * loses with BUSY|RCX and sets the host-priority bit, so the guest's next
 * attempts lose too until a host call takes the lock once.
 */
static void test_accept_holds_entry_lock(void **state)
{
	struct fixture *fx = *state;
	u64 gx = GPA_2M(0), hpa, e1 = ~0ULL, e2 = ~0ULL, exp_rdx;
	struct tdxsim_td_exit ex;
	struct parked_call *pc = &park_slot;
	struct snap s;

	hpa = fx_aug(fx, gx, TDX_PS_4K);
	fx_enter(fx);
	u64 gpas[] = { gx }, hpas[] = { hpa };

	set_args(pc, TDG_MEM_PAGE_ACCEPT, gx | TDX_PS_4K, 0, 0, 0);
	pc->vcpu = fx->vcpu;
	park_start(pc, fx, TDG_MEM_PAGE_ACCEPT | PARK_TDCALL);
	snap_take(fx, &s, gpas, 1, hpas, 1);
	assert_int_equal(s.si[0].state, SEPT_PUBLIC_MAPPED);
	exp_rdx = TDX_PS_4K | (SEPT_PUBLIC_MAPPED << TDX_SEPT_INFO_STATE_SHIFT);

	assert_status(tdxsim_tdh_mem_range_block(fx->td, gx, TDX_PS_4K, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_int_equal(e1, s.si[0].entry);
	assert_int_equal(e1 & SEPT_ARCH_PFN_MASK, hpa);
	assert_int_equal(e2, exp_rdx);
	assert_status(tdxsim_tdh_mem_page_remove(fx->td, gx, TDX_PS_4K, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_int_equal(e1, s.si[0].entry);
	assert_int_equal(e2, exp_rdx);
	snap_same(fx, &s, gpas, 1, hpas, 1);
	assert_status(park_finish(pc), TDX_SUCCESS);

	/* Host priority: without it these would be TDX_PAGE_ALREADY_ACCEPTED. */
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gx, TDX_PS_4K),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gx, TDX_PS_4K),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	snap_same(fx, &s, gpas, 1, hpas, 1);

	/* The host wins once (clearing the bit); the guest then gets the lock. */
	assert_status(tdxsim_tdh_mem_range_block(fx->td, gx, TDX_PS_4K, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gx, TDX_PS_4K),
			 TDXSIM_TDCALL_TD_EXIT);
	tdxsim_vcpu_last_exit(fx->vcpu, &ex);
	assert_int_equal(ex.exit_reason, EXIT_REASON_EPT_VIOLATION);
	assert_int_equal(ex.ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK,
			 TDX_EXT_EXIT_QUAL_TYPE_ACCEPT);
	assert_false(tdxsim_vcpu_in_guest(fx->vcpu));
}

/* spec §2.1 step 5: the op_state lock taken exclusive (same thread, by hand). */
static void test_op_state_lock_held(void **state)
{
	struct fixture *fx = *state;
	struct td *td = fx_td(fx);
	u64 gy = GPA_2M(0) + 0x1000, page, e1 = ~0ULL, e2 = ~0ULL;
	struct tdxsim_sept_info si;
	struct snap s;

	fx_map_sept(fx, gy, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	u64 gpas[] = { gy }, hpas[] = { page };

	snap_take(fx, &s, gpas, 1, hpas, 1);
	assert_true(sharex_try_lock(&td->op_state_lock, TDX_LOCK_EXCLUSIVE));
	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gy, TDX_PS_4K, page >> 12, &e1, &e2),
		      TDX_OPERAND_BUSY | TDX_OPERAND_ID_OP_STATE);
	assert_int_equal(e1, 0);
	assert_int_equal(e2, 0);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_OPERAND_BUSY | TDX_OPERAND_ID_OP_STATE);
	sharex_unlock(&td->op_state_lock, TDX_LOCK_EXCLUSIVE);
	snap_same(fx, &s, gpas, 1, hpas, 1);

	assert_status(tdxsim_tdh_mem_page_aug(fx->td, gy, TDX_PS_4K, page >> 12, &e1, &e2), TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gy, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
}

/* ------------------------------------------------------------------------
 * Stress: threads sharing one TD, each with its own GPA ranges and host blocks.
 */
#define ST_MAX_THREADS		4
#define ST_NR_G			4	/* GPA 2MB ranges per thread */
#define ST_NR_B			6	/* host 2MB blocks per thread */
#define ST_OPS			3000
#define ST_OPS_VALGRIND		600
#define ST_RETRIES		1000000L
#define ST_SMALL_CAP		12	/* AUG4K fills a range up to this many pages */
#define ST_DRAIN		64	/* 4K REMOVEs per op in a demoted range */

enum st_bmode { B_NONE, B_IDLE, B_HUGE, B_SMALL };
enum st_gkind { G_NONE, G_HUGE, G_SMALL };
enum st_estate { E_FREE, E_PENDING, E_MAPPED };

/* A host 2MB block the thread got from tdxsim_page_alloc(TDX_PS_2M). */
struct st_block {
	u64 hpa;		/* 0 while B_NONE */
	enum st_bmode mode;	/* IDLE: no pair, unused; HUGE: a 2MB guest page */
	u64 pair[2];		/* B_SMALL: the range's Dynamic-PAMT pair */
	u8 used[PAGES_PER_2M];	/* B_SMALL: 4K page owned by the module */
	unsigned int nused;	/* == the module's DPAMT page count of the range */
};

/* A GPA 2MB range the thread owns. */
struct st_grange {
	u64 gpa;
	enum st_gkind kind;
	int blk;		/* G_HUGE: block index */
	u8 hstate;		/* G_HUGE: E_PENDING or E_MAPPED */
	u64 sept;		/* G_SMALL: the 4K table's S-EPT page */
	u64 hpa[PAGES_PER_2M];
	u8 st[PAGES_PER_2M];
	unsigned int n;		/* G_SMALL: entries not FREE */
};

enum st_op {
	OP_AUG4K, OP_AUG2M, OP_ACCEPT, OP_REMOVE, OP_DEMOTE, OP_PROMOTE,
	OP_PAMT_ADD, OP_PAMT_REMOVE, OP_NR,
};

static const unsigned int st_weight[OP_NR] = {
	[OP_AUG4K] = 26, [OP_AUG2M] = 10, [OP_ACCEPT] = 20, [OP_REMOVE] = 20,
	[OP_DEMOTE] = 8, [OP_PROMOTE] = 8, [OP_PAMT_ADD] = 4, [OP_PAMT_REMOVE] = 4,
};

struct st_thread {
	struct fixture *fx;
	struct tdxsim_vcpu *vcpu;
	pthread_barrier_t *start;
	unsigned int cpu;
	u64 rng;
	unsigned int nr_ops;
	u64 busy, calls, done[OP_NR];
	struct st_block b[ST_NR_B];
	struct st_grange g[ST_NR_G];
	char err[256];
	pthread_t thr;
};

static struct tdxsim_vcpu *stress_vcpus[ST_MAX_THREADS];
/* Static: a failed assert leaves nothing to leak. */
static struct st_thread st_threads[ST_MAX_THREADS];

/* xorshift64: the op sequence of a thread depends on its seed only. */
static u64 st_rand(struct st_thread *t)
{
	u64 x = t->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return t->rng = x;
}

/* Threads must not use cmocka asserts: the first failure is kept in t->err. */
static int st_fail(struct st_thread *t, const char *what, u64 st)
{
	char b[64];

	if (!t->err[0])
		snprintf(t->err, sizeof(t->err), "thread on CPU %u: %s: %s (%#llx)", t->cpu, what,
			 tdxsim_status_name(st, b, sizeof(b)), (unsigned long long)st);
	return -1;
}

/* Lost a race (BUSY), or waits for another thread's vCPU to leave its epoch. */
static bool st_retryable(u64 st)
{
	return IS_TDX_OPERAND_BUSY(st) || st == TDX_PREVIOUS_TLB_EPOCH_BUSY ||
	       TDX_STATUS(st) == TDX_TLB_TRACKING_NOT_DONE;
}

static u64 st_seamcall(struct st_thread *t, u64 leaf, const struct tdx_module_args *in,
		       struct tdx_module_args *out)
{
	u64 st = TDX_SUCCESS;

	for (long i = 0; i < ST_RETRIES; i++) {
		*out = *in;
		st = tdxsim_seamcall(t->fx->sim, leaf, out);
		t->calls++;
		if (!st_retryable(st))
			break;
		if (IS_TDX_OPERAND_BUSY(st))
			t->busy++;
		sched_yield();
	}
	return st;
}

/* A call that must succeed (after retries). */
static int st_ok(struct st_thread *t, u64 leaf, u64 rcx, u64 rdx, u64 r8,
		 struct tdx_module_args *out)
{
	struct tdx_module_args in = { .rcx = rcx, .rdx = rdx, .r8 = r8 };
	u64 st = st_seamcall(t, leaf, &in, out);

	return st ? st_fail(t, tdxsim_leaf_name((unsigned int)leaf), st) : 0;
}

static u64 st_tdr(struct st_thread *t)
{
	return t->fx->td->tdr_pa;
}

/* spec §2.5/§2.6: BLOCK, then TRACK (KVM's tdx_track() minus the kick). */
static int st_block_track(struct st_thread *t, u64 gpa, int level)
{
	struct tdx_module_args out;

	if (st_ok(t, TDH_MEM_RANGE_BLOCK, gpa | (u64)level, st_tdr(t), 0, &out) ||
	    st_ok(t, TDH_MEM_TRACK, st_tdr(t), 0, 0, &out))
		return -1;
	return 0;
}

/* spec §2.12: pages the TD wrote are WBINVD'ed with its key before reuse. */
static int st_wbinvd(struct st_thread *t, u64 pa, unsigned int npages)
{
	struct tdxsim *sim = t->fx->sim;
	struct tdx_module_args out;

	for (unsigned int i = 0; i < npages; i++) {
		u64 keyed = tdxsim_mk_keyed_paddr(sim, t->fx->td->hkid, pa + i * TDX_PAGE_SIZE);

		if (st_ok(t, TDH_PHYMEM_PAGE_WBINVD, keyed, 0, 0, &out))
			return -1;
	}
	return 0;
}

static int st_block_of(struct st_thread *t, u64 pa)
{
	for (int i = 0; i < ST_NR_B; i++) {
		if (t->b[i].mode != B_NONE && pa - t->b[i].hpa < SZ_2M)
			return i;
	}
	return -1;
}

/* spec §2.14: install a pair on block @i (allocating the block if needed). */
static int st_pamt_add(struct st_thread *t, int i)
{
	struct tdxsim *sim = t->fx->sim;
	struct st_block *b = &t->b[i];
	struct tdx_module_args in, out;
	u64 st;

	if (b->mode == B_NONE) {
		b->hpa = tdxsim_page_alloc(sim, TDX_PS_2M);
		if (!b->hpa)
			return st_fail(t, "host 2MB allocation", TDX_SW_ERROR);
		b->mode = B_IDLE;
	}
	b->pair[0] = tdxsim_page_alloc(sim, TDX_PS_4K);
	b->pair[1] = tdxsim_page_alloc(sim, TDX_PS_4K);
	if (!b->pair[0] || !b->pair[1])
		return st_fail(t, "host 4K allocation", TDX_SW_ERROR);
	in = (struct tdx_module_args){ .rcx = b->hpa | TDX_PS_2M, .rdx = b->pair[0],
				       .r8 = b->pair[1] };
	st = st_seamcall(t, TDH_PHYMEM_PAMT_ADD, &in, &out);
	if (st)
		return st_fail(t, "PAMT.ADD", st);
	b->mode = B_SMALL;
	b->nused = 0;
	memset(b->used, 0, sizeof(b->used));
	return 1;
}

/* spec §2.15: remove the pair of an empty block; the pages go back to the host. */
static int st_pamt_remove(struct st_thread *t, int i, bool may_free_block)
{
	struct tdxsim *sim = t->fx->sim;
	struct st_block *b = &t->b[i];
	struct tdx_module_args out;

	if (st_ok(t, TDH_PHYMEM_PAMT_REMOVE, b->hpa | TDX_PS_2M, 0, 0, &out))
		return -1;
	if (out.rdx != b->pair[0] || out.r8 != b->pair[1])
		return st_fail(t, "PAMT.REMOVE returned another pair", out.rdx);
	if (tdxsim_page_free(sim, b->pair[0], TDX_PS_4K) ||
	    tdxsim_page_free(sim, b->pair[1], TDX_PS_4K))
		return st_fail(t, "free of a PAMT page", TDX_SW_ERROR);
	b->pair[0] = b->pair[1] = 0;
	b->mode = B_IDLE;
	if (may_free_block && st_rand(t) & 1) {
		if (tdxsim_page_free(sim, b->hpa, TDX_PS_2M))
			return st_fail(t, "free of a 2MB block", TDX_SW_ERROR);
		b->hpa = 0;
		b->mode = B_NONE;
	}
	return 1;
}

/* A 4K page for the module from a paired block; 0: none left (skip the op). */
static int st_take_4k(struct st_thread *t, u64 *pa)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < ST_NR_B; i++) {
			struct st_block *b = &t->b[i];

			if (b->mode != B_SMALL || b->nused == PAGES_PER_2M)
				continue;
			for (unsigned int j = 0; j < PAGES_PER_2M; j++) {
				if (b->used[j])
					continue;
				b->used[j] = 1;
				b->nused++;
				*pa = b->hpa + j * TDX_PAGE_SIZE;
				return 1;
			}
		}
		/* No room: give a pair to an unused block. */
		for (int i = 0; pass == 0 && i < ST_NR_B; i++) {
			if (t->b[i].mode == B_NONE || t->b[i].mode == B_IDLE) {
				if (st_pamt_add(t, i) < 0)
					return -1;
				break;
			}
		}
	}
	return 0;
}

/* Return a 4K page to its block; the module's DPAMT count follows nused. */
static unsigned int st_put_4k(struct st_thread *t, u64 pa)
{
	struct st_block *b = &t->b[st_block_of(t, pa)];

	b->used[(pa - b->hpa) >> TDX_PAGE_SHIFT] = 0;
	return --b->nused;
}

/* spec §2.10 + hint (§4.5): a removed 4K page whose range became empty carries the hint. */
static int st_check_hint(struct st_thread *t, const char *what, u64 rcx, u64 pa,
			 unsigned int left)
{
	if ((rcx & ~TDX_PAMT_REMOVAL_HINT) != pa)
		return st_fail(t, what, rcx);
	if (!!(rcx & TDX_PAMT_REMOVAL_HINT) != (left == 0))
		return st_fail(t, "PAMT removal hint disagrees with the page count", rcx);
	return 0;
}

static int st_remove_4k(struct st_thread *t, struct st_grange *g, unsigned int i)
{
	u64 gpa = g->gpa + i * TDX_PAGE_SIZE;
	struct tdx_module_args out;

	if (st_block_track(t, gpa, TDX_PS_4K) ||
	    st_ok(t, TDH_MEM_PAGE_REMOVE, gpa | TDX_PS_4K, st_tdr(t), 0, &out) ||
	    st_wbinvd(t, g->hpa[i], 1) ||
	    st_check_hint(t, "REMOVE returned another page", out.rcx, g->hpa[i],
			  st_put_4k(t, g->hpa[i])))
		return -1;
	g->st[i] = E_FREE;
	g->n--;
	return 1;
}

/* spec §2.11: an empty 4K table goes: BLOCK the NL entry, TRACK, SEPT.REMOVE. */
static int st_remove_table(struct st_thread *t, struct st_grange *g)
{
	struct tdx_module_args out;

	if (st_block_track(t, g->gpa, TDX_PS_2M) ||
	    st_ok(t, TDH_MEM_SEPT_REMOVE, g->gpa | TDX_PS_2M, st_tdr(t), 0, &out) ||
	    st_wbinvd(t, g->sept, 1) ||
	    st_check_hint(t, "SEPT.REMOVE returned another page", out.rcx, g->sept,
			  st_put_4k(t, g->sept)))
		return -1;
	g->kind = G_NONE;
	return 1;
}

static int st_remove_huge(struct st_thread *t, struct st_grange *g)
{
	struct st_block *b = &t->b[g->blk];
	struct tdx_module_args out;

	if (st_block_track(t, g->gpa, TDX_PS_2M) ||
	    st_ok(t, TDH_MEM_PAGE_REMOVE, g->gpa | TDX_PS_2M, st_tdr(t), 0, &out) ||
	    st_wbinvd(t, b->hpa, PAGES_PER_2M))
		return -1;
	if (out.rcx != b->hpa)
		return st_fail(t, "2MB REMOVE returned another page", out.rcx);
	b->mode = B_IDLE;
	g->kind = G_NONE;
	return 1;
}

static int op_aug4k(struct st_thread *t, struct st_grange *g)
{
	struct tdx_module_args out;
	unsigned int i;
	u64 pa;
	int r;

	/* Fill 4K tables already there first: empty ranges are for AUG 2MB. */
	for (int j = 0; g->kind == G_NONE && j < ST_NR_G; j++) {
		if (t->g[j].kind == G_SMALL && t->g[j].n < ST_SMALL_CAP)
			g = &t->g[j];
	}
	/* A few 4K pages per range, so ranges empty again and 2MB ops get their turn. */
	if (g->kind == G_HUGE || (g->kind == G_SMALL && g->n >= ST_SMALL_CAP))
		return 0;
	if (g->kind == G_NONE) {
		r = st_take_4k(t, &pa);
		if (r <= 0)
			return r;
		if (st_ok(t, TDH_MEM_SEPT_ADD, g->gpa | TDX_PS_2M, st_tdr(t), pa, &out))
			return -1;
		g->kind = G_SMALL;
		g->sept = pa;
		g->n = 0;
		memset(g->st, E_FREE, sizeof(g->st));
	}
	for (i = st_rand(t) % PAGES_PER_2M; g->st[i] != E_FREE; i = (i + 1) % PAGES_PER_2M)
		;
	r = st_take_4k(t, &pa);
	if (r <= 0)
		return r;
	if (st_ok(t, TDH_MEM_PAGE_AUG, (g->gpa + i * TDX_PAGE_SIZE) | TDX_PS_4K, st_tdr(t), pa,
		  &out))
		return -1;
	g->hpa[i] = pa;
	g->st[i] = E_PENDING;
	g->n++;
	return 1;
}

static int op_aug2m(struct st_thread *t, struct st_grange *g)
{
	struct tdx_module_args out;
	int i;

	for (int j = 0; g->kind != G_NONE && j < ST_NR_G; j++)
		g = &t->g[j];
	if (g->kind != G_NONE)
		return 0;
	for (i = 0; i < ST_NR_B; i++) {
		if (t->b[i].mode == B_IDLE)
			break;
	}
	for (int j = 0; i == ST_NR_B && j < ST_NR_B; j++) {
		if (t->b[j].mode == B_NONE) {
			t->b[j].hpa = tdxsim_page_alloc(t->fx->sim, TDX_PS_2M);
			if (!t->b[j].hpa)
				return st_fail(t, "host 2MB allocation", TDX_SW_ERROR);
			t->b[j].mode = B_IDLE;
			i = j;
		}
	}
	if (i == ST_NR_B)
		return 0;
	if (st_ok(t, TDH_MEM_PAGE_AUG, g->gpa | TDX_PS_2M, st_tdr(t), t->b[i].hpa, &out))
		return -1;
	t->b[i].mode = B_HUGE;
	g->kind = G_HUGE;
	g->blk = i;
	g->hstate = E_PENDING;
	return 1;
}

/* spec §2.16: enter the thread's vCPU, ACCEPT, leave. */
static int st_accept(struct st_thread *t, u64 gpa, int level)
{
	u64 st = TDX_SUCCESS;

	for (long i = 0; i < ST_RETRIES; i++) {
		st = tdxsim_vcpu_enter(t->vcpu);
		t->calls++;
		if (!st) {
			st = tdxsim_tdg_mem_page_accept(t->fx->sim, t->vcpu->tdvpr_pa, gpa, level);
			tdxsim_vcpu_exit(t->vcpu);
		}
		if (!IS_TDX_OPERAND_BUSY(st))
			break;
		t->busy++;
		sched_yield();
	}
	return st ? st_fail(t, "ACCEPT", st) : 0;
}

static int op_accept(struct st_thread *t, struct st_grange *g)
{
	unsigned int i, start;

	if (g->kind == G_HUGE && g->hstate == E_PENDING) {
		if (st_accept(t, g->gpa, TDX_PS_2M))
			return -1;
		g->hstate = E_MAPPED;
		return 1;
	}
	if (g->kind != G_SMALL)
		return 0;
	start = st_rand(t) % PAGES_PER_2M;
	for (unsigned int k = 0; k < PAGES_PER_2M; k++) {
		i = (start + k) % PAGES_PER_2M;
		if (g->st[i] != E_PENDING)
			continue;
		if (st_accept(t, g->gpa + i * TDX_PAGE_SIZE, TDX_PS_4K))
			return -1;
		g->st[i] = E_MAPPED;
		return 1;
	}
	return 0;
}

static int op_remove(struct st_thread *t, struct st_grange *g)
{
	unsigned int i;

	if (g->kind == G_HUGE)
		return st_remove_huge(t, g);
	if (g->kind != G_SMALL)
		return 0;
	if (!g->n)
		return st_remove_table(t, g);
	/* A demoted range holds 512 pages: drain it in batches. */
	for (unsigned int k = 0; k < (g->n > ST_SMALL_CAP ? ST_DRAIN : 1); k++) {
		for (i = st_rand(t) % PAGES_PER_2M; g->st[i] == E_FREE;
		     i = (i + 1) % PAGES_PER_2M)
			;
		if (st_remove_4k(t, g, i) < 0)
			return -1;
	}
	return 1;
}

/* spec §2.8: split a 2MB page; the block gets the pair and 512 module pages. */
static int op_demote(struct st_thread *t, struct st_grange *g)
{
	struct tdx_module_args in, out;
	struct st_block *b;
	u64 sept, pair[2], st;
	int r;

	if (g->kind != G_HUGE)
		return 0;
	r = st_take_4k(t, &sept);
	if (r <= 0)
		return r;
	b = &t->b[g->blk];
	pair[0] = tdxsim_page_alloc(t->fx->sim, TDX_PS_4K);
	pair[1] = tdxsim_page_alloc(t->fx->sim, TDX_PS_4K);
	if (!pair[0] || !pair[1])
		return st_fail(t, "host 4K allocation", TDX_SW_ERROR);
	if (st_block_track(t, g->gpa, TDX_PS_2M))
		return -1;
	in = (struct tdx_module_args){ .rcx = g->gpa | TDX_PS_2M, .rdx = st_tdr(t), .r8 = sept,
				       .r12 = pair[0], .r13 = pair[1] };
	st = st_seamcall(t, TDH_MEM_PAGE_DEMOTE, &in, &out);
	if (st)
		return st_fail(t, "DEMOTE", st);
	b->mode = B_SMALL;
	b->pair[0] = pair[0];
	b->pair[1] = pair[1];
	memset(b->used, 1, sizeof(b->used));
	b->nused = PAGES_PER_2M;
	g->kind = G_SMALL;
	g->sept = sept;
	g->n = PAGES_PER_2M;
	for (unsigned int i = 0; i < PAGES_PER_2M; i++) {
		g->hpa[i] = b->hpa + i * TDX_PAGE_SIZE;
		g->st[i] = g->hstate;
	}
	return 1;
}

/* spec §2.9: merge back a range whose 512 entries map one block uniformly. */
static int op_promote(struct st_thread *t, struct st_grange *g)
{
	struct tdx_module_args out;
	struct st_block *b;
	int bi;

	if (g->kind != G_SMALL || g->n != PAGES_PER_2M || g->hpa[0] & (SZ_2M - 1))
		return 0;
	for (unsigned int i = 1; i < PAGES_PER_2M; i++) {
		if (g->st[i] != g->st[0] || g->hpa[i] != g->hpa[0] + i * TDX_PAGE_SIZE)
			return 0;
	}
	bi = st_block_of(t, g->hpa[0]);
	b = &t->b[bi];
	if (st_block_track(t, g->gpa, TDX_PS_2M) ||
	    st_ok(t, TDH_MEM_PAGE_PROMOTE, g->gpa | TDX_PS_2M, st_tdr(t), 0, &out) ||
	    st_wbinvd(t, g->sept, 1) ||
	    st_check_hint(t, "PROMOTE returned another S-EPT page", out.rcx, g->sept,
			  st_put_4k(t, g->sept)))
		return -1;
	if (out.r12 != b->pair[0] || out.r13 != b->pair[1])
		return st_fail(t, "PROMOTE returned another pair", out.r12);
	if (tdxsim_page_free(t->fx->sim, b->pair[0], TDX_PS_4K) ||
	    tdxsim_page_free(t->fx->sim, b->pair[1], TDX_PS_4K))
		return st_fail(t, "free of a PAMT page", TDX_SW_ERROR);
	b->mode = B_HUGE;
	b->nused = 0;
	memset(b->used, 0, sizeof(b->used));
	b->pair[0] = b->pair[1] = 0;
	g->kind = G_HUGE;
	g->blk = bi;
	g->hstate = g->st[0];
	return 1;
}

static int st_do(struct st_thread *t, enum st_op op)
{
	struct st_grange *g = &t->g[st_rand(t) % ST_NR_G];
	int bi = (int)(st_rand(t) % ST_NR_B);

	switch (op) {
	case OP_AUG4K:
		return op_aug4k(t, g);
	case OP_AUG2M:
		return op_aug2m(t, g);
	case OP_ACCEPT:
		return op_accept(t, g);
	case OP_REMOVE:
		return op_remove(t, g);
	case OP_DEMOTE:
		return op_demote(t, g);
	case OP_PROMOTE:
		return op_promote(t, g);
	case OP_PAMT_ADD:
		if (t->b[bi].mode != B_NONE && t->b[bi].mode != B_IDLE)
			return 0;
		return st_pamt_add(t, bi);
	case OP_PAMT_REMOVE:
		if (t->b[bi].mode != B_SMALL || t->b[bi].nused)
			return 0;
		return st_pamt_remove(t, bi, true);
	default:
		return 0;
	}
}

static enum st_op st_pick(struct st_thread *t)
{
	unsigned int total = 0, r;

	for (int op = 0; op < OP_NR; op++)
		total += st_weight[op];
	r = (unsigned int)(st_rand(t) % total);
	for (int op = 0; op < OP_NR; op++) {
		if (r < st_weight[op])
			return (enum st_op)op;
		r -= st_weight[op];
	}
	return OP_AUG4K;
}

static void *st_thread_fn(void *arg)
{
	struct st_thread *t = arg;

	tdxsim_cpu_bind(t->fx->sim, t->cpu);
	pthread_barrier_wait(t->start);
	for (unsigned int n = 0; n < t->nr_ops && !t->err[0]; n++) {
		enum st_op op = st_pick(t);
		int r = st_do(t, op);

		if (r > 0)
			t->done[op]++;
	}
	return NULL;
}

/* Single-threaded: give everything back (same paths, no contention left). */
static void st_cleanup(struct st_thread *t)
{
	for (int j = 0; j < ST_NR_G; j++) {
		struct st_grange *g = &t->g[j];

		if (g->kind == G_HUGE)
			st_remove_huge(t, g);
		for (unsigned int i = 0; g->kind == G_SMALL && i < PAGES_PER_2M; i++) {
			if (g->st[i] != E_FREE && st_remove_4k(t, g, i) < 0)
				break;
		}
		if (g->kind == G_SMALL && !t->err[0])
			st_remove_table(t, g);
	}
	for (int i = 0; i < ST_NR_B && !t->err[0]; i++) {
		struct st_block *b = &t->b[i];

		if (b->mode == B_SMALL && b->nused)
			st_fail(t, "cleanup: block still in use", b->nused);
		if (b->mode == B_SMALL)
			st_pamt_remove(t, i, false);
		if (b->mode == B_IDLE && tdxsim_page_free(t->fx->sim, b->hpa, TDX_PS_2M))
			st_fail(t, "cleanup: free of a 2MB block", TDX_SW_ERROR);
		b->mode = B_NONE;
	}
	if (t->err[0])
		fail_msg("%s", t->err);
}

static bool under_valgrind(void)
{
	return getenv("TDXSIM_VALGRIND") || RUNNING_ON_VALGRIND;
}

static void run_stress(struct fixture *fx, unsigned int nthreads, u64 seed)
{
	unsigned int nr_ops = under_valgrind() ? ST_OPS_VALGRIND : ST_OPS;
	struct st_thread *t = st_threads;
	u64 busy = 0, calls = 0, done[OP_NR] = { 0 }, chld0;
	struct tdxsim_report rep;
	pthread_barrier_t start;
	int bad;

	memset(st_threads, 0, sizeof(st_threads));
	/* The upper tables are shared by all threads: build them up front. */
	for (unsigned int i = 0; i < nthreads * ST_NR_G; i++)
		fx_map_sept(fx, GPA_2M(i), TDX_PS_2M);
	chld0 = tdxsim_td_chldcnt(fx->sim, fx->td);
	pthread_barrier_init(&start, NULL, nthreads);
	for (unsigned int i = 0; i < nthreads; i++) {
		t[i].fx = fx;
		t[i].vcpu = stress_vcpus[i];
		t[i].start = &start;
		t[i].cpu = i;
		t[i].rng = (seed + i) * 0x9E3779B97F4A7C15ULL | 1;
		t[i].nr_ops = nr_ops;
		for (int j = 0; j < ST_NR_G; j++)
			t[i].g[j].gpa = GPA_2M(i * ST_NR_G + j);
		assert_int_equal(pthread_create(&t[i].thr, NULL, st_thread_fn, &t[i]), 0);
	}
	for (unsigned int i = 0; i < nthreads; i++)
		pthread_join(t[i].thr, NULL);
	pthread_barrier_destroy(&start);
	for (unsigned int i = 0; i < nthreads; i++) {
		if (t[i].err[0])
			fail_msg("%s", t[i].err);
		busy += t[i].busy;
		calls += t[i].calls;
		for (int op = 0; op < OP_NR; op++)
			done[op] += t[i].done[op];
	}

	/* Quiescent with everything still mapped: every invariant holds. */
	bad = tdxsim_check(fx->sim, &rep);
	if (bad)
		tdxsim_report_print(&rep, stderr);
	assert_int_equal(bad, 0);
	for (int op = 0; op < OP_NR; op++)
		assert_true(done[op] > 0);	/* every kind of op really ran */
	print_message("# %u threads x %u ops: %llu calls, %llu BUSY (aug4k %llu aug2m %llu "
		      "accept %llu remove %llu demote %llu promote %llu pamt.add %llu "
		      "pamt.remove %llu)\n", nthreads, nr_ops, (unsigned long long)calls,
		      (unsigned long long)busy, (unsigned long long)done[OP_AUG4K],
		      (unsigned long long)done[OP_AUG2M], (unsigned long long)done[OP_ACCEPT],
		      (unsigned long long)done[OP_REMOVE], (unsigned long long)done[OP_DEMOTE],
		      (unsigned long long)done[OP_PROMOTE], (unsigned long long)done[OP_PAMT_ADD],
		      (unsigned long long)done[OP_PAMT_REMOVE]);

	for (unsigned int i = 0; i < nthreads; i++)
		st_cleanup(&t[i]);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->td), chld0);
}

/* Four vCPUs, created while INITIALIZED, then RUNNABLE. */
static int setup_stress(void **state)
{
	struct fixture *fx;
	u64 st;

	if (fx_setup_initialized(state))
		return -1;
	fx = *state;
	for (int i = 0; i < ST_MAX_THREADS; i++) {
		stress_vcpus[i] = tdxsim_vcpu_create(fx->td, &st);
		if (!stress_vcpus[i])
			return -1;
	}
	fx->vcpu = stress_vcpus[0];
	return tdxsim_td_finalize(fx->td) ? -1 : 0;
}

static void test_stress_2_threads(void **state)
{
	run_stress(*state, 2, 1);
}

static void test_stress_3_threads(void **state)
{
	run_stress(*state, 3, 2);
}

static void test_stress_4_threads(void **state)
{
	run_stress(*state, 4, 3);
}

/* A failed assert longjmps out of the test with A still parked: let it go first. */
static int park_teardown(void **state)
{
	if (active_park)
		park_finish(active_park);
	return fx_teardown(state);
}

#define T(fn, setup)	cmocka_unit_test_setup_teardown(fn, setup, park_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_block_holds_tree_vs_aug, fx_setup_runnable),
		T(test_aug_holds_tree_vs_block, fx_setup_runnable),
		T(test_aug_vs_aug_same_entry, fx_setup_runnable),
		T(test_page_add_holds_tdr, fx_setup_initialized),
		T(test_track_holds_epoch, fx_setup_runnable),
		T(test_pamt_add_holds_2m_entry, fx_setup_runnable),
		T(test_aug_holds_page_pamt, fx_setup_runnable),
		T(test_static_4k_walk_vs_aug_2m, fx_setup_runnable_nodpamt),
		T(test_static_aug_2m_vs_4k_walk, fx_setup_runnable_nodpamt),
		T(test_static_remove_holds_no_parent, fx_setup_runnable_nodpamt),
		T(test_dpamt_remove_holds_range, fx_setup_runnable),
		T(test_finalize_holds_tdr, setup_initialized_vcpu),
		T(test_accept_holds_entry_lock, fx_setup_runnable),
		T(test_op_state_lock_held, fx_setup_runnable),
		T(test_stress_2_threads, setup_stress),
		T(test_stress_3_threads, setup_stress),
		T(test_stress_4_threads, setup_stress),
	};

	return run_group(tests);
}
