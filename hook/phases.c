#include "hook/phases.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/limits.h"
#include "common/opts.h"
#include "conf/cpulist.h"
#include "irqtune/irqtune.h"
#include "irqtune/procinterrupts.h"
#include "engine/agent_ctl.h"
#include "vmctx/topocache.h"
#include "engine/engine.h"
#include "engine/lock.h"
#include "vmctx/giveback.h"
#include "vmctx/safety.h"
#include "vmctx/vmctx.h"

#define LOCK_WAIT_S 120
#define AGENT_STOP_MS 2000

/* What post-start gathers once and shares between its actions. */
struct post {
	pid_t pid;
	bool pinned, steered;
	hwloc_bitmap_t irqs;   /* device IRQs steered, for irqbalance */
	int nfail;
	bool have_pi;
	struct pv_procint pi;  /* /proc/interrupts, read once for both IRQ actions */
};

/* /proc/interrupts as post-start first needed it: steering the devices
 * and moving the others plan from the same reading (each IRQ's affinity
 * is read again as it is moved). */
static const struct pv_procint *post_procint(struct post *ps, struct pv_err *e)
{
	if (!ps->have_pi && pv_procint_read(&ps->pi, e) < 0)
		return NULL;
	ps->have_pi = true;
	return &ps->pi;
}

static int parse_set(const char *list, hwloc_bitmap_t set, struct pv_err *e)
{
	return pv_cpulist_parse(list, ',', PV_MAX_CPUS, set, e);
}

static int do_governor(struct pv_engine *en, const struct pv_action *a, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	int cpu;

	if (!set || parse_set(a->target, set, e) < 0)
		return -1;
	hwloc_bitmap_foreach_begin(cpu, set)
		if (pv_engine_governor(en, (unsigned)cpu, a->value, e) < 0)
			return -1;
	hwloc_bitmap_foreach_end();
	return 0;
}

/* Host cgroups get the CPUs every isolating VM in the ledger leaves free;
 * the VM's own scope gets its plan value. */
static int do_cpuset(struct pv_engine *en, const struct pv_plan *p, struct pv_ledger *led,
		     const struct pv_action *a, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char own[64], val[PV_JVAL];
	bool any = false;

	if (!set)
		return pv_fail(e, ENOMEM, "cpu set");
	snprintf(own, sizeof(own), PV_QEMU_SCOPE_FMT, p->vmid);
	if (!strcmp(a->target, own))
		return pv_engine_cpuset(en, a->target, a->value, false, e) < 0 ? -1 : 0;
	if (pv_ledger_host_set(led, 0, set, &any, e) < 0)
		return -1;
	if (!any || hwloc_bitmap_iszero(set) || pv_cpulist_format(val, sizeof(val), set) < 0)
		snprintf(val, sizeof(val), "%s", a->value);
	return pv_engine_cpuset(en, a->target, val, true, e) < 0 ? -1 : 0;
}

static const struct pv_action *find_act(const struct pv_plan *p, enum pv_act_kind k, int vcpu)
{
	for (int i = 0; i < p->nact; i++)
		if (p->act[i].kind == k && (k != PV_ACT_PIN_VCPU || p->act[i].vcpu == vcpu))
			return &p->act[i];
	return NULL;
}

/* One pass over QEMU's threads: vCPU n to its PU, the rest to the
 * emulator set. A thread that ends meanwhile is no failure. */
