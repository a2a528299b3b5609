/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The scheduling hook: one callback per simulator, called at the points where
 * the module's behaviour depends on what other threads do, so that a
 * controlled scheduler (or a test) can make each one a scheduling point.
 *
 * When it is called, on the calling thread:
 *  - TDXSIM_HOOK_ENTRY: at the entry of every tdxsim_seamcall() and
 *    tdxsim_tdcall(), before any check (an unknown leaf too), before fault
 *    injection; nothing is locked yet.
 *  - TDXSIM_HOOK_LOCK: after each try-lock attempt the module makes, with
 *    its outcome (acquired, or not: the call will fail with .operand BUSY, or,
 *    for the guest's S-EPT entry lock, TDX_OPERAND_BUSY|RCX).  The module never
 *    waits for a lock, so the attempt is already decided; the hook sees it
 *    before the call goes on.
 *  - TDXSIM_HOOK_EXIT: when the leaf has finished and its status is final,
 *    BEFORE the call releases its locks.  A hook that parks the thread here
 *    keeps every lock the call took (the state a preempted SEAMCALL would be
 *    in at its last instruction), so another thread can be made to collide
 *    with it deterministically.  Statistics and the trace event of the call
 *    are recorded after this point.
 * Every call sees exactly one ENTRY and one EXIT, in that order, with the
 * same .seq; LOCK events come in between.  The hook in force at ENTRY is used
 * for the whole call.
 *
 * What a hook may do: block or park the calling thread for as long as it
 * likes (that is the point: the module holds no mutex at any hook point, only
 * its own try-locks, which other threads see as BUSY); issue calls on the same
 * simulator from other threads; read introspection (tdxsim_seq(),
 * tdxsim_pamt_lookup(), statistics).  It must not call tdxsim_seamcall() or
 * tdxsim_tdcall() on the same simulator from the hook itself (the call's own
 * locks are held: the nested call would see them BUSY and re-enter the hook),
 * nor tdxsim_check() or tdxsim_destroy() (they need a quiescent simulator),
 * nor tdxsim_set_hook().
 *
 * Thread safety: the hook is called concurrently from every thread that
 * calls into the simulator; it is its own job to synchronise.  Cost when no
 * hook is set: one predictable branch per point.
 */
#ifndef TDXSIM_HOOK_H
#define TDXSIM_HOOK_H

#include <stdbool.h>
#include <tdxsim/types.h>

#pragma GCC visibility push(default)

struct tdxsim;
struct tdx_module_args;

enum tdxsim_hook_point {
	TDXSIM_HOOK_ENTRY,
	TDXSIM_HOOK_LOCK,
	TDXSIM_HOOK_EXIT,
};

/* The module's locks (the try-locks of the module's sharex and PAMT locks). */
enum tdxsim_hook_lock {
	TDXSIM_HOOK_LOCK_NONE,		/* ENTRY and EXIT */
	/*
	 * A PAMT entry: .pa is the start of the page or range it covers, .level
	 * its level.  The TDR, TDVPR and TDCX pages, guest and S-EPT pages, and
	 * the parents a PAMT walk holds shared on its way down (the 1GB entry,
	 * then the 2MB entry unless the walk stops there), as pamt_walk() does.
	 * A walk that stops above 4K with an exclusive lock takes the entry
	 * shared and then tries to promote it: a second, exclusive, event.
	 * A page whose level the leaf already knows (REMOVE's and SEPT.REMOVE's
	 * page, the page DEMOTE splits, the TDR behind a TDVPR or a reclaimed
	 * page) is locked without a walk: its entry alone, after (Dynamic PAMT,
	 * 4K) its 2MB entry shared.
	 */
	TDXSIM_HOOK_LOCK_PAMT,
	TDXSIM_HOOK_LOCK_OP_STATE,	/* the TD's op_state lock; .pa = TDR */
	TDXSIM_HOOK_LOCK_SEPT_TREE,	/* the TD's secure_ept_lock; .pa = TDR, .gpa/.level */
	TDXSIM_HOOK_LOCK_SEPT_ENTRY,	/* an S-EPT entry lock, host side; .gpa/.level */
	TDXSIM_HOOK_LOCK_SEPT_ENTRY_GUEST, /* the same lock, taken by the guest (ACCEPT) */
	TDXSIM_HOOK_LOCK_EPOCH,		/* the TD's epoch lock (TRACK, VP.ENTER); .pa = TDR */
};

struct tdxsim_hook_event {
	enum tdxsim_hook_point point;
	unsigned int leaf;		/* RAX bits 15:0 as given (may be unknown) */
	bool tdcall;			/* a TDCALL leaf (TDG_*), not a SEAMCALL */
	u64 seq;			/* the call's sequence number (tdxsim_seq()) */
	unsigned int cpu;		/* the logical CPU the call runs on */
	/*
	 * ENTRY: the input registers.  EXIT: the output registers as the call
	 * returns them.  LOCK: the registers as they are now.  Read-only.
	 */
	const struct tdx_module_args *args;
	u64 status;			/* EXIT: the completion status; else 0 */
	/* LOCK only: */
	enum tdxsim_hook_lock lock;
	u32 operand;			/* operand id a BUSY on this lock reports */
	u64 pa;				/* HPA concerned (see the lock kinds), or 0 */
	u64 gpa;			/* GPA concerned (S-EPT locks), or 0 */
	int level;			/* TDX level of .pa/.gpa, or -1 */
	bool exclusive;			/* exclusive (else shared) */
	bool acquired;			/* false: the attempt failed (BUSY) */
};

typedef void (*tdxsim_hook_fn)(void *arg, const struct tdxsim_hook_event *ev);

/*
 * Set (or with @fn NULL, clear) @sim's hook.  Not thread-safe against calls
 * in flight on @sim: set it before the threads start calling, clear it after
 * they are done.  Never fails.
 */
void tdxsim_set_hook(struct tdxsim *sim, tdxsim_hook_fn fn, void *arg);

/* Name of a lock kind or point ("pamt", "op_state", ...; "exit"), for messages. */
const char *tdxsim_hook_lock_name(enum tdxsim_hook_lock lock);
const char *tdxsim_hook_point_name(enum tdxsim_hook_point point);

#pragma GCC visibility pop

#endif /* TDXSIM_HOOK_H */
