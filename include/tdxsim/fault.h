/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fault injection: force the module's BUSY / INTERRUPTED paths and host
 * allocation failures at chosen calls, deterministically.
 *
 * A rule matches calls of one leaf and, optionally, a GPA range, a level, a
 * TD, a thread; among the matching calls it fires on the Nth, on every Kth,
 * or with a probability drawn from the simulator's seeded generator (a
 * function of seed, rule and match number: same seed, same firings, on any
 * machine).  A firing rule either returns its status before the leaf runs
 * (so module state is untouched, as by a real failing call), or raises
 * "interrupt pending" on the calling CPU and lets the leaf run (PROMOTE, and
 * DEMOTE when ENHANCED_DEMOTE_INTERRUPTIBILITY is off, then fail for the real
 * reason), or makes tdxsim_page_alloc() fail with ENOMEM.
 *
 * The same rules can be given to an unmodified binary: tdxsim_create() reads
 * TDXSIM_FAULTS (syntax below) and TDXSIM_SEED.
 */
#ifndef TDXSIM_FAULT_H
#define TDXSIM_FAULT_H

#include <stddef.h>
#include <tdxsim/tdxsim.h>

#pragma GCC visibility push(default)

/* Pseudo-leaves: TDCALL leaves and the host page allocator. */
#define TDXSIM_FAULT_TDCALL		0x100U	/* | TDCALL leaf, e.g. TDG_MEM_PAGE_ACCEPT */
#define TDXSIM_FAULT_PAGE_ALLOC		0x200U

enum tdxsim_fault_action {
	TDXSIM_FAULT_STATUS,		/* return .status, leaf not run */
	TDXSIM_FAULT_INTERRUPT,		/* raise an interrupt on the calling CPU, run the leaf */
	TDXSIM_FAULT_ENOMEM,		/* tdxsim_page_alloc() fails */
};

#define TDXSIM_FAULT_ANY		(-1)

struct tdxsim_fault_rule {
	unsigned int leaf;		/* SEAMCALL leaf, TDXSIM_FAULT_TDCALL|leaf, or PAGE_ALLOC */
	enum tdxsim_fault_action action;
	u64 status;			/* TDXSIM_FAULT_STATUS: full status, operand included */
	/* Match filters (all must hold). */
	u64 gpa_start, gpa_end;		/* GPA in RCX within [start, end); both 0: any */
	int level;			/* TDX level in RCX, or TDXSIM_FAULT_ANY */
	u64 tdr_pa;			/* TD (RDX/RCX as the leaf takes it), 0: any */
	int thread;			/* tdxsim_thread_id(sim), or TDXSIM_FAULT_ANY */
	/* Which matching calls fire (at most one of the three; none: every one). */
	u64 nth;			/* only the Nth matching call (1-based) */
	u64 every;			/* every Kth matching call */
	double probability;		/* each matching call with this probability */
	u64 max_fires;			/* stop after this many firings, 0: no limit */
};

/* Defaults: any GPA/level/TD/thread, every matching call, no limit. */
void tdxsim_fault_rule_init(struct tdxsim_fault_rule *r, unsigned int leaf,
			    enum tdxsim_fault_action action, u64 status);

/*
 * Add a rule; returns its id (>= 0) or -EINVAL / -ENOSPC.  Thread-safe.
 * -EINVAL: more than one of nth/every/probability, a probability outside
 * [0, 1] (NaN included), gpa_end < gpa_start, or a STATUS rule whose status
 * is not an error (bit 63 clear: the call would "succeed" without running).
 */
int tdxsim_fault_add(struct tdxsim *sim, const struct tdxsim_fault_rule *r);

/*
 * Parse and add rules from @spec, e.g.
 *   "demote:busy=sept:nth=1; aug:busy=rcx:p=0.05; alloc:enomem:nth=3"
 * rule   := leaf ':' action (':' option)*     rules separated by ';'
 * leaf   := a leaf's fault name (aug add demote promote remove block unblock track
 *           sept_add sept_remove reclaim wbinvd pamt_add pamt_remove vp_enter vp_create
 *           mng_create addcx accept ...: tdxsim_leaf_info()->fault_name, `tdxsim leaves`)
 *           or its full name (TDH.MEM.PAGE.AUG) | alloc | a SEAMCALL leaf number
 * action := busy=OPERAND (rcx rdx r8 r9 r12 r13 sept td_epoch op_state tdr ...: any
 *           tdxsim_operand_name(), or a number)
 *         | status=NAME|0xVALUE (an error: bit 63 set) | interrupted | epoch_busy
 *         | interrupt | enomem
 * option := nth=N | every=K | p=P | max=N | gpa=START-END | level=L | td=0xTDR | thread=T
 * Returns the number of rules added, or -EINVAL with a one-line message naming
 * the bad token in @err (may be NULL; the token is cut to 40 characters and
 * control characters show as '?').  Rules before the bad one stay added.
 */
int tdxsim_fault_parse(struct tdxsim *sim, const char *spec, char *err, size_t errlen);

/* Times rule @id fired (0 for an unknown id). */
u64 tdxsim_fault_fired(struct tdxsim *sim, int id);
/* Total firings of all rules. */
u64 tdxsim_fault_fired_total(struct tdxsim *sim);
int tdxsim_fault_nr_rules(struct tdxsim *sim);
/* Remove every rule (counters too).  Not concurrent with calls. */
void tdxsim_fault_clear(struct tdxsim *sim);

/*
 * Identity of the calling thread as @sim's rules and traces see it.  Each
 * simulator numbers threads itself: 1, 2, ... in the order they first need a
 * number there (a trace event, a rule with thread=T, or this call), unless a
 * thread names itself first with tdxsim_thread_set_id() (0, or -ENOMEM).
 * Naming or numbering a thread in one simulator changes nothing in another.
 * Thread-safe; each affects the calling thread only.
 */
unsigned int tdxsim_thread_id(struct tdxsim *sim);
int tdxsim_thread_set_id(struct tdxsim *sim, unsigned int id);

#pragma GCC visibility pop

#endif /* TDXSIM_FAULT_H */
