// SPDX-License-Identifier: GPL-2.0-only
/*
 * The MMU around the TDP MMU (arch/x86/kvm/mmu/mmu.c, virt/kvm/kvm_main.c):
 * lpage_info and the guest-inhibit flag, MIXED after attribute changes, the
 * maximum mapping level of a private fault, the fault entry, the vCPU MMU
 * caches, and KVM_SET_MEMORY_ATTRIBUTES' pre/post handlers.
 * Spec kvm-model.md §1.4, §1.5, §2.1, §2.2, §2.7.
 */
#include <tdxsim-kvm/check.h>

#include "mmu_internal.h"

/* ---- lpage_info ---- */
struct kvm_lpage_info *lpage_info_slot(gfn_t gfn, const struct kvm_memory_slot *slot, int level)
{
	unsigned long idx = (gfn >> KVM_HPAGE_GFN_SHIFT(level)) -
			    (slot->base_gfn >> KVM_HPAGE_GFN_SHIFT(level));

	return &slot->lpage_info[level - 2][idx];
}

/*
 * A large page that the slot does not wholly cover can never be mapped
 * huge: count one reason at the head and one at the tail.  The userspace
 * address rule is relaxed for guest_memfd slots (003:CL "Base" FIXUP).
 */
void kvm_mmu_init_lpage_info(struct kvm_memory_slot *slot)
{
	int level;

	for (level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		u64 mask = KVM_PAGES_PER_HPAGE(level) - 1;
		gfn_t end = slot->base_gfn + slot->npages;

		if (slot->base_gfn & mask)
			lpage_info_slot(slot->base_gfn, slot, level)->disallow_lpage++;
		if (end & mask)
			lpage_info_slot(end - 1, slot, level)->disallow_lpage++;
	}
}

/*
 * The count shares its word with the MIXED and GUEST_INHIBIT flags: a
 * change of the count must leave both flags as they were (003:P12).
 */
static void update_gfn_disallow_lpage_count(const struct kvm_memory_slot *slot, gfn_t gfn,
					    int count)
{
	const unsigned int flag_bits = KVM_LPAGE_MIXED_FLAG | KVM_LPAGE_GUEST_INHIBIT_FLAG;
	int level;

	for (level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		unsigned int *word = &lpage_info_slot(gfn, slot, level)->disallow_lpage;
		unsigned int old = __atomic_fetch_add(word, count, __ATOMIC_RELAXED);

		WARN_ON_ONCE(((old + count) & flag_bits) != (old & flag_bits));
	}
}

void kvm_mmu_gfn_disallow_lpage(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	update_gfn_disallow_lpage_count(slot, gfn, 1);
}

void kvm_mmu_gfn_allow_lpage(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	update_gfn_disallow_lpage_count(slot, gfn, -1);
}

/* Only 2M..KVM_MAX_HUGEPAGE_LEVEL have an lpage_info word. */
static bool lvl_has_lpage_info(int lvl)
{
	return lvl > PG_LEVEL_4K && lvl <= KVM_MAX_HUGEPAGE_LEVEL;
}

void hugepage_set_guest_inhibit(struct kvm_memory_slot *memslot, gfn_t frame, int lvl)
{
	struct kvm_lpage_info *info;

	if (WARN_ON_ONCE(!lvl_has_lpage_info(lvl)))
		return;
	info = lpage_info_slot(frame, memslot, lvl);
	/* An atomic OR: hugepage_test_guest_inhibit() reads without mmu_lock. */
	__atomic_fetch_or(&info->disallow_lpage, KVM_LPAGE_GUEST_INHIBIT_FLAG, __ATOMIC_RELAXED);
}

/*
 * Also read without mmu_lock (003:P13): once set, the flag never clears.
 * The word's writers hold mmu_lock for write and still update it with
 * relaxed atomics, so this lockless read is not a data race in C.
 */
bool hugepage_test_guest_inhibit(struct kvm_memory_slot *memslot, gfn_t frame, int lvl)
{
	unsigned int word;

	if (!lvl_has_lpage_info(lvl))
		return false;
	word = __atomic_load_n(&lpage_info_slot(frame, memslot, lvl)->disallow_lpage,
			       __ATOMIC_RELAXED);
	return (word & KVM_LPAGE_GUEST_INHIBIT_FLAG) != 0;
}

static void hugepage_set_mixed(struct kvm_memory_slot *slot, gfn_t gfn, int level)
{
	__atomic_fetch_or(&lpage_info_slot(gfn, slot, level)->disallow_lpage, KVM_LPAGE_MIXED_FLAG,
			  __ATOMIC_RELAXED);
}

