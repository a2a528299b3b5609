// SPDX-License-Identifier: GPL-2.0-only
/*
 * The KVM model's own cost, with hooks that do nothing: fault-in of a
 * private region at 2M, then a split of every 2M leaf to 4K (one
 * tdp_mmu_split_huge_pages_root per leaf under the write lock, as the
 * honour-accept path does).  Prints µs per fault-in and per split and the
 * model's resident bytes per mapped 4K page.  The module's side (and the
 * issue's whole-path figure) is bench_path.c's.
 *
 *   bench-sim-mmu [--gib N]    (default 16)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tdxsim-kvm/tdp_mmu.h>

#include "bench_util.h"

static char dummy_page;

static int nop_link(struct kvm *kvm, gfn_t gfn, enum pg_level level, void *ext) { return 0; }
static int nop_set(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 spte) { return 0; }
static int nop_free(struct kvm *kvm, gfn_t gfn, enum pg_level level, void *ext) { return 0; }
static void nop_remove(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 spte) { }
static int nop_split(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 old, void *ext,
		     bool shared)
{
	return shared ? -EOPNOTSUPP : 0;
}
static void *nop_fault_cache(struct kvm_vcpu *vcpu) { return &dummy_page; }
static void *nop_page(struct kvm *kvm, enum kvm_page_pool pool) { return &dummy_page; }
static void nop_release(struct kvm *kvm, void *page, enum kvm_page_pool pool) { }

static const struct kvm_x86_ops nop_ops = {
	.name = "no-op (benchmark)",
	.link_external_spt = nop_link,
	.set_external_spte = nop_set,
	.free_external_spt = nop_free,
	.remove_external_spte = nop_remove,
	.split_external_spte = nop_split,
	.alloc_external_fault_cache = nop_fault_cache,
};

static const struct kvm_page_ops nop_page_ops = {
	.get_page_for = nop_page,
	.release_page = nop_release,
};

static double now_us(void)
{
	return bench_clock_ns(CLOCK_MONOTONIC) / 1e3;
}

int main(int argc, char **argv)
{
	struct tdxsim_kvm_config cfg = { .ops = &nop_ops, .page_ops = &nop_page_ops };
	unsigned long gib = 16, nr_2m, i;
	const gfn_t base = 0x100000;
	struct kvm_userspace_memory_region2 mem = { .slot = 0 };
	double t0, t_fault, t_split;
	long rss0, rss_fault, rss_split;
	struct kvm_vcpu *vcpu;
	struct kvm *kvm;

	if (argc == 3 && !strcmp(argv[1], "--gib"))
		gib = strtoul(argv[2], NULL, 0);
	nr_2m = gib * 512;
	kvm = tdxsim_kvm_create(&cfg);
	mem.guest_phys_addr = base << 12;
	mem.memory_size = (u64)nr_2m << 21;
	if (!kvm || kvm_set_memory_region(kvm, &mem) ||
	    kvm_vm_set_mem_attributes(kvm, base, base + nr_2m * 512, KVM_MEMORY_ATTRIBUTE_PRIVATE))
		return 1;
	for (i = 0; i < nr_2m; i++)
		if (tdxsim_kvm_gmem_set_folio(kvm, base + i * 512, 0x100000 + i * 512, 9))
			return 1;
	vcpu = tdxsim_kvm_vcpu_create(kvm, 0);
	if (!vcpu)
		return 1;

	rss0 = bench_rss_bytes();
	t0 = now_us();
	for (i = 0; i < nr_2m; i++)
		if (kvm_mmu_do_page_fault(vcpu, (base + i * 512) << 12, PFERR_PRIVATE_ACCESS,
					  NULL) != RET_PF_FIXED)
			return 1;
	t_fault = now_us() - t0;
	rss_fault = bench_rss_bytes();

	t0 = now_us();
	for (i = 0; i < nr_2m; i++) {
		int r;

		KVM_MMU_LOCK(kvm);
		r = tdp_mmu_split_huge_pages_root(kvm, kvm->mirror_root, base + i * 512,
						  base + i * 512 + 1, PG_LEVEL_4K, false, true);
		KVM_MMU_UNLOCK(kvm);
		if (r)
			return 1;
	}
	t_split = now_us() - t0;
	rss_split = bench_rss_bytes();
	if (kvm->stat.pages[0] != (long)(nr_2m * 512))
		return 1;

	printf("region %lu GiB, %lu x 2M, hooks: no-op\n", gib, nr_2m);
	printf("fault-in 2M:        %.2f us\n", t_fault / nr_2m);
	printf("split 2M -> 4K:     %.2f us\n", t_split / nr_2m);
	printf("model resident per mapped 4K page after the splits: %.1f bytes "
	       "(%ld page-table pages; RSS +%ld KiB at 2M, +%ld KiB at 4K)\n",
	       (double)(rss_split - rss0) / (nr_2m * 512), kvm->stat.sp_allocated,
	       (rss_fault - rss0) / 1024, (rss_split - rss0) / 1024);
	tdxsim_kvm_vcpu_destroy(vcpu);
	tdxsim_kvm_destroy(kvm);
	return 0;
}
