/* The VM config as PVE applies it: which guest NUMA nodes QEMU gets, the
 * host nodes their memory is bound to, and the hugepages PVE itself will
 * want on each host node. Each rule follows the qemu-server function named
 * beside it (src/PVE/QemuServer/Memory.pm), and refuses with PVE's words
 * what PVE would refuse at start. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "conf/cpulist.h"
#include "pinner/plan_internal.h"

#define STATICMEM 1024 /* Memory.pm $STATICMEM */

static const char *nodes_str(char *b, size_t n, hwloc_const_bitmap_t s)
{
	if (pv_cpulist_format(b, n, s) < 0)
		snprintf(b, n, "?");
	return b;
}

/* Memory.pm print_numa_hostnodes: every host node named must exist. */
static int hostnodes_exist(const struct pv_topo *t, hwloc_const_bitmap_t s, struct pv_err *e)
{
	int n;

	hwloc_bitmap_foreach_begin(n, s) {
		if (!pv_topo_node(t, (unsigned)n))
			return pv_fail(e, 0, "host NUMA node%d doesn't exist (this host has %d)", n,
				       t->nnode);
	}
	hwloc_bitmap_foreach_end();
	return 0;
}

static int gnode_custom(const struct pv_topo *t, const struct pv_vmconf *vc, int i, int nvcpu,
			struct pv_cfg_gnode *g, struct pv_err *e)
{
	const struct pv_gnuma *n = &vc->gnuma[i];
	char b[256];
	int last = hwloc_bitmap_last(n->cpus);

	/* Memory.pm config */
	if (!n->memory_mb)
		return pv_fail(e, 0, "missing NUMA node%d memory value", i);
	if (last >= nvcpu)
		return pv_fail(e, 0, "numa%d: cpus=%s names vCPU %d but the VM has %d vCPUs (0-%d)", i,
			       nodes_str(b, sizeof(b), n->cpus), last, nvcpu, nvcpu - 1);
	if (n->hostnodes && hostnodes_exist(t, n->hostnodes, e) < 0)
		return pv_wrap(e, "numa%d", i);
	if (n->hostnodes && !n->policy[0])
		return pv_fail(e, 0, "you need to define a policy for hostnode %s (numa%d: add policy=bind)",
			       nodes_str(b, sizeof(b), n->hostnodes), i);
	if (!n->hostnodes && vc->hugepages_kb)
		return pv_fail(e, 0, "numa hostnodes need to be defined to use hugepages (numa%d)", i);
	g->cpus = hwloc_bitmap_dup(n->cpus);
	g->hostnodes = n->hostnodes ? hwloc_bitmap_dup(n->hostnodes) : NULL;
	if (!g->cpus || (n->hostnodes && !g->hostnodes))
		return pv_fail(e, ENOMEM, "plan");
	snprintf(g->policy, sizeof(g->policy), "%s", n->policy);
	g->memory_mb = n->memory_mb;
	return 0;
}

static int read_custom(const struct pv_topo *t, const struct pv_vmconf *vc, struct pv_plan_cfg *c,
		       struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t seen = hwloc_bitmap_alloc();
	long sum = 0;

	if (!seen)
		return pv_fail(e, ENOMEM, "plan");
	if (vc->hotplug_memory)
		return pv_fail(e, 0, "cannot enable memory hotplugging with custom NUMA topology");
	for (int i = 0; i < PV_MAX_GNUMA; i++) {
		struct pv_cfg_gnode *g = &c->g[c->ngnode];

		if (!vc->gnuma[i].present)
			continue;
		if (hwloc_bitmap_intersects(seen, vc->gnuma[i].cpus))
			return pv_fail(e, 0, "numa%d: a vCPU of it is in another numaN too (QEMU refuses it)", i);
		hwloc_bitmap_or(seen, seen, vc->gnuma[i].cpus);
		c->ngnode++;
		if (gnode_custom(t, vc, i, c->vcpus, g, e) < 0)
			return -1;
		sum += g->memory_mb;
		c->bound |= g->hostnodes != NULL;
	}
	if (sum != c->memory_mb)
		return pv_fail(e, 0, "total memory for NUMA nodes must be equal to vm static memory "
			       "(numaN memory adds up to %ld MiB, memory is %ld MiB)", sum, c->memory_mb);
	return 0;
}

