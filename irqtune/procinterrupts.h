/* /proc/interrupts as data. The parser is a pure function of the text so it
 * can be tested on captured hosts and fuzzed; reading the live file is a
 * separate step. Layout (kernel/irq/proc.c show_interrupts):
 *
 *            CPU0       CPU2                    <- online CPUs only
 *   77:        12          0  IR-PCI-MSIX-0000:01:00.0    0-edge      vfio-msix[0](0000:01:00.0)
 *    9:         0          0   IO-APIC   9-fasteoi   acpi
 *   11:      1234       5678     GICv3  27 Level     arch_timer     (SHOW_LEVEL arches)
 *  NMI:         0          0   Non-maskable interrupts
 *  ERR:         0                                   <- one count, no description
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Bigger than any NR_IRQS a kernel configures; larger numbers are junk. */
#define PV_PI_IRQ_LIMIT (1 << 24)

struct pv_pi_line {
	int irq;                          /* >= 0; -1 for an arch line (NMI, LOC, ERR, IPI0, ...) */
	const char *label;                /* arch line's label ("NMI"); "" for numbered IRQs */
	const unsigned long long *counts; /* ncount entries, column order of pv_procint.cpu */
	int ncount;
	const char *chip;                 /* "IR-PCI-MSIX-0000:01:00.0", "IO-APIC"; "" if absent */
	long long hwirq;                  /* -1 when the line has none */
	const char *handler;              /* flow handler name: "edge", "fasteoi"; "" if absent */
	const char *level;                /* "Level"/"Edge" on SHOW_LEVEL arches, else "" */
	const char *actions;              /* "PCIe PME, pciehp"; an arch line's description */
};

struct pv_procint {
	int ncpu;                 /* header columns */
	int *cpu;                 /* cpu[i] = Linux CPU number of column i */
	int nline;
	struct pv_pi_line *line;
	int nbad;                 /* lines that could not be understood (skipped) */
	/* private: the strings and counts the lines point into */
	char *text;
	unsigned long long *countbuf;
};

/* Parse len bytes of /proc/interrupts text (need not be NUL-terminated; a NUL
 * ends it). Fails only without a "CPUn" header or on allocation failure;
 * unintelligible lines are skipped and counted in nbad. pv_procint_free()
 * must be called after success; after failure pi holds nothing. */
int pv_procint_parse(const char *buf, size_t len, struct pv_procint *pi, struct pv_err *e);

/* Read and parse <root>/proc/interrupts. */
int pv_procint_read(struct pv_procint *pi, struct pv_err *e);

void pv_procint_free(struct pv_procint *pi);

/* The line of a numbered IRQ, or NULL. */
const struct pv_pi_line *pv_procint_find(const struct pv_procint *pi, int irq);

/* Walk the comma-separated action names of l->actions: *cur starts at
 * l->actions; each call copies the next name (truncated to n-1) and returns
 * true, false at the end. */
bool pv_pi_next_action(const char **cur, char *name, size_t n);

