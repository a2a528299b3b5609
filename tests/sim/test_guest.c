// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest programs (sim/vcpu) on a struct tdxsim_vm, once per hook design
 * (sim-guest-v3, sim-guest-upstream): the cover letter's §5 flows a and b
 * (review-scenarios.md S13) as two-line programs, the Linux guest's 2M
 * accept with its 4K fallback, MapGPA conversions, the step budget, and a
 * stress run of two vCPU threads against a converter thread that ends with
 * every invariant holding and every page back.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include <tdxsim/kernel.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>
#include <tdxsim-kvm/vcpu.h>
#include <tdxsim-kvm/vm.h>

#define G	0x40000000ULL
#define S_2M	(2ULL << 20)
#define S_4K	4096ULL

static struct tdxsim_vm *vm_new(int nr_vcpus, u64 size)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *vm;
	int err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
	cfg.nr_vcpus = nr_vcpus;
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, G, size, TDXSIM_SLOT_PRIVATE), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, G, size, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	return vm;
}

static u64 calls(struct tdxsim_vm *vm, unsigned int leaf)
{
	struct tdxsim_leaf_stats st;

	assert_int_equal(tdxsim_stats_leaf(tdxsim_vm_sim(vm), leaf, &st), 0);
	return st.calls;
}

static int mirror_level(struct tdxsim_vm *vm, u64 gpa)
{
	int level;
	u64 spte = kvm_tdp_mmu_read_mirror(tdxsim_vm_kvm(vm), gpa >> PAGE_SHIFT, &level);

	return is_shadow_present_pte(spte) ? level : PG_LEVEL_NONE;
}

static bool inhibited(struct tdxsim_vm *vm, u64 gpa, int level)
{
	struct kvm *kvm = tdxsim_vm_kvm(vm);

	return hugepage_test_guest_inhibit(gfn_to_memslot(kvm, gpa >> PAGE_SHIFT),
					   gpa >> PAGE_SHIFT, level);
}

static void assert_check_clean(struct tdxsim_vm *vm)
{
	struct kvm_check_report *rep = calloc(1, sizeof(*rep));

	assert_non_null(rep);
	if (kvm_tdx_check(tdxsim_vm_kvm(vm), rep)) {
		kvm_check_report_print(rep, stderr);
		free(rep);
		fail();
	}
	free(rep);
}

static void teardown_clean(struct tdxsim_vm *vm)
{
	struct tdxsim_vm_summary sum;

	assert_int_equal(tdxsim_vm_teardown(vm), 0);
	tdxsim_vm_summary(vm, &sum);
	assert_false(sum.vm_bugged);
	assert_int_equal(sum.pages_in_use, sum.pages_baseline);
	assert_int_equal(sum.module_violations, 0);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_WARN), 0);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_KVM_BUG), 0);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_TDX_BUG), 0);
	assert_int_equal(kvm_prov_balance(tdxsim_vm_sim(vm), NULL), 0);
	tdxsim_vm_destroy(vm);
}

#define ACCESS(a, w)	{ .kind = TDXSIM_GUEST_ACCESS, .gpa = (a), .write = (w) }
#define ACCEPT(a, l, f)	{ .kind = TDXSIM_GUEST_ACCEPT, .gpa = (a), .level = (l), .fallback = (f) }
#define CONVERT(a, s, p) { .kind = TDXSIM_GUEST_CONVERT, .gpa = (a), .size = (s), .to_private = (p) }
#define SPIN(k)		{ .kind = TDXSIM_GUEST_SPIN, .n = (k) }

/*
 * Flow a (S13a, a guest that touches memory before accepting it): the
 * access faults G in at 2M (one AUG), the #VE on the PENDING page makes
 * the guest accept G at 4K, the module reports an ACCEPT exit at 4K, KVM
 * splits (one DEMOTE) and inhibits 2M, the accept goes through; the later
 * ACCEPT(G+20K, 4K) needs no exit.
 */