/* Memory.pm config / hugepages_topology without numaN lines: guest socket i
 * gets cores*i.. and memory/sockets; with hugepages its pages are taken on
 * host node i (get_numa_guest_to_host_map), so that is where they bind. */
static int read_sockets(const struct pv_topo *t, const struct pv_vmconf *vc, long static_mb,
			struct pv_plan_cfg *c, struct pv_err *e)
{
	if (c->sockets > PV_MAX_NODES)
		return pv_fail(e, 0, "sockets: %d with numa: 1 makes more guest NUMA nodes than pvepin plans (%d)",
			       c->sockets, PV_MAX_NODES);
	for (int i = 0; i < c->sockets; i++) {
		struct pv_cfg_gnode *g = &c->g[c->ngnode++];

		if (vc->hugepages_kb && !pv_topo_node(t, (unsigned)i))
			return pv_fail(e, 0, "host NUMA node%d doesn't exist (numa: 1 with sockets: %d and "
				       "hugepages puts guest socket %d's pages on host node %d)",
				       i, c->sockets, i, i);
		g->cpus = hwloc_bitmap_alloc();
		if (!g->cpus)
			return pv_fail(e, ENOMEM, "plan");
		hwloc_bitmap_set_range(g->cpus, (unsigned)(c->cores * i), c->cores * (i + 1) - 1);
		g->memory_mb = static_mb / c->sockets;
		g->from_socket = true;
		if (static_mb % c->sockets && vc->hugepages_kb)
			return pv_fail(e, 0, "memory size '%.2f' is not a positive even integer; cannot use for hugepages "
				       "(memory %ld MiB over %d sockets)", (double)static_mb / c->sockets,
				       static_mb, c->sockets);
		if (!vc->hugepages_kb)
			continue;
		g->hostnodes = hwloc_bitmap_alloc();
		if (!g->hostnodes)
			return pv_fail(e, ENOMEM, "plan");
		hwloc_bitmap_set(g->hostnodes, (unsigned)i);
		c->bound = true;
	}
	return 0;
}

int pv_plan_cfg_read(const struct pv_topo *t, const struct pv_vmconf *vc, int nvcpu,
		     struct pv_plan *p, struct pv_err *e)
{
	struct pv_plan_cfg *c = &p->cfg;
	long static_mb = vc->memory_mb;
	bool custom = false;

	c->cores = vc->cores;
	c->sockets = vc->sockets;
	c->vcpus = nvcpu;
	c->memory_mb = vc->memory_mb;
	c->numa = vc->numa;
	c->template = vc->template;
	c->kvm = vc->kvm;
	c->hotplug_memory = vc->hotplug_memory;
	c->hugepages_kb = vc->hugepages_kb;
	/* QemuServer.pm config_to_command: a template starts minimized, for
	 * backup only: no NUMA, no hugepages, no hostpci. */
	if (vc->template)
		return 0;
	if (vc->hugepages_kb && !vc->numa)
		return pv_fail(e, 0, "numa needs to be enabled to use hugepages (set numa: 1)");
	if (!vc->numa)
		return 0;
	if (vc->hotplug_memory) { /* Memory.pm config: the rest are DIMMs */
		static_mb = STATICMEM;
		if (vc->hugepages_kb == 1048576)
			static_mb *= vc->sockets;
	}
	for (int i = 0; i < PV_MAX_GNUMA; i++)
		custom |= vc->gnuma[i].present;
	if (custom)
		return read_custom(t, vc, c, e);
	return read_sockets(t, vc, static_mb, c, e);
}

