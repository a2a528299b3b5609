// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scenario parser (sim/scenario/parse.c) and its command table: every
 * example of the table parses to its own command; defaults apply; values,
 * header and locations come out as written; blocks nest their commands;
 * the errors carry FILE:LINE:COL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim-kvm/scenario.h>

static struct tdxsim_scenario *parse_ok(const char *text)
{
	struct tdxsim_scenario *scn = NULL;
	char err[512];
	int r = tdxsim_scenario_parse("t.tdx", text, strlen(text), &scn, err, sizeof(err));

	if (r)
		fail_msg("parse failed (%d): %s\n--- input:\n%s", r, err, text);
	return scn;
}

static int parse_err(const char *text, char *err, size_t len)
{
	struct tdxsim_scenario *scn = NULL;
	int r = tdxsim_scenario_parse("t.tdx", text, strlen(text), &scn, err, len);

	assert_null(scn);
	return r;
}

/* Each command's example, alone in a file (guest ops in a guest block). */
static void test_examples_parse(void **state)
{
	for (int i = 0; i < TDXSIM_CMD_NR; i++) {
		const struct tdxsim_scn_cmd_info *ci = &tdxsim_scn_commands[i];
		struct tdxsim_scenario *scn;
		const struct tdxsim_scn_cmd *c;
		char text[512];

		assert_int_equal(ci->id, i);
		if (ci->id == TDXSIM_CMD_END)
			continue;
		if (ci->where == TDXSIM_SCN_GUEST)
			snprintf(text, sizeof(text), "guest 0\n%s\nend\n", ci->example);
		else if (ci->group == TDXSIM_GRP_CONFIG)
			snprintf(text, sizeof(text), "%s\n", ci->example);
		else if (ci->body_block)
			snprintf(text, sizeof(text), "%s\nend\n", ci->example);
		else if (ci->id == TDXSIM_CMD_MARK)
			snprintf(text, sizeof(text), "%s\n", ci->example);
		else
			snprintf(text, sizeof(text), "mark before-split\nmark after-split\n%s\n",
				 ci->example);
		scn = parse_ok(text);
		c = &scn->top.cmds[scn->top.nr - 1];
		if (ci->where == TDXSIM_SCN_GUEST) {
			assert_non_null(c->body);
			assert_int_equal(c->body->nr, 1);
			c = &c->body->cmds[0];
		}
		if (c->info != ci)
			fail_msg("example of `%s` parsed as `%s`", ci->name, c->info->name);
		tdxsim_scenario_free(scn);
	}
}

static void test_values_and_defaults(void **state)
{
	struct tdxsim_scenario *scn = parse_ok(
		"# S13a: honour the guest's ACCEPT level, flow a\n"
		"# thread: 003 P12 2208-2323\n"
		"\n"
		"config mem=2G design=upstream dpamt=off vcpus=2 features=-enhanced_demote_interruptibility\n"
		"memslot 3 gpa=0x4000_0000 size=16M folios=2m\n"
		"split 0x40000000   # size and level defaulted\n"
		"convert 0x40005000 size=8K shared => -ENOMEM\n"
		"punch 0x40200000 => -EINVAL\n"
		"expect status demote#2 = TDX_OPERAND_BUSY|SEPT\n"
		"expect calls TDH.MEM.PAGE.AUG >= 3\n");
	const struct tdxsim_scn_cmd *c = scn->top.cmds;

	assert_string_equal(scn->id, "S13a");
	assert_string_equal(scn->title, "honour the guest's ACCEPT level, flow a");
	assert_string_equal(scn->thread_ref, "003 P12 2208-2323");
	assert_int_equal(scn->top.nr, 7);

	assert_int_equal(c[0].info->id, TDXSIM_CMD_CONFIG);
	assert_int_equal(c[0].args[0].u, 2ULL << 30);		/* mem */
	assert_int_equal(c[0].args[1].u, 1);			/* design: upstream */
	assert_int_equal(c[0].args[2].u, 0);			/* dpamt off */
	assert_true(c[0].args[3].u == 1 && !c[0].args[3].given);	/* tdx_huge_page default */
	assert_int_equal(c[0].args[4].u, 2);
	assert_int_equal(c[0].args[6].i, (s64)TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY);
	assert_int_equal(c[0].loc.line, 4);

	assert_int_equal(c[1].args[0].u, 3);
	assert_int_equal(c[1].args[1].u, 0x40000000);
	assert_int_equal(c[1].args[2].u, 16ULL << 20);
	assert_int_equal(c[1].args[5].u, 2);			/* folios=2m */
	assert_int_equal(c[1].args[1].loc.col, 15);

	assert_int_equal(c[2].args[1].u, 2ULL << 20);		/* size default 2M */
	assert_int_equal(c[2].args[2].u, 1);			/* level default 4k */
	assert_false(c[2].args[1].given);

	assert_int_equal(c[3].args[0].u, 0x40005000);
	assert_int_equal(c[3].args[1].u, 0);			/* shared */
	assert_int_equal(c[3].args[2].u, 8192);
	assert_true(c[3].has_ret);
	assert_int_equal(c[3].ret.i, -ENOMEM);

	/* defaults apply after "=> RESULT" too (fuzz-scenario found them skipped) */
	assert_int_equal(c[4].args[1].u, 2ULL << 20);
	assert_string_equal(c[4].args[1].text, "2M");
	assert_int_equal(c[4].ret.i, -EINVAL);
	c++;

	assert_int_equal(c[4].args[0].nth, 2);
	assert_string_equal(tdxsim_leaf_name(c[4].args[0].leaf), "TDH.MEM.PAGE.DEMOTE");
	assert_int_equal(c[4].args[2].u, TDX_OPERAND_BUSY | TDX_OPERAND_ID_SEPT);
	assert_int_equal(c[5].args[1].u, TDXSIM_OP_GE);
	assert_int_equal(c[5].args[2].u, 3);
	tdxsim_scenario_free(scn);
}

