// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault injection (include/tdxsim/fault.h).  Rules are checked before a leaf
 * runs; firing decisions are a pure function of (seed, rule, match number),
 * so a single-threaded run fires the same faults for the same seed anywhere.
 */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include <tdxsim/fault.h>

#include "tdxsim-internal.h"

void tdxsim_fault_rule_init(struct tdxsim_fault_rule *r, unsigned int leaf,
			    enum tdxsim_fault_action action, u64 status)
{
	memset(r, 0, sizeof(*r));
	r->leaf = leaf;
	r->action = action;
	r->status = status;
	r->level = TDXSIM_FAULT_ANY;
	r->thread = TDXSIM_FAULT_ANY;
}

int tdxsim_fault_add(struct tdxsim *sim, const struct tdxsim_fault_rule *r)
{
	int id;

	/* NaN fails the range test; a STATUS rule must fail the call. */
	if (!r || !(r->probability >= 0 && r->probability <= 1) || r->gpa_end < r->gpa_start ||
	    (!!r->nth + !!r->every + (r->probability > 0)) > 1 ||
	    (r->action == TDXSIM_FAULT_STATUS && !(r->status & TDX_ERROR)))
		return -EINVAL;
	pthread_mutex_lock(&sim->fault_lock);
	id = sim->nr_faults;
	if (id >= TDXSIM_MAX_FAULT_RULES) {
		pthread_mutex_unlock(&sim->fault_lock);
		return -ENOSPC;
	}
	memset(&sim->faults[id], 0, sizeof(sim->faults[id]));
	sim->faults[id].rule = *r;
	__atomic_store_n(&sim->nr_faults, id + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sim->fault_lock);
	return id;
}

u64 tdxsim_fault_fired(struct tdxsim *sim, int id)
{
	if (id < 0 || id >= __atomic_load_n(&sim->nr_faults, __ATOMIC_ACQUIRE))
		return 0;
	return __atomic_load_n(&sim->faults[id].fired, __ATOMIC_RELAXED);
}

u64 tdxsim_fault_fired_total(struct tdxsim *sim)
{
	u64 n = 0;

	for (int i = 0; i < __atomic_load_n(&sim->nr_faults, __ATOMIC_ACQUIRE); i++)
		n += __atomic_load_n(&sim->faults[i].fired, __ATOMIC_RELAXED);
	return n;
}

int tdxsim_fault_nr_rules(struct tdxsim *sim)
{
	return __atomic_load_n(&sim->nr_faults, __ATOMIC_ACQUIRE);
}

void tdxsim_fault_clear(struct tdxsim *sim)
{
	pthread_mutex_lock(&sim->fault_lock);
	__atomic_store_n(&sim->nr_faults, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sim->fault_lock);
}

