/* ATTR, GOVERNOR and IRQ steps: one attribute, compare-and-swap restore. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/opts.h"
#include "engine/cpuset.h"
#include "engine/governor.h"
#include "engine/steps.h"

/* A plain absolute path under /sys, /proc/sys or /proc/irq: no dot
 * segments, no doubled slashes, nothing a shell or a terminal would read. */
static bool path_ok(const char *p)
{
	if (strncmp(p, "/sys/", 5) && strncmp(p, "/proc/sys/", 10) && strncmp(p, "/proc/irq/", 10))
		return false;
	if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//"))
		return false;
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return false;
	return strlen(p) < PV_JTARGET;
}

/* "<prefix><unsigned><suffix>" and nothing else. */
static bool numbered(const char *p, const char *prefix, const char *suffix)
{
	size_t lp = strlen(prefix);
	const char *d = p + lp;

	if (strncmp(p, prefix, lp) || *d < '0' || *d > '9')
		return false;
	while (*d >= '0' && *d <= '9')
		d++;
	return d - (p + lp) < 10 && !strcmp(d, suffix);
}

static bool attr_ok(const char *p)
{
	return path_ok(p);
}

static bool irq_ok(const char *p)
{
	return numbered(p, "/proc/irq/", "/smp_affinity_list");
}

static bool governor_ok(const char *p)
{
	return numbered(p, "/sys/devices/system/cpu/cpu", "/cpufreq/scaling_governor");
}

static enum pv_step_kind classify(const char *p)
{
	const char *tail = strrchr(p, '/');

	if (!strncmp(p, "/proc/irq/", 10) && !strcmp(tail, "/smp_affinity_list"))
		return PV_STEP_IRQ;
	if (!strcmp(tail, "/scaling_governor"))
		return PV_STEP_GOVERNOR;
	return PV_STEP_ATTR;
}

/* IRQ affinities are cpu lists the kernel may write back differently. */
static bool same(enum pv_step_kind k, const char *a, const char *b)
{
	const struct pv_step_ops *o = pv_step_ops_of(k);

	return o->same ? o->same(a, b) : !strcmp(a, b);
}

static int attr_read(const char *target, char *buf, size_t n, struct pv_err *e)
{
	struct pv_err why = { 0 };

	if (pv_attr_get(target, buf, n, &why) == 0)
		return 0;
	if (why.errnum == ENOENT)
		return 1;
	return pv_fail(e, why.errnum, "%s", why.msg);
}

static void attr_label(const char *target, char *buf, size_t n)
{
	snprintf(buf, n, "%s", target);
}

static void irq_label(const char *target, char *buf, size_t n)
{
	snprintf(buf, n, "irq %d", atoi(target + strlen("/proc/irq/")));
}

static void governor_label(const char *target, char *buf, size_t n)
{
	snprintf(buf, n, "governor cpu%d", atoi(target + strlen("/sys/devices/system/cpu/cpu")));
}

int pv_engine_write_attr(struct pv_engine *en, const char *path, const char *val,
			 struct pv_err *e)
{
	return pv_engine_write_attr_from(en, path, NULL, val, e);
}

int pv_engine_write_attr_from(struct pv_engine *en, const char *path, const char *old,
			      const char *val, struct pv_err *e)
{
	struct pv_jrec r = { 0 };

	r.kind = classify(path);
	if (!pv_step_ops_of(r.kind)->target_ok(path))
		return pv_fail(e, EINVAL, "refusing to write '%.80s': not a plain /sys, /proc/sys or "
			       "/proc/irq path", path);
	if (strlen(val) >= PV_JVAL || strchr(val, '\n'))
		return pv_fail(e, EINVAL, "refusing to write a multi-line or overlong value to %s", path);
	snprintf(r.target, sizeof(r.target), "%s", path);
	snprintf(r.nv, sizeof(r.nv), "%s", val);
	if (old && strlen(old) < sizeof(r.old))
		memcpy(r.old, old, strlen(old) + 1);
	else if (pv_attr_get(path, r.old, sizeof(r.old), e) < 0)
		return -1;
	if (same(r.kind, r.old, val))
		return 0;
	return pv_engine_step(en, &r, NULL, e);
}

int pv_engine_governor(struct pv_engine *en, unsigned cpu, const char *gov, struct pv_err *e)
{
	char path[128];
	struct pv_err why = { 0 };
	int rc = pv_governor_available(cpu, gov, &why);

	if (rc < 0 && why.errnum == ENOENT) {
		if (pv_opt.verbose)
			fprintf(stderr, "pvepin: CPU %u has no cpufreq: governor left alone\n", cpu);
		return 1;
	}
	if (rc < 0)
		return pv_fail(e, 0, "%s", why.msg);
	if (rc == 0) {
		fprintf(stderr, "pvepin: CPU %u does not offer governor '%s': left alone\n", cpu, gov);
		return 1;
	}
	if (pv_governor_attr(path, sizeof(path), cpu, e) < 0)
		return -1;
	return pv_engine_write_attr(en, path, gov, e);
}

static int attr_apply(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e)
{
	if (pv_attr_put(r->target, r->nv, e) < 0)
		return -1;
	return pv_attr_get(r->target, r->got, sizeof(r->got), e);
}

static int attr_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		     struct pv_err *e)
{
	char cur[PV_JVAL];
	struct pv_err why = { 0 };
	int rc = attr_read(r->target, cur, sizeof(cur), e);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		snprintf(note, n, "gone: nothing to restore");
		return 0;
	}
	switch (pv_step_cas(r, cur, NULL, note, n)) {
	case PV_CAS_ALREADY:
		return 0;
	case PV_CAS_OTHER:
		return 1;
	case PV_CAS_PUT:
		break;
	}
	if (pv_attr_put(r->target, r->old, &why) < 0) {
		if (r->kind == PV_STEP_IRQ && (why.errnum == EIO || why.errnum == EPERM)) {
			snprintf(note, n, "the kernel refuses it now (managed IRQ): left alone");
			return 1;
		}
		return pv_fail(e, why.errnum, "%s", why.msg);
	}
	snprintf(note, n, "restored '%.200s'", r->old);
	return 0;
}

const struct pv_step_ops pv_step_attr = { .target_ok = attr_ok, .read = attr_read,
					  .label = attr_label, .apply = attr_apply,
					  .undo = attr_undo };
const struct pv_step_ops pv_step_irq = { .target_ok = irq_ok, .read = attr_read,
					 .same = pv_cpus_equal, .label = irq_label,
					 .apply = attr_apply, .undo = attr_undo };
const struct pv_step_ops pv_step_governor = { .target_ok = governor_ok, .read = attr_read,
					      .label = governor_label, .apply = attr_apply,
					      .undo = attr_undo };
