// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scenario interpreter: runs a parsed scenario (parse.c) against the VM
 * runtime (<tdxsim-kvm/vm.h>, <tdxsim-kvm/vcpu.h>) and checks its
 * expectations by reading libtdxsim and the KVM model directly: the trace
 * (every SEAMCALL/TDCALL since the VM exists, recorded by a trace callback),
 * the mirror (kvm_tdp_mmu_read_mirror), the S-EPT (tdxsim_sept_lookup), the
 * kernel's PAMT refcounts, the split cache, the checkers (kvm_tdx_check),
 * the kernel shim's events and the provenance ledger.
 *
 * Never a silent pass: an expectation that cannot be evaluated fails and
 * says why; `skip` is reported as skipped; guest programs run with a step
 * budget.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/fault.h>
#include <tdxsim/trace.h>
#include <tdxsim/kernel.h>
#include <tdxsim/wrappers.h>
#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/vm.h>
#include <tdxsim-kvm/scenario.h>
#include <tdxsim-kvm/vcpu.h>

#define LAST_EVENTS	64	/* full events kept for failure messages */
#define MAX_PENDING	32	/* threads (and guest blocks per vCPU) per `run` */
#define MAX_MARKS	256
#define MAX_VMS		4	/* the first VM and its siblings (vm NAME) */
#define NR_GUESTS	(MAX_VMS * TDXSIM_VM_MAX_VCPUS)	/* [vm * 8 + vcpu] */

/* One call of the trace, compactly (the trace of a long scenario is big). */
struct scn_ev {
	u64 seq;
	u64 status;
	u64 rcx;
	u16 leaf;
	u8 type;		/* enum tdxsim_trace_type */
	s8 fault_rule;
};

struct scn_mark {
	const char *name;	/* the command's text: lives as long as the scenario */
	size_t pos;		/* calls before it */
	u64 (*counts)[TDX_NR_LEAVES];	/* per-leaf counts then ([0] SEAMCALL, [1] TDCALL) */
};

struct scn_thread {
	struct tdxsim_scn_run *run;
	const struct tdxsim_scn_cmd *cmd;	/* the `thread` block */
	u64 off;				/* GPA offset of the repeat pass that added it */
	pthread_t tid;
};



struct scn_guest {
	struct tdxsim_scn_run *run;
	struct tdxsim_vm *vm;
	int vcpu;
	struct tdxsim_guest_op *ops;
	const struct tdxsim_scn_cmd **src;	/* the command of each op (for => STATUS) */
	size_t n, cap;
	unsigned long budget;
	struct tdxsim_guest_result res;
	pthread_t tid;
};

struct tdxsim_scn_run {
	const struct tdxsim_scenario *scn;
	struct tdxsim_scn_opts opts;
	struct tdxsim_vm_config cfg;
	unsigned long budget;
	struct tdxsim_vm *vm;	/* the current VM (vms[cur].vm) */
	struct tdxsim *sim;
	bool torn_down;		/* of the current VM */
	int teardown_ret;
	struct {
		const char *name;
		struct tdxsim_vm *vm;
		bool torn_down;
		int teardown_ret;
	} vms[MAX_VMS];
	unsigned int nr_vms, cur;
	struct kvm *gmem_held;	/* `gmem-hold`: whose invalidate lock the script holds */
	long gmem_waits0;	/* kvm->stat.gmem_fault_waits when it took it */
	bool headtail;		/* config cross_boundary_walk=headtail */
	bool refuse_mirror;	/* config eager_split=refuse-mirror */
	u64 held[PTRS_PER_PMD];	/* `host-fill`'s pages, given back before teardown */
	unsigned int nr_held;
	const struct tdxsim_scn_cmd *pending_rules[64];
	unsigned int nr_pending_rules;
	/* trace, appended by the callback under @lock */
	pthread_mutex_t lock;
	struct scn_ev *evs;
	size_t nev, cap;
	bool evs_lost;		/* out of memory once: the history is incomplete */
	/*
	 * The history (evs) is kept only when an expectation needs it (status,
	 * order, none, calls status=); counts per leaf always: a long scenario
	 * makes millions of calls.
	 */
	bool history;
	size_t ncalls;		/* SEAMCALLs and TDCALLs seen */
	u64 counts[2][TDX_NR_LEAVES];
	struct tdxsim_trace_event last[LAST_EVENTS];
	size_t nlast;		/* events ever seen (last[] is a ring) */
	struct scn_mark marks[MAX_MARKS];
	unsigned int nr_marks;
	u64 faults_cleared;	/* fired by rules since removed by clear-faults */
	/* guest programs and threads waiting for `run`; results of those run */
	struct scn_guest guests[NR_GUESTS];
	struct scn_thread threads[MAX_PENDING];
	unsigned int nr_threads;
	struct tdxsim_guest_result done[NR_GUESTS];
	/* outcome */
	enum tdxsim_scn_outcome outcome;
	bool stopped;		/* skip, error, or a failure without keep_going (is_stopped()) */
	unsigned int failed, checked;
	char msg[512];
	struct timespec t0;
};

/* Host threads read it while another thread's failure sets it. */
static bool is_stopped(struct tdxsim_scn_run *run)
{
	return __atomic_load_n(&run->stopped, __ATOMIC_RELAXED);
}

const char *tdxsim_scn_outcome_name(enum tdxsim_scn_outcome o)
{
	static const char *const n[] = { "pass", "FAIL", "skip", "ERROR" };

	return o <= TDXSIM_SCN_ERROR ? n[o] : "?";
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *errno_str(int e, char *buf, size_t len)
{
	const char *n = e < 0 ? strerrorname_np(-e) : NULL;

	if (!e)
		snprintf(buf, len, "0");
	else if (n)
		snprintf(buf, len, "-%s", n);
	else
		snprintf(buf, len, "%d", e);
	return buf;
}

static const char *level_str(int pg_level)
{
	switch (pg_level) {
	case PG_LEVEL_4K: return "4k";
	case PG_LEVEL_2M: return "2m";
	case PG_LEVEL_1G: return "1g";
	default: return "none";
	}
}

/* ---- messages ---- */

static void vlog(struct tdxsim_scn_run *run, const char *fmt, va_list ap)
{
	if (run->opts.log)
		vfprintf(run->opts.log, fmt, ap);
}

static void __attribute__((format(printf, 2, 3))) logf_(struct tdxsim_scn_run *run,
							 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(run, fmt, ap);
	va_end(ap);
}

/* "#25 seamcall TDH.MEM.PAGE.DEMOTE gpa 0x40000000 2m -> TDX_OPERAND_BUSY|SEPT (rule 0)" */
static char *event_str(const struct tdxsim_trace_event *ev, char *buf, size_t len)
{
	const struct tdxsim_leaf_info *li = NULL;
	char sb[64];
	size_t n;

	if (ev->type == TDXSIM_EV_SEAMCALL)
		li = tdxsim_leaf_info(ev->leaf);
	else if (ev->type == TDXSIM_EV_TDCALL)
		li = tdxsim_tdcall_leaf_info(ev->leaf);
	n = (size_t)snprintf(buf, len, "#%-5llu thr %u %-8s %s", (unsigned long long)ev->seq,
			     ev->thread, tdxsim_trace_type_name(ev->type),
			     li ? li->name : ev->type == TDXSIM_EV_FAULT ? "fault fired" : "");
	if (li && tdxsim_leaf_operand(li, TDXSIM_OPND_GPA) && n < len) {
		static const char *const tl[] = { "4k", "2m", "1g", "512g", "256t" };
		unsigned int l = (unsigned int)(ev->in.rcx & 7);

		n += (size_t)snprintf(buf + n, len - n, " gpa %#llx %s",
				      (unsigned long long)(ev->in.rcx & ~0xfffULL), l < 5 ? tl[l] : "?");
	}
	if (ev->type == TDXSIM_EV_TD_ENTER || ev->type == TDXSIM_EV_TD_EXIT) {
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, " vcpu %#llx",
					      (unsigned long long)ev->tdvpr);
	} else if (n < len && ev->type != TDXSIM_EV_FAULT) {
		n += (size_t)snprintf(buf + n, len - n, " -> %s",
				      ev->type == TDXSIM_EV_TDCALL && ev->status == TDXSIM_TDCALL_TD_EXIT ?
				      "TD exit" : tdxsim_status_name(ev->status, sb, sizeof(sb)));
	}
	if (ev->fault_rule >= 0 && n < len)
		snprintf(buf + n, len - n, " (fault rule %d)", ev->fault_rule);
	return buf;
}

static void print_last_events(struct tdxsim_scn_run *run)
{
	unsigned int want = run->opts.last_events ? run->opts.last_events : 12;
	size_t n, first;
	char buf[512];

	if (!run->opts.log)
		return;
	pthread_mutex_lock(&run->lock);
	n = run->nlast < LAST_EVENTS ? run->nlast : LAST_EVENTS;
	if (n > want)
		n = want;
	first = run->nlast - n;
	if (!n)
		fprintf(run->opts.log, "  (no trace event yet)\n");
	else
		fprintf(run->opts.log, "  last %zu trace events:\n", n);
	for (size_t i = first; i < run->nlast; i++)
		fprintf(run->opts.log, "    %s\n", event_str(&run->last[i % LAST_EVENTS], buf,
							   sizeof(buf)));
	pthread_mutex_unlock(&run->lock);
}

