/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel shim: linux/printk.h, asm-generic/bug.h, KVM_BUG_ON and the TDX
 * error helpers, "customised": every message is an event recorded on the
 * raising thread's current simulator with the file:line of its call site,
 * queried with tdxsim_kernel_events()/tdxsim_kernel_last_event().  Nothing
 * aborts (BUG_ON included: it is recorded and execution goes on) and
 * nothing is printed unless tdxsim_kernel_events_verbose() asked for it.
 * pr_debug() is type-checked and dropped, as without DEBUG.
 */
#ifndef TDXSIM_KERNEL_PRINTK_H
#define TDXSIM_KERNEL_PRINTK_H

#include <tdxsim/kernel/base.h>
#include <tdxsim/tdx_errno.h>

#pragma GCC visibility push(default)

struct tdxsim;

enum tdxsim_kernel_event_type {
	TDXSIM_KEV_WARN,	/* WARN, WARN_ON, WARN_ON_ONCE, WARN_ONCE */
	TDXSIM_KEV_KVM_BUG,	/* KVM_BUG_ON */
	TDXSIM_KEV_TDX_BUG,	/* TDX_BUG_ON, TDX_BUG_ON_2, TDX_BUG_ON_3 */
	TDXSIM_KEV_PR_ERR,	/* pr_err, pr_err_once */
	TDXSIM_KEV_PR_WARN,	/* pr_warn, pr_warn_once */
	/* "BUG: sleeping function called from invalid context" (might_sleep) */
	TDXSIM_KEV_SLEEP_IN_ATOMIC,
	/* lockdep: a lockdep_assert_*() that does not hold, an unlock of a lock not held */
	TDXSIM_KEV_LOCKDEP,
	TDXSIM_KEV_PR_INFO,	/* pr_info, pr_notice */
	TDXSIM_KEV_BUG,		/* BUG_ON, BUG */
	TDXSIM_KEV_NR,
};

struct tdxsim_kernel_event {
	enum tdxsim_kernel_event_type type;
	const char *file;	/* the call site (__FILE__ of the macro's user) */
	int line;
	char msg[192];
};

void __tdxsim_kernel_event(enum tdxsim_kernel_event_type type, const char *file, int line,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Records the event unless @site already fired on the current simulator. */
void __tdxsim_kernel_event_once(const void *site, enum tdxsim_kernel_event_type type,
				const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Events are recorded on the raising thread's current simulator
 * (tdxsim_kernel_set_current()), by every thread that has it current; @sim
 * NULL names the events raised by threads with no current simulator.  An
 * event is dropped only if the shim cannot allocate its per-simulator state
 * (or the simulator has no client-data slot left).  All thread-safe.
 */
/* Events of @type recorded on @sim so far. */
unsigned int tdxsim_kernel_events(struct tdxsim *sim, enum tdxsim_kernel_event_type type);
/* The last event of @type on @sim; 0 or -ENOENT. */
int tdxsim_kernel_last_event(struct tdxsim *sim, enum tdxsim_kernel_event_type type,
			     struct tdxsim_kernel_event *ev);
/*
 * The @i-th event (any type, in the order raised) since @sim's last reset,
 * for the first TDXSIM_KERNEL_EVENT_LOG of them; 0 or -ENOENT.
 */
#define TDXSIM_KERNEL_EVENT_LOG	256
int tdxsim_kernel_event_at(struct tdxsim *sim, unsigned int i, struct tdxsim_kernel_event *ev);
/* Forget @sim's events (WARN_ON_ONCE sites that fired stay fired). */
void tdxsim_kernel_events_reset(struct tdxsim *sim);
/* Echo @sim's events to stderr as well (default: quiet).  0 or -ENOMEM. */
int tdxsim_kernel_events_verbose(struct tdxsim *sim, bool on);

/* Checks the format like printk, emits nothing (no_printk). */
static inline __attribute__((format(printf, 1, 2))) int no_printk(const char *fmt, ...)
{
	return 0;
}

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

#define __tdxsim_pr_once(type, fmt, ...) ({					\
	static char __site;							\
	__tdxsim_kernel_event_once(&__site, type, __FILE__, __LINE__, fmt, ##__VA_ARGS__); \
})

#define pr_err(fmt, ...)	__tdxsim_kernel_event(TDXSIM_KEV_PR_ERR, __FILE__, __LINE__, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...)	__tdxsim_kernel_event(TDXSIM_KEV_PR_WARN, __FILE__, __LINE__, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_notice(fmt, ...)	__tdxsim_kernel_event(TDXSIM_KEV_PR_INFO, __FILE__, __LINE__, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...)	__tdxsim_kernel_event(TDXSIM_KEV_PR_INFO, __FILE__, __LINE__, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...)	((void)no_printk(pr_fmt(fmt), ##__VA_ARGS__))
#define pr_err_once(fmt, ...)	__tdxsim_pr_once(TDXSIM_KEV_PR_ERR, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn_once(fmt, ...)	__tdxsim_pr_once(TDXSIM_KEV_PR_WARN, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info_once(fmt, ...)	__tdxsim_pr_once(TDXSIM_KEV_PR_INFO, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn_ratelimited(fmt, ...)	pr_warn(fmt, ##__VA_ARGS__)
#define pr_err_ratelimited(fmt, ...)	pr_err(fmt, ##__VA_ARGS__)

#define WARN_ON(cond) ({							\
	bool __c = !!(cond);							\
	if (unlikely(__c))							\
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__, "WARN_ON(%s)", #cond); \
	__c;									\
})

