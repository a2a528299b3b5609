// SPDX-License-Identifier: GPL-2.0-only
/*
 * sim/vmm: struct tdxsim_vm drives the whole stack (module, TD, KVM's MMU
 * and TDX backend) the way a VMM and guest_memfd do, once per hook design
 * (sim-vm-v3, sim-vm-upstream).  The TD is built at 4K with PAGE.ADD,
 * finalized, mapped at 2M at runtime; a 4K page inside a 2M mapping is
 * converted to shared in each folio-split order, with and without an
 * ENOMEM from the folio split (review-scenarios.md S01, S03); holes are
 * punched aligned and unaligned (S22); a folio is poisoned; and every
 * test ends with tdxsim_vm_teardown() giving every page back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <tdxsim/fault.h>
#include <tdxsim/kernel.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>
#include <tdxsim-kvm/vm.h>

#define G	0x40000000ULL		/* the slot's first GPA (1 GiB) */
#define SLOT_SIZE	(8ULL << 20)
#define S_2M	(2ULL << 20)
#define S_4K	4096ULL

static struct tdxsim_vm *vm_new(enum tdxsim_conv_order order)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *vm;
	int err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	cfg.conv_order = order;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_int_equal(err, 0);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, G, SLOT_SIZE, TDXSIM_SLOT_PRIVATE), 0);
	/* [G, G+4M): two order-9 folios; [G+4M, G+6M): order 0. */
	assert_int_equal(tdxsim_vm_gmem_populate(vm, G, 2 * S_2M, 9), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, G + 2 * S_2M, S_2M, 0), 0);
	return vm;
}

static u64 calls(struct tdxsim_vm *vm, unsigned int leaf)
{
	struct tdxsim_leaf_stats st;

	assert_int_equal(tdxsim_stats_leaf(tdxsim_vm_sim(vm), leaf, &st), 0);
	return st.calls;
}

static struct tdxsim_sept_info sept_of(struct tdxsim_vm *vm, u64 gpa)
{
	struct tdxsim_sept_info si;

	assert_int_equal(tdxsim_sept_lookup(tdxsim_vm_sim(vm), tdxsim_vm_td(vm), gpa, &si), 0);
	return si;
}

/* KVM's mirror level at @gpa, PG_LEVEL_NONE when nothing maps it. */
static int mirror_level(struct tdxsim_vm *vm, u64 gpa)
{
	int level;
	u64 spte = kvm_tdp_mmu_read_mirror(tdxsim_vm_kvm(vm), gpa >> PAGE_SHIFT, &level);

	return is_shadow_present_pte(spte) ? level : PG_LEVEL_NONE;
}

static void assert_check_clean(struct tdxsim_vm *vm)
{
	struct kvm_check_report rep;

	if (kvm_tdx_check(tdxsim_vm_kvm(vm), &rep)) {
		kvm_check_report_print(&rep, stderr);
		fail();
	}
}

/* Teardown of one VM: every page back, nothing bugged; the simulator stays. */
static void teardown_clean_keep(struct tdxsim_vm *vm)
{
	struct tdxsim_vm_summary sum;

	assert_int_equal(tdxsim_vm_teardown(vm), 0);
	tdxsim_vm_summary(vm, &sum);
	assert_false(sum.vm_bugged);
	assert_int_equal(sum.module_violations, 0);
	assert_int_equal(sum.pages_in_use, sum.pages_baseline);
}

/* Teardown: every page back (no leak, known or not), the module clean. */
static void teardown_clean(struct tdxsim_vm *vm)
{
	struct tdxsim_vm_summary sum;

	assert_int_equal(tdxsim_vm_teardown(vm), 0);
	tdxsim_vm_summary(vm, &sum);
	assert_true(sum.torn_down);
	assert_false(sum.vm_bugged);
	assert_int_equal(sum.module_violations, 0);
	assert_int_equal(sum.ledger_violations, 0);
	assert_int_equal(sum.pages_in_use, sum.pages_baseline);
	assert_int_equal(sum.pages_leaked, 0);
	assert_false(sum.known_leak);
	assert_int_equal(sum.pages_kept, 0);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_WARN), 0);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_KVM_BUG), 0);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_TDX_BUG), 0);
	/* Gone: host calls refuse, a second teardown gives the first's result. */
	assert_null(tdxsim_vm_kvm(vm));
	assert_null(tdxsim_vm_vcpu(vm, 0));
	assert_int_equal(tdxsim_vm_map(vm, 0, G, NULL), -ENODEV);
	assert_int_equal(tdxsim_vm_convert(vm, G, S_4K, false), -ENODEV);
	assert_int_equal(tdxsim_vm_punch_hole(vm, G, S_2M), -ENODEV);
	assert_int_equal(tdxsim_vm_teardown(vm), 0);
	/* The provenance ledger balances: every guest folio page noted freed. */
	assert_int_equal(kvm_prov_balance(tdxsim_vm_sim(vm), NULL), 0);
	assert_int_equal(kvm_check_ledger_violations(tdxsim_vm_sim(vm), NULL, NULL), 0);
	tdxsim_vm_destroy(vm);
}

/*
 * The TD is built at 4K (PAGE.ADD, MAPPED: no ACCEPT needed) even inside
 * an order-9 folio, pre-fault is refused until finalize, and at runtime a
 * fresh 2M range maps at 2M with one AUG while the built range stays 4K
 * (no merging on the mirror root, S16/S17).
 */
