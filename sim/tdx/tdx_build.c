// SPDX-License-Identifier: GPL-2.0-only
/*
 * Building a TD (arch/x86/kvm/vmx/tdx.c's KVM_TDX_INIT_MEM_REGION and
 * KVM_TDX_FINALIZE_VM): the initial image goes in 4K page by 4K page with
 * TDH.MEM.PAGE.ADD while the TD is INITIALIZED, through the same mirror
 * fault as a runtime AUG (spec kvm-model.md §2.1, §2.11; seamcall.md §2.3,
 * §7.1).  Kernel-shaped, built against <tdxsim/kernel.h> and the
 * <tdxsim-kvm/> headers.
 *
 * The kernel's shape since KVM stopped pre-mapping: tdx_gmem_post_populate()
 * parks the source page in kvm_tdx->page_add_src, maps the GFN through the
 * TDP MMU, and the set_external_spte hook sees a TD that is not RUNNABLE and
 * issues PAGE.ADD from that source.  Not modelled: TDH.MR.EXTEND (the
 * simulated module has no measurement; KVM_TDX_MEASURE_MEMORY_REGION is
 * therefore not offered) and the copy of the source contents.
 */
#include <errno.h>

#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>

#include "tdx_internal.h"

int tdx_mem_page_add(struct kvm *kvm, gfn_t gfn, enum pg_level level, kvm_pfn_t pfn)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	struct page *page = pfn_to_page(pfn);
	u64 err, entry, level_state;
	int ret;

	/* PAGE.ADD maps 4K only; tdx_gmem_max_mapping_level() keeps faults there. */
	if (KVM_BUG_ON(level != PG_LEVEL_4K, kvm))
		return -EIO;
	/* Only KVM_TDX_INIT_MEM_REGION may map a page into a TD being built. */
	if (KVM_BUG_ON(!kvm_tdx->page_add_src, kvm))
		return -EIO;

	/* Dynamic PAMT: the module wants the page's pair before it takes it. */
	ret = tdx_pamt_get_for(kvm, page, tdx_fault_pamt_cache(kvm));
	if (ret)
		return ret;

	err = tdh_mem_page_add(&kvm_tdx->td, (gpa_t)gfn << PAGE_SHIFT, page,
			       kvm_tdx->page_add_src, &entry, &level_state);
	ret = tdx_map_call_ret(err, TDH_MEM_PAGE_ADD, entry, level_state, kvm);
	if (ret)
		tdx_pamt_put_for(kvm, page);
	return ret;
}

/*
 * kvm_gmem_populate()'s callback for one page: the source is parked for
 * the hook, the GFN faulted in (kvm_tdp_mmu_map_private_pfn() in the
 * kernel; the model's fault finds the same PFN in guest_memfd).
 */
static int tdx_gmem_post_populate(struct kvm_vcpu *vcpu, gfn_t gfn, struct page *src_page)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	int level, ret;

	if (KVM_BUG_ON(kvm_tdx->page_add_src, kvm))
		return -EIO;
	kvm_tdx->page_add_src = src_page;
	ret = kvm_tdp_map_page(vcpu, (gpa_t)gfn << PAGE_SHIFT,
			       PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK, &level);
	kvm_tdx->page_add_src = NULL;
	if (ret)
		return ret;
	/* The page was there already (a second INIT_MEM_REGION): nothing added. */
	if (KVM_BUG_ON(level != PG_LEVEL_4K, kvm))
		return -EIO;
	return 0;
}

/* vt_is_tdx_private_gpa() and the attribute check of kvm_gmem_populate(). */
static bool tdx_range_is_private(struct kvm *kvm, gfn_t gfn, u64 nr_pages)
{
	u64 i;

	for (i = 0; i < nr_pages; i++)
		if (!kvm_mem_is_private(kvm, gfn + i))
			return false;
	return true;
}

int tdx_vcpu_init_mem_region(struct kvm_vcpu *vcpu, struct kvm_tdx_init_mem_region *region)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	int ret = 0;

	if (kvm_tdx->state != TD_STATE_INITIALIZED)
		return -EINVAL;
	if (!region->source_page || !IS_ALIGNED(region->gpa, PAGE_SIZE) || !region->nr_pages ||
	    region->gpa + (region->nr_pages << PAGE_SHIFT) <= region->gpa)
		return -EINVAL;
	if (!tdx_range_is_private(kvm, region->gpa >> PAGE_SHIFT, region->nr_pages))
		return -EINVAL;

	while (region->nr_pages) {
		ret = tdx_gmem_post_populate(vcpu, region->gpa >> PAGE_SHIFT, region->source_page);
		if (ret)
			break;
		region->source_page++;
		region->gpa += PAGE_SIZE;
		region->nr_pages--;
	}
	return ret;
}

int tdx_td_finalize(struct kvm *kvm)
{
	struct kvm_tdx *kvm_tdx = kvm->priv;	/* to_kvm_tdx() */
	u64 err;

	if (!is_hkid_assigned(kvm_tdx) || kvm_tdx->state != TD_STATE_INITIALIZED)
		return -EINVAL;

	err = tdh_mr_finalize(&kvm_tdx->td);
	if (IS_TDX_OPERAND_BUSY(err))
		return -EBUSY;
	if (TDX_BUG_ON_VM(err, TDH_MR_FINALIZE, kvm))
		return -EIO;
	/* Faults from now on AUG, and may map 2M (tdx_gmem_max_mapping_level()). */
	WRITE_ONCE(kvm_tdx->state, TD_STATE_RUNNABLE);
	return 0;
}
