#include "irqtune/placement.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "conf/cpulist.h"
#include "irqtune/classify.h"

void pv_irq_plan_free(struct pv_irq_plan *pl)
{
	for (int i = 0; i < pl->n; i++)
		if (pl->p[i].fd >= 0)
			close(pl->p[i].fd);
	free(pl->p);
	memset(pl, 0, sizeof(*pl));
}

static struct pv_irq_place *plan_add(struct pv_irq_plan *pl, struct pv_err *e)
{
	if (pl->n == pl->cap) {
		int cap = pl->cap ? pl->cap * 2 : 32;
		struct pv_irq_place *np = realloc(pl->p, (size_t)cap * sizeof(*np));

		if (!np) {
			pv_fail(e, ENOMEM, "IRQ plan");
			return NULL;
		}
		pl->p = np;
		pl->cap = cap;
	}
	memset(&pl->p[pl->n], 0, sizeof(pl->p[0]));
	pl->p[pl->n].fd = -1;
	return &pl->p[pl->n++];
}

int pv_irq_place_values(int n, hwloc_const_bitmap_t irq_cpus, enum pv_irq_spread mode,
			char (*vals)[PV_IRQ_LIST_LEN], struct pv_err *e)
{
	int w = hwloc_bitmap_weight(irq_cpus), cpu = -1;

	if (w <= 0)
		return pv_fail(e, EINVAL, "IRQ CPU set is empty");
	for (int i = 0; i < n; i++) {
		if (mode == PV_IRQ_SPREAD_ALL) {
			if (pv_cpulist_format(vals[i], PV_IRQ_LIST_LEN, irq_cpus) < 0)
				return pv_fail(e, E2BIG, "IRQ CPU list too long");
			continue;
		}
		cpu = hwloc_bitmap_next(irq_cpus, cpu);
		if (cpu < 0)
			cpu = hwloc_bitmap_first(irq_cpus);
		snprintf(vals[i], PV_IRQ_LIST_LEN, "%d", cpu);
	}
	return 0;
}

int pv_irq_place_other(hwloc_const_bitmap_t cur, hwloc_const_bitmap_t vm_cpus,
		       hwloc_const_bitmap_t host_cpus, hwloc_bitmap_t out)
{
	if (!hwloc_bitmap_intersects(cur, vm_cpus))
		return 0;
	hwloc_bitmap_andnot(out, cur, vm_cpus);
	/* a mask keeps the CPUs it had when they went offline: left with
	 * only those, the write would be refused (EINVAL) */
	hwloc_bitmap_and(out, out, host_cpus);
	if (hwloc_bitmap_iszero(out))
		hwloc_bitmap_copy(out, host_cpus);
	return 1;
}

static bool pv_irq_other_candidate(const struct pv_pi_line *l)
{
	return l->irq >= 0 && !pv_irq_is_system(l->irq) && !pv_irq_line_percpu(l) &&
	       !pv_irq_line_is_vfio(l);
}

int pv_irq_mask_parse(const char *s, hwloc_bitmap_t set)
{
	size_t len = strlen(s), chunk = 0;
	unsigned bit = 0;

	hwloc_bitmap_zero(set);
	if (len == 0)
		return -1;
	/* Right to left: every chunk but the leftmost has exactly 8 digits. */
	for (size_t i = len; i-- > 0;) {
		char c = s[i];
		unsigned v;

		if (c == ',') {
			if (chunk != 8 || i == 0)
				return -1;
			chunk = 0;
			continue;
		}
		if (!isxdigit((unsigned char)c) || ++chunk > 8)
			return -1;
		if (isdigit((unsigned char)c))
			v = (unsigned)(c - '0');
		else
			v = (unsigned)(tolower((unsigned char)c) - 'a' + 10);
		for (int b = 0; b < 4; b++, bit++) {
			if (!(v & (1u << b)))
				continue;
			if (bit >= PV_MAX_CPUS)
				return -1;
			hwloc_bitmap_set(set, bit);
		}
	}
	return 0;
}

/* Current smp_affinity_list: 0, or 1 if the IRQ has no /proc/irq entry. */
static int read_affinity(int irq, char *buf, size_t n, struct pv_err *e)
{
	char path[PV_PATH_MAX];
	struct pv_err re = { 0 };

	if (pv_path(path, sizeof(path), e, "/proc/irq/%d/smp_affinity_list", irq) < 0)
		return -1;
	if (pv_read_attr(path, buf, n, &re) >= 0)
		return 0;
	buf[0] = '\0';
	if (re.errnum == ENOENT)
		return 1;
	if (e)
		*e = re;
	return -1;
}

