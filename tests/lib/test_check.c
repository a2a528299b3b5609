// SPDX-License-Identifier: GPL-2.0-only
/*
 * tdxsim_check() (lib/check.c): for each invariant, build a clean state with
 * real SEAMCALLs, check it is clean, break one thing through the internal
 * structures, and check that the report says what broke, where (HPA, GPA,
 * TD) and which call last touched it (.seq == tdxsim_seq() right after that
 * call).  Every test puts the state back and checks it is clean again, so the
 * fixture teardown still verifies everything.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tdxsim-internal.h"

static struct td *fx_td(struct fixture *fx)
{
	struct td *td = td_by_tdr(fx->sim, fx->td->tdr_pa);

	assert_non_null(td);
	return td;
}

static void assert_clean(struct fixture *fx)
{
	struct tdxsim_report rep;
	int n = tdxsim_check(fx->sim, &rep);

	if (n)
		tdxsim_report_print(&rep, stderr);
	assert_int_equal(n, 0);
	assert_int_equal(rep.nr, 0);
}

/*
 * The report must hold a violation of @what at @hpa with the given GPA, TD
 * and sequence number, and a message.  Other violations may come with it
 * (one corruption can break two invariants).
 */
static void expect_violation(struct fixture *fx, enum tdxsim_invariant what, u64 hpa, u64 gpa,
			     u64 tdr, u64 seq)
{
	struct tdxsim_report rep;
	int n = tdxsim_check(fx->sim, &rep);

	assert_true(n > 0);
	assert_int_equal(rep.nr, (unsigned int)n);
	for (unsigned int i = 0; i < rep.nr && i < TDXSIM_REPORT_MAX; i++) {
		const struct tdxsim_violation *v = &rep.v[i];

		if (v->what != what || v->hpa != hpa)
			continue;
		assert_int_equal(v->gpa, gpa);
		assert_int_equal(v->tdr_pa, tdr);
		assert_true(seq != 0);
		assert_int_equal(v->seq, seq);
		assert_true(strlen(v->msg) > 0);
		return;
	}
	tdxsim_report_print(&rep, stderr);
	fail_msg("no %s violation at %#llx", tdxsim_invariant_name(what),
		 (unsigned long long)hpa);
}

/* A 4K guest page at GPA_2M(0) + 0x3000; *seq = the AUG's sequence number. */
static u64 aug_page(struct fixture *fx, u64 *gpa, u64 *seq)
{
	u64 hpa;

	*gpa = GPA_2M(0) + 0x3000;
	hpa = fx_aug(fx, *gpa, TDX_PS_4K);
	*seq = tdxsim_seq(fx->sim);
	return hpa;
}

/* TDR child count vs pages owned: the TD's .seq is the last call that changed it. */
static void test_chldcnt(void **state)
{
	struct fixture *fx = *state;
	struct td *td = fx_td(fx);
	u64 gpa, seq;

	aug_page(fx, &gpa, &seq);
	assert_clean(fx);
	td->chldcnt++;
	expect_violation(fx, TDXSIM_INV_CHLDCNT, fx->td->tdr_pa, ~0ULL, fx->td->tdr_pa, seq);
	td->chldcnt--;
	assert_clean(fx);
}

/* A mapped leaf whose 4K PAMT entry no longer says PT_REG. */
static void test_leaf_pamt(void **state)
{
	struct fixture *fx = *state;
	u64 gpa, seq, hpa = aug_page(fx, &gpa, &seq);
	struct pamt_entry *e = pamt_entry_at(fx->sim, hpa, TDX_PS_4K);
	u8 pt = e->pt;

	/* ACCEPT writes the S-EPT, not the PAMT: .seq still names the AUG. */
	fx_enter(fx);
	assert_status(tdxsim_tdg_mem_page_accept(fx->sim, fx->vcpu->tdvpr_pa, gpa, TDX_PS_4K), TDX_SUCCESS);
	tdxsim_vcpu_exit(fx->vcpu);
	assert_true(tdxsim_seq(fx->sim) > seq);
	assert_clean(fx);

	e->pt = PT_TDCX;
	expect_violation(fx, TDXSIM_INV_LEAF_PAMT, hpa, gpa, fx->td->tdr_pa, seq);
	e->pt = pt;
	assert_clean(fx);
}

