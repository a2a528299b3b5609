// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz-seamcall: libFuzzer target over SEAMCALL / TDCALL / host-operation
 * sequences, written against the public API only (include/tdxsim/).
 *
 * Each input builds one or two TDs with vCPUs through the conveniences, then
 * decodes into a sequence of operations: a raw tdxsim_seamcall() of any leaf
 * of the leaf table (operands chosen by the kind the table gives each input
 * register), a TDG.MEM.PAGE.ACCEPT from a vCPU, a vCPU exit, host page
 * alloc/free/reset, an interrupt, a fault rule, a TD or vCPU created or a
 * TD torn down by the conveniences under the rules in force.  Operands come from small
 * pools of interesting values (GPAs in a few 2MB ranges, levels 0-3, the
 * pages this input allocated, the TDRs and TDVPRs, with reserved, HKID and
 * shared bits set now and then) or raw from the input.
 *
 * Oracles (any failure prints what and where, then abort()s):
 *  - a call that fails (bit 63 of the status) changes nothing observable:
 *    S-EPT lookups of the GPA pool, PAMT lookups of the page pool, each TD's
 *    child count and epoch, tdxsim_pages_in_use();
 *  - every status is a known one (tdxsim_status_base_name(), operand named);
 *  - tdxsim_check() reports nothing but host misuse, before and after
 *    teardown;
 *  - tdxsim_td_teardown(TDXSIM_TEARDOWN_FREE_PAMT) returns 0 for every TD,
 *    and once the input's own pages are freed, no page is in use;
 *  - under fault rules, a failed tdxsim_td_create() leaves no page
 *    allocated, and a teardown that returns 0 leaves no TD and none of the
 *    input's pages the TD's.
 *
 * One simulator per configuration is created once and reused: teardown of
 * every TD and freeing the input's pages bring it back to empty.
 *
 * FUZZ_VERBOSE=1 in the environment prints every operation (to replay a
 * crash: ./fuzz-seamcall crash-FILE).
 *
 * Run with -detect_leaks=0: the module keeps S-EPT tables in mmap'ed slabs
 * that LeakSanitizer does not scan, so their child arrays look leaked
 * between inputs; the simulators are destroyed at exit, and the valgrind
 * suite checks the library for leaks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tdxsim/tdxsim.h>
#include <tdxsim/fault.h>

#define MAX_TDS		8	/* the simulator's max_tds: MNG.CREATE refuses a ninth */
#define MAX_VCPUS	8
#define MAX_PAGES	32
#define MAX_ADOPTED	64	/* pages a call handed back to the host */
#define MAX_OPS		192
#define MAX_RULES	8
#define MEM_SIZE	(16ULL << 20)	/* small: teardown, CACHE.WB and the checker scan it all */

/* The GPA pool: 2MB ranges in two 1GB regions, and the last 2MB below the shared bit. */
static const u64 gpa_ranges[] = {
	0x40000000ULL, 0x40200000ULL, 0x40400000ULL, 0x80000000ULL, 0x7FFFFFE00000ULL,
};
#define NR_RANGES	(sizeof(gpa_ranges) / sizeof(gpa_ranges[0]))
/* Offsets of the 4K pages of a range the snapshot looks at. */
static const u64 gpa_offsets[] = { 0, 0x1000, 0x1FF000 };
#define NR_OFFSETS	(sizeof(gpa_offsets) / sizeof(gpa_offsets[0]))

/* Configurations; the first input byte chooses one. */
static const struct variant {
	const char *name;
	u64 features0;
	bool reset_quirk;
} variants[] = {
	{ "dpamt", TDX_FEATURES0_DYNAMIC_PAMT | TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY,
	  false },
	{ "static-pamt", TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY, false },
	{ "interruptible+reset-quirk", TDX_FEATURES0_DYNAMIC_PAMT, true },
};
#define NR_VARIANTS	(sizeof(variants) / sizeof(variants[0]))

static struct tdxsim *sims[NR_VARIANTS];
static const struct tdxsim_leaf_info *leaves[128];
static unsigned int nr_leaves;
/*
 * By leaf number: the leaf, or the next one the table has.  An input names
 * a leaf by its number, so the seeds keep their meaning when leaves are added.
 */
static const struct tdxsim_leaf_info *leaf_by_number[TDX_NR_LEAVES];
static const struct tdxsim_leaf_info *accept_info;
static u64 error_statuses[128];
static unsigned int nr_error_statuses;
static bool verbose;

/* The input, read front to back; past its end everything reads as 0. */
struct input {
	const u8 *p;
	size_t n;
};

static u8 get8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static u64 get64(struct input *in)
{
	u64 v = 0;

	for (int i = 0; i < 8; i++)
		v |= (u64)get8(in) << (8 * i);
	return v;
}

struct page {
	u64 pa;
	int level;
};

/* What the oracle compares around a failed call. */
struct snapshot {
	int sept_ret[MAX_TDS][NR_RANGES][NR_OFFSETS + 3];
	struct tdxsim_sept_info sept[MAX_TDS][NR_RANGES][NR_OFFSETS + 3];
	int pamt_ret[MAX_PAGES * 3 + MAX_TDS + MAX_VCPUS];
	struct tdxsim_pamt_info pamt[MAX_PAGES * 3 + MAX_TDS + MAX_VCPUS];
	u64 pamt_pa[MAX_PAGES * 3 + MAX_TDS + MAX_VCPUS];
	unsigned int nr_pamt;
	u64 chldcnt[MAX_TDS], epoch[MAX_TDS];
	u64 in_use;
};

struct fuzz {
	struct tdxsim *sim;
	const struct tdxsim_config *cfg;
	const struct variant *variant;
	struct tdxsim_td *td[MAX_TDS];
	unsigned int nr_tds;
	u64 tdvpr[MAX_VCPUS];
	unsigned int nr_vcpus;
	struct page page[MAX_PAGES + MAX_ADOPTED];	/* adopted ones join at the end */
	unsigned int nr_pages;
	u64 adopted[MAX_ADOPTED];
	unsigned int nr_adopted;
	unsigned int nr_rules;
	unsigned int op;		/* index of the operation running */
	char what[160];			/* the operation, for messages */
	struct snapshot snap[2];	/* before, after */
	bool snap_valid;		/* snap[0] is the state now */
};

