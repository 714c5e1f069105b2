/* The agent's IRQ watcher: the passthrough devices' MSI/MSI-X vectors
 * (their msi_irqs directories) kept on the planned CPUs. A vector the
 * guest disables stays known (gone), so when it comes back it is a
 * re-assert under its rate limit, never a new journal entry; vectors new to
 * the agent are taken in at most once per rate-limit window. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "conf/cpulist.h"
#include "engine/cpuset.h"
#include "engine/engine.h"
#include "engine/threads.h"
#include "agent/agent_int.h"
#include "irqtune/classify.h"
#include "irqtune/procinterrupts.h"

static int irq_open(int irq)
{
	char path[PV_PATH_MAX];

	if (pv_path(path, sizeof(path), NULL, "/proc/irq/%d/smp_affinity_list", irq) < 0)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* The IRQ's affinity now, reopening once: a freed and reallocated IRQ is
 * a new procfs entry under the same number. 1 = the IRQ is gone. */
static int irq_read(struct agent_irq *q, char *buf, size_t n)
{
	if (q->fd >= 0 && pv_agent_reread(q->fd, buf, n) == 0)
		return 0;
	if (q->fd >= 0)
		close(q->fd);
	if ((q->fd = irq_open(q->irq)) < 0)
		return 1;
	if (pv_agent_reread(q->fd, buf, n) == 0)
		return 0;
	close(q->fd);
	q->fd = -1;
	return 1;
}

static int irq_cmp(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;

	return (a > b) - (a < b);
}

static void irq_drop(struct pv_agent *a, int i)
{
	if (a->irq[i].fd >= 0)
		close(a->irq[i].fd);
	a->irq[i] = a->irq[--a->nirq];
}

static int irq_add(struct pv_agent *a, int irq, bool adopted)
{
	if (a->nirq == a->capirq) {
		int cap = a->capirq ? a->capirq * 2 : 16;
		struct agent_irq *v = realloc(a->irq, (size_t)cap * sizeof(*v));

		if (!v)
			return -1;
		a->irq = v;
		a->capirq = cap;
	}
	a->irq[a->nirq++] = (struct agent_irq){ .irq = irq, .fd = -1,
						.it = { .dirty = true, .fresh = !adopted } };
	a->need_fix = true;
	return 0;
}

/* The vectors listed in d, appended to s->now; how many. */
static int msi_list(DIR *d, struct pv_irq_scan *s)
{
	struct dirent *de;
	int n0 = s->nnow;

	rewinddir(d);
	while ((de = readdir(d))) {
		long v;

		if (pv_parse_long(de->d_name, 0, PV_PI_IRQ_LIMIT - 1, &v) == 0 &&
		    s->nnow < PV_IRQ_MAX_DEV_IRQS)
			s->now[s->nnow++] = (int)v;
	}
	return s->nnow - n0;
}

static int msi_open(const char *bdf, DIR **d, struct pv_err *e)
{
	char canon[PV_BDF_LEN], path[PV_PATH_MAX];

	if (pv_irq_bdf_canon(bdf, canon, e) < 0 ||
	    pv_path(path, sizeof(path), e, "/sys/bus/pci/devices/%s/msi_irqs", canon) < 0)
		return -1;
	if ((*d = opendir(path)) || errno == ENOENT)
		return 0; /* absent: MSI is off */
	return pv_fail(e, errno, "open %s", path);
}

/* Device i's vectors, from its msi_irqs directory kept open between passes
 * (a rewind and a listing, not an open, a listing and a close each tick).
 * The kernel removes the directory when the guest disables MSI and makes
 * a new one when it enables it again: one that lists nothing is opened
 * again by its path. */
static int msi_scan(struct pv_agent *a, int i, struct pv_err *e)
{
	DIR **d = &a->msi[i];

	if (*d && msi_list(*d, a->scan) > 0)
		return 0;
	if (*d)
		closedir(*d);
	*d = NULL;
	if (msi_open(a->cfg->bdf[i], d, e) < 0)
		return -1;
	if (*d)
		msi_list(*d, a->scan);
	return 0;
}

static bool irq_known(const struct pv_agent *a, int irq)
{
	for (int i = 0; i < a->nirq; i++)
		if (a->irq[i].irq == irq)
			return true;
	return false;
}

/* s->now (sorted, unique) and s->fresh, the vectors not known yet; no
 * allocation: this runs every tick. */
static int irqs_list(struct pv_agent *a, struct pv_err *e)
{
	struct pv_irq_scan *s = a->scan;
	int k = 0;

	s->nnow = s->nfresh = 0;
	for (int i = 0; i < a->cfg->nbdf; i++)
		if (msi_scan(a, i, e) < 0)
			return -1;
	if (s->nnow > 1)
		qsort(s->now, (size_t)s->nnow, sizeof(int), irq_cmp);
	for (int i = 0; i < s->nnow; i++) {
		if (k && s->now[k - 1] == s->now[i])
			continue;
		s->now[k++] = s->now[i];
		if (!irq_known(a, s->now[i]))
			s->fresh[s->nfresh++] = s->now[i];
	}
	s->nnow = k;
	return 0;
}

/* The devices' msi_irqs directories: vectors the guest enabled since. One
 * the guest disabled is kept, gone: when it comes back it is the same item
 * (its rate limit, no new journal entry). Vectors new to the agent are
 * taken in at most as often as the new-vector rate limit lets: a guest
 * that keeps toggling MSI-X cannot make the agent write without pause. */
