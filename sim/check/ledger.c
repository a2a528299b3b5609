// SPDX-License-Identifier: GPL-2.0-only
/*
 * The checker's per-simulator ledger: where each simulated page the KVM
 * model uses came from and where it went (spec kvm-model.md §5 I4: "each
 * page has exactly one owner ... no double free, never free a page the
 * module still owns"), the last SEAMCALL sim/tdx made on each GFN and page
 * (so a violation can name the call that broke it), and the violations the
 * inline checks of sim/kvm and sim/tdx record at the moment they happen.
 * Attached to the simulator with tdxsim_client_data_attach(), freed by
 * tdxsim_destroy().
 *
 * Its size follows the model's own pages, not guest memory (the issue's
 * 48 bytes per mapped 4K page): one entry per page the model allocates
 * (S-EPT pages, cache and pair pages), one per guest memory allocation a
 * VMM reports (a folio is one range), one per 2MB range for the last-call
 * seqs and one per S-EPT table for its count of mapped children.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>
#include <utlist.h>

#include <tdxsim/trace.h>
#include <tdxsim-kvm/check.h>

struct prov_page {
	u64 pfn;
	struct kvm_page_provenance p;
	unsigned long order;	/* moves so far (kvm_gpa_provenance's "last") */
	UT_hash_handle hh;
};

/* Last SEAMCALL per (frame, TDX level): GFNs and PFNs in two tables. */
struct seq_entry {
	u64 key;
	u64 seq;
	UT_hash_handle hh;
};

/* A multi-page allocation (a guest folio): followed as one. */
struct prov_range {
	u64 pfn;
	unsigned long npages;
	struct kvm_page_provenance p;
	unsigned long order;
	struct prov_range *prev, *next;	/* utlist DL */
};

/* The ranges that touch one 2MB block of physical memory (most: one folio). */
struct range_bucket {
	u64 key;		/* pfn >> 9 */
	unsigned int n, cap;
	struct prov_range **r;
	UT_hash_handle hh;
};

/*
 * Mapped children (4K units) of one S-EPT table: key = its TD (the TDR's
 * address: sibling TDs map the same GPAs), its first GFN and entry level.
 */
struct child_key {
	u64 td;
	u64 table;
};

struct child_count {
	struct child_key key;
	long n;
	UT_hash_handle hh;
};

struct ledger_violation {
	/*
	 * The VM's kvm->check_id, 0: a page's, shown for every VM.  Not the
	 * pointer: a VM's violations outlive it, and a later VM may get its
	 * address.
	 */
	u64 kvm_id;
	struct kvm_check_violation v;
};

#define LEDGER_MAX_VIOLATIONS	256

struct kvm_ledger {
	pthread_mutex_t lock;
	struct tdxsim *sim;
	struct prov_page *pages;
	struct prov_range *ranges;
	struct range_bucket *buckets;
	struct child_count *children;
	struct seq_entry *gfn_seq;
	struct seq_entry *pfn_seq;
	unsigned long moves;
	unsigned int nr;	/* recorded (may exceed what is kept) */
	struct ledger_violation v[LEDGER_MAX_VIOLATIONS];
};

static const char ledger_key;

