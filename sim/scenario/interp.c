// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scenario interpreter.  This first slice has the parser only: running
 * needs the VM runtime (<tdxsim-kvm/vm.h>, sim/vmm), which lands next; until
 * then every run is an error, never a pass.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tdxsim-kvm/scenario.h>

const char *tdxsim_scn_outcome_name(enum tdxsim_scn_outcome o)
{
	static const char *const n[] = { "pass", "FAIL", "skip", "ERROR" };

	return o <= TDXSIM_SCN_ERROR ? n[o] : "?";
}

void tdxsim_scenario_run(const struct tdxsim_scenario *scn, const struct tdxsim_scn_opts *opts,
			 struct tdxsim_scn_result *res)
{
	memset(res, 0, sizeof(*res));
	res->outcome = TDXSIM_SCN_ERROR;
	snprintf(res->msg, sizeof(res->msg), "%s: the interpreter needs the VM runtime (sim/vmm)",
		 scn->file);
	if (opts && opts->log)
		fprintf(opts->log, "%s\n", res->msg);
}
