// SPDX-License-Identifier: GPL-2.0-only
/*
 * struct kvm, vCPUs, memslots with guest_memfd folios, memory attributes,
 * mmu_lock with lockdep-style ownership, deferred (RCU) freeing of removed
 * page tables, and kvm_mmu_memory_cache.  Kernel counterparts:
 * virt/kvm/kvm_main.c, virt/kvm/guest_memfd.c, arch/x86/kvm/x86.c
 * (kvm_arch_alloc_memslot_metadata), arch/x86/kvm/mmu/mmu.c (lpage_info).
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <tdxsim-kvm/check.h>

#include "mmu_internal.h"

/* ---- KVM_BUG_ON ---- */
bool __kvm_bug_on(struct kvm *kvm, bool cond, const char *file, int line, const char *what)
{
	if (!cond)
		return false;
	if (kvm)
		__atomic_store_n(&kvm->vm_bugged, true, __ATOMIC_RELEASE);
	__tdxsim_kernel_event(TDXSIM_KEV_KVM_BUG, file, line, "KVM_BUG_ON(%s)", what);
	return true;
}

/* ---- mmu_lock ---- */
/*
 * Which struct kvm's mmu_lock this thread holds, and how: lockdep's view.
 * A thread holds at most one VM's mmu_lock, as in KVM.
 */
static __thread struct kvm *mmu_lock_owner;
static __thread bool mmu_lock_owner_shared;

void KVM_MMU_LOCK(struct kvm *kvm)
{
	write_lock(&kvm->mmu_lock);
	mmu_lock_owner = kvm;
	mmu_lock_owner_shared = false;
	clock_gettime(CLOCK_MONOTONIC, &kvm->mmu_lock_write_t0);	/* S08b's hold time */
}

/*
 * Dropping the write lock ends a grace period: tables removed under it are
 * unreachable, and no walker kept a pointer across the hold.  They are freed
 * after the unlock, outside atomic context, as the RCU callback would be.
 */
void KVM_MMU_UNLOCK(struct kvm *kvm)
{
	struct timespec t1;
	long ns;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (t1.tv_sec - kvm->mmu_lock_write_t0.tv_sec) * 1000000000L +
	     (t1.tv_nsec - kvm->mmu_lock_write_t0.tv_nsec);
	if (ns > kvm->stat.mmu_lock_write_max_ns)
		kvm->stat.mmu_lock_write_max_ns = ns;
	mmu_lock_owner = NULL;
	write_unlock(&kvm->mmu_lock);
	kvm_mmu_rcu_barrier(kvm);
}

void kvm_mmu_read_lock(struct kvm *kvm)
{
	read_lock(&kvm->mmu_lock);
	mmu_lock_owner = kvm;
	mmu_lock_owner_shared = true;
}

void kvm_mmu_read_unlock(struct kvm *kvm)
{
	mmu_lock_owner = NULL;
	read_unlock(&kvm->mmu_lock);
}

bool kvm_mmu_lock_held(struct kvm *kvm, bool shared)
{
	return mmu_lock_owner == kvm && mmu_lock_owner_shared == shared;
}

struct kvm *kvm_mmu_lock_owner(bool *shared)
{
	if (shared)
		*shared = mmu_lock_owner_shared;
	return mmu_lock_owner;
}

void kvm_lockdep_assert_mmu_lock_held(struct kvm *kvm, bool shared)
{
	if (shared)
		lockdep_assert_held_read(&kvm->mmu_lock);
	else
		lockdep_assert_held_write(&kvm->mmu_lock);
}

/* ---- RCU: removed sps wait for the end of the write-lock hold ---- */
void kvm_mmu_call_rcu(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	pthread_mutex_lock(&kvm->rcu_lock);
	sp->rcu_next = kvm->rcu.first;
	kvm->rcu.first = sp;
	kvm->stat.rcu_pending++;
	pthread_mutex_unlock(&kvm->rcu_lock);
}

