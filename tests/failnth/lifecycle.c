// SPDX-License-Identifier: GPL-2.0-only
/*
 * A careful host's huge-page life cycle, written against the public API only,
 * for `tdxsim failnth` to sweep (issue 7): a TD with two vCPUs, a 2MB page
 * AUGed and ACCEPTed by the guest, BLOCK/TRACK/DEMOTE with the Dynamic-PAMT
 * pair of the guest range, one 4K page REMOVEd, WBINVDed and freed, and
 * teardown.
 *
 * "Careful" means what KVM does: a BUSY is retried (a bounded number of
 * times), TDX_INTERRUPTED_RESTARTABLE from DEMOTE is retried, a guest ACCEPT
 * that exits is re-entered and retried, and any other failure gives back
 * every page the module did not take and tears the TD down.  Whatever fails,
 * the simulator must end with no page allocated and no invariant broken; the
 * exit status only says whether the whole cycle ran (0) or gave up (1).
 */
#include <stdio.h>
#include <stdlib.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/wrappers.h>

#define RETRIES		16
#define GPA		0x40000000ULL		/* 1 GiB: a 2MB-aligned private GPA */

static struct tdxsim *sim;
static struct tdxsim_td *td;

static bool retryable(u64 err)
{
	return IS_TDX_OPERAND_BUSY(err) || IS_TDX_INTERRUPTED_RESTARTABLE(err);
}

/* A page the host gives back because the module never took it. */
static void put_page(u64 *pa)
{
	if (*pa && tdxsim_page_free(sim, *pa, TDX_PS_4K))
		fprintf(stderr, "lifecycle: page %#llx not freed\n", (unsigned long long)*pa);
	*pa = 0;
}

/*
 * With Dynamic PAMT, a 4K page given to the module needs the pair of its 2MB
 * range.  Teardown (TDXSIM_TEARDOWN_FREE_PAMT) removes the pairs of ranges
 * left empty, so installing one is never a leak.
 */
static int ensure_pair(u64 pa)
{
	struct tdxsim_pamt_info pi;
	u64 pair[2], err = TDX_OPERAND_BUSY;

	if (!(tdxsim_get_config(sim)->features0 & TDX_FEATURES0_DYNAMIC_PAMT))
		return 0;
	if (tdxsim_pamt_lookup(sim, pa, &pi))
		return -1;
	if (pi.dpamt_pair)
		return 0;
	pair[0] = tdxsim_page_alloc(sim, TDX_PS_4K);
	pair[1] = tdxsim_page_alloc(sim, TDX_PS_4K);
	for (int i = 0; pair[0] && pair[1] && i < RETRIES && retryable(err); i++)
		err = tdxsim_tdh_phymem_pamt_add(sim, pa & ~(0x200000ULL - 1), pair);
	if (err == TDX_SUCCESS)
		return 0;
	put_page(&pair[0]);
	put_page(&pair[1]);
	return -1;
}

/* A 4K page for the module (S-EPT page), its pair installed; 0 on failure. */
static u64 module_page(void)
{
	u64 pa = tdxsim_page_alloc(sim, TDX_PS_4K);

	if (pa && ensure_pair(pa))
		put_page(&pa);
	return pa;
}

static int sept_add(u64 gpa, int level)
{
	u64 page = module_page(), err = TDX_OPERAND_BUSY, e1, e2;

	for (int i = 0; page && i < RETRIES && retryable(err); i++)
		err = tdxsim_tdh_mem_sept_add(td, gpa & ~(tdx_level_size(level) - 1), level, page,
					      &e1, &e2);
	if (err == TDX_SUCCESS)
		return 0;
	put_page(&page);
	return -1;
}

static int block_track(u64 gpa, int level)
{
	u64 err = TDX_OPERAND_BUSY, e1, e2;

	for (int i = 0; i < RETRIES && retryable(err); i++)
		err = tdxsim_tdh_mem_range_block(td, gpa, level, &e1, &e2);
	if (err)
		return -1;
	err = TDX_OPERAND_BUSY;
	for (int i = 0; i < RETRIES && retryable(err); i++)
		err = tdxsim_tdh_mem_track(td);
	if (err)
		return -1;
	tdxsim_td_kick_vcpus(td);	/* the vCPUs leave and see the new epoch */
	return 0;
}

/* The guest accepts @gpa at @level on @vcpu, the host re-entering it as needed. */
static int guest_accept(struct tdxsim_vcpu *vcpu, u64 gpa, int level)
{
	u64 err = TDX_OPERAND_BUSY;

	for (int i = 0; i < RETRIES; i++) {
		if (!tdxsim_vcpu_in_guest(vcpu)) {
			err = tdxsim_vcpu_enter(vcpu);
			if (retryable(err))
				continue;
			if (err)
				return -1;
		}
		err = tdxsim_tdg_mem_page_accept(sim, tdxsim_vcpu_tdvpr_pa(vcpu), gpa, level);
		if (err == TDX_SUCCESS)
			break;
		if (err != TDXSIM_TDCALL_TD_EXIT && !retryable(err))
			return -1;
	}
	tdxsim_vcpu_exit(vcpu);
	return err == TDX_SUCCESS ? 0 : -1;
}

