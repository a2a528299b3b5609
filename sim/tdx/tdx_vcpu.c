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
#include <sched.h>
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
 * kvm_make_all_cpus_request(kvm, KVM_REQ_OUTSIDE_GUEST_MODE) with
 * KVM_REQUEST_WAIT (virt/kvm/kvm_main.c): when it returns, no vCPU of the
 * VM is in guest mode, and none enters while the caller's request stands
 * (tdh_do_no_vcpus() sets wait_for_sept_zap before, kvm-model.md §3.1).
 * For each of KVM's vCPUs, kvm_vcpu_exiting_guest_mode() (full barrier,
 * then IN_GUEST_MODE -> EXITING_GUEST_MODE) pairs with the smp_store_mb()
 * of vcpu->mode in tdx_vcpu_enter(): either the vCPU sees the flag and
 * does not enter, or the kick sees the vCPU's mode and sends the IPI.  The
 * IPI is tdxsim_vp_exit(); the kernel then waits for the target CPU to
 * acknowledge it, which it can only do with IRQs on: after its entry (and
 * TDH.VP.ENTER's hold on the epoch lock) is over and between guest
 * instructions.  Here that is the wait for vcpu->irqs_off to drop: a vCPU
 * still inside TDH.VP.ENTER then finds EXITING_GUEST_MODE and leaves by
 * itself, a TDCALL under way (holding an S-EPT entry, say) completes.
 * Without the wait, a TRACK or DEMOTE retried after the kick could lose
 * to that TDH.VP.ENTER again and bug the VM.
 * Then every vCPU the module knows for the TD (tdxsim_td_vcpus()) gets
 * tdxsim_vp_exit(): ours, for vCPUs a test built without KVM.
 */
void tdx_kick_all_vcpus(struct kvm_tdx *kvm_tdx)
{
	struct tdxsim *sim = tdxsim_kernel_current();
	u64 tdr_pa = tdx_tdr_pa(&kvm_tdx->td);
	u64 stack[16], *tdvpr = stack;
	struct kvm_vcpu *vcpu;
	unsigned long idx;
	int n, i;

	if (!sim)
		return;
	if (kvm_tdx->kvm) {
		kvm_for_each_vcpu(idx, vcpu, kvm_tdx->kvm) {
			struct vcpu_tdx *tdx = to_tdx(vcpu);

			if (!tdx || !tdx->vp.tdvpr_pa ||
			    kvm_vcpu_exiting_guest_mode(vcpu) == OUTSIDE_GUEST_MODE)
				continue;
			tdxsim_vp_exit(sim, tdx->vp.tdvpr_pa);
			/* Pairs with the barrier after irqs_off is set (tdx_vcpu_enter(), sim/vcpu). */
			smp_mb();
			while (smp_load_acquire(&vcpu->irqs_off))
				sched_yield();
		}
	}
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

/* vcpu_enter_guest()'s end of the entry: the IRQs-off section is over. */
static int tdx_vcpu_enter_done(struct kvm_vcpu *vcpu, int ret)
{
	if (ret)
		WRITE_ONCE(vcpu->mode, OUTSIDE_GUEST_MODE);
	smp_store_release(&vcpu->irqs_off, 0);
	return ret;
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
	 * vcpu_enter_guest(): IRQs off (a kick's IPI waits), then
	 * vcpu->mode = IN_GUEST_MODE with a full barrier, then the last look
	 * at the requests: the pairing of kvm_vcpu_exiting_guest_mode() in
	 * tdx_kick_all_vcpus().  The release fence publishes irqs_off to a
	 * kicker that reads IN_GUEST_MODE.
	 */
	WRITE_ONCE(vcpu->irqs_off, 1);
	smp_wmb();
	smp_store_mb(vcpu->mode, IN_GUEST_MODE);
	/*
	 * tdx_vcpu_run(): while tdh_do_no_vcpus() retries a SEAMCALL that lost
	 * to a vCPU, no vCPU may enter (KVM returns to its run loop, which
	 * comes back here).
	 */
	if (READ_ONCE(kvm_tdx->wait_for_sept_zap))
		return tdx_vcpu_enter_done(vcpu, -EAGAIN);

	err = tdh_vp_enter(&tdx->vp, &args);
	/* The epoch lock lost to a TRACK: KVM re-enters on the fast path. */
	if (IS_TDX_OPERAND_BUSY(err))
		return tdx_vcpu_enter_done(vcpu, -EAGAIN);
	if (err)
		return tdx_vcpu_enter_done(vcpu, -EIO);
	/*
	 * A kick that found IN_GUEST_MODE while TDH.VP.ENTER ran has sent its
	 * IPI: pending since IRQs were off, it exits the guest at once, and
	 * the kicker waits for that.  The barrier orders TDH.VP.ENTER's
	 * in-guest state before the look at vcpu->mode, against the kicker's
	 * mode change before its tdxsim_vp_exit(): if this look misses
	 * EXITING_GUEST_MODE, the kicker's own exit finds the vCPU in guest.
	 */
	smp_mb();
	if (READ_ONCE(vcpu->mode) == EXITING_GUEST_MODE) {
		tdxsim_vp_exit(tdxsim_kernel_current(), tdx->vp.tdvpr_pa);
		return tdx_vcpu_enter_done(vcpu, -EAGAIN);
	}
	return tdx_vcpu_enter_done(vcpu, 0);
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
	/* S13e: KVM without 003:P13 treats the exit as an ordinary fault. */
	if (kvm->defects & TDXSIM_KVM_DEFECT_NO_SPLIT_ON_ACCEPT_EXIT)
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
	/* Every level above the accepted one is off for this GFN, one way (003:P12). */
	for (int l = level + 1; !ret && l <= KVM_MAX_HUGEPAGE_LEVEL; l++)
		hugepage_set_guest_inhibit(slot, gfn, l);
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
