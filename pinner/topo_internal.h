/* Steps of pv_topo_load() that live in their own files. */
#pragma once
#include "pinner/topo.h"

/* PCI functions from hwloc, with their locality. */
int pv_topo_load_pci(struct pv_topo *t, struct pv_err *e);
/* IOMMU groups, drivers, boot_vga, sysfs-only PCI functions, hugepage
 * pools, pdpe1gb, under --root. */
int pv_topo_load_sysfs(struct pv_topo *t, struct pv_err *e);
/* Append a PCI function (grows t->pci); returns it or NULL. */
struct pv_pcidev *pv_topo_add_pci(struct pv_topo *t, const char *bdf, struct pv_err *e);
enum pv_pci_kind pv_pci_kind_of(unsigned class_id);
