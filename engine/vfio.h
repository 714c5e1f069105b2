/* PCI functions on and off vfio-pci the way the kernel wants it:
 * driver_override, unbind, drivers_probe (never new_id, which would take
 * every device with the same ids). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Does /sys/bus/pci/devices/<bdf> exist? */
bool pv_pci_present(const char *bdf);
/* The bound driver's name, "" if none. */
int pv_pci_driver(const char *bdf, char *buf, size_t n, struct pv_err *e);
/* driver_override, "" when it reads "(null)". */
int pv_pci_override(const char *bdf, char *buf, size_t n, struct pv_err *e);
/* Write driver_override ("" clears it: the kernel wants a lone "\n"). */
int pv_pci_set_override(const char *bdf, const char *drv, struct pv_err *e);
int pv_pci_unbind(const char *bdf, const char *drv, struct pv_err *e);
int pv_pci_probe(const char *bdf, struct pv_err *e);
/* Wait (bounded) until bdf is bound to drv ("" = unbound) and, for
 * vfio-pci with group >= 0, /dev/vfio/<group> exists. */
int pv_pci_wait_driver(const char *bdf, const char *drv, int group, struct pv_err *e);
/* Is the driver's directory under /sys/bus/pci/drivers there (module loaded)? */
bool pv_pci_driver_loaded(const char *drv);
