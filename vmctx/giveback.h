/* Giving the host back for one VM, from any path that ends it: post-stop,
 * `pvepin restore`, the agent when no post-stop follows its QEMU's end, and
 * any phase that finds a ledger entry with neither QEMU nor agent. */
#pragma once
#include <stdbool.h>

#include "common/err.h"
#include "engine/ledger.h"

/* Undo the VM's journal and drop it from the ledger; the phase lock held. */
int pv_give_back_locked(int vmid, struct pv_ledger *led, struct pv_err *e);
/* The same, telling how many steps were undone and left alone (the phase's
 * summary line). */
int pv_give_back_counted(int vmid, struct pv_ledger *led, int *nundo, int *nleft,
			 struct pv_err *e);

/* A VM in the ledger whose QEMU does not run and that no agent looks after:
 * nothing will ever give its part of the host back but this. */
bool pv_vm_stale(int vmid);

/* Give back every stale VM of the ledger but `except` (-1: none), with a
 * line on stderr for each; the phase lock held. Failures are said and
 * left for `pvepin restore`: they do not fail the caller. */
void pv_give_back_stale(struct pv_ledger *led, int except);
