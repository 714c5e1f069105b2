/* The agent's thread watcher: QEMU's threads, each held to its planned
 * CPUs. New threads come from the proc connector (or a listing); a tick
 * reads each thread's mask with one sched_getaffinity and compares it with
 * the one held; a fix pins it again through the engine, which checks the
 * thread's start time first, so a recycled tid is never pinned. */
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

#define PF_NO_SETAFFINITY_ 0x04000000UL /* kernel task flag: io_uring workers and the like */

/* ------------------------------------------------------------ masks */

static void mask_from(const struct pv_agent *a, hwloc_const_bitmap_t set, unsigned char *m)
{
	int c;

	memset(m, 0, a->masklen);
	hwloc_bitmap_foreach_begin(c, set)
		if ((size_t)c < a->masklen * 8)
			CPU_SET_S((size_t)c, a->masklen, (cpu_set_t *)m);
	hwloc_bitmap_foreach_end();
}

static int mask_get(const struct pv_agent *a, pid_t tid, unsigned char *m)
{
	return sched_getaffinity(tid, a->masklen, (cpu_set_t *)m);
}

static void mask_text(const struct pv_agent *a, const unsigned char *m, char *buf, size_t n)
{
	_cleanup_bitmap_ hwloc_bitmap_t s = hwloc_bitmap_alloc();

	buf[0] = '\0';
	if (!s)
		return;
	for (size_t c = 0; c < a->masklen * 8; c++)
		if (CPU_ISSET_S(c, a->masklen, (const cpu_set_t *)m))
			hwloc_bitmap_set(s, (unsigned)c);
	pv_cpulist_format(buf, n, s);
}

/* ------------------------------------------------------------ threads */

/* flags (field 9) and starttime (field 22) of /proc/<pid>/task/<tid>/stat */
static int thread_stat(pid_t pid, pid_t tid, unsigned long *flags, unsigned long long *start)
{
	char path[PV_PATH_MAX], buf[1024];
	const char *p;

	if (pv_path(path, sizeof(path), NULL, "/proc/%d/task/%d/stat", pid, tid) < 0 ||
	    pv_read_attr(path, buf, sizeof(buf), NULL) < 0 || !(p = strrchr(buf, ')')))
		return -1;
	for (int field = 2; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
		if (p && field == 8)
			*flags = strtoul(p + 1, NULL, 10);
	}
	if (!p)
		return -1;
	*start = strtoull(p + 1, NULL, 10);
	return 0;
}

static int thread_comm(pid_t pid, pid_t tid, char *buf, size_t n)
{
	char path[PV_PATH_MAX];

	if (pv_path(path, sizeof(path), NULL, "/proc/%d/task/%d/comm", pid, tid) < 0)
		return -1;
	return pv_read_attr(path, buf, n, NULL) < 0 ? -1 : 0;
}

static struct agent_thread *thread_find(struct pv_agent *a, pid_t tid)
{
	for (int i = 0; i < a->nth; i++)
		if (a->th[i].tid == tid)
			return &a->th[i];
	return NULL;
}

static struct agent_thread *thread_add(struct pv_agent *a, pid_t tid)
{
	struct agent_thread t = { .tid = tid, .seen = a->now, .it = { .dirty = true, .fresh = true },
				  .adopted = a->st.ticks == 0 };
	unsigned long flags = 0;

	if (thread_stat(a->qemu, tid, &flags, &t.start) < 0 ||
	    thread_comm(a->qemu, tid, t.comm, sizeof(t.comm)) < 0)
		return NULL; /* ended already */
	t.it.refused = flags & PF_NO_SETAFFINITY_;
	if (!(t.held = calloc(1, a->masklen)))
		return NULL;
	if (a->nth == a->capth) {
		int cap = a->capth ? a->capth * 2 : 32;
		struct agent_thread *v = realloc(a->th, (size_t)cap * sizeof(*v));

		if (!v) {
			free(t.held);
			return NULL;
		}
		a->th = v;
		a->capth = cap;
	}
	a->th[a->nth] = t;
	a->need_fix = true;
	return &a->th[a->nth++];
}

static void thread_drop(struct pv_agent *a, int i)
{
	free(a->th[i].held);
	a->th[i] = a->th[--a->nth];
}

void pv_agent_thread_event(struct pv_agent *a, pid_t tid, enum pv_agent_tev ev)
{
	struct agent_thread *t;
	char comm[16];

	if (!a->pins)
		return;
	if ((t = thread_find(a, tid)) && ev == PV_TEV_NEW) {
		/* a new thread under a known tid: the old one ended, its tid reused */
		thread_drop(a, (int)(t - a->th));
		t = NULL;
	}
	if (!t) {
		thread_add(a, tid);
		return;
	}
	if (ev != PV_TEV_RENAMED || thread_comm(a->qemu, tid, comm, sizeof(comm)) < 0 ||
	    !strcmp(comm, t->comm))
		return;
	/* QEMU names a thread once it runs: "CPU 3/KVM" wants another mask */
	snprintf(t->comm, sizeof(t->comm), "%s", comm);
	t->it.dirty = true;
	t->it.fresh = true;
	a->need_fix = true;
}