static void ledger_release(void *data)
{
	struct kvm_ledger *l = data;
	struct prov_page *p, *tp;
	struct seq_entry *e, *te;

	HASH_ITER(hh, l->pages, p, tp) {
		HASH_DEL(l->pages, p);
		free(p);
	}
	{
		struct prov_range *r, *tr;
		struct range_bucket *k, *tk;

		DL_FOREACH_SAFE(l->ranges, r, tr) {
			DL_DELETE(l->ranges, r);
			free(r);
		}
		HASH_ITER(hh, l->buckets, k, tk) {
			HASH_DEL(l->buckets, k);
			free(k->r);
			free(k);
		}
	}
	{
		struct child_count *c, *tc;

		HASH_ITER(hh, l->children, c, tc) {
			HASH_DEL(l->children, c);
			free(c);
		}
	}
	HASH_ITER(hh, l->gfn_seq, e, te) {
		HASH_DEL(l->gfn_seq, e);
		free(e);
	}
	HASH_ITER(hh, l->pfn_seq, e, te) {
		HASH_DEL(l->pfn_seq, e);
		free(e);
	}
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static struct kvm_ledger *ledger_of(struct tdxsim *sim, bool create)
{
	struct kvm_ledger *l, *cur;

	if (!sim)
		return NULL;
	l = tdxsim_client_data(sim, &ledger_key);
	if (l || !create)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	l->sim = sim;
	cur = tdxsim_client_data_attach(sim, &ledger_key, l, ledger_release);
	if (cur != l)
		ledger_release(l);	/* another thread attached first, or no slot */
	return cur;
}

/* ---- names ---- */
static const char *const pool_names[KVM_POOL_NR] = {
	[KVM_POOL_SPLIT_SP]	= "split-sp",
	[KVM_POOL_SP_FREE]	= "sp-free",
	[KVM_POOL_MMU_CACHE]	= "mmu-cache",
	[KVM_POOL_VCPU_PREALLOC] = "vcpu-prealloc",
	[KVM_POOL_SPLIT_CACHE]	= "split-cache",
	[KVM_POOL_PAMT_PAIR]	= "pamt-pair",
	[KVM_POOL_GUEST_FOLIO]	= "guest-folio",
	[KVM_POOL_OTHER]	= "other",
};

const char *kvm_page_pool_name(enum kvm_page_pool pool)
{
	return (unsigned int)pool < KVM_POOL_NR ? pool_names[pool] : NULL;
}

int kvm_page_pool_lookup(const char *name)
{
	int i;

	if (!name)
		return -EINVAL;
	/* The split path's S-EPT page is "the S-EPT page" pool of the issue. */
	if (!strcmp(name, "sept-page"))
		return KVM_POOL_SPLIT_SP;
	for (i = 0; i < KVM_POOL_NR; i++)
		if (!strcmp(name, pool_names[i]))
			return i;
	return -EINVAL;
}

const char *kvm_page_state_name(enum kvm_page_state state)
{
	static const char *const names[] = {
		[KVM_PAGE_LIVE] = "live", [KVM_PAGE_CACHED] = "cached",
		[KVM_PAGE_MODULE] = "module", [KVM_PAGE_LEAKED] = "leaked",
		[KVM_PAGE_FREED] = "freed",
	};

	return (unsigned int)state <= KVM_PAGE_FREED ? names[state] : "?";
}

/* ---- the last SEAMCALL per 2MB range of GPAs / of physical memory ---- */
static void seq_set(struct seq_entry **tab, u64 frame, u64 seq)
{
	u64 key = frame >> 9;
	struct seq_entry *e;

	HASH_FIND(hh, *tab, &key, sizeof(key), e);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return;
		e->key = key;
		HASH_ADD(hh, *tab, key, sizeof(e->key), e);
	}
	e->seq = seq;
}

static u64 seq_get(struct seq_entry **tab, u64 frame)
{
	u64 key = frame >> 9;
	struct seq_entry *e;

	HASH_FIND(hh, *tab, &key, sizeof(key), e);
	return e ? e->seq : 0;
}

static u64 max_u64(u64 a, u64 b)
{
	return a > b ? a : b;
}

void kvm_check_note_seamcall(u64 gpa, int tdx_level, u64 hpa, int hpa_tdx_level)
{
	struct tdxsim *sim = tdxsim_kernel_current();
	struct kvm_ledger *l = ledger_of(sim, true);
	u64 seq;

	if (!l)
		return;
	seq = tdxsim_seq(sim);
	pthread_mutex_lock(&l->lock);
	if (gpa != ~0ULL)
		seq_set(&l->gfn_seq, gpa >> PAGE_SHIFT, seq);
	if (hpa)
		seq_set(&l->pfn_seq, hpa >> PAGE_SHIFT, seq);
	pthread_mutex_unlock(&l->lock);
}

/* The S-EPT leaves whose RCX is GPA | level (spec seamcall.md §0.2). */
static bool leaf_takes_gpa(u32 leaf)
{
	switch (leaf) {
	case TDH_MEM_PAGE_ADD: case TDH_MEM_SEPT_ADD: case TDH_MEM_PAGE_AUG:
	case TDH_MEM_RANGE_BLOCK: case TDH_MEM_PAGE_DEMOTE: case TDH_MEM_PAGE_PROMOTE:
	case TDH_MEM_PAGE_REMOVE: case TDH_MEM_SEPT_REMOVE: case TDH_MEM_RANGE_UNBLOCK:
		return true;
	}
	return false;
}

/* Does [a, a + sz) hold the 4K page at @x? */
static bool in_range(u64 x, u64 a, u64 sz)
{
	return x >= a && x < a + sz;
}

