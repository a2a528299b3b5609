// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM's TDX vCPU side (arch/x86/kvm/vmx/tdx.c's role): entering the TD,
 * the EPT-violation exit with the guest's ACCEPT level, and the kick that
 * takes every vCPU out of guest mode.  Kernel-shaped, built against
 * <tdxsim/kernel.h> and the <tdxsim-kvm/> headers; SEAMCALLs go to the
 * thread's current simulator.  Spec kvm-model.md §2.1, §2.4, §3.1
 * (wait_for_sept_zap); seamcall.md §2.16, §2.17, §7.3, §7.7.
 */
#include <errno.h>
#include <stdlib.h>

#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>

static struct vcpu_tdx *to_tdx(struct kvm_vcpu *vcpu)
{
	return vcpu->priv;
}

static inline gfn_t gpa_to_gfn(gpa_t gpa)
{
	return (gfn_t)(gpa >> PAGE_SHIFT);
}

/*
 * The TDX core's tdh_vp_enter() (arch/x86/virt/vmx/tdx/tdx.c): RCX = the
 * TDVPR, all registers passed and returned.  Its home is tdx_core.c; it
 * lives here while the vCPU side is its only caller.
 */
static u64 tdh_vp_enter(struct tdx_vp *vp, struct tdx_module_args *args)
{
	args->rcx = tdx_tdvpr_pa(vp);
	return __seamcall_saved_ret(TDH_VP_ENTER, args);
}

int tdx_vcpu_bind(struct kvm_vcpu *vcpu, u64 tdvpr_pa)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(vcpu->kvm);
	struct vcpu_tdx *tdx = to_tdx(vcpu);
	struct tdxsim_vp_info info;

	if (!tdx || tdxsim_vp_info(tdxsim_kernel_current(), tdvpr_pa, &info) ||
	    info.tdr_pa != tdx_tdr_pa(&kvm_tdx->td))
		return -EINVAL;
	tdx->vp.tdvpr_pa = tdvpr_pa;
	tdx->vp.tdvpr_page = pfn_to_page(PHYS_PFN(tdvpr_pa));
	return 0;
}

/*
 * kvm_make_all_cpus_request(kvm, KVM_REQ_OUTSIDE_GUEST_MODE): every vCPU of
 * the TD leaves guest mode.  The IPI that forces the exit is
 * tdxsim_vp_exit() on each vCPU the module knows for the TD (customised
 * stand-in: KVM walks its own vCPUs; the module's list holds the same ones
 * and any a test built by hand).  The kernel waits for the vCPUs to
 * acknowledge; here the exit is done when tdxsim_vp_exit() returns.
 */
void tdx_kick_all_vcpus(struct kvm_tdx *kvm_tdx)
{
	struct tdxsim *sim = tdxsim_kernel_current();
	u64 tdr_pa = tdx_tdr_pa(&kvm_tdx->td);
	u64 stack[16], *tdvpr = stack;
	int n, i;

	if (!sim)
		return;
	n = tdxsim_td_vcpus(sim, tdr_pa, tdvpr, ARRAY_SIZE(stack));
	if (n > (int)ARRAY_SIZE(stack)) {
		/* More vCPUs than the stack holds: a second, exact call. */
		tdvpr = calloc(n, sizeof(*tdvpr));
		if (WARN_ON_ONCE(!tdvpr))
			return;
		n = min(n, tdxsim_td_vcpus(sim, tdr_pa, tdvpr, n));
	}
	for (i = 0; i < n; i++)
		tdxsim_vp_exit(sim, tdvpr[i]);
	if (tdvpr != stack)
		free(tdvpr);
}

int tdx_vcpu_enter(struct kvm_vcpu *vcpu)
{
	struct kvm_tdx *kvm_tdx = to_kvm_tdx(vcpu->kvm);
	struct vcpu_tdx *tdx = to_tdx(vcpu);
	struct tdx_module_args args = {};
	u64 err;

	/* kvm_vcpu_ioctl(): a bugged VM runs nothing. */
	if (vcpu->kvm->vm_bugged)
		return -EIO;
	/* tdx_vcpu_pre_run(): only a finalized TD with an initialized vCPU. */
	if (kvm_tdx->state != TD_STATE_RUNNABLE || !tdx || !tdx->vp.tdvpr_pa)
		return -EINVAL;
	/*
	 * tdx_vcpu_run(): while tdh_do_no_vcpus() retries a SEAMCALL that lost
	 * to a vCPU, no vCPU may enter (KVM returns to its run loop, which
	 * comes back here).
	 */
	if (READ_ONCE(kvm_tdx->wait_for_sept_zap))
		return -EAGAIN;

	err = tdh_vp_enter(&tdx->vp, &args);
	/* The epoch lock lost to a TRACK: KVM re-enters on the fast path. */
	if (IS_TDX_OPERAND_BUSY(err))
		return -EAGAIN;
	if (err)
		return -EIO;
	/*
	 * The kernel's vcpu->mode handshake: the kicker sets the flag, then
	 * kicks every vCPU in guest mode; the vCPU is in guest mode, then
	 * looks at the flag.  One of the two sees the other, so no vCPU stays
	 * in the guest behind the kick of tdh_do_no_vcpus().
	 */
	smp_mb();
	if (READ_ONCE(kvm_tdx->wait_for_sept_zap)) {
		tdxsim_vp_exit(tdxsim_kernel_current(), tdx->vp.tdvpr_pa);
		return -EAGAIN;
	}
	return 0;
}

