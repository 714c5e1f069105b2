/* Memory: hugepage size, the nodes the VM's memory is bound to (those of
 * its vCPUs), pages per node, and the guest NUMA layout that matches. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/limits.h"
#include "pinner/plan_internal.h"

static long hugepage_kb(const struct pv_topo *t, const struct pv_policy *pol,
			const struct pv_vmconf *vc)
{
	switch (pol->hugepages) {
	case PV_HP_1G:
		return PV_HP_1G_KB;
	case PV_HP_2M:
		return PV_HP_2M_KB;
	case PV_HP_OFF:
		return 0;
	case PV_HP_AUTO:
		break;
	}
	if (vc->hugepages_kb >= 0)
		return vc->hugepages_kb;
	/* "any": PVE picks 1G when the memory is a multiple of it. */
	return t->pdpe1gb && vc->memory_mb % 1024 == 0 ? PV_HP_1G_KB : PV_HP_2M_KB;
}

/* vCPUs per host node, in node order; the weights memory is split by. */
static int node_weights(const struct pv_plan *p, const struct pv_policy *pol, int *node,
			long *w)
{
	int n = 0;

	if (pol->nodes) {
		int x;

		hwloc_bitmap_foreach_begin(x, pol->nodes) {
			if (n < PV_MAX_NODES) {
				node[n] = x;
				w[n++] = 1;
			}
		}
		hwloc_bitmap_foreach_end();
		return n;
	}
	for (int i = 0; i < p->nvcpu; i++) {
		int k;

		for (k = 0; k < n && node[k] != p->vcpus[i].node; k++)
			;
		if (k == n) {
			if (n >= PV_MAX_NODES)
				continue;
			node[n] = p->vcpus[i].node;
			w[n++] = 0;
		}
		w[k]++;
	}
	return n;
}

/* Split total into n parts proportional to w (largest remainder). */
static void split(long total, const long *w, int n, long *out)
{
	long wsum = 0, given = 0;
	double rem[PV_MAX_NODES];

	for (int i = 0; i < n; i++)
		wsum += w[i];
	for (int i = 0; i < n; i++) {
		out[i] = wsum ? total * w[i] / wsum : 0;
		rem[i] = wsum ? (double)(total * w[i] % wsum) : 0;
		given += out[i];
	}
	while (given < total && n > 0) {
		int best = 0;

		for (int i = 1; i < n; i++)
			if (rem[i] > rem[best])
				best = i;
		out[best]++;
		rem[best] = -1;
		given++;
	}
}

/* Pages planned on a node whose size nobody knows (an XML topology
 * without memory): said, not passed over. */
static void warn_node_size(const struct pv_topo *t, struct pv_plan *p, const struct pv_plan_pages *pg)
{
	const struct pv_node *n = pv_topo_node(t, (unsigned)pg->node);
	const char *size = p->hp_kb == PV_HP_1G_KB ? "1 GiB" : "2 MiB";

	if (!n)
		return;
	if (!n->mem_bytes)
		pv_plan_warn(p, "node %d: the topology gives no memory size, so whether %ld x %s pages "
			     "fit there is unknown", pg->node, pg->count, size);
}

/* The pages where the vCPUs are (the plan `plan --pve` proposes), or
 * where policy nodes say. */
static int free_memory(const struct pv_topo *t, const struct pv_policy *pol,
		       const struct pv_vmconf *vc, struct pv_plan *p, struct pv_err *e)
{
	int node[PV_MAX_NODES];
	long w[PV_MAX_NODES], cnt[PV_MAX_NODES];
	int n = node_weights(p, pol, node, w);
	long total;

	for (int i = 0; i < n; i++)
		if (node[i] >= 0)
			hwloc_bitmap_set(p->mem_nodes, (unsigned)node[i]);
	p->hp_kb = hugepage_kb(t, pol, vc);
	if (!p->hp_kb)
		return 0;
	if (p->hp_kb == PV_HP_1G_KB && !t->pdpe1gb)
		return pv_fail(e, 0, "VM %d wants 1 GiB hugepages but this CPU has no pdpe1gb flag: "
			       "use hugepages: 2 in the VM config", vc->vmid);
	if ((vc->memory_mb * 1024) % p->hp_kb)
		return pv_fail(e, 0, "VM %d: memory %ld MiB is not a multiple of the %ld MiB hugepage "
			       "size: round memory to a multiple of it", vc->vmid, vc->memory_mb,
			       p->hp_kb / 1024);
	total = vc->memory_mb * 1024 / p->hp_kb;
	split(total, w, n, cnt);
	for (int i = 0; i < n; i++) {
		int k = p->npages;

		if (!cnt[i] || node[i] < 0)
			continue;
		/* kept in ascending node order */
		while (k > 0 && p->pages[k - 1].node > node[i]) {
			p->pages[k] = p->pages[k - 1];
			k--;
		}
		p->pages[k].node = node[i];
		p->pages[k].count = cnt[i];
		p->npages++;
	}
	for (int i = 0; i < p->npages; i++)
		warn_node_size(t, p, &p->pages[i]);
	return 0;
}

/* Pages exactly where QEMU will take them: PVE's own hugepage topology
 * (Memory.pm hugepages_topology), so PVE's hugepages_allocate finds them
 * free and adds none, and none is left on a node QEMU does not use. */
