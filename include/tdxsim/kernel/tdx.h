/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel shim: asm/tdx.h, asm/tdx_global_metadata.h and the helpers of
 * arch/x86/virt/vmx/tdx/tdx.c that the SEAMCALL wrappers use.
 *
 * The SEAMCALL register contract ("customised", to show the kernel's bugs):
 * __seamcall() and __seamcall_ret() hand the module RCX, RDX and R8-R11 of
 * @args only; R12-R15, RBX, RDI and RSI reach it as junk,
 * TDXSIM_SEAMCALL_JUNK(reg), never what the caller's struct holds.
 * __seamcall() writes nothing back, __seamcall_ret() writes back RCX, RDX and
 * R8-R11 only, __seamcall_saved_ret() passes and returns all thirteen, as the
 * kernel's TDX_MODULE_CALL does.  seamcall(), seamcall_ret() and
 * seamcall_saved_ret() are sc_retry() around them (retry on
 * TDX_RND_NO_ENTROPY, preemption disabled during the call).  The calls go to
 * the thread's current simulator; with none they return
 * TDX_SEAMCALL_VMFAILINVALID and touch nothing, as with no module loaded.
 *
 * tdx.c's static helpers (tdx_tdr_pa, tdx_tdvpr_pa, tdx_clflush_page,
 * mk_keyed_paddr, tdx_quirk_reset_paddr) are static inlines here: a file
 * that pastes its own copies defines TDXSIM_KERNEL_OWN_TDX_HELPERS before
 * including <tdxsim/kernel.h>.  The global tdx_sysinfo of tdx.c is the
 * current simulator's (a macro): define TDXSIM_KERNEL_OWN_TDX_SYSINFO to
 * keep your own.  The exported functions of tdx.c that the shim provides
 * (tdx_get_sysinfo, tdx_quirk_reset_page, tdx_quirk_reset_folio,
 * tdx_dpamt_entry_pages) are weak: your definition replaces the shim's.
 */
#ifndef TDXSIM_KERNEL_TDX_H
#define TDXSIM_KERNEL_TDX_H

#include <tdxsim/kernel/base.h>
#include <tdxsim/kernel/locking.h>
#include <tdxsim/kernel/mm.h>
#include <tdxsim/kernel/printk.h>
#include <tdxsim/tdx_api.h>
#include <tdxsim/tdx_errno.h>

#pragma GCC visibility push(default)

/* The kernel's spelling (asm/tdx.h of the v3 series); ours stays an alias. */
#define TDX_FEATURES0_ENHANCE_DEMOTE_INTERRUPTIBILITY	TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY

/* ---- SEAMCALL entry points ---- */
/* What a register the variant does not pass holds when the module reads it. */
#define TDXSIM_SEAMCALL_JUNK_BASE	0xdead5eac00000000ULL
#define TDXSIM_SEAMCALL_JUNK(reg)	\
	(TDXSIM_SEAMCALL_JUNK_BASE | offsetof(struct tdx_module_args, reg) / sizeof(u64))

u64 __tdxsim_seamcall(u64 fn, struct tdx_module_args *args);
static inline u64 __seamcall(u64 fn, struct tdx_module_args *args)
{
	return __tdxsim_seamcall(fn, args);
}
u64 __tdxsim_seamcall_ret(u64 fn, struct tdx_module_args *args);
static inline u64 __seamcall_ret(u64 fn, struct tdx_module_args *args)
{
	return __tdxsim_seamcall_ret(fn, args);
}
u64 __tdxsim_seamcall_saved_ret(u64 fn, struct tdx_module_args *args);
static inline u64 __seamcall_saved_ret(u64 fn, struct tdx_module_args *args)
{
	return __tdxsim_seamcall_saved_ret(fn, args);
}

typedef u64 (*sc_func_t)(u64 fn, struct tdx_module_args *args);

#define RDRAND_RETRY_LOOPS	10

static inline u64 sc_retry(sc_func_t func, u64 fn, struct tdx_module_args *args)
{
	int retry = RDRAND_RETRY_LOOPS;
	u64 ret;

	do {
		preempt_disable();
		ret = func(fn, args);
		preempt_enable();
	} while (ret == TDX_RND_NO_ENTROPY && --retry);
	return ret;
}

#define seamcall(fn, args)		sc_retry(__seamcall, (fn), (args))
#define seamcall_ret(fn, args)		sc_retry(__seamcall_ret, (fn), (args))
#define seamcall_saved_ret(fn, args)	sc_retry(__seamcall_saved_ret, (fn), (args))

/*
 * The register block seen as an array, for the leaves that take a list of
 * page addresses in consecutive registers (Dynamic PAMT: RDX.. for
 * PAMT.ADD/REMOVE, R12.. for DEMOTE).
 */
struct tdx_module_array_args {
	union {
		struct tdx_module_args args;
		u64 args_array[sizeof(struct tdx_module_args) / sizeof(u64)];
	};
};

/* ---- struct tdx_td, struct tdx_vp (asm/tdx.h) ---- */
struct tdx_td {
	struct page *tdr_page;		/* TD root */
	int tdcs_nr_pages;
	struct page **tdcs_pages;	/* TD control structure */
	int tdcx_nr_pages;		/* size of tdcx_pages of each struct tdx_vp */
};