/* An S-EPT page whose PAMT entry is not PT_EPT. */
static void test_sept_page_pamt(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_sept_info si;
	struct pamt_entry *e;
	u64 gpa, seq;
	u8 pt;

	aug_page(fx, &gpa, &seq);
	/* The 4K table under the 2MB entry; the AUG was the last write into it. */
	assert_int_equal(tdxsim_sept_lookup_level(fx->sim, fx->td, gpa, TDX_PS_2M, &si), 0);
	assert_int_equal(si.state, SEPT_PUBLIC_NL_MAPPED);
	assert_clean(fx);
	e = pamt_entry_at(fx->sim, si.hpa, TDX_PS_4K);
	pt = e->pt;
	e->pt = PT_REG;
	expect_violation(fx, TDXSIM_INV_SEPT_PAGE_PAMT, si.hpa, GPA_2M(0), fx->td->tdr_pa, seq);
	e->pt = pt;
	assert_clean(fx);
}

/* DPAMT node page count != 4K pages in use in its 2MB range. */
static void test_dpamt_count(void **state)
{
	struct fixture *fx = *state;
	u64 gpa, seq, hpa = aug_page(fx, &gpa, &seq);
	u64 range = hpa & ~(SZ_2M - 1);
	struct dpamt_node *n = &fx->sim->dpamt[pa_to_idx2m(fx->sim, hpa)];

	assert_clean(fx);
	n->page_count--;
	expect_violation(fx, TDXSIM_INV_DPAMT_COUNT, range, ~0ULL, 0, seq);
	n->page_count++;
	assert_clean(fx);
}

/* A pair page that lost its PAMT-page bitmap bit. */
static void test_dpamt_pair(void **state)
{
	struct fixture *fx = *state;
	u64 gpa, seq, hpa = aug_page(fx, &gpa, &seq);
	struct tdxsim_pamt_info pi;

	assert_int_equal(tdxsim_pamt_lookup(fx->sim, hpa, &pi), 0);
	assert_true(pi.dpamt_pair);
	assert_clean(fx);
	page_flags_clear(fx->sim, pi.dpamt_pages[1], PG_PAMT_PAGE);
	/* .seq: the last call that touched the range the pair serves (the AUG). */
	expect_violation(fx, TDXSIM_INV_DPAMT_PAIR, pi.dpamt_pages[1], ~0ULL, 0, seq);
	page_flags_set(fx->sim, pi.dpamt_pages[1], PG_PAMT_PAGE);
	assert_clean(fx);
}

/* A page the module owns that the host pool says is free. */
static void test_free_owned(void **state)
{
	struct fixture *fx = *state;
	u64 gpa, seq, hpa = aug_page(fx, &gpa, &seq);

	assert_clean(fx);
	page_flags_clear(fx->sim, hpa, PG_ALLOCATED);
	expect_violation(fx, TDXSIM_INV_FREE_OWNED, hpa, ~0ULL, fx->td->tdr_pa, seq);
	page_flags_set(fx->sim, hpa, PG_ALLOCATED);
	assert_clean(fx);
}

/* Epoch refcount that no vCPU in guest accounts for; .seq is the last TRACK. */
static void test_epoch(void **state)
{
	struct fixture *fx = *state;
	struct td *td = fx_td(fx);
	u64 gpa, seq;

	aug_page(fx, &gpa, &seq);
	assert_status(tdxsim_tdh_mem_track(fx->td), TDX_SUCCESS);
	seq = tdxsim_seq(fx->sim);
	fx_enter(fx);	/* a real vCPU in guest is accounted for */
	assert_clean(fx);
	td->refcount[0]++;
	expect_violation(fx, TDXSIM_INV_EPOCH, fx->td->tdr_pa, ~0ULL, fx->td->tdr_pa, seq);
	td->refcount[0]--;
	tdxsim_vcpu_exit(fx->vcpu);
	assert_clean(fx);
}

/* A PAMT entry given to the TD with nothing in its S-EPT referring to it. */
static void test_orphan(void **state)
{
	struct fixture *fx = *state;
	struct td *td = fx_td(fx);
	u64 gpa, seq, hpa = aug_page(fx, &gpa, &seq);
	u64 page = fx_alloc_4k(fx);
	struct pamt_entry *e = pamt_entry_at(fx->sim, page, TDX_PS_4K);

	/* Same 2MB range as the AUG's page, no call since: .seq is the AUG. */
	assert_int_equal(page & ~(SZ_2M - 1), hpa & ~(SZ_2M - 1));
	assert_int_equal(tdxsim_seq(fx->sim), seq);
	assert_clean(fx);
	e->pt = PT_REG;
	e->owner = td->id;
	expect_violation(fx, TDXSIM_INV_ORPHAN, page, ~0ULL, fx->td->tdr_pa, seq);
	e->pt = PT_NDA;
	e->owner = 0;
	assert_clean(fx);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);
}

/* Restore the misuse log (it is append-only by design). */
static void forget_misuse(struct fixture *fx)
{
	pthread_mutex_lock(&fx->sim->misuse_lock);
	fx->sim->nr_misuse = 0;
	pthread_mutex_unlock(&fx->sim->misuse_lock);
}