/*
 * Not in the ledger (a call sim/tdx did not make: a test's or a VMM's own):
 * the newest event in the trace ring that names the GPA range in RCX or
 * the page in RCX/RDX/R8, if a ring is kept.
 */
static u64 seq_from_ring(struct tdxsim *sim, gfn_t gfn, int level, u64 hpa)
{
	size_t n = tdxsim_trace_ring_count(sim), i;
	u64 gpa = gfn == ~0ULL ? ~0ULL : (u64)gfn << PAGE_SHIFT;
	u64 gsz = (u64)(level > 0 ? KVM_PAGES_PER_HPAGE(level) : 1) << PAGE_SHIFT;
	struct tdxsim_trace_event ev;

	for (i = n; i-- > 0;) {
		u64 rcx_pa;

		if (tdxsim_trace_ring_get(sim, i, &ev) || ev.type != TDXSIM_EV_SEAMCALL)
			continue;
		rcx_pa = ev.in.rcx & PAGE_MASK & ((1ULL << 52) - 1);
		if (gpa != ~0ULL && leaf_takes_gpa(ev.leaf) &&
		    (in_range(rcx_pa, gpa, gsz) || in_range(gpa, rcx_pa, PAGE_SIZE)))
			return ev.seq;
		if (hpa && (in_range(hpa, rcx_pa, PAGE_SIZE) ||
			    in_range(hpa, ev.in.r8 & PAGE_MASK, PAGE_SIZE) ||
			    in_range(hpa, ev.in.rdx & PAGE_MASK, PAGE_SIZE)))
			return ev.seq;
	}
	return 0;
}

/*
 * The seq a violation at (gfn, KVM level, hpa) names: the last call sim/tdx
 * made on the GFN's or the page's 2MB range; 0 if none touched them.
 */
u64 kvm_check_seq_of(struct tdxsim *sim, gfn_t gfn, int level, u64 hpa);
u64 kvm_check_seq_of(struct tdxsim *sim, gfn_t gfn, int level, u64 hpa)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	u64 seq = 0;

	if (l) {
		pthread_mutex_lock(&l->lock);
		if (gfn != ~0ULL)
			seq = seq_get(&l->gfn_seq, gfn);
		if (hpa)
			seq = max_u64(seq, seq_get(&l->pfn_seq, hpa >> PAGE_SHIFT));
		pthread_mutex_unlock(&l->lock);
	}
	if (!seq && sim)
		seq = seq_from_ring(sim, gfn, level, hpa);
	return seq;
}

/* ---- violations ---- */
static void ledger_vrecord(struct kvm_ledger *l, struct kvm *kvm, enum kvm_check_inv what,
			   gfn_t gfn, int level, u64 hpa, u64 spte, u64 seq, const char *fmt,
			   va_list ap)
{
	struct ledger_violation *lv;

	if (l->nr++ >= LEDGER_MAX_VIOLATIONS)
		return;
	lv = &l->v[l->nr - 1];
	lv->kvm_id = kvm ? kvm->check_id : 0;
	lv->v.what = what;
	lv->v.gfn = gfn;
	lv->v.level = level;
	lv->v.hpa = hpa;
	lv->v.spte = spte;
	lv->v.seq = seq;
	vsnprintf(lv->v.msg, sizeof(lv->v.msg), fmt, ap);
}

/* With l->lock held. */
static void __attribute__((format(printf, 8, 9)))
ledger_record(struct kvm_ledger *l, struct kvm *kvm, enum kvm_check_inv what, gfn_t gfn,
	      int level, u64 hpa, u64 seq, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ledger_vrecord(l, kvm, what, gfn, level, hpa, 0, seq, fmt, ap);
	va_end(ap);
}

void kvm_check_record(struct kvm *kvm, enum kvm_check_inv what, gfn_t gfn, int level,
		      u64 hpa, u64 spte, const char *fmt, ...)
{
	struct tdxsim *sim = tdxsim_kernel_current();
	struct kvm_ledger *l = ledger_of(sim, true);
	va_list ap;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	va_start(ap, fmt);
	ledger_vrecord(l, kvm, what, gfn, level, hpa, spte, tdxsim_seq(sim), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&l->lock);
}

/* Appends to @rep as kvm_tdx_check's report() does. */
static void rep_add(struct kvm_check_report *rep, const struct kvm_check_violation *v)
{
	rep->count[v->what]++;
	if (rep->nr++ >= KVM_CHECK_REPORT_MAX)
		return;
	rep->v[rep->nr - 1] = *v;
}

