// SPDX-License-Identifier: GPL-2.0-only
/*
 * TD control structures (TDR/TDCS): the table of TDs, lookups by TDR page,
 * and the TLB-epoch rules (spec seamcall.md §2.6).
 */
#include "tdxsim-internal.h"

struct td *td_by_id(struct tdxsim *sim, u16 id)
{
	if (!id || id > sim->cfg.max_tds)
		return NULL;
	return __atomic_load_n(&sim->tds[id], __ATOMIC_ACQUIRE);
}

/* Unlocked lookup for introspection and the checker. */
struct td *td_by_tdr(struct tdxsim *sim, u64 tdr_pa)
{
	struct pamt_entry *e;

	if (tdr_pa & (PAGE_SIZE - 1) || !mem_in_tdmr(sim, tdr_pa))
		return NULL;
	if (pamt_leaf_level(sim, tdr_pa) != TDX_PS_4K)
		return NULL;
	e = pamt_entry_at(sim, tdr_pa, TDX_PS_4K);
	if (e->pt != PT_TDR)
		return NULL;
	return td_by_id(sim, e->owner);
}

struct td *td_alloc(struct tdxsim *sim, u64 tdr_pa, u16 hkid)
{
	struct td *td = NULL;

	pthread_mutex_lock(&sim->td_lock);
	for (u16 id = 1; id <= sim->cfg.max_tds; id++) {
		if (sim->tds[id])
			continue;
		td = calloc(1, sizeof(*td));
		if (!td)
			break;
		td->id = id;
		td->hkid = hkid;
		td->tdr_pa = tdr_pa;
		td->lifecycle = TD_HKID_ASSIGNED;
		td->op_state = OP_STATE_UNINITIALIZED;
		td->gpaw = sim->cfg.gpaw;
		/* GPAW 52 needs a 5-level S-EPT (TD_PARAMS EPTP PWL 5), GPAW 48 four. */
		td->sept_levels = td->gpaw == 52 ? 5 : 4;
		pthread_mutex_init(&td->vcpu_lock, NULL);
		TAILQ_INIT(&td->sept_pages);
		__atomic_store_n(&sim->tds[id], td, __ATOMIC_RELEASE);
		break;
	}
	pthread_mutex_unlock(&sim->td_lock);
	return td;
}

/* Called with the TDR PAMT entry held exclusive (RECLAIM of the TDR). */
void td_free(struct tdxsim *sim, struct td *td)
{
	struct td_vcpu *v, *tmp;

	pthread_mutex_lock(&sim->td_lock);
	__atomic_store_n(&sim->tds[td->id], NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sim->td_lock);
	HASH_ITER(hh, td->vcpus, v, tmp) {
		HASH_DELETE(hh, td->vcpus, v);
		free(v);
	}
	while (!TAILQ_EMPTY(&td->sept_pages))
		sept_page_put(sim, td, TAILQ_FIRST(&td->sept_pages));
	pthread_mutex_destroy(&td->vcpu_lock);
	free(td);
}

/* TDR.CHLDCNT: the TD's pages in 4K units, TDR excluded. */
void td_chldcnt_add(struct seamcall_ctx *c, struct td *td, s64 delta)
{
	__atomic_fetch_add(&td->chldcnt, (u64)delta, __ATOMIC_RELAXED);
	seq_note(&td->seq, c->seq);
}

bool td_tlb_tracking_required(const struct td *td)
{
	u8 s = __atomic_load_n(&td->op_state, __ATOMIC_RELAXED);

	return s == OP_STATE_RUNNABLE || s == OP_STATE_LIVE_EXPORT || s == OP_STATE_LIVE_IMPORT;
}

/*
 * A block done in epoch @bepoch is tracked once TDH.MEM.TRACK moved the TD
 * past it and every vCPU that entered during it has left (is_tlb_tracked()).
 */
bool is_tlb_tracked(struct td *td, u32 bepoch)
{
	u32 cur = (u32)__atomic_load_n(&td->td_epoch, __ATOMIC_ACQUIRE);
	u32 diff = cur - bepoch;

	if (diff == 0 || diff >= 0x80000000U)
		return false;
	if (diff == 1)
		return __atomic_load_n(&td->refcount[bepoch & 1], __ATOMIC_ACQUIRE) == 0;
	return true;
}

u64 tdxsim_td_chldcnt(struct tdxsim *sim, const struct tdxsim_td *h)
{
	struct td *td = h ? td_by_tdr(sim, h->tdr_pa) : NULL;

	return td ? __atomic_load_n(&td->chldcnt, __ATOMIC_RELAXED) : 0;
}

u64 tdxsim_td_epoch(struct tdxsim *sim, const struct tdxsim_td *h)
{
	struct td *td = h ? td_by_tdr(sim, h->tdr_pa) : NULL;

	return td ? __atomic_load_n(&td->td_epoch, __ATOMIC_RELAXED) : 0;
}

int tdxsim_td_info(struct tdxsim *sim, u64 tdr_pa, struct tdxsim_td_info *info)
{
	struct td *td = td_by_tdr(sim, tdr_pa);

	memset(info, 0, sizeof(*info));
	if (!td)
		return -EINVAL;
	info->lifecycle = __atomic_load_n(&td->lifecycle, __ATOMIC_ACQUIRE);
	info->op_state = __atomic_load_n(&td->op_state, __ATOMIC_ACQUIRE);
	info->fatal = __atomic_load_n(&td->fatal, __ATOMIC_RELAXED);
	info->wbcache_pending = __atomic_load_n(&td->wbcache_pending, __ATOMIC_ACQUIRE);
	info->hkid = td->hkid;
	info->chldcnt = __atomic_load_n(&td->chldcnt, __ATOMIC_RELAXED);
	info->epoch = __atomic_load_n(&td->td_epoch, __ATOMIC_RELAXED);
	info->nr_tdcx = __atomic_load_n(&td->nr_tdcx, __ATOMIC_RELAXED);
	info->nr_vcpus = __atomic_load_n(&td->num_vcpus, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Walk the PAMT upwards from *@cursor: at each address the leaf that covers
 * it (1G, 2M or 4K), skipping leaves @td does not own.  The TDR's entry
 * carries the TD id too (mng.c), so the TDR is found like any other page.
 */
int tdxsim_td_page_next(struct tdxsim *sim, u64 tdr_pa, u64 *cursor, struct tdxsim_td_page *page)
{
	struct td *td = td_by_tdr(sim, tdr_pa);
	u64 pa;

	memset(page, 0, sizeof(*page));
	if (!td)
		return -EINVAL;
	pa = *cursor < sim->cfg.mem_base ? sim->cfg.mem_base : (*cursor + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	while (pa >= sim->cfg.mem_base && pa < sim->mem_end) {
		int level = pamt_leaf_level(sim, pa);
		u64 size = tdx_level_size(level);
		u64 base = pa & ~(size - 1);	/* mem_base is 1GB aligned */
		struct pamt_entry *e = pamt_entry_at(sim, base, level);
		u8 pt = __atomic_load_n(&e->pt, __ATOMIC_ACQUIRE);

		if (pt != PT_NDA && pt != PT_PAMT && pt != PT_RSVD && e->owner == td->id) {
			page->hpa = base;
			page->level = level;
			page->pt = pt;
			*cursor = base + size;
			return 0;
		}
		pa = base + size;
	}
	*cursor = sim->mem_end;
	return -ENOENT;
}