/* The command as written (its given arguments in table order), for messages. */
static char *cmd_text(const struct tdxsim_scn_cmd *c, bool drop_expect, char *buf, size_t len)
{
	size_t n = 0;
	const char *name = c->info->name;

	if (drop_expect && !strncmp(name, "expect ", 7))
		name += 7;
	n += (size_t)snprintf(buf, len, "%s", name);
	for (unsigned int i = 0; i < c->info->nr_args && n < len; i++) {
		const struct tdxsim_scn_arg_info *a = &c->info->args[i];
		const struct tdxsim_scn_val *v = &c->args[i];

		if (!v->given)
			continue;
		if (a->kind == TDXSIM_SCN_KEY)
			n += (size_t)snprintf(buf + n, len - n, " %s=%s", a->name, v->text);
		else if (a->type == TDXSIM_SCN_STRING)
			n += (size_t)snprintf(buf + n, len - n, " \"%s\"", v->text);
		else
			n += (size_t)snprintf(buf + n, len - n, " %s", v->text);
	}
	return buf;
}

/* Record a failure or an error at @c's line; stops the run unless keep_going (failures). */
static int __attribute__((format(printf, 4, 5)))
report(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, enum tdxsim_scn_outcome what,
       const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "%s:%u: ", run->scn->file,
		     c ? c->loc.line : run->scn->nr_lines);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&run->lock);
	if (what == TDXSIM_SCN_FAIL)
		run->failed++;
	if (run->outcome == TDXSIM_SCN_PASS || what == TDXSIM_SCN_ERROR) {
		if (run->outcome != TDXSIM_SCN_ERROR)
			snprintf(run->msg, sizeof(run->msg), "%s", line);
		run->outcome = what;
	}
	if (what == TDXSIM_SCN_ERROR || !run->opts.keep_going)
		__atomic_store_n(&run->stopped, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&run->lock);
	logf_(run, "%s\n", line);
	if (what == TDXSIM_SCN_FAIL)
		print_last_events(run);
	return what == TDXSIM_SCN_FAIL ? 1 : -EINVAL;
}

/* ---- the trace ---- */

static void trace_cb(void *arg, const struct tdxsim_trace_event *ev)
{
	struct tdxsim_scn_run *run = arg;

	/* calls are serialised by libtdxsim; the lock orders us with readers */
	pthread_mutex_lock(&run->lock);
	run->last[run->nlast++ % LAST_EVENTS] = *ev;
	if (ev->type != TDXSIM_EV_SEAMCALL && ev->type != TDXSIM_EV_TDCALL)
		goto out;
	run->ncalls++;
	if (ev->leaf < TDX_NR_LEAVES)
		run->counts[ev->type == TDXSIM_EV_TDCALL][ev->leaf]++;
	if (run->history && !run->evs_lost) {
		if (run->nev == run->cap) {
			size_t cap = run->cap ? run->cap * 2 : 4096;
			struct scn_ev *e = realloc(run->evs, cap * sizeof(*e));

			if (!e) {
				run->evs_lost = true;
				goto out;
			}
			run->evs = e;
			run->cap = cap;
		}
		run->evs[run->nev++] = (struct scn_ev){
			.seq = ev->seq, .status = ev->status, .rcx = ev->in.rcx,
			.leaf = (u16)ev->leaf, .type = (u8)ev->type,
			.fault_rule = (s8)(ev->fault_rule < 127 ? ev->fault_rule : 127),
		};
	}
out:
	pthread_mutex_unlock(&run->lock);
}

static bool ev_is(const struct scn_ev *e, const struct tdxsim_scn_val *leaf)
{
	return e->leaf == leaf->leaf &&
	       e->type == (leaf->tdcall ? TDXSIM_EV_TDCALL : TDXSIM_EV_SEAMCALL);
}

static bool status_match(u64 got, u64 want, const char *want_text)
{
	if (TDX_OPERAND(want) || strchr(want_text, '|'))
		return got == want;
	return TDX_STATUS(got) == TDX_STATUS(want);
}

static const struct scn_mark *mark_find(struct tdxsim_scn_run *run, const char *name)
{
	for (unsigned int i = 0; i < run->nr_marks; i++) {
		if (!strcmp(run->marks[i].name, name))
			return &run->marks[i];
	}
	return NULL;
}

/*
 * Position of an EVENT value on one axis: call i at 2i+1, a mark standing
 * before call m at 2m.  -1 when the call never happened (or the mark is
 * not reached yet).  Takes run->lock.
 */
static long event_pos(struct tdxsim_scn_run *run, const struct tdxsim_scn_val *v)
{
	unsigned int seen = 0, want = v->nth ? v->nth : 1;

	if (v->leaf == ~0U) {
		const struct scn_mark *m = mark_find(run, v->text);

		return m ? (long)(2 * m->pos) : -1;
	}
	for (size_t i = 0; i < run->nev; i++) {
		if (ev_is(&run->evs[i], v) && ++seen == want)
			return (long)(2 * i + 1);
	}
	return -1;
}

/* ---- the VM ---- */

static int add_rule(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	char err[160];
	int r = tdxsim_fault_parse(run->sim, c->args[0].text, err, sizeof(err));

	if (r == 1)
		return 0;
	return report(run, c, TDXSIM_SCN_ERROR, "expected a fault rule libtdxsim takes, got '%s': %s",
		      c->args[0].text, r < 0 ? err : "no rule");
}

/* Make VM @i the current one (`use`, a new `vm`). */
static void switch_vm(struct tdxsim_scn_run *run, unsigned int i)
{
	if (i >= MAX_VMS)
		return;
	if (run->nr_vms) {
		run->vms[run->cur].torn_down = run->torn_down;
		run->vms[run->cur].teardown_ret = run->teardown_ret;
	}
	run->cur = i;
	run->vm = run->vms[i].vm;
	run->torn_down = run->vms[i].torn_down;
	run->teardown_ret = run->vms[i].teardown_ret;
}

static int find_vm(struct tdxsim_scn_run *run, const char *name)
{
	for (unsigned int i = 0; i < run->nr_vms; i++) {
		if (!strcmp(run->vms[i].name, name))
			return (int)i;
	}
	return -1;
}

/* `vm NAME` (@c NULL: the implicit first VM, main). */
static int make_vm(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	const char *name = c && c->info->id == TDXSIM_CMD_VM ? c->args[0].text : "main";
	struct tdxsim_vm *vm;
	char eb[32];
	int err = 0;

	if (run->nr_vms == MAX_VMS || find_vm(run, name) >= 0)
		return report(run, c, TDXSIM_SCN_ERROR, "expected a new VM (at most %d), got '%s'",
			      MAX_VMS, name);
	vm = run->nr_vms ? tdxsim_vm_create_sibling(run->vms[0].vm, &run->cfg, &err) :
			   tdxsim_vm_create(&run->cfg, &err);
	if (!vm)
		return report(run, c, TDXSIM_SCN_ERROR, "expected the VM to be created, observed %s",
			      errno_str(err ? err : -ENOMEM, eb, sizeof(eb)));
	run->vms[run->nr_vms].name = name;
	run->vms[run->nr_vms].vm = vm;
	/* S19's walk variant: a struct kvm switch, set before any split */
	tdxsim_vm_kvm(vm)->split_cross_boundary_headtail = run->headtail;
	tdxsim_vm_kvm(vm)->eager_split_refuse_mirror = run->refuse_mirror;	/* S23 */
	switch_vm(run, run->nr_vms++);
	if (run->nr_vms > 1)
		return 0;	/* the simulator and its trace are the first VM's */
	run->sim = tdxsim_vm_sim(run->vm);
	tdxsim_kernel_set_current(run->sim);
	tdxsim_trace_set_callback(run->sim, trace_cb, run);
	if (run->opts.trace_path &&
	    tdxsim_trace_open(run->sim, run->opts.trace_path, TDXSIM_TRACE_JSON))
		return report(run, c, TDXSIM_SCN_ERROR, "expected to write the trace %s, observed %s",
			      run->opts.trace_path, strerror(errno));
	for (unsigned int i = 0; i < run->nr_pending_rules; i++) {
		if (add_rule(run, run->pending_rules[i]))
			return -EINVAL;
	}
	return 0;
}

static int need_vm(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	if (run->nr_vms)
		return 0;
	return make_vm(run, NULL);
}

/* ---- commands ---- */

/* Give `host-fill`'s pages back (the teardown's ledger counts them otherwise). */
static void host_fill_release(struct tdxsim_scn_run *run)
{
	while (run->nr_held)
		tdxsim_page_free(run->sim, run->held[--run->nr_held], TDX_PS_4K);
}

static int check_ret(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, int got)
{
	char a[32], b[32], t[256];
	int want = c->has_ret ? (int)c->ret.i : 0;

	if (c->ret_any || got == want)
		return 0;
	return report(run, c, TDXSIM_SCN_FAIL, "expected %s => %s, observed %s",
		      cmd_text(c, false, t, sizeof(t)), errno_str(want, a, sizeof(a)),
		      errno_str(got, b, sizeof(b)));
}