static void hugepage_clear_mixed(struct kvm_memory_slot *slot, gfn_t gfn, int level)
{
	__atomic_fetch_and(&lpage_info_slot(gfn, slot, level)->disallow_lpage,
			   ~KVM_LPAGE_MIXED_FLAG, __ATOMIC_RELAXED);
}

static u64 slot_attrs(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	return kvm_attr_test(slot, gfn) ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
}

/* Upper levels consume the lower levels' MIXED results (spec §1.5). */
static bool hugepage_has_attrs(struct kvm_memory_slot *slot, gfn_t gfn, int level, u64 attrs)
{
	gfn_t end = gfn + KVM_PAGES_PER_HPAGE(level);

	if (level == PG_LEVEL_2M) {
		for (; gfn < end; gfn++)
			if (slot_attrs(slot, gfn) != attrs)
				return false;
		return true;
	}
	for (; gfn < end; gfn += KVM_PAGES_PER_HPAGE(level - 1))
		if ((lpage_info_slot(gfn, slot, level - 1)->disallow_lpage & KVM_LPAGE_MIXED_FLAG) ||
		    slot_attrs(slot, gfn) != attrs)
			return false;
	return true;
}

void kvm_arch_post_set_memory_attributes(struct kvm *kvm, struct kvm_gfn_range *range)
{
	struct kvm_memory_slot *slot = range->slot;
	gfn_t slot_end = slot->base_gfn + slot->npages;
	int level;

	lockdep_assert_held_write(&kvm->mmu_lock);
	for (level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		gfn_t nr_pages = KVM_PAGES_PER_HPAGE(level);
		gfn_t gfn;

		for (gfn = gfn_round_for_level(range->start, level); gfn < range->end;
		     gfn += nr_pages) {
			/* Not wholly in the slot: disallowed by the edge count anyway. */
			if (gfn < slot->base_gfn || gfn + nr_pages > slot_end)
				continue;
			if (hugepage_has_attrs(slot, gfn, level, slot_attrs(slot, gfn)))
				hugepage_clear_mixed(slot, gfn, level);
			else
				hugepage_set_mixed(slot, gfn, level);
		}
	}
}

/*
 * To shared: split the private huge leaves straddling the range, then zap
 * the private leaves inside it (precise zap, 003:P15).  To private: only
 * shared mappings are zapped, and the direct root is not modelled.
 */
static int kvm_arch_pre_set_memory_attributes(struct kvm *kvm, struct kvm_gfn_range *range)
{
	bool to_shared = !(range->arg.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE);
	int r;

	/* The zap targets the mappings of the kind the range is leaving. */
	range->attr_filter = to_shared ? KVM_FILTER_PRIVATE : KVM_FILTER_SHARED;
	if (to_shared) {
		r = kvm_split_cross_boundary_leafs(kvm, range, false);
		if (r)
			return r;
	}
	return kvm_unmap_gfn_range(kvm, range);
}

static bool slot_range(struct kvm_memory_slot *slot, gfn_t start, gfn_t end,
		       struct kvm_gfn_range *range, u64 attributes)
{
	gfn_t s = start > slot->base_gfn ? start : slot->base_gfn;
	gfn_t e = end < slot->base_gfn + slot->npages ? end : slot->base_gfn + slot->npages;

	if (s >= e)
		return false;
	memset(range, 0, sizeof(*range));
	range->slot = slot;
	range->start = s;
	range->end = e;
	range->arg.attributes = attributes;
	range->may_block = true;
	return true;
}

static int __kvm_vm_set_mem_attributes(struct kvm *kvm, gfn_t start, gfn_t end, u64 attributes,
				       bool convert);

/* The checker's I7b and I19 around the kernel's body (not the kernel's). */
static int kvm_vm_set_mem_attributes_checked(struct kvm *kvm, gfn_t start, gfn_t end,
					     u64 attributes, bool convert)
{
	struct kvm_zap_check *zc = NULL;
	int r;

	if (start < end && !(attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE))
		zc = kvm_check_zap_begin(kvm, start, end);
	r = __kvm_vm_set_mem_attributes(kvm, start, end, attributes, convert);
	kvm_check_zap_end(zc, r);
	return kvm_check_return(kvm, "kvm_vm_set_mem_attributes", r);
}

int kvm_vm_set_mem_attributes(struct kvm *kvm, gfn_t start, gfn_t end, u64 attributes)
{
	return kvm_vm_set_mem_attributes_checked(kvm, start, end, attributes, true);
}

int kvm_vm_set_mem_attributes_converted(struct kvm *kvm, gfn_t start, gfn_t end, u64 attributes)
{
	return kvm_vm_set_mem_attributes_checked(kvm, start, end, attributes, false);
}

