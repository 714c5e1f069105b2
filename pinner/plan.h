/* The plan: what pvepin will do for one VM. Made by a pure function of
 * (topology, policy, VM config, other VMs' claims); executed only by hook/. */
#pragma once
#include <hwloc.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/err.h"
#include "conf/policy.h"
#include "conf/vmconf.h"
#include "pinner/topo.h"

#define PV_MAX_DEVS 64
#define PV_MAX_WARN 32
#define PV_MAX_NODES 64
#define PV_MAX_ACTIONS 512

/* CPUs, nodes and devices already held by other running VMs. */
struct pv_claims {
	hwloc_bitmap_t cpus;              /* exclusive PUs of other VMs (may be NULL) */
	/* the planned VM's own affinity: the only CPUs it may use, NULL any;
	 * the planner sets it from the config, whatever the caller passed */
	hwloc_const_bitmap_t allowed;
	char devs[PV_MAX_DEVS][PV_BDF_LEN];
	int devs_vmid[PV_MAX_DEVS];
	int ndevs;
};

struct pv_plan_vcpu {
	int vcpu;
	unsigned pu;
	int core; /* index into topo.core */
	int l3;   /* index into topo.l3 */
	int node; /* Linux node */
};

struct pv_plan_pages {
	int node;
	long count;
};

/* What PVE does with a passthrough function (PCI.pm prepare_pci_device). */
enum pv_dev_treat { PV_DEV_BIND = 0, PV_DEV_KEEP, PV_DEV_MDEV };

struct pv_plan_dev {
	char bdf[PV_BDF_LEN];
	int group;            /* IOMMU group, -1 unknown */
	char driver[64];      /* current (host) driver, "" unknown/none */
	char target[16];      /* "vfio-pci"; "" when not bound (keep, mdev parent) */
	bool listed;          /* named by the VM config (false: other member of its group) */
	enum pv_dev_treat treat;
	int hostpci;          /* hostpciN it came from, -1 (group member, policy vfio) */
	char mapping[64];     /* mapping=NAME it came from, "" if none */
	int map_entry;        /* which map line of this node (0-based), -1 if none */
	int node;             /* its NUMA node, -1 unknown */
	char kind[16];        /* gpu, nic, nvme, storage, usb, ... */
};

/* One guest NUMA node as QEMU gets it from the VM config (qemu-server
 * Memory.pm config): its vCPUs and the host nodes its memory is bound to. */
struct pv_cfg_gnode {
	hwloc_bitmap_t cpus;      /* guest vCPU numbers */
	hwloc_bitmap_t hostnodes; /* host-nodes=, NULL when unbound */
	char policy[16];          /* bind|preferred|interleave, "" unbound */
	long memory_mb;
	bool from_socket;         /* numa: 1 without numaN lines: socket i */
};

/* The VM config as PVE applies it (pinner/plan_pve.c). */
struct pv_plan_cfg {
	int cores, sockets, vcpus; /* vcpus: what QEMU creates */
	long memory_mb;
	bool numa, template, kvm, hotplug_memory;
	long hugepages_kb;         /* the config's hugepages: (-1 any), 0 none */
	struct pv_cfg_gnode g[PV_MAX_NODES];
	int ngnode;
	bool bound;                /* some guest node's memory is bound to host nodes */
};

struct pv_plan_gnuma {
	hwloc_bitmap_t cpus;  /* guest vCPU numbers */
	int hostnode;
	long memory_mb;
};

/* The closed set of host changes (doc/DESIGN.md "Actions and steps"). */
enum pv_act_kind {
	PV_ACT_VFIO_BIND,   /* target=bdf: driver_override+unbind+drivers_probe */
	PV_ACT_HUGEPAGES,   /* node, count (pages wanted for this VM), size_kb */
	PV_ACT_CPUSET,      /* target=cgroup/unit, value=cpu list */
	PV_ACT_GOVERNOR,    /* target=cpu list, value=governor */
	PV_ACT_PIN_VCPU,    /* vcpu -> pu */
	PV_ACT_PIN_OTHER,   /* emulator/IO threads -> value cpu list */
	PV_ACT_IRQ_STEER,   /* target=bdf, value=cpu list */
	PV_ACT_IRQBALANCE,  /* value=banned cpu list */
	PV_ACT_IRQ_OTHERS,  /* every other IRQ off value=vm cpus, onto host_cpus */
	PV_ACT_ISOLATE,     /* target=cgroup of the VMs made a cpuset partition of every
			     * CPU but value=host cpus, so the host keeps only those;
			     * value "" (policy isolate = no): the VM only fits into
			     * the partition other VMs made */
};