#define WARN(cond, fmt, ...) ({							\
	bool __c = !!(cond);							\
	if (unlikely(__c))							\
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__, fmt, ##__VA_ARGS__); \
	__c;									\
})

/*
 * Once per call site and simulator: a site that fired in one simulator still
 * fires in another (the kernel's "once per boot" is once per simulator).
 */
#define WARN_ON_ONCE(cond) ({							\
	static char __site;							\
	bool __c = !!(cond);							\
	if (unlikely(__c))							\
		__tdxsim_kernel_event_once(&__site, TDXSIM_KEV_WARN, __FILE__, __LINE__, \
					   "WARN_ON_ONCE(%s)", #cond);		\
	__c;									\
})

#define WARN_ONCE(cond, fmt, ...) ({						\
	static char __site;							\
	bool __c = !!(cond);							\
	if (unlikely(__c))							\
		__tdxsim_kernel_event_once(&__site, TDXSIM_KEV_WARN, __FILE__, __LINE__, \
					   fmt, ##__VA_ARGS__);			\
	__c;									\
})

/* Recorded, and execution goes on: a test sees the BUG instead of dying of it. */
#define BUG_ON(cond) do {							\
	if (unlikely(!!(cond)))							\
		__tdxsim_kernel_event(TDXSIM_KEV_BUG, __FILE__, __LINE__, "BUG_ON(%s)", #cond); \
} while (0)
#define BUG()	__tdxsim_kernel_event(TDXSIM_KEV_BUG, __FILE__, __LINE__, "BUG()")

/* KVM marks the VM bugged; here the event is the mark. */
#define KVM_BUG_ON(cond, kvm) ({						\
	bool __c = !!(cond);							\
	(void)(kvm);								\
	if (unlikely(__c))							\
		__tdxsim_kernel_event(TDXSIM_KEV_KVM_BUG, __FILE__, __LINE__, "KVM_BUG_ON(%s)", #cond); \
	__c;									\
})
#define KVM_BUG(cond, kvm, fmt, ...) ({						\
	bool __c = !!(cond);							\
	(void)(kvm);								\
	if (unlikely(__c))							\
		__tdxsim_kernel_event(TDXSIM_KEV_KVM_BUG, __FILE__, __LINE__, fmt, ##__VA_ARGS__); \
	__c;									\
})

/* @fn_name is a string: stringified by the callers before TDH_* expands to its number. */
#define __TDX_BUG_ON(err, fn_name, fmt, ...) ({					\
	u64 __err = (err);							\
	char __sb[64];								\
	if (unlikely(__err))							\
		__tdxsim_kernel_event(TDXSIM_KEV_TDX_BUG, __FILE__, __LINE__,	\
				      "SEAMCALL %s failed: %s" fmt, fn_name,	\
				      tdxsim_status_name(__err, __sb, sizeof(__sb)), ##__VA_ARGS__); \
	__err != 0;								\
})

#define TDX_BUG_ON(err, fn, kvm)	({ (void)(kvm); __TDX_BUG_ON(err, #fn, ""); })
#define TDX_BUG_ON_2(err, fn, a1, a2, kvm) ({					\
	(void)(kvm);								\
	__TDX_BUG_ON(err, #fn, ", " #a1 " %#llx, " #a2 " %#llx",		\
		     (unsigned long long)(a1), (unsigned long long)(a2));	\
})
#define TDX_BUG_ON_3(err, fn, a1, a2, a3, kvm) ({				\
	(void)(kvm);								\
	__TDX_BUG_ON(err, #fn, ", " #a1 " %#llx, " #a2 " %#llx, " #a3 " %#llx",	\
		     (unsigned long long)(a1), (unsigned long long)(a2),	\
		     (unsigned long long)(a3));					\
})

#pragma GCC visibility pop

#endif /* TDXSIM_KERNEL_PRINTK_H */