struct tdx_vp {
	struct page *tdvpr_page;	/* TDVP root */
	phys_addr_t tdvpr_pa;		/* page_to_phys(tdvpr_page) */
	struct page **tdcx_pages;	/* TD vCPU control structure */
};

/* ---- global metadata (asm/tdx_global_metadata.h) ---- */
struct tdx_sys_info_version {
	u16 minor_version;
	u16 major_version;
	u16 update_version;
};

struct tdx_sys_info_features {
	u64 tdx_features0;
};

struct tdx_sys_info_tdmr {
	u16 max_tdmrs;
	u16 max_reserved_per_tdmr;
	u16 pamt_4k_entry_size;
	u16 pamt_2m_entry_size;
	u16 pamt_1g_entry_size;
};

struct tdx_sys_info_td_ctrl {
	u16 tdr_base_size;
	u16 tdcs_base_size;
	u16 tdvps_base_size;
};

struct tdx_sys_info_td_conf {
	u64 attributes_fixed0;
	u64 attributes_fixed1;
	u64 xfam_fixed0;
	u64 xfam_fixed1;
	u16 num_cpuid_config;
	u16 max_vcpus_per_td;
};

struct tdx_sys_info {
	struct tdx_sys_info_version version;
	struct tdx_sys_info_features features;
	struct tdx_sys_info_tdmr tdmr;
	struct tdx_sys_info_td_ctrl td_ctrl;
	struct tdx_sys_info_td_conf td_conf;
};

/*
 * The current simulator's global metadata, read from its configuration
 * (features0, TDCS/TDVPS page counts; PAMT entries of 16 bytes, module
 * 1.5).  NULL when the thread has no current simulator or the shim has no
 * memory for it.  Weak.
 */
const struct tdx_sys_info *tdx_get_sysinfo(void);
/* tdx.c's global, writable as there (a test may flip a feature bit for its simulator). */
struct tdx_sys_info *__tdxsim_tdx_sysinfo(void);
#ifndef TDXSIM_KERNEL_OWN_TDX_SYSINFO
#define tdx_sysinfo		(*__tdxsim_tdx_sysinfo())
#endif

static inline bool tdx_supports_dynamic_pamt(const struct tdx_sys_info *sysinfo)
{
	return sysinfo->features.tdx_features0 & TDX_FEATURES0_DYNAMIC_PAMT;
}

/* Whether the module runs a DEMOTE to the end rather than being interrupted by it. */
static inline bool tdx_supports_demote_nointerrupt(const struct tdx_sys_info *info)
{
	u64 features0 = info->features.tdx_features0;

	return (features0 & TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY) != 0;
}

/*
 * Pages of one Dynamic-PAMT pair: pamt_4k_entry_size * 512 / 4096 (2), 0
 * without Dynamic PAMT.  Weak.
 */
int tdx_dpamt_entry_pages(void);

/*
 * ---- asm/processor.h, asm/cpufeature.h: the current simulator's CPU ----
 * x86_phys_bits is the address width left below the KeyID bits (max_pa_bits
 * - nr_hkid_bits), as the kernel reduces it for MKTME/TDX; the one bug
 * modelled is X86_BUG_TDX_PW_MCE (the simulator's reset_quirk).
 */
struct cpuinfo_x86 {
	u8 x86_phys_bits;
	u8 x86_virt_bits;
};

#define X86_BUG_TDX_PW_MCE	1

/* The calling thread's view of its current simulator's CPU; zeroes with none. */
const struct cpuinfo_x86 *__tdxsim_boot_cpu_data(void);
#define boot_cpu_data		(*__tdxsim_boot_cpu_data())
bool __tdxsim_boot_cpu_has_bug(int bug);
static inline bool boot_cpu_has_bug(int bug)
{
	return __tdxsim_boot_cpu_has_bug(bug);
}

/* ---- tdx.c's helpers ---- */
/* MOVDIR64B with the host key over [base, base + size) (X86_BUG_TDX_PW_MCE). */
void __tdxsim_quirk_reset_paddr(unsigned long base, unsigned long size);

#ifndef TDXSIM_KERNEL_OWN_TDX_HELPERS
static inline u64 tdx_tdr_pa(struct tdx_td *td)
{
	return page_to_phys(td->tdr_page);
}

static inline u64 tdx_tdvpr_pa(struct tdx_vp *vp)
{
	return vp->tdvpr_pa;
}

/* The simulator keeps no cache state: CLFLUSH is a no-op. */
static inline void tdx_clflush_page(struct page *page)
{
	(void)page;
}

static inline u64 mk_keyed_paddr(u16 hkid, struct page *page)
{
	return page_to_phys(page) | ((u64)hkid << boot_cpu_data.x86_phys_bits);
}

static inline void tdx_quirk_reset_paddr(unsigned long base, unsigned long size)
{
	__tdxsim_quirk_reset_paddr(base, size);
}
#endif

/* tdx_quirk_reset_paddr() of one page; of @npages of @folio from @start_idx.  Weak. */
void tdx_quirk_reset_page(struct page *page);
void tdx_quirk_reset_folio(struct folio *folio, unsigned long start_idx, unsigned long npages);

#pragma GCC visibility pop

#endif /* TDXSIM_KERNEL_TDX_H */