static int config_memory(const struct pv_topo *t, const struct pv_policy *pol,
			 const struct pv_vmconf *vc, struct pv_plan *p, struct pv_err *e)
{
	const char *pname = pol->hugepages == PV_HP_1G ? "1G" : pol->hugepages == PV_HP_2M ? "2M" : NULL;

	for (int i = 0; i < p->cfg.ngnode; i++)
		if (p->cfg.g[i].hostnodes)
			hwloc_bitmap_or(p->mem_nodes, p->mem_nodes, p->cfg.g[i].hostnodes);
	for (int i = 0; i < p->nvcpu; i++) /* unbound memory: first touch, near the vCPUs */
		if (pv_plan_cfg_gnode_of(&p->cfg, p->vcpus[i].vcpu) < 0 ||
		    !p->cfg.g[pv_plan_cfg_gnode_of(&p->cfg, p->vcpus[i].vcpu)].hostnodes)
			if (p->vcpus[i].node >= 0)
				hwloc_bitmap_set(p->mem_nodes, (unsigned)p->vcpus[i].node);
	if (pol->nodes && p->cfg.bound && !hwloc_bitmap_isequal(pol->nodes, p->mem_nodes))
		pv_plan_warn(p, "policy nodes is ignored: the VM config binds its memory (numaN hostnodes), "
				"and QEMU follows the config");
	if (pv_plan_cfg_pages(t, vc, p, e) < 0)
		return -1;
	if (!vc->hugepages_kb && pname)
		pv_plan_warn(p, "policy hugepages = %s but the VM config has no hugepages: QEMU would not "
			     "use them, so pvepin reserves none (see `pvepin plan %d --pve`)", pname, vc->vmid);
	if (p->hp_kb && pname && p->hp_kb != (pol->hugepages == PV_HP_1G ? 1048576 : 2048))
		pv_plan_warn(p, "policy hugepages = %s but QEMU takes %s pages (the VM config's hugepages): "
			     "pvepin reserves those", pname, p->hp_kb == 1048576 ? "1 GiB" : "2 MiB");
	if (pol->hugepages == PV_HP_OFF)
		p->npages = 0; /* PVE's hugepages_allocate then allocates them itself */
	for (int i = 0; i < p->npages; i++)
		warn_node_size(t, p, &p->pages[i]);
	return pv_plan_pages_fit(p, t, pol, e);
}

int pv_plan_memory(const struct pv_topo *t, const struct pv_policy *pol,
		   const struct pv_vmconf *vc, struct pv_plan *p, struct pv_err *e)
{
	if (p->free_placement)
		return free_memory(t, pol, vc, p, e);
	return config_memory(t, pol, vc, p, e);
}

static int guest_smp(const struct pv_topo *t, struct pv_plan *p)
{
	bool pairs = p->nvcpu >= 2 && p->nvcpu % 2 == 0;

	for (int i = 0; pairs && i + 1 < p->nvcpu; i += 2)
		pairs = p->vcpus[i].core == p->vcpus[i + 1].core;
	snprintf(p->smp, sizeof(p->smp), "%d,cores=%d,threads=%d,sockets=1", p->nvcpu,
		 pairs ? p->nvcpu / 2 : p->nvcpu, pairs ? 2 : 1);
	return 0;
}

/* Where the planned pages sit exactly on the vCPUs' nodes and hold the
 * whole VM, each guest node gets its node's pages; otherwise (pages where
 * the config's binding puts them, not where the vCPUs run) the share of
 * vCPUs stands, so the guest nodes always add up to the VM's memory, as
 * PVE requires of numaN memory (Memory.pm config). */
static void pages_memory(const struct pv_plan *p, const int *node, int n, long total_mb, long *mem)
{
	long got[PV_MAX_NODES] = { 0 }, sum = 0;

	for (int i = 0; i < n; i++)
		for (int k = 0; k < p->npages; k++)
			if (node[i] >= 0 && p->pages[k].node == node[i])
				got[i] = p->pages[k].count * p->hp_kb / 1024;
	for (int i = 0; i < n; i++) {
		if (node[i] >= 0 && !got[i])
			return;
		sum += got[i];
	}
	if (sum != total_mb)
		return;
	for (int i = 0; i < n; i++)
		mem[i] = got[i];
}

/* One guest node per host node the vCPUs use, in vCPU order, with the
 * memory that node's hugepages (or share of vCPUs) give it. */
int pv_plan_guest(const struct pv_topo *t, const struct pv_vmconf *vc, struct pv_plan *p,
		  struct pv_err *e)
{
	int node[PV_MAX_NODES];
	long w[PV_MAX_NODES], mem[PV_MAX_NODES];
	struct pv_policy none = { 0 };
	int n;

	guest_smp(t, p);
	n = node_weights(p, &none, node, w);
	split(vc->memory_mb, w, n, mem);
	pages_memory(p, node, n, vc->memory_mb, mem);
	for (int i = 0; i < n; i++) {
		struct pv_plan_gnuma *g = &p->gnuma[p->ngnuma];

		if (node[i] < 0)
			continue;
		g->cpus = hwloc_bitmap_alloc();
		if (!g->cpus)
			return pv_fail(e, ENOMEM, "plan");
		p->ngnuma++;
		g->hostnode = node[i];
		g->memory_mb = mem[i];
		for (int v = 0; v < p->nvcpu; v++)
			if (p->vcpus[v].node == node[i])
				hwloc_bitmap_set(g->cpus, (unsigned)v);
	}
	if (!hwloc_bitmap_isincluded(p->mem_nodes, hwloc_topology_get_topology_nodeset(t->h)))
		pv_plan_warn(p, "policy nodes name a node this host does not have");
	return 0;
}
