// SPDX-License-Identifier: GPL-2.0-only
/* Kernel-shaped SEAMCALL wrappers: register marshalling only. */
#include <tdxsim/wrappers.h>

static u64 call_ext(struct tdxsim *sim, u64 leaf, struct tdx_module_args *a,
		    u64 *ext_err1, u64 *ext_err2)
{
	u64 err = tdxsim_seamcall(sim, leaf, a);

	if (ext_err1)
		*ext_err1 = a->rcx;
	if (ext_err2)
		*ext_err2 = a->rdx;
	return err;
}

u64 tdxsim_tdh_mem_sept_add(struct tdxsim_td *td, u64 gpa, int level, u64 sept_pa,
		     u64 *ext_err1, u64 *ext_err2)
{
	struct tdx_module_args a = { .rcx = gpa | (u64)level, .rdx = td->tdr_pa, .r8 = sept_pa };

	return call_ext(td->sim, TDH_MEM_SEPT_ADD, &a, ext_err1, ext_err2);
}

u64 tdxsim_tdh_mem_sept_remove(struct tdxsim_td *td, u64 gpa, int level, u64 *ext_err1,
			u64 *ext_err2)
{
	struct tdx_module_args a = { .rcx = gpa | (u64)level, .rdx = td->tdr_pa };

	return call_ext(td->sim, TDH_MEM_SEPT_REMOVE, &a, ext_err1, ext_err2);
}

u64 tdxsim_tdh_mem_page_add(struct tdxsim_td *td, u64 gpa, u64 page_pa, u64 source_pa,
		     u64 *ext_err1, u64 *ext_err2)
{
	struct tdx_module_args a = {
		.rcx = gpa, .rdx = td->tdr_pa, .r8 = page_pa, .r9 = source_pa,
	};

	return call_ext(td->sim, TDH_MEM_PAGE_ADD, &a, ext_err1, ext_err2);
}

u64 tdxsim_tdh_mem_page_aug(struct tdxsim_td *td, u64 gpa, int level, u64 pfn,
		     u64 *ext_err1, u64 *ext_err2)
{
	struct tdx_module_args a = {
		.rcx = gpa | (u64)level, .rdx = td->tdr_pa, .r8 = pfn << TDX_PAGE_SHIFT,
	};

	return call_ext(td->sim, TDH_MEM_PAGE_AUG, &a, ext_err1, ext_err2);
}

u64 tdxsim_tdh_mem_range_block(struct tdxsim_td *td, u64 gpa, int level, u64 *ext_err1,
			u64 *ext_err2)
{
	struct tdx_module_args a = { .rcx = gpa | (u64)level, .rdx = td->tdr_pa };

	return call_ext(td->sim, TDH_MEM_RANGE_BLOCK, &a, ext_err1, ext_err2);
}

u64 tdxsim_tdh_mem_range_unblock(struct tdxsim_td *td, u64 gpa, int level, u64 *ext_err1,
			  u64 *ext_err2)
{
	struct tdx_module_args a = { .rcx = gpa | (u64)level, .rdx = td->tdr_pa };

	return call_ext(td->sim, TDH_MEM_RANGE_UNBLOCK, &a, ext_err1, ext_err2);
}

u64 tdxsim_tdh_mem_track(struct tdxsim_td *td)
{
	struct tdx_module_args a = { .rcx = td->tdr_pa };

	return tdxsim_seamcall(td->sim, TDH_MEM_TRACK, &a);
}

u64 tdxsim_tdh_mem_page_demote(struct tdxsim_td *td, u64 gpa, int level, u64 new_sept_pa,
			const u64 *pamt_pa, u64 *ext_err1, u64 *ext_err2)
{
	struct tdx_module_args a = {
		.rcx = gpa | (u64)level, .rdx = td->tdr_pa, .r8 = new_sept_pa,
		.r12 = pamt_pa ? pamt_pa[0] : 0, .r13 = pamt_pa ? pamt_pa[1] : 0,
	};

	return call_ext(td->sim, TDH_MEM_PAGE_DEMOTE, &a, ext_err1, ext_err2);
}

u64 tdxsim_tdh_mem_page_promote(struct tdxsim_td *td, u64 gpa, int level, u64 *sept_pa,
			 u64 *pamt_pa, u64 *ext_err1, u64 *ext_err2)
{
	struct tdx_module_args a = { .rcx = gpa | (u64)level, .rdx = td->tdr_pa };
	u64 err = call_ext(td->sim, TDH_MEM_PAGE_PROMOTE, &a, ext_err1, ext_err2);

	if (!err && sept_pa)
		*sept_pa = a.rcx;
	if (!err && pamt_pa) {
		pamt_pa[0] = a.r12;
		pamt_pa[1] = a.r13;
	}
	return err;
}