static void test_build_finalize_map(void **state)
{
	struct tdxsim_vm *vm = vm_new(TDXSIM_CONV_SPLIT_THEN_ZAP);
	struct tdxsim_td_info ti;
	struct tdxsim_sept_info si;
	int level;

	assert_int_equal(tdxsim_vm_build_add(vm, G, 16 * S_4K), 0);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_ADD), 16);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 0);
	assert_int_equal(mirror_level(vm, G + 15 * S_4K), PG_LEVEL_4K);
	assert_int_equal(mirror_level(vm, G + 16 * S_4K), PG_LEVEL_NONE);
	si = sept_of(vm, G + 15 * S_4K);
	assert_true(si.leaf);
	assert_int_equal(si.level, TDX_PS_4K);
	assert_int_equal(si.state, SEPT_PUBLIC_MAPPED);

	/* KVM_PRE_FAULT_MEMORY is not allowed on a TD being built. */
	assert_int_equal(tdxsim_vm_map(vm, 0, G + S_2M, &level), -EOPNOTSUPP);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	assert_int_equal(tdxsim_td_info(tdxsim_vm_sim(vm), tdxsim_vm_td(vm)->tdr_pa, &ti), 0);
	assert_int_equal(ti.op_state, TDXSIM_OP_STATE_RUNNABLE);
	/* Built once: INIT_MEM_REGION is refused on a runnable TD. */
	assert_int_equal(tdxsim_vm_build_add(vm, G + 16 * S_4K, S_4K), -EINVAL);
	assert_int_equal(tdxsim_vm_finalize(vm), -EINVAL);

	assert_int_equal(tdxsim_vm_map(vm, 0, G + S_2M + 5 * S_4K, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 1);
	si = sept_of(vm, G + S_2M);
	assert_int_equal(si.level, TDX_PS_2M);
	assert_int_equal(si.state, SEPT_PUBLIC_PENDING);

	/* Beside the built pages, in the same folio: 4K, the table stays. */
	assert_int_equal(tdxsim_vm_map(vm, 0, G + 100 * S_4K, &level), 0);
	assert_int_equal(level, PG_LEVEL_4K);
	/* Order-0 folios map at 4K. */
	assert_int_equal(tdxsim_vm_map(vm, 0, G + 2 * S_2M, &level), 0);
	assert_int_equal(level, PG_LEVEL_4K);
	/* No folio: KVM's memory-fault exit. */
	assert_int_equal(tdxsim_vm_map(vm, 0, G + 3 * S_2M, &level), -EFAULT);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/* INIT_MEM_REGION refused before any PAGE.ADD: no folio, outside the slots, unaligned. */
static void test_build_errors(void **state)
{
	struct tdxsim_vm *vm = vm_new(TDXSIM_CONV_SPLIT_THEN_ZAP);

	/* Unbacked: kvm_gmem_get_pfn() finds no folio. */
	assert_int_equal(tdxsim_vm_build_add(vm, G + 3 * S_2M, S_4K), -EFAULT);
	/* Outside any slot / unaligned. */
	assert_int_equal(tdxsim_vm_build_add(vm, G + SLOT_SIZE, S_4K), -EINVAL);
	assert_int_equal(tdxsim_vm_build_add(vm, G + 1, S_4K), -EINVAL);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_ADD), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	teardown_clean(vm);
}

/* The folio split's allocations at which an "alloc:enomem" rule fires. */
static void add_enomem(struct tdxsim_vm *vm, u64 nth)
{
	char spec[64], err[128];

	snprintf(spec, sizeof(spec), "alloc:enomem:nth=%llu", (unsigned long long)nth);
	assert_int_equal(tdxsim_fault_parse(tdxsim_vm_sim(vm), spec, err, sizeof(err)), 1);
}

#define X	(G + 5 * S_4K)		/* the converted page, inside the first 2M folio */

/* Mapped at 2M and accepted-to-be (PENDING): the setup of S01 and S03. */
static struct tdxsim_vm *vm_mapped_2m(enum tdxsim_conv_order order)
{
	struct tdxsim_vm *vm = vm_new(order);
	int level;

	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	assert_int_equal(tdxsim_vm_map(vm, 0, G, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
	return vm;
}

/*
 * Private -> shared of one 4K page inside a 2M mapping: one DEMOTE (the
 * cross-boundary split), one REMOVE at 4K, the neighbours untouched and
 * still mapped, the folio split into order-0 folios (its vmemmap pages
 * allocated, and given back at teardown).  The same for each order.
 */
static void convert_4k_in_2m(enum tdxsim_conv_order order)
{
	struct tdxsim_vm *vm = vm_mapped_2m(order);
	struct tdxsim_vm_summary sum;

	assert_int_equal(tdxsim_vm_convert(vm, X, S_4K, false), 0);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), 1);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_REMOVE), 1);
	assert_false(kvm_mem_is_private(tdxsim_vm_kvm(vm), X >> PAGE_SHIFT));
	assert_int_equal(mirror_level(vm, X), PG_LEVEL_NONE);
	assert_int_equal(mirror_level(vm, X - S_4K), PG_LEVEL_4K);
	assert_int_equal(mirror_level(vm, X + S_4K), PG_LEVEL_4K);
	assert_int_equal(sept_of(vm, X).state, SEPT_PUBLIC_FREE);
	assert_int_equal(sept_of(vm, X + S_4K).state, SEPT_PUBLIC_PENDING);
	tdxsim_vm_summary(vm, &sum);
	assert_int_equal(sum.folio_splits, 1);
	assert_check_clean(vm);

	/* Back to private: nothing to split or zap on the private side. */
	assert_int_equal(tdxsim_vm_convert(vm, X, S_4K, true), 0);
	assert_true(kvm_mem_is_private(tdxsim_vm_kvm(vm), X >> PAGE_SHIFT));
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), 1);
	assert_check_clean(vm);
	teardown_clean(vm);
}

