/* `plan` for people, and `plan --pve`: the qm set lines that match. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/opts.h"
#include "conf/cpulist.h"
#include "common/limits.h"
#include "pinner/plan.h"

static const char *cpus(char *buf, size_t n, hwloc_const_bitmap_t set)
{
	if (pv_cpulist_format(buf, n, set) < 0 || !buf[0])
		snprintf(buf, n, "(none)");
	return buf;
}

/* vCPUs grouped by L3 domain: "L3 #1 (32 MiB, node 3): vCPU 8-15 -> CPU 8-15". */
static void print_l3_groups(FILE *f, const struct pv_plan *p, const struct pv_topo *t)
{
	for (int i = 0; i < p->nvcpu;) {
		int l3 = p->vcpus[i].l3, j = i;
		hwloc_bitmap_t pus = hwloc_bitmap_alloc();
		char b[1024];

		if (!pus)
			return;
		while (j < p->nvcpu && p->vcpus[j].l3 == l3)
			hwloc_bitmap_set(pus, p->vcpus[j++].pu);
		fprintf(f, "  L3 #%d (%llu MiB, node %d): vCPU %d", l3,
			l3 >= 0 ? t->l3[l3].size >> 20 : 0, p->vcpus[i].node, i);
		if (j - 1 > i)
			fprintf(f, "-%d", j - 1);
		fprintf(f, " -> CPU %s\n", cpus(b, sizeof(b), pus));
		hwloc_bitmap_free(pus);
		i = j;
	}
}

void pv_plan_print(FILE *f, const struct pv_plan *p, const struct pv_topo *t)
{
	char b[PV_MAX_CPUS * 2];

	fprintf(f, "VM %d: %s mode, %d vCPU%s", p->vmid, pv_mode_name(p->mode), p->nvcpu,
		p->nvcpu == 1 ? "" : "s");
	if (p->placed_why[0])
		fprintf(f, ", %s", p->placed_why);
	fputc('\n', f);
	print_l3_groups(f, p, t);
	fprintf(f, "  vCPU -> CPU:");
	for (int i = 0; i < p->nvcpu; i++)
		fprintf(f, " %d:%u", p->vcpus[i].vcpu, p->vcpus[i].pu);
	fprintf(f, "\n  emulator/IO threads: %s\n", cpus(b, sizeof(b), p->emulator));
	fprintf(f, "  device IRQs: %s\n", cpus(b, sizeof(b), p->irq_cpus));
	fprintf(f, "  host housekeeping: %s\n", cpus(b, sizeof(b), p->host_cpus));
	if (p->hp_kb && !p->npages) {
		/* policy hugepages = off: PVE's hugepages_allocate takes them */
		fprintf(f, "  memory: %s hugepages by the VM config, allocated by PVE (pvepin reserves none), node%s %s\n",
			p->hp_kb == PV_HP_1G_KB ? "1 GiB" : "2 MiB",
			hwloc_bitmap_weight(p->mem_nodes) == 1 ? "" : "s", cpus(b, sizeof(b), p->mem_nodes));
	} else if (p->hp_kb) {
		long total = 0;

		for (int i = 0; i < p->npages; i++)
			total += p->pages[i].count;
		fprintf(f, "  memory: %ld x %s hugepages:", total, p->hp_kb == PV_HP_1G_KB ? "1 GiB" : "2 MiB");
		for (int i = 0; i < p->npages; i++)
			fprintf(f, " node %d: %ld%s", p->pages[i].node, p->pages[i].count,
				i + 1 < p->npages ? "," : "");
		fputc('\n', f);
	} else {
		fprintf(f, "  memory: no hugepages, node%s %s\n",
			hwloc_bitmap_weight(p->mem_nodes) == 1 ? "" : "s", cpus(b, sizeof(b), p->mem_nodes));
	}
	if (p->ndev)
		fprintf(f, "  devices -> vfio-pci:\n");
	for (int i = 0; i < p->ndev; i++) {
		fprintf(f, "    %s  ", p->dev[i].bdf);
		/* an XML topology carries no IOMMU groups or drivers: say so, not -1 */
		if (!t->sysfs)
			fprintf(f, "%s", pv_opt.topology ? "from an XML topology: no IOMMU facts"
							 : "no IOMMU facts (no /sys/bus/pci to read)");
		else
			fprintf(f, "IOMMU group %d  driver %s", p->dev[i].group,
				p->dev[i].driver[0] ? p->dev[i].driver : "(none)");
		fprintf(f, "%s\n", p->dev[i].listed ? "" : "  (same IOMMU group, not in the VM config)");
	}
	fprintf(f, "  guest: -smp %s\n", p->smp);
	for (int i = 0; i < p->nwarn; i++)
		fprintf(f, "  warning: %s\n", p->warn[i]);
	for (int i = 0; i < p->nrefuse; i++)
		fprintf(f, "  REFUSE: %s\n", p->refuse[i]);
}

