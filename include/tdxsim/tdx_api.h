/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The SEAMCALL/TDCALL register ABI: argument block, leaf numbers, feature
 * bits, page types, levels and public S-EPT states.  Names and values are the
 * kernel's (arch/x86/virt/vmx/tdx/tdx.h, asm/tdx.h) or the module's.
 */
#ifndef TDXSIM_TDX_API_H
#define TDXSIM_TDX_API_H

#include <tdxsim/types.h>

/* Same fields, same order as the kernel's struct tdx_module_args. */
struct tdx_module_args {
	u64 rcx;
	u64 rdx;
	u64 r8;
	u64 r9;
	u64 r10;
	u64 r11;
	u64 r12;
	u64 r13;
	u64 r14;
	u64 r15;
	u64 rbx;
	u64 rdi;
	u64 rsi;
};

/* SEAMCALL leaves: RAX bits 15:0 leaf, bits 23:16 version. */
#define TDH_VP_ENTER			0
#define TDH_MNG_ADDCX			1
#define TDH_MEM_PAGE_ADD		2
#define TDH_MEM_SEPT_ADD		3
#define TDH_VP_ADDCX			4
#define TDH_MEM_PAGE_RELOCATE		5
#define TDH_MEM_PAGE_AUG		6
#define TDH_MEM_RANGE_BLOCK		7
#define TDH_MNG_KEY_CONFIG		8
#define TDH_MNG_CREATE			9
#define TDH_VP_CREATE			10
#define TDH_MNG_RD			11
#define TDH_MEM_PAGE_DEMOTE		15
#define TDH_MR_EXTEND			16
#define TDH_MR_FINALIZE			17
#define TDH_VP_FLUSH			18
#define TDH_MNG_VPFLUSHDONE		19
#define TDH_MNG_KEY_FREEID		20
#define TDH_MNG_INIT			21
#define TDH_VP_INIT			22
#define TDH_MEM_PAGE_PROMOTE		23
#define TDH_PHYMEM_PAGE_RDMD		24
#define TDH_MEM_SEPT_RD			25
#define TDH_PHYMEM_PAGE_RECLAIM		28
#define TDH_MEM_PAGE_REMOVE		29
#define TDH_MEM_SEPT_REMOVE		30
#define TDH_MEM_TRACK			38
#define TDH_MEM_RANGE_UNBLOCK		39
#define TDH_PHYMEM_CACHE_WB		40
#define TDH_PHYMEM_PAGE_WBINVD		41
#define TDH_VP_WR			43
#define TDH_SYS_CONFIG			45
#define TDH_PHYMEM_PAMT_ADD		58
#define TDH_PHYMEM_PAMT_REMOVE		59

#define TDX_LEAF_MASK			0xFFFFULL
#define TDX_VERSION_SHIFT		16
#define TDX_VERSION_MASK		0xFFULL
#define TDX_NR_LEAVES			64

/* TDCALL leaves (guest side). */
#define TDG_MEM_PAGE_ACCEPT		6

/* TDX_FEATURES0 bits (TDX global metadata). */
#define TDX_FEATURES0_NO_RBP_MOD				(1ULL << 18)
#define TDX_FEATURES0_DYNAMIC_PAMT				(1ULL << 36)
#define TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY		(1ULL << 51)

/* TDX page levels (TDX_PS_*), KVM's pg_level is this plus one. */
enum pg_level_tdx {
	TDX_PS_4K = 0,
	TDX_PS_2M = 1,
	TDX_PS_1G = 2,
};
#define TDX_PS_NR			3

/* PAMT page types, module pamt_manager.h. */
enum pamt_page_type {
	PT_NDA = 0,
	PT_RSVD = 1,
	PT_REG = 3,
	PT_TDR = 4,
	PT_TDCX = 5,
	PT_TDVPR = 6,
	PT_EPT = 8,
	PT_PAMT = 15,
};

/* Public S-EPT entry states as reported in RDX bits 15:8 ("level_state"). */
#define SEPT_PUBLIC_FREE		0
#define SEPT_PUBLIC_BLOCKED		1
#define SEPT_PUBLIC_PENDING		2
#define SEPT_PUBLIC_PENDING_BLOCKED	3
#define SEPT_PUBLIC_MAPPED		4
#define SEPT_PUBLIC_REMOVED		5
#define SEPT_PUBLIC_NL_BLOCKED		0x81
#define SEPT_PUBLIC_NL_MAPPED		0x84

