/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The VMM around the KVM model (sim/vmm/, part of libtdxsim-kvm.a): one
 * struct tdxsim_vm builds the whole stack from one config (the simulated
 * module, a TD through the host layer, struct kvm_tdx and struct kvm with
 * the design's hook table, vCPUs in the module and in KVM) and offers what
 * a VMM and guest_memfd do to it: memslots, folios, the TD build, runtime
 * faults, conversions, punch hole, splits, zaps, memory failure, teardown.
 * The scenario interpreter (sim/scenario) and tests drive it.
 *
 * Changes to the contract of notes/plan.md (told to the lead):
 *  - enum tdxsim_conv_order has a third order, TDXSIM_CONV_FOLIO_FIRST;
 *    the two others are defined below (the plan named them only).
 *  - struct tdxsim_vm_config has two more fields, upstream_ops and
 *    gmem_lock_by_range.
 *  - the VM's tables are copies of the design's with gmem_max_mapping_level
 *    (tdx_huge_page) and set_external_spte (NO_TDMR, see below) wrapped.
 *  - added: tdxsim_vm_create_sibling(), tdxsim_vm_bind_gmem(),
 *    tdxsim_vm_memory_failure_pfn(),
 *    tdxsim_vm_td(), tdxsim_vm_kvm_tdx(), tdxsim_vm_nr_vcpus(),
 *    tdxsim_vm_vcpu_tdvpr(), tdxsim_vm_of(), tdxsim_vm_summary(),
 *    tdxsim_vm_slot_flags().
 *
 * Errors: every int call returns 0 or a negative errno.  A failed call leaves
 * the VM usable, or bugged where KVM would be (kvm->vm_bugged).  After
 * tdxsim_vm_teardown() the host calls return -ENODEV, tdxsim_vm_kvm(),
 * tdxsim_vm_td() and tdxsim_vm_vcpu() NULL; the summary and the simulator
 * stay until tdxsim_vm_destroy().
 *
 * Thread safety: the host calls (memslots, folios, build, convert, punch,
 * split, zap, memory failure) serialise on the VM's slots_lock, as the
 * kernel's ioctls do on kvm->slots_lock and guest_memfd's invalidate lock;
 * tdxsim_vm_map() and guest programs (<tdxsim-kvm/vcpu.h>) may run on other
 * threads at the same time (one thread per vCPU).  create, teardown and
 * destroy must not race with anything.  Every call makes the VM's simulator
 * the calling thread's current one (tdxsim_kernel_set_current()).
 *
 * One simulator per process at a time: the kernel's PAMT refcount array
 * (tdx_pamt_refcounts_init()) is global.  More VMs (more TDs) on the same
 * simulator come from tdxsim_vm_create_sibling().
 */
#ifndef TDXSIM_KVM_VM_H
#define TDXSIM_KVM_VM_H

#include <stdbool.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/kvm_host.h>

#pragma GCC visibility push(default)

struct kvm_tdx;
struct tdxsim_vm;

/*
 * Where a private→shared conversion splits the guest_memfd folio (an
 * order-9 folio the range covers only in part becomes 512 order-0 folios)
 * relative to the S-EPT work (spec review-scenarios.md S01, S03).  The
 * folio split can fail: undoing HugeTLB's vmemmap optimisation allocates
 * (TDXSIM_VM_FOLIO_SPLIT_PAGES pages from tdxsim_page_alloc(), so an
 * "alloc:enomem" fault rule reaches it).
 */
enum tdxsim_conv_order {
	/*
	 * S03, Yan's order: the S-EPT cross-boundary split first (a failure
	 * changes nothing), then the folio split (a failure leaves the S-EPT
	 * split, nothing zapped), then the zap and the attribute update.
	 */
	TDXSIM_CONV_SPLIT_THEN_ZAP,
	/*
	 * S01, the zap-then-split-folio fixup: S-EPT split and zap of the
	 * range first, then the folio split; its failure returns the error
	 * with the range unmapped but still private (data lost to the guest).
	 */
	TDXSIM_CONV_ZAP_THEN_SPLIT,
	/*
	 * S01, "fallible first" (Ackerley): the folio split before anything
	 * else; its failure returns with no SEAMCALL issued.
	 */
	TDXSIM_CONV_FOLIO_FIRST,
};

/* Pages a 2M folio split allocates: HugeTLB's vmemmap of 512 struct pages less the one kept. */
#define TDXSIM_VM_FOLIO_SPLIT_PAGES	7
#define TDXSIM_VM_MAX_VCPUS		8

struct tdxsim_vm_config {
	struct tdxsim_config module;	/* tdxsim_config_init() defaults; mem size, features, dpamt */
	bool upstream;			/* design: false = v3 (tdx_x86_ops), true = upstream */
	unsigned int defects;		/* enum tdxsim_kvm_defect bits (sim/kvm and sim/tdx) */
	/*
	 * KVM's module parameter enable_tdx_huge_page; default true.  Cleared
	 * at creation when the module lacks ENHANCED_DEMOTE_INTERRUPTIBILITY,
	 * as KVM clears it at bring-up (kvm-model.md §2.11).
	 */
	bool tdx_huge_page;
	int nr_vcpus;			/* default 1, max TDXSIM_VM_MAX_VCPUS */
	enum tdxsim_conv_order conv_order;	/* default TDXSIM_CONV_SPLIT_THEN_ZAP */
	/*
	 * NULL: the built-in table of the design (tdx_x86_ops, or
	 * tdx_x86_ops_upstream_aux for upstream); a user's copy otherwise
	 * (its gmem_max_mapping_level is wrapped for tdx_huge_page).
	 */
	const struct kvm_x86_ops *ops;
	/* upstream only: NULL = tdx_x86_ops_upstream; a user's funnel otherwise. */
	const struct kvm_x86_ops_upstream *upstream_ops;
	/*
	 * guest_memfd's filemap_invalidate_lock is held across a conversion,
	 * punch hole or memory failure, and a fault waits for it (S24; counted
	 * in kvm->stat.gmem_fault_waits / gmem_wait_max_ns).  false (default):
	 * the whole file, as guest_memfd locks it; true: only the operation's
	 * range (S24's lock-by-range variant).
	 */
	bool gmem_lock_by_range;
	/*
	 * KVM's module parameter vm_memory_attributes (per-VM attributes,
	 * KVM_SET_MEMORY_ATTRIBUTES); default false.  True turns TDX huge
	 * pages off: private memory maps at 4K only (Sean, 003:P14; Yan: "Will
	 * disable TDX huge page if vm_memory_attributes is true";
	 * kvm-model.md §1.5).  The attributes stay guest_memfd's either way.
	 */
	bool vm_memory_attributes;
	/*
	 * S08b, the cover letter's test-only workaround (003 CL Note #2): 0
	 * (default) off; N > 0: KVM keeps huge pages without
	 * ENHANCED_DEMOTE_INTERRUPTIBILITY and a split's DEMOTE is re-issued
	 * on TDX_INTERRUPTED_RESTARTABLE, at most N times (the model's
	 * bound: the module gives none), under the write mmu_lock.
	 */
	unsigned int loop_on_restartable;
	/*
	 * S32c: false (default) = v3's split-cache top-up allocates with
	 * GFP_KERNEL, charging nothing to the VM; true = GFP_KERNEL_ACCOUNT
	 * (the fix agreed at 000 line 57).  Counted in kvm->stat.
	 */
	bool split_cache_account;
	/* S29: tdx_pamt_get() at the vCPU's S-EPT cache top-up (kvm_tdx.h says how). */
	bool dpamt_at_topup;
};

/* The defaults above; the module's are tdxsim_config_init()'s. */
void tdxsim_vm_config_init(struct tdxsim_vm_config *cfg);

/*
 * Simulator, TD (INITIALIZED: MNG.INIT done), struct kvm, struct kvm_tdx,
 * nr_vcpus vCPUs (module: VP.CREATE/ADDCX/INIT; KVM: kvm_vcpu + vcpu_tdx).
 * NULL with *@err set (if @err is not NULL): -EINVAL (bad config), -EBUSY
 * (a simulator of tdxsim_vm_create() exists in this process: use
 * tdxsim_vm_create_sibling()), -ENOMEM, -EIO (a SEAMCALL failed).
 */
struct tdxsim_vm *tdxsim_vm_create(const struct tdxsim_vm_config *cfg, int *err);

/*
 * Another VM on @vm's simulator: its own TD (and HKID), struct kvm,
 * vCPUs and guest_memfd; @cfg's module config is ignored (the
 * simulator's).  The simulator lives until the last VM of the family is
 * destroyed.  Each VM's ledger (tdxsim_vm_summary()) compares the
 * simulator's pages in use with the value when that VM was created, so
 * it balances when the VMs are torn down in the reverse order of their
 * creation.  NULL with *@err: -EINVAL, -ENOMEM, -EIO.  Not thread-safe
 * against create/destroy of the family's VMs.
 */
struct tdxsim_vm *tdxsim_vm_create_sibling(struct tdxsim_vm *vm,
					   const struct tdxsim_vm_config *cfg, int *err);

/*
 * Memslot flags.  PRIVATE: backed by guest_memfd, attributes private (the
 * VMM's KVM_SET_MEMORY_ATTRIBUTES).  MMIO: no guest_memfd, attributes
 * shared: a private access there is KVM's memory-fault exit (-EFAULT).
 * NO_TDMR: guest_memfd whose folios lie outside the module's TDMR (order 9
 * only, below the simulated memory; nothing is allocated): the module
 * refuses a 2M AUG there (TDX_BUG_ON, the VM is bugged); a 4K leaf there
 * is refused by the VMM's wrapper of the set_external_spte hook with a
 * KVM_BUG_ON before any call (the model has no struct page for the frame
 * the backend would take a PAMT pair for), so the VM is bugged either way.
 */
#define TDXSIM_SLOT_PRIVATE	(1U << 0)
#define TDXSIM_SLOT_MMIO	(1U << 1)
#define TDXSIM_SLOT_NO_TDMR	(1U << 2)

/* 0, -EINVAL (unaligned, flags), -EEXIST (slot or range in use), -ENOMEM. */
int tdxsim_vm_add_memslot(struct tdxsim_vm *vm, int slot, u64 gpa, u64 size, unsigned int flags);
/*
 * KVM_SET_USER_MEMORY_REGION2 naming the guest_memfd that @gmem_vm created:
 * kvm_gmem_bind() takes a guest_memfd only for the VM that created it, so
 * for another VM it is -EINVAL and nothing changes (more than one VM bound
 * to one guest_memfd is refused by KVM); for @vm itself it is
 * tdxsim_vm_add_memslot(... TDXSIM_SLOT_PRIVATE).
 */
int tdxsim_vm_bind_gmem(struct tdxsim_vm *vm, int slot, u64 gpa, u64 size,
			struct tdxsim_vm *gmem_vm);
/* The flags of the memslot holding @gpa, or -ENOENT. */
int tdxsim_vm_slot_flags(struct tdxsim_vm *vm, u64 gpa);

/*
 * guest_memfd: back [gpa, gpa + size) with folios of @order 0 or 9 (order 9:
 * 2M-aligned range), allocated from the simulator.  0, -EINVAL (not a
 * PRIVATE/NO_TDMR slot, alignment, order), -EEXIST (already backed),
 * -ENOMEM (nothing of this call is left allocated then).
 */
int tdxsim_vm_gmem_populate(struct tdxsim_vm *vm, u64 gpa, u64 size, int order);

/*
 * KVM_TDX_INIT_MEM_REGION on vCPU 0: PAGE.ADD at 4K of each page of the
 * range while the TD is INITIALIZED, from a source page the VMM allocates
 * and frees.  tdx_vcpu_init_mem_region()'s errors.
 */
int tdxsim_vm_build_add(struct tdxsim_vm *vm, u64 gpa, u64 size);

/* KVM_TDX_FINALIZE_VM: MR.FINALIZE (every vCPU had VP.INIT at creation): RUNNABLE. */
int tdxsim_vm_finalize(struct tdxsim_vm *vm);

/*
 * KVM_PRE_FAULT_MEMORY of one GPA on vCPU @vcpu: kvm_tdp_map_page() with a
 * private access when the GFN's attributes say private.  0 with *@level
 * (if not NULL) the level mapped; -EOPNOTSUPP before finalize (pre-fault is
 * not allowed) or for a shared GFN (the direct root is not modelled),
 * -EINVAL (bad vCPU), else kvm_tdp_map_page()'s error.  Thread-safe.
 */
int tdxsim_vm_map(struct tdxsim_vm *vm, int vcpu, u64 gpa, int *level);

/*
 * KVM_SET_MEMORY_ATTRIBUTES with guest_memfd's folio split in the order of
 * cfg.conv_order (to shared only; to private splits nothing).  0, -EINVAL
 * (unaligned, outside any slot), -ENOMEM (folio split or split cache), or
 * kvm_vm_set_mem_attributes()'s error.
 */
int tdxsim_vm_convert(struct tdxsim_vm *vm, u64 gpa, u64 size, bool to_private);

/*
 * fallocate(PUNCH_HOLE) on guest_memfd: refused with -EINVAL unless every
 * folio in the range lies wholly inside it (S22: HugeTLB punches whole
 * folios, so no split); else, inside an invalidation of the range (faults
 * there retry), the private mappings are zapped and the folios freed (a page the module still owns is kept, and counted in the summary's
 * pages_kept).  0 also when nothing was backed.
 */
int tdxsim_vm_punch_hole(struct tdxsim_vm *vm, u64 gpa, u64 size);

/*
 * tdp_mmu_split_huge_pages_root() of the mirror root over the range down to
 * @target_level (PG_LEVEL_4K/2M), under mmu_lock held shared (@shared) or
 * exclusive.  Its result: 0, -ENOMEM, or the backend's error (-EOPNOTSUPP
 * for a TDX split under the shared lock).
 */
int tdxsim_vm_split(struct tdxsim_vm *vm, u64 gpa, u64 size, int target_level, bool shared);

/*
 * Dirty logging's eager split of a range inside one memslot
 * (kvm_tdp_mmu_try_split_huge_pages down to 4K): under the read mmu_lock
 * when @shared (kvm_mmu_slot_try_split_huge_pages, dirty logging turned
 * on), the write lock otherwise (kvm_mmu_try_split_huge_pages,
 * CLEAR_DIRTY_LOG).  On a TD it walks the mirror root (S23); -EINVAL when
 * the range is not in one slot or kvm->eager_split_refuse_mirror refuses.
 */
int tdxsim_vm_eager_split(struct tdxsim_vm *vm, u64 gpa, u64 size, bool shared);

/* kvm_unmap_gfn_range() of the private mappings over the range, under the write mmu_lock. */
int tdxsim_vm_zap(struct tdxsim_vm *vm, u64 gpa, u64 size);

/*
 * memory_failure() on the PFN backing @gpa: guest_memfd's error handler
 * zaps the private mappings of the whole folio and takes the folio out of
 * the file (later faults there fail with -EFAULT; the kernel says
 * -EHWPOISON), inside an invalidation of the folio's range.  The poisoned memory is returned at teardown (the kernel never
 * reuses it; the summary counts it in pages_poisoned).  -ENOENT when no
 * folio backs @gpa.
 */
int tdxsim_vm_memory_failure(struct tdxsim_vm *vm, u64 gpa);
/* The same for the folio holding host frame @pfn (a page of guest_memfd); -ENOENT if none. */
int tdxsim_vm_memory_failure_pfn(struct tdxsim_vm *vm, u64 pfn);

/*
 * The VM's end (kvm_destroy_vm() for a TD): a vCPU left in guest mode exits
 * (its thread has left KVM_RUN), tdx_mmu_release_hkid() (VP.FLUSH
 * per vCPU, VPFLUSHDONE, CACHE.WB, KEY.FREEID), the vCPUs freed, the mirror
 * root zapped (RECLAIM of every leaf and table through the hooks), the TD's
 * remaining pages reclaimed by the host layer (control pages, and any page
 * KVM leaked to the module), guest_memfd's folios freed, the Dynamic-PAMT
 * pairs of empty ranges removed; then the ledger: tdxsim_pages_in_use()
 * against the value before the TD existed, and tdxsim_check().  Returns 0
 * when every page came back or the missing ones are a known leak (KVM leaks
 * only after the VM was bugged: the summary's known_leak), -EIO when a step
 * failed (the TD could not be torn down), -ENOTRECOVERABLE when pages are
 * missing from a VM that is not bugged, or the module's checker complains.
 * The simulator stays (tdxsim_vm_sim()) until destroy; a second call
 * returns the first one's result.
 */
int tdxsim_vm_teardown(struct tdxsim_vm *vm);

struct tdxsim_vm_summary {
	bool torn_down;
	bool vm_bugged;			/* kvm->vm_bugged when the VM went away */
	u64 pages_baseline;		/* tdxsim_pages_in_use() before the TD */
	u64 pages_in_use;		/* after teardown */
	u64 pages_leaked;		/* in_use - baseline (0 if none) */
	bool known_leak;		/* leaked, and the VM was bugged: KVM leaked on purpose */
	u64 pages_kept;			/* guest pages the module still owned at punch/teardown */
	u64 pages_poisoned;		/* memory_failure()'d pages (returned at teardown) */
	u64 folio_splits;		/* 2M guest_memfd folios split */
	int module_violations;		/* tdxsim_check() after teardown */
	/*
	 * The VM's violations the checker's ledger and inline checks recorded
	 * over its whole life, counted at teardown (tdxsim_vm_check() lists them).
	 */
	int ledger_violations;
	struct tdxsim_report module_report;
};

/* The ledger so far (after teardown: its result).  Not thread-safe against teardown. */
void tdxsim_vm_summary(struct tdxsim_vm *vm, struct tdxsim_vm_summary *sum);

/*
 * The checker on @vm (<tdxsim-kvm/check.h>).  Before teardown:
 * kvm_tdx_check() of its KVM.  After: what outlives KVM, i.e. the
 * violations the ledger and the inline checks recorded for the VM (before
 * and during the teardown, kvm_check_ledger_violations_of()) and the
 * module's checker at teardown (KVM_INV_MODULE, rep->module).  Returns the
 * count (0: the invariants hold), or -ENODEV / kvm_tdx_check()'s -EINVAL.
 * @rep may be NULL.  Not thread-safe against teardown.
 */
int tdxsim_vm_check(struct tdxsim_vm *vm, struct kvm_check_report *rep);

/*
 * Teardown if not done; frees the VM, and the simulator with the family's
 * last VM.  NULL is a no-op.
 */
void tdxsim_vm_destroy(struct tdxsim_vm *vm);

struct tdxsim *tdxsim_vm_sim(struct tdxsim_vm *vm);
struct kvm *tdxsim_vm_kvm(struct tdxsim_vm *vm);
struct kvm_tdx *tdxsim_vm_kvm_tdx(struct tdxsim_vm *vm);
/* The host layer's handle of the TD (NULL after teardown). */
struct tdxsim_td *tdxsim_vm_td(struct tdxsim_vm *vm);
int tdxsim_vm_nr_vcpus(struct tdxsim_vm *vm);
/* KVM's vCPU @i, or NULL. */
struct kvm_vcpu *tdxsim_vm_vcpu(struct tdxsim_vm *vm, int i);
/* The module's vCPU @i (its TDVPR), or 0. */
u64 tdxsim_vm_vcpu_tdvpr(struct tdxsim_vm *vm, int i);
/* The VM of a struct kvm made by tdxsim_vm_create(), or NULL. */
struct tdxsim_vm *tdxsim_vm_of(struct kvm *kvm);

#pragma GCC visibility pop

#endif /* TDXSIM_KVM_VM_H */
