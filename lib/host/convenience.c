// SPDX-License-Identifier: GPL-2.0-only
/*
 * Conveniences for tests: build and tear down a TD and its vCPUs through the
 * real SEAMCALL path (tdxsim_seamcall()), the way a host would.  Host code:
 * it sees the simulator through include/tdxsim/ only (meson builds it
 * without lib/module on the include path).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/queue.h>

#include <tdxsim/tdxsim.h>

/* Any 1KB-aligned shared address will do: TD_PARAMS content is not modelled. */
#define TDXSIM_TD_PARAMS_PA	0x1000ULL
/*
 * Every retry loop is bounded.  BUSY is retried as KVM retries it (a lock
 * another call holds for a moment); a BUSY that outlives the bound is
 * reported like any other failure.
 */
#define HOST_RETRIES		16
#define SZ_2M			(1ULL << 21)

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

/* The call again while it answers TDX_OPERAND_BUSY, at most HOST_RETRIES times. */
static u64 seamcall_retry(struct tdxsim *sim, u64 leaf, struct tdx_module_args *in)
{
	struct tdx_module_args a = *in;
	u64 err = TDX_SUCCESS;

	for (int i = 0; i < HOST_RETRIES; i++) {
		a = *in;
		err = seamcall(sim, leaf, &a);
		if (!IS_TDX_OPERAND_BUSY(err))
			break;
	}
	*in = a;
	return err;
}

static bool sim_dpamt(struct tdxsim *sim)
{
	return tdxsim_get_config(sim)->features0 & TDX_FEATURES0_DYNAMIC_PAMT;
}

/*
 * With Dynamic PAMT a page given to the module needs its 2MB range's pair.
 * Install one if missing; *@installed says whether this call did.  The pair
 * stays until TDXSIM_TEARDOWN_FREE_PAMT (or a failed tdxsim_td_create()).
 */
static u64 ensure_pamt_pair(struct tdxsim *sim, u64 pa, bool *installed)
{
	struct tdx_module_args a = { 0 };
	struct tdxsim_pamt_info pi;
	u64 p0, p1, err;

	*installed = false;
	if (!sim_dpamt(sim))
		return TDX_SUCCESS;
	if (tdxsim_pamt_lookup(sim, pa, &pi))
		return TDX_SW_ERROR;
	if (pi.dpamt_pair)
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
		return err;
	}
	*installed = true;
	return TDX_SUCCESS;
}

/* Hand a page the module gave back to the pool, reset first with the quirk. */
static int give_back(struct tdxsim *sim, u64 pa, int level)
{
	u64 size = tdx_level_size(level);
	int ret = 0;

	if (tdxsim_get_config(sim)->reset_quirk)
		tdxsim_page_reset(sim, pa, size);
	if (level == TDX_PS_4K)
		return tdxsim_page_free(sim, pa, TDX_PS_4K);
	for (u64 off = 0; off < size && !ret; off += SZ_2M)
		ret = tdxsim_page_free(sim, pa + off, TDX_PS_2M);
	return ret;
}

/*
 * PAMT.REMOVE the pair of @pa's 2MB range if no page uses it, and give its
 * pages back.  0, or -EIO when the module refused (the range is busy or in use).
 */
static int remove_pamt_pair(struct tdxsim *sim, u64 pa)
{
	struct tdx_module_args a = { .rcx = (pa & ~(SZ_2M - 1)) | TDX_PS_2M };
	struct tdxsim_pamt_info pi;
	int ret = 0;

	if (tdxsim_pamt_lookup(sim, pa, &pi) || !pi.dpamt_pair || pi.dpamt_count)
		return 0;
	if (seamcall_retry(sim, TDH_PHYMEM_PAMT_REMOVE, &a))
		return -EIO;
	if (give_back(sim, a.rdx, TDX_PS_4K))
		ret = -EIO;
	if (give_back(sim, a.r8, TDX_PS_4K))
		ret = -EIO;
	return ret;
}

/*
 * A fresh 4K page for the module, its pair installed.  @pairs (may be NULL)
 * collects the 2MB ranges whose pair this call installed, *@nr_pairs of them.
 */
static u64 alloc_module_page(struct tdxsim *sim, u64 *pa, u64 *pairs, unsigned int *nr_pairs)
{
	bool installed;
	u64 err;

	*pa = tdxsim_page_alloc(sim, TDX_PS_4K);
	if (!*pa)
		return TDX_SW_ERROR;
	err = ensure_pamt_pair(sim, *pa, &installed);
	if (err) {
		tdxsim_page_free(sim, *pa, TDX_PS_4K);
		*pa = 0;
		return err;
	}
	if (installed && pairs)
		pairs[(*nr_pairs)++] = *pa;
	return TDX_SUCCESS;
}

