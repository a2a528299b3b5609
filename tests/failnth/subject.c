// SPDX-License-Identifier: GPL-2.0-only
/*
 * A host that installs and removes a Dynamic-PAMT pair and gives a page to
 * the module and back, handling each failure the way its MODE says:
 *   careful  give back everything and destroy the simulator (a correct host)
 *   leaky    destroy the simulator without giving back what it holds
 *   crash    abort()
 *   hang     wait forever
 *   vanish   exit without destroying the simulator
 * tests/failnth/test_failnth.c runs `tdxsim failnth` on each mode and checks
 * that only the careful host comes out clean, and that each other is named
 * for what it did.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tdxsim/tdxsim.h>

enum mode { CAREFUL, LEAKY, CRASH, HANG, VANISH };

static enum mode mode;
static struct tdxsim *sim;

/* Called on the first failure; returns only for the careful and leaky hosts. */
static void on_failure(void)
{
	switch (mode) {
	case CRASH:
		abort();
	case HANG:
		for (;;)
			pause();
	case VANISH:
		exit(3);
	default:
		break;
	}
}

int main(int argc, char **argv)
{
	static const char *names[] = { "careful", "leaky", "crash", "hang", "vanish" };
	struct tdxsim_config cfg;
	struct tdx_module_args a;
	u64 pair[2] = { 0, 0 }, page = 0;
	bool pair_added = false;
	int ret = 1;

	for (mode = CAREFUL; argc == 2 && mode <= VANISH; mode++) {
		if (!strcmp(argv[1], names[mode]))
			break;
	}
	if (argc != 2 || mode > VANISH) {
		fprintf(stderr, "usage: %s careful|leaky|crash|hang|vanish\n", argv[0]);
		return 2;
	}
	tdxsim_config_init(&cfg);
	cfg.mem_size = 64ULL << 20;
	sim = tdxsim_create(&cfg);
	if (!sim)
		return 2;
	page = tdxsim_page_alloc(sim, TDX_PS_4K);
	pair[0] = tdxsim_page_alloc(sim, TDX_PS_4K);
	pair[1] = tdxsim_page_alloc(sim, TDX_PS_4K);
	if (!page || !pair[0] || !pair[1])
		goto fail;
	/* The pair for a 2MB range other than the pages' own. */
	a = (struct tdx_module_args){ .rcx = (cfg.mem_base + (32ULL << 20)) | TDX_PS_2M,
				      .rdx = pair[0], .r8 = pair[1] };
	if (tdxsim_seamcall(sim, TDH_PHYMEM_PAMT_ADD, &a))
		goto fail;
	pair_added = true;
	a = (struct tdx_module_args){ .rcx = (cfg.mem_base + (32ULL << 20)) | TDX_PS_2M };
	if (tdxsim_seamcall(sim, TDH_PHYMEM_PAMT_REMOVE, &a))
		goto fail;
	pair_added = false;
	ret = 0;
	goto out;
fail:
	on_failure();
	if (mode == LEAKY) {
		tdxsim_destroy(sim);
		return 1;
	}
out:
	if (pair_added) {
		/* A careful host retries the removal (BUSY is transient). */
		for (int i = 0; i < 16 && pair_added; i++) {
			a = (struct tdx_module_args){
				.rcx = (cfg.mem_base + (32ULL << 20)) | TDX_PS_2M };
			pair_added = tdxsim_seamcall(sim, TDH_PHYMEM_PAMT_REMOVE, &a) != 0;
		}
	}
	if (!pair_added) {
		if (pair[0])
			tdxsim_page_free(sim, pair[0], TDX_PS_4K);
		if (pair[1])
			tdxsim_page_free(sim, pair[1], TDX_PS_4K);
	}
	if (page)
		tdxsim_page_free(sim, page, TDX_PS_4K);
	tdxsim_destroy(sim);
	return ret;
}
