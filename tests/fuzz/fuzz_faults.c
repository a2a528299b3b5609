// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz-faults: libFuzzer target over the parsers that read strings from the
 * user, through the public API only:
 *
 *  - mode "parse" (first byte even): tdxsim_fault_parse() of the rest of the
 *    input as a string, into an error buffer of exactly the size given.
 *    Never crashes; on success the rules it says it added are there
 *    (tdxsim_fault_nr_rules()) and fire on calls without breaking the status
 *    contract; on failure it returns -EINVAL, the rules before the bad one
 *    stay, and the message is one line, NUL-terminated inside the buffer,
 *    free of control characters, bounded, and says what was "expected".
 *
 *  - mode "environment" (first byte odd): TDXSIM_SEED, TDXSIM_FAULTS and
 *    TDXSIM_TRACE set from the input (NUL-separated), then tdxsim_create()
 *    and tdxsim_destroy().  A refused environment gives NULL with errno
 *    EINVAL and exactly one bounded line on stderr naming the variable
 *    (SEED and FAULTS lines say what was "expected"); TDXSIM_SEED is taken
 *    if and only if it is a number (digits, 0x allowed) that fits in 64
 *    bits.  TRACE paths live under a private directory in /tmp, emptied
 *    after each run and removed at exit.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/fault.h>

#define MAX_MSG		200	/* a message longer than this is not "bounded" */

static struct tdxsim *parse_sim;
static int stderr_fd = -1, capture_fd = -1;
static char trace_dir[64];
static const char *where;
/* FUZZ_NO_CAPTURE=1: leave stderr alone (to see a sanitizer report inside tdxsim_create). */
static bool capture = true;

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz-faults: ORACLE FAILED (%s): ", where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static struct tdxsim_config small_config(void)
{
	struct tdxsim_config cfg;

	tdxsim_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;	/* create/destroy per input: keep it cheap */
	return cfg;
}

/* One line, no control characters, bounded; @need is a word it must contain. */
static void check_message(const char *msg, size_t len, const char *need, const char *what)
{
	if (!len)
		fail("%s: empty message", what);
	if (len > MAX_MSG)
		fail("%s: message of %zu characters: %.*s", what, len, (int)len, msg);
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			fail("%s: control character %#x at %zu in the message: %.*s", what,
			     (unsigned char)msg[i], i, (int)len, msg);
	}
	if (need && !memmem(msg, len, need, strlen(need)))
		fail("%s: message without '%s': %.*s", what, need, (int)len, msg);
}

/* ---- mode parse ---- */

/* A rule that was added must not make a call answer outside the status contract. */
static void exercise_rules(struct tdxsim *sim)
{
	static const unsigned int leaves[] = {
		TDH_MEM_PAGE_AUG, TDH_MEM_PAGE_DEMOTE, TDH_VP_ENTER, TDH_PHYMEM_PAGE_RECLAIM,
	};
	const struct tdxsim_config *cfg = tdxsim_get_config(sim);
	u64 pa;

	for (unsigned int i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		struct tdx_module_args a = { .rcx = 0x40000000ULL | TDX_PS_2M,
					     .rdx = cfg->mem_base, .r8 = cfg->mem_base };
		u64 st = tdxsim_seamcall(sim, leaves[i], &a);

		if (!st || !tdxsim_status_base_name(st))
			fail("leaf %u with bogus operands answered %#llx", leaves[i],
			     (unsigned long long)st);
	}
	pa = tdxsim_page_alloc(sim, TDX_PS_4K);
	if (pa && tdxsim_page_free(sim, pa, TDX_PS_4K))
		fail("free of a page just allocated failed");
}

static void mode_parse(const u8 *data, size_t size)
{
	/* Buffer sizes a caller might pass, 0 and 1 included: ASan sees any overrun. */
	static const size_t lens[] = { 256, 128, 64, 16, 1, 0 };
	size_t errlen = lens[(data[0] >> 1) % 6];
	char *spec = malloc(size);
	char *err = errlen ? malloc(errlen) : NULL;
	int before, after, n;

	if (!spec || (errlen && !err))
		abort();
	memcpy(spec, data + 1, size - 1);
	spec[size - 1] = '\0';
	where = "tdxsim_fault_parse";
	/* Rules from an earlier input are there at times: appending is part of the contract. */
	if (tdxsim_fault_nr_rules(parse_sim) > 32)
		tdxsim_fault_clear(parse_sim);
	before = tdxsim_fault_nr_rules(parse_sim);
	if (err)
		memset(err, 'X', errlen);
	n = tdxsim_fault_parse(parse_sim, spec, err, errlen);
	after = tdxsim_fault_nr_rules(parse_sim);
	if (err && !memchr(err, '\0', errlen))
		fail("error buffer of %zu bytes not NUL-terminated", errlen);
	if (n >= 0) {
		if (after != before + n)
			fail("parse said %d rules added, nr_rules went %d -> %d", n, before, after);
		if (err && err[0])
			fail("success (%d rules) with a message: %s", n, err);
		if (n)
			exercise_rules(parse_sim);
	} else {
		if (n != -EINVAL && n != -ENOMEM)
			fail("parse returned %d", n);
		if (after < before)
			fail("a refused spec removed rules: %d -> %d", before, after);
		if (errlen >= 128)
			check_message(err, strlen(err), "expected", "parse error");
	}
	free(spec);
	free(err);
}