static void __attribute__((noreturn, format(printf, 2, 3)))
fail(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz-seamcall: ORACLE FAILED (config %s, op #%u: %s): ",
		f->variant ? f->variant->name : "?", f->op, f->what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static const char *status_str(u64 st, char *buf, size_t len)
{
	if (st == TDXSIM_TDCALL_TD_EXIT)
		return "TD exit";
	return tdxsim_status_name(st, buf, len);
}

/* Statuses whose low 32 bits are a level or a count, not an operand id (tdx_errno.h). */
static bool detail_is_number(u64 base)
{
	return base == TDX_PAGE_ALREADY_ACCEPTED || base == TDX_PAGE_SIZE_MISMATCH ||
	       base == TDX_PAMT_PAGE_NOT_EMPTY || base == TDX_OP_STATE_INCORRECT;
}

static void check_status_known(struct fuzz *f, u64 st)
{
	u32 op = TDX_OPERAND(st);

	if (!tdxsim_status_base_name(st))
		fail(f, "unknown status %#llx", (unsigned long long)st);
	if (op && !detail_is_number(TDX_STATUS(st)) && !tdxsim_operand_name(op))
		fail(f, "status %#llx carries an unnamed operand id %#x",
		     (unsigned long long)st, op);
}

/* ---- snapshots: what "changes nothing observable" looks at ---- */

static int sept_slot_level(unsigned int k)
{
	return k < NR_OFFSETS ? TDX_PS_4K : (int)(k - NR_OFFSETS + 1);
}

static void take_snapshot(struct fuzz *f, struct snapshot *s)
{
	struct tdxsim *sim = f->sim;

	s->nr_pamt = 0;
	for (unsigned int t = 0; t < f->nr_tds; t++) {
		for (unsigned int r = 0; r < NR_RANGES; r++) {
			for (unsigned int k = 0; k < NR_OFFSETS + 3; k++) {
				u64 gpa = gpa_ranges[r] + (k < NR_OFFSETS ? gpa_offsets[k] : 0);
				int level = sept_slot_level(k);

				if (level == 3)
					gpa &= ~(tdx_level_size(2) - 1);
				s->sept_ret[t][r][k] = tdxsim_sept_lookup_level(sim, f->td[t], gpa, level,
									       &s->sept[t][r][k]);
			}
		}
		s->chldcnt[t] = tdxsim_td_chldcnt(sim, f->td[t]);
		s->epoch[t] = tdxsim_td_epoch(sim, f->td[t]);
		s->pamt_pa[s->nr_pamt++] = f->td[t]->tdr_pa;
	}
	for (unsigned int v = 0; v < f->nr_vcpus; v++)
		s->pamt_pa[s->nr_pamt++] = f->tdvpr[v];
	for (unsigned int p = 0; p < f->nr_pages; p++) {
		s->pamt_pa[s->nr_pamt++] = f->page[p].pa;
		if (f->page[p].level == TDX_PS_2M) {
			s->pamt_pa[s->nr_pamt++] = f->page[p].pa + 0x1000;
			s->pamt_pa[s->nr_pamt++] = f->page[p].pa + 0x1FF000;
		}
	}
	for (unsigned int i = 0; i < s->nr_pamt; i++)
		s->pamt_ret[i] = tdxsim_pamt_lookup(sim, s->pamt_pa[i], &s->pamt[i]);
	s->in_use = tdxsim_pages_in_use(sim);
}

static void compare_snapshots(struct fuzz *f, const struct snapshot *a, const struct snapshot *b,
			      u64 st)
{
	char buf[64];
	const char *sn = status_str(st, buf, sizeof(buf));

	for (unsigned int t = 0; t < f->nr_tds; t++) {
		for (unsigned int r = 0; r < NR_RANGES; r++) {
			for (unsigned int k = 0; k < NR_OFFSETS + 3; k++) {
				const struct tdxsim_sept_info *x = &a->sept[t][r][k];
				const struct tdxsim_sept_info *y = &b->sept[t][r][k];

				if (a->sept_ret[t][r][k] == b->sept_ret[t][r][k] &&
				    !memcmp(x, y, sizeof(*x)))
					continue;
				fail(f, "failed call (%s) changed the S-EPT of TD %#llx at GPA %#llx "
				     "level %d: ret %d->%d, level %d->%d, state %#x->%#x, hpa %#llx->%#llx, "
				     "entry %#llx->%#llx, accept %u->%u", sn,
				     (unsigned long long)f->td[t]->tdr_pa,
				     (unsigned long long)(gpa_ranges[r] +
							  (k < NR_OFFSETS ? gpa_offsets[k] : 0)),
				     sept_slot_level(k), a->sept_ret[t][r][k], b->sept_ret[t][r][k],
				     x->level, y->level, x->state, y->state,
				     (unsigned long long)x->hpa, (unsigned long long)y->hpa,
				     (unsigned long long)x->entry, (unsigned long long)y->entry,
				     x->accept_counter, y->accept_counter);
			}
		}
		if (a->chldcnt[t] != b->chldcnt[t] || a->epoch[t] != b->epoch[t])
			fail(f, "failed call (%s) changed TD %#llx: chldcnt %llu->%llu epoch %llu->%llu",
			     sn, (unsigned long long)f->td[t]->tdr_pa,
			     (unsigned long long)a->chldcnt[t], (unsigned long long)b->chldcnt[t],
			     (unsigned long long)a->epoch[t], (unsigned long long)b->epoch[t]);
	}
	for (unsigned int i = 0; i < a->nr_pamt; i++) {
		const struct tdxsim_pamt_info *x = &a->pamt[i], *y = &b->pamt[i];

		if (a->pamt_ret[i] == b->pamt_ret[i] && !memcmp(x, y, sizeof(*x)))
			continue;
		fail(f, "failed call (%s) changed the PAMT of page %#llx: level %d->%d pt %u->%u "
		     "owner %#llx->%#llx bepoch %u->%u pamt_page %d->%d pair %d->%d count %u->%u "
		     "allocated %d->%d dirty %d->%d reset %d->%d", sn,
		     (unsigned long long)a->pamt_pa[i], x->level, y->level, x->pt, y->pt,
		     (unsigned long long)x->owner, (unsigned long long)y->owner, x->bepoch, y->bepoch,
		     x->pamt_page, y->pamt_page, x->dpamt_pair, y->dpamt_pair, x->dpamt_count,
		     y->dpamt_count, x->allocated, y->allocated, x->dirty, y->dirty,
		     x->needs_reset, y->needs_reset);
	}
	if (a->in_use != b->in_use)
		fail(f, "failed call (%s) changed pages in use %llu->%llu", sn,
		     (unsigned long long)a->in_use, (unsigned long long)b->in_use);
}

/* ---- operand pools ---- */

static u16 td_hkid(struct fuzz *f, unsigned int sel)
{
	return f->nr_tds ? f->td[sel % f->nr_tds]->hkid : 1;
}

static u64 keyed(struct fuzz *f, u16 hkid, u64 pa)
{
	return tdxsim_mk_keyed_paddr(f->sim, hkid, pa);
}

/* A module page the TDs hold: a TDR, a TDCX, a TDVPR or a TDVPX. */
static u64 module_page(struct fuzz *f, u8 sel)
{
	struct tdxsim_vp_info vi;
	struct tdxsim_td *td;

	if (!f->nr_tds)		/* all torn down: a TDVPR or TDVPX may still be named */
		sel |= 2;
	switch (sel % 4) {
	case 0:
		return f->td[sel / 4 % f->nr_tds]->tdr_pa;
	case 1:
		td = f->td[sel / 4 % f->nr_tds];
		return td->nr_tdcx ? td->tdcx_pa[sel / 16 % td->nr_tdcx] : td->tdr_pa;
	case 2:
		return f->nr_vcpus ? f->tdvpr[sel / 4 % f->nr_vcpus] : 0;
	default:
		if (!f->nr_vcpus || tdxsim_vp_info(f->sim, f->tdvpr[sel / 4 % f->nr_vcpus], &vi) ||
		    !vi.nr_tdvpx)
			return 0;
		return vi.tdvpx_pa[sel / 16 % vi.nr_tdvpx];
	}
}

/* One of this input's host pages (a 4K piece of a 2MB one now and then). */
static u64 pool_page(struct fuzz *f, struct input *in)
{
	u8 sel = get8(in);
	const struct page *p;

	if (!f->nr_pages)
		return 0;
	p = &f->page[sel % f->nr_pages];
	if (p->level == TDX_PS_2M && sel & 0x80)
		return p->pa + ((sel & 0x40) ? 0x1FF000 : (u64)(get8(in) % 512) * 0x1000);
	return p->pa;
}

/* Bit patterns on top of a page address: HKID, misalignment, reserved bits. */
static u64 mutate_pa(struct fuzz *f, struct input *in, u64 pa, u8 m)
{
	switch (m) {
	case 1:
		return keyed(f, td_hkid(f, get8(in)), pa);
	case 2:
		return keyed(f, (u16)get8(in), pa);
	case 3:
		return pa | 0x800;
	case 4:
		return pa | (1ULL << (f->cfg->max_pa_bits + (get8(in) % 4)));
	case 5:
		return pa | (1ULL << 63);
	default:
		return pa;
	}
}

static u64 page_operand(struct fuzz *f, struct input *in)
{
	u8 b = get8(in);
	u64 pa;

	switch (b & 0xF) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
		pa = pool_page(f, in);
		break;
	case 8: case 9: case 10:
		pa = module_page(f, get8(in));
		break;
	case 11:
		pa = f->cfg->mem_base - 0x1000;
		break;
	case 12:
		pa = f->cfg->mem_base + f->cfg->mem_size;
		break;
	case 13:
		pa = 0;
		break;
	case 14:
		return get64(in);
	default:
		pa = f->cfg->mem_base + (u64)(get8(in) | get8(in) << 8) * 0x1000 % f->cfg->mem_size;
		break;
	}
	return mutate_pa(f, in, pa, b >> 5);
}

static u64 tdr_operand(struct fuzz *f, struct input *in)
{
	u8 b = get8(in);
	u64 pa;

	if ((b & 7) >= 5 || !f->nr_tds)
		return page_operand(f, in);
	pa = f->td[(b & 7) % f->nr_tds]->tdr_pa;
	switch (b >> 5) {
	case 1:
		return pa | TDX_TD_HANDLE_FLAG;
	case 2:
		return pa | (1ULL << (12 - 1 + (get8(in) % 3)));	/* reserved low bits */
	default:
		return mutate_pa(f, in, pa, (b >> 3) & 3 ? 0 : get8(in) % 6);
	}
}

static u64 tdvpr_operand(struct fuzz *f, struct input *in)
{
	u8 b = get8(in);

	if ((b & 3) == 3 || !f->nr_vcpus)
		return page_operand(f, in);
	return mutate_pa(f, in, f->tdvpr[(b >> 2) % f->nr_vcpus], b >> 7 ? get8(in) % 6 : 0);
}

static u64 gpa_operand(struct fuzz *f, struct input *in)
{
	u8 a = get8(in), b = get8(in);
	int level = b & 3;
	u64 gpa = gpa_ranges[a % NR_RANGES];

	if (level == TDX_PS_4K) {
		switch ((b >> 2) & 3) {
		case 0: break;
		case 1: gpa += 0x1000; break;
		case 2: gpa += 0x1FF000; break;
		default: gpa += (u64)(get8(in) % 512) * 0x1000; break;
		}
	}
	gpa &= ~(tdx_level_size(level) - 1);
	switch (b >> 4) {
	case 1:
		return gpa | (1ULL << (f->cfg->gpaw - 1)) | (u64)level;	/* shared bit */
	case 2:
		return gpa | (u64)(4 + get8(in) % 4);			/* no such level */
	case 3:
		return gpa | 0x800 | (u64)level;			/* misaligned / reserved */
	case 4:
		return gpa | (1ULL << (52 + get8(in) % 12)) | (u64)level;	/* reserved high */
	case 5:
		return get64(in);
	default:
		return gpa | (u64)level;
	}
}

static u64 value_operand(struct fuzz *f, struct input *in, const char *name)
{
	u8 b = get8(in);

	if (b == 0xFF)
		return get64(in);
	if (!strcmp(name, "hkid"))
		return b % 72;
	return b % 8;
}

static u64 operand(struct fuzz *f, struct input *in, const struct tdxsim_leaf_operand *o)
{
	switch (o->kind) {
	case TDXSIM_OPND_GPA:
		return gpa_operand(f, in);
	case TDXSIM_OPND_TDR:
		return tdr_operand(f, in);
	case TDXSIM_OPND_TDVPR:
		return tdvpr_operand(f, in);
	case TDXSIM_OPND_PAGE:
		/* PAMT.ADD/REMOVE's 2MB range carries its level like a GPA. */
		if (!strcmp(o->name, "range"))
			return page_operand(f, in) | (get8(in) % 4);
		return page_operand(f, in);
	default:
		return value_operand(f, in, o->name);
	}
}

static void set_reg(struct tdx_module_args *a, u32 reg, u64 v)
{
	switch (reg) {
	case TDX_OPERAND_ID_RCX: a->rcx = v; break;
	case TDX_OPERAND_ID_RDX: a->rdx = v; break;
	case TDX_OPERAND_ID_RBX: a->rbx = v; break;
	case TDX_OPERAND_ID_RSI: a->rsi = v; break;
	case TDX_OPERAND_ID_RDI: a->rdi = v; break;
	case TDX_OPERAND_ID_R8: a->r8 = v; break;
	case TDX_OPERAND_ID_R9: a->r9 = v; break;
	case TDX_OPERAND_ID_R10: a->r10 = v; break;
	case TDX_OPERAND_ID_R11: a->r11 = v; break;
	case TDX_OPERAND_ID_R12: a->r12 = v; break;
	case TDX_OPERAND_ID_R13: a->r13 = v; break;
	case TDX_OPERAND_ID_R14: a->r14 = v; break;
	case TDX_OPERAND_ID_R15: a->r15 = v; break;
	}
}

/*
 * Handing the module a page the host never allocated (or already freed) is a
 * host bug the module cannot see: the checker would report the page as
 * free-owned.  Such calls are not made.  @pa may carry HKID bits.
 */
static bool page_unallocated(struct fuzz *f, u64 pa, int level)
{
	u64 hpa = pa & ((1ULL << (f->cfg->max_pa_bits - f->cfg->nr_hkid_bits)) - 1) & ~0xFFFULL;
	struct tdxsim_pamt_info pi;

	if (level > TDX_PS_2M)
		return false;		/* a 1GB range never fits in MEM_SIZE: refused anyway */
	for (u64 off = 0; off < tdx_level_size(level); off += 0x1000) {
		if (!tdxsim_pamt_lookup(f->sim, hpa + off, &pi) && !pi.allocated)
			return true;
	}
	return false;
}

static bool args_take_unallocated(struct fuzz *f, const struct tdxsim_leaf_info *li,
				  const struct tdx_module_args *a)
{
	for (unsigned int i = 0; i < li->nr_operands; i++) {
		const struct tdxsim_leaf_operand *o = &li->operands[i];
		u64 v = tdxsim_args_reg(a, o->reg);
		int level = TDX_PS_4K;

		if (o->kind == TDXSIM_OPND_GPA || o->kind == TDXSIM_OPND_VALUE ||
		    !strcmp(o->name, "range") || !strcmp(o->name, "source"))
			continue;
		/* The page of a 2MB AUG/ADD is 512 pages: all must be the host's. */
		if (o->reg == TDX_OPERAND_ID_R8 && li->operands[0].kind == TDXSIM_OPND_GPA &&
		    !strcmp(o->name, "page"))
			level = (int)(a->rcx & TDX_PAGE_INFO_LEVEL_MASK);
		if (page_unallocated(f, v, level))
			return true;
	}
	return false;
}

/* ---- bookkeeping of what the input created ---- */

static void add_page(struct fuzz *f, u64 pa, int level)
{
	if (f->nr_pages < MAX_PAGES + MAX_ADOPTED)
		f->page[f->nr_pages++] = (struct page){ pa, level };
}

static void add_vcpu(struct fuzz *f, u64 tdvpr)
{
	for (unsigned int i = 0; i < f->nr_vcpus; i++) {
		if (f->tdvpr[i] == tdvpr)
			return;
	}
	if (f->nr_vcpus < MAX_VCPUS)
		f->tdvpr[f->nr_vcpus++] = tdvpr;
}

static bool is_tdr(struct fuzz *f, u64 pa)
{
	struct tdxsim_pamt_info pi;

	return !tdxsim_pamt_lookup(f->sim, pa, &pi) && pi.pt == PT_TDR;
}

/*
 * A TD whose TDR page was reclaimed is gone: its handle goes (teardown of a
 * handle whose TD is gone frees it and returns -EINVAL).
 */
static void drop_dead_tds(struct fuzz *f)
{
	for (unsigned int t = 0; t < f->nr_tds;) {
		if (is_tdr(f, f->td[t]->tdr_pa)) {
			t++;
			continue;
		}
		if (tdxsim_td_teardown(f->td[t], 0) != -EINVAL)
			fail(f, "teardown of a reclaimed TD's handle did not answer -EINVAL");
		f->td[t] = f->td[--f->nr_tds];
		f->snap_valid = false;
	}
}

static void add_td(struct fuzz *f, struct tdxsim_td *td);

/* A raw MNG.CREATE made a TD: a caller-built handle (tdxsim.h allows it). */
static void add_raw_td(struct fuzz *f, u64 tdr_pa, u64 hkid)
{
	struct tdxsim_td *td;

	drop_dead_tds(f);
	td = calloc(1, sizeof(*td));
	if (!td)
		abort();
	td->sim = f->sim;
	td->tdr_pa = tdr_pa;
	td->hkid = (u16)hkid;
	add_td(f, td);
}

/* The 4K page under @v: HKID bits, level and flag bits dropped. */
static u64 page_of(struct fuzz *f, u64 v)
{
	return v & ((1ULL << (f->cfg->max_pa_bits - f->cfg->nr_hkid_bits)) - 1) & ~0xFFFULL;
}

static bool in_pool(struct fuzz *f, u64 pa)
{
	for (unsigned int p = 0; p < f->nr_pages; p++) {
		if (pa >= f->page[p].pa && pa - f->page[p].pa < tdx_level_size(f->page[p].level))
			return true;
	}
	for (unsigned int i = 0; i < f->nr_adopted; i++) {
		if (f->adopted[i] == pa)
			return true;
	}
	return false;
}

/*
 * A call that succeeds may hand pages back to the host (RECLAIM, PAMT.REMOVE,
 * PROMOTE, SEPT.REMOVE ...), also pages the conveniences allocated (a TDCX, a
 * Dynamic-PAMT pair).  From then on they are this host's to free, as a real
 * host's: adopt every page named in the registers that is allocated and no
 * longer the module's.  Teardown is not expected to free them.
 */
static void adopt_returned(struct fuzz *f, const struct tdx_module_args *in,
			   const struct tdx_module_args *out)
{
	const u64 regs[] = { in->rcx, in->rdx, in->r8, in->r12, in->r13,
			     out->rcx, out->rdx, out->r8, out->r12, out->r13 };

	for (unsigned int i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		u64 pa = page_of(f, regs[i]);
		struct tdxsim_pamt_info pi;

		if (tdxsim_pamt_lookup(f->sim, pa, &pi) || !pi.allocated || pi.pt != PT_NDA ||
		    pi.pamt_page || in_pool(f, pa))
			continue;
		if (f->nr_adopted == MAX_ADOPTED)
			fail(f, "more than %d pages handed back to the host", MAX_ADOPTED);
		f->adopted[f->nr_adopted++] = pa;
	}
}

static void add_td(struct fuzz *f, struct tdxsim_td *td)
{
	if (f->nr_tds == MAX_TDS)
		fail(f, "more than %d TDs live: the simulator's max_tds is %d", MAX_TDS, MAX_TDS);
	f->td[f->nr_tds++] = td;
	f->snap_valid = false;
}

/* ---- operations ---- */

/* Every call goes through here: status oracle and the no-change oracle. */
static u64 checked_call(struct fuzz *f, bool tdcall, u64 tdvpr, u64 rax, struct tdx_module_args *a)
{
	struct tdx_module_args in = *a;
	char buf[64];
	u64 st;

	if (!f->snap_valid)
		take_snapshot(f, &f->snap[0]);
	st = tdcall ? tdxsim_tdcall(f->sim, tdvpr, rax, a) : tdxsim_seamcall(f->sim, rax, a);
	if (verbose)
		fprintf(stderr, "  -> %s\n", status_str(st, buf, sizeof(buf)));
	if (!(tdcall && st == TDXSIM_TDCALL_TD_EXIT))
		check_status_known(f, st);
	if (st & TDX_ERROR && !(tdcall && st == TDXSIM_TDCALL_TD_EXIT)) {
		take_snapshot(f, &f->snap[1]);
		compare_snapshots(f, &f->snap[0], &f->snap[1], st);
		f->snap_valid = true;	/* unchanged: still the state now */
	} else {
		f->snap_valid = false;
		if (!tdcall && !(st & TDX_ERROR))
			adopt_returned(f, &in, a);
	}
	return st;
}

static void op_seamcall(struct fuzz *f, struct input *in)
{
	u8 sel = get8(in), vsel = get8(in);
	const struct tdxsim_leaf_info *li = leaf_by_number[sel % TDX_NR_LEAVES];
	struct tdx_module_args a = { 0 }, saved;
	u64 rax, st;

	rax = li->leaf;
	if (vsel == 0xFF)
		rax = get64(in);		/* anything in RAX: unknown leaves, reserved bits */
	else
		rax |= (u64)(vsel % (li->max_version + 2)) << TDX_VERSION_SHIFT;
	for (unsigned int i = 0; i < li->nr_operands; i++)
		set_reg(&a, li->operands[i].reg, operand(f, in, &li->operands[i]));
	if (get8(in) == 0xFF) {		/* junk in the registers the leaf does not read */
		a.r9 ^= get64(in);
		a.r10 = get64(in);
	}
	snprintf(f->what, sizeof(f->what),
		 "%s rax=%#llx rcx=%#llx rdx=%#llx r8=%#llx r12=%#llx r13=%#llx", li->name, (unsigned long long)rax, (unsigned long long)a.rcx,
		 (unsigned long long)a.rdx, (unsigned long long)a.r8, (unsigned long long)a.r12,
		 (unsigned long long)a.r13);
	if (args_take_unallocated(f, li, &a))
		return;
	if (verbose)
		fprintf(stderr, "op %u: %s\n", f->op, f->what);
	saved = a;
	st = checked_call(f, false, 0, rax, &a);
	if (st || (rax & ~TDX_LEAF_MASK) >> 24)
		return;
	switch (rax & TDX_LEAF_MASK) {
	case TDH_MNG_CREATE:
		add_raw_td(f, saved.rcx, saved.rdx);
		break;
	case TDH_VP_CREATE:
		add_vcpu(f, saved.rcx);
		break;
	case TDH_PHYMEM_PAGE_RECLAIM:
		drop_dead_tds(f);
		break;
	}
}

static void op_accept(struct fuzz *f, struct input *in)
{
	u8 sel = get8(in);
	struct tdx_module_args a = { 0 };
	u64 tdvpr, rax = TDG_MEM_PAGE_ACCEPT;

	if (!f->nr_vcpus)
		return;
	tdvpr = f->tdvpr[sel % f->nr_vcpus];
	if (sel & 0x80)
		rax |= (u64)(get8(in) % 3) << TDX_VERSION_SHIFT;
	a.rcx = operand(f, in, &accept_info->operands[0]);
	snprintf(f->what, sizeof(f->what), "TDG.MEM.PAGE.ACCEPT vcpu %#llx rax=%#llx rcx=%#llx",
		 (unsigned long long)tdvpr, (unsigned long long)rax, (unsigned long long)a.rcx);
	if (verbose)
		fprintf(stderr, "op %u: %s\n", f->op, f->what);
	checked_call(f, true, tdvpr, rax, &a);
}

static void op_vcpu_exit(struct fuzz *f, struct input *in)
{
	struct tdxsim_vp_info vi;
	u8 sel = get8(in);
	u64 tdvpr;

	if (!f->nr_vcpus)
		return;
	tdvpr = f->tdvpr[sel % f->nr_vcpus];
	snprintf(f->what, sizeof(f->what), "vp_exit %#llx", (unsigned long long)tdvpr);
	if (verbose)
		fprintf(stderr, "op %u: %s\n", f->op, f->what);
	/* -EINVAL only for what is not (or no longer) a vCPU. */
	if (tdxsim_vp_exit(f->sim, tdvpr) && !tdxsim_vp_info(f->sim, tdvpr, &vi))
		fail(f, "tdxsim_vp_exit refused a live vCPU");
	f->snap_valid = false;
}

static void op_page_alloc(struct fuzz *f, struct input *in)
{
	int level = get8(in) % 4 == 3 ? TDX_PS_2M : TDX_PS_4K;
	u64 pa;

	snprintf(f->what, sizeof(f->what), "page_alloc level %d", level);
	if (f->nr_pages == MAX_PAGES)
		return;
	pa = tdxsim_page_alloc(f->sim, level);
	if (verbose)
		fprintf(stderr, "op %u: %s -> %#llx\n", f->op, f->what, (unsigned long long)pa);
	if (pa)
		add_page(f, pa, level);
	f->snap_valid = false;
}

static void op_page_free(struct fuzz *f, struct input *in)
{
	u8 b = get8(in);
	u64 pa = (b & 3) == 3 ? page_operand(f, in) : pool_page(f, in);
	int level = b & 4 ? TDX_PS_2M : TDX_PS_4K;
	int ret;

	snprintf(f->what, sizeof(f->what), "page_free %#llx level %d", (unsigned long long)pa,
		 level);
	ret = tdxsim_page_free(f->sim, pa, level);
	if (verbose)
		fprintf(stderr, "op %u: %s -> %d\n", f->op, f->what, ret);
	if (ret != 0 && ret != -EINVAL && ret != -EBUSY && ret != -EIO)
		fail(f, "tdxsim_page_free returned %d", ret);
	f->snap_valid = false;
}

static void op_page_reset(struct fuzz *f, struct input *in)
{
	u8 b = get8(in);
	u64 pa = (b & 3) == 3 ? page_operand(f, in) : pool_page(f, in);
	u64 size;
	int ret;

	switch (b >> 2 & 7) {
	case 0: size = 0x1000; break;
	case 1: size = 0x200000; break;
	case 2: size = 0 - pa + 0x1000; break;		/* pa + size wraps */
	case 3: size = f->cfg->mem_base + f->cfg->mem_size - pa; break;	/* to the end */
	case 4: size = 0; break;
	case 5: size = get64(in); break;
	default: size = (u64)(get8(in) + 1) * 0x1000; break;
	}
	snprintf(f->what, sizeof(f->what), "page_reset %#llx size %#llx", (unsigned long long)pa,
		 (unsigned long long)size);
	ret = tdxsim_page_reset(f->sim, pa, size);
	if (verbose)
		fprintf(stderr, "op %u: %s -> %d\n", f->op, f->what, ret);
	if (ret != 0 && ret != -EINVAL)
		fail(f, "tdxsim_page_reset returned %d", ret);
	f->snap_valid = false;
}

static void op_fault_rule(struct fuzz *f, struct input *in)
{
	u8 a = get8(in), b = get8(in), c = get8(in);
	struct tdxsim_fault_rule r;
	unsigned int leaf;
	enum tdxsim_fault_action act;
	u64 status = 0;
	int id;

	if (f->nr_rules >= MAX_RULES)
		return;
	if (a % 8 == 7) {
		leaf = TDXSIM_FAULT_PAGE_ALLOC;
		act = TDXSIM_FAULT_ENOMEM;
	} else if (a % 8 == 6) {
		leaf = TDXSIM_FAULT_TDCALL | TDG_MEM_PAGE_ACCEPT;
		act = b & 1 ? TDXSIM_FAULT_INTERRUPT : TDXSIM_FAULT_STATUS;
	} else {
		leaf = leaves[(a / 8) % nr_leaves]->leaf;
		if (leaves[(a / 8) % nr_leaves]->tdcall)
			leaf |= TDXSIM_FAULT_TDCALL;
		act = b & 1 ? TDXSIM_FAULT_INTERRUPT : TDXSIM_FAULT_STATUS;
	}
	if (act == TDXSIM_FAULT_STATUS) {
		static const u32 ids[] = { 0, TDX_OPERAND_ID_RCX, TDX_OPERAND_ID_RDX,
					   TDX_OPERAND_ID_R8, TDX_OPERAND_ID_SEPT,
					   TDX_OPERAND_ID_TD_EPOCH, TDX_OPERAND_ID_TDR };

		status = error_statuses[(b >> 1) % nr_error_statuses];
		if (!detail_is_number(status))
			status |= ids[c % (sizeof(ids) / sizeof(ids[0]))];
	}
	tdxsim_fault_rule_init(&r, leaf, act, status);
	switch (c >> 4 & 3) {
	case 0: r.nth = 1 + get8(in) % 8; break;
	case 1: r.every = 1 + get8(in) % 4; break;
	case 2: r.probability = get8(in) / 255.0; break;
	default: break;
	}
	if (c & 0x40)
		r.max_fires = 1 + get8(in) % 3;
	if (c & 0x80) {
		u8 g = get8(in);

		r.gpa_start = gpa_ranges[g % NR_RANGES];
		r.gpa_end = r.gpa_start + 0x200000;
		r.level = g & 0x80 ? (g >> 4) % 3 : TDXSIM_FAULT_ANY;
	}
	snprintf(f->what, sizeof(f->what), "fault rule leaf %#x action %d status %#llx",
		 leaf, act, (unsigned long long)status);
	id = tdxsim_fault_add(f->sim, &r);
	if (verbose)
		fprintf(stderr, "op %u: %s -> %d\n", f->op, f->what, id);
	if (id < 0 && id != -ENOSPC)
		fail(f, "tdxsim_fault_add refused a valid rule: %d", id);
	if (id >= 0)
		f->nr_rules++;
}

/*
 * A few steps a host would really take, so that random calls meet deep
 * states (tables down to 4K, a 2MB page, a split with its pair).  Each step
 * is an ordinary checked call with pool operands.
 */
static void op_macro(struct fuzz *f, struct input *in)
{
	u8 sel = get8(in), r = get8(in);
	struct tdxsim_td *td;
	u64 gpa = gpa_ranges[r % NR_RANGES], tdr;
	struct tdx_module_args a;

	if (!f->nr_tds)
		return;
	td = f->td[(r >> 4) % f->nr_tds];
	tdr = td->tdr_pa;
	snprintf(f->what, sizeof(f->what), "macro %u at %#llx TD %#llx", sel % 4,
		 (unsigned long long)gpa, (unsigned long long)tdr);
	if (verbose)
		fprintf(stderr, "op %u: %s\n", f->op, f->what);
#define CALL(leaf, ...) do {							\
		a = (struct tdx_module_args){ __VA_ARGS__ };			\
		if (!args_take_unallocated(f, tdxsim_leaf_info(leaf), &a))	\
			checked_call(f, false, 0, leaf, &a);			\
	} while (0)
	switch (sel % 4) {
	case 0:		/* S-EPT tables for the range */
		CALL(TDH_MEM_SEPT_ADD, .rcx = (gpa & ~(tdx_level_size(3) - 1)) | 3, .rdx = tdr,
		     .r8 = pool_page(f, in));
		CALL(TDH_MEM_SEPT_ADD, .rcx = (gpa & ~(tdx_level_size(2) - 1)) | 2, .rdx = tdr,
		     .r8 = pool_page(f, in));
		if (sel & 4)
			CALL(TDH_MEM_SEPT_ADD, .rcx = gpa | 1, .rdx = tdr, .r8 = pool_page(f, in));
		break;
	case 1:		/* block, track, kick */
		CALL(TDH_MEM_RANGE_BLOCK, .rcx = gpa | (sel & 4 ? 0 : 1), .rdx = tdr);
		CALL(TDH_MEM_TRACK, .rcx = tdr);
		tdxsim_td_kick_vcpus(td);
		f->snap_valid = false;
		break;
	case 2:		/* demote with a pair from the pool */
		CALL(TDH_MEM_PAGE_DEMOTE, .rcx = gpa | 1, .rdx = tdr, .r8 = pool_page(f, in),
		     .r12 = pool_page(f, in), .r13 = pool_page(f, in));
		break;
	default:	/* a 2MB page from the pool */
		CALL(TDH_MEM_PAGE_AUG, .rcx = gpa | 1, .rdx = tdr, .r8 = pool_page(f, in));
		break;
	}
#undef CALL
}

