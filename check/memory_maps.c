#include "check/memory_maps.h"

#include <string.h>

#include "check/report.h"
#include "engine/threads.h"

#include "engine/hugepages.h"
#include "engine/memmaps.h"

static int planned(const struct pv_lvm *v, int *nodes)
{
	int n = 0;

	for (int i = 0; i < v->npages && n < PV_MAX_NODES; i++)
		if (v->pages[i].count > 0)
			nodes[n++] = v->pages[i].node;
	return n;
}

int pv_memory_off_plan(const struct pv_lvm *v, pid_t pid, char *why, size_t n)
{
	struct pv_memmap m;
	int nodes[PV_MAX_NODES], nn = planned(v, nodes);

	if (!nn || pv_memmap_read(pid, &m, NULL) < 0)
		return 0;
	return pv_memmap_where_planned(&m, nodes, nn, why, n) ? 0 : 1;
}

static void line(FILE *f, bool json, const struct pv_memuse *u, bool first)
{
	char sz[16];

	pv_hp_size_name(u->page_kb, sz, sizeof(sz));
	if (json) {
		fprintf(f, "%s{\"guest_node\":%d,\"host_node\":%d,\"page_kb\":%ld,\"kb\":%ld}",
			first ? "" : ",", u->gnode, u->hnode, u->page_kb, u->kb);
		return;
	}
	if (u->gnode >= 0)
		fprintf(f, "  memory guest node %d: %ld %s on host node %d (%ld pages of %s)\n",
			u->gnode, u->kb >= 1024 ? u->kb >> 10 : u->kb, u->kb >= 1024 ? "MiB" : "KiB",
			u->hnode, u->kb / u->page_kb, sz);
	else
		fprintf(f, "  memory anonymous (QEMU, unnamed RAM): %ld %s on host node %d (%s pages)\n",
			u->kb >= 1024 ? u->kb >> 10 : u->kb, u->kb >= 1024 ? "MiB" : "KiB", u->hnode, sz);
}

int pv_memory_show(FILE *f, bool json, const struct pv_lvm *v, pid_t pid)
{
	struct pv_memmap m;
	struct pv_err e = { 0 };
	int nodes[PV_MAX_NODES], nn = planned(v, nodes);
	char why[256] = "";
	bool ok;

	if (pv_memmap_read(pid, &m, &e) < 0) {
		if (!json)
			fprintf(f, "  memory: cannot tell (%s)\n", e.msg);
		return 0;
	}
	ok = !nn || pv_memmap_where_planned(&m, nodes, nn, why, sizeof(why));
	if (json)
		fputs(",\"memory\":[", f);
	for (int i = 0; i < m.n; i++)
		line(f, json, &m.u[i], i == 0);
	if (json)
		fprintf(f, "],\"memory_where_planned\":%s", ok ? "true" : "false");
	else if (!ok)
		fprintf(f, "  memory DRIFT: %s\n", why);
	return ok ? 0 : 1;
}

void pv_check_vm_memory(int vmid, struct pv_report *r)
{
	struct pv_ledger led;
	const struct pv_lvm *v;
	char why[256];
	pid_t pid;

	if (pv_qemu_pid(vmid, &pid, NULL) != 0 || pv_ledger_load(&led, NULL) < 0)
		return;
	if ((v = pv_ledger_vm(&led, vmid)) && pv_memory_off_plan(v, pid, why, sizeof(why)))
		pv_report_add(r, PV_WARN, "memory", "VM %d runs with its memory off the plan: %s", vmid,
			      why);
	pv_ledger_free(&led);
}
