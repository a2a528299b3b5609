/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel shim: linux/spinlock.h, linux/rwlock.h, linux/mutex.h,
 * linux/lockdep.h, linux/preempt.h and might_sleep() (linux/kernel.h),
 * "mapped" onto pthreads and "customised" to check what the kernel checks:
 *
 *  - every lock knows who holds it: each thread keeps the stack of locks it
 *    holds (kind, mode, where taken), as lockdep's held_locks;
 *  - spin_lock(), read_lock(), write_lock() and preempt_disable() enter
 *    atomic context, as they disable preemption in the kernel;
 *    might_sleep() (and everything that sleeps: mutex_lock(), GFP_KERNEL
 *    allocations) there records TDXSIM_KEV_SLEEP_IN_ATOMIC with its
 *    file:line, the kernel's "BUG: sleeping function called from invalid
 *    context";
 *  - lockdep_assert_held*() check the calling thread holds the lock (in the
 *    mode asked) and record TDXSIM_KEV_LOCKDEP with their file:line when not;
 *    so does an unlock of a lock the thread does not hold ("bad unlock
 *    balance"), which then leaves the lock as it is.
 * Events go to the thread's current simulator.  Lock acquisition calls the
 * simulator's lock hook first (tdxsim_kernel_set_lock_hook()), so a test can
 * park a thread at a known point.  Not modelled: irqs (the _irq/_irqsave
 * variants are the plain ones), lock-order (deadlock) checking.
 */
#ifndef TDXSIM_KERNEL_LOCKING_H
#define TDXSIM_KERNEL_LOCKING_H

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <tdxsim/kernel/atomic.h>
#include <tdxsim/kernel/base.h>

#pragma GCC visibility push(default)

struct tdxsim;

/* How a lock is held, and what lockdep_assert_*() asks. */
enum tdxsim_lock_mode {
	TDXSIM_LOCK_EXCLUSIVE,	/* spin_lock, write_lock, mutex_lock */
	TDXSIM_LOCK_SHARED,	/* read_lock */
};

enum tdxsim_lockdep_check {
	TDXSIM_LOCKDEP_HELD,		/* held, either mode */
	TDXSIM_LOCKDEP_HELD_READ,	/* held shared */
	TDXSIM_LOCKDEP_HELD_WRITE,	/* held exclusive */
	TDXSIM_LOCKDEP_NOT_HELD,
};

/*
 * Book-keeping of the calling thread (thread-local; they never block):
 * record an acquired lock (@atomic: it disables preemption), its release,
 * check an assertion, and might_sleep().  Called by the inline lock
 * functions below; kernel code uses those.
 */
void __tdxsim_lock_acquired(const void *lock, enum tdxsim_lock_mode mode, bool atomic,
			    const char *file, int line);
/* false (and a lockdep event): the thread does not hold @lock; the caller then leaves it. */
bool __tdxsim_lock_released(const void *lock, const char *file, int line);
void __tdxsim_lockdep_assert(const void *lock, enum tdxsim_lockdep_check check,
			     const char *file, int line);
void __tdxsim_might_sleep(const char *file, int line);
void __tdxsim_preempt_count_add(int val);
/* Preemption-disable depth of the calling thread: locks held atomically + preempt_disable(). */
int tdxsim_kernel_preempt_count(void);
/* Locks the calling thread holds now. */
unsigned int tdxsim_kernel_locks_held(void);

/*
 * Test hook: called by every spin_lock()/write_lock()/read_lock()/
 * mutex_lock() before it blocks, with the lock's address, in threads whose
 * current simulator is @sim; a test parks a thread here to order a race.
 * NULL disables.  Returns 0 or -ENOMEM.  Set it before the threads start
 * locking.
 */
int tdxsim_kernel_set_lock_hook(struct tdxsim *sim, void (*hook)(void *lock, void *arg),
				void *arg);
void __tdxsim_kernel_lock_hook(void *lock);

#define might_sleep()		__tdxsim_might_sleep(__FILE__, __LINE__)
#define cpu_relax()		sched_yield()
/* Sleeps really (the calling thread); a might_sleep() first, as in the kernel. */
#define msleep(ms) do {								\
	struct timespec __ts = { .tv_sec = (ms) / 1000,				\
				 .tv_nsec = ((ms) % 1000) * 1000000L };		\
	might_sleep();								\
	nanosleep(&__ts, NULL);							\
} while (0)
#define might_sleep_if(cond)	do { if (cond) might_sleep(); } while (0)
#define cond_resched()		({ might_sleep(); 0; })
#define preempt_disable()	__tdxsim_preempt_count_add(1)
#define preempt_enable()	__tdxsim_preempt_count_add(-1)
#define in_atomic()		(tdxsim_kernel_preempt_count() != 0)
#define preemptible()		(tdxsim_kernel_preempt_count() == 0)

