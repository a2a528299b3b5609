// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench-leaves: ns per call of the memory SEAMCALLs, and the module's memory
 * cost per mapped 4K page.  A benchmark, not a test: it asserts nothing about
 * time and is run by `meson test --benchmark` / `meson benchmark` or by hand.
 *
 * Phase 1 (--calls N): AUG/ACCEPT/BLOCK/TRACK/DEMOTE/REMOVE/WBINVD/PAMT.ADD/
 * PAMT.REMOVE/PROMOTE timed in loops of one leaf each.
 * Phase 2 (--gib G): map a G GiB TD fully at 4K and measure resident memory.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/wrappers.h>
#include <tdxsim/fault.h>
#include <tdxsim/trace.h>

#define GPA_BASE	0x40000000ULL
#define SZ_2M		0x200000ULL

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	}
	fclose(f);
	return kib;
}

static void must(u64 st, const char *what)
{
	char buf[64];

	if (st != TDX_SUCCESS)
		errx(1, "%s: %s", what, tdxsim_status_name(st, buf, sizeof(buf)));
}

static u64 alloc(struct tdxsim *sim, int level)
{
	u64 pa = tdxsim_page_alloc(sim, level);

	if (!pa)
		errx(1, "simulated memory exhausted");
	return pa;
}

/* tdx_pamt_get() in short: install @pa's 2MB pair if the range has none. */
static void ensure_pair(struct tdxsim *sim, u64 pa)
{
	struct tdxsim_pamt_info pi;
	u64 pair[2];

	tdxsim_pamt_lookup(sim, pa, &pi);
	if (pi.dpamt_pair || !(tdxsim_get_config(sim)->features0 & TDX_FEATURES0_DYNAMIC_PAMT))
		return;
	pair[0] = alloc(sim, TDX_PS_4K);
	pair[1] = alloc(sim, TDX_PS_4K);
	must(tdxsim_tdh_phymem_pamt_add(sim, pa, pair), "PAMT.ADD");
}

struct bench {
	struct tdxsim *sim;
	struct tdxsim_td *td;
	struct tdxsim_vcpu *vcpu;
	bool dpamt;
};

/* SEPT.ADD every table needed to map [gpa, gpa + size) at @map_level. */
static void sept_tables(struct bench *b, u64 gpa, u64 size, int map_level)
{
	u64 e1, e2;

	for (int l = 3; l > map_level; l--) {
		u64 step = tdx_level_size(l);

		for (u64 g = gpa & ~(step - 1); g < gpa + size; g += step) {
			struct tdxsim_sept_info si;
			u64 page;

			if (!tdxsim_sept_lookup_level(b->sim, b->td, g, l, &si) &&
			    si.state == SEPT_PUBLIC_NL_MAPPED)
				continue;
			page = alloc(b->sim, TDX_PS_4K);
			ensure_pair(b->sim, page);
			must(tdxsim_tdh_mem_sept_add(b->td, g, l, page, &e1, &e2), "SEPT.ADD");
		}
	}
}

static void report(const char *leaf, u64 ns, u64 n)
{
	printf("  %-26s %10.1f ns/call  (%llu calls)\n", leaf, (double)ns / (double)n,
	       (unsigned long long)n);
}

