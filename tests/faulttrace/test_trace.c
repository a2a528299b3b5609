// SPDX-License-Identifier: GPL-2.0-only
/*
 * Trace sinks (include/tdxsim/trace.h): every SEAMCALL/TDCALL, TD entry/exit
 * and fired fault is one event, with the call's sequence number and
 * registers, delivered in one order to the ring, the callback and the
 * text/JSON files; the files parse back into the same events and the JSON
 * one is a valid Chrome trace (one track per thread).  The flow is the
 * KVM huge-page walk of spec seamcall.md §8: AUG 2MB (§2.4), VP.ENTER
 * (§2.17), ACCEPT with its EPT-violation exit (§2.16), BLOCK (§2.5), TRACK +
 * kick (§2.6), DEMOTE (§2.8) after one injected BUSY.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tdxsim/fault.h>
#include <tdxsim/trace.h>

#include "harness.h"
#include "tdxsim-internal.h"

#define BUSY_SEPT	(TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT)
#define MAIN_THREAD_ID	100	/* distinct from the worker threads' 1 and 2 */
#define MAX_EVENTS	64

/* ---- a strict JSON validator (RFC 8259), enough to vouch for the file ---- */

struct json {
	const char *s;
	size_t pos;
	int depth;
	long trace_events;	/* elements of the top-level "traceEvents", -1: none */
};

static bool json_value(struct json *j);

static void json_ws(struct json *j)
{
	while (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' || j->s[j->pos] == '\n' ||
	       j->s[j->pos] == '\r')
		j->pos++;
}

static bool json_lit(struct json *j, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(j->s + j->pos, lit, n))
		return false;
	j->pos += n;
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* String at j->pos; its raw text (escapes kept) in @out if not NULL. */
static bool json_string(struct json *j, char *out, size_t outlen)
{
	size_t n = 0;

	if (j->s[j->pos] != '"')
		return false;
	j->pos++;
	for (;;) {
		unsigned char c = (unsigned char)j->s[j->pos];

		if (c == '"')
			break;
		if (c < 0x20)		/* includes the terminating NUL */
			return false;
		if (c == '\\') {
			char e = j->s[++j->pos];

			if (e == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!is_hex(j->s[j->pos + i]))
						return false;
				j->pos += 4;
			} else if (!e || !strchr("\"\\/bfnrt", e)) {
				return false;
			}
		}
		if (out && n + 1 < outlen)
			out[n++] = (char)c;
		j->pos++;
	}
	if (out)
		out[n] = '\0';
	j->pos++;
	return true;
}

static bool json_number(struct json *j)
{
	const char *s = j->s;

	if (s[j->pos] == '-')
		j->pos++;
	if (s[j->pos] == '0') {
		j->pos++;
	} else if (s[j->pos] >= '1' && s[j->pos] <= '9') {
		while (is_digit(s[j->pos]))
			j->pos++;
	} else {
		return false;
	}
	if (s[j->pos] == '.') {
		j->pos++;
		if (!is_digit(s[j->pos]))
			return false;
		while (is_digit(s[j->pos]))
			j->pos++;
	}
	if (s[j->pos] == 'e' || s[j->pos] == 'E') {
		j->pos++;
		if (s[j->pos] == '+' || s[j->pos] == '-')
			j->pos++;
		if (!is_digit(s[j->pos]))
			return false;
		while (is_digit(s[j->pos]))
			j->pos++;
	}
	return true;
}

static bool json_array(struct json *j, long *count)
{
	long n = 0;

	j->pos++;
	json_ws(j);
	if (j->s[j->pos] == ']') {
		j->pos++;
		*count = 0;
		return true;
	}
	for (;;) {
		if (!json_value(j))
			return false;
		n++;
		json_ws(j);
		if (j->s[j->pos] == ']')
			break;
		if (j->s[j->pos] != ',')
			return false;
		j->pos++;
	}
	j->pos++;
	*count = n;
	return true;
}

static bool json_object(struct json *j)
{
	j->pos++;
	json_ws(j);
	if (j->s[j->pos] == '}') {
		j->pos++;
		return true;
	}
	for (;;) {
		char key[32];
		bool events;

		json_ws(j);
		if (!json_string(j, key, sizeof(key)))
			return false;
		json_ws(j);
		if (j->s[j->pos] != ':')
			return false;
		j->pos++;
		json_ws(j);
		events = j->depth == 1 && !strcmp(key, "traceEvents") && j->s[j->pos] == '[';
		if (events) {
			j->depth++;
			if (!json_array(j, &j->trace_events))
				return false;
			j->depth--;
		} else if (!json_value(j)) {
			return false;
		}
		json_ws(j);
		if (j->s[j->pos] == '}')
			break;
		if (j->s[j->pos] != ',')
			return false;
		j->pos++;
	}
	j->pos++;
	return true;
}

static bool json_value(struct json *j)
{
	long dummy;
	bool ok;

	json_ws(j);
	if (j->depth > 64)
		return false;
	switch (j->s[j->pos]) {
	case '{':
		j->depth++;
		ok = json_object(j);
		j->depth--;
		return ok;
	case '[':
		j->depth++;
		ok = json_array(j, &dummy);
		j->depth--;
		return ok;
	case '"':
		return json_string(j, NULL, 0);
	case 't':
		return json_lit(j, "true");
	case 'f':
		return json_lit(j, "false");
	case 'n':
		return json_lit(j, "null");
	default:
		return json_number(j);
	}
}

