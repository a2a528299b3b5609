// SPDX-License-Identifier: GPL-2.0-only
/* The defect switches by name (enum tdxsim_kvm_defect, kvm_host.h). */
#include <errno.h>
#include <string.h>

#include <tdxsim-kvm/kvm_host.h>

/* Names as DESIGN.md and spec review-scenarios.md give them. */
static const struct {
	const char *name;
	const char *desc;
} defects[TDXSIM_KVM_DEFECT_NR_BITS] = {
	{ "split-spt-zero", "tdp_mmu_alloc_sp_for_split leaves the new table zero, not "
			    "SHADOW_NONPRESENT_VALUE (001)" },
	{ "cross-boundary-bool", "kvm_split_cross_boundary_leafs' `bool ret` turns -ENOMEM "
				 "into 1 (spec §6.1)" },
	{ "free-owned-ext-spt", "v3 KVM frees an external_spt whose free_external_spt failed "
				"(000/001)" },
	{ "consume-without-recheck", "the split-cache consumer dequeues without re-checking the "
				     "count under the cache lock (004, S25)" },
	{ "aug-2m-over-pair", "a 2M AUG of a range whose Dynamic-PAMT pair a failed PAMT.REMOVE "
			      "left installed" },
	{ "no-kick-before-retry", "tdh_do_no_vcpus retries a BUSY without blocking entry and "
				  "kicking the vCPUs (S09)" },
	{ "skip-track", "a split DEMOTEs without TRACK after its BLOCK (S12 b)" },
	{ "ignore-demote-feature-bit", "KVM maps 2M although the module lacks "
				       "ENHANCED_DEMOTE_INTERRUPTIBILITY; a split's DEMOTE "
				       "fails (S07)" },
	{ "no-split-on-accept-exit", "tdx_handle_ept_violation ignores the exit's ACCEPT level: "
				     "no split, no GUEST_INHIBIT; the guest's ACCEPT exits again "
				     "(S13e)" },
	{ "allow-mirror-promotion", "kvm_tdp_mmu_map skips disallowed_hugepage_adjust for the "
				    "mirror root: a fault may map 2M over a mirror table (S17c)" },
	{ "skip-sept-page-pamt-get", "a split DEMOTEs without tdx_pamt_get() for the new S-EPT "
				     "page (003:P21 left out; S27d)" },
	{ "reuse-demote-pair", "v3: a successful DEMOTE's R12/R13 pair goes back to the split "
			       "cache; the next split hands DEMOTE a PAMT page as R12 (S27e)" },
};

const char *tdxsim_kvm_defect_name(unsigned int bit)
{
	return bit < TDXSIM_KVM_DEFECT_NR_BITS ? defects[bit].name : NULL;
}

const char *tdxsim_kvm_defect_desc(unsigned int bit)
{
	return bit < TDXSIM_KVM_DEFECT_NR_BITS ? defects[bit].desc : NULL;
}

int tdxsim_kvm_defect_lookup(const char *name)
{
	unsigned int i;

	for (i = 0; name && i < TDXSIM_KVM_DEFECT_NR_BITS; i++)
		if (!strcmp(name, defects[i].name))
			return 1 << i;
	return -EINVAL;
}