/* The host frees a page twice, and frees a page the module owns. */
static void test_host_misuse(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_report rep;
	u64 gpa, seq, hpa = aug_page(fx, &gpa, &seq);
	u64 page = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	bool named = false;

	assert_true(page != 0);
	assert_clean(fx);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), -EINVAL);
	expect_violation(fx, TDXSIM_INV_HOST_MISUSE, page, ~0ULL, 0, seq);
	assert_int_equal(tdxsim_check(fx->sim, &rep), 1);
	assert_non_null(strstr(rep.v[0].msg, "double free"));

	assert_int_equal(tdxsim_page_free(fx->sim, hpa, TDX_PS_4K), -EBUSY);
	expect_violation(fx, TDXSIM_INV_HOST_MISUSE, hpa, ~0ULL, 0, seq);
	assert_int_equal(tdxsim_check(fx->sim, &rep), 2);
	for (unsigned int i = 0; i < 2; i++)
		named |= rep.v[i].hpa == hpa && strstr(rep.v[i].msg, "owns") != NULL;
	assert_true(named);
	forget_misuse(fx);
	assert_clean(fx);
}

/*
 * More misuses than the log holds (found by fuzz-seamcall, which reuses one
 * simulator for millions of inputs): the report lists the last MISUSE_LOG
 * of them, each once, and its cost stays bounded.  It used to walk every
 * misuse ever recorded through the ring: entries repeated and each
 * tdxsim_check() grew slower for the life of the simulator.
 */
static void test_host_misuse_log_wraps(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_report rep;
	const unsigned int nr = MISUSE_LOG + 4;
	u64 page = tdxsim_page_alloc(fx->sim, TDX_PS_4K);

	assert_true(page != 0);
	assert_int_equal(tdxsim_page_free(fx->sim, page, TDX_PS_4K), 0);
	/* Double frees at nr distinct addresses, the oldest first. */
	for (unsigned int i = 0; i < nr; i++)
		assert_int_equal(tdxsim_page_free(fx->sim, page + i * 4096ULL, TDX_PS_4K), -EINVAL);
	assert_int_equal(tdxsim_check(fx->sim, &rep), MISUSE_LOG);
	assert_int_equal(rep.nr, MISUSE_LOG);
	for (unsigned int i = 0; i < MISUSE_LOG; i++) {
		assert_int_equal(rep.v[i].what, TDXSIM_INV_HOST_MISUSE);
		/* The last MISUSE_LOG, oldest first: no address twice. */
		assert_int_equal(rep.v[i].hpa, page + (nr - MISUSE_LOG + i) * 4096ULL);
	}
	forget_misuse(fx);
	assert_clean(fx);
}

/* Locks left held while quiescent: an S-EPT entry, a PAMT entry, a TD lock. */
static void test_lock_held(void **state)
{
	struct fixture *fx = *state;
	struct td *td = fx_td(fx);
	u64 gpa, seq, hpa = aug_page(fx, &gpa, &seq);
	struct pamt_entry *pe = pamt_entry_at(fx->sim, hpa, TDX_PS_4K);
	struct tdxsim_report rep;
	struct sept_walk w;
	u64 *ep;

	assert_clean(fx);
	sept_walk(td, gpa, TDX_PS_4K, &w);
	assert_int_equal(w.level, TDX_PS_4K);
	ep = sept_walk_ep(&w);
	assert_true(sept_lock_host(ep));
	expect_violation(fx, TDXSIM_INV_LOCK_HELD, hpa, gpa, fx->td->tdr_pa, seq);
	sept_unlock(ep);
	assert_clean(fx);

	assert_true(pamt_try_lock(pe, TDX_LOCK_SHARED));
	expect_violation(fx, TDXSIM_INV_LOCK_HELD, hpa, ~0ULL, fx->td->tdr_pa, seq);
	pamt_unlock(pe, TDX_LOCK_SHARED);
	assert_clean(fx);

	/* The 1GB entry above it, which every PAMT walk holds shared. */
	pe = pamt_entry_at(fx->sim, hpa, TDX_PS_1G);
	assert_int_equal(pe->pt, PT_NDA);
	assert_true(pamt_try_lock(pe, TDX_LOCK_SHARED));
	assert_int_equal(tdxsim_check(fx->sim, &rep), 1);
	assert_int_equal(rep.v[0].what, TDXSIM_INV_LOCK_HELD);
	assert_int_equal(rep.v[0].hpa, hpa & ~((1ULL << 30) - 1));
	assert_non_null(strstr(rep.v[0].msg, "1GB"));
	pamt_unlock(pe, TDX_LOCK_SHARED);
	assert_clean(fx);

	assert_true(sharex_try_lock(&td->sept_lock, TDX_LOCK_EXCLUSIVE));
	expect_violation(fx, TDXSIM_INV_LOCK_HELD, fx->td->tdr_pa, ~0ULL, fx->td->tdr_pa, seq);
	sharex_unlock(&td->sept_lock, TDX_LOCK_EXCLUSIVE);
	assert_clean(fx);
}

