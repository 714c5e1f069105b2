/* What each IRQ's affinity should become. The value functions are pure; the
 * plan builders also read the current smp_affinity_list under --root, so the
 * journal gets the exact old value and unchanged IRQs are not written. */
#pragma once
#include <hwloc.h>
#include <stdbool.h>

#include "irqtune/irqtune.h"
#include "irqtune/procinterrupts.h"

enum pv_place_kind {
	PV_PLACE_IRQ,       /* /proc/irq/<irq>/smp_affinity_list */
	PV_PLACE_NO_IRQS,   /* a device with no IRQs yet: report only */
};

struct pv_irq_place {
	enum pv_place_kind kind;
	int irq;
	char bdf[PV_BDF_LEN];
	char action[48];
	char old[PV_IRQ_LIST_LEN];
	char want[PV_IRQ_LIST_LEN];
	bool unsteerable; /* per-CPU, known before any write (managed IRQs are
			   * asked of debugfs when a write is refused) */
	bool gone;        /* /proc/irq/<irq> vanished while planning */
	int fd;           /* other IRQs: its smp_affinity_list, open read-write,
			   * old read from it, for the write; -1 if none.
			   * pv_irq_plan_free closes it. */
};

struct pv_irq_plan {
	struct pv_irq_place *p; /* malloc'd */
	int n;
	int cap;
};

void pv_irq_plan_free(struct pv_irq_plan *pl);

enum pv_irq_spread {
	PV_IRQ_SPREAD_ALL = 0, /* all of irq_cpus to each; the kernel picks the effective CPU */
	PV_IRQ_SPREAD_ONE,     /* IRQ i gets the (i mod |irq_cpus|)-th CPU: fixed, predictable */
};

/* vals[i] for the i-th of n IRQs (in the caller's order). */
int pv_irq_place_values(int n, hwloc_const_bitmap_t irq_cpus, enum pv_irq_spread mode,
			char (*vals)[PV_IRQ_LIST_LEN], struct pv_err *e);

/* Another IRQ's new affinity: cur - vm_cpus within host_cpus (an offline
 * CPU is in neither), or host_cpus when that leaves nothing. Returns 1 with out set when cur meets vm_cpus, 0 when the IRQ may
 * stay as it is. */
int pv_irq_place_other(hwloc_const_bitmap_t cur, hwloc_const_bitmap_t vm_cpus,
		       hwloc_const_bitmap_t host_cpus, hwloc_bitmap_t out);

/* The kernel's hex cpumask text ("ff,ffffff00": 32-bit words, high first),
 * as in smp_affinity, default_smp_affinity and irqbalance's BANNED. */
int pv_irq_mask_parse(const char *s, hwloc_bitmap_t set);
/* Plan the device IRQs (one entry per IRQ, one NO_IRQS entry per device
 * that has none). IRQs shared between the listed devices appear once. */
int pv_irq_plan_devices(const struct pv_procint *pi, const char (*bdfs)[PV_BDF_LEN], int nbdf,
			hwloc_const_bitmap_t irq_cpus, enum pv_irq_spread mode,
			struct pv_irq_plan *pl, struct pv_err *e);

/* Plan the function's INTx line (pv_irq_intx_line) onto irq_cpus, read
 * before the VM's driver requests it: nothing when it has none. */
int pv_irq_plan_intx(const char *bdf, hwloc_const_bitmap_t irq_cpus, struct pv_irq_plan *pl,
		     struct pv_err *e);

/* Plan "other IRQs off the VM's CPUs", default_smp_affinity included. */
int pv_irq_plan_others(const struct pv_procint *pi, hwloc_const_bitmap_t vm_cpus,
		       hwloc_const_bitmap_t host_cpus, struct pv_irq_plan *pl, struct pv_err *e);