/*
 * tdxsim_td_create() cleans up after a failed step with a teardown; when a
 * rule makes the teardown fail too (KEY.FREEID or RECLAIM answering an
 * error it is not retried on), the TD stays in the module with its pages,
 * and no handle comes back.  The module still owns those pages, so this is
 * the kernel's "leak rather than reuse" and not a lost page: find such TDs
 * (a TDR nobody here knows) and tear them down at the end.  Only when a
 * rule fired during the create; true if one was found.
 */
static bool adopt_lost_tds(struct fuzz *f, u64 fired)
{
	bool found = false;

	if (!fired)
		return false;
	for (u64 pa = f->cfg->mem_base; pa < f->cfg->mem_base + f->cfg->mem_size; pa += 0x1000) {
		struct tdxsim_pamt_info pi;
		bool known = false;

		if (tdxsim_pamt_lookup(f->sim, pa, &pi) || pi.pt != PT_TDR)
			continue;
		for (unsigned int t = 0; t < f->nr_tds; t++)
			known |= f->td[t]->tdr_pa == pa;
		if (known)
			continue;
		add_raw_td(f, pa, 0);
		found = true;
	}
	return found;
}

/*
 * The host layer's conveniences, under whatever fault rules the input added:
 * each must keep its promise when a call inside it fails (tdxsim.h).
 */
