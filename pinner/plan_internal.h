/* Steps of pv_plan_make() kept in their own files. */
#pragma once
#include "pinner/plan.h"

/* Passthrough functions: hostpciN (or policy vfio list), whole slots for
 * BDFs without a function, every non-bridge member of their IOMMU groups. */
int pv_plan_devices(const struct pv_topo *t, const struct pv_policy *pol,
		    const struct pv_vmconf *vc, const struct pv_claims *c,
		    struct pv_plan *p, struct pv_err *e);
/* Hugepage size, nodes and pages per node. */
int pv_plan_memory(const struct pv_topo *t, const struct pv_policy *pol,
		   const struct pv_vmconf *vc, struct pv_plan *p, struct pv_err *e);
/* What the VM config should say: -smp and numaN lines. */
int pv_plan_guest(const struct pv_topo *t, const struct pv_vmconf *vc, struct pv_plan *p,
		  struct pv_err *e);
/* The phase-tagged action list. */
int pv_plan_actions(const struct pv_policy *pol, struct pv_plan *p, struct pv_err *e);
