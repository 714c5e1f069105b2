/* IRQB: irqbalance told to keep off the VM's CPUs ("cpus") and to leave
 * its steered IRQs alone ("irqs"), over its socket. old/nv are lists;
 * restore removes what this step added (nv - old) from whatever irqbalance
 * has then, so several VMs' additions come and go independently. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "conf/cpulist.h"
#include "engine/irqbalance.h"
#include "irqtune/irqtune.h"
#include "engine/steps.h"

#define IRQ_LIMIT (1u << 20)

static bool is_cpus(const char *what)
{
	return !strcmp(what, "cpus");
}

/* Current banned set; *running false when no irqbalance answers. */
static int get_set(const char *what, hwloc_bitmap_t set, bool *running, struct pv_err *e)
{
	char buf[PV_JVAL];
	static const int max = 4096;
	_cleanup_free_ int *irqs = NULL;
	int n = 0;

	hwloc_bitmap_zero(set);
	if (is_cpus(what)) {
		if (pv_irqbalance_get_banned(buf, sizeof(buf), running, e) < 0)
			return -1;
		return *running && *buf ? pv_cpulist_parse(buf, ',', PV_MAX_CPUS, set, e) : 0;
	}
	if (!(irqs = malloc(max * sizeof(*irqs))))
		return pv_fail(e, ENOMEM, "irq list");
	if (pv_irqbalance_get_banned_irqs(irqs, max, &n, running, e) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (irqs[i] >= 0)
			hwloc_bitmap_set(set, (unsigned)irqs[i]);
	return 0;
}

static int put_set(const char *what, hwloc_const_bitmap_t set, struct pv_err *e)
{
	char buf[PV_JVAL];
	_cleanup_free_ int *irqs = NULL;
	int n = 0, i;

	if (is_cpus(what)) {
		if (pv_cpulist_format(buf, sizeof(buf), set) < 0)
			return pv_fail(e, E2BIG, "cpu list too long");
		return pv_irqbalance_set_banned(*buf ? buf : NULL, e);
	}
	if (!(irqs = malloc((size_t)(hwloc_bitmap_weight(set) + 1) * sizeof(*irqs))))
		return pv_fail(e, ENOMEM, "irq list");
	hwloc_bitmap_foreach_begin(i, set)
		irqs[n++] = i;
	hwloc_bitmap_foreach_end();
	return pv_irqbalance_set_banned_irqs(irqs, n, e);
}

static int parse(const char *s, hwloc_bitmap_t set, struct pv_err *e)
{
	hwloc_bitmap_zero(set);
	return *s ? pv_cpulist_parse(s, ',', IRQ_LIMIT, set, e) : 0;
}

int pv_engine_irqbalance(struct pv_engine *en, const char *what, hwloc_const_bitmap_t add,
			 struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t cur = hwloc_bitmap_alloc(), nv = hwloc_bitmap_alloc();
	struct pv_jrec r = { .kind = PV_STEP_IRQB };
	bool running;

	if (!cur || !nv)
		return pv_fail(e, ENOMEM, "irq set");
	if (get_set(what, cur, &running, e) < 0)
		return -1;
	if (!running)
		return 0;
	hwloc_bitmap_or(nv, cur, add);
	if (hwloc_bitmap_isequal(nv, cur))
		return 0;
	snprintf(r.target, sizeof(r.target), "%s", is_cpus(what) ? "cpus" : "irqs");
	if (pv_cpulist_format(r.old, sizeof(r.old), cur) < 0 ||
	    pv_cpulist_format(r.nv, sizeof(r.nv), nv) < 0)
		return pv_fail(e, E2BIG, "irqbalance list too long");
	return pv_engine_step(en, &r, NULL, e);
}

static int irqb_apply(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	bool running;

	if (!set)
		return pv_fail(e, ENOMEM, "irq set");
	if (parse(r->nv, set, e) < 0 || put_set(r->target, set, e) < 0 ||
	    get_set(r->target, set, &running, e) < 0)
		return -1;
	return pv_cpulist_format(r->got, sizeof(r->got), set) < 0 ? pv_fail(e, E2BIG, "list") : 0;
}

static int irqb_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		     struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t cur = hwloc_bitmap_alloc(), old = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t added = hwloc_bitmap_alloc();
	bool running;

	if (!cur || !old || !added)
		return pv_fail(e, ENOMEM, "irq set");
	if (get_set(r->target, cur, &running, e) < 0)
		return -1;
	if (!running) {
		snprintf(note, n, "irqbalance does not run: nothing to restore");
		return 0;
	}
	if (parse(r->nv, added, e) < 0 || parse(r->old, old, e) < 0)
		return -1;
	hwloc_bitmap_andnot(added, added, old);
	if (!hwloc_bitmap_intersects(cur, added)) {
		snprintf(note, n, "nothing of pvepin's left in irqbalance's banned %s", r->target);
		return 0;
	}
	hwloc_bitmap_andnot(cur, cur, added);
	if (put_set(r->target, cur, e) < 0)
		return -1;
	snprintf(note, n, "took pvepin's banned %s out again", r->target);
	return 0;
}

static bool irqb_ok(const char *t)
{
	return !strcmp(t, "cpus") || !strcmp(t, "irqs");
}

const struct pv_step_ops pv_step_irqb = { .target_ok = irqb_ok, .apply = irqb_apply,
					  .undo = irqb_undo };
