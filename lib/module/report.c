// SPDX-License-Identifier: GPL-2.0-only
/*
 * TDXSIM_REPORT=FILE: when a simulator is destroyed, append one line that
 * says how its run ended, so that a program run many times under fault
 * injection (tdxsim failnth) can be judged from outside without changing it:
 *
 *   tdxsim-report v1 pid=P pages_in_use=N violations=N faults_fired=N
 *       allocs=N seamcall=LEAF:N,... tdcall=LEAF:N,...
 *
 * (one line).  pages_in_use counts pages the host still holds, module-owned
 * ones included; violations is what tdxsim_check() finds; allocs and the
 * per-leaf call counts bound the nth= of a rule that reaches every call.
 * Opt-in and written only to the named file: the library prints nothing else.
 */
#include <unistd.h>

#include "tdxsim-internal.h"

static void report_calls(FILE *f, struct tdxsim *sim, const char *key,
			 int (*get)(struct tdxsim *, unsigned int, struct tdxsim_leaf_stats *))
{
	const char *sep = "";

	fprintf(f, " %s=", key);
	for (unsigned int leaf = 0; leaf < TDX_NR_LEAVES; leaf++) {
		struct tdxsim_leaf_stats st;

		if (get(sim, leaf, &st) || !st.calls)
			continue;
		fprintf(f, "%s%u:%llu", sep, leaf, (unsigned long long)st.calls);
		sep = ",";
	}
	if (!*sep)
		fputc('-', f);
}

void report_at_destroy(struct tdxsim *sim)
{
	const char *path = getenv("TDXSIM_REPORT");
	FILE *f;
	int nr;

	if (!path || !*path)
		return;
	f = fopen(path, "a");
	if (!f)
		return;
	nr = tdxsim_check(sim, NULL);
	fprintf(f, "tdxsim-report v1 pid=%ld pages_in_use=%llu violations=%d faults_fired=%llu "
		"allocs=%llu", (long)getpid(), (unsigned long long)tdxsim_pages_in_use(sim), nr,
		(unsigned long long)tdxsim_fault_fired_total(sim),
		(unsigned long long)tdxsim_page_allocs(sim));
	report_calls(f, sim, "seamcall", tdxsim_stats_leaf);
	report_calls(f, sim, "tdcall", tdxsim_stats_tdcall);
	fputc('\n', f);
	fclose(f);
}