/*
 * TDH.MNG.CREATE with the first HKID the module takes: each private KeyID
 * (the shared MKTME ones come first) is tried once, as the host does not see
 * the module's key table, so a module that keeps answering HKID_NOT_FREE
 * ends the loop.
 */
static u64 mng_create(struct tdxsim *sim, struct tdxsim_td *td)
{
	const struct tdxsim_config *cfg = tdxsim_get_config(sim);
	unsigned int nr_hkids = 1U << cfg->nr_hkid_bits;
	u64 err = TDX_HKID_NOT_FREE;

	for (unsigned int k = cfg->nr_mktme_hkids + 1; k < nr_hkids; k++) {
		struct tdx_module_args a = { .rcx = td->tdr_pa, .rdx = k };

		err = seamcall(sim, TDH_MNG_CREATE, &a);
		if (TDX_STATUS(err) != TDX_HKID_NOT_FREE) {
			td->hkid = (u16)k;
			break;
		}
	}
	return err;
}

struct tdxsim_td *tdxsim_td_create(struct tdxsim *sim, u64 *status)
{
	const struct tdxsim_config *cfg = tdxsim_get_config(sim);
	u64 pairs[1 + TDXSIM_MAX_TDCS_PAGES];
	struct tdx_module_args a = { 0 };
	unsigned int nr_pairs = 0;
	struct tdxsim_td *td;
	u64 err;

	td = calloc(1, sizeof(*td));
	if (!td) {
		errno = ENOMEM;
		*status = TDX_SW_ERROR;
		return NULL;
	}
	td->sim = sim;
	err = alloc_module_page(sim, &td->tdr_pa, pairs, &nr_pairs);
	if (err)
		goto fail;
	err = mng_create(sim, td);
	if (err) {
		tdxsim_page_free(sim, td->tdr_pa, TDX_PS_4K);
		goto fail;
	}
	a = (struct tdx_module_args){ .rcx = td->tdr_pa };
	err = seamcall(sim, TDH_MNG_KEY_CONFIG, &a);
	if (err)
		goto fail_teardown;
	for (unsigned int i = 0; i < cfg->nr_tdcs_pages; i++) {
		u64 page;

		err = alloc_module_page(sim, &page, pairs, &nr_pairs);
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
	/* The TD's pages go back through the module; the handle goes with them. */
	tdxsim_td_teardown(td, 0);
	td = NULL;
fail:
	*status = err;
	/* Pairs this call installed and nothing uses any more. */
	for (unsigned int i = 0; i < nr_pairs; i++)
		remove_pamt_pair(sim, pairs[i]);
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
	struct tdxsim_td_host *h = td_host(td);
	struct tdxsim *sim = td->sim;
	struct tdx_module_args a = { 0 };
	struct vcpu_handle *v;
	u64 page, err;
	u32 x2apic_id;
	int nr_vcpus;

	v = h ? calloc(1, sizeof(*v)) : NULL;
	if (!v) {
		errno = ENOMEM;
		*status = TDX_SW_ERROR;
		return NULL;
	}
	err = alloc_module_page(sim, &page, NULL, NULL);
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
	for (unsigned int i = 0; i < tdxsim_get_config(sim)->nr_tdvpx_pages; i++) {
		err = alloc_module_page(sim, &page, NULL, NULL);
		if (err)
			goto fail_owned;
		a = (struct tdx_module_args){ .rcx = page, .rdx = v->pub.tdvpr_pa };
		err = seamcall(sim, TDH_VP_ADDCX, &a);
		if (err) {
			tdxsim_page_free(sim, page, TDX_PS_4K);
			goto fail_owned;
		}
	}
	/*
	 * Version 1, as KVM calls it: RDX = initial RCX, R8 = x2APIC ID.  vCPUs
	 * the caller built by hand may hold IDs this handle has not handed out:
	 * take the next one, at most once per vCPU of the TD.
	 */
	nr_vcpus = tdxsim_td_vcpus(sim, td->tdr_pa, NULL, 0);
	for (int i = 0; i <= nr_vcpus; i++) {
		a = (struct tdx_module_args){ .rcx = v->pub.tdvpr_pa, .r8 = x2apic_id };
		err = seamcall(sim, TDH_VP_INIT | (1ULL << TDX_VERSION_SHIFT), &a);
		if (TDX_STATUS(err) != TDX_X2APIC_ID_NOT_UNIQUE)
			break;
		pthread_mutex_lock(&h->lock);
		x2apic_id = h->next_x2apic_id++;
		pthread_mutex_unlock(&h->lock);
	}
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

/*
 * Kick every vCPU, then TDH.VP.FLUSH each associated one (tdx_flush_vp()):
 * BUSY is retried, VCPU_NOT_ASSOCIATED (flushed meanwhile) is fine.  Returns
 * the first other failure, or TDX_SUCCESS.
 */
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
		err = seamcall_retry(td->sim, TDH_VP_FLUSH, &a);
		if (err && !IS_TDX_VCPU_NOT_ASSOCIATED(err) && !ret)
			ret = err;
	}
	free(list);
	return ret;
}

