// SPDX-License-Identifier: GPL-2.0-only
/*
 * Trace sinks (include/tdxsim/trace.h).  Events are built only when a sink
 * is on (sim->trace_on); the sinks run under one mutex, so the file and the
 * ring see events in one order.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include <tdxsim/fault.h>
#include <tdxsim/trace.h>

#include "tdxsim-internal.h"

#define NR_TRACE_REGS	8

u64 trace_now_ns(struct tdxsim *sim)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec - sim->trace_t0;
}

static void update_on(struct tdxsim *sim)
{
	struct trace_state *t = &sim->trace;

	__atomic_store_n(&sim->trace_on, t->fn || t->ring_cap || t->file, __ATOMIC_RELEASE);
}

int tdxsim_trace_set_callback(struct tdxsim *sim, tdxsim_trace_fn fn, void *arg)
{
	pthread_mutex_lock(&sim->trace_lock);
	sim->trace.fn = fn;
	sim->trace.fn_arg = arg;
	update_on(sim);
	pthread_mutex_unlock(&sim->trace_lock);
	return 0;
}

int tdxsim_trace_ring(struct tdxsim *sim, size_t capacity)
{
	struct tdxsim_trace_event *ring = NULL;

	if (capacity) {
		ring = calloc(capacity, sizeof(*ring));
		if (!ring)
			return -ENOMEM;
	}
	pthread_mutex_lock(&sim->trace_lock);
	free(sim->trace.ring);
	sim->trace.ring = ring;
	sim->trace.ring_cap = capacity;
	sim->trace.ring_head = 0;
	sim->trace.ring_count = 0;
	update_on(sim);
	pthread_mutex_unlock(&sim->trace_lock);
	return 0;
}

size_t tdxsim_trace_ring_count(struct tdxsim *sim)
{
	size_t n;

	pthread_mutex_lock(&sim->trace_lock);
	n = sim->trace.ring_count;
	pthread_mutex_unlock(&sim->trace_lock);
	return n;
}

static const struct tdxsim_trace_event *ring_at(struct trace_state *t, size_t i)
{
	size_t oldest = (t->ring_head + t->ring_cap - t->ring_count) % t->ring_cap;

	return &t->ring[(oldest + i) % t->ring_cap];
}

int tdxsim_trace_ring_get(struct tdxsim *sim, size_t i, struct tdxsim_trace_event *ev)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&sim->trace_lock);
	if (i < sim->trace.ring_count) {
		*ev = *ring_at(&sim->trace, i);
		ret = 0;
	}
	pthread_mutex_unlock(&sim->trace_lock);
	return ret;
}

int tdxsim_trace_find(struct tdxsim *sim, enum tdxsim_trace_type type, unsigned int leaf,
		      unsigned int nth, struct tdxsim_trace_event *ev)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&sim->trace_lock);
	for (size_t i = 0; i < sim->trace.ring_count && nth; i++) {
		const struct tdxsim_trace_event *e = ring_at(&sim->trace, i);

		if (e->type == type && e->leaf == leaf && !--nth) {
			*ev = *e;
			ret = 0;
		}
	}
	pthread_mutex_unlock(&sim->trace_lock);
	return ret;
}

const char *tdxsim_trace_type_name(enum tdxsim_trace_type type)
{
	static const char *const names[TDXSIM_EV_NR] = {
		[TDXSIM_EV_SEAMCALL] = "seamcall",
		[TDXSIM_EV_TDCALL] = "tdcall",
		[TDXSIM_EV_TD_ENTER] = "td_enter",
		[TDXSIM_EV_TD_EXIT] = "td_exit",
		[TDXSIM_EV_FAULT] = "fault",
	};

	return type < TDXSIM_EV_NR ? names[type] : "?";
}

static const char *event_name(const struct tdxsim_trace_event *ev, char *buf, size_t len)
{
	const char *n;

	switch (ev->type) {
	case TDXSIM_EV_SEAMCALL:
		n = tdxsim_leaf_name(ev->leaf);
		if (n)
			return n;
		snprintf(buf, len, "SEAMCALL.%u", ev->leaf);
		return buf;
	case TDXSIM_EV_TDCALL:
		if (tdxsim_tdcall_leaf_info(ev->leaf))
			return tdxsim_tdcall_leaf_info(ev->leaf)->name;
		snprintf(buf, len, "TDCALL.%u", ev->leaf);
		return buf;
	case TDXSIM_EV_FAULT:
		snprintf(buf, len, "fault rule %d", ev->fault_rule);
		return buf;
	case TDXSIM_EV_TD_ENTER:
		return "TD entry";
	case TDXSIM_EV_TD_EXIT:
		return "TD exit";
	default:
		return "?";
	}
}

/* Calls of a leaf whose RCX is GPA|level; a FAULT event names a SEAMCALL leaf here. */
static bool event_has_gpa(const struct tdxsim_trace_event *ev)
{
	const struct tdxsim_leaf_info *li;
	const struct tdxsim_leaf_operand *op;

	if (ev->type == TDXSIM_EV_TDCALL)
		li = tdxsim_tdcall_leaf_info(ev->leaf);
	else if (ev->type == TDXSIM_EV_SEAMCALL || ev->type == TDXSIM_EV_FAULT)
		li = tdxsim_leaf_info(ev->leaf);
	else
		return false;
	op = tdxsim_leaf_operand(li, TDXSIM_OPND_GPA);
	return op && op->reg == TDX_OPERAND_ID_RCX;
}

