// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel shim's asm/tdx.h (include/tdxsim/kernel/tdx.h): the SEAMCALL
 * entry points with the kernel's register contract, the global metadata of
 * the current simulator, and tdx.c's exported helpers (weak, so a test's own
 * copy from tdx.c replaces them).
 */
#include <stdlib.h>
#include <string.h>

#include "kernel-internal.h"

/*
 * RCX, RDX, R8-R11 are what TDX_MODULE_CALL moves into registers for every
 * variant; the others only for the saved variant.  A register not passed
 * holds whatever the kernel had in it: here a recognisable junk value.
 */
static void seamcall_junk(struct tdx_module_args *regs, const struct tdx_module_args *args)
{
	*regs = (struct tdx_module_args){
		.rcx = args->rcx, .rdx = args->rdx,
		.r8 = args->r8, .r9 = args->r9, .r10 = args->r10, .r11 = args->r11,
		.r12 = TDXSIM_SEAMCALL_JUNK(r12), .r13 = TDXSIM_SEAMCALL_JUNK(r13),
		.r14 = TDXSIM_SEAMCALL_JUNK(r14), .r15 = TDXSIM_SEAMCALL_JUNK(r15),
		.rbx = TDXSIM_SEAMCALL_JUNK(rbx), .rdi = TDXSIM_SEAMCALL_JUNK(rdi),
		.rsi = TDXSIM_SEAMCALL_JUNK(rsi),
	};
}

u64 __tdxsim_seamcall(u64 fn, struct tdx_module_args *args)
{
	struct tdxsim *sim = shim_current();
	struct tdx_module_args regs;

	if (!sim)
		return TDX_SEAMCALL_VMFAILINVALID;
	seamcall_junk(&regs, args);
	return tdxsim_seamcall(sim, fn, &regs);
}

u64 __tdxsim_seamcall_ret(u64 fn, struct tdx_module_args *args)
{
	struct tdxsim *sim = shim_current();
	struct tdx_module_args regs;
	u64 ret;

	if (!sim)
		return TDX_SEAMCALL_VMFAILINVALID;
	seamcall_junk(&regs, args);
	ret = tdxsim_seamcall(sim, fn, &regs);
	args->rcx = regs.rcx;
	args->rdx = regs.rdx;
	args->r8 = regs.r8;
	args->r9 = regs.r9;
	args->r10 = regs.r10;
	args->r11 = regs.r11;
	return ret;
}

u64 __tdxsim_seamcall_saved_ret(u64 fn, struct tdx_module_args *args)
{
	struct tdxsim *sim = shim_current();

	if (!sim)
		return TDX_SEAMCALL_VMFAILINVALID;
	return tdxsim_seamcall(sim, fn, args);
}

/* ---- global metadata ---- */

/* Module 1.5's values; PAMT entries of 16 bytes make a Dynamic-PAMT pair 2 pages. */
static void sysinfo_fill(struct tdx_sys_info *si, const struct tdxsim_config *cfg)
{
	si->version.major_version = 1;
	si->version.minor_version = 5;
	si->features.tdx_features0 = cfg->features0;
	si->tdmr.max_tdmrs = 64;
	si->tdmr.max_reserved_per_tdmr = 16;
	si->tdmr.pamt_4k_entry_size = 16;
	si->tdmr.pamt_2m_entry_size = 16;
	si->tdmr.pamt_1g_entry_size = 16;
	si->td_ctrl.tdr_base_size = PAGE_SIZE;
	si->td_ctrl.tdcs_base_size = cfg->nr_tdcs_pages * PAGE_SIZE;
	si->td_ctrl.tdvps_base_size = (cfg->nr_tdvpx_pages + 1) * PAGE_SIZE;
	si->td_conf.max_vcpus_per_td = 576;
}

static struct tdx_sys_info *shim_sysinfo(struct tdxsim *sim)
{
	struct shim_state *st;
	struct tdx_sys_info *si;

	if (!sim)
		return NULL;
	st = shim_of(sim, true);
	if (!st)
		return NULL;
	si = __atomic_load_n(&st->sysinfo, __ATOMIC_ACQUIRE);
	if (si)
		return si;
	pthread_mutex_lock(&st->lock);
	si = st->sysinfo;
	if (!si) {
		si = calloc(1, sizeof(*si));
		if (si) {
			sysinfo_fill(si, tdxsim_get_config(sim));
			__atomic_store_n(&st->sysinfo, si, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return si;
}

__attribute__((weak)) const struct tdx_sys_info *tdx_get_sysinfo(void)
{
	return shim_sysinfo(shim_current());
}

/* With no simulator (or no memory): a module with no features, never NULL. */
static __thread struct tdx_sys_info no_sysinfo;

struct tdx_sys_info *__tdxsim_tdx_sysinfo(void)
{
	struct tdx_sys_info *si = shim_sysinfo(shim_current());

	return si ? si : &no_sysinfo;
}

__attribute__((weak)) int tdx_dpamt_entry_pages(void)
{
	const struct tdx_sys_info *si = __tdxsim_tdx_sysinfo();

	if (!tdx_supports_dynamic_pamt(si))
		return 0;
	return si->tdmr.pamt_4k_entry_size * PTRS_PER_PTE / PAGE_SIZE;
}

/* Per thread: each thread may have another current simulator. */
static __thread struct cpuinfo_x86 cpu_data;

const struct cpuinfo_x86 *__tdxsim_boot_cpu_data(void)
{
	struct tdxsim *sim = shim_current();
	const struct tdxsim_config *cfg;

	memset(&cpu_data, 0, sizeof(cpu_data));
	if (sim) {
		cfg = tdxsim_get_config(sim);
		cpu_data.x86_phys_bits = cfg->max_pa_bits - cfg->nr_hkid_bits;
		cpu_data.x86_virt_bits = 57;
	}
	return &cpu_data;
}

bool __tdxsim_boot_cpu_has_bug(int bug)
{
	struct tdxsim *sim = shim_current();

	return bug == X86_BUG_TDX_PW_MCE && sim && tdxsim_get_config(sim)->reset_quirk;
}

/*
 * MOVDIR64B zeroes the range with the host key: only on platforms with the
 * erratum (the simulator's reset_quirk), as the kernel checks
 * X86_BUG_TDX_PW_MCE first.
 */
void __tdxsim_quirk_reset_paddr(unsigned long base, unsigned long size)
{
	struct tdxsim *sim = shim_current();
	char *p;

	if (!boot_cpu_has_bug(X86_BUG_TDX_PW_MCE))
		return;
	if (tdxsim_page_reset(sim, base, size)) {
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__,
				      "tdx_quirk_reset_paddr(%#lx, %#lx): not simulated memory",
				      base, size);
		return;
	}
	p = __va(base);
	if (p)
		memset(p, 0, size);
}

__attribute__((weak)) void tdx_quirk_reset_page(struct page *page)
{
	__tdxsim_quirk_reset_paddr(page_to_phys(page), PAGE_SIZE);
}

__attribute__((weak)) void tdx_quirk_reset_folio(struct folio *folio, unsigned long start_idx,
						 unsigned long npages)
{
	if (WARN_ON_ONCE(start_idx + npages > (unsigned long)folio_nr_pages(folio)))
		return;
	__tdxsim_quirk_reset_paddr(page_to_phys(folio_page(folio, start_idx)),
				   npages << PAGE_SHIFT);
}
