// SPDX-License-Identifier: GPL-2.0-only
/*
 * Conveniences for tests: build and tear down a TD and its vCPUs through the
 * real SEAMCALL path (tdxsim_seamcall()), the way a host would.
 */
#include "tdxsim-internal.h"

/* Any 1KB-aligned shared address will do: TD_PARAMS content is not modelled. */
#define TDXSIM_TD_PARAMS_PA	0x1000ULL
#define TEARDOWN_RETRIES	16

static u64 seamcall(struct tdxsim *sim, u64 leaf, struct tdx_module_args *a)
{
	return tdxsim_seamcall(sim, leaf, a);
}

/*
 * With Dynamic PAMT a page given to the module needs its 2MB range's pair.
 * Install one if missing; the pair stays until TDXSIM_TEARDOWN_FREE_PAMT.
 */
static u64 ensure_pamt_pair(struct tdxsim *sim, u64 pa)
{
	struct tdx_module_args a = { 0 };
	u64 p0, p1, err;

	if (!sim_dpamt(sim) || pamt_entry_at(sim, pa, TDX_PS_2M)->pt == PT_PAMT)
		return TDX_SUCCESS;
	p0 = tdxsim_page_alloc(sim, TDX_PS_4K);
	p1 = p0 ? tdxsim_page_alloc(sim, TDX_PS_4K) : 0;
	if (!p1) {
		if (p0)
			tdxsim_page_free(sim, p0, TDX_PS_4K);
		return TDX_SW_ERROR;
	}
	a.rcx = (pa & ~(SZ_2M - 1)) | TDX_PS_2M;
	a.rdx = p0;
	a.r8 = p1;
	err = seamcall(sim, TDH_PHYMEM_PAMT_ADD, &a);
	if (err) {
		tdxsim_page_free(sim, p0, TDX_PS_4K);
		tdxsim_page_free(sim, p1, TDX_PS_4K);
		if (IS_TDX_HPA_RANGE_NOT_FREE(err))	/* someone installed it meanwhile */
			err = TDX_SUCCESS;
	}
	return err;
}

/* A fresh 4K page for the module, its pair installed. */
static u64 alloc_module_page(struct tdxsim *sim, u64 *pa)
{
	u64 err;

	*pa = tdxsim_page_alloc(sim, TDX_PS_4K);
	if (!*pa)
		return TDX_SW_ERROR;
	err = ensure_pamt_pair(sim, *pa);
	if (err) {
		tdxsim_page_free(sim, *pa, TDX_PS_4K);
		*pa = 0;
	}
	return err;
}

static u16 pick_hkid(struct tdxsim *sim)
{
	for (u16 k = 1; k < (1U << sim->cfg.nr_hkid_bits); k++) {
		if (!__atomic_load_n(&sim->hkid_used[k], __ATOMIC_ACQUIRE))
			return k;
	}
	return 0;
}

struct tdxsim_td *tdxsim_td_create(struct tdxsim *sim, u64 *status)
{
	struct tdx_module_args a = { 0 };
	struct tdxsim_td *td;
	u64 err;

	td = calloc(1, sizeof(*td));
	if (!td) {
		*status = TDX_SW_ERROR;
		return NULL;
	}
	td->sim = sim;
	err = alloc_module_page(sim, &td->tdr_pa);
	if (err)
		goto fail_free;
	do {
		td->hkid = pick_hkid(sim);
		if (!td->hkid) {
			err = TDX_SW_ERROR;
			errno = ENOSPC;
			tdxsim_page_free(sim, td->tdr_pa, TDX_PS_4K);
			goto fail_free;
		}
		a = (struct tdx_module_args){ .rcx = td->tdr_pa, .rdx = td->hkid };
		err = seamcall(sim, TDH_MNG_CREATE, &a);
	} while (TDX_STATUS(err) == TDX_HKID_NOT_FREE);
	if (err) {
		tdxsim_page_free(sim, td->tdr_pa, TDX_PS_4K);
		goto fail_free;
	}
	a = (struct tdx_module_args){ .rcx = td->tdr_pa };
	err = seamcall(sim, TDH_MNG_KEY_CONFIG, &a);
	if (err)
		goto fail_teardown;
	for (unsigned int i = 0; i < sim->cfg.nr_tdcs_pages; i++) {
		u64 page;

		err = alloc_module_page(sim, &page);
		if (err)
			goto fail_teardown;
		a = (struct tdx_module_args){ .rcx = page, .rdx = td->tdr_pa };
		err = seamcall(sim, TDH_MNG_ADDCX, &a);
		if (err) {
			tdxsim_page_free(sim, page, TDX_PS_4K);
			goto fail_teardown;
		}
		td->tdcx_pa[td->nr_tdcx++] = page;
	}
	a = (struct tdx_module_args){ .rcx = td->tdr_pa, .rdx = TDXSIM_TD_PARAMS_PA };
	err = seamcall(sim, TDH_MNG_INIT, &a);
	if (err)
		goto fail_teardown;
	*status = TDX_SUCCESS;
	return td;

fail_teardown:
	*status = err;
	tdxsim_td_teardown(td, 0);
	return NULL;
fail_free:
	*status = err;
	free(td);
	return NULL;
}

