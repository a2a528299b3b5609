// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scheduling hook (include/tdxsim/hook.h), through the public API only:
 * every SEAMCALL and TDCALL is one ENTRY ... EXIT pair with its leaf and
 * final status; the module's try-lock attempts come in between with the lock,
 * operand and address they concern, and a collision shows as a failed attempt
 * on exactly the lock the BUSY status names; no hook, no effect.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define MAX_EVENTS	4096

struct rec_event {
	struct tdxsim_hook_event ev;	/* .args is cleared: it points into a call */
	u64 rcx_at_entry;
	pthread_t thread;
};

struct recorder {
	pthread_mutex_t m;
	unsigned int nr;
	struct rec_event e[MAX_EVENTS];
	/* Park the thread that reaches the exit of this leaf (0: never). */
	unsigned int park_leaf;
	bool parked, release;
	pthread_cond_t cv;
};

static struct recorder *rec_new(void)
{
	struct recorder *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	pthread_mutex_init(&r->m, NULL);
	pthread_cond_init(&r->cv, NULL);
	return r;
}

static void rec_free(struct recorder *r)
{
	pthread_mutex_destroy(&r->m);
	pthread_cond_destroy(&r->cv);
	free(r);
}

static void rec_hook(void *arg, const struct tdxsim_hook_event *ev)
{
	struct recorder *r = arg;

	pthread_mutex_lock(&r->m);
	if (r->nr < MAX_EVENTS) {
		struct rec_event *re = &r->e[r->nr++];

		re->ev = *ev;
		re->ev.args = NULL;
		re->rcx_at_entry = ev->args ? ev->args->rcx : 0;
		re->thread = pthread_self();
	}
	if (ev->point == TDXSIM_HOOK_EXIT && r->park_leaf && ev->leaf == r->park_leaf &&
	    !r->parked) {
		r->parked = true;
		pthread_cond_broadcast(&r->cv);
		while (!r->release)
			pthread_cond_wait(&r->cv, &r->m);
	}
	pthread_mutex_unlock(&r->m);
}

/* The events of call @seq, in order; returns how many. */
static unsigned int rec_call(struct recorder *r, u64 seq, struct rec_event **out,
			     unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < r->nr && n < max; i++) {
		if (r->e[i].ev.seq == seq)
			out[n++] = &r->e[i];
	}
	return n;
}

/*
 * Check call @seq is exactly ENTRY, LOCK*, EXIT with @leaf/@tdcall and
 * @status at the exit; returns the number of lock events.
 */
static unsigned int check_pair(struct recorder *r, u64 seq, unsigned int leaf, bool tdcall,
			       u64 status)
{
	struct rec_event *ev[256] = { NULL };
	unsigned int n = rec_call(r, seq, ev, 256);

	assert_true(n >= 2);
	assert_int_equal(ev[0]->ev.point, TDXSIM_HOOK_ENTRY);
	assert_int_equal(ev[n - 1]->ev.point, TDXSIM_HOOK_EXIT);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(ev[i]->ev.leaf, leaf);
		assert_int_equal(ev[i]->ev.tdcall, tdcall);
		if (i && i < n - 1)
			assert_int_equal(ev[i]->ev.point, TDXSIM_HOOK_LOCK);
	}
	assert_status(ev[n - 1]->ev.status, status);
	return n - 2;
}

/* The lock events of call @seq of kind @lock. */
static struct rec_event *find_lock(struct recorder *r, u64 seq, enum tdxsim_hook_lock lock,
				   unsigned int nth)
{
	for (unsigned int i = 0; i < r->nr; i++) {
		struct rec_event *e = &r->e[i];

		if (e->ev.seq == seq && e->ev.point == TDXSIM_HOOK_LOCK && e->ev.lock == lock &&
		    !nth--)
			return e;
	}
	return NULL;
}

/*
 * Every call made through the public API, successful or not, SEAMCALL or
 * TDCALL, is one pair carrying its leaf and the status the caller got.
 */
