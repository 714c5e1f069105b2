/* `plan` for people, and `plan --pve`: the qm set lines that match. */
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
	if (p->gpu[0]) {
		const struct pv_pcidev *g = pv_topo_pci(t, p->gpu);

		fprintf(f, ", placed by GPU %s (node %d)", p->gpu, g ? g->node : -1);
	}
	fputc('\n', f);
	print_l3_groups(f, p, t);
	fprintf(f, "  vCPU -> CPU:");
	for (int i = 0; i < p->nvcpu; i++)
		fprintf(f, " %d:%u", p->vcpus[i].vcpu, p->vcpus[i].pu);
	fprintf(f, "\n  emulator/IO threads: %s\n", cpus(b, sizeof(b), p->emulator));
	fprintf(f, "  device IRQs: %s\n", cpus(b, sizeof(b), p->irq_cpus));
	fprintf(f, "  host housekeeping: %s\n", cpus(b, sizeof(b), p->host_cpus));
	if (p->hp_kb) {
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

/* One argument of a qm command line as the shell must see it: quoted when
 * it holds anything the shell would split or expand (';' in numaN cpus). */
static void shell_arg(FILE *f, const char *s)
{
	if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789,._+:=@%/-")]) {
		fputc('\'', f);
		for (; *s; s++)
			if (*s == '\'')
				fputs("'\\''", f);
			else
				fputc(*s, f);
		fputc('\'', f);
		return;
	}
	fputs(s, f);
}

void pv_plan_print_pve(FILE *f, const struct pv_plan *p)
{
	char b[PV_MAX_CPUS * 2], arg[PV_MAX_CPUS * 2 + 128];

	fprintf(f, "qm set %d --affinity ", p->vmid);
	shell_arg(f, cpus(b, sizeof(b), p->vm_cpus));
	fputc('\n', f);
	if (p->ngnuma) {
		fprintf(f, "qm set %d --numa 1", p->vmid);
		for (int i = 0; i < p->ngnuma; i++) {
			/* PVE separates ranges inside numaN cpus with ';' */
			cpus(b, sizeof(b), p->gnuma[i].cpus);
			for (char *c = b; *c; c++)
				if (*c == ',')
					*c = ';';
			snprintf(arg, sizeof(arg), "cpus=%s,hostnodes=%d,memory=%ld,policy=bind", b,
				 p->gnuma[i].hostnode, p->gnuma[i].memory_mb);
			fprintf(f, " --numa%d ", i);
			shell_arg(f, arg);
		}
		fputc('\n', f);
	}
	if (p->hp_kb)
		fprintf(f, "qm set %d --hugepages %ld\n", p->vmid, p->hp_kb == PV_HP_1G_KB ? 1024L : 2L);
	fprintf(f, "# and in args:, replace any -smp with: -smp '%s'\n", p->smp);
}