static void test_convert_split_then_zap(void **state)
{
	convert_4k_in_2m(TDXSIM_CONV_SPLIT_THEN_ZAP);
}

static void test_convert_zap_then_split(void **state)
{
	convert_4k_in_2m(TDXSIM_CONV_ZAP_THEN_SPLIT);
}

static void test_convert_folio_first(void **state)
{
	convert_4k_in_2m(TDXSIM_CONV_FOLIO_FIRST);
}

/* Allocations of a successful conversion of X, counted on a VM of its own. */
static u64 conversion_allocs(enum tdxsim_conv_order order)
{
	struct tdxsim_vm *vm = vm_mapped_2m(order);
	u64 before = tdxsim_page_allocs(tdxsim_vm_sim(vm)), n;

	assert_int_equal(tdxsim_vm_convert(vm, X, S_4K, false), 0);
	n = tdxsim_page_allocs(tdxsim_vm_sim(vm)) - before;
	teardown_clean(vm);
	return n;
}

/* The design's hook table with gmem_convert counted (v3's has none: counted as 0). */
static struct kvm_x86_ops counting_ops;
static const struct kvm_x86_ops *design_ops;
static int gmem_converts;

static int counting_gmem_convert(struct kvm *kvm, gfn_t start, gfn_t end, bool to_private)
{
	gmem_converts++;
	return design_ops->gmem_convert ? design_ops->gmem_convert(kvm, start, end, to_private) : 0;
}

/*
 * guest_memfd's conversion calls kvm_arch_gmem_convert() once, before
 * mmu_lock (kvm-upstream.md §5), whatever the order: a second call could
 * top the per-VM PAMT cache up again for splits already done.
 */
static void convert_once(enum tdxsim_conv_order order)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *vm;
	int level, err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
	design_ops = &tdx_x86_ops_upstream_aux;
#else
	design_ops = &tdx_x86_ops;
#endif
	counting_ops = *design_ops;
	counting_ops.gmem_convert = counting_gmem_convert;
	cfg.ops = &counting_ops;
	cfg.conv_order = order;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, G, S_2M, TDXSIM_SLOT_PRIVATE), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, G, S_2M, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	assert_int_equal(tdxsim_vm_map(vm, 0, G, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);

	gmem_converts = 0;
	assert_int_equal(tdxsim_vm_convert(vm, X, S_4K, false), 0);
	assert_int_equal(gmem_converts, 1);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), 1);
	/* DEMOTE took at least the range's pair; a second top-up would refill it. */
	assert_true(tdx_split_cache_count(tdxsim_vm_kvm(vm)) <=
		    TDX_MIN_SPLIT_CACHE_SZ - TDX_DPAMT_ENTRY_PAGES);
	gmem_converts = 0;
	assert_int_equal(tdxsim_vm_convert(vm, X, S_4K, true), 0);
	assert_int_equal(gmem_converts, 1);
	assert_check_clean(vm);
	teardown_clean(vm);
}

static void test_convert_once(void **state)
{
	convert_once(TDXSIM_CONV_SPLIT_THEN_ZAP);
	convert_once(TDXSIM_CONV_ZAP_THEN_SPLIT);
	convert_once(TDXSIM_CONV_FOLIO_FIRST);
}

/*
 * S01/S03: the folio split fails (ENOMEM on its first vmemmap page, the
 * S-EPT work before it unaffected).  split-then-zap: the S-EPT stays split,
 * nothing removed, the page still mapped and private (S03's claim);
 * zap-then-split: the page was removed and stays private, unmapped, so the
 * guest's data is gone (S01's claim); folio-first: no SEAMCALL at all, the
 * 2M mapping unchanged ("a failed conversion changes nothing").  In each
 * case the VM is not bugged, the invariants hold and every page comes back.
 */
static void convert_folio_enomem(enum tdxsim_conv_order order)
{
	/* The folio split's 7 allocations come last (or first, folio-first). */
	u64 sept_allocs = conversion_allocs(order) - TDXSIM_VM_FOLIO_SPLIT_PAGES;
	struct tdxsim_vm *vm = vm_mapped_2m(order);
	struct tdxsim_vm_summary sum;
	u64 demotes = order == TDXSIM_CONV_FOLIO_FIRST ? 0 : 1;

	add_enomem(vm, order == TDXSIM_CONV_FOLIO_FIRST ? 1 : sept_allocs + 1);
	assert_int_equal(tdxsim_vm_convert(vm, X, S_4K, false), -ENOMEM);
	assert_int_equal(tdxsim_fault_fired_total(tdxsim_vm_sim(vm)), 1);
	assert_true(kvm_mem_is_private(tdxsim_vm_kvm(vm), X >> PAGE_SHIFT));
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), demotes);
	tdxsim_vm_summary(vm, &sum);
	assert_int_equal(sum.folio_splits, 0);

	switch (order) {
	case TDXSIM_CONV_SPLIT_THEN_ZAP:
		assert_int_equal(calls(vm, TDH_MEM_PAGE_REMOVE), 0);
		assert_int_equal(mirror_level(vm, X), PG_LEVEL_4K);
		assert_int_equal(sept_of(vm, X).state, SEPT_PUBLIC_PENDING);
		break;
	case TDXSIM_CONV_ZAP_THEN_SPLIT:
		assert_int_equal(calls(vm, TDH_MEM_PAGE_REMOVE), 1);
		assert_int_equal(mirror_level(vm, X), PG_LEVEL_NONE);
		assert_int_equal(sept_of(vm, X).state, SEPT_PUBLIC_FREE);
		break;
	case TDXSIM_CONV_FOLIO_FIRST:
		assert_int_equal(calls(vm, TDH_MEM_PAGE_REMOVE), 0);
		assert_int_equal(mirror_level(vm, X), PG_LEVEL_2M);
		assert_int_equal(sept_of(vm, X).level, TDX_PS_2M);
		break;
	}
	assert_check_clean(vm);
	teardown_clean(vm);
}