static void test_entry_exit_pairs(void **state)
{
	struct fixture *fx = *state;
	struct recorder *r = rec_new();
	u64 gpa = GPA_2M(1), page, st, e1, e2, first;
	struct tdx_module_args a = { 0 };
	struct rec_event *ev;

	fx_map_sept(fx, gpa, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	tdxsim_set_hook(fx->sim, rec_hook, r);
	first = tdxsim_seq(fx->sim) + 1;

	/* A successful AUG, and its lock attempts in the module's order. */
	st = tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, page >> 12, &e1, &e2);
	assert_status(st, TDX_SUCCESS);
	assert_int_equal(tdxsim_seq(fx->sim), first);
	assert_true(check_pair(r, first, TDH_MEM_PAGE_AUG, false, st) >= 5);
	assert_int_equal(r->e[0].rcx_at_entry, gpa | TDX_PS_4K);
	/*
	 * The TDR's PAMT entries (shared, operand RDX) come first: the 1GB and
	 * 2MB entries on the way down (pamt_walk()), then the TDR's own 4K entry.
	 */
	for (int i = 1; i <= 2; i++) {
		ev = &r->e[i];
		assert_int_equal(ev->ev.lock, TDXSIM_HOOK_LOCK_PAMT);
		assert_int_equal(ev->ev.level, i == 1 ? TDX_PS_1G : TDX_PS_2M);
		assert_int_equal(ev->ev.pa, fx->td->tdr_pa & ~(tdx_level_size(ev->ev.level) - 1));
		assert_int_equal(ev->ev.operand, TDX_OPERAND_ID_RDX);
		assert_false(ev->ev.exclusive);
		assert_true(ev->ev.acquired);
	}
	ev = &r->e[3];
	assert_int_equal(ev->ev.lock, TDXSIM_HOOK_LOCK_PAMT);
	assert_int_equal(ev->ev.pa, fx->td->tdr_pa);
	assert_int_equal(ev->ev.level, TDX_PS_4K);
	assert_int_equal(ev->ev.operand, TDX_OPERAND_ID_RDX);
	assert_false(ev->ev.exclusive);
	ev = find_lock(r, first, TDXSIM_HOOK_LOCK_OP_STATE, 0);
	assert_non_null(ev);
	assert_int_equal(ev->ev.pa, fx->td->tdr_pa);
	assert_int_equal(ev->ev.operand, TDX_OPERAND_ID_OP_STATE);
	ev = find_lock(r, first, TDXSIM_HOOK_LOCK_SEPT_TREE, 0);
	assert_non_null(ev);
	assert_int_equal(ev->ev.operand, TDX_OPERAND_ID_SEPT);
	assert_int_equal(ev->ev.gpa, gpa);
	ev = find_lock(r, first, TDXSIM_HOOK_LOCK_SEPT_ENTRY, 0);
	assert_non_null(ev);
	assert_int_equal(ev->ev.gpa, gpa);
	assert_int_equal(ev->ev.level, TDX_PS_4K);
	assert_int_equal(ev->ev.operand, TDX_OPERAND_ID_RCX);
	assert_true(ev->ev.exclusive);
	/* The new page: its 4K PAMT entry exclusive, operand R8. */
	for (unsigned int i = 0; (ev = find_lock(r, first, TDXSIM_HOOK_LOCK_PAMT, i)); i++) {
		if (ev->ev.pa == page)
			break;
	}
	assert_non_null(ev);
	assert_int_equal(ev->ev.level, TDX_PS_4K);
	assert_int_equal(ev->ev.operand, TDX_OPERAND_ID_R8);
	assert_true(ev->ev.exclusive);
	assert_true(ev->ev.acquired);

	/* A failing AUG (entry no longer FREE): the pair carries the failure. */
	st = tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, page >> 12, &e1, &e2);
	assert_true(st != TDX_SUCCESS);
	check_pair(r, first + 1, TDH_MEM_PAGE_AUG, false, st);

	/* An unknown leaf: no check passed, no lock tried. */
	st = tdxsim_seamcall(fx->sim, 0xFF, &a);
	assert_status(st, TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX);
	assert_int_equal(check_pair(r, first + 2, 0xFF, false, st), 0);

	/* TRACK: the epoch lock, exclusive. */
	st = tdxsim_tdh_mem_track(fx->td);
	assert_status(st, TDX_SUCCESS);
	check_pair(r, first + 3, TDH_MEM_TRACK, false, st);
	ev = find_lock(r, first + 3, TDXSIM_HOOK_LOCK_EPOCH, 0);
	assert_non_null(ev);
	assert_true(ev->ev.exclusive);
	assert_int_equal(ev->ev.operand, TDX_OPERAND_ID_TD_EPOCH);

	/* VP.ENTER, then a TDCALL: the guest side of the entry lock. */
	fx_enter(fx);
	check_pair(r, first + 4, TDH_VP_ENTER, false, TDX_SUCCESS);
	st = tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_4K);
	assert_status(st, TDX_SUCCESS);
	check_pair(r, first + 5, TDG_MEM_PAGE_ACCEPT, true, st);
	ev = find_lock(r, first + 5, TDXSIM_HOOK_LOCK_SEPT_ENTRY_GUEST, 0);
	assert_non_null(ev);
	assert_int_equal(ev->ev.gpa, gpa);
	assert_true(ev->ev.acquired);

	/* Nothing but these calls was seen, and the seqs are the calls'. */
	assert_int_equal(tdxsim_seq(fx->sim), first + 5);
	for (unsigned int i = 0; i < r->nr; i++) {
		assert_true(r->e[i].ev.seq >= first && r->e[i].ev.seq <= first + 5);
		assert_true(pthread_equal(r->e[i].thread, pthread_self()));
	}
	tdxsim_set_hook(fx->sim, NULL, NULL);
	tdxsim_vcpu_exit(fx->vcpu);
	fx_remove(fx, gpa, TDX_PS_4K);
	rec_free(r);
}

