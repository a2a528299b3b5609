// SPDX-License-Identifier: GPL-2.0-only
/*
 * Defect switches of the KVM model: each scenario holds with its switch off
 * and breaks with it on, so a reviewer's bug can be replayed.  Run for both
 * hook designs; where a switch only exists in one design, the test says so.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tdxsim-kvm/tdp_mmu.h>

#include "recording_ops.h"

#define BASE_GFN	0x100000ULL
#define NPAGES		1024UL
#define PFN_2M		0x80000ULL

struct vm {
	struct rec_backend rec;
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
};

static void vm_create(struct vm *vm, unsigned int defects)
{
	rec_init(&vm->rec);
	rec_defects = defects;
	vm->kvm = rec_create_vm(&vm->rec, BASE_GFN, NPAGES);
	rec_defects = 0;
	assert_non_null(vm->kvm);
	vm->vcpu = tdxsim_kvm_vcpu_create(vm->kvm, 0);
	assert_non_null(vm->vcpu);
	tdxsim_kernel_events_reset(NULL);
}

static void vm_destroy(struct vm *vm)
{
	tdxsim_kvm_vcpu_destroy(vm->vcpu);
	tdxsim_kvm_destroy(vm->kvm);
	rec_fini(&vm->rec);
	tdxsim_kernel_events_reset(NULL);
}

static int fault(struct vm *vm, gfn_t gfn, int *level)
{
	return kvm_mmu_do_page_fault(vm->vcpu, gfn << 12, PFERR_PRIVATE_ACCESS, level);
}

static void map_2m(struct vm *vm)
{
	int level;

	assert_int_equal(tdxsim_kvm_gmem_set_folio(vm->kvm, BASE_GFN, PFN_2M, 9), 0);
	assert_int_equal(fault(vm, BASE_GFN, &level), RET_PF_FIXED);
	assert_int_equal(level, PG_LEVEL_2M);
}

/*
 * 001 (Kai): a split-path table starts as raw zeroes instead of
 * SHADOW_NONPRESENT_VALUE; a raw 0 in a TDX table is the hazard I13 names.
 */
static bool split_sp_starts_nonpresent(unsigned int defects)
{
	struct kvm_mmu_page *sp;
	struct vm vm;
	int i, ok = 0;

	vm_create(&vm, defects);
	sp = tdp_mmu_alloc_sp_for_split(vm.kvm, true);
	assert_non_null(sp);
	for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
		ok += sp->spt[i] == SHADOW_NONPRESENT_VALUE;
	tdp_mmu_free_sp(vm.kvm, sp);
	vm_destroy(&vm);
	return ok == SPTE_ENT_PER_PAGE;
}

static void test_defect_split_spt_zero(void **state)
{
	assert_true(split_sp_starts_nonpresent(0));
	assert_false(split_sp_starts_nonpresent(TDXSIM_KVM_DEFECT_SPLIT_SPT_ZERO));
}

/*
 * Spec §6.1: -ENOMEM from the split comes back as 1.  The attribute pre-set
 * handler takes 1 for "flush", skips the zap, and the conversion goes on:
 * the GFN is shared while the mirror still maps it private (I7a/I7b, I19).
 */
static bool conversion_enomem_is_clean(unsigned int defects)
{
	gfn_t g = BASE_GFN + 5;
	bool ok;
	int r;

	struct vm vm;

	vm_create(&vm, defects);
	map_2m(&vm);
	vm.rec.page_fail_nth = vm.rec.page_allocs + 1;	/* the split sp's external_spt */
	r = kvm_vm_set_mem_attributes(vm.kvm, g, g + 1, 0);
	ok = r == -ENOMEM && kvm_mem_is_private(vm.kvm, g);
	/* Whatever came back: no shared GFN may stay mapped in the mirror. */
	if (!kvm_mem_is_private(vm.kvm, g) && kvm_tdp_mmu_read_mirror(vm.kvm, g, NULL))
		ok = false;
	vm_destroy(&vm);
	return ok;
}

static void test_defect_cross_boundary_bool(void **state)
{
	assert_true(conversion_enomem_is_clean(0));
	assert_false(conversion_enomem_is_clean(TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL));
}

/* The return value itself (the checker's I19): negative, never positive. */
static void test_defect_cross_boundary_bool_return(void **state)
{
	struct kvm_gfn_range range = {
		.start = BASE_GFN + 5, .end = BASE_GFN + 6,
		.attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
	};
	unsigned int defects[] = { 0, TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL };
	int expect[] = { -ENOMEM, 1 };
	int i;

	for (i = 0; i < 2; i++) {
		struct vm vm;

		vm_create(&vm, defects[i]);
		map_2m(&vm);
		vm.rec.page_fail_nth = vm.rec.page_allocs + 1;
		KVM_MMU_LOCK(vm.kvm);
		assert_int_equal(kvm_split_cross_boundary_leafs(vm.kvm, &range, false), expect[i]);
		KVM_MMU_UNLOCK(vm.kvm);
		vm_destroy(&vm);
	}
}

/*
 * 000/001: a table page the backend could not take back (free_external_spt
 * failed) is still the module's; v3 KVM must leak it (external_spt = NULL),
 * not free it.  upstream moved that into the backend's free_external_spt,
 * so the switch has no effect there.
 */
static bool owned_page_never_freed(unsigned int defects)
{
	struct vm vm;
	bool ok;

	vm_create(&vm, defects);
	assert_int_equal(tdxsim_kvm_gmem_set_folio(vm.kvm, BASE_GFN, PFN_2M, 0), 0);
	assert_int_equal(fault(&vm, BASE_GFN, NULL), RET_PF_FIXED);
	vm.rec.fail_hook = REC_FREE;
	vm.rec.fail_nth = 1;
	vm.rec.fail_err = -EIO;
	KVM_MMU_LOCK(vm.kvm);
	tdp_mmu_zap_root(vm.kvm, vm.kvm->mirror_root, false);
	KVM_MMU_UNLOCK(vm.kvm);
	ok = vm.rec.violations == 0 && vm.rec.nmodule_owned == 1;
	vm_destroy(&vm);
	return ok;
}

static void test_defect_free_owned_external_spt(void **state)
{
	assert_true(owned_page_never_freed(0));
	if (rec_design == KVM_MMU_DESIGN_V3)
		assert_false(owned_page_never_freed(TDXSIM_KVM_DEFECT_FREE_OWNED_EXT_SPT));
	else
		assert_true(owned_page_never_freed(TDXSIM_KVM_DEFECT_FREE_OWNED_EXT_SPT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defect_split_spt_zero),
		cmocka_unit_test(test_defect_cross_boundary_bool),
		cmocka_unit_test(test_defect_cross_boundary_bool_return),
		cmocka_unit_test(test_defect_free_owned_external_spt),
	};

#ifdef TEST_DESIGN_UPSTREAM
	rec_design = KVM_MMU_DESIGN_UPSTREAM;
#endif
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
