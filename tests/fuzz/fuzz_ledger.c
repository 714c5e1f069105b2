/* The ledger's text form (/run/pvepin/ledger): whatever a crash or a stray
 * editor left there, every VM's pre-start parses it or refuses it in one
 * line, a refused parse holds nothing, and what a parse accepts is safe to
 * hand to the planner (claims, housekeeping set, pending pages). */
#include "engine/claims.h"
#include "engine/ledger.h"
#include "fuzz_util.h"

static bool terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

static void check_vm(const struct pv_ledger *l, const struct pv_lvm *v)
{
	FUZZ_ASSERT(v->vmid > 0 && pv_ledger_vm(l, v->vmid) == v);
	FUZZ_ASSERT(v->npages >= 0 && v->npages <= PV_MAX_NODES);
	FUZZ_ASSERT(v->ndevs >= 0 && v->ndevs <= PV_MAX_DEVS);
	FUZZ_ASSERT(terminated(v->state, sizeof(v->state)) &&
		    terminated(v->cpus, sizeof(v->cpus)) && terminated(v->host, sizeof(v->host)));
	for (int d = 0; d < v->ndevs; d++)
		FUZZ_ASSERT(terminated(v->devs[d], PV_BDF_LEN));
	for (int p = 0; p < v->npages; p++)
		FUZZ_ASSERT(v->pages[p].count >= 0 && v->page_kb > 0);
}

/* What pre-start does with a ledger it accepted: it may refuse a bad CPU
 * list, but cleanly. */
static void use(const struct pv_ledger *l)
{
	struct pv_claims c;
	struct pv_err e = { 0 };
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	bool any;

	if (!set)
		abort();
	if (pv_ledger_claims(l, 0, &c, &e) == 0)
		FUZZ_ASSERT(c.ndevs <= PV_MAX_DEVS);
	else
		FUZZ_ASSERT(e.msg[0]);
	pv_claims_free(&c);
	e.msg[0] = '\0';
	if (pv_ledger_host_set(l, 0, set, &any, &e) < 0)
		FUZZ_ASSERT(e.msg[0]);
	hwloc_bitmap_free(set);
	for (int i = 0; i < l->nvm; i++)
		FUZZ_ASSERT(pv_ledger_pending_pages(l, 0, 0, l->vm[i].page_kb) >= 0);
	FUZZ_ASSERT(pv_ledger_others(l, 0) == l->nvm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct pv_ledger l;
	struct pv_err e = { 0 };

	if (pv_ledger_parse(text, &l, &e) == 0) {
		/* no header, no ledger: an empty (truncated) file is refused */
		FUZZ_ASSERT(text[0] != '\0');
		FUZZ_ASSERT(l.nvm >= 0 && (l.nvm == 0 || l.vm));
		FUZZ_ASSERT(l.nsh >= 0 && (l.nsh == 0 || l.sh));
		for (int i = 0; i < l.nvm; i++)
			check_vm(&l, &l.vm[i]);
		for (int i = 0; i < l.nsh; i++) {
			const struct pv_lshared *s = &l.sh[i];

			FUZZ_ASSERT((unsigned)s->kind < PV_STEP__N);
			FUZZ_ASSERT(pv_ledger_shared(&l, s->kind, s->target) == s);
			FUZZ_ASSERT(terminated(s->target, sizeof(s->target)) &&
				    terminated(s->orig, sizeof(s->orig)) &&
				    terminated(s->written, sizeof(s->written)));
		}
		use(&l);
		pv_ledger_free(&l);
	} else {
		FUZZ_ASSERT(e.msg[0] && l.vm == NULL && l.sh == NULL && l.nvm == 0 && l.nsh == 0);
	}
	free(text);
	return 0;
}