static int pin_threads(struct pv_engine *en, const struct pv_plan *p, struct post *ps,
		       struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	_cleanup_free_ struct pv_thread *t = NULL;
	int n;

	if (!set)
		return pv_fail(e, ENOMEM, "cpu set");
	if (pv_threads_list(ps->pid, &t, &n, e) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const struct pv_action *a = t[i].vcpu >= 0 ? find_act(p, PV_ACT_PIN_VCPU, t[i].vcpu) : NULL;
		struct pv_err err = { 0 };

		if (a) {
			hwloc_bitmap_only(set, a->pu);
		} else if ((a = find_act(p, PV_ACT_PIN_OTHER, 0))) {
			if (parse_set(a->value, set, &err) < 0)
				return pv_fail(e, 0, "%s", err.msg);
		} else {
			continue;
		}
		if (pv_engine_affinity(en, ps->pid, &t[i], set, &err) < 0) {
			fprintf(stderr, "pvepin: pin thread %d (%s): %s\n", t[i].tid, t[i].comm, err.msg);
			ps->nfail++;
		}
	}
	return 0;
}

static int steer_irqs(struct pv_engine *en, const struct pv_plan *p, const struct pv_action *a,
		      struct post *ps, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t cpus = hwloc_bitmap_alloc();
	char bdfs[PV_MAX_DEVS][PV_BDF_LEN];
	struct pv_irq_report rep = { 0 };
	const struct pv_procint *pi;
	int n = 0, rc;

	if (!cpus || parse_set(a->value, cpus, e) < 0)
		return -1;
	if (!(pi = post_procint(ps, e)))
		return pv_wrap(e, "steer device IRQs");
	for (int i = 0; i < p->nact && n < PV_MAX_DEVS; i++)
		if (p->act[i].kind == PV_ACT_IRQ_STEER)
			snprintf(bdfs[n++], PV_BDF_LEN, "%s", p->act[i].target);
	rc = pv_irq_steer_devices_pi(pi, (const char(*)[PV_BDF_LEN])bdfs, n, cpus,
				     pv_engine_attr_writer, en, &rep, e);
	for (int i = 0; i < rep.nline; i++)
		if (rep.line[i].irq >= 0 && (rep.line[i].status == PV_IRQ_STEERED ||
					     rep.line[i].status == PV_IRQ_UNCHANGED))
			hwloc_bitmap_set(ps->irqs, (unsigned)rep.line[i].irq);
	if (pv_opt.verbose)
		pv_irq_report_print(stderr, &rep);
	pv_irq_report_free(&rep);
	return rc;
}

/* Before a device goes to vfio-pci, its INTx line to the IRQ CPUs the plan
 * steers it to at post-start (irqtune.h, pv_irq_steer_intx: so that restore
 * gives back the line's value from before the VM, not the one the kernel
 * gives it when vfio-intx requests it). Only for the devices post-start
 * steers; a failure is reported, not fatal: post-start steers it anyway. */
static void steer_intx(struct pv_engine *en, const struct pv_plan *p, const char *bdf)
{
	_cleanup_bitmap_ hwloc_bitmap_t cpus = hwloc_bitmap_alloc();
	const struct pv_action *a = NULL;
	struct pv_irq_report rep = { 0 };
	struct pv_err e = { 0 };

	for (int i = 0; i < p->nact && !a; i++)
		if (p->act[i].kind == PV_ACT_IRQ_STEER && !strcmp(p->act[i].target, bdf))
			a = &p->act[i];
	if (!a)
		return;
	if (!cpus || parse_set(a->value, cpus, &e) < 0 ||
	    pv_irq_steer_intx(bdf, cpus, pv_engine_attr_writer, en, &rep, &e) < 0)
		fprintf(stderr, "pvepin: VM %d: %s (post-start steers it)\n", p->vmid, e.msg);
	if (pv_opt.verbose)
		pv_irq_report_print(stderr, &rep);
	pv_irq_report_free(&rep);
}

static int do_irqbalance(struct pv_engine *en, const struct pv_action *a, struct post *ps,
			 struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t cpus = hwloc_bitmap_alloc();

	if (!cpus || parse_set(a->value, cpus, e) < 0)
		return -1;
	if (pv_engine_irqbalance(en, "cpus", cpus, e) < 0)
		return -1;
	if (hwloc_bitmap_iszero(ps->irqs))
		return 0;
	return pv_engine_irqbalance(en, "irqs", ps->irqs, e);
}

