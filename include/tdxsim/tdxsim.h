/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libtdxsim: the Intel TDX module in user space.
 *
 * Stability: this header is the public contract of libtdxsim.a (DESIGN.md
 * §3.1).  Tests outside the tree are written against it.
 *
 * Conventions:
 *  - SEAMCALL/TDCALL paths return the module's u64 status and nothing else.
 *  - Management calls return 0 or a negative errno, or NULL with errno set.
 *  - Every function is thread-safe unless its comment says otherwise.
 *  - The library never prints.
 */
#ifndef TDXSIM_TDXSIM_H
#define TDXSIM_TDXSIM_H

#include <stdbool.h>
#include <stdio.h>
#include <tdxsim/types.h>
#include <tdxsim/tdx_api.h>
#include <tdxsim/tdx_errno.h>
#include <tdxsim/hook.h>
#include <tdxsim/leaves.h>

/*
 * The library is built with -fvisibility=hidden and its archive made from one
 * object whose hidden symbols are local (lib/meson.build): each public header
 * gives what it declares default visibility, so libtdxsim.a exports exactly
 * the declarations of include/tdxsim/ (tests/exports checks it).
 */
#pragma GCC visibility push(default)

struct tdxsim;
struct tdxsim_vcpu;

struct tdxsim_config {
	/* Simulated physical memory: one TDMR [mem_base, mem_base + mem_size). */
	u64 mem_base;		/* 1 GiB-aligned, default 1 GiB */
	u64 mem_size;		/* multiple of 2 MiB, default 1 GiB */
	u64 features0;		/* TDX_FEATURES0_*, default DYNAMIC_PAMT | ENHANCED_DEMOTE_... */
	unsigned int nr_cpus;	/* logical CPUs (interrupt sources), default 4 */
	u64 seed;		/* seeds the simulator's generator, default 1 */
	unsigned int max_pa_bits;	/* physical address width incl. HKID bits, default 52 */
	unsigned int nr_hkid_bits;	/* KeyID bits at the top of max_pa_bits, default 6 */
	unsigned int nr_tdcs_pages;	/* TDCX pages before TDCS is allocated, default 6 (1.5) */
	/*
	 * TDVPX pages (TDH.VP.ADDCX) a vCPU needs before TDH.VP.INIT, 1..14:
	 * default 5, MIN_TDVPS_PAGES (6) less the TDVPR, for 1.5 without L2 VMs.
	 */
	unsigned int nr_tdvpx_pages;
	/* Guest physical address width, 48 (4-level S-EPT) or 52 (5-level), default 48. */
	unsigned int gpaw;
	bool reset_quirk;	/* X86_BUG_TDX_PW_MCE: removed pages need a reset before reuse */
	/*
	 * S30: DYNAMIC_PAMT in features0 (supported) but TDH.SYS.CONFIG did
	 * not enable it: the module keeps a static 4K PAMT, refuses
	 * PAMT.ADD/REMOVE with TDX_OPERAND_INVALID|RAX and ignores DEMOTE's
	 * R12/R13 (the DPAMT module's dynamic_pamt_enabled).  Default false:
	 * the bit alone decides, as Linux enables whatever is supported.
	 */
	bool dpamt_not_configured;
	unsigned int max_tds;	/* default 64 */
	/*
	 * KeyIDs 1..nr_mktme_hkids are shared (MKTME) KeyIDs, the rest up to
	 * 2^nr_hkid_bits - 1 private (TDX) ones: the module's private_hkid_min
	 * is nr_mktme_hkids + 1, from IA32_MKTME_KEYID_PARTITIONING.NUM_MKTME_KIDS
	 * as the BIOS programmed it (tdh_sys_init.c).  TDH.MNG.CREATE takes a
	 * private KeyID only; shared pages (TDH.MEM.PAGE.ADD's source,
	 * TD_PARAMS) may carry a shared one; private page operands no KeyID at
	 * all.  Default 0: every KeyID is private, a partitioning the module
	 * accepts.  At least one private KeyID must remain.
	 */
	unsigned int nr_mktme_hkids;
};

/* Fill @cfg with the defaults above.  Never fails. */
void tdxsim_config_init(struct tdxsim_config *cfg);

