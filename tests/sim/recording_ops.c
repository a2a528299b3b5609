// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test double for the backend boundary (see recording_ops.h): records the
 * hook calls and keeps the external tree they imply.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "recording_ops.h"

enum rec_ext_kind { REC_EXT_LEAF, REC_EXT_TABLE };

/* One entry of the external tree, keyed by the SPTE it sits in: (gfn, level). */
struct rec_ext_entry {
	u64 key;
	enum rec_ext_kind kind;
	u64 spte;		/* leaf */
	void *page;		/* table: its external_spt */
	UT_hash_handle hh;
};

static u64 ext_key(gfn_t gfn, int level)
{
	return (gfn << 4) | (u64)level;
}

static struct rec_ext_entry *ext_find(struct rec_backend *rec, gfn_t gfn, int level)
{
	struct rec_ext_entry *e;
	u64 key = ext_key(gfn, level);

	HASH_FIND(hh, rec->ext, &key, sizeof(key), e);
	return e;
}

static void violation(struct rec_backend *rec, const char *fmt, ...)
{
	va_list ap;

	if (!rec->violations++) {
		va_start(ap, fmt);
		vsnprintf(rec->first_violation, sizeof(rec->first_violation), fmt, ap);
		va_end(ap);
	}
}

static void ext_add(struct rec_backend *rec, gfn_t gfn, int level, enum rec_ext_kind kind,
		    u64 spte, void *page)
{
	struct rec_ext_entry *e;

	if (ext_find(rec, gfn, level)) {
		violation(rec, "external entry at gfn %#llx level %d already present", gfn, level);
		return;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	e->key = ext_key(gfn, level);
	e->kind = kind;
	e->spte = spte;
	e->page = page;
	HASH_ADD(hh, rec->ext, key, sizeof(e->key), e);
}

static void ext_del(struct rec_backend *rec, struct rec_ext_entry *e)
{
	HASH_DEL(rec->ext, e);
	free(e);
}

static struct rec_backend *to_rec(struct kvm *kvm)
{
	return kvm->priv;
}

/* Records the call; returns the injected error for it, or 0. Lock held. */
static int record(struct rec_backend *rec, enum rec_hook hook, gfn_t gfn, int level, u64 old,
		  u64 new, void *page, bool shared)
{
	int nth = ++rec->nhook[hook];
	int ret = (rec->fail_nth && rec->fail_hook == hook && nth == rec->fail_nth) ?
		  rec->fail_err : 0;

	if (rec->ncalls < REC_MAX_CALLS)
		rec->calls[rec->ncalls] = (struct rec_call){
			.hook = hook, .gfn = gfn, .level = level, .old_spte = old,
			.new_spte = new, .page = page, .shared = shared, .ret = ret,
		};
	rec->ncalls++;
	return ret;
}

static void set_ret(struct rec_backend *rec, int ret)
{
	if (rec->ncalls <= REC_MAX_CALLS)
		rec->calls[rec->ncalls - 1].ret = ret;
}

static void enter(struct rec_backend *rec, enum rec_hook hook, gfn_t gfn, int level)
{
	if (rec->in_hook)
		rec->in_hook(rec, hook, gfn, level);
	pthread_mutex_lock(&rec->lock);
}

/* The table a level-@level entry at @gfn lives in must exist (the root's always does). */
static void check_parent(struct kvm *kvm, struct rec_backend *rec, gfn_t gfn, int level)
{
	if (level + 1 >= kvm->root_level)
		return;
	if (!ext_find(rec, gfn_round_for_level(gfn, level + 1), level + 1))
		violation(rec, "gfn %#llx level %d: no external table above it", gfn, level);
}

static int rec_link_external_spt(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				 void *external_spt)
{
	struct rec_backend *rec = to_rec(kvm);
	int ret;

	enter(rec, REC_LINK, gfn, level);
	ret = record(rec, REC_LINK, gfn, level, 0, 0, external_spt, true);
	if (!ret) {
		check_parent(kvm, rec, gfn, level);
		if (!external_spt)
			violation(rec, "link at gfn %#llx level %d without a page", gfn, level);
		ext_add(rec, gfn, level, REC_EXT_TABLE, 0, external_spt);
	}
	pthread_mutex_unlock(&rec->lock);
	return ret;
}

static int rec_set_external_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 spte)
{
	struct rec_backend *rec = to_rec(kvm);
	int ret;

	enter(rec, REC_SET, gfn, level);
	ret = record(rec, REC_SET, gfn, level, 0, spte, NULL, true);
	if (!ret) {
		check_parent(kvm, rec, gfn, level);
		ext_add(rec, gfn, level, REC_EXT_LEAF, spte, NULL);
	}
	pthread_mutex_unlock(&rec->lock);
	return ret;
}