static void bench_calls(struct bench *b, u64 n)
{
	u64 *hpa = calloc(n, sizeof(*hpa)), *sept = calloc(n, sizeof(*sept));
	u64 *pairs = calloc(2 * n, sizeof(*pairs));
	u64 t, e1, e2, n4k = n * 4;
	u64 *hpa4k = calloc(n4k, sizeof(*hpa4k));

	if (!hpa || !sept || !pairs || !hpa4k)
		err(1, "calloc");
	sept_tables(b, GPA_BASE, n * SZ_2M, TDX_PS_2M);
	for (u64 i = 0; i < n; i++) {
		hpa[i] = alloc(b->sim, TDX_PS_2M);
		sept[i] = alloc(b->sim, TDX_PS_4K);
		ensure_pair(b->sim, sept[i]);
		pairs[2 * i] = alloc(b->sim, TDX_PS_4K);
		pairs[2 * i + 1] = alloc(b->sim, TDX_PS_4K);
	}
	printf("libtdxsim: ns per call (DPAMT %s)\n", b->dpamt ? "on" : "off");

	t = now_ns();
	for (u64 i = 0; i < n; i++)
		must(tdxsim_tdh_mem_page_aug(b->td, GPA_BASE + i * SZ_2M, TDX_PS_2M, hpa[i] >> 12, &e1, &e2),
		     "AUG 2M");
	report("TDH.MEM.PAGE.AUG (2M)", now_ns() - t, n);

	must(tdxsim_vcpu_enter(b->vcpu), "VP.ENTER");
	t = now_ns();
	for (u64 i = 0; i < n; i++)
		must(tdxsim_tdg_mem_page_accept(b->sim, b->vcpu->tdvpr_pa, GPA_BASE + i * SZ_2M, TDX_PS_2M),
		     "ACCEPT 2M");
	report("TDG.MEM.PAGE.ACCEPT (2M)", now_ns() - t, n);
	tdxsim_vcpu_exit(b->vcpu);

	t = now_ns();
	for (u64 i = 0; i < n; i++)
		must(tdxsim_tdh_mem_range_block(b->td, GPA_BASE + i * SZ_2M, TDX_PS_2M, &e1, &e2), "BLOCK");
	report("TDH.MEM.RANGE.BLOCK (2M)", now_ns() - t, n);

	t = now_ns();
	for (u64 i = 0; i < n; i++)
		must(tdxsim_tdh_mem_track(b->td), "TRACK");
	report("TDH.MEM.TRACK", now_ns() - t, n);

	t = now_ns();
	for (u64 i = 0; i < n; i++)
		must(tdxsim_tdh_mem_page_demote(b->td, GPA_BASE + i * SZ_2M, TDX_PS_2M, sept[i],
					 b->dpamt ? &pairs[2 * i] : NULL, &e1, &e2), "DEMOTE");
	report("TDH.MEM.PAGE.DEMOTE (2M, cold)", now_ns() - t, n);

	/* Merge back and split again: tables and PAMT pages are warm now. */
	for (u64 i = 0; i < n; i++)
		must(tdxsim_tdh_mem_range_block(b->td, GPA_BASE + i * SZ_2M, TDX_PS_2M, &e1, &e2),
		     "BLOCK NL");
	must(tdxsim_tdh_mem_track(b->td), "TRACK");
	t = now_ns();
	for (u64 i = 0; i < n; i++)
		must(tdxsim_tdh_mem_page_promote(b->td, GPA_BASE + i * SZ_2M, TDX_PS_2M, &sept[i],
					  &pairs[2 * i], &e1, &e2), "PROMOTE");
	report("TDH.MEM.PAGE.PROMOTE (2M)", now_ns() - t, n);
	for (u64 i = 0; i < n; i++) {
		sept[i] &= ~TDX_PAMT_REMOVAL_HINT;
		must(tdxsim_tdh_mem_range_block(b->td, GPA_BASE + i * SZ_2M, TDX_PS_2M, &e1, &e2),
		     "BLOCK");
	}
	must(tdxsim_tdh_mem_track(b->td), "TRACK");
	t = now_ns();
	for (u64 i = 0; i < n; i++)
		must(tdxsim_tdh_mem_page_demote(b->td, GPA_BASE + i * SZ_2M, TDX_PS_2M, sept[i],
					 b->dpamt ? &pairs[2 * i] : NULL, &e1, &e2), "DEMOTE");
	report("TDH.MEM.PAGE.DEMOTE (2M, warm)", now_ns() - t, n);

	/* 4K pieces: BLOCK n*4 of them, one TRACK, then REMOVE and WBINVD. */
	for (u64 i = 0; i < n4k; i++) {
		u64 gpa = GPA_BASE + (i / 4) * SZ_2M + (i % 4) * 4096;

		hpa4k[i] = hpa[i / 4] + (i % 4) * 4096;
		must(tdxsim_tdh_mem_range_block(b->td, gpa, TDX_PS_4K, &e1, &e2), "BLOCK 4K");
	}
	must(tdxsim_tdh_mem_track(b->td), "TRACK");
	t = now_ns();
	for (u64 i = 0; i < n4k; i++)
		must(tdxsim_tdh_mem_page_remove(b->td, GPA_BASE + (i / 4) * SZ_2M + (i % 4) * 4096,
					 TDX_PS_4K, &e1, &e2), "REMOVE 4K");
	report("TDH.MEM.PAGE.REMOVE (4K)", now_ns() - t, n4k);

	t = now_ns();
	for (u64 i = 0; i < n4k; i++)
		must(tdxsim_tdh_phymem_page_wbinvd_hkid(b->sim, b->td->hkid, hpa4k[i]), "WBINVD");
	report("TDH.PHYMEM.PAGE.WBINVD", now_ns() - t, n4k);

	/* And back: 4K AUG into the demoted ranges (pairs installed by DEMOTE). */
	t = now_ns();
	for (u64 i = 0; i < n4k; i++)
		must(tdxsim_tdh_mem_page_aug(b->td, GPA_BASE + (i / 4) * SZ_2M + (i % 4) * 4096, TDX_PS_4K,
				      hpa4k[i] >> 12, &e1, &e2), "AUG 4K");
	report("TDH.MEM.PAGE.AUG (4K)", now_ns() - t, n4k);

	free(hpa);
	free(sept);
	free(pairs);
	free(hpa4k);
}

