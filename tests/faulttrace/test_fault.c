// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault injection (include/tdxsim/fault.h): a rule fires exactly on the calls
 * its selector and filters name and never otherwise; a fired STATUS fault
 * fails the call before the leaf runs (module state and output registers
 * untouched, like a real BUSY, spec seamcall.md §2.1); an INTERRUPT rule makes
 * DEMOTE fail for the real reason only without ENHANCED_DEMOTE_INTERRUPTIBILITY
 * (§2.8 step 7, §5); probabilistic rules are a function of the seed; the
 * TDXSIM_FAULTS/TDXSIM_SEED environment and the parser's error messages.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tdxsim/fault.h>

#include "harness.h"
#include "tdxsim-internal.h"

#define BUSY_RCX	(TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX)
#define BUSY_SEPT	(TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT)
#define BUSY_EPOCH	(TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH)

/* Parse @spec, which must add @nr rules; returns the id of the first one. */
static int add_rules(struct tdxsim *sim, const char *spec, int nr)
{
	int first = tdxsim_fault_nr_rules(sim);
	char err[256];

	assert_int_equal(tdxsim_fault_parse(sim, spec, err, sizeof(err)), nr);
	assert_string_equal(err, "");
	assert_int_equal(tdxsim_fault_nr_rules(sim), first + nr);
	return first;
}

/* Rules must not outlive the test: the fixture teardown issues SEAMCALLs. */
static void rules_done(struct fixture *fx)
{
	tdxsim_fault_clear(fx->sim);
	assert_int_equal(tdxsim_fault_nr_rules(fx->sim), 0);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
}

static u64 aug_raw(struct tdxsim *sim, const struct tdxsim_td *td, u64 gpa, int level, u64 hpa,
		   struct tdx_module_args *a)
{
	*a = (struct tdx_module_args){ .rcx = gpa | (u64)level, .rdx = td->tdr_pa, .r8 = hpa };
	return tdxsim_seamcall(sim, TDH_MEM_PAGE_AUG, a);
}

static u64 aug(struct fixture *fx, const struct tdxsim_td *td, u64 gpa, int level, u64 hpa)
{
	struct tdx_module_args a;

	return aug_raw(fx->sim, td, gpa, level, hpa, &a);
}

static u64 track(struct tdxsim *sim, u64 tdr)
{
	struct tdx_module_args a = { .rcx = tdr };

	return tdxsim_seamcall(sim, TDH_MEM_TRACK, &a);
}

/* Tables for a 2MB AUG at @gpa and a free 2MB page for it (no AUG yet). */
static u64 prep_2m(struct fixture *fx, u64 gpa)
{
	u64 hpa;

	fx_map_sept(fx, gpa, TDX_PS_2M);
	hpa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(hpa != 0);
	return hpa;
}

/* Everything a failed call must leave as it was. */
struct snap {
	int sept_ret;
	struct tdxsim_sept_info si;
	struct tdxsim_pamt_info pi[4];
	u64 chldcnt, epoch, pages;
};

static void snap_take(struct fixture *fx, u64 gpa, const u64 *hpas, int nr, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->sept_ret = tdxsim_sept_lookup(fx->sim, fx->td, gpa, &s->si);
	for (int i = 0; i < nr; i++)
		assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpas[i], &s->pi[i]), 0);
	s->chldcnt = tdxsim_td_chldcnt(fx->sim, fx->td);
	s->epoch = tdxsim_td_epoch(fx->sim, fx->td);
	s->pages = tdxsim_pages_in_use(fx->sim);
}

static void pamt_equal(const struct tdxsim_pamt_info *a, const struct tdxsim_pamt_info *b)
{
	assert_int_equal(a->level, b->level);
	assert_int_equal(a->pt, b->pt);
	assert_int_equal(a->owner, b->owner);
	assert_int_equal(a->bepoch, b->bepoch);
	assert_int_equal(a->pamt_page, b->pamt_page);
	assert_int_equal(a->dpamt_pair, b->dpamt_pair);
	assert_int_equal(a->dpamt_pages[0], b->dpamt_pages[0]);
	assert_int_equal(a->dpamt_pages[1], b->dpamt_pages[1]);
	assert_int_equal(a->dpamt_count, b->dpamt_count);
	assert_int_equal(a->allocated, b->allocated);
	assert_int_equal(a->dirty, b->dirty);
	assert_int_equal(a->needs_reset, b->needs_reset);
}

static void snap_equal(const struct snap *a, const struct snap *b, int nr)
{
	assert_int_equal(a->sept_ret, b->sept_ret);
	assert_int_equal(a->si.level, b->si.level);
	assert_int_equal(a->si.state, b->si.state);
	assert_int_equal(a->si.leaf, b->si.leaf);
	assert_int_equal(a->si.hpa, b->si.hpa);
	assert_int_equal(a->si.entry, b->si.entry);
	assert_int_equal(a->si.accept_counter, b->si.accept_counter);
	for (int i = 0; i < nr; i++)
		pamt_equal(&a->pi[i], &b->pi[i]);
	assert_int_equal(a->chldcnt, b->chldcnt);
	assert_int_equal(a->epoch, b->epoch);
	assert_int_equal(a->pages, b->pages);
}

