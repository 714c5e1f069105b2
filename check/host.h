/* `check` host readiness: the guide's one-time host setup (IOMMU, interrupt
 * remapping, 1G pages, vfio modules and initramfs, blacklists, vfio-pci
 * ids=, option ROMs, boot VGA, ignore_msrs, NUMA/NPS, irqbalance), read
 * from the running host or a captured --root, each item ok/warn/error with
 * its fix. the README's troubleshooting section lists every message. */
#pragma once
#include "conf/vmconf.h"
#include "pinner/topo.h"
#include "check/report.h"

/* Audit the host. vm: check the passthrough devices of this VM config
 * (`check VMID`); NULL: of every VM config in <root>/etc/pve/qemu-server
 * (`check`). Per-VM hugepage capacity is left to pv_check_vm when vm is
 * given. */
void pv_check_host(const struct pv_topo *t, const struct pv_vmconf *vm, struct pv_report *r);