/* @kvm_id 0: every VM's. */
static int ledger_violations(struct tdxsim *sim, u64 kvm_id, struct kvm_check_report *rep)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	unsigned int i, kept;
	int n = 0;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->lock);
	kept = l->nr < LEDGER_MAX_VIOLATIONS ? l->nr : LEDGER_MAX_VIOLATIONS;
	for (i = 0; i < kept; i++) {
		if (kvm_id && l->v[i].kvm_id && l->v[i].kvm_id != kvm_id)
			continue;
		n++;
		if (rep)
			rep_add(rep, &l->v[i].v);
	}
	/* Beyond what is kept: counted, not described. */
	if (l->nr > kept)
		n += l->nr - kept;
	pthread_mutex_unlock(&l->lock);
	return n;
}

int kvm_check_ledger_violations(struct tdxsim *sim, struct kvm *kvm, struct kvm_check_report *rep)
{
	return ledger_violations(sim, kvm ? kvm->check_id : 0, rep);
}

int kvm_check_ledger_violations_of(struct tdxsim *sim, u64 check_id,
				   struct kvm_check_report *rep)
{
	if (!check_id)
		return -EINVAL;
	return ledger_violations(sim, check_id, rep);
}

void kvm_check_ledger_reset(struct tdxsim *sim)
{
	struct kvm_ledger *l = ledger_of(sim, false);

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->nr = 0;
	pthread_mutex_unlock(&l->lock);
}

/* ---- provenance ---- */
static struct prov_page *page_find(struct kvm_ledger *l, u64 pfn)
{
	struct prov_page *p;

	HASH_FIND(hh, l->pages, &pfn, sizeof(pfn), p);
	return p;
}

/*
 * Enter @r into (or take it out of) the index of every 2MB block it
 * touches.  Without memory a block just does not find it (no check then).
 */
static void range_index(struct kvm_ledger *l, struct prov_range *r, bool add)
{
	u64 b, last = (r->pfn + r->npages - 1) >> 9;
	unsigned int i;

	for (b = r->pfn >> 9; b <= last; b++) {
		struct range_bucket *k;

		HASH_FIND(hh, l->buckets, &b, sizeof(b), k);
		if (!add) {
			for (i = 0; k && i < k->n; i++) {
				if (k->r[i] == r) {
					k->r[i] = k->r[--k->n];
					break;
				}
			}
			if (k && !k->n) {
				HASH_DEL(l->buckets, k);
				free(k->r);
				free(k);
			}
			continue;
		}
		if (!k) {
			k = calloc(1, sizeof(*k));
			if (!k)
				continue;
			k->key = b;
			HASH_ADD(hh, l->buckets, key, sizeof(k->key), k);
		}
		if (k->n == k->cap) {
			unsigned int cap = k->cap ? 2 * k->cap : 2;
			struct prov_range **n = realloc(k->r, cap * sizeof(*n));

			if (!n)
				continue;
			k->r = n;
			k->cap = cap;
		}
		k->r[k->n++] = r;
	}
}

static struct prov_range *range_find(struct kvm_ledger *l, u64 pfn)
{
	u64 b = pfn >> 9;
	struct range_bucket *k;
	unsigned int i;

	HASH_FIND(hh, l->buckets, &b, sizeof(b), k);
	for (i = 0; k && i < k->n; i++)
		if (pfn >= k->r[i]->pfn && pfn < k->r[i]->pfn + k->r[i]->npages)
			return k->r[i];
	return NULL;
}

/* The first range overlapping [pfn, pfn + npages), or NULL. */
static struct prov_range *range_overlap(struct kvm_ledger *l, u64 pfn, unsigned long npages)
{
	u64 b, last = (pfn + npages - 1) >> 9;
	struct range_bucket *k;
	unsigned int i;

	for (b = pfn >> 9; b <= last; b++) {
		HASH_FIND(hh, l->buckets, &b, sizeof(b), k);
		for (i = 0; k && i < k->n; i++)
			if (k->r[i]->pfn < pfn + npages && pfn < k->r[i]->pfn + k->r[i]->npages)
				return k->r[i];
	}
	return NULL;
}

static void prov_init(struct kvm_page_provenance *p, u64 pfn, enum kvm_page_pool pool,
		      const char *fn, u64 seq)
{
	memset(p, 0, sizeof(*p));
	p->hpa = pfn << PAGE_SHIFT;
	p->pool = pool;
	p->state = KVM_PAGE_LIVE;
	p->allocator = fn;
	p->last = fn;
	p->alloc_seq = seq;
	p->gfn = ~0ULL;
}

