// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM's TDX backend, KVM's half (arch/x86/kvm/vmx/tdx.c's role): the callers
 * of the TDX core's wrappers (tdx_core.c).  Kernel-shaped, built only
 * against <tdxsim/kernel.h> and the <tdxsim-kvm/> headers.  Spec seamcall.md §7.2,
 * §7.3; kvm-model.md §2.
 */
#include <errno.h>
#include <stdlib.h>

#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdx.h>

#include "tdx_internal.h"


/*
 * kvm_make_all_cpus_request(kvm, KVM_REQ_OUTSIDE_GUEST_MODE).  A VM whose
 * kvm_tdx has no kick_vcpus has no vCPU that can be in guest mode (this
 * slice of the backend runs no vCPUs): nothing to kick, the TRACK alone
 * starts the new epoch.
 */
static void tdx_kick_vcpus(struct kvm_tdx *kvm_tdx)
{
	if (kvm_tdx->kick_vcpus)
		kvm_tdx->kick_vcpus(kvm_tdx);
}

/*
 * Only running vCPUs can make these SEAMCALLs lose a lock: on BUSY, force
 * every vCPU out of the guest and issue the call once more (§7.3).
 */
#define tdh_do_no_vcpus(tdh_func, kvm_tdx, ...) ({				\
	u64 __err = tdh_func(&(kvm_tdx)->td, ##__VA_ARGS__);			\
										\
	if (IS_TDX_OPERAND_BUSY(__err)) {					\
		tdx_kick_vcpus(kvm_tdx);						\
		__err = tdh_func(&(kvm_tdx)->td, ##__VA_ARGS__);		\
	}									\
	__err;									\
})

int tdx_track(struct kvm_tdx *kvm_tdx)
{
	u64 err;

	err = tdh_do_no_vcpus(tdh_mem_track, kvm_tdx);
	if (TDX_BUG_ON_VM(err, TDH_MEM_TRACK, kvm_tdx->kvm))
		return -EIO;

	/* vCPUs still in the old epoch must leave before the range is tracked. */
	tdx_kick_vcpus(kvm_tdx);
	return 0;
}

int tdx_block_range(struct kvm_tdx *kvm_tdx, gpa_t gpa, int level)
{
	u64 entry, level_state, err;

	err = tdh_do_no_vcpus(tdh_mem_range_block, kvm_tdx, gpa, level, &entry, &level_state);
	if (TDX_BUG_ON_2_VM(err, TDH_MEM_RANGE_BLOCK, entry, level_state, kvm_tdx->kvm))
		return -EIO;
	return 0;
}

/* The S-EPT page and the guest range each need a pair (§4.5). */
int tdx_demote_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa, kvm_pfn_t pfn, struct page *new_sp,
		  struct tdx_pamt_cache *cache)
{
	u64 entry, level_state, err;
	int ret;

	ret = tdx_pamt_get(new_sp, cache);
	if (tdx_mark_bugged(kvm_tdx->kvm, KVM_BUG_ON(ret, kvm_tdx->kvm)))
		return -EIO;

	err = tdh_do_no_vcpus(tdh_mem_page_demote, kvm_tdx, gpa, TDX_PS_2M, pfn, new_sp,
			      cache, &entry, &level_state);
	if (TDX_BUG_ON_2_VM(err, TDH_MEM_PAGE_DEMOTE, entry, level_state, kvm_tdx->kvm)) {
		ret = -EIO;
		goto err_put;
	}
	return 0;

err_put:
	tdx_pamt_put(new_sp);
	return ret;
}

/* BLOCK + TRACK + kick, then DEMOTE: no UNBLOCK afterwards (§2.8). */
int tdx_split_2m(struct kvm_tdx *kvm_tdx, gpa_t gpa, kvm_pfn_t pfn, struct page *new_sp,
		 struct tdx_pamt_cache *cache)
{
	int ret;

	ret = tdx_block_range(kvm_tdx, gpa, TDX_PS_2M);
	if (ret)
		return ret;
	ret = tdx_track(kvm_tdx);
	if (ret)
		return ret;
	return tdx_demote_2m(kvm_tdx, gpa, pfn, new_sp, cache);
}
