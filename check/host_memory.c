/* 1 GiB pages: the CPU can map them (pdpe1gb), what each node holds and
 * could still give now, and whether each VM asking for them can get them. */
#include <stdio.h>

#include "check/host_int.h"
#include "common/limits.h"

#define GIB (1ULL << 30)

static void check_pdpe1gb(struct hc *h, struct pv_report *r)
{
	bool want = hc_vm_wants_1g(h, true);

	if (!h->t->pdpe1gb_known)
		pv_report_add(r, PV_WARN, "hugepages-1g", "cannot tell whether the CPU supports 1 GiB pages: "
			      "no flags line in /proc/cpuinfo to read%s", want ? " (a VM config asks for them)" : "");
	else if (h->t->pdpe1gb)
		pv_report_add(r, PV_OK, "hugepages-1g", "the CPU supports 1 GiB pages (pdpe1gb)");
	else
		pv_report_add(r, want ? PV_ERROR : PV_WARN, "hugepages-1g",
			      "the CPU has no pdpe1gb flag (/proc/cpuinfo): 1 GiB pages are impossible%s: use "
			      "hugepages: 2 (2 MiB pages) in the VM config instead",
			      want ? ", yet a VM config asks for hugepages: 1024" : "");
}

static long could_get(const struct pv_node *n)
{
	return (long)(n->mem_free / GIB);
}

static void check_nodes(struct hc *h, struct pv_report *r)
{
	int known = 0;

	if (!h->t->pdpe1gb)
		return;
	for (int i = 0; i < h->t->nnode; i++) {
		const struct pv_node *n = &h->t->node[i];

		if (n->hp1g_total < 0)
			continue;
		known++;
		if (n->hp1g_free + could_get(n) == 0 && n->mem_bytes >= GIB)
			pv_report_add(r, PV_WARN, "hugepages-node",
				      "node %u can give no 1 GiB page now (%ld reserved, none free, %llu MiB free "
				      "memory): reserve them at boot: add hugepagesz=1G hugepages=%u:N (N pages on node "
				      "%u) to %s, and reboot", n->os, n->hp1g_total, n->mem_free >> 20, n->os, n->os,
				      h->kwhere);
		else
			pv_report_add(r, PV_OK, "hugepages-node",
				      "node %u: %ld x 1 GiB pages reserved (%ld free); at most %ld more now from %llu MiB "
				      "free memory (fragmentation lowers it; boot-time hugepages=%u:N is certain)", n->os,
				      n->hp1g_total, n->hp1g_free, could_get(n), n->mem_free >> 20, n->os);
	}
	if (!known)
		pv_report_add(r, PV_WARN, "hugepages-node", "cannot tell what 1 GiB pages the nodes hold: no "
			      "/sys/devices/system/node/node*/hugepages/hugepages-1048576kB to read");
}

/* `check VMID` leaves this to the plan's per-node check (pv_check_vm). */
static void check_vms(struct hc *h, struct pv_report *r)
{
	long have = 0, could = 0;
	bool known = false;

	if (h->one_vm || !h->t->pdpe1gb)
		return;
	for (int i = 0; i < h->t->nnode; i++) {
		const struct pv_node *n = &h->t->node[i];

		if (n->hp1g_total < 0)
			continue;
		known = true;
		have += n->hp1g_free;
		could += could_get(n);
	}
	for (int i = 0; known && i < h->nvm; i++) {
		const struct hc_vm *v = &h->vm[i];
		long need = (v->memory_mb + 1023) / 1024;

		if (v->hugepages_kb != PV_HP_1G_KB)
			continue;
		if (have + could < need)
			pv_report_add(r, PV_ERROR, "hugepages-vm",
				      "VM %d needs %ld x 1 GiB pages (memory %ld MiB) but the host has %ld free and at "
				      "most %ld more now: reserve them at boot (hugepagesz=1G hugepages=NODE:N in %s) "
				      "or lower its memory", v->vmid, need, v->memory_mb, have, could, h->kwhere);
		else
			pv_report_add(r, PV_OK, "hugepages-vm", "VM %d needs %ld x 1 GiB pages: %ld free and up to "
				      "%ld more can be had now", v->vmid, need, have, could);
	}
}

void hc_check_memory(struct hc *h, struct pv_report *r)
{
	check_pdpe1gb(h, r);
	check_nodes(h, r);
	check_vms(h, r);
}