/* Is the page (or its 2MB pair role) the module's right now? */
static const char *module_owns(struct tdxsim *sim, u64 hpa)
{
	struct tdxsim_pamt_info pi;

	if (tdxsim_pamt_lookup(sim, hpa, &pi))
		return NULL;
	if (pi.pamt_page)
		return "a Dynamic-PAMT pair page";
	switch (pi.pt) {
	case PT_EPT:
		return "an S-EPT page";
	case PT_REG:
		return "a guest page";
	case PT_NDA:
		return NULL;
	default:
		return "a TD control page";
	}
}

/* Freers that may free pages of @pool (spec §5 I4's allowed transitions). */
static bool freer_fits(const char *fn, enum kvm_page_pool pool)
{
	/* KVM's free of an sp frees its external_spt: an S-EPT page only (000). */
	if (!strcmp(fn, "tdp_mmu_free_sp"))
		return pool == KVM_POOL_SPLIT_SP || pool == KVM_POOL_MMU_CACHE;
	return true;
}

/* A free of @pp (one page at @hpa, or a range's first): the I4 checks, then the record. */
static void prov_free(struct kvm_ledger *l, struct kvm_page_provenance *pp, u64 hpa,
		      unsigned long npages, const char *fn, u64 seq)
{
	const char *owner = NULL;
	unsigned long i;

	for (i = 0; i < npages && !owner; i++)
		owner = module_owns(l->sim, hpa + (i << PAGE_SHIFT));
	if (pp->state == KVM_PAGE_FREED)
		ledger_record(l, NULL, KVM_INV_DOUBLE_FREE, pp->gfn, pp->level, hpa, seq,
			      "page from the %s freed twice: by %s (seq %llu), then by %s",
			      pool_names[pp->pool], pp->freer, (unsigned long long)pp->free_seq,
			      fn);
	else if (owner)
		ledger_record(l, NULL, KVM_INV_FREED_OWNED, pp->gfn, pp->level, hpa, seq,
			      "page from the %s freed by %s while it is %s",
			      pool_names[pp->pool], fn, owner);
	else if (!freer_fits(fn, pp->pool))
		ledger_record(l, NULL, KVM_INV_WRONG_POOL, pp->gfn, pp->level, hpa, seq,
			      "page from the %s (by %s) was freed by %s",
			      pool_names[pp->pool], pp->allocator, fn);
	pp->state = KVM_PAGE_FREED;
	pp->freer = fn;
	pp->free_seq = seq;
}

/* A guest memory allocation (@npages > 1): one range entry. */
static void range_event(struct kvm_ledger *l, enum kvm_prov_event ev, u64 pfn,
			unsigned long npages, enum kvm_page_pool pool, const char *fn, u64 seq)
{
	struct prov_range *r = range_find(l, pfn), *o;

	if (ev == KVM_PROV_ALLOC) {
		/* Memory the allocator reuses: the old record goes. */
		while ((o = range_overlap(l, pfn, npages))) {
			range_index(l, o, false);
			DL_DELETE(l->ranges, o);
			free(o);
		}
		/* And pages once carved out of an older range. */
		for (u64 f = pfn; f < pfn + npages; f++) {
			struct prov_page *p = page_find(l, f);

			if (p) {
				HASH_DEL(l->pages, p);
				free(p);
			}
		}
		r = calloc(1, sizeof(*r));
		if (!r)
			return;
		r->pfn = pfn;
		r->npages = npages;
		prov_init(&r->p, pfn, pool, fn, seq);
		DL_APPEND(l->ranges, r);
		range_index(l, r, true);
	} else if (!r) {
		return;
	} else if (ev == KVM_PROV_FREE) {
		prov_free(l, &r->p, pfn << PAGE_SHIFT, npages, fn, seq);
	} else if (ev == KVM_PROV_LEAK) {
		r->p.state = KVM_PAGE_LEAKED;
	}
	r->p.last = fn;
	r->order = ++l->moves;
}

/*
 * Take the page @pfn out of the range @r (which has more than one) as an
 * entry of its own with the range's provenance; the rest of @r stays one
 * range, or two.  NULL without memory (the page stays in the range).
 */
static struct prov_page *range_carve(struct kvm_ledger *l, struct prov_range *r, u64 pfn)
{
	struct prov_page *p = calloc(1, sizeof(*p));
	struct prov_range *tail = NULL;

