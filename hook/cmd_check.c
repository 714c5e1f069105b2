/* pvepin check [VMID] [--json]: exit 0 clean, 1 warnings, 2 errors. */
#include <stdio.h>

#include "../common/opts.h"
#include "check_vm.h"
#include "cmd.h"

int cmd_check(int argc, char **argv)
{
	static struct pv_report r;
	struct pv_vmctx c;
	struct cmd_flags fl;
	struct pv_err e = { 0 };
	int vmid;

	if (cmd_parse_flags("check", argc, argv, &fl) < 0 || (vmid = cmd_vmid("check", fl.pos)) < 0)
		return 2;
	if (pv_vmctx_load(&c, vmid, true, &e) < 0) {
		pv_report_add(&r, PV_ERROR, "load", "%s", e.msg);
	} else {
		pv_check_vm(&c, &r);
	}
	pv_vmctx_free(&c);
	if (pv_opt.json)
		pv_report_json(stdout, &r, vmid);
	else
		pv_report_print(stdout, &r, vmid);
	return pv_report_exit(&r);
}
