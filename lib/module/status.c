// SPDX-License-Identifier: GPL-2.0-only
/* Status codes by name: "TDX_OPERAND_BUSY|SEPT". */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "tdxsim-internal.h"

#define S(x)	{ x, #x }

static const struct {
	u64 value;
	const char *name;
} status_names[] = {
	S(TDX_SUCCESS),
	S(TDX_NON_RECOVERABLE_VCPU),
	S(TDX_NON_RECOVERABLE_TD),
	S(TDX_INTERRUPTED_RESUMABLE),
	S(TDX_INTERRUPTED_RESTARTABLE),
	S(TDX_OPERAND_INVALID),
	S(TDX_OPERAND_ADDR_RANGE_ERROR),
	S(TDX_OPERAND_BUSY),
	S(TDX_PREVIOUS_TLB_EPOCH_BUSY),
	S(TDX_SYS_BUSY),
	S(TDX_RND_NO_ENTROPY),
	S(TDX_OPERAND_BUSY_HOST_PRIORITY),
	S(TDX_HOST_PRIORITY_BUSY_TIMEOUT),
	S(TDX_PAGE_METADATA_INCORRECT),
	S(TDX_PAGE_ALREADY_FREE),
	S(TDX_PAGE_NOT_OWNED_BY_TD),
	S(TDX_PAGE_NOT_FREE),
	S(TDX_HPA_RANGE_NOT_FREE),
	S(TDX_NO_PAMT_PAGE_PAIR),
	S(TDX_PAMT_PAGE_NOT_EMPTY),
	S(TDX_INTERRUPTED_PAMT),
	S(TDX_MISSING_PAMT_PAGE_PAIR),
	S(TDX_TD_ASSOCIATED_PAGES_EXIST),
	S(TDX_TD_FATAL),
	S(TDX_TDCS_NOT_ALLOCATED),
	S(TDX_LIFECYCLE_STATE_INCORRECT),
	S(TDX_OP_STATE_INCORRECT),
	S(TDX_NO_VCPUS),
	S(TDX_TDCX_NUM_INCORRECT),
	S(TDX_VCPU_STATE_INCORRECT),
	S(TDX_VCPU_ASSOCIATED),
	S(TDX_VCPU_NOT_ASSOCIATED),
	S(TDX_MAX_VCPUS_EXCEEDED),
	S(TDX_KEY_GENERATION_FAILED),
	S(TDX_TD_KEYS_NOT_CONFIGURED),
	S(TDX_KEY_STATE_INCORRECT),
	S(TDX_KEY_CONFIGURED),
	S(TDX_NO_HKID_READY_TO_WBCACHE),
	S(TDX_WBCACHE_NOT_COMPLETE),
	S(TDX_HKID_NOT_FREE),
	S(TDX_WBCACHE_RESUME_ERROR),
	S(TDX_FLUSHVP_NOT_DONE),
	S(TDX_EPT_WALK_FAILED),
	S(TDX_EPT_ENTRY_FREE),
	S(TDX_EPT_ENTRY_NOT_FREE),
	S(TDX_EPT_ENTRY_NOT_PRESENT),
	S(TDX_EPT_ENTRY_NOT_LEAF),
	S(TDX_EPT_ENTRY_LEAF),
	S(TDX_GPA_RANGE_NOT_BLOCKED),
	S(TDX_GPA_RANGE_ALREADY_BLOCKED),
	S(TDX_TLB_TRACKING_NOT_DONE),
	S(TDX_EPT_INVALID_PROMOTE_CONDITIONS),
	S(TDX_PAGE_ALREADY_ACCEPTED),
	S(TDX_PAGE_SIZE_MISMATCH),
	S(TDX_GPA_RANGE_BLOCKED),
	S(TDX_EPT_ENTRY_STATE_INCORRECT),
	S(TDX_EPT_PAGE_NOT_FREE),
	S(TDX_L2_SEPT_WALK_FAILED),
	S(TDX_L2_SEPT_PAGE_NOT_PROVIDED),
	S(TDX_METADATA_FIELD_NOT_READABLE),
	S(TDX_SW_ERROR),
};

