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
/* The VM config as PVE applies it (Memory.pm config): guest nodes and the
 * host nodes their memory is bound to, into p->cfg. */
int pv_plan_cfg_read(const struct pv_topo *t, const struct pv_vmconf *vc, int nvcpu,
		     struct pv_plan *p, struct pv_err *e);
void pv_plan_cfg_free(struct pv_plan_cfg *c);
/* PVE's own hugepage topology (Memory.pm hugepages_topology) into p->pages. */
int pv_plan_cfg_pages(const struct pv_topo *t, const struct pv_vmconf *vc, struct pv_plan *p,
		      struct pv_err *e);
int pv_plan_cfg_gnode_of(const struct pv_plan_cfg *c, int vcpu);
/* The fixes a refusal names, each proven by planning again with it. */
enum {
	PV_FIX_MAX_L3 = 1,  /* max_l3 without a limit */
	PV_FIX_SMT = 2,     /* smt = on */
	PV_FIX_MODE = 4,    /* mode = workstation */
	PV_FIX_FEWER = 8,   /* give the VM at most N vCPUs */
	PV_FIX_RESERVE = 16, /* lower [host] reserve_cores */
	PV_FIX_AFFINITY = 32, /* remove the config's affinity */
	PV_FIX_ALL = 63,
};
/* Writes "fix, or fix" (extra first when not ""), or "" when none works or
 * p is itself a probe. */
void pv_plan_fixes(char *b, size_t n, const struct pv_plan *p, const struct pv_topo *t,
		   const char *extra, unsigned which);
/* Whether a plan can be made from these inputs (nothing kept). */
bool pv_plan_probe(const struct pv_topo *t, const struct pv_policy *pol, const struct pv_vmconf *vc,
		   const struct pv_claims *claims, bool free_placement);
/* Whole cores the host keeps: [host] reserve_cores, or auto. */
int pv_plan_reserve_want(const struct pv_topo *t, const struct pv_policy *pol);
/* The host's reserve of whole cores ([host] reserve_cores): -1 and e set
 * when the plan leaves the host less. */
int pv_plan_host_reserve(struct pv_plan *p, const struct pv_topo *t, const struct pv_policy *pol,
			 struct pv_err *e);
/* Hugepages against each node's memory less [memory] reserve. */
int pv_plan_pages_fit(struct pv_plan *p, const struct pv_topo *t, const struct pv_policy *pol,
		      struct pv_err *e);