static void assert_args_equal(const struct tdx_module_args *a, const struct tdx_module_args *b)
{
	assert_int_equal(a->rcx, b->rcx);
	assert_int_equal(a->rdx, b->rdx);
	assert_int_equal(a->r8, b->r8);
	assert_int_equal(a->r9, b->r9);
	assert_int_equal(a->r10, b->r10);
	assert_int_equal(a->r11, b->r11);
	assert_int_equal(a->r12, b->r12);
	assert_int_equal(a->r13, b->r13);
}

/* ---- selectors ---- */

/* nth=3: only the 3rd matching AUG fails, the retry (4th match) and later ones run. */
static void test_nth_fires_on_third_aug_only(void **state)
{
	struct fixture *fx = *state;
	u64 hpa[4], busy0 = tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_AUG, BUSY_RCX);
	u64 ok0 = tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_AUG, TDX_SUCCESS);
	int id;

	for (int i = 0; i < 4; i++)
		hpa[i] = prep_2m(fx, GPA_2M(i));
	id = add_rules(fx->sim, "aug:busy=rcx:nth=3", 1);
	assert_status(aug(fx, fx->td, GPA_2M(0), TDX_PS_2M, hpa[0]), TDX_SUCCESS);
	assert_status(aug(fx, fx->td, GPA_2M(1), TDX_PS_2M, hpa[1]), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 0);
	assert_status(aug(fx, fx->td, GPA_2M(2), TDX_PS_2M, hpa[2]), BUSY_RCX);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	assert_status(aug(fx, fx->td, GPA_2M(2), TDX_PS_2M, hpa[2]), TDX_SUCCESS);
	assert_status(aug(fx, fx->td, GPA_2M(3), TDX_PS_2M, hpa[3]), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 1);
	/* The injected status is counted like a real one. */
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_AUG, BUSY_RCX) - busy0, 1);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_AUG, TDX_SUCCESS) - ok0, 4);
	/* 4 x 512 pages now belong to the TD. */
	for (int i = 0; i < 4; i++) {
		struct tdxsim_sept_info si;

		assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, GPA_2M(i), &si), 0);
		assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
		assert_int_equal(si.hpa, hpa[i]);
	}
	rules_done(fx);
}

/* every=2 on TRACK: calls 2, 4, 6 fail; a failed TRACK does not advance the epoch. */
static void test_every_k(void **state)
{
	struct fixture *fx = *state;
	u64 epoch = tdxsim_td_epoch(fx->sim, fx->td);
	int id = add_rules(fx->sim, "track:busy=td_epoch:every=2", 1);

	for (int i = 1; i <= 6; i++) {
		u64 st = track(fx->sim, fx->td->tdr_pa);

		if (i % 2 == 0) {
			assert_status(st, BUSY_EPOCH);
		} else {
			assert_status(st, TDX_SUCCESS);
			epoch++;
		}
		assert_int_equal(tdxsim_td_epoch(fx->sim, fx->td), epoch);
	}
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 3);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_TRACK, BUSY_EPOCH), 3);
	rules_done(fx);
}

/* max=N caps the firings, alone (every call matches) and with every=K. */
static void test_max_caps_firings(void **state)
{
	struct fixture *fx = *state;
	int id = add_rules(fx->sim, "track:busy=td_epoch:max=2", 1);

	assert_status(track(fx->sim, fx->td->tdr_pa), BUSY_EPOCH);
	assert_status(track(fx->sim, fx->td->tdr_pa), BUSY_EPOCH);
	for (int i = 0; i < 3; i++)
		assert_status(track(fx->sim, fx->td->tdr_pa), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 2);
	rules_done(fx);

	id = add_rules(fx->sim, "track:busy=td_epoch:every=2:max=2", 1);
	for (int i = 1; i <= 8; i++)
		assert_status(track(fx->sim, fx->td->tdr_pa),
			      i == 2 || i == 4 ? BUSY_EPOCH : TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 2);
	rules_done(fx);
}

/*
 * Two rules on one leaf count their matches independently: the call rule 0
 * failed is still rule 1's 1st match, so nth=2 is the 2nd TRACK (fault.h:
 * "among the matching calls it fires on the Nth").
 */
static void test_two_rules_one_leaf(void **state)
{
	struct fixture *fx = *state;
	int id = add_rules(fx->sim, "track:busy=td_epoch:nth=1; track:busy=tdr:nth=2", 2);

	assert_status(track(fx->sim, fx->td->tdr_pa), BUSY_EPOCH);
	assert_status(track(fx->sim, fx->td->tdr_pa), TDX_OPERAND_BUSY | TDX_OPERAND_ID_TDR);
	assert_status(track(fx->sim, fx->td->tdr_pa), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id + 1), 1);
	rules_done(fx);
}

