// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VMM around the KVM model (see <tdxsim-kvm/vm.h>): what QEMU and
 * guest_memfd do to a TD, in the order KVM's ioctls do it.  The VMM's own
 * memory (guest_memfd folios, the PAGE.ADD source, vmemmap pages of split
 * folios) comes straight from tdxsim_page_alloc(), so the ledger at
 * teardown counts it and fault rules reach it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include <tdxsim/kernel.h>
#include <tdxsim-kvm/check.h>
#include <tdxsim-kvm/kvm_host.h>
#include <tdxsim-kvm/tdp_mmu.h>
#include <tdxsim-kvm/tdx.h>
#include <tdxsim-kvm/vm.h>

#define VM_MAGIC	0x74647876u	/* "tdxv" */
#define GFNS_PER_2M	512UL

/*
 * guest_memfd's view of one 2M index of the file: one order-9 folio, or
 * order-0 folios (populated so, or left by a split).  KVM's view of the
 * same is the memslot's struct kvm_gmem_chunk, kept in step here.
 */
struct vm_folio {
	u64 idx;			/* gfn >> 9: the hash key */
	bool huge;			/* one order-9 folio at hpa2m */
	bool fake;			/* NO_TDMR: outside simulated memory, not allocated */
	u64 hpa2m;
	u64 *small;			/* [512] order-0 folios, 0 = none; NULL while huge */
	u64 vmemmap[TDXSIM_VM_FOLIO_SPLIT_PAGES];
	int nr_vmemmap;
	UT_hash_handle hh;
};

/* Pages the VMM could not free yet (the module still owned them) or must not reuse. */
struct vm_deferred {
	u64 *hpa;
	size_t n, cap;
};

struct tdxsim_vm {
	unsigned int magic;
	/* First: tdxsim_vm_of() finds the VM from kvm->priv. */
	struct kvm_tdx kvm_tdx;
	struct tdxsim_vm_config cfg;
	bool tdx_huge_page;
	struct tdxsim *sim;
	struct tdxsim_td *td;
	struct kvm *kvm;
	struct kvm_x86_ops ops;			/* the design's table, two hooks wrapped */
	const struct kvm_x86_ops *base_ops;
	struct kvm_x86_ops_upstream ops_upstream;	/* upstream: the funnel, wrapped */
	const struct kvm_x86_ops_upstream *base_upstream;
	int nr_vcpus;
	struct tdxsim_vcpu *svcpu[TDXSIM_VM_MAX_VCPUS];
	struct kvm_vcpu *vcpu[TDXSIM_VM_MAX_VCPUS];
	unsigned int slot_flags[KVM_MEM_SLOTS_NUM];
	pthread_mutex_t slots_lock;
	struct vm_folio *folios;		/* uthash by idx */
	struct vm_deferred kept;		/* freed again at teardown */
	struct vm_deferred poisoned;
	struct vm_family *family;
	u64 *counted;			/* control pages vm_count_control_pages() counted */
	int nr_counted;
	int teardown_ret;
	u64 check_id;			/* kvm->check_id: the ledger's name of the VM */
	struct tdxsim_vm_summary sum;
};

/*
 * The VMs of one simulator: the first VM's create makes the simulator and
 * the kernel's PAMT refcounts (one array per process: one family at a
 * time), siblings share them, the last destroy frees them.
 */
struct vm_family {
	struct tdxsim *sim;
	int users;
	bool refcounts_ready;
	u64 next_fake_hpa;		/* NO_TDMR folios, from the TDMR's base down */
};

static struct vm_family *vm_family_current;

/* The last VM of the family takes the simulator and the refcounts with it. */
static void vm_family_put(struct vm_family *family)
{
	if (--family->users > 0)
		return;
	tdxsim_kernel_set_current(family->sim);
	if (family->refcounts_ready)
		tdx_pamt_refcounts_free();
	tdxsim_kernel_set_current(NULL);
	tdxsim_destroy(family->sim);
	if (vm_family_current == family)
		vm_family_current = NULL;
	free(family);
}

void tdxsim_vm_config_init(struct tdxsim_vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	tdxsim_config_init(&cfg->module);
	cfg->tdx_huge_page = true;
	cfg->nr_vcpus = 1;
	cfg->conv_order = TDXSIM_CONV_SPLIT_THEN_ZAP;
}

struct tdxsim_vm *tdxsim_vm_of(struct kvm *kvm)
{
	struct tdxsim_vm *vm;

	if (!kvm || !kvm->priv)
		return NULL;
	vm = container_of((struct kvm_tdx *)kvm->priv, struct tdxsim_vm, kvm_tdx);
	return vm->magic == VM_MAGIC ? vm : NULL;
}

/* Torn down: KVM and the TD are gone, only the ledger and the simulator remain. */
static bool vm_gone(const struct tdxsim_vm *vm)
{
	return !vm->kvm;
}

static void vm_enter(struct tdxsim_vm *vm)
{
	tdxsim_kernel_set_current(vm->sim);
}

/*
 * The host actions on [gpa, gpa + size): a non-empty 4K-aligned range
 * (-EINVAL) of a VM not torn down (-ENODEV); then its simulator is the
 * kernel shim's current one.
 */
static int vm_enter_range(struct tdxsim_vm *vm, u64 gpa, u64 size)
{
	if (!size || ((gpa | size) & (PAGE_SIZE - 1)))
		return -EINVAL;
	if (vm_gone(vm))
		return -ENODEV;
	vm_enter(vm);
	return 0;
}

static int deferred_add(struct vm_deferred *d, u64 hpa)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;
		u64 *p = realloc(d->hpa, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		d->hpa = p;
		d->cap = cap;
	}
	d->hpa[d->n++] = hpa;
	return 0;
}

/* guest_memfd's memory, recorded in the provenance ledger (sim/check). */
static u64 gmem_alloc(struct tdxsim_vm *vm, int tdx_level, gfn_t gfn)
{
	u64 hpa = tdxsim_page_alloc(vm->sim, tdx_level);

	if (hpa)
		kvm_prov_note(KVM_PROV_ALLOC, hpa, tdx_level == TDX_PS_2M ? GFNS_PER_2M : 1,
			      KVM_POOL_GUEST_FOLIO, gfn, 0, "kvm_gmem_populate");
	return hpa;
}

static int gmem_free(struct tdxsim_vm *vm, u64 hpa, int tdx_level)
{
	int ret = tdxsim_page_free(vm->sim, hpa, tdx_level);

	if (!ret)
		kvm_prov_note(KVM_PROV_FREE, hpa, tdx_level == TDX_PS_2M ? GFNS_PER_2M : 1,
			      KVM_POOL_GUEST_FOLIO, ~0ULL, 0, "kvm_gmem_free_folio");
	return ret;
}

/*
 * Give a 4K page back to the simulator; one the module still owns (a bugged
 * VM left it mapped) stays with the VMM and is tried again at teardown.
 */
static void vm_free_4k(struct tdxsim_vm *vm, u64 hpa)
{
	if (gmem_free(vm, hpa, TDX_PS_4K))
		deferred_add(&vm->kept, hpa);
}

