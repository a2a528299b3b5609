/* SPDX-License-Identifier: GPL-2.0-only */
/* tdxsim run / shell (tools/run.c, tools/shell.c). */
#ifndef TDXSIM_TOOLS_RUN_H
#define TDXSIM_TOOLS_RUN_H

#include <stdio.h>

int tdxsim_cmd_run(int argc, char **argv);
int tdxsim_cmd_shell(int argc, char **argv);
void tdxsim_run_print_doc(FILE *f);

#endif /* TDXSIM_TOOLS_RUN_H */
