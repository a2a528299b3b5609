/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel shim: kernel-shaped TDX code (the SEAMCALL wrappers of
 * arch/x86/virt/vmx/tdx/tdx.c, KVM's arch/x86/kvm/vmx/tdx.c) compiles
 * unchanged against this header and runs against the simulator with the
 * kernel's semantics.  What it provides, by kernel header:
 *
 *   <tdxsim/kernel/base.h>     linux/types.h compiler.h kernel.h minmax.h
 *                              align.h bits.h pfn.h errno.h err.h
 *                              build_bug.h export.h string.h container_of.h
 *   <tdxsim/kernel/list.h>     linux/list.h
 *   <tdxsim/kernel/printk.h>   linux/printk.h asm-generic/bug.h, KVM_BUG_ON,
 *                              TDX_BUG_ON*: recorded events with file:line
 *   <tdxsim/kernel/locking.h>  linux/spinlock.h rwlock.h mutex.h lockdep.h
 *                              preempt.h, might_sleep()
 *   <tdxsim/kernel/cleanup.h>  linux/cleanup.h: __free(), guard(), scoped_guard()
 *   <tdxsim/kernel/atomic.h>   linux/atomic.h
 *   <tdxsim/kernel/mm.h>       linux/mm_types.h mm.h gfp.h slab.h vmalloc.h
 *                              asm/page.h: a memmap of struct page per
 *                              simulator, folios, the page allocator
 *   <tdxsim/kernel/tdx.h>      asm/tdx.h asm/tdx_global_metadata.h and the
 *                              SEAMCALL entry points with the kernel's
 *                              register contract
 *
 * Each subheader says which of its stand-ins are duplicated, stubbed,
 * mapped or customised (tools/testing's kinds).  Everything that names no
 * simulator acts on the calling thread's current simulator.
 */
#ifndef TDXSIM_KERNEL_H
#define TDXSIM_KERNEL_H

#include <tdxsim/tdxsim.h>

#include <tdxsim/kernel/base.h>
#include <tdxsim/kernel/list.h>
#include <tdxsim/kernel/printk.h>
#include <tdxsim/kernel/locking.h>
#include <tdxsim/kernel/atomic.h>
#include <tdxsim/kernel/cleanup.h>
#include <tdxsim/kernel/mm.h>
#include <tdxsim/kernel/tdx.h>

#pragma GCC visibility push(default)

/*
 * Bind the calling thread to @sim (NULL unbinds): its "loaded module" and
 * "machine".  A thread with no current simulator gets
 * TDX_SEAMCALL_VMFAILINVALID from every SEAMCALL and no pages.  The locks a
 * thread holds and its preemption depth belong to the thread, not to the
 * simulator.  Thread-safe (thread-local).
 */
void tdxsim_kernel_set_current(struct tdxsim *sim);
struct tdxsim *tdxsim_kernel_current(void);

#pragma GCC visibility pop

#endif /* TDXSIM_KERNEL_H */
