/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Typed SEAMCALL wrappers in the kernel's shape (arch/x86/virt/vmx/tdx/tdx.c):
 * each only marshals registers and calls tdxsim_seamcall().  The extended
 * error outputs (RCX, RDX) are returned through @ext_err1/@ext_err2 as KVM's
 * "entry" and "level_state".  Levels are TDX levels (TDX_PS_*).
 */
#ifndef TDXSIM_WRAPPERS_H
#define TDXSIM_WRAPPERS_H

#include <tdxsim/tdxsim.h>

#pragma GCC visibility push(default)

u64 tdxsim_tdh_mem_sept_add(struct tdxsim_td *td, u64 gpa, int level, u64 sept_pa,
		     u64 *ext_err1, u64 *ext_err2);
u64 tdxsim_tdh_mem_sept_remove(struct tdxsim_td *td, u64 gpa, int level, u64 *ext_err1,
			u64 *ext_err2);
u64 tdxsim_tdh_mem_page_add(struct tdxsim_td *td, u64 gpa, u64 page_pa, u64 source_pa,
		     u64 *ext_err1, u64 *ext_err2);
u64 tdxsim_tdh_mem_page_aug(struct tdxsim_td *td, u64 gpa, int level, u64 pfn,
		     u64 *ext_err1, u64 *ext_err2);
u64 tdxsim_tdh_mem_range_block(struct tdxsim_td *td, u64 gpa, int level, u64 *ext_err1,
			u64 *ext_err2);
u64 tdxsim_tdh_mem_range_unblock(struct tdxsim_td *td, u64 gpa, int level, u64 *ext_err1,
			  u64 *ext_err2);
u64 tdxsim_tdh_mem_track(struct tdxsim_td *td);
/* @pamt_pa: the Dynamic-PAMT pair for a 2MB demote (R12/R13), or NULL. */
u64 tdxsim_tdh_mem_page_demote(struct tdxsim_td *td, u64 gpa, int level, u64 new_sept_pa,
			const u64 *pamt_pa, u64 *ext_err1, u64 *ext_err2);
/* On success *sept_pa is the freed S-EPT page; pamt_pa (if not NULL) the pair. */
u64 tdxsim_tdh_mem_page_promote(struct tdxsim_td *td, u64 gpa, int level, u64 *sept_pa,
			 u64 *pamt_pa, u64 *ext_err1, u64 *ext_err2);
/* On success *ext_err1 is the removed page's HPA (| TDX_PAMT_REMOVAL_HINT). */
u64 tdxsim_tdh_mem_page_remove(struct tdxsim_td *td, u64 gpa, int level, u64 *ext_err1,
			u64 *ext_err2);
u64 tdxsim_tdh_phymem_page_reclaim(struct tdxsim *sim, u64 pa, u64 *tdx_pt, u64 *tdx_owner,
			    u64 *tdx_size);
u64 tdxsim_tdh_phymem_page_wbinvd_hkid(struct tdxsim *sim, u16 hkid, u64 pa);
u64 tdxsim_tdh_phymem_pamt_add(struct tdxsim *sim, u64 pa, const u64 *pamt_pa);
u64 tdxsim_tdh_phymem_pamt_remove(struct tdxsim *sim, u64 pa, u64 *pamt_pa);
/*
 * vCPUs, named by their TDVPR page as in the kernel's struct tdx_vp:
 * TDH.VP.CREATE (RCX = TDVPR, RDX = TDR), TDH.VP.ADDCX (RCX = the TDVPX page,
 * RDX = TDVPR), TDH.VP.INIT version 1 as the kernel calls it (RDX = the
 * guest's initial RCX, R8 = x2APIC ID), TDH.VP.FLUSH, and the entry half of
 * TDH.VP.ENTER (RCX = TDVPR).
 */
u64 tdxsim_tdh_vp_create(struct tdxsim_td *td, u64 tdvpr_pa);
u64 tdxsim_tdh_vp_addcx(struct tdxsim *sim, u64 tdvpr_pa, u64 tdcx_pa);
u64 tdxsim_tdh_vp_init(struct tdxsim *sim, u64 tdvpr_pa, u64 initial_rcx, u32 x2apicid);
u64 tdxsim_tdh_vp_flush(struct tdxsim *sim, u64 tdvpr_pa);
u64 tdxsim_tdh_vp_enter(struct tdxsim *sim, u64 tdvpr_pa);
/* Guest side: the vCPU is named by its TDVPR page. */
u64 tdxsim_tdg_mem_page_accept(struct tdxsim *sim, u64 tdvpr_pa, u64 gpa, int level);

#pragma GCC visibility pop

#endif /* TDXSIM_WRAPPERS_H */
