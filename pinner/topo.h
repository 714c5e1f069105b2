/* The host as pvepin sees it, read once (hwloc + sysfs) into plain structs.
 * Everything the planner needs is here; the planner never touches the host. */
#pragma once
#include <hwloc.h>
#include <stdbool.h>

#include "common/err.h"
#include "conf/bdf.h"

struct pv_pu {
	unsigned os;      /* Linux CPU number */
	int core;         /* index into topo.core */
	int l3;           /* index into topo.l3, -1 if none */
	int node;         /* Linux node number, -1 if unknown */
	int kind;         /* 0 = most performant cpukind (hwloc efficiency rank) */
	bool primary;     /* lowest-numbered PU of its core */
};

struct pv_core {
	int l3;           /* index into topo.l3 */
	int node;         /* Linux node number */
	int npu;
	unsigned pu[8];   /* Linux CPU numbers, ascending; pu[0] is the primary */
	int kind;
};

struct pv_l3 {
	unsigned long long size; /* bytes */
	hwloc_bitmap_t cpuset;   /* Linux CPU numbers */
	hwloc_bitmap_t nodeset;  /* Linux node numbers local to it */
	int node;                /* lowest local node, -1 if none */
	int ncores;
	int kind;                /* best cpukind among its cores */
};

struct pv_node {
	unsigned os;
	unsigned long long mem_bytes;
	hwloc_bitmap_t cpuset;
	/* hugepages from sysfs under --root; -1 when not known (XML-only hosts) */
	long hp1g_total, hp1g_free, hp2m_total, hp2m_free;
	unsigned long long mem_free; /* bytes, 0 if unknown */
};

enum pv_pci_kind { PV_PCI_OTHER = 0, PV_PCI_GPU, PV_PCI_AUDIO, PV_PCI_USB, PV_PCI_NVME,
		   PV_PCI_NIC, PV_PCI_BRIDGE, PV_PCI_STORAGE };

struct pv_pcidev {
	char bdf[PV_BDF_LEN];
	unsigned class_id;       /* 0xCCSSPP from sysfs, 0xCCSS00 from hwloc */
	unsigned vendor, device;
	enum pv_pci_kind kind;
	int node;                /* Linux node, -1 if no locality */
	hwloc_bitmap_t locality; /* CPUs of its nearest non-I/O ancestor */
	int iommu_group;         /* -1 if unknown / IOMMU off */
	char driver[64];         /* "" if unbound or unknown */
	bool boot_vga;
	char name[96];           /* hwloc's vendor/device name if any */
};

struct pv_topo {
	hwloc_topology_t h;
	int npu, ncore, nl3, nnode, npci;
	struct pv_pu *pu;      /* in hwloc logical order */
	struct pv_core *core;  /* logical order */
	struct pv_l3 *l3;      /* logical order */
	struct pv_node *node;  /* ascending Linux node number */
	unsigned *dist;        /* nnode*nnode, by index into node[]; NULL if unknown */
	struct pv_pcidev *pci;
	int nkinds;
	bool sysfs;            /* IOMMU groups / drivers read from sysfs */
	int niommu_groups;     /* entries in /sys/kernel/iommu_groups, -1 if not looked */
	char cpu_model[128];
	bool pdpe1gb;          /* 1G pages supported (cpuinfo), true if unknown */
	bool pdpe1gb_known;    /* cpuinfo's flags were read: pdpe1gb is a fact */
};

/* Load from --topology XML, else discover (hwloc on <root>). Reads IOMMU
 * groups, drivers, hugepage counts from sysfs under the root when present. */
int pv_topo_load(struct pv_topo *t, const char *xml_path, struct pv_err *e);
/* The same; this_host: xml_path is this host's own (pv_topo_export'ed
 * here), so its sysfs facts (IOMMU groups, drivers, pools) are read too. */
int pv_topo_load_as(struct pv_topo *t, const char *xml_path, bool this_host, struct pv_err *e);
/* hwloc's XML of t at path (rooted), written whole (temporary, rename), 0600. */
int pv_topo_export(const struct pv_topo *t, const char *path, struct pv_err *e);
void pv_topo_free(struct pv_topo *t);

const struct pv_pu *pv_topo_pu(const struct pv_topo *t, unsigned os);
const struct pv_node *pv_topo_node(const struct pv_topo *t, unsigned os);
int pv_topo_node_index(const struct pv_topo *t, unsigned os);
const struct pv_pcidev *pv_topo_pci(const struct pv_topo *t, const char *bdf);
/* NUMA distance between two Linux nodes (10 same, 20 other when unknown). */
unsigned pv_topo_distance(const struct pv_topo *t, int a, int b);
const char *pv_pci_kind_name(enum pv_pci_kind k);
