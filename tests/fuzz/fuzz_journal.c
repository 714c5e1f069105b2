/* The journal's text form: whatever a crash, a full disk or a stray editor
 * left in /run/pvepin/<vmid>.journal, restore parses it or refuses it in one
 * line, and a refused parse holds nothing. */
#include "engine/journal.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct pv_jlist l;
	struct pv_err e = { 0 };

	if (pv_journal_parse(text, "fuzz.journal", &l, &e) == 0) {
		FUZZ_ASSERT(l.n >= 0 && (l.n == 0 || l.r));
		FUZZ_ASSERT(l.vmid > 0 || (l.torn && l.n == 0));
		for (int i = 0; i < l.n; i++) {
			const struct pv_jent *r = &l.r[i];

			FUZZ_ASSERT(r->seq > 0 && r->seq <= l.max_seq);
			FUZZ_ASSERT(i == 0 || r->seq > l.r[i - 1].seq);
			FUZZ_ASSERT(pv_jlist_find(&l, r->seq) == r);
			FUZZ_ASSERT((unsigned)r->kind < PV_STEP__N);
			FUZZ_ASSERT(strlen(r->target) < PV_JTARGET && strlen(r->old) < PV_JVAL &&
				    strlen(r->nv) < PV_JVAL && strlen(r->got) < PV_JVAL &&
				    strlen(r->note) < 256);
			const struct pv_jent *live = pv_jlist_live(&l, r->kind, r->target);

			FUZZ_ASSERT(!live || (!live->undone && live->kind == r->kind &&
					      !strcmp(live->target, r->target) && live->seq >= r->seq));
		}
		pv_jlist_free(&l);
	} else {
		FUZZ_ASSERT(e.msg[0] && l.r == NULL && l.n == 0);
	}
	free(text);
	return 0;
}