/* Whole document valid; returns the traceEvents count or -1 (-2: invalid). */
static long json_validate(const char *s)
{
	struct json j = { .s = s, .trace_events = -1 };

	if (!json_value(&j))
		return -2;
	json_ws(&j);
	return s[j.pos] ? -2 : j.trace_events;
}

/* The validator must be able to say no, or its yes means nothing. */
static void test_json_validator(void **state)
{
	static const char *const bad[] = {
		"", "{", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{a:1}", "\"abc", "\"a\\x\"",
		"\"\\u12g4\"", "01", "1.", "-", "1e", "tru", "nul", "{\"a\":1}}", "[1 2]",
		"\"tab\there\"", "{\"traceEvents\":[{}]",
	};
	static const char *const good[] = {
		"{}", "[]", "0", "-0.5e+3", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"",
		"{\"a\":[true,false,null,{\"b\":[]}]}", " [ 1 , 2 ] ",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (json_validate(bad[i]) != -2)
			fail_msg("validator accepted '%s'", bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (json_validate(good[i]) != -1)
			fail_msg("validator rejected '%s'", good[i]);
	assert_int_equal(json_validate("{\"x\":{\"traceEvents\":[1]},\"traceEvents\":[1,{},[]]}"),
			 3);
}

/* ---- files ---- */

static void tmp_path(char *path, size_t len, const char *suffix)
{
	int fd;

	snprintf(path, len, "/tmp/tdxsim-trace-XXXXXX%s", suffix);
	fd = mkstemps(path, (int)strlen(suffix));
	assert_true(fd >= 0);
	close(fd);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Split @buf in place into lines; returns their number. */
static size_t split_lines(char *buf, char **lines, size_t max)
{
	size_t n = 0;

	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n');

		assert_true(n < max);
		lines[n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return n;
}

/* ---- expected events ---- */

struct want {
	enum tdxsim_trace_type type;
	u32 leaf;
	u64 seq, status, tdvpr;
	int rule;
	u32 exit_reason;
	bool regs;
	struct tdx_module_args in, out;
};

struct flow {
	struct fixture *fx;
	u64 gpa, hpa, sept, pair[2];
	int rule;
	unsigned int nr;
	struct want w[MAX_EVENTS];
	u64 demote_seq[2];
};

static struct want *want_add(struct flow *f, enum tdxsim_trace_type type, u32 leaf, u64 status)
{
	struct want *w = &f->w[f->nr++];

	assert_true(f->nr <= MAX_EVENTS);
	memset(w, 0, sizeof(*w));
	w->type = type;
	w->leaf = leaf;
	w->status = status;
	w->seq = tdxsim_seq(f->fx->sim);
	w->rule = -1;
	return w;
}

/* One SEAMCALL, with its event (and the TD entry VP.ENTER makes) expected. */
static u64 flow_seamcall(struct flow *f, u64 leaf, struct tdx_module_args a)
{
	struct tdx_module_args in = a;
	u64 st = tdxsim_seamcall(f->fx->sim, leaf, &a);
	struct want *w = want_add(f, TDXSIM_EV_SEAMCALL, (u32)leaf, st);

	w->regs = true;
	w->in = in;
	w->out = a;
	if (leaf == TDH_VP_ENTER && st == TDX_SUCCESS) {
		w = want_add(f, TDXSIM_EV_TD_ENTER, TDH_VP_ENTER, st);
		w->tdvpr = in.rcx;
	}
	return st;
}

static u64 flow_accept(struct flow *f, int level)
{
	struct tdx_module_args a = { .rcx = f->gpa | (u64)level }, in = a;
	u64 st = tdxsim_tdcall(f->fx->sim, f->fx->vcpu->tdvpr_pa, TDG_MEM_PAGE_ACCEPT, &a);
	struct want *w = want_add(f, TDXSIM_EV_TDCALL, TDG_MEM_PAGE_ACCEPT, st);

	w->regs = true;
	w->in = in;
	w->out = a;
	if (st == TDXSIM_TDCALL_TD_EXIT) {
		struct tdxsim_td_exit exit;

		tdxsim_vcpu_last_exit(f->fx->vcpu, &exit);
		w = want_add(f, TDXSIM_EV_TD_EXIT, 0, 0);
		w->tdvpr = tdxsim_vcpu_tdvpr_pa(f->fx->vcpu);
		w->exit_reason = exit.exit_reason;
	}
	return st;
}

static u64 flow_demote(struct flow *f, bool faulted)
{
	struct tdx_module_args a = {
		.rcx = f->gpa | TDX_PS_2M, .rdx = f->fx->td->tdr_pa, .r8 = f->sept,
		.r12 = f->pair[0], .r13 = f->pair[1],
	};
	unsigned int fault_idx = f->nr;
	u64 st;

	if (faulted)
		f->nr++;	/* the FAULT event comes first: filled in below */
	st = flow_seamcall(f, TDH_MEM_PAGE_DEMOTE, a);
	if (faulted) {
		struct want *call = &f->w[f->nr - 1], *w = &f->w[fault_idx];

		call->rule = f->rule;
		*w = *call;
		w->type = TDXSIM_EV_FAULT;
		w->out = w->in;
	}
	return st;
}

/* Pages and the rule, before any sink is on: these calls are not part of the flow. */
static void flow_prepare(struct fixture *fx, struct flow *f)
{
	memset(f, 0, sizeof(*f));
	f->fx = fx;
	f->gpa = GPA_2M(0);
	fx_map_sept(fx, f->gpa, TDX_PS_2M);
	f->hpa = tdxsim_page_alloc(fx->sim, TDX_PS_2M);
	f->sept = fx_alloc_4k(fx);
	f->pair[0] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	f->pair[1] = tdxsim_page_alloc(fx->sim, TDX_PS_4K);
	assert_true(f->hpa && f->pair[0] && f->pair[1]);
	f->rule = tdxsim_fault_parse(fx->sim, "demote:busy=sept:nth=1", NULL, 0) - 1;
	assert_int_equal(f->rule, 0);
}

static void flow_run(struct flow *f)
{
	struct fixture *fx = f->fx;
	struct tdx_module_args a;
	struct want *w;

	a = (struct tdx_module_args){
		.rcx = f->gpa | TDX_PS_2M, .rdx = fx->td->tdr_pa, .r8 = f->hpa,
	};
	assert_status(flow_seamcall(f, TDH_MEM_PAGE_AUG, a), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = tdxsim_vcpu_tdvpr_pa(fx->vcpu) };
	assert_status(flow_seamcall(f, TDH_VP_ENTER, a), TDX_SUCCESS);
	/* 4K accept of a PENDING 2MB leaf: EPT violation exit (spec §2.16, §7.7). */
	assert_status(flow_accept(f, TDX_PS_4K), TDXSIM_TDCALL_TD_EXIT);
	assert_status(flow_seamcall(f, TDH_VP_ENTER, a), TDX_SUCCESS);
	assert_status(flow_accept(f, TDX_PS_2M), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = f->gpa | TDX_PS_2M, .rdx = fx->td->tdr_pa };
	assert_status(flow_seamcall(f, TDH_MEM_RANGE_BLOCK, a), TDX_SUCCESS);
	a = (struct tdx_module_args){ .rcx = fx->td->tdr_pa };
	assert_status(flow_seamcall(f, TDH_MEM_TRACK, a), TDX_SUCCESS);
	/* The kick's TD exit carries the last call's sequence number. */
	tdxsim_td_kick_vcpus(fx->td);
	w = want_add(f, TDXSIM_EV_TD_EXIT, 0, 0);
	w->tdvpr = tdxsim_vcpu_tdvpr_pa(fx->vcpu);
	assert_status(flow_demote(f, true), BUSY_SEPT);
	f->demote_seq[0] = tdxsim_seq(fx->sim);
	assert_status(flow_demote(f, false), TDX_SUCCESS);
	f->demote_seq[1] = tdxsim_seq(fx->sim);
	tdxsim_fault_clear(fx->sim);
}

static void assert_regs_equal(const struct tdx_module_args *a, const struct tdx_module_args *b)
{
	assert_int_equal(a->rcx, b->rcx);
	assert_int_equal(a->rdx, b->rdx);
	assert_int_equal(a->r8, b->r8);
	assert_int_equal(a->r9, b->r9);
	assert_int_equal(a->r10, b->r10);
	assert_int_equal(a->r11, b->r11);
	assert_int_equal(a->r12, b->r12);
	assert_int_equal(a->r13, b->r13);
}

/* Every field a sink carries. */
static void assert_event_equal(const struct tdxsim_trace_event *a,
			       const struct tdxsim_trace_event *b)
{
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->ts_ns, b->ts_ns);
	assert_int_equal(a->dur_ns, b->dur_ns);
	assert_int_equal(a->thread, b->thread);
	assert_int_equal(a->cpu, b->cpu);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->leaf, b->leaf);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->fault_rule, b->fault_rule);
	assert_int_equal(a->tdvpr, b->tdvpr);
	assert_int_equal(a->exit_reason, b->exit_reason);
	assert_regs_equal(&a->in, &b->in);
	assert_regs_equal(&a->out, &b->out);
}

static bool is_call(enum tdxsim_trace_type t)
{
	return t == TDXSIM_EV_SEAMCALL || t == TDXSIM_EV_TDCALL;
}

/* The ring holds exactly the flow's events, in order. */
static void assert_ring_is_flow(struct tdxsim *sim, const struct flow *f)
{
	u64 last_call_seq = 0, last_ts = 0;

	assert_int_equal(tdxsim_trace_ring_count(sim), f->nr);
	for (unsigned int i = 0; i < f->nr; i++) {
		const struct want *w = &f->w[i];
		struct tdxsim_trace_event ev;

		assert_int_equal(tdxsim_trace_ring_get(sim, i, &ev), 0);
		if (ev.type != w->type || ev.leaf != w->leaf || ev.seq != w->seq)
			fail_msg("event %u: %s leaf %u seq %llu, expected %s leaf %u seq %llu", i,
				 tdxsim_trace_type_name(ev.type), ev.leaf,
				 (unsigned long long)ev.seq, tdxsim_trace_type_name(w->type),
				 w->leaf, (unsigned long long)w->seq);
		assert_status(ev.status, w->status);
		assert_int_equal(ev.fault_rule, w->rule);
		assert_int_equal(ev.tdvpr, w->tdvpr);
		assert_int_equal(ev.exit_reason, w->exit_reason);
		assert_int_equal(ev.thread, tdxsim_thread_id(sim));
		if (w->regs) {
			assert_regs_equal(&ev.in, &w->in);
			assert_regs_equal(&ev.out, &w->out);
		}
		if (is_call(ev.type)) {
			assert_true(ev.seq > last_call_seq);
			last_call_seq = ev.seq;
		} else {
			assert_int_equal(ev.dur_ns, 0);
		}
		assert_true(ev.ts_ns >= last_ts);
		last_ts = ev.ts_ns;
	}
	assert_int_equal(tdxsim_trace_ring_get(sim, f->nr, &(struct tdxsim_trace_event){ 0 }),
			 -ENOENT);
}

/* ---- ring ---- */

static void test_ring_flow(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_trace_event ev, f1;
	struct flow f;
	u64 tdvpr = tdxsim_vcpu_tdvpr_pa(fx->vcpu);

	flow_prepare(fx, &f);
	assert_int_equal(tdxsim_trace_ring(fx->sim, 256), 0);
	assert_int_equal(tdxsim_trace_ring_count(fx->sim), 0);
	flow_run(&f);
	assert_ring_is_flow(fx->sim, &f);

	/* The flow's shape, spelled out (the expectations above come from the calls). */
	assert_int_equal(f.nr, 14);
	assert_int_equal(f.w[0].leaf, TDH_MEM_PAGE_AUG);
	assert_int_equal(f.w[2].type, TDXSIM_EV_TD_ENTER);
	assert_int_equal(f.w[4].type, TDXSIM_EV_TD_EXIT);
	assert_int_equal(f.w[4].exit_reason, EXIT_REASON_EPT_VIOLATION);
	assert_int_equal(f.w[4].seq, f.w[3].seq);
	assert_int_equal(f.w[10].type, TDXSIM_EV_TD_EXIT);
	assert_int_equal(f.w[10].seq, f.w[9].seq);		/* after TRACK */
	assert_int_equal(f.w[11].type, TDXSIM_EV_FAULT);

	/* "The 1st DEMOTE returned BUSY", the 2nd succeeded. */
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_SEAMCALL, TDH_MEM_PAGE_DEMOTE, 1,
					   &ev), 0);
	assert_status(ev.status, BUSY_SEPT);
	assert_int_equal(ev.seq, f.demote_seq[0]);
	assert_int_equal(ev.fault_rule, f.rule);
	assert_int_equal(ev.in.rcx, f.gpa | TDX_PS_2M);
	assert_int_equal(ev.in.rdx, fx->td->tdr_pa);
	assert_int_equal(ev.in.r8, f.sept);
	assert_int_equal(ev.in.r12, f.pair[0]);
	assert_int_equal(ev.in.r13, f.pair[1]);
	assert_regs_equal(&ev.out, &ev.in);	/* failed before the leaf ran */
	/* The FAULT precedes it with the same seq, the rule and the injected status. */
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_FAULT, TDH_MEM_PAGE_DEMOTE, 1, &f1),
			 0);
	assert_int_equal(f1.seq, ev.seq);
	assert_int_equal(f1.fault_rule, f.rule);
	assert_status(f1.status, BUSY_SEPT);
	assert_int_equal(f1.in.rcx, f.gpa | TDX_PS_2M);
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_FAULT, TDH_MEM_PAGE_DEMOTE, 2, &f1),
			 -ENOENT);
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_SEAMCALL, TDH_MEM_PAGE_DEMOTE, 2,
					   &ev), 0);
	assert_status(ev.status, TDX_SUCCESS);
	assert_int_equal(ev.seq, f.demote_seq[1]);
	assert_int_equal(ev.fault_rule, -1);
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_SEAMCALL, TDH_MEM_PAGE_DEMOTE, 3,
					   &ev), -ENOENT);
	/* Entry and exits of the one vCPU. */
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_TD_ENTER, TDH_VP_ENTER, 2, &ev), 0);
	assert_int_equal(ev.tdvpr, tdvpr);
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_TD_EXIT, 0, 1, &ev), 0);
	assert_int_equal(ev.exit_reason, EXIT_REASON_EPT_VIOLATION);
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_TD_EXIT, 0, 2, &ev), 0);
	assert_int_equal(ev.exit_reason, 0);
	assert_int_equal(ev.tdvpr, tdvpr);
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_TDCALL, TDG_MEM_PAGE_ACCEPT, 1, &ev),
			 0);
	assert_int_equal(ev.status, TDXSIM_TDCALL_TD_EXIT);
	assert_int_equal(ev.in.rcx, f.gpa | TDX_PS_4K);
}