static void op_convenience(struct fuzz *f, struct input *in)
{
	u8 sel = get8(in);
	struct tdxsim_td *td = f->nr_tds ? f->td[(sel >> 3) % f->nr_tds] : NULL;
	struct tdxsim_pamt_info pi;
	struct tdxsim_vcpu *vcpu;
	u64 st, before, tdr, fired;
	int ret;

	f->snap_valid = false;
	switch (sel % 5) {
	case 0:
		snprintf(f->what, sizeof(f->what), "tdxsim_td_create");
		if (verbose)
			fprintf(stderr, "op %u: %s\n", f->op, f->what);
		if (f->nr_tds >= 4)
			return;
		before = tdxsim_pages_in_use(f->sim);
		fired = tdxsim_fault_fired_total(f->sim);
		td = tdxsim_td_create(f->sim, &st);
		if (td) {
			add_td(f, td);
			return;
		}
		check_status_known(f, st);
		if (tdxsim_pages_in_use(f->sim) != before &&
		    !adopt_lost_tds(f, tdxsim_fault_fired_total(f->sim) - fired))
			fail(f, "failed tdxsim_td_create (%#llx) left %lld pages allocated",
			     (unsigned long long)st,
			     (long long)(tdxsim_pages_in_use(f->sim) - before));
		return;
	case 1:
		if (!td)
			return;
		snprintf(f->what, sizeof(f->what), "tdxsim_vcpu_create TD %#llx",
			 (unsigned long long)td->tdr_pa);
		if (verbose)
			fprintf(stderr, "op %u: %s\n", f->op, f->what);
		vcpu = tdxsim_vcpu_create(td, &st);
		if (vcpu)
			add_vcpu(f, tdxsim_vcpu_tdvpr_pa(vcpu));
		else
			check_status_known(f, st);
		return;
	case 2:
		if (!td)
			return;
		tdr = td->tdr_pa;
		snprintf(f->what, sizeof(f->what), "tdxsim_td_teardown TD %#llx flags %u",
			 (unsigned long long)tdr, (sel >> 2) & 1);
		if (verbose)
			fprintf(stderr, "op %u: %s\n", f->op, f->what);
		for (unsigned int t = 0; t < f->nr_tds; t++) {
			if (f->td[t] == td)
				f->td[t] = f->td[--f->nr_tds];
		}
		ret = tdxsim_td_teardown(td, (sel >> 2) & 1 ? TDXSIM_TEARDOWN_FREE_PAMT : 0);
		if (verbose)
			fprintf(stderr, "  -> %d\n", ret);
		if (ret && ret != -EIO)
			fail(f, "tdxsim_td_teardown returned %d", ret);
		if (!ret && is_tdr(f, tdr))
			fail(f, "tdxsim_td_teardown returned 0, the TD is still there");
		if (!ret) {
			/* Nothing of the input's pages may still be the TD's. */
			for (unsigned int p = 0; p < f->nr_pages; p++) {
				if (!tdxsim_pamt_lookup(f->sim, f->page[p].pa, &pi) && pi.owner == tdr &&
				    pi.pt != PT_NDA)
					fail(f, "tdxsim_td_teardown returned 0, page %#llx is still the TD's",
					     (unsigned long long)f->page[p].pa);
			}
		}
		if (ret && is_tdr(f, tdr)) {
			/* What failed is left to a later teardown through a handle of ours. */
			add_raw_td(f, tdr, 0);
		}
		return;
	case 3:
		if (!td)
			return;
		snprintf(f->what, sizeof(f->what), "tdxsim_td_flush_vcpus TD %#llx",
			 (unsigned long long)td->tdr_pa);
		if (verbose)
			fprintf(stderr, "op %u: %s\n", f->op, f->what);
		check_status_known(f, tdxsim_td_flush_vcpus(td));
		return;
	default:
		if (td)
			tdxsim_td_kick_vcpus(td);
		return;
	}
}

