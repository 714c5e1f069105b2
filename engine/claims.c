#include "engine/claims.h"

#include <string.h>

#include "engine/ledger.h"

int pv_claims_load(struct pv_claims *c, int self, struct pv_err *e)
{
	struct pv_ledger l;
	int rc;

	memset(c, 0, sizeof(*c));
	if (pv_ledger_load(&l, e) < 0)
		return -1;
	rc = pv_ledger_claims(&l, self, c, e);
	pv_ledger_free(&l);
	return rc;
}

void pv_claims_free(struct pv_claims *c)
{
	if (c->cpus)
		hwloc_bitmap_free(c->cpus);
	memset(c, 0, sizeof(*c));
}
