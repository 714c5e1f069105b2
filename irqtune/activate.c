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

/* What needs no write; -1 when a write is due. */
static int before_write(const struct pv_irq_place *p)
{
	if (p->kind == PV_PLACE_NO_IRQS)
		return PV_IRQ_NONE_YET;
	if (p->gone)
		return PV_IRQ_SKIP_GONE;
	if (strcmp(p->old, p->want) == 0)
		return PV_IRQ_UNCHANGED;
	return -1;
}

/* The status of a write that returned rc (we: its error). */
static enum pv_irq_status after_write(const struct pv_irq_place *p, int rc,
				      const struct pv_err *we, struct pv_irq_line *ln)
{
	if (rc < 0) {
		ln->errnum = we->errnum;
		snprintf(ln->why, sizeof(ln->why), "%.*s", (int)sizeof(ln->why) - 1, we->msg);
		if (we->errnum == ENOENT && p->kind == PV_PLACE_IRQ)
			return PV_IRQ_SKIP_GONE;
		/* debugfs is asked only now: one read per IRQ refused, not
		 * one per IRQ moved (thousands on a big host) */
		if (p->kind == PV_PLACE_IRQ &&
		    pv_irq_refusal_is_skip(we->errnum, p->unsteerable ||
						       (we->errnum == EINVAL && pv_irq_is_managed(p->irq) == 1)))
			return PV_IRQ_SKIP_MANAGED;
		return PV_IRQ_FAILED;
	}
	verify(p, ln);
	return PV_IRQ_STEERED;
}

static enum pv_irq_status apply_one(const struct pv_irq_place *p, pv_attr_writer w, void *ctx,
				    struct pv_irq_line *ln)
{
	char path[PV_PATH_MAX];
	struct pv_err we = { 0 };
	int s = before_write(p);

	if (s >= 0)
		return (enum pv_irq_status)s;
	if (place_path(p, path, sizeof(path), &we) < 0)
		return after_write(p, -1, &we, ln);
	return after_write(p, w(ctx, path, p->old, p->want, &we), &we, ln);
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

/* A report line for place p, its fields copied. */
static struct pv_irq_line *line_for(struct pv_irq_report *rep, const struct pv_irq_place *p,
				    struct pv_err *e)
{
	struct pv_irq_line *ln = report_add(rep, e);

	if (!ln)
		return NULL;
	ln->irq = p->irq;
	memcpy(ln->bdf, p->bdf, sizeof(ln->bdf));
	memcpy(ln->action, p->action, sizeof(ln->action));
	memcpy(ln->old, p->old, sizeof(ln->old));
	memcpy(ln->want, p->want, sizeof(ln->want));
	return ln;
}

/* Whether a line is kept for status s (-1: a write, its status still to
 * come): a brief report keeps only what a count does not say (skips,
 * failures), a write's line made once it failed. */
static bool keeps(const struct pv_irq_report *rep, int s)
{
	if (!rep->brief)
		return true;
	return s >= 0 && s != PV_IRQ_STEERED && s != PV_IRQ_UNCHANGED;
}

/* pv_irq_apply through a batch writer: one journal write for the plan, each
 * write on the fd the plan read the old value from. Failures are counted
 * into *nfail, the first kept in *first (a report line index). A brief
 * report gets a line for a write only once it failed. */
static int apply_batch(const struct pv_irq_plan *pl, pv_attr_batch wb, void *ctx,
		       struct pv_irq_report *rep, int *nfail, int *first, struct pv_err *e)
{
	_cleanup_free_ struct pv_attr_put *puts = calloc((size_t)pl->n + 1, sizeof(*puts));
	_cleanup_free_ char (*paths)[PV_PATH_MAX] = calloc((size_t)pl->n + 1, sizeof(*paths));
	_cleanup_free_ int *at = calloc((size_t)pl->n + 1, 2 * sizeof(*at));
	int np = 0;

	if (!puts || !paths || !at)
		return pv_fail(e, ENOMEM, "IRQ batch");
	for (int i = 0; i < pl->n; i++) {
		const struct pv_irq_place *p = &pl->p[i];
		struct pv_irq_line *ln = NULL;
		int s = before_write(p);

		if (keeps(rep, s) && !(ln = line_for(rep, p, e)))
			return -1;
		if (s >= 0) {
			if (ln)
				ln->status = (enum pv_irq_status)s;
			count(rep, (enum pv_irq_status)s);
			continue;
		}
		if (place_path(p, paths[np], sizeof(paths[np]), e) < 0)
			return -1;
		puts[np] = (struct pv_attr_put){ .path = paths[np], .old = p->old, .val = p->want,
						 .fd = p->fd };
		at[2 * np] = i;
		at[2 * np + 1] = ln ? rep->nline - 1 : -1;
		np++;
	}
	if (np)
		wb(ctx, puts, np);
	for (int k = 0; k < np; k++) {
		const struct pv_irq_place *p = &pl->p[at[2 * k]];
		int li = at[2 * k + 1];
		struct pv_irq_line *ln;

		if (li < 0 && puts[k].rc == 0) {
			count(rep, PV_IRQ_STEERED);
			continue;
		}
		if (li < 0 && !line_for(rep, p, e))
			return -1;
		li = li < 0 ? rep->nline - 1 : li;
		ln = &rep->line[li];
		ln->status = after_write(p, puts[k].rc, &puts[k].err, ln);
		count(rep, ln->status);
		if (ln->status == PV_IRQ_FAILED && (*nfail)++ == 0)
			*first = li;
	}
	return 0;
}

static int pv_irq_apply(const struct pv_irq_plan *pl, pv_attr_writer w, void *ctx,
		 struct pv_irq_report *rep, struct pv_err *e)
{
	const struct pv_irq_line *first_fail = NULL;
	int nfail = 0;

