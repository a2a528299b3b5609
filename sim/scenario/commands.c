// SPDX-License-Identifier: GPL-2.0-only
/*
 * The command table of the scenario language: every command with its
 * arguments, defaults, help and one example.  The parser validates against
 * it, `tdxsim shell`'s help prints it, and doc/scenario.md's command
 * reference is this table printed (`tdxsim run --doc`; tests/scenarios
 * checks that the page and the table agree).
 */
#include <stdio.h>
#include <string.h>

#include <tdxsim-kvm/scenario.h>
#include <tdxsim-kvm/kvm_host.h>

#define POS(n, t, d, h)		{ n, TDXSIM_SCN_POS, TDXSIM_SCN_##t, NULL, d, h }
#define POSC(n, c, d, h)	{ n, TDXSIM_SCN_POS, TDXSIM_SCN_CHOICE, c, d, h }
#define KEY(n, t, d, h)		{ n, TDXSIM_SCN_KEY, TDXSIM_SCN_##t, NULL, d, h }
#define KEYC(n, c, d, h)	{ n, TDXSIM_SCN_KEY, TDXSIM_SCN_CHOICE, c, d, h }
#define FLAG(n, h)		{ n, TDXSIM_SCN_BARE, TDXSIM_SCN_FLAG, NULL, NULL, h }
#define ARGS(a)			a, sizeof(a) / sizeof(a[0])
#define NOARGS			NULL, 0

static const struct tdxsim_scn_arg_info config_args[] = {
	KEY("mem", SIZE, "1G", "simulated physical memory (one TDMR at 1G)"),
	KEYC("design", "v3|upstream", "v3",
	     "KVM's hook design: the posted v3 series or the upstream set_external_spte funnel"),
	KEY("dpamt", ONOFF, "on", "Dynamic PAMT (TDX_FEATURES0 bit 36)"),
	KEY("tdx_huge_page", ONOFF, "on", "KVM's tdx_huge_page module parameter"),
	KEY("vcpus", NUM, "1", "vCPUs, 1 to 8"),
	KEY("seed", NUM, "1", "seed of the simulator's generator (fault rules with p=)"),
	KEY("features", FEATURES, NULL,
	    "TDX_FEATURES0 bits to set (+name) or clear (-name), comma-separated: "
	    "dynamic_pamt, enhanced_demote_interruptibility, no_rbp_mod"),
	KEYC("conv_order", "split-then-zap|zap-then-split|folio-first", "split-then-zap",
	     "private-to-shared conversion order: S-EPT split, folio split, zap (S03); "
	     "S-EPT split, zap, folio split (S01's fixup); folio split first (S01, fallible first)"),
	KEY("budget", NUM, "1000000", "step budget of each guest program in `run`"),
	KEY("cpus", NUM, "4", "logical CPUs of the simulator (interrupt sources)"),
	KEYC("gmem_lock", "file|range", "file",
	     "what guest_memfd's invalidate lock covers during a conversion, punch or memory "
	     "failure: the whole file (guest_memfd today) or the operation's range (S24's "
	     "lock-by-range variant)"),
	KEYC("cross_boundary_walk", "flag|headtail", "flag",
	     "kvm_split_cross_boundary_leafs' walk: the whole range, splitting leaves that "
	     "cross its ends (v3), or only the parts of the range in start's and end's 1G "
	     "regions (S19's head/tail proposal); same splits, different cost"),
	KEYC("eager_split", "walk|refuse-mirror", "walk",
	     "dirty logging's eager split (`eager-split`) on a TD: walks the mirror root with "
	     "the other valid roots (v3), or refuses with WARN_ON_ONCE and -EINVAL (S23's "
	     "proposal)"),
	KEY("vm_memory_attributes", ONOFF, "off",
	    "KVM's vm_memory_attributes module parameter: on turns TDX huge pages off (4K "
	    "only; 003:P14, S16h)"),
	KEY("loop_on_restartable", NUM, "0",
	    "the cover letter's test-only workaround (S08b): 0 off; N: KVM keeps huge pages "
	    "without enhanced_demote_interruptibility and re-issues a split's DEMOTE on "
	    "TDX_INTERRUPTED_RESTARTABLE up to N times, then reports no forward progress"),
	KEYC("split_cache_gfp", "kernel|account", "kernel",
	     "v3's split-cache top-up allocation (S32c): GFP_KERNEL as posted (not charged to "
	     "the VM's memcg) or GFP_KERNEL_ACCOUNT (the fix agreed at 000 line 57); "
	     "`expect stat split_cache_charged`"),
	KEY("dpamt_at_topup", ONOFF, "off",
	    "S29's proposal: tdx_pamt_get() for each S-EPT page when KVM tops up a vCPU's "
	    "fault cache (4 pages in the model), none at SEPT.ADD; `expect stat topup_pairs`"),
	KEY("dpamt_configured", ONOFF, "on",
	    "S30: off = the module supports Dynamic PAMT (features0 bit 36, what the kernel "
	    "reads) but TDH.SYS.CONFIG did not enable it: static 4K PAMT, PAMT.ADD/REMOVE "
	    "refused with TDX_OPERAND_INVALID|RAX, DEMOTE's R12/R13 ignored"),
};