/* ---- the design's hook table ---- */

/*
 * enable_tdx_huge_page=N: KVM maps private memory at 4K only (spec
 * kvm-model.md §2.11); the backend's own limit applies otherwise.
 */
static int vm_gmem_max_mapping_level(struct kvm *kvm, kvm_pfn_t pfn, bool is_private)
{
	struct tdxsim_vm *vm = tdxsim_vm_of(kvm);
	int level = 0;

	if (vm->base_ops->gmem_max_mapping_level)
		level = vm->base_ops->gmem_max_mapping_level(kvm, pfn, is_private);
	if (is_private && !vm->tdx_huge_page)
		level = PG_LEVEL_4K;
	return level;
}

/* A frame of the simulated memory (the kernel shim has a struct page for it). */
static bool vm_pfn_simulated(struct tdxsim_vm *vm, kvm_pfn_t pfn)
{
	u64 hpa = PFN_PHYS(pfn);

	return hpa >= vm->cfg.module.mem_base &&
	       hpa < vm->cfg.module.mem_base + vm->cfg.module.mem_size;
}

/*
 * A 4K leaf of a NO_TDMR folio: the backend would take its PAMT pair by
 * struct page, which the model has only for simulated memory.  The module
 * refuses such a page anyway (PAMT.ADD and AUG want TDMR memory), so the
 * VMM's wrapper stands in for that refusal: the VM is bugged, as KVM's
 * TDX_BUG_ON would bug it, before any call.  2M leaves reach the module.
 */
static bool vm_refuse_4k_outside(struct kvm *kvm, gfn_t gfn, int level, u64 spte)
{
	struct tdxsim_vm *vm = tdxsim_vm_of(kvm);

	if (level != PG_LEVEL_4K || !is_shadow_present_pte(spte) || !is_last_spte(spte, level) ||
	    vm_pfn_simulated(vm, spte_to_pfn(spte)))
		return false;
	return __kvm_bug_on(kvm, true, __FILE__, __LINE__,
			    "4K private page outside the TDMR (NO_TDMR slot)");
}

static int vm_set_external_spte(struct kvm *kvm, gfn_t gfn, enum pg_level level, u64 mirror_spte)
{
	struct tdxsim_vm *vm = tdxsim_vm_of(kvm);

	if (vm_refuse_4k_outside(kvm, gfn, level, mirror_spte))
		return -EIO;
	return vm->base_ops->set_external_spte(kvm, gfn, level, mirror_spte);
}

static int vm_set_external_spte_upstream(struct kvm *kvm, gfn_t gfn, u64 old_spte, u64 new_spte,
					 enum pg_level level)
{
	struct tdxsim_vm *vm = tdxsim_vm_of(kvm);

	if (!is_shadow_present_pte(old_spte) && vm_refuse_4k_outside(kvm, gfn, level, new_spte))
		return -EIO;
	return vm->base_upstream->set_external_spte(kvm, gfn, old_spte, new_spte, level);
}

/*
 * KVM allocates every TD control page with tdx_alloc_page(), which takes a
 * use of the page's 2MB pair; the host layer built these itself, so count
 * them here, or a later tdx_pamt_put() in the same range would remove a
 * pair they still need (spec seamcall.md §4.5).
 */
