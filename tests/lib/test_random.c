// SPDX-License-Identifier: GPL-2.0-only
/*
 * Random SEAMCALL sequences, legal or not, from a fixed seed: whatever the
 * host asks, the module must never break one of its own invariants.  Every
 * few calls tdxsim_check() runs; a violation fails the test with the seed and
 * the call that broke it.  At the end the TD is torn down and every page
 * handed to the module comes back.
 *
 * Operands come from small pools so that calls often hit live state: four
 * 2MB GPA ranges, pages the test allocated (4K and 2M), and now and then a
 * malformed operand (misaligned, outside memory, a bad level).
 */
#include <stdlib.h>

#include "harness.h"

#define NR_RANGES	4
#define NR_PAGES	24
#define NR_HUGE		4

struct rnd {
	struct fixture *fx;
	u64 state;
	u64 pages[NR_PAGES];
	u64 huge[NR_HUGE];
	struct tdxsim_vcpu *vcpu;
	unsigned int ops, busy, fails;
};

static u64 next(struct rnd *r)
{
	/* xorshift64*: deterministic on any machine */
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	return r->state * 0x2545F4914F6CDD1DULL;
}

static unsigned int pick(struct rnd *r, unsigned int n)
{
	return (unsigned int)(next(r) % n);
}

/* A GPA in one of the ranges, aligned to @level most of the time. */
static u64 rnd_gpa(struct rnd *r, int level)
{
	u64 gpa = GPA_2M(pick(r, NR_RANGES));

	u64 misalign = pick(r, 25) ? 0 : 0x800;

	if (level == TDX_PS_4K)
		gpa += (u64)pick(r, 4) * 4096 + (pick(r, 2) ? 0x1FF000 : 0);
	if (level > 0 && level <= 3)
		gpa &= ~(tdx_level_size(level) - 1);
	return gpa | misalign;
}

static int rnd_level(struct rnd *r, int lo, int hi)
{
	if (!pick(r, 30))
		return 5;		/* no such level */
	return lo + (int)pick(r, (unsigned int)(hi - lo + 1));
}

/* A 4K page from the pool, sometimes a huge one, sometimes garbage. */
static u64 rnd_page(struct rnd *r)
{
	unsigned int k = pick(r, 40);

	if (k == 0)
		return r->pages[0] + 0x10;			/* misaligned */
	if (k == 1)
		return 0x1000;					/* outside memory */
	if (k == 2)
		return r->huge[pick(r, NR_HUGE)] + 4096 * pick(r, 512);
	return r->pages[pick(r, NR_PAGES)];
}

static u64 call(struct rnd *r, u64 leaf, u64 rcx, u64 rdx, u64 r8, u64 r12, u64 r13)
{
	struct tdx_module_args a = { .rcx = rcx, .rdx = rdx, .r8 = r8, .r12 = r12, .r13 = r13 };

	return tdxsim_seamcall(r->fx->sim, leaf, &a);
}

