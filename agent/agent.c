/* `pvepin agent VMID`: start-up, the event loop, its pidfile and stat file.
 * Idle, it sleeps in epoll_wait: QEMU's end and new threads are events;
 * only the IRQ and cpuset files (which have none) and thread masks are
 * looked at, every PV_AGENT_TICK_MS, the one timer an idle agent has (the
 * stat file is written at a tick). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sched.h>
#include <signal.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsio.h"
#include "common/opts.h"
#include "common/testknob.h"
#include "engine/threads.h"
#include "agent/agent_int.h"
#include "engine/journal.h"
#include "engine/ledger.h"
#include "vmctx/vmctx.h"

enum { EV_SIG = 1, EV_PIDFD, EV_CN };

long long pv_agent_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pv_agent_log(struct pv_agent *a, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}

void pv_agent_note(struct pv_agent *a, bool log, const char *fmt, ...)
{
	char msg[sizeof(a->last) - 16], hms[9];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!strftime(hms, sizeof(hms), "%H:%M:%S", localtime_r(&t, &tm)))
		hms[0] = '\0';
	snprintf(a->last, sizeof(a->last), "%s %s", hms, msg);
	a->stat_dirty = true;
	if (log)
		syslog(LOG_NOTICE, "%s", msg);
}

/* ------------------------------------------------------------ files */

static int run_path(char *buf, size_t n, int vmid, const char *suffix, struct pv_err *e)
{
	return pv_path(buf, n, e, "/run/pvepin/%d.agent%s", vmid, suffix);
}

