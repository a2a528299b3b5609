// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scenario parser: one command a line, `#` comments, words, "strings",
 * key=value, `=> RESULT`; validated against the command table
 * (commands.c).  Every error names FILE:LINE:COL, what was expected and
 * what was found; nothing in the input can crash it (tests/fuzz/
 * fuzz_scenario.c).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/fault.h>
#include <tdxsim-kvm/scenario.h>
#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/check.h>

#define MAX_LINE	4096	/* bytes a line may have */
#define MAX_TOKENS	64	/* tokens a line may have */
#define MAX_MARKS	256	/* distinct mark names */
#define SHOW		40	/* characters of a bad token shown in a message */
#define MAX_DEPTH	4	/* blocks open at once */
#define MAX_VMS		4	/* VMs of one scenario (the first and its siblings) */

enum tok_kind { TOK_WORD, TOK_STRING, TOK_KV, TOK_ARROW };

struct token {
	enum tok_kind kind;
	const char *s;		/* word, string body, or key */
	size_t n;
	const char *v;		/* TOK_KV: value */
	size_t vn;
	unsigned int col, vcol;
};

struct parser {
	const char *file;
	char *err;
	size_t errlen;
	int ret;		/* -EINVAL or -EAGAIN once an error is recorded */
	unsigned int line;
	struct tdxsim_scenario *scn;
	bool vm_created;	/* a `vm` or a command that needs the VM came before */
	unsigned int vm_line;
	char *marks[MAX_MARKS];
	unsigned int nr_marks;
	struct tdxsim *fault_sim;	/* to validate fault rules, created on first use */
	char *vms[MAX_VMS];		/* names of the VMs created so far */
	unsigned int nr_vms;
	/* open blocks, innermost last: guest/thread inside repeat, repeat inside repeat */
	struct {
		struct tdxsim_scn_cmd *cmd;
		struct tdxsim_scn_block *outer;	/* where commands go after its `end` */
	} open[MAX_DEPTH];
	unsigned int depth;
	unsigned int repeats;		/* open repeat blocks */
	struct tdxsim_scn_block *cur;	/* where the next command goes */
};

/* The context of the next command: the innermost open guest/thread, else the top level. */
static unsigned int cur_where(const struct parser *p)
{
	if (!p->depth)
		return TDXSIM_SCN_TOP;
	switch (p->open[p->depth - 1].cmd->info->id) {
	case TDXSIM_CMD_GUEST:
		return TDXSIM_SCN_GUEST;
	case TDXSIM_CMD_THREAD:
		return TDXSIM_SCN_THREAD;
	default:
		return TDXSIM_SCN_TOP;	/* repeat: its body is top-level commands */
	}
}

/* "got" text of a token: printable, cut to SHOW characters. */
static void show(char *buf, size_t len, const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 4 < len && i < SHOW; i++)
		buf[k++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (n > SHOW && k + 4 < len) {
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = '\0';
}

static int __attribute__((format(printf, 4, 5)))
error_at(struct parser *p, unsigned int col, int ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->ret)
		return p->ret;
	p->ret = ret;
	if (!p->err || !p->errlen)
		return ret;
	n = snprintf(p->err, p->errlen, "%s:%u:%u: ", p->file, p->line, col);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* "expected WHAT, got 'TOKEN'" for a token. */
static int bad_token(struct parser *p, unsigned int col, const char *s, size_t n,
		     const char *what)
{
	char got[SHOW + 8];

	show(got, sizeof(got), s, n);
	return error_at(p, col, -EINVAL, "expected %s, got '%s'", what, got);
}

/* ---- tokens ---- */

static bool is_ident_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || c == '_' || (!first && ((c >= '0' && c <= '9') || c == '-'));
}

/*
 * Split one line into tokens.  Returns the count, or -1 after recording an
 * error.  A `#` starts a comment only at the start of a token, so
 * "demote#2" is one word.
 */
static int tokenize(struct parser *p, const char *line, size_t len, struct token *t)
{
	size_t i = 0;
	int nt = 0;

	while (i < len) {
		unsigned char c = (unsigned char)line[i];
		size_t start;

		if (c == ' ' || c == '\t' || c == '\r') {
			i++;
			continue;
		}
		if (c == '#')
			break;
		if (nt == MAX_TOKENS) {
			error_at(p, (unsigned int)i + 1, -EINVAL,
				 "expected at most %d words on a line, got more", MAX_TOKENS);
			return -1;
		}
		start = i;
		if (c == '"') {
			for (i++; i < len && line[i] != '"'; i++) {
				unsigned char d = (unsigned char)line[i];

				if (d < 0x20 || d == 0x7f) {
					error_at(p, (unsigned int)i + 1, -EINVAL,
						 "expected a printable character in a string, got byte 0x%02x",
						 d);
					return -1;
				}
			}
			if (i >= len) {
				error_at(p, (unsigned int)start + 1, -EINVAL,
					 "expected a closing '\"', got the end of the line");
				return -1;
			}
			t[nt] = (struct token){ .kind = TOK_STRING, .s = line + start + 1,
						.n = i - start - 1, .col = (unsigned int)start + 1 };
			i++;
			if (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
				error_at(p, (unsigned int)i + 1, -EINVAL,
					 "expected a space after the string, got '%c'",
					 isprint((unsigned char)line[i]) ? line[i] : '?');
				return -1;
			}
			nt++;
			continue;
		}
		for (; i < len; i++) {
			unsigned char d = (unsigned char)line[i];

			if (d == ' ' || d == '\t' || d == '\r')
				break;
			if (d < 0x20 || d >= 0x7f) {
				error_at(p, (unsigned int)i + 1, -EINVAL,
					 "expected a printable ASCII character, got byte 0x%02x", d);
				return -1;
			}
		}
		t[nt] = (struct token){ .kind = TOK_WORD, .s = line + start, .n = i - start,
					.col = (unsigned int)start + 1 };
		if (t[nt].n == 2 && !memcmp(t[nt].s, "=>", 2)) {
			t[nt].kind = TOK_ARROW;
		} else if (is_ident_char(t[nt].s[0], true)) {
			size_t k = 1;

			while (k < t[nt].n && is_ident_char(t[nt].s[k], false))
				k++;
			if (k < t[nt].n && t[nt].s[k] == '=') {
				t[nt].kind = TOK_KV;
				t[nt].v = t[nt].s + k + 1;
				t[nt].vn = t[nt].n - k - 1;
				t[nt].vcol = t[nt].col + (unsigned int)k + 1;
				t[nt].n = k;
				if (!t[nt].vn) {
					error_at(p, t[nt].vcol, -EINVAL,
						 "expected a value after '%.*s=', got nothing",
						 (int)k, t[nt].s);
					return -1;
				}
			}
		}
		nt++;
	}
	return nt;
}