static void apply_config(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	const struct tdxsim_scn_val *a = c->args;
	struct tdxsim_vm_config *cfg = &run->cfg;

	if (a[0].given)
		cfg->module.mem_size = a[0].u;
	if (a[1].given)
		cfg->upstream = a[1].u == 1;
	if (a[2].given) {
		if (a[2].u)
			cfg->module.features0 |= TDX_FEATURES0_DYNAMIC_PAMT;
		else
			cfg->module.features0 &= ~TDX_FEATURES0_DYNAMIC_PAMT;
	}
	if (a[3].given)
		cfg->tdx_huge_page = a[3].u;
	if (a[4].given)
		cfg->nr_vcpus = (int)a[4].u;
	if (a[5].given)
		cfg->module.seed = a[5].u;
	if (a[6].given) {
		cfg->module.features0 |= a[6].u;
		cfg->module.features0 &= ~(u64)a[6].i;
	}
	if (a[7].given)
		cfg->conv_order = a[7].u == 0 ? TDXSIM_CONV_SPLIT_THEN_ZAP :
				  a[7].u == 1 ? TDXSIM_CONV_ZAP_THEN_SPLIT : TDXSIM_CONV_FOLIO_FIRST;
	if (a[8].given)
		run->budget = a[8].u;
	if (a[9].given)
		cfg->module.nr_cpus = (unsigned int)a[9].u;
	if (a[10].given)
		cfg->gmem_lock_by_range = a[10].u == 1;
	if (a[11].given)
		run->headtail = a[11].u == 1;
	if (a[12].given)
		run->refuse_mirror = a[12].u == 1;
	if (a[13].given)
		cfg->vm_memory_attributes = a[13].u;
	if (a[14].given)
		cfg->loop_on_restartable = (unsigned int)a[14].u;
	if (a[15].given)
		cfg->split_cache_account = a[15].u == 1;
	if (a[16].given)
		cfg->dpamt_at_topup = a[16].u;
	if (a[17].given)
		cfg->module.dpamt_not_configured = !a[17].u;
}

static int vcpu_ok(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, u64 vcpu)
{
	if (vcpu < (u64)tdxsim_vm_nr_vcpus(run->vm))
		return 0;
	return report(run, c, TDXSIM_SCN_ERROR, "expected a vCPU below %d (config vcpus=), got %llu",
		      tdxsim_vm_nr_vcpus(run->vm), (unsigned long long)vcpu);
}

static int host_action(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	const struct tdxsim_scn_val *a = c->args;
	int r = 0, level = 0;

	switch (c->info->id) {
	case TDXSIM_CMD_MEMSLOT: {
		unsigned int flags = a[3].given ? TDXSIM_SLOT_MMIO :
				     a[4].given ? TDXSIM_SLOT_NO_TDMR : TDXSIM_SLOT_PRIVATE;

		if (a[6].given) {
			int i = find_vm(run, a[6].text);

			if (i < 0)
				return report(run, c, TDXSIM_SCN_ERROR,
					      "expected a VM created before, got '%s'", a[6].text);
			r = tdxsim_vm_bind_gmem(run->vm, (int)a[0].u, a[1].u, a[2].u,
						run->vms[i].vm);
			break;
		}
		r = tdxsim_vm_add_memslot(run->vm, (int)a[0].u, a[1].u, a[2].u, flags);
		if (!r && a[5].u)
			r = tdxsim_vm_gmem_populate(run->vm, a[1].u, a[2].u, a[5].u == 2 ? 9 : 0);
		break;
	}
	case TDXSIM_CMD_FOLIO:
		r = tdxsim_vm_gmem_populate(run->vm, a[0].u, a[1].u, (int)a[2].u);
		break;
	case TDXSIM_CMD_BUILD_ADD:
		r = tdxsim_vm_build_add(run->vm, a[0].u, a[1].u);
		break;
	case TDXSIM_CMD_FINALIZE:
		r = tdxsim_vm_finalize(run->vm);
		break;
	case TDXSIM_CMD_MAP:
		if (vcpu_ok(run, c, a[1].u))
			return -EINVAL;
		r = tdxsim_vm_map(run->vm, (int)a[1].u, a[0].u, &level);
		if (!r && a[2].given && level != (int)a[2].u) {
			char t[256];

			return report(run, c, TDXSIM_SCN_FAIL, "expected %s, observed level %s",
				      cmd_text(c, false, t, sizeof(t)), level_str(level));
		}
		break;
	case TDXSIM_CMD_CONVERT:
		r = tdxsim_vm_convert(run->vm, a[0].u, a[2].u, a[1].u == 1);
		break;
	case TDXSIM_CMD_PUNCH:
		r = tdxsim_vm_punch_hole(run->vm, a[0].u, a[1].u);
		break;
	case TDXSIM_CMD_SPLIT:
		r = tdxsim_vm_split(run->vm, a[0].u, a[1].u, (int)a[2].u, a[3].given);
		break;
	case TDXSIM_CMD_ZAP:
		r = tdxsim_vm_zap(run->vm, a[0].u, a[1].u);
		break;
	case TDXSIM_CMD_EAGER_SPLIT:
		r = tdxsim_vm_eager_split(run->vm, a[0].u, a[1].u, a[2].given);
		break;
	case TDXSIM_CMD_MEMORY_FAILURE:
		r = tdxsim_vm_memory_failure(run->vm, a[0].u);
		break;
	case TDXSIM_CMD_TEARDOWN:
		host_fill_release(run);
		r = tdxsim_vm_teardown(run->vm);
		run->torn_down = true;
		run->teardown_ret = r;
		break;
	default:
		return report(run, c, TDXSIM_SCN_ERROR, "expected a host action, got `%s`",
			      c->info->name);
	}
	return check_ret(run, c, r);
}

/* One SEAMCALL behind KVM's back (module sub-tests, S17's PROMOTE and AUG). */
static int do_seamcall(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	const struct tdxsim_scn_val *a = c->args;
	struct tdxsim_td *td = tdxsim_vm_td(run->vm);
	int tdx_level = (int)a[2].u - 1;
	u64 st, e1 = 0, e2 = 0, want = c->has_ret ? c->ret.u : TDX_SUCCESS;
	char sb[64], t[256];

	switch (a[0].u) {
	case 0:
		st = tdxsim_tdh_mem_range_block(td, a[1].u, tdx_level, &e1, &e2);
		break;
	case 1:
		st = tdxsim_tdh_mem_range_unblock(td, a[1].u, tdx_level, &e1, &e2);
		break;
	case 2:
		st = tdxsim_tdh_mem_track(td);
		break;
	case 3:
		st = tdxsim_tdh_mem_page_remove(td, a[1].u, tdx_level, &e1, &e2);
		break;
	case 4: {
		u64 sept_pa = 0, pair[2] = { 0 };

		/* a freed S-EPT page (and pair) comes back to the host: KVM still points at it */
		st = tdxsim_tdh_mem_page_promote(td, a[1].u, tdx_level, &sept_pa, pair, &e1, &e2);
		break;
	}
	default: {
		struct kvm *kvm = tdxsim_vm_kvm(run->vm);
		gfn_t gfn = a[1].u >> PAGE_SHIFT;
		struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
		kvm_pfn_t pfn;
		int order;

		if (!slot || kvm_gmem_get_pfn(kvm, slot, gfn, &pfn, &order))
			return report(run, c, TDXSIM_SCN_ERROR,
				      "expected a guest_memfd folio for seamcall aug at %#llx, got none",
				      (unsigned long long)a[1].u);
		st = tdxsim_tdh_mem_page_aug(td, a[1].u, tdx_level, (u64)pfn, &e1, &e2);
		break;
	}
	}
	if (c->ret_any || status_match(st, want, c->has_ret ? c->ret.text : "TDX_SUCCESS"))
		return 0;
	return report(run, c, TDXSIM_SCN_FAIL, "expected %s => %s, observed %s",
		      cmd_text(c, false, t, sizeof(t)), c->has_ret ? c->ret.text : "TDX_SUCCESS",
		      tdxsim_status_name(st, sb, sizeof(sb)));
}

static int do_mark(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	int r = 0;

	pthread_mutex_lock(&run->lock);
	if (run->nr_marks == MAX_MARKS || mark_find(run, c->args[0].text))
		r = -EEXIST;
	else
		run->marks[run->nr_marks++] = (struct scn_mark){ c->args[0].text, run->ncalls,
								  malloc(sizeof(run->counts)) };
	if (!r && run->marks[run->nr_marks - 1].counts)
		memcpy(run->marks[run->nr_marks - 1].counts, run->counts, sizeof(run->counts));
	pthread_mutex_unlock(&run->lock);
	if (r)
		return report(run, c, TDXSIM_SCN_ERROR, "expected a new mark, got '%s' again",
			      c->args[0].text);
	return 0;
}

/* ---- expectations ---- */

static bool cmp(u64 got, enum tdxsim_scn_op op, u64 want)
{
	switch (op) {
	case TDXSIM_OP_EQ: return got == want;
	case TDXSIM_OP_NE: return got != want;
	case TDXSIM_OP_LT: return got < want;
	case TDXSIM_OP_LE: return got <= want;
	case TDXSIM_OP_GT: return got > want;
	case TDXSIM_OP_GE: return got >= want;
	}
	return false;
}