	if (!p)
		return NULL;
	if (pfn != r->pfn && pfn != r->pfn + r->npages - 1) {
		tail = calloc(1, sizeof(*tail));
		if (!tail) {
			free(p);
			return NULL;
		}
	}
	p->pfn = pfn;
	p->p = r->p;
	p->p.hpa = pfn << PAGE_SHIFT;
	p->order = r->order;
	HASH_ADD(hh, l->pages, pfn, sizeof(p->pfn), p);

	range_index(l, r, false);
	if (tail) {
		*tail = *r;
		tail->prev = tail->next = NULL;
		tail->pfn = pfn + 1;
		tail->npages = r->pfn + r->npages - tail->pfn;
		tail->p.hpa = tail->pfn << PAGE_SHIFT;
		DL_APPEND(l->ranges, tail);
		range_index(l, tail, true);
		r->npages = pfn - r->pfn;
	} else if (pfn == r->pfn) {
		r->pfn++;
		r->p.hpa += PAGE_SIZE;
		r->npages--;
	} else {
		r->npages--;
	}
	range_index(l, r, true);
	return p;
}

static void page_event(struct kvm_ledger *l, enum kvm_prov_event ev, u64 pfn,
		       enum kvm_page_pool pool, gfn_t gfn, int level, const char *fn, u64 seq)
{
	struct prov_page *p = page_find(l, pfn);
	struct kvm_page_provenance *pp;
	u64 hpa = pfn << PAGE_SHIFT;
	const char *owner;

	if (ev == KVM_PROV_ALLOC) {
		if (p && p->p.state != KVM_PAGE_FREED)
			ledger_record(l, NULL, KVM_INV_DOUBLE_FREE, ~0ULL, 0, hpa, seq,
				      "page from the %s (by %s) allocated again by %s while %s",
				      pool_names[p->p.pool], p->p.allocator, fn,
				      kvm_page_state_name(p->p.state));
		if (!p) {
			p = calloc(1, sizeof(*p));
			if (!p)
				return;
			p->pfn = pfn;
			HASH_ADD(hh, l->pages, pfn, sizeof(p->pfn), p);
		}
		prov_init(&p->p, pfn, pool, fn, seq);
		p->order = ++l->moves;
		return;
	}
	/*
	 * A page the model did not allocate, or freed and someone else
	 * allocated again: a 4K page of a guest folio, a TD control page, a
	 * test's own.  Followed only through its folio's range, if any.
	 */
	if (p && p->p.state == KVM_PAGE_FREED &&
	    (ev == KVM_PROV_TO_MODULE || ev == KVM_PROV_FROM_MODULE || ev == KVM_PROV_CACHE_TAKE)) {
		HASH_DEL(l->pages, p);
		free(p);
		p = NULL;
	}
	if (!p) {
		struct prov_range *r = range_find(l, pfn);

		/* One page of a folio freed or leaked alone: from now on it is its own. */
		if (r && (ev == KVM_PROV_FREE || ev == KVM_PROV_LEAK) && r->npages > 1)
			p = range_carve(l, r, pfn);
		else if (r && ev == KVM_PROV_FREE)
			prov_free(l, &r->p, hpa, 1, fn, seq);
		else if (r && ev == KVM_PROV_LEAK)
			r->p.state = KVM_PAGE_LEAKED;
		if (r && (ev == KVM_PROV_TO_MODULE || ev == KVM_PROV_FROM_MODULE)) {
			r->p.state = ev == KVM_PROV_TO_MODULE ? KVM_PAGE_MODULE : KVM_PAGE_LIVE;
			r->p.last = fn;
			r->order = ++l->moves;
		}
		if (!p)
			return;
	}
	pp = &p->p;

