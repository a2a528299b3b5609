// SPDX-License-Identifier: GPL-2.0-only
/*
 * The out-of-line half of the kernel shim (include/tdxsim/kernel.h): the
 * thread's current simulator, recorded WARN/BUG/pr_err events, the lock hook.
 * This is the only thread-local "current simulator" in the library: the
 * kernel's calls name no simulator, so the shim routes them to the thread's.
 * Events and the lock hook belong to a simulator, kept in its client data
 * (the host layer sees the simulator through include/tdxsim/ only).
 */
#include <stdarg.h>

#include <tdxsim/kernel.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static __thread struct tdxsim *current_sim;

void tdxsim_kernel_set_current(struct tdxsim *sim)
{
	current_sim = sim;
}

struct tdxsim *tdxsim_kernel_current(void)
{
	return current_sim;
}

u64 __tdxsim_kernel_seamcall(u64 fn, struct tdx_module_args *args, bool ret)
{
	struct tdx_module_args copy;

	if (!current_sim)
		return TDX_SEAMCALL_VMFAILINVALID;
	if (ret)
		return tdxsim_seamcall(current_sim, fn, args);
	copy = *args;
	return tdxsim_seamcall(current_sim, fn, &copy);
}

struct page *alloc_page(gfp_t gfp)
{
	u64 pa = current_sim ? tdxsim_page_alloc(current_sim, TDX_PS_4K) : 0;

	return pa ? (struct page *)(uintptr_t)pa : NULL;
}

void __free_page(struct page *page)
{
	if (current_sim && page)
		tdxsim_page_free(current_sim, page_to_phys(page), TDX_PS_4K);
}

/*
 * The shim's state of one simulator (tdxsim_client_data under &shim_key):
 * recorded events and the lock hook.  Events raised by a thread with no
 * current simulator go to no_sim, queried with a NULL simulator.
 */
struct shim_state {
	pthread_mutex_t lock;
	unsigned int nr_events[TDXSIM_KEV_NR];
	struct tdxsim_kernel_event last_event[TDXSIM_KEV_NR];
	bool verbose;
	void (*lock_hook)(void *lock, void *arg);
	void *lock_hook_arg;
	/* WARN_ON_ONCE/WARN_ONCE sites that fired on this simulator. */
	const void **once_sites;
	size_t nr_once, once_cap;
};

static const char shim_key;
static struct shim_state no_sim = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void shim_release(void *data)
{
	struct shim_state *st = data;

	pthread_mutex_destroy(&st->lock);
	free(st->once_sites);
	free(st);
}

/* @sim's state; created on first use when @create (NULL: out of memory). */
static struct shim_state *shim_of(struct tdxsim *sim, bool create)
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

void tdxsim_kernel_events_reset(struct tdxsim *sim)
{
	struct shim_state *st = shim_of(sim, false);

	if (!st)
		return;
	pthread_mutex_lock(&st->lock);
	memset(st->nr_events, 0, sizeof(st->nr_events));
	memset(st->last_event, 0, sizeof(st->last_event));
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