/* tdp_mmu_free_sp_rcu_callback for every pending sp. */
void kvm_mmu_rcu_barrier(struct kvm *kvm)
{
	struct kvm_mmu_page *sp, *next;

	pthread_mutex_lock(&kvm->rcu_lock);
	sp = kvm->rcu.first;
	kvm->rcu.first = NULL;
	kvm->stat.rcu_pending = 0;
	pthread_mutex_unlock(&kvm->rcu_lock);
	for (; sp; sp = next) {
		next = sp->rcu_next;
		tdp_mmu_free_sp(kvm, sp);
	}
}

/* ---- kvm_mmu_memory_cache ---- */
static void *mmu_memory_cache_alloc_obj(struct kvm_mmu_memory_cache *mc)
{
	if (mc->kind == KVM_MMU_CACHE_HEADER)
		return calloc(1, sizeof(struct kvm_mmu_page));
	return kvm_mmu_alloc_spt_page(mc->init_value);
}

int kvm_mmu_topup_memory_cache(struct kvm_mmu_memory_cache *mc, int min)
{
	if (!mc->capacity)
		mc->capacity = KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE;
	if (WARN_ON_ONCE(min > mc->capacity))
		return -EIO;
	if (mc->nobjs >= min)
		return 0;
	while (mc->nobjs < mc->capacity) {
		void *obj = mmu_memory_cache_alloc_obj(mc);

		if (!obj)
			return mc->nobjs >= min ? 0 : -ENOMEM;
		mc->objects[mc->nobjs++] = obj;
	}
	return 0;
}

int kvm_mmu_memory_cache_nr_free_objects(struct kvm_mmu_memory_cache *mc)
{
	return mc->nobjs;
}

void kvm_mmu_free_memory_cache(struct kvm_mmu_memory_cache *mc)
{
	while (mc->nobjs) {
		void *obj = mc->objects[--mc->nobjs];

		if (mc->kind == KVM_MMU_CACHE_HEADER)
			free(obj);
		else
			kvm_mmu_free_spt_page(obj);
	}
}

void *kvm_mmu_memory_cache_alloc(struct kvm_mmu_memory_cache *mc)
{
	if (WARN_ON_ONCE(!mc->nobjs))
		return mmu_memory_cache_alloc_obj(mc);
	return mc->objects[--mc->nobjs];
}

/* ---- VM and vCPUs ---- */
/* The kernel's own calls, on the thread's current simulator (the kernel shim). */
static void *default_get_zeroed_page(struct kvm *kvm, enum kvm_page_pool pool)
{
	void *page = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

	if (page)
		kvm_prov_note_virt(KVM_PROV_ALLOC, page, pool,
				   pool == KVM_POOL_SPLIT_SP ? "tdp_mmu_alloc_sp_for_split" : __func__);
	return page;
}

static void default_free_page(struct kvm *kvm, void *page, enum kvm_page_pool pool)
{
	kvm_prov_note_virt(KVM_PROV_FREE, page, pool,
			   pool == KVM_POOL_SP_FREE ? "tdp_mmu_free_sp" : __func__);
	free_page((unsigned long)page);
}

/* kvm->check_id: counts up for the process's life. */
static u64 next_check_id;

struct kvm *tdxsim_kvm_create(const struct tdxsim_kvm_config *cfg)
{
	struct kvm *kvm;

