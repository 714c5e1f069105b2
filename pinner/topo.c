/* Topology discovery through hwloc: PUs, cores, L3 domains, NUMA nodes,
 * distances, CPU kinds and PCI locality. sysfs-only facts (IOMMU groups,
 * drivers, hugepage pools) are added by topo_sysfs.c. */
#include "pinner/topo.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "pinner/topo_internal.h"

/* hwloc dlopens every plugin it finds at init: the GL, OpenCL and libxml2
 * ones pull in X11, OpenCL and libxml2 and cost more than the rest of a
 * hook run. pvepin needs only the PCI plugin (its own XML parser reads
 * hwloc's exports). The release binary cleared the environment first
 * (common/testknob.h); a test build keeps a caller's setting. */
static int quiet_plugins(struct pv_err *e)
{
#ifndef PV_HWLOC_SHARED
	/* Linked in, hwloc can use no plugin: they are built against the
	 * shared libhwloc, whose symbols this binary does not export. An
	 * empty path costs not even the directory scan; PCI devices come
	 * from hwloc's own sysfs reader (the "linuxio" component). */
	if (setenv("HWLOC_PLUGINS_PATH", "", 1) < 0)
		return pv_fail(e, errno, "setenv HWLOC_PLUGINS_PATH");
#endif
	/* hwloc prints a screen-wide banner on stderr for a topology it had
	 * to repair (an out-of-order XML, say): a hook's output is one line
	 * per problem, and pvepin checks the topology it gets itself */
	if (setenv("HWLOC_HIDE_ERRORS", "2", 0) < 0)
		return pv_fail(e, errno, "setenv HWLOC_HIDE_ERRORS");
	if (setenv("HWLOC_PLUGINS_BLACKLIST",
		   "hwloc_gl,hwloc_opencl,hwloc_xml_libxml,hwloc_cuda,hwloc_nvml,hwloc_rsmi,hwloc_levelzero",
		   0) < 0)
		return pv_fail(e, errno, "setenv HWLOC_PLUGINS_BLACKLIST");
	return 0;
}

#ifndef PV_HWLOC_SHARED
/* hwloc linked in (Makefile STATIC=1): its Linux backend asks libudev only
 * for block devices' vendor and serial, OS devices pvepin filters out, and
 * reads sysfs when udev_new() gives it nothing. These stand in for libudev,
 * which is not linked: a process start does not load it for nothing. They
 * live here, beside the only caller of hwloc's discovery, so that the
 * linker has them before it reaches libhwloc.a. */
struct udev;
struct udev_device;
struct udev *udev_new(void);
struct udev *udev_unref(struct udev *u);
struct udev_device *udev_device_new_from_subsystem_sysname(struct udev *u, const char *subsystem,
							   const char *sysname);
const char *udev_device_get_property_value(struct udev_device *d, const char *key);
struct udev_device *udev_device_unref(struct udev_device *d);

struct udev *udev_new(void)
{
	return NULL;
}

struct udev *udev_unref(struct udev *u)
{
	return NULL;
}

struct udev_device *udev_device_new_from_subsystem_sysname(struct udev *u, const char *subsystem,
							   const char *sysname)
{
	return NULL;
}

const char *udev_device_get_property_value(struct udev_device *d, const char *key)
{
	return NULL;
}

struct udev_device *udev_device_unref(struct udev_device *d)
{
	return NULL;
}
#endif

/* A --root tree must hold its CPUs' topology: without it hwloc would warn
 * on stderr and describe the machine pvepin runs on instead. */