static const struct {
	u32 id;
	const char *name;
} operand_names[] = {
	{ TDX_OPERAND_ID_RAX, "RAX" },	{ TDX_OPERAND_ID_RCX, "RCX" },
	{ TDX_OPERAND_ID_RDX, "RDX" },	{ TDX_OPERAND_ID_RBX, "RBX" },
	{ TDX_OPERAND_ID_R8, "R8" },	{ TDX_OPERAND_ID_R9, "R9" },
	{ TDX_OPERAND_ID_R10, "R10" },	{ TDX_OPERAND_ID_R11, "R11" },
	{ TDX_OPERAND_ID_R12, "R12" },	{ TDX_OPERAND_ID_R13, "R13" },
	{ TDX_OPERAND_ID_TDR, "TDR" },	{ TDX_OPERAND_ID_TDCX, "TDCX" },
	{ TDX_OPERAND_ID_TDVPR, "TDVPR" }, { TDX_OPERAND_ID_TDCS, "TDCS" },
	{ TDX_OPERAND_ID_SEPT, "SEPT" },	{ TDX_OPERAND_ID_SEPT_ENTRY, "SEPT_ENTRY" },
	{ TDX_OPERAND_ID_TD_EPOCH, "TD_EPOCH" }, { TDX_OPERAND_ID_OP_STATE, "OP_STATE" },
	{ TDX_OPERAND_ID_SYS, "SYS" },	{ TDX_OPERAND_ID_KOT, "KOT" },
	{ TDX_OPERAND_ID_KET, "KET" },	{ TDX_OPERAND_ID_WBCACHE, "WBCACHE" },
};

const char *tdxsim_status_base_name(u64 status)
{
	u64 base = TDX_STATUS(status);

	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (status_names[i].value == base)
			return status_names[i].name;
	}
	return NULL;
}

/* Statuses whose low bits are not a register/resource operand id. */
static bool detail_is_number(u64 base)
{
	return base == TDX_PAGE_ALREADY_ACCEPTED || base == TDX_PAGE_SIZE_MISMATCH ||
	       base == TDX_PAMT_PAGE_NOT_EMPTY || base == TDX_OP_STATE_INCORRECT ||
	       base == TDX_SW_ERROR;
}

char *tdxsim_status_name(u64 status, char *buf, size_t len)
{
	const char *name = tdxsim_status_base_name(status);
	u32 op = TDX_OPERAND(status);

	if (!name) {
		snprintf(buf, len, "%#018llx", (unsigned long long)status);
		return buf;
	}
	if (!op) {
		snprintf(buf, len, "%s", name);
		return buf;
	}
	if (!detail_is_number(TDX_STATUS(status))) {
		for (size_t i = 0; i < sizeof(operand_names) / sizeof(operand_names[0]); i++) {
			if (operand_names[i].id == op) {
				snprintf(buf, len, "%s|%s", name, operand_names[i].name);
				return buf;
			}
		}
	}
	snprintf(buf, len, "%s|%#x", name, op);
	return buf;
}

int tdxsim_status_parse(const char *s, u64 *status)
{
	const char *bar = strchr(s, '|');
	size_t len = bar ? (size_t)(bar - s) : strlen(s);
	char *end;
	u64 base = 0;
	bool found = false;

	errno = 0;
	if (len && (s[0] >= '0' && s[0] <= '9')) {
		base = strtoull(s, &end, 0);
		if (errno || end != s + len)
			return -EINVAL;
		found = true;
	}
	for (size_t i = 0; !found && i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strlen(status_names[i].name) == len && !strncasecmp(status_names[i].name, s, len)) {
			base = status_names[i].value;
			found = true;
		}
	}
	if (!found)
		return -EINVAL;
	if (bar) {
		const char *op = bar + 1;
		u64 v;

		for (size_t i = 0; i < sizeof(operand_names) / sizeof(operand_names[0]); i++) {
			if (!strcasecmp(operand_names[i].name, op)) {
				*status = base | operand_names[i].id;
				return 0;
			}
		}
		errno = 0;
		v = strtoull(op, &end, 0);
		if (errno || !*op || *end || v > 0xFFFFFFFFULL)
			return -EINVAL;
		base |= v;
	}
	*status = base;
	return 0;
}
