/* Lint a VM config against the host and pvepin's plan: the mistakes the
 * seed guide itself makes (numaN hostnodes that do not hold the CPUs the
 * guest node runs on), memory that does not add up, affinity that does not
 * match, hugepages that cannot be had, partial IOMMU groups, IOMMU off. */
#include "check/vm.h"

#include <stdio.h>
#include <string.h>

#include "check/memory_maps.h"
#include "common/limits.h"
#include "conf/cpulist.h"

static const char *cl(char *b, size_t n, hwloc_const_bitmap_t s)
{
	if (pv_cpulist_format(b, n, s) < 0 || !b[0])
		snprintf(b, n, "none");
	return b;
}

static void check_iommu(const struct pv_vmctx *c, struct pv_report *r)
{
	if (c->topo.niommu_groups == 0 && c->plan.ndev)
		pv_report_add(r, PV_ERROR, "iommu",
			      "IOMMU is off (no /sys/kernel/iommu_groups): enable AMD-Vi / VT-d in the "
			      "firmware and add iommu=pt (and intel_iommu=on on Intel) to the kernel command line");
	for (int i = 0; i < c->plan.nrefuse; i++)
		pv_report_add(r, PV_ERROR, "iommu-group", "%s", c->plan.refuse[i]);
}

static void check_numa(const struct pv_vmctx *c, struct pv_report *r)
{
	long sum = 0;
	int n = 0;

	for (int i = 0; i < PV_MAX_GNUMA; i++) {
		if (!c->vc.gnuma[i].present)
			continue;
		n++;
		sum += c->vc.gnuma[i].memory_mb;
	}
	if (n && sum != c->vc.memory_mb)
		pv_report_add(r, PV_ERROR, "numa-memory",
			      "numaN memory adds up to %ld MiB but memory is %ld MiB: make them equal",
			      sum, c->vc.memory_mb);
	if (n && !c->vc.numa)
		pv_report_add(r, PV_WARN, "numa-off", "numaN lines are set but numa: 1 is not: QEMU ignores them");
	if (!n && c->plan.ngnuma > 1)
		pv_report_add(r, PV_WARN, "numa-missing",
			      "the vCPUs span %d host nodes but the guest has no NUMA layout: add the numaN "
			      "lines of `pvepin plan %d --pve`", c->plan.ngnuma, c->vmid);
}

static int l3_span(const struct pv_topo *t, hwloc_const_bitmap_t set)
{
	int n = 0;

	for (int i = 0; i < t->nl3; i++)
		n += hwloc_bitmap_intersects(t->l3[i].cpuset, set);
	return n;
}

static void check_affinity(const struct pv_vmctx *c, struct pv_report *r)
{
	char a[1024];
	int span;

	if (!c->vc.affinity)
		return;
	span = l3_span(&c->topo, c->vc.affinity);
	if (c->plan.mode == PV_MODE_GAMING && span > c->pol.max_l3)
		pv_report_add(r, PV_WARN, "affinity-l3",
			      "affinity %s spans %d L3 domains; gaming mode wants at most %d",
			      cl(a, sizeof(a), c->vc.affinity), span, c->pol.max_l3);
}

static void check_hugepages(const struct pv_vmctx *c, struct pv_report *r)
{
	const struct pv_plan *p = &c->plan;

	for (int i = 0; i < p->npages && p->hp_kb; i++) {
		const struct pv_node *n = pv_topo_node(&c->topo, (unsigned)p->pages[i].node);
		long have, could;

		if (!n || n->hp1g_total < 0)
			continue; /* no sysfs for this host: cannot tell */
		have = p->hp_kb == PV_HP_1G_KB ? n->hp1g_free : n->hp2m_free;
		could = have + (long)(n->mem_free / ((unsigned long long)p->hp_kb * 1024));
		if (could < p->pages[i].count)
			pv_report_add(r, PV_ERROR, "hugepages",
				      "node %d needs %ld %s pages but at most %ld can be had now (%ld free, %llu MiB "
				      "free memory): reserve them at boot (hugepagesz=1G hugepages=%d:%ld) or lower memory",
				      p->pages[i].node, p->pages[i].count, p->hp_kb == PV_HP_1G_KB ? "1G" : "2M",
				      could, have, n->mem_free >> 20, p->pages[i].node, p->pages[i].count);
	}
}

/* Exactly what `plan --pve` proposes (issue 16: check never says ok while
 * plan --pve has changes for the same VM). */
static void check_pve_diff(const struct pv_vmctx *c, struct pv_report *r)
{
	struct pv_pve_diff d[PV_MAX_PVE_DIFF];
	int n = pv_plan_pve_diff(&c->plan, &c->vc, d, PV_MAX_PVE_DIFF);

	for (int i = 0; i < n; i++)
		pv_report_add(r, d[i].error ? PV_ERROR : PV_WARN, d[i].tag, "%s (`pvepin plan %d --pve`: %s)",
			      d[i].why, c->vmid, d[i].line);
}

void pv_check_vm(const struct pv_vmctx *c, struct pv_report *r)
{
	int before = r->nerr + r->nwarn;

	check_iommu(c, r);
	check_numa(c, r);
	check_pve_diff(c, r);
	check_affinity(c, r);
	check_hugepages(c, r);
	pv_check_vm_memory(c->vmid, r);
	for (int i = 0; i < c->plan.nwarn; i++)
		pv_report_add(r, PV_WARN, "plan", "%s", c->plan.warn[i]);
	if (r->nerr + r->nwarn == before)
		pv_report_add(r, PV_OK, "vm-config", "VM %d config and policy match the plan", c->vmid);
}
