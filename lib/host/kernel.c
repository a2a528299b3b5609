// SPDX-License-Identifier: GPL-2.0-only
/*
 * The out-of-line half of the kernel shim (include/tdxsim/kernel.h): the
 * thread's current simulator, recorded WARN/BUG/pr_err events, the lock hook,
 * and the per-thread book-keeping of held locks behind lockdep_assert_*() and
 * might_sleep().  kernel_mm.c has the memmap and allocator, kernel_tdx.c the
 * SEAMCALL entry points and asm/tdx.h.
 * This is the only thread-local "current simulator" in the library: the
 * kernel's calls name no simulator, so the shim routes them to the thread's.
 * Events and the lock hook belong to a simulator, kept in its client data
 * (the host layer sees the simulator through include/tdxsim/ only).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel-internal.h"

static __thread struct tdxsim *current_sim;

void tdxsim_kernel_set_current(struct tdxsim *sim)
{
	current_sim = sim;
}

struct tdxsim *tdxsim_kernel_current(void)
{
	return current_sim;
}

struct tdxsim *shim_current(void)
{
	return current_sim;
}

static const char shim_key;
static struct shim_state no_sim = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void shim_release(void *data)
{
	struct shim_state *st = data;

	pthread_mutex_destroy(&st->lock);
	shim_mm_release(st->mm);
	free(st->sysinfo);
	free(st->once_sites);
	free(st->log);
	free(st);
}

/* @sim's state; created on first use when @create (NULL: out of memory). */
struct shim_state *shim_of(struct tdxsim *sim, bool create)
{
	struct shim_state *st, *cur;

	if (!sim)
		return &no_sim;
	st = tdxsim_client_data(sim, &shim_key);
	if (st || !create)
		return st;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	pthread_mutex_init(&st->lock, NULL);
	cur = tdxsim_client_data_attach(sim, &shim_key, st, shim_release);
	if (cur != st)		/* another thread attached first, or no slot left */
		shim_release(st);
	return cur;
}

/*
 * The library does not print: except here, when the user asked for it with
 * tdxsim_kernel_events_verbose() (the shim stands in for the kernel's log).
 */
static void shim_record(struct shim_state *st, const void *site,
			enum tdxsim_kernel_event_type type, const char *file, int line,
			const char *fmt, va_list ap)
{
	struct tdxsim_kernel_event ev = { .type = type, .file = file, .line = line };

	vsnprintf(ev.msg, sizeof(ev.msg), fmt, ap);
	pthread_mutex_lock(&st->lock);
	if (site) {
		for (size_t i = 0; i < st->nr_once; i++) {
			if (st->once_sites[i] == site)
				goto out;
		}
		if (st->nr_once == st->once_cap) {
			size_t cap = st->once_cap ? 2 * st->once_cap : 16;
			const void **sites = realloc(st->once_sites, cap * sizeof(*sites));

			/* Out of memory: the site may fire again, the event is kept. */
			if (sites) {
				st->once_sites = sites;
				st->once_cap = cap;
			}
		}
		if (st->nr_once < st->once_cap)
			st->once_sites[st->nr_once++] = site;
	}
	st->nr_events[type]++;
	st->last_event[type] = ev;
	if (st->nr_log < TDXSIM_KERNEL_EVENT_LOG) {
		if (!st->log)	/* out of memory: counted, not logged */
			st->log = calloc(TDXSIM_KERNEL_EVENT_LOG, sizeof(*st->log));
		if (st->log)
			st->log[st->nr_log++] = ev;
	}
	if (st->verbose)
		fprintf(stderr, "%s:%d: %s\n", file, line, ev.msg);
out:
	pthread_mutex_unlock(&st->lock);
}

/*
 * The library does not print: except here, when the user asked for it with
 * tdxsim_kernel_events_verbose() (the shim stands in for the kernel's log).
 */
void __tdxsim_kernel_event(enum tdxsim_kernel_event_type type, const char *file, int line,
			   const char *fmt, ...)
{
	struct shim_state *st = shim_of(current_sim, true);
	va_list ap;

	if (!st || type >= TDXSIM_KEV_NR)
		return;		/* no memory for the simulator's shim state: dropped */
	va_start(ap, fmt);
	shim_record(st, NULL, type, file, line, fmt, ap);
	va_end(ap);
}

