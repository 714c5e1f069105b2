/* The agent's look at where QEMU's guest memory landed (engine/memmaps.h),
 * once QEMU runs: a warning in the log when it is off the nodes the plan
 * reserved pages on. Once, not every tick: reading numa_maps walks every
 * page of the VM. */
#include <syslog.h>

#include "agent/agent_int.h"
#include "engine/ledger.h"
#include "engine/memmaps.h"

void pv_agent_memcheck(struct pv_agent *a)
{
	struct pv_ledger led;
	const struct pv_lvm *v;
	struct pv_memmap m;
	int nodes[PV_MAX_NODES], n = 0;
	char why[256];

	if (pv_ledger_load(&led, NULL) < 0)
		return;
	if ((v = pv_ledger_vm(&led, a->vmid)))
		for (int i = 0; i < v->npages && n < PV_MAX_NODES; i++)
			if (v->pages[i].count > 0)
				nodes[n++] = v->pages[i].node;
	pv_ledger_free(&led);
	if (!n || pv_memmap_read(a->qemu, &m, NULL) < 0)
		return;
	if (!pv_memmap_where_planned(&m, nodes, n, why, sizeof(why)))
		pv_agent_log(a, LOG_WARNING, "VM %d's memory is off the plan: %s", a->vmid, why);
}