	for (int i = 0; i < pl->n; i++) {
		const struct pv_irq_place *p = &pl->p[i];
		struct pv_irq_line *ln = line_for(rep, p, e);

		if (!ln)
			return -1;
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

int pv_irq_steer_devices_pi(const struct pv_procint *pi, const char (*bdfs)[PV_BDF_LEN], int nbdf,
			    hwloc_const_bitmap_t irq_cpus, pv_attr_writer w, void *ctx,
			    struct pv_irq_report *rep, struct pv_err *e)
{
	struct pv_irq_plan pl = { 0 };
	int r = pv_irq_plan_devices(pi, bdfs, nbdf, irq_cpus, PV_IRQ_SPREAD_ALL, &pl, e);

	if (r == 0)
		r = pv_irq_apply(&pl, w, ctx, rep, e);
	pv_irq_plan_free(&pl);
	return r < 0 ? pv_wrap(e, "steer device IRQs") : 0;
}

int pv_irq_steer_devices(const char (*bdfs)[PV_BDF_LEN], int nbdf, hwloc_const_bitmap_t irq_cpus,
			 pv_attr_writer w, void *ctx, struct pv_irq_report *rep, struct pv_err *e)
{
	struct pv_procint pi;
	int r;

	if (pv_procint_read(&pi, e) < 0)
		return pv_wrap(e, "steer device IRQs");
	r = pv_irq_steer_devices_pi(&pi, bdfs, nbdf, irq_cpus, w, ctx, rep, e);
	pv_procint_free(&pi);
	return r;
}

int pv_irq_steer_intx(const char *bdf, hwloc_const_bitmap_t irq_cpus, pv_attr_writer w, void *ctx,
		      struct pv_irq_report *rep, struct pv_err *e)
{
	struct pv_irq_plan pl = { 0 };
	int r = pv_irq_plan_intx(bdf, irq_cpus, &pl, e);

	if (r == 0)
		r = pv_irq_apply(&pl, w, ctx, rep, e);
	pv_irq_plan_free(&pl);
	return r < 0 ? pv_wrap(e, "steer the INTx line of %s", bdf) : 0;
}

/* IRQs planned and moved per batch: the fds a batch holds open stay well
 * under the usual limit of 1024, and a batch's records fill about one
 * journal write. */
#define OTHERS_BATCH 256

int pv_irq_steer_others_pi(const struct pv_procint *pi, hwloc_const_bitmap_t vm_cpus,
			   hwloc_const_bitmap_t host_cpus, pv_attr_batch wb, void *ctx,
			   struct pv_irq_report *rep, struct pv_err *e)
{
	int r = 0, nfail = 0, first = -1, nplan = 0;

	for (int off = 0; r == 0 && off < pi->nline; off += OTHERS_BATCH) {
		struct pv_procint win = *pi;
		struct pv_irq_plan pl = { 0 };

		win.line = pi->line + off;
		win.nline = pi->nline - off < OTHERS_BATCH ? pi->nline - off : OTHERS_BATCH;
		r = pv_irq_plan_others(&win, vm_cpus, host_cpus, &pl, e);
		if (r == 0)
			r = apply_batch(&pl, wb, ctx, rep, &nfail, &first, e);
		nplan += pl.n;
		pv_irq_plan_free(&pl);
	}
	if (r == 0 && nfail)
		r = pv_fail(e, rep->line[first].errnum, "%d of %d IRQ affinity writes failed; first: %s",
			    nfail, nplan, rep->line[first].why);
	return r < 0 ? pv_wrap(e, "move other IRQs off the VM's CPUs") : 0;
}

int pv_irq_steer_others(hwloc_const_bitmap_t vm_cpus, hwloc_const_bitmap_t host_cpus,
			pv_attr_batch wb, void *ctx, struct pv_irq_report *rep, struct pv_err *e)
{
	struct pv_procint pi;
	int r;

	if (pv_procint_read(&pi, e) < 0)
		return pv_wrap(e, "move other IRQs off the VM's CPUs");
	r = pv_irq_steer_others_pi(&pi, vm_cpus, host_cpus, wb, ctx, rep, e);
	pv_procint_free(&pi);
	return r;
}
