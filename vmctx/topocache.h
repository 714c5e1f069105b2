/* The host's topology as pre-start saw it, kept for the rest of the VM's
 * start: /run/pvepin/<vmid>.topology.xml (hwloc's XML). post-start and the
 * agent plan from it instead of discovering the host again, which on a
 * real host is most of their time (hwloc reads every CPU's and PCI
 * device's sysfs files), and so plan from what pre-start planned from.
 * pre-start itself plans from the saved copy, so both phases see the same
 * input. --topology bypasses it; post-stop and restore remove it. */
#pragma once
#include "common/err.h"
#include "pinner/topo.h"
#include "engine/journal.h"

/* Load the topology for vmid in phase ph: pre-start discovers and saves;
 * post-start uses the saved copy when there is one. Other phases, and
 * whenever the copy cannot be written or read (said on stderr), discover. */
int pv_topocache_load(struct pv_topo *t, int vmid, enum pv_phase ph, struct pv_err *e);
/* Remove vmid's copy (none is fine). */
void pv_topocache_drop(int vmid);
int pv_topocache_path(char *buf, size_t n, int vmid, struct pv_err *e);