/* splitmix64: a counter-based generator, no shared state to race on. */
static u64 mix(u64 x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* The leaf table's entry for a rule's leaf (NULL for the page allocator). */
static const struct tdxsim_leaf_info *rule_leaf_info(unsigned int leaf)
{
	if (leaf & TDXSIM_FAULT_PAGE_ALLOC)
		return NULL;
	if (leaf & TDXSIM_FAULT_TDCALL)
		return tdxsim_tdcall_leaf_info(leaf & ~TDXSIM_FAULT_TDCALL);
	return tdxsim_leaf_info(leaf);
}

/* Leaves whose RCX is a GPA|level operand. */
static bool leaf_has_gpa(unsigned int leaf)
{
	const struct tdxsim_leaf_operand *op =
		tdxsim_leaf_operand(rule_leaf_info(leaf), TDXSIM_OPND_GPA);

	return op && op->reg == TDX_OPERAND_ID_RCX;
}

/* The TDR a call names, in the register the leaf takes it (RDX or RCX), or 0. */
static u64 leaf_tdr(unsigned int leaf, const struct tdx_module_args *a)
{
	const struct tdxsim_leaf_operand *op =
		tdxsim_leaf_operand(rule_leaf_info(leaf), TDXSIM_OPND_TDR);

	return op ? tdxsim_args_reg(a, op->reg) & ~TDX_TD_HANDLE_FLAG : 0;
}

static bool rule_matches(struct tdxsim *sim, const struct tdxsim_fault_rule *r,
			 unsigned int leaf, const struct tdx_module_args *a, u64 tdr)
{
	if (r->leaf != leaf)
		return false;
	if (r->thread != TDXSIM_FAULT_ANY && (unsigned int)r->thread != tdxsim_thread_id(sim))
		return false;
	if (r->gpa_start != r->gpa_end || r->level != TDXSIM_FAULT_ANY) {
		u64 gpa = a ? a->rcx & ~(TDX_PAGE_INFO_LEVEL_MASK | TDX_PAGE_INFO_RSVD_MASK) : 0;

		if (!a || !leaf_has_gpa(leaf))
			return false;
		if (r->gpa_start != r->gpa_end && (gpa < r->gpa_start || gpa >= r->gpa_end))
			return false;
		if (r->level != TDXSIM_FAULT_ANY &&
		    (int)(a->rcx & TDX_PAGE_INFO_LEVEL_MASK) != r->level)
			return false;
	}
	if (r->tdr_pa && (!a || (tdr ? tdr : leaf_tdr(leaf, a)) != r->tdr_pa))
		return false;
	return true;
}

static bool rule_fires(struct tdxsim *sim, int id, struct fault_state *fs)
{
	const struct tdxsim_fault_rule *r = &fs->rule;
	u64 n = __atomic_add_fetch(&fs->matches, 1, __ATOMIC_RELAXED);
	u64 fired;
	bool fire;

	if (r->nth)
		fire = n == r->nth;
	else if (r->every)
		fire = n % r->every == 0;
	else if (r->probability > 0)
		fire = (double)(mix(sim->cfg.seed ^ mix(((u64)id << 40) ^ n)) >> 11) <
		       r->probability * (double)(1ULL << 53);
	else
		fire = true;
	if (!fire)
		return false;
	fired = __atomic_load_n(&fs->fired, __ATOMIC_RELAXED);
	do {
		if (r->max_fires && fired >= r->max_fires)
			return false;
	} while (!__atomic_compare_exchange_n(&fs->fired, &fired, fired + 1, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return true;
}

/*
 * The first rule that fires for this call, or -1.  Called only when rules
 * exist; @a is NULL for the page allocator.
 */
int fault_check(struct tdxsim *sim, unsigned int leaf, const struct tdx_module_args *a)
{
	int nr = __atomic_load_n(&sim->nr_faults, __ATOMIC_ACQUIRE), fired = -1;

	for (int i = 0; i < nr; i++) {
		struct fault_state *fs = &sim->faults[i];

		if (!rule_matches(sim, &fs->rule, leaf, a, 0))
			continue;
		/* A call another rule failed still counts as a match of this one. */
		if (fired >= 0)
			__atomic_add_fetch(&fs->matches, 1, __ATOMIC_RELAXED);
		else if (rule_fires(sim, i, fs))
			fired = i;
	}
	return fired;
}

/* ---- TDXSIM_FAULTS syntax ---- */

struct parser {
	char *err;
	size_t errlen;
	unsigned int rule_no;
};

#define TOKEN_SHOWN	40

/*
 * A token as the message shows it: at most TOKEN_SHOWN characters, so the
 * "expected ..." part always fits, and control characters as '?', so the
 * message stays one line.
 */
void fault_quote_token(char *dst, size_t n, const char *tok)
{
	size_t i;

	for (i = 0; tok[i] && i < TOKEN_SHOWN && i + 1 < n; i++)
		dst[i] = (unsigned char)tok[i] < 0x20 || tok[i] == 0x7f ? '?' : tok[i];
	dst[i] = '\0';
	if (tok[i] && i + 4 < n)
		strcpy(dst + i, "...");
}

static int parse_error(struct parser *p, const char *tok, const char *expected)
{
	char shown[TOKEN_SHOWN + 4];

	fault_quote_token(shown, sizeof(shown), tok);
	if (p->err)
		snprintf(p->err, p->errlen, "rule %u: bad token '%s': expected %s", p->rule_no,
			 shown, expected);
	return -EINVAL;
}

static bool parse_u64(const char *s, u64 *v)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

/* A leaf's name or fault name (the leaf table), "alloc", or a leaf number. */
static int parse_leaf(struct parser *p, const char *tok, unsigned int *leaf)
{
	const struct tdxsim_leaf_info *li = tdxsim_leaf_info_find(tok);
	u64 v;

	if (li) {
		*leaf = li->leaf | (li->tdcall ? TDXSIM_FAULT_TDCALL : 0);
		return 0;
	}
	if (!strcasecmp(tok, "alloc")) {
		*leaf = TDXSIM_FAULT_PAGE_ALLOC;
		return 0;
	}
	if (parse_u64(tok, &v) && v < TDX_NR_LEAVES) {
		*leaf = (unsigned int)v;
		return 0;
	}
	return parse_error(p, tok, "a leaf name (aug, demote, remove, block, track, accept, alloc, ...; tdxsim leaves)");
}

static int parse_action(struct parser *p, char *tok, struct tdxsim_fault_rule *r)
{
	char *val = strchr(tok, '=');
	u32 id;
	u64 v;

	if (val)
		*val++ = '\0';
	if (!strcasecmp(tok, "busy") && val) {
		r->action = TDXSIM_FAULT_STATUS;
		if (!tdxsim_operand_parse(val, &id)) {
			r->status = TDX_OPERAND_BUSY | id;
			return 0;
		}
		if (parse_u64(val, &v) && v <= 0xFFFFFFFFULL) {
			r->status = TDX_OPERAND_BUSY | v;
			return 0;
		}
		return parse_error(p, val, "an operand (rcx, rdx, r8, r12, r13, sept, td_epoch, op_state, tdr)");
	}
	if (!strcasecmp(tok, "status") && val) {
		r->action = TDXSIM_FAULT_STATUS;
		/* A non-error status would make the call "succeed" without running. */
		if (tdxsim_status_parse(val, &r->status) || !(r->status & TDX_ERROR))
			return parse_error(p, val, "an error status name (TDX_OPERAND_BUSY|SEPT) or a number with bit 63 set");
		return 0;
	}
	if (val)
		val[-1] = '=';
	if (!strcasecmp(tok, "interrupted")) {
		r->action = TDXSIM_FAULT_STATUS;
		r->status = TDX_INTERRUPTED_RESTARTABLE;
	} else if (!strcasecmp(tok, "epoch_busy")) {
		r->action = TDXSIM_FAULT_STATUS;
		r->status = TDX_PREVIOUS_TLB_EPOCH_BUSY;
	} else if (!strcasecmp(tok, "interrupt")) {
		r->action = TDXSIM_FAULT_INTERRUPT;
	} else if (!strcasecmp(tok, "enomem")) {
		r->action = TDXSIM_FAULT_ENOMEM;
	} else {
		return parse_error(p, tok, "an action (busy=OPERAND, status=S, interrupted, epoch_busy, interrupt, enomem)");
	}
	return 0;
}

static int parse_option(struct parser *p, char *tok, struct tdxsim_fault_rule *r)
{
	char *val = strchr(tok, '='), *dash, *end;
	u64 v, v2;

	if (!val)
		return parse_error(p, tok, "an option (nth=N, every=K, p=P, max=N, gpa=A-B, level=L, td=T, thread=T)");
	*val++ = '\0';
	/* A second selector is the bad token: name it, not the rule's leaf. */
	if ((!strcasecmp(tok, "nth") || !strcasecmp(tok, "every") || !strcasecmp(tok, "p")) &&
	    (r->nth || r->every || r->probability > 0)) {
		val[-1] = '=';
		return parse_error(p, tok, "at most one of nth, every, p");
	}
	if (!strcasecmp(tok, "p")) {
		errno = 0;
		r->probability = strtod(val, &end);
		/* Written so that NaN fails too. */
		if (errno || *end || end == val || !(r->probability > 0 && r->probability <= 1))
			return parse_error(p, val, "a probability in (0, 1]");
		return 0;
	}
	if (!strcasecmp(tok, "gpa")) {
		dash = strchr(val, '-');
		if (!dash)
			return parse_error(p, val, "a GPA range START-END");
		*dash = '\0';
		if (!parse_u64(val, &v) || !parse_u64(dash + 1, &v2) || v2 <= v) {
			*dash = '-';
			return parse_error(p, val, "a GPA range START-END with END > START");
		}
		r->gpa_start = v;
		r->gpa_end = v2;
		return 0;
	}
	if (!parse_u64(val, &v))
		return parse_error(p, val, "a number");
	if (!strcasecmp(tok, "nth") && v)
		r->nth = v;
	else if (!strcasecmp(tok, "every") && v)
		r->every = v;
	else if (!strcasecmp(tok, "max") && v)
		r->max_fires = v;
	else if (!strcasecmp(tok, "level") && v <= TDX_PS_1G)
		r->level = (int)v;
	else if (!strcasecmp(tok, "td"))
		r->tdr_pa = v;
	else if (!strcasecmp(tok, "thread") && v && v < 0x7FFFFFFF)
		r->thread = (int)v;
	else
		return parse_error(p, tok, "nth=N, every=K, max=N (N > 0), level=0..2, td=TDR, thread=T");
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_rule(struct parser *p, char *text, struct tdxsim_fault_rule *r)
{
	char *save = NULL, *tok;
	unsigned int leaf = 0;
	int err;

	tok = strtok_r(text, ":", &save);
	if (!tok)
		return parse_error(p, "", "a rule LEAF:ACTION[:OPTION...]");
	err = parse_leaf(p, trim(tok), &leaf);
	if (err)
		return err;
	tdxsim_fault_rule_init(r, leaf, TDXSIM_FAULT_STATUS, TDX_OPERAND_BUSY);
	tok = strtok_r(NULL, ":", &save);
	if (!tok)
		return parse_error(p, text, "LEAF:ACTION (the action is missing)");
	err = parse_action(p, trim(tok), r);
	if (err)
		return err;
	if ((r->action == TDXSIM_FAULT_ENOMEM) != (leaf == TDXSIM_FAULT_PAGE_ALLOC))
		return parse_error(p, tok, "enomem with alloc, and alloc only with enomem");
	while ((tok = strtok_r(NULL, ":", &save))) {
		err = parse_option(p, trim(tok), r);
		if (err)
			return err;
	}
	if ((!!r->nth + !!r->every + (r->probability > 0)) > 1)
		return parse_error(p, text, "at most one of nth, every, p");
	return 0;
}

int tdxsim_fault_parse(struct tdxsim *sim, const char *spec, char *err, size_t errlen)
{
	struct parser p = { .err = err, .errlen = errlen };
	char *copy, *save = NULL, *text;
	int added = 0, ret;

	if (err && errlen)
		err[0] = '\0';
	if (!spec)
		return 0;
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	for (text = strtok_r(copy, ";", &save); text; text = strtok_r(NULL, ";", &save)) {
		/* The rule as written: parse_rule() cuts @text at its first ':'. */
		char rule[TOKEN_SHOWN + 2];
		struct tdxsim_fault_rule r;

		text = trim(text);
		p.rule_no++;
		if (!*text)
			continue;
		snprintf(rule, sizeof(rule), "%s", text);
		ret = parse_rule(&p, text, &r);
		if (!ret) {
			ret = tdxsim_fault_add(sim, &r);
			if (ret == -ENOSPC) {
				char expected[32];

				snprintf(expected, sizeof(expected), "at most %d rules",
					 TDXSIM_MAX_FAULT_RULES);
				parse_error(&p, rule, expected);
			} else if (ret < 0) {
				parse_error(&p, rule, "a rule tdxsim_fault_add() accepts");
			}
		}
		if (ret < 0) {
			free(copy);
			return -EINVAL;
		}
		added++;
	}
	free(copy);
	return added;
}
