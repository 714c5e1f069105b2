/* Which IRQs belong to which PCI function, and which ones cannot be steered.
 * The line-level predicates are pure (work on a parsed /proc/interrupts);
 * the rest reads sysfs under --root. */
#pragma once
#include <stdbool.h>

#include "common/err.h"
#include "conf/bdf.h"
#include "irqtune/irqtune.h"
#include "irqtune/procinterrupts.h"

/* Parse and re-format a BDF ("01:00.0" -> "0000:01:00.0") before any path use. */
int pv_irq_bdf_canon(const char *s, char out[PV_BDF_LEN], struct pv_err *e);

/* The function named by one vfio action: "vfio-msix[3](0000:01:00.0)",
 * "vfio-msi[0](...)", "vfio-intx(...)". */
bool pv_irq_vfio_action_bdf(const char *action, char out[PV_BDF_LEN]);

/* The line names bdf: a vfio action for it, a per-device MSI chip
 * ("IR-PCI-MSIX-0000:01:00.0", kernels >= 6.2), or a 6.1 global PCI-MSI
 * domain hwirq (bdf << 11 | domain << 27 | vector). */
bool pv_irq_line_names_bdf(const struct pv_pi_line *l, const char *bdf);

/* Some action is vfio's: the IRQ feeds a VM, whose own steering owns it. */
bool pv_irq_line_is_vfio(const struct pv_pi_line *l);

/* Affinity fixed per CPU by the kernel (xen-percpu, GIC PPIs): never written. */
bool pv_irq_line_percpu(const struct pv_pi_line *l);

/* x86 IRQ 0 (timer) and 2 (cascade): left alone. */
bool pv_irq_is_system(int irq);

/* 1 managed, 0 not, -1 unknown. The only flag the kernel exposes is in
 * debugfs (irq/irqs/N, CONFIG_GENERIC_IRQ_DEBUGFS; Debian's kernels lack
 * it); otherwise the refused write tells (pv_irq_refusal_is_skip). */
int pv_irq_is_managed(int irq);

/* A write error that means "the kernel will not let this IRQ move" (skip)
 * rather than a failure: EIO (6.1) / EPERM (later) from managed, per-CPU or
 * chip-without-affinity IRQs; EINVAL too when the IRQ is known unsteerable. */
bool pv_irq_refusal_is_skip(int errnum, bool known_unsteerable);

/* pv_irq_device_irqs() against an already parsed /proc/interrupts. */
int pv_irq_device_irqs_pi(const struct pv_procint *pi, const char *bdf, int *irqs, int max,
			  int *n, struct pv_err *e);

/* The function's INTx line now (`irq`, when it is neither 0 nor one of its
 * MSI vectors): 1 with *irq set, 0 when it has none. */
int pv_irq_intx_line(const char *bdf, int *irq, struct pv_err *e);