static int rec_split_external_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 old_spte,
				   void *new_external_spt, bool shared)
{
	struct rec_backend *rec = to_rec(kvm);
	struct rec_ext_entry *e;
	int ret, i;

	enter(rec, REC_SPLIT, gfn, level);
	ret = record(rec, REC_SPLIT, gfn, level, old_spte, 0, new_external_spt, shared);
	/* TDX refuses before any SEAMCALL under the shared lock (003:P09). */
	if (!ret && shared)
		ret = -EOPNOTSUPP;
	if (!ret && rec->split_cache_min) {
		if (rec->split_cache_cnt < rec->split_cache_min)
			violation(rec, "split at gfn %#llx: split cache underflow (%d < %d)", gfn,
				  rec->split_cache_cnt, rec->split_cache_min);
		else
			rec->split_cache_cnt -= rec->split_cache_min;
	}
	if (!ret) {
		e = ext_find(rec, gfn, level);
		if (!e || e->kind != REC_EXT_LEAF || spte_to_pfn(e->spte) != spte_to_pfn(old_spte)) {
			violation(rec, "split at gfn %#llx level %d: no such external leaf", gfn, level);
		} else {
			ext_del(rec, e);
			ext_add(rec, gfn, level, REC_EXT_TABLE, 0, new_external_spt);
			for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
				ext_add(rec, gfn + i * KVM_PAGES_PER_HPAGE(level - 1), level - 1,
					REC_EXT_LEAF,
					make_spte(spte_to_pfn(old_spte) +
						  i * KVM_PAGES_PER_HPAGE(level - 1), level - 1),
					NULL);
		}
	}
	set_ret(rec, ret);
	pthread_mutex_unlock(&rec->lock);
	return ret;
}

static void rec_remove_external_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 spte)
{
	struct rec_backend *rec = to_rec(kvm);
	struct rec_ext_entry *e;

	enter(rec, REC_REMOVE, gfn, level);
	if (!record(rec, REC_REMOVE, gfn, level, spte, 0, NULL, false)) {
		e = ext_find(rec, gfn, level);
		if (!e || e->kind != REC_EXT_LEAF || spte_to_pfn(e->spte) != spte_to_pfn(spte))
			violation(rec, "remove at gfn %#llx level %d: no such external leaf", gfn,
				  level);
		else
			ext_del(rec, e);
	}
	pthread_mutex_unlock(&rec->lock);
}

static int rec_free_external_spt(struct kvm *kvm, gfn_t gfn, enum pg_level level,
				 void *external_spt)
{
	struct rec_backend *rec = to_rec(kvm);
	struct rec_ext_entry *e;
	int ret, i;

	enter(rec, REC_FREE, gfn, level);
	ret = record(rec, REC_FREE, gfn, level, 0, 0, external_spt, false);
	if (!ret) {
		/* @level is the level of the table's entries; it hangs from level + 1. */
		for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
			if (ext_find(rec, gfn + i * KVM_PAGES_PER_HPAGE(level), level))
				violation(rec, "free of table at gfn %#llx level %d before its entry %d",
					  gfn, level, i);
		e = ext_find(rec, gfn, level + 1);
		if (!e || e->kind != REC_EXT_TABLE || e->page != external_spt)
			violation(rec, "free at gfn %#llx level %d: no such external table", gfn,
				  level);
		else
			ext_del(rec, e);
	} else {
		/*
		 * KVM leaks it (external_spt = NULL): the "module" keeps the page,
		 * ours to free at the end, detached from the tree it is torn out of.
		 */
		e = ext_find(rec, gfn, level + 1);
		if (e)
			ext_del(rec, e);
		if (rec->nmodule_owned < 64)
			rec->module_owned[rec->nmodule_owned++] = external_spt;
	}
	pthread_mutex_unlock(&rec->lock);
	return ret;
}

static int rec_topup_split_cache(struct kvm *kvm, enum pg_level level)
{
	struct rec_backend *rec = to_rec(kvm);
	int ret;

	enter(rec, REC_TOPUP_SPLIT, 0, level);
	ret = record(rec, REC_TOPUP_SPLIT, 0, level, 0, 0, NULL, false);
	if (!ret)
		ret = rec->split_cache_topup_err;
	if (!ret && rec->split_cache_cnt < rec->split_cache_min)
		rec->split_cache_cnt = rec->split_cache_min;
	set_ret(rec, ret);
	pthread_mutex_unlock(&rec->lock);
	return ret;
}

