/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel shim, the basics: what linux/types.h, linux/compiler.h,
 * linux/kernel.h, linux/minmax.h, linux/align.h, linux/bits.h, linux/pfn.h,
 * linux/errno.h, linux/build_bug.h, linux/export.h, linux/string.h and
 * linux/container_of.h give kernel code.  Included by <tdxsim/kernel.h>.
 *
 * Kinds (tools/testing style): all "duplicated" (same meaning as the
 * kernel's, written here), except EXPORT_SYMBOL*, "stubbed" (declares the
 * symbol again, exports nothing: a test links everything statically).
 *
 * u64 is <tdxsim/types.h>'s; code here prints it with %llx and a cast to
 * unsigned long long, which is right whether u64 is unsigned long or
 * unsigned long long.
 */
#ifndef TDXSIM_KERNEL_BASE_H
#define TDXSIM_KERNEL_BASE_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tdxsim/types.h>

/* ---- linux/types.h ---- */
typedef u64 phys_addr_t;
typedef u64 kvm_pfn_t;
typedef u64 hpa_t;
typedef u64 gpa_t;
typedef u64 gfn_t;
typedef int8_t s8;
typedef int16_t s16;

/* ---- linux/errno.h: glibc's values are the kernel's on x86; the kernel-only ones ---- */
#ifndef ERESTARTSYS
#define ERESTARTSYS		512
#endif
#ifndef ENOTSUPP
#define ENOTSUPP		524
#endif
#ifndef EPROBE_DEFER
#define EPROBE_DEFER		517
#endif
#define MAX_ERRNO		4095
#define IS_ERR_VALUE(x)		unlikely((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)

static inline void *ERR_PTR(long error)
{
	return (void *)error;
}

static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}

static inline bool IS_ERR(const void *ptr)
{
	return (unsigned long)ptr >= (unsigned long)-MAX_ERRNO;
}

static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR(ptr);
}

/* ---- linux/compiler.h (guarded: libraries sometimes define these too) ---- */
#ifndef likely
#define likely(x)		__builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x)		__builtin_expect(!!(x), 0)
#endif
#ifndef __always_inline
#define __always_inline		inline __attribute__((__always_inline__))
#endif
#ifndef noinline
#define noinline		__attribute__((__noinline__))
#endif
#ifndef __maybe_unused
#define __maybe_unused		__attribute__((__unused__))
#endif
#ifndef __must_check
#define __must_check		__attribute__((__warn_unused_result__))
#endif
#ifndef __packed
#define __packed		__attribute__((__packed__))
#endif
#ifndef __aligned
#define __aligned(x)		__attribute__((__aligned__(x)))
#endif
#ifndef fallthrough
#define fallthrough		__attribute__((__fallthrough__))
#endif
#define __init
#define __exit
#define __read_mostly
#define __ro_after_init
#define noinstr
#define barrier()		__asm__ __volatile__("" ::: "memory")

/* One access, not torn, not merged, not re-read: a volatile access, as the kernel's. */
/*
 * Relaxed atomics rather than the kernel's volatile casts: same code on x86,
 * and ThreadSanitizer sees them as atomic, so a flag one thread writes and
 * another polls (wait_for_sept_zap) is not reported as a data race.
 * Scalars and pointers only, as the kernel's own uses are.
 */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val)	__atomic_store_n(&(x), (val), __ATOMIC_RELAXED)

#define smp_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_rmb()		__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb()		__atomic_thread_fence(__ATOMIC_RELEASE)
#define mb()			smp_mb()
#define smp_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* asm-generic/barrier.h's: the store, then a full barrier (x86 uses xchg). */
#define smp_store_mb(var, value)	do { WRITE_ONCE(var, value); smp_mb(); } while (0)
#define smp_mb__before_atomic()	smp_mb()
#define smp_mb__after_atomic()	smp_mb()

/* ---- linux/export.h: stubbed (everything is linked statically) ---- */
#define EXPORT_SYMBOL(sym)		extern __typeof__(sym) sym
#define EXPORT_SYMBOL_GPL(sym)		extern __typeof__(sym) sym
#define EXPORT_SYMBOL_FOR_KVM(sym)	extern __typeof__(sym) sym
#define EXPORT_SYMBOL_FOR_MODULES(sym, mods)	extern __typeof__(sym) sym

/* ---- linux/build_bug.h ---- */
#define BUILD_BUG_ON_MSG(cond, msg)	do { _Static_assert(!(cond), msg); } while (0)
#define BUILD_BUG_ON(cond)		BUILD_BUG_ON_MSG(cond, "BUILD_BUG_ON(" #cond ")")
#define BUILD_BUG_ON_ZERO(e)		((int)(sizeof(struct { int:(-!!(e)); })))
#undef static_assert	/* <assert.h>'s wants a message; the kernel's does not */
#define static_assert(expr, ...)	_Static_assert(expr, #expr)