static void op_interrupt(struct fuzz *f)
{
	snprintf(f->what, sizeof(f->what), "raise interrupt on CPU 0");
	if (verbose)
		fprintf(stderr, "op %u: %s\n", f->op, f->what);
	/* CPU 0 only: the next call (teardown's at the latest) takes it. */
	if (tdxsim_raise_interrupt(f->sim, 0))
		fail(f, "tdxsim_raise_interrupt(0) failed");
}

static void run_ops(struct fuzz *f, struct input *in)
{
	for (f->op = 0; f->op < MAX_OPS && in->n; f->op++) {
		u8 op = get8(in);

		switch (op % 16) {
		case 0: case 1: case 2: case 3: case 4: case 5:
			op_seamcall(f, in);
			break;
		case 6:
			op_convenience(f, in);
			break;
		case 7: case 8:
			op_accept(f, in);
			break;
		case 9:
			op_vcpu_exit(f, in);
			break;
		case 10:
			op_page_alloc(f, in);
			break;
		case 11:
			op_page_free(f, in);
			break;
		case 12:
			op_page_reset(f, in);
			break;
		case 13:
			op_fault_rule(f, in);
			break;
		case 14:
			op_macro(f, in);
			break;
		default:
			op_interrupt(f);
			break;
		}
	}
}

