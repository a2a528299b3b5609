// SPDX-License-Identifier: GPL-2.0-only
/*
 * tdxsim run / tdxsim shell: the scenario language (doc/scenario.md) from
 * files or typed in.
 *
 *   tdxsim run [--trace F.json] [--verbose] [--keep-going] FILE|DIR...
 *   tdxsim run --list|--check FILE|DIR...      tdxsim run --doc|--defects
 *   tdxsim shell
 *
 * Exit codes: 0 every scenario passed or was skipped, 1 an expectation
 * failed, 2 bad input (a parse error, an unreadable file, a bad option).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/scenario.h>

#include "run.h"

#define EXIT_FAILED	1
#define EXIT_BADINPUT	2

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: tdxsim run [options] FILE|DIR...\n"
		"\n"
		"Run scenario files (*.tdx; a DIR runs every *.tdx in it, sorted by name): one\n"
		"line per scenario (name, pass/fail/skip, SEAMCALLs, faults fired, wall time),\n"
		"then a summary table.  The language: doc/scenario.md.\n"
		"\n"
		"options:\n"
		"  --trace FILE.json   write the Perfetto/Chrome timeline of the run (one scenario:\n"
		"                      FILE.json; several: FILE-NAME.json per scenario)\n"
		"  -v, --verbose       print KVM's mirror and the module's S-EPT at each expectation\n"
		"  -k, --keep-going    report every unmet expectation, not only the first\n"
		"  -q, --quiet         no per-scenario lines, only failures and the summary\n"
		"  --list              list the scenarios with their one-line description\n"
		"  --check             parse only: report bad input, run nothing\n"
		"  --doc               print the command reference (doc/scenario.md's) and exit\n"
		"  --defects           list the defect switches and exit\n"
		"  --skip-exit N       exit N instead of 0 when every scenario was skipped\n"
		"                      (77 makes meson count the test as skipped)\n"
		"  -h, --help          this text\n"
		"\n"
		"exit codes: 0 every scenario passed or was skipped (see --skip-exit); 1 an expectation (or a host\n"
		"action's `=> RESULT`) was not met; 2 bad input: FILE:LINE:COL: expected WHAT, got WHAT\n"
		"(also an unreadable file, a bad option, or an error found while running).\n");
}

/* ---- files ---- */

struct flist {
	char **v;
	size_t n, cap;
};

static int flist_add(struct flist *l, const char *path)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(path);
	if (!l->v[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

static void flist_free(struct flist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && !strcmp(s + n - m, suf);
}

/* FILE or every *.tdx of DIR, sorted.  0, or 2 after a message. */
static int collect(const char *path, struct flist *l)
{
	struct stat st;
	struct dirent *de;
	size_t first = l->n, len;
	DIR *d;

	if (stat(path, &st)) {
		fprintf(stderr, "tdxsim run: %s: %s\n", path, strerror(errno));
		return EXIT_BADINPUT;
	}
	if (!S_ISDIR(st.st_mode))
		return flist_add(l, path) ? EXIT_BADINPUT : 0;
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "tdxsim run: %s: %s\n", path, strerror(errno));
		return EXIT_BADINPUT;
	}
	while ((de = readdir(d))) {
		char *full;

		if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".tdx"))
			continue;
		if (asprintf(&full, "%.*s/%s", (int)len, path, de->d_name) < 0)
			break;
		flist_add(l, full);
		free(full);
	}
	closedir(d);
	qsort(l->v + first, l->n - first, sizeof(*l->v), cmp_str);
	return 0;
}

/* Whole file into memory.  NULL after a message. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 8192, n = 0;
	char *buf;

	if (!f) {
		fprintf(stderr, "tdxsim run: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);

		n += r;
		if (n < cap)
			break;
		if (cap >= (64U << 20)) {
			fprintf(stderr, "tdxsim run: %s: larger than 64 MiB\n", path);
			free(buf);
			buf = NULL;
			break;
		}
		cap *= 2;
		char *nb = realloc(buf, cap);

		if (!nb) {
			free(buf);
			buf = NULL;
		}
		buf = nb;
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

/* "tests/scenarios/S13a-accept.tdx" -> "S13a-accept" */
static const char *scn_name(const char *path, char *buf, size_t len)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	snprintf(buf, len, "%s", b);
	if (has_suffix(buf, ".tdx"))
		buf[strlen(buf) - 4] = '\0';
	return buf;
}