static int vm_count_control_pages(struct tdxsim_vm *vm)
{
	struct tdxsim_td_page tp;
	u64 cursor = 0;

	while (!tdxsim_td_page_next(vm->sim, vm->td->tdr_pa, &cursor, &tp)) {
		u64 *n;

		if (tp.level != TDX_PS_4K || tp.pt == PT_REG || tp.pt == PT_EPT)
			continue;
		n = realloc(vm->counted, (vm->nr_counted + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		vm->counted = n;
		if (tdx_pamt_get(pfn_to_page(PHYS_PFN(tp.hpa)), NULL))
			return -ENOMEM;
		vm->counted[vm->nr_counted++] = tp.hpa;
	}
	return 0;
}

/*
 * After the host layer reclaimed the TD (and PAMT.REMOVEd the pairs of the
 * ranges it left empty), KVM's counts of its control pages go too, so a
 * sibling VM's tdx_pamt_get() in such a range installs a pair again.
 */
static void vm_uncount_control_pages(struct tdxsim_vm *vm)
{
	while (vm->nr_counted) {
		atomic_t *ref = tdx_find_pamt_refcount(PHYS_PFN(vm->counted[--vm->nr_counted]));

		if (atomic_read(ref) > 0)
			atomic_dec(ref);
	}
	free(vm->counted);
	vm->counted = NULL;
}

static int vm_create_vcpus(struct tdxsim_vm *vm)
{
	u64 st;
	int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		vm->svcpu[i] = tdxsim_vcpu_create(vm->td, &st);
		if (!vm->svcpu[i])
			return st == TDX_SW_ERROR ? -ENOMEM : -EIO;
		vm->vcpu[i] = tdxsim_kvm_vcpu_create(vm->kvm, i);
		if (!vm->vcpu[i])
			return -ENOMEM;
		if (tdx_vcpu_create(vm->vcpu[i]))
			return -ENOMEM;
		if (tdx_vcpu_bind(vm->vcpu[i], vm->svcpu[i]->tdvpr_pa))
			return -EIO;
	}
	return 0;
}

static bool vm_config_valid(const struct tdxsim_vm_config *cfg)
{
	return cfg && cfg->nr_vcpus >= 1 && cfg->nr_vcpus <= TDXSIM_VM_MAX_VCPUS &&
	       cfg->conv_order <= TDXSIM_CONV_FOLIO_FIRST;
}

/* Everything after the simulator: the TD, KVM, the vCPUs. */
static int vm_build(struct tdxsim_vm *vm, const struct tdxsim_vm_config *cfg)
{
	struct tdxsim_kvm_config kcfg = { 0 };
	int ret;
	u64 st;

	vm_enter(vm);
	vm->sum.pages_baseline = tdxsim_pages_in_use(vm->sim);
	vm->td = tdxsim_td_create(vm->sim, &st);
	if (!vm->td)
		return st == TDX_SW_ERROR ? -ENOMEM : -EIO;

	vm->kvm_tdx.td.tdr_page = pfn_to_page(PHYS_PFN(vm->td->tdr_pa));
	vm->kvm_tdx.hkid = vm->td->hkid;
	vm->kvm_tdx.state = TD_STATE_INITIALIZED;
	tdx_vm_init(&vm->kvm_tdx);

	if (cfg->upstream) {
		vm->base_ops = cfg->ops ? cfg->ops : &tdx_x86_ops_upstream_aux;
		vm->base_upstream = cfg->upstream_ops ? cfg->upstream_ops : &tdx_x86_ops_upstream;
		vm->ops_upstream = *vm->base_upstream;
		if (vm->ops_upstream.set_external_spte)
			vm->ops_upstream.set_external_spte = vm_set_external_spte_upstream;
		kcfg.upstream_ops = &vm->ops_upstream;
	} else {
		vm->base_ops = cfg->ops ? cfg->ops : &tdx_x86_ops;
	}
	vm->ops = *vm->base_ops;
	vm->ops.gmem_max_mapping_level = vm_gmem_max_mapping_level;
	if (vm->ops.set_external_spte)
		vm->ops.set_external_spte = vm_set_external_spte;
	kcfg.ops = &vm->ops;
	kcfg.priv = &vm->kvm_tdx;
	kcfg.defects = cfg->defects;
	vm->kvm = tdxsim_kvm_create(&kcfg);
	if (!vm->kvm)
		return -errno;
	vm->kvm_tdx.kvm = vm->kvm;
	vm->kvm_tdx.demote_restart_bound = vm->cfg.loop_on_restartable;	/* S08b */
	vm->kvm_tdx.split_cache_account = vm->cfg.split_cache_account;	/* S32c */
	vm->kvm_tdx.dpamt_at_topup = vm->cfg.dpamt_at_topup;		/* S29 */
	vm->check_id = vm->kvm->check_id;

	ret = vm_create_vcpus(vm);
	if (ret)
		return ret;
	return vm_count_control_pages(vm);
}

static struct tdxsim_vm *vm_alloc(const struct tdxsim_vm_config *cfg, struct vm_family *family)
{
	struct tdxsim_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->magic = VM_MAGIC;
	vm->cfg = *cfg;
	vm->cfg.module = *tdxsim_get_config(family->sim);
	vm->nr_vcpus = cfg->nr_vcpus;
	pthread_mutex_init(&vm->slots_lock, NULL);
	/*
	 * KVM clears enable_tdx_huge_page when DEMOTE could be interrupted
	 * forever (003:P24); TDXSIM_KVM_DEFECT_IGNORE_DEMOTE_FEATURE_BIT
	 * leaves that gate out (S07).
	 */
	vm->tdx_huge_page = cfg->tdx_huge_page &&
		((vm->cfg.module.features0 & TDX_FEATURES0_ENHANCED_DEMOTE_INTERRUPTIBILITY) ||
		 (cfg->defects & TDXSIM_KVM_DEFECT_IGNORE_DEMOTE_FEATURE_BIT) ||
		 cfg->loop_on_restartable);	/* S08b: the workaround keeps them */
	/* No S-EPT huge pages with per-VM memory attributes (003:P14, kvm-model §1.5). */
	if (cfg->vm_memory_attributes)
		vm->tdx_huge_page = false;
	vm->family = family;
	vm->sim = family->sim;
	family->users++;
	return vm;
}

struct tdxsim_vm *tdxsim_vm_create(const struct tdxsim_vm_config *cfg, int *err)
{
	struct vm_family *family;
	struct tdxsim_vm *vm = NULL;
	int ret = -EINVAL;

	if (!vm_config_valid(cfg))
		goto fail;
	ret = -EBUSY;
	if (vm_family_current)
		goto fail;
	ret = -ENOMEM;
	family = calloc(1, sizeof(*family));
	if (!family)
		goto fail;
	family->sim = tdxsim_create(&cfg->module);
	if (!family->sim) {
		ret = errno == EINVAL ? -EINVAL : -ENOMEM;
		free(family);
		goto fail;
	}
	vm_family_current = family;
	family->next_fake_hpa = cfg->module.mem_base;
	tdxsim_kernel_set_current(family->sim);
	ret = tdx_pamt_refcounts_init();
	if (!ret)
		family->refcounts_ready = true;
	vm = vm_alloc(cfg, family);
	if (!vm) {
		ret = -ENOMEM;
		family->users++;	/* dropped by the family's own put below */
		goto fail_family;
	}
	if (ret)
		goto fail_vm;
	ret = vm_build(vm, cfg);
	if (ret)
		goto fail_vm;
	if (err)
		*err = 0;
	return vm;

fail_vm:
	tdxsim_vm_destroy(vm);
	goto fail;
fail_family:
	vm_family_put(family);
fail:
	if (err)
		*err = ret;
	return NULL;
}

struct tdxsim_vm *tdxsim_vm_create_sibling(struct tdxsim_vm *vm, const struct tdxsim_vm_config *cfg,
					   int *err)
{
	struct tdxsim_vm *sib;
	int ret = -EINVAL;

	if (!vm || !vm->family || !vm_config_valid(cfg))
		goto fail;
	ret = -ENOMEM;
	sib = vm_alloc(cfg, vm->family);
	if (!sib)
		goto fail;
	ret = vm_build(sib, cfg);
	if (ret) {
		tdxsim_vm_destroy(sib);
		goto fail;
	}
	if (err)
		*err = 0;
	return sib;
fail:
	if (err)
		*err = ret;
	return NULL;
}

/* ---- accessors ---- */
struct tdxsim *tdxsim_vm_sim(struct tdxsim_vm *vm)
{
	return vm->sim;
}

struct kvm *tdxsim_vm_kvm(struct tdxsim_vm *vm)
{
	return vm->kvm;
}

struct kvm_tdx *tdxsim_vm_kvm_tdx(struct tdxsim_vm *vm)
{
	return &vm->kvm_tdx;
}

struct tdxsim_td *tdxsim_vm_td(struct tdxsim_vm *vm)
{
	return vm->td;
}

int tdxsim_vm_nr_vcpus(struct tdxsim_vm *vm)
{
	return vm->nr_vcpus;
}

struct kvm_vcpu *tdxsim_vm_vcpu(struct tdxsim_vm *vm, int i)
{
	if (i < 0 || i >= vm->nr_vcpus)
		return NULL;
	return vm->vcpu[i];
}

u64 tdxsim_vm_vcpu_tdvpr(struct tdxsim_vm *vm, int i)
{
	if (i < 0 || i >= vm->nr_vcpus || !vm->svcpu[i])
		return 0;
	return vm->svcpu[i]->tdvpr_pa;
}

/* ---- memslots ---- */
int tdxsim_vm_add_memslot(struct tdxsim_vm *vm, int slot, u64 gpa, u64 size, unsigned int flags)
{
	struct kvm_userspace_memory_region2 mem = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
	};
	unsigned int kinds = flags & (TDXSIM_SLOT_PRIVATE | TDXSIM_SLOT_MMIO | TDXSIM_SLOT_NO_TDMR);
	int ret;

	if (slot < 0 || slot >= KVM_MEM_SLOTS_NUM || (flags & ~kinds) ||
	    __builtin_popcount(kinds) != 1)
		return -EINVAL;
	/* NO_TDMR slots hold only 2M folios: their edges must not cut one. */
	if ((flags & TDXSIM_SLOT_NO_TDMR) && ((gpa | size) & (PMD_SIZE - 1)))
		return -EINVAL;
	if (!(flags & TDXSIM_SLOT_MMIO))
		mem.flags = KVM_MEM_GUEST_MEMFD;
	if (vm_gone(vm))
		return -ENODEV;
	vm_enter(vm);
	pthread_mutex_lock(&vm->slots_lock);
	ret = kvm_set_memory_region(vm->kvm, &mem);
	if (!ret) {
		vm->slot_flags[slot] = flags;
		/* The VMM's KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) for guest_memfd slots. */
		if (!(flags & TDXSIM_SLOT_MMIO))
			ret = kvm_vm_set_mem_attributes(vm->kvm, gpa >> PAGE_SHIFT,
							(gpa + size) >> PAGE_SHIFT,
							KVM_MEMORY_ATTRIBUTE_PRIVATE);
	}
	pthread_mutex_unlock(&vm->slots_lock);
	return ret;
}

