// SPDX-License-Identifier: GPL-2.0-only
/*
 * Simulators in one process share nothing: two simulators driven by two
 * threads at the same time, with different fault rules, trace rings,
 * scheduling hooks, kernel-shim events (WARN_ON_ONCE included) and lock
 * hooks, CPU bindings and thread numbers, each see only their own.  The one thread-local the shim
 * keeps (the current simulator) routes each thread's events to its own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include <tdxsim/fault.h>
#include <tdxsim/trace.h>
#include <tdxsim/kernel.h>

#define CALLS		120
#define RING		1024

struct side {
	/* Set up by the main thread. */
	const char *name;
	u64 mem_base;
	const char *rules;
	u64 busy;		/* the status this side's rule injects */
	unsigned int every;	/* ... on every Nth TRACK */
	unsigned int cpu;	/* the worker's CPU in this simulator */
	unsigned int warns;	/* WARN_ON events the worker raises */
	struct tdxsim_config cfg;
	struct tdxsim *sim;
	struct tdxsim_td *td;
	spinlock_t lock;
	/* Written by the worker, checked by the main thread. */
	u64 st[CALLS];
	unsigned int thread_id, cpu_seen, cpu_other;
	/* Written by the hooks. */
	unsigned int hook_calls, lock_hook_calls;
	struct side *other;
	pthread_barrier_t *start;
};

static void count_hook(void *arg, const struct tdxsim_hook_event *ev)
{
	struct side *s = arg;

	/* Only this side's worker calls into this side's simulator. */
	if (ev->point == TDXSIM_HOOK_ENTRY)
		__atomic_fetch_add(&s->hook_calls, 1, __ATOMIC_RELAXED);
}

