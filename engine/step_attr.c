/* ATTR, GOVERNOR and IRQ steps: one attribute, compare-and-swap restore. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
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
	return pv_err_pass(e, &why);
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

/* A batch item's record, or -1 (item failed: e) / 1 (nothing to write). */
static int batch_rec(const struct pv_attr_put *p, size_t skip, struct pv_jrec *r, struct pv_err *e)
{
	const char *path = p->path + skip;

	if (!path_ok(path))
		return pv_fail(e, EINVAL, "refusing to write '%.80s': not a plain /sys or /proc path",
			       path);
	if (!p->old || strlen(p->old) >= PV_JVAL || strlen(p->val) >= PV_JVAL ||
	    strchr(p->val, '\n'))
		return pv_fail(e, EINVAL, "refusing to write a multi-line or overlong value to %s",
			       path);
	memset(r, 0, sizeof(*r));
	r->kind = classify(path);
	snprintf(r->target, sizeof(r->target), "%s", path);
	snprintf(r->old, sizeof(r->old), "%s", p->old);
	snprintf(r->nv, sizeof(r->nv), "%s", p->val);
	return same(r->kind, r->old, r->nv) ? 1 : 0;
}

/* Every record of the batch out in one write before the first change; on
 * failure every item fails with it (nothing was changed). */
