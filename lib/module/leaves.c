// SPDX-License-Identifier: GPL-2.0-only
/*
 * The leaf table (include/tdxsim/leaves.h): one entry per leaf the module
 * implements.  The dispatchers take the highest version from here and
 * reject a leaf without an entry; the handlers sit in a private table of the
 * same index (seamcall.c).  Fault names are those TDXSIM_FAULTS has always
 * accepted (README "Fault injection"), and one for each leaf that had none.
 * Registers: spec seamcall.md, one section per leaf.
 */
#include <strings.h>

#include <tdxsim/leaves.h>

#include "tdxsim-internal.h"

#define OPND(r, k, n)	{ TDX_OPERAND_ID_##r, TDXSIM_OPND_##k, n }
#define NR_OPNDS(...)	(sizeof((struct tdxsim_leaf_operand[]){ __VA_ARGS__ }) /	\
			 sizeof(struct tdxsim_leaf_operand))
#define LEAF(num, nm, fault, maxv, ...)						\
	[num] = { .name = nm, .fault_name = fault, .leaf = num, .max_version = maxv,	\
		  .nr_operands = NR_OPNDS(__VA_ARGS__), .operands = { __VA_ARGS__ } }
#define TDCALL_LEAF(num, nm, fault, maxv, ...)					\
	[num] = { .name = nm, .fault_name = fault, .leaf = num, .max_version = maxv,	\
		  .tdcall = true, .nr_operands = NR_OPNDS(__VA_ARGS__),		\
		  .operands = { __VA_ARGS__ } }

/* The operands of the TD-memory leaves: GPA|level in RCX, the TD in RDX. */
#define MEM_OPNDS	OPND(RCX, GPA, "gpa"), OPND(RDX, TDR, "tdr")

static const struct tdxsim_leaf_info seamcall_leaves[TDX_NR_LEAVES] = {
	LEAF(TDH_VP_ENTER, "TDH.VP.ENTER", "vp_enter", 0, OPND(RCX, TDVPR, "tdvpr")),
	LEAF(TDH_MNG_ADDCX, "TDH.MNG.ADDCX", "addcx", 0,
	     OPND(RCX, PAGE, "tdcx"), OPND(RDX, TDR, "tdr")),
	LEAF(TDH_MEM_PAGE_ADD, "TDH.MEM.PAGE.ADD", "add", 0,
	     MEM_OPNDS, OPND(R8, PAGE, "page"), OPND(R9, PAGE, "source")),
	/* Version 1: allow_existing in RDX bit 0 (spec §2.3). */
	LEAF(TDH_MEM_SEPT_ADD, "TDH.MEM.SEPT.ADD", "sept_add", 1,
	     MEM_OPNDS, OPND(R8, PAGE, "sept_page")),
	LEAF(TDH_MEM_PAGE_AUG, "TDH.MEM.PAGE.AUG", "aug", 0, MEM_OPNDS, OPND(R8, PAGE, "page")),
	LEAF(TDH_MEM_RANGE_BLOCK, "TDH.MEM.RANGE.BLOCK", "block", 0, MEM_OPNDS),
	LEAF(TDH_MNG_KEY_CONFIG, "TDH.MNG.KEY.CONFIG", "key_config", 0, OPND(RCX, TDR, "tdr")),
	LEAF(TDH_MNG_CREATE, "TDH.MNG.CREATE", "mng_create", 0,
	     OPND(RCX, TDR, "tdr"), OPND(RDX, VALUE, "hkid")),
	LEAF(TDH_VP_ADDCX, "TDH.VP.ADDCX", "vp_addcx", 0,
	     OPND(RCX, PAGE, "tdvpx"), OPND(RDX, TDVPR, "tdvpr")),
	LEAF(TDH_VP_CREATE, "TDH.VP.CREATE", "vp_create", 0,
	     OPND(RCX, TDVPR, "tdvpr"), OPND(RDX, TDR, "tdr")),
	LEAF(TDH_MEM_PAGE_DEMOTE, "TDH.MEM.PAGE.DEMOTE", "demote", 0,
	     MEM_OPNDS, OPND(R8, PAGE, "sept_page"), OPND(R12, PAGE, "pamt_page0"),
	     OPND(R13, PAGE, "pamt_page1")),
	LEAF(TDH_MR_FINALIZE, "TDH.MR.FINALIZE", "mr_finalize", 0, OPND(RCX, TDR, "tdr")),
	LEAF(TDH_VP_FLUSH, "TDH.VP.FLUSH", "vp_flush", 0, OPND(RCX, TDVPR, "tdvpr")),
	LEAF(TDH_MNG_VPFLUSHDONE, "TDH.MNG.VPFLUSHDONE", "vpflushdone", 0, OPND(RCX, TDR, "tdr")),
	LEAF(TDH_MNG_KEY_FREEID, "TDH.MNG.KEY.FREEID", "key_freeid", 0, OPND(RCX, TDR, "tdr")),
	LEAF(TDH_PHYMEM_CACHE_WB, "TDH.PHYMEM.CACHE.WB", "cache_wb", 0,
	     OPND(RCX, VALUE, "resume")),
	LEAF(TDH_MNG_INIT, "TDH.MNG.INIT", "mng_init", 0,
	     OPND(RCX, TDR, "tdr"), OPND(RDX, PAGE, "td_params")),
	/* Version 1 (newer modules, KVM's): the x2APIC ID in R8, the TDR exclusive. */
	LEAF(TDH_VP_INIT, "TDH.VP.INIT", "vp_init", 1,
	     OPND(RCX, TDVPR, "tdvpr"), OPND(RDX, VALUE, "initial_rcx"),
	     OPND(R8, VALUE, "x2apic_id")),
	/* Version 1: the Dynamic-PAMT pair comes back in R12/R13 (spec §2.9). */
	LEAF(TDH_MEM_PAGE_PROMOTE, "TDH.MEM.PAGE.PROMOTE", "promote", 1, MEM_OPNDS),
	LEAF(TDH_PHYMEM_PAGE_RECLAIM, "TDH.PHYMEM.PAGE.RECLAIM", "reclaim", 0,
	     OPND(RCX, PAGE, "page")),
	LEAF(TDH_MEM_PAGE_REMOVE, "TDH.MEM.PAGE.REMOVE", "remove", 0, MEM_OPNDS),
	LEAF(TDH_MEM_SEPT_REMOVE, "TDH.MEM.SEPT.REMOVE", "sept_remove", 1, MEM_OPNDS),
	LEAF(TDH_MEM_TRACK, "TDH.MEM.TRACK", "track", 0, OPND(RCX, TDR, "tdr")),
	LEAF(TDH_MEM_RANGE_UNBLOCK, "TDH.MEM.RANGE.UNBLOCK", "unblock", 0, MEM_OPNDS),
	LEAF(TDH_PHYMEM_PAGE_WBINVD, "TDH.PHYMEM.PAGE.WBINVD", "wbinvd", 0,
	     OPND(RCX, PAGE, "keyed_page")),
	LEAF(TDH_PHYMEM_PAMT_ADD, "TDH.PHYMEM.PAMT.ADD", "pamt_add", 0,
	     OPND(RCX, PAGE, "range"), OPND(RDX, PAGE, "pamt_page0"),
	     OPND(R8, PAGE, "pamt_page1")),
	LEAF(TDH_PHYMEM_PAMT_REMOVE, "TDH.PHYMEM.PAMT.REMOVE", "pamt_remove", 0,
	     OPND(RCX, PAGE, "range")),
};

