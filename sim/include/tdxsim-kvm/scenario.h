/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The scenario language (sim/scenario/, libtdxsim-scenario.a): a review
 * argument as a small text file -- configure, build a TD, run host actions
 * and guest programs, state expectations -- parsed into a command list and
 * run against the VM runtime (<tdxsim-kvm/vm.h>).  doc/scenario.md is the
 * language's reference; it is written from the command table below
 * (tdxsim_scn_commands), which also feeds `help` in `tdxsim shell`.
 *
 * Errors name a place: bad input is "FILE:LINE:COL: expected WHAT, got WHAT";
 * an unmet expectation "FILE:LINE: expected ..., observed ...".
 *
 * Thread safety: a parsed scenario is immutable and may be shared; a
 * struct tdxsim_scn_run belongs to one thread at a time (the interpreter
 * starts its own threads for `run` and joins them before it returns).
 */
#ifndef TDXSIM_KVM_SCENARIO_H
#define TDXSIM_KVM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <tdxsim/types.h>

#pragma GCC visibility push(default)

/* ---- the command table ---- */

/* Where a command may appear. */
#define TDXSIM_SCN_TOP		0x1	/* at the top level of a file */
#define TDXSIM_SCN_GUEST	0x2	/* inside guest N ... end */
#define TDXSIM_SCN_THREAD	0x4	/* inside thread NAME ... end */

/* What an argument's value is (doc/scenario.md "Values"). */
enum tdxsim_scn_type {
	TDXSIM_SCN_NUM,		/* 12, 0x1f, 4K, 2M, 1G (K/M/G/T: binary units) */
	TDXSIM_SCN_GPA,		/* a NUM aligned to 4K */
	TDXSIM_SCN_SIZE,	/* a NUM > 0, multiple of 4K */
	TDXSIM_SCN_LEVEL,	/* 4k 2m 1g -> PG_LEVEL_4K.. (1..3) */
	TDXSIM_SCN_CHOICE,	/* one word of arg->choices ("v3|upstream"); value = index */
	TDXSIM_SCN_ONOFF,	/* on off yes no true false 1 0 -> 1/0 */
	TDXSIM_SCN_WORD,	/* any word (a mark or thread name, an invariant) */
	TDXSIM_SCN_STRING,	/* "text in quotes" */
	TDXSIM_SCN_LEAF,	/* a leaf by fault name or full name: demote, TDH.MEM.PAGE.AUG */
	TDXSIM_SCN_LEAF_NTH,	/* LEAF, or LEAF#N: the Nth call of it (N >= 1) */
	TDXSIM_SCN_EVENT,	/* LEAF_NTH, or the name of an earlier mark */
	TDXSIM_SCN_MARK,	/* the name of an earlier mark */
	TDXSIM_SCN_VMNAME,	/* the name of a VM an earlier `vm` created ("main": the first) */
	TDXSIM_SCN_STATUS,	/* TDX_OPERAND_BUSY, TDX_OPERAND_BUSY|SEPT, 0x8000020000000092 */
	TDXSIM_SCN_OP,		/* = == != < <= > >= */
	TDXSIM_SCN_ERRNO,	/* 0 -ENOMEM -EBUSY ... or a negative number; value is s64 */
	TDXSIM_SCN_FAULT,	/* a libtdxsim fault rule, as TDXSIM_FAULTS takes it */
	TDXSIM_SCN_FEATURES,	/* +name,-name,... of TDX_FEATURES0 bits */
	TDXSIM_SCN_DEFECT,	/* a defect switch's name; value = its bit */
	TDXSIM_SCN_FLAG,	/* a bare word equal to the argument's name */
};

enum tdxsim_scn_arg_kind {
	TDXSIM_SCN_POS,		/* positional, in order */
	TDXSIM_SCN_KEY,		/* key=value, anywhere after the command name */
	TDXSIM_SCN_BARE,	/* a bare word equal to the name (TDXSIM_SCN_FLAG) */
};

/* Comparison operators (TDXSIM_SCN_OP values). */
enum tdxsim_scn_op { TDXSIM_OP_EQ, TDXSIM_OP_NE, TDXSIM_OP_LT, TDXSIM_OP_LE,
		     TDXSIM_OP_GT, TDXSIM_OP_GE };

struct tdxsim_scn_arg_info {
	const char *name;	/* key, flag word, or the placeholder of a positional */
	enum tdxsim_scn_arg_kind kind;
	enum tdxsim_scn_type type;
	const char *choices;	/* TDXSIM_SCN_CHOICE: "a|b|c" */
	const char *def;	/* default as written; NULL: required (POS) / absent (KEY) */
	const char *help;
};

