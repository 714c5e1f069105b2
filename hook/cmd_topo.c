/* pvepin topo [--json] [--svg [FILE]] [--latency [FILE] [--seconds N]]:
 * the host as pvepin sees it, drawn, and its measured core-to-core latency. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "pinner/topo.h"
#include "hook/cmd.h"
#include "check/latency.h"
#include "draw/svg.h"

static const char *cpus(char *b, size_t n, hwloc_const_bitmap_t s)
{
	if (pv_cpulist_format(b, n, s) < 0)
		snprintf(b, n, "?");
	return b;
}

static void print_core_list(const struct pv_topo *t, int l3)
{
	int col = 6;

	printf("      cores:");
	for (int c = 0; c < t->ncore; c++) {
		char w[64];
		int len = 0;

		if (t->core[c].l3 != l3)
			continue;
		for (int k = 0; k < t->core[c].npu; k++)
			len += snprintf(w + len, sizeof(w) - (size_t)len, "%s%u", k ? "+" : "",
					t->core[c].pu[k]);
		if (col + len + 1 > 96) {
			printf("\n            ");
			col = 12;
		}
		printf(" %s", w);
		col += len + 1;
	}
	printf("\n");
}

/* On a hybrid host, which kind an L3's cores are: an L3 shared by both
 * kinds is labelled as such, not by its best core. */
static void print_l3_kind(const struct pv_topo *t, int l3)
{
	int perf = 0, eff = 0;

	if (t->nkinds < 2)
		return;
	for (int c = 0; c < t->ncore; c++)
		if (t->core[c].l3 == l3)
			*(t->core[c].kind ? &eff : &perf) += 1;
	if (perf && eff)
		printf("  (%d performance + %d efficiency cores)", perf, eff);
	else
		printf("  (%s kind)", perf ? "performance" : "efficiency");
}

static void print_node(const struct pv_topo *t, const struct pv_node *n)
{
	char b[PV_MAX_CPUS * 2];

	/* hwloc XML without the node's memory: 0 is "not known", not empty */
	if (n->mem_bytes)
		printf("node %u: %.1f GiB, CPUs %s", n->os, (double)n->mem_bytes / (1 << 30),
		       cpus(b, sizeof(b), n->cpuset));
	else
		printf("node %u: memory size unknown, CPUs %s", n->os, cpus(b, sizeof(b), n->cpuset));
	if (n->hp1g_total >= 0)
		printf(", 1G pages %ld (free %ld), 2M pages %ld (free %ld)", n->hp1g_total,
		       n->hp1g_free, n->hp2m_total, n->hp2m_free);
	printf("\n");
	for (int i = 0; i < t->nl3; i++) {
		const struct pv_l3 *l = &t->l3[i];

		if (l->node != (int)n->os)
			continue;
		/* size 0: the topology has no L3 cache, pvepin groups by node */
		if (l->size)
			printf("  L3 #%d: %llu MiB, %d cores, CPUs %s", i, l->size >> 20, l->ncores,
			       cpus(b, sizeof(b), l->cpuset));
		else
			printf("  L3 #%d: size unknown, %d cores, CPUs %s", i, l->ncores,
			       cpus(b, sizeof(b), l->cpuset));
		print_l3_kind(t, i);
		printf("\n");
		print_core_list(t, i);
	}
}

static void print_pci(const struct pv_topo *t)
{
	printf("PCI devices (GPU, audio, USB, NVMe, NIC):\n");
	for (int i = 0; i < t->npci; i++) {
		const struct pv_pcidev *d = &t->pci[i];

		if (d->kind == PV_PCI_OTHER || d->kind == PV_PCI_BRIDGE || d->kind == PV_PCI_STORAGE)
			continue;
		char line[320];
		int len = snprintf(line, sizeof(line), "  %s  %-5s node %-2d", d->bdf,
				   pv_pci_kind_name(d->kind), d->node);

		if (t->sysfs && len < (int)sizeof(line))
			len += snprintf(line + len, sizeof(line) - (size_t)len, " IOMMU group %-3d driver %-14s",
					d->iommu_group, d->driver[0] ? d->driver : "-");
		if (len < (int)sizeof(line))
			snprintf(line + len, sizeof(line) - (size_t)len, " %s%s", d->name,
				 d->boot_vga ? " [boot VGA]" : "");
		/* the columns pad; the line does not end in blanks */
		for (len = (int)strlen(line); len > 0 && line[len - 1] == ' ';)
			line[--len] = '\0';
		puts(line);
	}
}