#define lockdep_assert_held(l)		__tdxsim_lockdep_assert((l), TDXSIM_LOCKDEP_HELD, __FILE__, __LINE__)
#define lockdep_assert_held_read(l)	__tdxsim_lockdep_assert((l), TDXSIM_LOCKDEP_HELD_READ, __FILE__, __LINE__)
#define lockdep_assert_held_write(l)	__tdxsim_lockdep_assert((l), TDXSIM_LOCKDEP_HELD_WRITE, __FILE__, __LINE__)
#define lockdep_assert_not_held(l)	__tdxsim_lockdep_assert((l), TDXSIM_LOCKDEP_NOT_HELD, __FILE__, __LINE__)
#define lockdep_assert_held_once(l)	lockdep_assert_held(l)

/* ---- spinlock_t ---- */
typedef struct {
	pthread_mutex_t m;
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED(name)	{ PTHREAD_MUTEX_INITIALIZER }
#define DEFINE_SPINLOCK(name)		spinlock_t name = __SPIN_LOCK_UNLOCKED(name)

static inline void spin_lock_init(spinlock_t *l)
{
	pthread_mutex_init(&l->m, NULL);
}

static inline void __tdxsim_spin_lock(spinlock_t *l, const char *file, int line)
{
	__tdxsim_kernel_lock_hook(l);
	pthread_mutex_lock(&l->m);
	__tdxsim_lock_acquired(l, TDXSIM_LOCK_EXCLUSIVE, true, file, line);
}

static inline bool __tdxsim_spin_trylock(spinlock_t *l, const char *file, int line)
{
	if (pthread_mutex_trylock(&l->m))
		return false;
	__tdxsim_lock_acquired(l, TDXSIM_LOCK_EXCLUSIVE, true, file, line);
	return true;
}

static inline void __tdxsim_spin_unlock(spinlock_t *l, const char *file, int line)
{
	if (__tdxsim_lock_released(l, file, line))
		pthread_mutex_unlock(&l->m);
}

#define spin_lock(l)			__tdxsim_spin_lock((l), __FILE__, __LINE__)
#define spin_trylock(l)			__tdxsim_spin_trylock((l), __FILE__, __LINE__)
#define spin_unlock(l)			__tdxsim_spin_unlock((l), __FILE__, __LINE__)
#define spin_lock_irq(l)		spin_lock(l)
#define spin_unlock_irq(l)		spin_unlock(l)
#define spin_lock_bh(l)			spin_lock(l)
#define spin_unlock_bh(l)		spin_unlock(l)
#define spin_lock_irqsave(l, flags)	do { (flags) = 0; spin_lock(l); } while (0)
#define spin_unlock_irqrestore(l, flags) do { (void)(flags); spin_unlock(l); } while (0)

/*
 * linux/spinlock.h's atomic_dec_and_lock(): decrement @v; if it reaches 0,
 * return true with @l held (taken before the last decrement, so nobody sees
 * 0 without the lock).  Dynamic PAMT v6's tdx_pamt_put() is built on it.
 */
#define atomic_dec_and_lock(v, l) ({						\
	atomic_t *__v = (v);							\
	spinlock_t *__l = (l);							\
	bool __locked = false;							\
	if (!atomic_add_unless(__v, -1, 1)) {				\
		spin_lock(__l);							\
		if (atomic_dec_and_test(__v))					\
			__locked = true;					\
		else								\
			spin_unlock(__l);					\
	}									\
	__locked;								\
})