int kvm_arch_gmem_convert(struct kvm *kvm, gfn_t start, gfn_t end, bool to_private)
{
	if (!kvm->x86_ops->gmem_convert)
		return 0;
	return kvm->x86_ops->gmem_convert(kvm, start, end, to_private);
}

static int __kvm_vm_set_mem_attributes(struct kvm *kvm, gfn_t start, gfn_t end, u64 attributes,
				       bool convert)
{
	struct kvm_gfn_range range;
	int i, r = 0;

	if (start >= end || (attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE))
		return -EINVAL;
	/* v5: the backend's conversion entry, before mmu_lock (kvm-upstream.md §5). */
	if (convert) {
		r = kvm_arch_gmem_convert(kvm, start, end,
					  attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE);
		if (r)
			return r;
	}
	/*
	 * One invalidation spans the pre-set, the store and the post-set: a
	 * fault that looked the attributes up meanwhile retries.
	 */
	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_begin(kvm);
	kvm_mmu_invalidate_range_add(kvm, start, end);
	KVM_MMU_UNLOCK(kvm);
	/* Pre-set, slot by slot; a failure leaves earlier slots split and zapped. */
	for (i = 0; i < KVM_MEM_SLOTS_NUM; i++) {
		struct kvm_memory_slot *slot = kvm->memslots[i];

		if (!slot || !slot_range(slot, start, end, &range, attributes))
			continue;
		KVM_MMU_LOCK(kvm);
		r = kvm_arch_pre_set_memory_attributes(kvm, &range);
		KVM_MMU_UNLOCK(kvm);
		if (r < 0)
			goto out;
	}
	r = 0;
	/* The attribute store, then post-set (MIXED) under the write lock. */
	for (i = 0; i < KVM_MEM_SLOTS_NUM; i++) {
		struct kvm_memory_slot *slot = kvm->memslots[i];

		if (!slot || !slot_range(slot, start, end, &range, attributes))
			continue;
		KVM_MMU_LOCK(kvm);
		kvm_attr_set_range(slot, range.start, range.end,
				   attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE);
		kvm_arch_post_set_memory_attributes(kvm, &range);
		KVM_MMU_UNLOCK(kvm);
	}
out:
	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_end(kvm);
	KVM_MMU_UNLOCK(kvm);
	return r;
}

/* ---- maximum mapping level (spec §2.2) ---- */
int kvm_mmu_max_mapping_level(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn,
			      int max_level)
{
	int level = max_level < KVM_MAX_HUGEPAGE_LEVEL ? max_level : KVM_MAX_HUGEPAGE_LEVEL;

	/* From the top down: MIXED, GUEST_INHIBIT and edge counts all forbid. */
	for (; level > PG_LEVEL_4K; level--)
		if (!__atomic_load_n(&lpage_info_slot(gfn, slot, level)->disallow_lpage,
				     __ATOMIC_RELAXED))
			break;
	return level;
}

static int kvm_max_level_for_order(int order)
{
	if (order >= KVM_HPAGE_GFN_SHIFT(PG_LEVEL_1G))
		return PG_LEVEL_1G;
	if (order >= KVM_HPAGE_GFN_SHIFT(PG_LEVEL_2M))
		return PG_LEVEL_2M;
	return PG_LEVEL_4K;
}

/* Mapping <= folio, then the vendor's limit (tdx_gmem_max_mapping_level, 003:P24). */
static int kvm_max_private_mapping_level(struct kvm *kvm, kvm_pfn_t pfn, int max_level,
					 int max_order)
{
	int order_level = kvm_max_level_for_order(max_order);
	int req;

	if (order_level < max_level)
		max_level = order_level;
	if (max_level == PG_LEVEL_4K || !kvm->x86_ops->gmem_max_mapping_level)
		return max_level;
	req = kvm->x86_ops->gmem_max_mapping_level(kvm, pfn, true);
	if (req && req < max_level)
		max_level = req;
	return max_level;
}

void kvm_mmu_hugepage_adjust(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	u64 mask;

	fault->huge_page_disallowed = false;	/* NX huge pages: not for TDX */
	if (fault->max_level == PG_LEVEL_4K)
		return;
	fault->req_level = kvm_mmu_max_mapping_level(vcpu->kvm, fault->slot, fault->gfn,
						     fault->max_level);
	if (fault->req_level == PG_LEVEL_4K)
		return;
	fault->goal_level = fault->req_level;
	mask = KVM_PAGES_PER_HPAGE(fault->goal_level) - 1;
	WARN_ON_ONCE((fault->gfn & mask) != (fault->pfn & mask));
	fault->pfn &= ~mask;
}

