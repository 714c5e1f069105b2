/* Everything known about one VM on this host: topology, policy, config,
 * other VMs' claims, and the plan. Loaded the same way by plan, check and
 * the hook phases. */
#pragma once
#include "conf/policy.h"
#include "conf/vmconf.h"
#include "pinner/plan.h"
#include "pinner/topo.h"
#include "engine/journal.h"

struct pv_vmctx {
	int vmid;
	struct pv_topo topo;
	struct pv_policy pol;
	struct pv_vmconf vc;
	struct pv_claims claims;
	struct pv_plan plan;
	bool have_topo, have_pol, have_vc, have_plan;
};

/* Load topology, policy and config for vmid; with make_plan also the
 * plan (claims are those of other running VMs in the ledger). */
int pv_vmctx_load(struct pv_vmctx *c, int vmid, bool make_plan, struct pv_err *e);
/* The same, with the plan, for a hook phase (or the agent, as post-start):
 * the topology through the VM's saved copy (hook/topocache.h). */
int pv_vmctx_load_phase(struct pv_vmctx *c, int vmid, enum pv_phase ph, struct pv_err *e);
void pv_vmctx_free(struct pv_vmctx *c);

