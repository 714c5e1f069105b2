/* HUGEPAGES: pages added to one node's pool for this VM. target =
 * "node<N>/<size>kB", old = nr_hugepages before, nv = nr_hugepages asked.
 * Restore gives back only what was added and is still there and free (PVE
 * may have shrunk the pool already; other VMs' pages are in use or spoken
 * for in the ledger): never below what others hold. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hugepages.h"
#include "engine/steps.h"

struct hp_arg {
	long want, avail;
};

static int parse_target(const char *t, int *node, long *kb)
{
	char tail[8];

	if (sscanf(t, "node%d/%ldkB%7s", node, kb, tail) != 2 || *node < 0 || *kb <= 0)
		return -1;
	return 0;
}

static bool hp_ok(const char *t)
{
	int node;
	long kb;

	return *t == 'n' && !strpbrk(t, " +-") && parse_target(t, &node, &kb) == 0;
}

static long pending(const struct pv_engine *en, int node, long kb)
{
	return en->led ? pv_ledger_pending_pages(en->led, en->vmid, node, kb) : 0;
}

int pv_engine_hugepages(struct pv_engine *en, int node, long size_kb, long want,
			struct pv_err *e)
{
	struct pv_jrec r = { .kind = PV_STEP_HUGEPAGES };
	struct pv_hp_count c;
	struct hp_arg a = { .want = want };

	if (pv_hp_read(node, size_kb, &c, e) < 0)
		return -1;
	a.avail = c.free - pending(en, node, size_kb);
	if (a.avail < 0)
		a.avail = 0;
	if (a.avail >= want)
		return 0;
	snprintf(r.target, sizeof(r.target), "node%d/%ldkB", node, size_kb);
	snprintf(r.old, sizeof(r.old), "%ld", c.nr);
	snprintf(r.nv, sizeof(r.nv), "%ld", c.nr + want - a.avail);
	return pv_engine_step(en, &r, &a, e);
}

static int hp_apply(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e)
{
	const struct hp_arg *a = arg;
	long old = atol(r->old), nv = atol(r->nv), got;
	int node;
	long kb;
	char sz[16];

	if (parse_target(r->target, &node, &kb) < 0)
		return pv_fail(e, EINVAL, "bad hugepage target '%s'", r->target);
	if (pv_hp_set(node, kb, nv, &got, e) < 0)
		return -1;
	if (got < nv) { /* fragmented: compact once and ask again */
		if (pv_hp_compact(node, e) < 0 || pv_hp_set(node, kb, nv, &got, e) < 0)
			return -1;
	}
	snprintf(r->got, sizeof(r->got), "%ld", got);
	if (got < nv)
		return pv_fail(e, 0, "got %ld of %ld %s pages on node %d: free memory on that node, "
			       "or reserve them at boot (hugepagesz=%s hugepages=%d:%ld)",
			       a->avail + got - old, a->want, pv_hp_size_name(kb, sz, sizeof(sz)),
			       node, sz, node, a->want);
	return 0;
}

static int hp_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		   struct pv_err *e)
{
	struct pv_hp_count c;
	long old = atol(r->old), top = atol(r->done ? r->got : r->nv), added, k, got;
	int node;
	long kb;

	if (parse_target(r->target, &node, &kb) < 0)
		return pv_fail(e, EINVAL, "bad hugepage target '%s'", r->target);
	if (pv_hp_read(node, kb, &c, e) < 0)
		return -1;
	added = (c.nr < top ? c.nr : top) - old;
	k = c.free - pending(en, node, kb);
	if (added < k)
		k = added;
	if (k <= 0) {
		snprintf(note, n, "nothing to give back (pool %ld, %ld free, %ld before pvepin)", c.nr,
			 c.free, old);
		return 0;
	}
	if (pv_hp_set(node, kb, c.nr - k, &got, e) < 0)
		return -1;
	snprintf(note, n, "gave back %ld page%s (pool %ld -> %ld)", c.nr - got,
		 c.nr - got == 1 ? "" : "s", c.nr, got);
	return 0;
}

const struct pv_step_ops pv_step_hugepages = { .target_ok = hp_ok, .apply = hp_apply,
						.undo = hp_undo };
