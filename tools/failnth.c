// SPDX-License-Identifier: GPL-2.0-only
/*
 * tdxsim failnth: run a program linked with libtdxsim once to count its page
 * allocations and SEAMCALL/TDCALL calls, then once more for each of them with
 * that one call made to fail (ENOMEM for an allocation; BUSY, and
 * TDX_INTERRUPTED_RESTARTABLE where the leaf can return it, for a call), and
 * report every run that crashes, hangs, leaves a page or breaks an invariant,
 * with the fault rule that reproduces it.
 *
 * The program is not changed: the rule goes in through TDXSIM_FAULTS and the
 * verdict comes back through TDXSIM_REPORT, the line libtdxsim appends when a
 * simulator is destroyed (lib/module/report.c).
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/leaves.h>

#include "failnth.h"

#define MAX_LEAVES	TDX_NR_LEAVES
#define VALGRIND_ERROR	99

struct counts {
	unsigned long long allocs;
	unsigned long long seamcall[MAX_LEAVES];
	unsigned long long tdcall[MAX_LEAVES];
};

/* What the report lines of one run say. */
struct verdict {
	unsigned int sims;		/* report lines: simulators destroyed */
	unsigned long long pages;	/* pages left, summed over simulators */
	unsigned long long violations;
	unsigned long long fired;
	struct counts counts;		/* maximum over simulators */
};

struct opts {
	unsigned int timeout;
	bool valgrind;
	unsigned int jobs;
	unsigned long long max_runs;
	unsigned long long per_leaf;	/* 0: every call of a leaf */
	const char *operand;
	bool verbose;
	char **argv;
};

struct run {
	pid_t pid;
	char rule[128];
	char report[64];
	char log[64];
	struct timespec start;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tdxsim failnth [options] -- PROGRAM [ARGS...]\n"
		"\n"
		"Run PROGRAM (linked with libtdxsim) once to count its page allocations and its\n"
		"SEAMCALL/TDCALL calls, then once per allocation and per call with that one made\n"
		"to fail, through TDXSIM_FAULTS:\n"
		"  alloc:enomem:nth=K              every allocation K\n"
		"  LEAF:busy=OPERAND:nth=K         every call K of every leaf (TDX_OPERAND_BUSY)\n"
		"  LEAF:interrupted:nth=K          DEMOTE and PROMOTE (TDX_INTERRUPTED_RESTARTABLE)\n"
		"A run is bad when PROGRAM dies of a signal, outlives --timeout, leaves a page\n"
		"allocated or an invariant broken when it destroys its simulator (TDXSIM_REPORT),\n"
		"or never destroys it; under --valgrind also on any memcheck error or leak.\n"
		"PROGRAM's own exit status is shown but does not make a run bad: handling the\n"
		"failure by giving up cleanly is allowed.\n"
		"\n"
		"options:\n"
		"  --timeout S      seconds per run (default 30; 10x under valgrind)\n"
		"  --valgrind       run each under valgrind memcheck (default when TDXSIM_VALGRIND=1)\n"
		"  -j, --jobs N     runs at a time (default 1)\n"
		"  --operand NAME   operand of the injected BUSY (default rcx)\n"
		"  --calls-per-leaf N  make only the first N calls of each leaf and its last\n"
		"                   one fail (default: every call)\n"
		"  --max-runs N     stop after N runs\n"
		"  -v, --verbose    one line per run, good ones too\n"
		"  -h, --help       this text\n"
		"\n"
		"exit status: 0 no bad run, 1 bad runs (each printed with its rule), 2 usage error\n"
		"or a baseline run (no fault) that is itself bad.\n");
}

static bool parse_calls(const char *s, unsigned long long *out)
{
	char *end;

	if (s[0] == '-' && (!s[1] || s[1] == ' ' || s[1] == '\n'))
		return true;		/* no call of this kind */
	for (;;) {
		unsigned long leaf = strtoul(s, &end, 10);
		unsigned long long n;

		if (end == s || *end != ':' || leaf >= MAX_LEAVES)
			return false;
		s = end + 1;
		n = strtoull(s, &end, 10);
		if (end == s)
			return false;
		if (n > out[leaf])
			out[leaf] = n;
		if (*end != ',')
			return !*end || *end == ' ' || *end == '\n';
		s = end + 1;
	}
}

