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
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

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

struct ledger_violation {
	struct kvm *kvm;	/* NULL: a page's, shown for every VM */
	struct kvm_check_violation v;
};

#define LEDGER_MAX_VIOLATIONS	256

struct kvm_ledger {
	pthread_mutex_t lock;
	struct tdxsim *sim;
	struct prov_page *pages;
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

/* ---- the last SEAMCALL per GFN / PFN ---- */
static u64 seq_key(u64 frame, int tdx_level)
{
	return (frame << 2) | (u64)(tdx_level & 3);
}

static void seq_set(struct seq_entry **tab, u64 frame, int tdx_level, u64 seq)
{
	u64 key = seq_key(frame, tdx_level);
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

static u64 seq_get(struct seq_entry **tab, u64 frame, int tdx_level)
{
	u64 key = seq_key(frame, tdx_level);
	struct seq_entry *e;

	HASH_FIND(hh, *tab, &key, sizeof(key), e);
	return e ? e->seq : 0;
}

static u64 max_u64(u64 a, u64 b)
{
	return a > b ? a : b;
}

/*
 * The last call on any frame of [frame, frame + 512^tdx_level): the entries
 * at 4K, 2M and 1G that cover it, and for a 2M range its 512 4K frames.
 */
static u64 seq_lookup(struct seq_entry **tab, u64 frame, int tdx_level)
{
	u64 seq = 0, i;
	int l;

	for (l = 0; l <= 2; l++)
		seq = max_u64(seq, seq_get(tab, frame & ~((1ULL << (9 * l)) - 1), l));
	if (tdx_level == 1) {
		for (i = 0; i < 512; i++)
			seq = max_u64(seq, seq_get(tab, (frame & ~511ULL) + i, 0));
	}
	return seq;
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
		seq_set(&l->gfn_seq, gpa >> PAGE_SHIFT, tdx_level, seq);
	if (hpa)
		seq_set(&l->pfn_seq, hpa >> PAGE_SHIFT, hpa_tdx_level, seq);
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

/* The seq a violation at (gfn, KVM level, hpa) names; 0 if no call touched them. */
u64 kvm_check_seq_of(struct tdxsim *sim, gfn_t gfn, int level, u64 hpa);
u64 kvm_check_seq_of(struct tdxsim *sim, gfn_t gfn, int level, u64 hpa)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	int tl = level > 1 ? (level > 2 ? 2 : 1) : 0;
	u64 seq = 0;

	if (l) {
		pthread_mutex_lock(&l->lock);
		if (gfn != ~0ULL)
			seq = seq_lookup(&l->gfn_seq, gfn, tl);
		if (hpa)
			seq = max_u64(seq, seq_lookup(&l->pfn_seq, hpa >> PAGE_SHIFT,
						      level ? tl : 0));
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
	lv->kvm = kvm;
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

int kvm_check_ledger_violations(struct tdxsim *sim, struct kvm *kvm, struct kvm_check_report *rep)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	unsigned int i, kept;
	int n = 0;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->lock);
	kept = l->nr < LEDGER_MAX_VIOLATIONS ? l->nr : LEDGER_MAX_VIOLATIONS;
	for (i = 0; i < kept; i++) {
		if (kvm && l->v[i].kvm && l->v[i].kvm != kvm)
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

void kvm_check_ledger_reset(struct tdxsim *sim)
{
	struct kvm_ledger *l = ledger_of(sim, false);

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->nr = 0;
	pthread_mutex_unlock(&l->lock);
}

/* A VM is gone: its inline violations go with it (the pages' stay). */
void kvm_check_vm_gone(struct kvm *kvm)
{
	struct kvm_ledger *l = ledger_of(tdxsim_kernel_current(), false);
	unsigned int i, j, kept;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	kept = l->nr < LEDGER_MAX_VIOLATIONS ? l->nr : LEDGER_MAX_VIOLATIONS;
	for (i = j = 0; i < kept; i++) {
		if (l->v[i].kvm == kvm)
			continue;
		l->v[j++] = l->v[i];
	}
	l->nr = j + (l->nr - kept);
	pthread_mutex_unlock(&l->lock);
}

/* ---- provenance ---- */
static struct prov_page *page_find(struct kvm_ledger *l, u64 pfn)
{
	struct prov_page *p;

	HASH_FIND(hh, l->pages, &pfn, sizeof(pfn), p);
	return p;
}

static struct prov_page *page_get(struct kvm_ledger *l, u64 pfn, enum kvm_page_pool pool,
				  const char *fn)
{
	struct prov_page *p = page_find(l, pfn);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pfn = pfn;
	p->p.hpa = pfn << PAGE_SHIFT;
	p->p.pool = pool;
	p->p.state = KVM_PAGE_LIVE;
	p->p.allocator = fn;
	p->p.gfn = ~0ULL;
	HASH_ADD(hh, l->pages, pfn, sizeof(p->pfn), p);
	return p;
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
		if (p) {
			HASH_DEL(l->pages, p);
			free(p);
		}
		p = page_get(l, pfn, pool, fn);
		if (p)
			p->p.alloc_seq = seq;
		goto moved;
	}
	/*
	 * A page the model did not allocate (a folio, a TD control page, a
	 * page the model freed that someone else allocated again): followed
	 * from now on, not balanced.
	 */
	if (p && p->p.state == KVM_PAGE_FREED &&
	    (ev == KVM_PROV_TO_MODULE || ev == KVM_PROV_FROM_MODULE || ev == KVM_PROV_CACHE_TAKE)) {
		HASH_DEL(l->pages, p);
		free(p);
		p = NULL;
	}
	if (!p)
		p = page_get(l, pfn, pool, "?");
	if (!p)
		return;
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
		if (level) {
			pp->gfn = gfn;
			pp->level = level;
		}
		break;
	case KVM_PROV_LEAK:
		pp->state = KVM_PAGE_LEAKED;
		break;
	case KVM_PROV_FREE:
		if (pp->state == KVM_PAGE_FREED)
			ledger_record(l, NULL, KVM_INV_DOUBLE_FREE, pp->gfn, pp->level, hpa, seq,
				      "page from the %s freed twice: by %s (seq %llu), then by %s",
				      pool_names[pp->pool], pp->freer,
				      (unsigned long long)pp->free_seq, fn);
		else if ((owner = module_owns(l->sim, hpa)))
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
		break;
	default:
		break;
	}
moved:
	if (p) {
		p->p.last = fn;
		p->order = ++l->moves;
	}
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
	for (i = 0; i < npages; i++)
		page_event(l, ev, (hpa >> PAGE_SHIFT) + i, pool, gfn, level, fn, seq);
	pthread_mutex_unlock(&l->lock);
}

void kvm_prov_note_virt(enum kvm_prov_event ev, const void *addr, enum kvm_page_pool pool,
			const char *fn)
{
	if (!addr || !ledger_of(tdxsim_kernel_current(), true))
		return;
	kvm_prov_note(ev, __pa(addr), 1, pool, ~0ULL, 0, fn);
}

static void prov_fill(struct kvm_ledger *l, struct prov_page *p, struct kvm_page_provenance *out)
{
	*out = p->p;
	out->last_seq = seq_lookup(&l->pfn_seq, p->pfn, 0);
}

int kvm_page_provenance(struct tdxsim *sim, u64 hpa, struct kvm_page_provenance *out)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	struct prov_page *p;
	int ret = -ENOENT;

	if (!l)
		return -ENOENT;
	pthread_mutex_lock(&l->lock);
	p = page_find(l, hpa >> PAGE_SHIFT);
	if (p) {
		if (out)
			prov_fill(l, p, out);
		ret = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int kvm_gpa_provenance(struct tdxsim *sim, u64 gpa, enum kvm_page_pool pool,
		       struct kvm_page_provenance *out)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	struct prov_page *p, *tmp, *best = NULL;
	gfn_t gfn = gpa >> PAGE_SHIFT;
	int ret = -ENOENT;

	if (!l)
		return -ENOENT;
	pthread_mutex_lock(&l->lock);
	HASH_ITER(hh, l->pages, p, tmp) {
		/* A table at level L serves 512 entries of level L - 1. */
		u64 span;

		if (!p->p.level || p->p.gfn == ~0ULL || (pool != KVM_POOL_NR && p->p.pool != pool))
			continue;
		span = KVM_PAGES_PER_HPAGE(p->p.level);
		if (gfn < p->p.gfn || gfn >= p->p.gfn + span)
			continue;
		if (!best || p->order > best->order)
			best = p;
	}
	if (best) {
		if (out)
			prov_fill(l, best, out);
		ret = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

long kvm_prov_balance(struct tdxsim *sim, struct kvm_prov_balance *b)
{
	struct kvm_ledger *l = ledger_of(sim, false);
	struct prov_page *p, *tmp;
	u64 seq = sim ? tdxsim_seq(sim) : 0;
	long held = 0;

	if (b)
		memset(b, 0, sizeof(*b));
	if (!l)
		return 0;
	pthread_mutex_lock(&l->lock);
	HASH_ITER(hh, l->pages, p, tmp) {
		enum kvm_page_pool pool = p->p.pool;

		/* Pages the model did not allocate are only followed, not balanced. */
		if (!strcmp(p->p.allocator, "?"))
			continue;
		if (b)
			b->allocated[pool]++;
		switch (p->p.state) {
		case KVM_PAGE_FREED:
			if (b)
				b->freed[pool]++;
			break;
		case KVM_PAGE_LEAKED:
			if (b)
				b->leaked[pool]++;
			break;
		default:
			if (b)
				b->held[pool]++;
			held++;
			ledger_record(l, NULL, KVM_INV_BALANCE, p->p.gfn, p->p.level, p->p.hpa, seq,
				      "page from the %s (by %s) still %s at teardown (last: %s)",
				      pool_names[pool], p->p.allocator,
				      kvm_page_state_name(p->p.state), p->p.last);
			break;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return held;
}
