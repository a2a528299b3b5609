// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SEAMCALL dispatcher (tdx_vmm_dispatcher): leaf and version decoding,
 * per-call context, release of every lock the leaf took, statistics; and the
 * simulator's life cycle.
 */
#include <stdio.h>

#include "tdxsim-internal.h"

/*
 * Handlers by leaf number.  Names, versions and operands are in the leaf
 * table (leaves.c); a leaf is implemented when it has both.
 */
static const leaf_fn handlers[TDX_NR_LEAVES] = {
	[TDH_VP_ENTER] = leaf_tdh_vp_enter,
	[TDH_MNG_ADDCX] = leaf_tdh_mng_addcx,
	[TDH_MEM_PAGE_ADD] = leaf_tdh_mem_page_add,
	[TDH_MEM_SEPT_ADD] = leaf_tdh_mem_sept_add,
	[TDH_MEM_PAGE_AUG] = leaf_tdh_mem_page_aug,
	[TDH_MEM_RANGE_BLOCK] = leaf_tdh_mem_range_block,
	[TDH_MNG_KEY_CONFIG] = leaf_tdh_mng_key_config,
	[TDH_MNG_CREATE] = leaf_tdh_mng_create,
	[TDH_VP_ADDCX] = leaf_tdh_vp_addcx,
	[TDH_VP_CREATE] = leaf_tdh_vp_create,
	[TDH_MEM_PAGE_DEMOTE] = leaf_tdh_mem_page_demote,
	[TDH_MR_FINALIZE] = leaf_tdh_mr_finalize,
	[TDH_VP_FLUSH] = leaf_tdh_vp_flush,
	[TDH_MNG_VPFLUSHDONE] = leaf_tdh_mng_vpflushdone,
	[TDH_MNG_KEY_FREEID] = leaf_tdh_mng_key_freeid,
	[TDH_PHYMEM_CACHE_WB] = leaf_tdh_phymem_cache_wb,
	[TDH_MNG_INIT] = leaf_tdh_mng_init,
	[TDH_VP_INIT] = leaf_tdh_vp_init,
	[TDH_MEM_PAGE_PROMOTE] = leaf_tdh_mem_page_promote,
	[TDH_PHYMEM_PAGE_RECLAIM] = leaf_tdh_phymem_page_reclaim,
	[TDH_MEM_PAGE_REMOVE] = leaf_tdh_mem_page_remove,
	[TDH_MEM_SEPT_REMOVE] = leaf_tdh_mem_sept_remove,
	[TDH_MEM_TRACK] = leaf_tdh_mem_track,
	[TDH_MEM_RANGE_UNBLOCK] = leaf_tdh_mem_range_unblock,
	[TDH_PHYMEM_PAGE_WBINVD] = leaf_tdh_phymem_page_wbinvd,
	[TDH_PHYMEM_PAMT_ADD] = leaf_tdh_phymem_pamt_add,
	[TDH_PHYMEM_PAMT_REMOVE] = leaf_tdh_phymem_pamt_remove,
};

int tdxsim_raise_interrupt(struct tdxsim *sim, unsigned int cpu)
{
	if (cpu >= sim->cfg.nr_cpus)
		return -EINVAL;
	__atomic_store_n(&sim->cpus[cpu].intr_pending, true, __ATOMIC_RELEASE);
	return 0;
}

bool cpu_interrupt_pending(struct seamcall_ctx *c)
{
	return __atomic_load_n(&c->sim->cpus[c->cpu].intr_pending, __ATOMIC_ACQUIRE);
}

