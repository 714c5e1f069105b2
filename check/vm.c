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

/* Host nodes the guest node's vCPUs actually run on, under the plan. */
static void guest_node_hostnodes(const struct pv_vmctx *c, hwloc_const_bitmap_t gcpus,
				 hwloc_bitmap_t nodes, hwloc_bitmap_t pus)
{
	int v;

	hwloc_bitmap_foreach_begin(v, gcpus) {
		if (v < c->plan.nvcpu) {
			hwloc_bitmap_set(pus, c->plan.vcpus[v].pu);
			if (c->plan.vcpus[v].node >= 0)
				hwloc_bitmap_set(nodes, (unsigned)c->plan.vcpus[v].node);
		}
	}
	hwloc_bitmap_foreach_end();
}

static void check_numa_node(const struct pv_vmctx *c, int i, struct pv_report *r)
{
	const struct pv_gnuma *g = &c->vc.gnuma[i];
	hwloc_bitmap_t nodes = hwloc_bitmap_alloc(), pus = hwloc_bitmap_alloc();
	char a[256], b[256], d[256], gc[256];

	if (!nodes || !pus)
		goto out;
	guest_node_hostnodes(c, g->cpus, nodes, pus);
	if (!g->hostnodes || hwloc_bitmap_iszero(nodes))
		goto out;
	if (!hwloc_bitmap_isequal(nodes, g->hostnodes))
		pv_report_add(r, PV_ERROR, "numa-hostnodes",
			      "numa%d: guest CPUs %s run on host CPUs %s (node %s) but hostnodes=%s, so "
			      "their memory is remote: set numa%d hostnodes=%s (see `pvepin plan %d --pve`)",
			      i, cl(gc, sizeof(gc), g->cpus), cl(a, sizeof(a), pus),
			      cl(b, sizeof(b), nodes), cl(d, sizeof(d), g->hostnodes), i,
			      cl(b, sizeof(b), nodes), c->vmid);
out:
	hwloc_bitmap_free(nodes);
	hwloc_bitmap_free(pus);
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
		check_numa_node(c, i, r);
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
	char a[1024], b[1024];
	int span;

	if (!c->vc.affinity)
		return;
	if (!hwloc_bitmap_isincluded(c->plan.vcpu_cpus, c->vc.affinity))
		pv_report_add(r, PV_WARN, "affinity",
			      "affinity %s does not cover the planned vCPU CPUs %s: set affinity %s",
			      cl(a, sizeof(a), c->vc.affinity), cl(b, sizeof(b), c->plan.vcpu_cpus),
			      cl(b, sizeof(b), c->plan.vm_cpus));
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

static void check_smp(const struct pv_vmctx *c, struct pv_report *r)
{
	const struct pv_smp *s = &c->vc.smp;
	int threads = strstr(c->plan.smp, "threads=2") ? 2 : 1;

	if (s->present && s->threads && s->threads != threads)
		pv_report_add(r, PV_WARN, "smp-threads",
			      "-smp says threads=%d but the plan gives the guest threads=%d: use -smp '%s'",
			      s->threads, threads, c->plan.smp);
}

void pv_check_vm(const struct pv_vmctx *c, struct pv_report *r)
{
	int before = r->nerr + r->nwarn;

	check_iommu(c, r);
	check_numa(c, r);
	check_affinity(c, r);
	check_hugepages(c, r);
	check_smp(c, r);
	pv_check_vm_memory(c->vmid, r);
	for (int i = 0; i < c->plan.nwarn; i++)
		pv_report_add(r, PV_WARN, "plan", "%s", c->plan.warn[i]);
	if (r->nerr + r->nwarn == before)
		pv_report_add(r, PV_OK, "vm-config", "VM %d config and policy match the plan", c->vmid);
}