u64 tdxsim_td_finalize(struct tdxsim_td *td)
{
	struct tdx_module_args a = { .rcx = td->tdr_pa };

	return seamcall(td->sim, TDH_MR_FINALIZE, &a);
}

struct tdxsim_vcpu *tdxsim_vcpu_create(struct tdxsim_td *td, u64 *status)
{
	struct tdxsim *sim = td->sim;
	struct tdx_module_args a = { 0 };
	struct tdxsim_vcpu *v;
	struct td *t;
	u64 page, err;

	err = alloc_module_page(sim, &page);
	if (err)
		goto fail;
	a.rcx = page;
	a.rdx = td->tdr_pa;
	err = seamcall(sim, TDH_VP_CREATE, &a);
	if (err) {
		tdxsim_page_free(sim, page, TDX_PS_4K);
		goto fail;
	}
	t = td_by_tdr(sim, td->tdr_pa);
	pthread_mutex_lock(&t->vcpu_lock);
	HASH_FIND(hh, t->vcpus, &page, sizeof(page), v);
	pthread_mutex_unlock(&t->vcpu_lock);
	*status = TDX_SUCCESS;
	return v;
fail:
	*status = err;
	return NULL;
}

u64 tdxsim_vcpu_enter(struct tdxsim_vcpu *v)
{
	struct tdx_module_args a = { .rcx = v->tdvpr_pa };

	return seamcall(v->sim, TDH_VP_ENTER, &a);
}

void tdxsim_td_kick_vcpus(struct tdxsim_td *h)
{
	struct td *td = td_by_tdr(h->sim, h->tdr_pa);
	struct tdxsim_vcpu *v, *tmp;

	if (!td)
		return;
	pthread_mutex_lock(&td->vcpu_lock);
	HASH_ITER(hh, td->vcpus, v, tmp)
		tdxsim_vcpu_exit(v);
	pthread_mutex_unlock(&td->vcpu_lock);
}

u64 tdxsim_td_flush_vcpus(struct tdxsim_td *h)
{
	struct td *td = td_by_tdr(h->sim, h->tdr_pa);
	struct tdxsim_vcpu *v, *tmp;
	u64 vcpus[64], err, ret = TDX_SUCCESS;
	unsigned int n = 0;

	if (!td)
		return TDX_SW_ERROR;
	tdxsim_td_kick_vcpus(h);
	pthread_mutex_lock(&td->vcpu_lock);
	HASH_ITER(hh, td->vcpus, v, tmp) {
		if (__atomic_load_n(&v->associated, __ATOMIC_ACQUIRE) && n < 64)
			vcpus[n++] = v->tdvpr_pa;
	}
	pthread_mutex_unlock(&td->vcpu_lock);
	for (unsigned int i = 0; i < n; i++) {
		struct tdx_module_args a = { .rcx = vcpus[i] };

		err = seamcall(h->sim, TDH_VP_FLUSH, &a);
		if (err && !ret)
			ret = err;
	}
	return ret;
}

/* Retry a teardown SEAMCALL that lost a race (BUSY) a bounded number of times. */
static u64 seamcall_retry(struct tdxsim *sim, u64 leaf, struct tdx_module_args *in)
{
	struct tdx_module_args a;
	u64 err = TDX_SUCCESS;

	for (int i = 0; i < TEARDOWN_RETRIES; i++) {
		a = *in;
		err = seamcall(sim, leaf, &a);
		if (!IS_TDX_OPERAND_BUSY(err))
			break;
	}
	*in = a;
	return err;
}

static int give_back(struct tdxsim *sim, u64 pa, int level)
{
	u64 size = tdx_level_size(level);
	int ret = 0;

	if (sim->cfg.reset_quirk)
		tdxsim_page_reset(sim, pa, size);
	if (level == TDX_PS_4K)
		return tdxsim_page_free(sim, pa, TDX_PS_4K);
	for (u64 off = 0; off < size && !ret; off += SZ_2M)
		ret = tdxsim_page_free(sim, pa + off, TDX_PS_2M);
	return ret;
}