enum tdxsim_scn_cmd_id {
	/* configuration (before the VM exists) */
	TDXSIM_CMD_CONFIG, TDXSIM_CMD_DEFECT, TDXSIM_CMD_INJECT, TDXSIM_CMD_SKIP, TDXSIM_CMD_VM,
	/* setup */
	TDXSIM_CMD_MEMSLOT, TDXSIM_CMD_FOLIO, TDXSIM_CMD_BUILD_ADD, TDXSIM_CMD_FINALIZE,
	/* host actions */
	TDXSIM_CMD_MAP, TDXSIM_CMD_CONVERT, TDXSIM_CMD_PUNCH, TDXSIM_CMD_SPLIT, TDXSIM_CMD_ZAP,
	TDXSIM_CMD_MEMORY_FAILURE, TDXSIM_CMD_TEARDOWN, TDXSIM_CMD_MARK, TDXSIM_CMD_CLEAR_FAULTS,
	TDXSIM_CMD_SEAMCALL, TDXSIM_CMD_USE, TDXSIM_CMD_GMEM_HOLD, TDXSIM_CMD_EAGER_SPLIT,
	TDXSIM_CMD_HOST_FILL,
	/* blocks */
	TDXSIM_CMD_GUEST, TDXSIM_CMD_THREAD, TDXSIM_CMD_REPEAT, TDXSIM_CMD_END, TDXSIM_CMD_RUN,
	/* guest program operations */
	TDXSIM_CMD_G_ACCESS, TDXSIM_CMD_G_ACCEPT, TDXSIM_CMD_G_CONVERT, TDXSIM_CMD_G_SPIN,
	/* expectations */
	TDXSIM_CMD_X_LEVEL, TDXSIM_CMD_X_KVM, TDXSIM_CMD_X_SEPT, TDXSIM_CMD_X_ATTR,
	TDXSIM_CMD_X_INHIBIT, TDXSIM_CMD_X_CALLS, TDXSIM_CMD_X_STATUS, TDXSIM_CMD_X_EXITS,
	TDXSIM_CMD_X_FAULTS, TDXSIM_CMD_X_REFCOUNT, TDXSIM_CMD_X_SPLIT_CACHE, TDXSIM_CMD_X_PAGES,
	TDXSIM_CMD_X_EVENTS, TDXSIM_CMD_X_ORDER, TDXSIM_CMD_X_NONE, TDXSIM_CMD_X_PROVENANCE,
	TDXSIM_CMD_X_INVARIANTS, TDXSIM_CMD_X_INVARIANT, TDXSIM_CMD_X_BUGGED,
	TDXSIM_CMD_X_NOT_BUGGED, TDXSIM_CMD_X_STAT,
	TDXSIM_CMD_NR,
};

/* Groups, in the order doc/scenario.md presents them. */
enum tdxsim_scn_group { TDXSIM_GRP_CONFIG, TDXSIM_GRP_SETUP, TDXSIM_GRP_HOST,
			TDXSIM_GRP_BLOCK, TDXSIM_GRP_GUEST, TDXSIM_GRP_EXPECT, TDXSIM_GRP_NR };

struct tdxsim_scn_cmd_info {
	enum tdxsim_scn_cmd_id id;
	const char *name;	/* "map", "expect level" */
	enum tdxsim_scn_group group;
	unsigned int where;	/* TDXSIM_SCN_TOP | _GUEST | _THREAD */
	bool needs_vm;		/* creates the VM first if no `vm` came before */
	bool returns;		/* takes "=> ERRNO" (host actions) or "=> STATUS" (guest ops) */
	bool body_block;	/* guest, thread, repeat: the lines up to `end` are its body */
	const struct tdxsim_scn_arg_info *args;
	unsigned int nr_args;
	const char *summary;	/* one line */
	const char *help;	/* what it does, the defaults, what it models */
	const char *example;	/* one complete line */
};

/* Every command, TDXSIM_CMD_NR entries indexed by id.  Never changes. */
extern const struct tdxsim_scn_cmd_info tdxsim_scn_commands[TDXSIM_CMD_NR];
const char *tdxsim_scn_group_name(enum tdxsim_scn_group group);
/* The command called @name ("map", "expect calls"), or NULL. */
const struct tdxsim_scn_cmd_info *tdxsim_scn_command_find(const char *name);
/* Does @ci's "=> RESULT" name a TDX status (guest ops, seamcall) rather than an errno? */
bool tdxsim_scn_returns_status(const struct tdxsim_scn_cmd_info *ci);
/* "map GPA [vcpu=N] [=> ERRNO]" into @buf; returns @buf. */
char *tdxsim_scn_synopsis(const struct tdxsim_scn_cmd_info *ci, char *buf, size_t len);

/* Defect switches are named by the runtime: tdxsim_kvm_defect_lookup() (kvm_host.h). */

/* ---- a parsed scenario ---- */

struct tdxsim_scn_loc {
	unsigned int line, col;	/* 1-based */
};

struct tdxsim_scn_val {
	bool given;		/* written (or, false, the default applied) */
	struct tdxsim_scn_loc loc;
	char *text;		/* as written (or the default); NULL when absent */
	u64 u;			/* NUM GPA SIZE STATUS FEATURES(set) DEFECT; LEVEL; CHOICE index; OP */
	s64 i;			/* ERRNO; FEATURES: the bits to clear */
	unsigned int leaf;	/* LEAF*: leaf number; EVENT: ~0U for a mark */
	bool tdcall;		/* LEAF*: a TDCALL leaf */
	unsigned int nth;	/* LEAF_NTH / EVENT: N of LEAF#N, 0 when not written */
};

