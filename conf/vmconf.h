/* The PVE VM config (/etc/pve/qemu-server/<vmid>.conf): the keys pvepin
 * needs, up to the first [section] (snapshots, PENDING). */
#pragma once
#include <hwloc.h>
#include <stdbool.h>

#include "common/err.h"
#include "conf/bdf.h"

#define PV_MAX_HOSTPCI 16 /* hostpci0..hostpci15 */
#define PV_MAX_GNUMA 8    /* numa0..numa7 */
#define PV_MAX_FUNCS 16   /* BDFs in one hostpciN (host=A;B;...) */
#define PV_MAX_MAPALT 8   /* map lines of one mapping for this node */

/* One `map` line of a PCI resource mapping for this node: an alternative
 * PVE may take (PCI.pm parse_hostpci / choose_hostpci_devices). */
struct pv_mapalt {
	struct pv_bdf bdf[PV_MAX_FUNCS];
	int nbdf;
	unsigned vendor, device; /* from id=VVVV:DDDD, 0 if not given */
	int iommugroup;          /* from iommugroup=, -1 if not given */
};

struct pv_hostpci {
	bool present;
	struct pv_bdf bdf[PV_MAX_FUNCS]; /* all_fn set where written without .f */
	int nbdf;
	char mapping[64];   /* mapping=NAME, "" if none; resolved into bdf[] */
	bool pcie, xvga;
	char romfile[256];  /* "" if none; a file name under /usr/share/kvm */
	int line;           /* its line in the config, for errors */
	char mdev[64];      /* mdev=TYPE: PVE creates a mediated device, the
			     * parent keeps its host driver; "" if none */
	bool keep;          /* driver=keep: neither reset nor bound */
	struct pv_mapalt alt[PV_MAX_MAPALT]; /* mapping=: every map line of this node */
	int nalt;           /* bdf[] is alt[0] until the planner chooses */
};

struct pv_gnuma {
	bool present;
	hwloc_bitmap_t cpus;      /* guest vCPU numbers */
	hwloc_bitmap_t hostnodes; /* NULL if not given */
	long memory_mb;           /* 0 if not given */
	char policy[16];          /* bind|preferred|interleave or "" */
};

struct pv_smp {
	bool present;             /* -smp found in args: */
	int cpus, sockets, dies, cores, threads, maxcpus; /* 0 = not given */
};

struct pv_vmconf {
	int vmid;
	char name[64];
	long memory_mb;        /* default 512 as PVE */
	int cores, sockets;    /* defaults 1 */
	int vcpus;             /* 0 = not set */
	int hugepages_kb;      /* 0 none, 2048, 1048576, -1 = "any" */
	bool numa;
	struct pv_gnuma gnuma[PV_MAX_GNUMA];
	hwloc_bitmap_t affinity; /* NULL if not set */
	struct pv_hostpci hostpci[PV_MAX_HOSTPCI];
	char cpu[256];         /* cpu: value, "" if not set */
	bool cpu_pdpe1gb;      /* cpu flags include +pdpe1gb */
	struct pv_smp smp;     /* from args: -smp */
	bool template;         /* template: 1 (PVE starts it minimized, for backup only) */
	bool kvm;              /* kvm: (default 1); 0: TCG, vCPU threads "CPU n/TCG" */
	bool hotplug_memory;   /* hotplug: lists memory (DIMMs beyond 1 GiB static) */
};

/* Parse config text; name is used in "name:line: ..." errors. */
int pv_vmconf_parse_string(const char *text, const char *name, int vmid,
			   struct pv_vmconf *c, struct pv_err *e);

/* Load --conf FILE or <root>/etc/pve/qemu-server/<vmid>.conf, then resolve
 * mapping= entries through <root>/etc/pve/mapping/pci.cfg for this node
 * (node name from <root>/etc/hostname, else uname). */
int pv_vmconf_load(int vmid, const char *explicit_path, struct pv_vmconf *c,
		   struct pv_err *e);

void pv_vmconf_free(struct pv_vmconf *c);

/* vCPUs QEMU will create: -smp in args wins, else vcpus:, else cores*sockets. */
int pv_vmconf_nvcpus(const struct pv_vmconf *c);