static const struct tdxsim_scn_arg_info defect_args[] = {
	POS("NAME", DEFECT, NULL, "a defect switch (`tdxsim run --defects` lists them)"),
};

static const struct tdxsim_scn_arg_info inject_args[] = {
	POS("RULE", FAULT, NULL, "a libtdxsim fault rule, e.g. demote:busy=sept:nth=1"),
};

static const struct tdxsim_scn_arg_info skip_args[] = {
	POS("WHY", STRING, NULL, "the reason, in double quotes"),
};

static const struct tdxsim_scn_arg_info vm_args[] = {
	POS("NAME", WORD, "main", "a name for the VM; a second `vm` adds a sibling VM"),
};

static const struct tdxsim_scn_arg_info use_args[] = {
	POS("NAME", VMNAME, NULL, "the VM the commands after it act on and look at"),
};

static const struct tdxsim_scn_arg_info memslot_args[] = {
	POS("SLOT", NUM, NULL, "slot number, 0 to 31"),
	KEY("gpa", GPA, NULL, "first GPA"),
	KEY("size", SIZE, NULL, "size in bytes"),
	FLAG("mmio", "backed by memory the module cannot convert (MMIO)"),
	FLAG("no-tdmr", "guest_memfd whose folios lie outside the module's TDMR"),
	KEYC("folios", "none|4k|2m", "none",
	     "back the whole slot with guest_memfd folios of this size now (as `folio` does)"),
	KEY("gmem", VMNAME, NULL, "bind the guest_memfd of that VM (KVM refuses another VM's: "
	    "-EINVAL)"),
};

static const struct tdxsim_scn_arg_info folio_args[] = {
	POS("GPA", GPA, NULL, "first GPA, 2M-aligned for order 9"),
	KEY("size", SIZE, "2M", "bytes to back"),
	KEY("order", NUM, "9", "folio order: 9 (2M folios) or 0 (4K folios)"),
};

static const struct tdxsim_scn_arg_info build_add_args[] = {
	POS("GPA", GPA, NULL, "first GPA"),
	KEY("size", SIZE, "4K", "bytes to add, 4K at a time"),
};

static const struct tdxsim_scn_arg_info map_args[] = {
	POS("GPA", GPA, NULL, "the GPA to fault in"),
	KEY("vcpu", NUM, "0", "the vCPU whose caches the fault uses"),
	KEY("level", LEVEL, NULL, "expected mapped level (fails the scenario otherwise)"),
};

static const struct tdxsim_scn_arg_info convert_args[] = {
	POS("GPA", GPA, NULL, "first GPA"),
	POSC("TO", "shared|private", NULL, "the new attribute"),
	KEY("size", SIZE, "4K", "bytes to convert"),
};

static const struct tdxsim_scn_arg_info range_args[] = {
	POS("GPA", GPA, NULL, "first GPA"),
	KEY("size", SIZE, "2M", "bytes"),
};

static const struct tdxsim_scn_arg_info split_args[] = {
	POS("GPA", GPA, NULL, "first GPA"),
	KEY("size", SIZE, "2M", "bytes"),
	KEY("level", LEVEL, "4k", "target level"),
	FLAG("shared", "under the shared (read) mmu_lock instead of the write lock"),
};

static const struct tdxsim_scn_arg_info eager_split_args[] = {
	POS("GPA", GPA, NULL, "first GPA"),
	KEY("size", SIZE, "2M", "bytes, inside one memslot"),
	FLAG("shared", "under the read mmu_lock (dirty logging turned on) instead of the write "
	     "lock (CLEAR_DIRTY_LOG)"),
};

static const struct tdxsim_scn_arg_info gpa_args[] = {
	POS("GPA", GPA, NULL, "the GPA"),
};

static const struct tdxsim_scn_arg_info mark_args[] = {
	POS("NAME", WORD, NULL, "a name for this point of the trace"),
};

static const struct tdxsim_scn_arg_info seamcall_args[] = {
	POSC("LEAF", "block|unblock|track|remove|promote|aug", NULL,
	     "the SEAMCALL (TDH.MEM.RANGE.BLOCK, .UNBLOCK, TDH.MEM.TRACK, TDH.MEM.PAGE.REMOVE, "
	     ".PROMOTE, .AUG)"),
	POS("GPA", GPA, "0", "the GPA (not for track)"),
	KEY("level", LEVEL, "4k", "the level of the entry"),
};

static const struct tdxsim_scn_arg_info guest_args[] = {
	POS("VCPU", NUM, NULL, "the vCPU that runs the program"),
};

static const struct tdxsim_scn_arg_info thread_args[] = {
	POS("NAME", WORD, NULL, "a name for the thread (messages)"),
};

static const struct tdxsim_scn_arg_info repeat_args[] = {
	POS("N", NUM, NULL, "how many times, 1 to 16M"),
	KEY("step", SIZE, "2M", "added to every GPA of the body at each pass"),
};