static bool tok_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && !memcmp(s, word, n);
}

static bool tok_is_nocase(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && !strncasecmp(s, word, n);
}

/* ---- values ---- */

/* A number: decimal or 0x hex, an optional K/M/G/T (binary) suffix. */
static int parse_num(const char *s, size_t n, u64 *out)
{
	u64 v = 0, mul = 1;
	size_t i = 0;
	int base = 10;

	if (n && strchr("kKmMgGtT", s[n - 1])) {
		switch (s[n - 1] | 0x20) {
		case 'k': mul = 1ULL << 10; break;
		case 'm': mul = 1ULL << 20; break;
		case 'g': mul = 1ULL << 30; break;
		default: mul = 1ULL << 40; break;
		}
		n--;
	}
	if (n > 2 && s[0] == '0' && (s[1] | 0x20) == 'x') {
		base = 16;
		i = 2;
	}
	if (i >= n)
		return -EINVAL;
	for (; i < n; i++) {
		unsigned int d;

		if (s[i] >= '0' && s[i] <= '9')
			d = (unsigned int)(s[i] - '0');
		else if (base == 16 && (s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')
			d = (unsigned int)((s[i] | 0x20) - 'a' + 10);
		else if (s[i] == '_')
			continue;	/* 0x4000_0000 */
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / (u64)base)
			return -ERANGE;
		v = v * (u64)base + d;
	}
	if (mul > 1 && v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

static const struct { const char *name; int err; } errnos[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EINTR", EINTR }, { "EIO", EIO },
	{ "E2BIG", E2BIG }, { "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM }, { "EFAULT", EFAULT },
	{ "EBUSY", EBUSY }, { "EEXIST", EEXIST }, { "EINVAL", EINVAL }, { "ENOSPC", ENOSPC },
	{ "ERANGE", ERANGE }, { "EDEADLK", EDEADLK }, { "ENOSYS", ENOSYS },
	{ "EOPNOTSUPP", EOPNOTSUPP }, { "ETIMEDOUT", ETIMEDOUT }, { "ECANCELED", ECANCELED },
	{ "EHWPOISON", EHWPOISON }, { "ENODEV", ENODEV }, { "ENOTRECOVERABLE", ENOTRECOVERABLE },
};

static int parse_errno(const char *s, size_t n, s64 *out)
{
	u64 v;

	if (tok_is(s, n, "0")) {
		*out = 0;
		return 0;
	}
	if (n < 2 || s[0] != '-')
		return -EINVAL;
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		if (tok_is(s + 1, n - 1, errnos[i].name)) {
			*out = -errnos[i].err;
			return 0;
		}
	}
	if (parse_num(s + 1, n - 1, &v) || v == 0 || v > 4095)
		return -EINVAL;
	*out = -(s64)v;
	return 0;
}

static const struct { const char *name; u64 bit; } features[] = {
	{ "dynamic_pamt", TDX_FEATURES0_DYNAMIC_PAMT },
	{ "enhanced_demote_interruptibility", TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY },
	{ "no_rbp_mod", TDX_FEATURES0_NO_RBP_MOD },
};

static bool mark_known(struct parser *p, const char *s, size_t n)
{
	for (unsigned int i = 0; i < p->nr_marks; i++) {
		if (tok_is(s, n, p->marks[i]))
			return true;
	}
	return false;
}

/* LEAF or LEAF#N into @v; 0, or -EINVAL with *@what naming the problem. */
static int parse_leaf(const char *s, size_t n, bool nth_ok, struct tdxsim_scn_val *v,
		      const char **what)
{
	const struct tdxsim_leaf_info *li;
	char name[64];
	const char *hash = memchr(s, '#', n);
	size_t ln = hash ? (size_t)(hash - s) : n;

	*what = nth_ok ? "a leaf, or LEAF#N (demote, demote#2, TDH.MEM.PAGE.AUG#1)" :
			 "a leaf (demote, aug, accept, TDH.MEM.TRACK; `tdxsim leaves`)";
	if (hash && !nth_ok)
		return -EINVAL;
	if (!ln || ln >= sizeof(name))
		return -EINVAL;
	memcpy(name, s, ln);
	name[ln] = '\0';
	li = tdxsim_leaf_info_find(name);
	if (!li)
		return -EINVAL;
	v->leaf = li->leaf;
	v->tdcall = li->tdcall;
	v->nth = 0;
	if (hash) {
		u64 k;

		*what = "LEAF#N with N >= 1";
		if (parse_num(hash + 1, n - ln - 1, &k) || !k || k > UINT32_MAX)
			return -EINVAL;
		v->nth = (unsigned int)k;
	}
	return 0;
}

static int parse_fault(struct parser *p, const char *s, size_t n, unsigned int col)
{
	struct tdxsim_config cfg;
	char spec[512], msg[160];
	int r;

	if (n >= sizeof(spec))
		return bad_token(p, col, s, n, "a fault rule shorter than 512 characters");
	if (memchr(s, ';', n))
		return bad_token(p, col, s, n, "one fault rule per `inject` (no ';')");
	if (!p->fault_sim) {
		/* The rule syntax belongs to libtdxsim: ask it, on a minimal simulator. */
		tdxsim_config_init(&cfg);
		cfg.mem_size = 2ULL << 20;
		p->fault_sim = tdxsim_create(&cfg);
		if (!p->fault_sim)
			return error_at(p, col, -ENOMEM,
					"expected to validate the fault rule, got no simulator (%s)",
					strerror(errno));
	}
	memcpy(spec, s, n);
	spec[n] = '\0';
	msg[0] = '\0';
	r = tdxsim_fault_parse(p->fault_sim, spec, msg, sizeof(msg));
	tdxsim_fault_clear(p->fault_sim);
	if (r == 1)
		return 0;
	if (r == 0)
		return bad_token(p, col, s, n, "a fault rule (LEAF:ACTION[:OPTION...])");
	return error_at(p, col, -EINVAL, "expected a fault rule (LEAF:ACTION[:OPTION...]), got "
			"'%.*s': %s", (int)(n > SHOW ? SHOW : n), s, msg);
}

/* Parse @s as @a's type into @v (loc set by the caller). */
static int parse_value(struct parser *p, const struct tdxsim_scn_arg_info *a, const char *s,
		       size_t n, unsigned int col, bool is_string, struct tdxsim_scn_val *v)
{
	const char *what = NULL;
	int r;

	if (is_string != (a->type == TDXSIM_SCN_STRING))
		return bad_token(p, col, s, n, is_string ? "a word, not a string" :
				 "a string in double quotes");
	switch (a->type) {
	case TDXSIM_SCN_NUM:
	case TDXSIM_SCN_GPA:
	case TDXSIM_SCN_SIZE:
		r = parse_num(s, n, &v->u);
		if (r == -ERANGE)
			return bad_token(p, col, s, n, "a number below 2^64");
		if (r)
			return bad_token(p, col, s, n, "a number (12, 0x1f, 4K, 2M, 1G)");
		if (a->type == TDXSIM_SCN_GPA && (v->u & 4095))
			return bad_token(p, col, s, n, "a 4K-aligned GPA");
		if (a->type == TDXSIM_SCN_SIZE && (!v->u || (v->u & 4095)))
			return bad_token(p, col, s, n, "a size that is a non-zero multiple of 4K");
		return 0;
	case TDXSIM_SCN_LEVEL:
		if (tok_is_nocase(s, n, "4k"))
			v->u = PG_LEVEL_4K;
		else if (tok_is_nocase(s, n, "2m"))
			v->u = PG_LEVEL_2M;
		else if (tok_is_nocase(s, n, "1g"))
			v->u = PG_LEVEL_1G;
		else
			return bad_token(p, col, s, n, "a level: 4k, 2m or 1g");
		return 0;
	case TDXSIM_SCN_CHOICE: {
		const char *c = a->choices;
		unsigned int idx = 0;
		char exp[160];

		while (*c) {
			size_t len = strcspn(c, "|");

			if (len == n && !strncasecmp(c, s, n)) {
				v->u = idx;
				return 0;
			}
			c += len;
			if (*c)
				c++;
			idx++;
		}
		if (strchr(a->choices, '|'))
			snprintf(exp, sizeof(exp), "one of %s", a->choices);
		else
			snprintf(exp, sizeof(exp), "the word '%s'", a->choices);
		return bad_token(p, col, s, n, exp);
	}
	case TDXSIM_SCN_ONOFF:
		if (tok_is_nocase(s, n, "on") || tok_is_nocase(s, n, "yes") ||
		    tok_is_nocase(s, n, "true") || tok_is(s, n, "1"))
			v->u = 1;
		else if (tok_is_nocase(s, n, "off") || tok_is_nocase(s, n, "no") ||
			 tok_is_nocase(s, n, "false") || tok_is(s, n, "0"))
			v->u = 0;
		else
			return bad_token(p, col, s, n, "on or off");
		return 0;
	case TDXSIM_SCN_WORD:
	case TDXSIM_SCN_STRING:
		return 0;
	case TDXSIM_SCN_LEAF:
	case TDXSIM_SCN_LEAF_NTH:
		if (parse_leaf(s, n, a->type == TDXSIM_SCN_LEAF_NTH, v, &what))
			return bad_token(p, col, s, n, what);
		return 0;
	case TDXSIM_SCN_EVENT:
		if (!parse_leaf(s, n, true, v, &what))
			return 0;
		if (mark_known(p, s, n)) {
			v->leaf = ~0U;
			return 0;
		}
		return bad_token(p, col, s, n, "a leaf, LEAF#N, or the name of an earlier mark");
	case TDXSIM_SCN_VMNAME:
		for (unsigned int i = 0; i < p->nr_vms; i++) {
			if (tok_is(s, n, p->vms[i]))
				return 0;
		}
		return bad_token(p, col, s, n, "the name of a VM created before (vm NAME)");
	case TDXSIM_SCN_MARK:
		if (mark_known(p, s, n) || (a->def && tok_is(s, n, a->def)))
			return 0;
		return bad_token(p, col, s, n, "the name of an earlier mark");
	case TDXSIM_SCN_STATUS: {
		char buf[96];

		if (n >= sizeof(buf))
			return bad_token(p, col, s, n, "a TDX status");
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (tdxsim_status_parse(buf, &v->u))
			return bad_token(p, col, s, n,
					 "a TDX status (TDX_SUCCESS, TDX_OPERAND_BUSY|SEPT, 0x8000...)");
		return 0;
	}
	case TDXSIM_SCN_OP:
		if (tok_is(s, n, "=") || tok_is(s, n, "=="))
			v->u = TDXSIM_OP_EQ;
		else if (tok_is(s, n, "!="))
			v->u = TDXSIM_OP_NE;
		else if (tok_is(s, n, "<"))
			v->u = TDXSIM_OP_LT;
		else if (tok_is(s, n, "<="))
			v->u = TDXSIM_OP_LE;
		else if (tok_is(s, n, ">"))
			v->u = TDXSIM_OP_GT;
		else if (tok_is(s, n, ">="))
			v->u = TDXSIM_OP_GE;
		else
			return bad_token(p, col, s, n, "a comparison: = != < <= > >=");
		return 0;
	case TDXSIM_SCN_ERRNO:
		if (parse_errno(s, n, &v->i))
			return bad_token(p, col, s, n, "0 or a negative errno (-ENOMEM, -EIO, -12)");
		return 0;
	case TDXSIM_SCN_FAULT:
		return parse_fault(p, s, n, col);
	case TDXSIM_SCN_FEATURES: {
		size_t i = 0;

		v->u = 0;
		v->i = 0;
		while (i < n) {
			size_t len = i;
			bool found = false;

			while (len < n && s[len] != ',')
				len++;
			if (len - i < 2 || (s[i] != '+' && s[i] != '-'))
				return bad_token(p, col + (unsigned int)i, s + i, len - i,
						 "+name or -name of a feature (dynamic_pamt, "
						 "enhanced_demote_interruptibility, no_rbp_mod)");
			for (size_t f = 0; f < sizeof(features) / sizeof(features[0]); f++) {
				if (tok_is_nocase(s + i + 1, len - i - 1, features[f].name)) {
					if (s[i] == '+')
						v->u |= features[f].bit;
					else
						v->i |= (s64)features[f].bit;
					found = true;
				}
			}
			if (!found)
				return bad_token(p, col + (unsigned int)i + 1, s + i + 1, len - i - 1,
						 "a feature: dynamic_pamt, "
						 "enhanced_demote_interruptibility, no_rbp_mod");
			i = len + 1;
		}
		if (s[n - 1] == ',')
			return bad_token(p, col + (unsigned int)n, "", 0, "a feature after ','");
		return 0;
	}
	case TDXSIM_SCN_DEFECT: {
		/* the runtime names its switches (tdxsim_kvm_defect_lookup) */
		char name[64];
		int mask = -EINVAL;

		if (n < sizeof(name)) {
			memcpy(name, s, n);
			name[n] = '\0';
			mask = tdxsim_kvm_defect_lookup(name);
		}
		if (mask <= 0)
			return bad_token(p, col, s, n, "a defect switch (`tdxsim run --defects`)");
		v->u = (u64)mask;
		return 0;
	}
	case TDXSIM_SCN_FLAG:
		v->u = 1;
		return 0;
	}
	return bad_token(p, col, s, n, "a value");
}

/* ---- commands ---- */

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void free_val(struct tdxsim_scn_val *v)
{
	free(v->text);
}

static void free_block(struct tdxsim_scn_block *b);

static void free_cmd(struct tdxsim_scn_cmd *c)
{
	for (unsigned int i = 0; c->args && i < c->info->nr_args; i++)
		free_val(&c->args[i]);
	free(c->args);
	free_val(&c->ret);
	if (c->body) {
		free_block(c->body);
		free(c->body);
	}
}

static void free_block(struct tdxsim_scn_block *b)
{
	for (size_t i = 0; i < b->nr; i++)
		free_cmd(&b->cmds[i]);
	free(b->cmds);
	b->cmds = NULL;
	b->nr = b->cap = 0;
}

static struct tdxsim_scn_cmd *block_add(struct tdxsim_scn_block *b)
{
	if (b->nr == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct tdxsim_scn_cmd *c = realloc(b->cmds, cap * sizeof(*c));

		if (!c)
			return NULL;
		b->cmds = c;
		b->cap = cap;
	}
	memset(&b->cmds[b->nr], 0, sizeof(b->cmds[0]));
	return &b->cmds[b->nr++];
}

static int set_val(struct parser *p, const struct tdxsim_scn_arg_info *a, struct tdxsim_scn_val *v,
		   const char *s, size_t n, unsigned int col, bool is_string)
{
	int r;

	v->loc = (struct tdxsim_scn_loc){ p->line, col };
	r = parse_value(p, a, s, n, col, is_string, v);
	if (r)
		return r;
	v->given = true;
	v->text = dup_n(s, n);
	if (!v->text)
		return error_at(p, col, -ENOMEM, "expected memory, got none");
	return 0;
}

static const char *cmd_word(const struct tdxsim_scn_cmd_info *ci)
{
	return ci->name;
}

/* A command's tokens (after its name) against its table entry. */
static int bind_args(struct parser *p, struct tdxsim_scn_cmd *cmd, const struct token *t, int nt,
		     unsigned int name_col)
{
	const struct tdxsim_scn_cmd_info *ci = cmd->info;
	unsigned int pos = 0, n_pos;
	int r;

	for (int k = 0; k < nt; k++) {
		const struct token *tk = &t[k];
		const struct tdxsim_scn_arg_info *a = NULL;
		unsigned int ai = 0;

		if (tk->kind == TOK_ARROW) {
			const struct tdxsim_scn_arg_info ra = {
				"=>", TDXSIM_SCN_POS,
				tdxsim_scn_returns_status(ci) ? TDXSIM_SCN_STATUS : TDXSIM_SCN_ERRNO,
				NULL, NULL, NULL
			};

			if (!ci->returns)
				return error_at(p, tk->col, -EINVAL,
						"expected no '=>' after `%s` (it has no result), got '=>'",
						cmd_word(ci));
			if (k + 1 >= nt)
				return error_at(p, tk->col + 2, -EINVAL,
						"expected a result after '=>', got the end of the line");
			if (k + 2 < nt)
				return bad_token(p, t[k + 2].col, t[k + 2].s, t[k + 2].n,
						 "the end of the line after '=> RESULT'");
			tk = &t[k + 1];
			cmd->has_ret = true;
			if (tk->kind == TOK_WORD && tok_is(tk->s, tk->n, "any")) {
				cmd->ret_any = true;
				cmd->ret.loc = (struct tdxsim_scn_loc){ p->line, tk->col };
				break;
			}
			if (tk->kind == TOK_KV)
				return bad_token(p, tk->col, tk->s, tk->n + tk->vn + 1,
						 ra.type == TDXSIM_SCN_STATUS ? "a TDX status or any" :
						 "0, a negative errno, or any");
			r = set_val(p, &ra, &cmd->ret, tk->s, tk->n, tk->col, tk->kind == TOK_STRING);
			if (r)
				return r;
			break;	/* the result is the last word: defaults next */
		}
		if (tk->kind == TOK_KV) {
			for (ai = 0; ai < ci->nr_args; ai++) {
				if (ci->args[ai].kind == TDXSIM_SCN_KEY &&
				    tok_is(tk->s, tk->n, ci->args[ai].name)) {
					a = &ci->args[ai];
					break;
				}
			}
			if (!a) {
				char exp[256];
				size_t e = 0;

				e += (size_t)snprintf(exp, sizeof(exp), "a key of `%s`", ci->name);
				for (unsigned int j = 0, first = 1; j < ci->nr_args && e < sizeof(exp); j++) {
					if (ci->args[j].kind != TDXSIM_SCN_KEY)
						continue;
					e += (size_t)snprintf(exp + e, sizeof(exp) - e, "%s%s=",
							      first ? " (" : " ", ci->args[j].name);
					first = 0;
				}
				if (e < sizeof(exp))
					e += (size_t)snprintf(exp + e, sizeof(exp) - e, "%s",
							      strchr(exp, '(') ? ")" : ": it has none");
				return bad_token(p, tk->col, tk->s, tk->n + 1, exp);
			}
			if (cmd->args[ai].given)
				return error_at(p, tk->col, -EINVAL,
						"expected '%s=' once, got it again", a->name);
			r = set_val(p, a, &cmd->args[ai], tk->v, tk->vn, tk->vcol, false);
			if (r)
				return r;
			continue;
		}
		if (tk->kind == TOK_WORD) {
			for (ai = 0; ai < ci->nr_args; ai++) {
				if (ci->args[ai].kind == TDXSIM_SCN_BARE &&
				    tok_is(tk->s, tk->n, ci->args[ai].name)) {
					a = &ci->args[ai];
					break;
				}
			}
			if (a) {
				if (cmd->args[ai].given)
					return error_at(p, tk->col, -EINVAL,
							"expected '%s' once, got it again", a->name);
				r = set_val(p, a, &cmd->args[ai], tk->s, tk->n, tk->col, false);
				if (r)
					return r;
				continue;
			}
		}
		/* The next positional: the (pos)th POS entry of the table. */
		for (ai = 0, n_pos = 0; ai < ci->nr_args; ai++) {
			if (ci->args[ai].kind != TDXSIM_SCN_POS)
				continue;
			if (n_pos++ == pos)
				break;
		}
		if (ai >= ci->nr_args) {
			char syn[256];

			return bad_token(p, tk->col, tk->s, tk->kind == TOK_STRING ? tk->n : tk->n,
					 ci->nr_args ? (tdxsim_scn_synopsis(ci, syn, sizeof(syn)), syn) :
					 "the end of the line");
		}
		r = set_val(p, &ci->args[ai], &cmd->args[ai], tk->s, tk->n, tk->col,
			    tk->kind == TOK_STRING);
		if (r)
			return r;
		pos++;
	}
	/* Missing positionals, required keys; defaults. */
	for (unsigned int ai = 0; ai < ci->nr_args; ai++) {
		const struct tdxsim_scn_arg_info *a = &ci->args[ai];
		struct tdxsim_scn_val *v = &cmd->args[ai];
		unsigned int endcol = nt ? t[nt - 1].col + (unsigned int)(t[nt - 1].kind == TOK_KV ?
						t[nt - 1].n + 1 + t[nt - 1].vn : t[nt - 1].n) :
				       name_col + (unsigned int)strlen(ci->name);

		if (v->given)
			continue;
		if (!a->def) {
			if (a->kind == TDXSIM_SCN_POS)
				return error_at(p, endcol + 1, -EINVAL,
						"expected %s (%s) after `%s`, got the end of the line",
						a->type == TDXSIM_SCN_CHOICE ? a->choices : a->name,
						a->help, ci->name);
			/* memslot's gpa= and size= are required keys */
			if (a->kind == TDXSIM_SCN_KEY && ci->id == TDXSIM_CMD_MEMSLOT &&
			    (!strcmp(a->name, "gpa") || !strcmp(a->name, "size")))
				return error_at(p, endcol + 1, -EINVAL,
						"expected %s= (%s) in `%s`, got the end of the line",
						a->name, a->help, ci->name);
			continue;
		}
		r = parse_value(p, a, a->def, strlen(a->def), 0, a->type == TDXSIM_SCN_STRING, v);
		if (r)
			return r;	/* a bad default in the table: shows in the tests */
		v->text = strdup(a->def);
		if (!v->text)
			return error_at(p, 1, -ENOMEM, "expected memory, got none");
	}
	return 0;
}

/* Checks that need more than one argument. */
static int check_cmd(struct parser *p, struct tdxsim_scn_cmd *c)
{
	const struct tdxsim_scn_val *a = c->args;

	switch (c->info->id) {
	case TDXSIM_CMD_CONFIG: {
		bool any = false;

		for (unsigned int i = 0; i < c->info->nr_args; i++)
			any |= a[i].given;
		if (!any)
			return error_at(p, c->loc.col + 6, -EINVAL,
					"expected KEY=VALUE after `config` (mem= design= dpamt= ...), "
					"got the end of the line");
		if (a[4].given && (a[4].u < 1 || a[4].u > 8))
			return bad_token(p, a[4].loc.col, a[4].text, strlen(a[4].text),
					 "a vCPU count from 1 to 8");
		if (a[0].given && (a[0].u & ((2ULL << 20) - 1)))
			return bad_token(p, a[0].loc.col, a[0].text, strlen(a[0].text),
					 "a memory size that is a multiple of 2M");
		if (a[8].given && !a[8].u)
			return bad_token(p, a[8].loc.col, a[8].text, strlen(a[8].text),
					 "a budget of at least 1 step");
		if (a[9].given && (a[9].u < 1 || a[9].u > 256))
			return bad_token(p, a[9].loc.col, a[9].text, strlen(a[9].text),
					 "a CPU count from 1 to 256");
		if (a[14].given && a[14].u > 1000000)
			return bad_token(p, a[14].loc.col, a[14].text, strlen(a[14].text),
					 "a retry bound from 0 to 1000000");
		return 0;
	}
	case TDXSIM_CMD_MEMSLOT:
		if (a[0].u >= KVM_MEM_SLOTS_NUM)
			return bad_token(p, a[0].loc.col, a[0].text, strlen(a[0].text),
					 "a slot number from 0 to 31");
		if (a[3].given && a[4].given)
			return error_at(p, a[4].loc.col, -EINVAL,
					"expected one of mmio and no-tdmr, got both");
		if (a[6].given && (a[3].given || a[4].given || a[5].u))
			return error_at(p, a[6].loc.col, -EINVAL,
					"expected gmem= alone (the slot is that guest_memfd's), got it "
					"with mmio, no-tdmr or folios=");
		if (a[3].given && a[5].u)
			return error_at(p, a[5].loc.col, -EINVAL,
					"expected no folios= on an mmio slot (it has no guest_memfd), got folios=%s",
					a[5].text);
		if (a[4].given && a[5].u == 1)
			return error_at(p, a[5].loc.col, -EINVAL,
					"expected folios=2m on a no-tdmr slot (order 9 only), got folios=4k");
		return 0;
	case TDXSIM_CMD_FOLIO:
		if (a[2].u != 0 && a[2].u != 9)
			return bad_token(p, a[2].loc.col, a[2].text, strlen(a[2].text),
					 "order 0 or 9");
		if (a[2].u == 9 && ((a[0].u | a[1].u) & ((2ULL << 20) - 1)))
			return error_at(p, a[0].loc.col, -EINVAL,
					"expected a 2M-aligned GPA and size for order 9, got %s size=%s",
					a[0].text, a[1].text);
		return 0;
	case TDXSIM_CMD_SPLIT:
		if (a[2].u == PG_LEVEL_1G)
			return bad_token(p, a[2].loc.col, a[2].text, strlen(a[2].text),
					 "a target level of 4k or 2m");
		return 0;
	case TDXSIM_CMD_G_ACCEPT:
		if (a[1].u == PG_LEVEL_1G)
			return bad_token(p, a[1].loc.col, a[1].text, strlen(a[1].text),
					 "an ACCEPT level of 4k or 2m");
		if (a[1].u == PG_LEVEL_2M && (a[0].u & ((2ULL << 20) - 1)))
			return bad_token(p, a[0].loc.col, a[0].text, strlen(a[0].text),
					 "a 2M-aligned GPA for a 2m ACCEPT");
		return 0;
	case TDXSIM_CMD_REPEAT:
		if (!a[0].u || a[0].u > (1U << 24))
			return bad_token(p, a[0].loc.col, a[0].text, strlen(a[0].text),
					 "a count from 1 to 16M");
		return 0;
	case TDXSIM_CMD_GUEST:
		if (a[0].u >= 8)
			return bad_token(p, a[0].loc.col, a[0].text, strlen(a[0].text),
					 "a vCPU index from 0 to 7");
		return 0;
	case TDXSIM_CMD_MAP:
		if (a[1].u >= 8)
			return bad_token(p, a[1].loc.col, a[1].text, strlen(a[1].text),
					 "a vCPU index from 0 to 7");
		return 0;
	case TDXSIM_CMD_X_INHIBIT:
		if (a[1].u == PG_LEVEL_4K)
			return bad_token(p, a[1].loc.col, a[1].text, strlen(a[1].text),
					 "2m or 1g (4k has no lpage_info)");
		return 0;
	case TDXSIM_CMD_X_STATUS:
		if (a[1].u != TDXSIM_OP_EQ && a[1].u != TDXSIM_OP_NE)
			return bad_token(p, a[1].loc.col, a[1].text, strlen(a[1].text),
					 "= or != (statuses are not ordered)");
		return 0;
	case TDXSIM_CMD_X_BUGGED: {
		const char *w = a[0].text;

		if (!strcmp(w, "any") || !strcmp(w, "KVM_BUG_ON"))
			return 0;
		if (!strncmp(w, "TDX_BUG_ON(", 11) && strlen(w) > 12 && w[strlen(w) - 1] == ')') {
			struct tdxsim_scn_val lv;
			const char *what;

			if (!parse_leaf(w + 11, strlen(w) - 12, false, &lv, &what))
				return 0;
			return bad_token(p, a[0].loc.col + 11, w + 11, strlen(w) - 12, what);
		}
		return bad_token(p, a[0].loc.col, w, strlen(w),
				 "any, KVM_BUG_ON or TDX_BUG_ON(LEAF)");
	}
	case TDXSIM_CMD_X_PROVENANCE:
		if (a[1].given && kvm_page_pool_lookup(a[1].text) < 0)
			return bad_token(p, a[1].loc.col, a[1].text, strlen(a[1].text),
					 "a pool: split-sp mmu-cache vcpu-prealloc split-cache "
					 "pamt-pair guest-folio sept-page other");
		return 0;
	case TDXSIM_CMD_X_INVARIANT: {
		const char *w = a[0].text;
		u64 k;

		if ((w[0] == 'I' || w[0] == 'i') && w[1] && !parse_num(w + 1, strlen(w + 1), &k) &&
		    k >= 1 && k <= 19)
			return 0;
		if (w[0] == 'I' && !strcmp(w, "I7a"))
			return 0;
		for (int inv = 0; inv < KVM_INV_NR; inv++) {
			if (!strcmp(w, kvm_check_inv_name((enum kvm_check_inv)inv)))
				return 0;
		}
		return bad_token(p, a[0].loc.col, w, strlen(w),
				 "an invariant: I1..I19, I7a, or a checker name (sept-mismatch, module, ...)");
	}
	default:
		return 0;
	}
}

static int add_mark(struct parser *p, const char *s, size_t n, unsigned int col)
{
	if (mark_known(p, s, n))
		return error_at(p, col, -EINVAL, "expected a new mark name, got '%.*s' again",
				(int)(n > SHOW ? SHOW : n), s);
	if (tok_is(s, n, "now"))
		return bad_token(p, col, s, n, "a mark name other than 'now'");
	if (p->nr_marks == MAX_MARKS)
		return error_at(p, col, -EINVAL, "expected at most %d marks, got more", MAX_MARKS);
	p->marks[p->nr_marks] = dup_n(s, n);
	if (!p->marks[p->nr_marks])
		return error_at(p, col, -ENOMEM, "expected memory, got none");
	p->nr_marks++;
	return 0;
}

static int add_vm(struct parser *p, const struct tdxsim_scn_val *name, unsigned int col)
{
	unsigned int c = name->given ? name->loc.col : col;

	for (unsigned int i = 0; i < p->nr_vms; i++) {
		if (!strcmp(p->vms[i], name->text))
			return error_at(p, c, -EINVAL, "expected a new VM name (vm NAME), got '%s' "
					"again", p->vms[i]);
	}
	if (p->nr_vms == MAX_VMS)
		return error_at(p, c, -EINVAL, "expected at most %d VMs, got more", MAX_VMS);
	p->vms[p->nr_vms] = strdup(name->text);
	if (!p->vms[p->nr_vms])
		return error_at(p, c, -ENOMEM, "expected memory, got none");
	p->nr_vms++;
	if (!p->vm_created) {
		p->vm_created = true;
		p->vm_line = p->line;
	}
	return 0;
}

/* The header comment: "# S13a: title", "# thread: ref". */
static void header_line(struct parser *p, const char *line, size_t len)
{
	const char *s = line, *e = line + len;
	char *txt;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	if (s == e || *s != '#')
		return;
	s++;
	while (s < e && (*s == ' ' || *s == '\t' || *s == '#'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	if (s == e)
		return;
	for (const char *q = s; q < e; q++) {
		if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
			return;	/* headers are shown: keep them printable */
	}
	if (!p->scn->thread_ref && e - s > 7 && !strncasecmp(s, "thread:", 7)) {
		s += 7;
		while (s < e && *s == ' ')
			s++;
		p->scn->thread_ref = dup_n(s, (size_t)(e - s));
		return;
	}
	if (p->scn->title)
		return;
	txt = dup_n(s, (size_t)(e - s));
	if (!txt)
		return;
	{
		/* "S13a: title": an id is one word without spaces before ':' */
		char *colon = strchr(txt, ':');

		if (colon && colon > txt && !memchr(txt, ' ', (size_t)(colon - txt)) &&
		    colon[1] == ' ') {
			p->scn->id = dup_n(txt, (size_t)(colon - txt));
			p->scn->title = strdup(colon + 2);
			free(txt);
		} else {
			p->scn->title = txt;
		}
	}
}

static int parse_line(struct parser *p, const char *line, size_t len)
{
	struct token t[MAX_TOKENS];
	const struct tdxsim_scn_cmd_info *ci = NULL;
	struct tdxsim_scn_cmd *cmd;
	unsigned int where;
	char name[64];
	int nt, used;

	if (len > MAX_LINE)
		return error_at(p, MAX_LINE + 1, -EINVAL,
				"expected a line of at most %d characters, got %zu", MAX_LINE, len);
	nt = tokenize(p, line, len, t);
	if (nt < 0)
		return p->ret;
	if (nt == 0)
		return 0;
	if (t[0].kind != TOK_WORD)
		return bad_token(p, t[0].col, t[0].s, t[0].kind == TOK_KV ? t[0].n + 1 + t[0].vn :
				 t[0].n, "a command (`help` in `tdxsim shell` lists them)");
	used = 1;
	if (tok_is(t[0].s, t[0].n, "expect")) {
		if (nt < 2 || t[1].kind != TOK_WORD)
			return error_at(p, nt < 2 ? t[0].col + 6 : t[1].col, -EINVAL,
					"expected what to expect (level kvm sept attr inhibit calls "
					"status exits faults-fired refcount split-cache pages events order "
					"none provenance invariants invariant bugged not-bugged), got %s",
					nt < 2 ? "the end of the line" : "a non-word");
		if (t[1].n < 40) {
			snprintf(name, sizeof(name), "expect %.*s", (int)t[1].n, t[1].s);
			ci = tdxsim_scn_command_find(name);
		}
		if (!ci)
			return bad_token(p, t[1].col, t[1].s, t[1].n,
					 "an expectation (level kvm sept attr inhibit calls status "
					 "exits faults-fired refcount split-cache pages events order none "
					 "provenance invariants invariant bugged not-bugged)");
		used = 2;
	} else {
		where = cur_where(p);
		for (int i = 0; i < TDXSIM_CMD_NR && t[0].n < 40; i++) {
			if (tok_is(t[0].s, t[0].n, tdxsim_scn_commands[i].name) &&
			    (tdxsim_scn_commands[i].where & where)) {
				ci = &tdxsim_scn_commands[i];
				break;
			}
		}
		if (!ci) {
			for (int i = 0; i < TDXSIM_CMD_NR && t[0].n < 40; i++) {
				if (tok_is(t[0].s, t[0].n, tdxsim_scn_commands[i].name)) {
					ci = &tdxsim_scn_commands[i];
					break;
				}
			}
			if (ci)
				return error_at(p, t[0].col, -EINVAL, "expected %s, got `%s`",
						where == TDXSIM_SCN_GUEST ?
						"a guest operation (access accept convert spin) or `end`" :
						where == TDXSIM_SCN_THREAD ?
						"a host action (map convert punch split zap memory-failure "
						"mark inject expect) or `end`" :
						"a top-level command (this one belongs inside a guest block)",
						ci->name);
			return bad_token(p, t[0].col, t[0].s, t[0].n,
					 "a command (`help` in `tdxsim shell` lists them)");
		}
	}
	where = cur_where(p);
	if (!(ci->where & where))
		return error_at(p, t[0].col, -EINVAL, "expected %s, got `%s`",
				where == TDXSIM_SCN_GUEST ?
				"a guest operation (access accept convert spin) or `end`" :
				"a host action or `end` inside `thread`", ci->name);
	if (ci->group == TDXSIM_GRP_CONFIG && ci->id != TDXSIM_CMD_INJECT &&
	    ci->id != TDXSIM_CMD_SKIP && ci->id != TDXSIM_CMD_VM && p->vm_created)
		return error_at(p, t[0].col, -EINVAL,
				"expected `%s` before the VM is created (line %u), got it after",
				ci->name, p->vm_line);
	if (ci->needs_vm && !p->vm_created) {
		/* the implicit first VM, named main */
		p->vm_created = true;
		p->vm_line = p->line;
		p->vms[p->nr_vms] = strdup("main");
		if (!p->vms[p->nr_vms])
			return error_at(p, t[0].col, -ENOMEM, "expected memory, got none");
		p->nr_vms++;
	}
	if (ci->id == TDXSIM_CMD_END) {
		if (nt > 1)
			return bad_token(p, t[1].col, t[1].s, t[1].n, "the end of the line after `end`");
		if (!p->depth)
			return error_at(p, t[0].col, -EINVAL,
					"expected a top-level command (`end` closes nothing here), got `end`");
		p->depth--;
		if (p->open[p->depth].cmd->info->id == TDXSIM_CMD_REPEAT)
			p->repeats--;
		p->cur = p->open[p->depth].outer;
		return 0;
	}
	if (ci->id == TDXSIM_CMD_MARK && p->repeats)
		return error_at(p, t[0].col, -EINVAL,
				"expected no `mark` inside `repeat` (a mark names one point), got `mark`");
	if (ci->body_block && p->depth == MAX_DEPTH)
		return error_at(p, t[0].col, -EINVAL, "expected at most %d nested blocks, got more",
				MAX_DEPTH);
	cmd = block_add(p->cur);
	if (!cmd)
		return error_at(p, t[0].col, -ENOMEM, "expected memory, got none");
	cmd->info = ci;
	cmd->loc = (struct tdxsim_scn_loc){ p->line, t[0].col };
	cmd->args = ci->nr_args ? calloc(ci->nr_args, sizeof(*cmd->args)) : NULL;
	if (ci->nr_args && !cmd->args)
		return error_at(p, t[0].col, -ENOMEM, "expected memory, got none");
	if (bind_args(p, cmd, t + used, nt - used, t[used - 1].col))
		return p->ret;
	if (check_cmd(p, cmd))
		return p->ret;
	if (ci->id == TDXSIM_CMD_MARK &&
	    add_mark(p, cmd->args[0].text, strlen(cmd->args[0].text), cmd->args[0].loc.col))
		return p->ret;
	if (ci->id == TDXSIM_CMD_VM && add_vm(p, &cmd->args[0], t[0].col))
		return p->ret;
	if (ci->body_block) {
		cmd->body = calloc(1, sizeof(*cmd->body));
		if (!cmd->body)
			return error_at(p, t[0].col, -ENOMEM, "expected memory, got none");
		p->open[p->depth].cmd = cmd;
		p->open[p->depth].outer = p->cur;
		p->depth++;
		p->repeats += ci->id == TDXSIM_CMD_REPEAT;
		p->cur = cmd->body;
	}
	return 0;
}

void tdxsim_scenario_free(struct tdxsim_scenario *scn)
{
	if (!scn)
		return;
	free_block(&scn->top);
	free(scn->file);
	free(scn->id);
	free(scn->title);
	free(scn->thread_ref);
	free(scn);
}

int tdxsim_scenario_parse(const char *file, const char *text, size_t len,
			  struct tdxsim_scenario **out, char *err, size_t errlen)
{
	struct parser p = { .file = file ? file : "<input>", .err = err, .errlen = errlen };
	bool in_header = true;
	size_t i = 0;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	p.scn = calloc(1, sizeof(*p.scn));
	if (!p.scn)
		return -ENOMEM;
	p.scn->file = strdup(p.file);
	if (!p.scn->file) {
		free(p.scn);
		return -ENOMEM;
	}
	p.cur = &p.scn->top;
	while (i < len && !p.ret) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		const char *line = text + i;
		size_t k = 0;

		p.line++;
		while (k < n && (line[k] == ' ' || line[k] == '\t'))
			k++;
		if (in_header && k < n && line[k] == '#')
			header_line(&p, line, n);
		else if (k < n && line[k] != '\r')
			in_header = false;
		parse_line(&p, line, n);
		i += n + (nl ? 1 : 0);
	}
	if (!p.ret && p.depth) {
		const struct tdxsim_scn_cmd *open = p.open[p.depth - 1].cmd;

		p.line = p.line ? p.line : 1;
		error_at(&p, 1, -EAGAIN,
			 "expected `end` closing `%s` of line %u, got the end of the file",
			 open->info->name, open->loc.line);
	}
	p.scn->nr_lines = p.line;
	for (unsigned int m = 0; m < p.nr_marks; m++)
		free(p.marks[m]);
	for (unsigned int m = 0; m < p.nr_vms; m++)
		free(p.vms[m]);
	tdxsim_destroy(p.fault_sim);
	if (p.ret) {
		tdxsim_scenario_free(p.scn);
		return p.ret;
	}
	*out = p.scn;
	return 0;
}