static void regs_get(const struct tdx_module_args *a, u64 r[NR_TRACE_REGS])
{
	r[0] = a->rcx; r[1] = a->rdx; r[2] = a->r8; r[3] = a->r9;
	r[4] = a->r10; r[5] = a->r11; r[6] = a->r12; r[7] = a->r13;
}

static void regs_set(struct tdx_module_args *a, const u64 r[NR_TRACE_REGS])
{
	a->rcx = r[0]; a->rdx = r[1]; a->r8 = r[2]; a->r9 = r[3];
	a->r10 = r[4]; a->r11 = r[5]; a->r12 = r[6]; a->r13 = r[7];
}

/* "tdxsim-1 [000] 0.000001234: seamcall: seq=.. name=.. leaf=.. gpa=.. ..." */
char *tdxsim_trace_format_text(const struct tdxsim_trace_event *ev, char *buf, size_t len)
{
	char nb[48], sb[64];
	u64 in[NR_TRACE_REGS], out[NR_TRACE_REGS];
	int n;

	regs_get(&ev->in, in);
	regs_get(&ev->out, out);
	n = snprintf(buf, len, "tdxsim-%u [%03u] %llu.%09llu: %s: seq=%llu"
		     " name=%s leaf=%u", ev->thread, ev->cpu, (u64)(ev->ts_ns / 1000000000U),
		     (u64)(ev->ts_ns % 1000000000U), tdxsim_trace_type_name(ev->type), ev->seq,
		     event_name(ev, nb, sizeof(nb)), ev->leaf);
	if (event_has_gpa(ev) && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " gpa=%#llx level=%u",
			      (u64)(ev->in.rcx & ~(u64)0xFFF), (unsigned int)(ev->in.rcx & 7));
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n,
			      " status=%s raw=%#llx dur=%llu rule=%d tdvpr=%#llx"
			      " exit=%u in=%#llx,%#llx,%#llx,%#llx,%#llx"
			      ",%#llx,%#llx,%#llx out=%#llx,%#llx"
			      ",%#llx,%#llx,%#llx,%#llx,%#llx,%#llx",
			      tdxsim_status_name(ev->status, sb, sizeof(sb)), ev->status, ev->dur_ns,
			      ev->fault_rule, ev->tdvpr, ev->exit_reason, in[0], in[1], in[2], in[3],
			      in[4], in[5], in[6], in[7], out[0], out[1], out[2], out[3], out[4], out[5],
			      out[6], out[7]);
	return buf;
}

/* One Chrome trace event: complete events for calls, instants for the rest. */
char *tdxsim_trace_format_json(const struct tdxsim_trace_event *ev, char *buf, size_t len)
{
	char nb[48], sb[64];
	u64 in[NR_TRACE_REGS], out[NR_TRACE_REGS];
	bool call = ev->type == TDXSIM_EV_SEAMCALL || ev->type == TDXSIM_EV_TDCALL;
	int n;

	regs_get(&ev->in, in);
	regs_get(&ev->out, out);
	n = snprintf(buf, len, "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"%s\",\"ts\":%llu"
		     ".%03u,", event_name(ev, nb, sizeof(nb)), tdxsim_trace_type_name(ev->type),
		     call ? "X" : "i", ev->ts_ns / 1000, (unsigned int)(ev->ts_ns % 1000));
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, call ? "\"dur\":%llu.%03u," :
			      "\"s\":\"t\",", ev->dur_ns / 1000, (unsigned int)(ev->dur_ns % 1000));
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n,
			      "\"pid\":1,\"tid\":%u,\"args\":{\"seq\":%llu,\"ts_ns\":%llu"
			      ",\"dur_ns\":%llu,\"cpu\":%u,\"type\":%d,\"leaf\":%u,"
			      "\"status\":\"%s\",\"status_raw\":\"%#llx\",\"rule\":%d,"
			      "\"tdvpr\":\"%#llx\",\"exit\":%u",
			      ev->thread, ev->seq, ev->ts_ns, ev->dur_ns, ev->cpu, (int)ev->type,
			      ev->leaf, tdxsim_status_name(ev->status, sb, sizeof(sb)), ev->status,
			      ev->fault_rule, ev->tdvpr, ev->exit_reason);
	if (event_has_gpa(ev) && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ",\"gpa\":\"%#llx\",\"level\":%u",
			      (u64)(ev->in.rcx & ~(u64)0xFFF), (unsigned int)(ev->in.rcx & 7));
	for (int k = 0; k < 2 && n > 0 && (size_t)n < len; k++) {
		const u64 *r = k ? out : in;

		n += snprintf(buf + n, len - (size_t)n, ",\"%s\":[", k ? "out" : "in");
		for (int i = 0; i < NR_TRACE_REGS && n > 0 && (size_t)n < len; i++)
			n += snprintf(buf + n, len - (size_t)n, "%s\"%#llx\"", i ? "," : "",
				      r[i]);
		if (n > 0 && (size_t)n < len)
			n += snprintf(buf + n, len - (size_t)n, "]");
	}
	if (n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "}}");
	return buf;
}

