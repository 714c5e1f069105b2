/* The policy file's sections and keys, each with the parser of its value. */
#pragma once
#include <stdbool.h>

#include "common/err.h"
#include "conf/policy.h"

enum pv_policy_key_id {
	PV_PK_MODE,
	PV_PK_VCPUS,
	PV_PK_PREFER,
	PV_PK_MAX_L3,
	PV_PK_SMT,
	PV_PK_HUGEPAGES,
	PV_PK_NODES,
	PV_PK_VFIO,
	PV_PK_RESTORE_DRIVER,
	PV_PK_STEER,
	PV_PK_IRQ_CPUS,
	PV_PK_IRQBALANCE,
	PV_PK_ISOLATE,
	PV_PK_GOVERNOR,
	PV_PK_RESERVE_CORES,
	PV_PK_RESERVE_MIB,
	PV_POLICY_NKEYS
};

#define PV_POLICY_SECTIONS "vm, memory, devices, irq, host"

struct pv_policy_key {
	enum pv_policy_key_id id;
	const char *section, *name;
	const char *allowed; /* for error messages */
	/* Parse v into p; on error e->msg may say why (or stay empty). */
	int (*set)(struct pv_policy *p, const char *v, struct pv_err *e);
};

const struct pv_policy_key *pv_policy_key_find(const char *section, const char *name);
bool pv_policy_section_known(const char *section);
/* "mode, vcpus, ..." for a known section. */
const char *pv_policy_section_keys(const char *section);