/*
 * What tracing and fault rules cost a cheap leaf: TDH.MEM.TRACK with no sink
 * (the one-branch baseline), with the ring sink, with the text file sink, and
 * with a fault rule that never matches it.
 */
static void bench_overhead(struct bench *b, u64 n)
{
	struct tdxsim_fault_rule r;
	const char *what[] = { "tracing off", "ring sink on", "text file sink on",
			       "1 non-matching fault rule" };
	u64 t;

	printf("libtdxsim: TDH.MEM.TRACK cost by instrumentation\n");
	for (int mode = 0; mode < 4; mode++) {
		if (mode == 1)
			tdxsim_trace_ring(b->sim, 4096);
		if (mode == 2) {
			tdxsim_trace_ring(b->sim, 0);
			tdxsim_trace_open(b->sim, "/dev/null", TDXSIM_TRACE_TEXT);
		}
		if (mode == 3) {
			tdxsim_trace_close(b->sim);
			tdxsim_fault_rule_init(&r, TDH_MEM_PAGE_AUG, TDXSIM_FAULT_STATUS,
					       TDX_OPERAND_BUSY | TDX_OPERAND_ID_RCX);
			tdxsim_fault_add(b->sim, &r);
		}
		t = now_ns();
		for (u64 i = 0; i < n; i++)
			must(tdxsim_tdh_mem_track(b->td), "TRACK");
		report(what[mode], now_ns() - t, n);
	}
	tdxsim_fault_clear(b->sim);
}

/*
 * Map @gib GiB at 4K and report resident bytes per mapped page, counted from
 * @before (taken before tdxsim_create(): the PAMT is populated at create).
 */
static void bench_footprint(struct bench *b, u64 gib, long before)
{
	u64 pages = gib << 18, e1, e2, t;
	long after;

	sept_tables(b, GPA_BASE, gib << 30, TDX_PS_4K);
	t = now_ns();
	for (u64 i = 0; i < pages; i++) {
		u64 pa = alloc(b->sim, TDX_PS_4K);

		if (!(pa & (SZ_2M - 1)))
			ensure_pair(b->sim, pa);
		must(tdxsim_tdh_mem_page_aug(b->td, GPA_BASE + i * 4096, TDX_PS_4K, pa >> 12, &e1, &e2),
		     "AUG 4K");
	}
	after = rss_kib();
	printf("libtdxsim: %llu GiB TD mapped at 4K (%llu pages) in %.2f s, %.1f ns per AUG incl. host alloc\n",
	       (unsigned long long)gib, (unsigned long long)pages, (double)(now_ns() - t) / 1e9,
	       (double)(now_ns() - t) / (double)pages);
	printf("libtdxsim: resident memory of the simulator %+ld KiB = %.1f bytes per mapped 4K page "
	       "(S-EPT, PAMT of the whole TDMR, host page flags)\n",
	       after - before, (double)(after - before) * 1024.0 / (double)pages);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench-leaves [--calls N] [--gib G] [--no-dpamt]\n"
		   "  --calls N    2MB pages per timed loop (default 4096)\n"
		   "  --gib G      size of the fully mapped TD for the footprint run (default 64, 0 = skip)\n"
		   "  --no-dpamt   static PAMT\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "calls", required_argument, NULL, 'c' },
		{ "gib", required_argument, NULL, 'g' },
		{ "no-dpamt", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	u64 calls = 4096, gib = 64, st;
	struct tdxsim_config cfg;
	struct bench b = { 0 };
	long rss0;
	int c;

	tdxsim_config_init(&cfg);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			calls = strtoull(optarg, NULL, 0);
			break;
		case 'g':
			gib = strtoull(optarg, NULL, 0);
			break;
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
	b.dpamt = cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT;
	for (int run = 0; run < 2; run++) {
		u64 need = run == 0 ? calls * 3 * SZ_2M + (64ULL << 20) : (gib << 30) + (gib << 24) +
									  (64ULL << 20);

		if (run == 1 && !gib)
			break;
		cfg.mem_size = (need + (1ULL << 30) - 1) & ~((1ULL << 30) - 1);
		rss0 = rss_kib();
		b.sim = tdxsim_create(&cfg);
		if (!b.sim)
			err(1, "tdxsim_create");
		b.td = tdxsim_td_create(b.sim, &st);
		must(st, "td_create");
		b.vcpu = tdxsim_vcpu_create(b.td, &st);
		must(st, "vcpu_create");
		must(tdxsim_td_finalize(b.td), "FINALIZE");
		if (run == 0) {
			bench_calls(&b, calls);
			bench_overhead(&b, calls * 50);
		}
		else
			bench_footprint(&b, gib, rss0);
		tdxsim_destroy(b.sim);
		free(b.td);
	}
	return 0;
}