/* One agent per VM: the pidfile stays flock'd while it runs. 1 = taken. */
static int pidfile_take(struct pv_agent *a, struct pv_err *e)
{
	char path[PV_PATH_MAX], other[32] = "";
	int fd;

	if (pv_rundir(e) < 0 || run_path(path, sizeof(path), a->vmid, "", e) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return pv_fail(e, errno, "open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		pv_read_file(path, other, sizeof(other), NULL);
		close(fd);
		if (err != EWOULDBLOCK)
			return pv_fail(e, err, "lock %s", path);
		pv_agent_log(a, LOG_INFO, "an agent already runs for VM %d (pid %s)", a->vmid, other);
		return 1;
	}
	if (ftruncate(fd, 0) < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0) {
		pv_fail(e, errno, "write %s", path);
		close(fd);
		return -1;
	}
	a->lockfd = fd;
	return 0;
}

static void pidfile_drop(struct pv_agent *a)
{
	char path[PV_PATH_MAX];

	if (a->lockfd < 0)
		return;
	if (run_path(path, sizeof(path), a->vmid, "", NULL) == 0)
		unlink(path);
	close(a->lockfd);
	a->lockfd = -1;
}

static void remove_stat(struct pv_agent *a)
{
	char path[PV_PATH_MAX];

	if (run_path(path, sizeof(path), a->vmid, ".stat", NULL) == 0)
		unlink(path);
}

static void stat_write(struct pv_agent *a, const char *state)
{
	struct pv_agent_info ai = { .running = true, .pid = getpid(), .qemu = a->qemu };
	char path[PV_PATH_MAX], tmp[PV_PATH_MAX + 8], buf[4096];
	struct rusage ru;
	int fd, len;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		a->st.cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
			       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
	snprintf(ai.state, sizeof(ai.state), "%s", state);
	snprintf(ai.mode, sizeof(ai.mode), "%s", a->mode);
	snprintf(ai.last, sizeof(ai.last), "%s", a->last);
	snprintf(ai.why, sizeof(ai.why), "%s", a->why);
	ai.started = a->started;
	ai.updated = (long long)time(NULL);
	ai.st = a->st;
	a->stat_at = a->now;
	a->stat_dirty = false;
	if (run_path(path, sizeof(path), a->vmid, ".stat", NULL) < 0 ||
	    (len = pv_agent_stat_format(buf, sizeof(buf), &ai)) < 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	/* /run is tmpfs: rename alone makes it atomic for readers, no fsync */
	if (write(fd, buf, (size_t)len) != len || close(fd) < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

/* ------------------------------------------------------------ start-up */

struct cfg_msg {
	int ok;
	struct pv_err err;
	struct pv_agent_cfg cfg;
};

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static _Noreturn void plan_child(int vmid, int fd)
{
	struct pv_vmctx *c = calloc(1, sizeof(*c));
	struct cfg_msg *m = calloc(1, sizeof(*m));

	if (!c || !m)
		_exit(1);
	if (pv_vmctx_load_phase(c, vmid, PV_POST_START, &m->err) == 0 &&
	    pv_agent_cfg_from_plan(&m->cfg, &c->plan, &m->err) == 0)
		m->ok = 1;
	_exit(write_all(fd, m, sizeof(*m)) < 0);
}

/* The plan is made in a short-lived child: the topology and the planner's
 * tables never touch the agent's own memory, which stays small for the
 * VM's whole life. */
static int load_cfg(int vmid, struct pv_agent_cfg *cfg, struct pv_err *e)
{
	_cleanup_free_ struct cfg_msg *m = calloc(1, sizeof(*m));
	size_t got = 0;
	int p[2], st;
	pid_t pid;

	if (!m)
		return pv_fail(e, ENOMEM, "agent");
	if (pipe2(p, O_CLOEXEC) < 0)
		return pv_fail(e, errno, "pipe");
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return pv_fail(e, errno, "fork");
	}
	if (pid == 0) {
		close(p[0]);
		plan_child(vmid, p[1]);
	}
	close(p[1]);
	while (got < sizeof(*m)) {
		ssize_t r = read(p[0], (char *)m + got, sizeof(*m) - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(*m))
		return pv_fail(e, 0, "VM %d: the planner (a child of the agent) ended without a plan",
			       vmid);
	if (!m->ok) {
		*e = m->err;
		return pv_wrap(e, "VM %d plan", vmid);
	}
	*cfg = m->cfg;
	return 0;
}

/* The smallest CPU mask the kernel takes (nr_cpu_ids bits, in longs). */
static size_t mask_len(void)
{
	for (size_t n = sizeof(long); n <= (1u << 17); n *= 2) {
		cpu_set_t *m = calloc(1, n);
		int rc;

		if (!m)
			return 0;
		rc = sched_getaffinity(0, n, m);
		free(m);
		if (rc == 0)
			return n;
		if (errno != EINVAL)
			return 0;
	}
	return 0;
}

static int epoll_add(struct pv_agent *a, int fd, uint32_t tag, struct pv_err *e)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	if (fd >= 0 && epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return pv_fail(e, errno, "epoll_ctl");
	return 0;
}

/* QEMU's pid and a pidfd on it. 1 = QEMU does not run (any more). */
static int find_qemu(struct pv_agent *a, struct pv_err *e)
{
	struct pv_err why = { 0 };
	pid_t again;
	int rc;

	if ((rc = pv_qemu_pid(a->vmid, &a->qemu, e)) != 0)
		return rc;
	if (!pv_qemu_is_vm(a->qemu, a->vmid)) {
		pv_agent_log(a, LOG_WARNING, "pid %d in VM %d's pidfile is no QEMU of that VM (its "
			     "command line has no -id %d): nothing to keep", a->qemu, a->vmid, a->vmid);
		return 1;
	}
	if (pv_thread_start(a->qemu, a->qemu, &a->qemu_start, &why) < 0)
		return 1;
	if ((a->pidfd = pv_pidfd_open(a->qemu, &why)) < 0) {
		if (why.errnum == ESRCH)
			return 1;
		pv_agent_log(a, LOG_INFO, "%s: QEMU's end is polled instead", why.msg);
	}
	/* the pid is QEMU's still, now that the pidfd holds it */
	if (pv_qemu_pid(a->vmid, &again, NULL) != 0 || again != a->qemu)
		return 1;
	return 0;
}

static bool qemu_gone(struct pv_agent *a)
{
	unsigned long long start;

	if (a->pidfd >= 0)
		return false;
	if (kill(a->qemu, 0) < 0 && errno == ESRCH)
		return true;
	/* the pid taken by another process since */
	return pv_thread_start(a->qemu, a->qemu, &start, NULL) < 0 || start != a->qemu_start;
}

/* New threads: the proc connector where it answers, else /proc/<pid>/task
 * each tick. The task directory stays open for the full listings. */
static int watch_threads(struct pv_agent *a, struct pv_err *e)
{
	char path[PV_PATH_MAX];
	struct pv_err why = { 0 };

	snprintf(a->mode, sizeof(a->mode), "none");
	if (!a->pins)
		return 0;
	if (pv_path(path, sizeof(path), e, "/proc/%d/task", a->qemu) < 0)
		return -1;
	if (!(a->taskdir = opendir(path))) {
		if (errno != ENOENT)
			return pv_fail(e, errno, "open %s", path);
		snprintf(a->why, sizeof(a->why), "QEMU (pid %d) ended", a->qemu);
		return 1;
	}
	if (pv_test_flag("PVEPIN_AGENT_NOEVENTS")) { /* test builds only */
		snprintf(why.msg, sizeof(why.msg), "PVEPIN_AGENT_NOEVENTS is set");
	} else if (pv_cn_open(a->qemu, 300, &a->cn, &why) == 0) {
		snprintf(a->mode, sizeof(a->mode), "proc-connector");
		return epoll_add(a, a->cn, EV_CN, e);
	}
	a->cn = -1;
	snprintf(a->mode, sizeof(a->mode), "task-poll");
	pv_agent_log(a, LOG_INFO, "no proc connector (%s): new QEMU threads are found by listing "
		     "%s every %d ms instead", why.msg, path, PV_AGENT_TICK_MS);
	return 0;
}

static int watch(struct pv_agent *a, struct pv_err *e)
{
	struct pv_jlist l = { 0 };
	int rc;

	if ((rc = pv_journal_load(a->vmid, &l, e)) < 0)
		return -1;
	if (rc == 0) {
		rc = pv_agent_watch_init(a, &l, e);
		pv_jlist_free(&l);
	} else {
		rc = pv_agent_watch_init(a, NULL, e);
	}
	if (rc < 0)
		return -1;
	if (!a->pins && !a->irqs && !a->ncg) {
		snprintf(a->why, sizeof(a->why), "nothing to keep: no pins, IRQs or cpusets planned");
		return 1;
	}
	if ((a->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return pv_fail(e, errno, "epoll_create1");
	if (epoll_add(a, a->sigfd, EV_SIG, e) < 0 || epoll_add(a, a->pidfd, EV_PIDFD, e) < 0)
		return -1;
	return watch_threads(a, e);
}

/* StartTransientUnit returns once systemd has queued the job; the agent
 * moves into its scope when the job runs. An agent stopped before that (a
 * pre-start that fails at once stops its guard) left systemd a scope whose
 * process never arrived, listed active with nothing in it (tests/vm2
 * 20-failstart on a loaded CI machine): wait, a second at most, until
 * /proc/self/cgroup names the scope. Signals wait meanwhile (signalfd). */
static bool in_scope(int vmid)
{
	char cg[512], want[64];
	size_t lw, lc;

	snprintf(want, sizeof(want), "/pvepin-agent-%d.scope", vmid);
	if (pv_read_attr("/proc/self/cgroup", cg, sizeof(cg), NULL) < 0)
		return true; /* nothing to wait on */
	lw = strlen(want);
	lc = strlen(cg);
	return lc >= lw && !strcmp(cg + lc - lw, want);
}

static void wait_in_scope(struct pv_agent *a)
{
	const struct timespec step = { 0, 5 * 1000 * 1000 };

	for (int i = 0; i < 200; i++) {
		if (in_scope(a->vmid))
			return;
		nanosleep(&step, NULL);
	}
	pv_agent_log(a, LOG_WARNING, "systemd has not moved the agent into its scope after 1 s");
}

/* 1 = nothing to do (another agent, no QEMU, nothing planned): exit 0. */
static int start(struct pv_agent *a, struct pv_err *e)
{
	int rc;

	if ((a->sigfd = pv_agent_signals(e)) < 0)
		return -1;
	if ((rc = pidfile_take(a, e)) != 0)
		return rc;
	if (pv_agent_scope_wanted()) {
		struct pv_err why = { 0 };

		if (pv_agent_scope(a->vmid, getpid(), &why) < 0)
			pv_agent_log(a, LOG_WARNING, "stays in the cgroup it was started in: %s",
				     why.msg);
		else
			wait_in_scope(a);
	}
	if (a->starter > 0)
		return pv_agent_guard(a);
	if (!(a->cfg = malloc(sizeof(*a->cfg))))
		return pv_fail(e, ENOMEM, "agent");
	if (!(a->masklen = mask_len()))
		return pv_fail(e, errno, "sched_getaffinity: no CPU mask size fits");
	if (load_cfg(a->vmid, a->cfg, e) < 0)
		return -1;
	if ((rc = find_qemu(a, e)) != 0) {
		if (rc == 1)
			snprintf(a->why, sizeof(a->why), "QEMU of VM %d does not run", a->vmid);
		return rc;
	}
	return watch(a, e);
}

/* ------------------------------------------------------------ the loop */

static void on_signal(struct pv_agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			/* look at everything again, as at start */
			a->rescan = true;
			a->next_tick = a->now;
			continue;
		}
		snprintf(a->why, sizeof(a->why), "stopped by %s", strsignal((int)si.ssi_signo));
		a->by_signal = true;
		a->stop = true;
	}
}

static void on_cn_event(void *ctx, const struct pv_cn_event *ev)
{
	struct pv_agent *a = ctx;

	a->st.events++;
	pv_agent_thread_event(a, ev->tid, ev->kind == PV_CN_COMM ? PV_TEV_RENAMED : PV_TEV_NEW);
}

static void on_cn(struct pv_agent *a)
{
	struct pv_err err = { 0 };
	bool overrun = false;

	if (pv_cn_drain(a->cn, a->qemu, on_cn_event, a, &overrun, &err) < 0) {
		pv_agent_log(a, LOG_ERR, "%s: listing QEMU's threads every %d ms from now on",
			     err.msg, PV_AGENT_TICK_MS);
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->cn, NULL);
		pv_cn_close(a->cn);
		a->cn = -1;
		snprintf(a->mode, sizeof(a->mode), "task-poll");
		a->st.errors++;
	}
	if (overrun)
		a->rescan = true;
}

static void tick(struct pv_agent *a)
{
	if (qemu_gone(a)) {
		snprintf(a->why, sizeof(a->why), "QEMU (pid %d) ended", a->qemu);
		a->stop = true;
		return;
	}
	if (a->cn < 0 || a->rescan || a->now >= a->next_resync) {
		pv_agent_threads_scan(a);
		a->next_resync = a->now + PV_AGENT_RESYNC_MS;
	}
	if (a->rescan) {
		/* everything as if new: SIGHUP or lost events */
		for (int i = 0; i < a->nth; i++)
			a->th[i].it.dirty = true;
		for (int i = 0; i < a->nirq; i++)
			a->irq[i].it.dirty = true;
		for (int i = 0; i < a->ncg; i++)
			a->cg[i].it.dirty = true;
		a->need_fix = true;
		a->rescan = false;
	}
	pv_agent_check(a);
	a->st.ticks++;
	/* a period after this one was due, not after it ran: the late wake-ups
	 * timer slack allows do not add up, and a tick made late by a busy
	 * host is not followed by another at once */
	a->next_tick += PV_AGENT_TICK_MS;
	if (a->next_tick <= a->now)
		a->next_tick = a->now + PV_AGENT_TICK_MS;
}

/* After a fix pass that could not run: soon when only the lock was busy. */
static void retry(struct pv_agent *a, enum pv_agent_fixed rc)
{
	if (rc == PV_FIX_BUSY)
		a->retry_at = a->now + PV_AGENT_RETRY_MS;
	else if (rc == PV_FIX_FAILED)
		a->retry_at = a->next_tick;
}

static int timeout_ms(const struct pv_agent *a)
{
	long long next = a->next_tick;

	if (a->need_fix && a->retry_at < next)
		next = a->retry_at;
	return next <= a->now ? 0 : (int)(next - a->now);
}

/* The stat file has no timer of its own, which would be a wake-up more:
 * it is written at the wake-up after which the next tick would come too
 * late for PV_AGENT_STAT_MS, so at most that long after a change and at
 * least PV_AGENT_STAT_MS - PV_AGENT_TICK_MS after the last write. */
static bool stat_due(const struct pv_agent *a)
{
	return a->stat_dirty && a->next_tick > a->stat_at + PV_AGENT_STAT_MS;
}

static void dispatch(struct pv_agent *a, const struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		switch (ev[i].data.u32) {
		case EV_SIG:
			on_signal(a);
			break;
		case EV_PIDFD:
			snprintf(a->why, sizeof(a->why), "QEMU (pid %d) ended", a->qemu);
			a->stop = true;
			break;
		case EV_CN:
			on_cn(a);
			break;
		}
	}
}

static int loop(struct pv_agent *a)
{
	struct epoll_event ev[4];

	while (!a->stop) {
		int n;

		a->now = pv_agent_now();
		n = epoll_wait(a->epfd, ev, 4, timeout_ms(a));
		if (n < 0 && errno != EINTR) {
			pv_agent_log(a, LOG_ERR, "epoll_wait: %s", strerror(errno));
			snprintf(a->why, sizeof(a->why), "epoll_wait failed");
			return -1;
		}
		a->now = pv_agent_now();
		dispatch(a, ev, n > 0 ? n : 0);
		if (a->stop)
			break;
		if (a->now >= a->next_tick)
			tick(a);
		if (!a->stop && a->need_fix && a->now >= a->retry_at)
			retry(a, pv_agent_fix(a));
		if (stat_due(a))
			stat_write(a, "running");
	}
	return 0;
}

static void first_pass(struct pv_agent *a)
{
	a->now = pv_agent_now();
	a->started = (long long)time(NULL);
	pv_agent_threads_scan(a);
	pv_agent_check(a);
	a->st.ticks++;
	a->next_tick = a->now + PV_AGENT_TICK_MS;
	a->next_resync = a->now + PV_AGENT_RESYNC_MS;
	retry(a, pv_agent_fix(a));
	pv_agent_memcheck(a);
	pv_agent_log(a, LOG_INFO, "keeping VM %d right while QEMU (pid %d) runs: %d threads, %d "
		     "device IRQs, %d cpusets; new threads by %s, checks every %d ms", a->vmid,
		     a->qemu, a->nth, a->nirq, a->ncg,
		     a->cn >= 0 ? "the proc connector" : "listing", PV_AGENT_TICK_MS);
	stat_write(a, "running");
}

/* The VM holds nothing any more: no ledger entry (post-stop gave the host
 * back, and may have been killed before it stopped this agent). */
static bool nothing_held(const struct pv_agent *a)
{
	struct pv_ledger led;
	bool held;

	if (pv_ledger_load(&led, NULL) < 0)
		return false;
	held = pv_ledger_vm(&led, a->vmid) != NULL;
	pv_ledger_free(&led);
	return !held;
}

static void end(struct pv_agent *a)
{
	/* an "exited" stat tells `status` the VM's changes lost their agent;
	 * with nothing held there is nothing to tell (tests/vm2 41: post-stop
	 * killed at its last write left the stat file for good) */
	bool leave_none = a->gave_back || nothing_held(a);

	if (a->why[0])
		pv_agent_log(a, LOG_INFO, "agent ends: %s", a->why);
	if (a->lockfd >= 0 && a->started && !leave_none)
		stat_write(a, "exited");
	if (leave_none)
		remove_stat(a);
	pidfile_drop(a);
	pv_cn_close(a->cn);
	if (a->taskdir)
		closedir(a->taskdir);
	pv_agent_watch_free(a);
	if (a->pidfd >= 0)
		close(a->pidfd);
	if (a->sigfd >= 0)
		close(a->sigfd);
	if (a->epfd >= 0)
		close(a->epfd);
	free(a->cfg);
	closelog();
}

int pv_agent_run(int vmid, pid_t starter)
{
	_cleanup_free_ struct pv_agent *a = calloc(1, sizeof(*a));
	struct pv_err e = { 0 };
	int rc;

	if (!a)
		return 1;
	*a = (struct pv_agent){ .vmid = vmid, .pidfd = -1, .cn = -1, .sigfd = -1, .epfd = -1,
				.lockfd = -1, .starter = starter };
	/* "pvepin", not "exe": post-start runs us as /proc/self/exe */
	prctl(PR_SET_NAME, "pvepin");
	/* wake-ups may be late by this much: reaction stays well under 1 s */
	prctl(PR_SET_TIMERSLACK, 20UL * 1000 * 1000);
	umask(022);
	snprintf(a->ident, sizeof(a->ident), "pvepin[%d]", vmid);
	openlog(a->ident, pv_opt.verbose ? LOG_PERROR : 0, LOG_DAEMON);
	rc = start(a, &e);
	if (rc < 0) {
		pv_agent_log(a, LOG_ERR, "agent cannot start: %s", e.msg);
		if (pv_opt.verbose == 0)
			pv_err_print(&e);
	}
	if (rc == 0) {
		first_pass(a);
		rc = loop(a);
		if (rc == 0 && !a->by_signal)
			pv_agent_after_qemu(a);
	}
	end(a);
	return rc < 0 ? 1 : 0;
}
