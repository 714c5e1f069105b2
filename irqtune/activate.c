#include "irqtune/activate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "irqtune/classify.h"

void pv_irq_report_free(struct pv_irq_report *rep)
{
	free(rep->line);
	memset(rep, 0, sizeof(*rep));
}

static const char *pv_irq_status_name(enum pv_irq_status s)
{
	switch (s) {
	case PV_IRQ_STEERED:
		return "steered";
	case PV_IRQ_UNCHANGED:
		return "unchanged";
	case PV_IRQ_SKIP_MANAGED:
		return "skipped (kernel-managed or per-CPU)";
	case PV_IRQ_SKIP_GONE:
		return "skipped (IRQ gone)";
	case PV_IRQ_NONE_YET:
		return "no IRQs yet";
	case PV_IRQ_FAILED:
		return "FAILED";
	}
	return "?";
}

void pv_irq_report_print(FILE *f, const struct pv_irq_report *rep)
{
	for (int i = 0; i < rep->nline; i++) {
		const struct pv_irq_line *l = &rep->line[i];

		if (l->status == PV_IRQ_NONE_YET) {
			fprintf(f, "  %s: no IRQs yet\n", l->bdf);
			continue;
		}
		if (l->irq >= 0)
			fprintf(f, "  irq %d", l->irq);
		else
			fprintf(f, "  %s", l->action);
		if (l->bdf[0])
			fprintf(f, " %s", l->bdf);
		if (l->irq >= 0 && l->action[0])
			fprintf(f, " %s", l->action);
		fprintf(f, ": %s -> %s", l->old[0] ? l->old : "?", l->want);
		if (l->effective[0])
			fprintf(f, " (effective %s%s)", l->effective,
				l->pending ? ", moves at next interrupt" : "");
		fprintf(f, " %s", pv_irq_status_name(l->status));
		if (l->status == PV_IRQ_FAILED || l->status == PV_IRQ_SKIP_MANAGED)
			fprintf(f, ": %s", l->why);
		fputc('\n', f);
	}
	fprintf(f, "  %d steered, %d unchanged, %d skipped (managed/per-CPU), %d gone, %d failed\n",
		rep->steered, rep->unchanged, rep->skipped_managed, rep->skipped_gone, rep->failed);
}

static struct pv_irq_line *report_add(struct pv_irq_report *rep, struct pv_err *e)
{
	if (rep->nline == rep->cap) {
		int cap = rep->cap ? rep->cap * 2 : 32;
		struct pv_irq_line *nl = realloc(rep->line, (size_t)cap * sizeof(*nl));

		if (!nl) {
			pv_fail(e, ENOMEM, "IRQ report");
			return NULL;
		}
		rep->line = nl;
		rep->cap = cap;
	}
	memset(&rep->line[rep->nline], 0, sizeof(rep->line[0]));
	return &rep->line[rep->nline++];
}

/* effective_affinity_list exists on SMP kernels with GENERIC_IRQ_EFFECTIVE_AFF_MASK
 * (x86 has it). On x86 without interrupt remapping a move completes only at
 * the IRQ's next interrupt, so an old CPU there is "pending", not a failure. */
static void verify(const struct pv_irq_place *p, struct pv_irq_line *ln)
{
	char path[PV_PATH_MAX];
	_cleanup_bitmap_ hwloc_bitmap_t eff = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t want = hwloc_bitmap_alloc();

	if (!eff || !want || p->kind != PV_PLACE_IRQ || pv_opt.dry_run)
		return;
	/* a host IRQ moved off the VM's CPUs is not watched: its effective
	 * CPU is read back only when someone is reading the report */
	if (!p->bdf[0] && !pv_opt.verbose)
		return;
	if (pv_path(path, sizeof(path), NULL, "/proc/irq/%d/effective_affinity_list", p->irq) < 0 ||
	    pv_read_attr(path, ln->effective, sizeof(ln->effective), NULL) < 0) {
		ln->effective[0] = '\0';
		return;
	}
	if (!ln->effective[0] || pv_cpulist_parse(ln->effective, ',', PV_MAX_CPUS, eff, NULL) < 0 ||
	    pv_cpulist_parse(p->want, ',', PV_MAX_CPUS, want, NULL) < 0)
		return;
	ln->pending = !hwloc_bitmap_isincluded(eff, want);
}

static int place_path(const struct pv_irq_place *p, char *path, size_t n, struct pv_err *e)
{
	return pv_path(path, n, e, "/proc/irq/%d/smp_affinity_list", p->irq);
}

static enum pv_irq_status apply_one(const struct pv_irq_place *p, pv_attr_writer w, void *ctx,
				    struct pv_irq_line *ln)
{
	char path[PV_PATH_MAX];
	struct pv_err we = { 0 };