/* A full ring keeps the newest events, oldest first. */
static void test_ring_overflow(void **state)
{
	struct fixture *fx = *state;
	struct tdxsim_trace_event ev;
	u64 seq[10];

	assert_int_equal(tdxsim_trace_ring(fx->sim, 4), 0);
	for (int i = 0; i < 10; i++) {
		struct tdx_module_args a = { .rcx = fx->td->tdr_pa };

		assert_status(tdxsim_seamcall(fx->sim, TDH_MEM_TRACK, &a), TDX_SUCCESS);
		seq[i] = tdxsim_seq(fx->sim);
	}
	assert_int_equal(tdxsim_trace_ring_count(fx->sim), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(tdxsim_trace_ring_get(fx->sim, (size_t)i, &ev), 0);
		assert_int_equal(ev.seq, seq[6 + i]);
		assert_int_equal(ev.leaf, TDH_MEM_TRACK);
	}
	assert_int_equal(tdxsim_trace_ring_get(fx->sim, 4, &ev), -ENOENT);
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_SEAMCALL, TDH_MEM_TRACK, 1, &ev), 0);
	assert_int_equal(ev.seq, seq[6]);
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_SEAMCALL, TDH_MEM_TRACK, 5, &ev),
			 -ENOENT);
	/* A new capacity starts empty. */
	assert_int_equal(tdxsim_trace_ring(fx->sim, 8), 0);
	assert_int_equal(tdxsim_trace_ring_count(fx->sim), 0);
}