static void test_flow_a(void **state)
{
	struct tdxsim_vm *vm = vm_new(1, S_2M);
	struct tdxsim_guest_op prog[] = { ACCESS(G, true), ACCEPT(G + 5 * S_4K, PG_LEVEL_4K, false) };
	struct tdxsim_guest_result res;

	assert_int_equal(tdxsim_vcpu_run_prog(vm, 0, prog, 2, 0, &res), 0);
	assert_int_equal(res.ops_done, 2);
	assert_false(res.budget_hit);
	assert_int_equal(prog[0].status, TDX_SUCCESS);
	assert_int_equal(prog[1].status, TDX_SUCCESS);
	assert_int_equal(res.ept_exits, 1);
	assert_int_equal(res.accept_exits, 1);
	assert_int_equal(res.ves, 1);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(tdxsim_stats_count(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE, TDX_SUCCESS), 1);
	assert_true(inhibited(vm, G, PG_LEVEL_2M));
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_4K);
	/* Entered for the access, after each of the two exits, and left at the end. */
	assert_int_equal(res.entries, 3);
	assert_int_equal(res.exits, 3);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/* Flow b (S13b): ACCEPT(G, 4K) first: one ACCEPT exit, inhibit, AUG at 4K, no DEMOTE. */
static void test_flow_b(void **state)
{
	struct tdxsim_vm *vm = vm_new(1, S_2M);
	struct tdxsim_guest_op prog[] = { ACCEPT(G, PG_LEVEL_4K, false), ACCESS(G, false) };
	struct tdxsim_guest_result res;

	assert_int_equal(tdxsim_vcpu_run_prog(vm, 0, prog, 2, 0, &res), 0);
	assert_int_equal(prog[0].status, TDX_SUCCESS);
	assert_int_equal(prog[1].status, TDX_SUCCESS);
	assert_int_equal(res.accept_exits, 1);
	assert_int_equal(res.ept_exits, 0);
	assert_int_equal(res.ves, 0);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), 0);
	assert_true(inhibited(vm, G, PG_LEVEL_2M));
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_4K);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/*
 * The Linux guest's ACCEPT(2M) on a range KVM maps at 4K: the module says
 * TDX_PAGE_SIZE_MISMATCH; without the fallback that is the op's status,
 * with it the guest accepts 512 x 4K (the one accepted before counts as
 * done, each other one exits once for its AUG).
 */
static void test_accept_2m_fallback(void **state)
{
	struct tdxsim_vm *vm = vm_new(1, S_2M);
	struct tdxsim_guest_op prog[] = {
		ACCEPT(G, PG_LEVEL_4K, false),
		ACCEPT(G, PG_LEVEL_2M, false),
		ACCEPT(G, PG_LEVEL_2M, true),
	};
	struct tdxsim_guest_result res;

	assert_int_equal(tdxsim_vcpu_run_prog(vm, 0, prog, 3, 0, &res), 0);
	assert_int_equal(prog[0].status, TDX_SUCCESS);
	assert_int_equal(prog[1].status & TDX_STATUS_MASK, TDX_PAGE_SIZE_MISMATCH);
	assert_int_equal(prog[2].status, TDX_SUCCESS);
	assert_int_equal(res.accept_exits, 1 + 511);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 512);
	assert_int_equal(mirror_level(vm, G + S_2M - S_4K), PG_LEVEL_4K);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/* MapGPA: the VMM converts during the program; the guest's status is the conversion's. */