/* ---- rwlock_t (KVM's mmu_lock on x86) ---- */
typedef struct {
	pthread_rwlock_t l;
} rwlock_t;

#define __RW_LOCK_UNLOCKED(name)	{ PTHREAD_RWLOCK_INITIALIZER }
#define DEFINE_RWLOCK(name)		rwlock_t name = __RW_LOCK_UNLOCKED(name)

static inline void rwlock_init(rwlock_t *l)
{
	pthread_rwlock_init(&l->l, NULL);
}

static inline void __tdxsim_read_lock(rwlock_t *l, const char *file, int line)
{
	__tdxsim_kernel_lock_hook(l);
	pthread_rwlock_rdlock(&l->l);
	__tdxsim_lock_acquired(l, TDXSIM_LOCK_SHARED, true, file, line);
}

static inline void __tdxsim_write_lock(rwlock_t *l, const char *file, int line)
{
	__tdxsim_kernel_lock_hook(l);
	pthread_rwlock_wrlock(&l->l);
	__tdxsim_lock_acquired(l, TDXSIM_LOCK_EXCLUSIVE, true, file, line);
}

static inline void __tdxsim_rw_unlock(rwlock_t *l, const char *file, int line)
{
	if (__tdxsim_lock_released(l, file, line))
		pthread_rwlock_unlock(&l->l);
}

#define read_lock(l)		__tdxsim_read_lock((l), __FILE__, __LINE__)
#define read_unlock(l)		__tdxsim_rw_unlock((l), __FILE__, __LINE__)
#define write_lock(l)		__tdxsim_write_lock((l), __FILE__, __LINE__)
#define write_unlock(l)		__tdxsim_rw_unlock((l), __FILE__, __LINE__)

/* ---- struct mutex: sleeps, so taking one is a might_sleep() ---- */
struct mutex {
	pthread_mutex_t m;
};

#define __MUTEX_INITIALIZER(name)	{ PTHREAD_MUTEX_INITIALIZER }
#define DEFINE_MUTEX(name)		struct mutex name = __MUTEX_INITIALIZER(name)

static inline void mutex_init(struct mutex *m)
{
	pthread_mutex_init(&m->m, NULL);
}

static inline void mutex_destroy(struct mutex *m)
{
	pthread_mutex_destroy(&m->m);
}

static inline void __tdxsim_mutex_lock(struct mutex *m, const char *file, int line)
{
	__tdxsim_might_sleep(file, line);
	__tdxsim_kernel_lock_hook(m);
	pthread_mutex_lock(&m->m);
	__tdxsim_lock_acquired(m, TDXSIM_LOCK_EXCLUSIVE, false, file, line);
}

static inline bool __tdxsim_mutex_trylock(struct mutex *m, const char *file, int line)
{
	if (pthread_mutex_trylock(&m->m))
		return false;
	__tdxsim_lock_acquired(m, TDXSIM_LOCK_EXCLUSIVE, false, file, line);
	return true;
}

static inline void __tdxsim_mutex_unlock(struct mutex *m, const char *file, int line)
{
	if (__tdxsim_lock_released(m, file, line))
		pthread_mutex_unlock(&m->m);
}

#define mutex_lock(m)		__tdxsim_mutex_lock((m), __FILE__, __LINE__)
#define mutex_trylock(m)	__tdxsim_mutex_trylock((m), __FILE__, __LINE__)
#define mutex_unlock(m)		__tdxsim_mutex_unlock((m), __FILE__, __LINE__)

#pragma GCC visibility pop

#endif /* TDXSIM_KERNEL_LOCKING_H */
