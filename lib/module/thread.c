// SPDX-License-Identifier: GPL-2.0-only
/*
 * The calling thread as one simulator sees it: the logical CPU it is bound
 * to (tdxsim_cpu_bind) and its number (tdxsim_thread_id, the fault rules'
 * thread=T).  Both belong to the simulator: a thread may run on CPU 2 of one
 * simulator and CPU 0 of another, and is numbered by each in the order the
 * threads first needed a number there.
 *
 * Storage: one pthread key per simulator, whose per-thread value is the two
 * numbers packed into the pointer itself.  Nothing is allocated per thread,
 * so there is nothing to free at thread exit, and tdxsim_destroy() deletes the
 * key: POSIX gives a later key (another simulator's) NULL in every thread,
 * so a destroyed simulator's bindings are never seen again, even if the new
 * simulator lands at the same address.
 */
#include "tdxsim-internal.h"

_Static_assert(sizeof(void *) >= sizeof(u64), "per-thread word packed into a pointer");

#define THREAD_ID_MASK		0xFFFFFFFFULL
#define THREAD_CPU_SHIFT	32	/* CPU + 1; 0: never bound (CPU 0) */

static u64 thread_word(struct tdxsim *sim)
{
	return (u64)(uintptr_t)pthread_getspecific(sim->thread_key);
}

static int thread_word_set(struct tdxsim *sim, u64 w)
{
	return -pthread_setspecific(sim->thread_key, (void *)(uintptr_t)w);
}

int sim_thread_init(struct tdxsim *sim)
{
	int err = pthread_key_create(&sim->thread_key, NULL);

	if (err)
		return -err;
	sim->thread_key_ok = true;
	return 0;
}

void sim_thread_fini(struct tdxsim *sim)
{
	if (sim->thread_key_ok)
		pthread_key_delete(sim->thread_key);
	sim->thread_key_ok = false;
}

unsigned int sim_thread_cpu(struct tdxsim *sim)
{
	u64 cpu = thread_word(sim) >> THREAD_CPU_SHIFT;

	return cpu ? (unsigned int)(cpu - 1) : 0;
}

int tdxsim_cpu_bind(struct tdxsim *sim, unsigned int cpu)
{
	if (cpu >= sim->cfg.nr_cpus)
		return -EINVAL;
	return thread_word_set(sim, (thread_word(sim) & THREAD_ID_MASK) |
				    ((u64)cpu + 1) << THREAD_CPU_SHIFT);
}

unsigned int tdxsim_cpu_current(struct tdxsim *sim)
{
	return sim_thread_cpu(sim);
}

unsigned int tdxsim_thread_id(struct tdxsim *sim)
{
	u64 w = thread_word(sim);
	unsigned int id = (unsigned int)(w & THREAD_ID_MASK);

	if (likely(id))
		return id;
	id = __atomic_add_fetch(&sim->thread_counter, 1, __ATOMIC_RELAXED);
	/* Out of memory for the key's slot: the thread is renumbered next time. */
	thread_word_set(sim, (w & ~THREAD_ID_MASK) | id);
	return id;
}

int tdxsim_thread_set_id(struct tdxsim *sim, unsigned int id)
{
	return thread_word_set(sim, (thread_word(sim) & ~THREAD_ID_MASK) | id);
}

/* ---- client data (include/tdxsim/tdxsim.h) ---- */

void *tdxsim_client_data(struct tdxsim *sim, const void *key)
{
	for (unsigned int i = 0; i < TDXSIM_MAX_CLIENT_DATA; i++) {
		/* The key is published last: its data is complete once it is seen. */
		if (__atomic_load_n(&sim->client[i].key, __ATOMIC_ACQUIRE) == key)
			return sim->client[i].data;
	}
	return NULL;
}

void *tdxsim_client_data_attach(struct tdxsim *sim, const void *key, void *data,
				void (*release)(void *data))
{
	void *ret = NULL;
	unsigned int i;

	if (!key || !data) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&sim->client_lock);
	for (i = 0; i < TDXSIM_MAX_CLIENT_DATA && sim->client[i].key; i++) {
		if (sim->client[i].key == key) {
			ret = sim->client[i].data;
			goto out;
		}
	}
	if (i == TDXSIM_MAX_CLIENT_DATA) {
		errno = ENOSPC;
		goto out;
	}
	sim->client[i].data = data;
	sim->client[i].release = release;
	__atomic_store_n(&sim->client[i].key, key, __ATOMIC_RELEASE);
	ret = data;
out:
	pthread_mutex_unlock(&sim->client_lock);
	return ret;
}

void sim_client_data_fini(struct tdxsim *sim)
{
	for (unsigned int i = 0; i < TDXSIM_MAX_CLIENT_DATA; i++) {
		if (sim->client[i].key && sim->client[i].release)
			sim->client[i].release(sim->client[i].data);
		sim->client[i].key = NULL;
	}
}