/* Other IRQs off the VM's CPUs. Only the first isolating VM moves them:
 * a second would journal the first one's values as its "old" ones, and
 * restores in any stop order would no longer give the host back exactly.
 * irqbalance's ban covers the later VMs where it runs. */
static int do_irq_others(struct pv_engine *en, const struct pv_plan *p, struct pv_ledger *led,
			 const struct pv_action *a, struct post *ps, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t vm = hwloc_bitmap_alloc();
	struct pv_irq_report rep = { .brief = !pv_opt.verbose };
	const struct pv_procint *pi;
	int rc;

	if (!vm || parse_set(a->value, vm, e) < 0)
		return -1;
	if (pv_ledger_others(led, p->vmid) > 0) {
		if (pv_opt.verbose)
			fprintf(stderr, "pvepin: other IRQs: left to the VM that started first\n");
		return 0;
	}
	if (!(pi = post_procint(ps, e)))
		return pv_wrap(e, "move other IRQs off the VM's CPUs");
	rc = pv_irq_steer_others_pi(pi, vm, p->host_cpus, pv_engine_attr_batch, en, &rep, e);
	if (pv_opt.verbose)
		pv_irq_report_print(stderr, &rep);
	pv_irq_report_free(&rep);
	return rc;
}

static int run_act(struct pv_engine *en, const struct pv_plan *p, const struct pv_policy *pol,
		   struct pv_ledger *led, const struct pv_action *a, struct post *ps,
		   struct pv_err *e)
{
	const struct pv_plan_dev *d = NULL;

	if (!ps && (a->kind == PV_ACT_PIN_VCPU || a->kind == PV_ACT_PIN_OTHER ||
		    a->kind == PV_ACT_IRQ_STEER || a->kind == PV_ACT_IRQBALANCE ||
		    a->kind == PV_ACT_IRQ_OTHERS))
		return pv_fail(e, EINVAL, "plan: %s belongs to post-start", pv_act_name(a->kind));
	switch (a->kind) {
	case PV_ACT_VFIO_BIND:
		steer_intx(en, p, a->target);
		for (int i = 0; i < p->ndev; i++)
			if (!strcmp(p->dev[i].bdf, a->target))
				d = &p->dev[i];
		return pv_engine_rebind(en, a->target, d ? d->group : -1, !pol->restore_driver, e) < 0
			       ? -1 : 0;
	case PV_ACT_HUGEPAGES:
		return pv_engine_hugepages(en, a->node, a->size_kb, a->count, e);
	case PV_ACT_CPUSET:
		return do_cpuset(en, p, led, a, e);
	case PV_ACT_ISOLATE:
		return pv_engine_isolate(en, a->target, a->value, e);
	case PV_ACT_GOVERNOR:
		return do_governor(en, a, e);
	case PV_ACT_PIN_VCPU:
	case PV_ACT_PIN_OTHER:
		if (ps->pinned)
			return 0;
		ps->pinned = true;
		return pin_threads(en, p, ps, e);
	case PV_ACT_IRQ_STEER:
		if (ps->steered)
			return 0;
		ps->steered = true;
		return steer_irqs(en, p, a, ps, e);
	case PV_ACT_IRQBALANCE:
		return do_irqbalance(en, a, ps, e);
	case PV_ACT_IRQ_OTHERS:
		return do_irq_others(en, p, led, a, ps, e);
	}
	return pv_fail(e, EINVAL, "unknown action %d", (int)a->kind);
}

static int pre_start(struct pv_engine *en, const struct pv_plan *p, const struct pv_policy *pol,
		     struct pv_ledger *led, struct pv_err *e)
{
	struct pv_lvm v, before, *had = pv_ledger_vm(led, p->vmid);
	struct pv_err e2 = { 0 };

