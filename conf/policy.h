/* The per-VM policy ini (doc/DESIGN.md "Policy file"). */
#pragma once
#include <hwloc.h>
#include <stdbool.h>

#include "common/err.h"
#include "conf/bdf.h"
#include "conf/cpulist.h"

enum pv_mode { PV_MODE_AUTO = 0, PV_MODE_GAMING, PV_MODE_WORKSTATION, PV_MODE_MANUAL };
enum pv_prefer { PV_PREFER_CACHE = 0, PV_PREFER_FREQUENCY };
enum pv_tri { PV_AUTO = 0, PV_OFF, PV_ON };
enum pv_hp { PV_HP_AUTO = 0, PV_HP_1G, PV_HP_2M, PV_HP_OFF };
enum pv_irqbalance { PV_IRQB_BAN = 0, PV_IRQB_IGNORE };

#define PV_MAX_VFIO 32

struct pv_policy {
	char source[512];   /* file it came from, "" = built-in defaults */
	/* [vm] */
	enum pv_mode mode;  /* auto: gaming when the VM passes a GPU, else workstation */
	int vcpus_count;    /* 0 = auto (the VM config's vCPU count) */
	int vcpus_list[PV_MAX_CPUS]; /* manual: PU for vCPU i, in written order */
	int vcpus_n;        /* entries in vcpus_list, 0 if not a list */
	enum pv_prefer prefer;
	int max_l3;         /* default 2 */
	enum pv_tri smt;
	/* [memory] */
	enum pv_hp hugepages;
	hwloc_bitmap_t nodes; /* NULL = auto */
	long reserve_mib;   /* per node kept from hugepages, -1 = auto */
	/* [devices] */
	bool vfio_auto;     /* every hostpciN of the VM config */
	struct pv_bdf vfio[PV_MAX_VFIO];
	int nvfio;
	bool restore_driver;
	/* [irq] */
	bool irq_steer;
	hwloc_bitmap_t irq_cpus; /* NULL = auto (the plan's) */
	enum pv_irqbalance irqbalance;
	/* [host] */
	bool isolate;
	char governor[32];  /* "" = leave governors alone */
	int reserve_cores;  /* cores kept for the host, -1 = auto; 0 = none */
};

/* Built-in defaults, as doc/DESIGN.md "Policy file" lists them. */
void pv_policy_defaults(struct pv_policy *p);

/* Parse ini text (name is used in "name:line: ..." errors). On error nothing
 * in *p is to be trusted; call pv_policy_free() anyway. */
int pv_policy_parse_string(const char *text, const char *name, struct pv_policy *p,
			   struct pv_err *e);

/* Load the policy for vmid: --policy FILE if given, else
 * <root>/etc/pve/pvepin/<vmid>.ini, then <root>/etc/pvepin/<vmid>.ini, else
 * defaults. Refuses files not owned by root or group/world writable
 * (check_owner=false skips that, for --root fixture trees owned by a user). */
int pv_policy_load(int vmid, const char *explicit_path, bool check_owner,
		   struct pv_policy *p, struct pv_err *e);

void pv_policy_free(struct pv_policy *p);

const char *pv_mode_name(enum pv_mode m);
