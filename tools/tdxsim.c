// SPDX-License-Identifier: GPL-2.0-only
/*
 * tdxsim: the command-line front end.
 *
 *   tdxsim trace FILE [filters] [--format pretty|text|json] [-o OUT]
 *   tdxsim leaves
 *   tdxsim run FILE|DIR...     (tools/run.c: the scenario language)
 *
 * reads a trace written by the library (TDXSIM_TRACE=out.json or .txt, or
 * tdxsim_trace_open()), filters it and prints it readably or converts it.
 */
#include <err.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/fault.h>
#include <tdxsim/trace.h>

#include "failnth.h"
#include "run.h"

struct filter {
	int leaf;		/* -1: any */
	u64 gpa_start, gpa_end;	/* equal: any */
	bool has_status;
	u64 status;		/* compared with or without operand, see status_exact */
	bool status_exact;
	int type;		/* -1: any */
	int thread;		/* -1: any */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tdxsim trace FILE [options]\n"
		"\n"
		"Print, filter and convert a trace written by libtdxsim (TDXSIM_TRACE=FILE).\n"
		"FILE is the text (ftrace-like) or the Chrome/Perfetto JSON format; '-' reads stdin.\n"
		"\n"
		"filters (all must hold):\n"
		"  --leaf NAME|N       leaf, e.g. TDH.MEM.PAGE.DEMOTE, demote, 15, accept\n"
		"                      (tdxsim leaves lists every name)\n"
		"  --gpa A[-B]         GPA A, or the range [A, B)\n"
		"  --status S          status name, e.g. TDX_OPERAND_BUSY (any operand) or\n"
		"                      TDX_OPERAND_BUSY|SEPT (exactly), or a number\n"
		"  --type T            seamcall, tdcall, td_enter, td_exit, fault\n"
		"  --thread N          events of thread N\n"
		"output:\n"
		"  --format F          pretty (default), text, json\n"
		"  -o, --output OUT    write to OUT instead of stdout\n"
		"  -h, --help          this text\n"
		"\n"
		"Open a JSON trace in a trace viewer (Perfetto UI, chrome://tracing): one track per thread.\n");
}

/* Returns the leaf and, through *type, the event type it implies (or -1). */
static int parse_leaf(const char *s, int *type)
{
	const struct tdxsim_leaf_info *li = tdxsim_leaf_info_find(s);
	char *end;
	long v;

	if (li) {
		*type = li->tdcall ? TDXSIM_EV_TDCALL : TDXSIM_EV_SEAMCALL;
		return (int)li->leaf;
	}
	v = strtol(s, &end, 0);
	if (*s && !*end && v >= 0 && v < TDX_NR_LEAVES) {
		*type = -1;
		return (int)v;
	}
	errx(2, "--leaf: unknown leaf '%s' (try demote, aug, TDH.MEM.PAGE.AUG, 15; tdxsim leaves)", s);
}

static int parse_type(const char *s)
{
	for (int t = 0; t < TDXSIM_EV_NR; t++) {
		if (!strcasecmp(s, tdxsim_trace_type_name((enum tdxsim_trace_type)t)))
			return t;
	}
	errx(2, "--type: unknown event type '%s' (seamcall, tdcall, td_enter, td_exit, fault)", s);
}

static bool event_gpa(const struct tdxsim_trace_event *ev, u64 *gpa)
{
	char buf[512];
	const char *p;

	/* The text formatter knows which leaves carry a GPA: reuse it. */
	tdxsim_trace_format_text(ev, buf, sizeof(buf));
	p = strstr(buf, " gpa=");
	if (!p)
		return false;
	*gpa = strtoull(p + 5, NULL, 0);
	return true;
}

static bool keep(const struct filter *f, const struct tdxsim_trace_event *ev)
{
	u64 gpa;

	if (f->type >= 0 && (int)ev->type != f->type)
		return false;
	if (f->leaf >= 0 && (int)ev->leaf != f->leaf)
		return false;
	if (f->thread >= 0 && (int)ev->thread != f->thread)
		return false;
	if (f->has_status && (f->status_exact ? ev->status != f->status :
			      TDX_STATUS(ev->status) != TDX_STATUS(f->status)))
		return false;
	if (f->gpa_start != f->gpa_end) {
		if (!event_gpa(ev, &gpa) || gpa < f->gpa_start || gpa >= f->gpa_end)
			return false;
	}
	return true;
}

/* The leaf table's entry for a fault rule's leaf (TDXSIM_FAULT_TDCALL | leaf ...). */
static const struct tdxsim_leaf_info *fault_leaf_info(unsigned int leaf)
{
	if (leaf & TDXSIM_FAULT_PAGE_ALLOC)
		return NULL;
	if (leaf & TDXSIM_FAULT_TDCALL)
		return tdxsim_tdcall_leaf_info(leaf & ~TDXSIM_FAULT_TDCALL);
	return tdxsim_leaf_info(leaf);
}