static void one_op(struct rnd *r)
{
	struct fixture *fx = r->fx;
	u64 tdr = fx->td->tdr_pa, st = TDX_SUCCESS;
	int level;

	switch (pick(r, 17)) {
	case 0:
		level = rnd_level(r, 1, 3);
		st = call(r, TDH_MEM_SEPT_ADD, rnd_gpa(r, level) | (u64)(level & 7), tdr,
			  rnd_page(r), 0, 0);
		break;
	case 1:
	case 2:
		level = rnd_level(r, 0, 1);
		st = call(r, TDH_MEM_PAGE_AUG, rnd_gpa(r, level) | (u64)(level & 7), tdr,
			  level == TDX_PS_2M ? r->huge[pick(r, NR_HUGE)] : rnd_page(r), 0, 0);
		break;
	case 3:
		level = rnd_level(r, 0, 2);
		st = call(r, TDH_MEM_RANGE_BLOCK, rnd_gpa(r, level) | (u64)(level & 7), tdr, 0, 0, 0);
		break;
	case 4:
		level = rnd_level(r, 0, 2);
		st = call(r, TDH_MEM_RANGE_UNBLOCK, rnd_gpa(r, level) | (u64)(level & 7), tdr,
			  0, 0, 0);
		break;
	case 5:
		st = call(r, TDH_MEM_TRACK, tdr, 0, 0, 0, 0);
		tdxsim_td_kick_vcpus(fx->td);
		break;
	case 6:
		level = rnd_level(r, 1, 2);
		st = call(r, TDH_MEM_PAGE_DEMOTE, rnd_gpa(r, level) | (u64)(level & 7), tdr,
			  rnd_page(r), rnd_page(r), rnd_page(r));
		break;
	case 7:
		level = rnd_level(r, 1, 2);
		st = call(r, TDH_MEM_PAGE_PROMOTE, rnd_gpa(r, level) | (u64)(level & 7), tdr,
			  0, 0, 0);
		break;
	case 8:
	case 9:
		level = rnd_level(r, 0, 2);
		st = call(r, TDH_MEM_PAGE_REMOVE, rnd_gpa(r, level) | (u64)(level & 7), tdr,
			  0, 0, 0);
		break;
	case 10:
		level = rnd_level(r, 1, 3);
		st = call(r, TDH_MEM_SEPT_REMOVE, rnd_gpa(r, level) | (u64)(level & 7), tdr,
			  0, 0, 0);
		break;
	case 11:
		st = call(r, TDH_PHYMEM_PAGE_WBINVD,
			  tdxsim_mk_keyed_paddr(fx->sim, fx->td->hkid, rnd_page(r)), 0, 0, 0, 0);
		break;
	case 12:
		st = call(r, TDH_PHYMEM_PAMT_ADD, (rnd_page(r) & ~0x1FFFFFULL) | TDX_PS_2M,
			  rnd_page(r), rnd_page(r), 0, 0);
		break;
	case 13:
		st = call(r, TDH_PHYMEM_PAMT_REMOVE, (rnd_page(r) & ~0x1FFFFFULL) | TDX_PS_2M,
			  0, 0, 0, 0);
		break;
	case 14:
		if (!tdxsim_vcpu_in_guest(r->vcpu))
			st = tdxsim_vcpu_enter(r->vcpu);
		if (!st) {
			level = rnd_level(r, 0, 1);
			st = tdxsim_tdg_mem_page_accept(fx->sim, r->vcpu->tdvpr_pa, rnd_gpa(r, level),
						 level & 7);
		}
		break;
	case 15:
		st = call(r, TDH_PHYMEM_PAGE_RECLAIM, rnd_page(r), 0, 0, 0, 0);
		break;
	default:
		tdxsim_raise_interrupt(fx->sim, tdxsim_cpu_current(fx->sim));
		break;
	}
	r->ops++;
	if (IS_TDX_OPERAND_BUSY(st))
		r->busy++;
	else if (st && st != TDXSIM_TDCALL_TD_EXIT)
		r->fails++;
}

/*
 * Now and then a step sequence a host would really issue, so that the random
 * calls meet deep states too (split ranges, PAMT pairs, blocked entries).
 * Operands still come from the pools; nothing is asserted but invariants.
 */
static void one_macro(struct rnd *r)
{
	struct fixture *fx = r->fx;
	u64 tdr = fx->td->tdr_pa, gpa = GPA_2M(pick(r, NR_RANGES));
	u64 gpa4k = gpa + (u64)pick(r, 512) * 4096;

	switch (pick(r, 5)) {
	case 0:	/* tables down to 2MB, a 2MB page, guest accept */
		call(r, TDH_MEM_SEPT_ADD, (gpa & ~(tdx_level_size(3) - 1)) | 3, tdr, rnd_page(r), 0, 0);
		call(r, TDH_MEM_SEPT_ADD, (gpa & ~(tdx_level_size(2) - 1)) | 2, tdr, rnd_page(r), 0, 0);
		call(r, TDH_MEM_PAGE_AUG, gpa | TDX_PS_2M, tdr, r->huge[pick(r, NR_HUGE)], 0, 0);
		if (tdxsim_vcpu_in_guest(r->vcpu) || !tdxsim_vcpu_enter(r->vcpu))
			tdxsim_tdg_mem_page_accept(fx->sim, r->vcpu->tdvpr_pa, gpa, TDX_PS_2M);
		break;
	case 1:	/* split */
		call(r, TDH_MEM_RANGE_BLOCK, gpa | TDX_PS_2M, tdr, 0, 0, 0);
		call(r, TDH_MEM_TRACK, tdr, 0, 0, 0, 0);
		tdxsim_td_kick_vcpus(fx->td);
		call(r, TDH_MEM_PAGE_DEMOTE, gpa | TDX_PS_2M, tdr, rnd_page(r), rnd_page(r),
		     rnd_page(r));
		break;
	case 2:	/* merge back */
		call(r, TDH_MEM_RANGE_BLOCK, gpa | TDX_PS_2M, tdr, 0, 0, 0);
		call(r, TDH_MEM_TRACK, tdr, 0, 0, 0, 0);
		tdxsim_td_kick_vcpus(fx->td);
		call(r, TDH_MEM_PAGE_PROMOTE, gpa | TDX_PS_2M, tdr, 0, 0, 0);
		break;
	case 3:	/* remove a 4K page the KVM way */
		call(r, TDH_MEM_RANGE_BLOCK, gpa4k, tdr, 0, 0, 0);
		call(r, TDH_MEM_TRACK, tdr, 0, 0, 0, 0);
		tdxsim_td_kick_vcpus(fx->td);
		call(r, TDH_MEM_PAGE_REMOVE, gpa4k, tdr, 0, 0, 0);
		break;
	default: /* a 4K page where the range is split */
		call(r, TDH_MEM_PAGE_AUG, gpa4k, tdr, rnd_page(r), 0, 0);
		if (tdxsim_vcpu_in_guest(r->vcpu) || !tdxsim_vcpu_enter(r->vcpu))
			tdxsim_tdg_mem_page_accept(fx->sim, r->vcpu->tdvpr_pa, gpa4k, TDX_PS_4K);
		break;
	}
}

