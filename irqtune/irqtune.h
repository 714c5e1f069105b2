/* irqtune: the IRQ side of pvepin, as the engine (hook/) calls it.
 *
 * Discovery reads /proc/interrupts and /sys/bus/pci/devices/<bdf>/msi_irqs;
 * steering never writes anything itself: every /proc/irq/N/smp_affinity_list
 * write goes through the engine's pv_attr_writer, which journals the old
 * value first so restore is exact. irqbalance is told over its own socket.
 * Every path is built with pv_path(), so --root works throughout.
 */
#pragma once
#include <hwloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/err.h"
#include "conf/bdf.h"

/* The engine's attribute writer: journal, then write (or only journal in
 * --dry-run). path is already rooted. On failure it fills e, keeping the
 * write's errno in e->errnum: irqtune tells refusals (EIO/EPERM on managed
 * or per-CPU IRQs) from real failures by it. */
typedef int (*pv_attr_writer)(void *ctx, const char *path, const char *old, const char *val,
			      struct pv_err *e);

/* One write of a batch. fd: open read-write on path, the old value read
 * from it (the writer then writes there: no second open), or -1. The
 * writer fills rc (0 written or nothing to do, -1 failed) and err. */
struct pv_attr_put {
	const char *path, *old, *val;
	int fd;
	int rc;
	struct pv_err err;
};
/* The engine's batch writer: the whole batch journaled in one write before
 * the first change, then each written. For the other IRQs of post-start:
 * thousands of them on a big host. */
typedef void (*pv_attr_batch)(void *ctx, struct pv_attr_put *puts, int n);

#define PV_IRQ_LIST_LEN 512     /* an smp_affinity_list value */
#define PV_IRQ_MAX_DEV_IRQS 2048 /* MSI-X allows 2048 vectors per function */

enum pv_irq_status {
	PV_IRQ_STEERED,      /* written; effective_affinity_list read back */
	PV_IRQ_UNCHANGED,    /* already had the wanted value: nothing written */
	PV_IRQ_SKIP_MANAGED, /* the kernel refused (managed or per-CPU IRQ) */
	PV_IRQ_SKIP_GONE,    /* the IRQ went away between discovery and write */
	PV_IRQ_NONE_YET,     /* device has no IRQs yet (MSI-X comes with the guest driver) */
	PV_IRQ_FAILED,
};

struct pv_irq_line {
	int irq;                     /* -1: a device line (NONE_YET) or default_smp_affinity */
	char bdf[PV_BDF_LEN];        /* device the IRQ belongs to; "" for others */
	char action[48];             /* first action name in /proc/interrupts */
	char old[PV_IRQ_LIST_LEN];   /* smp_affinity_list before */
	char want[PV_IRQ_LIST_LEN];  /* value written (or that would be) */
	char effective[PV_IRQ_LIST_LEN]; /* effective_affinity_list after, "" if absent */
	bool pending;                /* effective not yet inside want (moves at next interrupt) */
	enum pv_irq_status status;
	int errnum;                  /* of the refused or failed write */
	char why[160];               /* failure text */
};

/* What a steering call did, for status output and -v. */
struct pv_irq_report {
	int steered;
	int unchanged;
	int skipped_managed;
	int skipped_gone;
	int failed;
	bool brief;                  /* lines only for skips and failures (set by the caller):
				      * 5,000 lines of moved IRQs were 9 MB nobody reads without -v */
	int nline;
	int cap;
	struct pv_irq_line *line;    /* malloc'd; pv_irq_report_free() */
};

void pv_irq_report_free(struct pv_irq_report *rep);
/* One line per IRQ:
 * "irq 77 0000:01:00.0 vfio-msix[0](...): 8-15 -> 40-47 (effective 40) steered". */
void pv_irq_report_print(FILE *f, const struct pv_irq_report *rep);

/* Steer every IRQ of the devices to irq_cpus (each IRQ gets the whole set;
 * the kernel's vector allocator spreads the effective CPUs). Refused writes
 * on managed/per-CPU IRQs are skips, not failures. Returns -1 when any write
 * failed (rep says which), 0 otherwise. rep must be zeroed by the caller
 * (or left from an earlier call: lines are appended). */
int pv_irq_steer_devices(const char (*bdfs)[PV_BDF_LEN], int nbdf, hwloc_const_bitmap_t irq_cpus,
			 pv_attr_writer w, void *ctx, struct pv_irq_report *rep, struct pv_err *e);

/* Steer the function's INTx line to irq_cpus before its VM starts. The
 * kernel sets a line's affinity when the first driver requests it (its
 * default, cut to the line's node, unless someone wrote one), and keeps it
 * after the line is freed: journaled only at post-start, after vfio-intx
 * requested it, the "old" value would be that one and restore would leave
 * the line changed. Written first, the line keeps this value when vfio
 * requests it, and restore gives back the value from before the VM.
 * A function with no INTx line is nothing to do. */
int pv_irq_steer_intx(const char *bdf, hwloc_const_bitmap_t irq_cpus, pv_attr_writer w, void *ctx,
		      struct pv_irq_report *rep, struct pv_err *e);

/* Move every other IRQ off the VM's CPUs: each IRQ whose smp_affinity_list
 * meets vm_cpus gets (current - vm_cpus), or host_cpus if that is empty.
 * Skips IRQ 0 and 2, per-CPU IRQs, and IRQs owned by vfio (some VM's device:
 * its owner steers it). Also takes vm_cpus out of
 * /proc/irq/default_smp_affinity so IRQs allocated later start off them. */
int pv_irq_steer_others(hwloc_const_bitmap_t vm_cpus, hwloc_const_bitmap_t host_cpus,
			pv_attr_batch wb, void *ctx, struct pv_irq_report *rep, struct pv_err *e);

/* The same two on a /proc/interrupts already read (irqtune/procinterrupts.h):
 * post-start reads it once for both, not once each (3.9 MB and 80 ms of a
 * post-start on a host with 5,000 IRQs). */
struct pv_procint;
int pv_irq_steer_devices_pi(const struct pv_procint *pi, const char (*bdfs)[PV_BDF_LEN], int nbdf,
			    hwloc_const_bitmap_t irq_cpus, pv_attr_writer w, void *ctx,
			    struct pv_irq_report *rep, struct pv_err *e);
int pv_irq_steer_others_pi(const struct pv_procint *pi, hwloc_const_bitmap_t vm_cpus,
			   hwloc_const_bitmap_t host_cpus, pv_attr_batch wb, void *ctx,
			   struct pv_irq_report *rep, struct pv_err *e);

