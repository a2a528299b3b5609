/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the simulator knows about each leaf, in one table: its name, number,
 * highest version, the input registers it reads and the name a fault rule
 * gives it.  The dispatchers (SEAMCALL and TDCALL), the fault parser, the
 * trace formatters and the tdxsim CLI all read this table, so a leaf the
 * dispatcher accepts is named, traced and fault-injectable by construction.
 *
 * The table is constant: every function here is thread-safe and never fails
 * other than by returning NULL.
 */
#ifndef TDXSIM_LEAVES_H
#define TDXSIM_LEAVES_H

#include <stdbool.h>
#include <tdxsim/types.h>
#include <tdxsim/tdx_api.h>
#include <tdxsim/tdx_errno.h>

#pragma GCC visibility push(default)

/* What an input register carries. */
enum tdxsim_operand_kind {
	TDXSIM_OPND_GPA,	/* GPA | level (page_info_api_input_t) */
	TDXSIM_OPND_TDR,	/* the TD: its TDR page (| flags for SEPT.ADD/DEMOTE) */
	TDXSIM_OPND_TDVPR,	/* a vCPU: its TDVPR page */
	TDXSIM_OPND_PAGE,	/* a physical page the leaf takes, gives back or works on */
	TDXSIM_OPND_VALUE,	/* anything else: an HKID, a command, a parameter block */
};

struct tdxsim_leaf_operand {
	u32 reg;		/* TDX_OPERAND_ID_RCX, _RDX, _R8 ... (tdxsim_operand_name()) */
	enum tdxsim_operand_kind kind;
	const char *name;	/* what it is, e.g. "gpa", "tdr", "page", "source", "hkid" */
};

#define TDXSIM_LEAF_MAX_OPERANDS	5

struct tdxsim_leaf_info {
	const char *name;		/* "TDH.MEM.PAGE.AUG", "TDG.MEM.PAGE.ACCEPT" */
	const char *fault_name;		/* "aug": the LEAF of a TDXSIM_FAULTS rule */
	unsigned int leaf;		/* RAX bits 15:0 */
	unsigned int max_version;	/* highest version accepted in RAX bits 23:16 */
	bool tdcall;			/* a guest TDCALL leaf, not a host SEAMCALL one */
	unsigned int nr_operands;
	struct tdxsim_leaf_operand operands[TDXSIM_LEAF_MAX_OPERANDS];	/* inputs */
};

/*
 * The SEAMCALL leaf @leaf as the dispatcher knows it, or NULL for a leaf it
 * rejects (TDX_OPERAND_INVALID|RAX).  Exactly the leaves with an entry here
 * are implemented.
 */
const struct tdxsim_leaf_info *tdxsim_leaf_info(unsigned int leaf);
/* The same for TDCALL leaves (tdxsim_tdcall()). */
const struct tdxsim_leaf_info *tdxsim_tdcall_leaf_info(unsigned int leaf);

/*
 * Iterate over every leaf, SEAMCALL leaves first in number order, then TDCALL
 * leaves: pass NULL for the first, the previous entry for the next; NULL at
 * the end.
 */
const struct tdxsim_leaf_info *tdxsim_leaf_info_next(const struct tdxsim_leaf_info *prev);

/*
 * The leaf called @name, compared without case: its name ("TDH.VP.CREATE")
 * or its fault name ("vp_create").  NULL if there is none.
 */
const struct tdxsim_leaf_info *tdxsim_leaf_info_find(const char *name);

/* The operand of @info of @kind (the first one), or NULL. */
static inline const struct tdxsim_leaf_operand *
tdxsim_leaf_operand(const struct tdxsim_leaf_info *info, enum tdxsim_operand_kind kind)
{
	for (unsigned int i = 0; info && i < info->nr_operands; i++) {
		if (info->operands[i].kind == kind)
			return &info->operands[i];
	}
	return NULL;
}

/* The value of register @reg (TDX_OPERAND_ID_RCX ... _RSI) in @a; 0 for other ids. */
static inline u64 tdxsim_args_reg(const struct tdx_module_args *a, u32 reg)
{
	switch (reg) {
	case TDX_OPERAND_ID_RCX: return a->rcx;
	case TDX_OPERAND_ID_RDX: return a->rdx;
	case TDX_OPERAND_ID_RBX: return a->rbx;
	case TDX_OPERAND_ID_RSI: return a->rsi;
	case TDX_OPERAND_ID_RDI: return a->rdi;
	case TDX_OPERAND_ID_R8: return a->r8;
	case TDX_OPERAND_ID_R9: return a->r9;
	case TDX_OPERAND_ID_R10: return a->r10;
	case TDX_OPERAND_ID_R11: return a->r11;
	case TDX_OPERAND_ID_R12: return a->r12;
	case TDX_OPERAND_ID_R13: return a->r13;
	case TDX_OPERAND_ID_R14: return a->r14;
	case TDX_OPERAND_ID_R15: return a->r15;
	default: return 0;
	}
}

#pragma GCC visibility pop

#endif /* TDXSIM_LEAVES_H */
