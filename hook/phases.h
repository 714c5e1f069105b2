/* The four hookscript phases (doc/DESIGN.md "What each phase does") and
 * restore. Each runs under the lock, loads the host, policy, VM config and
 * ledger once, plans, and hands that phase's actions to the engine. */
#pragma once
#include <stdio.h>

#include "common/err.h"
#include "conf/policy.h"
#include "pinner/plan.h"
#include "engine/ledger.h"

/* pre-start: refusals, vfio, hugepages, host cpusets, governors; any
 * failure undoes what this run did and returns -1 (PVE then does not start
 * the VM). post-start: vCPU/emulator pins, the VM's scope, IRQs,
 * irqbalance; best effort. pre-stop: nothing. post-stop: pv_restore. */
int pv_phase_run(int vmid, enum pv_phase ph, struct pv_err *e);

/* Undo everything journaled for vmid, newest first, then forget the VM in
 * the ledger. By hand (`pvepin restore`) it refuses while QEMU still runs,
 * unless --force. A second run is a no-op. */
int pv_restore(int vmid, struct pv_err *e);

/* With nothing recorded for vmid: stop its agent or guard, unless its QEMU
 * runs. 1 when one was stopped, 0 when none ran or QEMU runs; what fails is
 * printed (the restore itself has nothing to undo either way). */
int pv_agent_retire(int vmid);

/* What a phase did, for its one line in PVE's task log (hook/summary.c). */
struct pv_phase_sum {
	int ndone[PV_STEP__N];  /* changes made, by step kind */
	int nundo, nleft;       /* post-stop: changes looked at / left alone */
};
/* "pvepin: VM 100 pre-start: bound 2 devices to vfio-pci, ..." or "nothing
 * to do": one line, flushed (an agent forked after it must not repeat it). */
void pv_phase_summary(FILE *f, int vmid, enum pv_phase ph, const struct pv_phase_sum *s);

/* The part of a phase after loading, for tests with hand-built plans: led
 * is loaded (and the lock held) by the caller. */
int pv_phase_apply(const struct pv_plan *p, const struct pv_policy *pol, struct pv_ledger *led,
		   enum pv_phase ph, struct pv_err *e);