int tdxsim_vm_bind_gmem(struct tdxsim_vm *vm, int slot, u64 gpa, u64 size,
			struct tdxsim_vm *gmem_vm)
{
	/* kvm_gmem_bind(): a guest_memfd made by another VM is refused. */
	if (gmem_vm != vm)
		return -EINVAL;
	return tdxsim_vm_add_memslot(vm, slot, gpa, size, TDXSIM_SLOT_PRIVATE);
}

int tdxsim_vm_slot_flags(struct tdxsim_vm *vm, u64 gpa)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(vm->kvm, gpa >> PAGE_SHIFT);

	return slot ? (int)vm->slot_flags[slot->id] : -ENOENT;
}

/* ---- guest_memfd ---- */
/*
 * filemap_invalidate_lock() for a whole operation on [start, end): faults
 * of the locked range (the whole file unless gmem_lock_by_range) wait.
 */
static void vm_gmem_lock(struct tdxsim_vm *vm, gfn_t start, gfn_t end)
{
	if (vm->cfg.gmem_lock_by_range)
		tdxsim_kvm_gmem_invalidate_lock(vm->kvm, start, end);
	else
		tdxsim_kvm_gmem_invalidate_lock(vm->kvm, 0, ~0ULL);
}

static void vm_gmem_unlock(struct tdxsim_vm *vm)
{
	tdxsim_kvm_gmem_invalidate_unlock(vm->kvm);
}

/* kvm_gmem_invalidate_begin()/_end() over [start, end): faults there retry meanwhile. */
static void vm_invalidate_begin(struct tdxsim_vm *vm, gfn_t start, gfn_t end)
{
	KVM_MMU_LOCK(vm->kvm);
	kvm_mmu_invalidate_begin(vm->kvm);
	kvm_mmu_invalidate_range_add(vm->kvm, start, end);
	KVM_MMU_UNLOCK(vm->kvm);
}

static void vm_invalidate_end(struct tdxsim_vm *vm)
{
	KVM_MMU_LOCK(vm->kvm);
	kvm_mmu_invalidate_end(vm->kvm);
	KVM_MMU_UNLOCK(vm->kvm);
}

static struct vm_folio *vm_folio_find(struct tdxsim_vm *vm, u64 idx)
{
	struct vm_folio *f;

	HASH_FIND(hh, vm->folios, &idx, sizeof(idx), f);
	return f;
}

static struct vm_folio *vm_folio_get(struct tdxsim_vm *vm, u64 idx)
{
	struct vm_folio *f = vm_folio_find(vm, idx);

	if (f)
		return f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->idx = idx;
	HASH_ADD(hh, vm->folios, idx, sizeof(f->idx), f);
	return f;
}

static bool vm_folio_no_small(const struct vm_folio *f)
{
	unsigned long i;

	for (i = 0; f->small && i < GFNS_PER_2M; i++)
		if (f->small[i])
			return false;
	return true;
}

static bool vm_folio_empty(const struct vm_folio *f)
{
	return !f->huge && !f->nr_vmemmap && vm_folio_no_small(f);
}

static void vm_folio_drop_if_empty(struct tdxsim_vm *vm, struct vm_folio *f)
{
	if (!vm_folio_empty(f))
		return;
	HASH_DEL(vm->folios, f);
	free(f->small);
	free(f);
}

/* The slot of [gpa, gpa + size) if one slot holds it all, else NULL. */
static struct kvm_memory_slot *vm_slot_of_range(struct tdxsim_vm *vm, u64 gpa, u64 size)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(vm->kvm, gpa >> PAGE_SHIFT);

	if (!slot || !size || (gpa + size) >> PAGE_SHIFT > slot->base_gfn + slot->npages)
		return NULL;
	return slot;
}

static int vm_populate_one(struct tdxsim_vm *vm, struct kvm_memory_slot *slot, u64 gpa,
			   int order)
{
	gfn_t gfn = gpa >> PAGE_SHIFT;
	bool no_tdmr = vm->slot_flags[slot->id] & TDXSIM_SLOT_NO_TDMR;
	struct vm_folio *f = vm_folio_get(vm, gfn / GFNS_PER_2M);
	unsigned long i = gfn % GFNS_PER_2M;
	u64 hpa;
	int ret;

	if (!f)
		return -ENOMEM;
	if (f->huge || (f->small && f->small[i]) || (order == 9 && !vm_folio_empty(f))) {
		vm_folio_drop_if_empty(vm, f);
		return -EEXIST;
	}
	if (order == 9 && no_tdmr) {
		/*
		 * Below the TDMR, where the kernel's PAMT refcounts still reach
		 * (they cover every frame from 0); none at 0.
		 */
		if (vm->family->next_fake_hpa <= PMD_SIZE) {
			vm_folio_drop_if_empty(vm, f);
			return -ENOSPC;
		}
		vm->family->next_fake_hpa -= PMD_SIZE;
		hpa = vm->family->next_fake_hpa;
	} else {
		hpa = gmem_alloc(vm, order == 9 ? TDX_PS_2M : TDX_PS_4K, gfn);
		if (!hpa) {
			vm_folio_drop_if_empty(vm, f);
			return -ENOMEM;
		}
	}
	if (order == 0 && !f->small) {
		f->small = calloc(GFNS_PER_2M, sizeof(*f->small));
		if (!f->small) {
			gmem_free(vm, hpa, TDX_PS_4K);
			vm_folio_drop_if_empty(vm, f);
			return -ENOMEM;
		}
	}
	ret = tdxsim_kvm_gmem_set_folio(vm->kvm, gfn, PHYS_PFN(hpa), order);
	if (ret) {
		if (!(order == 9 && no_tdmr))
			gmem_free(vm, hpa, order == 9 ? TDX_PS_2M : TDX_PS_4K);
		vm_folio_drop_if_empty(vm, f);
		return ret;
	}
	if (order == 9) {
		f->huge = true;
		f->fake = no_tdmr;
		f->hpa2m = hpa;
	} else {
		f->small[i] = hpa;
	}
	return 0;
}

