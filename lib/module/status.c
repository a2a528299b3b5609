// SPDX-License-Identifier: GPL-2.0-only
/* Status codes by name: "TDX_OPERAND_BUSY|SEPT". */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "tdxsim-internal.h"

/* TDX_SW_ERROR is Linux's, not the module's: named here, listed apart. */
#define STATUS_NAME(name)	{ name, #name },
static const struct {
	u64 value;
	const char *name;
} status_names[] = {
	TDX_STATUS_LIST(STATUS_NAME)
	STATUS_NAME(TDX_SW_ERROR)
};

#define OPERAND_NAME(name)	{ TDX_OPERAND_ID_##name, #name },
static const struct {
	u32 id;
	const char *name;
} operand_names[] = {
	TDX_OPERAND_ID_LIST(OPERAND_NAME)
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

const char *tdxsim_operand_name(u32 id)
{
	for (size_t i = 0; i < ARRAY_SIZE(operand_names); i++) {
		if (operand_names[i].id == id)
			return operand_names[i].name;
	}
	return NULL;
}

int tdxsim_operand_parse(const char *name, u32 *id)
{
	for (size_t i = 0; i < ARRAY_SIZE(operand_names); i++) {
		if (!strcasecmp(operand_names[i].name, name)) {
			*id = operand_names[i].id;
			return 0;
		}
	}
	return -EINVAL;
}

const char *tdxsim_status_base_name(u64 status)
{
	u64 base = TDX_STATUS(status);

	for (size_t i = 0; i < ARRAY_SIZE(status_names); i++) {
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
	if (!detail_is_number(TDX_STATUS(status)) && tdxsim_operand_name(op)) {
		snprintf(buf, len, "%s|%s", name, tdxsim_operand_name(op));
		return buf;
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
	for (size_t i = 0; !found && i < ARRAY_SIZE(status_names); i++) {
		if (strlen(status_names[i].name) == len && !strncasecmp(status_names[i].name, s, len)) {
			base = status_names[i].value;
			found = true;
		}
	}
	if (!found)
		return -EINVAL;
	if (bar) {
		const char *op = bar + 1;
		u32 id;
		u64 v;

		if (!tdxsim_operand_parse(op, &id)) {
			*status = base | id;
			return 0;
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