/*
 * TDH.PHYMEM.CACHE.WB as the kernel runs it: resumed (RCX = 1) after
 * INTERRUPTED_RESUMABLE, BUSY retried; NO_HKID_READY_TO_WBCACHE means another
 * caller already wrote the caches back.
 */
static u64 cache_wb(struct tdxsim *sim)
{
	u64 resume = 0, err = TDX_SUCCESS;

	for (int i = 0; i < HOST_RETRIES; i++) {
		struct tdx_module_args a = { .rcx = resume };

		err = seamcall(sim, TDH_PHYMEM_CACHE_WB, &a);
		if (IS_TDX_OPERAND_BUSY(err))
			continue;
		if (TDX_STATUS(err) == TDX_INTERRUPTED_RESUMABLE) {
			resume = 1;
			continue;
		}
		if (TDX_STATUS(err) == TDX_NO_HKID_READY_TO_WBCACHE)
			err = TDX_SUCCESS;
		break;
	}
	return err;
}

/*
 * Take the TD from wherever it is to TEARDOWN (tdx_mmu_release_hkid()):
 * flush the vCPUs, VPFLUSHDONE, CACHE.WB, KEY.FREEID.  0, or -EIO at the
 * first step that failed (the TD stays there; a later teardown resumes).
 */
static int release_hkid(struct tdxsim_td *td)
{
	struct tdxsim *sim = td->sim;
	struct tdx_module_args a;
	struct tdxsim_td_info info;

	if (tdxsim_td_info(sim, td->tdr_pa, &info))
		return -EIO;
	if (info.lifecycle == TDXSIM_TD_HKID_ASSIGNED ||
	    info.lifecycle == TDXSIM_TD_KEYS_CONFIGURED) {
		if (tdxsim_td_flush_vcpus(td))
			return -EIO;
		a = (struct tdx_module_args){ .rcx = td->tdr_pa };
		if (seamcall_retry(sim, TDH_MNG_VPFLUSHDONE, &a))
			return -EIO;
		info.lifecycle = TDXSIM_TD_BLOCKED;
	}
	if (info.lifecycle == TDXSIM_TD_BLOCKED) {
		if (cache_wb(sim))
			return -EIO;
		a = (struct tdx_module_args){ .rcx = td->tdr_pa };
		if (seamcall_retry(sim, TDH_MNG_KEY_FREEID, &a))
			return -EIO;
	}
	return 0;
}

/* RECLAIM a page the TD owns, and hand it back to the pool. */
static int reclaim_and_free(struct tdxsim *sim, u64 pa)
{
	struct tdx_module_args a = { .rcx = pa };
	u64 err = seamcall_retry(sim, TDH_PHYMEM_PAGE_RECLAIM, &a);

	if (err)
		return -EIO;
	return give_back(sim, pa, (int)a.r8);
}

/*
 * Every page the TD owns, then the TDR (only once the child count is 0).
 * A page that fails is left and counted; the others still go back.
 */
static int reclaim_td_pages(struct tdxsim_td *td)
{
	struct tdxsim *sim = td->sim;
	struct tdxsim_td_page page;
	struct tdxsim_td_info info;
	u64 cursor = 0;
	int ret = 0;

	while (!tdxsim_td_page_next(sim, td->tdr_pa, &cursor, &page)) {
		if (page.pt != PT_TDR && reclaim_and_free(sim, page.hpa))
			ret = -EIO;
	}
	if (ret || tdxsim_td_info(sim, td->tdr_pa, &info) || info.chldcnt)
		return -EIO;
	return reclaim_and_free(sim, td->tdr_pa);
}

/* PAMT.REMOVE every pair whose 2MB range is empty, and free its pages. */
static int free_empty_pairs(struct tdxsim *sim)
{
	const struct tdxsim_config *cfg = tdxsim_get_config(sim);
	int ret = 0;

	for (u64 pa = cfg->mem_base; pa < cfg->mem_base + cfg->mem_size; pa += SZ_2M) {
		if (remove_pamt_pair(sim, pa))
			ret = -EIO;
	}
	return ret;
}

int tdxsim_td_teardown(struct tdxsim_td *td, unsigned int flags)
{
	struct tdxsim_td_info info;
	struct tdxsim *sim;
	int ret;

	if (!td)
		return 0;
	sim = td->sim;
	if (tdxsim_td_info(sim, td->tdr_pa, &info)) {
		td_handle_free(td);
		return -EINVAL;
	}
	tdxsim_td_kick_vcpus(td);
	ret = release_hkid(td);
	if (!ret)
		ret = reclaim_td_pages(td);
	if (flags & TDXSIM_TEARDOWN_FREE_PAMT && sim_dpamt(sim) && free_empty_pairs(sim))
		ret = -EIO;
	td_handle_free(td);
	return ret;
}
