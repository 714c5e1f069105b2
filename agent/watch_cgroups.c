/* The agent's cgroup watcher: the journaled cpusets (and the isolating
 * partition), read through kept-open cpuset.cpus files and put back through
 * the engine when a daemon-reload or a hand resets them. */
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
#include "common/limits.h"
#include "conf/cpulist.h"
#include "engine/cpuset.h"
#include "engine/engine.h"
#include "engine/threads.h"
#include "agent/agent_int.h"
#include "engine/ledger.h"

static int cg_read(struct agent_cg *c, char *buf, size_t n)
{
	char path[PV_PATH_MAX];

	if (c->fd >= 0 && pv_agent_reread(c->fd, buf, n) == 0)
		return 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (pv_cgroup_path(path, sizeof(path), c->cg, "cpuset.cpus", NULL) < 0 ||
	    (c->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 1;
	if (pv_agent_reread(c->fd, buf, n) == 0)
		return 0;
	close(c->fd);
	c->fd = -1;
	return 1;
}

void pv_agent_cgs_check(struct pv_agent *a)
{
	char buf[PV_JVAL];

	for (int i = 0; i < a->ncg; i++) {
		struct agent_cg *c = &a->cg[i];

		if (c->it.dirty || !pv_agent_rl_allow(&c->it.rl, a->now))
			continue;
		c->it.gone = cg_read(c, buf, sizeof(buf)) == 1;
		if (!c->it.gone && strcmp(buf, c->held)) {
			c->it.dirty = true;
			a->need_fix = true;
		}
	}
}

/* What cg should hold now: host cgroups get what every isolating VM in the
 * ledger leaves the host (other VMs start and stop: that is no drift), the
 * isolating partition every CPU but those, the VM's own scope its plan
 * value. */
static void cg_want(struct pv_agent *a, const struct agent_cg *c, struct pv_ledger *led,
		    char *buf, size_t n)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	bool any = false;

	snprintf(buf, n, "%s", c->cpus);
	if (c->isolate) {
		if (pv_partition_cpus(&a->en, c->cg, 0, a->cfg->iso_host, buf, n, &any, NULL) < 0 ||
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
static bool cg_fix(struct pv_agent *a, struct pv_ledger *led, struct agent_cg *c)
{
	char want[PV_JVAL], was[PV_JVAL], what[PV_JTARGET + 16];
	struct pv_err err = { 0 };
	struct pv_engine *en = &a->en;
	int steps = en->nsteps;

	c->it.dirty = false;
	snprintf(what, sizeof(what), "cpuset %s", c->cg);
	if ((c->it.gone = cg_read(c, was, sizeof(was)) == 1))
		return false;
	cg_want(a, c, led, want, sizeof(want));
	if (pv_cpus_equal(was, want)) {
		snprintf(c->held, sizeof(c->held), "%s", was);
		return false;
	}
	/* the partition as pre-start made it: its cpus, then its type */
	if (c->isolate ? pv_engine_isolate(en, c->cg, a->cfg->iso_host, &err) < 0
		       : pv_engine_cpuset(en, c->cg, want, !c->own, &err) < 0) {
		snprintf(c->held, sizeof(c->held), "%s", was);
		pv_agent_fix_failed(a, &c->it, what, &err);
		return false;
	}
	if ((c->it.gone = cg_read(c, c->held, sizeof(c->held)) == 1) || en->nsteps == steps)
		return false;
	a->st.cpuset_fixes++;
	pv_agent_held_off(a, &c->it, what);
	pv_agent_note(a, !c->it.logged, "cpuset %s: '%s' (reset by a systemd daemon-reload, or by "
		      "hand): put back '%s'", c->cg, was, want);
	c->it.logged = true;
	return true;
}

bool pv_agent_cgs_fix(struct pv_agent *a, struct pv_ledger *led)
{
	bool wrote = false;

	for (int i = 0; i < a->ncg; i++)
		if (a->cg[i].it.dirty)
			wrote |= cg_fix(a, led, &a->cg[i]);
	return wrote;
}

/* The journal's cpusets (done, not undone): those pvepin really changed. */
void pv_agent_cgs_init(struct pv_agent *a, const struct pv_jlist *l)
{
	for (int i = 0; l && i < l->n && a->ncg < PV_AGENT_MAX_CG; i++) {
		const struct pv_jent *r = &l->r[i];
		const char *cg = pv_engine_cpuset_cg(r);
		struct agent_cg *c = &a->cg[a->ncg];
		bool dup = false;
		char own[64];

		if (!cg || !r->done || r->undone)
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
		c->it.dirty = true;
		a->ncg++;
	}
}

void pv_agent_cgs_free(struct pv_agent *a)
{
	for (int i = 0; i < a->ncg; i++)
		if (a->cg[i].fd >= 0)
			close(a->cg[i].fd);
	a->ncg = 0;
}