	if (pv_ledger_conflicts(led, p, e) < 0 || pv_ledger_from_plan(&v, p, pol->isolate, e) < 0)
		return -1;
	if (had) {
		before = *had;
		snprintf(v.state, sizeof(v.state), "%s", had->state);
	}
	/* in the ledger before the first step, so a crash leaves it accounted */
	if (pv_ledger_put(led, &v, e) < 0 || pv_ledger_save(led, e) < 0)
		return -1;
	for (int i = 0; i < p->nact; i++) {
		if (p->act[i].phase != PV_PRE_START || run_act(en, p, pol, led, &p->act[i], NULL, e) >= 0)
			continue;
		if (pv_engine_rollback(en, &e2) < 0)
			return pv_wrap(e, "VM %d pre-start failed and its rollback too (%s); run `pvepin "
				       "restore %d`", p->vmid, e2.msg, p->vmid);
		if (had)
			pv_ledger_put(led, &before, &e2);
		else
			pv_ledger_drop(led, p->vmid);
		if (pv_ledger_save(led, &e2) < 0)
			pv_err_print(&e2);
		if (pv_opt.dry_run)
			return pv_wrap(e, "VM %d pre-start would fail (dry run: nothing was changed)",
				       p->vmid);
		return pv_wrap(e, "VM %d pre-start (undone, the VM does not start)", p->vmid);
	}
	return 0;
}

static int post_start(struct pv_engine *en, const struct pv_plan *p, const struct pv_policy *pol,
		      struct pv_ledger *led, struct pv_err *e)
{
	_cleanup_bitmap_ hwloc_bitmap_t irqs = hwloc_bitmap_alloc();
	struct post ps = { .irqs = irqs };
	struct pv_lvm v, *had = pv_ledger_vm(led, p->vmid);
	int rc;

	if (!irqs)
		return pv_fail(e, ENOMEM, "irq set");
	if ((rc = pv_qemu_pid(p->vmid, &ps.pid, e)) != 0)
		return rc < 0 ? -1 : pv_fail(e, 0, "VM %d: no running QEMU (/run/qemu-server/%d.pid)",
					     p->vmid, p->vmid);
	if (!had && pv_ledger_from_plan(&v, p, pol->isolate, e) < 0)
		return -1;
	if (had)
		v = *had;
	snprintf(v.state, sizeof(v.state), "running");
	if (pv_ledger_put(led, &v, e) < 0 || pv_ledger_save(led, e) < 0)
		return -1;
	for (int i = 0; i < p->nact; i++) {
		struct pv_err err = { 0 };

		if (p->act[i].phase != PV_POST_START)
			continue;
		if (run_act(en, p, pol, led, &p->act[i], &ps, &err) < 0) {
			fprintf(stderr, "pvepin: VM %d post-start: %s %s: %s\n", p->vmid,
				pv_act_name(p->act[i].kind), p->act[i].target, err.msg);
			ps.nfail++;
		}
	}
	if (ps.have_pi)
		pv_procint_free(&ps.pi);
	if (ps.nfail)
		return pv_fail(e, 0, "VM %d post-start: %d step%s failed (see above); the VM runs "
			       "without them: `pvepin status %d` shows what holds", p->vmid, ps.nfail,
			       ps.nfail > 1 ? "s" : "", p->vmid);
	return 0;
}

static int pv_restore_locked(int vmid, struct pv_ledger *led, struct pv_phase_sum *sum,
			     struct pv_err *e);

static int apply(const struct pv_plan *p, const struct pv_policy *pol, struct pv_ledger *led,
		 enum pv_phase ph, struct pv_phase_sum *sum, struct pv_err *e)
{
	struct pv_engine en;
	int rc;