struct tdxsim_scn_block;

struct tdxsim_scn_cmd {
	const struct tdxsim_scn_cmd_info *info;
	struct tdxsim_scn_loc loc;
	struct tdxsim_scn_val *args;	/* info->nr_args, in table order */
	bool has_ret;			/* "=> VALUE" written */
	struct tdxsim_scn_val ret;	/* ERRNO (host action), STATUS (guest op), or "any" */
	bool ret_any;
	struct tdxsim_scn_block *body;	/* guest / thread / repeat: the commands up to `end` */
};

struct tdxsim_scn_block {
	struct tdxsim_scn_cmd *cmds;
	size_t nr, cap;
};

struct tdxsim_scenario {
	char *file;		/* as given to the parser, for messages */
	char *id;		/* "S13a" of a first comment line "# S13a: title", or NULL */
	char *title;		/* the rest of that line (or the whole line), or NULL */
	char *thread_ref;	/* "003 P12 2208-2323" of a "# thread: ..." line, or NULL */
	struct tdxsim_scn_block top;
	unsigned int nr_lines;
};

/*
 * Parse @len bytes of @text, naming it @file in messages.  Returns 0 and
 * *@out (free with tdxsim_scenario_free()); or -EINVAL with one line
 * "FILE:LINE:COL: expected WHAT, got WHAT" in @err (cut to @errlen, always
 * NUL-terminated; @err may be NULL); -EAGAIN likewise when the only problem
 * is a guest/thread block still open at the end (the shell reads on);
 * -ENOMEM.  Any bytes are accepted as input (NUL, control characters and
 * non-ASCII bytes outside comments and strings are errors, never a crash).
 * Thread-safe.
 */
int tdxsim_scenario_parse(const char *file, const char *text, size_t len,
			  struct tdxsim_scenario **out, char *err, size_t errlen);
/* NULL is a no-op. */
void tdxsim_scenario_free(struct tdxsim_scenario *scn);

/* ---- the interpreter ---- */

enum tdxsim_scn_outcome {
	TDXSIM_SCN_PASS,
	TDXSIM_SCN_FAIL,	/* an expectation (or a host action's => result) not met */
	TDXSIM_SCN_SKIP,	/* `skip "why"` reached */
	TDXSIM_SCN_ERROR,	/* bad input found while running (an unknown fault rule, a
				 * vCPU out of range), or the runtime could not be built */
};

struct tdxsim_scn_opts {
	FILE *log;		/* failures, skips and --verbose state go here; NULL: silent */
	bool verbose;		/* mirror and S-EPT state at each expectation */
	const char *trace_path;	/* Perfetto JSON of the whole run (tdxsim_trace_open), or NULL */
	unsigned int last_events;	/* trace events shown after a failure, default 0 = 12 */
	bool keep_going;	/* report every unmet expectation, not just the first */
	/*
	 * Keep every call of the run (32 bytes each) even when no expectation
	 * of the scenario given to run_create reads single calls (status,
	 * order, none, calls status=): for a shell, whose commands come later.
	 */
	bool full_trace;
};

struct tdxsim_scn_result {
	enum tdxsim_scn_outcome outcome;
	unsigned int failed;	/* unmet expectations */
	unsigned int checked;	/* expectations evaluated */
	u64 seamcalls;		/* SEAMCALLs (TDCALLs not included) */
	u64 tdcalls;
	u64 faults_fired;
	double wall_s;
	char msg[512];		/* first failure / skip reason / error, one line */
};

struct tdxsim_scn_run;

/* A run context: no VM yet.  NULL with errno ENOMEM.  @opts may be NULL. */
struct tdxsim_scn_run *tdxsim_scn_run_create(const struct tdxsim_scenario *scn,
					     const struct tdxsim_scn_opts *opts);
/*
 * Execute one top-level command of the scenario given to run_create (the
 * shell parses its whole session again and executes the new commands).
 * Returns 0 when it went as written, 1 when an expectation failed, -EINVAL
 * for an input error found at run time, -ECANCELED after `skip`, other
 * negative errnos when the runtime failed; the message went to opts->log and
 * into the result.  Once the scenario skipped or hit an error, further
 * commands are not run (-ECANCELED).
 */
int tdxsim_scn_run_exec(struct tdxsim_scn_run *run, const struct tdxsim_scn_cmd *cmd);
/* Print the mirror and S-EPT around @gpa, the counters and the last events. */
void tdxsim_scn_run_state(struct tdxsim_scn_run *run, u64 gpa, FILE *f);
/* Finish (join threads, close the trace), fill @res, free the context. */
void tdxsim_scn_run_finish(struct tdxsim_scn_run *run, struct tdxsim_scn_result *res);

/* Run every command of @scn: run_create, exec each, finish.  Never fails: see @res. */
void tdxsim_scenario_run(const struct tdxsim_scenario *scn, const struct tdxsim_scn_opts *opts,
			 struct tdxsim_scn_result *res);
const char *tdxsim_scn_outcome_name(enum tdxsim_scn_outcome o);

#pragma GCC visibility pop

#endif /* TDXSIM_KVM_SCENARIO_H */
