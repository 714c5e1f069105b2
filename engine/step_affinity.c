/* AFFINITY: one thread's CPU mask. target = "<pid>/<tid>@<starttime>" so a
 * recycled tid is never taken for the thread pvepin pinned. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "conf/cpulist.h"
#include "engine/cpuset.h"
#include "engine/steps.h"

/* The target's codec: the only place that writes or reads the format. */
static int parse_target(const char *t, pid_t *pid, pid_t *tid, unsigned long long *start)
{
	int p, k, used = 0;

	if (*t < '1' || *t > '9' || strpbrk(t, " +-"))
		return -1;
	if (sscanf(t, "%d/%d@%llu%n", &p, &k, start, &used) != 3 || t[used] || p <= 0 || k <= 0)
		return -1;
	*pid = p;
	*tid = k;
	return 0;
}

static int format_target(char *buf, size_t n, pid_t pid, pid_t tid, unsigned long long start)
{
	return snprintf(buf, n, "%d/%d@%llu", pid, tid, start) < (int)n ? 0 : -1;
}

static bool aff_ok(const char *t)
{
	pid_t pid, tid;
	unsigned long long start;

	return parse_target(t, &pid, &tid, &start) == 0;
}

static int get_list(pid_t tid, char *buf, size_t n, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();

	if (!set)
		return pv_fail(e, ENOMEM, "cpu set");
	if (pv_thread_get_cpus(tid, set, e) < 0)
		return -1;
	return pv_cpulist_format(buf, n, set) < 0 ? pv_fail(e, E2BIG, "cpu list too long") : 0;
}

static int set_list(pid_t tid, const char *list, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();

	if (!set)
		return pv_fail(e, ENOMEM, "cpu set");
	if (pv_cpulist_parse(list, ',', PV_MAX_CPUS, set, e) < 0)
		return -1;
	return pv_thread_set_cpus(tid, set, e);
}

int pv_engine_affinity(struct pv_engine *en, pid_t pid, const struct pv_thread *t,
		       hwloc_const_bitmap_t set, struct pv_err *e)
{
	struct pv_jrec r = { .kind = PV_STEP_AFFINITY };

	if (!pv_thread_live(pid, t->tid, t->start))
		return 1;
	if (get_list(t->tid, r.old, sizeof(r.old), e) < 0)
		return e->errnum == ESRCH ? 1 : -1;
	if (pv_cpulist_format(r.nv, sizeof(r.nv), set) < 0 || !r.nv[0])
		return pv_fail(e, EINVAL, "bad CPU set for thread %d", t->tid);
	if (pv_cpus_equal(r.old, r.nv))
		return 0;
	if (format_target(r.target, sizeof(r.target), pid, t->tid, t->start) < 0)
		return pv_fail(e, E2BIG, "thread %d", t->tid);
	return pv_engine_step(en, &r, NULL, e);
}

static int aff_apply(struct pv_engine *en, struct pv_jrec *r, const void *arg, struct pv_err *e)
{
	pid_t pid, tid;
	unsigned long long start;
	struct pv_err why = { 0 };

	if (parse_target(r->target, &pid, &tid, &start) < 0)
		return pv_fail(e, EINVAL, "bad thread '%s'", r->target);
	if (set_list(tid, r->nv, &why) < 0 || get_list(tid, r->got, sizeof(r->got), &why) < 0) {
		if (why.errnum != ESRCH)
			return pv_err_pass(e, &why);
		snprintf(r->note, sizeof(r->note), "thread ended before it could be pinned");
		return 1;
	}
	return 0;
}

/* The thread's mask now; 1 when it is gone (or its tid is another's). */
static int aff_read(const char *target, char *buf, size_t n, struct pv_err *e)
{
	pid_t pid, tid;
	unsigned long long start;
	struct pv_err why = { 0 };

	if (parse_target(target, &pid, &tid, &start) < 0)
		return pv_fail(e, EINVAL, "bad thread '%s'", target);
	if (!pv_thread_live(pid, tid, start) || get_list(tid, buf, n, &why) < 0)
		return 1;
	return 0;
}

static void aff_label(const char *target, char *buf, size_t n)
{
	pid_t pid, tid;
	unsigned long long start;
	char path[PV_PATH_MAX], comm[32];

	if (parse_target(target, &pid, &tid, &start) < 0) {
		snprintf(buf, n, "thread %s", target);
		return;
	}
	if (pv_path(path, sizeof(path), NULL, "/proc/%d/task/%d/comm", pid, tid) == 0 &&
	    pv_thread_live(pid, tid, start) && pv_read_attr(path, comm, sizeof(comm), NULL) >= 0)
		snprintf(buf, n, "thread %d (%s)", tid, comm);
	else
		snprintf(buf, n, "thread %d", tid);
}

static int aff_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		    struct pv_err *e)
{
	pid_t pid, tid;
	unsigned long long start;
	char cur[PV_JVAL];
	struct pv_err why = { 0 };
	int rc = aff_read(r->target, cur, sizeof(cur), e);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		snprintf(note, n, "thread is gone: nothing to restore");
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
	parse_target(r->target, &pid, &tid, &start);
	if (set_list(tid, r->old, &why) < 0) {
		if (why.errnum == ESRCH) {
			snprintf(note, n, "thread is gone: nothing to restore");
			return 0;
		}
		return pv_err_pass(e, &why);
	}
	snprintf(note, n, "restored %s", r->old);
	return 0;
}

const struct pv_step_ops pv_step_affinity = { .target_ok = aff_ok, .read = aff_read,
					      .same = pv_cpus_equal, .label = aff_label,
					      .apply = aff_apply, .undo = aff_undo };