	if (!cfg || !cfg->ops || (cfg->root_level && cfg->root_level != PT64_ROOT_4LEVEL &&
				  cfg->root_level != PT64_ROOT_MAX_LEVEL)) {
		errno = EINVAL;
		return NULL;
	}
	kvm = calloc(1, sizeof(*kvm));
	if (!kvm)
		return NULL;
	rwlock_init(&kvm->mmu_lock);
	pthread_mutex_init(&kvm->rcu_lock, NULL);
	pthread_rwlock_init(&kvm->gmem_lock, NULL);
	pthread_mutex_init(&kvm->gmem_inval_mutex, NULL);
	pthread_cond_init(&kvm->gmem_inval_cond, NULL);
	kvm->mmu_design = cfg->upstream_ops ? KVM_MMU_DESIGN_UPSTREAM : KVM_MMU_DESIGN_V3;
	kvm->x86_ops = cfg->ops;
	kvm->x86_ops_upstream = cfg->upstream_ops;
	if (cfg->page_ops) {
		kvm->page_ops = *cfg->page_ops;
	} else {
		kvm->page_ops.get_page_for = default_get_zeroed_page;
		kvm->page_ops.release_page = default_free_page;
	}
	kvm->priv = cfg->priv;
	kvm->defects = cfg->defects;
	kvm->check_id = __atomic_add_fetch(&next_check_id, 1, __ATOMIC_RELAXED);
	kvm->has_mirrored_tdp = true;
	kvm->root_level = cfg->root_level ? cfg->root_level : PT64_ROOT_4LEVEL;
	kvm->mirror_root = kvm_tdp_mmu_alloc_mirror_root(kvm);
	if (!kvm->mirror_root) {
		pthread_cond_destroy(&kvm->gmem_inval_cond);
		pthread_mutex_destroy(&kvm->gmem_inval_mutex);
		pthread_rwlock_destroy(&kvm->gmem_lock);
		pthread_mutex_destroy(&kvm->rcu_lock);
		pthread_rwlock_destroy(&kvm->mmu_lock.l);
		free(kvm);
		errno = ENOMEM;
		return NULL;
	}
	return kvm;
}

static void kvm_free_memslot(struct kvm_memory_slot *slot)
{
	unsigned long i, nchunks;
	int l;

	if (!slot)
		return;
	for (l = 0; l < KVM_NR_PAGE_SIZES - 1; l++)
		free(slot->lpage_info[l]);
	free(slot->attr_private);
	if (slot->gmem) {
		nchunks = (slot->gmem_pgoff + slot->npages + SPTE_ENT_PER_PAGE - 1) / SPTE_ENT_PER_PAGE;
		for (i = 0; i < nchunks; i++)
			free(slot->gmem[i].pfns);
		free(slot->gmem);
	}
	free(slot);
}

void tdxsim_kvm_destroy(struct kvm *kvm)
{
	int i;

	if (!kvm)
		return;
	KVM_MMU_LOCK(kvm);
	tdp_mmu_zap_root(kvm, kvm->mirror_root, false);
	KVM_MMU_UNLOCK(kvm);
	tdp_mmu_free_sp(kvm, kvm->mirror_root);
	if (kvm->x86_ops->free_external_per_vm_split_cache)
		kvm->x86_ops->free_external_per_vm_split_cache(kvm);
	for (i = 0; i < KVM_MEM_SLOTS_NUM; i++)
		kvm_free_memslot(kvm->memslots[i]);
	pthread_cond_destroy(&kvm->gmem_inval_cond);
	pthread_mutex_destroy(&kvm->gmem_inval_mutex);
	pthread_rwlock_destroy(&kvm->gmem_lock);
	pthread_mutex_destroy(&kvm->rcu_lock);
	pthread_rwlock_destroy(&kvm->mmu_lock.l);
	free(kvm);
}

static __thread struct kvm_vcpu *running_vcpu;

struct kvm_vcpu *kvm_get_running_vcpu(void)
{
	return running_vcpu;
}

void vcpu_load(struct kvm_vcpu *vcpu)
{
	running_vcpu = vcpu;
}

void vcpu_put(struct kvm_vcpu *vcpu)
{
	if (running_vcpu == vcpu)
		running_vcpu = NULL;
}

struct kvm_vcpu *tdxsim_kvm_vcpu_create(struct kvm *kvm, int vcpu_id)
{
	struct kvm_vcpu *vcpu;
	int i;

	for (i = 0; i < KVM_MAX_VCPUS && kvm->vcpu_array[i]; i++)
		;
	if (i == KVM_MAX_VCPUS) {
		errno = ENOSPC;
		return NULL;
	}
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return NULL;
	kvm->vcpu_array[i] = vcpu;
	vcpu->kvm = kvm;
	vcpu->vcpu_id = vcpu_id;
	vcpu->arch.mmu_page_header_cache.kind = KVM_MMU_CACHE_HEADER;
	vcpu->arch.mmu_page_header_cache.gfp_zero = true;
	vcpu->arch.mmu_shadow_page_cache.kind = KVM_MMU_CACHE_SPT;
	/* 001:L106: every entry of a fault-path table starts non-present, #VE suppressed. */
	vcpu->arch.mmu_shadow_page_cache.init_value = SHADOW_NONPRESENT_VALUE;
	return vcpu;
}

