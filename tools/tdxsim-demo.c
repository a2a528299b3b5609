// SPDX-License-Identifier: GPL-2.0-only
/*
 * tdxsim-demo: walk one 2MB private page through the life KVM gives it with
 * huge pages and Dynamic PAMT -- AUG, guest ACCEPT, BLOCK, TRACK, DEMOTE,
 * then BLOCK/TRACK/REMOVE of one 4K piece -- printing the S-EPT entry and the
 * PAMT after each step, then check every module invariant.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/wrappers.h>

#define GPA		0x40000000ULL	/* 1 GiB: a 2MB-aligned private GPA */

static const char *state_name(u8 s)
{
	switch (s) {
	case SEPT_PUBLIC_FREE:		return "FREE";
	case SEPT_PUBLIC_BLOCKED:	return "BLOCKED";
	case SEPT_PUBLIC_PENDING:	return "PENDING";
	case SEPT_PUBLIC_PENDING_BLOCKED: return "PENDING_BLOCKED";
	case SEPT_PUBLIC_MAPPED:	return "MAPPED";
	case SEPT_PUBLIC_REMOVED:	return "REMOVED";
	case SEPT_PUBLIC_NL_BLOCKED:	return "NL_BLOCKED";
	case SEPT_PUBLIC_NL_MAPPED:	return "NL_MAPPED";
	default:			return "?";
	}
}

static const char *pt_name(u8 pt)
{
	switch (pt) {
	case PT_NDA:	return "PT_NDA";
	case PT_REG:	return "PT_REG";
	case PT_TDR:	return "PT_TDR";
	case PT_TDCX:	return "PT_TDCX";
	case PT_TDVPR:	return "PT_TDVPR";
	case PT_EPT:	return "PT_EPT";
	case PT_PAMT:	return "PT_PAMT";
	default:	return "?";
	}
}

static const char *size_name(int level)
{
	return level == TDX_PS_4K ? "4K" : level == TDX_PS_2M ? "2M" : "1G";
}

static void show(struct tdxsim *sim, struct tdxsim_td *td, const char *step, u64 status,
		 u64 hpa)
{
	struct tdxsim_sept_info si, si4k;
	struct tdxsim_pamt_info pi;
	char buf[64];

	tdxsim_sept_lookup(sim, td, GPA, &si);
	tdxsim_pamt_lookup(sim, hpa, &pi);
	printf("%-28s -> %-30s\n", step, tdxsim_status_name(status, buf, sizeof(buf)));
	printf("    S-EPT  GPA %#llx: level %s %-15s",
	       (unsigned long long)GPA, size_name(si.level), state_name(si.state));
	if (tdxsim_sept_lookup_level(sim, td, GPA, TDX_PS_2M, &si4k) == 0 &&
	    si4k.state == SEPT_PUBLIC_NL_MAPPED)
		printf(" (2M entry NL_MAPPED -> S-EPT page %#llx)", (unsigned long long)si4k.hpa);
	printf("\n    PAMT   HPA %#llx: %s %s owner %#llx", (unsigned long long)hpa,
	       size_name(pi.level), pt_name(pi.pt), (unsigned long long)pi.owner);
	if (pi.dpamt_pair)
		printf(", DPAMT pair %#llx/%#llx count %u", (unsigned long long)pi.dpamt_pages[0],
		       (unsigned long long)pi.dpamt_pages[1], pi.dpamt_count);
	else
		printf(", no DPAMT pair");
	if (pi.dirty)
		printf(", dirty with HKID %u", pi.dirty_hkid);
	printf("\n    TD     chldcnt %llu, epoch %llu\n",
	       (unsigned long long)tdxsim_td_chldcnt(sim, td),
	       (unsigned long long)tdxsim_td_epoch(sim, td));
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tdxsim-demo [--no-dpamt] [--help]\n"
		"\n"
		"Walk a 2MB private page through AUG -> ACCEPT -> BLOCK -> TRACK -> DEMOTE ->\n"
		"REMOVE against the simulated TDX module, printing the S-EPT entry and the\n"
		"PAMT after each step, then run the invariant checker.\n"
		"\n"
		"  --no-dpamt   run with static PAMT (TDX_FEATURES0_DYNAMIC_PAMT clear)\n"
		"  --help       this text\n");
}