static int expect_count(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, u64 got,
			const struct tdxsim_scn_val *op, const struct tdxsim_scn_val *want)
{
	char t[256];

	if (cmp(got, (enum tdxsim_scn_op)op->u, want->u))
		return 0;
	return report(run, c, TDXSIM_SCN_FAIL, "expected %s, observed %llu",
		      cmd_text(c, true, t, sizeof(t)), (unsigned long long)got);
}

static int fail_obs(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, const char *obs)
{
	char t[256];

	return report(run, c, TDXSIM_SCN_FAIL, "expected %s, observed %s",
		      cmd_text(c, true, t, sizeof(t)), obs);
}

/* Expectations on single calls read the history: it must be whole. */
static int need_history(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	if (!run->history)
		return report(run, c, TDXSIM_SCN_ERROR, "expected the trace history, but this run "
			      "keeps none (tdxsim_scn_opts.full_trace)");
	if (run->evs_lost)
		return fail_obs(run, c, "an incomplete trace (out of memory while recording)");
	return 0;
}

static bool kvm_alive(struct tdxsim_scn_run *run)
{
	return run->vm && !run->torn_down && tdxsim_vm_kvm(run->vm);
}

static int needs_kvm(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	if (kvm_alive(run))
		return 0;
	return fail_obs(run, c, "no VM to look at (it was torn down)");
}

static const char *sept_state_name(u8 st)
{
	switch (st) {
	case SEPT_PUBLIC_FREE: return "free";
	case SEPT_PUBLIC_BLOCKED: return "blocked";
	case SEPT_PUBLIC_PENDING: return "pending";
	case SEPT_PUBLIC_PENDING_BLOCKED: return "pending-blocked";
	case SEPT_PUBLIC_MAPPED: return "mapped";
	case SEPT_PUBLIC_REMOVED: return "removed";
	case SEPT_PUBLIC_NL_BLOCKED: return "nl-blocked";
	case SEPT_PUBLIC_NL_MAPPED: return "nl-mapped";
	default: return "?";
	}
}

static const u8 sept_states[] = {	/* the order of x_sept_args' state= choices */
	SEPT_PUBLIC_FREE, SEPT_PUBLIC_PENDING, SEPT_PUBLIC_MAPPED, SEPT_PUBLIC_BLOCKED,
	SEPT_PUBLIC_PENDING_BLOCKED, SEPT_PUBLIC_NL_MAPPED, SEPT_PUBLIC_NL_BLOCKED,
	SEPT_PUBLIC_REMOVED,
};

/* The mirror leaf and the S-EPT entry at @gpa: levels as PG_LEVEL_* (NONE: no leaf). */
struct gpa_view {
	int kvm_level;
	u64 spte;
	int sept_rc;
	struct tdxsim_sept_info sept;
	int sept_level;		/* PG_LEVEL_* of a present leaf, else PG_LEVEL_NONE */
};

static void view_gpa(struct tdxsim_scn_run *run, u64 gpa, struct gpa_view *v)
{
	struct tdxsim_td *td = tdxsim_vm_td(run->vm);

	memset(v, 0, sizeof(*v));
	v->spte = kvm_tdp_mmu_read_mirror(tdxsim_vm_kvm(run->vm), gpa >> PAGE_SHIFT, &v->kvm_level);
	v->sept_rc = td ? tdxsim_sept_lookup(run->sim, td, gpa, &v->sept) : -ENOENT;
	v->sept_level = PG_LEVEL_NONE;
	if (!v->sept_rc && v->sept.leaf && v->sept.state != SEPT_PUBLIC_FREE &&
	    v->sept.state != SEPT_PUBLIC_REMOVED)
		v->sept_level = v->sept.level + 1;
}

static void view_str(const struct gpa_view *v, char *buf, size_t len)
{
	if (v->sept_rc)
		snprintf(buf, len, "mirror %s (spte %#llx), S-EPT not readable (%d)",
			 level_str(v->kvm_level), (unsigned long long)v->spte, v->sept_rc);
	else
		snprintf(buf, len, "mirror %s (spte %#llx), S-EPT %s %s%s", level_str(v->kvm_level),
			 (unsigned long long)v->spte, level_str(v->sept.level + 1),
			 sept_state_name(v->sept.state), v->sept.leaf ? "" : " (non-leaf)");
}

static int refcount_of(struct tdxsim_scn_run *run, u64 gpa, u64 *out, char *why, size_t len)
{
	struct kvm *kvm = tdxsim_vm_kvm(run->vm);
	const struct tdxsim_config *mc = tdxsim_get_config(run->sim);
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gpa >> PAGE_SHIFT);
	kvm_pfn_t pfn;
	int order;

	if (!slot || kvm_gmem_get_pfn(kvm, slot, gpa >> PAGE_SHIFT, &pfn, &order)) {
		snprintf(why, len, "no guest_memfd folio at %#llx", (unsigned long long)gpa);
		return -ENOENT;
	}
	if (((u64)pfn << PAGE_SHIFT) < mc->mem_base ||
	    ((u64)pfn << PAGE_SHIFT) >= mc->mem_base + mc->mem_size) {
		snprintf(why, len, "the page %#llx is outside the TDMR (no PAMT refcount)",
			 (unsigned long long)pfn << PAGE_SHIFT);
		return -ERANGE;
	}
	*out = (u64)atomic_read(tdx_find_pamt_refcount((u64)pfn));
	return 0;
}

/* The first violations of @rep, one line each (kvm_check_report_print() prints all 64). */
static void print_report(struct tdxsim_scn_run *run, const struct kvm_check_report *rep)
{
	unsigned int shown = rep->nr < 8 ? rep->nr : 8;

	if (!run->opts.log)
		return;
	for (unsigned int i = 0; i < shown && i < KVM_CHECK_REPORT_MAX; i++)
		fprintf(run->opts.log, "  %s %s: %s\n", kvm_check_inv_id(rep->v[i].what),
			kvm_check_inv_name(rep->v[i].what), rep->v[i].msg);
	if (rep->nr > shown)
		fprintf(run->opts.log, "  ... %u more\n", rep->nr - shown);
}

static struct kvm_check_report *run_check(struct tdxsim_scn_run *run, int *nr)
{
	struct kvm_check_report *rep = calloc(1, sizeof(*rep));

	if (!rep)
		return NULL;
	/* Before teardown kvm_tdx_check(); after it, what the VM recorded over its life. */
	*nr = tdxsim_vm_check(run->vm, rep);
	return rep;
}

/* I-number or name of @inv matches @w? ("I7a" matches I7a, "I7" matches I7a and I7b) */
static bool inv_matches(enum kvm_check_inv inv, const char *w)
{
	const char *id = kvm_check_inv_id(inv);
	size_t n = strlen(w);

	if (!strcasecmp(w, kvm_check_inv_name(inv)) || !strcasecmp(w, id))
		return true;
	/* "I7" names I7a and I7b, but "I1" does not name I13 */
	return !strncasecmp(w, id, n) && id[n] >= 'a' && id[n] <= 'z';
}

static void verbose_state(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	u64 gpa = ~0ULL;

	if (!run->opts.verbose || !run->opts.log)
		return;
	if (c->info->nr_args && c->info->args[0].type == TDXSIM_SCN_GPA)
		gpa = c->args[0].u;
	fprintf(run->opts.log, "%s:%u: %s\n", run->scn->file, c->loc.line,
		c->info->name);
	tdxsim_scn_run_state(run, gpa, run->opts.log);
}