/*
 * Create a simulator.  Everything it holds (rules, trace sinks, the hook,
 * CPU bindings, thread numbers, client data) belongs to it alone: simulators
 * in one process never see each other's.  Returns NULL with errno EAGAIN when
 * the process is out of pthread keys (each simulator takes one), EINVAL for a bad config
 * (unaligned or empty memory, nr_cpus 0, bad widths, no private KeyID) or a malformed
 * TDXSIM_FAULTS/TDXSIM_SEED/TDXSIM_TRACE (a one-line message naming the bad
 * token goes to stderr; TDXSIM_SEED takes digits only, "0x" allowed, and a
 * TDXSIM_TRACE path must fit in PATH_MAX), or ENOMEM.  The 4K PAMT, 8 bytes per 4K page of simulated
 * memory, is allocated and populated here, as the module's static PAMT is.
 */
struct tdxsim *tdxsim_create(const struct tdxsim_config *cfg);

/*
 * Destroy: releases the client data too.  Accepts NULL.  Must not race with
 * any other call on @sim.
 */
void tdxsim_destroy(struct tdxsim *sim);

const struct tdxsim_config *tdxsim_get_config(const struct tdxsim *sim);

/*
 * One SEAMCALL: leaf in RAX bits 15:0, version in bits 23:16, operands in and
 * results out of @args; returns the completion status.  Concurrent calls
 * contend on the module's own try-locks and get TDX_OPERAND_BUSY with the
 * operand id of the contended resource; a call never blocks.
 *
 * TDH.VP.ENTER (leaf 0, RCX = TDVPR) models only the entry half: it samples
 * the TD epoch, puts the vCPU in guest mode and returns TDX_SUCCESS.  The vCPU
 * leaves the guest through tdxsim_vp_exit() or a TDCALL that exits.
 *
 * Host bugs that never clear.  Most TDX_OPERAND_BUSY answers are contention
 * and a retry clears them.  Some come from the call itself: it already holds
 * the PAMT entry (or a parent entry, which a PAMT walk holds shared until the
 * call ends) that it needs again, so the same call answers BUSY every time,
 * single-threaded, on real hardware as here (pamt_manager.c pamt_walk(),
 * pamt_demote()).  A host that retries such a call loops forever.  Known cases:
 *  - TDH.MEM.PAGE.AUG of a 2MB page (R8) whose 2MB physical range holds the
 *    TD's own TDR: TDX_OPERAND_BUSY|R8.  The call holds the TDR's 1GB and 2MB
 *    PAMT entries shared and cannot promote the range's 2MB entry.  (Another
 *    TD page in the range is TDX_PAGE_METADATA_INCORRECT|R8.)
 *  - TDH.MEM.PAGE.DEMOTE with a Dynamic-PAMT pair page (R12 or R13) inside the
 *    2MB page being demoted: TDX_OPERAND_BUSY|R12 (|R13).  The call holds that
 *    page's 2MB PAMT entry exclusive.
 *  - Any leaf given the same page twice where it locks both, e.g.
 *    TDH.MNG.ADDCX with RCX = the TDR: TDX_OPERAND_BUSY|RCX.
 * The same such BUSY twice in a row (same leaf, TD, entry and operand) is
 * recorded as a host misuse that tdxsim_check() reports ("retried: ... never
 * clears").
 */
u64 tdxsim_seamcall(struct tdxsim *sim, u64 rax, struct tdx_module_args *args);

/*
 * vCPUs are named as the module names them: by the physical address of their
 * TDVPR page (TDH.VP.CREATE's RCX).  A vCPU is built with TDH.VP.CREATE,
 * nr_tdvpx_pages x TDH.VP.ADDCX and TDH.VP.INIT, and runs after
 * TDH.MR.FINALIZE and TDH.VP.ENTER.
 *
 * tdxsim_tdcall() returns this (not a module status) when the TDCALL caused a
 * TD exit; the vCPU is then outside the guest and tdxsim_vp_last_exit()
 * describes the exit.  The guest re-executes the TDCALL after re-entry.
 */
#define TDXSIM_TDCALL_TD_EXIT		0xFFFFFFFFFFFFFFFFULL
#define EXIT_REASON_EXTERNAL_INTERRUPT	1

