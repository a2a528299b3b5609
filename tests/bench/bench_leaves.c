// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench-leaves: ns per call of the memory SEAMCALLs, and the module's memory
 * cost per mapped 4K page.  A benchmark, not a test: it asserts nothing about
 * time and is run by `meson test --benchmark` / `meson benchmark` or by hand.
 *
 * Phase 1 (--calls N): AUG/ACCEPT/BLOCK/TRACK/DEMOTE/REMOVE/WBINVD/PAMT.ADD/
 * PAMT.REMOVE/PROMOTE timed in loops of one leaf each.
 * Phase 2 (--gib G): map a G GiB TD fully at 4K and measure resident memory.
 * Phase 3 (--tib T, --td-gib G): create a T TiB simulator (time, VmRSS), map
 * a G GiB TD in it at 4K, and time page alloc, AUG 4K and REMOVE 4K there.
 *
 * Every figure of the closing table stands beside a floor measured in the
 * same run (the bare cost of the memory the call must write, or of the
 * locking any thread-safe allocator needs), so the ratio means something on
 * a noisy shared machine.  PASS/MISS against the target is information: the
 * benchmark never fails on timing.
 */
#include <err.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/wrappers.h>
#include <tdxsim/fault.h>
#include <tdxsim/trace.h>

#define GPA_BASE	0x40000000ULL
#define SZ_2M		0x200000ULL

/*
 * CPU time of this thread (page faults included), not wall time: on a
 * shared machine a preempted loop would otherwise count other sessions' time.
 */
static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

/* The closing table: each figure, its floor, its target. */
struct figure {
	const char *what, *unit;
	double val, floor;
	double target;		/* absolute, or a multiple of the floor when @per_floor */
	bool per_floor;
	bool have_floor;
};

static struct figure figs[16];
static unsigned int nr_figs;

static void figure(const char *what, const char *unit, double val, double floor,
		   bool have_floor, double target, bool per_floor)
{
	if (nr_figs < sizeof(figs) / sizeof(figs[0]))
		figs[nr_figs++] = (struct figure){ what, unit, val, floor, target, per_floor,
						   have_floor };
}

static void print_figures(void)
{
	char fl[32], tg[32];

	if (!nr_figs)
		return;
	printf("\n%-38s %12s %12s %14s  %s\n", "figure", "value", "floor", "target", "");
	for (unsigned int i = 0; i < nr_figs; i++) {
		struct figure *f = &figs[i];
		double limit = f->per_floor ? f->target * f->floor : f->target;

		if (f->have_floor)
			snprintf(fl, sizeof(fl), "%.1f", f->floor);
		else
			snprintf(fl, sizeof(fl), "-");
		if (f->per_floor)
			snprintf(tg, sizeof(tg), "<= %.0fx floor", f->target);
		else
			snprintf(tg, sizeof(tg), "<= %g", f->target);
		printf("%-38s %9.1f %-2s %12s %14s  %s", f->what, f->val, f->unit, fl, tg,
		       f->val <= limit ? "PASS" : "MISS");
		if (f->have_floor && f->floor > 0)
			printf("  (%.1fx floor)", f->val / f->floor);
		printf("\n");
	}
	printf("(informational: timings on a shared machine; the benchmark never fails on them)\n");
}

/*
 * Floor of a cold write of @bytes per item, @n items: a buffer larger than
 * the caches, faulted in, then evicted by writing another one, then written
 * item by item as the module writes entries, one 8-byte store each (a
 * memset would use streaming stores that skip reading the lines).  Returns
 * ns per item.
 */
static void evict_caches(void)
{
	size_t evict = 64ULL << 20;
	char *ev = malloc(evict);

	if (!ev)
		err(1, "malloc");
	memset(ev, 1, evict);
	__asm__ volatile("" : : "r"(ev) : "memory");
	free(ev);
}

/*
 * Floor of a cold write of @npages 4 KiB pages per item, each in its own
 * buffer as a DEMOTE's table and PAMT block are, @n items: 8-byte stores as
 * the module writes entries (a memset would use streaming stores that skip
 * reading the lines), caches evicted first.  @fresh: the buffers were never
 * touched, so each page is faulted in by the write (what a first DEMOTE
 * costs when its table and block come from fresh simulator memory).
 * Returns ns per item.
 */