static void count_lock_hook(void *lock, void *arg)
{
	struct side *s = arg;

	if (lock == &s->lock)
		__atomic_fetch_add(&s->lock_hook_calls, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	struct side *s = arg;

	tdxsim_kernel_set_current(s->sim);
	tdxsim_cpu_bind(s->sim, s->cpu);
	pthread_barrier_wait(s->start);
	s->thread_id = tdxsim_thread_id(s->sim);
	for (unsigned int i = 0; i < CALLS; i++) {
		struct tdx_module_args a = { .rcx = s->td->tdr_pa };

		s->st[i] = tdxsim_seamcall(s->sim, TDH_MEM_TRACK, &a);
		if (i < s->warns)
			WARN_ON(s->st[i] != ~0ULL);
		/* Both workers pass here often: recorded once per simulator. */
		WARN_ON_ONCE(i % 2 == 0);
		spin_lock(&s->lock);
		spin_unlock(&s->lock);
	}
	pr_err("%s done", s->name);
	s->cpu_seen = tdxsim_cpu_current(s->sim);
	/* This thread never bound itself in the other simulator. */
	s->cpu_other = tdxsim_cpu_current(s->other->sim);
	tdxsim_kernel_set_current(NULL);
	return NULL;
}

static void side_setup(struct side *s)
{
	char err[128];
	u64 st;

	tdxsim_config_init(&s->cfg);
	s->cfg.mem_base = s->mem_base;
	s->cfg.mem_size = 64ULL << 20;
	s->sim = tdxsim_create(&s->cfg);
	assert_non_null(s->sim);
	s->td = tdxsim_td_create(s->sim, &st);
	assert_non_null(s->td);
	spin_lock_init(&s->lock);
	assert_int_equal(tdxsim_fault_parse(s->sim, s->rules, err, sizeof(err)), 1);
	assert_int_equal(tdxsim_trace_ring(s->sim, RING), 0);
	tdxsim_set_hook(s->sim, count_hook, s);
	assert_int_equal(tdxsim_kernel_set_lock_hook(s->sim, count_lock_hook, s), 0);
}

static void side_check(struct side *s)
{
	unsigned int fired = 0, calls = 0;
	struct tdxsim_kernel_event kev;
	size_t n = tdxsim_trace_ring_count(s->sim);

	/* Each simulator numbers its own threads: both workers are its thread 1. */
	assert_int_equal(s->thread_id, 1);
	assert_int_equal(s->cpu_seen, s->cpu);
	assert_int_equal(s->cpu_other, 0);

	/* Only this side's rule fired, on exactly its Nth calls. */
	for (unsigned int i = 0; i < CALLS; i++) {
		if ((i + 1) % s->every == 0) {
			assert_status(s->st[i], s->busy);
			fired++;
		} else {
			assert_status(s->st[i], TDX_SUCCESS);
		}
	}
	assert_int_equal(tdxsim_fault_fired(s->sim, 0), fired);
	assert_int_equal(tdxsim_stats_count(s->sim, TDH_MEM_TRACK, s->busy), fired);
	assert_int_equal(tdxsim_stats_count(s->sim, TDH_MEM_TRACK, s->other->busy), 0);

	/* The ring holds this side's calls and faults only, from its thread and CPU. */
	assert_int_equal(n, CALLS + fired);
	for (size_t i = 0; i < n; i++) {
		struct tdxsim_trace_event ev;

		assert_int_equal(tdxsim_trace_ring_get(s->sim, i, &ev), 0);
		assert_int_equal(ev.in.rcx, s->td->tdr_pa);
		assert_int_equal(ev.thread, 1);
		assert_int_equal(ev.cpu, s->cpu);
		assert_int_equal(ev.leaf, TDH_MEM_TRACK);
		if (ev.type == TDXSIM_EV_FAULT)
			assert_status(ev.status, s->busy);
		else
			calls++;
	}
	assert_int_equal(calls, CALLS);

	/* Its hooks saw its own calls and locks only. */
	assert_int_equal(s->hook_calls, CALLS);
	assert_int_equal(s->lock_hook_calls, CALLS);

	/* Its shim events are its worker's; WARN_ON_ONCE fired once here too. */
	assert_int_equal(tdxsim_kernel_events(s->sim, TDXSIM_KEV_WARN), s->warns + 1);
	assert_int_equal(tdxsim_kernel_events(s->sim, TDXSIM_KEV_PR_ERR), 1);
	assert_int_equal(tdxsim_kernel_last_event(s->sim, TDXSIM_KEV_PR_ERR, &kev), 0);
	assert_true(strstr(kev.msg, s->name) != NULL);
	assert_int_equal(tdxsim_kernel_events(s->sim, TDXSIM_KEV_TDX_BUG), 0);
}

static void side_teardown(struct side *s)
{
	tdxsim_set_hook(s->sim, NULL, NULL);
	tdxsim_fault_clear(s->sim);
	assert_int_equal(tdxsim_td_teardown(s->td, TDXSIM_TEARDOWN_FREE_PAMT), 0);
	assert_int_equal(tdxsim_check(s->sim, NULL), 0);
	assert_int_equal(tdxsim_pages_in_use(s->sim), 0);
	tdxsim_destroy(s->sim);
}

static void test_two_simulators_two_threads(void **state)
{
	pthread_barrier_t start;
	struct side a = {
		.name = "side A", .mem_base = 1ULL << 30,
		.rules = "track:busy=td_epoch:every=2:thread=1",
		.busy = TDX_OPERAND_BUSY | TDX_OPERAND_ID_TD_EPOCH, .every = 2,
		.cpu = 1, .warns = 3,
	};
	struct side b = {
		.name = "side B", .mem_base = 4ULL << 30,
		.rules = "track:busy=op_state:every=3:thread=1",
		.busy = TDX_OPERAND_BUSY | TDX_OPERAND_ID_OP_STATE, .every = 3,
		.cpu = 2, .warns = 5,
	};
	pthread_t ta, tb;

	a.other = &b;
	b.other = &a;
	a.start = b.start = &start;
	side_setup(&a);
	side_setup(&b);
	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	assert_int_equal(pthread_create(&ta, NULL, worker, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, worker, &b), 0);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	pthread_barrier_destroy(&start);

	side_check(&a);
	side_check(&b);
	/* Nothing was recorded for threads with no current simulator. */
	assert_int_equal(tdxsim_kernel_events(NULL, TDXSIM_KEV_WARN), 0);
	assert_int_equal(tdxsim_kernel_events(NULL, TDXSIM_KEV_PR_ERR), 0);
	side_teardown(&a);
	side_teardown(&b);
}

/* One thread, two simulators: binding or naming itself in one leaves the other alone. */
static void test_binding_per_simulator(void **state)
{
	struct tdxsim_config cfg;
	struct tdxsim *x, *y;

	tdxsim_config_init(&cfg);
	cfg.mem_size = 16ULL << 20;
	x = tdxsim_create(&cfg);
	y = tdxsim_create(&cfg);
	assert_non_null(x);
	assert_non_null(y);

	assert_int_equal(tdxsim_cpu_current(x), 0);
	assert_int_equal(tdxsim_cpu_bind(x, 3), 0);
	assert_int_equal(tdxsim_cpu_current(x), 3);
	assert_int_equal(tdxsim_cpu_current(y), 0);
	assert_int_equal(tdxsim_cpu_bind(y, 1), 0);
	assert_int_equal(tdxsim_cpu_current(x), 3);
	assert_int_equal(tdxsim_cpu_current(y), 1);
	assert_int_equal(tdxsim_cpu_bind(y, cfg.nr_cpus), -EINVAL);
	assert_int_equal(tdxsim_cpu_current(y), 1);

	/* Thread numbers: each simulator its own; naming keeps the CPU. */
	assert_int_equal(tdxsim_thread_id(x), 1);
	assert_int_equal(tdxsim_thread_set_id(y, 7), 0);
	assert_int_equal(tdxsim_thread_id(y), 7);
	assert_int_equal(tdxsim_thread_id(x), 1);
	assert_int_equal(tdxsim_cpu_current(y), 1);

	/* A simulator created after x is gone starts with nothing bound. */
	tdxsim_destroy(x);
	x = tdxsim_create(&cfg);
	assert_non_null(x);
	assert_int_equal(tdxsim_cpu_current(x), 0);
	assert_int_equal(tdxsim_thread_id(x), 1);
	assert_int_equal(tdxsim_cpu_current(y), 1);
	tdxsim_destroy(x);
	tdxsim_destroy(y);
}

static unsigned int released;

static void release_one(void *data)
{
	released++;
	free(data);
}

/* Client data: one object per key and simulator, released with the simulator. */
static void test_client_data(void **state)
{
	static const char keys[TDXSIM_MAX_CLIENT_DATA + 1];
	struct tdxsim_config cfg;
	struct tdxsim *x, *y;
	void *p, *q;

	tdxsim_config_init(&cfg);
	cfg.mem_size = 16ULL << 20;
	x = tdxsim_create(&cfg);
	y = tdxsim_create(&cfg);
	assert_non_null(x);
	assert_non_null(y);
	released = 0;

	assert_null(tdxsim_client_data(x, &keys[0]));
	p = malloc(8);
	q = malloc(8);
	assert_ptr_equal(tdxsim_client_data_attach(x, &keys[0], p, release_one), p);
	/* A second attach under the key gets the first object; the caller keeps q. */
	assert_ptr_equal(tdxsim_client_data_attach(x, &keys[0], q, release_one), p);
	assert_ptr_equal(tdxsim_client_data(x, &keys[0]), p);
	assert_null(tdxsim_client_data(y, &keys[0]));
	assert_ptr_equal(tdxsim_client_data_attach(y, &keys[0], q, release_one), q);

	/* Fill x's slots: the last key finds none left (ENOSPC). */
	for (unsigned int i = 1; i <= TDXSIM_MAX_CLIENT_DATA; i++) {
		void *d = malloc(8);

		if (tdxsim_client_data_attach(x, &keys[i], d, release_one) != d) {
			assert_int_equal(errno, ENOSPC);
			assert_int_equal(i, TDXSIM_MAX_CLIENT_DATA);
			free(d);
		}
	}
	errno = 0;
	assert_null(tdxsim_client_data_attach(x, &keys[0], NULL, release_one));
	assert_int_equal(errno, EINVAL);

	tdxsim_destroy(x);
	assert_int_equal(released, TDXSIM_MAX_CLIENT_DATA);
	tdxsim_destroy(y);
	assert_int_equal(released, TDXSIM_MAX_CLIENT_DATA + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_simulators_two_threads),
		cmocka_unit_test(test_binding_per_simulator),
		cmocka_unit_test(test_client_data),
	};

	return run_group(tests);
}
