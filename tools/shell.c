// SPDX-License-Identifier: GPL-2.0-only
/*
 * tdxsim shell: the scenario language typed in.  Each line (or block, once
 * its `end` is typed) runs at once; the result and the state around it are
 * printed.  The session is parsed as one growing file, so line numbers,
 * marks and "config before the VM" work as in a file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tdxsim-kvm/scenario.h>

#include "run.h"

static void help(const char *what)
{
	char syn[512];

	while (what && *what == ' ')
		what++;
	if (what && *what) {
		const struct tdxsim_scn_cmd_info *ci = tdxsim_scn_command_find(what);
		char name[64];

		if (!ci) {
			snprintf(name, sizeof(name), "expect %s", what);
			ci = tdxsim_scn_command_find(name);
		}
		if (!ci) {
			printf("no command '%s' (help lists them)\n", what);
			return;
		}
		printf("%s\n  %s.", tdxsim_scn_synopsis(ci, syn, sizeof(syn)), ci->summary);
		if (ci->help[0])
			printf(" %s", ci->help);
		printf("\n");
		for (unsigned int i = 0; i < ci->nr_args; i++)
			printf("  %-14s %s%s%s%s\n", ci->args[i].name, ci->args[i].help,
			       ci->args[i].def ? " (default " : "",
			       ci->args[i].def ? ci->args[i].def : "", ci->args[i].def ? ")" : "");
		printf("  example: %s\n", ci->example);
		return;
	}
	for (int g = 0; g < TDXSIM_GRP_NR; g++) {
		printf("%s:\n", tdxsim_scn_group_name((enum tdxsim_scn_group)g));
		for (int i = 0; i < TDXSIM_CMD_NR; i++) {
			const struct tdxsim_scn_cmd_info *ci = &tdxsim_scn_commands[i];

			if ((int)ci->group == g)
				printf("  %-22s %s\n", ci->name, ci->summary);
		}
	}
	printf("shell:\n  %-22s %s\n  %-22s %s\n  %-22s %s\n", "help [NAME]",
	       "this list, or one command in full (help map, help expect calls)",
	       "state [GPA]", "the mirror and S-EPT at GPA, the counters", "quit",
	       "leave (also end of input)");
}

struct session {
	char *text;
	size_t len, cap;
	struct tdxsim_scenario **parsed;	/* kept: the run refers to their commands */
	size_t nr_parsed;
};

static int append(struct session *s, const char *line)
{
	size_t n = strlen(line);

	if (s->len + n + 2 > s->cap) {
		size_t cap = (s->len + n + 2) * 2;
		char *t = realloc(s->text, cap);

		if (!t)
			return -ENOMEM;
		s->text = t;
		s->cap = cap;
	}
	memcpy(s->text + s->len, line, n);
	s->len += n;
	if (!n || line[n - 1] != '\n')
		s->text[s->len++] = '\n';
	s->text[s->len] = '\0';
	return 0;
}

/*
 * A line that is not the language's (help, state, a dropped bad line) stays
 * in the session as a blank line: messages then name the line as typed.
 */
static void keep_numbering(struct session *s, size_t *committed, unsigned int lines)
{
	while (lines--)
		append(s, "\n");
	*committed = s->len;
}

