// SPDX-License-Identifier: GPL-2.0-only
/*
 * Conveniences for tests: build and tear down a TD and its vCPUs through the
 * real SEAMCALL path (tdxsim_seamcall()), the way a host would.
 */
#include "tdxsim-internal.h"

/* Any 1KB-aligned shared address will do: TD_PARAMS content is not modelled. */
#define TDXSIM_TD_PARAMS_PA	0x1000ULL
#define TEARDOWN_RETRIES	16

/* The host's vCPU handle; the public part first. */
struct vcpu_handle {
	struct tdxsim_vcpu pub;
	LIST_ENTRY(vcpu_handle) link;
};

/* What the host layer keeps per TD handle: the vCPU handles it owns. */
struct tdxsim_td_host {
	pthread_mutex_t lock;		/* vcpus, next_x2apic_id */
	LIST_HEAD(, vcpu_handle) vcpus;
	u32 next_x2apic_id;
};

/* @td's host state, created on first use (a caller-built handle has none). */
static struct tdxsim_td_host *td_host(struct tdxsim_td *td)
{
	struct tdxsim_td_host *h = __atomic_load_n(&td->host, __ATOMIC_ACQUIRE), *exp = NULL;

	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	LIST_INIT(&h->vcpus);
	if (__atomic_compare_exchange_n(&td->host, &exp, h, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return h;
	pthread_mutex_destroy(&h->lock);	/* another thread won */
	free(h);
	return exp;
}

static void td_handle_free(struct tdxsim_td *td)
{
	struct tdxsim_td_host *h = td->host;
	struct vcpu_handle *v;

	if (h) {
		while ((v = LIST_FIRST(&h->vcpus))) {
			LIST_REMOVE(v, link);
			free(v);
		}
		pthread_mutex_destroy(&h->lock);
		free(h);
	}
	free(td);
}

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
	const struct tdxsim_config *cfg = tdxsim_get_config(sim);

	/* Private KeyIDs only: the shared (MKTME) ones come first. */
	for (u16 k = cfg->nr_mktme_hkids + 1; k < (1U << cfg->nr_hkid_bits); k++) {
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
	td_handle_free(td);
	return NULL;
}

u64 tdxsim_td_finalize(struct tdxsim_td *td)
{
	struct tdx_module_args a = { .rcx = td->tdr_pa };

	return seamcall(td->sim, TDH_MR_FINALIZE, &a);
}

struct tdxsim_vcpu *tdxsim_vcpu_create(struct tdxsim_td *td, u64 *status)
{
	struct tdxsim_td_host *h = td_host(td);
	struct tdxsim *sim = td->sim;
	struct tdx_module_args a = { 0 };
	struct vcpu_handle *v;
	u64 page, err;
	u32 x2apic_id;

	v = h ? calloc(1, sizeof(*v)) : NULL;
	if (!v) {
		errno = ENOMEM;
		*status = TDX_SW_ERROR;
		return NULL;
	}
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
	v->pub.td = td;
	v->pub.tdvpr_pa = page;
	/* From here on the TD owns the TDVPR: the handle goes on the TD's list. */
	pthread_mutex_lock(&h->lock);
	LIST_INSERT_HEAD(&h->vcpus, v, link);
	x2apic_id = h->next_x2apic_id++;
	pthread_mutex_unlock(&h->lock);
	for (unsigned int i = 0; i < sim->cfg.nr_tdvpx_pages; i++) {
		err = alloc_module_page(sim, &page);
		if (err)
			goto fail_owned;
		a = (struct tdx_module_args){ .rcx = page, .rdx = v->pub.tdvpr_pa };
		err = seamcall(sim, TDH_VP_ADDCX, &a);
		if (err) {
			tdxsim_page_free(sim, page, TDX_PS_4K);
			goto fail_owned;
		}
	}
	/* Version 1, as KVM calls it: RDX = initial RCX, R8 = x2APIC ID. */
	a = (struct tdx_module_args){ .rcx = v->pub.tdvpr_pa, .r8 = x2apic_id };
	err = seamcall(sim, TDH_VP_INIT | (1ULL << TDX_VERSION_SHIFT), &a);
	if (err)
		goto fail_owned;
	*status = TDX_SUCCESS;
	return &v->pub;
fail:
	free(v);
fail_owned:
	*status = err;
	return NULL;
}

u64 tdxsim_vcpu_tdvpr_pa(const struct tdxsim_vcpu *v)
{
	return v->tdvpr_pa;
}

u64 tdxsim_vcpu_enter(struct tdxsim_vcpu *v)
{
	struct tdx_module_args a = { .rcx = v->tdvpr_pa };

	return seamcall(v->td->sim, TDH_VP_ENTER, &a);
}

void tdxsim_vcpu_exit(struct tdxsim_vcpu *v)
{
	if (v)
		tdxsim_vp_exit(v->td->sim, v->tdvpr_pa);
}

bool tdxsim_vcpu_in_guest(const struct tdxsim_vcpu *v)
{
	return tdxsim_vp_in_guest(v->td->sim, v->tdvpr_pa);
}

void tdxsim_vcpu_last_exit(const struct tdxsim_vcpu *v, struct tdxsim_td_exit *exit)
{
	if (tdxsim_vp_last_exit(v->td->sim, v->tdvpr_pa, exit))
		memset(exit, 0, sizeof(*exit));
}

/* The TDVPRs of @td's vCPUs in a new array (*@n of them); NULL if none or ENOMEM. */
static u64 *td_vcpu_list(struct tdxsim_td *td, int *n)
{
	u64 *list = NULL;
	int cap = 0;

	for (int tries = 0; tries < 8; tries++) {
		u64 *tmp;

		*n = tdxsim_td_vcpus(td->sim, td->tdr_pa, list, (size_t)cap);
		if (*n <= cap)
			break;
		/* vCPUs may be created meanwhile: leave room. */
		cap = *n + 16;
		tmp = realloc(list, (size_t)cap * sizeof(*list));
		if (!tmp)
			break;
		list = tmp;
	}
	if (*n < 0 || *n > cap) {
		free(list);
		*n = *n < 0 ? *n : -ENOMEM;
		return NULL;
	}
	return list;
}

void tdxsim_td_kick_vcpus(struct tdxsim_td *td)
{
	int n;
	u64 *list = td_vcpu_list(td, &n);

	for (int i = 0; i < n; i++)
		tdxsim_vp_exit(td->sim, list[i]);
	free(list);
}

u64 tdxsim_td_flush_vcpus(struct tdxsim_td *td)
{
	u64 err, ret = TDX_SUCCESS;
	int n;
	u64 *list = td_vcpu_list(td, &n);

	if (n < 0)
		return TDX_SW_ERROR;
	for (int i = 0; i < n; i++)
		tdxsim_vp_exit(td->sim, list[i]);
	for (int i = 0; i < n; i++) {
		struct tdxsim_vp_info info;
		struct tdx_module_args a = { .rcx = list[i] };

		if (tdxsim_vp_info(td->sim, list[i], &info) || !info.associated)
			continue;
		err = seamcall(td->sim, TDH_VP_FLUSH, &a);
		if (err && !ret)
			ret = err;
	}
	free(list);
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
		td_handle_free(h);
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
	td_handle_free(h);
	return ret;
}