/*
 * The call's inputs the GPA column does not show, by the names the leaf
 * table gives them ("page 0x...", "tdvpr 0x..."); pages not given (0) are
 * left out.  The TD is left out too: a trace is usually of one TD.
 */
static void print_operands(FILE *out, const struct tdxsim_trace_event *ev)
{
	const struct tdxsim_leaf_info *li = ev->type == TDXSIM_EV_TDCALL ?
		tdxsim_tdcall_leaf_info(ev->leaf) : tdxsim_leaf_info(ev->leaf);

	for (unsigned int i = 0; li && i < li->nr_operands; i++) {
		const struct tdxsim_leaf_operand *op = &li->operands[i];
		u64 v = tdxsim_args_reg(&ev->in, op->reg);

		if (op->kind == TDXSIM_OPND_GPA || op->kind == TDXSIM_OPND_TDR ||
		    (op->kind == TDXSIM_OPND_PAGE && !v))
			continue;
		fprintf(out, " %s %#llx", op->name, v);
	}
}

static void print_pretty(FILE *out, const struct tdxsim_trace_event *ev)
{
	char line[512], sb[64];
	const char *name, *p;
	u64 gpa;

	tdxsim_trace_format_text(ev, line, sizeof(line));
	p = strstr(line, " name=");
	name = p ? p + 6 : "?";
	fprintf(out, "#%-6llu %12.3f us  thr %-2u cpu %-2u %-9s ", ev->seq,
		(double)ev->ts_ns / 1000.0, ev->thread, ev->cpu,
		tdxsim_trace_type_name(ev->type));
	if (ev->type == TDXSIM_EV_FAULT)
		fprintf(out, "rule %-2d on %-17s", ev->fault_rule,
			ev->leaf == TDXSIM_FAULT_PAGE_ALLOC ? "page alloc" :
			fault_leaf_info(ev->leaf) ? fault_leaf_info(ev->leaf)->name : "?");
	else
		fprintf(out, "%-26.*s", (int)strcspn(name, " "), name);
	if (event_gpa(ev, &gpa))
		fprintf(out, " gpa %#llx %s", gpa,
			(ev->in.rcx & 7) == 0 ? "4K" : (ev->in.rcx & 7) == 1 ? "2M" : "1G");
	switch (ev->type) {
	case TDXSIM_EV_SEAMCALL:
	case TDXSIM_EV_TDCALL:
		print_operands(out, ev);
		if (ev->type == TDXSIM_EV_TDCALL && ev->status == TDXSIM_TDCALL_TD_EXIT)
			fprintf(out, " -> TD exit");
		else
			fprintf(out, " -> %s", tdxsim_status_name(ev->status, sb, sizeof(sb)));
		if (ev->fault_rule >= 0)
			fprintf(out, " (injected by rule %d)", ev->fault_rule);
		break;
	case TDXSIM_EV_FAULT:
		if (ev->leaf == TDXSIM_FAULT_PAGE_ALLOC)
			fprintf(out, " page allocation fails (ENOMEM)");
		else if (ev->status)
			fprintf(out, " injects %s", tdxsim_status_name(ev->status, sb, sizeof(sb)));
		else
			fprintf(out, " raises an interrupt");
		break;
	case TDXSIM_EV_TD_ENTER:
	case TDXSIM_EV_TD_EXIT:
		fprintf(out, " vcpu %#llx", ev->tdvpr);
		if (ev->exit_reason)
			fprintf(out, " exit reason %u", ev->exit_reason);
		break;
	default:
		break;
	}
	fputc('\n', out);
}