struct tdxsim_td_exit {
	u32 exit_reason;	/* EXIT_REASON_EPT_VIOLATION, EXIT_REASON_EXTERNAL_INTERRUPT */
	u64 exit_qual;
	u64 ext_exit_qual;	/* type in 3:0, info (req level, err level/state) in 63:32 */
	u64 gpa;
};

/*
 * One TDCALL from the vCPU whose TDVPR page is @tdvpr_pa.  Returns
 * TDX_VCPU_STATE_INCORRECT if that is not a vCPU or it is not in guest mode.
 * Supports TDG.MEM.PAGE.ACCEPT; other leaves get TDX_OPERAND_INVALID|RAX.
 * Calls for one vCPU must come from one thread at a time (the guest's).
 */
u64 tdxsim_tdcall(struct tdxsim *sim, u64 tdvpr_pa, u64 rax, struct tdx_module_args *args);

/*
 * The vCPU whose TDVPR page is @tdvpr_pa, in guest mode, reads (@write
 * false) or writes @gpa: what the CPU and the module make of the access
 * (td_ept_violation.c).  Returns
 *  - TDX_SUCCESS: the access went through: a private page the guest
 *    accepted (MAPPED), or a shared GPA (shared bit, bit GPAW-1, set: the
 *    shared EPT is the host's and is not modelled, every shared access
 *    succeeds).  Also a page BLOCKED (or under a blocked table) whose
 *    translation the vCPU's TLB may still hold: the vCPU entered at an
 *    epoch not newer than the block's, i.e. before the TDH.MEM.TRACK after
 *    TDH.MEM.RANGE.BLOCK or while that TRACK's epoch still counts it (the
 *    worst case of a real TLB; the host's kick ends it).
 *  - TDXSIM_GUEST_ACCESS_VE: the page is PENDING (AUG'ed, not accepted):
 *    the guest takes a #VE (EPT violation) and stays in guest mode; a Linux
 *    guest treats it as an access before ACCEPT.  The TD-exit variant
 *    (TD_CTLS.PENDING_VE_DISABLE) is not modelled.
 *  - TDXSIM_TDCALL_TD_EXIT: an EPT violation exits the TD: no leaf maps the
 *    GPA (FREE, a missing table), or it is blocked (BLOCKED once the TLB
 *    cannot hold it, PENDING_BLOCKED, a blocked table), as after a TDCALL
 *    that exits: the vCPU is out of guest mode and tdxsim_vp_last_exit()
 *    gives EXIT_REASON_EPT_VIOLATION, @gpa, exit_qual =
 *    EPT_VIOLATION_ACC_WRITE or _ACC_READ | EPT_VIOLATION_GVA_IS_VALID |
 *    EPT_VIOLATION_GVA_TRANSLATED, ext_exit_qual 0 (type NONE).  The guest
 *    repeats the access after re-entry.
 *  - TDX_VCPU_STATE_INCORRECT: @tdvpr_pa is not a vCPU or the vCPU is not
 *    in guest mode (kicked out by tdxsim_vp_exit(), say), as tdxsim_tdcall().
 *  - TDX_OPERAND_INVALID: @gpa has bits at or above GPAW (the guest would
 *    get a #PF with PFEC.RSVD; no exit).
 * Not a SEAMCALL or TDCALL: no sequence number, statistics, fault rule or
 * hook call; a TD exit is traced (TDXSIM_EV_TD_EXIT).  The S-EPT is read
 * without the module's locks, as the CPU's walk reads it, so the call is
 * thread-safe against SEAMCALLs and other vCPUs; calls for one vCPU come
 * from its thread, one at a time (as tdxsim_tdcall()).
 */
#define TDXSIM_GUEST_ACCESS_VE		0xFFFFFFFFFFFFFFFEULL
u64 tdxsim_guest_access(struct tdxsim *sim, u64 tdvpr_pa, u64 gpa, bool write);