/* gpa=START-END: a call outside the range does not match, so nth=1 is the one inside. */
static void test_gpa_filter(void **state)
{
	struct fixture *fx = *state;
	u64 h0 = prep_2m(fx, GPA_2M(0)), h1 = prep_2m(fx, GPA_2M(1)), h2 = prep_2m(fx, GPA_2M(2));
	char spec[128];
	int id;

	snprintf(spec, sizeof(spec), "aug:busy=rcx:gpa=%#llx-%#llx:nth=1",
		 (unsigned long long)GPA_2M(1), (unsigned long long)GPA_2M(2));
	id = add_rules(fx->sim, spec, 1);
	assert_status(aug(fx, fx->td, GPA_2M(0), TDX_PS_2M, h0), TDX_SUCCESS);
	/* END is excluded. */
	assert_status(aug(fx, fx->td, GPA_2M(2), TDX_PS_2M, h2), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 0);
	assert_status(aug(fx, fx->td, GPA_2M(1), TDX_PS_2M, h1), BUSY_RCX);
	assert_status(aug(fx, fx->td, GPA_2M(1), TDX_PS_2M, h1), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	rules_done(fx);
}

/* level=L: a 2MB AUG does not match level=0; the first 4K AUG is the nth=1. */
static void test_level_filter(void **state)
{
	struct fixture *fx = *state;
	u64 gpa4k = GPA_2M(5) + 3 * TDX_PAGE_SIZE, h2m = prep_2m(fx, GPA_2M(0)), h4k;
	int id;

	fx_map_sept(fx, gpa4k, TDX_PS_4K);
	h4k = fx_alloc_4k(fx);
	id = add_rules(fx->sim, "aug:busy=rcx:level=0:nth=1", 1);
	assert_status(aug(fx, fx->td, GPA_2M(0), TDX_PS_2M, h2m), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 0);
	assert_status(aug(fx, fx->td, gpa4k, TDX_PS_4K, h4k), BUSY_RCX);
	assert_status(aug(fx, fx->td, gpa4k, TDX_PS_4K, h4k), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	rules_done(fx);
}

/* td=TDR: calls on another TD neither match nor count (AUG: RDX, TRACK: RCX). */
static void test_td_filter(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_td *td1 = fx->td, *td2;
	struct tdxsim_vcpu *v2;
	u64 st, h1, h2, h2b;
	char spec[160];
	int aug_id, track_id;

	td2 = tdxsim_td_create(fx->sim, &st);
	assert_non_null(td2);
	v2 = tdxsim_vcpu_create(td2, &st);
	assert_non_null(v2);
	assert_status(tdxsim_td_finalize(td2), TDX_SUCCESS);
	h1 = prep_2m(fx, GPA_2M(0));
	fx->td = td2;		/* the harness maps tables for fx->td */
	h2 = prep_2m(fx, GPA_2M(0));
	h2b = prep_2m(fx, GPA_2M(1));
	fx->td = td1;

	snprintf(spec, sizeof(spec), "aug:busy=rcx:td=%#llx:nth=1; track:busy=td_epoch:td=%#llx",
		 (unsigned long long)td2->tdr_pa, (unsigned long long)td2->tdr_pa);
	aug_id = add_rules(fx->sim, spec, 2);
	track_id = aug_id + 1;
	assert_status(aug(fx, td1, GPA_2M(0), TDX_PS_2M, h1), TDX_SUCCESS);
	assert_status(aug(fx, td2, GPA_2M(0), TDX_PS_2M, h2), BUSY_RCX);
	assert_status(aug(fx, td2, GPA_2M(0), TDX_PS_2M, h2), TDX_SUCCESS);
	assert_status(aug(fx, td2, GPA_2M(1), TDX_PS_2M, h2b), TDX_SUCCESS);
	assert_status(track(fx->sim, td1->tdr_pa), TDX_SUCCESS);
	assert_status(track(fx->sim, td2->tdr_pa), BUSY_EPOCH);
	assert_status(track(fx->sim, td1->tdr_pa), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, aug_id), 1);
	assert_int_equal(tdxsim_fault_fired(fx->sim, track_id), 1);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 2);
	rules_done(fx);
	assert_int_equal(tdxsim_td_teardown(td2, TDXSIM_TEARDOWN_FREE_PAMT), 0);
}

struct thread_call {
	struct tdxsim *sim;
	u64 tdr;
	unsigned int id;
	u64 st[2];
};

static void *track_thread(void *arg)
{
	struct thread_call *t = arg;

	tdxsim_thread_set_id(t->sim, t->id);
	for (int i = 0; i < 2; i++)
		t->st[i] = track(t->sim, t->tdr);
	return NULL;
}

static void run_thread(struct thread_call *t)
{
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, track_thread, t), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
}

/* thread=T: only thread 2's calls match; run one thread at a time to be deterministic. */
static void test_thread_filter(void **state)
{
	struct fixture *fx = *state;
	struct thread_call t1 = { .sim = fx->sim, .tdr = fx->td->tdr_pa, .id = 1 };
	struct thread_call t2 = { .sim = fx->sim, .tdr = fx->td->tdr_pa, .id = 2 };
	int id = add_rules(fx->sim, "track:busy=td_epoch:thread=2:nth=2", 1);

	/* The main thread's id is neither of the worker threads' 1 and 2. */
	assert_int_equal(tdxsim_thread_set_id(fx->sim, 100), 0);
	run_thread(&t1);
	run_thread(&t2);
	assert_status(t1.st[0], TDX_SUCCESS);
	assert_status(t1.st[1], TDX_SUCCESS);
	/* Thread 1's two calls did not count: thread 2's second call is the 2nd match. */
	assert_status(t2.st[0], TDX_SUCCESS);
	assert_status(t2.st[1], BUSY_EPOCH);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	rules_done(fx);
}

