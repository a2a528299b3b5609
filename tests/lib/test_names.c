// SPDX-License-Identifier: GPL-2.0-only
/*
 * The leaf table and the status table: the dispatchers accept exactly the
 * leaves the table names, every leaf's fault name reaches that leaf, the CLI
 * knows every leaf, and every status and operand name maps to its value and
 * back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <tdxsim/fault.h>
#include <tdxsim/trace.h>

#include "harness.h"

#define RAX_INVALID	(TDX_OPERAND_INVALID | TDX_OPERAND_ID_RAX)

static bool seamcall_accepted(struct tdxsim *sim, u64 rax)
{
	struct tdx_module_args a = { 0 };

	return tdxsim_seamcall(sim, rax, &a) != RAX_INVALID;
}

/* Every SEAMCALL leaf number, and one past the table: accepted iff named. */
static void test_dispatcher_accepts_table(void **state)
{
	struct fixture *fx = *state;

	for (unsigned int leaf = 0; leaf <= TDX_NR_LEAVES; leaf++) {
		const struct tdxsim_leaf_info *li = tdxsim_leaf_info(leaf);
		bool accepted = seamcall_accepted(fx->sim, leaf);

		if (accepted != !!li)
			fail_msg("leaf %u: dispatcher %s it, table %s it", leaf,
				 accepted ? "accepts" : "rejects", li ? "names" : "lacks");
		if (!li)
			continue;
		assert_int_equal(li->leaf, leaf);
		assert_false(li->tdcall);
		assert_non_null(li->fault_name);
		assert_int_equal(strncmp(li->name, "TDH.", 4), 0);
		assert_ptr_equal(tdxsim_leaf_name(leaf), li->name);
		assert_in_range(li->nr_operands, 1, TDXSIM_LEAF_MAX_OPERANDS);
		for (unsigned int i = 0; i < li->nr_operands; i++) {
			assert_non_null(li->operands[i].name);
			assert_non_null(tdxsim_operand_name(li->operands[i].reg));
		}
		/* The highest version is accepted, the next one is not. */
		assert_true(seamcall_accepted(fx->sim, leaf | (u64)li->max_version << 16));
		if (seamcall_accepted(fx->sim, leaf | (u64)(li->max_version + 1) << 16))
			fail_msg("%s: version %u accepted, table says %u at most", li->name,
				 li->max_version + 1, li->max_version);
	}
}

/* The same for TDCALL leaves, from a vCPU in guest mode. */
static void test_tdcall_dispatcher_accepts_table(void **state)
{
	struct fixture *fx = *state;

	for (unsigned int leaf = 0; leaf <= TDX_NR_LEAVES; leaf++) {
		const struct tdxsim_leaf_info *li = tdxsim_tdcall_leaf_info(leaf);
		struct tdx_module_args a = { 0 };
		bool accepted;

		if (!tdxsim_vcpu_in_guest(fx->vcpu))
			fx_enter(fx);
		accepted = tdxsim_tdcall(fx->sim, fx->vcpu->tdvpr_pa, leaf, &a) != RAX_INVALID;
		if (accepted != !!li)
			fail_msg("TDCALL leaf %u: dispatcher %s it, table %s it", leaf,
				 accepted ? "accepts" : "rejects", li ? "names" : "lacks");
		if (!li)
			continue;
		assert_int_equal(li->leaf, leaf);
		assert_true(li->tdcall);
		assert_int_equal(strncmp(li->name, "TDG.", 4), 0);
		assert_ptr_not_equal(tdxsim_leaf_info(leaf), li);
	}
	tdxsim_vcpu_exit(fx->vcpu);
}

