// SPDX-License-Identifier: GPL-2.0-only
/*
 * The out-of-line half of the kernel shim (include/tdxsim/kernel.h): the
 * thread's current simulator, recorded WARN/BUG/pr_err events, the lock hook.
 * This is the only thread-local "current simulator" in the library.
 */
#include <stdarg.h>

#include <tdxsim/kernel.h>

#include <errno.h>
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

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int nr_events[TDXSIM_KEV_NR];
static struct tdxsim_kernel_event last_event[TDXSIM_KEV_NR];
static bool events_verbose;

void __tdxsim_kernel_event(enum tdxsim_kernel_event_type type, const char *file, int line,
			   const char *fmt, ...)
{
	struct tdxsim_kernel_event ev = { .type = type, .file = file, .line = line };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev.msg, sizeof(ev.msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&events_lock);
	nr_events[type]++;
	last_event[type] = ev;
	if (events_verbose)
		fprintf(stderr, "%s:%d: %s\n", file, line, ev.msg);
	pthread_mutex_unlock(&events_lock);
}

unsigned int tdxsim_kernel_events(enum tdxsim_kernel_event_type type)
{
	unsigned int n;

	if (type >= TDXSIM_KEV_NR)
		return 0;
	pthread_mutex_lock(&events_lock);
	n = nr_events[type];
	pthread_mutex_unlock(&events_lock);
	return n;
}

int tdxsim_kernel_last_event(enum tdxsim_kernel_event_type type, struct tdxsim_kernel_event *ev)
{
	int ret = -ENOENT;

	if (type >= TDXSIM_KEV_NR)
		return -ENOENT;
	pthread_mutex_lock(&events_lock);
	if (nr_events[type]) {
		*ev = last_event[type];
		ret = 0;
	}
	pthread_mutex_unlock(&events_lock);
	return ret;
}

void tdxsim_kernel_events_reset(void)
{
	pthread_mutex_lock(&events_lock);
	memset(nr_events, 0, sizeof(nr_events));
	memset(last_event, 0, sizeof(last_event));
	pthread_mutex_unlock(&events_lock);
}

void tdxsim_kernel_events_verbose(bool on)
{
	events_verbose = on;
}

static void (*lock_hook)(void *lock, void *arg);
static void *lock_hook_arg;

void tdxsim_kernel_set_lock_hook(void (*hook)(void *lock, void *arg), void *arg)
{
	lock_hook_arg = arg;
	__atomic_store_n(&lock_hook, hook, __ATOMIC_RELEASE);
}

void __tdxsim_kernel_lock_hook(void *lock)
{
	void (*hook)(void *, void *) = __atomic_load_n(&lock_hook, __ATOMIC_ACQUIRE);

	if (hook)
		hook(lock, lock_hook_arg);
}
