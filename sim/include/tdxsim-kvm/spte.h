/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SPTEs as raw 64-bit words, so FROZEN and non-present comparisons behave as
 * in the kernel (arch/x86/kvm/mmu/spte.h; spec kvm-model.md §1.1).  Only the
 * bits the TDP MMU for private memory looks at are modelled: present
 * (SPTE_MMU_PRESENT_MASK), large (PT_PAGE_SIZE_MASK), RWX and the PFN.
 *
 * A non-leaf SPTE holds the address of its child's spt page in the PFN
 * field.  Page tables live in this process's memory, so that "physical"
 * address is the spt's virtual address: it fits the 40-bit PFN field.
 */
#ifndef TDXSIM_KVM_SPTE_H
#define TDXSIM_KVM_SPTE_H

#include <stdbool.h>
#include <stdint.h>

/* gfn_t, kvm_pfn_t, enum pg_level: the kernel shim's (asm/pgtable_types.h). */
#include <tdxsim/kernel.h>

#define KVM_NR_PAGE_SIZES		3	/* 4K, 2M, 1G */
#define KVM_MAX_HUGEPAGE_LEVEL		PG_LEVEL_1G
#define PT64_ROOT_4LEVEL		4
#define PT64_ROOT_MAX_LEVEL		5
#define SPTE_ENT_PER_PAGE		512
#define SPTE_LEVEL_BITS			9
#define KVM_HPAGE_GFN_SHIFT(level)	(((level) - 1) * SPTE_LEVEL_BITS)
#define KVM_PAGES_PER_HPAGE(level)	(1ULL << KVM_HPAGE_GFN_SHIFT(level))
#define SPTE_INDEX(gfn, level)		(((gfn) >> KVM_HPAGE_GFN_SHIFT(level)) & (SPTE_ENT_PER_PAGE - 1))

#define SPTE_BIT(n)			(1ULL << (n))
#define VMX_EPT_READABLE_MASK		SPTE_BIT(0)
#define VMX_EPT_WRITABLE_MASK		SPTE_BIT(1)
#define VMX_EPT_EXECUTABLE_MASK		SPTE_BIT(2)
#define VMX_EPT_RWX_MASK		(VMX_EPT_READABLE_MASK | VMX_EPT_WRITABLE_MASK | \
					 VMX_EPT_EXECUTABLE_MASK)
#define PT_PAGE_SIZE_MASK		SPTE_BIT(7)
#define SPTE_MMU_PRESENT_MASK		SPTE_BIT(11)
#define SPTE_BASE_ADDR_MASK		(((1ULL << 52) - 1) & ~((1ULL << 12) - 1))

/* Bit 63 is EPT's suppress-#VE: TDX wants EPT violations on non-present entries. */
#define SHADOW_NONPRESENT_VALUE		SPTE_BIT(63)
/* A per-SPTE lock: whoever froze it writes the final value (older name REMOVED_SPTE). */
#define FROZEN_SPTE			(SHADOW_NONPRESENT_VALUE | 0x5a0ULL)

static inline bool is_shadow_present_pte(u64 spte)
{
	return spte & SPTE_MMU_PRESENT_MASK;
}

static inline bool is_large_pte(u64 spte)
{
	return spte & PT_PAGE_SIZE_MASK;
}

static inline bool is_last_spte(u64 spte, int level)
{
	return level == PG_LEVEL_4K || is_large_pte(spte);
}

static inline bool is_frozen_spte(u64 spte)
{
	return spte == FROZEN_SPTE;
}

static inline kvm_pfn_t spte_to_pfn(u64 spte)
{
	return (spte & SPTE_BASE_ADDR_MASK) >> 12;
}

static inline gfn_t gfn_round_for_level(gfn_t gfn, int level)
{
	return gfn & ~(KVM_PAGES_PER_HPAGE(level) - 1);
}

/* The leaf a private fault installs: present, full RWX (tdx_sept_set_private_spte warns otherwise). */
static inline u64 make_spte(kvm_pfn_t pfn, int level)
{
	u64 spte = SPTE_MMU_PRESENT_MASK | VMX_EPT_RWX_MASK | (pfn << 12);

	if (level > PG_LEVEL_4K)
		spte |= PT_PAGE_SIZE_MASK;
	return spte;
}

/* A non-leaf SPTE pointing at @child_pt (spte.c make_nonleaf_spte; A/D bits not modelled). */
static inline u64 make_nonleaf_spte(u64 *child_pt, bool ad_disabled)
{
	(void)ad_disabled;
	return SPTE_MMU_PRESENT_MASK | VMX_EPT_RWX_MASK | ((u64)(uintptr_t)child_pt & SPTE_BASE_ADDR_MASK);
}

static inline u64 *spte_to_child_pt(u64 spte, int level)
{
	(void)level;
	return (u64 *)(uintptr_t)(spte & SPTE_BASE_ADDR_MASK);
}

#endif /* TDXSIM_KVM_SPTE_H */