/* ---- callback ---- */

struct collected {
	unsigned int n;
	struct tdxsim_trace_event ev[MAX_EVENTS];
};

static void collect(void *arg, const struct tdxsim_trace_event *ev)
{
	struct collected *c = arg;

	if (c->n < MAX_EVENTS)
		c->ev[c->n] = *ev;
	c->n++;
}

static void test_callback_matches_ring(void **state)
{
	struct fixture *fx = *state;
	struct collected *c = calloc(1, sizeof(*c));
	struct flow f;

	assert_non_null(c);
	flow_prepare(fx, &f);
	assert_int_equal(tdxsim_trace_ring(fx->sim, 256), 0);
	assert_int_equal(tdxsim_trace_set_callback(fx->sim, collect, c), 0);
	flow_run(&f);
	/* Off before @c goes: the fixture teardown makes more calls. */
	assert_int_equal(tdxsim_trace_set_callback(fx->sim, NULL, NULL), 0);
	assert_ring_is_flow(fx->sim, &f);
	assert_int_equal(c->n, f.nr);
	for (unsigned int i = 0; i < c->n; i++) {
		struct tdxsim_trace_event ev;

		assert_int_equal(tdxsim_trace_ring_get(fx->sim, i, &ev), 0);
		assert_event_equal(&c->ev[i], &ev);
	}
	free(c);
}