/* Read the report lines of one run; false if one is malformed. */
static bool read_report(const char *path, struct verdict *v)
{
	char line[8192];
	FILE *f = fopen(path, "r");
	bool ok = true;

	memset(v, 0, sizeof(*v));
	if (!f)
		return true;		/* no simulator was destroyed */
	while (fgets(line, sizeof(line), f)) {
		unsigned long long pages, fired, allocs;
		int viol, n = 0;
		long pid;
		char *p;

		if (sscanf(line, "tdxsim-report v1 pid=%ld pages_in_use=%llu violations=%d "
			   "faults_fired=%llu allocs=%llu%n", &pid, &pages, &viol, &fired,
			   &allocs, &n) != 5 || !n) {
			ok = false;
			continue;
		}
		v->sims++;
		v->pages += pages;
		v->violations += (unsigned long long)viol;
		v->fired += fired;
		if (allocs > v->counts.allocs)
			v->counts.allocs = allocs;
		p = strstr(line, " seamcall=");
		if (!p || !parse_calls(p + 10, v->counts.seamcall))
			ok = false;
		p = strstr(line, " tdcall=");
		if (!p || !parse_calls(p + 8, v->counts.tdcall))
			ok = false;
	}
	fclose(f);
	return ok;
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int start_run(const struct opts *o, struct run *r, unsigned int slot,
		     unsigned long long nr)
{
	static const char *vg[] = {
		"valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
		"--show-leak-kinds=definite,indirect,possible",
		"--errors-for-leak-kinds=definite,indirect,possible",
	};
	pid_t pid;

	snprintf(r->report, sizeof(r->report), "/tmp/tdxsim-failnth-%ld-%u.report",
		 (long)getpid(), slot);
	/* One log per run: a bad run's output must outlive the slot's next run. */
	snprintf(r->log, sizeof(r->log), "/tmp/tdxsim-failnth-%ld-%llu.log", (long)getpid(), nr);
	unlink(r->report);
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		size_t n = 0, nv = sizeof(vg) / sizeof(vg[0]);
		char **argv;
		int fd;

		setpgid(0, 0);
		fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		while (o->argv[n])
			n++;
		argv = calloc(n + nv + 1, sizeof(*argv));
		if (!argv)
			_exit(127);
		if (o->valgrind) {
			memcpy(argv, vg, sizeof(vg));
			memcpy(argv + nv, o->argv, n * sizeof(*argv));
		} else {
			memcpy(argv, o->argv, n * sizeof(*argv));
		}
		if (r->rule[0])
			setenv("TDXSIM_FAULTS", r->rule, 1);
		else
			unsetenv("TDXSIM_FAULTS");
		setenv("TDXSIM_REPORT", r->report, 1);
		unsetenv("TDXSIM_TRACE");
		execvp(argv[0], argv);
		fprintf(stderr, "failnth: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	r->pid = pid;
	return 0;
}

struct outcome {
	bool bad;
	bool reached;		/* the rule fired (or there is no rule) */
	char why[160];
	struct verdict v;
};

/* Judge a finished run from its wait status and its report. */
static void judge(const struct opts *o, struct run *r, int status, bool timed_out,
		  struct outcome *out)
{
	bool ok = read_report(r->report, &out->v);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	out->bad = true;
	out->reached = !r->rule[0] || out->v.fired > 0;
	if (timed_out)
		snprintf(out->why, sizeof(out->why), "hang: still running after %u s", o->timeout);
	else if (WIFSIGNALED(status))
		snprintf(out->why, sizeof(out->why), "crash: %s", strsignal(WTERMSIG(status)));
	else if (code == 127)
		snprintf(out->why, sizeof(out->why), "could not run the program");
	else if (o->valgrind && code == VALGRIND_ERROR)
		snprintf(out->why, sizeof(out->why), "memcheck error or leak");
	else if (!ok)
		snprintf(out->why, sizeof(out->why), "malformed TDXSIM_REPORT line");
	else if (!out->v.sims)
		snprintf(out->why, sizeof(out->why),
			 "no simulator destroyed (exit %d): pages cannot be accounted", code);
	else if (out->v.pages)
		snprintf(out->why, sizeof(out->why), "%llu page(s) left allocated (exit %d)",
			 out->v.pages, code);
	else if (out->v.violations)
		snprintf(out->why, sizeof(out->why), "%llu invariant violation(s) (exit %d)",
			 out->v.violations, code);
	else {
		out->bad = false;
		snprintf(out->why, sizeof(out->why), "ok (exit %d)", code);
	}
	unlink(r->report);
	if (!out->bad)
		unlink(r->log);
}

struct sweep {
	const struct opts *o;
	char (*rules)[128];
	unsigned long long nr_rules, next, done, bad, unreached;
};

/* The leaf a generated rule names, for people: "demote:..." is TDH.MEM.PAGE.DEMOTE. */
static const char *rule_leaf_name(const char *rule)
{
	const struct tdxsim_leaf_info *info;
	char name[32];
	size_t n = strcspn(rule, ":");

	if (!strncmp(rule, "alloc:", 6))
		return "tdxsim_page_alloc";
	snprintf(name, sizeof(name), "%.*s", (int)n, rule);
	info = tdxsim_leaf_info_find(name);
	return info ? info->name : "";
}

static void report_run(struct sweep *s, struct run *r, const struct outcome *out)
{
	const struct opts *o = s->o;

	s->done++;
	if (!out->reached && !out->bad) {
		s->unreached++;
		unlink(r->log);
		return;
	}
	if (out->bad) {
		s->bad++;
		printf("BAD  %-32s %-24s %s\n     reproduce: TDXSIM_FAULTS='%s'%s", r->rule,
		       rule_leaf_name(r->rule), out->why, r->rule, o->valgrind ? " valgrind" : "");
		for (char **a = o->argv; *a; a++)
			printf(" %s", *a);
		printf("\n     output: %s\n", r->log);
	} else if (o->verbose) {
		printf("ok   %-32s %-24s %s\n", r->rule, rule_leaf_name(r->rule), out->why);
	}
	fflush(stdout);
}

/* Run every rule, o->jobs at a time. */
static void run_all(struct sweep *s)
{
	const struct opts *o = s->o;
	struct run *slots = calloc(o->jobs, sizeof(*slots));
	unsigned int active = 0;

	if (!slots)
		err(2, "calloc");
	while (s->next < s->nr_rules || active) {
		for (unsigned int i = 0; i < o->jobs && s->next < s->nr_rules; i++) {
			if (slots[i].pid)
				continue;
			snprintf(slots[i].rule, sizeof(slots[i].rule), "%s", s->rules[s->next]);
			if (start_run(o, &slots[i], i, ++s->next))
				err(2, "fork");
			active++;
		}
		for (unsigned int i = 0; i < o->jobs; i++) {
			struct outcome out;
			bool timed_out = false;
			int status = 0;
			pid_t pid;

			if (!slots[i].pid)
				continue;
			pid = waitpid(slots[i].pid, &status, WNOHANG);
			if (!pid && elapsed(&slots[i].start) > o->timeout) {
				kill(-slots[i].pid, SIGKILL);
				pid = waitpid(slots[i].pid, &status, 0);
				timed_out = true;
			}
			if (!pid)
				continue;
			judge(o, &slots[i], status, timed_out, &out);
			report_run(s, &slots[i], &out);
			slots[i].pid = 0;
			active--;
		}
		usleep(2000);
	}
	free(slots);
}

static int add_rule(struct sweep *s, unsigned long long cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int add_rule(struct sweep *s, unsigned long long cap, const char *fmt, ...)
{
	va_list ap;

	if (s->nr_rules >= cap)
		return -1;
	va_start(ap, fmt);
	vsnprintf(s->rules[s->nr_rules++], sizeof(s->rules[0]), fmt, ap);
	va_end(ap);
	return 0;
}

/* The Kth of @n calls is swept: all of them, or the first per_leaf and the last. */
static bool swept(const struct opts *o, unsigned long long k, unsigned long long n)
{
	return !o->per_leaf || k <= o->per_leaf || k == n;
}

static void build_rules(struct sweep *s, const struct counts *c)
{
	const struct opts *o = s->o;
	unsigned long long cap = 0;

	cap += c->allocs;
	for (unsigned int l = 0; l < MAX_LEAVES; l++)
		cap += 2 * c->seamcall[l] + c->tdcall[l];
	if (o->max_runs && cap > o->max_runs)
		cap = o->max_runs;
	s->rules = calloc(cap ? cap : 1, sizeof(*s->rules));
	if (!s->rules)
		err(2, "calloc");
	for (unsigned long long k = 1; k <= c->allocs; k++)
		add_rule(s, cap, "alloc:enomem:nth=%llu", k);
	for (unsigned int l = 0; l < MAX_LEAVES; l++) {
		const struct tdxsim_leaf_info *info = tdxsim_leaf_info(l);

		for (unsigned long long k = 1; info && k <= c->seamcall[l]; k++) {
			if (!swept(o, k, c->seamcall[l]))
				continue;
			add_rule(s, cap, "%s:busy=%s:nth=%llu", info->fault_name, o->operand, k);
			/* The leaves that can answer TDX_INTERRUPTED_RESTARTABLE (spec §5). */
			if (l == TDH_MEM_PAGE_DEMOTE || l == TDH_MEM_PAGE_PROMOTE)
				add_rule(s, cap, "%s:interrupted:nth=%llu", info->fault_name, k);
		}
	}
	for (unsigned int l = 0; l < MAX_LEAVES; l++) {
		const struct tdxsim_leaf_info *info = tdxsim_tdcall_leaf_info(l);

		for (unsigned long long k = 1; info && k <= c->tdcall[l]; k++)
			if (swept(o, k, c->tdcall[l]))
				add_rule(s, cap, "%s:busy=%s:nth=%llu", info->fault_name, o->operand, k);
	}
}

int cmd_failnth(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "valgrind", no_argument, NULL, 'V' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "operand", required_argument, NULL, 'o' },
		{ "max-runs", required_argument, NULL, 'm' },
		{ "calls-per-leaf", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *vg_env = getenv("TDXSIM_VALGRIND");
	struct opts o = {
		.timeout = 30, .jobs = 1, .operand = "rcx",
		.valgrind = vg_env && !strcmp(vg_env, "1"),
	};
	struct sweep s = { .o = &o };
	struct run base = { 0 };
	struct outcome out;
	bool timeout_set = false;
	int c, status;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+j:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o.timeout = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !o.timeout)
				errx(2, "--timeout: expected a number of seconds > 0, got '%s'", optarg);
			timeout_set = true;
			break;
		case 'V':
			o.valgrind = true;
			break;
		case 'j':
			o.jobs = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !o.jobs || o.jobs > 64)
				errx(2, "--jobs: expected 1..64, got '%s'", optarg);
			break;
		case 'o':
			o.operand = optarg;
			break;
		case 'm':
			o.max_runs = strtoull(optarg, &end, 10);
			if (*end || !o.max_runs)
				errx(2, "--max-runs: expected a number > 0, got '%s'", optarg);
			break;
		case 'p':
			o.per_leaf = strtoull(optarg, &end, 10);
			if (*end || !o.per_leaf)
				errx(2, "--calls-per-leaf: expected a number > 0, got '%s'", optarg);
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "failnth: expected -- PROGRAM [ARGS...]\n");
		usage(stderr);
		return 2;
	}
	o.argv = argv + optind;
	if (o.valgrind && !timeout_set)
		o.timeout *= 10;

	/* The baseline: no fault; it must be clean itself, and it gives the counts. */
	if (start_run(&o, &base, 0, 0))
		err(2, "fork");
	while (waitpid(base.pid, &status, WNOHANG) == 0) {
		if (elapsed(&base.start) > o.timeout) {
			kill(-base.pid, SIGKILL);
			waitpid(base.pid, &status, 0);
			break;
		}
		usleep(2000);
	}
	judge(&o, &base, status, elapsed(&base.start) > o.timeout, &out);
	if (out.bad) {
		fprintf(stderr, "failnth: the run without faults is bad already: %s (output: %s)\n",
			out.why, base.log);
		return 2;
	}
	build_rules(&s, &out.v.counts);
	printf("failnth: %llu allocation(s), %u simulator(s); %llu run(s) to do%s\n",
	       out.v.counts.allocs, out.v.sims, s.nr_rules, o.valgrind ? " under valgrind" : "");
	fflush(stdout);
	run_all(&s);
	printf("failnth: %llu run(s), %llu bad, %llu where the rule was never reached\n", s.done,
	       s.bad, s.unreached);
	free(s.rules);
	return s.bad ? 1 : 0;
}