static double cold_write_floor(unsigned int npages, u64 n, bool fresh)
{
	size_t total = n * 4096;
	u64 *buf[2], t;

	for (unsigned int k = 0; k < npages; k++) {
		buf[k] = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
		if (buf[k] == MAP_FAILED)
			err(1, "mmap");
		if (!fresh)
			memset(buf[k], 1, total);
	}
	evict_caches();
	t = now_ns();
	for (u64 i = 0; i < n; i++) {
		for (unsigned int k = 0; k < npages; k++) {
			u64 *p = buf[k] + i * 512;

			for (unsigned int j = 0; j < 512; j++)
				__atomic_store_n(&p[j], i | (u64)j << 12, __ATOMIC_RELAXED);
		}
	}
	t = now_ns() - t;
	for (unsigned int k = 0; k < npages; k++)
		munmap(buf[k], total);
	return (double)t / (double)n;
}

/*
 * Floor of the locking a 4K AUG or REMOVE must do: its uncontended locked
 * read-modify-writes, each on its own cache line, counted in the code with
 * Dynamic PAMT.  AUG: the TDR's PAMT walk (1GB, 2MB, 4K shared, and their
 * releases: 6), the new page's walk (1GB and 2MB shared, 4K exclusive,
 * released by a plain store: 5), op_state and S-EPT tree locks (4), the
 * S-EPT entry's lock, update and unlock (3), the call's sequence number, the
 * DPAMT and child counts, the statistics (4): 22.  REMOVE: the TDR walk (6),
 * the page's 2MB shared and 4K exclusive (3), then as AUG (11): 20.
 * Returns ns per group.
 */
#define LOCKED_OPS_AUG_4K	22
#define LOCKED_OPS_REMOVE_4K	20

static double locked_floor(unsigned int k, u64 n)
{
	static u64 line[LOCKED_OPS_AUG_4K][8] __attribute__((aligned(64)));
	u64 t = now_ns();

	for (u64 i = 0; i < n; i++) {
		for (unsigned int j = 0; j < k; j++)
			__atomic_fetch_add(&line[j][0], 1, __ATOMIC_ACQ_REL);
	}
	return (double)(now_ns() - t) / (double)n;
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
	t = now_ns() - t;
	report("TDH.MEM.PAGE.DEMOTE (2M, cold)", t, n);
	/*
	 * What a DEMOTE must write: 512 S-EPT entries and 512 PAMT entries,
	 * 8 B each, here into two pages of fresh simulator memory (its table,
	 * its range's 4K PAMT block).
	 */
	figure("DEMOTE 2M first (floor: 8K fresh)", "ns", (double)t / (double)n,
	       cold_write_floor(2, n, true), true, 3, true);

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
	evict_caches();
	t = now_ns();
	for (u64 i = 0; i < n; i++)
		must(tdxsim_tdh_mem_page_demote(b->td, GPA_BASE + i * SZ_2M, TDX_PS_2M, sept[i],
					 b->dpamt ? &pairs[2 * i] : NULL, &e1, &e2), "DEMOTE");
	t = now_ns() - t;
	report("TDH.MEM.PAGE.DEMOTE (2M, again, cache cold)", t, n);
	/* Its table and PAMT block are reused memory now, not in cache. */
	figure("DEMOTE 2M again (floor: 8K cold)", "ns", (double)t / (double)n,
	       cold_write_floor(2, n, false), true, 3, true);

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
 * @before (taken before tdxsim_create(), so that whatever create commits counts).
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
	       "(S-EPT, PAMT: static, the whole TDMR; dynamic, the mapped ranges; host page flags)\n",
	       after - before, (double)(after - before) * 1024.0 / (double)pages);
}