/* ---- mode environment ---- */

/* The next NUL-terminated piece of the input (the last one ends at its end). */
static const char *piece(const u8 **p, const u8 *end, char *buf, size_t buflen)
{
	size_t n = 0;

	while (*p < end && **p && n + 1 < buflen)
		buf[n++] = (char)*(*p)++;
	if (*p < end)
		(*p)++;
	buf[n] = '\0';
	return buf;
}

static bool seed_valid(const char *s, u64 *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

static void empty_trace_dir(void)
{
	DIR *d = opendir(trace_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[sizeof(trace_dir) + 300];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", trace_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

static void remove_trace_dir(void)
{
	empty_trace_dir();
	rmdir(trace_dir);
}

static void mode_env(const u8 *data, size_t size)
{
	static char seed[256], faults[8192], name[8192], trace[8192 + 64];
	const u8 *p = data + 1, *end = data + size;
	struct tdxsim_config cfg = small_config();
	bool set_seed = data[0] & 2, set_faults = data[0] & 4, set_trace = data[0] & 8;
	struct tdxsim *sim;
	u64 seed_taken = 0;
	char msg[4096];
	ssize_t len;
	u64 v;
	int err;

	where = "environment";
	piece(&p, end, seed, sizeof(seed));
	piece(&p, end, faults, sizeof(faults));
	piece(&p, end, name, sizeof(name));
	/* The trace goes nowhere but our directory: '/' in the name becomes '_'. */
	for (char *c = name; *c; c++) {
		if (*c == '/')
			*c = '_';
	}
	snprintf(trace, sizeof(trace), "%s/%s", trace_dir, name);
	if (set_seed)
		setenv("TDXSIM_SEED", seed, 1);
	if (set_faults)
		setenv("TDXSIM_FAULTS", faults, 1);
	if (set_trace)
		setenv("TDXSIM_TRACE", trace, 1);

	if (ftruncate(capture_fd, 0) || lseek(capture_fd, 0, SEEK_SET))
		abort();
	if (capture)
		dup2(capture_fd, STDERR_FILENO);
	errno = 0;
	sim = tdxsim_create(&cfg);
	err = errno;
	if (sim) {
		seed_taken = tdxsim_get_config(sim)->seed;
		tdxsim_destroy(sim);
	}
	if (capture)
		dup2(stderr_fd, STDERR_FILENO);
	len = pread(capture_fd, msg, sizeof(msg) - 1, 0);
	if (len < 0)
		abort();
	msg[len] = '\0';
	unsetenv("TDXSIM_SEED");
	unsetenv("TDXSIM_FAULTS");
	unsetenv("TDXSIM_TRACE");
	if (set_trace)
		empty_trace_dir();

	if (set_seed && *seed && !seed_valid(seed, &v) && sim)
		fail("TDXSIM_SEED='%s' accepted", seed);
	if (!capture)
		return;
	if (sim) {
		if (len)
			fail("tdxsim_create succeeded but printed: %s", msg);
		if (set_seed && *seed && v != seed_taken)
			fail("TDXSIM_SEED='%s' is %#llx, the simulator took %#llx", seed,
			     (unsigned long long)v, (unsigned long long)seed_taken);
		return;
	}
	if (err != EINVAL)
		fail("tdxsim_create failed with errno %d (%s)", err, strerror(err));
	if (!len || msg[len - 1] != '\n' || memchr(msg, '\n', (size_t)len - 1))
		fail("refused environment printed %zd bytes, not one line: '%s'", len, msg);
	if (strncmp(msg, "tdxsim: TDXSIM_", 15))
		fail("message does not name the variable: %s", msg);
	check_message(msg, (size_t)len - 1,
		      !strncmp(msg, "tdxsim: TDXSIM_TRACE", 20) ? NULL : "expected",
		      "environment");
	if (!strncmp(msg, "tdxsim: TDXSIM_SEED", 19) && (!set_seed || seed_valid(seed, &v)))
		fail("a valid or absent TDXSIM_SEED ('%s') refused: %s", seed, msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tdxsim_config cfg = small_config();

	unsetenv("TDXSIM_SEED");
	unsetenv("TDXSIM_FAULTS");
	unsetenv("TDXSIM_TRACE");
	unsetenv("TDXSIM_REPORT");
	parse_sim = tdxsim_create(&cfg);
	if (!parse_sim)
		abort();
	snprintf(trace_dir, sizeof(trace_dir), "/tmp/tdxsim-fuzz-faults.%d", (int)getpid());
	if (mkdir(trace_dir, 0700) && errno != EEXIST)
		abort();
	atexit(remove_trace_dir);
	capture = !getenv("FUZZ_NO_CAPTURE");
	stderr_fd = dup(STDERR_FILENO);
	capture_fd = memfd_create("fuzz-faults-stderr", 0);
	if (stderr_fd < 0 || capture_fd < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		mode_env(data, size);
	else
		mode_parse(data, size);
	return 0;
}