void tdxsim_kvm_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	int i;

	if (!vcpu)
		return;
	for (i = 0; i < KVM_MAX_VCPUS; i++)
		if (vcpu->kvm->vcpu_array[i] == vcpu)
			vcpu->kvm->vcpu_array[i] = NULL;
	vcpu_put(vcpu);
	kvm_mmu_free_vcpu_caches(vcpu);
	if (vcpu->kvm->x86_ops->free_external_fault_cache)
		vcpu->kvm->x86_ops->free_external_fault_cache(vcpu);
	free(vcpu);
}

/* ---- memslots ---- */
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn)
{
	int i;

	for (i = 0; i < KVM_MEM_SLOTS_NUM; i++) {
		struct kvm_memory_slot *slot = kvm->memslots[i];

		if (slot && gfn >= slot->base_gfn && gfn < slot->base_gfn + slot->npages)
			return slot;
	}
	return NULL;
}

/* arch/x86: lpage_info per level, edges disallowed (kvm_arch_alloc_memslot_metadata). */
static int kvm_alloc_memslot_metadata(struct kvm_memory_slot *slot)
{
	int level;

	for (level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		gfn_t last = slot->base_gfn + slot->npages - 1;
		unsigned long lpages = (last >> KVM_HPAGE_GFN_SHIFT(level)) -
				       (slot->base_gfn >> KVM_HPAGE_GFN_SHIFT(level)) + 1;

		slot->lpage_info[level - 2] = calloc(lpages, sizeof(struct kvm_lpage_info));
		if (!slot->lpage_info[level - 2])
			return -ENOMEM;
	}
	slot->attr_private = bit_alloc(slot->npages);
	slot->gmem = calloc((slot->gmem_pgoff + slot->npages + SPTE_ENT_PER_PAGE - 1) /
			    SPTE_ENT_PER_PAGE, sizeof(*slot->gmem));
	if (!slot->attr_private || !slot->gmem)
		return -ENOMEM;
	kvm_mmu_init_lpage_info(slot);
	return 0;
}