static int root_has_cpus(struct pv_err *e)
{
	char p[PV_PATH_MAX], q[PV_PATH_MAX + 300];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (pv_path(p, sizeof(p), e, "/sys/devices/system/cpu") < 0)
		return -1;
	d = opendir(p);
	if (!d)
		return pv_fail(e, 0, "--root %s: cannot read %s (%s): capture /sys with the host, or "
			       "give --topology FILE", pv_opt.root, p, strerror(errno));
	while (!found && (de = readdir(d))) {
		struct stat st;

		if (strncmp(de->d_name, "cpu", 3) || de->d_name[3] < '0' || de->d_name[3] > '9')
			continue;
		snprintf(q, sizeof(q), "%s/%s/topology", p, de->d_name);
		found = stat(q, &st) == 0 && S_ISDIR(st.st_mode);
	}
	closedir(d);
	if (!found)
		return pv_fail(e, 0, "--root %s has no CPU topology (%s/cpu*/topology): capture /sys "
			       "with the host, or give --topology FILE", pv_opt.root, p);
	return 0;
}

static int load_hwloc(struct pv_topo *t, const char *xml_path, struct pv_err *e)
{
	if (!xml_path && pv_opt.root && pv_opt.root[0] && root_has_cpus(e) < 0)
		return -1;
	if (quiet_plugins(e) < 0)
		return -1;
	if (hwloc_topology_init(&t->h) < 0)
		return pv_fail(e, errno, "hwloc: cannot initialise topology");
	if (xml_path && hwloc_topology_set_xml(t->h, xml_path) < 0)
		return pv_fail(e, errno, "hwloc: cannot use topology file %s", xml_path);
	/* hwloc's Linux backend reads sysfs below HWLOC_FSROOT: that is how
	 * --root reaches it. It must be set before load. */
	if (!xml_path && pv_opt.root && pv_opt.root[0]) {
		if (setenv("HWLOC_FSROOT", pv_opt.root, 1) < 0)
			return pv_fail(e, errno, "setenv HWLOC_FSROOT");
		/* CPUID and libpciaccess would describe this machine, not the
		 * captured one: the root's sysfs alone speaks for it. */
		hwloc_topology_set_components(t->h, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "x86");
		hwloc_topology_set_components(t->h, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "pci");
	}
	/* The hook runs in a host cgroup that pre-start itself narrows: the
	 * VM's CPUs must stay in the topology all the same. */
	if (hwloc_topology_set_flags(t->h, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED) < 0)
		return pv_fail(e, errno, "hwloc: cannot set flags");
	/* Keep every PCI function (USB controllers and audio are not
	 * "important" to hwloc) but not the bridges and OS devices. */
	hwloc_topology_set_type_filter(t->h, HWLOC_OBJ_PCI_DEVICE, HWLOC_TYPE_FILTER_KEEP_ALL);
	hwloc_topology_set_type_filter(t->h, HWLOC_OBJ_BRIDGE, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	hwloc_topology_set_type_filter(t->h, HWLOC_OBJ_OS_DEVICE, HWLOC_TYPE_FILTER_KEEP_NONE);
	hwloc_topology_set_type_filter(t->h, HWLOC_OBJ_L3CACHE, HWLOC_TYPE_FILTER_KEEP_ALL);
	if (hwloc_topology_load(t->h) == 0)
		return 0;
	if (xml_path) /* hwloc says only EINVAL */
		return pv_fail(e, errno, "hwloc %s cannot read the topology file %s (an XML of another "
			       "hwloc version, such as format 3.0, or a damaged one): export it again "
			       "with `lstopo --of xml` of hwloc 2.x on the machine it describes",
			       HWLOC_VERSION, xml_path);
	return pv_fail(e, errno, "hwloc: cannot load the topology");
}

static int load_nodes(struct pv_topo *t, struct pv_err *e)
{
	int n = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE);
	hwloc_obj_t o = NULL;
	int i = 0;

	if (n <= 0)
		return pv_fail(e, 0, "topology has no NUMA node");
	t->node = calloc((size_t)n, sizeof(*t->node));
	if (!t->node)
		return pv_fail(e, ENOMEM, "topology");
	while ((o = hwloc_get_next_obj_by_type(t->h, HWLOC_OBJ_NUMANODE, o))) {
		struct pv_node *nd = &t->node[i++];

		nd->os = o->os_index;
		nd->mem_bytes = o->attr ? o->attr->numanode.local_memory : 0;
		nd->cpuset = hwloc_bitmap_dup(o->cpuset);
		nd->hp1g_total = nd->hp1g_free = nd->hp2m_total = nd->hp2m_free = -1;
		if (!nd->cpuset)
			return pv_fail(e, ENOMEM, "topology");
	}
	t->nnode = i;
	/* hwloc lists nodes in logical order; everything else wants OS order. */
	for (int a = 1; a < t->nnode; a++)
		for (int b = a; b > 0 && t->node[b - 1].os > t->node[b].os; b--) {
			struct pv_node tmp = t->node[b];

			t->node[b] = t->node[b - 1];
			t->node[b - 1] = tmp;
		}
	return 0;
}

