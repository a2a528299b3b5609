/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Trace: every SEAMCALL/TDCALL, TD entry/exit and fired fault as an event,
 * delivered to any of four sinks: a callback, an in-memory ring a test can
 * query, a text file in an ftrace-like line format, and a Chrome/Perfetto
 * trace-event JSON file (one track per thread).
 *
 * An unmodified binary writes a trace when TDXSIM_TRACE names a file at
 * tdxsim_create() time: "*.json" gets JSON, anything else text.  The Nth
 * simulator a process creates writes FILE with "-N" before the extension
 * (out.json, out-2.json, ...).
 * With no sink enabled, tracing costs one predictable branch per call.
 */
#ifndef TDXSIM_TRACE_H
#define TDXSIM_TRACE_H

#include <stddef.h>
#include <stdio.h>
#include <tdxsim/tdxsim.h>

#pragma GCC visibility push(default)

enum tdxsim_trace_type {
	TDXSIM_EV_SEAMCALL,
	TDXSIM_EV_TDCALL,
	TDXSIM_EV_TD_ENTER,	/* TDH.VP.ENTER put a vCPU in guest mode */
	TDXSIM_EV_TD_EXIT,	/* a vCPU left guest mode (kick, or a TDCALL's exit) */
	TDXSIM_EV_FAULT,	/* a fault rule fired (precedes the call's own event) */
	TDXSIM_EV_NR,
};

struct tdxsim_trace_event {
	u64 seq;		/* the call's sequence number (tdxsim_seq()) */
	u64 ts_ns;		/* start, ns since the simulator was created */
	u64 dur_ns;		/* duration of the call (0 for instant events) */
	u32 thread;		/* tdxsim_thread_id(sim) */
	u32 cpu;		/* simulated logical CPU */
	enum tdxsim_trace_type type;
	u32 leaf;		/* SEAMCALL or TDCALL leaf; FAULT: the rule's leaf */
	u64 status;		/* completion status; FAULT: the injected status (0: interrupt) */
	int fault_rule;		/* rule id that fired, or -1 */
	u64 tdvpr;		/* TD_ENTER/TD_EXIT: the vCPU */
	u32 exit_reason;	/* TD_EXIT caused by a TDCALL */
	struct tdx_module_args in;	/* registers on entry */
	struct tdx_module_args out;	/* registers on return */
};

enum tdxsim_trace_format {
	TDXSIM_TRACE_TEXT,
	TDXSIM_TRACE_JSON,
};

typedef void (*tdxsim_trace_fn)(void *arg, const struct tdxsim_trace_event *ev);

/* Callback sink (NULL disables).  Calls are serialised.  Returns 0. */
int tdxsim_trace_set_callback(struct tdxsim *sim, tdxsim_trace_fn fn, void *arg);

/* Keep the last @capacity events in memory (0 disables).  0 or -ENOMEM. */
int tdxsim_trace_ring(struct tdxsim *sim, size_t capacity);
/* Events held, oldest first; get copies event @i.  -ENOENT past the end. */
size_t tdxsim_trace_ring_count(struct tdxsim *sim);
int tdxsim_trace_ring_get(struct tdxsim *sim, size_t i, struct tdxsim_trace_event *ev);
/*
 * The @nth (1-based) event in the ring of @type and @leaf ("the 2nd
 * DEMOTE").  Returns 0, or -ENOENT.
 */
int tdxsim_trace_find(struct tdxsim *sim, enum tdxsim_trace_type type, unsigned int leaf,
		      unsigned int nth, struct tdxsim_trace_event *ev);

/* Write events to @path in @fmt; the file is completed by close/destroy. */
int tdxsim_trace_open(struct tdxsim *sim, const char *path, enum tdxsim_trace_format fmt);
int tdxsim_trace_close(struct tdxsim *sim);

/* One event as a text line (no newline) / as a JSON object.  Return @buf. */
char *tdxsim_trace_format_text(const struct tdxsim_trace_event *ev, char *buf, size_t len);
char *tdxsim_trace_format_json(const struct tdxsim_trace_event *ev, char *buf, size_t len);
/* Parse a line written by either formatter back into an event.  0 or -EINVAL. */
int tdxsim_trace_parse_line(const char *line, struct tdxsim_trace_event *ev);
const char *tdxsim_trace_type_name(enum tdxsim_trace_type type);

#pragma GCC visibility pop

#endif /* TDXSIM_TRACE_H */