int kvm_set_memory_region(struct kvm *kvm, const struct kvm_userspace_memory_region2 *mem)
{
	struct kvm_memory_slot *slot;
	gfn_t base, npages;
	int r;

	if (!mem || mem->slot >= KVM_MEM_SLOTS_NUM || !mem->memory_size ||
	    (mem->guest_phys_addr | mem->memory_size | mem->guest_memfd_offset) & 4095)
		return -EINVAL;
	if (kvm->memslots[mem->slot])
		return -EEXIST;
	base = mem->guest_phys_addr >> 12;
	npages = mem->memory_size >> 12;
	if (gfn_to_memslot(kvm, base) || gfn_to_memslot(kvm, base + npages - 1))
		return -EEXIST;
	slot = calloc(1, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	slot->id = mem->slot;
	slot->base_gfn = base;
	slot->npages = npages;
	slot->userspace_addr = mem->userspace_addr;
	slot->gmem_pgoff = mem->guest_memfd_offset >> 12;
	r = kvm_alloc_memslot_metadata(slot);
	if (r) {
		kvm_free_memslot(slot);
		return r;
	}
	kvm->memslots[mem->slot] = slot;
	kvm->nr_memslots++;
	return 0;
}

/* ---- guest_memfd folios ---- */
static struct kvm_gmem_chunk *gmem_chunk(struct kvm_memory_slot *slot, gfn_t gfn,
					 unsigned long *idx)
{
	unsigned long index = gfn - slot->base_gfn + slot->gmem_pgoff;

	*idx = index % SPTE_ENT_PER_PAGE;
	return &slot->gmem[index / SPTE_ENT_PER_PAGE];
}

static int __tdxsim_kvm_gmem_set_folio(struct kvm *kvm, gfn_t gfn, kvm_pfn_t pfn, int order);

int tdxsim_kvm_gmem_set_folio(struct kvm *kvm, gfn_t gfn, kvm_pfn_t pfn, int order)
{
	int r;

	pthread_rwlock_wrlock(&kvm->gmem_lock);
	r = __tdxsim_kvm_gmem_set_folio(kvm, gfn, pfn, order);
	pthread_rwlock_unlock(&kvm->gmem_lock);
	return r;
}

int tdxsim_kvm_gmem_split_folio(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	struct kvm_gmem_chunk *chunk;
	kvm_pfn_t *pfns;
	unsigned long idx, i;
	int r = -EINVAL;

	if (!slot)
		return -EINVAL;
	pfns = calloc(SPTE_ENT_PER_PAGE, sizeof(*pfns));
	if (!pfns)
		return -ENOMEM;
	pthread_rwlock_wrlock(&kvm->gmem_lock);
	chunk = gmem_chunk(slot, gfn, &idx);
	if (chunk->huge) {
		for (i = 0; i < SPTE_ENT_PER_PAGE; i++)
			pfns[i] = chunk->pfn + i;
		chunk->pfns = pfns;
		chunk->pfn = 0;
		chunk->huge = false;
		pfns = NULL;
		r = 0;
	}
	pthread_rwlock_unlock(&kvm->gmem_lock);
	free(pfns);
	return r;
}

int tdxsim_kvm_gmem_remove_folio(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	struct kvm_gmem_chunk *chunk;
	unsigned long idx;
	int r = -ENOENT;

	if (!slot)
		return -ENOENT;
	pthread_rwlock_wrlock(&kvm->gmem_lock);
	chunk = gmem_chunk(slot, gfn, &idx);
	if (chunk->huge) {
		chunk->huge = false;
		chunk->pfn = 0;
		r = 9;
	} else if (chunk->pfns && chunk->pfns[idx]) {
		chunk->pfns[idx] = 0;
		r = 0;
	}
	pthread_rwlock_unlock(&kvm->gmem_lock);
	return r;
}

static int __tdxsim_kvm_gmem_set_folio(struct kvm *kvm, gfn_t gfn, kvm_pfn_t pfn, int order)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	struct kvm_gmem_chunk *chunk;
	unsigned long idx;

	if (!slot || !pfn || (order != 0 && order != 9))
		return -EINVAL;
	chunk = gmem_chunk(slot, gfn, &idx);
	if (order == 9) {
		if (idx || (pfn & (SPTE_ENT_PER_PAGE - 1)) || chunk->pfns ||
		    !gfn_to_memslot(kvm, gfn + SPTE_ENT_PER_PAGE - 1))
			return -EINVAL;
		chunk->huge = true;
		chunk->pfn = pfn;
		return 0;
	}
	if (chunk->huge)
		return -EINVAL;
	if (!chunk->pfns) {
		chunk->pfns = calloc(SPTE_ENT_PER_PAGE, sizeof(kvm_pfn_t));
		if (!chunk->pfns)
			return -ENOMEM;
	}
	chunk->pfns[idx] = pfn;
	return 0;
}

int kvm_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
		     kvm_pfn_t *pfn, int *max_order)
{
	struct kvm_gmem_chunk *chunk;
	unsigned long idx;

	int r = 0;

	if (!slot || gfn < slot->base_gfn || gfn >= slot->base_gfn + slot->npages)
		return -EFAULT;
	/* filemap_invalidate_lock_shared(): no folio changes under the lookup. */
	pthread_rwlock_rdlock(&kvm->gmem_lock);
	chunk = gmem_chunk(slot, gfn, &idx);
	if (chunk->huge) {
		*pfn = chunk->pfn + idx;
		*max_order = 9;
	} else if (chunk->pfns && chunk->pfns[idx]) {
		*pfn = chunk->pfns[idx];
		*max_order = 0;
	} else {
		r = -EFAULT;
	}
	pthread_rwlock_unlock(&kvm->gmem_lock);
	return r;
}

