/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to sim/tdx.  The kernel shim's TDX_BUG_ON() records the event but
 * cannot mark a VM (it has no struct kvm); KVM's marks it bugged, so here a
 * failed SEAMCALL also sets kvm->vm_bugged of the kvm_tdx's VM, if it has one.
 */
#ifndef TDXSIM_SIM_TDX_INTERNAL_H
#define TDXSIM_SIM_TDX_INTERNAL_H

#include <tdxsim-kvm/kvm_host.h>

/* KVM's KVM_BUG_ON: records the event and marks @kvm (if any) bugged. */
#undef KVM_BUG_ON
#define KVM_BUG_ON(cond, kvm)	__kvm_bug_on((kvm), !!(cond), __FILE__, __LINE__, #cond)

static inline bool tdx_mark_bugged(struct kvm *kvm, bool bugged)
{
	if (bugged && kvm)
		__atomic_store_n(&kvm->vm_bugged, true, __ATOMIC_RELAXED);
	return bugged;
}

/* #fn here, before TDH_* expands to its number (as the shim's TDX_BUG_ON does). */
#define TDX_BUG_ON_VM(err, fn, kvm)						\
	tdx_mark_bugged((kvm), __TDX_BUG_ON(err, #fn, ""))
#define TDX_BUG_ON_2_VM(err, fn, a1, a2, kvm)					\
	tdx_mark_bugged((kvm), __TDX_BUG_ON(err, #fn, ", " #a1 " %#llx, " #a2 " %#llx",	\
					    (unsigned long long)(a1),		\
					    (unsigned long long)(a2)))

#endif /* TDXSIM_SIM_TDX_INTERNAL_H */