static void test_convert_enomem_split_then_zap(void **state)
{
	convert_folio_enomem(TDXSIM_CONV_SPLIT_THEN_ZAP);
}

static void test_convert_enomem_zap_then_split(void **state)
{
	convert_folio_enomem(TDXSIM_CONV_ZAP_THEN_SPLIT);
}

static void test_convert_enomem_folio_first(void **state)
{
	convert_folio_enomem(TDXSIM_CONV_FOLIO_FIRST);
}

/*
 * S22: a hole must cover whole folios.  Unaligned inside a 2M folio: refused
 * before anything happens.  Aligned: the 2M leaf is removed at 2M (no
 * DEMOTE), the folio freed; a later fault there finds no folio.  Order-0
 * folios can be punched page by page.
 */
static void test_punch_hole(void **state)
{
	struct tdxsim_vm *vm = vm_mapped_2m(TDXSIM_CONV_SPLIT_THEN_ZAP);
	u64 in_use = tdxsim_pages_in_use(tdxsim_vm_sim(vm));
	int level;

	assert_int_equal(tdxsim_vm_punch_hole(vm, G + S_4K, S_2M - S_4K), -EINVAL);
	assert_int_equal(tdxsim_vm_punch_hole(vm, G, S_2M + S_4K), -EINVAL);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_REMOVE), 0);
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_2M);

	assert_int_equal(tdxsim_vm_punch_hole(vm, G, S_2M), 0);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), 0);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_REMOVE), 1);
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_NONE);
	assert_int_equal(sept_of(vm, G).state, SEPT_PUBLIC_FREE);
	assert_int_equal(tdxsim_pages_in_use(tdxsim_vm_sim(vm)), in_use - 512);
	assert_int_equal(tdxsim_vm_map(vm, 0, G, &level), -EFAULT);

	/* Order 0: one page of the 4K-folio range, mapped, then punched. */
	assert_int_equal(tdxsim_vm_map(vm, 0, G + 2 * S_2M + S_4K, &level), 0);
	assert_int_equal(tdxsim_vm_punch_hole(vm, G + 2 * S_2M + S_4K, S_4K), 0);
	assert_int_equal(mirror_level(vm, G + 2 * S_2M + S_4K), PG_LEVEL_NONE);
	assert_int_equal(tdxsim_vm_map(vm, 0, G + 2 * S_2M, &level), 0);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/*
 * Split and zap on request, then a memory failure on a 4K page of a split
 * folio and on a whole 2M folio: the folio's mappings go, later faults
 * there fail, and the poisoned memory is accounted for at teardown.
 */
