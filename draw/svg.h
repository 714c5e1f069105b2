/* A picture of the host as pvepin sees it: packages, NUMA nodes (memory,
 * hugepages), L3 domains, cores with their PUs and SMT siblings, core
 * kinds, PCI devices where they are local; VMs in colour on the PUs their
 * vCPUs hold, emulator/IRQ CPUs hatched, host housekeeping marked, their
 * devices outlined; the measured core-to-core latency as a heatmap. One
 * self-contained SVG: no scripts, no external fonts or images.
 *
 * Every PU is one <g class="pu" id="pu-N" data-pu="N"> (data-vm, data-role,
 * data-vcpu when a VM holds it); every VM has a legend entry <g
 * class="legend-vm" data-vm="ID" data-colour="#rrggbb">; tests rely on it. */
#pragma once
#include <stdio.h>

#include "common/err.h"
#include "pinner/plan.h"
#include "pinner/topo.h"
#include "pinner/latency.h"
#include "engine/ledger.h"

struct pv_svg_vm {
	int vmid;
	const char *name;           /* the VM config's name, or NULL */
	/* Read: vcpus (may be none: only the CPU sets known), vcpu_cpus,
	 * vm_cpus, emulator, irq_cpus, host_cpus (any may be NULL), hp_kb,
	 * pages, dev, mode, gpu. */
	const struct pv_plan *plan;
	bool proposed;              /* from `plan`: not applied yet */
};

struct pv_svg {
	const struct pv_topo *t;
	const struct pv_svg_vm *vm;
	int nvm;
	const char *caption;        /* third title line, or NULL */
	const struct pv_lat *lat;   /* heatmap, or NULL */
};

/* Write to a file the user named ("-": stdout). */
int pv_svg_save(const char *path, const struct pv_svg *s, struct pv_err *e);

/* `status --svg [FILE]`: every VM in the ledger (vmid > 0: that one) on
 * the host, vCPU numbers from its live QEMU threads when it runs. path
 * NULL or "-": stdout. The lead wires it into `status`. */
int pv_svg_status(const char *path, int vmid, struct pv_err *e);

/* A running VM as the ledger records it (CPU sets, host CPUs, pages,
 * devices; no vCPU order): fill p for drawing. Free with pv_plan_free(). */
int pv_svg_plan_from_ledger(struct pv_plan *p, const struct pv_lvm *v, struct pv_err *e);