static void load_distances(struct pv_topo *t)
{
	struct hwloc_distances_s *d[4];
	unsigned nr = 4;
	unsigned nn = (unsigned)t->nnode;

	if (hwloc_distances_get_by_type(t->h, HWLOC_OBJ_NUMANODE, &nr, d,
					HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) < 0 ||
	    nr == 0)
		return;
	t->dist = calloc((size_t)nn * nn, sizeof(*t->dist));
	if (t->dist) {
		for (unsigned a = 0; a < d[0]->nbobjs; a++)
			for (unsigned b = 0; b < d[0]->nbobjs; b++) {
				int ia = pv_topo_node_index(t, d[0]->objs[a]->os_index);
				int ib = pv_topo_node_index(t, d[0]->objs[b]->os_index);

				if (ia >= 0 && ib >= 0)
					t->dist[(unsigned)ia * nn + (unsigned)ib] =
						(unsigned)d[0]->values[a * d[0]->nbobjs + b];
			}
	}
	for (unsigned i = 0; i < (nr < 4 ? nr : 4); i++)
		hwloc_distances_release(t->h, d[i]);
}

static int pu_node(const struct pv_topo *t, unsigned os)
{
	for (int i = 0; i < t->nnode; i++)
		if (hwloc_bitmap_isset(t->node[i].cpuset, os))
			return (int)t->node[i].os;
	return -1;
}

/* hwloc ranks kinds from least to most efficient-for-performance; pvepin
 * wants 0 = the most performant kind. */
static int pu_kind(const struct pv_topo *t, hwloc_const_bitmap_t pu_set)
{
	int k = hwloc_cpukinds_get_by_cpuset(t->h, pu_set, 0);

	if (k < 0 || t->nkinds <= 1)
		return 0;
	return t->nkinds - 1 - k;
}

static int find_l3(struct pv_topo *t, hwloc_obj_t dom)
{
	for (int i = 0; i < t->nl3; i++)
		if (hwloc_bitmap_isequal(t->l3[i].cpuset, dom->cpuset))
			return i;
	return -1;
}

/* The L3 domain of a PU: its L3 cache, or where there is none its package
 * (so single-cache or cacheless hosts still plan). */
static hwloc_obj_t l3_domain(hwloc_topology_t h, hwloc_obj_t pu)
{
	hwloc_obj_t o = hwloc_get_ancestor_obj_by_type(h, HWLOC_OBJ_L3CACHE, pu);

	if (!o)
		o = hwloc_get_ancestor_obj_by_type(h, HWLOC_OBJ_PACKAGE, pu);
	if (!o)
		o = hwloc_get_root_obj(h);
	return o;
}

static int add_l3(struct pv_topo *t, hwloc_obj_t dom, struct pv_err *e)
{
	struct pv_l3 *l = &t->l3[t->nl3];

	l->size = dom->type == HWLOC_OBJ_L3CACHE ? dom->attr->cache.size : 0;
	l->cpuset = hwloc_bitmap_dup(dom->cpuset);
	l->nodeset = hwloc_bitmap_alloc();
	if (!l->cpuset || !l->nodeset)
		return pv_fail(e, ENOMEM, "topology");
	l->node = -1;
	l->kind = 1 << 30;
	for (int i = 0; i < t->nnode; i++)
		if (hwloc_bitmap_intersects(t->node[i].cpuset, l->cpuset)) {
			hwloc_bitmap_set(l->nodeset, t->node[i].os);
			if (l->node < 0)
				l->node = (int)t->node[i].os;
		}
	return t->nl3++;
}