static void print_text(const struct pv_topo *t)
{
	int smt = t->ncore ? t->npu / t->ncore : 1;

	printf("%s: %d NUMA node(s), %d L3 domain(s), %d cores, %d CPUs%s\n",
	       t->cpu_model[0] ? t->cpu_model : "host", t->nnode, t->nl3, t->ncore, t->npu,
	       smt > 1 ? " (SMT)" : "");
	for (int i = 0; i < t->nnode; i++)
		print_node(t, &t->node[i]);
	if (t->nnode > 1) {
		printf("node distances:");
		for (int a = 0; a < t->nnode; a++) {
			printf("\n  %u:", t->node[a].os);
			for (int b = 0; b < t->nnode; b++)
				printf(" %3u", pv_topo_distance(t, (int)t->node[a].os, (int)t->node[b].os));
		}
		printf("\n");
	}
	print_pci(t);
	if (!t->sysfs && pv_opt.topology)
		printf("IOMMU: from an XML topology: no IOMMU facts (groups, drivers)\n");
	else if (!t->sysfs)
		printf("IOMMU: unknown (no /sys/bus/pci to read)\n");
	else if (t->niommu_groups == 0)
		printf("IOMMU: off (no /sys/kernel/iommu_groups): passthrough is not possible\n");
	else if (t->niommu_groups > 0)
		printf("IOMMU: %d groups\n", t->niommu_groups);
}

static void print_json(const struct pv_topo *t)
{
	char b[PV_MAX_CPUS * 2];

	printf("{\"model\":");
	pv_json_str(stdout, t->cpu_model);
	printf(",\"nodes\":[");
	for (int i = 0; i < t->nnode; i++)
		printf("%s{\"node\":%u,\"memory\":%llu,\"cpus\":\"%s\",\"hp1g\":%ld,\"hp1g_free\":%ld}",
		       i ? "," : "", t->node[i].os, t->node[i].mem_bytes,
		       cpus(b, sizeof(b), t->node[i].cpuset), t->node[i].hp1g_total, t->node[i].hp1g_free);
	printf("],\"l3\":[");
	for (int i = 0; i < t->nl3; i++)
		printf("%s{\"l3\":%d,\"size\":%llu,\"node\":%d,\"kind\":%d,\"cpus\":\"%s\"}", i ? "," : "",
		       i, t->l3[i].size, t->l3[i].node, t->l3[i].kind, cpus(b, sizeof(b), t->l3[i].cpuset));
	printf("],\"cores\":[");
	for (int c = 0; c < t->ncore; c++) {
		printf("%s{\"core\":%d,\"l3\":%d,\"node\":%d,\"pus\":[", c ? "," : "", c, t->core[c].l3,
		       t->core[c].node);
		for (int k = 0; k < t->core[c].npu; k++)
			printf("%s%u", k ? "," : "", t->core[c].pu[k]);
		printf("]}");
	}
	printf("],\"pci\":[");
	for (int i = 0; i < t->npci; i++) {
		const struct pv_pcidev *d = &t->pci[i];

		printf("%s{\"bdf\":\"%s\",\"class\":\"0x%06x\",\"kind\":\"%s\",\"node\":%d,\"group\":%d,\"driver\":",
		       i ? "," : "", d->bdf, d->class_id, pv_pci_kind_name(d->kind), d->node, d->iommu_group);
		pv_json_str(stdout, d->driver);
		printf(",\"boot_vga\":%s}", d->boot_vga ? "true" : "false");
	}
	printf("],\"iommu_groups\":%d}\n", t->niommu_groups);
}

