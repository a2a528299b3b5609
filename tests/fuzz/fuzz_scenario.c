// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz-scenario: libFuzzer target over the scenario parser
 * (tdxsim_scenario_parse(), <tdxsim-kvm/scenario.h>).  The input is the
 * file's bytes, any bytes.  Oracles:
 *  - success: every command has its table entry, an argument array of the
 *    table's size, a location inside the input (line <= lines parsed,
 *    col >= 1), blocks only under guest/thread, and a body's commands
 *    allowed there; the header strings are printable;
 *  - failure: -EINVAL or -EAGAIN (never another value for in-memory
 *    input), *out NULL, and one line "fuzz.tdx:LINE:COL: expected ..., got
 *    ..." (or a fault-rule message after "got '...': "), NUL-terminated
 *    inside the buffer, without control characters, with LINE no larger
 *    than the input's line count + 1.
 * Nothing runs: the interpreter is not fuzzed here.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tdxsim-kvm/scenario.h>

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz-scenario: ORACLE FAILED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void check_printable(const char *s, const char *what)
{
	for (; s && *s; s++) {
		if (!isprint((unsigned char)*s))
			fail("%s has byte 0x%02x", what, (unsigned char)*s);
	}
}

static void check_block(const struct tdxsim_scn_block *b, unsigned int where, unsigned int lines)
{
	for (size_t i = 0; i < b->nr; i++) {
		const struct tdxsim_scn_cmd *c = &b->cmds[i];

		if (!c->info || c->info != &tdxsim_scn_commands[c->info->id])
			fail("command %zu has no table entry", i);
		if (!(c->info->where & where))
			fail("`%s` where it is not allowed", c->info->name);
		if (c->loc.line < 1 || c->loc.line > lines || c->loc.col < 1)
			fail("`%s` at %u:%u of %u lines", c->info->name, c->loc.line, c->loc.col, lines);
		if (c->info->nr_args && !c->args)
			fail("`%s` without its arguments", c->info->name);
		for (unsigned int a = 0; a < c->info->nr_args; a++) {
			const struct tdxsim_scn_arg_info *ai = &c->info->args[a];

			if (ai->kind == TDXSIM_SCN_POS && !ai->def && !c->args[a].given)
				fail("`%s` without its required %s", c->info->name, ai->name);
			if ((c->args[a].given || ai->def) && !c->args[a].text)
				fail("`%s` %s has no text", c->info->name, ai->name);
		}
		if (c->has_ret && !c->info->returns)
			fail("`%s` has a result but takes none", c->info->name);
		if (!!c->body != c->info->body_block)
			fail("`%s` body mismatch", c->info->name);
		if (c->body)
			check_block(c->body, c->info->id == TDXSIM_CMD_GUEST ? TDXSIM_SCN_GUEST :
				    c->info->id == TDXSIM_CMD_THREAD ? TDXSIM_SCN_THREAD :
				    TDXSIM_SCN_TOP, lines);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdxsim_scenario *scn = (void *)1;
	char err[160];
	unsigned int lines = 1, line, col;
	const char *nul;
	int r;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	memset(err, 'X', sizeof(err));
	r = tdxsim_scenario_parse("fuzz.tdx", (const char *)data, size, &scn, err, sizeof(err));
	if (!r) {
		if (!scn)
			fail("success without a scenario");
		check_printable(scn->title, "title");
		check_printable(scn->id, "id");
		check_printable(scn->thread_ref, "thread reference");
		check_block(&scn->top, TDXSIM_SCN_TOP, lines);
		tdxsim_scenario_free(scn);
		return 0;
	}
	if (scn)
		fail("failure (%d) left *out set", r);
	if (r != -EINVAL && r != -EAGAIN)
		fail("returned %d", r);
	nul = memchr(err, '\0', sizeof(err));
	if (!nul)
		fail("message not terminated inside the buffer");
	check_printable(err, "message");
	if (sscanf(err, "fuzz.tdx:%u:%u: expected ", &line, &col) != 2 || !strstr(err, ": expected "))
		fail("message not FILE:LINE:COL: expected ...: '%s'", err);
	if (line < 1 || line > lines || col < 1)
		fail("message at %u:%u of %u lines: '%s'", line, col, lines, err);
	/* a message cut by the buffer may lose its ", got"; a whole one has it */
	if ((size_t)(nul - err) < sizeof(err) - 1 && !strstr(err, ", got"))
		fail("message says nothing of what it got: '%s'", err);
	return 0;
}