/* TDCALL rule: the 1st ACCEPT gets BUSY|RCX, the page stays PENDING, the vCPU in guest. */
static void test_tdcall_accept_rule(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_leaf_stats ls;
	struct tdxsim_sept_info si;
	u64 gpa = GPA_2M(0);
	bool found = false;
	int id;

	fx_aug(fx, gpa, TDX_PS_2M);
	fx_enter(fx);
	id = add_rules(fx->sim, "accept:busy=rcx:nth=1", 1);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M), BUSY_RCX);
	assert_true(tdxsim_vcpu_in_guest(fx->vcpu));
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gpa, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);
	assert_int_equal(si.accept_counter, 0);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_2M), TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, gpa, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	/* Counted under the TDCALL statistics, not the SEAMCALL leaf 6 (AUG). */
	assert_int_equal(tdxsim_stats_tdcall(fx->sim, TDG_MEM_PAGE_ACCEPT, &ls), 0);
	for (unsigned int i = 0; i < ls.nr_statuses; i++) {
		if (ls.statuses[i].status == BUSY_RCX) {
			assert_int_equal(ls.statuses[i].count, 1);
			found = true;
		}
	}
	assert_true(found);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_AUG, BUSY_RCX), 0);
	rules_done(fx);
}

/* alloc:enomem:nth=2: the 2nd host allocation fails with ENOMEM, the others succeed. */
static void test_alloc_enomem(void **state)
{
	struct fixture *fx = *state;
	u64 used = tdxsim_pages_in_use(fx->sim), p1, p2, p3;
	int id = add_rules(fx->sim, "alloc:enomem:nth=2", 1);

	errno = 0;
	p1 = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_true(p1 != 0);
	p2 = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_int_equal(p2, 0);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), used + 1);
	p3 = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	assert_true(p3 != 0);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), used + 1 + 512);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	assert_int_equal(tdxsim_page_free(fx->sim, p1, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, p3, TDX_PS_2M), 0);
	rules_done(fx);
}

/* ---- a fired STATUS fault is a call that failed before the leaf ran ---- */

static void test_status_fault_aug_state_unchanged(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a, in;
	struct snap before, after;
	u64 gpa = GPA_2M(0), hpa = prep_2m(fx, gpa), chld;

	add_rules(fx->sim, "aug:busy=sept:nth=1", 1);
	snap_take(fx, gpa, &hpa, 1, &before);
	assert_status(aug_raw(fx->sim, fx->td, gpa, TDX_PS_2M, hpa, &a), BUSY_SEPT);
	in = (struct tdx_module_args){ .rcx = gpa | TDX_PS_2M, .rdx = fx->td->tdr_pa, .r8 = hpa };
	assert_args_equal(&a, &in);
	snap_take(fx, gpa, &hpa, 1, &after);
	snap_equal(&before, &after, 1);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	/* The retry runs the leaf: the snapshot would have seen it. */
	chld = before.chldcnt;
	assert_status(aug_raw(fx->sim, fx->td, gpa, TDX_PS_2M, hpa, &a), TDX_SUCCESS);
	snap_take(fx, gpa, &hpa, 1, &after);
	assert_int_equal(after.chldcnt, chld + 512);
	assert_int_equal(after.si.state, SEPT_PUBLIC_PENDING);
	assert_int_equal(after.pi[0].pt, PT_REG);
	rules_done(fx);
}

/* DEMOTE's pages to use: the new S-EPT page and the DPAMT pair (spec §2.8). */
struct demote {
	u64 gpa, hpa, sept, pair[2];
};

static void prep_demote(struct fixture *fx, struct demote *d)
{
	d->gpa = GPA_2M(0);
	d->hpa = fx_aug(fx, d->gpa, TDX_PS_2M);
	fx_block_track(fx, d->gpa, TDX_PS_2M);
	d->sept = fx_alloc_4k(fx);
	d->pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	d->pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_true(d->pair[0] && d->pair[1]);
}

static u64 demote_raw(struct fixture *fx, const struct demote *d, struct tdx_module_args *a)
{
	*a = (struct tdx_module_args){
		.rcx = d->gpa | TDX_PS_2M, .rdx = fx->td->tdr_pa, .r8 = d->sept,
		.r12 = d->pair[0], .r13 = d->pair[1],
	};
	return tdxsim_seamcall(fx->sim, TDH_MEM_PAGE_DEMOTE, a);
}

