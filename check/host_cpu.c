/* CPU side of the host: NUMA layout against the L3 domains (NPS on AMD
 * multi-CCD parts), and irqbalance, which pvepin has to talk to. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "common/fsio.h"
#include "engine/irqbalance.h"
#include "check/host_int.h"

static int node_l3s(const struct pv_topo *t, const struct pv_node *n)
{
	int count = 0;

	for (int i = 0; i < t->nl3; i++)
		count += hwloc_bitmap_intersects(t->l3[i].cpuset, n->cpuset);
	return count;
}

static bool has_nps(const char *model)
{
	return strstr(model, "EPYC") || strstr(model, "Threadripper");
}

static void nps_warn(const struct hc *h, const struct pv_node *n, int nl3, struct pv_report *r)
{
	int npkg = hwloc_get_nbobjs_by_type(h->t->h, HWLOC_OBJ_PACKAGE);
	int per_pkg = npkg > 0 && h->t->nnode >= npkg ? h->t->nnode / npkg : 1;

	if (per_pkg < 4)
		pv_report_add(r, PV_WARN, "numa-nps",
			      "node %u has %d L3 domains (CCDs): its memory is interleaved over all of them (NPS%d), "
			      "so a VM on one CCD still reads far memory. Set NPS4 in the firmware (AMD CBS > DF Common "
			      "Options > Memory Addressing > NUMA nodes per socket; NPS2 halves it): then a node has "
			      "about %d L3 and its own memory channels, and pvepin puts a VM's memory beside its CCDs",
			      n->os, nl3, per_pkg, (nl3 * per_pkg + 3) / 4);
	else
		pv_report_add(r, PV_WARN, "numa-nps",
			      "node %u has %d L3 domains (CCDs) even at NPS%d: enable \"ACPI SRAT L3 Cache as NUMA "
			      "Domain\" in the firmware (AMD CBS > DF Common Options) to give each L3 its own node, "
			      "so pvepin can put a VM's memory beside its CCD", n->os, nl3, per_pkg);
}

static bool l3_known(const struct pv_topo *t)
{
	for (int i = 0; i < t->nl3; i++)
		if (t->l3[i].size)
			return true;
	return false;
}

static void check_nps(struct hc *h, struct pv_report *r)
{
	const struct pv_topo *t = h->t;
	int warned = 0;

	/* no L3 cache in the topology: pvepin made up one domain per node */
	if (!l3_known(t)) {
		pv_report_add(r, PV_WARN, "numa-nps", "cannot tell how the L3 caches sit in the NUMA nodes: "
			      "the topology has no L3 cache (no cpu*/cache/index3 in sysfs)");
		return;
	}

	for (int i = 0; i < t->nnode; i++) {
		int nl3 = node_l3s(t, &t->node[i]);

		if (nl3 <= 1)
			continue;
		if (!strstr(t->cpu_model, "AMD") && t->cpu_model[0]) {
			pv_report_add(r, PV_WARN, "numa-nps",
				      "node %u has %d L3 domains: a VM's memory cannot follow its L3; if the firmware "
				      "offers sub-NUMA clustering (SNC), enable it to give each L3 its own node",
				      t->node[i].os, nl3);
			warned++;
			continue;
		}
		if (strstr(t->cpu_model, "Ryzen") && !has_nps(t->cpu_model)) {
			pv_report_add(r, PV_OK, "numa-nps", "node %u has %d L3 domains; %s has no NPS setting: pvepin "
				      "keeps a gaming VM inside one L3 (policy max_l3)", t->node[i].os, nl3, t->cpu_model);
			return;
		}
		nps_warn(h, &t->node[i], nl3, r);
		warned++;
	}
	if (!warned)
		pv_report_add(r, PV_OK, "numa-nps", "each of the %d NUMA node(s) has at most one L3 domain (%d in "
			      "all): a VM's memory can stay beside its CCD", t->nnode, t->nl3);
}

/* Whether <root>/proc lists any process: a captured tree without them
 * cannot say irqbalance is not running. */
static bool any_process(void)
{
	char p[PV_PATH_MAX];
	struct pv_err e;
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (pv_path(p, sizeof(p), &e, "/proc") < 0 || !(d = opendir(p)))
		return false;
	while (!found && (de = readdir(d)))
		found = de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
			strspn(de->d_name, "0123456789") == strlen(de->d_name);
	closedir(d);
	return found;
}

static void check_irqbalance(struct pv_report *r)
{
	struct pv_irqb ib;
	struct pv_err e = { 0 };
	pid_t named;

	if (!any_process()) {
		pv_report_add(r, PV_WARN, "irqbalance", "cannot tell whether irqbalance runs: no processes "
			      "under /proc to look at");
	} else if (pv_irqb_find(&ib, &e) < 0) {
		pv_report_add(r, PV_WARN, "irqbalance", "cannot tell whether irqbalance runs: %s", e.msg);
	} else if (!ib.running && (named = pv_irqb_named_process()) > 0) {
		pv_report_add(r, PV_WARN, "irqbalance",
			      "a process named irqbalance runs (pid %d) but no root-owned socket in "
			      "/run/irqbalance or on its abstract address answers here: under the unit's "
			      "PrivateNetwork=yes the fallback is out of reach, and irqbalance then moves the "
			      "VM's IRQs back every 10 s: `systemctl edit irqbalance`, add [Service] "
			      "RuntimeDirectory=irqbalance, `systemctl restart irqbalance`", (int)named);
	} else if (!ib.running) {
		pv_report_add(r, PV_OK, "irqbalance", "irqbalance is not running: the IRQ affinities pvepin sets "
			      "stay as set");
	} else if (!ib.abstract) {
		pv_report_add(r, PV_OK, "irqbalance", "irqbalance runs (pid %d): while a VM runs pvepin keeps it off "
			      "the VM's CPUs through /run/irqbalance/irqbalance%d.sock (`settings cpus`), and hands "
			      "them back when the VM stops", (int)ib.pid, (int)ib.pid);
	} else {
		pv_report_add(r, PV_WARN, "irqbalance",
			      "irqbalance runs (pid %d) with no socket in /run/irqbalance: its abstract fallback is "
			      "out of reach under the unit's PrivateNetwork=yes, and it then moves the VM's IRQs back "
			      "every 10 s: `systemctl edit irqbalance`, add [Service] RuntimeDirectory=irqbalance, "
			      "`systemctl restart irqbalance`", (int)ib.pid);
	}
}

void hc_check_cpu(struct hc *h, struct pv_report *r)
{
	check_nps(h, r);
	check_irqbalance(r);
}