/* Floor of a thread-safe page allocation: an uncontended lock, one flag update. */
static double alloc_floor(u64 n)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	unsigned char *flags = malloc(n);
	u64 t;

	if (!flags)
		err(1, "malloc");
	memset(flags, 2, n);	/* faulted in: not zero, or it could become a calloc */
	t = now_ns();
	for (u64 i = 0; i < n; i++) {
		pthread_mutex_lock(&m);
		__atomic_fetch_or(&flags[i], 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&m);
	}
	t = now_ns() - t;
	free(flags);
	return (double)t / (double)n;
}

/*
 * Floor of a 4K map or unmap: the two 8-byte entries it writes (S-EPT and
 * PAMT), in arrays of the TD's size, one page after the other.
 */
static double entries_floor(u64 n)
{
	u64 *sept = malloc(n * 8), *pamt = malloc(n * 8), t;

	if (!sept || !pamt)
		err(1, "malloc");
	memset(sept, 1, n * 8);	/* faulted in before the timing */
	memset(pamt, 1, n * 8);
	t = now_ns();
	for (u64 i = 0; i < n; i++) {
		__atomic_store_n(&sept[i], (i << 12) | 3, __ATOMIC_RELAXED);
		__atomic_store_n(&pamt[i], 0x0100000000000001ULL, __ATOMIC_RELAXED);
	}
	t = now_ns() - t;
	free(sept);
	free(pamt);
	return (double)t / (double)n;
}

/*
 * A @tib TiB simulator: creation time and resident memory; then a @gib GiB
 * TD in it mapped at 4K, with page alloc, AUG 4K and REMOVE 4K timed over all
 * its pages, and its resident cost per mapped page.
 */
