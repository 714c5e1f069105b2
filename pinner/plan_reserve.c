/* What the host keeps (issue 15): a reserve of whole cores, and memory
 * beside the hugepages a VM asks for, each checked before anything is
 * written. */
#include <stdio.h>
#include <string.h>

#include "common/opts.h"
#include "pinner/plan_internal.h"

/* Whole cores the host keeps: every CPU of the core in `host`. */
static int host_cores(const struct pv_topo *t, hwloc_const_bitmap_t host)
{
	int total = 0;

	for (int ci = 0; ci < t->ncore; ci++) {
		const struct pv_core *co = &t->core[ci];
		bool whole = true;

		for (int k = 0; k < co->npu; k++)
			whole &= hwloc_bitmap_isset(host, co->pu[k]);
		total += whole;
	}
	return total;
}

int pv_plan_reserve_want(const struct pv_topo *t, const struct pv_policy *pol)
{
	int want = pol->reserve_cores, node_cpus = 0;

	for (int i = 0; i < t->nnode; i++)
		node_cpus += !hwloc_bitmap_iszero(t->node[i].cpuset);
	if (want < 0) {
		want = node_cpus > 2 ? node_cpus : 2;
		if (want > t->ncore / 4)
			want = t->ncore / 4 > 1 ? t->ncore / 4 : 1; /* a small host: a quarter */
	}
	if (want > t->ncore - 1)
		want = t->ncore - 1;
	return want > 0 ? want : 0;
}

/* Issue 15: a VM that leaves the host too little (corosync starved gets the
 * node fenced) is refused. auto: as many cores as the host has NUMA nodes
 * with CPUs, at least 2, at most a quarter of its cores (at least 1). Not
 * one core on every node: a gaming VM may rightly take a whole NPS4 node. */
int pv_plan_host_reserve(struct pv_plan *p, const struct pv_topo *t, const struct pv_policy *pol,
			struct pv_err *e)
{
	int total, want = pv_plan_reserve_want(t, pol);
	char fixes[300];

	p->reserve_cores = want;
	if (want <= 0)
		return 0;
	total = host_cores(t, p->host_cpus);
	if (total >= want)
		return 0;
	pv_plan_fixes(fixes, sizeof(fixes), p, t, "", PV_FIX_FEWER | PV_FIX_RESERVE);
	return pv_fail(e, 0, "VM %d would leave the host %d core%s, below its reserve of %d "
		       "([host] reserve_cores%s): %s", p->vmid, total, total == 1 ? "" : "s", want,
		       pol->reserve_cores < 0 ? " = auto: one per NUMA node with CPUs, at least 2, at most a quarter of the cores" : "",
		       fixes[0] ? fixes : "give the VM fewer vCPUs");
}


/* MiB of a node's memory hugepages must leave to the host. auto: 1 GiB or
 * 2% of the node, whichever is more. */
static long reserve_mib(const struct pv_policy *pol, const struct pv_node *n)
{
	long two_pct = (long)(n->mem_bytes >> 20) / 50;

	if (pol->reserve_mib >= 0)
		return pol->reserve_mib;
	return two_pct > 1024 ? two_pct : 1024;
}

/* Issue 15: compared before any write with what the node can give: its
 * free pages of that size, plus free memory less the host's reserve. */
int pv_plan_pages_fit(struct pv_plan *p, const struct pv_topo *t, const struct pv_policy *pol,
		      struct pv_err *e)
{
	long page_mib = p->hp_kb / 1024;

	for (int i = 0; i < p->npages && page_mib > 0; i++) {
		const struct pv_node *n = pv_topo_node(t, (unsigned)p->pages[i].node);
		bool live = n && n->hp1g_total >= 0 && n->mem_free > 0;
		long have = 0, spare, could, keep;

		if (!n)
			continue;
		keep = reserve_mib(pol, n);
		/* An XML topology is another host's, or an old capture of this
		 * one: only live counts bound what pre-start may write; against
		 * a node's whole memory the plan is warned. */
		if (!live) {
			long all = (long)(n->mem_bytes >> 20) - keep;

			/* under --root the tree stands in for the host and
			 * its own counters decide: warned only in a preview */
			if ((!pv_opt.root || !pv_opt.root[0]) && n->mem_bytes && p->pages[i].count * page_mib > all)
				pv_plan_warn(p, "node %d: %ld x %s pages do not fit in its %llu MiB (less "
					     "%ld MiB [memory] reserve): on that host pre-start would refuse",
					     p->pages[i].node, p->pages[i].count,
					     page_mib == 1024 ? "1 GiB" : "2 MiB",
					     (unsigned long long)(n->mem_bytes >> 20), keep);
			continue;
		}
		have = p->hp_kb == 1048576 ? n->hp1g_free : n->hp2m_free;
		spare = (long)(n->mem_free >> 20) - keep;
		could = have + (spare > 0 ? spare / page_mib : 0);
		if (p->pages[i].count <= could)
			continue;
		return pv_fail(e, 0, "VM %d wants %ld %s hugepages on node %d, which can give %ld "
			       "(%ld free, %llu MiB free memory, %ld MiB kept for the host by [memory] reserve): "
			       "lower the VM's memory, or reserve the pages at boot (hugepagesz=%s hugepages=%d:%ld)",
			       p->vmid, p->pages[i].count, page_mib == 1024 ? "1 GiB" : "2 MiB",
			       p->pages[i].node, could, have,
			       n->mem_free >> 20, keep,
			       page_mib == 1024 ? "1G" : "2M", p->pages[i].node, p->pages[i].count);
	}
	return 0;
}