static void test_status_fault_demote_state_unchanged(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a, in;
	struct snap before, after;
	struct tdxsim_sept_info si;
	struct demote d;
	u64 pages[4];

	prep_demote(fx, &d);
	pages[0] = d.hpa, pages[1] = d.sept, pages[2] = d.pair[0], pages[3] = d.pair[1];
	add_rules(fx->sim, "demote:busy=sept:nth=1", 1);
	snap_take(fx, d.gpa, pages, 4, &before);
	assert_int_equal(before.si.state, SEPT_PUBLIC_PENDING_BLOCKED);
	assert_status(demote_raw(fx, &d, &a), BUSY_SEPT);
	/* A real DEMOTE clears RCX/RDX first; the injected failure touches nothing. */
	in = (struct tdx_module_args){
		.rcx = d.gpa | TDX_PS_2M, .rdx = fx->td->tdr_pa, .r8 = d.sept,
		.r12 = d.pair[0], .r13 = d.pair[1],
	};
	assert_args_equal(&a, &in);
	snap_take(fx, d.gpa, pages, 4, &after);
	snap_equal(&before, &after, 4);
	assert_false(after.pi[2].pamt_page);
	assert_false(after.pi[3].pamt_page);
	assert_int_equal(tdxsim_check(fx->sim, NULL), 0);
	assert_status(demote_raw(fx, &d, &a), TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, d.gpa, &si), 0);
	assert_int_equal(si.level, TDX_PS_4K);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->td), before.chldcnt + 1);
	snap_take(fx, d.gpa, pages, 4, &after);
	assert_true(after.pi[2].pamt_page);
	assert_int_equal(after.pi[1].pt, PT_EPT);
	rules_done(fx);
}

/* ---- INTERRUPT action (spec §2.8 step 7, §5) ---- */

/* Without ENHANCED_DEMOTE_INTERRUPTIBILITY the raised interrupt stops DEMOTE. */
static void test_interrupt_demote_interruptible(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a, in;
	struct snap before, after;
	struct tdxsim_sept_info si;
	struct demote d;
	u64 pages[4];
	int id;

	prep_demote(fx, &d);
	pages[0] = d.hpa, pages[1] = d.sept, pages[2] = d.pair[0], pages[3] = d.pair[1];
	id = add_rules(fx->sim, "demote:interrupt", 1);
	snap_take(fx, d.gpa, pages, 4, &before);
	assert_status(demote_raw(fx, &d, &a), TDX_INTERRUPTED_RESTARTABLE);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	/* Restartable: RCX/RDX hold the inputs again, nothing committed. */
	in = (struct tdx_module_args){
		.rcx = d.gpa | TDX_PS_2M, .rdx = fx->td->tdr_pa, .r8 = d.sept,
		.r12 = d.pair[0], .r13 = d.pair[1],
	};
	assert_int_equal(a.rcx, in.rcx);
	assert_int_equal(a.rdx, in.rdx);
	snap_take(fx, d.gpa, pages, 4, &after);
	snap_equal(&before, &after, 4);
	assert_false(after.pi[2].pamt_page);
	/* The host took the interrupt when the call returned. */
	assert_false(fx->sim->cpus[tdxsim_cpu_current(fx->sim)].intr_pending);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_DEMOTE,
					    TDX_INTERRUPTED_RESTARTABLE), 1);
	tdxsim_fault_clear(fx->sim);
	assert_status(demote_raw(fx, &d, &a), TDX_SUCCESS);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, d.gpa, &si), 0);
	assert_int_equal(si.level, TDX_PS_4K);
	assert_int_equal(tdxsim_td_chldcnt(fx->sim, fx->td), before.chldcnt + 1);
	rules_done(fx);
}

/* With it (the default fixture) the same rule fires but DEMOTE goes through. */
static void test_interrupt_demote_enhanced(void **state)
{
	struct fixture *fx = *state;
	struct tdx_module_args a;
	struct tdxsim_sept_info si;
	struct demote d;
	int id;

	assert_true(fx->cfg.features0 & TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY);
	prep_demote(fx, &d);
	id = add_rules(fx->sim, "demote:interrupt", 1);
	assert_status(demote_raw(fx, &d, &a), TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_fired(fx->sim, id), 1);
	assert_int_equal(tdxsim_sept_lookup(fx->sim, fx->td, d.gpa, &si), 0);
	assert_int_equal(si.level, TDX_PS_4K);
	assert_false(fx->sim->cpus[tdxsim_cpu_current(fx->sim)].intr_pending);
	rules_done(fx);
}

/* ---- probability and the environment ---- */

#define PROB_CALLS	200

struct prob_run {
	u64 bits[(PROB_CALLS + 63) / 64];
	unsigned int fired;
};

static struct tdxsim *sim_create(u64 seed)
{
	struct tdxsim_config cfg;
	struct tdxsim *sim;

	tdxsim_config_init(&cfg);
	cfg.mem_size = 64ULL << 20;
	cfg.seed = seed;
	sim = tdxsim_create(&cfg);
	assert_non_null(sim);
	return sim;
}

/*
 * PROB_CALLS AUGs naming no TD: the leaf itself always fails the same way
 * (nothing changes), so a call returns BUSY|RCX exactly when rule @id (added
 * here if < 0) fired.
 */
static void prob_calls(struct tdxsim *sim, int id, struct prob_run *r)
{
	struct tdx_module_args a;
	u64 base = TDX_SUCCESS;

	memset(r, 0, sizeof(*r));
	if (id < 0)
		id = add_rules(sim, "aug:busy=rcx:p=0.3", 1);
	for (unsigned int i = 0; i < PROB_CALLS; i++) {
		u64 st;

		a = (struct tdx_module_args){ .rcx = GPA_2M(0) | TDX_PS_2M };
		st = tdxsim_seamcall(sim, TDH_MEM_PAGE_AUG, &a);
		if (st == BUSY_RCX) {
			r->bits[i / 64] |= 1ULL << (i % 64);
			r->fired++;
			continue;
		}
		/* Not fired: the leaf's own (constant) failure. */
		if (base == TDX_SUCCESS)
			base = st;
		assert_true(st != TDX_SUCCESS);
		assert_status(st, base);
	}
	assert_int_equal(tdxsim_fault_fired(sim, id), r->fired);
}

