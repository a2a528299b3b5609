// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest programs on vCPUs (see <tdxsim-kvm/vcpu.h>): KVM's vcpu_run loop
 * (enter, exit, handle, enter again) around a guest that repeats each
 * instruction after a TD exit, as the CPU re-executes it after re-entry.
 * Cover letter §5 flows a and b are programs of two operations here.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <tdxsim/kernel.h>
#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdx.h>
#include <tdxsim-kvm/vcpu.h>
#include <tdxsim-kvm/vm.h>

struct guest_ctx {
	struct tdxsim_vm *vm;
	struct tdxsim *sim;
	struct kvm_vcpu *vcpu;
	u64 tdvpr;
	bool in_guest;		/* what the run loop believes; a kick makes it stale */
	unsigned long budget;
	struct tdxsim_guest_result *res;
};

/* One step of the budget: false (and the program's -EINTR) when it is spent. */
static bool guest_step(struct guest_ctx *g)
{
	if (g->res->steps >= g->budget) {
		g->res->budget_hit = true;
		return false;
	}
	g->res->steps++;
	return true;
}

/*
 * The run loop has seen the TD exit: vcpu->mode = OUTSIDE_GUEST_MODE, as
 * vcpu_enter_guest() after the vendor's run returns (tdx_kick_all_vcpus()
 * reads it).
 */
static void guest_exited(struct guest_ctx *g)
{
	smp_store_release(&g->vcpu->mode, OUTSIDE_GUEST_MODE);
}

/*
 * One guest instruction (a TDCALL, an access) runs between these: the
 * CPU takes a kick's IPI only at its boundary, so tdx_kick_all_vcpus()
 * waits for irqs_off to drop.  The barrier pairs with the kicker's between
 * its tdxsim_vp_exit() and its look at irqs_off: either the instruction
 * finds the vCPU out of the guest, or the kicker waits for it.
 */
static void guest_insn_begin(struct guest_ctx *g)
{
	WRITE_ONCE(g->vcpu->irqs_off, 1);
	smp_mb();
}

static void guest_insn_end(struct guest_ctx *g)
{
	smp_store_release(&g->vcpu->irqs_off, 0);
}

/* The vCPU left guest mode without an exit of its own: a kick (KVM_REQ_OUTSIDE_GUEST_MODE). */
static void guest_note_kick(struct guest_ctx *g)
{
	guest_exited(g);
	if (g->in_guest) {
		g->in_guest = false;
		g->res->exits++;
	}
}

/*
 * KVM_RUN's entry: until the vCPU is in guest mode.  -EAGAIN (entry held
 * off by wait_for_sept_zap, or the epoch lock lost) is KVM's own re-entry.
 */
static int guest_enter(struct guest_ctx *g)
{
	int r;

	for (;;) {
		if (tdxsim_vp_in_guest(g->sim, g->tdvpr)) {
			g->in_guest = true;
			return 0;
		}
		guest_note_kick(g);
		if (!guest_step(g))
			return -EINTR;
		r = tdx_vcpu_enter(g->vcpu);
		if (r == -EAGAIN) {
			g->res->entry_retries++;
			sched_yield();
			continue;
		}
		if (r)
			return r;
		g->res->entries++;
	}
}

/* A TD exit the guest's instruction caused: counted and handed to KVM. */
static int guest_exit_to_kvm(struct guest_ctx *g)
{
	struct tdxsim_td_exit ex;
	int r;

	guest_exited(g);
	g->in_guest = false;
	g->res->exits++;
	if (tdxsim_vp_last_exit(g->sim, g->tdvpr, &ex))
		return -EINVAL;
	if (ex.exit_reason == EXIT_REASON_EPT_VIOLATION) {
		if ((ex.ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK) == TDX_EXT_EXIT_QUAL_TYPE_ACCEPT)
			g->res->accept_exits++;
		else
			g->res->ept_exits++;
	}
	r = tdx_handle_exit(g->vcpu, &ex);
	return r < 0 ? r : 0;
}

/*
 * What an instruction returned: 1 to repeat it (the TD exit was handled,
 * or the vCPU was kicked out before it ran), 0 when it completed, or a
 * negative errno that ends the program.
 */