static int batch_journal(struct pv_engine *en, struct pv_attr_put *puts, struct pv_jrec *r,
			 const bool *todo, int n)
{
	struct pv_err je = { 0 };
	int rc = pv_engine_journal(en, &je);

	for (int i = 0; rc == 0 && i < n; i++) {
		if (!todo[i])
			continue;
		r[i].phase = en->phase;
		rc = pv_journal_step_held(&en->j, en->phase, r[i].kind, r[i].target, r[i].old, r[i].nv,
					  &r[i].seq, &je);
	}
	if (rc == 0)
		rc = pv_journal_flush(&en->j, &je);
	if (rc == 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (todo[i]) {
			puts[i].rc = -1;
			puts[i].err = je;
		}
	return -1;
}

/* Make one journaled item: what pv_engine_step does after the record. */
static int batch_apply(struct pv_engine *en, struct pv_attr_put *p, struct pv_jrec *r,
		       struct pv_err *e)
{
	int rc;

	if (++en->nsteps == en->fault_at)
		return pv_fail(e, 0, "fault injected at step %d (%s %s)", en->nsteps,
			       pv_step_name(r->kind), r->target);
	rc = p->fd >= 0 ? pv_attr_put_fd(r->target, p->fd, r->nv, e) : pv_attr_put(r->target, r->nv, e);
	if (en->nsteps == en->kill_at)
		_exit(137);
	if (rc < 0) {
		struct pv_err e2 = { 0 };

		if (r->kind == PV_STEP_IRQ && (e->errnum == EIO || e->errnum == EPERM) &&
		    pv_journal_undone(&en->j, r->seq, "refused by the kernel", &e2) < 0)
			pv_err_print(&e2);
		return -1;
	}
	/* an IRQ's list is compared as a CPU set: what was written is
	 * what the kernel holds, no read back needed */
	snprintf(r->got, sizeof(r->got), "%s", r->nv);
	if (pv_opt.verbose)
		fprintf(stderr, "pvepin: %s %s: '%s' -> '%s'\n", pv_step_name(r->kind), r->target,
			r->old, r->got);
	en->ndone[r->kind]++;
	return pv_journal_done(&en->j, r->seq, r->got, e);
}

void pv_engine_write_attrs(struct pv_engine *en, struct pv_attr_put *puts, int n, size_t skip)
{
	_cleanup_free_ struct pv_jrec *r = calloc((size_t)(n > 0 ? n : 1), sizeof(*r));
	_cleanup_free_ bool *todo = calloc((size_t)(n > 0 ? n : 1), sizeof(*todo));
	for (int i = 0; i < n; i++) {
		if (puts[i].rc < 0)
			continue;
		if (!r || !todo) {
			puts[i].rc = pv_fail(&puts[i].err, ENOMEM, "IRQ batch");
			continue;
		}
		puts[i].rc = batch_rec(&puts[i], skip, &r[i], &puts[i].err);
		if (puts[i].rc == 1)
			puts[i].rc = 0;
		else if (puts[i].rc == 0)
			todo[i] = true;
	}
	if (!r || !todo)
		return;
	if (pv_opt.dry_run) {
		for (int i = 0; i < n; i++)
			if (todo[i])
				printf("would %s %s: '%s' -> '%s'\n", pv_step_name(r[i].kind), r[i].target,
				       r[i].old, r[i].nv);
		return;
	}
	if (batch_journal(en, puts, r, todo, n) < 0)
		return;
	for (int i = 0; i < n; i++)
		if (todo[i])
			puts[i].rc = batch_apply(en, &puts[i], &r[i], &puts[i].err);
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
	/* an IRQ's list is compared as a CPU set (same()): the value
	 * written is as good as the kernel's spelling of it */
	if (r->kind == PV_STEP_IRQ) {
		snprintf(r->got, sizeof(r->got), "%s", r->nv);
		return 0;
	}
	return pv_attr_get(r->target, r->got, sizeof(r->got), e);
}

/* The attribute opened read-write and its value read from that fd, so
 * restore writes the old value back through it: one open where a read and
 * a write took two (post-stop undoes an IRQ or a governor per CPU in a
 * few syscalls, as bash's `echo >` would). *fd is -1, and the value read
 * by path, for a sysctl (/proc/sys honours the file position the read
 * left; sysfs, /proc/irq and cgroup files ignore it) or a file that does
 * not open read-write (the read-only open then says why, if it fails).
 * 0 read, 1 gone, -1 failed. */
static int attr_read_rw(const char *target, char *buf, size_t n, int *fd, struct pv_err *e)
{
	char path[PV_PATH_MAX];
	int f;

	*fd = -1;
	if (!strncmp(target, "/proc/sys/", 10))
		return attr_read(target, buf, n, e);
	if (pv_path(path, sizeof(path), e, "%s", target) < 0)
		return -1;
	f = open(path, O_RDWR | O_CLOEXEC);
	if (f < 0 && errno == ENOENT)
		return 1;
	if (f < 0)
		return attr_read(target, buf, n, e);
	if (pv_read_attr_fd(f, path, buf, n, e) < 0) {
		close(f);
		return -1;
	}
	*fd = f;
	return 0;
}

static int put_old(const struct pv_jrec *r, int fd, struct pv_err *why)
{
	return fd >= 0 ? pv_attr_put_fd(r->target, fd, r->old, why)
		       : pv_attr_put(r->target, r->old, why);
}

static int attr_put_back(const struct pv_jrec *r, int fd, char *note, size_t n, struct pv_err *e)
{
	struct pv_err why = { 0 };
	int rc = put_old(r, fd, &why);

	/* EIO from an IRQ's affinity is the kernel keeping it (a managed IRQ,
	 * a chip that cannot move it): that does not pass. But pvepin moved
	 * this IRQ itself at start, so one refusal is asked again before the
	 * IRQ is left as it is (tests/vm 76: an EIO at post-stop's first
	 * write left a USB vector off the VM's CPUs for good). */
	if (rc < 0 && r->kind == PV_STEP_IRQ && why.errnum == EIO) {
		why = (struct pv_err){ 0 };
		rc = put_old(r, fd, &why);
	}
	if (rc < 0) {
		if (r->kind == PV_STEP_IRQ && (why.errnum == EIO || why.errnum == EPERM)) {
			snprintf(note, n, "the kernel refuses it now (managed IRQ): left alone");
			return 1;
		}
		return pv_err_pass(e, &why);
	}
	snprintf(note, n, "restored '%.200s'", r->old);
	return 0;
}

static int attr_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		     struct pv_err *e)
{
	_cleanup_close_ int fd = -1;
	char cur[PV_JVAL];
	int rc = attr_read_rw(r->target, cur, sizeof(cur), &fd, e);

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
	return attr_put_back(r, fd, note, n, e);
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