u64 tdxsim_tdh_mem_page_remove(struct tdxsim_td *td, u64 gpa, int level, u64 *ext_err1,
			u64 *ext_err2)
{
	struct tdx_module_args a = { .rcx = gpa | (u64)level, .rdx = td->tdr_pa };

	return call_ext(td->sim, TDH_MEM_PAGE_REMOVE, &a, ext_err1, ext_err2);
}

u64 tdxsim_tdh_phymem_page_reclaim(struct tdxsim *sim, u64 pa, u64 *tdx_pt, u64 *tdx_owner,
			    u64 *tdx_size)
{
	struct tdx_module_args a = { .rcx = pa };
	u64 err = tdxsim_seamcall(sim, TDH_PHYMEM_PAGE_RECLAIM, &a);

	*tdx_pt = a.rcx;
	*tdx_owner = a.rdx;
	*tdx_size = a.r8;
	return err;
}

u64 tdxsim_tdh_phymem_page_wbinvd_hkid(struct tdxsim *sim, u16 hkid, u64 pa)
{
	struct tdx_module_args a = { .rcx = tdxsim_mk_keyed_paddr(sim, hkid, pa) };

	return tdxsim_seamcall(sim, TDH_PHYMEM_PAGE_WBINVD, &a);
}

u64 tdxsim_tdh_phymem_pamt_add(struct tdxsim *sim, u64 pa, const u64 *pamt_pa)
{
	struct tdx_module_args a = {
		.rcx = (pa & ~((1ULL << 21) - 1)) | TDX_PS_2M,
		.rdx = pamt_pa[0], .r8 = pamt_pa[1],
	};

	return tdxsim_seamcall(sim, TDH_PHYMEM_PAMT_ADD, &a);
}

u64 tdxsim_tdh_phymem_pamt_remove(struct tdxsim *sim, u64 pa, u64 *pamt_pa)
{
	struct tdx_module_args a = { .rcx = (pa & ~((1ULL << 21) - 1)) | TDX_PS_2M };
	u64 err = tdxsim_seamcall(sim, TDH_PHYMEM_PAMT_REMOVE, &a);

	if (!err) {
		pamt_pa[0] = a.rdx;
		pamt_pa[1] = a.r8;
	}
	return err;
}

u64 tdxsim_tdh_vp_create(struct tdxsim_td *td, u64 tdvpr_pa)
{
	struct tdx_module_args a = { .rcx = tdvpr_pa, .rdx = td->tdr_pa };

	return tdxsim_seamcall(td->sim, TDH_VP_CREATE, &a);
}

u64 tdxsim_tdh_vp_addcx(struct tdxsim *sim, u64 tdvpr_pa, u64 tdcx_pa)
{
	struct tdx_module_args a = { .rcx = tdcx_pa, .rdx = tdvpr_pa };

	return tdxsim_seamcall(sim, TDH_VP_ADDCX, &a);
}

u64 tdxsim_tdh_vp_init(struct tdxsim *sim, u64 tdvpr_pa, u64 initial_rcx, u32 x2apicid)
{
	struct tdx_module_args a = { .rcx = tdvpr_pa, .rdx = initial_rcx, .r8 = x2apicid };

	/* The x2APIC ID needs version 1. */
	return tdxsim_seamcall(sim, TDH_VP_INIT | (1ULL << TDX_VERSION_SHIFT), &a);
}

u64 tdxsim_tdh_vp_flush(struct tdxsim *sim, u64 tdvpr_pa)
{
	struct tdx_module_args a = { .rcx = tdvpr_pa };

	return tdxsim_seamcall(sim, TDH_VP_FLUSH, &a);
}

u64 tdxsim_tdh_vp_enter(struct tdxsim *sim, u64 tdvpr_pa)
{
	struct tdx_module_args a = { .rcx = tdvpr_pa };

	return tdxsim_seamcall(sim, TDH_VP_ENTER, &a);
}

u64 tdxsim_tdg_mem_page_accept(struct tdxsim *sim, u64 tdvpr_pa, u64 gpa, int level)
{
	struct tdx_module_args a = { .rcx = gpa | (u64)level };

	return tdxsim_tdcall(sim, tdvpr_pa, TDG_MEM_PAGE_ACCEPT, &a);
}
