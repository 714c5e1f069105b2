/* What the agent keeps true: QEMU's thread masks, the passthrough devices'
 * IRQ affinities, the journaled cpusets. Each tick compares what the
 * kernel shows now with what the agent last saw right ("held"), reading
 * only kept-open files and one sched_getaffinity per thread; whatever
 * differs is fixed under the phase lock, through the engine, so the journal
 * (and with it restore) covers every change the agent makes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/limits.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "engine/cpuset.h"
#include "engine/threads.h"
#include "agent/agent_int.h"
#include "engine/engine.h"
#include "engine/ledger.h"
#include "engine/lock.h"
#include "engine/steps.h"

#define PF_NO_SETAFFINITY_ 0x04000000UL /* kernel task flag: io_uring workers and the like */

/* ------------------------------------------------------------ the plan */

static void cfg_cg(struct pv_agent_cfg *c, const struct pv_action *a, int vmid)
{
	char own[64];

	if (c->ncg >= PV_AGENT_MAX_CG)
		return;
	snprintf(own, sizeof(own), PV_QEMU_SCOPE_FMT, vmid);
	snprintf(c->cg[c->ncg].cg, sizeof(c->cg[0].cg), "%s", a->target);
	snprintf(c->cg[c->ncg].cpus, sizeof(c->cg[0].cpus), "%s", a->value);
	c->cg[c->ncg++].own = !strcmp(a->target, own);
}

int pv_agent_cfg_from_plan(struct pv_agent_cfg *c, const struct pv_plan *p, struct pv_err *e)
{
	memset(c, 0, sizeof(*c));
	c->vmid = p->vmid;
	for (int i = 0; i < PV_AGENT_MAX_VCPUS; i++)
		c->vcpu_pu[i] = -1;
	for (int i = 0; i < p->nact; i++) {
		const struct pv_action *a = &p->act[i];

		switch (a->kind) {
		case PV_ACT_PIN_VCPU:
			if (a->vcpu < 0 || a->vcpu >= PV_AGENT_MAX_VCPUS)
				return pv_fail(e, E2BIG, "plan: vCPU %d is past the agent's %d", a->vcpu,
					       PV_AGENT_MAX_VCPUS);
			c->vcpu_pu[a->vcpu] = (int)a->pu;
			if (a->vcpu >= c->nvcpu)
				c->nvcpu = a->vcpu + 1;
			break;
		case PV_ACT_PIN_OTHER:
			snprintf(c->other, sizeof(c->other), "%s", a->value);
			break;
		case PV_ACT_IRQ_STEER:
			if (c->nbdf < PV_MAX_DEVS)
				snprintf(c->bdf[c->nbdf++], PV_BDF_LEN, "%s", a->target);
			snprintf(c->irq_cpus, sizeof(c->irq_cpus), "%s", a->value);
			break;
		case PV_ACT_IRQBALANCE:
			c->ban_irqs = true;
			break;
		case PV_ACT_CPUSET:
			cfg_cg(c, a, p->vmid);
			break;
		case PV_ACT_ISOLATE:
			snprintf(c->iso_cg, sizeof(c->iso_cg), "%s", a->target);
			snprintf(c->iso_host, sizeof(c->iso_host), "%s", a->value);
			break;
		default:
			break;
		}
	}
	return 0;
}

bool pv_agent_thread_want(const struct pv_agent_cfg *c, const hwloc_bitmap_t other,
			  const char *comm, hwloc_bitmap_t set)
{
	int v = pv_vcpu_of_comm(comm);

	/* as post-start: a vCPU without a planned PU goes with the emulator */
	if (v >= 0 && v < c->nvcpu && c->vcpu_pu[v] >= 0) {
		hwloc_bitmap_only(set, (unsigned)c->vcpu_pu[v]);
		return true;
	}
	if (!other || hwloc_bitmap_iszero(other))
		return false;
	hwloc_bitmap_copy(set, other);
	return true;
}

/* ------------------------------------------------------------ rate limit */

bool pv_agent_rl_allow(const struct pv_agent_rl *rl, long long now)
{
	return now >= rl->hold_until;
}

