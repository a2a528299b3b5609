// SPDX-License-Identifier: GPL-2.0-only
/*
 * tdxsim failnth finds each kind of bad host: run on tests/failnth/subject
 * in each of its modes, only the careful host comes out clean, and every
 * other is reported for what it did, with a rule that reproduces it.
 *
 * usage: test-failnth TDXSIM-TOOL SUBJECT
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

static const char *tool, *subject;

struct result {
	int status;		/* exit status of tdxsim failnth */
	char out[65536];
};

static void failnth(struct result *r, const char *opts, const char *mode)
{
	char cmd[1024];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s failnth %s -- %s %s 2>&1", tool, opts, subject, mode);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n + 1 < sizeof(r->out) && fgets(r->out + n, (int)(sizeof(r->out) - n), p))
		n += strlen(r->out + n);
	r->status = pclose(p);
	assert_true(WIFEXITED(r->status));
	r->status = WEXITSTATUS(r->status);
}

static void expect(const struct result *r, int status, const char *text)
{
	if (r->status != status || !strstr(r->out, text))
		fail_msg("exit %d (expected %d), output lacks \"%s\":\n%s", r->status, status,
			 text, r->out);
}

/* Five runs (three allocations, PAMT.ADD, PAMT.REMOVE), none bad. */
static void test_careful_host_is_clean(void **state)
{
	struct result *r = *state;

	failnth(r, "-j2", "careful");
	expect(r, 0, "3 allocation(s), 1 simulator(s); 5 run(s) to do");
	expect(r, 0, "5 run(s), 0 bad");
}

static void test_leaky_host_is_named(void **state)
{
	struct result *r = *state;

	failnth(r, "-j2", "leaky");
	expect(r, 1, "BAD  alloc:enomem:nth=1");
	expect(r, 1, "2 page(s) left allocated");
	/* PAMT.ADD failed: the host still held all three pages. */
	expect(r, 1, "3 page(s) left allocated");
	expect(r, 1, "reproduce: TDXSIM_FAULTS='pamt_add:busy=rcx:nth=1'");
}

static void test_crash_is_named(void **state)
{
	struct result *r = *state;

	failnth(r, "-j2", "crash");
	expect(r, 1, "crash: Aborted");
	expect(r, 1, "5 run(s), 5 bad");
}

static void test_hang_is_named(void **state)
{
	struct result *r = *state;

	failnth(r, "-j2 --timeout 1", "hang");
	expect(r, 1, "hang: still running after 1 s");
}

static void test_vanished_simulator_is_named(void **state)
{
	struct result *r = *state;

	failnth(r, "-j2", "vanish");
	expect(r, 1, "no simulator destroyed (exit 3)");
}

static void test_bad_baseline_and_usage(void **state)
{
	struct result *r = *state;

	failnth(r, "", "no-such-mode");
	expect(r, 2, "the run without faults is bad already");
	failnth(r, "--jobs 0", "careful");
	expect(r, 2, "--jobs: expected 1..64, got '0'");
	failnth(r, "--help", "careful");
	expect(r, 0, "usage: tdxsim failnth");
}

/* The same careful host, each run under valgrind memcheck: still clean. */
static void test_careful_host_under_valgrind(void **state)
{
	struct result *r = *state;
	failnth(r, "-j2 --valgrind", "careful");
	expect(r, 0, "run(s) to do under valgrind");
	expect(r, 0, "5 run(s), 0 bad");
}

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct result));
	/* The tool's own choice of valgrind is tested explicitly above. */
	unsetenv("TDXSIM_VALGRIND");
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/*
 * ASan/TSan programs do not run under valgrind, nor anything without it:
 * then the valgrind case is left out (meson counts a TAP skip as a failure).
 */
static bool valgrind_case_runs(void)
{
	const char *san = getenv("TDXSIM_SANITIZE");

	if (san && *san && strcmp(san, "none"))
		return false;
	return system("valgrind --version >/dev/null 2>&1") == 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_careful_host_is_clean),
		cmocka_unit_test(test_leaky_host_is_named),
		cmocka_unit_test(test_crash_is_named),
		cmocka_unit_test(test_hang_is_named),
		cmocka_unit_test(test_vanished_simulator_is_named),
		cmocka_unit_test(test_bad_baseline_and_usage),
		cmocka_unit_test(test_careful_host_under_valgrind),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s TDXSIM-TOOL SUBJECT\n", argv[0]);
		return 2;
	}
	cmocka_set_message_output(CM_OUTPUT_TAP);
	tool = argv[1];
	subject = argv[2];
	if (!valgrind_case_runs()) {
		printf("# the valgrind case is left out: sanitizer build or no valgrind\n");
		return _cmocka_run_group_tests("failnth", tests, sizeof(tests) / sizeof(tests[0]) - 1,
					       setup, teardown);
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