/* read_affinity from an fd kept open read-write: the write that moves the
 * IRQ then needs no open of its own (open, read, write, close in all).
 * Read-only where writing is not allowed (a dry run by a user): *fd -1. */
static int read_affinity_rw(int irq, char *buf, size_t n, int *fd, struct pv_err *e)
{
	char path[PV_PATH_MAX];
	ssize_t r;
	int f;

	*fd = -1;
	if (pv_path(path, sizeof(path), e, "/proc/irq/%d/smp_affinity_list", irq) < 0)
		return -1;
	f = open(path, O_RDWR | O_CLOEXEC);
	if (f < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		return read_affinity(irq, buf, n, e);
	if (f < 0 && errno == ENOENT) {
		buf[0] = '\0';
		return 1;
	}
	if (f < 0)
		return pv_fail(e, errno, "open %s", path);
	/* a kernel attribute comes whole from one read */
	do
		r = read(f, buf, n - 1);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int err = errno;

		close(f);
		return pv_fail(e, err, "read %s", path);
	}
	while (r > 0 && buf[r - 1] == '\n')
		r--;
	buf[r] = '\0';
	*fd = f;
	return 0;
}

static void first_action(const struct pv_pi_line *l, char *out, size_t n)
{
	const char *cur = l ? l->actions : "";

	if (!pv_pi_next_action(&cur, out, n))
		out[0] = '\0';
}


static int plan_device(const struct pv_procint *pi, const char *bdf, hwloc_const_bitmap_t irq_cpus,
		       enum pv_irq_spread mode, hwloc_bitmap_t seen, struct pv_irq_plan *pl,
		       struct pv_err *e)
{
	_cleanup_free_ int *irqs = malloc(PV_IRQ_MAX_DEV_IRQS * sizeof(int));
	_cleanup_free_ char(*vals)[PV_IRQ_LIST_LEN] = NULL;
	struct pv_irq_place *p;
	int n, k = 0;

	if (!irqs)
		return pv_fail(e, ENOMEM, "IRQs of %s", bdf);
	if (pv_irq_device_irqs_pi(pi, bdf, irqs, PV_IRQ_MAX_DEV_IRQS, &n, e) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (!hwloc_bitmap_isset(seen, (unsigned)irqs[i]))
			irqs[k++] = irqs[i];
	if (n == 0) {
		p = plan_add(pl, e);
		if (!p)
			return -1;
		p->kind = PV_PLACE_NO_IRQS;
		p->irq = -1;
		snprintf(p->bdf, sizeof(p->bdf), "%s", bdf);
		return 0;
	}
	vals = calloc((size_t)(k ? k : 1), sizeof(*vals));
	if (!vals)
		return pv_fail(e, ENOMEM, "IRQs of %s", bdf);
	if (pv_irq_place_values(k, irq_cpus, mode, vals, e) < 0)
		return -1;
	for (int i = 0; i < k; i++) {
		const struct pv_pi_line *l = pv_procint_find(pi, irqs[i]);
		int r;

		hwloc_bitmap_set(seen, (unsigned)irqs[i]);
		p = plan_add(pl, e);
		if (!p)
			return -1;
		p->kind = PV_PLACE_IRQ;
		p->irq = irqs[i];
		snprintf(p->bdf, sizeof(p->bdf), "%s", bdf);
		first_action(l, p->action, sizeof(p->action));
		memcpy(p->want, vals[i], sizeof(p->want));
		p->unsteerable = l && pv_irq_line_percpu(l);
		r = read_affinity(irqs[i], p->old, sizeof(p->old), e);
		if (r < 0)
			return -1;
		p->gone = r == 1;
	}
	return 0;
}

int pv_irq_plan_devices(const struct pv_procint *pi, const char (*bdfs)[PV_BDF_LEN], int nbdf,
			hwloc_const_bitmap_t irq_cpus, enum pv_irq_spread mode,
			struct pv_irq_plan *pl, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t seen = hwloc_bitmap_alloc();

	if (!seen)
		return pv_fail(e, ENOMEM, "IRQ plan");
	if (!irq_cpus || hwloc_bitmap_iszero(irq_cpus))
		return pv_fail(e, EINVAL, "no CPUs to steer device IRQs to");
	for (int i = 0; i < nbdf; i++) {
		char canon[PV_BDF_LEN];

		if (pv_irq_bdf_canon(bdfs[i], canon, e) < 0)
			return -1;
		if (plan_device(pi, canon, irq_cpus, mode, seen, pl, e) < 0)
			return pv_wrap(e, "IRQs of %s", canon);
	}
	return 0;
}

int pv_irq_plan_intx(const char *bdf, hwloc_const_bitmap_t irq_cpus, struct pv_irq_plan *pl,
		     struct pv_err *e)
{
	char canon[PV_BDF_LEN], vals[1][PV_IRQ_LIST_LEN];
	struct pv_irq_place *p;
	int irq, r;

