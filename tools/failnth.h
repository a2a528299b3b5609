/* SPDX-License-Identifier: GPL-2.0-only */
/* Subcommands of the tdxsim CLI that live in their own file. */
#ifndef TDXSIM_TOOLS_FAILNTH_H
#define TDXSIM_TOOLS_FAILNTH_H

/* tdxsim failnth [options] -- PROGRAM [ARGS...]; argv[0] is "failnth". */
int cmd_failnth(int argc, char **argv);

#endif /* TDXSIM_TOOLS_FAILNTH_H */