static void test_convert_op(void **state)
{
	struct tdxsim_vm *vm = vm_new(1, S_2M);
	struct tdxsim_guest_op prog[] = {
		ACCEPT(G, PG_LEVEL_2M, false),
		CONVERT(G + 5 * S_4K, S_4K, false),
		CONVERT(G + 1, S_4K, false),
		ACCESS(G + 6 * S_4K, true),
	};
	struct tdxsim_guest_result res;

	assert_int_equal(tdxsim_vcpu_run_prog(vm, 0, prog, 4, 0, &res), 0);
	assert_int_equal(prog[0].status, TDX_SUCCESS);
	assert_int_equal(mirror_level(vm, G + 6 * S_4K), PG_LEVEL_4K);
	assert_int_equal(prog[1].status, 0);
	assert_int_equal((s64)prog[2].status, -EINVAL);
	assert_int_equal(prog[3].status, TDX_SUCCESS);
	assert_false(kvm_mem_is_private(tdxsim_vm_kvm(vm), (G >> PAGE_SHIFT) + 5));
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), 1);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_REMOVE), 1);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/* KVM's errors end the program (KVM_RUN returns them); the budget ends a spin. */
static void test_errors_and_budget(void **state)
{
	struct tdxsim_vm *vm = vm_new(1, S_2M);
	struct tdxsim_guest_op shared[] = { CONVERT(G, S_4K, false), ACCESS(G, true), SPIN(1) };
	struct tdxsim_guest_op spin[] = { SPIN(1000) };
	struct tdxsim_guest_result res;

	/* A private access to a GFN the attributes made shared: the memory-fault exit. */
	assert_int_equal(tdxsim_vcpu_run_prog(vm, 0, shared, 3, 0, &res), -EFAULT);
	assert_int_equal(res.ops_done, 1);
	assert_int_equal(res.ept_exits, 1);
	assert_false(tdxsim_vp_in_guest(tdxsim_vm_sim(vm), tdxsim_vm_vcpu_tdvpr(vm, 0)));

	assert_int_equal(tdxsim_vcpu_run_prog(vm, 0, spin, 1, 10, &res), -EINTR);
	assert_true(res.budget_hit);
	assert_int_equal(res.steps, 10);
	assert_int_equal(res.ops_done, 0);
	assert_int_equal(tdxsim_vcpu_run_prog(vm, 1, spin, 1, 10, &res), -EINVAL);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/* ---- S24: faults wait for guest_memfd's invalidate lock ---- */
static long fault_waits(struct kvm *kvm)
{
	long n;

	pthread_mutex_lock(&kvm->gmem_inval_mutex);
	n = kvm->stat.gmem_fault_waits;
	pthread_mutex_unlock(&kvm->gmem_inval_mutex);
	return n;
}

/* Until a fault waits (bounded: 10 s); false if none did. */
static bool wait_for_waiter(struct kvm *kvm, long want)
{
	struct timespec ts = { 0, 1000000 };
	int i;

	for (i = 0; i < 10000; i++) {
		if (fault_waits(kvm) >= want)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/*
 * With the lock held over the whole file (guest_memfd's way), a vCPU's
 * fault anywhere waits until the holder lets go, then completes; with the
 * lock by range (S24's variant), a fault outside the held range does not
 * wait, one inside does.
 */
static void gmem_lock_stall(bool by_range)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_guest_op in[] = { ACCESS(G, true) };
	struct tdxsim_guest_op out[] = { ACCESS(G + S_2M, true) };
	struct tdxsim_vcpu_thread *thr;
	struct tdxsim_guest_result res;
	struct tdxsim_vm *vm;
	struct kvm *kvm;
	int err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	cfg.gmem_lock_by_range = by_range;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	kvm = tdxsim_vm_kvm(vm);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, G, 2 * S_2M, TDXSIM_SLOT_PRIVATE), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, G, 2 * S_2M, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);

	/* Held over the first 2M, as a conversion there would hold it. */
	tdxsim_kvm_gmem_invalidate_lock(kvm, by_range ? G >> PAGE_SHIFT : 0,
					by_range ? (G + S_2M) >> PAGE_SHIFT : ~0ULL);
	assert_int_equal(tdxsim_vcpu_start(vm, 0, out, 1, 0, &thr), 0);
	if (by_range) {
		assert_int_equal(tdxsim_vcpu_join(thr, &res), 0);
		assert_int_equal(fault_waits(kvm), 0);
	} else {
		assert_true(wait_for_waiter(kvm, 1));
		assert_int_equal(mirror_level(vm, G + S_2M), PG_LEVEL_NONE);
		tdxsim_kvm_gmem_invalidate_unlock(kvm);
		assert_int_equal(tdxsim_vcpu_join(thr, &res), 0);
		tdxsim_kvm_gmem_invalidate_lock(kvm, 0, ~0ULL);
	}
	assert_int_equal(out[0].status, TDX_SUCCESS);
	assert_int_equal(tdxsim_vcpu_start(vm, 0, in, 1, 0, &thr), 0);
	assert_true(wait_for_waiter(kvm, by_range ? 1 : 2));
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_NONE);
	tdxsim_kvm_gmem_invalidate_unlock(kvm);
	assert_int_equal(tdxsim_vcpu_join(thr, &res), 0);
	assert_int_equal(in[0].status, TDX_SUCCESS);
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_4K);
	assert_true(kvm->stat.gmem_wait_max_ns > 0);
	tdxsim_kernel_set_current(tdxsim_vm_sim(vm));
	assert_check_clean(vm);
	teardown_clean(vm);
}

