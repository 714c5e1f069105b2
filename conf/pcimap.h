/* PVE resource mappings (/etc/pve/mapping/pci.cfg): hostpciN: mapping=NAME
 * names a cluster-wide device whose address differs per node. */
#pragma once
#include <stddef.h>

#include "common/err.h"
#include "conf/bdf.h"
#include "conf/vmconf.h"

/* Find mapping `name` in pci.cfg text (cfgname is used in error messages)
 * and fill alt[0..*n) with every `map` line for `node`, in file order:
 * PVE takes the first one not in use (PCI.pm choose_hostpci_devices), which
 * the planner decides, with the hardware in view. */
int pv_pcimap_parse_alts(const char *text, const char *cfgname, const char *name,
			 const char *node, struct pv_mapalt *alt, int max, int *n,
			 struct pv_err *e);
/* The functions of the first such line (at most max). */
int pv_pcimap_parse_string(const char *text, const char *cfgname, const char *name,
			   const char *node, struct pv_bdf *out, int max, int *n,
			   struct pv_err *e);

/* Resolve every hostpciN with mapping= through <root>/etc/pve/mapping/pci.cfg
 * into its bdf[] list (conf: the VM config's path, for errors). A no-op when
 * no hostpci uses a mapping. */
int pv_pcimap_resolve(struct pv_vmconf *c, const char *conf, struct pv_err *e);