/* ---- linux/container_of.h, linux/kernel.h, linux/array_size.h ---- */
#define container_of(ptr, type, member) ({					\
	void *__mptr = (void *)(ptr);						\
	_Static_assert(__builtin_types_compatible_p(__typeof__(*(ptr)),		\
						    __typeof__(((type *)0)->member)) || \
		       __builtin_types_compatible_p(__typeof__(*(ptr)), void),	\
		       "pointer type mismatch in container_of()");		\
	((type *)((char *)__mptr - offsetof(type, member)));			\
})
#define __must_be_array(a)	BUILD_BUG_ON_ZERO(__builtin_types_compatible_p(__typeof__(a), \
									      __typeof__(&(a)[0])))
#define ARRAY_SIZE(arr)		(sizeof(arr) / sizeof((arr)[0]) + __must_be_array(arr))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define roundup(x, y)		((((x) + ((y) - 1)) / (y)) * (y))
#define rounddown(x, y)		((x) - ((x) % (y)))
#define swap(a, b)		do { __typeof__(a) __tmp = (a); (a) = (b); (b) = __tmp; } while (0)
#define upper_32_bits(n)	((u32)(((n) >> 16) >> 16))
#define lower_32_bits(n)	((u32)((n) & 0xffffffff))

/* ---- linux/minmax.h: both sides evaluated once; mixed signedness caught by -Wsign-compare ---- */
#ifndef min
#define min(x, y)		({ __typeof__(x) __x = (x); __typeof__(y) __y = (y); __x < __y ? __x : __y; })
#endif
#ifndef max
#define max(x, y)		({ __typeof__(x) __x = (x); __typeof__(y) __y = (y); __x > __y ? __x : __y; })
#endif
#define min_t(type, x, y)	({ type __x = (x); type __y = (y); __x < __y ? __x : __y; })
#define max_t(type, x, y)	({ type __x = (x); type __y = (y); __x > __y ? __x : __y; })
#define clamp(val, lo, hi)	min(max(val, lo), hi)

/* ---- linux/bits.h ---- */
#define BIT(n)			(1UL << (n))
#define BIT_ULL(n)		(1ULL << (n))
#define GENMASK(h, l)		(((~0UL) << (l)) & (~0UL >> (63 - (h))))
#define GENMASK_ULL(h, l)	(((~0ULL) << (l)) & (~0ULL >> (63 - (h))))
#define BITS_PER_LONG		64

/* ---- linux/align.h, asm/page_types.h, linux/pfn.h, linux/sizes.h ---- */
#define __ALIGN_MASK(x, mask)	(((x) + (mask)) & ~(mask))
#define ALIGN(x, a)		__ALIGN_MASK(x, (__typeof__(x))(a) - 1)
#define ALIGN_DOWN(x, a)	((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#define PTR_ALIGN(p, a)		((__typeof__(p))ALIGN((unsigned long)(p), (a)))
#ifndef PAGE_SHIFT
#define PAGE_SHIFT		12
#endif
#ifndef PAGE_SIZE
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#endif
#define PAGE_MASK		(~(PAGE_SIZE - 1))
#define PAGE_ALIGN(addr)	ALIGN(addr, PAGE_SIZE)
#define PMD_SHIFT		21
#define PMD_SIZE		(1UL << PMD_SHIFT)
#define PMD_MASK		(~(PMD_SIZE - 1))
#define PUD_SHIFT		30
#define PUD_SIZE		(1UL << PUD_SHIFT)
#define PTRS_PER_PTE		512
#define PTRS_PER_PMD		512
#define PTE_SHIFT		9
#define PFN_PHYS(pfn)		((phys_addr_t)(pfn) << PAGE_SHIFT)
#define PHYS_PFN(pa)		((unsigned long)((pa) >> PAGE_SHIFT))
#define PFN_UP(x)		(((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define PFN_DOWN(x)		((x) >> PAGE_SHIFT)
#define SZ_4K			0x00001000
#define SZ_2M			0x00200000
#define SZ_1G			0x40000000

/* asm/pgtable_types.h: KVM's page levels (TDX levels are these minus one). */
enum pg_level {
	PG_LEVEL_NONE,
	PG_LEVEL_4K,
	PG_LEVEL_2M,
	PG_LEVEL_1G,
	PG_LEVEL_512G,
	PG_LEVEL_NUM
};

/*
 * ---- linux/string.h: the C library's memcpy, memset, memcmp, strlen ...
 * plus strscpy (kernel only): copies what fits, always terminates,
 * returns the length copied or -E2BIG when truncated.
 */
static inline long strscpy(char *dst, const char *src, size_t size)
{
	size_t len;

	if (!size)
		return -E2BIG;
	len = strnlen(src, size);
	if (len == size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -E2BIG;
	}
	memcpy(dst, src, len + 1);
	return (long)len;
}

static inline void *memset64(u64 *s, u64 v, size_t count)
{
	for (size_t i = 0; i < count; i++)
		s[i] = v;
	return s;
}

#endif /* TDXSIM_KERNEL_BASE_H */