/*
 * Per-vCPU calls outside a SEAMCALL.  Each returns -EINVAL (false) when
 * @tdvpr_pa is not the TDVPR page of a vCPU (never created, or reclaimed).
 * Thread-safe against SEAMCALLs and TDCALLs, except the RECLAIM of the TD's
 * TDR, which frees the module's vCPU state: do not race with that.
 *
 * tdxsim_vp_exit(): asynchronous TD exit (the host kicked the vCPU, e.g.
 * KVM_REQ_OUTSIDE_GUEST_MODE); 0, also when the vCPU was not in guest mode.
 * tdxsim_vp_last_exit(): the exit information of the last TD exit caused by
 * a TDCALL; read it from the vCPU's thread or after the exit.
 */
int tdxsim_vp_exit(struct tdxsim *sim, u64 tdvpr_pa);
bool tdxsim_vp_in_guest(struct tdxsim *sim, u64 tdvpr_pa);
int tdxsim_vp_last_exit(struct tdxsim *sim, u64 tdvpr_pa, struct tdxsim_td_exit *exit);

#define TDXSIM_MAX_TDVPX_PAGES	14	/* MAX_TDVPS_PAGES - 1 */

struct tdxsim_vp_info {
	u64 tdr_pa;		/* the TD the vCPU belongs to */
	bool initialized;	/* TDH.VP.INIT done (VCPU_READY) */
	bool in_guest;
	bool associated;	/* needs TDH.VP.FLUSH before TDH.MNG.VPFLUSHDONE */
	unsigned int nr_tdvpx;	/* TDVPX pages added by TDH.VP.ADDCX */
	u64 tdvpx_pa[TDXSIM_MAX_TDVPX_PAGES];	/* in the order they were added */
	unsigned int vcpu_index;	/* order of TDH.VP.INIT, 0 before it */
};

/* State of one vCPU: 0, or -EINVAL (@info zeroed).  Same rules as above. */
int tdxsim_vp_info(struct tdxsim *sim, u64 tdvpr_pa, struct tdxsim_vp_info *info);

/*
 * The vCPUs of the TD whose TDR page is @tdr_pa: stores up to @max TDVPR
 * addresses in @tdvpr and returns how many vCPUs there are (call again with a
 * larger array if that exceeds @max), or -EINVAL if @tdr_pa is not a TDR.
 * vCPUs whose TDVPR page was reclaimed are not listed.  Same rules as above.
 */
int tdxsim_td_vcpus(struct tdxsim *sim, u64 tdr_pa, u64 *tdvpr, size_t max);

/*
 * Logical CPUs.  The calling thread runs on CPU 0 of @sim until it binds
 * itself elsewhere (like smp_processor_id(), but per simulator: a thread can
 * be bound to different CPUs in different simulators; binding in one changes
 * nothing in another).  An interrupt raised for a CPU is pending during that
 * CPU's next SEAMCALL/TDCALL and is taken by the host when the call returns.
 * tdxsim_cpu_bind() returns 0, -EINVAL (@cpu >= nr_cpus) or -ENOMEM; it binds
 * the calling thread only.  Both are thread-safe.
 */
int tdxsim_cpu_bind(struct tdxsim *sim, unsigned int cpu);
unsigned int tdxsim_cpu_current(struct tdxsim *sim);
int tdxsim_raise_interrupt(struct tdxsim *sim, unsigned int cpu);

/*
 * Host physical memory.  tdxsim_page_alloc() returns a free page (4K, or a
 * 2M-aligned 2M block for TDX_PS_2M) or 0 with errno ENOMEM.
 * tdxsim_page_free() returns 0, or refuses and records a host misuse:
 *   -EINVAL  not a page of simulated memory, or not allocated (double free)
 *   -EBUSY   the module owns (part of) it (PAMT type not PT_NDA, or DPAMT page)
 *   -EIO     still dirty with a TD's key (needs TDH.PHYMEM.PAGE.WBINVD) or,
 *            with the reset quirk, not reset since it left the TD
 */
u64 tdxsim_page_alloc(struct tdxsim *sim, int level);
int tdxsim_page_free(struct tdxsim *sim, u64 hpa, int level);
/* The host's MOVDIR64B reset of a page range (tdx_quirk_reset_paddr). */
int tdxsim_page_reset(struct tdxsim *sim, u64 hpa, u64 size);
/* Number of 4K pages currently allocated by the host. */
u64 tdxsim_pages_in_use(struct tdxsim *sim);
/*
 * Number of tdxsim_page_alloc() calls so far, failed and injected ones
 * included: the Nth call is the one "alloc:enomem:nth=N" makes fail.
 */
