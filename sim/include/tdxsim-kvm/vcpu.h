/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest programs on vCPUs (sim/vcpu/, part of libtdxsim-kvm.a): a list of
 * guest operations run on one vCPU of a struct tdxsim_vm as KVM's run loop
 * and a Linux guest would run them.  Each operation is retried until it
 * completes: the vCPU enters (tdx_vcpu_enter(); -EAGAIN while
 * wait_for_sept_zap is set is entered again), the guest acts
 * (tdxsim_guest_access(), tdxsim_tdcall()), and every TD exit goes to KVM
 * (tdx_handle_exit(): the EPT-violation handler with the guest's ACCEPT
 * level) before the guest repeats the instruction.  A step budget bounds
 * the whole program, so a livelock ends instead of hanging.
 *
 * Thread safety: one program per vCPU at a time; programs on different
 * vCPUs may run on different threads together, and host calls of
 * <tdxsim-kvm/vm.h> (a converter) may run beside them.  The calling thread
 * gets the VM's simulator as its current one.
 */
#ifndef TDXSIM_KVM_VCPU_H
#define TDXSIM_KVM_VCPU_H

#include <stdbool.h>
#include <stddef.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim-kvm/vm.h>

#pragma GCC visibility push(default)

enum tdxsim_guest_op_kind {
	/*
	 * A load (write false) or store at @gpa.  A #VE on a PENDING page is
	 * taken as a Linux guest with lazy acceptance does: it accepts the
	 * page at 4K and repeats the access.
	 */
	TDXSIM_GUEST_ACCESS,
	/*
	 * TDG.MEM.PAGE.ACCEPT of @gpa at @level (PG_LEVEL_4K/2M).  With
	 * @fallback, a failed 2M accept is retried as 512 4K accepts, as
	 * Linux's try_accept_one() does (TDX_PAGE_ALREADY_ACCEPTED counts as
	 * done there).  @status: the last ACCEPT's status.
	 */
	TDXSIM_GUEST_ACCEPT,
	/*
	 * TDG.VP.VMCALL<MapGPA> of [gpa, gpa + size): a TD exit to the VMM,
	 * which converts (tdxsim_vm_convert()) and re-enters.  @status: the
	 * conversion's result as a negative errno cast to u64 (0: done).  The
	 * guest accepts nothing by itself after a conversion to private: a
	 * program says so with ACCEPT ops.
	 */
	TDXSIM_GUEST_CONVERT,
	/* @n steps in guest mode (a kick exits it: the vCPU re-enters). */
	TDXSIM_GUEST_SPIN,
};

struct tdxsim_guest_op {
	enum tdxsim_guest_op_kind kind;
	u64 gpa, size;		/* ACCEPT: size unused (the level says it); CONVERT: the range */
	int level;		/* ACCEPT: PG_LEVEL_4K / PG_LEVEL_2M */
	bool write;		/* ACCESS */
	bool fallback;		/* ACCEPT: Linux guest: 2M failing -> 512 x 4K */
	bool to_private;	/* CONVERT (MapGPA exit; the VMM converts) */
	unsigned long n;	/* SPIN: steps */
	u64 status;		/* out: the op's last TDCALL/access status, or CONVERT's errno */
};

struct tdxsim_guest_result {
	u64 exits;		/* TD exits of every kind (kicks and MapGPA included) */
	u64 ept_exits;		/* EPT-violation exits not of type ACCEPT */
	u64 accept_exits;	/* EPT-violation exits of type ACCEPT (the guest's level) */
	u64 entries;		/* successful tdx_vcpu_enter() */
	u64 entry_retries;	/* tdx_vcpu_enter() said -EAGAIN */
	u64 ves;		/* #VEs taken on PENDING pages */
	u64 steps;
	size_t ops_done;	/* ops completed (== n when the program ran through) */
	/*
	 * 0; -EINTR when the step budget ran out (budget_hit); a KVM error
	 * that KVM_RUN would return to userspace (tdx_handle_exit()'s, or
	 * tdx_vcpu_enter()'s other than -EAGAIN: -EIO for a bugged VM); -EINVAL
	 * for a bad program or vCPU.
	 */
	int ret;
	bool budget_hit;
};

/* Steps a program gets when the caller passes 0. */
#define TDXSIM_GUEST_DEFAULT_BUDGET	100000UL

/*
 * Run @ops[0..n) on vCPU @vcpu on the calling thread; @res (required) gets
 * the counts.  Returns res->ret.  The vCPU leaves guest mode at the end.
 */
int tdxsim_vcpu_run_prog(struct tdxsim_vm *vm, int vcpu, struct tdxsim_guest_op *ops, size_t n,
			 unsigned long step_budget, struct tdxsim_guest_result *res);

/*
 * The same on a new thread (bound to the simulator's logical CPU
 * vcpu + 1 modulo nr_cpus).  @ops must stay valid until the join.
 * 0 with *@thr set, or -EINVAL / -ENOMEM / -EAGAIN (pthread_create).
 */
struct tdxsim_vcpu_thread;
int tdxsim_vcpu_start(struct tdxsim_vm *vm, int vcpu, struct tdxsim_guest_op *ops, size_t n,
		      unsigned long step_budget, struct tdxsim_vcpu_thread **thr);
/* Wait for the thread, copy its result into @res (may be NULL), free @thr; returns res->ret. */
int tdxsim_vcpu_join(struct tdxsim_vcpu_thread *thr, struct tdxsim_guest_result *res);

#pragma GCC visibility pop

#endif /* TDXSIM_KVM_VCPU_H */
