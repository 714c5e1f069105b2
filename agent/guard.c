/* The paths on which PVE never runs post-stop (doc/DESIGN.md
 * "No path leaves the host changed"): a start that fails after pre-start ("start failed",
 * vm_start_nolock), the source of a live migration (QemuMigrate.pm skips
 * post-stop), a hookscript removed while the VM runs, post-stop giving up
 * on the lock, pvepin itself killed. The agent is the one process that
 * outlives each of them, so it gives the host back:
 *   - as pre-start's guard, when the process that ran pre-start ends and no
 *     QEMU for the VM came, or QEMU came and ended before post-start;
 *   - as the agent proper, when QEMU ended and no post-stop stopped it
 *     within the grace time.
 * Giving back is post-stop's own restore, under the phase lock, and only
 * while the VM is in the ledger and its QEMU does not run. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "common/fsio.h"
#include "common/testknob.h"
#include "engine/lock.h"
#include "engine/threads.h"
#include "vmctx/giveback.h"
#include "vmctx/topocache.h"

#define GUARD_POLL_MS 200
#define GIVE_BACK_LOCK_S 600

/* Test knob (test builds only): PVEPIN_AGENT_GRACE_MS. */
static int grace_ms(void)
{
	long ms = pv_test_knob("PVEPIN_AGENT_GRACE_MS");

	return ms > 0 && ms <= 3600000 ? (int)ms : PV_AGENT_GRACE_MS;
}

/* Up to ms for SIGTERM/SIGINT (SIGHUP is no stop): true when one came. */
static bool stopped_within(struct pv_agent *a, int ms)
{
	long long until = pv_agent_now() + ms;
	struct signalfd_siginfo si;

	for (;;) {
		struct pollfd p = { .fd = a->sigfd, .events = POLLIN };
		long long left = until - pv_agent_now();

		while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP)
				continue;
			snprintf(a->why, sizeof(a->why), "stopped by %s", strsignal((int)si.ssi_signo));
			a->by_signal = true;
			return true;
		}
		if (left <= 0)
			return false;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return false;
	}
}

static bool alive(pid_t pid, unsigned long long start)
{
	unsigned long long now;

	return pv_thread_start(pid, pid, &now, NULL) == 0 && now == start;
}

static void give_back(struct pv_agent *a, const char *why)
{
	struct pv_ledger led;
	struct pv_err e = { 0 };
	bool mine, gone;
	pid_t pid;
	int lock;

	if ((lock = pv_lock_take(GIVE_BACK_LOCK_S, &e)) < 0) {
		pv_agent_log(a, LOG_ERR, "%s, but the host cannot be given back: %s; run `pvepin "
			     "restore %d`", why, e.msg, a->vmid);
		return;
	}
	/* under the lock: a corrupt ledger is rebuilt (this guard running
	 * keeps its VM in it) so the host can still be given back */
	if (pv_ledger_load_repair(&led, true, &e) < 0) {
		pv_lock_release(lock);
		pv_agent_log(a, LOG_ERR, "%s: %s; run `pvepin restore %d`", why, e.msg, a->vmid);
		return;
	}
	mine = pv_ledger_vm(&led, a->vmid) != NULL;
	gone = pv_qemu_pid(a->vmid, &pid, NULL) == 1;
	/* post-stop or restore came first, or the VM runs again */
	if (!mine || !gone) {
		/* a pre-start cut short before the ledger named the VM (killed
		 * at its first write) changed nothing but the topology copy it
		 * kept for a post-start that will not come */
		if (!mine && gone)
			pv_topocache_drop(a->vmid);
		pv_ledger_free(&led);
		pv_lock_release(lock);
		return;
	}
	if (pv_give_back_locked(a->vmid, &led, &e) < 0)
		pv_agent_log(a, LOG_ERR, "%s; giving the host back failed: %s; run `pvepin restore "
			     "%d`", why, e.msg, a->vmid);
	else
		pv_agent_log(a, LOG_NOTICE, "%s: gave the host back", why);
	pv_ledger_free(&led);
	pv_lock_release(lock);
	a->gave_back = true;
}

void pv_agent_after_qemu(struct pv_agent *a)
{
	if (stopped_within(a, grace_ms()))
		return;
	give_back(a, "QEMU ended and no post-stop came");
}

/* Until post-start stops us: QEMU comes (and may end), the starter ends. */
int pv_agent_guard(struct pv_agent *a)
{
	unsigned long long sstart = 0, qstart = 0;
	bool starter = pv_thread_start(a->starter, a->starter, &sstart, NULL) == 0;
	pid_t qemu = 0;

	pv_agent_log(a, LOG_INFO, "guarding VM %d's start (run by pid %d) until post-start",
		     a->vmid, a->starter);
	for (;;) {
		pid_t pid;

		if (stopped_within(a, GUARD_POLL_MS))
			return 1;
		if (!qemu && pv_qemu_pid(a->vmid, &pid, NULL) == 0 &&
		    pv_thread_start(pid, pid, &qstart, NULL) == 0)
			qemu = pid;
		if (qemu && !alive(qemu, qstart)) {
			snprintf(a->why, sizeof(a->why), "QEMU (pid %d) ended before post-start", qemu);
			pv_agent_after_qemu(a);
			return 1;
		}
		if (!qemu && (!starter || !alive(a->starter, sstart))) {
			/* QEMU writes its pid file before its starter returns */
			if (pv_qemu_pid(a->vmid, &pid, NULL) == 0)
				continue;
			snprintf(a->why, sizeof(a->why), "the start ended without QEMU");
			give_back(a, "the start that ran pre-start ended with no QEMU");
			return 1;
		}
	}
}