static void prob_run(u64 seed, struct prob_run *r)
{
	struct tdxsim *sim = sim_create(seed);

	prob_calls(sim, -1, r);
	tdxsim_destroy(sim);
}

static void test_probability_seeded(void **state)
{
	struct prob_run a, b, c;

	(void)state;
	prob_run(0x1234, &a);
	prob_run(0x1234, &b);
	prob_run(0x5678, &c);
	assert_memory_equal(a.bits, b.bits, sizeof(a.bits));
	assert_int_equal(a.fired, b.fired);
	assert_memory_not_equal(a.bits, c.bits, sizeof(a.bits));
	/* p = 0.3 over 200 calls: 60 expected, sd ~6.5. */
	assert_in_range(a.fired, 30, 90);
	assert_in_range(c.fired, 30, 90);
}

/* Create a simulator under @faults/@seed; errno of a failure in *@err. */
static struct tdxsim *create_with_env(const char *faults, const char *seed, int *err)
{
	struct tdxsim_config c;
	struct tdxsim *sim;

	tdxsim_config_init(&c);
	c.mem_size = 64ULL << 20;
	setenv("TDXSIM_FAULTS", faults, 1);
	if (seed)
		setenv("TDXSIM_SEED", seed, 1);
	errno = 0;
	sim = tdxsim_create(&c);
	*err = errno;
	/* Gone before any assert can skip it: later tests create simulators too. */
	unsetenv("TDXSIM_FAULTS");
	unsetenv("TDXSIM_SEED");
	return sim;
}

/* TDXSIM_FAULTS + TDXSIM_SEED at create time: installed, seeded, firing. */
static void test_env_rules(void **state)
{
	struct prob_run env, cfg;
	struct tdx_module_args a = { 0 };
	struct tdxsim *sim;
	int err;

	(void)state;
	sim = create_with_env("aug:busy=rcx:p=0.3; track:busy=td_epoch:nth=1", "0x2468", &err);
	assert_non_null(sim);
	assert_int_equal(tdxsim_fault_nr_rules(sim), 2);
	assert_int_equal(tdxsim_get_config(sim)->seed, 0x2468);
	/* The TRACK rule fires before the leaf looks at the (bogus) TDR. */
	assert_status(tdxsim_seamcall(sim, TDH_MEM_TRACK, &a), BUSY_EPOCH);
	assert_int_equal(tdxsim_fault_fired(sim, 1), 1);
	a.rcx = 0;
	assert_true(tdxsim_seamcall(sim, TDH_MEM_TRACK, &a) != BUSY_EPOCH);
	assert_int_equal(tdxsim_fault_fired(sim, 1), 1);
	/* The AUG rule is rule 0; its firings match the same seed given by cfg. */
	prob_calls(sim, 0, &env);
	tdxsim_destroy(sim);
	prob_run(0x2468, &cfg);
	assert_memory_equal(env.bits, cfg.bits, sizeof(env.bits));
}

/* A malformed environment fails the create (and prints why on stderr). */
static void test_env_malformed(void **state)
{
	struct tdxsim *sim;
	int err;

	(void)state;
	sim = create_with_env("aug:busy=xyz", NULL, &err);
	tdxsim_destroy(sim);
	assert_null(sim);
	assert_int_equal(err, EINVAL);
	sim = create_with_env("aug:busy=rcx:nth=1", "12abc", &err);
	tdxsim_destroy(sim);
	assert_null(sim);
	assert_int_equal(err, EINVAL);
}

/*
 * Environment strings that used to slip through (issue 7): each is refused
 * with EINVAL, and the message stays one line that says what was expected.
 */
static void test_env_refused(void **state)
{
	static const struct {
		const char *faults, *seed;
	} bad[] = {
		{ "aug:busy=rcx:p=nan", NULL },		/* NaN passed "<= 0 || > 1" */
		{ "aug:busy=rcx:p=nan:nth=1", NULL },	/* ... and the one-selector rule */
		{ "aug:status=TDX_SUCCESS", NULL },	/* "succeeds" without running */
		{ "aug:status=0", NULL },
		{ "aug:status=0x0000000100000000", NULL },	/* not an error status */
		{ "aug:busy=rcx", "-1" },		/* strtoull takes a sign */
		{ "aug:busy=rcx", " 5" },		/* ... and leading blanks */
		{ "aug:busy=rcx", "+5" },
	};
	struct tdxsim *sim;
	int err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sim = create_with_env(bad[i].faults, bad[i].seed, &err);
		if (sim) {
			tdxsim_destroy(sim);
			fail_msg("TDXSIM_FAULTS='%s' TDXSIM_SEED='%s' was accepted", bad[i].faults,
				 bad[i].seed ? bad[i].seed : "");
		}
		assert_int_equal(err, EINVAL);
	}
}