static void test_split_zap_memory_failure(void **state)
{
	struct tdxsim_vm *vm = vm_mapped_2m(TDXSIM_CONV_SPLIT_THEN_ZAP);
	struct tdxsim_vm_summary sum;
	int level;

	/* A TDX split under the shared mmu_lock is refused (spec §2.10). */
	assert_int_equal(tdxsim_vm_split(vm, G, S_2M, PG_LEVEL_4K, true), -EOPNOTSUPP);
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_2M);
#ifndef TEST_DESIGN_UPSTREAM
	/* v3's hook refuses with WARN_ON_ONCE (003:P09): counted, then forgotten. */
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_WARN), 1);
#endif
	tdxsim_kernel_events_reset(tdxsim_vm_sim(vm));
	assert_int_equal(tdxsim_vm_split(vm, G, S_2M, PG_LEVEL_4K, false), 0);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), 1);
	assert_int_equal(mirror_level(vm, G + 7 * S_4K), PG_LEVEL_4K);
	assert_int_equal(tdxsim_vm_zap(vm, G + 7 * S_4K, 2 * S_4K), 0);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_REMOVE), 2);
	assert_int_equal(mirror_level(vm, G + 8 * S_4K), PG_LEVEL_NONE);
	assert_int_equal(mirror_level(vm, G + 9 * S_4K), PG_LEVEL_4K);
	assert_check_clean(vm);

	/* The 2M folio at G+2M, mapped at 2M, poisoned: the whole folio goes. */
	assert_int_equal(tdxsim_vm_map(vm, 0, G + S_2M, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_int_equal(tdxsim_vm_memory_failure(vm, G + S_2M + 77 * S_4K), 0);
	assert_int_equal(mirror_level(vm, G + S_2M), PG_LEVEL_NONE);
	assert_int_equal(tdxsim_vm_map(vm, 0, G + S_2M, &level), -EFAULT);
	assert_int_equal(tdxsim_vm_memory_failure(vm, G + S_2M), -ENOENT);
	/* By PFN: a page of the order-9 folio at G (its S-EPT split, the folio not): all of it. */
	{
		kvm_pfn_t pfn;
		int order;
		struct kvm *kvm = tdxsim_vm_kvm(vm);
		gfn_t gfn = (G + 9 * S_4K) >> PAGE_SHIFT;

		assert_int_equal(kvm_gmem_get_pfn(kvm, gfn_to_memslot(kvm, gfn), gfn, &pfn,
						  &order), 0);
		assert_int_equal(tdxsim_vm_memory_failure_pfn(vm, pfn), 0);
		assert_int_equal(mirror_level(vm, G + 9 * S_4K), PG_LEVEL_NONE);
		assert_int_equal(mirror_level(vm, G + 10 * S_4K), PG_LEVEL_NONE);
		assert_int_equal(mirror_level(vm, G), PG_LEVEL_NONE);
		assert_int_equal(tdxsim_vm_memory_failure_pfn(vm, pfn), -ENOENT);
	}
	/* An order-0 folio: just that page. */
	assert_int_equal(tdxsim_vm_map(vm, 0, G + 2 * S_2M + 3 * S_4K, &level), 0);
	assert_int_equal(tdxsim_vm_memory_failure(vm, G + 2 * S_2M + 3 * S_4K), 0);
	assert_int_equal(mirror_level(vm, G + 2 * S_2M + 3 * S_4K), PG_LEVEL_NONE);
	tdxsim_vm_summary(vm, &sum);
	assert_int_equal(sum.pages_poisoned, 2 * 512 + 1);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/*
 * Memslots the module cannot map: MMIO (no guest_memfd: a private access
 * is a memory-fault exit, pre-fault of its shared GFNs is not modelled) and
 * memory outside the TDMR (the module refuses the AUG: the VM is bugged,
 * KVM restores the SPTE; nothing is leaked).
 */
static void test_mmio_and_no_tdmr(void **state)
{
	struct tdxsim_vm *vm = vm_new(TDXSIM_CONV_SPLIT_THEN_ZAP);
	struct tdxsim_vm_summary sum;
	int level;

	assert_int_equal(tdxsim_vm_add_memslot(vm, 1, 2 * G, S_2M, TDXSIM_SLOT_MMIO), 0);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 2, 3 * G, S_2M, TDXSIM_SLOT_NO_TDMR), 0);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 3, 4 * G, S_4K, TDXSIM_SLOT_NO_TDMR), -EINVAL);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 3, 4 * G, S_2M, 0), -EINVAL);
	assert_int_equal(tdxsim_vm_slot_flags(vm, 2 * G), TDXSIM_SLOT_MMIO);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, 2 * G, S_2M, 9), -EINVAL);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, 3 * G, S_4K, 0), -EINVAL);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, 3 * G, S_2M, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);

	assert_int_equal(tdxsim_vm_map(vm, 0, 2 * G, &level), -EOPNOTSUPP);
	assert_int_equal(kvm_tdp_map_page(tdxsim_vm_vcpu(vm, 0), 2 * G,
					  PFERR_PRIVATE_ACCESS, &level), -EFAULT);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 0);

	assert_int_equal(tdxsim_vm_map(vm, 0, 3 * G, &level), -EIO);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG) - tdxsim_stats_count(tdxsim_vm_sim(vm),
						TDH_MEM_PAGE_AUG, TDX_SUCCESS), 1);
	assert_true(tdxsim_vm_kvm(vm)->vm_bugged);
	assert_int_equal(mirror_level(vm, 3 * G), PG_LEVEL_NONE);

	assert_int_equal(tdxsim_vm_teardown(vm), 0);
	tdxsim_vm_summary(vm, &sum);
	assert_true(sum.vm_bugged);
	assert_int_equal(sum.pages_leaked, 0);
	assert_int_equal(sum.module_violations, 0);
	tdxsim_vm_destroy(vm);
}

/*
 * The invalidation protocol: while an invalidation covers a GFN, its fault
 * retries without mapping (the PFN or the attributes it looked up may be
 * changing); outside the range it maps; a fault that sampled the seq
 * before an invalidation ended is stale.
 */
static void test_fault_retries_under_invalidation(void **state)
{
	struct tdxsim_vm *vm = vm_mapped_2m(TDXSIM_CONV_SPLIT_THEN_ZAP);
	struct kvm *kvm = tdxsim_vm_kvm(vm);
	struct kvm_vcpu *vcpu = tdxsim_vm_vcpu(vm, 0);
	gfn_t gfn = (G + S_2M) >> PAGE_SHIFT;
	unsigned long seq;
	int level;

	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_begin(kvm);
	kvm_mmu_invalidate_range_add(kvm, gfn, gfn + 512);
	KVM_MMU_UNLOCK(kvm);
	assert_int_equal(kvm_mmu_do_page_fault(vcpu, G + S_2M, PFERR_PRIVATE_ACCESS |
					       PFERR_WRITE_MASK, &level), RET_PF_RETRY);
	assert_int_equal(mirror_level(vm, G + S_2M), PG_LEVEL_NONE);
	assert_int_equal(kvm_mmu_do_page_fault(vcpu, G + 2 * S_2M, PFERR_PRIVATE_ACCESS |
					       PFERR_WRITE_MASK, &level), RET_PF_FIXED);
	seq = __atomic_load_n(&kvm->mmu_invalidate_seq, __ATOMIC_ACQUIRE);
	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_end(kvm);
	assert_true(mmu_invalidate_retry_gfn(kvm, seq, gfn + 600));
	assert_false(mmu_invalidate_retry_gfn(kvm, seq + 1, gfn + 600));
	KVM_MMU_UNLOCK(kvm);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 2);
	assert_int_equal(tdxsim_vm_map(vm, 0, G + S_2M, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/*
 * A 4K private page outside the TDMR (tdx_huge_page off): the VMM's hook
 * wrapper bugs the VM before any SEAMCALL; pre-fault then fails with -EIO.
 */
static void test_no_tdmr_4k(void **state)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm_summary sum;
	struct tdxsim_vm *vm;
	int level, err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	cfg.tdx_huge_page = false;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, 3 * G, S_2M, TDXSIM_SLOT_NO_TDMR), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, 3 * G, S_2M, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	assert_int_equal(tdxsim_vm_map(vm, 0, 3 * G + S_4K, &level), -EIO);
	assert_true(tdxsim_vm_kvm(vm)->vm_bugged);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_KVM_BUG), 1);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 0);
	assert_int_equal(mirror_level(vm, 3 * G + S_4K), PG_LEVEL_NONE);
	assert_int_equal(tdxsim_vm_teardown(vm), 0);
	tdxsim_vm_summary(vm, &sum);
	assert_int_equal(sum.pages_leaked, 0);
	tdxsim_vm_destroy(vm);
}