/* Every errno the scenarios return has a name (S27e's teardown: -131). */
static void test_errno_names(void **state)
{
	struct tdxsim_scenario *scn = parse_ok("teardown => -ENOTRECOVERABLE\n");

	assert_true(scn->top.cmds[0].has_ret);
	assert_int_equal(scn->top.cmds[0].ret.i, -ENOTRECOVERABLE);
	tdxsim_scenario_free(scn);
}

static void test_blocks(void **state)
{
	struct tdxsim_scenario *scn = parse_ok(
		"guest 1\n"
		"  access 0x40000000 write\n"
		"  accept 0x40000000 2m fallback => TDX_PAGE_SIZE_MISMATCH\n"
		"  spin\n"
		"end\n"
		"thread t1\n"
		"  convert 0x40000000 private\n"
		"  mark t1-done\n"
		"end\n"
		"run\n");
	const struct tdxsim_scn_cmd *g = &scn->top.cmds[0], *t = &scn->top.cmds[1];

	assert_int_equal(scn->top.nr, 3);
	assert_int_equal(g->info->id, TDXSIM_CMD_GUEST);
	assert_int_equal(g->body->nr, 3);
	assert_int_equal(g->body->cmds[0].args[1].u, 1);	/* write */
	assert_int_equal(g->body->cmds[1].args[1].u, 2);	/* PG_LEVEL_2M */
	assert_true(g->body->cmds[1].args[2].given);		/* fallback */
	assert_true(g->body->cmds[1].has_ret);
	assert_int_equal(g->body->cmds[2].args[0].u, 1);	/* spin default 1 */
	assert_int_equal(t->info->id, TDXSIM_CMD_THREAD);
	assert_int_equal(t->body->nr, 2);
	assert_int_equal(t->body->cmds[0].info->id, TDXSIM_CMD_CONVERT);
	assert_int_equal(scn->top.cmds[2].info->id, TDXSIM_CMD_RUN);
	tdxsim_scenario_free(scn);
}

static void test_errors(void **state)
{
	char err[256], small[24];

	assert_int_equal(parse_err("map 0x1000\n  split 0x2000 level=3m\n", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.tdx:2:22: expected a level: 4k, 2m or 1g, got '3m'");
	assert_int_equal(parse_err("guest 0\n", err, sizeof(err)), -EAGAIN);
	assert_int_equal(parse_err("end\n", err, sizeof(err)), -EINVAL);
	/* Cut to the buffer, always terminated. */
	assert_int_equal(parse_err("mapp\n", small, sizeof(small)), -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(parse_err("mapp\n", NULL, 0), -EINVAL);
	/* "#" inside a word is not a comment; at a word start it is. */
	assert_int_equal(parse_err("expect status demote #2 = TDX_SUCCESS\n", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.tdx:1:22: expected OP (= or !=) after `expect status`, "
			    "got the end of the line");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples_parse),
		cmocka_unit_test(test_values_and_defaults),
		cmocka_unit_test(test_errno_names),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
