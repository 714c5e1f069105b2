/* The host's topology, discovered once per boot and kept while nothing it
 * depends on changes: /run/pvepin/host.topology.xml (hwloc's XML) with
 * host.topology.key (boot id, kernel release, CPUs and nodes online, the
 * PCI functions, the pvepin binary), checked at every pre-start (a few
 * small reads against hwloc's walk of every CPU's and device's sysfs
 * files) and rediscovered when any of it differs. pre-start links it as
 * /run/pvepin/<vmid>.topology.xml, which post-start and the agent plan
 * from, so the VM's phases see the same input even when the host's is
 * rediscovered meanwhile. pre-start itself plans from that copy too.
 * --topology bypasses it; post-stop and restore remove the VM's name. */
#pragma once
#include "common/err.h"
#include "pinner/topo.h"
#include "engine/journal.h"

/* Load the topology for vmid in phase ph: pre-start uses this boot's when
 * its key still matches, else discovers and keeps; post-start uses the
 * VM's copy when there is one. Other phases, and whenever a copy cannot be
 * written or read (said on stderr), discover. */
int pv_topocache_load(struct pv_topo *t, int vmid, enum pv_phase ph, struct pv_err *e);
/* Remove vmid's copy (none is fine). */
void pv_topocache_drop(int vmid);