	if (p->kind == PV_PLACE_NO_IRQS)
		return PV_IRQ_NONE_YET;
	if (p->gone)
		return PV_IRQ_SKIP_GONE;
	if (strcmp(p->old, p->want) == 0)
		return PV_IRQ_UNCHANGED;
	if (place_path(p, path, sizeof(path), &we) < 0 || w(ctx, path, p->old, p->want, &we) < 0) {
		ln->errnum = we.errnum;
		snprintf(ln->why, sizeof(ln->why), "%.*s", (int)sizeof(ln->why) - 1, we.msg);
		if (we.errnum == ENOENT && p->kind == PV_PLACE_IRQ)
			return PV_IRQ_SKIP_GONE;
		/* debugfs is asked only now: one read per IRQ refused, not
		 * one per IRQ moved (thousands on a big host) */
		if (p->kind == PV_PLACE_IRQ &&
		    pv_irq_refusal_is_skip(we.errnum, p->unsteerable ||
						      (we.errnum == EINVAL && pv_irq_is_managed(p->irq) == 1)))
			return PV_IRQ_SKIP_MANAGED;
		return PV_IRQ_FAILED;
	}
	verify(p, ln);
	return PV_IRQ_STEERED;
}

static void count(struct pv_irq_report *rep, enum pv_irq_status s)
{
	switch (s) {
	case PV_IRQ_STEERED:
		rep->steered++;
		break;
	case PV_IRQ_UNCHANGED:
		rep->unchanged++;
		break;
	case PV_IRQ_SKIP_MANAGED:
		rep->skipped_managed++;
		break;
	case PV_IRQ_SKIP_GONE:
		rep->skipped_gone++;
		break;
	case PV_IRQ_FAILED:
		rep->failed++;
		break;
	case PV_IRQ_NONE_YET:
		break;
	}
}

/* Write each planned value (unless it already holds), classify refusals as
 * skips, verify effective_affinity_list, and append one report line per
 * entry. Returns -1 (e says how many and the first) if any write failed. */
static int pv_irq_apply(const struct pv_irq_plan *pl, pv_attr_writer w, void *ctx,
		 struct pv_irq_report *rep, struct pv_err *e)
{
	const struct pv_irq_line *first_fail = NULL;
	int nfail = 0;

	for (int i = 0; i < pl->n; i++) {
		const struct pv_irq_place *p = &pl->p[i];
		struct pv_irq_line *ln = report_add(rep, e);

		if (!ln)
			return -1;
		ln->irq = p->irq;
		memcpy(ln->bdf, p->bdf, sizeof(ln->bdf));
		memcpy(ln->action, p->action, sizeof(ln->action));
		memcpy(ln->old, p->old, sizeof(ln->old));
		memcpy(ln->want, p->want, sizeof(ln->want));
		ln->status = apply_one(p, w, ctx, ln);
		count(rep, ln->status);
		if (ln->status == PV_IRQ_FAILED) {
			nfail++;
			if (!first_fail)
				first_fail = ln;
		}
	}
	if (nfail)
		return pv_fail(e, first_fail->errnum,
			       "%d of %d IRQ affinity writes failed; first: %s", nfail, pl->n,
			       first_fail->why);
	return 0;
}

int pv_irq_steer_devices(const char (*bdfs)[PV_BDF_LEN], int nbdf, hwloc_const_bitmap_t irq_cpus,
			 pv_attr_writer w, void *ctx, struct pv_irq_report *rep, struct pv_err *e)
{
	struct pv_procint pi;
	struct pv_irq_plan pl = { 0 };
	int r;

	if (pv_procint_read(&pi, e) < 0)
		return -1;
	r = pv_irq_plan_devices(&pi, bdfs, nbdf, irq_cpus, PV_IRQ_SPREAD_ALL, &pl, e);
	if (r == 0)
		r = pv_irq_apply(&pl, w, ctx, rep, e);
	pv_irq_plan_free(&pl);
	pv_procint_free(&pi);
	return r < 0 ? pv_wrap(e, "steer device IRQs") : 0;
}

int pv_irq_steer_others(hwloc_const_bitmap_t vm_cpus, hwloc_const_bitmap_t host_cpus,
			pv_attr_writer w, void *ctx, struct pv_irq_report *rep, struct pv_err *e)
{
	struct pv_procint pi;
	struct pv_irq_plan pl = { 0 };
	int r;

	if (pv_procint_read(&pi, e) < 0)
		return -1;
	r = pv_irq_plan_others(&pi, vm_cpus, host_cpus, &pl, e);
	if (r == 0)
		r = pv_irq_apply(&pl, w, ctx, rep, e);
	pv_irq_plan_free(&pl);
	pv_procint_free(&pi);
	return r < 0 ? pv_wrap(e, "move other IRQs off the VM's CPUs") : 0;
}
