/* Apply an IRQ plan through the engine's journaling writer, then read back
 * what the kernel made of it. */
#pragma once
#include "irqtune/irqtune.h"
#include "irqtune/placement.h"

/* Write each planned value (unless it already holds), classify refusals as
 * skips, verify effective_affinity_list, and append one report line per
 * entry. Returns -1 (e says how many and the first) if any write failed. */
int pv_irq_apply(const struct pv_irq_plan *pl, pv_attr_writer w, void *ctx,
		 struct pv_irq_report *rep, struct pv_err *e);