static const struct tdxsim_scn_arg_info run_args[] = {
	KEY("budget", NUM, NULL, "step budget per guest program (default: config budget)"),
	KEY("release-at", NUM, "1", "with `gmem-hold` in force: release the lock once this many "
	    "faults wait for it"),
};

static const struct tdxsim_scn_arg_info access_args[] = {
	POS("GPA", GPA, NULL, "the GPA the guest touches"),
	FLAG("write", "a write (default: a read)"),
};

static const struct tdxsim_scn_arg_info accept_args[] = {
	POS("GPA", GPA, NULL, "the GPA to accept, aligned to LEVEL"),
	POS("LEVEL", LEVEL, "4k", "the ACCEPT level, 4k or 2m"),
	FLAG("fallback", "Linux guest: a failing 2m ACCEPT is retried as 512 4k ones"),
};

static const struct tdxsim_scn_arg_info gconvert_args[] = {
	POS("GPA", GPA, NULL, "first GPA"),
	POSC("TO", "shared|private", NULL, "the attribute the guest asks for"),
	KEY("size", SIZE, "4K", "bytes"),
};

static const struct tdxsim_scn_arg_info spin_args[] = {
	POS("N", NUM, "1", "steps"),
};

static const struct tdxsim_scn_arg_info x_level_args[] = {
	POS("GPA", GPA, NULL, "the GPA"),
	POSC("LEVEL", "4k|2m|1g|none", NULL, "the leaf level both must show; none: unmapped"),
};

static const struct tdxsim_scn_arg_info x_kvm_args[] = {
	POS("GPA", GPA, NULL, "the GPA"),
	KEYC("level", "4k|2m|1g|none", NULL, "level of the mirror leaf; none: no leaf"),
	KEY("present", ONOFF, NULL, "whether a present leaf maps the GPA"),
};

static const struct tdxsim_scn_arg_info x_sept_args[] = {
	POS("GPA", GPA, NULL, "the GPA"),
	KEYC("level", "4k|2m|1g", NULL,
	     "look at the entry of this level (a table entry too); without it, at the entry "
	     "where the walk for the GPA stops (a leaf, or a non-present or blocked entry)"),
	KEYC("state", "free|pending|mapped|blocked|pending-blocked|nl-mapped|nl-blocked|removed",
	     NULL, "its state (SEPT_PUBLIC_*)"),
};

static const struct tdxsim_scn_arg_info x_attr_args[] = {
	POS("GPA", GPA, NULL, "the GPA"),
	POSC("ATTR", "shared|private", NULL, "KVM's memory attribute"),
};

static const struct tdxsim_scn_arg_info x_inhibit_args[] = {
	POS("GPA", GPA, NULL, "the GPA"),
	POS("LEVEL", LEVEL, NULL, "2m or 1g: the lpage_info level"),
	POSC("STATE", "set|clear", "set", "whether KVM_LPAGE_GUEST_INHIBIT_FLAG is set"),
};

static const struct tdxsim_scn_arg_info x_calls_args[] = {
	POS("LEAF", LEAF, NULL, "a SEAMCALL or TDCALL leaf: demote, aug, accept, TDH.MEM.TRACK"),
	POS("OP", OP, NULL, "= != < <= > >="),
	POS("N", NUM, NULL, "the count"),
	KEY("since", MARK, NULL, "count only calls after this mark"),
	KEY("status", STATUS, NULL, "count only calls that returned this status"),
};

static const struct tdxsim_scn_arg_info x_status_args[] = {
	POS("CALL", LEAF_NTH, NULL, "LEAF#N: the Nth call of LEAF (LEAF alone: the last one)"),
	POS("OP", OP, NULL, "= or !="),
	POS("STATUS", STATUS, NULL, "TDX_SUCCESS, TDX_OPERAND_BUSY (any operand), "
	    "TDX_OPERAND_BUSY|SEPT (exactly), or a number"),
};

static const struct tdxsim_scn_arg_info x_exits_args[] = {
	POSC("KIND", "all|ept|accept|entries|steps|ves|entry-retries", NULL,
	     "which counter of the guest programs: TD exits of any kind, EPT-violation exits, "
	     "ACCEPT-type EPT-violation exits, TD entries, steps, #VEs taken, entries refused "
	     "(wait_for_sept_zap)"),
	POS("OP", OP, NULL, "= != < <= > >="),
	POS("N", NUM, NULL, "the count"),
	KEY("vcpu", NUM, NULL, "one vCPU's programs (default: all vCPUs)"),
};

static const struct tdxsim_scn_arg_info x_count_args[] = {
	POS("OP", OP, NULL, "= != < <= > >="),
	POS("N", NUM, NULL, "the count"),
};

static const struct tdxsim_scn_arg_info x_refcount_args[] = {
	POS("GPA", GPA, NULL, "a GPA backed by guest_memfd"),
	POS("OP", OP, NULL, "= != < <= > >="),
	POS("N", NUM, NULL, "the refcount"),
};

