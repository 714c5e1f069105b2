#include "vmctx/vmctx.h"

#include <string.h>

#include "common/opts.h"
#include "engine/claims.h"
#include "vmctx/topocache.h"

/* Policy files are refused unless root-owned, except under --root where a
 * captured tree belongs to whoever captured it. */
static bool pv_check_owner(void)
{
	return !(pv_opt.root && pv_opt.root[0]);
}

static int load_rest(struct pv_vmctx *c, int vmid, bool make_plan, struct pv_err *e);

int pv_vmctx_load(struct pv_vmctx *c, int vmid, bool make_plan, struct pv_err *e)
{
	memset(c, 0, sizeof(*c));
	c->vmid = vmid;
	if (pv_topo_load(&c->topo, pv_opt.topology, e) < 0)
		return -1;
	c->have_topo = true;
	return load_rest(c, vmid, make_plan, e);
}

int pv_vmctx_load_phase(struct pv_vmctx *c, int vmid, enum pv_phase ph, struct pv_err *e)
{
	memset(c, 0, sizeof(*c));
	c->vmid = vmid;
	if (pv_topocache_load(&c->topo, vmid, ph, e) < 0)
		return -1;
	c->have_topo = true;
	return load_rest(c, vmid, true, e);
}

static int load_rest(struct pv_vmctx *c, int vmid, bool make_plan, struct pv_err *e)
{
	if (pv_policy_load(vmid, pv_opt.policy, pv_check_owner(), &c->pol, e) < 0)
		return -1;
	c->have_pol = true;
	if (pv_vmconf_load(vmid, pv_opt.conf, &c->vc, e) < 0)
		return -1;
	c->have_vc = true;
	if (!make_plan)
		return 0;
	if (pv_claims_load(&c->claims, vmid, e) < 0)
		return -1;
	if (pv_plan_make(&c->topo, &c->pol, &c->vc, &c->claims, &c->plan, e) < 0)
		return -1;
	c->have_plan = true;
	return 0;
}

void pv_vmctx_free(struct pv_vmctx *c)
{
	if (c->have_plan)
		pv_plan_free(&c->plan);
	pv_claims_free(&c->claims);
	if (c->have_vc)
		pv_vmconf_free(&c->vc);
	if (c->have_pol)
		pv_policy_free(&c->pol);
	if (c->have_topo)
		pv_topo_free(&c->topo);
	memset(c, 0, sizeof(*c));
}
