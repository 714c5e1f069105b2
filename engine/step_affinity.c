/* AFFINITY: one thread's CPU mask. target = "<pid>/<tid>@<starttime>" so a
 * recycled tid is never taken for the thread pvepin pinned. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "conf/cpulist.h"
#include "engine/cpuset.h"
#include "engine/steps.h"

static int parse_target(const char *t, pid_t *pid, pid_t *tid, unsigned long long *start)
{
	int p, k, used = 0;

	if (sscanf(t, "%d/%d@%llu%n", &p, &k, start, &used) != 3 || t[used] || p <= 0 || k <= 0)
		return -1;
	*pid = p;
	*tid = k;
	return 0;
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
	snprintf(r.target, sizeof(r.target), "%d/%d@%llu", pid, t->tid, t->start);
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
			return pv_fail(e, why.errnum, "%s", why.msg);
		snprintf(r->note, sizeof(r->note), "thread ended before it could be pinned");
		return 1;
	}
	return 0;
}

static int aff_undo(struct pv_engine *en, const struct pv_jrec *r, char *note, size_t n,
		    struct pv_err *e)
{
	pid_t pid, tid;
	unsigned long long start;
	char cur[PV_JVAL];
	struct pv_err why = { 0 };

	if (parse_target(r->target, &pid, &tid, &start) < 0)
		return pv_fail(e, EINVAL, "bad thread '%s'", r->target);
	if (!pv_thread_live(pid, tid, start) || get_list(tid, cur, sizeof(cur), &why) < 0) {
		snprintf(note, n, "thread is gone: nothing to restore");
		return 0;
	}
	if (pv_cpus_equal(cur, r->old)) {
		snprintf(note, n, "already %s", r->old);
		return 0;
	}
	if (!pv_cpus_equal(cur, r->done ? r->got : r->nv) && !pv_cpus_equal(cur, r->nv)) {
		snprintf(note, n, "changed by someone else since (now %s): left alone", cur);
		return 1;
	}
	if (set_list(tid, r->old, &why) < 0) {
		if (why.errnum == ESRCH) {
			snprintf(note, n, "thread is gone: nothing to restore");
			return 0;
		}
		return pv_fail(e, why.errnum, "%s", why.msg);
	}
	snprintf(note, n, "restored %s", r->old);
	return 0;
}

const struct pv_step_ops pv_step_affinity = { .apply = aff_apply, .undo = aff_undo };