/*
 * Two TDs on one module: a sibling VM has its own HKID, KVM and guest_memfd;
 * KVM refuses to bind the first VM's guest_memfd to it; both map at 2M and
 * pass the checker; torn down in reverse order, each gives every page back.
 */
static void test_sibling_vms(void **state)
{
	struct tdxsim_vm *vm = vm_mapped_2m(TDXSIM_CONV_SPLIT_THEN_ZAP);
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *sib;
	int level, err;

	tdxsim_vm_config_init(&cfg);
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	sib = tdxsim_vm_create_sibling(vm, &cfg, &err);
	assert_non_null(sib);
	assert_ptr_equal(tdxsim_vm_sim(sib), tdxsim_vm_sim(vm));
	assert_int_not_equal(tdxsim_vm_td(sib)->hkid, tdxsim_vm_td(vm)->hkid);
	/* A process holds one simulator family at a time. */
	assert_null(tdxsim_vm_create(&cfg, &err));
	assert_int_equal(err, -EBUSY);

	assert_int_equal(tdxsim_vm_bind_gmem(sib, 0, G, S_2M, vm), -EINVAL);
	assert_int_equal(tdxsim_vm_slot_flags(sib, G), -ENOENT);
	assert_int_equal(tdxsim_vm_bind_gmem(sib, 0, G, S_2M, sib), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(sib, G, S_2M, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(sib), 0);
	assert_int_equal(tdxsim_vm_map(sib, 0, G, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_AUG), 2);
	/* Different pages behind the same GPA in the two TDs. */
	assert_int_not_equal(sept_of(sib, G).hpa, sept_of(vm, G).hpa);
	tdxsim_kernel_set_current(tdxsim_vm_sim(vm));
	assert_check_clean(vm);
	assert_check_clean(sib);

	/* The sibling's split does not touch the first VM's 2M leaf. */
	assert_int_equal(tdxsim_vm_convert(sib, G + S_4K, S_4K, false), 0);
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_2M);
	assert_int_equal(sept_of(vm, G).level, TDX_PS_2M);
	teardown_clean_keep(sib);
	tdxsim_vm_destroy(sib);
	assert_check_clean(vm);
	teardown_clean(vm);
}

/*
 * A VM's recorded violations outlive its KVM: after tdxsim_vm_teardown()
 * the summary counts them and tdxsim_vm_check() still lists them, so an
 * `expect invariants hold` after `teardown` sees a violation from before
 * it.  They stay the VM's own: neither its sibling nor a later VM (which
 * may get the freed struct kvm's address) is charged with them.  The
 * violation is filed as an inline check files one (kvm_check_record()).
 */
static void test_violations_outlive_teardown(void **state)
{
	struct tdxsim_vm *vm = vm_mapped_2m(TDXSIM_CONV_SPLIT_THEN_ZAP), *sib;
	struct kvm_check_report *rep = calloc(1, sizeof(*rep));
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm_summary sum;
	int err;

	assert_non_null(rep);
	tdxsim_vm_config_init(&cfg);
#ifdef TEST_DESIGN_UPSTREAM
	cfg.upstream = true;
#endif
	sib = tdxsim_vm_create_sibling(vm, &cfg, &err);
	assert_non_null(sib);
	kvm_check_record(tdxsim_vm_kvm(sib), KVM_INV_SPLIT_DEQUEUE, G >> PAGE_SHIFT, PG_LEVEL_2M,
			 0, 0, "filed by test_violations_outlive_teardown");
	assert_int_equal(tdxsim_vm_check(sib, rep), 1);
	assert_int_equal(tdxsim_vm_check(vm, NULL), 0);

	assert_int_equal(tdxsim_vm_teardown(sib), 0);
	tdxsim_vm_summary(sib, &sum);
	assert_int_equal(sum.ledger_violations, 1);
	assert_int_equal(tdxsim_vm_check(sib, rep), 1);
	assert_int_equal(rep->count[KVM_INV_SPLIT_DEQUEUE], 1);
	assert_int_equal(rep->v[0].what, KVM_INV_SPLIT_DEQUEUE);
	assert_non_null(strstr(rep->v[0].msg, "test_violations_outlive_teardown"));
	assert_int_equal(kvm_check_ledger_violations(tdxsim_vm_sim(vm), NULL, NULL), 1);
	tdxsim_vm_destroy(sib);

	/* A new sibling starts clean; the first VM was never charged. */
	sib = tdxsim_vm_create_sibling(vm, &cfg, &err);
	assert_non_null(sib);
	assert_int_equal(tdxsim_vm_check(sib, NULL), 0);
	teardown_clean_keep(sib);
	tdxsim_vm_summary(sib, &sum);
	assert_int_equal(sum.ledger_violations, 0);
	tdxsim_vm_destroy(sib);
	assert_int_equal(tdxsim_vm_check(vm, NULL), 0);

	kvm_check_ledger_reset(tdxsim_vm_sim(vm));
	teardown_clean(vm);
	free(rep);
}