u64 tdxsim_page_allocs(struct tdxsim *sim);
/* Address with a KeyID in the HKID bits (mk_keyed_paddr). */
u64 tdxsim_mk_keyed_paddr(const struct tdxsim *sim, u16 hkid, u64 pa);

/*
 * Client data: a layer built on the simulator (the kernel shim keeps its
 * recorded events here, the KVM side may keep its own) attaches one object
 * per simulator under a key of its own (the address of any object of its).
 * tdxsim_client_data_attach() attaches @data unless something is already
 * attached under @key, and returns what is attached now: @data, or the
 * earlier object (the caller still owns @data then), or NULL with errno
 * ENOSPC (TDXSIM_MAX_CLIENT_DATA keys in use) or EINVAL (@key or @data NULL).
 * tdxsim_destroy() calls @release(data) (if not NULL).  tdxsim_client_data()
 * returns the object attached under @key, or NULL.  Both are thread-safe; the
 * lookup takes no lock.
 */
#define TDXSIM_MAX_CLIENT_DATA	8
void *tdxsim_client_data(struct tdxsim *sim, const void *key);
void *tdxsim_client_data_attach(struct tdxsim *sim, const void *key, void *data,
				void (*release)(void *data));

/*
 * Raise a pending interrupt / misc: sequence number of the last SEAMCALL or
 * TDCALL (every call gets the next number, starting at 1).
 */
u64 tdxsim_seq(struct tdxsim *sim);

/*
 * TD conveniences: each issues real SEAMCALLs through tdxsim_seamcall(), and
 * sees the module through this header only, as any host does.  Every retry
 * loop in them is bounded: a TDX_OPERAND_BUSY is retried a few times, then
 * reported like any other failure.
 */
#define TDXSIM_MAX_TDCS_PAGES	9	/* MAX_NUM_TDCS_PAGES */

struct tdxsim_td_host;

/*
 * A TD handle.  A caller may also fill one in for a TD it built from raw
 * SEAMCALLs (calloc'ed, @host NULL) and use the conveniences on it.
 */
struct tdxsim_td {
	struct tdxsim *sim;
	u64 tdr_pa;
	u16 hkid;
	unsigned int nr_tdcx;
	u64 tdcx_pa[TDXSIM_MAX_TDCS_PAGES];
	struct tdxsim_td_host *host;	/* the host layer's own state (vCPU handles) */
};

/*
 * MNG.CREATE, KEY.CONFIG, ADDCX (nr_tdcs_pages times), MNG.INIT: the TD is
 * INITIALIZED.  MNG.CREATE tries each private HKID once, lowest first, until
 * the module takes one.  Returns NULL and sets *@status to the failing SEAMCALL's status
 * (TDX_HKID_NOT_FREE when no HKID is free; none is retried, as in KVM), or
 * TDX_SW_ERROR with errno ENOMEM when the host runs out of pages.  A failed
 * create leaves nothing behind: the TD's pages are reclaimed, its HKID freed
 * and the Dynamic-PAMT pairs it installed removed, so tdxsim_pages_in_use()
 * is back to its value before the call (if no other thread allocated
 * meanwhile and the teardown of the half-built TD did not fail in turn: see
 * tdxsim_td_teardown()).  Thread-safe.
 */
struct tdxsim_td *tdxsim_td_create(struct tdxsim *sim, u64 *status);
/* TDH.MR.FINALIZE: INITIALIZED -> RUNNABLE. */
u64 tdxsim_td_finalize(struct tdxsim_td *td);

/*
 * Tear down, from whatever state the TD is in (tdx_mmu_release_hkid(), then
 * the reclaim): kick every vCPU out and TDH.VP.FLUSH each associated one,
 * TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB (resumed after
 * INTERRUPTED_RESUMABLE; NO_HKID_READY_TO_WBCACHE counts as done),
 * TDH.MNG.KEY.FREEID, then RECLAIM every page the TD owns (tdxsim_td_page_next())
 * and the TDR last, and return them to the free pool; free @td and its vCPU
 * handles.  With TDXSIM_TEARDOWN_FREE_PAMT also PAMT.REMOVE and free the
 * Dynamic-PAMT pairs of every 2MB range left empty.  BUSY is retried
 * (bounded), as the kernel retries it.
 * Returns 0 only when the TD is gone and every page is back; -EIO when a
 * SEAMCALL failed otherwise: the TD then stays where it stopped, with the
 * pages it still owns, and a later teardown with a handle naming its TDR
 * (sim, tdr_pa, hkid) resumes from there.  -EINVAL when @td->tdr_pa is not a
 * TD (already gone): only the handle is freed.  Must not race with other
 * calls on the same TD.
 */