static int load_cpus(struct pv_topo *t, struct pv_err *e)
{
	int npu = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_PU);
	hwloc_obj_t pu = NULL;

	if (npu <= 0)
		return pv_fail(e, 0, "topology has no CPU");
	t->pu = calloc((size_t)npu, sizeof(*t->pu));
	t->core = calloc((size_t)npu, sizeof(*t->core));
	t->l3 = calloc((size_t)npu, sizeof(*t->l3));
	if (!t->pu || !t->core || !t->l3)
		return pv_fail(e, ENOMEM, "topology");
	t->nkinds = hwloc_cpukinds_get_nr(t->h, 0);
	while ((pu = hwloc_get_next_obj_by_type(t->h, HWLOC_OBJ_PU, pu))) {
		hwloc_obj_t core;

		/* issue 14: a PU listed twice, or a number its own cpuset
		 * contradicts, would put two vCPUs on one CPU or one on a CPU
		 * that does not exist */
		if (pu->os_index >= PV_MAX_CPUS || !hwloc_bitmap_isset(pu->cpuset, pu->os_index) ||
		    pv_topo_pu(t, pu->os_index))
			return pv_fail(e, 0, "damaged topology: CPU %u is %s", pu->os_index,
				       pv_topo_pu(t, pu->os_index) ? "listed twice" :
				       "outside its own cpuset or beyond what pvepin plans");
		core = hwloc_get_ancestor_obj_by_type(t->h, HWLOC_OBJ_CORE, pu);
		hwloc_obj_t dom = l3_domain(t->h, pu);
		struct pv_pu *p = &t->pu[t->npu++];
		int l3 = find_l3(t, dom);
		int ci = -1;

		if (l3 < 0 && (l3 = add_l3(t, dom, e)) < 0)
			return -1;
		p->os = pu->os_index;
		p->l3 = l3;
		p->node = pu_node(t, pu->os_index);
		p->kind = pu_kind(t, pu->cpuset);
		/* Cores are matched by cpuset; a PU without a Core parent is
		 * a core of its own. */
		for (int i = 0; core && i < t->ncore; i++)
			if (hwloc_bitmap_isset(core->cpuset, t->core[i].pu[0]))
				ci = i;
		if (ci < 0) {
			ci = t->ncore++;
			t->core[ci].l3 = l3;
			t->core[ci].node = p->node;
			t->core[ci].kind = p->kind;
			t->l3[l3].ncores++;
			if (p->kind < t->l3[l3].kind)
				t->l3[l3].kind = p->kind;
		}
		p->core = ci;
		if (t->core[ci].npu < 8)
			t->core[ci].pu[t->core[ci].npu++] = p->os;
	}
	for (int c = 0; c < t->ncore; c++) { /* ascending PU numbers; pu[0] primary */
		struct pv_core *co = &t->core[c];

		for (int a = 1; a < co->npu; a++)
			for (int b = a; b > 0 && co->pu[b - 1] > co->pu[b]; b--) {
				unsigned tmp = co->pu[b];

				co->pu[b] = co->pu[b - 1];
				co->pu[b - 1] = tmp;
			}
	}
	for (int i = 0; i < t->npu; i++)
		t->pu[i].primary = t->core[t->pu[i].core].pu[0] == t->pu[i].os;
	return 0;
}

/* AMD pads its model names with spaces (/proc/cpuinfo, hwloc's CPUModel):
 * one space between words, none at the ends. */