static void test_gmem_lock_whole_file(void **state)
{
	gmem_lock_stall(false);
}

static void test_gmem_lock_by_range(void **state)
{
	gmem_lock_stall(true);
}

/* ---- the stress run ---- */
#define STRESS_ROUNDS	64
#define STRESS_VCPU_OPS	96

struct converter {
	struct tdxsim_vm *vm;
	int rounds;
	int errors;
	int first_range;	/* the 2M ranges it converts in: first_range.. */
	int nr_ranges;		/* ..first_range + nr_ranges - 1 */
};

/*
 * The VMM's converter, on vCPU 2 for its pre-faults: in its 2M ranges it
 * pre-faults a page of the lower half (at 2M while the range is uniform),
 * then converts a page of the upper half to shared and back: the first
 * conversion of each range splits its 2M mapping (BLOCK, TRACK, the kick
 * that takes the running vCPUs out, DEMOTE) and its folio, each one
 * REMOVEs.  The first stress run keeps it in ranges 4 and 5, which the
 * guest programs leave alone; the second gives it the vCPUs' ranges 0-3
 * (their upper halves), so its BLOCK, TRACK and DEMOTE meet vCPUs that
 * enter, accept and access in the same 2M ranges.
 */
static void *converter_fn(void *arg)
{
	struct converter *c = arg;
	int i, level;

	for (i = 0; i < c->rounds; i++) {
		u64 range = G + (u64)(c->first_range + i % c->nr_ranges) * S_2M;
		u64 gpa = range + S_2M / 2 + (u64)(i % 16) * S_4K;

		if (tdxsim_vm_map(c->vm, 2, range + (u64)(i % 64) * S_4K, &level) ||
		    tdxsim_vm_convert(c->vm, gpa, S_4K, false) ||
		    tdxsim_vm_convert(c->vm, gpa, S_4K, true))
			c->errors++;
		sched_yield();
	}
	tdxsim_kernel_set_current(NULL);
	return NULL;
}

/* vCPU @v: accesses and accepts in the lower halves of 2M ranges @v and @v + 2. */
static void stress_prog(struct tdxsim_guest_op *ops, int v)
{
	int i;

	for (i = 0; i < STRESS_VCPU_OPS; i++) {
		u64 gpa = G + (v + 2 * ((i / 3) % 2)) * S_2M + (u64)((i * 7) % 256) * S_4K;

		if (i % 3 == 2)
			ops[i] = (struct tdxsim_guest_op)SPIN(3);
		else if (i % 3 == 1)
			ops[i] = (struct tdxsim_guest_op)ACCEPT(gpa, PG_LEVEL_4K, false);
		else
			ops[i] = (struct tdxsim_guest_op)ACCESS(gpa, i & 1);
	}
}