static int demote(u64 gpa)
{
	u64 sept = module_page(), pair[2], err = TDX_OPERAND_BUSY, e1, e2;

	pair[0] = tdxsim_page_alloc(sim, TDX_PS_4K);
	pair[1] = tdxsim_page_alloc(sim, TDX_PS_4K);
	for (int i = 0; sept && pair[0] && pair[1] && i < RETRIES && retryable(err); i++)
		err = tdxsim_tdh_mem_page_demote(td, gpa, TDX_PS_2M, sept, pair, &e1, &e2);
	if (err == TDX_SUCCESS)
		return 0;
	put_page(&sept);
	put_page(&pair[0]);
	put_page(&pair[1]);
	return -1;
}

/* REMOVE one 4K page of the demoted range and give it back to the host pool. */
static int remove_4k(u64 gpa)
{
	struct tdxsim_sept_info si;
	u64 err = TDX_OPERAND_BUSY, e1, e2, hpa;

	if (tdxsim_sept_lookup_level(sim, td, gpa, TDX_PS_4K, &si))
		return -1;
	hpa = si.hpa;
	if (si.state != SEPT_PUBLIC_BLOCKED && block_track(gpa, TDX_PS_4K))
		return -1;
	for (int i = 0; i < RETRIES && retryable(err); i++)
		err = tdxsim_tdh_mem_page_remove(td, gpa, TDX_PS_4K, &e1, &e2);
	if (err)
		return -1;
	/* From here the page is the host's: it must end up in the pool. */
	err = TDX_OPERAND_BUSY;
	for (int i = 0; i < RETRIES && retryable(err); i++)
		err = tdxsim_tdh_phymem_page_wbinvd_hkid(sim, td->hkid, hpa);
	if (tdxsim_get_config(sim)->reset_quirk)
		tdxsim_page_reset(sim, hpa, TDX_PAGE_SIZE);
	if (err || tdxsim_page_free(sim, hpa, TDX_PS_4K)) {
		fprintf(stderr, "lifecycle: removed page %#llx cannot go back (%#llx)\n",
			(unsigned long long)hpa, (unsigned long long)err);
		return -1;
	}
	return 0;
}

static int cycle(void)
{
	struct tdxsim_vcpu *vcpu[2];
	u64 st, page = 0, err = TDX_OPERAND_BUSY, e1, e2;

	for (int i = 0; i < 2; i++) {
		vcpu[i] = tdxsim_vcpu_create(td, &st);
		if (!vcpu[i])
			return -1;
	}
	for (int i = 0; i < RETRIES && retryable(err); i++)
		err = tdxsim_td_finalize(td);
	if (err)
		return -1;
	if (sept_add(GPA, 3) || sept_add(GPA, 2))
		return -1;
	page = tdxsim_page_alloc(sim, TDX_PS_2M);
	err = TDX_OPERAND_BUSY;
	for (int i = 0; page && i < RETRIES && retryable(err); i++)
		err = tdxsim_tdh_mem_page_aug(td, GPA, TDX_PS_2M, page >> 12, &e1, &e2);
	if (err) {
		if (page && tdxsim_page_free(sim, page, TDX_PS_2M))
			fprintf(stderr, "lifecycle: 2M page not freed\n");
		return -1;
	}
	if (guest_accept(vcpu[1], GPA, TDX_PS_2M))
		return -1;
	if (block_track(GPA, TDX_PS_2M) || demote(GPA))
		return -1;
	return remove_4k(GPA + 0x5000);
}

int main(void)
{
	struct tdxsim_config cfg;
	int ret;
	u64 st;

	tdxsim_config_init(&cfg);
	cfg.mem_size = 256ULL << 20;
	sim = tdxsim_create(&cfg);
	if (!sim)
		return 2;
	td = tdxsim_td_create(sim, &st);
	if (!td) {
		/* tdxsim_td_create() leaves no page behind. */
		fprintf(stderr, "lifecycle: TD not created: %#llx\n", (unsigned long long)st);
		tdxsim_destroy(sim);
		return 1;
	}
	ret = cycle() ? 1 : 0;
	if (tdxsim_td_teardown(td, TDXSIM_TEARDOWN_FREE_PAMT)) {
		fprintf(stderr, "lifecycle: teardown failed\n");
		ret = 1;
	}
	printf("lifecycle: %s, %llu page(s) left\n", ret ? "gave up" : "complete",
	       (unsigned long long)tdxsim_pages_in_use(sim));
	tdxsim_destroy(sim);
	return ret;
}