/* One VM per process; a second create says so, a bad config says so. */
static void test_create_errors(void **state)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *vm;
	int err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
	cfg.nr_vcpus = TDXSIM_VM_MAX_VCPUS + 1;
	assert_null(tdxsim_vm_create(&cfg, &err));
	assert_int_equal(err, -EINVAL);
	cfg.nr_vcpus = 2;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	assert_null(tdxsim_vm_create(&cfg, &err));
	assert_int_equal(err, -EBUSY);
	assert_int_equal(tdxsim_vm_nr_vcpus(vm), 2);
	assert_non_null(tdxsim_vm_vcpu(vm, 1));
	assert_null(tdxsim_vm_vcpu(vm, 2));
	assert_ptr_equal(tdxsim_vm_of(tdxsim_vm_kvm(vm)), vm);
	tdxsim_vm_destroy(vm);
	/* The HKID release flushed both vCPUs itself: the teardown was clean. */
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	teardown_clean(vm);
}

/* tdx_huge_page=N (or no ENHANCED_DEMOTE_INTERRUPTIBILITY): 4K only. */
static void test_no_huge_page(void **state)
{
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *vm;
	int level, err, i;

	for (i = 0; i < 2; i++) {
		tdxsim_vm_config_init(&cfg);
		cfg.module.mem_size = 64ULL << 20;
		if (i)
			cfg.module.features0 &= ~TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY;
		else
			cfg.tdx_huge_page = false;
		vm = tdxsim_vm_create(&cfg, &err);
		assert_non_null(vm);
		assert_int_equal(tdxsim_vm_add_memslot(vm, 0, G, S_2M, TDXSIM_SLOT_PRIVATE), 0);
		assert_int_equal(tdxsim_vm_gmem_populate(vm, G, S_2M, 9), 0);
		assert_int_equal(tdxsim_vm_finalize(vm), 0);
		assert_int_equal(tdxsim_vm_map(vm, 0, G, &level), 0);
		assert_int_equal(level, PG_LEVEL_4K);
		teardown_clean(vm);
	}
}

/*
 * S08b, CL Note #2's workaround (loop_on_restartable = 3): without
 * ENHANCED_DEMOTE_INTERRUPTIBILITY KVM still maps 2M; a DEMOTE interrupted
 * once is re-issued and the split completes; one interrupted every time
 * stops after 3 re-issues (pr_err "no forward progress"), and the VM is
 * bugged with the 2M leaf still there (nothing committed).
 */
static void test_loop_on_restartable(void **state)
{
	struct tdxsim_vm_config cfg;
	char errbuf[128];
	struct tdxsim_vm *vm;
	struct kvm *kvm;
	int level, err;

	tdxsim_vm_config_init(&cfg);
	cfg.module.mem_size = 64ULL << 20;
	cfg.module.features0 &= ~TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY;
	cfg.loop_on_restartable = 3;
	vm = tdxsim_vm_create(&cfg, &err);
	assert_non_null(vm);
	kvm = tdxsim_vm_kvm(vm);
	assert_int_equal(tdxsim_vm_add_memslot(vm, 0, G, 2 * S_2M, TDXSIM_SLOT_PRIVATE), 0);
	assert_int_equal(tdxsim_vm_gmem_populate(vm, G, 2 * S_2M, 9), 0);
	assert_int_equal(tdxsim_vm_finalize(vm), 0);
	assert_int_equal(tdxsim_vm_map(vm, 0, G, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);
	assert_int_equal(tdxsim_vm_map(vm, 0, G + S_2M, &level), 0);
	assert_int_equal(level, PG_LEVEL_2M);

	assert_int_equal(tdxsim_fault_parse(tdxsim_vm_sim(vm), "demote:interrupt:nth=1", errbuf,
					    sizeof(errbuf)), 1);
	assert_int_equal(tdxsim_vm_split(vm, G, S_2M, PG_LEVEL_4K, false), 0);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), 2);
	assert_int_equal(kvm->stat.demote_restarts, 1);
	assert_int_equal(mirror_level(vm, G), PG_LEVEL_4K);
	assert_false(kvm->vm_bugged);

	tdxsim_fault_clear(tdxsim_vm_sim(vm));
	assert_int_equal(tdxsim_fault_parse(tdxsim_vm_sim(vm), "demote:interrupt", errbuf,
					    sizeof(errbuf)), 1);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_PR_ERR), 0);
	/* The write-locked split ignores the hook's error (kvm-model §6.2). */
	assert_int_equal(tdxsim_vm_split(vm, G + S_2M, S_2M, PG_LEVEL_4K, false), 0);
	assert_int_equal(calls(vm, TDH_MEM_PAGE_DEMOTE), 2 + 4);
	assert_int_equal(kvm->stat.demote_restarts, 1 + 3);
	assert_int_equal(tdxsim_kernel_events(tdxsim_vm_sim(vm), TDXSIM_KEV_PR_ERR), 1);
	assert_true(kvm->vm_bugged);
	assert_true(kvm->stat.mmu_lock_write_max_ns > 0);
	tdxsim_vm_destroy(vm);
}