#define TDXSIM_TEARDOWN_FREE_PAMT	0x1
int tdxsim_td_teardown(struct tdxsim_td *td, unsigned int flags);

/*
 * Host-side vCPU handle of the conveniences: the TD and the vCPU's TDVPR
 * page.  Owned by the host layer and freed by tdxsim_td_teardown(); any
 * vCPU, however built, is also reachable by its TDVPR address alone.
 */
struct tdxsim_vcpu {
	struct tdxsim_td *td;
	u64 tdvpr_pa;
};

/*
 * TDH.VP.CREATE with a newly allocated TDVPR page, TDH.VP.ADDCX with
 * nr_tdvpx_pages new pages, TDH.VP.INIT (version 1, x2APIC ID = the vCPU
 * index).  Returns NULL and sets *@status to the failing SEAMCALL's status
 * (TDX_SW_ERROR with errno ENOMEM for a host-side failure); pages given to
 * the module before the failure stay with the TD and teardown reclaims them.
 * Thread-safe, also for one TD.
 */
struct tdxsim_vcpu *tdxsim_vcpu_create(struct tdxsim_td *td, u64 *status);
u64 tdxsim_vcpu_tdvpr_pa(const struct tdxsim_vcpu *vcpu);
/* TDH.VP.ENTER (epoch part). */
u64 tdxsim_vcpu_enter(struct tdxsim_vcpu *vcpu);
/* tdxsim_vp_exit() of the vCPU.  No-op if not in guest. */
void tdxsim_vcpu_exit(struct tdxsim_vcpu *vcpu);
bool tdxsim_vcpu_in_guest(const struct tdxsim_vcpu *vcpu);
/* tdxsim_vp_last_exit() of the vCPU. */
void tdxsim_vcpu_last_exit(const struct tdxsim_vcpu *vcpu, struct tdxsim_td_exit *exit);
/* Exit every vCPU of @td that is in guest mode (KVM_REQ_OUTSIDE_GUEST_MODE). */
void tdxsim_td_kick_vcpus(struct tdxsim_td *td);
/*
 * Kick, then TDH.VP.FLUSH every vCPU of @td that is associated (initialised
 * or entered since its last flush: what KVM does before
 * TDH.MNG.VPFLUSHDONE), however many there are, vCPUs built from raw
 * SEAMCALLs included.  Returns the first failing status, or TDX_SUCCESS.
 */
u64 tdxsim_td_flush_vcpus(struct tdxsim_td *td);

/* Introspection.  Not synchronised with concurrent SEAMCALLs on the same range. */
struct tdxsim_sept_info {
	int level;		/* level of the entry reported */
	u8 state;		/* public state (SEPT_PUBLIC_*) */
	bool leaf;
	u64 hpa;		/* mapped page or child S-EPT page, 0 if FREE */
	u64 entry;		/* architectural entry, as the module reports it in RCX */
	u16 accept_counter;	/* 4K pages of a 2MB PENDING page accepted so far */
};

/*
 * The entry that maps @gpa: the walk stops at the first leaf or non-present
 * entry.  Returns 0, or -EINVAL (bad GPA / not a TD).
 */
int tdxsim_sept_lookup(struct tdxsim *sim, const struct tdxsim_td *td, u64 gpa,
		       struct tdxsim_sept_info *info);
/* The entry at exactly @level; -ENOENT if the walk stops above it. */
int tdxsim_sept_lookup_level(struct tdxsim *sim, const struct tdxsim_td *td, u64 gpa,
			     int level, struct tdxsim_sept_info *info);