/* ---- files ---- */

/* The flow into a @fmt file next to the ring; returns the file's contents. */
static char *flow_to_file(struct fixture *fx, struct flow *f, enum tdxsim_trace_format fmt,
			  const char *path)
{
	flow_prepare(fx, f);
	assert_int_equal(tdxsim_trace_ring(fx->sim, 256), 0);
	assert_int_equal(tdxsim_trace_open(fx->sim, path, fmt), 0);
	flow_run(f);
	assert_int_equal(tdxsim_trace_close(fx->sim), 0);
	assert_ring_is_flow(fx->sim, f);
	return slurp(path);
}

static void test_text_file_roundtrip(void **state)
{
	struct fixture *fx = *state;
	char path[64], *buf, *lines[MAX_EVENTS + 1];
	struct flow f;
	size_t n;

	tmp_path(path, sizeof(path), ".txt");
	buf = flow_to_file(fx, &f, TDXSIM_TRACE_TEXT, path);
	n = split_lines(buf, lines, MAX_EVENTS + 1);
	assert_int_equal(n, f.nr);
	for (size_t i = 0; i < n; i++) {
		struct tdxsim_trace_event ev, parsed;

		assert_int_equal(tdxsim_trace_ring_get(fx->sim, i, &ev), 0);
		if (tdxsim_trace_parse_line(lines[i], &parsed))
			fail_msg("line %zu does not parse: %s", i, lines[i]);
		assert_event_equal(&parsed, &ev);
	}
	/* The injected status by name, on the FAULT line and its call's line. */
	assert_non_null(strstr(lines[11], ": fault: "));
	assert_non_null(strstr(lines[11], "status=TDX_OPERAND_BUSY|SEPT"));
	assert_non_null(strstr(lines[12], "name=TDH.MEM.PAGE.DEMOTE"));
	assert_non_null(strstr(lines[12], "status=TDX_OPERAND_BUSY|SEPT"));
	free(buf);
	unlink(path);
}

/* Event lines of our JSON file: between the header line and the "]}" trailer. */
static size_t json_event_lines(char *buf, char **lines, size_t max)
{
	size_t n = split_lines(buf, lines, max);

	assert_true(n >= 2);
	assert_non_null(strstr(lines[0], "\"traceEvents\":["));
	assert_string_equal(lines[n - 1], "]}");
	return n - 2;
}

/* Chrome trace-event shape of one line: complete events for calls, instants else. */
static void assert_chrome_event(const char *line, const struct tdxsim_trace_event *ev)
{
	char tid[32];

	snprintf(tid, sizeof(tid), "\"tid\":%u,", ev->thread);
	assert_non_null(strstr(line, tid));
	assert_non_null(strstr(line, "\"pid\":1,"));
	assert_non_null(strstr(line, "\"ts\":"));
	if (is_call(ev->type)) {
		assert_non_null(strstr(line, "\"ph\":\"X\""));
		assert_non_null(strstr(line, "\"dur\":"));
	} else {
		assert_non_null(strstr(line, "\"ph\":\"i\""));
		assert_null(strstr(line, "\"dur\":"));
	}
}