/* The rule API refuses what the parser refuses. */
static void test_rule_api_refused(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_fault_rule r;

	tdxsim_fault_rule_init(&r, TDH_MEM_PAGE_AUG, TDXSIM_FAULT_STATUS, TDX_SUCCESS);
	assert_int_equal(tdxsim_fault_add(fx->sim, &r), -EINVAL);
	tdxsim_fault_rule_init(&r, TDH_MEM_PAGE_AUG, TDXSIM_FAULT_STATUS, TDX_OPERAND_BUSY);
	r.probability = __builtin_nan("");
	assert_int_equal(tdxsim_fault_add(fx->sim, &r), -EINVAL);
	r.probability = 0.5;
	r.nth = 1;
	assert_int_equal(tdxsim_fault_add(fx->sim, &r), -EINVAL);
	assert_int_equal(tdxsim_fault_nr_rules(fx->sim), 0);
}

/*
 * A TDXSIM_TRACE path longer than PATH_MAX is refused.  It used to be cut to
 * PATH_MAX - 1 characters: DIR/././.../trace.json became DIR/././.../trace.js
 * and the trace went there.
 */
static void test_env_trace_path_too_long(void **state)
{
	char dir[] = "/tmp/tdxsim-trace-XXXXXX", cut[64];
	struct tdxsim_config c;
	struct tdxsim *sim;
	size_t len, pos;
	char *path;
	int err;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = malloc(PATH_MAX + 2);
	assert_non_null(path);
	len = (size_t)snprintf(path, PATH_MAX + 2, "%s/", dir);
	if ((PATH_MAX + 1 - len - strlen("trace.json")) % 2)
		path[len++] = '/';
	while (len + strlen("trace.json") < PATH_MAX + 1) {
		memcpy(path + len, "./", 2);
		len += 2;
	}
	strcpy(path + len, "trace.json");
	pos = strlen(path);
	assert_int_equal(pos, PATH_MAX + 1);
	tdxsim_config_init(&c);
	c.mem_size = 64ULL << 20;
	setenv("TDXSIM_TRACE", path, 1);
	errno = 0;
	sim = tdxsim_create(&c);
	err = errno;
	unsetenv("TDXSIM_TRACE");
	free(path);
	tdxsim_destroy(sim);
	snprintf(cut, sizeof(cut), "%s/trace.js", dir);
	err = unlink(cut) == 0 ? -1 : err;	/* written where it was not asked to */
	rmdir(dir);
	assert_null(sim);
	assert_int_equal(err, EINVAL);
}