struct tdxsim_pamt_info {
	int level;		/* level of the PAMT leaf covering the page */
	u8 pt;			/* enum pamt_page_type of that leaf */
	u64 owner;		/* TDR PA, 0 if none */
	u32 bepoch;
	bool pamt_page;		/* the page itself is a Dynamic-PAMT page */
	/*
	 * Dynamic PAMT node of the page's 2MB range: whether a pair is
	 * installed (TDH.PHYMEM.PAMT.ADD), its pages, and how many 4K pages of
	 * the range the module counts as in use (PAMT.REMOVE wants 0).
	 */
	bool dpamt_pair;
	u64 dpamt_pages[2];
	u16 dpamt_count;
	/* Host view. */
	bool allocated;
	bool dirty;		/* written with a TD key, needs WBINVD */
	u16 dirty_hkid;
	bool needs_reset;
};

/*
 * PAMT and host state of the page at @hpa (any address inside it): 0, or
 * -EINVAL (@info zeroed) when @hpa is outside simulated memory.  Also the
 * Dynamic-PAMT state of @hpa's 2MB range.
 * Thread safety: may be called while SEAMCALLs run on other threads (no
 * lock taken, no data race: every field is read with one atomic load).
 * The result is then a snapshot, not a consistent state: fields may come
 * from before and after a concurrent SEAMCALL (say, dpamt_count of an
 * AUG that has not yet set the entry's type).  Exact only when no
 * SEAMCALL touching @hpa's 2MB range runs meanwhile.
 */
int tdxsim_pamt_lookup(struct tdxsim *sim, u64 hpa, struct tdxsim_pamt_info *info);

/* TD life cycle (TDR.LIFECYCLE_STATE), in the order a TD goes through it. */
enum tdxsim_td_lifecycle {
	TDXSIM_TD_HKID_ASSIGNED = 0,	/* after TDH.MNG.CREATE */
	TDXSIM_TD_KEYS_CONFIGURED = 1,	/* after TDH.MNG.KEY.CONFIG */
	TDXSIM_TD_BLOCKED = 2,		/* after TDH.MNG.VPFLUSHDONE */
	TDXSIM_TD_TEARDOWN = 3,		/* after TDH.MNG.KEY.FREEID: pages can be reclaimed */
};

/* TDCS.OP_STATE values the host sees (the module's op_state_lookup.h). */
#define TDXSIM_OP_STATE_UNINITIALIZED	0
#define TDXSIM_OP_STATE_INITIALIZED	1	/* after TDH.MNG.INIT */
#define TDXSIM_OP_STATE_RUNNABLE	2	/* after TDH.MR.FINALIZE */

struct tdxsim_td_info {
	u8 lifecycle;		/* enum tdxsim_td_lifecycle */
	u8 op_state;		/* TDXSIM_OP_STATE_* */
	bool fatal;
	bool wbcache_pending;	/* VPFLUSHDONE done, TDH.PHYMEM.CACHE.WB not yet */
	u16 hkid;
	u64 chldcnt;		/* TDR.CHLDCNT: pages the TD owns, TDR excluded, in 4K units */
	u64 epoch;		/* TD epoch (TDH.MEM.TRACK) */
	unsigned int nr_tdcx;	/* TDH.MNG.ADDCX pages */
	unsigned int nr_vcpus;	/* vCPUs past TDH.VP.INIT */
};

/*
 * State of the TD whose TDR page is @tdr_pa: 0, or -EINVAL (@info zeroed)
 * when @tdr_pa is not a TDR (never created, or reclaimed).  Lock-free reads:
 * a field may be older than a SEAMCALL running concurrently on the TD.  Must
 * not race with the RECLAIM of that TDR.
 */
int tdxsim_td_info(struct tdxsim *sim, u64 tdr_pa, struct tdxsim_td_info *info);

/* A page a TD owns, as its PAMT leaf describes it. */
struct tdxsim_td_page {
	u64 hpa;		/* first byte of the page */
	int level;		/* TDX_PS_* of the PAMT leaf */
	u8 pt;			/* PT_TDR, PT_TDCX (TDCX and TDVPX), PT_TDVPR, PT_EPT, PT_REG */
};