void pv_plan_cfg_free(struct pv_plan_cfg *c)
{
	for (int i = 0; i < c->ngnode; i++) {
		hwloc_bitmap_free(c->g[i].cpus);
		hwloc_bitmap_free(c->g[i].hostnodes);
	}
	c->ngnode = 0;
}

/* Memory.pm hugepages_size: the page size for one guest node's memory. */
static long hugepages_size(const struct pv_topo *t, const struct pv_vmconf *vc, long mb,
			   struct pv_err *e)
{
	if (mb <= 0 || mb & 1)
		return pv_fail(e, 0, "memory size '%ld' is not a positive even integer; cannot use for hugepages",
			       mb);
	if (vc->hugepages_kb < 0)
		return t->pdpe1gb && (mb & 1023) == 0 ? 1048576 : 2048;
	if (vc->hugepages_kb == 1048576 && !t->pdpe1gb)
		return pv_fail(e, 0, "your system doesn't support hugepages of 1024 MB (no pdpe1gb): "
			       "use hugepages: 2");
	if ((mb * 1024) % vc->hugepages_kb)
		return pv_fail(e, 0, "Memory size %ld is not a multiple of the requested hugepages size %ld",
			       mb, (long)vc->hugepages_kb / 1024);
	return vc->hugepages_kb;
}

static void add_pages(struct pv_plan *p, int node, long count)
{
	int k;

	for (k = 0; k < p->npages && p->pages[k].node != node; k++)
		;
	if (k < p->npages) {
		p->pages[k].count += count;
		return;
	}
	/* kept in ascending node order */
	while (k > 0 && p->pages[k - 1].node > node) {
		p->pages[k] = p->pages[k - 1];
		k--;
	}
	p->pages[k].node = node;
	p->pages[k].count = count;
	p->npages++;
}

/* Memory.pm hugepages_topology: pages per host node, as hugepages_allocate
 * will want them free there. pvepin reserves exactly these, so PVE finds
 * them free and allocates none itself. */
int pv_plan_cfg_pages(const struct pv_topo *t, const struct pv_vmconf *vc, struct pv_plan *p,
		      struct pv_err *e)
{
	const struct pv_plan_cfg *c = &p->cfg;
	char b[256];

	p->hp_kb = 0;
	p->npages = 0;
	if (!vc->hugepages_kb || c->template)
		return 0;
	if (c->hotplug_memory)
		return pv_fail(e, 0, "VM %d: hugepages with memory hotplug (hotplug: memory): PVE adds its "
			       "DIMMs' pages at runtime, which pvepin does not plan; turn memory hotplug off "
			       "or set [memory] hugepages = off in the policy", p->vmid);
	for (int i = 0; i < c->ngnode; i++) {
		const struct pv_cfg_gnode *g = &c->g[i];
		long kb = hugepages_size(t, vc, g->memory_mb, e);

		if (kb < 0)
			return pv_wrap(e, "VM %d guest NUMA node %d", p->vmid, i);
		if (hwloc_bitmap_weight(g->hostnodes) != 1)
			return pv_fail(e, 0, "more than 1 hostnode value in numa node is not supported when "
				       "hugepages are enabled (guest node %d: hostnodes=%s)", i,
				       nodes_str(b, sizeof(b), g->hostnodes));
		if (p->hp_kb && p->hp_kb != kb)
			return pv_fail(e, 0, "VM %d: hugepages: any gives its guest nodes different page sizes "
				       "(1 GiB and 2 MiB); pvepin plans one: set hugepages: 2 or 1024", p->vmid);
		p->hp_kb = kb;
		add_pages(p, hwloc_bitmap_first(g->hostnodes), g->memory_mb * 1024 / kb);
	}
	return 0;
}

/* The guest node a vCPU belongs to, -1 if none. */
int pv_plan_cfg_gnode_of(const struct pv_plan_cfg *c, int vcpu)
{
	for (int i = 0; i < c->ngnode; i++)
		if (hwloc_bitmap_isset(c->g[i].cpus, (unsigned)vcpu))
			return i;
	return -1;
}