/* Iteration visits each entry once; names and fault names find it back. */
static void test_leaf_info_round_trip(void **state)
{
	const struct tdxsim_leaf_info *li, *lj;
	unsigned int n = 0, numbered = 0;
	char upper[32];

	(void)state;
	for (unsigned int leaf = 0; leaf < 2 * TDX_NR_LEAVES; leaf++)
		numbered += !!tdxsim_leaf_info(leaf) + !!tdxsim_tdcall_leaf_info(leaf);
	for (li = tdxsim_leaf_info_next(NULL); li; li = tdxsim_leaf_info_next(li)) {
		n++;
		assert_ptr_equal(li->tdcall ? tdxsim_tdcall_leaf_info(li->leaf) :
				 tdxsim_leaf_info(li->leaf), li);
		assert_ptr_equal(tdxsim_leaf_info_find(li->name), li);
		assert_ptr_equal(tdxsim_leaf_info_find(li->fault_name), li);
		snprintf(upper, sizeof(upper), "%s", li->fault_name);
		for (char *p = upper; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		assert_ptr_equal(tdxsim_leaf_info_find(upper), li);
		for (lj = tdxsim_leaf_info_next(li); lj; lj = tdxsim_leaf_info_next(lj)) {
			if (!strcasecmp(li->name, lj->name) ||
			    !strcasecmp(li->fault_name, lj->fault_name))
				fail_msg("%s and %s share a name", li->name, lj->name);
		}
	}
	assert_int_equal(n, numbered);
	assert_true(n > 20);
	assert_null(tdxsim_leaf_info_find("no_such_leaf"));
	assert_null(tdxsim_leaf_info_find(NULL));
	/* The leaf the CLI used to miss. */
	assert_int_equal(tdxsim_leaf_info_find("vp_create")->leaf, TDH_VP_CREATE);
}

/*
 * Each fault name (and each full name) reaches its leaf: a rule that
 * injects TDX_SYS_BUSY on every call makes exactly that leaf fail with it.
 */
static void test_fault_names_reach_their_leaf(void **state)
{
	struct fixture *fx = *state;
	const struct tdxsim_leaf_info *li;
	char spec[96], err[128];

	for (li = tdxsim_leaf_info_next(NULL); li; li = tdxsim_leaf_info_next(li)) {
		for (int full = 0; full < 2; full++) {
			struct tdx_module_args a = { 0 };
			u64 st;

			snprintf(spec, sizeof(spec), "%s:status=TDX_SYS_BUSY",
				 full ? li->name : li->fault_name);
			if (tdxsim_fault_parse(fx->sim, spec, err, sizeof(err)) != 1)
				fail_msg("'%s' rejected: %s", spec, err);
			if (li->tdcall) {
				fx_enter(fx);
				st = tdxsim_tdcall(fx->sim, fx->vcpu->tdvpr_pa, li->leaf, &a);
				tdxsim_vcpu_exit(fx->vcpu);
			} else {
				st = tdxsim_seamcall(fx->sim, li->leaf, &a);
			}
			assert_status(st, TDX_SYS_BUSY);
			/* ... and no other leaf. */
			if (li->leaf != TDH_MNG_KEY_CONFIG || li->tdcall)
				assert_true(tdxsim_seamcall(fx->sim, TDH_MNG_KEY_CONFIG, &a) !=
					    TDX_SYS_BUSY);
			tdxsim_fault_clear(fx->sim);
		}
	}
}

/* Every module status in TDX_STATUS_LIST: name -> value -> name. */
static void test_status_round_trip(void **state)
{
	static const struct {
		const char *name;
		u64 value;
	} list[] = {
#define ENTRY(n)	{ #n, n },
		TDX_STATUS_LIST(ENTRY)
#undef ENTRY
	};
	char buf[64];
	u64 v;

	(void)state;
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		assert_string_equal(tdxsim_status_base_name(list[i].value), list[i].name);
		assert_string_equal(tdxsim_status_name(list[i].value, buf, sizeof(buf)),
				    list[i].name);
		assert_int_equal(tdxsim_status_parse(list[i].name, &v), 0);
		assert_true(v == list[i].value);
	}
	assert_int_equal(sizeof(list) / sizeof(list[0]), 61);
}

/* Every operand id in TDX_OPERAND_ID_LIST: name -> id -> name. */
static void test_operand_round_trip(void **state)
{
	static const struct {
		const char *name;
		u32 id;
	} list[] = {
#define ENTRY(n)	{ #n, TDX_OPERAND_ID_##n },
		TDX_OPERAND_ID_LIST(ENTRY)
#undef ENTRY
	};
	char buf[64];
	u64 st;
	u32 id;

	(void)state;
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		assert_string_equal(tdxsim_operand_name(list[i].id), list[i].name);
		assert_int_equal(tdxsim_operand_parse(list[i].name, &id), 0);
		assert_int_equal(id, list[i].id);
		if (list[i].id == TDX_OPERAND_ID_RAX)
			continue;	/* RAX is the "no operand" of a status */
		snprintf(buf, sizeof(buf), "TDX_OPERAND_BUSY|%s", list[i].name);
		assert_int_equal(tdxsim_status_parse(buf, &st), 0);
		assert_true(st == (TDX_OPERAND_BUSY | list[i].id));
	}
	assert_null(tdxsim_operand_name(0x46));
	assert_int_equal(tdxsim_operand_parse("NO_SUCH", &id), -EINVAL);
}