/*
 * Iterate over the pages the TD of @tdr_pa owns, in address order, the TDR
 * included: stores the first page whose PAMT leaf covers *@cursor or lies
 * above it, moves *@cursor past it and returns 0; returns -ENOENT when there
 * is none left and -EINVAL when @tdr_pa is not a TDR.  Start with *@cursor
 * = 0.  The walk reads the PAMT without locks: pages given or taken by
 * concurrent SEAMCALLs may or may not be seen.  Same rules as
 * tdxsim_td_info() otherwise.  Dynamic-PAMT pair pages belong to no TD: see
 * tdxsim_pamt_lookup() of a 2MB range for those.
 */
int tdxsim_td_page_next(struct tdxsim *sim, u64 tdr_pa, u64 *cursor, struct tdxsim_td_page *page);

/* TDR child count (pages the TD owns, in 4K units for data pages). */
u64 tdxsim_td_chldcnt(struct tdxsim *sim, const struct tdxsim_td *td);
u64 tdxsim_td_epoch(struct tdxsim *sim, const struct tdxsim_td *td);

/* Statistics per leaf (SEAMCALL leaves; TDCALLs are counted under tdcall). */
#define TDXSIM_STATS_MAX_STATUSES	32
struct tdxsim_leaf_stats {
	u64 calls;
	u64 success;
	unsigned int nr_statuses;
	struct {
		u64 status;	/* full status, operand included */
		u64 count;
	} statuses[TDXSIM_STATS_MAX_STATUSES];
};

int tdxsim_stats_leaf(struct tdxsim *sim, unsigned int leaf, struct tdxsim_leaf_stats *st);
int tdxsim_stats_tdcall(struct tdxsim *sim, unsigned int leaf, struct tdxsim_leaf_stats *st);
u64 tdxsim_stats_count(struct tdxsim *sim, unsigned int leaf, u64 status);
/* The leaf's name in the leaf table ("TDH.MEM.PAGE.AUG"), or NULL (tdxsim_leaf_info()). */
const char *tdxsim_leaf_name(unsigned int leaf);
void tdxsim_stats_print(struct tdxsim *sim, FILE *f);

/* Invariant checker. */
enum tdxsim_invariant {
	TDXSIM_INV_CHLDCNT,		/* TDR child count != pages the TD owns */
	TDXSIM_INV_LEAF_PAMT,		/* S-EPT leaf page PAMT type/owner/size mismatch */
	TDXSIM_INV_SEPT_PAGE_PAMT,	/* S-EPT page not PT_EPT owned by the TD */
	TDXSIM_INV_DPAMT_COUNT,		/* DPAMT count != 4K pages in use in the 2MB */
	TDXSIM_INV_DPAMT_PAIR,		/* pair pages not flagged, or 4K use without pair */
	TDXSIM_INV_FREE_OWNED,		/* page free in the host pool but owned by the module */
	TDXSIM_INV_EPOCH,		/* epoch refcounts vs vCPUs in guest */
	TDXSIM_INV_ORPHAN,		/* PAMT says owned but nothing references it */
	TDXSIM_INV_HOST_MISUSE,		/* host freed/reused a page illegally, or retried
					 * a BUSY that never clears (tdxsim_seamcall()) */
	TDXSIM_INV_LOCK_HELD,		/* a lock still held while quiescent */
	TDXSIM_INV_NR,
};

struct tdxsim_violation {
	enum tdxsim_invariant what;
	u64 hpa;		/* physical page concerned, or 0 */
	u64 gpa;		/* GPA concerned, or ~0ULL */
	u64 tdr_pa;		/* TD concerned, or 0 */
	u64 seq;		/* call that last modified the location (0: unknown) */
	char msg[192];
};

#define TDXSIM_REPORT_MAX	64
struct tdxsim_report {
	unsigned int nr;	/* violations found (may exceed TDXSIM_REPORT_MAX) */
	struct tdxsim_violation v[TDXSIM_REPORT_MAX];
};

/*
 * Verify every module invariant.  Must run while no other call is in flight
 * on @sim.  Returns the number of violations (0: clean); @report may be NULL.
 */
int tdxsim_check(struct tdxsim *sim, struct tdxsim_report *report);
const char *tdxsim_invariant_name(enum tdxsim_invariant inv);
void tdxsim_report_print(const struct tdxsim_report *report, FILE *f);

#pragma GCC visibility pop

#endif /* TDXSIM_TDXSIM_H */