static void test_json_file_roundtrip(void **state)
{
	struct fixture *fx = *state;
	char path[64], *buf, *lines[MAX_EVENTS + 3];
	struct flow f;
	size_t n;

	tmp_path(path, sizeof(path), ".json");
	buf = flow_to_file(fx, &f, TDXSIM_TRACE_JSON, path);
	assert_int_equal(json_validate(buf), f.nr);
	n = json_event_lines(buf, lines, MAX_EVENTS + 3);
	assert_int_equal(n, f.nr);
	for (size_t i = 0; i < n; i++) {
		struct tdxsim_trace_event ev, parsed;
		const char *line = lines[i + 1];

		assert_int_equal(tdxsim_trace_ring_get(fx->sim, i, &ev), 0);
		if (tdxsim_trace_parse_line(line, &parsed))
			fail_msg("line %zu does not parse: %s", i, line);
		assert_event_equal(&parsed, &ev);
		assert_chrome_event(line, &ev);
	}
	assert_non_null(strstr(lines[12], "\"status\":\"TDX_OPERAND_BUSY|SEPT\""));
	free(buf);
	unlink(path);
}

/* TDXSIM_TRACE at create time: every call from the first on, completed by destroy. */
static void test_env_trace_file(void **state)
{
	char path[64], *buf, **lines;
	struct fixture *fx;
	struct tdx_module_args a;
	u64 track_seq, call_seq = 0;
	void *st = NULL;
	size_t n;
	long count;
	int ret;
	bool seen_track = false, seen_create = false;

	(void)state;
	tmp_path(path, sizeof(path), ".json");
	setenv("TDXSIM_TRACE", path, 1);
	ret = fx_setup_runnable(&st);
	unsetenv("TDXSIM_TRACE");
	assert_int_equal(ret, 0);
	fx = st;
	a = (struct tdx_module_args){ .rcx = fx->td->tdr_pa };
	assert_status(tdxsim_seamcall(fx->sim, TDH_MEM_TRACK, &a), TDX_SUCCESS);
	track_seq = tdxsim_seq(fx->sim);
	/* Not complete before destroy. */
	buf = slurp(path);
	assert_int_equal(json_validate(buf), -2);
	free(buf);
	assert_int_equal(fx_teardown(&st), 0);

	buf = slurp(path);
	lines = calloc(4096, sizeof(*lines));
	assert_non_null(lines);
	count = json_validate(buf);
	n = json_event_lines(buf, lines, 4096);
	assert_int_equal(count, n);
	for (size_t i = 0; i < n; i++) {
		struct tdxsim_trace_event ev;

		assert_int_equal(tdxsim_trace_parse_line(lines[i + 1], &ev), 0);
		if (ev.type == TDXSIM_EV_SEAMCALL && ev.leaf == TDH_MNG_CREATE)
			seen_create = true;
		if (!is_call(ev.type))
			continue;
		/* Every call is an event: sequence numbers without a gap. */
		assert_int_equal(ev.seq, ++call_seq);
		if (ev.seq == track_seq) {
			assert_int_equal(ev.leaf, TDH_MEM_TRACK);
			seen_track = true;
		}
	}
	assert_true(seen_track);
	assert_true(seen_create);
	assert_true(call_seq > track_seq);	/* teardown's calls too */
	free(lines);
	free(buf);
	unlink(path);
}

/* ---- threads ---- */

struct worker {
	struct tdxsim *sim;
	u64 tdr;
	unsigned int id, calls;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;

	tdxsim_thread_set_id(w->sim, w->id);
	for (unsigned int i = 0; i < w->calls; i++) {
		struct tdx_module_args a = { .rcx = w->tdr };

		/* Concurrent TRACKs may collide (BUSY): the status does not matter here. */
		tdxsim_seamcall(w->sim, TDH_MEM_TRACK, &a);
	}
	return NULL;
}