static void squeeze_spaces(char *out, size_t n, const char *in)
{
	size_t k = 0;

	for (; *in && k + 1 < n; in++) {
		if (*in == ' ' && (k == 0 || out[k - 1] == ' '))
			continue;
		out[k++] = *in;
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

static void load_model(struct pv_topo *t)
{
	hwloc_obj_t pkg = hwloc_get_next_obj_by_type(t->h, HWLOC_OBJ_PACKAGE, NULL);
	const char *m = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;

	if (!m)
		m = hwloc_obj_get_info_by_name(hwloc_get_root_obj(t->h), "CPUModel");

	if (m)
		squeeze_spaces(t->cpu_model, sizeof(t->cpu_model), m);
}

static bool kinds_have_core_type(const struct pv_topo *t)
{
	for (int k = 0; k < t->nkinds; k++) {
		struct hwloc_info_s *infos;
		unsigned ninfos = 0;
		int eff;

		if (hwloc_cpukinds_get_info(t->h, (unsigned)k, NULL, &eff, &ninfos, &infos, 0) < 0)
			continue;
		for (unsigned i = 0; i < ninfos; i++)
			if (!strcmp(infos[i].name, "CoreType"))
				return true;
	}
	return false;
}

static void one_kind(struct pv_topo *t)
{
	for (int i = 0; i < t->npu; i++)
		t->pu[i].kind = 0;
	for (int c = 0; c < t->ncore; c++)
		t->core[c].kind = 0;
	for (int i = 0; i < t->nl3; i++)
		t->l3[i].kind = 0;
	t->nkinds = 1;
}

/* X3D parts: hwloc splits the two CCDs into kinds by max frequency only,
 * though the cores are the same; what differs is the L3 (V-cache). When
 * kinds are known only by frequency and follow unequal L3 sizes, they are
 * one kind for pvepin and `prefer = cache|frequency` decides. */
static void merge_frequency_kinds(struct pv_topo *t)
{
	bool sizes_differ = false;

	if (t->nkinds <= 1 || kinds_have_core_type(t))
		return;
	for (int c = 0; c < t->ncore; c++) {
		const struct pv_l3 *l = &t->l3[t->core[c].l3];

		if (t->core[c].kind != l->kind)
			return; /* a kind boundary inside an L3: a real hybrid part */
		if (l->size != t->l3[0].size)
			sizes_differ = true;
	}
	if (sizes_differ)
		one_kind(t);
}

/* A kind's FrequencyMaxMHz, 0 if hwloc does not say. */
static long kind_mhz(const struct pv_topo *t, int k)
{
	struct hwloc_info_s *infos;
	unsigned ninfos = 0;
	int eff;

	if (hwloc_cpukinds_get_info(t->h, (unsigned)k, NULL, &eff, &ninfos, &infos, 0) < 0)
		return 0;
	for (unsigned i = 0; i < ninfos; i++)
		if (!strcmp(infos[i].name, "FrequencyMaxMHz"))
			return strtol(infos[i].value, NULL, 10);
	return 0;
}

#define PV_KIND_NEAR_PCT 6

/* Favoured cores (Intel Turbo Boost Max, AMD preferred cores) boost a few
 * percent higher, and hwloc makes them a kind of their own: without a
 * CoreType, kinds whose top frequencies lie within PV_KIND_NEAR_PCT of each
 * other are the same cores, or one "fastest" core would refuse every
 * gaming VM of two vCPUs and more (issue 14). */
static void merge_near_kinds(struct pv_topo *t)
{
	long lo = 0, hi = 0;

	if (t->nkinds <= 1 || kinds_have_core_type(t))
		return;
	for (int k = 0; k < t->nkinds; k++) {
		long f = kind_mhz(t, k);

		if (f <= 0)
			return;
		lo = !lo || f < lo ? f : lo;
		hi = f > hi ? f : hi;
	}
	if ((hi - lo) * 100 <= lo * PV_KIND_NEAR_PCT)
		one_kind(t);
}

int pv_topo_load(struct pv_topo *t, const char *xml_path, struct pv_err *e)
{
	return pv_topo_load_as(t, xml_path, false, e);
}

int pv_topo_load_as(struct pv_topo *t, const char *xml_path, bool this_host, struct pv_err *e)
{
	memset(t, 0, sizeof(*t));
	t->niommu_groups = -1;
	t->pdpe1gb = true;
	if (load_hwloc(t, xml_path, e) < 0 || load_nodes(t, e) < 0 ||
	    load_cpus(t, e) < 0)
		goto fail;
	merge_frequency_kinds(t);
	merge_near_kinds(t);
	load_distances(t);
	load_model(t);
	if (pv_topo_load_pci(t, e) < 0)
		goto fail;
	/* A captured XML describes another host: read sysfs only when it is
	 * this host's, or a captured root's given with --root. */
	if (!xml_path || this_host || (pv_opt.root && pv_opt.root[0])) {
		if (pv_topo_load_sysfs(t, e) < 0)
			goto fail;
	}
	return 0;
fail:
	pv_topo_free(t);
	return -1;
}

void pv_topo_free(struct pv_topo *t)
{
	for (int i = 0; t->node && i < t->nnode; i++)
		hwloc_bitmap_free(t->node[i].cpuset);
	for (int i = 0; t->l3 && i < t->nl3; i++) {
		hwloc_bitmap_free(t->l3[i].cpuset);
		hwloc_bitmap_free(t->l3[i].nodeset);
	}
	for (int i = 0; t->pci && i < t->npci; i++)
		hwloc_bitmap_free(t->pci[i].locality);
	free(t->node);
	free(t->l3);
	free(t->pu);
	free(t->core);
	free(t->pci);
	free(t->dist);
	if (t->h)
		hwloc_topology_destroy(t->h);
	memset(t, 0, sizeof(*t));
}

const struct pv_pu *pv_topo_pu(const struct pv_topo *t, unsigned os)
{
	for (int i = 0; i < t->npu; i++)
		if (t->pu[i].os == os)
			return &t->pu[i];
	return NULL;
}

int pv_topo_node_index(const struct pv_topo *t, unsigned os)
{
	for (int i = 0; i < t->nnode; i++)
		if (t->node[i].os == os)
			return i;
	return -1;
}

const struct pv_node *pv_topo_node(const struct pv_topo *t, unsigned os)
{
	int i = pv_topo_node_index(t, os);

	return i < 0 ? NULL : &t->node[i];
}

unsigned pv_topo_distance(const struct pv_topo *t, int a, int b)
{
	int ia, ib;

	if (a < 0 || b < 0)
		return 10;
	ia = pv_topo_node_index(t, (unsigned)a);
	ib = pv_topo_node_index(t, (unsigned)b);
	if (ia < 0 || ib < 0)
		return a == b ? 10 : 20;
	if (!t->dist || !t->dist[ia * t->nnode + ib])
		return a == b ? 10 : 20;
	return t->dist[ia * t->nnode + ib];
}

const struct pv_pcidev *pv_topo_pci(const struct pv_topo *t, const char *bdf)
{
	for (int i = 0; i < t->npci; i++)
		if (!strcmp(t->pci[i].bdf, bdf))
			return &t->pci[i];
	return NULL;
}

int pv_topo_export(const struct pv_topo *t, const char *path, struct pv_err *e)
{
	char *xml = NULL;
	int len = 0, rc;

	/* hwloc's own XML (its built-in writer): what set_xml reads back; into
	 * a buffer, so the file is pvepin's own no-follow create and rename */
	if (hwloc_topology_export_xmlbuffer(t->h, &xml, &len, 0) < 0 || len < 1)
		return pv_fail(e, errno, "hwloc: cannot export the topology");
	rc = pv_save_file(path, xml, (size_t)len - 1, 0600, e);
	hwloc_free_xmlbuffer(t->h, xml);
	return rc < 0 ? pv_wrap(e, "save topology") : 0;
}