/*
 * Does @b state anything a run can fail on: an `expect`, a command with a
 * result (a host action must succeed unless `=> any`), or a `skip`?  A file
 * with none (empty, or configuration only) would pass whatever the model
 * did: refused.
 */
static bool block_checks(const struct tdxsim_scn_block *b)
{
	for (size_t i = 0; i < b->nr; i++) {
		const struct tdxsim_scn_cmd *c = &b->cmds[i];

		if (c->info->group == TDXSIM_GRP_EXPECT || c->info->id == TDXSIM_CMD_SKIP ||
		    (c->info->returns && !c->ret_any))
			return true;
		if (c->body && block_checks(c->body))
			return true;
	}
	return false;
}

static struct tdxsim_scenario *load(const char *path)
{
	struct tdxsim_scenario *scn;
	char err[512];
	size_t len;
	char *text = slurp(path, &len);
	int r;

	if (!text)
		return NULL;
	r = tdxsim_scenario_parse(path, text, len, &scn, err, sizeof(err));
	free(text);
	if (r) {
		fprintf(stderr, "%s\n", err[0] ? err : strerror(-r));
		return NULL;
	}
	if (!block_checks(&scn->top)) {
		fprintf(stderr, "%s:%u:1: expected an `expect`, a host action or a `skip` (a scenario "
			"that checks nothing would pass silently), got the end of the file\n",
			path, scn->nr_lines + 1);
		tdxsim_scenario_free(scn);
		return NULL;
	}
	return scn;
}

/* ---- the reference page ---- */

/* @s in a table cell: a '|' would end the cell. */
static void md_cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