/* ---- parsing our own lines back (tools/tdxsim trace) ---- */

static bool field_u64(const char *line, const char *key, u64 *v)
{
	const char *p = strstr(line, key);
	char *end;

	if (!p)
		return false;
	p += strlen(key);
	if (*p == '"')
		p++;
	*v = strtoull(p, &end, 0);
	return end != p;
}

static bool field_regs(const char *line, const char *key, u64 r[NR_TRACE_REGS])
{
	const char *p = strstr(line, key);

	if (!p)
		return false;
	p += strlen(key);
	for (int i = 0; i < NR_TRACE_REGS; i++) {
		char *end;

		while (*p == '"' || *p == ',' || *p == '[')
			p++;
		r[i] = strtoull(p, &end, 0);
		if (end == p)
			return false;
		p = end;
	}
	return true;
}

int tdxsim_trace_parse_line(const char *line, struct tdxsim_trace_event *ev)
{
	bool json = strchr(line, '{') != NULL;
	u64 in[NR_TRACE_REGS], out[NR_TRACE_REGS], v, type = TDXSIM_EV_NR;

	memset(ev, 0, sizeof(*ev));
	if (json) {
		if (!field_u64(line, "\"type\":", &type) || !field_u64(line, "\"seq\":", &ev->seq) ||
		    !field_u64(line, "\"ts_ns\":", &ev->ts_ns) ||
		    !field_u64(line, "\"dur_ns\":", &ev->dur_ns) ||
		    !field_u64(line, "\"tid\":", &v))
			return -EINVAL;
		ev->thread = (u32)v;
		if (!field_u64(line, "\"cpu\":", &v))
			return -EINVAL;
		ev->cpu = (u32)v;
		if (!field_u64(line, "\"leaf\":", &v))
			return -EINVAL;
		ev->leaf = (u32)v;
		if (!field_u64(line, "\"status_raw\":", &ev->status) ||
		    !field_regs(line, "\"in\":", in) || !field_regs(line, "\"out\":", out))
			return -EINVAL;
		field_u64(line, "\"tdvpr\":", &ev->tdvpr);
		if (field_u64(line, "\"exit\":", &v))
			ev->exit_reason = (u32)v;
		{
			const char *p = strstr(line, "\"rule\":");

			ev->fault_rule = p ? atoi(p + 7) : -1;
		}
	} else {
		unsigned int thread, cpu;
		char tname[16];
		u64 sec, nsec;
		const char *p;

		if (sscanf(line, "tdxsim-%u [%u] %llu.%llu: %15[a-z_]:", &thread, &cpu,
			   &sec, &nsec, tname) != 5)
			return -EINVAL;
		ev->thread = thread;
		ev->cpu = cpu;
		ev->ts_ns = sec * 1000000000ULL + nsec;
		for (type = 0; type < TDXSIM_EV_NR; type++) {
			if (!strcmp(tname, tdxsim_trace_type_name((enum tdxsim_trace_type)type)))
				break;
		}
		if (!field_u64(line, " seq=", &ev->seq) || !field_u64(line, " leaf=", &v))
			return -EINVAL;
		ev->leaf = (u32)v;
		if (!field_u64(line, " raw=", &ev->status) || !field_u64(line, " dur=", &ev->dur_ns) ||
		    !field_regs(line, " in=", in) || !field_regs(line, " out=", out))
			return -EINVAL;
		field_u64(line, " tdvpr=", &ev->tdvpr);
		if (field_u64(line, " exit=", &v))
			ev->exit_reason = (u32)v;
		p = strstr(line, " rule=");
		ev->fault_rule = p ? atoi(p + 6) : -1;
	}
	if (type >= TDXSIM_EV_NR)
		return -EINVAL;
	ev->type = (enum tdxsim_trace_type)type;
	regs_set(&ev->in, in);
	regs_set(&ev->out, out);
	return 0;
}

