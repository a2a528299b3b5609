/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel shim: lets kernel-shaped SEAMCALL wrapper code compile and run in
 * user space against the simulator.
 *
 * Stand-ins, by kind (as in the kernel's tools/testing harnesses):
 *  - routed:     seamcall(), seamcall_ret(), seamcall_saved_ret() go to the
 *                thread's current simulator (tdxsim_kernel_set_current());
 *                alloc_page()/__free_page() to its host page allocator.
 *  - recorded:   WARN_ON*, KVM_BUG_ON, TDX_BUG_ON*, pr_err/pr_warn are events a
 *                test asserts on (tdxsim_kernel_events()), recorded on the
 *                thread's current simulator; they never abort.
 *  - mapped:     spinlock_t -> pthread mutex, rwlock_t -> pthread rwlock,
 *                atomic_t -> C11-style builtins.  Lock acquisition can call a
 *                test hook first, to park a thread at a known point.
 *  - simplified: struct page * is the page's physical address; nothing
 *                dereferences it.
 */
#ifndef TDXSIM_KERNEL_H
#define TDXSIM_KERNEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <tdxsim/tdxsim.h>

#pragma GCC visibility push(default)

/* ---- bits, pages ---- */
#define BIT(n)			(1UL << (n))
#define BIT_ULL(n)		(1ULL << (n))
#define GENMASK(h, l)		(((~0UL) << (l)) & (~0UL >> (63 - (h))))
#define GENMASK_ULL(h, l)	(((~0ULL) << (l)) & (~0ULL >> (63 - (h))))
#ifndef PAGE_SHIFT
#define PAGE_SHIFT		12
#endif
#ifndef PAGE_SIZE
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#endif
#define PMD_SHIFT		21
#define PMD_SIZE		(1UL << PMD_SHIFT)
#define PTRS_PER_PMD		512
#define PTE_SHIFT		9
#define ALIGN_DOWN(x, a)	((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#define PFN_PHYS(pfn)		((u64)(pfn) << PAGE_SHIFT)
#define PHYS_PFN(pa)		((u64)(pa) >> PAGE_SHIFT)
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define unlikely(x)		__builtin_expect(!!(x), 0)
#define likely(x)		__builtin_expect(!!(x), 1)

typedef u64 kvm_pfn_t;
typedef u64 hpa_t;
typedef u64 gpa_t;
typedef u64 gfn_t;
typedef unsigned int gfp_t;
#define GFP_KERNEL		0U
#define GFP_KERNEL_ACCOUNT	0U

struct page;	/* never defined: a struct page * is the page's physical address */

static inline u64 page_to_phys(const struct page *page)
{
	return (u64)(uintptr_t)page;
}

static inline u64 page_to_pfn(const struct page *page)
{
	return page_to_phys(page) >> PAGE_SHIFT;
}

static inline struct page *pfn_to_page(u64 pfn)
{
	return (struct page *)(uintptr_t)(pfn << PAGE_SHIFT);
}

/* The current simulator's host allocator (NULL when it has no memory left). */
struct page *alloc_page(gfp_t gfp);
void __free_page(struct page *page);

/* ---- the SEAMCALL entry points ---- */

/*
 * Bind the calling thread to @sim (NULL unbinds).  A thread with no current
 * simulator gets TDX_SEAMCALL_VMFAILINVALID, as with no module loaded.
 */
void tdxsim_kernel_set_current(struct tdxsim *sim);
struct tdxsim *tdxsim_kernel_current(void);

u64 __tdxsim_kernel_seamcall(u64 fn, struct tdx_module_args *args, bool ret);

/* Outputs are not written back. */
static inline u64 seamcall(u64 fn, struct tdx_module_args *args)
{
	return __tdxsim_kernel_seamcall(fn, args, false);
}

static inline u64 seamcall_ret(u64 fn, struct tdx_module_args *args)
{
	return __tdxsim_kernel_seamcall(fn, args, true);
}

/* R12 and up are inputs/outputs too (the kernel saves them around the call). */
static inline u64 seamcall_saved_ret(u64 fn, struct tdx_module_args *args)
{
	return __tdxsim_kernel_seamcall(fn, args, true);
}

/* ---- recorded events ---- */
enum tdxsim_kernel_event_type {
	TDXSIM_KEV_WARN,
	TDXSIM_KEV_KVM_BUG,
	TDXSIM_KEV_TDX_BUG,
	TDXSIM_KEV_PR_ERR,
	TDXSIM_KEV_PR_WARN,
	TDXSIM_KEV_NR,
};

struct tdxsim_kernel_event {
	enum tdxsim_kernel_event_type type;
	const char *file;
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
/* Forget @sim's events (WARN_ON_ONCE sites that fired stay fired). */
void tdxsim_kernel_events_reset(struct tdxsim *sim);
/* Echo @sim's events to stderr as well (default: quiet).  0 or -ENOMEM. */
int tdxsim_kernel_events_verbose(struct tdxsim *sim, bool on);

#define pr_err(fmt, ...)	__tdxsim_kernel_event(TDXSIM_KEV_PR_ERR, __FILE__, __LINE__, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)	__tdxsim_kernel_event(TDXSIM_KEV_PR_WARN, __FILE__, __LINE__, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)	((void)0)
#define pr_debug(fmt, ...)	((void)0)

#define WARN_ON(cond) ({							\
	bool __c = !!(cond);							\
	if (unlikely(__c))							\
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__, "WARN_ON(%s)", #cond); \
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

/* KVM marks the VM bugged; here the event is the mark. */
#define KVM_BUG_ON(cond, kvm) ({						\
	bool __c = !!(cond);							\
	(void)(kvm);								\
	if (unlikely(__c))							\
		__tdxsim_kernel_event(TDXSIM_KEV_KVM_BUG, __FILE__, __LINE__, "KVM_BUG_ON(%s)", #cond); \
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

/* ---- locks ---- */
typedef struct {
	pthread_mutex_t m;
} spinlock_t;

typedef struct {
	pthread_rwlock_t l;
} rwlock_t;

#define __SPIN_LOCK_UNLOCKED(name)	{ PTHREAD_MUTEX_INITIALIZER }
#define DEFINE_SPINLOCK(name)		spinlock_t name = __SPIN_LOCK_UNLOCKED(name)
#define DEFINE_RWLOCK(name)		rwlock_t name = { PTHREAD_RWLOCK_INITIALIZER }

/*
 * Test hook: called by every spin_lock()/write_lock()/read_lock() before it
 * blocks, with the lock's address, in threads whose current simulator is
 * @sim; a test parks a thread here to order a race.  NULL disables.  Returns
 * 0 or -ENOMEM.  Set it before the threads start locking.
 */
int tdxsim_kernel_set_lock_hook(struct tdxsim *sim, void (*hook)(void *lock, void *arg),
				void *arg);
void __tdxsim_kernel_lock_hook(void *lock);

static inline void spin_lock_init(spinlock_t *l)
{
	pthread_mutex_init(&l->m, NULL);
}

static inline void spin_lock(spinlock_t *l)
{
	__tdxsim_kernel_lock_hook(l);
	pthread_mutex_lock(&l->m);
}

static inline void spin_unlock(spinlock_t *l)
{
	pthread_mutex_unlock(&l->m);
}

static inline void rwlock_init(rwlock_t *l)
{
	pthread_rwlock_init(&l->l, NULL);
}

static inline void read_lock(rwlock_t *l)
{
	__tdxsim_kernel_lock_hook(l);
	pthread_rwlock_rdlock(&l->l);
}

static inline void read_unlock(rwlock_t *l)
{
	pthread_rwlock_unlock(&l->l);
}

static inline void write_lock(rwlock_t *l)
{
	__tdxsim_kernel_lock_hook(l);
	pthread_rwlock_wrlock(&l->l);
}

static inline void write_unlock(rwlock_t *l)
{
	pthread_rwlock_unlock(&l->l);
}

#define lockdep_assert_held(l)		((void)(l))
#define lockdep_assert_held_write(l)	((void)(l))

/* ---- atomics ---- */
typedef struct {
	int counter;
} atomic_t;

#define ATOMIC_INIT(i)	{ (i) }

static inline int atomic_read(const atomic_t *v)
{
	return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);
}

static inline void atomic_set(atomic_t *v, int i)
{
	__atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);
}

static inline void atomic_inc(atomic_t *v)
{
	__atomic_fetch_add(&v->counter, 1, __ATOMIC_SEQ_CST);
}

static inline void atomic_dec(atomic_t *v)
{
	__atomic_fetch_sub(&v->counter, 1, __ATOMIC_SEQ_CST);
}

static inline bool atomic_dec_and_test(atomic_t *v)
{
	return __atomic_sub_fetch(&v->counter, 1, __ATOMIC_SEQ_CST) == 0;
}

static inline bool atomic_inc_not_zero(atomic_t *v)
{
	int c = atomic_read(v);

	do {
		if (!c)
			return false;
	} while (!__atomic_compare_exchange_n(&v->counter, &c, c + 1, true, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	return true;
}

static inline int atomic_cmpxchg(atomic_t *v, int old, int new)
{
	__atomic_compare_exchange_n(&v->counter, &old, new, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	return old;
}

static inline int atomic_cmpxchg_release(atomic_t *v, int old, int new)
{
	__atomic_compare_exchange_n(&v->counter, &old, new, false, __ATOMIC_RELEASE,
				    __ATOMIC_RELAXED);
	return old;
}

#pragma GCC visibility pop

#endif /* TDXSIM_KERNEL_H */
