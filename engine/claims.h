/* Other running VMs' claims (CPUs, devices) for the planner, read from the
 * ledger the engine keeps in /run/pvepin/ledger. */
#pragma once
#include "pinner/plan.h"

/* Fill c with what every VM but `self` holds; an absent ledger is empty. */
int pv_claims_load(struct pv_claims *c, int self, struct pv_err *e);
void pv_claims_free(struct pv_claims *c);