static int guest_outcome(struct guest_ctx *g, u64 status)
{
	int r;

	if (status == TDXSIM_TDCALL_TD_EXIT) {
		r = guest_exit_to_kvm(g);
		return r ? r : 1;
	}
	if (status == TDX_VCPU_STATE_INCORRECT && !tdxsim_vp_in_guest(g->sim, g->tdvpr)) {
		guest_note_kick(g);
		return 1;
	}
	return 0;
}

/* TDG.MEM.PAGE.ACCEPT, repeated after each exit until it completes. */
static int guest_accept(struct guest_ctx *g, u64 gpa, int level, u64 *status)
{
	int r;

	do {
		struct tdx_module_args args = { .rcx = gpa | (u64)(level - 1) };

		r = guest_enter(g);
		if (r)
			return r;
		if (!guest_step(g))
			return -EINTR;
		guest_insn_begin(g);
		*status = tdxsim_tdcall(g->sim, g->tdvpr, TDG_MEM_PAGE_ACCEPT, &args);
		guest_insn_end(g);
		r = guest_outcome(g, *status);
	} while (r == 1);
	return r;
}

static bool accept_done(u64 status)
{
	return status == TDX_SUCCESS || status == TDX_PAGE_ALREADY_ACCEPTED;
}

/* Linux's try_accept_one(): 2M first, then each 4K page when 2M fails. */
static int guest_accept_op(struct guest_ctx *g, struct tdxsim_guest_op *op)
{
	unsigned long i;
	u64 st;
	int r;

	if (op->level != PG_LEVEL_4K && op->level != PG_LEVEL_2M)
		return -EINVAL;
	r = guest_accept(g, op->gpa, op->level, &op->status);
	if (r || op->level != PG_LEVEL_2M || !op->fallback || op->status == TDX_SUCCESS)
		return r;
	for (i = 0; i < PTRS_PER_PMD; i++) {
		r = guest_accept(g, op->gpa + (i << PAGE_SHIFT), PG_LEVEL_4K, &st);
		if (r)
			return r;
		op->status = st;
		if (!accept_done(st))
			return 0;
	}
	op->status = TDX_SUCCESS;
	return 0;
}

/* A load or store, repeated after each exit; a #VE on a PENDING page accepts it at 4K. */
static int guest_access_op(struct guest_ctx *g, struct tdxsim_guest_op *op)
{
	u64 st;
	int r;

	for (;;) {
		r = guest_enter(g);
		if (r)
			return r;
		if (!guest_step(g))
			return -EINTR;
		guest_insn_begin(g);
		op->status = tdxsim_guest_access(g->sim, g->tdvpr, op->gpa, op->write);
		guest_insn_end(g);
		r = guest_outcome(g, op->status);
		if (r == 1)
			continue;
		if (r || op->status != TDXSIM_GUEST_ACCESS_VE)
			return r;
		g->res->ves++;
		r = guest_accept(g, op->gpa & PAGE_MASK, PG_LEVEL_4K, &st);
		if (r)
			return r;
		if (!accept_done(st)) {
			op->status = st;
			return 0;
		}
	}
}

/* MapGPA: a TD exit to the VMM, which converts, then the guest runs on. */
static int guest_convert_op(struct guest_ctx *g, struct tdxsim_guest_op *op)
{
	int r = guest_enter(g);

	if (r)
		return r;
	if (!guest_step(g))
		return -EINTR;
	/* TDG.VP.VMCALL exits the TD; KVM hands MapGPA to userspace (KVM_EXIT_HYPERCALL). */
	tdxsim_vp_exit(g->sim, g->tdvpr);
	guest_exited(g);
	g->in_guest = false;
	g->res->exits++;
	/* The VMM's conversion is a VM ioctl, outside KVM_RUN: no running vCPU. */
	vcpu_put(g->vcpu);
	r = tdxsim_vm_convert(g->vm, op->gpa, op->size, op->to_private);
	vcpu_load(g->vcpu);
	op->status = (u64)(s64)r;
	return 0;
}