/* One line, the token quoted safely, the "expected" part always there. */
static void test_parse_message_shape(void **state)
{
	struct fixture *fx = *state;
	char spec[600], err[256];

	assert_int_equal(tdxsim_fault_parse(fx->sim, "aug:busy=r\ncx", err, sizeof(err)),
			 -EINVAL);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "expected"));
	memset(spec, 'z', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	memcpy(spec, "aug:busy=", 9);
	assert_int_equal(tdxsim_fault_parse(fx->sim, spec, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expected an operand"));
	assert_true(strlen(err) < sizeof(err) - 1);
}

/* ---- the parser ---- */

static void test_parse_errors_name_the_token(void **state)
{
	static const struct {
		const char *spec, *token;
	} bad[] = {
		{ "dmote:busy=sept", "'dmote'" },
		{ "aug:busy=xyz", "'xyz'" },
		{ "aug:busy=rcx:nth=abc", "'abc'" },
		{ "aug:busy=rcx:nth=0", "'nth'" },
		{ "aug", "'aug'" },
		{ "aug:busy=rcx:nth=1:every=2", "'every=2'" },
		{ "aug:busy=rcx:p=2", "'2'" },
		{ "aug:busy=rcx:p=0", "'0'" },
		{ "aug:busy=rcx:gpa=0x200000-0x100000", "'0x200000-0x100000'" },
		{ "aug:busy=rcx:gpa=0x200000", "'0x200000'" },
		{ "aug:busy=rcx:level=3", "'level'" },
		{ "aug:frobnicate", "'frobnicate'" },
		{ "aug:enomem", "'enomem'" },
		{ "aug:status=TDX_NO_SUCH_STATUS", "'TDX_NO_SUCH_STATUS'" },
		{ "aug:busy=rcx:nth", "'nth'" },
	};
	struct fixture *fx = *state;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tdxsim_fault_parse(fx->sim, bad[i].spec, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].token))
			fail_msg("'%s': message \"%s\" does not name %s", bad[i].spec, err,
				 bad[i].token);
		assert_int_equal(tdxsim_fault_nr_rules(fx->sim), 0);
	}
	/* Rules before the bad one stay added; the message says which rule. */
	assert_int_equal(tdxsim_fault_parse(fx->sim, "aug:busy=rcx:nth=1; dmote:busy=sept", err,
					    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rule 2"));
	assert_int_equal(tdxsim_fault_nr_rules(fx->sim), 1);
	tdxsim_fault_clear(fx->sim);
	/* The header's example, with spaces and a status by name. */
	add_rules(fx->sim, " demote:busy=sept:nth=1; aug:busy=rcx:p=0.05; alloc:enomem:nth=3 ;"
		  "remove:status=TDX_OPERAND_BUSY|SEPT:every=2", 4);
	assert_int_equal(fx->sim->faults[0].rule.leaf, TDH_MEM_PAGE_DEMOTE);
	assert_int_equal(fx->sim->faults[0].rule.status, BUSY_SEPT);
	assert_int_equal(fx->sim->faults[0].rule.nth, 1);
	assert_true(fx->sim->faults[1].rule.probability == 0.05);
	assert_int_equal(fx->sim->faults[2].rule.leaf, TDXSIM_FAULT_PAGE_ALLOC);
	assert_int_equal(fx->sim->faults[2].rule.action, TDXSIM_FAULT_ENOMEM);
	assert_int_equal(fx->sim->faults[3].rule.status, BUSY_SEPT);
	assert_int_equal(fx->sim->faults[3].rule.every, 2);
	rules_done(fx);
}

/*
 * A rule that parses but does not fit (tdxsim_fault_add() -ENOSPC) is named
 * as written, with the limit: the rules before it stay added.
 */
static void test_parse_too_many_rules(void **state)
{
	struct fixture *fx = *state;
	char spec[33 * 24], err[256];
	size_t len = 0;

	assert_int_equal(TDXSIM_MAX_FAULT_RULES, 32);
	for (int i = 1; i <= 33; i++)
		len += snprintf(spec + len, sizeof(spec) - len, "%saug:busy=rcx:nth=%d",
				i > 1 ? "; " : "", i);
	assert_true(len < sizeof(spec));
	assert_int_equal(tdxsim_fault_parse(fx->sim, spec, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rule 33: bad token 'aug:busy=rcx:nth=33': "
			    "expected at most 32 rules");
	assert_int_equal(tdxsim_fault_nr_rules(fx->sim), 32);
	assert_int_equal(fx->sim->faults[31].rule.nth, 32);
	rules_done(fx);
}

/* tdxsim_fault_add() validates what the parser would; counters per rule and in total. */
static void test_add_and_statistics(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_fault_rule r;
	int a_id, t_id;

	tdxsim_fault_rule_init(&r, TDH_MEM_TRACK, TDXSIM_FAULT_STATUS, BUSY_EPOCH);
	r.nth = 1;
	r.every = 2;
	assert_int_equal(tdxsim_fault_add(fx->sim, &r), -EINVAL);
	r.every = 0;
	r.probability = 1.5;
	assert_int_equal(tdxsim_fault_add(fx->sim, &r), -EINVAL);
	r.probability = 0;
	r.gpa_start = 0x2000;
	r.gpa_end = 0x1000;
	assert_int_equal(tdxsim_fault_add(fx->sim, &r), -EINVAL);
	assert_int_equal(tdxsim_fault_nr_rules(fx->sim), 0);

	tdxsim_fault_rule_init(&r, TDH_MEM_TRACK, TDXSIM_FAULT_STATUS, BUSY_EPOCH);
	r.every = 3;
	t_id = tdxsim_fault_add(fx->sim, &r);
	assert_int_equal(t_id, 0);
	tdxsim_fault_rule_init(&r, TDH_MEM_PAGE_AUG, TDXSIM_FAULT_STATUS, BUSY_RCX);
	a_id = tdxsim_fault_add(fx->sim, &r);
	assert_int_equal(a_id, 1);
	for (int i = 0; i < 9; i++)
		track(fx->sim, fx->td->tdr_pa);
	for (int i = 0; i < 5; i++)
		assert_status(aug(fx, fx->td, GPA_2M(0), TDX_PS_2M, 0), BUSY_RCX);
	assert_int_equal(tdxsim_fault_fired(fx->sim, t_id), 3);
	assert_int_equal(tdxsim_fault_fired(fx->sim, a_id), 5);
	assert_int_equal(tdxsim_fault_fired(fx->sim, 2), 0);
	assert_int_equal(tdxsim_fault_fired(fx->sim, -1), 0);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 8);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_TRACK, BUSY_EPOCH), 3);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_TRACK, TDX_SUCCESS), 6);
	assert_int_equal(tdxsim_stats_count(fx->sim, TDH_MEM_PAGE_AUG, BUSY_RCX), 5);
	tdxsim_fault_clear(fx->sim);
	assert_int_equal(tdxsim_fault_fired_total(fx->sim), 0);
	assert_int_equal(tdxsim_fault_fired(fx->sim, t_id), 0);
	/* A new rule starts from zero matches. */
	add_rules(fx->sim, "track:busy=td_epoch:nth=1", 1);
	assert_status(track(fx->sim, fx->td->tdr_pa), BUSY_EPOCH);
	rules_done(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nth_fires_on_third_aug_only,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_every_k, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_max_caps_firings, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_two_rules_one_leaf, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_gpa_filter, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_level_filter, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_td_filter, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_thread_filter, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tdcall_accept_rule, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_alloc_enomem, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_status_fault_aug_state_unchanged,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_status_fault_demote_state_unchanged,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_demote_interruptible,
						fx_setup_runnable_interruptible, fx_teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_demote_enhanced, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test(test_probability_seeded),
		cmocka_unit_test(test_env_rules),
		cmocka_unit_test(test_env_malformed),
		cmocka_unit_test(test_env_refused),
		cmocka_unit_test(test_env_trace_path_too_long),
		cmocka_unit_test_setup_teardown(test_rule_api_refused, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_message_shape, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_errors_name_the_token,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parse_too_many_rules,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_add_and_statistics, fx_setup_runnable,
						fx_teardown),
	};

	return run_group(tests);
}