/* RDX layout of the S-EPT error details (sept_entry_arch_info_t). */
#define TDX_SEPT_INFO_LEVEL_MASK	0x7ULL
#define TDX_SEPT_INFO_STATE_SHIFT	8
#define TDX_SEPT_INFO_STATE_MASK	0xFF00ULL

/*
 * The architectural S-EPT entry as returned in RCX on walk/state errors
 * (set_arch_septe_details_in_vmm_regs()): FREE reads as SVE alone; a leaf as
 * HPA | MT_WB | IPAT | PS | SVE, plus RWX when MAPPED (PS is set on 4K
 * leaves too: it is part of the state encoding); a non-leaf entry as RWX | PS
 * only, without the child table's address (NL_MAPPED 0x7, NL_BLOCKED 0).
 */
#define SEPT_ARCH_R			(1ULL << 0)
#define SEPT_ARCH_W			(1ULL << 1)
#define SEPT_ARCH_X			(1ULL << 2)
#define SEPT_ARCH_MT_WB			(6ULL << 3)
#define SEPT_ARCH_IPAT			(1ULL << 6)
#define SEPT_ARCH_PS			(1ULL << 7)
#define SEPT_ARCH_SVE			(1ULL << 63)
#define SEPT_ARCH_PFN_MASK		0x000FFFFFFFFFF000ULL

/* GPA|level operand (page_info_api_input_t). */
#define TDX_PAGE_INFO_LEVEL_MASK	0x7ULL
#define TDX_PAGE_INFO_RSVD_MASK		0xFFF0000000000FF8ULL
/* TD handle operand (td_handle_and_flags_t). */
#define TDX_TD_HANDLE_FLAG		0x1ULL
#define TDX_TD_HANDLE_RSVD_MASK		0xFFF0000000000FFEULL

/* Set in RCX by REMOVE/SEPT.REMOVE/PROMOTE, in R9 by RECLAIM. */
#define TDX_PAMT_REMOVAL_HINT		(1ULL << 62)
/* Set in R8 of SEPT.ADD with allow_existing when the page was not used. */
#define TDX_SEPT_ADD_PAGE_NOT_USED	(1ULL << 63)
/* "No page" in SEPT.ADD's R8 (version 1 only) and its R8 output once the page is used. */
#define TDX_NULL_PA			(~0ULL)

/* TD-exit information for an EPT violation (TDG.MEM.PAGE.ACCEPT's or a guest access's). */
#define EXIT_REASON_EPT_VIOLATION		48
#define TDX_EXT_EXIT_QUAL_TYPE_MASK		0xFULL
#define TDX_EXT_EXIT_QUAL_TYPE_ACCEPT		1
#define TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION	6
#define TDX_EXT_EXIT_QUAL_INFO_SHIFT		32
#define TDX_EXT_EXIT_QUAL_INFO_MASK		0xFFFFFFFF00000000ULL
/* Fields of the info part (tdaccept_vmx_eeq_info_t). */
#define TDX_ACCEPT_INFO_REQ_LEVEL_MASK		0x7ULL
#define TDX_ACCEPT_INFO_ERR_LEVEL_SHIFT		3
#define TDX_ACCEPT_INFO_ERR_STATE_SHIFT		6
#define TDX_ACCEPT_INFO_ERR_IS_LEAF		(1ULL << 14)
/*
 * Exit qualification of an EPT violation (the kernel's asm/vmx.h names): the
 * access (read, write, fetch), the permissions of the entry that stopped the
 * walk (bits 5:3, none for a non-present one), and whether the access went
 * through a guest linear address.
 */
#define EPT_VIOLATION_ACC_READ			(1ULL << 0)
#define EPT_VIOLATION_ACC_WRITE			(1ULL << 1)
#define EPT_VIOLATION_ACC_INSTR			(1ULL << 2)
#define EPT_VIOLATION_GVA_IS_VALID		(1ULL << 7)
#define EPT_VIOLATION_GVA_TRANSLATED		(1ULL << 8)

#define TDX_PAGE_SHIFT			12
#define TDX_PAGE_SIZE			(1ULL << TDX_PAGE_SHIFT)
#define TDX_PTE_SHIFT			9
#define TDX_PTRS_PER_TABLE		512

static inline u64 tdx_level_size(int level)
{
	return TDX_PAGE_SIZE << (TDX_PTE_SHIFT * level);
}

static inline u64 tdx_level_pages(int level)
{
	return 1ULL << (TDX_PTE_SHIFT * level);
}

#endif /* TDXSIM_TDX_API_H */