	if (ph == PV_PRE_STOP)
		return 0;
	if (ph == PV_POST_STOP)
		return pv_restore_locked(p->vmid, led, sum, e);
	if (pv_engine_open(&en, p->vmid, ph, led, e) < 0)
		return -1;
	rc = ph == PV_PRE_START ? pre_start(&en, p, pol, led, e) : post_start(&en, p, pol, led, e);
	pv_engine_close(&en);
	if (sum)
		memcpy(sum->ndone, en.ndone, sizeof(sum->ndone));
	return rc;
}

int pv_phase_apply(const struct pv_plan *p, const struct pv_policy *pol, struct pv_ledger *led,
		   enum pv_phase ph, struct pv_err *e)
{
	return apply(p, pol, led, ph, NULL, e);
}

/* post-stop and restore with the lock held and the ledger loaded; sum (or
 * NULL) gets what was given back. */
static int pv_restore_locked(int vmid, struct pv_ledger *led, struct pv_phase_sum *sum,
			     struct pv_err *e)
{
	return pv_give_back_counted(vmid, led, sum ? &sum->nundo : NULL, sum ? &sum->nleft : NULL, e);
}

static int refusals(struct pv_plan *p, const struct pv_topo *t, struct pv_err *e)
{
	if (pv_safety_check(p, t, e) < 0)
		return -1;
	for (int i = 0; i < p->nwarn; i++)
		fprintf(stderr, "pvepin: warning: %s\n", p->warn[i]);
	if (!p->nrefuse)
		return 0;
	if (pv_opt.force) {
		for (int i = 0; i < p->nrefuse; i++)
			fprintf(stderr, "pvepin: --force: going ahead although %s\n", p->refuse[i]);
		return 0;
	}
	for (int i = 1; i < p->nrefuse; i++)
		fprintf(stderr, "pvepin: also: %s\n", p->refuse[i]);
	return pv_fail(e, 0, "VM %d pre-start refused: %s", p->vmid, p->refuse[0]);
}

static int locked(int vmid, enum pv_phase ph, struct pv_phase_sum *sum, struct pv_err *e)
{
	struct pv_ledger led;
	struct pv_vmctx c;
	int rc;

	/* under the lock: a corrupt ledger is set aside and rebuilt here */
	if (pv_ledger_load_repair(&led, true, e) < 0)
		return -1;
	/* what VMs left that nothing else will give back (vmctx/giveback.h) */
	pv_give_back_stale(&led, vmid);
	/* a new start of this VM: whatever its last start left is stale too */
	if (ph == PV_PRE_START && pv_ledger_vm(&led, vmid) && pv_vm_stale(vmid)) {
		fprintf(stderr, "pvepin: VM %d: its last run left changes behind: giving them back "
			"first\n", vmid);
		if (pv_give_back_locked(vmid, &led, e) < 0) {
			pv_ledger_free(&led);
			return pv_wrap(e, "VM %d pre-start: run `pvepin restore %d`", vmid, vmid);
		}
	}
	if (ph == PV_POST_STOP) {
		rc = pv_restore_locked(vmid, &led, sum, e);
		pv_ledger_free(&led);
		return rc;
	}
	rc = pv_vmctx_load_phase(&c, vmid, ph, e);
	if (rc == 0 && ph == PV_PRE_START)
		rc = refusals(&c.plan, &c.topo, e);
	if (rc == 0)
		rc = apply(&c.plan, &c.pol, &led, ph, sum, e);
	/* a start that does not happen keeps no copy of the host */
	if (rc < 0 && ph == PV_PRE_START)
		pv_topocache_drop(vmid);
	pv_vmctx_free(&c);
	pv_ledger_free(&led);
	return rc;
}

/* The runtime agent (hook/agent.h) starts once post-start has journaled
 * its steps and the lock is free, and stops before post-stop restores, so
 * it never puts back what restore takes away. Neither fails the phase: the
 * VM runs, or has stopped, either way. */
static void start_agent(int vmid)
{
	struct pv_err e = { 0 };

	if (pv_agent_spawn(vmid, &e) < 0)
		fprintf(stderr, "pvepin: VM %d: the runtime agent did not start: %s\n", vmid, e.msg);
}