/* Markdown of the command table: doc/scenario.md's reference section, verbatim. */
void tdxsim_run_print_doc(FILE *f)
{
	char syn[512];

	for (int g = 0; g < TDXSIM_GRP_NR; g++) {
		fprintf(f, "### %s\n\n", tdxsim_scn_group_name((enum tdxsim_scn_group)g));
		for (int i = 0; i < TDXSIM_CMD_NR; i++) {
			const struct tdxsim_scn_cmd_info *ci = &tdxsim_scn_commands[i];

			if ((int)ci->group != g)
				continue;
			fprintf(f, "#### `%s`\n\n", ci->name);
			fprintf(f, "    %s\n\n", tdxsim_scn_synopsis(ci, syn, sizeof(syn)));
			fprintf(f, "%c%s.", ci->summary[0] >= 'a' && ci->summary[0] <= 'z' ?
				ci->summary[0] - 32 : ci->summary[0], ci->summary + 1);
			if (ci->help[0])
				fprintf(f, " %s", ci->help);
			fprintf(f, "\n\n");
			if (ci->nr_args || ci->returns) {
				fprintf(f, "| argument | value | default | meaning |\n");
				fprintf(f, "|---|---|---|---|\n");
			}
			for (unsigned int a = 0; a < ci->nr_args; a++) {
				const struct tdxsim_scn_arg_info *ai = &ci->args[a];
				static const char *const tn[] = {
					[TDXSIM_SCN_NUM] = "number",
					[TDXSIM_SCN_GPA] = "GPA (4K-aligned)",
					[TDXSIM_SCN_SIZE] = "size (multiple of 4K)",
					[TDXSIM_SCN_LEVEL] = "level", [TDXSIM_SCN_CHOICE] = "",
					[TDXSIM_SCN_ONOFF] = "on/off", [TDXSIM_SCN_WORD] = "word",
					[TDXSIM_SCN_STRING] = "\"string\"", [TDXSIM_SCN_LEAF] = "leaf",
					[TDXSIM_SCN_LEAF_NTH] = "LEAF or LEAF#N",
					[TDXSIM_SCN_EVENT] = "LEAF, LEAF#N or mark",
					[TDXSIM_SCN_MARK] = "mark", [TDXSIM_SCN_VMNAME] = "VM name",
					[TDXSIM_SCN_STATUS] = "TDX status",
					[TDXSIM_SCN_OP] = "comparison", [TDXSIM_SCN_ERRNO] = "errno",
					[TDXSIM_SCN_FAULT] = "fault rule",
					[TDXSIM_SCN_FEATURES] = "+name,-name",
					[TDXSIM_SCN_DEFECT] = "defect", [TDXSIM_SCN_FLAG] = "flag",
				};
				char val[160];

				if (ai->type == TDXSIM_SCN_CHOICE) {
					/* a '|' would end the table cell: escape it */
					size_t k = 0;

					val[k++] = '`';
					for (const char *q = ai->choices; *q && k < sizeof(val) - 4; q++) {
						if (*q == '|')
							val[k++] = '\\';
						val[k++] = *q;
					}
					val[k++] = '`';
					val[k] = '\0';
				}
				else
					snprintf(val, sizeof(val), "%s", tn[ai->type]);
				fprintf(f, "| %s%s%s | %s | ",
					ai->kind != TDXSIM_SCN_POS ? "`" : "", ai->name,
					ai->kind == TDXSIM_SCN_KEY ? "=`" :
					ai->kind == TDXSIM_SCN_BARE ? "`" : "", val);
				md_cell(f, ai->def ? ai->def : ai->kind == TDXSIM_SCN_POS ? "required" :
					ai->kind == TDXSIM_SCN_BARE ? "off" : "-");
				fputs(" | ", f);
				md_cell(f, ai->help);
				fputs(" |\n", f);
			}
			if (ci->returns)
				fprintf(f, "| `=>` | %s | %s | the expected result; `any` accepts every "
					"result |\n",
					tdxsim_scn_returns_status(ci) ? "TDX status" : "errno",
					ci->group == TDXSIM_GRP_GUEST ? "any" :
					ci->id == TDXSIM_CMD_SEAMCALL ? "TDX_SUCCESS" : "0");
			if (ci->nr_args || ci->returns)
				fprintf(f, "\n");
			fprintf(f, "Example:\n\n    %s\n\n", ci->example);
		}
	}
	fprintf(f, "### Defect switches (`defect NAME`)\n\n| NAME | what it re-creates |\n|---|---|\n");
	for (unsigned int bit = 0; tdxsim_kvm_defect_name(bit); bit++) {
		fprintf(f, "| `%s` | ", tdxsim_kvm_defect_name(bit));
		md_cell(f, tdxsim_kvm_defect_desc(bit) ? tdxsim_kvm_defect_desc(bit) : "");
		fprintf(f, " |\n");
	}
	fprintf(f, "\n");
}

static void print_defects(FILE *f)
{
	for (unsigned int bit = 0; tdxsim_kvm_defect_name(bit); bit++)
		fprintf(f, "%-24s %s\n", tdxsim_kvm_defect_name(bit),
			tdxsim_kvm_defect_desc(bit) ? tdxsim_kvm_defect_desc(bit) : "");
}

/* ---- run ---- */

struct totals {
	unsigned int n[4];
	u64 seamcalls, faults;
	double wall;
};