/* Cut, never overflowing: these lines hold cpu lists of any length. */
static void __attribute__((format(printf, 3, 4))) put(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

static bool gnuma_matches(const struct pv_plan *p, const struct pv_vmconf *vc)
{
	int n = 0;

	for (int i = 0; i < PV_MAX_GNUMA; i++)
		n += vc->gnuma[i].present;
	if (!vc->numa || n != p->ngnuma)
		return false;
	for (int i = 0; i < p->ngnuma; i++) {
		const struct pv_gnuma *g = &vc->gnuma[i];

		if (!g->present || !hwloc_bitmap_isequal(g->cpus, p->gnuma[i].cpus) || !g->hostnodes ||
		    hwloc_bitmap_weight(g->hostnodes) != 1 ||
		    hwloc_bitmap_first(g->hostnodes) != p->gnuma[i].hostnode ||
		    g->memory_mb != p->gnuma[i].memory_mb || strcmp(g->policy, "bind"))
			return false;
	}
	return true;
}

/* numa0 hostnodes that are not where its vCPUs run: name the first. */
static void hostnodes_why(const struct pv_plan *p, const struct pv_vmconf *vc, struct pv_pve_diff *d)
{
	char a[256], b[256];

	for (int i = 0; i < p->ngnuma && i < PV_MAX_GNUMA; i++) {
		const struct pv_gnuma *g = &vc->gnuma[i];

		if (!g->present || !g->hostnodes || !hwloc_bitmap_isequal(g->cpus, p->gnuma[i].cpus) ||
		    (hwloc_bitmap_weight(g->hostnodes) == 1 &&
		     hwloc_bitmap_first(g->hostnodes) == p->gnuma[i].hostnode))
			continue;
		put(d->tag, sizeof(d->tag), "numa-hostnodes");
		d->error = true;
		put(d->why, sizeof(d->why), "numa%d: hostnodes=%s binds the memory of guest CPUs %s there, "
			 "but they would best run on host node %d%s%s%s: set numa%d hostnodes=%d",
			 i, cpus(b, sizeof(b), g->hostnodes), cpus(a, sizeof(a), g->cpus), p->gnuma[i].hostnode,
			 p->placed_why[0] ? " (" : "", p->placed_why, p->placed_why[0] ? ")" : "",
			 i, p->gnuma[i].hostnode);
		return;
	}
}

static void numa_line(const struct pv_plan *p, struct pv_pve_diff *d)
{
	char b[PV_MAX_CPUS * 2];
	int n = snprintf(d->line, sizeof(d->line), "qm set %d --numa 1", p->vmid);

	for (int i = 0; i < p->ngnuma && n < (int)sizeof(d->line); i++) {
		/* PVE separates ranges inside numaN cpus with ';', which the
		 * shell would split: quoted */
		cpus(b, sizeof(b), p->gnuma[i].cpus);
		for (char *c = b; *c; c++)
			if (*c == ',')
				*c = ';';
		n += snprintf(d->line + n, sizeof(d->line) - (size_t)n,
			      strchr(b, ';') ? " --numa%d 'cpus=%s,hostnodes=%d,memory=%ld,policy=bind'" :
					       " --numa%d cpus=%s,hostnodes=%d,memory=%ld,policy=bind",
			      i, b, p->gnuma[i].hostnode, p->gnuma[i].memory_mb);
	}
}

static struct pv_pve_diff *next(struct pv_pve_diff *d, int *n, int max)
{
	if (*n >= max)
		return NULL;
	memset(&d[*n], 0, sizeof(d[*n]));
	return &d[(*n)++];
}

int pv_plan_pve_diff(const struct pv_plan *p, const struct pv_vmconf *vc,
		     struct pv_pve_diff *d, int max)
{
	struct pv_pve_diff *x;
	int n = 0;
	long want_hp = p->hp_kb;

	if (vc->template)
		return 0;
	/* no affinity line: every plan keeps its CPUs inside the config's
	 * affinity (pinner/planner.c core_usable), so it never needs moving */
	if (p->ngnuma && !gnuma_matches(p, vc) && (x = next(d, &n, max))) {
		put(x->tag, sizeof(x->tag), "numa");
		put(x->why, sizeof(x->why), "the guest NUMA layout (numa, numaN) is not the plan's");
		hostnodes_why(p, vc, x);
		numa_line(p, x);
	}
	if (want_hp && vc->hugepages_kb != want_hp && !(vc->hugepages_kb < 0) && (x = next(d, &n, max))) {
		put(x->tag, sizeof(x->tag), "hugepages");
		put(x->why, sizeof(x->why), "hugepages: is not the plan's %s pages",
			 want_hp == 1048576 ? "1 GiB" : "2 MiB");
		put(x->line, sizeof(x->line), "qm set %d --hugepages %ld", p->vmid,
			 want_hp == 1048576 ? 1024L : 2L);
	}
	if (((vc->smp.present && vc->smp.threads != (strstr(p->smp, "threads=2") ? 2 : 1)) ||
	     (!vc->smp.present && strstr(p->smp, "threads=2"))) && (x = next(d, &n, max))) {
		put(x->tag, sizeof(x->tag), "smp");
		put(x->why, sizeof(x->why), "the guest's CPU topology is not the plan's -smp '%s'", p->smp);
		put(x->line, sizeof(x->line), "# and in args:, replace any -smp with: -smp '%s'", p->smp);
	}
	return n;
}

void pv_plan_print_pve(FILE *f, const struct pv_plan *p, const struct pv_vmconf *vc)
{
	struct pv_pve_diff d[PV_MAX_PVE_DIFF];
	int n = pv_plan_pve_diff(p, vc, d, PV_MAX_PVE_DIFF);

	if (!n)
		fprintf(f, "# VM %d's config already matches the plan: nothing to change\n", p->vmid);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\n", d[i].line);
}