static int expect(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	const struct tdxsim_scn_val *a = c->args;
	struct kvm *kvm = kvm_alive(run) ? tdxsim_vm_kvm(run->vm) : NULL;
	struct gpa_view v;
	char obs[320];
	int r;

	run->checked++;
	verbose_state(run, c);
	switch (c->info->id) {
	case TDXSIM_CMD_X_LEVEL: {
		int want = a[1].u == 3 ? PG_LEVEL_NONE : (int)a[1].u + 1;

		if (needs_kvm(run, c))
			return 1;
		view_gpa(run, a[0].u, &v);
		if (v.kvm_level == want && v.sept_level == want)
			return 0;
		view_str(&v, obs, sizeof(obs));
		return fail_obs(run, c, obs);
	}
	case TDXSIM_CMD_X_KVM:
		if (needs_kvm(run, c))
			return 1;
		view_gpa(run, a[0].u, &v);
		if ((!a[1].given || v.kvm_level == (a[1].u == 3 ? PG_LEVEL_NONE : (int)a[1].u + 1)) &&
		    (!a[2].given || (v.kvm_level != PG_LEVEL_NONE) == !!a[2].u))
			return 0;
		snprintf(obs, sizeof(obs), "mirror level %s, spte %#llx", level_str(v.kvm_level),
			 (unsigned long long)v.spte);
		return fail_obs(run, c, obs);
	case TDXSIM_CMD_X_SEPT:
		if (needs_kvm(run, c))
			return 1;
		view_gpa(run, a[0].u, &v);
		if (a[1].given && tdxsim_vm_td(run->vm)) {
			/* level= names the entry at that level, a table too */
			v.sept_rc = tdxsim_sept_lookup_level(run->sim, tdxsim_vm_td(run->vm), a[0].u,
							     (int)a[1].u, &v.sept);
			if (v.sept_rc == -ENOENT)
				return fail_obs(run, c, "the walk stops above that level");
		}
		if (v.sept_rc) {
			snprintf(obs, sizeof(obs), "no S-EPT walk (%d)", v.sept_rc);
			return fail_obs(run, c, obs);
		}
		if ((!a[1].given || v.sept.level == (int)a[1].u) &&
		    (!a[2].given || v.sept.state == sept_states[a[2].u]))
			return 0;
		snprintf(obs, sizeof(obs), "level %s state %s%s", level_str(v.sept.level + 1),
			 sept_state_name(v.sept.state), v.sept.leaf ? "" : " (non-leaf)");
		return fail_obs(run, c, obs);
	case TDXSIM_CMD_X_ATTR: {
		bool priv;

		if (needs_kvm(run, c))
			return 1;
		priv = kvm_mem_is_private(kvm, a[0].u >> PAGE_SHIFT);
		if (priv == (a[1].u == 1))
			return 0;
		return fail_obs(run, c, priv ? "private" : "shared");
	}
	case TDXSIM_CMD_X_INHIBIT: {
		struct kvm_memory_slot *slot;
		bool set;

		if (needs_kvm(run, c))
			return 1;
		slot = gfn_to_memslot(kvm, a[0].u >> PAGE_SHIFT);
		if (!slot)
			return fail_obs(run, c, "no memslot at the GPA");
		set = hugepage_test_guest_inhibit(slot, a[0].u >> PAGE_SHIFT, (int)a[1].u);
		if (set == (a[2].u == 0))
			return 0;
		return fail_obs(run, c, set ? "set" : "clear");
	}
	case TDXSIM_CMD_X_CALLS: {
		const struct scn_mark *m = NULL;
		size_t from = 0;
		u64 n = 0;

		if (a[4].given && need_history(run, c))
			return 1;
		pthread_mutex_lock(&run->lock);
		if (a[3].given) {
			m = mark_find(run, a[3].text);
			from = m ? m->pos : run->ncalls;
		}
		if (!a[4].given) {
			/* from the counters: no history needed */
			if (a[0].leaf < TDX_NR_LEAVES)
				n = run->counts[a[0].tdcall][a[0].leaf] -
				    (m && m->counts ? m->counts[a[0].tdcall][a[0].leaf] : 0);
			if (m && !m->counts)
				n = ~0ULL;
		}
		for (size_t i = from; a[4].given && i < run->nev; i++) {
			if (ev_is(&run->evs[i], &a[0]) &&
			    status_match(run->evs[i].status, a[4].u, a[4].text))
				n++;
		}
		pthread_mutex_unlock(&run->lock);
		if (n == ~0ULL)
			return report(run, c, TDXSIM_SCN_ERROR, "expected memory, observed none");
		if (a[3].given && !m)
			return fail_obs(run, c, "the mark not reached yet");
		return expect_count(run, c, n, &a[1], &a[2]);
	}
	case TDXSIM_CMD_X_STATUS: {
		unsigned int seen = 0;
		bool found = false;
		u64 st = 0;

		if (need_history(run, c))
			return 1;
		pthread_mutex_lock(&run->lock);
		for (size_t i = 0; i < run->nev; i++) {
			if (!ev_is(&run->evs[i], &a[0]))
				continue;
			seen++;
			if (!a[0].nth || seen == a[0].nth) {
				st = run->evs[i].status;
				found = true;
				if (a[0].nth)
					break;
			}
		}
		pthread_mutex_unlock(&run->lock);
		if (!found) {
			snprintf(obs, sizeof(obs), "%u call%s of it", seen, seen == 1 ? "" : "s");
			return fail_obs(run, c, obs);
		}
		if (status_match(st, a[2].u, a[2].text) == (a[1].u == TDXSIM_OP_EQ))
			return 0;
		return fail_obs(run, c, tdxsim_status_name(st, obs, sizeof(obs)));
	}
	case TDXSIM_CMD_X_EXITS: {
		u64 n = 0;

		for (int i = 0; i < TDXSIM_VM_MAX_VCPUS; i++) {
			const struct tdxsim_guest_result *g =
				&run->done[run->cur * TDXSIM_VM_MAX_VCPUS + i];

			if (a[3].given && (u64)i != a[3].u)
				continue;
			const u64 cnt[] = { g->exits, g->ept_exits, g->accept_exits, g->entries,
					    g->steps, g->ves, g->entry_retries };

			n += cnt[a[0].u];
		}
		return expect_count(run, c, n, &a[1], &a[2]);
	}
	case TDXSIM_CMD_X_FAULTS:
		if (!run->sim)
			return expect_count(run, c, 0, &a[0], &a[1]);
		return expect_count(run, c, run->faults_cleared + tdxsim_fault_fired_total(run->sim),
				    &a[0], &a[1]);
	case TDXSIM_CMD_X_REFCOUNT: {
		u64 n;

		if (needs_kvm(run, c))
			return 1;
		if (refcount_of(run, a[0].u, &n, obs, sizeof(obs)))
			return fail_obs(run, c, obs);
		return expect_count(run, c, n, &a[1], &a[2]);
	}
	case TDXSIM_CMD_X_SPLIT_CACHE: {
		/* v3's prealloc_split_cache or upstream's pamt_cache, whichever the VM uses */
		int cnt;

		if (needs_kvm(run, c))
			return 1;
		cnt = tdx_split_cache_count(kvm);
		if (cnt < 0) {
			snprintf(obs, sizeof(obs), "no split cache (%d)", cnt);
			return fail_obs(run, c, obs);
		}
		return expect_count(run, c, (u64)cnt, &a[0], &a[1]);
	}
	case TDXSIM_CMD_X_STAT: {
		long st;

		if (needs_kvm(run, c))
			return 1;
		/* the gmem counters are written under gmem_inval_mutex (kvm_gmem_fault_wait) */
		pthread_mutex_lock(&kvm->gmem_inval_mutex);
		st = a[0].u == 0 ? kvm->stat.gmem_fault_waits :
		     a[0].u == 1 ? kvm->stat.gmem_wait_max_ns :
		     a[0].u == 2 ? kvm->stat.sp_allocated :
		     a[0].u == 3 ? kvm->stat.rcu_pending :
		     a[0].u == 4 ? __atomic_load_n(&kvm->stat.cross_boundary_steps,
						   __ATOMIC_RELAXED) :
		     a[0].u == 5 ? kvm->stat.demote_restarts :
		     a[0].u == 6 ? kvm->stat.mmu_lock_write_max_ns :
		     a[0].u == 7 ? __atomic_load_n(&kvm->stat.split_cache_allocated,
						   __ATOMIC_RELAXED) :
		     a[0].u == 8 ? __atomic_load_n(&kvm->stat.split_cache_charged,
						   __ATOMIC_RELAXED) :
		     __atomic_load_n(&kvm->stat.topup_pairs, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&kvm->gmem_inval_mutex);
		return expect_count(run, c, (u64)st, &a[1], &a[2]);
	}
	case TDXSIM_CMD_X_PAGES:
		if (needs_kvm(run, c))
			return 1;
		return expect_count(run, c, (u64)kvm->stat.pages[a[0].u - 1], &a[1], &a[2]);
	case TDXSIM_CMD_X_EVENTS: {
		static const enum tdxsim_kernel_event_type kev[] = {
			TDXSIM_KEV_WARN, TDXSIM_KEV_KVM_BUG, TDXSIM_KEV_TDX_BUG, TDXSIM_KEV_PR_ERR,
			TDXSIM_KEV_PR_WARN, TDXSIM_KEV_SLEEP_IN_ATOMIC, TDXSIM_KEV_LOCKDEP,
			TDXSIM_KEV_BUG,
		};

		struct tdxsim_kernel_event ev;

		r = expect_count(run, c, run->sim ? tdxsim_kernel_events(run->sim, kev[a[0].u]) : 0,
				 &a[1], &a[2]);
		for (unsigned int i = 0; r && run->opts.log &&
		     !tdxsim_kernel_event_at(run->sim, i, &ev); i++) {
			if (ev.type == kev[a[0].u])
				fprintf(run->opts.log, "  %s:%d: %s\n", ev.file, ev.line, ev.msg);
		}
		return r;
	}
	case TDXSIM_CMD_X_ORDER: {
		long pa, pb;

		if (need_history(run, c))
			return 1;
		pthread_mutex_lock(&run->lock);
		pa = event_pos(run, &a[0]);
		pb = event_pos(run, &a[2]);
		pthread_mutex_unlock(&run->lock);
		if (pa < 0 || pb < 0) {
			snprintf(obs, sizeof(obs), "%s never happened", pa < 0 ? a[0].text : a[2].text);
			return fail_obs(run, c, obs);
		}
		if (a[1].u == 0 ? pa < pb : pa > pb)
			return 0;
		snprintf(obs, sizeof(obs), "%s %s %s", a[0].text, a[1].u == 0 ? "after" : "before",
			 a[2].text);
		return fail_obs(run, c, obs);
	}
	case TDXSIM_CMD_X_NONE: {
		const struct scn_mark *from, *to = NULL;
		size_t end;
		u64 n = 0, first_seq = 0;

		if (need_history(run, c))
			return 1;
		pthread_mutex_lock(&run->lock);
		from = mark_find(run, a[2].text);
		if (strcmp(a[3].text, "now"))
			to = mark_find(run, a[3].text);
		end = to ? to->pos : run->nev;
		for (size_t i = from ? from->pos : end; i < end; i++) {
			if (ev_is(&run->evs[i], &a[0]) && !n++)
				first_seq = run->evs[i].seq;
		}
		pthread_mutex_unlock(&run->lock);
		if (!from || (strcmp(a[3].text, "now") && !to))
			return fail_obs(run, c, "a mark not reached yet");
		if (!n)
			return 0;
		snprintf(obs, sizeof(obs), "%llu call%s, the first #%llu", (unsigned long long)n,
			 n == 1 ? "" : "s", (unsigned long long)first_seq);
		return fail_obs(run, c, obs);
	}
	case TDXSIM_CMD_X_PROVENANCE: {
		struct kvm_page_provenance p;
		int pool = a[1].given ? kvm_page_pool_lookup(a[1].text) : KVM_POOL_NR;

		if (!run->sim)
			return fail_obs(run, c, "no VM");
		if (pool < 0)
			return report(run, c, TDXSIM_SCN_ERROR, "expected a pool name, got '%s'",
				      a[1].text);
		if (kvm_gpa_provenance(run->sim, kvm, a[0].u, (enum kvm_page_pool)pool, &p))
			return fail_obs(run, c, "no page of that pool ever served the GPA");
		snprintf(obs, sizeof(obs), "page %#llx from %s (%s), %s%s%s",
			 (unsigned long long)p.hpa, kvm_page_pool_name(p.pool), p.allocator,
			 kvm_page_state_name(p.state), p.freer ? " by " : "",
			 p.freer ? p.freer : "");
		if (a[2].given && (!p.freer || strcmp(p.freer, a[2].text)))
			return fail_obs(run, c, obs);
		if (a[3].given && strcmp(kvm_page_state_name(p.state), a[3].text))
			return fail_obs(run, c, obs);
		return 0;
	}
	case TDXSIM_CMD_X_INVARIANTS:
	case TDXSIM_CMD_X_INVARIANT: {
		struct kvm_check_report *rep;
		unsigned int n = 0;
		bool want_break;
		int nr = 0;

		if (!run->vm)
			return fail_obs(run, c, "no VM");
		if (run->torn_down && c->info->id == TDXSIM_CMD_X_INVARIANTS) {
			struct tdxsim_vm_summary s;

			/* The teardown ledger, and what the checks recorded before it. */
			tdxsim_vm_summary(run->vm, &s);
			if (!run->teardown_ret && !s.module_violations && !s.ledger_violations &&
			    (!s.pages_leaked || s.known_leak))
				return 0;
			snprintf(obs, sizeof(obs), "teardown %d, %llu page(s) leaked%s, %d module "
				 "violation(s), %d recorded host violation(s)", run->teardown_ret,
				 (unsigned long long)s.pages_leaked,
				 s.known_leak ? " (known: the VM was bugged)" : "",
				 s.module_violations, s.ledger_violations);
			return fail_obs(run, c, obs);
		}
		rep = run_check(run, &nr);
		if (!rep)
			return report(run, c, TDXSIM_SCN_ERROR, "expected memory, observed none");
		if (nr < 0) {
			free(rep);
			snprintf(obs, sizeof(obs), "the checker refused (%d)", nr);
			return fail_obs(run, c, obs);
		}
		if (c->info->id == TDXSIM_CMD_X_INVARIANTS) {
			r = 0;
			if (nr) {
				snprintf(obs, sizeof(obs), "%d violation(s)", nr);
				r = fail_obs(run, c, obs);
				print_report(run, rep);
			}
			free(rep);
			return r;
		}
		for (int inv = 0; inv < KVM_INV_NR; inv++) {
			if (inv_matches((enum kvm_check_inv)inv, a[0].text))
				n += rep->count[inv];
		}
		want_break = a[1].u == 0;
		r = 0;
		if ((n > 0) != want_break) {
			snprintf(obs, sizeof(obs), "%u violation(s) of it, %d in all%s", n, nr,
				 rep->skipped_agreement ? " (mirror/S-EPT agreement skipped: bugged)" : "");
			r = fail_obs(run, c, obs);
			print_report(run, rep);
		}
		free(rep);
		return r;
	}
	case TDXSIM_CMD_X_BUGGED:
	case TDXSIM_CMD_X_NOT_BUGGED: {
		bool bugged;
		struct tdxsim_vm_summary s;

		if (!run->vm)
			return fail_obs(run, c, "no VM");
		if (kvm) {
			bugged = kvm->vm_bugged;
		} else {
			tdxsim_vm_summary(run->vm, &s);
			bugged = s.vm_bugged;
		}
		if (c->info->id == TDXSIM_CMD_X_NOT_BUGGED)
			return bugged ? fail_obs(run, c, "bugged") : 0;
		if (!bugged)
			return fail_obs(run, c, "not bugged");
		if (!strcmp(a[0].text, "any"))
			return 0;
		if (!strcmp(a[0].text, "KVM_BUG_ON"))
			return tdxsim_kernel_events(run->sim, TDXSIM_KEV_KVM_BUG) ? 0 :
			       fail_obs(run, c, "bugged, but by no KVM_BUG_ON");
		{
			/* TDX_BUG_ON(LEAF): "SEAMCALL TDH_MEM_PAGE_DEMOTE failed: ..." */
			const struct tdxsim_leaf_info *li;
			char name[64], want[96], leaf[48];
			struct tdxsim_kernel_event ev;
			size_t len = strlen(a[0].text) - 12;

			snprintf(leaf, sizeof(leaf), "%.*s", (int)len, a[0].text + 11);
			li = tdxsim_leaf_info_find(leaf);
			snprintf(name, sizeof(name), "%s", li ? li->name : leaf);
			for (char *q = name; *q; q++)
				*q = *q == '.' ? '_' : *q;
			snprintf(want, sizeof(want), "SEAMCALL %s failed", name);
			for (unsigned int i = 0; !tdxsim_kernel_event_at(run->sim, i, &ev); i++) {
				if (ev.type == TDXSIM_KEV_TDX_BUG && strstr(ev.msg, want))
					return 0;
			}
			if (!tdxsim_kernel_last_event(run->sim, TDXSIM_KEV_TDX_BUG, &ev))
				snprintf(obs, sizeof(obs), "bugged by another: %s", ev.msg);
			else if (!tdxsim_kernel_last_event(run->sim, TDXSIM_KEV_KVM_BUG, &ev))
				snprintf(obs, sizeof(obs), "bugged by %s (%s:%d)", ev.msg, ev.file,
					 ev.line);
			else
				snprintf(obs, sizeof(obs), "bugged, by no recorded BUG_ON");
			return fail_obs(run, c, obs);
		}
	}
	default:
		return report(run, c, TDXSIM_SCN_ERROR, "expected an expectation, got `%s`",
			      c->info->name);
	}
}

