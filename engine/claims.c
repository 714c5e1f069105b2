#include "engine/claims.h"

#include <string.h>

#include "engine/ledger.h"

int pv_claims_load(struct pv_claims *c, int self, struct pv_err *e)
{
	struct pv_ledger l;
	int rc;

	memset(c, 0, sizeof(*c));
	/* planning only: a corrupt ledger is rebuilt for this plan; the phase
	 * (hook/phases.c) sets it aside and keeps the rebuilt one first */
	if (pv_ledger_load_repair(&l, false, e) < 0)
		return -1;
	rc = pv_ledger_claims(&l, self, c, e);
	pv_ledger_free(&l);
	if (rc < 0)
		pv_claims_free(c);
	return rc;
}

void pv_claims_free(struct pv_claims *c)
{
	if (c->cpus)
		hwloc_bitmap_free(c->cpus);
	memset(c, 0, sizeof(*c));
}
