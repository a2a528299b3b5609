/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to sim/kvm (arch/x86/kvm/mmu/mmu_internal.h's role).  The kernel
 * shim gives WARN_ON*, which it records as events; KVM_BUG_ON is customised
 * here so that it also marks this struct kvm bugged, as the kernel's does.
 */
#ifndef TDXSIM_KVM_MMU_INTERNAL_H
#define TDXSIM_KVM_MMU_INTERNAL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <tdxsim/kernel.h>
#include <tdxsim-kvm/tdp_mmu.h>

#undef KVM_BUG_ON
#define KVM_BUG_ON(cond, kvm)	__kvm_bug_on((kvm), !!(cond), __FILE__, __LINE__, #cond)

/*
 * The PRIVATE attribute bit of @gfn in its slot.  Set and cleared under the
 * write mmu_lock but read by faults without it (the kernel's attributes
 * xarray is read under RCU), so every access to the bytes is atomic.
 */
static inline bool kvm_attr_test(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	unsigned long i = gfn - slot->base_gfn;

	return __atomic_load_n(&slot->attr_private[i >> 3], __ATOMIC_RELAXED) & (1U << (i & 7));
}

/* Set (or clear) the PRIVATE bit of [start, end) of @slot. */
static inline void kvm_attr_set_range(struct kvm_memory_slot *slot, gfn_t start, gfn_t end,
				      bool private)
{
	unsigned long i;

	for (i = start - slot->base_gfn; i < end - slot->base_gfn; i++) {
		bitstr_t *byte = &slot->attr_private[i >> 3];

		/* A whole byte at once where the range covers it. */
		if (!(i & 7) && i + 8 <= end - slot->base_gfn) {
			__atomic_store_n(byte, private ? 0xff : 0, __ATOMIC_RELAXED);
			i += 7;
			continue;
		}
		if (private)
			__atomic_fetch_or(byte, (bitstr_t)(1U << (i & 7)), __ATOMIC_RELAXED);
		else
			__atomic_fetch_and(byte, (bitstr_t)~(1U << (i & 7)), __ATOMIC_RELAXED);
	}
}

static inline bool kvm_has_mirrored_tdp(const struct kvm *kvm)
{
	return kvm->has_mirrored_tdp;
}

static inline u64 kvm_tdp_mmu_read_spte(u64 *sptep)
{
	return __atomic_load_n(sptep, __ATOMIC_ACQUIRE);
}

/* Every write is an exchange: the old value is returned, whatever raced. */
static inline u64 kvm_tdp_mmu_write_spte_atomic(u64 *sptep, u64 new_spte)
{
	return __atomic_exchange_n(sptep, new_spte, __ATOMIC_ACQ_REL);
}

static inline bool try_cmpxchg64(u64 *ptr, u64 *old, u64 new)
{
	return __atomic_compare_exchange_n(ptr, old, new, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

void kvm_update_page_stats(struct kvm *kvm, int level, long count);

/* spt pages with their ->private slot (spt_page.c); NULL: no memory */
u64 *kvm_mmu_alloc_spt_page(u64 init_value);
void kvm_mmu_free_spt_page(u64 *spt);

void kvm_mmu_free_vcpu_caches(struct kvm_vcpu *vcpu);
int mmu_topup_memory_caches(struct kvm_vcpu *vcpu);
struct kvm_mmu_page *kvm_tdp_mmu_alloc_mirror_root(struct kvm *kvm);

/* MIXED recomputation after an attribute change (kvm_arch_post_set_memory_attributes). */
void kvm_arch_post_set_memory_attributes(struct kvm *kvm, struct kvm_gfn_range *range);
void kvm_mmu_hugepage_adjust(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);
void kvm_mmu_init_lpage_info(struct kvm_memory_slot *slot);

#endif /* TDXSIM_KVM_MMU_INTERNAL_H */