/* Threads 1 and 2 calling concurrently: each event carries its thread, one JSON track each. */
static void test_two_threads(void **state)
{
	struct fixture *fx = *state;
	struct worker w[2] = {
		{ .sim = fx->sim, .tdr = fx->td->tdr_pa, .id = 1, .calls = 40 },
		{ .sim = fx->sim, .tdr = fx->td->tdr_pa, .id = 2, .calls = 25 },
	};
	char path[64], *buf, *lines[80];
	unsigned int per[3] = { 0 }, json_per[3] = { 0 };
	u64 last[3] = { 0 };
	pthread_t th[2];
	size_t n;

	/* The main thread gets an id of its own, so workers 1 and 2 are unambiguous. */
	assert_int_equal(tdxsim_thread_set_id(fx->sim, MAIN_THREAD_ID), 0);
	tmp_path(path, sizeof(path), ".json");
	assert_int_equal(tdxsim_trace_ring(fx->sim, 256), 0);
	assert_int_equal(tdxsim_trace_open(fx->sim, path, TDXSIM_TRACE_JSON), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker_fn, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(tdxsim_trace_close(fx->sim), 0);

	assert_int_equal(tdxsim_trace_ring_count(fx->sim), 65);
	for (size_t i = 0; i < 65; i++) {
		struct tdxsim_trace_event ev;

		assert_int_equal(tdxsim_trace_ring_get(fx->sim, i, &ev), 0);
		assert_int_equal(ev.type, TDXSIM_EV_SEAMCALL);
		assert_int_equal(ev.leaf, TDH_MEM_TRACK);
		assert_in_range(ev.thread, 1, 2);
		/* A thread's own calls are numbered in its program order. */
		assert_true(ev.seq > last[ev.thread]);
		last[ev.thread] = ev.seq;
		per[ev.thread]++;
	}
	assert_int_equal(per[1], 40);
	assert_int_equal(per[2], 25);

	buf = slurp(path);
	assert_int_equal(json_validate(buf), 65);
	n = json_event_lines(buf, lines, 80);
	assert_int_equal(n, 65);
	for (size_t i = 0; i < n; i++) {
		struct tdxsim_trace_event ev;

		assert_int_equal(tdxsim_trace_parse_line(lines[i + 1], &ev), 0);
		assert_in_range(ev.thread, 1, 2);
		assert_chrome_event(lines[i + 1], &ev);
		json_per[ev.thread]++;
	}
	assert_int_equal(json_per[1], 40);
	assert_int_equal(json_per[2], 25);
	free(buf);
	unlink(path);
}

static void track_once(struct fixture *fx)
{
	struct tdx_module_args a = { .rcx = fx->td->tdr_pa };

	assert_status(tdxsim_seamcall(fx->sim, TDH_MEM_TRACK, &a), TDX_SUCCESS);
}

/* ---- a sink turned on while a call is in flight ---- */

struct parked {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool parked, release;
	struct tdxsim *sim;
	u64 tdr, status;
};

/* Hold the worker at the exit of its TRACK (the scheduling hook) until released. */
static void park_hook(void *arg, const struct tdxsim_hook_event *ev)
{
	struct parked *p = arg;

	if (ev->point != TDXSIM_HOOK_EXIT || ev->leaf != TDH_MEM_TRACK ||
	    tdxsim_thread_id(p->sim) != 1)
		return;
	pthread_mutex_lock(&p->m);
	p->parked = true;
	pthread_cond_broadcast(&p->cv);
	while (!p->release)
		pthread_cond_wait(&p->cv, &p->m);
	pthread_mutex_unlock(&p->m);
}

static void *parked_worker(void *arg)
{
	struct parked *p = arg;
	struct tdx_module_args a = { .rcx = p->tdr };

	tdxsim_thread_set_id(p->sim, 1);
	p->status = tdxsim_seamcall(p->sim, TDH_MEM_TRACK, &a);
	return NULL;
}

/*
 * A call that started with no sink on is not traced even if a sink comes on
 * before it returns: its entry registers and start time were never taken.
 */
static void test_sink_on_mid_call(void **state)
{
	struct fixture *fx = *state;
	struct parked p = { .sim = fx->sim, .tdr = fx->td->tdr_pa };
	struct tdxsim_trace_event ev;
	pthread_t th;

	assert_int_equal(tdxsim_thread_set_id(fx->sim, MAIN_THREAD_ID), 0);
	pthread_mutex_init(&p.m, NULL);
	pthread_cond_init(&p.cv, NULL);
	tdxsim_set_hook(fx->sim, park_hook, &p);
	assert_int_equal(pthread_create(&th, NULL, parked_worker, &p), 0);
	pthread_mutex_lock(&p.m);
	while (!p.parked)
		pthread_cond_wait(&p.cv, &p.m);
	pthread_mutex_unlock(&p.m);
	assert_int_equal(tdxsim_trace_ring(fx->sim, 16), 0);
	pthread_mutex_lock(&p.m);
	p.release = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.m);
	assert_int_equal(pthread_join(th, NULL), 0);
	tdxsim_set_hook(fx->sim, NULL, NULL);
	pthread_mutex_destroy(&p.m);
	pthread_cond_destroy(&p.cv);
	assert_status(p.status, TDX_SUCCESS);
	assert_int_equal(tdxsim_trace_ring_count(fx->sim), 0);
	/* The next call is traced whole. */
	track_once(fx);
	assert_int_equal(tdxsim_trace_ring_count(fx->sim), 1);
	assert_int_equal(tdxsim_trace_ring_get(fx->sim, 0, &ev), 0);
	assert_int_equal(ev.in.rcx, fx->td->tdr_pa);
	assert_int_equal(ev.seq, tdxsim_seq(fx->sim));
}

/* ---- tracing off, formatters ---- */

static unsigned int cb_calls;

static void count_cb(void *arg, const struct tdxsim_trace_event *ev)
{
	(void)arg;
	(void)ev;
	cb_calls++;
}