	switch (ev) {
	case KVM_PROV_CACHE_PUT:
		if (pp->state == KVM_PAGE_FREED)
			ledger_record(l, NULL, KVM_INV_DOUBLE_FREE, ~0ULL, 0, hpa, seq,
				      "freed page from the %s (freed by %s) put into the %s by %s",
				      pool_names[pp->pool], pp->freer, pool_names[pool], fn);
		else if ((owner = module_owns(l->sim, hpa)))
			ledger_record(l, NULL, KVM_INV_FREED_OWNED, ~0ULL, 0, hpa, seq,
				      "page from the %s put into the %s by %s while it is %s",
				      pool_names[pp->pool], pool_names[pool], fn, owner);
		else if (pool != pp->pool && pp->pool == KVM_POOL_PAMT_PAIR)
			pp->pool = pool;	/* a pair page tdx_pamt_get() had to allocate */
		else if (pool != pp->pool)
			ledger_record(l, NULL, KVM_INV_WRONG_POOL, ~0ULL, 0, hpa, seq,
				      "page from the %s (by %s) put into the %s by %s",
				      pool_names[pp->pool], pp->allocator, pool_names[pool], fn);
		pp->state = KVM_PAGE_CACHED;
		break;
	case KVM_PROV_CACHE_TAKE:
	case KVM_PROV_FROM_MODULE:
		pp->state = KVM_PAGE_LIVE;
		break;
	case KVM_PROV_TO_MODULE:
		pp->state = KVM_PAGE_MODULE;
		/* it serves @gfn now */
		fallthrough;
	case KVM_PROV_ASSOC:
		if (level) {
			pp->gfn = gfn;
			pp->level = level;
		}
		break;
	case KVM_PROV_LEAK:
		pp->state = KVM_PAGE_LEAKED;
		break;
	case KVM_PROV_FREE:
		prov_free(l, pp, hpa, 1, fn, seq);
		break;
	default:
		break;
	}
	pp->last = fn;
	p->order = ++l->moves;
}

void kvm_prov_note(enum kvm_prov_event ev, u64 hpa, unsigned long npages,
		   enum kvm_page_pool pool, gfn_t gfn, int level, const char *fn)
{
	struct tdxsim *sim = tdxsim_kernel_current();
	struct kvm_ledger *l = ledger_of(sim, true);
	unsigned long i;
	u64 seq;

	if (!l || !hpa)
		return;
	seq = tdxsim_seq(sim);
	pthread_mutex_lock(&l->lock);
	if (npages > 1 && (ev == KVM_PROV_ALLOC || range_find(l, hpa >> PAGE_SHIFT))) {
		range_event(l, ev, hpa >> PAGE_SHIFT, npages, pool, fn, seq);
	} else {
		for (i = 0; i < npages; i++)
			page_event(l, ev, (hpa >> PAGE_SHIFT) + i, pool, gfn, level, fn, seq);
	}
	pthread_mutex_unlock(&l->lock);
}

void kvm_prov_note_virt(enum kvm_prov_event ev, const void *addr, enum kvm_page_pool pool,
			const char *fn)
{
	if (!addr || !ledger_of(tdxsim_kernel_current(), true))
		return;
	kvm_prov_note(ev, __pa(addr), 1, pool, ~0ULL, 0, fn);
}

/* ---- I8: the mapped children of each S-EPT table ---- */
static struct child_key child_key(u64 tdr_pa, gfn_t gfn, int level)
{
	/* The table holding entries of @level: it covers KVM_PAGES_PER_HPAGE(level + 1). */
	struct child_key k;

	memset(&k, 0, sizeof(k));	/* hashed as bytes */
	k.td = tdr_pa;
	k.table = ((gfn & ~(KVM_PAGES_PER_HPAGE(level + 1) - 1)) << 3) | (u64)level;
	return k;
}

void kvm_check_note_mapped(u64 tdr_pa, gfn_t gfn, int level, long delta)
{
	struct kvm_ledger *l = ledger_of(tdxsim_kernel_current(), true);
	struct child_key key = child_key(tdr_pa, gfn, level);
	struct child_count *c;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	HASH_FIND(hh, l->children, &key, sizeof(key), c);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (c) {
			c->key = key;
			HASH_ADD(hh, l->children, key, sizeof(c->key), c);
		}
	}
	if (c) {
		c->n += delta;
		if (!c->n) {
			HASH_DEL(l->children, c);
			free(c);
		}
	}
	pthread_mutex_unlock(&l->lock);
}

long kvm_check_mapped_children(u64 tdr_pa, gfn_t gfn, int level)
{
	struct kvm_ledger *l = ledger_of(tdxsim_kernel_current(), false);
	struct child_key key = child_key(tdr_pa, gfn, level);
	struct child_count *c;
	long n = 0;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->lock);
	HASH_FIND(hh, l->children, &key, sizeof(key), c);
	if (c)
		n = c->n;
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* ---- queries ---- */
static void prov_fill(struct kvm_ledger *l, const struct kvm_page_provenance *p,
		      struct kvm_page_provenance *out, u64 hpa)
{
	*out = *p;
	out->hpa = hpa;
	out->last_seq = seq_get(&l->pfn_seq, hpa >> PAGE_SHIFT);
}