/* Private unless the TD's shared bit (bit GPAW-1: 47 with 4 levels, 51 with 5) is set. */
static bool tdx_is_private_gpa(struct kvm *kvm, gpa_t gpa)
{
	int shared_bit = kvm->root_level == 5 ? 51 : 47;

	return !(gpa & BIT_ULL(shared_bit));
}

/*
 * tdx_honor_guest_accept_level() (003:P13; spec kvm-model.md §2.4): an
 * exit of type ACCEPT carries the level the guest accepts at.  The mirror
 * must not map above it: split the huge leaf covering the accepted page
 * down to that level, then inhibit the levels above for good, so the
 * fault that follows maps at the accept level (or finds the split's leaf).
 * The split goes straight to tdp_mmu_split_huge_pages_root() on the mirror
 * root, Sean's "just split to the guest's accepted level"
 * (003:R11-Sean-0116) rather than v3's kvm_split_cross_boundary_leafs(),
 * under the write mmu_lock since TDX refuses a split under the read lock
 * (§2.10).  The split comes before the inhibit: the lockless test below is
 * safe because the flag is one-way and set only once the range is split.
 * An error (-ENOMEM from the sp allocation or the per-VM split-cache
 * top-up) goes back to the caller, the inhibit unset, as v3 returns it to
 * userspace (CL changelog, "Return ret to userspace on error").
 */
static int tdx_honor_guest_accept_level(struct kvm_vcpu *vcpu, gfn_t gfn,
					const struct tdxsim_td_exit *exit)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	u64 eeq_type = exit->ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK;
	u64 eeq_info = (exit->ext_exit_qual & TDX_EXT_EXIT_QUAL_INFO_MASK) >>
		       TDX_EXT_EXIT_QUAL_INFO_SHIFT;
	gfn_t start, end;
	int level, ret;

	if (!slot || eeq_type != TDX_EXT_EXIT_QUAL_TYPE_ACCEPT)
		return 0;
	level = (int)(eeq_info & TDX_ACCEPT_INFO_REQ_LEVEL_MASK) + 1;
	if (level != PG_LEVEL_4K && level != PG_LEVEL_2M)
		return 0;
	if (hugepage_test_guest_inhibit(slot, gfn, level + 1))
		return 0;

	start = gfn_round_for_level(gfn, level);
	end = start + KVM_PAGES_PER_HPAGE(level);
	KVM_MMU_LOCK(kvm);
	ret = tdp_mmu_split_huge_pages_root(kvm, kvm->mirror_root, start, end, level, false,
					    false);
	if (!ret) {
		hugepage_set_guest_inhibit(slot, gfn, level + 1);
		if (level == PG_LEVEL_4K)
			hugepage_set_guest_inhibit(slot, gfn, level + 2);
	}
	KVM_MMU_UNLOCK(kvm);
	return ret;
}

int tdx_handle_ept_violation(struct kvm_vcpu *vcpu, const struct tdxsim_td_exit *exit)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_vcpu *prev;
	gpa_t gpa = exit->gpa;
	int ret, retries = 0;

	if (KVM_BUG_ON(exit->exit_reason != EXIT_REASON_EPT_VIOLATION, kvm))
		return -EIO;
	/* No shared EPT in the model, and the module never exits for a shared GPA. */
	if (!tdx_is_private_gpa(kvm, gpa))
		return -EOPNOTSUPP;
	/* TD_CTLS.PENDING_VE_DISABLE: the guest touched a page it never accepted. */
	if ((exit->ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK) ==
	    TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION) {
		pr_warn("Guest access before accepting 0x%llx on vCPU %d\n",
			(unsigned long long)gpa, vcpu->vcpu_id);
		return -EIO;
	}

	/*
	 * KVM_RUN holds the vCPU loaded (vcpu_load()): the split finds its
	 * PAMT pages through kvm_get_running_vcpu() (upstream's
	 * tdx_get_pamt_cache(), kvm-upstream.md §5).
	 */
	prev = kvm_get_running_vcpu();
	vcpu_load(vcpu);
	ret = tdx_honor_guest_accept_level(vcpu, gpa_to_gfn(gpa), exit);
	vcpu_put(vcpu);
	if (prev)
		vcpu_load(prev);
	if (ret)
		return ret;

	/*
	 * A private S-EPT violation is always a write fault: the exit
	 * qualification is ignored, private pages are mapped RWX.  A private
	 * fault that must be retried is retried here ("local retry", the
	 * zero-step mitigation's reason) until it is no longer RET_PF_RETRY;
	 * TDX_EPT_LOCAL_RETRIES stands for the pending event or signal that
	 * ends the kernel's loop, and then the guest re-faults.
	 */
	for (;;) {
		ret = kvm_mmu_do_page_fault(vcpu, gpa, PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK,
					    NULL);
		if (ret != RET_PF_RETRY)
			break;
		if (kvm->vm_bugged)		/* KVM_REQ_VM_DEAD */
			return -EIO;
		if (++retries >= TDX_EPT_LOCAL_RETRIES)
			break;
	}
	if (ret < 0)
		return ret;
	return 1;
}

int tdx_handle_exit(struct kvm_vcpu *vcpu, const struct tdxsim_td_exit *exit)
{
	switch (exit->exit_reason) {
	case EXIT_REASON_EPT_VIOLATION:
		return tdx_handle_ept_violation(vcpu, exit);
	case EXIT_REASON_EXTERNAL_INTERRUPT:
		return 1;	/* the host took the interrupt; re-enter */
	default:
		return -EOPNOTSUPP;
	}
}
