/* Read-only: what a journal entry's target holds now, read through its
 * kind's own reader (engine/steps.h), for status. */
#include <stdio.h>
#include <string.h>

#include "engine/steps.h"

int pv_engine_inspect(const struct pv_jent *x, const struct pv_ledger *led, struct pv_inspect *out)
{
	const struct pv_step_ops *o = pv_step_ops_of(x->kind);
	const struct pv_lshared *sh = led ? pv_ledger_shared(led, x->kind, x->target) : NULL;
	const char *want = sh ? sh->written : x->done ? x->got : x->nv;
	int rc;

	if (!o || !o->read || !o->target_ok(x->target))
		return 1;
	snprintf(out->want, sizeof(out->want), "%s", want);
	o->label(x->target, out->label, sizeof(out->label));
	out->now[0] = '\0';
	rc = o->read(x->target, out->now, sizeof(out->now), NULL);
	if (rc != 0)
		out->st = PV_GONE;
	else if (o->same ? !o->same(out->now, want) : !!strcmp(out->now, want))
		out->st = PV_DRIFTED; /* a partition also when "root invalid (why)" */
	else
		out->st = PV_HOLDS;
	return 0;
}