/* ---- guest programs and threads ---- */

static int guest_add(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, u64 off)
{
	struct scn_guest *g;

	if (vcpu_ok(run, c, c->args[0].u))
		return -EINVAL;
	g = &run->guests[run->cur * TDXSIM_VM_MAX_VCPUS + c->args[0].u];
	g->vm = run->vm;
	for (size_t i = 0; i < c->body->nr; i++) {
		const struct tdxsim_scn_cmd *o = &c->body->cmds[i];
		const struct tdxsim_scn_val *a = o->args;
		struct tdxsim_guest_op op = { 0 };

		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 16;
			struct tdxsim_guest_op *ops = realloc(g->ops, cap * sizeof(*ops));
			const struct tdxsim_scn_cmd **src;

			if (ops)
				g->ops = ops;
			src = ops ? realloc(g->src, cap * sizeof(*src)) : NULL;
			if (!src)
				return report(run, o, TDXSIM_SCN_ERROR, "expected memory, observed none");
			g->src = src;
			g->cap = cap;
		}
		switch (o->info->id) {
		case TDXSIM_CMD_G_ACCESS:
			op.kind = TDXSIM_GUEST_ACCESS;
			op.gpa = a[0].u;
			op.write = a[1].given;
			break;
		case TDXSIM_CMD_G_ACCEPT:
			op.kind = TDXSIM_GUEST_ACCEPT;
			op.gpa = a[0].u;
			op.level = (int)a[1].u;
			op.size = a[1].u == PG_LEVEL_2M ? 2ULL << 20 : 4096;
			op.fallback = a[2].given;
			break;
		case TDXSIM_CMD_G_CONVERT:
			op.kind = TDXSIM_GUEST_CONVERT;
			op.gpa = a[0].u;
			op.to_private = a[1].u == 1;
			op.size = a[2].u;
			break;
		default:
			op.kind = TDXSIM_GUEST_SPIN;
			op.n = (unsigned long)a[0].u;
			break;
		}
		if (op.kind != TDXSIM_GUEST_SPIN)
			op.gpa += off;
		g->ops[g->n] = op;
		g->src[g->n++] = o;
	}
	return 0;
}