/* ---- memory attributes ---- */
u64 kvm_get_memory_attributes(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);

	if (!slot)
		return 0;
	/* A fault reads without mmu_lock (the kernel: the xarray under RCU). */
	return kvm_attr_test(slot, gfn) ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
}

bool kvm_mem_is_private(struct kvm *kvm, gfn_t gfn)
{
	return kvm_get_memory_attributes(kvm, gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE;
}

/* ---- the invalidation protocol (virt/kvm/kvm_main.c) ---- */
void kvm_mmu_invalidate_begin(struct kvm *kvm)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	/* The first of nested invalidations starts an empty range. */
	if (++kvm->mmu_invalidate_in_progress == 1) {
		kvm->mmu_invalidate_range_start = ~0ULL;
		kvm->mmu_invalidate_range_end = 0;
	}
}

void kvm_mmu_invalidate_range_add(struct kvm *kvm, gfn_t start, gfn_t end)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	WARN_ON_ONCE(!kvm->mmu_invalidate_in_progress);
	if (start < kvm->mmu_invalidate_range_start)
		kvm->mmu_invalidate_range_start = start;
	if (end > kvm->mmu_invalidate_range_end)
		kvm->mmu_invalidate_range_end = end;
}

void kvm_mmu_invalidate_end(struct kvm *kvm)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	/* The seq first: a fault that saw the old one retries once in_progress drops. */
	__atomic_store_n(&kvm->mmu_invalidate_seq, kvm->mmu_invalidate_seq + 1, __ATOMIC_RELEASE);
	WARN_ON_ONCE(kvm->mmu_invalidate_in_progress <= 0);
	kvm->mmu_invalidate_in_progress--;
}

bool mmu_invalidate_retry_gfn(struct kvm *kvm, unsigned long mmu_seq, gfn_t gfn)
{
	if (kvm->mmu_invalidate_in_progress && gfn >= kvm->mmu_invalidate_range_start &&
	    gfn < kvm->mmu_invalidate_range_end)
		return true;
	return __atomic_load_n(&kvm->mmu_invalidate_seq, __ATOMIC_ACQUIRE) != mmu_seq;
}

/* ---- guest_memfd's invalidate lock held across an operation (S24) ---- */
void tdxsim_kvm_gmem_invalidate_lock(struct kvm *kvm, gfn_t start, gfn_t end)
{
	pthread_mutex_lock(&kvm->gmem_inval_mutex);
	while (kvm->gmem_inval_busy)
		pthread_cond_wait(&kvm->gmem_inval_cond, &kvm->gmem_inval_mutex);
	kvm->gmem_inval_busy = true;
	kvm->gmem_inval_start = start;
	kvm->gmem_inval_end = end;
	pthread_mutex_unlock(&kvm->gmem_inval_mutex);
}

void tdxsim_kvm_gmem_invalidate_unlock(struct kvm *kvm)
{
	pthread_mutex_lock(&kvm->gmem_inval_mutex);
	kvm->gmem_inval_busy = false;
	pthread_cond_broadcast(&kvm->gmem_inval_cond);
	pthread_mutex_unlock(&kvm->gmem_inval_mutex);
}

static long ns_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000000000L + (t1.tv_nsec - t0->tv_nsec);
}

void kvm_gmem_fault_wait(struct kvm *kvm, gfn_t gfn)
{
	struct timespec t0;
	bool waited = false;
	long ns;

	pthread_mutex_lock(&kvm->gmem_inval_mutex);
	while (kvm->gmem_inval_busy && gfn >= kvm->gmem_inval_start &&
	       gfn < kvm->gmem_inval_end) {
		if (!waited) {
			waited = true;
			kvm->stat.gmem_fault_waits++;
			clock_gettime(CLOCK_MONOTONIC, &t0);
		}
		pthread_cond_wait(&kvm->gmem_inval_cond, &kvm->gmem_inval_mutex);
	}
	if (waited) {
		ns = ns_since(&t0);
		if (ns > kvm->stat.gmem_wait_max_ns)
			kvm->stat.gmem_wait_max_ns = ns;
	}
	pthread_mutex_unlock(&kvm->gmem_inval_mutex);
}