static const struct tdxsim_scn_arg_info x_pages_args[] = {
	POS("LEVEL", LEVEL, NULL, "4k, 2m or 1g"),
	POS("OP", OP, NULL, "= != < <= > >="),
	POS("N", NUM, NULL, "present mirror leaves of that level (kvm->stat.pages)"),
};

static const struct tdxsim_scn_arg_info x_events_args[] = {
	POSC("KIND", "warn|kvm-bug|tdx-bug|pr-err|pr-warn|sleep-in-atomic|lockdep|bug", NULL,
	     "the kernel shim's event type"),
	POS("OP", OP, NULL, "= != < <= > >="),
	POS("N", NUM, NULL, "the count"),
};

static const struct tdxsim_scn_arg_info x_order_args[] = {
	POS("A", EVENT, NULL, "LEAF, LEAF#N or a mark (LEAF: its first call)"),
	POSC("REL", "before|after", NULL, "the relation"),
	POS("B", EVENT, NULL, "LEAF, LEAF#N or a mark (LEAF: its first call)"),
};

static const struct tdxsim_scn_arg_info x_none_args[] = {
	POS("LEAF", LEAF, NULL, "the leaf that must not be called"),
	POSC("between", "between", NULL, "the word `between`"),
	POS("FROM", MARK, NULL, "a mark"),
	POS("TO", MARK, "now", "a later mark, or `now` (the default)"),
};

static const struct tdxsim_scn_arg_info x_prov_args[] = {
	POS("GPA", GPA, NULL, "the GPA whose S-EPT page is asked about"),
	KEY("pool", WORD, NULL, "the pool it came from: split-sp, mmu-cache, vcpu-prealloc, "
	    "split-cache, pamt-pair, guest-folio, sept-page (default: any)"),
	KEY("freed-by", WORD, NULL, "the function that freed it (tdp_mmu_free_sp, ...)"),
	KEYC("state", "live|cached|module|leaked|freed", NULL, "where the page is now"),
};

static const struct tdxsim_scn_arg_info x_invs_args[] = {
	POSC("hold", "hold", NULL, "the word `hold`"),
};

static const struct tdxsim_scn_arg_info x_inv_args[] = {
	POS("INV", WORD, NULL, "an invariant: I1..I19 or a name (sept-mismatch, module)"),
	POSC("STATE", "breaks|holds", NULL, "whether it is violated now"),
};

static const struct tdxsim_scn_arg_info x_stat_args[] = {
	POSC("NAME", "gmem_fault_waits|gmem_wait_max_ns|sp_allocated|rcu_pending|"
	     "cross_boundary_steps|demote_restarts|mmu_lock_write_max_ns|"
	     "split_cache_allocated|split_cache_charged|topup_pairs", NULL,
	     "a counter of kvm->stat: faults that waited for guest_memfd's invalidate lock, the "
	     "longest wait (ns), kvm_mmu_page headers alive, removed sps awaiting RCU, SPTEs "
	     "visited by kvm_split_cross_boundary_leafs' walks, DEMOTEs re-issued after "
	     "TDX_INTERRUPTED_RESTARTABLE (config loop_on_restartable), the longest hold of "
	     "the write mmu_lock (ns), pages v3's split-cache top-up allocated and how many of "
	     "them it charged to the VM's memcg (config split_cache_gfp), PAMT pairs the "
	     "fault-cache top-up installed (config dpamt_at_topup)"),
	POS("OP", OP, NULL, "= != < <= > >="),
	POS("N", NUM, NULL, "the value"),
};

static const struct tdxsim_scn_arg_info x_bugged_args[] = {
	POS("BY", WORD, "any", "any, KVM_BUG_ON, or TDX_BUG_ON(LEAF), e.g. TDX_BUG_ON(DEMOTE)"),
};

