/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A TDX VM for tests of sim/, built by sim/vmm (struct tdxsim_vm): a
 * simulated module with a finalized TD, KVM's view of it (struct kvm_tdx,
 * RUNNABLE) behind tdx_x86_ops, one memslot of private memory with a 2M
 * folio for its first 2M range and one 4K folio in the second, and one
 * vCPU with its prealloc.  Shared by tests/sim/test_tdx.c and
 * test_check.c.  The teardown (tdxsim_vm_teardown(): HKID release with the
 * vCPUs' flush, the VM, the TD, the folios) fails when a page is missing,
 * the module's checker complains, or the VM's bugged state or the kernel
 * shim's event counts differ from what the test declared in fx->expect.
 */
#ifndef TDXSIM_TESTS_SIM_TDX_FIXTURE_H
#define TDXSIM_TESTS_SIM_TDX_FIXTURE_H

#include <tdxsim/tdxsim.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>
#include <tdxsim-kvm/vm.h>

#define FX_BASE_GFN	0x40000ULL		/* GPA 1GB */
#define FX_NPAGES	1024			/* two 2M ranges */
#define FX_GFN_2M	(FX_BASE_GFN + 3)	/* range 0: one order-9 folio */
#define FX_GFN_4K	(FX_BASE_GFN + 512 + 5)	/* range 1: one order-0 folio */

struct tdx_fixture {
	struct tdxsim_vm *vm;
	struct tdxsim_config cfg;
	struct tdxsim *sim;
	struct tdxsim_td *std;
	struct kvm_tdx *kvm_tdx;
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
	struct folio *folio_2m;
	struct page *page_4k;
	u64 pages_baseline;	/* tdxsim_pages_in_use before the TD */
	int conv_ret;		/* a test's last kvm_vm_set_mem_attributes() */
	/* The test made the module's checker complain on purpose: teardown ignores it. */
	bool module_dirty;
	/*
	 * What the test provoked on purpose, counted from setup to the end of
	 * teardown: the teardown wants exactly these (an extra or a missing
	 * WARN fails as much as an unexpected one), every other bad event 0.
	 */
	struct {
		unsigned int warn, tdx_bug, kvm_bug, lockdep, sleep_in_atomic;
		bool vm_bugged;
		/* Pages KVM had to leak (a failed RECLAIM), over the baseline. */
		u64 pages_leaked;
		/*
		 * Violations the checker's ledger recorded (provenance, inline
		 * checks; kvm_check_ledger_violations()) by the start of the
		 * teardown, those recorded during it, and pages its balance
		 * finds still held at the end.
		 */
		int ledger, ledger_teardown;
		long held;
	} expect;
};

/* Passed as CMocka's initial state (cmocka_unit_test_prestate_setup_teardown). */
struct tdx_fixture_opts {
	unsigned int defects;	/* enum tdxsim_kvm_defect bits for the VM */
	/*
	 * A user's hook table instead of the design's (NULL: the design's):
	 * @ops (for upstream, its auxiliary table), @upstream_ops (its funnel;
	 * used by an upstream build only).
	 */
	const struct kvm_x86_ops *ops;
	const struct kvm_x86_ops_upstream *upstream_ops;
};

/*
 * CMocka setup/teardown: *state is a struct tdx_fixture.  The setup takes
 * an optional struct tdx_fixture_opts as the initial *state.  Built with
 * TEST_DESIGN_UPSTREAM the VM uses the upstream funnel (tdx_x86_ops_upstream),
 * else the v3 table (tdx_x86_ops).
 */
int tdx_fixture_setup(void **state);
int tdx_fixture_teardown(void **state);

/* tdx_mmu_release_hkid() (it flushes the vCPUs itself); asserts success. */
void tdx_fixture_release_hkid(struct tdx_fixture *fx);
/* kvm_tdp_map_page() at @gfn; asserts it mapped at @want_level. */
void tdx_fixture_map(struct tdx_fixture *fx, gfn_t gfn, int want_level);
/* Zap every private leaf of the slot under the write mmu_lock. */
void tdx_fixture_zap_slot(struct tdx_fixture *fx);
/* The mirror SPTE that maps @gfn and its table's level (walk to a leaf or hole). */
u64 *tdx_fixture_mirror_sptep(struct kvm *kvm, gfn_t gfn, int *level);

#endif /* TDXSIM_TESTS_SIM_TDX_FIXTURE_H */