static int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "leaf", required_argument, NULL, 'l' },
		{ "gpa", required_argument, NULL, 'g' },
		{ "status", required_argument, NULL, 's' },
		{ "type", required_argument, NULL, 't' },
		{ "thread", required_argument, NULL, 'T' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct filter flt = { .leaf = -1, .type = -1, .thread = -1 };
	const char *format = "pretty", *outpath = NULL, *path;
	char *line = NULL, *end, buf[1024];
	size_t cap = 0, lineno = 0, shown = 0;
	FILE *in, *out = stdout;
	int c, implied = -1;
	ssize_t len;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			flt.leaf = parse_leaf(optarg, &implied);
			if (flt.type < 0)
				flt.type = implied;
			break;
		case 'g':
			flt.gpa_start = strtoull(optarg, &end, 0);
			flt.gpa_end = flt.gpa_start + 1;
			if (*end == '-')
				flt.gpa_end = strtoull(end + 1, &end, 0);
			if (*end || flt.gpa_end <= flt.gpa_start)
				errx(2, "--gpa: expected A or A-B with B > A, got '%s'", optarg);
			break;
		case 's':
			if (tdxsim_status_parse(optarg, &flt.status))
				errx(2, "--status: unknown status '%s' (e.g. TDX_OPERAND_BUSY|SEPT)",
				     optarg);
			flt.has_status = true;
			flt.status_exact = strchr(optarg, '|') || TDX_OPERAND(flt.status);
			break;
		case 't':
			flt.type = parse_type(optarg);
			break;
		case 'T':
			flt.thread = (int)strtol(optarg, &end, 0);
			if (*end || flt.thread < 0)
				errx(2, "--thread: expected a thread number, got '%s'", optarg);
			break;
		case 'f':
			format = optarg;
			if (strcmp(format, "pretty") && strcmp(format, "text") && strcmp(format, "json"))
				errx(2, "--format: expected pretty, text or json, got '%s'", format);
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	path = argv[optind];
	in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!in)
		err(1, "%s", path);
	if (outpath && !(out = fopen(outpath, "w")))
		err(1, "%s", outpath);
	if (!strcmp(format, "json"))
		fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", out);
	while ((len = getline(&line, &cap, in)) != -1) {
		struct tdxsim_trace_event ev;
		char *l = line;

		lineno++;
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || *l == '\n' || !strncmp(l, "{\"displayTimeUnit\"", 18) || *l == ']')
			continue;
		if (tdxsim_trace_parse_line(l, &ev)) {
			l[strcspn(l, "\n")] = '\0';
			errx(1, "%s:%zu: not a tdxsim trace event: '%.60s'", path, lineno, l);
		}
		if (!keep(&flt, &ev))
			continue;
		if (!strcmp(format, "pretty"))
			print_pretty(out, &ev);
		else if (!strcmp(format, "text"))
			fprintf(out, "%s\n", tdxsim_trace_format_text(&ev, buf, sizeof(buf)));
		else
			fprintf(out, "%s%s", shown ? ",\n" : "",
				tdxsim_trace_format_json(&ev, buf, sizeof(buf)));
		shown++;
	}
	if (!strcmp(format, "json"))
		fputs("\n]}\n", out);
	free(line);
	if (in != stdin)
		fclose(in);
	if (out != stdout && fclose(out))
		err(1, "%s", outpath);
	return 0;
}

/* Every leaf the library implements, from its leaf table. */
static int cmd_leaves(int argc, char **argv)
{
	const struct tdxsim_leaf_info *li;

	if (argc > 1) {
		fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
			"usage: tdxsim leaves\n\nList every SEAMCALL and TDCALL leaf: number, "
			"highest version, name, the name a\nTDXSIM_FAULTS rule gives it, and the "
			"input registers it reads.\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	printf("%-8s %4s %3s  %-24s %-12s %s\n", "kind", "leaf", "ver", "name", "fault", "inputs");
	for (li = tdxsim_leaf_info_next(NULL); li; li = tdxsim_leaf_info_next(li)) {
		printf("%-8s %4u %3u  %-24s %-12s", li->tdcall ? "tdcall" : "seamcall", li->leaf,
		       li->max_version, li->name, li->fault_name);
		for (unsigned int i = 0; i < li->nr_operands; i++) {
			const char *reg = tdxsim_operand_name(li->operands[i].reg);
			char lower[16];
			size_t n;

			for (n = 0; reg && reg[n] && n < sizeof(lower) - 1; n++)
				lower[n] = (char)(reg[n] | 0x20);
			lower[n] = '\0';
			printf(" %s=%s", lower, li->operands[i].name);
		}
		putchar('\n');
	}
	return 0;
}

static void main_usage(FILE *f)
{
	fprintf(f,
		"usage: tdxsim COMMAND [options]\n"
		"\n"
		"commands:\n"
		"  trace FILE    print, filter and convert a trace (tdxsim trace --help)\n"
		"  leaves        list every leaf: number, version, name, fault name, inputs\n"
		"  failnth -- PROGRAM [ARGS...]\n"
		"                make each allocation and SEAMCALL of PROGRAM fail once and report\n"
		"                crashes, hangs, leaked pages (tdxsim failnth --help)\n"
		"  run FILE|DIR...\n"
		"                run scenario files (doc/scenario.md; tdxsim run --help)\n"
		"  shell         the scenario language, typed in (help inside)\n"
		"\n"
		"The library reads TDXSIM_FAULTS, TDXSIM_SEED, TDXSIM_TRACE and TDXSIM_REPORT from the\n"
		"environment of any program linked with it.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		main_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		main_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "trace"))
		return cmd_trace(argc - 1, argv + 1);
	if (!strcmp(argv[1], "leaves"))
		return cmd_leaves(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return tdxsim_cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "shell"))
		return tdxsim_cmd_shell(argc - 1, argv + 1);
	if (!strcmp(argv[1], "failnth"))
		return cmd_failnth(argc - 1, argv + 1);
	fprintf(stderr, "tdxsim: unknown command '%s'\n", argv[1]);
	main_usage(stderr);
	return 2;
}