/*
 * S32c: v3's split-cache top-up allocates with GFP_KERNEL and charges the
 * VM nothing; split_cache_account (GFP_KERNEL_ACCOUNT, 000 line 57)
 * charges every page.  Two 2M splits with DPAMT: 4 pages at the first
 * top-up, 2 at the second (each split takes the guest range's pair; the
 * new S-EPT pages' regions already have theirs).  Without DPAMT the cache
 * is never filled.
 */
static void test_split_cache_account(void **state)
{
	static const struct { bool dpamt, account; long alloc, charged; } v[] = {
		{ true, false, 6, 0 }, { true, true, 6, 6 }, { false, true, 0, 0 },
	};
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *vm;
	struct kvm *kvm;
	int level, err;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		tdxsim_vm_config_init(&cfg);
		cfg.module.mem_size = 64ULL << 20;
		if (!v[i].dpamt)
			cfg.module.features0 &= ~TDX_FEATURES0_DYNAMIC_PAMT;
		cfg.split_cache_account = v[i].account;
		vm = tdxsim_vm_create(&cfg, &err);
		assert_non_null(vm);
		kvm = tdxsim_vm_kvm(vm);
		assert_int_equal(tdxsim_vm_add_memslot(vm, 0, G, 2 * S_2M, TDXSIM_SLOT_PRIVATE), 0);
		assert_int_equal(tdxsim_vm_gmem_populate(vm, G, 2 * S_2M, 9), 0);
		assert_int_equal(tdxsim_vm_finalize(vm), 0);
		assert_int_equal(tdxsim_vm_map(vm, 0, G, &level), 0);
		assert_int_equal(tdxsim_vm_map(vm, 0, G + S_2M, &level), 0);
		assert_int_equal(level, PG_LEVEL_2M);
		assert_int_equal(tdxsim_vm_split(vm, G, S_2M, PG_LEVEL_4K, false), 0);
		assert_int_equal(tdxsim_vm_split(vm, G + S_2M, S_2M, PG_LEVEL_4K, false), 0);
		assert_int_equal(mirror_level(vm, G + S_2M), PG_LEVEL_4K);
		assert_int_equal(kvm->stat.split_cache_allocated, v[i].alloc);
		assert_int_equal(kvm->stat.split_cache_charged, v[i].charged);
		teardown_clean(vm);
	}
}

/*
 * S29, dpamt_at_topup (Sean, 003 P19 12597): the vCPU's fault-cache top-up
 * counts each S-EPT page's pair user (tdx_pamt_get) and SEPT.ADD does not.
 * Typical workload: the cache pages' 2M region gets its pair once, the
 * same PAMT.ADD the variant-off run issues at SEPT.ADD; vCPU 1's top-up
 * (its pages in the same region) is a refcount bump.  Teardown: the
 * leftovers are put and every pair comes back (no leak).
 */
static void test_dpamt_at_topup(void **state)
{
	long pairs[2], adds[2];
	struct tdxsim_vm_config cfg;
	struct tdxsim_vm *vm;
	struct kvm *kvm;
	int i, level, err;

	for (i = 0; i < 2; i++) {
		tdxsim_vm_config_init(&cfg);
		cfg.module.mem_size = 64ULL << 20;
		cfg.nr_vcpus = 2;
		cfg.dpamt_at_topup = i;
		vm = tdxsim_vm_create(&cfg, &err);
		assert_non_null(vm);
		kvm = tdxsim_vm_kvm(vm);
		assert_int_equal(tdxsim_vm_add_memslot(vm, 0, G, S_2M, TDXSIM_SLOT_PRIVATE), 0);
		assert_int_equal(tdxsim_vm_gmem_populate(vm, G, S_2M, 0), 0);
		assert_int_equal(tdxsim_vm_finalize(vm), 0);
		assert_int_equal(tdxsim_vm_map(vm, 0, G, &level), 0);
		assert_int_equal(level, PG_LEVEL_4K);
		assert_int_equal(tdxsim_vm_map(vm, 1, G + 0x2000, &level), 0);
		pairs[i] = kvm->stat.topup_pairs;
		adds[i] = (long)calls(vm, TDH_PHYMEM_PAMT_ADD);
		teardown_clean(vm);
	}
	assert_int_equal(pairs[0], 0);
	assert_int_equal(pairs[1], 1);
	assert_int_equal(adds[1], adds[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_finalize_map),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_convert_split_then_zap),
		cmocka_unit_test(test_convert_zap_then_split),
		cmocka_unit_test(test_convert_folio_first),
		cmocka_unit_test(test_convert_once),
		cmocka_unit_test(test_convert_enomem_split_then_zap),
		cmocka_unit_test(test_convert_enomem_zap_then_split),
		cmocka_unit_test(test_convert_enomem_folio_first),
		cmocka_unit_test(test_punch_hole),
		cmocka_unit_test(test_split_zap_memory_failure),
		cmocka_unit_test(test_mmio_and_no_tdmr),
		cmocka_unit_test(test_fault_retries_under_invalidation),
		cmocka_unit_test(test_no_tdmr_4k),
		cmocka_unit_test(test_sibling_vms),
		cmocka_unit_test(test_violations_outlive_teardown),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_no_huge_page),
		cmocka_unit_test(test_loop_on_restartable),
		cmocka_unit_test(test_split_cache_account),
		cmocka_unit_test(test_dpamt_at_topup),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