void stats_count(struct leaf_stats *ls, u64 status)
{
	for (unsigned int i = 0; i < TDXSIM_STATS_MAX_STATUSES; i++) {
		u64 s = __atomic_load_n(&ls->st[i].status, __ATOMIC_ACQUIRE);

		/* Claim an empty slot; on a lost race @s is the winner's status. */
		if (s == TDXSIM_STAT_EMPTY &&
		    __atomic_compare_exchange_n(&ls->st[i].status, &s, status, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			s = status;
		if (s != status)
			continue;
		__atomic_fetch_add(&ls->st[i].count, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&ls->other, 1, __ATOMIC_RELAXED);
}

void ctx_init(struct seamcall_ctx *c, struct tdxsim *sim, struct tdx_module_args *args,
	      unsigned int leaf, unsigned int version)
{
	memset(c, 0, offsetof(struct seamcall_ctx, pl));
	c->fault_rule = -1;
	c->sim = sim;
	c->args = args;
	c->leaf = leaf;
	c->version = version;
	c->cpu = sim_thread_cpu(sim);
	c->seq = __atomic_add_fetch(&sim->seq, 1, __ATOMIC_RELAXED);
	c->hook = __atomic_load_n(&sim->hook, __ATOMIC_ACQUIRE);
	c->hook_arg = sim->hook_arg;
}

void tdxsim_set_hook(struct tdxsim *sim, tdxsim_hook_fn fn, void *arg)
{
	sim->hook_arg = arg;
	__atomic_store_n(&sim->hook, fn, __ATOMIC_RELEASE);
}

static const char *const hook_lock_names[] = {
	[TDXSIM_HOOK_LOCK_NONE] = "none",
	[TDXSIM_HOOK_LOCK_PAMT] = "pamt",
	[TDXSIM_HOOK_LOCK_OP_STATE] = "op_state",
	[TDXSIM_HOOK_LOCK_SEPT_TREE] = "sept_tree",
	[TDXSIM_HOOK_LOCK_SEPT_ENTRY] = "sept_entry",
	[TDXSIM_HOOK_LOCK_SEPT_ENTRY_GUEST] = "sept_entry_guest",
	[TDXSIM_HOOK_LOCK_EPOCH] = "epoch",
};

const char *tdxsim_hook_lock_name(enum tdxsim_hook_lock lock)
{
	if ((unsigned int)lock >= sizeof(hook_lock_names) / sizeof(hook_lock_names[0]))
		return "?";
	return hook_lock_names[lock];
}

const char *tdxsim_hook_point_name(enum tdxsim_hook_point point)
{
	switch (point) {
	case TDXSIM_HOOK_ENTRY:
		return "entry";
	case TDXSIM_HOOK_LOCK:
		return "lock";
	case TDXSIM_HOOK_EXIT:
		return "exit";
	}
	return "?";
}

static void hook_event_init(struct seamcall_ctx *c, struct tdxsim_hook_event *ev,
			    enum tdxsim_hook_point point)
{
	memset(ev, 0, sizeof(*ev));
	ev->point = point;
	ev->leaf = c->leaf;
	ev->tdcall = c->tdcall;
	ev->seq = c->seq;
	ev->cpu = c->cpu;
	ev->args = c->args;
	ev->level = -1;
}

/* ENTRY and EXIT (spec: include/tdxsim/hook.h). */
void ctx_hook_call(struct seamcall_ctx *c, enum tdxsim_hook_point point, u64 status)
{
	struct tdxsim_hook_event ev;

	hook_event_init(c, &ev, point);
	ev.status = status;
	c->hook(c->hook_arg, &ev);
}

void ctx_hook_lock(struct seamcall_ctx *c, enum tdxsim_hook_lock lock, u32 operand, u64 pa,
		   u64 gpa, int level, enum lock_type t, bool acquired)
{
	struct tdxsim_hook_event ev;

	hook_event_init(c, &ev, TDXSIM_HOOK_LOCK);
	ev.lock = lock;
	ev.operand = operand;
	ev.pa = pa;
	ev.gpa = gpa;
	ev.level = level;
	ev.exclusive = t == TDX_LOCK_EXCLUSIVE;
	ev.acquired = acquired;
	c->hook(c->hook_arg, &ev);
}

/*
 * The hook's EXIT point comes before the release: a hook that parks the
 * thread there keeps every lock the call holds (include/tdxsim/hook.h).
 * The host takes the pending interrupt as soon as the call returns.
 */
void ctx_finish(struct seamcall_ctx *c, u64 status)
{
	if (unlikely(c->hook))
		ctx_hook_call(c, TDXSIM_HOOK_EXIT, status);
	ctx_release(c);
	__atomic_store_n(&c->sim->cpus[c->cpu].intr_pending, false, __ATOMIC_RELEASE);
}

/*
 * Apply the first firing fault rule: returns true with *status set when the
 * call must fail without running the leaf; an interrupt rule only raises the
 * interrupt and lets the leaf run.
 */
bool fault_inject(struct seamcall_ctx *c, unsigned int rule_leaf, u64 *status)
{
	int id = fault_check(c->sim, rule_leaf, c->args);
	const struct tdxsim_fault_rule *r;

	if (id < 0)
		return false;
	r = &c->sim->faults[id].rule;
	c->fault_rule = id;
	if (r->action == TDXSIM_FAULT_INTERRUPT) {
		__atomic_store_n(&c->sim->cpus[c->cpu].intr_pending, true, __ATOMIC_RELEASE);
		return false;
	}
	*status = r->status;
	return true;
}

/* The call's event, preceded by the fault that fired for it, if any. */
void trace_call(struct seamcall_ctx *c, enum tdxsim_trace_type type,
		const struct tdx_module_args *in, u64 t0, u64 status)
{
	struct tdxsim *sim = c->sim;
	struct tdxsim_trace_event ev = {
		.seq = c->seq, .ts_ns = t0, .cpu = c->cpu, .type = type, .leaf = c->leaf,
		.status = status, .fault_rule = c->fault_rule, .in = *in, .out = *c->args,
	};

	ev.dur_ns = trace_now_ns(sim) - t0;
	if (c->fault_rule >= 0) {
		struct tdxsim_trace_event f = ev;
		const struct tdxsim_fault_rule *r = &sim->faults[c->fault_rule].rule;

		f.type = TDXSIM_EV_FAULT;
		f.dur_ns = 0;
		f.status = r->action == TDXSIM_FAULT_STATUS ? r->status : 0;
		f.out = *in;
		trace_emit(sim, &f);
	}
	trace_emit(sim, &ev);
	if (type == TDXSIM_EV_SEAMCALL && c->leaf == TDH_VP_ENTER && status == TDX_SUCCESS) {
		ev.type = TDXSIM_EV_TD_ENTER;
		ev.tdvpr = in->rcx;
		ev.ts_ns += ev.dur_ns;
		ev.dur_ns = 0;
		trace_emit(sim, &ev);
	}
}

u64 tdxsim_seamcall(struct tdxsim *sim, u64 rax, struct tdx_module_args *args)
{
	unsigned int leaf = rax & TDX_LEAF_MASK;
	unsigned int version = (rax >> TDX_VERSION_SHIFT) & TDX_VERSION_MASK;
	const struct tdxsim_leaf_info *info = tdxsim_leaf_info(leaf);
	struct tdx_module_args in;
	struct seamcall_ctx c;
	u64 status, t0 = 0;
	/* Decided once: a call that started untraced has no entry registers to show. */
	bool tracing = sim_tracing(sim);

	ctx_init(&c, sim, args, leaf, version);
	if (unlikely(c.hook))
		ctx_hook_call(&c, TDXSIM_HOOK_ENTRY, 0);
	if (unlikely(tracing)) {
		in = *args;
		t0 = trace_now_ns(sim);
	}
	/* Unknown leaf, unsupported version or reserved RAX bits. */
	if (rax >> 24 || !info || !handlers[leaf] || version > info->max_version)
		status = api_error_with_operand_id(TDX_OPERAND_INVALID, TDX_OPERAND_ID_RAX);
	else if (unlikely(sim_has_faults(sim)) && fault_inject(&c, leaf, &status))
		;	/* failed before the leaf ran: module state untouched */
	else
		status = handlers[leaf](&c);
	ctx_finish(&c, status);
	if (leaf < TDX_NR_LEAVES)	/* leaves beyond the table are not counted */
		stats_count(&sim->stats[leaf], status);
	if (unlikely(tracing))
		trace_call(&c, TDXSIM_EV_SEAMCALL, &in, t0, status);
	return status;
}

u64 tdxsim_seq(struct tdxsim *sim)
{
	return __atomic_load_n(&sim->seq, __ATOMIC_RELAXED);
}

void tdxsim_config_init(struct tdxsim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_base = SZ_1G;
	cfg->mem_size = SZ_1G;
	cfg->features0 = TDX_FEATURES0_DYNAMIC_PAMT |
			 TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY;
	cfg->nr_cpus = 4;
	cfg->seed = 1;
	cfg->max_pa_bits = 52;
	cfg->nr_hkid_bits = 6;
	cfg->nr_tdcs_pages = 6;
	cfg->nr_tdvpx_pages = 5;
	cfg->gpaw = 48;
	cfg->reset_quirk = false;
	cfg->max_tds = 64;
	cfg->nr_mktme_hkids = 0;
}

static bool config_valid(const struct tdxsim_config *cfg)
{
	u64 pa_limit;

	if (cfg->max_pa_bits < 36 || cfg->max_pa_bits > 52 || cfg->nr_hkid_bits < 1 ||
	    cfg->nr_hkid_bits > 15 || cfg->nr_hkid_bits >= cfg->max_pa_bits - 32)
		return false;
	/* At least one private KeyID: private_hkid_min <= private_hkid_max. */
	if (cfg->nr_mktme_hkids + 1 > (1U << cfg->nr_hkid_bits) - 1)
		return false;
	pa_limit = 1ULL << (cfg->max_pa_bits - cfg->nr_hkid_bits);
	if (!cfg->mem_base || cfg->mem_base & (SZ_1G - 1) || !cfg->mem_size ||
	    cfg->mem_size & (SZ_2M - 1) || cfg->mem_base + cfg->mem_size > pa_limit ||
	    cfg->mem_base + cfg->mem_size < cfg->mem_base)
		return false;
	if (!cfg->nr_cpus || cfg->nr_cpus > 1024 || (cfg->gpaw != 48 && cfg->gpaw != 52))
		return false;
	if (!cfg->nr_tdvpx_pages || cfg->nr_tdvpx_pages > TDXSIM_MAX_TDVPX_PAGES)
		return false;
	if (cfg->nr_tdcs_pages < 4 || cfg->nr_tdcs_pages > TDXSIM_MAX_TDCS_PAGES ||
	    !cfg->max_tds || cfg->max_tds > 0xFFFE)
		return false;
	return true;
}

/*
 * TDXSIM_SEED and TDXSIM_FAULTS let an unmodified binary run under fault
 * injection.  The library does not print, except here: a malformed
 * environment has no other way to reach the user.
 */
static int apply_environment(struct tdxsim *sim)
{
	const char *seed = getenv("TDXSIM_SEED"), *faults = getenv("TDXSIM_FAULTS");
	char err[256];
	char *end;

	if (seed && *seed) {
		errno = 0;
		/* strtoull alone takes blanks and a sign ("-1" is 2^64 - 1). */
		if (*seed >= '0' && *seed <= '9')
			sim->cfg.seed = strtoull(seed, &end, 0);
		if (*seed < '0' || *seed > '9' || errno || *end) {
			char shown[48];

			fault_quote_token(shown, sizeof(shown), seed);
			fprintf(stderr, "tdxsim: TDXSIM_SEED: bad token '%s': expected a number\n",
				shown);
			return -EINVAL;
		}
	}
	if (faults && tdxsim_fault_parse(sim, faults, err, sizeof(err)) < 0) {
		fprintf(stderr, "tdxsim: TDXSIM_FAULTS: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

struct tdxsim *tdxsim_create(const struct tdxsim_config *cfg)
{
	struct tdxsim *sim;

	if (!cfg || !config_valid(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		goto enomem;
	sim->cfg = *cfg;
	sim->hkid_shift = cfg->max_pa_bits - cfg->nr_hkid_bits;
	sim->hkid_mask = ((1ULL << cfg->nr_hkid_bits) - 1) << sim->hkid_shift;
	sim->private_hkid_min = cfg->nr_mktme_hkids + 1;
	pthread_mutex_init(&sim->td_lock, NULL);
	pthread_mutex_init(&sim->sept_lock, NULL);
	pthread_mutex_init(&sim->fault_lock, NULL);
	pthread_mutex_init(&sim->trace_lock, NULL);
	pthread_mutex_init(&sim->client_lock, NULL);
	TAILQ_INIT(&sim->sept_free);
	SLIST_INIT(&sim->sept_slabs);
	for (unsigned int l = 0; l < TDX_NR_LEAVES; l++) {
		for (unsigned int i = 0; i < TDXSIM_STATS_MAX_STATUSES; i++) {
			sim->stats[l].st[i].status = TDXSIM_STAT_EMPTY;
			sim->tdcall_stats[l].st[i].status = TDXSIM_STAT_EMPTY;
		}
	}
	sim->tds = calloc((size_t)cfg->max_tds + 1, sizeof(*sim->tds));
	sim->hkid_used = calloc(1ULL << cfg->nr_hkid_bits, 1);
	sim->cpus = calloc(cfg->nr_cpus, sizeof(*sim->cpus));
	if (!sim->tds || !sim->hkid_used || !sim->cpus)
		goto fail;
	if (sim_thread_init(sim)) {
		/* Out of pthread keys (PTHREAD_KEYS_MAX live simulators). */
		tdxsim_destroy(sim);
		errno = EAGAIN;
		return NULL;
	}
	if (mem_init(sim) || pamt_init(sim))
		goto fail;
	if (apply_environment(sim) || trace_apply_environment(sim)) {
		tdxsim_destroy(sim);
		errno = EINVAL;
		return NULL;
	}
	return sim;
fail:
	tdxsim_destroy(sim);
enomem:
	errno = ENOMEM;
	return NULL;
}

void tdxsim_destroy(struct tdxsim *sim)
{
	if (!sim)
		return;
	report_at_destroy(sim);
	sim_client_data_fini(sim);
	for (unsigned int id = 1; sim->tds && id <= sim->cfg.max_tds; id++) {
		if (sim->tds[id])
			td_free(sim, sim->tds[id]);
	}
	sept_slabs_free(sim);
	pamt_fini(sim);
	mem_fini(sim);
	free(sim->tds);
	free(sim->hkid_used);
	free(sim->cpus);
	pthread_mutex_destroy(&sim->td_lock);
	pthread_mutex_destroy(&sim->sept_lock);
	pthread_mutex_destroy(&sim->fault_lock);
	pthread_mutex_destroy(&sim->client_lock);
	sim_thread_fini(sim);
	trace_fini(sim);
	free(sim);
}

const struct tdxsim_config *tdxsim_get_config(const struct tdxsim *sim)
{
	return &sim->cfg;
}

static int stats_copy(const struct leaf_stats *ls, struct tdxsim_leaf_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->calls = __atomic_load_n(&ls->other, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < TDXSIM_STATS_MAX_STATUSES; i++) {
		u64 s = __atomic_load_n(&ls->st[i].status, __ATOMIC_ACQUIRE);
		u64 n;

		if (s == TDXSIM_STAT_EMPTY)
			break;
		n = __atomic_load_n(&ls->st[i].count, __ATOMIC_RELAXED);
		st->statuses[st->nr_statuses].status = s;
		st->statuses[st->nr_statuses].count = n;
		st->nr_statuses++;
		st->calls += n;
		if (s == TDX_SUCCESS)
			st->success = n;
	}
	return 0;
}

int tdxsim_stats_leaf(struct tdxsim *sim, unsigned int leaf, struct tdxsim_leaf_stats *st)
{
	if (leaf >= TDX_NR_LEAVES)
		return -EINVAL;
	return stats_copy(&sim->stats[leaf], st);
}

int tdxsim_stats_tdcall(struct tdxsim *sim, unsigned int leaf, struct tdxsim_leaf_stats *st)
{
	if (leaf >= TDX_NR_LEAVES)
		return -EINVAL;
	return stats_copy(&sim->tdcall_stats[leaf], st);
}

u64 tdxsim_stats_count(struct tdxsim *sim, unsigned int leaf, u64 status)
{
	struct tdxsim_leaf_stats st;

	if (tdxsim_stats_leaf(sim, leaf, &st))
		return 0;
	for (unsigned int i = 0; i < st.nr_statuses; i++) {
		if (st.statuses[i].status == status)
			return st.statuses[i].count;
	}
	return 0;
}

void tdxsim_stats_print(struct tdxsim *sim, FILE *f)
{
	char buf[64];

	fprintf(f, "%-26s %10s %10s  %s\n", "leaf", "calls", "success", "other statuses");
	for (unsigned int l = 0; l < TDX_NR_LEAVES; l++) {
		struct tdxsim_leaf_stats st;

		tdxsim_stats_leaf(sim, l, &st);
		if (!st.calls)
			continue;
		fprintf(f, "%-26s %10llu %10llu ", tdxsim_leaf_name(l) ? tdxsim_leaf_name(l) : "?",
			(unsigned long long)st.calls, (unsigned long long)st.success);
		for (unsigned int i = 0; i < st.nr_statuses; i++) {
			if (st.statuses[i].status == TDX_SUCCESS)
				continue;
			fprintf(f, " %s=%llu",
				tdxsim_status_name(st.statuses[i].status, buf, sizeof(buf)),
				(unsigned long long)st.statuses[i].count);
		}
		fputc('\n', f);
	}
	for (int i = 0; i < tdxsim_fault_nr_rules(sim); i++) {
		const struct tdxsim_fault_rule *r = &sim->faults[i].rule;

		fprintf(f, "fault rule %d (leaf %#x): %llu of %llu matching calls fired\n", i, r->leaf,
			(unsigned long long)tdxsim_fault_fired(sim, i),
			(unsigned long long)__atomic_load_n(&sim->faults[i].matches,
							    __ATOMIC_RELAXED));
	}
}