/*
 * Every status #define of the installed header (those before
 * TDX_STATUS_LIST) has its name: a status added without its line in the
 * list fails here.
 */
static void test_status_header_complete(void **state)
{
	FILE *f = fopen(TDX_ERRNO_H, "r");
	char line[256], name[96];
	unsigned int n = 0;
	unsigned long long v;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "#define TDX_STATUS_LIST", 23))
			break;
		if (sscanf(line, "#define %95s 0x%llxULL", name, &v) != 2)
			continue;
		n++;
		if (!tdxsim_status_base_name(v) || strcmp(tdxsim_status_base_name(v), name))
			fail_msg("%s (%#llx) is not in TDX_STATUS_LIST", name, v);
	}
	fclose(f);
	assert_int_equal(n, 61);
}

static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 1 << 16, len = 0, got;
	char *out = calloc(1, cap);

	assert_non_null(p);
	assert_non_null(out);
	while ((got = fread(out + len, 1, cap - 1 - len, p)) > 0)
		len += got;
	out[len] = '\0';
	assert_int_equal(pclose(p), 0);
	return out;
}

/* `tdxsim leaves` lists every leaf with its fault name; --leaf takes each. */
static void test_cli_lists_every_leaf(void **state)
{
	const char *cli = getenv("TDXSIM_CLI");
	const struct tdxsim_leaf_info *li;
	char cmd[512], path[] = "/tmp/tdxsim-names-XXXXXX", pattern[96], *out;
	struct tdxsim_config cfg;
	struct tdx_module_args a = { 0 };
	struct tdxsim *sim;
	int fd;

	(void)state;
	if (!cli)
		skip();
	snprintf(cmd, sizeof(cmd), "%s leaves", cli);
	out = run(cmd);
	for (li = tdxsim_leaf_info_next(NULL); li; li = tdxsim_leaf_info_next(li)) {
		snprintf(pattern, sizeof(pattern), " %s ", li->name);
		if (!strstr(out, pattern))
			fail_msg("tdxsim leaves does not list %s", li->name);
		snprintf(pattern, sizeof(pattern), " %s ", li->fault_name);
		if (!strstr(out, pattern))
			fail_msg("tdxsim leaves does not list %s's fault name", li->name);
	}
	assert_non_null(strstr(out, "TDH.VP.CREATE"));
	free(out);

	/* A traced VP.CREATE, found again by its short name. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	tdxsim_config_init(&cfg);
	sim = tdxsim_create(&cfg);
	assert_non_null(sim);
	assert_int_equal(tdxsim_trace_open(sim, path, TDXSIM_TRACE_TEXT), 0);
	tdxsim_seamcall(sim, TDH_VP_CREATE, &a);
	tdxsim_seamcall(sim, TDH_MEM_TRACK, &a);
	tdxsim_destroy(sim);
	snprintf(cmd, sizeof(cmd), "%s trace %s --leaf vp_create --format text", cli, path);
	out = run(cmd);
	unlink(path);
	assert_non_null(strstr(out, "name=TDH.VP.CREATE"));
	assert_null(strstr(out, "TDH.MEM.TRACK"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dispatcher_accepts_table, fx_setup_runnable,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tdcall_dispatcher_accepts_table,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test(test_leaf_info_round_trip),
		cmocka_unit_test_setup_teardown(test_fault_names_reach_their_leaf,
						fx_setup_runnable, fx_teardown),
		cmocka_unit_test(test_status_round_trip),
		cmocka_unit_test(test_operand_round_trip),
		cmocka_unit_test(test_status_header_complete),
		cmocka_unit_test(test_cli_lists_every_leaf),
	};

	return run_group(tests);
}