static int measure(struct pv_lat *m, const struct pv_topo *t, const struct cmd_flags *fl)
{
	struct pv_err e = { 0 };

	/* The matrix is of the CPUs this process runs on: a topology or root
	 * of another host would label it wrongly. */
	if (pv_opt.topology || (pv_opt.root && pv_opt.root[0])) {
		fprintf(stderr, "pvepin topo: --latency measures this machine; it does not go with "
				"--topology or --root (draw a saved one with --latency FILE)\n");
		return -1;
	}
	if (pv_latency_measure(m, NULL, fl->seconds > 0 ? fl->seconds : 10, isatty(STDERR_FILENO), &e) < 0) {
		fprintf(stderr, "pvepin topo: %s\n", e.msg);
		return -1;
	}
	snprintf(m->model, sizeof(m->model), "%s", t->cpu_model);
	if (m->n < 2 && pv_opt.json) /* the text output says it too */
		fprintf(stderr, "pvepin topo: %d CPU%s to run on: no pair of CPUs, nothing to "
				"measure\n", m->n, m->n == 1 ? "" : "s");
	return 0;
}

static int load_latency(struct pv_lat *m, const struct cmd_flags *fl)
{
	struct pv_err e = { 0 };

	if (pv_latency_load(m, fl->latency_file, &e) < 0) {
		fprintf(stderr, "pvepin topo: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int draw(const struct pv_topo *t, const struct pv_lat *lat, const struct cmd_flags *fl)
{
	struct pv_svg s = { .t = t, .lat = lat, .caption = "pvepin topo" };
	struct pv_err e = { 0 };

	if (pv_svg_save(cmd_svg_stdout(fl) ? "-" : fl->svg_file, &s, &e) < 0) {
		fprintf(stderr, "pvepin topo: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static void print(const struct pv_topo *t, const struct pv_lat *lat, bool have_lat)
{
	if (have_lat && pv_opt.json)
		pv_latency_json(stdout, lat);
	else if (have_lat)
		pv_latency_print(stdout, lat, t);
	else if (pv_opt.json)
		print_json(t);
	else
		print_text(t);
}

static int check_flags(int argc, char **argv, struct cmd_flags *fl)
{
	if (cmd_parse_flags_ex("topo", argc, argv, fl, CMD_F_SVG | CMD_F_LATENCY | CMD_F_SECONDS) < 0)
		return -1;
	if (fl->pos) {
		fprintf(stderr, "pvepin topo: unexpected argument '%s'\n", fl->pos);
		return -1;
	}
	if (cmd_svg_stdout(fl) && pv_opt.json) {
		fprintf(stderr, "pvepin topo: --svg without a FILE and --json both want stdout\n");
		return -1;
	}
	if (fl->seconds > 0 && (!fl->latency || fl->latency_file)) {
		fprintf(stderr, "pvepin topo: --seconds goes with --latency (measuring)\n");
		return -1;
	}
	return 0;
}

int cmd_topo(int argc, char **argv)
{
	struct pv_topo t;
	struct pv_lat lat = { 0 };
	struct cmd_flags fl;
	struct pv_err e = { 0 };
	int rc = 1;

	if (check_flags(argc, argv, &fl) < 0)
		return 2;
	if (pv_topo_load(&t, pv_opt.topology, &e) < 0) {
		fprintf(stderr, "pvepin topo: %s\n", e.msg);
		return 1;
	}
	if (fl.latency && (fl.latency_file ? load_latency(&lat, &fl) : measure(&lat, &t, &fl)) < 0)
		goto out;
	if (fl.svg && draw(&t, fl.latency ? &lat : NULL, &fl) < 0)
		goto out;
	if (!cmd_svg_stdout(&fl))
		print(&t, &lat, fl.latency);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	pv_latency_free(&lat);
	pv_topo_free(&t);
	return rc;
}