static void test_tracing_off(void **state)
{
	struct fixture *fx = *state;
	char path[64], *buf;

	/* Never on: no events anywhere. */
	assert_false(fx->sim->trace_on);
	track_once(fx);
	assert_int_equal(tdxsim_trace_ring_count(fx->sim), 0);
	assert_int_equal(tdxsim_trace_find(fx->sim, TDXSIM_EV_SEAMCALL, TDH_MEM_TRACK, 1,
					   &(struct tdxsim_trace_event){ 0 }), -ENOENT);

	/* Each sink, on then off again. */
	cb_calls = 0;
	tdxsim_trace_set_callback(fx->sim, count_cb, NULL);
	track_once(fx);
	assert_int_equal(cb_calls, 1);
	tdxsim_trace_set_callback(fx->sim, NULL, NULL);
	track_once(fx);
	assert_int_equal(cb_calls, 1);

	assert_int_equal(tdxsim_trace_ring(fx->sim, 8), 0);
	track_once(fx);
	assert_int_equal(tdxsim_trace_ring_count(fx->sim), 1);
	assert_int_equal(tdxsim_trace_ring(fx->sim, 0), 0);
	track_once(fx);
	assert_int_equal(tdxsim_trace_ring_count(fx->sim), 0);

	tmp_path(path, sizeof(path), ".txt");
	assert_int_equal(tdxsim_trace_open(fx->sim, path, TDXSIM_TRACE_TEXT), 0);
	track_once(fx);
	assert_int_equal(tdxsim_trace_close(fx->sim), 0);
	track_once(fx);
	buf = slurp(path);
	/* One line: the call made while the file was open. */
	assert_non_null(strstr(buf, "name=TDH.MEM.TRACK"));
	assert_int_equal(strchr(buf, '\n')[1], '\0');
	free(buf);
	unlink(path);
	assert_false(fx->sim->trace_on);
	assert_int_equal(cb_calls, 1);
}

static void test_formatters(void **state)
{
	struct tdxsim_trace_event ev = {
		.seq = 77, .ts_ns = 1234567891ULL, .dur_ns = 4321, .thread = 3, .cpu = 2,
		.type = TDXSIM_EV_SEAMCALL, .leaf = TDH_MEM_PAGE_DEMOTE, .status = BUSY_SEPT,
		.fault_rule = 5,
		.in = { .rcx = GPA_2M(3) | TDX_PS_2M, .rdx = 0x40001000, .r8 = ~0ULL, .r13 = 1 },
		.out = { .rcx = 0x8000000000000000ULL, .r12 = 0x42 },
	}, parsed;
	const char *line;
	char buf[1024];

	(void)state;
	line = tdxsim_trace_format_text(&ev, buf, sizeof(buf));
	assert_ptr_equal(line, buf);
	assert_non_null(strstr(buf, "TDX_OPERAND_BUSY|SEPT"));
	assert_non_null(strstr(buf, "TDH.MEM.PAGE.DEMOTE"));
	assert_int_equal(tdxsim_trace_parse_line(buf, &parsed), 0);
	assert_event_equal(&parsed, &ev);

	ev.type = TDXSIM_EV_TD_EXIT;
	ev.dur_ns = 0;
	ev.tdvpr = 0x40123000;
	ev.exit_reason = EXIT_REASON_EPT_VIOLATION;
	ev.fault_rule = -1;
	tdxsim_trace_format_json(&ev, buf, sizeof(buf));
	assert_int_equal(json_validate(buf), -1);
	assert_non_null(strstr(buf, "\"status\":\"TDX_OPERAND_BUSY|SEPT\""));
	assert_int_equal(tdxsim_trace_parse_line(buf, &parsed), 0);
	assert_event_equal(&parsed, &ev);
	assert_chrome_event(buf, &ev);

	assert_int_equal(tdxsim_trace_parse_line("hello", &parsed), -EINVAL);
	assert_int_equal(tdxsim_trace_parse_line("{}", &parsed), -EINVAL);
	line = "tdxsim-1 [000] 0.000000001: bogus: seq=1 leaf=0";
	assert_int_equal(tdxsim_trace_parse_line(line, &parsed), -EINVAL);

	/*
	 * The widest event (every register all ones, an unnamed leaf and
	 * status) still fits the sinks' 1024-byte line and parses back.
	 */
	memset(&ev, 0xff, sizeof(ev));
	ev.type = TDXSIM_EV_SEAMCALL;
	ev.leaf = 99;
	ev.fault_rule = 31;
	tdxsim_trace_format_json(&ev, buf, sizeof(buf));
	assert_true(strlen(buf) < sizeof(buf) - 1);
	assert_int_equal(json_validate(buf), -1);
	assert_int_equal(tdxsim_trace_parse_line(buf, &parsed), 0);
	assert_event_equal(&parsed, &ev);
	tdxsim_trace_format_text(&ev, buf, sizeof(buf));
	assert_true(strlen(buf) < sizeof(buf) - 1);
	assert_int_equal(tdxsim_trace_parse_line(buf, &parsed), 0);
	assert_event_equal(&parsed, &ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_validator),
		cmocka_unit_test_setup_teardown(test_ring_flow, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_overflow, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_callback_matches_ring, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_text_file_roundtrip, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_json_file_roundtrip, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test(test_env_trace_file),
		cmocka_unit_test_setup_teardown(test_two_threads, fx_setup_runnable, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sink_on_mid_call, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tracing_off, fx_setup_runnable, fx_teardown),
		cmocka_unit_test(test_formatters),
	};

	return run_group(tests);
}