int tdxsim_cmd_shell(int argc, char **argv)
{
	struct tdxsim_scn_opts so = { .log = stdout, .keep_going = true, .last_events = 6,
				      .full_trace = true };
	struct session s = { 0 };
	struct tdxsim_scn_run *run = NULL;
	struct tdxsim_scn_result res;
	bool tty = isatty(0);
	size_t committed = 0, done = 0, cap = 0;
	char *line = NULL;
	ssize_t n;

	if (argc > 1) {
		bool h = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");

		fprintf(h ? stdout : stderr,
			"usage: tdxsim shell\n\nThe scenario language (doc/scenario.md) typed in: "
			"each command runs when entered;\n`help` lists the commands, `quit` leaves.  "
			"Exit code: 0, or 1 if an expectation\nfailed during the session.\n");
		return h ? 0 : 2;
	}
	if (tty)
		printf("tdxsim shell: the scenario language, one command a line (help, quit)\n");
	for (;;) {
		struct tdxsim_scenario *scn;
		char err[512], *l;
		int r;

		if (tty) {
			printf(s.len > committed ? "...> " : "tdxsim> ");
			fflush(stdout);
		}
		n = getline(&line, &cap, stdin);
		if (n < 0)
			break;
		l = line + strspn(line, " \t");
		l[strcspn(l, "\r\n")] = '\0';
		if (!tty && *l)
			printf("> %s\n", l);	/* a transcript reads like a session */
		if (s.len == committed) {
			if (!strcmp(l, "quit") || !strcmp(l, "exit"))
				break;
			if (!strcmp(l, "help") || !strncmp(l, "help ", 5)) {
				help(l + 4);
				keep_numbering(&s, &committed, 1);
				continue;
			}
			if (!strcmp(l, "state") || !strncmp(l, "state ", 6)) {
				char *end;
				unsigned long long gpa = l[5] ? strtoull(l + 6, &end, 0) : ~0ULL;

				if (run)
					tdxsim_scn_run_state(run, gpa, stdout);
				else
					printf("  no VM yet\n");
				keep_numbering(&s, &committed, 1);
				continue;
			}
		}
		if (append(&s, line))
			break;
		r = tdxsim_scenario_parse("<stdin>", s.text, s.len, &scn, err, sizeof(err));
		if (r == -EAGAIN)
			continue;		/* a block is open: read on */
		if (r) {
			unsigned int dropped = 0;

			printf("%s\n", err);
			for (size_t i = committed; i < s.len; i++)
				dropped += s.text[i] == '\n';
			s.len = committed;	/* drop the bad line (or block) */
			s.text[s.len] = '\0';
			keep_numbering(&s, &committed, dropped);
			continue;
		}
		committed = s.len;
		{
			struct tdxsim_scenario **p = realloc(s.parsed, (s.nr_parsed + 1) * sizeof(*p));

			if (!p) {
				tdxsim_scenario_free(scn);
				break;
			}
			s.parsed = p;
			s.parsed[s.nr_parsed++] = scn;
		}
		if (!run && !(run = tdxsim_scn_run_create(s.parsed[0], &so)))
			break;
		for (; done < scn->top.nr; done++) {
			const struct tdxsim_scn_cmd *c = &scn->top.cmds[done];

			r = tdxsim_scn_run_exec(run, c);
			if (r == -ECANCELED) {
				printf("  (not run: the session stopped at a skip or an error; quit)\n");
				continue;
			}
			if (r)
				continue;	/* the message is printed */
			if (c->info->group == TDXSIM_GRP_EXPECT)
				printf("  ok\n");
			else if (c->info->id != TDXSIM_CMD_CONFIG && c->info->id != TDXSIM_CMD_DEFECT &&
				 c->info->id != TDXSIM_CMD_GUEST && c->info->id != TDXSIM_CMD_THREAD &&
				 c->info->id != TDXSIM_CMD_INJECT && c->info->id != TDXSIM_CMD_MARK)
				tdxsim_scn_run_state(run, c->info->nr_args &&
						     c->info->args[0].type == TDXSIM_SCN_GPA ?
						     c->args[0].u : ~0ULL, stdout);
		}
	}
	if (s.len > committed)
		printf("<stdin>: the last block was not closed with `end`: not run\n");
	memset(&res, 0, sizeof(res));
	if (run)
		tdxsim_scn_run_finish(run, &res);
	for (size_t i = 0; i < s.nr_parsed; i++)
		tdxsim_scenario_free(s.parsed[i]);
	free(s.parsed);
	free(s.text);
	free(line);
	if (tty)
		printf("\n");
	return res.outcome == TDXSIM_SCN_FAIL ? 1 : res.outcome == TDXSIM_SCN_ERROR ? 2 : 0;
}