static const struct tdxsim_leaf_info tdcall_leaves[TDX_NR_LEAVES] = {
	TDCALL_LEAF(TDG_MEM_PAGE_ACCEPT, "TDG.MEM.PAGE.ACCEPT", "accept", 0,
		    OPND(RCX, GPA, "gpa")),
};

#define NR_ENTRIES	(2 * TDX_NR_LEAVES)

/* Entry @i of the two tables end to end. */
static const struct tdxsim_leaf_info *entry(unsigned int i)
{
	return i < TDX_NR_LEAVES ? &seamcall_leaves[i] : &tdcall_leaves[i - TDX_NR_LEAVES];
}

const struct tdxsim_leaf_info *tdxsim_leaf_info(unsigned int leaf)
{
	return leaf < TDX_NR_LEAVES && seamcall_leaves[leaf].name ? &seamcall_leaves[leaf] : NULL;
}

const struct tdxsim_leaf_info *tdxsim_tdcall_leaf_info(unsigned int leaf)
{
	return leaf < TDX_NR_LEAVES && tdcall_leaves[leaf].name ? &tdcall_leaves[leaf] : NULL;
}

const struct tdxsim_leaf_info *tdxsim_leaf_info_next(const struct tdxsim_leaf_info *prev)
{
	unsigned int i = 0;

	if (prev)
		i = prev->leaf + (prev->tdcall ? TDX_NR_LEAVES : 0) + 1;
	for (; i < NR_ENTRIES; i++) {
		if (entry(i)->name)
			return entry(i);
	}
	return NULL;
}

const struct tdxsim_leaf_info *tdxsim_leaf_info_find(const char *name)
{
	const struct tdxsim_leaf_info *li;

	for (li = tdxsim_leaf_info_next(NULL); li && name; li = tdxsim_leaf_info_next(li)) {
		if (!strcasecmp(li->name, name) || !strcasecmp(li->fault_name, name))
			return li;
	}
	return NULL;
}

const char *tdxsim_leaf_name(unsigned int leaf)
{
	const struct tdxsim_leaf_info *li = tdxsim_leaf_info(leaf);

	return li ? li->name : NULL;
}