static void must(u64 status, const char *what)
{
	char buf[64];

	if (status != TDX_SUCCESS)
		errx(1, "%s failed: %s", what, tdxsim_status_name(status, buf, sizeof(buf)));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-dpamt", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tdxsim_config cfg;
	struct tdxsim_report rep;
	struct tdxsim_vcpu *vcpu;
	struct tdxsim_td *td;
	struct tdxsim *sim;
	u64 st, e1, e2, hpa, sept[2], pair[2], split_sept, split_pair[2];
	int c, bad;

	tdxsim_config_init(&cfg);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			cfg.features0 &= ~TDX_FEATURES0_DYNAMIC_PAMT;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	sim = tdxsim_create(&cfg);
	if (!sim)
		err(1, "tdxsim_create");
	td = tdxsim_td_create(sim, &st);
	must(st, "tdxsim_td_create");
	vcpu = tdxsim_vcpu_create(td, &st);
	must(st, "tdxsim_vcpu_create");
	must(tdxsim_td_finalize(td), "TDH.MR.FINALIZE");
	must(tdxsim_vcpu_enter(vcpu), "TDH.VP.ENTER");
	printf("TD %#llx (HKID %u) RUNNABLE, one vCPU in guest; Dynamic PAMT %s\n\n",
	       (unsigned long long)td->tdr_pa, td->hkid,
	       cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT ? "on" : "off");

	/* Page tables down to the 2MB level; with DPAMT their ranges need a pair. */
	for (int i = 0; i < 2; i++) {
		sept[i] = tdxsim_page_alloc(sim, TDX_PS_4K);
		if (cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT && i == 0) {
			pair[0] = tdxsim_page_alloc(sim, TDX_PS_4K);
			pair[1] = tdxsim_page_alloc(sim, TDX_PS_4K);
			st = tdxsim_tdh_phymem_pamt_add(sim, sept[i], pair);
			if (st != TDX_SUCCESS && !IS_TDX_HPA_RANGE_NOT_FREE(st))
				must(st, "TDH.PHYMEM.PAMT.ADD");
			if (st) {
				tdxsim_page_free(sim, pair[0], TDX_PS_4K);
				tdxsim_page_free(sim, pair[1], TDX_PS_4K);
			}
		}
		must(tdxsim_tdh_mem_sept_add(td, GPA & ~(tdx_level_size(3 - i) - 1), 3 - i, sept[i], &e1, &e2),
		     "TDH.MEM.SEPT.ADD");
	}
	hpa = tdxsim_page_alloc(sim, TDX_PS_2M);
	split_sept = tdxsim_page_alloc(sim, TDX_PS_4K);
	split_pair[0] = tdxsim_page_alloc(sim, TDX_PS_4K);
	split_pair[1] = tdxsim_page_alloc(sim, TDX_PS_4K);

	st = tdxsim_tdh_mem_page_aug(td, GPA, TDX_PS_2M, hpa >> 12, &e1, &e2);
	show(sim, td, "TDH.MEM.PAGE.AUG(2M)", st, hpa);
	st = tdxsim_tdg_mem_page_accept(sim, vcpu->tdvpr_pa, GPA, TDX_PS_2M);
	show(sim, td, "TDG.MEM.PAGE.ACCEPT(2M)", st, hpa);
	st = tdxsim_tdh_mem_range_block(td, GPA, TDX_PS_2M, &e1, &e2);
	show(sim, td, "TDH.MEM.RANGE.BLOCK(2M)", st, hpa);
	st = tdxsim_tdh_mem_track(td);
	tdxsim_td_kick_vcpus(td);
	show(sim, td, "TDH.MEM.TRACK + kick vCPUs", st, hpa);
	st = tdxsim_tdh_mem_page_demote(td, GPA, TDX_PS_2M, split_sept,
				 cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT ? split_pair : NULL,
				 &e1, &e2);
	show(sim, td, "TDH.MEM.PAGE.DEMOTE(2M)", st, hpa);
	if (!(cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT)) {
		tdxsim_page_free(sim, split_pair[0], TDX_PS_4K);
		tdxsim_page_free(sim, split_pair[1], TDX_PS_4K);
	}
	must(tdxsim_vcpu_enter(vcpu), "TDH.VP.ENTER");
	st = tdxsim_tdh_mem_range_block(td, GPA, TDX_PS_4K, &e1, &e2);
	show(sim, td, "TDH.MEM.RANGE.BLOCK(4K)", st, hpa);
	st = tdxsim_tdh_mem_track(td);
	tdxsim_td_kick_vcpus(td);
	show(sim, td, "TDH.MEM.TRACK + kick vCPUs", st, hpa);
	st = tdxsim_tdh_mem_page_remove(td, GPA, TDX_PS_4K, &e1, &e2);
	show(sim, td, "TDH.MEM.PAGE.REMOVE(4K)", st, hpa);
	st = tdxsim_tdh_phymem_page_wbinvd_hkid(sim, td->hkid, hpa);
	show(sim, td, "TDH.PHYMEM.PAGE.WBINVD", st, hpa);

	bad = tdxsim_check(sim, &rep);
	printf("\ntdxsim_check: %s\n", bad ? "VIOLATIONS" : "all invariants hold");
	if (bad)
		tdxsim_report_print(&rep, stdout);
	printf("\nSEAMCALL statistics:\n");
	tdxsim_stats_print(sim, stdout);

	tdxsim_page_free(sim, hpa, TDX_PS_4K);
	if (tdxsim_td_teardown(td, TDXSIM_TEARDOWN_FREE_PAMT))
		warnx("teardown reported an error");
	tdxsim_destroy(sim);
	return bad ? 1 : 0;
}
