/* Safety refusals of pre-start (DESIGN.md "Safety rules") that need the
 * live host: a device that backs the host's storage (any mounted
 * filesystem, swap, an imported ZFS pool, a mounted btrfs, a dm/md device
 * built on it, VM storage of storage.cfg: vmctx/safety_disk.c) or its
 * networks (IPv4/IPv6 default routes, corosync's rings, network storage:
 * vmctx/safety_net.c), and the only console. The planner adds its own
 * (partial IOMMU groups). Each names its reason; --force overrides. */
#pragma once
#include "common/err.h"
#include "pinner/plan.h"
#include "pinner/topo.h"

/* Adds every finding to p->refuse[]; returns -1 only on internal errors. */
int pv_safety_check(struct pv_plan *p, const struct pv_topo *t, struct pv_err *e);