static void bench_scale(struct tdxsim_config cfg, u64 tib, u64 gib)
{
	u64 pages = gib << 18, st, e1, e2, t, t_alloc, t_aug, t_remove;
	u64 *hpa = malloc(pages * sizeof(*hpa));
	struct bench b = { .dpamt = cfg.features0 & TDX_FEATURES0_DYNAMIC_PAMT };
	long rss0, rss1, rss2;
	double fl;

	if (!hpa)
		err(1, "malloc");
	/* Resident before the baseline (a zero memset after malloc may become calloc). */
	memset(hpa, 0xff, pages * sizeof(*hpa));
	cfg.mem_size = tib << 40;
	rss0 = rss_kib();
	t = now_ns();
	b.sim = tdxsim_create(&cfg);
	if (!b.sim)
		err(1, "tdxsim_create (%llu TiB)", (unsigned long long)tib);
	t = now_ns() - t;
	rss1 = rss_kib();
	printf("libtdxsim: %llu TiB simulator (DPAMT %s) created in %.3f s, %+ld KiB resident\n",
	       (unsigned long long)tib, b.dpamt ? "on" : "off", (double)t / 1e9, rss1 - rss0);
	figure("create 1 TiB simulator: time", "ms", (double)t / 1e6, 0, false, 500, false);
	figure("create 1 TiB simulator: VmRSS", "MB", (double)(rss1 - rss0) / 1024.0, 0, false,
	       64, false);
	if (!gib)
		goto out;

	b.td = tdxsim_td_create(b.sim, &st);
	must(st, "td_create");
	b.vcpu = tdxsim_vcpu_create(b.td, &st);
	must(st, "vcpu_create");
	must(tdxsim_td_finalize(b.td), "FINALIZE");
	sept_tables(&b, GPA_BASE, gib << 30, TDX_PS_4K);

	t = now_ns();
	for (u64 i = 0; i < pages; i++)
		hpa[i] = alloc(b.sim, TDX_PS_4K);
	t_alloc = now_ns() - t;
	for (u64 i = 0, last = 0; i < pages; i++) {
		if ((hpa[i] & ~(SZ_2M - 1)) != last)
			ensure_pair(b.sim, hpa[i]);
		last = hpa[i] & ~(SZ_2M - 1);
	}

	t = now_ns();
	for (u64 i = 0; i < pages; i++)
		must(tdxsim_tdh_mem_page_aug(b.td, GPA_BASE + i * 4096, TDX_PS_4K, hpa[i] >> 12,
					     &e1, &e2), "AUG 4K");
	t_aug = now_ns() - t;
	rss2 = rss_kib();

	for (u64 i = 0; i < pages; i++)
		must(tdxsim_tdh_mem_range_block(b.td, GPA_BASE + i * 4096, TDX_PS_4K, &e1, &e2),
		     "BLOCK 4K");
	must(tdxsim_tdh_mem_track(b.td), "TRACK");
	t = now_ns();
	for (u64 i = 0; i < pages; i++)
		must(tdxsim_tdh_mem_page_remove(b.td, GPA_BASE + i * 4096, TDX_PS_4K, &e1, &e2),
		     "REMOVE 4K");
	t_remove = now_ns() - t;
	for (u64 i = 0; i < pages; i++) {
		must(tdxsim_tdh_phymem_page_wbinvd_hkid(b.sim, b.td->hkid, hpa[i]), "WBINVD");
		if (tdxsim_page_free(b.sim, hpa[i], TDX_PS_4K))
			errx(1, "page free");
	}

	/* Floors last: their buffers must not count in the resident figure. */
	fl = alloc_floor(pages);
	printf("libtdxsim: %llu GiB TD at 4K in it: page alloc %.1f ns (floor %.1f)\n",
	       (unsigned long long)gib, (double)t_alloc / (double)pages, fl);
	figure("page alloc 4K (floor: lock + flag)", "ns", (double)t_alloc / (double)pages, fl,
	       true, 30, false);
	fl = entries_floor(pages) + locked_floor(LOCKED_OPS_AUG_4K, pages);
	printf("libtdxsim: AUG 4K %.1f ns (floor %.1f); %.1f bytes resident per mapped 4K page\n",
	       (double)t_aug / (double)pages, fl, (double)(rss2 - rss1) * 1024.0 / (double)pages);
	figure("AUG 4K (floor: 2 entries+22 locks)", "ns", (double)t_aug / (double)pages, fl, true,
	       100, false);
	fl = entries_floor(pages) + locked_floor(LOCKED_OPS_REMOVE_4K, pages);
	printf("libtdxsim: REMOVE 4K %.1f ns (floor %.1f)\n", (double)t_remove / (double)pages, fl);
	figure("REMOVE 4K (floor: 2 entries+20 locks)", "ns", (double)t_remove / (double)pages, fl,
	       true, 100, false);
	/* Floor of the footprint: the S-EPT entry and the PAMT entry of the page. */
	figure("resident per mapped 4K page", "B", (double)(rss2 - rss1) * 1024.0 / (double)pages,
	       16, true, 24, false);
out:
	tdxsim_destroy(b.sim);
	free(b.td);
	free(hpa);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench-leaves [--calls N] [--gib G] [--tib T] [--td-gib G] [--no-dpamt]\n"
		   "  --calls N    2MB pages per timed loop (default 4096)\n"
		   "  --gib G      size of the fully mapped TD for the footprint run (default 64, 0 = skip)\n"
		   "  --tib T      size of the simulator of the scale run (default 1, 0 = skip;\n"
		   "               with --no-dpamt it runs only when given)\n"
		   "  --td-gib G   TD mapped at 4K in the scale run (default 4, 0 = create only)\n"
		   "  --no-dpamt   static PAMT\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "calls", required_argument, NULL, 'c' },
		{ "gib", required_argument, NULL, 'g' },
		{ "no-dpamt", no_argument, NULL, 'n' },
		{ "tib", required_argument, NULL, 't' },
		{ "td-gib", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	u64 calls = 4096, gib = 64, tib = 1, td_gib = 4, st;
	bool tib_set = false;
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
		case 't':
			tib = strtoull(optarg, NULL, 0);
			tib_set = true;
			break;
		case 'd':
			td_gib = strtoull(optarg, NULL, 0);
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
	/* Static PAMT populates 8 B per 4K page at create: 2 GiB for 1 TiB. */
	if (tib && !b.dpamt && !tib_set)
		printf("libtdxsim: scale run skipped with static PAMT (pass --tib to run it)\n");
	else if (tib)
		bench_scale(cfg, tib, td_gib);
	print_figures();
	return 0;
}
