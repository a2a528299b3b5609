/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel shim: linux/cleanup.h, "duplicated" on the compiler's cleanup
 * attribute, as the kernel's: __free(kfree), no_free_ptr(), return_ptr(),
 * and the lock guards guard(spinlock), guard(mutex), guard(read_lock),
 * guard(write_lock) with scoped_guard().  A guard takes its lock where it is
 * declared (that file:line is what lockdep and sleep-in-atomic events name)
 * and drops it when the scope ends.
 */
#ifndef TDXSIM_KERNEL_CLEANUP_H
#define TDXSIM_KERNEL_CLEANUP_H

#include <stdlib.h>

#include <tdxsim/kernel/base.h>
#include <tdxsim/kernel/locking.h>

#define __tdxsim_cleanup(fn)	__attribute__((__cleanup__(fn)))
#define __PASTE_(a, b)		a##b
#define __PASTE(a, b)		__PASTE_(a, b)
#define __UNIQUE_ID(prefix)	__PASTE(__PASTE(__UNIQUE_ID_, prefix), __COUNTER__)

#define DEFINE_FREE(_name, _type, _free)					\
	static inline void __free_##_name(void *p)				\
	{									\
		_type _T = *(_type *)p;						\
		_free;								\
	}
#define __free(_name)		__tdxsim_cleanup(__free_##_name)
#define no_free_ptr(p)		({ __typeof__(p) __ptr = (p); (p) = NULL; __ptr; })
#define return_ptr(p)		return no_free_ptr(p)

DEFINE_FREE(kfree, void *, free(_T))
DEFINE_FREE(kvfree, void *, free(_T))

/* class_<name>_t, its constructor (a macro: it is given the guard's file:line) and destructor. */
#define CLASS(_name, var)							\
	class_##_name##_t var __tdxsim_cleanup(class_##_name##_destructor) =	\
		class_##_name##_constructor
#define guard(_name)		CLASS(_name, __UNIQUE_ID(guard))
#define scoped_guard(_name, ...)						\
	for (CLASS(_name, scope)(__VA_ARGS__), *__done = NULL; !__done;		\
	     __done = (void *)1)

#define __TDXSIM_LOCK_GUARD(_name, _type, _lock, _unlock)			\
	typedef struct {							\
		_type *lock;							\
		const char *file;						\
		int line;							\
	} class_##_name##_t;							\
	static inline class_##_name##_t __tdxsim_##_name##_guard(_type *l, const char *file, \
								  int line)	\
	{									\
		_lock(l, file, line);						\
		return (class_##_name##_t){ .lock = l, .file = file, .line = line }; \
	}									\
	static inline void class_##_name##_destructor(class_##_name##_t *t)	\
	{									\
		if (t->lock)							\
			_unlock(t->lock, t->file, t->line);			\
	}

__TDXSIM_LOCK_GUARD(spinlock, spinlock_t, __tdxsim_spin_lock, __tdxsim_spin_unlock)
__TDXSIM_LOCK_GUARD(mutex, struct mutex, __tdxsim_mutex_lock, __tdxsim_mutex_unlock)
__TDXSIM_LOCK_GUARD(read_lock, rwlock_t, __tdxsim_read_lock, __tdxsim_rw_unlock)
__TDXSIM_LOCK_GUARD(write_lock, rwlock_t, __tdxsim_write_lock, __tdxsim_rw_unlock)

#define class_spinlock_constructor(l)	__tdxsim_spinlock_guard((l), __FILE__, __LINE__)
#define class_mutex_constructor(l)	__tdxsim_mutex_guard((l), __FILE__, __LINE__)
#define class_read_lock_constructor(l)	__tdxsim_read_lock_guard((l), __FILE__, __LINE__)
#define class_write_lock_constructor(l)	__tdxsim_write_lock_guard((l), __FILE__, __LINE__)

#endif /* TDXSIM_KERNEL_CLEANUP_H */