static int kvm_mmu_faultin_pfn(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	int max_order, r;

	/* Sampled before the lookups; the map re-checks it under mmu_lock. */
	fault->mmu_seq = __atomic_load_n(&kvm->mmu_invalidate_seq, __ATOMIC_ACQUIRE);
	fault->slot = gfn_to_memslot(kvm, fault->gfn);
	if (!fault->slot)
		return -EFAULT;
	/* kvm_mmu_prepare_memory_fault_exit(): userspace must convert first. */
	if (fault->is_private != kvm_mem_is_private(kvm, fault->gfn))
		return -EFAULT;
	/* The direct root (shared memory) is not modelled. */
	if (!fault->is_private)
		return -EOPNOTSUPP;
	/* filemap_invalidate_lock_shared(): a conversion in progress holds the fault here. */
	kvm_gmem_fault_wait(kvm, fault->gfn);
	r = kvm_gmem_get_pfn(kvm, fault->slot, fault->gfn, &fault->pfn, &max_order);
	if (r)
		return r;
	fault->max_level = kvm_max_private_mapping_level(kvm, fault->pfn, fault->max_level,
							 max_order);
	return RET_PF_CONTINUE;
}

/* ---- vCPU caches (spec §1.7) ---- */
int mmu_topup_memory_caches(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	int r;

	r = kvm_mmu_topup_memory_cache(&vcpu->arch.mmu_page_header_cache, PT64_ROOT_MAX_LEVEL);
	if (r)
		return r;
	r = kvm_mmu_topup_memory_cache(&vcpu->arch.mmu_shadow_page_cache, PT64_ROOT_MAX_LEVEL);
	if (r)
		return r;
	if (kvm_has_mirrored_tdp(kvm) && kvm->x86_ops->topup_external_fault_cache)
		return kvm->x86_ops->topup_external_fault_cache(vcpu);
	return 0;
}

void kvm_mmu_free_vcpu_caches(struct kvm_vcpu *vcpu)
{
	kvm_mmu_free_memory_cache(&vcpu->arch.mmu_page_header_cache);
	kvm_mmu_free_memory_cache(&vcpu->arch.mmu_shadow_page_cache);
}

/* ---- the fault entry (spec §2.1) ---- */
int kvm_tdp_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	int r;

	r = mmu_topup_memory_caches(vcpu);
	if (r)
		return r;
	r = kvm_mmu_faultin_pfn(vcpu, fault);
	if (r != RET_PF_CONTINUE)
		return r;
	kvm_mmu_read_lock(kvm);
	/* is_page_fault_stale(): the PFN or the attributes changed under the lookup. */
	if (mmu_invalidate_retry_gfn(kvm, fault->mmu_seq, fault->gfn))
		r = RET_PF_RETRY;
	else
		r = kvm_tdp_mmu_map(vcpu, fault);
	kvm_mmu_read_unlock(kvm);
	return r;
}

int kvm_tdp_map_page(struct kvm_vcpu *vcpu, gpa_t gpa, u64 error_code, int *level)
{
	int r, tries = 0;

	do {
		if (tries++ == KVM_TDP_MAP_PAGE_MAX_RETRIES)
			return -EINTR;	/* signal_pending() */
		/* kvm_check_request(KVM_REQ_VM_DEAD): a bugged VM runs no more faults. */
		if (__atomic_load_n(&vcpu->kvm->vm_bugged, __ATOMIC_RELAXED))
			return -EIO;
		r = kvm_mmu_do_page_fault(vcpu, gpa, error_code, level);
	} while (r == RET_PF_RETRY);
	if (r < 0)
		return r;
	switch (r) {
	case RET_PF_FIXED:
	case RET_PF_SPURIOUS:
		return 0;
	case RET_PF_EMULATE:
		return -ENOENT;
	default:
		return -EIO;
	}
}

int kvm_mmu_do_page_fault(struct kvm_vcpu *vcpu, gpa_t gpa, u64 error_code, int *level)
{
	struct kvm_page_fault fault = {
		.addr = gpa,
		.error_code = error_code,
		.is_private = error_code & PFERR_PRIVATE_ACCESS,
		.write = error_code & PFERR_WRITE_MASK,
		.gfn = gpa >> 12,
		.max_level = KVM_MAX_HUGEPAGE_LEVEL,
		.req_level = PG_LEVEL_4K,
		.goal_level = PG_LEVEL_4K,
	};
	struct kvm_vcpu *prev = kvm_get_running_vcpu();
	int r;

	vcpu_load(vcpu);	/* the backend finds the vCPU with kvm_get_running_vcpu() */
	r = kvm_tdp_page_fault(vcpu, &fault);
	vcpu_put(vcpu);
	if (prev)
		vcpu_load(prev);
	if (level)
		*level = (r == RET_PF_FIXED || r == RET_PF_SPURIOUS) ? fault.goal_level
								     : PG_LEVEL_NONE;
	return r;
}
