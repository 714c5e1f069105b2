/* What hwloc does not tell: IOMMU groups, bound drivers, boot VGA, hugepage
 * pools and the 1G-page CPU flag, read from sysfs/procfs under --root. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/limits.h"
#include "conf/cpulist.h"
#include "pinner/topo_internal.h"

/* sysfs names PCI functions "dddd:bb:dd.f"; anything else is not one. */
static bool is_bdf_name(const char *s)
{
	static const char pat[] = "hhhh:hh:hh.h";

	if (strlen(s) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == 'h' ? !strchr("0123456789abcdef", s[i]) || !s[i] : s[i] != pat[i])
			return false;
	}
	return true;
}

static long read_long(const char *path, long dflt)
{
	char buf[64];
	struct pv_err e;
	char *end;
	long v;

	if (pv_read_attr(path, buf, sizeof(buf), &e) <= 0)
		return dflt;
	errno = 0;
	v = strtol(buf, &end, 0);
	return errno || (*end && *end != ' ') ? dflt : v;
}

static struct pv_pcidev *find_or_add(struct pv_topo *t, const char *bdf, struct pv_err *e)
{
	for (int i = 0; i < t->npci; i++)
		if (!strcmp(t->pci[i].bdf, bdf))
			return &t->pci[i];
	return pv_topo_add_pci(t, bdf, e);
}

static int read_pci_function(struct pv_topo *t, const char *bdf, struct pv_err *e)
{
	char dir[PV_PATH_MAX], p[PV_PATH_MAX + 32], buf[PV_MAX_CPUS * 4];
	struct pv_pcidev *d = find_or_add(t, bdf, e);
	struct pv_err ign;
	long v;

	if (!d || pv_path(dir, sizeof(dir), e, "/sys/bus/pci/devices/%s", bdf) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/class", dir);
	if ((v = read_long(p, -1)) >= 0) {
		d->class_id = (unsigned)v;
		d->kind = pv_pci_kind_of(d->class_id);
	}
	snprintf(p, sizeof(p), "%s/vendor", dir);
	if ((v = read_long(p, -1)) >= 0)
		d->vendor = (unsigned)v;
	snprintf(p, sizeof(p), "%s/device", dir);
	if ((v = read_long(p, -1)) >= 0)
		d->device = (unsigned)v;
	snprintf(p, sizeof(p), "%s/boot_vga", dir);
	d->boot_vga = read_long(p, 0) == 1;
	snprintf(p, sizeof(p), "%s/numa_node", dir);
	if (d->node < 0 && (v = read_long(p, -1)) >= 0)
		d->node = (int)v;
	snprintf(p, sizeof(p), "%s/local_cpulist", dir);
	if (!d->locality && pv_read_attr(p, buf, sizeof(buf), &ign) > 0) {
		hwloc_bitmap_t set = hwloc_bitmap_alloc();

		if (set && pv_cpulist_parse(buf, ',', PV_MAX_CPUS, set, &ign) == 0)
			d->locality = set;
		else if (set)
			hwloc_bitmap_free(set);
	}
	snprintf(p, sizeof(p), "%s/iommu_group", dir);
	if (pv_readlink_base(p, buf, sizeof(buf), &ign) == 0 &&
	    pv_parse_long(buf, 0, 1 << 30, &v) == 0)
		d->iommu_group = (int)v;
	snprintf(p, sizeof(p), "%s/driver", dir);
	if (pv_readlink_base(p, d->driver, sizeof(d->driver), &ign) < 0)
		d->driver[0] = '\0';
	return 0;
}

static int load_pci(struct pv_topo *t, struct pv_err *e)
{
	char dir[PV_PATH_MAX];
	DIR *dh;
	struct dirent *de;
	int r = 0;

	if (pv_path(dir, sizeof(dir), e, "/sys/bus/pci/devices") < 0)
		return -1;
	dh = opendir(dir);
	if (!dh)
		return 0; /* no PCI sysfs under this root: XML-only host */
	t->sysfs = true;
	while (r == 0 && (de = readdir(dh)))
		if (is_bdf_name(de->d_name))
			r = read_pci_function(t, de->d_name, e);
	closedir(dh);
	return r;
}

static void count_iommu_groups(struct pv_topo *t)
{
	char dir[PV_PATH_MAX];
	struct pv_err e;
	struct dirent *de;
	DIR *dh;

	if (pv_path(dir, sizeof(dir), &e, "/sys/kernel/iommu_groups") < 0)
		return;
	dh = opendir(dir);
	if (!dh) {
		/* sysfs present but no iommu_groups: IOMMU off */
		if (t->sysfs)
			t->niommu_groups = 0;
		return;
	}
	t->niommu_groups = 0;
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.')
			t->niommu_groups++;
	closedir(dh);
}

static long node_hp(unsigned node, const char *size_kb, const char *file)
{
	char p[PV_PATH_MAX];
	struct pv_err e;

	if (pv_path(p, sizeof(p), &e, "/sys/devices/system/node/node%u/hugepages/hugepages-%skB/%s",
		    node, size_kb, file) < 0)
		return -1;
	return read_long(p, -1);
}

static void load_node_pools(struct pv_topo *t)
{
	for (int i = 0; i < t->nnode; i++) {
		struct pv_node *n = &t->node[i];
		char p[PV_PATH_MAX], buf[4096];
		struct pv_err e;
		const char *at;

		n->hp1g_total = node_hp(n->os, PV_HP_1G_KB_STR, "nr_hugepages");
		n->hp1g_free = node_hp(n->os, PV_HP_1G_KB_STR, "free_hugepages");
		n->hp2m_total = node_hp(n->os, PV_HP_2M_KB_STR, "nr_hugepages");
		n->hp2m_free = node_hp(n->os, PV_HP_2M_KB_STR, "free_hugepages");
		if (pv_path(p, sizeof(p), &e, "/sys/devices/system/node/node%u/meminfo", n->os) < 0 ||
		    pv_read_attr(p, buf, sizeof(buf), &e) <= 0)
			continue;
		at = strstr(buf, "MemFree:");
		if (at)
			n->mem_free = strtoull(at + 8, NULL, 10) * 1024;
	}
}

static void load_cpu_flags(struct pv_topo *t)
{
	char p[PV_PATH_MAX];
	_cleanup_free_ char *info = NULL;
	struct pv_err e;
	char *flags, *eol;

	if (pv_path(p, sizeof(p), &e, "/proc/cpuinfo") < 0 || !(info = pv_slurp(p, NULL, &e)))
		return;
	flags = strstr(info, "\nflags");
	if (!flags)
		return;
	eol = strchr(flags + 1, '\n');
	if (eol)
		*eol = '\0';
	t->pdpe1gb = strstr(flags, " pdpe1gb") != NULL;
	t->pdpe1gb_known = true;
}

int pv_topo_load_sysfs(struct pv_topo *t, struct pv_err *e)
{
	if (load_pci(t, e) < 0)
		return -1;
	count_iommu_groups(t);
	load_node_pools(t);
	load_cpu_flags(t);
	return 0;
}