/* RECLAIM a page the module reports, and hand it back to the pool. */
static int reclaim_and_free(struct tdxsim *sim, u64 pa)
{
	struct tdx_module_args a = { .rcx = pa };
	u64 err = seamcall_retry(sim, TDH_PHYMEM_PAGE_RECLAIM, &a);

	if (err)
		return -EIO;
	return give_back(sim, pa, (int)a.r8);
}

static int reclaim_td_pages(struct tdxsim *sim, u16 id)
{
	int ret = 0;

	for (u64 pa = sim->cfg.mem_base; pa < sim->mem_end; pa += SZ_2M) {
		struct pamt_entry *e;
		int lvl = pamt_leaf_level(sim, pa);

		if (lvl == TDX_PS_1G && !((pa - sim->cfg.mem_base) & (SZ_1G - 1))) {
			e = pamt_entry_at(sim, pa, TDX_PS_1G);
			if (e->pt != PT_NDA && e->owner == id && reclaim_and_free(sim, pa))
				ret = -EIO;
			continue;
		}
		e = pamt_entry_at(sim, pa, TDX_PS_2M);
		if (e->pt != PT_NDA && e->pt != PT_PAMT) {
			if (e->owner == id && reclaim_and_free(sim, pa))
				ret = -EIO;
			continue;
		}
		if (lvl != TDX_PS_4K)
			continue;
		for (u64 off = 0; off < SZ_2M; off += PAGE_SIZE) {
			e = pamt_entry_at(sim, pa + off, TDX_PS_4K);
			if (e->pt != PT_NDA && e->pt != PT_TDR && e->owner == id &&
			    reclaim_and_free(sim, pa + off))
				ret = -EIO;
		}
	}
	return ret;
}

/* PAMT.REMOVE every pair whose 2MB range is empty, and free its pages. */
static int free_empty_pairs(struct tdxsim *sim)
{
	int ret = 0;

	for (u64 pa = sim->cfg.mem_base; pa < sim->mem_end; pa += SZ_2M) {
		struct tdx_module_args a = { .rcx = pa | TDX_PS_2M };
		u64 err;

		if (pamt_entry_at(sim, pa, TDX_PS_2M)->pt != PT_PAMT ||
		    sim->dpamt[pa_to_idx2m(sim, pa)].page_count)
			continue;
		err = seamcall_retry(sim, TDH_PHYMEM_PAMT_REMOVE, &a);
		if (err) {
			ret = -EIO;
			continue;
		}
		if (give_back(sim, a.rdx, TDX_PS_4K) || give_back(sim, a.r8, TDX_PS_4K))
			ret = -EIO;
	}
	return ret;
}

int tdxsim_td_teardown(struct tdxsim_td *h, unsigned int flags)
{
	struct tdxsim *sim;
	struct tdx_module_args a;
	struct td *td;
	int ret = 0;
	u64 err;

	if (!h)
		return 0;
	sim = h->sim;
	td = td_by_tdr(sim, h->tdr_pa);
	if (!td) {
		free(h);
		return -EINVAL;
	}
	tdxsim_td_kick_vcpus(h);
	if (td->lifecycle == TD_KEYS_CONFIGURED) {
		tdxsim_td_flush_vcpus(h);
		a = (struct tdx_module_args){ .rcx = h->tdr_pa };
		if (seamcall_retry(sim, TDH_MNG_VPFLUSHDONE, &a))
			ret = -EIO;
	}
	if (td->lifecycle == TD_HKID_ASSIGNED) {
		a = (struct tdx_module_args){ .rcx = h->tdr_pa };
		if (seamcall_retry(sim, TDH_MNG_VPFLUSHDONE, &a))
			ret = -EIO;
	}
	if (td->lifecycle == TD_BLOCKED) {
		a = (struct tdx_module_args){ .rcx = 0 };
		seamcall_retry(sim, TDH_PHYMEM_CACHE_WB, &a);
		a = (struct tdx_module_args){ .rcx = h->tdr_pa };
		if (seamcall_retry(sim, TDH_MNG_KEY_FREEID, &a))
			ret = -EIO;
	}
	if (reclaim_td_pages(sim, td->id))
		ret = -EIO;
	a = (struct tdx_module_args){ .rcx = h->tdr_pa };
	err = seamcall_retry(sim, TDH_PHYMEM_PAGE_RECLAIM, &a);
	if (err)
		ret = -EIO;
	else if (give_back(sim, h->tdr_pa, TDX_PS_4K))
		ret = -EIO;
	if (flags & TDXSIM_TEARDOWN_FREE_PAMT && sim_dpamt(sim) && free_empty_pairs(sim))
		ret = -EIO;
	free(h);
	return ret;
}