static bool rec_need_topup_split_cache(struct kvm *kvm, enum pg_level level)
{
	struct rec_backend *rec = to_rec(kvm);
	bool need;

	pthread_mutex_lock(&rec->lock);
	need = rec->split_cache_cnt < rec->split_cache_min;
	pthread_mutex_unlock(&rec->lock);
	return need;
}

static void *rec_page(struct rec_backend *rec, bool may_fail)
{
	void *page;

	pthread_mutex_lock(&rec->lock);
	rec->page_allocs++;
	if (may_fail && rec->page_fail_nth && rec->page_allocs == rec->page_fail_nth) {
		pthread_mutex_unlock(&rec->lock);
		return NULL;
	}
	page = malloc(8);
	if (page)
		rec->pages_alive++;
	pthread_mutex_unlock(&rec->lock);
	return page;
}

static void *rec_alloc_external_fault_cache(struct kvm_vcpu *vcpu)
{
	return rec_page(to_rec(vcpu->kvm), false);
}

static int rec_gmem_max_mapping_level(struct kvm *kvm, kvm_pfn_t pfn, bool is_private)
{
	return to_rec(kvm)->max_mapping_level;
}

static void *rec_get_zeroed_page(struct kvm *kvm, enum kvm_page_pool pool)
{
	return rec_page(to_rec(kvm), true);
}

static void rec_free_page(struct kvm *kvm, void *page, enum kvm_page_pool pool)
{
	struct rec_backend *rec = to_rec(kvm);
	int i;

	pthread_mutex_lock(&rec->lock);
	for (i = 0; i < rec->nmodule_owned; i++) {
		if (rec->module_owned[i] == page) {
			/* I4: never free a page the module still owns. */
			violation(rec, "KVM freed external page %p that the module owns", page);
			pthread_mutex_unlock(&rec->lock);
			return;
		}
	}
	rec->pages_alive--;
	pthread_mutex_unlock(&rec->lock);
	free(page);
}

const struct kvm_x86_ops rec_x86_ops = {
	.name = "recording test double",
	.link_external_spt = rec_link_external_spt,
	.set_external_spte = rec_set_external_spte,
	.free_external_spt = rec_free_external_spt,
	.remove_external_spte = rec_remove_external_spte,
	.split_external_spte = rec_split_external_spte,
	.alloc_external_fault_cache = rec_alloc_external_fault_cache,
	.topup_external_per_vm_split_cache = rec_topup_split_cache,
	.need_topup_external_per_vm_split_cache = rec_need_topup_split_cache,
	.gmem_max_mapping_level = rec_gmem_max_mapping_level,
};

/*
 * TDX's dispatch of the funnel (kvm-upstream.md §3): both present -> split,
 * old present -> remove, new not present -> bug, new non-leaf -> link, else
 * map the leaf.  A split is "shared" when mmu_lock is held for read.
 */
static int rec_funnel(struct kvm *kvm, gfn_t gfn, u64 old_spte, u64 new_spte,
		      enum pg_level level)
{
	bool was_present = is_shadow_present_pte(old_spte);
	bool is_present = is_shadow_present_pte(new_spte);

	if (was_present && is_present)
		return rec_split_external_spte(kvm, gfn, level, old_spte,
					       spte_to_child_sp(new_spte)->external_spt,
					       kvm_mmu_lock_held(kvm, true));
	if (was_present) {
		rec_remove_external_spte(kvm, gfn, level, old_spte);
		return 0;
	}
	if (!is_present)
		return -EIO;
	if (!is_last_spte(new_spte, level))
		return rec_link_external_spt(kvm, gfn, level,
					     spte_to_child_sp(new_spte)->external_spt);
	return rec_set_external_spte(kvm, gfn, level, new_spte);
}

static void rec_free_external_sp(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	if (rec_free_external_spt(kvm, sp->gfn, sp->role.level, sp->external_spt))
		sp->external_spt = NULL;
}

const struct kvm_x86_ops_upstream rec_upstream_ops = {
	.name = "recording test double (upstream funnel)",
	.set_external_spte = rec_funnel,
	.free_external_spt = rec_free_external_sp,
};

enum kvm_mmu_design rec_design = KVM_MMU_DESIGN_V3;

unsigned int rec_defects;