	if (!irq_cpus || hwloc_bitmap_iszero(irq_cpus))
		return pv_fail(e, EINVAL, "no CPUs to steer device IRQs to");
	if (pv_irq_bdf_canon(bdf, canon, e) < 0)
		return -1;
	r = pv_irq_intx_line(canon, &irq, e);
	if (r <= 0)
		return r;
	if (pv_irq_place_values(1, irq_cpus, PV_IRQ_SPREAD_ALL, vals, e) < 0 ||
	    !(p = plan_add(pl, e)))
		return -1;
	p->kind = PV_PLACE_IRQ;
	p->irq = irq;
	memcpy(p->bdf, canon, sizeof(p->bdf));
	snprintf(p->action, sizeof(p->action), "INTx");
	memcpy(p->want, vals[0], sizeof(p->want));
	r = read_affinity(irq, p->old, sizeof(p->old), e);
	if (r < 0)
		return -1;
	p->gone = r == 1;
	return 0;
}

static int plan_other(const struct pv_pi_line *l, hwloc_const_bitmap_t vm_cpus,
		      hwloc_const_bitmap_t host_cpus, hwloc_bitmap_t cur, hwloc_bitmap_t out,
		      struct pv_irq_plan *pl, struct pv_err *e)
{
	char old[PV_IRQ_LIST_LEN];
	struct pv_irq_place *p = NULL;
	int fd, r = read_affinity_rw(l->irq, old, sizeof(old), &fd, e);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (pv_cpulist_parse(old, ',', PV_MAX_CPUS, cur, e) < 0)
		r = pv_wrap(e, "/proc/irq/%d/smp_affinity_list", l->irq);
	else if (pv_irq_place_other(cur, vm_cpus, host_cpus, out) == 0)
		r = 1;
	else if (!(p = plan_add(pl, e)))
		r = -1;
	if (r != 0) {
		if (fd >= 0)
			close(fd);
		return r < 0 ? -1 : 0;
	}
	p->fd = fd;
	p->kind = PV_PLACE_IRQ;
	p->irq = l->irq;
	first_action(l, p->action, sizeof(p->action));
	memcpy(p->old, old, sizeof(p->old));
	if (pv_cpulist_format(p->want, sizeof(p->want), out) < 0)
		return pv_fail(e, E2BIG, "IRQ %d: CPU list too long", l->irq);
	p->unsteerable = pv_irq_line_percpu(l);
	return 0;
}

int pv_irq_plan_others(const struct pv_procint *pi, hwloc_const_bitmap_t vm_cpus,
		       hwloc_const_bitmap_t host_cpus, struct pv_irq_plan *pl, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t cur = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t out = hwloc_bitmap_alloc();

	if (!cur || !out)
		return pv_fail(e, ENOMEM, "IRQ plan");
	if (!vm_cpus || hwloc_bitmap_iszero(vm_cpus))
		return 0;
	if (!host_cpus || hwloc_bitmap_iszero(host_cpus))
		return pv_fail(e, EINVAL, "no host CPUs to move other IRQs to");
	if (hwloc_bitmap_intersects(host_cpus, vm_cpus))
		return pv_fail(e, EINVAL, "host CPUs overlap the VM's CPUs");
	for (int i = 0; i < pi->nline; i++) {
		if (!pv_irq_other_candidate(&pi->line[i]))
			continue;
		if (plan_other(&pi->line[i], vm_cpus, host_cpus, cur, out, pl, e) < 0)
			return -1;
	}
	/* /proc/irq/default_smp_affinity is left alone: an IRQ created
	 * while it is narrowed (a host driver rebound at another VM's stop)
	 * keeps the narrow mask after the last VM stops, and no journal
	 * holds it, so the host would not come back as it was. */
	return 0;
}