/* ---- the file sink ---- */

int tdxsim_trace_open(struct tdxsim *sim, const char *path, enum tdxsim_trace_format fmt)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	tdxsim_trace_close(sim);
	pthread_mutex_lock(&sim->trace_lock);
	sim->trace.file = f;
	sim->trace.fmt = fmt;
	sim->trace.file_events = 0;
	if (fmt == TDXSIM_TRACE_JSON)
		fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f);
	update_on(sim);
	pthread_mutex_unlock(&sim->trace_lock);
	return 0;
}

int tdxsim_trace_close(struct tdxsim *sim)
{
	int ret = 0;

	pthread_mutex_lock(&sim->trace_lock);
	if (sim->trace.file) {
		if (sim->trace.fmt == TDXSIM_TRACE_JSON)
			fputs("\n]}\n", sim->trace.file);
		ret = fclose(sim->trace.file) ? -errno : 0;
		sim->trace.file = NULL;
	}
	update_on(sim);
	pthread_mutex_unlock(&sim->trace_lock);
	return ret;
}

void trace_emit(struct tdxsim *sim, struct tdxsim_trace_event *ev)
{
	struct trace_state *t = &sim->trace;
	char buf[1024];

	ev->thread = tdxsim_thread_id(sim);
	pthread_mutex_lock(&sim->trace_lock);
	if (t->fn)
		t->fn(t->fn_arg, ev);
	if (t->ring_cap) {
		t->ring[t->ring_head] = *ev;
		t->ring_head = (t->ring_head + 1) % t->ring_cap;
		if (t->ring_count < t->ring_cap)
			t->ring_count++;
	}
	if (t->file) {
		if (t->fmt == TDXSIM_TRACE_JSON)
			fprintf(t->file, "%s%s", t->file_events ? ",\n" : "",
				tdxsim_trace_format_json(ev, buf, sizeof(buf)));
		else
			fprintf(t->file, "%s\n", tdxsim_trace_format_text(ev, buf, sizeof(buf)));
		t->file_events++;
	}
	pthread_mutex_unlock(&sim->trace_lock);
}

/*
 * Env: TDXSIM_TRACE=FILE (".json" -> JSON).  The first simulator of the
 * process writes FILE; the Nth writes FILE with "-N" before its extension,
 * so a test binary that creates a simulator per test keeps every trace.
 *
 * The one process-wide counter of the module, on purpose: it numbers the
 * simulators that share one environment variable, so that two of them never
 * open the same file.  It is read once, at create, and no simulator's
 * behaviour depends on it: only the name of its trace file.
 */
static unsigned int env_trace_count;

int trace_apply_environment(struct tdxsim *sim)
{
	const char *path = getenv("TDXSIM_TRACE"), *dot, *slash;
	unsigned int n;
	char name[PATH_MAX];
	size_t len;
	int ret;

	sim->trace_t0 = 0;
	sim->trace_t0 = trace_now_ns(sim);
	if (!path || !*path)
		return 0;
	len = strlen(path);
	n = __atomic_add_fetch(&env_trace_count, 1, __ATOMIC_RELAXED);
	dot = strrchr(path, '.');
	slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		dot = path + len;
	if (n == 1)
		ret = snprintf(name, sizeof(name), "%s", path);
	else
		ret = snprintf(name, sizeof(name), "%.*s-%u%s", (int)(dot - path), path, n, dot);
	/* Cut short, the trace would go to another file: refuse instead. */
	if (ret < 0 || (size_t)ret >= sizeof(name)) {
		fprintf(stderr, "tdxsim: TDXSIM_TRACE: path longer than %zu characters\n",
			sizeof(name) - 1);
		return -EINVAL;
	}
	if (tdxsim_trace_open(sim, name, len > 5 && !strcmp(path + len - 5, ".json") ?
			      TDXSIM_TRACE_JSON : TDXSIM_TRACE_TEXT)) {
		char shown[48];

		fault_quote_token(shown, sizeof(shown), name);
		fprintf(stderr, "tdxsim: TDXSIM_TRACE: cannot write '%s'\n", shown);
		return -EINVAL;
	}
	return 0;
}

void trace_fini(struct tdxsim *sim)
{
	tdxsim_trace_close(sim);
	free(sim->trace.ring);
	pthread_mutex_destroy(&sim->trace_lock);
}