struct worker {
	struct tdxsim_td *td;
	u64 gpa, pfn, status;
};

static void *aug_worker(void *arg)
{
	struct worker *w = arg;
	u64 e1, e2;

	w->status = tdxsim_tdh_mem_page_aug(w->td, w->gpa, TDX_PS_4K, w->pfn, &e1, &e2);
	return NULL;
}

/* Park a worker's AUG of (@gpa, @page) at its exit: it holds all its locks. */
static void park_aug(struct fixture *fx, struct recorder *r, struct worker *w, pthread_t *th,
		     u64 gpa, u64 page)
{
	struct timespec deadline;
	int rc = 0;

	w->td = fx->td;
	w->gpa = gpa;
	w->pfn = page >> 12;
	r->park_leaf = TDH_MEM_PAGE_AUG;
	assert_int_equal(pthread_create(th, NULL, aug_worker, w), 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 30;
	pthread_mutex_lock(&r->m);
	while (!r->parked && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&r->cv, &r->m, &deadline);
	pthread_mutex_unlock(&r->m);
	assert_true(r->parked);
}

static void unpark(struct recorder *r, pthread_t th)
{
	pthread_mutex_lock(&r->m);
	r->release = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->m);
	assert_int_equal(pthread_join(th, NULL), 0);
}

/* The last failed lock attempt of the main thread's call @seq. */
static struct rec_event *failed_attempt(struct recorder *r, u64 seq)
{
	struct rec_event *found = NULL;
	unsigned int failed = 0;

	pthread_mutex_lock(&r->m);
	for (unsigned int i = 0; i < r->nr; i++) {
		struct rec_event *e = &r->e[i];

		if (e->ev.seq == seq && e->ev.point == TDXSIM_HOOK_LOCK && !e->ev.acquired) {
			found = e;
			failed++;
		}
	}
	pthread_mutex_unlock(&r->m);
	assert_int_equal(failed, 1);
	assert_true(pthread_equal(found->thread, pthread_self()));
	return found;
}

/*
 * A worker parked at the exit of its AUG holds the S-EPT entry lock of its
 * GPA and the PAMT entry of its page.  The main thread's AUG of the same GPA
 * fails on the entry lock (BUSY|RCX), another GPA with the same page on the
 * page's PAMT entry (BUSY|R8): the hook sees that attempt fail, on that lock.
 */