#define CMD(i, n, g, w, v, r, a, s, h, e) \
	[TDXSIM_CMD_##i] = { TDXSIM_CMD_##i, n, TDXSIM_GRP_##g, w, v, r,			\
			     TDXSIM_CMD_##i == TDXSIM_CMD_GUEST ||				\
			     TDXSIM_CMD_##i == TDXSIM_CMD_THREAD ||				\
			     TDXSIM_CMD_##i == TDXSIM_CMD_REPEAT, a, s, h, e }
#define TOP	TDXSIM_SCN_TOP
#define HOST	(TDXSIM_SCN_TOP | TDXSIM_SCN_THREAD)
#define GST	TDXSIM_SCN_GUEST

const struct tdxsim_scn_cmd_info tdxsim_scn_commands[TDXSIM_CMD_NR] = {
	CMD(CONFIG, "config", CONFIG, TOP, false, false, ARGS(config_args),
	    "set up the simulator, the TD and KVM (before the VM exists)",
	    "Any number of `config` lines may come before the VM is created; each key keeps "
	    "the last value given.",
	    "config mem=2G design=upstream dpamt=off vcpus=2"),
	CMD(DEFECT, "defect", CONFIG, TOP, false, false, ARGS(defect_args),
	    "turn on a defect switch (a reviewed bug, re-created)",
	    "Before the VM exists.  Several `defect` lines add up.",
	    "defect split-spt-zero"),
	CMD(INJECT, "inject", CONFIG, HOST, false, false, ARGS(inject_args),
	    "add a fault rule (libtdxsim's TDXSIM_FAULTS syntax, unchanged)",
	    "Rules written before the VM exists take effect once `vm` has built the TD, so "
	    "building it is never faulted; later ones from where they stand.  Matching "
	    "calls are counted from the moment the rule is added.",
	    "inject demote:busy=sept:nth=1"),
	CMD(SKIP, "skip", CONFIG, TOP, false, false, ARGS(skip_args),
	    "stop here and report the scenario as skipped, with the reason",
	    "Commands before it run (a failed expectation still fails the scenario); a "
	    "skipped scenario is never counted as passed.",
	    "skip \"needs the deterministic scheduler\""),
	CMD(VM, "vm", CONFIG, TOP, false, false, ARGS(vm_args),
	    "create the simulator, the TD (INITIALIZED), KVM's VM and the vCPUs",
	    "Optional: the first command that needs the VM creates it, named main.  A later "
	    "`vm NAME` adds a sibling VM on the same simulated module (its own TD, HKID, KVM, "
	    "vCPUs and guest_memfd; the configuration is the first VM's; at most 4) and makes "
	    "it the current VM: commands act on the current VM (`use` switches).  Each VM's "
	    "teardown ledger counts pages from its creation: tear siblings down first.",
	    "vm second"),
	CMD(MEMSLOT, "memslot", SETUP, TOP, true, true, ARGS(memslot_args),
	    "add a memslot (guest_memfd-backed private memory unless a flag says otherwise)",
	    "KVM_SET_USER_MEMORY_REGION2.  The flags model memory the module cannot use.",
	    "memslot 0 gpa=0x40000000 size=16M"),
	CMD(FOLIO, "folio", SETUP, TOP, true, true, ARGS(folio_args),
	    "give guest_memfd folios to a GPA range",
	    "Order 9: one 2M folio per 2M (a 2M mapping becomes possible); order 0: 4K folios.",
	    "folio 0x40000000 size=4M order=9"),
	CMD(BUILD_ADD, "build-add", SETUP, TOP, true, true, ARGS(build_add_args),
	    "TDH.MEM.PAGE.ADD at 4K while the TD is being built",
	    "The TD must not be finalized yet.",
	    "build-add 0x40000000 size=64K"),
	CMD(FINALIZE, "finalize", SETUP, TOP, true, true, NOARGS,
	    "TDH.MR.FINALIZE and VP.INIT: the TD becomes RUNNABLE",
	    "Faults before it are build-time faults (4K only).",
	    "finalize"),
	CMD(MAP, "map", HOST, HOST, true, true, ARGS(map_args),
	    "fault a GPA in, as KVM_PRE_FAULT_MEMORY does (kvm_tdp_map_page)",
	    "The mapping level is KVM's choice (folio, attributes, inhibit, tdx_huge_page).",
	    "map 0x40000000 level=2m"),
	CMD(CONVERT, "convert", HOST, HOST, true, true, ARGS(convert_args),
	    "KVM_SET_MEMORY_ATTRIBUTES on a range: split across its ends, zap, update",
	    "The guest_memfd folio split is ordered by config conv_order.",
	    "convert 0x40005000 shared size=4K"),
	CMD(PUNCH, "punch", HOST, HOST, true, true, ARGS(range_args),
	    "guest_memfd PUNCH_HOLE on a range: zap its private mappings, free its folios",
	    "",
	    "punch 0x40200000 size=2M"),
	CMD(SPLIT, "split", HOST, HOST, true, true, ARGS(split_args),
	    "split every huge mirror leaf of a range to a level (tdp_mmu_split_huge_pages_root)",
	    "Under the write mmu_lock unless `shared`.",
	    "split 0x40000000 size=2M level=4k"),
	CMD(EAGER_SPLIT, "eager-split", HOST, HOST, true, true, ARGS(eager_split_args),
	    "dirty logging's eager split of a range to 4K (kvm_tdp_mmu_try_split_huge_pages)",
	    "Over every valid root: on a TD the mirror root, so the backend's split hook runs "
	    "(S23).  config eager_split=refuse-mirror: -EINVAL and a WARN, nothing split.",
	    "eager-split 0x40000000 size=4M"),
	CMD(ZAP, "zap", HOST, HOST, true, true, ARGS(range_args),
	    "zap the private leaves of a range (kvm_tdp_mmu_unmap_gfn_range)",
	    "",
	    "zap 0x40000000 size=2M"),
	CMD(MEMORY_FAILURE, "memory-failure", HOST, HOST, true, true, ARGS(gpa_args),
	    "a memory failure on the page backing a GPA (split to 4K, zap that page)",
	    "",
	    "memory-failure 0x40005000"),
	CMD(TEARDOWN, "teardown", HOST, TOP, true, true, NOARGS,
	    "release the HKID (VP.FLUSH, VPFLUSHDONE, ..), zap everything, RECLAIM all pages",
	    "Only expectations may follow it.  `expect invariants hold` then checks the "
	    "teardown's ledger: it succeeded, every page came back (or the VM was bugged and "
	    "KVM leaked on purpose), and the module's checker is clean.",
	    "teardown"),
	CMD(MARK, "mark", HOST, HOST, true, false, ARGS(mark_args),
	    "name this point of the trace, for `expect order` and `expect none`",
	    "A mark stands between the last call before it and the first call after it.",
	    "mark before-split"),
	CMD(CLEAR_FAULTS, "clear-faults", HOST, TOP, true, false, NOARGS,
	    "remove every fault rule (and their counters)",
	    "",
	    "clear-faults"),
	CMD(USE, "use", HOST, TOP, true, false, ARGS(use_args),
	    "make another VM the current one (see `vm`)",
	    "Host actions, guest programs and expectations after it act on that VM.",
	    "use main"),
	CMD(GMEM_HOLD, "gmem-hold", HOST, TOP, true, false, ARGS(range_args),
	    "take guest_memfd's invalidate lock as an operation on the range would, and keep it",
	    "The whole file unless config gmem_lock=range.  The next `run` releases it once "
	    "`release-at` faults wait for it (a fault of the held range waits in "
	    "kvm_gmem_fault_wait, counted in `expect stat gmem_fault_waits`): a long conversion "
	    "holding the lock, with a deterministic outcome (S24).",
	    "gmem-hold 0x40000000 size=2M"),
	CMD(HOST_FILL, "host-fill", HOST, TOP, true, false, NOARGS,
	    "take host 4K pages until the allocator's next page opens a 2M region without a "
	    "Dynamic-PAMT pair",
	    "The pages stay taken until `teardown` (or the end).  The next host page KVM "
	    "allocates, e.g. a split's new S-EPT page, then lies in a region whose pair nobody "
	    "installed yet (S27d).",
	    "host-fill"),
	CMD(SEAMCALL, "seamcall", HOST, TOP, true, true, ARGS(seamcall_args),
	    "one SEAMCALL straight to the module, behind KVM's back (module sub-tests)",
	    "KVM's mirror is not told: afterwards the two views may differ, which `expect "
	    "invariants` reports.  aug maps the guest_memfd folio's page for the GPA (the folio's "
	    "first page at 2m).  Without => the call must return TDX_SUCCESS; => STATUS names "
	    "the status expected (without operand: any operand).",
	    "seamcall promote 0x40000000 level=2m => TDX_EPT_INVALID_PROMOTE_CONDITIONS"),
	CMD(GUEST, "guest", BLOCK, TOP, true, false, ARGS(guest_args),
	    "start a guest program for a vCPU; the lines up to `end` are its operations",
	    "The program runs at the next `run`.  Several `guest` blocks for one vCPU run "
	    "one after the other.",
	    "guest 0"),
	CMD(THREAD, "thread", BLOCK, TOP, true, false, ARGS(thread_args),
	    "start a host thread; the lines up to `end` are host actions it performs",
	    "It runs at the next `run`, concurrently with the guest programs (free-running "
	    "threads: the interleaving is not controlled).",
	    "thread converter"),
	CMD(REPEAT, "repeat", BLOCK, TOP, true, false, ARGS(repeat_args),
	    "run the lines up to `end` N times, every GPA in them moved by step at each pass",
	    "Pass i (from 0) adds i * step to each GPA argument of the body, the guest "
	    "operations and thread actions of blocks inside it included (sizes and levels stay).  "
	    "Blocks nest up to 4 deep; a `mark` inside `repeat` is refused (it names one point).  "
	    "Messages of a failure inside name the pass.",
	    "repeat 512 step=2M"),
	CMD(END, "end", BLOCK, GST | TDXSIM_SCN_THREAD | TOP, false, false, NOARGS,
	    "close a guest, thread or repeat block", "", "end"),
	CMD(RUN, "run", BLOCK, TOP, true, true, ARGS(run_args),
	    "run the pending guest programs and threads to completion, within the step budget",
	    "A program that exhausts its budget stops; `run` then returns -EINTR.  Otherwise "
	    "`run` returns the first program's error (0 when all ran through).  Guest or thread "
	    "blocks left without a `run` at the end of the file are an error.",
	    "run budget=10000"),
	CMD(G_ACCESS, "access", GUEST, GST, false, true, ARGS(access_args),
	    "the guest reads or writes a GPA (EPT violations go to KVM)",
	    "A #VE on a PENDING page is taken as a Linux guest with lazy acceptance does: it "
	    "accepts the page at 4K and repeats the access (so a later `accept` of that page "
	    "returns TDX_PAGE_ALREADY_ACCEPTED).  => gives the expected status of the access.",
	    "access 0x40000000 write"),
	CMD(G_ACCEPT, "accept", GUEST, GST, false, true, ARGS(accept_args),
	    "TDG.MEM.PAGE.ACCEPT of a GPA at a level",
	    "Accept-type EPT violations carry the level to KVM (CL §5); the guest repeats the "
	    "ACCEPT after each exit until it completes.  => gives the expected status of the last "
	    "ACCEPT.",
	    "accept 0x40000000 2m fallback"),
	CMD(G_CONVERT, "convert", GUEST, GST, false, true, ARGS(gconvert_args),
	    "the guest asks to convert a range (MapGPA exit; the VMM converts)",
	    "The guest accepts nothing by itself after a conversion to private: write `accept` "
	    "operations.  => gives the expected result of the VMM's conversion as an errno (0, "
	    "-ENOMEM ...).",
	    "convert 0x40005000 shared size=4K"),
	CMD(G_SPIN, "spin", GUEST, GST, false, false, ARGS(spin_args),
	    "the guest runs N steps without touching memory", "", "spin 100"),
	CMD(X_LEVEL, "expect level", EXPECT, TOP, true, false, ARGS(x_level_args),
	    "KVM's mirror and the module's S-EPT both map the GPA with a leaf of this level",
	    "none: neither maps it.",
	    "expect level 0x40000000 2m"),
	CMD(X_KVM, "expect kvm", EXPECT, TOP, true, false, ARGS(x_kvm_args),
	    "KVM's mirror SPTE for the GPA",
	    "", "expect kvm 0x40000000 level=4k"),
	CMD(X_SEPT, "expect sept", EXPECT, TOP, true, false, ARGS(x_sept_args),
	    "the module's S-EPT entry for the GPA (tdxsim_sept_lookup)",
	    "", "expect sept 0x40005000 level=4k state=pending"),
	CMD(X_ATTR, "expect attr", EXPECT, TOP, true, false, ARGS(x_attr_args),
	    "KVM's memory attribute of the GPA", "", "expect attr 0x40005000 shared"),
	CMD(X_INHIBIT, "expect inhibit", EXPECT, TOP, true, false, ARGS(x_inhibit_args),
	    "GUEST_INHIBIT in lpage_info at a level (one way: never cleared)",
	    "", "expect inhibit 0x40000000 2m"),
	CMD(X_CALLS, "expect calls", EXPECT, TOP, true, false, ARGS(x_calls_args),
	    "how many calls of a leaf the trace holds",
	    "The trace starts once the VM exists: the calls that create the TD and its vCPUs are "
	    "not in it; PAGE.ADD of `build-add` and everything later are.",
	    "expect calls demote = 1"),
	CMD(X_STATUS, "expect status", EXPECT, TOP, true, false, ARGS(x_status_args),
	    "the status the Nth call of a leaf returned",
	    "A status without operand matches any operand.",
	    "expect status demote#1 = TDX_OPERAND_BUSY|SEPT"),
	CMD(X_EXITS, "expect exits", EXPECT, TOP, true, false, ARGS(x_exits_args),
	    "counters of the guest programs run so far (all `run`s added up)",
	    "", "expect exits accept = 1 vcpu=0"),
	CMD(X_FAULTS, "expect faults-fired", EXPECT, TOP, true, false, ARGS(x_count_args),
	    "how many times fault rules fired", "", "expect faults-fired = 2"),
	CMD(X_REFCOUNT, "expect refcount", EXPECT, TOP, true, false, ARGS(x_refcount_args),
	    "the kernel's Dynamic-PAMT refcount of the 2M physical range of the GPA's page",
	    "The page is the guest_memfd folio's page for the GPA.",
	    "expect refcount 0x40000000 = 512"),
	CMD(X_SPLIT_CACHE, "expect split-cache", EXPECT, TOP, true, false, ARGS(x_count_args),
	    "pages in KVM's split cache: v3's prealloc_split_cache, upstream's pamt_cache",
	    "", "expect split-cache = 4"),
	CMD(X_PAGES, "expect pages", EXPECT, TOP, true, false, ARGS(x_pages_args),
	    "present mirror leaves of a level (pages_4k, pages_2m, pages_1g)",
	    "", "expect pages 2m = 1"),
	CMD(X_EVENTS, "expect events", EXPECT, TOP, true, false, ARGS(x_events_args),
	    "kernel shim events recorded so far (WARN, KVM_BUG_ON, TDX_BUG_ON, lockdep ...)",
	    "", "expect events warn = 0"),
	CMD(X_ORDER, "expect order", EXPECT, TOP, true, false, ARGS(x_order_args),
	    "one call (or mark) came before (after) another in the trace",
	    "", "expect order block before demote"),
	CMD(X_NONE, "expect none", EXPECT, TOP, true, false, ARGS(x_none_args),
	    "no call of a leaf between two marks",
	    "", "expect none aug between before-split after-split"),
	CMD(X_PROVENANCE, "expect provenance", EXPECT, TOP, true, false, ARGS(x_prov_args),
	    "where the S-EPT page behind a GPA came from and who freed it",
	    "The provenance ledger of sim/check (kvm_gpa_provenance): the page of that pool that "
	    "last served the GPA (a guest page, an S-EPT page of a table covering it, a PAMT "
	    "pair of its 2M range).",
	    "expect provenance 0x40005000 pool=split-cache"),
	CMD(X_INVARIANTS, "expect invariants", EXPECT, TOP, true, false, ARGS(x_invs_args),
	    "the host checker (kvm_tdx_check) and the module's (tdxsim_check) find nothing",
	    "", "expect invariants hold"),
	CMD(X_INVARIANT, "expect invariant", EXPECT, TOP, true, false, ARGS(x_inv_args),
	    "one invariant is (or is not) violated now",
	    "", "expect invariant I5 breaks"),
	CMD(X_BUGGED, "expect bugged", EXPECT, TOP, true, false, ARGS(x_bugged_args),
	    "the VM is bugged (kvm->vm_bugged), optionally by a given BUG_ON",
	    "TDX_BUG_ON(LEAF) looks for a TDX_BUG_ON of that SEAMCALL among the kernel events.",
	    "expect bugged TDX_BUG_ON(DEMOTE)"),
	CMD(X_NOT_BUGGED, "expect not-bugged", EXPECT, TOP, true, false, NOARGS,
	    "the VM is not bugged", "", "expect not-bugged"),
	CMD(X_STAT, "expect stat", EXPECT, TOP, true, false, ARGS(x_stat_args),
	    "a counter KVM keeps in kvm->stat",
	    "Counters since the VM was created.", "expect stat gmem_fault_waits > 0"),
};

static const char *const group_names[TDXSIM_GRP_NR] = {
	[TDXSIM_GRP_CONFIG] = "Configuration",
	[TDXSIM_GRP_SETUP] = "Setup",
	[TDXSIM_GRP_HOST] = "Host actions",
	[TDXSIM_GRP_BLOCK] = "Guest programs, threads and run",
	[TDXSIM_GRP_GUEST] = "Guest operations (inside guest ... end)",
	[TDXSIM_GRP_EXPECT] = "Expectations",
};

bool tdxsim_scn_returns_status(const struct tdxsim_scn_cmd_info *ci)
{
	return ci->id == TDXSIM_CMD_SEAMCALL ||
	       (ci->group == TDXSIM_GRP_GUEST && ci->id != TDXSIM_CMD_G_CONVERT);
}

const char *tdxsim_scn_group_name(enum tdxsim_scn_group group)
{
	return group < TDXSIM_GRP_NR ? group_names[group] : "?";
}

const struct tdxsim_scn_cmd_info *tdxsim_scn_command_find(const char *name)
{
	for (int i = 0; i < TDXSIM_CMD_NR; i++) {
		if (!strcmp(tdxsim_scn_commands[i].name, name))
			return &tdxsim_scn_commands[i];
	}
	return NULL;
}

char *tdxsim_scn_synopsis(const struct tdxsim_scn_cmd_info *ci, char *buf, size_t len)
{
	size_t n = 0;

#define PUT(...) do {								\
	int __w = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__);	\
	if (__w > 0)								\
		n += (size_t)__w;						\
} while (0)
	if (!len)
		return buf;
	buf[0] = '\0';
	PUT("%s", ci->name);
	for (unsigned int i = 0; i < ci->nr_args; i++) {
		const struct tdxsim_scn_arg_info *a = &ci->args[i];
		bool opt = a->kind != TDXSIM_SCN_POS || a->def;
		const char *val = a->type == TDXSIM_SCN_CHOICE ? a->choices : NULL;

		if (a->kind == TDXSIM_SCN_BARE) {
			PUT(" [%s]", a->name);
			continue;
		}
		if (a->kind == TDXSIM_SCN_POS && a->type == TDXSIM_SCN_CHOICE &&
		    !strchr(a->choices, '|')) {
			PUT(" %s", a->choices);	/* a literal word */
			continue;
		}
		if (a->kind == TDXSIM_SCN_KEY) {
			static const char *const ph[] = {
				[TDXSIM_SCN_NUM] = "N", [TDXSIM_SCN_GPA] = "GPA",
				[TDXSIM_SCN_SIZE] = "SIZE", [TDXSIM_SCN_LEVEL] = "LEVEL",
				[TDXSIM_SCN_ONOFF] = "on|off", [TDXSIM_SCN_WORD] = "NAME",
				[TDXSIM_SCN_MARK] = "MARK", [TDXSIM_SCN_STATUS] = "STATUS",
				[TDXSIM_SCN_VMNAME] = "VM",
				[TDXSIM_SCN_FEATURES] = "+F,-F",
			};
			const char *up = a->type < sizeof(ph) / sizeof(ph[0]) && ph[a->type] ?
					 ph[a->type] : "VALUE";

			PUT(" %s%s=%s%s", opt ? "[" : "", a->name, val ? val : up, opt ? "]" : "");
		} else {
			PUT(" %s%s%s", opt ? "[" : "", val ? val : a->name, opt ? "]" : "");
		}
	}
	if (ci->returns)
		PUT(" [=> %s]", tdxsim_scn_returns_status(ci) ? "STATUS" : "ERRNO");
#undef PUT
	if (n >= len)
		buf[len - 1] = '\0';
	return buf;
}