static void *guest_thread(void *arg)
{
	struct scn_guest *g = arg;

	tdxsim_kernel_set_current(g->run->sim);
	g->res.ret = tdxsim_vcpu_run_prog(g->vm, g->vcpu, g->ops, g->n, g->budget, &g->res);
	return NULL;
}

static int exec_cmd(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, u64 off);

static void *host_thread(void *arg)
{
	struct scn_thread *t = arg;

	tdxsim_kernel_set_current(t->run->sim);
	for (size_t i = 0; i < t->cmd->body->nr && !is_stopped(t->run); i++)
		exec_cmd(t->run, &t->cmd->body->cmds[i], t->off);
	return NULL;
}

static long gmem_waits(struct kvm *kvm);

/*
 * `host-fill`: take 4K pages until one lies in a 2M region whose kernel
 * PAMT refcount is 0 and is not its last page; the allocator serves from
 * the chunk it just opened, so KVM's next page lands there too.
 */
static int host_fill(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	while (run->nr_held < PTRS_PER_PMD) {
		u64 hpa = tdxsim_page_alloc(run->sim, TDX_PS_4K);
		u64 pfn = hpa >> PAGE_SHIFT;
		atomic_t *ref;

		if (!hpa)
			break;
		run->held[run->nr_held++] = hpa;
		ref = tdx_find_pamt_refcount(ALIGN_DOWN(pfn, PTRS_PER_PMD));
		if (pfn % PTRS_PER_PMD != PTRS_PER_PMD - 1 && ref && !atomic_read(ref))
			return 0;
	}
	return report(run, c, TDXSIM_SCN_ERROR, "expected a 2M region without a PAMT pair "
		      "within %u host pages, found none", run->nr_held);
}

/*
 * `gmem-hold`: filemap_invalidate_lock() over the range (the whole file
 * unless config gmem_lock=range), as vm_gmem_lock() takes it for an
 * operation on that range; do_run() lets go of it.
 */
static int gmem_hold(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	struct kvm *kvm = tdxsim_vm_kvm(run->vm);
	gfn_t start = c->args[0].u >> PAGE_SHIFT;

	if (run->gmem_held)
		return report(run, c, TDXSIM_SCN_ERROR, "expected a `run` to release the lock "
			      "held since the last `gmem-hold`, got another `gmem-hold`");
	if (run->cfg.gmem_lock_by_range)
		tdxsim_kvm_gmem_invalidate_lock(kvm, start, start + (c->args[1].u >> PAGE_SHIFT));
	else
		tdxsim_kvm_gmem_invalidate_lock(kvm, 0, ~0ULL);
	run->gmem_held = kvm;
	run->gmem_waits0 = gmem_waits(kvm);
	return 0;
}

static long gmem_waits(struct kvm *kvm)
{
	long n;

	pthread_mutex_lock(&kvm->gmem_inval_mutex);
	n = kvm->stat.gmem_fault_waits;
	pthread_mutex_unlock(&kvm->gmem_inval_mutex);
	return n;
}

/*
 * With the lock held, wait (at most 10 s) until @want more faults waited
 * for it, then release it.  0, or -ETIMEDOUT with the lock released all
 * the same so that the run can end.
 */
static int gmem_release(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, long want)
{
	struct kvm *kvm = run->gmem_held;
	struct timespec ts = { 0, 1000000 };
	long n = 0;
	int i;

	for (i = 0; i < 10000 && !is_stopped(run); i++) {
		n = gmem_waits(kvm) - run->gmem_waits0;
		if (n >= want)
			break;
		nanosleep(&ts, NULL);
	}
	tdxsim_kvm_gmem_invalidate_unlock(kvm);
	run->gmem_held = NULL;
	if (n >= want)
		return 0;
	return report(run, c, TDXSIM_SCN_FAIL, "expected %ld faults waiting for guest_memfd's "
		      "invalidate lock (release-at=), observed %ld after 10 s", want, n);
}

static int do_run(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c)
{
	unsigned long budget = c->args[0].given ? (unsigned long)c->args[0].u : run->budget;
	bool started[NR_GUESTS] = { 0 };
	int ret = 0;

	for (int i = 0; i < NR_GUESTS; i++) {
		struct scn_guest *g = &run->guests[i];

		if (!g->n)
			continue;
		g->run = run;
		g->vcpu = i % TDXSIM_VM_MAX_VCPUS;
		g->budget = budget;
		memset(&g->res, 0, sizeof(g->res));
		if (pthread_create(&g->tid, NULL, guest_thread, g)) {
			ret = -EAGAIN;
			break;
		}
		started[i] = true;
	}
	for (unsigned int i = 0; i < run->nr_threads && !ret; i++) {
		if (pthread_create(&run->threads[i].tid, NULL, host_thread, &run->threads[i])) {
			ret = -EAGAIN;
			run->nr_threads = i;
		}
	}
	if (run->gmem_held)	/* a failure is reported there; the programs still end */
		gmem_release(run, c, c->args[1].given ? (long)c->args[1].u : 1);
	for (unsigned int i = 0; i < run->nr_threads; i++)
		pthread_join(run->threads[i].tid, NULL);
	run->nr_threads = 0;
	for (int i = 0; i < NR_GUESTS; i++) {
		struct scn_guest *g = &run->guests[i];
		struct tdxsim_guest_result *d = &run->done[i];

		if (!started[i]) {
			g->n = 0;
			continue;
		}
		pthread_join(g->tid, NULL);
		d->exits += g->res.exits;
		d->ept_exits += g->res.ept_exits;
		d->accept_exits += g->res.accept_exits;
		d->entries += g->res.entries;
		d->steps += g->res.steps;
		d->ves += g->res.ves;
		d->entry_retries += g->res.entry_retries;
		if (g->res.budget_hit)
			logf_(run, "%s:%u: %s vCPU %d: the step budget (%lu) ran out after %zu of "
			      "%zu operations\n", run->scn->file, c->loc.line,
			      run->vms[i / TDXSIM_VM_MAX_VCPUS].name, g->vcpu, budget,
			      g->res.ops_done, g->n);
		if (g->res.ret && !ret) {
			ret = g->res.ret;
		}
		for (size_t k = 0; k < g->n; k++) {
			const struct tdxsim_scn_cmd *o = g->src[k];
			char sb[64], wb[64], t[256];

			if (!o->has_ret || o->ret_any)
				continue;
			if (k >= g->res.ops_done) {
				report(run, o, TDXSIM_SCN_FAIL, "expected %s => %s, observed it never "
				       "completed (run returned %s)", cmd_text(o, false, t, sizeof(t)),
				       o->ret.text, errno_str(g->res.ret, wb, sizeof(wb)));
				continue;
			}
			if (o->info->id == TDXSIM_CMD_G_CONVERT) {
				if ((s64)g->ops[k].status == o->ret.i)
					continue;
				report(run, o, TDXSIM_SCN_FAIL, "expected %s => %s, observed %s",
				       cmd_text(o, false, t, sizeof(t)), o->ret.text,
				       errno_str((int)(s64)g->ops[k].status, wb, sizeof(wb)));
				continue;
			}
			if (status_match(g->ops[k].status, o->ret.u, o->ret.text))
				continue;
			report(run, o, TDXSIM_SCN_FAIL, "expected %s => %s, observed %s",
			       cmd_text(o, false, t, sizeof(t)), o->ret.text,
			       tdxsim_status_name(g->ops[k].status, sb, sizeof(sb)));
		}
		g->n = 0;
	}
	return check_ret(run, c, ret);
}

static int do_repeat(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, u64 off)
{
	int r = 0;

	for (u64 pass = 0; pass < c->args[0].u && !is_stopped(run); pass++) {
		for (size_t i = 0; i < c->body->nr && !is_stopped(run); i++) {
			int e = exec_cmd(run, &c->body->cmds[i], off + pass * c->args[1].u);

			if (e && !r)
				r = e;
		}
	}
	return r;
}