void __tdxsim_kernel_event_once(const void *site, enum tdxsim_kernel_event_type type,
				const char *file, int line, const char *fmt, ...)
{
	struct shim_state *st = shim_of(current_sim, true);
	va_list ap;

	if (!st || type >= TDXSIM_KEV_NR)
		return;
	va_start(ap, fmt);
	shim_record(st, site, type, file, line, fmt, ap);
	va_end(ap);
}

unsigned int tdxsim_kernel_events(struct tdxsim *sim, enum tdxsim_kernel_event_type type)
{
	struct shim_state *st = shim_of(sim, false);
	unsigned int n;

	if (!st || type >= TDXSIM_KEV_NR)
		return 0;
	pthread_mutex_lock(&st->lock);
	n = st->nr_events[type];
	pthread_mutex_unlock(&st->lock);
	return n;
}

int tdxsim_kernel_last_event(struct tdxsim *sim, enum tdxsim_kernel_event_type type,
			     struct tdxsim_kernel_event *ev)
{
	struct shim_state *st = shim_of(sim, false);
	int ret = -ENOENT;

	if (!st || type >= TDXSIM_KEV_NR)
		return -ENOENT;
	pthread_mutex_lock(&st->lock);
	if (st->nr_events[type]) {
		*ev = st->last_event[type];
		ret = 0;
	}
	pthread_mutex_unlock(&st->lock);
	return ret;
}

int tdxsim_kernel_event_at(struct tdxsim *sim, unsigned int i, struct tdxsim_kernel_event *ev)
{
	struct shim_state *st = shim_of(sim, false);
	int ret = -ENOENT;

	if (!st)
		return -ENOENT;
	pthread_mutex_lock(&st->lock);
	if (i < st->nr_log) {
		*ev = st->log[i];
		ret = 0;
	}
	pthread_mutex_unlock(&st->lock);
	return ret;
}

void tdxsim_kernel_events_reset(struct tdxsim *sim)
{
	struct shim_state *st = shim_of(sim, false);

	if (!st)
		return;
	pthread_mutex_lock(&st->lock);
	memset(st->nr_events, 0, sizeof(st->nr_events));
	memset(st->last_event, 0, sizeof(st->last_event));
	st->nr_log = 0;
	pthread_mutex_unlock(&st->lock);
}