static int guest_spin_op(struct guest_ctx *g, struct tdxsim_guest_op *op)
{
	unsigned long i;
	int r;

	op->status = 0;
	for (i = 0; i < op->n; i++) {
		r = guest_enter(g);
		if (r)
			return r;
		if (!guest_step(g))
			return -EINTR;
		sched_yield();
	}
	return 0;
}

int tdxsim_vcpu_run_prog(struct tdxsim_vm *vm, int vcpu, struct tdxsim_guest_op *ops, size_t n,
			 unsigned long step_budget, struct tdxsim_guest_result *res)
{
	struct guest_ctx g = {
		.vm = vm,
		.budget = step_budget ? step_budget : TDXSIM_GUEST_DEFAULT_BUDGET,
		.res = res,
	};
	int r = 0;

	memset(res, 0, sizeof(*res));
	g.vcpu = tdxsim_vm_vcpu(vm, vcpu);
	g.tdvpr = tdxsim_vm_vcpu_tdvpr(vm, vcpu);
	if (!g.vcpu || !g.tdvpr || (n && !ops)) {
		res->ret = -EINVAL;
		return res->ret;
	}
	g.sim = tdxsim_vm_sim(vm);
	tdxsim_kernel_set_current(g.sim);
	vcpu_load(g.vcpu);

	for (; res->ops_done < n && !r; ) {
		struct tdxsim_guest_op *op = &ops[res->ops_done];

		switch (op->kind) {
		case TDXSIM_GUEST_ACCESS:
			r = guest_access_op(&g, op);
			break;
		case TDXSIM_GUEST_ACCEPT:
			r = guest_accept_op(&g, op);
			break;
		case TDXSIM_GUEST_CONVERT:
			r = guest_convert_op(&g, op);
			break;
		case TDXSIM_GUEST_SPIN:
			r = guest_spin_op(&g, op);
			break;
		default:
			r = -EINVAL;
		}
		if (!r)
			res->ops_done++;
	}
	/* The program ends: the vCPU leaves the guest (KVM_RUN returns). */
	if (tdxsim_vp_in_guest(g.sim, g.tdvpr)) {
		tdxsim_vp_exit(g.sim, g.tdvpr);
		guest_exited(&g);
		res->exits++;
	} else {
		guest_note_kick(&g);
	}
	vcpu_put(g.vcpu);
	res->ret = r;
	return r;
}

struct tdxsim_vcpu_thread {
	pthread_t thread;
	struct tdxsim_vm *vm;
	int vcpu;
	struct tdxsim_guest_op *ops;
	size_t n;
	unsigned long budget;
	struct tdxsim_guest_result res;
};

static void *vcpu_thread_fn(void *arg)
{
	struct tdxsim_vcpu_thread *t = arg;
	struct tdxsim *sim = tdxsim_vm_sim(t->vm);

	tdxsim_cpu_bind(sim, (t->vcpu + 1) % tdxsim_get_config(sim)->nr_cpus);
	tdxsim_vcpu_run_prog(t->vm, t->vcpu, t->ops, t->n, t->budget, &t->res);
	tdxsim_kernel_set_current(NULL);
	return NULL;
}

int tdxsim_vcpu_start(struct tdxsim_vm *vm, int vcpu, struct tdxsim_guest_op *ops, size_t n,
		      unsigned long step_budget, struct tdxsim_vcpu_thread **thr)
{
	struct tdxsim_vcpu_thread *t;
	int r;

	if (!vm || !thr || !tdxsim_vm_vcpu(vm, vcpu) || (n && !ops))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->vm = vm;
	t->vcpu = vcpu;
	t->ops = ops;
	t->n = n;
	t->budget = step_budget;
	r = pthread_create(&t->thread, NULL, vcpu_thread_fn, t);
	if (r) {
		free(t);
		return -r;
	}
	*thr = t;
	return 0;
}

int tdxsim_vcpu_join(struct tdxsim_vcpu_thread *thr, struct tdxsim_guest_result *res)
{
	int r;

	if (!thr)
		return -EINVAL;
	pthread_join(thr->thread, NULL);
	r = thr->res.ret;
	if (res)
		*res = thr->res;
	free(thr);
	return r;
}
