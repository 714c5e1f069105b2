/* `check VMID`: the VM config and policy against this host and the plan. */
#pragma once
#include "check/report.h"
#include "vmctx/vmctx.h"

void pv_check_vm(const struct pv_vmctx *c, struct pv_report *r);