void pv_agent_irqs_scan(struct pv_agent *a)
{
	struct pv_err err = { 0 };
	bool first = a->st.ticks == 0;

	if (!a->irqs)
		return;
	if (irqs_list(a, &err) < 0) {
		a->st.errors++;
		pv_agent_log(a, LOG_ERR, "device IRQs: %s", err.msg);
		return;
	}
	for (int i = 0; i < a->nirq; i++)
		if (!a->irq[i].it.gone && !bsearch(&a->irq[i].irq, a->scan->now,
						  (size_t)a->scan->nnow, sizeof(int), irq_cmp)) {
			a->irq[i].it.gone = true;
			if (a->irq[i].fd >= 0)
				close(a->irq[i].fd);
			a->irq[i].fd = -1;
		}
	if (!a->scan->nfresh)
		return;
	if (!first && !pv_agent_rl_allow(&a->new_irqs, a->now)) {
		a->st.held_off++;
		return; /* seen again at a later scan */
	}
	if (!first)
		pv_agent_rl_note(&a->new_irqs, a->now);
	for (int i = 0; i < a->scan->nfresh; i++)
		irq_add(a, a->scan->fresh[i], first);
}

void pv_agent_irqs_check(struct pv_agent *a)
{
	char buf[PV_IRQ_LIST_LEN];

	for (int i = 0; i < a->nirq; i++) {
		struct agent_irq *q = &a->irq[i];

		if (q->it.dirty || q->it.refused || !pv_agent_rl_allow(&q->it.rl, a->now))
			continue;
		q->it.gone = irq_read(q, buf, sizeof(buf)) == 1;
		if (!q->it.gone && strcmp(buf, q->held)) {
			q->it.dirty = true;
			a->need_fix = true;
		}
	}
}

static void irq_failed(struct pv_agent *a, struct agent_irq *q, const struct pv_err *err)
{
	char what[32];

	if (err->errnum == EIO || err->errnum == EPERM) {
		q->it.refused = true;
		a->st.refused++;
		pv_agent_log(a, LOG_INFO, "irq %d: the kernel refuses an affinity (managed IRQ): left "
			     "alone", q->irq);
		return;
	}
	if (err->errnum == ENOENT) {
		q->it.gone = true;
		return;
	}
	snprintf(what, sizeof(what), "irq %d", q->irq);
	pv_agent_fix_failed(a, &q->it, what, err);
}

static void irq_wrote(struct pv_agent *a, struct agent_irq *q, const char *was)
{
	char what[32];

	if (q->it.fresh) {
		a->st.new_irqs++;
		pv_agent_note(a, true, "irq %d: new device vector steered to %s (was %s)", q->irq,
			      a->cfg->irq_cpus, was);
		return;
	}
	a->st.irq_fixes++;
	snprintf(what, sizeof(what), "irq %d", q->irq);
	pv_agent_held_off(a, &q->it, what);
	pv_agent_note(a, !q->it.logged, "irq %d: affinity %s, set by someone else (or a new IRQ "
		      "under that number): put back to %s", q->irq, was, a->cfg->irq_cpus);
	q->it.logged = true;
}

/* true when it was newly steered (for irqbalance's ban). */
static bool irq_fix(struct pv_agent *a, struct agent_irq *q)
{
	char path[64], was[PV_IRQ_LIST_LEN];
	struct pv_err err = { 0 };
	int steps = a->en.nsteps;
	bool fresh = q->it.fresh;

	q->it.dirty = false;
	if ((q->it.gone = irq_read(q, was, sizeof(was)) == 1))
		return false;
	snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", q->irq);
	if (pv_engine_write_attr(&a->en, path, a->cfg->irq_cpus, &err) < 0) {
		snprintf(q->held, sizeof(q->held), "%s", was);
		irq_failed(a, q, &err);
		return false;
	}
	if ((q->it.gone = irq_read(q, q->held, sizeof(q->held)) == 1))
		return false;
	if (a->en.nsteps > steps)
		irq_wrote(a, q, was);
	q->it.fresh = false;
	return fresh;
}

void pv_agent_irqs_fix(struct pv_agent *a)
{
	_cleanup_bitmap_ hwloc_bitmap_t fresh = hwloc_bitmap_alloc();
	struct pv_err err = { 0 };

	if (!fresh)
		return;
	for (int i = 0; i < a->nirq; i++)
		if (a->irq[i].it.dirty && irq_fix(a, &a->irq[i]))
			hwloc_bitmap_set(fresh, (unsigned)a->irq[i].irq);
	/* irqbalance would move the new vectors off again: ban them as post-start did */
	if (a->cfg->ban_irqs && !hwloc_bitmap_iszero(fresh) &&
	    pv_engine_irqbalance(&a->en, "irqs", fresh, &err) < 0) {
		a->st.errors++;
		pv_agent_log(a, LOG_ERR, "irqbalance: %s", err.msg);
	}
}

void pv_agent_irqs_free(struct pv_agent *a)
{
	for (int i = 0; i < PV_MAX_DEVS; i++) {
		if (a->msi[i])
			closedir(a->msi[i]);
		a->msi[i] = NULL;
	}
	while (a->nirq)
		irq_drop(a, 0);
	free(a->irq);
	a->irq = NULL;
	a->capirq = 0;
}