/* ---- set-up and clean-up ---- */

static void check_module(struct fuzz *f, const char *when)
{
	static struct tdxsim_report rep;
	int n = tdxsim_check(f->sim, &rep);

	if (n < 0)
		fail(f, "tdxsim_check failed %d %s", n, when);
	for (unsigned int i = 0; i < rep.nr && i < TDXSIM_REPORT_MAX; i++) {
		if (rep.v[i].what == TDXSIM_INV_HOST_MISUSE)
			continue;
		tdxsim_report_print(&rep, stderr);
		fail(f, "tdxsim_check %s: %s: %s", when, tdxsim_invariant_name(rep.v[i].what),
		     rep.v[i].msg);
	}
}

/* A 2MB page of the pool still whole and clean: freed in one go. */
static bool release_whole_2m(struct fuzz *f, u64 pa)
{
	struct tdxsim_pamt_info pi;

	for (u64 off = 0; off < 0x200000; off += 0x1000) {
		if (tdxsim_pamt_lookup(f->sim, pa + off, &pi) || !pi.allocated || pi.pt != PT_NDA ||
		    pi.pamt_page || pi.dirty || pi.needs_reset)
			return false;
	}
	if (tdxsim_page_free(f->sim, pa, TDX_PS_2M))
		fail(f, "free of clean 2MB page %#llx failed", (unsigned long long)pa);
	return true;
}

