/* pvepin plan VMID [--json|--pve]: the plan, touching nothing. */
#include <stdio.h>

#include "../common/opts.h"
#include "cmd.h"
#include "vmctx.h"

int cmd_plan(int argc, char **argv)
{
	struct pv_vmctx c;
	struct cmd_flags fl;
	struct pv_err e = { 0 };
	int vmid;

	if (cmd_parse_flags("plan", argc, argv, &fl) < 0 || (vmid = cmd_vmid("plan", fl.pos)) < 0)
		return 2;
	if (pv_vmctx_load(&c, vmid, true, &e) < 0) {
		pv_vmctx_free(&c);
		fprintf(stderr, "pvepin plan: %s\n", e.msg);
		return 1;
	}
	if (pv_opt.json)
		pv_plan_json(stdout, &c.plan, &c.topo);
	else if (fl.pve)
		pv_plan_print_pve(stdout, &c.plan);
	else
		pv_plan_print(stdout, &c.plan, &c.topo);
	pv_vmctx_free(&c);
	return fflush(stdout) == 0 ? 0 : 1;
}