static void test_busy_attempt_seen(void **state)
{
	struct fixture *fx = *state;
	struct recorder *r = rec_new();
	u64 gpa = GPA_2M(1), gpa2 = GPA_2M(1) + 0x1000, page, page2, st, e1, e2, seq;
	struct worker w = { 0 };
	struct rec_event *ev;
	pthread_t th;

	fx_map_sept(fx, gpa, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	page2 = fx_alloc_4k(fx);
	tdxsim_set_hook(fx->sim, rec_hook, r);
	park_aug(fx, r, &w, &th, gpa, page);

	/* Same GPA: the S-EPT entry lock. */
	st = tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, page2 >> 12, &e1, &e2);
	assert_status(st, TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
	seq = tdxsim_seq(fx->sim);
	ev = failed_attempt(r, seq);
	assert_int_equal(ev->ev.lock, TDXSIM_HOOK_LOCK_SEPT_ENTRY);
	assert_int_equal(ev->ev.operand, TDX_OPERAND_ID_RCX);
	assert_int_equal(ev->ev.gpa, gpa);
	assert_int_equal(ev->ev.level, TDX_PS_4K);
	assert_true(ev->ev.exclusive);

	/* Same page at another GPA: the page's PAMT entry. */
	st = tdxsim_tdh_mem_page_aug(fx->td, gpa2, TDX_PS_4K, page >> 12, &e1, &e2);
	assert_status(st, TDX_OPERAND_BUSY | TDX_OPERAND_ID_R8);
	seq = tdxsim_seq(fx->sim);
	ev = failed_attempt(r, seq);
	assert_int_equal(ev->ev.lock, TDXSIM_HOOK_LOCK_PAMT);
	assert_int_equal(ev->ev.operand, TDX_OPERAND_ID_R8);
	assert_int_equal(ev->ev.pa, page);
	assert_int_equal(ev->ev.level, TDX_PS_4K);
	assert_true(ev->ev.exclusive);

	unpark(r, th);
	assert_status(w.status, TDX_SUCCESS);
	/* The worker's call: one pair, every attempt acquired. */
	pthread_mutex_lock(&r->m);
	for (unsigned int i = 0; i < r->nr; i++) {
		if (pthread_equal(r->e[i].thread, th) && r->e[i].ev.point == TDXSIM_HOOK_LOCK)
			assert_true(r->e[i].ev.acquired);
	}
	pthread_mutex_unlock(&r->m);
	tdxsim_set_hook(fx->sim, NULL, NULL);
	fx_remove(fx, gpa, TDX_PS_4K);
	assert_int_equal(tdxsim_page_free(fx->sim, page2, TDX_PS_4K), 0);
	rec_free(r);
}

/* One scripted sequence; returns every status and output register. */
static void script(struct fixture *fx, u64 *out, unsigned int *n)
{
	u64 gpa = GPA_2M(2), page, e1 = 0, e2 = 0;
	struct tdx_module_args a = { 0 };

	*n = 0;
	fx_map_sept(fx, gpa, TDX_PS_4K);
	page = fx_alloc_4k(fx);
	out[(*n)++] = tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, page >> 12, &e1, &e2);
	out[(*n)++] = tdxsim_tdh_mem_page_aug(fx->td, gpa, TDX_PS_4K, page >> 12, &e1, &e2);
	out[(*n)++] = e1;
	out[(*n)++] = e2;
	out[(*n)++] = tdxsim_seamcall(fx->sim, 0xFF, &a);
	out[(*n)++] = tdxsim_tdh_mem_track(fx->td);
	out[(*n)++] = tdxsim_seq(fx->sim);
	fx_remove(fx, gpa, TDX_PS_4K);
	out[(*n)++] = tdxsim_seq(fx->sim);
}

static unsigned int count_hook;

static void counting_hook(void *arg, const struct tdxsim_hook_event *ev)
{
	count_hook++;
}

/*
 * No hook: nothing is called; a hook that only watches changes no status,
 * output or sequence number; a cleared hook is not called again.
 */
static void test_unset_hook_changes_nothing(void **state)
{
	struct fixture *fx = *state, *fx2;
	u64 without[16], with[16];
	unsigned int n1, n2;

	assert_int_equal(fx_setup_runnable(state), 0);
	fx2 = *state;
	*state = fx;

	count_hook = 0;
	script(fx, without, &n1);
	assert_int_equal(count_hook, 0);
	tdxsim_set_hook(fx2->sim, counting_hook, NULL);
	script(fx2, with, &n2);
	assert_true(count_hook > 0);
	assert_int_equal(n1, n2);
	for (unsigned int i = 0; i < n1; i++)
		assert_int_equal(without[i], with[i]);
	tdxsim_set_hook(fx2->sim, NULL, NULL);
	count_hook = 0;
	script(fx2, with, &n2);
	assert_int_equal(count_hook, 0);
	fx_teardown((void **)&fx2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entry_exit_pairs, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_busy_attempt_seen, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unset_hook_changes_nothing,
						fx_setup_runnable, fx_teardown),
	};

	return run_group(tests);
}