int tdxsim_kernel_events_verbose(struct tdxsim *sim, bool on)
{
	struct shim_state *st = shim_of(sim, true);

	if (!st)
		return -ENOMEM;
	pthread_mutex_lock(&st->lock);
	st->verbose = on;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

int tdxsim_kernel_set_lock_hook(struct tdxsim *sim, void (*hook)(void *lock, void *arg),
				void *arg)
{
	struct shim_state *st = shim_of(sim, true);

	if (!st)
		return -ENOMEM;
	pthread_mutex_lock(&st->lock);
	st->lock_hook_arg = arg;
	__atomic_store_n(&st->lock_hook, hook, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void __tdxsim_kernel_lock_hook(void *lock)
{
	struct shim_state *st = shim_of(current_sim, false);
	void (*hook)(void *, void *);

	if (!st)
		return;
	hook = __atomic_load_n(&st->lock_hook, __ATOMIC_ACQUIRE);
	if (hook)
		hook(lock, st->lock_hook_arg);
}

/*
 * ---- held locks, preemption, lockdep ----
 * Per thread, as lockdep keeps held_locks per task: a lock is held by the
 * thread that took it, whatever simulator it is current in.
 */
#define MAX_LOCK_DEPTH	48	/* lockdep's */

struct held_lock {
	const void *lock;
	enum tdxsim_lock_mode mode;
	bool atomic;
	const char *file;
	int line;
};

static __thread struct held_lock held_locks[MAX_LOCK_DEPTH];
static __thread unsigned int nr_held;
static __thread int preempt_count;

void __tdxsim_preempt_count_add(int val)
{
	preempt_count += val;
	if (preempt_count < 0) {
		preempt_count = 0;
		__tdxsim_kernel_event(TDXSIM_KEV_WARN, __FILE__, __LINE__,
				      "preempt_enable() without preempt_disable()");
	}
}

int tdxsim_kernel_preempt_count(void)
{
	return preempt_count;
}

unsigned int tdxsim_kernel_locks_held(void)
{
	return nr_held;
}

void __tdxsim_lock_acquired(const void *lock, enum tdxsim_lock_mode mode, bool atomic,
			    const char *file, int line)
{
	if (atomic)
		preempt_count++;
	if (nr_held == MAX_LOCK_DEPTH) {
		/* Still counted for atomic context; lockdep gives up as here. */
		__tdxsim_kernel_event(TDXSIM_KEV_LOCKDEP, file, line,
				      "BUG: MAX_LOCK_DEPTH too low! taking %p", lock);
		return;
	}
	held_locks[nr_held++] = (struct held_lock){
		.lock = lock, .mode = mode, .atomic = atomic, .file = file, .line = line,
	};
}

bool __tdxsim_lock_released(const void *lock, const char *file, int line)
{
	unsigned int i = nr_held;

	while (i-- > 0) {
		if (held_locks[i].lock != lock)
			continue;
		if (held_locks[i].atomic)
			preempt_count--;
		memmove(&held_locks[i], &held_locks[i + 1],
			(nr_held - i - 1) * sizeof(held_locks[0]));
		nr_held--;
		return true;
	}
	__tdxsim_kernel_event(TDXSIM_KEV_LOCKDEP, file, line,
			      "WARNING: bad unlock balance detected! %p is being released "
			      "but is not held by this thread", lock);
	return false;
}

static const struct held_lock *held_lock_find(const void *lock)
{
	unsigned int i = nr_held;

	while (i-- > 0) {
		if (held_locks[i].lock == lock)
			return &held_locks[i];
	}
	return NULL;
}

void __tdxsim_lockdep_assert(const void *lock, enum tdxsim_lockdep_check check,
			     const char *file, int line)
{
	const struct held_lock *hl = held_lock_find(lock);
	const char *want;

	switch (check) {
	case TDXSIM_LOCKDEP_HELD:
		if (hl)
			return;
		want = "lockdep_assert_held";
		break;
	case TDXSIM_LOCKDEP_HELD_READ:
		if (hl && hl->mode == TDXSIM_LOCK_SHARED)
			return;
		want = "lockdep_assert_held_read";
		break;
	case TDXSIM_LOCKDEP_HELD_WRITE:
		if (hl && hl->mode == TDXSIM_LOCK_EXCLUSIVE)
			return;
		want = "lockdep_assert_held_write";
		break;
	case TDXSIM_LOCKDEP_NOT_HELD:
		if (!hl)
			return;
		want = "lockdep_assert_not_held";
		break;
	default:
		return;
	}
	if (hl)
		__tdxsim_kernel_event(TDXSIM_KEV_LOCKDEP, file, line,
				      "%s(%p) failed: held %s, taken at %s:%d", want, lock,
				      hl->mode == TDXSIM_LOCK_SHARED ? "shared" : "exclusive",
				      hl->file, hl->line);
	else
		__tdxsim_kernel_event(TDXSIM_KEV_LOCKDEP, file, line,
				      "%s(%p) failed: not held", want, lock);
}

void __tdxsim_might_sleep(const char *file, int line)
{
	const struct held_lock *hl = NULL;
	unsigned int i = nr_held;

	if (!preempt_count)
		return;
	/* Name the innermost lock that made the context atomic. */
	while (i-- > 0) {
		if (held_locks[i].atomic) {
			hl = &held_locks[i];
			break;
		}
	}
	if (hl)
		__tdxsim_kernel_event(TDXSIM_KEV_SLEEP_IN_ATOMIC, file, line,
				      "BUG: sleeping function called from invalid context at %s:%d "
				      "(preempt_count %d, holding %p taken at %s:%d)",
				      file, line, preempt_count, hl->lock, hl->file, hl->line);
	else
		__tdxsim_kernel_event(TDXSIM_KEV_SLEEP_IN_ATOMIC, file, line,
				      "BUG: sleeping function called from invalid context at %s:%d "
				      "(preempt_count %d)", file, line, preempt_count);
}