int tdxsim_vm_gmem_populate(struct tdxsim_vm *vm, u64 gpa, u64 size, int order)
{
	u64 step = order == 9 ? PMD_SIZE : PAGE_SIZE, off;
	struct kvm_memory_slot *slot;
	int ret = 0;

	if ((order != 0 && order != 9) || !size || ((gpa | size) & (step - 1)))
		return -EINVAL;
	if (vm_gone(vm))
		return -ENODEV;
	vm_enter(vm);
	pthread_mutex_lock(&vm->slots_lock);
	slot = vm_slot_of_range(vm, gpa, size);
	if (!slot || (vm->slot_flags[slot->id] & TDXSIM_SLOT_MMIO) ||
	    ((vm->slot_flags[slot->id] & TDXSIM_SLOT_NO_TDMR) && order != 9)) {
		ret = -EINVAL;
		goto out;
	}
	for (off = 0; off < size; off += step) {
		ret = vm_populate_one(vm, slot, gpa + off, order);
		if (ret)
			break;
	}
	/* All or nothing: what this call populated goes again. */
	if (ret) {
		u64 done = off;

		for (off = 0; off < done; off += step) {
			gfn_t gfn = (gpa + off) >> PAGE_SHIFT;
			struct vm_folio *f = vm_folio_find(vm, gfn / GFNS_PER_2M);

			tdxsim_kvm_gmem_remove_folio(vm->kvm, gfn);
			if (order == 9) {
				if (!f->fake)
					gmem_free(vm, f->hpa2m, TDX_PS_2M);
				f->huge = false;
			} else {
				gmem_free(vm, f->small[gfn % GFNS_PER_2M], TDX_PS_4K);
				f->small[gfn % GFNS_PER_2M] = 0;
			}
			vm_folio_drop_if_empty(vm, f);
		}
	}
out:
	pthread_mutex_unlock(&vm->slots_lock);
	return ret;
}

/*
 * Split an order-9 folio into 512 order-0 folios (guest_memfd's
 * conversion path).  HugeTLB must first give the folio back the vmemmap
 * pages its optimisation freed; that allocation is what can fail (S01:
 * Ackerley, P00 4651-4794).  KVM's guest_memfd then lists the same PFNs
 * one by one; the change runs inside an invalidation of the 2M range, so
 * a fault that looked the order-9 folio up retries.  Called with
 * slots_lock.
 */
static int vm_folio_split(struct tdxsim_vm *vm, struct vm_folio *f)
{
	gfn_t base = f->idx * GFNS_PER_2M;
	unsigned long i;
	u64 *small;
	int ret;

	while (f->nr_vmemmap < TDXSIM_VM_FOLIO_SPLIT_PAGES) {
		u64 hpa = tdxsim_page_alloc(vm->sim, TDX_PS_4K);

		if (!hpa)
			goto enomem;
		f->vmemmap[f->nr_vmemmap++] = hpa;
	}
	small = calloc(GFNS_PER_2M, sizeof(*small));
	if (!small)
		goto enomem;
	for (i = 0; i < GFNS_PER_2M; i++)
		small[i] = f->hpa2m + (i << PAGE_SHIFT);
	vm_invalidate_begin(vm, base, base + GFNS_PER_2M);
	ret = tdxsim_kvm_gmem_split_folio(vm->kvm, base);
	vm_invalidate_end(vm);
	if (ret) {
		free(small);
		if (ret == -ENOMEM)
			goto enomem;
		return ret;
	}
	f->small = small;
	f->huge = false;
	vm->sum.folio_splits++;
	return 0;

enomem:
	/* A failed split is not undone further: the folio stays huge (P00 6369-6634). */
	while (f->nr_vmemmap)
		tdxsim_page_free(vm->sim, f->vmemmap[--f->nr_vmemmap], TDX_PS_4K);
	return -ENOMEM;
}