static bool in_ledger(int vmid)
{
	struct pv_ledger led;
	bool in;

	/* unreadable: keep the guard, it costs nothing to be wrong that way */
	if (pv_ledger_load(&led, NULL) < 0)
		return true;
	in = pv_ledger_vm(&led, vmid) != NULL;
	pv_ledger_free(&led);
	return in;
}

static bool spawn_guard(int vmid)
{
	struct pv_err e = { 0 };

	int rc = pv_agent_spawn_guard(vmid, &e);

	if (rc < 0)
		fprintf(stderr, "pvepin: VM %d: no guard for a failed start: %s\n", vmid, e.msg);
	return rc == 0;
}

/* spawned: the agent (pre-start's guard) was started by this phase, and
 * may not have written its pid yet */
static void stop_agent(int vmid, bool spawned)
{
	struct pv_err e = { 0 };
	int rc = spawned ? pv_agent_stop_spawned(vmid, AGENT_STOP_MS, &e)
			 : pv_agent_stop(vmid, AGENT_STOP_MS, &e);

	if (rc < 0)
		fprintf(stderr, "pvepin: VM %d: %s\n", vmid, e.msg);
}

int pv_phase_run(int vmid, enum pv_phase ph, struct pv_err *e)
{
	struct pv_phase_sum sum = { 0 };
	pid_t qemu;
	int lock, rc;
	bool guard = false;

	if (ph == PV_PRE_STOP) {
		pv_phase_summary(stdout, vmid, ph, &sum);
		return 0;
	}
	/* pre-start: a previous run's agent goes, this start's guard comes
	 * before any change; post-start: the guard gives way to the agent */
	if (ph == PV_PRE_START || ph == PV_POST_START)
		stop_agent(vmid, false);
	if (ph == PV_PRE_START)
		guard = spawn_guard(vmid);
	/* post-stop stops the agent only once the host is given back: if it
	 * gives up on the lock or dies, the agent is still there to do it (a
	 * QEMU that still runs, `restore --force`, loses its agent first) */
	if (ph == PV_POST_STOP && pv_qemu_pid(vmid, &qemu, NULL) == 0)
		stop_agent(vmid, false);
	if ((lock = pv_lock_take(LOCK_WAIT_S, e)) < 0)
		return -1;
	rc = locked(vmid, ph, &sum, e);
	pv_lock_release(lock);
	if (rc == 0)
		pv_phase_summary(stdout, vmid, ph, &sum);
	/* a failed restore leaves the agent to try again; a pre-start that
	 * failed and undid itself leaves its guard nothing to guard */
	if (ph == PV_POST_STOP && rc == 0)
		stop_agent(vmid, false);
	else if (ph == PV_PRE_START && rc < 0 && !in_ledger(vmid))
		stop_agent(vmid, guard);
	if (ph == PV_POST_START)
		start_agent(vmid);
	return rc;
}

int pv_restore(int vmid, struct pv_err *e)
{
	pid_t pid;
	int rc = pv_qemu_pid(vmid, &pid, e);

	if (rc < 0)
		return -1;
	if (rc == 0 && !pv_opt.force)
		return pv_fail(e, 0, "VM %d still runs (QEMU pid %d): stop it first (restore takes its "
			       "devices away), or --force", vmid, pid);
	return pv_phase_run(vmid, PV_POST_STOP, e);
}

int pv_agent_retire(int vmid)
{
	struct pv_err e = { 0 };
	pid_t qemu;
	int rc;

	/* its QEMU runs: the agent has a VM to keep */
	if (pv_qemu_pid(vmid, &qemu, NULL) == 0)
		return 0;
	if ((rc = pv_agent_stop(vmid, AGENT_STOP_MS, &e)) < 0)
		fprintf(stderr, "pvepin: VM %d: %s\n", vmid, e.msg);
	return rc == 0;
}