int kvm_page_provenance(struct tdxsim *sim, u64 hpa, struct kvm_page_provenance *out)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	struct prov_range *r;
	struct prov_page *p;
	int ret = -ENOENT;

	if (!l)
		return -ENOENT;
	hpa &= PAGE_MASK;
	pthread_mutex_lock(&l->lock);
	p = page_find(l, hpa >> PAGE_SHIFT);
	r = p ? NULL : range_find(l, hpa >> PAGE_SHIFT);
	if (p || r) {
		if (out)
			prov_fill(l, p ? &p->p : &r->p, out, hpa);
		ret = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int kvm_gpa_provenance(struct tdxsim *sim, struct kvm *kvm, u64 gpa, enum kvm_page_pool pool,
		       struct kvm_page_provenance *out)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	struct prov_page *p, *tmp, *best = NULL;
	gfn_t gfn = gpa >> PAGE_SHIFT;
	int ret = -ENOENT;

	if (!l)
		return -ENOENT;
	/* The guest page: guest_memfd says which, the ledger where it came from. */
	if (kvm && (pool == KVM_POOL_GUEST_FOLIO || pool == KVM_POOL_NR)) {
		struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
		kvm_pfn_t pfn;
		int order;

		if (slot && !kvm_gmem_get_pfn(kvm, slot, gfn, &pfn, &order) &&
		    !kvm_page_provenance(sim, PFN_PHYS(pfn), out) &&
		    (pool == KVM_POOL_NR || out->pool == pool))
			return 0;
	}
	pthread_mutex_lock(&l->lock);
	HASH_ITER(hh, l->pages, p, tmp) {
		if (!p->p.level || p->p.gfn == ~0ULL || (pool != KVM_POOL_NR && p->p.pool != pool))
			continue;
		/* An entry of level L covers KVM_PAGES_PER_HPAGE(L) GFNs. */
		if (gfn < p->p.gfn || gfn >= p->p.gfn + KVM_PAGES_PER_HPAGE(p->p.level))
			continue;
		if (!best || p->order > best->order)
			best = p;
	}
	if (best) {
		if (out)
			prov_fill(l, &best->p, out, best->p.hpa);
		ret = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

/* Each held page is recorded once, however often the balance is asked for. */
static bool balance_recorded(struct kvm_ledger *l, u64 hpa)
{
	unsigned int i, kept = l->nr < LEDGER_MAX_VIOLATIONS ? l->nr : LEDGER_MAX_VIOLATIONS;

	for (i = 0; i < kept; i++)
		if (l->v[i].v.what == KVM_INV_BALANCE && l->v[i].v.hpa == hpa)
			return true;
	return false;
}

static void balance_one(struct kvm_ledger *l, const struct kvm_page_provenance *p,
			unsigned long npages, struct kvm_prov_balance *b, long *held, u64 seq)
{
	enum kvm_page_pool pool = p->pool;

	if (b)
		b->allocated[pool] += npages;
	switch (p->state) {
	case KVM_PAGE_FREED:
		if (b)
			b->freed[pool] += npages;
		break;
	case KVM_PAGE_LEAKED:
		if (b)
			b->leaked[pool] += npages;
		break;
	default:
		if (b)
			b->held[pool] += npages;
		*held += npages;
		if (balance_recorded(l, p->hpa))
			break;
		ledger_record(l, NULL, KVM_INV_BALANCE, p->gfn, p->level, p->hpa, seq,
			      "%lu page(s) from the %s (by %s) still %s at teardown (last: %s)",
			      npages, pool_names[pool], p->allocator, kvm_page_state_name(p->state),
			      p->last);
		break;
	}
}

long kvm_prov_balance(struct tdxsim *sim, struct kvm_prov_balance *b)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	struct prov_page *p, *tmp;
	struct prov_range *r;
	u64 seq = sim ? tdxsim_seq(sim) : 0;
	long held = 0;

	if (b)
		memset(b, 0, sizeof(*b));
	if (!l)
		return 0;
	pthread_mutex_lock(&l->lock);
	HASH_ITER(hh, l->pages, p, tmp)
		balance_one(l, &p->p, 1, b, &held, seq);
	DL_FOREACH(l->ranges, r)
		balance_one(l, &r->p, r->npages, b, &held, seq);
	pthread_mutex_unlock(&l->lock);
	return held;
}