bool pv_agent_rl_note(struct pv_agent_rl *rl, long long now)
{
	long long quiet = rl->backoff * 2 > PV_AGENT_RL_WINDOW_MS ? rl->backoff * 2
								  : PV_AGENT_RL_WINDOW_MS;

	if (rl->count && now - rl->last > quiet) {
		rl->count = 0;
		rl->backoff = 0;
	}
	rl->last = now;
	if (++rl->count < PV_AGENT_RL_FREE)
		return false;
	rl->backoff = rl->backoff ? rl->backoff * 2 : PV_AGENT_RL_FIRST_MS;
	if (rl->backoff > PV_AGENT_RL_MAX_MS)
		rl->backoff = PV_AGENT_RL_MAX_MS;
	rl->hold_until = now + rl->backoff;
	return true;
}

/* Says once per item that it keeps being changed. */
static void held_off(struct pv_agent *a, struct pv_agent_rl *rl, bool *logged, const char *what)
{
	if (!pv_agent_rl_note(rl, a->now))
		return;
	a->st.held_off++;
	if (*logged)
		return;
	*logged = true;
	pv_agent_log(a, LOG_WARNING, "%s keeps being changed by someone else: putting it back at "
		     "most every %lld s from now on (irqbalance, a tuning script?)", what,
		     rl->backoff / 1000);
}

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

/* ------------------------------------------------------------ re-asserts */

/* The value target had before pvepin first changed it, from the journal. */
static bool first_old(int vmid, enum pv_step_kind k, const char *target, char *buf, size_t n)
{
	struct pv_jlist l;
	bool found = false;

	if (pv_journal_load(vmid, &l, NULL) != 0)
		return false;
	for (int i = 0; i < l.n && !found; i++) {
		const struct pv_jrec *r = &l.r[i];

		if (r->kind == k && !r->undone && !strcmp(r->target, target)) {
			snprintf(buf, n, "%s", r->old);
			found = true;
		}
	}
	pv_jlist_free(&l);
	return found;
}

/* Put want back on target (now was), journaled with the value from before
 * pvepin as its old one: restore then gives the host back as it was before
 * the VM, not the value someone forced in between, which the agent has
 * overridden (and logged). Compare-and-swap still holds: restore writes
 * only where the host shows what pvepin wrote. 2 = no earlier step of
 * pvepin's for target: the caller makes an ordinary one. */
