#include "claims.h"

#include <string.h>

/* Until the ledger exists nothing is claimed; the engine fills this from
 * /run/pvepin/ledger (hook/ledger.c). */
int pv_claims_load(struct pv_claims *c, int self, struct pv_err *e)
{
	(void)self;
	(void)e;
	memset(c, 0, sizeof(*c));
	return 0;
}

void pv_claims_free(struct pv_claims *c)
{
	if (c->cpus)
		hwloc_bitmap_free(c->cpus);
	memset(c, 0, sizeof(*c));
}
