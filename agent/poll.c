/* What the agent keeps true: QEMU's thread masks, the passthrough devices'
 * IRQ affinities, the journaled cpusets (one watcher each, watch_*.c).
 * Each tick compares what the kernel shows now with what the agent last
 * saw right ("held"), reading only kept-open files and one
 * sched_getaffinity per thread; whatever differs is fixed under the phase
 * lock, through the engine, so the journal (and with it restore) covers
 * every change the agent makes. Here: the plan's wants, the rate limits,
 * and the passes. */
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
	if (++rl->count < (rl->free ? rl->free : PV_AGENT_RL_FREE))
		return false;
	rl->backoff = rl->backoff ? rl->backoff * 2 : PV_AGENT_RL_FIRST_MS;
	if (rl->backoff > PV_AGENT_RL_MAX_MS)
		rl->backoff = PV_AGENT_RL_MAX_MS;
	rl->hold_until = now + rl->backoff;
	return true;
}

void pv_agent_held_off(struct pv_agent *a, struct agent_item *it, const char *what)
{
	if (!pv_agent_rl_note(&it->rl, a->now))
		return;
	a->st.held_off++;
	if (it->logged_hold)
		return;
	it->logged_hold = true;
	pv_agent_log(a, LOG_WARNING, "%s keeps being changed by someone else: putting it back at "
		     "most every %lld s from now on (irqbalance, a tuning script?)", what,
		     it->rl.backoff / 1000);
}

void pv_agent_fix_failed(struct pv_agent *a, struct agent_item *it, const char *what,
			 const struct pv_err *err)
{
	a->st.errors++;
	pv_agent_rl_note(&it->rl, a->now);
	if (!it->logged_err)
		pv_agent_log(a, LOG_ERR, "%s: %s", what, err->msg);
	it->logged_err = true;
}

int pv_agent_reread(int fd, char *buf, size_t n)
{
	ssize_t r = pread(fd, buf, n - 1, 0);

	if (r < 0)
		return -1;
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == '\r'))
		r--;
	buf[r] = '\0';
	return 0;
}

/* ------------------------------------------------------------ the passes */

int pv_agent_watch_init(struct pv_agent *a, const struct pv_jlist *journal, struct pv_err *e)
{
	a->pins = a->cfg->nvcpu > 0 || a->cfg->other[0];
	a->irqs = a->cfg->nbdf > 0 && a->cfg->irq_cpus[0];
	a->new_irqs.free = PV_AGENT_RL_FREE_NEW_IRQS;
	if (pv_engine_open(&a->en, a->vmid, PV_POST_START, NULL, e) < 0)
		return -1;
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
	pv_agent_cgs_init(a, journal);
	return 0;
}

void pv_agent_watch_free(struct pv_agent *a)
{
	pv_agent_threads_free(a);
	pv_agent_irqs_free(a);
	pv_agent_cgs_free(a);
	pv_engine_close(&a->en);
	free(a->scan);
	free(a->mask);
	hwloc_bitmap_free(a->other);
	hwloc_bitmap_free(a->irqset);
	a->scan = NULL;
	a->mask = NULL;
	a->other = a->irqset = NULL;
}

void pv_agent_check(struct pv_agent *a)
{
	int nirq = 0;

	pv_agent_irqs_scan(a);
	pv_agent_cgs_check(a);
	pv_agent_threads_check(a);
	pv_agent_irqs_check(a);

	for (int i = 0; i < a->nirq; i++)
		nirq += !a->irq[i].it.gone; /* a disabled vector is kept, not counted */
	if (a->st.threads != a->nth || a->st.irqs != nirq || a->st.cgroups != a->ncg)
		a->stat_dirty = true;
	a->st.threads = a->nth;
	a->st.irqs = nirq;
	a->st.cgroups = a->ncg;
}

static bool any_dirty(const struct pv_agent *a)
{
	for (int i = 0; i < a->nth; i++)
		if (a->th[i].it.dirty)
			return true;
	for (int i = 0; i < a->nirq; i++)
		if (a->irq[i].it.dirty)
			return true;
	for (int i = 0; i < a->ncg; i++)
		if (a->cg[i].it.dirty)
			return true;
	return false;
}

static void fix_locked(struct pv_agent *a, struct pv_ledger *led)
{
	struct pv_err err = { 0 };

	if (pv_engine_begin(&a->en, led, &err) < 0) {
		a->st.errors++;
		pv_agent_log(a, LOG_ERR, "engine: %s", err.msg);
		return;
	}
	/* a cpuset written resets its tasks' masks: look at the threads again */
	if (pv_agent_cgs_fix(a, led))
		pv_agent_threads_check(a);
	pv_agent_threads_fix(a);
	pv_agent_irqs_fix(a);
	if (pv_engine_sync(&a->en, &err) < 0) {
		a->st.errors++;
		pv_agent_log(a, LOG_ERR, "engine: %s", err.msg);
	}
	a->en.led = NULL; /* this pass's, freed after it */
}

/* The lock or the ledger failed: again at the next tick, said once. */
static enum pv_agent_fixed fix_failed(struct pv_agent *a, const struct pv_err *err)
{
	a->st.errors++;
	if (!a->logged_fix_err)
		pv_agent_log(a, LOG_ERR, "cannot fix what drifted: %s", err->msg);
	a->logged_fix_err = true;
	return PV_FIX_FAILED;
}

enum pv_agent_fixed pv_agent_fix(struct pv_agent *a)
{
	struct pv_ledger led;
	struct pv_err err = { 0 };
	int lock;

	if (!any_dirty(a)) {
		a->need_fix = false;
		return PV_FIX_DONE;
	}
	/* never wait: a phase holding the lock may be post-stop, about to stop us */
	if ((lock = pv_lock_take(0, &err)) < 0) {
		if (!err.errnum) {
			a->st.lock_busy++;
			return PV_FIX_BUSY;
		}
		return fix_failed(a, &err);
	}
	/* under the lock: a corrupt ledger is rebuilt (this agent running
	 * keeps its VM in it), not taken for "restored" */
	if (pv_ledger_load_repair(&led, true, &err) < 0) {
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
	return PV_FIX_DONE;
}