enum pv_phase { PV_PRE_START = 0, PV_POST_START, PV_PRE_STOP, PV_POST_STOP };

struct pv_action {
	enum pv_act_kind kind;
	enum pv_phase phase;
	char target[64];
	char value[1024];
	int node;
	long count;
	long size_kb;
	int vcpu;
	unsigned pu;
};

struct pv_plan {
	int vmid;
	enum pv_mode mode;
	int nvcpu;
	struct pv_plan_vcpu *vcpus;
	hwloc_bitmap_t vcpu_cpus;   /* PUs of the vCPUs */
	hwloc_bitmap_t vm_cpus;     /* every PU of the cores the VM holds (vCPUs + emulator) */
	hwloc_bitmap_t emulator;
	hwloc_bitmap_t irq_cpus;
	hwloc_bitmap_t host_cpus;   /* where host housekeeping goes */
	hwloc_bitmap_t mem_nodes;   /* nodes the VM's memory is bound to */
	long hp_kb;                 /* 0 = no hugepages */
	struct pv_plan_pages pages[PV_MAX_NODES];
	int npages;
	struct pv_plan_dev dev[PV_MAX_DEVS];
	int ndev;
	char gpu[PV_BDF_LEN];       /* the GPU the placement follows, "" if none */
	char placed_by[PV_BDF_LEN]; /* the device the placement follows, "" if none */
	char placed_why[256];       /* which device decided and why, "" if none */
	struct pv_plan_cfg cfg;     /* what was read */
	int reserve_cores;          /* the host reserve this plan kept */
	/* what `plan --pve` proposes (a plan by device locality alone) */
	hwloc_bitmap_t pve_vcpus;   /* that plan's vCPU CPUs */
	bool free_placement;        /* internal: plan by locality, ignoring the config's bindings */
	/* internal: what the plan was made from, so a refusal can try its fixes */
	bool probing;               /* a plan made only to test a fix: names none */
	const struct pv_policy *in_pol;
	const struct pv_vmconf *in_vc;
	const struct pv_claims *in_claims;
	/* what the VM config should say to match */
	char smp[128];
	struct pv_plan_gnuma gnuma[PV_MAX_NODES];
	int ngnuma;
	struct pv_action act[PV_MAX_ACTIONS];
	int nact;
	char warn[PV_MAX_WARN][256];
	int nwarn;
	/* Safety refusals (doc/DESIGN.md "Safety rules"): pre-start refuses to
	 * run while any is set, unless --force. */
	char refuse[PV_MAX_WARN][256];
	int nrefuse;
};

/* Append a warning / refusal (printf-style); silently capped. */
void pv_plan_warn(struct pv_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pv_plan_refuse(struct pv_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int pv_plan_make(const struct pv_topo *t, const struct pv_policy *pol,
		 const struct pv_vmconf *vc, const struct pv_claims *claims,
		 struct pv_plan *p, struct pv_err *e);
void pv_plan_free(struct pv_plan *p);

/* Emit the stable `plan --json` document (doc/DESIGN.md "plan --json"). */
int pv_plan_json(FILE *f, const struct pv_plan *p, const struct pv_topo *t);
/* Human text and the matching `qm set` lines. */
void pv_plan_print(FILE *f, const struct pv_plan *p, const struct pv_topo *t);
/* What `plan --pve` proposes: each place the VM config differs from the
 * plan, with the qm set line that fixes it. check reports the same list,
 * so the two always agree (issue 16). */
#define PV_MAX_PVE_DIFF 8
struct pv_pve_diff {
	char tag[24];        /* check's tag: numa-hostnodes, numa, hugepages, smp */
	bool error;          /* memory remote from its vCPUs: an error, not a warning */
	char why[512];
	char line[1536];
};
int pv_plan_pve_diff(const struct pv_plan *p, const struct pv_vmconf *vc,
		     struct pv_pve_diff *d, int max);
void pv_plan_print_pve(FILE *f, const struct pv_plan *p, const struct pv_vmconf *vc);

const char *pv_phase_name(enum pv_phase ph);
const char *pv_act_name(enum pv_act_kind k);