struct tdxsim_kvm_config rec_config(struct rec_backend *rec)
{
	return (struct tdxsim_kvm_config){
		.defects = rec_defects,
		.ops = &rec_x86_ops,
		.upstream_ops = rec_design == KVM_MMU_DESIGN_UPSTREAM ? &rec_upstream_ops : NULL,
		.page_ops = &rec_page_ops,
		.priv = rec,
	};
}

const struct kvm_page_ops rec_page_ops = {
	.get_page_for = rec_get_zeroed_page,
	.release_page = rec_free_page,
};

void rec_init(struct rec_backend *rec)
{
	memset(rec, 0, sizeof(*rec));
	pthread_mutex_init(&rec->lock, NULL);
}

void rec_fini(struct rec_backend *rec)
{
	struct rec_ext_entry *e, *tmp;

	HASH_ITER(hh, rec->ext, e, tmp)
		ext_del(rec, e);
	while (rec->nmodule_owned)
		free(rec->module_owned[--rec->nmodule_owned]);
	pthread_mutex_destroy(&rec->lock);
}

void rec_reset_calls(struct rec_backend *rec)
{
	pthread_mutex_lock(&rec->lock);
	rec->ncalls = 0;
	memset(rec->nhook, 0, sizeof(rec->nhook));
	pthread_mutex_unlock(&rec->lock);
}

const char *rec_hook_name(enum rec_hook hook)
{
	static const char *const names[REC_NR] = {
		[REC_LINK] = "link_external_spt",
		[REC_SET] = "set_external_spte",
		[REC_SPLIT] = "split_external_spte",
		[REC_REMOVE] = "remove_external_spte",
		[REC_FREE] = "free_external_spt",
		[REC_TOPUP_SPLIT] = "topup_external_per_vm_split_cache",
	};

	return hook < REC_NR ? names[hook] : "?";
}

struct kvm *rec_create_vm(struct rec_backend *rec, gfn_t base_gfn, unsigned long npages)
{
	struct tdxsim_kvm_config cfg = rec_config(rec);
	struct kvm_userspace_memory_region2 mem = {
		.slot = 0,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = base_gfn << 12,
		.memory_size = (u64)npages << 12,
	};
	struct kvm *kvm = tdxsim_kvm_create(&cfg);

	if (!kvm)
		return NULL;
	if (kvm_set_memory_region(kvm, &mem) ||
	    kvm_vm_set_mem_attributes(kvm, base_gfn, base_gfn + npages,
				      KVM_MEMORY_ATTRIBUTE_PRIVATE)) {
		tdxsim_kvm_destroy(kvm);
		return NULL;
	}
	return kvm;
}

int rec_check_agreement(struct kvm *kvm, struct rec_backend *rec, char *why, size_t len)
{
	struct kvm_mmu_page *root = kvm->mirror_root;
	gfn_t end = 1ULL << (root->role.level * SPTE_LEVEL_BITS);
	struct tdp_iter iter;
	unsigned int seen = 0;
	int bad = 0;

	why[0] = 0;
	pthread_mutex_lock(&rec->lock);
	for_each_tdp_pte(iter, kvm, root, 0, end) {
		struct rec_ext_entry *e;

		if (!is_shadow_present_pte(iter.old_spte))
			continue;
		seen++;
		e = ext_find(rec, iter.gfn, iter.level);
		if (is_last_spte(iter.old_spte, iter.level)) {
			if (e && e->kind == REC_EXT_LEAF &&
			    spte_to_pfn(e->spte) == spte_to_pfn(iter.old_spte))
				continue;
		} else if (e && e->kind == REC_EXT_TABLE &&
			   e->page == spte_to_child_sp(iter.old_spte)->external_spt) {
			continue;
		}
		if (!bad++)
			snprintf(why, len, "mirror gfn %#llx level %d spte %#llx: external %s",
				 iter.gfn, iter.level, iter.old_spte, e ? "differs" : "absent");
	}
	if (seen != HASH_COUNT(rec->ext) && !bad++)
		snprintf(why, len, "mirror has %u present entries, external tree %u", seen,
			 HASH_COUNT(rec->ext));
	pthread_mutex_unlock(&rec->lock);
	return bad;
}

int rec_count_spte(struct kvm *kvm, u64 value)
{
	struct kvm_mmu_page *root = kvm->mirror_root;
	gfn_t end = 1ULL << (root->role.level * SPTE_LEVEL_BITS);
	struct tdp_iter iter;
	int n = 0;

	for_each_tdp_pte(iter, kvm, root, 0, end)
		n += iter.old_spte == value;
	return n;
}