static bool in_list(const pid_t *v, int n, pid_t x)
{
	for (int i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* Without rename events, a thread's name is read again while it is new:
 * QEMU names its threads just after they start. */
static bool young(struct pv_agent *a, pid_t tid)
{
	const struct agent_thread *t = a->cn < 0 ? thread_find(a, tid) : NULL;

	return t && a->now - t->seen < PV_AGENT_YOUNG_MS;
}

/* Room for one more listed tid; the buffer is kept: in task-poll mode this
 * runs every tick. */
static bool listed_room(struct pv_agent *a, int n)
{
	pid_t *v;
	int cap;

	if (n < a->caplisted)
		return true;
	cap = a->caplisted ? a->caplisted * 2 : 64;
	if (!(v = realloc(a->listed, (size_t)cap * sizeof(*v))))
		return false;
	a->listed = v;
	a->caplisted = cap;
	return true;
}

void pv_agent_threads_scan(struct pv_agent *a)
{
	DIR *d = a->taskdir;
	struct dirent *de;
	int n = 0;

	if (!a->pins || !d)
		return;
	rewinddir(d);
	while ((de = readdir(d))) {
		long tid;

		if (pv_parse_long(de->d_name, 1, 1L << 30, &tid) < 0)
			continue;
		if (!listed_room(a, n))
			return;
		a->listed[n++] = (pid_t)tid;
		pv_agent_thread_event(a, (pid_t)tid, young(a, (pid_t)tid) ? PV_TEV_RENAMED : PV_TEV_SEEN);
	}
	if (n == 0)
		return; /* QEMU is going: its pidfd says so */
	for (int i = a->nth - 1; i >= 0; i--)
		if (!in_list(a->listed, n, a->th[i].tid))
			thread_drop(a, i);
}

void pv_agent_threads_check(struct pv_agent *a)
{
	for (int i = a->nth - 1; i >= 0; i--) {
		struct agent_thread *t = &a->th[i];

		if (t->it.dirty || t->it.refused || !pv_agent_rl_allow(&t->it.rl, a->now))
			continue;
		if (mask_get(a, t->tid, a->mask) < 0) {
			if (errno == ESRCH)
				thread_drop(a, i);
			continue;
		}
		if (memcmp(a->mask, t->held, a->masklen)) {
			t->it.dirty = true;
			a->need_fix = true;
		}
	}
}

static void thread_failed(struct pv_agent *a, struct agent_thread *t, const struct pv_err *err)
{
	char what[48];

	if (err->errnum == EINVAL) {
		/* PF_NO_SETAFFINITY threads the stat flags did not show */
		t->it.refused = true;
		a->st.refused++;
		pv_agent_log(a, LOG_INFO, "thread %d (%s): the kernel refuses a CPU mask: left alone",
			     t->tid, t->comm);
		return;
	}
	snprintf(what, sizeof(what), "thread %d (%s)", t->tid, t->comm);
	pv_agent_fix_failed(a, &t->it, what, err);
}

static void thread_wrote(struct pv_agent *a, struct agent_thread *t, const char *was,
			 const char *want)
{
	char what[64];

	if (t->adopted || !t->it.fresh) {
		a->st.repins++;
		snprintf(what, sizeof(what), "thread %d (%s)", t->tid, t->comm);
		if (!t->it.fresh)
			pv_agent_held_off(a, &t->it, what);
		pv_agent_note(a, !t->it.logged, "thread %d (%s): CPUs %s, set by someone else: pinned "
			      "back to %s", t->tid, t->comm, was, want);
		t->it.logged = true;
		return;
	}
	a->st.new_threads++;
	pv_agent_note(a, true, "new thread %d (%s): pinned to %s (was %s)", t->tid, t->comm, want,
		      was);
}

/* 1 when the thread ended. The engine pins it only while its start time
 * is still the one seen when it was found: a tid reused since is never
 * taken for it, on the first pin or any later one. */
static int thread_fix(struct pv_agent *a, struct agent_thread *t, hwloc_bitmap_t want)
{
	struct pv_thread pt = { .tid = t->tid, .start = t->start };
	struct pv_err err = { 0 };
	char was[PV_JVAL], nv[PV_JVAL];
	int steps = a->en.nsteps, rc;

	t->it.dirty = false;
	if (t->it.refused || !pv_agent_thread_want(a->cfg, a->other, t->comm, want))
		return 0;
	if (mask_get(a, t->tid, a->mask) < 0)
		return errno == ESRCH ? 1 : 0;
	mask_from(a, want, t->held);
	if (!memcmp(a->mask, t->held, a->masklen)) {
		t->it.fresh = t->adopted = false;
		return 0;
	}
	mask_text(a, a->mask, was, sizeof(was));
	snprintf(pt.comm, sizeof(pt.comm), "%s", t->comm);
	pt.vcpu = pv_vcpu_of_comm(t->comm);
	pv_cpulist_format(nv, sizeof(nv), want);
	rc = pv_engine_affinity(&a->en, a->qemu, &pt, want, &err);
	if (rc == 1 || (rc < 0 && err.errnum == ESRCH))
		return 1;
	if (rc < 0) {
		memcpy(t->held, a->mask, a->masklen);
		thread_failed(a, t, &err);
		return 0;
	}
	/* hold what the kernel really gave: a narrower cpuset may trim it */
	if (mask_get(a, t->tid, t->held) < 0)
		return errno == ESRCH ? 1 : 0;
	if (a->en.nsteps > steps)
		thread_wrote(a, t, was, nv);
	t->it.fresh = t->adopted = false;
	return 0;
}

void pv_agent_threads_fix(struct pv_agent *a)
{
	_cleanup_bitmap_ hwloc_bitmap_t want = hwloc_bitmap_alloc();

	if (!want)
		return;
	for (int i = a->nth - 1; i >= 0; i--)
		if (a->th[i].it.dirty && thread_fix(a, &a->th[i], want) == 1)
			thread_drop(a, i);
}

void pv_agent_threads_free(struct pv_agent *a)
{
	while (a->nth)
		thread_drop(a, 0);
	free(a->th);
	free(a->listed);
	a->th = NULL;
	a->listed = NULL;
	a->capth = a->caplisted = 0;
}