/* Give back this input's pages, 4K by 4K (teardown may have freed some). */
static void release_pages(struct fuzz *f)
{
	for (unsigned int i = 0; i < f->nr_adopted; i++)
		add_page(f, f->adopted[i], TDX_PS_4K);
	f->nr_adopted = 0;
	for (unsigned int p = 0; p < f->nr_pages; p++) {
		if (f->page[p].level == TDX_PS_2M && release_whole_2m(f, f->page[p].pa))
			continue;
		for (u64 off = 0; off < tdx_level_size(f->page[p].level); off += 0x1000) {
			u64 pa = f->page[p].pa + off;
			struct tdxsim_pamt_info pi;
			struct tdx_module_args a = { 0 };
			u64 st;
			int ret;

			if (tdxsim_pamt_lookup(f->sim, pa, &pi))
				fail(f, "page %#llx of the pool is not simulated memory",
				     (unsigned long long)pa);
			if (!pi.allocated)
				continue;
			if (pi.pt != PT_NDA || pi.pamt_page)
				fail(f, "after teardown page %#llx is still the module's (pt %u, pamt page %d)",
				     (unsigned long long)pa, pi.pt, pi.pamt_page);
			if (pi.dirty) {
				a.rcx = keyed(f, pi.dirty_hkid, pa);
				st = tdxsim_seamcall(f->sim, TDH_PHYMEM_PAGE_WBINVD, &a);
				if (st)
					fail(f, "WBINVD of dirty page %#llx (HKID %u) after teardown: %#llx",
					     (unsigned long long)pa, pi.dirty_hkid, (unsigned long long)st);
			}
			if (pi.needs_reset && tdxsim_page_reset(f->sim, pa, 0x1000))
				fail(f, "reset of page %#llx failed", (unsigned long long)pa);
			ret = tdxsim_page_free(f->sim, pa, TDX_PS_4K);
			if (ret)
				fail(f, "free of page %#llx after teardown: %d", (unsigned long long)pa, ret);
		}
	}
}