/* More violations than the report holds: nr counts them all, print says so. */
static void test_report_overflow(void **state)
{
	struct fixture *fx = *state;
	const unsigned int extra = 6, total = TDXSIM_REPORT_MAX + extra;
	struct tdxsim_report rep;
	u64 pages[TDXSIM_REPORT_MAX + 6];
	char *buf = NULL, tail[64];
	size_t len = 0;
	FILE *f;

	/* Free host pages flagged as PAMT pages that no 2MB node uses. */
	for (unsigned int i = 0; i < total; i++) {
		pages[i] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
		assert_true(pages[i] != 0);
	}
	assert_clean(fx);
	for (unsigned int i = 0; i < total; i++)
		page_flags_set(fx->sim, pages[i], PG_PAMT_PAGE);
	assert_int_equal(tdxsim_check(fx->sim, NULL), (int)total);
	assert_int_equal(tdxsim_check(fx->sim, &rep), (int)total);
	assert_int_equal(rep.nr, total);
	for (unsigned int i = 0; i < TDXSIM_REPORT_MAX; i++)
		assert_int_equal(rep.v[i].what, TDXSIM_INV_DPAMT_PAIR);

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	tdxsim_report_print(&rep, f);
	fclose(f);
	snprintf(tail, sizeof(tail), "... and %u more", extra);
	assert_non_null(strstr(buf, tail));
	assert_non_null(strstr(buf, tdxsim_invariant_name(TDXSIM_INV_DPAMT_PAIR)));
	free(buf);

	for (unsigned int i = 0; i < total; i++) {
		page_flags_clear(fx->sim, pages[i], PG_PAMT_PAGE);
		assert_int_equal(tdxsim_page_free(fx->sim, pages[i], TDX_PS_4K), 0);
	}
	assert_clean(fx);
}

/* The printed report names the invariant, the place and the call. */
static void test_report_print(void **state)
{
	struct fixture *fx = *state;
	struct td *td = fx_td(fx);
	struct tdxsim_report rep;
	u64 gpa, seq, hpa = aug_page(fx, &gpa, &seq);
	struct pamt_entry *e = pamt_entry_at(fx->sim, hpa, TDX_PS_4K);
	char *buf = NULL, want[64];
	size_t len = 0;
	FILE *f;

	td->chldcnt += 3;
	e->pt = PT_TDVPR;
	assert_int_equal(tdxsim_check(fx->sim, &rep), 2);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	tdxsim_report_print(&rep, f);
	fclose(f);
	assert_non_null(strstr(buf, tdxsim_invariant_name(TDXSIM_INV_CHLDCNT)));
	assert_non_null(strstr(buf, tdxsim_invariant_name(TDXSIM_INV_LEAF_PAMT)));
	snprintf(want, sizeof(want), "GPA %#llx", (unsigned long long)gpa);
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof(want), "HPA %#llx", (unsigned long long)hpa);
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof(want), "call #%llu", (unsigned long long)seq);
	assert_non_null(strstr(buf, want));
	assert_null(strstr(buf, "more"));
	free(buf);
	td->chldcnt -= 3;
	e->pt = PT_REG;
	assert_clean(fx);
}

/* Every invariant has its own name. */
static void test_invariant_names(void **state)
{
	(void)state;
	for (int i = 0; i < TDXSIM_INV_NR; i++) {
		const char *n = tdxsim_invariant_name((enum tdxsim_invariant)i);

		assert_non_null(n);
		assert_string_not_equal(n, "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, tdxsim_invariant_name((enum tdxsim_invariant)j));
	}
	assert_string_equal(tdxsim_invariant_name(TDXSIM_INV_NR), "?");
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, fx_setup_runnable, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_chldcnt),
		T(test_leaf_pamt),
		T(test_sept_page_pamt),
		T(test_dpamt_count),
		T(test_dpamt_pair),
		T(test_free_owned),
		T(test_epoch),
		T(test_orphan),
		T(test_host_misuse),
		T(test_host_misuse_log_wraps),
		T(test_lock_held),
		T(test_report_overflow),
		T(test_report_print),
		cmocka_unit_test(test_invariant_names),
	};

	return run_group(tests);
}