static int exec_cmd(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *c, u64 off)
{
	const struct tdxsim_scn_cmd_info *ci = c->info;
	struct tdxsim_scn_val shifted[16];
	char texts[16][24];
	struct tdxsim_scn_cmd copy;

	if (is_stopped(run))
		return -ECANCELED;
	/* inside `repeat`: the same command with its GPAs moved */
	if (off && ci->nr_args && ci->nr_args <= 16) {
		copy = *c;
		memcpy(shifted, c->args, ci->nr_args * sizeof(*shifted));
		for (unsigned int i = 0; i < ci->nr_args; i++) {
			if (ci->args[i].type != TDXSIM_SCN_GPA || !shifted[i].text)
				continue;
			/* messages show the GPA this pass used */
			shifted[i].u += off;
			snprintf(texts[i], sizeof(texts[i]), "%#llx", (unsigned long long)shifted[i].u);
			shifted[i].text = texts[i];
		}
		copy.args = shifted;
		c = &copy;
	}
	switch (ci->id) {
	case TDXSIM_CMD_CONFIG:
		apply_config(run, c);
		return 0;
	case TDXSIM_CMD_DEFECT:
		run->cfg.defects |= (unsigned int)c->args[0].u;
		return 0;
	case TDXSIM_CMD_INJECT:
		if (run->vm)
			return add_rule(run, c);
		if (run->nr_pending_rules == sizeof(run->pending_rules) / sizeof(run->pending_rules[0]))
			return report(run, c, TDXSIM_SCN_ERROR,
				      "expected at most 64 rules before the VM, got more");
		run->pending_rules[run->nr_pending_rules++] = c;
		return 0;
	case TDXSIM_CMD_SKIP:
		pthread_mutex_lock(&run->lock);
		if (run->outcome == TDXSIM_SCN_PASS) {
			run->outcome = TDXSIM_SCN_SKIP;
			snprintf(run->msg, sizeof(run->msg), "%s", c->args[0].text);
		}
		__atomic_store_n(&run->stopped, true, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&run->lock);
		logf_(run, "%s:%u: skipped: %s\n", run->scn->file, c->loc.line, c->args[0].text);
		return -ECANCELED;
	case TDXSIM_CMD_VM:
		return make_vm(run, c);
	default:
		break;
	}
	if (ci->needs_vm && need_vm(run, c))
		return -EINVAL;
	if (run->torn_down && ci->group != TDXSIM_GRP_EXPECT && ci->id != TDXSIM_CMD_MARK &&
	    ci->id != TDXSIM_CMD_USE)
		return report(run, c, TDXSIM_SCN_ERROR,
			      "expected only expectations after `teardown`, got `%s`", ci->name);
	switch (ci->id) {
	case TDXSIM_CMD_MARK:
		return do_mark(run, c);
	case TDXSIM_CMD_USE: {
		int i = find_vm(run, c->args[0].text);

		if (i < 0)
			return report(run, c, TDXSIM_SCN_ERROR, "expected a VM created before, got '%s'",
				      c->args[0].text);
		switch_vm(run, (unsigned int)i);
		return 0;
	}
	case TDXSIM_CMD_SEAMCALL:
		if (!tdxsim_vm_td(run->vm))
			return report(run, c, TDXSIM_SCN_ERROR, "expected a TD, got none");
		return do_seamcall(run, c);
	case TDXSIM_CMD_GMEM_HOLD:
		return gmem_hold(run, c);
	case TDXSIM_CMD_HOST_FILL:
		return host_fill(run, c);
	case TDXSIM_CMD_CLEAR_FAULTS:
		run->faults_cleared += tdxsim_fault_fired_total(run->sim);
		tdxsim_fault_clear(run->sim);
		return 0;
	case TDXSIM_CMD_GUEST:
		return guest_add(run, c, off);
	case TDXSIM_CMD_THREAD:
		if (run->nr_threads == MAX_PENDING)
			return report(run, c, TDXSIM_SCN_ERROR,
				      "expected at most %d threads per `run`, got more", MAX_PENDING);
		run->threads[run->nr_threads++] = (struct scn_thread){ .run = run, .cmd = c,
								      .off = off };
		return 0;
	case TDXSIM_CMD_REPEAT:
		return do_repeat(run, c, off);
	case TDXSIM_CMD_RUN:
		return do_run(run, c);
	default:
		break;
	}
	if (ci->group == TDXSIM_GRP_EXPECT)
		return expect(run, c);
	return host_action(run, c);
}

/* ---- the public API ---- */

/* Does any expectation of @b (blocks included) read single calls? */
static bool needs_history(const struct tdxsim_scn_block *b)
{
	for (size_t i = 0; i < b->nr; i++) {
		const struct tdxsim_scn_cmd *c = &b->cmds[i];

		switch (c->info->id) {
		case TDXSIM_CMD_X_STATUS:
		case TDXSIM_CMD_X_ORDER:
		case TDXSIM_CMD_X_NONE:
			return true;
		case TDXSIM_CMD_X_CALLS:
			if (c->args[4].given)
				return true;
			break;
		default:
			break;
		}
		if (c->body && needs_history(c->body))
			return true;
	}
	return false;
}

struct tdxsim_scn_run *tdxsim_scn_run_create(const struct tdxsim_scenario *scn,
					     const struct tdxsim_scn_opts *opts)
{
	struct tdxsim_scn_run *run = calloc(1, sizeof(*run));

	if (!run)
		return NULL;
	run->scn = scn;
	if (opts)
		run->opts = *opts;
	run->history = run->opts.full_trace || needs_history(&scn->top);
	tdxsim_vm_config_init(&run->cfg);
	run->budget = 1000000;
	pthread_mutex_init(&run->lock, NULL);
	run->t0.tv_sec = 0;
	clock_gettime(CLOCK_MONOTONIC, &run->t0);
	return run;
}

int tdxsim_scn_run_exec(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *cmd)
{
	return exec_cmd(run, cmd, 0);
}

void tdxsim_scn_run_state(struct tdxsim_scn_run *run, u64 gpa, FILE *f)
{
	u64 seamcalls = 0, tdcalls = 0;

	if (!run->vm) {
		fprintf(f, "  no VM yet\n");
		return;
	}
	if (gpa != ~0ULL && kvm_alive(run)) {
		struct gpa_view v;
		char buf[256];

		view_gpa(run, gpa, &v);
		view_str(&v, buf, sizeof(buf));
		fprintf(f, "  %#llx: %s, %s\n", (unsigned long long)gpa, buf,
			kvm_mem_is_private(tdxsim_vm_kvm(run->vm), gpa >> PAGE_SHIFT) ?
			"private" : "shared");
	}
	pthread_mutex_lock(&run->lock);
	for (int l = 0; l < TDX_NR_LEAVES; l++) {
		seamcalls += run->counts[0][l];
		tdcalls += run->counts[1][l];
	}
	pthread_mutex_unlock(&run->lock);
	if (kvm_alive(run)) {
		struct kvm *kvm = tdxsim_vm_kvm(run->vm);

		fprintf(f, "  pages 4k %ld 2m %ld 1g %ld, split-cache %d, %s\n",
			kvm->stat.pages[0], kvm->stat.pages[1], kvm->stat.pages[2],
			tdxsim_vm_kvm_tdx(run->vm)->prealloc_split_cache.cnt,
			kvm->vm_bugged ? "BUGGED" : "not bugged");
	} else {
		fprintf(f, "  the VM is torn down (teardown returned %d)\n", run->teardown_ret);
	}
	fprintf(f, "  %llu SEAMCALLs, %llu TDCALLs, %llu faults fired\n",
		(unsigned long long)seamcalls, (unsigned long long)tdcalls,
		(unsigned long long)(run->faults_cleared + tdxsim_fault_fired_total(run->sim)));
}

void tdxsim_scn_run_finish(struct tdxsim_scn_run *run, struct tdxsim_scn_result *res)
{
	memset(res, 0, sizeof(*res));
	if (run->vm) {
		pthread_mutex_lock(&run->lock);
		for (int l = 0; l < TDX_NR_LEAVES; l++) {
			res->seamcalls += run->counts[0][l];
			res->tdcalls += run->counts[1][l];
		}
		pthread_mutex_unlock(&run->lock);
		res->faults_fired = run->faults_cleared + tdxsim_fault_fired_total(run->sim);
		if (run->opts.trace_path)
			tdxsim_trace_close(run->sim);
		tdxsim_trace_set_callback(run->sim, NULL, NULL);
		if (run->gmem_held)
			tdxsim_kvm_gmem_invalidate_unlock(run->gmem_held);
		host_fill_release(run);
		/* siblings first: the simulator is the first VM's */
		for (unsigned int i = run->nr_vms; i-- > 0;)
			tdxsim_vm_destroy(run->vms[i].vm);
		tdxsim_kernel_set_current(NULL);
	}
	for (int i = 0; i < NR_GUESTS; i++) {
		free(run->guests[i].ops);
		free(run->guests[i].src);
	}
	res->outcome = run->outcome;
	res->failed = run->failed;
	res->checked = run->checked;
	res->wall_s = now_s() - ((double)run->t0.tv_sec + (double)run->t0.tv_nsec / 1e9);
	snprintf(res->msg, sizeof(res->msg), "%s", run->msg);
	free(run->evs);
	for (unsigned int i = 0; i < run->nr_marks; i++)
		free(run->marks[i].counts);
	pthread_mutex_destroy(&run->lock);
	free(run);
}

void tdxsim_scenario_run(const struct tdxsim_scenario *scn, const struct tdxsim_scn_opts *opts,
			 struct tdxsim_scn_result *res)
{
	struct tdxsim_scn_run *run = tdxsim_scn_run_create(scn, opts);

	if (!run) {
		memset(res, 0, sizeof(*res));
		res->outcome = TDXSIM_SCN_ERROR;
		snprintf(res->msg, sizeof(res->msg), "%s: out of memory", scn->file);
		return;
	}
	for (size_t i = 0; i < scn->top.nr && !is_stopped(run); i++)
		exec_cmd(run, &scn->top.cmds[i], 0);
	/* guest blocks and threads left without a `run` would be silently dropped */
	if (!is_stopped(run)) {
		for (size_t i = 0; i < NR_GUESTS; i++) {
			if (run->guests[i].n || run->nr_threads) {
				report(run, NULL, TDXSIM_SCN_ERROR,
				       "expected `run` after the last guest or thread block, got the end "
				       "of the file");
				break;
			}
		}
	}
	tdxsim_scn_run_finish(run, res);
}
