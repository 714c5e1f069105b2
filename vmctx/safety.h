/* Safety refusals of pre-start (doc/DESIGN.md "Safety rules") that need the
 * live host: the device holding the root filesystem's storage, the
 * default-route NIC, the only console. The planner adds its own (partial
 * IOMMU groups). */
#pragma once
#include "common/err.h"
#include "pinner/plan.h"
#include "pinner/topo.h"

/* Adds every finding to p->refuse[]; returns -1 only on internal errors. */
int pv_safety_check(struct pv_plan *p, const struct pv_topo *t, struct pv_err *e);
