/* `pvepin status`: per VM in the ledger, what pvepin applied and whether
 * it still holds (drift): devices and their driver now, hugepages per node,
 * and every journaled cpuset, thread pin, IRQ and governor, wanted vs now. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "common/err.h"

/* vmid -1 = every VM. Returns the number of drifted items, or -1. */
int pv_status(int vmid, bool json, FILE *out, struct pv_err *e);