static int reassert(struct pv_engine *en, enum pv_step_kind k, const char *target,
		    const char *was, const char *want, struct pv_err *e)
{
	struct pv_jrec r = { .kind = k };

	if (!first_old(en->vmid, k, target, r.old, sizeof(r.old)) || pv_cpus_equal(r.old, was))
		return 2;
	snprintf(r.target, sizeof(r.target), "%s", target);
	snprintf(r.nv, sizeof(r.nv), "%s", want);
	return pv_engine_step(en, &r, NULL, e);
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
	struct agent_thread t = { .tid = tid, .seen = a->now, .dirty = true, .fresh = true,
				  .adopted = a->st.ticks == 0 };
	unsigned long flags = 0;

	if (thread_stat(a->qemu, tid, &flags, &t.start) < 0 ||
	    thread_comm(a->qemu, tid, t.comm, sizeof(t.comm)) < 0)
		return NULL; /* ended already */
	t.refused = flags & PF_NO_SETAFFINITY_;
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
	t->dirty = true;
	t->fresh = true;
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

void pv_agent_threads_scan(struct pv_agent *a)
{
	DIR *d = a->taskdir;
	_cleanup_free_ pid_t *seen = NULL;
	struct dirent *de;
	int n = 0, cap = 0;

	if (!a->pins || !d)
		return;
	rewinddir(d);
	while ((de = readdir(d))) {
		long tid;

		if (pv_parse_long(de->d_name, 1, 1L << 30, &tid) < 0)
			continue;
		if (n == cap) {
			pid_t *v = realloc(seen, (size_t)(cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v)
				return;
			seen = v;
		}
		seen[n++] = (pid_t)tid;
		pv_agent_thread_event(a, (pid_t)tid, young(a, (pid_t)tid) ? PV_TEV_RENAMED : PV_TEV_SEEN);
	}
	if (n == 0)
		return; /* QEMU is going: its pidfd says so */
	for (int i = a->nth - 1; i >= 0; i--)
		if (!in_list(seen, n, a->th[i].tid))
			thread_drop(a, i);
}

static void threads_check(struct pv_agent *a)
{
	for (int i = a->nth - 1; i >= 0; i--) {
		struct agent_thread *t = &a->th[i];

		if (t->dirty || t->refused || !pv_agent_rl_allow(&t->rl, a->now))
			continue;
		if (mask_get(a, t->tid, a->mask) < 0) {
			if (errno == ESRCH)
				thread_drop(a, i);
			continue;
		}
		if (memcmp(a->mask, t->held, a->masklen)) {
			t->dirty = true;
			a->need_fix = true;
		}
	}
}

static void thread_failed(struct pv_agent *a, struct agent_thread *t, const struct pv_err *err)
{
	if (err->errnum == EINVAL) {
		/* PF_NO_SETAFFINITY threads the stat flags did not show */
		t->refused = true;
		a->st.refused++;
		pv_agent_log(a, LOG_INFO, "thread %d (%s): the kernel refuses a CPU mask: left alone",
			     t->tid, t->comm);
		return;
	}
	a->st.errors++;
	pv_agent_rl_note(&t->rl, a->now);
	if (!t->logged_err)
		pv_agent_log(a, LOG_ERR, "thread %d (%s): %s", t->tid, t->comm, err->msg);
	t->logged_err = true;
}

static void thread_wrote(struct pv_agent *a, struct agent_thread *t, const char *was,
			 const char *want)
{
	char what[64];

	if (t->adopted || !t->fresh) {
		a->st.repins++;
		snprintf(what, sizeof(what), "thread %d (%s)", t->tid, t->comm);
		if (!t->fresh)
			held_off(a, &t->rl, &t->logged_hold, what);
		pv_agent_note(a, !t->logged, "thread %d (%s): CPUs %s, set by someone else: pinned "
			      "back to %s", t->tid, t->comm, was, want);
		t->logged = true;
		return;
	}
	a->st.new_threads++;
	pv_agent_note(a, true, "new thread %d (%s): pinned to %s (was %s)", t->tid, t->comm, want,
		      was);
}

/* 1 when the thread ended. */
static int thread_fix(struct pv_agent *a, struct pv_engine *en, struct agent_thread *t,
		      hwloc_bitmap_t want)
{
	struct pv_thread pt = { .tid = t->tid, .start = t->start };
	struct pv_err err = { 0 };
	char was[PV_JVAL], nv[PV_JVAL], target[64];
	int steps = en->nsteps, rc;

	t->dirty = false;
	if (t->refused || !pv_agent_thread_want(a->cfg, a->other, t->comm, want))
		return 0;
	if (mask_get(a, t->tid, a->mask) < 0)
		return errno == ESRCH ? 1 : 0;
	mask_from(a, want, t->held);
	if (!memcmp(a->mask, t->held, a->masklen)) {
		t->fresh = t->adopted = false;
		return 0;
	}
	mask_text(a, a->mask, was, sizeof(was));
	snprintf(pt.comm, sizeof(pt.comm), "%s", t->comm);
	pt.vcpu = pv_vcpu_of_comm(t->comm);
	pv_cpulist_format(nv, sizeof(nv), want);
	snprintf(target, sizeof(target), "%d/%d@%llu", a->qemu, t->tid, t->start);
	rc = t->fresh ? 2 : reassert(en, PV_STEP_AFFINITY, target, was, nv, &err);
	if (rc == 2)
		rc = pv_engine_affinity(en, a->qemu, &pt, want, &err);
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
	if (en->nsteps > steps)
		thread_wrote(a, t, was, nv);
	t->fresh = t->adopted = false;
	return 0;
}

static void threads_fix(struct pv_agent *a, struct pv_engine *en)
{
	_cleanup_bitmap_ hwloc_bitmap_t want = hwloc_bitmap_alloc();

	if (!want)
		return;
	for (int i = a->nth - 1; i >= 0; i--)
		if (a->th[i].dirty && thread_fix(a, en, &a->th[i], want) == 1)
			thread_drop(a, i);
}

/* ------------------------------------------------------------ device IRQs */

static int irq_open(int irq)
{
	char path[PV_PATH_MAX];

	if (pv_path(path, sizeof(path), NULL, "/proc/irq/%d/smp_affinity_list", irq) < 0)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Read a kept-open attribute again from its start; -1 with errno. */
static int reread(int fd, char *buf, size_t n)
{
	ssize_t r = pread(fd, buf, n - 1, 0);

	if (r < 0)
		return -1;
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == '\r'))
		r--;
	buf[r] = '\0';
	return 0;
}

/* The IRQ's affinity now, reopening once: a freed and reallocated IRQ is
 * a new procfs entry under the same number. 1 = the IRQ is gone. */
static int irq_read(struct agent_irq *q, char *buf, size_t n)
{
	if (q->fd >= 0 && reread(q->fd, buf, n) == 0)
		return 0;
	if (q->fd >= 0)
		close(q->fd);
	if ((q->fd = irq_open(q->irq)) < 0)
		return 1;
	if (reread(q->fd, buf, n) == 0)
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
	a->irq[a->nirq++] = (struct agent_irq){ .irq = irq, .fd = -1, .dirty = true,
						.fresh = !adopted };
	a->need_fix = true;
	return 0;
}

/* The devices' msi_irqs directories: vectors the guest enabled since. */
static void irqs_scan(struct pv_agent *a)
{
	_cleanup_free_ int *known = malloc((size_t)(a->nirq ? a->nirq : 1) * sizeof(int));
	struct pv_err err = { 0 };
	bool first = a->st.ticks == 0;

	if (!a->irqs || !known)
		return;
	for (int i = 0; i < a->nirq; i++)
		known[i] = a->irq[i].irq;
	if (pv_irq_scan_device_changes((const char(*)[PV_BDF_LEN])a->cfg->bdf, a->cfg->nbdf, known,
				       a->nirq, a->scan, &err) < 0) {
		a->st.errors++;
		pv_agent_log(a, LOG_ERR, "device IRQs: %s", err.msg);
		return;
	}
	for (int i = a->nirq - 1; a->scan->ngone && i >= 0; i--)
		if (!bsearch(&a->irq[i].irq, a->scan->now, (size_t)a->scan->nnow, sizeof(int),
			     irq_cmp))
			irq_drop(a, i);
	for (int i = 0; i < a->scan->nfresh; i++)
		irq_add(a, a->scan->fresh[i], first);
}

static void irqs_check(struct pv_agent *a)
{
	char buf[PV_IRQ_LIST_LEN];

	for (int i = 0; i < a->nirq; i++) {
		struct agent_irq *q = &a->irq[i];

		if (q->dirty || q->refused || !pv_agent_rl_allow(&q->rl, a->now))
			continue;
		q->gone = irq_read(q, buf, sizeof(buf)) == 1;
		if (!q->gone && strcmp(buf, q->held)) {
			q->dirty = true;
			a->need_fix = true;
		}
	}
}

static void irq_failed(struct pv_agent *a, struct agent_irq *q, const struct pv_err *err)
{
	if (err->errnum == EIO || err->errnum == EPERM) {
		q->refused = true;
		a->st.refused++;
		pv_agent_log(a, LOG_INFO, "irq %d: the kernel refuses an affinity (managed IRQ): left "
			     "alone", q->irq);
		return;
	}
	if (err->errnum == ENOENT) {
		q->gone = true;
		return;
	}
	a->st.errors++;
	pv_agent_rl_note(&q->rl, a->now);
	if (!q->logged_err)
		pv_agent_log(a, LOG_ERR, "irq %d: %s", q->irq, err->msg);
	q->logged_err = true;
}

static void irq_wrote(struct pv_agent *a, struct agent_irq *q, const char *was)
{
	char what[32];

	if (q->fresh) {
		a->st.new_irqs++;
		pv_agent_note(a, true, "irq %d: new device vector steered to %s (was %s)", q->irq,
			      a->cfg->irq_cpus, was);
		return;
	}
	a->st.irq_fixes++;
	snprintf(what, sizeof(what), "irq %d", q->irq);
	held_off(a, &q->rl, &q->logged_hold, what);
	pv_agent_note(a, !q->logged, "irq %d: affinity %s, set by someone else (or a new IRQ "
		      "under that number): put back to %s", q->irq, was, a->cfg->irq_cpus);
	q->logged = true;
}

static int irq_write(struct pv_engine *en, const struct agent_irq *q, const char *path,
		     const char *was, const char *want, struct pv_err *e)
{
	int rc;

	if (!q->fresh && !pv_cpus_equal(was, want) &&
	    (rc = reassert(en, PV_STEP_IRQ, path, was, want, e)) != 2)
		return rc;
	return pv_engine_write_attr(en, path, want, e);
}

/* true when it was newly steered (for irqbalance's ban). */
static bool irq_fix(struct pv_agent *a, struct pv_engine *en, struct agent_irq *q)
{
	char path[64], was[PV_IRQ_LIST_LEN];
	struct pv_err err = { 0 };
	int steps = en->nsteps;
	bool fresh = q->fresh;

	q->dirty = false;
	if ((q->gone = irq_read(q, was, sizeof(was)) == 1))
		return false;
	snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", q->irq);
	if (irq_write(en, q, path, was, a->cfg->irq_cpus, &err) < 0) {
		snprintf(q->held, sizeof(q->held), "%s", was);
		irq_failed(a, q, &err);
		return false;
	}
	if ((q->gone = irq_read(q, q->held, sizeof(q->held)) == 1))
		return false;
	if (en->nsteps > steps)
		irq_wrote(a, q, was);
	q->fresh = false;
	return fresh;
}

static void irqs_fix(struct pv_agent *a, struct pv_engine *en)
{
	_cleanup_bitmap_ hwloc_bitmap_t fresh = hwloc_bitmap_alloc();
	struct pv_err err = { 0 };

	if (!fresh)
		return;
	for (int i = 0; i < a->nirq; i++)
		if (a->irq[i].dirty && irq_fix(a, en, &a->irq[i]))
			hwloc_bitmap_set(fresh, (unsigned)a->irq[i].irq);
	/* irqbalance would move the new vectors off again: ban them as post-start did */
	if (a->cfg->ban_irqs && !hwloc_bitmap_iszero(fresh) &&
	    pv_engine_irqbalance(en, "irqs", fresh, &err) < 0) {
		a->st.errors++;
		pv_agent_log(a, LOG_ERR, "irqbalance: %s", err.msg);
	}
}

/* ------------------------------------------------------------ cpusets */

static int cg_read(struct agent_cg *c, char *buf, size_t n)
{
	char path[PV_PATH_MAX];

	if (c->fd >= 0 && reread(c->fd, buf, n) == 0)
		return 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (pv_cgroup_path(path, sizeof(path), c->cg, "cpuset.cpus", NULL) < 0 ||
	    (c->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 1;
	if (reread(c->fd, buf, n) == 0)
		return 0;
	close(c->fd);
	c->fd = -1;
	return 1;
}

static void cgs_check(struct pv_agent *a)
{
	char buf[PV_JVAL];

	for (int i = 0; i < a->ncg; i++) {
		struct agent_cg *c = &a->cg[i];

		if (c->dirty || !pv_agent_rl_allow(&c->rl, a->now))
			continue;
		c->gone = cg_read(c, buf, sizeof(buf)) == 1;
		if (!c->gone && strcmp(buf, c->held)) {
			c->dirty = true;
			a->need_fix = true;
		}
	}
}

/* What cg should hold now: host cgroups get what every isolating VM in the
 * ledger leaves the host (other VMs start and stop: that is no drift), the
 * isolating partition every CPU but those, the VM's own scope its plan
 * value. */
static void cg_want(struct pv_agent *a, struct pv_engine *en, const struct agent_cg *c,
		    struct pv_ledger *led, char *buf, size_t n)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	bool any = false;

	snprintf(buf, n, "%s", c->cpus);
	if (c->isolate) {
		if (pv_partition_cpus(en, c->cg, 0, a->cfg->iso_host, buf, n, &any, NULL) < 0 ||
		    !*buf)
			snprintf(buf, n, "%s", c->cpus);
		return;
	}
	if (c->own || !set || pv_ledger_host_set(led, 0, set, &any, NULL) < 0 || !any ||
	    hwloc_bitmap_iszero(set))
		return;
	if (pv_cpulist_format(buf, n, set) < 0)
		snprintf(buf, n, "%s", c->cpus);
}

/* true when it wrote (the scope's tasks may have had their masks reset). */
static bool cg_fix(struct pv_agent *a, struct pv_engine *en, struct pv_ledger *led,
		   struct agent_cg *c)
{
	char want[PV_JVAL], was[PV_JVAL], what[PV_JTARGET + 16];
	struct pv_err err = { 0 };
	int steps = en->nsteps;

	c->dirty = false;
	if ((c->gone = cg_read(c, was, sizeof(was)) == 1))
		return false;
	cg_want(a, en, c, led, want, sizeof(want));
	if (pv_cpus_equal(was, want)) {
		snprintf(c->held, sizeof(c->held), "%s", was);
		return false;
	}
	/* the partition as pre-start made it: its cpus, then its type */
	if (c->isolate ? pv_engine_isolate(en, c->cg, a->cfg->iso_host, &err) < 0
		       : pv_engine_cpuset(en, c->cg, want, !c->own, &err) < 0) {
		snprintf(c->held, sizeof(c->held), "%s", was);
		a->st.errors++;
		pv_agent_rl_note(&c->rl, a->now);
		if (!c->logged_err)
			pv_agent_log(a, LOG_ERR, "cpuset %s: %s", c->cg, err.msg);
		c->logged_err = true;
		return false;
	}
	if ((c->gone = cg_read(c, c->held, sizeof(c->held)) == 1) || en->nsteps == steps)
		return false;
	a->st.cpuset_fixes++;
	snprintf(what, sizeof(what), "cpuset %s", c->cg);
	held_off(a, &c->rl, &c->logged_hold, what);
	pv_agent_note(a, !c->logged, "cpuset %s: '%s' (reset by a systemd daemon-reload, or by "
		      "hand): put back '%s'", c->cg, was, want);
	c->logged = true;
	return true;
}

static bool cgs_fix(struct pv_agent *a, struct pv_engine *en, struct pv_ledger *led)
{
	bool wrote = false;

	for (int i = 0; i < a->ncg; i++)
		if (a->cg[i].dirty)
			wrote |= cg_fix(a, en, led, &a->cg[i]);
	return wrote;
}

/* The journal's cpusets (done, not undone): those pvepin really changed. */
static void cgs_init(struct pv_agent *a, const struct pv_jlist *l)
{
	for (int i = 0; l && i < l->n && a->ncg < PV_AGENT_MAX_CG; i++) {
		const struct pv_jrec *r = &l->r[i];
		const char *cg = strchr(r->target, ':');
		struct agent_cg *c = &a->cg[a->ncg];
		bool dup = false;
		char own[64];

		if ((r->kind != PV_STEP_CPUSET && r->kind != PV_STEP_PARTCPUS) || !r->done ||
		    r->undone || !cg || !pv_cgroup_name_ok(++cg))
			continue;
		for (int k = 0; k < a->ncg; k++)
			dup |= !strcmp(a->cg[k].cg, cg);
		if (dup)
			continue;
		memset(c, 0, sizeof(*c));
		snprintf(c->cg, sizeof(c->cg), "%s", cg);
		snprintf(c->cpus, sizeof(c->cpus), "%s", r->got);
		snprintf(own, sizeof(own), PV_QEMU_SCOPE_FMT, a->vmid);
		c->own = !strcmp(cg, own);
		c->isolate = r->kind == PV_STEP_PARTCPUS && !strcmp(cg, a->cfg->iso_cg);
		for (int k = 0; k < a->cfg->ncg; k++)
			if (!strcmp(a->cfg->cg[k].cg, cg))
				snprintf(c->cpus, sizeof(c->cpus), "%s", a->cfg->cg[k].cpus);
		c->fd = -1;
		c->dirty = true;
		a->ncg++;
	}
}

/* ------------------------------------------------------------ the passes */

int pv_agent_watch_init(struct pv_agent *a, const struct pv_jlist *journal, struct pv_err *e)
{
	a->pins = a->cfg->nvcpu > 0 || a->cfg->other[0];
	a->irqs = a->cfg->nbdf > 0 && a->cfg->irq_cpus[0];
	if (!(a->other = hwloc_bitmap_alloc()) || !(a->irqset = hwloc_bitmap_alloc()) ||
	    !(a->mask = calloc(1, a->masklen)))
		return pv_fail(e, ENOMEM, "agent");
	if (a->cfg->other[0] &&
	    pv_cpulist_parse(a->cfg->other, ',', PV_MAX_CPUS, a->other, e) < 0)
		return pv_wrap(e, "emulator CPUs");
	if (a->irqs && pv_cpulist_parse(a->cfg->irq_cpus, ',', PV_MAX_CPUS, a->irqset, e) < 0)
		return pv_wrap(e, "IRQ CPUs");
	if (a->irqs && !(a->scan = malloc(sizeof(*a->scan))))
		return pv_fail(e, ENOMEM, "agent");
	cgs_init(a, journal);
	return 0;
}

void pv_agent_watch_free(struct pv_agent *a)
{
	while (a->nth)
		thread_drop(a, 0);
	while (a->nirq)
		irq_drop(a, 0);
	for (int i = 0; i < a->ncg; i++)
		if (a->cg[i].fd >= 0)
			close(a->cg[i].fd);
	free(a->th);
	free(a->irq);
	free(a->scan);
	free(a->mask);
	hwloc_bitmap_free(a->other);
	hwloc_bitmap_free(a->irqset);
	a->th = NULL;
	a->irq = NULL;
	a->scan = NULL;
	a->mask = NULL;
	a->other = a->irqset = NULL;
}

void pv_agent_check(struct pv_agent *a)
{
	irqs_scan(a);
	cgs_check(a);
	threads_check(a);
	irqs_check(a);
	if (a->st.threads != a->nth || a->st.irqs != a->nirq || a->st.cgroups != a->ncg)
		a->stat_dirty = true;
	a->st.threads = a->nth;
	a->st.irqs = a->nirq;
	a->st.cgroups = a->ncg;
}

static bool any_dirty(const struct pv_agent *a)
{
	for (int i = 0; i < a->nth; i++)
		if (a->th[i].dirty)
			return true;
	for (int i = 0; i < a->nirq; i++)
		if (a->irq[i].dirty)
			return true;
	for (int i = 0; i < a->ncg; i++)
		if (a->cg[i].dirty)
			return true;
	return false;
}

static void fix_locked(struct pv_agent *a, struct pv_ledger *led)
{
	struct pv_engine en;
	struct pv_err err = { 0 };

	if (pv_engine_open(&en, a->vmid, PV_POST_START, led, &err) < 0) {
		a->st.errors++;
		pv_agent_log(a, LOG_ERR, "engine: %s", err.msg);
		return;
	}
	/* a cpuset written resets its tasks' masks: look at the threads again */
	if (cgs_fix(a, &en, led))
		threads_check(a);
	threads_fix(a, &en);
	irqs_fix(a, &en);
	pv_engine_close(&en);
}

/* The lock or the ledger failed: again at the next tick, said once. */
static int fix_failed(struct pv_agent *a, const struct pv_err *err)
{
	a->st.errors++;
	if (!a->logged_fix_err)
		pv_agent_log(a, LOG_ERR, "cannot fix what drifted: %s", err->msg);
	a->logged_fix_err = true;
	return 2;
}

int pv_agent_fix(struct pv_agent *a)
{
	struct pv_ledger led;
	struct pv_err err = { 0 };
	int lock;

	if (!any_dirty(a)) {
		a->need_fix = false;
		return 0;
	}
	/* never wait: a phase holding the lock may be post-stop, about to stop us */
	if ((lock = pv_lock_take(0, &err)) < 0) {
		if (!err.errnum) {
			a->st.lock_busy++;
			return 1;
		}
		return fix_failed(a, &err);
	}
	if (pv_ledger_load(&led, &err) < 0) {
		pv_lock_release(lock);
		return fix_failed(a, &err);
	}
	a->logged_fix_err = false;
	if (!pv_ledger_vm(&led, a->vmid)) {
		snprintf(a->why, sizeof(a->why), "VM %d is no longer in the ledger (restored)",
			 a->vmid);
		a->stop = true;
	} else {
		fix_locked(a, &led);
	}
	pv_ledger_free(&led);
	pv_lock_release(lock);
	a->need_fix = false;
	a->stat_dirty = true;
	return 0;
}