int tdxsim_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "list", no_argument, NULL, 'l' },
		{ "check", no_argument, NULL, 'c' },
		{ "doc", no_argument, NULL, 'd' },
		{ "defects", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "skip-exit", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct tdxsim_scn_opts so = { .log = stdout };
	bool list = false, check = false, quiet = false;
	int skip_exit = 0;
	const char *trace = NULL;
	struct flist files = { 0 };
	struct totals tot = { 0 };
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "vkqh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			trace = optarg;
			break;
		case 'v':
			so.verbose = true;
			break;
		case 'k':
			so.keep_going = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'l':
			list = true;
			break;
		case 'c':
			check = true;
			break;
		case 'd':
			tdxsim_run_print_doc(stdout);
			return 0;
		case 'D':
			print_defects(stdout);
			return 0;
		case 'h':
			run_usage(stdout);
			return 0;
		case 'S': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end || v < 0 || v > 255) {
				fprintf(stderr, "tdxsim run: --skip-exit: expected a number 0-255, "
					"got '%s'\n", optarg);
				return EXIT_BADINPUT;
			}
			skip_exit = (int)v;
			break;
		}
		default:
			run_usage(stderr);
			return EXIT_BADINPUT;
		}
	}
	if (optind >= argc) {
		run_usage(stderr);
		return EXIT_BADINPUT;
	}
	for (int i = optind; i < argc; i++) {
		if (collect(argv[i], &files))
			rc = EXIT_BADINPUT;
	}
	if (!files.n && !rc) {
		fprintf(stderr, "tdxsim run: no *.tdx file found\n");
		rc = EXIT_BADINPUT;
	}
	for (size_t i = 0; i < files.n; i++) {
		struct tdxsim_scenario *scn = load(files.v[i]);
		struct tdxsim_scn_result res;
		char name[256], tpath[512];

		scn_name(files.v[i], name, sizeof(name));
		if (!scn) {
			rc = EXIT_BADINPUT;
			tot.n[TDXSIM_SCN_ERROR]++;
			continue;
		}
		if (list) {
			printf("%-32s %s%s%s\n", name, scn->id ? scn->id : "",
			       scn->id ? ": " : "", scn->title ? scn->title : "(no description)");
			tdxsim_scenario_free(scn);
			continue;
		}
		if (check) {
			tdxsim_scenario_free(scn);
			continue;
		}
		so.trace_path = NULL;
		if (trace) {
			if (files.n == 1) {
				snprintf(tpath, sizeof(tpath), "%s", trace);
			} else {
				const char *dot = strrchr(trace, '.');
				int stem = dot ? (int)(dot - trace) : (int)strlen(trace);

				snprintf(tpath, sizeof(tpath), "%.*s-%s%s", stem, trace, name,
					 dot ? dot : ".json");
			}
			so.trace_path = tpath;
		}
		fflush(stdout);
		tdxsim_scenario_run(scn, &so, &res);
		tot.n[res.outcome]++;
		tot.seamcalls += res.seamcalls;
		tot.faults += res.faults_fired;
		tot.wall += res.wall_s;
		if (!quiet || res.outcome != TDXSIM_SCN_PASS)
			printf("%-32s %-5s %8llu SEAMCALLs %4llu faults %8.3f s\n", name,
			       tdxsim_scn_outcome_name(res.outcome),
			       (unsigned long long)res.seamcalls,
			       (unsigned long long)res.faults_fired, res.wall_s);
		if (res.outcome == TDXSIM_SCN_FAIL && rc != EXIT_BADINPUT)
			rc = EXIT_FAILED;
		if (res.outcome == TDXSIM_SCN_ERROR)
			rc = EXIT_BADINPUT;
		tdxsim_scenario_free(scn);
	}
	if (!list && !check && files.n) {
		printf("\n%-10s %6s\n", "outcome", "count");
		printf("%-10s %6u\n%-10s %6u\n%-10s %6u\n%-10s %6u\n", "pass", tot.n[0], "fail",
		       tot.n[1], "skip", tot.n[2], "error", tot.n[3]);
		printf("%-10s %6zu  %llu SEAMCALLs, %llu faults fired, %.3f s\n", "total", files.n,
		       (unsigned long long)tot.seamcalls, (unsigned long long)tot.faults, tot.wall);
	}
	flist_free(&files);
	/* Every scenario skipped: say so to a harness that counts skips (meson: 77). */
	if (!rc && skip_exit && !list && !check && files.n && tot.n[TDXSIM_SCN_SKIP] == files.n)
		return skip_exit;
	return rc;
}