/* Split each huge folio that [start, end) covers only in part. */
static int vm_split_folios(struct tdxsim_vm *vm, gfn_t start, gfn_t end)
{
	u64 idx;
	int ret;

	for (idx = start / GFNS_PER_2M; idx <= (end - 1) / GFNS_PER_2M; idx++) {
		struct vm_folio *f = vm_folio_find(vm, idx);

		if (!f || !f->huge || f->fake)
			continue;
		if (start <= idx * GFNS_PER_2M && end >= (idx + 1) * GFNS_PER_2M)
			continue;
		ret = vm_folio_split(vm, f);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- building the TD ---- */
int tdxsim_vm_build_add(struct tdxsim_vm *vm, u64 gpa, u64 size)
{
	struct kvm_tdx_init_mem_region region;
	u64 src, off;
	int ret = 0;

	ret = vm_enter_range(vm, gpa, size);
	if (ret)
		return ret;
	/* The user's buffer holding the image: host memory, shared. */
	src = tdxsim_page_alloc(vm->sim, TDX_PS_4K);
	if (!src)
		return -ENOMEM;
	pthread_mutex_lock(&vm->slots_lock);
	for (off = 0; off < size && !ret; off += PAGE_SIZE) {
		region.source_page = pfn_to_page(PHYS_PFN(src));
		region.gpa = gpa + off;
		region.nr_pages = 1;
		ret = tdx_vcpu_init_mem_region(vm->vcpu[0], &region);
	}
	pthread_mutex_unlock(&vm->slots_lock);
	tdxsim_page_free(vm->sim, src, TDX_PS_4K);
	return ret;
}

int tdxsim_vm_finalize(struct tdxsim_vm *vm)
{
	int ret;

	if (vm_gone(vm))
		return -ENODEV;
	vm_enter(vm);
	pthread_mutex_lock(&vm->slots_lock);
	ret = tdx_td_finalize(vm->kvm);
	pthread_mutex_unlock(&vm->slots_lock);
	return ret;
}

/* ---- runtime ---- */
int tdxsim_vm_map(struct tdxsim_vm *vm, int vcpu, u64 gpa, int *level)
{
	gfn_t gfn = gpa >> PAGE_SHIFT;

	if (vcpu < 0 || vcpu >= vm->nr_vcpus)
		return -EINVAL;
	if (vm_gone(vm))
		return -ENODEV;
	vm_enter(vm);
	if (level)
		*level = PG_LEVEL_NONE;
	/* kvm->arch.pre_fault_allowed: only once the TD is finalized. */
	if (READ_ONCE(vm->kvm_tdx.state) != TD_STATE_RUNNABLE)
		return -EOPNOTSUPP;
	if (!kvm_mem_is_private(vm->kvm, gfn))
		return -EOPNOTSUPP;
	return kvm_tdp_map_page(vm->vcpu[vcpu], gpa, PFERR_PRIVATE_ACCESS | PFERR_WRITE_MASK,
				level);
}

/* Run @fn on the part of [start, end) each memslot holds, under the write mmu_lock. */
static int vm_for_each_slot_range(struct tdxsim_vm *vm, gfn_t start, gfn_t end,
				  int (*fn)(struct kvm *kvm, struct kvm_gfn_range *range))
{
	int i, ret;

	for (i = 0; i < KVM_MEM_SLOTS_NUM; i++) {
		struct kvm_memory_slot *slot = vm->kvm->memslots[i];
		struct kvm_gfn_range range = {
			.slot = slot, .attr_filter = KVM_FILTER_PRIVATE, .may_block = true,
		};

		if (!slot)
			continue;
		range.start = start > slot->base_gfn ? start : slot->base_gfn;
		range.end = end < slot->base_gfn + slot->npages ? end : slot->base_gfn + slot->npages;
		if (range.start >= range.end)
			continue;
		KVM_MMU_LOCK(vm->kvm);
		ret = fn(vm->kvm, &range);
		KVM_MMU_UNLOCK(vm->kvm);
		if (ret)
			return ret;
	}
	return 0;
}

static int vm_zap_range(struct kvm *kvm, struct kvm_gfn_range *range)
{
	kvm_unmap_gfn_range(kvm, range);
	return 0;
}

static int vm_split_cross_boundary(struct kvm *kvm, struct kvm_gfn_range *range)
{
	/* A positive value is TDXSIM_KVM_DEFECT_CROSS_BOUNDARY_BOOL's: passed on, as KVM would. */
	return kvm_split_cross_boundary_leafs(kvm, range, false);
}

/* kvm_arch_pre_set_memory_attributes() to shared: split, then zap unless the split failed. */
static int vm_split_and_zap(struct kvm *kvm, struct kvm_gfn_range *range)
{
	int r = kvm_split_cross_boundary_leafs(kvm, range, false);

	if (r)
		return r;
	kvm_unmap_gfn_range(kvm, range);
	return 0;
}

static bool vm_range_in_slots(struct tdxsim_vm *vm, gfn_t start, gfn_t end)
{
	gfn_t gfn = start;

	while (gfn < end) {
		struct kvm_memory_slot *slot = gfn_to_memslot(vm->kvm, gfn);

		if (!slot)
			return false;
		gfn = slot->base_gfn + slot->npages;
	}
	return true;
}

int tdxsim_vm_convert(struct tdxsim_vm *vm, u64 gpa, u64 size, bool to_private)
{
	gfn_t start = gpa >> PAGE_SHIFT, end = (gpa + size) >> PAGE_SHIFT;
	bool converted = false;
	int ret = 0;

	ret = vm_enter_range(vm, gpa, size);
	if (ret)
		return ret;
	pthread_mutex_lock(&vm->slots_lock);
	if (!vm_range_in_slots(vm, start, end)) {
		ret = -EINVAL;
		goto out_unlocked;
	}
	/* guest_memfd's conversion holds its invalidate lock throughout (S24). */
	vm_gmem_lock(vm, start, end);
	if (to_private)
		goto set;

	/*
	 * guest_memfd's conversion calls kvm_arch_gmem_convert() before it
	 * takes mmu_lock (v5; upstream: TDX splits head and tail there under
	 * its pamt_cache_lock, kvm-upstream.md §5; v3: no op).  The orders
	 * that split or zap before kvm_vm_set_mem_attributes() call it first,
	 * and only there: the attribute update below does not call it again.
	 */
	if (vm->cfg.conv_order != TDXSIM_CONV_FOLIO_FIRST) {
		ret = kvm_arch_gmem_convert(vm->kvm, start, end, false);
		if (ret < 0)
			goto out;
		converted = true;
	}
	/*
	 * Two cross-boundary walks per conversion in the first two orders, on
	 * purpose.  The one below stands for guest_memfd's own split before
	 * its zap (003:P16, kvm-model.md §2.7 caller 4); the one in
	 * kvm_arch_pre_set_memory_attributes() is the attribute update's
	 * (§2.7 caller 2).  In the kernel one conversion takes one of the two
	 * paths; here the attributes always go through the second.  Neither
	 * can go: S03's order needs the S-EPT split before the folio split,
	 * and the pre-set runs after it (it zaps, so running it earlier is
	 * zap-then-split); and dropping the pre-set's split for a VMM that
	 * split already would need a flag the kernel does not have and would
	 * change S03c (cross-boundary-bool): there the first split's -ENOMEM
	 * comes back as 1, and the pre-set's second walk is what splits and
	 * lets the conversion complete.  After a successful first walk the
	 * second splits nothing (the folios are split, guest_memfd's
	 * invalidate lock keeps faults out) and only costs the steps S19b
	 * counts (2 x 32328).  folio-first walks once, in the pre-set.
	 */
	switch (vm->cfg.conv_order) {
	case TDXSIM_CONV_SPLIT_THEN_ZAP:
		ret = vm_for_each_slot_range(vm, start, end, vm_split_cross_boundary);
		if (ret < 0)
			goto out;
		ret = vm_split_folios(vm, start, end);
		break;
	case TDXSIM_CONV_ZAP_THEN_SPLIT:
		ret = vm_for_each_slot_range(vm, start, end, vm_split_and_zap);
		if (ret < 0)
			goto out;
		ret = vm_split_folios(vm, start, end);
		break;
	case TDXSIM_CONV_FOLIO_FIRST:
		ret = vm_split_folios(vm, start, end);
		break;
	}
	if (ret < 0)
		goto out;
set:
	/* What is left: the pre-set split and zap (if not done above), the attributes. */
	if (converted)
		ret = kvm_vm_set_mem_attributes_converted(vm->kvm, start, end, 0);
	else
		ret = kvm_vm_set_mem_attributes(vm->kvm, start, end,
						to_private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0);
out:
	vm_gmem_unlock(vm);
out_unlocked:
	pthread_mutex_unlock(&vm->slots_lock);
	return ret;
}

/* Take [gfn, gfn + n) of folio @f (order-0 pieces) out of guest_memfd; memory to @to or back. */
static void vm_free_small(struct tdxsim_vm *vm, struct vm_folio *f, gfn_t gfn, unsigned long n,
			  struct vm_deferred *to)
{
	unsigned long i, first = gfn % GFNS_PER_2M;

	for (i = first; i < first + n; i++) {
		if (!f->small || !f->small[i])
			continue;
		tdxsim_kvm_gmem_remove_folio(vm->kvm, f->idx * GFNS_PER_2M + i);
		if (to)
			deferred_add(to, f->small[i]);
		else
			vm_free_4k(vm, f->small[i]);
		f->small[i] = 0;
	}
	/* The last piece of a split folio takes the restored vmemmap with it. */
	if (f->nr_vmemmap && vm_folio_no_small(f))
		while (f->nr_vmemmap)
			tdxsim_page_free(vm->sim, f->vmemmap[--f->nr_vmemmap], TDX_PS_4K);
}

/* The whole order-9 folio @f leaves the file; its memory goes to @to or back. */
static void vm_free_huge(struct tdxsim_vm *vm, struct vm_folio *f, struct vm_deferred *to)
{
	unsigned long i;

	tdxsim_kvm_gmem_remove_folio(vm->kvm, f->idx * GFNS_PER_2M);
	f->huge = false;
	if (f->fake)
		return;
	if (!to && !gmem_free(vm, f->hpa2m, TDX_PS_2M))
		return;
	/* Piece by piece: a page the module still owns must not go back. */
	for (i = 0; i < GFNS_PER_2M; i++) {
		if (to)
			deferred_add(to, f->hpa2m + (i << PAGE_SHIFT));
		else
			vm_free_4k(vm, f->hpa2m + (i << PAGE_SHIFT));
	}
}

int tdxsim_vm_punch_hole(struct tdxsim_vm *vm, u64 gpa, u64 size)
{
	gfn_t start = gpa >> PAGE_SHIFT, end = (gpa + size) >> PAGE_SHIFT, gfn;
	int ret = 0;
	u64 idx;

	ret = vm_enter_range(vm, gpa, size);
	if (ret)
		return ret;
	pthread_mutex_lock(&vm->slots_lock);
	/* S22: guest_memfd punches whole folios only; nothing is split. */
	for (idx = start / GFNS_PER_2M; idx <= (end - 1) / GFNS_PER_2M; idx++) {
		struct vm_folio *f = vm_folio_find(vm, idx);

		if (f && f->huge && (start > idx * GFNS_PER_2M || end < (idx + 1) * GFNS_PER_2M)) {
			ret = -EINVAL;
			goto out;
		}
	}
	/* kvm_gmem_invalidate_begin(): the private mappings go first. */
	vm_gmem_lock(vm, start, end);
	vm_invalidate_begin(vm, start, end);
	vm_for_each_slot_range(vm, start, end, vm_zap_range);
	for (gfn = start; gfn < end; ) {
		struct vm_folio *f = vm_folio_find(vm, gfn / GFNS_PER_2M);
		gfn_t next = (gfn / GFNS_PER_2M + 1) * GFNS_PER_2M;

		if (next > end)
			next = end;
		if (f) {
			if (f->huge)
				vm_free_huge(vm, f, NULL);
			else
				vm_free_small(vm, f, gfn, next - gfn, NULL);
			vm_folio_drop_if_empty(vm, f);
		}
		gfn = next;
	}
	vm_invalidate_end(vm);
	vm_gmem_unlock(vm);
out:
	pthread_mutex_unlock(&vm->slots_lock);
	return ret;
}

int tdxsim_vm_split(struct tdxsim_vm *vm, u64 gpa, u64 size, int target_level, bool shared)
{
	gfn_t start = gpa >> PAGE_SHIFT, end = (gpa + size) >> PAGE_SHIFT;
	int ret;

	if (!size || ((gpa | size) & (PAGE_SIZE - 1)) ||
	    (target_level != PG_LEVEL_4K && target_level != PG_LEVEL_2M))
		return -EINVAL;
	if (vm_gone(vm))
		return -ENODEV;
	vm_enter(vm);
	pthread_mutex_lock(&vm->slots_lock);
	if (shared)
		kvm_mmu_read_lock(vm->kvm);
	else
		KVM_MMU_LOCK(vm->kvm);
	ret = tdp_mmu_split_huge_pages_root(vm->kvm, vm->kvm->mirror_root, start, end,
					   target_level, shared, false);
	if (shared)
		kvm_mmu_read_unlock(vm->kvm);
	else
		KVM_MMU_UNLOCK(vm->kvm);
	pthread_mutex_unlock(&vm->slots_lock);
	return ret;
}

int tdxsim_vm_eager_split(struct tdxsim_vm *vm, u64 gpa, u64 size, bool shared)
{
	gfn_t start = gpa >> PAGE_SHIFT, end = (gpa + size) >> PAGE_SHIFT;
	struct kvm_memory_slot *slot;
	int ret;

	ret = vm_enter_range(vm, gpa, size);
	if (ret)
		return ret;
	pthread_mutex_lock(&vm->slots_lock);
	slot = gfn_to_memslot(vm->kvm, start);
	if (!slot || end > slot->base_gfn + slot->npages) {
		ret = -EINVAL;
		goto out;
	}
	if (shared)
		kvm_mmu_read_lock(vm->kvm);
	else
		KVM_MMU_LOCK(vm->kvm);
	/* eager_page_split: down to 4K */
	ret = kvm_tdp_mmu_try_split_huge_pages(vm->kvm, slot, start, end, PG_LEVEL_4K, shared);
	if (shared)
		kvm_mmu_read_unlock(vm->kvm);
	else
		KVM_MMU_UNLOCK(vm->kvm);
out:
	pthread_mutex_unlock(&vm->slots_lock);
	return ret;
}

int tdxsim_vm_zap(struct tdxsim_vm *vm, u64 gpa, u64 size)
{
	int ret = vm_enter_range(vm, gpa, size);

	if (ret)
		return ret;
	pthread_mutex_lock(&vm->slots_lock);
	vm_for_each_slot_range(vm, gpa >> PAGE_SHIFT, (gpa + size) >> PAGE_SHIFT, vm_zap_range);
	pthread_mutex_unlock(&vm->slots_lock);
	return 0;
}

int tdxsim_vm_memory_failure(struct tdxsim_vm *vm, u64 gpa)
{
	gfn_t gfn = gpa >> PAGE_SHIFT, start, n;
	struct kvm_memory_slot *slot;
	struct vm_folio *f;
	int ret = 0;

	if (vm_gone(vm))
		return -ENODEV;
	vm_enter(vm);
	pthread_mutex_lock(&vm->slots_lock);
	slot = gfn_to_memslot(vm->kvm, gfn);
	f = vm_folio_find(vm, gfn / GFNS_PER_2M);
	if (!slot || !f || (!f->huge && (!f->small || !f->small[gfn % GFNS_PER_2M]))) {
		ret = -ENOENT;
		goto out;
	}
	/* kvm_gmem_error_folio(): the whole folio's private mappings go. */
	start = f->huge ? ALIGN_DOWN(gfn, GFNS_PER_2M) : gfn;
	n = f->huge ? GFNS_PER_2M : 1;
	vm_gmem_lock(vm, start, start + n);
	vm_invalidate_begin(vm, start, start + n);
	vm_for_each_slot_range(vm, start, start + n, vm_zap_range);
	if (f->huge) {
		if (!f->fake)
			vm->sum.pages_poisoned += GFNS_PER_2M;
		vm_free_huge(vm, f, &vm->poisoned);
	} else {
		vm->sum.pages_poisoned++;
		vm_free_small(vm, f, gfn, 1, &vm->poisoned);
	}
	vm_folio_drop_if_empty(vm, f);
	vm_invalidate_end(vm);
	vm_gmem_unlock(vm);
out:
	pthread_mutex_unlock(&vm->slots_lock);
	return ret;
}

int tdxsim_vm_memory_failure_pfn(struct tdxsim_vm *vm, u64 pfn)
{
	u64 hpa = PFN_PHYS(pfn), gpa = 0;
	struct vm_folio *f, *tmp;
	unsigned long i;
	bool found = false;

	if (vm_gone(vm))
		return -ENODEV;
	/* memory_failure() knows the page; guest_memfd's mapping gives the index. */
	pthread_mutex_lock(&vm->slots_lock);
	HASH_ITER(hh, vm->folios, f, tmp) {
		if (f->huge && !f->fake && hpa >= f->hpa2m && hpa < f->hpa2m + PMD_SIZE) {
			gpa = (f->idx * GFNS_PER_2M << PAGE_SHIFT) + (hpa - f->hpa2m);
			found = true;
		}
		for (i = 0; !found && f->small && i < GFNS_PER_2M; i++) {
			if (f->small[i] == (hpa & PAGE_MASK)) {
				gpa = (f->idx * GFNS_PER_2M + i) << PAGE_SHIFT;
				found = true;
			}
		}
		if (found)
			break;
	}
	pthread_mutex_unlock(&vm->slots_lock);
	return found ? tdxsim_vm_memory_failure(vm, gpa) : -ENOENT;
}

/* ---- the end ---- */

/* guest_memfd's release: every folio left, then the deferred pages. */
static void vm_free_guest_memory(struct tdxsim_vm *vm)
{
	struct vm_folio *f, *tmp;
	struct vm_deferred pending = { 0 };
	unsigned long i;
	size_t k;

	HASH_ITER(hh, vm->folios, f, tmp) {
		if (f->huge && !f->fake && gmem_free(vm, f->hpa2m, TDX_PS_2M))
			for (i = 0; i < GFNS_PER_2M; i++)
				deferred_add(&pending, f->hpa2m + (i << PAGE_SHIFT));
		for (i = 0; f->small && i < GFNS_PER_2M; i++)
			if (f->small[i] && gmem_free(vm, f->small[i], TDX_PS_4K))
				deferred_add(&pending, f->small[i]);
		while (f->nr_vmemmap)
			tdxsim_page_free(vm->sim, f->vmemmap[--f->nr_vmemmap], TDX_PS_4K);
		HASH_DEL(vm->folios, f);
		free(f->small);
		free(f);
	}
	/* Kept at punch time: the TD is gone now, most can go back. */
	for (k = 0; k < vm->kept.n; k++)
		if (gmem_free(vm, vm->kept.hpa[k], TDX_PS_4K))
			deferred_add(&pending, vm->kept.hpa[k]);
	for (k = 0; k < vm->poisoned.n; k++)
		if (gmem_free(vm, vm->poisoned.hpa[k], TDX_PS_4K))
			deferred_add(&pending, vm->poisoned.hpa[k]);
	vm->sum.pages_kept = pending.n;
	free(vm->kept.hpa);
	free(vm->poisoned.hpa);
	free(pending.hpa);
	memset(&vm->kept, 0, sizeof(vm->kept));
	memset(&vm->poisoned, 0, sizeof(vm->poisoned));
}

int tdxsim_vm_teardown(struct tdxsim_vm *vm)
{
	int ret = 0, i;

	if (vm->sum.torn_down)
		return vm->teardown_ret;
	vm_enter(vm);
	if (vm->kvm) {
		/*
		 * The vCPU threads have left KVM_RUN before the VM goes (their
		 * fds hold the VM): a vCPU a caller left in guest mode exits now.
		 */
		for (i = 0; i < vm->nr_vcpus; i++)
			if (vm->svcpu[i])
				tdxsim_vp_exit(vm->sim, vm->svcpu[i]->tdvpr_pa);
		/* kvm_arch_pre_destroy_vm(): the HKID goes first (VP.FLUSH per vCPU inside). */
		if (is_hkid_assigned(&vm->kvm_tdx) && tdx_mmu_release_hkid(vm->kvm))
			ret = -EIO;
		for (i = 0; i < vm->nr_vcpus; i++) {
			if (!vm->vcpu[i])
				continue;
			tdx_vcpu_free(vm->vcpu[i]);
			tdxsim_kvm_vcpu_destroy(vm->vcpu[i]);
			vm->vcpu[i] = NULL;
		}
		vm->sum.vm_bugged = vm->kvm->vm_bugged;
		/* kvm_mmu_uninit_vm(): the mirror root's zap RECLAIMs through the hooks. */
		tdxsim_kvm_destroy(vm->kvm);
		vm->kvm = NULL;
	}
	if (vm->td) {
		/* tdx_vm_free(): the TD's own pages and whatever KVM left the module. */
		if (tdxsim_td_teardown(vm->td, TDXSIM_TEARDOWN_FREE_PAMT))
			ret = -EIO;
		else
			vm_uncount_control_pages(vm);
		vm->td = NULL;
		memset(vm->svcpu, 0, sizeof(vm->svcpu));
	}
	if (vm->sim) {
		vm_free_guest_memory(vm);
		vm->sum.module_violations = tdxsim_check(vm->sim, &vm->sum.module_report);
		/* The VM's inline and ledger violations, its whole life (they outlive KVM). */
		if (vm->check_id)
			vm->sum.ledger_violations =
				kvm_check_ledger_violations_of(vm->sim, vm->check_id, NULL);
		vm->sum.pages_in_use = tdxsim_pages_in_use(vm->sim);
		if (vm->sum.pages_in_use > vm->sum.pages_baseline)
			vm->sum.pages_leaked = vm->sum.pages_in_use - vm->sum.pages_baseline;
		/* Every path in sim/tdx that leaks a page bugs the VM first. */
		vm->sum.known_leak = vm->sum.pages_leaked && vm->sum.vm_bugged;
		if (!ret && ((vm->sum.pages_leaked && !vm->sum.known_leak) ||
			     vm->sum.module_violations))
			ret = -ENOTRECOVERABLE;
	}
	vm->sum.torn_down = true;
	vm->teardown_ret = ret;
	return ret;
}

void tdxsim_vm_summary(struct tdxsim_vm *vm, struct tdxsim_vm_summary *sum)
{
	*sum = vm->sum;
	if (!vm->sum.torn_down && vm->sim) {
		sum->vm_bugged = vm->kvm && vm->kvm->vm_bugged;
		sum->pages_in_use = tdxsim_pages_in_use(vm->sim);
	}
}

int tdxsim_vm_check(struct tdxsim_vm *vm, struct kvm_check_report *rep)
{
	int n;

	if (!vm->sum.torn_down) {
		if (!vm->kvm)
			return -ENODEV;
		vm_enter(vm);
		return kvm_tdx_check(vm->kvm, rep);
	}
	if (rep)
		memset(rep, 0, sizeof(*rep));
	if (!vm->check_id)
		return 0;	/* KVM never existed: nothing recorded */
	n = kvm_check_ledger_violations_of(vm->sim, vm->check_id, rep);
	if (n < 0)
		return n;
	if (vm->sum.module_violations > 0) {
		n += vm->sum.module_violations;
		if (rep) {
			rep->count[KVM_INV_MODULE] += vm->sum.module_violations;
			rep->nr += vm->sum.module_violations;
			rep->module = vm->sum.module_report;
		}
	}
	return n;
}

void tdxsim_vm_destroy(struct tdxsim_vm *vm)
{
	struct vm_family *family;

	if (!vm)
		return;
	family = vm->family;
	tdxsim_vm_teardown(vm);
	free(vm->counted);
	pthread_mutex_destroy(&vm->slots_lock);
	vm->magic = 0;
	free(vm);
	vm_family_put(family);
}