static void stress_two_vcpus_and_converter(int first_range, int nr_ranges)
{
	struct tdxsim_vm *vm = vm_new(3, 6 * S_2M);
	static struct tdxsim_guest_op ops[2][STRESS_VCPU_OPS];
	struct converter conv = {
		.vm = vm, .rounds = STRESS_ROUNDS,
		.first_range = first_range, .nr_ranges = nr_ranges,
	};
	struct tdxsim_vcpu_thread *thr[2];
	struct tdxsim_guest_result res[2];
	pthread_t conv_thread;
	int v, i;

	for (v = 0; v < 2; v++)
		stress_prog(ops[v], v);
	for (v = 0; v < 2; v++)
		assert_int_equal(tdxsim_vcpu_start(vm, v, ops[v], STRESS_VCPU_OPS, 0, &thr[v]), 0);
	assert_int_equal(pthread_create(&conv_thread, NULL, converter_fn, &conv), 0);
	pthread_join(conv_thread, NULL);
	for (v = 0; v < 2; v++)
		tdxsim_vcpu_join(thr[v], &res[v]);

	/* Back on this thread: quiescent now. */
	tdxsim_kernel_set_current(tdxsim_vm_sim(vm));
	for (v = 0; v < 2; v++) {
		struct tdxsim_kernel_event ev;
		unsigned int k;

		if (!res[v].ret)
			continue;
		printf("# vCPU %d ended with %d after %zu ops\n", v, res[v].ret, res[v].ops_done);
		for (k = 0; !tdxsim_kernel_event_at(tdxsim_vm_sim(vm), k, &ev); k++)
			printf("# event %d %s:%d %s\n", ev.type, ev.file, ev.line, ev.msg);
		fail();
	}
	assert_int_equal(conv.errors, 0);
	for (v = 0; v < 2; v++) {
		printf("# vCPU %d: %llu entries (%llu retried), %llu exits (%llu EPT, %llu ACCEPT),"
		       " %llu #VE, %llu steps\n", v, (unsigned long long)res[v].entries,
		       (unsigned long long)res[v].entry_retries, (unsigned long long)res[v].exits,
		       (unsigned long long)res[v].ept_exits, (unsigned long long)res[v].accept_exits,
		       (unsigned long long)res[v].ves, (unsigned long long)res[v].steps);
		assert_int_equal(res[v].ops_done, STRESS_VCPU_OPS);
		assert_false(res[v].budget_hit);
		for (i = 0; i < STRESS_VCPU_OPS; i++)
			if (ops[v][i].kind != TDXSIM_GUEST_SPIN &&
			    ops[v][i].status != TDX_SUCCESS &&
			    ops[v][i].status != TDX_PAGE_ALREADY_ACCEPTED)
				fail_msg("vCPU %d op %d: status %#llx", v, i,
					 (unsigned long long)ops[v][i].status);
	}
	printf("# converter: %d rounds; DEMOTE %llu, REMOVE %llu, TRACK %llu\n", conv.rounds,
	       (unsigned long long)calls(vm, TDH_MEM_PAGE_DEMOTE),
	       (unsigned long long)calls(vm, TDH_MEM_PAGE_REMOVE),
	       (unsigned long long)calls(vm, TDH_MEM_TRACK));
	assert_false(tdxsim_vm_kvm(vm)->vm_bugged);
	/* The first conversion in each of the converter's ranges split its 2M mapping. */
	assert_true(calls(vm, TDH_MEM_PAGE_DEMOTE) >= 2);
	/* Every DEMOTE went through (a BUSY one is retried by tdh_do_no_vcpus). */
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE) -
			 tdxsim_stats_count(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE,
					    TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT),
			 tdxsim_stats_count(tdxsim_vm_sim(vm), TDH_MEM_PAGE_DEMOTE, TDX_SUCCESS));
	assert_check_clean(vm);
	teardown_clean(vm);
}

/* The converter in 2M ranges of its own (4 and 5). */
static void test_stress_two_vcpus_and_converter(void **state)
{
	stress_two_vcpus_and_converter(4, 2);
}

/*
 * The converter in the vCPUs' 2M ranges (0-3): a TRACK or DEMOTE that
 * lost to a vCPU is retried after the kick, which must leave no vCPU in
 * guest mode or entering it (tdx_kick_all_vcpus()); before the kick waited
 * for a vCPU inside TDH.VP.ENTER, the retry could be BUSY again and bug
 * the VM.
 */
static void test_stress_shared_ranges(void **state)
{
	stress_two_vcpus_and_converter(0, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_a),
		cmocka_unit_test(test_flow_b),
		cmocka_unit_test(test_accept_2m_fallback),
		cmocka_unit_test(test_convert_op),
		cmocka_unit_test(test_errors_and_budget),
		cmocka_unit_test(test_gmem_lock_whole_file),
		cmocka_unit_test(test_gmem_lock_by_range),
		cmocka_unit_test(test_stress_two_vcpus_and_converter),
		cmocka_unit_test(test_stress_shared_ranges),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