/*
 * A teardown without TDXSIM_TEARDOWN_FREE_PAMT leaves the Dynamic-PAMT pairs
 * (tdxsim.h), and so may a raw PAMT.ADD: with no TD left, every pair is
 * empty and the host takes it back with PAMT.REMOVE.
 */
static void remove_empty_pairs(struct fuzz *f)
{
	for (u64 pa = f->cfg->mem_base; pa < f->cfg->mem_base + f->cfg->mem_size; pa += 0x200000) {
		struct tdx_module_args a = { .rcx = pa | TDX_PS_2M }, in = a;
		struct tdxsim_pamt_info pi;
		char buf[64];
		u64 st;

		if (tdxsim_pamt_lookup(f->sim, pa, &pi) || !pi.dpamt_pair)
			continue;
		if (pi.dpamt_count)
			fail(f, "no TD left, yet the pair of %#llx counts %u pages",
			     (unsigned long long)pa, pi.dpamt_count);
		st = tdxsim_seamcall(f->sim, TDH_PHYMEM_PAMT_REMOVE, &a);
		if (st)
			fail(f, "PAMT.REMOVE of the empty pair of %#llx: %s", (unsigned long long)pa,
			     status_str(st, buf, sizeof(buf)));
		adopt_returned(f, &in, &a);
	}
}

static void finish(struct fuzz *f)
{
	int ret;

	f->op = MAX_OPS;
	snprintf(f->what, sizeof(f->what), "clean-up");
	tdxsim_fault_clear(f->sim);
	check_module(f, "before teardown");
	drop_dead_tds(f);
	while (f->nr_tds) {
		struct tdxsim_td *td = f->td[--f->nr_tds];
		u64 tdr = td->tdr_pa;

		ret = tdxsim_td_teardown(td, TDXSIM_TEARDOWN_FREE_PAMT);
		if (ret)
			fail(f, "teardown of TD %#llx returned %d", (unsigned long long)tdr, ret);
		if (is_tdr(f, tdr))
			fail(f, "TD %#llx still exists after teardown", (unsigned long long)tdr);
	}
	remove_empty_pairs(f);
	release_pages(f);
	if (tdxsim_pages_in_use(f->sim))
		fail(f, "%llu pages still in use after teardown and freeing the input's pages",
		     (unsigned long long)tdxsim_pages_in_use(f->sim));
	check_module(f, "after teardown");
}

static struct tdxsim *get_sim(unsigned int v)
{
	struct tdxsim_config cfg;

	if (sims[v])
		return sims[v];
	tdxsim_config_init(&cfg);
	/*
	 * Small, for speed: the fewest control pages a TD and a vCPU may have
	 * (fewer SEAMCALLs to build and tear down), few TD slots and little
	 * memory (scanned by teardown, CACHE.WB and the checker).
	 */
	cfg.mem_size = MEM_SIZE;
	cfg.nr_tdcs_pages = 4;
	cfg.nr_tdvpx_pages = 1;
	cfg.max_tds = MAX_TDS;
	cfg.features0 = variants[v].features0;
	cfg.reset_quirk = variants[v].reset_quirk;
	sims[v] = tdxsim_create(&cfg);
	if (!sims[v]) {
		perror("fuzz-seamcall: tdxsim_create");
		abort();
	}
	return sims[v];
}

static void build_tds(struct fuzz *f, u8 shape)
{
	unsigned int nr_tds = 1 + (shape & 1);

	snprintf(f->what, sizeof(f->what), "set-up");
	for (unsigned int t = 0; t < nr_tds; t++) {
		unsigned int nr_vcpus = 1 + ((shape >> (1 + t)) & 1);
		struct tdxsim_td *td;
		u64 st;

		td = tdxsim_td_create(f->sim, &st);
		if (!td)
			fail(f, "tdxsim_td_create: %#llx (errno %d)", (unsigned long long)st, errno);
		f->td[f->nr_tds++] = td;
		for (unsigned int v = 0; v < nr_vcpus; v++) {
			struct tdxsim_vcpu *vcpu = tdxsim_vcpu_create(td, &st);

			if (!vcpu)
				fail(f, "tdxsim_vcpu_create: %#llx", (unsigned long long)st);
			add_vcpu(f, tdxsim_vcpu_tdvpr_pa(vcpu));
		}
		/* Most inputs run a RUNNABLE TD; some stay INITIALIZED (PAGE.ADD, no AUG). */
		if (!(shape & (0x10 << t))) {
			st = tdxsim_td_finalize(td);
			if (st)
				fail(f, "tdxsim_td_finalize: %#llx", (unsigned long long)st);
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

static void destroy_sims(void)
{
	for (unsigned int v = 0; v < NR_VARIANTS; v++)
		tdxsim_destroy(sims[v]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct tdxsim_leaf_info *li;

	verbose = getenv("FUZZ_VERBOSE") != NULL;
	/* A user's TDXSIM_FAULTS/TDXSIM_TRACE would make the oracles lie. */
	unsetenv("TDXSIM_FAULTS");
	unsetenv("TDXSIM_TRACE");
	unsetenv("TDXSIM_REPORT");
	for (li = tdxsim_leaf_info_next(NULL); li; li = tdxsim_leaf_info_next(li)) {
		if (li->tdcall) {
			if (li->leaf == TDG_MEM_PAGE_ACCEPT)
				accept_info = li;
			continue;
		}
		if (nr_leaves < sizeof(leaves) / sizeof(leaves[0]))
			leaves[nr_leaves++] = li;
	}
#define ADD_ERROR(name)							\
	if ((name) & TDX_ERROR && nr_error_statuses < 128)		\
		error_statuses[nr_error_statuses++] = (name);
	TDX_STATUS_LIST(ADD_ERROR)
#undef ADD_ERROR
	for (unsigned int n = 0; nr_leaves && n < TDX_NR_LEAVES; n++) {
		unsigned int i = 0;

		while (i < nr_leaves && leaves[i]->leaf < n)
			i++;
		leaf_by_number[n] = leaves[i % nr_leaves];
	}
	if (!nr_leaves || !accept_info || !nr_error_statuses) {
		fprintf(stderr, "fuzz-seamcall: empty leaf or status table\n");
		abort();
	}
	atexit(destroy_sims);
	return 0;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static struct fuzz f;
	struct input in = { data, size };
	u8 shape;
	unsigned int v;

	if (size < 1)
		return 0;
	shape = get8(&in);
	v = (shape >> 6) % NR_VARIANTS;
	memset(&f, 0, sizeof(f));
	f.sim = get_sim(v);
	f.cfg = tdxsim_get_config(f.sim);
	f.variant = &variants[v];
	if (tdxsim_pages_in_use(f.sim))
		fail(&f, "simulator not empty at the start of an input");
	build_tds(&f, shape);
	run_ops(&f, &in);
	finish(&f);
	return 0;
}