/*
 * Give back a pool page, 4K by 4K (teardown may already have freed the
 * pieces of a huge page that the module used as 4K pages).
 */
static void pool_release(struct rnd *r, u64 pa, int level)
{
	struct fixture *fx = r->fx;
	struct tdxsim_pamt_info pi;

	for (u64 off = 0; off < tdx_level_size(level); off += 4096) {
		assert_int_equal(tdxsim_pamt_lookup(fx->sim, pa + off, &pi), 0);
		if (!pi.allocated)
			continue;
		if (pi.dirty)
			assert_status(tdxsim_tdh_phymem_page_wbinvd_hkid(fx->sim, pi.dirty_hkid, pa + off),
				      TDX_SUCCESS);
		assert_int_equal(tdxsim_page_reset(fx->sim, pa + off, 4096), 0);
		assert_int_equal(tdxsim_page_free(fx->sim, pa + off, TDX_PS_4K), 0);
	}
}

/*
 * The random host misbehaves on purpose (it reuses pages without WBINVD):
 * host-misuse reports are expected; every other invariant must hold.
 */
static unsigned int module_violations(struct tdxsim *sim, struct tdxsim_report *rep)
{
	unsigned int n = 0;

	tdxsim_check(sim, rep);
	for (unsigned int i = 0; i < rep->nr && i < TDXSIM_REPORT_MAX; i++) {
		if (rep->v[i].what != TDXSIM_INV_HOST_MISUSE)
			n++;
	}
	return n;
}

static void run(void **state, u64 seed, unsigned int nr_ops)
{
	struct fixture *fx = *state;
	struct tdxsim_report rep;
	struct rnd r = { .fx = fx, .state = seed };
	struct tdxsim_td *td;
	unsigned int check_every = 50;

	if (getenv("TDXSIM_VALGRIND")) {
		nr_ops /= 5;
		check_every = 200;
	}
	r.vcpu = fx->vcpu;
	for (int i = 0; i < NR_PAGES; i++)
		r.pages[i] = fx_alloc_4k(fx);
	for (int i = 0; i < NR_HUGE; i++) {
		r.huge[i] = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
		assert_true(r.huge[i] != 0);
	}
	for (unsigned int i = 0; i < nr_ops; i++) {
		if (!pick(&r, 4))
			one_macro(&r);
		else
			one_op(&r);
		if (i % check_every == 0 && module_violations(fx->sim, &rep)) {
			tdxsim_report_print(&rep, stderr);
			fail_msg("seed %#llx: invariant broken after call #%llu (op %u)",
				 (unsigned long long)seed, (unsigned long long)tdxsim_seq(fx->sim), i);
		}
	}
	if (module_violations(fx->sim, &rep)) {
		tdxsim_report_print(&rep, stderr);
		fail_msg("seed %#llx: invariant broken at the end", (unsigned long long)seed);
	}
	print_message("# seed %#llx: %u calls, %u failed as the module would, %u BUSY\n",
		      (unsigned long long)seed, r.ops, r.fails, r.busy);
	/* Some calls must have succeeded and some failed, or the pools are wrong. */
	assert_true(r.fails > 0 && r.fails < r.ops);

	td = fx->td;
	fx->td = NULL;		/* the handle is gone whatever teardown says */
	assert_int_equal(tdxsim_td_teardown(td, TDXSIM_TEARDOWN_FREE_PAMT), 0);
	for (int i = 0; i < NR_PAGES; i++)
		pool_release(&r, r.pages[i], TDX_PS_4K);
	for (int i = 0; i < NR_HUGE; i++)
		pool_release(&r, r.huge[i], TDX_PS_2M);
	fx->expect_violations = true;	/* the host misuse above, nothing else (checked) */
	assert_int_equal(module_violations(fx->sim, &rep), 0);
	assert_int_equal(tdxsim_pages_in_use(fx->sim), 0);
}

static void test_random_dpamt(void **state)
{
	run(state, 0x5EED0001ULL, 20000);
}

static void test_random_dpamt_seed2(void **state)
{
	run(state, 0x5EED0002ULL, 20000);
}

static void test_random_static(void **state)
{
	run(state, 0x5EED0003ULL, 20000);
}

static void test_random_interruptible(void **state)
{
	run(state, 0x5EED0004ULL, 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_random_dpamt, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_random_dpamt_seed2, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_random_static, fx_setup_runnable_nodpamt,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_random_interruptible,
						fx_setup_runnable_interruptible, fx_teardown),
	};

	return run_group(tests);
}
